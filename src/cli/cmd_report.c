/* headroom report FILE [--json]: the analysis of a recording, in words or as one JSON object. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "record.h"
#include "report.h"

#define REPORT_USAGE "usage: headroom report FILE [--json]"

int cmd_report(int argc, char **argv)
{
	bool json = false;
	const char *file = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("%s\n", REPORT_USAGE);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return cli_fail(EXIT_USAGE, "report: unknown option '%s'; %s", argv[i], REPORT_USAGE);
		} else if (file) {
			return cli_fail(EXIT_USAGE, "report: one recording at a time ('%s' and '%s'); %s", file, argv[i],
					REPORT_USAGE);
		} else {
			file = argv[i];
		}
	}
	if (!file)
		return cli_fail(EXIT_USAGE, "report: no recording given; %s", REPORT_USAGE);
	int r = report_file(stdout, file, json);
	if (r < 0)
		return cli_fail(EXIT_FAIL, "report: cannot read '%s': %s", file, record_strerror(r));
	return 0;
}
