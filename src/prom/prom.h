/* prom: a small client of the Prometheus HTTP API (/api/v1/query and /api/v1/query_range), shared
 * by the per-series sizing (export/promsize) and the per-workload sizing (fleet).
 *
 * libcurl is dlopened on first use, so processes that never query (the exporter) do not carry its
 * dependency tree. Every answer is hostile input: bodies are capped (PROM_MAX_BODY), labels are
 * handed out as json-c objects the caller must copy with bounds, values must parse as numbers.
 * No printing: errors are negative errno values with one line for the user in `why`:
 * -ECONNREFUSED unreachable, -ETIMEDOUT slower than the timeout, -EPROTO not a Prometheus JSON
 * answer, -EINVAL a PromQL error (the server's message is kept), -ENOMEM.
 * A "warnings" array in an answer (Prometheus's partial-result signal) is reported through
 * prom_client.warning (the first one) and counted, never ignored.
 */
#ifndef HEADROOM_PROM_H
#define HEADROOM_PROM_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* A week of 5,000 containers at one point per answer series is ~2 MB of JSON; 64 MiB bounds a
 * hostile or runaway server while leaving room for range answers of that fleet. */
#define PROM_MAX_BODY (64 << 20)

struct prom_client {
	void *curl;                  /* CURL *, opaque here so callers need no curl headers */
	char url[512];               /* base URL without trailing slashes */
	int queries;                 /* how many queries were sent (the scale contract counts them) */
	int warnings;                /* answers that carried Prometheus warnings (partial results) */
	char warning[256];           /* the first warning, printable */
	double last_s;               /* wall time of the last query, request to parsed answer */
	char *body;                  /* the last answer, reused between queries */
	size_t len;
};

/* url: http:// or https:// only. timeout_ns per request (0: 30 s). */
int prom_client_open(struct prom_client *c, const char *url, int64_t timeout_ns, char *why, size_t whylen);
void prom_client_close(struct prom_client *c);

/* Called once per sample: the series' labels (an object, includes __name__ when present), the
 * sample time (s) and value. For a vector answer once per series; for a matrix once per point. */
typedef void (*prom_sample_fn)(void *ctx, json_object *metric, double ts, double value);

/* Instant query at `at_s` (unix seconds; <= 0: the server's now). Returns the number of series. */
int prom_query(struct prom_client *c, const char *promql, double at_s, prom_sample_fn fn, void *ctx,
               char *why, size_t whylen);
/* Range query from start_s to end_s at step_s. Returns the number of series. */
int prom_query_range(struct prom_client *c, const char *promql, double start_s, double end_s, double step_s,
                     prom_sample_fn fn, void *ctx, char *why, size_t whylen);

/* Parses an answer body (exposed for tests). want: "vector", "matrix" or NULL for either. */
int prom_parse(const char *body, long http_status, const char *want, prom_sample_fn fn, void *ctx,
               struct prom_client *warn_into, char *why, size_t whylen);

/* Copies label `key` of `metric` into out (printable bytes only, truncated); "" when absent. */
const char *prom_label(json_object *metric, const char *key, char *out, size_t len);

#endif
