/* fuzz_export_label: the exporter writes cgroup paths and container names, chosen by whoever
 * created them, into Prometheus exposition text as label values (src/export/export.c
 * export_escape_label). Escaped, a value must hold no raw newline or unescaped quote (either
 * would let a tenant forge series for another), must unescape back to the input, and must fit
 * the buffer or be refused. There is no exposition parser in headroom: this is the writer's
 * side of that format. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s\n", #cond); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t cap = data[0];        /* output buffer size 0..255: refusal paths too */
	data++, size--;
	char *in = malloc(size + 1), *out = malloc(cap ? cap : 1), *back = malloc(cap + 1);   /* back <= out */
	if (!in || !out || !back)
		goto out;
	memcpy(in, data, size);
	in[size] = '\0';
	int n = export_escape_label(in, out, cap);
	if (n < 0) {
		CHECK(n == -ENOSPC);
		goto out;
	}
	CHECK((size_t)n < cap && out[n] == '\0' && strlen(out) == (size_t)n);
	size_t b = 0;
	for (int i = 0; i < n; i++) {
		CHECK(out[i] != '\n');
		CHECK(out[i] != '"');   /* an escaped quote is consumed with its backslash below */
		if (out[i] == '\\') {
			CHECK(i + 1 < n);
			char c = out[++i];
			CHECK(c == '\\' || c == '"' || c == 'n');
			back[b++] = c == 'n' ? '\n' : c;
		} else {
			back[b++] = out[i];
		}
	}
	back[b] = '\0';
	/* ASCII comes back as it was; bytes that are not UTF-8 are replaced (the exposition must be
	 * UTF-8, issue 16.12), so only their count of characters is kept */
	bool ascii = true;
	for (size_t i = 0; i < size; i++)
		ascii = ascii && data[i] < 0x80;
	if (ascii)
		CHECK(strcmp(back, in) == 0);
out:
	free(in);
	free(out);
	free(back);
	return 0;
}
