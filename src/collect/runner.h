/* runner: the life of a recording — start or attach to the target, sample it at an interval,
 * write the recording, stop it, and say how it ended.
 *
 * `run`: fork/exec the command in a fresh memory cgroup (with the optional limit), forward
 * SIGINT/SIGTERM/SIGHUP sent to headroom, stop it after --duration (SIGTERM, a grace period,
 * SIGKILL), detect OOM kills, and remove the cgroup on every path. `attach`: follow an existing
 * process tree or cgroup until it ends, a signal, or --duration. The loop is a timerfd and a
 * signalfd in one epoll: no signal handler races, no busy waiting.
 * Reports what the user should hear (a cgroup that could not be made, peaks that are since start)
 * through on_note, once each; never prints itself.
 */
#ifndef HEADROOM_RUNNER_H
#define HEADROOM_RUNNER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "record.h"
#include "sample.h"

struct runner;

struct runner_hooks {
	/* after the recording started and the target exists (t0 = the recording's zero) */
	void (*on_start)(void *ctx, struct runner *r, struct record *rec, int64_t t0_ns, pid_t pid);
	/* after the target became ready (--ready ADDR accepted a connection) */
	void (*on_ready)(void *ctx, struct runner *r, int64_t t_ns);
	void (*on_sample)(void *ctx, const struct sample *s, const struct run_info *info);
	void (*on_note)(void *ctx, const char *message);
	/* before the recording is closed (stop a load thread here) */
	void (*on_stop)(void *ctx, struct runner *r);
	/* the heap shim reader, passed to the sampler */
	void (*read_heap)(void *ctx, const pid_t *pids, int npids, struct sample *s);
	/* in the guard process, after headroom was killed: remove what only the caller knows of
	 * (the heap segments). Must not touch the recording. */
	void (*after_crash)(void *ctx);
	void *ctx;
};

struct runner_options {
	char *const *argv;           /* run: the command */
	pid_t attach_pid;            /* attach --pid */
	const char *attach_cgroup;   /* attach --cgroup */
	int64_t limit_bytes;         /* <= 0: none */
	bool no_cgroup;              /* run without creating a cgroup */
	int64_t interval_ns;
	int64_t duration_ns;         /* <= 0: until the target ends */
	int64_t grace_ns;            /* SIGTERM to SIGKILL; 0: 5 s */
	const char *record_path;
	const char *ready_addr;      /* "HOST:PORT" or ":PORT": ready when it accepts a connection */
	int64_t ready_timeout_ns;    /* 0: 60 s */
	const char *heap_mode;       /* for the run row: "stats", "count" or "off" */
	const char *heap_status;     /* "available" or why not */
	/* run: fds (> 2) to put on the command's stdout and stderr (a relay's pipe or pty), else
	 * (0) the command inherits headroom's; relay_fd: the caller's end of them. The guard process
	 * holds none of the three (it would keep the relay's pipe open). */
	int stdout_fd, stderr_fd, relay_fd;
	/* run: the signal mask the command starts with; NULL: headroom's from before runner_run
	 * (a relay that blocked a signal for itself gives the one from before it did) */
	const sigset_t *child_sigmask;
	struct runner_hooks hooks;
};

struct runner_result {
	int exit_code;               /* the command's status; -1 when killed by a signal */
	int exit_signal;             /* 0 when it exited */
	bool oom_killed;
	bool stopped_by_duration;    /* headroom ended it because --duration elapsed */
	bool stopped_by_request;     /* headroom ended it on runner_request_stop (the load is done) */
	bool stopped_by_user;        /* SIGINT/SIGTERM/SIGHUP reached headroom */
	bool ready_timed_out;
	int64_t duration_ns;
	int64_t samples;
	int64_t oom_kills;
	char record_path[1024];
	struct run_info info;
	/* writing the recording failed (disk full): what is not in the file, for the run's report;
	 * the caller frees it with record_unwritten_free() */
	struct record_unwritten unwritten;
};

/* 0 when the recording was made (whatever the target did), or -errno with `why` filled:
 * -ENOENT command not found (exit 127), -EACCES not executable (126), -ESRCH no such pid,
 * -EEXIST recording exists, -ENOTDIR not a memory cgroup, ... */
/* "HOST:PORT", "[::1]:PORT" or ":PORT" (127.0.0.1) for --ready; -EINVAL when it is not one. */
int runner_parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *sl);
int runner_run(const struct runner_options *opt, struct runner_result *ret, char *why, size_t len);

/* Ask the loop to stop the target gracefully (as --duration does), e.g. when the load is done. */
void runner_request_stop(struct runner *r);

/* Default recording name from the command and the time: "headroom-<cmd>-YYYYmmdd-HHMMSS.db". */
void runner_default_record_path(const char *what, char *buf, size_t len);

#endif
