/* stage_phases: where startup ends (ready, the first load stage, or memory settling), the phase
 * table (startup, idle, each load stage, after load, or steady), and the steady range [s0, s1)
 * with its levels. The startup peak is the startup phase's own peak: one figure, one place. */
#include <stdio.h>
#include <string.h>

#include "analyze_stages.h"
#include "sat.h"
#include "stats.h"

static void add_phase(struct analysis *a, const char *name, int64_t stage, int64_t from, int64_t to, int64_t conns)
{
	if (a->nphases >= ANALYZE_MAX_PHASES || to <= from)
		return;
	struct analyze_phase *p = &a->phases[a->nphases++];
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->stage = stage;
	p->start_ns = from;
	p->end_ns = to;
	p->connections = conns;
	p->peak_bytes = p->p50_bytes = p->rss_peak_bytes = HR_UNKNOWN;
}

/* Load stages from the stage events (value = stage index), else from the per-second load rows. */
static void place_load(const struct recording *rec, struct analysis *a, int64_t end_ns)
{
	int64_t first = HR_UNKNOWN, last = HR_UNKNOWN;
	for (size_t i = 0; i < rec->nload; i++) {
		int64_t from = sat_sub(rec->load[i].t_ns, 1000000000LL);
		if (from < 0)
			from = 0;
		if (first < 0 || from < first)
			first = from;
		if (rec->load[i].t_ns > last)
			last = rec->load[i].t_ns;
	}
	for (size_t i = 0; i < rec->nevents; i++)
		if (strcmp(rec->events[i].kind, "stage") == 0) {
			if (first < 0 || rec->events[i].t_ns < first)
				first = rec->events[i].t_ns;
			if (last < rec->events[i].t_ns && rec->nload == 0)
				last = end_ns;
		}
	if (first < 0)
		return;
	a->has_load = true;
	a->load_start_ns = first;
	a->load_end_ns = last > first ? last : end_ns;
}

static int64_t stage_connections(const struct recording *rec, int64_t stage)
{
	for (size_t i = 0; i < rec->nload; i++)
		if (rec->load[i].stage == stage)
			return rec->load[i].connections;
	return HR_UNKNOWN;
}

static void add_stage_phases(const struct recording *rec, struct analysis *a)
{
	/* stage starts: events first (exact), else the first load row of each stage */
	int64_t starts[32], idx[32];
	int ns = 0;
	for (size_t i = 0; i < rec->nevents && ns < 32; i++)
		if (strcmp(rec->events[i].kind, "stage") == 0) {
			starts[ns] = rec->events[i].t_ns;
			idx[ns++] = rec->events[i].value;
		}
	if (ns == 0) {
		int64_t cur = -2;
		for (size_t i = 0; i < rec->nload && ns < 32; i++)
			if (rec->load[i].stage != cur) {
				cur = rec->load[i].stage;
				int64_t from = sat_sub(rec->load[i].t_ns, 1000000000LL);
				starts[ns] = from > a->load_start_ns ? from : a->load_start_ns;
				idx[ns++] = cur;
			}
	}
	for (int s = 0; s < ns; s++) {
		int64_t to = s + 1 < ns ? starts[s + 1] : a->load_end_ns;
		char name[32];
		snprintf(name, sizeof(name), "stage %lld", (long long)idx[s]);
		add_phase(a, name, idx[s], starts[s], to, stage_connections(rec, idx[s]));
	}
}

/* startup: until ready, else the first load stage, else until memory settles */
static void place_startup(struct series *s, const struct analyze_options *o, struct analysis *a)
{
	const struct record_event *ready = find_event(s->rec, "ready");
	size_t k = gather(s->t, s->bi, 0, s->alive, s->ts, s->xs);
	double st;
	/* settling is judged on a running median: a spike one sample happened to catch is not the
	 * level moving (without it, a spiky service "settles" only after its last caught spike) */
	stats_running_median5(s->xs, k, s->scratch);
	bool settled = stats_stabilization(s->ts, s->scratch, k, o->band_frac, (double)o->band_min_bytes, &st) == 0;
	/* the stabilisation time is reported whatever placed the startup */
	if (settled)
		a->stabilized_after_ns = (int64_t)(st * 1e9);
	if (s->n < 2) {
		a->startup_source = PHASE_NONE;
	} else if (strcmp(s->rec->run.mode, "attach") == 0) {
		/* memory settling after an attach is not a startup: the process started before */
		a->startup_source = PHASE_ATTACHED;
	} else if (ready) {
		a->startup_source = PHASE_FROM_READY;
		a->startup_end_ns = ready->t_ns;
	} else if (a->has_load) {
		a->startup_source = PHASE_FROM_LOAD;
		a->startup_end_ns = a->load_start_ns;
	} else if (settled) {
		a->startup_source = PHASE_FROM_STABLE;
		a->startup_end_ns = (int64_t)(st * 1e9);
	} else {
		a->startup_source = PHASE_FROM_GUESS;
		a->startup_end_ns = s->t[0] + (s->t[s->n - 1] - s->t[0]) / 10;
	}
}

static void measure_phases(struct series *s, struct analysis *a)
{
	const int64_t *t = s->t;
	size_t n = s->n;
	for (int p = 0; p < a->nphases; p++) {
		struct analyze_phase *ph = &a->phases[p];
		size_t from = index_at(t, n, ph->start_ns), to = index_at(t, n, ph->end_ns);
		/* an interval peak read at t_i covers (t_i-1, t_i]: peaks belong to the phase holding
		 * (start, end], values read at an instant to the one holding [start, end) */
		size_t pfrom = ph->start_ns <= t[0] ? 0 : index_at(t, n, sat_add(ph->start_ns, 1));
		size_t pto = index_at(t, n, sat_add(ph->end_ns, 1));
		ph->nsamples = to - from;
		ph->peak_bytes = max_known(s->bp, pfrom, pto, NULL, t);
		ph->rss_peak_bytes = max_known(s->rp, pfrom, pto, NULL, t);
		ph->p50_bytes = quantile_known(s->bi, from, to < s->alive ? to : s->alive, 0.5, s->scratch);
	}
	/* a phase with no sample that is shorter than an interval (an idle instant between ready and
	 * the first stage) says nothing */
	for (int p = 0; p < a->nphases;) {
		const struct analyze_phase *ph = &a->phases[p];
		if (ph->nsamples == 0 && ph->end_ns - ph->start_ns < (a->interval_ns > 0 ? a->interval_ns : 1)) {
			memmove(&a->phases[p], &a->phases[p + 1], (size_t)(a->nphases - p - 1) * sizeof(a->phases[0]));
			a->nphases--;
		} else {
			p++;
		}
	}
}

static void steady_levels(struct series *s, struct analysis *a, size_t i0, int64_t se)
{
	const int64_t *t = s->t;
	size_t n = s->n;
	/* steady: everything after startup, load included (tracks-load is judged on it); the sample
	 * ending the startup interval is startup's */
	size_t s0 = a->startup_end_ns >= 0 ? i0 : 0;
	if (s0 + 1 < n && a->startup_source != PHASE_NONE && a->startup_source != PHASE_ATTACHED && t[s0] == se)
		s0++;
	size_t s1 = s->alive > s0 ? s->alive : n;
	s->s0 = s0;
	s->s1 = s1;
	a->steady_samples = s1 > s0 ? s1 - s0 : 0;
	a->steady_ns = a->steady_samples ? t[s1 - 1] - t[s0] : 0;
	if (!a->steady_samples)
		return;
	/* peaks include the interval that ended with the exit */
	a->traffic_peak = max_known(s->bp, s0, n, NULL, t);
	a->rss_traffic_peak = max_known(s->rp, s0, n, NULL, t);
	for (size_t i = s0; i < s1; i++)
		if (s->rss[i] >= 0 && (a->rss_min_after_startup < 0 || s->rss[i] < a->rss_min_after_startup))
			a->rss_min_after_startup = s->rss[i];
	a->steady_p50 = quantile_known(s->bi, s0, s1, 0.5, s->scratch);
	a->steady_p95 = quantile_known(s->bi, s0, s1, 0.95, s->scratch);
	a->rss_steady_p50 = quantile_known(s->rss, s0, s1, 0.5, s->scratch);
	a->rss_steady_p95 = quantile_known(s->rss, s0, s1, 0.95, s->scratch);
	if (a->cgroup) {
		a->cg_ws_steady_p95 = quantile_known(recording_column(s->rec, "cg_working_set"), s0, s1, 0.95, s->scratch);
		a->request_basis_p95 = a->cg_ws_steady_p95 >= 0 ? a->cg_ws_steady_p95 : a->steady_p95;
	} else {
		a->request_basis_p95 = a->rss_steady_p95;
	}
}

void stage_phases(struct series *s, const struct analyze_options *o, struct analysis *a)
{
	const int64_t *t = s->t;
	place_load(s->rec, a, t[s->n - 1]);
	place_startup(s, o, a);
	int64_t se = a->startup_end_ns >= 0 ? a->startup_end_ns : t[0];
	size_t i0 = index_at(t, s->n, se);
	if (a->startup_end_ns >= 0)
		add_phase(a, "startup", -1, t[0], se, HR_UNKNOWN);
	if (a->has_load) {
		add_phase(a, "idle", -1, se, a->load_start_ns, HR_UNKNOWN);
		add_stage_phases(s->rec, a);
		add_phase(a, "after load", -1, a->load_end_ns, sat_add(t[s->n - 1], 1), HR_UNKNOWN);
	} else {
		add_phase(a, "steady", -1, se, sat_add(t[s->n - 1], 1), HR_UNKNOWN);
	}
	measure_phases(s, a);
	if (a->nphases > 0 && strcmp(a->phases[0].name, "startup") == 0) {
		a->startup_peak = a->phases[0].peak_bytes;
		a->rss_startup_peak = a->phases[0].rss_peak_bytes;
		const int64_t *rss_pk = recording_column(s->rec, "rss_peak");
		if (rss_pk && !s->rec->run.rss_peaks_exact) {
			/* a since-start VmHWM read at the end of startup is the startup peak, exactly */
			int64_t hwm = max_known(rss_pk, 0, index_at(t, s->n, sat_add(se, 1)), NULL, t);
			if (hwm > a->rss_startup_peak)
				a->rss_startup_peak = hwm;
		}
	}
	steady_levels(s, a, i0, se);
}
