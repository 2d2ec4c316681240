/* heap_frag: memory held by the allocator, not a leak. Allocates TOTAL bytes (default 400 MiB) in
 * BLOCK-byte blocks (default 512), frees 15 of every 16, prints "ready live=L total=T" (L: usable
 * bytes still allocated, the array of pointers included), holds.
 * The live heap is then ~1/16 of TOTAL while RSS stays near TOTAL: glibc cannot return pages
 * that still hold one live block in every 16, nor trim a heap whose top is in use.
 * usage: heap_frag [TOTAL [BLOCK [SECONDS]]] */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hold.h"

int main(int argc, char **argv)
{
	long long total = argc > 1 ? atoll(argv[1]) : 400LL << 20;
	long block = argc > 2 ? atol(argv[2]) : 512;
	double seconds = argc > 3 ? atof(argv[3]) : 30;
	long n = (long)(total / block);
	char **v = malloc(sizeof(char *) * (size_t)n);
	for (long i = 0; i < n; i++) {
		v[i] = malloc((size_t)block);
		if (!v[i])
			return 1;
		memset(v[i], 1, (size_t)block);
	}
	long long live = (long long)malloc_usable_size(v);
	for (long i = 0; i < n; i++) {
		if (i % 16 != 15) {
			free(v[i]);
			v[i] = NULL;
		} else {
			live += (long long)malloc_usable_size(v[i]);
		}
	}
	printf("ready live=%lld total=%lld\n", live, (long long)n * block);
	fflush(stdout);
	hold(seconds);
	return 0;
}
