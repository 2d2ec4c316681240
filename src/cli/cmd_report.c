/* headroom report FILE [--json] [--html OUT] [--pprof OUT [--at TIME|end]]: the analysis of a
 * recording, in words or as one JSON object, as a page, and its heap sites as a pprof profile. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "analyze.h"
#include "cli.h"
#include "html.h"
#include "opts.h"
#include "pprof.h"
#include "record.h"
#include "report.h"
#include "util.h"

enum { OPT_JSON = 256, OPT_HTML, OPT_PPROF, OPT_AT };

static const struct cli_opt report_opts[] = {
	{"json", NULL, NULL, "print the report as one JSON object instead of text", OPT_JSON},
	{"html", "OUT", NULL, "write the report as a self-contained HTML page to OUT (then the text report is "
	 "not printed unless --json)", OPT_HTML},
	{"pprof", "OUT", NULL, "write the sampled heap sites (run --heap sites) as a gzip'd pprof profile to OUT, "
	 "for go tool pprof: inuse and alloc space and objects (then the text report is not printed unless --json)",
	 OPT_PPROF},
	{"at", "TIME", "peak", "the instant of the --pprof profile's inuse figures: a duration since the start "
	 "(90s, 2m), end, or peak: the true peak of the analysis", OPT_AT},
	{NULL, NULL, NULL, NULL, 0},
};

const struct cli_help report_help = {
	"report",
	"report FILE [--json] [--html OUT] [--pprof OUT [--at TIME|end]]",
	"Print the analysis of a recording made by run or attach: peaks, trend, heap, breakdown, "
	"phases, what a dashboard would have shown, and a recommendation. A recording that was cut "
	"short is read up to its last flush.",
	report_opts,
	"Exit status: 0, 1 when the recording cannot be read (or, for --pprof, has no heap sites), 2 for a "
	"usage error.",
};

/* --pprof: the heap sites at an instant; what could not be named is said on stderr. a: the
 * analysis, NULL without one (the peak is then the end) */
static int report_pprof(const char *file, const struct recording *rec, const struct analysis *a, const char *out,
			int64_t at, bool json)
{
	char sa[256], sb[256], note[600];
	struct pprof_info info;
	int r = pprof_write(rec, a, out, at, &info);
	if (r == -ENODATA)
		return cli_fail(EXIT_FAIL, "report: '%s' has no heap sites (record with run --heap sites; older "
				"recordings have none)", cli_safe(file, sa, sizeof(sa)));
	if (r == -ERANGE)
		return cli_fail(EXIT_FAIL, "report: '%s' has no heap site figures at or before --at",
				cli_safe(file, sa, sizeof(sa)));
	if (r < 0 && info.write_failed)
		return cli_fail(EXIT_FAIL, "report: cannot write '%s': %s", cli_safe(out, sb, sizeof(sb)), strerror(-r));
	if (r < 0)
		return cli_fail(EXIT_FAIL, "report: cannot read '%s': %s", cli_safe(file, sa, sizeof(sa)), record_strerror(r));
	if (info.note[0])
		fprintf(stderr, "headroom: report: %s\n", util_term_escape(info.note, note, sizeof(note), false));
	if (!json) {
		char t[32];
		printf("wrote %s (%zu sites at %s)\n", cli_safe(out, sb, sizeof(sb)), info.sites,
		       util_duration_format(info.at_t_ns, t, sizeof(t)));
	}
	return 0;
}

int cmd_report(int argc, char **argv)
{
	bool json = false;
	const char *file = NULL, *html = NULL, *pprof = NULL, *at_text = NULL;
	int64_t at = PPROF_AT_PEAK;
	char sa_opt[256];
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
		case OPT_PPROF:
			pprof = optarg;
			break;
		case OPT_AT:
			at_text = optarg;
			if (strcmp(optarg, "end") == 0)
				at = PPROF_AT_END;
			else if (strcmp(optarg, "peak") == 0)
				at = PPROF_AT_PEAK;
			else if (util_duration_parse(optarg, &at) < 0 || at < 0)
				return cli_fail(EXIT_USAGE, "report: --at '%s' is not an instant: a duration since the "
						"start (90s, 2m) or end", cli_safe(optarg, sa_opt, sizeof(sa_opt)));
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
	if (at_text && !pprof)
		return cli_fail(EXIT_USAGE, "report: --at goes with --pprof (the instant of its profile)");
	cli_name_sites(file);
	/* one reading and one analysis, which every view below renders (the columns of the
	 * analysis and of the page) */
	struct recording *rec = NULL;
	struct analysis *a = NULL;
	int ar = analyze_file_with(file, html_columns, &rec, &a);
	bool analysed = ar == 0 || ar == -ENODATA;   /* -ENODATA: no samples, which the views say */
	int code = 0;
	if (!rec || (!analysed && (html || !pprof || json))) {
		code = cli_fail(EXIT_FAIL, "report: cannot read '%s': %s", cli_safe(file, sa, sizeof(sa)), record_strerror(ar));
		goto out;
	}
	/* with --html or --pprof alone the file is the output; --json or nothing else also prints */
	if ((!html && !pprof) || json) {
		int r = json ? report_print_json(stdout, rec, a) : report_print_text(stdout, rec, a);
		if (r < 0) {
			code = cli_fail(EXIT_FAIL, "report: cannot read '%s': %s", cli_safe(file, sa, sizeof(sa)),
					record_strerror(r));
			goto out;
		}
	}
	if (html) {
		int r = html_report_write(html, rec, a);
		if (r < 0) {
			code = cli_fail(EXIT_FAIL, "report: cannot write '%s' from '%s': %s", cli_safe(html, sb, sizeof(sb)),
					cli_safe(file, sa, sizeof(sa)), record_strerror(r));
			goto out;
		}
		if (!json)
			printf("wrote %s\n", html);
	}
	if (pprof)
		code = report_pprof(file, rec, ar == 0 ? a : NULL, pprof, at, json);
out:
	analyze_file_free(rec, a);
	return code;
}
