/* heap_idle: a program that frees and then stops calling malloc — the case the heap shim's
 * service thread exists for. Allocates TOTAL bytes (default 64 MiB) in BLOCK-byte blocks
 * (default 500), prints "allocated", waits for one byte (or EOF) on stdin, frees 15 of every 16
 * blocks, prints "ready live=L" (L: the usable bytes still allocated, the pointer array included:
 * the truth a heap reader must find), then, by MODE:
 *   sleep   sleeps (no malloc, no free) for SECONDS
 *   read    blocks in read() on stdin until EOF
 *   stop    stops itself (SIGSTOP); once continued, sleeps for SECONDS
 *   spin    spins on the CPU (no syscall, no malloc) for SECONDS
 *   closefds  closes every fd but 0-2 (a daemon's close-all, the shim's segment fd included)
 *           before it says "ready", then sleeps for SECONDS
 *   bursts  every 300 ms allocates and frees BURST bytes more (default 32 MiB), idle in between,
 *           and after each burst prints "burst N live=L" (L unchanged), SECONDS in all
 * Every line is flushed at once: tests wait for the lines, never for the clock.
 * usage: heap_idle MODE [TOTAL [BLOCK [SECONDS [BURST]]]] */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) != 0)
		;
}

static volatile unsigned long spin_sink;

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "sleep";
	long long total = argc > 2 ? atoll(argv[2]) : 64LL << 20;
	long block = argc > 3 ? atol(argv[3]) : 500;
	double seconds = argc > 4 ? atof(argv[4]) : 30;
	long long burst = argc > 5 ? atoll(argv[5]) : 32LL << 20;
	if (block <= 0 || total < block || seconds < 0)
		return 2;
	long n = (long)(total / block);
	char **v = malloc(sizeof(char *) * (size_t)n);
	if (!v)
		return 3;
	for (long i = 0; i < n; i++) {
		if (!(v[i] = malloc((size_t)block)))
			return 3;
		memset(v[i], 1, (size_t)block);
	}
	printf("allocated\n");
	fflush(stdout);
	char go;
	if (read(0, &go, 1) < 0)
		return 4;
	long long live = (long long)malloc_usable_size(v);
	for (long i = 0; i < n; i++) {
		if (i % 16 != 15) {
			free(v[i]);
			v[i] = NULL;
		} else {
			live += (long long)malloc_usable_size(v[i]);
		}
	}
	if (strcmp(mode, "closefds") == 0)
		for (int fd = 3; fd < 4096; fd++)
			close(fd);
	printf("ready live=%lld\n", live);
	fflush(stdout);
	if (strcmp(mode, "read") == 0) {
		char buf[64];
		while (read(0, buf, sizeof(buf)) > 0)
			;
	} else if (strcmp(mode, "closefds") == 0) {
		sleep_s(seconds);
	} else if (strcmp(mode, "spin") == 0) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);   /* the vDSO: no syscall */
		volatile unsigned long x = 0;
		do {
			for (int i = 0; i < 1000000; i++)
				x += (unsigned long)i;
			clock_gettime(CLOCK_MONOTONIC, &t1);
		} while ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
		spin_sink = x;   /* the loop's work is used (clang: set but not used) */
	} else if (strcmp(mode, "stop") == 0) {
		raise(SIGSTOP);
		sleep_s(seconds);
	} else if (strcmp(mode, "bursts") == 0) {
		long m = (long)(burst / block);
		char **b = malloc(sizeof(char *) * (size_t)m);
		if (!b)
			return 3;
		for (int k = 1; k <= (int)(seconds / 0.3); k++) {
			sleep_s(0.3);
			for (long i = 0; i < m; i++)
				if ((b[i] = malloc((size_t)block)))
					b[i][0] = 1;
			for (long i = 0; i < m; i++)
				free(b[i]);
			printf("burst %d live=%lld\n", k, live + (long long)malloc_usable_size(b));
			fflush(stdout);
		}
		free(b);
	} else {
		sleep_s(seconds);
	}
	return v[15] && v[15][0] == 1 ? 0 : 1;
}
