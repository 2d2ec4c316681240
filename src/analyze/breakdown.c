#include "breakdown.h"

#include <errno.h>

#include "util.h"

static int64_t known(int64_t v)
{
	return v == HR_UNKNOWN || v < 0 ? 0 : v;
}

int breakdown_from_sample(const struct sample *s, struct breakdown *ret)
{
	if (s->map_anon == HR_UNKNOWN)
		return -ENODATA;
	struct breakdown b;
	int64_t anon = known(s->map_anon);
	b.stacks = known(s->map_stacks);
	b.code = known(s->map_code);
	b.mapped_files = known(s->map_files);
	b.shmem = known(s->map_shmem);
	b.heap = b.allocator = HR_UNKNOWN;
	int64_t rest = anon;
	if (s->heap_live != HR_UNKNOWN) {
		b.heap = s->heap_live < rest ? s->heap_live : rest;
		rest -= b.heap;
		if (s->heap_held != HR_UNKNOWN) {
			b.allocator = s->heap_held < rest ? s->heap_held : rest;
			rest -= b.allocator;
		}
	}
	b.other = rest + known(s->map_other);
	b.rss = anon + b.stacks + b.code + b.mapped_files + b.shmem + known(s->map_other);
	*ret = b;
	return 0;
}
