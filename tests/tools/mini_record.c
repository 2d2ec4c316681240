/* mini_record: a minimal recorder for the analysis tests, independent of `headroom run` — runs
 * COMMAND, samples /proc/PID/status every INTERVAL_MS (VmRSS, and VmHWM reset through clear_refs
 * each interval, so interval peaks are exact) and writes a recording with the real writer.
 *
 *   mini_record OUT INTERVAL_MS -- COMMAND [ARG...]
 *
 * Single process only (no tree, no cgroup, no heap): just enough to judge real programs.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "record.h"
#include "sample.h"
#include "util.h"

static int64_t status_kib(const char *buf, const char *key)
{
	const char *p = strstr(buf, key);
	return p ? strtoll(p + strlen(key), NULL, 10) * 1024 : HR_UNKNOWN;
}

int main(int argc, char **argv)
{
	if (argc < 5 || strcmp(argv[3], "--") != 0) {
		fprintf(stderr, "usage: mini_record OUT INTERVAL_MS -- COMMAND [ARG...]\n");
		return 2;
	}
	int64_t interval = atoll(argv[2]) * 1000000LL;
	struct run_info info;
	memset(&info, 0, sizeof(info));
	snprintf(info.mode, sizeof(info.mode), "run");
	size_t off = (size_t)snprintf(info.command, sizeof(info.command), "[");
	for (int i = 4; i < argc && off < sizeof(info.command) - 8; i++)
		off += (size_t)snprintf(info.command + off, sizeof(info.command) - off, "%s\"%s\"", i > 4 ? ", " : "", argv[i]);
	snprintf(info.command + off, sizeof(info.command) - off, "]");
	info.limit_bytes = HR_UNKNOWN;
	info.interval_ns = interval;
	info.rss_peaks_exact = true;
	snprintf(info.heap_mode, sizeof(info.heap_mode), "off");
	snprintf(info.heap_status, sizeof(info.heap_status), "not measured (mini_record)");
	info.exit_code = -1;

	int64_t t0 = util_now_ns();
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		execvp(argv[4], argv + 4);
		_exit(127);
	}
	info.pid = pid;
	struct record *r;
	int rc = record_create(argv[1], &info, &r);
	if (rc < 0) {
		fprintf(stderr, "mini_record: %s: %s\n", argv[1], record_strerror(rc));
		kill(pid, SIGKILL);
		return 1;
	}
	record_push_event(r, 0, "start", pid, NULL);
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	char clear[64];
	snprintf(clear, sizeof(clear), "/proc/%d/clear_refs", (int)pid);
	int status = 0;
	int64_t next = t0;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (util_read_file(path, buf, sizeof(buf)) > 0) {
			struct sample s;
			sample_clear(&s);
			s.t_ns = util_now_ns() - t0;
			s.nprocs = 1;
			s.rss = status_kib(buf, "VmRSS:");
			s.rss_peak = status_kib(buf, "VmHWM:");
			util_write_file(clear, "5");
			if (s.rss > 0)
				record_push_sample(r, &s);
		}
		next += interval;
		int64_t now = util_now_ns();
		if (next > now) {
			struct timespec ts = {(next - now) / 1000000000LL, (next - now) % 1000000000LL};
			nanosleep(&ts, NULL);
		}
	}
	struct run_info end = info;
	end.duration_ns = util_now_ns() - t0;
	end.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	end.exit_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	end.finished = true;
	record_push_event(r, end.duration_ns, "exit", end.exit_code, NULL);
	rc = record_finish(r, &end);
	if (rc < 0) {
		fprintf(stderr, "mini_record: %s: %s\n", argv[1], record_strerror(rc));
		return 1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
