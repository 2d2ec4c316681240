#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analyze.h"
#include "record.h"
#include "verify.h"

int verify_run(const char *self, int64_t limit_bytes, char *const *command, const char *record_path,
	       struct verify_result *ret)
{
	if (!self || !command || !command[0] || !record_path || !ret || limit_bytes <= 0)
		return -EINVAL;
	size_t ncmd = 0;
	while (command[ncmd])
		ncmd++;
	char limit[32];
	snprintf(limit, sizeof(limit), "%lld", (long long)limit_bytes);
	const char *head[] = {self, "run", "--limit", limit, "--interval", "50ms", "--record", record_path, "--quiet", "--"};
	const size_t nhead = sizeof(head) / sizeof(head[0]);
	char **argv = calloc(nhead + ncmd + 1, sizeof(*argv));
	if (!argv)
		return -ENOMEM;
	for (size_t i = 0; i < nhead; i++)
		argv[i] = (char *)head[i];
	for (size_t i = 0; i < ncmd; i++)
		argv[nhead + i] = command[i];

	pid_t pid = fork();
	if (pid < 0) {
		int e = -errno;
		free(argv);
		return e;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (devnull >= 0)
			dup2(devnull, STDOUT_FILENO);
		execv(self, argv);
		_exit(127);
	}
	free(argv);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;

	struct recording *rec;
	struct analysis *a;
	int r = analyze_file(record_path, &rec, &a);
	if (!rec)
		return r;
	if (r == 0 || r == -ENODATA) {
		struct verify_result v = {
			.limit_bytes = limit_bytes,
			.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
			.oom_killed = rec->run.oom_killed || a->cg_oom_kills > 0,
			.limit_hits = a->cg_limit_hits,
			.peak_bytes = a->peak,
			.duration_ns = a->duration_ns,
		};
		for (size_t i = 0; i < rec->nevents; i++)
			if (strcmp(rec->events[i].kind, "oom_kill") == 0)
				v.oom_killed = true;
		*ret = v;
		r = 0;
	}
	analyze_file_free(rec, a);
	return r;
}
