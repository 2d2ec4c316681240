/* known_leak [MIB_PER_S=4] [SECONDS=12]: a steady leak — malloc'd, written, never freed, about ten
 * times a second, sized by the time elapsed so the rate holds on a busy machine: RSS and the
 * live heap grow at MIB_PER_S. */
#include "known_common.h"

int main(int argc, char **argv)
{
	double rate = (double)known_arg(argc, argv, 1, 4) * (double)KMiB;
	double seconds = (double)known_arg(argc, argv, 2, 12);
	double t0 = known_now();
	double leaked = 0;
	for (double now = t0; now - t0 < seconds; now = known_now()) {
		size_t step = (size_t)(rate * (now - t0) - leaked);
		if (step >= 4096) {
			char *p = malloc(step);
			if (!p)
				return 3;
			memset(p, 0x5a, step);
			leaked += (double)step;
		}
		known_sleep_ms(100);
	}
	return 0;
}
