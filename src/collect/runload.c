#include "runload.h"

#include <errno.h>
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

static void *load_main(void *arg)
{
	struct runload *l = arg;
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
