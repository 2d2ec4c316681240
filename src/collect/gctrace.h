/* gctrace: the Go runtime's own reports on stderr (GODEBUG=gctrace=1, scavtrace=1), parsed
 * strictly, and the filter that takes them out of a program's stderr byte stream.
 *
 * The formats are the runtime's print statements (Go 1.19, Debian bookworm's golang-go:
 * runtime/mgc.go gcMarkTermination, mgcscavenge.go printScavTrace, proc.go forcegchelper); Go
 * before 1.18 printed no "MB stacks, MB globals", which is accepted too:
 *   gc 5 @0.090s 1%: 0.014+4.0+0.005 ms clock, 0.028+0/0.066/1.6+0.011 ms cpu, 63->64->64 MB,
 *      64 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)          (one line)
 *   scav 65848 KiB work, 69112 KiB total, 100% util (forced)
 *   GC forced
 * A line is the runtime's only when it matches to the last byte, newline included; numbers are
 * bounded (GCTRACE_DIGITS_MAX digits, sizes at most 2^56 bytes), a line at most GCTRACE_LINE_MAX.
 *
 * The filter sees the stream as it comes (any split). The runtime writes a line in ~30 separate
 * write(2)s, the first of them "gc ", "scav " or "GC forced" whole; a runtime line can begin only
 * there — at the start of a line, or in the middle of a program's partial line that the runtime's
 * cut into. Every other byte passes at once. From such a place the bytes are held while they are
 * still a prefix of a runtime line: the first byte that cannot be passes with the held ones; a
 * whole matching line of a kind being stripped is dropped, and the program's line it cut into
 * goes on. The caller flushes what is held after GCTRACE_HOLD_NS without more bytes, and at the
 * end. A program's own line that matches the format to the last byte is taken for the runtime's.
 * No allocation, no I/O, no logging.
 */
#ifndef HEADROOM_GCTRACE_H
#define HEADROOM_GCTRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GCTRACE_LINE_MAX 512        /* Go 1.19's longest gc line is ~190 bytes */
#define GCTRACE_DIGITS_MAX 12       /* 10^12 MB > 2^56 bytes: refused below */
#define GCTRACE_BYTES_MAX (1LL << 56)
/* Held bytes (a possible start of a runtime line) go to the user after this long without more:
 * the runtime writes its line's pieces back to back; a program that wrote "gc 1 @" and paused is
 * delayed this much, once. */
#define GCTRACE_HOLD_NS 250000000LL

enum gctrace_kind {
	GCTRACE_PARTIAL = 0,        /* a prefix of a runtime line: more bytes needed */
	GCTRACE_GC = 1,             /* gctrace's line at the end of a cycle */
	GCTRACE_SCAV = 2,           /* scavtrace's line */
	GCTRACE_FORCED = 3,         /* "GC forced": sysmon started a cycle after 2 minutes without one */
};

struct gctrace_line {
	int kind;                   /* enum gctrace_kind */
	/* GCTRACE_GC */
	int64_t cycle;              /* N of "gc N": the runtime's count of cycles */
	int64_t at_ms;              /* @T: ms since the runtime started, when the cycle started */
	int64_t cpu_pct;            /* P%: GC's share of CPU since the program started */
	int64_t heap_start, heap_end, heap_live;   /* A->B->C MB, in bytes (MiB, truncated) */
	int64_t heap_goal;          /* the goal of this cycle, bytes */
	int64_t stacks, globals;    /* bytes; -1 when the line has none (Go < 1.18) */
	int64_t procs;              /* GOMAXPROCS */
	bool forced;                /* runtime.GC() or debug.FreeOSMemory(), not the pacer */
	/* GCTRACE_SCAV */
	int64_t scav_work;          /* bytes returned to the OS since the last line */
	int64_t released;           /* bytes of heap released to the OS, now (heapReleased) */
	int64_t util_pct;           /* heap in use as a share of heap retained */
};

/* text[0..len): GCTRACE_GC/SCAV/FORCED when it is exactly one whole runtime line (the last byte
 * the newline) and *ret is filled; GCTRACE_PARTIAL when it is a proper prefix of one (no newline
 * yet, shorter than GCTRACE_LINE_MAX); -EBADMSG when it cannot be one. ret may be NULL. */
int gctrace_parse_line(const char *text, size_t len, struct gctrace_line *ret);

struct gctrace_filter {
	bool strip_gc;              /* drop gc and "GC forced" lines (headroom turned gctrace on) */
	bool strip_scav;            /* drop scav lines (headroom turned scavtrace on) */
	bool mid_line;              /* the last byte passed was not a newline */
	bool hold_mid;              /* the held bytes began in the middle of a line */
	size_t nhold;
	uint64_t hold_starts;       /* lines that began to be held: a caller times each hold */
	char hold[GCTRACE_LINE_MAX];
};

/* Called for every whole runtime line, stripped or not. */
typedef void (*gctrace_line_fn)(void *ctx, const struct gctrace_line *line);

void gctrace_filter_init(struct gctrace_filter *f, bool strip_gc, bool strip_scav);
/* Feeds in[0..n); writes the bytes to pass into out (room for n + GCTRACE_LINE_MAX bytes) and
 * returns how many. more: the caller's buffer was full, so the next bytes are already there
 * (the end may be a first piece cut in two, held; else such an end passes at once). */
size_t gctrace_filter_feed(struct gctrace_filter *f, const char *in, size_t n, bool more, char *out,
			   gctrace_line_fn on_line, void *ctx);
/* The held bytes (a prefix that never completed) into out (room for GCTRACE_LINE_MAX); returns
 * how many. The line they began goes on as the program's. */
size_t gctrace_filter_flush(struct gctrace_filter *f, char *out);
static inline bool gctrace_filter_holding(const struct gctrace_filter *f)
{
	return f->nhold > 0;
}

#endif
