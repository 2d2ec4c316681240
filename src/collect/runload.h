/* runload: drives the load generator inside `headroom run`, writing what it does into the
 * recording: one load row a second, a `stage` event at each stage, a `load` event at the end.
 *
 * The `load` event's value is the attempts and its detail reads "attempts A errors E error_rate R
 * responses N rps X p99_us P max_error_rate M"; a load above max_error_rate adds a `load_failed`
 * event (value: errors) saying so, for the analysis to turn into a finding.
 *
 * Started when the service is ready (the runner's on_ready), on its own thread so sampling never
 * waits for it; when the stages are done it waits `cooldown_ns` (does memory come back?) and then
 * asks the runner to stop the service. Stopping early (Ctrl-C, the service died) sets the stop
 * flag and joins. Never prints.
 */
#ifndef HEADROOM_RUNLOAD_H
#define HEADROOM_RUNLOAD_H

#include <pthread.h>
#include <stdbool.h>

#include "load.h"
#include "record.h"
#include "runner.h"

struct runload {
	struct load_config cfg;
	int64_t cooldown_ns;
	double max_error_rate;    /* above it (errors / attempts) the load failed; 0 = any error */
	struct record *rec;
	struct runner *runner;
	int64_t t0_ns;
	pthread_t thread;
	bool started;
	bool started_once;        /* the load thread ran (the service became ready) */
	volatile int stop;
	int rc;                   /* load_run's return */
	struct load_result result;
};

/* Ready-made config from the user's spec: a profile name or stages, and a URL. Returns 0 or a
 * negative errno with a one-line explanation in `why`. */
int runload_configure(struct runload *l, const char *spec, const char *url, int connections, char *why,
		      size_t len);
int runload_start(struct runload *l, struct runner *runner, struct record *rec, int64_t t0_ns);
/* The load ran and failed: it could not run, or more than max_error_rate of its attempts were
 * errors. Read after runload_stop(). */
bool runload_failed(const struct runload *l);
/* Stop (if still running) and join. Safe to call when never started. */
void runload_stop(struct runload *l);

#endif
