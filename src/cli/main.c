#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "version_git.h"   /* generated at build time: HEADROOM_GIT_DESCRIBE */

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
};

static const struct command commands[] = {
	{"run", cmd_run, "run [--limit SIZE] [--interval DUR] [--record FILE] [--duration DUR] [--grace DUR] [--heap stats|count|off] [--no-heap] [--no-cgroup]\n"
	                 "               [--ready ADDR [--ready-timeout DUR]] [--load SPEC [--path P]... [--connections N] [--rate N] [--cooldown DUR] [--load-url URL]]\n"
	                 "               [--json] [--format text|json|markdown] [--fail-on CLASS[,CLASS]] [--html OUT] [--quiet] -- COMMAND [ARG...]"},
	{"load", cmd_load, "load URL (--stages SPEC | --profile steady|burst|ramp|soak) [--rate N] [--connections N] [--threads N] [--method M] [--path P]... [--header H]... [--body B] [--timeout DUR] [--max-requests N] [--json]"},
	{"attach", cmd_attach, "attach (--pid PID | --cgroup PATH) [--interval DUR] [--duration DUR] [--record FILE] [--json] [--format text|json|markdown] [--fail-on CLASS[,CLASS]] [--html OUT] [--quiet]"},
	{"report", cmd_report, "report FILE [--json] [--html OUT]"},
	{"size", cmd_size, "size FILE... [--headroom PCT] [--qos guaranteed|burstable] [--replicas N] [--surge N] [--hpa-target PCT] [--format yaml|json|text|markdown] [--json] [--fail-on CLASS[,CLASS]] [--html-link URL] [--verify [--verify-margin] [--no-replay-load] -- COMMAND [ARG...]]\n"
	                   "  headroom size --prometheus URL [--selector SEL] [--window DUR] [--headroom PCT] [--by workload|series] [--format table|yaml|json|csv]\n"
	                   "               [--patch DIR] [--fail-on under] [--at UNIXTIME] [--step DUR] [--timeout DUR]"},
	{"compare", cmd_compare, "compare FILE_A FILE_B [--json] [--html OUT]"},
	{"explain", cmd_explain, "explain FILE"},
	{"export", cmd_export, "export (--pid PID | --cgroup PATH | --cgroup-root PATH) [--listen ADDR] [--interval DUR] [--peak-window DUR] [--rescan DUR] [--timeout DUR] [--duration DUR] [--reset-peaks] [--host-root DIR] [--containerd-state DIR] [--crio-state DIR] [--docker-root DIR] [--podman-root DIR]"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: headroom <command> [options]\n       headroom --version | --help\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  headroom %s\n", commands[i].usage);
	fprintf(f, "\nSIZE: 512Mi, 1Gi, 500M, 1.5G or bytes.  DUR: 250ms, 10s, 5m, 1h.\n"
		   "CLASS (--fail-on): growing (exit 10), oom (11), over-limit (12), under-sized (13).\n");
}

int cli_fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("headroom: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return code;
}

void cli_note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("headroom: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("headroom %s (git %s)\n", HEADROOM_VERSION, HEADROOM_GIT_DESCRIBE);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	usage(stderr);
	return cli_fail(EXIT_USAGE, "unknown command '%s'", argv[1]);
}
