/* heap_threads: exact counting across threads that exit, cross-thread frees, realloc and every
 * allocation function. THREADS threads (default 8) each allocate BLOCKS blocks of mixed sizes
 * with malloc/calloc/realloc/reallocarray/posix_memalign/aligned_alloc/memalign/valloc, grow
 * half of them with realloc, free every third, hand the rest to main and exit; main frees every
 * second of those (blocks another thread allocated). Prints "ready usable=U blocks=B" (the
 * truth, from malloc_usable_size) and holds.
 * usage: heap_threads [THREADS [BLOCKS [SECONDS]]] */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hold.h"

static long nblocks = 20000;

static void *work(void *arg)
{
	unsigned seed = (unsigned)(size_t)arg * 2654435761u + 1;
	void **v = calloc((size_t)nblocks, sizeof(void *));
	for (long i = 0; i < nblocks; i++) {
		seed = seed * 1103515245u + 12345u;
		size_t n = 16 + (seed >> 8) % 3000;
		void *p = NULL;
		switch (i % 8) {
		case 0: p = malloc(n); break;
		case 1: p = calloc(1, n); break;
		case 2: p = realloc(NULL, n); break;
		case 3: p = reallocarray(NULL, n, 2); break;
		case 4: if (posix_memalign(&p, 64, n)) p = NULL; break;
		case 5: p = aligned_alloc(256, (n + 255) & ~(size_t)255); break;
		case 6: p = memalign(32, n); break;
		case 7: p = valloc(n); break;
		}
		if (!p)
			abort();
		memset(p, 2, n);
		if (i % 2 == 0) {
			p = realloc(p, n * 3);
			if (!p)
				abort();
		}
		v[i] = p;
	}
	for (long i = 0; i < nblocks; i += 3) {
		free(v[i]);
		v[i] = NULL;
	}
	return v;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 8;
	nblocks = argc > 2 ? atol(argv[2]) : 20000;
	double seconds = argc > 3 ? atof(argv[3]) : 30;
	pthread_t t[256];
	void **got[256];
	if (threads > 256)
		threads = 256;
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, work, (void *)(size_t)(i + 1));
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], (void **)&got[i]);
	long long usable = 0, blocks = 0;
	for (int i = 0; i < threads; i++) {
		int k = 0;
		for (long j = 0; j < nblocks; j++) {
			if (!got[i][j])
				continue;
			if (k++ % 2) {
				free(got[i][j]);
				got[i][j] = NULL;
			} else {
				usable += (long long)malloc_usable_size(got[i][j]);
				blocks++;
			}
		}
		usable += (long long)malloc_usable_size(got[i]);
		blocks++;
	}
	printf("ready usable=%lld blocks=%lld\n", usable, blocks);
	fflush(stdout);
	hold(seconds);
	return 0;
}
