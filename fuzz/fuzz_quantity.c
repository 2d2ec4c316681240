/* fuzz_quantity: Kubernetes quantities, durations and percentages (src/base/util.c) as a user, a
 * flag or a config file gives them. What parses is formatted again and the round trip checked:
 * a size is never negative, its whole-Mi rounding parses back to at least the size, a duration
 * formats without overflow. util_parse_u64 must agree with strtoull where no overflow occurs. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s\n", #cond); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	char buf[256];

	int64_t bytes;
	if (util_size_parse(text, &bytes) == 0) {
		CHECK(bytes >= 0);
		util_size_format(bytes, buf, sizeof(buf));
		util_size_format_mi_ceil(bytes, buf, sizeof(buf));
		int64_t back;
		CHECK(util_size_parse(buf, &back) == 0);
		CHECK(back >= bytes && back - bytes < UTIL_MiB);
	} else {
		util_size_explain(text, buf, sizeof(buf));
		CHECK(strlen(buf) < sizeof(buf));
	}
	int64_t ns;
	if (util_duration_parse(text, &ns) == 0) {
		CHECK(ns >= 0);
		util_duration_format(ns, buf, sizeof(buf));
	}
	double frac;
	(void)util_percent_parse(text, &frac);

	const char *p = text;
	uint64_t v;
	if (util_parse_u64(&p, &v) == 0) {
		CHECK(p > text && (size_t)(p - text) <= size);
		/* an overflowing number is refused, not wrapped */
		errno = 0;
		unsigned long long ref = strtoull(text, NULL, 10);
		CHECK(errno == 0 && ref == v);
	}
	free(text);
	return 0;
}
