#include "breakdown.h"

#include <errno.h>

#include "sat.h"

static int64_t known(int64_t v)
{
	return v == HR_UNKNOWN || v < 0 ? 0 : v;
}

void breakdown_clear(struct breakdown *b)
{
	b->rss = b->heap = b->allocator = HR_UNKNOWN;
	b->stacks = b->code = b->mapped_files = b->shmem = b->other = HR_UNKNOWN;
	b->allocator_estimated = false;
}

/* live heap, then what the allocator holds, carved out of anonymous memory; returns the rest */
static int64_t carve_heap(const struct sample *s, int64_t anon, struct breakdown *b)
{
	int64_t rest = anon;
	b->heap = b->allocator = HR_UNKNOWN;
	b->allocator_estimated = false;
	if (s->heap_live == HR_UNKNOWN || s->heap_live < 0)
		return rest;
	b->heap = s->heap_live < rest ? s->heap_live : rest;
	rest -= b->heap;
	if (s->heap_held != HR_UNKNOWN && s->heap_held >= 0) {
		b->allocator = s->heap_held < rest ? s->heap_held : rest;
	} else {
		b->allocator = rest;
		b->allocator_estimated = true;
	}
	return rest - b->allocator;
}

int breakdown_from_sample(const struct sample *s, struct breakdown *ret)
{
	if (s->map_anon == HR_UNKNOWN || s->map_anon < 0)
		return -ENODATA;
	struct breakdown b;
	int64_t anon = known(s->map_anon);
	b.stacks = known(s->map_stacks);
	b.code = known(s->map_code);
	b.mapped_files = known(s->map_files);
	b.shmem = known(s->map_shmem);
	b.other = sat_add(carve_heap(s, anon, &b), known(s->map_other));
	b.rss = sat_add(sat_add(sat_add(anon, b.stacks), sat_add(b.code, b.mapped_files)),
			sat_add(b.shmem, known(s->map_other)));
	*ret = b;
	return 0;
}

int breakdown_from_status(const struct sample *s, struct breakdown *ret)
{
	if (s->rss_anon == HR_UNKNOWN || s->rss_anon < 0)
		return -ENODATA;
	struct breakdown b;
	int64_t anon = known(s->rss_anon);
	b.stacks = b.code = HR_UNKNOWN;
	b.mapped_files = known(s->rss_file);
	b.shmem = known(s->rss_shmem);
	b.other = carve_heap(s, anon, &b);
	b.rss = sat_add(anon, sat_add(b.mapped_files, b.shmem));
	*ret = b;
	return 0;
}
