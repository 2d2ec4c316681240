/* memspike: holds BASE MiB, then every PERIOD ms touches SPIKE MiB more for HOLD ms and frees it.
 * usage: memspike BASE_MIB SPIKE_MIB HOLD_MS PERIOD_MS COUNT
 * Prints the true peak it reached (base + spike + its own small RSS) is not known exactly in
 * advance, so tests compare against VmHWM read by the program itself after each spike.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static long hwm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			v = atol(line + 6);
	if (f)
		fclose(f);
	return v;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: memspike BASE_MIB SPIKE_MIB HOLD_MS PERIOD_MS COUNT\n");
		return 2;
	}
	size_t base = (size_t)atol(argv[1]) << 20, spike = (size_t)atol(argv[2]) << 20;
	long hold = atol(argv[3]), period = atol(argv[4]), count = atol(argv[5]);
	char *b = base ? mmap(NULL, base, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : NULL;
	if (b == MAP_FAILED)
		return 1;
	if (b)
		memset(b, 1, base);
	long max_peak = 0;
	for (long i = 0; i < count; i++) {
		sleep_ms(period);
		char *s = mmap(NULL, spike, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (s == MAP_FAILED)
			return 1;
		memset(s, 2, spike);
		long now = hwm_kb();
		if (now > max_peak)
			max_peak = now;
		sleep_ms(hold);
		munmap(s, spike);
	}
	sleep_ms(period);
	printf("peak_kb %ld\n", max_peak);
	return 0;
}
