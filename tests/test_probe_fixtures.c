/* probe's readers on real captured files (tests/fixtures, see its README): cgroup v2 from
 * Debian's 6.1 and 6.12 kernels (in a VM), cgroup v1 and /proc from this machine's 6.18.
 * Each figure is checked against the same file read here independently, and against what
 * the captured programs are known to hold (20 MiB touched, 8 MiB of page cache, an OOM kill).
 * Nothing here writes: fixture files are plain files, so a peak reset or a clear_refs write
 * would change them (the proc fixtures have no clear_refs file for that reason).
 */
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

#include "probe.h"

#define MIB (1024LL * 1024LL)

/* the whole file, NUL-terminated, in a buffer the caller frees */
static char *slurp(const char *dir, const char *name)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "re");
	if (!f)
		fail_msg("cannot open fixture %s", path);
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap + 1);
	assert_non_null(buf);
	size_t n;
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/* the first number of a one-number file */
static int64_t file_num(const char *dir, const char *name)
{
	char *t = slurp(dir, name);
	int64_t v = strtoll(t, NULL, 10);
	free(t);
	return v;
}

/* the value of a "key value" line (cgroup stat/events files), -1 when absent */
static int64_t keyed(const char *dir, const char *name, const char *key)
{
	char *t = slurp(dir, name);
	int64_t v = -1;
	size_t klen = strlen(key);
	for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n"))
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
			v = strtoll(line + klen + 1, NULL, 10);
			break;
		}
	free(t);
	return v;
}

/* a "Key:   N kB" line of status or smaps_rollup, in bytes */
static int64_t kb_line(const char *dir, const char *name, const char *key)
{
	char *t = slurp(dir, name);
	char *l = strstr(t, key);
	int64_t v = l ? strtoll(l + strlen(key), NULL, 10) * 1024 : -1;
	free(t);
	return v;
}

static int64_t count_lines(const char *dir, const char *name)
{
	char *t = slurp(dir, name);
	int64_t n = 0;
	for (char *p = t; *p; p++)
		n += *p == '\n';
	free(t);
	return n;
}

/* the sum of every mapping's "Rss:" in smaps, in bytes */
static int64_t smaps_rss_sum(const char *dir)
{
	char *t = slurp(dir, "smaps");
	int64_t sum = 0;
	for (char *l = strstr(t, "\nRss:"); l; l = strstr(l + 1, "\nRss:"))
		sum += strtoll(l + 5, NULL, 10) * 1024;
	free(t);
	return sum;
}

static void read_cgroup(const char *dir, int want_version, struct cgroup_stats *st)
{
	struct cgroup_handle c;
	assert_int_equal(probe_cgroup_open(&c, dir), 0);
	assert_int_equal(c.version, want_version);
	memset(st, 0, sizeof(*st));
	assert_int_equal(probe_cgroup_read(&c, true, st), 0);
	probe_cgroup_close(&c);
}

/* ---- cgroup v2 (6.1 and 6.12 in a VM) ---- */

static void check_v2_live(const char *dir)
{
	struct cgroup_stats st;
	read_cgroup(dir, 2, &st);
	assert_int_equal(st.usage, file_num(dir, "memory.current"));
	assert_int_equal(st.peak, file_num(dir, "memory.peak"));
	assert_int_equal(st.limit, 64 * MIB);
	assert_int_equal(st.limit, file_num(dir, "memory.max"));
	assert_int_equal(st.high, 48 * MIB);
	assert_int_equal(st.inactive_file, keyed(dir, "memory.stat", "inactive_file"));
	assert_int_equal(st.active_file, keyed(dir, "memory.stat", "active_file"));
	assert_int_equal(st.anon, keyed(dir, "memory.stat", "anon"));
	assert_int_equal(st.file, keyed(dir, "memory.stat", "file"));
	/* the process wrote 8 MiB to a file and touched 20 MiB */
	assert_true(st.inactive_file >= 7 * MIB);
	assert_true(st.anon >= 20 * MIB);
	assert_int_equal(st.working_set, st.usage - st.inactive_file);
	assert_true(st.working_set >= 20 * MIB && st.working_set < 24 * MIB);
	assert_int_equal(st.oom_kills, 0);
	assert_int_equal(st.limit_hits, keyed(dir, "memory.events", "max"));
	assert_true(st.psi_some_avg10 >= 0.0);   /* memory.pressure parsed, not absent (-1) */

	pid_t pids[8];
	struct cgroup_handle c;
	assert_int_equal(probe_cgroup_open(&c, dir), 0);
	assert_int_equal(probe_cgroup_pids(&c, pids, 8), 1);
	assert_int_equal(pids[0], file_num(dir, "cgroup.procs"));
	probe_cgroup_close(&c);
}

static void check_v2_oom(const char *dir)
{
	struct cgroup_stats st;
	read_cgroup(dir, 2, &st);
	assert_int_equal(st.usage, file_num(dir, "memory.current"));
	assert_int_equal(st.limit, 32 * MIB);
	assert_int_equal(st.peak, 32 * MIB);          /* the charge stopped at the limit */
	assert_int_equal(st.oom_kills, 1);
	assert_int_equal(st.oom_events, 1);
	assert_int_equal(st.limit_hits, keyed(dir, "memory.events", "max"));
	assert_true(st.limit_hits > 0);
	struct cgroup_handle c;
	pid_t pids[8];
	assert_int_equal(probe_cgroup_open(&c, dir), 0);
	assert_int_equal(probe_cgroup_pids(&c, pids, 8), 0);   /* the killed process is gone */
	probe_cgroup_close(&c);
}

static void v2_6_1_live(void **state) { (void)state; check_v2_live(FIXTURES "/cgroup-v2-6.1/live"); }
static void v2_6_12_live(void **state) { (void)state; check_v2_live(FIXTURES "/cgroup-v2-6.12/live"); }
static void v2_6_1_oom(void **state) { (void)state; check_v2_oom(FIXTURES "/cgroup-v2-6.1/oom"); }
static void v2_6_12_oom(void **state) { (void)state; check_v2_oom(FIXTURES "/cgroup-v2-6.12/oom"); }

/* ---- cgroup v1 (this machine) ---- */

static void v1_live(void **state)
{
	(void)state;
	const char *dir = FIXTURES "/cgroup-v1-6.18/live";
	struct cgroup_stats st;
	read_cgroup(dir, 1, &st);
	assert_int_equal(st.usage, file_num(dir, "memory.usage_in_bytes"));
	assert_int_equal(st.peak, file_num(dir, "memory.max_usage_in_bytes"));
	assert_int_equal(st.limit, 64 * MIB);
	/* hierarchical total_* keys, not the cgroup's own */
	assert_int_equal(st.inactive_file, keyed(dir, "memory.stat", "total_inactive_file"));
	assert_int_equal(st.active_file, keyed(dir, "memory.stat", "total_active_file"));
	assert_int_equal(st.anon, keyed(dir, "memory.stat", "total_rss"));
	assert_true(st.inactive_file >= 7 * MIB);
	assert_int_equal(st.working_set, st.usage - st.inactive_file);
	assert_true(st.working_set >= 20 * MIB && st.working_set < 24 * MIB);
	assert_int_equal(st.oom_kills, 0);
	assert_int_equal(st.limit_hits, file_num(dir, "memory.failcnt"));
	assert_true(st.psi_some_avg10 < 0);          /* v1 has no memory.pressure */
}

static void v1_oom(void **state)
{
	(void)state;
	const char *dir = FIXTURES "/cgroup-v1-6.18/oom";
	struct cgroup_stats st;
	read_cgroup(dir, 1, &st);
	assert_int_equal(st.limit, 32 * MIB);
	assert_int_equal(st.peak, 32 * MIB);
	assert_int_equal(st.oom_kills, 1);
	assert_int_equal(st.limit_hits, file_num(dir, "memory.failcnt"));
	assert_true(st.limit_hits > 0);
}

static void not_a_cgroup(void **state)
{
	(void)state;
	struct cgroup_handle c;
	assert_int_equal(probe_cgroup_open(&c, FIXTURES "/proc-6.18/1001"), -ENOTDIR);
	assert_int_equal(probe_cgroup_open(&c, FIXTURES "/no-such-dir"), -ENOENT);
}

/* ---- /proc (this machine) ---- */

static void check_proc(pid_t pid, struct proc_status *ret_st, struct smaps_breakdown *ret_b)
{
	char dir[256], exe[256];
	snprintf(dir, sizeof(dir), "%s/%d", FIXTURES "/proc-6.18", (int)pid);
	struct proc_handle h;
	assert_int_equal(probe_proc_open(&h, FIXTURES "/proc-6.18", pid), 0);
	assert_int_equal(h.fd_clear_refs, -1);   /* never a file to write into */
	char link[1024];
	snprintf(link, sizeof(link), "%s/exe", dir);
	ssize_t n = readlink(link, exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	assert_string_equal(h.exe, exe);

	assert_int_equal(probe_proc_read_status(&h, ret_st), 0);
	assert_int_equal(ret_st->rss, kb_line(dir, "status", "VmRSS:"));
	assert_int_equal(ret_st->hwm, kb_line(dir, "status", "VmHWM:"));
	assert_int_equal(ret_st->rss_shmem, kb_line(dir, "status", "RssShmem:"));
	assert_int_equal(ret_st->rss, ret_st->rss_anon + ret_st->rss_file + ret_st->rss_shmem);

	struct proc_rollup r;
	assert_int_equal(probe_proc_read_rollup(&h, &r), 0);
	assert_int_equal(r.rss, kb_line(dir, "smaps_rollup", "\nRss:"));
	assert_int_equal(r.pss, kb_line(dir, "smaps_rollup", "\nPss:"));

	assert_int_equal(probe_proc_read_smaps(&h, ret_b), 0);
	assert_int_equal(ret_b->nmaps, count_lines(dir, "maps"));
	/* every resident byte lands in exactly one class */
	assert_int_equal(ret_b->anon + ret_b->stacks + ret_b->code + ret_b->files + ret_b->shmem + ret_b->other,
			 smaps_rss_sum(dir));
	probe_proc_close(&h);
}

static void proc_small(void **state)
{
	(void)state;
	struct proc_status st;
	struct smaps_breakdown b;
	check_proc(1001, &st, &b);
	assert_int_equal(st.threads, 1);
	assert_true(st.hwm >= st.rss + 29 * MIB);   /* the 30 MiB spike before the capture */
	assert_true(b.anon >= 20 * MIB);             /* the 20 MiB it holds */
	assert_true(b.stacks > 0);                   /* [stack] */
	assert_true(b.code > 0);                     /* the toucher and libc */
	assert_int_equal(b.shmem, 0);

	/* after writing 5 to clear_refs, VmHWM came back to VmRSS */
	char *t = slurp(FIXTURES "/proc-6.18/1001", "status.after-clear_refs");
	struct proc_status after;
	assert_int_equal(probe_parse_status(t, &after), 0);
	free(t);
	assert_int_equal(after.hwm, after.rss);
	assert_true(after.hwm < st.hwm);
}

static void proc_many_maps(void **state)
{
	(void)state;
	struct proc_status st;
	struct smaps_breakdown b;
	check_proc(1002, &st, &b);
	assert_int_equal(st.threads, 9);
	assert_true(b.nmaps > 1100);
	assert_int_equal(b.shmem, 4 * MIB);          /* the memfd, touched */
	assert_int_equal(b.shmem, st.rss_shmem);
	assert_true(b.files >= 500 * 4096);          /* 500 one-page file mappings, each read */
	assert_true(b.stacks >= 8 * 4096);           /* 8 thread stacks above guard pages, and [stack] */
	assert_true(b.anon >= 8 * MIB);              /* the brk heap and the arenas */
	assert_true(b.code > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(v2_6_1_live),   cmocka_unit_test(v2_6_12_live), cmocka_unit_test(v2_6_1_oom),
		cmocka_unit_test(v2_6_12_oom),   cmocka_unit_test(v1_live),      cmocka_unit_test(v1_oom),
		cmocka_unit_test(not_a_cgroup),  cmocka_unit_test(proc_small),   cmocka_unit_test(proc_many_maps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
