#include <errno.h>
#include <json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report.h"
#include "sat.h"
#include "thresholds.h"
#include "util.h"
#include "words.h"

#define MiB_F ((double)UTIL_MiB)

/* ---- small formatting helpers (no figures computed here: words.c says them) ---- */

struct buf {
	char s[96];
};
static struct buf sz(int64_t b)
{
	struct buf r;
	words_size(b, r.s, sizeof(r.s));
	return r;
}
static struct buf dur(int64_t ns)
{
	struct buf r;
	words_duration(ns, r.s, sizeof(r.s));
	return r;
}
static struct buf mi(int64_t b)
{
	struct buf r;
	util_size_format_mi_ceil(b, r.s, sizeof(r.s));
	return r;
}
static struct buf change(const struct analysis *a, double bytes_per_s, int64_t change_bytes)
{
	struct buf r;
	words_change(a, bytes_per_s, change_bytes, r.s, sizeof(r.s));
	return r;
}
static struct buf rate_h(double bytes_per_s)
{
	struct buf r;
	if (isnan(bytes_per_s))
		snprintf(r.s, sizeof(r.s), "-");
	else
		snprintf(r.s, sizeof(r.s), "%+.1fMi/h", bytes_per_s * 3600.0 / MiB_F);
	return r;
}
static struct buf pval(double p)
{
	struct buf r;
	words_pvalue(p, r.s, sizeof(r.s));
	return r;
}

static const char *basis_reason(const struct analysis *a, char *out, size_t len)
{
	switch (a->basis) {
	case BASIS_RSS:
		snprintf(out, len, "RSS — no cgroup was recorded, so the RSS of the process tree is what a container limit would be charged with");
		break;
	case BASIS_CG_USAGE:
		if (a->page_cache_bytes >= 0)
			snprintf(out, len, "cgroup usage — what the kernel enforces the limit against; its page cache (%s) is too small to matter",
				 sz(a->page_cache_bytes).s);
		else
			snprintf(out, len, "cgroup usage — what the kernel enforces the limit against");
		break;
	case BASIS_WORKING_SET:
		snprintf(out, len, "working set (usage − inactive file) — usage carries %s of page cache that the kernel reclaims before an OOM kill",
			 sz(a->page_cache_bytes).s);
		break;
	}
	return out;
}

static const char *startup_reason(enum analyze_phase_source s)
{
	switch (s) {
	case PHASE_FROM_READY: return "until the ready event (port accepting)";
	case PHASE_FROM_LOAD: return "until the first load stage";
	case PHASE_FROM_STABLE: return "until memory settled";
	case PHASE_FROM_GUESS: return "the first tenth of the run (memory never settled, no ready event)";
	case PHASE_ATTACHED: return "not observed: attached to a process already running";
	case PHASE_NONE: break;
	}
	return "not placed: too few samples";
}

static void print_command(FILE *out, const struct recording *rec)
{
	struct json_object *cmd = json_tokener_parse(rec->run.command);
	/* the command line is the recorded program's text: escaped, it cannot drive a terminal */
	char safe[8192];
	if (cmd && json_object_is_type(cmd, json_type_array)) {
		char q[1024];   /* quoted like a shell would need it: `sh -c 'exit 3'` (issue 19.10) */
		for (size_t i = 0; i < json_object_array_length(cmd); i++)
			fprintf(out, "%s%s", i ? " " : "",
				util_term_escape(util_shell_quote(json_object_get_string(json_object_array_get_idx(cmd, i)),
								  q, sizeof(q)), safe, sizeof(safe), false));
	} else {
		fputs(util_term_escape(rec->run.command, safe, sizeof(safe), false), out);
	}
	json_object_put(cmd);
}

/* The trend's evidence in one line, honest about what the numbers say: a significant slope too
 * small to matter is said as such, not as noise. */
static void print_trend_text(FILE *out, const struct analysis *a)
{
	double rise = a->slope_bytes_per_s * (double)a->steady_ns / 1e9;
	if (a->verdict == VERDICT_TOO_SHORT) {
		fprintf(out, "  only %s of steady state (%zu samples) after startup: record at least %s more "
			"(10 s and 20 samples after startup) to judge a trend.\n",
			dur(a->steady_ns).s, a->steady_samples, dur(a->need_more_ns).s);
		return;
	}
	if (a->verdict != VERDICT_STABLE)
		return;
	if (!isnan(a->mk_p) && a->mk_p < TH_P_SIGNIFICANT)
		fprintf(out, "  memory is flat: it moved %s over the steady phase (p = %s), below the %.0f %% / %s that would "
			"matter; a limit sized on the peak holds.\n", sz(sat_from_double(fabs(isnan(rise) ? 0 : rise))).s,
			pval(a->mk_p).s, TH_BAND_FRAC * 100, sz(TH_BAND_MIN_BYTES).s);
	else
		fprintf(out, "  memory is flat: %s over the steady phase is within noise (p = %s); a limit sized on the peak holds.\n",
			sz(sat_from_double(fabs(isnan(rise) ? 0 : rise))).s, pval(a->mk_p).s);
}

static void print_findings_text(FILE *out, const struct analysis *a)
{
	char line[1024];
	if (a->nfindings == 0)
		return;
	fprintf(out, "Findings (most important first):\n");
	for (int i = 0; i < a->nfindings; i++)
		fprintf(out, "  %d. [%s] %s\n", i + 1, finding_name(a->findings[i].kind),
			words_finding(a, &a->findings[i], line, sizeof(line)));
}

static void print_heap_text(FILE *out, const struct analysis *a)
{
	char line[768];
	if (!a->heap_available) {
		fprintf(out, "Heap: %s\n", words_heap(a, line, sizeof(line)));
		return;
	}
	fprintf(out, "Heap: live %s at %s (the last fresh figure%s), peak %s", sz(a->heap_live_final).s,
		dur(a->heap_final_t_ns).s, a->heap_stale ? "; later ones were stale" : "", sz(a->heap_live_peak).s);
	if (a->heap_allocations >= 0)
		fprintf(out, ", %lld allocations", (long long)a->heap_allocations);
	fprintf(out, "; trend %s (p = %s)\n", change(a, a->heap_slope_bytes_per_s, a->heap_change_bytes).s, pval(a->heap_mk_p).s);
	fprintf(out, "  %s\n", words_heap(a, line, sizeof(line)));
}

static void print_gc_text(FILE *out, const struct analysis *a)
{
	char line[1024];
	if (!a->gc_available)
		return;
	fprintf(out, "GC (Go runtime): %s\n", words_gc(a, line, sizeof(line)));
	fprintf(out, "  %s\n", words_gc_gomemlimit(a, line, sizeof(line)));
	if (*words_gc_gogc(a, line, sizeof(line)))
		fprintf(out, "  %s\n", line);
}

static void print_jemalloc_text(FILE *out, const struct analysis *a)
{
	char line[2048];
	if (!a->je_available)
		return;
	fprintf(out, "Allocator (jemalloc): %s\n", words_jemalloc(a, line, sizeof(line)));
	fprintf(out, "  %s\n", words_jemalloc_advice(a, line, sizeof(line)));
}

static void print_breakdown_text(FILE *out, const struct analysis *a)
{
	struct words_part p[WORDS_MAX_PARTS];
	int np = words_parts(a, p, WORDS_MAX_PARTS);
	if (np == 0)
		return;
	fprintf(out, "Breakdown at %s (%s, %s in all", dur(a->bd_t_ns).s, a->bd_coarse ? "status" : "smaps", sz(a->bd.rss).s);
	if (a->bd_heap_age_ns > 0)
		fprintf(out, "; heap figures %s old", dur(a->bd_heap_age_ns).s);
	fprintf(out, "):\n ");
	for (int i = 0; i < np; i++)
		fprintf(out, "%s %s %s%s", i ? " ·" : "", p[i].name, sz(p[i].bytes).s,
			p[i].cls[0] == 'h' && a->bd_allocator_estimated ? " (estimated)" : "");
	fputc('\n', out);
}

/* "the load is done" when headroom itself ended the command with this signal (--duration, end of
 * load), so the reader does not take a requested stop for a crash. */
static const char *stopped_by_headroom(const struct recording *rec, int sig)
{
	static const char prefix[] = "headroom sent SIGTERM: ";
	for (size_t i = rec->nevents; i-- > 0;) {
		const struct record_event *e = &rec->events[i];
		if (strcmp(e->kind, "signal") == 0 && e->value == sig && sig == 15 &&
		    strncmp(e->detail, prefix, sizeof(prefix) - 1) == 0)
			return e->detail + sizeof(prefix) - 1;
	}
	return NULL;
}

static void print_header_text(FILE *out, const struct recording *rec, const struct analysis *a)
{
	char reason[320];
	fputs("headroom: ", out);
	print_command(out, rec);
	fprintf(out, "  (%s", rec->run.mode[0] ? rec->run.mode : "run");
	if (rec->run.pid > 0)
		fprintf(out, ", pid %lld", (long long)rec->run.pid);
	fputs(")\n", out);
	fprintf(out, "  ");
	if (a->oom_killed)
		fprintf(out, "OOM KILLED");
	else if (a->exit_signal > 0 && stopped_by_headroom(rec, a->exit_signal))
		fprintf(out, "stopped by headroom (%s)",
			util_term_escape(stopped_by_headroom(rec, a->exit_signal), reason, sizeof(reason), false));
	else if (a->exit_signal > 0)
		fprintf(out, "killed by signal %d", a->exit_signal);
	else if (a->exit_code >= 0)
		fprintf(out, "exit %d", a->exit_code);
	else if (strcmp(rec->run.mode, "attach") == 0)
		fprintf(out, "still running when the recording stopped");
	else
		fprintf(out, "exit unknown");
	fprintf(out, " after %s · %zu samples every %s · limit %s\n", dur(a->duration_ns).s, a->nsamples,
		dur(a->interval_ns).s, a->limit_bytes >= 0 ? sz(a->limit_bytes).s : "none");
	if (a->teardown_samples > 0)
		fprintf(out, "  %lld sample(s) read while the command was stopping count for the peaks only\n",
			(long long)a->teardown_samples);
	const struct record_event *wf = NULL;
	for (size_t i = 0; i < rec->nevents && !wf; i++)
		if (strcmp(rec->events[i].kind, "write_failed") == 0)
			wf = &rec->events[i];
	if (wf)
		fprintf(out, "  the recording file is incomplete: writing it failed (%s) after %s; the file has no samples after that\n",
			record_strerror((int)wf->value), wf->t_ns >= 0 ? dur(wf->t_ns).s : "its start");
	else if (!a->finished)
		fprintf(out, "  the recording is not finished (headroom was stopped, or is still recording): figures cover the data up to its last flush\n");
	if (a->oom_killed && a->limit_bytes > 0)
		fprintf(out, "  the kernel killed the command: its cgroup reached the limit of %s; the peak below is a lower "
			"bound of what it needed\n", sz(a->limit_bytes).s);
	else if (a->oom_killed)
		fprintf(out, "  the kernel killed the command (OOM): the peak below is a lower bound of what it needed\n");
}

static void print_memory_text(FILE *out, const struct recording *rec, const struct analysis *a)
{
	char reason[320];
	fprintf(out, "\nMemory — basis: %s\n", basis_reason(a, reason, sizeof(reason)));
	fprintf(out, "  true peak      %10s at %s%s%s\n", sz(a->peak).s, dur(a->peak_t_ns).s,
		a->startup_peak >= 0 && a->startup_peak >= a->peak ? ", during startup" : "",
		a->basis == BASIS_RSS && !a->rss_peaks_exact ? " (VmHWM since start: phase peaks are sampled values)" : "");
	bool attached = a->startup_source == PHASE_ATTACHED;
	if (attached)
		fprintf(out, "  startup peak   %10s   %s\n", "-", startup_reason(a->startup_source));
	else
		fprintf(out, "  startup peak   %10s   startup %s, %s\n", sz(a->startup_peak).s,
			a->startup_end_ns >= 0 ? dur(a->startup_end_ns).s : "-", startup_reason(a->startup_source));
	fprintf(out, "  traffic peak   %10s   %s\n", sz(a->traffic_peak).s, attached ? "over the recording" : "after startup");
	fprintf(out, "  steady         %10s median, %s p95, %s final\n", sz(a->steady_p50).s, sz(a->steady_p95).s,
		sz(a->final).s);
	if (a->basis != BASIS_RSS)
		fprintf(out, "  RSS            %10s peak, %s steady median, %s final\n", sz(a->rss_peak).s,
			sz(a->rss_steady_p50).s, sz(a->rss_final).s);
	if (a->cgroup)
		fprintf(out, "  cgroup         usage peak %s, working set peak %s, %lld OOM kill(s), %lld limit hit(s)\n",
			sz(a->cg_usage_peak).s, sz(a->cg_ws_peak).s, (long long)(a->cg_oom_kills > 0 ? a->cg_oom_kills : 0),
			(long long)(a->cg_limit_hits > 0 ? a->cg_limit_hits : 0));
}

static void print_trend_section_text(FILE *out, const struct recording *rec, const struct analysis *a)
{
	fprintf(out, "\nTrend: %s\n", analyze_verdict_name(a->verdict));
	if (a->verdict != VERDICT_TOO_SHORT || !isnan(a->slope_bytes_per_s)) {
		if (a->steady_ns >= TH_PER_HOUR_MIN_NS)
			fprintf(out, "  slope %s (Theil–Sen) over %s of steady state (%zu samples), Mann–Kendall p = %s\n",
				change(a, a->slope_bytes_per_s, a->change_bytes).s, dur(a->steady_ns).s, a->steady_samples, pval(a->mk_p).s);
		else
			fprintf(out, "  change %s of steady state (Theil–Sen, %zu samples), Mann–Kendall p = %s\n",
				change(a, a->slope_bytes_per_s, a->change_bytes).s, a->steady_samples, pval(a->mk_p).s);
		if (a->stabilized_after_ns >= 0)
			fprintf(out, "  settled after %s", dur(a->stabilized_after_ns).s);
		else
			fprintf(out, "  never settled");
		fprintf(out, " · peak/median %.2f · %zu drop(s) of ≥ %s", a->peak_median_ratio, a->drops,
			sz(a->drop_threshold).s);
		if (!isnan(a->load_correlation))
			fprintf(out, " · load correlation %.2f", a->load_correlation);
		fputc('\n', out);
	}
	print_trend_text(out, a);
	print_findings_text(out, a);
}

#define SITES_TEXT_MAX 5   /* rows per list in the terminal; --json and HTML have them all */

static void print_site_line(FILE *out, const struct analyze_site *st, bool suspect)
{
	char name[400], mod[300];
	util_term_escape(st->name, name, sizeof(name), false);
	const char *b = strrchr(st->module, '/');
	util_term_escape(b ? b + 1 : st->module, mod, sizeof(mod), false);
	if (suspect)
		fprintf(out, "    +%-9s over the steady phase (%s/s, p = %s)  %s%s%s%s\n",
			sz(st->change_bytes).s, sz((int64_t)st->slope_bytes_per_s).s, pval(st->mk_p).s, name,
			mod[0] && st->symbolised ? "  (" : "", st->symbolised ? mod : "", mod[0] && st->symbolised ? ")" : "");
	else
		fprintf(out, "    %5.1f %%  %10s  %s%s%s%s\n", st->share * 100, sz(st->live_bytes).s, name,
			mod[0] && st->symbolised ? "  (" : "", st->symbolised ? mod : "", mod[0] && st->symbolised ? ")" : "");
}

static void print_sites_text(FILE *out, const struct analysis *a)
{
	if (!a->sites)
		return;
	fprintf(out, "Allocation sites (sampled, one per %s allocated on average; estimates):\n", sz(a->sites_interval).s);
	if (a->nsites_peak > 0) {
		fprintf(out, "  at the peak (%s): %s live in sampled sites\n", dur(a->sites_peak_t_ns).s, sz(a->sites_peak_total).s);
		for (int i = 0; i < a->nsites_peak && i < SITES_TEXT_MAX; i++)
			print_site_line(out, &a->sites_peak[i], false);
	}
	if (a->nsites_end > 0) {
		fprintf(out, "  at the end (%s): %s live in sampled sites\n", dur(a->sites_end_t_ns).s, sz(a->sites_end_total).s);
		for (int i = 0; i < a->nsites_end && i < SITES_TEXT_MAX; i++)
			print_site_line(out, &a->sites_end[i], false);
	}
	if (a->nsuspects > 0) {
		fprintf(out, "  leak suspects (live bytes growing through the steady phase):\n");
		for (int i = 0; i < a->nsuspects; i++)
			print_site_line(out, &a->suspects[i], true);
	} else {
		fprintf(out, "  no site's live bytes grow through the steady phase\n");
	}
	if (a->sites_note[0]) {
		char note[300];
		fprintf(out, "  note: %s\n", util_term_escape(a->sites_note, note, sizeof(note), false));
	}
}

static void print_heap_section_text(FILE *out, const struct recording *rec, const struct analysis *a)
{
	fputc('\n', out);
	print_heap_text(out, a);
	print_gc_text(out, a);
	print_jemalloc_text(out, a);
	print_breakdown_text(out, a);
	print_sites_text(out, a);
}

static void print_phases_text(FILE *out, const struct recording *rec, const struct analysis *a)
{
	if (a->nphases > 0) {
		fprintf(out, "\nPhases\n  %-20s %9s %9s %11s %11s %8s\n", "phase", "from", "to", "peak", "median", "samples");
		for (int p = 0; p < a->nphases; p++) {
			const struct analyze_phase *ph = &a->phases[p];
			char name[48];
			if (ph->connections >= 0)
				snprintf(name, sizeof(name), "%s (%lld conn)", ph->name, (long long)ph->connections);
			else
				snprintf(name, sizeof(name), "%s", ph->name);
			int64_t end = ph->end_ns > a->duration_ns ? a->duration_ns : ph->end_ns;
			fprintf(out, "  %-20s %9s %9s %11s %11s %8zu\n", name, dur(ph->start_ns).s, dur(end).s,
				sz(ph->peak_bytes).s, sz(ph->p50_bytes).s, ph->nsamples);
		}
	}
}

static void print_blind_text(FILE *out, const struct recording *rec, const struct analysis *a)
{
	fprintf(out, "\nWhat a dashboard would have shown (instantaneous values of the basis; true peak %s)\n", sz(a->peak).s);
	for (int i = 0; i < ANALYZE_NSCRAPES; i++) {
		const struct analyze_blind *b = &a->blind[i];
		if (b->worst_bytes < 0) {
			fprintf(out, "  scrape every %3llds: the recording is shorter than one scrape; record longer to see it\n",
				(long long)(b->scrape_ns / 1000000000LL));
			continue;
		}
		double hidden = a->peak > 0 ? 100.0 * (1.0 - (double)b->worst_bytes / (double)a->peak) : 0;
		fprintf(out, "  scrape every %3llds: %10s to %10s depending on alignment — up to %.0f %% of the peak unseen\n",
			(long long)(b->scrape_ns / 1000000000LL), sz(b->worst_bytes).s, sz(b->best_bytes).s,
			hidden < 0 ? 0 : hidden);
	}
}

static void print_recommendation_text(FILE *out, const struct recording *rec, const struct analysis *a)
{
	const struct sizing *sp = a->sized ? &a->sizing : NULL;
	if (sp) {
		fprintf(out, "\nRecommendation (peak + %.0f %%): limit %s, request %s", sp->headroom * 100,
			mi(sp->limit_bytes).s, mi(sp->request_bytes).s);
		fprintf(out, " — `headroom size %s` for the resources: block and the KRR/VPA anchors\n",
			rec->path[0] ? rec->path : "FILE");
		if (sp->oom_adjusted)
			fprintf(out, "  the peak was raised to %s (VPA's rule after an OOM kill: max(peak + 100Mi, peak × 1.2))\n",
				sz(sp->sized_peak).s);
		if (sp->limit_floored)
			fprintf(out, "  raised to the floor: never below the process tree's RSS peak %s plus the headroom, nor %s\n",
				sz(sp->needs_to_exist).s, mi(SIZE_FLOOR_BYTES).s);
	} else {
		fprintf(out, "\nNo recommendation: %s.\n", a->no_sizing_reason);
	}
}

int report_print_text(FILE *out, const struct recording *rec, const struct analysis *a)
{
	print_header_text(out, rec, a);
	if (a->peak < 0) {
		fprintf(out, "  no memory samples were recorded: nothing to judge. Run longer than one sampling interval.\n");
		return ferror(out) ? -EIO : 0;
	}
	print_memory_text(out, rec, a);
	print_trend_section_text(out, rec, a);
	print_heap_section_text(out, rec, a);
	print_phases_text(out, rec, a);
	print_blind_text(out, rec, a);
	print_recommendation_text(out, rec, a);
	return ferror(out) ? -EIO : 0;
}

/* ---- JSON ---- */

static struct json_object *jbytes(int64_t v)
{
	return v >= 0 ? json_object_new_int64(v) : NULL;
}
static struct json_object *jdouble(double v)
{
	return isnan(v) || isinf(v) ? NULL : json_object_new_double(v);
}
static struct json_object *jsecs(int64_t ns)
{
	return ns >= 0 ? json_object_new_double((double)ns / 1e9) : NULL;
}
static void add(struct json_object *o, const char *k, struct json_object *v)
{
	json_object_object_add(o, k, v);
}

static struct json_object *sizing_json(const struct sizing *s, const char *const *paths,
				       const struct analysis *const *a);

static void json_run(struct json_object *o, const struct recording *rec, const struct analysis *a)
{
	struct json_object *cmd = json_tokener_parse(rec->run.command);
	if (!cmd || !json_object_is_type(cmd, json_type_array)) {
		json_object_put(cmd);
		cmd = json_object_new_array();
		json_object_array_add(cmd, json_object_new_string(rec->run.command));
	}
	add(o, "command", cmd);
	struct json_object *ex = json_object_new_object();
	add(ex, "code", a->exit_code >= 0 && a->exit_signal <= 0 ? json_object_new_int(a->exit_code) : NULL);
	add(ex, "signal", a->exit_signal > 0 ? json_object_new_int(a->exit_signal) : NULL);
	add(ex, "oom_killed", json_object_new_boolean(a->oom_killed));
	add(o, "exit", ex);
	add(o, "duration_s", jsecs(a->duration_ns));
	add(o, "samples", json_object_new_int64((int64_t)a->nsamples));
	add(o, "interval_ms", a->interval_ns >= 0 ? json_object_new_double((double)a->interval_ns / 1e6) : NULL);
	add(o, "limit_bytes", jbytes(a->limit_bytes));
	add(o, "finished", json_object_new_boolean(a->finished));
	add(o, "mode", json_object_new_string(rec->run.mode));
	add(o, "recording", rec->path[0] ? json_object_new_string(rec->path) : NULL);
	/* a file that stops early (disk full) says so to scripts too; absent when it is whole */
	const struct record_event *wf = NULL;
	for (size_t i = 0; i < rec->nevents && !wf; i++)
		if (strcmp(rec->events[i].kind, "write_failed") == 0)
			wf = &rec->events[i];
	if (wf)
		add(o, "recording_written_until_s", jsecs(wf->t_ns >= 0 ? wf->t_ns : 0));
}

static void json_rss(struct json_object *o, const struct recording *rec, const struct analysis *a)
{
	struct json_object *rss = json_object_new_object();
	add(rss, "peak_bytes", jbytes(a->rss_peak));
	add(rss, "startup_peak_bytes", jbytes(a->rss_startup_peak));
	add(rss, "steady_p50_bytes", jbytes(a->rss_steady_p50));
	add(rss, "final_bytes", jbytes(a->rss_final));
	add(rss, "traffic_peak_bytes", jbytes(a->rss_traffic_peak));
	add(rss, "steady_p95_bytes", jbytes(a->rss_steady_p95));
	add(rss, "peaks_exact", json_object_new_boolean(a->rss_peaks_exact));
	add(o, "rss", rss);
}

static void json_heap(struct json_object *o, const struct recording *rec, const struct analysis *a)
{
	struct json_object *heap = json_object_new_object();
	add(heap, "available", json_object_new_boolean(a->heap_available));
	add(heap, "live_peak_bytes", jbytes(a->heap_live_peak));
	add(heap, "live_final_bytes", jbytes(a->heap_live_final));
	add(heap, "allocator_final_bytes", jbytes(a->heap_held_final));
	add(heap, "final_at_s", jsecs(a->heap_final_t_ns));
	add(heap, "final_age_s", jsecs(a->heap_final_age_ns));
	add(heap, "stale", json_object_new_boolean(a->heap_stale));
	add(heap, "stale_age_s", a->heap_stale ? jsecs(a->heap_stale_age_ns) : NULL);
	add(heap, "allocations", jbytes(a->heap_allocations));
	add(heap, "allocator", a->allocator[0] ? json_object_new_string(a->allocator) : NULL);
	add(heap, "status", json_object_new_string(a->heap_status));
	static const char *const hfind[] = {"unknown", "ok", "live-growing", "allocator-retention"};
	add(heap, "finding", a->heap_available ? json_object_new_string(hfind[a->heap_finding]) : NULL);
	add(heap, "slope_bytes_per_hour", jdouble(a->heap_slope_bytes_per_s * 3600));
	add(heap, "change_bytes", a->heap_change_bytes != HR_UNKNOWN ? json_object_new_int64(a->heap_change_bytes) : NULL);
	add(heap, "p_value", jdouble(a->heap_mk_p));
	add(o, "heap", heap);
}

static void json_gc(struct json_object *o, const struct analysis *a)
{
	if (!a->gc_available) {
		add(o, "gc", NULL);
		return;
	}
	char line[1024];
	struct json_object *gc = json_object_new_object();
	add(gc, "runtime", json_object_new_string("go"));
	add(gc, "cycles", json_object_new_int64(a->gc_cycles));
	add(gc, "cycles_steady", json_object_new_int64(a->gc_cycles_steady >= 0 ? a->gc_cycles_steady : 0));
	add(gc, "cycles_per_s", jdouble(a->gc_cycles_per_s));
	add(gc, "live_final_bytes", jbytes(a->gc_live_final));
	add(gc, "live_peak_bytes", jbytes(a->gc_live_peak));
	add(gc, "goal_final_bytes", jbytes(a->gc_goal_final));
	add(gc, "goal_peak_bytes", jbytes(a->gc_goal_peak));
	add(gc, "gogc", jdouble(a->gc_gogc));
	add(gc, "released_bytes", jbytes(a->gc_released_final));
	add(gc, "overhead_bytes", jbytes(a->gc_overhead_bytes));
	add(gc, "explains_sawtooth", json_object_new_boolean(a->gc_explains_sawtooth));
	add(gc, "limit_bytes", jbytes(a->gc_limit_bytes));
	add(gc, "gomemlimit_bytes", jbytes(a->gc_gomemlimit_bytes));
	add(gc, "gogc_max", a->gc_gogc_max >= 0 ? json_object_new_int64(a->gc_gogc_max) : NULL);
	add(gc, "goal_at_gogc_max_bytes", jbytes(a->gc_goal_at_max));
	add(gc, "text", json_object_new_string(words_gc(a, line, sizeof(line))));
	add(gc, "gomemlimit_text", json_object_new_string(words_gc_gomemlimit(a, line, sizeof(line))));
	add(gc, "gogc_text", json_object_new_string(words_gc_gogc(a, line, sizeof(line))));
	add(o, "gc", gc);
}

static struct json_object *json_site(const struct analyze_site *st, bool suspect)
{
	struct json_object *j = json_object_new_object();
	add(j, "site", json_object_new_int64(st->site));
	add(j, "pid", jbytes(st->pid));
	add(j, "name", json_object_new_string(st->name));
	add(j, "symbolised", json_object_new_boolean(st->symbolised));
	add(j, "module", st->module[0] ? json_object_new_string(st->module) : NULL);
	add(j, "offset", jbytes(st->offset));
	add(j, "live_bytes", jbytes(st->live_bytes));
	if (suspect) {
		add(j, "slope_bytes_per_s", jdouble(st->slope_bytes_per_s));
		add(j, "change_bytes", jbytes(st->change_bytes));
		add(j, "p_value", jdouble(st->mk_p));
	} else {
		add(j, "live_objects", jbytes(st->live_objects));
		add(j, "alloc_bytes", jbytes(st->alloc_bytes));
		add(j, "share", jdouble(st->share));
	}
	return j;
}

static struct json_object *json_site_list(const struct analyze_site *list, int n, bool suspect)
{
	struct json_object *arr = json_object_new_array();
	for (int i = 0; i < n; i++)
		json_object_array_add(arr, json_site(&list[i], suspect));
	return arr;
}

/* null when the recording has no sites (another heap mode, or an older recording) */
static void json_sites(struct json_object *o, const struct recording *rec, const struct analysis *a)
{
	if (!a->sites) {
		add(o, "sites", NULL);
		return;
	}
	struct json_object *j = json_object_new_object();
	add(j, "sample_interval_bytes", jbytes(a->sites_interval));
	add(j, "note", a->sites_note[0] ? json_object_new_string(a->sites_note) : NULL);
	add(j, "peak_at_s", jsecs(a->sites_peak_t_ns));
	add(j, "peak_total_bytes", jbytes(a->sites_peak_total));
	add(j, "peak", json_site_list(a->sites_peak, a->nsites_peak, false));
	add(j, "end_at_s", jsecs(a->sites_end_t_ns));
	add(j, "end_total_bytes", jbytes(a->sites_end_total));
	add(j, "end", json_site_list(a->sites_end, a->nsites_end, false));
	add(j, "leak_suspects", json_site_list(a->suspects, a->nsuspects, true));
	add(o, "sites", j);
}

static struct json_object *json_je(const struct analyze_je *je)
{
	if (je->t_ns < 0)
		return NULL;
	struct json_object *o = json_object_new_object();
	add(o, "at_s", jsecs(je->t_ns));
	add(o, "allocated_bytes", jbytes(je->allocated));
	add(o, "active_bytes", jbytes(je->active));
	add(o, "resident_bytes", jbytes(je->resident));
	add(o, "retained_bytes", jbytes(je->retained));
	add(o, "metadata_bytes", jbytes(je->metadata));
	add(o, "gap_bytes", jbytes(je->gap));
	add(o, "dirty_bytes", jbytes(je->dirty));
	add(o, "rss_bytes", jbytes(je->rss));
	add(o, "gap_ratio", jdouble(je->gap_ratio));
	add(o, "gap_large", json_object_new_boolean(je->gap_large));
	return o;
}

static void json_jemalloc(struct json_object *o, const struct analysis *a)
{
	if (!a->je_available) {
		add(o, "jemalloc", NULL);
		return;
	}
	char line[2048];
	struct json_object *je = json_object_new_object();
	add(je, "peak", json_je(&a->je_peak));
	add(je, "final", json_je(&a->je_final));
	add(je, "threads_peak", jbytes(a->je_threads_peak));
	add(je, "narenas_advised", json_object_new_boolean(a->je_narenas));
	add(je, "text", json_object_new_string(words_jemalloc(a, line, sizeof(line))));
	add(je, "advice_text", json_object_new_string(words_jemalloc_advice(a, line, sizeof(line))));
	add(o, "jemalloc", je);
}

static void json_breakdown(struct json_object *o, const struct recording *rec, const struct analysis *a)
{
	/* always the object (the contract's fields), null figures when there is no breakdown */
	struct json_object *bd = json_object_new_object();
	{
		add(bd, "heap_bytes", jbytes(a->bd.heap));
		add(bd, "allocator_bytes", jbytes(a->bd.allocator));
		add(bd, "allocator_estimated", a->have_breakdown ? json_object_new_boolean(a->bd_allocator_estimated) : NULL);
		add(bd, "stacks_bytes", jbytes(a->bd.stacks));
		add(bd, "code_bytes", jbytes(a->bd.code));
		add(bd, "mapped_files_bytes", jbytes(a->bd.mapped_files));
		add(bd, "shmem_bytes", jbytes(a->bd.shmem));
		add(bd, "other_bytes", jbytes(a->bd.other));
		add(bd, "rss_bytes", jbytes(a->bd.rss));
		add(bd, "at_s", jsecs(a->bd_t_ns));
		add(bd, "heap_age_s", jsecs(a->bd_heap_age_ns));
		add(bd, "source", a->have_breakdown ? json_object_new_string(a->bd_coarse ? "status" : "smaps") : NULL);
	}
	add(o, "breakdown", bd);
}

static void json_findings(struct json_object *o, const struct recording *rec, const struct analysis *a)
{
	struct json_object *fs = json_object_new_array();
	for (int i = 0; i < a->nfindings; i++) {
		const struct finding *f = &a->findings[i];
		char text[1024], rule[512];
		struct json_object *e = json_object_new_object();
		add(e, "kind", json_object_new_string(finding_name(f->kind)));
		add(e, "ratio", jdouble(f->ratio));
		add(e, "bytes", jbytes(f->bytes));
		add(e, "at_s", jsecs(f->at_ns));
		add(e, "rule", json_object_new_string(finding_rule(f->kind, rule, sizeof(rule))));
		add(e, "remedy", json_object_new_string(finding_remedy(f->kind, a->allocator)));
		add(e, "text", json_object_new_string(words_finding(a, f, text, sizeof(text))));
		json_object_array_add(fs, e);
	}
	add(o, "findings", fs);
}

static void json_load(struct json_object *o, const struct recording *rec, const struct analysis *a)
{
	struct json_object *ld = NULL;
	if (rec->nload > 0 || a->has_load) {
		ld = json_object_new_object();
		add(ld, "requests", jbytes(a->load_requests));
		add(ld, "errors", jbytes(a->load_errors));
		add(ld, "error_rate", jdouble(a->load_error_rate));
		add(ld, "max_error_rate", jdouble(a->load_max_error_rate));
		add(ld, "failed", json_object_new_boolean(a->load_failed));
		add(ld, "start_s", jsecs(a->load_start_ns));
		add(ld, "end_s", jsecs(a->load_end_ns));
		add(ld, "correlation", jdouble(a->load_correlation));
		add(ld, "falls_after", a->falls_after_load >= 0 ? json_object_new_boolean(a->falls_after_load) : NULL);
		add(ld, "after_bytes", jbytes(a->after_load_bytes));
	}
	add(o, "load", ld);
}

static void json_cgroup(struct json_object *o, const struct recording *rec, const struct analysis *a)
{
	struct json_object *cg = json_object_new_object();
	add(cg, "usage_peak_bytes", jbytes(a->cg_usage_peak));
	add(cg, "working_set_peak_bytes", jbytes(a->cg_ws_peak));
	add(cg, "oom_kills", a->cgroup ? jbytes(a->cg_oom_kills) : NULL);
	add(cg, "limit_hits", a->cgroup ? jbytes(a->cg_limit_hits) : NULL);
	add(cg, "page_cache_bytes", jbytes(a->page_cache_bytes));
	add(o, "cgroup", cg);
}

static void json_memory(struct json_object *o, const struct recording *rec, const struct analysis *a)
{
	struct json_object *peak = json_object_new_object();
	add(peak, "basis", json_object_new_string(analyze_basis_name(a->basis)));
	add(peak, "peak_bytes", jbytes(a->peak));
	add(peak, "peak_at_s", jsecs(a->peak_t_ns));
	add(peak, "startup_peak_bytes", jbytes(a->startup_peak));
	add(peak, "traffic_peak_bytes", jbytes(a->traffic_peak));
	add(peak, "steady_p50_bytes", jbytes(a->steady_p50));
	add(peak, "steady_p95_bytes", jbytes(a->steady_p95));
	add(peak, "final_bytes", jbytes(a->final));
	add(peak, "startup_end_s", jsecs(a->startup_end_ns));
	static const char *const sources[] = {"ready", "load", "stable", "guess", "none", "attached"};
	add(peak, "startup_from", json_object_new_string(sources[a->startup_source]));
	add(o, "memory", peak);
}

static void json_trend(struct json_object *o, const struct recording *rec, const struct analysis *a)
{
	struct json_object *tr = json_object_new_object();
	add(tr, "verdict", json_object_new_string(analyze_verdict_name(a->verdict)));
	add(tr, "stabilized_after_s", jsecs(a->stabilized_after_ns));
	add(tr, "slope_bytes_per_hour", jdouble(a->slope_bytes_per_s * 3600));
	add(tr, "p_value", jdouble(a->mk_p));
	add(tr, "kendall_tau", jdouble(a->mk_tau));
	add(tr, "significant", json_object_new_boolean(a->trend_significant));
	add(tr, "steady_s", jsecs(a->steady_ns));
	add(tr, "steady_samples", json_object_new_int64((int64_t)a->steady_samples));
	add(tr, "peak_median_ratio", jdouble(a->peak_median_ratio));
	add(tr, "spikes", json_object_new_int64((int64_t)a->spikes));
	add(tr, "spike_time_fraction", jdouble(a->spike_time_fraction));
	add(tr, "drops", json_object_new_int64((int64_t)a->drops));
	add(tr, "drop_threshold_bytes", jbytes(a->drop_threshold));
	add(tr, "load_correlation", jdouble(a->load_correlation));
	add(tr, "falls_after_load", a->falls_after_load >= 0 ? json_object_new_boolean(a->falls_after_load) : NULL);
	add(tr, "need_more_s", a->verdict == VERDICT_TOO_SHORT ? jsecs(a->need_more_ns) : NULL);
	add(tr, "teardown_samples", json_object_new_int64(a->teardown_samples));
	add(o, "trend", tr);
}

static void json_blind_spot(struct json_object *o, const struct recording *rec, const struct analysis *a)
{
	struct json_object *bs = json_object_new_object();
	add(bs, "scrape_interval_s", json_object_new_int(15));
	add(bs, "dashboard_peak_bytes", jbytes(a->blind[0].worst_bytes));
	add(bs, "dashboard_peak_best_bytes", jbytes(a->blind[0].best_bytes));
	add(bs, "true_peak_bytes", jbytes(a->peak));
	struct json_object *iv = json_object_new_array();
	for (int i = 0; i < ANALYZE_NSCRAPES; i++) {
		struct json_object *e = json_object_new_object();
		add(e, "scrape_interval_s", json_object_new_int((int)(a->blind[i].scrape_ns / 1000000000LL)));
		add(e, "worst_bytes", jbytes(a->blind[i].worst_bytes));
		add(e, "best_bytes", jbytes(a->blind[i].best_bytes));
		json_object_array_add(iv, e);
	}
	add(bs, "intervals", iv);
	add(o, "blind_spot", bs);
}

static void json_phases(struct json_object *o, const struct recording *rec, const struct analysis *a)
{
	struct json_object *ph = json_object_new_array();
	for (int p = 0; p < a->nphases; p++) {
		const struct analyze_phase *x = &a->phases[p];
		struct json_object *e = json_object_new_object();
		add(e, "name", json_object_new_string(x->name));
		add(e, "stage", x->stage >= 0 ? json_object_new_int64(x->stage) : NULL);
		add(e, "start_s", jsecs(x->start_ns));
		add(e, "end_s", jsecs(x->end_ns > a->duration_ns ? a->duration_ns : x->end_ns));
		add(e, "connections", jbytes(x->connections));
		add(e, "peak_bytes", jbytes(x->peak_bytes));
		add(e, "p50_bytes", jbytes(x->p50_bytes));
		add(e, "samples", json_object_new_int64((int64_t)x->nsamples));
		json_object_array_add(ph, e);
	}
	add(o, "phases", ph);
}

static void json_recommendation(struct json_object *o, const struct recording *rec, const struct analysis *a)
{
	struct json_object *recm = NULL;
	if (a->sized) {
		const struct sizing *sp = &a->sizing;
		recm = json_object_new_object();
		add(recm, "limit_bytes", json_object_new_int64(sp->limit_bytes));
		add(recm, "request_bytes", json_object_new_int64(sp->request_bytes));
		add(recm, "limit", json_object_new_string(mi(sp->limit_bytes).s));
		add(recm, "request", json_object_new_string(mi(sp->request_bytes).s));
		add(recm, "headroom", json_object_new_double(sp->headroom));
		add(recm, "basis", json_object_new_string(analyze_basis_name(sp->basis)));
		add(recm, "floored", json_object_new_boolean(sp->limit_floored));
		add(recm, "needs_to_exist_bytes", jbytes(sp->needs_to_exist));
	}
	add(o, "recommendation", recm);
	add(o, "no_recommendation_reason", a->sized ? NULL : json_object_new_string(a->no_sizing_reason));
}

static struct json_object *analysis_json(const struct recording *rec, const struct analysis *a)
{
	/* one section each, in the order of docs/schema/report.schema.json */
	struct json_object *o = json_object_new_object();
	json_run(o, rec, a);
	json_rss(o, rec, a);
	json_heap(o, rec, a);
	json_gc(o, a);
	json_sites(o, rec, a);
	json_jemalloc(o, a);
	json_breakdown(o, rec, a);
	json_findings(o, rec, a);
	json_load(o, rec, a);
	json_cgroup(o, rec, a);
	json_memory(o, rec, a);
	json_trend(o, rec, a);
	json_blind_spot(o, rec, a);
	json_phases(o, rec, a);
	json_recommendation(o, rec, a);
	return o;
}

static int emit(FILE *out, struct json_object *o)
{
	if (!o)
		return -ENOMEM;
	const char *txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
	int r = txt && fprintf(out, "%s\n", txt) >= 0 && !ferror(out) ? 0 : -EIO;
	json_object_put(o);
	return r;
}

int report_print_json(FILE *out, const struct recording *rec, const struct analysis *a)
{
	return emit(out, analysis_json(rec, a));
}

int report_file(FILE *out, const char *path, bool json)
{
	struct recording *rec;
	struct analysis *a;
	int r = analyze_file(path, &rec, &a);
	if (!rec)
		return r;
	if (r == 0 || r == -ENODATA)
		r = json ? report_print_json(out, rec, a) : report_print_text(out, rec, a);
	analyze_file_free(rec, a);
	return r;
}

/* ---- sizing ---- */

static struct json_object *sizing_json(const struct sizing *s, const char *const *paths,
				       const struct analysis *const *a)
{
	struct json_object *o = json_object_new_object();
	struct json_object *res = json_object_new_object(), *req = json_object_new_object(), *lim = json_object_new_object();
	add(req, "memory", json_object_new_string(mi(s->request_bytes).s));
	add(lim, "memory", json_object_new_string(mi(s->limit_bytes).s));
	add(res, "requests", req);
	add(res, "limits", lim);
	add(o, "resources", res);
	add(o, "limit_bytes", json_object_new_int64(s->limit_bytes));
	add(o, "request_bytes", json_object_new_int64(s->request_bytes));
	add(o, "floored", json_object_new_boolean(s->limit_floored));
	add(o, "needs_to_exist_bytes", jbytes(s->needs_to_exist));
	add(o, "basis", json_object_new_string(analyze_basis_name(s->basis)));
	add(o, "true_peak_bytes", jbytes(s->true_peak));
	add(o, "sized_peak_bytes", jbytes(s->sized_peak));
	add(o, "peak_at_startup", json_object_new_boolean(s->peak_at_startup));
	add(o, "oom_adjusted", json_object_new_boolean(s->oom_adjusted));
	add(o, "headroom", json_object_new_double(s->headroom));
	add(o, "request_source", json_object_new_string(s->qos_guaranteed ? "limit (qos guaranteed)" :
		s->request_is_working_set ? "p95 of the steady working set" : "p95 of the steady RSS"));
	add(o, "request_p95_bytes", jbytes(s->request_p95));
	struct json_object *an = json_object_new_object(), *krr = json_object_new_object(), *vpa = json_object_new_object();
	add(krr, "bytes", jbytes(s->krr_bytes));
	add(krr, "best_alignment_bytes", jbytes(s->krr_best_bytes));
	add(krr, "points", json_object_new_int64((int64_t)s->krr_points));
	add(krr, "enough_points", json_object_new_boolean(s->krr_points >= SIZE_KRR_MIN_POINTS));
	add(krr, "formula", json_object_new_string("max(working set every 75 s) x 1.15"));
	add(vpa, "bytes", jbytes(s->vpa_bytes));
	add(vpa, "best_alignment_bytes", jbytes(s->vpa_best_bytes));
	add(vpa, "days", json_object_new_int64((int64_t)s->vpa_days));
	add(vpa, "floored", json_object_new_boolean(s->vpa_floored));
	add(vpa, "formula", json_object_new_string("P90(daily peaks) x 1.15, at least 250Mi"));
	add(an, "krr", krr);
	add(an, "vpa", vpa);
	add(o, "anchors", an);
	struct json_object *g = NULL;
	if (s->growing) {
		g = json_object_new_object();
		add(g, "slope_bytes_per_hour", jdouble(s->slope_bytes_per_s * 3600));
		add(g, "time_to_limit_s", jsecs(s->time_to_limit_ns));
	}
	add(o, "growing", g);
	struct json_object *as = json_object_new_object();
	add(as, "replicas", s->replicas > 0 ? json_object_new_int(s->replicas) : NULL);
	add(as, "surge", s->surge > 0 ? json_object_new_int(s->surge) : NULL);
	add(as, "startup_burst_bytes", jbytes(s->startup_burst_bytes));
	add(as, "hpa_target", s->hpa_target >= 0 ? json_object_new_double(s->hpa_target) : NULL);
	add(as, "hpa_warning", s->hpa_warning >= 0 ? json_object_new_boolean(s->hpa_warning) : NULL);
	add(as, "hpa_idle_utilisation", jdouble(s->hpa_idle_utilisation));
	add(o, "autoscaling", as);
	struct json_object *rs = json_object_new_array();
	for (size_t i = 0; i < s->nrecordings; i++) {
		struct json_object *e = json_object_new_object();
		add(e, "path", json_object_new_string(paths ? paths[i] : ""));
		add(e, "verdict", json_object_new_string(analyze_verdict_name(a[i]->verdict)));
		add(e, "peak_bytes", jbytes(a[i]->peak));
		add(e, "startup_peak_bytes", jbytes(a[i]->startup_peak));
		add(e, "basis", json_object_new_string(analyze_basis_name(a[i]->basis)));
		json_object_array_add(rs, e);
	}
	add(o, "recordings", rs);
	return o;
}

/* Notes shared by YAML comments and the text form; prefix is "# " or "  ". */
static void print_sizing_notes(FILE *out, const struct sizing *s, const char *const *paths,
			       const struct analysis *const *a, const char *pre)
{
	fprintf(out, "%slimit = true peak %s (%s, %s%s) × %.2f, rounded up to a Mi\n", pre, sz(s->true_peak).s,
		analyze_basis_name(s->basis), s->peak_at_startup ? "during startup, " : "",
		paths ? paths[s->peak_recording] : "", 1.0 + s->headroom);
	if (s->oom_adjusted)
		fprintf(out, "%s  a recording was OOM-killed: its peak is a lower bound, raised to %s (max(peak + 100Mi, peak × 1.2))\n",
			pre, sz(s->sized_peak).s);
	if (s->qos_guaranteed)
		fprintf(out, "%srequest = limit (QoS Guaranteed)\n", pre);
	else
		fprintf(out, "%srequest = p95 of the steady %s, %s\n", pre, s->request_is_working_set ? "working set" : "RSS",
			sz(s->request_p95).s);
	fprintf(out, "%sKRR simple would say %s, %s with its polling luckily aligned (max of %zu point(s) every 75 s × 1.15%s)\n",
		pre, mi(s->krr_bytes).s, mi(s->krr_best_bytes).s, s->krr_points,
		s->krr_points >= SIZE_KRR_MIN_POINTS ? "" : "; KRR itself refuses below 100 points");
	fprintf(out, "%sVPA would say %s, %s luckily aligned (P90 of %zu daily peak(s) × 1.15%s)\n", pre, mi(s->vpa_bytes).s,
		mi(s->vpa_best_bytes).s, s->vpa_days, s->vpa_floored ? ", raised to its 250Mi floor" : "");
	if (s->krr_bytes >= 0 && s->krr_bytes < s->true_peak)
		fprintf(out, "%s  KRR's figure is below the true peak: a pod sized by it is OOM-killed at the next peak\n", pre);
	if (s->limit_floored)
		fprintf(out, "%sraised to the floor: never below the process tree's RSS peak %s × %.2f, nor %s\n", pre,
			sz(s->needs_to_exist).s, 1.0 + s->headroom, mi(SIZE_FLOOR_BYTES).s);
	if (s->growing)
		fprintf(out, "%sWARNING: memory is growing at %s: no limit is safe; it reaches %s in %s at this slope\n", pre,
			rate_h(s->slope_bytes_per_s).s, mi(s->limit_bytes).s, dur(s->time_to_limit_ns).s);
	for (size_t i = 0; i < s->nrecordings; i++)
		if (analysis_finding(a[i], FINDING_TOO_SHORT))
			fprintf(out, "%snote: %s is too short to judge a trend (record %s more): the limit covers what it saw, not what a longer run reaches\n",
				pre, paths ? paths[i] : "a recording", dur(a[i]->need_more_ns).s);
	if (s->startup_burst_bytes >= 0)
		fprintf(out, "%s%d pod(s) starting together need %s on their node(s) at once (%d × startup peak %s)\n", pre,
			s->replicas > 0 ? s->replicas : s->surge, sz(s->startup_burst_bytes).s,
			s->replicas > 0 ? s->replicas : s->surge, sz(s->startup_peak).s);
	if (s->hpa_target >= 0) {
		if (s->hpa_warning == 1)
			fprintf(out, "%sWARNING: memory-based HPA at %.0f %%: memory does not come down after load (%.0f %% of the "
				"request when idle), so the HPA scales out and never back in; scale on CPU, requests per "
				"second or latency instead\n", pre, s->hpa_target * 100, s->hpa_idle_utilisation * 100);
		else if (s->hpa_warning == 0)
			fprintf(out, "%smemory-based HPA at %.0f %%: memory falls after load (%.0f %% of the request when idle); "
				"workable, though CPU or requests per second react sooner\n", pre, s->hpa_target * 100,
				s->hpa_idle_utilisation * 100);
		else
			fprintf(out, "%smemory-based HPA at %.0f %%: cannot tell whether memory falls after load (record a quiet "
				"period after the load)\n", pre, s->hpa_target * 100);
	}
}

static struct json_object *verify_json(const struct verify_result *v, bool expect_survive)
{
	struct json_object *o = json_object_new_object();
	add(o, "limit_bytes", json_object_new_int64(v->limit_bytes));
	add(o, "limit", json_object_new_string(mi(v->limit_bytes).s));
	add(o, "survived", json_object_new_boolean(!v->oom_killed));
	add(o, "expected", json_object_new_string(expect_survive ? "survive" : "oom-kill"));
	add(o, "as_expected", json_object_new_boolean(expect_survive != v->oom_killed));
	add(o, "oom_killed", json_object_new_boolean(v->oom_killed));
	add(o, "limit_hits", jbytes(v->limit_hits));
	add(o, "exit_status", json_object_new_int(v->exit_status));
	add(o, "peak_bytes", jbytes(v->peak_bytes));
	add(o, "duration_s", jsecs(v->duration_ns));
	return o;
}

static void print_verify_text(FILE *out, const struct verify_result *v, bool expect_survive, const char *pre)
{
	fprintf(out, "%sverify under %s: %s", pre, sz(v->limit_bytes).s,
		v->oom_killed ? "OOM-KILLED" : "survived");
	fprintf(out, " (exit status %d, peak %s, %lld limit hit(s), %s)", v->exit_status, sz(v->peak_bytes).s,
		(long long)(v->limit_hits > 0 ? v->limit_hits : 0), dur(v->duration_ns).s);
	if (expect_survive && v->oom_killed)
		fprintf(out, " — the recommended limit is NOT enough: record a longer or heavier run and size again");
	else if (!expect_survive && v->oom_killed)
		fprintf(out, " — as expected below the true peak: the headroom is real");
	else if (!expect_survive)
		fprintf(out, " — the peak was not reached this time: the runs differ, record more of them");
	fputc('\n', out);
}

int report_print_sizing(FILE *out, const struct sizing *s, const char *const *paths,
			const struct analysis *const *a, enum report_size_format fmt,
			const struct verify_result *verify, size_t nverify)
{
	if (fmt == REPORT_SIZE_JSON) {
		struct json_object *o = sizing_json(s, paths, a);
		struct json_object *v = NULL;
		if (nverify > 0) {
			v = json_object_new_object();
			add(v, "under_limit", verify_json(&verify[0], true));
			add(v, "under_margin", nverify > 1 ? verify_json(&verify[1], false) : NULL);
		}
		add(o, "verify", v);
		return emit(out, o);
	}
	const char *pre = fmt == REPORT_SIZE_YAML ? "# " : "";
	if (fmt == REPORT_SIZE_TEXT)
		fprintf(out, "headroom size: %zu recording(s)\n", s->nrecordings);
	else
		fprintf(out, "# headroom size: %zu recording(s)\n", s->nrecordings);
	print_sizing_notes(out, s, paths, a, pre);
	for (size_t i = 0; i < nverify; i++)
		print_verify_text(out, &verify[i], i == 0, pre);
	fprintf(out, "%sresources:\n  requests:\n    memory: %s\n  limits:\n    memory: %s\n",
		fmt == REPORT_SIZE_TEXT ? "\n" : "", mi(s->request_bytes).s, mi(s->limit_bytes).s);
	return ferror(out) ? -EIO : 0;
}

/* ---- compare ---- */

struct row {
	const char *label;
	int64_t v[2];
};

int report_print_compare(FILE *out, const char *const names[2], const struct recording *const rec[2],
			 const struct analysis *const a[2], bool json)
{
	const struct row rows[] = {
		{"true peak", {a[0]->peak, a[1]->peak}},
		{"startup peak", {a[0]->startup_peak, a[1]->startup_peak}},
		{"traffic peak", {a[0]->traffic_peak, a[1]->traffic_peak}},
		{"steady median", {a[0]->steady_p50, a[1]->steady_p50}},
		{"steady p95", {a[0]->steady_p95, a[1]->steady_p95}},
		{"final", {a[0]->final, a[1]->final}},
		{"RSS peak", {a[0]->rss_peak, a[1]->rss_peak}},
		{"live heap peak", {a[0]->heap_live_peak, a[1]->heap_live_peak}},
		{"live heap final", {a[0]->heap_live_final, a[1]->heap_live_final}},
		{"allocator-held", {a[0]->bd.allocator, a[1]->bd.allocator}},
		{"stacks", {a[0]->bd.stacks, a[1]->bd.stacks}},
		{"code", {a[0]->bd.code, a[1]->bd.code}},
		{"mapped files", {a[0]->bd.mapped_files, a[1]->bd.mapped_files}},
		{"cgroup usage peak", {a[0]->cg_usage_peak, a[1]->cg_usage_peak}},
		{"working set peak", {a[0]->cg_ws_peak, a[1]->cg_ws_peak}},
		{"limit", {a[0]->sized ? a[0]->sizing.limit_bytes : HR_UNKNOWN, a[1]->sized ? a[1]->sizing.limit_bytes : HR_UNKNOWN}},
		{"request", {a[0]->sized ? a[0]->sizing.request_bytes : HR_UNKNOWN, a[1]->sized ? a[1]->sizing.request_bytes : HR_UNKNOWN}},
	};
	const size_t nrows = sizeof(rows) / sizeof(rows[0]);
	if (json) {
		struct json_object *o = json_object_new_object();
		add(o, "a", analysis_json(rec[0], a[0]));
		add(o, "b", analysis_json(rec[1], a[1]));
		struct json_object *d = json_object_new_array();
		for (size_t r = 0; r < nrows; r++) {
			struct json_object *e = json_object_new_object();
			add(e, "figure", json_object_new_string(rows[r].label));
			add(e, "a_bytes", jbytes(rows[r].v[0]));
			add(e, "b_bytes", jbytes(rows[r].v[1]));
			bool both = rows[r].v[0] >= 0 && rows[r].v[1] >= 0;
			add(e, "difference_bytes", both ? json_object_new_int64(rows[r].v[1] - rows[r].v[0]) : NULL);
			add(e, "ratio", both && rows[r].v[0] > 0 ? json_object_new_double((double)rows[r].v[1] / (double)rows[r].v[0]) : NULL);
			json_object_array_add(d, e);
		}
		add(o, "differences", d);
		struct json_object *v = json_object_new_object();
		add(v, "a", json_object_new_string(analyze_verdict_name(a[0]->verdict)));
		add(v, "b", json_object_new_string(analyze_verdict_name(a[1]->verdict)));
		add(o, "verdicts", v);
		return emit(out, o);
	}
	fprintf(out, "A: %s\n   ", names[0]);
	print_command(out, rec[0]);
	fprintf(out, "\nB: %s\n   ", names[1]);
	print_command(out, rec[1]);
	fprintf(out, "\n\n%-18s %12s %12s %12s %8s\n", "", "A", "B", "B - A", "B / A");
	fprintf(out, "%-18s %12s %12s\n", "basis", analyze_basis_name(a[0]->basis), analyze_basis_name(a[1]->basis));
	fprintf(out, "%-18s %12s %12s\n", "duration", dur(a[0]->duration_ns).s, dur(a[1]->duration_ns).s);
	fprintf(out, "%-18s %12s %12s\n", "verdict", analyze_verdict_name(a[0]->verdict), analyze_verdict_name(a[1]->verdict));
	fprintf(out, "%-18s %12s %12s\n", "slope", rate_h(a[0]->slope_bytes_per_s).s, rate_h(a[1]->slope_bytes_per_s).s);
	/* the shim, the service's metrics page or the Go runtime's trace: the same column, not the same truth */
	fprintf(out, "%-18s %12s %12s\n", "heap source", a[0]->heap_available && a[0]->heap_source[0] ? a[0]->heap_source : "-",
		a[1]->heap_available && a[1]->heap_source[0] ? a[1]->heap_source : "-");
	for (size_t r = 0; r < nrows; r++) {
		if (rows[r].v[0] < 0 && rows[r].v[1] < 0)
			continue;
		char diff[80] = "-", ratio[32] = "-";
		if (rows[r].v[0] >= 0 && rows[r].v[1] >= 0) {
			int64_t d = rows[r].v[1] - rows[r].v[0];
			snprintf(diff, sizeof(diff), "%s%s", d < 0 ? "-" : "+", sz(d < 0 ? -d : d).s);
			if (rows[r].v[0] > 0)
				snprintf(ratio, sizeof(ratio), "%.2f×", (double)rows[r].v[1] / (double)rows[r].v[0]);
		}
		fprintf(out, "%-18s %12s %12s %12s %8s\n", rows[r].label, sz(rows[r].v[0]).s, sz(rows[r].v[1]).s, diff, ratio);
	}
	return ferror(out) ? -EIO : 0;
}
