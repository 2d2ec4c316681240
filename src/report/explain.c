#include "explain.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "util.h"
#include "words.h"

static int pct(int64_t part, int64_t whole)
{
	return whole > 0 && part >= 0 ? (int)(100.0 * (double)part / (double)whole + 0.5) : 0;
}

static void building(FILE *f, const struct analysis *a)
{
	char x[48], y[48];
	struct words_part p[WORDS_MAX_PARTS];
	int np = words_parts(a, p, WORDS_MAX_PARTS);
	if (np == 0)
		return;
	fprintf(f, "\nWhat it was made of at %s (%s in all, %s", words_duration(a->bd_t_ns, x, sizeof(x)),
		words_size(a->bd.rss, y, sizeof(y)), a->bd_coarse ? "from /proc/PID/status" : "from smaps");
	if (a->bd_heap_age_ns > 0)
		fprintf(f, "; heap figures %s old", words_duration(a->bd_heap_age_ns, x, sizeof(x)));
	fprintf(f, "):\n");
	for (int i = 0; i < np; i++)
		fprintf(f, "  %-22s %10s %3d%%  %s\n", p[i].name, words_size(p[i].bytes, x, sizeof(x)),
			pct(p[i].bytes, a->bd.rss), p[i].why);
}

static void rooms(FILE *f, const struct analysis *a)
{
	char x[48], y[48], z[48];
	fprintf(f, "\n");
	if (!a->heap_available) {
		char st[600];
		fprintf(f, "The heap was not measured: %s.\n", util_term_escape(a->heap_why, st, sizeof(st), false));
		fprintf(f, "Without it the rooms in use and the empty shelves cannot be told apart: both are in\n"
			   "\"anonymous\" above.\n");
		return;
	}
	char src[600];   /* run --metrics: say whose figures these are (the shim's need no saying) */
	if (strcmp(a->heap_source, "metrics") == 0 || strcmp(a->heap_source, "gctrace") == 0)
		fprintf(f, "The heap figures are the service's own: %s.\n",
			util_term_escape(a->heap_origin, src, sizeof(src), false));
	fprintf(f, "Rooms in use (live heap): peaked at %s; %s at %s, the last fresh figure.\n",
		words_size(a->heap_live_peak, x, sizeof(x)), words_size(a->heap_live_final, y, sizeof(y)),
		words_duration(a->heap_final_t_ns, z, sizeof(z)));
	if (a->heap_stale)
		fprintf(f, "Later heap figures were %.1fs old when read (the process did not answer): they are not used.\n",
			(double)a->heap_stale_age_ns / 1e9);
	char line[1024];
	/* growth and retention are said in full with their remedies below */
	if (a->heap_finding == HEAP_OK)
		fprintf(f, "%s\n", words_heap(a, line, sizeof(line)));
	/* a collector: its cycles, and the two settings that decide how much it keeps */
	if (a->gc_available) {
		fprintf(f, "The garbage collector: %s\n", words_gc(a, line, sizeof(line)));
		fprintf(f, "%s\n", words_gc_gomemlimit(a, line, sizeof(line)));
		if (*words_gc_gogc(a, line, sizeof(line)))
			fprintf(f, "%s\n", line);
	}
	/* jemalloc's own figures, and the settings that decide what it keeps */
	if (a->je_available) {
		char je[2048];
		fprintf(f, "jemalloc's own figures: %s\n", words_jemalloc(a, je, sizeof(je)));
		fprintf(f, "%s\n", words_jemalloc_advice(a, je, sizeof(je)));
	}
}

/* The findings that concern the memory's make-up, in full, with their remedies. */
static void shelves(FILE *f, const struct analysis *a)
{
	char line[1024];
	static const enum finding_kind kinds[] = {FINDING_HEAP_GROWING, FINDING_RETENTION, FINDING_GROWING,
						  FINDING_NOT_RELEASED};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const struct finding *fd = analysis_finding(a, kinds[i]);
		if (fd)
			fprintf(f, "\n%s\n", words_finding(a, fd, line, sizeof(line)));
	}
}

int explain_print(FILE *f, const struct recording *rec, const struct analysis *a)
{
	char x[48], y[48];
	char cmd[8192];   /* the recorded command line: escaped, it cannot drive a terminal */
	fprintf(f, "headroom explain: %s\n", util_term_escape(rec->run.command, cmd, sizeof(cmd), false));
	fprintf(f, "  %s %s, %zu samples%s\n\n", rec->run.mode, words_duration(a->duration_ns, x, sizeof(x)), a->nsamples,
		a->finished ? "" : " (the recording was cut short)");
	if (a->rss_peak < 0) {
		fprintf(f, "The recording holds no RSS figures: there is nothing to explain.\n");
		return ferror(f) ? -EIO : 0;
	}
	fprintf(f, "The building (RSS, what the kernel counts against the process): peaked at %s, ended at %s.\n",
		words_size(a->rss_peak, x, sizeof(x)), words_size(a->rss_final, y, sizeof(y)));
	building(f, a);
	rooms(f, a);
	shelves(f, a);
	if (a->rss_stayed_high)
		fprintf(f, "\nRSS ended near its peak (%s of %s). After load that is normal: freed memory is kept for\n"
			   "reuse rather than returned, so size the pod for the peak, not for the quiet moments.\n",
			words_size(a->rss_final, x, sizeof(x)), words_size(a->rss_peak, y, sizeof(y)));
	return ferror(f) ? -EIO : 0;
}

int explain_file(FILE *f, const char *path)
{
	struct recording *rec;
	struct analysis *a;
	int r = analyze_file(path, &rec, &a);
	if (!rec)
		return r;
	r = explain_print(f, rec, a);
	analyze_file_free(rec, a);
	return r;
}
