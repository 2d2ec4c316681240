/* fleet, patch and prom: owners guessed from pod names (names Kubernetes really generates), the
 * Prometheus answer parser on matrices, partial results and hostile labels, the patch writer's
 * refusals and output, and the single-figure sizing functions fleet shares with size. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "fleet.h"
#include "patch.h"
#include "prom.h"
#include "size.h"
#include "util.h"

static void guess(const char *pod, const char *want_name, const char *want_kind)
{
	char name[256];
	const char *kind;
	fleet_guess_owner(pod, name, sizeof(name), &kind);
	assert_string_equal(name, want_name);
	assert_string_equal(kind, want_kind);
}

static void owners_from_pod_names(void **state)
{
	(void)state;
	guess("web-7c9d8b6f5d-x2x4z", "web", "Deployment");          /* ReplicaSet hash 10 + pod 5 */
	guess("api-v2-5d8f9c7b4-qwx7z", "api-v2", "Deployment");     /* 9-character hash, dashes in the name */
	guess("db-0", "db", "StatefulSet");
	guess("kafka-broker-12", "kafka-broker", "StatefulSet");
	guess("node-agent-x7k2p", "node-agent", "DaemonSet|Job");
	guess("report-29403360-b2c4d", "report", "CronJob");          /* a CronJob's scheduled minute */
	guess("debug", "debug", "Pod");
	guess("my-pod", "my-pod", "Pod");                             /* "pod" has a vowel: not a generated suffix */
	guess("-x7k2p", "-x7k2p", "Pod");
	guess("a--", "a--", "Pod");
}

struct seen {
	int n;
	double ts[8], v[8];
	char pod[8][64];
};

static void on_sample(void *ctx, json_object *m, double ts, double value)
{
	struct seen *s = ctx;
	if (s->n < 8) {
		prom_label(m, "pod", s->pod[s->n], sizeof(s->pod[0]));
		s->ts[s->n] = ts;
		s->v[s->n++] = value;
	}
}

static void parse_matrix_warnings_hostile(void **state)
{
	(void)state;
	char why[256];
	struct seen s = {0};
	struct prom_client c;
	memset(&c, 0, sizeof(c));
	const char *matrix = "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
	                     "{\"metric\":{\"pod\":\"a\\u001b[31mb\"},\"values\":[[100,\"1\"],[200,\"2.5e3\"]]}]}}";
	assert_int_equal(prom_parse(matrix, 200, "matrix", on_sample, &s, &c, why, sizeof(why)), 1);
	assert_int_equal(s.n, 2);
	assert_true(s.ts[1] == 200 && s.v[1] == 2500);
	assert_string_equal(s.pod[0], "a?[31mb");                   /* an escape sequence never reaches a terminal */
	assert_int_equal(c.warnings, 0);
	/* a vector where a matrix was asked is refused, not misread */
	const char *vec = "{\"status\":\"success\",\"warnings\":[\"store down\\u0007\"],\"data\":{\"resultType\":\"vector\","
	                  "\"result\":[{\"metric\":{},\"value\":[1,\"7\"]}]}}";
	assert_int_equal(prom_parse(vec, 200, "matrix", on_sample, &s, &c, why, sizeof(why)), -EPROTO);
	assert_int_equal(prom_parse(vec, 200, "vector", on_sample, &s, &c, why, sizeof(why)), 1);
	assert_int_equal(c.warnings, 2);
	assert_string_equal(c.warning, "store down?");
	const char *junk = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
	                   "\"result\":[{\"metric\":{},\"value\":[1,\"12 MiB\"]}]}}";
	assert_int_equal(prom_parse(junk, 200, NULL, on_sample, &s, NULL, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "not a number"));
	const char *refused = "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse error\"}";
	assert_int_equal(prom_parse(refused, 400, NULL, on_sample, &s, NULL, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "parse error"));
}

static void client_refuses_non_http(void **state)
{
	(void)state;
	struct prom_client c;
	char why[256];
	assert_int_equal(prom_client_open(&c, "file:///etc/passwd", 0, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not an http"));
}

static char *slurp(const char *path)
{
	static char buf[4096];
	ssize_t n = util_read_file(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return NULL;
	buf[n] = 0;
	return buf;
}

static void skipped(void *ctx, const struct fleet_row *w, const char *reason)
{
	(void)w;
	int *n = ctx;
	(*n)++;
	(void)reason;
}

static void patches_written_and_refused(void **state)
{
	(void)state;
	struct fleet_row rows[5];
	memset(rows, 0, sizeof(rows));
	const struct { const char *ns, *kind, *name, *ctr; int64_t lim, req; bool guessed; } def[] = {
		{"batch", "CronJob", "report", "report", 877 * UTIL_MiB, 671 * UTIL_MiB, false},
		{"shop", "Deployment", "web", "app", 475 * UTIL_MiB, 370 * UTIL_MiB, false},
		{"shop", "Deployment", "web", "proxy", 60 * UTIL_MiB, -1, false},
		{"shop", "Deployment", "x", "app", 10 * UTIL_MiB, 5 * UTIL_MiB, true},        /* guessed: no patch */
		{"shop", "StatefulSet", "../../etc", "a", 10 * UTIL_MiB, 5 * UTIL_MiB, false}, /* hostile name */
	};
	for (int i = 0; i < 5; i++) {
		snprintf(rows[i].ns, sizeof(rows[i].ns), "%s", def[i].ns);
		snprintf(rows[i].kind, sizeof(rows[i].kind), "%s", def[i].kind);
		snprintf(rows[i].name, sizeof(rows[i].name), "%s", def[i].name);
		snprintf(rows[i].container, sizeof(rows[i].container), "%s", def[i].ctr);
		rows[i].rec_limit = def[i].lim;
		rows[i].rec_request = def[i].req;
		rows[i].kind_guessed = def[i].guessed;
	}
	struct fleet_result r = {.rows = rows, .nrows = 5};
	char dir[] = "/tmp/headroom-test-fleet.XXXXXX", why[256], path[300];
	assert_non_null(mkdtemp(dir));
	int nskip = 0;
	assert_int_equal(fleet_patch_write(&r, dir, skipped, &nskip, why, sizeof(why)), 2);
	assert_int_equal(nskip, 2);
	snprintf(path, sizeof(path), "%s/shop.deployment.web.yaml", dir);
	const char *web = slurp(path);
	assert_non_null(web);
	assert_non_null(strstr(web, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n"
	                            "spec:\n  template:\n    spec:\n      containers:\n      - name: app\n        resources:\n"
	                            "          requests:\n            memory: 370Mi\n          limits:\n            memory: 475Mi\n"
	                            "      - name: proxy\n        resources:\n          limits:\n            memory: 60Mi\n"));
	unlink(path);
	snprintf(path, sizeof(path), "%s/batch.cronjob.report.yaml", dir);
	const char *cj = slurp(path);
	assert_non_null(cj);
	assert_non_null(strstr(cj, "spec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n"
	                           "          - name: report\n"));
	unlink(path);
	/* a symlink planted where a patch goes is not followed */
	char target[320];
	snprintf(path, sizeof(path), "%s/shop.deployment.web.yaml", dir);
	snprintf(target, sizeof(target), "%s/elsewhere", dir);
	assert_int_equal(symlink(target, path), 0);
	assert_true(fleet_patch_write(&r, dir, NULL, NULL, why, sizeof(why)) < 0);
	assert_int_equal(access(target, F_OK), -1);
	unlink(path);
	snprintf(path, sizeof(path), "%s/batch.cronjob.report.yaml", dir);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
	assert_true(fleet_patch_write(&r, "/nonexistent-dir", NULL, NULL, why, sizeof(why)) < 0);
}

static void sizing_figures(void **state)
{
	(void)state;
	/* VPA's raise after an OOM: +100 MiB below 500 MiB, x1.2 above */
	assert_int_equal(size_oom_raise(200 * UTIL_MiB), 300 * UTIL_MiB);
	assert_int_equal(size_oom_raise(1000 * UTIL_MiB), 1200 * UTIL_MiB);
	assert_int_equal(size_limit_from_peak(400 * UTIL_MiB + 1, 0.25), 501 * UTIL_MiB);
	assert_int_equal(size_limit_from_peak(0, 0.25), UTIL_MiB);
	assert_int_equal(size_request_from_p95(900 * UTIL_MiB, 500 * UTIL_MiB), 500 * UTIL_MiB);
	assert_int_equal(size_krr_from_max(100 * UTIL_MiB), 115 * UTIL_MiB);
	double days[] = {100 * UTIL_MiB, 400 * UTIL_MiB, 300 * UTIL_MiB, 200 * UTIL_MiB, 500 * UTIL_MiB,
	                 600 * UTIL_MiB, 700 * UTIL_MiB, 800 * UTIL_MiB, 900 * UTIL_MiB, 1000 * UTIL_MiB, 1100 * UTIL_MiB};
	bool floored = true;
	/* P90 of 100..1100 step 100 = 1000 MiB; x1.15 = 1150 MiB */
	assert_int_equal(size_vpa_from_daily_peaks(days, 11, &floored), 1150 * UTIL_MiB);
	assert_false(floored);
	double small[] = {10 * UTIL_MiB};
	assert_int_equal(size_vpa_from_daily_peaks(small, 1, &floored), SIZE_VPA_FLOOR);
	assert_true(floored);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(owners_from_pod_names),
		cmocka_unit_test(parse_matrix_warnings_hostile),
		cmocka_unit_test(client_refuses_non_http),
		cmocka_unit_test(patches_written_and_refused),
		cmocka_unit_test(sizing_figures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
