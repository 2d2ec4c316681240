/* explain: the building / rooms in use / empty shelves explanation of one recording, in plain
 * words with this run's own numbers — which part of RSS is which, what is normal (memory kept for
 * reuse after load), what is worth acting on, and the remedy for the allocator underneath.
 *
 * Renders struct analysis only (the breakdown, the heap figures with their instant, the
 * findings): explain, the terminal report, the HTML and --json say the same figures at the same
 * instant. Writes only to the FILE it is given; returns 0 or -EIO.
 */
#ifndef HEADROOM_EXPLAIN_H
#define HEADROOM_EXPLAIN_H

#include <stdio.h>

#include "analyze.h"
#include "record.h"

int explain_print(FILE *f, const struct recording *rec, const struct analysis *a);
/* Opens, analyses and explains `path`; record_open()'s errors, -ENOMEM, -EIO. */
int explain_file(FILE *f, const char *path);

#endif
