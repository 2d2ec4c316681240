#include "cli.h"
#include "recording_cmd.h"

int cmd_run(int argc, char **argv)
{
	struct recording_cmd c;
	int first = recording_cmd_parse(&c, argc, argv, true);
	if (first == -2)
		return 0;
	if (first < 0)
		return EXIT_USAGE;
	if (first >= argc)
		return cli_fail(EXIT_USAGE, "run needs a command: headroom run [options] -- COMMAND [ARG...]");
	c.ro.argv = argv + first;
	return recording_cmd_execute(&c);
}
