#include "recording_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "html.h"
#include "analyze.h"
#include "live.h"
#include "report.h"
#include "util.h"

enum { OPT_LIMIT = 256, OPT_INTERVAL, OPT_RECORD, OPT_DURATION, OPT_NO_HEAP, OPT_JSON, OPT_QUIET, OPT_PID,
       OPT_CGROUP, OPT_NO_CGROUP, OPT_READY, OPT_READY_TIMEOUT, OPT_GRACE, OPT_HTML, OPT_LOAD, OPT_LOAD_URL,
       OPT_PATH, OPT_CONNECTIONS, OPT_RATE, OPT_COOLDOWN, OPT_HEAP };

static const struct option long_opts[] = {
	{"limit", required_argument, NULL, OPT_LIMIT},
	{"interval", required_argument, NULL, OPT_INTERVAL},
	{"record", required_argument, NULL, OPT_RECORD},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"grace", required_argument, NULL, OPT_GRACE},
	{"no-heap", no_argument, NULL, OPT_NO_HEAP},
	{"heap", required_argument, NULL, OPT_HEAP},
	{"no-cgroup", no_argument, NULL, OPT_NO_CGROUP},
	{"json", no_argument, NULL, OPT_JSON},
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"pid", required_argument, NULL, OPT_PID},
	{"cgroup", required_argument, NULL, OPT_CGROUP},
	{"ready", required_argument, NULL, OPT_READY},
	{"ready-timeout", required_argument, NULL, OPT_READY_TIMEOUT},
	{"html", required_argument, NULL, OPT_HTML},
	{"load", required_argument, NULL, OPT_LOAD},
	{"load-url", required_argument, NULL, OPT_LOAD_URL},
	{"path", required_argument, NULL, OPT_PATH},
	{"connections", required_argument, NULL, OPT_CONNECTIONS},
	{"rate", required_argument, NULL, OPT_RATE},
	{"cooldown", required_argument, NULL, OPT_COOLDOWN},
	{NULL, 0, NULL, 0},
};

static int parse_duration_opt(const char *name, const char *text, int64_t *ret)
{
	int rc = util_duration_parse(text, ret);
	if (rc < 0 || *ret <= 0) {
		cli_fail(EXIT_USAGE, "--%s '%s' is not a duration above zero (accepted: 250ms, 10s, 5m, 1h)", name, text);
		return -1;
	}
	return 0;
}

/* --load SPEC with --ready ADDR (the URL is http://ADDR/PATH) or --load-url URL (ready = its address). */
static int configure_load(struct recording_cmd *c)
{
	char url[1100];
	if (c->load_url) {
		snprintf(url, sizeof(url), "%s", c->load_url);
	} else if (c->ro.ready_addr) {
		const char *a = c->ro.ready_addr;
		snprintf(url, sizeof(url), "http://%s%s%s", a[0] == ':' ? "127.0.0.1" : "", a,
			 c->npaths ? c->paths[0] : "/");
	} else {
		cli_fail(EXIT_USAGE, "--load needs to know where the service listens: --ready HOST:PORT or --load-url URL");
		return -1;
	}
	char why[512];
	if (runload_configure(&c->load, c->load_spec, url, c->connections, why, sizeof(why)) < 0) {
		cli_fail(EXIT_USAGE, "%s", why);
		return -1;
	}
	for (int i = 0; i < c->npaths; i++)
		c->load.cfg.paths[i] = c->paths[i];
	c->load.cfg.npaths = c->npaths;
	c->load.cfg.rate = c->rate;
	c->load.cfg.threads = 1;
	c->load.cooldown_ns = c->cooldown_ns >= 0 ? c->cooldown_ns : 5000000000LL;
	if (!c->ro.ready_addr) {
		/* ready when the load's own target accepts connections */
		snprintf(c->ready_from_url, sizeof(c->ready_from_url), "%s:%d", c->load.cfg.host, c->load.cfg.port);
		c->ro.ready_addr = c->ready_from_url;
	}
	return 0;
}

int recording_cmd_parse(struct recording_cmd *c, int argc, char **argv, bool is_run)
{
	memset(c, 0, sizeof(*c));
	c->ro.interval_ns = 100 * 1000000LL;
	c->ro.heap_mode = "off";
	c->heap_mode = is_run ? "stats" : "off";
	c->cooldown_ns = -1;
	optind = 1;
	opterr = 0;
	int opt;
	/* "+": stop at the command, so its own options are left alone */
	while ((opt = getopt_long(argc, argv, "+", long_opts, NULL)) != -1) {
		const char *name = long_opts[0].name;
		for (const struct option *o = long_opts; o->name; o++)
			if (o->val == opt)
				name = o->name;
		switch (opt) {
		case OPT_LIMIT: {
			int rc = util_size_parse(optarg, &c->ro.limit_bytes);
			if (rc < 0) {
				char msg[256];
				util_size_explain(optarg, msg, sizeof(msg));
				cli_fail(EXIT_USAGE, "--limit %s", msg);
				return -1;
			}
			if (c->ro.limit_bytes <= 0) {
				cli_fail(EXIT_USAGE, "--limit must be above zero (e.g. 256Mi)");
				return -1;
			}
			if (c->ro.limit_bytes < 4096) {
				cli_fail(EXIT_USAGE, "--limit %s is below one page: no process can start (e.g. 256Mi)", optarg);
				return -1;
			}
			break;
		}
		case OPT_INTERVAL: {
			int64_t ns;
			if (util_duration_parse(optarg, &ns) < 0 || ns <= 0) {
				cli_fail(EXIT_USAGE, "--interval '%s' is not a duration above zero (accepted: 1ms, 100ms, 1s)", optarg);
				return -1;
			}
			if (ns < 100000) {
				cli_fail(EXIT_USAGE, "--interval %s is below the shortest supported interval, 100us", optarg);
				return -1;
			}
			c->ro.interval_ns = ns;
			break;
		}
		case OPT_RECORD:
			c->ro.record_path = optarg;
			break;
		case OPT_DURATION:
			if (parse_duration_opt(name, optarg, &c->ro.duration_ns) < 0)
				return -1;
			break;
		case OPT_GRACE:
			if (parse_duration_opt(name, optarg, &c->ro.grace_ns) < 0)
				return -1;
			break;
		case OPT_READY_TIMEOUT:
			if (parse_duration_opt(name, optarg, &c->ro.ready_timeout_ns) < 0)
				return -1;
			break;
		case OPT_NO_HEAP:
			c->heap_mode = "off";
			break;
		case OPT_HEAP:
			if (strcmp(optarg, "stats") != 0 && strcmp(optarg, "count") != 0 && strcmp(optarg, "off") != 0) {
				cli_fail(EXIT_USAGE, "--heap '%s' is not a heap mode (accepted: stats, count, off)", optarg);
				return -1;
			}
			c->heap_mode = optarg;
			break;
		case OPT_NO_CGROUP:
			c->ro.no_cgroup = true;
			break;
		case OPT_JSON:
			c->json = true;
			break;
		case OPT_QUIET:
			c->quiet = true;
			break;
		case OPT_READY:
			c->ro.ready_addr = optarg;
			break;
		case OPT_HTML:
			c->html_out = optarg;
			break;
		case OPT_LOAD:
			c->load_spec = optarg;
			break;
		case OPT_LOAD_URL:
			c->load_url = optarg;
			break;
		case OPT_PATH:
			if (c->npaths >= LOAD_PATHS_MAX) {
				cli_fail(EXIT_USAGE, "--path: at most %d paths", LOAD_PATHS_MAX);
				return -1;
			}
			if (optarg[0] != '/') {
				cli_fail(EXIT_USAGE, "--path '%s' must start with / (e.g. /work?kb=64)", optarg);
				return -1;
			}
			c->paths[c->npaths++] = optarg;
			break;
		case OPT_CONNECTIONS: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v <= 0 || v > LOAD_CONN_MAX) {
				cli_fail(EXIT_USAGE, "--connections '%s' is not a count from 1 to %d", optarg, LOAD_CONN_MAX);
				return -1;
			}
			c->connections = (int)v;
			break;
		}
		case OPT_RATE: {
			char *end;
			double v = strtod(optarg, &end);
			if (*optarg == '\0' || *end != '\0' || !(v > 0)) {
				cli_fail(EXIT_USAGE, "--rate '%s' is not a request rate above zero (requests per second)", optarg);
				return -1;
			}
			c->rate = v;
			break;
		}
		case OPT_COOLDOWN:
			if (util_duration_parse(optarg, &c->cooldown_ns) < 0 || c->cooldown_ns < 0) {
				cli_fail(EXIT_USAGE, "--cooldown '%s' is not a duration (accepted: 0s, 5s, 1m)", optarg);
				return -1;
			}
			break;
		case OPT_PID: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v <= 0 || v > 4194304) {
				cli_fail(EXIT_USAGE, "--pid '%s' is not a process id (a positive number)", optarg);
				return -1;
			}
			c->ro.attach_pid = (pid_t)v;
			break;
		}
		case OPT_CGROUP:
			c->ro.attach_cgroup = optarg;
			break;
		case '?':
		default:
			if (optopt)
				cli_fail(EXIT_USAGE, "unknown option '-%c' (see headroom --help)", optopt);
			else
				cli_fail(EXIT_USAGE, "unknown or incomplete option '%s' (see headroom --help)", argv[optind - 1]);
			return -1;
		}
		if (!is_run && (opt == OPT_LIMIT || opt == OPT_HEAP || opt == OPT_NO_CGROUP || opt == OPT_READY || opt == OPT_GRACE ||
				opt == OPT_LOAD || opt == OPT_LOAD_URL || opt == OPT_PATH || opt == OPT_CONNECTIONS ||
				opt == OPT_RATE || opt == OPT_COOLDOWN)) {
			cli_fail(EXIT_USAGE, "--%s is for 'headroom run', not attach", name);
			return -1;
		}
		if (is_run && (opt == OPT_PID || opt == OPT_CGROUP)) {
			cli_fail(EXIT_USAGE, "--%s is for 'headroom attach'; run takes a command after --", name);
			return -1;
		}
	}
	if (c->ro.limit_bytes > 0 && c->ro.no_cgroup) {
		cli_fail(EXIT_USAGE, "--limit needs a cgroup: drop --no-cgroup");
		return -1;
	}
	if (!c->load_spec && (c->load_url || c->npaths || c->connections || c->rate > 0)) {
		cli_fail(EXIT_USAGE, "--load-url, --path, --connections and --rate go with --load SPEC");
		return -1;
	}
	if (c->load_spec && configure_load(c) < 0)
		return -1;
	return optind;
}

struct hook_ctx {
	struct live live;
	struct recording_cmd *cmd;
	struct record *rec;
	int64_t t0;
};

static void on_note(void *ctx, const char *msg)
{
	struct hook_ctx *h = ctx;
	live_clear(&h->live);
	cli_note("%s", msg);
}

static void on_sample(void *ctx, const struct sample *s, const struct run_info *info)
{
	struct hook_ctx *h = ctx;
	live_update(&h->live, s, info);
	char buf[320];
	const char *note = heap_run_note(&h->cmd->heap, buf, sizeof(buf));
	if (note && h->cmd->heap.state == HEAP_RUN_UNAVAILABLE)
		on_note(ctx, note);
}

static void read_heap(void *ctx, const pid_t *pids, int npids, struct sample *s)
{
	struct hook_ctx *h = ctx;
	heap_run_read(&h->cmd->heap, pids, npids, s);
}

static void on_start(void *ctx, struct runner *r, struct record *rec, int64_t t0_ns, pid_t pid)
{
	struct hook_ctx *h = ctx;
	h->rec = rec;
	h->t0 = t0_ns;
}

static void on_ready(void *ctx, struct runner *r, int64_t t_ns)
{
	struct hook_ctx *h = ctx;
	if (h->cmd->load_spec && runload_start(&h->cmd->load, r, h->rec, h->t0) < 0)
		on_note(ctx, "could not start the load thread");
}

/* in the guard, after headroom was killed: its heap segments would stay in /dev/shm */
static void after_crash(void *ctx)
{
	struct hook_ctx *h = ctx;
	if (h->cmd->heap.injected)
		heap_cleanup(h->cmd->heap.run_id);
}

static void on_stop(void *ctx, struct runner *r)
{
	struct hook_ctx *h = ctx;
	if (h->cmd->load_spec)
		runload_stop(&h->cmd->load);
}

/* The run's report when the file stopped early (disk full): the file's rows and the ones kept in
 * memory, with the end of the run from the runner (the file may not have it). */
static int report_unwritten(FILE *out, const struct runner_result *res, bool json)
{
	struct recording *rec;
	int r = record_open(res->record_path, analyze_columns, &rec);
	if (r < 0)
		return r;
	struct analysis *a = malloc(sizeof(*a));
	r = a ? recording_add_unwritten(rec, &res->unwritten) : -ENOMEM;
	if (r == 0) {
		rec->run.duration_ns = res->info.duration_ns;
		rec->run.exit_code = res->info.exit_code;
		rec->run.exit_signal = res->info.exit_signal;
		rec->run.oom_killed = res->info.oom_killed;
		rec->run.finished = true;
		r = analyze_recording(rec, NULL, a);
		if (r == 0 || r == -ENODATA)
			r = json ? report_print_json(out, rec, a) : report_print_text(out, rec, a);
	}
	free(a);
	recording_free(rec);
	return r;
}

static int exit_status(const struct recording_cmd *c, const struct runner_result *res)
{
	if (!c->ro.argv)
		return 0;
	if (res->ready_timed_out)
		return EXIT_FAIL;
	if (res->exit_signal) {
		/* a stop that headroom itself asked for (--duration, the load is done) is success */
		if ((res->stopped_by_duration || res->stopped_by_request) && res->exit_signal == SIGTERM &&
		    !res->oom_killed)
			return 0;
		return 128 + res->exit_signal;
	}
	return res->exit_code >= 0 ? res->exit_code : EXIT_FAIL;
}

int recording_cmd_execute(struct recording_cmd *c)
{
	struct hook_ctx h = {.cmd = c};
	live_init(&h.live, stdout, !c->quiet && isatty(STDOUT_FILENO));
	c->ro.hooks.on_sample = on_sample;
	c->ro.hooks.on_note = on_note;
	c->ro.hooks.on_start = on_start;
	c->ro.hooks.on_ready = on_ready;
	c->ro.hooks.on_stop = on_stop;
	c->ro.hooks.after_crash = after_crash;
	c->ro.hooks.ctx = &h;
	/* the heap shim: LD_PRELOAD in our environment for the command to inherit, until it ran */
	heap_run_prepare(&c->heap, c->ro.argv ? c->heap_mode : "off", c->ro.argv ? c->ro.argv[0] : NULL, NULL);
	c->ro.heap_mode = c->heap.mode;
	c->ro.heap_status = c->heap.status;
	if (c->heap.injected)
		c->ro.hooks.read_heap = read_heap;
	char note[320];
	if (heap_run_note(&c->heap, note, sizeof(note)))
		cli_note("%s", note);
	struct runner_result res;
	char why[512];
	int rc = runner_run(&c->ro, &res, why, sizeof(why));
	heap_run_forked(&c->heap);
	heap_run_finish(&c->heap);
	live_clear(&h.live);
	if (rc < 0) {
		/* 127/126 for a command that could not be run, like a shell */
		return cli_fail(res.exit_code > 0 ? res.exit_code : EXIT_FAIL, "%s", why);
	}
	if (res.ready_timed_out)
		cli_note("%s did not accept connections in time (--ready-timeout): the command was stopped",
			 c->ro.ready_addr);
	if (res.unwritten.write_error && (!c->quiet || c->json)) {
		/* the file stops early: report the whole run from the file plus what memory kept */
		int rr = report_unwritten(stdout, &res, c->json);
		if (rr < 0)
			cli_note("cannot report the run: %s", record_strerror(rr));
		else if (!c->json)
			printf("  recording     %s (incomplete: %s)\n", res.record_path, record_strerror(res.unwritten.write_error));
	} else if (!c->quiet || c->json) {
		int rr = report_file(stdout, res.record_path, c->json);
		if (rr < 0)
			cli_note("cannot read back '%s': %s", res.record_path, record_strerror(rr));
		else if (!c->json)
			printf("  recording     %s\n", res.record_path);
	}
	if (c->html_out && !res.unwritten.write_error) {
		int hr = html_report_file(res.record_path, c->html_out);
		if (hr < 0)
			cli_note("cannot write the HTML report '%s': %s", c->html_out, record_strerror(hr));
		else if (!c->json && !c->quiet)
			printf("  html report   %s\n", c->html_out);
	}
	if (c->load_spec && !c->json && !c->quiet) {
		const struct load_result *lr = &c->load.result;
		if (c->load.rc < 0)
			printf("  load          could not run: %s\n", strerror(-c->load.rc));
		else
			printf("  load          %lld requests, %.0f/s, p50 %.2f ms, p99 %.2f ms, max %.1f ms, %lld errors\n",
			       (long long)lr->requests, lr->rps, lr->p50_us / 1e3, lr->p99_us / 1e3, lr->max_us / 1e3,
			       (long long)lr->errors_total);
	}
	int code = exit_status(c, &res);
	if (res.unwritten.write_error) {
		if (c->html_out)
			cli_note("no HTML report: the recording '%s' is incomplete", res.record_path);
		/* the recording is not what was asked for: a script must see it */
		if (code == 0)
			code = EXIT_FAIL;
	}
	record_unwritten_free(&res.unwritten);
	return code;
}
