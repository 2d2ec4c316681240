/* analyze: verdicts, phases and peaks on recordings of known shape built in memory. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "synth.h"
#include "util.h"

#define MS 1000000LL
#define SEC 1000000000LL

/* 300 MiB startup hump for 3 s, then 80 MiB; ready at 3 s */
static void startup_peak_then_steady(void **state)
{
	(void)state;
	struct recording *rec = synth_new(600, 100 * MS);
	int64_t *rss = synth_col(rec, "rss"), *pk = synth_col(rec, "rss_peak");
	for (size_t i = 0; i < 600; i++) {
		rss[i] = (i < 30 ? 300 : 80) * SYN_MiB + (int64_t)(synth_gauss() * 256 * 1024);
		pk[i] = rss[i] + 4096;
	}
	synth_event(rec, 3 * SEC, "ready", 0);
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.verdict, VERDICT_STABLE);
	assert_int_equal(a.startup_source, PHASE_FROM_READY);
	assert_int_equal(a.startup_end_ns, 3 * SEC);
	assert_true(a.startup_peak > 299 * SYN_MiB && a.startup_peak < 302 * SYN_MiB);
	assert_true(a.traffic_peak < 82 * SYN_MiB);
	assert_true(llabs(a.steady_p50 - 80 * SYN_MiB) < SYN_MiB);
	assert_true(a.peak == a.startup_peak);
	assert_int_equal(a.basis, BASIS_RSS);
	assert_true(a.stabilized_after_ns >= 3 * SEC && a.stabilized_after_ns <= 3200 * MS);
	assert_false(a.trend_significant);
	/* a 15 s dashboard only sees the hump if it happens to scrape in the first 3 s */
	assert_true(a.blind[0].worst_bytes < 82 * SYN_MiB);
	assert_true(a.blind[0].best_bytes > 299 * SYN_MiB);
	assert_int_equal(a.heap_finding, HEAP_UNKNOWN);
	/* the sample read after the exit (the tree is gone, only its last peak is left) changes
	 * no level, only a peak */
	rss[599] = HR_UNKNOWN;
	pk[599] = 90 * SYN_MiB;
	synth_event(rec, 599 * 100 * MS - 1, "exit", 0);
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.verdict, VERDICT_STABLE);
	assert_true(llabs(a.final - 80 * SYN_MiB) < SYN_MiB);
	assert_int_equal(a.traffic_peak, 90 * SYN_MiB);
	assert_true(a.stabilized_after_ns >= 3 * SEC && a.stabilized_after_ns <= 3200 * MS);
	/* without the ready event the settling point places the startup */
	rec->nevents = 0;
	rss[599] = rss[598];
	pk[599] = rss[599];
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.startup_source, PHASE_FROM_STABLE);
	assert_true(a.startup_end_ns >= 3 * SEC && a.startup_end_ns <= 3200 * MS);
	assert_true(a.startup_peak > 299 * SYN_MiB);
	assert_int_equal(a.verdict, VERDICT_STABLE);
	synth_free(rec);
}

/* 3 MiB/s for 60 s on top of 50 MiB, with noise */
static void steady_leak_is_growing(void **state)
{
	(void)state;
	struct recording *rec = synth_new(600, 100 * MS);
	int64_t *rss = synth_col(rec, "rss"), *heap = synth_col(rec, "heap_live");
	for (size_t i = 0; i < 600; i++) {
		rss[i] = 50 * SYN_MiB + (int64_t)(i * 0.3 * SYN_MiB) + (int64_t)(synth_gauss() * SYN_MiB);
		heap[i] = 20 * SYN_MiB + (int64_t)(i * 0.3 * SYN_MiB);
	}
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.verdict, VERDICT_GROWING);
	assert_true(fabs(a.slope_bytes_per_s - 3 * SYN_MiB) < 0.3 * SYN_MiB);
	assert_true(a.mk_p < 1e-6);
	assert_int_equal(a.stabilized_after_ns, HR_UNKNOWN);
	assert_true(a.heap_available);
	assert_int_equal(a.heap_finding, HEAP_LIVE_GROWING);
	/* the same RSS with a flat heap is the allocator, not live data */
	for (size_t i = 0; i < 600; i++)
		heap[i] = 20 * SYN_MiB;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.verdict, VERDICT_GROWING);
	assert_int_equal(a.heap_finding, HEAP_RETENTION);
	synth_free(rec);
}

/* RSS climbs to 200 MiB in a burst and stays; the live heap falls back to 10 MiB */
static void fragmentation_holds_rss_but_is_not_a_leak(void **state)
{
	(void)state;
	struct recording *rec = synth_new(400, 100 * MS);
	int64_t *rss = synth_col(rec, "rss"), *heap = synth_col(rec, "heap_live");
	int64_t *anon = synth_col(rec, "map_anon");
	for (size_t i = 0; i < 400; i++) {
		rss[i] = (i < 20 ? 20 + (int64_t)i * 9 : 200) * SYN_MiB + (int64_t)(synth_gauss() * 128 * 1024);
		heap[i] = (i < 20 ? 10 + (int64_t)i * 9 : 10) * SYN_MiB;
		if (i % 50 == 49)
			anon[i] = rss[i] - 4 * SYN_MiB;
	}
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.verdict, VERDICT_STABLE);
	assert_int_equal(a.heap_finding, HEAP_RETENTION);
	assert_int_equal(a.bd.heap, 10 * SYN_MiB);
	assert_true(a.bd.allocator > 180 * SYN_MiB);
	assert_int_equal(a.bd_t_ns, 399 * 100 * MS);
	synth_free(rec);
}

/* a GC-like sawtooth: 60 -> 160 MiB over 5 s, back at once; 8 teeth */
static void sawtooth_is_named(void **state)
{
	(void)state;
	struct recording *rec = synth_new(400, 100 * MS);
	int64_t *rss = synth_col(rec, "rss");
	for (size_t i = 0; i < 400; i++)
		rss[i] = 60 * SYN_MiB + (int64_t)((i % 50) * 2 * SYN_MiB) + (int64_t)(synth_gauss() * 256 * 1024);
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.verdict, VERDICT_SAWTOOTH);
	assert_true(a.drops >= 6 && a.drops <= 8);
	synth_free(rec);
}

/* 80 MiB flat; every 5 s a 5 ms spike to 280 MiB seen only in the interval peak */
static void short_spikes_are_spiky(void **state)
{
	(void)state;
	struct recording *rec = synth_new(600, 100 * MS);
	int64_t *rss = synth_col(rec, "rss"), *pk = synth_col(rec, "rss_peak");
	for (size_t i = 0; i < 600; i++) {
		rss[i] = 80 * SYN_MiB + (int64_t)(synth_gauss() * 128 * 1024);
		pk[i] = rss[i] + (i % 50 == 25 ? 200 * SYN_MiB : 0);
	}
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.verdict, VERDICT_SPIKY);
	assert_true(a.peak_median_ratio > 3.2 && a.peak_median_ratio < 3.7);
	assert_true(a.spikes >= 11 && a.spikes <= 12);
	assert_true(a.peak > 279 * SYN_MiB);
	/* the instantaneous values never show them: no dashboard sees them at all */
	assert_true(a.blind[0].best_bytes < 82 * SYN_MiB);
	/* without exact peaks the spikes are invisible and the run is stable */
	rec->run.rss_peaks_exact = false;
	for (size_t i = 0; i < 600; i++)
		pk[i] = 81 * SYN_MiB;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.verdict, VERDICT_STABLE);
	synth_free(rec);
}

/* memory follows the connections: 100 MiB + 2 MiB per connection, stages 10, 50, 10 */
static void memory_that_follows_load_tracks_it(void **state)
{
	(void)state;
	struct recording *rec = synth_new(500, 100 * MS);
	int64_t *rss = synth_col(rec, "rss");
	const int64_t conns[3] = {10, 50, 10};
	for (size_t i = 0; i < 500; i++) {
		int64_t c = 0;
		if (i >= 50 && i < 450)
			c = conns[(i - 50) / 134 > 2 ? 2 : (i - 50) / 134];
		rss[i] = 100 * SYN_MiB + c * 2 * SYN_MiB + (int64_t)(synth_gauss() * 256 * 1024);
	}
	for (int s = 0; s < 3; s++)
		synth_event(rec, (50 + s * 134) * 100 * MS, "stage", s);
	for (int64_t sec = 6; sec <= 45; sec++)
		synth_load(rec, sec * SEC, sec <= 18 ? 0 : sec <= 31 ? 1 : 2, sec <= 18 ? 10 : sec <= 31 ? 50 : 10);
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_true(a.has_load);
	assert_int_equal(a.startup_source, PHASE_FROM_LOAD);
	assert_int_equal(a.verdict, VERDICT_TRACKS_LOAD);
	assert_true(a.load_correlation > 0.9);
	assert_int_equal(a.falls_after_load, 1);
	/* phases: startup, stages 0..2, after load */
	int stages = 0;
	for (int p = 0; p < a.nphases; p++)
		if (a.phases[p].stage >= 0) {
			stages++;
			if (a.phases[p].stage == 1)
				assert_true(llabs(a.phases[p].p50_bytes - 200 * SYN_MiB) < 2 * SYN_MiB);
		}
	assert_int_equal(stages, 3);
	/* the same, but memory stays up after the load: it does not fall */
	for (size_t i = 450; i < 500; i++)
		rss[i] = 200 * SYN_MiB;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.falls_after_load, 0);
	synth_free(rec);
}

static void too_short_says_how_much_longer(void **state)
{
	(void)state;
	struct recording *rec = synth_new(30, 100 * MS);
	int64_t *rss = synth_col(rec, "rss");
	for (size_t i = 0; i < 30; i++)
		rss[i] = 50 * SYN_MiB;
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.verdict, VERDICT_TOO_SHORT);
	assert_true(a.need_more_ns >= 7 * SEC && a.need_more_ns <= 10 * SEC);
	synth_free(rec);

	/* one sample: facts, no judgement */
	rec = synth_new(1, 100 * MS);
	synth_col(rec, "rss")[0] = 10 * SYN_MiB;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.verdict, VERDICT_TOO_SHORT);
	assert_int_equal(a.rss_peak, 10 * SYN_MiB);
	assert_int_equal(a.startup_peak, HR_UNKNOWN);
	assert_true(a.need_more_ns >= 10 * SEC);
	synth_free(rec);

	/* no samples at all: -ENODATA, the run's facts still there */
	rec = synth_new(0, 100 * MS);
	rec->run.oom_killed = true;
	assert_int_equal(analyze_recording(rec, NULL, &a), -ENODATA);
	assert_true(a.oom_killed);
	assert_int_equal(a.peak, HR_UNKNOWN);
	synth_free(rec);
}

/* in a cgroup: usage carries 100 MiB of page cache, so the working set is the basis */
static void cgroup_page_cache_moves_the_basis(void **state)
{
	(void)state;
	struct recording *rec = synth_new(300, 100 * MS);
	int64_t *rss = synth_col(rec, "rss"), *u = synth_col(rec, "cg_usage"), *up = synth_col(rec, "cg_usage_peak");
	int64_t *ws = synth_col(rec, "cg_working_set"), *inact = synth_col(rec, "cg_inactive_file");
	for (size_t i = 0; i < 300; i++) {
		rss[i] = 60 * SYN_MiB;
		inact[i] = 100 * SYN_MiB;
		u[i] = 165 * SYN_MiB;
		up[i] = i == 150 ? 185 * SYN_MiB : u[i];
		ws[i] = u[i] - inact[i];
	}
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_true(a.cgroup);
	assert_int_equal(a.basis, BASIS_WORKING_SET);
	assert_int_equal(a.peak, 85 * SYN_MiB); /* the 20 MiB usage spike, less the cache */
	assert_int_equal(a.cg_usage_peak, 185 * SYN_MiB);
	assert_int_equal(a.request_basis_p95, 65 * SYN_MiB);
	/* little cache: usage is the basis */
	for (size_t i = 0; i < 300; i++) {
		inact[i] = 2 * SYN_MiB;
		ws[i] = u[i] - inact[i];
	}
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.basis, BASIS_CG_USAGE);
	assert_int_equal(a.peak, 185 * SYN_MiB);
	/* a cgroup attach with no process RSS at all is still judged, on the cgroup */
	for (size_t i = 0; i < 300; i++)
		rss[i] = HR_UNKNOWN;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.basis, BASIS_CG_USAGE);
	assert_int_equal(a.peak, 185 * SYN_MiB);
	assert_int_equal(a.rss_peak, HR_UNKNOWN);
	/* one 20 MiB interval peak over 165 MiB is 1.12×: below the 1.2× a spike needs */
	assert_int_equal(a.verdict, VERDICT_STABLE);
	assert_true(a.peak_median_ratio > 1.1 && a.peak_median_ratio < 1.13);
	synth_free(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(startup_peak_then_steady),
		cmocka_unit_test(steady_leak_is_growing),
		cmocka_unit_test(fragmentation_holds_rss_but_is_not_a_leak),
		cmocka_unit_test(sawtooth_is_named),
		cmocka_unit_test(short_spikes_are_spiky),
		cmocka_unit_test(memory_that_follows_load_tracks_it),
		cmocka_unit_test(too_short_says_how_much_longer),
		cmocka_unit_test(cgroup_page_cache_moves_the_basis),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
