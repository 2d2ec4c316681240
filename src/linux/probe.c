#include "probe.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

enum map_kind { MAP_ANON, MAP_STACK, MAP_CODE, MAP_FILES, MAP_SHMEM, MAP_OTHER };

/* Value of "Key:   123 kB" lines; the key includes its colon. */
static int64_t kb_field(const char *line, const char *key)
{
	size_t n = strlen(key);
	if (strncmp(line, key, n) != 0)
		return HR_UNKNOWN;
	const char *p = line + n;
	uint64_t v;
	if (util_parse_u64(&p, &v) < 0)
		return HR_UNKNOWN;
	while (*p == ' ')
		p++;
	bool kb = strncmp(p, "kB", 2) == 0;
	/* no memory figure reaches 8 EiB: such a number would overflow, so it is not one */
	if (v > (uint64_t)INT64_MAX / (kb ? 1024 : 1))
		return HR_UNKNOWN;
	return kb ? (int64_t)v * 1024 : (int64_t)v;
}

int probe_parse_status(const char *text, struct proc_status *ret)
{
	struct proc_status s = {HR_UNKNOWN, HR_UNKNOWN, HR_UNKNOWN, HR_UNKNOWN, HR_UNKNOWN, HR_UNKNOWN, HR_UNKNOWN};
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{"VmRSS:", offsetof(struct proc_status, rss)},
		{"RssAnon:", offsetof(struct proc_status, rss_anon)},
		{"RssFile:", offsetof(struct proc_status, rss_file)},
		{"RssShmem:", offsetof(struct proc_status, rss_shmem)},
		{"VmHWM:", offsetof(struct proc_status, hwm)},
		{"VmSwap:", offsetof(struct proc_status, swap)},
		{"Threads:", offsetof(struct proc_status, threads)},
	};
	for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (line[0] != 'V' && line[0] != 'R' && line[0] != 'T')
			continue;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			int64_t v = kb_field(line, keys[i].key);
			if (v != HR_UNKNOWN) {
				*(int64_t *)((char *)&s + keys[i].off) = v;
				break;
			}
		}
	}
	/* a kernel thread or a zombie has no VmRSS: not an error, but nothing to measure */
	if (s.rss == HR_UNKNOWN && s.threads == HR_UNKNOWN)
		return -EINVAL;
	*ret = s;
	return 0;
}

int probe_parse_rollup(const char *text, struct proc_rollup *ret)
{
	struct proc_rollup r = {HR_UNKNOWN, HR_UNKNOWN, HR_UNKNOWN, HR_UNKNOWN};
	for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		int64_t v;
		if ((v = kb_field(line, "Rss:")) != HR_UNKNOWN)
			r.rss = v;
		else if ((v = kb_field(line, "Pss:")) != HR_UNKNOWN)
			r.pss = v;
		else if ((v = kb_field(line, "Anonymous:")) != HR_UNKNOWN)
			r.anonymous = v;
		else if ((v = kb_field(line, "Swap:")) != HR_UNKNOWN)
			r.swap = v;
	}
	if (r.rss == HR_UNKNOWN)
		return -EINVAL;
	*ret = r;
	return 0;
}

/* ---- smaps ---- */

/* Thread stacks sit directly above a small inaccessible guard mapping (glibc, Rust std, musl). */
#define GUARD_MAX (1024 * 1024)

void probe_smaps_begin(struct smaps_parser *p, const char *exe_path)
{
	memset(p, 0, sizeof(*p));
	p->kind = MAP_OTHER;
	snprintf(p->exe, sizeof(p->exe), "%s", exe_path ? exe_path : "");
}

static bool is_header(const char *line)
{
	return (line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f');
}

static void smaps_header(struct smaps_parser *p, const char *line)
{
	char *end;
	uint64_t start = strtoull(line, &end, 16);
	if (*end != '-')
		return;
	uint64_t stop = strtoull(end + 1, &end, 16);
	while (*end == ' ')
		end++;
	char perms[5] = {0};
	memcpy(perms, end, 4);
	/* skip perms, offset, dev, inode to the path (may be empty) */
	const char *q = end;
	for (int field = 0; field < 4 && *q; field++) {
		while (*q && *q != ' ')
			q++;
		while (*q == ' ')
			q++;
	}
	const char *path = q;
	bool anon = path[0] == '\0';
	bool guard_before = p->prev_guard && p->prev_end == start;
	p->acc.nmaps++;
	p->prev_guard = false;
	p->prev_end = stop;

	if (anon) {
		if (perms[3] == 's')
			p->kind = MAP_SHMEM;
		else if (strcmp(perms, "---p") == 0) {
			p->kind = MAP_OTHER;
			p->prev_guard = stop - start <= GUARD_MAX;
		} else
			p->kind = guard_before ? MAP_STACK : MAP_ANON;
	} else if (path[0] == '[') {
		if (strncmp(path, "[stack", 6) == 0)
			p->kind = MAP_STACK;
		else if (strncmp(path, "[heap]", 6) == 0 || strncmp(path, "[anon:", 6) == 0)
			p->kind = MAP_ANON;
		else if (strncmp(path, "[anon_shmem", 11) == 0)
			p->kind = MAP_SHMEM;
		else
			p->kind = MAP_OTHER;
	} else if (perms[3] == 's' && (strncmp(path, "/dev/shm/", 9) == 0 || strncmp(path, "/SYSV", 5) == 0 ||
				       strncmp(path, "/memfd:", 7) == 0 || strncmp(path, "/dev/zero", 9) == 0)) {
		p->kind = MAP_SHMEM;
	} else if (strncmp(path, "/memfd:", 7) == 0 || strncmp(path, "/dev/zero", 9) == 0) {
		p->kind = MAP_ANON; /* private memfd or /dev/zero: anonymous memory by another name */
	} else if (perms[2] == 'x' || (p->exe[0] && strcmp(path, p->exe) == 0) || strstr(path, ".so")) {
		p->kind = MAP_CODE;
	} else {
		p->kind = MAP_FILES;
	}
}

static void smaps_line(struct smaps_parser *p, const char *line)
{
	if (is_header(line)) {
		smaps_header(p, line);
		return;
	}
	if (line[0] != 'R' || line[1] != 's')
		return;
	int64_t v = kb_field(line, "Rss:");
	if (v == HR_UNKNOWN)
		return;
	int64_t *sum;
	switch (p->kind) {
	case MAP_ANON: sum = &p->acc.anon; break;
	case MAP_STACK: sum = &p->acc.stacks; break;
	case MAP_CODE: sum = &p->acc.code; break;
	case MAP_FILES: sum = &p->acc.files; break;
	case MAP_SHMEM: sum = &p->acc.shmem; break;
	default: sum = &p->acc.other; break;
	}
	if (__builtin_add_overflow(*sum, v, sum))
		*sum = INT64_MAX;   /* only a forged text gets here: saturate rather than wrap */
}

void probe_smaps_feed(struct smaps_parser *p, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = data[i];
		if (c == '\n') {
			p->line[p->linelen] = '\0';
			smaps_line(p, p->line);
			p->linelen = 0;
		} else if (p->linelen < sizeof(p->line) - 1) {
			p->line[p->linelen++] = c;
		}
	}
}

void probe_smaps_end(struct smaps_parser *p, struct smaps_breakdown *ret)
{
	if (p->linelen) {
		p->line[p->linelen] = '\0';
		smaps_line(p, p->line);
		p->linelen = 0;
	}
	*ret = p->acc;
}

/* ---- per process ---- */

int probe_proc_open(struct proc_handle *h, const char *proc_root, pid_t pid)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%d", proc_root, (int)pid);
	memset(h, 0, sizeof(*h));
	h->pid = pid;
	h->fd_status = h->fd_rollup = h->fd_clear_refs = h->fd_statm = -1;
	h->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (h->dirfd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	h->fd_status = openat(h->dirfd, "status", O_RDONLY | O_CLOEXEC);
	if (h->fd_status < 0) {
		int e = errno;
		probe_proc_close(h);
		return e == ENOENT ? -ESRCH : -e;
	}
	/* proving we may read more than status: smaps_rollup needs ptrace-read access */
	h->fd_rollup = openat(h->dirfd, "smaps_rollup", O_RDONLY | O_CLOEXEC);
	if (h->fd_rollup < 0 && errno == EACCES) {
		probe_proc_close(h);
		return -EACCES;
	}
	h->fd_clear_refs = openat(h->dirfd, "clear_refs", O_WRONLY | O_CLOEXEC);
	ssize_t n = readlinkat(h->dirfd, "exe", h->exe, sizeof(h->exe) - 1);
	h->exe[n > 0 ? n : 0] = '\0';
	return 0;
}

void probe_proc_close(struct proc_handle *h)
{
	if (h->fd_status >= 0)
		close(h->fd_status);
	if (h->fd_rollup >= 0)
		close(h->fd_rollup);
	if (h->fd_clear_refs >= 0)
		close(h->fd_clear_refs);
	if (h->fd_statm >= 0)
		close(h->fd_statm);
	if (h->dirfd >= 0)
		close(h->dirfd);
	h->fd_status = h->fd_rollup = h->fd_clear_refs = h->fd_statm = h->dirfd = -1;
}

int probe_proc_read_status(struct proc_handle *h, struct proc_status *ret)
{
	char buf[4096];
	ssize_t n = util_read_fd(h->fd_status, buf, sizeof(buf));
	if (n == 0 || n == -ESRCH)
		return -ESRCH;
	if (n < 0 && n != -EFBIG)
		return (int)n;
	return probe_parse_status(buf, ret) < 0 ? -ESRCH : 0;
}

int probe_parse_statm_rss(const char *text, int64_t *ret_rss)
{
	/* "size resident shared text lib data dt", in pages */
	const char *p = text;
	uint64_t size, resident;
	if (util_parse_u64(&p, &size) < 0 || util_parse_u64(&p, &resident) < 0)
		return -EINVAL;
	static long page;
	if (!page)
		page = sysconf(_SC_PAGESIZE);
	*ret_rss = (int64_t)resident * page;
	return 0;
}

int probe_proc_read_statm_rss(struct proc_handle *h, int64_t *ret_rss)
{
	if (h->fd_statm < 0) {
		h->fd_statm = openat(h->dirfd, "statm", O_RDONLY | O_CLOEXEC);
		if (h->fd_statm < 0)
			return errno == ENOENT ? -ESRCH : -errno;
	}
	char buf[256];
	ssize_t n = util_read_fd(h->fd_statm, buf, sizeof(buf));
	if (n == 0 || n == -ESRCH)
		return -ESRCH;
	if (n < 0)
		return (int)n;
	return probe_parse_statm_rss(buf, ret_rss) < 0 ? -ESRCH : 0;
}

int probe_parse_start_time(const char *text, uint64_t *ret)
{
	/* the command name (field 2) may hold spaces and parentheses: fields resume after the last ')' */
	const char *p = strrchr(text, ')');
	if (!p)
		return -EINVAL;
	p++;
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EINVAL;
	}
	p++;
	uint64_t v;
	if (util_parse_u64(&p, &v) < 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

int probe_proc_start_time(const char *proc_root, pid_t pid, uint64_t *ret)
{
	char path[256], buf[1024];
	snprintf(path, sizeof(path), "%s/%d/stat", proc_root ? proc_root : "/proc", (int)pid);
	ssize_t n = util_read_file(path, buf, sizeof(buf));
	if (n == -ENOENT || n == 0)
		return -ESRCH;
	if (n < 0)
		return (int)n;
	return probe_parse_start_time(buf, ret) < 0 ? -ESRCH : 0;
}

ssize_t probe_proc_cmdline(const char *proc_root, pid_t pid, char *buf, size_t len, bool *cut)
{
	char path[256];
	*cut = false;
	snprintf(path, sizeof(path), "%s/%d/cmdline", proc_root ? proc_root : "/proc", (int)pid);
	ssize_t n = util_read_file(path, buf, len);
	if (n == -ENOENT || n == -ESRCH)
		return -ESRCH;
	if (n == -EFBIG) {
		*cut = true;
		n = (ssize_t)len - 1;
	}
	if (n < 0)
		return n;
	/* without its final NUL an argument ends where the text does */
	while (n > 0 && buf[n - 1] == '\0')
		n--;
	buf[n] = '\0';
	return n;
}

int probe_proc_reset_hwm(struct proc_handle *h)
{
	if (h->fd_clear_refs < 0)
		return -EPERM;
	if (pwrite(h->fd_clear_refs, "5", 1, 0) != 1)
		return -errno;
	return 0;
}

int probe_proc_read_rollup(struct proc_handle *h, struct proc_rollup *ret)
{
	if (h->fd_rollup < 0)
		return -ENOENT;
	char buf[2048];
	ssize_t n = util_read_fd(h->fd_rollup, buf, sizeof(buf));
	if (n == 0)
		return -ESRCH;
	if (n < 0 && n != -EFBIG)
		return (int)n;
	return probe_parse_rollup(buf, ret);
}

int probe_proc_read_smaps(struct proc_handle *h, struct smaps_breakdown *ret)
{
	int fd = openat(h->dirfd, "smaps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	struct smaps_parser p;
	probe_smaps_begin(&p, h->exe);
	char buf[16384];
	ssize_t n;
	int rc = 0;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		probe_smaps_feed(&p, buf, (size_t)n);
	}
	close(fd);
	if (rc < 0)
		return rc;
	probe_smaps_end(&p, ret);
	return ret->nmaps > 0 ? 0 : -ESRCH;
}

/* ---- process tree ---- */

pid_t probe_parse_stat_ppid(const char *stat)
{
	/* "pid (comm) S ppid ..." — comm may contain spaces and parentheses: use the last ')' */
	const char *p = strrchr(stat, ')');
	if (!p || p[1] != ' ')
		return -1;
	p += 2;
	while (*p && *p != ' ')
		p++;
	uint64_t v;
	if (util_parse_u64(&p, &v) < 0 || v > INT32_MAX)
		return -1;
	return (pid_t)v;
}

int probe_tree_scan(const char *proc_root, pid_t root, pid_t *ret_pids, int max)
{
	if (max < 1)
		return -EINVAL;
	DIR *d = opendir(proc_root);
	if (!d)
		return -errno;
	size_t cap = 1024, n = 0;
	pid_t *pids = malloc(cap * sizeof(pid_t)), *ppids = malloc(cap * sizeof(pid_t));
	int rc = 0;
	if (!pids || !ppids) {
		rc = -ENOMEM;
		goto out;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		char path[300], buf[1024];
		snprintf(path, sizeof(path), "%s/%s/stat", proc_root, de->d_name);
		if (util_read_file(path, buf, sizeof(buf)) <= 0)
			continue;
		if (n == cap) {
			cap *= 2;
			pid_t *np = realloc(pids, cap * sizeof(pid_t));
			if (np)
				pids = np;
			pid_t *npp = realloc(ppids, cap * sizeof(pid_t));
			if (npp)
				ppids = npp;
			if (!np || !npp) {
				rc = -ENOMEM;
				goto out;
			}
		}
		/* a name that starts with a digit is a pid only when all of it is */
		const char *dn = de->d_name;
		uint64_t v;
		if (util_parse_u64(&dn, &v) < 0 || *dn || v == 0 || v > INT32_MAX)
			continue;
		pids[n] = (pid_t)v;
		ppids[n] = probe_parse_stat_ppid(buf);
		n++;
	}
	/* breadth-first from root: ret_pids doubles as the queue */
	int count = 0;
	bool found = false;
	for (size_t i = 0; i < n; i++)
		if (pids[i] == root)
			found = true;
	if (!found) {
		rc = -ESRCH;
		goto out;
	}
	ret_pids[count++] = root;
	for (int head = 0; head < count; head++)
		for (size_t i = 0; i < n && count < max; i++)
			if (ppids[i] == ret_pids[head] && pids[i] != root)
				ret_pids[count++] = pids[i];
	rc = count;
out:
	free(pids);
	free(ppids);
	closedir(d);
	return rc;
}

/* ---- cgroups ---- */

int64_t probe_parse_limit(const char *text)
{
	while (*text == ' ')
		text++;
	if (strncmp(text, "max", 3) == 0)
		return HR_UNKNOWN;
	uint64_t v;
	const char *p = text;
	if (util_parse_u64(&p, &v) < 0)
		return HR_UNKNOWN;
	/* v1 reports "unlimited" as LONG_MAX rounded down to a page */
	if (v >= (1ULL << 62))
		return HR_UNKNOWN;
	return (int64_t)v;
}

static int64_t keyed_value(const char *text, const char *key)
{
	size_t n = strlen(key);
	for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, key, n) == 0 && line[n] == ' ') {
			const char *p = line + n;
			uint64_t v;
			if (util_parse_u64(&p, &v) == 0)
				return v <= (uint64_t)INT64_MAX ? (int64_t)v : HR_UNKNOWN;
		}
	}
	return HR_UNKNOWN;
}

int probe_parse_cgroup_stat(const char *text, int version, struct cgroup_stats *ret)
{
	if (version == 1) {
		/* total_* include descendants: a container's cgroup has its processes below it */
		ret->inactive_file = keyed_value(text, "total_inactive_file");
		if (ret->inactive_file == HR_UNKNOWN)
			ret->inactive_file = keyed_value(text, "inactive_file");
		ret->active_file = keyed_value(text, "total_active_file");
		int64_t rss = keyed_value(text, "total_rss");
		ret->anon = rss;
		ret->file = keyed_value(text, "total_cache");
		ret->shmem = keyed_value(text, "total_shmem");
	} else {
		ret->inactive_file = keyed_value(text, "inactive_file");
		ret->active_file = keyed_value(text, "active_file");
		ret->anon = keyed_value(text, "anon");
		ret->file = keyed_value(text, "file");
		ret->shmem = keyed_value(text, "shmem");
	}
	return ret->inactive_file == HR_UNKNOWN ? -EINVAL : 0;
}

int probe_parse_cgroup_events(const char *text, struct cgroup_stats *ret)
{
	ret->oom_kills = keyed_value(text, "oom_kill");
	ret->oom_events = keyed_value(text, "oom");
	ret->limit_hits = keyed_value(text, "max");
	return ret->oom_kills == HR_UNKNOWN ? -EINVAL : 0;
}

int probe_parse_oom_control(const char *text, struct cgroup_stats *ret)
{
	ret->oom_kills = keyed_value(text, "oom_kill");
	ret->oom_events = keyed_value(text, "under_oom");
	/* kernels before 4.13 have no oom_kill line: unknown, not zero */
	return keyed_value(text, "oom_kill_disable") == HR_UNKNOWN ? -EINVAL : 0;
}

int probe_parse_pressure(const char *text, struct cgroup_stats *ret)
{
	ret->psi_some_avg10 = ret->psi_full_avg10 = -1;
	const char *s = strstr(text, "some avg10=");
	if (s)
		ret->psi_some_avg10 = strtod(s + 11, NULL);
	const char *f = strstr(text, "full avg10=");
	if (f)
		ret->psi_full_avg10 = strtod(f + 11, NULL);
	return s ? 0 : -EINVAL;
}

static int open_at(int dirfd, const char *name, int flags)
{
	return openat(dirfd, name, flags | O_CLOEXEC);
}

void probe_cgroup_close(struct cgroup_handle *c)
{
	int *fds[] = {&c->fd_usage, &c->fd_peak, &c->fd_limit, &c->fd_stat, &c->fd_events,
		      &c->fd_failcnt, &c->fd_pressure, &c->fd_high, &c->dirfd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int probe_cgroup_open(struct cgroup_handle *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	c->fd_usage = c->fd_peak = c->fd_limit = c->fd_stat = c->fd_events = c->fd_failcnt = -1;
	c->fd_pressure = c->fd_high = -1;
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0)
		return -errno;
	if ((c->fd_usage = open_at(c->dirfd, "memory.current", O_RDONLY)) >= 0) {
		c->version = 2;
		c->fd_peak = open_at(c->dirfd, "memory.peak", O_RDWR);
		if (c->fd_peak < 0)
			c->fd_peak = open_at(c->dirfd, "memory.peak", O_RDONLY);
		c->fd_limit = open_at(c->dirfd, "memory.max", O_RDONLY);
		c->fd_high = open_at(c->dirfd, "memory.high", O_RDONLY);
		c->fd_stat = open_at(c->dirfd, "memory.stat", O_RDONLY);
		c->fd_events = open_at(c->dirfd, "memory.events", O_RDONLY);
		c->fd_pressure = open_at(c->dirfd, "memory.pressure", O_RDONLY);
	} else if ((c->fd_usage = open_at(c->dirfd, "memory.usage_in_bytes", O_RDONLY)) >= 0) {
		c->version = 1;
		c->fd_peak = open_at(c->dirfd, "memory.max_usage_in_bytes", O_RDWR);
		c->fd_limit = open_at(c->dirfd, "memory.limit_in_bytes", O_RDONLY);
		c->fd_stat = open_at(c->dirfd, "memory.stat", O_RDONLY);
		c->fd_events = open_at(c->dirfd, "memory.oom_control", O_RDONLY);
		c->fd_failcnt = open_at(c->dirfd, "memory.failcnt", O_RDONLY);
	} else {
		probe_cgroup_close(c);
		return -ENOTDIR;
	}
	if (c->fd_stat < 0) {
		probe_cgroup_close(c);
		return -ENOTDIR;
	}
	c->peak_resettable = true; /* until the kernel says otherwise */
	return 0;
}

static int64_t read_number(int fd)
{
	char buf[64];
	if (fd < 0 || util_read_fd(fd, buf, sizeof(buf)) <= 0)
		return HR_UNKNOWN;
	const char *p = buf;
	uint64_t v;
	return util_parse_u64(&p, &v) == 0 && v <= (uint64_t)INT64_MAX ? (int64_t)v : HR_UNKNOWN;
}

int probe_cgroup_read(struct cgroup_handle *c, bool full, struct cgroup_stats *ret)
{
	char buf[64];
	ssize_t n = util_read_fd(c->fd_usage, buf, sizeof(buf));
	if (n <= 0)
		return n == 0 ? -ENODEV : (int)n; /* a removed cgroup reads ENODEV */
	ret->usage = strtoll(buf, NULL, 10);
	ret->peak = c->fd_peak >= 0 ? read_number(c->fd_peak) : HR_UNKNOWN;
	if (!full)
		return 0;
	ret->limit = HR_UNKNOWN;
	if (c->fd_limit >= 0 && util_read_fd(c->fd_limit, buf, sizeof(buf)) > 0)
		ret->limit = probe_parse_limit(buf);
	ret->high = HR_UNKNOWN;
	if (c->fd_high >= 0 && util_read_fd(c->fd_high, buf, sizeof(buf)) > 0)
		ret->high = probe_parse_limit(buf);
	char text[8192];
	n = util_read_fd(c->fd_stat, text, sizeof(text));
	if (n > 0 || n == -EFBIG)
		probe_parse_cgroup_stat(text, c->version, ret);
	if (c->fd_events >= 0 && util_read_fd(c->fd_events, text, sizeof(text)) > 0) {
		if (c->version == 2)
			probe_parse_cgroup_events(text, ret);
		else
			probe_parse_oom_control(text, ret);
	}
	if (c->version == 1)
		ret->limit_hits = read_number(c->fd_failcnt);
	ret->psi_some_avg10 = ret->psi_full_avg10 = -1;
	if (c->fd_pressure >= 0 && util_read_fd(c->fd_pressure, text, sizeof(text)) > 0)
		probe_parse_pressure(text, ret);
	if (ret->inactive_file != HR_UNKNOWN)
		ret->working_set = ret->usage > ret->inactive_file ? ret->usage - ret->inactive_file : 0;
	return 0;
}

int probe_cgroup_reset_peak(struct cgroup_handle *c)
{
	if (!c->peak_resettable || c->fd_peak < 0)
		return -EPERM;
	/* v1: any write resets max_usage to the current usage; v2 (6.12+): resets for this fd only */
	const char *text = c->version == 1 ? "0" : "reset";
	if (pwrite(c->fd_peak, text, strlen(text), 0) < 0) {
		int e = errno;
		c->peak_resettable = false;
		return -e;
	}
	return 0;
}

static int collect_pids(int dirfd, pid_t *ret, int max, int count, int depth)
{
	int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return depth == 0 ? -errno : count;
	char buf[8192];
	ssize_t n;
	uint64_t cur = 0;
	bool in_num = false;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (isdigit((unsigned char)buf[i])) {
				cur = cur * 10 + (uint64_t)(buf[i] - '0');
				in_num = true;
			} else if (in_num) {
				if (count < max)
					ret[count++] = (pid_t)cur;
				cur = 0;
				in_num = false;
			}
		}
	}
	if (in_num && count < max)
		ret[count++] = (pid_t)cur;
	close(fd);
	if (depth > 16)
		return count;
	int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return count;
	}
	struct dirent *de;
	while ((de = readdir(d)) && count < max) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub < 0)
			continue;
		count = collect_pids(sub, ret, max, count, depth + 1);
		close(sub);
	}
	closedir(d);
	return count;
}

int probe_cgroup_pids(const struct cgroup_handle *c, pid_t *ret_pids, int max)
{
	return collect_pids(c->dirfd, ret_pids, max, 0, 0);
}
