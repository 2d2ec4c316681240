/* Known answers for `headroom size --prometheus` (issue 20.1): promsize_run() against a fake
 * Prometheus on loopback that answers each of its three queries with a series of known value, so
 * the recommendation and the short-history flag are checked number by number:
 *   max_over_time   -> 104857601 (100 MiB + 1 byte): the peak
 *   count_over_time -> 1000: the points
 *   min_over_time(timestamp) -> 9200 at query time 10000: 800 s of history
 * With 25 % headroom: ceil(104857601 × 1.25) = 131072002 bytes, 2 bytes over 125 MiB -> 126 MiB.
 * 800 s of a 1000 s window is under 90 % of it: short history; 950 s is not. The fake server is
 * tests/fakeprom.h. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fakeprom.h"
#include "promsize.h"

struct fake {
	struct fakeprom srv;
	const char *first_ts;        /* the min_over_time(timestamp) answer */
};

static void answer(void *ctx, const char *req, char *body, size_t len)
{
	struct fake *f = ctx;
	const char *value = strstr(req, "max_over_time") ? "104857601"
			    : strstr(req, "count_over_time") ? "1000"
			    : strstr(req, "min_over_time") ? f->first_ts : NULL;
	if (!value) {
		snprintf(body, len, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}");
		return;
	}
	snprintf(body, len, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		 "{\"metric\":{\"pid\":\"4242\",\"job\":\"headroom\"},\"value\":[10000,\"%s\"]}]}}", value);
}

static void run(struct fake *f, struct promsize_result *r)
{
	char url[64], why[512];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f->srv.port);
	struct promsize_options o = {.url = url, .window_ns = 1000 * 1000000000LL, .headroom = 0.25,
				     .timeout_ns = 10 * 1000000000LL};
	int rc = promsize_run(&o, r, why, sizeof(why));
	if (rc < 0)
		fail_msg("promsize_run: %d: %s", rc, why);
}

static void recommendation_from_known_answers(void **state)
{
	(void)state;
	struct fake f = {.first_ts = "9200"};
	f.srv.answer = answer;
	f.srv.ctx = &f;
	assert_int_equal(fakeprom_start(&f.srv), 0);
	struct promsize_result r;
	run(&f, &r);
	assert_int_equal(r.nrows, 1);
	assert_string_equal(r.rows[0].source, "headroom_rss_peak_bytes");
	assert_int_equal(r.rows[0].peak_bytes, 104857601);
	assert_int_equal(r.rows[0].points, 1000);
	assert_true(r.rows[0].history_s == 800.0);
	assert_int_equal(r.rows[0].recommended_bytes, 126LL * 1024 * 1024);
	assert_true(r.rows[0].short_history);
	promsize_free(&r);
	/* 950 s of the 1000 s window: enough history */
	f.first_ts = "9050";
	run(&f, &r);
	assert_int_equal(r.nrows, 1);
	assert_true(r.rows[0].history_s == 950.0);
	assert_false(r.rows[0].short_history);
	promsize_free(&r);
	fakeprom_stop(&f.srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(recommendation_from_known_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
