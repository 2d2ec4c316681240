/* analyze: turns a recording into answers — phases, true peaks (startup and traffic), the trend
 * of the steady phase (Theil–Sen slope, Mann–Kendall p-value, stabilisation time), a verdict
 * with its numeric evidence, what the heap says about it, the breakdown of RSS, and what a
 * dashboard scraping every 15/30/60 s would have shown.
 *
 * Reads a struct recording (record.h) and fills a plain struct analysis: numbers and enums, no
 * sentences (report.c words them, size.c sizes from them). Never prints. A figure that the
 * recording cannot give is HR_UNKNOWN (-1) or NAN, never zero. Columns it reads are listed in
 * analyze_columns (pass them to record_open() to load only those).
 * Cost: O(n) in the samples plus fixed-size pairwise work; a million samples in well under 1 s.
 */
#ifndef HEADROOM_ANALYZE_H
#define HEADROOM_ANALYZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define ANALYZE_MAX_PHASES 34
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

enum analyze_phase_source {
	PHASE_FROM_READY = 0,  /* the `ready` event (port accepting) */
	PHASE_FROM_LOAD,       /* the first load stage */
	PHASE_FROM_STABLE,     /* memory settled */
	PHASE_FROM_GUESS,      /* none of those: the first tenth of the run */
	PHASE_NONE,            /* too few samples to tell */
};

enum analyze_heap_finding {
	HEAP_UNKNOWN = 0,      /* no heap figures */
	HEAP_OK,               /* nothing to say: heap and RSS agree, both flat */
	HEAP_LIVE_GROWING,     /* live heap grows with RSS: live data accumulating (leak or unbounded cache) */
	HEAP_RETENTION,        /* live heap flat/low while RSS high or growing: allocator retention/fragmentation */
};

struct analyze_options {
	double band_frac;          /* stabilisation band around the final level, default 0.05 */
	int64_t band_min_bytes;    /* ... and at least this, default 2 MiB */
	int64_t min_steady_ns;     /* shortest steady phase to judge a trend, default 10 s */
	size_t min_steady_samples; /* default 20 */
	double p_threshold;        /* Mann–Kendall significance, default 0.01 */
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

	/* heap (shim) */
	bool heap_available;
	char heap_status[256];
	int64_t heap_live_peak, heap_live_final, heap_allocations;
	double heap_slope_bytes_per_s, heap_mk_p;
	enum analyze_heap_finding heap_finding;
	int64_t heap_gap_bytes;       /* RSS - live heap at the end: memory the allocator and the rest hold */

	/* breakdown of RSS at the last smaps read (HR_UNKNOWN when never read) */
	int64_t bd_t_ns;
	int64_t bd_anon;              /* private anonymous memory (heap + allocator-held + other anon) */
	int64_t bd_heap, bd_allocator, bd_stacks, bd_code, bd_files, bd_other;

	/* dashboards */
	struct analyze_blind blind[ANALYZE_NSCRAPES];

	/* anchors for sizing: what other recommenders would have seen of the request basis */
	/* each as seen at the worst and the best alignment of the polling with the recording */
	int64_t krr_max_bytes, krr_max_best_bytes;  /* max of the request basis polled every 75 s */
	size_t krr_points;
	int64_t vpa_peak_bytes, vpa_peak_best_bytes; /* max of it polled every 60 s: one "daily peak" */
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
void analyze_file_free(struct recording *rec, struct analysis *a);

const char *analyze_verdict_name(enum analyze_verdict v);   /* "stable", "too-short", ... */
const char *analyze_basis_name(enum analyze_basis b);       /* "rss", "cgroup-usage", "working-set" */

#endif
