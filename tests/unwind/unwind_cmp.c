/* unwind_cmp: the heap shim's stack walker (src/shim/heap_unwind.c) against libgcc's
 * _Unwind_Backtrace on the same stacks of real code: random chains of functions with small,
 * large, alloca'd and variable-length frames, calls through pointers, through libc's qsort and
 * bsearch (libc's own -O2 code and CFI), through a noreturn call, 70-deep recursion (the 64-frame cap), on the main
 * thread and on other threads. Built twice by CMake: with and without frame pointers.
 *
 * Each stack is walked by both; past the two walkers' own frames (the walk function, and the
 * return into compare()) the frames must be the same addresses in the same order. A walk inside
 * a signal handler must be handed to the fallback (-1), never guessed; after
 * heap_unwind_forget() (the shim's dlclose) the rules must be computed again.
 *
 * usage: unwind_cmp [CHAINS]   prints "compared N stacks, F frames, W warm" and exits 0, or the
 * first difference and exits 1. */
#include <alloca.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unwind.h>

#include "heap_unwind.h"

#define MAXF 64

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
	b->pc[b->n++] = ip;
	return b->n >= MAXF ? _URC_END_OF_STACK : _URC_NO_REASON;
}

static __attribute__((noinline)) void gcc_walk(struct bt *b)
{
	b->n = 0;
	_Unwind_Backtrace(one, b);
	__asm__ volatile("" ::: "memory");
}

static long g_stacks, g_frames, g_failed;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static __attribute__((noinline)) void compare(void)
{
	uint64_t mine[MAXF];
	struct bt g;
	int n = heap_unwind_walk(mine, MAXF, 0, 0);
	gcc_walk(&g);
	bool same = n >= 2 && n == g.n;
	for (int i = 2; same && i < n; i++)
		same = mine[i] == g.pc[i];
	pthread_mutex_lock(&g_lock);
	g_stacks++;
	g_frames += n > 2 ? n - 2 : 0;
	if (!same && g_failed++ < 3) {
		fprintf(stderr, "unwind_cmp: stacks differ (walker %d frames, libgcc %d)\n", n, g.n);
		for (int i = 0; i < MAXF && (i < n || i < g.n); i++)
			fprintf(stderr, "  %2d %16llx %16llx\n", i, i < n ? (unsigned long long)mine[i] : 0ULL,
				i < g.n ? (unsigned long long)g.pc[i] : 0ULL);
	}
	pthread_mutex_unlock(&g_lock);
}

/* a plan: the functions to go through, innermost last; 0 ends it */
enum { P_END, P_SMALL, P_BIG, P_ALLOCA, P_VLA, P_PTR, P_QSORT, P_BSEARCH, P_MANY, P_NORETURN, P_KINDS };
static __attribute__((noinline)) int step(const uint8_t *plan);
static volatile int sink;

static __attribute__((noinline)) int f_small(const uint8_t *plan)
{
	return step(plan + 1) + 1;
}

static __attribute__((noinline)) int f_big(const uint8_t *plan)
{
	volatile char buf[6000];
	buf[plan[1] % sizeof(buf)] = 1;
	return step(plan + 1) + buf[0];
}

static __attribute__((noinline)) int f_alloca(const uint8_t *plan)
{
	volatile char *p = alloca(16 + (uintptr_t)plan % 3000);
	p[0] = 1;
	return step(plan + 1) + p[0];
}

static __attribute__((noinline)) int f_vla(const uint8_t *plan)
{
	size_t n = 8 + (uintptr_t)plan % 500;
	volatile long v[n];
	v[0] = 2;
	return step(plan + 1) + (int)v[0];
}

static int (*volatile g_ptr)(const uint8_t *) = f_small;

static __attribute__((noinline)) int f_ptr(const uint8_t *plan)
{
	return g_ptr(plan) + 2;   /* f_small goes on with plan + 1 */
}

static __thread const uint8_t *t_next;

static int cmp_int(const void *a, const void *b)
{
	if (t_next) {
		const uint8_t *p = t_next;
		t_next = NULL;
		sink += step(p);
	}
	return *(const int *)a - *(const int *)b;
}

static __attribute__((noinline)) int f_qsort(const uint8_t *plan)
{
	int v[40];
	for (int i = 0; i < 40; i++)
		v[i] = (i * 7919) % 40;
	t_next = plan + 1;
	qsort(v, 40, sizeof(v[0]), cmp_int);
	return v[0];
}

static __attribute__((noinline)) int f_bsearch(const uint8_t *plan)
{
	static const int v[] = {1, 3, 5, 7, 9, 11, 13};
	int key = 9;
	t_next = plan + 1;
	const int *r = bsearch(&key, v, 7, sizeof(v[0]), cmp_int);
	return r ? *r : 0;
}

static __attribute__((noinline)) int f_many(const uint8_t *plan, long a, long b, long c, long d, long e,
					    long f, long g, long h)
{
	return step(plan + 1) + (int)(a + b + c + d + e + f + g + h);
}

/* a frame whose call is its last instruction (a noreturn callee: the return address is the next
 * function's first byte, so its rule must come from the call, at the address before) */
static __attribute__((noinline, noreturn)) void go_and_jump(const uint8_t *plan, jmp_buf *back)
{
	sink += step(plan + 1);
	longjmp(*back, 1);
}

static __attribute__((noinline)) int f_noreturn(const uint8_t *plan)
{
	jmp_buf back;
	if (setjmp(back) == 0)
		go_and_jump(plan, &back);
	return 3;
}

static __attribute__((noinline)) int step(const uint8_t *plan)
{
	switch (plan[0]) {
	case P_SMALL: return f_small(plan);
	case P_BIG: return f_big(plan);
	case P_ALLOCA: return f_alloca(plan);
	case P_VLA: return f_vla(plan);
	case P_PTR: return f_ptr(plan);
	case P_QSORT: return f_qsort(plan);
	case P_BSEARCH: return f_bsearch(plan);
	case P_MANY: return f_many(plan, 1, 2, 3, 4, 5, 6, 7, 8);
	case P_NORETURN: return f_noreturn(plan);
	default: compare(); return 0;
	}
}

static void run_chains(unsigned seed, int chains)
{
	uint8_t plan[80];
	for (int c = 0; c < chains; c++) {
		seed = seed * 1103515245u + 12345u;
		int depth = c % 10 == 0 ? 70 : (int)(seed >> 16) % 30;
		for (int i = 0; i < depth; i++) {
			seed = seed * 1103515245u + 12345u;
			plan[i] = (uint8_t)(1 + (seed >> 16) % (P_KINDS - 1));
		}
		plan[depth] = P_END;
		sink += step(plan);
	}
}

static int g_chains = 300;

static uint64_t g_thread_fb;

static void *thread_main(void *arg)
{
	run_chains((unsigned)(uintptr_t)arg, g_chains);
	uint64_t misses, fb;
	heap_unwind_counts(&misses, &fb);
	__atomic_fetch_add(&g_thread_fb, fb, __ATOMIC_RELAXED);
	return NULL;
}

static volatile int g_sig_walk = 99;

static void on_signal(int sig)
{
	uint64_t pc[MAXF];
	(void)sig;
	g_sig_walk = heap_unwind_walk(pc, MAXF, 0, 0);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		g_chains = atoi(argv[1]);
	if (heap_unwind_setup() != 0) {
		printf("unwind_cmp: the walker does not work here\n");
		return 77;
	}
	/* three times from the same call: the second pass must take every rule from the cache; the
	 * third (one chain) comes after heap_unwind_forget (what the shim's dlclose calls) and must
	 * compute its rules again, and still agree with libgcc */
	uint64_t misses0 = 0, fb0 = 0, misses1 = 0, fb1 = 0, misses2, fb2;
	long before = 0;
	for (volatile int pass = 0; pass < 3; pass++) {   /* volatile: one call site, not peeled ones */
		if (pass == 1) {
			heap_unwind_counts(&misses0, &fb0);
			before = g_stacks;
		} else if (pass == 2) {
			heap_unwind_counts(&misses1, &fb1);
			heap_unwind_forget();
		}
		run_chains(1, pass == 2 ? 1 : g_chains);
		if (pass != 0)
			continue;
		pthread_t t[2];
		for (int i = 0; i < 2; i++)
			if (pthread_create(&t[i], NULL, thread_main, (void *)(uintptr_t)(i + 2)) != 0)
				return 2;
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
	}
	heap_unwind_counts(&misses2, &fb2);
	signal(SIGUSR1, on_signal);
	raise(SIGUSR1);
	int bad = 0;
	if (g_sig_walk != -1) {
		fprintf(stderr, "unwind_cmp: a walk in a signal handler gave %d, not the fallback\n", g_sig_walk);
		bad = 1;
	}
	if (fb2 + g_thread_fb != 0) {
		fprintf(stderr, "unwind_cmp: %llu walks handed to the fallback on plain code\n",
			(unsigned long long)(fb2 + g_thread_fb));
		bad = 1;
	}
	if (misses1 != misses0) {
		fprintf(stderr, "unwind_cmp: the same stacks again computed %llu rules (cache)\n",
			(unsigned long long)(misses1 - misses0));
		bad = 1;
	}
	printf("compared %ld stacks, %ld frames, %ld warm; %ld differ\n", g_stacks, g_frames, g_stacks - before - 1,
	       g_failed);
	if (misses2 - misses1 < 3) {
		fprintf(stderr, "unwind_cmp: after heap_unwind_forget the walk computed %llu rules (the cache was kept)\n",
			(unsigned long long)(misses2 - misses1));
		bad = 1;
	}
	return g_failed || bad || g_stacks != 4L * g_chains + 1 ? 1 : 0;
}
