/* metrics: the Prometheus text format as services write it, and what the strict parser refuses. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"

static int parse(const char *text, struct metrics_want *w, int n, int *line)
{
	return metrics_parse(text, strlen(text), w, n, line);
}

/* what client_golang's default registry writes, abridged: HELP/TYPE, labels, summaries */
static const char go_page[] =
	"# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.\n"
	"# TYPE go_gc_duration_seconds summary\n"
	"go_gc_duration_seconds{quantile=\"0\"} 2.1e-05\n"
	"go_gc_duration_seconds{quantile=\"1\"} 0.000154\n"
	"go_gc_duration_seconds_sum 0.000497\n"
	"go_gc_duration_seconds_count 7\n"
	"# HELP go_info Information about the Go environment.\n"
	"go_info{version=\"go1.19.8\"} 1\n"
	"go_memstats_heap_alloc_bytes 6.7296784e+07\n"
	"go_memstats_heap_idle_bytes 2.736128e+06\n"
	"go_memstats_heap_released_bytes 2.4576e+06 1700000000000\n"
	"\n"
	"process_max_fds +Inf\n";

static void go_page_values(void **state)
{
	(void)state;
	struct metrics_want w[] = {{.name = "go_memstats_heap_alloc_bytes"}, {.name = "go_memstats_heap_released_bytes"},
				   {.name = "go_gc_duration_seconds_count"}, {.name = "go_gc_duration_seconds"},
				   {.name = "process_max_fds"}, {.name = "absent_series"}};
	int line = -1;
	assert_int_equal(parse(go_page, w, 6, &line), 0);
	assert_int_equal(line, 0);
	assert_true(w[0].found);
	assert_true(w[0].value == 67296784.0);
	assert_true(w[1].found && w[1].value == 2457600.0);   /* with a timestamp */
	assert_true(w[2].found && w[2].value == 7.0);
	assert_true(w[3].found && w[3].value == 2.1e-05);     /* the first sample of a labelled name */
	assert_true(w[4].found && isinf(w[4].value));
	assert_false(w[5].found);
}

static void labels_with_escapes_and_blanks(void **state)
{
	(void)state;
	struct metrics_want w[] = {{.name = "m"}};
	assert_int_equal(parse("m{a=\"x\\\"}y\\\\\\n\",b = \"{}\" ,} \t 12 -5\n", w, 1, NULL), 0);
	assert_true(w[0].found && w[0].value == 12.0);
	assert_int_equal(parse("m{} NaN", w, 1, NULL), 0);   /* no final newline */
	assert_true(isnan(w[0].value));
}

static void refuses_what_is_not_the_format(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"m twelve\n", "m 0x10\n", "m nan(1)\n", "m\n", "m 1 2 3\n", "1m 1\n", "m{a=x} 1\n",
		"m{a=\"x} 1\n", "m{a=\"\\q\"} 1\n", "m{=\"x\"} 1\n", "m{a=\"x\" b=\"y\"} 1\n", "m 1 1.5\n",
		"m 1\r\n", "m{a=\"x\"}1\n", "m 1 12345678901234567890\n", "m 1e999\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct metrics_want w[] = {{.name = "m", .value = 42}};
		int line = 0;
		if (parse(bad[i], w, 1, &line) != -EBADMSG)
			fail_msg("accepted '%s'", bad[i]);
		assert_int_equal(line, 1);
		assert_false(w[0].found);    /* nothing written on failure */
		assert_true(w[0].value == 42);
	}
	/* the line of the error, after good ones; a NUL inside the text */
	struct metrics_want w[] = {{.name = "m"}};
	int line = 0;
	assert_int_equal(parse("# ok\nm 1\n\nm{ 2\n", w, 1, &line), -EBADMSG);
	assert_int_equal(line, 4);
	assert_int_equal(metrics_parse("m 1\n\0m 2\n", 9, w, 1, &line), -EBADMSG);
	assert_int_equal(line, 2);
}

static void bounded(void **state)
{
	(void)state;
	/* a line one byte over the limit, a name one byte over its limit */
	size_t n = METRICS_LINE_MAX + 1;
	char *big = malloc(n + 1);
	assert_non_null(big);
	memset(big, ' ', n);
	big[0] = '#';
	big[n] = '\0';
	struct metrics_want w[] = {{.name = "m"}};
	int line = 0;
	assert_int_equal(parse(big, w, 1, &line), -EMSGSIZE);
	big[n - 1] = '\0';
	assert_int_equal(parse(big, w, 1, &line), 0);
	memset(big, 'a', METRICS_NAME_MAX + 1);
	memcpy(big + METRICS_NAME_MAX + 1, " 1", 3);
	assert_int_equal(parse(big, w, 1, &line), -EBADMSG);
	big[METRICS_NAME_MAX] = '\0';
	assert_true(metrics_name_valid(big));
	big[0] = '9';
	assert_false(metrics_name_valid(big));
	assert_false(metrics_name_valid(""));
	assert_true(metrics_name_valid("jemalloc:allocated_bytes"));
	free(big);
	assert_int_equal(metrics_parse("m 1", 3, w, 33, NULL), -EINVAL);   /* more wanted than the bound */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(go_page_values),
		cmocka_unit_test(labels_with_escapes_and_blanks),
		cmocka_unit_test(refuses_what_is_not_the_format),
		cmocka_unit_test(bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
