#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
};

static const struct command commands[] = {
	{"run", cmd_run, "run [--limit SIZE] [--interval DUR] [--record FILE] [--duration DUR] [--grace DUR] [--heap stats|count|off] [--no-heap] [--no-cgroup]\n"
	                 "               [--ready ADDR [--ready-timeout DUR]] [--load SPEC [--path P]... [--connections N] [--rate N] [--cooldown DUR] [--load-url URL]]\n"
	                 "               [--json] [--html OUT] [--quiet] -- COMMAND [ARG...]"},
	{"load", cmd_load, "load URL (--stages SPEC | --profile steady|burst|ramp|soak) [--rate N] [--connections N] [--threads N] [--method M] [--path P]... [--header H]... [--body B] [--timeout DUR] [--max-requests N] [--json]"},
	{"attach", cmd_attach, "attach (--pid PID | --cgroup PATH) [--interval DUR] [--duration DUR] [--record FILE] [--json] [--quiet]"},
	{"report", cmd_report, "report FILE [--json] [--html OUT]"},
	{"size", cmd_size, "size FILE... [--headroom PCT] [--qos guaranteed|burstable] [--replicas N] [--surge N] [--hpa-target PCT] [--format yaml|json|text] [--verify [--verify-margin] -- COMMAND [ARG...]]\n"
	                   "  headroom size --prometheus URL [--selector SEL] [--window DUR] [--headroom PCT] [--format table|yaml|json]"},
	{"compare", cmd_compare, "compare FILE_A FILE_B [--json] [--html OUT]"},
	{"explain", cmd_explain, "explain FILE"},
	{"export", cmd_export, "export (--pid PID | --cgroup PATH | --cgroup-root PATH) [--listen ADDR] [--interval DUR] [--peak-window DUR] [--rescan DUR] [--timeout DUR] [--duration DUR]"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: headroom <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  headroom %s\n", commands[i].usage);
	fprintf(f, "\nSIZE: 512Mi, 1Gi, 500M, 1.5G or bytes.  DUR: 250ms, 10s, 5m, 1h.\n");
}

/* Messages quote command lines, paths, cgroup names and peers' text: escaped on the way out so
 * none of it can drive the user's terminal. */
static void vnote(const char *fmt, va_list ap)
{
	char msg[2048], safe[4096];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "headroom: %s\n", util_term_escape(msg, safe, sizeof(safe), true));
}

int cli_fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
	return code;
}

void cli_note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vnote(fmt, ap);
	va_end(ap);
}

/* A report that did not reach its reader is a failure (`headroom report > /dev/full`): stdout is
 * buffered, so its write errors show only at the flush and close, after the command returned. */
static int finish_stdout(int code)
{
	int failed = fflush(stdout) != 0 || ferror(stdout);
	int e = errno;
	if (fclose(stdout) != 0 && !failed) {
		failed = 1;
		e = errno;
	}
	if (failed)
		return cli_fail(code ? code : EXIT_FAIL, "cannot write the output to stdout: %s", strerror(e));
	return code;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return finish_stdout(argc < 2 ? EXIT_USAGE : 0);
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("headroom %s\n", HEADROOM_VERSION);
		return finish_stdout(0);
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return finish_stdout(commands[i].fn(argc - 1, argv + 1));
	usage(stderr);
	return cli_fail(EXIT_USAGE, "unknown command '%s'", argv[1]);
}
