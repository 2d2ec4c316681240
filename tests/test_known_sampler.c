/* Known answers for the sampler (issue 20.1): one sample of a captured process (tests/fixtures/
 * proc-6.18/1001) in a captured cgroup (cgroup-v2-6.12/oom), every figure compared with the number
 * this test reads from the fixture files itself. The fixtures are copied first (the sampler may
 * write memory.peak), and the peaks of others are kept (keep_hwm: clear_refs is never written). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helpers.h"
#include "sampler.h"

/* "Key:   N kB" of a status file, in bytes; or the first number of a one-value file (key NULL) */
static int64_t fixture_value(const char *path, const char *key)
{
	char line[256];
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	int64_t v = -1;
	while (fgets(line, sizeof(line), f)) {
		long long n;
		if (!key && sscanf(line, "%lld", &n) == 1) {
			v = n;
			break;
		}
		size_t kl = key ? strlen(key) : 0;
		if (key && strncmp(line, key, kl) == 0 && line[kl] == ':' && sscanf(line + kl + 1, "%lld", &n) == 1) {
			v = n * 1024;
			break;
		}
	}
	fclose(f);
	assert_true(v >= 0);
	return v;
}

static void one_sample_of_a_captured_process_in_a_captured_cgroup(void **state)
{
	(void)state;
	char tmp[256];
	assert_non_null(helpers_tmpdir(tmp, sizeof(tmp)));
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "mkdir '%s/proc' && cp -r '" FIXTURES "/proc-6.18/1001' '%s/proc/1001' && "
		 "cp -r '" FIXTURES "/cgroup-v2-6.12/oom' '%s/cg'", tmp, tmp, tmp);
	assert_int_equal(system(cmd), 0);
	char proc[300], cg[300];
	snprintf(proc, sizeof(proc), "%s/proc", tmp);
	snprintf(cg, sizeof(cg), "%s/cg", tmp);
	const char *st = FIXTURES "/proc-6.18/1001/status", *cgf = FIXTURES "/cgroup-v2-6.12/oom";
	char peak_path[300], cur_path[300];
	snprintf(peak_path, sizeof(peak_path), "%s/memory.peak", cgf);
	snprintf(cur_path, sizeof(cur_path), "%s/memory.current", cgf);

	struct sampler_config cfg = {
		.proc_root = proc, .root_pid = 1001, .cgroup_path = cg, .interval_ns = 100 * 1000000LL,
		.keep_hwm = true,
	};
	struct sampler *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	assert_int_equal(sampler_init(s, &cfg), 0);
	struct sample x;
	assert_int_equal(sampler_take(s, 0, &x), 0);
	assert_int_equal(x.nprocs, 1);
	assert_int_equal(x.rss, fixture_value(st, "VmRSS"));           /* 21672 kB */
	assert_int_equal(x.rss_anon, fixture_value(st, "RssAnon"));    /* 20576 kB */
	assert_int_equal(x.rss_file, fixture_value(st, "RssFile"));    /* 1096 kB */
	assert_int_equal(x.rss_shmem, fixture_value(st, "RssShmem"));  /* 0 */
	/* the peak kept since start (VmHWM 52296 kB) counts only if it rose since the sampler first
	 * read it, which depends on when the tree was scanned: between the RSS and VmHWM */
	assert_true(x.rss_peak >= x.rss && x.rss_peak <= fixture_value(st, "VmHWM"));
	/* the cgroup: usage 16384, its peak since creation 32 MiB (above usage: the OOM-killed run) */
	int64_t cur = fixture_value(cur_path, NULL), pk = fixture_value(peak_path, NULL);
	assert_true(pk > cur);
	assert_int_equal(x.cg_usage, cur);
	assert_int_equal(x.cg_usage_peak, pk);
	sampler_destroy(s);
	free(s);
	helpers_tmpdir_remove(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_sample_of_a_captured_process_in_a_captured_cgroup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
