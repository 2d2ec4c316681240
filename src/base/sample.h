/* sample: one row of a recording — every memory figure of the target at one instant.
 *
 * Plain data shared by probe (fills it), sampler (times it), record (stores it) and analyze
 * (reads it back). A figure that was not measured at this instant is HR_UNKNOWN (-1), stored
 * as NULL, never as zero: slow-cadence figures (smaps, smaps_rollup) are unknown in the rows
 * between their reads, cgroup figures are unknown without a cgroup, heap figures without the shim.
 * Sizes are bytes, summed over the whole process tree.
 */
#ifndef HEADROOM_SAMPLE_H
#define HEADROOM_SAMPLE_H

#include <stdint.h>

#define HR_UNKNOWN (-1LL)

struct sample {
	int64_t t_ns;          /* since the recording started (CLOCK_MONOTONIC) */
	int64_t nprocs;        /* processes in the tree */
	int64_t threads;
	/* /proc/PID/status, every interval */
	int64_t rss;           /* VmRSS = RssAnon + RssFile + RssShmem */
	int64_t rss_anon, rss_file, rss_shmem, swap;
	int64_t rss_peak;      /* highest RSS within this interval (VmHWM, reset every interval), else since start */
	/* /proc/PID/smaps_rollup, slower */
	int64_t pss;
	/* /proc/PID/smaps classified, slowest: the parts of RSS */
	int64_t map_anon;      /* [heap] and private anonymous mappings (malloc arenas, mmapped blocks) */
	int64_t map_stacks;    /* [stack] and thread stacks (anonymous mappings above a guard page) */
	int64_t map_code;      /* executable and shared-library files */
	int64_t map_files;     /* other file mappings */
	int64_t map_shmem;     /* shared anonymous, /dev/shm, SysV, memfd */
	int64_t map_other;     /* [vdso], [vvar] and the like */
	/* cgroup, every interval when there is one */
	int64_t cg_usage;      /* v1 usage_in_bytes, v2 memory.current */
	int64_t cg_usage_peak; /* highest usage within the interval where resettable, else since start */
	int64_t cg_limit;      /* HR_UNKNOWN when unlimited */
	int64_t cg_working_set;/* usage - inactive_file, floored at 0 (the kubelet's figure) */
	int64_t cg_inactive_file, cg_active_file, cg_anon, cg_file, cg_shmem;
	int64_t cg_oom_kills;  /* cumulative */
	int64_t cg_limit_hits; /* cumulative: v1 failcnt, v2 events max */
	/* heap shim, when the target calls it */
	int64_t heap_live;     /* bytes handed out and not freed */
	int64_t heap_held;     /* resident in the allocator but not handed out (free arena space, caches) */
	int64_t heap_mmapped;  /* large blocks mmapped directly */
	int64_t heap_allocs;   /* cumulative allocations (count mode) */
	int64_t heap_frees;    /* cumulative frees (count mode) */
	int64_t heap_live_peak;/* highest live bytes within the interval (count mode) */
	int64_t heap_t_ns;     /* the instant (same clock and origin as t_ns) the heap figures above were
				* taken by the target: the oldest process's answer; older than t_ns
				* when a process could not answer (stopped); HR_UNKNOWN without them */
	/* a garbage-collected runtime's own figures (Go's GODEBUG=gctrace=1, scavtrace=1), in the row
	 * of the sample that first saw them; heap_live is then the heap marked live by the last cycle
	 * and heap_t_ns the instant its report was read */
	int64_t heap_goal;     /* the goal of the last cycle: the heap size it was to start at (Go's
				* "MB goal", set from the previous cycle's live heap) */
	int64_t heap_goal_base;/* that previous cycle's live heap, when its report was read too */
	int64_t gc_cycles;     /* cycles completed since the program started (cumulative, every row) */
	int64_t heap_released; /* heap the runtime has returned to the OS, as of its last report */
	/* an allocator's own page-level figures (jemalloc's stats.*, from the service's metrics page),
	 * with heap_live = allocated and heap_t_ns their instant: allocated <= active <= resident */
	int64_t alloc_active;  /* pages of active extents: allocated plus size-class rounding */
	int64_t alloc_resident;/* physically resident pages it maps: active, dirty pages kept for reuse, metadata */
	int64_t alloc_retained;/* virtual mappings kept for reuse, not resident (returned pages end here) */
	int64_t alloc_metadata;/* its own bookkeeping */
};

/* Every int64_t field after t_ns set to HR_UNKNOWN. */
void sample_clear(struct sample *s);

#endif
