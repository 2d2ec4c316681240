/* fuzz_analysis: the analysis and the reports on recordings that pass record_open()'s checks
 * but hold any shape of data (src/analyze, src/report). fuzz_recording mutates SQLite files, so
 * few of its inputs get past the file format; this target builds the loaded recording directly
 * from the input, so every input is analysed. Values stay inside record_open()'s bounds
 * (times in [0, 2^56] ns, non-decreasing; figures in [-1, 2^53]), with their edges favoured.
 *
 * Input: byte 0 flags (bit 0 finished, 1 limit set, 2 cgroup v2 else v1 or none by bit 3,
 * bit 4 exact peaks); byte 1 interval code; then one record per sample: 1 byte time step code
 * and one byte per analysed column (255 unknown, 250-254 edge values, else n MiB x 4); a
 * sample whose step code is 0xfe is an event instead (kind from the next byte). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "record.h"
#include "report.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s\n", #cond); abort(); } } while (0)

#define T_MAX (INT64_C(1) << 56)       /* record.c RECORD_T_MAX */
#define V_MAX (INT64_C(1) << 53)       /* record.c RECORD_VALUE_MAX */
#define EVENTS_MAX 64

static const int64_t steps[] = {0, 1, 1000, 1000000, 10000000, 100000000, 250000000, 1000000000,
				 15000000000LL, 60000000000LL, 3600000000000LL, T_MAX / 4};
static const char *const kinds[] = {"start", "ready", "exit", "signal", "oom_kill", "limit_hit",
				    "stage", "note", "dropped", "load"};

static int64_t value(uint8_t b)
{
	switch (b) {
	case 255: return HR_UNKNOWN;
	case 254: return V_MAX;
	case 253: return V_MAX - 1;
	case 252: return 0;
	case 251: return 1;
	case 250: return INT64_C(1) << 40;
	default: return (int64_t)b * 4 * 1024 * 1024;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t ncols = 0;
	while (analyze_columns[ncols])
		ncols++;
	struct recording *rec = calloc(1, sizeof(*rec));
	CHECK(rec);
	uint8_t flags = data[0];
	struct run_info *r = &rec->run;
	snprintf(r->mode, sizeof(r->mode), "run");
	snprintf(r->command, sizeof(r->command), "[\"svc\"]");
	snprintf(r->heap_mode, sizeof(r->heap_mode), "count");
	snprintf(r->heap_status, sizeof(r->heap_status), "available: glibc, count mode");
	r->pid = 1;
	r->interval_ns = data[1] == 0 ? HR_UNKNOWN : steps[data[1] % (sizeof(steps) / sizeof(steps[0]))];
	if (r->interval_ns == 0)
		r->interval_ns = 1;
	r->limit_bytes = flags & 2 ? value(data[1]) : HR_UNKNOWN;
	r->cgroup_version = flags & 4 ? 2 : flags & 8 ? 1 : 0;
	r->rss_peaks_exact = r->cg_peaks_exact = flags & 16;
	r->finished = flags & 1;
	r->exit_code = 0;
	data += 2, size -= 2;

	size_t rec_len = 1 + ncols, cap = size / rec_len + 1;
	rec->t_ns = malloc(cap * sizeof(int64_t));
	rec->events = calloc(EVENTS_MAX, sizeof(*rec->events));
	CHECK(rec->t_ns && rec->events);
	rec->ncols = (int)ncols;
	for (size_t c = 0; c < ncols; c++) {
		rec->col[c] = malloc(cap * sizeof(int64_t));
		CHECK(rec->col[c]);
		rec->col_name[c] = analyze_columns[c];
	}
	int64_t t = 0;
	size_t n = 0;
	for (size_t off = 0; off < size;) {
		if (data[off] == 0xfe) {            /* an event at the current time */
			if (off + 2 <= size && rec->nevents < EVENTS_MAX) {
				struct record_event *e = &rec->events[rec->nevents++];
				e->t_ns = t;
				snprintf(e->kind, sizeof(e->kind), "%s", kinds[data[off + 1] % (sizeof(kinds) / sizeof(kinds[0]))]);
				e->value = data[off + 1] >> 4;
				snprintf(e->detail, sizeof(e->detail), "stage %d", data[off + 1] >> 4);
			}
			off += 2;
			continue;
		}
		if (off + rec_len > size)
			break;
		int64_t step = steps[data[off] % (sizeof(steps) / sizeof(steps[0]))];
		if (t > T_MAX - step)
			break;
		t += step;
		rec->t_ns[n] = t;
		for (size_t c = 0; c < ncols; c++)
			rec->col[c][n] = value(data[off + 1 + c]);
		n++;
		off += rec_len;
	}
	rec->nsamples = n;
	r->duration_ns = r->finished ? t : HR_UNKNOWN;

	struct analysis *a = malloc(sizeof(*a));
	CHECK(a);
	int rc = analyze_recording(rec, NULL, a);
	if (rc == 0 || rc == -ENODATA) {   /* -ENODATA: the run's facts are still reported */
		FILE *out = fopen("/dev/null", "w");
		CHECK(out);
		(void)report_print_text(out, rec, a);
		(void)report_print_json(out, rec, a);
		fclose(out);
	}
	free(a);
	recording_free(rec);
	return 0;
}
