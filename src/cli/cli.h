/* cli: argument parsing and subcommands. Each subcommand lives in src/cli/cmd_<name>.c and is
 * dispatched from the table in main.c. Exit codes: the target's status for run (like time(1)),
 * 2 for usage errors, 1 for headroom's own failures, with one line on stderr saying what failed.
 * Logic worth testing lives in the modules under src/, not here.
 */
#ifndef HEADROOM_CLI_H
#define HEADROOM_CLI_H

#include <stdarg.h>
#include <stdbool.h>

#define EXIT_USAGE 2
#define EXIT_FAIL 1

int cmd_run(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_size(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_export(int argc, char **argv);
/* `headroom size --prometheus URL ...`: argv as for cmd_size (argv[0] = "size"). */
int cmd_size_prometheus(int argc, char **argv);

/* --fail-on CLASS[,CLASS] (gate.h): parse, or a usage error naming the bad class (returns 2). */
int cli_fail_on_parse(const char *cmd, const char *text, unsigned *ret_mask);
/* One "headroom: CMD: --fail-on CLASS: failed (why)" line per class asked for that fired. */
void cli_gate_say(const char *cmd, unsigned fired, unsigned wanted);
/* Judge the analysis a of the recording at path (analysed: analyze_file_with's result; a: NULL
 * when the recording could not be read, used only when analysed is 0), print the markdown summary when asked, say which --fail-on classes
 * fired; *ret_code = the gate's exit status (0 when none fired). Returns 0 or an exit code. */
#include <stdio.h>
struct analysis;
int cli_gate_recording(FILE *out, const char *cmd, const char *path, const struct analysis *a, int analysed,
		       unsigned wanted, bool markdown, const char *html_link,
		       int *ret_code);

/* The subcommand being run ("run"), set by main before dispatch; usage errors name its help. */
extern const char *cli_command;

/* "headroom: <message>" on stderr; returns `code` so callers write `return cli_fail(2, ...)`.
 * A usage error (code EXIT_USAGE) ends with "(see 'headroom CMD --help')". */
/* Names the heap-site frames of a finished recording that has unnamed ones, and stores the names
 * (run at the end of `run --heap sites` and before `report` reads a recording). Quiet. */
void cli_name_sites(const char *file);
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));   /* "headroom: ..." info */

/* Columns of the terminal on fd, 80 when it is not a terminal (or says less than 20). */
int cli_width(int fd);

#endif
