#include "pprof.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "analyze.h"
#include "sample.h"
#include "symbols.h"
#include "util.h"

/* ---- protobuf: a growing buffer, varints, length-delimited fields ---- */

struct pb {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static void pb_raw(struct pb *b, const void *data, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		while (nc < b->len + n)
			nc *= 2;
		uint8_t *q = realloc(b->p, nc);
		if (!q) {
			b->oom = true;
			return;
		}
		b->p = q;
		b->cap = nc;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void pb_varint(struct pb *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;
	do {
		tmp[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	pb_raw(b, tmp, n);
}

/* a varint field (wire type 0); int64 values go as their two's complement, as protobuf does */
static void pb_int(struct pb *b, int field, int64_t v)
{
	pb_varint(b, (uint64_t)field << 3);
	pb_varint(b, (uint64_t)v);
}

static void pb_bytes(struct pb *b, int field, const void *data, size_t n)
{
	pb_varint(b, (uint64_t)field << 3 | 2);
	pb_varint(b, n);
	pb_raw(b, data, n);
}

/* append sub as a nested message and empty it for the next one */
static void pb_msg(struct pb *b, int field, struct pb *sub)
{
	b->oom |= sub->oom;
	pb_bytes(b, field, sub->p ? sub->p : (const uint8_t *)"", sub->len);
	sub->len = 0;
}

/* ---- deduplication: byte-string keys to ids 1..n (strings: indices 0..n-1) ---- */

struct ent {
	uint64_t hash;
	char *key;
	size_t klen;
	uint64_t id;
};

struct dedup {
	struct ent *e;
	size_t cap, n;
	bool oom;
};

static uint64_t fnv(const void *k, size_t n)
{
	const uint8_t *p = k;
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static bool dedup_grow(struct dedup *d)
{
	size_t nc = d->cap ? d->cap * 2 : 1024;
	struct ent *e = calloc(nc, sizeof(*e));
	if (!e)
		return false;
	for (size_t i = 0; i < d->cap; i++) {
		if (!d->e[i].key)
			continue;
		size_t j = d->e[i].hash & (nc - 1);
		while (e[j].key)
			j = (j + 1) & (nc - 1);
		e[j] = d->e[i];
	}
	free(d->e);
	d->e = e;
	d->cap = nc;
	return true;
}

/* The id of key, assigning first_id + count when new (*fresh says so). 0 on out of memory. */
static uint64_t dedup_id(struct dedup *d, const void *key, size_t klen, uint64_t first_id, bool *fresh)
{
	*fresh = false;
	if (d->oom || ((d->n + 1) * 2 > d->cap && !dedup_grow(d))) {
		d->oom = true;
		return 0;
	}
	uint64_t h = fnv(key, klen);
	size_t j = h & (d->cap - 1);
	for (; d->e[j].key; j = (j + 1) & (d->cap - 1))
		if (d->e[j].hash == h && d->e[j].klen == klen && memcmp(d->e[j].key, key, klen) == 0)
			return d->e[j].id;
	char *k = malloc(klen ? klen : 1);
	if (!k) {
		d->oom = true;
		return 0;
	}
	memcpy(k, key, klen);
	d->e[j] = (struct ent){h, k, klen, first_id + d->n};
	d->n++;
	*fresh = true;
	return d->e[j].id;
}

static void dedup_free(struct dedup *d)
{
	for (size_t i = 0; i < d->cap; i++)
		free(d->e[i].key);
	free(d->e);
}

/* ---- the profile ---- */

struct enc {
	struct pb out;            /* the Profile message */
	struct pb strings;        /* string_table entries, in index order (written last) */
	struct pb sub, line;      /* scratch for nested messages */
	struct dedup str, fn, loc, map;
	/* per mapping: the span of addresses seen (mappings are written at the end) */
	struct mapinfo {
		int64_t file, build_id;
		uint64_t lo, hi;
		bool all_named, any_line;
	} *maps;
	size_t nmaps, capmaps;
};

static int64_t str_id(struct enc *e, const char *s)
{
	bool fresh;
	size_t n = strlen(s);
	uint64_t id = dedup_id(&e->str, s, n, 0, &fresh);
	if (fresh)
		pb_bytes(&e->strings, 6, s, n);
	return (int64_t)id;
}

static uint64_t map_id(struct enc *e, const struct record_site_row *f, bool named)
{
	int64_t file = str_id(e, f->module ? f->module : "[anonymous]");
	int64_t bid = str_id(e, f->build_id ? f->build_id : "");
	int64_t key[2] = {file, bid};
	bool fresh;
	uint64_t id = dedup_id(&e->map, key, sizeof(key), 1, &fresh);
	if (!id)
		return 0;
	if (fresh) {
		if (e->nmaps == e->capmaps) {
			size_t nc = e->capmaps ? e->capmaps * 2 : 16;
			struct mapinfo *m = realloc(e->maps, nc * sizeof(*m));
			if (!m) {
				e->out.oom = true;
				return 0;
			}
			e->maps = m;
			e->capmaps = nc;
		}
		e->maps[e->nmaps++] = (struct mapinfo){file, bid, UINT64_MAX, 0, true, false};
	}
	struct mapinfo *m = &e->maps[id - 1];
	uint64_t pc = f->pc == HR_UNKNOWN ? 0 : (uint64_t)f->pc;
	if (pc < m->lo)
		m->lo = pc;
	if (pc + 1 > m->hi)
		m->hi = pc + 1;
	m->all_named &= named;
	m->any_line |= f->file != NULL;
	return id;
}

static uint64_t func_id(struct enc *e, const char *name, const char *file)
{
	int64_t n = str_id(e, name), fl = str_id(e, file ? file : "");
	int64_t key[2] = {n, fl};
	bool fresh;
	uint64_t id = dedup_id(&e->fn, key, sizeof(key), 1, &fresh);
	if (fresh) {
		pb_int(&e->sub, 1, (int64_t)id);
		pb_int(&e->sub, 2, n);
		pb_int(&e->sub, 3, n);
		pb_int(&e->sub, 4, fl);
		pb_msg(&e->out, 5, &e->sub);
	}
	return id;
}

static uint64_t loc_id(struct enc *e, const struct record_site_row *f)
{
	char unnamed[RECORD_SITE_TEXT_MAX + 32];
	const char *name = f->function;
	if (!name) {
		const char *base = f->module ? strrchr(f->module, '/') : NULL;
		if (f->module && f->offset != HR_UNKNOWN)
			snprintf(unnamed, sizeof(unnamed), "%s+0x%" PRIx64, base ? base + 1 : f->module, (uint64_t)f->offset);
		else
			snprintf(unnamed, sizeof(unnamed), "0x%" PRIx64, f->pc == HR_UNKNOWN ? 0 : (uint64_t)f->pc);
		name = unnamed;
	}
	uint64_t mid = map_id(e, f, f->function != NULL);
	uint64_t fid = func_id(e, name, f->function ? f->file : NULL);
	int64_t line = f->function && f->line != HR_UNKNOWN ? f->line : 0;
	uint64_t key[4] = {mid, (uint64_t)f->pc, fid, (uint64_t)line};
	bool fresh;
	uint64_t id = dedup_id(&e->loc, key, sizeof(key), 1, &fresh);
	if (fresh) {
		pb_int(&e->sub, 1, (int64_t)id);
		pb_int(&e->sub, 2, (int64_t)mid);
		pb_int(&e->sub, 3, f->pc == HR_UNKNOWN ? 0 : f->pc);
		pb_int(&e->line, 1, (int64_t)fid);
		pb_int(&e->line, 2, line);
		pb_msg(&e->sub, 4, &e->line);
		pb_msg(&e->out, 4, &e->sub);
	}
	return id;
}

static void value_type(struct enc *e, int field, const char *type, const char *unit)
{
	pb_int(&e->sub, 1, str_id(e, type));
	pb_int(&e->sub, 2, str_id(e, unit));
	pb_msg(&e->out, field, &e->sub);
}

static int64_t or_zero(int64_t v)
{
	return v == HR_UNKNOWN || v < 0 ? 0 : v;
}

int pprof_encode(const struct record_site_row *f, size_t nf, const struct record_site_value *v, size_t nv,
		 int64_t period, int64_t time_nanos, uint8_t **ret, size_t *ret_len)
{
	struct enc e;
	memset(&e, 0, sizeof(e));
	str_id(&e, "");   /* string 0 is the empty string */
	value_type(&e, 1, "inuse_space", "bytes");
	value_type(&e, 1, "inuse_objects", "count");
	value_type(&e, 1, "alloc_space", "bytes");
	value_type(&e, 1, "alloc_objects", "count");
	struct pb locs = {0};
	size_t fi = 0;
	/* frames and values are both ordered by site */
	for (size_t i = 0; i < nv; i++) {
		const struct record_site_value *s = &v[i];
		int64_t vals[4] = {or_zero(s->live_bytes), or_zero(s->live_objects), or_zero(s->alloc_bytes),
				   or_zero(s->alloc_objects)};
		while (fi < nf && f[fi].site < s->site)
			fi++;
		size_t end = fi;
		while (end < nf && f[end].site == s->site)
			end++;
		if ((vals[0] | vals[1] | vals[2] | vals[3]) == 0 || end == fi) {
			fi = end;
			continue;
		}
		for (size_t k = fi; k < end; k++)   /* depth order: the caller of malloc first, as pprof wants */
			if (f[k].depth != HR_UNKNOWN)
				pb_varint(&locs, loc_id(&e, &f[k]));
		int64_t pid = f[fi].pid;
		fi = end;
		pb_bytes(&e.sub, 1, locs.p ? locs.p : (const uint8_t *)"", locs.len);
		e.sub.oom |= locs.oom;
		locs.len = 0;
		struct pb packed = {0};
		for (int k = 0; k < 4; k++)
			pb_varint(&packed, (uint64_t)vals[k]);
		pb_bytes(&e.sub, 2, packed.p, packed.len);
		e.sub.oom |= packed.oom;
		free(packed.p);
		if (pid != HR_UNKNOWN) {
			pb_int(&e.line, 1, str_id(&e, "pid"));
			pb_int(&e.line, 3, pid);
			pb_msg(&e.sub, 3, &e.line);
		}
		pb_msg(&e.out, 2, &e.sub);
	}
	free(locs.p);
	for (size_t i = 0; i < e.nmaps; i++) {
		struct mapinfo *m = &e.maps[i];
		pb_int(&e.sub, 1, (int64_t)i + 1);
		pb_int(&e.sub, 2, (int64_t)(m->lo == UINT64_MAX ? 0 : m->lo));
		pb_int(&e.sub, 3, (int64_t)m->hi);
		pb_int(&e.sub, 5, m->file);
		pb_int(&e.sub, 6, m->build_id);
		/* has_functions also for unnamed frames: their synthetic names are final, and a viewer
		 * that symbolised them itself would guess from a file that may have changed */
		pb_int(&e.sub, 7, 1);
		pb_int(&e.sub, 8, m->any_line);
		pb_int(&e.sub, 9, m->any_line);
		pb_msg(&e.out, 3, &e.sub);
	}
	if (time_nanos > 0)
		pb_int(&e.out, 9, time_nanos);
	value_type(&e, 11, "space", "bytes");
	if (period > 0)
		pb_int(&e.out, 12, period);
	pb_int(&e.out, 14, str_id(&e, "inuse_space"));
	pb_raw(&e.out, e.strings.p, e.strings.len);
	bool oom = e.out.oom || e.strings.oom || e.sub.oom || e.line.oom || e.str.oom || e.fn.oom || e.loc.oom ||
		   e.map.oom;
	free(e.strings.p);
	free(e.sub.p);
	free(e.line.p);
	free(e.maps);
	dedup_free(&e.str);
	dedup_free(&e.fn);
	dedup_free(&e.loc);
	dedup_free(&e.map);
	if (oom) {
		free(e.out.p);
		return -ENOMEM;
	}
	*ret = e.out.p;
	*ret_len = e.out.len;
	return 0;
}

static int gzip_buf(const uint8_t *in, size_t n, uint8_t **ret, size_t *ret_len)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)   /* +16: gzip wrapper */
		return -ENOMEM;
	size_t cap = deflateBound(&z, n);
	uint8_t *out = malloc(cap);
	if (!out) {
		deflateEnd(&z);
		return -ENOMEM;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	int rc = deflate(&z, Z_FINISH);
	size_t len = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(out);
		return -ENOMEM;
	}
	*ret = out;
	*ret_len = len;
	return 0;
}

int pprof_write(const struct recording *rec, const struct analysis *a, const char *out, int64_t at_t_ns,
		struct pprof_info *info)
{
	memset(info, 0, sizeof(*info));
	info->at_t_ns = HR_UNKNOWN;
	int rc;
	int64_t at = at_t_ns;
	if (at == PPROF_AT_PEAK)
		at = a && a->sites_peak_t_ns != HR_UNKNOWN ? a->sites_peak_t_ns
		     : a && a->peak_t_ns != HR_UNKNOWN ? a->peak_t_ns : PPROF_AT_END;
	int64_t start_wall = rec->run.started_wall_ns;
	bool finished = rec->run.finished;   /* else a run may still be writing it: not touched */

	struct record_site_row *f = NULL;
	struct record_site_value *v = NULL;
	size_t nf = 0, nv = 0;
	uint8_t *pb = NULL, *gz = NULL;
	size_t pblen = 0, gzlen = 0;
	if (rec->nsites == 0) {
		rc = -ENODATA;   /* recorded without sites */
		goto out;
	}
	rc = recording_site_rows(rec, &f, &nf);
	if (rc < 0)
		goto out;
	bool unnamed = false;
	for (size_t i = 0; i < nf && !unnamed; i++)
		unnamed = f[i].function == NULL;
	if (unnamed) {
		rc = symbols_resolve_frames(f, nf, info->note, sizeof(info->note));
		if (rc < 0)
			goto out;
		if (rc > 0 && finished)
			(void)record_site_rows_store(rec->path, f, nf);   /* a read-only file: named in memory only */
	}
	rc = recording_site_values_at(rec, at, &v, &nv, &info->at_t_ns);
	if (rc < 0)
		goto out;
	if (nv == 0) {
		rc = -ERANGE;
		goto out;
	}
	int64_t wall = start_wall != HR_UNKNOWN ? util_add_sat(start_wall, info->at_t_ns) : 0;
	rc = pprof_encode(f, nf, v, nv, rec->heap_sample_interval, wall, &pb, &pblen);
	if (rc == 0)
		rc = gzip_buf(pb, pblen, &gz, &gzlen);
	if (rc == 0) {
		rc = util_file_write_atomic(out, gz, gzlen, 0644);
		info->write_failed = rc < 0;
	}
	for (size_t i = 0; rc == 0 && i < nv; i++)
		if ((or_zero(v[i].live_bytes) | or_zero(v[i].alloc_bytes)) != 0)
			info->sites++;
out:
	record_site_rows_free(f, nf);
	free(v);
	free(pb);
	free(gz);
	return rc;
}
