/* known_spikes [BASE_MIB=30] [SPIKE_MIB=12] [SECONDS=16]: a flat base with a short spike every
 * second — SPIKE_MIB made resident at once (MAP_POPULATE) and returned: 5 to 10 ms here (the
 * longest is printed on stderr). Only exact interval peaks (VmHWM reset every interval) see them. */
#include <stdio.h>

#include "known_common.h"

int main(int argc, char **argv)
{
	size_t base = (size_t)known_arg(argc, argv, 1, 30) * KMiB;
	size_t spike = (size_t)known_arg(argc, argv, 2, 12) * KMiB;
	double seconds = (double)known_arg(argc, argv, 3, 16);
	char *keep = known_touch(base);
	double t0 = known_now();
	double longest = 0;
	while (known_now() - t0 < seconds) {
		known_sleep_ms(1000);
		double s0 = known_now();
		char *p = mmap(NULL, spike, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (p == MAP_FAILED)
			return 3;
		munmap(p, spike);
		double len = known_now() - s0;
		if (len > longest)
			longest = len;
	}
	fprintf(stderr, "known_spikes: longest spike %.1f ms\n", longest * 1000);
	munmap(keep, base);
	return 0;
}
