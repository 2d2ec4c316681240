/* sampler: one sample of a whole process tree (and its cgroup) at a time, with exact interval peaks.
 *
 * Every call of sampler_take() reads each process's status (RSS and VmHWM) and resets VmHWM,
 * and reads the cgroup's usage and peak and resets the peak, so the next sample's peak is the
 * true peak of its own interval, however short the spike. Expensive figures (smaps_rollup,
 * smaps, memory.stat, the process list) are read on slower cadences, chosen so they cost at most
 * about 1 % of the time. No allocation and no disk in sampler_take(): the caller hands the sample
 * to the recorder. Timing (the loop, signals) belongs to the caller.
 */
#ifndef HEADROOM_SAMPLER_H
#define HEADROOM_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "probe.h"
#include "sample.h"

#define SAMPLER_MAX_PROCS 256

struct sampler_config {
	const char *proc_root;       /* "/proc" */
	pid_t root_pid;              /* the tree's root, 0 when following a cgroup only */
	const char *cgroup_path;     /* the memory cgroup to read, NULL for none */
	bool pids_from_cgroup;       /* the tree is the cgroup's members (else /proc scan from root_pid) */
	int64_t interval_ns;
	int64_t rollup_every_ns;     /* 0: default 500 ms */
	int64_t smaps_every_ns;      /* 0: default 1 s (stretched so smaps stays under ~1 % CPU) */
	int64_t tree_every_ns;       /* 0: default 200 ms */
	int64_t cgstat_every_ns;     /* 0: default 100 ms */
	/* Peaks without disturbing anyone (the node exporter's default): never write clear_refs (that
	 * also resets the program's own getrusage peak) and never reset cgroup v1
	 * memory.max_usage_in_bytes (shared with cAdvisor). An interval's peak is then exact only when
	 * the unreset high-water mark rose during it (it is that mark), else the sampled value.
	 * cgroup v2 memory.peak is still reset: on 6.12+ the reset is private to our open file; where
	 * it cannot be (older kernels, a read-only mount), keep_v1_peak treats it like v1's. */
	bool keep_hwm;
	bool keep_v1_peak;
	/* With keep_hwm: read each process's status (VmHWM) only this often and the cheaper statm
	 * (RSS) in between; a new high of VmHWM is still caught, at this cadence. 0: every sample. */
	int64_t hwm_every_ns;
	/* Fills the heap_* fields; optional (the heap shim reader). */
	void (*read_heap)(void *ctx, const pid_t *pids, int npids, struct sample *s);
	void *heap_ctx;
};

enum sampler_warning {
	SAMPLER_WARN_HWM_RESET = 1 << 0,  /* VmHWM could not be reset: RSS peaks are since start */
	SAMPLER_WARN_CG_PEAK = 1 << 1,    /* the cgroup peak could not be reset: since start */
	SAMPLER_WARN_EACCES = 1 << 2,     /* a process of the tree may not be read */
	SAMPLER_WARN_TOO_MANY = 1 << 3,   /* more than SAMPLER_MAX_PROCS processes: the rest not counted */
};

struct sampler {
	struct sampler_config cfg;
	/* grown by doubling up to SAMPLER_MAX_PROCS as the tree grows (only on a tree refresh): a node
	 * exporter holds one sampler per container, mostly of one process, and a fixed array of
	 * 256 handles (74 KiB) each made 500 containers cost 37 MiB */
	struct proc_handle *procs;
	int nprocs, cap_procs;
	struct cgroup_handle cg;
	bool have_cg;
	int64_t next_rollup, next_smaps, next_tree, next_cgstat, next_hwm;
	int64_t inactive_file, active_file, cg_anon, cg_file, cg_shmem, cg_limit, oom_kills, limit_hits;
	unsigned warnings;           /* enum sampler_warning bits seen so far */
	int64_t last_cg_peak;        /* keep_v1_peak: the unreset v1 max_usage at the previous read */
	int64_t samples;
};

/* Opens the root process (-ESRCH: no such process, -EACCES: may not read it) and/or the cgroup
 * (-ENOTDIR: not a memory cgroup), -ENOMEM. */
int sampler_init(struct sampler *s, const struct sampler_config *cfg);
/* One sample at `t_ns` (caller's clock, stored as is). Returns 0, or -ESRCH when no process of
 * the tree is left (the sample still holds the cgroup's figures, if any). */
int sampler_take(struct sampler *s, int64_t t_ns, struct sample *ret);
/* Re-read the process list now (e.g. right after the child was started or a fork). */
void sampler_refresh_tree(struct sampler *s);
void sampler_destroy(struct sampler *s);

#endif
