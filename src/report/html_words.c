/* html_words: an analysis and its sizing put into the plain words of the HTML report's summary,
 * and the one-call entry points the CLI uses (`report --html`, `run --html`, `compare --html`).
 * Words only what analyze.c and size.c computed. See html.h for the contract. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "html.h"
#include "size.h"
#include "util.h"

static const char *sz(int64_t b, char *buf, size_t len)
{
	return b < 0 ? (snprintf(buf, len, "n/a"), buf) : util_size_format(b, buf, len);
}

static const char *dur(int64_t ns, char *buf, size_t len)
{
	if (ns < 0 || ns < 1000000)
		return snprintf(buf, len, ns < 0 ? "n/a" : "0s"), buf;
	return util_duration_format(ns, buf, len);
}

static const char *rate_h(double bytes_per_s, char *buf, size_t len)
{
	if (isnan(bytes_per_s))
		snprintf(buf, len, "n/a");
	else {
		char s[32];
		snprintf(buf, len, "%s%s/h", bytes_per_s < 0 ? "-" : "+",
		         util_size_format((int64_t)fabs(bytes_per_s * 3600), s, sizeof(s)));
	}
	return buf;
}

static const char *basis_name(enum analyze_basis b)
{
	switch (b) {
	case BASIS_CG_USAGE: return "cgroup usage";
	case BASIS_WORKING_SET: return "working set";
	default: return "RSS";
	}
}

static void verdict_words(char *out, size_t len, const struct analysis *a, const struct sizing *s)
{
	char x[32], y[32], z[32];
	if (a->peak < 0) {
		snprintf(out, len, "No memory samples were recorded: nothing to judge. Run longer than one sampling interval.");
		return;
	}
	if (a->oom_killed) {
		snprintf(out, len, "The service was OOM-killed with %s in use%s%s: it needs more than that, and how much more "
		         "is unknown.", sz(a->peak, x, sizeof(x)), a->limit_bytes > 0 ? " under a limit of " : "",
		         a->limit_bytes > 0 ? sz(a->limit_bytes, y, sizeof(y)) : "");
		return;
	}
	switch (a->verdict) {
	case VERDICT_TOO_SHORT:
		snprintf(out, len, "Too short to judge: only %s of steady state after startup. Record at least %s more.",
		         dur(a->steady_ns, x, sizeof(x)), dur(a->need_more_ns, y, sizeof(y)));
		break;
	case VERDICT_STABLE:
		if (a->stabilized_after_ns >= 0)
			snprintf(out, len, "Memory is stable: it settled after %s at %s and peaked at %s.",
			         dur(a->stabilized_after_ns, x, sizeof(x)), sz(a->steady_p50, y, sizeof(y)), sz(a->peak, z, sizeof(z)));
		else
			snprintf(out, len, "Memory is stable at %s and peaked at %s.", sz(a->steady_p50, y, sizeof(y)),
			         sz(a->peak, z, sizeof(z)));
		break;
	case VERDICT_GROWING:
		if (s && s->time_to_limit_ns >= 0)
			snprintf(out, len, "Memory keeps growing (%s): no limit is safe. At this slope it reaches the proposed "
			         "limit in %s.", rate_h(a->slope_bytes_per_s, x, sizeof(x)), dur(s->time_to_limit_ns, y, sizeof(y)));
		else
			snprintf(out, len, "Memory keeps growing (%s): no limit is safe.", rate_h(a->slope_bytes_per_s, x, sizeof(x)));
		break;
	case VERDICT_TRACKS_LOAD:
		snprintf(out, len, "Memory follows the load (r = %.2f): it peaked at %s under the load tested; size it for the "
		         "highest load you expect.", a->load_correlation, sz(a->traffic_peak, x, sizeof(x)));
		break;
	case VERDICT_SPIKY:
		snprintf(out, len, "Memory is spiky: short spikes reach %s, %.1f× the median %s. The limit must cover them; "
		         "no dashboard shows them.", sz(a->traffic_peak, x, sizeof(x)), a->peak_median_ratio,
		         sz(a->steady_p50, y, sizeof(y)));
		break;
	case VERDICT_SAWTOOTH:
		snprintf(out, len, "Memory rises and falls in a sawtooth (%zu drops of at least %s): size on the top of the "
		         "teeth, %s.", a->drops, sz(a->drop_threshold, x, sizeof(x)), sz(a->traffic_peak, y, sizeof(y)));
		break;
	}
}

static void add_answer(struct html_words *w, const char *question, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void add_answer(struct html_words *w, const char *question, const char *fmt, ...)
{
	if (w->sum.nanswers >= HTML_MAX_ANSWERS)
		return;
	size_t i = w->sum.nanswers++;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->answer[i], sizeof(w->answer[i]), fmt, ap);
	va_end(ap);
	w->answers[i] = (struct html_answer){question, w->answer[i]};
}

void html_words_from_analysis(struct html_words *w, const struct analysis *a, const struct sizing *s)
{
	char x[32], y[32], z[32], v[32];
	memset(w, 0, sizeof(*w));
	html_summary_init(&w->sum);
	w->sum.answers = w->answers;
	verdict_words(w->verdict, sizeof(w->verdict), a, s);
	w->sum.verdict = w->verdict;
	w->sum.trend = a->peak < 0 ? NULL : analyze_verdict_name(a->verdict);
	if (a->peak < 0)
		return;

	add_answer(w, "How big is the building, and which figure kills?",
	           "The true peak was %s of %s at %s%s. RSS peaked at %s%s%s.", sz(a->peak, x, sizeof(x)),
	           basis_name(a->basis), dur(a->peak_t_ns, y, sizeof(y)),
	           a->startup_peak >= a->peak ? ", during startup" : "", sz(a->rss_peak, z, sizeof(z)),
	           a->cgroup ? ", the working set (what the kubelet evicts on) at " : "",
	           a->cgroup ? sz(a->cg_ws_peak, v, sizeof(v)) : "");
	if (a->verdict == VERDICT_TOO_SHORT)
		add_answer(w, "Growing or stable?", "Not known yet: %s of steady state is too little; record %s more.",
		           dur(a->steady_ns, x, sizeof(x)), dur(a->need_more_ns, y, sizeof(y)));
	else
		add_answer(w, "Growing or stable?", "%s: slope %s over %s of steady state (Mann–Kendall p = %.2g)%s%s.",
		           a->verdict == VERDICT_GROWING ? "Growing"
		           : a->trend_significant        ? "Not growing on its own, though it rose with the load"
		                                         : "Stable",
		           rate_h(a->slope_bytes_per_s, x, sizeof(x)), dur(a->steady_ns, y, sizeof(y)), a->mk_p,
		           a->stabilized_after_ns >= 0 ? "; settled after " : "; never settled",
		           a->stabilized_after_ns >= 0 ? dur(a->stabilized_after_ns, z, sizeof(z)) : "");
	switch (a->heap_finding) {
	case HEAP_UNKNOWN:
		add_answer(w, "Heap or allocator?", "Unknown: no heap figures (%s).",
		           a->heap_status[0] ? a->heap_status : "the heap shim was not used");
		break;
	case HEAP_OK:
		add_answer(w, "Heap or allocator?", "Neither stands out: live heap (%s at the end) and RSS agree.",
		           sz(a->heap_live_final, x, sizeof(x)));
		break;
	case HEAP_LIVE_GROWING:
		add_answer(w, "Heap or allocator?", "The heap: live bytes grow with RSS (%s) — a leak or an unbounded cache. "
		           "Allocator settings will not help; find what holds the data.",
		           rate_h(a->heap_slope_bytes_per_s, x, sizeof(x)));
		break;
	case HEAP_RETENTION:
		add_answer(w, "Heap or allocator?", "The allocator: live heap is %s while RSS is %s, so %s is held by the "
		           "allocator, not live data. Not a leak: MALLOC_ARENA_MAX=2, malloc_trim(0) or jemalloc's "
		           "dirty_decay_ms return it.", sz(a->heap_live_final, x, sizeof(x)), sz(a->rss_final, y, sizeof(y)),
		           sz(a->bd_allocator >= 0 ? a->bd_allocator : a->heap_gap_bytes, z, sizeof(z)));
		break;
	}
	const struct analyze_blind *b15 = NULL;
	for (int i = 0; i < ANALYZE_NSCRAPES; i++)
		if (a->blind[i].scrape_ns == 15000000000LL)
			b15 = &a->blind[i];
	/* a spike "did it" when the true peak stands well above where memory usually is */
	double over = a->steady_p95 > 0 ? (double)a->peak / (double)a->steady_p95 : NAN;
	if (a->startup_peak >= 0 && a->startup_peak >= a->peak)
		add_answer(w, "Did a short spike do it?", "The highest peak, %s, came during startup, not under traffic: the "
		           "limit must cover startup.", sz(a->startup_peak, x, sizeof(x)));
	else if (!isnan(over) && over >= 1.25)
		add_answer(w, "Did a short spike do it?", "Yes: the true peak %s at %s is %.1f× the steady p95 of %s, so a "
		           "short excursion sets the limit%s%s.", sz(a->peak, x, sizeof(x)), dur(a->peak_t_ns, y, sizeof(y)),
		           over, sz(a->steady_p95, z, sizeof(z)),
		           b15 && b15->best_bytes >= 0 ? "; a 15 s dashboard would show at most " : "",
		           b15 && b15->best_bytes >= 0 ? sz(b15->best_bytes, v, sizeof(v)) : "");
	else if (!isnan(over) && over < 1.01)
		add_answer(w, "Did a short spike do it?", "No: the true peak %s is no higher than the steady p95 %s; "
		           "memory stays at its peak.", sz(a->peak, x, sizeof(x)), sz(a->steady_p95, y, sizeof(y)));
	else if (!isnan(over))
		add_answer(w, "Did a short spike do it?", "No: the true peak %s is only %.0f %% above the steady p95 %s.",
		           sz(a->peak, x, sizeof(x)), (over - 1) * 100, sz(a->steady_p95, y, sizeof(y)));
	else
		add_answer(w, "Did a short spike do it?", "Not known: no steady phase to compare the peak %s with.",
		           sz(a->peak, x, sizeof(x)));
	if (a->has_load) {
		const char *after = a->falls_after_load == 0 ? " After the load it stays up: it is not given back."
		                    : a->falls_after_load == 1 ? " After the load it comes down."
		                                               : "";
		if (!isnan(a->load_correlation))
			add_answer(w, "Does memory track traffic?", "%s (correlation %.2f with the connections).%s",
			           a->load_correlation > 0.7 ? "Yes" : a->load_correlation > 0.4 ? "Partly" : "No",
			           a->load_correlation, after);
		else
			add_answer(w, "Does memory track traffic?", "The load did not vary, so this cannot be told.%s", after);
	} else {
		add_answer(w, "Does memory track traffic?", "Not known: no load was driven during this recording.");
	}

	if (s) {
		w->sum.limit_bytes = s->limit_bytes;
		w->sum.request_bytes = s->request_bytes;
		int n = snprintf(w->recommendation, sizeof(w->recommendation),
		                 "Limit: the true peak %s plus %.0f %% headroom, rounded up to a Mi. Request: the p95 of the "
		                 "steady %s, %s.", sz(s->sized_peak, x, sizeof(x)), s->headroom * 100,
		                 s->request_is_working_set ? "working set" : "RSS", sz(s->request_p95, y, sizeof(y)));
		if (s->oom_adjusted && n > 0 && (size_t)n < sizeof(w->recommendation))
			n += snprintf(w->recommendation + n, sizeof(w->recommendation) - (size_t)n,
			              " The run was OOM-killed, so the peak was raised to %s (VPA's rule: max(peak + 100Mi, "
			              "peak × 1.2)).", sz(s->sized_peak, z, sizeof(z)));
		if (s->growing && n > 0 && (size_t)n < sizeof(w->recommendation))
			snprintf(w->recommendation + n, sizeof(w->recommendation) - (size_t)n,
			         " Memory is growing: this limit only buys time.");
		w->sum.recommendation = w->recommendation;
	}
	size_t np = 0;
	for (int i = 0; i < a->nphases && np < HTML_MAX_PHASES; i++)
		w->phases[np++] = (struct html_phase){a->phases[i].start_ns, a->phases[i].end_ns, a->phases[i].name};
	w->sum.phases = w->phases;
	w->sum.nphases = np;
}

/* What the analysis reads and what the page draws, once each: loading a column of a million
 * samples costs about as much as analysing it, so only these are loaded. */
static void columns_union(const char **cols, size_t max)
{
	size_t n = 0;
	const char *const *lists[2] = {analyze_columns, html_columns};
	for (int l = 0; l < 2; l++)
		for (const char *const *c = lists[l]; *c && n + 1 < max; c++) {
			bool dup = false;
			for (size_t k = 0; k < n && !dup; k++)
				dup = strcmp(cols[k], *c) == 0;
			if (!dup)
				cols[n++] = *c;
		}
	cols[n] = NULL;
}

static int analyse_file(const char *path, struct recording **ret_rec, struct analysis *a, struct sizing *s,
                        bool *ret_sized)
{
	const char *cols[64];
	columns_union(cols, sizeof(cols) / sizeof(cols[0]));
	int r = record_open(path, cols, ret_rec);
	if (r < 0)
		return r;
	r = analyze_recording(*ret_rec, NULL, a);
	if (r < 0 && r != -ENODATA) {
		recording_free(*ret_rec);
		*ret_rec = NULL;
		return r;
	}
	const struct analysis *one[1] = {a};
	*ret_sized = r == 0 && size_recommend(one, 1, NULL, s) == 0;
	return 0;
}

int html_report_file(const char *rec_path, const char *out_path)
{
	struct recording *rec;
	struct analysis *a = malloc(sizeof(*a));
	struct sizing *s = malloc(sizeof(*s));
	struct html_words *w = malloc(sizeof(*w));
	bool sized = false;
	int r = -ENOMEM;
	if (!a || !s || !w)
		goto out_free;
	r = analyse_file(rec_path, &rec, a, s, &sized);
	if (r < 0)
		goto out_free;
	html_words_from_analysis(w, a, sized ? s : NULL);
	r = html_write_report(out_path, rec, &w->sum);
	recording_free(rec);
out_free:
	free(w);
	free(s);
	free(a);
	return r;
}

int html_compare_files(const char *a_path, const char *b_path, const char *out_path)
{
	struct recording *rec[2] = {NULL, NULL};
	struct analysis *a = calloc(2, sizeof(*a));
	struct sizing *s = calloc(2, sizeof(*s));
	struct html_words *w = calloc(2, sizeof(*w));
	bool sized[2] = {false, false};
	int r = -ENOMEM;
	if (!a || !s || !w)
		goto out_free;
	const char *paths[2] = {a_path, b_path};
	for (int i = 0; i < 2; i++) {
		r = analyse_file(paths[i], &rec[i], &a[i], &s[i], &sized[i]);
		if (r < 0)
			goto out_free;
		html_words_from_analysis(&w[i], &a[i], sized[i] ? &s[i] : NULL);
	}
	r = html_write_compare(out_path, rec[0], rec[1], &w[0].sum, &w[1].sum);
out_free:
	recording_free(rec[0]);
	recording_free(rec[1]);
	free(w);
	free(s);
	free(a);
	return r;
}
