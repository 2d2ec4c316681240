/* Known answers (issue 20.1): the trend statistics, quantities, durations, the latency histogram's
 * ranks, sizing and the memory breakdown on small inputs whose results are worked out by hand in
 * the comments (cross-checked with a few lines of plain Python, no statistics library). Each
 * expected number is written out, never computed by the code under test, so a dropped rounding,
 * a sign flip or a moved comparison changes an answer here. Threshold edges of the findings are
 * in test_analyze_stages.c and are not repeated.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "helpers.h"
#include "breakdown.h"
#include "cgroup.h"
#include "hist.h"
#include "probe.h"
#include "sample.h"
#include "size.h"
#include "stats.h"
#include "util.h"

#define MiB (1024LL * 1024LL)

/* ---- Theil–Sen ---- */

/* t = 0..4, x = 2 4 4 5 10. The ten pairwise slopes (x_j - x_i) / (t_j - t_i):
 *   (0,1) 2/1=2  (0,2) 2/2=1  (0,3) 3/3=1  (0,4) 8/4=2  (1,2) 0/1=0
 *   (1,3) 1/2=.5 (1,4) 6/3=2  (2,3) 1/1=1  (2,4) 6/2=3  (3,4) 5/1=5
 * sorted 0 .5 1 1 1 | 2 2 2 3 5: the median is (1 + 2) / 2 = 1.5.
 * x - 1.5 t = 2, 2.5, 1, 0.5, 4 -> sorted 0.5 1 2 2.5 4: intercept 2. */
static void theil_sen_rising_with_ties(void **state)
{
	(void)state;
	double t[] = {0, 1, 2, 3, 4}, x[] = {2, 4, 4, 5, 10};
	double slope, icept;
	assert_int_equal(stats_theil_sen(t, x, 5, &slope, &icept), 0);
	assert_near(slope, 1.5, 1e-12);
	assert_near(icept, 2.0, 1e-12);
}

/* t = 0..5, x = 5 5 5 3 3 1. The fifteen slopes sorted:
 *   -2 -2 -4/3 -1 -1 -1 -1 | -0.8 | -2/3 -2/3 -0.5 0 0 0 0   (0 for the tied pairs)
 * the 8th of 15 is -0.8 (the pair (0,5): (1 - 5) / 5).
 * x + 0.8 t = 5, 5.8, 6.6, 5.4, 6.2, 5 -> sorted 5 5 5.4 5.8 6.2 6.6: intercept (5.4 + 5.8) / 2 = 5.6. */
static void theil_sen_falling_with_ties(void **state)
{
	(void)state;
	double t[] = {0, 1, 2, 3, 4, 5}, x[] = {5, 5, 5, 3, 3, 1};
	double slope, icept;
	assert_int_equal(stats_theil_sen(t, x, 6, &slope, &icept), 0);
	assert_near(slope, -0.8, 1e-12);
	assert_near(icept, 5.6, 1e-12);
}

/* ---- Mann–Kendall ---- */

/* x = 2 4 4 5 10 (n = 5). S: of the ten pairs nine rise and (1,2) is tied: S = 9.
 * var = [n(n-1)(2n+5) - sum over tie groups g(g-1)(2g+5)] / 18 = [5*4*15 - 2*1*9] / 18 = 282/18
 *     = 15.6667. z = (S - 1) / sqrt(var) = 8 / 3.958114 = 2.0211646.
 * p = erfc(|z| / sqrt 2) = 0.0432627 (two-sided). tau = S / (n(n-1)/2) = 9/10. */
static void mann_kendall_rising_with_one_tie(void **state)
{
	(void)state;
	double t[] = {0, 1, 2, 3, 4}, x[] = {2, 4, 4, 5, 10};
	struct stats_mk mk;
	assert_int_equal(stats_mann_kendall(t, x, 5, &mk), 0);
	assert_near(mk.s, 9, 0);
	assert_near(mk.var, 282.0 / 18.0, 1e-9);
	assert_near(mk.z, 2.0211646105596457, 1e-9);
	assert_near(mk.p, 0.043262727806910685, 1e-9);
	assert_near(mk.tau, 0.9, 1e-12);
	assert_int_equal(mk.n, 5);
}

/* x = 5 5 5 3 3 1 (n = 6). S: the 5s against the 3s 3*2 = 6 falls, against the 1 three more, the
 * 3s against the 1 two more, ties count nothing: S = -11.
 * var = [6*5*17 - (3*2*11 + 2*1*9)] / 18 = (510 - 84) / 18 = 23.6667.
 * z = (S + 1) / sqrt(var) = -10 / 4.864840 = -2.0555661. p = erfc(2.0555661 / sqrt 2) = 0.0398244.
 * tau = -11 / 15. */
static void mann_kendall_falling_with_two_tie_groups(void **state)
{
	(void)state;
	double t[] = {0, 1, 2, 3, 4, 5}, x[] = {5, 5, 5, 3, 3, 1};
	struct stats_mk mk;
	assert_int_equal(stats_mann_kendall(t, x, 6, &mk), 0);
	assert_near(mk.s, -11, 0);
	assert_near(mk.var, 426.0 / 18.0, 1e-9);
	assert_near(mk.z, -2.055566129482595, 1e-9);
	assert_near(mk.p, 0.039824355364810736, 1e-9);
	assert_near(mk.tau, -11.0 / 15.0, 1e-12);
}

/* ---- quantities ---- */

static void quantities_with_fractions(void **state)
{
	(void)state;
	int64_t b;
	/* 0.5 × 2^30 */
	assert_int_equal(util_size_parse("0.5Gi", &b), 0);
	assert_int_equal(b, 536870912);
	/* 1.5 × 2^20 */
	assert_int_equal(util_size_parse("1.5Mi", &b), 0);
	assert_int_equal(b, 1572864);
	/* 0.1 × 1024 = 102.4 bytes: a quantity is rounded up to a whole byte, 103 */
	assert_int_equal(util_size_parse("0.1Ki", &b), 0);
	assert_int_equal(b, 103);
	/* 1.1 × 2^20 = 1153433.6 -> 1153434 */
	assert_int_equal(util_size_parse("1.1Mi", &b), 0);
	assert_int_equal(b, 1153434);
	/* 1Ki is 1024, not 1000 (and 3Ki = 3072) */
	assert_int_equal(util_size_parse("3Ki", &b), 0);
	assert_int_equal(b, 3072);
	assert_int_equal(util_size_parse("1e9", &b), 0);
	assert_int_equal(b, 1000000000);
	/* a negative exponent: 1500e-3 = 1.5 bytes -> 2 */
	assert_int_equal(util_size_parse("1500e-3", &b), 0);
	assert_int_equal(b, 2);
	assert_int_equal(util_size_parse("500k", &b), 0);
	assert_int_equal(b, 500000);
	/* refused: milli-bytes, the upper-case K Kubernetes does not know, two decimal points */
	assert_int_equal(util_size_parse("100m", &b), -EINVAL);
	assert_int_equal(util_size_parse("500000K", &b), -EINVAL);
	assert_int_equal(util_size_parse("1.2.3Mi", &b), -EINVAL);
	assert_int_equal(util_size_parse("1..5Mi", &b), -EINVAL);
}

static void durations_are_rounded_to_the_nanosecond(void **state)
{
	(void)state;
	int64_t ns;
	/* 1.005 × 1e9 is 1004999999.9999999 in binary floating point: rounded, not truncated */
	assert_int_equal(util_duration_parse("1.005s", &ns), 0);
	assert_int_equal(ns, 1005000000);
	assert_int_equal(util_duration_parse("1.005us", &ns), 0);
	assert_int_equal(ns, 1005);
	assert_int_equal(util_duration_parse("2.5ms", &ns), 0);
	assert_int_equal(ns, 2500000);
	assert_int_equal(util_duration_parse("1.5m", &ns), 0);
	assert_int_equal(ns, 90000000000LL);
}

static void sizes_format_at_unit_edges(void **state)
{
	(void)state;
	char buf[32];
	/* 2^20 - 1 is still Ki (1023.999 -> "1024.0Ki"), 2^20 is "1.0Mi" */
	assert_string_equal(util_size_format(MiB - 1, buf, sizeof(buf)), "1024.0Ki");
	assert_string_equal(util_size_format(MiB, buf, sizeof(buf)), "1.0Mi");
	assert_string_equal(util_size_format(1536, buf, sizeof(buf)), "1.5Ki");
	/* rounded up to a whole Mi: one byte over 256 Mi is 257Mi, exactly 256 Mi stays */
	assert_string_equal(util_size_format_mi_ceil(256 * MiB + 1, buf, sizeof(buf)), "257Mi");
	assert_string_equal(util_size_format_mi_ceil(256 * MiB, buf, sizeof(buf)), "256Mi");
	assert_int_equal(util_round_up_mi(MiB / 2), MiB);
	double f;
	assert_int_equal(util_percent_parse("45%", &f), 0);
	assert_near(f, 0.45, 1e-15);
	assert_int_equal(util_percent_parse("0.5", &f), 0);
	assert_near(f, 0.005, 1e-15);
}

/* ---- latency histogram ranks ---- */

/* 1..10 once each (small values have exact buckets). The q-quantile is the value of rank
 * ceil(q × 10): q = 0.5 -> rank 5 -> 5; q = 0.55 -> ceil(5.5) = 6 -> 6; q = 0.1 -> 1. */
static void hist_ranks_on_known_values(void **state)
{
	(void)state;
	struct hist *h = calloc(1, sizeof(*h)), *g = calloc(1, sizeof(*g));
	assert_non_null(h);
	assert_non_null(g);
	hist_reset(h);
	hist_reset(g);
	for (uint64_t v = 1; v <= 10; v++)
		hist_add(h, v);
	assert_int_equal(hist_quantile(h, 0.5), 5);
	assert_int_equal(hist_quantile(h, 0.55), 6);
	assert_int_equal(hist_quantile(h, 0.1), 1);
	assert_int_equal(hist_quantile(h, 1.0), 10);
	/* merging 20..22 into it: the minimum stays 1, the maximum becomes 22, 13 values */
	for (uint64_t v = 20; v <= 22; v++)
		hist_add(g, v);
	hist_merge(h, g);
	assert_int_equal(h->count, 13);
	assert_int_equal(h->min, 1);
	assert_int_equal(h->max, 22);
	assert_int_equal(h->sum, 55 + 63);
	free(h);
	free(g);
}

/* ---- sizing with values that are not whole MiB ---- */

static void sizing_rounds_up_fractions_of_a_mib(void **state)
{
	(void)state;
	/* (100 MiB + 1) × 1.2 = 125829121.2 -> 125829122 bytes, 1.9 bytes over 120 MiB -> 121 MiB */
	assert_int_equal(size_limit_from_peak(100 * MiB + 1, 0.2), 121 * MiB);
	/* exactly 100 MiB × 1.25 = 125 MiB stays 125 */
	assert_int_equal(size_limit_from_peak(100 * MiB, 0.25), 125 * MiB);
	/* p95 of 50 MiB + 1 byte -> 51 MiB */
	assert_int_equal(size_request_from_p95(50 * MiB + 1, 200 * MiB), 51 * MiB);
	/* never above the limit, even a limit that is not a whole MiB: 101 MiB > 100 MiB + 1 */
	assert_int_equal(size_request_from_p95(100 * MiB + 1, 100 * MiB + 1), 100 * MiB + 1);
	/* (100 MiB + 1) × 1.15 = 120586241.15 -> 120586242 = 115.0000019 MiB -> 116 MiB */
	assert_int_equal(size_krr_from_max(100 * MiB + 1), 116 * MiB);
	/* after an OOM: max(peak + 100 MiB, peak × 1.2). 600.5 MiB: 700.5 vs 720.6 -> 720.6 MiB,
	 * i.e. ceil(629669888 × 1.2) = 755603866 bytes; 100 MiB: 200 vs 120 -> 200 MiB */
	assert_int_equal(size_oom_raise(600 * MiB + MiB / 2), 755603866);
	assert_int_equal(size_oom_raise(100 * MiB), 200 * MiB);
	/* VPA: P90 of ten daily peaks 100..1000 MiB (type 7: index 0.9 × 9 = 8.1 -> 900 + 0.1 × 100 =
	 * 910 MiB), × 1.15 = 1046.5 MiB -> 1047 MiB */
	double days[10];
	for (int i = 0; i < 10; i++)
		days[i] = (double)((i + 1) * 100 * MiB);
	bool floored = true;
	assert_int_equal(size_vpa_from_daily_peaks(days, 10, &floored), 1047 * MiB);
	assert_false(floored);
}

/* ---- the breakdown when large blocks are mmapped ---- */

/* glibc serves blocks of 128 KiB and more with mmap: they are live heap (the shim counts them in
 * heap_live) and held by no arena, so heap_held (arena + mmapped - live) does not grow with them.
 * Anonymous 100 MiB, live 60 MiB of which 40 MiB mmapped, held 10 MiB:
 *   heap 60, allocator 10, other = 100 - 60 - 10 + map_other 5 = 35;
 *   rss = anon 100 + stacks 1 + code 2 + files 7 + shmem 3 + other 5 = 118 MiB. */
static void breakdown_with_mmapped_blocks(void **state)
{
	(void)state;
	struct sample s;
	sample_clear(&s);
	s.map_anon = 100 * MiB;
	s.map_stacks = 1 * MiB;
	s.map_code = 2 * MiB;
	s.map_files = 7 * MiB;
	s.map_shmem = 3 * MiB;
	s.map_other = 5 * MiB;
	s.heap_live = 60 * MiB;
	s.heap_mmapped = 40 * MiB;
	s.heap_held = 10 * MiB;
	struct breakdown b;
	assert_int_equal(breakdown_from_sample(&s, &b), 0);
	assert_int_equal(b.heap, 60 * MiB);
	assert_int_equal(b.allocator, 10 * MiB);
	assert_false(b.allocator_estimated);
	assert_int_equal(b.other, 35 * MiB);
	assert_int_equal(b.rss, 118 * MiB);
	/* held more than what is left of anonymous memory (40 MiB): clamped to 40, nothing else */
	s.heap_held = 50 * MiB;
	assert_int_equal(breakdown_from_sample(&s, &b), 0);
	assert_int_equal(b.allocator, 40 * MiB);
	assert_int_equal(b.other, 5 * MiB);
	/* from /proc/PID/status: rss = anon 100 + file 20 + shmem 4; other = 100 - 60 - 10 = 30 */
	sample_clear(&s);
	s.rss_anon = 100 * MiB;
	s.rss_file = 20 * MiB;
	s.rss_shmem = 4 * MiB;
	s.heap_live = 60 * MiB;
	s.heap_held = 10 * MiB;
	assert_int_equal(breakdown_from_status(&s, &b), 0);
	assert_int_equal(b.rss, 124 * MiB);
	assert_int_equal(b.mapped_files, 20 * MiB);
	assert_int_equal(b.shmem, 4 * MiB);
	assert_int_equal(b.other, 30 * MiB);
}

/* ---- cgroup limits ---- */

/* v1 writes "no limit" as LONG_MAX rounded down to a page (9223372036854771712); anything below
 * 2^62 is a real limit, and pods with 8 or 64 GiB limits are common. */
static void large_limits_are_limits(void **state)
{
	(void)state;
	assert_int_equal(probe_parse_limit("8589934592\n"), 8589934592LL);
	assert_int_equal(probe_parse_limit("68719476736\n"), 68719476736LL);
	assert_int_equal(probe_parse_limit("4611686018427387903\n"), 4611686018427387903LL);   /* 2^62 - 1 */
	assert_int_equal(probe_parse_limit("4611686018427387904\n"), HR_UNKNOWN);              /* 2^62 */
	assert_int_equal(probe_parse_limit("9223372036854771712\n"), HR_UNKNOWN);
	assert_int_equal(probe_parse_limit("max\n"), HR_UNKNOWN);
}

/* A limit set through cgroup_create() is the one the kernel reads back from that version's own
 * file (v2 memory.max, v1 memory.limit_in_bytes): 64 MiB + 4096 stays that, to the byte. Needs
 * a memory controller we may write to (root, or delegation): skipped without one. */
static void created_cgroup_has_the_limit(void **state)
{
	(void)state;
	struct cgroup_run cg;
	char why[256];
	const int64_t limit = 64 * MiB + 4096;
	/* whether we may create one at all: without a limit, no limit file is written */
	if (cgroup_create(&cg, 0, why, sizeof(why)) < 0) {
		print_message("no cgroup here (%s): skipped\n", why);
		skip();
	}
	assert_int_equal(cgroup_remove(&cg), 0);
	/* where a cgroup can be made, its limit can be set: a failure here is the limit's file */
	if (cgroup_create(&cg, limit, why, sizeof(why)) < 0)
		fail_msg("a cgroup without a limit could be made, not with one: %s", why);
	char path[1100], buf[64];
	snprintf(path, sizeof(path), "%s/%s", cg.path, cg.version == 2 ? "memory.max" : "memory.limit_in_bytes");
	ssize_t n = util_read_file(path, buf, sizeof(buf));
	int rc = cgroup_remove(&cg);
	assert_true(n > 0);
	assert_int_equal(probe_parse_limit(buf), limit);
	assert_int_equal(rc, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(theil_sen_rising_with_ties),
		cmocka_unit_test(theil_sen_falling_with_ties),
		cmocka_unit_test(mann_kendall_rising_with_one_tie),
		cmocka_unit_test(mann_kendall_falling_with_two_tie_groups),
		cmocka_unit_test(quantities_with_fractions),
		cmocka_unit_test(durations_are_rounded_to_the_nanosecond),
		cmocka_unit_test(sizes_format_at_unit_edges),
		cmocka_unit_test(hist_ranks_on_known_values),
		cmocka_unit_test(sizing_rounds_up_fractions_of_a_mib),
		cmocka_unit_test(breakdown_with_mmapped_blocks),
		cmocka_unit_test(large_limits_are_limits),
		cmocka_unit_test(created_cgroup_has_the_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
