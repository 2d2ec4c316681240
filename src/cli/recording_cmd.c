#include "recording_cmd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "opts.h"
#include "html.h"
#include "analyze.h"
#include "live.h"
#include "report.h"
#include "util.h"

enum { OPT_LIMIT = 256, OPT_INTERVAL, OPT_RECORD, OPT_DURATION, OPT_NO_HEAP, OPT_JSON, OPT_QUIET, OPT_PID,
       OPT_CGROUP, OPT_NO_CGROUP, OPT_READY, OPT_READY_TIMEOUT, OPT_GRACE, OPT_HTML, OPT_LOAD, OPT_LOAD_URL,
       OPT_PATH, OPT_CONNECTIONS, OPT_RATE, OPT_COOLDOWN, OPT_HEAP, OPT_MAX_ERROR_RATE, OPT_FAIL_ON, OPT_FORMAT, OPT_OUT,
       OPT_METRICS, OPT_HEAP_METRIC, OPT_HEAP_INTERVAL };

/* A load that fails this often did not exercise the service: its memory under load was not
 * measured. 5% leaves room for the refused connections of a stage ramp and a few timeouts at the
 * end, and is far below the all-404 run of issue 19.2 (100%). */
#define RUN_MAX_ERROR_RATE_DEFAULT 0.05
/* Like `headroom load --rate`: more than this from one thread is not a rate the loop can keep. */
#define RUN_RATE_MAX 1e8
#define RUN_COOLDOWN_DEFAULT_NS 5000000000LL

/* The options run and attach share, written once. */
#define O_INTERVAL {"interval", "DUR", "100ms", "sampling interval (100us or more)", OPT_INTERVAL}
#define O_RECORD {"record", "FILE", "headroom-NAME-DATE-TIME.db", "the recording to write; never overwritten", OPT_RECORD}
#define O_JSON {"json", NULL, NULL, "print the report as one JSON object on stdout instead of text", OPT_JSON}
#define O_HTML {"html", "OUT", NULL, "also write the report as a self-contained HTML page to OUT (checked before "   \
		"the run starts)", OPT_HTML}
#define O_FORMAT {"format", "FMT", "text", "text, json (as --json) or markdown (a summary for a pull request or " \
		"a CI job, alone on stdout)", OPT_FORMAT}
#define O_FAIL_ON {"fail-on", "CLASS[,CLASS]", "none", "exit with the class's status when it holds: growing " \
		"(10), oom (11), over-limit (12), under-sized (13); docs/ci.md", OPT_FAIL_ON}
#define O_OUT {"out", "FILE", "stdout", "write the report (text, --json or --format markdown) to FILE instead of " \
		"stdout, where it cannot mix with the command's own output (checked before the run starts)", OPT_OUT}
#define O_METRICS {"metrics", "URL", NULL, "read the heap from the service's Prometheus text page at URL " \
		"(loopback only) once a second: Go's client library, jemalloc, or --heap-metric; wins over the " \
		"shim (docs/heap.md)", OPT_METRICS}
#define O_HEAP_METRIC {"heap-metric", "ROLE=NAME", NULL, "with --metrics: the series of the live (live=NAME) " \
		"or held (held=NAME) heap, for runtimes not known; repeat for both", OPT_HEAP_METRIC}
#define O_QUIET {"quiet", NULL, NULL, "no live line and no report at the end (the recording is still written)", OPT_QUIET}

static const struct cli_opt run_opts[] = {
	{"limit", "SIZE", "none", "run the command in a memory cgroup with this limit: the kernel OOM-kills it above",
	 OPT_LIMIT},
	O_INTERVAL,
	O_RECORD,
	{"duration", "DUR", "until the command exits", "then stop the command (SIGTERM, then SIGKILL after --grace)",
	 OPT_DURATION},
	{"grace", "DUR", "5s", "how long a stopped command has between SIGTERM and SIGKILL", OPT_GRACE},
	{"heap", "MODE", "stats", "live heap through the LD_PRELOAD shim: stats (bytes and counts), count (counts "
	 "only), sites (stats plus sampled allocation sites: which code holds the heap), off; a Go program: its "
	 "runtime's GC trace instead (GODEBUG=gctrace=1), off leaves it alone", OPT_HEAP},
	{"heap-interval", "SIZE", "512Ki", "--heap sites: sample one allocation per SIZE bytes allocated on "
	 "average (4Ki to 1Gi)", OPT_HEAP_INTERVAL},
	{"no-heap", NULL, NULL, "same as --heap off", OPT_NO_HEAP},
	O_METRICS,
	O_HEAP_METRIC,
	{"no-cgroup", NULL, NULL, "do not create a cgroup: RSS only, no cgroup usage (not with --limit)",
	 OPT_NO_CGROUP},
	{"ready", "ADDR", NULL, "HOST:PORT or :PORT (127.0.0.1); the service is ready when it accepts a TCP "
	 "connection there, and --load starts then", OPT_READY},
	{"ready-timeout", "DUR", "60s", "stop the command (exit 1) when --ready is not reached by then",
	 OPT_READY_TIMEOUT},
	{"load", "SPEC", NULL, "HTTP load once ready: stages (10s:50,5s:400) or a profile (steady, burst, ramp, "
	 "soak); needs --ready or --load-url", OPT_LOAD},
	{"load-url", "URL", "http://ADDR/ from --ready", "where --load sends (loopback only); without --ready, "
	 "ready is when its address accepts connections", OPT_LOAD_URL},
	{"path", "P", "/", "a request path for --load with --ready; repeat it to cycle through several",
	 OPT_PATH},
	{"connections", "N", "32", "connections at a --load profile's largest stage (stages name their own)",
	 OPT_CONNECTIONS},
	{"rate", "N", "closed loop", "--load open loop: requests per second at the largest stage", OPT_RATE},
	{"cooldown", "DUR", "5s", "after --load, keep recording this long, then stop the command", OPT_COOLDOWN},
	{"max-error-rate", "PCT", "5%", "a --load with more errors than this (of its attempts) is a failed run: "
	 "a loud line and exit 1", OPT_MAX_ERROR_RATE},
	O_JSON,
	O_HTML,
	O_FORMAT,
	O_FAIL_ON,
	O_OUT,
	O_QUIET,
	{NULL, NULL, NULL, NULL, 0},
};

static const struct cli_opt attach_opts[] = {
	{"pid", "PID", NULL, "the process to record (with its children)", OPT_PID},
	{"cgroup", "PATH", NULL, "the cgroup to record, e.g. /sys/fs/cgroup/memory/kubepods/...", OPT_CGROUP},
	O_INTERVAL,
	O_RECORD,
	{"duration", "DUR", "until the target ends or Ctrl-C", "stop recording after DUR", OPT_DURATION},
	O_METRICS,
	O_HEAP_METRIC,
	O_JSON,
	O_HTML,
	O_FORMAT,
	O_FAIL_ON,
	O_OUT,
	O_QUIET,
	{NULL, NULL, NULL, NULL, 0},
};

static const char recording_footer[] =
	"SIZE: 512Mi, 1Gi, 500M, 1.5G, 1e9 or bytes.  DUR: 250ms, 10s, 5m, 1h.  PCT: 5 or 5%.\n"
	"Exit status: the command's own (128+N when killed by signal N, like time(1)); 1 when headroom "
	"failed, the service was never ready, or the load failed (--max-error-rate); 2 for a usage error. "
	"Guide: docs/run.md.";

const struct cli_help run_help = {
	"run",
	"run [options] -- COMMAND [ARG...]",
	"Run COMMAND, record its memory (RSS, cgroup usage, live heap) at every --interval into a "
	"recording, optionally drive HTTP load at it once it is ready, and print the report: peaks, "
	"trend, breakdown and a Kubernetes limit.",
	run_opts,
	recording_footer,
};

const struct cli_help attach_help = {
	"attach",
	"attach (--pid PID | --cgroup PATH) [options]",
	"Record a process (and its children) or a cgroup that is already running, then print the same "
	"report as run. Nothing is started or stopped.",
	attach_opts,
	recording_footer,
};

static int parse_duration_opt(const char *name, const char *text, int64_t *ret)
{
	int rc = util_duration_parse(text, ret);
	if (rc < 0 || *ret <= 0) {
		char safe[128];
		cli_fail(EXIT_USAGE, "--%s '%s' is not a duration above zero (accepted: 250ms, 10s, 5m, 1h)", name,
			 cli_safe(text, safe, sizeof(safe)));
		return -1;
	}
	return 0;
}

/* "HOST:PORT" for the runner's readiness check from the load URL's resolved address (its Host
 * header form already carries the port: using it doubled the port, issue 19.3). */
static int ready_from_load(struct recording_cmd *c)
{
	char host[INET6_ADDRSTRLEN];
	const struct sockaddr_storage *ss = &c->load.cfg.addr[0];
	const void *in = ss->ss_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
						   : (const void *)&((const struct sockaddr_in *)ss)->sin_addr;
	if (c->load.cfg.naddr < 1 || !inet_ntop(ss->ss_family, in, host, sizeof(host)))
		return -EINVAL;
	snprintf(c->ready_from_url, sizeof(c->ready_from_url), ss->ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host,
		 c->load.cfg.port);
	c->ro.ready_addr = c->ready_from_url;
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
	if (c->connections && load_profile_stages(c->load_spec, 0, c->load.cfg.stages, LOAD_STAGES_MAX,
						  &c->load.cfg.nstages) != 0) {
		cli_fail(EXIT_USAGE, "--connections scales a --load profile; with stages put the connections in each "
			 "stage (--load 10s:50)");
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
	c->load.cooldown_ns = c->cooldown_ns >= 0 ? c->cooldown_ns : RUN_COOLDOWN_DEFAULT_NS;
	c->load.max_error_rate = c->max_error_rate;
	if (!c->ro.ready_addr && ready_from_load(c) < 0) {
		cli_fail(EXIT_USAGE, "--load-url '%s': no address to wait on; add --ready HOST:PORT", c->load_url);
		return -1;
	}
	return 0;
}

/* An output file named on the command line must be creatable before anything starts (a run of
 * ten minutes must not end in "cannot write", issue 19.3): its directory exists and is writable,
 * and the name itself is not a directory. */
static int check_output_path(const char *opt, const char *path)
{
	char safe[512], dir[4096];
	struct stat st;
	cli_safe(path, safe, sizeof(safe));
	if (!*path) {
		cli_fail(EXIT_USAGE, "--%s needs a file name", opt);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		cli_fail(EXIT_USAGE, "--%s '%s': the directory '%s' does not exist", opt, safe, dir);
		return -1;
	}
	if (access(dir, W_OK) < 0) {
		cli_fail(EXIT_USAGE, "--%s '%s': cannot write in '%s' (%s)", opt, safe, dir,
			 strerror(errno));
		return -1;
	}
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		cli_fail(EXIT_USAGE, "--%s '%s' is a directory; name a file", opt, safe);
		return -1;
	}
	return 0;
}

/* One option's value into c. Longer than 80 lines because it is one short, independent case per
 * option of the table; splitting it would only scatter them. Returns 0 or EXIT_USAGE (printed). */
/* Long because: one case per option of run's and attach's tables, each a few lines of checking
 * with its own message (issue 19.3: every option validated before anything starts). */
static int parse_one(struct recording_cmd *c, int opt, const char *name)
{
	char safe[256];
	const char *arg = optarg ? cli_safe(optarg, safe, sizeof(safe)) : "";
	switch (opt) {
	case OPT_LIMIT: {
		int rc = util_size_parse(optarg, &c->ro.limit_bytes);
		if (rc < 0) {
			char msg[256];
			util_size_explain(arg, msg, sizeof(msg));
			return cli_fail(EXIT_USAGE, "--limit %s", msg);
		}
		if (c->ro.limit_bytes <= 0)
			return cli_fail(EXIT_USAGE, "--limit must be above zero (e.g. 256Mi)");
		if (c->ro.limit_bytes < 4096)
			return cli_fail(EXIT_USAGE, "--limit %s is below one page: no process can start (e.g. 256Mi)", arg);
		return 0;
	}
	case OPT_INTERVAL: {
		int64_t ns;
		if (util_duration_parse(optarg, &ns) < 0 || ns <= 0)
			return cli_fail(EXIT_USAGE, "--interval '%s' is not a duration above zero (accepted: 1ms, 100ms, 1s)", arg);
		if (ns < 100000)
			return cli_fail(EXIT_USAGE, "--interval %s is below the shortest supported interval, 100us", arg);
		c->ro.interval_ns = ns;
		return 0;
	}
	case OPT_RECORD:
		/* the runner creates it before the command starts (exit 1 when it exists or cannot be made) */
		c->ro.record_path = optarg;
		return 0;
	case OPT_DURATION:
		return parse_duration_opt(name, optarg, &c->ro.duration_ns) < 0 ? EXIT_USAGE : 0;
	case OPT_GRACE:
		return parse_duration_opt(name, optarg, &c->ro.grace_ns) < 0 ? EXIT_USAGE : 0;
	case OPT_READY_TIMEOUT:
		return parse_duration_opt(name, optarg, &c->ro.ready_timeout_ns) < 0 ? EXIT_USAGE : 0;
	case OPT_NO_HEAP:
		c->heap_mode = "off";
		return 0;
	case OPT_HEAP:
		if (strcmp(optarg, "stats") != 0 && strcmp(optarg, "count") != 0 && strcmp(optarg, "sites") != 0 &&
		    strcmp(optarg, "off") != 0)
			return cli_fail(EXIT_USAGE, "--heap '%s' is not a heap mode (accepted: stats, count, sites, off)", arg);
		c->heap_mode = optarg;
		return 0;
	case OPT_HEAP_INTERVAL: {
		int64_t v = 0;
		if (util_size_parse(optarg, &v) < 0 || !heap_interval_valid(v))
			return cli_fail(EXIT_USAGE, "--heap-interval '%s' is not a sampling interval (accepted: "
						    "4Ki to 1Gi bytes, e.g. 512Ki)", arg);
		c->heap_interval = v;
		return 0;
	}
	case OPT_NO_CGROUP:
		c->ro.no_cgroup = true;
		return 0;
	case OPT_JSON:
		c->json = true;
		return 0;
	case OPT_QUIET:
		c->quiet = true;
		return 0;
	case OPT_READY: {
		struct sockaddr_storage ss;
		socklen_t sl;
		if (runner_parse_addr(optarg, &ss, &sl) < 0)
			return cli_fail(EXIT_USAGE, "--ready '%s' is not an address (accepted: HOST:PORT, [::1]:PORT or :PORT, "
					"port 1..65535)", arg);
		c->ro.ready_addr = optarg;
		return 0;
	}
	case OPT_HTML:
		c->html_out = optarg;
		return check_output_path(name, optarg) < 0 ? EXIT_USAGE : 0;
	case OPT_LOAD:
		c->load_spec = optarg;
		return 0;
	case OPT_LOAD_URL:
		c->load_url = optarg;
		return 0;
	case OPT_METRICS: {
		int r = metrics_poll_check_url(optarg);
		if (r == -EADDRNOTAVAIL)
			return cli_fail(EXIT_USAGE, "--metrics '%s' is not a loopback address (127.0.0.0/8, ::1 or localhost)", arg);
		if (r < 0)
			return cli_fail(EXIT_USAGE, "--metrics '%s' is not a URL (accepted: http://127.0.0.1:PORT/metrics)", arg);
		c->metrics_url = optarg;
		return 0;
	}
	case OPT_HEAP_METRIC:
		if (metrics_poll_set_name(&c->metrics, optarg) < 0)
			return cli_fail(EXIT_USAGE, "--heap-metric '%s' is not ROLE=NAME (ROLE: live or held; NAME a "
					"Prometheus metric name, e.g. live=my_heap_bytes)", arg);
		return 0;
	case OPT_PATH:
		if (c->npaths >= LOAD_PATHS_MAX)
			return cli_fail(EXIT_USAGE, "--path: at most %d paths", LOAD_PATHS_MAX);
		if (optarg[0] != '/' || strpbrk(optarg, " \t\r\n"))
			return cli_fail(EXIT_USAGE, "--path '%s' must start with / and have no spaces (e.g. /work?kb=64)", arg);
		c->paths[c->npaths++] = optarg;
		return 0;
	case OPT_CONNECTIONS: {
		char *end;
		long v = strtol(optarg, &end, 10);
		if (*optarg == '\0' || *end != '\0' || v <= 0 || v > LOAD_CONN_MAX)
			return cli_fail(EXIT_USAGE, "--connections '%s' is not a count from 1 to %d", arg, LOAD_CONN_MAX);
		c->connections = (int)v;
		return 0;
	}
	case OPT_RATE: {
		char *end;
		double v = strtod(optarg, &end);
		if (*optarg == '\0' || *end != '\0' || !(v > 0) || !isfinite(v) || v > RUN_RATE_MAX)
			return cli_fail(EXIT_USAGE, "--rate '%s' is not a request rate (requests per second, above 0 and at "
					"most %.0f)", arg, RUN_RATE_MAX);
		c->rate = v;
		return 0;
	}
	case OPT_COOLDOWN:
		if (util_duration_parse(optarg, &c->cooldown_ns) < 0 || c->cooldown_ns < 0)
			return cli_fail(EXIT_USAGE, "--cooldown '%s' is not a duration (accepted: 0s, 5s, 1m)", arg);
		return 0;
	case OPT_MAX_ERROR_RATE: {
		double f;
		if (util_percent_parse(optarg, &f) < 0 || f < 0 || f > 1)
			return cli_fail(EXIT_USAGE, "--max-error-rate '%s' is not a percentage from 0 to 100 (e.g. 5 or 5%%)", arg);
		c->max_error_rate = f;
		c->max_error_rate_set = true;
		return 0;
	}
	case OPT_OUT:
		c->out_path = optarg;
		return check_output_path(name, optarg) < 0 ? EXIT_USAGE : 0;
	case OPT_FAIL_ON:
		return cli_fail_on_parse(cli_command ? cli_command : "run", arg, &c->fail_on);
	case OPT_FORMAT:
		if (strcmp(arg, "text") == 0) {
			c->json = c->markdown = false;
		} else if (strcmp(arg, "json") == 0) {
			c->json = true;
			c->markdown = false;
		} else if (strcmp(arg, "markdown") == 0) {
			c->markdown = true;
			c->json = false;
		} else {
			return cli_fail(EXIT_USAGE, "--format '%s' is not an output format (accepted: text, json, markdown)", arg);
		}
		return 0;
	case OPT_PID: {
		char *end;
		long v = strtol(optarg, &end, 10);
		if (*optarg == '\0' || *end != '\0' || v <= 0 || v > 4194304)
			return cli_fail(EXIT_USAGE, "--pid '%s' is not a process id (a positive number)", arg);
		c->ro.attach_pid = (pid_t)v;
		return 0;
	}
	case OPT_CGROUP:
		c->ro.attach_cgroup = optarg;
		return 0;
	}
	return cli_fail(EXIT_USAGE, "unknown option");
}

/* Options that only mean something next to another one: refused alone, so that every option run
 * accepts does what it says (issue 19.3). */
static int check_combinations(struct recording_cmd *c)
{
	if (c->ro.limit_bytes > 0 && c->ro.no_cgroup)
		return cli_fail(EXIT_USAGE, "--limit needs a cgroup: drop --no-cgroup");
	if (!c->load_spec && (c->load_url || c->npaths || c->connections || c->rate > 0 || c->cooldown_ns >= 0 ||
			      c->max_error_rate_set))
		return cli_fail(EXIT_USAGE, "--load-url, --path, --connections, --rate, --cooldown and --max-error-rate go "
				"with --load SPEC");
	if (c->heap_interval && strcmp(c->heap_mode, "sites") != 0)
		return cli_fail(EXIT_USAGE, "--heap-interval goes with --heap sites");
	if (c->load_url && c->npaths)
		return cli_fail(EXIT_USAGE, "--path goes with --ready; with --load-url put the path in the URL");
	if (c->ro.ready_timeout_ns && !c->ro.ready_addr && !c->load_url)
		return cli_fail(EXIT_USAGE, "--ready-timeout goes with --ready ADDR (or --load-url)");
	if (c->load_spec && configure_load(c) < 0)
		return EXIT_USAGE;
	if ((*c->metrics.live_name || *c->metrics.held_name) && !c->metrics_url)
		return cli_fail(EXIT_USAGE, "--heap-metric goes with --metrics URL");
	return 0;
}

int recording_cmd_parse(struct recording_cmd *c, int argc, char **argv, bool is_run)
{
	memset(c, 0, sizeof(*c));
	c->ro.interval_ns = 100 * 1000000LL;
	c->ro.heap_mode = "off";
	c->heap_mode = is_run ? "stats" : "off";
	c->cooldown_ns = -1;
	c->max_error_rate = RUN_MAX_ERROR_RATE_DEFAULT;
	metrics_poll_init(&c->metrics);
	const struct cli_opt *table = is_run ? run_opts : attach_opts;
	struct option long_opts[CLI_OPTS_MAX];
	if (cli_opts_getopt(table, long_opts, CLI_OPTS_MAX) < 0) {
		cli_fail(EXIT_FAIL, "option table too large");
		return -1;
	}
	optind = 1;
	opterr = 0;
	int opt;
	/* "+": stop at the command, so its own options are left alone; ":": a missing value is ':' */
	while ((opt = getopt_long(argc, argv, "+:h", long_opts, NULL)) != -1) {
		if (opt == CLI_OPT_HELP) {
			cli_help_print(stdout, is_run ? &run_help : &attach_help, cli_width(STDOUT_FILENO));
			return -2;
		}
		if (opt == ':' || opt == '?') {
			/* an option of run given to attach, or the other way round: say where it belongs */
			const char *bad = optind - 1 >= 1 && optind - 1 < argc ? argv[optind - 1] : "";
			const struct cli_opt *other = is_run ? attach_opts : run_opts;
			for (const struct cli_opt *o = other; opt == '?' && o->name; o++)
				if (strncmp(bad, "--", 2) == 0 && strcmp(bad + 2, o->name) == 0 &&
				    strcmp(cli_opt_name(table, o->id), "?") == 0) {
					cli_fail(EXIT_USAGE, is_run ? "--%s is for 'headroom attach'; run takes a command after --"
								    : "--%s is for 'headroom run', not attach",
						 o->name);
					return -1;
				}
			cli_opts_fail(table, opt, argc, argv);
			return -1;
		}
		if (parse_one(c, opt, cli_opt_name(table, opt)) != 0)
			return -1;
	}
	if (check_combinations(c) != 0)
		return -1;
	return optind;
}

struct hook_ctx {
	struct live live;
	struct recording_cmd *cmd;
	struct record *rec;
	int64_t t0;
	int64_t heap_t_ns;          /* the sample of the last heap read, -1 none */
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
	while ((note = metrics_poll_note(&h->cmd->metrics, buf, sizeof(buf))))
		on_note(ctx, note);
}

static void read_heap(void *ctx, const pid_t *pids, int npids, struct sample *s)
{
	struct hook_ctx *h = ctx;
	if (h->cmd->heap.injected) {
		heap_run_read(&h->cmd->heap, pids, npids, s);
		if (h->cmd->sites && h->rec && h->cmd->heap.state == HEAP_RUN_AVAILABLE) {
			heap_sites_collect(h->cmd->sites, h->rec, s->t_ns, false);
			h->heap_t_ns = s->t_ns;
		}
	}
	metrics_poll_read(&h->cmd->metrics, s);
	gotrace_read(&h->cmd->go, s);
}

static void on_start(void *ctx, struct runner *r, struct record *rec, int64_t t0_ns, pid_t pid)
{
	struct hook_ctx *h = ctx;
	h->rec = rec;
	h->t0 = t0_ns;
	/* the command holds the relay's pipe now: start reading it */
	if (gotrace_start(&h->cmd->go, pid) < 0)
		on_note(ctx, "cannot start the thread that passes the Go program's stderr on: its GC lines are not read");
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
	/* the sites as the last heap read left them: a program shorter than a collection period
	 * still has its snapshot */
	if (h->cmd->sites && h->rec && h->heap_t_ns >= 0)
		heap_sites_collect(h->cmd->sites, h->rec, h->heap_t_ns, true);
	heap_sites_finish(h->cmd->sites, h->rec);
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

/* Runs the command (or attaches) with the live line, the heap shim and the hooks; *res holds the
 * run's outcome. Returns runner_run's result. */
static int record_the_run(struct recording_cmd *c, struct runner_result *res, char *why, size_t whylen)
{
	struct hook_ctx h = {.cmd = c, .heap_t_ns = -1};
	live_init(&h.live, stdout, !c->quiet && isatty(STDOUT_FILENO), cli_width(STDOUT_FILENO));
	c->ro.hooks.on_sample = on_sample;
	c->ro.hooks.on_note = on_note;
	c->ro.hooks.on_start = on_start;
	c->ro.hooks.on_ready = on_ready;
	c->ro.hooks.on_stop = on_stop;
	c->ro.hooks.after_crash = after_crash;
	c->ro.hooks.ctx = &h;
	if (c->metrics_url) {
		int mr = metrics_poll_start(&c->metrics, c->metrics_url);
		if (mr < 0) {
			memset(res, 0, sizeof(*res));
			snprintf(why, whylen, "cannot read --metrics: %s", strerror(-mr));
			return mr;
		}
	}
	/* the heap shim: LD_PRELOAD in our environment for the command to inherit, until it ran;
	 * --metrics wins when both exist (the runtime's own figures, one source per recording), so
	 * the shim is then not loaded at all */
	const char *heap_mode = c->ro.argv && !c->metrics_url ? c->heap_mode : "off";
	heap_run_prepare_interval(&c->heap, heap_mode, c->heap_interval, c->ro.argv ? c->ro.argv[0] : NULL, NULL);
	if (c->heap.injected && c->heap.sample_interval && heap_sites_new(&c->sites) < 0)
		c->sites = NULL;   /* no memory for the collector: the heap figures still come */
	c->ro.heap_mode = c->heap.mode;
	c->ro.heap_status = c->heap.status;
	if (c->heap.injected)
		c->ro.hooks.read_heap = read_heap;
	/* a Go program: its runtime reports its own heap after each GC cycle (GODEBUG=gctrace=1) */
	if (c->ro.argv && !c->metrics_url && c->heap.go && strcmp(c->heap.mode, "off") != 0) {
		gotrace_prepare(&c->go);
		if (c->go.active) {
			c->ro.stdout_fd = c->go.child_out;
			c->ro.stderr_fd = c->go.child_err;
			c->ro.relay_fd = c->go.relay_fd;
			c->ro.child_sigmask = gotrace_child_sigmask(&c->go);
			c->ro.heap_mode = "gctrace";
			c->ro.heap_status = c->go.status;
			c->ro.hooks.read_heap = read_heap;
			c->heap.noted = true;   /* the shim's "a Go program" is not the heap's last word */
		} else {
			c->heap.noted = true;
			cli_note("heap %s; recording RSS only", c->go.status);
		}
	}
	char note[320];
	if (c->metrics_url) {
		if (c->ro.argv && strcmp(c->heap_mode, "off") != 0)
			cli_note("heap: from --metrics, which wins over the shim; the shim is not loaded");
		c->ro.heap_mode = "metrics";
		c->ro.heap_status = c->metrics.status;
		c->ro.hooks.read_heap = read_heap;
	} else if (heap_run_note(&c->heap, note, sizeof(note))) {
		cli_note("%s", note);
	}
	int rc = runner_run(&c->ro, res, why, whylen);
	gotrace_stop(&c->go);
	heap_sites_free(c->sites);
	c->sites = NULL;
	metrics_poll_stop(&c->metrics);
	heap_run_forked(&c->heap);
	heap_run_finish(&c->heap);
	live_clear(&h.live);
	return rc;
}

/* The report of the run on `out`: the --fail-on decision and markdown summary, or the text/JSON
 * report, the HTML file and the load's line. Returns 0, or the gate's exit status through
 * *ret_gate; non-zero when the gate could not read the recording. */
static int report_the_run(struct recording_cmd *c, struct runner_result *res, FILE *out, int *ret_gate)
{
	int gate_code = 0, code = 0;
	bool written = !res->unwritten.write_error;
	bool gate = written && (c->markdown || c->fail_on);
	bool text = written && !c->markdown && (!c->quiet || c->json || c->out_path);
	bool page = written && c->html_out;
	/* the recording read back once, and analysed once, for the gate, the report and the page:
	 * each renders the same analysis */
	struct recording *rec = NULL;
	struct analysis *a = NULL;
	int ar = gate || text || page ? analyze_file_with(res->record_path, html_columns, &rec, &a) : 0;
	bool analysed = rec && (ar == 0 || ar == -ENODATA);   /* -ENODATA: no samples, said by the views */
	if (gate) {
		/* the summary and the --fail-on decision */
		code = cli_gate_recording(out, c->ro.argv ? "run" : "attach", res->record_path, a, ar, c->fail_on,
					  c->markdown, c->html_out, &gate_code);
		if (code != 0)
			goto out;
	}
	if (!written && (!c->quiet || c->json || c->out_path)) {
		/* the file stops early: report the whole run from the file plus what memory kept */
		int rr = report_unwritten(out, res, c->json);
		if (rr < 0)
			cli_note("cannot report the run: %s", record_strerror(rr));
		else if (!c->json)
			fprintf(out, "  recording     %s (incomplete: %s)\n", res->record_path, record_strerror(res->unwritten.write_error));
	} else if (text) {
		/* (with --format markdown, stdout holds the summary alone, to be appended to a CI job
		 * summary as it is) */
		int rr = !analysed ? ar : c->json ? report_print_json(out, rec, a) : report_print_text(out, rec, a);
		if (rr < 0)
			cli_note("cannot read back '%s': %s", res->record_path, record_strerror(rr));
		else if (!c->json)
			fprintf(out, "  recording     %s\n", res->record_path);
	}
	if (page) {
		int hr = !analysed ? ar : html_report_write(c->html_out, rec, a);
		if (hr < 0)
			cli_note("cannot write the HTML report '%s': %s", c->html_out, record_strerror(hr));
		else if (!c->json && !c->quiet && !c->markdown)
			fprintf(out, "  html report   %s\n", c->html_out);
	}
	const struct load_result *lr = &c->load.result;
	if (c->load_spec && !c->json && !c->quiet && !c->markdown) {
		if (!c->load.started_once)
			fprintf(out, "  load          never started: the service was not ready\n");
		else if (c->load.rc < 0)
			fprintf(out, "  load          could not run: %s\n", strerror(-c->load.rc));
		else
			fprintf(out, "  load          %lld attempts, %lld errors (%.1f%%), %.0f/s, p50 %.2f ms, p99 %.2f ms\n",
			       (long long)lr->attempts, (long long)lr->errors_total, 100.0 * load_error_rate(lr), lr->rps,
			       lr->p50_us / 1e3, lr->p99_us / 1e3);
	}
	*ret_gate = gate_code;
out:
	analyze_file_free(rec, a);
	return code;
}

/* A failed load is a failed run (issue 19.2): one loud line and exit 1. */
static int load_failed_status(struct recording_cmd *c, int code)
{
	const struct load_result *lr = &c->load.result;
	if (c->load_spec && c->load.started_once && runload_failed(&c->load)) {
		static const char consequence[] = "the load did not exercise the service, so these figures are not its "
						  "memory under load";
		if (c->load.rc < 0) {
			cli_note("LOAD FAILED: the load could not run (%s): %s", strerror(-c->load.rc), consequence);
		} else if (lr->attempts == 0) {
			cli_note("LOAD FAILED: no request was answered or failed in %.1fs (%lld still waiting at the end): %s",
				 (double)lr->duration_ns / 1e9, (long long)lr->unfinished, consequence);
		} else {
			char kinds[160] = "";
			size_t off = 0;
			for (int k = 0; k < LOAD_ERR_KINDS && off < sizeof(kinds); k++)
				if (lr->errors[k])
					off += (size_t)snprintf(kinds + off, sizeof(kinds) - off, "%s%s %lld", off ? ", " : "",
								load_error_name(k), (long long)lr->errors[k]);
			cli_note("LOAD FAILED: %lld of %lld attempts were errors (%.1f%%: %s), above --max-error-rate %g%%: %s",
				 (long long)lr->errors_total, (long long)lr->attempts, 100.0 * load_error_rate(lr), kinds,
				 100.0 * c->max_error_rate, consequence);
		}
		if (code == 0)
			code = EXIT_FAIL;
	}
	return code;
}

int recording_cmd_execute(struct recording_cmd *c)
{
	struct runner_result res;
	char why[512];
	int rc = record_the_run(c, &res, why, sizeof(why));
	if (rc < 0) {
		/* 127/126 for a command that could not be run, like a shell */
		return cli_fail(res.exit_code > 0 ? res.exit_code : EXIT_FAIL, "%s", why);
	}
	if (res.ready_timed_out)
		cli_note("%s did not accept connections in time (--ready-timeout): the command was stopped",
			 c->ro.ready_addr);
	/* sites mode: name the frames while the binaries are surely there, before any view reads them */
	if (strcmp(c->heap.mode, "sites") == 0 && res.record_path[0] && !res.unwritten.write_error)
		cli_name_sites(res.record_path);
	/* the report goes to stdout, or with --out into a buffer written to its file at the end */
	char *outbuf = NULL;
	size_t outlen = 0;
	FILE *out = c->out_path ? open_memstream(&outbuf, &outlen) : stdout;
	if (!out)
		return cli_fail(EXIT_FAIL, "cannot hold the report in memory: %s", strerror(errno));
	int gate_code = 0;
	int gr = report_the_run(c, &res, out, &gate_code);
	if (c->out_path) {
		int wr = fclose(out) == 0 ? util_file_write_atomic(c->out_path, outbuf, outlen, 0644) : -EIO;
		free(outbuf);
		if (wr < 0)
			cli_note("cannot write the report to '%s': %s", c->out_path, strerror(-wr));
		else if (!c->quiet)
			cli_note("report written to %s", c->out_path);
	}
	if (gr != 0) {
		record_unwritten_free(&res.unwritten);
		return gr;
	}
	int code = load_failed_status(c, exit_status(c, &res));
	if (res.unwritten.write_error) {
		if (c->html_out)
			cli_note("no HTML report: the recording '%s' is incomplete", res.record_path);
		/* the recording is not what was asked for: a script must see it */
		if (code == 0)
			code = EXIT_FAIL;
	}
	record_unwritten_free(&res.unwritten);
	/* a finding asked for by --fail-on decides the status (gate.h: 10..13), else the command's */
	return gate_code ? gate_code : code;
}
