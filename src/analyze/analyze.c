/* analyze: the pipeline (stages in analyze_stages.h), the helpers the stages share, and the
 * public entry points. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "analyze_stages.h"
#include "sat.h"
#include "stats.h"
#include "thresholds.h"
#include "util.h"

const char *const analyze_columns[] = {
	"rss", "rss_peak", "rss_anon", "rss_file", "rss_shmem", "map_anon", "map_stacks", "map_code",
	"map_files", "map_shmem", "map_other", "cg_usage", "cg_usage_peak", "cg_working_set",
	"cg_inactive_file", "cg_file", "cg_oom_kills", "cg_limit_hits", "heap_live", "heap_held",
	"heap_allocs", "heap_live_peak", "heap_t_ns", "heap_goal", "heap_goal_base", "gc_cycles", "heap_released",
	"threads", "alloc_active", "alloc_resident", "alloc_retained", "alloc_metadata", NULL,
};

void analyze_options_init(struct analyze_options *opt)
{
	opt->band_frac = TH_BAND_FRAC;
	opt->band_min_bytes = TH_BAND_MIN_BYTES;
	opt->min_steady_ns = TH_MIN_STEADY_NS;
	opt->min_steady_samples = TH_MIN_STEADY_SAMPLES;
	opt->p_threshold = TH_P_SIGNIFICANT;
	opt->p_sites = TH_P_SITES;
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

/* ---- helpers shared by the stages ---- */

/* the first index with t >= at */
size_t index_at(const int64_t *t, size_t n, int64_t at)
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

int64_t max_known(const int64_t *x, size_t from, size_t to, int64_t *ret_t, const int64_t *t)
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

int64_t last_known(const int64_t *x, size_t n, size_t *ret_i)
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
int64_t quantile_known(const int64_t *x, size_t from, size_t to, double q, double *scratch)
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
size_t gather(const int64_t *t, const int64_t *x, size_t from, size_t to, double *ts, double *xs)
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

const struct record_event *find_event(const struct recording *rec, const char *kind)
{
	for (size_t i = 0; i < rec->nevents; i++)
		if (strcmp(rec->events[i].kind, kind) == 0)
			return &rec->events[i];
	return NULL;
}

/* ---- the run's facts: what the recording says before any judgement ---- */

static void init_unknown(struct analysis *a)
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
		&a->heap_held_final, &a->heap_final_t_ns, &a->heap_final_age_ns, &a->heap_stale_age_ns,
		&a->change_bytes, &a->heap_change_bytes, &a->heap_gap_bytes, &a->bd_t_ns, &a->bd_heap_age_ns, &a->krr_max_bytes,
		&a->vpa_peak_bytes, &a->krr_max_best_bytes, &a->vpa_peak_best_bytes, &a->load_requests,
		&a->load_errors, &a->gc_cycles, &a->gc_cycles_steady, &a->gc_live_final, &a->gc_live_peak,
		&a->gc_goal_final, &a->gc_goal_peak, &a->gc_released_final, &a->gc_overhead_bytes,
		&a->gc_limit_bytes, &a->gc_gomemlimit_bytes, &a->gc_gogc_max, &a->gc_goal_at_max,
		&a->gc_gogc_live, &a->gc_gogc_goal,
		&a->sites_interval, &a->sites_peak_t_ns, &a->sites_end_t_ns, &a->sites_peak_total,
		&a->sites_end_total,
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		*f[i] = HR_UNKNOWN;
	a->slope_bytes_per_s = a->mk_p = a->mk_z = a->mk_tau = NAN;
	a->peak_median_ratio = a->spike_time_fraction = a->load_correlation = NAN;
	a->heap_slope_bytes_per_s = a->heap_mk_p = a->bd_held_ratio = a->load_error_rate = NAN;
	a->shape_lo = a->shape_hi = a->shape_frac_mid = a->shape_rise_samples = a->shape_fall_samples = NAN;
	a->shape_floor_first = a->shape_floor_last = NAN;
	a->gc_cycles_per_s = a->gc_gogc = NAN;
	struct analyze_je *je[] = {&a->je_peak, &a->je_final};
	for (size_t i = 0; i < 2; i++)
		*je[i] = (struct analyze_je){HR_UNKNOWN, HR_UNKNOWN, HR_UNKNOWN, HR_UNKNOWN, HR_UNKNOWN, HR_UNKNOWN,
					     HR_UNKNOWN, HR_UNKNOWN, HR_UNKNOWN, NAN, false};
	a->je_threads_peak = HR_UNKNOWN;
	a->falls_after_load = -1;
	a->load_max_error_rate = TH_LOAD_ERROR_RATE;
	a->startup_source = PHASE_NONE;
	a->verdict = VERDICT_TOO_SHORT;
	breakdown_clear(&a->bd);
}

void stage_run_facts(const struct recording *rec, struct analysis *a)
{
	static const int64_t scrape_ns[ANALYZE_NSCRAPES] = {15000000000LL, 30000000000LL, 60000000000LL};
	init_unknown(a);
	for (int i = 0; i < ANALYZE_NSCRAPES; i++) {
		a->blind[i].scrape_ns = scrape_ns[i];
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
	const char *hm = rec->run.heap_mode;
	snprintf(a->heap_source, sizeof(a->heap_source), "%s",
		 strcmp(hm, "stats") == 0 || strcmp(hm, "count") == 0 ? "shim"
		 : strcmp(hm, "metrics") == 0 || strcmp(hm, "gctrace") == 0 ? hm : "");
	/* "available: glibc, stats mode" names the allocator underneath */
	const char *st = rec->run.heap_status;
	snprintf(a->heap_status, sizeof(a->heap_status), "%s", st[0] ? st : "unknown");
	if (strncmp(st, "available", 9) == 0) {
		const char *p = st + 9;
		p += strspn(p, ": ");
		/* "available: jemalloc (metrics URL)": the name ends at the comma or the parenthesis */
		size_t n = strcspn(p, ",(");
		while (n > 0 && p[n - 1] == ' ')
			n--;
		snprintf(a->allocator, sizeof(a->allocator), "%.*s", (int)n, p);
		/* "available: go runtime (GODEBUG=gctrace=1)", "(metrics URL)": the Go runtime's heap */
		if (strncmp(p, "go runtime", 10) == 0)
			snprintf(a->allocator, sizeof(a->allocator), "go");
	}
	for (size_t i = 0; i < rec->nevents; i++)
		if (strcmp(rec->events[i].kind, "not_ready") == 0 ||
		    (strcmp(rec->events[i].kind, "note") == 0 &&
		     strstr(rec->events[i].detail, "did not accept connections in time")))
			a->never_ready = !find_event(rec, "ready");
}

/* ---- the series the stages work on ---- */

static const int64_t *col(const struct recording *rec, const char *name)
{
	return recording_column(rec, name);
}

/* Where the living process ends: at headroom's own stop request (SIGTERM at the end of
 * --duration or of the load: what follows is the program handling it), else one sampling interval
 * before the exit (that last read may see the process unmapping its memory). Peaks still count
 * every sample; levels (final, steady, trend) stop here. */
static size_t alive_end(const struct recording *rec, const int64_t *t, size_t n, int64_t interval_ns)
{
	int64_t end = INT64_MAX;
	for (size_t i = 0; i < rec->nevents; i++) {
		const struct record_event *e = &rec->events[i];
		if (strcmp(e->kind, "signal") == 0 && strncmp(e->detail, "headroom sent", 13) == 0 && e->t_ns < end)
			end = e->t_ns;
	}
	const struct record_event *exited = find_event(rec, "exit");
	if (exited && end == INT64_MAX)
		end = sat_sub(exited->t_ns, interval_ns > 0 ? interval_ns : 0);
	if (end == INT64_MAX)
		return n;
	size_t alive = index_at(t, n, end);
	/* a run of one or two samples keeps them: nothing else describes it */
	return alive >= 2 || alive >= n ? alive : (n < 2 ? n : 2);
}

int series_init(struct series *s, const struct recording *rec)
{
	memset(s, 0, sizeof(*s));
	s->rec = rec;
	s->n = rec->nsamples;
	s->t = rec->t_ns;
	size_t n = s->n ? s->n : 1;
	s->scratch = malloc(n * sizeof(double));
	s->ts = malloc(n * sizeof(double));
	s->xs = malloc(n * sizeof(double));
	s->rp = malloc(n * sizeof(int64_t));
	s->bi = malloc(n * sizeof(int64_t));
	s->bp = malloc(n * sizeof(int64_t));
	if (!s->scratch || !s->ts || !s->xs || !s->rp || !s->bi || !s->bp)
		return -ENOMEM;
	s->rss = col(rec, "rss");
	if (!s->rss) {
		s->rss_none = malloc(n * sizeof(int64_t));
		if (!s->rss_none)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++)
			s->rss_none[i] = HR_UNKNOWN;
		s->rss = s->rss_none;
	}
	s->alive = s->n;
	return 0;
}

void series_release(struct series *s)
{
	free(s->scratch);
	free(s->ts);
	free(s->xs);
	free(s->rp);
	free(s->bi);
	free(s->bp);
	free(s->rss_none);
	memset(s, 0, sizeof(*s));
}

static int64_t median_spacing(struct series *s, const struct recording *rec)
{
	if (s->n >= 2) {
		size_t k = 0;
		size_t step = s->n > 4096 ? s->n / 4096 : 1;
		for (size_t i = 0; i + 1 < s->n; i += step)
			s->scratch[k++] = (double)(s->t[i + 1] - s->t[i]);
		return (int64_t)stats_quantile_inplace(s->scratch, k, 0.5);
	}
	return rec->run.interval_ns > 0 ? rec->run.interval_ns : HR_UNKNOWN;
}

/* ---- the pipeline ---- */

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
	stage_run_facts(rec, a);
	struct series s;
	int r = series_init(&s, rec);
	if (r < 0)
		goto out;
	const int64_t *cg_usage = col(rec, "cg_usage");
	/* a cgroup attach may have usage without any process RSS: either one is something to judge */
	if (s.n == 0 || !s.t || (last_known(s.rss, s.n, NULL) < 0 && last_known(cg_usage, s.n, NULL) < 0)) {
		if (s.n > 0 && s.t)
			a->duration_ns = a->duration_ns > 0 ? a->duration_ns : s.t[s.n - 1] - s.t[0];
		r = -ENODATA;
		snprintf(a->no_sizing_reason, sizeof(a->no_sizing_reason), "no memory samples were recorded");
		goto out_copy;
	}
	if (a->duration_ns <= 0 || a->duration_ns < s.t[s.n - 1])
		a->duration_ns = s.t[s.n - 1];
	a->interval_ns = median_spacing(&s, rec);
	s.alive = alive_end(rec, s.t, s.n, a->interval_ns);
	a->teardown_samples = (int64_t)(s.n - s.alive);

	stage_peaks(&s, a);
	stage_phases(&s, opt, a);
	stage_trend(&s, opt, a);
	stage_load(&s, a);
	stage_heap(&s, opt, a);
	stage_breakdown(&s, a);
	stage_sites(&s, opt, a);
	stage_blind(&s, a);
	stage_findings(opt, a);
	stage_sizing(a);
	stage_gc(&s, a);
	stage_allocator(&s, a);
	r = 0;
out_copy:
	*ret = *a;
out:
	series_release(&s);
	free(a);
	return r;
}

int analyze_file(const char *path, struct recording **ret_rec, struct analysis **ret_a)
{
	return analyze_file_with(path, NULL, ret_rec, ret_a);
}

/* analyze_columns plus the caller's, each once */
static void columns_union(const char *const *extra, const char **cols, size_t max)
{
	size_t n = 0;
	const char *const *lists[2] = {analyze_columns, extra};
	for (int l = 0; l < 2; l++)
		for (const char *const *c = lists[l]; c && *c && n + 1 < max; c++) {
			bool dup = false;
			for (size_t k = 0; k < n && !dup; k++)
				dup = strcmp(cols[k], *c) == 0;
			if (!dup)
				cols[n++] = *c;
		}
	cols[n] = NULL;
}

int analyze_file_with(const char *path, const char *const *extra, struct recording **ret_rec, struct analysis **ret_a)
{
	*ret_rec = NULL;
	*ret_a = NULL;
	struct recording *rec;
	const char *cols[64];
	columns_union(extra, cols, sizeof(cols) / sizeof(cols[0]));
	int r = record_open(path, cols, &rec);
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
