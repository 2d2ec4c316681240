/* stage_gc: a garbage-collected runtime's own reports (Go's GODEBUG=gctrace=1, heap mode
 * "gctrace") — how many cycles, the heap each left live, the goal the runtime set — and what they
 * mean for the limit: whether the sawtooth is the collector, and the GOMEMLIMIT and GOGC that fit
 * this run's recommended limit.
 *
 * The rows of a cycle are those with heap_goal (the recorder writes a cycle's figures once, in the
 * first sample after it). The advice:
 *   GOMEMLIMIT = TH_GOMEMLIMIT_FRAC × the recommended limit, rounded down to a Mi: the runtime
 *     then collects harder as its memory nears it, instead of letting the heap reach a goal the
 *     container cannot hold; the rest of the limit is for what the runtime does not count (code,
 *     C allocations) and the kernel's rounding.
 *   GOGC max = the largest GOGC whose goal, live × (1 + GOGC/100) with the highest live heap of
 *     the run, plus what the process held besides the heap (the RSS peak less the highest goal,
 *     a lower bound), stays within that GOMEMLIMIT.
 * Runs after stage_sizing (it needs the recommendation). */
#include <math.h>
#include <string.h>

#include "analyze_stages.h"
#include "thresholds.h"

/* the last known value at or before index to - 1, else `none` */
static int64_t known_before(const int64_t *x, size_t to, int64_t none)
{
	for (size_t i = to; x && i-- > 0;)
		if (x[i] >= 0)
			return x[i];
	return none;
}

void stage_gc(struct series *s, struct analysis *a)
{
	const struct recording *rec = s->rec;
	if (strcmp(rec->run.heap_mode, "gctrace") != 0)
		return;
	const int64_t *goal = recording_column(rec, "heap_goal"), *live = recording_column(rec, "heap_live");
	const int64_t *lpeak = recording_column(rec, "heap_live_peak"), *cyc = recording_column(rec, "gc_cycles");
	const int64_t *rel = recording_column(rec, "heap_released"), *base = recording_column(rec, "heap_goal_base");
	if (!goal || !live || !cyc)
		return;
	size_t last = 0, top = 0;
	bool any = false, any_base = false;
	for (size_t i = 0; i < s->n; i++) {
		if (goal[i] < 0 || live[i] < 0)
			continue;
		any = true;
		last = i;
		if (base && base[i] > 0 && (!any_base || base[i] > base[top])) {
			top = i;
			any_base = true;
		}
		int64_t lp = lpeak && lpeak[i] > live[i] ? lpeak[i] : live[i];
		if (lp > a->gc_live_peak)
			a->gc_live_peak = lp;
		if (goal[i] > a->gc_goal_peak)
			a->gc_goal_peak = goal[i];
	}
	if (!any)
		return;
	a->gc_available = true;
	a->gc_live_final = live[last];
	a->gc_goal_final = goal[last];
	a->gc_cycles = known_before(cyc, s->n, 0);
	a->gc_released_final = known_before(rel, s->n, HR_UNKNOWN);
	/* GOGC read off a cycle's goal and the live heap it was set from (the cycle before), at the
	 * most live heap: there the runtime's 4 MiB minimum and the stacks and globals it adds to the
	 * goal (Go 1.18+: goal = live + (live + stacks + globals) × GOGC/100; whole MiB in the trace,
	 * left out) weigh least */
	if (any_base) {
		a->gc_gogc_live = base[top];
		a->gc_gogc_goal = goal[top];
		if (goal[top] > TH_GO_MIN_GOAL_BYTES)
			a->gc_gogc = 100.0 * (double)(goal[top] - base[top]) / (double)base[top];
	}
	if (s->s1 > s->s0) {
		a->gc_cycles_steady = known_before(cyc, s->s1, 0) - known_before(cyc, s->s0, 0);
		if (a->steady_ns > 0)
			a->gc_cycles_per_s = (double)a->gc_cycles_steady / ((double)a->steady_ns / 1e9);
	}
	a->gc_explains_sawtooth = analysis_finding(a, FINDING_SAWTOOTH) && a->drops > 0 &&
				  a->gc_cycles_steady >= (int64_t)a->drops;
	if (a->rss_peak >= 0)
		a->gc_overhead_bytes = a->rss_peak > a->gc_goal_peak ? a->rss_peak - a->gc_goal_peak : 0;
	if (!a->sized || a->sizing.limit_bytes <= 0)
		return;
	a->gc_limit_bytes = a->sizing.limit_bytes;
	a->gc_gomemlimit_bytes = (int64_t)((double)a->gc_limit_bytes * TH_GOMEMLIMIT_FRAC) / TH_MiB * TH_MiB;
	int64_t room = a->gc_gomemlimit_bytes - (a->gc_overhead_bytes > 0 ? a->gc_overhead_bytes : 0) - a->gc_live_peak;
	if (a->gc_live_peak <= 0)
		return;
	a->gc_gogc_max = room > 0 ? (int64_t)floor(100.0 * (double)room / (double)a->gc_live_peak) : 0;
	a->gc_goal_at_max = a->gc_live_peak + a->gc_live_peak * a->gc_gogc_max / 100;
}
