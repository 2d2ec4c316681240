#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "version_git.h"   /* generated at build time: HEADROOM_GIT_DESCRIBE */
#include "opts.h"

const char *cli_command;

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *what;
	const struct cli_help *help;
};

static const struct command commands[] = {
	{"run", cmd_run, "run a command, record its memory (optionally under load), report", &run_help},
	{"attach", cmd_attach, "record a running process or cgroup, report", &attach_help},
	{"report", cmd_report, "the analysis of a recording (text, JSON, HTML)", &report_help},
	{"size", cmd_size, "Kubernetes memory requests and limits from recordings or Prometheus", &size_help},
	{"compare", cmd_compare, "two recordings side by side", &compare_help},
	{"explain", cmd_explain, "where a recording's memory went, in words", &explain_help},
	{"load", cmd_load, "staged HTTP load at a loopback URL", &load_help},
	{"export", cmd_export, "Prometheus metrics for a pid or cgroup, over HTTP", &export_help},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: headroom <command> [options]\n       headroom --version | --help\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].what);
	fprintf(f, "\n'headroom COMMAND --help' describes each command's options; 'headroom help --options'\n"
		   "lists them all, tab-separated (command, option, argument, default, help).\n"
		   "SIZE: 512Mi, 1Gi, 500M, 1.5G, 1e9 or bytes.  DUR: 250ms, 10s, 5m, 1h.\n"
		   "CLASS (--fail-on): growing (exit 10), oom (11), over-limit (12), under-sized (13).\n");
}

int cli_width(int fd)
{
	struct winsize ws;
	if (isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

static void vnote(int code, const char *fmt, va_list ap)
{
	/* messages quote arguments, paths and what peers sent: escape control bytes, whatever the
	 * caller forgot, so nothing moves the cursor or rings the bell on the user's terminal */
	char msg[2048], safe[4096];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fputs("headroom: ", stderr);
	fputs(cli_safe(msg, safe, sizeof(safe)), stderr);
	if (code == EXIT_USAGE)
		fprintf(stderr, " (see 'headroom%s%s --help')", cli_command ? " " : "", cli_command ? cli_command : "");
	fputc('\n', stderr);
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

int cli_fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vnote(code, fmt, ap);
	va_end(ap);
	return code;
}

void cli_note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vnote(0, fmt, ap);
	va_end(ap);
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		if (argc == 3 && strcmp(argv[1], "help") == 0 && strcmp(argv[2], "--options") == 0) {
			for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
				cli_help_table(stdout, commands[i].help);
			return finish_stdout(0);
		}
		/* `headroom help run` is `headroom run --help` */
		if (argc >= 3 && strcmp(argv[1], "help") == 0) {
			char *hargv[] = {argv[2], "--help", NULL};
			for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
				if (strcmp(argv[2], commands[i].name) == 0) {
					cli_command = commands[i].name;
					return finish_stdout(commands[i].fn(2, hargv));
				}
		}
		usage(argc < 2 ? stderr : stdout);
		return finish_stdout(argc < 2 ? EXIT_USAGE : 0);
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("headroom %s (git %s)\n", HEADROOM_VERSION, HEADROOM_GIT_DESCRIBE);
		return finish_stdout(0);
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0) {
			cli_command = commands[i].name;
			return finish_stdout(commands[i].fn(argc - 1, argv + 1));
		}
	char safe[128];
	return cli_fail(EXIT_USAGE, "unknown command '%s'", cli_safe(argv[1], safe, sizeof(safe)));
}
