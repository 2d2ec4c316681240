#include "cli.h"

int cmd_attach(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_fail(EXIT_FAIL, "'attach' is being built");
}
