/* util: sizes, durations and percentages as users type them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util.h"

static void size_parse_accepts_quantities(void **state)
{
	(void)state;
	int64_t b;
	assert_int_equal(util_size_parse("512Mi", &b), 0);
	assert_int_equal(b, 512LL * 1024 * 1024);
	assert_int_equal(util_size_parse("1Gi", &b), 0);
	assert_int_equal(b, 1073741824LL);
	assert_int_equal(util_size_parse("500M", &b), 0);
	assert_int_equal(b, 500000000LL);
	assert_int_equal(util_size_parse("1.5G", &b), 0);
	assert_int_equal(b, 1500000000LL);
	assert_int_equal(util_size_parse("4096", &b), 0);
	assert_int_equal(b, 4096);
	assert_int_equal(util_size_parse("64Ki", &b), 0);
	assert_int_equal(b, 65536);
	/* Kubernetes' decimal exponent and lower-case k (issue 19.10) */
	assert_int_equal(util_size_parse("1e9", &b), 0);
	assert_int_equal(b, 1000000000);
	assert_int_equal(util_size_parse("1.5E6", &b), 0);
	assert_int_equal(b, 1500000);
	assert_int_equal(util_size_parse("500k", &b), 0);
	assert_int_equal(b, 500000);
}

static void size_parse_rejects_other_forms(void **state)
{
	(void)state;
	int64_t b = 7;
	const char *bad[] = {"512MB", "", "-1", "1.2.3", "Mi", "12 Mi", "0x10", "512mi",
			     /* Kubernetes has no upper-case K, and an exponent needs digits */
			     "500000K", "1e", "1e+", "1ex", "1e999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(util_size_parse(bad[i], &b), -EINVAL);
	assert_int_equal(b, 7); /* output untouched on failure */
	char msg[200];
	util_size_explain("500K", msg, sizeof(msg));
	assert_non_null(strstr(msg, "500k"));
	util_size_explain("512MB", msg, sizeof(msg));
	assert_non_null(strstr(msg, "512Mi"));
	assert_non_null(strstr(msg, "512M "));
}

static void duration_parse(void **state)
{
	(void)state;
	int64_t ns;
	assert_int_equal(util_duration_parse("250ms", &ns), 0);
	assert_int_equal(ns, 250000000LL);
	assert_int_equal(util_duration_parse("10s", &ns), 0);
	assert_int_equal(ns, 10000000000LL);
	assert_int_equal(util_duration_parse("5m", &ns), 0);
	assert_int_equal(ns, 300000000000LL);
	assert_int_equal(util_duration_parse("1h", &ns), 0);
	assert_int_equal(ns, 3600000000000LL);
	assert_int_equal(util_duration_parse("1.5s", &ns), 0);
	assert_int_equal(ns, 1500000000LL);
	assert_int_equal(util_duration_parse("10", &ns), -EINVAL);
	assert_int_equal(util_duration_parse("10 s", &ns), -EINVAL);
	assert_int_equal(util_duration_parse("-1s", &ns), -EINVAL);
}

static void percent_parse(void **state)
{
	(void)state;
	double f;
	assert_int_equal(util_percent_parse("25%", &f), 0);
	assert_true(f > 0.2499 && f < 0.2501);
	/* one unit: a bare number is a percentage too, whether above 1 or not (issue 16.13) */
	assert_int_equal(util_percent_parse("25", &f), 0);
	assert_true(f > 0.2499 && f < 0.2501);
	assert_int_equal(util_percent_parse("0.5", &f), 0);
	assert_true(f > 0.00499 && f < 0.00501);
	assert_int_equal(util_percent_parse("1", &f), 0);
	assert_true(f > 0.00999 && f < 0.01001);
	assert_int_equal(util_percent_parse("-5%", &f), 0);
	assert_true(f < -0.0499 && f > -0.0501);
	assert_int_equal(util_percent_parse("abc", &f), -EINVAL);
}

/* issue 19.10: `sh -c exit 3` was echoed as three words; an escape byte reached the terminal */
static void shell_quote(void **state)
{
	(void)state;
	char b[64];
	assert_string_equal(util_shell_quote("sh", b, sizeof(b)), "sh");
	assert_string_equal(util_shell_quote("/usr/bin/x-y_z.1", b, sizeof(b)), "/usr/bin/x-y_z.1");
	assert_string_equal(util_shell_quote("exit 3", b, sizeof(b)), "'exit 3'");
	assert_string_equal(util_shell_quote("it's", b, sizeof(b)), "'it'\\''s'");
	assert_string_equal(util_shell_quote("", b, sizeof(b)), "''");
	assert_string_equal(util_shell_quote("a\033[2Jb", b, sizeof(b)), "$'a\\x1b[2Jb'");
	assert_string_equal(util_shell_quote("x\n'y", b, sizeof(b)), "$'x\\x0a\\'y'");
	char small[8];
	util_shell_quote("a very long argument", small, sizeof(small));
	assert_true(strlen(small) < sizeof(small));
}

static void size_format(void **state)
{
	(void)state;
	char buf[32];
	assert_string_equal(util_size_format(268435456, buf, sizeof(buf)), "256.0Mi");
	assert_string_equal(util_size_format(1536, buf, sizeof(buf)), "1.5Ki");
	assert_string_equal(util_size_format(-1, buf, sizeof(buf)), "-");
	assert_string_equal(util_size_format_mi_ceil(268435457, buf, sizeof(buf)), "257Mi");
	assert_string_equal(util_size_format_mi_ceil(268435456, buf, sizeof(buf)), "256Mi");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(size_parse_accepts_quantities),
		cmocka_unit_test(shell_quote),
		cmocka_unit_test(size_parse_rejects_other_forms),
		cmocka_unit_test(duration_parse),
		cmocka_unit_test(percent_parse),
		cmocka_unit_test(size_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
