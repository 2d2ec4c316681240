/* promsize: memory limits per container from a Prometheus server's history.
 *
 * For each container (each label set) matching a selector, the highest value over a window of
 * the best memory metric present, in this order: headroom_rss_peak_bytes (the exporter's exact
 * peak of every interval), headroom_cgroup_usage_peak_bytes, then cAdvisor's
 * container_memory_working_set_bytes (a sampled figure: spikes between samples are missed).
 * The recommendation is that peak × (1 + headroom), rounded up to a whole Mi. Also counts the
 * points behind each figure and how much of the window they cover, so a short history is flagged.
 * Talks HTTP with libcurl (instant queries of /api/v1/query), parses with json-c. No printing:
 * errors are negative errno values with one line for the user in `why`:
 * -ECONNREFUSED unreachable, -EPROTO not a Prometheus JSON answer, -EINVAL a PromQL error,
 * -ENODATA no series matched.
 */
#ifndef HEADROOM_PROMSIZE_H
#define HEADROOM_PROMSIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct promsize_options {
	const char *url;             /* http://127.0.0.1:9090 (a path prefix is kept) */
	const char *selector;        /* '{namespace="shop"}' or NULL */
	int64_t window_ns;           /* 0: 7 days */
	double headroom;             /* 0.25 for 25 % */
	int64_t timeout_ns;          /* per request; 0: 30 s */
};

struct promsize_row {
	char name[256];              /* namespace/pod/container, else the cgroup, pid or label set */
	char labels[1024];           /* k="v",... as Prometheus returned them, without __name__ */
	const char *source;          /* the metric the peak came from */
	int64_t peak_bytes;
	int64_t points;              /* samples in the window */
	double history_s;            /* from the first sample in the window to the query time */
	int64_t recommended_bytes;   /* peak × (1 + headroom), rounded up to a Mi */
	bool short_history;          /* history_s covers less than 90 % of the window, or < 2 points */
};

struct promsize_result {
	struct promsize_row *rows;
	int nrows;
	int64_t window_ns;
	double headroom;
};

int promsize_run(const struct promsize_options *o, struct promsize_result *ret, char *why, size_t whylen);
void promsize_free(struct promsize_result *r);

/* Parses a /api/v1/query answer; exposed for tests. Calls fn once per series of a vector result
 * with its label set (k="v",... without __name__), a display name and the sample. Returns the
 * series count, -EPROTO (not a Prometheus JSON answer) or -EINVAL (Prometheus reports an error). */
int promsize_parse_vector(const char *body, long http_status,
                          void (*fn)(void *ctx, const char *labels, const char *name, double ts, double value),
                          void *ctx,
                          char *why, size_t whylen);

#endif
