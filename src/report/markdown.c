#include "markdown.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "gate.h"
#include "sat.h"
#include "util.h"

/* Markdown and HTML metacharacters become backslash escapes or entities; control bytes and
 * newlines become '?'; so a hostile path cannot end a table cell, start a link or inject HTML. */
static void md_text(FILE *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			fputc('?', out);
		else if (*p == '<')
			fputs("&lt;", out);
		else if (*p == '>')
			fputs("&gt;", out);
		else if (*p == '&')
			fputs("&amp;", out);
		else if (strchr("\\`*_{}[]()#+-.!|~", *p))
			fprintf(out, "\\%c", *p);
		else
			fputc(*p, out);
	}
}

static const char *md_bytes(int64_t b, char *buf, size_t len)
{
	if (b < 0) {
		snprintf(buf, len, "n/a");
		return buf;
	}
	return util_size_format(b, buf, len);
}

static const char *md_mi(int64_t b, char *buf, size_t len)
{
	if (b <= 0) {
		snprintf(buf, len, "n/a");
		return buf;
	}
	return util_size_format_mi_ceil(b, buf, len);
}

/* The first line: a mark and the verdict, so a reviewer sees the outcome without scrolling. */
static void md_headline(FILE *out, const struct analysis *const *a, size_t n, const struct markdown_gate *g)
{
	bool oom = false;
	for (size_t i = 0; i < n; i++)
		oom |= a[i]->oom_killed || a[i]->cg_oom_kills > 0;
	const char *mark = g && g->exit_code ? ":x:" : oom ? ":warning:" : ":white_check_mark:";
	fprintf(out, "### %s headroom: memory verdict **%s**%s\n\n", mark, analyze_verdict_name(a[0]->verdict),
		oom ? ", **OOM-killed**" : "");
}

static void md_gate(FILE *out, const struct markdown_gate *g)
{
	if (!g || !g->wanted)
		return;
	fputs("**CI gate** (`--fail-on`): ", out);
	bool first = true;
	for (unsigned bit = 1; bit <= GATE_UNDER_SIZED; bit <<= 1) {
		if (!(g->wanted & bit))
			continue;
		fprintf(out, "%s`%s` %s", first ? "" : ", ", gate_class_name(bit), g->fired & bit ? "**failed**" : "passed");
		first = false;
	}
	if (g->exit_code)
		fprintf(out, " — exit status %d\n\n", g->exit_code);
	else
		fputs(" — exit status 0\n\n", out);
}

static void md_figures(FILE *out, const struct analysis *a)
{
	char b1[32], b2[32];
	fputs("| figure | value |\n|---|---|\n", out);
	fprintf(out, "| basis | %s |\n", analyze_basis_name(a->basis));
	fprintf(out, "| true peak | %s |\n", md_bytes(a->peak, b1, sizeof(b1)));
	fprintf(out, "| startup peak | %s |\n", md_bytes(a->startup_peak, b1, sizeof(b1)));
	fprintf(out, "| steady median / p95 | %s / %s |\n", md_bytes(a->steady_p50, b1, sizeof(b1)),
		md_bytes(a->steady_p95, b2, sizeof(b2)));
	fprintf(out, "| RSS peak | %s |\n", md_bytes(a->rss_peak, b1, sizeof(b1)));
	if (isfinite(a->slope_bytes_per_s))
		fprintf(out, "| trend slope | %s%s/h (Mann–Kendall p = %.3g) |\n", a->slope_bytes_per_s < 0 ? "-" : "+",
			md_bytes(sat_from_double(fabs(a->slope_bytes_per_s * 3600)), b1, sizeof(b1)), a->mk_p);
	if (a->heap_available)
		fprintf(out, "| live heap peak | %s |\n", md_bytes(a->heap_live_peak, b1, sizeof(b1)));
	fprintf(out, "| limit of the run | %s |\n", a->limit_bytes > 0 ? md_bytes(a->limit_bytes, b1, sizeof(b1)) : "none");
	fprintf(out, "| OOM kills / limit hits | %s / %s |\n",
		a->oom_killed ? "killed" : a->cg_oom_kills >= 0 ? (snprintf(b1, sizeof(b1), "%lld", (long long)a->cg_oom_kills), b1) : "n/a",
		a->cg_limit_hits >= 0 ? (snprintf(b2, sizeof(b2), "%lld", (long long)a->cg_limit_hits), b2) : "n/a");
	fputc('\n', out);
}

static void md_recommendation(FILE *out, const struct sizing *s)
{
	if (!s)
		return;
	char l[32], r[32];
	fprintf(out, "**Recommendation:** `limits.memory: %s`, `requests.memory: %s` (true peak %s + %.0f%% headroom)\n\n",
		md_mi(s->limit_bytes, l, sizeof(l)), md_mi(s->request_bytes, r, sizeof(r)),
		md_bytes(s->true_peak, (char[32]){0}, 32), s->headroom * 100);
	if (s->growing)
		fputs("> Memory is growing: no limit is safe until the growth is fixed.\n\n", out);
}

static void md_link(FILE *out, const char *html_link)
{
	if (!html_link)
		return;
	/* the target goes in <...>: only '<', '>' and control bytes could end it */
	fputs("Full report: [HTML](<", out);
	for (const unsigned char *p = (const unsigned char *)html_link; *p; p++)
		if (*p >= 0x20 && *p != '<' && *p != '>' && *p != 0x7f)
			fputc(*p, out);
	fputs(">)\n\n", out);
}

int markdown_print_run(FILE *out, const char *name, const struct analysis *a, const struct sizing *s,
		       const char *html_link, const struct markdown_gate *g)
{
	md_headline(out, &a, 1, g);
	fputs("Recording: ", out);
	md_text(out, name ? name : "(unnamed)");
	fputs("\n\n", out);
	md_gate(out, g);
	md_figures(out, a);
	md_recommendation(out, s);
	md_link(out, html_link);
	fflush(out);
	return ferror(out) ? -EIO : 0;
}

int markdown_print_sizing(FILE *out, const char *const *paths, const struct analysis *const *a, size_t n,
			  const struct sizing *s, const struct verify_result *v, size_t nv, const char *html_link,
			  const struct markdown_gate *g)
{
	char b1[32], b2[32];
	md_headline(out, a, n, g);
	md_gate(out, g);
	fputs("| recording | verdict | true peak | steady p95 | OOM |\n|---|---|---|---|---|\n", out);
	for (size_t i = 0; i < n; i++) {
		fputs("| ", out);
		md_text(out, paths[i]);
		fprintf(out, " | %s | %s | %s | %s |\n", analyze_verdict_name(a[i]->verdict),
			md_bytes(a[i]->peak, b1, sizeof(b1)), md_bytes(a[i]->steady_p95, b2, sizeof(b2)),
			a[i]->oom_killed || a[i]->cg_oom_kills > 0 ? "yes" : "no");
	}
	fputc('\n', out);
	md_recommendation(out, s);
	if (nv > 0) {
		fputs("| verify replay under | outcome | peak | limit hits |\n|---|---|---|---|\n", out);
		for (size_t i = 0; i < nv; i++) {
			char hits[24] = "n/a";
			if (v[i].limit_hits >= 0)
				snprintf(hits, sizeof(hits), "%lld", (long long)v[i].limit_hits);
			fprintf(out, "| %s | %s | %s | %s |\n", md_mi(v[i].limit_bytes, b1, sizeof(b1)),
				v[i].oom_killed ? "OOM-killed" : "held", md_bytes(v[i].peak_bytes, b2, sizeof(b2)), hits);
		}
		fputc('\n', out);
	}
	md_link(out, html_link);
	fflush(out);
	return ferror(out) ? -EIO : 0;
}
