#include "live.h"

#include <string.h>

#include "util.h"

void live_init(struct live *l, FILE *out, bool enabled)
{
	memset(l, 0, sizeof(*l));
	l->out = out;
	l->enabled = enabled;
}

static void push_spark(struct live *l, int64_t v)
{
	int cap = (int)(sizeof(l->spark) / sizeof(l->spark[0]));
	if (l->nspark == cap) {
		memmove(l->spark, l->spark + 1, (size_t)(cap - 1) * sizeof(l->spark[0]));
		l->nspark--;
	}
	l->spark[l->nspark++] = v;
}

void live_update(struct live *l, const struct sample *s, const struct run_info *info)
{
	int64_t peak = s->rss_peak > s->rss ? s->rss_peak : s->rss;
	if (peak > l->peak)
		l->peak = peak;
	if (peak > l->bucket_max)
		l->bucket_max = peak;
	if (s->t_ns - l->bucket_start_ns >= 1000000000LL) {
		push_spark(l, l->bucket_max);
		l->bucket_max = 0;
		l->bucket_start_ns = s->t_ns;
	}
	if (!l->enabled)
		return;
	int64_t now = util_now_ns();
	if (l->drawn && now - l->last_draw_ns < 100000000LL)
		return;
	l->last_draw_ns = now;

	char el[32], rss[32], heap[32], pk[32], lim[32];
	util_duration_format(s->t_ns, el, sizeof(el));
	util_size_format(s->rss, rss, sizeof(rss));
	util_size_format(l->peak, pk, sizeof(pk));
	fprintf(l->out, "\r\033[K%8s  RSS %9s", el, rss);
	if (s->heap_live != HR_UNKNOWN)
		fprintf(l->out, "  heap %9s", util_size_format(s->heap_live, heap, sizeof(heap)));
	fprintf(l->out, "  peak %9s", pk);
	int64_t limit = info->limit_bytes;
	if (limit > 0) {
		int64_t use = s->cg_usage != HR_UNKNOWN ? s->cg_usage : s->rss;
		fprintf(l->out, "  limit %s (%.0f%%)", util_size_format(limit, lim, sizeof(lim)), 100.0 * use / limit);
	}
	static const char *blocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
	int64_t mx = 1;
	for (int i = 0; i < l->nspark; i++)
		if (l->spark[i] > mx)
			mx = l->spark[i];
	if (l->nspark) {
		fputs("  ", l->out);
		for (int i = 0; i < l->nspark; i++)
			fputs(blocks[(int)(l->spark[i] * 7 / mx)], l->out);
	}
	fflush(l->out);
	l->drawn = true;
}

void live_clear(struct live *l)
{
	if (l->enabled && l->drawn) {
		fputs("\r\033[K", l->out);
		fflush(l->out);
	}
	l->drawn = false;
}
