/* toucher: a memory subject with a known shape, for tests that must know the true peak.
 *
 *   toucher [--step-ms MS] [--wait-ms MS] [--spike MiB] [--spike-ms MS] [--hold-ms MS]
 *           [--report] BASE_MiB
 *
 * Maps BASE_MiB of anonymous memory and writes every page (one MiB every --step-ms, default 0),
 * waits --wait-ms, then, with --spike, maps and writes SPIKE MiB more, keeps it --spike-ms and
 * unmaps it, then holds the base --hold-ms and exits 0. With --report it prints, just before
 * exiting, its own VmHWM and VmRSS from /proc/self/status, and the true peak RSS: VmRSS read
 * at the top of the base and of the spike (RSS only grows while pages are touched), as
 *   toucher: peak_rss_bytes=N vmhwm_bytes=N vmrss_bytes=N base_bytes=N spike_bytes=N spike_touch_ms=N
 * so a test can compare a recorded peak with the real one even when a sampler resets VmHWM
 * (headroom writes clear_refs every interval, so VmHWM at exit is only the last interval's
 * peak). spike_touch_ms is how long writing the spike took (the spike's rise, slow under
 * emulation). Under a memory limit too
 * small for BASE it is killed by the OOM killer while touching (exit status 137 to a shell).
 * Each megabyte is written page by page so the RSS grows exactly as the pages are touched;
 * MAP_POPULATE is avoided so the growth is visible to a sampler.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024UL * 1024UL)

static void sleep_ms(long ms)
{
	if (ms <= 0)
		return;
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void usage(void)
{
	fprintf(stderr, "usage: toucher [--step-ms MS] [--wait-ms MS] [--spike MiB] [--spike-ms MS] "
			"[--hold-ms MS] [--report] BASE_MiB\n");
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

/* maps and writes mib MiB, step_ms between megabytes; NULL when the mapping fails */
static char *touch_mib(long mib, long step_ms)
{
	if (mib == 0)
		return NULL;
	char *p = mmap(NULL, (size_t)mib * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "toucher: mmap %ld MiB: %s\n", mib, strerror(errno));
		exit(1);
	}
	long page = sysconf(_SC_PAGESIZE);
	for (long m = 0; m < mib; m++) {
		for (size_t off = 0; off < MIB; off += (size_t)page)
			p[(size_t)m * MIB + off] = (char)(m + 1);
		sleep_ms(step_ms);
	}
	return p;
}

/* VmHWM and VmRSS from /proc/self/status, in bytes (-1 when unreadable) */
static void read_status(long long *hwm, long long *rss)
{
	*hwm = *rss = -1;
	char buf[4096];
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	char *l;
	if ((l = strstr(buf, "\nVmHWM:")))
		*hwm = strtoll(l + 7, NULL, 10) * 1024;
	if ((l = strstr(buf, "\nVmRSS:")))
		*rss = strtoll(l + 7, NULL, 10) * 1024;
}

int main(int argc, char **argv)
{
	long step_ms = 0, wait_ms = 0, spike = 0, spike_ms = 0, hold_ms = 0, base = -1;
	int report = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--report"))
			report = 1;
		else if (i + 1 < argc && !strcmp(a, "--step-ms"))
			step_ms = parse_num(argv[++i]);
		else if (i + 1 < argc && !strcmp(a, "--wait-ms"))
			wait_ms = parse_num(argv[++i]);
		else if (i + 1 < argc && !strcmp(a, "--spike"))
			spike = parse_num(argv[++i]);
		else if (i + 1 < argc && !strcmp(a, "--spike-ms"))
			spike_ms = parse_num(argv[++i]);
		else if (i + 1 < argc && !strcmp(a, "--hold-ms"))
			hold_ms = parse_num(argv[++i]);
		else if (a[0] != '-' && base < 0)
			base = parse_num(a);
		else
			usage();
	}
	if (base < 0)
		usage();

	long long hwm, rss, peak_rss = 0, touch_ms = 0;
	char *b = touch_mib(base, step_ms);
	if (report) {
		read_status(&hwm, &rss);
		peak_rss = rss;
	}
	sleep_ms(wait_ms);
	if (spike > 0) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		char *s = touch_mib(spike, 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (report) {
			read_status(&hwm, &rss);
			if (rss > peak_rss)
				peak_rss = rss;
		}
		sleep_ms(spike_ms);
		munmap(s, (size_t)spike * MIB);
		touch_ms = (t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_nsec - t0.tv_nsec) / 1000000LL;
	}
	sleep_ms(hold_ms);
	if (report) {
		read_status(&hwm, &rss);
		printf("toucher: peak_rss_bytes=%lld vmhwm_bytes=%lld vmrss_bytes=%lld base_bytes=%lld spike_bytes=%lld "
		       "spike_touch_ms=%lld\n",
		       peak_rss, hwm, rss, (long long)base * (long long)MIB, (long long)spike * (long long)MIB, touch_ms);
		fflush(stdout);
	}
	if (b)
		munmap(b, (size_t)base * MIB);
	return 0;
}
