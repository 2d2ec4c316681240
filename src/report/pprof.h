/* pprof: the sampled heap of a recording as a pprof profile (profile.proto, gzip), readable by
 * `go tool pprof` and other pprof viewers.
 *
 * Sample types inuse_space/bytes, inuse_objects/count (the sites' live estimates at the chosen
 * instant), alloc_space/bytes, alloc_objects/count (cumulative from the start to that instant);
 * default inuse_space; period_type space/bytes with the sampling interval as period. The values
 * are the recording's, already unbiased: nothing is scaled here. Each site is one sample whose
 * stack runs from the caller of malloc outwards, with a "pid" label. Frames are named by
 * src/collect/symbols (what the recording holds, else resolved now); a frame without a name is
 * "MODULE+0xOFFSET" so the reader still sees where it was. Mappings, locations, functions and
 * strings are deduplicated. The protobuf encoder is hand-written: varints and length-delimited
 * fields are all profile.proto needs.
 */
#ifndef HEADROOM_PPROF_H
#define HEADROOM_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define PPROF_AT_PEAK INT64_MIN   /* the true peak instant of the analysis */
#define PPROF_AT_END INT64_MAX    /* the last instant with site figures */

struct pprof_info {
	int64_t at_t_ns;              /* the instant of the inuse figures written (HR_UNKNOWN: none) */
	size_t sites;                 /* samples written */
	char note[512];               /* what symbolisation could not name, "" when nothing */
	bool write_failed;            /* the error is writing `out`, not reading the recording */
};

/* Encode a profile (uncompressed protobuf) into a malloc'd buffer. period: the sampling
 * interval in bytes (<= 0: unknown, not written); time_nanos: wall clock of the instant.
 * -ENOMEM. */
int pprof_encode(const struct record_site_row *f, size_t nf, const struct record_site_value *v, size_t nv,
		 int64_t period, int64_t time_nanos, uint8_t **ret, size_t *ret_len);
/* Write the profile of the recording rec (loaded with its sites: record_open) at `at_t_ns` (ns
 * since the start, PPROF_AT_PEAK or PPROF_AT_END) gzip'd to `out`, atomically. a: rec's analysis,
 * whose true peak PPROF_AT_PEAK means (NULL without one: the end), the one the caller's other views
 * render. Frames not yet named are resolved and stored back when the file is writable and its
 * run finished (a run in progress is not written to). Errors: -ENODATA when the recording has no
 * heap sites (recorded without them, or by an older headroom), -ERANGE when the instant is before
 * the first site figure, util_file_write_atomic()'s, record's reading errors, -ENOMEM. */
struct analysis;
int pprof_write(const struct recording *rec, const struct analysis *a, const char *out, int64_t at_t_ns,
		struct pprof_info *info);

#endif
