/* markdown: the `--format markdown` summary for a pull-request comment or a CI job summary
 * (GitHub's $GITHUB_STEP_SUMMARY, GitLab's MR notes): the verdict, a table of the figures, the
 * recommendation, the --fail-on outcome and a link to the HTML report.
 *
 * Renders ONLY from struct analysis, struct sizing, the verify results and the gate's findings
 * (gate.h): it computes no figure. Text that came from the recording (paths, commands) is
 * escaped so it cannot break the table or inject links or HTML. Returns 0, or -EIO when the
 * stream failed.
 */
#ifndef HEADROOM_MARKDOWN_H
#define HEADROOM_MARKDOWN_H

#include <stdio.h>

#include "analyze.h"
#include "size.h"
#include "verify.h"

/* What --fail-on asked for and what fired (gate.h masks); wanted == 0: no gating asked. */
struct markdown_gate {
	unsigned wanted, fired;
	int exit_code;
};

/* One recording (run, report): name is its path or command; s may be NULL (no sizing);
 * html_link may be NULL. */
int markdown_print_run(FILE *out, const char *name, const struct analysis *a, const struct sizing *s,
		       const char *html_link, const struct markdown_gate *g);

/* `headroom size`: paths[i] with a[i], the sizing s, verify results v[0..nv). */
int markdown_print_sizing(FILE *out, const char *const *paths, const struct analysis *const *a, size_t n,
			  const struct sizing *s, const struct verify_result *v, size_t nv, const char *html_link,
			  const struct markdown_gate *g);

#endif
