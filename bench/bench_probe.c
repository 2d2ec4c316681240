/* bench_probe: CPU cost per sample of headroom's probes, against the ways a tool could read the
 * same figures (open+read+close each time, libproc2 from procps), on a small target and on one
 * with ~2000 mappings. Prints one table; numbers are CPU microseconds of this process per call
 * (reads of /proc are system time of the reader, so process CPU time is the honest measure).
 * usage: bench_probe [ITERATIONS]
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_LIBPROC2
#include <libproc2/pids.h>
#endif

#include "cgroup.h"
#include "probe.h"
#include "util.h"

static double cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static pid_t spawn_target(int mappings, int pfd)
{
	pid_t pid = fork();
	if (pid == 0) {
		/* alternate protections so neighbouring mappings cannot merge */
		for (int i = 0; i < mappings; i++) {
			char *p = mmap(NULL, 8192, i % 2 ? PROT_READ : PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p != MAP_FAILED && !(i % 2))
				p[0] = 1;
		}
		char c = 1;
		if (write(pfd, &c, 1) < 0)
			_exit(1);
		pause();
		_exit(0);
	}
	char c;
	if (read(pfd - 1, &c, 1) < 0) /* pfd-1 is the read end by construction below */
		return -1;
	return pid;
}

static int count_maps(pid_t pid)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "r");
	int n = 0;
	while (f && fgets(buf, sizeof(buf), f))
		n++;
	if (f)
		fclose(f);
	return n;
}

#define BENCH(label, iters, body)                                                                \
	do {                                                                                     \
		double t0 = cpu_us();                                                            \
		for (long it_ = 0; it_ < (iters); it_++) {                                       \
			body;                                                                    \
		}                                                                                \
		printf("  %-46s %8.2f us\n", label, (cpu_us() - t0) / (iters));                \
	} while (0)

static void bench_target(const char *name, pid_t pid, const struct cgroup_run *cg, long iters)
{
	printf("%s (pid %d, %d mappings)\n", name, (int)pid, count_maps(pid));
	struct proc_handle h;
	if (probe_proc_open(&h, "/proc", pid) < 0) {
		printf("  cannot open\n");
		return;
	}
	struct cgroup_handle c;
	int have_cg = cg && probe_cgroup_open(&c, cg->path) == 0;
	struct proc_status st;
	struct cgroup_stats cs;
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);

	BENCH("per-interval set: status+clear_refs+cgroup", iters, {
		probe_proc_read_status(&h, &st);
		probe_proc_reset_hwm(&h);
		if (have_cg) {
			probe_cgroup_read(&c, false, &cs);
			probe_cgroup_reset_peak(&c);
		}
	});
	BENCH("status, kept fd (pread)", iters, probe_proc_read_status(&h, &st));
	BENCH("status, open+read+close each time", iters, util_read_file(path, buf, sizeof(buf)));
	BENCH("clear_refs write (VmHWM reset)", iters, probe_proc_reset_hwm(&h));
	if (have_cg) {
		BENCH("cgroup usage+peak, kept fds", iters, probe_cgroup_read(&c, false, &cs));
		BENCH("cgroup full (+memory.stat, oom_control)", iters / 4, probe_cgroup_read(&c, true, &cs));
	}
#ifdef HAVE_LIBPROC2
	{
		struct pids_info *info = NULL;
		enum pids_item items[] = {PIDS_VM_RSS, PIDS_VM_RSS_ANON, PIDS_VM_RSS_FILE, PIDS_VM_RSS_SHARED};
		if (procps_pids_new(&info, items, 4) == 0) {
			unsigned pids[1] = {(unsigned)pid};
			BENCH("libproc2 select pid (VmRSS, RssAnon/File/Shmem)", iters,
			      procps_pids_select(info, pids, 1, PIDS_SELECT_PID));
			procps_pids_unref(&info);
		}
	}
#endif
	struct proc_rollup r;
	BENCH("smaps_rollup, kept fd", iters / 10, probe_proc_read_rollup(&h, &r));
	struct smaps_breakdown b;
	BENCH("smaps classified (streamed)", iters / 100 + 1, probe_proc_read_smaps(&h, &b));
	if (have_cg)
		probe_cgroup_close(&c);
	probe_proc_close(&h);
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 20000;
	struct cgroup_run cg;
	char why[256];
	int have_cg = cgroup_create(&cg, 0, why, sizeof(why)) == 0;
	if (!have_cg)
		printf("(no cgroup: %s)\n", why);
	int p[2];
	pid_t small, big;
	if (pipe(p) < 0)
		return 1;
	/* read end must be p[1]-1 for spawn_target's shortcut */
	if (p[0] != p[1] - 1)
		return 1;
	small = spawn_target(0, p[1]);
	big = spawn_target(2000, p[1]);
	if (have_cg) {
		cgroup_enter(&cg, small);
		cgroup_enter(&cg, big);
	}
	bench_target("small target", small, have_cg ? &cg : NULL, iters);
	bench_target("2000-mapping target", big, have_cg ? &cg : NULL, iters);
	kill(small, SIGKILL);
	kill(big, SIGKILL);
	waitpid(small, NULL, 0);
	waitpid(big, NULL, 0);
	if (have_cg)
		cgroup_remove(&cg);
	return 0;
}
