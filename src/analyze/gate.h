/* gate: the CI decision of `--fail-on CLASS[,CLASS...]` (run, size, size --verify). Each class
 * is one finding read from clearly named fields of the analysis, the sizing and the verify
 * replay, and has its own stable exit status, so a pipeline can tell them apart:
 *
 *   growing      10  the steady phase grows (analysis.verdict == VERDICT_GROWING)
 *   oom          11  an OOM kill: analysis.oom_killed, analysis.cg_oom_kills > 0, or the verify
 *                    replay under the recommended limit was killed
 *   over-limit   12  the run had a --limit and memory reached it: analysis.cg_limit_hits > 0 or
 *                    analysis.peak >= analysis.limit_bytes
 *   under-sized  13  the limit the service ran under (analysis.limit_bytes) is below headroom's
 *                    recommended limit (sizing.limit_bytes), or the verify replay hit its limit
 *
 * When several fire the most severe wins: oom, over-limit, under-sized, growing. Codes 10..13
 * stay clear of 1 (headroom failed), 2 (usage), 126/127 (command not run) and 128+N (signal).
 * Pure: no I/O, no printing.
 */
#ifndef HEADROOM_GATE_H
#define HEADROOM_GATE_H

#include <stddef.h>

#include "analyze.h"
#include "size.h"
#include "verify.h"

enum gate_class {
	GATE_GROWING = 1u << 0,
	GATE_OOM = 1u << 1,
	GATE_OVER_LIMIT = 1u << 2,
	GATE_UNDER_SIZED = 1u << 3,
};

#define GATE_EXIT_GROWING 10
#define GATE_EXIT_OOM 11
#define GATE_EXIT_OVER_LIMIT 12
#define GATE_EXIT_UNDER_SIZED 13

/* The accepted spelling, for error messages: "growing, oom, over-limit, under-sized". */
extern const char gate_classes_accepted[];

/* "growing,oom" (comma-separated, at least one) into a mask of enum gate_class. Errors:
 * -EINVAL for an empty list or an unknown class; *ret_bad then points at the offending text
 * (within list, length *ret_badlen). */
int gate_parse(const char *list, unsigned *ret_mask, const char **ret_bad, size_t *ret_badlen);

/* The classes that fire for analyses a[0..n) (any one firing counts), the sizing s (NULL:
 * under-sized from the limit comparison is not judged) and the verify result v (NULL: none). */
unsigned gate_findings(const struct analysis *const *a, size_t n, const struct sizing *s,
		       const struct verify_result *v);

/* The exit status for the fired classes that were asked for (fired & wanted), 0 when none. */
int gate_exit_code(unsigned fired, unsigned wanted);

/* "growing", "oom", "over-limit", "under-sized" for one class bit; NULL otherwise. */
const char *gate_class_name(unsigned cls);

#endif
