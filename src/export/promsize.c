#include "promsize.h"

#include <ctype.h>
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_BODY (64 << 20)

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

static void first_line(const char *body, char *out, size_t len)
{
	size_t i = 0;
	while (body[i] && body[i] != '\n' && i + 1 < len && i < 60) {
		out[i] = isprint((unsigned char)body[i]) ? body[i] : '?';
		i++;
	}
	out[i] = 0;
}

int promsize_parse_vector(const char *body, long http_status,
                          void (*fn)(void *ctx, const char *labels, const char *name, double ts, double value),
                          void *ctx, char *why, size_t whylen)
{
	enum json_tokener_error jerr;
	json_object *root = json_tokener_parse_verbose(body, &jerr);
	json_object *v;
	if (!root || !json_object_is_type(root, json_type_object) || !json_object_object_get_ex(root, "status", &v)) {
		char start[64];
		first_line(body, start, sizeof(start));
		snprintf(why, whylen, "the answer is not Prometheus JSON (HTTP %ld, starts with '%s')", http_status, start);
		json_object_put(root);
		return -EPROTO;
	}
	if (strcmp(json_object_get_string(v), "success") != 0) {
		json_object *err, *type;
		const char *msg = json_object_object_get_ex(root, "error", &err) ? json_object_get_string(err) : "no message";
		const char *t = json_object_object_get_ex(root, "errorType", &type) ? json_object_get_string(type) : "error";
		snprintf(why, whylen, "Prometheus refused the query (%s): %s", t, msg);
		json_object_put(root);
		return -EINVAL;
	}
	json_object *data, *rtype, *result;
	if (!json_object_object_get_ex(root, "data", &data) || !json_object_object_get_ex(data, "resultType", &rtype) ||
	    strcmp(json_object_get_string(rtype), "vector") != 0 || !json_object_object_get_ex(data, "result", &result) ||
	    !json_object_is_type(result, json_type_array)) {
		snprintf(why, whylen, "the answer has no vector result (HTTP %ld)", http_status);
		json_object_put(root);
		return -EPROTO;
	}
	size_t n = json_object_array_length(result);
	for (size_t i = 0; i < n; i++) {
		json_object *item = json_object_array_get_idx(result, i), *metric, *value;
		if (!json_object_object_get_ex(item, "metric", &metric) || !json_object_object_get_ex(item, "value", &value) ||
		    json_object_array_length(value) != 2) {
			snprintf(why, whylen, "a series in the answer has no metric or value");
			json_object_put(root);
			return -EPROTO;
		}
		char labels[1024], name[256];
		labels_string(metric, labels, sizeof(labels));
		name_from_labels(metric, name, sizeof(name));
		if (!name[0])
			snprintf(name, sizeof(name), "{%s}", labels);
		double ts = json_object_get_double(json_object_array_get_idx(value, 0));
		const char *vs = json_object_get_string(json_object_array_get_idx(value, 1));
		char *end;
		double val = strtod(vs ? vs : "", &end);
		if (!vs || end == vs) {
			snprintf(why, whylen, "a value in the answer is not a number ('%s')", vs ? vs : "null");
			json_object_put(root);
			return -EPROTO;
		}
		fn(ctx, labels, name, ts, val);
	}
	json_object_put(root);
	return (int)n;
}

/* ---- HTTP ---- */

/* libcurl is opened only here, when a sizing actually talks to Prometheus: linked into the
 * binary, its dependency tree (OpenSSL, Kerberos, LDAP, SSH, nghttp2) costs every headroom
 * process ~3 MiB of resident library pages, the exporter included. */
static struct {
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	char *(*easy_escape)(CURL *, const char *, int);
	void (*free)(void *);
	const char *(*easy_strerror)(CURLcode);
} cu;

static int curl_load(char *why, size_t whylen)
{
	static void *lib;
	if (lib)
		return 0;
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(why, whylen, "cannot load libcurl (libcurl.so.4): %s; install libcurl4", dlerror());
		return -ENOENT;
	}
	struct { const char *name; void **slot; } syms[] = {
		{"curl_easy_init", (void **)&cu.easy_init}, {"curl_easy_setopt", (void **)&cu.easy_setopt},
		{"curl_easy_perform", (void **)&cu.easy_perform}, {"curl_easy_getinfo", (void **)&cu.easy_getinfo},
		{"curl_easy_cleanup", (void **)&cu.easy_cleanup}, {"curl_easy_escape", (void **)&cu.easy_escape},
		{"curl_free", (void **)&cu.free}, {"curl_easy_strerror", (void **)&cu.easy_strerror},
	};
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		*syms[i].slot = dlsym(h, syms[i].name);
		if (!*syms[i].slot) {
			snprintf(why, whylen, "libcurl.so.4 has no %s", syms[i].name);
			dlclose(h);
			return -ENOENT;
		}
	}
	lib = h; /* kept for the life of the process */
	return 0;
}

struct body {
	char *p;
	size_t len;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;
	if (b->len + n > MAX_BODY)
		return 0;
	char *p = realloc(b->p, b->len + n + 1);
	if (!p)
		return 0;
	memcpy(p + b->len, data, n);
	b->p = p;
	b->len += n;
	b->p[b->len] = 0;
	return n;
}

static int query(CURL *c, const struct promsize_options *o, const char *promql, struct body *b, long *status,
                 char *why, size_t whylen)
{
	char *esc = cu.easy_escape(c, promql, 0);
	if (!esc)
		return -ENOMEM;
	size_t ul = strlen(o->url);
	while (ul > 0 && o->url[ul - 1] == '/')
		ul--;
	size_t len = ul + strlen(esc) + 64;
	char *url = malloc(len);
	if (!url) {
		cu.free(esc);
		return -ENOMEM;
	}
	snprintf(url, len, "%.*s/api/v1/query?query=%s", (int)ul, o->url, esc);
	cu.free(esc);
	free(b->p);
	b->p = NULL;
	b->len = 0;
	char err[CURL_ERROR_SIZE] = "";
	cu.easy_setopt(c, CURLOPT_URL, url);
	cu.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	cu.easy_setopt(c, CURLOPT_WRITEDATA, b);
	cu.easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	CURLcode rc = cu.easy_perform(c);
	free(url);
	if (rc != CURLE_OK) {
		snprintf(why, whylen, "cannot reach Prometheus at %s: %s", o->url, err[0] ? err : cu.easy_strerror(rc));
		return -ECONNREFUSED;
	}
	cu.easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (!b->p) {
		snprintf(why, whylen, "Prometheus at %s answered HTTP %ld with an empty body", o->url, *status);
		return -EPROTO;
	}
	return 0;
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
	if (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0) {
		snprintf(why, whylen, "--prometheus '%s' is not an http:// or https:// URL", o->url);
		return -EINVAL;
	}
	int lrc = curl_load(why, whylen);
	if (lrc < 0)
		return lrc;
	CURL *c = cu.easy_init();
	if (!c) {
		snprintf(why, whylen, "cannot initialise libcurl");
		return -ENOMEM;
	}
	int64_t timeout_ms = (o->timeout_ns ? o->timeout_ns : 30 * 1000000000LL) / 1000000;
	cu.easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	cu.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 5000 ? timeout_ms : 5000));
	cu.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	cu.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	cu.easy_setopt(c, CURLOPT_USERAGENT, "headroom/" HEADROOM_VERSION);

	struct body b = {0};
	long status = 0;
	int rc = 0;
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
			rc = query(c, o, promql, &b, &status, why, whylen);
			if (rc == 0)
				rc = promsize_parse_vector(b.p, status, on_series, &col, why, whylen);
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
	free(b.p);
	cu.easy_cleanup(c);
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
