#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "explain.h"
#include "opts.h"
#include "record.h"

static const struct cli_opt explain_opts[] = {
	{NULL, NULL, NULL, NULL, 0},
};

const struct cli_help explain_help = {
	"explain",
	"explain FILE",
	"Explain in plain words where a recording's memory went at its peak: heap in use, memory the "
	"allocator keeps, thread stacks, code and libraries, mapped files, page cache; and what to do "
	"about the largest part.",
	explain_opts,
	"Exit status: 0, 1 when the recording cannot be read, 2 for a usage error.",
};

int cmd_explain(int argc, char **argv)
{
	struct option lo[CLI_OPTS_MAX];
	cli_opts_getopt(explain_opts, lo, CLI_OPTS_MAX);
	optind = 1;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (opt == CLI_OPT_HELP) {
			cli_help_print(stdout, &explain_help, cli_width(STDOUT_FILENO));
			return 0;
		}
		return cli_opts_fail(explain_opts, opt, argc, argv);
	}
	if (argc - optind != 1)
		return cli_fail(EXIT_USAGE, "explain takes one recording: headroom explain FILE");
	const char *file = argv[optind];
	char safe[256];
	int rc = explain_file(stdout, file);
	if (rc == -EIO)
		return cli_fail(EXIT_FAIL, "cannot write the explanation: %s", strerror(EIO));
	if (rc < 0)
		return cli_fail(EXIT_FAIL, "cannot read the recording '%s': %s", cli_safe(file, safe, sizeof(safe)),
				record_strerror(rc));
	return 0;
}
