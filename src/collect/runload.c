#include "runload.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util.h"

int runload_configure(struct runload *l, const char *spec, const char *url, int connections, char *why,
		      size_t len)
{
	memset(l, 0, sizeof(*l));
	load_config_init(&l->cfg);
	l->cooldown_ns = 5000000000LL;
	int rc = load_config_parse_url(&l->cfg, url);
	if (rc < 0) {
		snprintf(why, len, rc == -EPROTONOSUPPORT ? "'%s': only http:// is supported"
				   : rc == -EADDRNOTAVAIL ? "'%s' is not a loopback address (load only targets 127.0.0.0/8, ::1, localhost)"
							  : "'%s' is not a URL (http://127.0.0.1:PORT/PATH)",
			 url);
		return rc;
	}
	rc = load_stages_from_spec(spec, connections, l->cfg.stages, LOAD_STAGES_MAX, &l->cfg.nstages);
	if (rc < 0) {
		char detail[300];
		load_stages_explain(spec, detail, sizeof(detail));
		snprintf(why, len, "--load: %s (or a profile: steady, burst, ramp, soak)", detail);
		return rc;
	}
	long limit;
	rc = load_check_nofile(load_stages_max_connections(l->cfg.stages, l->cfg.nstages), 1, &limit);
	if (rc < 0) {
		snprintf(why, len, "--load needs more connections than the open-file limit allows (%ld)", limit);
		return rc;
	}
	return 0;
}

static void on_second(void *ctx, const struct load_row *row)
{
	struct runload *l = ctx;
	record_push_load(l->rec, row);
}

static void on_stage(void *ctx, int index, const struct load_stage *st)
{
	struct runload *l = ctx;
	char d[160], dur[32];
	snprintf(d, sizeof(d), "stage %d: %s %s%d connections", index + 1,
		 util_duration_format(st->duration_ns, dur, sizeof(dur)), st->ramp ? "ramping to " : "at ",
		 st->connections);
	record_push_event(l->rec, util_now_ns() - l->t0_ns, "stage", index, d);
}

/* Appends s to buf as a JSON string ("..." with \" \\ and \u00XX escapes); false when full. */
static bool json_str(char *buf, size_t cap, size_t *n, const char *s)
{
	if (*n + 1 >= cap)
		return false;
	buf[(*n)++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int w = *p == '"' || *p == '\\' ? snprintf(buf + *n, cap - *n, "\\%c", *p)
			: *p < 0x20 ? snprintf(buf + *n, cap - *n, "\\u%04x", *p)
				    : snprintf(buf + *n, cap - *n, "%c", *p);
		if (w < 0 || (size_t)w >= cap - *n)
			return false;
		*n += (size_t)w;
	}
	if (*n + 1 >= cap)
		return false;
	buf[(*n)++] = '"';
	buf[*n] = '\0';
	return true;
}

/* The load as `headroom run` options, so that `size --verify` can replay it (verify.h): a JSON
 * array of strings in "load_replay" events, split in chunks of the event's detail size, the
 * event value being the chunk's index. Stages are written out explicitly (DUR:N, ~N ramps), so
 * the replay does not depend on what a profile name means in a later version. */
static void record_replay_args(struct runload *l)
{
	char a[4096], v[64];
	size_t n = 0;
	a[n++] = '[';
	a[n] = '\0';
	bool fits = json_str(a, sizeof(a), &n, "--load");
	char stages[LOAD_STAGES_MAX * 24] = "";
	size_t sn = 0;
	for (int i = 0; i < l->cfg.nstages && sn < sizeof(stages); i++)
		sn += (size_t)snprintf(stages + sn, sizeof(stages) - sn, "%s%lldms:%s%d", i ? "," : "",
				       (long long)(l->cfg.stages[i].duration_ns / 1000000), l->cfg.stages[i].ramp ? "~" : "",
				       l->cfg.stages[i].connections);
	fits = fits && sn < sizeof(stages) && (a[n++] = ',', json_str(a, sizeof(a), &n, stages));
	/* the service's address as --ready and each path as --path (`run` takes paths only with --ready;
	 * a URL's own path is its one path) */
	char addr[256] = "", path[1024] = "/";
	const char *u = strstr(l->cfg.url, "://");
	u = u ? u + 3 : l->cfg.url;
	size_t al = strcspn(u, "/?");
	snprintf(addr, sizeof(addr), "%.*s%s", (int)(al < sizeof(addr) - 4 ? al : sizeof(addr) - 4), u,
		 memchr(u, ':', al) ? "" : ":80");
	if (u[al])
		snprintf(path, sizeof(path), "%s%s", u[al] == '?' ? "/" : "", u + al);
	fits = fits && (a[n++] = ',', json_str(a, sizeof(a), &n, "--ready")) &&
	       (a[n++] = ',', json_str(a, sizeof(a), &n, addr));
	for (int i = 0; fits && i < (l->cfg.npaths > 0 ? l->cfg.npaths : 1); i++)
		fits = (a[n++] = ',', json_str(a, sizeof(a), &n, "--path")) &&
		       (a[n++] = ',', json_str(a, sizeof(a), &n, l->cfg.npaths > 0 ? l->cfg.paths[i] : path));
	if (fits && l->cfg.rate > 0) {
		snprintf(v, sizeof(v), "%.17g", l->cfg.rate);
		fits = (a[n++] = ',', json_str(a, sizeof(a), &n, "--rate")) && (a[n++] = ',', json_str(a, sizeof(a), &n, v));
	}
	snprintf(v, sizeof(v), "%lldms", (long long)(l->cooldown_ns / 1000000));
	fits = fits && (a[n++] = ',', json_str(a, sizeof(a), &n, "--cooldown")) &&
	       (a[n++] = ',', json_str(a, sizeof(a), &n, v));
	if (!fits || n + 2 > sizeof(a)) {
		record_push_event(l->rec, util_now_ns() - l->t0_ns, "note", 0,
				  "the load is too long to record for a replay: size --verify will run the command alone");
		return;
	}
	a[n++] = ']';
	a[n] = '\0';
	enum { chunk = 200 };   /* below record_event.detail's 232 bytes */
	for (size_t off = 0, k = 0; off < n; off += chunk, k++) {
		char d[chunk + 1];
		snprintf(d, sizeof(d), "%.*s", (int)(n - off < chunk ? n - off : chunk), a + off);
		record_push_event(l->rec, util_now_ns() - l->t0_ns, "load_replay", (int64_t)k, d);
	}
}

static void *load_main(void *arg)
{
	struct runload *l = arg;
	record_replay_args(l);
	l->rc = load_run(&l->cfg, &l->stop, on_second, on_stage, l, &l->result);
	char d[232];
	const struct load_result *r = &l->result;
	int64_t t = util_now_ns() - l->t0_ns;
	if (l->rc < 0)
		snprintf(d, sizeof(d), "the load could not run: %s", strerror(-l->rc));
	else
		snprintf(d, sizeof(d), "attempts %lld errors %lld error_rate %.6f responses %lld rps %.1f p99_us %lld "
			 "max_error_rate %.6f", (long long)r->attempts, (long long)r->errors_total, load_error_rate(r),
			 (long long)r->requests, r->rps, (long long)r->p99_us, l->max_error_rate);
	record_push_event(l->rec, t, "load", r->attempts, d);
	if (runload_failed(l)) {
		snprintf(d, sizeof(d), "the load failed: %lld of %lld attempts were errors (%.1f%%, above %.1f%%); it did "
			 "not exercise the service", (long long)r->errors_total, (long long)r->attempts,
			 100.0 * load_error_rate(r), 100.0 * l->max_error_rate);
		record_push_event(l->rec, t, "load_failed", r->errors_total, d);
	}
	/* a quiet tail: does memory come back once the traffic is gone? */
	int64_t end = util_now_ns() + l->cooldown_ns;
	while (!l->stop && util_now_ns() < end) {
		struct timespec ts = {0, 20000000L};
		nanosleep(&ts, NULL);
	}
	if (!l->stop)
		runner_request_stop(l->runner);
	return NULL;
}

int runload_start(struct runload *l, struct runner *runner, struct record *rec, int64_t t0_ns)
{
	if (l->started)
		return 0;
	l->runner = runner;
	l->rec = rec;
	l->t0_ns = t0_ns;
	l->cfg.t0_ns = t0_ns;
	if (pthread_create(&l->thread, NULL, load_main, l) != 0)
		return -EAGAIN;
	l->started = true;
	l->started_once = true;
	return 0;
}

bool runload_failed(const struct runload *l)
{
	return l->rc < 0 || load_error_rate(&l->result) > l->max_error_rate ||
	       (l->result.attempts == 0 && !l->result.stopped);
}

void runload_stop(struct runload *l)
{
	if (!l->started)
		return;
	l->stop = 1;
	pthread_join(l->thread, NULL);
	l->started = false;
}
