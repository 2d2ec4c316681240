/* heap_shim: the LD_PRELOAD library (libheadroom-heap.so) that publishes a process's heap figures
 * into a shared-memory segment (heap_seg.h) for headroom's sampler.
 *
 * Interposes malloc, free, calloc, realloc, reallocarray, posix_memalign, aligned_alloc,
 * memalign, valloc, pvalloc and malloc_usable_size, and forwards each to the allocator found
 * next in the search order (glibc, or a jemalloc/mimalloc preloaded after us). Also unshare and
 * setns (a user namespace wants a single thread: the service thread steps aside) and dlclose
 * (the stack walker's cached rules of the unloaded code are dropped).
 *
 * stats mode (default): the fast path only forwards. A service thread, started with the segment
 * (constructor, and again in the child of a fork), sleeps on a futex in the segment and answers
 * the reader's requests with the allocator's own figures (mallinfo2, jemalloc's mallctl stats,
 * mimalloc's mi_process_info), whatever the program's threads are doing: idle, sleeping,
 * blocked in a syscall. It is detached, has every signal blocked, never allocates, and dies with
 * the process (it never delays an exit). Only if it cannot be started does the next malloc/free
 * answer instead (the old way: stale while the program is idle, which the reader then shows).
 * count mode (HEADROOM_HEAP_MODE=count): also keeps exact live bytes (usable sizes), allocations
 * and frees in a per-thread slot of the segment that only its thread writes, with plain stores:
 * no lock, no atomic read-modify-write, no syscall, no shared cache line on the fast path.
 * sites mode (HEADROOM_HEAP_MODE=sites): stats mode, plus allocations sampled by bytes (a
 * per-thread countdown drawn from an exponential distribution of mean HEADROOM_HEAP_INTERVAL,
 * per-thread xorshift PRNG): a sampled allocation's stack is unwound from .eh_frame by the
 * shim's own walker (heap_unwind.c: the rules of each return address cached per thread), or by
 * libgcc's _Unwind_Backtrace for a stack that walker hands back (signal frames, DWARF
 * expressions); libgcc does not call malloc once warmed up at init; if it ever does, the
 * thread's in_sample flag sends that call straight to the allocator), deduplicated into the
 * segment's site table, and the block is remembered in a private fixed-size table that free()
 * checks with a hash and one nibble (the count of its bucket).
 *
 * Must not: call anything that allocates (the bootstrap buffer serves the allocations dlsym makes
 * while we resolve the real functions), take a lock on the fast path, crash the target when the
 * segment cannot be made (it then only forwards), send signals, or change the program's output.
 * The segment is a sealed memfd (heap_seg.h): nobody can truncate it under our mapping.
 */
#include <dlfcn.h>
#include <linux/futex.h>
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <malloc.h>
#include <link.h>
#include <math.h>
#include <unwind.h>

#include "heap_seg.h"
#include "heap_unwind.h"

#define EXPORT __attribute__((visibility("default")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

extern char **environ;

/* --- the real allocator ------------------------------------------------------------------ */
static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void *(*real_valloc)(size_t);
static void *(*real_pvalloc)(size_t);
static size_t (*real_usable)(void *);

/* allocator statistics entry points, whichever exist */
static struct mallinfo2 (*fn_mallinfo2)(void);
static int (*fn_mallctl)(const char *, void *, size_t *, void *, size_t);
static void (*fn_mi_process_info)(size_t *, size_t *, size_t *, size_t *, size_t *, size_t *,
				  size_t *, size_t *);

/* What every call looks at first, one load: where to go. */
enum { ST_INIT = 0,      /* real functions not resolved yet */
       ST_FORWARD = 1,   /* no segment (no run id, /dev/shm full): only forward */
       ST_STATS = 2,     /* forward, answer requests */
       ST_COUNT = 3,     /* count every call too */
       ST_SITES = 4 };   /* sample allocations by bytes, remember their stacks */
static int g_state;
static int g_init_lock;             /* one thread resolves, the others wait */
static struct heap_seg *g_seg;      /* NULL: forward only */
static struct heap_seg *g_stats_seg; /* = g_seg in stats mode without a service thread, else NULL:
				     * the fast path's one load */
static struct heap_seg *g_poll_seg; /* = g_seg when calls must answer requests (no service thread) */
static bool g_sites_fast;           /* sites mode with a service thread: malloc/free inline */
static int g_seg_fd = -1;           /* the segment's memfd, kept open for the reader to find */
static bool g_je_counters;          /* count mode over jemalloc: read its per-thread counters */
static bool g_glibc_hdr;            /* glibc's chunk header gives the usable size (checked at init) */
static bool g_seg_tried;            /* made (or failed to make) the segment with a real environment */
static uint32_t g_allocator;
static pthread_key_t g_key;
static bool g_key_ok;
static size_t g_seg_size;           /* of the mapping g_seg */

struct tstate {
	struct heap_seg_slot *slot;
	int64_t base;          /* live bytes at the last peak check: check again HEAP_PEAK_STEP above */
	bool in_init;          /* this thread is resolving the real functions: use the bootstrap buffer */
	bool dead;             /* the thread's slot was handed back: count into `retired` */
	bool claiming;
	/* jemalloc keeps per-thread byte counters itself: reading them avoids a size lookup per free */
	uint64_t *je_alloc, *je_dealloc;
	uint64_t je_base;      /* allocated - deallocated when the slot was claimed */
	/* sites mode: bytes left until the next sample; the thread's PRNG (0: not seeded yet) */
	int64_t left;
	uint64_t rng;
	bool in_sample;        /* unwinding: an allocation made meanwhile is not sampled */
};
static __thread struct tstate tls;

/* --- bootstrap buffer: what dlsym and early loader calls allocate before we can forward --- */
#define BOOT_SIZE (128 * 1024)
static char boot_buf[BOOT_SIZE] __attribute__((aligned(64)));
static size_t boot_used;

static inline bool is_boot(const void *p)
{
	return (uintptr_t)p - (uintptr_t)boot_buf < BOOT_SIZE;
}

static void *boot_alloc(size_t n, size_t align)
{
	if (align < 16)
		align = 16;
	if (n > BOOT_SIZE || align > 4096)
		return NULL;
	size_t need = ((n + 15) & ~(size_t)15) + align;
	size_t off = __atomic_fetch_add(&boot_used, need, __ATOMIC_RELAXED);
	if (off + need > BOOT_SIZE)
		return NULL;
	uintptr_t base = (uintptr_t)boot_buf + off + 16;   /* room for the size in front */
	uintptr_t p = (base + align - 1) & ~(uintptr_t)(align - 1);
	((size_t *)p)[-1] = n;
	return (void *)p;      /* static storage: already zero */
}

static size_t boot_size(const void *p)
{
	return ((const size_t *)p)[-1];
}

/* --- small helpers that neither allocate nor use stdio --------------------------------- */
static const char *env_get(const char *name)
{
	if (!environ)
		return NULL;
	size_t n = strlen(name);
	for (char **e = environ; *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static char *put_str(char *p, char *end, const char *s)
{
	while (*s && p < end)
		*p++ = *s++;
	return p;
}

static char *put_uint(char *p, char *end, unsigned long v)
{
	char tmp[24];
	int i = 0;
	do {
		tmp[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i && p < end)
		*p++ = tmp[--i];
	return p;
}

static bool same_object(void *a, void *b);
static void route(void);

/* HEADROOM_HEAP_INTERVAL, decimal bytes, clamped to what headroom accepts (it refuses the rest) */
static uint64_t env_interval(void)
{
	const char *v = env_get(HEAP_ENV_INTERVAL);
	uint64_t n = 0;
	for (; v && *v >= '0' && *v <= '9' && n < (uint64_t)HEAP_SITE_INTERVAL_MAX * 10; v++)
		n = n * 10 + (uint64_t)(*v - '0');
	if (!v || n == 0)
		return HEAP_SITE_INTERVAL_DEFAULT;
	if (n < HEAP_SITE_INTERVAL_MIN)
		return HEAP_SITE_INTERVAL_MIN;
	return n > (uint64_t)HEAP_SITE_INTERVAL_MAX ? (uint64_t)HEAP_SITE_INTERVAL_MAX : n;
}

/* --- the segment ----------------------------------------------------------------------- */
#define SEG_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

/* A sealed memfd of the segment's size, its fd moved to HEAP_SEG_FD_MIN or above (the program's
 * own fds stay where it expects them), mapped; NULL when the kernel refuses any step (the shim
 * then only forwards). Initialised fully before the magic is stored. */
static struct heap_seg *seg_create(void)
{
	const char *run = env_get(HEAP_ENV_RUN);
	if (!run || !*run || strlen(run) > 32)
		return NULL;
	for (const char *c = run; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
			return NULL;
	char name[96], *p = name, *end = name + sizeof(name) - 1;
	p = put_str(p, end, HEAP_SEG_NAME);
	p = put_str(p, end, run);
	p = put_str(p, end, "-");
	p = put_uint(p, end, (unsigned long)getpid());
	*p = '\0';

	int fd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return NULL;
	int high = fcntl(fd, F_DUPFD_CLOEXEC, HEAP_SEG_FD_MIN);
	if (high >= 0) {
		close(fd);
		fd = high;
	}
	const char *mode = env_get(HEAP_ENV_MODE);
	uint32_t smode = !mode ? HEAP_SEG_STATS : strcmp(mode, "count") == 0 ? HEAP_SEG_COUNT
			: strcmp(mode, "sites") == 0 ? HEAP_SEG_SITES : HEAP_SEG_STATS;
	size_t size = smode == HEAP_SEG_SITES ? HEAP_SEG_SIZE_SITES : sizeof(struct heap_seg);
	void *m = MAP_FAILED;
	/* 0600: a memfd starts 0777, and /proc/PID/fd/N opens the inode with its own permissions.
	 * The pages are reserved now: a full memory cgroup must fail here, not as a SIGBUS later. */
	if (fchmod(fd, 0600) < 0 || ftruncate(fd, (off_t)size) < 0 ||
	    (fallocate(fd, 0, 0, (off_t)size) < 0 && errno != EOPNOTSUPP) ||
	    fcntl(fd, F_ADD_SEALS, SEG_SEALS) < 0)
		goto out_close;
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		goto out_close;

	struct heap_seg *s = m;   /* a new memfd reads as zeros */
	s->version = HEAP_SEG_VERSION;
	s->size = (uint32_t)size;
	s->pid = (int32_t)getpid();
	s->nslots = HEAP_SEG_SLOTS;
	s->generation = 1;
	s->fd = fd;
	s->init_ns = now_ns();
	s->mode = smode;
	s->allocator = g_allocator;
	if (smode == HEAP_SEG_SITES) {
		struct heap_seg_sites *ss = heap_seg_sites_of(s);
		ss->interval = env_interval();
		ss->hiwater = 1;
		ss->sites[0].state = 2;   /* "other": no frames */
	}
	/* the program's malloc is the first definition in the search order: if it is not in this
	 * library (the executable defines malloc itself), the shim sees none of its calls */
	void *first = dlsym(RTLD_DEFAULT, "malloc");
	if (first && !same_object(first, (void *)seg_create))
		s->flags |= HEAP_SEG_F_BYPASSED;
	__atomic_store_n(&s->magic, HEAP_SEG_MAGIC, __ATOMIC_RELEASE);
	g_seg_fd = fd;
	g_seg_size = size;
	return s;

out_close:
	close(fd);
	return NULL;
}

/* --- publishing the allocator's own figures --------------------------------------------- */
static size_t je_get(const char *name)
{
	size_t v = 0, sz = sizeof(v);
	if (fn_mallctl(name, &v, &sz, NULL, 0) != 0)
		return 0;
	return v;
}

static __attribute__((noinline)) void publish(struct heap_seg *s)
{
	uint32_t req = __atomic_load_n(&s->request, __ATOMIC_ACQUIRE);
	uint32_t idle = 0;
	if (req == 0 ||
	    !__atomic_compare_exchange_n(&s->busy, &idle, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return;
	uint64_t st[HS_NSTATS] = {0};
	switch (g_allocator) {
	case HEAP_ALLOC_GLIBC:
		if (fn_mallinfo2) {
			struct mallinfo2 mi = fn_mallinfo2();
			st[HS_GLIBC_ARENA] = mi.arena;
			st[HS_GLIBC_INUSE] = mi.uordblks;
			st[HS_GLIBC_FREE] = mi.fordblks;
			st[HS_GLIBC_MMAPPED] = mi.hblkhd;
			st[HS_GLIBC_TOP] = mi.keepcost;
			st[HS_GLIBC_FREECHUNKS] = mi.ordblks;
		}
		break;
	case HEAP_ALLOC_JEMALLOC: {
		uint64_t epoch = 1;
		size_t sz = sizeof(epoch);
		fn_mallctl("epoch", &epoch, &sz, &epoch, sz);   /* refresh jemalloc's cached stats */
		st[HS_JE_ALLOCATED] = je_get("stats.allocated");
		st[HS_JE_ACTIVE] = je_get("stats.active");
		st[HS_JE_RESIDENT] = je_get("stats.resident");
		st[HS_JE_RETAINED] = je_get("stats.retained");
		st[HS_JE_METADATA] = je_get("stats.metadata");
		st[HS_JE_MAPPED] = je_get("stats.mapped");
		/* 4096 = MALLCTL_ARENAS_ALL: what every tcache holds, freed by the program */
		st[HS_JE_TCACHE] = je_get("stats.arenas.4096.tcache_bytes");
		break;
	}
	case HEAP_ALLOC_MIMALLOC: {
		size_t el = 0, us = 0, sy = 0, rss = 0, prss = 0, commit = 0, pcommit = 0, pf = 0;
		fn_mi_process_info(&el, &us, &sy, &rss, &prss, &commit, &pcommit, &pf);
		st[HS_MI_COMMIT] = commit;
		st[HS_MI_RSS] = rss;
		st[HS_MI_PEAK_COMMIT] = pcommit;
		break;
	}
	default:
		break;
	}
	for (int i = 0; i < HS_NSTATS; i++)
		STORE(&s->stats[i], st[i]);
	STORE(&s->published_ns, now_ns());
	__atomic_store_n(&s->published, req, __ATOMIC_RELEASE);
	__atomic_store_n(&s->request, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
}

/* Without a service thread, the calls answer: one load of a line the reader writes rarely. */
static inline void poll_request(void)
{
	struct heap_seg *s = LOAD(&g_poll_seg);
	if (unlikely(s != NULL) && unlikely(LOAD(&s->request)))
		publish(s);
}

/* --- the service thread -------------------------------------------------------------------
 * Sleeps on `request` (a shared futex: the reader's FUTEX_WAKE reaches it across processes) and
 * answers. The timeout only bounds how long a lost wake-up could delay an answer. It calls
 * nothing but the allocator's statistics, which take the allocator's own locks the way any of
 * the program's threads would: fork (the allocator's fork handlers take every lock first) and
 * exit (exit_group ends it wherever it is) need no cooperation from it. */
#define SERVICE_WAIT_S 5
#define SERVICE_STACK (256 * 1024)   /* mallctl's stats refresh is the deepest call; 16x margin */

static pthread_t g_service;
static bool g_service_on;
static int g_service_quit;          /* set (and the futex woken) to make the thread return */

static void *service_main(void *arg)
{
	struct heap_seg *s = arg;
	prctl(PR_SET_NAME, "headroom-heap", 0, 0, 0);
	while (!__atomic_load_n(&g_service_quit, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&s->request, __ATOMIC_ACQUIRE) != 0)
			publish(s);
		struct timespec ts = {SERVICE_WAIT_S, 0};
		if (!__atomic_load_n(&g_service_quit, __ATOMIC_ACQUIRE))
			syscall(SYS_futex, &s->request, FUTEX_WAIT, 0, &ts, NULL, 0);
	}
	return NULL;
}

/* Starts the service thread for segment s; false when it cannot (the calls answer then). The
 * thread gets every signal blocked (a signal meant for the program never lands on it) and a
 * small stack. Joinable, so that service_stop() can know it is gone; never joined otherwise
 * (the process's exit ends it: it keeps nothing alive). */
static bool service_start(struct heap_seg *s)
{
	pthread_attr_t at;
	if (pthread_attr_init(&at) != 0)
		return false;
	sigset_t all, old;
	sigfillset(&all);
	pthread_t t;
	__atomic_store_n(&g_service_quit, 0, __ATOMIC_RELEASE);
	bool ok = pthread_attr_setstacksize(&at, SERVICE_STACK) == 0 &&
		  pthread_sigmask(SIG_SETMASK, &all, &old) == 0;
	if (ok) {
		ok = pthread_create(&t, &at, service_main, s) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	pthread_attr_destroy(&at);
	if (ok) {
		g_service = t;
		g_service_on = true;
		__atomic_store_n(&s->service, 1, __ATOMIC_RELEASE);
	}
	return ok;
}

/* Ends the service thread and waits until it is gone; the calls answer meanwhile. */
static void service_stop(struct heap_seg *s)
{
	__atomic_store_n(&g_poll_seg, s, __ATOMIC_RELEASE);
	__atomic_store_n(&g_stats_seg, s->mode == HEAP_SEG_STATS ? s : NULL, __ATOMIC_RELEASE);
	route();
	__atomic_store_n(&g_service_quit, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &s->request, FUTEX_WAKE, 1, NULL, NULL, 0);
	pthread_join(g_service, NULL);
	g_service_on = false;
	__atomic_store_n(&s->service, 0, __ATOMIC_RELEASE);
}

static void service_resume(struct heap_seg *s)
{
	if (!service_start(s))
		return;
	__atomic_store_n(&g_poll_seg, NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&g_stats_seg, NULL, __ATOMIC_RELEASE);
	route();
}

/* --- count mode -------------------------------------------------------------------------- */
static void thread_gone(void *unused)
{
	struct heap_seg_slot *sl = tls.slot;
	struct heap_seg *s = g_seg;
	tls.dead = true;
	tls.slot = NULL;
	if (!sl || !s)
		return;
	/* hand the counts to `retired`, then free the slot: a reader may see them twice for an
	 * instant, never lose them */
	__atomic_fetch_add(&s->retired.live_bytes, LOAD(&sl->live_bytes), __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->retired.allocs, LOAD(&sl->allocs), __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->retired.frees, LOAD(&sl->frees), __ATOMIC_RELAXED);
	STORE(&sl->live_bytes, 0);
	STORE(&sl->allocs, 0);
	STORE(&sl->frees, 0);
	__atomic_store_n(&sl->state, 0, __ATOMIC_RELEASE);
}

static uint64_t je_zero;

static bool je_counters_work(void)
{
	uint64_t *a = NULL;
	size_t sz = sizeof(a);
	return fn_mallctl && fn_mallctl("thread.allocatedp", &a, &sz, NULL, 0) == 0 && a;
}

static uint64_t je_live_now(void)
{
	return *tls.je_alloc - *tls.je_dealloc;
}

static __attribute__((noinline)) struct heap_seg_slot *slot_claim(int64_t delta)
{
	struct heap_seg *s = g_seg;
	if (tls.dead || tls.claiming || !s)
		return NULL;
	tls.claiming = true;
	struct heap_seg_slot *got = NULL;
	for (uint32_t i = 0; i < HEAP_SEG_SLOTS; i++) {
		uint32_t free_ = 0;
		if (LOAD(&s->slots[i].state) == 0 &&
		    __atomic_compare_exchange_n(&s->slots[i].state, &free_, 1, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED)) {
			got = &s->slots[i];
			uint32_t hw = LOAD(&s->hiwater);
			while (hw < i + 1 && !__atomic_compare_exchange_n(&s->hiwater, &hw, i + 1, false,
									  __ATOMIC_RELEASE, __ATOMIC_RELAXED))
				;
			break;
		}
	}
	if (got) {
		STORE(&got->tid, (uint32_t)syscall(SYS_gettid));
		tls.base = 0;
		if (g_je_counters) {
			uint64_t *a = NULL, *d = NULL;
			size_t sz = sizeof(a);
			if (fn_mallctl("thread.allocatedp", &a, &sz, NULL, 0) != 0 ||
			    fn_mallctl("thread.deallocatedp", &d, &sz, NULL, 0) != 0 || !a || !d)
				a = d = &je_zero;   /* cannot happen once init saw them work: count nothing */
			tls.je_alloc = a;
			tls.je_dealloc = d;
			tls.je_base = *a - *d - (uint64_t)delta;   /* the call being counted is in already */
		}
		tls.slot = got;
		/* the destructor runs only for a non-NULL value; this may allocate (keys past the
		 * first 32): those calls find tls.slot set */
		if (g_key_ok)
			pthread_setspecific(g_key, (void *)1);
	}
	tls.claiming = false;
	return got;
}

static __attribute__((noinline)) void peak_check(struct heap_seg *s)
{
	int64_t sum = LOAD(&s->retired.live_bytes);
	uint32_t hw = LOAD(&s->hiwater);
	for (uint32_t i = 0; i < hw && i < HEAP_SEG_SLOTS; i++)
		sum += LOAD(&s->slots[i].live_bytes);
	int64_t cur = LOAD(&s->peak);
	while (sum > cur && !__atomic_compare_exchange_n(&s->peak, &cur, sum, false, __ATOMIC_RELAXED,
							 __ATOMIC_RELAXED))
		;
}

/* This thread's live bytes moved more than HEAP_PEAK_STEP from the last check: up, sum every
 * slot into the process peak; down, only follow. So each thread's unchecked growth stays under
 * 2 x HEAP_PEAK_STEP, the bound on how far the peak can be missed per thread (docs/heap.md). */
static __attribute__((noinline)) void count_edge(int64_t live)
{
	if (live > tls.base)
		peak_check(g_seg);
	tls.base = live;
}

static inline void count_slot(struct heap_seg_slot *sl, int64_t live, bool alloc)
{
	STORE(&sl->live_bytes, live);
	if (alloc)
		STORE(&sl->allocs, sl->allocs + 1);
	else
		STORE(&sl->frees, sl->frees + 1);
	if (unlikely((uint64_t)(live - tls.base + HEAP_PEAK_STEP) > 2 * HEAP_PEAK_STEP))
		count_edge(live);
}

/* Any change: delta bytes, na allocations, nf frees. Claims the thread's slot on its first call;
 * without one (a thread past the slots or exiting) counts into `retired` with atomics. */
static __attribute__((noinline)) void count_any(int64_t delta, uint64_t na, uint64_t nf)
{
	struct heap_seg_slot *sl = tls.slot;
	if (!sl && !(sl = slot_claim(delta))) {
		struct heap_seg *s = g_seg;
		if (!s)
			return;
		__atomic_fetch_add(&s->retired.live_bytes, delta, __ATOMIC_RELAXED);
		if (na)
			__atomic_fetch_add(&s->retired.allocs, na, __ATOMIC_RELAXED);
		if (nf)
			__atomic_fetch_add(&s->retired.frees, nf, __ATOMIC_RELAXED);
		return;
	}
	int64_t live;
	if (g_je_counters && tls.je_alloc)
		live = (int64_t)(je_live_now() - tls.je_base);
	else
		live = sl->live_bytes + delta;
	STORE(&sl->live_bytes, live);
	STORE(&sl->allocs, sl->allocs + na);
	STORE(&sl->frees, sl->frees + nf);
	if ((uint64_t)(live - tls.base + HEAP_PEAK_STEP) > 2 * HEAP_PEAK_STEP)
		count_edge(live);
}

/* glibc's malloc_usable_size without the call: the size word in front of the chunk, less its
 * header (16 bytes for an mmapped chunk, 8 otherwise). Used only when init found it to agree. */
static inline int64_t glibc_usable(void *p)
{
	size_t h = ((size_t *)p)[-1];
	int64_t n = (int64_t)(h & ~(size_t)7) - 8;
	return unlikely(h & 2) ? n - 8 : n;
}

/* the size a block accounts for */
static inline int64_t usable(void *p)
{
	return likely(g_glibc_hdr) ? glibc_usable(p) : (int64_t)real_usable(p);
}

static inline void count_alloc(void *p)
{
	struct heap_seg_slot *sl = tls.slot;
	if (g_je_counters) {
		if (likely(sl && tls.je_alloc))
			count_slot(sl, (int64_t)(je_live_now() - tls.je_base), true);
		else
			count_any((int64_t)real_usable(p), 1, 0);
		return;
	}
	int64_t n = usable(p);
	if (likely(sl))
		count_slot(sl, sl->live_bytes + n, true);
	else
		count_any(n, 1, 0);
}

/* frees p and counts it */
static inline void free_counted(void *p)
{
	struct heap_seg_slot *sl = tls.slot;
	if (g_je_counters && likely(sl && tls.je_alloc)) {
		real_free(p);
		count_slot(sl, (int64_t)(je_live_now() - tls.je_base), false);
		return;
	}
	int64_t n = g_je_counters ? (int64_t)real_usable(p) : usable(p);
	real_free(p);
	if (likely(sl))
		count_slot(sl, sl->live_bytes - n, false);
	else
		count_any(-n, 0, 1);
}

/* --- sites mode ----------------------------------------------------------------------------
 * The countdown: each thread subtracts the requested size from `left`; the allocation that takes
 * it to 0 or below is sampled, and a new distance is drawn from an exponential distribution of
 * mean R. So every byte has the same chance 1/R, and a block of s bytes is sampled with
 * probability p = 1 - exp(-s/R); it then counts s/p bytes and 1/p objects (the unbiased
 * estimate pprof and tcmalloc use). The fast path is a TLS subtraction and a compare. */
#define LIVE_BITS 13
#define LIVE_BUCKETS (1 << LIVE_BITS) /* x LIVE_WAYS sampled blocks alive at once, private memory */
#define LIVE_WAYS 8                /* a cache line of keys per bucket */
#define SITE_PROBES 64

struct live_val {
	int64_t bytes, objects;    /* the block's estimate weights */
	uint32_t site;
	uint32_t pad;
};
static uintptr_t *g_live_keys;      /* LIVE_BUCKETS * LIVE_WAYS addresses, 0 = empty */
/* keys in each bucket, a nibble each (<= LIVE_WAYS < 16: an atomic add never carries into the
 * next): what free() reads first. 4 KiB that stay in L1 (the keys are 512 KiB, a cache miss per
 * free when read directly: 8 % of malloc_bench; a byte per 4-way bucket, 16 KiB, still missed
 * L1 on 2 frees in 3 under callgrind's cache model) */
static uint64_t *g_live_count;
static struct live_val *g_live_vals;
static struct heap_seg_sites *g_sites; /* the segment's sites area, NULL outside sites mode */
static double g_interval;           /* R, bytes */
static uintptr_t g_self_lo, g_self_hi; /* this library's mapping: frames in it are skipped */
static uintptr_t g_ugcc_lo, g_ugcc_hi; /* libgcc_s: an allocation made from it is not unwound */
static bool g_unwind_ok;             /* heap_unwind_walk works here (else libgcc for every stack) */

static inline uint64_t rng_next(void)
{
	uint64_t x = tls.rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	tls.rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* -ln(u) for u in (0, 1], within 1e-9 relative, without libm: glibc's log reads its 4 KiB
 * of tables, ~6 L1 misses a sample once the program has evicted them (callgrind --cache-sim) */
static double neg_log(double u)
{
	uint64_t b;
	memcpy(&b, &u, sizeof(b));
	int e = (int)((b >> 52) & 0x7ff) - 1023;
	b = (b & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
	double m;
	memcpy(&m, &b, sizeof(m));   /* u = m * 2^e, m in [1, 2) */
	if (m > 1.4142135623730951) {
		m *= 0.5;
		e++;
	}
	double z = (m - 1) / (m + 1), z2 = z * z;   /* |z| <= 0.172: ln m = 2 atanh z */
	double l = 2 * z * (1 + z2 * (1.0 / 3 + z2 * (1.0 / 5 + z2 * (1.0 / 7 + z2 * (1.0 / 9)))));
	return -(e * 0.6931471805599453 + l);
}

static __attribute__((noinline, cold)) double one_minus_exp_big(double t)
{
	return -expm1(-t);
}

/* 1 - exp(-t), t >= 0: the series below 0.5 (error < 1e-8 relative), expm1 above */
static double one_minus_exp(double t)
{
	if (unlikely(t >= 0.5 || t != t))
		return one_minus_exp_big(t);
	return t * (1 - t * (1.0 / 2 - t * (1.0 / 6 - t * (1.0 / 24 - t * (1.0 / 120 - t * (1.0 / 720 -
	       t * (1.0 / 5040 - t * (1.0 / 40320))))))));
}

/* bytes until the next sample: exponential of mean R, at least 1 */
static int64_t sample_draw(void)
{
	double u = (double)((rng_next() >> 11) + 1) * (1.0 / 9007199254740992.0);   /* (0, 1] */
	double d = neg_log(u) * g_interval;
	return d < 1 ? 1 : d > 1e15 ? (int64_t)1e15 : (int64_t)d + 1;
}

static void rng_seed(void)
{
	uint64_t x = (uint64_t)now_ns() ^ ((uint64_t)syscall(SYS_gettid) << 32) ^ (uint64_t)(uintptr_t)&tls;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	tls.rng = (x ^ (x >> 31)) | 1;
}

/* a 32-bit multiply by an immediate: the low 32 bits of p >> 4 tell blocks apart */
static inline uint32_t live_hash(uintptr_t p)
{
	return (uint32_t)(p >> 4) * 0x9E3779B1u;
}

static inline uint32_t live_bucket(uintptr_t p)
{
	return live_hash(p) >> (32 - LIVE_BITS);
}

static void site_add(uint32_t site, int64_t bytes, int64_t objects, bool alloc)
{
	struct heap_seg_site *st = &g_sites->sites[site];
	__atomic_fetch_add(&st->live_bytes, bytes, __ATOMIC_RELAXED);
	__atomic_fetch_add(&st->live_objects, objects, __ATOMIC_RELAXED);
	if (alloc) {
		__atomic_fetch_add(&st->alloc_bytes, bytes, __ATOMIC_RELAXED);
		__atomic_fetch_add(&st->alloc_objects, objects, __ATOMIC_RELAXED);
	}
}

/* remembers a sampled block in its bucket or, that one full, in its neighbour (bucket ^ 1: the
 * two counts share a byte, which free() reads in one load); false when both are full (its free
 * will not be seen). With one bucket only, heap_threads at 4 KiB (~25,000 sampled blocks alive
 * in 65,536 slots) had 340-580 find theirs full, and its sites' live bytes read up to 2 % low. */
static bool live_put(uintptr_t p, const struct live_val *v)
{
	uint32_t home = live_bucket(p);
	for (int k = 0; k < 2; k++) {
		uint32_t bk = home ^ (uint32_t)k, b = bk * LIVE_WAYS;
		for (int i = 0; i < LIVE_WAYS; i++) {
			uintptr_t zero = 0;
			if (LOAD(&g_live_keys[b + i]) == 0 &&
			    __atomic_compare_exchange_n(&g_live_keys[b + i], &zero, p, false, __ATOMIC_RELEASE,
							__ATOMIC_RELAXED)) {
				g_live_vals[b + i] = *v;
				__atomic_fetch_add(&g_live_count[bk / 16], 1ULL << (bk % 16 * 4), __ATOMIC_RELEASE);
				return true;
			}
		}
	}
	return false;
}

/* forgets a sampled block (its site's live counts go down); false when p was not sampled. The
 * value is read before the key is released: the slot can be reused only after that. */
static __attribute__((noinline)) bool live_take(uintptr_t p, uintptr_t *slot, struct live_val *out)
{
	size_t at = (size_t)(slot - g_live_keys);
	struct live_val v = g_live_vals[at];
	uintptr_t want = p;
	if (!__atomic_compare_exchange_n(slot, &want, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return false;   /* a double free racing with itself: not ours to count */
	uint32_t bk = (uint32_t)(at / LIVE_WAYS);
	__atomic_fetch_sub(&g_live_count[bk / 16], 1ULL << (bk % 16 * 4), __ATOMIC_RELAXED);
	if (v.site < HEAP_SITES_MAX)
		site_add(v.site, -v.bytes, -v.objects, false);
	if (out)
		*out = v;
	return true;
}

/* live_find's look at the keys of p's bucket bk and its neighbour, whose counts are `pair`;
 * out of line, so that the test before it is all a free pays when the pair is empty */
static __attribute__((noinline)) uintptr_t *live_find_keys(void *p, uint32_t bk, unsigned pair)
{
	if (!p)
		return NULL;   /* free(NULL): tested here, off the common path (0 is an empty key) */
	for (int k = 0; k < 2; k++) {
		uint32_t b = bk ^ (uint32_t)k;
		if (((pair >> (b % 2 * 4)) & 15) == 0)
			continue;
		uintptr_t *keys = g_live_keys + b * LIVE_WAYS;
		for (int i = 0; i < LIVE_WAYS; i++)
			if (unlikely(LOAD(&keys[i]) == (uintptr_t)p))
				return &keys[i];
	}
	return NULL;
}

/* The sampled block p's slot in the live table, NULL when p was not sampled: a hash and one
 * load of a byte (the counts of its bucket and its neighbour), the whole cost of sites mode on
 * most frees. */
static inline uintptr_t *live_find(void *p)
{
	/* bucket bk = h >> (32 - LIVE_BITS): its word bk / 16, the shift of its pair's byte
	 * (bk & ~1) % 16 * 4, both taken from h directly (one shift and mask fewer) */
	uint32_t h = live_hash((uintptr_t)p);
	uint64_t w = __atomic_load_n(&g_live_count[h >> (32 - LIVE_BITS + 4)], __ATOMIC_ACQUIRE);
	unsigned pair = (unsigned)(w >> ((h >> (32 - LIVE_BITS - 2)) & 56)) & 255;
	if (likely(pair == 0))
		return NULL;
	return live_find_keys(p, h >> (32 - LIVE_BITS), pair);
}

struct unwind_state {
	uint64_t *pc;
	int n;
};

static _Unwind_Reason_Code unwind_one(struct _Unwind_Context *ctx, void *arg)
{
	struct unwind_state *u = arg;
	uintptr_t ip = _Unwind_GetIP(ctx);
	if (ip == 0)
		return _URC_END_OF_STACK;
	if (u->n == 0 && ip >= g_self_lo && ip < g_self_hi)
		return _URC_NO_REASON;   /* the shim's own frames: depth 0 is malloc's caller */
	u->pc[u->n++] = ip;
	return u->n >= HEAP_SITE_FRAMES ? _URC_END_OF_STACK : _URC_NO_REASON;
}

static uint64_t stack_hash(const uint64_t *pc, int n)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)n;
	for (int i = 0; i < n; i++) {
		h ^= pc[i];
		h *= 0x100000001B3ULL;
		h ^= h >> 29;
	}
	return h ? h : 1;
}

/* The site of this stack: found, or claimed in the segment's table (linear probing from its
 * hash, lock-free: the claim is a CAS of `hash`, the frames are published by `state`). 0, the
 * "other" site, when the table or the frame pool is full or there is no frame. */
static __attribute__((noinline, cold)) uint32_t site_claim(const uint64_t *pc, int n, uint64_t h)
{
	struct heap_seg_sites *ss = g_sites;
	uint32_t i = 1 + (uint32_t)(h % (HEAP_SITES_MAX - 1));
	for (int probe = 0; probe < SITE_PROBES; probe++, i = i + 1 < HEAP_SITES_MAX ? i + 1 : 1) {
		struct heap_seg_site *st = &ss->sites[i];
		uint64_t cur = LOAD(&st->hash);
		if (cur == h)
			return i;
		if (cur != 0)
			continue;
		if (LOAD(&ss->pool_used) + (uint32_t)n > HEAP_SITE_POOL)
			break;
		if (!__atomic_compare_exchange_n(&st->hash, &cur, h, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			if (cur == h)
				return i;
			continue;
		}
		STORE(&st->state, 1);
		uint32_t first = __atomic_fetch_add(&ss->pool_used, (uint32_t)n, __ATOMIC_RELAXED);
		if (first + (uint32_t)n <= HEAP_SITE_POOL) {
			for (int k = 0; k < n; k++)
				STORE(&ss->pool[first + k], pc[k]);
			STORE(&st->first, first);
			STORE(&st->nframes, (uint32_t)n);
		}   /* else: another claim took the room meanwhile; a site without frames */
		uint32_t hw = LOAD(&ss->hiwater);
		while (hw < i + 1 && !__atomic_compare_exchange_n(&ss->hiwater, &hw, i + 1, false,
								  __ATOMIC_RELEASE, __ATOMIC_RELAXED))
			;
		__atomic_store_n(&st->state, 2, __ATOMIC_RELEASE);
		return i;
	}
	__atomic_fetch_add(&ss->other, 1, __ATOMIC_RELAXED);
	return 0;
}

/* The hot half: a stack seen before is found by its hash before the first free slot; the rest
 * (claims, a full table, no frame) is out of line, so that a sample runs fewer code lines (it
 * runs cold: a few hundred allocations have evicted them since the last one). */
static uint32_t site_of(const uint64_t *pc, int n)
{
	if (unlikely(n == 0)) {
		__atomic_fetch_add(&g_sites->unwalkable, 1, __ATOMIC_RELAXED);
		return 0;
	}
	uint64_t h = stack_hash(pc, n);
	uint32_t i = 1 + (uint32_t)(h % (HEAP_SITES_MAX - 1));
	for (int probe = 0; probe < SITE_PROBES; probe++, i = i + 1 < HEAP_SITES_MAX ? i + 1 : 1) {
		uint64_t cur = LOAD(&g_sites->sites[i].hash);
		if (cur == h)
			return i;
		if (cur == 0)
			break;
	}
	return site_claim(pc, n, h);
}

/* The countdown ran out in an allocation of n bytes at p, called from ra: draw the next
 * distance, take the stack, count the site, remember the block. Out of line: the fast path stays
 * a subtraction. An allocation made by libgcc itself (it sorts registered unwind tables with
 * malloc while holding its object mutex, inside the program's own unwinding: a C++ throw) is
 * not unwound: a second unwind would wait for that mutex forever. It counts into "other". */
/* the thread's first countdown: its distance is drawn now; true when that already covers n */
static __attribute__((noinline, cold)) bool sample_first(void)
{
	rng_seed();
	tls.left += sample_draw();
	return tls.left > 0;
}

static __attribute__((noinline, cold)) void unwind_libgcc(struct unwind_state *u)
{
	_Unwind_Backtrace(unwind_one, u);
}

/* its free would not be seen: it counts as allocated, never as live */
static __attribute__((noinline, cold)) void sample_untracked(uint32_t site, const struct live_val *v)
{
	__atomic_fetch_add(&g_sites->untracked, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&g_sites->sites[site].alloc_bytes, v->bytes, __ATOMIC_RELAXED);
	__atomic_fetch_add(&g_sites->sites[site].alloc_objects, v->objects, __ATOMIC_RELAXED);
}

static __attribute__((noinline)) void sample_alloc(void *p, size_t n, uintptr_t ra)
{
	if (unlikely(tls.rng == 0) && sample_first())
		return;   /* the thread's first countdown: not a sample */
	while (tls.left <= 0)
		tls.left += sample_draw();
	if (tls.in_sample || !g_sites || !p)
		return;   /* the unwinder allocated: not sampled (nor unwound within itself) */
	tls.in_sample = true;
	uint64_t pc[HEAP_SITE_FRAMES];
	struct unwind_state u = {.pc = pc};
	if (!(ra >= g_ugcc_lo && ra < g_ugcc_hi)) {
		/* the shim's walker (cached rules) where it can, libgcc's where it cannot */
		int got = g_unwind_ok ? heap_unwind_walk(pc, HEAP_SITE_FRAMES, g_self_lo, g_self_hi) : -1;
		if (likely(got >= 0))
			u.n = got;
		else
			unwind_libgcc(&u);
	}
	uint32_t site = site_of(pc, u.n);
	double s = (double)n;
	double prob = one_minus_exp(s / g_interval);
	if (prob <= 0 || prob > 1)
		prob = 1;
	struct live_val v = {.bytes = (int64_t)(s / prob + 0.5),
			     .objects = (int64_t)(HEAP_SITE_OBJ_ONE / prob + 0.5), .site = site};
	__atomic_fetch_add(&g_sites->samples, 1, __ATOMIC_RELAXED);
	if (likely(live_put((uintptr_t)p, &v)))
		site_add(site, v.bytes, v.objects, true);
	else
		sample_untracked(site, &v);
	tls.in_sample = false;
}

/* ra: the return address of the interposed call (__builtin_return_address(0) in it) */
static inline void sites_count(void *p, size_t n, const void *ra)
{
	int64_t left = tls.left - (int64_t)n;
	tls.left = left;
	if (unlikely(left <= 0))
		sample_alloc(p, n, (uintptr_t)ra);
}

static inline void sites_forget(void *p)
{
	uintptr_t *slot;
	if (unlikely((slot = live_find(p)) != NULL))
		live_take((uintptr_t)p, slot, NULL);
}

struct obj_range {
	uintptr_t addr, lo, hi;
};

/* the extent of the loaded object that holds r->addr */
static int obj_range_of(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct obj_range *r = arg;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		lo = a < lo ? a : lo;
		hi = a + ph->p_memsz > hi ? a + ph->p_memsz : hi;
	}
	if (r->addr >= lo && r->addr < hi) {
		r->lo = lo;
		r->hi = hi;
		return 1;
	}
	return 0;
}

/* Sites mode for segment s: the live table (private: a fork's child inherits it with the heap
 * it describes), this library's range, and one unwind now, so that libgcc's first-use work
 * (finding the unwind tables) happens here, not inside a malloc. false: sampling unavailable. */
static bool sites_setup(struct heap_seg *s)
{
	if (!g_live_keys) {
		size_t nk = (size_t)LIVE_BUCKETS * LIVE_WAYS;
		void *k = mmap(NULL, nk * sizeof(uintptr_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		void *v = mmap(NULL, nk * sizeof(struct live_val), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		void *c = mmap(NULL, LIVE_BUCKETS / 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (k == MAP_FAILED || v == MAP_FAILED || c == MAP_FAILED) {
			if (k != MAP_FAILED)
				munmap(k, nk * sizeof(uintptr_t));
			if (v != MAP_FAILED)
				munmap(v, nk * sizeof(struct live_val));
			if (c != MAP_FAILED)
				munmap(c, LIVE_BUCKETS / 2);
			return false;
		}
		g_live_vals = v;
		g_live_count = c;
		__atomic_store_n(&g_live_keys, (uintptr_t *)k, __ATOMIC_RELEASE);
		struct obj_range self = {.addr = (uintptr_t)sites_setup}, ugcc = {.addr = (uintptr_t)_Unwind_Backtrace};
		dl_iterate_phdr(obj_range_of, &self);
		dl_iterate_phdr(obj_range_of, &ugcc);
		g_self_lo = self.lo;
		g_self_hi = self.hi;
		g_ugcc_lo = ugcc.lo;
		g_ugcc_hi = ugcc.hi;
		tls.in_sample = true;
		uint64_t pc[HEAP_SITE_FRAMES];
		struct unwind_state u = {.pc = pc};
		_Unwind_Backtrace(unwind_one, &u);
		g_unwind_ok = heap_unwind_setup() == 0;
		if (g_unwind_ok)
			heap_unwind_walk(pc, HEAP_SITE_FRAMES, g_self_lo, g_self_hi);
		/* lazily bound functions of the sampled path, bound now rather than inside a malloc */
		volatile double x = 0.5;
		x = expm1(-x);
		tls.in_sample = false;
	}
	struct heap_seg_sites *ss = heap_seg_sites_of(s);
	g_interval = (double)ss->interval;
	__atomic_store_n(&g_sites, ss, __ATOMIC_RELEASE);
	return true;
}

/* does glibc_usable() agree with malloc_usable_size here? small, large, mmapped, aligned */
static bool glibc_hdr_agrees(void)
{
	static const size_t sizes[] = {1, 24, 1000, 5000, 200000, 3 << 20};
	bool ok = true;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]) && ok; i++) {
		void *p = real_malloc(sizes[i]);
		void *q = real_memalign(4096, sizes[i]);
		ok = p && q && glibc_usable(p) == (int64_t)real_usable(p) &&
		     glibc_usable(q) == (int64_t)real_usable(q);
		real_free(p);
		real_free(q);
	}
	return ok;
}

/* --- initialisation ---------------------------------------------------------------------- */
static void atfork_child(void);

static bool same_object(void *a, void *b)
{
	Dl_info ia, ib;
	return a && b && dladdr(a, &ia) && dladdr(b, &ib) && ia.dli_fbase == ib.dli_fbase;
}

static void route(void);

/* inherit: the parent's segment in the child of a fork (its sites are the child's too), else NULL */
static void seg_setup(struct heap_seg *inherit)
{
	if (g_seg_tried || !environ)
		return;
	g_seg_tried = true;
	struct heap_seg *s = seg_create();
	bool sites = s && s->mode == HEAP_SEG_SITES && sites_setup(s);
	if (sites && inherit && LOAD(&inherit->mode) == HEAP_SEG_SITES &&
	    LOAD(&inherit->size) == HEAP_SEG_SIZE_SITES)
		memcpy(heap_seg_sites_of(s), heap_seg_sites_of(inherit), sizeof(struct heap_seg_sites));
	__atomic_store_n(&g_seg, s, __ATOMIC_RELEASE);
	g_je_counters = s && s->mode == HEAP_SEG_COUNT && g_allocator == HEAP_ALLOC_JEMALLOC &&
			je_counters_work();
	g_glibc_hdr = s && s->mode == HEAP_SEG_COUNT && g_allocator == HEAP_ALLOC_GLIBC && glibc_hdr_agrees();
	/* a sites segment whose sampling could not be set up works as stats mode */
	bool stats = s && (s->mode == HEAP_SEG_STATS || (s->mode == HEAP_SEG_SITES && !sites));
	__atomic_store_n(&g_poll_seg, s, __ATOMIC_RELEASE);
	__atomic_store_n(&g_stats_seg, stats ? s : NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&g_state, !s ? ST_FORWARD : s->mode == HEAP_SEG_COUNT ? ST_COUNT : sites ? ST_SITES : ST_STATS,
			 __ATOMIC_RELEASE);
	route();
	/* only now: pthread_create allocates (its TLS), which must find the shim initialised */
	if (s)
		service_resume(s);
}

static __attribute__((noinline)) int init_slow(void)
{
	if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) != ST_INIT)
		return 0;
	if (tls.in_init)
		return -1;
	int expected = 0;
	if (!__atomic_compare_exchange_n(&g_init_lock, &expected, 1, false, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED)) {
		while (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == ST_INIT)
			sched_yield();
		return 0;
	}
	tls.in_init = true;
	real_malloc = dlsym(RTLD_NEXT, "malloc");
	real_free = dlsym(RTLD_NEXT, "free");
	real_calloc = dlsym(RTLD_NEXT, "calloc");
	real_realloc = dlsym(RTLD_NEXT, "realloc");
	real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
	real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
	real_memalign = dlsym(RTLD_NEXT, "memalign");
	real_valloc = dlsym(RTLD_NEXT, "valloc");
	real_pvalloc = dlsym(RTLD_NEXT, "pvalloc");
	real_usable = dlsym(RTLD_NEXT, "malloc_usable_size");
	if (!real_malloc || !real_free || !real_calloc || !real_realloc || !real_usable) {
		tls.in_init = false;
		return -1;   /* stays on the bootstrap buffer: cannot happen with a C library */
	}
	void *mallctl = dlsym(RTLD_DEFAULT, "mallctl");
	void *mi = dlsym(RTLD_DEFAULT, "mi_process_info");
	void *mi2 = dlsym(RTLD_DEFAULT, "mallinfo2");
	if (same_object(mallctl, (void *)real_malloc)) {
		g_allocator = HEAP_ALLOC_JEMALLOC;
		fn_mallctl = mallctl;
	} else if (same_object(mi, (void *)real_malloc)) {
		g_allocator = HEAP_ALLOC_MIMALLOC;
		fn_mi_process_info = mi;
	} else if (same_object(mi2, (void *)real_malloc)) {
		g_allocator = HEAP_ALLOC_GLIBC;
		fn_mallinfo2 = mi2;
	}
	g_key_ok = pthread_key_create(&g_key, thread_gone) == 0;
	/* Child handlers run in the order they were registered, and ours allocates (a new segment,
	 * a new service thread): the allocator's own handler (jemalloc re-initialises its locks in
	 * it) must come first, so the allocator is made to initialise, and register it, now. */
	real_free(real_malloc(16));
	pthread_atfork(NULL, NULL, atfork_child);
	tls.in_init = false;
	if (environ)
		seg_setup(NULL);   /* sets g_state */
	else {
		__atomic_store_n(&g_state, ST_FORWARD, __ATOMIC_RELEASE);   /* the constructor retries */
		route();
	}
	return 0;
}

/* The child of fork keeps the parent's heap but must count into its own segment: it starts
 * with what the parent's threads held at the fork as inherited, in `retired`. */
static void atfork_child(void)
{
	struct heap_seg *old = g_seg;
	int64_t live = 0;
	uint64_t allocs = 0, frees = 0;
	if (old) {
		live = LOAD(&old->retired.live_bytes);
		allocs = LOAD(&old->retired.allocs);
		frees = LOAD(&old->retired.frees);
		uint32_t hw = LOAD(&old->hiwater);
		for (uint32_t i = 0; i < hw && i < HEAP_SEG_SLOTS; i++) {
			live += LOAD(&old->slots[i].live_bytes);
			allocs += LOAD(&old->slots[i].allocs);
			frees += LOAD(&old->slots[i].frees);
		}
	}
	g_service_on = false;   /* threads do not survive fork */
	__atomic_store_n(&g_state, ST_FORWARD, __ATOMIC_RELEASE);
	__atomic_store_n(&g_stats_seg, NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&g_poll_seg, NULL, __ATOMIC_RELEASE);
	route();
	__atomic_store_n(&g_seg, NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&g_sites, NULL, __ATOMIC_RELEASE);
	size_t old_size = g_seg_size;
	tls.slot = NULL;
	tls.base = 0;
	tls.je_alloc = tls.je_dealloc = NULL;
	/* the parent's segment: the child must not keep it open (nor be found through it) */
	if (g_seg_fd >= 0)
		close(g_seg_fd);
	g_seg_fd = -1;
	g_seg_tried = false;
	seg_setup(old);
	if (old)
		munmap(old, old_size);
	struct heap_seg *s = g_seg;
	if (s && s->mode == HEAP_SEG_COUNT) {
		/* inherited blocks count as allocations of the child: live count stays allocs - frees */
		s->retired.live_bytes = live;
		s->retired.allocs = allocs - frees;
		s->peak = live;
	}
}

__attribute__((constructor)) static void shim_init(void)
{
	if (init_slow() == 0)
		seg_setup(NULL);   /* the first malloc may have come before the environment existed */
}

/* --- the interposed functions ------------------------------------------------------------
 * malloc and free, the hot pair: stats mode inline (one load of g_stats_seg, one of its request
 * word, a tail call); anything else is one indirect tail call to the handler that init chose for
 * the mode and allocator, so a count-mode call never tests which mode it is in. The rest of the
 * family goes through one out-of-line path that switches on g_state. */
static inline bool stats_fast(void)
{
	struct heap_seg *s = LOAD(&g_stats_seg);
	return likely(s != NULL) && likely(LOAD(&s->request) == 0);
}

static void *malloc_init(size_t n);
static void free_init(void *p);
static void *(*g_malloc_other)(size_t) = malloc_init;
static void (*g_free_other)(void *) = free_init;

static void *malloc_init(size_t n)
{
	if (init_slow() != 0)
		return boot_alloc(n, 16);
	return malloc(n);
}

static void free_init(void *p)
{
	if (!p || is_boot(p) || init_slow() != 0)
		return;   /* not from the bootstrap buffer and no allocator yet: cannot happen */
	free(p);
}

static void *malloc_pending(size_t n)   /* stats mode, a request is pending */
{
	poll_request();
	return real_malloc(n);
}

static void free_stats(void *p)
{
	if (unlikely(is_boot(p)))
		return;
	poll_request();
	real_free(p);
}

static void free_forward(void *p)
{
	if (unlikely(is_boot(p)))
		return;
	real_free(p);
}

static void *malloc_count_glibc(size_t n)
{
	void *p = real_malloc(n);
	struct heap_seg_slot *sl = tls.slot;
	if (likely(p && sl)) {
		count_slot(sl, sl->live_bytes + glibc_usable(p), true);
		poll_request();
		return p;
	}
	if (p)
		count_alloc(p);
	return p;
}

static void free_count_glibc(void *p)
{
	if (unlikely(!p) || unlikely(is_boot(p)))
		return;
	/* counted before it happens, so that the free is a tail call: the reader cannot tell */
	struct heap_seg_slot *sl = tls.slot;
	int64_t n = glibc_usable(p);
	if (likely(sl))
		count_slot(sl, sl->live_bytes - n, false);
	else
		count_any(-n, 0, 1);
	poll_request();
	real_free(p);
}

/* count mode over jemalloc: its own per-thread byte counters, no size lookup (a radix-tree walk
 * in jemalloc). The free cannot be a tail call: the counters move inside it. */
static inline int64_t je_live(void)
{
	return (int64_t)(*tls.je_alloc - *tls.je_dealloc - tls.je_base);
}

static void *malloc_count_je(size_t n)
{
	void *p = real_malloc(n);
	struct heap_seg_slot *sl = tls.slot;
	if (likely(sl != NULL)) {
		count_slot(sl, je_live(), true);
		poll_request();
		return p;
	}
	if (p)
		count_alloc(p);
	return p;
}

static void free_count_je(void *p)
{
	if (unlikely(!p) || unlikely(is_boot(p)))
		return;
	struct heap_seg_slot *sl = tls.slot;
	if (likely(sl != NULL)) {
		real_free(p);
		count_slot(sl, je_live(), false);
		poll_request();
		return;
	}
	free_counted(p);
}

/* count mode over an allocator whose usable size we must ask for */
static void *malloc_count(size_t n)
{
	void *p = real_malloc(n);
	if (likely(p != NULL))
		count_alloc(p);
	poll_request();
	return p;
}

static void free_count(void *p)
{
	if (unlikely(!p) || unlikely(is_boot(p)))
		return;
	free_counted(p);
	poll_request();
}

/* sites mode: the countdown on every allocation, the live-table check on every free */
static void *malloc_sites(size_t n)
{
	void *p = real_malloc(n);
	sites_count(p, n, __builtin_return_address(0));
	poll_request();
	return p;
}

static void free_sites(void *p)
{
	if (unlikely(is_boot(p)))
		return;
	sites_forget(p);
	poll_request();
	real_free(p);
}

/* sites mode, the allocation that ran the countdown out (malloc has already subtracted n) */
static __attribute__((noinline)) void *malloc_sampled(size_t n, const void *ra)
{
	void *p = real_malloc(n);
	sample_alloc(p, n, (uintptr_t)ra);
	return p;
}

/* after init, fork or a failed segment: route malloc and free for the new state */
static void route(void)
{
	int st = LOAD(&g_state);
	void *(*m)(size_t) = real_malloc;
	void (*f)(void *) = free_forward;
	if (st == ST_STATS && LOAD(&g_poll_seg)) {
		m = malloc_pending;   /* no service thread: the calls answer */
		f = free_stats;
	} else if (st == ST_STATS) {
		f = free_forward;     /* the service thread answers: nothing to add */
	} else if (st == ST_COUNT && g_glibc_hdr) {
		m = malloc_count_glibc;
		f = free_count_glibc;
	} else if (st == ST_COUNT && g_je_counters) {
		m = malloc_count_je;
		f = free_count_je;
	} else if (st == ST_COUNT) {
		m = malloc_count;
		f = free_count;
	} else if (st == ST_SITES) {
		m = malloc_sites;
		f = free_sites;
	}
	__atomic_store_n(&g_malloc_other, m, __ATOMIC_RELEASE);
	__atomic_store_n(&g_free_other, f, __ATOMIC_RELEASE);
	__atomic_store_n(&g_sites_fast, st == ST_SITES && !LOAD(&g_poll_seg), __ATOMIC_RELEASE);
}

EXPORT void *malloc(size_t n)
{
	if (stats_fast())
		return real_malloc(n);
	if (LOAD(&g_sites_fast)) {
		/* the countdown first: an allocation that is not sampled is a tail call */
		int64_t left = tls.left - (int64_t)n;
		tls.left = left;
		if (likely(left > 0))
			return real_malloc(n);
		return malloc_sampled(n, __builtin_return_address(0));
	}
	return LOAD(&g_malloc_other)(n);
}

EXPORT void free(void *p)
{
	if (stats_fast() && likely(!is_boot(p))) {
		real_free(p);
		return;
	}
	if (LOAD(&g_sites_fast) && likely(!is_boot(p))) {
		sites_forget(p);
		real_free(p);
		return;
	}
	LOAD(&g_free_other)(p);
}

static __attribute__((noinline)) void *calloc_other(size_t n, size_t m, const void *ra)
{
	int st = LOAD(&g_state);
	if (st == ST_COUNT) {
		void *p = real_calloc(n, m);
		if (p)
			count_alloc(p);
		poll_request();
		return p;
	}
	if (st == ST_SITES) {
		void *p = real_calloc(n, m);
		sites_count(p, n * m, ra);   /* n * m cannot overflow when calloc succeeded */
		poll_request();
		return p;
	}
	if (st == ST_STATS)
		poll_request();
	if (st == ST_STATS || st == ST_FORWARD)
		return real_calloc(n, m);
	if (init_slow() != 0) {
		if (m && n > SIZE_MAX / m)
			return NULL;
		return boot_alloc(n * m, 16);   /* static storage: zero */
	}
	return calloc(n, m);
}

EXPORT void *calloc(size_t n, size_t m)
{
	if (stats_fast())
		return real_calloc(n, m);
	return calloc_other(n, m, __builtin_return_address(0));
}

static __attribute__((noinline)) void *realloc_other(void *p, size_t n, const void *ra)
{
	int st = LOAD(&g_state);
	if (unlikely(is_boot(p))) {
		/* a block from the bootstrap buffer moves to the real allocator */
		void *q = st == ST_INIT && init_slow() != 0 ? boot_alloc(n, 16) : malloc(n);
		if (q) {
			size_t old = boot_size(p);
			memcpy(q, p, old < n ? old : n);
		}
		return q;
	}
	if (st == ST_INIT) {
		if (init_slow() != 0)
			return p ? NULL : boot_alloc(n, 16);
		return realloc(p, n);
	}
	if (st == ST_SITES) {
		/* forgotten before the block can be reused by another thread; back if realloc fails */
		struct live_val v;
		uintptr_t *slot;
		bool had = p && (slot = live_find(p)) != NULL && live_take((uintptr_t)p, slot, &v);
		void *q = real_realloc(p, n);
		if (!q && n != 0 && had && live_put((uintptr_t)p, &v))
			site_add(v.site, v.bytes, v.objects, false);
		if (q)
			sites_count(q, n, ra);
		poll_request();
		return q;
	}
	if (st == ST_STATS)
		poll_request();
	if (st != ST_COUNT)
		return real_realloc(p, n);
	int64_t old = !p ? 0 : g_je_counters ? (int64_t)real_usable(p) : usable(p);
	void *q = real_realloc(p, n);
	if (q)
		count_any((g_je_counters ? (int64_t)real_usable(q) : usable(q)) - old, 1, p ? 1 : 0);
	else if (p && n == 0)
		count_any(-old, 0, 1);   /* glibc frees and returns NULL */
	poll_request();
	return q;
}

EXPORT void *realloc(void *p, size_t n)
{
	if (stats_fast() && likely(!is_boot(p)))
		return real_realloc(p, n);
	if (LOAD(&g_sites_fast) && likely(!is_boot(p)) && likely(!live_find(p))) {
		/* a block that was not sampled, or NULL: the countdown only (realloc_other forgets a
		 * sample before the call, and puts it back if the call fails) */
		void *q = real_realloc(p, n);
		if (likely(q != NULL))
			sites_count(q, n, __builtin_return_address(0));
		return q;
	}
	return realloc_other(p, n, __builtin_return_address(0));
}

EXPORT void *reallocarray(void *p, size_t n, size_t m)
{
	if (m && n > SIZE_MAX / m) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n * m);
}

/* the aligned family is rare: one out-of-line path for all */
enum { AL_POSIX, AL_ALIGNED, AL_MEMALIGN, AL_VALLOC, AL_PVALLOC };

static void *aligned_any(int kind, size_t align, size_t n, int *ret_rc, const void *ra)
{
	int st = LOAD(&g_state);
	if (st == ST_INIT && init_slow() != 0) {
		if (kind == AL_VALLOC || kind == AL_PVALLOC)
			align = 4096;
		void *p = boot_alloc(kind == AL_PVALLOC ? (n + 4095) & ~(size_t)4095 : n, align);
		*ret_rc = p ? 0 : ENOMEM;
		return p;
	}
	void *p = NULL;
	*ret_rc = 0;
	switch (kind) {
	case AL_POSIX: *ret_rc = real_posix_memalign(&p, align, n); break;
	case AL_ALIGNED: p = real_aligned_alloc(align, n); break;
	case AL_MEMALIGN: p = real_memalign(align, n); break;
	case AL_VALLOC: p = real_valloc(n); break;
	case AL_PVALLOC:
		p = real_pvalloc ? real_pvalloc(n) : real_valloc((n + 4095) & ~(size_t)4095);
		break;
	}
	st = LOAD(&g_state);
	if (st == ST_COUNT && p)
		count_alloc(p);
	if (st == ST_SITES && p)
		sites_count(p, n, ra);
	if (st == ST_COUNT || st == ST_STATS || st == ST_SITES)
		poll_request();
	return p;
}

EXPORT int posix_memalign(void **ret, size_t align, size_t n)
{
	int rc;
	void *p = aligned_any(AL_POSIX, align, n, &rc, __builtin_return_address(0));
	if (rc == 0)
		*ret = p;
	return rc;
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
	int rc;
	return aligned_any(AL_ALIGNED, align, n, &rc, __builtin_return_address(0));
}

EXPORT void *memalign(size_t align, size_t n)
{
	int rc;
	return aligned_any(AL_MEMALIGN, align, n, &rc, __builtin_return_address(0));
}

EXPORT void *valloc(size_t n)
{
	int rc;
	return aligned_any(AL_VALLOC, 4096, n, &rc, __builtin_return_address(0));
}

EXPORT void *pvalloc(size_t n)
{
	int rc;
	return aligned_any(AL_PVALLOC, 4096, n, &rc, __builtin_return_address(0));
}

EXPORT size_t malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	if (is_boot(p))
		return boot_size(p);
	if (unlikely(LOAD(&g_state) == ST_INIT) && init_slow() != 0)
		return 0;
	return real_usable(p);
}

/* --- calls that need a single-threaded process -------------------------------------------
 * unshare(CLONE_NEWUSER) and setns() into a user namespace fail with EINVAL in a process with
 * more than one thread: the service thread must not change what the program can do. It is
 * stopped for the call (the calls answer meanwhile) and started again after it. The kernel
 * forgets an exited thread an instant after pthread_join returns, so an EINVAL right after the
 * stop is retried for up to USERNS_RETRY_MS. */
#define USERNS_RETRY_MS 50

static int (*real_unshare)(int);
static int (*real_setns)(int, int);

static int single_threaded_call(int (*fn)(int, int), int a, int b, bool needs_single)
{
	struct heap_seg *s = LOAD(&g_seg);
	bool stop = needs_single && g_service_on && s;
	if (stop)
		service_stop(s);
	int rc = fn(a, b);
	for (int i = 0; stop && rc < 0 && errno == EINVAL && i < USERNS_RETRY_MS; i++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
		rc = fn(a, b);
	}
	int saved = errno;
	if (stop && LOAD(&g_seg) == s)
		service_resume(s);
	errno = saved;
	return rc;
}

static int unshare_call(int flags, int unused)
{
	return real_unshare(flags);
}

static int setns_call(int fd, int nstype)
{
	return real_setns(fd, nstype);
}

EXPORT int unshare(int flags)
{
	if (!real_unshare && !(real_unshare = dlsym(RTLD_NEXT, "unshare"))) {
		errno = ENOSYS;
		return -1;
	}
	return single_threaded_call(unshare_call, flags, 0, (flags & CLONE_NEWUSER) != 0);
}

EXPORT int setns(int fd, int nstype)
{
	if (!real_setns && !(real_setns = dlsym(RTLD_NEXT, "setns"))) {
		errno = ENOSYS;
		return -1;
	}
	/* 0: any type, a user namespace included */
	return single_threaded_call(setns_call, fd, nstype, nstype == 0 || (nstype & CLONE_NEWUSER));
}

/* An unloaded library's code range can be reused by the next one loaded: the walker's cached
 * rules for its return addresses must go (before, and again after: a walk meanwhile recaches). */
static int (*real_dlclose)(void *);

EXPORT int dlclose(void *handle)
{
	if (!real_dlclose && !(real_dlclose = dlsym(RTLD_NEXT, "dlclose")))
		return -1;
	heap_unwind_forget();
	int rc = real_dlclose(handle);
	int saved = errno;
	heap_unwind_forget();
	errno = saved;
	return rc;
}
