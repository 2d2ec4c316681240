/* heap_unwind: see heap_unwind.h */
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "heap_unwind.h"

#if defined(__x86_64__) && defined(__GLIBC__) && defined(DLFO_EH_SEGMENT_TYPE)
#define UNW_X86 1
#endif

#ifdef UNW_X86

extern void *__libc_stack_end;

static int (*fn_find)(void *, struct dl_find_object *);
static unsigned g_gen = 1;   /* bumped by heap_unwind_forget: a thread's cache older than it is dropped */

enum { K_EMPTY = 0, K_STEP, K_END, K_FALLBACK };
enum { F_CFA_RBP = 1, F_RBP_SAVED = 2 };

struct rule {
	uintptr_t pc;      /* the return address it is for (0: empty) */
	int32_t cfa_off;
	uint8_t kind, flags;
	int16_t rbp_off;   /* where rbp was saved, from the CFA */
};

#define UC_WAYS 4
#define UC_SET_BITS 7
#define UC_SETS (1 << UC_SET_BITS)   /* per thread, 4-way (first in, first out): 8 KiB of static TLS */
static __thread struct rule uc[UC_SETS][UC_WAYS];
static __thread unsigned uc_gen;
/* the rules of the last walk by depth, tried first: a sample comes after hundreds of allocations
 * that have evicted the cache's lines, and the same stack (or its shim frames, its outer frames)
 * then costs 2 lines here instead of a line per frame there */
#define MEMO 16
static __thread struct rule memo[MEMO];
static __thread uint64_t uc_misses, uc_fallbacks;

/* --- reading .eh_frame ----------------------------------------------------------------- */
struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t rd_uleb(struct rd *r)
{
	uint64_t v = 0;
	for (int shift = 0; r->p < r->end && shift < 64; shift += 7) {
		uint8_t b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

static int64_t rd_sleb(struct rd *r)
{
	uint64_t v = 0;
	int shift = 0;
	for (; r->p < r->end && shift < 64;) {
		uint8_t b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			if (shift < 64 && (b & 0x40))
				v |= ~(uint64_t)0 << shift;
			return (int64_t)v;
		}
	}
	r->bad = true;
	return 0;
}

static uint64_t rd_fixed(struct rd *r, size_t n)
{
	if ((size_t)(r->end - r->p) < n) {
		r->bad = true;
		return 0;
	}
	uint64_t v = 0;
	memcpy(&v, r->p, n);   /* little-endian */
	r->p += n;
	return v;
}

/* a pointer in encoding enc (DW_EH_PE_*); pcrel from the field, datarel from base. An indirect
 * pointer is not followed (only skipped over: the personality routine). */
static uintptr_t rd_enc(struct rd *r, uint8_t enc, uintptr_t base)
{
	if (enc == 0xff)
		return 0;
	uintptr_t at = (uintptr_t)r->p;
	uint64_t v;
	switch (enc & 0x0f) {
	case 0x00: v = rd_fixed(r, 8); break;
	case 0x01: v = rd_uleb(r); break;
	case 0x02: v = rd_fixed(r, 2); break;
	case 0x03: v = rd_fixed(r, 4); break;
	case 0x04: v = rd_fixed(r, 8); break;
	case 0x09: v = (uint64_t)rd_sleb(r); break;
	case 0x0a: v = (uint64_t)(int64_t)(int16_t)rd_fixed(r, 2); break;
	case 0x0b: v = (uint64_t)(int64_t)(int32_t)rd_fixed(r, 4); break;
	case 0x0c: v = rd_fixed(r, 8); break;
	default: r->bad = true; return 0;
	}
	switch (enc & 0x70) {
	case 0x00: break;
	case 0x10: v += at; break;
	case 0x30: v += base; break;
	default: r->bad = true; return 0;
	}
	return (uintptr_t)v;
}

/* the rules of the two registers a walk needs (rbp, the return address) and of the CFA */
enum { R_SAME = 0, R_OFFSET, R_UNDEF, R_BAD };
struct row {
	uint8_t cfa_reg;          /* DWARF: 6 rbp, 7 rsp; anything else: not walkable here */
	bool cfa_bad;
	int64_t cfa_off;
	uint8_t how[2];           /* [0] rbp, [1] return address */
	int64_t off[2];
};

#define REG_RBP 6
#define REG_RSP 7
#define REG_RA 16

static int reg_slot(uint64_t reg)
{
	return reg == REG_RBP ? 0 : reg == REG_RA ? 1 : -1;
}

/* runs a CFA program up to (not past) the row of target; init: the CIE's row (DW_CFA_restore) */
static bool cfa_run(struct rd *r, struct row *s, const struct row *init, uintptr_t loc, uintptr_t target,
		    uint64_t code_align, int64_t data_align, uint8_t fde_enc)
{
	struct row stack[4];
	int depth = 0;
	while (r->p < r->end && !r->bad) {
		uint8_t op = *r->p++;
		uint64_t reg = 0, delta = 0;
		int64_t off = 0;
		int slot;
		switch (op & 0xc0) {
		case 0x40:
			delta = (op & 0x3f) * code_align;
			goto advance;
		case 0x80:
			reg = op & 0x3f;
			off = (int64_t)rd_uleb(r) * data_align;
			goto offset;
		case 0xc0:
			reg = op & 0x3f;
			goto restore;
		}
		switch (op) {
		case 0x00: continue;                                        /* nop */
		case 0x01: loc = rd_enc(r, fde_enc, 0); if (loc > target) return true; continue; /* set_loc */
		case 0x02: delta = rd_fixed(r, 1) * code_align; goto advance;
		case 0x03: delta = rd_fixed(r, 2) * code_align; goto advance;
		case 0x04: delta = rd_fixed(r, 4) * code_align; goto advance;
		case 0x05: reg = rd_uleb(r); off = (int64_t)rd_uleb(r) * data_align; goto offset;
		case 0x06: reg = rd_uleb(r); goto restore;
		case 0x07: /* undefined */
		case 0x08: /* same_value */
			reg = rd_uleb(r);
			if ((slot = reg_slot(reg)) >= 0)
				s->how[slot] = op == 0x07 ? R_UNDEF : R_SAME;
			continue;
		case 0x09: /* register */
			reg = rd_uleb(r);
			rd_uleb(r);
			if ((slot = reg_slot(reg)) >= 0)
				s->how[slot] = R_BAD;
			continue;
		case 0x0a:
			if (depth == 4)
				return false;
			stack[depth++] = *s;
			continue;
		case 0x0b:
			if (depth == 0)
				return false;
			*s = stack[--depth];   /* the CFA too: gcc's epilogues rely on it, as libgcc does */
			continue;
		case 0x0c: s->cfa_reg = (uint8_t)rd_uleb(r); s->cfa_off = (int64_t)rd_uleb(r); s->cfa_bad = false; continue;
		case 0x0d: s->cfa_reg = (uint8_t)rd_uleb(r); s->cfa_bad = false; continue;
		case 0x0e: s->cfa_off = (int64_t)rd_uleb(r); continue;
		case 0x0f: /* def_cfa_expression */
			delta = rd_uleb(r);
			s->cfa_bad = true;
			goto skip_block;
		case 0x10: /* expression */
		case 0x16: /* val_expression */
			reg = rd_uleb(r);
			delta = rd_uleb(r);
			if ((slot = reg_slot(reg)) >= 0)
				s->how[slot] = R_BAD;
			goto skip_block;
		case 0x11: reg = rd_uleb(r); off = rd_sleb(r) * data_align; goto offset;
		case 0x12: s->cfa_reg = (uint8_t)rd_uleb(r); s->cfa_off = rd_sleb(r) * data_align; s->cfa_bad = false; continue;
		case 0x13: s->cfa_off = rd_sleb(r) * data_align; continue;
		case 0x14: /* val_offset */
		case 0x15: /* val_offset_sf */
			reg = rd_uleb(r);
			if (op == 0x14)
				rd_uleb(r);
			else
				rd_sleb(r);
			if ((slot = reg_slot(reg)) >= 0)
				s->how[slot] = R_BAD;
			continue;
		case 0x2e: rd_uleb(r); continue;                            /* GNU_args_size */
		case 0x2f: reg = rd_uleb(r); off = -(int64_t)rd_uleb(r) * data_align; goto offset;
		default: return false;
		}
	advance:
		if (loc + delta > target)
			return true;
		loc += delta;
		continue;
	offset:
		if ((slot = reg_slot(reg)) >= 0) {
			s->how[slot] = R_OFFSET;
			s->off[slot] = off;
		}
		continue;
	restore:
		if ((slot = reg_slot(reg)) >= 0) {
			s->how[slot] = init->how[slot];
			s->off[slot] = init->off[slot];
		}
		continue;
	skip_block:
		if ((uint64_t)(r->end - r->p) < delta)
			return false;
		r->p += delta;
		continue;
	}
	return !r->bad;
}

/* the rule for return address pc (looked up at pc - 1: the call, not what follows it) */
static void rule_compute(uintptr_t pc, struct rule *out)
{
	uc_misses++;
	out->pc = pc;
	out->kind = K_FALLBACK;
	uintptr_t look = pc - 1;
	struct dl_find_object fo;
	if (!fn_find || fn_find((void *)look, &fo) != 0 || !fo.dlfo_eh_frame)
		return;
	const uint8_t *hdr = fo.dlfo_eh_frame;
	if (hdr[0] != 1 || hdr[3] != 0x3b)   /* the search table: datarel sdata4 pairs */
		return;
	struct rd r = {.p = hdr + 4, .end = hdr + 4 + 16};
	rd_enc(&r, hdr[1], (uintptr_t)hdr);
	uint64_t count = rd_enc(&r, hdr[2], (uintptr_t)hdr);
	if (r.bad || count == 0 || count > (1u << 28))
		return;
	const int32_t *tab = (const int32_t *)r.p;
	size_t lo = 0, hi = count;   /* the last entry whose start is <= look */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if ((uintptr_t)hdr + (intptr_t)tab[2 * mid] <= look)
			lo = mid;
		else
			hi = mid;
	}
	if ((uintptr_t)hdr + (intptr_t)tab[2 * lo] > look)
		return;
	const uint8_t *fde = hdr + (intptr_t)tab[2 * lo + 1];
	uint32_t flen, cid;
	memcpy(&flen, fde, 4);
	if (flen == 0 || flen >= 0xfffffff0u)
		return;
	memcpy(&cid, fde + 4, 4);
	const uint8_t *cie = fde + 4 - cid;
	uint32_t clen, cie_id;
	memcpy(&clen, cie, 4);
	memcpy(&cie_id, cie + 4, 4);
	if (cid == 0 || clen == 0 || clen >= 0xfffffff0u || cie_id != 0)
		return;
	struct rd c = {.p = cie + 8, .end = cie + 4 + clen};
	uint8_t version = (uint8_t)rd_fixed(&c, 1);
	const char *aug = (const char *)c.p;
	size_t auglen = strnlen(aug, (size_t)(c.end - c.p));
	if (auglen == (size_t)(c.end - c.p) || (version != 1 && version != 3))
		return;
	c.p += auglen + 1;
	uint64_t code_align = rd_uleb(&c);
	int64_t data_align = rd_sleb(&c);
	uint64_t ra = version == 1 ? rd_fixed(&c, 1) : rd_uleb(&c);
	uint8_t fde_enc = 0;
	bool z = aug[0] == 'z';
	if (ra != REG_RA || (auglen && !z))
		return;
	if (z) {
		uint64_t n = rd_uleb(&c);
		if (c.bad || n > (uint64_t)(c.end - c.p))
			return;
		struct rd a = {.p = c.p, .end = c.p + n};
		for (size_t i = 1; i < auglen; i++) {
			switch (aug[i]) {
			case 'R': fde_enc = (uint8_t)rd_fixed(&a, 1); break;
			case 'L': rd_fixed(&a, 1); break;
			case 'P': rd_enc(&a, (uint8_t)(rd_fixed(&a, 1) & 0x7f), 0); break;
			default: return;   /* 'S' (a signal frame) and what we do not know */
			}
		}
		if (a.bad)
			return;
		c.p += n;
	}
	if (c.bad)
		return;
	struct row init = {.cfa_reg = REG_RSP, .how = {R_SAME, R_UNDEF}};
	struct rd f = {.p = fde + 8, .end = fde + 4 + flen};
	uintptr_t start = rd_enc(&f, fde_enc, 0);
	uintptr_t range = rd_enc(&f, fde_enc & 0x0f, 0);
	if (f.bad || look < start || look - start >= range)
		return;
	if (!cfa_run(&c, &init, &init, start, look, code_align, data_align, fde_enc))
		return;
	if (z) {
		uint64_t n = rd_uleb(&f);
		if (f.bad || n > (uint64_t)(f.end - f.p))
			return;
		f.p += n;
	}
	struct row s = init;
	if (!cfa_run(&f, &s, &init, start, look, code_align, data_align, fde_enc))
		return;
	if (s.how[1] == R_UNDEF) {
		out->kind = K_END;
		return;
	}
	if (s.cfa_bad || (s.cfa_reg != REG_RSP && s.cfa_reg != REG_RBP) || s.cfa_off <= 0 ||
	    s.cfa_off > INT32_MAX || s.how[1] != R_OFFSET || s.off[1] != -8 ||
	    (s.how[0] != R_SAME && s.how[0] != R_OFFSET) ||
	    (s.how[0] == R_OFFSET && (s.off[0] < INT16_MIN || s.off[0] > INT16_MAX)))
		return;
	out->cfa_off = (int32_t)s.cfa_off;
	out->flags = (uint8_t)((s.cfa_reg == REG_RBP ? F_CFA_RBP : 0) | (s.how[0] == R_OFFSET ? F_RBP_SAVED : 0));
	out->rbp_off = (int16_t)(s.how[0] == R_OFFSET ? s.off[0] : 0);
	out->kind = K_STEP;
}

int heap_unwind_setup(void)
{
	if (!fn_find)
		fn_find = (int (*)(void *, struct dl_find_object *))dlsym(RTLD_DEFAULT, "_dl_find_object");
	return fn_find ? 0 : -ENOSYS;
}

void heap_unwind_forget(void)
{
	__atomic_fetch_add(&g_gen, 1, __ATOMIC_RELEASE);
}

void heap_unwind_counts(uint64_t *misses, uint64_t *fallbacks)
{
	*misses = uc_misses;
	*fallbacks = uc_fallbacks;
}

/* out of line, as everything a warm walk does not run: a walk runs cold (a sample comes after
 * hundreds of allocations), and every code line it spans is a miss */
static __attribute__((noinline, cold)) void cache_drop(unsigned gen)
{
	memset(uc, 0, sizeof(uc));
	memset(memo, 0, sizeof(memo));
	uc_gen = gen;
}

/* the rule for pc from the cache (computed on a miss), remembered in the memo at depth */
static __attribute__((noinline)) const struct rule *rule_find(uintptr_t pc, int depth)
{
	struct rule *set = uc[(pc * 0x9e3779b97f4a7c15ULL) >> (64 - UC_SET_BITS)], *w = set;
	while (w->pc != pc && ++w < set + UC_WAYS)
		;
	if (__builtin_expect(w == set + UC_WAYS, 0)) {
		memmove(set + 1, set, (UC_WAYS - 1) * sizeof(*set));
		w = set;
		rule_compute(pc, w);
	}
	if (depth < MEMO)
		memo[depth] = *w;
	return w;
}

__attribute__((noinline)) int heap_unwind_walk(uint64_t *out, int max, uintptr_t skip_lo, uintptr_t skip_hi)
{
	uintptr_t bp, sp, pc, tp;
	/* rbp first: an output may be given rbp (then the CFI row says where the caller's is) */
	__asm__ volatile("mov %%rbp, %0\n\tmov %%rsp, %1\n\tlea 0(%%rip), %2\n\tmov %%fs:0, %3"
			 : "=r"(bp), "=r"(sp), "=r"(pc), "=r"(tp));
	if (!fn_find)
		return -1;
	/* the stack's top: a glibc thread's stack ends at its TCB, the main thread's at argc */
	uintptr_t lo = sp, hi, main_end = (uintptr_t)__libc_stack_end;
	if (sp < tp && tp - sp <= ((uintptr_t)1 << 30))
		hi = tp;
	else if (sp < main_end && main_end - sp <= ((uintptr_t)1 << 30))
		hi = main_end + 8;
	else
		return -1;
	unsigned gen = __atomic_load_n(&g_gen, __ATOMIC_ACQUIRE);
	if (__builtin_expect(uc_gen != gen, 0))
		cache_drop(gen);
	int n = 0;
	for (int depth = 0; depth < 512 && n < max; depth++) {
		if (pc == 0)
			break;
		if (n > 0 || pc < skip_lo || pc >= skip_hi)
			out[n++] = pc;
		const struct rule *e = depth < MEMO ? &memo[depth] : NULL;
		if (__builtin_expect(!e || e->pc != pc, 0))
			e = rule_find(pc, depth);
		if (e->kind != K_STEP) {
			if (e->kind == K_END)
				break;
			uc_fallbacks++;
			return -1;
		}
		uintptr_t cfa = ((e->flags & F_CFA_RBP) ? bp : sp) + (uintptr_t)(intptr_t)e->cfa_off;
		if (cfa <= sp || cfa > hi || cfa - 8 < lo)
			break;   /* not above the frame before, or off the stack: corrupt, the walk ends */
		if (e->flags & F_RBP_SAVED) {
			uintptr_t a = cfa + (uintptr_t)(intptr_t)e->rbp_off;
			if (a < lo || a > hi - 8)
				break;
			bp = *(const uintptr_t *)a;
		}
		pc = *(const uintptr_t *)(cfa - 8);
		sp = cfa;
	}
	return n;
}

#else /* not x86-64 glibc >= 2.35: every walk goes to the fallback */

int heap_unwind_setup(void)
{
	return -ENOSYS;
}

int heap_unwind_walk(uint64_t *pc, int max, uintptr_t skip_lo, uintptr_t skip_hi)
{
	(void)pc, (void)max, (void)skip_lo, (void)skip_hi;
	return -1;
}

void heap_unwind_forget(void)
{
}

void heap_unwind_counts(uint64_t *misses, uint64_t *fallbacks)
{
	*misses = *fallbacks = 0;
}
#endif
