/* bench_analyze: times the three steps of `headroom report` on one recording — loading the
 * columns the analysis needs (record_open), the analysis itself, and the JSON rendering — and
 * prints them as one line of JSON for bench/analyze-1m.sh.
 *
 *   bench_analyze FILE [REPEAT]
 */
#include <stdio.h>
#include <stdlib.h>

#include "analyze.h"
#include "record.h"
#include "report.h"
#include "util.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_analyze FILE [REPEAT]\n");
		return 2;
	}
	int repeat = argc > 2 ? atoi(argv[2]) : 3;
	double best_open = 1e9, best_an = 1e9, best_json = 1e9;
	size_t n = 0;
	const char *verdict = "";
	FILE *devnull = fopen("/dev/null", "we");
	for (int k = 0; k < repeat; k++) {
		struct recording *rec;
		int64_t t0 = util_now_ns();
		int r = record_open(argv[1], analyze_columns, &rec);
		if (r < 0) {
			fprintf(stderr, "bench_analyze: %s: %s\n", argv[1], record_strerror(r));
			return 1;
		}
		int64_t t1 = util_now_ns();
		struct analysis *a = malloc(sizeof(*a));
		if (!a || analyze_recording(rec, NULL, a) < 0)
			return 1;
		int64_t t2 = util_now_ns();
		report_print_json(devnull, rec, a);
		int64_t t3 = util_now_ns();
		n = rec->nsamples;
		verdict = analyze_verdict_name(a->verdict);
		if ((t1 - t0) / 1e9 < best_open) best_open = (t1 - t0) / 1e9;
		if ((t2 - t1) / 1e9 < best_an) best_an = (t2 - t1) / 1e9;
		if ((t3 - t2) / 1e9 < best_json) best_json = (t3 - t2) / 1e9;
		free(a);
		recording_free(rec);
	}
	fclose(devnull);
	printf("{\"samples\": %zu, \"verdict\": \"%s\", \"open_s\": %.4f, \"analyze_s\": %.4f, \"json_s\": %.4f}\n", n,
	       verdict, best_open, best_an, best_json);
	return 0;
}
