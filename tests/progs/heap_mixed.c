/* heap_mixed: glibc holding freed arena memory and large mmapped blocks at the same time — the
 * state where "what the allocator holds" goes wrong if the mmapped blocks are left out of what it
 * took from the system (issue 20). The mmap threshold is fixed with mallopt first (which also
 * stops glibc from raising it as mmapped blocks are freed), so which blocks are mmapped is known.
 *
 * Allocates SMALL bytes in 512-byte blocks, frees 15 of every 16 (the arena keeps those pages:
 * every 16th block is still live in them, and a live block stays on top), then allocates NBIG
 * blocks of BIG bytes, which are mmapped, touches everything and prints one line:
 *   ready live=L freed=F mmapped=M
 * L: usable bytes live (the small ones left, the array of pointers, the big blocks), F: usable
 * bytes of the small blocks freed, M: bytes of the big blocks' mappings (usable size plus glibc's
 * 16-byte chunk header, page-rounded), then holds (SECONDS, <= 0 until killed).
 * usage: heap_mixed [SMALL [NBIG [BIG [SECONDS]]]] */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hold.h"

#define THRESHOLD (1 << 20)

int main(int argc, char **argv)
{
	long long small = argc > 1 ? atoll(argv[1]) : 32LL << 20;
	long nbig = argc > 2 ? atol(argv[2]) : 12;
	long long big = argc > 3 ? atoll(argv[3]) : 4LL << 20;
	double seconds = argc > 4 ? atof(argv[4]) : 30;
	const long block = 512;
	if (small <= 0 || nbig <= 0 || nbig > 1024 || big <= THRESHOLD)
		return 2;
	if (mallopt(M_MMAP_THRESHOLD, THRESHOLD) != 1)
		return 3;
	long n = (long)(small / block);
	char **v = malloc(sizeof(char *) * (size_t)n);   /* below the threshold: in the arena */
	char *b[1024];
	if (!v)
		return 1;
	for (long i = 0; i < n; i++) {
		v[i] = malloc((size_t)block);
		if (!v[i])
			return 1;
		memset(v[i], 1, (size_t)block);
	}
	long long live = (long long)malloc_usable_size(v), freed = 0;
	for (long i = 0; i < n; i++) {
		if (i % 16 != 15) {
			freed += (long long)malloc_usable_size(v[i]);
			free(v[i]);
			v[i] = NULL;
		} else {
			live += (long long)malloc_usable_size(v[i]);
		}
	}
	long long mapped = 0;
	long page = sysconf(_SC_PAGESIZE);
	for (long i = 0; i < nbig; i++) {
		b[i] = malloc((size_t)big);
		if (!b[i])
			return 1;
		memset(b[i], 2, (size_t)big);
		long long u = (long long)malloc_usable_size(b[i]);
		live += u;
		mapped += (u + 16 + page - 1) / page * page;
	}
	printf("ready live=%lld freed=%lld mmapped=%lld\n", live, freed, mapped);
	fflush(stdout);
	hold(seconds);
	return 0;
}
