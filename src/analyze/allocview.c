/* stage_allocator: an allocator's own page-level figures (jemalloc's stats.allocated, active,
 * resident, retained, metadata — from a service's metrics page or from the shim over jemalloc),
 * near the true peak and at the end, and whether the gap resident - allocated is large enough for
 * jemalloc's settings to matter.
 *
 *   gap   = resident - allocated: everything jemalloc keeps resident beyond what the program uses
 *   dirty = resident - active - metadata: freed pages kept for reuse, the part decay returns
 *           (active - allocated is rounding and partly used pages; metadata is jemalloc's own)
 *   large = gap >= TH_HELD_MIN_BYTES and gap >= TH_HELD_RATIO x RSS of that sample, the
 *           thresholds of allocator-held memory (thresholds.h)
 *
 * "Near the true peak": of the figures taken within heap_fresh_limit_ns of the peak's instant, the
 * one with the most resident (a service's page is read once a second: the nearest may be the one
 * just before a burst, while the next one a little later shows it); the nearest when none is that
 * close. The views say when they were taken. "At the end": the last fresh figures while the
 * process lived. */
#include <math.h>
#include <stdlib.h>

#include "analyze_stages.h"
#include "thresholds.h"

static int64_t at(const int64_t *x, size_t i)
{
	return x ? x[i] : HR_UNKNOWN;
}

static int64_t instant(const struct series *s, const int64_t *heap_t, size_t i)
{
	return heap_t && heap_t[i] >= 0 ? heap_t[i] : s->t[i];
}

static void fill(const struct series *s, size_t i, struct analyze_je *je)
{
	const struct recording *rec = s->rec;
	je->t_ns = instant(s, recording_column(rec, "heap_t_ns"), i);
	je->allocated = recording_column(rec, "heap_live")[i];
	je->resident = recording_column(rec, "alloc_resident")[i];
	je->active = at(recording_column(rec, "alloc_active"), i);
	je->retained = at(recording_column(rec, "alloc_retained"), i);
	je->metadata = at(recording_column(rec, "alloc_metadata"), i);
	je->gap = je->resident > je->allocated ? je->resident - je->allocated : 0;
	if (je->active >= 0) {
		int64_t d = je->resident - je->active - (je->metadata > 0 ? je->metadata : 0);
		je->dirty = d > 0 ? d : 0;
	}
	je->rss = s->rss[i];
	if (je->rss > 0)
		je->gap_ratio = (double)je->gap / (double)je->rss;
	je->gap_large = je->rss > 0 && je->gap >= TH_HELD_MIN_BYTES && (double)je->gap >= TH_HELD_RATIO * (double)je->rss;
}

void stage_allocator(struct series *s, struct analysis *a)
{
	const struct recording *rec = s->rec;
	const int64_t *live = recording_column(rec, "heap_live"), *res = recording_column(rec, "alloc_resident");
	const int64_t *heap_t = recording_column(rec, "heap_t_ns");
	if (!live || !res)
		return;
	int64_t lim = heap_fresh_limit_ns(a);
	size_t near = 0, last = 0, top = 0;
	bool any = false, in_window = false, fresh = false;
	int64_t best = INT64_MAX;
	for (size_t i = 0; i < s->n; i++) {
		if (live[i] < 0 || res[i] < 0)
			continue;
		int64_t ti = instant(s, heap_t, i);
		if (a->peak_t_ns >= 0) {
			int64_t d = llabs(ti - a->peak_t_ns);
			/* the nearest to the peak's instant, and the most resident close to it; ties: the earlier */
			if (d < best) {
				best = d;
				near = i;
				any = true;
			}
			if (d <= lim && (!in_window || res[i] > res[top])) {
				top = i;
				in_window = true;
			}
		}
		if (i < s->alive && s->t[i] - ti <= lim) {
			last = i;
			fresh = true;
		}
	}
	if (!fresh)
		return;
	a->je_available = true;
	fill(s, last, &a->je_final);
	if (any)
		fill(s, in_window ? top : near, &a->je_peak);
	a->je_threads_peak = max_known(recording_column(rec, "threads"), 0, s->n, NULL, s->t);
	a->je_narenas = a->je_threads_peak > TH_JE_ARENA_THREADS;
}
