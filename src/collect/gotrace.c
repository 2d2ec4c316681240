/* gotrace: a Go program's heap from GODEBUG=gctrace=1,scavtrace=1 (see gotrace.h). */
#include "gotrace.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "util.h"

#define RELAY_BUF 65536
#define RELAY_PIPE_SIZE (1 << 20) /* the default pipe-max-size: what an unprivileged run may ask */
/* at the end, what is left in the pipe is read for at most this long (a process left behind
 * that keeps writing must not hold headroom) */
#define DRAIN_NS 500000000LL

static void set_status(struct gotrace *g, const char *text)
{
	snprintf(g->status, sizeof(g->status), "%s", text);
}

/* true when `key=` is in the comma-separated GODEBUG with a value other than 0 (the runtime
 * reads them in order, the last one wins) */
static bool godebug_on(const char *v, const char *key)
{
	bool on = false;
	size_t kl = strlen(key);
	while (v && *v) {
		size_t n = strcspn(v, ",");
		if (n > kl && strncmp(v, key, kl) == 0 && v[kl] == '=')
			on = !(n == kl + 2 && v[kl + 1] == '0');
		v += n + (v[n] == ',');
	}
	return on;
}

int gotrace_godebug(const char *user, char *out, size_t len, bool *strip_gc, bool *strip_scav)
{
	*strip_gc = !godebug_on(user, "gctrace");
	*strip_scav = !godebug_on(user, "scavtrace");
	int n = snprintf(out, len, "%s%s%s%s%s", user ? user : "", user && *user && (*strip_gc || *strip_scav) ? "," : "",
			 *strip_gc ? "gctrace=1" : "", *strip_gc && *strip_scav ? "," : "", *strip_scav ? "scavtrace=1" : "");
	return n < 0 || (size_t)n >= len ? -E2BIG : 0;
}

/* headroom's stdout and stderr are one open file (`2>&1`, the same terminal): kcmp, else the
 * same file and the same access mode */
static bool same_file(int a, int b)
{
	long r = syscall(SYS_kcmp, (long)getpid(), (long)getpid(), 0 /* KCMP_FILE */, (long)a, (long)b);
	if (r == 0)
		return true;
	if (r > 0)
		return false;
	struct stat sa, sb;
	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino &&
	       sa.st_rdev == sb.st_rdev && (fcntl(a, F_GETFL) & O_ACCMODE) == (fcntl(b, F_GETFL) & O_ACCMODE);
}

/* A pty whose slave is the command's stderr: raw output (no \n -> \r\n: headroom's terminal does
 * that when the bytes reach it), the terminal's size and modes otherwise. */
static int open_pty(struct gotrace *g, int like)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return -errno;
	char name[128];
	int s = -1;
	if (grantpt(m) == 0 && unlockpt(m) == 0 && ptsname_r(m, name, sizeof(name)) == 0)
		s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0) {
		int e = errno ? errno : EIO;
		close(m);
		return -e;
	}
	struct termios t;
	if (tcgetattr(like, &t) == 0 || tcgetattr(s, &t) == 0) {
		t.c_oflag &= ~(tcflag_t)OPOST;
		tcsetattr(s, TCSANOW, &t);
	}
	struct winsize ws;
	if (ioctl(like, TIOCGWINSZ, &ws) == 0)
		ioctl(s, TIOCSWINSZ, &ws);
	g->relay_fd = m;
	g->child_err = s;
	g->pty = true;
	return 0;
}

/* SIGWINCH to a signalfd the relay polls: blocked here, in the only thread there is yet (every
 * later thread inherits the mask, so none takes it and throws it away — its default is to ignore
 * it); the command starts with the mask from before (gotrace_child_sigmask). Without a signalfd
 * everything is put back and a resize is not passed on. */
static void winch_setup(struct gotrace *g)
{
	sigset_t w, old;
	sigemptyset(&w);
	sigaddset(&w, SIGWINCH);
	if (pthread_sigmask(SIG_BLOCK, &w, &old) != 0)
		return;
	g->winch_was_blocked = sigismember(&old, SIGWINCH) == 1;
	g->winch_fd = signalfd(-1, &w, SFD_CLOEXEC | SFD_NONBLOCK);
	if (g->winch_fd < 0) {
		if (!g->winch_was_blocked)
			pthread_sigmask(SIG_UNBLOCK, &w, NULL);
		return;
	}
	g->child_mask = old;
	g->has_child_mask = true;
}

static void winch_teardown(struct gotrace *g)
{
	if (g->winch_fd < 0)
		return;
	close(g->winch_fd);
	g->winch_fd = -1;
	if (!g->winch_was_blocked) {
		sigset_t w;
		sigemptyset(&w);
		sigaddset(&w, SIGWINCH);
		pthread_sigmask(SIG_UNBLOCK, &w, NULL);
	}
}

const sigset_t *gotrace_child_sigmask(const struct gotrace *g)
{
	return g->has_child_mask ? &g->child_mask : NULL;
}

/* The terminal was resized: the pty takes its new size, then the command is told. The kernel's
 * own SIGWINCH reached the command already (it is in headroom's process group, the terminal's
 * foreground) but may have come before the pty's size changed, so it gets one more after it. */
static void winch_forward(struct gotrace *g)
{
	struct signalfd_siginfo si;
	while (read(g->winch_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		/* one size for however many came */
	}
	struct winsize ws;
	if (ioctl(g->dest_fd, TIOCGWINSZ, &ws) == 0 && ioctl(g->relay_fd, TIOCSWINSZ, &ws) == 0 && g->child_pid > 0)
		kill(g->child_pid, SIGWINCH);
}

void gotrace_prepare(struct gotrace *g)
{
	memset(g, 0, sizeof(*g));
	g->child_out = g->child_err = g->relay_fd = g->stop_pipe[0] = g->stop_pipe[1] = g->winch_fd = -1;
	g->dest_fd = STDERR_FILENO;
	pthread_mutex_init(&g->mu, NULL);
	g->goal_base = HR_UNKNOWN;
	set_status(g, "unavailable: the Go runtime's GC trace could not be set up");
	struct stat st;
	if (fstat(STDERR_FILENO, &st) < 0) {
		set_status(g, "unavailable: headroom's stderr is closed, so the Go runtime's GC trace has nowhere to go");
		return;
	}
	const char *user = getenv("GODEBUG");
	if (user && strlen(user) >= GOTRACE_GODEBUG_MAX) {
		set_status(g, "unavailable: GODEBUG is too long to add gctrace=1 to");
		return;
	}
	char val[GOTRACE_GODEBUG_MAX + 64];
	bool strip_gc, strip_scav;
	if (gotrace_godebug(user, val, sizeof(val), &strip_gc, &strip_scav) < 0)
		return;
	int rc = isatty(STDERR_FILENO) ? open_pty(g, STDERR_FILENO) : -ENOTTY;
	if (rc < 0) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			return;
		g->relay_fd = p[0];
		g->child_err = p[1];
		/* A write larger than the room left in a pipe is split, and another thread's write
		 * (the runtime's trace line) can land in the gap: into a line of the program's, where
		 * the filter cannot take it out. Seen once in make test: a 128 KiB line cut at 64 KiB,
		 * the default size. With room for RELAY_PIPE_SIZE a write of up to that much, while
		 * the relay keeps up, goes in whole, as it does to a file. Best effort: the kernel's
		 * limit (pipe-max-size) may refuse it. */
		(void)fcntl(p[1], F_SETPIPE_SZ, RELAY_PIPE_SIZE);
	}
	if (pipe2(g->stop_pipe, O_CLOEXEC) < 0) {
		close(g->relay_fd);
		close(g->child_err);
		g->relay_fd = g->child_err = g->stop_pipe[0] = g->stop_pipe[1] = -1;
		return;
	}
	if (same_file(STDOUT_FILENO, STDERR_FILENO))
		g->child_out = g->child_err;
	g->had_godebug = user != NULL;
	if (user)
		snprintf(g->old_godebug, sizeof(g->old_godebug), "%s", user);
	setenv("GODEBUG", val, 1);
	g->env_set = true;
	gctrace_filter_init(&g->filter, strip_gc, strip_scav);
	if (g->pty)
		winch_setup(g);
	g->active = true;
	set_status(g, "unavailable: the Go program finished no GC cycle (its heap stayed below the first goal, 4 MiB)");
}

void gotrace_env_restore(struct gotrace *g)
{
	if (!g->env_set)
		return;
	if (g->had_godebug)
		setenv("GODEBUG", g->old_godebug, 1);
	else
		unsetenv("GODEBUG");
	g->env_set = false;
}

static void on_line(void *ctx, const struct gctrace_line *l)
{
	struct gotrace *g = ctx;
	int64_t now = util_now_ns();
	pthread_mutex_lock(&g->mu);
	if (l->kind == GCTRACE_GC) {
		/* the target's cycles count up; a line of an earlier number is another Go process's
		 * (a child that inherited GODEBUG and this stderr) */
		if (l->cycle > g->cycles) {
			/* a cycle's goal was set from the cycle before it: known when that line was read */
			g->goal_base = l->cycle == g->cycles + 1 && g->cycles > 0 ? g->live : HR_UNKNOWN;
			g->cycles = l->cycle;
			g->live = l->heap_live;
			g->goal = l->heap_goal;
			if (l->heap_live > g->live_max)
				g->live_max = l->heap_live;
			g->gc_at_ns = now;
		} else {
			g->foreign++;
		}
	} else if (l->kind == GCTRACE_SCAV) {
		g->released = l->released;
		g->scav_at_ns = now;
	}
	pthread_mutex_unlock(&g->mu);
}

/* Every byte, blocking as the program's own write would have; after a failure (the reader is
 * gone), nothing more: the relay's end is closed so the program sees EPIPE too. */
static bool write_all(struct gotrace *g, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(g->dest_fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static void *relay_main(void *arg)
{
	struct gotrace *g = arg;
	/* a write to a closed pipe must fail with EPIPE here, not kill headroom */
	sigset_t pipe_set;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
	char in[RELAY_BUF], out[RELAY_BUF + GCTRACE_LINE_MAX];
	bool stopping = false, ok = true;
	int64_t drain_end = 0;
	for (;;) {
		int timeout = -1;
		int64_t now = util_now_ns();
		if (gctrace_filter_holding(&g->filter)) {
			int64_t left = g->hold_since_ns + GCTRACE_HOLD_NS - now;
			timeout = left > 0 ? (int)(left / 1000000 + 1) : 0;
		}
		if (stopping)
			timeout = 0;
		struct pollfd pf[3] = {{.fd = g->relay_fd, .events = POLLIN}, {.fd = g->stop_pipe[0], .events = POLLIN},
				       {.fd = g->winch_fd, .events = POLLIN}};
		int n = poll(pf, stopping ? 1 : 3, timeout);
		if (n < 0 && errno != EINTR)
			break;
		now = util_now_ns();
		if (!stopping && n > 0 && pf[2].revents) {
			winch_forward(g);
			if (n == 1)
				continue;
		}
		if (!stopping && n > 0 && pf[1].revents) {
			stopping = true;
			drain_end = now + DRAIN_NS;
			fcntl(g->relay_fd, F_SETFL, fcntl(g->relay_fd, F_GETFL) | O_NONBLOCK);
		}
		ssize_t r = 0;
		if (n > 0 && pf[0].revents) {
			r = read(g->relay_fd, in, sizeof(in));
			if (r < 0 && errno == EINTR)
				continue;
			if (r > 0) {
				uint64_t starts = g->filter.hold_starts;
				size_t o = gctrace_filter_feed(&g->filter, in, (size_t)r, (size_t)r == sizeof(in), out, on_line, g);
				if (g->filter.hold_starts != starts)
					g->hold_since_ns = now;
				if (ok && o && !write_all(g, out, o))
					ok = false;
				if (!ok)
					break;
			}
		}
		bool eof = n > 0 && pf[0].revents && r <= 0 && !(r < 0 && errno == EAGAIN);
		bool idle = stopping && (n == 0 || (r < 0 && errno == EAGAIN));
		if (gctrace_filter_holding(&g->filter) && (eof || idle || now - g->hold_since_ns >= GCTRACE_HOLD_NS)) {
			size_t o = gctrace_filter_flush(&g->filter, out);
			if (ok && !write_all(g, out, o))
				ok = false;
		}
		/* EOF (EIO on a pty whose slave is closed), the pipe empty at the end, or a process left
		 * behind that keeps writing */
		if (eof || idle || (stopping && now >= drain_end) || !ok)
			break;
	}
	close(g->relay_fd);
	g->relay_fd = -1;
	return NULL;
}

int gotrace_start(struct gotrace *g, pid_t pid)
{
	if (!g->active)
		return 0;
	g->child_pid = pid;
	/* the command holds its own copies: headroom's would keep the pipe from ever ending */
	if (g->child_out >= 0 && g->child_out != g->child_err)
		close(g->child_out);
	if (g->child_err >= 0)
		close(g->child_err);
	g->child_out = g->child_err = -1;
	int rc = pthread_create(&g->thread, NULL, relay_main, g);
	if (rc != 0) {
		close(g->relay_fd);
		g->relay_fd = -1;
		return -rc;
	}
	g->started = true;
	return 0;
}

void gotrace_read(struct gotrace *g, struct sample *s)
{
	if (!g->active)
		return;
	int64_t now = util_now_ns();
	/* the smallest now - t_ns over the reads is the closest to the recording's origin (as the
	 * shim's reader does: an instant derived from it can only err towards older) */
	int64_t origin = now - s->t_ns;
	if (g->origin_ns == 0 || origin < g->origin_ns)
		g->origin_ns = origin;
	pthread_mutex_lock(&g->mu);
	int64_t cycles = g->cycles, live = g->live, goal = g->goal, live_max = g->live_max, at = g->gc_at_ns;
	int64_t goal_base = g->goal_base;
	int64_t released = g->released, scav_at = g->scav_at_ns;
	g->live_max = 0;
	pthread_mutex_unlock(&g->mu);
	if (cycles > 0)
		s->gc_cycles = cycles;
	if (cycles > g->seen_cycles) {
		g->seen_cycles = cycles;
		s->heap_live = live;
		s->heap_goal = goal;
		s->heap_goal_base = goal_base;
		s->heap_live_peak = live_max > live ? live_max : live;
		int64_t t = at - g->origin_ns;
		s->heap_t_ns = t < s->t_ns ? (t > 0 ? t : 0) : s->t_ns;
		set_status(g, "available: go runtime (GODEBUG=gctrace=1)");
	}
	if (scav_at > g->seen_scav_ns) {
		g->seen_scav_ns = scav_at;
		s->heap_released = released;
	}
}

void gotrace_stop(struct gotrace *g)
{
	if (!g->active)
		return;
	gotrace_env_restore(g);
	if (g->child_out >= 0 && g->child_out != g->child_err)
		close(g->child_out);
	if (g->child_err >= 0)
		close(g->child_err);
	g->child_out = g->child_err = -1;
	if (g->started) {
		if (write(g->stop_pipe[1], "x", 1) < 0) {
			/* the thread then ends at EOF */
		}
		pthread_join(g->thread, NULL);
		g->started = false;
	} else if (g->relay_fd >= 0) {
		close(g->relay_fd);
		g->relay_fd = -1;
	}
	close(g->stop_pipe[0]);
	close(g->stop_pipe[1]);
	g->stop_pipe[0] = g->stop_pipe[1] = -1;
	winch_teardown(g);
	g->active = false;
	pthread_mutex_destroy(&g->mu);
}
