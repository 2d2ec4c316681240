/* analyze stages: each rule of findings.c just below, at and just above its edge (thresholds.h);
 * the teeth of stats_teeth() on series whose answer is counted by hand; the sizing floor; the
 * teardown samples; the freshness of heap figures. Every expected value is written out here. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "analyze_stages.h"
#include "helpers.h"
#include "size.h"
#include "stats.h"
#include "synth.h"
#include "thresholds.h"

#define MS 1000000LL
#define SEC 1000000000LL
#define MiB SYN_MiB

/* An analysis with a long, quiet steady phase and nothing found: each test moves one figure. */
static struct analysis *base(void)
{
	static struct analysis a;
	struct recording *rec = synth_new(0, 100 * MS);
	stage_run_facts(rec, &a);
	synth_free(rec);
	a.peak = a.traffic_peak = a.steady_p95 = 100 * MiB;
	a.steady_p50 = 100 * MiB;
	a.rss_peak = 100 * MiB;
	a.steady_samples = 600;
	a.steady_ns = 60 * SEC;
	a.interval_ns = 100 * MS;
	return &a;
}

static bool found(struct analysis *a, enum finding_kind k)
{
	struct analyze_options o;
	analyze_options_init(&o);
	stage_findings(&o, a);
	return analysis_finding(a, k) != NULL;
}

static void retention_edges(void **state)
{
	(void)state;
	struct {
		int64_t held;
		double ratio;
		bool want;
	} cases[] = {
		{32 * MiB - 1, 0.50, false},  /* bytes just below */
		{32 * MiB, 0.25, true},       /* both at the edge */
		{32 * MiB, 0.2499, false},    /* ratio just below */
		{200 * MiB, 0.2501, true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct analysis *a = base();
		a->heap_available = true;
		a->heap_finding = HEAP_OK;
		a->have_breakdown = true;
		a->bd.allocator = cases[i].held;
		a->bd_held_ratio = cases[i].ratio;
		assert_int_equal(found(a, FINDING_RETENTION), cases[i].want);
		assert_int_equal(a->heap_finding == HEAP_RETENTION, cases[i].want);
	}
}

static void spiky_edges(void **state)
{
	(void)state;
	/* median 40 MiB: a peak of 48 MiB is 1.2x and 8 MiB above: both at the edge */
	struct {
		int64_t peak;
		double time;
		bool want;
	} cases[] = {
		{48 * MiB, 0.10, true},
		{48 * MiB - 1, 0.10, false},
		{48 * MiB, 0.20, false},     /* time above half-way at the edge: not short */
		{48 * MiB, 0.1999, true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct analysis *a = base();
		a->steady_p50 = 40 * MiB;
		a->traffic_peak = a->peak = cases[i].peak;
		a->peak_median_ratio = (double)cases[i].peak / (double)(40 * MiB);
		a->spike_time_fraction = cases[i].time;
		assert_int_equal(found(a, FINDING_SPIKY), cases[i].want);
		assert_int_equal(a->verdict == VERDICT_SPIKY, cases[i].want);
	}
}

static void sawtooth_edges(void **state)
{
	(void)state;
	struct {
		size_t drops;
		double mid, rise, fall;
		bool want;
	} cases[] = {
		{3, 0.5, 10, 1, true},
		{2, 0.5, 10, 1, false},     /* too few teeth */
		{3, 0.15, 10, 1, true},     /* midline share at the low edge */
		{3, 0.1499, 10, 1, false},
		{3, 0.85, 10, 1, true},
		{3, 0.8501, 10, 1, false},
		{3, 0.5, 3, 1.5, true},     /* rise 3 samples, 2x the fall: both at the edge */
		{3, 0.5, 2.9, 1, false},    /* a rise of under 3 samples is a spike's */
		{3, 0.5, 3, 1.51, false},   /* rise less than twice the fall */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct analysis *a = base();
		a->drops = cases[i].drops;
		a->shape_frac_mid = cases[i].mid;
		a->shape_rise_samples = cases[i].rise;
		a->shape_fall_samples = cases[i].fall;
		a->shape_lo = 60 * MiB;
		a->shape_hi = 160 * MiB;
		assert_int_equal(found(a, FINDING_SAWTOOTH), cases[i].want);
	}
}

/* a sawtooth that ends mid-tooth tests as a trend; it grows only if its troughs rise */
static void sawtooth_growth_needs_rising_troughs(void **state)
{
	(void)state;
	double rise[] = {2 * MiB - 1, 5 * MiB};  /* the material rise is 5 % of 100 MiB = 5 MiB */
	bool want[] = {false, true};
	for (size_t i = 0; i < 2; i++) {
		struct analysis *a = base();
		a->drops = 5;
		a->shape_frac_mid = 0.5;
		a->shape_rise_samples = 20;
		a->shape_fall_samples = 1;
		a->shape_lo = 60 * MiB;
		a->shape_hi = 160 * MiB;
		a->trend_significant = true;
		a->slope_bytes_per_s = 1e5;
		a->shape_floor_first = 60 * MiB;
		a->shape_floor_last = 60 * MiB + rise[i];
		assert_true(found(a, FINDING_SAWTOOTH));
		assert_int_equal(analysis_finding(a, FINDING_GROWING) != NULL, want[i]);
		assert_int_equal(a->verdict, VERDICT_SAWTOOTH);
	}
}

static void tracks_load_edges(void **state)
{
	(void)state;
	double r[] = {0.5999, 0.6, 0.9};
	bool want[] = {false, true, true};
	for (size_t i = 0; i < 3; i++) {
		struct analysis *a = base();
		a->load_correlation = r[i];
		a->shape_lo = 100 * MiB;
		a->shape_hi = 110 * MiB; /* a swing of 10 MiB = 10 % of the 100 MiB median: at the edge */
		assert_int_equal(found(a, FINDING_TRACKS_LOAD), want[i]);
	}
	struct analysis *a = base();
	a->load_correlation = 0.9;
	a->shape_lo = 100 * MiB;
	a->shape_hi = 110 * MiB - 1;
	assert_false(found(a, FINDING_TRACKS_LOAD));
	/* a peak during the heaviest stage of a load memory follows is the load's, not a spike */
	a = base();
	a->load_correlation = 0.9;
	a->shape_lo = 30 * MiB;
	a->shape_hi = 80 * MiB;
	a->steady_p50 = 31 * MiB;
	a->traffic_peak = a->peak = 83 * MiB;
	a->peak_median_ratio = 83.0 / 31.0;
	a->spike_time_fraction = 0.155;
	assert_true(found(a, FINDING_TRACKS_LOAD));
	assert_null(analysis_finding(a, FINDING_SPIKY));
}

static void too_short_edges(void **state)
{
	(void)state;
	struct analysis *a = base();
	a->steady_samples = 19;
	assert_true(found(a, FINDING_TOO_SHORT));
	assert_int_equal(a->verdict, VERDICT_TOO_SHORT);
	/* one sample short at 100 ms: 100 ms more; 10 s is met */
	assert_int_equal(a->need_more_ns, 100 * MS);
	a = base();
	a->steady_samples = 20;
	a->steady_ns = 10 * SEC;
	assert_false(found(a, FINDING_TOO_SHORT));
	a = base();
	a->steady_ns = 10 * SEC - 1;
	assert_true(found(a, FINDING_TOO_SHORT));
	assert_int_equal(a->need_more_ns, 1);
}

static void load_failed_edges(void **state)
{
	(void)state;
	/* the rule the load stage applies when the run recorded no verdict of its own */
	struct recording *rec = synth_new(10, 100 * MS);
	int64_t *rss = synth_col(rec, "rss");
	for (size_t i = 0; i < 10; i++)
		rss[i] = 10 * MiB;
	double rates[] = {0.05, 0.0501};
	for (int i = 0; i < 2; i++) {
		rec->nload = 0;
		synth_load(rec, SEC, 0, 10);
		rec->load[0].requests = 10000;
		rec->load[0].errors = (int64_t)(rates[i] * 10000 + 0.5);
		struct analysis an;
		assert_int_equal(analyze_recording(rec, NULL, &an), 0);
		assert_int_equal(an.load_failed, i == 1);
		assert_int_equal(analysis_finding(&an, FINDING_LOAD_FAILED) != NULL, i == 1);
	}
	/* the run's own --max-error-rate, recorded in its load event, decides */
	synth_event_detail(rec, 2 * SEC, "load", 10000, "attempts 10000 errors 501 error_rate 0.050100 responses 9499 rps 1 p99_us 1 max_error_rate 0.100000");
	struct analysis an;
	assert_int_equal(analyze_recording(rec, NULL, &an), 0);
	assert_false(an.load_failed);
	assert_int_equal(an.load_requests, 10000);
	assert_int_equal(an.load_errors, 501);
	synth_free(rec);
	struct analysis *a = base();
	a->load_failed = true;
	a->load_error_rate = 0.0501;
	assert_true(found(a, FINDING_LOAD_FAILED));
	stage_sizing(a);
	assert_false(a->sized);
	assert_non_null(strstr(a->no_sizing_reason, "did not exercise"));
}

static void dashboard_and_startup_edges(void **state)
{
	(void)state;
	struct analysis *a = base();
	a->blind[0].best_bytes = 90 * MiB; /* 90 % of the 100 MiB peak: at the edge */
	assert_true(found(a, FINDING_DASHBOARD_BLIND));
	assert_int_equal(analysis_finding(a, FINDING_DASHBOARD_BLIND)->bytes, 10 * MiB);
	a = base();
	a->blind[0].best_bytes = 90 * MiB + 1;
	assert_false(found(a, FINDING_DASHBOARD_BLIND));

	a = base();
	a->traffic_peak = 100 * MiB;
	a->startup_peak = a->peak = 110 * MiB; /* 1.10x: at the edge */
	assert_true(found(a, FINDING_STARTUP_PEAK));
	a = base();
	a->traffic_peak = 100 * MiB;
	a->startup_peak = a->peak = 110 * MiB - 1;
	assert_false(found(a, FINDING_STARTUP_PEAK));
}

/* several rules hold at once: every one is listed, most important first */
static void findings_are_a_set(void **state)
{
	(void)state;
	struct analysis *a = base();
	a->trend_significant = true;
	a->slope_bytes_per_s = 1e6;
	a->steady_p50 = 40 * MiB;
	a->traffic_peak = a->peak = 80 * MiB;
	a->peak_median_ratio = 2.0;
	a->spike_time_fraction = 0.02;
	a->oom_killed = true;
	assert_true(found(a, FINDING_SPIKY));
	assert_int_equal(a->nfindings, 3);
	assert_int_equal(a->findings[0].kind, FINDING_OOM_KILLED);
	assert_int_equal(a->findings[1].kind, FINDING_GROWING);
	assert_int_equal(a->findings[2].kind, FINDING_SPIKY);
	assert_int_equal(a->verdict, VERDICT_GROWING);
}

/* teeth counted by hand: three slow fills of 0..5 (rise 4 points from 2 to 5, fall 1) */
static void teeth_of_a_sawtooth(void **state)
{
	(void)state;
	double x[] = {0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 0};
	struct stats_teeth t;
	assert_int_equal(stats_teeth(x, sizeof(x) / sizeof(x[0]), 4, &t), 0);
	assert_int_equal(t.teeth, 3);
	assert_near(t.rise_median, 4, 0);
	assert_near(t.fall_median, 1, 0);
	double y[] = {0, 0, 10, 0, 0, 10, 0, 0, 10, 0};
	assert_int_equal(stats_teeth(y, sizeof(y) / sizeof(y[0]), 5, &t), 0);
	assert_int_equal(t.teeth, 3);
	assert_near(t.rise_median, 1, 0);
	assert_near(t.fall_median, 1, 0);
	assert_int_equal(stats_count_drops(y, 10, 5), 3);
	assert_int_equal(stats_teeth(y, 10, 0, &t), -EINVAL);
}

static struct analysis *sized_case(int64_t peak, int64_t rss_peak)
{
	struct analysis *a = base();
	a->peak = a->traffic_peak = peak;
	a->rss_peak = rss_peak;
	a->request_basis_p95 = peak;
	return a;
}

static void sizing_floor(void **state)
{
	(void)state;
	struct sizing s;
	/* nginx: cgroup usage 4 MiB, RSS 14.7 MiB (libraries already in the page cache) */
	const struct analysis *one[1] = {sized_case(4 * MiB, (int64_t)(14.7 * MiB))};
	assert_int_equal(size_recommend(one, 1, NULL, &s), 0);
	/* 14.7 × 1.25 = 18.375 MiB, rounded up: 19 MiB */
	assert_int_equal(s.limit_bytes, 19 * MiB);
	assert_true(s.limit_floored);
	assert_int_equal(s.needs_to_exist, (int64_t)(14.7 * MiB));
	/* sleep: 1 MiB of everything: the 16 MiB floor */
	one[0] = sized_case(MiB, MiB);
	assert_int_equal(size_recommend(one, 1, NULL, &s), 0);
	assert_int_equal(s.limit_bytes, SIZE_FLOOR_BYTES);
	assert_true(s.request_bytes <= s.limit_bytes);
	/* a big service is not floored: 100.5 MiB × 1.25 = 125.625 → 126 MiB */
	one[0] = sized_case((int64_t)(100.5 * MiB), 90 * MiB);
	assert_int_equal(size_recommend(one, 1, NULL, &s), 0);
	assert_int_equal(s.limit_bytes, 126 * MiB);
	assert_false(s.limit_floored);
	/* a corrupt recording's INT64_MAX peak saturates: never a small limit */
	one[0] = sized_case(INT64_MAX, INT64_MAX);
	assert_int_equal(size_recommend(one, 1, NULL, &s), 0);
	assert_int_equal(s.limit_bytes, INT64_MAX);
}

/* the last read before the exit sees the process unmapping: a peak, never the final level */
static void teardown_is_not_a_reading(void **state)
{
	(void)state;
	struct recording *rec = synth_new(100, 100 * MS);
	int64_t *rss = synth_col(rec, "rss");
	for (size_t i = 0; i < 100; i++)
		rss[i] = 400 * MiB;
	rss[99] = 140 * MiB;
	synth_event(rec, 9950 * MS, "exit", 0);
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.teardown_samples, 1);
	assert_int_equal(a.final, 400 * MiB);
	assert_int_equal(a.rss_final, 400 * MiB);
	assert_int_equal(a.steady_p50, 400 * MiB);
	synth_free(rec);

	/* headroom's own SIGTERM at 8 s: what follows is the program stopping */
	rec = synth_new(100, 100 * MS);
	rss = synth_col(rec, "rss");
	for (size_t i = 0; i < 100; i++)
		rss[i] = i < 85 ? 400 * MiB : 50 * MiB;
	synth_event_detail(rec, 8 * SEC, "signal", 15, "headroom sent SIGTERM: --duration elapsed");
	synth_event(rec, 9950 * MS, "exit", -15);
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.teardown_samples, 20);
	assert_int_equal(a.rss_final, 400 * MiB);
	synth_free(rec);
}

/* heap figures that stop being fresh (the process was stopped after its frees) are never the
 * level of a later instant: the last fresh one is kept with its instant and its age is said */
static void stale_heap_is_not_current(void **state)
{
	(void)state;
	struct recording *rec = synth_new(100, 100 * MS);
	int64_t *rss = synth_col(rec, "rss"), *live = synth_col(rec, "heap_live"), *anon = synth_col(rec, "map_anon");
	int64_t *ht = synth_col(rec, "heap_t_ns");
	snprintf(rec->run.heap_status, sizeof(rec->run.heap_status), "available: glibc, stats mode");
	for (size_t i = 0; i < 100; i++) {
		rss[i] = 407 * MiB;
		anon[i] = 400 * MiB;
		live[i] = i < 40 ? 400 * MiB : 25 * MiB;
		/* fresh up to sample 59, then the figure of 5.9 s is read again and again */
		ht[i] = i < 60 ? rec->t_ns[i] : rec->t_ns[59];
	}
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_true(a.heap_available);
	assert_true(a.heap_stale);
	assert_int_equal(a.heap_live_final, 25 * MiB);
	assert_int_equal(a.heap_final_t_ns, 59 * 100 * MS);
	/* read at 9.9 s: 4 s old */
	assert_int_equal(a.heap_stale_age_ns, 4 * SEC);
	assert_non_null(analysis_finding(&a, FINDING_HEAP_STALE));
	/* the breakdown at 9.9 s has no heap figure of its instant: no heap parts */
	assert_true(a.have_breakdown);
	assert_int_equal(a.bd_t_ns, 99 * 100 * MS);
	assert_int_equal(a.bd.heap, HR_UNKNOWN);
	assert_int_equal(a.bd.allocator, HR_UNKNOWN);
	synth_free(rec);

	/* the same figures, fresh to the end: allocator-held 375 MiB is named */
	rec = synth_new(100, 100 * MS);
	rss = synth_col(rec, "rss");
	live = synth_col(rec, "heap_live");
	anon = synth_col(rec, "map_anon");
	ht = synth_col(rec, "heap_t_ns");
	snprintf(rec->run.heap_status, sizeof(rec->run.heap_status), "available: glibc, count mode");
	for (size_t i = 0; i < 100; i++) {
		rss[i] = 407 * MiB;
		anon[i] = 400 * MiB;
		live[i] = i < 40 ? 400 * MiB : 25 * MiB;
		ht[i] = rec->t_ns[i];
	}
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_false(a.heap_stale);
	assert_int_equal(a.bd.heap, 25 * MiB);
	assert_int_equal(a.bd.allocator, 375 * MiB);
	assert_true(a.bd_allocator_estimated);
	assert_non_null(analysis_finding(&a, FINDING_RETENTION));
	assert_int_equal(a.heap_finding, HEAP_RETENTION);
	/* a service's page polled once a second (--metrics): the run ends 1.5 s after its last
	 * answer, which is still that instant's figure (the shim's 1 s freshness left the breakdown
	 * without a heap part: it_heap_metrics failed once so under load); 2.5 s after, it is not */
	snprintf(rec->run.heap_mode, sizeof(rec->run.heap_mode), "metrics");
	snprintf(rec->run.heap_status, sizeof(rec->run.heap_status), "available: go runtime (metrics http://127.0.0.1:1/m)");
	for (size_t i = 0; i < 100; i++)
		ht[i] = rec->t_ns[i] - (i >= 85 ? rec->t_ns[i] - rec->t_ns[84] : 0) - 10 * MS;   /* last answer 8.39 s */
	for (size_t i = 85; i < 100; i++)
		live[i] = live[84];
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.bd_t_ns, 99 * 100 * MS);
	assert_int_equal(a.bd_heap_age_ns, 99 * 100 * MS - 84 * 100 * MS + 10 * MS);
	assert_int_equal(a.bd.heap, 25 * MiB);
	for (size_t i = 85; i < 100; i++)
		ht[i] = rec->t_ns[74] - 10 * MS;   /* the last answer 2.51 s before the end */
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.bd.heap, HR_UNKNOWN);
	synth_free(rec);
}

/* a run that ended before the shim's first answer: the recorder's "pending" becomes a reason a
 * user can read, not the recorder's word */
static void heap_never_answered_is_said(void **state)
{
	(void)state;
	struct recording *rec = synth_new(3, 25 * MS);
	int64_t *rss = synth_col(rec, "rss");
	for (size_t i = 0; i < 3; i++)
		rss[i] = 4 * MiB;
	snprintf(rec->run.heap_mode, sizeof(rec->run.heap_mode), "stats");
	snprintf(rec->run.heap_status, sizeof(rec->run.heap_status), "pending");
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_false(a.heap_available);
	assert_string_equal(a.heap_status, "no heap figures: the run ended before the heap shim first answered");
	assert_string_equal(a.heap_why, "no heap figures: the run ended before the heap shim first answered");
	/* a recorder's status that already says "unavailable:" gives its reason once, for every view */
	snprintf(rec->run.heap_mode, sizeof(rec->run.heap_mode), "gctrace");
	snprintf(rec->run.heap_status, sizeof(rec->run.heap_status),
		 "unavailable: the Go program finished no GC cycle while it was recorded");
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_false(a.heap_available);
	assert_string_equal(a.heap_why, "the Go program finished no GC cycle while it was recorded");
	assert_string_equal(a.heap_origin, "");
	synth_free(rec);
}

/* issue 19.1: a service that never became ready gets no recommendation, with the reason; 19.9: a
 * status that says "available" without one figure is not shown as available */
static void never_ready_is_not_sized(void **state)
{
	(void)state;
	struct recording *rec = synth_new(300, 100 * MS);
	int64_t *rss = synth_col(rec, "rss");
	for (size_t i = 0; i < 300; i++)
		rss[i] = 20 * MiB;
	snprintf(rec->run.heap_status, sizeof(rec->run.heap_status), "available: glibc, stats mode");
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_true(a.sized);
	assert_int_equal(a.sizing.limit_bytes, 25 * MiB);   /* 20 MiB x 1.25, above the 16 MiB floor */
	assert_false(a.heap_available);
	assert_null(strstr(a.heap_status, "available:"));
	synth_event_detail(rec, 30 * SEC, "note", 0, "127.0.0.1:8080 did not accept connections in time");
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_true(a.never_ready);
	assert_false(a.sized);
	assert_non_null(strstr(a.no_sizing_reason, "never became ready"));
	assert_non_null(analysis_finding(&a, FINDING_NOT_READY));
	synth_free(rec);
}

/* A service with jemalloc compiled in, read from its metrics page once a second: RSS `rss_end`
 * flat but for a 200 MiB plateau at 10.0-10.4 s; jemalloc's figures in every tenth row (its
 * instant 20 ms before the row), allocated 10 MiB, active 12 MiB, metadata 3 MiB, resident
 * allocated + `gap` at the end; `threads` threads. */
static struct recording *je_run(int64_t rss_end, int64_t gap, int64_t threads)
{
	const size_t n = 300;
	struct recording *rec = synth_new(n, 100 * MS);
	snprintf(rec->run.heap_mode, sizeof(rec->run.heap_mode), "metrics");
	snprintf(rec->run.heap_status, sizeof(rec->run.heap_status), "available: jemalloc (metrics http://127.0.0.1:1/metrics)");
	int64_t *rss = synth_col(rec, "rss"), *hl = synth_col(rec, "heap_live"), *ht = synth_col(rec, "heap_t_ns");
	int64_t *act = synth_col(rec, "alloc_active"), *res = synth_col(rec, "alloc_resident");
	int64_t *ret = synth_col(rec, "alloc_retained"), *meta = synth_col(rec, "alloc_metadata");
	int64_t *thr = synth_col(rec, "threads");
	for (size_t i = 0; i < n; i++) {
		rss[i] = i >= 100 && i < 105 ? 200 * MiB : rss_end;
		thr[i] = threads;
		if (i % 10)
			continue;
		hl[i] = 10 * MiB;
		act[i] = 12 * MiB;
		meta[i] = 3 * MiB;
		ret[i] = 7 * MiB;
		res[i] = 10 * MiB + gap;
		ht[i] = rec->t_ns[i] - 20 * MS;
	}
	/* near the peak (10.0 s): 9.98 s has 150 MiB resident, 10.98 s 190 MiB (both within the 1 s
	 * freshness of the peak's instant), 8.98 s 300 MiB (1.02 s away: outside) */
	res[90] = 300 * MiB;
	res[100] = 150 * MiB;
	res[110] = 190 * MiB;
	return rec;
}

/* jemalloc's gap resident - allocated against the allocator-held thresholds (32 MiB and 25 % of
 * RSS), each edge worked out by hand, and the figures near the peak */
static void jemalloc_gap(void **state)
{
	(void)state;
	struct analysis a;
	/* RSS 128 MiB: both edges at 32 MiB (25 % of 128) */
	struct recording *rec = je_run(128 * MiB, 32 * MiB, 4);
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_true(a.je_available);
	assert_string_equal(a.allocator, "jemalloc");
	assert_string_equal(a.heap_origin, "jemalloc (metrics http://127.0.0.1:1/metrics)");   /* whose figures */
	assert_string_equal(a.heap_why, "");
	assert_int_equal(a.je_final.t_ns, 29 * SEC - 20 * MS);   /* the last row alive that has them */
	assert_int_equal(a.je_final.allocated, 10 * MiB);
	assert_int_equal(a.je_final.resident, 42 * MiB);
	assert_int_equal(a.je_final.retained, 7 * MiB);
	assert_int_equal(a.je_final.gap, 32 * MiB);
	assert_int_equal(a.je_final.dirty, 42 * MiB - 12 * MiB - 3 * MiB);
	assert_int_equal(a.je_final.rss, 128 * MiB);
	assert_true(fabs(a.je_final.gap_ratio - 0.25) < 1e-12);
	assert_true(a.je_final.gap_large);
	/* 4 threads: at most 4 arenas, narenas cannot matter */
	assert_int_equal(a.je_threads_peak, 4);
	assert_false(a.je_narenas);
	/* the true peak at 10.0 s; of the figures within 1 s of it, the most resident (10.98 s) */
	assert_int_equal(a.peak_t_ns, 10 * SEC);
	assert_int_equal(a.je_peak.t_ns, 11 * SEC - 20 * MS);
	assert_int_equal(a.je_peak.resident, 190 * MiB);
	assert_int_equal(a.je_peak.gap, 180 * MiB);
	assert_int_equal(a.je_peak.rss, 128 * MiB);   /* that row's RSS, after the plateau */
	synth_free(rec);

	rec = je_run(128 * MiB, 32 * MiB - 1, 5);
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_false(a.je_final.gap_large);
	assert_true(a.je_narenas);   /* 5 threads: more than 4 */
	synth_free(rec);

	/* RSS 200 MiB: the ratio decides, 25 % = 50 MiB */
	rec = je_run(200 * MiB, 50 * MiB, 1);
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_true(a.je_final.gap_large);
	synth_free(rec);
	rec = je_run(200 * MiB, 50 * MiB - 1, 1);
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_false(a.je_final.gap_large);
	synth_free(rec);

	/* RSS 100 MiB: the size decides, 32 MiB (25 % is 25 MiB) */
	rec = je_run(100 * MiB, 32 * MiB, 1);
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_true(a.je_final.gap_large);
	synth_free(rec);
	rec = je_run(100 * MiB, 32 * MiB - 1, 1);
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_false(a.je_final.gap_large);
	/* resident below active + metadata: no dirty pages, not a negative figure */
	synth_free(rec);
	rec = je_run(100 * MiB, 1 * MiB, 1);
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.je_final.dirty, 0);
	assert_int_equal(a.je_final.gap, 1 * MiB);
	synth_free(rec);

	/* no alloc_resident (a Go page, the shim over glibc): nothing said */
	rec = je_run(100 * MiB, 32 * MiB, 1);
	int64_t *res = synth_col(rec, "alloc_resident");
	for (size_t i = 0; i < 300; i++)
		res[i] = HR_UNKNOWN;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_false(a.je_available);
	assert_int_equal(a.je_final.gap, HR_UNKNOWN);
	synth_free(rec);
}

/* A Go run as the gctrace recorder writes it: RSS `rss` MiB flat, a cycle every 10 samples
 * (live, goal; one cycle's live peak `live_peak`), the cycle count in every row after the first. */
static struct recording *go_run(size_t n, int64_t rss_mib, int64_t live, int64_t goal, int64_t live_peak)
{
	struct recording *rec = synth_new(n, 100 * MS);
	snprintf(rec->run.heap_mode, sizeof(rec->run.heap_mode), "gctrace");
	snprintf(rec->run.heap_status, sizeof(rec->run.heap_status), "available: go runtime (GODEBUG=gctrace=1)");
	int64_t *rss = synth_col(rec, "rss"), *hl = synth_col(rec, "heap_live"), *hg = synth_col(rec, "heap_goal");
	int64_t *hp = synth_col(rec, "heap_live_peak"), *cyc = synth_col(rec, "gc_cycles"), *ht = synth_col(rec, "heap_t_ns");
	int64_t *hb = synth_col(rec, "heap_goal_base");
	int64_t count = 0;
	for (size_t i = 0; i < n; i++) {
		rss[i] = rss_mib * MiB;
		if (i % 10 == 5) {
			count++;
			hl[i] = live;
			hg[i] = goal;
			hp[i] = count == 3 ? live_peak : live;
			hb[i] = count > 1 ? live : HR_UNKNOWN;   /* each cycle's goal from the one before */
			ht[i] = rec->t_ns[i] - 30 * MS;
		}
		if (count)
			cyc[i] = count;
	}
	return rec;
}

/* the GC figures and the GOMEMLIMIT / GOGC advice, each worked out by hand */
static void go_gc_advice(void **state)
{
	(void)state;
	struct analysis a;
	/* 30 s, RSS 150 MiB: limit 150 × 1.25 = 187.5 -> 188 MiB; GOMEMLIMIT 0.9 × 188 = 169.2 -> 169 MiB;
	 * overhead 150 - 128 = 22 MiB; GOGC max = floor(100 × (169 - 22 - 70) / 70) = 110; its goal
	 * 70 + 77 = 147 MiB */
	struct recording *rec = go_run(300, 150, 64 * MiB, 128 * MiB, 70 * MiB);
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_true(a.gc_available);
	assert_int_equal(a.gc_cycles, 30);
	assert_int_equal(a.gc_live_final, 64 * MiB);
	assert_int_equal(a.gc_live_peak, 70 * MiB);
	assert_int_equal(a.gc_goal_final, 128 * MiB);
	assert_true(fabs(a.gc_gogc - 100) < 1e-9);
	assert_int_equal(a.gc_overhead_bytes, 22 * MiB);
	assert_true(a.sized);
	assert_int_equal(a.sizing.limit_bytes, 188 * MiB);
	assert_int_equal(a.gc_limit_bytes, 188 * MiB);
	assert_int_equal(a.gc_gomemlimit_bytes, 169 * MiB);
	assert_int_equal(a.gc_gogc_max, 110);
	assert_int_equal(a.gc_goal_at_max, 147 * MiB);
	assert_false(a.gc_explains_sawtooth);   /* flat RSS: no sawtooth to explain */
	/* the Go runtime, not glibc, in the remedies */
	assert_string_equal(a.allocator, "go");
	synth_free(rec);

	/* a live heap too big for any GOGC: 169 - 22 - 160 < 0 */
	rec = go_run(300, 150, 64 * MiB, 128 * MiB, 160 * MiB);
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_int_equal(a.gc_gogc_max, 0);
	synth_free(rec);

	/* the goal at the runtime's 4 MiB minimum: no GOGC can be read off it */
	rec = go_run(300, 20, 1 * MiB, 4 * MiB, 1 * MiB);
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_true(a.gc_available);
	assert_true(isnan(a.gc_gogc));
	/* 4 MiB + 1 MiB: GOGC 25 is the first the runtime could have run with */
	synth_free(rec);
	rec = go_run(300, 20, 4 * MiB, 5 * MiB, 4 * MiB);
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_true(fabs(a.gc_gogc - 25) < 1e-9);
	synth_free(rec);

	/* GOGC comes from a goal and the live heap it was set from (the cycle before): 128 MiB set
	 * from 80 MiB is GOGC 60; with no two consecutive cycles read it is not known */
	rec = go_run(300, 150, 64 * MiB, 128 * MiB, 64 * MiB);
	int64_t *hb = synth_col(rec, "heap_goal_base");
	for (size_t i = 0; i < 300; i++)
		if (hb[i] >= 0)
			hb[i] = 80 * MiB;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_true(fabs(a.gc_gogc - 60) < 1e-9);
	assert_int_equal(a.gc_gogc_live, 80 * MiB);
	for (size_t i = 0; i < 300; i++)
		hb[i] = HR_UNKNOWN;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_true(isnan(a.gc_gogc));
	/* the advice does not need it: floor(100 × (169 - 22 - 64) / 64) = 129 */
	assert_int_equal(a.gc_gogc_max, 129);
	synth_free(rec);

	/* no recommendation (the service never became ready): figures, no advice */
	rec = go_run(300, 150, 64 * MiB, 128 * MiB, 64 * MiB);
	synth_event_detail(rec, 0, "not_ready", 0, "127.0.0.1:8080 did not accept connections in time");
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_true(a.gc_available);
	assert_false(a.sized);
	assert_int_equal(a.gc_gomemlimit_bytes, HR_UNKNOWN);
	assert_int_equal(a.gc_gogc_max, HR_UNKNOWN);
	synth_free(rec);

	/* the same columns in a shim recording say nothing about a collector */
	rec = go_run(300, 150, 64 * MiB, 128 * MiB, 64 * MiB);
	snprintf(rec->run.heap_mode, sizeof(rec->run.heap_mode), "stats");
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_false(a.gc_available);
	synth_free(rec);
}

/* the sawtooth is the collector when its teeth are no more than the cycles of the steady phase */
static void go_gc_sawtooth(void **state)
{
	(void)state;
	struct analysis a;
	for (int few = 0; few < 2; few++) {
		/* 40 s: RSS climbs 100 -> 160 MiB over 40 samples and falls back in one, 10 teeth */
		struct recording *rec = go_run(400, 100, 50 * MiB, 100 * MiB, 50 * MiB);
		int64_t *rss = synth_col(rec, "rss"), *hg = synth_col(rec, "heap_goal"), *hl = synth_col(rec, "heap_live");
		int64_t *cyc = synth_col(rec, "gc_cycles"), *hp = synth_col(rec, "heap_live_peak");
		int64_t count = 0;
		for (size_t i = 0; i < 400; i++) {
			rss[i] = (100 + (int64_t)(i % 40) * 60 / 39) * MiB;
			hg[i] = hl[i] = hp[i] = cyc[i] = HR_UNKNOWN;
			/* a cycle at each fall, or (few) at only every fourth */
			if (i % 40 == 0 && (!few || i % 160 == 0)) {
				count++;
				hl[i] = hp[i] = 50 * MiB;
				hg[i] = 100 * MiB;
			}
			if (count)
				cyc[i] = count;
		}
		assert_int_equal(analyze_recording(rec, NULL, &a), 0);
		assert_non_null(analysis_finding(&a, FINDING_SAWTOOTH));
		assert_true(a.drops >= 8);
		if (few) {
			assert_true(a.gc_cycles_steady < (int64_t)a.drops);
			assert_false(a.gc_explains_sawtooth);
		} else {
			assert_true(a.gc_cycles_steady >= (int64_t)a.drops);
			assert_true(a.gc_explains_sawtooth);
		}
		synth_free(rec);
	}
}

/* A leak suspect needs a Mann–Kendall p under TH_P_SITES (0.001), not the trend's 1 %. 20 s of
 * flat RSS, ready at 1 s, a snapshot a second from 2 to 15 s (14), no ties. Each site is judged
 * on its own, so the cases share one recording:
 *  - just_over / just_under: 10 MiB + 1 MiB x a rising order with 14 and 15 pairs out of order,
 *    S = 63 and 61 of 91: p 0.00069 and 0.00102, each a Theil–Sen rise of ~11.7 MiB;
 *  - busy: a level site at ~8 MiB whose snapshots drift up by chance (p 0.0026, a rise of 4.3
 *    MiB, over the trend's 2 MiB band), the case that named a busy site of
 *    tests/progs/sites_leak in a CI run;
 *  - leak: 2 MiB a second from nothing with the same wobble (p ~1e-6).
 * The ranking is by rise: leak first. */
static void site_suspect_significance_edges(void **state)
{
	(void)state;
	static const int over[14] = {5, 4, 3, 2, 1, 7, 6, 9, 8, 11, 10, 13, 12, 14};
	static const int under[14] = {5, 4, 3, 2, 1, 7, 6, 9, 8, 11, 10, 13, 14, 12};
	static const double wobble[14] = {5.5, 7.0, 6.0, 8.5, 6.5, 7.5, 9.0, 8.0, 7.0, 10.5, 9.0, 8.5, 11.0, 10.0};
	struct recording *rec = synth_new(200, 100 * MS);
	int64_t *rss = synth_col(rec, "rss"), *pk = synth_col(rec, "rss_peak");
	for (size_t i = 0; i < 200; i++)
		rss[i] = pk[i] = 200 * MiB;
	synth_event(rec, 1 * SEC, "ready", 0);
	snprintf(rec->run.heap_mode, sizeof(rec->run.heap_mode), "sites");
	rec->heap_sample_interval = 512 * 1024;
	int64_t t[14], o[14], u[14], busy[14], leak[14];
	for (int k = 0; k < 14; k++) {
		t[k] = (2 + k) * SEC;
		o[k] = (10 + over[k]) * MiB;
		u[k] = (10 + under[k]) * MiB;
		busy[k] = (int64_t)(wobble[k] * (double)MiB);
		leak[k] = 2 * MiB * (k + 1) + (int64_t)((wobble[k] - 8) * (double)MiB);
	}
	synth_site(rec, 1, "just_over", t, o, 14);
	synth_site(rec, 2, "just_under", t, u, 14);
	synth_site(rec, 3, "busy", t, busy, 14);
	synth_site(rec, 4, "leak", t, leak, 14);
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	assert_true(a.sites);
	bool named[5] = {false};
	for (int i = 0; i < a.nsuspects; i++)
		named[a.suspects[i].site] = true;
	assert_true(named[1]);
	assert_false(named[2]);
	assert_false(named[3]);
	assert_true(named[4]);
	assert_int_equal(a.nsuspects, 2);
	assert_string_equal(a.suspects[0].name, "leak");
	assert_true(a.suspects[1].mk_p > 0.0006 && a.suspects[1].mk_p < 0.0008);
	synth_free(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(retention_edges),
		cmocka_unit_test(spiky_edges),
		cmocka_unit_test(sawtooth_edges),
		cmocka_unit_test(sawtooth_growth_needs_rising_troughs),
		cmocka_unit_test(tracks_load_edges),
		cmocka_unit_test(too_short_edges),
		cmocka_unit_test(load_failed_edges),
		cmocka_unit_test(dashboard_and_startup_edges),
		cmocka_unit_test(findings_are_a_set),
		cmocka_unit_test(teeth_of_a_sawtooth),
		cmocka_unit_test(sizing_floor),
		cmocka_unit_test(teardown_is_not_a_reading),
		cmocka_unit_test(stale_heap_is_not_current),
		cmocka_unit_test(never_ready_is_not_sized),
		cmocka_unit_test(heap_never_answered_is_said),
		cmocka_unit_test(go_gc_advice),
		cmocka_unit_test(go_gc_sawtooth),
		cmocka_unit_test(jemalloc_gap),
		cmocka_unit_test(site_suspect_significance_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
