/* probe: reads /proc/PID/{status,smaps_rollup,smaps} and cgroup v1/v2 memory files into plain structs.
 *
 * Owns every /proc and cgroup read. Hot-path readers (status, cgroup usage/peak) use file
 * descriptors opened once and one bounded pread into a caller's buffer: no allocation, no stdio.
 * smaps is streamed through a fixed buffer. Parsers are separate from readers and take text, so
 * tests feed them captured fixtures; every opener takes a root directory for the same reason.
 * Knows nothing of SQLite, sampling cadence or output. Errors are negative errno values:
 * -ESRCH when the process is gone, -EACCES when it may not be read.
 */
#ifndef HEADROOM_PROBE_H
#define HEADROOM_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sample.h"

struct proc_status {
	int64_t rss, rss_anon, rss_file, rss_shmem, hwm, swap, threads;
};

struct proc_rollup {
	int64_t rss, pss, anonymous, swap;
};

/* RSS of one process split by what the mappings are (see sample.h map_* fields). */
struct smaps_breakdown {
	int64_t anon, stacks, code, files, shmem, other;
	int64_t nmaps;
};

int probe_parse_status(const char *text, struct proc_status *ret);
int probe_parse_rollup(const char *text, struct proc_rollup *ret);

/* Incremental smaps classifier: feed any split of the text, then finish. */
struct smaps_parser {
	struct smaps_breakdown acc;
	int kind;                   /* class of the current mapping */
	uint64_t prev_end;          /* end address of the previous mapping */
	bool prev_guard;            /* the previous mapping was a small inaccessible anonymous one */
	char exe[256];              /* the executable's path: its mappings are code */
	char line[512];             /* a line split across feeds */
	size_t linelen;
};
void probe_smaps_begin(struct smaps_parser *p, const char *exe_path);
void probe_smaps_feed(struct smaps_parser *p, const char *data, size_t len);
void probe_smaps_end(struct smaps_parser *p, struct smaps_breakdown *ret);

/* One process, files kept open. */
struct proc_handle {
	pid_t pid;
	int dirfd;
	int fd_status;
	int fd_rollup;              /* -1 where smaps_rollup does not exist (kernel < 4.14) */
	int fd_clear_refs;          /* -1 where we may not write it: peaks are then since start */
	int fd_statm;               /* opened on first use */
	int64_t last_hwm;           /* VmHWM at the previous read, for samplers that never reset it */
	char exe[256];
};

int probe_proc_open(struct proc_handle *h, const char *proc_root, pid_t pid);
void probe_proc_close(struct proc_handle *h);
int probe_proc_read_status(struct proc_handle *h, struct proc_status *ret);
/* The process's start time (field 22 of /proc/PID/stat, clock ticks since boot): with the pid, the
 * identity of a process, since a pid is reused once its process is gone. -ESRCH when none. */
int probe_proc_start_time(const char *proc_root, pid_t pid, uint64_t *ret);
/* The process's command line (/proc/PID/cmdline) into buf: its arguments NUL-separated, at most
 * len - 1 bytes (a longer one is cut, *cut says so). The process wrote it (it may rewrite its
 * argv with anything): the caller escapes it before a terminal sees it. Returns the byte count
 * (0: a kernel thread or a zombie), -ESRCH when there is no such process. */
ssize_t probe_proc_cmdline(const char *proc_root, pid_t pid, char *buf, size_t len, bool *cut);
/* Same, from a "stat" line; -EINVAL when it is malformed. */
int probe_parse_start_time(const char *stat_text, uint64_t *ret);
/* RSS alone from /proc/PID/statm (resident pages): a fraction of status's cost, for readers that
 * need VmHWM less often than RSS. -ESRCH when the process is gone. */
int probe_proc_read_statm_rss(struct proc_handle *h, int64_t *ret_rss);
int probe_parse_statm_rss(const char *text, int64_t *ret_rss);
/* Reset VmHWM to the current RSS (write 5 to clear_refs); -EPERM when not allowed. */
int probe_proc_reset_hwm(struct proc_handle *h);
int probe_proc_read_rollup(struct proc_handle *h, struct proc_rollup *ret);
/* Streams /proc/PID/smaps through a stack buffer (expensive: ~1 us per mapping). */
int probe_proc_read_smaps(struct proc_handle *h, struct smaps_breakdown *ret);

/* The parent pid in the text of /proc/PID/stat (comm may hold spaces and ')'); -1 when absent. */
pid_t probe_parse_stat_ppid(const char *stat);
/* Children of `root` in `proc_root` (scans every /proc/N/stat: do this at a slow cadence).
 * Writes root first, then its descendants; returns the count or -errno. */
int probe_tree_scan(const char *proc_root, pid_t root, pid_t *ret_pids, int max);

/* ---- cgroups ---- */

struct cgroup_stats {
	int64_t usage, peak, limit, high;
	int64_t inactive_file, active_file, anon, file, shmem;
	int64_t working_set;
	int64_t oom_kills, oom_events, limit_hits;
	double psi_some_avg10, psi_full_avg10;  /* v2 memory.pressure, -1 when absent */
};

/* memory.stat of either version; v1 uses total_* (hierarchical) keys where present. */
int probe_parse_cgroup_stat(const char *text, int version, struct cgroup_stats *ret);
/* v2 memory.events: oom_kill, oom, max. */
int probe_parse_cgroup_events(const char *text, struct cgroup_stats *ret);
/* v1 memory.oom_control: oom_kill N, under_oom. */
int probe_parse_oom_control(const char *text, struct cgroup_stats *ret);
int probe_parse_pressure(const char *text, struct cgroup_stats *ret);
/* "max" -> HR_UNKNOWN; v1's 9223372036854771712 (page-rounded LONG_MAX) -> HR_UNKNOWN. */
int64_t probe_parse_limit(const char *text);

struct cgroup_handle {
	int version;                /* 1 or 2 */
	int dirfd;
	int fd_usage, fd_peak, fd_limit, fd_stat, fd_events, fd_failcnt, fd_pressure, fd_high;
	bool peak_resettable;       /* v1 max_usage_in_bytes, or v2 memory.peak on 6.12+ */
	char path[1024];
};

/* Detects v1 or v2 by the files present; -ENOTDIR / -ENOENT when `path` is no memory cgroup. */
int probe_cgroup_open(struct cgroup_handle *c, const char *path);
void probe_cgroup_close(struct cgroup_handle *c);
/* Cheap figures every interval (usage, peak, limit); with `full`, also stat, events, pressure. */
int probe_cgroup_read(struct cgroup_handle *c, bool full, struct cgroup_stats *ret);
/* Start a new peak window; sets peak_resettable false and returns -errno when the kernel refuses. */
int probe_cgroup_reset_peak(struct cgroup_handle *c);
/* The pids in the cgroup and its descendants. Returns the count or -errno. */
int probe_cgroup_pids(const struct cgroup_handle *c, pid_t *ret_pids, int max);

#endif
