/* analyze_stages: the stages of analyze_recording(), in the order they run, and the working
 * state they share. Internal to src/analyze (and its unit tests): each stage reads what the
 * earlier ones left in struct series and struct analysis and fills its own fields, so a test can
 * run one stage on a hand-made series and check its figures.
 */
#ifndef HEADROOM_ANALYZE_STAGES_H
#define HEADROOM_ANALYZE_STAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze.h"

/* The columns of one recording as the stages see them. Arrays hold n values; HR_UNKNOWN where a
 * sample lacks the figure. */
struct series {
	const struct recording *rec;
	size_t n;
	const int64_t *t;
	const int64_t *rss;        /* never NULL (a column of HR_UNKNOWN when absent) */
	int64_t *rp;               /* RSS interval peaks (exact when VmHWM is reset every interval) */
	int64_t *bi;               /* the basis, instantaneous */
	int64_t *bp;               /* the basis, interval peaks */
	size_t alive;              /* samples [0, alive) describe the living process */
	size_t s0, s1;             /* the steady phase: [s0, s1) */
	/* scratch, n each */
	double *scratch, *ts, *xs;
	int64_t *rss_none;
	size_t k;                  /* steady points gathered in ts/xs by stage_trend */
};

int series_init(struct series *s, const struct recording *rec);
void series_release(struct series *s);

/* Helpers shared by the stages (analyze.c). */
size_t index_at(const int64_t *t, size_t n, int64_t at);
int64_t max_known(const int64_t *x, size_t from, size_t to, int64_t *ret_t, const int64_t *t);
int64_t last_known(const int64_t *x, size_t n, size_t *ret_i);
int64_t quantile_known(const int64_t *x, size_t from, size_t to, double q, double *scratch);
size_t gather(const int64_t *t, const int64_t *x, size_t from, size_t to, double *ts, double *xs);
const struct record_event *find_event(const struct recording *rec, const char *kind);

/* The stages. Each returns nothing: a figure it cannot compute stays HR_UNKNOWN / NAN. */
void stage_run_facts(const struct recording *rec, struct analysis *a);          /* analyze.c */
void stage_peaks(struct series *s, struct analysis *a);                         /* peaks.c */
void stage_phases(struct series *s, const struct analyze_options *o, struct analysis *a); /* phases.c */
void stage_trend(struct series *s, const struct analyze_options *o, struct analysis *a);  /* trend.c */
void stage_load(struct series *s, struct analysis *a);                          /* trend.c */
void stage_heap(struct series *s, const struct analyze_options *o, struct analysis *a);   /* heapview.c */
void stage_breakdown(struct series *s, struct analysis *a);                     /* heapview.c */
void stage_sites(struct series *s, const struct analyze_options *o, struct analysis *a);  /* sites.c */
void stage_blind(struct series *s, struct analysis *a);                         /* blind.c */
void stage_findings(const struct analyze_options *o, struct analysis *a);       /* findings.c */
void stage_sizing(struct analysis *a);                                          /* findings.c */
void stage_gc(struct series *s, struct analysis *a);                            /* gcview.c */
void stage_allocator(struct series *s, struct analysis *a);                     /* allocview.c */
/* How old a heap figure may be and still be the level of the instant it was read at (heapview.c). */
int64_t heap_fresh_limit_ns(const struct analysis *a);

#endif
