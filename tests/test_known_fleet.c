/* Known answers for `headroom size --prometheus --fleet` (issue 20.1): fleet_run() against a fake
 * Prometheus (fakeprom.h) holding one container, shop/web-7d9f8b6c5d-x2x4z/web, over a 3-day
 * window evaluated at t = 1000000 s:
 *   working-set max 300 MiB      -> peak 300 MiB, limit 300 × 1.25 = 375 MiB, KRR 300 × 1.15 = 345 MiB
 *   working-set p95 200 MiB + 1  -> request rounded up to 201 MiB
 *   daily peaks 100, 200, 310 MiB, each stamped 30 s before its day step (a server's jitter)
 *                                -> three days; P90 (type 7, index 0.9 × 2 = 1.8) = 200 + 0.8 × 110
 *                                   = 288 MiB, VPA 288 × 1.15 = 331.2 -> 332 MiB
 * Everything else (kube-state-metrics, exact peaks, restarts) is absent: the owner is guessed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fakeprom.h"
#include "fleet.h"

#define MiB (1024LL * 1024LL)
#define AT 1000000.0
#define DAY 86400.0
#define METRIC "{\"namespace\":\"shop\",\"pod\":\"web-7d9f8b6c5d-x2x4z\",\"container\":\"web\"}"

static void answer(void *ctx, const char *req, char *body, size_t len)
{
	(void)ctx;
	const char *empty = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}";
	if (strstr(req, "/api/v1/query_range")) {
		double day0 = AT - 2 * DAY;
		snprintf(body, len, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":"
			 METRIC ",\"values\":[[%.0f,\"%lld\"],[%.0f,\"%lld\"],[%.0f,\"%lld\"]]}]}}",
			 day0 - 30, 100 * MiB, day0 + DAY - 30, 200 * MiB, day0 + 2 * DAY - 30, 310 * MiB);
	} else if (strstr(req, "kube_") || strstr(req, "headroom_rss_peak_bytes") || strstr(req, "max_over_time((") ||
		   strstr(req, "min_over_time((") || strstr(req, "count_over_time")) {
		snprintf(body, len, "%s", empty);
	} else if (strstr(req, "quantile_over_time(0.95")) {
		snprintf(body, len, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
			 METRIC ",\"value\":[%.0f,\"%lld\"]}]}}", AT, 200 * MiB + 1);
	} else if (strstr(req, "max_over_time(container_memory_working_set_bytes")) {
		snprintf(body, len, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
			 METRIC ",\"value\":[%.0f,\"%lld\"]}]}}", AT, 300 * MiB);
	} else {
		snprintf(body, len, "%s", empty);
	}
}

static void one_container_known_figures(void **state)
{
	(void)state;
	struct fakeprom f = {.answer = answer};
	assert_int_equal(fakeprom_start(&f), 0);
	char url[64], why[1024];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
	struct fleet_options o = {.url = url, .window_ns = 3 * 86400 * 1000000000LL, .at_s = AT, .headroom = 0.25,
				  .timeout_ns = 10 * 1000000000LL};
	struct fleet_result r;
	int rc = fleet_run(&o, &r, why, sizeof(why));
	fakeprom_stop(&f);
	if (rc < 0)
		fail_msg("fleet_run: %d: %s", rc, why);
	assert_int_equal(r.nrows, 1);
	const struct fleet_row *w = &r.rows[0];
	assert_string_equal(w->ns, "shop");
	assert_string_equal(w->name, "web");
	assert_string_equal(w->container, "web");
	assert_true(w->kind_guessed);
	assert_int_equal(w->pods, 1);
	assert_int_equal(w->ws_max_bytes, 300 * MiB);
	assert_int_equal(w->peak_bytes, 300 * MiB);
	assert_false(w->peak_exact);
	assert_int_equal(w->ws_p95_bytes, 200 * MiB + 1);
	assert_int_equal(w->rec_limit, 375 * MiB);
	assert_int_equal(w->rec_request, 201 * MiB);
	assert_int_equal(w->krr_bytes, 345 * MiB);
	assert_int_equal(w->vpa_days, 3);
	assert_int_equal(w->vpa_bytes, 332 * MiB);
	assert_false(w->vpa_floored);
	assert_int_equal(w->cur_limit, -1);
	assert_int_equal(w->oom_kills, 0);
	fleet_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_container_known_figures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
