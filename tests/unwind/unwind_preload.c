/* unwind_preload (libunwind-cmp.so): LD_PRELOAD into any program; every 7th malloc walks the
 * stack with the heap shim's walker (src/shim/heap_unwind.c) and with libgcc's
 * _Unwind_Backtrace, both leaving out this library's frames as the shim does (depth 0: the
 * caller of malloc), and counts the stacks that differ (UNWIND_CMP_EVERY=N: every Nth malloc).
 * At exit, and every 1024 stacks (for a server that is killed), it prints to stderr
 * "unwind-cmp: S stacks, F frames, D differ, B fallback" and the first differences.
 * For tests/it_heap_unwind.sh: real programs (Rust release, C++, Python) under the walker. */
#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unwind.h>

#include "heap_unwind.h"

#define MAXF 64
#define EXPORT __attribute__((visibility("default")))

extern void *__libc_malloc(size_t);

static uintptr_t self_lo, self_hi;
static unsigned long calls, stacks, frames, differ, fallback, every = 7;
static __thread int busy;
static char report[4096];
static size_t report_len;

struct bt {
	uint64_t pc[MAXF];
	int n;
};

static _Unwind_Reason_Code one(struct _Unwind_Context *ctx, void *arg)
{
	struct bt *b = arg;
	uintptr_t ip = _Unwind_GetIP(ctx);
	if (ip == 0)
		return _URC_END_OF_STACK;
	if (b->n == 0 && ip >= self_lo && ip < self_hi)
		return _URC_NO_REASON;
	b->pc[b->n++] = ip;
	return b->n >= MAXF ? _URC_END_OF_STACK : _URC_NO_REASON;
}

static __attribute__((noinline)) void compare(void)
{
	uint64_t mine[MAXF];
	struct bt g = {.n = 0};
	int n = heap_unwind_walk(mine, MAXF, self_lo, self_hi);
	_Unwind_Backtrace(one, &g);
	if (__atomic_add_fetch(&stacks, 1, __ATOMIC_RELAXED) % 1024 == 0)
		fprintf(stderr, "unwind-cmp: %lu stacks, %lu frames, %lu differ, %lu fallback\n", stacks, frames,
			differ, fallback);
	if (n < 0) {
		__atomic_fetch_add(&fallback, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_fetch_add(&frames, (unsigned long)n, __ATOMIC_RELAXED);
	if (n == g.n && memcmp(mine, g.pc, (size_t)n * sizeof(mine[0])) == 0)
		return;
	if (__atomic_fetch_add(&differ, 1, __ATOMIC_RELAXED) < 3) {
		for (int i = 0; i < MAXF && (i < n || i < g.n) && report_len < sizeof(report) - 64; i++)
			report_len += (size_t)snprintf(report + report_len, sizeof(report) - report_len,
						       "  %2d %16llx %16llx\n", i,
						       i < n ? (unsigned long long)mine[i] : 0ULL,
						       i < g.n ? (unsigned long long)g.pc[i] : 0ULL);
		report_len += (size_t)snprintf(report + report_len, sizeof(report) - report_len, "  --\n");
	}
}

EXPORT void *malloc(size_t n)
{
	void *p = __libc_malloc(n);
	if (!busy && self_hi && __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) % every == 0) {
		busy = 1;   /* libgcc's first use may allocate */
		compare();
		busy = 0;
	}
	return p;
}

static int range_of(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t lo = UINTPTR_MAX, hi = 0, at = (uintptr_t)arg;
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		lo = a < lo ? a : lo;
		hi = a + ph->p_memsz > hi ? a + ph->p_memsz : hi;
	}
	if (at >= lo && at < hi) {
		self_lo = lo;
		__atomic_store_n(&self_hi, hi, __ATOMIC_RELEASE);
		return 1;
	}
	return 0;
}

__attribute__((constructor)) static void start(void)
{
	busy = 1;
	const char *e = getenv("UNWIND_CMP_EVERY");
	if (e && atol(e) > 0)
		every = (unsigned long)atol(e);
	if (heap_unwind_setup() == 0)
		dl_iterate_phdr(range_of, (void *)(uintptr_t)start);
	busy = 0;
}

__attribute__((destructor)) static void stop(void)
{
	fprintf(stderr, "unwind-cmp: %lu stacks, %lu frames, %lu differ, %lu fallback\n%s", stacks, frames,
		differ, fallback, report);
}
