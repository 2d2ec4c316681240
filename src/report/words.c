#include "words.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sat.h"
#include "thresholds.h"
#include "util.h"

const char *words_size(int64_t bytes, char *buf, size_t len)
{
	if (bytes < 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	return util_size_format(bytes, buf, len);
}

const char *words_duration(int64_t ns, char *buf, size_t len)
{
	if (ns < 0)
		snprintf(buf, len, "-");
	else if (ns == 0)
		snprintf(buf, len, "0s");
	else
		util_duration_format(ns, buf, len);
	return buf;
}

const char *words_pvalue(double p, char *buf, size_t len)
{
	if (isnan(p))
		snprintf(buf, len, "-");
	else if (p < 1e-4)
		snprintf(buf, len, "%.1e", p);
	else
		snprintf(buf, len, "%.3g", p);
	return buf;
}

const char *words_change(const struct analysis *a, double bytes_per_s, int64_t change_bytes, char *buf, size_t len)
{
	if (isnan(bytes_per_s) || change_bytes == HR_UNKNOWN) {
		snprintf(buf, len, "-");
	} else if (a->steady_ns >= TH_PER_HOUR_MIN_NS) {
		snprintf(buf, len, "%+.1fMi/h", bytes_per_s * 3600.0 / (double)UTIL_MiB);
	} else {
		char d[32], b[32];
		/* |INT64_MIN| does not fit: the saturated figure's magnitude is INT64_MAX */
		int64_t mag = change_bytes < 0 ? (change_bytes == INT64_MIN ? INT64_MAX : -change_bytes) : change_bytes;
		snprintf(buf, len, "%s%s over %s", change_bytes < 0 ? "-" : "+", words_size(mag, b, sizeof(b)),
			 words_duration(a->steady_ns, d, sizeof(d)));
	}
	return buf;
}

const char *words_basis(enum analyze_basis b)
{
	switch (b) {
	case BASIS_CG_USAGE: return "cgroup usage";
	case BASIS_WORKING_SET: return "working set";
	case BASIS_RSS: break;
	}
	return "RSS";
}

const char *words_headline(const struct analysis *a, char *buf, size_t len)
{
	char x[32], y[32], z[32];
	if (a->peak < 0) {
		snprintf(buf, len, "No memory samples were recorded: nothing to judge. Run longer than one sampling interval.");
		return buf;
	}
	if (a->nfindings > 0)
		return words_finding(a, &a->findings[0], buf, len);
	if (a->stabilized_after_ns >= 0)
		snprintf(buf, len, "Memory is stable: it settled after %s at %s and peaked at %s.",
			 words_duration(a->stabilized_after_ns, x, sizeof(x)), words_size(a->steady_p50, y, sizeof(y)),
			 words_size(a->peak, z, sizeof(z)));
	else
		snprintf(buf, len, "Memory is stable at %s and peaked at %s.", words_size(a->steady_p50, y, sizeof(y)),
			 words_size(a->peak, z, sizeof(z)));
	return buf;
}

/* the sentence of a finding, without the remedy */
/* A growing verdict names the code when sites were sampled: the suspect that grows the most. The
 * name comes from the recording, cleaned of control characters when it was read. */
static void words_suspect(const struct analysis *a, char *buf, size_t len)
{
	if (!a->sites || a->nsuspects == 0)
		return;
	const struct analyze_site *st = &a->suspects[0];
	char x[32];
	size_t n = strlen(buf);
	snprintf(buf + n, len - n, " It grows at %s (+%s through the steady phase%s).", st->name,
		 words_size(st->change_bytes, x, sizeof(x)), a->nsuspects > 1 ? "; more suspects under Allocation sites" : "");
}

static void say(const struct analysis *a, const struct finding *f, char *buf, size_t len)
{
	char x[48], y[48], z[48];
	switch (f->kind) {
	case FINDING_OOM_KILLED:
		snprintf(buf, len, "OOM-killed with %s in use%s%s: it needs more than that, and how much more is unknown.",
			 words_size(f->bytes, x, sizeof(x)), a->limit_bytes > 0 ? " under a limit of " : "",
			 a->limit_bytes > 0 ? words_size(a->limit_bytes, y, sizeof(y)) : "");
		break;
	case FINDING_LOAD_FAILED:
		snprintf(buf, len, "The load failed: %lld of %lld requests (%.0f %%) were errors, so it did not exercise the "
			 "service and the memory figures do not describe serving traffic.", (long long)a->load_errors,
			 (long long)a->load_requests, f->ratio * 100);
		break;
	case FINDING_NOT_READY:
		snprintf(buf, len, "The service never became ready (it did not accept connections in time): the run never "
			 "reached its steady state.");
		break;
	case FINDING_GROWING:
		snprintf(buf, len, "Memory grows by %s (Mann–Kendall p = %s): no limit is safe.",
			 words_change(a, a->slope_bytes_per_s, a->change_bytes, x, sizeof(x)), words_pvalue(a->mk_p, y, sizeof(y)));
		if (a->sized && a->sizing.time_to_limit_ns >= 0 && a->sizing.time_to_limit_ns < INT64_MAX) {
			size_t n = strlen(buf);
			snprintf(buf + n, len - n, " At this slope it reaches the proposed limit %s in %s.",
				 words_size(a->sizing.limit_bytes, x, sizeof(x)),
				 words_duration(a->sizing.time_to_limit_ns, y, sizeof(y)));
		}
		words_suspect(a, buf, len);
		break;
	case FINDING_HEAP_GROWING:
		snprintf(buf, len, "The live heap grows by %s (p = %s): live data is accumulating — a leak or an unbounded cache.",
			 words_change(a, a->heap_slope_bytes_per_s, a->heap_change_bytes, x, sizeof(x)), words_pvalue(a->heap_mk_p, y, sizeof(y)));
		words_suspect(a, buf, len);
		break;
	case FINDING_TRACKS_LOAD:
		snprintf(buf, len, "Memory follows the load (r = %.2f with the connections, a swing of %s) and peaked at %s "
			 "under the load tested.", f->ratio, words_size(f->bytes, x, sizeof(x)),
			 words_size(a->traffic_peak, y, sizeof(y)));
		break;
	case FINDING_SAWTOOTH:
		snprintf(buf, len, "Memory fills and empties in a sawtooth: %zu drops of at least %s, each after a rise %.1fx "
			 "as long as the fall — something collects or flushes (a GC, a cache, batches); the teeth reach %s.",
			 a->drops, words_size(a->drop_threshold, x, sizeof(x)), f->ratio, words_size(a->traffic_peak, y, sizeof(y)));
		break;
	case FINDING_SPIKY:
		snprintf(buf, len, "Memory is spiky: %zu short spike(s) reach %s, %.2fx the median %s, above half-way only "
			 "%.1f %% of the time.", a->spikes, words_size(a->traffic_peak, x, sizeof(x)), a->peak_median_ratio,
			 words_size(a->steady_p50, y, sizeof(y)), a->spike_time_fraction * 100);
		break;
	case FINDING_STARTUP_PEAK:
		snprintf(buf, len, "Startup sets the limit: its peak %s is %.2fx the traffic peak %s.",
			 words_size(a->startup_peak, x, sizeof(x)), f->ratio, words_size(a->traffic_peak, y, sizeof(y)));
		break;
	case FINDING_RETENTION:
		snprintf(buf, len, "%s is held by the allocator (%.0f %% of RSS %s at %s%s): memory the program freed and "
			 "the allocator keeps for reuse, not live data — not a leak.", words_size(f->bytes, x, sizeof(x)),
			 isnan(f->ratio) ? 0 : f->ratio * 100, words_size(a->bd.rss, y, sizeof(y)),
			 words_duration(a->bd_t_ns, z, sizeof(z)),
			 a->bd_allocator_estimated ? "; estimated as the anonymous memory that is not live heap" : "");
		break;
	case FINDING_NOT_RELEASED:
		snprintf(buf, len, "After the load memory stays at %s: it is not given back.", words_size(f->bytes, x, sizeof(x)));
		break;
	case FINDING_DASHBOARD_BLIND:
		snprintf(buf, len, "A 15 s dashboard would have shown at best %s of the true peak %s (%.0f %%): %s unseen.",
			 words_size(a->blind[0].best_bytes, x, sizeof(x)), words_size(a->peak, y, sizeof(y)), f->ratio * 100,
			 words_size(f->bytes, z, sizeof(z)));
		break;
	case FINDING_HEAP_STALE:
		snprintf(buf, len, "The heap figures at the end are %.1fs old: the process did not answer (stopped or blocked), "
			 "so no view presents them as current.", f->ratio);
		break;
	case FINDING_TOO_SHORT:
		snprintf(buf, len, "Too short to judge a trend: only %s of steady state (%zu samples) after startup; record at "
			 "least %s more.", words_duration(a->steady_ns, x, sizeof(x)), a->steady_samples,
			 words_duration(a->need_more_ns, y, sizeof(y)));
		break;
	case FINDING_NKINDS:
		snprintf(buf, len, "-");
		break;
	}
}

const char *words_finding(const struct analysis *a, const struct finding *f, char *buf, size_t len)
{
	say(a, f, buf, len);
	/* the remedy as its own sentence: "... tested. Size it for the highest load you expect." */
	const char *remedy = finding_remedy(f->kind, a->allocator);
	size_t n = strlen(buf);
	if (remedy[0] && n + 4 < len)
		snprintf(buf + n, len - n, " %c%s.", toupper((unsigned char)remedy[0]), remedy + 1);
	return buf;
}

const char *words_heap(const struct analysis *a, char *buf, size_t len)
{
	char x[48], y[48], z[48], w[48];
	if (!a->heap_available) {
		char safe[600];   /* the status is the recording's text: escaped for the terminal */
		snprintf(buf, len, "unavailable — %s", util_term_escape(a->heap_why, safe, sizeof(safe), false));
		return buf;
	}
	if (a->heap_finding == HEAP_LIVE_GROWING) {
		snprintf(buf, len, "live heap grows with memory (%s): live data is accumulating.",
			 words_change(a, a->heap_slope_bytes_per_s, a->heap_change_bytes, x, sizeof(x)));
	} else if (a->heap_finding == HEAP_RETENTION && strcmp(a->allocator, "go") == 0) {
		snprintf(buf, len, "live heap after the last GC cycle is %s while the Go runtime holds %s more at %s: garbage "
			 "until the next cycle and free spans until the scavenger returns them (GOGC and GOMEMLIMIT set "
			 "how much), not a leak.",
			 words_size(a->bd.heap >= 0 ? a->bd.heap : a->heap_live_final, x, sizeof(x)),
			 words_size(a->bd.allocator >= 0 ? a->bd.allocator : a->heap_gap_bytes, y, sizeof(y)),
			 words_duration(a->bd_t_ns, z, sizeof(z)));
	} else if (a->heap_finding == HEAP_RETENTION) {
		snprintf(buf, len, "live heap is %s while the allocator holds %s at %s: retention or fragmentation, not a leak.",
			 words_size(a->bd.heap >= 0 ? a->bd.heap : a->heap_live_final, x, sizeof(x)),
			 words_size(a->bd.allocator >= 0 ? a->bd.allocator : a->heap_gap_bytes, y, sizeof(y)),
			 words_duration(a->bd_t_ns, z, sizeof(z)));
	} else if (a->have_breakdown && a->bd.allocator >= 0) {
		/* say which of the two thresholds it stays under (both must be crossed to matter) */
		double pct = isnan(a->bd_held_ratio) ? 0 : a->bd_held_ratio * 100;
		bool small = a->bd.allocator < TH_HELD_MIN_BYTES, low = pct < TH_HELD_RATIO * 100;
		char under[96];
		util_size_format(TH_HELD_MIN_BYTES, w, sizeof(w));
		if (small && low)
			snprintf(under, sizeof(under), "under both the %s and the %.0f %% of RSS", w, TH_HELD_RATIO * 100);
		else if (small)
			snprintf(under, sizeof(under), "under the %s", w);
		else
			snprintf(under, sizeof(under), "under the %.0f %% of RSS", TH_HELD_RATIO * 100);
		snprintf(buf, len, "the allocator holds %s (%.0f %% of RSS): %s that would be worth tuning; the live heap "
			 "does not grow.", words_size(a->bd.allocator, x, sizeof(x)), pct, under);
	} else {
		snprintf(buf, len, "the live heap does not grow; no breakdown says what the allocator holds.");
	}
	return buf;
}

const char *words_gc(const struct analysis *a, char *buf, size_t len)
{
	char x[48], y[48], z[48], g[160], r[64] = "", u[48], v[48];
	if (!a->gc_available) {
		snprintf(buf, len, "%s", "");
		return buf;
	}
	if (!isnan(a->gc_gogc))
		snprintf(g, sizeof(g), "; a goal of %s set from a live heap of %s: GOGC %.0f",
			 words_size(a->gc_gogc_goal, v, sizeof(v)), words_size(a->gc_gogc_live, u, sizeof(u)), a->gc_gogc);
	else
		snprintf(g, sizeof(g), " (GOGC cannot be read off the trace: no two consecutive cycles above the "
			 "runtime's 4Mi minimum goal were read)");
	if (a->gc_released_final >= 0)
		snprintf(r, sizeof(r), "; %s released to the OS", words_size(a->gc_released_final, z, sizeof(z)));
	int n = snprintf(buf, len, "%lld GC cycles, %lld in the steady phase", (long long)a->gc_cycles,
			 (long long)(a->gc_cycles_steady >= 0 ? a->gc_cycles_steady : 0));
	if (!isnan(a->gc_cycles_per_s) && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, " (%.2g/s)", a->gc_cycles_per_s);
	if (n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, "; live heap after the last %s, goal %s%s%s.",
			      words_size(a->gc_live_final, x, sizeof(x)), words_size(a->gc_goal_final, y, sizeof(y)), g, r);
	if (a->gc_explains_sawtooth && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " The sawtooth is the garbage collector: %zu teeth against %lld cycles "
			 "in the steady phase — the heap grows towards the goal and a cycle brings it back to what is live.",
			 a->drops, (long long)a->gc_cycles_steady);
	return buf;
}

const char *words_gc_gomemlimit(const struct analysis *a, char *buf, size_t len)
{
	char x[48], y[48], o[48];
	if (!a->gc_available) {
		snprintf(buf, len, "%s", "");
		return buf;
	}
	if (a->gc_gomemlimit_bytes <= 0) {
		snprintf(buf, len, "no GOMEMLIMIT or GOGC from this run: no limit was recommended");
		return buf;
	}
	bool over = a->gc_goal_peak + (a->gc_overhead_bytes > 0 ? a->gc_overhead_bytes : 0) > a->gc_gomemlimit_bytes;
	snprintf(buf, len, "GOMEMLIMIT=%lldMiB (%.0f %% of the recommended limit %s): the runtime collects harder as its "
		 "memory nears it instead of letting the heap reach a goal the container cannot hold. This run's highest "
		 "goal %s plus %s besides the heap %s.",
		 (long long)(a->gc_gomemlimit_bytes / TH_MiB), TH_GOMEMLIMIT_FRAC * 100,
		 words_size(a->gc_limit_bytes, x, sizeof(x)), words_size(a->gc_goal_peak, y, sizeof(y)),
		 words_size(a->gc_overhead_bytes > 0 ? a->gc_overhead_bytes : 0, o, sizeof(o)),
		 over ? "goes over it: it would have collected sooner, with more GC CPU, instead of growing"
		      : "stays under it: it would not have changed this run, only a heavier one");
	return buf;
}

const char *words_gc_gogc(const struct analysis *a, char *buf, size_t len)
{
	char x[48], y[48], z[48];
	if (!a->gc_available || a->gc_gomemlimit_bytes <= 0 || a->gc_gogc_max < 0) {
		snprintf(buf, len, "%s", "");
		return buf;
	}
	if (a->gc_gogc_max == 0) {
		snprintf(buf, len, "no GOGC fits: the highest live heap %s with what the process holds besides it leaves "
			 "nothing under GOMEMLIMIT=%lldMiB; the limit is too small for this run's live data",
			 words_size(a->gc_live_peak, x, sizeof(x)), (long long)(a->gc_gomemlimit_bytes / TH_MiB));
		return buf;
	}
	int n = snprintf(buf, len, "GOGC up to %lld keeps the goal (highest live %s × %.2f = %s) and the rest under "
			 "GOMEMLIMIT", (long long)a->gc_gogc_max, words_size(a->gc_live_peak, x, sizeof(x)),
			 1 + (double)a->gc_gogc_max / 100, words_size(a->gc_goal_at_max, y, sizeof(y)));
	if (isnan(a->gc_gogc) || n < 0 || (size_t)n >= len) {
		if (n >= 0 && (size_t)n < len)
			snprintf(buf + n, len - (size_t)n, ".");
		return buf;
	}
	/* the same allocation, a goal (GOGC/100 × live) above the live heap: cycles scale as 1/GOGC */
	double ratio = a->gc_gogc / (double)a->gc_gogc_max;
	n += snprintf(buf + n, len - (size_t)n, "; this run ran at GOGC %.0f (a goal of %s for %s live)", a->gc_gogc,
		      words_size(a->gc_gogc_goal, z, sizeof(z)), words_size(a->gc_gogc_live, y, sizeof(y)));
	if (n < 0 || (size_t)n >= len)
		return buf;
	if (!isnan(a->gc_cycles_per_s) && a->gc_cycles_per_s > 0)
		snprintf(buf + n, len - (size_t)n, ": GOGC=%lld would mean about %.2g× the cycles (%.2g/s instead of %.2g/s) "
			 "for %s memory.", (long long)a->gc_gogc_max, ratio, a->gc_cycles_per_s * ratio,
			 a->gc_cycles_per_s, ratio > 1 ? "less" : "more");
	else
		snprintf(buf + n, len - (size_t)n, ": GOGC=%lld would mean about %.2g× the cycles for %s memory.",
			 (long long)a->gc_gogc_max, ratio, ratio > 1 ? "less" : "more");
	return buf;
}

/* appends to buf (NUL-terminated, strlen(buf) < len), truncating */
__attribute__((format(printf, 3, 4))) static void append(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	if (n + 1 >= len)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

static void je_figures(char *buf, size_t len, const struct analyze_je *je)
{
	char x[48];
	append(buf, len, "%s allocated", words_size(je->allocated, x, sizeof(x)));
	if (je->active >= 0)
		append(buf, len, ", %s active", words_size(je->active, x, sizeof(x)));
	append(buf, len, ", %s resident", words_size(je->resident, x, sizeof(x)));
	if (je->retained >= 0)
		append(buf, len, ", %s retained (address space kept, not resident)", words_size(je->retained, x, sizeof(x)));
	if (je->metadata >= 0)
		append(buf, len, ", %s metadata", words_size(je->metadata, x, sizeof(x)));
}

static void je_gap(char *buf, size_t len, const struct analyze_je *je)
{
	char x[48], y[48];
	append(buf, len, "resident − allocated %s", words_size(je->gap, x, sizeof(x)));
	if (!isnan(je->gap_ratio))
		append(buf, len, " (%.0f %% of RSS %s)", je->gap_ratio * 100, words_size(je->rss, y, sizeof(y)));
	if (je->dirty >= 0)
		append(buf, len, ", of it %s dirty pages (freed, kept resident for reuse)", words_size(je->dirty, x, sizeof(x)));
}

const char *words_jemalloc(const struct analysis *a, char *buf, size_t len)
{
	char t[48];
	if (len)
		buf[0] = '\0';
	if (!a->je_available)
		return buf;
	if (a->je_peak.t_ns >= 0) {
		append(buf, len, "near the true peak (figures of %s): ", words_duration(a->je_peak.t_ns, t, sizeof(t)));
		je_figures(buf, len, &a->je_peak);
		append(buf, len, "; ");
		je_gap(buf, len, &a->je_peak);
		append(buf, len, ". At the end (%s): ", words_duration(a->je_final.t_ns, t, sizeof(t)));
	} else {
		append(buf, len, "at the end (%s): ", words_duration(a->je_final.t_ns, t, sizeof(t)));
	}
	je_figures(buf, len, &a->je_final);
	append(buf, len, "; ");
	je_gap(buf, len, &a->je_final);
	append(buf, len, ".");
	return buf;
}

const char *words_jemalloc_advice(const struct analysis *a, char *buf, size_t len)
{
	char x[48], y[48], z[48];
	if (len)
		buf[0] = '\0';
	if (!a->je_available)
		return buf;
	const struct analyze_je *e = &a->je_final, *p = &a->je_peak;
	if (!e->gap_large && !p->gap_large) {
		util_size_format(TH_HELD_MIN_BYTES, z, sizeof(z));
		append(buf, len, "jemalloc's settings need no change: resident − allocated stays under %s or %.0f %% of RSS "
		       "(at the end %s", z, TH_HELD_RATIO * 100, words_size(e->gap, x, sizeof(x)));
		if (!isnan(e->gap_ratio))
			append(buf, len, ", %.0f %%", e->gap_ratio * 100);
		if (p->t_ns >= 0) {
			append(buf, len, "; near the peak %s", words_size(p->gap, y, sizeof(y)));
			if (!isnan(p->gap_ratio))
				append(buf, len, ", %.0f %%", p->gap_ratio * 100);
		}
		append(buf, len, ").");
		return buf;
	}
	/* the figures the advice speaks of: the end's when its gap is large, else the peak's */
	const struct analyze_je *j = e->gap_large ? e : p;
	const char *when = e->gap_large ? "at the end" : "near the peak";
	append(buf, len, "The gap is jemalloc's to give back, not live data: MALLOC_CONF=background_thread:true,"
	       "dirty_decay_ms:%d. dirty_decay_ms (default %d): how long freed pages stay resident before jemalloc "
	       "purges them; at %d ", TH_JE_DIRTY_DECAY_MS_ADVISED, TH_JE_DIRTY_DECAY_MS_DEFAULT, TH_JE_DIRTY_DECAY_MS_ADVISED);
	if (j->dirty >= 0 && j->rss > 0) {
		int64_t after = j->rss > j->dirty ? j->rss - j->dirty : 0;
		append(buf, len, "the %s of dirty pages %s goes back about a second after it is freed (RSS %s about %s "
		       "instead of %s)", words_size(j->dirty, x, sizeof(x)), when, when, words_size(after, y, sizeof(y)),
		       words_size(j->rss, z, sizeof(z)));
	} else {
		append(buf, len, "up to the %s %s goes back about a second after it is freed", words_size(j->gap, x, sizeof(x)),
		       when);
	}
	append(buf, len, ", at the cost of page faults when the memory is used again. muzzy_decay_ms: keep it 0 (the "
	       "default): a muzzy page (MADV_FREE) stays in RSS until the kernel runs short of memory. "
	       "background_thread:true purges on jemalloc's own thread: without it decay advances only when the program "
	       "allocates or frees, so a service idle after a burst keeps its dirty pages.");
	if (a->je_narenas)
		append(buf, len, " narenas:N (N about the container's CPUs): this run had up to %lld threads, each allocating "
		       "from one of up to 4 × CPUs arenas that keep their own dirty pages, and jemalloc counts the CPUs it may "
		       "run on, not the container's CPU quota; fewer arenas hold less, at the cost of more lock contention.",
		       (long long)a->je_threads_peak);
	if (j->dirty >= 0 && j->gap > j->dirty)
		append(buf, len, " The other %s of the gap (active − allocated: partly used pages and size-class rounding; "
		       "metadata) is not decay's to return.", words_size(j->gap - j->dirty, x, sizeof(x)));
	append(buf, len, " For a jemalloc compiled into the binary: an unprefixed one (Debian's libjemalloc_pic.a) reads "
	       "MALLOC_CONF or a malloc_conf symbol in the binary; Rust's tikv-jemallocator reads _RJEM_MALLOC_CONF or a "
	       "_rjem_malloc_conf symbol (#[export_name = \"_rjem_malloc_conf\"] static CONF: &[u8] = "
	       "b\"background_thread:true,dirty_decay_ms:%d\\0\";).", TH_JE_DIRTY_DECAY_MS_ADVISED);
	return buf;
}

static int part(struct words_part *p, int n, int max, const char *name, const char *cls, int64_t bytes, bool keep_zero,
		const char *why)
{
	if (n >= max || bytes < 0 || (bytes == 0 && !keep_zero))
		return n;
	p[n] = (struct words_part){name, cls, bytes, why};
	return n + 1;
}

int words_parts(const struct analysis *a, struct words_part *p, int max)
{
	if (!a->have_breakdown)
		return 0;
	const struct breakdown *b = &a->bd;
	int n = 0;
	bool heap = b->heap >= 0;
	if (heap) {
		n = part(p, n, max, "live heap", "live", b->heap, true,
			 "rooms in use: bytes the program allocated and has not freed. If this grows steadily the service "
			 "leaks or caches without bound.");
		n = part(p, n, max, "allocator-held", "held", b->allocator, true,
			 b->allocator_estimated
				 ? "empty shelves: anonymous memory that is not live heap (the allocator gave no figure of its "
				   "own), kept for reuse — not a leak."
				 : "empty shelves: freed memory the allocator keeps resident for reuse — not a leak.");
	}
	n = part(p, n, max, "thread stacks", "stacks", b->stacks, false,
		 "one stack per thread, as deep as it was ever touched; fewer threads or smaller stacks shrink it.");
	n = part(p, n, max, a->bd_coarse ? "file-backed (code, libraries, files)" : "code, libraries", "code",
		 a->bd_coarse ? b->mapped_files : b->code, false,
		 "the program's and its libraries' files: a fixed cost, shared with other processes mapping them.");
	if (!a->bd_coarse)
		n = part(p, n, max, "mapped files", "files", b->mapped_files, false,
			 "data files mapped into memory: clean pages are reclaimable, but they count in RSS and the cgroup.");
	n = part(p, n, max, "shared memory", "shmem", b->shmem, false,
		 "tmpfs, /dev/shm, memfd and SysV segments: charged to the cgroup, not reclaimable without swap.");
	n = part(p, n, max, heap ? "other" : "anonymous (heap and more)", "anon", b->other, false,
		 heap ? "anonymous memory outside the heap: direct mmap, a runtime's own heap (Go, JVM), [vdso] and the like."
		      : "private anonymous memory: the heap, the allocator's free space and direct mmap together; without "
			"heap figures they cannot be told apart.");
	return n;
}
