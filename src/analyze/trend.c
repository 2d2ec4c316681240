/* stage_trend: the steady phase's slope (Theil–Sen) and Mann–Kendall test, the teeth of a
 * sawtooth with the shape of their rise and fall, and the spikes of the interval peaks.
 * stage_load: does memory follow the load's concurrency, does it come down afterwards, and did
 * the load itself work (its error rate). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze_stages.h"
#include "sat.h"
#include "stats.h"
#include "thresholds.h"

static void slope_and_test(struct series *s, const struct analyze_options *o, struct analysis *a)
{
	size_t k = s->k;
	if (k >= 3)
		stats_theil_sen(s->ts, s->xs, k, &a->slope_bytes_per_s, NULL);
	struct stats_mk mk;
	if (k >= 4 && stats_mann_kendall(s->ts, s->xs, k, &mk) == 0) {
		a->mk_p = mk.p;
		a->mk_z = mk.z;
		a->mk_tau = mk.tau;
	}
	double med = a->steady_p50 >= 0 ? (double)a->steady_p50 : 0;
	double material = fmax((double)o->band_min_bytes, o->band_frac * med);
	double rise = a->slope_bytes_per_s * (double)a->steady_ns / 1e9;
	if (!isnan(rise))
		a->change_bytes = sat_from_double(rise);
	a->trend_significant = !isnan(a->mk_p) && a->mk_p < o->p_threshold && fabs(rise) >= material;
}

/* teeth: drops after rises, the time spread above and below the midline, and how long the rises
 * and the falls take (a sawtooth fills slowly and drops at once; a spike does both at once) */
static void teeth(struct series *s, const struct analyze_options *o, struct analysis *a)
{
	size_t k = s->k;
	if (k < 4)
		return;
	memcpy(s->scratch, s->xs, k * sizeof(double));
	double p5 = stats_quantile_inplace(s->scratch, k, 0.05);
	double p95 = stats_quantile_inplace(s->scratch, k, 0.95);
	double lo = s->xs[0], hi = s->xs[0];
	for (size_t i = 0; i < k; i++) {
		if (s->xs[i] < lo)
			lo = s->xs[i];
		if (s->xs[i] > hi)
			hi = s->xs[i];
	}
	a->shape_lo = lo;
	a->shape_hi = hi;
	double med = a->steady_p50 >= 0 ? (double)a->steady_p50 : 0;
	double thr = fmax(2 * (double)o->band_min_bytes, fmax(o->band_frac * med, TH_SAW_TOOTH_FRAC * (p95 - p5)));
	a->drop_threshold = (int64_t)thr;
	struct stats_teeth tt;
	stats_teeth(s->xs, k, thr, &tt);
	a->drops = tt.teeth;
	a->shape_rise_samples = tt.rise_median;
	a->shape_fall_samples = tt.fall_median;
	a->shape_frac_mid = stats_fraction_above(s->xs, k, (lo + hi) / 2);
	double f0 = s->xs[0], f1 = s->xs[k - 1];
	for (size_t i = 0; i < k / 3; i++)
		f0 = fmin(f0, s->xs[i]);
	for (size_t i = k - k / 3; i < k; i++)
		f1 = fmin(f1, s->xs[i]);
	a->shape_floor_first = f0;
	a->shape_floor_last = f1;
}

/* spikes: interval peaks far above the median, briefly */
static void spikes(struct series *s, struct analysis *a)
{
	double med = a->steady_p50 >= 0 ? (double)a->steady_p50 : NAN;
	if (!a->steady_samples || a->traffic_peak <= 0 || !(med > 0))
		return;
	a->peak_median_ratio = (double)a->traffic_peak / med;
	double level = med + ((double)a->traffic_peak - med) / 2;
	size_t kk = 0;
	for (size_t i = s->s0; i < s->s1; i++)
		if (s->bp[i] >= 0)
			s->scratch[kk++] = (double)s->bp[i];
	a->spikes = stats_count_runs_above(s->scratch, kk, level);
	a->spike_time_fraction = stats_fraction_above(s->scratch, kk, level);
}

void stage_trend(struct series *s, const struct analyze_options *o, struct analysis *a)
{
	s->k = gather(s->t, s->bi, s->s0, s->s1, s->ts, s->xs);
	slope_and_test(s, o, a);
	teeth(s, o, a);
	spikes(s, a);
}

/* The concurrency at sample i: the stage it falls in (by the phases, placed from the stage
 * events), at the load row of that stage nearest in time (the row's target connections at its
 * instant: exact for flat stages, close for ramps). *row walks forward with i. */
static double concurrency_at(const struct recording *rec, const struct analysis *a, int64_t t, size_t *row)
{
	int64_t c = 0;
	for (int p = 0; p < a->nphases; p++) {
		const struct analyze_phase *ph = &a->phases[p];
		if (ph->stage < 0 || t < ph->start_ns || t >= ph->end_ns)
			continue;
		c = ph->connections > 0 ? ph->connections : 1;
		while (*row + 1 < rec->nload && rec->load[*row + 1].t_ns <= t)
			(*row)++;
		int64_t best = INT64_MAX;
		for (size_t r2 = *row > 2 ? *row - 2 : 0; r2 < rec->nload && r2 <= *row + 2; r2++) {
			int64_t d = llabs(sat_sub(rec->load[r2].t_ns, t));
			if (rec->load[r2].stage == ph->stage && rec->load[r2].connections >= 0 && d < best) {
				best = d;
				c = rec->load[r2].connections;
			}
		}
	}
	return (double)c;
}

/* after the load: the median of the quiet tail against the level before it and the top during it */
static void after_load(struct series *s, struct analysis *a)
{
	const int64_t *t = s->t;
	size_t alive = s->alive;
	size_t q0 = index_at(t, alive, a->load_end_ns);
	if (alive - q0 < 3 || sat_sub(t[alive - 1], a->load_end_ns) < 1000000000LL)
		return;
	a->after_load_bytes = quantile_known(s->bi, q0, alive, 0.5, s->scratch);
	size_t l0 = index_at(t, s->n, a->load_start_ns);
	/* the level just before the load: the last 2 s before it (startup's tail when the first stage
	 * ended the startup) */
	size_t b0 = index_at(t, s->n, sat_sub(a->load_start_ns, 2000000000LL));
	int64_t before = quantile_known(s->bi, b0, l0, 0.5, s->scratch);
	if (before < 0)
		before = s->bi[l0 > 0 ? l0 - 1 : 0];
	int64_t during = max_known(s->bi, l0, q0, NULL, t);
	if (during > before && a->after_load_bytes >= 0)
		a->falls_after_load = (double)a->after_load_bytes <= (double)before + 0.5 * (double)(during - before);
	else if (a->after_load_bytes >= 0)
		a->falls_after_load = 1; /* it never rose */
}

/* Attempts and errors: the load's own totals (the `load` event, "attempts A errors E ...
 * max_error_rate M") when the recording has them, else summed from the per-second rows. The run's
 * own verdict (a `load_failed` event, with the --max-error-rate the user chose) decides whether the
 * load failed; without one, TH_LOAD_ERROR_RATE does. Errors never exceed attempts: older rows
 * counted responses only, so attempts are at least the larger of the two. */
static void load_outcome(const struct recording *rec, struct analysis *a)
{
	a->load_max_error_rate = TH_LOAD_ERROR_RATE;
	const struct record_event *ev = find_event(rec, "load");
	long long att, err;
	double rate, max_rate;
	if (ev && sscanf(ev->detail, "attempts %lld errors %lld error_rate %lf", &att, &err, &rate) == 3 && att >= 0 &&
	    err >= 0) {
		a->load_requests = att;
		a->load_errors = err > att ? att : err;
		const char *m = strstr(ev->detail, "max_error_rate ");
		if (m && sscanf(m, "max_error_rate %lf", &max_rate) == 1 && max_rate >= 0 && max_rate <= 1)
			a->load_max_error_rate = max_rate;
	} else if (rec->nload > 0) {
		int64_t req = 0, errs = 0;
		for (size_t i = 0; i < rec->nload; i++) {
			if (rec->load[i].requests > 0 && req <= INT64_MAX - rec->load[i].requests)
				req += rec->load[i].requests;
			if (rec->load[i].errors > 0 && errs <= INT64_MAX - rec->load[i].errors)
				errs += rec->load[i].errors;
		}
		a->load_requests = req > errs ? req : errs;
		a->load_errors = errs;
	} else {
		return;
	}
	a->load_error_rate = a->load_requests > 0 ? (double)a->load_errors / (double)a->load_requests : NAN;
	a->load_failed = find_event(rec, "load_failed") != NULL ||
			 (!isnan(a->load_error_rate) && a->load_error_rate > a->load_max_error_rate);
}

void stage_load(struct series *s, struct analysis *a)
{
	load_outcome(s->rec, a);
	if (!a->has_load || s->k < 4)
		return;
	/* the concurrency at each steady sample, in the order gather() put them in xs */
	double *load = s->scratch;
	size_t row = 0;
	for (size_t i = s->s0, j = 0; i < s->s1 && j < s->k; i++) {
		if (s->bi[i] < 0)
			continue;
		load[j++] = concurrency_at(s->rec, a, s->t[i], &row);
	}
	a->load_correlation = stats_pearson(s->xs, load, s->k);
	after_load(s, a);
}
