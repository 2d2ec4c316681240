/* explain: the building / rooms in use / empty shelves explanation of one recording.
 *
 * explain_compute() reads the figures a recording holds (RSS, the smaps parts, the heap shim's
 * live and allocator-held bytes) into plain numbers and verdicts; explain_print() says them in
 * plain words with this run's own numbers: which part of RSS is which, what is normal (memory
 * kept for reuse after load), what is worth acting on, and the remedy for the allocator
 * underneath when allocator-held memory dominates. A verdict is flagged only when both a ratio
 * and an absolute size cross their thresholds (EXPLAIN_HELD_*, EXPLAIN_GROWTH_*), so a small
 * service is not told to tune its allocator over a few MiB.
 * Computing allocates nothing and prints nothing; printing writes only to the FILE it is given.
 */
#ifndef HEADROOM_EXPLAIN_H
#define HEADROOM_EXPLAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "breakdown.h"
#include "record.h"

#define EXPLAIN_HELD_RATIO 0.30                  /* allocator-held / RSS */
#define EXPLAIN_HELD_MIN (64LL * 1024 * 1024)    /* ... and at least this much */
#define EXPLAIN_GROWTH_RATIO 0.20                /* live heap, second half of the run over the first */
#define EXPLAIN_GROWTH_MIN (16LL * 1024 * 1024)

/* The sample columns explain_compute() needs, NULL-terminated: pass them to record_open(). */
extern const char *const explain_columns[];

enum explain_heap_trend { EXPLAIN_HEAP_UNKNOWN, EXPLAIN_HEAP_FLAT, EXPLAIN_HEAP_GROWING, EXPLAIN_HEAP_FALLING };

struct explain {
	int64_t duration_ns;
	size_t nsamples;
	int64_t rss_peak, rss_final;       /* HR_UNKNOWN when no sample had them */
	bool heap_available;
	char allocator[16];                /* "glibc", "jemalloc", "mimalloc", "" when unknown */
	char heap_status[256];             /* from the run row: why heap is unavailable */
	int64_t live_peak, live_final, held_final, held_peak;
	int64_t allocations;               /* count mode: cumulative allocations at the end */
	bool have_breakdown;               /* a sample with the smaps parts */
	int64_t breakdown_t_ns;
	struct breakdown parts;       /* at the last sample that had the smaps parts */
	/* verdicts */
	bool held_dominates;               /* allocator-held over both thresholds */
	double held_ratio;                 /* held / RSS at the breakdown */
	int heap_trend;                    /* enum explain_heap_trend */
	int64_t live_first_half, live_second_half;   /* medians-free: the highest of each half */
	bool stayed_high;                  /* RSS at the end within 10 % of its peak */
};

/* -EINVAL when a needed column was not loaded (use explain_columns). */
int explain_compute(const struct recording *rec, struct explain *ret);
void explain_print(const struct explain *e, const struct recording *rec, FILE *f);

#endif
