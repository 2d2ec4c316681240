#include "live.h"

#include <string.h>

#include "cli.h"
#include "util.h"

void live_init(struct live *l, FILE *out, bool enabled, int width)
{
	memset(l, 0, sizeof(*l));
	l->out = out;
	l->enabled = enabled;
	l->width = width < 20 ? 20 : width;
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

	/* asked again at every draw: a terminal resized during the run must not wrap the line */
	l->width = cli_width(fileno(l->out));
	char line[512];
	live_render(l, s, info, l->width, line, sizeof(line));
	fprintf(l->out, "\r\033[K%s", line);
	fflush(l->out);
	l->drawn = true;
}

/* The parts in the order they are given up when the terminal is narrow: the sparkline first
 * (it shrinks block by block), then the limit, the heap, the peak. Elapsed and RSS always stay. */
int live_render(const struct live *l, const struct sample *s, const struct run_info *info, int width, char *buf,
		size_t len)
{
	char el[32], rss[32], heap[32], pk[32], lim[32], part[4][64];
	int np = 0;
	util_duration_format(s->t_ns, el, sizeof(el));
	util_size_format(s->rss, rss, sizeof(rss));
	util_size_format(l->peak, pk, sizeof(pk));
	snprintf(part[np++], sizeof(part[0]), "%s RSS %s", el, rss);
	snprintf(part[np++], sizeof(part[0]), "  peak %s", pk);
	if (s->heap_live != HR_UNKNOWN)
		snprintf(part[np++], sizeof(part[0]), "  heap %s", util_size_format(s->heap_live, heap, sizeof(heap)));
	int64_t limit = info->limit_bytes;
	if (limit > 0) {
		int64_t use = s->cg_usage != HR_UNKNOWN ? s->cg_usage : s->rss;
		snprintf(part[np++], sizeof(part[0]), "  limit %s (%.0f%%)", util_size_format(limit, lim, sizeof(lim)),
			 100.0 * (double)use / (double)limit);
	}
	/* one column short of the width: a line that fills the last column wraps on some terminals,
	 * and the next \r repaints only the new row (issue 19.8) */
	int room = width - 1;
	while (np > 1) {
		int cols = 0;
		for (int i = 0; i < np; i++)
			cols += (int)strlen(part[i]);
		if (cols <= room)
			break;
		np--;
	}
	size_t off = 0;
	int cols = 0;
	buf[0] = '\0';
	for (int i = 0; i < np && off < len; i++) {
		int n = snprintf(buf + off, len - off, "%.*s", room - cols > 0 ? room - cols : 0, part[i]);
		off += (size_t)n < len - off ? (size_t)n : len - off - 1;
		cols += n;
	}
	static const char *blocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
	int nspark = room - cols - 2;   /* each block is one column */
	if (nspark > l->nspark)
		nspark = l->nspark;
	if (nspark >= 4) {
		int64_t mx = 1;
		int first = l->nspark - nspark;   /* the newest seconds */
		for (int i = first; i < l->nspark; i++)
			if (l->spark[i] > mx)
				mx = l->spark[i];
		off += (size_t)snprintf(buf + off, len - off, "  ");
		cols += 2;
		for (int i = first; i < l->nspark && off + 4 < len; i++) {
			off += (size_t)snprintf(buf + off, len - off, "%s", blocks[(int)(l->spark[i] * 7 / mx)]);
			cols++;
		}
	}
	return cols;
}

void live_clear(struct live *l)
{
	if (l->enabled && l->drawn) {
		fputs("\r\033[K", l->out);
		fflush(l->out);
	}
	l->drawn = false;
}
