/* safety helpers: numbers that would wrap are refused or saturate, text from outside reaches a
 * terminal only escaped, cgroup.procs is parsed strictly (a cut line is never a pid). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cgroup.h"
#include "util.h"

static void parse_u64_refuses_overflow(void **state)
{
	(void)state;
	const char *p = "18446744073709551615 rest";
	uint64_t v = 7;
	assert_int_equal(util_parse_u64(&p, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_string_equal(p, " rest");
	/* one more wraps to 0 without the check; 20 nines wraps to a small number */
	const char *q = "18446744073709551616";
	v = 7;
	assert_int_equal(util_parse_u64(&q, &v), -ERANGE);
	assert_true(v == 7);
	const char *r = "99999999999999999999999";
	assert_int_equal(util_parse_u64(&r, &v), -ERANGE);
}

static void saturating_arithmetic(void **state)
{
	(void)state;
	assert_true(util_add_sat(INT64_MAX, 1) == INT64_MAX);
	assert_true(util_add_sat(INT64_MIN, -1) == INT64_MIN);
	assert_true(util_add_sat(40, 2) == 42);
	assert_true(util_mul_sat(INT64_MAX / 2, 3) == INT64_MAX);
	assert_true(util_mul_sat(-(INT64_MAX / 2), 3) == INT64_MIN);
	assert_true(util_mul_sat(6, 7) == 42);
	/* a huge peak rounds up to a huge limit, never a negative or tiny one */
	assert_true(util_round_up_mi(INT64_MAX) > 0);
	assert_true(util_round_up_mi(INT64_MAX) % UTIL_MiB == 0);
	assert_true(util_round_up_mi(INT64_MAX - 5) >= INT64_MAX - UTIL_MiB);
	char buf[64];
	util_size_format_mi_ceil(INT64_MAX, buf, sizeof(buf));
	assert_string_not_equal(buf, "1Mi");
	assert_true(buf[0] != '-');
}

static void term_escape(void **state)
{
	(void)state;
	char out[256];
	/* ESC ] 0 ; title BEL (sets the window title), CSI 2J (clears the screen) */
	util_term_escape("a\x1b]0;pwned\x07" "b\x1b[2Jc", out, sizeof(out), false);
	assert_string_equal(out, "a\\e]0;pwned\\x07b\\e[2Jc");
	assert_null(strchr(out, 0x1b));
	/* C1 CSI as UTF-8 (U+009B), a lone C1 byte, invalid UTF-8, DEL */
	util_term_escape("x\xc2\x9b" "31my\x9bz\xff\x7f", out, sizeof(out), false);
	assert_string_equal(out, "x\\u009b31my\\x9bz\\xff\\x7f");
	/* valid UTF-8 passes, newlines are escaped unless kept */
	util_term_escape("caf\xc3\xa9 \xe2\x86\x92 ok\nnext", out, sizeof(out), false);
	assert_string_equal(out, "caf\xc3\xa9 \xe2\x86\x92 ok\\nnext");
	util_term_escape("one\ntwo\tthree", out, sizeof(out), true);
	assert_string_equal(out, "one\ntwo\tthree");
	/* overlong encoding of ESC (C0 9B) and a surrogate are not UTF-8 */
	util_term_escape("\xc0\x9b\xed\xa0\x80", out, sizeof(out), false);
	assert_string_equal(out, "\\xc0\\x9b\\xed\\xa0\\x80");
	/* a short buffer cuts at a whole escape, never in the middle of one */
	char small[6];
	util_term_escape("ab\x1b[2J", small, sizeof(small), false);
	assert_string_equal(small, "ab\\e[");
	util_term_escape("abc\x1b", small, 5, false);
	assert_string_equal(small, "abc");
	util_term_escape(NULL, out, sizeof(out), false);
	assert_string_equal(out, "");
}

static void procs_parse_strict(void **state)
{
	(void)state;
	pid_t p[8];
	const char *full = "12\n345\n6789\n";
	assert_int_equal(cgroup_parse_procs(full, strlen(full), true, p, 8), 3);
	assert_int_equal(p[0], 12);
	assert_int_equal(p[2], 6789);
	/* a read cut "12345\n" after "123": 123 is another process, it must not be signalled */
	const char *cut = "12\n123";
	assert_int_equal(cgroup_parse_procs(cut, strlen(cut), false, p, 8), 1);
	assert_int_equal(p[0], 12);
	/* the file really ended there: the last line counts */
	assert_int_equal(cgroup_parse_procs(cut, strlen(cut), true, p, 8), 2);
	assert_int_equal(p[1], 123);
	/* atoi would take " 12x" as 12 and "-5" as -5 (a process group) */
	assert_int_equal(cgroup_parse_procs("12x\n", 4, true, p, 8), -EPROTO);
	assert_int_equal(cgroup_parse_procs(" 12\n", 4, true, p, 8), -EPROTO);
	assert_int_equal(cgroup_parse_procs("-5\n", 3, true, p, 8), -EPROTO);
	assert_int_equal(cgroup_parse_procs("0\n", 2, true, p, 8), -EPROTO);
	assert_int_equal(cgroup_parse_procs("\n", 1, true, p, 8), -EPROTO);
	assert_int_equal(cgroup_parse_procs("99999999999\n", 12, true, p, 8), -EPROTO);
	assert_int_equal(cgroup_parse_procs("", 0, true, p, 8), 0);
}

/* cgroup_read_procs on a real file longer than its 4 KiB chunk: every pid whole, none cut. */
static void procs_read_whole_lines(void **state)
{
	(void)state;
	char dir[] = "/tmp/headroom-procs-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	int n = 0;
	for (int pid = 1000001; pid < 1002001; pid++, n++)
		fprintf(f, "%d\n", pid);
	fprintf(f, "77\n");            /* shift the alignment so lines do straddle chunk ends */
	for (int pid = 1000001; pid < 1001001; pid++, n++)
		fprintf(f, "%d\n", pid);
	fclose(f);
	pid_t *p = calloc(4000, sizeof(pid_t));
	assert_non_null(p);
	int got = cgroup_read_procs(dir, p, 4000);
	assert_int_equal(got, n + 1);
	for (int i = 0; i < got; i++)
		assert_true(p[i] == 77 || (p[i] >= 1000001 && p[i] < 1002001));
	free(p);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_u64_refuses_overflow),
		cmocka_unit_test(saturating_arithmetic),
		cmocka_unit_test(term_escape),
		cmocka_unit_test(procs_parse_strict),
		cmocka_unit_test(procs_read_whole_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
