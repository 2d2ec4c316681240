#include <errno.h>
#include <math.h>
#include <string.h>

#include "size.h"
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
	return (int64_t)ceil((double)bytes * f);
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
	memset(&s, 0, sizeof(s));
	s.nrecordings = n;
	s.headroom = opt->headroom;
	s.qos_guaranteed = opt->qos_guaranteed;
	s.true_peak = s.sized_peak = s.startup_peak = s.request_p95 = HR_UNKNOWN;
	s.krr_bytes = s.vpa_bytes = s.time_to_limit_ns = s.startup_burst_bytes = HR_UNKNOWN;
	s.krr_best_bytes = s.vpa_best_bytes = HR_UNKNOWN;
	s.slope_bytes_per_s = NAN;
	s.hpa_target = opt->hpa_target;
	s.hpa_warning = -1;
	s.hpa_idle_utilisation = NAN;
	s.replicas = opt->replicas;
	s.surge = opt->surge;
	s.request_is_working_set = true;

	double vpa_days[64], vpa_best[64];
	int64_t krr_max = HR_UNKNOWN, krr_best = HR_UNKNOWN;
	for (size_t i = 0; i < n; i++) {
		const struct analysis *x = a[i];
		int64_t pk = x->peak;
		if (x->oom_killed && pk >= 0) {
			/* the demand that got it killed is unknown: only a lower bound was seen */
			int64_t raised = pk + 100 * UTIL_MiB > times_frac(pk, 1.2) ? pk + 100 * UTIL_MiB : times_frac(pk, 1.2);
			s.oom_adjusted = true;
			pk = raised;
		}
		if (pk > s.sized_peak) {
			s.sized_peak = pk;
			s.true_peak = x->peak;
			s.peak_recording = i;
			s.basis = x->basis;
			s.peak_at_startup = x->startup_peak >= 0 && x->startup_peak >= x->peak;
		}
		if (x->startup_peak > s.startup_peak)
			s.startup_peak = x->startup_peak;
		if (x->request_basis_p95 > s.request_p95)
			s.request_p95 = x->request_basis_p95;
		if (!x->cgroup)
			s.request_is_working_set = false;
		if (x->krr_max_bytes > krr_max)
			krr_max = x->krr_max_bytes;
		if (x->krr_max_best_bytes > krr_best)
			krr_best = x->krr_max_best_bytes;
		s.krr_points += x->krr_points;
		if (x->vpa_peak_bytes >= 0 && s.vpa_days < 64) {
			vpa_best[s.vpa_days] = (double)x->vpa_peak_best_bytes;
			vpa_days[s.vpa_days++] = (double)x->vpa_peak_bytes;
		}
		if (x->verdict == VERDICT_GROWING) {
			s.growing = true;
			if (isnan(s.slope_bytes_per_s) || x->slope_bytes_per_s > s.slope_bytes_per_s)
				s.slope_bytes_per_s = x->slope_bytes_per_s;
		}
	}
	if (s.sized_peak < 0)
		return -ENODATA;

	s.limit_bytes = util_round_up_mi(times_frac(s.sized_peak, 1.0 + opt->headroom));
	if (s.limit_bytes < UTIL_MiB)
		s.limit_bytes = UTIL_MiB;
	if (opt->qos_guaranteed || s.request_p95 < 0)
		s.request_bytes = s.limit_bytes;
	else
		s.request_bytes = util_round_up_mi(s.request_p95);
	if (s.request_bytes > s.limit_bytes)
		s.request_bytes = s.limit_bytes;
	if (s.request_bytes < UTIL_MiB)
		s.request_bytes = UTIL_MiB;

	if (krr_max >= 0)
		s.krr_bytes = util_round_up_mi(times_frac(krr_max, 1.15));
	if (krr_best >= 0)
		s.krr_best_bytes = util_round_up_mi(times_frac(krr_best, 1.15));
	if (s.vpa_days > 0) {
		double p90 = stats_quantile_inplace(vpa_days, s.vpa_days, 0.9);
		s.vpa_bytes = util_round_up_mi(times_frac((int64_t)p90, 1.15));
		if (s.vpa_bytes < SIZE_VPA_FLOOR) {
			s.vpa_bytes = SIZE_VPA_FLOOR;
			s.vpa_floored = true;
		}
		p90 = stats_quantile_inplace(vpa_best, s.vpa_days, 0.9);
		s.vpa_best_bytes = util_round_up_mi(times_frac((int64_t)p90, 1.15));
		if (s.vpa_best_bytes < SIZE_VPA_FLOOR)
			s.vpa_best_bytes = SIZE_VPA_FLOOR;
	}

	if (s.growing && s.slope_bytes_per_s > 0) {
		const struct analysis *x = a[s.peak_recording];
		int64_t from = x->final >= 0 ? x->final : s.true_peak;
		double secs = (double)(s.limit_bytes - from) / s.slope_bytes_per_s;
		/* a slope of bytes per century puts the limit past what a ns count holds: saturate */
		s.time_to_limit_ns = secs <= 0 ? 0 : secs >= 9.2e9 ? INT64_MAX : (int64_t)(secs * 1e9);
	}

	int burst = opt->replicas > 0 ? opt->replicas : opt->surge;
	if (burst > 0 && s.startup_peak >= 0)
		s.startup_burst_bytes = (int64_t)burst * s.startup_peak;

	if (opt->hpa_target >= 0) {
		/* memory that does not come down after the load keeps the HPA scaled out */
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
		if (idle >= 0 && s.request_bytes > 0)
			s.hpa_idle_utilisation = (double)idle / (double)s.request_bytes;
		if (falls == 0 || (!isnan(s.hpa_idle_utilisation) && s.hpa_idle_utilisation >= opt->hpa_target))
			s.hpa_warning = 1;
		else if (falls == 1)
			s.hpa_warning = 0;
	}
	*ret = s;
	return 0;
}
