#include "cli.h"

int cmd_run(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_fail(EXIT_FAIL, "'run' is being built");
}
