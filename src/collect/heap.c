#include "heap.h"

#include <dirent.h>
#include <linux/futex.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "util.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

/* --- environment ------------------------------------------------------------------------- */
static struct {
	bool saved;
	bool had_preload;
	char *preload;
} env_saved;

static int run_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > 32)
		return 0;
	for (const char *c = id; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
			return 0;
	return 1;
}

static int env_prepare(const char *shim_path, const char *mode, int64_t interval, char *run_id_out, size_t len)
{
	if (!shim_path || !mode || !run_id_out || len < 17 ||
	    (strcmp(mode, "stats") != 0 && strcmp(mode, "count") != 0 && strcmp(mode, "sites") != 0))
		return -EINVAL;
	if (strcmp(mode, "sites") == 0 && interval != 0 && !heap_interval_valid(interval))
		return -EINVAL;
	/* the loader splits LD_PRELOAD at spaces and colons */
	if (strpbrk(shim_path, " :") || shim_path[0] != '/')
		return -EINVAL;
	if (access(shim_path, R_OK) != 0)
		return -ENOENT;
	char id[17];
	snprintf(id, sizeof(id), "%08x%08x", (unsigned)getpid(), (unsigned)(util_now_ns() & 0xffffffff));

	const char *old = getenv("LD_PRELOAD");
	if (!env_saved.saved) {
		env_saved.had_preload = old != NULL;
		env_saved.preload = old ? strdup(old) : NULL;
		if (old && !env_saved.preload)
			return -ENOMEM;
		env_saved.saved = true;
	}
	/* the shim goes first: the program's malloc must resolve to it, and the shim forwards to
	 * the next definition, which is a preloaded jemalloc/mimalloc when there is one */
	size_t n = strlen(shim_path) + (old ? strlen(old) : 0) + 2;
	char *pre = malloc(n);
	if (!pre)
		return -ENOMEM;
	if (old && *old && !strstr(old, shim_path))
		snprintf(pre, n, "%s %s", shim_path, old);
	else if (old && *old)
		snprintf(pre, n, "%s", old);
	else
		snprintf(pre, n, "%s", shim_path);
	int rc = 0;
	char iv[24];
	snprintf(iv, sizeof(iv), "%lld", (long long)(interval ? interval : HEAP_SITE_INTERVAL_DEFAULT));
	if (setenv("LD_PRELOAD", pre, 1) != 0 || setenv(HEAP_ENV_RUN, id, 1) != 0 ||
	    setenv(HEAP_ENV_MODE, mode, 1) != 0 ||
	    (strcmp(mode, "sites") == 0 && setenv(HEAP_ENV_INTERVAL, iv, 1) != 0))
		rc = -errno;
	free(pre);
	if (rc == 0)
		snprintf(run_id_out, len, "%s", id);
	return rc;
}

int heap_env_prepare(const char *shim_path, const char *mode, char *run_id_out, size_t len)
{
	return env_prepare(shim_path, mode, 0, run_id_out, len);
}

bool heap_interval_valid(int64_t bytes)
{
	return bytes >= HEAP_SITE_INTERVAL_MIN && bytes <= HEAP_SITE_INTERVAL_MAX;
}

void heap_env_restore(void)
{
	if (!env_saved.saved)
		return;
	if (env_saved.had_preload)
		setenv("LD_PRELOAD", env_saved.preload ? env_saved.preload : "", 1);
	else
		unsetenv("LD_PRELOAD");
	unsetenv(HEAP_ENV_RUN);
	unsetenv(HEAP_ENV_MODE);
	unsetenv(HEAP_ENV_INTERVAL);
	free(env_saved.preload);
	env_saved.preload = NULL;
	env_saved.saved = false;
}

/* Set by CMakeLists.txt from the install directories; these defaults serve other builds. */
#ifndef HEADROOM_SHIM_RELDIR
#define HEADROOM_SHIM_RELDIR "../lib/headroom"
#endif
#ifndef HEADROOM_SHIM_LIBDIR
#define HEADROOM_SHIM_LIBDIR "/usr/local/lib/headroom"
#endif

const char *heap_shim_default_path(void)
{
	static char path[PATH_MAX + 64];
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, sizeof(path), "%s/libheadroom-heap.so", exe);
			if (access(path, R_OK) == 0)
				return path;
			/* the installed layout, relative so that it holds under DESTDIR or a moved prefix */
			static const char *const rel[] = {HEADROOM_SHIM_RELDIR, "../lib/headroom"};
			for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
				char cand[PATH_MAX + 64];
				snprintf(cand, sizeof(cand), "%s/%s/libheadroom-heap.so", exe, rel[i]);
				if (access(cand, R_OK) == 0 && realpath(cand, path))
					return path;
			}
		}
	}
	static const char *const fixed[] = {HEADROOM_SHIM_LIBDIR "/libheadroom-heap.so",
					    "/usr/local/lib/headroom/libheadroom-heap.so",
					    "/usr/lib/headroom/libheadroom-heap.so"};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (access(fixed[i], R_OK) == 0)
			return fixed[i];
	return NULL;
}

/* --- the reader's table ------------------------------------------------------------------ */
struct entry {
	pid_t pid;
	int fd;                   /* our own open file of the segment */
	int target_fd;            /* N of /proc/PID/fd/N where it was found; -1: only mapped now */
	dev_t dev;
	ino_t ino;                /* the segment's inode: what "the same segment" means */
	struct heap_seg *seg;
	size_t map_size;          /* sizeof(struct heap_seg), or HEAP_SEG_SIZE_SITES */
	bool valid;               /* its header checked out in the current read */
	uint32_t req_id;          /* the request we raised last, 0 none */
	int64_t req_ns;           /* when we raised it (our clock) */
	int64_t answer_ns;        /* when we raised the request the latest answer is to; HR_UNKNOWN none */
	int64_t last_live;        /* live bytes at the previous read: the start of this interval */
	int64_t checked_ns;       /* when we last confirmed the target still maps it (fd closed) */
	int bad_reads;            /* consecutive reads with an invalid header */
	bool used;                /* seen in the current read */
	bool raised;              /* a request raised in the current read */
};

#define SETUP_PIDS 32
static struct {
	char run[40];
	struct entry e[HEAP_READER_MAX];
	int n;
	int reads;
	int64_t first_ns;
	/* processes whose segment looked half made (empty, unsealed, not yet 0600) in a row: the
	 * shim makes it in several steps, and a read may fall between them */
	struct {
		pid_t pid;
		int reads;
	} setup[SETUP_PIDS];
	int nsetup;
} rd;

/* Another read that found pid's segment half made; true while that may still be its set-up. */
static bool setup_pending(pid_t pid)
{
	int i = 0;
	while (i < rd.nsetup && rd.setup[i].pid != pid)
		i++;
	if (i == rd.nsetup) {
		i = rd.nsetup < SETUP_PIDS ? rd.nsetup++ : (int)((unsigned)pid % SETUP_PIDS);
		rd.setup[i].pid = pid;
		rd.setup[i].reads = 0;
	}
	return ++rd.setup[i].reads < HEAP_CORRUPT_READS;
}

static void entry_drop(struct entry *e)
{
	if (e->seg)
		munmap(e->seg, e->map_size);
	if (e->fd >= 0)
		close(e->fd);
	*e = rd.e[--rd.n];
}

static void reader_reset(const char *run)
{
	while (rd.n > 0)
		entry_drop(&rd.e[rd.n - 1]);
	memset(&rd, 0, sizeof(rd));
	snprintf(rd.run, sizeof(rd.run), "%s", run);
}

static struct entry *entry_find(pid_t pid)
{
	for (int i = 0; i < rd.n; i++)
		if (rd.e[i].pid == pid)
			return &rd.e[i];
	return NULL;
}

/* What /proc/PID/fd/N reads for the segment of this run and pid. */
static void seg_link_name(char *buf, size_t len, pid_t pid)
{
	snprintf(buf, len, "/memfd:" HEAP_SEG_NAME "%s-%d (deleted)", rd.run, (int)pid);
}

static bool fd_is_seg(pid_t pid, int n, const char *want)
{
	char path[64], link[160];
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, n);
	ssize_t k = readlink(path, link, sizeof(link) - 1);
	if (k <= 0)
		return false;
	link[k] = '\0';
	return strcmp(link, want) == 0;
}

/* N such that /proc/PID/fd/N is the segment (by name); -ENOENT none. The shim puts it at
 * HEAP_SEG_FD_MIN or just above: those first, then every fd. */
static int seg_find_fd(pid_t pid)
{
	char want[160];
	seg_link_name(want, sizeof(want), pid);
	for (int n = HEAP_SEG_FD_MIN; n < HEAP_SEG_FD_MIN + 4; n++)
		if (fd_is_seg(pid, n, want))
			return n;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -ENOENT;
	int found = -ENOENT;
	struct dirent *de;
	while (found < 0 && (de = readdir(d))) {
		char *end;
		long n = strtol(de->d_name, &end, 10);
		if (*end == '\0' && n >= 0 && n < INT_MAX && fd_is_seg(pid, (int)n, want))
			found = (int)n;
	}
	closedir(d);
	return found;
}

/* Where the process maps the segment, for a process that closed its fd (a daemon's close-all
 * before we first looked): "/proc/PID/map_files/START-END" into path; -ENOENT none. Opening it
 * needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE (headroom as root has them). */
static int seg_find_map(pid_t pid, char *path, size_t len)
{
	char maps[64], line[512], name[160];
	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	seg_link_name(name, sizeof(name), pid);
	FILE *f = fopen(maps, "re");
	if (!f)
		return -ENOENT;
	int rc = -ENOENT;
	while (rc < 0 && fgets(line, sizeof(line), f)) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		size_t n = strlen(line), k = strlen(name);
		char *sp = strchr(line, ' ');
		if (n > k && strcmp(line + n - k, name) == 0 && line[n - k - 1] == ' ' && sp) {
			*sp = '\0';   /* "start-end" */
			snprintf(path, len, "/proc/%d/map_files/%s", (int)pid, line);
			rc = 0;
		}
	}
	fclose(f);
	return rc;
}

/* The process's four uids (real, effective, saved, filesystem) from its status file. */
static int proc_uids(pid_t pid, uid_t uids[4])
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	ssize_t n = util_read_file(path, buf, sizeof(buf));
	if (n < 0 && n != -EFBIG)
		return (int)n;
	buf[sizeof(buf) - 1] = '\0';
	const char *p = strstr(buf, "\nUid:");
	if (!p)
		return -EPROTO;
	p += 5;
	for (int i = 0; i < 4; i++) {
		uint64_t v;
		if (util_parse_u64(&p, &v) < 0)
			return -EPROTO;
		uids[i] = (uid_t)v;
	}
	return 0;
}

/* A segment we did not make must prove itself before we map it: a regular file of exactly the
 * segment's size, sealed against shrinking and growing (so no one can truncate it under our
 * mapping), mode 0600, owned by root, by us, or by the process itself (the process could write
 * anything into its own segment anyway; another local user must not). -EPERM with a reason. */
static int seg_trust(int fd, pid_t pid, struct stat *st, char *why, size_t len)
{
	if (fstat(fd, st) < 0)
		return -errno;
	if (!S_ISREG(st->st_mode) || (st->st_size != (off_t)sizeof(struct heap_seg) &&
				       st->st_size != (off_t)HEAP_SEG_SIZE_SITES)) {
		snprintf(why, len, "is %lld bytes, not the %zu of a segment", (long long)st->st_size,
			 sizeof(struct heap_seg));
		return S_ISREG(st->st_mode) ? -EINPROGRESS : -EPERM;
	}
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW)) {
		snprintf(why, len, "is not sealed against truncation");
		return -EINPROGRESS;
	}
	if (st->st_mode & 077) {
		snprintf(why, len, "has mode %04o, not 0600", (unsigned)(st->st_mode & 07777));
		return -EINPROGRESS;
	}
	uid_t uids[4];
	bool ok = st->st_uid == 0 || st->st_uid == geteuid();
	if (!ok && proc_uids(pid, uids) == 0)
		for (int i = 0; i < 4; i++)
			ok = ok || uids[i] == st->st_uid;
	if (!ok) {
		snprintf(why, len, "is owned by uid %u, neither the process's nor root's",
			 (unsigned)st->st_uid);
		return -EPERM;
	}
	return 0;
}

/* 0 mapped; -ENOENT no segment; -EPERM a segment we refuse (why says why); -EINPROGRESS one that
 * looks half made (empty, unsealed, not 0600: why says which); -ENOSPC table full */
static int entry_open(pid_t pid, struct entry **ret, char *why, size_t len)
{
	if (rd.n >= HEAP_READER_MAX)
		return -ENOSPC;
	int n = seg_find_fd(pid);
	char path[128];
	if (n >= 0)
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, n);
	else if (seg_find_map(pid, path, sizeof(path)) < 0)
		return -ENOENT;
	/* a name is only a name: an open of a device or a fifo could act on it, so the inode must
	 * look like a memfd (a regular file with no link) before it is opened */
	struct stat pre;
	if (stat(path, &pre) < 0 || !S_ISREG(pre.st_mode) || pre.st_nlink != 0)
		return -ENOENT;
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (errno != EACCES)
			return -ENOENT;   /* the process closed it or exited between the looks */
		snprintf(why, len, "cannot be opened by headroom (permission denied)");
		return -EPERM;
	}
	struct stat st;
	int rc = seg_trust(fd, pid, &st, why, len);
	if (rc == 0 && (st.st_ino != pre.st_ino || st.st_dev != pre.st_dev))
		rc = -ENOENT;   /* the fd changed between the two looks: next read */
	if (rc < 0) {
		close(fd);
		return rc;
	}
	size_t map_size = (size_t)st.st_size;
	void *m = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	struct entry *e = &rd.e[rd.n++];
	*e = (struct entry){.pid = pid, .fd = fd, .target_fd = n >= 0 ? n : -1, .dev = st.st_dev, .ino = st.st_ino,
			    .seg = m, .map_size = map_size, .answer_ns = HR_UNKNOWN, .last_live = HR_UNKNOWN};
	*ret = e;
	return 0;
}

/* The target maps an inode ino named like our segment (it closed the fd, a daemon's close-all). */
static bool proc_maps_ino(pid_t pid, ino_t ino)
{
	char path[64], line[512], name[160];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	snprintf(name, sizeof(name), "/memfd:" HEAP_SEG_NAME "%s-%d", rd.run, (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long long i = 0;
		char *nm = strstr(line, name);
		if (nm && sscanf(line, "%*s %*s %*s %*s %llu", &i) == 1 && i == (unsigned long long)ino)
			found = true;
	}
	fclose(f);
	return found;
}

/* Is e still the process's segment? 1 yes; 0 the process has another one now (an exec, with the
 * shim again); -1 none (an exec without the shim). One stat a read; more only when it changed. */
static int entry_current(struct entry *e, int64_t now)
{
	char path[64];
	struct stat st;
	if (e->target_fd >= 0) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)e->pid, e->target_fd);
		if (stat(path, &st) == 0 && st.st_ino == e->ino && st.st_dev == e->dev)
			return 1;
	} else if (now - e->checked_ns < HEAP_RECHECK_NS) {
		return 1;
	}
	int n = seg_find_fd(e->pid);
	if (n >= 0) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)e->pid, n);
		if (stat(path, &st) == 0 && st.st_ino == e->ino && st.st_dev == e->dev) {
			e->target_fd = n;
			return 1;
		}
		return 0;
	}
	e->target_fd = -1;
	e->checked_ns = now;
	return proc_maps_ino(e->pid, e->ino) ? 1 : -1;
}

/* A header we can trust: anything else is skipped, never followed. 1 valid, 0 not initialised
 * yet, -1 corrupt. */
static int seg_check(const struct heap_seg *s, size_t map_size, pid_t pid)
{
	uint64_t magic = __atomic_load_n(&s->magic, __ATOMIC_ACQUIRE);
	if (magic == 0)
		return 0;
	uint32_t mode = LOAD(&s->mode);
	/* the sites area exists exactly in a sites-mode segment */
	if (magic != HEAP_SEG_MAGIC || LOAD(&s->version) != HEAP_SEG_VERSION ||
	    LOAD(&s->size) != map_size || LOAD(&s->pid) != pid ||
	    LOAD(&s->nslots) != HEAP_SEG_SLOTS || LOAD(&s->hiwater) > HEAP_SEG_SLOTS ||
	    (mode != HEAP_SEG_STATS && mode != HEAP_SEG_COUNT && mode != HEAP_SEG_SITES) ||
	    (mode == HEAP_SEG_SITES) != (map_size == HEAP_SEG_SIZE_SITES) ||
	    LOAD(&s->allocator) > HEAP_ALLOC_MIMALLOC)
		return -1;
	return 1;
}

/* The figures come from the target's memory, so any value is possible: sums saturate instead
 * of overflowing (undefined behaviour, then nonsense). */
static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static void add(int64_t *sum, int64_t v)
{
	if (v == HR_UNKNOWN)
		return;
	*sum = *sum == HR_UNKNOWN ? v : sat_add(*sum, v);
}

static void reason_add(struct heap_totals *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void reason_add(struct heap_totals *t, const char *fmt, ...)
{
	if (t->reason[0])
		return;   /* the first reason is the one worth reading */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->reason, sizeof(t->reason), fmt, ap);
	va_end(ap);
}

static void totals_clear(struct heap_totals *t, int npids)
{
	memset(t, 0, sizeof(*t));
	t->nprocs = npids;
	t->live = t->held = t->mmapped = t->allocs = t->frees = HR_UNKNOWN;
	t->live_blocks = t->live_peak = t->stats_age_ns = t->taken_ns = HR_UNKNOWN;
}

/* Raises a request on e when the last one was answered and HEAP_STATS_INTERVAL_NS has passed,
 * and wakes the service thread. A request still pending stays as it is: the process has not
 * answered (stopped, or no service thread and no malloc since). */
static void entry_ask(struct entry *e, int64_t now)
{
	struct heap_seg *s = e->seg;
	e->raised = false;
	uint32_t req = __atomic_load_n(&s->request, __ATOMIC_ACQUIRE);
	uint32_t pub = __atomic_load_n(&s->published, __ATOMIC_ACQUIRE);
	if (e->req_id && req == 0 && pub == e->req_id)
		e->answer_ns = e->req_ns;
	/* 9/10: a sampler whose interval equals HEAP_STATS_INTERVAL_NS reads a little early now and
	 * then, and would otherwise ask only every other read */
	if (e->req_id && now - e->req_ns < HEAP_STATS_INTERVAL_NS * 9 / 10)
		return;
	/* Still pending (a stopped process): ask again under a new id, so that the answer it gives
	 * when it runs again is dated from then, not from the first unanswered request. No wait for
	 * it in this read. If the shim answers the old id meanwhile, that answer matches nothing
	 * and the next read asks again: an answer is never dated earlier than it was asked for. */
	uint32_t id = req != 0 ? e->req_id + 1 : pub + 1;
	if (id == 0)
		id = 1;
	e->raised = req == 0;
	e->req_id = id;
	e->req_ns = now;
	__atomic_store_n(&s->request, id, __ATOMIC_RELEASE);
	syscall(SYS_futex, &s->request, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* Waits up to HEAP_ANSWER_WAIT_NS for the requests raised in this read, so that a process that
 * can answer gives the figures of this instant, not of the previous read. */
static void answers_wait(int64_t start)
{
	for (;;) {
		bool waiting = false;
		for (int i = 0; i < rd.n; i++) {
			struct entry *e = &rd.e[i];
			if (!e->raised)
				continue;
			if (LOAD(&e->seg->request) == 0 && LOAD(&e->seg->published) == e->req_id) {
				e->answer_ns = e->req_ns;
				e->raised = false;
			} else {
				waiting = true;
			}
		}
		if (!waiting || util_now_ns() - start >= HEAP_ANSWER_WAIT_NS)
			return;
		struct timespec ts = {0, HEAP_ANSWER_POLL_NS};
		nanosleep(&ts, NULL);
	}
}

/* The process's address space in bytes (VmSize), the bound of any heap figure it can publish;
 * INT64_MAX when it cannot be read (the figures are then taken as they are). */
static int64_t proc_vm_bytes(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	ssize_t n = util_read_file(path, buf, sizeof(buf));
	if (n <= 0)
		return INT64_MAX;
	buf[n < (ssize_t)sizeof(buf) ? n : (ssize_t)sizeof(buf) - 1] = '\0';
	const char *p = buf;
	uint64_t pages;
	if (util_parse_u64(&p, &pages) < 0 || pages == 0)
		return INT64_MAX;   /* 0: the process is exiting (its memory is gone): cannot tell */
	return (int64_t)pages * sysconf(_SC_PAGESIZE);
}

/* Every figure of one segment, read once and bounded: the process wrote them, and it (or its
 * bugs) may write anything. */
struct seg_figures {
	int64_t live, system, mmapped;   /* HR_UNKNOWN where not known */
	int64_t allocs, frees, peak;     /* count mode */
	int64_t st[HS_NSTATS];
};

/* a count-mode figure (or sum) the segment may hold: |live| and the counts within HEAP_COUNT_MAX */
static inline bool counts_bounded(int64_t live, uint64_t allocs, uint64_t frees)
{
	return live <= HEAP_COUNT_MAX && live >= -HEAP_COUNT_MAX && allocs <= (uint64_t)HEAP_COUNT_MAX &&
	       frees <= (uint64_t)HEAP_COUNT_MAX;
}

/* Reads s into f; -ERANGE when a figure is beyond what the process can hold (more than its
 * address space, or a count beyond HEAP_COUNT_MAX). */
static int seg_figures(struct entry *e, bool answered, struct seg_figures *f)
{
	struct heap_seg *s = e->seg;
	int mode = (int)LOAD(&s->mode);
	f->live = f->system = f->mmapped = f->allocs = f->frees = f->peak = HR_UNKNOWN;
	uint64_t big = 0;
	for (int i = 0; i < HS_NSTATS; i++) {
		uint64_t v = answered ? LOAD(&s->stats[i]) : 0;
		if (v > (uint64_t)HEAP_COUNT_MAX)
			return -ERANGE;
		f->st[i] = (int64_t)v;
		big = v > big ? v : big;
	}
	if (answered) {
		int64_t *st = f->st;
		switch (LOAD(&s->allocator)) {
		case HEAP_ALLOC_GLIBC:
			f->live = st[HS_GLIBC_INUSE] + st[HS_GLIBC_MMAPPED];
			f->system = st[HS_GLIBC_ARENA] + st[HS_GLIBC_MMAPPED];
			f->mmapped = st[HS_GLIBC_MMAPPED];
			break;
		case HEAP_ALLOC_JEMALLOC:
			/* regions freed into a thread cache are still "allocated" to jemalloc */
			f->live = st[HS_JE_ALLOCATED] > st[HS_JE_TCACHE] ? st[HS_JE_ALLOCATED] - st[HS_JE_TCACHE] : 0;
			f->system = st[HS_JE_RESIDENT];
			break;
		case HEAP_ALLOC_MIMALLOC:
			f->system = st[HS_MI_COMMIT];   /* mimalloc does not say what is in use */
			break;
		}
	}
	if (mode == HEAP_SEG_COUNT) {
		/* the retired threads' sums are the segment's bytes too: bounded like every slot, and
		 * the running sums at every step (each term within 2^56, so no sum nears 2^63;
		 * fuzz_heap_seg found a retired live of ~INT64_MIN overflowing it) */
		int64_t l = LOAD(&s->retired.live_bytes);
		uint64_t a = LOAD(&s->retired.allocs), fr = LOAD(&s->retired.frees);
		if (!counts_bounded(l, a, fr))
			return -ERANGE;
		uint32_t hw = LOAD(&s->hiwater);
		for (uint32_t i = 0; i < hw && i < HEAP_SEG_SLOTS; i++) {
			int64_t v = LOAD(&s->slots[i].live_bytes);
			uint64_t na = LOAD(&s->slots[i].allocs), nf = LOAD(&s->slots[i].frees);
			if (!counts_bounded(v, na, nf))
				return -ERANGE;
			l += v;
			a += na;
			fr += nf;
			if (!counts_bounded(l, a, fr))
				return -ERANGE;
		}
		if (l < 0)
			l = 0;   /* frees of blocks allocated before the shim counted (loader, bootstrap) */
		f->live = l;
		f->allocs = (int64_t)a;
		f->frees = (int64_t)fr;
		int64_t pk = __atomic_exchange_n(&s->peak, 0, __ATOMIC_RELAXED);
		if (pk < 0 || pk > HEAP_COUNT_MAX)
			return -ERANGE;
		f->peak = pk;
		big = (uint64_t)l > big ? (uint64_t)l : big;
		big = (uint64_t)pk > big ? (uint64_t)pk : big;
	}
	/* only a large figure is worth a look at the address space */
	if (big > HEAP_BOUND_CHECK && (int64_t)big > proc_vm_bytes(e->pid))
		return -ERANGE;
	return 0;
}

/* one process's figures into the totals; -ERANGE when they are out of bounds (not counted) */
static int seg_sum(struct entry *e, struct heap_totals *t, int64_t now, bool *bypassed)
{
	struct heap_seg *s = e->seg;
	int mode = (int)LOAD(&s->mode);
	int alloc = (int)LOAD(&s->allocator);
	if (LOAD(&s->flags) & HEAP_SEG_F_BYPASSED) {
		*bypassed = true;
		return 0;
	}
	/* an answer that came in since the wait: the figures about to be read are that answer's */
	if (e->req_id && LOAD(&s->request) == 0 && LOAD(&s->published) == e->req_id)
		e->answer_ns = e->req_ns;
	bool answered = e->answer_ns != HR_UNKNOWN;
	struct seg_figures f;
	if (seg_figures(e, answered, &f) < 0)
		return -ERANGE;
	t->nsegments++;
	if (!t->mode)
		t->mode = mode;
	if (t->nsegments == 1)
		t->allocator = alloc;
	else if (t->allocator != alloc)
		t->allocator = -1;

	/* the instant of this process's figures: its last answer; count mode's counters need none
	 * (they are read from the segment now), its held part does */
	int64_t taken = answered ? e->answer_ns : mode == HEAP_SEG_COUNT ? now : HR_UNKNOWN;
	if (answered) {
		for (int i = 0; i < HS_NSTATS; i++)
			t->stats[i] = sat_add(t->stats[i], f.st[i]);
	} else {
		t->nunanswered++;
	}
	if (taken != HR_UNKNOWN && (t->taken_ns == HR_UNKNOWN || taken < t->taken_ns))
		t->taken_ns = taken;
	if (mode == HEAP_SEG_COUNT) {
		add(&t->allocs, f.allocs);
		add(&t->frees, f.frees);
		add(&t->live_blocks, f.allocs >= f.frees ? sat_sub(f.allocs, f.frees) : 0);
		/* the interval's peak: checks made by the threads since our last read, and both ends */
		int64_t pk = f.peak;
		if (pk < f.live)
			pk = f.live;
		if (e->last_live != HR_UNKNOWN && pk < e->last_live)
			pk = e->last_live;
		add(&t->live_peak, pk);
		e->last_live = f.live;
	}
	add(&t->live, f.live);
	add(&t->mmapped, f.mmapped);
	if (f.system != HR_UNKNOWN && f.live != HR_UNKNOWN)
		add(&t->held, f.system > f.live ? sat_sub(f.system, f.live) : 0);
	return 0;
}

/* What went wrong in one read, to choose the reason from. */
struct read_state {
	int corrupt, refused, bounds, full, pending, stale;
	pid_t first_missing, bad_pid;
	char why[160];
};

/* The process is gone or a zombie (exiting: its memory is already released). */
static bool proc_exiting(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ssize_t n = util_read_file(path, buf, sizeof(buf));
	if (n < 0 && n != -EFBIG)
		return true;
	buf[sizeof(buf) - 1] = '\0';
	const char *p = strrchr(buf, ')');
	return p && (p[2] == 'Z' || p[2] == 'X');
}

/* Finds or opens the entry of pid; NULL when there is none to read (the counters say why). */
static struct entry *entry_get(pid_t pid, int64_t now, struct read_state *r)
{
	struct entry *e = entry_find(pid);
	if (e) {
		int cur = entry_current(e, now);
		if (cur > 0)
			return e;
		if (cur < 0 && proc_exiting(pid)) {
			r->pending++;   /* its fd and mappings went with its exit: no figures, no reason */
			return NULL;
		}
		entry_drop(e);   /* an exec: the new image's segment (if any) is opened below */
		if (cur < 0) {
			r->stale++;
			return NULL;
		}
	}
	char why[160] = "";
	int rc = entry_open(pid, &e, why, sizeof(why));
	if (rc == -ENOENT && proc_exiting(pid))
		r->pending++;   /* exiting before we ever saw its segment: nothing to say either */
	if (rc == -EINPROGRESS && setup_pending(pid))
		r->pending++;   /* half made: the shim between creating and sealing it, this once */
	else if (rc == -EINPROGRESS)
		rc = -EPERM;    /* half made read after read: it stays that way, refused */
	for (int i = 0; rc == 0 && i < rd.nsetup; i++)
		if (rd.setup[i].pid == pid)
			rd.setup[i].reads = 0;   /* made: an exec's new one gets its own grace */
	if (rc == -EPERM) {
		r->refused++;
		r->bad_pid = pid;
		snprintf(r->why, sizeof(r->why), "%s", why);
	} else if (rc == -ENOSPC) {
		r->full++;
	}
	return rc < 0 ? NULL : e;
}

/* One function, ~100 lines, on purpose: its three passes (segments and requests, one wait,
 * figures) and then the choice of one reason among the counters are one sequence that shares
 * the per-read state; split, the order of the reasons would be spread over several places. */
int heap_tree_read(const char *run_id, const pid_t *pids, int npids, struct heap_totals *ret)
{
	totals_clear(ret, npids);
	if (!run_id_valid(run_id) || npids < 0 || (npids && !pids))
		return -EINVAL;
	if (strcmp(rd.run, run_id) != 0)
		reader_reset(run_id);
	int64_t now = util_now_ns();
	if (rd.reads++ == 0)
		rd.first_ns = now;
	for (int i = 0; i < rd.n; i++)
		rd.e[i].used = rd.e[i].raised = rd.e[i].valid = false;

	/* first every segment and its request, then one short wait for all the answers, then the
	 * figures: a read costs one wait, not one per process */
	struct read_state r = {0};
	struct entry *ents[HEAP_READER_MAX];
	int nents = 0;
	for (int i = 0; i < npids; i++) {
		struct entry *e = entry_get(pids[i], now, &r);
		if (!e) {
			ret->nmissing++;
			if (!r.first_missing)
				r.first_missing = pids[i];
			continue;
		}
		e->used = true;
		int v = seg_check(e->seg, e->map_size, pids[i]);
		e->valid = v > 0 && !(LOAD(&e->seg->flags) & HEAP_SEG_F_BYPASSED);
		e->bad_reads = v < 0 ? e->bad_reads + 1 : 0;
		if (v < 0 && e->bad_reads >= HEAP_CORRUPT_READS) {
			r.corrupt++;
			r.bad_pid = pids[i];
			ret->nmissing++;
			continue;
		}
		if (v <= 0) {
			r.pending++;   /* the shim is between mapping and its magic this instant */
			ret->nmissing++;
			continue;
		}
		if (!(LOAD(&e->seg->flags) & HEAP_SEG_F_BYPASSED))
			entry_ask(e, now);
		ents[nents++] = e;
	}
	answers_wait(now);
	now = util_now_ns();
	bool bypassed = false;
	for (int i = 0; i < nents; i++)
		if (seg_sum(ents[i], ret, now, &bypassed) < 0) {
			ents[i]->valid = false;
			r.bounds++;
			r.bad_pid = ents[i]->pid;
			ret->nmissing++;
		}
	if (ret->taken_ns != HR_UNKNOWN)
		ret->stats_age_ns = now - ret->taken_ns;
	/* processes that left the tree: unmap (the memfd goes with the last of its users) */
	for (int i = rd.n - 1; i >= 0; i--)
		if (!rd.e[i].used)
			entry_drop(&rd.e[i]);

	if (r.refused)
		reason_add(ret, "the heap segment of pid %d %s: not trusted, its heap is not counted",
			   (int)r.bad_pid, r.why);
	if (r.bounds)
		reason_add(ret, "the heap segment of pid %d claims more than the process can hold "
				"(beyond its address space): its heap is not counted", (int)r.bad_pid);
	if (r.corrupt)
		reason_add(ret, "the heap segment of pid %d is corrupt (bad magic, version or size): "
				"its heap is not counted", (int)r.bad_pid);
	if (r.full)
		reason_add(ret, "more than %d processes: the rest are not counted", HEAP_READER_MAX);
	if (bypassed && ret->nsegments == 0) {
		reason_add(ret, "the program defines malloc itself (a bundled allocator): the shim "
				"never sees its allocations");
		return -ENOTSUP;
	}
	if (ret->nsegments > 0) {
		if (ret->nmissing > r.pending && r.first_missing && !ret->reason[0]) {
			char why[200];
			heap_diagnose_pid(r.first_missing, why, sizeof(why));
			reason_add(ret, "%d of %d processes not counted (pid %d: %s)", ret->nmissing,
				   npids, (int)r.first_missing, why);
		}
		return 0;
	}
	if (r.corrupt || r.refused || r.bounds)
		return -EPROTO;
	if (r.pending && r.pending == ret->nmissing) {
		reason_add(ret, "the heap segment is being set up or the process is exiting");
		return -EAGAIN;
	}
	if (rd.reads < HEAP_GRACE_READS || now - rd.first_ns < HEAP_GRACE_NS) {
		reason_add(ret, "no heap segment yet");
		return -EAGAIN;
	}
	char why[200] = "";
	if (npids > 0)
		heap_diagnose_pid(pids[0], why, sizeof(why));
	reason_add(ret, "%s", why[0] ? why : "no process to read");
	return -ENOTSUP;
}

void heap_totals_to_sample(const struct heap_totals *t, int64_t origin_ns, struct sample *s)
{
	s->heap_live = t->live;
	s->heap_held = t->held;
	s->heap_mmapped = t->mmapped;
	s->heap_allocs = t->allocs;
	s->heap_frees = t->frees;
	s->heap_live_peak = t->live_peak;
	s->heap_t_ns = HR_UNKNOWN;
	/* jemalloc underneath the shim: its page-level figures for the analysis (allocview.c) */
	bool je = t->allocator == HEAP_ALLOC_JEMALLOC && t->live != HR_UNKNOWN && t->stats[HS_JE_RESIDENT] > 0;
	s->alloc_active = je ? t->stats[HS_JE_ACTIVE] : HR_UNKNOWN;
	s->alloc_resident = je ? t->stats[HS_JE_RESIDENT] : HR_UNKNOWN;
	s->alloc_retained = je ? t->stats[HS_JE_RETAINED] : HR_UNKNOWN;
	s->alloc_metadata = je ? t->stats[HS_JE_METADATA] : HR_UNKNOWN;
	bool any = t->live != HR_UNKNOWN || t->held != HR_UNKNOWN || t->mmapped != HR_UNKNOWN;
	if (any && t->taken_ns != HR_UNKNOWN) {
		int64_t at = t->taken_ns - origin_ns;
		s->heap_t_ns = at < s->t_ns ? at : s->t_ns;   /* never later than the sample itself */
	}
}

const char *heap_allocator_name(int allocator)
{
	switch (allocator) {
	case HEAP_ALLOC_GLIBC: return "glibc";
	case HEAP_ALLOC_JEMALLOC: return "jemalloc";
	case HEAP_ALLOC_MIMALLOC: return "mimalloc";
	case -1: return "mixed";
	default: return "unknown";
	}
}

void heap_cleanup(const char *run_id)
{
	/* the segments are memfds: they vanish with the last process (or mapping) that holds them */
	if (run_id_valid(run_id) && strcmp(rd.run, run_id) == 0)
		reader_reset("");
}

/* --- telling in advance ------------------------------------------------------------------ */
static void say(char *reason, size_t len, const char *text)
{
	if (reason && len)
		snprintf(reason, len, "%s", text);
}

struct elf_view {
	const unsigned char *p;
	size_t n;
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh;     /* NULL when the section table is missing */
	const char *shstr;
	size_t shstr_size;        /* ends with a NUL */
};

/* [off, off + size) lies inside the file, without the sum wrapping around */
static bool in_file(uint64_t off, uint64_t size, size_t n)
{
	return off <= n && size <= n - off;
}

static const Elf64_Shdr *elf_section(const struct elf_view *v, const char *name)
{
	if (!v->sh || !v->shstr)
		return NULL;
	for (unsigned i = 0; i < v->eh->e_shnum; i++) {
		const Elf64_Shdr *s = &v->sh[i];
		if (s->sh_name < v->shstr_size && strcmp(v->shstr + s->sh_name, name) == 0 &&
		    (s->sh_type == SHT_NOBITS || in_file(s->sh_offset, s->sh_size, v->n)))
			return s;
	}
	return NULL;
}

/* the executable defines malloc (a bundled allocator that is not prefixed) */
static bool elf_defines_malloc(const struct elf_view *v)
{
	const Elf64_Shdr *sym = elf_section(v, ".dynsym"), *str = elf_section(v, ".dynstr");
	/* NOBITS sections have no bytes in the file to read */
	if (!sym || !str || sym->sh_entsize != sizeof(Elf64_Sym) || sym->sh_type == SHT_NOBITS ||
	    str->sh_type == SHT_NOBITS || sym->sh_offset % 8)
		return false;
	const Elf64_Sym *s = (const Elf64_Sym *)(v->p + sym->sh_offset);
	size_t n = sym->sh_size / sizeof(Elf64_Sym);
	static const char want[] = "malloc";
	for (size_t i = 0; i < n; i++)
		if (s[i].st_shndx != SHN_UNDEF && s[i].st_name < str->sh_size &&
		    str->sh_size - s[i].st_name >= sizeof(want) &&   /* the name and its NUL fit the table */
		    memcmp(v->p + str->sh_offset + s[i].st_name, want, sizeof(want)) == 0)
			return true;
	return false;
}

/* a symbol of .symtab (a Go binary keeps runtime.buildVersion unless linked with -s); every
 * index is checked against the table it points into */
static bool elf_has_symbol(const struct elf_view *v, const char *want)
{
	const Elf64_Shdr *sym = elf_section(v, ".symtab"), *str = elf_section(v, ".strtab");
	if (!sym || !str || sym->sh_entsize != sizeof(Elf64_Sym) || sym->sh_type == SHT_NOBITS ||
	    str->sh_type == SHT_NOBITS || sym->sh_offset % 8)
		return false;
	const Elf64_Sym *s = (const Elf64_Sym *)(v->p + sym->sh_offset);
	size_t n = sym->sh_size / sizeof(Elf64_Sym), wl = strlen(want) + 1;
	for (size_t i = 0; i < n; i++)
		if (s[i].st_name < str->sh_size && str->sh_size - s[i].st_name >= wl &&
		    memcmp(v->p + str->sh_offset + s[i].st_name, want, wl) == 0)
			return true;
	return false;
}

static bool contains(const struct elf_view *v, const char *needle)
{
	return memmem(v->p, v->n, needle, strlen(needle)) != NULL;
}

static int probe_elf(const unsigned char *p, size_t n, bool *ret_go, char *reason, size_t len)
{
	if (n < sizeof(Elf64_Ehdr) || memcmp(p, ELFMAG, SELFMAG) != 0) {
		say(reason, len, "not an ELF executable");
		return -ENOEXEC;
	}
	if (p[EI_CLASS] != ELFCLASS64 || p[EI_DATA] != ELFDATA2LSB) {
		say(reason, len, "");
		return 0;   /* cannot tell: let the run-time check decide */
	}
	struct elf_view v = {.p = p, .n = n, .eh = (const Elf64_Ehdr *)p};
	const Elf64_Ehdr *eh = v.eh;
	/* the tables are read in place: they must be inside the file and aligned (the map is) */
	if (!in_file(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), n) || eh->e_phoff % 8)
		goto bad;
	if (eh->e_shoff && eh->e_shoff % 8 == 0 && eh->e_shentsize == sizeof(Elf64_Shdr) &&
	    in_file(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr), n) && eh->e_shstrndx < eh->e_shnum) {
		v.sh = (const Elf64_Shdr *)(p + eh->e_shoff);
		const Elf64_Shdr *ss = &v.sh[eh->e_shstrndx];
		if (in_file(ss->sh_offset, ss->sh_size, n) && ss->sh_size && p[ss->sh_offset + ss->sh_size - 1] == 0) {
			v.shstr = (const char *)p + ss->sh_offset;
			v.shstr_size = ss->sh_size;
		}
	}
	bool interp = false;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(p + eh->e_phoff);
	for (unsigned i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_INTERP)
			interp = true;
	bool go = elf_section(&v, ".go.buildinfo") || elf_section(&v, ".note.go.buildid") ||
		  elf_has_symbol(&v, "runtime.buildVersion") || contains(&v, "\xff Go buildinf:");
	if (go) {
		*ret_go = true;
		say(reason, len, "a Go program: the Go runtime manages its own heap and never calls the C "
				 "library's malloc (the shim would see only cgo's C allocations)");
		return -ENOTSUP;
	}
	/* ET_DYN without an interpreter is a static-pie program (a library is not run directly) */
	if (!interp && (eh->e_type == ET_EXEC || eh->e_type == ET_DYN)) {
		say(reason, len, "a statically linked program: there is no dynamic loader, so LD_PRELOAD "
				 "is never applied");
		return -ENOTSUP;
	}
	if (contains(&v, "<jemalloc>:") && !contains(&v, "libjemalloc.so")) {
		say(reason, len, "the program bundles jemalloc (statically linked, e.g. _rjem_ symbols): "
				 "its allocations never reach the C library's malloc");
		return -ENOTSUP;
	}
	if (contains(&v, "MIMALLOC_") && contains(&v, "mi_malloc") && !contains(&v, "libmimalloc.so")) {
		say(reason, len, "the program bundles mimalloc (statically linked): its allocations never "
				 "reach the C library's malloc");
		return -ENOTSUP;
	}
	if (elf_defines_malloc(&v)) {
		say(reason, len, "the program defines malloc itself: its own definition wins over the "
				 "preloaded shim");
		return -ENOTSUP;
	}
	say(reason, len, "");
	return 0;
bad:
	say(reason, len, "a truncated or malformed ELF file");
	return -ENOEXEC;
}

static int probe(const char *path, bool *ret_go, char *reason, size_t len, int depth)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		say(reason, len, e == ENOENT ? "no such file" : "cannot open the program");
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 4) {
		close(fd);
		say(reason, len, "not a regular executable file");
		return -ENOEXEC;
	}
	/* secure-execution mode: the loader ignores LD_PRELOAD when the program changes identity */
	if (((st.st_mode & S_ISUID) && st.st_uid != getuid()) ||
	    ((st.st_mode & S_ISGID) && st.st_gid != getgid())) {
		close(fd);
		say(reason, len, "a setuid/setgid program: the loader ignores LD_PRELOAD for it "
				 "(secure-execution mode)");
		return -ENOTSUP;
	}
	if (getuid() != 0 && fgetxattr(fd, "security.capability", NULL, 0) > 0) {
		close(fd);
		say(reason, len, "a program with file capabilities: the loader ignores LD_PRELOAD for "
				 "it (secure-execution mode)");
		return -ENOTSUP;
	}
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		say(reason, len, "cannot read the program");
		return -errno;
	}
	const unsigned char *p = m;
	int rc;
	if (p[0] == '#' && p[1] == '!' && depth == 0) {
		/* a script: what runs is its interpreter */
		char interp[PATH_MAX];
		size_t i = 2, j = 0;
		while (i < (size_t)st.st_size && (p[i] == ' ' || p[i] == '\t'))
			i++;
		while (i < (size_t)st.st_size && j < sizeof(interp) - 1 && p[i] != ' ' && p[i] != '\t' &&
		       p[i] != '\n')
			interp[j++] = (char)p[i++];
		interp[j] = '\0';
		rc = j ? probe(interp, ret_go, reason, len, depth + 1) : -ENOEXEC;
	} else {
		rc = probe_elf(p, (size_t)st.st_size, ret_go, reason, len);
	}
	munmap(m, (size_t)st.st_size);
	return rc;
}

int heap_probe_binary(const char *path, char *reason, size_t len)
{
	bool go;
	return heap_probe_binary_go(path, &go, reason, len);
}

int heap_probe_binary_go(const char *path, bool *ret_go, char *reason, size_t len)
{
	*ret_go = false;
	if (!path)
		return -EINVAL;
	return probe(path, ret_go, reason, len, 0);
}

/* --- telling after the fact -------------------------------------------------------------- */
void heap_diagnose_pid(pid_t pid, char *reason, size_t len)
{
	char path[64], buf[65536];
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	ssize_t n = util_read_file(path, buf, sizeof(buf));
	if (n == -ENOENT || n == -ESRCH) {
		say(reason, len, "the process has exited");
		return;
	}
	if (n >= 0 || n == -EFBIG) {
		if (n == -EFBIG)
			n = sizeof(buf) - 1;
		bool has = false;
		for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
			if (strncmp(buf + i, "LD_PRELOAD=", 11) == 0 && strstr(buf + i, "libheadroom-heap"))
				has = true;
		if (!has) {
			say(reason, len, "its environment has no LD_PRELOAD with libheadroom-heap.so: the "
					 "program or a wrapper removed or overwrote LD_PRELOAD");
			return;
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/auxv", (int)pid);
	n = util_read_file(path, buf, sizeof(buf));
	if (n > 0) {
		const Elf64_auxv_t *a = (const Elf64_auxv_t *)buf;
		for (size_t i = 0; i < (size_t)n / sizeof(*a) && a[i].a_type != AT_NULL; i++)
			if (a[i].a_type == AT_SECURE && a[i].a_un.a_val) {
				say(reason, len, "it runs in secure-execution mode (setuid/setgid or file "
						 "capabilities): the loader ignored LD_PRELOAD");
				return;
			}
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if (heap_probe_binary(path, reason, len) == -ENOTSUP)
		return;
	say(reason, len, "no heap segment: the program does not call the C library's malloc (static "
			 "binary, Go or a bundled allocator), or the shim could not make its segment "
			 "(memfd_create refused: open-file limit, seccomp)");
}

/* --- a run's heap ------------------------------------------------------------------------ */
static void run_status(struct heap_run *h, int state, const char *text)
{
	if (h->state != state || strcmp(h->status, text) != 0)
		h->noted = false;
	h->state = state;
	snprintf(h->status, sizeof(h->status), "%s", text);
}

int heap_run_prepare(struct heap_run *h, const char *mode, const char *exe, const char *shim)
{
	return heap_run_prepare_interval(h, mode, 0, exe, shim);
}

int heap_run_prepare_interval(struct heap_run *h, const char *mode, int64_t interval, const char *exe,
			      const char *shim)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->mode, sizeof(h->mode), "off");
	run_status(h, HEAP_RUN_OFF, "off");
	h->noted = true;   /* off by request: nothing to say */
	if (!mode || strcmp(mode, "off") == 0)
		return mode ? 0 : -EINVAL;
	if (strcmp(mode, "stats") != 0 && strcmp(mode, "count") != 0 && strcmp(mode, "sites") != 0)
		return -EINVAL;
	if (interval != 0 && !heap_interval_valid(interval))
		return -EINVAL;
	snprintf(h->mode, sizeof(h->mode), "%s", mode);
	h->sample_interval = strcmp(mode, "sites") == 0 ? (interval ? interval : HEAP_SITE_INTERVAL_DEFAULT) : 0;
	char why[200] = "", found[PATH_MAX];
	if (exe && !strchr(exe, '/')) {
		/* execvp's search: the program that will run is what to probe */
		const char *path = getenv("PATH");
		const char *p = path ? path : "/usr/local/bin:/usr/bin:/bin";
		const char *hit = NULL;
		while (*p && !hit) {
			size_t n = strcspn(p, ":");
			snprintf(found, sizeof(found), "%.*s/%s", (int)n, n ? p : ".", exe);
			if (access(found, X_OK) == 0)
				hit = found;
			p += n + (p[n] == ':');
		}
		exe = hit;
	}
	if (exe && heap_probe_binary_go(exe, &h->go, why, sizeof(why)) == -ENOTSUP) {
		run_status(h, HEAP_RUN_UNAVAILABLE, why);
		return 0;
	}
	if (!shim)
		shim = heap_shim_default_path();
	int rc = shim ? env_prepare(shim, mode, interval, h->run_id, sizeof(h->run_id)) : -ENOENT;
	if (rc == -ENOENT)
		run_status(h, HEAP_RUN_UNAVAILABLE, "libheadroom-heap.so was not found next to headroom "
						    "or in " HEADROOM_SHIM_LIBDIR ", /usr/local/lib/headroom, /usr/lib/headroom");
	else if (rc < 0)
		run_status(h, HEAP_RUN_UNAVAILABLE, "the heap shim could not be set up (its path has a "
						    "space or colon, or the environment is full)");
	else {
		h->injected = true;
		run_status(h, HEAP_RUN_PENDING, "pending");
		h->noted = true;
	}
	return 0;
}

void heap_run_forked(struct heap_run *h)
{
	if (h->injected)
		heap_env_restore();
}

void heap_run_read(void *ctx, const pid_t *pids, int npids, struct sample *s)
{
	struct heap_run *h = ctx;
	if (!h->injected)
		return;
	int rc = heap_tree_read(h->run_id, pids, npids, &h->last);
	h->reads++;
	/* t_ns was taken just before the sampler began: now - t_ns overestimates the origin by the
	 * time the sampler has spent; the smallest over the reads is the closest (and a heap time
	 * derived from it can only err towards older, never fresher) */
	int64_t origin = util_now_ns() - s->t_ns;
	if (h->origin_ns == 0 || origin < h->origin_ns)
		h->origin_ns = origin;
	if (rc == 0) {
		heap_totals_to_sample(&h->last, h->origin_ns, s);
		char st[64];
		snprintf(st, sizeof(st), "available: %s, %s mode", heap_allocator_name(h->last.allocator), h->mode);
		run_status(h, HEAP_RUN_AVAILABLE, st);
	} else if (rc == -EAGAIN) {
		if (h->state != HEAP_RUN_AVAILABLE)
			run_status(h, HEAP_RUN_PENDING, "pending");
		h->noted = true;
	} else {
		run_status(h, HEAP_RUN_UNAVAILABLE, h->last.reason[0] ? h->last.reason : "no heap segment could be read");
	}
}

const char *heap_run_note(struct heap_run *h, char *buf, size_t len)
{
	if (h->noted)
		return NULL;
	h->noted = true;
	if (h->state == HEAP_RUN_AVAILABLE)
		snprintf(buf, len, "heap: %s", h->status);
	else if (h->state == HEAP_RUN_UNAVAILABLE)
		snprintf(buf, len, "heap unavailable: %s; recording RSS only", h->status);
	else
		return NULL;
	return buf;
}

void heap_run_finish(struct heap_run *h)
{
	if (h->injected && h->run_id[0])
		heap_cleanup(h->run_id);
}

/* --- sites mode: the segments' site tables ----------------------------------------------- */
int heap_sites_read(heap_site_fn fn, void *ctx, struct heap_sites_info *info)
{
	memset(info, 0, sizeof(*info));
	struct heap_site_read *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (int i = 0; i < rd.n; i++) {
		struct entry *e = &rd.e[i];
		if (!e->valid || e->map_size != HEAP_SEG_SIZE_SITES || LOAD(&e->seg->mode) != HEAP_SEG_SITES)
			continue;
		struct heap_seg_sites *ss = heap_seg_sites_of(e->seg);
		uint64_t interval = LOAD(&ss->interval);
		if (interval < HEAP_SITE_INTERVAL_MIN || interval > (uint64_t)HEAP_SITE_INTERVAL_MAX) {
			info->refused++;
			continue;
		}
		info->nsegments++;
		if (info->interval == 0)
			info->interval = (int64_t)interval;
		uint64_t c[4] = {LOAD(&ss->samples), LOAD(&ss->unwalkable), LOAD(&ss->other), LOAD(&ss->untracked)};
		for (int k = 0; k < 4; k++)
			if (c[k] > (uint64_t)HEAP_COUNT_MAX)
				c[k] = 0;
		info->samples += (int64_t)c[0];
		info->unwalkable += (int64_t)c[1];
		info->other += (int64_t)c[2];
		info->untracked += (int64_t)c[3];
		uint32_t hw = LOAD(&ss->hiwater);
		if (hw > HEAP_SITES_MAX)
			hw = HEAP_SITES_MAX;
		for (uint32_t k = 0; k < hw; k++) {
			struct heap_seg_site *st = &ss->sites[k];
			if (__atomic_load_n(&st->state, __ATOMIC_ACQUIRE) != 2)
				continue;
			memset(r, 0, sizeof(*r));
			r->pid = e->pid;
			r->ino = (uint64_t)e->ino;
			r->index = k;
			r->hash = LOAD(&st->hash);
			uint32_t nf = LOAD(&st->nframes), first = LOAD(&st->first);
			/* frames outside the pool, or too many: the site keeps its counts, not its stack */
			if (k == 0 || nf > HEAP_SITE_FRAMES || first > HEAP_SITE_POOL || nf > HEAP_SITE_POOL - first)
				nf = 0;
			r->nframes = (int)nf;
			for (uint32_t f = 0; f < nf; f++)
				r->pc[f] = LOAD(&ss->pool[first + f]);
			int64_t v[4] = {LOAD(&st->live_bytes), LOAD(&st->live_objects), LOAD(&st->alloc_bytes),
					LOAD(&st->alloc_objects)};
			bool bad = false;
			for (int q = 0; q < 4; q++)
				bad |= v[q] > HEAP_COUNT_MAX || v[q] < -HEAP_COUNT_MAX;
			if (bad) {
				info->refused++;
				continue;
			}
			/* a block inherited at a fork and freed before the copy: floored */
			r->live_bytes = v[0] > 0 ? v[0] : 0;
			r->live_objects = v[1] > 0 ? v[1] / HEAP_SITE_OBJ_ONE : 0;
			r->alloc_bytes = v[2] > 0 ? v[2] : 0;
			r->alloc_objects = v[3] > 0 ? v[3] / HEAP_SITE_OBJ_ONE : 0;
			fn(ctx, r);
		}
	}
	free(r);
	return 0;
}
