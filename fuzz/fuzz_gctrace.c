/* fuzz_gctrace: a Go program's stderr as the relay of `headroom run` filters it
 * (src/collect/gctrace.c). The program under test writes what it likes to its stderr, and its
 * runtime's lines are in the same stream. Byte 0: where to cut the stream, which traces headroom
 * turned on. Checks: a whole runtime line parses only if it ends with its newline; the filter
 * passes every byte that is not part of a stripped line, in order (with nothing stripped, the
 * output is the input), and never writes past the room it was promised. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gctrace.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s\n", #cond); abort(); } } while (0)

static void on_line(void *ctx, const struct gctrace_line *l)
{
	(*(int *)ctx)++;
	CHECK(l->kind >= GCTRACE_GC && l->kind <= GCTRACE_FORCED);
	CHECK(l->heap_live >= 0 && l->heap_live <= GCTRACE_BYTES_MAX && l->released <= GCTRACE_BYTES_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned ctl = data[0];
	const char *in = (const char *)data + 1;
	size_t n = size - 1;
	/* the parser alone, on an exact-size copy so ASan sees any read past the end */
	char *line = malloc(n ? n : 1);
	if (!line)
		return 0;
	memcpy(line, in, n);
	struct gctrace_line l;
	int r = gctrace_parse_line(line, n, &l);
	if (r > 0)
		CHECK(n > 0 && line[n - 1] == '\n' && memchr(line, '\n', n - 1) == NULL);
	else if (r == GCTRACE_PARTIAL)
		CHECK(memchr(line, '\n', n) == NULL && n < GCTRACE_LINE_MAX);
	else
		CHECK(r == -EBADMSG);
	free(line);

	struct gctrace_filter f;
	bool strip = ctl & 1;
	gctrace_filter_init(&f, strip, strip);
	size_t cut = n ? (ctl >> 1) % (n + 1) : 0;
	char *out = malloc(n + 2 * GCTRACE_LINE_MAX + 1);
	if (!out)
		return 0;
	size_t o = 0;
	int lines = 0;
	o += gctrace_filter_feed(&f, in, cut, ctl & 0x80, out + o, on_line, &lines);
	o += gctrace_filter_feed(&f, in + cut, n - cut, false, out + o, on_line, &lines);
	o += gctrace_filter_flush(&f, out + o);
	CHECK(o <= n);
	if (!strip || lines == 0)
		CHECK(o == n && memcmp(out, in, n) == 0);
	/* what passes is the input with some lines taken out: a subsequence, in order */
	size_t j = 0;
	for (size_t i = 0; i < o; i++) {
		while (j < n && in[j] != out[i])
			j++;
		CHECK(j < n);
		j++;
	}
	free(out);
	return 0;
}
