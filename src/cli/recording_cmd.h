/* The part `run` and `attach` share: options, the live line, the end summary. */
#ifndef HEADROOM_CLI_RECORDING_CMD_H
#define HEADROOM_CLI_RECORDING_CMD_H

#include <stdbool.h>

#include "gotrace.h"
#include "heap.h"
#include "heap_sites.h"
#include "metrics_poll.h"
#include "runload.h"
#include "runner.h"

struct recording_cmd {
	struct runner_options ro;
	const char *heap_mode;       /* --heap MODE / --no-heap: "stats" (run's default), "count", "off" */
	struct heap_run heap;        /* the heap shim for this run */
	int64_t heap_interval;       /* --heap-interval, 0: the default */
	struct heap_sites *sites;    /* --heap sites: the site tables' collector */
	const char *metrics_url;     /* --metrics URL: the heap from the service's Prometheus page */
	struct metrics_poll metrics;
	struct gotrace go;           /* a Go program's heap from its runtime's GC reports */
	bool json;
	bool quiet;
	bool markdown;               /* --format markdown: the CI summary instead of the text report */
	unsigned fail_on;            /* --fail-on classes (gate.h), 0 = none */
	const char *html_out;
	const char *out_path;         /* --out: the report goes there, not to stdout */
	/* --load */
	const char *load_spec;
	const char *load_url;
	const char *paths[LOAD_PATHS_MAX];
	int npaths;
	int connections;
	double rate;
	int64_t cooldown_ns;
	double max_error_rate;       /* --max-error-rate as a fraction */
	bool max_error_rate_set;
	struct runload load;
	char ready_from_url[300];   /* --ready derived from --load-url */
};

/* Parses the options of run or attach; returns the index of the first non-option argument, -1
 * after printing a usage error, -2 after printing --help. */
int recording_cmd_parse(struct recording_cmd *c, int argc, char **argv, bool is_run);
/* Runs, prints the summary; returns the process exit code. */
int recording_cmd_execute(struct recording_cmd *c);

#endif
