/* sites_three [HOLD_S=4]: three allocation sites holding 60, 30 and 10 MiB (requested bytes),
 * each half in small blocks (16 B - 1 KiB) and half in large ones (64 KiB - 1 MiB), allocated
 * interleaved; then "ready" on stdout, held HOLD_S seconds, and an exit without freeing. The
 * known truth of the sites-mode tests: shares 60/30/10. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hold.h"

#define MiB (1024UL * 1024UL)

/* one function per site: distinct return addresses, never inlined nor tail-called, bodies that
 * differ (a fill byte) so that no identical-code folding merges them */
#define SITE(name, fill)                                                        \
	static __attribute__((noinline)) void *name(size_t n)                   \
	{                                                                       \
		void *p = malloc(n);                                            \
		if (!p)                                                         \
			exit(3);                                                \
		memset(p, fill, n < 4096 ? n : 4096);                            \
		__asm__ volatile("" ::"r"(p) : "memory");                       \
		return p;                                                       \
	}
SITE(site_sixty, 0x60)
SITE(site_thirty, 0x30)
SITE(site_ten, 0x10)

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* the next block of site s: small ones until half its bytes are there, large ones for the other
 * half, interleaved; 0 when it holds its target */
static size_t next_size(int s, const size_t *target, size_t *small, size_t *large, int *turn)
{
	size_t half = target[s] / 2;
	bool want_small = small[s] < half && (large[s] >= half || turn[s]++ % 65 != 0);
	if (want_small) {
		size_t n = 16 + next() % 1009;
		n = small[s] + n > half ? half - small[s] : n;
		small[s] += n;
		return n;
	}
	if (large[s] < half) {
		size_t n = 64 * 1024 + next() % (960 * 1024);
		n = large[s] + n > half ? half - large[s] : n;
		large[s] += n;
		return n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	double hold_s = argc > 1 ? atof(argv[1]) : 4;
	void *(*const fn[3])(size_t) = {site_sixty, site_thirty, site_ten};
	const size_t target[3] = {60 * MiB, 30 * MiB, 10 * MiB};
	size_t small[3] = {0}, large[3] = {0};
	int turn[3] = {0};
	for (bool busy = true; busy;) {
		busy = false;
		/* rounds of 6 + 3 + 1 blocks: the sites fill up together */
		for (int k = 0; k < 10; k++) {
			int s = k < 6 ? 0 : k < 9 ? 1 : 2;
			size_t n = next_size(s, target, small, large, turn);
			if (n) {
				fn[s](n);   /* the one call of each site: one stack per site */
				busy = true;
			}
		}
	}
	printf("ready %zu %zu %zu\n", small[0] + large[0], small[1] + large[1], small[2] + large[2]);
	fflush(stdout);
	hold(hold_s);
	return 0;
}
