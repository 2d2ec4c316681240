/* verify: proves a sizing by replaying the command under a memory limit with `headroom run`
 * (the same binary, through its command-line contract) and reading what the new recording says:
 * OOM-killed or not, how many times the limit was hit, the peak it reached.
 *
 * Spawns `SELF run --limit BYTES --interval 50ms --record PATH --quiet -- COMMAND...` with its
 * stdout sent to /dev/null (stderr passes through: run's own failures stay visible), waits for it
 * and opens the recording. Never prints. Errors: -errno of fork/exec/wait, record_open()'s.
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

/* self: path of the headroom binary; command: NULL-terminated argv; record_path must not exist. */
int verify_run(const char *self, int64_t limit_bytes, char *const *command, const char *record_path,
	       struct verify_result *ret);

#endif
