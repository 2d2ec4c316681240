#include "prom.h"

#include <ctype.h>
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

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

static void printable(const char *s, char *out, size_t len, size_t max)
{
	size_t i = 0;
	while (s && s[i] && s[i] != '\n' && i + 1 < len && i < max) {
		out[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
		i++;
	}
	out[i] = 0;
}

const char *prom_label(json_object *metric, const char *key, char *out, size_t len)
{
	json_object *v;
	out[0] = 0;
	if (metric && json_object_object_get_ex(metric, key, &v) && json_object_is_type(v, json_type_string))
		printable(json_object_get_string(v), out, len, len);
	return out;
}

int prom_client_open(struct prom_client *c, const char *url, int64_t timeout_ns, char *why, size_t whylen)
{
	memset(c, 0, sizeof(*c));
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		snprintf(why, whylen, "--prometheus '%s' is not an http:// or https:// URL", url);
		return -EINVAL;
	}
	size_t ul = strlen(url);
	while (ul > 0 && url[ul - 1] == '/')
		ul--;
	if (ul >= sizeof(c->url)) {
		snprintf(why, whylen, "--prometheus URL is longer than %zu bytes", sizeof(c->url) - 1);
		return -EINVAL;
	}
	memcpy(c->url, url, ul);
	c->url[ul] = 0;
	int rc = curl_load(why, whylen);
	if (rc < 0)
		return rc;
	CURL *h = cu.easy_init();
	if (!h) {
		snprintf(why, whylen, "cannot initialise libcurl");
		return -ENOMEM;
	}
	int64_t timeout_ms = (timeout_ns ? timeout_ns : 30 * 1000000000LL) / 1000000;
	cu.easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	cu.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 5000 ? timeout_ms : 5000));
	cu.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	cu.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	cu.easy_setopt(h, CURLOPT_USERAGENT, "headroom/" HEADROOM_VERSION);
	c->curl = h;
	return 0;
}

void prom_client_close(struct prom_client *c)
{
	if (c->curl)
		cu.easy_cleanup(c->curl);
	free(c->body);
	c->curl = NULL;
	c->body = NULL;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct prom_client *c = arg;
	size_t n = size * nmemb;
	if (c->len + n > PROM_MAX_BODY)
		return 0;
	char *p = realloc(c->body, c->len + n + 1);
	if (!p)
		return 0;
	memcpy(p + c->len, data, n);
	c->body = p;
	c->len += n;
	c->body[c->len] = 0;
	return n;
}

/* GET base + path + escaped query + extra; the answer lands in c->body. */
static int get(struct prom_client *c, const char *path, const char *promql, const char *extra, long *status,
               char *why, size_t whylen)
{
	char *esc = cu.easy_escape(c->curl, promql, 0);
	if (!esc)
		return -ENOMEM;
	size_t len = strlen(c->url) + strlen(path) + strlen(esc) + strlen(extra) + 16;
	char *url = malloc(len);
	if (!url) {
		cu.free(esc);
		return -ENOMEM;
	}
	snprintf(url, len, "%s%s?query=%s%s", c->url, path, esc, extra);
	cu.free(esc);
	free(c->body);
	c->body = NULL;
	c->len = 0;
	char err[CURL_ERROR_SIZE] = "";
	cu.easy_setopt(c->curl, CURLOPT_URL, url);
	cu.easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
	cu.easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	cu.easy_setopt(c->curl, CURLOPT_ERRORBUFFER, err);
	c->queries++;
	CURLcode rc = cu.easy_perform(c->curl);
	free(url);
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(why, whylen, "Prometheus at %s did not answer in time (%s); raise --timeout or narrow --selector",
		         c->url, err[0] ? err : cu.easy_strerror(rc));
		return -ETIMEDOUT;
	}
	if (rc == CURLE_WRITE_ERROR) {
		snprintf(why, whylen, "Prometheus at %s sent more than %d MiB for one query; narrow --selector",
		         c->url, PROM_MAX_BODY >> 20);
		return -EPROTO;
	}
	if (rc != CURLE_OK) {
		snprintf(why, whylen, "cannot reach Prometheus at %s: %s", c->url, err[0] ? err : cu.easy_strerror(rc));
		return -ECONNREFUSED;
	}
	cu.easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
	if (!c->body) {
		snprintf(why, whylen, "Prometheus at %s answered HTTP %ld with an empty body", c->url, *status);
		return -EPROTO;
	}
	return 0;
}

static int value_of(json_object *pair, double *ts, double *val, char *why, size_t whylen)
{
	if (!json_object_is_type(pair, json_type_array) || json_object_array_length(pair) != 2) {
		snprintf(why, whylen, "a sample in the answer is not a [time, value] pair");
		return -EPROTO;
	}
	*ts = json_object_get_double(json_object_array_get_idx(pair, 0));
	const char *vs = json_object_get_string(json_object_array_get_idx(pair, 1));
	char *end;
	*val = strtod(vs ? vs : "", &end);
	if (!vs || end == vs || *end) {
		char v[64];
		printable(vs ? vs : "null", v, sizeof(v), 40);
		snprintf(why, whylen, "a value in the answer is not a number ('%s')", v);
		return -EPROTO;
	}
	return 0;
}

int prom_parse(const char *body, long http_status, const char *want, prom_sample_fn fn, void *ctx,
               struct prom_client *warn_into, char *why, size_t whylen)
{
	enum json_tokener_error jerr;
	json_object *root = json_tokener_parse_verbose(body, &jerr);
	json_object *v;
	int rc = -EPROTO;
	/* every member's type is checked before use: json-c's getters return NULL (or a rendering of
	 * another type) for what a hostile server may send (test_fuzz_found.c) */
	if (!root || !json_object_is_type(root, json_type_object) || !json_object_object_get_ex(root, "status", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		char start[64];
		printable(body, start, sizeof(start), 60);
		snprintf(why, whylen, "the answer is not Prometheus JSON (HTTP %ld, starts with '%s')", http_status, start);
		goto out;
	}
	if (strcmp(json_object_get_string(v), "success") != 0) {
		json_object *err, *type;
		char msg[200], t[40];
		printable(json_object_object_get_ex(root, "error", &err) ? json_object_get_string(err) : "no message",
		          msg, sizeof(msg), sizeof(msg));
		printable(json_object_object_get_ex(root, "errorType", &type) ? json_object_get_string(type) : "error",
		          t, sizeof(t), sizeof(t));
		snprintf(why, whylen, "Prometheus refused the query (%s): %s", t, msg);
		rc = -EINVAL;
		goto out;
	}
	json_object *warns;
	if (warn_into && json_object_object_get_ex(root, "warnings", &warns) && json_object_is_type(warns, json_type_array) &&
	    json_object_array_length(warns) > 0) {
		if (warn_into->warnings++ == 0)
			printable(json_object_get_string(json_object_array_get_idx(warns, 0)), warn_into->warning,
			          sizeof(warn_into->warning), sizeof(warn_into->warning));
	}
	json_object *data, *rtype, *result;
	const char *rt = NULL;
	if (!json_object_object_get_ex(root, "data", &data) || !json_object_object_get_ex(data, "resultType", &rtype) ||
	    !json_object_is_type(rtype, json_type_string) || !(rt = json_object_get_string(rtype)) || (strcmp(rt, "vector") && strcmp(rt, "matrix")) ||
	    (want && strcmp(rt, want)) || !json_object_object_get_ex(data, "result", &result) ||
	    !json_object_is_type(result, json_type_array)) {
		snprintf(why, whylen, "the answer has no %s result (HTTP %ld)", want ? want : "vector or matrix", http_status);
		goto out;
	}
	bool matrix = strcmp(rt, "matrix") == 0;
	size_t n = json_object_array_length(result);
	for (size_t i = 0; i < n; i++) {
		json_object *item = json_object_array_get_idx(result, i), *metric, *value;
		if (!json_object_object_get_ex(item, "metric", &metric) || !json_object_is_type(metric, json_type_object) ||
		    !json_object_object_get_ex(item, matrix ? "values" : "value", &value)) {
			snprintf(why, whylen, "a series in the answer has no metric or value");
			rc = -EPROTO;   /* rc held the previous series' success (fuzz_promsize) */
			goto out;
		}
		double ts, val;
		if (!matrix) {
			if ((rc = value_of(value, &ts, &val, why, whylen)) < 0)
				goto out;
			fn(ctx, metric, ts, val);
			continue;
		}
		if (!json_object_is_type(value, json_type_array)) {
			snprintf(why, whylen, "a series in the answer has no list of values");
			rc = -EPROTO;
			goto out;
		}
		for (size_t k = 0; k < json_object_array_length(value); k++) {
			if ((rc = value_of(json_object_array_get_idx(value, k), &ts, &val, why, whylen)) < 0)
				goto out;
			fn(ctx, metric, ts, val);
		}
	}
	rc = n > (size_t)0x7fffffff ? 0x7fffffff : (int)n;
out:
	json_object_put(root);
	return rc;
}

int prom_query(struct prom_client *c, const char *promql, double at_s, prom_sample_fn fn, void *ctx,
               char *why, size_t whylen)
{
	char extra[64] = "";
	long status = 0;
	int64_t t0 = util_now_ns();
	if (at_s > 0)
		snprintf(extra, sizeof(extra), "&time=%.3f", at_s);
	int rc = get(c, "/api/v1/query", promql, extra, &status, why, whylen);
	if (rc >= 0)
		rc = prom_parse(c->body, status, "vector", fn, ctx, c, why, whylen);
	c->last_s = (double)(util_now_ns() - t0) / 1e9;
	return rc;
}

int prom_query_range(struct prom_client *c, const char *promql, double start_s, double end_s, double step_s,
                     prom_sample_fn fn, void *ctx, char *why, size_t whylen)
{
	char extra[128];
	long status = 0;
	int64_t t0 = util_now_ns();
	snprintf(extra, sizeof(extra), "&start=%.3f&end=%.3f&step=%.3f", start_s, end_s, step_s);
	int rc = get(c, "/api/v1/query_range", promql, extra, &status, why, whylen);
	if (rc >= 0)
		rc = prom_parse(c->body, status, "matrix", fn, ctx, c, why, whylen);
	c->last_s = (double)(util_now_ns() - t0) / 1e9;
	return rc;
}
