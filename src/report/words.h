/* words: the sentences every view shares — sizes, durations, rates, the headline, one sentence per
 * finding with its numbers, the heap sentence, and the parts of the building — worded once from
 * struct analysis so the terminal report, explain, the HTML and the markdown summary say the same
 * thing with the same numbers. Renders only: no figure is computed here (a ratio shown as a
 * percentage is the analysis's ratio). Each function writes a NUL-terminated string into buf and
 * returns buf.
 */
#ifndef HEADROOM_WORDS_H
#define HEADROOM_WORDS_H

#include <stddef.h>
#include <stdint.h>

#include "analyze.h"

const char *words_size(int64_t bytes, char *buf, size_t len);      /* "12.5Mi", "-" when unknown */
const char *words_duration(int64_t ns, char *buf, size_t len);     /* "1m30s", "0s", "-" */
const char *words_pvalue(double p, char *buf, size_t len);         /* "0.41", "3.4e-09", "-" */
/* A slope as a change: per hour when the steady phase is long enough to say so
 * (TH_PER_HOUR_MIN_NS), else the change over the phase ("+2.1Mi over 23s"). */
const char *words_change(const struct analysis *a, double bytes_per_s, int64_t change_bytes, char *buf, size_t len);
const char *words_basis(enum analyze_basis b);                      /* "cgroup usage", "RSS", ... */

/* The one-sentence headline: the most important finding, else the trend. */
const char *words_headline(const struct analysis *a, char *buf, size_t len);
/* One finding, with its numbers, and its remedy after " — " when it has one. */
const char *words_finding(const struct analysis *a, const struct finding *f, char *buf, size_t len);
/* What the heap says: growing, held by the allocator, or neither, with the breakdown's figures
 * and their instant; why it is unavailable or stale otherwise (a->heap_why). */
const char *words_heap(const struct analysis *a, char *buf, size_t len);

/* A garbage-collected runtime's cycles (a->gc_*): how many, the live heap after the last and its
 * goal, released memory; and, when the sawtooth is the collector, that it is. "" without them. */
const char *words_gc(const struct analysis *a, char *buf, size_t len);
/* GOMEMLIMIT for this run's recommended limit, and what it would change. "" without GC figures. */
const char *words_gc_gomemlimit(const struct analysis *a, char *buf, size_t len);
/* The largest GOGC that fits, and what it would change (the goal, the cycles per second). */
const char *words_gc_gogc(const struct analysis *a, char *buf, size_t len);

/* jemalloc's own figures (a->je_*): allocated, active, resident, retained, metadata near the true
 * peak and at the end, and the gap resident - allocated with its dirty pages. "" without them. */
const char *words_jemalloc(const struct analysis *a, char *buf, size_t len);
/* The settings that decide that gap (dirty_decay_ms, muzzy_decay_ms, background_thread, narenas),
 * how to give them to a compiled-in jemalloc, and what each would change with this run's figures;
 * or that the gap is under the thresholds. "" without figures. Needs about 1500 bytes. */
const char *words_jemalloc_advice(const struct analysis *a, char *buf, size_t len);

/* The parts of the building (a->bd) in display order, with what each is. */
struct words_part {
	const char *name;      /* "live heap", "allocator-held", ... */
	const char *cls;       /* a short class name for the HTML: live, held, anon, stacks, ... */
	int64_t bytes;
	const char *why;
};
#define WORDS_MAX_PARTS 8
/* Returns how many parts were written (0 without a breakdown); parts of 0 bytes are kept only
 * for the heap and the allocator (so "allocator-held 0B" is said, not hidden). */
int words_parts(const struct analysis *a, struct words_part *parts, int max);

#endif
