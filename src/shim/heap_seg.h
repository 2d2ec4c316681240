/* heap_seg: the layout of the shared-memory segment between the heap shim (writer, inside the
 * target) and the heap reader (src/collect/heap.c, inside headroom).
 *
 * One segment per process: a memfd named HEAP_SEG_NAME "<run id>-<pid>", mode 0600, sized once
 * and then sealed (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), so neither side nor anyone else
 * can truncate it under a mapping (a truncated mapping is a SIGBUS in the target's malloc). The
 * shim keeps the fd open (close-on-exec, moved to HEAP_SEG_FD_MIN or above); headroom finds it
 * by name in /proc/PID/fd and opens it there, so no other user can plant one under a
 * predictable path. An exec closes it; the new image makes a new one.
 *
 * Requests: the reader writes a non-zero id into `request` and wakes the futex on it; the shim's
 * service thread (sleeping on that futex) answers with the allocator's own figures,
 * `published` = the id, and puts `request` back to 0. A stopped process cannot answer: its
 * request stays pending and the reader knows how old the last answer is.
 *
 * Cache lines: the header line is read-mostly, `request` is written by the reader a few times a
 * second, the publish area only when the shim answers a request, `peak` only at a peak check
 * (every HEAP_PEAK_STEP bytes of growth of one thread), and each thread slot only by its owner.
 * Nothing on the shim's fast path writes a line another thread writes.
 *
 * Plain data, no functions: both sides include it. Bump HEAP_SEG_VERSION on any change.
 */
#ifndef HEADROOM_HEAP_SEG_H
#define HEADROOM_HEAP_SEG_H

#include <stdint.h>

#define HEAP_SEG_MAGIC 0x70616568726468ULL   /* "hdrheap" little-endian */
#define HEAP_SEG_VERSION 2
#define HEAP_SEG_NAME "headroom-heap-"   /* memfd name: HEAP_SEG_NAME "<run>-<pid>" */
#define HEAP_SEG_FD_MIN 300                  /* the shim's fd goes above the program's usual ones */
#define HEAP_SEG_SLOTS 256                   /* threads with a private slot; more share `retired` */
#define HEAP_PEAK_STEP (256 * 1024)          /* a thread rechecks the process peak after this growth */

/* Environment read by the shim */
#define HEAP_ENV_RUN "HEADROOM_HEAP_RUN"     /* run id: [A-Za-z0-9]{1,32} */
#define HEAP_ENV_MODE "HEADROOM_HEAP_MODE"   /* "stats" (default) or "count" */

enum heap_seg_mode { HEAP_SEG_STATS = 1, HEAP_SEG_COUNT = 2 };
enum heap_seg_allocator { HEAP_ALLOC_UNKNOWN = 0, HEAP_ALLOC_GLIBC = 1, HEAP_ALLOC_JEMALLOC = 2,
			  HEAP_ALLOC_MIMALLOC = 3 };
/* flags */
#define HEAP_SEG_F_BYPASSED 1u   /* malloc resolves to something else than the shim (the program defines it) */

/* Allocator figures, as published on request. Which are meaningful depends on the allocator
 * (docs/heap.md); the rest are 0. */
enum heap_stat {
	HS_GLIBC_ARENA,      /* mallinfo2.arena: non-mmapped bytes taken from the system */
	HS_GLIBC_INUSE,      /* uordblks: in use in arenas (includes tcache and fastbin chunks) */
	HS_GLIBC_FREE,       /* fordblks: free in arenas, top chunk included */
	HS_GLIBC_MMAPPED,    /* hblkhd: blocks mmapped directly */
	HS_GLIBC_TOP,        /* keepcost: the trimmable top of the main arena */
	HS_GLIBC_FREECHUNKS, /* ordblks: number of free chunks (fragmentation) */
	HS_JE_ALLOCATED,     /* stats.allocated */
	HS_JE_ACTIVE,        /* stats.active */
	HS_JE_RESIDENT,      /* stats.resident */
	HS_JE_RETAINED,      /* stats.retained (virtual, not resident) */
	HS_JE_METADATA,      /* stats.metadata */
	HS_JE_MAPPED,        /* stats.mapped */
	HS_MI_COMMIT,        /* mi_process_info current_commit */
	HS_MI_RSS,           /* mi_process_info current_rss */
	HS_MI_PEAK_COMMIT,   /* mi_process_info peak_commit */
	HS_JE_TCACHE,        /* stats.arenas.<all>.tcache_bytes: freed, cached per thread (in allocated) */
	HS_NSTATS = 16
};

struct heap_seg_slot {
	int64_t live_bytes;      /* may be negative: a thread frees what another allocated */
	uint64_t allocs;
	uint64_t frees;
	uint32_t state;          /* 0 free, 1 owned (CAS to claim) */
	uint32_t tid;
	uint64_t pad[4];
} __attribute__((aligned(64)));

struct heap_seg {
	/* line 0: written at init, read-mostly */
	uint64_t magic;
	uint32_t version;
	uint32_t size;           /* sizeof(struct heap_seg) */
	int32_t pid;
	uint32_t mode;           /* enum heap_seg_mode */
	uint32_t allocator;      /* enum heap_seg_allocator */
	uint32_t flags;
	uint32_t generation;     /* +1 on every (re)initialisation: exec, fork */
	uint32_t nslots;
	uint32_t hiwater;        /* slots [0, hiwater) have ever been claimed */
	int32_t fd;              /* the shim's fd of this segment (a hint: the reader checks the inode) */
	int64_t init_ns;         /* CLOCK_MONOTONIC at initialisation */
	uint32_t service;        /* 1: a service thread answers requests; 0: the next malloc/free does */
	uint32_t pad0;
	/* line 1: the reader's request, a futex word: non-zero asks for allocator figures; the shim
	 * answers (published = request) and puts it back to 0. Only the reader makes it non-zero. */
	uint32_t request __attribute__((aligned(64)));
	/* line 2+: the shim's answer */
	uint32_t published __attribute__((aligned(64)));   /* = the request answered */
	uint32_t busy;
	int64_t published_ns;    /* CLOCK_MONOTONIC of the answer (the target's clock: a hint only) */
	uint64_t stats[HS_NSTATS];
	/* its own line: the highest live-bytes total seen at a peak check since the reader took it */
	int64_t peak __attribute__((aligned(64)));
	/* counts of threads that exited, of threads beyond the slots, of the pre-fork parent (atomics) */
	struct heap_seg_slot retired;
	struct heap_seg_slot slots[HEAP_SEG_SLOTS];
};

#endif
