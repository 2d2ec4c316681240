/* known_startup [STARTUP_MIB=300] [STEADY_MIB=80] [SECONDS=12]: a startup peak, then a flat level.
 * Touches STARTUP_MIB for half a second (a cache warm-up, a config parse), gives it back, then
 * holds STEADY_MIB for SECONDS. */
#include "known_common.h"

int main(int argc, char **argv)
{
	size_t startup = (size_t)known_arg(argc, argv, 1, 300) * KMiB;
	size_t steady = (size_t)known_arg(argc, argv, 2, 80) * KMiB;
	double seconds = (double)known_arg(argc, argv, 3, 12);
	char *warm = known_touch(startup);
	known_sleep_ms(500);
	munmap(warm, startup);
	char *keep = known_touch(steady);
	double t0 = known_now();
	while (known_now() - t0 < seconds)
		known_sleep_ms(50);
	munmap(keep, steady);
	return 0;
}
