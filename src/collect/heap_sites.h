/* heap_sites: from the heap shim's site tables (sites mode) to the recording.
 *
 * About once a second (HEAP_SITES_PERIOD_NS) heap_sites_collect() reads every site of the
 * segments the last heap read mapped (heap_sites_read), keeps those with live bytes or whose
 * cumulative allocations moved since the last collection, the HEAP_SITES_ROWS_MAX largest by
 * live bytes, and pushes one heap_site_samples row for each. A site pushed for the first time
 * gets its recording id (1..N, per process and stack) and its heap_sites/heap_site_frames rows:
 * each return address turned into the mapped file (/proc/PID/maps), that file's GNU build-id and
 * the address in the ELF's own virtual addresses (its program headers), what addr2line and the
 * symboliser take. /proc and the ELF files are hostile: reads are bounded, a module that cannot
 * be read keeps its path and loses only the offset. Runs on the sampler's thread; not
 * thread-safe.
 */
#ifndef HEADROOM_HEAP_SITES_H
#define HEADROOM_HEAP_SITES_H

#include <stdint.h>

#include "record.h"

#define HEAP_SITES_PERIOD_NS 1000000000LL   /* between two collections */
#define HEAP_SITES_ROWS_MAX 200             /* heap_site_samples rows per collection */
#define HEAP_SITES_KNOWN_MAX 65536          /* sites given an id; later ones count into none */

struct heap_sites;

int heap_sites_new(struct heap_sites **ret);
/* Collects when HEAP_SITES_PERIOD_NS passed since the last collection (or force: the end of the
 * run, from the segments the last read left mapped); t_ns is the recording's instant of the heap
 * read just made. Never twice for one t_ns. */
void heap_sites_collect(struct heap_sites *hs, struct record *rec, int64_t t_ns, bool force);
/* The run-level facts (interval, the note: stacks not walkable, tables full, unknown modules)
 * into the recording; call before it is finished. */
void heap_sites_finish(struct heap_sites *hs, struct record *rec);
void heap_sites_free(struct heap_sites *hs);

#endif
