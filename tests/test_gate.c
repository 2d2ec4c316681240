/* gate: the --fail-on classes, their parsing, what makes each fire, and which exit status wins. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gate.h"

#define MiB (1024LL * 1024)

static void test_parse(void **state)
{
	unsigned m = 0;
	const char *bad = NULL;
	size_t badlen = 0;
	assert_int_equal(gate_parse("growing", &m, &bad, &badlen), 0);
	assert_int_equal(m, GATE_GROWING);
	assert_int_equal(gate_parse("oom,over-limit,under-sized,growing", &m, &bad, &badlen), 0);
	assert_int_equal(m, GATE_OOM | GATE_OVER_LIMIT | GATE_UNDER_SIZED | GATE_GROWING);
	/* the bad part is pointed at, not the whole list */
	assert_int_equal(gate_parse("oom,leaky,growing", &m, &bad, &badlen), -EINVAL);
	assert_int_equal(badlen, 5);
	assert_memory_equal(bad, "leaky", 5);
	assert_int_equal(gate_parse("", &m, &bad, &badlen), -EINVAL);
	assert_int_equal(gate_parse("oom,", &m, &bad, &badlen), -EINVAL);
	assert_int_equal(gate_parse("OOM", &m, &bad, &badlen), -EINVAL);
	assert_int_equal(gate_parse("growingx", &m, &bad, &badlen), -EINVAL);
	assert_int_equal(gate_parse("grow", &m, &bad, &badlen), -EINVAL);
	assert_int_equal(gate_parse(NULL, &m, NULL, NULL), -EINVAL);
}

/* a stable run of 100 MiB under no limit: nothing fires */
static struct analysis calm(void)
{
	struct analysis a;
	memset(&a, 0, sizeof(a));
	a.verdict = VERDICT_STABLE;
	a.limit_bytes = -1;
	a.peak = 100 * MiB;
	a.cg_oom_kills = 0;
	a.cg_limit_hits = 0;
	return a;
}

static void test_findings(void **state)
{
	struct analysis a = calm();
	const struct analysis *one[1] = {&a};
	struct sizing s;
	memset(&s, 0, sizeof(s));
	s.limit_bytes = 125 * MiB;
	assert_int_equal(gate_findings(one, 1, &s, NULL), 0);

	a.verdict = VERDICT_GROWING;
	assert_int_equal(gate_findings(one, 1, &s, NULL), GATE_GROWING);
	a.verdict = VERDICT_TOO_SHORT;      /* too short to judge is not growing */
	assert_int_equal(gate_findings(one, 1, &s, NULL), 0);

	a = calm();
	a.cg_oom_kills = 1;
	assert_int_equal(gate_findings(one, 1, &s, NULL) & GATE_OOM, GATE_OOM);
	a = calm();
	a.oom_killed = true;
	assert_int_equal(gate_findings(one, 1, &s, NULL) & GATE_OOM, GATE_OOM);

	/* a limit of 200 MiB, peak 100 MiB: fine; recommended 125 MiB fits */
	a = calm();
	a.limit_bytes = 200 * MiB;
	assert_int_equal(gate_findings(one, 1, &s, NULL), 0);
	a.cg_limit_hits = 3;
	assert_int_equal(gate_findings(one, 1, &s, NULL), GATE_OVER_LIMIT);
	a.cg_limit_hits = -1;               /* unknown hits, the peak decides */
	a.peak = 200 * MiB;
	assert_int_equal(gate_findings(one, 1, &s, NULL) & GATE_OVER_LIMIT, GATE_OVER_LIMIT);

	/* ran under 110 MiB, headroom recommends 125 MiB: under-sized, not over the limit */
	a = calm();
	a.limit_bytes = 110 * MiB;
	assert_int_equal(gate_findings(one, 1, &s, NULL), GATE_UNDER_SIZED);
	assert_int_equal(gate_findings(one, 1, NULL, NULL), 0);   /* no sizing: not judged */

	/* a verify replay that was killed or hit its limit */
	a = calm();
	struct verify_result v = {.limit_bytes = 125 * MiB, .oom_killed = false, .limit_hits = 0};
	assert_int_equal(gate_findings(one, 1, &s, &v), 0);
	v.limit_hits = 2;
	assert_int_equal(gate_findings(one, 1, &s, &v), GATE_UNDER_SIZED);
	v.oom_killed = true;
	assert_int_equal(gate_findings(one, 1, &s, &v), GATE_UNDER_SIZED | GATE_OOM);

	/* any of several recordings counts */
	struct analysis b = calm();
	b.verdict = VERDICT_GROWING;
	const struct analysis *two[2] = {&a, &b};
	assert_int_equal(gate_findings(two, 2, &s, NULL), GATE_GROWING);
}

/* each edge just below, at and just above: the peak against the run's limit, the recommended
 * limit against the one it ran under, a replay's limit hits */
static void test_edges(void **state)
{
	struct analysis a = calm();
	const struct analysis *one[1] = {&a};
	struct sizing s;
	memset(&s, 0, sizeof(s));
	s.limit_bytes = 125 * MiB;
	a.limit_bytes = 200 * MiB;
	a.cg_limit_hits = 0;
	a.peak = 200 * MiB - 1;
	assert_int_equal(gate_findings(one, 1, &s, NULL), 0);
	a.peak = 200 * MiB;          /* reaching the limit is over it: the kernel reclaims there */
	assert_int_equal(gate_findings(one, 1, &s, NULL), GATE_OVER_LIMIT);
	a.peak = 100 * MiB;
	a.cg_limit_hits = 1;
	assert_int_equal(gate_findings(one, 1, &s, NULL), GATE_OVER_LIMIT);

	a = calm();
	a.limit_bytes = 125 * MiB + 1;     /* ran under a little more than recommended: fine */
	assert_int_equal(gate_findings(one, 1, &s, NULL), 0);
	a.limit_bytes = 125 * MiB;         /* exactly the recommendation: fine */
	assert_int_equal(gate_findings(one, 1, &s, NULL), 0);
	a.limit_bytes = 125 * MiB - 1;     /* a byte less than recommended: under-sized */
	assert_int_equal(gate_findings(one, 1, &s, NULL), GATE_UNDER_SIZED);

	/* a replay killed without a limit hit counted (the cgroup's counters lost): under-sized too */
	a = calm();
	struct verify_result v = {.limit_bytes = 125 * MiB, .oom_killed = true, .limit_hits = 0};
	assert_int_equal(gate_findings(one, 1, &s, &v), GATE_OOM | GATE_UNDER_SIZED);
	v.oom_killed = false;
	v.limit_hits = 1;
	assert_int_equal(gate_findings(one, 1, &s, &v), GATE_UNDER_SIZED);
}

static void test_exit_code(void **state)
{
	unsigned all = GATE_GROWING | GATE_OOM | GATE_OVER_LIMIT | GATE_UNDER_SIZED;
	assert_int_equal(gate_exit_code(0, all), 0);
	assert_int_equal(gate_exit_code(GATE_GROWING, 0), 0);                 /* not asked for */
	assert_int_equal(gate_exit_code(GATE_GROWING, GATE_OOM), 0);
	assert_int_equal(gate_exit_code(GATE_GROWING, all), GATE_EXIT_GROWING);
	assert_int_equal(gate_exit_code(GATE_UNDER_SIZED, all), GATE_EXIT_UNDER_SIZED);
	assert_int_equal(gate_exit_code(GATE_OVER_LIMIT, all), GATE_EXIT_OVER_LIMIT);
	/* severity: oom > over-limit > under-sized > growing */
	assert_int_equal(gate_exit_code(all, all), GATE_EXIT_OOM);
	assert_int_equal(gate_exit_code(GATE_GROWING | GATE_UNDER_SIZED | GATE_OVER_LIMIT, all), GATE_EXIT_OVER_LIMIT);
	assert_int_equal(gate_exit_code(GATE_GROWING | GATE_UNDER_SIZED, all), GATE_EXIT_UNDER_SIZED);
	assert_int_equal(gate_exit_code(all, GATE_GROWING), GATE_EXIT_GROWING);
	/* distinct codes, clear of 0, 1, 2 */
	int codes[] = {GATE_EXIT_GROWING, GATE_EXIT_OOM, GATE_EXIT_OVER_LIMIT, GATE_EXIT_UNDER_SIZED};
	for (int i = 0; i < 4; i++) {
		assert_true(codes[i] > 2 && codes[i] < 126);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(codes[i], codes[j]);
	}
	assert_string_equal(gate_class_name(GATE_OVER_LIMIT), "over-limit");
	assert_null(gate_class_name(GATE_OOM | GATE_GROWING));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_findings),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_exit_code),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
