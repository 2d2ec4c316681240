/* report: a recording written with the real writer, read back, analysed and printed; the JSON
 * object must carry every field of the DESIGN.md --json contract with the right type, and the
 * figures must be the analysis' own. */
#include <errno.h>
#include <json.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "analyze.h"
#include "record.h"
#include "report.h"
#include "sample.h"

#define MiB (1024LL * 1024LL)

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/hr-report-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* 300 MiB for 2 s, then 80 MiB, 40 s at 100 ms; live heap 20 MiB after startup */
static void write_startup(const char *path, size_t n, bool oom)
{
	struct run_info info;
	memset(&info, 0, sizeof(info));
	snprintf(info.mode, sizeof(info.mode), "run");
	snprintf(info.command, sizeof(info.command), "[\"./server\", \"--port\", \"8080\"]");
	info.pid = 99;
	info.limit_bytes = oom ? 256 * MiB : HR_UNKNOWN;
	info.interval_ns = 100000000;
	info.rss_peaks_exact = true;
	snprintf(info.heap_mode, sizeof(info.heap_mode), "count");
	snprintf(info.heap_status, sizeof(info.heap_status), "available");
	struct record *r;
	assert_int_equal(record_create(path, &info, &r), 0);
	record_push_event(r, 0, "start", 99, NULL);
	if (n > 20)
		record_push_event(r, 2000000000LL, "ready", 0, "127.0.0.1:8080");
	for (size_t i = 0; i < n; i++) {
		struct sample s;
		sample_clear(&s);
		s.t_ns = (int64_t)i * 100000000;
		s.rss = (i < 20 ? 300 : 80) * MiB;
		s.rss_peak = i == 5 ? 320 * MiB : s.rss;
		s.heap_live = (i < 20 ? 250 : 20) * MiB;
		s.heap_allocs = (int64_t)i * 1000;
		record_push_sample(r, &s);
	}
	struct run_info end = info;
	end.duration_ns = n ? (int64_t)(n - 1) * 100000000 : 0;
	end.exit_code = oom ? -1 : 0;
	end.exit_signal = oom ? 9 : 0;
	end.oom_killed = oom;
	end.finished = true;
	assert_int_equal(record_finish(r, &end), 0);
}

static struct json_object *get(struct json_object *o, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	struct json_object *cur = o;
	for (char *save, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
		struct json_object *next;
		if (!json_object_object_get_ex(cur, k, &next))
			fail_msg("missing field %s", path);
		cur = next;
	}
	return cur;
}

static void json_has_the_contract_fields(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof(path), "%s/startup.hr", dir);
	write_startup(path, 400, false);
	struct recording *rec;
	assert_int_equal(record_open(path, analyze_columns, &rec), 0);
	struct analysis a;
	assert_int_equal(analyze_recording(rec, NULL, &a), 0);
	char *txt = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&txt, &len);
	assert_int_equal(report_print_json(m, rec, &a), 0);
	fclose(m);
	struct json_object *o = json_tokener_parse(txt);
	assert_non_null(o);

	/* every stable field, with its type (null allowed only where the contract can be unknown) */
	static const struct {
		const char *path;
		enum json_type type;
	} fields[] = {
		{"command", json_type_array}, {"exit.code", json_type_int}, {"exit.oom_killed", json_type_boolean},
		{"duration_s", json_type_double}, {"samples", json_type_int}, {"interval_ms", json_type_double},
		{"rss.peak_bytes", json_type_int}, {"rss.startup_peak_bytes", json_type_int},
		{"rss.steady_p50_bytes", json_type_int}, {"rss.final_bytes", json_type_int},
		{"heap.available", json_type_boolean}, {"heap.live_peak_bytes", json_type_int},
		{"heap.live_final_bytes", json_type_int}, {"heap.allocations", json_type_int},
		{"trend.verdict", json_type_string}, {"trend.stabilized_after_s", json_type_double},
		{"trend.slope_bytes_per_hour", json_type_double}, {"blind_spot.scrape_interval_s", json_type_int},
		{"blind_spot.dashboard_peak_bytes", json_type_int}, {"blind_spot.true_peak_bytes", json_type_int},
		{"recommendation.limit_bytes", json_type_int}, {"recommendation.request_bytes", json_type_int},
		{"recommendation.limit", json_type_string}, {"recommendation.request", json_type_string},
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		struct json_object *v = get(o, fields[i].path);
		if (!json_object_is_type(v, fields[i].type))
			fail_msg("%s has type %s", fields[i].path, json_type_to_name(json_object_get_type(v)));
	}
	/* unknown is null, never zero: no cgroup, no limit, no smaps read, no signal */
	static const char *const nulls[] = {
		"limit_bytes", "exit.signal", "cgroup.usage_peak_bytes", "cgroup.working_set_peak_bytes",
		"cgroup.oom_kills", "breakdown.heap_bytes", "breakdown.allocator_bytes", "breakdown.stacks_bytes",
		"breakdown.code_bytes", "breakdown.mapped_files_bytes", "breakdown.other_bytes",
	};
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (get(o, nulls[i]) != NULL)
			fail_msg("%s should be null", nulls[i]);

	/* the figures are the analysis' */
	assert_int_equal(json_object_get_int64(get(o, "rss.peak_bytes")), 320 * MiB);
	assert_int_equal(json_object_get_int64(get(o, "rss.startup_peak_bytes")), 320 * MiB);
	assert_int_equal(json_object_get_int64(get(o, "rss.steady_p50_bytes")), 80 * MiB);
	assert_int_equal(json_object_get_int64(get(o, "rss.final_bytes")), 80 * MiB);
	assert_int_equal(json_object_get_int64(get(o, "samples")), 400);
	assert_string_equal(json_object_get_string(get(o, "trend.verdict")), "stable");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(get(o, "command"), 0)), "./server");
	assert_int_equal(json_object_get_int64(get(o, "heap.live_peak_bytes")), 250 * MiB);
	assert_int_equal(json_object_get_int64(get(o, "heap.live_final_bytes")), 20 * MiB);
	assert_int_equal(json_object_get_int64(get(o, "heap.allocations")), 399000);
	assert_int_equal(json_object_get_int64(get(o, "recommendation.limit_bytes")), 400 * MiB);
	assert_string_equal(json_object_get_string(get(o, "recommendation.limit")), "400Mi");
	assert_string_equal(json_object_get_string(get(o, "recommendation.request")), "80Mi");
	assert_int_equal(json_object_get_int64(get(o, "blind_spot.true_peak_bytes")), 320 * MiB);
	assert_int_equal(json_object_get_int64(get(o, "blind_spot.dashboard_peak_bytes")), 80 * MiB);
	double st = json_object_get_double(get(o, "trend.stabilized_after_s"));
	assert_true(st >= 1.9 && st <= 2.1);
	json_object_put(o);
	free(txt);

	/* the text says the same in words, with numbers */
	txt = NULL;
	m = open_memstream(&txt, &len);
	assert_int_equal(report_print_text(m, rec, &a), 0);
	fclose(m);
	assert_non_null(strstr(txt, "./server --port 8080"));
	assert_non_null(strstr(txt, "Trend: stable"));
	assert_non_null(strstr(txt, "320.0Mi"));
	assert_non_null(strstr(txt, "Mann–Kendall p = "));
	assert_non_null(strstr(txt, "limit 400Mi, request 80Mi"));
	free(txt);
	recording_free(rec);
}

static void oom_in_the_first_second_is_reported_not_judged(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof(path), "%s/oom.hr", dir);
	write_startup(path, 8, true);
	char *txt = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&txt, &len);
	assert_int_equal(report_file(m, path, true), 0);
	fclose(m);
	struct json_object *o = json_tokener_parse(txt);
	assert_non_null(o);
	assert_true(json_object_get_boolean(get(o, "exit.oom_killed")));
	assert_int_equal(json_object_get_int(get(o, "exit.signal")), 9);
	assert_null(get(o, "exit.code"));
	assert_string_equal(json_object_get_string(get(o, "trend.verdict")), "too-short");
	assert_true(json_object_get_double(get(o, "trend.need_more_s")) >= 9.0);
	assert_int_equal(json_object_get_int64(get(o, "limit_bytes")), 256 * MiB);
	/* VPA's OOM rule: max(peak + 100 MiB, peak × 1.2) = 420 MiB, × 1.25 */
	assert_int_equal(json_object_get_int64(get(o, "recommendation.limit_bytes")), 525 * MiB);
	json_object_put(o);
	free(txt);
}

static void bad_files_are_errors(void **state)
{
	(void)state;
	char path[128];
	FILE *devnull = fopen("/dev/null", "we");
	snprintf(path, sizeof(path), "%s/none.hr", dir);
	assert_int_equal(report_file(devnull, path, false), -ENOENT);
	snprintf(path, sizeof(path), "%s/garbage.hr", dir);
	FILE *f = fopen(path, "we");
	for (int i = 0; i < 5000; i++)
		fputc((i * 7919) & 0xff, f);
	fclose(f);
	assert_int_equal(report_file(devnull, path, false), -EPROTO);
	/* no samples: still a report, with the run's facts */
	snprintf(path, sizeof(path), "%s/empty.hr", dir);
	write_startup(path, 0, false);
	char *txt = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&txt, &len);
	assert_int_equal(report_file(m, path, false), 0);
	fclose(m);
	assert_non_null(strstr(txt, "no memory samples"));
	free(txt);
	fclose(devnull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_has_the_contract_fields),
		cmocka_unit_test(oom_in_the_first_second_is_reported_not_judged),
		cmocka_unit_test(bad_files_are_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
