/* stage_peaks: RSS interval peaks, the basis (what the limit is enforced against), cgroup figures,
 * the true peak and the final level of the basis. */
#include <string.h>

#include "analyze_stages.h"

#define FINAL_WINDOW_NS 1000000000LL
#define FINAL_WINDOW_SAMPLES 10
#include "thresholds.h"
#include "sat.h"
#include "util.h"

/* The level at the end: the median of the last second or the last 10 samples, whichever holds
 * more, while the process lived — so a sample that caught a spike, or the start of the teardown,
 * is not "the final figure" (samples can be far apart when the machine is busy). */
static int64_t level_at_end(const struct series *s, const int64_t *x)
{
	size_t last;
	if (last_known(x, s->alive, &last) < 0)
		return HR_UNKNOWN;
	size_t from = index_at(s->t, s->alive, s->t[last] - FINAL_WINDOW_NS);
	if (last + 1 - from < FINAL_WINDOW_SAMPLES)
		from = last + 1 >= FINAL_WINDOW_SAMPLES ? last + 1 - FINAL_WINDOW_SAMPLES : 0;
	return quantile_known(x, from, last + 1, 0.5, s->scratch);
}

static void rss_peaks(struct series *s, struct analysis *a)
{
	const struct recording *rec = s->rec;
	const int64_t *rss_pk = recording_column(rec, "rss_peak");
	/* VmHWM reset every interval is exact; a since-start VmHWM only tells the overall peak, so
	 * phases then rely on the instantaneous values */
	for (size_t i = 0; i < s->n; i++) {
		int64_t v = s->rss[i];
		if (rss_pk && rec->run.rss_peaks_exact && rss_pk[i] > v)
			v = rss_pk[i];
		s->rp[i] = v;
	}
	a->rss_peak = max_known(s->rp, 0, s->n, &a->rss_peak_t_ns, s->t);
	if (rss_pk && !rec->run.rss_peaks_exact) {
		int64_t since_start = max_known(rss_pk, 0, s->n, NULL, s->t);
		if (since_start > a->rss_peak)
			a->rss_peak = since_start;
	}
	a->rss_final = level_at_end(s, s->rss);
	a->rss_stayed_high = a->rss_peak > 0 && a->rss_final >= 0 && (__int128)a->rss_final * 10 >= (__int128)a->rss_peak * 9;
}

/* OOM kills and limit hits: the counters, or the events when a kill landed after the last sample
 * (the runner's final read pushes one event per increase, value = the increase). */
static void cgroup_counters(const struct recording *rec, size_t n, struct analysis *a)
{
	a->cg_oom_kills = last_known(recording_column(rec, "cg_oom_kills"), n, NULL);
	a->cg_limit_hits = last_known(recording_column(rec, "cg_limit_hits"), n, NULL);
	int64_t ev_kills = 0, ev_hits = 0;
	for (size_t i = 0; i < rec->nevents; i++) {
		if (rec->events[i].value <= 0)
			continue;
		if (strcmp(rec->events[i].kind, "oom_kill") == 0)
			ev_kills = sat_add(ev_kills, rec->events[i].value);
		else if (strcmp(rec->events[i].kind, "limit_hit") == 0)
			ev_hits = sat_add(ev_hits, rec->events[i].value);
	}
	if (ev_kills > a->cg_oom_kills)
		a->cg_oom_kills = ev_kills;
	if (ev_hits > a->cg_limit_hits)
		a->cg_limit_hits = ev_hits;
}

/* the cgroup's charge when there is one, the working set when page cache inflates it */
static void choose_basis(struct series *s, struct analysis *a)
{
	const struct recording *rec = s->rec;
	const int64_t *usage = recording_column(rec, "cg_usage"), *pk = recording_column(rec, "cg_usage_peak");
	const int64_t *ws = recording_column(rec, "cg_working_set"), *inact = recording_column(rec, "cg_inactive_file");
	a->cgroup = usage && last_known(usage, s->n, NULL) >= 0;
	a->basis = BASIS_RSS;
	if (a->cgroup) {
		a->cg_usage_peak = max_known(usage, 0, s->n, NULL, s->t);
		int64_t pk_t = HR_UNKNOWN;
		int64_t cgp = max_known(pk, 0, s->n, &pk_t, s->t);
		if (cgp > a->cg_usage_peak)
			a->cg_usage_peak = cgp;
		a->cg_ws_peak = max_known(ws, 0, s->n, NULL, s->t);
		/* page cache at the moment usage peaked */
		size_t at = index_at(s->t, s->n, pk_t >= 0 ? pk_t : 0);
		if (inact && at < s->n)
			a->page_cache_bytes = inact[at];
		if (ws && last_known(ws, s->n, NULL) >= 0 && a->page_cache_bytes >= TH_CACHE_MIN_BYTES &&
		    (double)a->page_cache_bytes >= TH_CACHE_FRAC * (double)a->cg_usage_peak)
			a->basis = BASIS_WORKING_SET;
		else
			a->basis = BASIS_CG_USAGE;
		cgroup_counters(rec, s->n, a);
	}
	for (size_t i = 0; i < s->n; i++) {
		switch (a->basis) {
		case BASIS_RSS:
			s->bi[i] = s->rss[i];
			s->bp[i] = s->rp[i];
			break;
		case BASIS_CG_USAGE:
			s->bi[i] = usage[i];
			s->bp[i] = pk && rec->run.cg_peaks_exact && pk[i] > usage[i] ? pk[i] : usage[i];
			break;
		case BASIS_WORKING_SET:
			s->bi[i] = ws[i];
			/* the interval's usage peak less the page cache then: the working set's peak */
			s->bp[i] = ws[i];
			if (pk && rec->run.cg_peaks_exact && inact && pk[i] >= 0 && inact[i] >= 0 && pk[i] - inact[i] > s->bp[i])
				s->bp[i] = pk[i] - inact[i];
			break;
		}
	}
}

void stage_peaks(struct series *s, struct analysis *a)
{
	rss_peaks(s, a);
	choose_basis(s, a);
	a->peak = max_known(s->bp, 0, s->n, &a->peak_t_ns, s->t);
	if (a->basis == BASIS_CG_USAGE && a->cg_usage_peak > a->peak)
		a->peak = a->cg_usage_peak;
	if (a->basis == BASIS_RSS && a->rss_peak > a->peak)
		a->peak = a->rss_peak;
	a->final = level_at_end(s, s->bi);
}
