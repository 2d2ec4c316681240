/* analyze: turns a recording into the one structure every view renders — phases, true peaks
 * (startup and traffic), the trend of the steady phase (Theil–Sen slope, Mann–Kendall p-value,
 * stabilisation time), the heap and its freshness, the breakdown of RSS at one instant, the
 * findings (a set, most important first, each with its rule, ratio, bytes and remedy), what a
 * dashboard scraping every 15/30/60 s would have shown, and the sizing.
 *
 * A short pipeline of named stages (analyze_stages.h: load, phases, peaks, trend, heap,
 * findings, blind spot, sizing), each unit-tested on its own. Every threshold is in
 * thresholds.h. Figures are computed here once; the terminal report, explain, the HTML, --json,
 * compare and size only render them (src/report). Never prints. A figure the recording cannot
 * give is HR_UNKNOWN (-1) or NAN, never zero. Columns it reads are listed in analyze_columns.
 * Cost: O(n) in the samples plus fixed-size pairwise work; a million samples in well under 1 s.
 */
#ifndef HEADROOM_ANALYZE_H
#define HEADROOM_ANALYZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "breakdown.h"
#include "record.h"

#define ANALYZE_MAX_PHASES 34
#define ANALYZE_MAX_FINDINGS 16
#define ANALYZE_NSCRAPES 3        /* 15 s, 30 s, 60 s */

enum analyze_verdict {
	VERDICT_TOO_SHORT = 0,
	VERDICT_STABLE,
	VERDICT_GROWING,
	VERDICT_TRACKS_LOAD,
	VERDICT_SPIKY,
	VERDICT_SAWTOOTH,
};

/* The figure the limit is sized on: what the kernel charges and kills on. */
enum analyze_basis {
	BASIS_RSS = 0,         /* no cgroup: RSS of the process tree (exact interval peaks when VmHWM is reset) */
	BASIS_CG_USAGE,        /* cgroup usage: what memory.max / limit_in_bytes is enforced against */
	BASIS_WORKING_SET,     /* usage - inactive_file: chosen when reclaimable page cache inflates usage */
};

/* The recommendation computed from one or more analyses by size_recommend() (size.h). */
struct sizing {
	size_t nrecordings;
	size_t peak_recording;       /* index of the analysis that set the peak */
	enum analyze_basis basis;    /* of that recording */
	int64_t true_peak;           /* highest exact peak of the basis */
	bool peak_at_startup;        /* the highest peak came during startup */
	bool oom_adjusted;           /* a recording was OOM-killed: the peak was raised (VPA's rule) */
	int64_t sized_peak;          /* the peak the limit is computed from (after the OOM rule) */
	int64_t startup_peak;        /* highest startup peak */
	double headroom;
	int64_t limit_bytes;         /* rounded up to a Mi */
	int64_t needs_to_exist;      /* highest RSS of the process tree: what it needs just to run,
	                              * shared library pages included (a new pod's cgroup is charged
	                              * for them on a cold node) */
	bool limit_floored;          /* the limit was raised to the floor (SIZE_FLOOR_BYTES, needs_to_exist) */
	int64_t request_bytes;       /* rounded up to a Mi */
	int64_t request_p95;         /* the unrounded figure */
	bool request_is_working_set; /* else RSS */
	bool qos_guaranteed;

	int64_t krr_bytes;           /* at the worst polling alignment; HR_UNKNOWN when no point */
	int64_t krr_best_bytes;      /* at the best alignment */
	size_t krr_points;
	int64_t vpa_bytes;           /* likewise */
	int64_t vpa_best_bytes;
	bool vpa_floored;
	size_t vpa_days;

	bool growing;
	double slope_bytes_per_s;
	int64_t time_to_limit_ns;    /* growing: from the last level to the limit, HR_UNKNOWN otherwise */

	int replicas, surge;
	int64_t startup_burst_bytes; /* (replicas or surge) × startup peak, HR_UNKNOWN when not asked */

	double hpa_target;           /* < 0 when not asked */
	int hpa_warning;             /* 1: memory-based HPA would not scale back in; 0: fine; -1 unknown */
	double hpa_idle_utilisation; /* memory after load (or steady median) / request */
};

enum analyze_phase_source {
	PHASE_FROM_READY = 0,  /* the `ready` event (port accepting) */
	PHASE_FROM_LOAD,       /* the first load stage */
	PHASE_FROM_STABLE,     /* memory settled */
	PHASE_FROM_GUESS,      /* none of those: the first tenth of the run */
	PHASE_NONE,            /* too few samples to tell */
	PHASE_ATTACHED,        /* attached to a running process: its startup was before the recording */
};

enum analyze_heap_finding {
	HEAP_UNKNOWN = 0,      /* no heap figures */
	HEAP_OK,               /* nothing to say: heap and RSS agree, both flat */
	HEAP_LIVE_GROWING,     /* live heap grows with RSS: live data accumulating (leak or unbounded cache) */
	HEAP_RETENTION,        /* live heap flat/low while RSS high or growing: allocator retention/fragmentation */
};

/* What the analysis found, most important first in struct analysis.findings. The first four
 * trend kinds also name the trend verdict (the most important of them, else stable/too-short). */
enum finding_kind {
	FINDING_OOM_KILLED = 0,   /* the kernel killed it at the limit: the peak is a lower bound */
	FINDING_LOAD_FAILED,      /* the load's error rate says the service was not exercised */
	FINDING_NOT_READY,        /* the service never became ready: no steady state */
	FINDING_GROWING,          /* the basis grows through the steady phase: no limit is safe */
	FINDING_HEAP_GROWING,     /* live heap grows: live data accumulates (leak, unbounded cache) */
	FINDING_TRACKS_LOAD,      /* memory follows the load's concurrency */
	FINDING_SAWTOOTH,         /* slow fills and sudden drops: a collector, a cache, batches */
	FINDING_SPIKY,            /* sudden short rises and falls above the steady level */
	FINDING_STARTUP_PEAK,     /* startup, not traffic, sets the limit */
	FINDING_RETENTION,        /* the allocator holds freed memory: RSS far above the live heap */
	FINDING_NOT_RELEASED,     /* memory stays up after the load */
	FINDING_DASHBOARD_BLIND,  /* a 15 s dashboard would not have shown the peak */
	FINDING_HEAP_STALE,       /* the heap figures are older than the instant they describe */
	FINDING_TOO_SHORT,        /* not enough steady state to judge a trend */
	FINDING_NKINDS,
};

struct finding {
	enum finding_kind kind;
	double ratio;             /* the rule's ratio (see finding_rule()), NAN when it has none */
	int64_t bytes;            /* the rule's absolute size, HR_UNKNOWN when it has none */
	int64_t at_ns;            /* the instant it refers to, HR_UNKNOWN for the whole run */
};

struct analyze_options {
	double band_frac;          /* stabilisation band around the final level, default 0.05 */
	int64_t band_min_bytes;    /* ... and at least this, default 2 MiB */
	int64_t min_steady_ns;     /* shortest steady phase to judge a trend, default 10 s */
	size_t min_steady_samples; /* default 20 */
	double p_threshold;        /* Mann–Kendall significance, default 0.01 */
	double p_sites;            /* ... of a leak suspect among the allocation sites, default 0.001 */
};
/* Fill *opt with the defaults above. */
void analyze_options_init(struct analyze_options *opt);

struct analyze_phase {
	char name[32];           /* "startup", "steady", "stage 0", ... */
	int64_t stage;           /* load stage index, -1 for startup/steady */
	int64_t start_ns, end_ns;
	int64_t connections;     /* load stage concurrency, HR_UNKNOWN when not a stage */
	int64_t peak_bytes;      /* exact peak of the basis within the phase */
	int64_t p50_bytes;       /* median of the basis */
	int64_t rss_peak_bytes;
	size_t nsamples;
};

struct analyze_blind {
	int64_t scrape_ns;
	int64_t best_bytes;      /* highest value a scraper could have shown (best phase alignment) */
	int64_t worst_bytes;     /* lowest (worst alignment) */
	size_t scrapes;
};

/* One allocation site (sites mode) as the views show it. Bytes and objects are the recording's
 * estimates (already unbiased by the shim). */
#define ANALYZE_MAX_SITES 10
#define ANALYZE_MAX_SUSPECTS 5
struct analyze_site {
	int64_t site;                 /* the recording's id (heap_sites.site) */
	int64_t pid;
	int64_t live_bytes, live_objects;   /* at the instant of the list */
	int64_t alloc_bytes;          /* cumulative at that instant */
	double share;                 /* of the sampled live bytes at that instant, 0..1 */
	/* the first frame that is not the allocator or the standard library's allocation machinery:
	 * its function when symbolised, else module basename + "+0x" offset (or "0x" pc) */
	char name[192];
	char module[256];             /* that frame's module path, "" when anonymous */
	int64_t offset;               /* that frame's ELF address, HR_UNKNOWN */
	bool symbolised;              /* name is a function name */
	/* leak suspects: through the steady phase */
	double slope_bytes_per_s;     /* Theil–Sen, NAN when not computed */
	double mk_p;                  /* Mann–Kendall, NAN when not computed */
	int64_t change_bytes;         /* slope × the steady phase's length, HR_UNKNOWN */
};

struct analysis {
	/* the run */
	size_t nsamples;
	int64_t duration_ns;
	int64_t interval_ns;       /* median spacing of the samples */
	int64_t limit_bytes;       /* --limit of the run, HR_UNKNOWN when none */
	int exit_code, exit_signal;
	bool oom_killed;
	bool finished;             /* false: the recording was cut short */
	bool rss_peaks_exact;

	/* which figure the peaks/trend/sizing are on, and why */
	enum analyze_basis basis;
	int64_t page_cache_bytes;  /* cgroup file pages at the usage peak, HR_UNKNOWN without cgroup */

	/* RSS, always (when any sample has it) */
	int64_t rss_peak;          /* exact: max of rss_peak (interval peaks) and rss */
	int64_t rss_peak_t_ns;
	int64_t rss_startup_peak;
	int64_t rss_traffic_peak;  /* max after startup (load stages when there is load) */
	int64_t rss_steady_p50, rss_steady_p95;
	int64_t rss_final;
	int64_t rss_min_after_startup;

	/* cgroup, HR_UNKNOWN without one */
	bool cgroup;
	int64_t cg_usage_peak;
	int64_t cg_ws_peak;        /* instantaneous working set maximum (no exact peak exists for it) */
	int64_t cg_ws_steady_p95;
	int64_t cg_oom_kills;
	int64_t cg_limit_hits;

	/* the basis figure */
	int64_t peak, peak_t_ns;
	int64_t startup_peak;
	int64_t traffic_peak;
	int64_t steady_p50, steady_p95;
	int64_t request_basis_p95; /* p95 of the steady working set, or RSS without cgroup */
	int64_t final;

	/* phases */
	enum analyze_phase_source startup_source;
	int64_t startup_end_ns;    /* HR_UNKNOWN when it could not be placed */
	struct analyze_phase phases[ANALYZE_MAX_PHASES];
	int nphases;
	bool has_load;
	int64_t load_start_ns, load_end_ns;

	/* trend of the steady phase (basis figure) */
	enum analyze_verdict verdict;
	int64_t steady_ns;            /* length of the steady phase judged */
	size_t steady_samples;
	int64_t need_more_ns;         /* too-short: how much longer to record, else 0 */
	double slope_bytes_per_s;     /* Theil–Sen, NAN when not computed */
	int64_t change_bytes;         /* slope × the steady phase's length, HR_UNKNOWN without a slope */
	double mk_p, mk_z, mk_tau;    /* Mann–Kendall, NAN when not computed */
	bool trend_significant;       /* p < threshold and the rise over the phase is material */
	int64_t stabilized_after_ns;  /* HR_UNKNOWN when memory never settled */
	double peak_median_ratio;     /* steady exact peak / steady median */
	size_t spikes;                /* runs of interval peaks above median + half the peak excess */
	double spike_time_fraction;   /* share of the steady phase spent in those runs */
	size_t drops;                 /* falls of at least drop_threshold after a rise of as much */
	int64_t drop_threshold;
	double load_correlation;      /* memory vs load concurrency, NAN without varying load */
	int falls_after_load;         /* 1 yes, 0 no (stays up), -1 unknown (no quiet tail after load) */
	int64_t after_load_bytes;     /* median after the last stage, HR_UNKNOWN without a quiet tail */
	/* the shape of the steady phase the findings judge: its range, the share of the time above
	 * the midline, and the median rise and fall of the teeth in samples (NAN when unknown) */
	double shape_lo, shape_hi, shape_frac_mid, shape_rise_samples, shape_fall_samples;
	/* the lowest level in the first and in the last third of the steady phase: a sawtooth whose
	 * troughs do not rise is not growing, whatever the phase of its last tooth */
	double shape_floor_first, shape_floor_last;

	/* heap (shim). "final" is the last fresh figure while the process lived; heap_final_t_ns is
	 * the instant the target produced it and heap_final_age_ns how old it was when read. */
	bool heap_available;
	char heap_status[256];        /* the recording's status as recorded ("available: glibc, stats
				       * mode", "unavailable: why"), or the analysis's own why-not */
	char heap_why[256];           /* not available: why, said once (no "unavailable: " prefix); "" */
	char heap_origin[256];        /* available: whose figures ("jemalloc (metrics URL)"); "" */
	char allocator[16];           /* "glibc", "jemalloc", "mimalloc", "go", "" when unknown */
	char heap_source[16];         /* where the heap figures came from: "shim", "metrics" (the
				       * service's page), "gctrace" (the Go runtime's GC trace), "" none */
	int64_t heap_live_peak, heap_live_final, heap_allocations;
	int64_t heap_held_final;      /* the allocator's own held figure, HR_UNKNOWN when it has none */
	int64_t heap_final_t_ns, heap_final_age_ns;
	bool heap_stale;              /* the last figure read was older than TH_HEAP_FRESH_*: see age */
	int64_t heap_stale_age_ns;    /* age of the newest figure at the end of the run, when stale */
	double heap_slope_bytes_per_s, heap_mk_p;
	int64_t heap_change_bytes;    /* live heap over the steady phase (slope × its length) */
	enum analyze_heap_finding heap_finding;
	int64_t heap_gap_bytes;       /* RSS - live heap at the end: memory the allocator and the rest hold */

	/* a garbage-collected runtime's own reports (Go's gctrace, heap mode "gctrace"; gcview.c):
	 * its cycles, the heap each left live, the goal it set, and the settings computed from this
	 * run. gc_available is false (and the rest unknown) for any other recording. */
	bool gc_available;
	int64_t gc_cycles;            /* cycles that ended during the recording */
	int64_t gc_cycles_steady;     /* of them, in the steady phase */
	double gc_cycles_per_s;       /* in the steady phase, NAN when it has none */
	int64_t gc_live_final, gc_live_peak;   /* the heap marked live by the last cycle / the highest */
	int64_t gc_goal_final, gc_goal_peak;   /* the goal after the last cycle / the highest */
	double gc_gogc;               /* the GOGC the runtime ran with, 100 (goal - base) / base of the
				       * cycle whose goal's base (the live heap of the cycle before) was
				       * the highest; NAN when unknown (no two consecutive cycles read) or
				       * its goal was the runtime's 4 MiB minimum */
	int64_t gc_gogc_live, gc_gogc_goal;    /* that base and goal */
	int64_t gc_released_final;    /* heap returned to the OS, as of the last scavenger report */
	int64_t gc_overhead_bytes;    /* at least this besides the heap: the peak of the basis's RSS
				       * less the highest goal (stacks, runtime, code), floored at 0 */
	bool gc_explains_sawtooth;    /* the sawtooth's teeth (drops) are no more than the cycles of
				       * the steady phase: each tooth is one or more cycles */
	/* advice, from this run's recommended limit (HR_UNKNOWN / -1 without one) */
	int64_t gc_limit_bytes;       /* the recommended container limit */
	int64_t gc_gomemlimit_bytes;  /* GOMEMLIMIT: TH_GOMEMLIMIT_FRAC of it, rounded down to a Mi */
	int64_t gc_gogc_max;          /* the largest GOGC whose goal (highest live × (1 + GOGC/100)) and
				       * the overhead stay within GOMEMLIMIT; 0 when none does */
	int64_t gc_goal_at_max;       /* that goal */
	/* allocation sites (sites mode): the top sites by live bytes at the true peak and at the
	 * end, and the leak suspects (sites whose live bytes grow through the steady phase, by
	 * their rise). sites false: the recording has none (another mode, or an older recording). */
	bool sites;
	int64_t sites_interval;       /* the mean sampling interval, bytes; HR_UNKNOWN */
	char sites_note[256];         /* the recorder's note ("" none) */
	int64_t sites_peak_t_ns, sites_end_t_ns;     /* the instants of the two lists, HR_UNKNOWN */
	int64_t sites_peak_total, sites_end_total;   /* sampled live bytes, all sites, at them */
	struct analyze_site sites_peak[ANALYZE_MAX_SITES];
	int nsites_peak;
	struct analyze_site sites_end[ANALYZE_MAX_SITES];
	int nsites_end;
	struct analyze_site suspects[ANALYZE_MAX_SUSPECTS];
	int nsuspects;

	/* an allocator's own page-level figures (jemalloc's stats: allocated <= active <= resident, plus
	 * retained and metadata; allocview.c), near the true peak and at the end, the gap resident -
	 * allocated, and whether it is large enough for jemalloc's settings to matter. je_available
	 * is false (the rest unknown) for a recording without them. */
	bool je_available;
	struct analyze_je {
		int64_t t_ns;             /* the instant the figures were taken */
		int64_t allocated, active, resident, retained, metadata;   /* HR_UNKNOWN where not said */
		int64_t gap;              /* resident - allocated, floored at 0 */
		int64_t dirty;            /* resident - active - metadata, floored at 0: freed pages kept
					   * resident for reuse, what decay returns; HR_UNKNOWN without active */
		int64_t rss;              /* RSS of the process tree at that sample, HR_UNKNOWN */
		double gap_ratio;         /* gap / rss, NAN when unknown */
		bool gap_large;           /* gap >= TH_HELD_MIN_BYTES and >= TH_HELD_RATIO of rss */
	} je_peak, je_final;          /* je_peak: the figures taken nearest the true peak's instant */
	int64_t je_threads_peak;      /* most threads of the process tree, HR_UNKNOWN */
	bool je_narenas;              /* more threads than TH_JE_ARENA_THREADS: fewer arenas can matter */

	/* breakdown of RSS at one instant: the last smaps read while the process lived, with the
	 * heap figures of that instant (HR_UNKNOWN parts when not known). Every view shows this. */
	bool have_breakdown;
	bool bd_coarse;               /* from /proc/PID/status (anon/file/shmem), no smaps read */
	bool bd_allocator_estimated;  /* the allocator gave no held figure: anonymous memory not live */
	int64_t bd_t_ns;
	int64_t bd_heap_age_ns;       /* age of the heap figures used, HR_UNKNOWN without them */
	struct breakdown bd;
	double bd_held_ratio;         /* allocator-held / RSS of the breakdown, NAN when unknown */

	/* RSS at the end relative to its peak (size for the peak, not the quiet moments) */
	bool rss_stayed_high;         /* final RSS within 10 % of the peak */

	/* the load (when driven): requests attempted, errors among them */
	int64_t load_requests, load_errors;
	double load_error_rate;       /* errors / requests, NAN without load */
	double load_max_error_rate;   /* the run's --max-error-rate (TH_LOAD_ERROR_RATE when not recorded) */
	bool load_failed;             /* the run said so (load_failed event), or the rate is above the maximum */
	bool never_ready;             /* --ready was asked and the service never accepted */
	int64_t teardown_samples;     /* samples left out of the levels: read while tearing down */

	/* findings, most important first */
	struct finding findings[ANALYZE_MAX_FINDINGS];
	int nfindings;

	/* dashboards */
	struct analyze_blind blind[ANALYZE_NSCRAPES];

	/* anchors for sizing: what other recommenders would have seen of the request basis */
	/* each as seen at the worst and the best alignment of the polling with the recording */
	int64_t krr_max_bytes, krr_max_best_bytes;  /* max of the request basis polled every 75 s */
	size_t krr_points;
	int64_t vpa_peak_bytes, vpa_peak_best_bytes; /* max of it polled every 60 s: one "daily peak" */

	/* the recommendation for this run alone, with default options (size.h); sized is false, with
	 * no_sizing_reason, when the run cannot support one (never ready, too short, no peak) */
	bool sized;
	char no_sizing_reason[200];
	struct sizing sizing;
};

/* The sample columns analyze_recording() reads, NULL-terminated (t_ns is always loaded). */
extern const char *const analyze_columns[];

/* Analyse rec into *ret. opt may be NULL (defaults). Returns 0, -ENODATA when the recording has
 * no samples with an RSS (nothing to judge; *ret still holds the run's facts), -ENOMEM. */
int analyze_recording(const struct recording *rec, const struct analyze_options *opt, struct analysis *ret);
/* Opens `path` with analyze_columns and analyses it. Returns record_open()'s error (then
 * *ret_rec is NULL), -ENOMEM, or analyze_recording()'s result: 0, or -ENODATA when there is no
 * memory sample (*ret_a still holds the run facts). Whenever *ret_rec is set, free both with
 * analyze_file_free(). */
int analyze_file(const char *path, struct recording **ret_rec, struct analysis **ret_a);
/* The same, loading the caller's columns too (the HTML report draws more than it analyses). */
int analyze_file_with(const char *path, const char *const *extra, struct recording **ret_rec, struct analysis **ret_a);
void analyze_file_free(struct recording *rec, struct analysis *a);

const char *analyze_verdict_name(enum analyze_verdict v);   /* "stable", "too-short", ... */
const char *finding_name(enum finding_kind k);              /* "oom-killed", "growing", ... */
/* The rule of a finding in one line with its thresholds ("allocator-held >= 25 % of RSS and
 * >= 32Mi"), and the remedy for this allocator ("" when none): one wording for every view. */
const char *finding_rule(enum finding_kind k, char *buf, size_t len);
const char *finding_remedy(enum finding_kind k, const char *allocator);
/* The finding of this kind in a, NULL when absent. */
const struct finding *analysis_finding(const struct analysis *a, enum finding_kind k);
const char *analyze_basis_name(enum analyze_basis b);       /* "rss", "cgroup-usage", "working-set" */

#endif
