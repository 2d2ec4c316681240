/* opts: each subcommand's options as one const table {name, argument, default, help} that both
 * its parser (getopt_long's table, the error for an unknown option or a missing value) and its
 * --help are made from, so the help can never list an option the parser does not take, and man
 * pages can be checked against it. Prints only what the CLI asks for; no other logic.
 */
#ifndef HEADROOM_CLI_OPTS_H
#define HEADROOM_CLI_OPTS_H

#include <getopt.h>
#include <stdio.h>

#define CLI_OPTS_MAX 48

struct cli_opt {
	const char *name;         /* long name without the dashes */
	const char *arg;          /* the value's placeholder ("SIZE"), NULL for a flag */
	const char *dflt;         /* the default in words, NULL when there is none worth saying */
	const char *help;         /* what it does, with its unit */
	int id;                   /* getopt_long's return value for it (>= 256) */
};

struct cli_help {
	const char *name;         /* "run" */
	const char *synopsis;     /* lines after "usage: headroom ", '\n'-separated */
	const char *summary;      /* one or two sentences */
	const struct cli_opt *opts;   /* ends with {NULL} */
	const char *footer;       /* units, exit status, where the docs are; NULL for none */
};

#define CLI_OPT_HELP 'h'

/* Each subcommand's help, defined in its own file. */
extern const struct cli_help run_help, attach_help, report_help, size_help, compare_help, explain_help,
	load_help, export_help;
/* One line per option, tab-separated: command, --name, argument, default, help ("-" when none).
 * `headroom help --options`: what man pages and completions are checked against. */
void cli_help_table(FILE *f, const struct cli_help *h);

/* getopt_long's table from a cli_opt table, plus --help/-h (CLI_OPT_HELP). -E2BIG when out is too
 * small. */
int cli_opts_getopt(const struct cli_opt *opts, struct option *out, size_t max);
/* The --help text: synopsis, summary, one entry per option with its default, wrapped to `width`. */
void cli_help_print(FILE *f, const struct cli_help *h, int width);
/* For getopt_long's ':' (missing value) and '?' (unknown option) answers, with optstring starting
 * with ':' (after any '+'): prints one line and returns EXIT_USAGE. Never prints optopt as a
 * character (a long option's id is not one: it printed NUL or BEL before). */
int cli_opts_fail(const struct cli_opt *opts, int opt, int argc, char **argv);
/* The option's name for an id, "?" when none. */
const char *cli_opt_name(const struct cli_opt *opts, int id);
/* Copies `text` into buf with control characters and bytes >= 0x7f shown as \xNN, so an argument
 * cannot move the cursor or ring the bell on the user's terminal. Returns buf. */
const char *cli_safe(const char *text, char *buf, size_t len);

#endif
