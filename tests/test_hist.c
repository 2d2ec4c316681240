/* hist: bucket bounds, relative error, quantiles of known distributions, merging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "hist.h"

static void buckets_bound_values(void **state)
{
	(void)state;
	/* exact below HIST_SUB, within 1/HIST_SUB above, monotonic everywhere */
	int last = -1;
	for (uint64_t v = 0; v < 5000000; v += (v < 1000 ? 1 : v / 97)) {
		int b = hist_bucket(v);
		assert_true(b >= last);
		last = b;
		uint64_t high = hist_bucket_high(b);
		assert_true(high >= v);
		if (v < HIST_SUB)
			assert_int_equal(high, v);
		else
			assert_true((double)(high - v) <= (double)v / HIST_SUB);
		if (b > 0)
			assert_true(hist_bucket_high(b - 1) < v);
	}
	assert_true(hist_bucket(UINT64_MAX) == HIST_BUCKETS - 1);
	assert_true(hist_bucket((uint64_t)1 << HIST_MAX_EXP) < HIST_BUCKETS);
}

static void quantiles(void **state)
{
	(void)state;
	struct hist *h = malloc(sizeof(*h));
	assert_non_null(h);
	hist_reset(h);
	assert_int_equal(hist_quantile(h, 0.5), 0);
	/* 1..100000 ns: the q-quantile is q * 100000 within the bucket precision */
	for (uint64_t v = 1; v <= 100000; v++)
		hist_add(h, v);
	double qs[] = {0.5, 0.9, 0.99, 0.999};
	for (size_t i = 0; i < 4; i++) {
		double want = qs[i] * 100000;
		double got = (double)hist_quantile(h, qs[i]);
		assert_true(got >= want && got <= want * (1.0 + 1.0 / HIST_SUB) + 1);
	}
	assert_int_equal(hist_quantile(h, 1.0), 100000);
	assert_int_equal(h->max, 100000);
	assert_int_equal(h->min, 1);
	/* a long tail: 99 fast, 1 stall; p99 is fast, p99.9 and max see the stall */
	struct hist *t = malloc(sizeof(*t));
	assert_non_null(t);
	hist_reset(t);
	for (int i = 0; i < 990; i++)
		hist_add(t, 100000);          /* 100 us */
	for (int i = 0; i < 10; i++)
		hist_add(t, 2000000000ULL);   /* 2 s */
	assert_true(hist_quantile(t, 0.99) < 101000);
	assert_true(hist_quantile(t, 0.999) >= 2000000000ULL);
	assert_true(hist_quantile(t, 0.999) <= 2000000000ULL); /* capped at the exact max */
	/* merging equals adding */
	hist_merge(h, t);
	assert_int_equal(h->count, 101000);
	assert_int_equal(h->max, 2000000000ULL);
	free(h);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buckets_bound_values),
		cmocka_unit_test(quantiles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
