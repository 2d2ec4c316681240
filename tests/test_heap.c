/* test_heap: the heap shim and its reader against real processes whose truth is known
 * (tests/progs/heap_*.c print it), in both modes, over glibc, jemalloc and mimalloc; and the bad
 * inputs: not interposable, LD_PRELOAD removed, setuid, corrupt or truncated segment, full
 * /dev/shm. The programs are found next to this test binary (build/tests/progs and build/libheadroom-heap.so).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/futex.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "breakdown.h"
#include "heap.h"
#include "sampler.h"
#include "util.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define JEMALLOC "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
#define MIMALLOC "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"

static char build_dir[1024];
static char shim[PATH_MAX + 32];

static void prog_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/tests/progs/%s", build_dir, name);
}

struct child {
	pid_t pid;
	FILE *out;
	char run[40];
	char ready[256];
};

/* Starts argv with the shim in `mode` (NULL: no shim), `preload_after` preloaded behind it, and
 * `extra` ("NAME=VALUE") in its environment; waits for its "ready" line. */
static int child_start(struct child *c, const char *mode, const char *preload_after, const char *extra,
		       char *const argv[])
{
	memset(c, 0, sizeof(*c));
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	if (preload_after)
		setenv("LD_PRELOAD", preload_after, 1);
	if (mode && heap_env_prepare(shim, mode, c->run, sizeof(c->run)) != 0)
		return -EINVAL;
	c->pid = fork();
	if (c->pid == 0) {
		dup2(pfd[1], 1);
		if (extra)
			putenv((char *)extra);
		execv(argv[0], argv);
		_exit(127);
	}
	heap_env_restore();
	if (preload_after)
		unsetenv("LD_PRELOAD");
	close(pfd[1]);
	c->out = fdopen(pfd[0], "r");
	if (!c->out || !fgets(c->ready, sizeof(c->ready), c->out))
		return -EIO;
	return strncmp(c->ready, "ready", 5) == 0 ? 0 : -EIO;
}

static void child_stop(struct child *c)
{
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
	}
	if (c->out)
		fclose(c->out);
	if (c->run[0])
		heap_cleanup(c->run);
	c->pid = 0;
	c->out = NULL;
}

static long long field(const char *line, const char *name)
{
	char key[64];
	snprintf(key, sizeof(key), " %s=", name);
	const char *p = strstr(line, key);
	return p ? atoll(p + strlen(key)) : -1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Reads until a fresh allocator answer is in (stats age < 150 ms), up to 3 s. */
static int read_fresh(const char *run, const pid_t *pids, int n, struct heap_totals *t)
{
	int rc = -EAGAIN;
	for (int i = 0; i < 60; i++) {
		rc = heap_tree_read(run, pids, n, t);
		if (rc == 0 && t->nunanswered == 0 && t->stats_age_ns != HR_UNKNOWN &&
		    t->stats_age_ns < 150000000LL && i > 2)
			return 0;
		sleep_ms(50);
	}
	return rc;
}

static int64_t proc_rss(pid_t pid)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (util_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	const char *p = strstr(buf, "VmRSS:");
	return p ? atoll(p + 6) * 1024 : -1;
}

static void assert_near(int64_t got, int64_t want, double tol, const char *what)
{
	double err = want ? (double)(got - want) / (double)want : 0;
	if (err < -tol || err > tol) {
		print_error("%s: got %lld, want %lld (%.2f%% off, tolerance %.1f%%)\n", what, (long long)got,
			    (long long)want, err * 100, tol * 100);
		fail();
	}
}

#define SKIP_IF_SANITIZED() do { if (SANITIZED) { skip(); } } while (0)

/* --- 100 MiB live in 1000-byte blocks ------------------------------------------------------ */
static void live100(const char *mode, const char *under, int allocator)
{
	SKIP_IF_SANITIZED();
	if (under && access(under, R_OK) != 0)
		skip();
	char prog[PATH_MAX];
	prog_path(prog, sizeof(prog), "heap_live");
	char *argv[] = {prog, "104857600", "1000", "20", NULL};
	struct child c;
	assert_int_equal(child_start(&c, mode, under, NULL, argv), 0);
	struct heap_totals t;
	int rc = read_fresh(c.run, &c.pid, 1, &t);
	/* what the allocator handed out: 1000 bytes per block from glibc, 1024 from jemalloc's and
	 * mimalloc's size classes, and the array of pointers */
	long long truth = field(c.ready, "usable");
	assert_near(truth, 104857600, 0.035, "the program's own usable bytes");
	if (rc != 0)
		print_error("read: %d %s\n", rc, t.reason);
	assert_int_equal(rc, 0);
	assert_int_equal(t.nsegments, 1);
	assert_int_equal(t.allocator, allocator);
	assert_int_equal(t.mode, strcmp(mode, "count") == 0 ? HEAP_SEG_COUNT : HEAP_SEG_STATS);
	if (allocator == HEAP_ALLOC_MIMALLOC && t.mode == HEAP_SEG_STATS) {
		/* mimalloc says what it committed, not what is in use */
		assert_int_equal(t.live, HR_UNKNOWN);
		assert_true(t.stats[HS_MI_COMMIT] >= truth);
	} else {
		assert_near(t.live, truth, 0.02, "live heap");
		/* mimalloc commits its arenas in large steps: 128 MiB committed for 108 MiB here */
		int64_t slack = allocator == HEAP_ALLOC_MIMALLOC ? truth / 3 : truth / 10;
		if (!(t.held >= 0 && t.held < slack))
			print_error("held %lld, live %lld\n", (long long)t.held, (long long)t.live);
		assert_true(t.held >= 0 && t.held < slack);
	}
	if (t.mode == HEAP_SEG_COUNT) {
		assert_true(t.allocs >= 104857 && t.live_blocks >= 104857 && t.live_blocks < 104857 + 2000);
		assert_true(t.live_peak >= t.live);
	}
	child_stop(&c);
}

static void test_live100_stats_glibc(void **state) { live100("stats", NULL, HEAP_ALLOC_GLIBC); }
static void test_live100_count_glibc(void **state) { live100("count", NULL, HEAP_ALLOC_GLIBC); }
static void test_live100_stats_jemalloc(void **state) { live100("stats", JEMALLOC, HEAP_ALLOC_JEMALLOC); }
static void test_live100_count_jemalloc(void **state) { live100("count", JEMALLOC, HEAP_ALLOC_JEMALLOC); }
static void test_live100_stats_mimalloc(void **state) { live100("stats", MIMALLOC, HEAP_ALLOC_MIMALLOC); }
static void test_live100_count_mimalloc(void **state) { live100("count", MIMALLOC, HEAP_ALLOC_MIMALLOC); }

/* --- programs that free and then go idle (issue 18.1, 18.4) ----------------------------------
 * tests/progs/heap_idle: allocates 192 MiB in 500-byte blocks, says "allocated", waits for a byte
 * on stdin, frees 15 of 16, says "ready live=L" and then sleeps, blocks in read(), stops itself,
 * or idles between bursts. The tests wait for its lines, never for the clock. */
struct idle {
	pid_t pid;
	FILE *out;
	int in;               /* its stdin; -1 once closed */
	char run[40];
	long long live;       /* L of its last line */
	int64_t said_ns;      /* when that line arrived */
};

static int idle_line(struct idle *c, const char *prefix)
{
	char line[256];
	while (fgets(line, sizeof(line), c->out))
		if (strncmp(line, prefix, strlen(prefix)) == 0) {
			c->said_ns = util_now_ns();
			c->live = field(line, "live");
			return 0;
		}
	return -EIO;
}

static int idle_start(struct idle *c, const char *prog_mode, const char *heap_mode, const char *under)
{
	memset(c, 0, sizeof(*c));
	c->in = -1;
	char prog[PATH_MAX];
	prog_path(prog, sizeof(prog), "heap_idle");
	int out[2], in[2];
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (under)
		setenv("LD_PRELOAD", under, 1);
	if (heap_env_prepare(shim, heap_mode, c->run, sizeof(c->run)) != 0)
		return -EINVAL;
	c->pid = fork();
	if (c->pid == 0) {
		dup2(out[1], 1);
		dup2(in[0], 0);
		/* 192 MiB: the live 1/16 (~17 MiB) dwarfs the ~140 KiB jemalloc counts as allocated for
		 * itself (its thread caches), which would be 2.5 % of a 64 MiB run */
		execl(prog, prog, prog_mode, "201326592", "500", "20", "16777216", (char *)NULL);
		_exit(127);
	}
	heap_env_restore();
	if (under)
		unsetenv("LD_PRELOAD");
	close(out[1]);
	close(in[0]);
	c->in = in[1];
	c->out = fdopen(out[0], "r");
	return c->out ? idle_line(c, "allocated") : -EIO;
}

/* lets the program free, and waits for it to say so */
static int idle_free(struct idle *c)
{
	if (write(c->in, "g", 1) != 1)
		return -EIO;
	return idle_line(c, "ready");
}

static void idle_stop(struct idle *c)
{
	if (c->in >= 0)
		close(c->in);
	child_stop((struct child *)&(struct child){.pid = c->pid, .out = c->out});
	heap_cleanup(c->run);
}

/* Reads until every process has answered a request raised after `after` (CLOCK_MONOTONIC),
 * up to 5 s: the figures of a moment after the program's last word. */
static int read_after(const char *run, pid_t pid, int64_t after, struct heap_totals *t)
{
	int rc = -EAGAIN;
	for (int i = 0; i < 250; i++) {
		rc = heap_tree_read(run, &pid, 1, t);
		if (rc == 0 && t->nunanswered == 0 && t->taken_ns > after)
			return 0;
		sleep_ms(20);
	}
	return rc == 0 ? -ETIMEDOUT : rc;
}

/* One program mode under one heap mode: the live heap after the frees, read while the program
 * idles; within 2 % of the program's own count. Returns it (HR_UNKNOWN: the allocator does not
 * say, mimalloc in stats mode). */
static int64_t idle_case(const char *prog_mode, const char *heap_mode, const char *under, int allocator)
{
	struct idle c;
	assert_int_equal(idle_start(&c, prog_mode, heap_mode, under), 0);
	struct heap_totals t;
	assert_int_equal(read_fresh(c.run, &c.pid, 1, &t), 0);   /* an answer from before the frees */
	int64_t before = t.live;
	assert_int_equal(idle_free(&c), 0);
	int bursts = strcmp(prog_mode, "bursts") == 0 ? 3 : 1;
	for (int k = 0; k < bursts; k++) {
		if (bursts > 1)
			assert_int_equal(idle_line(&c, "burst"), 0);
		int rc = read_after(c.run, c.pid, c.said_ns, &t);
		if (rc != 0)
			print_error("%s/%s: rc %d, %s\n", prog_mode, heap_mode, rc, t.reason);
		assert_int_equal(rc, 0);
		assert_int_equal(t.allocator, allocator);
		assert_int_equal(waitpid(c.pid, NULL, WNOHANG), 0);   /* still idle, not exited */
		if (allocator == HEAP_ALLOC_MIMALLOC && strcmp(heap_mode, "stats") == 0) {
			assert_int_equal(t.live, HR_UNKNOWN);
			assert_true(t.stats[HS_MI_COMMIT] > 0);
			continue;
		}
		assert_near(t.live, c.live, 0.02, "live heap while idle after the frees");
		assert_true(before > 10 * t.live);   /* the frees are seen, not the figure before them */
	}
	int64_t live = t.live;
	idle_stop(&c);
	return live;
}

static void idle_both(const char *prog_mode, const char *under, int allocator)
{
	SKIP_IF_SANITIZED();
	if (under && access(under, R_OK) != 0)
		skip();
	int64_t stats = idle_case(prog_mode, "stats", under, allocator);
	int64_t count = idle_case(prog_mode, "count", under, allocator);
	if (stats != HR_UNKNOWN)
		assert_near(stats, count, 0.02, "stats mode against count mode");
}

static void test_idle_sleep_glibc(void **state) { idle_both("sleep", NULL, HEAP_ALLOC_GLIBC); }
static void test_idle_sleep_jemalloc(void **state) { idle_both("sleep", JEMALLOC, HEAP_ALLOC_JEMALLOC); }
static void test_idle_sleep_mimalloc(void **state) { idle_both("sleep", MIMALLOC, HEAP_ALLOC_MIMALLOC); }
static void test_idle_read_glibc(void **state) { idle_both("read", NULL, HEAP_ALLOC_GLIBC); }
static void test_idle_read_jemalloc(void **state) { idle_both("read", JEMALLOC, HEAP_ALLOC_JEMALLOC); }
static void test_idle_read_mimalloc(void **state) { idle_both("read", MIMALLOC, HEAP_ALLOC_MIMALLOC); }
static void test_idle_spin_glibc(void **state) { idle_both("spin", NULL, HEAP_ALLOC_GLIBC); }
static void test_idle_spin_jemalloc(void **state) { idle_both("spin", JEMALLOC, HEAP_ALLOC_JEMALLOC); }
static void test_idle_bursts_glibc(void **state) { idle_both("bursts", NULL, HEAP_ALLOC_GLIBC); }
static void test_idle_bursts_jemalloc(void **state) { idle_both("bursts", JEMALLOC, HEAP_ALLOC_JEMALLOC); }
static void test_idle_bursts_mimalloc(void **state) { idle_both("bursts", MIMALLOC, HEAP_ALLOC_MIMALLOC); }

/* A daemon that closes every fd before headroom first looks: its segment is found where it is
 * mapped (/proc/PID/map_files, root only) and read as any other. */
static void test_idle_closefds(void **state)
{
	SKIP_IF_SANITIZED();
	if (getuid() != 0)
		skip();
	struct idle c;
	assert_int_equal(idle_start(&c, "closefds", "stats", NULL), 0);
	assert_int_equal(idle_free(&c), 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)c.pid, HEAP_SEG_FD_MIN);
	assert_int_equal(access(path, F_OK), -1);   /* the fd is gone */
	struct heap_totals t;
	int rc = read_after(c.run, c.pid, c.said_ns, &t);
	if (rc != 0)
		print_error("rc %d: %s\n", rc, t.reason);
	assert_int_equal(rc, 0);
	assert_near(t.live, c.live, 0.02, "live heap of a process without the segment's fd");
	idle_stop(&c);
}

/* A program stopped right after its frees cannot answer: every read says how old its figures
 * are (from before the frees), never that they are fresh; once continued it answers again. */
static void stopped(const char *heap_mode, const char *under, int allocator)
{
	SKIP_IF_SANITIZED();
	if (under && access(under, R_OK) != 0)
		skip();
	struct idle c;
	assert_int_equal(idle_start(&c, "stop", heap_mode, under), 0);
	struct heap_totals t;
	assert_int_equal(read_fresh(c.run, &c.pid, 1, &t), 0);
	int64_t go = util_now_ns();
	assert_int_equal(idle_free(&c), 0);
	int st;
	assert_int_equal(waitpid(c.pid, &st, WUNTRACED), c.pid);
	assert_true(WIFSTOPPED(st));
	int64_t stopped_at = util_now_ns();
	int64_t origin = stopped_at - 1000000000LL;   /* any origin: t_ns = now - origin */
	for (int i = 0; i < 5; i++) {
		sleep_ms(100);   /* the figures must age with the clock: this test is about the clock */
		assert_int_equal(heap_tree_read(c.run, &c.pid, 1, &t), 0);
		assert_true(t.taken_ns != HR_UNKNOWN && t.taken_ns <= go);
		assert_true(t.stats_age_ns >= util_now_ns() - go - 20000000LL);
		struct sample s;
		sample_clear(&s);
		s.t_ns = util_now_ns() - origin;
		heap_totals_to_sample(&t, origin, &s);
		if (s.heap_live == HR_UNKNOWN && s.heap_held == HR_UNKNOWN) {
			/* mimalloc in stats mode: no live heap, so no figure for the sample to date */
			assert_int_equal(s.heap_t_ns, HR_UNKNOWN);
			continue;
		}
		assert_true(s.heap_t_ns != HR_UNKNOWN && s.heap_t_ns <= go - origin);
		assert_true(s.t_ns - s.heap_t_ns >= (int64_t)(i + 1) * 100000000LL);
	}
	kill(c.pid, SIGCONT);
	int64_t cont = util_now_ns();
	assert_int_equal(read_after(c.run, c.pid, cont, &t), 0);
	if (!(allocator == HEAP_ALLOC_MIMALLOC && strcmp(heap_mode, "stats") == 0))
		assert_near(t.live, c.live, 0.02, "live heap once continued");
	idle_stop(&c);
}

static void test_stopped_stats_glibc(void **state) { stopped("stats", NULL, HEAP_ALLOC_GLIBC); }
static void test_stopped_count_glibc(void **state) { stopped("count", NULL, HEAP_ALLOC_GLIBC); }
static void test_stopped_stats_jemalloc(void **state) { stopped("stats", JEMALLOC, HEAP_ALLOC_JEMALLOC); }
static void test_stopped_count_jemalloc(void **state) { stopped("count", JEMALLOC, HEAP_ALLOC_JEMALLOC); }
static void test_stopped_stats_mimalloc(void **state) { stopped("stats", MIMALLOC, HEAP_ALLOC_MIMALLOC); }
static void test_stopped_count_mimalloc(void **state) { stopped("count", MIMALLOC, HEAP_ALLOC_MIMALLOC); }

/* --- no deadlock with the allocator's locks ----------------------------------------------
 * heap_forkstress forks 300 times while two threads churn malloc/free, then exits while they
 * still do; meanwhile this test raises a request the moment the last one is answered, so the
 * service thread is inside the allocator's statistics (its locks) as often as it can be. */
static void stress(const char *heap_mode, const char *under)
{
	SKIP_IF_SANITIZED();
	if (under && access(under, R_OK) != 0)
		skip();
	char prog[PATH_MAX];
	prog_path(prog, sizeof(prog), "heap_forkstress");
	char *argv[] = {prog, "2", "300", NULL};
	struct child c;
	assert_int_equal(child_start(&c, heap_mode, under, NULL, argv), 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)c.pid, HEAP_SEG_FD_MIN);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	struct heap_seg *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(s != MAP_FAILED);
	close(fd);
	int flags = fcntl(fileno(c.out), F_GETFL);
	fcntl(fileno(c.out), F_SETFL, flags | O_NONBLOCK);
	char line[128] = "";
	long answers = 0;
	int64_t deadline = util_now_ns() + 60000000000LL;   /* a deadlock, not a slow machine */
	while (util_now_ns() < deadline && !strstr(line, "done")) {
		if (__atomic_load_n(&s->request, __ATOMIC_ACQUIRE) == 0) {
			answers++;
			__atomic_store_n(&s->request, s->published + 1 ? s->published + 1 : 1, __ATOMIC_RELEASE);
			syscall(SYS_futex, &s->request, FUTEX_WAKE, 1, NULL, NULL, 0);
		}
		if (!fgets(line, sizeof(line), c.out))
			clearerr(c.out);
	}
	if (!strstr(line, "done"))
		print_error("no \"done\" after %ld answers: deadlocked\n", answers);
	assert_non_null(strstr(line, "done forks=300"));
	assert_true(answers > 10);
	/* and it exits, requests still coming, within a bound */
	int st = 0;
	pid_t got = 0;
	for (int i = 0; i < 500 && got == 0; i++) {
		if (__atomic_load_n(&s->request, __ATOMIC_ACQUIRE) == 0)
			__atomic_store_n(&s->request, s->published + 1 ? s->published + 1 : 1, __ATOMIC_RELEASE);
		syscall(SYS_futex, &s->request, FUTEX_WAKE, 1, NULL, NULL, 0);
		got = waitpid(c.pid, &st, WNOHANG);
		if (got == 0)
			sleep_ms(10);
	}
	munmap(s, sizeof(*s));
	assert_int_equal(got, c.pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	c.pid = 0;
	child_stop(&c);
}

static void test_stress_stats_glibc(void **state) { stress("stats", NULL); }
static void test_stress_stats_jemalloc(void **state) { stress("stats", JEMALLOC); }
static void test_stress_count_glibc(void **state) { stress("count", NULL); }
static void test_stress_count_jemalloc(void **state) { stress("count", JEMALLOC); }

/* --- 400 MiB of small blocks, 15 of 16 freed: small heap, large allocator-held, high RSS --- */
static void frag(const char *mode)
{
	SKIP_IF_SANITIZED();
	char prog[PATH_MAX];
	prog_path(prog, sizeof(prog), "heap_frag");
	char *argv[] = {prog, "419430400", "512", "20", NULL};
	struct child c;
	assert_int_equal(child_start(&c, mode, NULL, NULL, argv), 0);
	struct heap_totals t;
	assert_int_equal(read_fresh(c.run, &c.pid, 1, &t), 0);
	long long live = field(c.ready, "live");
	int64_t rss = proc_rss(c.pid);
	/* the truth is usable bytes; stats mode counts chunk sizes (8 bytes more per block) */
	assert_near(t.live, live, 0.03, "live heap");
	assert_true(t.held > 300LL << 20);
	assert_true(rss > 350LL << 20);
	assert_true(t.live < rss / 10);
	child_stop(&c);
}

static void test_frag_stats(void **state) { frag("stats"); }
static void test_frag_count(void **state) { frag("count"); }

/* --- glibc holding freed arena memory and live mmapped blocks at once (issue 20) ------------
 * 32 MiB of 512-byte blocks, 15 of 16 freed (kept by the arena), then 12 live blocks of 4 MiB
 * above a 1 MiB mmap threshold: what the allocator holds is the freed arena memory, ~30 MiB, not
 * that minus the 48 MiB mmapped (which are live, not held). The program prints what it holds. */
static void mixed(const char *mode)
{
	SKIP_IF_SANITIZED();
	char prog[PATH_MAX];
	prog_path(prog, sizeof(prog), "heap_mixed");
	char *argv[] = {prog, "33554432", "12", "4194304", "20", NULL};
	struct child c;
	assert_int_equal(child_start(&c, mode, NULL, NULL, argv), 0);
	struct heap_totals t;
	int rc = read_fresh(c.run, &c.pid, 1, &t);
	if (rc != 0)
		print_error("read: %d %s\n", rc, t.reason);
	assert_int_equal(rc, 0);
	assert_int_equal(t.allocator, HEAP_ALLOC_GLIBC);
	long long live = field(c.ready, "live"), freed = field(c.ready, "freed"), mapped = field(c.ready, "mmapped");
	assert_true(freed > 29LL << 20 && mapped >= 48LL << 20 && live > mapped);
	/* freed chunks are 8 bytes larger than their usable part (1.5 % at 512), and the top chunk
	 * left after the last sbrk comes on top: 5 % covers both */
	assert_near(t.held, freed, 0.05, "allocator-held with mmapped blocks live");
	assert_near(t.live, live, 0.02, "live heap with mmapped blocks");
	if (t.mode == HEAP_SEG_STATS)
		assert_near(t.mmapped, mapped, 0.01, "mmapped blocks");
	child_stop(&c);
}

static void test_mixed_stats(void **state) { mixed("stats"); }
static void test_mixed_count(void **state) { mixed("count"); }

/* --- exact counts across threads that exit, cross-thread frees, realloc, every function ---- */
static void test_threads_count(void **state)
{
	SKIP_IF_SANITIZED();
	char prog[PATH_MAX];
	prog_path(prog, sizeof(prog), "heap_threads");
	char *argv[] = {prog, "8", "20000", "20", NULL};
	struct child c;
	assert_int_equal(child_start(&c, "count", NULL, NULL, argv), 0);
	struct heap_totals t;
	assert_int_equal(read_fresh(c.run, &c.pid, 1, &t), 0);
	long long usable = field(c.ready, "usable"), blocks = field(c.ready, "blocks");
	/* stdio's buffer and the loader's few blocks come on top */
	assert_true(t.live >= usable && t.live < usable + (256 << 10));
	assert_true(t.live_blocks >= blocks && t.live_blocks < blocks + 64);
	child_stop(&c);
}

/* --- the same over jemalloc: its own per-thread counters instead of a size lookup --------- */
static void test_threads_count_jemalloc(void **state)
{
	SKIP_IF_SANITIZED();
	if (access(JEMALLOC, R_OK) != 0)
		skip();
	char prog[PATH_MAX];
	prog_path(prog, sizeof(prog), "heap_threads");
	char *argv[] = {prog, "8", "20000", "20", NULL};
	struct child c;
	assert_int_equal(child_start(&c, "count", JEMALLOC, NULL, argv), 0);
	struct heap_totals t;
	assert_int_equal(read_fresh(c.run, &c.pid, 1, &t), 0);
	long long usable = field(c.ready, "usable");
	assert_int_equal(t.allocator, HEAP_ALLOC_JEMALLOC);
	assert_near(t.live, usable, 0.01, "live heap over jemalloc");
	child_stop(&c);
}

/* --- a short spike between two reads shows in the interval's peak ------------------------- */
static void test_peak_count(void **state)
{
	SKIP_IF_SANITIZED();
	char prog[PATH_MAX];
	prog_path(prog, sizeof(prog), "heap_live");
	char *argv[] = {prog, "52428800", "1000", "20", "52428800", NULL};
	struct child c;
	assert_int_equal(child_start(&c, "count", NULL, NULL, argv), 0);
	struct heap_totals t;
	int64_t lowest_live = INT64_MAX;
	int intervals = 0, seen = 0;
	for (int i = 0; i < 12; i++) {
		sleep_ms(400);   /* every interval holds about four spikes, when the machine lets it run */
		assert_int_equal(heap_tree_read(c.run, &c.pid, 1, &t), 0);
		if (i == 0)
			continue;   /* the first interval starts before the program did */
		intervals++;
		if (t.live < lowest_live)
			lowest_live = t.live;
		/* a spike of 50 MiB over 50 MiB, seen to within one HEAP_PEAK_STEP or two */
		if (t.live_peak >= (100LL << 20) - 2 * HEAP_PEAK_STEP - (1 << 20))
			seen++;
		assert_true(t.live_peak <= (100LL << 20) + (2 << 20));
	}
	/* a starved machine may deschedule the program for a whole interval now and then */
	if (seen < intervals * 3 / 4)
		print_error("the spike was seen in %d of %d intervals\n", seen, intervals);
	assert_true(seen >= intervals * 3 / 4);
	assert_true(lowest_live < (60LL << 20));   /* the spike itself is not what live shows */
	child_stop(&c);
}

/* --- fork and exec: one segment per process, each with its own heap ----------------------- */
static void test_fork_exec(void **state)
{
	SKIP_IF_SANITIZED();
	char prog[PATH_MAX];
	prog_path(prog, sizeof(prog), "forkexec");
	char *argv[] = {prog, "20", NULL};
	struct child c;
	assert_int_equal(child_start(&c, "count", NULL, NULL, argv), 0);
	pid_t tree[3] = {(pid_t)field(c.ready, "parent"), (pid_t)field(c.ready, "forked"),
			 (pid_t)field(c.ready, "execd")};
	assert_int_equal(tree[0], c.pid);
	int64_t want[3] = {10LL << 20, 15LL << 20, 20LL << 20};
	struct heap_totals t;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(read_fresh(c.run, &tree[i], 1, &t), 0);
		assert_near(t.live, want[i], 0.03, "live of one process");
	}
	assert_int_equal(read_fresh(c.run, tree, 3, &t), 0);
	assert_int_equal(t.nsegments, 3);
	assert_near(t.live, 45LL << 20, 0.03, "live of the tree");
	child_stop(&c);
	kill(tree[1], SIGKILL);
	kill(tree[2], SIGKILL);
	sleep_ms(50);
	heap_cleanup(c.run);
}

/* --- bad input ------------------------------------------------------------------------------ */
static int wait_verdict(const char *run, pid_t pid, struct heap_totals *t)
{
	int rc = -EAGAIN;
	for (int i = 0; i < 200 && rc == -EAGAIN; i++) {
		rc = heap_tree_read(run, &pid, 1, t);
		if (rc == -EAGAIN)
			sleep_ms(50);
	}
	return rc;
}

static void test_static_binary(void **state)
{
	char why[256];
	const char *bb = "/usr/bin/busybox";
	if (access(bb, X_OK) != 0)
		bb = "/sbin/ldconfig";
	assert_int_equal(heap_probe_binary(bb, why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "statically linked"));
	char prog[PATH_MAX];
	prog_path(prog, sizeof(prog), "heap_live");
	if (SANITIZED) {
		/* clang links the ASan runtime into the program: it defines malloc itself */
		assert_int_equal(heap_probe_binary(prog, why, sizeof(why)), -ENOTSUP);
		assert_non_null(strstr(why, "defines malloc"));
	} else {
		assert_int_equal(heap_probe_binary(prog, why, sizeof(why)), 0);
	}
	assert_int_equal(heap_probe_binary("/bin/sh", why, sizeof(why)), 0);
	assert_int_equal(heap_probe_binary("/nonexistent/x", why, sizeof(why)), -ENOENT);
	assert_int_equal(heap_probe_binary("/etc/passwd", why, sizeof(why)), -ENOEXEC);
	if (SANITIZED || access("/usr/bin/busybox", X_OK) != 0)
		return;
	/* at run time: no segment ever appears, and the reason says why */
	char run[40];
	assert_int_equal(heap_env_prepare(shim, "count", run, sizeof(run)), 0);
	pid_t pid = fork();
	if (pid == 0) {
		execl("/usr/bin/busybox", "sleep", "5", (char *)NULL);
		_exit(127);
	}
	heap_env_restore();
	struct heap_totals t;
	assert_int_equal(wait_verdict(run, pid, &t), -ENOTSUP);
	assert_non_null(strstr(t.reason, "statically linked"));
	assert_int_equal(t.live, HR_UNKNOWN);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	heap_cleanup(run);
}

static void test_go_binary(void **state)
{
	/* any Go program installed with the toolchain will do */
	const char *go[] = {"/usr/lib/go/pkg/tool/linux_amd64/vet", "/usr/lib/go/bin/gofmt", "/usr/bin/gofmt"};
	for (size_t i = 0; i < sizeof(go) / sizeof(go[0]); i++) {
		char why[256], real[PATH_MAX];
		if (!realpath(go[i], real))
			continue;
		assert_int_equal(heap_probe_binary(real, why, sizeof(why)), -ENOTSUP);
		assert_non_null(strstr(why, "Go"));
		return;
	}
	skip();
}

static void test_preload_removed(void **state)
{
	SKIP_IF_SANITIZED();
	char run[40];
	assert_int_equal(heap_env_prepare(shim, "stats", run, sizeof(run)), 0);
	pid_t pid = fork();
	if (pid == 0) {
		/* the shell gets the shim, then execs sleep without it: same pid, new image */
		execl("/bin/sh", "sh", "-c", "unset LD_PRELOAD; exec sleep 5", (char *)NULL);
		_exit(127);
	}
	heap_env_restore();
	struct heap_totals t;
	int rc = -EAGAIN;
	for (int i = 0; i < 200; i++) {
		rc = heap_tree_read(run, &pid, 1, &t);
		if (rc == -ENOTSUP)
			break;
		sleep_ms(50);
	}
	assert_int_equal(rc, -ENOTSUP);
	if (!strstr(t.reason, "LD_PRELOAD"))
		print_error("reason: %s\n", t.reason);
	assert_non_null(strstr(t.reason, "LD_PRELOAD"));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	heap_cleanup(run);
}

static void test_setuid(void **state)
{
	if (getuid() != 0)
		skip();
	char prog[PATH_MAX], copy[PATH_MAX + 16], why[256];
	prog_path(prog, sizeof(prog), "heap_live");
	snprintf(copy, sizeof(copy), "%s-suid", prog);
	char cmd[5 * PATH_MAX];
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chown nobody '%s' && chmod 4755 '%s'", prog, copy, copy, copy);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(heap_probe_binary(copy, why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "setuid"));
	if (!SANITIZED) {
		/* at run time: the loader ignores LD_PRELOAD, the process says AT_SECURE */
		char run[40];
		assert_int_equal(heap_env_prepare(shim, "stats", run, sizeof(run)), 0);
		pid_t pid = fork();
		if (pid == 0) {
			int devnull = open("/dev/null", O_WRONLY);
			dup2(devnull, 1);
			execl(copy, copy, "1000000", "1000", "5", (char *)NULL);
			_exit(127);
		}
		heap_env_restore();
		struct heap_totals t;
		int rc = wait_verdict(run, pid, &t);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		heap_cleanup(run);
		assert_int_equal(rc, -ENOTSUP);
		if (!strstr(t.reason, "secure-execution"))
			print_error("reason: %s\n", t.reason);
		assert_non_null(strstr(t.reason, "secure-execution"));
	}
	unlink(copy);
}

/* A memfd named as this run's segment of this very process, as the shim would make it unless
 * told otherwise: `seal` adds the shim's seals, `mode` is its permission bits. */
static int fake_segment(const char *run, bool seal, mode_t mode, struct heap_seg **ret)
{
	char name[96];
	snprintf(name, sizeof(name), HEAP_SEG_NAME "%s-%d", run, (int)getpid());
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(ftruncate(fd, sizeof(struct heap_seg)), 0);
	if (seal)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	*ret = mmap(NULL, sizeof(struct heap_seg), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(*ret != MAP_FAILED);
	return fd;
}

static void seg_fill_valid(struct heap_seg *s, pid_t pid)
{
	memset(s, 0, sizeof(*s));
	s->version = HEAP_SEG_VERSION;
	s->size = sizeof(*s);
	s->pid = pid;
	s->nslots = HEAP_SEG_SLOTS;
	s->mode = HEAP_SEG_COUNT;
	s->magic = HEAP_SEG_MAGIC;
}

/* --- the reader's arithmetic on figures written by hand into a segment of this process ----
 * As the shim would publish them, answered by hand: glibc's mallinfo2 (arena 40 MiB, 8 MiB of it
 * in use, 64 MiB mmapped) is live 8 + 64 = 72 MiB, held 40 - 8 = 32 MiB; jemalloc's (allocated
 * 50 MiB of which 2 MiB in thread caches, resident 60 MiB) is live 48 MiB, held 12 MiB;
 * mimalloc's commit alone says nothing of what is live. */
static void figures_by_hand(int allocator, const int64_t *st, int64_t live, int64_t held, int64_t mmapped)
{
	const char *run = "byhand";
	pid_t pid = getpid();
	struct heap_seg *s;
	int fd = fake_segment(run, true, 0600, &s);
	seg_fill_valid(s, pid);
	s->mode = HEAP_SEG_STATS;
	s->allocator = (uint32_t)allocator;
	s->service = 1;
	for (int i = 0; i < HS_NSTATS; i++)
		s->stats[i] = (uint64_t)st[i];
	struct heap_totals t;
	/* the first read asks (and waits a little for an answer nobody gives) */
	assert_int_equal(heap_tree_read(run, &pid, 1, &t), 0);
	assert_int_equal(t.nunanswered, 1);
	uint32_t req = __atomic_load_n(&s->request, __ATOMIC_ACQUIRE);
	assert_int_not_equal(req, 0);
	/* the answer, as the shim's service thread gives it */
	__atomic_store_n(&s->published, req, __ATOMIC_RELEASE);
	__atomic_store_n(&s->request, 0, __ATOMIC_RELEASE);
	assert_int_equal(heap_tree_read(run, &pid, 1, &t), 0);
	assert_int_equal(t.nunanswered, 0);
	assert_int_equal(t.allocator, allocator);
	assert_int_equal(t.live, live);
	assert_int_equal(t.held, held);
	assert_int_equal(t.mmapped, mmapped);
	munmap(s, sizeof(*s));
	close(fd);
	heap_cleanup(run);
}

static void test_figures_by_hand(void **state)
{
	const int64_t Mi = 1LL << 20;
	int64_t st[HS_NSTATS] = {0};
	st[HS_GLIBC_ARENA] = 40 * Mi;
	st[HS_GLIBC_INUSE] = 8 * Mi;
	st[HS_GLIBC_FREE] = 32 * Mi;
	st[HS_GLIBC_MMAPPED] = 64 * Mi;
	figures_by_hand(HEAP_ALLOC_GLIBC, st, 72 * Mi, 32 * Mi, 64 * Mi);
	/* nothing mmapped: held is the arena's free part all the same */
	st[HS_GLIBC_MMAPPED] = 0;
	figures_by_hand(HEAP_ALLOC_GLIBC, st, 8 * Mi, 32 * Mi, 0);
	memset(st, 0, sizeof(st));
	st[HS_JE_ALLOCATED] = 50 * Mi;
	st[HS_JE_TCACHE] = 2 * Mi;
	st[HS_JE_RESIDENT] = 60 * Mi;
	st[HS_JE_ACTIVE] = 52 * Mi;
	figures_by_hand(HEAP_ALLOC_JEMALLOC, st, 48 * Mi, 12 * Mi, HR_UNKNOWN);
	memset(st, 0, sizeof(st));
	st[HS_MI_COMMIT] = 64 * Mi;
	st[HS_MI_RSS] = 60 * Mi;
	figures_by_hand(HEAP_ALLOC_MIMALLOC, st, HR_UNKNOWN, HR_UNKNOWN, HR_UNKNOWN);
}

/* a segment with our name that is not one: rejected with a reason, never followed */
static void test_corrupt_segment(void **state)
{
	const char *run = "corrupttest";
	pid_t pid = getpid();
	struct heap_seg *s;
	int fd = fake_segment(run, true, 0600, &s);
	memset(s, 0xa5, sizeof(*s));
	struct heap_totals t;
	/* invalid for an instant is the shim initialising it; for HEAP_CORRUPT_READS reads, corrupt */
	for (int i = 1; i < HEAP_CORRUPT_READS; i++)
		assert_int_equal(heap_tree_read(run, &pid, 1, &t), -EAGAIN);
	assert_int_equal(heap_tree_read(run, &pid, 1, &t), -EPROTO);
	assert_non_null(strstr(t.reason, "corrupt"));
	/* right magic, wrong version */
	seg_fill_valid(s, pid);
	s->version = 99;
	for (int i = 1; i < HEAP_CORRUPT_READS; i++)
		heap_tree_read(run, &pid, 1, &t);
	assert_int_equal(heap_tree_read(run, &pid, 1, &t), -EPROTO);
	/* a valid one */
	seg_fill_valid(s, pid);
	s->retired.live_bytes = 12345;
	assert_int_equal(heap_tree_read(run, &pid, 1, &t), 0);
	assert_int_equal(t.live, 12345);
	/* a hiwater past the slots is not followed */
	s->hiwater = HEAP_SEG_SLOTS + 1000;
	for (int i = 1; i < HEAP_CORRUPT_READS; i++)
		assert_int_equal(heap_tree_read(run, &pid, 1, &t), -EAGAIN);
	assert_int_equal(heap_tree_read(run, &pid, 1, &t), -EPROTO);
	s->hiwater = 0;
	/* 1024 GiB live in a process whose address space is far smaller: not believed (16.2). (A
	 * sanitizer build's own address space is tens of TiB of shadow: 1 PiB there.) */
	s->retired.live_bytes = SANITIZED ? 1LL << 50 : 1LL << 40;
	assert_int_equal(heap_tree_read(run, &pid, 1, &t), -EPROTO);
	assert_non_null(strstr(t.reason, "more than the process can hold"));
	assert_int_equal(t.live, HR_UNKNOWN);
	s->retired.live_bytes = 12345;
	s->retired.allocs = ~0ULL;   /* a count no process reaches */
	assert_int_equal(heap_tree_read(run, &pid, 1, &t), -EPROTO);
	s->retired.allocs = 1;
	assert_int_equal(heap_tree_read(run, &pid, 1, &t), 0);
	/* sealed: nobody can shrink it under the mappings (16.1) */
	assert_int_equal(ftruncate(fd, 64), -1);
	assert_int_equal(errno, EPERM);
	/* gone: closed and unmapped (by the reader too: here the reader is the process itself) */
	munmap(s, sizeof(*s));
	close(fd);
	heap_cleanup(run);
	assert_int_equal(heap_tree_read(run, &pid, 1, &t), -EAGAIN);
	heap_cleanup(run);

	/* not sealed, or readable by others: refused before it is ever mapped */
	fd = fake_segment("unsealed", false, 0600, &s);
	seg_fill_valid(s, pid);
	/* for an instant it may be the shim between making and sealing it; read after read, refused */
	for (int i = 1; i < HEAP_CORRUPT_READS; i++)
		assert_int_equal(heap_tree_read("unsealed", &pid, 1, &t), -EAGAIN);
	assert_int_equal(heap_tree_read("unsealed", &pid, 1, &t), -EPROTO);
	assert_non_null(strstr(t.reason, "not sealed"));
	munmap(s, sizeof(*s));
	close(fd);
	heap_cleanup("unsealed");
	fd = fake_segment("openmode", true, 0666, &s);
	seg_fill_valid(s, pid);
	for (int i = 1; i < HEAP_CORRUPT_READS; i++)
		assert_int_equal(heap_tree_read("openmode", &pid, 1, &t), -EAGAIN);
	assert_int_equal(heap_tree_read("openmode", &pid, 1, &t), -EPROTO);
	assert_non_null(strstr(t.reason, "mode 0666"));
	munmap(s, sizeof(*s));
	close(fd);
	heap_cleanup("openmode");
}

struct sites_seen {
	int n;
	struct heap_site_read s[8];
};

static void sites_collect(void *ctx, const struct heap_site_read *r)
{
	struct sites_seen *seen = ctx;
	if (seen->n < 8)
		seen->s[seen->n++] = *r;
}

/* a sites-mode segment says anything: frame counts beyond the table, frames outside the pool,
 * counts beyond any process, an interval outside the range, a sites area in a stats segment */
static void test_sites_segment_bounds(void **state)
{
	const char *run = "sitesbounds";
	pid_t pid = getpid();
	char name[96];
	snprintf(name, sizeof(name), HEAP_SEG_NAME "%s-%d", run, (int)pid);
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0600), 0);
	assert_int_equal(ftruncate(fd, HEAP_SEG_SIZE_SITES), 0);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	struct heap_seg *s = mmap(NULL, HEAP_SEG_SIZE_SITES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(s != MAP_FAILED);
	seg_fill_valid(s, pid);
	s->size = HEAP_SEG_SIZE_SITES;
	s->mode = HEAP_SEG_SITES;
	struct heap_seg_sites *ss = heap_seg_sites_of(s);
	ss->interval = 65536;
	ss->hiwater = 5;
	ss->samples = 10;
	ss->unwalkable = 1;
	ss->pool[0] = 0x1234;
	ss->pool[1] = 0x5678;
	/* 1: valid, two frames; 2: 1000 frames; 3: frames past the pool; 4: a count no process
	 * reaches; 5 (beyond hiwater's own site but within it): not ready */
	ss->sites[1] = (struct heap_seg_site){.hash = 11, .state = 2, .nframes = 2, .first = 0, .live_bytes = 4096,
					      .live_objects = 3 * HEAP_SITE_OBJ_ONE, .alloc_bytes = 8192,
					      .alloc_objects = 6 * HEAP_SITE_OBJ_ONE};
	ss->sites[2] = (struct heap_seg_site){.hash = 12, .state = 2, .nframes = 1000, .live_bytes = 1};
	ss->sites[3] = (struct heap_seg_site){.hash = 13, .state = 2, .nframes = 4, .first = HEAP_SITE_POOL - 2,
					      .live_bytes = -5};
	ss->sites[4] = (struct heap_seg_site){.hash = 14, .state = 2, .nframes = 1, .live_bytes = 1LL << 60};
	ss->sites[5] = (struct heap_seg_site){.hash = 15, .state = 1, .nframes = 1, .live_bytes = 7};
	struct heap_totals t;
	assert_int_equal(heap_tree_read(run, &pid, 1, &t), 0);
	assert_int_equal(t.mode, HEAP_SEG_SITES);
	struct sites_seen seen = {0};
	struct heap_sites_info info;
	assert_int_equal(heap_sites_read(sites_collect, &seen, &info), 0);
	assert_int_equal(info.nsegments, 1);
	assert_int_equal(info.interval, 65536);
	assert_int_equal(info.samples, 10);
	assert_int_equal(info.refused, 1);    /* site 4 */
	assert_int_equal(seen.n, 3);          /* sites 1, 2, 3 (0 is not ready here, 5 is being written) */
	assert_int_equal(seen.s[0].index, 1);
	assert_int_equal(seen.s[0].nframes, 2);
	assert_int_equal(seen.s[0].pc[1], 0x5678);
	assert_int_equal(seen.s[0].live_objects, 3);
	assert_int_equal(seen.s[0].alloc_bytes, 8192);
	assert_int_equal(seen.s[1].nframes, 0);   /* 1000 frames: the counts, not the stack */
	assert_int_equal(seen.s[2].nframes, 0);   /* past the pool */
	assert_int_equal(seen.s[2].live_bytes, 0); /* negative: floored */
	/* hiwater beyond the table is clamped, never followed */
	ss->hiwater = 1u << 30;
	seen.n = 0;
	assert_int_equal(heap_tree_read(run, &pid, 1, &t), 0);
	assert_int_equal(heap_sites_read(sites_collect, &seen, &info), 0);
	assert_int_equal(seen.n, 3);
	/* an interval outside the range: the segment's sites are not read */
	ss->interval = 0;
	seen.n = 0;
	assert_int_equal(heap_tree_read(run, &pid, 1, &t), 0);
	assert_int_equal(heap_sites_read(sites_collect, &seen, &info), 0);
	assert_int_equal(seen.n, 0);
	assert_int_equal(info.refused, 1);
	/* a sites-sized segment that says stats mode: corrupt */
	s->mode = HEAP_SEG_STATS;
	for (int i = 1; i < HEAP_CORRUPT_READS; i++)
		heap_tree_read(run, &pid, 1, &t);
	assert_int_equal(heap_tree_read(run, &pid, 1, &t), -EPROTO);
	munmap(s, HEAP_SEG_SIZE_SITES);
	close(fd);
	heap_cleanup(run);
}

/* 16.2: another local user plants a segment under the expected name in a process of a third
 * uid (a memfd passed to it): refused with the owner named, its 1024 GiB never counted. */
static void test_planted_segment(void **state)
{
	if (getuid() != 0)
		skip();
	const char *run = "planted";
	int pfd[2];
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	pid_t pid = fork();
	if (pid == 0) {
		/* uid 12345 makes the segment, then the process becomes uid 65534 and keeps it */
		if (setresuid(12345, 12345, 0) != 0)
			_exit(2);
		char name[96];
		snprintf(name, sizeof(name), HEAP_SEG_NAME "%s-%d", run, (int)getpid());
		int fd = memfd_create(name, MFD_ALLOW_SEALING);
		struct heap_seg *s;
		if (fd < 0 || fchmod(fd, 0600) < 0 || ftruncate(fd, sizeof(*s)) < 0 ||
		    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
			_exit(3);
		s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (s == MAP_FAILED)
			_exit(4);
		seg_fill_valid(s, getpid());
		s->retired.live_bytes = 1LL << 40;
		if (seteuid(0) != 0 || setresuid(65534, 65534, 65534) != 0)
			_exit(5);
		if (write(pfd[1], "x", 1) != 1)
			_exit(6);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	char x;
	assert_int_equal(read(pfd[0], &x, 1), 1);
	close(pfd[0]);
	struct heap_totals t;
	int rc = heap_tree_read(run, &pid, 1, &t);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	heap_cleanup(run);
	if (!strstr(t.reason, "owned by uid 12345"))
		print_error("rc %d reason: %s\n", rc, t.reason);
	assert_int_equal(rc, -EPROTO);
	assert_non_null(strstr(t.reason, "owned by uid 12345"));
	assert_int_equal(t.live, HR_UNKNOWN);
}

/* 16.1: the segment truncated while the target runs (by anyone who can open it): the kernel
 * refuses, the target lives on, and its heap is still read. */
static void test_truncate_target(void **state)
{
	SKIP_IF_SANITIZED();
	char prog[PATH_MAX];
	prog_path(prog, sizeof(prog), "heap_live");
	char *argv[] = {prog, "10485760", "1000", "20", NULL};
	struct child c;
	assert_int_equal(child_start(&c, "stats", NULL, NULL, argv), 0);
	struct heap_totals t;
	assert_int_equal(read_fresh(c.run, &c.pid, 1, &t), 0);
	/* the segment as anyone with access to the process finds it */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)c.pid, HEAP_SEG_FD_MIN);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(fd, 64), -1);
	close(fd);
	sleep_ms(200);
	assert_int_equal(waitpid(c.pid, NULL, WNOHANG), 0);   /* alive: no SIGBUS */
	assert_int_equal(read_fresh(c.run, &c.pid, 1, &t), 0);
	assert_near(t.live, field(c.ready, "usable"), 0.05, "live heap after the attempt");
	child_stop(&c);
}

/* /dev/shm full (or missing) no longer matters: the segment is a memfd */
static void test_full_devshm(void **state)
{
	SKIP_IF_SANITIZED();
	pid_t tester = fork();
	if (tester == 0) {
		if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=4k") != 0)
			_exit(77);
		int fill = open("/dev/shm/fill", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		char page[4096] = {0};
		while (write(fill, page, sizeof(page)) > 0)
			;
		char prog[PATH_MAX];
		prog_path(prog, sizeof(prog), "heap_live");
		char *argv[] = {prog, "10485760", "1000", "5", NULL};
		struct child c;
		if (child_start(&c, "count", NULL, NULL, argv) != 0)
			_exit(1);
		struct heap_totals t;
		int rc = read_fresh(c.run, &c.pid, 1, &t);
		long long usable = field(c.ready, "usable");
		child_stop(&c);
		_exit(rc == 0 && t.live > usable * 98 / 100 && t.live < usable * 102 / 100 ? 0 : 2);
	}
	int st;
	waitpid(tester, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		skip();
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* Samples a child with the real sampler and the heap_run hook until the allocator has answered,
 * then takes one sample with a fresh sampler, whose first sample always reads smaps (later ones
 * are spaced out to keep smaps under 1 % of the time: seconds for a 400 MiB process). */
static int sample_child(pid_t pid, struct heap_run *h, struct sample *out)
{
	struct sampler sm;
	struct sampler_config cfg = {.proc_root = "/proc", .root_pid = pid, .interval_ns = 100000000LL,
				     .read_heap = heap_run_read, .heap_ctx = h};
	int rc = sampler_init(&sm, &cfg);
	if (rc < 0)
		return rc;
	for (int i = 0; i < 100; i++) {
		sleep_ms(100);
		rc = sampler_take(&sm, i, out);
		if (rc == 0 && i > 3 && out->heap_live != HR_UNKNOWN && h->last.nunanswered == 0)
			break;
	}
	sampler_destroy(&sm);
	if (rc < 0)
		return rc;
	sleep_ms(150);
	rc = sampler_init(&sm, &cfg);
	if (rc == 0) {
		rc = sampler_take(&sm, 0, out);
		sampler_destroy(&sm);
	}
	return rc;
}

/* the run adapter with the real sampler; the fragmentation program's breakdown: small heap,
 * large allocator-held, parts that add up to RSS */
static void test_run_breakdown_frag(void **state)
{
	SKIP_IF_SANITIZED();
	char prog[PATH_MAX];
	prog_path(prog, sizeof(prog), "heap_frag");
	struct heap_run h;
	assert_int_equal(heap_run_prepare(&h, "stats", prog, shim), 0);
	assert_int_equal(h.state, HEAP_RUN_PENDING);
	int pfd[2];
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		execl(prog, prog, "419430400", "512", "20", (char *)NULL);
		_exit(127);
	}
	heap_run_forked(&h);
	assert_null(getenv("LD_PRELOAD"));
	close(pfd[1]);
	FILE *out = fdopen(pfd[0], "r");
	char line[256];
	assert_non_null(fgets(line, sizeof(line), out));
	struct sample s;
	sample_clear(&s);
	assert_int_equal(sample_child(pid, &h, &s), 0);
	char note[300];
	assert_int_equal(h.state, HEAP_RUN_AVAILABLE);
	assert_string_equal(h.status, "available: glibc, stats mode");
	assert_non_null(heap_run_note(&h, note, sizeof(note)));
	assert_non_null(strstr(note, "glibc"));
	assert_null(heap_run_note(&h, note, sizeof(note)));   /* once */
	struct breakdown b;
	assert_int_equal(breakdown_from_sample(&s, &b), 0);
	assert_int_equal(b.heap + b.allocator + b.stacks + b.code + b.mapped_files + b.shmem + b.other, b.rss);
	assert_near(b.heap, field(line, "live"), 0.05, "breakdown: live heap");
	assert_true(b.allocator > 300LL << 20);
	assert_true(b.rss > 350LL << 20);
	assert_near(b.rss, s.rss, 0.05, "breakdown total vs status RSS");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fclose(out);
	heap_run_finish(&h);
}

/* 16 threads x 1 MiB of touched stack: the smaps classifier's stacks within 10 % */
static void test_breakdown_stacks(void **state)
{
	char prog[PATH_MAX];
	prog_path(prog, sizeof(prog), "stacks16");
	char *argv[] = {prog, "16", "1048576", "20", NULL};
	struct child c;
	assert_int_equal(child_start(&c, NULL, NULL, NULL, argv), 0);
	struct heap_run h;
	assert_int_equal(heap_run_prepare(&h, "off", NULL, NULL), 0);
	assert_null(heap_run_note(&h, (char[64]){0}, 64));
	struct sampler sm;
	struct sampler_config cfg = {.proc_root = "/proc", .root_pid = c.pid, .interval_ns = 100000000LL,
				     .smaps_every_ns = 1};
	assert_int_equal(sampler_init(&sm, &cfg), 0);
	struct sample s;
	assert_int_equal(sampler_take(&sm, 0, &s), 0);
	sampler_destroy(&sm);
	struct breakdown b;
	assert_int_equal(breakdown_from_sample(&s, &b), 0);
	assert_int_equal(b.heap, HR_UNKNOWN);
	assert_int_equal(b.allocator, HR_UNKNOWN);
	/* the threads' stacks, plus the main thread's few pages */
	assert_near(b.stacks, 16LL << 20, 0.10, "stacks");
	assert_int_equal(b.stacks + b.code + b.mapped_files + b.shmem + b.other, b.rss);
	child_stop(&c);
}

static void test_run_unavailable(void **state)
{
	struct heap_run h;
	char note[300];
	const char *bb = access("/usr/bin/busybox", X_OK) == 0 ? "/usr/bin/busybox" : "/sbin/ldconfig";
	assert_int_equal(heap_run_prepare(&h, "count", bb, shim), 0);
	assert_int_equal(h.state, HEAP_RUN_UNAVAILABLE);
	assert_false(h.injected);
	assert_null(getenv(HEAP_ENV_RUN));
	assert_non_null(heap_run_note(&h, note, sizeof(note)));
	assert_non_null(strstr(note, "heap unavailable: a statically linked program"));
	assert_int_equal(heap_run_prepare(&h, "sideways", NULL, shim), -EINVAL);
	assert_int_equal(heap_run_prepare(&h, "count", "busybox", shim), 0);   /* found in PATH */
	if (access("/usr/bin/busybox", X_OK) == 0)
		assert_int_equal(h.state, HEAP_RUN_UNAVAILABLE);
	assert_int_equal(heap_run_prepare(&h, "stats", "/bin/sh", "/nonexistent/libheadroom-heap.so"), 0);
	assert_int_equal(h.state, HEAP_RUN_UNAVAILABLE);
	assert_non_null(strstr(h.status, "not found"));
	struct sample s;
	sample_clear(&s);
	s.map_anon = HR_UNKNOWN;
	struct breakdown b;
	assert_int_equal(breakdown_from_sample(&s, &b), -ENODATA);
}

static void test_env_prepare(void **state)
{
	char run[40];
	assert_int_equal(heap_env_prepare(shim, "sideways", run, sizeof(run)), -EINVAL);
	assert_int_equal(heap_env_prepare("/nonexistent/libx.so", "stats", run, sizeof(run)), -ENOENT);
	setenv("LD_PRELOAD", "/lib/a.so", 1);
	assert_int_equal(heap_env_prepare(shim, "count", run, sizeof(run)), 0);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "%s /lib/a.so", shim);
	assert_string_equal(getenv("LD_PRELOAD"), want);
	assert_string_equal(getenv(HEAP_ENV_MODE), "count");
	assert_string_equal(getenv(HEAP_ENV_RUN), run);
	heap_env_restore();
	assert_string_equal(getenv("LD_PRELOAD"), "/lib/a.so");
	assert_null(getenv(HEAP_ENV_RUN));
	unsetenv("LD_PRELOAD");
	/* sites mode: the interval in the environment, bounded */
	struct heap_run h;
	assert_int_equal(heap_run_prepare_interval(&h, "sites", HEAP_SITE_INTERVAL_MIN - 1, NULL, shim), -EINVAL);
	assert_int_equal(heap_run_prepare_interval(&h, "sites", HEAP_SITE_INTERVAL_MAX + 1, NULL, shim), -EINVAL);
	assert_int_equal(heap_run_prepare_interval(&h, "sites", 65536, NULL, shim), 0);
	assert_string_equal(getenv(HEAP_ENV_MODE), "sites");
	assert_string_equal(getenv(HEAP_ENV_INTERVAL), "65536");
	assert_int_equal(h.sample_interval, 65536);
	heap_run_forked(&h);
	assert_null(getenv(HEAP_ENV_INTERVAL));
	assert_int_equal(heap_run_prepare_interval(&h, "sites", 0, NULL, shim), 0);
	assert_int_equal(h.sample_interval, HEAP_SITE_INTERVAL_DEFAULT);
	heap_run_forked(&h);
	unsetenv("LD_PRELOAD");
	assert_int_equal(heap_tree_read("bad id!", NULL, 0, &(struct heap_totals){0}), -EINVAL);
	struct sample s;
	sample_clear(&s);
	struct heap_totals t = {.live = 5, .held = 6, .mmapped = 7, .allocs = 8, .frees = 9, .live_peak = 10};
	s.t_ns = 5000;
	t.taken_ns = 1000 + 4000;
	heap_totals_to_sample(&t, 1000, &s);
	assert_int_equal(s.heap_t_ns, 4000);
	t.taken_ns = 1000 + 9000;   /* later than the sample: never claimed */
	heap_totals_to_sample(&t, 1000, &s);
	assert_int_equal(s.heap_t_ns, 5000);
	t.taken_ns = HR_UNKNOWN;
	heap_totals_to_sample(&t, 1000, &s);
	assert_int_equal(s.heap_t_ns, HR_UNKNOWN);
	t.taken_ns = 1000 + 4000;
	heap_totals_to_sample(&t, 1000, &s);
	assert_int_equal(s.heap_live, 5);
	assert_int_equal(s.heap_held, 6);
	assert_int_equal(s.heap_live_peak, 10);
}

int main(void)
{
	ssize_t n = readlink("/proc/self/exe", build_dir, sizeof(build_dir) - 1);
	if (n <= 0)
		return 1;
	build_dir[n] = '\0';
	*strrchr(build_dir, '/') = '\0';
	snprintf(shim, sizeof(shim), "%s/libheadroom-heap.so", build_dir);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_prepare),
		cmocka_unit_test(test_corrupt_segment),
		cmocka_unit_test(test_sites_segment_bounds),
		cmocka_unit_test(test_planted_segment),
		cmocka_unit_test(test_figures_by_hand),
		cmocka_unit_test(test_truncate_target),
		cmocka_unit_test(test_static_binary),
		cmocka_unit_test(test_go_binary),
		cmocka_unit_test(test_live100_stats_glibc),
		cmocka_unit_test(test_live100_count_glibc),
		cmocka_unit_test(test_live100_stats_jemalloc),
		cmocka_unit_test(test_live100_count_jemalloc),
		cmocka_unit_test(test_live100_stats_mimalloc),
		cmocka_unit_test(test_live100_count_mimalloc),
		cmocka_unit_test(test_idle_sleep_glibc),
		cmocka_unit_test(test_idle_sleep_jemalloc),
		cmocka_unit_test(test_idle_sleep_mimalloc),
		cmocka_unit_test(test_idle_read_glibc),
		cmocka_unit_test(test_idle_read_jemalloc),
		cmocka_unit_test(test_idle_read_mimalloc),
		cmocka_unit_test(test_idle_spin_glibc),
		cmocka_unit_test(test_idle_spin_jemalloc),
		cmocka_unit_test(test_idle_bursts_glibc),
		cmocka_unit_test(test_idle_bursts_jemalloc),
		cmocka_unit_test(test_idle_bursts_mimalloc),
		cmocka_unit_test(test_idle_closefds),
		cmocka_unit_test(test_stopped_stats_glibc),
		cmocka_unit_test(test_stopped_count_glibc),
		cmocka_unit_test(test_stopped_stats_jemalloc),
		cmocka_unit_test(test_stopped_count_jemalloc),
		cmocka_unit_test(test_stopped_stats_mimalloc),
		cmocka_unit_test(test_stopped_count_mimalloc),
		cmocka_unit_test(test_stress_stats_glibc),
		cmocka_unit_test(test_stress_stats_jemalloc),
		cmocka_unit_test(test_stress_count_glibc),
		cmocka_unit_test(test_stress_count_jemalloc),
		cmocka_unit_test(test_frag_stats),
		cmocka_unit_test(test_frag_count),
		cmocka_unit_test(test_mixed_stats),
		cmocka_unit_test(test_mixed_count),
		cmocka_unit_test(test_threads_count),
		cmocka_unit_test(test_threads_count_jemalloc),
		cmocka_unit_test(test_peak_count),
		cmocka_unit_test(test_fork_exec),
		cmocka_unit_test(test_preload_removed),
		cmocka_unit_test(test_setuid),
		cmocka_unit_test(test_full_devshm),
		cmocka_unit_test(test_run_breakdown_frag),
		cmocka_unit_test(test_breakdown_stacks),
		cmocka_unit_test(test_run_unavailable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
