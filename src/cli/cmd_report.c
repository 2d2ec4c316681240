/* headroom report FILE [--json]: the analysis of a recording, in words or as one JSON object. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "html.h"
#include "opts.h"
#include "record.h"
#include "report.h"

enum { OPT_JSON = 256, OPT_HTML };

static const struct cli_opt report_opts[] = {
	{"json", NULL, NULL, "print the report as one JSON object instead of text", OPT_JSON},
	{"html", "OUT", NULL, "write the report as a self-contained HTML page to OUT (then the text report is "
	 "not printed unless --json)", OPT_HTML},
	{NULL, NULL, NULL, NULL, 0},
};

const struct cli_help report_help = {
	"report",
	"report FILE [--json] [--html OUT]",
	"Print the analysis of a recording made by run or attach: peaks, trend, heap, breakdown, "
	"phases, what a dashboard would have shown, and a recommendation. A recording that was cut "
	"short is read up to its last flush.",
	report_opts,
	"Exit status: 0, 1 when the recording cannot be read, 2 for a usage error.",
};

int cmd_report(int argc, char **argv)
{
	bool json = false;
	const char *file = NULL, *html = NULL;
	struct option lo[CLI_OPTS_MAX];
	cli_opts_getopt(report_opts, lo, CLI_OPTS_MAX);
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
			cli_help_print(stdout, &report_help, cli_width(STDOUT_FILENO));
			return 0;
		default:
			return cli_opts_fail(report_opts, opt, argc, argv);
		}
	}
	char sa[256], sb[256];
	if (optind >= argc)
		return cli_fail(EXIT_USAGE, "report: no recording given (headroom report FILE)");
	if (optind + 1 < argc)
		return cli_fail(EXIT_USAGE, "report: one recording at a time ('%s' and '%s')",
				cli_safe(argv[optind], sa, sizeof(sa)), cli_safe(argv[optind + 1], sb, sizeof(sb)));
	file = argv[optind];
	/* with --html alone the page is the output; --json or nothing else also prints */
	if (!html || json) {
		int r = report_file(stdout, file, json);
		if (r < 0)
			return cli_fail(EXIT_FAIL, "report: cannot read '%s': %s", cli_safe(file, sa, sizeof(sa)),
					record_strerror(r));
	}
	if (html) {
		int r = html_report_file(file, html);
		if (r < 0)
			return cli_fail(EXIT_FAIL, "report: cannot write '%s' from '%s': %s", cli_safe(html, sb, sizeof(sb)),
					cli_safe(file, sa, sizeof(sa)), record_strerror(r));
		if (!json)
			printf("wrote %s\n", html);
	}
	return 0;
}
