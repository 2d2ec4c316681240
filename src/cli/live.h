/* live: the one-line live view on a terminal (elapsed, RSS, peak, heap, limit %, sparkline).
 * Always one row, narrower than the terminal: a line that wraps cannot be repainted with \r. */
#ifndef HEADROOM_CLI_LIVE_H
#define HEADROOM_CLI_LIVE_H

#include <stdbool.h>
#include <stdio.h>

#include "record.h"
#include "sample.h"

struct live {
	FILE *out;
	bool enabled;
	int64_t last_draw_ns;
	int64_t peak;             /* highest RSS peak so far */
	int64_t bucket_start_ns;
	int64_t bucket_max;
	int64_t spark[32];        /* per-second maxima, oldest first */
	int nspark;
	bool drawn;
	int width;                /* the terminal's columns when the run started */
};

void live_init(struct live *l, FILE *out, bool enabled, int width);
/* The line without control sequences, at most width - 1 columns; returns its columns. */
int live_render(const struct live *l, const struct sample *s, const struct run_info *info, int width, char *buf,
		size_t len);
void live_update(struct live *l, const struct sample *s, const struct run_info *info);
/* Erase the line so the summary starts on a clean line. */
void live_clear(struct live *l);

#endif
