/* gctrace: the Go runtime's GC and scavenger lines, on lines a real Go 1.19.8 printed
 * (tests/fixtures/gctrace/, see its README), and the filter that takes them out of a stream. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gctrace.h"
#include "gotrace.h"

#define MiB (1LL << 20)

static char *slurp(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/gctrace/%s", FIXTURES, name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static char buf[1 << 16];
	*len = fread(buf, 1, sizeof(buf) - 1, f);
	buf[*len] = 0;
	fclose(f);
	return buf;
}

static int parse(const char *line, struct gctrace_line *l)
{
	return gctrace_parse_line(line, strlen(line), l);
}

/* the figures of captured lines, read off the text by eye */
static void real_lines(void **state)
{
	(void)state;
	struct gctrace_line l;
	assert_int_equal(parse("gc 5 @0.060s 0%: 0.007+0.22+0.001 ms clock, 0.014+0/0.039/0.076+0.003 ms cpu, "
			       "64->64->64 MB, 76 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)\n", &l), GCTRACE_GC);
	assert_int_equal(l.cycle, 5);
	assert_int_equal(l.at_ms, 60);
	assert_int_equal(l.heap_start, 64 * MiB);
	assert_int_equal(l.heap_live, 64 * MiB);
	assert_int_equal(l.heap_goal, 76 * MiB);
	assert_int_equal(l.stacks, 0);
	assert_int_equal(l.procs, 2);
	assert_true(l.forced);
	assert_int_equal(parse("gc 6 @0.217s 0%: 0.016+0.22+0.003 ms clock, 0.033+0/0.055/0.10+0.007 ms cpu, "
			       "128->128->68 MB, 128 MB goal, 0 MB stacks, 0 MB globals, 2 P\n", &l), GCTRACE_GC);
	assert_int_equal(l.heap_start, 128 * MiB);
	assert_int_equal(l.heap_end, 128 * MiB);
	assert_int_equal(l.heap_live, 68 * MiB);
	assert_int_equal(l.at_ms, 217);
	assert_false(l.forced);
	assert_int_equal(parse("scav 65656 KiB work, 69032 KiB total, 99% util (forced)\n", &l), GCTRACE_SCAV);
	assert_int_equal(l.scav_work, 65656 * 1024LL);
	assert_int_equal(l.released, 69032 * 1024LL);
	assert_int_equal(l.util_pct, 99);
	assert_true(l.forced);
	/* runtime/proc.go forcegchelper: println("GC forced") */
	assert_int_equal(parse("GC forced\n", &l), GCTRACE_FORCED);
	/* Go before 1.18: no stacks and globals (runtime/mgc.go of go1.17) */
	assert_int_equal(parse("gc 12 @3.021s 1%: 0.010+1.2+0.004 ms clock, 0.041+0.20/1.1/2.0+0.017 ms cpu, "
			       "9->9->4 MB, 10 MB goal, 4 P\n", &l), GCTRACE_GC);
	assert_int_equal(l.heap_live, 4 * MiB);
	assert_int_equal(l.stacks, -1);
	assert_int_equal(l.procs, 4);
	/* whole milliseconds from 10 ms up (fmtNSAsMS) */
	assert_int_equal(parse("gc 3 @12.000s 5%: 15+220+0.5 ms clock, 30+1/2/3+1.0 ms cpu, 1->2->1 MB, 4 MB goal, "
			       "0 MB stacks, 0 MB globals, 8 P\n", &l), GCTRACE_GC);
	assert_int_equal(l.at_ms, 12000);
}

/* every line of the capture parses, and every proper prefix of it is a prefix */
static void fixture_lines(void **state)
{
	(void)state;
	size_t len;
	char *text = slurp("go1.19.8-hold64.txt", &len);
	int gcs = 0, scavs = 0;
	int64_t last_live = -1;
	for (char *p = text; p < text + len;) {
		char *nl = memchr(p, '\n', (size_t)(text + len - p));
		assert_non_null(nl);
		size_t n = (size_t)(nl - p) + 1;
		struct gctrace_line l;
		int r = gctrace_parse_line(p, n, &l);
		assert_true(r == GCTRACE_GC || r == GCTRACE_SCAV);
		gcs += r == GCTRACE_GC;
		scavs += r == GCTRACE_SCAV;
		if (r == GCTRACE_GC) {
			assert_int_equal(l.cycle, gcs);   /* they count up from 1 */
			last_live = l.heap_live;
		}
		for (size_t k = 1; k < n; k++)
			assert_int_equal(gctrace_parse_line(p, k, NULL), GCTRACE_PARTIAL);
		p += n;
	}
	assert_int_equal(gcs, 6);
	assert_int_equal(scavs, 8);
	/* the program held 64 MiB and a 4 MiB slice was still reachable at the last cycle */
	assert_int_equal(last_live, 68 * MiB);
}

static void refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"gc 0 @0.060s 0%: 1+1+1 ms clock, 1+1/1/1+1 ms cpu, 1->1->1 MB, 4 MB goal, 2 P\n",     /* cycle 0 */
		"gc 05 @0.060s 0%: 1+1+1 ms clock, 1+1/1/1+1 ms cpu, 1->1->1 MB, 4 MB goal, 2 P\n",    /* leading zero */
		"gc 5 @0.06s 0%: 1+1+1 ms clock, 1+1/1/1+1 ms cpu, 1->1->1 MB, 4 MB goal, 2 P\n",      /* 2 decimals */
		"gc 5 @0.060s 0%: 1+1 ms clock, 1+1/1/1+1 ms cpu, 1->1->1 MB, 4 MB goal, 2 P\n",       /* 2 clock times */
		"gc 5 @0.060s 0%: 1+1+1 ms clock, 1+1/1/1+1 ms cpu, 1->1->1 MB, 4 MB goal, 2 P \n",    /* trailing blank */
		"gc 5 @0.060s 0%: 1+1+1 ms clock, 1+1/1/1+1 ms cpu, 1->1->1 MB, 4 MB goal, 0 P\n",     /* no P */
		"gc 5 @0.060s 0%: 1+1+1 ms clock, 1+1/1/1+1 ms cpu, 1->1->1 MB, 4 MB goal, 2 P\r\n",   /* CR */
		"gc 5 @0.060s 0%: 1+1+1 ms clock, 1+1/1/1+1 ms cpu, 1->1->-1 MB, 4 MB goal, 2 P\n",    /* sign */
		"gc 5 @0.060s 0%: 1+1+1 ms clock, 1+1/1/1+1 ms cpu, 1->1->68719476737 MB, 4 MB goal, 2 P\n", /* > 2^56 */
		"gc 5 @0.060s 0%: 1+1+1 ms clock, 1+1/1/1+1 ms cpu, 1->1->1234567890123 MB, 4 MB goal, 2 P\n", /* digits */
		"gc 5 @0.060s 0%: 1.1234+1+1 ms clock, 1+1/1/1+1 ms cpu, 1->1->1 MB, 4 MB goal, 2 P\n", /* 4 decimals */
		"gc 5 @0.060s 0%: 1+1+1 ms clock, 1+1/1/1+1 ms cpu, 1->1->1 MB, 4 MB goal, 2 P (forced)x\n",
		"gc 5 @0.060s 0%: 1+1+1 ms clock, 1+1/1/1+1 ms cpu, 1->1->1 MB, 4 MB goal, 2 P\nx", /* past the line */
		"scav 1 KiB work, 2 KiB total, 101% util\n",
		"scav 1 KiB work, 2 KiB total, 9% util [controller]\n",
		"GC forced \n",
		"gcx\n",
		"hello\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], NULL) != -EBADMSG)
			fail_msg("accepted: %s", bad[i]);
	}
	/* a prefix longer than a line can be is no prefix */
	char longp[GCTRACE_LINE_MAX + 8] = "gc 1 @0.001s 0%: 1";
	memset(longp + strlen(longp), '1', sizeof(longp) - strlen(longp) - 1);
	longp[sizeof(longp) - 1] = 0;
	assert_int_equal(gctrace_parse_line(longp, strlen(longp), NULL), -EBADMSG);
	assert_int_equal(gctrace_parse_line("", 0, NULL), GCTRACE_PARTIAL);
}

/* --- the filter ------------------------------------------------------------------------- */
struct sink {
	char out[1 << 17];
	size_t n;
	int lines;
	int64_t last_cycle;
};

static void count_line(void *ctx, const struct gctrace_line *l)
{
	struct sink *s = ctx;
	s->lines++;
	if (l->kind == GCTRACE_GC)
		s->last_cycle = l->cycle;
}

/* feeds text in pieces of `step` bytes (0: one piece), then flushes */
static void run_filter(struct gctrace_filter *f, const char *text, size_t len, size_t step, struct sink *s)
{
	static char out[(1 << 16) + GCTRACE_LINE_MAX];
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < len;) {
		size_t k = step && len - i > step ? step : len - i;
		assert_true(k <= 1 << 16);
		/* more: the next bytes are there already (as when a read fills the buffer) */
		size_t o = gctrace_filter_feed(f, text + i, k, i + k < len, out, count_line, s);
		memcpy(s->out + s->n, out, o);
		s->n += o;
		i += k;
	}
	s->n += gctrace_filter_flush(f, s->out + s->n);
}

static const char gc_line[] = "gc 7 @0.276s 0%: 0.014+1.5+0.003 ms clock, 0.028+0/0.066/1.4+0.007 ms cpu, "
			      "128->128->68 MB, 128 MB goal, 0 MB stacks, 0 MB globals, 2 P\n";
static const char scav_line[] = "scav 0 KiB work, 3296 KiB total, 53% util\n";

/* a program's bytes around the runtime's lines: what passes is the program's, byte for byte,
 * however the stream is cut */
static void filter_strips_runtime_lines(void **state)
{
	(void)state;
	char prog[4096], mixed[8192];
	size_t pn = 0, mn = 0;
#define BOTH(str) do { memcpy(prog + pn, str, strlen(str)); pn += strlen(str); \
		       memcpy(mixed + mn, str, strlen(str)); mn += strlen(str); } while (0)
#define RT(str) do { memcpy(mixed + mn, str, strlen(str)); mn += strlen(str); } while (0)
	BOTH("hello\n");
	RT(gc_line);
	BOTH("gc is not a trace\n");                  /* the first piece, then not the format */
	BOTH("gc 7 @0.276s 0%: nearly\n");
	RT(scav_line);
	BOTH("scavenger\nGC forced!\n");
	BOTH("partial line, then ");                   /* the runtime cuts into a partial line */
	RT(gc_line);
	RT("GC forced\n");
	BOTH("the rest of it\n");
	BOTH("\x00\x01\xff\x1b[31mbinary\r\n");
	RT(scav_line);
	BOTH("ends without a newline: gc");
	struct gctrace_filter f;
	for (size_t step = 0; step <= 17; step++) {
		gctrace_filter_init(&f, true, true);
		struct sink s;
		run_filter(&f, mixed, mn, step, &s);
		assert_int_equal(s.n, pn);
		assert_memory_equal(s.out, prog, pn);
		assert_int_equal(s.lines, 5);
		assert_int_equal(s.last_cycle, 7);
	}
	/* the user turned gctrace on: the lines are theirs, read and kept */
	gctrace_filter_init(&f, false, false);
	struct sink s;
	run_filter(&f, mixed, mn, 5, &s);
	assert_int_equal(s.n, mn);
	assert_memory_equal(s.out, mixed, mn);
	assert_int_equal(s.lines, 5);
	/* only scavtrace was headroom's */
	gctrace_filter_init(&f, false, true);
	run_filter(&f, mixed, mn, 0, &s);
	assert_int_equal(s.n, mn - 2 * strlen(scav_line));
}

/* bytes that cannot begin a runtime line are never held; a first piece at the end is, until the
 * next bytes or the flush */
static void filter_holds_only_candidates(void **state)
{
	(void)state;
	struct gctrace_filter f;
	gctrace_filter_init(&f, true, true);
	char out[256 + GCTRACE_LINE_MAX];
	assert_int_equal(gctrace_filter_feed(&f, "prompt> ", 8, false, out, NULL, NULL), 8);
	assert_false(gctrace_filter_holding(&f));
	assert_int_equal(gctrace_filter_feed(&f, "yes", 3, false, out, NULL, NULL), 3);   /* "s" is not "scav " */
	assert_false(gctrace_filter_holding(&f));
	assert_int_equal(gctrace_filter_feed(&f, "\ngc ", 4, false, out, NULL, NULL), 1);
	assert_true(gctrace_filter_holding(&f));
	assert_int_equal(gctrace_filter_feed(&f, "1 @0", 4, false, out, NULL, NULL), 0);
	assert_int_equal(gctrace_filter_flush(&f, out), 7);
	assert_memory_equal(out, "gc 1 @0", 7);
	/* with more bytes on the way, a cut first piece is held */
	assert_int_equal(gctrace_filter_feed(&f, "\nsc", 3, true, out, NULL, NULL), 1);
	assert_true(gctrace_filter_holding(&f));
	assert_int_equal(gctrace_filter_feed(&f, "ab\n", 3, false, out, NULL, NULL), 5);
	assert_memory_equal(out, "scab\n", 5);
}

static void godebug_merge(void **state)
{
	(void)state;
	char v[128];
	bool gc, scav;
	assert_int_equal(gotrace_godebug(NULL, v, sizeof(v), &gc, &scav), 0);
	assert_string_equal(v, "gctrace=1,scavtrace=1");
	assert_true(gc && scav);
	assert_int_equal(gotrace_godebug("madvdontneed=1", v, sizeof(v), &gc, &scav), 0);
	assert_string_equal(v, "madvdontneed=1,gctrace=1,scavtrace=1");
	/* the user's own gctrace: kept, and its lines are theirs */
	assert_int_equal(gotrace_godebug("gctrace=1", v, sizeof(v), &gc, &scav), 0);
	assert_string_equal(v, "gctrace=1,scavtrace=1");
	assert_false(gc);
	assert_true(scav);
	/* gctrace=0 is off: headroom's is added after it (the last one wins) */
	assert_int_equal(gotrace_godebug("gctrace=0,scavtrace=2", v, sizeof(v), &gc, &scav), 0);
	assert_string_equal(v, "gctrace=0,scavtrace=2,gctrace=1");
	assert_true(gc);
	assert_false(scav);
	assert_int_equal(gotrace_godebug("", v, sizeof(v), &gc, &scav), 0);
	assert_string_equal(v, "gctrace=1,scavtrace=1");
	assert_int_equal(gotrace_godebug("x=1", v, 8, &gc, &scav), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(real_lines),
		cmocka_unit_test(fixture_lines),
		cmocka_unit_test(refused),
		cmocka_unit_test(filter_strips_runtime_lines),
		cmocka_unit_test(filter_holds_only_candidates),
		cmocka_unit_test(godebug_merge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
