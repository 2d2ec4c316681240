/* --fail-on and --format markdown for run and attach: judge the recording just written. The
 * decision is gate.c's and the rendering markdown.c's; this only wires them to the command line. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "analyze.h"
#include "cli.h"
#include "gate.h"
#include "markdown.h"
#include "record.h"
#include "size.h"

int cli_fail_on_parse(const char *cmd, const char *text, unsigned *ret_mask)
{
	const char *bad = NULL;
	size_t badlen = 0;
	if (gate_parse(text, ret_mask, &bad, &badlen) < 0)
		return cli_fail(EXIT_USAGE, "%s: --fail-on: unknown class '%.*s' (accepted: %s, comma-separated, e.g. "
				"--fail-on growing,oom)", cmd, (int)badlen, bad ? bad : "", gate_classes_accepted);
	return 0;
}

void cli_gate_say(const char *cmd, unsigned fired, unsigned wanted)
{
	for (unsigned bit = 1; bit <= GATE_UNDER_SIZED; bit <<= 1)
		if (fired & wanted & bit)
			cli_note("%s: --fail-on %s: failed (%s)", cmd, gate_class_name(bit),
				 bit == GATE_GROWING       ? "the steady phase grows: a leak or an unbounded cache"
				 : bit == GATE_OOM         ? "the process was OOM-killed"
				 : bit == GATE_OVER_LIMIT  ? "memory reached the --limit of the run"
							   : "the limit it ran under is below the recommended limit");
}

int cli_gate_recording(FILE *out, const char *cmd, const char *path, const struct analysis *a, int analysed,
		       unsigned wanted, bool markdown, const char *html_link, int *ret_code)
{
	*ret_code = 0;
	if (!a)   /* not read at all */
		return cli_fail(EXIT_FAIL, "cannot read back '%s': %s", path, record_strerror(analysed));
	if (analysed == -ENODATA)
		return cli_fail(EXIT_FAIL, "'%s' has no memory samples: nothing to judge (record for longer than one "
				"interval)", path);
	if (analysed < 0)
		return cli_fail(EXIT_FAIL, "cannot read back '%s': %s", path, record_strerror(analysed));
	const struct analysis *one[1] = {a};
	struct sizing s;
	bool sized = size_recommend(one, 1, NULL, &s) == 0;
	unsigned fired = gate_findings(one, 1, sized ? &s : NULL, NULL);
	struct markdown_gate g = {.wanted = wanted, .fired = fired, .exit_code = gate_exit_code(fired, wanted)};
	int code = 0;
	if (markdown && markdown_print_run(out, path, a, sized ? &s : NULL, html_link, &g) < 0)
		code = cli_fail(EXIT_FAIL, "cannot write the markdown summary");
	cli_gate_say(cmd, fired, wanted);
	*ret_code = g.exit_code;
	return code;
}
