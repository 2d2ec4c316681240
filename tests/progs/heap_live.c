/* heap_live: a known live heap. Allocates BYTES in BLOCK-byte blocks (default 100 MiB in 1000-byte
 * blocks), prints "ready requested=R usable=U", then holds for SECONDS (0: until killed).
 * With SPIKE > 0 it also allocates and frees SPIKE more bytes (in 64 KiB blocks) every 100 ms,
 * a short peak that only a per-interval peak sees.
 * usage: heap_live [BYTES [BLOCK [SECONDS [SPIKE]]]] */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hold.h"

int main(int argc, char **argv)
{
	long long bytes = argc > 1 ? atoll(argv[1]) : 100LL << 20;
	long block = argc > 2 ? atol(argv[2]) : 1000;
	double seconds = argc > 3 ? atof(argv[3]) : 30;
	long long spike = argc > 4 ? atoll(argv[4]) : 0;
	long n = (long)(bytes / block);
	char **v = malloc(sizeof(char *) * (size_t)n);
	long long usable = malloc_usable_size(v);
	for (long i = 0; i < n; i++) {
		v[i] = malloc((size_t)block);
		if (!v[i])
			return 1;
		memset(v[i], 1, (size_t)block);
		usable += (long long)malloc_usable_size(v[i]);
	}
	printf("ready requested=%lld usable=%lld\n", (long long)n * block, usable);
	fflush(stdout);
	if (spike <= 0) {
		hold(seconds);
		return 0;
	}
	long nb = (long)(spike / 65536);
	char **s = malloc(sizeof(char *) * (size_t)nb);
	struct timespec ts = {0, 100 * 1000 * 1000}, t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (long i = 0; i < nb; i++) {
			s[i] = malloc(65536);
			s[i][0] = 1;
		}
		for (long i = 0; i < nb; i++)
			free(s[i]);
		nanosleep(&ts, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while (seconds <= 0 || (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
	return 0;
}
