/* stacks16: a known amount of thread stack. THREADS threads (default 16) each touch BYTES of
 * their own stack (default 1 MiB), then all sleep; prints "ready threads=T bytes=B" once every
 * thread has touched its stack, and exits after SECONDS (0: until killed).
 * usage: stacks16 [THREADS [BYTES [SECONDS]]] */
#include <alloca.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long bytes = 1 << 20;
static pthread_barrier_t touched;

static void *touch(void *arg)
{
	volatile char *p = alloca((size_t)bytes);
	for (long i = 0; i < bytes; i += 4096)
		p[i] = 1;
	p[bytes - 1] = 1;
	pthread_barrier_wait(&touched);
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 16;
	bytes = argc > 2 ? atol(argv[2]) : 1 << 20;
	int seconds = argc > 3 ? atoi(argv[3]) : 30;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, (size_t)bytes + (1 << 20));   /* room for the touch and the calls */
	pthread_barrier_init(&touched, NULL, (unsigned)threads + 1);
	for (int i = 0; i < threads; i++) {
		pthread_t t;
		if (pthread_create(&t, &a, touch, NULL) != 0)
			return 1;
	}
	pthread_barrier_wait(&touched);
	printf("ready threads=%d bytes=%ld\n", threads, bytes);
	fflush(stdout);
	if (seconds <= 0)
		for (;;)
			pause();
	sleep((unsigned)seconds);
	return 0;
}
