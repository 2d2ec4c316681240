/* headroom compare A B [--json]: two recordings side by side (debug vs release, glibc vs jemalloc). */
#include <errno.h>
#include <getopt.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "cli.h"
#include "record.h"
#include "html.h"
#include "opts.h"
#include "report.h"

enum { OPT_JSON = 256, OPT_HTML };

static const struct cli_opt compare_opts[] = {
	{"json", NULL, NULL, "print the comparison as one JSON object instead of a table", OPT_JSON},
	{"html", "OUT", NULL, "also write the comparison as an HTML page to OUT", OPT_HTML},
	{NULL, NULL, NULL, NULL, 0},
};

const struct cli_help compare_help = {
	"compare",
	"compare FILE_A FILE_B [--json] [--html OUT]",
	"Put two recordings side by side (debug vs release, glibc vs jemalloc, before vs after a "
	"change): peaks, steady state, heap and breakdown, with the difference of each.",
	compare_opts,
	"Exit status: 0, 1 when a recording cannot be read, 2 for a usage error.",
};

int cmd_compare(int argc, char **argv)
{
	bool json = false;
	const char *files[2] = {NULL, NULL}, *html = NULL;
	struct option lo[CLI_OPTS_MAX];
	cli_opts_getopt(compare_opts, lo, CLI_OPTS_MAX);
	optind = 1;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (opt) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_HTML:
			html = optarg;
			break;
		case CLI_OPT_HELP:
			cli_help_print(stdout, &compare_help, cli_width(STDOUT_FILENO));
			return 0;
		default:
			return cli_opts_fail(compare_opts, opt, argc, argv);
		}
	}
	if (argc - optind != 2)
		return cli_fail(EXIT_USAGE, "compare: needs two recordings, got %d", argc - optind);
	files[0] = argv[optind];
	files[1] = argv[optind + 1];

	struct recording *rec[2] = {NULL, NULL};
	struct analysis *a[2] = {NULL, NULL};
	int code = 0;
	for (int i = 0; i < 2 && code == 0; i++) {
		/* one reading and one analysis each, for the text and the page */
		int r = analyze_file_with(files[i], html_columns, &rec[i], &a[i]);
		if (!rec[i]) {
			code = cli_fail(EXIT_FAIL, "compare: cannot read '%s': %s", files[i], record_strerror(r));
			break;
		}
		if (r < 0 && r != -ENODATA)
			code = cli_fail(EXIT_FAIL, "compare: cannot analyse '%s': %s", files[i], strerror(-r));
	}
	if (code == 0) {
		const struct recording *const crec[2] = {rec[0], rec[1]};
		const struct analysis *const ca[2] = {a[0], a[1]};
		if (report_print_compare(stdout, files, crec, ca, json) < 0)
			code = cli_fail(EXIT_FAIL, "compare: cannot write the output");
		if (code == 0 && html) {
			int r = html_compare_write(html, crec, ca);
			if (r < 0)
				code = cli_fail(EXIT_FAIL, "compare: cannot write '%s': %s", html, record_strerror(r));
			else if (!json)
				printf("wrote %s\n", html);
		}
	}
	for (int i = 0; i < 2; i++)
		analyze_file_free(rec[i], a[i]);
	return code;
}
