#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define PREFIX "headroom-"

int cgroup_parse_mountinfo_line(const char *text, int version, char *ret, size_t len)
{
	/* id parent major:minor root mountpoint options ... - fstype source superoptions */
	char mnt[1024], fstype[64], super[1024];
	const char *dash = strstr(text, " - ");
	if (!dash || sscanf(text, "%*s %*s %*s %*s %1023s", mnt) != 1)
		return -ENOENT;
	if (sscanf(dash + 3, "%63s %*s %1023s", fstype, super) < 1)
		return -ENOENT;
	if (version == 2 && strcmp(fstype, "cgroup2") == 0) {
		snprintf(ret, len, "%s", mnt);
		return 0;
	}
	if (version == 1 && strcmp(fstype, "cgroup") == 0) {
		/* superoptions like rw,memory or rw,cpu,memory */
		char *save = NULL;
		for (char *tok = strtok_r(super, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			if (strcmp(tok, "memory") == 0) {
				snprintf(ret, len, "%s", mnt);
				return 0;
			}
	}
	return -ENOENT;
}

/* The mount point of the v1 memory hierarchy or of cgroup2, from /proc/self/mountinfo. */
static int find_mount(int version, char *ret, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char line[4096];
	int rc = -ENOENT;
	while (rc < 0 && fgets(line, sizeof(line), f))
		rc = cgroup_parse_mountinfo_line(line, version, ret, len);
	fclose(f);
	return rc;
}

int cgroup_parse_cgroup_line(const char *text, int version, char *ret, size_t len)
{
	char line[2048];
	snprintf(line, sizeof(line), "%s", text);
	line[strcspn(line, "\n")] = '\0';
	char *c1 = strchr(line, ':');
	char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c2)
		return -ENOENT;
	*c2 = '\0';
	const char *ctrls = c1 + 1, *path = c2 + 1;
	bool match = false;
	if (version == 2)
		match = strncmp(line, "0", 1) == 0 && ctrls[0] == '\0';
	else {
		char tmp[256], *save = NULL;
		snprintf(tmp, sizeof(tmp), "%s", ctrls);
		for (char *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			if (strcmp(tok, "memory") == 0)
				match = true;
	}
	if (!match)
		return -ENOENT;
	snprintf(ret, len, "%s", path);
	return 0;
}

/* Our path inside the hierarchy from /proc/self/cgroup. */
static int own_path(int version, char *ret, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -errno;
	char line[2048];
	int rc = -ENOENT;
	while (rc < 0 && fgets(line, sizeof(line), f))
		rc = cgroup_parse_cgroup_line(line, version, ret, len);
	fclose(f);
	return rc;
}

static bool v2_has_memory(const char *dir)
{
	char path[1100], buf[512];
	snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
	if (util_read_file(path, buf, sizeof(buf)) < 0)
		return false;
	char *save;
	for (char *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
		if (strcmp(tok, "memory") == 0)
			return true;
	return false;
}

int cgroup_find_own(int *ret_version, char *ret_dir, size_t len)
{
	char mnt[1024], rel[1024];
	if (find_mount(2, mnt, sizeof(mnt)) == 0 && own_path(2, rel, sizeof(rel)) == 0) {
		char dir[2100];
		snprintf(dir, sizeof(dir), "%s%s", mnt, strcmp(rel, "/") == 0 ? "" : rel);
		/* the memory controller is ours on v2 only if the root offers it */
		if (v2_has_memory(mnt)) {
			*ret_version = 2;
			snprintf(ret_dir, len, "%s", dir);
			return 0;
		}
	}
	if (find_mount(1, mnt, sizeof(mnt)) == 0 && own_path(1, rel, sizeof(rel)) == 0) {
		*ret_version = 1;
		snprintf(ret_dir, len, "%s%s", mnt, strcmp(rel, "/") == 0 ? "" : rel);
		return 0;
	}
	return -ENOENT;
}

static void kill_all(const char *dir);

/* Is `owner` a live headroom? A pid alone is not enough: after a crash it may have been reused. */
bool cgroup_headroom_alive(pid_t owner)
{
	if (kill(owner, 0) < 0 && errno != EPERM)
		return false;
	char path[64], comm[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)owner);
	if (util_read_file(path, comm, sizeof(comm)) <= 0)
		return false;
	return strncmp(comm, "headroom", 8) == 0;
}

/* A headroom killed by SIGKILL cannot clean up: its successor kills what its command left running
 * (children it forked outlive it in the cgroup) and removes the cgroup. */
static void sweep_leftovers(const char *parent)
{
	DIR *d = opendir(parent);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, PREFIX, strlen(PREFIX)) != 0)
			continue;
		const char *num = de->d_name + strlen(PREFIX);
		uint64_t owner;
		if (util_parse_u64(&num, &owner) < 0 || *num || owner == 0 || owner > CGROUP_PID_MAX ||
		    cgroup_headroom_alive((pid_t)owner))
			continue;
		char dir[2048];
		snprintf(dir, sizeof(dir), "%s/%s", parent, de->d_name);
		for (int attempt = 0; attempt < 100 && rmdir(dir) < 0 && errno == EBUSY; attempt++) {
			kill_all(dir);
			struct timespec ts = {0, 10 * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	closedir(d);
}

static int write_at(const char *dir, const char *file, const char *text)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return util_write_file(path, text);
}

static int try_create(struct cgroup_run *cg, const char *parent, int version, int64_t limit_bytes)
{
	if (version == 2) {
		/* children get the memory controller only when the parent enables it */
		int rc = write_at(parent, "cgroup.subtree_control", "+memory");
		if (rc < 0)
			return rc;
	}
	sweep_leftovers(parent);
	snprintf(cg->path, sizeof(cg->path), "%s/" PREFIX "%d", parent, (int)getpid());
	if (mkdir(cg->path, 0755) < 0)
		return -errno;
	cg->version = version;
	cg->created = true;
	if (limit_bytes > 0) {
		char num[32];
		snprintf(num, sizeof(num), "%lld", (long long)limit_bytes);
		int rc = write_at(cg->path, version == 2 ? "memory.max" : "memory.limit_in_bytes", num);
		if (rc == 0 && version == 2)
			write_at(cg->path, "memory.swap.max", "0"); /* Kubernetes pods get no swap */
		if (rc < 0) {
			cgroup_remove(cg);
			return rc;
		}
	}
	return 0;
}

int cgroup_create(struct cgroup_run *ret, int64_t limit_bytes, char *why, size_t len)
{
	memset(ret, 0, sizeof(*ret));
	int version;
	char own[1024];
	int rc = cgroup_find_own(&version, own, sizeof(own));
	if (rc < 0) {
		snprintf(why, len, "no cgroup memory controller is mounted");
		return rc;
	}
	rc = try_create(ret, own, version, limit_bytes);
	if (rc < 0 && version == 2) {
		/* our own v2 cgroup holds processes, so it cannot delegate: try the root */
		char mnt[1024];
		if (find_mount(2, mnt, sizeof(mnt)) == 0 && strcmp(mnt, own) != 0) {
			char root_dir[1100];
			snprintf(root_dir, sizeof(root_dir), "%s/headroom", mnt);
			for (int attempt = 0; attempt < 3; attempt++) {
				if (mkdir(root_dir, 0755) < 0 && errno != EEXIST)
					break;
				if (write_at(mnt, "cgroup.subtree_control", "+memory") < 0)
					break;
				rc = try_create(ret, root_dir, version, limit_bytes);
				/* -ENOENT: another run removed the empty parent between our mkdir and ours */
				if (rc != -ENOENT)
					break;
			}
			if (rc == 0)
				snprintf(ret->parent, sizeof(ret->parent), "%s", root_dir);
			else
				rmdir(root_dir); /* fails (EBUSY) while another run uses it */
		}
	}
	if (rc < 0) {
		snprintf(why, len, "cannot create a cgroup v%d under %s: %s%s", version, own, strerror(-rc),
			 rc == -EACCES || rc == -EPERM || rc == -EROFS ? " (run as root or delegate a cgroup)" : "");
		return rc;
	}
	return 0;
}

int cgroup_enter(const struct cgroup_run *cg, pid_t pid)
{
	/* async-signal-safe: no stdio, no malloc */
	char path[1100];
	size_t n = strlen(cg->path);
	if (n + sizeof("/cgroup.procs") > sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, cg->path, n);
	memcpy(path + n, "/cgroup.procs", sizeof("/cgroup.procs"));
	if (pid == 0)
		pid = getpid();
	char num[16];
	int i = sizeof(num);
	num[--i] = '\0';
	do {
		num[--i] = (char)('0' + pid % 10);
		pid /= 10;
	} while (pid > 0);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t w = write(fd, num + i, strlen(num + i));
	int rc = w < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int cgroup_parse_procs(const char *text, size_t n, bool complete, pid_t *ret_pids, int max)
{
	int count = 0;
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		uint64_t v = 0;
		while (j < n && text[j] >= '0' && text[j] <= '9') {
			v = v * 10 + (uint64_t)(text[j] - '0');
			if (v > CGROUP_PID_MAX)
				return -EPROTO;
			j++;
		}
		bool ended = j < n && text[j] == '\n';
		if (j == n && !complete)
			break; /* a line the read may have cut: not a pid */
		if ((j < n && !ended) || j == i || v == 0)
			return -EPROTO;
		if (count < max)
			ret_pids[count++] = (pid_t)v;
		i = j + 1;
	}
	return count;
}

int cgroup_read_procs(const char *dir, pid_t *ret_pids, int max)
{
	char path[1100];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* one chunk at a time; a line split across two reads is carried into the next one */
	char buf[4096];
	size_t have = 0;
	int count = 0, rc = 0;
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof(buf) - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		have += (size_t)r;
		bool eof = r == 0;
		size_t whole = have;
		if (!eof) {
			while (whole > 0 && buf[whole - 1] != '\n')
				whole--;
			if (whole == 0 && have == sizeof(buf)) {
				rc = -EPROTO; /* a 4 KiB line is not a pid */
				break;
			}
		}
		int k = cgroup_parse_procs(buf, whole, eof, ret_pids + count, max - count);
		if (k < 0) {
			rc = k;
			break;
		}
		count += k;
		memmove(buf, buf + whole, have - whole);
		have -= whole;
		if (eof || count >= max)
			break;
	}
	close(fd);
	return rc < 0 ? rc : count;
}

static void kill_all(const char *dir)
{
	char path[1100];
	snprintf(path, sizeof(path), "%s/cgroup.kill", dir);
	if (util_write_file(path, "1") == 0)
		return;
	pid_t pids[1024];
	int n = cgroup_read_procs(dir, pids, 1024);
	for (int i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
}

int cgroup_remove(struct cgroup_run *cg)
{
	if (!cg->created)
		return 0;
	/* a few tries: killed processes take a moment to leave, and v1 uncharges lazily */
	for (int attempt = 0; attempt < 200; attempt++) {
		if (rmdir(cg->path) == 0 || errno == ENOENT) {
			cg->created = false;
			/* nothing of ours left behind; EBUSY while another run still uses the parent */
			if (cg->parent[0])
				rmdir(cg->parent);
			cg->parent[0] = '\0';
			return 0;
		}
		if (errno != EBUSY)
			return -errno;
		kill_all(cg->path);
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return -EBUSY;
}
