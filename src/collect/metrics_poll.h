/* metrics_poll: the heap of a service read from its own Prometheus endpoint (`run --metrics URL`,
 * `attach --metrics URL`), for runtimes the heap shim cannot see (Go, an allocator compiled into
 * the binary).
 *
 * A thread GETs the URL (loopback only, load_config_parse_url's rules) once per
 * METRICS_POLL_INTERVAL_NS with HTTP/1.0, a METRICS_TIMEOUT_NS deadline and a body of at most
 * METRICS_BODY_MAX, parses it (metrics.h) and maps the known series to a live and a held heap:
 * the Go client library (go_memstats_heap_alloc_bytes; held = heap_idle - heap_released), jemalloc
 * as Rust services export it (allocated; held = resident - allocated), a JVM's heap pools
 * (the hotspot collector's or Micrometer's area="heap" used; held = committed - used), or the
 * names given with --heap-metric. The sampler's hook copies the latest answer into a sample
 * with the instant it was read. A failure (refused, slow, non-200, garbage, too big, no known series) is a note once per
 * kind, never an error: the recording goes on. The thread never logs; the CLI asks for notes.
 * metrics_poll_read(), metrics_poll_note() and metrics_poll_status() are for one thread (the
 * runner's); the poll thread shares only the latest answer, under a mutex.
 */
#ifndef HEADROOM_METRICS_POLL_H
#define HEADROOM_METRICS_POLL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "sample.h"

#define METRICS_POLL_INTERVAL_NS 1000000000LL  /* the "once per second" */
/* A Go service answers /metrics in well under 10 ms; past this the endpoint is "slow" and that
 * poll is skipped, so one poll never overlaps the next. */
#define METRICS_TIMEOUT_NS 800000000LL
#define METRICS_BODY_MAX (4 << 20)        /* client_golang's page is ~10-100 KiB; JVMs' a few 100 KiB */
#define METRICS_HEADER_MAX (64 << 10)     /* status line and headers */
#define METRICS_STALE_NS 5000000000LL     /* an answer older than this is not put into samples */
#define METRICS_NAME_LEN 257              /* METRICS_NAME_MAX + 1 */
/* A refused connection before the first answer is the service still starting (a Go service
 * listens within milliseconds, a JVM within seconds): said only once it lasts this long. */
#define METRICS_START_GRACE_NS 3000000000LL

enum metrics_fail {
	MF_URL = 1 << 0, MF_CONNECT = 1 << 1, MF_TIMEOUT = 1 << 2, MF_STATUS = 1 << 3, MF_HTTP = 1 << 4,
	MF_TOO_BIG = 1 << 5, MF_GARBAGE = 1 << 6, MF_NO_SERIES = 1 << 7, MF_RANGE = 1 << 8,
};

struct metrics_poll {
	/* set by metrics_poll_start, read-only after */
	char url[1024];
	char live_name[METRICS_NAME_LEN];    /* --heap-metric live=NAME, "" for the known runtimes */
	char held_name[METRICS_NAME_LEN];    /* --heap-metric held=NAME, "" */
	void *target;                        /* struct load_config: the address and the path */
	char *buf;                           /* METRICS_HEADER_MAX + METRICS_BODY_MAX + 1 */
	pthread_t thread;
	bool started;
	int stop_pipe[2];
	int64_t start_ns;
	int refused_in_row;                   /* the poll thread's own: connections refused in a row */
	int reset_in_row;                     /* and connections reset while reading, since the last answer */
	/* shared with the thread, under mu */
	pthread_mutex_t mu;
	int64_t live, held, next_gc, gc_count;   /* HR_UNKNOWN where the page does not say */
	int64_t active, resident, retained, metadata;   /* jemalloc's, HR_UNKNOWN likewise */
	int64_t taken_ns;                     /* CLOCK_MONOTONIC when the answer was read; 0 none yet */
	const char *source;                   /* "go runtime", "jemalloc", "jvm", "--heap-metric" */
	unsigned failed;                      /* enum metrics_fail kinds seen */
	char fail_text[10][200];              /* the first of each kind, by bit index */
	int64_t answers, polls;
	/* the runner's thread only */
	unsigned noted;
	bool noted_available;
	int64_t origin_ns;
	char status[256];                     /* run_info.heap_status */
};

/* Zeroes m: nothing started, no names. */
void metrics_poll_init(struct metrics_poll *m);
/* "live=NAME" or "held=NAME" (--heap-metric) after init, before start: -EINVAL bad form or name. */
int metrics_poll_set_name(struct metrics_poll *m, const char *spec);
/* Checks the URL only: -EINVAL not http://HOST[:PORT]/PATH, -EPROTONOSUPPORT another scheme,
 * -EADDRNOTAVAIL not loopback, -ENOENT localhost did not resolve. */
int metrics_poll_check_url(const char *url);
/* Checks the URL (as above), then starts the thread (-ENOMEM, -errno). */
int metrics_poll_start(struct metrics_poll *m, const char *url);
/* The sampler's read_heap hook body: heap_live/heap_held/heap_t_ns (and jemalloc's alloc_*) from
 * the latest answer not older than METRICS_STALE_NS (other heap fields HR_UNKNOWN); leaves s alone without one.
 * Updates status. */
void metrics_poll_read(struct metrics_poll *m, struct sample *s);
/* A new one-line note (the first answer, or a kind of failure not said yet), else NULL. */
const char *metrics_poll_note(struct metrics_poll *m, char *buf, size_t len);
/* Stops and joins the thread, frees; safe on a poll never started. Keeps status. */
void metrics_poll_stop(struct metrics_poll *m);

#endif
