#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "explain.h"
#include "record.h"

int cmd_explain(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-')
		return cli_fail(EXIT_USAGE, "explain takes one recording: headroom explain FILE");
	struct recording *rec;
	int rc = record_open(argv[1], explain_columns, &rec);
	if (rc < 0)
		return cli_fail(EXIT_FAIL, "cannot read the recording '%s': %s", argv[1], record_strerror(rc));
	struct explain e;
	rc = explain_compute(rec, &e);
	if (rc < 0) {
		recording_free(rec);
		return cli_fail(EXIT_FAIL, "the recording '%s' lacks the columns explain needs", argv[1]);
	}
	explain_print(&e, rec, stdout);
	recording_free(rec);
	return 0;
}
