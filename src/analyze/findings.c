/* stage_findings: every rule that holds becomes a finding (a set, most important first), each with
 * its ratio and bytes; the trend verdict is the most telling of the shape findings. The rules'
 * wording and the remedies live here too, so every view says them the same way.
 * stage_sizing: the recommendation for this run alone, or why there is none. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze_stages.h"
#include "sat.h"
#include "size.h"
#include "thresholds.h"
#include "util.h"

static const char *const names[FINDING_NKINDS] = {
	[FINDING_OOM_KILLED] = "oom-killed",
	[FINDING_LOAD_FAILED] = "load-failed",
	[FINDING_NOT_READY] = "never-ready",
	[FINDING_GROWING] = "growing",
	[FINDING_HEAP_GROWING] = "heap-growing",
	[FINDING_TRACKS_LOAD] = "tracks-load",
	[FINDING_SAWTOOTH] = "sawtooth",
	[FINDING_SPIKY] = "spiky",
	[FINDING_STARTUP_PEAK] = "startup-peak",
	[FINDING_RETENTION] = "allocator-retention",
	[FINDING_NOT_RELEASED] = "not-released",
	[FINDING_DASHBOARD_BLIND] = "dashboard-blind",
	[FINDING_HEAP_STALE] = "heap-stale",
	[FINDING_TOO_SHORT] = "too-short",
};

const char *finding_name(enum finding_kind k)
{
	return (unsigned)k < FINDING_NKINDS ? names[k] : "unknown";
}

const char *finding_rule(enum finding_kind k, char *buf, size_t len)
{
	char m1[32], m2[32];
	const double p = TH_P_SIGNIFICANT, band = TH_BAND_FRAC * 100;
	util_size_format(TH_BAND_MIN_BYTES, m1, sizeof(m1));
	switch (k) {
	case FINDING_OOM_KILLED:
		snprintf(buf, len, "the kernel killed the command at its memory limit (bytes: the peak seen, a lower bound)");
		break;
	case FINDING_LOAD_FAILED:
		snprintf(buf, len, "more than %g %% of the load's requests failed (ratio: the error rate)", TH_LOAD_ERROR_RATE * 100);
		break;
	case FINDING_NOT_READY:
		snprintf(buf, len, "the service never accepted connections on the --ready address");
		break;
	case FINDING_GROWING:
		snprintf(buf, len, "Mann–Kendall p < %g and a rise over the steady phase of at least %g %% of the median "
			 "or %s (ratio: p, bytes: the rise)", p, band, m1);
		break;
	case FINDING_HEAP_GROWING:
		snprintf(buf, len, "live heap: Mann–Kendall p < %g and a rise of at least %g %% or %s (ratio: p, bytes: the rise)",
			 p, band, m1);
		break;
	case FINDING_TRACKS_LOAD:
		snprintf(buf, len, "correlation with the load's concurrency r >= %g and a swing of at least %g %% of the "
			 "median (ratio: r, bytes: the swing)", TH_LOAD_R, TH_LOAD_SWING_FRAC * 100);
		break;
	case FINDING_SAWTOOTH:
		snprintf(buf, len, "at least %d teeth, %g-%g %% of the time above the midline, each rise at least %d samples "
			 "and %gx as long as its fall (ratio: rise/fall, bytes: the tooth threshold)", TH_SAW_MIN_TEETH,
			 TH_SAW_MID_LO * 100, TH_SAW_MID_HI * 100, TH_SAW_MIN_RISE_SAMPLES, TH_SAW_RISE_OVER_FALL);
		break;
	case FINDING_SPIKY:
		util_size_format(TH_SPIKE_MIN_BYTES, m2, sizeof(m2));
		snprintf(buf, len, "the exact peak at least %gx the steady median and %s above it, less than %g %% of the "
			 "time above half-way (ratio: peak/median, bytes: the peak)", TH_SPIKE_RATIO, m2, TH_SPIKE_MAX_TIME * 100);
		break;
	case FINDING_STARTUP_PEAK:
		snprintf(buf, len, "the true peak came during startup, at least %.0f %% above the traffic peak "
			 "(ratio: startup/traffic, bytes: the startup peak)", (TH_STARTUP_OVER_TRAFFIC_PCT - 100.0));
		break;
	case FINDING_RETENTION:
		util_size_format(TH_HELD_MIN_BYTES, m2, sizeof(m2));
		snprintf(buf, len, "allocator-held at least %g %% of RSS and at least %s (ratio: held/RSS, bytes: held)",
			 TH_HELD_RATIO * 100, m2);
		break;
	case FINDING_NOT_RELEASED:
		snprintf(buf, len, "after the load, memory stays above half of what the load added (bytes: the level after)");
		break;
	case FINDING_DASHBOARD_BLIND:
		snprintf(buf, len, "a 15 s dashboard shows at best %g %% of the true peak (ratio: its best view / the "
			 "peak, bytes: the part unseen)", 100.0 - TH_BLIND_MISS_PCT);
		break;
	case FINDING_HEAP_STALE:
		snprintf(buf, len, "the newest heap figure at the end was older than %d sampling intervals (ratio: its "
			 "age in seconds)", TH_HEAP_FRESH_INTERVALS);
		break;
	case FINDING_TOO_SHORT:
		snprintf(buf, len, "less than %llds or %d samples of steady state after startup",
			 (long long)(TH_MIN_STEADY_NS / 1000000000LL), TH_MIN_STEADY_SAMPLES);
		break;
	default:
		snprintf(buf, len, "unknown");
	}
	return buf;
}

const char *finding_remedy(enum finding_kind k, const char *allocator)
{
	const char *alloc = allocator ? allocator : "";
	switch (k) {
	case FINDING_RETENTION:
		if (strcmp(alloc, "jemalloc") == 0)
			return "let jemalloc return memory sooner: MALLOC_CONF=background_thread:true,dirty_decay_ms:1000 "
			       "(Rust's tikv-jemallocator: _RJEM_MALLOC_CONF); fewer arenas for many threads: narenas:4";
		if (strcmp(alloc, "go") == 0)
			return "the Go runtime holds garbage until its next cycle and freed spans until the scavenger returns "
			       "them: a lower GOGC collects sooner, GOMEMLIMIT caps what it keeps (the GC advice gives both "
			       "for this run)";
		if (strcmp(alloc, "mimalloc") == 0)
			return "let mimalloc purge sooner: MIMALLOC_PURGE_DELAY=0 (2.1+) or MIMALLOC_RESET_DELAY=0 (2.0); "
			       "MIMALLOC_ARENA_EAGER_COMMIT=0";
		return "for glibc, fewer arenas (MALLOC_ARENA_MAX=2) and malloc_trim(0) after bursts (or "
		       "GLIBC_TUNABLES=glibc.malloc.trim_threshold=1048576); or run over jemalloc with "
		       "background_thread:true; or fewer, reused buffers";
	case FINDING_HEAP_GROWING:
		return "find what holds the data (a heap profiler such as heaptrack; bounds on caches and queues); "
		       "allocator settings will not help";
	case FINDING_GROWING:
		return "find what grows (does the live heap grow too?) before trusting any limit";
	case FINDING_OOM_KILLED:
		return "raise the limit and replay the load (headroom size --verify) to find what it needs";
	case FINDING_LOAD_FAILED:
		return "fix the load's target (--path, the port, the service's readiness) and run it again";
	case FINDING_NOT_READY:
		return "check --ready (the address the service listens on) and --ready-timeout";
	case FINDING_TRACKS_LOAD:
		return "size it for the highest load you expect, not the one tested";
	case FINDING_SAWTOOTH:
		return "size on the top of the teeth; for a collector, its target (GOGC, GOMEMLIMIT) sets their height";
	case FINDING_SPIKY:
		return "the limit must cover the spikes: no dashboard shows them";
	case FINDING_STARTUP_PEAK:
		return "the limit must cover startup; several pods starting at once (a rollout) need it each";
	case FINDING_NOT_RELEASED:
		return "normal for most allocators: size for the peak, and beware of memory-based autoscaling";
	case FINDING_DASHBOARD_BLIND:
		return "size on headroom's exact peak, not on what the dashboard shows";
	case FINDING_HEAP_STALE:
		return "the process did not answer the heap shim (stopped or blocked): heap figures are as of their instant";
	case FINDING_TOO_SHORT:
		return "record longer to judge a trend";
	case FINDING_NKINDS:
		break;
	}
	return "";
}

const struct finding *analysis_finding(const struct analysis *a, enum finding_kind k)
{
	for (int i = 0; i < a->nfindings; i++)
		if (a->findings[i].kind == k)
			return &a->findings[i];
	return NULL;
}

static void add(struct analysis *a, enum finding_kind k, double ratio, int64_t bytes, int64_t at_ns)
{
	if (a->nfindings >= ANALYZE_MAX_FINDINGS)
		return;
	a->findings[a->nfindings++] = (struct finding){k, ratio, bytes, at_ns};
}

static bool too_short(const struct analyze_options *o, struct analysis *a)
{
	if (a->steady_samples >= o->min_steady_samples && a->steady_ns >= o->min_steady_ns)
		return false;
	int64_t by_time = o->min_steady_ns - a->steady_ns;
	size_t have = a->steady_samples < o->min_steady_samples ? a->steady_samples : o->min_steady_samples;
	int64_t by_count = (int64_t)(o->min_steady_samples - have) * (a->interval_ns > 0 ? a->interval_ns : 0);
	a->need_more_ns = by_time > by_count ? by_time : by_count;
	if (a->need_more_ns < 0)
		a->need_more_ns = 0;
	return true;
}

/* The shapes of the steady phase. Teeth and peaks that follow the load's stages are the load's, and
 * the tops of a sawtooth's teeth are not spikes. Returns the verdict. */
static enum analyze_verdict shapes(const struct analyze_options *o, struct analysis *a, double lo, double hi,
				   double frac_mid, double rise, double fall)
{
	double med = a->steady_p50 >= 0 ? (double)a->steady_p50 : 0;
	double swing = hi - lo;
	bool tracks = !isnan(a->load_correlation) && a->load_correlation >= TH_LOAD_R &&
		      swing >= fmax(2 * (double)o->band_min_bytes, TH_LOAD_SWING_FRAC * med);
	bool saw = !tracks && a->drops >= TH_SAW_MIN_TEETH && frac_mid >= TH_SAW_MID_LO && frac_mid <= TH_SAW_MID_HI &&
		   rise >= TH_SAW_MIN_RISE_SAMPLES && rise >= TH_SAW_RISE_OVER_FALL * fall;
	bool growing = a->trend_significant && a->slope_bytes_per_s > 0;
	/* a sawtooth grows only if its troughs rise by as much as the trend test calls material */
	if (saw && growing && !(a->shape_floor_last - a->shape_floor_first >= fmax((double)o->band_min_bytes, o->band_frac * med)))
		growing = false;
	/* the peak of a load stage that memory follows is the load's, not a spike */
	bool spiky = !saw && !tracks && !isnan(a->peak_median_ratio) && a->peak_median_ratio >= TH_SPIKE_RATIO &&
		     (double)a->traffic_peak - med >= (double)TH_SPIKE_MIN_BYTES && a->spike_time_fraction < TH_SPIKE_MAX_TIME;
	double rise_bytes = a->slope_bytes_per_s * (double)a->steady_ns / 1e9;
	if (growing)
		add(a, FINDING_GROWING, a->mk_p, sat_from_double(rise_bytes), HR_UNKNOWN);
	if (tracks)
		add(a, FINDING_TRACKS_LOAD, a->load_correlation, (int64_t)swing, HR_UNKNOWN);
	if (saw)
		add(a, FINDING_SAWTOOTH, fall > 0 ? rise / fall : NAN, a->drop_threshold, HR_UNKNOWN);
	if (spiky)
		add(a, FINDING_SPIKY, a->peak_median_ratio, a->traffic_peak, HR_UNKNOWN);
	/* the verdict: load first (it explains the rest), then the teeth, then growth, then spikes */
	return tracks ? VERDICT_TRACKS_LOAD : saw ? VERDICT_SAWTOOTH : growing ? VERDICT_GROWING
	       : spiky ? VERDICT_SPIKY : VERDICT_STABLE;
}

static void heap_findings(struct analysis *a)
{
	if (a->heap_finding == HEAP_LIVE_GROWING)
		add(a, FINDING_HEAP_GROWING, a->heap_mk_p, a->heap_change_bytes, HR_UNKNOWN);
	/* the allocator keeps what was freed: over both thresholds, or RSS grows while the heap does not */
	bool held_big = a->have_breakdown && a->bd.allocator >= TH_HELD_MIN_BYTES && a->bd_held_ratio >= TH_HELD_RATIO;
	bool rss_only = a->heap_finding == HEAP_OK && analysis_finding(a, FINDING_GROWING);
	if (a->heap_available && a->heap_finding != HEAP_LIVE_GROWING && (held_big || rss_only)) {
		a->heap_finding = HEAP_RETENTION;
		add(a, FINDING_RETENTION, a->bd_held_ratio, a->bd.allocator >= 0 ? a->bd.allocator : a->heap_gap_bytes,
		    a->bd_t_ns);
	}
	if (a->heap_stale)
		add(a, FINDING_HEAP_STALE, (double)a->heap_stale_age_ns / 1e9, HR_UNKNOWN, HR_UNKNOWN);
}

static int by_kind(const void *x, const void *y)
{
	const struct finding *p = x, *q = y;
	return (int)p->kind - (int)q->kind;
}

void stage_findings(const struct analyze_options *o, struct analysis *a)
{
	a->nfindings = 0;
	if (a->oom_killed || a->cg_oom_kills > 0)
		add(a, FINDING_OOM_KILLED, NAN, a->peak, HR_UNKNOWN);
	if (a->load_failed)
		add(a, FINDING_LOAD_FAILED, a->load_error_rate, HR_UNKNOWN, HR_UNKNOWN);
	if (a->never_ready)
		add(a, FINDING_NOT_READY, NAN, HR_UNKNOWN, HR_UNKNOWN);
	if (too_short(o, a)) {
		a->verdict = VERDICT_TOO_SHORT;
		add(a, FINDING_TOO_SHORT, NAN, HR_UNKNOWN, HR_UNKNOWN);
	} else {
		/* the range and the teeth's shape were left in the series by stage_trend; they travel
		 * in the analysis so that this stage can run on an analysis alone */
		a->verdict = shapes(o, a, a->shape_lo, a->shape_hi, a->shape_frac_mid, a->shape_rise_samples,
				    a->shape_fall_samples);
	}
	heap_findings(a);
	/* in integers: 1.10 x 100 MiB must be exactly 110 MiB at the edge */
	if (a->startup_peak >= 0 && a->startup_peak >= a->peak && a->traffic_peak > 0 &&
	    (__int128)a->startup_peak * 100 >= (__int128)a->traffic_peak * TH_STARTUP_OVER_TRAFFIC_PCT)
		add(a, FINDING_STARTUP_PEAK, (double)a->startup_peak / (double)a->traffic_peak, a->startup_peak, HR_UNKNOWN);
	if (a->has_load && a->falls_after_load == 0)
		add(a, FINDING_NOT_RELEASED, NAN, a->after_load_bytes, a->load_end_ns);
	const struct analyze_blind *b15 = &a->blind[0];
	if (a->peak > 0 && b15->best_bytes >= 0 &&
	    (__int128)b15->best_bytes * 100 <= (__int128)a->peak * (100 - TH_BLIND_MISS_PCT))
		add(a, FINDING_DASHBOARD_BLIND, (double)b15->best_bytes / (double)a->peak, a->peak - b15->best_bytes,
		    a->peak_t_ns);
	qsort(a->findings, (size_t)a->nfindings, sizeof(a->findings[0]), by_kind);
}

void stage_sizing(struct analysis *a)
{
	a->sized = false;
	if (a->peak < 0) {
		snprintf(a->no_sizing_reason, sizeof(a->no_sizing_reason), "no memory samples were recorded");
		return;
	}
	if (a->never_ready) {
		snprintf(a->no_sizing_reason, sizeof(a->no_sizing_reason),
			 "the service never became ready, so the run never reached its steady state");
		return;
	}
	if (a->load_failed) {
		snprintf(a->no_sizing_reason, sizeof(a->no_sizing_reason),
			 "%.0f %% of the load's requests failed: the load did not exercise the service",
			 isnan(a->load_error_rate) ? 100.0 : a->load_error_rate * 100);
		return;
	}
	if (a->steady_samples == 0) {
		snprintf(a->no_sizing_reason, sizeof(a->no_sizing_reason), "the run never left its startup");
		return;
	}
	const struct analysis *one[1] = {a};
	a->sized = size_recommend(one, 1, NULL, &a->sizing) == 0;
	if (!a->sized)
		snprintf(a->no_sizing_reason, sizeof(a->no_sizing_reason), "no peak to size on");
}
