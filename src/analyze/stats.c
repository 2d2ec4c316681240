#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

/* Wirth's selection: O(n) expected, in place; stops on equal keys, so duplicates cost nothing. */
static double select_kth(double *a, size_t n, size_t k)
{
	ptrdiff_t l = 0, r = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
	while (l < r) {
		double pivot = a[kk];
		ptrdiff_t i = l, j = r;
		do {
			while (a[i] < pivot)
				i++;
			while (pivot < a[j])
				j--;
			if (i <= j) {
				double tmp = a[i];
				a[i] = a[j];
				a[j] = tmp;
				i++;
				j--;
			}
		} while (i <= j);
		if (j < kk)
			l = i;
		if (kk < i)
			r = j;
	}
	return a[kk];
}

double stats_quantile_inplace(double *x, size_t n, double q)
{
	if (n == 0)
		return NAN;
	if (q <= 0) q = 0;
	if (q >= 1) q = 1;
	double h = (double)(n - 1) * q;
	size_t k = (size_t)floor(h);
	double lo = select_kth(x, n, k);
	if (k + 1 >= n || h == (double)k)
		return lo;
	/* after selecting k, every element above index k is >= lo: the next order statistic is their minimum */
	double hi = x[k + 1];
	for (size_t i = k + 2; i < n; i++)
		if (x[i] < hi)
			hi = x[i];
	return lo + (h - (double)k) * (hi - lo);
}

int stats_quantile(const double *x, size_t n, double q, double *ret)
{
	if (!x || !ret || q < 0 || q > 1)
		return -EINVAL;
	if (n == 0)
		return -ENODATA;
	double *c = malloc(n * sizeof(*c));
	if (!c)
		return -ENOMEM;
	memcpy(c, x, n * sizeof(*c));
	*ret = stats_quantile_inplace(c, n, q);
	free(c);
	return 0;
}

int stats_decimate(const double *t, const double *x, size_t n, size_t m, double *ret_t, double *ret_x,
		   size_t *ret_m)
{
	if (!t || !x || !ret_t || !ret_x || !ret_m || m == 0)
		return -EINVAL;
	if (n <= m) {
		memcpy(ret_t, t, n * sizeof(*t));
		memcpy(ret_x, x, n * sizeof(*x));
		*ret_m = n;
		return 0;
	}
	for (size_t b = 0; b < m; b++) {
		size_t from = n * b / m, to = n * (b + 1) / m;
		double st = 0, sx = 0;
		for (size_t i = from; i < to; i++) {
			st += t[i];
			sx += x[i];
		}
		ret_t[b] = st / (double)(to - from);
		ret_x[b] = sx / (double)(to - from);
	}
	*ret_m = m;
	return 0;
}

int stats_theil_sen(const double *t, const double *x, size_t n, double *ret_slope, double *ret_intercept)
{
	if (!t || !x || !ret_slope)
		return -EINVAL;
	if (n < 3)
		return -ENODATA;
	size_t cap = n < STATS_PAIRWISE_MAX ? n : STATS_PAIRWISE_MAX;
	double *dt = malloc(cap * sizeof(double)), *dx = malloc(cap * sizeof(double));
	size_t npairs = cap * (cap - 1) / 2;
	double *slopes = malloc((npairs > cap ? npairs : cap) * sizeof(double));
	int r = -ENOMEM;
	if (!dt || !dx || !slopes)
		goto out;
	size_t m;
	r = stats_decimate(t, x, n, cap, dt, dx, &m);
	if (r < 0)
		goto out;
	size_t k = 0;
	for (size_t i = 0; i < m; i++)
		for (size_t j = i + 1; j < m; j++)
			if (dt[j] != dt[i])
				slopes[k++] = (dx[j] - dx[i]) / (dt[j] - dt[i]);
	if (k == 0) {
		r = -ENODATA;
		goto out;
	}
	double slope = stats_quantile_inplace(slopes, k, 0.5);
	for (size_t i = 0; i < m; i++)
		slopes[i] = dx[i] - slope * dt[i];
	double intercept = stats_quantile_inplace(slopes, m, 0.5);
	*ret_slope = slope;
	if (ret_intercept)
		*ret_intercept = intercept;
	r = 0;
out:
	free(dt);
	free(dx);
	free(slopes);
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int stats_mann_kendall(const double *t, const double *x, size_t n, struct stats_mk *ret)
{
	if (!t || !x || !ret)
		return -EINVAL;
	if (n < 4)
		return -ENODATA;
	size_t cap = n < STATS_PAIRWISE_MAX ? n : STATS_PAIRWISE_MAX;
	double *dt = malloc(cap * sizeof(double)), *dx = malloc(cap * sizeof(double));
	double *sorted = malloc(cap * sizeof(double));
	int r = -ENOMEM;
	if (!dt || !dx || !sorted)
		goto out;
	size_t m;
	r = stats_decimate(t, x, n, cap, dt, dx, &m);
	if (r < 0)
		goto out;
	double s = 0;
	for (size_t i = 0; i < m; i++)
		for (size_t j = i + 1; j < m; j++)
			s += (dx[j] > dx[i]) - (dx[j] < dx[i]);
	/* ties correction: each group of t equal values removes t(t-1)(2t+5) from the variance */
	memcpy(sorted, dx, m * sizeof(double));
	qsort(sorted, m, sizeof(double), cmp_double);
	double ties = 0;
	for (size_t i = 0; i < m;) {
		size_t j = i;
		while (j < m && sorted[j] == sorted[i])
			j++;
		double g = (double)(j - i);
		if (g > 1)
			ties += g * (g - 1) * (2 * g + 5);
		i = j;
	}
	double dm = (double)m;
	double var = (dm * (dm - 1) * (2 * dm + 5) - ties) / 18.0;
	double z = 0;
	if (var > 0) {
		if (s > 0)
			z = (s - 1) / sqrt(var);
		else if (s < 0)
			z = (s + 1) / sqrt(var);
	}
	ret->s = s;
	ret->var = var;
	ret->z = z;
	ret->p = var > 0 ? erfc(fabs(z) / sqrt(2.0)) : 1.0;
	ret->tau = s / (dm * (dm - 1) / 2);
	ret->n = m;
	r = 0;
out:
	free(dt);
	free(dx);
	free(sorted);
	return r;
}

int stats_stabilization(const double *t, const double *x, size_t n, double band_frac, double band_min,
			double *ret_t)
{
	if (!t || !x || !ret_t || band_frac < 0 || band_min < 0)
		return -EINVAL;
	if (n < 8)
		return -ENODATA;
	size_t q = n / 4;
	double level;
	int r = stats_quantile(x + (n - q), q, 0.5, &level);
	if (r < 0)
		return r;
	double band = fmax(band_frac * fabs(level), band_min);
	/* a process that frees its memory while shutting down leaves a few low points at the very
	 * end: a short trailing excursion (at most 5 % of the points, or 2) does not unsettle it */
	size_t end = n, trail_max = n / 20 > 2 ? n / 20 : 2;
	while (end > 0 && fabs(x[end - 1] - level) > band && n - end < trail_max)
		end--;
	if (end > 0 && fabs(x[end - 1] - level) > band)
		end = n; /* a long excursion: it is the end of the series, not a shutdown */
	n = end;
	/* Walk back from the end while the tail holds at most 5 % of its points outside the band;
	 * the first few tail points are too few for a fraction, so only a point outside fails them. */
	size_t out = 0, settled = n;
	const size_t warmup = n / 20 > 4 ? n / 20 : 4;
	for (size_t k = n; k-- > 0;) {
		int outside = fabs(x[k] - level) > band;
		out += outside;
		size_t len = n - k;
		if (len <= warmup ? outside != 0 && out * 20 > warmup : out * 20 > len)
			break;
		if (!outside)
			settled = k;
	}
	if (settled == n || (n - settled) * 5 < n)
		return -ENODATA;
	*ret_t = t[settled];
	return 0;
}

void stats_running_median5(const double *x, size_t n, double *out)
{
	for (size_t i = 0; i < n; i++) {
		double w[5];
		size_t k = 0;
		for (size_t j = i >= 2 ? i - 2 : 0; j <= i + 2 && j < n; j++)
			w[k++] = x[j];
		/* insertion sort of at most 5 */
		for (size_t a = 1; a < k; a++)
			for (size_t b = a; b > 0 && w[b - 1] > w[b]; b--) {
				double tmp = w[b];
				w[b] = w[b - 1];
				w[b - 1] = tmp;
			}
		out[i] = k % 2 ? w[k / 2] : (w[k / 2 - 1] + w[k / 2]) / 2;
	}
}

/* Up to STATS_TEETH_MAX teeth keep their rise and fall lengths for the medians; more only count. */
#define STATS_TEETH_MAX 4096

int stats_teeth(const double *x, size_t n, double thr, struct stats_teeth *ret)
{
	struct stats_teeth t = {0, NAN, NAN};
	if (!x || n < 2 || !(thr > 0)) {
		*ret = t;
		return -EINVAL;
	}
	double *rises = malloc(STATS_TEETH_MAX * sizeof(double)), *falls = malloc(STATS_TEETH_MAX * sizeof(double));
	if (!rises || !falls) {
		free(rises);
		free(falls);
		*ret = t;
		return -ENOMEM;
	}
	size_t nk = 0;
	double lo = x[0], hi = x[0];
	size_t lo_i = 0, hi_i = 0;
	int armed = 0; /* a rise of thr since the last trough: the next fall of thr counts */
	for (size_t i = 1; i < n; i++) {
		if (!armed) {
			if (x[i] < lo) {
				lo = x[i];
				lo_i = i;
			}
			if (x[i] - lo >= thr) {
				armed = 1;
				hi = x[i];
				hi_i = i;
			}
		} else {
			if (x[i] > hi) {
				hi = x[i];
				hi_i = i;
			}
			if (hi - x[i] >= thr) {
				/* the rise: from the last point at the trough level (within thr/2 of it) to the
				 * top; the fall: from the top to here */
				size_t from = hi_i;
				while (from > lo_i && x[from - 1] - lo >= thr / 2)
					from--;
				if (nk < STATS_TEETH_MAX) {
					rises[nk] = (double)(hi_i - from + 1);
					falls[nk] = (double)(i - hi_i);
					nk++;
				}
				t.teeth++;
				armed = 0;
				lo = x[i];
				lo_i = i;
			}
		}
	}
	if (nk > 0) {
		t.rise_median = stats_quantile_inplace(rises, nk, 0.5);
		t.fall_median = stats_quantile_inplace(falls, nk, 0.5);
	}
	free(rises);
	free(falls);
	*ret = t;
	return 0;
}

size_t stats_count_drops(const double *x, size_t n, double thr)
{
	struct stats_teeth t;
	return stats_teeth(x, n, thr, &t) == 0 ? t.teeth : 0;
}

size_t stats_count_runs_above(const double *x, size_t n, double level)
{
	size_t runs = 0;
	int in = 0;
	for (size_t i = 0; i < n; i++) {
		int above = x[i] > level;
		if (above && !in)
			runs++;
		in = above;
	}
	return runs;
}

double stats_fraction_above(const double *x, size_t n, double level)
{
	if (n == 0)
		return 0;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += x[i] > level;
	return (double)k / (double)n;
}

double stats_pearson(const double *x, const double *y, size_t n)
{
	if (!x || !y || n < 3)
		return NAN;
	double mx = 0, my = 0;
	for (size_t i = 0; i < n; i++) {
		mx += x[i];
		my += y[i];
	}
	mx /= (double)n;
	my /= (double)n;
	double sxy = 0, sxx = 0, syy = 0;
	for (size_t i = 0; i < n; i++) {
		double a = x[i] - mx, b = y[i] - my;
		sxy += a * b;
		sxx += a * a;
		syy += b * b;
	}
	if (sxx <= 0 || syy <= 0)
		return NAN;
	return sxy / sqrt(sxx * syy);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

struct blind_cover {
	int64_t x;
	int64_t k0, count;   /* the phases reading the sample: k0, k0 + 1, ... (mod nphase) */
};

static int cmp_cover_desc(const void *a, const void *b)
{
	int64_t x = ((const struct blind_cover *)a)->x, y = ((const struct blind_cover *)b)->x;
	return (x < y) - (x > y);
}

/* the index of v in the sorted distinct cuts (v is one of them) */
static size_t cut_index(const int64_t *cut, size_t m, int64_t v)
{
	size_t lo = 0, hi = m;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (cut[mid] <= v)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* the first segment at or after p that is not painted yet (the segment count when none) */
static size_t phase_next(size_t *next, size_t p)
{
	size_t r = p;
	while (next[r] != r)
		r = next[r];
	while (next[p] != r) {   /* path compression */
		size_t q = next[p];
		next[p] = r;
		p = q;
	}
	return r;
}

int stats_blind_spot(const int64_t *t_ns, const int64_t *x, size_t n, int64_t scrape_ns, struct stats_blind *ret)
{
	if (!t_ns || !x || !ret || scrape_ns <= 0)
		return -EINVAL;
	if (n == 0)
		return -ENODATA;
	/* median spacing, from a bounded subsample of gaps */
	int64_t spacing = scrape_ns;
	if (n >= 2) {
		size_t ng = n - 1 < 4096 ? n - 1 : 4096;
		int64_t *gaps = malloc(ng * sizeof(*gaps));
		if (!gaps)
			return -ENOMEM;
		for (size_t g = 0; g < ng; g++) {
			size_t i = (n - 1) * g / ng;
			gaps[g] = t_ns[i + 1] - t_ns[i];
		}
		qsort(gaps, ng, sizeof(*gaps), cmp_i64);
		spacing = gaps[ng / 2];
		free(gaps);
	}
	if (spacing <= 0)
		spacing = 1;
	/* phase points every half spacing (so every sample is read at some phase), at most 2^20 */
	int64_t nphase = scrape_ns / (spacing / 2 > 0 ? spacing / 2 : 1);
	if (nphase < 1)
		nphase = 1;
	if (nphase > (1 << 20))
		nphase = 1 << 20;
	double w = (double)scrape_ns / (double)nphase;
	struct blind_cover *cov = malloc((n ? n : 1) * sizeof(*cov));
	if (!cov)
		return -ENOMEM;
	/* Each sample is read by the scrape phases in one (cyclic) run [k0, k0 + count). Visiting
	 * every covered phase of every sample costs samples x phases (a recording of 1 ns and 14 s
	 * gaps took minutes); instead the samples go from the highest value down and each paints only
	 * what no higher sample has painted, found through `next` (the first unpainted segment at or
	 * after p, path-compressed): every segment is painted once. The unit painted is not a phase
	 * but a segment between two consecutive ends of runs: the phases of a segment are read by the
	 * same samples, so the highest and lowest over segments are those over phases, and the cost
	 * is O(n log n) whatever the phase count (2^20 phases for samples 1 ns apart made each call
	 * cost 2^20 however few the samples). */
	size_t ncov = 0;
	for (size_t i = 0; i < n; i++) {
		/* the scrapes that read sample i are those in [t_i, t_{i+1}) */
		int64_t a = t_ns[i];
		int64_t b = i + 1 < n ? t_ns[i + 1] : a + spacing;
		if (b <= a)
			continue;
		if (x[i] < 0)
			continue; /* unknown: the scraper sees a gap */
		int64_t amod = (a % scrape_ns + scrape_ns) % scrape_ns;   /* a phase, also for a < 0 */
		int64_t k0 = (int64_t)ceil((double)amod / w);
		/* phases k0, k0+1, ... while k*w - amod < b - a, at most nphase of them */
		int64_t end = k0 + (int64_t)((double)(b - a) / w);
		if (end - k0 > nphase)
			end = k0 + nphase;
		while (end > k0 && (double)(end - 1) * w - (double)amod >= (double)(b - a))
			end--;
		while (end - k0 < nphase && (double)end * w - (double)amod < (double)(b - a))
			end++;
		cov[ncov++] = (struct blind_cover){.x = x[i], .k0 = k0 % nphase, .count = end - k0};
	}
	if (ncov == 0) {
		free(cov);
		return -ENODATA;
	}
	qsort(cov, ncov, sizeof(*cov), cmp_cover_desc);
	/* the cyclic runs as at most two linear ones [from, to) in [0, nphase); their ends, with 0
	 * and nphase, cut [0, nphase) into segments */
	int64_t *cut = malloc((2 * ncov + 2) * sizeof(*cut));
	if (!cut) {
		free(cov);
		return -ENOMEM;
	}
	size_t ncut = 0;
	cut[ncut++] = 0;
	cut[ncut++] = nphase;
	for (size_t c = 0; c < ncov; c++) {
		int64_t to = cov[c].k0 + cov[c].count;
		cut[ncut++] = cov[c].k0;
		cut[ncut++] = to > nphase ? to - nphase : to;
	}
	qsort(cut, ncut, sizeof(*cut), cmp_i64);
	size_t m = 0;   /* distinct cuts: segment j is [cut[j], cut[j + 1]), j < m - 1 */
	for (size_t i = 0; i < ncut; i++)
		if (m == 0 || cut[i] != cut[m - 1])
			cut[m++] = cut[i];
	size_t nseg = m - 1;
	int64_t *best = malloc((nseg ? nseg : 1) * sizeof(*best));
	size_t *next = malloc((nseg + 1) * sizeof(*next));
	if (!best || !next) {
		free(best);
		free(next);
		free(cut);
		free(cov);
		return -ENOMEM;
	}
	for (size_t p = 0; p <= nseg; p++)
		next[p] = p;
	for (size_t p = 0; p < nseg; p++)
		best[p] = INT64_MIN;
	for (size_t c = 0; c < ncov; c++) {
		int64_t from[2] = {cov[c].k0, 0}, to[2] = {cov[c].k0 + cov[c].count, 0};
		if (to[0] > nphase) {
			to[1] = to[0] - nphase;
			to[0] = nphase;
		}
		for (int r = 0; r < 2; r++) {
			if (to[r] <= from[r])
				continue;
			size_t sf = cut_index(cut, m, from[r]), st = cut_index(cut, m, to[r]);
			for (size_t p = phase_next(next, sf); p < st; p = phase_next(next, p + 1)) {
				best[p] = cov[c].x;
				next[p] = p + 1;
			}
		}
	}
	free(next);
	free(cut);
	free(cov);
	int64_t hi = INT64_MIN, lo = INT64_MAX;
	for (size_t p = 0; p < nseg; p++) {
		if (best[p] == INT64_MIN)
			continue;
		if (best[p] > hi)
			hi = best[p];
		if (best[p] < lo)
			lo = best[p];
	}
	free(best);
	if (hi == INT64_MIN)
		return -ENODATA;   /* no phase read any sample (samples closer than a phase step) */
	ret->best = hi;
	ret->worst = lo;
	int64_t span = t_ns[n - 1] - t_ns[0];
	ret->scrapes = (size_t)(span / scrape_ns);
	return 0;
}
