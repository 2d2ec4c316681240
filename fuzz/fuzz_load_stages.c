/* fuzz_load_stages: the load stage spec of `headroom load --stages` and `run --load`
 * (src/load/load_config.c), e.g. "10s:50,ramp 30s:200". Parsed stages must be sane (a positive
 * duration, connections >= 0), and a spec that does not parse gets a one-line explanation. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s\n", #cond); abort(); } } while (0)

#define STAGES_MAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *spec = malloc(size + 1);
	if (!spec)
		return 0;
	memcpy(spec, data, size);
	spec[size] = '\0';
	struct load_stage st[STAGES_MAX];
	int n = 0;
	if (load_stages_from_spec(spec, 0, st, STAGES_MAX, &n) == 0) {
		CHECK(n >= 1 && n <= STAGES_MAX);
		for (int i = 0; i < n; i++)
			CHECK(st[i].duration_ns > 0 && st[i].connections >= 0);
		int64_t total = load_stages_duration(st, n);
		CHECK(total > 0);
		CHECK(load_stages_max_connections(st, n) >= 0);
		int stage;
		(void)load_stages_at(st, n, total / 2, &stage);
	} else {
		char why[256];
		load_stages_explain(spec, why, sizeof(why));
		CHECK(strlen(why) < sizeof(why));
	}
	free(spec);
	return 0;
}
