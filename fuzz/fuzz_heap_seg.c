/* fuzz_heap_seg: the heap segment a target process writes into /dev/shm, as the reader validates
 * and sums it (src/collect/heap.c, heap_tree_read: header check, then the figures). The target
 * owns the segment and may write anything into it at any time.
 *
 * Input: one flag byte, then the segment's bytes (zero-padded or cut to sizeof(struct heap_seg)).
 * Flag bit 0 makes the header valid for this process (magic, version, size, pid, slot count)
 * so that mutations reach the figures behind it; bit 1 picks count mode over
 * stats mode there; bits 2-3 read it 1-4 times (three bad reads in a row mark it corrupt).
 * Kept small on purpose: when the segment layout changes (shim/heap_seg.h), only the header
 * fix-up below follows it. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heap.h"
#include "heap_seg.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s\n", #cond); abort(); } } while (0)

/* per process: heap_cleanup() removes every segment of a run id, so two fuzzers running at
 * once (a CTest run beside a long one) must not share one */
static char run_id[32];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	data++, size--;
	struct heap_seg *seg = calloc(1, sizeof(*seg));
	if (!seg)
		return 0;
	memcpy(seg, data, size < sizeof(*seg) ? size : sizeof(*seg));
	pid_t pid = getpid();
	if (!run_id[0])
		snprintf(run_id, sizeof(run_id), "fuzzseg%d", (int)pid);
	if (flags & 1) {
		seg->magic = HEAP_SEG_MAGIC;
		seg->version = HEAP_SEG_VERSION;
		seg->size = sizeof(struct heap_seg);
		seg->pid = pid;
		seg->nslots = HEAP_SEG_SLOTS;
		seg->hiwater %= HEAP_SEG_SLOTS + 1;
		seg->mode = flags & 2 ? HEAP_SEG_COUNT : HEAP_SEG_STATS;

	}
	/* the segment as the shim makes it: a sealed memfd of this process, found by the reader
	 * through /proc/self/fd; open while it is read */
	char name[96];
	snprintf(name, sizeof(name), HEAP_SEG_NAME "%s-%d", run_id, (int)pid);
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		perror("memfd_create");
		abort();
	}
	CHECK(fchmod(fd, 0600) == 0);
	CHECK(write(fd, seg, sizeof(*seg)) == (ssize_t)sizeof(*seg));
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0);

	struct heap_totals t;
	int reads = ((flags >> 2) & 3) + 1;
	for (int i = 0; i < reads; i++) {
		int rc = heap_tree_read(run_id, &pid, 1, &t);
		CHECK(t.nsegments + t.nmissing <= 1 && strlen(t.reason) < sizeof(t.reason));
		if (rc == 0) {
			CHECK(t.nsegments == 1);
			CHECK(t.live >= -1 && t.held >= -1);
		}
	}
	heap_cleanup(run_id);
	close(fd);
	free(seg);
	return 0;
}
