/* load: the HTTP/1.1 load generator — stages, closed and open loop, latency histogram.
 *
 * Owns driving keep-alive HTTP/1.1 requests at one loopback target over epoll, with many
 * connections per thread and 1..N threads. A run follows a list of stages (duration, connections,
 * optionally a linear ramp from the previous stage), so it always ends: at the end of its last
 * stage, at the request cap, or when *stop becomes non-zero.
 * Closed loop (rate == 0): each connection sends its next request as soon as the previous
 * response is complete. Open loop (rate > 0): each connection sends on a fixed schedule of
 * rate / (largest stage's connections) requests per second, so the total rate follows the stage
 * shape and equals `rate` at the largest stage; latency is measured from the intended send time,
 * so a stalled server shows up in the percentiles (no coordinated omission).
 * Only loopback targets are accepted (127.0.0.0/8, ::1, "localhost"). Every second a struct
 * load_row (src/record.h) goes to on_second (its `requests` are attempts in that second, so its
 * errors never exceed them); stage starts go to on_stage. Callbacks run on the
 * thread that called load_run(). The module never prints.
 */
#ifndef HEADROOM_LOAD_H
#define HEADROOM_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "record.h"

#define LOAD_STAGES_MAX 64
#define LOAD_PATHS_MAX 64
#define LOAD_HEADERS_MAX 32
#define LOAD_ADDRS_MAX 4
#define LOAD_CONN_MAX 100000
#define LOAD_THREADS_MAX 64
#define LOAD_DEFAULT_CONNECTIONS 32
#define LOAD_DEFAULT_TIMEOUT_NS (10LL * 1000000000LL)
#define LOAD_DEFAULT_MAX_REQUESTS 100000000LL

struct load_stage {
	int64_t duration_ns;      /* > 0 */
	int connections;          /* at the end of the stage; >= 0 */
	bool ramp;                /* linear from the previous stage's connections (0 for the first) */
};

enum load_error_kind {
	LOAD_ERR_CONNECT,         /* connect() failed */
	LOAD_ERR_TIMEOUT,         /* no complete response (or connection) within the timeout */
	LOAD_ERR_RESET,           /* reset, or closed before the response was complete */
	LOAD_ERR_4XX,
	LOAD_ERR_5XX,
	LOAD_ERR_PARSE,           /* not a valid HTTP/1.x response */
	LOAD_ERR_OTHER,           /* a response whose status is outside 100..599 (e.g. 999) */
	LOAD_ERR_KINDS,
};

struct load_config {
	/* target: filled by load_config_parse_url() */
	char url[1024];
	char host[256];           /* as written, for the Host header (IPv6 with brackets) */
	int port;
	char path[1024];          /* the URL's path and query, "/" when none */
	struct sockaddr_storage addr[LOAD_ADDRS_MAX];
	socklen_t addrlen[LOAD_ADDRS_MAX];
	int naddr;
	/* shape */
	struct load_stage stages[LOAD_STAGES_MAX];
	int nstages;
	double rate;              /* open loop: requests/s at the largest stage; 0 = closed loop */
	int threads;              /* worker threads; 0 = 1. Never more than the largest stage's connections */
	/* requests; strings are borrowed: they must outlive load_run() */
	const char *method;       /* NULL = "GET" */
	const char *paths[LOAD_PATHS_MAX];   /* used round-robin per connection; none = path above */
	int npaths;
	const char *headers[LOAD_HEADERS_MAX];   /* "Name: value" */
	int nheaders;
	const char *body;         /* sent with a Content-Length */
	size_t body_len;
	/* bounds */
	int64_t timeout_ns;       /* per connect and per request */
	int64_t max_requests;     /* requests sent at most */
	/* stop early with an error when nothing but errors came back in the first second
	 * (a refused port, a server that does not speak HTTP) */
	bool fail_fast;
	int64_t t0_ns;            /* CLOCK_MONOTONIC origin of load_row.t_ns; 0 = the start of the load */
};

struct load_result {
	int64_t duration_ns;
	int64_t sent;
	int64_t requests;         /* complete responses, any status */
	/* requests that got a response or failed (connect, timeout, reset, parse): every error is one
	 * attempt, so errors_total <= attempts always (before, a 404 run could show more errors than
	 * requests because failed connections counted as errors but not as requests) */
	int64_t attempts;
	int64_t status_class[6];  /* [2] = 2xx ... [5] = 5xx, [1] = 1xx final (never), [0] any other status */
	int64_t errors[LOAD_ERR_KINDS];
	int64_t errors_total;
	int64_t unfinished;       /* in flight when the run ended (not errors) */
	int64_t bytes_read;
	int64_t connects;         /* connections opened */
	int max_connections;
	int threads;
	double rps;               /* requests / duration */
	int64_t p50_us, p90_us, p99_us, p999_us, max_us, mean_us;
	bool capped;              /* ended by max_requests */
	bool stopped;             /* ended by *stop */
	bool aborted;             /* ended by fail_fast */
	int first_error;          /* negative errno of the first error, 0 when none */
	int first_error_kind;     /* enum load_error_kind, -1 when none */
};

/* Defaults for every field (GET, 1 thread, 10 s timeout, the request cap). */
void load_config_init(struct load_config *c);
/* http://HOST[:PORT][/PATH]. -EINVAL: not a URL (or a bad port), -EPROTONOSUPPORT: https or
 * another scheme, -EADDRNOTAVAIL: not a loopback address, -ENOENT: localhost did not resolve. */
int load_config_parse_url(struct load_config *c, const char *url);
/* "10s:50,5s:400,30s:~200": DUR:N, comma-separated; ~N ramps linearly from the previous value.
 * -EINVAL (see load_stages_explain), -E2BIG more than max stages, -ERANGE N > LOAD_CONN_MAX. */
int load_stages_parse(const char *spec, struct load_stage *ret, int max, int *ret_n);
/* One line saying why spec does not parse and the accepted form. */
void load_stages_explain(const char *spec, char *buf, size_t len);
extern const char load_stages_form[];
/* Preset shapes scaled by `connections` (<= 0: LOAD_DEFAULT_CONNECTIONS); see docs/load.md.
 * steady, burst, ramp, soak. -EINVAL for another name. */
int load_profile_stages(const char *name, int connections, struct load_stage *ret, int max, int *ret_n);
extern const char *const load_profile_names[];
/* A profile name or a stage spec (what `headroom run --load` takes). */
int load_stages_from_spec(const char *spec, int connections, struct load_stage *ret, int max, int *ret_n);

int64_t load_stages_duration(const struct load_stage *st, int n);
int load_stages_max_connections(const struct load_stage *st, int n);
/* Target connections at t_ns after the start, and the stage index (n when past the end). */
int load_stages_at(const struct load_stage *st, int n, int64_t t_ns, int *ret_stage);

/* Raises RLIMIT_NOFILE's soft limit to the hard one if `connections` need it. -EMFILE when even
 * the hard limit is too low; *ret_limit is then the number of connections it allows. */
int load_check_nofile(int connections, int threads, long *ret_limit);

/* Runs the load. Returns 0 when the run went to its end (errors are counted in *ret, not
 * returned), -EINVAL bad config, -EMFILE (see load_check_nofile), -ECONNREFUSED/-ETIMEDOUT/...
 * when the target does not accept a connection at the start, and with fail_fast -EPROTO when
 * only unparseable responses came back, or the first error's errno. *ret is filled in any case
 * once the run started. */
int load_run(const struct load_config *c, volatile int *stop,
	     void (*on_second)(void *ctx, const struct load_row *row),
	     void (*on_stage)(void *ctx, int index, const struct load_stage *st),
	     void *ctx, struct load_result *ret);

const char *load_error_name(int kind);   /* "connect", "timeout", "reset", "4xx", "5xx", "parse", "other" */
/* errors_total / attempts, 0 when nothing was attempted. */
double load_error_rate(const struct load_result *r);

#endif
