/* gotrace: the heap of a Go program from its runtime's own reports, without changing the program
 * (`headroom run` on a Go binary; docs/heap.md).
 *
 * gotrace_prepare() turns on GODEBUG=gctrace=1,scavtrace=1 in headroom's environment for the
 * command to inherit (merged with the user's GODEBUG; put back by gotrace_env_restore() after
 * the fork), and makes the command's stderr a pipe — or a pty when headroom's stderr is a
 * terminal, so the program still sees one — read by a relay thread. With a pty, a resize of
 * headroom's terminal (SIGWINCH, taken by a signalfd: gotrace_prepare blocks it in the calling
 * thread, before any other thread exists) is passed on: the relay gives the pty the terminal's new
 * size and sends the command SIGWINCH after it, so the size it then reads is the new one. When headroom's stdout is
 * the same open file as its stderr (`2>&1`, one terminal), the command's stdout is that pipe/pty
 * too, so the order of the two streams is kept exactly. The relay passes every byte to headroom's
 * stderr at once except the runtime's own whole lines (gctrace.h), which it parses and drops;
 * lines of a trace the user turned on themselves are parsed and kept. A write that fails
 * (EPIPE: the reader of headroom's stderr is gone) closes the relay's end, so the program sees
 * what it would have seen.
 * gotrace_read() is the sampler's heap hook: the last cycle's live heap and goal in the row that
 * first sees it, the cycle count in every row (sample.h).
 * Not thread-safe but for the relay thread, which shares only the figures, under a mutex.
 */
#ifndef HEADROOM_GOTRACE_H
#define HEADROOM_GOTRACE_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>
#include <stdint.h>

#include "gctrace.h"
#include "sample.h"

#define GOTRACE_GODEBUG_MAX 4096    /* a longer GODEBUG is left alone (and no trace is asked for) */

struct gotrace {
	bool active;                   /* prepared: the command gets the fds below */
	int child_out;                 /* the fd to put on the command's stdout, -1: its own */
	int child_err;                 /* the fd to put on the command's stderr */
	int relay_fd;                  /* the relay's end (pipe read end or pty master) */
	int dest_fd;                   /* where the program's bytes go: headroom's 2 */
	bool pty;
	int stop_pipe[2];
	pthread_t thread;
	bool started;
	struct gctrace_filter filter;  /* the relay thread's */
	int64_t hold_since_ns;
	int winch_fd;                  /* signalfd for SIGWINCH (pty only), -1 none */
	bool winch_was_blocked;        /* SIGWINCH was blocked before prepare: leave it so */
	bool has_child_mask;
	sigset_t child_mask;           /* the signal mask the command starts with: the one before prepare */
	pid_t child_pid;               /* the command, for SIGWINCH */
	/* the environment before */
	bool had_godebug;
	char old_godebug[GOTRACE_GODEBUG_MAX];
	bool env_set;
	/* shared with the relay thread, under mu */
	pthread_mutex_t mu;
	int64_t cycles;                /* the target's last cycle number, 0: none yet */
	int64_t live, goal, live_max;  /* of the last cycle; live_max: the highest since the last read */
	int64_t goal_base;             /* the live heap of the cycle before the last (its goal's base), -1 */
	int64_t gc_at_ns;              /* CLOCK_MONOTONIC when its line was read */
	int64_t released, scav_at_ns;  /* the last scavenger line */
	int64_t foreign;               /* runtime lines of a cycle out of order (another Go process) */
	/* the sampler's */
	int64_t seen_cycles, seen_scav_ns, origin_ns;
	char status[256];              /* run_info.heap_status */
};

/* Sets GODEBUG and makes the fds; g->active tells whether it did. A failure (no fds, a GODEBUG
 * too long, headroom's stderr closed) leaves g inactive with status saying why: not an error. */
void gotrace_prepare(struct gotrace *g);
/* The GODEBUG value for the command: `user` (may be NULL) with gctrace=1 and scavtrace=1 added
 * unless the user set them to a non-zero value; *strip_gc / *strip_scav say which were added
 * (those lines are headroom's to drop). -E2BIG when it does not fit in len. */
int gotrace_godebug(const char *user, char *out, size_t len, bool *strip_gc, bool *strip_scav);
/* The signal mask the command must start with (runner_options.child_sigmask): the one from before
 * prepare blocked SIGWINCH; NULL when prepare changed nothing. */
const sigset_t *gotrace_child_sigmask(const struct gotrace *g);
/* After the command (pid) started (runner on_start): closes headroom's copies of the command's fds
 * and starts the relay. -errno when the thread could not start (the fds are closed anyway). */
int gotrace_start(struct gotrace *g, pid_t pid);
/* Puts GODEBUG back as it was (after the fork). */
void gotrace_env_restore(struct gotrace *g);
/* The sampler's hook: fills heap_live/heap_goal/heap_live_peak/heap_t_ns in the row that first
 * sees a new cycle, gc_cycles in every row after the first cycle, heap_released after a scavenger
 * line. Updates status. */
void gotrace_read(struct gotrace *g, struct sample *s);
/* After the command ended: the relay takes what is left in the pipe, passes any held bytes and
 * stops; the fds are closed. Safe on a g never prepared. Keeps status and the figures. */
void gotrace_stop(struct gotrace *g);

#endif
