/* known_frag [MIB=200] [SECONDS=12]: fragmentation that holds RSS — MIB of 4000-byte blocks from
 * the main heap, then every block freed except one in 32. Each kept block pins its page and the
 * top of the heap, so glibc can give nothing back: RSS stays at ~MIB while the live heap is
 * ~MIB/32. Stable, and not a leak; held for SECONDS after the setup. */
#include "known_common.h"

int main(int argc, char **argv)
{
	size_t total = (size_t)known_arg(argc, argv, 1, 200) * KMiB;
	double seconds = (double)known_arg(argc, argv, 2, 12);
	size_t n = total / 4000;
	char **blocks = malloc(n * sizeof(*blocks));
	if (!blocks)
		return 3;
	for (size_t i = 0; i < n; i++) {
		blocks[i] = malloc(4000);
		if (!blocks[i])
			return 3;
		memset(blocks[i], 0x11, 4000);
	}
	for (size_t i = 0; i < n; i++)
		if (i % 32 != 31 && i != n - 1) {
			free(blocks[i]);
			blocks[i] = NULL;
		}
	/* idle: no malloc or free from here on (the heap must be measured as it is) */
	known_sleep_ms((long)(seconds * 1000));
	return blocks[n - 1][0] == 0x11 ? 0 : 1;
}
