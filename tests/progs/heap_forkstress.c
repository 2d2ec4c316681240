/* heap_forkstress: fork while other threads are inside malloc, and exit while headroom asks.
 * THREADS threads allocate and free in a loop; the main thread forks FORKS children, each of
 * which allocates, frees and exit()s (atexit handlers, destructors) while the parent's threads
 * keep going. Prints "ready" first, "done forks=N" at the end, then exits through exit() while
 * the threads are still in malloc. A deadlock between the heap shim's service thread and the
 * allocator's locks (at fork, or at exit) shows as a program that never says "done" or never
 * exits. usage: heap_forkstress [THREADS [FORKS]] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *churn(void *arg)
{
	unsigned x = (unsigned)(size_t)arg;
	void *ring[64] = {0};
	for (;;) {
		x = x * 1103515245u + 12345u;
		unsigned i = (x >> 8) % 64;
		free(ring[i]);
		ring[i] = malloc(16 + (x >> 16) % 4000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 2;
	int forks = argc > 2 ? atoi(argv[2]) : 200;
	pthread_t t;
	for (int i = 0; i < threads; i++)
		if (pthread_create(&t, NULL, churn, (void *)(size_t)(i + 1)) != 0)
			return 3;
	printf("ready\n");
	fflush(stdout);
	int done = 0;
	for (int i = 0; i < forks; i++) {
		pid_t pid = fork();
		if (pid < 0)
			return 3;
		if (pid == 0) {
			char *p = malloc(1000);
			if (p)
				memset(p, 1, 1000);
			free(p);
			exit(0);
		}
		int st;
		if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			done++;
	}
	printf("done forks=%d\n", done);
	fflush(stdout);
	exit(0);
}
