/* size: limits, requests, anchors and autoscaling advice from analyses of known recordings. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "size.h"
#include "synth.h"
#include "util.h"

#define MS 1000000LL
#define SEC 1000000000LL

/* 300 MiB startup for 3 s then 80 MiB, 60 s */
static struct recording *startup_rec(void)
{
	struct recording *rec = synth_new(600, 100 * MS);
	int64_t *rss = synth_col(rec, "rss"), *pk = synth_col(rec, "rss_peak");
	for (size_t i = 0; i < 600; i++) {
		rss[i] = (i < 30 ? 300 : 80) * SYN_MiB;
		pk[i] = rss[i];
	}
	pk[10] = 310 * SYN_MiB; /* the true peak lives between two samples */
	synth_event(rec, 3 * SEC, "ready", 0);
	return rec;
}

static void limit_is_peak_plus_headroom_rounded_to_mi(void **state)
{
	(void)state;
	struct recording *rec = startup_rec();
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	const struct analysis *one[1] = {&a};
	struct sizing s;
	assert_int_equal(size_recommend(one, 1, NULL, &s), 0);
	assert_int_equal(s.true_peak, 310 * SYN_MiB);
	assert_true(s.peak_at_startup);
	assert_int_equal(s.limit_bytes, util_round_up_mi((int64_t)ceil(310.0 * SYN_MiB * 1.25)));
	assert_int_equal(s.limit_bytes % SYN_MiB, 0);
	assert_int_equal(s.request_bytes, 80 * SYN_MiB);
	assert_false(s.request_is_working_set);
	/* anchors: one KRR point in 60 s: the steady 80 MiB at most alignments, the 300 MiB startup
	 * only if the poll falls in its 3 s; VPA likewise, and its 250 MiB floor */
	assert_int_equal(s.krr_points, 1);
	assert_int_equal(s.krr_bytes, util_round_up_mi((int64_t)ceil(80.0 * SYN_MiB * 1.15)));
	assert_int_equal(s.krr_best_bytes, util_round_up_mi((int64_t)ceil(300.0 * SYN_MiB * 1.15)));
	assert_int_equal(s.vpa_bytes, SIZE_VPA_FLOOR);
	assert_true(s.vpa_floored);
	assert_int_equal(s.vpa_best_bytes, util_round_up_mi((int64_t)ceil(300.0 * SYN_MiB * 1.15)));
	assert_false(s.growing);
	assert_int_equal(s.time_to_limit_ns, HR_UNKNOWN);

	struct size_options opt;
	size_options_init(&opt);
	opt.headroom = 0.2;
	opt.qos_guaranteed = true;
	opt.replicas = 4;
	assert_int_equal(size_recommend(one, 1, &opt, &s), 0);
	assert_int_equal(s.limit_bytes, util_round_up_mi((int64_t)ceil(310.0 * SYN_MiB * 1.2)));
	assert_int_equal(s.request_bytes, s.limit_bytes);
	assert_int_equal(s.startup_burst_bytes, 4 * 310 * SYN_MiB);

	/* out of range: no answer rather than a wrong one */
	opt.headroom = 3.0;
	assert_int_equal(size_recommend(one, 1, &opt, &s), -ERANGE);
	opt.headroom = -0.05;
	assert_int_equal(size_recommend(one, 1, &opt, &s), -ERANGE);
	assert_int_equal(size_recommend(one, 0, NULL, &s), -EINVAL);
	synth_free(rec);
}

static void highest_peak_across_recordings_wins(void **state)
{
	(void)state;
	struct recording *r1 = startup_rec(), *r2 = synth_new(600, 100 * MS);
	int64_t *rss = synth_col(r2, "rss");
	for (size_t i = 0; i < 600; i++)
		rss[i] = 400 * SYN_MiB;
	struct analysis a1, a2;
	assert_int_equal(analyze_recording(r1, NULL, &a1), 0);
	assert_int_equal(analyze_recording(r2, NULL, &a2), 0);
	const struct analysis *both[2] = {&a1, &a2};
	struct sizing s;
	assert_int_equal(size_recommend(both, 2, NULL, &s), 0);
	assert_int_equal(s.peak_recording, 1);
	assert_int_equal(s.limit_bytes, 500 * SYN_MiB);
	assert_int_equal(s.request_bytes, 400 * SYN_MiB);
	assert_int_equal(s.startup_peak, a2.startup_peak > a1.startup_peak ? a2.startup_peak : a1.startup_peak);
	assert_int_equal(s.vpa_days, 2);
	synth_free(r1);
	synth_free(r2);
}

static void growing_gets_a_time_to_limit(void **state)
{
	(void)state;
	struct recording *rec = synth_new(600, 100 * MS);
	int64_t *rss = synth_col(rec, "rss");
	for (size_t i = 0; i < 600; i++)
		rss[i] = 100 * SYN_MiB + (int64_t)i * 102400; /* 1 MiB/s */
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.verdict, VERDICT_GROWING);
	const struct analysis *one[1] = {&a};
	struct sizing s;
	assert_int_equal(size_recommend(one, 1, NULL, &s), 0);
	assert_true(s.growing);
	/* final ~158.5 MiB, limit = ceil(158.5 * 1.25) = 199 MiB: ~40 s away at 1 MiB/s */
	double want = (double)(s.limit_bytes - a.final) / (1024.0 * 1024.0);
	assert_true(fabs((double)s.time_to_limit_ns / 1e9 - want) < 1.0);
	assert_true(s.time_to_limit_ns > 30 * SEC);
	synth_free(rec);
}

static void oom_killed_peak_is_raised(void **state)
{
	(void)state;
	struct recording *rec = synth_new(8, 100 * MS);
	int64_t *rss = synth_col(rec, "rss");
	for (size_t i = 0; i < 8; i++)
		rss[i] = (int64_t)(i + 1) * 20 * SYN_MiB;
	rec->run.oom_killed = true;
	rec->run.exit_signal = 9;
	rec->run.exit_code = -1;
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.verdict, VERDICT_TOO_SHORT);
	const struct analysis *one[1] = {&a};
	struct sizing s;
	assert_int_equal(size_recommend(one, 1, NULL, &s), 0);
	assert_true(s.oom_adjusted);
	assert_int_equal(s.sized_peak, 260 * SYN_MiB); /* 160 MiB + 100 MiB > 160 × 1.2 */
	assert_int_equal(s.limit_bytes, 325 * SYN_MiB);
	synth_free(rec);
}

static void hpa_on_memory_that_stays_up_is_flagged(void **state)
{
	(void)state;
	/* load from 5 s to 35 s raises memory from 100 to 300 MiB; it stays after the load */
	struct recording *rec = synth_new(500, 100 * MS);
	int64_t *rss = synth_col(rec, "rss");
	for (size_t i = 0; i < 500; i++)
		rss[i] = (i < 50 ? 100 : 300) * SYN_MiB;
	synth_event(rec, 5 * SEC, "stage", 0);
	for (int64_t sec = 6; sec <= 35; sec++)
		synth_load(rec, sec * SEC, 0, 20);
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.falls_after_load, 0);
	const struct analysis *one[1] = {&a};
	struct size_options opt;
	size_options_init(&opt);
	opt.hpa_target = 0.8;
	struct sizing s;
	assert_int_equal(size_recommend(one, 1, &opt, &s), 0);
	assert_int_equal(s.hpa_warning, 1);
	/* memory that comes back down is fine */
	for (size_t i = 400; i < 500; i++)
		rss[i] = 100 * SYN_MiB;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.falls_after_load, 1);
	opt.hpa_target = 0.9;
	assert_int_equal(size_recommend(one, 1, &opt, &s), 0);
	assert_int_equal(s.hpa_warning, 0);
	synth_free(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(limit_is_peak_plus_headroom_rounded_to_mi),
		cmocka_unit_test(highest_peak_across_recordings_wins),
		cmocka_unit_test(growing_gets_a_time_to_limit),
		cmocka_unit_test(oom_killed_peak_is_raised),
		cmocka_unit_test(hpa_on_memory_that_stays_up_is_flagged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
