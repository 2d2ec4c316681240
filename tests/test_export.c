/* export and promsize: label escaping, cgroup discovery, the sliding peak window against this
 * very process, and parsing of real Prometheus API answers (tests/fixtures/prometheus). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "export.h"
#include "probe.h"
#include "promsize.h"
#include "util.h"

static void escape_label_values(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(export_escape_label("/sys/fs/cgroup/a", out, sizeof(out)), 16);
	assert_string_equal(out, "/sys/fs/cgroup/a");
	assert_true(export_escape_label("a\"b\\c\nd", out, sizeof(out)) > 0);
	assert_string_equal(out, "a\\\"b\\\\c\\nd");
	assert_int_equal(export_escape_label("0123456789", out, 10), -ENOSPC);
	assert_int_equal(export_escape_label("\"\"\"\"", out, 8), -ENOSPC);
}

/* ---- cgroup discovery on a directory tree shaped like kubepods ---- */

static void mk(const char *root, const char *rel, const char *procs)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_int_equal(mkdir(p, 0755), 0);
	if (procs) {
		snprintf(p, sizeof(p), "%s/%s/cgroup.procs", root, rel);
		FILE *f = fopen(p, "we");
		assert_non_null(f);
		fputs(procs, f);
		assert_int_equal(fclose(f), 0);
	}
}

struct found {
	char paths[8][512];
	int n;
};

static void on_found(void *ctx, const char *path)
{
	struct found *f = ctx;
	if (f->n < 8)
		snprintf(f->paths[f->n++], 512, "%s", path);
}

static bool has(const struct found *f, const char *root, const char *rel)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->paths[i], p) == 0)
			return true;
	return false;
}

static void scan_finds_cgroups_with_processes(void **state)
{
	(void)state;
	char root[] = "/tmp/headroom-test-scan.XXXXXX";
	assert_non_null(mkdtemp(root));
	mk(root, "burstable", "");
	mk(root, "burstable/pod1", "");
	mk(root, "burstable/pod1/ctr-a", "101\n102\n");
	mk(root, "burstable/pod1/ctr-b", "");                 /* exited container: no processes */
	mk(root, "burstable/pod1/pause", "7\n");
	char many[400] = "";
	for (int i = 0; i < 50; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%d\n", 1000 + i);
	mk(root, "besteffort", "");
	mk(root, "besteffort/pod2", "");
	mk(root, "besteffort/pod2/ctr-c", many);              /* more pids than the probe buffer */
	mk(root, "plain-dir", NULL);                          /* no cgroup.procs at all */
	struct found f = {0};
	char slash[64];
	snprintf(slash, sizeof(slash), "%s//", root);         /* trailing slashes are tolerated */
	int n = export_scan_cgroups(slash, 8, on_found, &f);
	assert_int_equal(n, 3);
	assert_int_equal(f.n, 3);
	assert_true(has(&f, root, "burstable/pod1/ctr-a"));
	assert_true(has(&f, root, "burstable/pod1/pause"));
	assert_true(has(&f, root, "besteffort/pod2/ctr-c"));
	/* depth limit: nothing at depth 3 is reached with 2 */
	struct found g = {0};
	assert_int_equal(export_scan_cgroups(root, 2, on_found, &g), 0);
	assert_int_equal(export_scan_cgroups("/nonexistent/headroom", 8, on_found, &g), -ENOENT);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

/* ---- the exporter against this process ---- */

static int64_t metric(const char *text, const char *name)
{
	char key[128];
	snprintf(key, sizeof(key), "\n%s{", name);
	const char *p = strstr(text, key);
	if (!p)
		return -1;
	p = strchr(p, '}');
	return p ? strtoll(p + 2, NULL, 10) : -1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0)
		;
}

static void peak_window_slides(void **state)
{
	(void)state;
	struct export_config cfg = {
		.mode = EXPORT_PID, .pid = getpid(), .listen = "127.0.0.1:0",
		.interval_ns = 20 * 1000000LL, .peak_window_ns = 200 * 1000000LL,
		.reset_peaks = true, /* exact interval peaks: VmHWM reset every sample */
	};
	struct exporter *e;
	char why[256];
	assert_int_equal(export_start(&e, &cfg, why, sizeof(why)), 0);
	assert_true(export_port(e) > 0);
	/* the first samples: polled, a loaded machine decides when the sampling thread runs (the
	 * bound is for one that never samples) */
	size_t len;
	char *t = NULL;
	int64_t base = -1;
	for (int i = 0; i < 1000 && base <= 0; i++) {
		sleep_ms(10);
		free(t);
		t = export_render(e, &len);
		assert_non_null(t);
		base = metric(t, "headroom_rss_bytes");
	}
	assert_int_equal(strlen(t), len);
	assert_true(base > 0);
	bool exact = metric(t, "headroom_rss_peak_exact") == 1;
	/* a pid target has no cgroup and no heap shim: those families are left out, not zero */
	assert_null(strstr(t, "headroom_oom_kills_total"));
	assert_null(strstr(t, "headroom_heap_live_bytes"));
	assert_non_null(strstr(t, "# TYPE headroom_rss_peak_bytes gauge\n"));
	free(t);

	/* a 48 MiB spike, freed before the next sample */
	size_t spike = 48u << 20;
	char *m = mmap(NULL, spike, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	memset(m, 1, spike);
	munmap(m, spike);
	/* the next sample reads the spike from VmHWM whenever it runs, and the 200 ms window keeps
	 * it: polled until it shows (10 s bound) */
	int64_t peak = -1;
	for (int i = 0; i < 1000 && peak < base + (int64_t)spike - (4 << 20); i++) {
		sleep_ms(10);
		t = export_render(e, &len);
		peak = metric(t, "headroom_rss_peak_bytes");
		free(t);
	}
	assert_true(peak >= base + (int64_t)spike - (4 << 20));
	if (exact) {
		/* the window slides: once 200 ms of samples have passed the spike is out of it (polled:
		 * on a loaded machine the sampling thread may run late) */
		int64_t later = -1;
		for (int i = 0; i < 40; i++) {
			sleep_ms(100);
			t = export_render(e, &len);
			later = metric(t, "headroom_rss_peak_bytes");
			free(t);
			if (i >= 3 && later > 0 && later < base + (int64_t)spike / 2)
				break;
		}
		if (!(later > 0 && later < base + (int64_t)spike / 2))
			fail_msg("peak %lld did not fall back below %lld (base %lld)", (long long)later,
			         (long long)(base + (int64_t)spike / 2), (long long)base);
	}
	export_stop(e);
}

/* ---- issue 17.2: the default disturbs no one ---- */

static int64_t vmhwm(pid_t pid)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (util_read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	const char *p = strstr(buf, "VmHWM:");
	return p ? strtoll(p + 6, NULL, 10) * 1024 : -1;
}

/* The program's own peak (VmHWM, which getrusage's ru_maxrss follows) survives the default
 * exporter and is reset only with reset_peaks. */
static void default_leaves_program_peak_alone(void **state)
{
	(void)state;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		size_t spike = 64u << 20;
		char *m = mmap(NULL, spike, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			_exit(1);
		memset(m, 1, spike);
		munmap(m, spike);
		if (write(fds[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char c;
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	close(fds[1]);
	int64_t before = vmhwm(child);
	assert_true(before >= (64 << 20));
	struct export_config cfg = {
		.mode = EXPORT_PID, .pid = child, .listen = "127.0.0.1:0",
		.interval_ns = 20 * 1000000LL, .peak_window_ns = 200 * 1000000LL,
	};
	struct exporter *e;
	char why[256];
	assert_int_equal(export_start(&e, &cfg, why, sizeof(why)), 0);
	sleep_ms(200);
	size_t len;
	char *t = NULL;
	for (int i = 0; i < 100 && (!t || metric(t, "headroom_rss_peak_exact") < 0); i++) {
		free(t);
		sleep_ms(20); /* a loaded machine may run the sampling thread late */
		t = export_render(e, &len);
	}
	assert_int_equal(metric(t, "headroom_rss_peak_exact"), 0);   /* sampled, and says so */
	assert_non_null(strstr(t, "headroom_exporter_peak_resets 0\n"));
	free(t);
	export_stop(e);
	assert_int_equal(vmhwm(child), before);

	cfg.reset_peaks = true;
	assert_int_equal(export_start(&e, &cfg, why, sizeof(why)), 0);
	sleep_ms(200);
	int64_t exact = -1;
	for (int i = 0; i < 100 && exact < 0; i++) {
		sleep_ms(20);
		t = export_render(e, &len);
		exact = metric(t, "headroom_rss_peak_exact");
		free(t);
	}
	export_stop(e);
	if (exact == 1)                                             /* clear_refs was writable */
		assert_true(vmhwm(child) < (32 << 20));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

/* ---- issue 16.9: a pid is a process only with its start time ---- */

static void start_time_parsed(void **state)
{
	(void)state;
	char buf[1024];
	assert_true(util_read_file(FIXTURES "/proc-6.18/1001/stat", buf, sizeof(buf)) > 0);
	uint64_t st = 0;
	assert_int_equal(probe_parse_start_time(buf, &st), 0);
	assert_int_equal(st, 267288);                               /* field 22 of the captured line */
	/* a command name with spaces and parentheses cannot shift the fields */
	assert_int_equal(probe_parse_start_time("7 (a) b (c) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 4242 1 2", &st), 0);
	assert_int_equal(st, 4242);
	assert_int_equal(probe_parse_start_time("7 (a) S 1 7", &st), -EINVAL);
	/* statm's resident pages are status's VmRSS (the captured pair: 5418 pages, 21672 kB) */
	assert_true(util_read_file(FIXTURES "/proc-6.18/1001/statm", buf, sizeof(buf)) > 0);
	int64_t rss = 0;
	assert_int_equal(probe_parse_statm_rss(buf, &rss), 0);
	assert_int_equal(rss, 21672 * 1024);
	assert_int_equal(probe_parse_statm_rss("x", &rss), -EINVAL);
	assert_int_equal(probe_parse_start_time("no parenthesis", &st), -EINVAL);
}

struct notes {
	char text[4][512];
	int n;
};

static void on_note(void *ctx, const char *text)
{
	struct notes *n = ctx;
	if (n->n < 4)
		snprintf(n->text[n->n++], 512, "%s", text);
}

/* A process tree in a /proc of captured files: the pid's start time changes as if the process
 * had exited and the kernel had given its pid to another one. */
static void pid_reuse_is_noticed(void **state)
{
	(void)state;
	char d[] = "/tmp/headroom-test-pid.XXXXXX";
	assert_non_null(mkdtemp(d));
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "cp -r " FIXTURES "/proc-6.18/1001 '%s/1001'", d);
	assert_int_equal(system(cmd), 0);
	struct notes notes = {0};
	struct export_config cfg = {
		.mode = EXPORT_PID, .pid = 1001, .proc_root = d, .listen = "127.0.0.1:0",
		.interval_ns = 20 * 1000000LL, .peak_window_ns = 200 * 1000000LL,
		.note = on_note, .note_ctx = &notes,
	};
	struct exporter *e;
	char why[256];
	assert_int_equal(export_start(&e, &cfg, why, sizeof(why)), 0);
	/* polled: on a loaded machine the sampling thread may run late */
	size_t len;
	int64_t rss = -1;
	for (int i = 0; i < 250 && rss < 0; i++) {
		sleep_ms(20);
		char *t = export_render(e, &len);
		rss = metric(t, "headroom_rss_bytes");
		free(t);
	}
	assert_int_equal(rss, 21672 * 1024);
	char *t;
	snprintf(cmd, sizeof(cmd), "sed -i 's/ 267288 / 999999 /' '%s/1001/stat'", d);
	assert_int_equal(system(cmd), 0);
	bool gone = false;
	for (int i = 0; i < 250 && !gone; i++) {
		sleep_ms(20);
		t = export_render(e, &len);
		gone = strstr(t, "headroom_rss_bytes{") == NULL && strstr(t, "headroom_exporter_targets 0\n") != NULL;
		free(t);
	}
	assert_true(gone);
	export_stop(e);
	assert_int_equal(notes.n, 1);
	assert_non_null(strstr(notes.text[0], "belongs to another process"));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	assert_int_equal(system(cmd), 0);
}

/* ---- issue 16.12: label values stay valid UTF-8 ---- */

static void escape_invalid_utf8(void **state)
{
	(void)state;
	char out[128];
	/* valid multi-byte sequences pass through */
	assert_true(export_escape_label("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80", out, sizeof(out)) > 0);
	assert_string_equal(out, "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80");
	/* a stray byte, an overlong '/', a surrogate, a truncated sequence, above U+10FFFF */
	assert_true(export_escape_label("a\xff" "b", out, sizeof(out)) > 0);
	assert_string_equal(out, "a\xef\xbf\xbd" "b");
	assert_true(export_escape_label("\xc0\xaf", out, sizeof(out)) > 0);
	assert_string_equal(out, "\xef\xbf\xbd\xef\xbf\xbd");
	assert_true(export_escape_label("\xed\xa0\x80", out, sizeof(out)) > 0);
	assert_string_equal(out, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_true(export_escape_label("x\xe6\x97", out, sizeof(out)) > 0);
	assert_string_equal(out, "x\xef\xbf\xbd\xef\xbf\xbd");
	assert_true(export_escape_label("\xf4\x90\x80\x80", out, sizeof(out)) > 0);
	assert_string_equal(out, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	/* escapes and replacement together, and the bound counts the replacement's 3 bytes */
	assert_true(export_escape_label("\"\xff\n", out, sizeof(out)) > 0);
	assert_string_equal(out, "\\\"\xef\xbf\xbd\\n");
	assert_int_equal(export_escape_label("\xff", out, 3), -ENOSPC);
}

static void gzip_when_asked(void **state)
{
	(void)state;
	assert_true(export_accepts_gzip("gzip"));
	assert_true(export_accepts_gzip("deflate, gzip"));
	assert_true(export_accepts_gzip("GZIP;q=0.5"));
	assert_true(export_accepts_gzip("identity;q=1, gzip ; q=1"));
	assert_false(export_accepts_gzip("gzip;q=0"));
	assert_false(export_accepts_gzip("x-gzip2, deflate"));
	assert_false(export_accepts_gzip("identity"));
	assert_false(export_accepts_gzip(""));
	assert_false(export_accepts_gzip(NULL));
}

static void start_rejects_bad_config(void **state)
{
	(void)state;
	struct exporter *e = (struct exporter *)1;
	char why[256];
	struct export_config cfg = {.mode = EXPORT_PID, .pid = getpid(), .listen = "localhost:9464"};
	assert_int_equal(export_start(&e, &cfg, why, sizeof(why)), -EINVAL);
	assert_null(e);
	assert_non_null(strstr(why, "not an address"));
	cfg.listen = "127.0.0.1:0";
	cfg.interval_ns = 1000000000LL;
	cfg.peak_window_ns = 500000000LL;
	assert_int_equal(export_start(&e, &cfg, why, sizeof(why)), -EINVAL);
	cfg.peak_window_ns = 0;
	cfg.pid = 0x3ffffff0;
	assert_int_equal(export_start(&e, &cfg, why, sizeof(why)), -ESRCH);
	assert_non_null(strstr(why, "no process"));
	cfg.mode = EXPORT_CGROUP;
	cfg.cgroup = "/tmp";
	assert_true(export_start(&e, &cfg, why, sizeof(why)) < 0);
	assert_non_null(strstr(why, "not a memory cgroup"));
	cfg.mode = EXPORT_CGROUP_ROOT;
	cfg.cgroup = "/nonexistent";
	assert_int_equal(export_start(&e, &cfg, why, sizeof(why)), -ENOTDIR);
	/* a port in use is named as such */
	cfg.mode = EXPORT_PID;
	cfg.pid = getpid();
	struct exporter *first;
	assert_int_equal(export_start(&first, &cfg, why, sizeof(why)), 0);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", export_port(first));
	cfg.listen = addr;
	assert_int_equal(export_start(&e, &cfg, why, sizeof(why)), -EADDRINUSE);
	assert_non_null(strstr(why, "in use"));
	export_stop(first);
	export_stop(NULL);
}

/* ---- Prometheus answers ---- */

struct got {
	char labels[4][1024], names[4][256];
	double ts[4], v[4];
	int n;
};

static void on_series(void *ctx, const char *labels, const char *name, double ts, double value)
{
	struct got *g = ctx;
	if (g->n >= 4)
		return;
	snprintf(g->labels[g->n], 1024, "%s", labels);
	snprintf(g->names[g->n], 256, "%s", name);
	g->ts[g->n] = ts;
	g->v[g->n++] = value;
}

static char *fixture(const char *name)
{
	static char buf[8192];
	char path[512];
	snprintf(path, sizeof(path), "%s/prometheus/%s", FIXTURES, name);
	assert_true(util_read_file(path, buf, sizeof(buf)) > 0);
	return buf;
}

static void parse_prometheus_answers(void **state)
{
	(void)state;
	char why[256];
	struct got g = {0};
	assert_int_equal(promsize_parse_vector(fixture("vector.json"), 200, on_series, &g, why, sizeof(why)), 1);
	assert_string_equal(g.labels[0], "instance=\"127.0.0.1:44331\",job=\"headroom\",pid=\"30910\"");
	assert_string_equal(g.names[0], "pid 30910");
	assert_true(g.v[0] == 1695744.0);
	assert_true(g.ts[0] > 1795316291.0 && g.ts[0] < 1795316292.0);

	memset(&g, 0, sizeof(g));
	assert_int_equal(promsize_parse_vector(fixture("cadvisor-vector.json"), 200, on_series, &g, why, sizeof(why)), 2);
	assert_string_equal(g.names[0], "shop/cart-7d9f/cart");
	assert_true(g.v[0] == 268435456.0);
	assert_string_equal(g.names[1], "shop/web-1/web");

	assert_int_equal(promsize_parse_vector(fixture("empty.json"), 200, on_series, &g, why, sizeof(why)), 0);
	assert_int_equal(promsize_parse_vector(fixture("error.json"), 400, on_series, &g, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "bad_data"));
	assert_non_null(strstr(why, "missing closing"));
	assert_int_equal(promsize_parse_vector(fixture("no-query.json"), 400, on_series, &g, why, sizeof(why)), -EINVAL);
	assert_int_equal(promsize_parse_vector(fixture("matrix.json"), 200, on_series, &g, why, sizeof(why)), -EPROTO);
	assert_int_equal(promsize_parse_vector("<html>502 Bad Gateway</html>", 502, on_series, &g, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "HTTP 502"));
	assert_non_null(strstr(why, "<html>502"));
	assert_int_equal(promsize_parse_vector("[1,2]", 200, on_series, &g, why, sizeof(why)), -EPROTO);
	assert_int_equal(promsize_parse_vector("", 200, on_series, &g, why, sizeof(why)), -EPROTO);
}

static void unreachable_prometheus_is_said(void **state)
{
	(void)state;
	struct promsize_options o = {.url = "http://127.0.0.1:1", .window_ns = 3600 * 1000000000LL,
	                             .timeout_ns = 2000000000LL};
	struct promsize_result r;
	char why[512];
	int rc = promsize_run(&o, &r, why, sizeof(why));
	assert_int_equal(rc, -ECONNREFUSED);
	assert_non_null(strstr(why, "cannot reach Prometheus at http://127.0.0.1:1"));
	assert_null(r.rows);
	o.url = "ftp://127.0.0.1/";
	assert_int_equal(promsize_run(&o, &r, why, sizeof(why)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(escape_label_values),
		cmocka_unit_test(scan_finds_cgroups_with_processes),
		cmocka_unit_test(peak_window_slides),
		cmocka_unit_test(default_leaves_program_peak_alone),
		cmocka_unit_test(start_time_parsed),
		cmocka_unit_test(pid_reuse_is_noticed),
		cmocka_unit_test(escape_invalid_utf8),
		cmocka_unit_test(gzip_when_asked),
		cmocka_unit_test(start_rejects_bad_config),
		cmocka_unit_test(parse_prometheus_answers),
		cmocka_unit_test(unreachable_prometheus_is_said),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
