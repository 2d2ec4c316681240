/* Shared by the known_* test programs: programs whose memory does one known thing, for the
 * end-to-end tests of the analysis (tests/it_analyze_real.sh). Their phases are timed from the
 * end of their own setup, so a slow machine (a sanitizer build, a busy CI) stretches the setup
 * but not the steady phase the verdict is judged on. */
#ifndef KNOWN_COMMON_H
#define KNOWN_COMMON_H

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define KMiB (1024UL * 1024UL)

static inline void known_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

static inline double known_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Anonymous memory made resident by the kernel at once (MAP_POPULATE: ~0.5 ms per MiB here,
 * several times faster than faulting page by page, and the same under a sanitizer), then written. */
static inline char *known_touch(size_t bytes)
{
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		exit(3);
	for (size_t i = 0; i < bytes; i += 4096)
		p[i] = (char)i | 1;
	return p;
}

static inline long known_arg(int argc, char **argv, int i, long def)
{
	return argc > i ? atol(argv[i]) : def;
}

#endif
