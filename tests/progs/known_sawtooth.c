/* known_sawtooth [TOP_MIB=100] [PERIOD_MS=2000] [SECONDS=13]: grows to TOP_MIB in 20 steps over a
 * period, then returns it all at once (munmap), again and again — a collector's sawtooth. */
#include "known_common.h"

int main(int argc, char **argv)
{
	size_t top = (size_t)known_arg(argc, argv, 1, 100) * KMiB;
	long period = known_arg(argc, argv, 2, 2000);
	double seconds = (double)known_arg(argc, argv, 3, 13);
	double t0 = known_now();
	char *steps[20];
	size_t step = top / 20;
	while (known_now() - t0 < seconds) {
		for (int i = 0; i < 20; i++) {
			steps[i] = known_touch(step);
			known_sleep_ms(period / 20);
		}
		for (int i = 0; i < 20; i++)
			munmap(steps[i], step);
	}
	return 0;
}
