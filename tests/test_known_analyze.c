/* Known answers for the analysis, sizing and their rendering on recordings built in memory
 * (issue 20.1): the request's percentile and basis on steady phases whose distribution is known
 * exactly, a falling trend, RSS that stayed high at its 90 % edge, the order of the resources:
 * block, and the load's error-rate edge. Threshold edges of the findings are in
 * test_analyze_stages.c and are not repeated. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "synth.h"
#include "report.h"
#include "runload.h"
#include "size.h"
#include "util.h"

#define MS 1000000LL
#define SEC 1000000000LL

/* No cgroup, so the request is sized on RSS. 60 s at 100 ms; ready at 3 s (50 MiB before). In the
 * steady phase every 10th sample is 110 MiB + 300 KiB and the others 100 MiB: 10 % high, so the
 * 95th percentile (type 7, position 0.95 (n-1), inside the top 10 % for any n >= 11) is the high
 * value and the median is 100 MiB. The request is the p95 rounded up to a Mi: 111 MiB; the limit
 * is the peak × 1.25 rounded up: (110 MiB + 300 KiB) × 1.25 = 137.87 MiB -> 138 MiB. */
static void request_is_the_steady_p95_of_rss(void **state)
{
	(void)state;
	const int64_t hi = 110 * SYN_MiB + 300 * 1024, lo = 100 * SYN_MiB;
	struct recording *rec = synth_new(600, 100 * MS);
	int64_t *rss = synth_col(rec, "rss"), *pk = synth_col(rec, "rss_peak");
	for (size_t i = 0; i < 600; i++) {
		rss[i] = i < 30 ? 50 * SYN_MiB : i % 10 == 0 ? hi : lo;
		pk[i] = rss[i];
	}
	synth_event(rec, 3 * SEC, "ready", 0);
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_false(a.cgroup);
	assert_int_equal(a.basis, BASIS_RSS);
	assert_int_equal(a.rss_steady_p50, lo);
	assert_int_equal(a.rss_steady_p95, hi);
	assert_int_equal(a.request_basis_p95, hi);
	assert_int_equal(a.peak, hi);
	const struct analysis *as[] = {&a};
	struct sizing s;
	assert_int_equal(size_recommend(as, 1, NULL, &s), 0);
	assert_int_equal(s.request_bytes, 111 * SYN_MiB);
	assert_int_equal(s.limit_bytes, 138 * SYN_MiB);
	synth_free(rec);
}

/* In a cgroup with little page cache (2 MiB inactive file, under TH_CACHE_MIN_BYTES) the limit is
 * sized on usage, but the request is still the working set's p95, what the kubelet and the VPA
 * compare with a request: usage 165 MiB - 2 MiB = 163 MiB, not usage's 165. */
static void request_is_the_working_set_even_when_usage_sets_the_limit(void **state)
{
	(void)state;
	struct recording *rec = synth_new(300, 100 * MS);
	int64_t *rss = synth_col(rec, "rss"), *u = synth_col(rec, "cg_usage"), *up = synth_col(rec, "cg_usage_peak");
	int64_t *ws = synth_col(rec, "cg_working_set"), *inact = synth_col(rec, "cg_inactive_file");
	for (size_t i = 0; i < 300; i++) {
		rss[i] = 60 * SYN_MiB;
		inact[i] = 2 * SYN_MiB;
		u[i] = 165 * SYN_MiB;
		up[i] = u[i];
		ws[i] = u[i] - inact[i];
	}
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_true(a.cgroup);
	assert_int_equal(a.basis, BASIS_CG_USAGE);
	assert_int_equal(a.peak, 165 * SYN_MiB);
	assert_int_equal(a.steady_p95, 165 * SYN_MiB);
	assert_int_equal(a.request_basis_p95, 163 * SYN_MiB);
	synth_free(rec);
}

/* Memory that falls steadily after startup is a significant trend too (a cache being evicted, a
 * leak's opposite): 200 MiB -> 150 MiB over the 57 s after ready, a slope of -50/57 MiB/s. */
static void a_falling_trend_is_significant(void **state)
{
	(void)state;
	struct recording *rec = synth_new(600, 100 * MS);
	int64_t *rss = synth_col(rec, "rss"), *pk = synth_col(rec, "rss_peak");
	for (size_t i = 0; i < 600; i++) {
		rss[i] = i < 30 ? 220 * SYN_MiB : 200 * SYN_MiB - (int64_t)(i - 30) * 50 * SYN_MiB / 570;
		pk[i] = rss[i];
	}
	synth_event(rec, 3 * SEC, "ready", 0);
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_true(a.trend_significant);
	assert_within_frac(a.slope_bytes_per_s, -50.0 * SYN_MiB / 57.0, 0.02);
	synth_free(rec);
}

/* RSS "stayed high" when the final level is at least 90 % of the peak: 100 MiB then 95 MiB stays
 * high (95 %), 100 MiB then 85 MiB came down (85 %). */
static void rss_stayed_high_at_ninety_percent(void **state)
{
	(void)state;
	const int64_t finals[] = {95, 85};
	const bool want[] = {true, false};
	for (int k = 0; k < 2; k++) {
		struct recording *rec = synth_new(600, 100 * MS);
		int64_t *rss = synth_col(rec, "rss"), *pk = synth_col(rec, "rss_peak");
		for (size_t i = 0; i < 600; i++) {
			rss[i] = (i < 300 ? 100 : finals[k]) * SYN_MiB;
			pk[i] = rss[i];
		}
		struct analysis a;
		assert_int_equal(analyze_recording(rec, NULL, &a), 0);
		assert_int_equal(a.rss_peak, 100 * SYN_MiB);
		assert_int_equal(a.rss_final, finals[k] * SYN_MiB);
		assert_int_equal(a.rss_stayed_high, want[k]);
		synth_free(rec);
	}
}

/* `headroom size` prints the request under requests and the limit under limits, each its own
 * figure: on the recording of request_is_the_steady_p95_of_rss, 111Mi and 138Mi. */
static void size_yaml_has_request_and_limit_in_place(void **state)
{
	(void)state;
	struct recording *rec = synth_new(600, 100 * MS);
	int64_t *rss = synth_col(rec, "rss"), *pk = synth_col(rec, "rss_peak");
	for (size_t i = 0; i < 600; i++) {
		rss[i] = i < 30 ? 50 * SYN_MiB : i % 10 == 0 ? 110 * SYN_MiB + 300 * 1024 : 100 * SYN_MiB;
		pk[i] = rss[i];
	}
	synth_event(rec, 3 * SEC, "ready", 0);
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	const struct analysis *as[] = {&a};
	const char *paths[] = {"synth.hr"};
	struct sizing s;
	assert_int_equal(size_recommend(as, 1, NULL, &s), 0);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	assert_int_equal(report_print_sizing(out, &s, paths, as, REPORT_SIZE_YAML, NULL, 0), 0);
	assert_int_equal(fclose(out), 0);
	assert_non_null(strstr(text, "resources:\n  requests:\n    memory: 111Mi\n  limits:\n    memory: 138Mi\n"));
	free(text);
	synth_free(rec);
}

/* The load failed when its error rate is above --max-error-rate, not at it: 5 of 100 attempts at
 * 5 % is a pass, 6 a failure; 0 allows no error at all. */
static void load_fails_above_the_error_rate_not_at_it(void **state)
{
	(void)state;
	struct runload *l = calloc(1, sizeof(*l));
	assert_non_null(l);
	l->max_error_rate = 0.05;
	l->result.attempts = 100;
	l->result.requests = 95;
	l->result.errors_total = 5;
	assert_false(runload_failed(l));
	l->result.errors_total = 6;
	l->result.requests = 94;
	assert_true(runload_failed(l));
	l->max_error_rate = 0;
	l->result.errors_total = 0;
	l->result.requests = 100;
	assert_false(runload_failed(l));
	l->result.errors_total = 1;
	assert_true(runload_failed(l));
	free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(request_is_the_steady_p95_of_rss),
		cmocka_unit_test(request_is_the_working_set_even_when_usage_sets_the_limit),
		cmocka_unit_test(a_falling_trend_is_significant),
		cmocka_unit_test(rss_stayed_high_at_ninety_percent),
		cmocka_unit_test(size_yaml_has_request_and_limit_in_place),
		cmocka_unit_test(load_fails_above_the_error_rate_not_at_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
