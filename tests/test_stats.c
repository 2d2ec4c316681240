/* stats: the estimators on series whose answer is known by construction. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stats.h"

#define MiB (1024.0 * 1024.0)

/* xorshift64*, seeded: the same noise on every run, but noise all the same */
static uint64_t rng = 88172645463325252ULL;
static double uniform(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (double)((rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}
static double gauss(void)
{
	double u = uniform(), v = uniform();
	if (u < 1e-12)
		u = 1e-12;
	return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void quantile_matches_sorting(void **state)
{
	(void)state;
	for (size_t n = 1; n < 300; n += 37) {
		double *x = malloc(n * sizeof(double)), *s = malloc(n * sizeof(double));
		for (size_t i = 0; i < n; i++)
			x[i] = floor(uniform() * 50); /* many ties */
		memcpy(s, x, n * sizeof(double));
		qsort(s, n, sizeof(double), cmp_d);
		const double qs[] = {0, 0.25, 0.5, 0.9, 0.95, 1};
		for (size_t k = 0; k < 6; k++) {
			double h = (double)(n - 1) * qs[k];
			size_t lo = (size_t)floor(h);
			double want = lo + 1 < n ? s[lo] + (h - lo) * (s[lo + 1] - s[lo]) : s[lo];
			double got;
			assert_int_equal(stats_quantile(x, n, qs[k], &got), 0);
			assert_true(fabs(got - want) < 1e-9);
		}
		free(x);
		free(s);
	}
	double got = 42;
	assert_int_equal(stats_quantile(NULL, 0, 0.5, &got), -EINVAL);
	double one = 3;
	assert_int_equal(stats_quantile(&one, 0, 0.5, &got), -ENODATA);
	assert_true(got == 42);
}

static void flat_with_noise_has_no_trend(void **state)
{
	(void)state;
	size_t n = 3000;
	double *t = malloc(n * sizeof(double)), *x = malloc(n * sizeof(double));
	for (size_t i = 0; i < n; i++) {
		t[i] = i * 0.1;
		x[i] = 100 * MiB + gauss() * 2 * MiB;
	}
	double slope, icept;
	assert_int_equal(stats_theil_sen(t, x, n, &slope, &icept), 0);
	/* over the 300 s the fitted change is well inside the noise */
	assert_true(fabs(slope * 300) < 1 * MiB);
	assert_true(fabs(icept - 100 * MiB) < 1 * MiB);
	struct stats_mk mk;
	assert_int_equal(stats_mann_kendall(t, x, n, &mk), 0);
	assert_true(mk.p > 0.01);
	assert_int_equal(mk.n, STATS_PAIRWISE_MAX);
	double st;
	assert_int_equal(stats_stabilization(t, x, n, 0.05, 1 * MiB, &st), 0);
	assert_true(st < 5);
	assert_int_equal(stats_count_drops(x, n, 20 * MiB), 0);
	free(t);
	free(x);
}

static void linear_growth_hidden_in_noise_is_found(void **state)
{
	(void)state;
	/* 20 KiB/s under 4 MiB of noise: invisible sample to sample, 12 MiB over the 10 minutes */
	size_t n = 6000;
	double rate = 20 * 1024;
	double *t = malloc(n * sizeof(double)), *x = malloc(n * sizeof(double));
	for (size_t i = 0; i < n; i++) {
		t[i] = i * 0.1;
		x[i] = 200 * MiB + rate * t[i] + gauss() * 4 * MiB;
	}
	double slope;
	assert_int_equal(stats_theil_sen(t, x, n, &slope, NULL), 0);
	assert_true(fabs(slope - rate) < 0.15 * rate);
	struct stats_mk mk;
	assert_int_equal(stats_mann_kendall(t, x, n, &mk), 0);
	assert_true(mk.p < 1e-6);
	assert_true(mk.z > 0);
	/* the same series falling gives the mirror answer */
	for (size_t i = 0; i < n; i++)
		x[i] = 400 * MiB - (x[i] - 200 * MiB);
	assert_int_equal(stats_mann_kendall(t, x, n, &mk), 0);
	assert_true(mk.p < 1e-6 && mk.z < 0);
	free(t);
	free(x);
}

static void step_stabilises_after_the_step(void **state)
{
	(void)state;
	size_t n = 1000;
	double t[1000], x[1000];
	for (size_t i = 0; i < n; i++) {
		t[i] = i * 0.1;
		x[i] = (i < 300 ? 300 * MiB : 80 * MiB) + gauss() * 0.5 * MiB;
	}
	double st;
	assert_int_equal(stats_stabilization(t, x, n, 0.05, 1 * MiB, &st), 0);
	assert_true(fabs(st - 30.0) < 0.15);
	/* the startup hump falls once and never rises again */
	assert_int_equal(stats_count_drops(x, n, 20 * MiB), 0); /* no rise came first */
	for (size_t i = 0; i < n; i++)
		x[i] = (i < 300 ? 80 * MiB : 200 * MiB) + gauss() * 0.5 * MiB;
	assert_int_equal(stats_stabilization(t, x, n, 0.05, 1 * MiB, &st), 0);
	assert_true(fabs(st - 30.0) < 0.15);
	assert_int_equal(stats_count_drops(x, n, 20 * MiB), 0);
	/* freeing everything while shutting down (the last two points) does not unsettle it */
	x[998] = x[999] = 1 * MiB;
	assert_int_equal(stats_stabilization(t, x, n, 0.05, 1 * MiB, &st), 0);
	assert_true(fabs(st - 30.0) < 0.15);
	/* but a long fall at the end is not a shutdown */
	for (size_t i = 900; i < n; i++)
		x[i] = 1 * MiB;
	assert_int_equal(stats_stabilization(t, x, n, 0.05, 1 * MiB, &st), -ENODATA);
	/* still rising at the end: never settles */
	for (size_t i = 0; i < n; i++)
		x[i] = 80 * MiB + i * 0.2 * MiB;
	assert_int_equal(stats_stabilization(t, x, n, 0.05, 1 * MiB, &st), -ENODATA);
}

static void sawtooth_counts_its_teeth(void **state)
{
	(void)state;
	size_t n = 2000;
	double x[2000];
	/* 7 teeth: climb 50 -> 150 MiB over 250 points, fall at once */
	for (size_t i = 0; i < n; i++)
		x[i] = 50 * MiB + (double)(i % 250) / 250.0 * 100 * MiB + gauss() * 1 * MiB;
	size_t drops = stats_count_drops(x, n, 30 * MiB);
	assert_int_equal(drops, 7);
	double f = stats_fraction_above(x, n, 100 * MiB);
	assert_true(f > 0.4 && f < 0.6);
	/* noise smaller than the threshold is not a tooth */
	for (size_t i = 0; i < n; i++)
		x[i] = 100 * MiB + gauss() * 2 * MiB;
	assert_int_equal(stats_count_drops(x, n, 30 * MiB), 0);
}

static void single_spike_is_one_short_run(void **state)
{
	(void)state;
	size_t n = 1000;
	double x[1000];
	for (size_t i = 0; i < n; i++)
		x[i] = 100 * MiB + gauss() * 0.3 * MiB;
	x[500] = 400 * MiB;
	double med;
	assert_int_equal(stats_quantile(x, n, 0.5, &med), 0);
	assert_true(fabs(med - 100 * MiB) < MiB);
	assert_int_equal(stats_count_runs_above(x, n, med + 150 * MiB), 1);
	assert_true(stats_fraction_above(x, n, med + 150 * MiB) < 0.002);
	assert_int_equal(stats_count_drops(x, n, 100 * MiB), 1);
}

static void too_short_is_an_error_not_an_answer(void **state)
{
	(void)state;
	double t[3] = {0, 1, 2}, x[3] = {1, 2, 3};
	double slope = 7;
	struct stats_mk mk = {0};
	assert_int_equal(stats_theil_sen(t, x, 2, &slope, NULL), -ENODATA);
	assert_true(slope == 7);
	assert_int_equal(stats_mann_kendall(t, x, 3, &mk), -ENODATA);
	double st = 9;
	assert_int_equal(stats_stabilization(t, x, 3, 0.05, 0, &st), -ENODATA);
	assert_true(st == 9);
	assert_true(isnan(stats_pearson(x, x, 2)));
	/* three points are enough for a slope */
	assert_int_equal(stats_theil_sen(t, x, 3, &slope, NULL), 0);
	assert_true(fabs(slope - 1) < 1e-12);
}

static void mann_kendall_ties_correction(void **state)
{
	(void)state;
	/* a constant series: every pair tied, S = 0, variance 0, p = 1 */
	double t[50], x[50];
	for (int i = 0; i < 50; i++) {
		t[i] = i;
		x[i] = 5;
	}
	struct stats_mk mk;
	assert_int_equal(stats_mann_kendall(t, x, 50, &mk), 0);
	assert_true(mk.s == 0 && mk.var == 0 && mk.p == 1.0);
	/* n = 10 strictly increasing: S = 45, var = 10*9*25/18 = 125 */
	assert_int_equal(stats_mann_kendall(t, t, 10, &mk), 0);
	assert_true(mk.s == 45);
	assert_true(fabs(mk.var - 125) < 1e-9);
	assert_true(fabs(mk.z - 44 / sqrt(125)) < 1e-9);
	/* with one group of 3 ties the variance loses 3*2*11/18 */
	double y[10] = {1, 2, 3, 3, 3, 4, 5, 6, 7, 8};
	assert_int_equal(stats_mann_kendall(t, y, 10, &mk), 0);
	assert_true(mk.s == 42);
	assert_true(fabs(mk.var - (10 * 9 * 25 - 3 * 2 * 11) / 18.0) < 1e-9);
}

static void pearson_known_values(void **state)
{
	(void)state;
	double a[5] = {1, 2, 3, 4, 5}, b[5] = {2, 4, 6, 8, 10}, c[5] = {5, 4, 3, 2, 1}, d[5] = {3, 3, 3, 3, 3};
	assert_true(fabs(stats_pearson(a, b, 5) - 1) < 1e-12);
	assert_true(fabs(stats_pearson(a, c, 5) + 1) < 1e-12);
	assert_true(isnan(stats_pearson(a, d, 5)));
}

/* 120 s at 10 ms with a baseline of 100 MiB */
#define BN 12000
static int64_t bt[BN], bx[BN];
static void baseline(void)
{
	for (size_t i = 0; i < BN; i++) {
		bt[i] = (int64_t)i * 10000000LL;
		bx[i] = 100LL << 20;
	}
}

static void blind_spot_short_spike_is_a_matter_of_luck(void **state)
{
	(void)state;
	baseline();
	for (size_t i = 4000; i < 4005; i++) /* 50 ms at 300 MiB */
		bx[i] = 300LL << 20;
	struct stats_blind b;
	assert_int_equal(stats_blind_spot(bt, bx, BN, 15000000000LL, &b), 0);
	assert_int_equal(b.best, 300LL << 20);
	assert_int_equal(b.worst, 100LL << 20);
	assert_int_equal(b.scrapes, 7);
}

static void blind_spot_plateau_longer_than_scrape_is_always_seen(void **state)
{
	(void)state;
	baseline();
	for (size_t i = 3000; i < 5000; i++) /* 20 s at 200 MiB */
		bx[i] = 200LL << 20;
	struct stats_blind b;
	assert_int_equal(stats_blind_spot(bt, bx, BN, 15000000000LL, &b), 0);
	assert_int_equal(b.worst, 200LL << 20);
	assert_int_equal(stats_blind_spot(bt, bx, BN, 30000000000LL, &b), 0);
	assert_int_equal(b.best, 200LL << 20);
	assert_int_equal(b.worst, 100LL << 20);
	/* unknown values are gaps, not zeros */
	for (size_t i = 0; i < BN; i++)
		bx[i] = -1;
	assert_int_equal(stats_blind_spot(bt, bx, BN, 15000000000LL, &b), -ENODATA);
}

/* The blind spot from its definition: a scraper every S ns starting at phase k*w (w = S/nphase,
 * nphase = S / (half the median spacing)) reads the latest sample at or before each scrape; per
 * phase the highest value read, then the highest and lowest over the phases that read anything.
 * Brute force over every scrape instant, on spacings that make w a whole number of ns. */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t u = *(const int64_t *)a, v = *(const int64_t *)b;
	return (u > v) - (u < v);
}

static int brute_blind(const int64_t *t, const int64_t *x, size_t n, int64_t S, int64_t spacing,
		       int64_t nphase, struct stats_blind *ret)
{
	int64_t w = S / nphase;
	int64_t *best = malloc((size_t)nphase * sizeof(*best));
	assert_non_null(best);
	for (int64_t p = 0; p < nphase; p++)
		best[p] = INT64_MIN;
	for (size_t i = 0; i < n; i++) {
		int64_t a = t[i], b = i + 1 < n ? t[i + 1] : a + spacing;
		if (x[i] < 0)
			continue;
		for (int64_t T = (a + w - 1) / w * w; T < b; T += w) {
			int64_t p = T % S / w;
			if (x[i] > best[p])
				best[p] = x[i];
		}
	}
	int64_t hi = INT64_MIN, lo = INT64_MAX;
	for (int64_t p = 0; p < nphase; p++) {
		if (best[p] == INT64_MIN)
			continue;
		hi = best[p] > hi ? best[p] : hi;
		lo = best[p] < lo ? best[p] : lo;
	}
	free(best);
	if (hi == INT64_MIN)
		return -ENODATA;
	ret->best = hi;
	ret->worst = lo;
	ret->scrapes = (size_t)((t[n - 1] - t[0]) / S);
	return 0;
}

static void blind_spot_matches_brute_force(void **state)
{
	(void)state;
	/* {S, median spacing, samples, longest other gap}: 1000 phases of 1 us; 2^20 phases of 4 ns */
	static const int64_t shapes[][4] = {{1000000, 2000, 200, 1000000}, {4194304, 8, 40, 1048576}};
	int64_t t[200], x[200];
	int differing = 0, checked = 0;
	for (int c = 0; c < 400; c++) {
		const int64_t *sh = shapes[c % 2];
		size_t n = 1 + rnd() % (uint64_t)sh[2];
		t[0] = (int64_t)(rnd() % (uint64_t)sh[0]) * 3;
		for (size_t i = 1; i < n; i++)   /* three in four gaps at the median: it is the median */
			t[i] = t[i - 1] + (rnd() % 4 ? sh[1] : (int64_t)(rnd() % (uint64_t)sh[3]));
		for (size_t i = 0; i < n; i++)
			x[i] = rnd() % 6 == 0 ? -1 : (int64_t)(rnd() % 40);
		/* the median gap (the upper one of an even count), or one scrape without a gap */
		int64_t spacing = sh[0], gaps[200];
		for (size_t i = 1; i < n; i++)
			gaps[i - 1] = t[i] - t[i - 1];
		if (n >= 2) {
			qsort(gaps, n - 1, sizeof(*gaps), cmp_i64);
			spacing = gaps[(n - 1) / 2];
			if (spacing != sh[1])
				continue;   /* the phase step would not be a whole number of ns */
		}
		int64_t nphase = n < 2 ? 1 : sh[0] / (spacing / 2);
		struct stats_blind want = {0}, got = {0};
		int rw = brute_blind(t, x, n, sh[0], spacing, nphase, &want);
		int rg = stats_blind_spot(t, x, n, sh[0], &got);
		assert_int_equal(rg, rw);
		checked++;
		if (rw == 0) {
			assert_int_equal(got.best, want.best);
			assert_int_equal(got.worst, want.worst);
			assert_int_equal(got.scrapes, want.scrapes);
			differing += want.best != want.worst;
		}
	}
	assert_true(checked > 200);
	assert_true(differing > 20);   /* the cases are not all trivial */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(quantile_matches_sorting),
		cmocka_unit_test(flat_with_noise_has_no_trend),
		cmocka_unit_test(linear_growth_hidden_in_noise_is_found),
		cmocka_unit_test(step_stabilises_after_the_step),
		cmocka_unit_test(sawtooth_counts_its_teeth),
		cmocka_unit_test(single_spike_is_one_short_run),
		cmocka_unit_test(too_short_is_an_error_not_an_answer),
		cmocka_unit_test(mann_kendall_ties_correction),
		cmocka_unit_test(pearson_known_values),
		cmocka_unit_test(blind_spot_short_spike_is_a_matter_of_luck),
		cmocka_unit_test(blind_spot_plateau_longer_than_scrape_is_always_seen),
		cmocka_unit_test(blind_spot_matches_brute_force),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
