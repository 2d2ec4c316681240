/* fuzz_proc: the /proc/PID parsers of src/linux/probe.c — status, smaps_rollup, smaps (fed
 * whole and split at a fuzzed point: the result must not depend on the split) and stat (the
 * parent pid behind a comm that may hold spaces and parentheses). The text is what a target
 * process shapes (comm, mapping names), so it is hostile. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s\n", #cond); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t cut = data[0] * (size - 1) / 255;   /* where to split the smaps text */
	data++, size--;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	struct proc_status st;
	if (probe_parse_status(text, &st) == 0)
		CHECK(st.rss >= -1 && st.hwm >= -1);
	struct proc_rollup ru;
	if (probe_parse_rollup(text, &ru) == 0)
		CHECK(ru.rss >= 0);
	(void)probe_parse_stat_ppid(text);

	struct smaps_parser p;
	struct smaps_breakdown whole, split;
	probe_smaps_begin(&p, "/usr/bin/target");
	probe_smaps_feed(&p, text, size);
	probe_smaps_end(&p, &whole);
	probe_smaps_begin(&p, "/usr/bin/target");
	probe_smaps_feed(&p, text, cut);
	probe_smaps_feed(&p, text + cut, size - cut);
	probe_smaps_end(&p, &split);
	CHECK(memcmp(&whole, &split, sizeof(whole)) == 0);
	free(text);
	return 0;
}
