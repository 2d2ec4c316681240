/* verify: proves a sizing by replaying the command under a memory limit with `headroom run`
 * (the same binary, through its command-line contract) and reading what the new recording says:
 * OOM-killed or not, how many times the limit was hit, the peak it reached.
 *
 * The replay drives the same load the recording had: `headroom run --load` stores its load as
 * run options in "load_replay" events (stages written out, URL, paths, rate, cooldown), and
 * verify_load_args() reads them back. The recording is hostile input: only those five options are
 * accepted, and `headroom run` validates their values again (loopback targets only).
 *
 * Spawns `SELF run --limit BYTES --interval 50ms --record PATH --quiet [LOAD ARGS] -- COMMAND...`
 * with its stdout sent to /dev/null (stderr passes through: run's own failures stay visible),
 * waits for it and opens the recording. Never prints. Errors: -errno of fork/exec/wait,
 * record_open()'s.
 */
#ifndef HEADROOM_VERIFY_H
#define HEADROOM_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

struct verify_result {
	int64_t limit_bytes;
	int exit_status;        /* run's exit status: the command's, 128+signal when killed */
	bool oom_killed;
	int64_t limit_hits;     /* HR_UNKNOWN when the recording has no cgroup figures */
	int64_t peak_bytes;     /* the basis peak reached under the limit */
	int64_t duration_ns;
};

#define VERIFY_LOAD_ARGS_MAX 160   /* 2 per option: --load, --load-url, --rate, --cooldown, 64 --path */

struct recording;

/* The load options recorded in rec, as a NULL-terminated argv in *ret_args (one allocation:
 * free(*ret_args)). 0 with *ret_args set; -ENOENT when the recording had no load (or an older
 * headroom wrote it); -EPROTO when the events are malformed or name another option; -ENOMEM. */
int verify_load_args(const struct recording *rec, char ***ret_args);

/* self: path of the headroom binary; command: NULL-terminated argv; load_args: NULL-terminated
 * run options for the load (verify_load_args), or NULL to run the command alone; record_path
 * must not exist. */
int verify_run(const char *self, int64_t limit_bytes, char *const *command, char *const *load_args,
	       const char *record_path, struct verify_result *ret);

#endif
