#include "runner.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "sampler.h"
#include "util.h"

#define SEC 1000000000LL

struct runner {
	const struct runner_options *opt;
	struct sampler sampler;
	struct record *rec;
	struct run_info info;
	struct cgroup_run cg;
	pid_t child;
	int tfd, sfd, epfd, evfd;
	int64_t t0;
	int64_t stop_deadline;       /* SIGKILL after this (0: not stopping) */
	bool ready;
	int64_t ready_deadline;
	int64_t next_ready_check;
	int64_t last_oom_kills, last_limit_hits;
	int user_signals;
	unsigned warned;
	bool write_failed_noted;
	const char *record_path;
	pid_t self;
	bool following;              /* the command exited, processes it left in the cgroup go on */
	pid_t guard;                 /* the guard process (guard_start), -1 when none */
	int guard_fd;                /* our end of its pipe: EOF tells it headroom is gone */
};

static void note(struct runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct runner *r, const char *fmt, ...)
{
	if (!r->opt->hooks.on_note)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->opt->hooks.on_note(r->opt->hooks.ctx, msg);
}

void runner_default_record_path(const char *what, char *buf, size_t len)
{
	const char *base = strrchr(what, '/');
	base = base ? base + 1 : what;
	char clean[48];
	size_t k = 0;
	for (size_t i = 0; base[i] && k < sizeof(clean) - 1; i++) {
		char c = base[i];
		clean[k++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
					     c == '_'
				     ? c
				     : '_';
	}
	clean[k] = '\0';
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	char stamp[32];
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(buf, len, "headroom-%s-%s.db", k ? clean : "run", stamp);
	/* two runs in the same second: never overwrite, pick the next free name */
	for (int i = 2; access(buf, F_OK) == 0 && i < 100; i++)
		snprintf(buf, len, "headroom-%s-%s-%d.db", k ? clean : "run", stamp, i);
}

/* execvp's search, done before anything is created, so "not found" costs nothing. */
static int resolve_command(const char *cmd, char *out, size_t len)
{
	if (strchr(cmd, '/')) {
		struct stat st;
		if (stat(cmd, &st) < 0)
			return -ENOENT;
		if (S_ISDIR(st.st_mode) || access(cmd, X_OK) < 0)
			return -EACCES;
		snprintf(out, len, "%s", cmd);
		return 0;
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	int rc = -ENOENT;
	while (*path) {
		const char *colon = strchr(path, ':');
		size_t n = colon ? (size_t)(colon - path) : strlen(path);
		snprintf(out, len, "%.*s/%s", (int)n, n ? path : ".", cmd);
		struct stat st;
		if (stat(out, &st) == 0 && !S_ISDIR(st.st_mode)) {
			if (access(out, X_OK) == 0)
				return 0;
			rc = -EACCES;
		}
		path += n + (colon ? 1 : 0);
	}
	return rc;
}

static void fill_info(struct runner *r)
{
	const struct runner_options *o = r->opt;
	struct run_info *in = &r->info;
	memset(in, 0, sizeof(*in));
	snprintf(in->mode, sizeof(in->mode), "%s", o->argv ? "run" : "attach");
	json_object *arr = json_object_new_array();
	if (o->argv) {
		/* the run row keeps command[4096]: a longer command line was cut mid-string into invalid
		 * JSON (issue 16.13). Keep the arguments that fit whole, each at most a quarter of the
		 * room, and say how many were left out. */
		int n = 0;
		while (o->argv[n])
			n++;
		size_t room = sizeof(in->command) - 64;   /* for the note on what was left out */
		size_t used = 2;
		for (int i = 0; i < n; i++) {
			const char *arg = o->argv[i];
			char cut[sizeof(in->command) / 4];
			if (strlen(arg) >= sizeof(cut)) {
				/* the first bytes, never ending inside a UTF-8 sequence */
				size_t k = sizeof(cut) - 16;
				while (k > 0 && ((unsigned char)arg[k] & 0xc0) == 0x80)
					k--;
				snprintf(cut, sizeof(cut), "%.*s...", (int)k, arg);
				arg = cut;
			}
			json_object *js = json_object_new_string(arg);
			/* its JSON size: escapes can make it up to 6 bytes per input byte */
			size_t need = strlen(json_object_to_json_string_ext(js, JSON_C_TO_STRING_PLAIN)) + 2;
			if (used + need > room) {
				json_object_put(js);
				char note[64];
				snprintf(note, sizeof(note), "(%d more arguments not recorded)", n - i);
				json_object_array_add(arr, json_object_new_string(note));
				break;
			}
			used += need;
			json_object_array_add(arr, js);
		}
	} else {
		/* 600 bytes: escaped as JSON (at most 6 bytes each) it stays within command[4096] */
		char what[600];
		bool cut = false;
		ssize_t n = o->attach_pid > 0 ? probe_proc_cmdline(NULL, o->attach_pid, what, sizeof(what), &cut) : -1;
		if (n > 0) {
			/* the process's own command line, as `run` records its command (JSON keeps every
			 * byte; views escape it) */
			for (const char *p = what; p < what + n; p += strlen(p) + 1)
				json_object_array_add(arr, json_object_new_string(p));
			if (cut)
				json_object_array_add(arr, json_object_new_string("(cut)"));
		} else {
			if (o->attach_pid > 0)
				snprintf(what, sizeof(what), "pid %d", (int)o->attach_pid);
			else
				snprintf(what, sizeof(what), "cgroup %s", o->attach_cgroup);
			json_object_array_add(arr, json_object_new_string(what));
		}
	}
	snprintf(in->command, sizeof(in->command), "%s", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
	in->pid = HR_UNKNOWN;
	in->limit_bytes = o->limit_bytes > 0 ? o->limit_bytes : HR_UNKNOWN;
	in->interval_ns = o->interval_ns;
	snprintf(in->heap_mode, sizeof(in->heap_mode), "%s", o->heap_mode ? o->heap_mode : "off");
	snprintf(in->heap_status, sizeof(in->heap_status), "%s", o->heap_status ? o->heap_status : "not recorded");
	struct utsname u;
	if (uname(&u) == 0) {
		snprintf(in->kernel, sizeof(in->kernel), "%s %s", u.sysname, u.release);
		snprintf(in->host, sizeof(in->host), "%s", u.nodename);
	}
	snprintf(in->version, sizeof(in->version), "%s", HEADROOM_VERSION);
	in->exit_code = -1;
}

/* "HOST:PORT", "[::1]:PORT", ":PORT" or "PORT" -> accepts a TCP connection now? */
int runner_parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *sl)
{
	char host[256] = "127.0.0.1";
	const char *port;
	const char *colon = strrchr(addr, ':');
	if (!colon) {
		port = addr;
	} else {
		port = colon + 1;
		size_t n = (size_t)(colon - addr);
		if (n > 0) {
			if (addr[0] == '[' && n >= 2 && addr[n - 1] == ']')
				snprintf(host, sizeof(host), "%.*s", (int)(n - 2), addr + 1);
			else
				snprintf(host, sizeof(host), "%.*s", (int)n, addr);
		}
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res;
	char *end;
	long p = strtol(port, &end, 10);
	if (*port == '\0' || *end != '\0' || p <= 0 || p > 65535)
		return -EINVAL;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -EINVAL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static bool addr_accepts(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	if (runner_parse_addr(addr, &ss, &sl) < 0)
		return false;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool ok = connect(fd, (struct sockaddr *)&ss, sl) == 0;
	close(fd);
	return ok;
}

static void push_event(struct runner *r, const char *kind, int64_t value, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void push_event(struct runner *r, const char *kind, int64_t value, const char *fmt, ...)
{
	char detail[232] = "";
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	record_push_event(r->rec, util_now_ns() - r->t0, kind, value, detail);
}

/* The command, or once it exited, what it left running in its cgroup. Never kill(-1, ...). */
static void signal_target(struct runner *r, int sig)
{
	if (r->child > 0) {
		kill(r->child, sig);
	} else if (r->following) {
		pid_t pids[SAMPLER_MAX_PROCS];
		int n = cgroup_read_procs(r->cg.path, pids, SAMPLER_MAX_PROCS);
		for (int i = 0; i < n; i++)
			kill(pids[i], sig);
	}
}

static void begin_stop(struct runner *r, const char *why)
{
	if (r->stop_deadline || (r->child <= 0 && !r->following))
		return;
	int64_t grace = r->opt->grace_ns > 0 ? r->opt->grace_ns : 5 * SEC;
	r->stop_deadline = util_now_ns() + grace;
	signal_target(r, SIGTERM);
	push_event(r, "signal", SIGTERM, "headroom sent SIGTERM: %s", why);
}

void runner_request_stop(struct runner *r)
{
	uint64_t one = 1;
	if (write(r->evfd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow in practice; nothing to do */
	}
}

static void check_warnings(struct runner *r)
{
	unsigned w = r->sampler.warnings & ~r->warned;
	if (!w)
		return;
	r->warned |= w;
	if (w & SAMPLER_WARN_HWM_RESET) {
		r->info.rss_peaks_exact = false;
		note(r, "cannot reset VmHWM through /proc/PID/clear_refs: RSS peaks are since start, not per interval");
		push_event(r, "note", 0, "RSS peaks are since start (clear_refs not writable)");
	}
	if (w & SAMPLER_WARN_CG_PEAK) {
		r->info.cg_peaks_exact = false;
		note(r, "this kernel cannot reset the cgroup peak: cgroup peaks are since start, not per interval");
		push_event(r, "note", 0, "cgroup peaks are since start (peak not resettable)");
	}
	if (w & SAMPLER_WARN_EACCES)
		note(r, "some processes of the tree may not be read (permission denied): they are not counted");
	if (w & SAMPLER_WARN_TOO_MANY)
		note(r, "more than %d processes: the rest are not counted", SAMPLER_MAX_PROCS);
}

/* A recording that stops being written must be said at once, not when the run ends. */
static void check_write(struct runner *r)
{
	int64_t stopped;
	int err;
	if (r->write_failed_noted || (err = record_write_failed(r->rec, &stopped)) == 0)
		return;
	r->write_failed_noted = true;
	char at[32];
	note(r, "cannot write the recording '%s': %s; it stops at %s. Measuring goes on: this run's report "
		"keeps the rest in memory (up to %d samples), and the file is marked incomplete",
	     r->record_path, record_strerror(err),
	     stopped >= 0 ? util_duration_format(stopped, at, sizeof(at)) : "its start", RECORD_KEEP_MAX);
}

static void after_sample(struct runner *r, const struct sample *s)
{
	check_write(r);
	if (s->cg_oom_kills != HR_UNKNOWN && s->cg_oom_kills > r->last_oom_kills) {
		push_event(r, "oom_kill", s->cg_oom_kills - r->last_oom_kills,
			   "the kernel's OOM killer ended a process in the cgroup (usage peak %lld bytes)",
			   (long long)s->cg_usage_peak);
		r->last_oom_kills = s->cg_oom_kills;
	}
	if (s->cg_limit_hits != HR_UNKNOWN && s->cg_limit_hits > r->last_limit_hits) {
		push_event(r, "limit_hit", s->cg_limit_hits - r->last_limit_hits, "usage reached the limit");
		r->last_limit_hits = s->cg_limit_hits;
	}
	check_warnings(r);
	if (r->opt->hooks.on_sample)
		r->opt->hooks.on_sample(r->opt->hooks.ctx, s, &r->info);
}

static void take_sample(struct runner *r)
{
	struct sample s;
	sampler_take(&r->sampler, util_now_ns() - r->t0, &s);
	record_push_sample(r->rec, &s);
	after_sample(r, &s);
}

static int setup_fds(struct runner *r, const sigset_t *mask)
{
	r->sfd = signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK);
	r->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	r->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (r->sfd < 0 || r->tfd < 0 || r->evfd < 0 || r->epfd < 0)
		return -errno;
	struct itimerspec its = {
		.it_interval = {r->opt->interval_ns / SEC, r->opt->interval_ns % SEC},
		.it_value = {r->opt->interval_ns / SEC, r->opt->interval_ns % SEC},
	};
	timerfd_settime(r->tfd, 0, &its, NULL);
	int fds[] = {r->sfd, r->tfd, r->evfd};
	for (int i = 0; i < 3; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[i]};
		if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			return -errno;
	}
	return 0;
}

static void close_fds(struct runner *r)
{
	int *fds[] = {&r->sfd, &r->tfd, &r->evfd, &r->epfd};
	for (int i = 0; i < 4; i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

/* The guard: a small process forked before anything else exists, which waits on a pipe from
 * headroom. Headroom closes the pipe on every exit, clean or not (the kernel closes it on SIGKILL);
 * if no "done" came first, headroom died without cleaning up, and the guard kills what the command
 * left in its cgroup (children it forked do not get the command's PDEATHSIG), removes the cgroup
 * and the heap segments (hooks.after_crash), then exits. A guard killed too leaves the cleanup to
 * the next run (cgroup_create sweeps dead runs' cgroups). */
enum { GUARD_DONE = 'D', GUARD_CHILD = 'P' };

static void guard_main(struct runner *r, int fd)
{
	prctl(PR_SET_NAME, "headroom-guard");
	/* Ctrl-C reaches the whole process group; the guard outlives headroom only to clean up */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* do not hold the caller's pipes open (`x=$(headroom run ...)` waits for every writer) */
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
	}
	int relay[] = {r->opt->stdout_fd, r->opt->stderr_fd, r->opt->relay_fd};
	for (int i = 0; i < 3; i++)
		if (relay[i] > STDERR_FILENO)
			close(relay[i]);
	pid_t child = -1;
	for (;;) {
		unsigned char msg[1 + sizeof(pid_t)];
		ssize_t n = read(fd, msg, sizeof(msg));
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0 && msg[0] == GUARD_DONE)
			_exit(0);
		if (n == (ssize_t)sizeof(msg) && msg[0] == GUARD_CHILD) {
			memcpy(&child, msg + 1, sizeof(child));
			continue;
		}
		if (n > 0)
			continue;
		break; /* EOF (or an error): headroom is gone */
	}
	if (child > 0 && !r->cg.created)
		kill(child, SIGKILL);
	if (r->cg.created)
		cgroup_remove(&r->cg);
	if (r->opt->hooks.after_crash)
		r->opt->hooks.after_crash(r->opt->hooks.ctx);
	_exit(0);
}

static int guard_start(struct runner *r)
{
	/* a socket pair, not a pipe: telling a guard that was killed must not raise SIGPIPE in
	 * headroom (MSG_NOSIGNAL), and the guard still sees EOF when headroom is gone */
	int p[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = -errno;
		close(p[0]);
		close(p[1]);
		return e;
	}
	if (pid == 0) {
		close(p[1]);
		guard_main(r, p[0]);
	}
	close(p[0]);
	r->guard = pid;
	r->guard_fd = p[1];
	return 0;
}

static void guard_tell(struct runner *r, unsigned char what, pid_t pid)
{
	if (r->guard_fd < 0)
		return;
	unsigned char msg[1 + sizeof(pid_t)] = {what};
	memcpy(msg + 1, &pid, sizeof(pid));
	if (send(r->guard_fd, msg, what == GUARD_DONE ? 1 : sizeof(msg), MSG_NOSIGNAL) < 0) {
		/* a guard that is gone cannot be told: the next run sweeps instead */
	}
}

static void guard_stop(struct runner *r)
{
	if (r->guard <= 0)
		return;
	guard_tell(r, GUARD_DONE, 0);
	close(r->guard_fd);
	r->guard_fd = -1;
	waitpid(r->guard, NULL, 0);
	r->guard = -1;
}

/* fork, enter the cgroup, exec; the exec error (if any) comes back through a CLOEXEC pipe. */
static int spawn(struct runner *r, const char *path, const sigset_t *oldmask)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid == 0) {
		close(p[0]);
		int err = 0;
		/* the command must not outlive a headroom killed by SIGKILL; if headroom is already
		 * gone (we were reparented before the prctl), go now */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != r->self)
			_exit(126);
		if (r->cg.created && cgroup_enter(&r->cg, 0) < 0)
			err = EPERM;
		/* a shell's background job starts with SIGINT and SIGQUIT ignored; a service should not */
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		sigprocmask(SIG_SETMASK, oldmask, NULL);
		if ((r->opt->stdout_fd > STDERR_FILENO && dup2(r->opt->stdout_fd, STDOUT_FILENO) < 0) ||
		    (r->opt->stderr_fd > STDERR_FILENO && dup2(r->opt->stderr_fd, STDERR_FILENO) < 0))
			err = errno;
		if (!err) {
			execv(path, r->opt->argv);
			err = errno;
		}
		if (write(p[1], &err, sizeof(err)) < 0) {
			/* the parent will see EOF and the exit status */
		}
		_exit(err == ENOENT ? 127 : 126);
	}
	close(p[1]);
	int err = 0;
	ssize_t n;
	do
		n = read(p[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	r->child = pid;
	if (n == sizeof(err) && err != 0) {
		waitpid(pid, NULL, 0);
		r->child = -1;
		return -err;
	}
	return 0;
}

static void finish_child(struct runner *r, int status, const struct rusage *ru, struct runner_result *res)
{
	r->child = -1;
	/* processes left in the cgroup (a daemon) are followed: the run ends when they do, and the
	 * analysis takes the `exit` event as the end of the run, so this exit is only a note */
	pid_t left[1];
	const char *kind = r->cg.created && cgroup_read_procs(r->cg.path, left, 1) > 0 ? "note" : "exit";
	if (WIFEXITED(status)) {
		res->exit_code = WEXITSTATUS(status);
		push_event(r, kind, res->exit_code, "exited with status %d", res->exit_code);
	} else if (WIFSIGNALED(status)) {
		res->exit_signal = WTERMSIG(status);
		push_event(r, kind, -res->exit_signal, "killed by signal %d (%s)", res->exit_signal,
			   strsignal(res->exit_signal));
	}
	/* The last interval's peak of a process that is gone: wait4's maxrss is its VmHWM at exit. */
	struct sample s;
	sampler_take(&r->sampler, util_now_ns() - r->t0, &s);
	int64_t maxrss = (int64_t)ru->ru_maxrss * 1024;
	if (s.nprocs == 0) {
		s.rss_peak = maxrss;
	} else if (s.rss_peak != HR_UNKNOWN && maxrss > s.rss_peak) {
		s.rss_peak = maxrss;
	}
	record_push_sample(r->rec, &s);
	after_sample(r, &s);
}

/* Headroom's children other than the command and the guard: without a cgroup headroom is the
 * command's subreaper, so a process that left the command's tree (a daemon) lands here. */
static int adopted_count(struct runner *r, pid_t *ret_first)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return 0;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[128], buf[4096];
		snprintf(path, sizeof(path), "/proc/self/task/%s/children", de->d_name);
		if (util_read_file(path, buf, sizeof(buf)) <= 0)
			continue;
		char *save;
		for (char *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
			const char *p = tok;
			uint64_t v;
			if (util_parse_u64(&p, &v) < 0 || *p || v == 0 || (pid_t)v == r->guard || (pid_t)v == r->child)
				continue;
			char st[256];
			snprintf(path, sizeof(path), "/proc/%llu/stat", (unsigned long long)v);
			const char *z = util_read_file(path, st, sizeof(st)) > 0 ? strrchr(st, ')') : NULL;
			if (z && z[1] == ' ' && z[2] == 'Z')
				continue; /* already gone, not yet reaped */
			if (n++ == 0)
				*ret_first = (pid_t)v;
		}
	}
	closedir(d);
	return n;
}

/* The command exited. A daemon (double fork, new session) it started is still in the cgroup:
 * follow it there instead of losing it silently. Without a cgroup nothing can follow it: say
 * what is no longer measured. Returns true when the loop goes on. */
static bool follow_leftovers(struct runner *r)
{
	if (!r->cg.created) {
		pid_t first = 0;
		int n = adopted_count(r, &first);
		if (n > 0) {
			note(r, "the command exited, but %d process%s it started %s still running (pid %d%s): %s no longer "
				"measured. Without a cgroup headroom cannot follow a process that left the command's tree; "
				"run with a cgroup (as root, without --no-cgroup) to follow a daemon",
			     n, n == 1 ? "" : "es", n == 1 ? "is" : "are", (int)first, n > 1 ? ", ..." : "",
			     n == 1 ? "it is" : "they are");
			push_event(r, "note", n, "the command exited: %d process%s it started %s not measured (no cgroup)", n,
				   n == 1 ? "" : "es", n == 1 ? "is" : "are");
		}
		return false;
	}
	pid_t pids[SAMPLER_MAX_PROCS];
	int n = cgroup_read_procs(r->cg.path, pids, SAMPLER_MAX_PROCS);
	if (n <= 0)
		return false;
	r->following = true;
	note(r, "the command exited but left %d process%s running in its cgroup (it daemonized): following %s until "
		"%s end%s, --duration or Ctrl-C", n, n == 1 ? "" : "es", n == 1 ? "it" : "them", n == 1 ? "it" : "they",
	     n == 1 ? "s" : "");
	push_event(r, "note", n, "the command exited; %d process%s it left in its cgroup %s followed", n, n == 1 ? "" : "es",
		   n == 1 ? "is" : "are");
	sampler_refresh_tree(&r->sampler);
	return true;
}

static int loop(struct runner *r, struct runner_result *res)
{
	bool attach = r->opt->argv == NULL;
	int64_t end = r->opt->duration_ns > 0 ? r->t0 + r->opt->duration_ns : 0;
	for (;;) {
		struct epoll_event evs[4];
		int timeout = -1;
		if (r->stop_deadline)
			timeout = 50;
		int n = epoll_wait(r->epfd, evs, 4, timeout);
		if (n < 0 && errno != EINTR)
			return -errno;
		int64_t now = util_now_ns();
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == r->tfd) {
				uint64_t ticks;
				if (read(r->tfd, &ticks, sizeof(ticks)) < 0)
					continue;
				struct sample s;
				int rc = sampler_take(&r->sampler, now - r->t0, &s);
				record_push_sample(r->rec, &s);
				after_sample(r, &s);
				if (r->following && rc == -ESRCH) {
					push_event(r, "exit", res->exit_signal ? -res->exit_signal : res->exit_code,
						   "the processes the command left in its cgroup ended (the command itself exited earlier)");
					return 0;
				}
				if (attach && rc == -ESRCH && !r->opt->attach_cgroup) {
					push_event(r, "exit", 0, "the process tree ended");
					return 0;
				}
				if (attach && r->opt->attach_cgroup && s.cg_usage == HR_UNKNOWN) {
					push_event(r, "exit", 0, "the cgroup was removed");
					return 0;
				}
				if (r->opt->ready_addr && !r->ready && now >= r->next_ready_check) {
					r->next_ready_check = now + 20000000LL;
					if (addr_accepts(r->opt->ready_addr)) {
						r->ready = true;
						push_event(r, "ready", 0, "%s accepts connections", r->opt->ready_addr);
						if (r->opt->hooks.on_ready)
							r->opt->hooks.on_ready(r->opt->hooks.ctx, r, now - r->t0);
					} else if (now >= r->ready_deadline) {
						res->ready_timed_out = true;
						push_event(r, "note", 0, "%s did not accept connections in time", r->opt->ready_addr);
						if (attach)
							return 0;
						begin_stop(r, "not ready in time");
					}
				}
			} else if (fd == r->evfd) {
				uint64_t v;
				if (read(r->evfd, &v, sizeof(v)) < 0)
					continue;
				if (attach)
					return 0;
				res->stopped_by_request = true;
				begin_stop(r, "the load is done");
			} else if (fd == r->sfd) {
				struct signalfd_siginfo si;
				while (read(r->sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGCHLD) {
						if (attach)
							continue;
						/* every child: the command, the guard, and (as subreaper) processes
						 * that left the command's tree, whose zombies must not pile up */
						int status;
						struct rusage ru;
						pid_t w;
						bool done = false;
						while ((w = wait4(-1, &status, WNOHANG, &ru)) > 0) {
							if (w == r->child) {
								finish_child(r, status, &ru, res);
								done = true;
								break;
							}
							if (w == r->guard)
								r->guard = -1;
						}
						if (done && !follow_leftovers(r))
							return 0;
						continue;
					}
					res->stopped_by_user = true;
					push_event(r, "signal", si.ssi_signo, "headroom received %s", strsignal((int)si.ssi_signo));
					if (attach)
						return 0;
					r->user_signals++;
					/* a terminal's Ctrl-C reached the child's process group already */
					if (si.ssi_code != SI_KERNEL || r->following)
						signal_target(r, (int)si.ssi_signo);
					if (r->user_signals >= 3)
						signal_target(r, SIGKILL);
				}
			}
		}
		if (end && now >= end && !r->stop_deadline) {
			res->stopped_by_duration = true;
			if (attach) {
				push_event(r, "note", 0, "--duration elapsed");
				return 0;
			}
			begin_stop(r, "--duration elapsed");
		}
		if (r->stop_deadline && now >= r->stop_deadline && (r->child > 0 || r->following)) {
			signal_target(r, SIGKILL);
			push_event(r, "signal", SIGKILL, "headroom sent SIGKILL: the grace period ended");
			r->stop_deadline = now + 3600 * SEC; /* once */
		}
	}
}

int runner_run(const struct runner_options *opt, struct runner_result *res, char *why, size_t len)
{
	struct runner r;
	memset(&r, 0, sizeof(r));
	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	r.opt = opt;
	r.child = -1;
	r.sfd = r.tfd = r.evfd = r.epfd = -1;
	r.guard = r.guard_fd = -1;
	r.self = getpid();
	why[0] = '\0';
	fill_info(&r);
	r.info.rss_peaks_exact = true;
	int rc;
	char path[4096];

	if (opt->interval_ns <= 0) {
		snprintf(why, len, "--interval must be more than 0");
		return -EINVAL;
	}
	if (opt->argv) {
		rc = resolve_command(opt->argv[0], path, sizeof(path));
		if (rc < 0) {
			snprintf(why, len, rc == -ENOENT ? "command not found: '%s'" : "command is not executable: '%s'",
				 opt->argv[0]);
			res->exit_code = rc == -ENOENT ? 127 : 126;
			return rc;
		}
	}
	/* attach: check the target before anything is created */
	struct sampler_config sc = {
		.proc_root = "/proc",
		.interval_ns = opt->interval_ns,
		.read_heap = opt->hooks.read_heap,
		.heap_ctx = opt->hooks.ctx,
	};
	if (!opt->argv) {
		sc.root_pid = opt->attach_pid;
		sc.cgroup_path = opt->attach_cgroup;
		sc.pids_from_cgroup = opt->attach_cgroup != NULL;
		rc = sampler_init(&r.sampler, &sc);
		if (rc < 0) {
			if (opt->attach_cgroup && (rc == -ENOTDIR || rc == -ENOENT))
				snprintf(why, len, "'%s' is not a memory cgroup (expected a directory with memory.current or memory.usage_in_bytes)", opt->attach_cgroup);
			else if (rc == -ESRCH)
				snprintf(why, len, "no process with pid %d", (int)opt->attach_pid);
			else if (rc == -EACCES)
				snprintf(why, len, "may not read process %d (run as root or as its user)", (int)opt->attach_pid);
			else
				snprintf(why, len, "cannot attach: %s", strerror(-rc));
			return rc;
		}
		if (opt->attach_cgroup) {
			r.info.cgroup_version = r.sampler.cg.version;
			snprintf(r.info.cgroup_path, sizeof(r.info.cgroup_path), "%s", opt->attach_cgroup);
		}
		r.info.pid = opt->attach_pid > 0 ? opt->attach_pid : HR_UNKNOWN;
	} else if (!opt->no_cgroup) {
		char cgwhy[512];
		rc = cgroup_create(&r.cg, opt->limit_bytes, cgwhy, sizeof(cgwhy));
		if (rc < 0) {
			if (opt->limit_bytes > 0) {
				snprintf(why, len, "--limit needs a cgroup: %s", cgwhy);
				return rc;
			}
			note(&r, "%s: recording RSS only, without cgroup figures", cgwhy);
		} else {
			r.info.cgroup_version = r.cg.version;
			snprintf(r.info.cgroup_path, sizeof(r.info.cgroup_path), "%s", r.cg.path);
		}
	}
	r.info.cg_peaks_exact = r.info.cgroup_version != 0;
	/* without a cgroup, a process that leaves the command's tree is re-parented to headroom instead
	 * of init, so headroom can at least say it is there and is not measured */
	if (opt->argv && !r.cg.created)
		prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* before any thread exists: the guard is a plain fork of a single-threaded process */
	if (opt->argv && guard_start(&r) < 0)
		note(&r, "cannot start the guard process: if headroom is killed, the next run cleans up after it");

	if (opt->record_path)
		snprintf(res->record_path, sizeof(res->record_path), "%s", opt->record_path);
	else {
		/* an attached process is named by its own name (comm: 15 bytes the process may set to
		 * anything; the name keeps only [A-Za-z0-9_-] of it) */
		char comm[64] = "pid", comm_path[64];
		if (!opt->argv && !opt->attach_cgroup && opt->attach_pid > 0) {
			snprintf(comm_path, sizeof(comm_path), "/proc/%d/comm", (int)opt->attach_pid);
			ssize_t n = util_read_file(comm_path, comm, sizeof(comm));
			if (n > 0 && comm[n - 1] == '\n')
				comm[n - 1] = '\0';
			if (n <= 1)
				snprintf(comm, sizeof(comm), "pid");
		}
		runner_default_record_path(opt->argv ? opt->argv[0] : opt->attach_cgroup ? "cgroup" : comm,
					   res->record_path, sizeof(res->record_path));
	}
	/* before any thread exists (the recorder's writer), so every thread inherits the mask and
	 * SIGCHLD/SIGINT reach only the signalfd */
	sigset_t mask, oldmask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, &oldmask);
	/* an ignored signal is discarded before it can reach a signalfd: take them back */
	signal(SIGINT, SIG_DFL);
	r.record_path = res->record_path;
	r.t0 = util_now_ns();
	r.info.started_wall_ns = util_wall_ns();
	rc = record_create(res->record_path, &r.info, &r.rec);
	if (rc < 0) {
		snprintf(why, len, "cannot create the recording '%s': %s", res->record_path, record_strerror(rc));
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
		goto out_cgroup;
	}

	rc = setup_fds(&r, &mask);
	if (rc < 0) {
		snprintf(why, len, "cannot set up the sampling loop: %s", strerror(-rc));
		goto out_record;
	}

	if (opt->argv) {
		rc = spawn(&r, path, opt->child_sigmask ? opt->child_sigmask : &oldmask);
		if (rc < 0) {
			snprintf(why, len, rc == -EPERM ? "cannot move the command into its cgroup" : "cannot run '%s': %s",
				 opt->argv[0], strerror(-rc));
			goto out_record;
		}
		r.info.pid = r.child;
		guard_tell(&r, GUARD_CHILD, r.child);
		sc.root_pid = r.child;
		sc.cgroup_path = r.cg.created ? r.cg.path : NULL;
		sc.pids_from_cgroup = r.cg.created;
		rc = sampler_init(&r.sampler, &sc);
		if (rc < 0 && rc != -ESRCH) {
			snprintf(why, len, "cannot read the command's memory: %s", strerror(-rc));
			kill(r.child, SIGKILL);
			waitpid(r.child, NULL, 0);
			goto out_record;
		}
		rc = 0;
		push_event(&r, "start", r.child, "started pid %d", (int)r.child);
	} else {
		push_event(&r, "start", r.info.pid, "attached");
	}
	r.ready_deadline = r.t0 + (opt->ready_timeout_ns > 0 ? opt->ready_timeout_ns : 60 * SEC);
	if (opt->hooks.on_start)
		opt->hooks.on_start(opt->hooks.ctx, &r, r.rec, r.t0, r.child);
	take_sample(&r);

	rc = loop(&r, res);
	if (opt->hooks.on_stop)
		opt->hooks.on_stop(opt->hooks.ctx, &r);
	if (r.child > 0) {
		/* the loop failed: never leave the command behind */
		kill(r.child, SIGKILL);
		int status;
		struct rusage ru;
		if (wait4(r.child, &status, 0, &ru) == r.child)
			finish_child(&r, status, &ru, res);
	}
	check_warnings(&r);
	res->samples = r.sampler.samples;
	struct cgroup_stats cs;
	memset(&cs, 0xff, sizeof(cs));
	if (r.sampler.have_cg && probe_cgroup_read(&r.sampler.cg, true, &cs) == 0 && cs.oom_kills > 0)
		res->oom_kills = cs.oom_kills;
	else
		res->oom_kills = r.last_oom_kills > 0 ? r.last_oom_kills : 0;
	if (res->oom_kills > r.last_oom_kills)
		push_event(&r, "oom_kill", res->oom_kills - r.last_oom_kills, "the kernel's OOM killer ended a process in the cgroup");
	res->oom_killed = res->oom_kills > 0;
	/* the hits of the last interval (an OOM run hits the limit until the kill) */
	if (cs.limit_hits != HR_UNKNOWN && cs.limit_hits > r.last_limit_hits)
		push_event(&r, "limit_hit", cs.limit_hits - r.last_limit_hits, "usage reached the limit");
	res->duration_ns = util_now_ns() - r.t0;
	r.info.duration_ns = res->duration_ns;
	r.info.exit_code = res->exit_code;
	r.info.exit_signal = res->exit_signal;
	r.info.oom_killed = res->oom_killed;
	res->info = r.info;
out_record:
	sampler_destroy(&r.sampler);
	if (r.rec) {
		/* the heap status may have changed during the run (available, or why not) */
		snprintf(r.info.heap_status, sizeof(r.info.heap_status), "%s",
			 opt->heap_status ? opt->heap_status : "not recorded");
		int frc = rc < 0 ? (record_abandon(r.rec), 0) : record_finish_keep(r.rec, &r.info, &res->unwritten);
		if (frc < 0 && rc == 0 && res->unwritten.write_error) {
			/* the run itself went on: the caller reports it from memory and says what is missing */
			if (!r.write_failed_noted)
				note(&r, "cannot write the recording '%s': %s; the file is incomplete", res->record_path,
				     record_strerror(frc));
		} else if (frc < 0 && rc == 0) {
			snprintf(why, len, "the recording '%s' could not be completed: %s", res->record_path,
				 record_strerror(frc));
			rc = frc;
		}
		if (rc < 0 && r.child <= 0 && opt->argv && res->samples == 0)
			unlink(res->record_path);
	}
	close_fds(&r);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
out_cgroup:
	sampler_destroy(&r.sampler);
	if (r.cg.created && cgroup_remove(&r.cg) < 0)
		note(&r, "could not remove the cgroup %s", r.cg.path);
	guard_stop(&r);
	return rc;
}
