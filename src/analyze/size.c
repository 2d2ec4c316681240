#include <errno.h>
#include <math.h>
#include <string.h>

#include "size.h"
#include "sat.h"
#include "stats.h"
#include "util.h"

void size_options_init(struct size_options *opt)
{
	opt->headroom = SIZE_HEADROOM_DEFAULT;
	opt->qos_guaranteed = false;
	opt->replicas = 0;
	opt->surge = 0;
	opt->hpa_target = -1;
}

static int64_t times_frac(int64_t bytes, double f)
{
	return sat_mul_frac_ceil(bytes, f);
}

/* rounded up to a Mi without wrapping: INT64_MAX stays INT64_MAX */
static int64_t round_up_mi(int64_t bytes)
{
	return bytes > INT64_MAX - UTIL_MiB ? INT64_MAX : util_round_up_mi(bytes);
}

int64_t size_oom_raise(int64_t pk)
{
	int64_t plus = sat_add(pk, 100 * UTIL_MiB), times = times_frac(pk, 1.2);
	return plus > times ? plus : times;
}

int64_t size_limit_from_peak(int64_t peak, double headroom)
{
	int64_t l = round_up_mi(times_frac(peak, 1.0 + headroom));
	return l < UTIL_MiB ? UTIL_MiB : l;
}

int64_t size_request_from_p95(int64_t p95, int64_t limit)
{
	int64_t r = round_up_mi(p95);
	if (r > limit)
		r = limit;
	return r < UTIL_MiB ? UTIL_MiB : r;
}

int64_t size_krr_from_max(int64_t max_working_set)
{
	return round_up_mi(times_frac(max_working_set, 1.15));
}

int64_t size_vpa_from_daily_peaks(double *peaks, size_t n, bool *floored)
{
	double p90 = stats_quantile_inplace(peaks, n, 0.9);
	/* a double above INT64_MAX converted is undefined: saturate first */
	int64_t v = round_up_mi(times_frac(p90 >= 9.2e18 ? INT64_MAX : p90 <= 0 ? 0 : (int64_t)p90, 1.15));
	if (floored)
		*floored = v < SIZE_VPA_FLOOR;
	return v < SIZE_VPA_FLOOR ? SIZE_VPA_FLOOR : v;
}

static void sizing_init(struct sizing *s, size_t n, const struct size_options *opt)
{
	memset(s, 0, sizeof(*s));
	s->nrecordings = n;
	s->headroom = opt->headroom;
	s->qos_guaranteed = opt->qos_guaranteed;
	s->true_peak = s->sized_peak = s->startup_peak = s->request_p95 = s->needs_to_exist = HR_UNKNOWN;
	s->krr_bytes = s->vpa_bytes = s->time_to_limit_ns = s->startup_burst_bytes = HR_UNKNOWN;
	s->krr_best_bytes = s->vpa_best_bytes = HR_UNKNOWN;
	s->slope_bytes_per_s = NAN;
	s->hpa_target = opt->hpa_target;
	s->hpa_warning = -1;
	s->hpa_idle_utilisation = NAN;
	s->replicas = opt->replicas;
	s->surge = opt->surge;
	s->request_is_working_set = true;
}

/* What the recommenders poll, gathered across the recordings (each one a VPA "day"). */
struct anchors {
	double vpa_days[64], vpa_best[64];
	int64_t krr_max, krr_best;
};

/* The peaks, levels and anchors of every recording: the highest sets the limit. */
static void gather(struct sizing *s, const struct analysis *const *a, size_t n, struct anchors *an)
{
	an->krr_max = an->krr_best = HR_UNKNOWN;
	for (size_t i = 0; i < n; i++) {
		const struct analysis *x = a[i];
		int64_t pk = x->peak;
		if (x->oom_killed && pk >= 0) {
			/* the demand that got it killed is unknown: only a lower bound was seen */
			s->oom_adjusted = true;
			pk = size_oom_raise(pk);
		}
		if (pk > s->sized_peak) {
			s->sized_peak = pk;
			s->true_peak = x->peak;
			s->peak_recording = i;
			s->basis = x->basis;
			s->peak_at_startup = x->startup_peak >= 0 && x->startup_peak >= x->peak;
		}
		if (x->rss_peak > s->needs_to_exist)
			s->needs_to_exist = x->rss_peak;
		if (x->startup_peak > s->startup_peak)
			s->startup_peak = x->startup_peak;
		if (x->request_basis_p95 > s->request_p95)
			s->request_p95 = x->request_basis_p95;
		if (!x->cgroup)
			s->request_is_working_set = false;
		if (x->krr_max_bytes > an->krr_max)
			an->krr_max = x->krr_max_bytes;
		if (x->krr_max_best_bytes > an->krr_best)
			an->krr_best = x->krr_max_best_bytes;
		s->krr_points += x->krr_points;
		if (x->vpa_peak_bytes >= 0 && s->vpa_days < 64) {
			an->vpa_best[s->vpa_days] = (double)x->vpa_peak_best_bytes;
			an->vpa_days[s->vpa_days++] = (double)x->vpa_peak_bytes;
		}
		if (analysis_finding(x, FINDING_GROWING)) {
			s->growing = true;
			if (isnan(s->slope_bytes_per_s) || x->slope_bytes_per_s > s->slope_bytes_per_s)
				s->slope_bytes_per_s = x->slope_bytes_per_s;
		}
	}
}

static void limit_and_request(struct sizing *s, const struct size_options *opt)
{
	s->limit_bytes = size_limit_from_peak(s->sized_peak, opt->headroom);
	/* never below what the process tree needs to exist: cgroup usage leaves out library pages
	 * already in the page cache, but a pod on a cold node is charged for them */
	int64_t floor_bytes = SIZE_FLOOR_BYTES;
	if (s->needs_to_exist >= 0) {
		int64_t need = size_limit_from_peak(s->needs_to_exist, opt->headroom);
		if (need > floor_bytes)
			floor_bytes = need;
	}
	if (s->limit_bytes < floor_bytes) {
		s->limit_bytes = floor_bytes;
		s->limit_floored = true;
	}
	if (opt->qos_guaranteed || s->request_p95 < 0)
		s->request_bytes = s->limit_bytes;
	else
		s->request_bytes = size_request_from_p95(s->request_p95, s->limit_bytes);
}

/* KRR: max × 1.15; VPA: P90 of the daily peaks × 1.15, floored at 250 MiB (FACTS.md) */
static void recommender_anchors(struct sizing *s, struct anchors *an)
{
	if (an->krr_max >= 0)
		s->krr_bytes = size_krr_from_max(an->krr_max);
	if (an->krr_best >= 0)
		s->krr_best_bytes = size_krr_from_max(an->krr_best);
	if (s->vpa_days == 0)
		return;
	s->vpa_bytes = size_vpa_from_daily_peaks(an->vpa_days, s->vpa_days, &s->vpa_floored);
	s->vpa_best_bytes = size_vpa_from_daily_peaks(an->vpa_best, s->vpa_days, NULL);
}

/* memory that does not come down after the load keeps a memory-based HPA scaled out */
static void autoscaling(struct sizing *s, const struct analysis *const *a, size_t n, const struct size_options *opt)
{
	int burst = opt->replicas > 0 ? opt->replicas : opt->surge;
	if (burst > 0 && s->startup_peak >= 0)
		s->startup_burst_bytes = sat_mul_frac_ceil(s->startup_peak, (double)burst);
	if (opt->hpa_target < 0)
		return;
	int falls = -1;
	int64_t idle = HR_UNKNOWN;
	for (size_t i = 0; i < n; i++) {
		if (a[i]->falls_after_load == 0)
			falls = 0;
		else if (a[i]->falls_after_load == 1 && falls < 0)
			falls = 1;
		int64_t lvl = a[i]->after_load_bytes >= 0 ? a[i]->after_load_bytes : a[i]->steady_p50;
		if (lvl > idle)
			idle = lvl;
	}
	if (idle >= 0 && s->request_bytes > 0)
		s->hpa_idle_utilisation = (double)idle / (double)s->request_bytes;
	if (falls == 0 || (!isnan(s->hpa_idle_utilisation) && s->hpa_idle_utilisation >= opt->hpa_target))
		s->hpa_warning = 1;
	else if (falls == 1)
		s->hpa_warning = 0;
}

int size_recommend(const struct analysis *const *a, size_t n, const struct size_options *opt, struct sizing *ret)
{
	if (!a || n == 0 || !ret)
		return -EINVAL;
	struct size_options defaults;
	if (!opt) {
		size_options_init(&defaults);
		opt = &defaults;
	}
	if (!(opt->headroom >= 0 && opt->headroom <= SIZE_HEADROOM_MAX) || opt->replicas < 0 || opt->surge < 0)
		return -ERANGE;
	struct sizing s;
	struct anchors an;
	sizing_init(&s, n, opt);
	gather(&s, a, n, &an);
	if (s.sized_peak < 0)
		return -ENODATA;
	limit_and_request(&s, opt);
	recommender_anchors(&s, &an);
	if (s.growing && s.slope_bytes_per_s > 0) {
		const struct analysis *x = a[s.peak_recording];
		int64_t from = x->final >= 0 ? x->final : s.true_peak;
		double secs = (double)(s.limit_bytes - from) / s.slope_bytes_per_s;
		s.time_to_limit_ns = !(secs > 0) ? 0 : secs >= 9.2e9 ? INT64_MAX : (int64_t)(secs * 1e9);
	}
	autoscaling(&s, a, n, opt);
	*ret = s;
	return 0;
}
