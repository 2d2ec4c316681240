/* fuzz_cgroup: the cgroup text parsers — memory.stat (v1 and v2), memory.events,
 * memory.oom_control, memory.pressure, memory.max / limit_in_bytes (src/linux/probe.c) — and
 * the lines of /proc/self/mountinfo and /proc/self/cgroup that find our memory cgroup
 * (src/linux/cgroup.c). Cgroup and mount names are chosen by whoever made them (a container
 * runtime, a tenant), so the text is hostile. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "probe.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s\n", #cond); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	struct cgroup_stats cs;
	memset(&cs, 0, sizeof(cs));
	(void)probe_parse_cgroup_stat(text, 1, &cs);
	(void)probe_parse_cgroup_stat(text, 2, &cs);
	(void)probe_parse_cgroup_events(text, &cs);
	(void)probe_parse_oom_control(text, &cs);
	(void)probe_parse_pressure(text, &cs);
	int64_t limit = probe_parse_limit(text);
	CHECK(limit >= -1);

	/* line by line, as the file readers hand them over */
	char out[64];   /* small on purpose: a long mount point or path must be cut, not overflow */
	for (char *line = text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		for (int version = 1; version <= 2; version++) {
			if (cgroup_parse_mountinfo_line(line, version, out, sizeof(out)) == 0)
				CHECK(strlen(out) < sizeof(out));
			if (cgroup_parse_cgroup_line(line, version, out, sizeof(out)) == 0)
				CHECK(strlen(out) < sizeof(out));
		}
	}
	free(text);
	return 0;
}
