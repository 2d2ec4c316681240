/* Three allocation sites holding 60, 30 and 10 MiB (tests/it_sites_pprof.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MiB (1024 * 1024)

__attribute__((noinline)) static void *hold_big(size_t n)
{
	void *p = malloc(n);
	if (p)
		memset(p, 1, n);
	return p;
}

__attribute__((noinline)) static void *hold_mid(size_t n)
{
	void *p = malloc(n);
	if (p)
		memset(p, 2, n);
	return p;
}

__attribute__((noinline)) static void *hold_small(size_t n)
{
	void *p = malloc(n);
	if (p)
		memset(p, 3, n);
	return p;
}

int main(void)
{
	void *held[100];
	int n = 0;
	for (int i = 0; i < 60; i++)
		held[n++] = hold_big(MiB);
	for (int i = 0; i < 30; i++)
		held[n++] = hold_mid(MiB);
	for (int i = 0; i < 10; i++)
		held[n++] = hold_small(MiB);
	printf("ready\n");
	fflush(stdout);
	while (getchar() != EOF)
		;
	for (int i = 0; i < n; i++)
		free(held[i]);
	return 0;
}
