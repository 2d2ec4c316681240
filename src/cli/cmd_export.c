#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "export.h"
#include "opts.h"
#include "util.h"

enum { OPT_PID = 256, OPT_CGROUP, OPT_CGROUP_ROOT, OPT_LISTEN, OPT_INTERVAL, OPT_PEAK_WINDOW, OPT_RESCAN,
       OPT_DURATION, OPT_TIMEOUT, OPT_RESET_PEAKS, OPT_HOST_ROOT, OPT_CONTAINERD, OPT_CRIO, OPT_DOCKER, OPT_PODMAN };

/* The shortest sampling interval: each pass reads /proc and cgroup files of every target
 * (2-10 us each, FACTS.md) and renders the exposition text; below 10 ms that turns into a busy
 * loop for no scrape's benefit (Prometheus scrapes every 15-60 s). `--interval 1ns` was accepted. */
#define EXPORT_INTERVAL_MIN_NS 10000000LL

static const struct cli_opt export_opts[] = {
	{"pid", "PID", NULL, "export one process (and its children)", OPT_PID},
	{"cgroup", "PATH", NULL, "export one cgroup", OPT_CGROUP},
	{"cgroup-root", "PATH", NULL, "export every container cgroup below PATH, named from the container "
	 "runtime's records (namespace, pod, container)", OPT_CGROUP_ROOT},
	{"listen", "ADDR", "127.0.0.1:9464", "HOST:PORT to serve /metrics on; :PORT or 0.0.0.0 is every "
	 "interface (a warning says so)", OPT_LISTEN},
	{"interval", "DUR", "1s", "sampling interval (10ms or more); each interval's peak is exact", OPT_INTERVAL},
	{"peak-window", "DUR", "15s", "the window the *_peak_bytes series cover (at most 599 intervals)",
	 OPT_PEAK_WINDOW},
	{"rescan", "DUR", "10s", "with --cgroup-root: how often to look for new containers", OPT_RESCAN},
	{"timeout", "DUR", "10s", "close a scrape connection idle this long (whole seconds)", OPT_TIMEOUT},
	{"duration", "DUR", "until SIGINT or SIGTERM", "stop after DUR", OPT_DURATION},
	{"reset-peaks", NULL, "off", "reset the programs' own peak figures (clear_refs 5, cgroup v1 "
	 "max_usage_in_bytes) every interval for exact peaks; disturbs what other tools read on a shared node",
	 OPT_RESET_PEAKS},
	{"host-root", "DIR", "/", "where the node's root is mounted (in a container: /host)", OPT_HOST_ROOT},
	{"containerd-state", "DIR", "/run/containerd", "containerd's state directory (bundles with config.json)",
	 OPT_CONTAINERD},
	{"crio-state", "DIR", "/run/containers/storage", "CRI-O's container records", OPT_CRIO},
	{"docker-root", "DIR", "/var/lib/docker", "docker's container records", OPT_DOCKER},
	{"podman-root", "DIR", "/var/lib/containers/storage", "podman's container records", OPT_PODMAN},
	{NULL, NULL, NULL, NULL, 0},
};

const struct cli_help export_help = {
	"export",
	"export (--pid PID | --cgroup PATH | --cgroup-root PATH) [opts]",
	"Serve Prometheus metrics for a process, a cgroup or every container of a node over HTTP: RSS, "
	"cgroup usage and working set, and their exact peaks over a window, so a dashboard sees the "
	"spikes a 15 s scrape misses. See docs/export.md.",
	export_opts,
	"DUR: 250ms, 10s, 5m, 1h.  Exit status: 0 after a signal or --duration, 1 on failure, 2 for a "
	"usage error.",
};

/* What --listen binds, as an address a user can paste ("0.0.0.0:19470" for ":19470"), and whether
 * it is loopback only. */
static void listen_text(const char *listen, int port, char *buf, size_t len, bool *ret_loopback)
{
	const char *colon = strrchr(listen, ':');
	size_t hl = colon ? (size_t)(colon - listen) : 0;
	char host[128];
	snprintf(host, sizeof(host), "%.*s", (int)(hl < sizeof(host) ? hl : sizeof(host) - 1), listen);
	if (host[0] == '[' && hl >= 2) {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	if (!host[0])
		snprintf(host, sizeof(host), "0.0.0.0");
	struct in_addr a4;
	struct in6_addr a6;
	*ret_loopback = false;
	if (inet_pton(AF_INET, host, &a4) == 1) {
		*ret_loopback = (ntohl(a4.s_addr) >> 24) == 127;
		snprintf(buf, len, "%s:%d", host, port);
	} else {
		if (inet_pton(AF_INET6, host, &a6) == 1)
			*ret_loopback = IN6_IS_ADDR_LOOPBACK(&a6);
		snprintf(buf, len, "[%s]:%d", host, port);
	}
}

static int duration_opt(const char *name, const char *text, int64_t *ret)
{
	if (util_duration_parse(text, ret) < 0 || *ret <= 0)
		return cli_fail(EXIT_USAGE, "--%s '%s' is not a duration above zero (accepted: 250ms, 10s, 5m, 1h)",
		                name, text);
	return 0;
}

/* Notes name cgroups and records that other programs chose: control bytes are shown as \xNN so
 * nothing reaches the terminal as an escape sequence. */
static void print_note(void *ctx, const char *text)
{
	(void)ctx;
	char out[2048];
	size_t o = 0;
	for (const unsigned char *c = (const unsigned char *)text; *c && o + 5 < sizeof(out); c++) {
		if (*c < 0x20 || *c == 0x7f)
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", *c);
		else
			out[o++] = (char)*c;
	}
	out[o] = 0;
	cli_note("note: %s", out);
}

static int dir_opt(const char *name, const char *text, const char **ret)
{
	if (!*text || text[0] != '/')
		return cli_fail(EXIT_USAGE, "--%s '%s' is not an absolute directory path (e.g. /run/containerd)", name, text);
	*ret = text;
	return 0;
}

/* Long because: one case per option of export's table, each a few lines of checking, then the
 * exporter started with them. */
int cmd_export(int argc, char **argv)
{
	struct export_config cfg = {0};
	int targets = 0;
	int64_t duration = 0, timeout = 0;
	struct option long_opts[CLI_OPTS_MAX];
	cli_opts_getopt(export_opts, long_opts, CLI_OPTS_MAX);
	optind = 1;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_PID: {
			char *end;
			errno = 0;
			long v = strtol(optarg, &end, 10);
			if (*optarg == 0 || *end || errno || v <= 0 || v > 0x3fffffff)
				return cli_fail(EXIT_USAGE, "--pid '%s' is not a process id (a positive number)", optarg);
			cfg.mode = EXPORT_PID;
			cfg.pid = (pid_t)v;
			targets++;
			break;
		}
		case OPT_CGROUP:
			cfg.mode = EXPORT_CGROUP;
			cfg.cgroup = optarg;
			targets++;
			break;
		case OPT_CGROUP_ROOT:
			cfg.mode = EXPORT_CGROUP_ROOT;
			cfg.cgroup = optarg;
			targets++;
			break;
		case OPT_LISTEN:
			cfg.listen = optarg;
			break;
		case OPT_INTERVAL:
			if (duration_opt("interval", optarg, &cfg.interval_ns))
				return EXIT_USAGE;
			if (cfg.interval_ns < EXPORT_INTERVAL_MIN_NS)
				return cli_fail(EXIT_USAGE, "--interval %s is below the shortest export interval, 10ms", optarg);
			break;
		case OPT_PEAK_WINDOW:
			if (duration_opt("peak-window", optarg, &cfg.peak_window_ns))
				return EXIT_USAGE;
			break;
		case OPT_RESCAN:
			if (duration_opt("rescan", optarg, &cfg.rescan_ns))
				return EXIT_USAGE;
			break;
		case OPT_DURATION:
			if (duration_opt("duration", optarg, &duration))
				return EXIT_USAGE;
			break;
		case OPT_TIMEOUT:
			if (duration_opt("timeout", optarg, &timeout))
				return EXIT_USAGE;
			cfg.timeout_s = timeout < 1000000000LL ? 1 : timeout / 1000000000LL;
			break;
		case OPT_RESET_PEAKS:
			cfg.reset_peaks = true;
			break;
		case OPT_HOST_ROOT:
			if (dir_opt("host-root", optarg, &cfg.runtimes.host_root))
				return EXIT_USAGE;
			break;
		case OPT_CONTAINERD:
			if (dir_opt("containerd-state", optarg, &cfg.runtimes.containerd_state))
				return EXIT_USAGE;
			break;
		case OPT_CRIO:
			if (dir_opt("crio-state", optarg, &cfg.runtimes.crio_state))
				return EXIT_USAGE;
			break;
		case OPT_DOCKER:
			if (dir_opt("docker-root", optarg, &cfg.runtimes.docker_root))
				return EXIT_USAGE;
			break;
		case OPT_PODMAN:
			if (dir_opt("podman-root", optarg, &cfg.runtimes.podman_root))
				return EXIT_USAGE;
			break;
		case CLI_OPT_HELP:
			cli_help_print(stdout, &export_help, cli_width(STDOUT_FILENO));
			return 0;
		default:
			return cli_opts_fail(export_opts, opt, argc, argv);
		}
	}
	if (optind < argc)
		return cli_fail(EXIT_USAGE, "export takes no command ('%s')", argv[optind]);
	if (targets != 1)
		return cli_fail(EXIT_USAGE, "export needs exactly one of --pid PID, --cgroup PATH or --cgroup-root PATH");
	int64_t interval = cfg.interval_ns ? cfg.interval_ns : 1000000000LL;
	int64_t window = cfg.peak_window_ns ? cfg.peak_window_ns : 15000000000LL;
	if (window < interval || window / interval >= EXPORT_RING_MAX)
		return cli_fail(EXIT_USAGE, "--peak-window must be between one and %d intervals (--interval)",
		                EXPORT_RING_MAX - 1);

	/* Block the stop signals before any thread exists, so only sigtimedwait below sees them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* The heap shim reader (src/heap.h, another branch) plugs in here through
	 * cfg.read_heap/cfg.heap_ctx; until then headroom_heap_live_bytes is simply not exported. */
	cfg.note = print_note;
	struct exporter *e;
	char why[256];
	int rc = export_start(&e, &cfg, why, sizeof(why));
	if (rc < 0)
		return cli_fail(rc == -EINVAL ? EXIT_USAGE : EXIT_FAIL, "%s", why);
	const char *listen = cfg.listen ? cfg.listen : "127.0.0.1:9464";
	char where[200];
	bool loopback;
	listen_text(listen, export_port(e), where, sizeof(where), &loopback);
	cli_note("exporting on http://%s/metrics", where);
	if (!loopback)
		cli_note("warning: %s is not loopback: anyone who can reach this machine on port %d can read these "
			 "metrics (--listen 127.0.0.1:%d keeps them local)", where, export_port(e), export_port(e));

	int64_t deadline = duration > 0 ? util_now_ns() + duration : 0;
	for (;;) {
		struct timespec ts = {3600, 0};
		if (deadline) {
			int64_t left = deadline - util_now_ns();
			if (left <= 0)
				break;
			ts.tv_sec = left / 1000000000LL;
			ts.tv_nsec = left % 1000000000LL;
		}
		int sig = sigtimedwait(&set, NULL, &ts);
		if (sig > 0)
			break;
	}
	export_stop(e);
	return 0;
}
