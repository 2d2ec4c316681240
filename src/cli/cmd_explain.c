#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "explain.h"
#include "record.h"

int cmd_explain(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-')
		return cli_fail(EXIT_USAGE, "explain takes one recording: headroom explain FILE");
	int rc = explain_file(stdout, argv[1]);
	if (rc == -EIO)
		return cli_fail(EXIT_FAIL, "cannot write the explanation: %s", strerror(EIO));
	if (rc < 0)
		return cli_fail(EXIT_FAIL, "cannot read the recording '%s': %s", argv[1], record_strerror(rc));
	return 0;
}
