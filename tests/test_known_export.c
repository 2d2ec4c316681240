/* Known answers for the exporter (issue 20.1): every series of a cgroup target checked number by
 * number against the captured cgroup v2 files it was read from (tests/fixtures/cgroup-v2-6.12).
 * The expected numbers are read from the fixture files by this test with its own parsing, so a
 * value taken from the wrong counter or field cannot agree by accident: the "oom" fixture has
 * distinct counters (oom_kill 1, max 35) and the "live" one a working set that differs from its
 * usage (inactive_file 8445952). The fixtures are copied first: the exporter writes memory.peak. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "helpers.h"
#include "export.h"

/* the value of the one series of `name`, -1 when absent */
static int64_t series(const char *text, const char *name)
{
	char key[128];
	snprintf(key, sizeof(key), "\n%s{", name);
	const char *p = strstr(text, key);
	if (!p)
		return -1;
	p = strchr(p + 1, '}');
	return p ? strtoll(p + 2, NULL, 10) : -1;
}

/* a number from a one-value file, or the value of "key N" in a keyed file (key NULL: first token) */
static int64_t fixture_value(const char *dir, const char *file, const char *key)
{
	char path[512], line[256];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	int64_t v = -1;
	while (fgets(line, sizeof(line), f)) {
		char k[64];
		long long n;
		if (!key && sscanf(line, "%lld", &n) == 1) {
			v = n;
			break;
		}
		if (key && sscanf(line, "%63s %lld", k, &n) == 2 && strcmp(k, key) == 0) {
			v = n;
			break;
		}
	}
	fclose(f);
	assert_true(v >= 0);
	return v;
}

/* Exports the fixture cgroup `name` (copied to a temporary directory) and returns one render. */
static char *export_fixture(const char *name, char *tmp, size_t tmplen)
{
	assert_non_null(helpers_tmpdir(tmp, tmplen));
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "cp -r '" FIXTURES "/cgroup-v2-6.12/%s' '%s/cg' && mkdir '%s/proc'", name, tmp, tmp);
	assert_int_equal(system(cmd), 0);
	char cg[600], proc[600];
	snprintf(cg, sizeof(cg), "%s/cg", tmp);
	snprintf(proc, sizeof(proc), "%s/proc", tmp);   /* no process: the cgroup's figures only */
	struct export_config cfg = {
		.mode = EXPORT_CGROUP, .cgroup = cg, .proc_root = proc, .listen = "127.0.0.1:0",
		.interval_ns = 20 * 1000000LL, .peak_window_ns = 200 * 1000000LL,
	};
	struct exporter *e;
	char why[256];
	assert_int_equal(export_start(&e, &cfg, why, sizeof(why)), 0);
	size_t len;
	char *t = export_render(e, &len);
	export_stop(e);
	assert_non_null(t);
	return t;
}

static void cgroup_series_match_the_fixture(void **state)
{
	(void)state;
	char tmp[256];
	const char *dir = FIXTURES "/cgroup-v2-6.12/live";
	char *t = export_fixture("live", tmp, sizeof(tmp));
	int64_t current = fixture_value(dir, "memory.current", NULL);     /* 30740480 */
	int64_t inactive = fixture_value(dir, "memory.stat", "inactive_file");   /* 8445952 */
	int64_t max = fixture_value(dir, "memory.max", NULL);             /* 67108864 */
	assert_true(inactive > 0 && current > inactive);
	assert_int_equal(series(t, "headroom_cgroup_usage_bytes"), current);
	/* the kubelet's working set: usage minus inactive file = 22294528 */
	assert_int_equal(series(t, "headroom_cgroup_working_set_bytes"), current - inactive);
	assert_int_equal(series(t, "headroom_cgroup_limit_bytes"), max);
	assert_int_equal(series(t, "headroom_oom_kills_total"), fixture_value(dir, "memory.events", "oom_kill"));
	assert_int_equal(series(t, "headroom_cgroup_limit_hits_total"), fixture_value(dir, "memory.events", "max"));
	/* the peak of the window is at least the usage; no process, so no RSS series at all */
	assert_true(series(t, "headroom_cgroup_usage_peak_bytes") >= current);
	assert_int_equal(series(t, "headroom_rss_bytes"), -1);
	assert_int_equal(series(t, "headroom_processes"), 0);
	assert_non_null(strstr(t, "\nheadroom_peak_window_seconds 0.2\n"));
	free(t);
	helpers_tmpdir_remove(tmp);
}

static void oom_counters_are_not_mixed_up(void **state)
{
	(void)state;
	char tmp[256];
	const char *dir = FIXTURES "/cgroup-v2-6.12/oom";
	char *t = export_fixture("oom", tmp, sizeof(tmp));
	int64_t kills = fixture_value(dir, "memory.events", "oom_kill");  /* 1 */
	int64_t hits = fixture_value(dir, "memory.events", "max");        /* 35 */
	assert_true(kills != hits);
	assert_int_equal(series(t, "headroom_oom_kills_total"), kills);
	assert_int_equal(series(t, "headroom_cgroup_limit_hits_total"), hits);
	assert_int_equal(series(t, "headroom_cgroup_limit_bytes"), fixture_value(dir, "memory.max", NULL));
	assert_int_equal(series(t, "headroom_cgroup_usage_bytes"), fixture_value(dir, "memory.current", NULL));
	assert_non_null(strstr(t, "# TYPE headroom_oom_kills_total counter\n"));
	free(t);
	helpers_tmpdir_remove(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cgroup_series_match_the_fixture),
		cmocka_unit_test(oom_counters_are_not_mixed_up),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
