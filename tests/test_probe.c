/* probe: parsers on text captured from this machine's kernel (6.18) and the readers on live processes. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "probe.h"

/* /proc/self/status of cat(1) on Linux 6.18, trimmed to the lines around the ones we read */
static const char status_text[] =
	"Name:\tcat\nUmask:\t0022\nState:\tR (running)\nTgid:\t2301\nPid:\t2301\nPPid:\t2228\n"
	"VmPeak:\t    5492 kB\nVmSize:\t    5492 kB\nVmLck:\t       0 kB\nVmPin:\t       0 kB\n"
	"VmHWM:\t    1792 kB\nVmRSS:\t    1696 kB\nRssAnon:\t     112 kB\nRssFile:\t    1584 kB\n"
	"RssShmem:\t       0 kB\nVmData:\t     360 kB\nVmStk:\t     132 kB\nVmExe:\t      20 kB\n"
	"VmLib:\t    1568 kB\nVmPTE:\t      48 kB\nVmSwap:\t       0 kB\nHugetlbPages:\t       0 kB\n"
	"CoreDumping:\t0\nTHP_enabled:\t1\nThreads:\t1\nSigQ:\t0/96191\n";

static void parse_status(void **state)
{
	(void)state;
	struct proc_status s;
	assert_int_equal(probe_parse_status(status_text, &s), 0);
	assert_int_equal(s.rss, 1696 * 1024);
	assert_int_equal(s.hwm, 1792 * 1024);
	assert_int_equal(s.rss_anon, 112 * 1024);
	assert_int_equal(s.rss_file, 1584 * 1024);
	assert_int_equal(s.rss_shmem, 0);
	assert_int_equal(s.swap, 0);
	assert_int_equal(s.threads, 1);
	assert_int_equal(s.rss, s.rss_anon + s.rss_file + s.rss_shmem);
	/* a zombie's status has no Vm lines and no Threads we can use */
	assert_int_equal(probe_parse_status("Name:\tx\nState:\tZ (zombie)\n", &s), -EINVAL);
}

static void parse_rollup(void **state)
{
	(void)state;
	const char text[] = "55e3d2fad000-7ffcf42d0000 ---p 00000000 00:00 0                          [rollup]\n"
			    "Rss:                1696 kB\nPss:                 629 kB\nPss_Dirty:           112 kB\n"
			    "Pss_Anon:            112 kB\nAnonymous:           112 kB\nSwap:                  0 kB\n";
	struct proc_rollup r;
	assert_int_equal(probe_parse_rollup(text, &r), 0);
	assert_int_equal(r.rss, 1696 * 1024);
	assert_int_equal(r.pss, 629 * 1024);
	assert_int_equal(r.anonymous, 112 * 1024);
}

/* smaps as this kernel prints it: a thread stack above its guard page, an arena, libc, a file */
static const char smaps_text[] =
	"55d0c0a00000-55d0c0a02000 r--p 00000000 fe:00 1234   /usr/bin/svc\n"
	"Size:                  8 kB\nRss:                   8 kB\nPss:                   8 kB\n"
	"55d0c0a02000-55d0c0a08000 r-xp 00002000 fe:00 1234   /usr/bin/svc\n"
	"Rss:                  24 kB\n"
	"55d0c1000000-55d0c1400000 rw-p 00000000 00:00 0      [heap]\n"
	"Rss:                4096 kB\nAnonymous:          4096 kB\n"
	"7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n"
	"Rss:                 132 kB\n"
	"7f0000021000-7f0004000000 ---p 00000000 00:00 0 \n"
	"Rss:                   0 kB\n"
	"7f1000000000-7f1000001000 ---p 00000000 00:00 0 \n"
	"Rss:                   0 kB\n"
	"7f1000001000-7f1000801000 rw-p 00000000 00:00 0 \n"
	"Rss:                1028 kB\n"
	"7f2000000000-7f2000028000 r--p 00000000 fe:00 77     /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"Rss:                 160 kB\n"
	"7f2000028000-7f200019d000 r-xp 00028000 fe:00 77     /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"Rss:                 900 kB\n"
	"7f3000000000-7f3000100000 r--p 00000000 fe:00 99     /var/lib/svc/data.bin\n"
	"Rss:                 512 kB\n"
	"7f4000000000-7f4000100000 rw-s 00000000 00:01 5      /dev/shm/headroom-1\n"
	"Rss:                  64 kB\n"
	"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0      [stack]\n"
	"Rss:                  40 kB\n"
	"7ffd00100000-7ffd00102000 r-xp 00000000 00:00 0      [vdso]\n"
	"Rss:                   4 kB\n"
	"VmFlags: rd ex mr mw me de sd\n";

static void smaps_classes(void **state)
{
	(void)state;
	struct smaps_parser p;
	struct smaps_breakdown b;
	probe_smaps_begin(&p, "/usr/bin/svc");
	probe_smaps_feed(&p, smaps_text, strlen(smaps_text));
	probe_smaps_end(&p, &b);
	assert_int_equal(b.nmaps, 13);
	assert_int_equal(b.code, (8 + 24 + 160 + 900) * 1024);
	assert_int_equal(b.anon, (4096 + 132) * 1024);   /* [heap] and the arena; not the stack */
	assert_int_equal(b.stacks, (1028 + 40) * 1024);  /* above a guard page, and [stack] */
	assert_int_equal(b.files, 512 * 1024);
	assert_int_equal(b.shmem, 64 * 1024);
	assert_int_equal(b.other, 4 * 1024);

	/* the same text fed one byte at a time gives the same answer */
	struct smaps_breakdown b2;
	probe_smaps_begin(&p, "/usr/bin/svc");
	for (size_t i = 0; i < strlen(smaps_text); i++)
		probe_smaps_feed(&p, smaps_text + i, 1);
	probe_smaps_end(&p, &b2);
	assert_memory_equal(&b, &b2, sizeof(b));
}

static void cgroup_parsers(void **state)
{
	(void)state;
	struct cgroup_stats cs;
	memset(&cs, 0xff, sizeof(cs));
	const char v1stat[] = "cache 1000\nrss 2000\nshmem 0\ninactive_file 10\nactive_file 20\n"
			      "total_cache 4096\ntotal_rss 8192\ntotal_shmem 0\ntotal_inactive_file 1024\n"
			      "total_active_file 3072\n";
	assert_int_equal(probe_parse_cgroup_stat(v1stat, 1, &cs), 0);
	assert_int_equal(cs.inactive_file, 1024); /* hierarchical, not the local 10 */
	assert_int_equal(cs.anon, 8192);
	const char v2stat[] = "anon 5000\nfile 7000\nkernel 100\nshmem 0\nactive_anon 1\ninactive_anon 2\n"
			      "active_file 3000\ninactive_file 4000\n";
	assert_int_equal(probe_parse_cgroup_stat(v2stat, 2, &cs), 0);
	assert_int_equal(cs.inactive_file, 4000);
	assert_int_equal(cs.anon, 5000);
	assert_int_equal(probe_parse_cgroup_events("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n", &cs), 0);
	assert_int_equal(cs.oom_kills, 1);
	assert_int_equal(cs.limit_hits, 12);
	assert_int_equal(probe_parse_oom_control("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", &cs), 0);
	assert_int_equal(cs.oom_kills, 3);
	assert_int_equal(probe_parse_limit("max\n"), HR_UNKNOWN);
	assert_int_equal(probe_parse_limit("9223372036854771712\n"), HR_UNKNOWN);
	assert_int_equal(probe_parse_limit("268435456\n"), 268435456);
	assert_int_equal(probe_parse_pressure("some avg10=1.50 avg60=0.00 avg300=0.00 total=10\n"
					      "full avg10=0.25 avg60=0.00 avg300=0.00 total=5\n", &cs), 0);
	assert_true(cs.psi_some_avg10 > 1.49 && cs.psi_some_avg10 < 1.51);
}

/* 16 threads each touching 1 MiB of its stack, seen by the reader as stacks */
static pthread_barrier_t touched, done;

static void *toucher(void *arg)
{
	(void)arg;
	volatile char buf[1 << 20];
	for (size_t i = 0; i < sizeof(buf); i += 4096)
		buf[i] = 1;
	pthread_barrier_wait(&touched);
	pthread_barrier_wait(&done);
	return NULL;
}

static void live_self_stacks(void **state)
{
	(void)state;
	struct proc_handle h;
	assert_int_equal(probe_proc_open(&h, "/proc", getpid()), 0);
	struct smaps_breakdown before, after;
	assert_int_equal(probe_proc_read_smaps(&h, &before), 0);
	pthread_barrier_init(&touched, NULL, 17);
	pthread_barrier_init(&done, NULL, 17);
	pthread_t t[16];
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 4 << 20);
	for (int i = 0; i < 16; i++)
		assert_int_equal(pthread_create(&t[i], &attr, toucher, NULL), 0);
	pthread_barrier_wait(&touched);
	assert_int_equal(probe_proc_read_smaps(&h, &after), 0);
	pthread_barrier_wait(&done);
	for (int i = 0; i < 16; i++)
		pthread_join(t[i], NULL);
	double grew = (double)(after.stacks - before.stacks);
	double want = 16.0 * (1 << 20);
	assert_true(grew > want * 0.9 && grew < want * 1.1);
	/* anonymous memory did not absorb them */
	assert_true(after.anon - before.anon < 4 << 20);

	struct proc_status st;
	assert_int_equal(probe_proc_read_status(&h, &st), 0);
	assert_true(st.rss > 0 && st.hwm >= st.rss);
	probe_proc_close(&h);
}

static void hwm_reset_gives_interval_peaks(void **state)
{
	(void)state;
	struct proc_handle h;
	assert_int_equal(probe_proc_open(&h, "/proc", getpid()), 0);
	size_t len = 64 << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	memset(p, 1, len);
	munmap(p, len);
	struct proc_status s1, s2;
	assert_int_equal(probe_proc_read_status(&h, &s1), 0);
	assert_true(s1.hwm >= s1.rss + (int64_t)len - (4 << 20)); /* the spike is in VmHWM */
	assert_int_equal(probe_proc_reset_hwm(&h), 0);
	assert_int_equal(probe_proc_read_status(&h, &s2), 0);
	assert_true(s2.hwm < s1.hwm - (int64_t)len / 2); /* and gone after the reset */
	probe_proc_close(&h);
}

static void missing_process(void **state)
{
	(void)state;
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	struct proc_handle h;
	assert_int_equal(probe_proc_open(&h, "/proc", pid), -ESRCH);

	/* a process that exits while we hold its files */
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	if (pid == 0) {
		char c;
		close(pfd[1]);
		if (read(pfd[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(pfd[0]);
	assert_int_equal(probe_proc_open(&h, "/proc", pid), 0);
	close(pfd[1]);
	waitpid(pid, NULL, 0);
	struct proc_status st;
	assert_int_equal(probe_proc_read_status(&h, &st), -ESRCH);
	struct smaps_breakdown b;
	assert_true(probe_proc_read_smaps(&h, &b) < 0);
	probe_proc_close(&h);
}

static void tree_scan_finds_children(void **state)
{
	(void)state;
	/* the child says when its child exists (a byte on a pipe), rather than 100 ms of a clock */
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t child = fork();
	if (child == 0) {
		close(fds[0]);
		pid_t grandchild = fork();
		if (grandchild == 0) {
			sleep(5);
			_exit(0);
		}
		if (write(fds[1], "g", 1) != 1)
			_exit(1);
		sleep(5);
		_exit(0);
	}
	close(fds[1]);
	char c;
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	pid_t pids[16];
	int n = probe_tree_scan("/proc", child, pids, 16);
	assert_int_equal(n, 2);
	assert_int_equal(pids[0], child);
	kill(pids[1], SIGKILL);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	assert_int_equal(probe_tree_scan("/proc", 999999999, pids, 16), -ESRCH);
}

/* /proc/PID/cmdline as the kernel gives it (arguments each ending in NUL), in a made-up proc
 * root: the arguments whole, a trailing NUL dropped, a long one cut and said to be */
static void cmdline_read(void **state)
{
	(void)state;
	char root[] = "/tmp/test_probe_cmdline.XXXXXX", dir[64], path[96], buf[32];
	assert_non_null(mkdtemp(root));
	snprintf(dir, sizeof(dir), "%s/42", root);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/cmdline", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fwrite("redis\0--port\0\x1b]0;x\0", 1, 19, f);
	fclose(f);
	bool cut = true;
	assert_int_equal(probe_proc_cmdline(root, 42, buf, sizeof(buf), &cut), 18);
	assert_false(cut);
	assert_string_equal(buf, "redis");
	assert_string_equal(buf + 6, "--port");
	assert_memory_equal(buf + 13, "\x1b]0;x", 6);
	/* 19 bytes into 8: 7 kept, cut */
	assert_int_equal(probe_proc_cmdline(root, 42, buf, 8, &cut), 7);
	assert_true(cut);
	assert_string_equal(buf, "redis");
	assert_int_equal(probe_proc_cmdline(root, 43, buf, sizeof(buf), &cut), -ESRCH);
	unlink(path);
	rmdir(dir);
	rmdir(root);
}

static void not_a_cgroup(void **state)
{
	(void)state;
	struct cgroup_handle c;
	assert_int_equal(probe_cgroup_open(&c, "/tmp"), -ENOTDIR);
	assert_int_equal(probe_cgroup_open(&c, "/nonexistent/cgroup"), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_status),
		cmocka_unit_test(parse_rollup),
		cmocka_unit_test(smaps_classes),
		cmocka_unit_test(cgroup_parsers),
		cmocka_unit_test(live_self_stacks),
		cmocka_unit_test(hwm_reset_gives_interval_peaks),
		cmocka_unit_test(missing_process),
		cmocka_unit_test(tree_scan_finds_children),
		cmocka_unit_test(not_a_cgroup),
		cmocka_unit_test(cmdline_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
