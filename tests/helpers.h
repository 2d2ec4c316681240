/* helpers: what every C test of headroom needs, once — temporary directories removed at exit,
 * float comparison with a tolerance that prints both values, and running a command with a
 * timeout. Header-only (static inline): include it after <cmocka.h>. Recording fixtures built in
 * memory are in synth.h; recordings on disk come from tests/tools/synth_recording.
 */
#ifndef HEADROOM_TEST_HELPERS_H
#define HEADROOM_TEST_HELPERS_H

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* |got - want| <= tol, with both values in the failure message */
#define assert_near(got, want, tol)                                                                  \
	do {                                                                                         \
		double g_ = (double)(got), w_ = (double)(want), t_ = (double)(tol);                  \
		if (!(fabs(g_ - w_) <= t_))                                                          \
			fail_msg("%s = %.9g, want %.9g within %.3g", #got, g_, w_, t_);              \
	} while (0)

/* relative: |got - want| <= frac × |want| */
#define assert_within_frac(got, want, frac) assert_near(got, want, fabs((double)(want)) * (frac))

/* A fresh directory under $TMPDIR (or /tmp), removed with its files by helpers_tmpdir_remove(). */
static inline char *helpers_tmpdir(char *buf, size_t len)
{
	const char *base = getenv("TMPDIR");
	snprintf(buf, len, "%s/headroom-test.XXXXXX", base && base[0] ? base : "/tmp");
	return mkdtemp(buf);
}

static inline void helpers_tmpdir_remove(const char *dir)
{
	if (!dir || strncmp(dir, "/tmp/headroom-test.", 19) != 0)
		return; /* only what helpers_tmpdir() made */
	pid_t p = fork();
	if (p == 0) {
		execlp("rm", "rm", "-rf", "--", dir, (char *)NULL);
		_exit(127);
	}
	if (p > 0)
		waitpid(p, NULL, 0);
}

/* Runs argv with stdout/stderr to /dev/null, killed after timeout_ms. Returns the exit status,
 * 128+signal when killed by one, -ETIMEDOUT when the timeout ended it, -errno when it could not run. */
static inline int helpers_run(char *const argv[], int timeout_ms)
{
	pid_t p = fork();
	if (p < 0)
		return -errno;
	if (p == 0) {
		FILE *n = freopen("/dev/null", "w", stdout);
		(void)n;
		execvp(argv[0], argv);
		_exit(127);
	}
	struct timespec step = {0, 5000000};
	for (int waited = 0;; waited += 5) {
		int st;
		pid_t w = waitpid(p, &st, WNOHANG);
		if (w == p)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (w < 0)
			return -errno;
		if (waited >= timeout_ms) {
			kill(p, SIGKILL);
			waitpid(p, NULL, 0);
			return -ETIMEDOUT;
		}
		nanosleep(&step, NULL);
	}
}

#endif
