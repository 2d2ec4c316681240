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
 * Plain data (and one inline accessor): both sides include it. Bump HEAP_SEG_VERSION on any change.
 */
#ifndef HEADROOM_HEAP_SEG_H
#define HEADROOM_HEAP_SEG_H

#include <stdint.h>

#define HEAP_SEG_MAGIC 0x70616568726468ULL   /* "hdrheap" little-endian */
#define HEAP_SEG_VERSION 3
#define HEAP_SEG_NAME "headroom-heap-"   /* memfd name: HEAP_SEG_NAME "<run>-<pid>" */
#define HEAP_SEG_FD_MIN 300                  /* the shim's fd goes above the program's usual ones */
#define HEAP_SEG_SLOTS 256                   /* threads with a private slot; more share `retired` */
#define HEAP_PEAK_STEP (256 * 1024)          /* a thread rechecks the process peak after this growth */

/* Environment read by the shim */
#define HEAP_ENV_RUN "HEADROOM_HEAP_RUN"     /* run id: [A-Za-z0-9]{1,32} */
#define HEAP_ENV_MODE "HEADROOM_HEAP_MODE"   /* "stats" (default), "count" or "sites" */
#define HEAP_ENV_INTERVAL "HEADROOM_HEAP_INTERVAL" /* sites mode: mean sampling interval, bytes */

enum heap_seg_mode { HEAP_SEG_STATS = 1, HEAP_SEG_COUNT = 2, HEAP_SEG_SITES = 3 };

/* sites mode: allocations sampled by bytes (Poisson, mean interval R), the stack of each sampled
 * one deduplicated into a site. The interval is validated by headroom; the shim clamps anyway. */
#define HEAP_SITE_INTERVAL_DEFAULT (512 * 1024)
#define HEAP_SITE_INTERVAL_MIN 4096
#define HEAP_SITE_INTERVAL_MAX (1LL << 30)
#define HEAP_SITES_MAX 2048        /* site 0 is "other": table or frame pool full, stack not walkable */
#define HEAP_SITE_FRAMES 64        /* frames kept per stack (the innermost ones) */
#define HEAP_SITE_POOL 32768       /* frames of all sites together */
#define HEAP_SITE_OBJ_ONE 1024     /* objects estimates are fixed point: 1024 = one object */
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

/* One deduplicated stack. Claimed by a CAS of `hash` from 0; `state` goes to 2 (release) once
 * its frames are written; the counts are atomics, moved only at a sampled allocation or at the
 * free of a sampled block. All counts are unbiased estimates (a block of s bytes sampled with
 * probability p = 1 - exp(-s/R) counts s/p bytes and 1/p objects). */
struct heap_seg_site {
	uint64_t hash;           /* of the frames; 0: free */
	uint32_t state;          /* 0 free, 1 being written, 2 ready */
	uint32_t nframes;        /* <= HEAP_SITE_FRAMES */
	uint32_t first;          /* frames are pool[first, first + nframes) */
	uint32_t pad0;
	int64_t live_bytes;
	int64_t live_objects;    /* HEAP_SITE_OBJ_ONE units */
	int64_t alloc_bytes;     /* cumulative */
	int64_t alloc_objects;   /* cumulative, HEAP_SITE_OBJ_ONE units */
	uint64_t pad1;
} __attribute__((aligned(64)));

/* The sites area, after struct heap_seg, only in a sites-mode segment (its header's size says). */
struct heap_seg_sites {
	uint64_t interval;       /* R, bytes */
	uint32_t hiwater;        /* sites [0, hiwater) may have been claimed */
	uint32_t pool_used;      /* frames handed out (may pass HEAP_SITE_POOL: those sites have none) */
	uint64_t samples;        /* sampled allocations */
	uint64_t unwalkable;     /* of them, without a frame outside the shim */
	uint64_t other;          /* of them, counted into site 0 (table or pool full) */
	uint64_t untracked;      /* sampled blocks the live table had no room for (their free is not seen) */
	uint64_t pad[2];
	struct heap_seg_site sites[HEAP_SITES_MAX];
	uint64_t pool[HEAP_SITE_POOL];
};

struct heap_seg {
	/* line 0: written at init, read-mostly */
	uint64_t magic;
	uint32_t version;
	uint32_t size;           /* sizeof(struct heap_seg), + sizeof(struct heap_seg_sites) in sites mode */
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

#define HEAP_SEG_SIZE_SITES (sizeof(struct heap_seg) + sizeof(struct heap_seg_sites))
static inline struct heap_seg_sites *heap_seg_sites_of(struct heap_seg *s)
{
	return (struct heap_seg_sites *)(s + 1);
}

#endif
