/* report: the terminal and JSON renderings of an analysis, of a sizing and of a comparison.
 *
 * Renders struct analysis (src/analyze) and computes no figure of its own; sentences shared with
 * explain and the HTML come from words.c. Every finding is printed with its evidence in numbers.
 * JSON is one object (json-c) described by docs/schema/report.schema.json (size.schema.json,
 * compare.schema.json); a figure the recording cannot give is null, never zero. Functions return 0 or a negative errno (-EIO when the stream failed, -ENOMEM).
 */
#ifndef HEADROOM_REPORT_H
#define HEADROOM_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "analyze.h"
#include "record.h"
#include "size.h"
#include "verify.h"

/* The end-of-run summary and `headroom report`: analysis + the default recommendation. */
int report_print_text(FILE *out, const struct recording *rec, const struct analysis *a);
int report_print_json(FILE *out, const struct recording *rec, const struct analysis *a);

/* Open `path` (only the columns analysis needs), analyse it and print it (`run` and `report`
 * open the recording once for all their views and call the printers above). Returns
 * record_open()'s errors (see record_strerror), or analyze's. */
int report_file(FILE *out, const char *path, bool json);

/* `headroom size`: the resources: block, the JSON object, or the explained text; with the
 * results of --verify (under the limit, then under 0.9 × the peak) when nverify > 0. */
enum report_size_format { REPORT_SIZE_YAML = 0, REPORT_SIZE_JSON, REPORT_SIZE_TEXT };
int report_print_sizing(FILE *out, const struct sizing *s, const char *const *paths,
			const struct analysis *const *a, enum report_size_format fmt,
			const struct verify_result *verify, size_t nverify);

/* `headroom compare`: two recordings side by side with the differences. */
int report_print_compare(FILE *out, const char *const names[2], const struct recording *const rec[2],
			 const struct analysis *const a[2], bool json);

#endif
