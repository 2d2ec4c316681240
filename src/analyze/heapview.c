/* stage_heap: the live heap as the shim (or a runtime) reported it — peak, the last figure that was
 * fresh while the process lived, its instant and age, its trend over the steady phase.
 * stage_breakdown: RSS split into parts at one instant (breakdown.h), the same for every view.
 *
 * Freshness: a heap figure carries the instant the target produced it (column heap_t_ns). A
 * figure older than TH_HEAP_FRESH_INTERVALS sampling intervals (and TH_HEAP_FRESH_MIN_NS) when it
 * was read describes an earlier moment: it is never used as the level of the instant it was read
 * at, only with its own instant and age. Recordings without heap_t_ns (older versions) cannot tell
 * and take every figure as of its sample. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analyze_stages.h"
#include "sat.h"
#include "stats.h"
#include "thresholds.h"

/* A smaps read older than this before the end of the living process is not "the end": the
 * sampler reads smaps every 500 ms (sampler.c), so one period and a margin. */
#define SMAPS_STALE_NS 600000000LL

int64_t heap_fresh_limit_ns(const struct analysis *a)
{
	int64_t lim = a->interval_ns > 0 ? TH_HEAP_FRESH_INTERVALS * a->interval_ns : 0;
	return lim > TH_HEAP_FRESH_MIN_NS ? lim : TH_HEAP_FRESH_MIN_NS;
}

/* When the heap figure of sample i was produced: its own instant, else the sample's. */
static int64_t heap_instant(const struct series *s, const int64_t *heap_t, size_t i)
{
	return heap_t && heap_t[i] >= 0 ? heap_t[i] : s->t[i];
}

static bool heap_fresh(const struct series *s, const int64_t *live, const int64_t *heap_t, size_t i, int64_t lim)
{
	return live[i] >= 0 && s->t[i] - heap_instant(s, heap_t, i) <= lim;
}

void stage_heap(struct series *s, const struct analyze_options *o, struct analysis *a)
{
	const struct recording *rec = s->rec;
	const int64_t *live = recording_column(rec, "heap_live"), *held = recording_column(rec, "heap_held");
	const int64_t *heap_t = recording_column(rec, "heap_t_ns");
	/* the run's own verdict on the shim wins: figures a process published before it exec'd a
	 * program the shim cannot see (a bundled allocator, ASan) are not that program's heap */
	const char *mode = rec->run.heap_mode, *st = rec->run.heap_status;
	bool shim_run = strcmp(mode, "stats") == 0 || strcmp(mode, "count") == 0 || strcmp(mode, "sites") == 0;
	if (!live || (shim_run && st[0] && strncmp(st, "available", 9) != 0))
		goto status;
	int64_t lim = heap_fresh_limit_ns(a);
	/* the last figure read while the process lived, and the last fresh one */
	size_t last_i = 0, fresh_i = 0;
	bool any = false, fresh = false;
	for (size_t i = s->alive; i-- > 0;)
		if (live[i] >= 0) {
			if (!any) {
				any = true;
				last_i = i;
			}
			if (heap_fresh(s, live, heap_t, i, lim)) {
				fresh = true;
				fresh_i = i;
				break;
			}
		}
	if (!any)
		goto status;
	if (!heap_fresh(s, live, heap_t, last_i, lim)) {
		a->heap_stale = true;
		a->heap_stale_age_ns = s->t[last_i] - heap_instant(s, heap_t, last_i);
	}
	a->heap_available = fresh;
	if (fresh) {
		a->heap_live_final = live[fresh_i];
		a->heap_held_final = held ? held[fresh_i] : HR_UNKNOWN;
		a->heap_final_t_ns = heap_instant(s, heap_t, fresh_i);
		a->heap_final_age_ns = s->t[fresh_i] - a->heap_final_t_ns;
		int64_t rss_then = s->rss[fresh_i] >= 0 ? s->rss[fresh_i] : a->rss_final;
		if (rss_then >= 0)
			a->heap_gap_bytes = rss_then - a->heap_live_final;
	}
	a->heap_live_peak = max_known(live, 0, s->n, NULL, s->t);
	int64_t hp = max_known(recording_column(rec, "heap_live_peak"), 0, s->n, NULL, s->t);
	if (hp > a->heap_live_peak)
		a->heap_live_peak = hp;
	a->heap_allocations = last_known(recording_column(rec, "heap_allocs"), s->n, NULL);

	/* the trend over the steady phase, on fresh figures at their own instants */
	size_t hk = 0;
	for (size_t i = s->s0; i < s->s1; i++)
		if (heap_fresh(s, live, heap_t, i, lim)) {
			s->ts[hk] = (double)heap_instant(s, heap_t, i) / 1e9;
			s->xs[hk] = (double)live[i];
			hk++;
		}
	if (hk >= 3)
		stats_theil_sen(s->ts, s->xs, hk, &a->heap_slope_bytes_per_s, NULL);
	struct stats_mk mk;
	if (hk >= 4 && stats_mann_kendall(s->ts, s->xs, hk, &mk) == 0)
		a->heap_mk_p = mk.p;
	if (!isnan(a->heap_slope_bytes_per_s))
		a->heap_change_bytes = sat_from_double(a->heap_slope_bytes_per_s * (double)a->steady_ns / 1e9);
	if (fresh) {
		double rise = a->heap_slope_bytes_per_s * (double)a->steady_ns / 1e9;
		bool grows = !isnan(a->heap_mk_p) && a->heap_mk_p < o->p_threshold &&
			     rise >= fmax((double)o->band_min_bytes, o->band_frac * (double)a->heap_live_final);
		a->heap_finding = grows ? HEAP_LIVE_GROWING : HEAP_OK;
	}
	/* restore what stage_trend gathered: later stages read the basis points from ts/xs */
	s->k = gather(s->t, s->bi, s->s0, s->s1, s->ts, s->xs);
status:
	if (!a->heap_available) {
		if (a->heap_stale)
			snprintf(a->heap_status, sizeof(a->heap_status),
				 "the heap figures stopped being fresh (the process did not answer: stopped, or blocked)");
		else if (strncmp(a->heap_status, "available", 9) == 0)
			snprintf(a->heap_status, sizeof(a->heap_status), "no heap figures were recorded");
		else if (strcmp(a->heap_status, "off") == 0 && strcmp(s->rec->run.mode, "attach") == 0)
			snprintf(a->heap_status, sizeof(a->heap_status),
				 "not measured: attach cannot load the heap shim into a running process (`headroom run` "
				 "starts it with the shim; --metrics URL reads a runtime's own figures)");
		else if (strcmp(a->heap_status, "off") == 0)
			snprintf(a->heap_status, sizeof(a->heap_status), "off (--heap off)");
		else if (strcmp(a->heap_status, "pending") == 0)   /* the recorder's word for "not yet" */
			snprintf(a->heap_status, sizeof(a->heap_status),
				 "no heap figures: the run ended before the heap shim first answered");
	}
	/* the status's words for the views, split once here: why not, or whose figures */
	const char *st_now = a->heap_status;
	if (!a->heap_available) {
		if (strncmp(st_now, "unavailable: ", 13) == 0)
			st_now += 13;
		snprintf(a->heap_why, sizeof(a->heap_why), "%s", st_now);
	} else if (strncmp(st_now, "available: ", 11) == 0) {
		snprintf(a->heap_origin, sizeof(a->heap_origin), "%s", st_now + 11);
	}
}

/* the instant: the last smaps read while the process lived; without any, the status split */
static bool breakdown_sample(struct series *s, struct sample *out, size_t *ret_i)
{
	const struct recording *rec = s->rec;
	static const char *const smaps_cols[] = {"map_anon", "map_stacks", "map_code", "map_files", "map_shmem", "map_other"};
	static const char *const status_cols[] = {"rss_anon", "rss_file", "rss_shmem"};
	const int64_t *anon = recording_column(rec, "map_anon");
	size_t i = 0, last = 0;
	sample_clear(out);
	/* smaps is read every 500 ms: a read much older than the last sample of the living process
	 * describes another moment (a one-second program's only read may be its start); then the
	 * status split of the last sample says more */
	bool has_last = last_known(s->rss, s->alive, &last) >= 0;
	bool smaps = last_known(anon, s->alive, &i) >= 0 &&
		     (!has_last || s->t[last] - s->t[i] <= SMAPS_STALE_NS ||
		      last_known(recording_column(rec, "rss_anon"), s->alive, NULL) < 0);
	if (smaps) {
		int64_t *f[] = {&out->map_anon, &out->map_stacks, &out->map_code, &out->map_files, &out->map_shmem, &out->map_other};
		for (size_t c = 0; c < 6; c++) {
			const int64_t *col = recording_column(rec, smaps_cols[c]);
			*f[c] = col ? col[i] : HR_UNKNOWN;
		}
	} else if (last_known(recording_column(rec, "rss_anon"), s->alive, &i) >= 0) {
		/* the status split of the last sample that has one */
		int64_t *f[] = {&out->rss_anon, &out->rss_file, &out->rss_shmem};
		for (size_t c = 0; c < 3; c++) {
			const int64_t *col = recording_column(rec, status_cols[c]);
			*f[c] = col ? col[i] : HR_UNKNOWN;
		}
	} else {
		return false;
	}
	out->rss = s->rss[i];
	*ret_i = i;
	return true;
}

void stage_breakdown(struct series *s, struct analysis *a)
{
	struct sample smp;
	size_t i;
	if (!breakdown_sample(s, &smp, &i))
		return;
	/* the heap figures of that instant: the newest fresh one read at or before it */
	const int64_t *live = recording_column(s->rec, "heap_live"), *held = recording_column(s->rec, "heap_held");
	const int64_t *heap_t = recording_column(s->rec, "heap_t_ns");
	int64_t lim = heap_fresh_limit_ns(a);
	/* a polled page's latest answer is up to a poll and its deadline old at any sample: it is
	 * still the figure of that instant (a run that ends just before the next poll had no
	 * live heap in its breakdown) */
	if (strcmp(a->heap_source, "metrics") == 0 && lim < TH_HEAP_FRESH_POLLED_NS)
		lim = TH_HEAP_FRESH_POLLED_NS;
	for (size_t j = i + 1; live && j-- > 0;) {
		if (live[j] < 0)
			continue;
		int64_t age = s->t[i] - heap_instant(s, heap_t, j);
		if (age > lim)
			break;
		smp.heap_live = live[j];
		smp.heap_held = held ? held[j] : HR_UNKNOWN;
		a->bd_heap_age_ns = age;
		break;
	}
	a->bd_coarse = smp.map_anon == HR_UNKNOWN;
	if ((a->bd_coarse ? breakdown_from_status(&smp, &a->bd) : breakdown_from_sample(&smp, &a->bd)) < 0)
		return;
	a->have_breakdown = true;
	a->bd_t_ns = s->t[i];
	a->bd_allocator_estimated = a->bd.allocator_estimated;
	if (a->bd.allocator >= 0 && a->bd.rss > 0)
		a->bd_held_ratio = (double)a->bd.allocator / (double)a->bd.rss;
}
