/* gctrace: the Go runtime's GC and scavenger lines, strictly (see gctrace.h). */
#include "gctrace.h"

#include <errno.h>
#include <string.h>

/* Each step: OK (matched, the cursor moved), MORE (the text ended inside it: a prefix so far),
 * BAD (cannot match). */
enum { BAD = -1, MORE = 0, OK = 1 };

struct cur {
	const char *p, *e;
};

#define STEP(x) do { int r_ = (x); if (r_ != OK) return r_; } while (0)

static int lit(struct cur *c, const char *s)
{
	for (; *s; s++, c->p++) {
		if (c->p == c->e)
			return MORE;
		if (*c->p != *s)
			return BAD;
	}
	return OK;
}

static bool digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* An unsigned decimal as Go prints it: no sign, no leading zero but "0" itself. A number that
 * reaches the end of the text may go on: MORE. */
static int uint_(struct cur *c, int64_t *v)
{
	int n = 0;
	int64_t x = 0;
	const char *s = c->p;
	while (c->p < c->e && digit(*c->p)) {
		if (++n > GCTRACE_DIGITS_MAX || (n == 2 && *s == '0'))
			return BAD;
		x = x * 10 + (*c->p - '0');
		c->p++;
	}
	if (c->p == c->e)
		return MORE;
	if (n == 0)
		return BAD;
	*v = x;
	return OK;
}

/* fmtNSAsMS / itoaDiv: digits, optionally '.' and digits (at most 3). With exact3, the '.' and
 * exactly three digits (itoaDiv(ms, 3) of the @ time). The value in thousandths. */
static int decimal(struct cur *c, bool exact3, int64_t *milli)
{
	int64_t whole;
	STEP(uint_(c, &whole));
	int64_t frac = 0;
	int nf = 0;
	if (*c->p == '.') {
		c->p++;
		while (c->p < c->e && digit(*c->p)) {
			if (++nf > 3)
				return BAD;
			frac = frac * 10 + (*c->p - '0');
			c->p++;
		}
		if (c->p == c->e)
			return MORE;
		if (nf == 0)
			return BAD;
	}
	if (exact3 && nf != 3)
		return BAD;
	for (int i = nf; i < 3; i++)
		frac *= 10;
	*milli = whole * 1000 + frac;
	return OK;
}

static int mib(struct cur *c, int64_t *bytes)
{
	int64_t v;
	STEP(uint_(c, &v));
	if (v > (GCTRACE_BYTES_MAX >> 20))
		return BAD;
	*bytes = v << 20;
	return OK;
}

static int kib(struct cur *c, int64_t *bytes)
{
	int64_t v;
	STEP(uint_(c, &v));
	if (v > (GCTRACE_BYTES_MAX >> 10))
		return BAD;
	*bytes = v << 10;
	return OK;
}

/* "+" or "/" separated times, as the clock (3, "+") and cpu (5: a+b/c/d+e) groups print them */
static int times(struct cur *c, const char *seps)
{
	int64_t ignored;
	STEP(decimal(c, false, &ignored));
	for (; *seps; seps++) {
		char one[2] = {*seps, 0};
		STEP(lit(c, one));
		STEP(decimal(c, false, &ignored));
	}
	return OK;
}

/* The end of a line: one of the optional suffixes, then the newline. */
static int line_end(struct cur *c, const char *const *suffixes, int nsuffix, int *which)
{
	*which = -1;
	if (c->p == c->e)
		return MORE;
	if (*c->p == '\n') {
		c->p++;
		return c->p == c->e ? OK : BAD;
	}
	for (int i = 0; i < nsuffix; i++) {
		struct cur t = *c;
		int r = lit(&t, suffixes[i]);
		if (r == BAD)
			continue;
		if (r == MORE)
			return MORE;   /* suffixes share no prefix past their first bytes here */
		*which = i;
		*c = t;
		if (c->p == c->e)
			return MORE;
		if (*c->p != '\n')
			return BAD;
		c->p++;
		return c->p == c->e ? OK : BAD;
	}
	return BAD;
}

static int parse_gc(struct cur *c, struct gctrace_line *l)
{
	STEP(lit(c, "gc "));
	STEP(uint_(c, &l->cycle));
	if (l->cycle < 1)
		return BAD;
	STEP(lit(c, " @"));
	STEP(decimal(c, true, &l->at_ms));
	STEP(lit(c, "s "));
	STEP(uint_(c, &l->cpu_pct));
	STEP(lit(c, "%: "));
	STEP(times(c, "++"));
	STEP(lit(c, " ms clock, "));
	STEP(times(c, "+//+"));
	STEP(lit(c, " ms cpu, "));
	STEP(mib(c, &l->heap_start));
	STEP(lit(c, "->"));
	STEP(mib(c, &l->heap_end));
	STEP(lit(c, "->"));
	STEP(mib(c, &l->heap_live));
	STEP(lit(c, " MB, "));
	STEP(mib(c, &l->heap_goal));
	STEP(lit(c, " MB goal, "));
	/* Go 1.18+: "S MB stacks, G MB globals, P P"; before: "P P" */
	int64_t first;
	STEP(uint_(c, &first));
	struct cur t = *c;
	int r = lit(&t, " P");
	if (r == OK || r == MORE) {
		/* " P" and " MB stacks" part at their second byte: " P" is it when that byte is 'P' */
		l->procs = first;
		*c = t;
		if (r == MORE)
			return MORE;
	} else {
		if (first > (GCTRACE_BYTES_MAX >> 20))
			return BAD;
		l->stacks = first << 20;
		STEP(lit(c, " MB stacks, "));
		STEP(mib(c, &l->globals));
		STEP(lit(c, " MB globals, "));
		STEP(uint_(c, &l->procs));
		STEP(lit(c, " P"));
	}
	if (l->procs < 1)
		return BAD;
	static const char *const sfx[] = {" (forced)"};
	int which;
	STEP(line_end(c, sfx, 1, &which));
	l->forced = which == 0;
	return OK;
}

static int parse_scav(struct cur *c, struct gctrace_line *l)
{
	STEP(lit(c, "scav "));
	STEP(kib(c, &l->scav_work));
	STEP(lit(c, " KiB work, "));
	STEP(kib(c, &l->released));
	STEP(lit(c, " KiB total, "));
	STEP(uint_(c, &l->util_pct));
	STEP(lit(c, "% util"));
	static const char *const sfx[] = {" (forced)", " [controller reset]"};
	int which;
	STEP(line_end(c, sfx, 2, &which));
	l->forced = which == 0;
	return l->util_pct <= 100 ? OK : BAD;
}

int gctrace_parse_line(const char *text, size_t len, struct gctrace_line *ret)
{
	struct gctrace_line l;
	memset(&l, 0, sizeof(l));
	l.stacks = l.globals = -1;
	if (!text || len == 0)
		return len == 0 ? GCTRACE_PARTIAL : -EBADMSG;
	if (len > GCTRACE_LINE_MAX)
		return -EBADMSG;
	struct cur c = {text, text + len};
	int r;
	/* the first byte chooses the kind: 'g' gc, 's' scav, 'G' GC forced */
	switch (text[0]) {
	case 'g':
		l.kind = GCTRACE_GC;
		r = parse_gc(&c, &l);
		break;
	case 's':
		l.kind = GCTRACE_SCAV;
		r = parse_scav(&c, &l);
		break;
	case 'G':
		l.kind = GCTRACE_FORCED;
		r = lit(&c, "GC forced\n");
		if (r == OK && c.p != c.e)
			r = BAD;
		break;
	default:
		r = BAD;
	}
	if (r == BAD)
		return -EBADMSG;
	if (r == MORE)
		return len < GCTRACE_LINE_MAX ? GCTRACE_PARTIAL : -EBADMSG;
	if (ret)
		*ret = l;
	return l.kind;
}

void gctrace_filter_init(struct gctrace_filter *f, bool strip_gc, bool strip_scav)
{
	memset(f, 0, sizeof(*f));
	f->strip_gc = strip_gc;
	f->strip_scav = strip_scav;
}

/* The first piece of each runtime line, one write(2) each (print's first string): a line of the
 * runtime can begin only where one of these is. */
static const char *const first_pieces[] = {"gc ", "scav ", "GC forced"};

/* 1: a whole first piece starts at p; 0: p[0..n) is a proper prefix of one; -1: neither */
static int piece_at(const char *p, size_t n)
{
	int r = -1;
	for (int k = 0; k < 3; k++) {
		size_t pl = strlen(first_pieces[k]);
		if (n >= pl && memcmp(p, first_pieces[k], pl) == 0)
			return 1;
		if (n < pl && memcmp(p, first_pieces[k], n) == 0)
			r = 0;
	}
	return r;
}

size_t gctrace_filter_feed(struct gctrace_filter *f, const char *in, size_t n, bool more, char *out,
			   gctrace_line_fn on_line, void *ctx)
{
	size_t o = 0, i = 0;
	while (i < n) {
		if (f->nhold == 0) {
			/* pass at once everything up to the next place a runtime line could begin */
			size_t j = i;
			int at = -1;
			for (; j < n; j++) {
				char ch = in[j];
				if ((ch == 'g' || ch == 's' || ch == 'G') && (at = piece_at(in + j, n - j)) >= 0 &&
				    (at == 1 || more))
					break;
				f->mid_line = ch != '\n';
			}
			memcpy(out + o, in + i, j - i);
			o += j - i;
			i = j;
			if (i == n)
				break;
			f->hold_mid = f->mid_line;
			f->hold_starts++;
		}
		char ch = in[i++];
		f->hold[f->nhold++] = ch;
		/* Parsing the held bytes again at every byte made a line cost its length squared; a
		 * line is decided at its newline, and a look at its first bytes and every 32nd lets a
		 * program's line that is no runtime line go on its way soon after it diverges. */
		if (ch != '\n' && f->nhold > 16 && f->nhold % 32 != 0 && f->nhold < GCTRACE_LINE_MAX)
			continue;
		struct gctrace_line l;
		int r = gctrace_parse_line(f->hold, f->nhold, &l);
		if (r == GCTRACE_PARTIAL)
			continue;
		bool strip = false;
		if (r > 0) {
			if (on_line)
				on_line(ctx, &l);
			strip = r == GCTRACE_SCAV ? f->strip_scav : f->strip_gc;
		}
		if (strip) {
			/* the line the runtime's cut into goes on (a program's partial line) */
			f->mid_line = f->hold_mid;
		} else {
			memcpy(out + o, f->hold, f->nhold);
			o += f->nhold;
			f->mid_line = f->hold[f->nhold - 1] != '\n';
		}
		f->nhold = 0;
	}
	return o;
}

size_t gctrace_filter_flush(struct gctrace_filter *f, char *out)
{
	size_t n = f->nhold;
	memcpy(out, f->hold, n);
	if (n)
		f->mid_line = true;   /* a held prefix has no newline */
	f->nhold = 0;
	return n;
}
