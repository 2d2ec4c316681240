/* breakdown: RSS split into parts that add up to it — one definition for every view (the report's
 * breakdown line, explain's rooms and shelves, the HTML building, --json "breakdown").
 *
 * From a sample that has the smaps figures (map_*): the live heap and the allocator-held memory
 * are carved out of private anonymous memory (each at most what is there: a live block never
 * touched is not resident), stacks, code, mapped files and shared memory come from smaps, and
 * "other" is the rest of anonymous memory plus [vdso] and the like. The parts add up to `rss`,
 * the smaps total (which can differ from the status RSS of the same instant by a few pages).
 * Allocator-held is the allocator's own figure (heap_held) when it gave one; without it, it is the
 * anonymous memory that is not live heap, and `allocator_estimated` says so (a program that
 * mmaps for itself then shows that memory as allocator-held). Without heap figures, heap and
 * allocator are HR_UNKNOWN and anonymous memory is in other. breakdown_from_status() is the
 * coarse split of /proc/PID/status when no smaps read exists: file-backed pages are all in
 * mapped_files and stacks and code are HR_UNKNOWN. -ENODATA when the sample lacks the figures.
 */
#ifndef HEADROOM_BREAKDOWN_H
#define HEADROOM_BREAKDOWN_H

#include <stdbool.h>
#include <stdint.h>

#include "sample.h"

struct breakdown {
	int64_t rss;
	int64_t heap;             /* live heap */
	int64_t allocator;        /* held by the allocator, not handed out */
	bool allocator_estimated; /* anonymous memory not live: the allocator gave no figure */
	int64_t stacks, code, mapped_files, shmem, other;
};
/* Every part HR_UNKNOWN. */
void breakdown_clear(struct breakdown *b);
int breakdown_from_sample(const struct sample *s, struct breakdown *ret);
int breakdown_from_status(const struct sample *s, struct breakdown *ret);

#endif
