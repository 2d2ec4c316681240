#include "cli.h"
#include "recording_cmd.h"

int cmd_attach(int argc, char **argv)
{
	struct recording_cmd c;
	int first = recording_cmd_parse(&c, argc, argv, false);
	if (first == -2)
		return 0;
	if (first < 0)
		return EXIT_USAGE;
	if (first < argc)
		return cli_fail(EXIT_USAGE, "attach takes no command ('%s'): use --pid PID or --cgroup PATH", argv[first]);
	if ((c.ro.attach_pid > 0) == (c.ro.attach_cgroup != NULL))
		return cli_fail(EXIT_USAGE, "attach needs exactly one of --pid PID or --cgroup PATH");
	return recording_cmd_execute(&c);
}
