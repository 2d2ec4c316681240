/* html: the self-contained HTML report. See html.h for the contract. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json.h>

#include "html.h"
#include "sha256.h"
#include "symbols.h"
#include "util.h"

/* ---------- output buffer: the whole page is built in memory, then written once ---------- */

struct out {
	char *p;
	size_t len, cap;
	int err;
};

static void out_reserve(struct out *o, size_t more)
{
	if (o->err || o->len + more + 1 <= o->cap)
		return;
	size_t cap = o->cap ? o->cap : 65536;
	while (cap < o->len + more + 1)
		cap *= 2;
	char *p = realloc(o->p, cap);
	if (!p) {
		o->err = -ENOMEM;
		return;
	}
	o->p = p;
	o->cap = cap;
}

static void out_write(struct out *o, const char *s, size_t n)
{
	out_reserve(o, n);
	if (o->err)
		return;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void out_puts(struct out *o, const char *s)
{
	out_write(o, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->err = o->err ? o->err : -EINVAL;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		out_write(o, small, (size_t)n);
		return;
	}
	out_reserve(o, (size_t)n);
	if (o->err)
		return;
	va_start(ap, fmt);
	vsnprintf(o->p + o->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	o->len += (size_t)n;
}

/* Text from the recording (a command line, an event detail) may hold anything. */
static void out_esc(struct out *o, const char *s)
{
	if (!s)
		return;
	for (; *s; s++) {
		switch (*s) {
		case '&': out_puts(o, "&amp;"); break;
		case '<': out_puts(o, "&lt;"); break;
		case '>': out_puts(o, "&gt;"); break;
		case '"': out_puts(o, "&quot;"); break;
		case '\'': out_puts(o, "&#39;"); break;
		default:
			if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
				out_puts(o, "\xef\xbf\xbd");
			else
				out_write(o, s, 1);
		}
	}
}

static int out_save(struct out *o, const char *path)
{
	if (o->err)
		return o->err;
	/* never through a name someone else may have planted (OUT.tmp was followed as a symlink) */
	return util_file_write_atomic(path, o->p, o->len, 0644);
}

/* ---------- reading the recording ---------- */

const char *const html_columns[] = {
	"threads", "rss", "rss_anon", "rss_file", "rss_shmem", "rss_peak", "map_anon", "map_stacks", "map_code",
	"map_files", "map_shmem", "map_other", "cg_usage", "cg_usage_peak", "cg_limit", "cg_working_set",
	"heap_live", "heap_held", NULL,
};

static const int64_t *rcol(const struct recording *rec, const char *name)
{
	return recording_column(rec, name);
}

/* A column that exists and holds at least one measured value, else NULL. */
static const int64_t *rcol_known(const struct recording *rec, const char *name)
{
	const int64_t *c = rcol(rec, name);
	if (!c || !rec->t_ns)
		return NULL;
	for (size_t i = 0; i < rec->nsamples; i++)
		if (c[i] >= 0)
			return c;
	return NULL;
}

static int64_t col_max(const int64_t *c, size_t n, size_t *ret_i)
{
	int64_t m = HR_UNKNOWN;
	size_t mi = 0;
	for (size_t i = 0; c && i < n; i++)
		if (c[i] > m) {
			m = c[i];
			mi = i;
		}
	if (ret_i)
		*ret_i = mi;
	return m;
}

static int64_t rec_limit(const struct recording *rec)
{
	if (rec->run.limit_bytes > 0)
		return rec->run.limit_bytes;
	/* cgroup v1 reports "unlimited" as a page-rounded INT64_MAX */
	int64_t m = col_max(rcol(rec, "cg_limit"), rec->nsamples, NULL);
	return m > 0 && m < (1LL << 50) ? m : HR_UNKNOWN;
}

static const struct record_event *rec_event(const struct recording *rec, const char *kind)
{
	for (size_t i = 0; i < rec->nevents; i++)
		if (strcmp(rec->events[i].kind, kind) == 0)
			return &rec->events[i];
	return NULL;
}

static int64_t rec_end(const struct recording *rec)
{
	int64_t t = 0;
	if (rec->nsamples && rec->t_ns)
		t = rec->t_ns[rec->nsamples - 1];
	if (rec->run.duration_ns > t)
		t = rec->run.duration_ns;
	if (rec->nload && rec->load[rec->nload - 1].t_ns + 1000000000LL > t)
		t = rec->load[rec->nload - 1].t_ns + 1000000000LL;
	for (size_t i = 0; i < rec->nevents; i++)
		if (rec->events[i].t_ns > t)
			t = rec->events[i].t_ns;
	return t;
}

static int64_t rec_start(const struct recording *rec)
{
	int64_t t = 0;
	if (rec->nsamples && rec->t_ns && rec->t_ns[0] < t)
		t = rec->t_ns[0];
	return t;
}

static bool rec_has_load(const struct recording *rec)
{
	return rec->nload > 0;
}

/* ---------- formatting ---------- */

static const char *fsize(int64_t b, char *buf, size_t len)
{
	if (b < 0)
		return snprintf(buf, len, "n/a"), buf;
	return util_size_format(b, buf, len);
}

static const char *ftime(int64_t ns, char *buf, size_t len)
{
	double s = ns / 1e9;
	if (ns < 0)
		snprintf(buf, len, "-");
	else if (s < 60 && s == floor(s))
		snprintf(buf, len, "%.0fs", s);
	else if (s < 60)
		snprintf(buf, len, "%.3gs", s);
	else
		util_duration_format(ns, buf, len);
	return buf;
}

/* ---------- charts ---------- */

#define CH_W 960
#define CH_X0 72
#define CH_X1 (CH_W - 64)
#define CH_NCOL (CH_X1 - CH_X0)      /* one column per SVG pixel of the plot area */
#define CH_TOP 22
#define CH_BOTTOM 26
#define CH_MAX_SERIES 10
#define CH_MAX_MARKS 64

enum skind { S_LINE, S_AREA, S_DOTS, S_HOVER };   /* S_HOVER: listed on hover, not drawn */

struct series {
	const char *name, *cls;
	const int64_t *t, *v;
	size_t n;
	enum skind kind;
	int axis;          /* 0 left, 1 right */
	bool hover;        /* listed in the hover box */
};

struct mark {
	int64_t t, v;      /* v only for point marks */
	const char *label, *cls;
	char text[64];
};

struct chart {
	const char *id, *title, *caption;
	int height;
	int64_t t0, t1;
	bool bytes[2];               /* axis units: bytes, else a count */
	const char *unit[2];         /* for counts: "req/s", "in flight" */
	struct series s[CH_MAX_SERIES];
	int ns;
	struct mark h[6];            /* horizontal lines (limits) */
	int nh;
	struct mark vm[CH_MAX_MARKS];/* vertical event lines */
	int nvm;
	struct mark pm[4];           /* point marks (the peak) */
	int npm;
	const struct html_phase *bands;
	size_t nbands;
	int64_t vmax_hint;           /* the scale covers at least this */
};

struct agg {
	int64_t lo, hi;
	size_t ilo, ihi;
};

static void decimate(const struct series *s, int64_t t0, int64_t t1, struct agg *a)
{
	for (int c = 0; c < CH_NCOL; c++)
		a[c].lo = a[c].hi = HR_UNKNOWN;
	double scale = (double)CH_NCOL / (double)(t1 - t0);
	for (size_t i = 0; i < s->n; i++) {
		int64_t v = s->v[i];
		if (v < 0)
			continue;
		long c = (long)((double)(s->t[i] - t0) * scale);
		if (c < 0)
			c = 0;
		if (c >= CH_NCOL)
			c = CH_NCOL - 1;
		struct agg *g = &a[c];
		if (g->lo < 0) {
			g->lo = g->hi = v;
			g->ilo = g->ihi = i;
			continue;
		}
		if (v < g->lo) {
			g->lo = v;
			g->ilo = i;
		}
		if (v > g->hi) {
			g->hi = v;
			g->ihi = i;
		}
	}
}

static double nice_step(double raw)
{
	if (raw <= 0)
		return 1;
	double p = pow(10, floor(log10(raw)));
	double m = raw / p;
	return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

static double byte_step(double vmax)
{
	double raw = vmax / 5;
	if (raw >= 512.0 * 1024)
		return nice_step(raw / UTIL_MiB) * UTIL_MiB;
	if (raw >= 512)
		return nice_step(raw / 1024) * 1024;
	return nice_step(raw);
}

static double time_step(double span_s)
{
	static const double steps[] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15,
	                               30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (steps[i] >= span_s / 9)
			return steps[i];
	return 86400 * ceil(span_s / 9 / 86400);
}

static void axis_label(char *buf, size_t len, double v, bool bytes, const char *unit)
{
	if (bytes)
		util_size_format((int64_t)llround(v), buf, len);
	else if (v >= 10000)
		snprintf(buf, len, "%.0fk", v / 1000);
	else
		snprintf(buf, len, "%g", v);
	(void)unit;
}

struct geom {
	double x0, pw, y0, ph;
	int64_t t0, t1;
	double vmax[2];
};

static double gx(const struct geom *g, int64_t t)
{
	return g->x0 + (double)(t - g->t0) / (double)(g->t1 - g->t0) * g->pw;
}

static double gy(const struct geom *g, int axis, int64_t v)
{
	return g->y0 + g->ph - (double)v / g->vmax[axis] * g->ph;
}

static void chart_add(struct chart *ch, const char *name, const char *cls, const int64_t *t, const int64_t *v,
                      size_t n, enum skind kind, int axis)
{
	if (!v || !t || ch->ns >= CH_MAX_SERIES)
		return;
	ch->s[ch->ns++] = (struct series){name, cls, t, v, n, kind, axis, true};
}

static void chart_hline(struct chart *ch, int64_t v, const char *cls, const char *fmt, const char *what)
{
	if (v <= 0 || ch->nh >= (int)(sizeof(ch->h) / sizeof(ch->h[0])))
		return;
	struct mark *m = &ch->h[ch->nh++];
	char sz[32];
	m->v = v;
	m->cls = cls;
	snprintf(m->text, sizeof(m->text), fmt, what, util_size_format(v, sz, sizeof(sz)));
	m->label = m->text;
}

static void chart_vmark(struct chart *ch, int64_t t, const char *cls, const char *label)
{
	if (ch->nvm >= CH_MAX_MARKS)
		return;
	struct mark *m = &ch->vm[ch->nvm++];
	m->t = t;
	m->cls = cls;
	snprintf(m->text, sizeof(m->text), "%s", label);
	m->label = m->text;
}

static void emit_path_line(struct out *o, const struct geom *g, int axis, const struct agg *a, const char *cls)
{
	int ncols = 0, last = -1;
	for (int c = 0; c < CH_NCOL; c++)
		if (a[c].lo >= 0) {
			ncols++;
			last = c;
		}
	if (ncols == 0)
		return;
	if (ncols == 1) {   /* a single instant: a dot, a line of one point would not show */
		out_printf(o, "<circle class=\"%s dot\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>", cls,
		           g->x0 + last + 0.5, gy(g, axis, a[last].hi));
		return;
	}
	out_printf(o, "<path class=\"%s\" d=\"", cls);
	char cmd = 'M';
	for (int c = 0; c < CH_NCOL; c++) {
		if (a[c].lo < 0)
			continue;
		double x = g->x0 + c + 0.5;
		/* draw the column's extremes in the order they happened, so the line is continuous */
		int64_t first = a[c].ilo <= a[c].ihi ? a[c].lo : a[c].hi;
		int64_t second = a[c].ilo <= a[c].ihi ? a[c].hi : a[c].lo;
		out_printf(o, "%c%.1f %.1f", cmd, x, gy(g, axis, first));
		cmd = 'L';
		if (second != first)
			out_printf(o, "L%.1f %.1f", x, gy(g, axis, second));
	}
	out_puts(o, "\"/>");
}

static void emit_path_area(struct out *o, const struct geom *g, int axis, const struct agg *a, const char *cls)
{
	int first = -1, last = -1;
	for (int c = 0; c < CH_NCOL; c++)
		if (a[c].lo >= 0) {
			if (first < 0)
				first = c;
			last = c;
		}
	if (first < 0)
		return;
	double base = g->y0 + g->ph;
	out_printf(o, "<path class=\"%s\" d=\"M%.1f %.1f", cls, g->x0 + first, base);
	for (int c = first; c <= last; c++) {
		if (a[c].lo < 0)
			continue;
		/* the area's top is the column maximum: a spike is never shaved off */
		out_printf(o, "L%.1f %.1f", g->x0 + c + (c == first ? 0 : 0.5), gy(g, axis, a[c].hi));
	}
	out_printf(o, "L%.1f %.1f", g->x0 + last + 1, gy(g, axis, a[last].hi));
	out_printf(o, "L%.1f %.1fZ\"/>", g->x0 + last + 1, base);
}

static void emit_dots(struct out *o, const struct geom *g, const struct series *s)
{
	out_printf(o, "<g class=\"%s\"><path d=\"", s->cls);
	char cmd = 'M';
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i] < 0)
			continue;
		out_printf(o, "%c%.1f %.1f", cmd, gx(g, s->t[i]), gy(g, s->axis, s->v[i]));
		cmd = 'L';
	}
	out_puts(o, "\"/>");
	if (s->n <= 400)
		for (size_t i = 0; i < s->n; i++)
			if (s->v[i] >= 0)
				out_printf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>", gx(g, s->t[i]),
				           gy(g, s->axis, s->v[i]));
	out_puts(o, "</g>");
}

static void emit_hover_values(struct out *o, const struct series *s, const struct agg *a, int64_t t0, int64_t t1)
{
	out_puts(o, "\"hi\":[");
	if (s->kind == S_DOTS) {
		/* a dashboard holds its last scraped value until the next scrape */
		size_t i = 0;
		int64_t cur = HR_UNKNOWN;
		for (int c = 0; c < CH_NCOL; c++) {
			int64_t tc = t0 + (int64_t)((double)(c + 1) * (double)(t1 - t0) / CH_NCOL);
			while (i < s->n && s->t[i] < tc) {
				if (s->v[i] >= 0)
					cur = s->v[i];
				i++;
			}
			out_printf(o, c ? ",%lld" : "%lld", (long long)cur);
		}
		out_puts(o, "],\"lo\":null");
		return;
	}
	for (int c = 0; c < CH_NCOL; c++)
		out_printf(o, c ? ",%lld" : "%lld", (long long)a[c].hi);
	out_puts(o, "],\"lo\":[");
	for (int c = 0; c < CH_NCOL; c++)
		out_printf(o, c ? ",%lld" : "%lld", (long long)a[c].lo);
	out_puts(o, "]");
}

/* The geometry and the scale of both axes: the data's maximum, a limit line close above it,
 * rounded up to a whole step. Fills a (the decimated columns of every series). */
static struct geom chart_scale(struct chart *ch, struct agg *a)
{
	struct geom g = {CH_X0, CH_NCOL, CH_TOP, ch->height - CH_TOP - CH_BOTTOM, ch->t0, ch->t1, {0, 0}};
	int64_t vmax[2] = {0, 0};
	for (int i = 0; i < ch->ns; i++) {
		decimate(&ch->s[i], ch->t0, ch->t1, a + (size_t)i * CH_NCOL);
		for (int c = 0; c < CH_NCOL; c++)
			if (a[(size_t)i * CH_NCOL + c].hi > vmax[ch->s[i].axis])
				vmax[ch->s[i].axis] = a[(size_t)i * CH_NCOL + c].hi;
	}
	if (ch->vmax_hint > vmax[0])
		vmax[0] = ch->vmax_hint;
	int64_t data_max = vmax[0];
	for (int i = 0; i < ch->nh; i++)
		/* a limit far above the data would flatten it: such a line is named, not drawn */
		if (ch->h[i].v > vmax[0] && (data_max == 0 || ch->h[i].v <= data_max * 3))
			vmax[0] = ch->h[i].v;
	for (int ax = 0; ax < 2; ax++) {
		double v = vmax[ax] > 0 ? (double)vmax[ax] * 1.08 : 1.0;
		double st = ch->bytes[ax] ? byte_step(v) : nice_step(v / 5);
		g.vmax[ax] = ceil(v / st) * st;
	}

	return g;
}

/* the caption, and the legend (a limit above the chart is named here, not drawn) */
static void chart_head(struct out *o, const struct chart *ch, const struct geom *gp)
{
	const struct geom g = *gp;
	out_printf(o, "<figure class=\"chart\" id=\"%s\"><figcaption><b>", ch->id);
	out_esc(o, ch->title);
	out_puts(o, "</b>");
	if (ch->caption) {
		out_puts(o, " — ");
		out_esc(o, ch->caption);
	}
	out_puts(o, "</figcaption><div class=\"legend\">");
	for (int i = 0; i < ch->ns; i++) {
		if (ch->s[i].kind == S_HOVER)
			continue;
		out_printf(o, "<span><i class=\"sw %s\"></i>", ch->s[i].cls);
		out_esc(o, ch->s[i].name);
		out_puts(o, "</span>");
	}
	for (int i = 0; i < ch->nh; i++) {
		out_printf(o, "<span><i class=\"sw %s\"></i>", ch->h[i].cls);
		out_esc(o, ch->h[i].label);
		if ((double)ch->h[i].v > g.vmax[0])
			out_puts(o, " (above the chart \xe2\x86\x91)");
		out_puts(o, "</span>");
	}
	out_printf(o, "</div><div class=\"plot\"><svg viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", CH_W,
	           ch->height);
	out_esc(o, ch->title);
	out_puts(o, "\">");

}

/* the phases of the run as shaded bands, labelled where they are wide enough */
static void chart_bands(struct out *o, const struct chart *ch, const struct geom *gp)
{
	const struct geom g = *gp;
	/* stages */
	for (size_t i = 0; i < ch->nbands; i++) {
		const struct html_phase *b = &ch->bands[i];
		int64_t s0 = b->start_ns < ch->t0 ? ch->t0 : b->start_ns;
		int64_t s1 = b->end_ns > ch->t1 ? ch->t1 : b->end_ns;
		if (s1 <= s0 || !b->name)
			continue;
		double x0 = gx(&g, s0), x1 = gx(&g, s1);
		/* the analysis names load stages "stage N": they share the load shade */
		const char *cls = strncmp(b->name, "startup", 7) == 0 ? "startup"
		                  : strncmp(b->name, "steady", 6) == 0 || strncmp(b->name, "idle", 4) == 0 ? "steady"
		                  : strncmp(b->name, "after", 5) == 0  ? "after-load"
		                  : strncmp(b->name, "stage", 5) == 0 || strncmp(b->name, "load", 4) == 0 ? "load"
		                                                                                          : "other";
		out_printf(o, "<rect class=\"band b-%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>", cls, x0,
		           g.y0, x1 - x0, g.ph);
		if (i > 0)   /* consecutive load stages share a shade: the edge tells them apart */
			out_printf(o, "<line class=\"bandedge\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", x0, x0,
			           g.y0, g.y0 + g.ph);
		if (x1 - x0 > 36) {
			out_printf(o, "<text class=\"bandl\" x=\"%.1f\" y=\"%.1f\">", x0 + 4, g.y0 - 6);
			out_esc(o, b->name);
			out_puts(o, "</text>");
		}
	}
}

/* grid, axis labels and time ticks */
static void chart_axes(struct out *o, const struct chart *ch, const struct geom *gp)
{
	const struct geom g = *gp;
	/* grid and axes */
	for (int ax = 0; ax < 2; ax++) {
		bool used = false;
		for (int i = 0; i < ch->ns; i++)
			used |= ch->s[i].axis == ax;
		if (!used && ax == 1)
			continue;
		double st = ch->bytes[ax] ? byte_step(g.vmax[ax] / 1.0) : nice_step(g.vmax[ax] / 5);
		for (double v = 0; v <= g.vmax[ax] + st / 1000; v += st) {
			double y = gy(&g, ax, (int64_t)v);
			char lab[32];
			axis_label(lab, sizeof(lab), v, ch->bytes[ax], ch->unit[ax]);
			if (ax == 0)
				out_printf(o, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
				              "<text class=\"yl\" x=\"%d\" y=\"%.1f\">%s</text>",
				           CH_X0, CH_X1, y, y, CH_X0 - 6, y + 4, lab);
			else
				out_printf(o, "<text class=\"yr\" x=\"%d\" y=\"%.1f\">%s</text>", CH_X1 + 6, y + 4, lab);
		}
		if (ch->unit[ax])
			out_printf(o, "<text class=\"%s\" x=\"%d\" y=\"%d\">%s</text>", ax ? "yr" : "yl",
			           ax ? CH_X1 + 6 : CH_X0 - 6, CH_TOP - 8, ch->unit[ax]);
	}
	double tst = time_step((double)(ch->t1 - ch->t0) / 1e9);
	for (double ts = ceil(ch->t0 / 1e9 / tst) * tst; ts * 1e9 <= (double)ch->t1 + 1; ts += tst) {
		double x = gx(&g, (int64_t)(ts * 1e9));
		char lab[32];
		ftime((int64_t)llround(ts * 1e9), lab, sizeof(lab));
		out_printf(o, "<line class=\"tick\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
		              "<text class=\"xl\" x=\"%.1f\" y=\"%.1f\">%s</text>",
		           x, x, g.y0 + g.ph, g.y0 + g.ph + 4, x, g.y0 + g.ph + 17, lab);
	}
	out_printf(o, "<rect class=\"frame\" x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\"/>", CH_X0, g.y0, CH_NCOL,
	           g.ph);

}

/* the series: areas first so lines stay on top */
static void chart_series(struct out *o, const struct chart *ch, const struct geom *gp, const struct agg *a)
{
	const struct geom g = *gp;
	/* series: areas first so lines stay on top */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < ch->ns; i++) {
			const struct series *s = &ch->s[i];
			const struct agg *sa = a + (size_t)i * CH_NCOL;
			if (pass == 0 && s->kind == S_AREA)
				emit_path_area(o, &g, s->axis, sa, s->cls);
			else if (pass == 1 && s->kind == S_LINE)
				emit_path_line(o, &g, s->axis, sa, s->cls);
			else if (pass == 1 && s->kind == S_DOTS)
				emit_dots(o, &g, s);
		}
}

/* horizontal limit lines with their labels */
static void chart_limits(struct out *o, const struct chart *ch, const struct geom *gp)
{
	const struct geom g = *gp;
	/* limits */
	for (int i = 0; i < ch->nh; i++) {
		const struct mark *m = &ch->h[i];
		if ((double)m->v > g.vmax[0])
			continue;   /* named in the legend */
		double y = gy(&g, 0, m->v);
		out_printf(o, "<line class=\"%s\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
		              "<text class=\"hl %s\" x=\"%d\" y=\"%.1f\">",
		           m->cls, CH_X0, CH_X1, y, y, m->cls, CH_X1 - 4, y - 4);
		out_esc(o, m->label);
		out_puts(o, "</text>");
	}
}

/* event lines: OOM kills and exits are labelled first, the rest where they overwrite no label */
static void chart_events(struct out *o, const struct chart *ch, const struct geom *gp)
{
	const struct geom g = *gp;
	/* events: OOM kills and exits are labelled first, the rest where they overwrite no label */
	double labelled[CH_MAX_MARKS];
	int nlab = 0;
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < ch->nvm; i++) {
			const struct mark *m = &ch->vm[i];
			bool major = strcmp(m->cls, "oom") == 0 || strcmp(m->cls, "exit") == 0;
			if (m->t < ch->t0 || m->t > ch->t1 || major != (pass == 0))
				continue;
			double x = gx(&g, m->t);
			out_printf(o, "<line class=\"ev %s\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", m->cls,
			           x, x, g.y0, g.y0 + g.ph);
			int row = 0;
			for (int k = 0; k < nlab; k++)
				if (fabs(labelled[k] - x) < 90)
					row++;
			if (row > 2)
				continue;
			bool right = x > CH_X1 - 80;
			out_printf(o, "<text class=\"evl %s\" x=\"%.1f\" y=\"%.1f\"%s>", m->cls, right ? x - 3 : x + 3,
			           g.y0 + 12 + 12.0 * row, right ? " text-anchor=\"end\"" : "");
			out_esc(o, m->label);
			out_puts(o, "</text>");
			labelled[nlab++] = x;
		}
}

/* marked points (the true peak): the label steps below a limit label it would cover */
static void chart_peak_marks(struct out *o, const struct chart *ch, const struct geom *gp)
{
	const struct geom g = *gp;
	for (int i = 0; i < ch->npm; i++) {
		const struct mark *m = &ch->pm[i];
		double x = gx(&g, m->t), y = gy(&g, 0, m->v);
		bool right = x > CH_X1 - 160;
		double ly = y < g.y0 + 14 ? y + 14 : y - 6;
		/* the limits are labelled at the right end: step below one that the label would cover */
		for (int k = 0; right && k < ch->nh; k++)
			if ((double)ch->h[k].v <= g.vmax[0] && fabs(gy(&g, 0, ch->h[k].v) - 4 - ly) < 13)
				ly = y + 16;
		out_printf(o, "<circle class=\"pm %s\" cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\"/>"
		              "<text class=\"pml\" x=\"%.1f\" y=\"%.1f\"%s>",
		           m->cls, x, y, right ? x - 8 : x + 8, ly, right ? " text-anchor=\"end\"" : "");
		out_esc(o, m->label);
		out_puts(o, "</text>");
	}
}

/* the cursor, and the hover data: the decimated columns, so the script never sees the raw million samples */
static void chart_hover_data(struct out *o, const struct chart *ch, const struct geom *gp, const struct agg *a)
{
	const struct geom g = *gp;
	out_printf(o, "<line class=\"cursor\" x1=\"0\" x2=\"0\" y1=\"%.1f\" y2=\"%.1f\" visibility=\"hidden\"/>", g.y0,
	           g.y0 + g.ph);
	out_puts(o, "</svg><div class=\"tip\" hidden></div></div>");

	/* hover data: the decimated columns, so the script never sees the raw million samples */
	out_printf(o, "<script type=\"application/json\" class=\"hd\">{\"x0\":%d,\"n\":%d,\"t0\":%.6f,\"dt\":%.9f,"
	              "\"b\":[%s,%s],\"u\":[\"%s\",\"%s\"],\"s\":[",
	           CH_X0, CH_NCOL, ch->t0 / 1e9, (double)(ch->t1 - ch->t0) / 1e9 / CH_NCOL,
	           ch->bytes[0] ? "true" : "false", ch->bytes[1] ? "true" : "false", ch->unit[0] ? ch->unit[0] : "",
	           ch->unit[1] ? ch->unit[1] : "");
	bool first = true;
	for (int i = 0; i < ch->ns; i++) {
		if (!ch->s[i].hover)
			continue;
		out_printf(o, "%s{\"name\":\"", first ? "" : ",");
		out_esc(o, ch->s[i].name);   /* names are ours: no quote or backslash to escape */
		out_printf(o, "\",\"cls\":\"%s\",\"ax\":%d,", ch->s[i].cls, ch->s[i].axis);
		emit_hover_values(o, &ch->s[i], a + (size_t)i * CH_NCOL, ch->t0, ch->t1);
		out_puts(o, "}");
		first = false;
	}
}

static int chart_render(struct out *o, struct chart *ch)
{
	struct agg *a = calloc((size_t)CH_MAX_SERIES * CH_NCOL, sizeof(*a));
	if (!a)
		return -ENOMEM;
	if (ch->t1 <= ch->t0)
		ch->t1 = ch->t0 + 1000000000LL;
	struct geom g = chart_scale(ch, a);
	chart_head(o, ch, &g);
	chart_bands(o, ch, &g);
	chart_axes(o, ch, &g);
	chart_series(o, ch, &g, a);
	chart_limits(o, ch, &g);
	chart_events(o, ch, &g);
	chart_peak_marks(o, ch, &g);
	chart_hover_data(o, ch, &g, a);
	out_puts(o, "]}</script></figure>\n");
	free(a);
	return 0;
}

/* ---------- page furniture ---------- */

static const char css[] =
	":root{--bg:#fff;--fg:#1f2933;--muted:#5f6b7a;--card:#f5f7fa;--line:#d9dee5;--rss:#2563eb;--ws:#7c3aed;"
	"--cg:#64748b;--live:#16a34a;--held:#f59e0b;--anon:#94a3b8;--stacks:#0ea5e9;--code:#a16207;--files:#8b5cf6;"
	"--shmem:#db2777;--other:#cbd5e1;--peak:#dc2626;--limit:#b91c1c;--rec:#0d9488;--req:#0891b2;"
	"--infl:#db2777;--err:#dc2626;--d15:#ea580c;--d60:#9333ea;--b:#e11d48;--bad:#b91c1c;--good:#15803d;"
	"--band-startup:rgba(245,158,11,.13);--band-steady:rgba(22,163,74,.08);--band-load:rgba(37,99,235,.10);"
	"--band-after:rgba(100,116,139,.10)}\n"
	"@media screen and (prefers-color-scheme:dark){:root{--bg:#0f141a;--fg:#e3e8ef;--muted:#9aa5b4;--card:#18202a;"
	"--line:#2c3744;--rss:#60a5fa;--ws:#a78bfa;--cg:#94a3b8;--live:#4ade80;--held:#fbbf24;--anon:#64748b;"
	"--stacks:#38bdf8;--code:#ca8a04;--files:#a78bfa;--shmem:#f472b6;--other:#475569;--peak:#f87171;"
	"--limit:#f87171;--rec:#2dd4bf;--req:#22d3ee;--infl:#f472b6;--d15:#fb923c;--d60:#c084fc;--b:#fb7185;"
	"--bad:#f87171;--good:#4ade80}}\n"
	"*{box-sizing:border-box}body{margin:0 auto;max-width:1040px;padding:24px;background:var(--bg);"
	"color:var(--fg);font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}"
	"h1{font-size:1.5em;margin:0 0 4px}h2{font-size:1.2em;margin:28px 0 8px;border-bottom:1px solid var(--line);"
	"padding-bottom:4px}code{font:13px ui-monospace,Menlo,Consolas,monospace;word-break:break-all}"
	".meta{color:var(--muted);font-size:.9em}.verdict{font-size:1.2em;font-weight:600;padding:12px 16px;"
	"border-left:5px solid var(--rss);background:var(--card);margin:14px 0}.verdict.t-growing,"
	".verdict.t-oom{border-color:var(--bad)}.verdict.t-stable{border-color:var(--good)}"
	".cols{display:grid;grid-template-columns:1fr 1fr;gap:16px}.card{background:var(--card);padding:12px 16px;"
	"border-radius:6px}dl.answers{margin:0}dl.answers dt{font-weight:600}dl.answers dd{margin:0 0 8px}"
	".big{font-size:1.5em;font-weight:700}.missing{border-left:5px solid var(--held)}.missing li{margin:4px 0}"
	"table{border-collapse:collapse;width:100%;font-size:.92em}td,th{text-align:left;padding:4px 8px;"
	"border-bottom:1px solid var(--line);vertical-align:top}td.n,th.n{text-align:right;white-space:nowrap}"
	"figure{margin:12px 0;break-inside:avoid}figcaption{margin-bottom:4px}.legend{font-size:.85em;"
	"color:var(--muted)}.legend span{margin-right:14px;white-space:nowrap}.sw{display:inline-block;width:12px;"
	"height:12px;margin-right:4px;vertical-align:-1px;border-radius:2px;background:currentColor}"
	".plot{position:relative}svg{width:100%;height:auto;display:block;overflow:visible}"
	"svg text{font-size:11px;fill:var(--muted)}.yl{text-anchor:end}.xl{text-anchor:middle}.yr{text-anchor:start}"
	".grid{stroke:var(--line);stroke-width:.6}.tick{stroke:var(--muted)}.frame{fill:none;stroke:var(--line)}"
	"path{fill:none;stroke-width:1.4;stroke-linejoin:round}.rss{stroke:var(--rss);color:var(--rss)}"
	".ws{stroke:var(--ws);color:var(--ws)}.cg{stroke:var(--cg);color:var(--cg);stroke-dasharray:2 2}"
	".peak{stroke:var(--peak);color:var(--peak);stroke-width:.8;opacity:.8}"
	"path.live,path.held,path.req,path.anon{stroke:none}.live{fill:var(--live);color:var(--live);opacity:.55}"
	".held{fill:var(--held);color:var(--held);opacity:.5}.req{fill:var(--req);color:var(--req);opacity:.45}"
	".infl{stroke:var(--infl);color:var(--infl)}.errs{stroke:var(--err);color:var(--err)}"
	".d15{stroke:var(--d15);color:var(--d15);fill:var(--d15);stroke-width:2}.d60{stroke:var(--d60);"
	"color:var(--d60);fill:var(--d60);stroke-width:2}g.d15 path,g.d60 path{fill:none}"
	".a{stroke:var(--rss);color:var(--rss)}.b{stroke:var(--b);color:var(--b)}.alive{stroke:var(--live);"
	"color:var(--live);stroke-dasharray:4 2}.blive{stroke:var(--held);color:var(--held);stroke-dasharray:4 2}"
	".limit{stroke:var(--limit);color:var(--limit);stroke-width:1.5}.reclim{stroke:var(--rec);color:var(--rec);"
	"stroke-width:1.5;stroke-dasharray:6 3}.recreq{stroke:var(--rec);color:var(--rec);stroke-dasharray:2 3}"
	"text.hl{text-anchor:end;font-weight:600}text.limit,text.reclim,text.recreq{stroke:none}"
	"text.limit{fill:var(--limit)}text.reclim,text.recreq{fill:var(--rec)}"
	".ev{stroke-width:1.2;stroke-dasharray:3 2}.ev.oom{stroke:var(--bad)}.ev.exit{stroke:var(--fg)}"
	".ev.hit{stroke:var(--held)}.ev.ready{stroke:var(--good)}.ev.note{stroke:var(--muted)}"
	"text.evl{font-weight:600}text.evl.oom{fill:var(--bad)}text.evl.exit{fill:var(--fg)}"
	"circle.pm{fill:var(--peak);stroke:var(--bg);stroke-width:1.5}text.pml{fill:var(--peak);font-weight:700}"
	"circle.dot{fill:currentColor}.band{stroke:none;fill:var(--band-after)}.b-startup{fill:var(--band-startup)}"
	".b-steady{fill:var(--band-steady)}.b-load{fill:var(--band-load)}.b-after-load{fill:var(--band-after)}"
	"text.bandl{font-weight:600}.bandedge{stroke:var(--line);stroke-width:1}.cursor{stroke:var(--fg);stroke-width:.8}"
	".tip{position:absolute;top:4px;pointer-events:none;background:var(--bg);border:1px solid var(--line);"
	"border-radius:4px;padding:6px 8px;font-size:12px;box-shadow:0 2px 6px rgba(0,0,0,.2);white-space:nowrap}"
	".tip b{display:block}.bar rect{stroke:var(--bg);stroke-width:1}.bar text{fill:#fff;font-size:12px;"
	"font-weight:600}.seg-live{fill:var(--live)}.seg-held{fill:var(--held)}.seg-anon{fill:var(--anon)}"
	".seg-stacks{fill:var(--stacks)}.seg-code{fill:var(--code)}.seg-files{fill:var(--files)}"
	".seg-shmem{fill:var(--shmem)}.seg-other{fill:var(--other)}.seg-file{fill:var(--files)}"
	"i.seg{display:inline-block;width:12px;height:12px;border-radius:2px}"
	"i.seg-live{background:var(--live)}i.seg-held{background:var(--held)}i.seg-anon{background:var(--anon)}"
	"i.seg-stacks{background:var(--stacks)}i.seg-code{background:var(--code)}i.seg-files,i.seg-file{background:var(--files)}"
	"i.seg-shmem{background:var(--shmem)}i.seg-other{background:var(--other)}"
	"footer{margin-top:32px;color:var(--muted);font-size:.85em}\n"
	"@media (max-width:700px){.cols{grid-template-columns:1fr}}\n"
	"@media print{@page{size:A4;margin:12mm}:root{--bg:#fff;--fg:#000;--muted:#444;--card:#f3f4f6;--line:#ccc}"
	"body{max-width:none;padding:0;font-size:10.5pt}.tip,.cursor{display:none}h2{break-after:avoid}"
	"section{break-inside:auto}figure,.card,table{break-inside:avoid}}\n";

/* Hover: maps the pointer to a pixel column and lists every series' min–max there. */
static const char script[] =
	"(function(){'use strict';"
	"function fb(b){if(b<0)return'n/a';if(b<1024)return b+'B';if(b<1048576)return(b/1024).toFixed(1)+'Ki';"
	"if(b<1073741824)return(b/1048576).toFixed(1)+'Mi';return(b/1073741824).toFixed(2)+'Gi'}"
	"function ft(s){if(s<60)return s.toFixed(s<10?3:2)+'s';var m=Math.floor(s/60);"
	"return m+'m'+(s-60*m).toFixed(1)+'s'}"
	"function fv(v,b,u){return v<0?'n/a':(b?fb(v):v+(u?' '+u:''))}"
	"var figs=document.querySelectorAll('figure.chart');"
	"for(var k=0;k<figs.length;k++)(function(fig){"
	"var d=JSON.parse(fig.querySelector('script.hd').textContent);"
	"var svg=fig.querySelector('svg'),tip=fig.querySelector('.tip'),cur=svg.querySelector('.cursor');"
	"function hide(){tip.hidden=true;cur.setAttribute('visibility','hidden')}"
	"svg.addEventListener('mousemove',function(e){"
	"var p=svg.createSVGPoint();p.x=e.clientX;p.y=e.clientY;var m=svg.getScreenCTM();if(!m)return;"
	"var q=p.matrixTransform(m.inverse());var c=Math.floor(q.x-d.x0);if(c<0||c>=d.n){hide();return}"
	"var h='<b>t = '+ft(d.t0+(c+.5)*d.dt)+'</b>',any=false;"
	"for(var i=0;i<d.s.length;i++){var s=d.s[i],hi=s.hi[c];if(hi==null||hi<0)continue;any=true;"
	"var lo=s.lo?s.lo[c]:hi,b=d.b[s.ax],u=d.u[s.ax];"
	"h+='<div><i class=\"sw '+s.cls+'\"></i>'+s.name+': '+(lo!==hi?fv(lo,b,u)+' \\u2013 ':'')+fv(hi,b,u)+'</div>'}"
	"if(!any)h+='<div>no sample in this column</div>';"
	"tip.innerHTML=h;tip.hidden=false;var x=d.x0+c+.5;cur.setAttribute('x1',x);cur.setAttribute('x2',x);"
	"cur.setAttribute('visibility','visible');var r=svg.getBoundingClientRect(),px=e.clientX-r.left;"
	"tip.style.left=(px>r.width/2?px-tip.offsetWidth-12:px+12)+'px'});"
	"svg.addEventListener('mouseleave',hide)})(figs[k]);"
	"document.documentElement.setAttribute('data-charts',String(figs.length));"
	"document.documentElement.setAttribute('data-rendered-ms',String(Math.round(performance.now())));"
	"document.documentElement.setAttribute('data-ready','1')})();";

/* Reports a script error on the page's root element, where the headless-browser test reads it. */
static const char error_script[] = "window.addEventListener('error',function(e){"
				   "document.documentElement.setAttribute('data-error',String(e.message))});";

static void page_begin(struct out *o, const char *title)
{
	/* The policy names the page's two inline scripts by their SHA-256: text from a recording that
	 * slipped past the escaping could inject markup, but no script would run. */
	char h_err[SHA256_B64_LEN], h_main[SHA256_B64_LEN];
	sha256_base64(error_script, strlen(error_script), h_err);
	sha256_base64(script, strlen(script), h_main);
	out_puts(o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
	            "<meta name=\"color-scheme\" content=\"light dark\">"
	            /* belt and braces: even a future edit that adds a URL cannot make the page fetch it */
	            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	            "style-src 'unsafe-inline'; script-src ");
	out_printf(o, "'sha256-%s' 'sha256-%s'", h_err, h_main);
	out_puts(o, "; img-src data:\">"
	            "<meta name=\"generator\" content=\"headroom " HEADROOM_VERSION "\"><title>");
	out_esc(o, title);
	out_puts(o, "</title><style>");
	out_puts(o, css);
	out_puts(o, "</style></head><body>\n<script>");
	out_puts(o, error_script);
	out_puts(o, "</script>\n");
}

static void page_end(struct out *o)
{
	out_puts(o, "<footer>Written by headroom " HEADROOM_VERSION ". This file is self-contained: it loads "
	            "nothing from the network. Charts are drawn per pixel column with the minimum and maximum of "
	            "every column kept, so no spike is lost however long the recording.</footer>\n<script>");
	out_puts(o, script);
	out_puts(o, "</script></body></html>\n");
}

static void wall_time(int64_t wall_ns, char *buf, size_t len)
{
	if (wall_ns <= 0) {
		snprintf(buf, len, "unknown time");
		return;
	}
	time_t s = (time_t)(wall_ns / 1000000000LL);
	struct tm tm;
	if (!gmtime_r(&s, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, len, "unknown time");
}

/* ---------- phases ---------- */

/* Without an analysis the stages come from the recording: startup until `ready` (or the first
 * load), load while load rows were written, steady in between. */
static size_t derive_phases(const struct recording *rec, struct html_phase *ph, int64_t t0, int64_t t1)
{
	size_t n = 0;
	const struct record_event *ready = rec_event(rec, "ready");
	int64_t load0 = HR_UNKNOWN, load1 = HR_UNKNOWN;
	if (rec->nload) {
		load0 = rec->load[0].t_ns;
		load1 = rec->load[rec->nload - 1].t_ns + 1000000000LL;
	}
	int64_t up = ready ? ready->t_ns : load0;
	if (up > t0)
		ph[n++] = (struct html_phase){t0, up, "startup"};
	if (load0 >= 0) {
		if (up >= 0 && load0 > up)
			ph[n++] = (struct html_phase){up, load0, "steady"};
		ph[n++] = (struct html_phase){load0, load1, "load"};
		if (load1 < t1)
			ph[n++] = (struct html_phase){load1, t1, "after load"};
	} else if (up >= 0 && up < t1) {
		ph[n++] = (struct html_phase){up, t1, "steady"};
	}
	return n;
}

/* ---------- sections ---------- */

struct ctx {
	const struct recording *rec;
	const struct html_summary *sum;
	struct html_phase phases[6];
	const struct html_phase *ph;
	size_t nph;
	int64_t t0, t1;
	const int64_t *rss, *rss_peak, *ws, *cg_usage, *live, *held;
	int64_t *live_held;   /* live + held per sample, for the stacked area */
	bool exact_peaks;
};

static int ctx_init(struct ctx *c, const struct recording *rec, const struct html_summary *sum)
{
	memset(c, 0, sizeof(*c));
	c->rec = rec;
	c->sum = sum;
	c->t0 = rec_start(rec);
	c->t1 = rec_end(rec);
	if (c->t1 <= c->t0)
		c->t1 = c->t0 + (rec->run.interval_ns > 0 ? rec->run.interval_ns : 1000000000LL);
	if (sum && sum->nphases) {
		c->ph = sum->phases;
		c->nph = sum->nphases;
	} else {
		c->nph = derive_phases(rec, c->phases, c->t0, c->t1);
		c->ph = c->phases;
	}
	c->rss = rcol_known(rec, "rss");
	c->rss_peak = rcol_known(rec, "rss_peak");
	c->ws = rcol_known(rec, "cg_working_set");
	c->cg_usage = rcol_known(rec, "cg_usage");
	c->live = rcol_known(rec, "heap_live");
	c->held = rcol_known(rec, "heap_held");
	c->exact_peaks = rec->run.rss_peaks_exact;
	if (c->live && c->held) {
		c->live_held = malloc(rec->nsamples * sizeof(int64_t) + 1);
		if (!c->live_held)
			return -ENOMEM;
		for (size_t i = 0; i < rec->nsamples; i++)
			c->live_held[i] = c->live[i] >= 0 && c->held[i] >= 0 ? c->live[i] + c->held[i] : HR_UNKNOWN;
	}
	return 0;
}

static void ctx_release(struct ctx *c)
{
	free(c->live_held);
	c->live_held = NULL;
}

static int64_t sum_int(const struct html_summary *s, int64_t v)
{
	return s ? v : HR_UNKNOWN;
}

static bool event_major(const struct record_event *e)
{
	return strcmp(e->kind, "oom_kill") == 0 || strcmp(e->kind, "exit") == 0;
}

static void add_event_mark(struct chart *ch, const struct record_event *e)
{
	char lab[64];
	if (strcmp(e->kind, "oom_kill") == 0) {
		chart_vmark(ch, e->t_ns, "oom", "OOM kill");
	} else if (strcmp(e->kind, "exit") == 0) {
		/* a negative exit value is the signal that ended the process */
		if (e->value < 0)
			snprintf(lab, sizeof(lab), "killed by signal %lld", -(long long)e->value);
		else
			snprintf(lab, sizeof(lab), "exit %lld", (long long)e->value);
		chart_vmark(ch, e->t_ns, "exit", lab);
	} else if (strcmp(e->kind, "signal") == 0) {
		/* headroom sent it (to stop the service after the load, or forwarding ^C) */
		snprintf(lab, sizeof(lab), "signal %lld sent", (long long)e->value);
		chart_vmark(ch, e->t_ns, "note", lab);
	} else if (strcmp(e->kind, "limit_hit") == 0) {
		chart_vmark(ch, e->t_ns, "hit", "limit hit");
	} else if (strcmp(e->kind, "ready") == 0) {
		chart_vmark(ch, e->t_ns, "ready", "ready");
	} else if (strcmp(e->kind, "dropped") == 0) {
		chart_vmark(ch, e->t_ns, "note", "samples dropped");
	}
}

/* The marks are bounded: the end of the run first, so a thousand limit hits cannot hide it. */
static void add_event_marks(struct chart *ch, const struct recording *rec)
{
	int64_t end = rec->run.duration_ns > 0 ? rec->run.duration_ns : rec_end(rec);
	if (rec->run.oom_killed && !rec_event(rec, "oom_kill"))
		chart_vmark(ch, end, "oom", "OOM kill");
	if (rec->run.finished && !rec->run.oom_killed && !rec_event(rec, "exit")) {
		char lab[64];
		if (rec->run.exit_signal)
			snprintf(lab, sizeof(lab), "killed by signal %d", rec->run.exit_signal);
		else if (rec->run.exit_code >= 0)
			snprintf(lab, sizeof(lab), "exit %d", rec->run.exit_code);
		else
			snprintf(lab, sizeof(lab), "end");
		chart_vmark(ch, end, "exit", lab);
	}
	for (size_t i = 0; i < rec->nevents; i++)
		if (event_major(&rec->events[i]))
			add_event_mark(ch, &rec->events[i]);
	for (size_t i = 0; i < rec->nevents; i++)
		if (!event_major(&rec->events[i]))
			add_event_mark(ch, &rec->events[i]);
}

static int section_memory(struct out *o, struct ctx *c, const char *id)
{
	const struct recording *rec = c->rec;
	struct chart *ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->id = id;
	ch->title = "Memory over time";
	ch->caption = c->live ? "the stacked areas are the heap: live bytes, then what the allocator holds on top"
	                      : "heap figures are not available for this recording";
	ch->height = 340;
	ch->t0 = c->t0;
	ch->t1 = c->t1;
	ch->bytes[0] = true;
	ch->bands = c->ph;
	ch->nbands = c->nph;
	size_t n = rec->nsamples;
	if (c->live_held) {
		chart_add(ch, "allocator-held (stacked on live)", "held", rec->t_ns, c->live_held, n, S_AREA, 0);
		ch->s[ch->ns - 1].hover = false;   /* the stack's top is not a figure anyone reads */
	}
	chart_add(ch, "live heap", "live", rec->t_ns, c->live, n, S_AREA, 0);
	chart_add(ch, "allocator-held", "held", rec->t_ns, c->held, n, S_HOVER, 0);
	chart_add(ch, "cgroup usage", "cg", rec->t_ns, c->cg_usage, n, S_LINE, 0);
	chart_add(ch, "working set (kubelet)", "ws", rec->t_ns, c->ws, n, S_LINE, 0);
	chart_add(ch, c->exact_peaks ? "interval peak (exact)" : "peak since start", "peak", rec->t_ns, c->rss_peak, n,
	          S_LINE, 0);
	chart_add(ch, "RSS", "rss", rec->t_ns, c->rss, n, S_LINE, 0);
	chart_hline(ch, rec_limit(rec), "limit", "%s %s", "limit");
	chart_hline(ch, sum_int(c->sum, c->sum ? c->sum->limit_bytes : 0), "reclim", "%s %s", "recommended limit");
	chart_hline(ch, sum_int(c->sum, c->sum ? c->sum->request_bytes : 0), "recreq", "%s %s", "recommended request");
	add_event_marks(ch, rec);
	/* the exact peak of the run, wherever it fell between samples */
	const int64_t *pk = c->rss_peak ? c->rss_peak : c->rss;
	if (pk) {
		size_t ip;
		int64_t m = col_max(pk, n, &ip);
		if (c->rss) {
			size_t ir;
			int64_t mr = col_max(c->rss, n, &ir);
			if (mr > m) {
				m = mr;
				ip = ir;
			}
		}
		struct mark *pm = &ch->pm[ch->npm++];
		char sz[32], tm[32];
		pm->t = rec->t_ns[ip];
		pm->v = m;
		pm->cls = "peak";
		snprintf(pm->text, sizeof(pm->text), "peak %s at %s", util_size_format(m, sz, sizeof(sz)),
		         ftime(pm->t, tm, sizeof(tm)));
		pm->label = pm->text;
	}
	int r = chart_render(o, ch);
	free(ch);
	return r;
}

static int section_load(struct out *o, struct ctx *c, const char *id)
{
	const struct recording *rec = c->rec;
	if (!rec_has_load(rec))
		return 0;
	size_t n = rec->nload;
	int64_t *buf = malloc(4 * n * sizeof(int64_t));
	struct chart *ch = calloc(1, sizeof(*ch));
	int r = -ENOMEM;
	if (!buf || !ch)
		goto out_free;
	int64_t *t = buf, *req = buf + n, *infl = buf + 2 * n, *err = buf + 3 * n;
	bool any_err = false;
	for (size_t i = 0; i < n; i++) {
		t[i] = rec->load[i].t_ns;
		req[i] = rec->load[i].requests;
		infl[i] = rec->load[i].inflight;
		err[i] = rec->load[i].errors;
		any_err |= err[i] > 0;
	}
	ch->id = id;
	ch->title = "Load";
	ch->caption = "requests completed per second (left), requests in flight (right)";
	ch->height = 190;
	ch->t0 = c->t0;
	ch->t1 = c->t1;
	ch->unit[0] = "req/s";
	ch->unit[1] = "in flight";
	ch->bands = c->ph;
	ch->nbands = c->nph;
	chart_add(ch, "requests/s", "req", t, req, n, S_AREA, 0);
	if (any_err)
		chart_add(ch, "errors/s", "errs", t, err, n, S_LINE, 0);
	chart_add(ch, "in flight", "infl", t, infl, n, S_LINE, 1);
	r = chart_render(o, ch);
out_free:
	free(ch);
	free(buf);
	return r;
}

/* ---------- the building: the parts of RSS at one instant ---------- */

struct part {
	const char *name, *cls, *why;
	int64_t bytes;
};

struct building {
	int64_t t_ns, rss;
	bool smaps, heap;
	struct part p[9];
	int np;
	int64_t total;
};

static void building_add(struct building *b, const char *name, const char *cls, int64_t bytes, const char *why)
{
	if (bytes <= 0)
		return;
	b->p[b->np++] = (struct part){name, cls, why, bytes};
	b->total += bytes;
}

/* The building of the analysis: the same parts, at the same instant, as every other view. */
static bool building_from(const struct html_summary *sum, struct building *b)
{
	memset(b, 0, sizeof(*b));
	if (!sum || sum->nparts == 0)
		return false;
	b->t_ns = sum->parts_t_ns;
	b->rss = sum->parts_rss;
	b->smaps = true;
	for (size_t i = 0; i < sum->nparts && b->np < (int)(sizeof(b->p) / sizeof(b->p[0])); i++)
		building_add(b, sum->parts[i].name, sum->parts[i].cls, sum->parts[i].bytes, sum->parts[i].why);
	return b->np > 0;
}

static void building_bar(struct out *o, const struct building *b, int64_t scale_total, const char *label)
{
	double w = 896, x = 0;
	out_puts(o, "<svg class=\"bar\" viewBox=\"0 0 960 44\" role=\"img\" aria-label=\"RSS breakdown\">");
	if (label) {
		out_puts(o, "<text x=\"0\" y=\"27\" style=\"fill:var(--fg);font-weight:700\">");
		out_esc(o, label);
		out_puts(o, "</text>");
	}
	double off = label ? 60 : 0;
	w -= off;
	for (int i = 0; i < b->np; i++) {
		double pw = (double)b->p[i].bytes / (double)scale_total * w;
		out_printf(o, "<rect class=\"seg-%s\" x=\"%.1f\" y=\"6\" width=\"%.1f\" height=\"32\"><title>", b->p[i].cls,
		           off + x, pw);
		char sz[32];
		out_esc(o, b->p[i].name);
		out_printf(o, ": %s</title></rect>", util_size_format(b->p[i].bytes, sz, sizeof(sz)));
		if (pw > 70) {
			out_printf(o, "<text x=\"%.1f\" y=\"27\">", off + x + 6);
			out_printf(o, "%s</text>", util_size_format(b->p[i].bytes, sz, sizeof(sz)));
		}
		x += pw;
	}
	out_puts(o, "</svg>");
}

static void section_building(struct out *o, const struct html_summary *sum)
{
	struct building b;
	char sz[32], tm[32];
	out_puts(o, "<section id=\"building\"><h2>The building: what RSS is made of</h2>");
	if (!building_from(sum, &b)) {
		out_puts(o, "<p class=\"card missing\">No breakdown: the recording holds no figures to split RSS with.</p>"
		            "</section>\n");
		return;
	}
	out_printf(o, "<p>At t = %s, the last breakdown while the process lived, RSS was <b>%s</b> (",
	           ftime(b.t_ns, tm, sizeof(tm)), util_size_format(b.rss, sz, sizeof(sz)));
	out_esc(o, sum->parts_note ? sum->parts_note : "");
	out_puts(o, "). The terminal report, explain and --json show these same parts.</p>");
	building_bar(o, &b, b.total, NULL);
	out_puts(o, "<table class=\"parts\"><tr><th></th><th>part</th><th class=\"n\">size</th><th class=\"n\">share"
	            "</th><th>what it is, what to do</th></tr>");
	for (int i = 0; i < b.np; i++) {
		out_printf(o, "<tr><td><i class=\"seg seg-%s\"></i></td><td>", b.p[i].cls);
		out_esc(o, b.p[i].name);
		out_printf(o, "</td><td class=\"n\">%s</td><td class=\"n\">%.0f%%</td><td>",
		           util_size_format(b.p[i].bytes, sz, sizeof(sz)), 100.0 * (double)b.p[i].bytes / (double)b.total);
		out_esc(o, b.p[i].why);
		out_puts(o, "</td></tr>");
	}
	out_puts(o, "</table></section>\n");
}

/* ---------- the blind spot ---------- */

/* What a dashboard scraping every `step` would have stored: the value at each scrape instant. */
static size_t scrape(const struct recording *rec, const int64_t *v, int64_t t0, int64_t t1, int64_t step,
                     int64_t *rt, int64_t *rv, size_t max)
{
	size_t n = 0, i = 0;
	int64_t cur = HR_UNKNOWN;
	/* the first scrape sees the first sample: a target is scraped once it exists */
	for (size_t k = 0; k < rec->nsamples; k++)
		if (v[k] >= 0) {
			t0 = rec->t_ns[k];
			break;
		}
	for (int64_t ts = t0; ts <= t1 && n < max; ts += step) {
		while (i < rec->nsamples && rec->t_ns[i] <= ts) {
			if (v[i] >= 0)
				cur = v[i];
			i++;
		}
		if (cur < 0)
			continue;
		rt[n] = ts;
		rv[n] = cur;
		n++;
	}
	return n;
}

static int section_blind_spot(struct out *o, struct ctx *c)
{
	const struct recording *rec = c->rec;
	out_puts(o, "<section id=\"blindspot\"><h2>The blind spot: what a dashboard would have shown</h2>");
	if (!c->rss) {
		out_puts(o, "<p class=\"card missing\">No RSS figures: nothing to compare.</p></section>\n");
		return 0;
	}
	int64_t t0 = c->t0, t1 = c->t1;
	size_t max = (size_t)((t1 - t0) / 15000000000LL) + 2;
	int64_t *buf = malloc(4 * max * sizeof(int64_t));
	struct chart *ch = calloc(1, sizeof(*ch));
	if (!buf || !ch) {
		free(buf);
		free(ch);
		return -ENOMEM;
	}
	int64_t *t15 = buf, *v15 = buf + max, *t60 = buf + 2 * max, *v60 = buf + 3 * max;
	/* cAdvisor and Prometheus read the current value, not a peak: the dashboard sees RSS at the scrape */
	size_t n15 = scrape(rec, c->rss, t0, t1, 15000000000LL, t15, v15, max);
	size_t n60 = scrape(rec, c->rss, t0, t1, 60000000000LL, t60, v60, max);
	int64_t truep = col_max(c->rss, rec->nsamples, NULL);
	int64_t pk = col_max(c->rss_peak, rec->nsamples, NULL);
	if (pk > truep)
		truep = pk;
	int64_t p15 = col_max(v15, n15, NULL), p60 = col_max(v60, n60, NULL);
	char a[32], b1[32], b2[32], d[32];
	out_printf(o, "<p>The true peak was <b>%s</b>. A dashboard scraping every 15 s would have drawn at most "
	              "<b>%s</b>",
	           util_size_format(truep, a, sizeof(a)), fsize(p15, b1, sizeof(b1)));
	if (p15 >= 0 && truep > 0)
		out_printf(o, " (%.0f%% of the true peak)", 100.0 * (double)p15 / (double)truep);
	out_printf(o, ", one scraping every 60 s <b>%s</b>", fsize(p60, b2, sizeof(b2)));
	if (p60 >= 0 && truep > 0)
		out_printf(o, " (%.0f%%)", 100.0 * (double)p60 / (double)truep);
	out_puts(o, ". ");
	if (t1 - t0 < 15000000000LL)
		out_printf(o, "The recording lasted only %s, less than one scrape interval: a dashboard would hold a "
		              "single point of it. ",
		           ftime(t1 - t0, d, sizeof(d)));
	if (p15 >= 0 && truep > p15 && (truep - p15) * 10 > truep)
		out_puts(o, "A limit sized from the dashboard would be too small: the kernel kills on the true peak, "
		            "not on what was scraped. ");
	out_puts(o, "Scrapes are taken at the first sample and every 15 s (60 s) after it; with another phase a dashboard catches "
	            "other points, and a spike shorter than the interval only by luck.</p>");
	ch->id = "chart-blind";
	ch->title = "True series and what a 15 s / 60 s dashboard draws";
	ch->height = 260;
	ch->t0 = t0;
	ch->t1 = t1;
	ch->bytes[0] = true;
	chart_add(ch, c->exact_peaks ? "interval peak (exact)" : "peak since start", "peak", rec->t_ns, c->rss_peak,
	          rec->nsamples, S_LINE, 0);
	chart_add(ch, "RSS (every sample)", "rss", rec->t_ns, c->rss, rec->nsamples, S_LINE, 0);
	chart_add(ch, "15 s dashboard", "d15", t15, v15, n15, S_DOTS, 0);
	chart_add(ch, "60 s dashboard", "d60", t60, v60, n60, S_DOTS, 0);
	int r = chart_render(o, ch);
	out_puts(o, "</section>\n");
	free(ch);
	free(buf);
	return r;
}

/* ---------- summary and what is missing ---------- */

static void missing_list(struct out *o, struct ctx *c)
{
	const struct recording *rec = c->rec;
	const struct run_info *run = &rec->run;
	char a[32], b[32];
	int n = 0;
#define ITEM() out_puts(o, n++ ? "<li>" : "<div class=\"card missing\"><b>What this recording lacks</b><ul><li>")
	if (rec->nsamples == 0) {
		ITEM();
		out_puts(o, "No samples at all: the target ended before the first sample, or headroom stopped at once. "
		            "Nothing can be drawn.</li>");
	} else if (rec->nsamples == 1) {
		ITEM();
		out_printf(o, "Only one sample (at %s): no trend, no peak between samples, no stages. Record for longer "
		              "(at least a minute of steady state).</li>",
		           ftime(rec->t_ns[0], a, sizeof(a)));
	}
	if (run->oom_killed || rec_event(rec, "oom_kill")) {
		const struct record_event *e = rec_event(rec, "oom_kill");
		ITEM();
		out_printf(o, "The run was <b>OOM-killed</b> at %s", ftime(e ? e->t_ns : rec_end(rec), a, sizeof(a)));
		if (rec_limit(rec) > 0)
			out_printf(o, " under a limit of %s", util_size_format(rec_limit(rec), b, sizeof(b)));
		out_puts(o, ". The recording stops there: the peak shown is a lower bound of what the service needs, "
		            "and the memory it would have reached is unknown.</li>");
	}
	if (!run->finished) {
		ITEM();
		out_puts(o, "headroom stopped before the run ended (killed or crashed): the data up to its last flush is "
		            "shown, the exit status is unknown.</li>");
	}
	if (!c->live) {
		ITEM();
		if (c->sum && c->sum->heap_why) {
			/* the analysis's words, as the terminal report says them */
			out_puts(o, "The heap was not measured: ");
			out_esc(o, c->sum->heap_why);
		} else {
			out_puts(o, "No heap figures: ");
			if (run->heap_status[0] && strcmp(run->heap_status, "available") != 0)
				out_esc(o, run->heap_status);
			else if (strcmp(run->heap_mode, "off") == 0)
				out_puts(o, "the heap shim was turned off (--heap off)");
			else
				out_puts(o, "the heap shim reported nothing");
		}
		out_puts(o, ". Live heap and allocator-held memory are not drawn, and the building shows anonymous "
		            "memory as one block, so a leak cannot be told from allocator retention.</li>");
	}
	if (!rec_has_load(rec)) {
		ITEM();
		out_puts(o, "No load was driven during the recording: there is no load panel, and how memory behaves "
		            "under traffic is not known. Record with --load to see it.</li>");
	}
	if (run->cgroup_version == 0 || !c->cg_usage) {
		ITEM();
		out_puts(o, "No cgroup figures: the working set (what the kubelet evicts on) and cgroup usage (what the "
		            "OOM killer charges) were not measured; RSS stands in for both, and page cache is not "
		            "counted.</li>");
	}
	if (rec->nsamples > 1 && !c->rss_peak) {
		ITEM();
		out_puts(o, "No interval peaks: a spike between two samples is not shown.</li>");
	} else if (rec->nsamples > 1 && !c->exact_peaks) {
		ITEM();
		out_puts(o, "Interval peaks are not exact here (VmHWM could not be reset): the peak line is the "
		            "high-water mark since the start.</li>");
	}
	for (size_t i = 0; i < rec->nevents; i++)
		if (strcmp(rec->events[i].kind, "dropped") == 0) {
			ITEM();
			out_printf(o, "%lld samples were dropped because the disk could not keep up.</li>",
			           (long long)rec->events[i].value);
			break;
		}
#undef ITEM
	if (n)
		out_puts(o, "</ul></div>");
}

static void summary_block(struct out *o, struct ctx *c, bool compact)
{
	const struct html_summary *s = c->sum;
	const struct recording *rec = c->rec;
	char a[32], b[32];
	const char *trend = s && s->trend ? s->trend : "";
	if (rec->run.oom_killed)
		trend = "oom";
	out_printf(o, "<div class=\"verdict t-%s\" id=\"verdict\">", trend[0] ? trend : "none");
	if (s && s->verdict)
		out_esc(o, s->verdict);
	else if (rec->run.oom_killed)
		out_puts(o, "The service was OOM-killed. No analysis was attached to this report: the charts show the "
		            "raw recording.");
	else
		out_puts(o, "No analysis was attached to this report: the charts below show the raw recording.");
	out_puts(o, "</div>");
	out_printf(o, "<div class=\"%s\">", compact ? "" : "cols");
	out_puts(o, "<div class=\"card\" id=\"answers\"><b>The checklist</b>");
	if (s && s->nanswers) {
		out_puts(o, "<dl class=\"answers\">");
		for (size_t i = 0; i < s->nanswers; i++) {
			out_puts(o, "<dt>");
			out_esc(o, s->answers[i].question);
			out_puts(o, "</dt><dd>");
			out_esc(o, s->answers[i].answer);
			out_puts(o, "</dd>");
		}
		out_puts(o, "</dl>");
	} else {
		out_puts(o, s ? "<p>Not answered: the recording holds too little for the analysis to judge.</p>"
		              : "<p>Not answered: no analysis was attached (growing or stable, heap or allocator, a short "
		                "spike or not).</p>");
	}
	out_puts(o, "</div><div class=\"card\" id=\"recommendation\"><b>Recommended resources</b>");
	if (s && (s->limit_bytes > 0 || s->request_bytes > 0)) {
		out_printf(o, "<p class=\"big\">limit %s · request %s</p>",
		           s->limit_bytes > 0 ? util_size_format_mi_ceil(s->limit_bytes, a, sizeof(a)) : "n/a",
		           s->request_bytes > 0 ? util_size_format_mi_ceil(s->request_bytes, b, sizeof(b)) : "n/a");
		out_printf(o, "<pre><code>resources:\n  requests:\n    memory: %s\n  limits:\n    memory: %s</code></pre>",
		           s->request_bytes > 0 ? b : "?", s->limit_bytes > 0 ? a : "?");
	} else {
		out_puts(o, s ? "<p>No recommendation: the recording holds no peak to size a limit on.</p>"
		              : "<p>No recommendation: no analysis was attached.</p>");
	}
	if (s && s->recommendation) {
		out_puts(o, "<p>");
		out_esc(o, s->recommendation);
		out_puts(o, "</p>");
	}
	out_puts(o, "</div></div>");
	if (s && s->notes) {
		out_puts(o, "<p>");
		out_esc(o, s->notes);
		out_puts(o, "</p>");
	}
}

/* The allocation sites of a sites-mode recording: one table per list (the flame graph is drawn
 * from the same analysis elsewhere). Names come from the recording: escaped. */
static void section_sites(struct out *o, const struct html_summary *sum)
{
	char a[32], b[32], c[48];
	if (!sum || sum->nsite_lists == 0)
		return;
	out_printf(o, "<section id=\"sites\"><h2>Allocation sites</h2><p>Which code holds the live heap: allocations "
		      "sampled by bytes, one per %s allocated on average (every byte with the same chance), their "
		      "stacks kept; the figures are estimates.</p>", fsize(sum->sites_interval, a, sizeof(a)));
	for (size_t i = 0; i < sum->nsite_lists; i++) {
		const struct html_site_list *l = &sum->site_lists[i];
		out_puts(o, "<h3>");
		out_esc(o, l->title);
		if (l->at_ns != HR_UNKNOWN)
			out_printf(o, " (%s, %s live in sampled sites)", ftime(l->at_ns, a, sizeof(a)),
				   fsize(l->total_bytes, b, sizeof(b)));
		out_puts(o, "</h3>");
		if (l->n == 0) {
			out_puts(o, l->suspects ? "<p>None: no site's live bytes grow through the steady phase.</p>"
						: "<p>None.</p>");
			continue;
		}
		out_puts(o, l->suspects ? "<table class=\"sites\"><tr><th>rise</th><th>per second</th><th>p</th>"
					  "<th>live at the end</th><th>site</th><th>module</th></tr>"
					: "<table class=\"sites\"><tr><th>share</th><th>live</th><th>site</th><th>module</th></tr>");
		for (size_t k = 0; k < l->n; k++) {
			const struct html_site *st = &l->rows[k];
			if (l->suspects) {
				snprintf(c, sizeof(c), "%.2g", st->p);
				out_printf(o, "<tr><td class=\"n\">+%s</td><td class=\"n\">%s/s</td><td class=\"n\">%s</td>"
					      "<td class=\"n\">", fsize(st->change_bytes, a, sizeof(a)),
					   fsize((int64_t)st->slope_bytes_per_s, b, sizeof(b)), c);
				out_esc(o, fsize(st->live_bytes, a, sizeof(a)));
			} else {
				out_printf(o, "<tr><td class=\"n\">%.1f %%</td><td class=\"n\">%s", st->share * 100,
					   fsize(st->live_bytes, a, sizeof(a)));
			}
			out_puts(o, "</td><td><code>");
			out_esc(o, st->name);
			out_puts(o, "</code></td><td>");
			out_esc(o, st->module);
			out_puts(o, "</td></tr>");
		}
		out_puts(o, "</table>");
	}
	if (sum->sites_note && sum->sites_note[0]) {
		out_puts(o, "<p class=\"note\">");
		out_esc(o, sum->sites_note);
		out_puts(o, "</p>");
	}
	out_puts(o, "</section>\n");
}

static void figures_table_row(struct out *o, const char *name, const char *val)
{
	out_puts(o, "<tr><td>");
	out_esc(o, name);
	out_puts(o, "</td><td class=\"n\">");
	out_esc(o, val);
	out_puts(o, "</td></tr>");
}

/* The figures of the analysis (html_summary.figures), plus the most threads seen, which only the
 * page shows. Without an analysis (a raw recording) the table is left out. */
static void figures_table(struct out *o, const struct recording *rec, const struct html_summary *sum)
{
	char v[64], tm[32], name[160];
	if (!sum || sum->nfigures == 0)
		return;
	out_puts(o, "<table id=\"figures\">");
	for (size_t i = 0; i < sum->nfigures; i++) {
		const struct html_figure *f = &sum->figures[i];
		if (f->at_ns >= 0)
			snprintf(name, sizeof(name), "%s (at %s)", f->name, ftime(f->at_ns, tm, sizeof(tm)));
		else
			snprintf(name, sizeof(name), "%s", f->name);
		figures_table_row(o, name, fsize(f->bytes, v, sizeof(v)));
	}
	int64_t threads = col_max(rcol(rec, "threads"), rec->nsamples, NULL);
	if (threads >= 0) {
		snprintf(v, sizeof(v), "%lld", (long long)threads);
		figures_table_row(o, "threads (most)", v);
	}
	out_puts(o, "</table>");
}

/* The recorded command line as a user would type it (shell-quoted words), not its JSON array. */
static void out_command(struct out *o, const char *command)
{
	struct json_object *cmd = command[0] ? json_tokener_parse(command) : NULL;
	if (!cmd || !json_object_is_type(cmd, json_type_array)) {
		out_esc(o, command[0] ? command : "(unknown command)");
		json_object_put(cmd);
		return;
	}
	char q[1024];
	for (size_t i = 0; i < json_object_array_length(cmd); i++) {
		if (i)
			out_puts(o, " ");
		out_esc(o, util_shell_quote(json_object_get_string(json_object_array_get_idx(cmd, i)), q, sizeof(q)));
	}
	json_object_put(cmd);
}

static void header_block(struct out *o, const struct recording *rec, const char *h1)
{
	const struct run_info *run = &rec->run;
	char when[64], dur[32], iv[32], lim[32];
	wall_time(run->started_wall_ns, when, sizeof(when));
	if (h1[0])
		out_printf(o, "<h1>%s</h1>", h1);
	out_puts(o, "<p class=\"meta\"><code>");
	out_command(o, run->command);
	out_printf(o, "</code><br>%s, recorded %s for %s, %zu samples every %s", run->mode[0] ? run->mode : "run",
	           when, ftime(run->duration_ns > 0 ? run->duration_ns : rec_end(rec), dur, sizeof(dur)),
	           rec->nsamples, ftime(run->interval_ns, iv, sizeof(iv)));
	if (rec_limit(rec) > 0)
		out_printf(o, ", limit %s", util_size_format(rec_limit(rec), lim, sizeof(lim)));
	if (run->cgroup_version)
		out_printf(o, ", cgroup v%d", run->cgroup_version);
	if (run->host[0] || run->kernel[0]) {
		out_puts(o, ", on ");
		out_esc(o, run->host);
		out_puts(o, " ");
		out_esc(o, run->kernel);
	}
	out_puts(o, ". File: ");
	out_esc(o, rec->path[0] ? rec->path : "(in memory)");
	out_puts(o, "</p>");
}

static void events_table(struct out *o, const struct recording *rec)
{
	if (!rec->nevents)
		return;
	char tm[32];
	out_puts(o, "<section id=\"events\"><h2>Events</h2><table><tr><th class=\"n\">t</th><th>event</th>"
	            "<th class=\"n\">value</th><th>detail</th></tr>");
	size_t shown = 0;
	for (size_t i = 0; i < rec->nevents && shown < 200; i++, shown++) {
		const struct record_event *e = &rec->events[i];
		out_printf(o, "<tr><td class=\"n\">%s</td><td>", ftime(e->t_ns, tm, sizeof(tm)));
		out_esc(o, e->kind);
		out_printf(o, "</td><td class=\"n\">%lld</td><td>", (long long)e->value);
		out_esc(o, e->detail);
		out_puts(o, "</td></tr>");
	}
	out_puts(o, "</table>");
	if (rec->nevents > shown)
		out_printf(o, "<p>%zu more events are in the recording.</p>", rec->nevents - shown);
	out_puts(o, "</section>\n");
}

/* ---------- entry points ---------- */


/* ---------- heap sites: a flame graph of live bytes at one instant (issue 15) ---------- */

/* What the flame graph draws. */
struct flame_input {
	struct record_site_row *frames;   /* by site, then depth (0: the caller of malloc) */
	size_t nframes;
	struct record_site_value *values;   /* by site */
	size_t nvalues;
	int64_t t_ns;                       /* the instant of the values */
	char note[512];                     /* what could not be named, "" when all were */
};

/* The flame graph's data: each site's live bytes at `at` (HR_UNKNOWN: the last figures) with its
 * frames, from the sites the recording loaded (the rows the analysis saw), named in memory where
 * the recording has no names yet. -ENODATA when the recording has no sites. */
static int flame_input_read(const struct recording *rec, int64_t at, struct flame_input *in)
{
	memset(in, 0, sizeof(*in));
	if (rec->nsites == 0)
		return -ENODATA;
	int r = recording_site_rows(rec, &in->frames, &in->nframes);
	if (r < 0)
		return r;
	bool unnamed = false;
	for (size_t i = 0; i < in->nframes && !unnamed; i++)
		unnamed = in->frames[i].function == NULL;
	if (unnamed && (r = symbols_resolve_frames(in->frames, in->nframes, in->note, sizeof(in->note))) < 0)
		return r;
	return recording_site_values_at(rec, at == HR_UNKNOWN ? INT64_MAX : at, &in->values, &in->nvalues, &in->t_ns);
}

static void flame_input_free(struct flame_input *in)
{
	record_site_rows_free(in->frames, in->nframes);
	free(in->values);
}

/* A frame as the graph names it: its function, else where it is (module+0xoffset, or the pc). */
static const char *flame_name(const struct record_site_row *f, char *buf, size_t len)
{
	if (f->function)
		return f->function;
	const char *base = f->module ? strrchr(f->module, '/') : NULL;
	if (f->module && f->offset != HR_UNKNOWN)
		snprintf(buf, len, "%s+0x%llx", base ? base + 1 : f->module, (unsigned long long)f->offset);
	else
		snprintf(buf, len, "0x%llx", f->pc == HR_UNKNOWN ? 0ULL : (unsigned long long)f->pc);
	return buf;
}

#define FLAME_NODES_MAX 20000   /* the page stays small whatever the number of sites */
#define FLAME_ROW 18            /* px per level */

struct fnode {
	const struct record_site_row *frame;   /* NULL: the root */
	int64_t bytes;
	int child, sibling, depth;
};

struct flame {
	struct fnode *n;
	int nn, cap, maxdepth;
	bool truncated;            /* FLAME_NODES_MAX reached: deeper frames of later sites left out */
};

static int flame_child(struct flame *fl, int parent, const struct record_site_row *f)
{
	char a[64], b[64];
	const char *name = flame_name(f, a, sizeof(a));
	for (int c = fl->n[parent].child; c >= 0; c = fl->n[c].sibling)
		if (strcmp(flame_name(fl->n[c].frame, b, sizeof(b)), name) == 0)
			return c;
	if (fl->nn >= FLAME_NODES_MAX) {
		fl->truncated = true;
		return -1;
	}
	if (fl->nn == fl->cap) {
		int nc = fl->cap ? fl->cap * 2 : 256;
		struct fnode *n = realloc(fl->n, (size_t)nc * sizeof(*n));
		if (!n)
			return -ENOMEM;
		fl->n = n;
		fl->cap = nc;
	}
	int i = fl->nn++;
	fl->n[i] = (struct fnode){f, 0, -1, fl->n[parent].child, fl->n[parent].depth + 1};
	fl->n[parent].child = i;
	if (fl->n[i].depth > fl->maxdepth)
		fl->maxdepth = fl->n[i].depth;
	return i;
}

/* Root = every live sampled byte; a site's path goes from its outermost frame to the caller of
 * malloc, and frames of the same name at the same place merge, as in any flame graph. */
static int flame_build(struct flame *fl, const struct flame_input *in)
{
	memset(fl, 0, sizeof(*fl));
	fl->n = malloc(256 * sizeof(*fl->n));
	if (!fl->n)
		return -ENOMEM;
	fl->cap = 256;
	fl->n[fl->nn++] = (struct fnode){NULL, 0, -1, -1, 0};
	size_t fi = 0;
	for (size_t i = 0; i < in->nvalues; i++) {
		int64_t live = in->values[i].live_bytes;
		while (fi < in->nframes && in->frames[fi].site < in->values[i].site)
			fi++;
		size_t end = fi;
		while (end < in->nframes && in->frames[end].site == in->values[i].site)
			end++;
		if (live <= 0 || live == HR_UNKNOWN) {
			fi = end;
			continue;
		}
		fl->n[0].bytes = util_add_sat(fl->n[0].bytes, live);
		int at = 0;
		for (size_t k = end; k > fi; k--) {
			if (in->frames[k - 1].depth == HR_UNKNOWN)
				continue;
			int c = flame_child(fl, at, &in->frames[k - 1]);
			if (c == -ENOMEM)
				return c;
			if (c < 0)
				break;
			fl->n[c].bytes = util_add_sat(fl->n[c].bytes, live);
			at = c;
		}
		fi = end;
	}
	return 0;
}

/* Warm colours, fixed per name, so the same function has the same colour everywhere. */
static void flame_colour(const char *name, char *buf, size_t len)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	snprintf(buf, len, "hsl(%u,%u%%,%u%%)", 8 + h % 42, 70 + (h >> 8) % 25, 52 + (h >> 16) % 14);
}

/* the largest callee first, so the eye meets the biggest share on the left */
static const struct flame *flame_sorting;
static int flame_cmp(const void *a, const void *b)
{
	int64_t x = flame_sorting->n[*(const int *)a].bytes, y = flame_sorting->n[*(const int *)b].bytes;
	return x < y ? 1 : x > y ? -1 : *(const int *)a - *(const int *)b;
}

static void flame_node(struct out *o, const struct flame *fl, int i, double x, double w, double scale)
{
	const struct fnode *nd = &fl->n[i];
	double y = (fl->maxdepth - nd->depth) * FLAME_ROW;
	char nb[64], sz[32], col[40];
	const char *name = nd->frame ? flame_name(nd->frame, nb, sizeof(nb)) : "all live sampled heap";
	flame_colour(name, col, sizeof(col));
	out_puts(o, "<g><title>");
	out_esc(o, name);
	if (nd->frame && nd->frame->file && nd->frame->line != HR_UNKNOWN) {
		out_puts(o, " (");
		out_esc(o, nd->frame->file);
		out_printf(o, ":%lld)", (long long)nd->frame->line);
	}
	if (nd->frame && nd->frame->module && !nd->frame->function) {
		out_puts(o, " in ");
		out_esc(o, nd->frame->module);
	}
	out_printf(o, ": %s, %.1f%%</title><rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" %s%s\"/>",
		   util_size_format(nd->bytes, sz, sizeof(sz)), 100.0 * (double)nd->bytes / (double)fl->n[0].bytes, x,
		   (int)y, w, FLAME_ROW - 1, nd->frame ? "fill=\"" : "class=\"seg-anon", nd->frame ? col : "");
	/* the name in the box when it fits in part, cut at a character, not inside a UTF-8 sequence */
	size_t fit = w > 24 ? (size_t)((w - 6) / 6.6) : 0;
	if (fit >= 3) {
		size_t n = strlen(name), cut = n;
		if (n > fit) {
			cut = fit - 1;
			while (cut > 0 && ((unsigned char)name[cut] & 0xc0) == 0x80)
				cut--;
		}
		char shown[512];
		snprintf(shown, sizeof(shown), "%.*s%s", (int)(cut < sizeof(shown) - 4 ? cut : sizeof(shown) - 4), name,
			 cut < n ? "\xe2\x80\xa6" : "");
		out_printf(o, "<text x=\"%.2f\" y=\"%d\">", x + 3, (int)y + FLAME_ROW - 5);
		out_esc(o, shown);
		out_puts(o, "</text>");
	}
	out_puts(o, "</g>");
	int nc = 0;
	for (int c = nd->child; c >= 0; c = fl->n[c].sibling)
		nc++;
	int *kids = nc ? malloc((size_t)nc * sizeof(*kids)) : NULL;
	if (nc && !kids) {
		o->err = -ENOMEM;
		return;
	}
	nc = 0;
	for (int c = nd->child; c >= 0; c = fl->n[c].sibling)
		kids[nc++] = c;
	flame_sorting = fl;
	if (nc > 1)
		qsort(kids, (size_t)nc, sizeof(*kids), flame_cmp);
	double cx = x;
	for (int k = 0; k < nc; k++) {
		double cw = (double)fl->n[kids[k]].bytes * scale;
		if (cw >= 0.3)   /* narrower than a third of a pixel: invisible, left out */
			flame_node(o, fl, kids[k], cx, cw, scale);
		cx += cw;
	}
	free(kids);
}

static void section_flame(struct out *o, const struct recording *rec, const struct html_summary *sum)
{
	struct flame_input in;
	int64_t at = sum ? sum->flame_t_ns : HR_UNKNOWN;
	int r = flame_input_read(rec, at, &in);
	if (r == -ENODATA || (r == 0 && in.nframes == 0)) {
		flame_input_free(&in);
		return;   /* recorded without sites: the heap section says what the shim measured */
	}
	char tm[32], sz[32];
	out_puts(o, "<section id=\"flame\"><h2>Where the live heap is: flame graph of the allocation sites</h2>");
	struct flame fl = {0};
	if (r < 0 || (r = flame_build(&fl, &in)) < 0 || fl.n[0].bytes <= 0) {
		out_puts(o, "<p class=\"card missing\">No flame graph: ");
		out_esc(o, r < 0 ? "the recording's heap sites could not be read." :
			"no sampled block was live at that instant.");
		out_puts(o, "</p></section>\n");
		free(fl.n);
		flame_input_free(&in);
		return;
	}
	char when[96], pk[32];
	if (at == HR_UNKNOWN)
		snprintf(when, sizeof(when), "the last site figures");
	else if (in.t_ns == at)
		snprintf(when, sizeof(when), "the true peak");
	else
		snprintf(when, sizeof(when), "the last site figures before the true peak at %s", ftime(at, pk, sizeof(pk)));
	out_printf(o, "<p>Live bytes per allocation site at t = %s (%s): <b>%s</b> sampled live heap (an unbiased "
		   "estimate from the shim's sampling). Each box is a function, its width its share; a box "
		   "stands on its caller, the top of each tower is the code that called malloc. Hover a box for "
		   "its size.</p>",
		   ftime(in.t_ns, tm, sizeof(tm)), when, util_size_format(fl.n[0].bytes, sz, sizeof(sz)));
	int h = (fl.maxdepth + 1) * FLAME_ROW;
	/* the page's CSS stays as it is: the graph's own rules travel with it */
	out_puts(o, "<style>.flame svg text{fill:#1f2933;font-size:11px;pointer-events:none}"
		    ".flame rect{stroke:var(--bg);stroke-width:.5}</style>");
	out_printf(o, "<figure class=\"flame\"><svg viewBox=\"0 0 960 %d\" role=\"img\" aria-label=\"flame graph of "
		   "live heap bytes per allocation site\">", h);
	flame_node(o, &fl, 0, 0, 960, 960.0 / (double)fl.n[0].bytes);
	out_puts(o, "</svg></figure>");
	if (in.note[0] || fl.truncated) {
		out_puts(o, "<p class=\"meta\">");
		if (in.note[0]) {
			out_puts(o, "Frames without a name: ");
			out_esc(o, in.note);
			out_puts(o, ". ");
		}
		if (fl.truncated)
			out_printf(o, "More than %d distinct frames: the deepest frames of some sites are left out.",
				   FLAME_NODES_MAX);
		out_puts(o, "</p>");
	}
	out_puts(o, "</section>\n");
	free(fl.n);
	flame_input_free(&in);
}

void html_summary_init(struct html_summary *sum)
{
	memset(sum, 0, sizeof(*sum));
	sum->limit_bytes = HR_UNKNOWN;
	sum->request_bytes = HR_UNKNOWN;
	sum->flame_t_ns = HR_UNKNOWN;
}

int html_write_report(const char *out_path, const struct recording *rec, const struct html_summary *sum)
{
	if (!out_path || !rec || (rec->nsamples && !rec->t_ns))
		return -EINVAL;
	struct out o = {0};
	struct ctx c;
	int r = ctx_init(&c, rec, sum);
	if (r < 0)
		goto out_release;
	page_begin(&o, "headroom memory report");
	header_block(&o, rec, "Memory report");
	out_puts(&o, "<section id=\"summary\">");
	summary_block(&o, &c, false);
	missing_list(&o, &c);
	out_puts(&o, "</section>\n<section id=\"memory\"><h2>Memory over time</h2>");
	if (rec->nsamples == 0) {
		out_puts(&o, "<p>No samples: nothing to draw.</p>");
	} else {
		figures_table(&o, rec, sum);
		if ((r = section_memory(&o, &c, "chart-memory")) < 0)
			goto out_release;
		if (rec_has_load(rec)) {
			if ((r = section_load(&o, &c, "chart-load")) < 0)
				goto out_release;
		} else {
			out_puts(&o, "<p class=\"noload\">No load panel: no load was driven during this recording.</p>");
		}
	}
	out_puts(&o, "</section>\n");
	section_building(&o, sum);
	section_sites(&o, sum);
	section_flame(&o, rec, sum);
	if (rec->nsamples && (r = section_blind_spot(&o, &c)) < 0)
		goto out_release;
	events_table(&o, rec);
	page_end(&o);
	r = out_save(&o, out_path);
out_release:
	ctx_release(&c);
	free(o.p);
	return r;
}

static void compare_row(struct out *o, const char *name, int64_t a, int64_t b, bool bytes)
{
	char x[32], y[32], d[48];
	out_puts(o, "<tr><td>");
	out_esc(o, name);
	if (bytes) {
		fsize(a, x, sizeof(x));
		fsize(b, y, sizeof(y));
	} else {
		ftime(a, x, sizeof(x));
		ftime(b, y, sizeof(y));
	}
	if (a > 0 && b >= 0) {
		char s[32];
		int64_t diff = b - a;
		if (bytes)
			util_size_format(diff < 0 ? -diff : diff, s, sizeof(s));
		else
			ftime(diff < 0 ? -diff : diff, s, sizeof(s));
		snprintf(d, sizeof(d), "%s%s (%+.0f%%)", diff < 0 ? "\xe2\x88\x92" : "+", s,
		         100.0 * (double)diff / (double)a);
	} else {
		snprintf(d, sizeof(d), "n/a");
	}
	out_printf(o, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td></tr>", x, y, d);
}

/* Side by side: the duration, the analysis's figures of both (one list, row by row), the limits. */
static void compare_figures(struct out *o, const struct recording *a, const struct recording *b,
                            const struct html_summary *sum_a, const struct html_summary *sum_b)
{
	out_puts(o, "</div></div>\n<section id=\"compare-figures\"><h2>Side by side</h2><table><tr><th></th>"
	             "<th class=\"n\">A</th><th class=\"n\">B</th><th class=\"n\">B − A</th></tr>");
	compare_row(o, "duration", a->run.duration_ns > 0 ? a->run.duration_ns : rec_end(a),
	            b->run.duration_ns > 0 ? b->run.duration_ns : rec_end(b), false);
	/* the analysis's figures of both sides, row by row (both come from the same list) */
	for (size_t i = 0; sum_a && sum_b && i < sum_a->nfigures && i < sum_b->nfigures; i++)
		compare_row(o, sum_a->figures[i].name, sum_a->figures[i].bytes, sum_b->figures[i].bytes, true);
	compare_row(o, "recommended limit", sum_a ? sum_a->limit_bytes : HR_UNKNOWN,
	            sum_b ? sum_b->limit_bytes : HR_UNKNOWN, true);
}

/* RSS and live heap of both on one time axis, with their limits and recommendations. */
static int compare_chart(struct out *o, const struct recording *a, const struct recording *b, const struct ctx *ca,
                         const struct ctx *cb, const struct html_summary *sum_a, const struct html_summary *sum_b)
{
	int r = 0;
	out_puts(o, "</table></section>\n<section id=\"compare-memory\"><h2>Memory over time, on one time axis</h2>");
	struct chart *ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->id = "chart-compare";
	ch->title = "RSS and live heap of A and B";
	ch->caption = "time since each recording started";
	ch->height = 340;
	ch->t0 = ca->t0 < cb->t0 ? ca->t0 : cb->t0;
	ch->t1 = ca->t1 > cb->t1 ? ca->t1 : cb->t1;
	ch->bytes[0] = true;
	chart_add(ch, "A: live heap", "alive", a->t_ns, ca->live, a->nsamples, S_LINE, 0);
	chart_add(ch, "B: live heap", "blive", b->t_ns, cb->live, b->nsamples, S_LINE, 0);
	chart_add(ch, "A: RSS", "a", a->t_ns, ca->rss, a->nsamples, S_LINE, 0);
	chart_add(ch, "B: RSS", "b", b->t_ns, cb->rss, b->nsamples, S_LINE, 0);
	chart_hline(ch, rec_limit(a), "limit", "%s %s", "A: limit");
	if (rec_limit(b) != rec_limit(a))
		chart_hline(ch, rec_limit(b), "limit", "%s %s", "B: limit");
	chart_hline(ch, sum_a ? sum_a->limit_bytes : 0, "reclim", "%s %s", "A: recommended");
	chart_hline(ch, sum_b ? sum_b->limit_bytes : 0, "recreq", "%s %s", "B: recommended");
	if (ca->rss || cb->rss) {
		if ((r = chart_render(o, ch)) < 0)
			goto out;
	} else {
		out_puts(o, "<p>Neither recording holds RSS figures.</p>");
	}
out:
	free(ch);
	return r;
}

/* The two buildings as bars on one scale, and their parts in a table. */
static void compare_buildings(struct out *o, const struct html_summary *sum_a, const struct html_summary *sum_b)
{
	out_puts(o, "</section>\n<section id=\"compare-building\"><h2>The buildings, on one scale</h2>");
	struct building ba, bb;
	bool ha = building_from(sum_a, &ba), hb = building_from(sum_b, &bb);
	int64_t scale = (ha ? ba.total : 0) > (hb ? bb.total : 0) ? ba.total : (hb ? bb.total : 1);
	if (ha)
		building_bar(o, &ba, scale, "A");
	else
		out_puts(o, "<p>A: no breakdown.</p>");
	if (hb)
		building_bar(o, &bb, scale, "B");
	else
		out_puts(o, "<p>B: no breakdown.</p>");
	out_puts(o, "<table><tr><th></th><th>part</th><th class=\"n\">A</th><th class=\"n\">B</th></tr>");
	static const char *const cls[] = {"live", "held", "anon", "stacks", "code", "files", "file", "shmem", "other"};
	for (size_t k = 0; k < sizeof(cls) / sizeof(cls[0]); k++) {
		const struct part *pa = NULL, *pb = NULL;
		for (int i = 0; ha && i < ba.np; i++)
			if (strcmp(ba.p[i].cls, cls[k]) == 0)
				pa = &ba.p[i];
		for (int i = 0; hb && i < bb.np; i++)
			if (strcmp(bb.p[i].cls, cls[k]) == 0)
				pb = &bb.p[i];
		if (!pa && !pb)
			continue;
		char x[32], y[32];
		out_printf(o, "<tr><td><i class=\"seg seg-%s\"></i></td><td>", cls[k]);
		out_esc(o, pa ? pa->name : pb->name);
		out_printf(o, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td></tr>",
		           fsize(pa ? pa->bytes : HR_UNKNOWN, x, sizeof(x)), fsize(pb ? pb->bytes : HR_UNKNOWN, y, sizeof(y)));
	}
	out_puts(o, "</table></section>\n");
}

int html_write_compare(const char *out_path, const struct recording *a, const struct recording *b,
                       const struct html_summary *sum_a, const struct html_summary *sum_b)
{
	if (!out_path || !a || !b || (a->nsamples && !a->t_ns) || (b->nsamples && !b->t_ns))
		return -EINVAL;
	struct out o = {0};
	struct ctx ca, cb;
	int r = ctx_init(&ca, a, sum_a);
	int r2 = ctx_init(&cb, b, sum_b);
	if (r < 0 || r2 < 0) {
		r = r < 0 ? r : r2;
		goto out_release;
	}
	page_begin(&o, "headroom compare");
	out_puts(&o, "<h1>Compare two recordings</h1>");
	out_puts(&o, "<div class=\"cols\"><div id=\"side-a\"><h2>A</h2>");
	header_block(&o, a, "");
	summary_block(&o, &ca, true);
	missing_list(&o, &ca);
	out_puts(&o, "</div><div id=\"side-b\"><h2>B</h2>");
	header_block(&o, b, "");
	summary_block(&o, &cb, true);
	missing_list(&o, &cb);
	compare_figures(&o, a, b, sum_a, sum_b);
	if ((r = compare_chart(&o, a, b, &ca, &cb, sum_a, sum_b)) < 0)
		goto out_release;
	compare_buildings(&o, sum_a, sum_b);
	page_end(&o);
	r = out_save(&o, out_path);
out_release:
	ctx_release(&ca);
	ctx_release(&cb);
	free(o.p);
	return r;
}
