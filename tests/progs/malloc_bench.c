/* malloc_bench: a malloc-heavy benchmark for the heap shim's cost (bench/heap-shim.sh).
 * THREADS threads each run OPS operations over a private ring of 4096 slots: free a random slot
 * and allocate a new block there, sizes mixed (70% 16-128 B, 25% 128 B-4 KiB, 5% 4-64 KiB),
 * one in 16 a realloc. Prints the elapsed seconds, a checksum (so nothing is optimised away) and
 * the CPU seconds of all threads (the figure to compare on a shared machine).
 * usage: malloc_bench [THREADS [OPS]] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING 4096
static long ops = 5000000;

static void *run(void *arg)
{
	uint64_t x = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
	char **ring = calloc(RING, sizeof(char *));
	uint64_t sum = 0;
	for (long i = 0; i < ops; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		unsigned slot = (unsigned)(x % RING);
		unsigned r = (unsigned)(x >> 32) % 100;
		size_t n = r < 70 ? 16 + (x >> 40) % 112 : r < 95 ? 128 + (x >> 40) % 3968 : 4096 + (x >> 40) % 61440;
		if ((x >> 20) % 16 == 0 && ring[slot]) {
			ring[slot] = realloc(ring[slot], n);
		} else {
			free(ring[slot]);
			ring[slot] = malloc(n);
		}
		ring[slot][0] = (char)i;
		sum += (uint64_t)(uintptr_t)ring[slot][0];
	}
	for (unsigned i = 0; i < RING; i++)
		free(ring[i]);
	free(ring);
	return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 1;
	ops = argc > 2 ? atol(argv[2]) : ops;
	pthread_t t[64];
	struct timespec a, b, ca, cb;
	clock_gettime(CLOCK_MONOTONIC, &a);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ca);
	for (int i = 0; i < threads && i < 64; i++)
		pthread_create(&t[i], NULL, run, (void *)(uintptr_t)(i + 1));
	uint64_t sum = 0;
	for (int i = 0; i < threads && i < 64; i++) {
		void *r;
		pthread_join(t[i], &r);
		sum += (uint64_t)(uintptr_t)r;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cb);
	printf("%.4f %llu %.4f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9, (unsigned long long)sum,
	       (cb.tv_sec - ca.tv_sec) + (cb.tv_nsec - ca.tv_nsec) / 1e9);
	return 0;
}
