/* export: a Prometheus exporter for a process tree, a cgroup, or every container cgroup under a
 * root, with the peak of a sliding window.
 *
 * Under a root, container cgroups are named from the runtime's records (node.h) and labelled
 * namespace/pod/container/uid/container_id/qos; sandboxes are left out; anything it cannot name
 * keeps its cgroup path. By default it writes nothing that other readers share (clear_refs, v1
 * max_usage_in_bytes): peaks are then sampled, plus exact new highs; reset_peaks makes them exact
 * at that cost. Which peaks are exact is exported per target (headroom_*_peak_exact).
 *
 * One sampling thread takes a sample of every target at its own cadence (struct sampler per
 * target; with reset_peaks, VmHWM and the cgroup peak are reset every interval, so each
 * interval's peak is exact however short the spike), keeps the per-interval peaks in a ring per
 * target (no allocation per sample), and renders the exposition text once per interval. Scrapes only copy
 * that text: they never touch /proc or a cgroup, so a scrape cannot slow sampling and sampling
 * cannot make a scrape wait on I/O. Targets that disappear (a removed cgroup) drop their series.
 * The HTTP side is libmicrohttpd in epoll mode with one internal thread (see export.c); answers
 * are gzip-compressed for clients that ask (Prometheus does).
 * Knows nothing of the CLI; errors are negative errno values, with a one-line reason in `why`.
 */
#ifndef HEADROOM_EXPORT_H
#define HEADROOM_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "node.h"
#include "sample.h"

/* The ring of per-interval peaks: --peak-window / --interval may not exceed this. */
#define EXPORT_RING_MAX 600
/* Cardinality bound: targets sampled at most (each is 12 series at most). The kubelet's default is
 * 110 pods a node and few clusters allow more than 250, so 2000 containers leaves room for
 * multi-container pods; beyond it cgroups are counted in headroom_exporter_targets_dropped. */
#define EXPORT_MAX_TARGETS 2000

enum export_mode { EXPORT_PID, EXPORT_CGROUP, EXPORT_CGROUP_ROOT };

struct export_config {
	enum export_mode mode;
	pid_t pid;                   /* EXPORT_PID */
	const char *cgroup;          /* EXPORT_CGROUP: the cgroup; EXPORT_CGROUP_ROOT: the root */
	const char *listen;          /* "127.0.0.1:9464", "[::1]:9464", "0.0.0.0:9464"; NULL: loopback 9464 */
	int64_t interval_ns;         /* sampling cadence; 0: 1 s */
	int64_t peak_window_ns;      /* sliding window of headroom_rss_peak_bytes; 0: 15 s */
	int64_t rescan_ns;           /* EXPORT_CGROUP_ROOT: how often to look for new cgroups; 0: 10 s */
	int64_t timeout_s;           /* idle connection timeout; 0: 10 s */
	const char *proc_root;       /* NULL: "/proc" */
	/* Reset the peaks that other readers share (off by default): write /proc/PID/clear_refs (also
	 * resets the program's own getrusage/VmHWM peak) and cgroup v1 memory.max_usage_in_bytes
	 * (cAdvisor's container_memory_max_usage_bytes). Without it RSS and v1 peaks are sampled,
	 * except intervals in which the unreset high-water mark rose; v2 memory.peak is always reset
	 * through our own open file (6.12+), which no one else sees. */
	bool reset_peaks;
	/* EXPORT_CGROUP_ROOT: where the container runtimes keep their records (names of containers). */
	struct node_runtime_dirs runtimes;
	/* One-line notes about single targets (a container that cannot be named, a pid reused), from
	 * the sampling thread; NULL: none. */
	void (*note)(void *ctx, const char *text);
	void *note_ctx;
	/* Hook for the heap shim reader (src/heap.h): fills the heap_* fields of a sample. When it
	 * is NULL, or leaves heap_live unknown, headroom_heap_live_bytes is not exported. */
	void (*read_heap)(void *ctx, const pid_t *pids, int npids, struct sample *s);
	void *heap_ctx;
};

struct exporter;

/* Checks the configuration, opens the targets (the pid or cgroup must exist; a cgroup root must
 * be a directory), takes a first sample, binds the address and starts serving and sampling.
 * -EINVAL bad listen address or window, -ESRCH no such process, -ENOTDIR not a memory cgroup,
 * -EADDRINUSE and other bind errors; `why` says which. */
int export_start(struct exporter **ret, const struct export_config *cfg, char *why, size_t whylen);
/* The port actually bound (useful with port 0). */
int export_port(const struct exporter *e);
/* Stops the threads, closes every target, frees everything. NULL is fine. */
void export_stop(struct exporter *e);

/* The exposition text of the last sampling pass plus the exporter's own metrics, as a scrape
 * would see it; malloc'd, the caller frees. NULL on ENOMEM. */
char *export_render(struct exporter *e, size_t *ret_len);

/* Every cgroup under `root` (not `root` itself) that has processes of its own, found by walking
 * the tree at most `max_depth` deep. Calls `fn` with each path; returns the count or -errno. */
int export_scan_cgroups(const char *root, int max_depth, void (*fn)(void *ctx, const char *path), void *ctx);

/* Whether an Accept-Encoding header value allows a gzip answer (Prometheus sends "gzip"). */
bool export_accepts_gzip(const char *accept_encoding);

/* Prometheus label value escaping (backslash, double quote, newline), and bytes that are not
 * UTF-8 replaced by U+FFFD so the exposition stays valid UTF-8. Returns the length written, or
 * -ENOSPC when `len` is too small. */
int export_escape_label(const char *in, char *out, size_t len);

#endif
