#ifndef HEADROOM_BREAKDOWN_H
#define HEADROOM_BREAKDOWN_H

#include <stdint.h>

#include "sample.h"

/* breakdown: RSS split into parts that add up to it, one definition for every view.
 *
 * From a sample that has the smaps figures (map_*): the live heap and the allocator-held memory
 * are carved out of private anonymous memory (each at most what is there: a live block never
 * touched is not resident), stacks, code, mapped files and shared memory come from smaps, and
 * "other" is the rest of anonymous memory plus [vdso] and the like. The parts add up to `rss`,
 * the smaps total (which can differ from the status RSS of the same instant by a few pages).
 * Without heap figures, heap and allocator are HR_UNKNOWN and anonymous memory is in other.
 * -ENODATA when the sample has no smaps figures. */
struct breakdown {
	int64_t rss;
	int64_t heap;             /* live heap */
	int64_t allocator;        /* held by the allocator, not handed out */
	int64_t stacks, code, mapped_files, shmem, other;
};
int breakdown_from_sample(const struct sample *s, struct breakdown *ret);

#endif
