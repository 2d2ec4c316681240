/* sites_leak [SECONDS=14] [LEAK_KIB_PER_S=2048]: one leaking allocation site among three busy
 * ones. The busy sites each keep a working set of 8 MiB in blocks of 64 B - 8 KiB that they free
 * and allocate again all the time (their live bytes stay level); the leaking site allocates
 * LEAK_KIB_PER_S of blocks of 256 B - 4 KiB every second and never frees them. Timed from the
 * end of its setup, "ready" on stdout then. The known truth of the leak-suspect test: the one
 * site that grows is leak_site. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING 2048

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* distinct functions, distinct bodies (no identical-code folding), never inlined */
#define BUSY(name, fill)                                                         \
	static __attribute__((noinline)) void *name(size_t n)                    \
	{                                                                        \
		char *p = malloc(n);                                             \
		if (!p)                                                          \
			exit(3);                                                 \
		p[0] = fill;                                                     \
		__asm__ volatile("" ::"r"(p) : "memory");                        \
		return p;                                                        \
	}
BUSY(busy_parse, 1)
BUSY(busy_buffer, 2)
BUSY(busy_session, 3)

static __attribute__((noinline)) void *leak_site(size_t n)
{
	char *p = malloc(n);
	if (!p)
		exit(3);
	memset(p, 0x4c, n);
	__asm__ volatile("" ::"r"(p) : "memory");
	return p;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 14;
	double leak_rate = (argc > 2 ? atof(argv[2]) : 2048) * 1024;
	void *(*const busy[3])(size_t) = {busy_parse, busy_buffer, busy_session};
	static void *ring[3][RING];
	static size_t size[3][RING];
	for (int s = 0; s < 3; s++)
		for (int i = 0; i < RING; i++) {
			size[s][i] = 64 + next() % 8128;
			ring[s][i] = busy[s](size[s][i]);
		}
	printf("ready\n");
	fflush(stdout);
	double t0 = now_s(), leaked = 0;
	for (double t = t0; t - t0 < seconds; t = now_s()) {
		/* the busy sites: replace 3000 blocks each, same sizes (the working set stays level) */
		for (int k = 0; k < 3000; k++) {
			int s = (int)(next() % 3), i = (int)(next() % RING);
			free(ring[s][i]);
			ring[s][i] = busy[s](size[s][i]);
		}
		while (leaked < leak_rate * (t - t0)) {
			size_t n = 256 + next() % 3841;
			leak_site(n);
			leaked += (double)n;
		}
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return 0;
}
