/* live: the one-line live view on a terminal (elapsed, RSS, heap, peak, limit %, sparkline). */
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
};

void live_init(struct live *l, FILE *out, bool enabled);
void live_update(struct live *l, const struct sample *s, const struct run_info *info);
/* Erase the line so the summary starts on a clean line. */
void live_clear(struct live *l);

#endif
