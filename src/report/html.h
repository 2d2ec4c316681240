/* html: the self-contained HTML report of one recording, and the compare view of two.
 *
 * Owns the rendering only: one HTML file with inline CSS, inline SVG charts drawn here and a
 * small inline script for hover — no network, no external script, font or stylesheet, so the
 * file can be attached to an incident ticket and opened anywhere. Long recordings are
 * decimated per pixel column keeping each column's minimum and maximum (and the exact
 * interval peak, rss_peak), so no spike disappears and the output stays small whatever the
 * number of samples.
 * The judgement (verdict, checklist answers, recommendation, phases) comes from the analysis
 * through struct html_summary; the renderer draws the samples and says in plain words what the
 * recording lacks (heap, load, cgroup, samples, a clean exit). It must not print anything.
 * Errors: negative errno (-EINVAL for a NULL recording or path, -ENOMEM, or the errno of
 * writing the file). The file is written to OUT.tmp and renamed, so a reader never sees half.
 */
#ifndef HEADROOM_HTML_H
#define HEADROOM_HTML_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

/* One answer of the user's checklist, in plain words ("Growing or stable?" -> "Stable after 40s"). */
struct html_answer {
	const char *question;
	const char *answer;
};

/* A stage of the run to shade on the charts. name: "startup", "steady", "load", or any word. */
struct html_phase {
	int64_t start_ns, end_ns;
	const char *name;
};

/* One key figure of the analysis: bytes (HR_UNKNOWN: not measured) and the instant it describes
 * (HR_UNKNOWN: the whole run). */
struct html_figure {
	const char *name;
	int64_t bytes;
	int64_t at_ns;
};

/* One part of the building (RSS split at one instant), as the analysis worded it. */
struct html_part {
	const char *name, *cls, *why;   /* cls: live, held, anon, stacks, code, files, shmem, other */
	int64_t bytes;
};
#define HTML_MAX_PARTS 9

/* A table of allocation sites (sites mode): the top sites at one instant, or the leak suspects. */
struct html_site {
	const char *name, *module;      /* module: a path, "" when unknown */
	int64_t live_bytes;
	double share;                   /* of the sampled live bytes, NAN for suspects */
	int64_t change_bytes;           /* suspects: the rise through the steady phase, else HR_UNKNOWN */
	double slope_bytes_per_s, p;    /* suspects, else NAN */
};
struct html_site_list {
	const char *title;
	int64_t at_ns;                  /* HR_UNKNOWN for the suspects (the steady phase) */
	int64_t total_bytes;            /* sampled live bytes at that instant, HR_UNKNOWN */
	const struct html_site *rows;
	size_t n;
	bool suspects;
};
#define HTML_MAX_SITE_LISTS 3
#define HTML_MAX_SITES 10

/* What the analysis concluded. Every field is optional: NULL strings, zero counts and
 * HR_UNKNOWN numbers are rendered as "not available" (phases are then derived from the
 * recording's ready/stage events and load rows). The renderer copies nothing: the strings
 * only need to live until html_write_*() returns. */
struct html_summary {
	const char *verdict;          /* the headline sentence */
	const char *trend;            /* stable, growing, tracks-load, spiky, sawtooth, too-short */
	const struct html_answer *answers;
	size_t nanswers;
	int64_t limit_bytes;          /* recommended limit, HR_UNKNOWN when none */
	int64_t request_bytes;        /* recommended request, HR_UNKNOWN when none */
	const char *recommendation;   /* why that limit and request, what autoscaling does to it */
	const struct html_phase *phases;
	size_t nphases;
	const char *notes;            /* anything else the analysis wants said, one paragraph */
	/* the building: the breakdown of the analysis at its instant (nparts 0: none) */
	const struct html_part *parts;
	size_t nparts;
	int64_t parts_t_ns;           /* the instant of the breakdown */
	int64_t parts_rss;            /* what the parts add up to */
	const char *parts_note;       /* where it came from (smaps, status; heap figures' age) */
	/* the key figures, as (name, value) rows */
	const struct html_figure *figures;
	size_t nfigures;
	/* allocation sites (nsite_lists 0: the recording has none) and the recorder's note */
	const struct html_site_list *site_lists;
	size_t nsite_lists;
	const char *sites_note;
	int64_t sites_interval;
	/* the analysis's why there is no heap figure (analysis.heap_why), said as the terminal says
	 * it; NULL: none (without a summary the recorder's status is shown as it is) */
	const char *heap_why;
	/* heap sites (issue 15): the instant of the flame graph of live bytes per site, the true
	 * peak of the analysis; HR_UNKNOWN: the last figures */
	int64_t flame_t_ns;
};

/* The sample columns the report draws, NULL-terminated: pass them (or NULL for all) to
 * record_open(). A column not loaded is drawn as not measured. */
extern const char *const html_columns[];

/* Sets every field to "not available". */
void html_summary_init(struct html_summary *sum);

/* Writes the report of `rec` to out_path. sum may be NULL (no analysis: raw recording only). */
int html_write_report(const char *out_path, const struct recording *rec, const struct html_summary *sum);

/* Writes the compare view of two recordings (A before, B after, say) to out_path, on shared
 * axes. sum_a and sum_b may be NULL. */
int html_write_compare(const char *out_path, const struct recording *a, const struct recording *b,
                       const struct html_summary *sum_a, const struct html_summary *sum_b);

/* ---- From an analysis (html_words.c, with analyze.h and size.h) ---- */

struct analysis;
struct sizing;

#define HTML_MAX_ANSWERS 8
#define HTML_MAX_PHASES 40
#define HTML_MAX_FIGURES 12

/* A summary worded from an analysis; sum points into the rest of the struct. */
struct html_words {
	struct html_summary sum;
	struct html_answer answers[HTML_MAX_ANSWERS];
	struct html_part parts[HTML_MAX_PARTS];
	char parts_note[256];
	struct html_figure figures[HTML_MAX_FIGURES];
	struct html_phase phases[HTML_MAX_PHASES];
	char verdict[512];
	char answer[HTML_MAX_ANSWERS][3072];   /* the GC and jemalloc answers hold several sentences with numbers */
	char recommendation[768];
	struct html_site_list site_lists[HTML_MAX_SITE_LISTS];
	struct html_site sites[HTML_MAX_SITE_LISTS][HTML_MAX_SITES];
};

/* Words the verdict, the checklist answers, the recommendation (s may be NULL: none) and the
 * phases of an analysis into w->sum. Valid while a (phase names) and w live. */
void html_words_from_analysis(struct html_words *w, const struct analysis *a, const struct sizing *s);

/* Open the recording (the columns of analyze_columns and html_columns), analyse it, size it
 * (default options) and write the report. Errors: record_open()'s (message: record_strerror),
 * -ENOMEM, or the errno of writing OUT. A recording without samples still gets a report that
 * says so. */
int html_report_file(const char *rec_path, const char *out_path);
/* The same from a recording the caller opened with html_columns (analyze_file_with) and its
 * analysis (analyze_file_with's result 0 or -ENODATA): what `report --html` and `run --html`
 * call, so that the page renders the analysis the terminal report printed. */
int html_report_write(const char *out_path, const struct recording *rec, const struct analysis *a);
/* The compare page of two recordings from their files, and from recordings the caller opened
 * with html_columns and analysed (what `headroom compare A B --html OUT` calls: the page renders
 * the analyses its text printed). */
int html_compare_files(const char *a_path, const char *b_path, const char *out_path);
int html_compare_write(const char *out_path, const struct recording *const rec[2], const struct analysis *const a[2]);

#endif
