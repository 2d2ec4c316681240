#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "export.h"
#include "util.h"

#define EXPORT_USAGE "export (--pid PID | --cgroup PATH | --cgroup-root PATH) [--listen ADDR] [--interval DUR] [--peak-window DUR] [--rescan DUR] [--timeout DUR] [--duration DUR] [--reset-peaks] [--host-root DIR] [--containerd-state DIR] [--crio-state DIR] [--docker-root DIR] [--podman-root DIR]"

enum { OPT_PID = 256, OPT_CGROUP, OPT_CGROUP_ROOT, OPT_LISTEN, OPT_INTERVAL, OPT_PEAK_WINDOW, OPT_RESCAN,
       OPT_DURATION, OPT_TIMEOUT, OPT_RESET_PEAKS, OPT_HOST_ROOT, OPT_CONTAINERD, OPT_CRIO, OPT_DOCKER, OPT_PODMAN };

static const struct option long_opts[] = {
	{"pid", required_argument, NULL, OPT_PID},
	{"cgroup", required_argument, NULL, OPT_CGROUP},
	{"cgroup-root", required_argument, NULL, OPT_CGROUP_ROOT},
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"interval", required_argument, NULL, OPT_INTERVAL},
	{"peak-window", required_argument, NULL, OPT_PEAK_WINDOW},
	{"rescan", required_argument, NULL, OPT_RESCAN},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"reset-peaks", no_argument, NULL, OPT_RESET_PEAKS},
	{"host-root", required_argument, NULL, OPT_HOST_ROOT},
	{"containerd-state", required_argument, NULL, OPT_CONTAINERD},
	{"crio-state", required_argument, NULL, OPT_CRIO},
	{"docker-root", required_argument, NULL, OPT_DOCKER},
	{"podman-root", required_argument, NULL, OPT_PODMAN},
	{NULL, 0, NULL, 0},
};

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

int cmd_export(int argc, char **argv)
{
	struct export_config cfg = {0};
	int targets = 0;
	int64_t duration = 0, timeout = 0;
	optind = 1;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
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
		default:
			return cli_fail(EXIT_USAGE, "export: unknown or incomplete option '%s'; usage: headroom " EXPORT_USAGE,
			                argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_fail(EXIT_USAGE, "export takes no command ('%s'); usage: headroom " EXPORT_USAGE, argv[optind]);
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
	cli_note("exporting on http://%.*s:%d/metrics", (int)(strrchr(listen, ':') - listen), listen, export_port(e));

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
