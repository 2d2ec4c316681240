/* html: the report file itself — written whole or not at all, text from the recording escaped,
 * bounded in size however many samples, and a one-interval spike kept through decimation. The
 * rendering in a browser is tests/it_html_report.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "html.h"

static char dir[] = "/tmp/headroom-test-html-XXXXXX";

struct mem {
	struct recording rec;
	int64_t *rss, *peak;
};

static void mem_make(struct mem *m, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->rec.nsamples = n;
	m->rec.t_ns = malloc(n * sizeof(int64_t));
	m->rss = malloc(n * sizeof(int64_t));
	m->peak = malloc(n * sizeof(int64_t));
	assert_non_null(m->rec.t_ns);
	assert_non_null(m->rss);
	assert_non_null(m->peak);
	for (size_t i = 0; i < n; i++) {
		m->rec.t_ns[i] = (int64_t)i * 10000000;
		m->rss[i] = (100LL << 20) + (int64_t)(i % 7) * 4096;
		m->peak[i] = m->rss[i] + 8192;
	}
	m->rec.col[0] = m->rss;
	m->rec.col_name[0] = "rss";
	m->rec.col[1] = m->peak;
	m->rec.col_name[1] = "rss_peak";
	m->rec.ncols = 2;
	m->rec.run.interval_ns = 10000000;
	m->rec.run.duration_ns = (int64_t)n * 10000000;
	m->rec.run.finished = true;
	m->rec.run.rss_peaks_exact = true;
	snprintf(m->rec.run.mode, sizeof(m->rec.run.mode), "run");
}

static void mem_free(struct mem *m)
{
	free(m->rec.t_ns);
	free(m->rss);
	free(m->peak);
}

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "re");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *p = malloc((size_t)len + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)len, f), (size_t)len);
	p[len] = '\0';
	fclose(f);
	if (ret_len)
		*ret_len = (size_t)len;
	return p;
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void rejects_bad_arguments(void **state)
{
	(void)state;
	struct mem m;
	mem_make(&m, 10);
	char path[256];
	snprintf(path, sizeof(path), "%s/x.html", dir);
	assert_int_equal(html_write_report(NULL, &m.rec, NULL), -EINVAL);
	assert_int_equal(html_write_report(path, NULL, NULL), -EINVAL);
	assert_int_equal(html_write_compare(path, &m.rec, NULL, NULL, NULL), -EINVAL);
	int64_t *t = m.rec.t_ns;
	m.rec.t_ns = NULL;   /* samples without times */
	assert_int_equal(html_write_report(path, &m.rec, NULL), -EINVAL);
	m.rec.t_ns = t;
	assert_int_equal(access(path, F_OK), -1);
	mem_free(&m);
}

static void unwritable_path_leaves_nothing(void **state)
{
	(void)state;
	struct mem m;
	mem_make(&m, 10);
	char path[256], tmp[300];
	snprintf(path, sizeof(path), "%s/no-such-dir/x.html", dir);
	assert_int_equal(html_write_report(path, &m.rec, NULL), -ENOENT);
	/* a directory in the way of the rename: the temporary file must not stay behind */
	snprintf(path, sizeof(path), "%s/adir", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_true(html_write_report(path, &m.rec, NULL) < 0);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1);
	mem_free(&m);
}

static void escapes_text_from_the_recording(void **state)
{
	(void)state;
	struct mem m;
	mem_make(&m, 100);
	snprintf(m.rec.run.command, sizeof(m.rec.run.command), "[\"sh\",\"-c\",\"echo '</code><script>alert(1)</script>' & x\"]");
	struct record_event ev = {.t_ns = 5, .kind = "note", .value = 0, .detail = "<img src=x onerror=alert(2)>"};
	m.rec.events = &ev;
	m.rec.nevents = 1;
	struct html_summary sum;
	html_summary_init(&sum);
	sum.verdict = "a <b>verdict</b> & more";
	char path[256];
	snprintf(path, sizeof(path), "%s/esc.html", dir);
	assert_int_equal(html_write_report(path, &m.rec, &sum), 0);
	char *p = slurp(path, NULL);
	assert_null(strstr(p, "<script>alert(1)"));
	assert_null(strstr(p, "<img src=x"));
	assert_null(strstr(p, "<b>verdict</b>"));
	assert_non_null(strstr(p, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(p, "&lt;img src=x onerror=alert(2)&gt;"));
	assert_non_null(strstr(p, "a &lt;b&gt;verdict&lt;/b&gt; &amp; more"));
	free(p);
	mem_free(&m);
}

/* A million samples: the page stays small and the one-interval spike is in it at full height. */
static void million_samples_keep_the_spike(void **state)
{
	(void)state;
	struct mem m;
	mem_make(&m, 1000000);
	int64_t spike = (700LL << 20) + 12345;
	m.peak[654321] = spike;
	char path[256], needle[64];
	snprintf(path, sizeof(path), "%s/big.html", dir);
	assert_int_equal(html_write_report(path, &m.rec, NULL), 0);
	size_t len;
	char *p = slurp(path, &len);
	assert_true(len < 600000);
	snprintf(needle, sizeof(needle), ",%lld,", (long long)spike);
	assert_non_null(strstr(p, needle));          /* in the hover data of the decimated column */
	assert_non_null(strstr(p, "peak 700.0Mi"));  /* and marked on the chart */
	free(p);
	mem_free(&m);
}

/* Event marks are bounded; a thousand limit hits before the OOM kill must not hide it. */
static void oom_kill_marked_after_many_limit_hits(void **state)
{
	(void)state;
	struct mem m;
	mem_make(&m, 2000);
	struct record_event *ev = calloc(1001, sizeof(*ev));
	assert_non_null(ev);
	for (int i = 0; i < 1000; i++) {
		ev[i].t_ns = (int64_t)i * 10000000;
		snprintf(ev[i].kind, sizeof(ev[i].kind), "limit_hit");
	}
	ev[1000].t_ns = 19990000000LL;
	snprintf(ev[1000].kind, sizeof(ev[1000].kind), "oom_kill");
	m.rec.events = ev;
	m.rec.nevents = 1001;
	m.rec.run.oom_killed = true;
	char path[256];
	snprintf(path, sizeof(path), "%s/oom.html", dir);
	assert_int_equal(html_write_report(path, &m.rec, NULL), 0);
	char *p = slurp(path, NULL);
	assert_non_null(strstr(p, "<line class=\"ev oom\""));
	assert_non_null(strstr(p, ">OOM kill</text>"));
	free(p);
	free(ev);
	mem_free(&m);
}

/* The YAML snippet of the recommendation: requests before limits, each with its own figure rounded
 * up to a whole Mi (request 300 MiB + 1 byte -> 301Mi, limit 512 MiB - 1 byte -> 512Mi). */
static void resources_block_has_request_and_limit_in_place(void **state)
{
	(void)state;
	struct mem m;
	mem_make(&m, 100);
	struct html_summary sum;
	html_summary_init(&sum);
	sum.limit_bytes = 512LL * 1024 * 1024 - 1;
	sum.request_bytes = 300LL * 1024 * 1024 + 1;
	char path[256];
	snprintf(path, sizeof(path), "%s/res.html", dir);
	assert_int_equal(html_write_report(path, &m.rec, &sum), 0);
	char *p = slurp(path, NULL);
	assert_non_null(strstr(p, "<pre><code>resources:\n  requests:\n    memory: 301Mi\n  limits:\n    memory: 512Mi</code></pre>"));
	assert_non_null(strstr(p, "limit 512Mi · request 301Mi"));
	free(p);
	mem_free(&m);
}

static void summary_init_is_not_available(void **state)
{
	(void)state;
	struct html_summary s;
	memset(&s, 0x5a, sizeof(s));
	html_summary_init(&s);
	assert_null(s.verdict);
	assert_int_equal(s.nanswers, 0);
	assert_int_equal(s.limit_bytes, HR_UNKNOWN);
	assert_int_equal(s.request_bytes, HR_UNKNOWN);
	assert_int_equal(s.nphases, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rejects_bad_arguments),
		cmocka_unit_test(unwritable_path_leaves_nothing),
		cmocka_unit_test(escapes_text_from_the_recording),
		cmocka_unit_test(million_samples_keep_the_spike),
		cmocka_unit_test(oom_kill_marked_after_many_limit_hits),
		cmocka_unit_test(summary_init_is_not_available),
		cmocka_unit_test(resources_block_has_request_and_limit_in_place),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
