/* forkexec: a process tree with fork and exec. The parent allocates 10 MiB; a forked child keeps
 * the parent's heap and adds 5 MiB (15 MiB live); a second child execs this program again with
 * "--execd", which allocates 20 MiB in a fresh image. Prints
 * "ready parent=P forked=C1 execd=C2" once all three hold their heap, then holds for SECONDS and
 * waits for the children. All blocks are 1000 bytes.
 * usage: forkexec [SECONDS]    (forkexec --execd FD SECONDS is the exec'd child) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hold.h"

static void fill(long long bytes)
{
	for (long long i = 0; i < bytes / 1000; i++)
		memset(malloc(1000), 3, 1000);
}

int main(int argc, char **argv)
{
	if (argc > 3 && strcmp(argv[1], "--execd") == 0) {
		fill(20LL << 20);
		if (write(atoi(argv[2]), "e", 1) != 1)
			return 1;
		hold(atof(argv[3]));
		return 0;
	}
	const char *secs = argc > 1 ? argv[1] : "30";
	int pfd[2];
	if (pipe(pfd) < 0)
		return 1;
	fill(10LL << 20);
	pid_t c1 = fork();
	if (c1 == 0) {
		fill(5LL << 20);
		if (write(pfd[1], "f", 1) != 1)
			_exit(1);
		hold(atof(secs));
		exit(0);
	}
	pid_t c2 = fork();
	if (c2 == 0) {
		char fd[16];
		snprintf(fd, sizeof(fd), "%d", pfd[1]);
		execl("/proc/self/exe", argv[0], "--execd", fd, secs, (char *)NULL);
		_exit(127);
	}
	char b[2];
	if (read(pfd[0], b, 1) != 1 || read(pfd[0], b + 1, 1) != 1)
		return 1;
	printf("ready parent=%d forked=%d execd=%d\n", (int)getpid(), (int)c1, (int)c2);
	fflush(stdout);
	hold(atof(secs));
	int st1, st2;
	waitpid(c1, &st1, 0);
	waitpid(c2, &st2, 0);
	return WIFEXITED(st1) && WEXITSTATUS(st1) == 0 && WIFEXITED(st2) && WEXITSTATUS(st2) == 0 ? 0 : 1;
}
