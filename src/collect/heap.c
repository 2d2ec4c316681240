#include "heap.h"

#include <dirent.h>
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
#include <sys/statvfs.h>
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

int heap_env_prepare(const char *shim_path, const char *mode, char *run_id_out, size_t len)
{
	if (!shim_path || !mode || !run_id_out || len < 17 ||
	    (strcmp(mode, "stats") != 0 && strcmp(mode, "count") != 0))
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
	if (setenv("LD_PRELOAD", pre, 1) != 0 || setenv(HEAP_ENV_RUN, id, 1) != 0 ||
	    setenv(HEAP_ENV_MODE, mode, 1) != 0)
		rc = -errno;
	free(pre);
	if (rc == 0)
		snprintf(run_id_out, len, "%s", id);
	return rc;
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
	free(env_saved.preload);
	env_saved.preload = NULL;
	env_saved.saved = false;
}

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
			snprintf(path, sizeof(path), "%s/../lib/headroom/libheadroom-heap.so", exe);
			if (access(path, R_OK) == 0 && realpath(path, exe)) {
				snprintf(path, sizeof(path), "%s", exe);
				return path;
			}
		}
	}
	static const char *const fixed[] = {"/usr/local/lib/headroom/libheadroom-heap.so",
					    "/usr/lib/headroom/libheadroom-heap.so"};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (access(fixed[i], R_OK) == 0)
			return fixed[i];
	return NULL;
}

/* --- the reader's table ------------------------------------------------------------------ */
struct entry {
	pid_t pid;
	int fd;
	struct heap_seg *seg;
	int64_t requested_ns;     /* when we last raised the request */
	int64_t last_live;        /* live bytes at the previous read: the start of this interval */
	int64_t exe_checked_ns;   /* when we last compared the process's image with the segment's */
	uint32_t generation;      /* of the segment when last checked */
	bool stale;               /* the process exec'd an image without the shim */
	int bad_reads;            /* consecutive reads with an invalid header */
	bool used;                /* seen in the current read */
};

static struct {
	char run[40];
	struct entry e[HEAP_READER_MAX];
	int n;
	int reads;
	int64_t first_ns;
} rd;

static void seg_name(char *buf, size_t len, const char *run, pid_t pid)
{
	snprintf(buf, len, HEAP_SEG_PREFIX "%s-%d", run, (int)pid);
}

static void entry_drop(struct entry *e, bool unlink_it)
{
	if (e->seg)
		munmap(e->seg, sizeof(struct heap_seg));
	if (e->fd >= 0)
		close(e->fd);
	if (unlink_it) {
		char name[96];
		seg_name(name, sizeof(name), rd.run, e->pid);
		shm_unlink(name);
	}
	*e = rd.e[--rd.n];
}

static void reader_reset(const char *run)
{
	while (rd.n > 0)
		entry_drop(&rd.e[rd.n - 1], false);
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

/* 0 mapped, -ENOENT no segment, -EPROTO not a segment of ours, -ENOSPC table full */
static int entry_open(pid_t pid, struct entry **ret)
{
	if (rd.n >= HEAP_READER_MAX)
		return -ENOSPC;
	char name[96];
	seg_name(name, sizeof(name), rd.run, pid);
	int fd = shm_open(name, O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof(struct heap_seg)) {
		/* the shim is between shm_open and ftruncate: look again next time */
		close(fd);
		return -ENOENT;
	}
	void *m = mmap(NULL, sizeof(struct heap_seg), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	struct entry *e = &rd.e[rd.n++];
	*e = (struct entry){.pid = pid, .fd = fd, .seg = m, .requested_ns = 0, .last_live = HR_UNKNOWN};
	*ret = e;
	return 0;
}

/* A header we can trust: anything else is skipped, never followed. 1 valid, 0 being
 * (re)initialised, -1 corrupt. */
static int seg_check(const struct heap_seg *s, pid_t pid)
{
	uint64_t magic = __atomic_load_n(&s->magic, __ATOMIC_ACQUIRE);
	if (magic == 0)
		return 0;
	if (magic != HEAP_SEG_MAGIC || LOAD(&s->version) != HEAP_SEG_VERSION ||
	    LOAD(&s->size) != sizeof(struct heap_seg) || LOAD(&s->pid) != pid ||
	    LOAD(&s->nslots) != HEAP_SEG_SLOTS || LOAD(&s->hiwater) > HEAP_SEG_SLOTS ||
	    (LOAD(&s->mode) != HEAP_SEG_STATS && LOAD(&s->mode) != HEAP_SEG_COUNT))
		return -1;
	return 1;
}

static void add(int64_t *sum, int64_t v)
{
	if (v == HR_UNKNOWN)
		return;
	*sum = *sum == HR_UNKNOWN ? v : *sum + v;
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
	t->live_blocks = t->live_peak = t->stats_age_ns = HR_UNKNOWN;
}

/* one process's figures into the totals */
static void seg_sum(struct entry *e, struct heap_totals *t, int64_t now, bool *bypassed)
{
	struct heap_seg *s = e->seg;
	int mode = (int)LOAD(&s->mode);
	int alloc = (int)LOAD(&s->allocator);
	if (LOAD(&s->flags) & HEAP_SEG_F_BYPASSED) {
		*bypassed = true;
		return;
	}
	t->nsegments++;
	if (!t->mode)
		t->mode = mode;
	if (t->nsegments == 1)
		t->allocator = alloc;
	else if (t->allocator != alloc)
		t->allocator = -1;

	/* allocator figures, when the process has answered at least once */
	int64_t st[HS_NSTATS];
	bool answered = LOAD(&s->published) != 0;
	if (answered) {
		for (int i = 0; i < HS_NSTATS; i++) {
			st[i] = (int64_t)LOAD(&s->stats[i]);
			t->stats[i] += st[i];
		}
		int64_t age = now - LOAD(&s->published_ns);
		if (t->stats_age_ns == HR_UNKNOWN || age > t->stats_age_ns)
			t->stats_age_ns = age;
	} else {
		t->nunanswered++;
	}
	/* ask again at most every HEAP_STATS_INTERVAL_NS; a request stays raised until a malloc or
	 * free in the process answers it (an idle process keeps its last answer) */
	if (LOAD(&s->request) == 0 && now - e->requested_ns >= HEAP_STATS_INTERVAL_NS) {
		__atomic_store_n(&s->request, LOAD(&s->published) + 1, __ATOMIC_RELEASE);
		e->requested_ns = now;
	}

	int64_t live = HR_UNKNOWN, system = HR_UNKNOWN, mmapped = HR_UNKNOWN;
	if (answered) {
		switch (alloc) {
		case HEAP_ALLOC_GLIBC:
			live = st[HS_GLIBC_INUSE] + st[HS_GLIBC_MMAPPED];
			system = st[HS_GLIBC_ARENA] + st[HS_GLIBC_MMAPPED];
			mmapped = st[HS_GLIBC_MMAPPED];
			break;
		case HEAP_ALLOC_JEMALLOC:
			live = st[HS_JE_ALLOCATED];
			system = st[HS_JE_RESIDENT];
			break;
		case HEAP_ALLOC_MIMALLOC:
			system = st[HS_MI_COMMIT];   /* mimalloc does not say what is in use */
			break;
		}
	}
	if (mode == HEAP_SEG_COUNT) {
		int64_t l = LOAD(&s->retired.live_bytes);
		int64_t a = (int64_t)LOAD(&s->retired.allocs), f = (int64_t)LOAD(&s->retired.frees);
		uint32_t hw = LOAD(&s->hiwater);
		for (uint32_t i = 0; i < hw && i < HEAP_SEG_SLOTS; i++) {
			l += LOAD(&s->slots[i].live_bytes);
			a += (int64_t)LOAD(&s->slots[i].allocs);
			f += (int64_t)LOAD(&s->slots[i].frees);
		}
		if (l < 0)
			l = 0;   /* frees of blocks allocated before the shim counted (loader, bootstrap) */
		live = l;
		add(&t->allocs, a);
		add(&t->frees, f);
		add(&t->live_blocks, a - f);
		/* the interval's peak: checks made by the threads since our last read, and both ends */
		int64_t pk = __atomic_exchange_n(&s->peak, 0, __ATOMIC_RELAXED);
		if (pk < l)
			pk = l;
		if (e->last_live != HR_UNKNOWN && pk < e->last_live)
			pk = e->last_live;
		add(&t->live_peak, pk);
		e->last_live = l;
	}
	add(&t->live, live);
	add(&t->mmapped, mmapped);
	if (system != HR_UNKNOWN && live != HR_UNKNOWN)
		add(&t->held, system > live ? system - live : 0);
}

/* After an exec without the shim (LD_PRELOAD removed) the segment of the previous image stays:
 * same pid, same name, figures frozen. The image it was made by tells. Checked twice a second
 * and whenever the segment was re-initialised. */
static bool seg_stale(struct entry *e, int64_t now)
{
	uint32_t gen = LOAD(&e->seg->generation);
	if (gen == e->generation && now - e->exe_checked_ns < 500000000LL)
		return e->stale;
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)e->pid);
	if (stat(path, &st) == 0 && LOAD(&e->seg->exe_ino) != 0)
		e->stale = st.st_ino != LOAD(&e->seg->exe_ino) || st.st_dev != LOAD(&e->seg->exe_dev);
	e->generation = gen;
	e->exe_checked_ns = now;
	return e->stale;
}

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
		rd.e[i].used = false;

	int corrupt = 0, truncated = 0, full = 0, pending = 0;
	pid_t first_missing = 0, bad_pid = 0;
	bool bypassed = false;
	for (int i = 0; i < npids; i++) {
		struct entry *e = entry_find(pids[i]);
		if (e) {
			/* the target (or anyone) may have shrunk it: touching the lost pages would SIGBUS */
			struct stat st;
			if (fstat(e->fd, &st) < 0 || st.st_size < (off_t)sizeof(struct heap_seg)) {
				truncated++;
				bad_pid = pids[i];
				entry_drop(e, false);
				e = NULL;
			}
		} else {
			int rc = entry_open(pids[i], &e);
			if (rc == -EPROTO) {
				corrupt++;
				bad_pid = pids[i];
			} else if (rc == -ENOSPC) {
				full++;
			}
			if (rc < 0)
				e = NULL;
		}
		if (!e) {
			ret->nmissing++;
			if (!first_missing)
				first_missing = pids[i];
			continue;
		}
		e->used = true;
		int v = seg_check(e->seg, pids[i]);
		/* an exec re-initialises the header in place: invalid for an instant is not corrupt */
		e->bad_reads = v < 0 ? e->bad_reads + 1 : 0;
		if (v < 0 && e->bad_reads >= HEAP_CORRUPT_READS) {
			corrupt++;
			bad_pid = pids[i];
			ret->nmissing++;
			continue;
		}
		if (v <= 0) {
			pending++;   /* being re-initialised by an exec this instant */
			ret->nmissing++;
			continue;
		}
		if (seg_stale(e, now)) {
			ret->nmissing++;
			if (!first_missing)
				first_missing = pids[i];
			continue;
		}
		seg_sum(e, ret, now, &bypassed);
	}
	/* processes that left the tree: unmap; remove the segment when the process is gone */
	for (int i = rd.n - 1; i >= 0; i--)
		if (!rd.e[i].used) {
			bool gone = kill(rd.e[i].pid, 0) < 0 && errno == ESRCH;
			entry_drop(&rd.e[i], gone);
		}

	if (corrupt)
		reason_add(ret, "the heap segment of pid %d is corrupt (bad magic, version or size): "
				"its heap is not counted", (int)bad_pid);
	if (truncated)
		reason_add(ret, "the heap segment of pid %d was truncated under the reader: its heap is "
				"not counted", (int)bad_pid);
	if (full)
		reason_add(ret, "more than %d processes: the rest are not counted", HEAP_READER_MAX);
	if (bypassed && ret->nsegments == 0) {
		reason_add(ret, "the program defines malloc itself (a bundled allocator): the shim "
				"never sees its allocations");
		return -ENOTSUP;
	}
	if (ret->nsegments > 0) {
		if (ret->nmissing > pending && first_missing && !ret->reason[0]) {
			char why[200];
			heap_diagnose_pid(first_missing, why, sizeof(why));
			reason_add(ret, "%d of %d processes not counted (pid %d: %s)", ret->nmissing,
				   npids, (int)first_missing, why);
		}
		return 0;
	}
	if (corrupt || truncated)
		return -EPROTO;
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

void heap_totals_to_sample(const struct heap_totals *t, struct sample *s)
{
	s->heap_live = t->live;
	s->heap_held = t->held;
	s->heap_mmapped = t->mmapped;
	s->heap_allocs = t->allocs;
	s->heap_frees = t->frees;
	s->heap_live_peak = t->live_peak;
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
	if (!run_id_valid(run_id))
		return;
	if (strcmp(rd.run, run_id) == 0)
		reader_reset("");
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "%s%s-", &HEAP_SEG_PREFIX[1], run_id);   /* without the leading slash */
	DIR *d = opendir("/dev/shm");
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

/* Segments of a headroom killed with its guard: the run id starts with the owner's pid in hex
 * (heap_env_prepare). Only our own user's segments of dead owners are removed. */
void heap_sweep_stale(void)
{
	const char *prefix = &HEAP_SEG_PREFIX[1];
	size_t plen = strlen(prefix);
	DIR *d = opendir("/dev/shm");
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, plen) != 0 || strlen(de->d_name) < plen + 8)
			continue;
		char hex[9];
		memcpy(hex, de->d_name + plen, 8);
		hex[8] = '\0';
		char *end;
		unsigned long owner = strtoul(hex, &end, 16);
		struct stat st;
		if (*end || owner == 0 || owner > CGROUP_PID_MAX || cgroup_headroom_alive((pid_t)owner) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_uid != geteuid() ||
		    !S_ISREG(st.st_mode))
			continue;
		unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
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
};

static const Elf64_Shdr *elf_section(const struct elf_view *v, const char *name)
{
	if (!v->sh || !v->shstr)
		return NULL;
	for (unsigned i = 0; i < v->eh->e_shnum; i++) {
		const Elf64_Shdr *s = &v->sh[i];
		if (s->sh_name < v->n && strcmp(v->shstr + s->sh_name, name) == 0 &&
		    (s->sh_type == SHT_NOBITS || s->sh_offset + s->sh_size <= v->n))
			return s;
	}
	return NULL;
}

/* the executable defines malloc (a bundled allocator that is not prefixed) */
static bool elf_defines_malloc(const struct elf_view *v)
{
	const Elf64_Shdr *sym = elf_section(v, ".dynsym"), *str = elf_section(v, ".dynstr");
	if (!sym || !str || sym->sh_entsize != sizeof(Elf64_Sym))
		return false;
	const Elf64_Sym *s = (const Elf64_Sym *)(v->p + sym->sh_offset);
	size_t n = sym->sh_size / sizeof(Elf64_Sym);
	for (size_t i = 0; i < n; i++)
		if (s[i].st_shndx != SHN_UNDEF && s[i].st_name < str->sh_size &&
		    strcmp((const char *)v->p + str->sh_offset + s[i].st_name, "malloc") == 0)
			return true;
	return false;
}

static bool contains(const struct elf_view *v, const char *needle)
{
	return memmem(v->p, v->n, needle, strlen(needle)) != NULL;
}

static int probe_elf(const unsigned char *p, size_t n, char *reason, size_t len)
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
	if (eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > n)
		goto bad;
	if (eh->e_shoff && eh->e_shentsize == sizeof(Elf64_Shdr) &&
	    eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) <= n && eh->e_shstrndx < eh->e_shnum) {
		v.sh = (const Elf64_Shdr *)(p + eh->e_shoff);
		const Elf64_Shdr *ss = &v.sh[eh->e_shstrndx];
		if (ss->sh_offset + ss->sh_size <= n && ss->sh_size && p[ss->sh_offset + ss->sh_size - 1] == 0)
			v.shstr = (const char *)p + ss->sh_offset;
	}
	bool interp = false;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(p + eh->e_phoff);
	for (unsigned i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_INTERP)
			interp = true;
	bool go = elf_section(&v, ".go.buildinfo") || elf_section(&v, ".note.go.buildid") ||
		  contains(&v, "\xff Go buildinf:");
	if (go) {
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

static int probe(const char *path, char *reason, size_t len, int depth)
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
		rc = j ? probe(interp, reason, len, depth + 1) : -ENOEXEC;
	} else {
		rc = probe_elf(p, (size_t)st.st_size, reason, len);
	}
	munmap(m, (size_t)st.st_size);
	return rc;
}

int heap_probe_binary(const char *path, char *reason, size_t len)
{
	if (!path)
		return -EINVAL;
	return probe(path, reason, len, 0);
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
	struct statvfs vfs;
	if (statvfs("/dev/shm", &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_bsize < sizeof(struct heap_seg)) {
		say(reason, len, "/dev/shm is full: the shim could not create its segment and only forwards");
		return;
	}
	say(reason, len, "the program does not call the C library's malloc (static binary, Go or a "
			 "bundled allocator)");
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
	memset(h, 0, sizeof(*h));
	snprintf(h->mode, sizeof(h->mode), "off");
	run_status(h, HEAP_RUN_OFF, "off");
	h->noted = true;   /* off by request: nothing to say */
	if (!mode || strcmp(mode, "off") == 0)
		return mode ? 0 : -EINVAL;
	if (strcmp(mode, "stats") != 0 && strcmp(mode, "count") != 0)
		return -EINVAL;
	snprintf(h->mode, sizeof(h->mode), "%s", mode);
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
	if (exe && heap_probe_binary(exe, why, sizeof(why)) == -ENOTSUP) {
		run_status(h, HEAP_RUN_UNAVAILABLE, why);
		return 0;
	}
	if (!shim)
		shim = heap_shim_default_path();
	heap_sweep_stale();
	int rc = shim ? heap_env_prepare(shim, mode, h->run_id, sizeof(h->run_id)) : -ENOENT;
	if (rc == -ENOENT)
		run_status(h, HEAP_RUN_UNAVAILABLE, "libheadroom-heap.so was not found next to headroom "
						    "or in /usr/local/lib/headroom, /usr/lib/headroom");
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
	if (rc == 0) {
		heap_totals_to_sample(&h->last, s);
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
