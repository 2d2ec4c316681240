#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "stats.h"
#include "util.h"

const char *const analyze_columns[] = {
	"rss", "rss_peak", "map_anon", "map_stacks", "map_code", "map_files", "map_shmem", "map_other",
	"cg_usage", "cg_usage_peak", "cg_working_set", "cg_inactive_file", "cg_file", "cg_oom_kills",
	"cg_limit_hits", "heap_live", "heap_held", "heap_allocs", "heap_live_peak", NULL,
};

static const int64_t scrape_intervals_ns[ANALYZE_NSCRAPES] = {15000000000LL, 30000000000LL, 60000000000LL};

void analyze_options_init(struct analyze_options *opt)
{
	opt->band_frac = 0.05;
	opt->band_min_bytes = 2 * UTIL_MiB;
	opt->min_steady_ns = 10000000000LL;
	opt->min_steady_samples = 20;
	opt->p_threshold = 0.01;
}

const char *analyze_verdict_name(enum analyze_verdict v)
{
	switch (v) {
	case VERDICT_STABLE: return "stable";
	case VERDICT_GROWING: return "growing";
	case VERDICT_TRACKS_LOAD: return "tracks-load";
	case VERDICT_SPIKY: return "spiky";
	case VERDICT_SAWTOOTH: return "sawtooth";
	case VERDICT_TOO_SHORT: break;
	}
	return "too-short";
}

const char *analyze_basis_name(enum analyze_basis b)
{
	switch (b) {
	case BASIS_CG_USAGE: return "cgroup-usage";
	case BASIS_WORKING_SET: return "working-set";
	case BASIS_RSS: break;
	}
	return "rss";
}

/* Looked up by name here rather than through record.c so analysis works on any recording,
 * including one a test builds in memory. */
static const int64_t *column(const struct recording *rec, const char *name)
{
	for (int i = 0; i < rec->ncols && i < 64; i++)
		if (rec->col_name[i] && rec->col[i] && strcmp(rec->col_name[i], name) == 0)
			return rec->col[i];
	return NULL;
}

/* the first index with t >= at */
static size_t index_at(const int64_t *t, size_t n, int64_t at)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t[mid] < at)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int64_t max_known(const int64_t *x, size_t from, size_t to, int64_t *ret_t, const int64_t *t)
{
	int64_t m = HR_UNKNOWN;
	if (!x)
		return m;
	for (size_t i = from; i < to; i++)
		if (x[i] > m) {
			m = x[i];
			if (ret_t)
				*ret_t = t[i];
		}
	return m;
}

static int64_t last_known(const int64_t *x, size_t n, size_t *ret_i)
{
	if (!x)
		return HR_UNKNOWN;
	for (size_t i = n; i-- > 0;)
		if (x[i] >= 0) {
			if (ret_i)
				*ret_i = i;
			return x[i];
		}
	return HR_UNKNOWN;
}

/* Quantile of the known values in [from, to); scratch holds n doubles. */
static int64_t quantile_known(const int64_t *x, size_t from, size_t to, double q, double *scratch)
{
	if (!x)
		return HR_UNKNOWN;
	size_t k = 0;
	for (size_t i = from; i < to; i++)
		if (x[i] >= 0)
			scratch[k++] = (double)x[i];
	if (k == 0)
		return HR_UNKNOWN;
	return (int64_t)llround(stats_quantile_inplace(scratch, k, q));
}

/* Known (t seconds, x) pairs of [from, to) into ts/xs; returns how many. */
static size_t gather(const int64_t *t, const int64_t *x, size_t from, size_t to, double *ts, double *xs)
{
	size_t k = 0;
	if (!x)
		return 0;
	for (size_t i = from; i < to; i++)
		if (x[i] >= 0) {
			ts[k] = (double)t[i] / 1e9;
			xs[k] = (double)x[i];
			k++;
		}
	return k;
}

static const struct record_event *find_event(const struct recording *rec, const char *kind)
{
	for (size_t i = 0; i < rec->nevents; i++)
		if (strcmp(rec->events[i].kind, kind) == 0)
			return &rec->events[i];
	return NULL;
}

static void init_result(const struct recording *rec, struct analysis *a)
{
	memset(a, 0, sizeof(*a));
	int64_t *f[] = {
		&a->interval_ns, &a->limit_bytes, &a->page_cache_bytes, &a->rss_peak, &a->rss_peak_t_ns,
		&a->rss_startup_peak, &a->rss_traffic_peak, &a->rss_steady_p50, &a->rss_steady_p95, &a->rss_final,
		&a->rss_min_after_startup, &a->cg_usage_peak, &a->cg_ws_peak, &a->cg_ws_steady_p95,
		&a->cg_oom_kills, &a->cg_limit_hits, &a->peak, &a->peak_t_ns, &a->startup_peak, &a->traffic_peak,
		&a->steady_p50, &a->steady_p95, &a->request_basis_p95, &a->final, &a->startup_end_ns,
		&a->load_start_ns, &a->load_end_ns, &a->stabilized_after_ns, &a->drop_threshold,
		&a->after_load_bytes, &a->heap_live_peak, &a->heap_live_final, &a->heap_allocations,
		&a->heap_gap_bytes, &a->bd_t_ns, &a->bd_anon, &a->bd_heap, &a->bd_allocator, &a->bd_stacks,
		&a->bd_code, &a->bd_files, &a->bd_other, &a->krr_max_bytes, &a->vpa_peak_bytes,
		&a->krr_max_best_bytes, &a->vpa_peak_best_bytes,
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		*f[i] = HR_UNKNOWN;
	a->slope_bytes_per_s = a->mk_p = a->mk_z = a->mk_tau = NAN;
	a->peak_median_ratio = a->spike_time_fraction = a->load_correlation = NAN;
	a->heap_slope_bytes_per_s = a->heap_mk_p = NAN;
	a->falls_after_load = -1;
	a->startup_source = PHASE_NONE;
	a->verdict = VERDICT_TOO_SHORT;
	for (int i = 0; i < ANALYZE_NSCRAPES; i++) {
		a->blind[i].scrape_ns = scrape_intervals_ns[i];
		a->blind[i].best_bytes = a->blind[i].worst_bytes = HR_UNKNOWN;
	}
	a->nsamples = rec->nsamples;
	a->limit_bytes = rec->run.limit_bytes;
	a->exit_code = rec->run.exit_code;
	a->exit_signal = rec->run.exit_signal;
	a->oom_killed = rec->run.oom_killed;
	a->finished = rec->run.finished;
	a->rss_peaks_exact = rec->run.rss_peaks_exact;
	a->duration_ns = rec->run.duration_ns;
	snprintf(a->heap_status, sizeof(a->heap_status), "%s", rec->run.heap_status[0] ? rec->run.heap_status : "unknown");
}

static void add_phase(struct analysis *a, const char *name, int64_t stage, int64_t from, int64_t to, int64_t conns)
{
	if (a->nphases >= ANALYZE_MAX_PHASES || to <= from)
		return;
	struct analyze_phase *p = &a->phases[a->nphases++];
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->stage = stage;
	p->start_ns = from;
	p->end_ns = to;
	p->connections = conns;
	p->peak_bytes = p->p50_bytes = p->rss_peak_bytes = HR_UNKNOWN;
}

/* Load stages from the stage events (value = stage index), else from the per-second load rows. */
static void place_load(const struct recording *rec, struct analysis *a, int64_t end_ns)
{
	int64_t first = HR_UNKNOWN, last = HR_UNKNOWN;
	for (size_t i = 0; i < rec->nload; i++) {
		int64_t from = rec->load[i].t_ns - 1000000000LL;
		if (from < 0)
			from = 0;
		if (first < 0 || from < first)
			first = from;
		if (rec->load[i].t_ns > last)
			last = rec->load[i].t_ns;
	}
	for (size_t i = 0; i < rec->nevents; i++)
		if (strcmp(rec->events[i].kind, "stage") == 0) {
			if (first < 0 || rec->events[i].t_ns < first)
				first = rec->events[i].t_ns;
			if (last < rec->events[i].t_ns && rec->nload == 0)
				last = end_ns;
		}
	if (first < 0)
		return;
	a->has_load = true;
	a->load_start_ns = first;
	a->load_end_ns = last > first ? last : end_ns;
}

static int64_t stage_connections(const struct recording *rec, int64_t stage)
{
	for (size_t i = 0; i < rec->nload; i++)
		if (rec->load[i].stage == stage)
			return rec->load[i].connections;
	return HR_UNKNOWN;
}

static void add_stage_phases(const struct recording *rec, struct analysis *a)
{
	/* stage starts: events first (exact), else the first load row of each stage */
	int64_t starts[32], idx[32];
	int ns = 0;
	for (size_t i = 0; i < rec->nevents && ns < 32; i++)
		if (strcmp(rec->events[i].kind, "stage") == 0) {
			starts[ns] = rec->events[i].t_ns;
			idx[ns++] = rec->events[i].value;
		}
	if (ns == 0) {
		int64_t cur = -2;
		for (size_t i = 0; i < rec->nload && ns < 32; i++)
			if (rec->load[i].stage != cur) {
				cur = rec->load[i].stage;
				int64_t from = rec->load[i].t_ns - 1000000000LL;
				starts[ns] = from > a->load_start_ns ? from : a->load_start_ns;
				idx[ns++] = cur;
			}
	}
	for (int s = 0; s < ns; s++) {
		int64_t to = s + 1 < ns ? starts[s + 1] : a->load_end_ns;
		char name[32];
		snprintf(name, sizeof(name), "stage %lld", (long long)idx[s]);
		add_phase(a, name, idx[s], starts[s], to, stage_connections(rec, idx[s]));
	}
}

int analyze_recording(const struct recording *rec, const struct analyze_options *opt, struct analysis *ret)
{
	if (!rec || !ret)
		return -EINVAL;
	struct analyze_options defaults;
	if (!opt) {
		analyze_options_init(&defaults);
		opt = &defaults;
	}
	struct analysis *a = malloc(sizeof(*a));
	if (!a)
		return -ENOMEM;
	init_result(rec, a);

	const size_t n = rec->nsamples;
	const int64_t *t = rec->t_ns;
	const int64_t *rss = column(rec, "rss"), *rss_pk = column(rec, "rss_peak");
	const int64_t *cg_usage = column(rec, "cg_usage"), *cg_pk = column(rec, "cg_usage_peak");
	const int64_t *cg_ws = column(rec, "cg_working_set"), *cg_inact = column(rec, "cg_inactive_file");
	const int64_t *heap_live = column(rec, "heap_live");

	double *scratch = NULL, *ts = NULL, *xs = NULL;
	int64_t *bi = NULL, *bp = NULL, *rp = NULL, *rss_none = NULL;
	int r = -ENODATA;
	/* a cgroup attach may have usage without any process RSS: either one is something to judge */
	if (n == 0 || !t || (last_known(rss, n, NULL) < 0 && last_known(cg_usage, n, NULL) < 0)) {
		if (n > 0 && t)
			a->duration_ns = a->duration_ns > 0 ? a->duration_ns : t[n - 1] - t[0];
		goto out_copy;
	}
	r = -ENOMEM;
	scratch = malloc(n * sizeof(double));
	ts = malloc(n * sizeof(double));
	xs = malloc(n * sizeof(double));
	bi = malloc(n * sizeof(int64_t));
	bp = malloc(n * sizeof(int64_t));
	rp = malloc(n * sizeof(int64_t));
	if (!scratch || !ts || !xs || !bi || !bp || !rp)
		goto out;
	if (!rss) {
		rss_none = malloc(n * sizeof(int64_t));
		if (!rss_none)
			goto out;
		for (size_t i = 0; i < n; i++)
			rss_none[i] = HR_UNKNOWN;
		rss = rss_none;
	}

	const int64_t end_ns = t[n - 1];
	if (a->duration_ns <= 0 || a->duration_ns < end_ns)
		a->duration_ns = end_ns;
	if (n >= 2) {
		size_t k = 0;
		size_t step = n > 4096 ? n / 4096 : 1;
		for (size_t i = 0; i + 1 < n; i += step)
			scratch[k++] = (double)(t[i + 1] - t[i]);
		a->interval_ns = (int64_t)stats_quantile_inplace(scratch, k, 0.5);
	} else if (rec->run.interval_ns > 0) {
		a->interval_ns = rec->run.interval_ns;
	}

	/* RSS interval peaks: VmHWM reset every interval is exact; a since-start VmHWM only tells the
	 * overall peak, so phases then rely on the instantaneous values. */
	for (size_t i = 0; i < n; i++) {
		int64_t v = rss[i];
		if (rss_pk && rec->run.rss_peaks_exact && rss_pk[i] > v)
			v = rss_pk[i];
		rp[i] = v;
	}
	a->rss_peak = max_known(rp, 0, n, &a->rss_peak_t_ns, t);
	if (rss_pk && !rec->run.rss_peaks_exact) {
		int64_t since_start = max_known(rss_pk, 0, n, NULL, t);
		if (since_start > a->rss_peak)
			a->rss_peak = since_start;
	}
	/* samples read after the exit event (the last interval's peak) count for peaks only: the
	 * levels, the trend and the final figure are the living process's */
	size_t alive = n;
	const struct record_event *exited = find_event(rec, "exit");
	if (exited) {
		alive = index_at(t, n, exited->t_ns);
		if (alive == 0)
			alive = n;
	}
	a->rss_final = last_known(rss, alive, NULL);

	/* basis: the cgroup's charge when there is one, the working set when page cache inflates it */
	a->cgroup = cg_usage && last_known(cg_usage, n, NULL) >= 0;
	a->basis = BASIS_RSS;
	if (a->cgroup) {
		a->cg_usage_peak = max_known(cg_usage, 0, n, NULL, t);
		int64_t pk_t = HR_UNKNOWN;
		int64_t cgp = max_known(cg_pk, 0, n, &pk_t, t);
		if (cgp > a->cg_usage_peak)
			a->cg_usage_peak = cgp;
		a->cg_ws_peak = max_known(cg_ws, 0, n, NULL, t);
		/* page cache at the moment usage peaked */
		size_t at = index_at(t, n, pk_t >= 0 ? pk_t : 0);
		if (cg_inact && at < n)
			a->page_cache_bytes = cg_inact[at];
		if (cg_ws && last_known(cg_ws, n, NULL) >= 0 && a->page_cache_bytes >= 0 &&
		    a->page_cache_bytes >= 16 * UTIL_MiB && a->page_cache_bytes * 10 >= a->cg_usage_peak)
			a->basis = BASIS_WORKING_SET;
		else
			a->basis = BASIS_CG_USAGE;
		a->cg_oom_kills = last_known(column(rec, "cg_oom_kills"), n, NULL);
		/* a kill usually lands after the last sample: the runner's final read of the counter
		 * is in the events (one oom_kill event per increase, value = the increase) */
		int64_t ev_kills = 0, ev_hits = 0;
		for (size_t i = 0; i < rec->nevents; i++) {
			if (rec->events[i].value <= 0)
				continue;
			if (strcmp(rec->events[i].kind, "oom_kill") == 0)
				ev_kills += rec->events[i].value;
			else if (strcmp(rec->events[i].kind, "limit_hit") == 0)
				ev_hits += rec->events[i].value;
		}
		if (ev_kills > a->cg_oom_kills)
			a->cg_oom_kills = ev_kills;
		a->cg_limit_hits = last_known(column(rec, "cg_limit_hits"), n, NULL);
		if (ev_hits > a->cg_limit_hits)
			a->cg_limit_hits = ev_hits;
	}
	for (size_t i = 0; i < n; i++) {
		switch (a->basis) {
		case BASIS_RSS:
			bi[i] = rss[i];
			bp[i] = rp[i];
			break;
		case BASIS_CG_USAGE:
			bi[i] = cg_usage[i];
			bp[i] = cg_pk && rec->run.cg_peaks_exact && cg_pk[i] > cg_usage[i] ? cg_pk[i] : cg_usage[i];
			break;
		case BASIS_WORKING_SET:
			bi[i] = cg_ws[i];
			/* the interval's usage peak less the page cache then: the working set's peak */
			bp[i] = cg_ws[i];
			if (cg_pk && rec->run.cg_peaks_exact && cg_inact && cg_pk[i] >= 0 && cg_inact[i] >= 0 &&
			    cg_pk[i] - cg_inact[i] > bp[i])
				bp[i] = cg_pk[i] - cg_inact[i];
			break;
		}
	}
	a->peak = max_known(bp, 0, n, &a->peak_t_ns, t);
	if (a->basis == BASIS_CG_USAGE && a->cg_usage_peak > a->peak)
		a->peak = a->cg_usage_peak;
	if (a->basis == BASIS_RSS && a->rss_peak > a->peak)
		a->peak = a->rss_peak;
	a->final = last_known(bi, alive, NULL);

	/* startup: until ready, else the first load stage, else until memory settles */
	place_load(rec, a, end_ns);
	const struct record_event *ready = find_event(rec, "ready");
	if (n < 2) {
		a->startup_source = PHASE_NONE;
	} else if (ready) {
		a->startup_source = PHASE_FROM_READY;
		a->startup_end_ns = ready->t_ns;
	} else if (a->has_load) {
		a->startup_source = PHASE_FROM_LOAD;
		a->startup_end_ns = a->load_start_ns;
	} else {
		size_t k = gather(t, bi, 0, alive, ts, xs);
		double st;
		if (stats_stabilization(ts, xs, k, opt->band_frac, (double)opt->band_min_bytes, &st) == 0) {
			a->startup_source = PHASE_FROM_STABLE;
			a->startup_end_ns = (int64_t)(st * 1e9);
		} else {
			a->startup_source = PHASE_FROM_GUESS;
			a->startup_end_ns = t[0] + (end_ns - t[0]) / 10;
		}
	}
	/* the stabilisation time is reported whatever placed the startup */
	{
		size_t k = gather(t, bi, 0, alive, ts, xs);
		double st;
		if (stats_stabilization(ts, xs, k, opt->band_frac, (double)opt->band_min_bytes, &st) == 0)
			a->stabilized_after_ns = (int64_t)(st * 1e9);
	}

	/* phases: startup, the idle time before load, each stage, the quiet tail after load */
	int64_t se = a->startup_end_ns >= 0 ? a->startup_end_ns : t[0];
	size_t i0 = index_at(t, n, se);
	if (a->startup_end_ns >= 0) {
		/* include the sample at the end of startup: its interval peak belongs to startup */
		size_t last = i0 < n ? i0 + 1 : n;
		if (last > n)
			last = n;
		a->startup_peak = max_known(bp, 0, last, NULL, t);
		a->rss_startup_peak = max_known(rp, 0, last, NULL, t);
		if (rss_pk && !rec->run.rss_peaks_exact) {
			/* a since-start VmHWM read at the end of startup is the startup peak, exactly */
			int64_t hwm = max_known(rss_pk, 0, last, NULL, t);
			if (hwm > a->rss_startup_peak)
				a->rss_startup_peak = hwm;
		}
		add_phase(a, "startup", -1, t[0], se, HR_UNKNOWN);
	}
	if (a->has_load) {
		add_phase(a, "idle", -1, se, a->load_start_ns, HR_UNKNOWN);
		add_stage_phases(rec, a);
		add_phase(a, "after load", -1, a->load_end_ns, util_add_sat(end_ns, 1), HR_UNKNOWN);
	} else {
		add_phase(a, "steady", -1, se, util_add_sat(end_ns, 1), HR_UNKNOWN);
	}
	for (int p = 0; p < a->nphases; p++) {
		struct analyze_phase *ph = &a->phases[p];
		size_t from = index_at(t, n, ph->start_ns), to = index_at(t, n, ph->end_ns);
		/* an interval peak read at t_i covers (t_i-1, t_i]: peaks belong to the phase holding
		 * (start, end], values read at an instant to the one holding [start, end) */
		size_t pfrom = ph->start_ns <= t[0] ? 0 : index_at(t, n, util_add_sat(ph->start_ns, 1));
		size_t pto = index_at(t, n, util_add_sat(ph->end_ns, 1));
		ph->nsamples = to - from;
		ph->peak_bytes = max_known(bp, pfrom, pto, NULL, t);
		ph->rss_peak_bytes = max_known(rp, pfrom, pto, NULL, t);
		ph->p50_bytes = quantile_known(bi, from, to, 0.5, scratch);
	}
	/* a phase with no sample that is shorter than an interval (an idle instant between ready and
	 * the first stage) says nothing */
	for (int p = 0; p < a->nphases;) {
		const struct analyze_phase *ph = &a->phases[p];
		if (ph->nsamples == 0 && ph->end_ns - ph->start_ns < (a->interval_ns > 0 ? a->interval_ns : 1)) {
			memmove(&a->phases[p], &a->phases[p + 1], (size_t)(a->nphases - p - 1) * sizeof(a->phases[0]));
			a->nphases--;
		} else {
			p++;
		}
	}

	/* steady: everything after startup, load included (tracks-load is judged on it) */
	size_t s0 = a->startup_end_ns >= 0 ? i0 : 0;
	if (s0 < n && a->startup_source != PHASE_NONE && s0 + 1 < n) {
		/* the sample ending the startup interval is startup's; steady starts after it */
		if (t[s0] == se && s0 + 1 < n)
			s0++;
	}
	size_t s1 = alive > s0 ? alive : n;
	a->steady_samples = s1 > s0 ? s1 - s0 : 0;
	a->steady_ns = a->steady_samples ? t[s1 - 1] - t[s0] : 0;
	if (a->steady_samples) {
		/* peaks include the interval that ended with the exit */
		a->traffic_peak = max_known(bp, s0, n, NULL, t);
		a->rss_traffic_peak = max_known(rp, s0, n, NULL, t);
		a->rss_min_after_startup = HR_UNKNOWN;
		for (size_t i = s0; i < s1; i++)
			if (rss[i] >= 0 && (a->rss_min_after_startup < 0 || rss[i] < a->rss_min_after_startup))
				a->rss_min_after_startup = rss[i];
		a->steady_p50 = quantile_known(bi, s0, s1, 0.5, scratch);
		a->steady_p95 = quantile_known(bi, s0, s1, 0.95, scratch);
		a->rss_steady_p50 = quantile_known(rss, s0, s1, 0.5, scratch);
		a->rss_steady_p95 = quantile_known(rss, s0, s1, 0.95, scratch);
		if (a->cgroup) {
			a->cg_ws_steady_p95 = quantile_known(cg_ws, s0, s1, 0.95, scratch);
			a->request_basis_p95 = a->cg_ws_steady_p95 >= 0 ? a->cg_ws_steady_p95 : a->steady_p95;
		} else {
			a->request_basis_p95 = a->rss_steady_p95;
		}
	}
	/* the trend of the steady phase */
	size_t k = gather(t, bi, s0, s1, ts, xs);
	if (k >= 3)
		stats_theil_sen(ts, xs, k, &a->slope_bytes_per_s, NULL);
	struct stats_mk mk;
	if (k >= 4 && stats_mann_kendall(ts, xs, k, &mk) == 0) {
		a->mk_p = mk.p;
		a->mk_z = mk.z;
		a->mk_tau = mk.tau;
	}
	double med = a->steady_p50 >= 0 ? (double)a->steady_p50 : NAN;
	double material = fmax((double)opt->band_min_bytes, opt->band_frac * (isnan(med) ? 0 : med));
	double rise = a->slope_bytes_per_s * (double)a->steady_ns / 1e9;
	a->trend_significant = !isnan(a->mk_p) && a->mk_p < opt->p_threshold && fabs(rise) >= material;

	/* sawtooth: drops after rises, with the time spread above and below the midline */
	double p5 = NAN, lo = NAN, hi = NAN, frac_mid = NAN;
	if (k >= 4) {
		memcpy(scratch, xs, k * sizeof(double));
		p5 = stats_quantile_inplace(scratch, k, 0.05);
		double p95 = stats_quantile_inplace(scratch, k, 0.95);
		lo = hi = xs[0];
		for (size_t i = 0; i < k; i++) {
			if (xs[i] < lo) lo = xs[i];
			if (xs[i] > hi) hi = xs[i];
		}
		double thr = fmax(2 * (double)opt->band_min_bytes, fmax(opt->band_frac * med, 0.3 * (p95 - p5)));
		a->drop_threshold = (int64_t)thr;
		a->drops = stats_count_drops(xs, k, thr);
		frac_mid = stats_fraction_above(xs, k, (lo + hi) / 2);
	}

	/* spikes: interval peaks far above the median, briefly */
	if (a->steady_samples && a->traffic_peak > 0 && med > 0) {
		a->peak_median_ratio = (double)a->traffic_peak / med;
		double level = med + ((double)a->traffic_peak - med) / 2;
		size_t kk = 0;
		for (size_t i = s0; i < s1; i++)
			if (bp[i] >= 0)
				scratch[kk++] = (double)bp[i];
		a->spikes = stats_count_runs_above(scratch, kk, level);
		a->spike_time_fraction = stats_fraction_above(scratch, kk, level);
	}

	/* load: does memory follow the concurrency, and does it come down afterwards */
	if (a->has_load && k >= 4) {
		/* the concurrency at each sample: the stage it falls in (by the phases, placed from the
		 * stage events), at the load row of that stage nearest in time (the row's target
		 * connections at its instant: exact for flat stages, close for ramps) */
		double *load = scratch;
		size_t row = 0;
		for (size_t i = 0, j = 0; i < n && j < k; i++) {
			if (i < s0 || bi[i] < 0)
				continue;
			int64_t c = 0;
			for (int p = 0; p < a->nphases; p++) {
				const struct analyze_phase *ph = &a->phases[p];
				if (ph->stage < 0 || t[i] < ph->start_ns || t[i] >= ph->end_ns)
					continue;
				c = ph->connections > 0 ? ph->connections : 1;
				while (row + 1 < rec->nload && rec->load[row + 1].t_ns <= t[i])
					row++;
				int64_t best = INT64_MAX;
				for (size_t r2 = row > 2 ? row - 2 : 0; r2 < rec->nload && r2 <= row + 2; r2++) {
					int64_t d = llabs(rec->load[r2].t_ns - t[i]);
					if (rec->load[r2].stage == ph->stage && rec->load[r2].connections >= 0 && d < best) {
						best = d;
						c = rec->load[r2].connections;
					}
				}
			}
			load[j++] = (double)c;
		}
		a->load_correlation = stats_pearson(xs, load, k);
		size_t q0 = index_at(t, alive, a->load_end_ns);
		if (alive - q0 >= 3 && t[alive - 1] - a->load_end_ns >= 1000000000LL) {
			a->after_load_bytes = quantile_known(bi, q0, alive, 0.5, scratch);
			size_t l0 = index_at(t, n, a->load_start_ns);
			/* the level just before the load: the last 2 s before it (startup's tail when the
			 * first stage ended the startup) */
			size_t b0 = index_at(t, n, a->load_start_ns - 2000000000LL);
			int64_t before = quantile_known(bi, b0, l0, 0.5, scratch);
			if (before < 0)
				before = bi[l0 > 0 ? l0 - 1 : 0];
			int64_t during = max_known(bi, l0, q0, NULL, t);
			if (during > before && a->after_load_bytes >= 0)
				a->falls_after_load = (double)a->after_load_bytes <= (double)before + 0.5 * (double)(during - before);
			else if (a->after_load_bytes >= 0)
				a->falls_after_load = 1; /* it never rose */
		}
	}

	/* the verdict, first match wins; each rule needs a ratio and an absolute size */
	if (a->steady_samples < opt->min_steady_samples || a->steady_ns < opt->min_steady_ns) {
		a->verdict = VERDICT_TOO_SHORT;
		int64_t by_time = opt->min_steady_ns - a->steady_ns;
		int64_t by_count = (int64_t)(opt->min_steady_samples - (a->steady_samples < opt->min_steady_samples ?
			a->steady_samples : opt->min_steady_samples)) * (a->interval_ns > 0 ? a->interval_ns : 0);
		a->need_more_ns = by_time > by_count ? by_time : by_count;
		if (a->need_more_ns < 0)
			a->need_more_ns = 0;
	} else if (!isnan(a->load_correlation) && a->load_correlation >= 0.6 &&
		   hi - lo >= fmax(2 * (double)opt->band_min_bytes, 0.1 * med)) {
		/* before sawtooth: teeth that follow the stages are the load's */
		a->verdict = VERDICT_TRACKS_LOAD;
	} else if (a->drops >= 3 && frac_mid >= 0.15 && frac_mid <= 0.85) {
		a->verdict = VERDICT_SAWTOOTH;
	} else if (a->trend_significant && a->slope_bytes_per_s > 0) {
		a->verdict = VERDICT_GROWING;
	} else if (!isnan(a->peak_median_ratio) && a->peak_median_ratio >= 1.2 &&
		   (double)a->traffic_peak - med >= 8.0 * UTIL_MiB && a->spike_time_fraction < 0.2) {
		a->verdict = VERDICT_SPIKY;
	} else {
		a->verdict = VERDICT_STABLE;
	}

	/* the heap: does live data grow with RSS, or does the allocator hold what was freed */
	const int64_t *heap_pk = column(rec, "heap_live_peak");
	size_t heap_last_i = 0;
	a->heap_live_final = last_known(heap_live, alive, &heap_last_i);
	a->heap_available = a->heap_live_final >= 0;
	if (a->heap_available) {
		a->heap_live_peak = max_known(heap_live, 0, n, NULL, t);
		int64_t hp = max_known(heap_pk, 0, n, NULL, t);
		if (hp > a->heap_live_peak)
			a->heap_live_peak = hp;
		a->heap_allocations = last_known(column(rec, "heap_allocs"), n, NULL);
		size_t hk = gather(t, heap_live, s0, s1, ts, xs);
		if (hk >= 3)
			stats_theil_sen(ts, xs, hk, &a->heap_slope_bytes_per_s, NULL);
		if (hk >= 4 && stats_mann_kendall(ts, xs, hk, &mk) == 0)
			a->heap_mk_p = mk.p;
		int64_t rss_then = rss[heap_last_i] >= 0 ? rss[heap_last_i] : a->rss_final;
		a->heap_gap_bytes = rss_then - a->heap_live_final;
		double heap_rise = a->heap_slope_bytes_per_s * (double)a->steady_ns / 1e9;
		bool heap_grows = !isnan(a->heap_mk_p) && a->heap_mk_p < opt->p_threshold &&
				  heap_rise >= fmax((double)opt->band_min_bytes, opt->band_frac * (double)a->heap_live_final);
		a->heap_finding = heap_grows ? HEAP_LIVE_GROWING : HEAP_OK;
	}
	if (!a->heap_available && strcmp(a->heap_status, "available") == 0)
		snprintf(a->heap_status, sizeof(a->heap_status), "no heap figures were recorded");

	/* breakdown at the last smaps read */
	const int64_t *m_anon = column(rec, "map_anon");
	size_t bi_at = 0;
	a->bd_anon = last_known(m_anon, n, &bi_at);
	if (a->bd_anon >= 0) {
		a->bd_t_ns = t[bi_at];
		const int64_t *c;
		a->bd_stacks = (c = column(rec, "map_stacks")) ? c[bi_at] : HR_UNKNOWN;
		a->bd_code = (c = column(rec, "map_code")) ? c[bi_at] : HR_UNKNOWN;
		a->bd_files = (c = column(rec, "map_files")) ? c[bi_at] : HR_UNKNOWN;
		const int64_t *shm = column(rec, "map_shmem"), *oth = column(rec, "map_other");
		if (shm || oth)
			a->bd_other = (shm && shm[bi_at] > 0 ? shm[bi_at] : 0) + (oth && oth[bi_at] > 0 ? oth[bi_at] : 0);
		if (heap_live) {
			/* the live heap nearest before the smaps read */
			for (size_t i = bi_at + 1; i-- > 0;)
				if (heap_live[i] >= 0) {
					a->bd_heap = heap_live[i] < a->bd_anon ? heap_live[i] : a->bd_anon;
					a->bd_allocator = a->bd_anon - a->bd_heap;
					break;
				}
		}
	}

	/* heap flat while RSS grows or stays far above it: the allocator keeps what was freed */
	if (a->heap_available && a->heap_finding != HEAP_LIVE_GROWING) {
		int64_t held = last_known(column(rec, "heap_held"), n, NULL);
		int64_t retained = held >= 0 ? held : a->bd_allocator >= 0 ? a->bd_allocator : a->heap_gap_bytes;
		if (a->verdict == VERDICT_GROWING ||
		    (retained >= 32 * UTIL_MiB && retained >= a->heap_live_final))
			a->heap_finding = HEAP_RETENTION;
	}

	/* dashboards and recommenders: the basis read every 15/30/60 s, 75 s, 60 s */
	for (int s = 0; s < ANALYZE_NSCRAPES; s++) {
		struct stats_blind b;
		/* shorter than one scrape, some alignments see nothing at all: no answer */
		if (t[alive - 1] - t[0] >= scrape_intervals_ns[s] &&
		    stats_blind_spot(t, bi, alive, scrape_intervals_ns[s], &b) == 0) {
			a->blind[s].best_bytes = b.best;
			a->blind[s].worst_bytes = b.worst;
			a->blind[s].scrapes = b.scrapes;
		}
	}
	const int64_t *req = a->cgroup && cg_ws && last_known(cg_ws, n, NULL) >= 0 ? cg_ws : rss;
	struct stats_blind pb;
	if (stats_blind_spot(t, req, alive, 75000000000LL, &pb) == 0) {
		a->krr_max_bytes = pb.worst;
		a->krr_max_best_bytes = pb.best;
		a->krr_points = (size_t)((t[alive - 1] - t[0]) / 75000000000LL) + 1;
	}
	if (stats_blind_spot(t, req, alive, 60000000000LL, &pb) == 0) {
		a->vpa_peak_bytes = pb.worst;
		a->vpa_peak_best_bytes = pb.best;
	}
	r = 0;
	goto out_copy;
out:
	free(a);
	a = NULL;
out_copy:
	if (a) {
		*ret = *a;
		free(a);
	}
	free(scratch);
	free(ts);
	free(xs);
	free(bi);
	free(bp);
	free(rp);
	free(rss_none);
	return r;
}

int analyze_file(const char *path, struct recording **ret_rec, struct analysis **ret_a)
{
	*ret_rec = NULL;
	*ret_a = NULL;
	struct recording *rec;
	int r = record_open(path, analyze_columns, &rec);
	if (r < 0)
		return r;
	struct analysis *a = malloc(sizeof(*a));
	if (!a) {
		recording_free(rec);
		return -ENOMEM;
	}
	r = analyze_recording(rec, NULL, a);
	*ret_rec = rec;
	*ret_a = a;
	return r;
}

void analyze_file_free(struct recording *rec, struct analysis *a)
{
	free(a);
	recording_free(rec);
}
