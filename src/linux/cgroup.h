/* cgroup: create a memory cgroup for a run (v2 preferred, v1 fallback), set its limit, move the
 * child in, and remove it afterwards — on every path, and sweeping leftovers of a headroom that
 * was killed itself.
 *
 * Reading the cgroup's figures is probe's job (probe_cgroup_*); this module only manages its life.
 * Errors are negative errno values; `why` receives one line for the user when creation fails
 * (not root, no delegation, no memory controller), so the caller can run without a cgroup.
 */
#ifndef HEADROOM_CGROUP_H
#define HEADROOM_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cgroup_run {
	int version;          /* 1 or 2 */
	char path[1024];      /* the directory we created */
	bool created;
	/* v2, when our own cgroup cannot delegate: the parent we made for it (<root>/headroom),
	 * removed with the run's cgroup once no other run uses it; "" when none */
	char parent[1024];
};

/* One line of /proc/self/mountinfo: 0 with its mount point in ret when it is the cgroup2 mount
 * (version 2) or the v1 hierarchy holding the memory controller (version 1), else -ENOENT. */
int cgroup_parse_mountinfo_line(const char *text, int version, char *ret, size_t len);
/* One line of /proc/self/cgroup ("0::/x" for v2, "N:...memory...:/x" for v1): 0 with the path
 * in ret when it is the line of that version's memory controller, else -ENOENT. */
int cgroup_parse_cgroup_line(const char *text, int version, char *ret, size_t len);
/* Where the memory controller lives for this process: version and the directory of our own
 * memory cgroup. -ENOENT when there is no memory controller. */
int cgroup_find_own(int *ret_version, char *ret_dir, size_t len);
/* mkdir headroom-<pid> below our own memory cgroup (v2: enabling +memory for children first).
 * limit_bytes <= 0 means no limit. Removes empty leftovers of dead headroom processes first. */
int cgroup_create(struct cgroup_run *ret, int64_t limit_bytes, char *why, size_t len);
/* Move `pid` (0 = the caller) into the cgroup. Async-signal-safe: callable between fork and exec. */
int cgroup_enter(const struct cgroup_run *cg, pid_t pid);
/* Parse cgroup.procs text strictly: one decimal pid per '\n'-terminated line, 1..CGROUP_PID_MAX.
 * A last line without its '\n' is taken only when `complete` (the file ended there), never when
 * the buffer may have cut it ("12345" read as "123" would name another process). Any other
 * byte makes the whole text invalid (-EPROTO). Returns the number of pids stored (<= max). */
#define CGROUP_PID_MAX 4194304   /* the kernel's PID_MAX_LIMIT on 64-bit */
int cgroup_parse_procs(const char *text, size_t n, bool complete, pid_t *ret_pids, int max);
/* Every pid listed in DIR/cgroup.procs, read whole (in chunks, carrying partial lines). */
int cgroup_read_procs(const char *dir, pid_t *ret_pids, int max);
/* Is `pid` a live headroom (its comm starts with "headroom")? A pid alone is not enough to tell
 * a crashed run's leftovers from a live run's: it may have been reused. */
bool cgroup_headroom_alive(pid_t pid);
/* Kill whatever is left inside, wait for it to empty, rmdir. Idempotent. */
int cgroup_remove(struct cgroup_run *cg);

#endif
