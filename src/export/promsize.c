#include "promsize.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"
#include "util.h"

static const char *const sources[] = {
	"headroom_rss_peak_bytes",
	"headroom_cgroup_usage_peak_bytes",
	"container_memory_working_set_bytes",
};

/* ---- parsing ---- */

static void name_from_labels(json_object *metric, char *out, size_t len)
{
	json_object *v;
	const char *ns = NULL, *pod = NULL, *ctr = NULL;
	if (json_object_object_get_ex(metric, "namespace", &v))
		ns = json_object_get_string(v);
	if (json_object_object_get_ex(metric, "pod", &v))
		pod = json_object_get_string(v);
	if (json_object_object_get_ex(metric, "container", &v))
		ctr = json_object_get_string(v);
	if (ctr && *ctr) {
		snprintf(out, len, "%s%s%s%s%s", ns ? ns : "", ns ? "/" : "", pod ? pod : "", pod ? "/" : "", ctr);
		return;
	}
	if (json_object_object_get_ex(metric, "cgroup", &v)) {
		snprintf(out, len, "%s", json_object_get_string(v));
		return;
	}
	if (json_object_object_get_ex(metric, "pid", &v)) {
		snprintf(out, len, "pid %s", json_object_get_string(v));
		return;
	}
	out[0] = 0;
}

static void labels_string(json_object *metric, char *out, size_t len)
{
	size_t o = 0;
	out[0] = 0;
	json_object_object_foreach(metric, key, val) {
		if (strcmp(key, "__name__") == 0)
			continue;
		int n = snprintf(out + o, len - o, "%s%s=\"%s\"", o ? "," : "", key, json_object_get_string(val));
		if (n < 0 || (size_t)n >= len - o)
			break;
		o += (size_t)n;
	}
}

struct vec_adapter {
	void (*fn)(void *ctx, const char *labels, const char *name, double ts, double value);
	void *ctx;
};

static void on_sample(void *ctx, json_object *metric, double ts, double value)
{
	struct vec_adapter *a = ctx;
	char labels[1024], name[256];
	labels_string(metric, labels, sizeof(labels));
	name_from_labels(metric, name, sizeof(name));
	if (!name[0])
		snprintf(name, sizeof(name), "{%s}", labels);
	a->fn(a->ctx, labels, name, ts, value);
}

int promsize_parse_vector(const char *body, long http_status,
                          void (*fn)(void *ctx, const char *labels, const char *name, double ts, double value),
                          void *ctx, char *why, size_t whylen)
{
	struct vec_adapter a = {fn, ctx};
	return prom_parse(body, http_status, "vector", on_sample, &a, NULL, why, whylen);
}

/* ---- the sizing ---- */

struct collect {
	struct promsize_result *r;
	int which;                   /* 0 peak, 1 points, 2 first timestamp */
	const char *source;
	int err;
};

static struct promsize_row *find_row(struct promsize_result *r, const char *labels)
{
	for (int i = 0; i < r->nrows; i++)
		if (strcmp(r->rows[i].labels, labels) == 0)
			return &r->rows[i];
	return NULL;
}

static void on_series(void *ctx, const char *labels, const char *name, double ts, double value)
{
	struct collect *c = ctx;
	struct promsize_row *row = find_row(c->r, labels);
	if (c->which == 0 && !row) {
		struct promsize_row *rows = realloc(c->r->rows, (size_t)(c->r->nrows + 1) * sizeof(*rows));
		if (!rows) {
			c->err = -ENOMEM;
			return;
		}
		c->r->rows = rows;
		row = &rows[c->r->nrows++];
		memset(row, 0, sizeof(*row));
		snprintf(row->labels, sizeof(row->labels), "%s", labels);
		snprintf(row->name, sizeof(row->name), "%s", name);
		row->source = c->source;
		row->peak_bytes = util_double_to_i64(ceil(value), -1); /* "1e30", "NaN": no UB */
		row->history_s = -1;
		return;
	}
	if (!row)
		return;
	if (c->which == 1)
		row->points = util_double_to_i64(value, 0);
	else if (c->which == 2)
		row->history_s = ts - value;
}

/* Adds `extra` matchers inside a selector: '{a="b"}' + 'c!=""' -> '{a="b",c!=""}'. */
static void selector_with(const char *sel, const char *extra, char *out, size_t len)
{
	if (!sel || !*sel || strcmp(sel, "{}") == 0) {
		snprintf(out, len, extra && *extra ? "{%s}" : "%s", extra ? extra : "");
		return;
	}
	size_t sl = strlen(sel);
	if (!extra || !*extra)
		snprintf(out, len, "%s", sel);
	else
		snprintf(out, len, "%.*s,%s}", (int)(sl - 1), sel, extra);
}

int promsize_run(const struct promsize_options *o, struct promsize_result *ret, char *why, size_t whylen)
{
	memset(ret, 0, sizeof(*ret));
	ret->window_ns = o->window_ns ? o->window_ns : 7 * 86400 * 1000000000LL;
	ret->headroom = o->headroom;
	int64_t window_s = ret->window_ns / 1000000000LL;
	if (window_s < 1)
		window_s = 1;
	/* the first-sample subquery: ~500 steps over the window, one second at least */
	int64_t step_s = (window_s + 499) / 500;
	struct prom_client c;
	int rc = prom_client_open(&c, o->url, o->timeout_ns, why, whylen);
	if (rc < 0)
		return rc;
	char promql[2048], sel[1200];
	for (size_t s = 0; s < sizeof(sources) / sizeof(sources[0]) && ret->nrows == 0; s++) {
		/* cAdvisor also reports pod-level ("") and sandbox ("POD") series: not containers */
		bool cadvisor = s == 2;
		selector_with(o->selector, cadvisor ? "container!=\"\",container!=\"POD\"" : NULL, sel, sizeof(sel));
		struct collect col = {.r = ret, .source = sources[s]};
		const char *fmt[3] = {"max_over_time(%s%s[%llds])", "count_over_time(%s%s[%llds])",
		                      "min_over_time(timestamp(%s%s)[%llds:%llds])"};
		for (int q = 0; q < 3; q++) {
			snprintf(promql, sizeof(promql), fmt[q], sources[s], sel, (long long)window_s, (long long)step_s);
			col.which = q;
			struct vec_adapter a = {on_series, &col};
			rc = prom_query(&c, promql, 0, on_sample, &a, why, whylen);
			if (rc == 0 && col.err)
				rc = col.err;
			if (rc < 0)
				goto out;
			if (q == 0 && ret->nrows == 0)
				break; /* this metric is absent: try the next one */
		}
	}
	if (ret->nrows == 0) {
		snprintf(why, whylen, "no series matched %s in the last %llds at %s (looked for %s, %s and %s)",
		         o->selector && *o->selector ? o->selector : "any selector", (long long)window_s, o->url,
		         sources[0], sources[1], sources[2]);
		rc = -ENODATA;
		goto out;
	}
	for (int i = 0; i < ret->nrows; i++) {
		struct promsize_row *r = &ret->rows[i];
		double want = (double)r->peak_bytes * (1.0 + o->headroom);
		r->recommended_bytes = util_round_up_mi(util_double_to_i64(ceil(want), -1));
		r->short_history = r->points < 2 || r->history_s < 0.9 * (double)window_s;
	}
	rc = 0;
out:
	prom_client_close(&c);
	if (rc < 0)
		promsize_free(ret);
	return rc;
}

void promsize_free(struct promsize_result *r)
{
	free(r->rows);
	r->rows = NULL;
	r->nrows = 0;
}
