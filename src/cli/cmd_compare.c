/* headroom compare A B [--json]: two recordings side by side (debug vs release, glibc vs jemalloc). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "cli.h"
#include "record.h"
#include "html.h"
#include "report.h"

#define COMPARE_USAGE "usage: headroom compare FILE_A FILE_B [--json] [--html OUT]"

int cmd_compare(int argc, char **argv)
{
	bool json = false;
	const char *files[2] = {NULL, NULL}, *html = NULL;
	int nfiles = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--html") == 0) {
			if (i + 1 >= argc)
				return cli_fail(EXIT_USAGE, "compare: --html needs a file name (--html compare.html)");
			html = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("%s\n", COMPARE_USAGE);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1])
			return cli_fail(EXIT_USAGE, "compare: unknown option '%s'; %s", argv[i], COMPARE_USAGE);
		else if (nfiles < 2)
			files[nfiles++] = argv[i];
		else
			return cli_fail(EXIT_USAGE, "compare: exactly two recordings, got a third ('%s'); %s", argv[i],
					COMPARE_USAGE);
	}
	if (nfiles != 2)
		return cli_fail(EXIT_USAGE, "compare: needs two recordings; %s", COMPARE_USAGE);

	struct recording *rec[2] = {NULL, NULL};
	struct analysis *a[2] = {NULL, NULL};
	int code = 0;
	for (int i = 0; i < 2 && code == 0; i++) {
		int r = analyze_file(files[i], &rec[i], &a[i]);
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
	}
	for (int i = 0; i < 2; i++)
		analyze_file_free(rec[i], a[i]);
	if (code == 0 && html) {
		int r = html_compare_files(files[0], files[1], html);
		if (r < 0)
			code = cli_fail(EXIT_FAIL, "compare: cannot write '%s': %s", html, record_strerror(r));
		else if (!json)
			printf("wrote %s\n", html);
	}
	return code;
}
