/* pprof: the encoder's output decoded here by an independent reader of profile.proto's wire
 * format — sample types, values as given, stacks leaf first, tables deduplicated, the string
 * table without repeats, unnamed frames by address. `go tool pprof` reading real files is
 * tests/it_sites_pprof.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pprof.h"
#include "sample.h"

/* ---- a minimal protobuf reader ---- */

static uint64_t rd_varint(const uint8_t **p, const uint8_t *end)
{
	uint64_t v = 0;
	for (int s = 0; *p < end && s < 64; s += 7) {
		uint8_t b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << s;
		if (!(b & 0x80))
			return v;
	}
	fail_msg("truncated varint");
	return 0;
}

/* calls fn(field, value or length, pointer to bytes) for each field of a message */
typedef void (*field_fn)(void *ctx, int field, uint64_t v, const uint8_t *bytes);
static void walk(const uint8_t *p, size_t n, field_fn fn, void *ctx)
{
	const uint8_t *end = p + n;
	while (p < end) {
		uint64_t key = rd_varint(&p, end);
		int field = (int)(key >> 3), wt = (int)(key & 7);
		if (wt == 0) {
			fn(ctx, field, rd_varint(&p, end), NULL);
		} else if (wt == 2) {
			uint64_t len = rd_varint(&p, end);
			assert_true(len <= (uint64_t)(end - p));
			fn(ctx, field, len, p);
			p += len;
		} else {
			fail_msg("unexpected wire type %d", wt);
		}
	}
}

#define MAXN 64
struct prof {
	char *str[MAXN];
	int nstr;
	int64_t stype[8][2];
	int nstype;
	struct { uint64_t loc[16]; int nloc; int64_t val[8]; int nval; int64_t pid, pid_key; } sample[MAXN];
	int nsample;
	struct { uint64_t id, mapping, address, func; int64_t line; } loc[MAXN];
	int nloc;
	struct { uint64_t id; int64_t name, file; } fn[MAXN];
	int nfn;
	struct { uint64_t id; int64_t file, build_id; uint64_t start, limit; } map[MAXN];
	int nmap;
	int64_t period, default_type, period_type[2];
};

static void f_pair(void *ctx, int field, uint64_t v, const uint8_t *b)
{
	int64_t *pair = ctx;
	if (field == 1 || field == 2)
		pair[field - 1] = (int64_t)v;
}

static void f_label(void *ctx, int field, uint64_t v, const uint8_t *b)
{
	int64_t *kv = ctx;   /* key, num */
	if (field == 1)
		kv[0] = (int64_t)v;
	if (field == 3)
		kv[1] = (int64_t)v;
}

static void f_sample(void *ctx, int field, uint64_t v, const uint8_t *b)
{
	struct prof *p = ctx;
	__typeof__(p->sample[0]) *s = &p->sample[p->nsample];
	if (field == 1 || field == 2) {
		assert_non_null(b);   /* packed */
		const uint8_t *q = b, *end = b + v;
		while (q < end) {
			uint64_t x = rd_varint(&q, end);
			if (field == 1)
				s->loc[s->nloc++] = x;
			else
				s->val[s->nval++] = (int64_t)x;
		}
	} else if (field == 3) {
		int64_t kv[2] = {0, 0};
		walk(b, v, f_label, kv);
		s->pid_key = kv[0];   /* the string table may come last: checked after the walk */
		s->pid = kv[1];
	}
}

static void f_line(void *ctx, int field, uint64_t v, const uint8_t *b)
{
	struct prof *p = ctx;
	if (field == 1)
		p->loc[p->nloc].func = v;
	if (field == 2)
		p->loc[p->nloc].line = (int64_t)v;
}

static void f_loc(void *ctx, int field, uint64_t v, const uint8_t *b)
{
	struct prof *p = ctx;
	if (field == 1)
		p->loc[p->nloc].id = v;
	if (field == 2)
		p->loc[p->nloc].mapping = v;
	if (field == 3)
		p->loc[p->nloc].address = v;
	if (field == 4)
		walk(b, v, f_line, p);
}

static void f_fn(void *ctx, int field, uint64_t v, const uint8_t *b)
{
	struct prof *p = ctx;
	if (field == 1)
		p->fn[p->nfn].id = v;
	if (field == 2)
		p->fn[p->nfn].name = (int64_t)v;
	if (field == 4)
		p->fn[p->nfn].file = (int64_t)v;
}

static void f_map(void *ctx, int field, uint64_t v, const uint8_t *b)
{
	struct prof *p = ctx;
	if (field == 1)
		p->map[p->nmap].id = v;
	if (field == 2)
		p->map[p->nmap].start = v;
	if (field == 3)
		p->map[p->nmap].limit = v;
	if (field == 5)
		p->map[p->nmap].file = (int64_t)v;
	if (field == 6)
		p->map[p->nmap].build_id = (int64_t)v;
}

static void f_profile(void *ctx, int field, uint64_t v, const uint8_t *b)
{
	struct prof *p = ctx;
	switch (field) {
	case 1:
		walk(b, v, f_pair, p->stype[p->nstype++]);
		break;
	case 2:
		walk(b, v, f_sample, p);
		p->nsample++;
		break;
	case 3:
		walk(b, v, f_map, p);
		p->nmap++;
		break;
	case 4:
		walk(b, v, f_loc, p);
		p->nloc++;
		break;
	case 5:
		walk(b, v, f_fn, p);
		p->nfn++;
		break;
	case 6:
		p->str[p->nstr] = strndup((const char *)b, v);
		p->nstr++;
		break;
	case 11:
		walk(b, v, f_pair, p->period_type);
		break;
	case 12:
		p->period = (int64_t)v;
		break;
	case 14:
		p->default_type = (int64_t)v;
		break;
	}
}

static const char *fn_name(const struct prof *p, uint64_t loc_id)
{
	for (int i = 0; i < p->nloc; i++)
		if (p->loc[i].id == loc_id)
			for (int k = 0; k < p->nfn; k++)
				if (p->fn[k].id == p->loc[i].func)
					return p->str[p->fn[k].name];
	return NULL;
}

/* ---- the test ---- */

static void frame(struct record_site_row *f, int64_t site, int64_t depth, int64_t pc, const char *module,
		  int64_t offset, const char *function, const char *file, int64_t line)
{
	memset(f, 0, sizeof(*f));
	f->site = site;
	f->depth = depth;
	f->pid = 4242;
	f->pc = pc;
	f->module = module ? strdup(module) : NULL;
	f->build_id = module ? strdup("abcdef") : NULL;
	f->offset = offset;
	f->function = function ? strdup(function) : NULL;
	f->file = file ? strdup(file) : NULL;
	f->line = line;
}

static void test_encode(void **state)
{
	(void)state;
	struct record_site_row f[7];
	/* site 1: leaf in cache_grow, called from main; site 2: leaf in parse, called from main at
	 * the same return address; site 3: an unnamed frame in a stripped library; site 4: all zero */
	frame(&f[0], 1, 0, 0x5000, "/srv/app", 0x1000, "app::cache_grow", "src/cache.rs", 42);
	frame(&f[1], 1, 1, 0x5400, "/srv/app", 0x1400, "main", "src/main.rs", 7);
	frame(&f[2], 2, 0, 0x5200, "/srv/app", 0x1200, "parse", NULL, HR_UNKNOWN);
	frame(&f[3], 2, 1, 0x5400, "/srv/app", 0x1400, "main", "src/main.rs", 7);
	frame(&f[4], 3, 0, 0x7f0000001234, "/usr/lib/libx.so.1", 0x1234, NULL, NULL, HR_UNKNOWN);
	frame(&f[5], 3, 1, 0x5400, "/srv/app", 0x1400, "main", "src/main.rs", 7);
	frame(&f[6], 4, 0, 0x5000, "/srv/app", 0x1000, "app::cache_grow", "src/cache.rs", 42);
	struct record_site_value v[4] = {
		{1, 100, 600, 6, 2000, 20},
		{2, 100, 300, 3, 3000, 30},
		{3, 100, 100, 1, 5000, 50},
		{4, 100, 0, 0, 0, 0},
	};
	uint8_t *buf;
	size_t len;
	assert_int_equal(pprof_encode(f, 7, v, 4, 524288, 1700000000000000000LL, &buf, &len), 0);

	struct prof *p = calloc(1, sizeof(*p));
	walk(buf, len, f_profile, p);
	const char *types[4][2] = {{"inuse_space", "bytes"}, {"inuse_objects", "count"}, {"alloc_space", "bytes"},
				   {"alloc_objects", "count"}};
	assert_int_equal(p->nstype, 4);
	for (int i = 0; i < 4; i++) {
		assert_string_equal(p->str[p->stype[i][0]], types[i][0]);
		assert_string_equal(p->str[p->stype[i][1]], types[i][1]);
	}
	assert_string_equal(p->str[p->default_type], "inuse_space");
	assert_string_equal(p->str[p->period_type[0]], "space");
	assert_int_equal(p->period, 524288);
	/* the string table starts with "" and repeats nothing */
	assert_string_equal(p->str[0], "");
	for (int i = 0; i < p->nstr; i++)
		for (int k = i + 1; k < p->nstr; k++)
			assert_string_not_equal(p->str[i], p->str[k]);
	/* the all-zero site is left out; values exactly as given, in the sample types' order */
	assert_int_equal(p->nsample, 3);
	int64_t want[3][4] = {{600, 6, 2000, 20}, {300, 3, 3000, 30}, {100, 1, 5000, 50}};
	for (int i = 0; i < 3; i++) {
		assert_int_equal(p->sample[i].nval, 4);
		for (int k = 0; k < 4; k++)
			assert_int_equal(p->sample[i].val[k], want[i][k]);
		assert_int_equal(p->sample[i].pid, 4242);
		assert_string_equal(p->str[p->sample[i].pid_key], "pid");
		assert_int_equal(p->sample[i].nloc, 2);
		assert_string_equal(fn_name(p, p->sample[i].loc[1]), "main");   /* leaf first, caller after */
	}
	assert_string_equal(fn_name(p, p->sample[0].loc[0]), "app::cache_grow");
	assert_string_equal(fn_name(p, p->sample[1].loc[0]), "parse");
	assert_string_equal(fn_name(p, p->sample[2].loc[0]), "libx.so.1+0x1234");
	/* main's frame is one location and one function, shared by the three stacks */
	assert_int_equal(p->nloc, 4);
	assert_int_equal(p->nfn, 4);
	assert_int_equal(p->sample[0].loc[1], p->sample[1].loc[1]);
	assert_int_equal(p->sample[0].loc[1], p->sample[2].loc[1]);
	for (int i = 0; i < p->nloc; i++)
		if (p->loc[i].id == p->sample[0].loc[0]) {
			assert_int_equal(p->loc[i].line, 42);
			assert_int_equal(p->loc[i].address, 0x5000);
		}
	/* two mappings: the program (spanning the pcs seen) and the library */
	assert_int_equal(p->nmap, 2);
	for (int i = 0; i < p->nmap; i++)
		if (strcmp(p->str[p->map[i].file], "/srv/app") == 0) {
			assert_int_equal(p->map[i].start, 0x5000);
			assert_int_equal(p->map[i].limit, 0x5401);
			assert_string_equal(p->str[p->map[i].build_id], "abcdef");
		}
	for (int i = 0; i < p->nstr; i++)
		free(p->str[i]);
	free(p);
	free(buf);
	for (int i = 0; i < 7; i++) {
		free(f[i].module);
		free(f[i].build_id);
		free(f[i].function);
		free(f[i].file);
	}
}

/* nothing to encode: still a valid profile with its sample types and no sample */
static void test_empty(void **state)
{
	(void)state;
	uint8_t *buf;
	size_t len;
	assert_int_equal(pprof_encode(NULL, 0, NULL, 0, 0, 0, &buf, &len), 0);
	struct prof *p = calloc(1, sizeof(*p));
	walk(buf, len, f_profile, p);
	assert_int_equal(p->nstype, 4);
	assert_int_equal(p->nsample, 0);
	assert_int_equal(p->period, 0);
	for (int i = 0; i < p->nstr; i++)
		free(p->str[i]);
	free(p);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
