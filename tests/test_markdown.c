/* markdown: the CI summary shows the analysis' own figures and the gate's outcome, and text from
 * a recording (paths, links) cannot inject terminal escapes, break the table or end the link. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gate.h"
#include "markdown.h"

#define MiB (1024LL * 1024)

static struct analysis one(void)
{
	struct analysis a;
	memset(&a, 0, sizeof(a));
	a.verdict = VERDICT_GROWING;
	a.basis = BASIS_CG_USAGE;
	a.peak = 123 * MiB;
	a.startup_peak = 20 * MiB;
	a.steady_p50 = 60 * MiB;
	a.steady_p95 = 100 * MiB;
	a.rss_peak = 130 * MiB;
	a.slope_bytes_per_s = 1024.0 * 1024 / 3600 * 50;   /* +50Mi/h */
	a.mk_p = 0.001;
	a.limit_bytes = 256 * MiB;
	a.cg_oom_kills = 0;
	a.cg_limit_hits = 0;
	return a;
}

static char *render(const char *name, const char *link, const struct markdown_gate *g, const struct sizing *s)
{
	struct analysis a = one();
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(markdown_print_run(f, name, &a, s, link, g), 0);
	fclose(f);
	return buf;
}

static void test_figures_and_gate(void **state)
{
	struct sizing s;
	memset(&s, 0, sizeof(s));
	s.limit_bytes = 154 * MiB;
	s.request_bytes = 100 * MiB;
	s.true_peak = 123 * MiB;
	s.headroom = 0.25;
	s.growing = true;
	struct markdown_gate g = {.wanted = GATE_GROWING | GATE_OOM, .fired = GATE_GROWING, .exit_code = GATE_EXIT_GROWING};
	char *out = render("svc.hr", "svc.html", &g, &s);
	assert_non_null(strstr(out, "memory verdict **growing**"));
	assert_non_null(strstr(out, "| true peak | 123.0Mi |"));
	assert_non_null(strstr(out, "| steady median / p95 | 60.0Mi / 100.0Mi |"));
	assert_non_null(strstr(out, "| trend slope | +50.0Mi/h"));
	assert_non_null(strstr(out, "`limits.memory: 154Mi`, `requests.memory: 100Mi`"));
	assert_non_null(strstr(out, "`growing` **failed**, `oom` passed — exit status 10"));
	assert_non_null(strstr(out, "[HTML](<svc.html>)"));
	assert_non_null(strstr(out, ":x:"));
	free(out);
	/* no gating asked: no gate line, no sizing: no recommendation */
	struct markdown_gate none = {0};
	out = render("svc.hr", NULL, &none, NULL);
	assert_null(strstr(out, "CI gate"));
	assert_null(strstr(out, "Recommendation"));
	assert_null(strstr(out, "[HTML]"));
	free(out);
}

static void test_hostile_text(void **state)
{
	struct markdown_gate none = {0};
	char *out = render("a\x1b[31m|b\n| x |<img src=x>[l](javascript:x)", "r.html>)[evil](http://x\n", &none, NULL);
	assert_null(strchr(out, '\x1b'));
	assert_non_null(strstr(out, "Recording: a?\\[31m\\|b?\\| x \\|&lt;img src=x&gt;\\[l\\]\\(javascript:x\\)\n"));
	/* the link target loses what could close it; a newline cannot start a new line of markdown */
	assert_non_null(strstr(out, "[HTML](<r.html)[evil](http://x>)\n"));
	free(out);
}

/* the headline's mark: :x: when the gate failed, :warning: when something was OOM-killed (the
 * cgroup's count is enough), a check mark otherwise; every class asked for is listed */
static void test_marks_and_every_class(void **state)
{
	struct markdown_gate none = {0};
	char *out = render("svc.hr", NULL, &none, NULL);
	assert_non_null(strstr(out, "### :white_check_mark: headroom: memory verdict **growing**\n"));
	free(out);
	struct analysis a = one();
	a.cg_oom_kills = 2;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(markdown_print_run(f, "svc.hr", &a, NULL, NULL, &none), 0);
	fclose(f);
	assert_non_null(strstr(buf, "### :warning: headroom: memory verdict **growing**, **OOM-killed**\n"));
	assert_non_null(strstr(buf, "| OOM kills / limit hits | 2 / 0 |"));
	free(buf);
	struct markdown_gate all = {.wanted = GATE_GROWING | GATE_OOM | GATE_OVER_LIMIT | GATE_UNDER_SIZED,
				    .fired = GATE_UNDER_SIZED, .exit_code = GATE_EXIT_UNDER_SIZED};
	out = render("svc.hr", NULL, &all, NULL);
	assert_non_null(strstr(out, "`growing` passed, `oom` passed, `over-limit` passed, `under-sized` **failed** — exit status 13\n"));
	free(out);
}

/* `headroom size`: a row per recording (OOM "yes" from either source), the recommendation, a row
 * per verify replay */
static void test_sizing_tables(void **state)
{
	struct analysis a = one(), b = one();
	a.verdict = VERDICT_TOO_SHORT;
	b.cg_oom_kills = 1;
	b.peak = 300 * MiB;
	const struct analysis *as[2] = {&a, &b};
	const char *paths[2] = {"a.db", "b.db"};
	struct sizing s;
	memset(&s, 0, sizeof(s));
	s.limit_bytes = 375 * MiB;
	s.request_bytes = 101 * MiB;
	s.true_peak = 300 * MiB;
	s.headroom = 0.25;
	struct verify_result v[2] = {{.limit_bytes = 375 * MiB, .oom_killed = false, .limit_hits = 0, .peak_bytes = 299 * MiB},
				     {.limit_bytes = 300 * MiB, .oom_killed = true, .limit_hits = HR_UNKNOWN, .peak_bytes = 300 * MiB}};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(markdown_print_sizing(f, paths, as, 2, &s, v, 2, NULL, NULL), 0);
	fclose(f);
	assert_non_null(strstr(buf, "### :warning: headroom: memory verdict **too-short**, **OOM-killed**\n"));
	assert_non_null(strstr(buf, "| a\\.db | too-short | 123.0Mi | 100.0Mi | no |\n"));
	assert_non_null(strstr(buf, "| b\\.db | growing | 300.0Mi | 100.0Mi | yes |\n"));
	assert_non_null(strstr(buf, "`limits.memory: 375Mi`, `requests.memory: 101Mi` (true peak 300.0Mi + 25% headroom)"));
	assert_non_null(strstr(buf, "| 375Mi | held | 299.0Mi | 0 |\n"));
	assert_non_null(strstr(buf, "| 300Mi | OOM-killed | 300.0Mi | n/a |\n"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_figures_and_gate),
		cmocka_unit_test(test_hostile_text),
		cmocka_unit_test(test_marks_and_every_class),
		cmocka_unit_test(test_sizing_tables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
