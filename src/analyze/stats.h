/* stats: the robust statistics behind the verdicts — quantiles, Theil–Sen slope, Mann–Kendall
 * trend test, stabilisation time, drop and spike counting, and the scrape-interval blind spot.
 *
 * Pure functions on plain arrays: no I/O, no knowledge of recordings. Times are seconds (double)
 * except in stats_blind_spot(), which takes the recording's nanosecond clock. Costs are bounded
 * for a million points: the pairwise estimators (Theil–Sen, Mann–Kendall) run on at most
 * STATS_PAIRWISE_MAX bucket means (stats_decimate), everything else is O(n) or O(n log n).
 * Errors are negative errno values: -EINVAL for bad arguments, -ENODATA for too few points,
 * -ENOMEM. Output parameters are not written on failure.
 */
#ifndef HEADROOM_STATS_H
#define HEADROOM_STATS_H

#include <stddef.h>
#include <stdint.h>

/* The fuzz build lowers it (CMakeLists.txt, HEADROOM_FUZZ) so that inputs of a few kilobytes
 * reach the decimation, and the quadratic part does not set the pace of a fuzz target. */
#ifndef STATS_PAIRWISE_MAX
#define STATS_PAIRWISE_MAX 1000
#endif

/* The q-quantile (0..1) of x, linear interpolation between order statistics (type 7).
 * stats_quantile copies; stats_quantile_inplace reorders x. */
int stats_quantile(const double *x, size_t n, double q, double *ret);
double stats_quantile_inplace(double *x, size_t n, double q);

/* Bucket means of (t, x) into at most m buckets of equal count; *ret_m <= m points written.
 * n <= m copies the input. ret_t/ret_x must hold m values. */
int stats_decimate(const double *t, const double *x, size_t n, size_t m, double *ret_t, double *ret_x,
		   size_t *ret_m);

/* Theil–Sen: the median of the pairwise slopes (units of x per unit of t) and the intercept
 * median(x - slope * t). Decimates to STATS_PAIRWISE_MAX points first. Needs n >= 3. */
int stats_theil_sen(const double *t, const double *x, size_t n, double *ret_slope, double *ret_intercept);

struct stats_mk {
	double s;        /* Kendall's S: sum of sign(x_j - x_i) for i < j */
	double var;      /* variance of S with the ties correction */
	double z;        /* continuity-corrected normal score */
	double p;        /* two-sided p-value from the normal approximation */
	double tau;      /* S / (n(n-1)/2) */
	size_t n;        /* points the test ran on (after decimation) */
};
/* Mann–Kendall trend test on x in time order. Decimates (bucket means) to STATS_PAIRWISE_MAX
 * points, which also averages out sampling noise. Needs n >= 4. */
int stats_mann_kendall(const double *t, const double *x, size_t n, struct stats_mk *ret);

/* Stabilisation: the earliest time after which x stays within a band around its final level
 * (median of the last quarter ± max(band_frac × level, band_min)), allowing at most 5 % of the
 * remaining points outside it (short excursions). -ENODATA when x never settles, i.e. the
 * in-band tail is shorter than a fifth of the series. */
int stats_stabilization(const double *t, const double *x, size_t n, double band_frac, double band_min,
			double *ret_t);

/* out[i] = the median of x[i-2..i+2] (fewer at the ends): removes excursions of one or two points,
 * such as a spike an instantaneous sample happened to catch, and keeps steps. out != x. */
void stats_running_median5(const double *x, size_t n, double *out);

/* Drops of at least thr after a rise of at least thr (hysteresis, so noise below thr counts
 * nothing): the teeth of a sawtooth, or the falls after spikes. */
size_t stats_count_drops(const double *x, size_t n, double thr);
/* The same teeth with their shape: for each, the rise in points (from the last point within
 * thr/2 of the trough to the top) and the fall (from the top to the point a full thr below it);
 * the medians of both over the teeth (NAN without a tooth). A sawtooth fills over many points
 * and drops in one or two; a spike rises and falls in one or two each. */
struct stats_teeth {
	size_t teeth;
	double rise_median, fall_median;
};
int stats_teeth(const double *x, size_t n, double thr, struct stats_teeth *ret);
/* Runs of consecutive points strictly above level. */
size_t stats_count_runs_above(const double *x, size_t n, double level);
/* Fraction of points strictly above level. */
double stats_fraction_above(const double *x, size_t n, double level);
/* Pearson correlation; NaN when either series is constant or n < 3. */
double stats_pearson(const double *x, const double *y, size_t n);

/* What a scraper reading the instantaneous value x every scrape_ns would have reported as the
 * highest value, over every phase alignment of its first scrape: best (the highest it could
 * have seen) and worst (the lowest). A scrape at time T reads the latest sample at or before T.
 * O(n); phases are resolved to the median sample spacing. -ENODATA without a known sample. */
struct stats_blind {
	int64_t best;
	int64_t worst;
	size_t scrapes;  /* scrapes in the recording at one alignment (the fewest) */
};
int stats_blind_spot(const int64_t *t_ns, const int64_t *x, size_t n, int64_t scrape_ns, struct stats_blind *ret);

#endif
