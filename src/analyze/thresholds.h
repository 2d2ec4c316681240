/* thresholds: every number a rule of the analysis compares against, in one place.
 *
 * Each rule needs a ratio AND an absolute size before it speaks (redis' MEMORY DOCTOR model), so a
 * small service is not told to tune its allocator over a few MiB and a big one is not told its
 * 2 % wobble is a leak. Each constant says where its value comes from; a test in
 * tests/test_analyze_stages.c sits just below, at and just above every edge.
 */
#ifndef HEADROOM_THRESHOLDS_H
#define HEADROOM_THRESHOLDS_H

#define TH_MiB (1024LL * 1024LL)

/* --- stabilisation and trend ------------------------------------------------------------- */
/* The band around the final level inside which memory counts as settled: 5 % or 2 MiB. 5 % is
 * about the run-to-run spread of RSS of the same service here; 2 MiB is a few arenas' pages. */
#define TH_BAND_FRAC 0.05
#define TH_BAND_MIN_BYTES (2 * TH_MiB)
/* Shortest steady phase to judge a trend: 10 s and 20 samples. Mann–Kendall needs ~10 points for
 * its normal approximation; 20 samples at the default 500 ms interval is 10 s. */
#define TH_MIN_STEADY_NS 10000000000LL
#define TH_MIN_STEADY_SAMPLES 20
/* Mann–Kendall significance. 1 %: with thousands of samples a 5 % test flags noise too often. */
#define TH_P_SIGNIFICANT 0.01
/* The leak suspects' significance, stricter: a run judges every allocation site at once (up to
 * 200), and a level site's sampled live bytes are independent draws at each snapshot (sites_leak's
 * busy sites, 8 MiB at 512 KiB: a standard deviation of 1.4-2.7 MiB over 14 snapshots against
 * sqrt(interval x live) = 2.0 predicted). At 1 % 0.34-0.45 % of level sites were named (and a CI
 * run named one of sites_leak's); at 0.1 % 0.014-0.025 %, while a leak, whose estimate only
 * counts up, is found as before: 640 KiB/s of 32 KiB blocks over 12 snapshots 99.6 % of the time
 * at either level (simulated: scripts/sites-suspect-sim.py 100000). */
#define TH_P_SITES 0.001
/* A trend per hour is only said for a steady phase at least this long; shorter runs say the
 * change over the run instead (a 23 s run must not read as "-325Mi/h"). */
#define TH_PER_HOUR_MIN_NS (10LL * 60 * 1000000000LL)

/* --- shapes ----------------------------------------------------------------------------------- */
/* Memory follows the load: Pearson r >= 0.6 with the stage concurrency (a "strong" correlation in
 * the usual reading) and a swing of at least 10 % of the median or twice the band. */
#define TH_LOAD_R 0.6
#define TH_LOAD_SWING_FRAC 0.10
/* Sawtooth: at least 3 teeth (drops of the tooth threshold after as much rise), the time spread
 * between the top and the bottom half (15-85 % above the midline: a spike spends < 15 % high),
 * and a slow fill: the median rise takes at least 3 samples and at least twice as long as the fall.
 * A spike rises in one interval; a collector or cache fills over many. */
#define TH_SAW_MIN_TEETH 3
#define TH_SAW_MID_LO 0.15
#define TH_SAW_MID_HI 0.85
#define TH_SAW_MIN_RISE_SAMPLES 3
#define TH_SAW_RISE_OVER_FALL 2.0
/* The tooth threshold: 30 % of the p5-p95 range, at least twice the band (so noise is no tooth). */
#define TH_SAW_TOOTH_FRAC 0.30
/* Spiky: the exact traffic peak at least 1.2x the steady median and 8 MiB above it, with less than
 * 20 % of the time above half-way. 8 MiB: below that a spike is within what the headroom covers. */
#define TH_SPIKE_RATIO 1.2
#define TH_SPIKE_MIN_BYTES (8 * TH_MiB)
#define TH_SPIKE_MAX_TIME 0.20
/* Startup sets the limit when its peak is the true peak and at least 10 % above the traffic peak. */
#define TH_STARTUP_OVER_TRAFFIC_PCT 110

/* --- heap and allocator ----------------------------------------------------------------------- */
/* Allocator retention worth acting on: allocator-held at least 25 % of RSS and at least 32 MiB.
 * 32 MiB: half of one glibc arena's reservation (64 MiB); 25 %: a quarter of the pod's bill. */
#define TH_HELD_RATIO 0.25
#define TH_HELD_MIN_BYTES (32 * TH_MiB)
/* jemalloc's gap resident - allocated is judged by the same two thresholds (it is allocator-held
 * memory: dirty pages, rounding, metadata). narenas is advised only with more threads than 4: a
 * thread allocates from one arena, so up to 4 threads use at most 4 arenas, what narenas:4 (the
 * default for one CPU, 4 x CPUs) would allow anyway. */
#define TH_JE_ARENA_THREADS 4
/* jemalloc 5.3's defaults (its configure-time defaults, `malloc_stats_print` opt.*): what the
 * advice says each setting is now. */
#define TH_JE_DIRTY_DECAY_MS_DEFAULT 10000
#define TH_JE_DIRTY_DECAY_MS_ADVISED 1000
/* Live heap growth: significant (TH_P_SIGNIFICANT) and material (TH_BAND_*) over the steady phase. */
/* Heap figures older than this many sampling intervals (and at least 1 s) are stale: the target
 * did not answer (stopped, or an older shim). Two intervals is the freshness the shim promises. */
#define TH_HEAP_FRESH_INTERVALS 2
#define TH_HEAP_FRESH_MIN_NS 1000000000LL
/* A service's own page (`--metrics`) is asked once a second with an 800 ms deadline
 * (collect/metrics_poll.h): its latest answer is up to 1.8 s old at a sample, by design, not
 * because the service stopped answering. */
#define TH_HEAP_FRESH_POLLED_NS 2000000000LL

/* --- a garbage-collected runtime (Go) ---------------------------------------------------------- */
/* GOMEMLIMIT at 90 % of the container limit: the runtime counts its own memory only (heap, stacks,
 * its metadata), not the code, C allocations or the kernel's page rounding; 10 % leaves room for
 * them (the figure the Go team's guide gives as a starting point is 5-10 %). */
#define TH_GOMEMLIMIT_FRAC 0.90
/* The Go runtime never sets a goal under 4 MiB (heapminimum): below it GOGC says nothing. */
#define TH_GO_MIN_GOAL_BYTES (4 * TH_MiB)

/* --- page cache ------------------------------------------------------------------------------- */
/* Size on the working set instead of usage when reclaimable page cache is at least 16 MiB and 10 %
 * of the usage peak: below that the difference is within the headroom. */
#define TH_CACHE_MIN_BYTES (16 * TH_MiB)
#define TH_CACHE_FRAC 0.10

/* --- load ------------------------------------------------------------------------------------- */
/* A load whose error rate is above 5 % did not exercise the service: its memory says little about
 * serving traffic (a 404 on every request costs almost nothing). */
#define TH_LOAD_ERROR_RATE 0.05

/* --- dashboards ------------------------------------------------------------------------------- */
/* A 15 s dashboard "misses" the peak when its best view is 10 % below the true peak. */
#define TH_BLIND_MISS_PCT 10

/* --- teardown --------------------------------------------------------------------------------- */
/* Samples read in the last interval before the exit (or after headroom asked the command to stop)
 * see a process tearing down: they count for peaks, never as the final or steady level. */

#endif
