/* fuzz_promsize: answers of a Prometheus server to /api/v1/query, as `headroom size
 * --prometheus` parses them (src/export/promsize.c, json-c). The server, or anything between
 * it and us, is outside our control. Every series handed to the callback must carry
 * NUL-terminated labels and name, and the count returned must be the number of calls. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promsize.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s\n", #cond); abort(); } } while (0)

static void on_series(void *ctx, const char *labels, const char *name, double ts, double value)
{
	CHECK(strlen(labels) < 1024 && strlen(name) < 256);
	(*(int *)ctx)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = malloc(size + 1);
	if (!body)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';
	char why[256];
	int calls = 0;
	why[0] = '\0';
	int n = promsize_parse_vector(body, 200, on_series, &calls, why, sizeof(why));
	if (n >= 0)
		CHECK(n == calls);
	else
		CHECK((n == -EPROTO || n == -EINVAL) && why[0] && strlen(why) < sizeof(why));
	free(body);
	return 0;
}
