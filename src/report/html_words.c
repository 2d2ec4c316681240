/* html_words: an analysis put into the plain words of the HTML report's summary — the headline,
 * the checklist answers, the key figures, the building and the recommendation — through words.c,
 * so the page says what the terminal report and explain say. Also the one-call entry points the
 * CLI uses (`report --html`, `run --html`, `compare --html`). Computes no figure. See html.h. */
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
#include "words.h"

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

/* An answer that is a finding's own sentence, when the finding holds. */
static bool answer_finding(struct html_words *w, const struct analysis *a, const char *question, enum finding_kind k,
			   const char *prefix)
{
	const struct finding *f = analysis_finding(a, k);
	if (!f)
		return false;
	char line[1024];
	add_answer(w, question, "%s%s", prefix, words_finding(a, f, line, sizeof(line)));
	return true;
}

static void answers(struct html_words *w, const struct analysis *a)
{
	char x[48], y[48], z[48], v[48];
	add_answer(w, "How big is the building, and which figure kills?",
		   "The true peak was %s of %s at %s%s. RSS peaked at %s%s%s.", words_size(a->peak, x, sizeof(x)),
		   words_basis(a->basis), words_duration(a->peak_t_ns, y, sizeof(y)),
		   analysis_finding(a, FINDING_STARTUP_PEAK) ? ", during startup" : "", words_size(a->rss_peak, z, sizeof(z)),
		   a->cgroup ? ", the working set (what the kubelet evicts on) at " : "",
		   a->cgroup ? words_size(a->cg_ws_peak, v, sizeof(v)) : "");
	if (!answer_finding(w, a, "Growing or stable?", FINDING_TOO_SHORT, "Not known yet. ") &&
	    !answer_finding(w, a, "Growing or stable?", FINDING_GROWING, "Growing. "))
		add_answer(w, "Growing or stable?", "Stable: it moved %s (Mann–Kendall p = %s)%s%s.",
			   words_change(a, a->slope_bytes_per_s, a->change_bytes, x, sizeof(x)), words_pvalue(a->mk_p, y, sizeof(y)),
			   a->stabilized_after_ns >= 0 ? "; settled after " : "; never settled",
			   a->stabilized_after_ns >= 0 ? words_duration(a->stabilized_after_ns, z, sizeof(z)) : "");
	char heap[768];
	add_answer(w, "Heap or allocator?", "%s", words_heap(a, heap, sizeof(heap)));
	if (a->gc_available) {
		char gc[1024], lim[1024], gogc[1024];
		add_answer(w, "What do the garbage collector's settings do?", "%s %s %s", words_gc(a, gc, sizeof(gc)),
			   words_gc_gomemlimit(a, lim, sizeof(lim)), words_gc_gogc(a, gogc, sizeof(gogc)));
	}
	if (a->je_available) {
		char je[2048], adv[2048];
		add_answer(w, "What does jemalloc keep, and which settings decide it?", "jemalloc's own figures %s %s",
			   words_jemalloc(a, je, sizeof(je)), words_jemalloc_advice(a, adv, sizeof(adv)));
	}
	if (!answer_finding(w, a, "Did a short spike do it?", FINDING_STARTUP_PEAK, "No, startup did. ") &&
	    !answer_finding(w, a, "Did a short spike do it?", FINDING_SPIKY, "Yes. "))
		add_answer(w, "Did a short spike do it?", "No: no spike finding; the true peak %s against a steady p95 of %s.",
			   words_size(a->peak, x, sizeof(x)), words_size(a->steady_p95, y, sizeof(y)));
	if (!a->has_load)
		add_answer(w, "Does memory track traffic?", "Not known: no load was driven during this recording.");
	else if (!answer_finding(w, a, "Does memory track traffic?", FINDING_LOAD_FAILED, "Not known. ") &&
		 !answer_finding(w, a, "Does memory track traffic?", FINDING_TRACKS_LOAD, "Yes. ")) {
		const struct finding *kept = analysis_finding(a, FINDING_NOT_RELEASED);
		if (isnan(a->load_correlation))
			add_answer(w, "Does memory track traffic?", "The load did not vary, so this cannot be told.%s",
				   kept ? " After the load it stays up: it is not given back." : "");
		else
			add_answer(w, "Does memory track traffic?", "No: correlation %.2f with the connections, below the "
				   "finding's threshold.%s", a->load_correlation,
				   kept ? " After the load it stays up: it is not given back." : "");
	}
}

static void figure(struct html_words *w, const char *name, int64_t bytes, int64_t at_ns)
{
	if (w->sum.nfigures < HTML_MAX_FIGURES)
		w->figures[w->sum.nfigures++] = (struct html_figure){name, bytes, at_ns};
}

static void figures(struct html_words *w, const struct analysis *a)
{
	w->sum.figures = w->figures;
	figure(w, "true peak (exact, between samples too)", a->peak, a->peak_t_ns);
	figure(w, "RSS peak", a->rss_peak, a->rss_peak_t_ns);
	figure(w, "RSS at the end", a->rss_final, HR_UNKNOWN);
	figure(w, "cgroup usage peak", a->cg_usage_peak, HR_UNKNOWN);
	figure(w, "working set peak (kubelet)", a->cg_ws_peak, HR_UNKNOWN);
	figure(w, "live heap peak", a->heap_live_peak, HR_UNKNOWN);
	figure(w, "live heap, last fresh figure", a->heap_live_final, a->heap_final_t_ns);
	figure(w, "allocator-held", a->bd.allocator, a->have_breakdown ? a->bd_t_ns : HR_UNKNOWN);
	if (a->gc_available)
		figure(w, "heap goal after the last GC cycle", a->gc_goal_final, HR_UNKNOWN);
	if (a->je_available) {
		figure(w, "jemalloc resident, at the end", a->je_final.resident, a->je_final.t_ns);
		figure(w, "jemalloc resident − allocated, at the end", a->je_final.gap, a->je_final.t_ns);
	}
}

static void building(struct html_words *w, const struct analysis *a)
{
	struct words_part p[WORDS_MAX_PARTS];
	int np = words_parts(a, p, WORDS_MAX_PARTS);
	for (int i = 0; i < np && i < HTML_MAX_PARTS; i++)
		w->parts[i] = (struct html_part){p[i].name, p[i].cls, p[i].why, p[i].bytes};
	w->sum.parts = w->parts;
	w->sum.nparts = (size_t)(np < HTML_MAX_PARTS ? np : HTML_MAX_PARTS);
	w->sum.parts_t_ns = a->bd_t_ns;
	w->sum.parts_rss = a->bd.rss;
	char age[32];
	snprintf(w->parts_note, sizeof(w->parts_note), "%s%s%s%s", a->bd_coarse ? "from /proc/PID/status" : "from smaps",
		 a->bd_heap_age_ns > 0 ? "; heap figures " : "",
		 a->bd_heap_age_ns > 0 ? words_duration(a->bd_heap_age_ns, age, sizeof(age)) : "",
		 a->bd_heap_age_ns > 0 ? " old" : "");
	w->sum.parts_note = w->parts_note;
}

static void recommendation(struct html_words *w, const struct analysis *a)
{
	char x[48], y[48], z[48];
	if (!a->sized) {
		snprintf(w->recommendation, sizeof(w->recommendation), "No recommendation: %s.", a->no_sizing_reason);
		w->sum.recommendation = w->recommendation;
		return;
	}
	const struct sizing *s = &a->sizing;
	w->sum.limit_bytes = s->limit_bytes;
	w->sum.request_bytes = s->request_bytes;
	int n = snprintf(w->recommendation, sizeof(w->recommendation),
			 "Limit: the true peak %s plus %.0f %% headroom, rounded up to a Mi. Request: the p95 of the "
			 "steady %s, %s.", words_size(s->sized_peak, x, sizeof(x)), s->headroom * 100,
			 s->request_is_working_set ? "working set" : "RSS", words_size(s->request_p95, y, sizeof(y)));
	if (s->oom_adjusted && n > 0 && (size_t)n < sizeof(w->recommendation))
		n += snprintf(w->recommendation + n, sizeof(w->recommendation) - (size_t)n,
			      " The run was OOM-killed, so the peak was raised to %s (VPA's rule: max(peak + 100Mi, "
			      "peak × 1.2)).", words_size(s->sized_peak, z, sizeof(z)));
	if (s->limit_floored && n > 0 && (size_t)n < sizeof(w->recommendation))
		n += snprintf(w->recommendation + n, sizeof(w->recommendation) - (size_t)n,
			      " Raised to the floor: never below the process tree's RSS peak %s plus the headroom.",
			      words_size(s->needs_to_exist, z, sizeof(z)));
	if (s->growing && n > 0 && (size_t)n < sizeof(w->recommendation))
		snprintf(w->recommendation + n, sizeof(w->recommendation) - (size_t)n,
			 " Memory is growing: this limit only buys time.");
	w->sum.recommendation = w->recommendation;
}

static void site_list(struct html_words *w, const char *title, int64_t at, int64_t total,
		      const struct analyze_site *src, int n, bool suspects)
{
	size_t k = w->sum.nsite_lists;
	if (k >= HTML_MAX_SITE_LISTS)
		return;
	struct html_site_list *l = &w->site_lists[k];
	*l = (struct html_site_list){.title = title, .at_ns = at, .total_bytes = total, .rows = w->sites[k],
				     .suspects = suspects};
	for (int i = 0; i < n && l->n < HTML_MAX_SITES; i++)
		w->sites[k][l->n++] = (struct html_site){
			.name = src[i].name, .module = src[i].module, .live_bytes = src[i].live_bytes,
			.share = src[i].share, .change_bytes = src[i].change_bytes,
			.slope_bytes_per_s = src[i].slope_bytes_per_s, .p = src[i].mk_p};
	w->sum.nsite_lists = k + 1;
}

static void sites(struct html_words *w, const struct analysis *a)
{
	if (!a->sites)
		return;
	w->sum.site_lists = w->site_lists;
	w->sum.sites_note = a->sites_note;
	w->sum.sites_interval = a->sites_interval;
	if (a->nsites_peak > 0)
		site_list(w, "At the true peak", a->sites_peak_t_ns, a->sites_peak_total, a->sites_peak, a->nsites_peak, false);
	if (a->nsites_end > 0)
		site_list(w, "At the end", a->sites_end_t_ns, a->sites_end_total, a->sites_end, a->nsites_end, false);
	site_list(w, "Leak suspects: live bytes growing through the steady phase", HR_UNKNOWN, HR_UNKNOWN, a->suspects,
		  a->nsuspects, true);
}

void html_words_from_analysis(struct html_words *w, const struct analysis *a, const struct sizing *s)
{
	(void)s; /* the analysis carries its own sizing */
	memset(w, 0, sizeof(*w));
	html_summary_init(&w->sum);
	/* the flame graph of heap sites: the instant of the analysis' "at the peak" list (the fullest
	 * snapshot near the true peak), so the table and the graph show the same figures */
	w->sum.flame_t_ns = a->sites_peak_t_ns != HR_UNKNOWN ? a->sites_peak_t_ns : a->peak_t_ns;
	w->sum.answers = w->answers;
	words_headline(a, w->verdict, sizeof(w->verdict));
	w->sum.verdict = w->verdict;
	w->sum.trend = a->peak < 0 ? NULL : analyze_verdict_name(a->verdict);
	w->sum.heap_why = a->heap_why[0] ? a->heap_why : NULL;
	if (a->peak < 0)
		return;
	answers(w, a);
	figures(w, a);
	building(w, a);
	sites(w, a);
	recommendation(w, a);
	size_t np = 0;
	for (int i = 0; i < a->nphases && np < HTML_MAX_PHASES; i++)
		w->phases[np++] = (struct html_phase){a->phases[i].start_ns, a->phases[i].end_ns, a->phases[i].name};
	w->sum.phases = w->phases;
	w->sum.nphases = np;
}

/* 0 with a recording and its analysis (of no samples, too: the page says so), else the error.
 * A recording without its run row (cut short before its first write) is record_open's -ENODATA,
 * with no recording: not "no samples" */
static int analyse_file(const char *path, struct recording **ret_rec, struct analysis **ret_a)
{
	int r = analyze_file_with(path, html_columns, ret_rec, ret_a);
	if (!*ret_rec || (r < 0 && r != -ENODATA)) {
		analyze_file_free(*ret_rec, *ret_a);
		*ret_rec = NULL;
		*ret_a = NULL;
		return r < 0 ? r : -EIO;
	}
	return 0;
}

int html_report_write(const char *out_path, const struct recording *rec, const struct analysis *a)
{
	struct html_words *w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	html_words_from_analysis(w, a, NULL);
	int r = html_write_report(out_path, rec, &w->sum);
	free(w);
	return r;
}

int html_report_file(const char *rec_path, const char *out_path)
{
	struct recording *rec = NULL;
	struct analysis *a = NULL;
	int r = analyse_file(rec_path, &rec, &a);
	if (r == 0)
		r = html_report_write(out_path, rec, a);
	analyze_file_free(rec, a);
	return r;
}

int html_compare_write(const char *out_path, const struct recording *const rec[2], const struct analysis *const a[2])
{
	struct html_words *w = calloc(2, sizeof(*w));
	if (!w)
		return -ENOMEM;
	for (int i = 0; i < 2; i++)
		html_words_from_analysis(&w[i], a[i], NULL);
	int r = html_write_compare(out_path, rec[0], rec[1], &w[0].sum, &w[1].sum);
	free(w);
	return r;
}

int html_compare_files(const char *a_path, const char *b_path, const char *out_path)
{
	struct recording *rec[2] = {NULL, NULL};
	struct analysis *a[2] = {NULL, NULL};
	const char *paths[2] = {a_path, b_path};
	int r = 0;
	for (int i = 0; i < 2 && r == 0; i++)
		r = analyse_file(paths[i], &rec[i], &a[i]);
	if (r == 0) {
		const struct recording *const crec[2] = {rec[0], rec[1]};
		const struct analysis *const ca[2] = {a[0], a[1]};
		r = html_compare_write(out_path, crec, ca);
	}
	for (int i = 0; i < 2; i++)
		analyze_file_free(rec[i], a[i]);
	return r;
}
