#include "explain.h"

#include <errno.h>
#include <string.h>

#include "util.h"

const char *const explain_columns[] = {
	"rss", "rss_peak", "map_anon", "map_stacks", "map_code", "map_files", "map_shmem", "map_other",
	"heap_live", "heap_held", "heap_mmapped", "heap_live_peak", "heap_allocs", NULL,
};

static void take_max(int64_t *m, int64_t v)
{
	if (v != HR_UNKNOWN && (*m == HR_UNKNOWN || v > *m))
		*m = v;
}

int explain_compute(const struct recording *rec, struct explain *ret)
{
	const int64_t *c[13];
	for (int i = 0; explain_columns[i]; i++)
		if (!(c[i] = recording_column(rec, explain_columns[i])))
			return -EINVAL;
	const int64_t *rss = c[0], *rss_peak = c[1], *live = c[8], *held = c[9], *live_peak = c[11];
	struct explain e;
	memset(&e, 0, sizeof(e));
	e.duration_ns = rec->run.duration_ns;
	e.nsamples = rec->nsamples;
	e.rss_peak = e.rss_final = e.live_peak = e.live_final = e.held_final = e.held_peak = HR_UNKNOWN;
	e.live_first_half = e.live_second_half = e.allocations = HR_UNKNOWN;
	snprintf(e.heap_status, sizeof(e.heap_status), "%s", rec->run.heap_status);
	/* "available: glibc, stats mode" */
	if (strncmp(rec->run.heap_status, "available", 9) == 0) {
		const char *a = rec->run.heap_status + 9;
		a += strspn(a, ": ");
		snprintf(e.allocator, sizeof(e.allocator), "%.*s", (int)strcspn(a, ","), a);
	}
	size_t half = rec->nsamples / 2;
	for (size_t i = 0; i < rec->nsamples; i++) {
		take_max(&e.rss_peak, rss[i]);
		take_max(&e.rss_peak, rss_peak[i]);
		if (rss[i] != HR_UNKNOWN)
			e.rss_final = rss[i];
		take_max(&e.live_peak, live[i]);
		take_max(&e.live_peak, live_peak[i]);
		take_max(&e.held_peak, held[i]);
		take_max(&e.allocations, c[12][i]);
		take_max(i < half ? &e.live_first_half : &e.live_second_half, live[i]);
		if (live[i] != HR_UNKNOWN) {
			e.heap_available = true;
			e.live_final = live[i];
			e.held_final = held[i];
		}
		if (c[2][i] != HR_UNKNOWN) {
			struct sample s;
			sample_clear(&s);
			s.rss = rss[i];
			s.map_anon = c[2][i];
			s.map_stacks = c[3][i];
			s.map_code = c[4][i];
			s.map_files = c[5][i];
			s.map_shmem = c[6][i];
			s.map_other = c[7][i];
			s.heap_live = live[i];
			s.heap_held = held[i];
			if (breakdown_from_sample(&s, &e.parts) == 0) {
				e.have_breakdown = true;
				e.breakdown_t_ns = rec->t_ns[i];
			}
		}
	}
	if (e.have_breakdown && e.parts.allocator != HR_UNKNOWN && e.parts.rss > 0) {
		e.held_ratio = (double)e.parts.allocator / (double)e.parts.rss;
		e.held_dominates = e.held_ratio >= EXPLAIN_HELD_RATIO && e.parts.allocator >= EXPLAIN_HELD_MIN;
	}
	if (e.live_first_half != HR_UNKNOWN && e.live_second_half != HR_UNKNOWN && rec->nsamples >= 10) {
		int64_t d = e.live_second_half - e.live_first_half;
		int64_t base = e.live_first_half > 0 ? e.live_first_half : 1;
		if (d >= EXPLAIN_GROWTH_MIN && (double)d / (double)base >= EXPLAIN_GROWTH_RATIO)
			e.heap_trend = EXPLAIN_HEAP_GROWING;
		else if (-d >= EXPLAIN_GROWTH_MIN && (double)-d / (double)base >= EXPLAIN_GROWTH_RATIO)
			e.heap_trend = EXPLAIN_HEAP_FALLING;
		else
			e.heap_trend = EXPLAIN_HEAP_FLAT;
	}
	e.stayed_high = e.rss_peak > 0 && e.rss_final != HR_UNKNOWN &&
			util_mul_sat(e.rss_final, 10) >= util_mul_sat(e.rss_peak, 9);
	*ret = e;
	return 0;
}

static const char *sz(int64_t v, char *buf)
{
	return util_size_format(v, buf, 32);
}

static int pct(int64_t part, int64_t whole)
{
	return whole > 0 ? (int)(100.0 * (double)part / (double)whole + 0.5) : 0;
}

static void remedies(const char *allocator, FILE *f)
{
	if (strcmp(allocator, "jemalloc") == 0) {
		fprintf(f, "  - let jemalloc return memory sooner: MALLOC_CONF=background_thread:true,dirty_decay_ms:1000\n"
			   "    (the default keeps freed pages 10 s; muzzy_decay_ms:0 too if it was changed)\n"
			   "  - fewer arenas for a service with many threads: MALLOC_CONF=narenas:4\n");
	} else if (strcmp(allocator, "mimalloc") == 0) {
		fprintf(f, "  - let mimalloc purge sooner: MIMALLOC_PURGE_DELAY=0 (2.1+) or MIMALLOC_RESET_DELAY=0 (2.0)\n"
			   "  - MIMALLOC_ARENA_EAGER_COMMIT=0 so arenas are committed as they are used\n");
	} else {
		fprintf(f, "  - fewer arenas: MALLOC_ARENA_MAX=2 (glibc keeps up to 8 per core, each with its own free memory)\n"
			   "  - give free pages back after a burst: call malloc_trim(0) (or lower the trim threshold:\n"
			   "    GLIBC_TUNABLES=glibc.malloc.trim_threshold=1048576)\n"
			   "  - or run it over jemalloc with background_thread:true, which returns freed memory on its own\n");
	}
}

void explain_print(const struct explain *e, const struct recording *rec, FILE *f)
{
	char a[32], b[32], d[32], safe[8192];
	/* recorded text is the program's: escaped so it cannot drive the terminal */
	fprintf(f, "headroom explain: %s\n", util_term_escape(rec->run.command, safe, sizeof(safe), false));
	fprintf(f, "  %s %s, %zu samples%s\n\n", rec->run.mode, util_duration_format(e->duration_ns, a, sizeof(a)),
		e->nsamples, rec->run.finished ? "" : " (the recording was cut short)");

	/* the building */
	if (e->rss_peak == HR_UNKNOWN) {
		fprintf(f, "The recording holds no RSS figures: there is nothing to explain.\n");
		return;
	}
	fprintf(f, "The building (RSS, what the kernel counts against the process): peaked at %s, ended at %s.\n",
		sz(e->rss_peak, a), sz(e->rss_final, b));

	/* the parts */
	if (e->have_breakdown) {
		const struct breakdown *p = &e->parts;
		fprintf(f, "\nWhat it was made of at %s (%s in all):\n", util_duration_format(e->breakdown_t_ns, d, sizeof(d)),
			sz(p->rss, a));
		if (p->heap != HR_UNKNOWN) {
			fprintf(f, "  rooms in use      %10s %3d%%  live heap: memory the program asked for and still holds\n",
				sz(p->heap, a), pct(p->heap, p->rss));
			fprintf(f, "  empty shelves     %10s %3d%%  held by the allocator%s%s%s: freed by the program, kept for reuse\n",
				sz(p->allocator == HR_UNKNOWN ? 0 : p->allocator, a), pct(p->allocator, p->rss),
				e->allocator[0] ? " (" : "", e->allocator, e->allocator[0] ? ")" : "");
		}
		fprintf(f, "  thread stacks     %10s %3d%%\n", sz(p->stacks, a), pct(p->stacks, p->rss));
		fprintf(f, "  code, libraries   %10s %3d%%  the program's and its libraries' files, shared with other processes\n",
			sz(p->code, a), pct(p->code, p->rss));
		fprintf(f, "  mapped files      %10s %3d%%  page cache the kernel can drop and read again\n", sz(p->mapped_files, a),
			pct(p->mapped_files, p->rss));
		fprintf(f, "  shared memory     %10s %3d%%\n", sz(p->shmem, a), pct(p->shmem, p->rss));
		fprintf(f, "  other             %10s %3d%%  %s\n", sz(p->other, a), pct(p->other, p->rss),
			p->heap != HR_UNKNOWN ? "anonymous memory outside the heap (mmap by the program or its runtime)"
					      : "anonymous memory: heap, allocator and runtime together");
	}

	/* the rooms */
	fprintf(f, "\n");
	if (!e->heap_available) {
		fprintf(f, "The heap was not measured: %s.\n",
			e->heap_status[0] ? util_term_escape(e->heap_status, safe, sizeof(safe), false) : "not recorded");
		fprintf(f, "Without it the rooms in use and the empty shelves cannot be told apart: both are in\n"
			   "\"other\" above. Run it again with the heap shim (headroom run without --no-heap) where it applies.\n");
	} else {
		fprintf(f, "Rooms in use (live heap): peaked at %s, ended at %s.\n", sz(e->live_peak, a), sz(e->live_final, b));
		if (e->held_final != HR_UNKNOWN)
			fprintf(f, "Empty shelves (held by the allocator): %s at the end (the most was %s).\n",
				sz(e->held_final, a), sz(e->held_peak, b));
		if (e->heap_trend == EXPLAIN_HEAP_GROWING)
			fprintf(f, "\nThe live heap GREW during the run (highest %s in the first half, %s in the second):\n"
				   "the program keeps more and more memory. That is a leak or a cache without a bound;\n"
				   "it is worth acting on: find what holds it (a heap profiler, e.g. heaptrack) and bound it.\n",
				sz(e->live_first_half, a), sz(e->live_second_half, b));
		else if (e->heap_trend == EXPLAIN_HEAP_FLAT || e->heap_trend == EXPLAIN_HEAP_FALLING)
			fprintf(f, "\nThe live heap did not grow during the run (highest %s in the first half, %s in the\n"
				   "second): no sign of a leak.\n",
				sz(e->live_first_half, a), sz(e->live_second_half, b));
	}

	/* the shelves */
	if (e->held_dominates) {
		fprintf(f, "\nMOST OF THIS MEMORY IS HELD BY THE ALLOCATOR, NOT BY THE PROGRAM: %s of %s (%d%%) is\n"
			   "memory the program has freed and the allocator%s%s%s keeps for reuse. It is not a leak: the\n"
			   "program holds only %s. The allocator keeps freed memory when a few live blocks are\n"
			   "scattered over its pages (fragmentation) or to serve the next burst quickly, and returns\n"
			   "it slowly or never. The pod still pays for it: RSS and the cgroup count it.\n"
			   "What to do, if the size matters:\n",
			sz(e->parts.allocator, a), sz(e->parts.rss, b), pct(e->parts.allocator, e->parts.rss),
			e->allocator[0] ? " (" : "", e->allocator, e->allocator[0] ? ")" : "", sz(e->parts.heap, d));
		remedies(e->allocator, f);
	} else if (e->have_breakdown && e->parts.allocator != HR_UNKNOWN) {
		fprintf(f, "\nThe allocator holds %s (%d%% of RSS): below the %d%% and %s that would be worth tuning.\n",
			sz(e->parts.allocator, a), pct(e->parts.allocator, e->parts.rss), (int)(EXPLAIN_HELD_RATIO * 100),
			sz(EXPLAIN_HELD_MIN, b));
	}

	/* what is normal */
	if (e->stayed_high && e->rss_peak > 0)
		fprintf(f, "\nRSS ended near its peak (%s of %s). After load that is normal: freed memory is kept for\n"
			   "reuse rather than returned, so size the pod for the peak, not for the quiet moments.\n",
			sz(e->rss_final, a), sz(e->rss_peak, b));
}
