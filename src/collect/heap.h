/* heap: headroom's side of the heap shim — preparing a child's environment for it, reading the
 * shared-memory segments it writes, telling in advance (and after the fact) why a program
 * cannot be measured, and removing the segments at the end of a run.
 *
 * Each process's segment (a sealed memfd, heap_seg.h) is found by name in /proc/PID/fd, checked
 * (size, seals, mode 0600, owner root/us/the process) before it is mapped, then kept mapped in a
 * small table (HEAP_READER_MAX processes). A read is a few loads, one stat per process (is it
 * still the process's segment?), a futex wake for each request, and one wait of at most
 * HEAP_ANSWER_WAIT_NS for the answers. Every figure read is bounded (a segment may say
 * anything). Not thread-safe: one sampler thread reads. Errors are negative errno values with a
 * one-line reason where one helps; a missing, vanished, refused or corrupt segment is a reason,
 * never a crash.
 * Layout of the segment: shim/heap_seg.h. What the figures mean per allocator: docs/heap.md.
 */
#ifndef HEADROOM_HEAP_H
#define HEADROOM_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sample.h"
#include "heap_seg.h"

#define HEAP_READER_MAX 256              /* processes of one tree mapped at once */
#define HEAP_GRACE_READS 10              /* reads without any segment before "not interposable" */
#define HEAP_GRACE_NS 1000000000LL       /* ... and at least this long after the first read */
#define HEAP_STATS_INTERVAL_NS 100000000LL /* at most this often ask for allocator figures */
#define HEAP_CORRUPT_READS 3             /* consecutive reads of a bad header before "corrupt" */
/* How long a read waits for the answers to the requests it raised: a service thread answers in
 * well under 1 ms on an idle machine (mallinfo2 over a 400 MiB fragmented heap: ~3 ms here), but
 * waits for a core on a loaded one (10 ms was often too short at load 9 on 2 cores); a stopped
 * process never answers, and costs this once per stop (it is asked again, but not waited for). */
/* The fuzz build waits 0 (CMakeLists.txt, HEADROOM_FUZZ): no process answers its segments, and
 * a 20 ms wait an input set the pace of the target (the path with a raised request is the same) */
#ifndef HEAP_ANSWER_WAIT_NS
#define HEAP_ANSWER_WAIT_NS 20000000LL
#endif
#define HEAP_ANSWER_POLL_NS 200000L      /* between looks at the answers */
#define HEAP_RECHECK_NS 500000000LL      /* a segment whose fd the process closed: is it still mapped? */
#define HEAP_BOUND_CHECK (256LL << 20)   /* a figure above this is checked against the address space */
#define HEAP_COUNT_MAX (1LL << 56)       /* no byte or call count beyond this (64 PiB) is believed */

struct heap_totals {
	int nprocs;               /* pids asked about */
	int nsegments;            /* of them, with a valid segment that the program's malloc reaches */
	int nmissing;             /* without one (not exec'd yet, LD_PRELOAD removed, static, ...) */
	int nunanswered;          /* processes that have not answered any request yet */
	int mode;                 /* HEAP_SEG_STATS or HEAP_SEG_COUNT (of the first segment), 0 none */
	int allocator;            /* HEAP_ALLOC_*; -1 when processes use different ones */
	/* bytes, summed over the segments; HR_UNKNOWN where nothing says */
	int64_t live;             /* handed out and not freed: count mode exact, stats mode the allocator's in-use */
	int64_t held;             /* taken from the system by the allocator and not handed out */
	int64_t mmapped;          /* glibc: large blocks mmapped directly (part of live) */
	int64_t allocs, frees;    /* count mode: cumulative */
	int64_t live_blocks;      /* count mode: allocs - frees */
	int64_t live_peak;        /* count mode: highest live total since the previous read (docs/heap.md) */
	int64_t stats_age_ns;     /* age of the oldest answer used, at the end of the read; HR_UNKNOWN none */
	int64_t taken_ns;         /* CLOCK_MONOTONIC (ours) of the oldest figure summed: the request
				   * that the oldest process's last answer answered (count mode's
				   * counters, read directly, are of the read itself); HR_UNKNOWN none */
	int64_t stats[HS_NSTATS]; /* the allocators' own figures, summed (enum heap_stat) */
	char reason[256];         /* why some or all processes are not counted; "" when all are */
};

/* Sets, in the current environment, LD_PRELOAD (the shim first, then any existing entries, so a
 * preloaded jemalloc/mimalloc stays the allocator underneath), HEADROOM_HEAP_RUN and
 * HEADROOM_HEAP_MODE, to be inherited by a child at fork/exec. mode: "stats" or "count".
 * Writes the new run id to run_id_out. Call heap_env_restore() in the parent after the fork.
 * Errors: -EINVAL (mode, len), -ENOENT (no shim at shim_path), -ENOMEM. */
int heap_env_prepare(const char *shim_path, const char *mode, char *run_id_out, size_t len);
/* A sites-mode sampling interval headroom accepts: HEAP_SITE_INTERVAL_MIN..HEAP_SITE_INTERVAL_MAX bytes. */
bool heap_interval_valid(int64_t bytes);
/* Puts LD_PRELOAD and the shim's variables back as they were before heap_env_prepare(). */
void heap_env_restore(void);
/* libheadroom-heap.so next to /proc/self/exe, else in the installed layout relative to it
 * (../lib/<multiarch>/headroom, ../lib/headroom), the configured LIBDIR/headroom,
 * /usr/local/lib/headroom, /usr/lib/headroom; NULL when none exists. Static storage. */
const char *heap_shim_default_path(void);

/* Sums the segments of these pids (a process tree) into *ret, raising the request flag for
 * allocator figures at most every HEAP_STATS_INTERVAL_NS. *ret is always filled (figures
 * HR_UNKNOWN and a reason when nothing could be read). Returns 0 when at least one process was
 * read (ret->reason then names any that were not), -EAGAIN when no segment exists yet (the
 * child has not exec'd), -ENOTSUP when none appeared within the grace period or the program's
 * malloc bypasses the shim (reason says why), -EPROTO when the only segments are corrupt, refused or out of bounds,
 * -EINVAL for a bad run id. A header that is invalid for fewer than HEAP_CORRUPT_READS reads in
 * a row is taken for an exec re-initialising it (the process is left out of that read). */
int heap_tree_read(const char *run_id, const pid_t *pids, int npids, struct heap_totals *ret);
/* Heap figures of a read into the heap_* fields of a sample (HR_UNKNOWN where not measured), with
 * heap_t_ns = taken_ns - origin_ns (origin: CLOCK_MONOTONIC of the sample's t_ns = 0), never
 * later than s->t_ns. s->t_ns must be set. */
void heap_totals_to_sample(const struct heap_totals *t, int64_t origin_ns, struct sample *s);

/* 0 when the program at path can be measured by the shim; -ENOTSUP with a reason when it cannot:
 * static binary (no PT_INTERP), Go program, bundled (statically linked) jemalloc or mimalloc,
 * an executable that defines malloc itself, setuid/setgid or file capabilities (the loader drops
 * LD_PRELOAD). A "#!" script is judged by its interpreter. -ENOENT/-EACCES/-ENOEXEC otherwise. */
int heap_probe_binary(const char *path, char *reason, size_t len);
/* The same, and *ret_go: the program is Go (a .go.buildinfo or .note.go.buildid section, the
 * runtime.buildVersion symbol, or the build-info magic), whose runtime can report its own heap
 * (gotrace.h). A script is judged by its interpreter. */
int heap_probe_binary_go(const char *path, bool *ret_go, char *reason, size_t len);
/* Why a live process has no segment: environment, secure exec, binary, full /dev/shm. */
void heap_diagnose_pid(pid_t pid, char *reason, size_t len);

/* Drops the reader's mappings of this run's segments (the memfds go with their processes). */
void heap_cleanup(const char *run_id);

const char *heap_allocator_name(int allocator);   /* "glibc", "jemalloc", "mimalloc", "unknown", "mixed" */

/* --- a run's heap, for the runner and the sampler ----------------------------------------
 * heap_run_prepare() before the fork (probe the program, set the environment), heap_run_forked()
 * in the parent once the child exists, heap_run_read() as the sampler's read_heap hook (ctx = the
 * struct heap_run), heap_run_note() after each sample for a message to show once, and
 * heap_run_finish() at the end (removes the segments). `status` is what run_info.heap_status
 * stores: "available: <allocator>, <mode> mode", "off", "pending" (no segment yet), or the reason
 * heap is unavailable. */
enum heap_run_state { HEAP_RUN_OFF, HEAP_RUN_PENDING, HEAP_RUN_AVAILABLE, HEAP_RUN_UNAVAILABLE };

struct heap_run {
	char mode[8];             /* "stats", "count", "sites" or "off" */
	int64_t sample_interval;  /* sites mode: the mean sampling interval (bytes), else 0 */
	char run_id[40];
	int state;                /* enum heap_run_state */
	char status[256];
	bool noted;               /* heap_run_note() has reported the current status */
	bool injected;            /* LD_PRELOAD was set for the child */
	bool go;                  /* the program is Go (heap_probe_binary_go), probed before the mode */
	struct heap_totals last;  /* the last read */
	int64_t reads;
	int64_t origin_ns;        /* CLOCK_MONOTONIC of t_ns = 0, estimated from below (0: not yet) */
};

/* mode: "stats", "count" or "off"; exe: the program (argv[0], searched in PATH like execvp;
 * NULL: not probed); shim:
 * NULL for heap_shim_default_path(). Always leaves h usable; returns 0, or -EINVAL for a bad
 * mode. A program the shim cannot measure is not an error: state UNAVAILABLE, status says why,
 * nothing is injected. */
int heap_run_prepare(struct heap_run *h, const char *mode, const char *exe, const char *shim);
/* The same with the sites-mode sampling interval (0: HEAP_SITE_INTERVAL_DEFAULT); -EINVAL when it
 * is outside heap_interval_valid(). */
int heap_run_prepare_interval(struct heap_run *h, const char *mode, int64_t interval, const char *exe,
			      const char *shim);
void heap_run_forked(struct heap_run *h);
void heap_run_read(void *ctx, const pid_t *pids, int npids, struct sample *s);
/* The status once each time it changes to available or unavailable ("heap: available: glibc,
 * count mode", "heap unavailable: ..."); NULL otherwise. */
const char *heap_run_note(struct heap_run *h, char *buf, size_t len);
void heap_run_finish(struct heap_run *h);

/* --- sites mode --------------------------------------------------------------------------
 * One site of one process's segment as the last heap_tree_read left it mapped, every figure
 * bounded (frames within the table, counts within HEAP_COUNT_MAX; live floored at 0). Bytes and
 * objects are the shim's unbiased estimates, objects in whole objects. Site `index` 0 of each
 * segment is "other" (no frames: table or frame pool full, stack not walkable). */
struct heap_site_read {
	pid_t pid;
	uint64_t ino;             /* the segment's inode: a new image (exec) has another */
	uint32_t index;           /* in the process's table */
	uint64_t hash;            /* of the frames, the shim's */
	int nframes;
	uint64_t pc[HEAP_SITE_FRAMES];   /* return addresses, innermost (malloc's caller) first */
	int64_t live_bytes, live_objects, alloc_bytes, alloc_objects;
};
struct heap_sites_info {
	int nsegments;            /* sites-mode segments read */
	int64_t interval;         /* of the first, bytes; 0 none */
	int64_t samples, unwalkable, other, untracked;   /* summed over the segments */
	int refused;              /* segments or sites with figures out of bounds (not passed on) */
};
typedef void (*heap_site_fn)(void *ctx, const struct heap_site_read *site);
/* Calls fn for every ready site of every sites-mode segment the last heap_tree_read() found
 * valid. 0, or -ENOMEM. */
int heap_sites_read(heap_site_fn fn, void *ctx, struct heap_sites_info *info);

#endif
