/* metrics: a strict, bounded parser for the Prometheus text exposition format (version 0.0.4),
 * as a service's own /metrics endpoint writes it.
 *
 * Owns reading `name{label="value",...} value [timestamp]` lines, `#` comment lines (HELP, TYPE)
 * and blank lines, and picking the values of a few wanted series out of them. Anything else is
 * refused: the whole text is then garbage (-EBADMSG, with the line), since a half-understood page
 * is worse than none. Never allocates, never logs, keeps nothing of the input; every name, label
 * and number is bounded (METRICS_*_MAX). Labels are always checked; a wanted series may also
 * require one label's value (compared after the format's escapes \\ \" \n are undone), else
 * its labels do not matter. The first matching sample wins, or with `sum` every matching sample
 * is added (a JVM's heap pools). Values are doubles as written (NaN and Inf included); what they
 * mean is the caller's business.
 */
#ifndef HEADROOM_METRICS_H
#define HEADROOM_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#define METRICS_LINE_MAX 65536     /* one line; client_golang's longest are a few hundred bytes */
#define METRICS_NAME_MAX 256       /* a metric or label name */
#define METRICS_NUMBER_MAX 64      /* a value or timestamp as text */

struct metrics_want {
	const char *name;          /* a metric name, without labels */
	const char *label;         /* NULL: any labels; else a sample counts only with this label... */
	const char *label_value;   /* ...equal to this (unescaped) value */
	bool sum;                  /* add every matching sample instead of taking the first */
	double value;              /* the first matching sample's value, or the sum, when found */
	int samples;               /* matching samples seen (at most one counted without sum) */
	bool found;
};

/* Parses text[0..len) and fills the wanted series. Returns 0, -EBADMSG for a line that is not
 * the text format, -EMSGSIZE for a line longer than METRICS_LINE_MAX; *ret_line (may be NULL)
 * then holds the 1-based line. The wanted entries are only written on success. */
int metrics_parse(const char *text, size_t len, struct metrics_want *want, int nwant, int *ret_line);
/* True when name is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*, at most METRICS_NAME_MAX). */
bool metrics_name_valid(const char *name);

#endif
