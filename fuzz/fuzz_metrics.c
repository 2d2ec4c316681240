/* fuzz_metrics: a service's /metrics page as `run --metrics` parses it (src/collect/metrics.c).
 * The service is the program under test: its page may say anything. The input is parsed as is
 * (no NUL terminator: the parser must stay inside len) and again split at a newline-free prefix;
 * a success must find only names present (a labelled want also its label's name, and never more
 * matching samples than lines), and a failure must name a line within the input and leave the
 * wanted entries alone. The labelled wants are the JVM's (label values compared after unescaping,
 * samples summed), one with every escape the format has. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s\n", #cond); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy so ASan sees any read past the end */
	char *text = malloc(size ? size : 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	struct metrics_want w[] = {{.name = "go_memstats_heap_alloc_bytes", .value = 7}, {.name = "m", .value = 7},
				   {.name = "jemalloc_allocated_bytes", .value = 7},
				   {.name = "jvm_memory_used_bytes", .label = "area", .label_value = "heap", .sum = true, .value = 7},
				   {.name = "m", .label = "a", .label_value = "x\"\\\n", .sum = true, .value = 7},
				   {.name = "jvm_memory_bytes_used", .label = "area", .label_value = "heap", .value = 7}};
	enum { NW = sizeof(w) / sizeof(w[0]) };
	int line = -1;
	int r = metrics_parse(text, size, w, NW, &line);
	size_t lines = 1;
	for (size_t i = 0; i < size; i++)
		lines += text[i] == '\n';
	if (r == 0) {
		CHECK(line == 0);
		for (int i = 0; i < NW; i++) {
			CHECK(w[i].found == (w[i].samples > 0));
			CHECK((size_t)w[i].samples <= lines && (w[i].sum || w[i].samples <= 1));
			if (w[i].found)
				CHECK(memmem(text, size, w[i].name, strlen(w[i].name)) != NULL);
			if (w[i].found && w[i].label)
				CHECK(memmem(text, size, w[i].label, strlen(w[i].label)) != NULL);
		}
	} else {
		CHECK(r == -EBADMSG || r == -EMSGSIZE);
		CHECK(line >= 1 && (size_t)line <= lines);
		for (int i = 0; i < NW; i++)
			CHECK(!w[i].found && w[i].value == 7);
	}
	free(text);
	return 0;
}
