/* mapper: a process with many memory mappings of every kind smaps distinguishes, for probe
 * fixtures and for the probe benchmark's "2000 mappings" target.
 *
 *   mapper [--threads N] [--anon N] [--files N] [--shm MiB] [--heap MiB] [--hold-ms MS]
 *
 * Starts N threads (default 8; each has a glibc stack with a guard page and mallocs once, so
 * it gets its own arena), makes --anon one-page anonymous mappings (default 1000) and --files
 * one-page mappings of a temporary file (default 900), alternating read-only and read-write so
 * the kernel cannot merge neighbours (writable ones are touched), maps --shm MiB (default 4)
 * of shared memory from a memfd and touches it, mallocs and touches --heap MiB (default 8) in
 * small blocks (the brk heap), then prints
 *   mapper: ready pid=N maps=M
 * on stdout and holds --hold-ms (default: until killed). The temporary file is unlinked at
 * once, so nothing is left behind.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024UL * 1024UL)

static pthread_barrier_t ready, done;

static void die(const char *what)
{
	fprintf(stderr, "mapper: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: mapper [--threads N] [--anon N] [--files N] [--shm MiB] [--heap MiB] [--hold-ms MS]\n");
	exit(2);
}

static long parse_num(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0)
		usage();
	return v;
}

static void *worker(void *arg)
{
	(void)arg;
	volatile char *p = malloc(64 * 1024);    /* creates this thread's arena */
	if (p)
		memset((char *)p, 1, 64 * 1024);
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&done);             /* never reached: the process exits first */
	free((void *)p);
	return NULL;
}

static long count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return -1;
	long n = 0;
	int c;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	long threads = 8, anon = 1000, files = 900, shm = 4, heap = 8, hold_ms = -1;
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		const char *a = argv[i];
		long v = parse_num(argv[++i]);
		if (!strcmp(a, "--threads"))
			threads = v;
		else if (!strcmp(a, "--anon"))
			anon = v;
		else if (!strcmp(a, "--files"))
			files = v;
		else if (!strcmp(a, "--shm"))
			shm = v;
		else if (!strcmp(a, "--heap"))
			heap = v;
		else if (!strcmp(a, "--hold-ms"))
			hold_ms = v;
		else
			usage();
	}
	long page = sysconf(_SC_PAGESIZE);

	pthread_barrier_init(&ready, NULL, (unsigned)threads + 1);
	pthread_barrier_init(&done, NULL, (unsigned)threads + 1);
	for (long t = 0; t < threads; t++) {
		pthread_t th;
		if (pthread_create(&th, NULL, worker, NULL) != 0)
			die("pthread_create");
		pthread_detach(th);
	}
	pthread_barrier_wait(&ready);

	for (long i = 0; i < anon; i++) {
		int prot = (i & 1) ? PROT_READ : PROT_READ | PROT_WRITE;
		char *p = mmap(NULL, (size_t)page, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap anon");
		if (prot & PROT_WRITE)
			p[0] = 1;
	}

	if (files > 0) {
		char path[] = "/tmp/mapper.XXXXXX";
		int fd = mkostemp(path, O_CLOEXEC);
		if (fd < 0)
			die("mkostemp");
		unlink(path);
		if (ftruncate(fd, (off_t)(files * page)) != 0)
			die("ftruncate");
		for (long i = 0; i < files; i++) {
			int prot = (i & 1) ? PROT_READ : PROT_READ | PROT_WRITE;
			volatile char *p = mmap(NULL, (size_t)page, prot, MAP_PRIVATE, fd, (off_t)(i * page));
			if (p == MAP_FAILED)
				die("mmap file");
			(void)p[0];                      /* page cache, mapped: RssFile */
		}
		close(fd);
	}

	if (shm > 0) {
		int fd = memfd_create("mapper-shm", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, (off_t)(shm * MIB)) != 0)
			die("memfd");
		char *p = mmap(NULL, (size_t)shm * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			die("mmap shm");
		memset(p, 2, (size_t)shm * MIB);
		close(fd);
	}

	for (long i = 0; i < heap * 16; i++) {           /* 64 KiB blocks: below the mmap threshold */
		char *p = malloc(64 * 1024);
		if (!p)
			die("malloc");
		memset(p, 3, 64 * 1024);
	}

	printf("mapper: ready pid=%ld maps=%ld\n", (long)getpid(), count_maps());
	fflush(stdout);
	if (hold_ms < 0) {
		for (;;)
			pause();
	}
	struct timespec ts = { .tv_sec = hold_ms / 1000, .tv_nsec = (hold_ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return 0;
}
