/* headroom load: drive staged HTTP load at a loopback URL and print what came back. */
#include <errno.h>
#include <json.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli.h"
#include "load.h"
#include "util.h"

#include "opts.h"

enum { OPT_STAGES = 256, OPT_PROFILE, OPT_RATE, OPT_CONNECTIONS, OPT_THREADS, OPT_METHOD, OPT_PATH, OPT_HEADER,
       OPT_BODY, OPT_TIMEOUT, OPT_MAX_REQUESTS, OPT_JSON };

static const struct cli_opt load_opts[] = {
	{"stages", "SPEC", NULL, "the load's shape: DUR:N stages, comma-separated, N connections at the end of each; "
	 "~N ramps from the previous stage (e.g. 10s:50,5s:400,30s:~50)", OPT_STAGES},
	{"profile", "NAME", NULL, "a preset shape instead of --stages: steady, burst, ramp or soak (docs/load.md)",
	 OPT_PROFILE},
	{"connections", "N", "32", "connections at a --profile's largest stage", OPT_CONNECTIONS},
	{"rate", "N", "closed loop", "open loop: requests per second at the largest stage, latency measured from "
	 "the intended send time", OPT_RATE},
	{"threads", "N", "1", "worker threads (never more than the connections)", OPT_THREADS},
	{"method", "M", "GET", "HTTP method", OPT_METHOD},
	{"path", "P", "the URL's path", "a request path starting with /; repeat it to cycle through several",
	 OPT_PATH},
	{"header", "H", NULL, "an extra request header 'Name: value'; repeatable", OPT_HEADER},
	{"body", "B", NULL, "a request body, sent with Content-Length", OPT_BODY},
	{"timeout", "DUR", "10s", "per connect and per request; a slower answer is a timeout error", OPT_TIMEOUT},
	{"max-requests", "N", "100000000", "stop after sending N requests", OPT_MAX_REQUESTS},
	{"json", NULL, NULL, "print the results as one JSON object", OPT_JSON},
	{NULL, NULL, NULL, NULL, 0},
};

const struct cli_help load_help = {
	"load",
	"load URL (--stages SPEC | --profile NAME) [options]",
	"Drive keep-alive HTTP/1.1 load at URL (http:// to 127.0.0.0/8, [::1] or localhost only), stage by "
	"stage, and print requests, status classes, latency percentiles and errors. Every run ends at its "
	"last stage. Errors are failed attempts (connect, timeout, reset, parse) and answers with a status "
	"of 4xx, 5xx or outside 100..599 (other); each counts once, so errors never exceed attempts.",
	load_opts,
	"DUR: 250ms, 10s, 5m, 1h.  Exit status: 0 when the stages ran to the end, 1 when the target did "
	"not work, 2 for a usage error, 128+N when interrupted by signal N.",
};

static volatile int load_stop;
static volatile sig_atomic_t load_signal;

static void on_signal(int sig)
{
	load_signal = sig;
	load_stop = 1;
}

struct progress {
	bool tty;
	int width;
	int nstages;
	int64_t total_ns;
};

static char *fmt_us(int64_t us, char *buf, size_t len)
{
	if (us < 1000)
		snprintf(buf, len, "%lldus", (long long)us);
	else if (us < 1000000)
		snprintf(buf, len, "%.2fms", (double)us / 1e3);
	else
		snprintf(buf, len, "%.2fs", (double)us / 1e6);
	return buf;
}

static void on_second(void *ctx, const struct load_row *row)
{
	struct progress *p = ctx;
	if (!p->tty)
		return;
	char a[32], b[32], line[256];
	snprintf(line, sizeof(line), "%.0fs/%.0fs stage %lld/%d conns %lld %lld req/s p50 %s p99 %s errors %lld",
		 (double)row->t_ns / 1e9, (double)p->total_ns / 1e9, (long long)row->stage + 1, p->nstages,
		 (long long)row->connections, (long long)row->requests, fmt_us(row->p50_us, a, sizeof(a)),
		 fmt_us(row->p99_us, b, sizeof(b)), (long long)row->errors);
	/* one row: a line as wide as the terminal wraps, and the next \r repaints only its last row */
	p->width = cli_width(STDERR_FILENO);   /* every second: the terminal may have been resized */
	fprintf(stderr, "\r\033[K%.*s", p->width - 1, line);
	fflush(stderr);
}

static int parse_count(const char *text, int64_t min, int64_t max, int64_t *ret)
{
	const char *p = text;
	uint64_t v;
	if (util_parse_u64(&p, &v) < 0 || *p || (int64_t)v < min || v > (uint64_t)max)
		return -EINVAL;
	*ret = (int64_t)v;
	return 0;
}

static void stages_text(const struct load_stage *st, int n, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (int i = 0; i < n && off < len; i++) {
		char d[32];
		util_duration_format(st[i].duration_ns, d, sizeof(d));
		off += (size_t)snprintf(buf + off, len - off, "%s%s:%s%d", i ? "," : "", d, st[i].ramp ? "~" : "",
					st[i].connections);
	}
}

static void jadd(struct json_object *o, const char *k, struct json_object *v)
{
	json_object_object_add(o, k, v);
}

/* The result as one JSON object, built with json-c (escaping, numbers) like every other --json. */
static int print_json(const struct load_config *c, const struct load_result *r, const char *stages)
{
	struct json_object *o = json_object_new_object();
	jadd(o, "url", json_object_new_string(c->url));
	jadd(o, "stages", json_object_new_string(stages));
	jadd(o, "mode", json_object_new_string(c->rate > 0 ? "open" : "closed"));
	jadd(o, "rate", json_object_new_double(c->rate));
	jadd(o, "threads", json_object_new_int(r->threads));
	jadd(o, "max_connections", json_object_new_int(r->max_connections));
	jadd(o, "duration_s", json_object_new_double((double)r->duration_ns / 1e9));
	jadd(o, "sent", json_object_new_int64(r->sent));
	jadd(o, "requests", json_object_new_int64(r->requests));
	jadd(o, "attempts", json_object_new_int64(r->attempts));
	jadd(o, "error_rate", json_object_new_double(load_error_rate(r)));
	jadd(o, "rps", json_object_new_double(r->rps));
	struct json_object *st = json_object_new_object();
	static const char *const cls[] = {"other", NULL, "2xx", "3xx", "4xx", "5xx"};
	for (int k = 2; k <= 5; k++)
		jadd(st, cls[k], json_object_new_int64(r->status_class[k]));
	jadd(st, "other", json_object_new_int64(r->status_class[0]));
	jadd(o, "status", st);
	struct json_object *lat = json_object_new_object();
	jadd(lat, "p50", json_object_new_int64(r->p50_us));
	jadd(lat, "p90", json_object_new_int64(r->p90_us));
	jadd(lat, "p99", json_object_new_int64(r->p99_us));
	jadd(lat, "p99_9", json_object_new_int64(r->p999_us));
	jadd(lat, "max", json_object_new_int64(r->max_us));
	jadd(lat, "mean", json_object_new_int64(r->mean_us));
	jadd(o, "latency_us", lat);
	struct json_object *err = json_object_new_object();
	jadd(err, "total", json_object_new_int64(r->errors_total));
	for (int k = 0; k < LOAD_ERR_KINDS; k++)
		jadd(err, load_error_name(k), json_object_new_int64(r->errors[k]));
	jadd(o, "errors", err);
	jadd(o, "unfinished", json_object_new_int64(r->unfinished));
	jadd(o, "connections_opened", json_object_new_int64(r->connects));
	jadd(o, "bytes_read", json_object_new_int64(r->bytes_read));
	jadd(o, "ended_by", json_object_new_string(r->aborted ? "errors" : r->stopped ? "signal"
						   : r->capped ? "max-requests" : "stages"));
	const char *txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
	int rc = txt && printf("%s\n", txt) >= 0 ? 0 : -EIO;
	json_object_put(o);
	return rc;
}

static void print_text(const struct load_config *c, const struct load_result *r, const char *stages)
{
	char d[32], a[32], b[32], e[32], f[32], g[32], h[32];
	printf("target       %s\n", c->url);
	printf("stages       %s (%s), %s loop", stages,
	       util_duration_format(load_stages_duration(c->stages, c->nstages), d, sizeof(d)),
	       c->rate > 0 ? "open" : "closed");
	if (c->rate > 0)
		printf(" at %.0f req/s at the largest stage", c->rate);
	printf(", %d thread%s\n", r->threads, r->threads == 1 ? "" : "s");
	printf("requests     %lld answered in %.2fs = %.1f/s  (2xx %lld, 3xx %lld, 4xx %lld, 5xx %lld, other %lld)%s\n",
	       (long long)r->requests, (double)r->duration_ns / 1e9, r->rps, (long long)r->status_class[2],
	       (long long)r->status_class[3], (long long)r->status_class[4], (long long)r->status_class[5],
	       (long long)r->status_class[0],
	       r->capped ? "  [stopped at --max-requests]" : r->stopped ? "  [interrupted]" : "");
	printf("latency      p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (mean %s)%s\n",
	       fmt_us(r->p50_us, a, sizeof(a)), fmt_us(r->p90_us, b, sizeof(b)), fmt_us(r->p99_us, e, sizeof(e)),
	       fmt_us(r->p999_us, f, sizeof(f)), fmt_us(r->max_us, g, sizeof(g)), fmt_us(r->mean_us, h, sizeof(h)),
	       c->rate > 0 ? ", from the intended send time" : "");
	printf("errors       %lld of %lld attempts (%.1f%%): ", (long long)r->errors_total, (long long)r->attempts,
	       100.0 * load_error_rate(r));
	for (int k = 0; k < LOAD_ERR_KINDS; k++)
		printf("%s%s %lld", k ? ", " : "", load_error_name(k), (long long)r->errors[k]);
	printf("\n");
	printf("connections  %d at most, %lld opened, %lld requests unfinished at the end\n", r->max_connections,
	       (long long)r->connects, (long long)r->unfinished);
}

static int url_fail(const char *url, int rc)
{
	switch (rc) {
	case -EPROTONOSUPPORT:
		if (strncasecmp(url, "https://", 8) == 0)
			return cli_fail(EXIT_USAGE, "https:// is not supported yet: use http:// to a loopback port ('%s')", url);
		return cli_fail(EXIT_USAGE, "'%s': only http:// URLs are supported", url);
	case -EADDRNOTAVAIL:
		return cli_fail(EXIT_USAGE,
				"'%s' is not a loopback target: headroom load only sends to 127.0.0.0/8, ::1 or localhost", url);
	case -ENOENT:
		return cli_fail(EXIT_FAIL, "'%s': localhost does not resolve to a loopback address", url);
	default:
		return cli_fail(EXIT_USAGE, "'%s' is not a URL; accepted: http://HOST[:PORT][/PATH] with HOST 127.x.x.x, [::1] or localhost", url);
	}
}

/* Long because: one case per option of load's table, each a few lines of checking, then the run
 * and its output; the checks are kept together so every option is validated before anything
 * starts. */
int cmd_load(int argc, char **argv)
{
	struct option opts[CLI_OPTS_MAX];
	if (cli_opts_getopt(load_opts, opts, CLI_OPTS_MAX) < 0)
		return cli_fail(EXIT_FAIL, "load: option table too large");
	struct load_config *c = calloc(1, sizeof(*c));
	if (!c)
		return cli_fail(EXIT_FAIL, "out of memory");
	load_config_init(c);
	const char *stages = NULL, *profile = NULL;
	int64_t connections = 0, v;
	bool json = false;
	int rc = EXIT_USAGE;
	int opt;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_STAGES:
			stages = optarg;
			break;
		case OPT_PROFILE:
			profile = optarg;
			break;
		case OPT_RATE: {
			char *end;
			c->rate = strtod(optarg, &end);
			if (*end || end == optarg || !(c->rate > 0) || !isfinite(c->rate) || c->rate > 1e8) {
				cli_fail(EXIT_USAGE, "--rate '%s': requests per second, a number > 0 (e.g. --rate 5000)", optarg);
				goto out;
			}
			break;
		}
		case OPT_CONNECTIONS:
			if (parse_count(optarg, 1, LOAD_CONN_MAX / 8, &connections) < 0) {
				cli_fail(EXIT_USAGE, "--connections '%s': a whole number from 1 to %d", optarg, LOAD_CONN_MAX / 8);
				goto out;
			}
			break;
		case OPT_THREADS:
			if (parse_count(optarg, 1, LOAD_THREADS_MAX, &v) < 0) {
				cli_fail(EXIT_USAGE, "--threads '%s': a whole number from 1 to %d", optarg, LOAD_THREADS_MAX);
				goto out;
			}
			c->threads = (int)v;
			break;
		case OPT_METHOD:
			if (!*optarg || strspn(optarg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_") != strlen(optarg)) {
				cli_fail(EXIT_USAGE, "--method '%s': an HTTP method such as GET, POST, HEAD", optarg);
				goto out;
			}
			c->method = optarg;
			break;
		case OPT_PATH:
			if (c->npaths >= LOAD_PATHS_MAX) {
				cli_fail(EXIT_USAGE, "more than %d --path options", LOAD_PATHS_MAX);
				goto out;
			}
			if (optarg[0] != '/' || strpbrk(optarg, " \t\r\n")) {
				cli_fail(EXIT_USAGE, "--path '%s': a path starting with '/', without spaces (e.g. /api?size=1k)", optarg);
				goto out;
			}
			c->paths[c->npaths++] = optarg;
			break;
		case OPT_HEADER:
			if (c->nheaders >= LOAD_HEADERS_MAX) {
				cli_fail(EXIT_USAGE, "more than %d --header options", LOAD_HEADERS_MAX);
				goto out;
			}
			if (!strchr(optarg, ':') || optarg[0] == ':' || strpbrk(optarg, "\r\n")) {
				cli_fail(EXIT_USAGE, "--header '%s': accepted form 'Name: value'", optarg);
				goto out;
			}
			c->headers[c->nheaders++] = optarg;
			break;
		case OPT_BODY:
			c->body = optarg;
			c->body_len = strlen(optarg);
			break;
		case OPT_TIMEOUT:
			if (util_duration_parse(optarg, &c->timeout_ns) < 0 || c->timeout_ns <= 0) {
				cli_fail(EXIT_USAGE, "--timeout '%s': a duration > 0 such as 500ms, 5s", optarg);
				goto out;
			}
			break;
		case OPT_MAX_REQUESTS:
			if (parse_count(optarg, 1, INT64_MAX / 2, &c->max_requests) < 0) {
				cli_fail(EXIT_USAGE, "--max-requests '%s': a whole number > 0", optarg);
				goto out;
			}
			break;
		case OPT_JSON:
			json = true;
			break;
		case CLI_OPT_HELP:
			cli_help_print(stdout, &load_help, cli_width(STDOUT_FILENO));
			rc = 0;
			goto out;
		default:
			rc = cli_opts_fail(load_opts, opt, argc, argv);
			goto out;
		}
	}
	if (optind != argc - 1) {
		cli_fail(EXIT_USAGE, optind >= argc ? "load: missing URL (headroom load http://127.0.0.1:PORT/ --stages 10s:8)"
						     : "load: one URL only");
		goto out;
	}
	const char *url = argv[optind];
	int r = load_config_parse_url(c, url);
	if (r < 0) {
		rc = url_fail(url, r);
		goto out;
	}
	if (!!stages == !!profile) {
		cli_fail(EXIT_USAGE, "give one of --stages SPEC (e.g. 10s:50,5s:400,20s:50) or --profile steady|burst|ramp|soak");
		goto out;
	}
	if (stages) {
		if (connections) {
			cli_fail(EXIT_USAGE, "--connections scales a --profile; with --stages put the connections in each stage (10s:50)");
			goto out;
		}
		r = load_stages_parse(stages, c->stages, LOAD_STAGES_MAX, &c->nstages);
		if (r < 0) {
			char why[512];
			load_stages_explain(stages, why, sizeof(why));
			cli_fail(EXIT_USAGE, "%s", why);
			goto out;
		}
		if (load_stages_max_connections(c->stages, c->nstages) == 0) {
			cli_fail(EXIT_USAGE, "--stages '%s' never opens a connection; accepted: %s", stages, load_stages_form);
			goto out;
		}
	} else {
		r = load_profile_stages(profile, (int)connections, c->stages, LOAD_STAGES_MAX, &c->nstages);
		if (r < 0) {
			cli_fail(EXIT_USAGE, "--profile '%s': accepted steady, burst, ramp, soak (see docs/load.md)", profile);
			goto out;
		}
	}
	int maxc = load_stages_max_connections(c->stages, c->nstages);
	int threads = c->threads < maxc ? c->threads : maxc;
	long allowed = 0;
	r = load_check_nofile(maxc, threads, &allowed);
	if (r == -EMFILE) {
		struct rlimit rl;
		getrlimit(RLIMIT_NOFILE, &rl);
		cli_fail(EXIT_USAGE,
			 "%d connections need more file descriptors than RLIMIT_NOFILE allows (hard limit %llu: at most %ld "
			 "connections); lower the connections or raise the limit (ulimit -Hn)",
			 maxc, (unsigned long long)rl.rlim_max, allowed > 0 ? allowed : 0);
		goto out;
	}
	c->fail_fast = true;

	struct progress prog = {.tty = isatty(STDERR_FILENO) == 1, .width = cli_width(STDERR_FILENO), .nstages = c->nstages,
				.total_ns = load_stages_duration(c->stages, c->nstages)};
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	struct sigaction old_int, old_term;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	struct load_result res;
	memset(&res, 0, sizeof(res));
	r = load_run(c, &load_stop, on_second, NULL, &prog, &res);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (prog.tty)
		fprintf(stderr, "\r\033[K");
	char addr[300];
	snprintf(addr, sizeof(addr), "%s", c->host);
	switch (r) {
	case 0:
		break;
	case -ECONNREFUSED:
		rc = cli_fail(EXIT_FAIL, "connection refused by %s: is the service listening there? (%s)", addr, c->url);
		goto out;
	case -ETIMEDOUT:
		rc = cli_fail(EXIT_FAIL, "%s did not accept a connection within %s (%s)", addr, "3s", c->url);
		goto out;
	case -EPROTO:
		rc = cli_fail(EXIT_FAIL,
			      "%s does not answer HTTP/1.x: %lld unparseable responses and none valid in the first second",
			      c->url, (long long)res.errors[LOAD_ERR_PARSE]);
		goto out;
	case -EMFILE:
		rc = cli_fail(EXIT_FAIL, "out of file descriptors (RLIMIT_NOFILE)");
		goto out;
	default:
		if (res.aborted)
			rc = cli_fail(EXIT_FAIL, "%s: every request failed in the first second (%s: %s)", c->url,
				      load_error_name(res.first_error_kind), strerror(-r));
		else if (r == -EINVAL || r == -ENOMEM)
			rc = cli_fail(EXIT_FAIL, "load on %s failed: %s", c->url, strerror(-r));
		else
			rc = cli_fail(EXIT_FAIL, "cannot connect to %s: %s (%s)", addr, strerror(-r), c->url);
		goto out;
	}
	char st[1024];
	stages_text(c->stages, c->nstages, st, sizeof(st));
	int pr = 0;
	if (json)
		pr = print_json(c, &res, st);
	else
		print_text(c, &res, st);
	rc = res.stopped && load_signal ? 128 + load_signal : 0;   /* like a shell's interrupted command */
	if (pr < 0)
		rc = cli_fail(EXIT_FAIL, "cannot write the result");
out:
	free(c);
	return rc;
}
