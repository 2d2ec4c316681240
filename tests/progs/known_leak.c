/* known_leak [MIB_PER_S=4] [SECONDS=12]: a steady leak — malloc'd, written, never freed, ten
 * times a second, so both RSS and the live heap grow at MIB_PER_S. */
#include "known_common.h"

int main(int argc, char **argv)
{
	size_t step = (size_t)known_arg(argc, argv, 1, 4) * KMiB / 10;
	double seconds = (double)known_arg(argc, argv, 2, 12);
	double t0 = known_now();
	while (known_now() - t0 < seconds) {
		char *p = malloc(step);
		if (!p)
			return 3;
		memset(p, 0x5a, step);
		known_sleep_ms(100);
	}
	return 0;
}
