/* memgrow: touches STEP_MIB every STEP_MS until TOTAL_MIB, then holds for HOLD_MS and exits 0.
 * usage: memgrow TOTAL_MIB STEP_MIB STEP_MS HOLD_MS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: memgrow TOTAL_MIB STEP_MIB STEP_MS HOLD_MS\n");
		return 2;
	}
	long total = atol(argv[1]), step = atol(argv[2]), step_ms = atol(argv[3]), hold = atol(argv[4]);
	struct timespec ts = {step_ms / 1000, (step_ms % 1000) * 1000000L};
	for (long have = 0; have < total; have += step) {
		char *p = malloc((size_t)step << 20);
		if (!p)
			return 1;
		memset(p, 1, (size_t)step << 20);
		nanosleep(&ts, NULL);
	}
	struct timespec h = {hold / 1000, (hold % 1000) * 1000000L};
	nanosleep(&h, NULL);
	return 0;
}
