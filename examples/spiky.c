/* spiky: a stand-in service for the demo. It loads a 200 MiB "index" at startup and drops it
 * (the startup peak), then serves with about 40 MiB steady and a 300 MiB burst lasting 5 ms
 * every 3 seconds (the kind of spike a 15 s dashboard never shows).
 * usage: spiky [SECONDS]   (default 20) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static void *touch(size_t mib)
{
	char *p = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	memset(p, 1, mib << 20);
	return p;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	long seconds = argc > 1 ? atol(argv[1]) : 20;
	void *index = touch(200); /* startup: build an index, keep the compact form */
	sleep_ms(1500);
	munmap(index, 200 << 20);
	void *steady = touch(40);
	for (long ms = 0; ms < seconds * 1000; ms += 3000) {
		sleep_ms(3000);
		void *burst = touch(300);
		sleep_ms(5);
		munmap(burst, 300 << 20);
	}
	munmap(steady, 40 << 20);
	return 0;
}
