/* fuzz_found: each fault the fuzz targets of fuzz/ found, reproduced with a made input and
 * checked for the fixed behaviour. The crashing inputs themselves are kept in
 * fuzz/corpus/<parser>/crash-* and replayed by the fuzz tests (label fuzz) under ASan/UBSan;
 * these tests state what the right answer is, and fail without the fix in any build. */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <elf.h>
#include <sqlite3.h>

#include "analyze.h"
#include "cgroup.h"
#include "heap.h"
#include "heap_seg.h"
#include "probe.h"
#include "promsize.h"
#include "record.h"
#include "size.h"
#include "stats.h"
#include "util.h"
#include "words.h"

/* util_parse_u64 wrapped past 2^64 (fuzz/corpus/quantity/crash-u64-overflow): "18446744073709551616
 * kB" read as 0. Now refused. */
static void parse_u64_refuses_overflow(void **state)
{
	(void)state;
	const char *p = "18446744073709551615 kB";
	uint64_t v;
	assert_int_equal(util_parse_u64(&p, &v), 0);
	assert_true(v == UINT64_MAX);
	p = "18446744073709551616";
	assert_int_equal(util_parse_u64(&p, &v), -ERANGE);
	p = "99999999999999999999999";
	assert_int_equal(util_parse_u64(&p, &v), -ERANGE);
}

/* util_duration_format cast hours past INT_MAX seconds to int (UB; fuzz/corpus/quantity/
 * crash-duration-format-int): any duration util_duration_parse accepts must format. */
static void duration_format_huge(void **state)
{
	(void)state;
	char buf[64];
	int64_t ns;
	assert_int_equal(util_duration_parse("9200000000s", &ns), 0);
	assert_string_equal(util_duration_format(ns, buf, sizeof(buf)), "2555555h33m");
	assert_string_equal(util_duration_format(7200000000000LL + 60000000000LL, buf, sizeof(buf)), "2h01m");
}

/* kb_field multiplied a huge kB figure by 1024 in signed arithmetic (fuzz/corpus/proc/
 * crash-kb-overflow); smaps sums could overflow the same way. */
static void proc_kb_overflow(void **state)
{
	(void)state;
	struct proc_status st;
	assert_int_equal(probe_parse_status("VmRSS:\t18014398509481984 kB\nThreads:\t1\n", &st), 0);
	assert_int_equal(st.rss, HR_UNKNOWN);
	assert_int_equal(st.threads, 1);
	assert_int_equal(probe_parse_status("VmRSS:\t9007199254740991 kB\nThreads:\t1\n", &st), 0);
	assert_int_equal(st.rss, 9007199254740991LL * 1024);
	struct smaps_parser p;
	struct smaps_breakdown b;
	const char *text = "00400000-00401000 rw-p 00000000 00:00 0\nRss: 9007199254740991 kB\n"
			   "00401000-00402000 rw-p 00000000 00:00 0\nRss: 9007199254740991 kB\n";
	probe_smaps_begin(&p, NULL);
	probe_smaps_feed(&p, text, strlen(text));
	probe_smaps_end(&p, &b);
	assert_int_equal(b.nmaps, 2);
	assert_int_equal(b.anon, INT64_MAX);   /* saturated, not wrapped negative */
	struct cgroup_stats cs;
	assert_int_equal(probe_parse_cgroup_stat("inactive_file 18446744073709551615\n", 2, &cs), -EINVAL);
}

/* The lines of /proc/self/mountinfo and /proc/self/cgroup, now parsed from text (the path
 * readers call these), checked on the captured fixtures' lines. */
static void cgroup_lines(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(cgroup_parse_mountinfo_line("34 25 0:29 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n",
						     2, out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup");
	assert_int_equal(cgroup_parse_mountinfo_line("34 25 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
						     1, out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/memory");
	assert_int_equal(cgroup_parse_mountinfo_line("34 25 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n",
						     1, out, sizeof(out)), -ENOENT);
	assert_int_equal(cgroup_parse_mountinfo_line("garbage", 2, out, sizeof(out)), -ENOENT);
	assert_int_equal(cgroup_parse_cgroup_line("0::/fx-live\n", 2, out, sizeof(out)), 0);
	assert_string_equal(out, "/fx-live");
	assert_int_equal(cgroup_parse_cgroup_line("7:memory:/process_api/1\n", 1, out, sizeof(out)), 0);
	assert_string_equal(out, "/process_api/1");
	assert_int_equal(cgroup_parse_cgroup_line("7:memory:/x\n", 2, out, sizeof(out)), -ENOENT);
	/* a path longer than the caller's buffer is cut, never overflows */
	char longline[600];
	snprintf(longline, sizeof(longline), "0::/%0500d\n", 7);
	assert_int_equal(cgroup_parse_cgroup_line(longline, 2, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_int_equal(probe_parse_stat_ppid("42 (a) b) c) S 17 42 42"), 17);
	assert_int_equal(probe_parse_stat_ppid("42 (no end"), -1);
}

/* The heap reader summed a target's figures in signed arithmetic (fuzz/corpus/heap_seg/
 * crash-sum-overflow): a forged segment made the total wrap. Now sums saturate and a stats
 * figure past INT64_MAX counts as INT64_MAX, never negative. */
static void heap_seg_sums_saturate(void **state)
{
	(void)state;
	const char *run = "fuzzfound";
	pid_t pid = getpid();
	char name[96];
	/* the segment as the shim makes it: a sealed memfd of this process, found through /proc/self/fd */
	snprintf(name, sizeof(name), HEAP_SEG_NAME "%s-%d", run, (int)pid);
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0600), 0);
	assert_int_equal(ftruncate(fd, sizeof(struct heap_seg)), 0);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	struct heap_seg *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(s != MAP_FAILED);
	memset(s, 0, sizeof(*s));
	s->version = HEAP_SEG_VERSION;
	s->size = sizeof(*s);
	s->pid = pid;
	s->nslots = HEAP_SEG_SLOTS;
	s->hiwater = 2;
	s->mode = HEAP_SEG_COUNT;
	s->magic = HEAP_SEG_MAGIC;
	s->retired.live_bytes = INT64_MAX - 10;
	s->slots[0].live_bytes = INT64_MAX - 10;
	s->slots[1].live_bytes = 5;
	struct heap_totals t;
	/* refused as out of bounds (the reader bounds every figure), or summed without wrapping:
	 * never a small or negative number */
	int rc = heap_tree_read(run, &pid, 1, &t);
	assert_true((rc < 0 && t.live == HR_UNKNOWN) || (rc == 0 && t.live == INT64_MAX));
	/* stats mode: glibc's in-use figure forged to 2^64 - 1 */
	s->mode = HEAP_SEG_STATS;
	s->allocator = HEAP_ALLOC_GLIBC;
	s->stats[HS_GLIBC_INUSE] = UINT64_MAX;
	s->stats[HS_GLIBC_MMAPPED] = UINT64_MAX;
	s->published = 1;
	/* without the shim's answer to a request the forged figures are not read at all (unknown) */
	rc = heap_tree_read(run, &pid, 1, &t);
	assert_true(t.live == HR_UNKNOWN || (rc == 0 && t.live == INT64_MAX));
	assert_true(t.held >= 0 || t.held == HR_UNKNOWN);
	munmap(s, sizeof(*s));
	heap_cleanup(run);
	close(fd);
}

/* A minimal ELF whose section name index points past the section-name table, into bytes with
 * no NUL up to the end of the file (fuzz/corpus/elf/crash-shstr-name-past-table): the reader ran
 * strcmp off its mapping. Also a program header table whose offset wraps around. */
static void elf_names_bounded(void **state)
{
	(void)state;
	unsigned char img[4096];
	memset(img, 'A', sizeof(img));
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	memset(eh, 0, sizeof(*eh));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_type = ET_DYN;
	eh->e_phoff = sizeof(*eh);
	eh->e_phnum = 1;
	eh->e_shoff = 256;
	eh->e_shentsize = sizeof(Elf64_Shdr);
	eh->e_shnum = 2;
	eh->e_shstrndx = 1;
	Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof(*eh));
	memset(ph, 0, sizeof(*ph));
	ph->p_type = PT_INTERP;
	Elf64_Shdr *sh = (Elf64_Shdr *)(img + 256);
	memset(sh, 0, 2 * sizeof(*sh));
	sh[0].sh_name = 3000;              /* inside the file, past the 16-byte name table */
	sh[0].sh_type = SHT_PROGBITS;
	sh[1].sh_type = SHT_STRTAB;
	sh[1].sh_offset = 512;
	sh[1].sh_size = 16;
	memset(img + 512, 0, 16);
	char path[] = "/tmp/fuzz_found_elfXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, img, sizeof(img)), (ssize_t)sizeof(img));
	close(fd);
	char reason[256];
	assert_int_equal(heap_probe_binary(path, reason, sizeof(reason)), 0);   /* dynamic, nothing found */
	/* e_phoff + size wraps past 2^64 into the file */
	eh->e_phoff = UINT64_MAX - 8;
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, img, sizeof(img)), (ssize_t)sizeof(img));
	close(fd);
	assert_int_equal(heap_probe_binary(path, reason, sizeof(reason)), -ENOEXEC);
	assert_non_null(strstr(reason, "malformed"));
	unlink(path);
}

static void count_series(void *ctx, const char *labels, const char *name, double ts, double value)
{
	(*(int *)ctx)++;
}

/* Prometheus answers with members of the wrong JSON type (fuzz/corpus/promsize/crash-*): json-c
 * returned NULL into strcmp or walked a non-object. Each is "not a Prometheus answer". */
static void promsize_wrong_types(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"{\"status\":null}",
		"{\"status\":7}",
		"{\"status\":\"success\",\"data\":{\"resultType\":null}}",
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":1,\"value\":[1,\"2\"]}]}}",
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":\"ab\"}]}}",
	};
	char why[256];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int n = 0;
		assert_int_equal(promsize_parse_vector(bad[i], 200, count_series, &n, why, sizeof(why)), -EPROTO);
		assert_int_equal(n, 0);
	}
	int n = 0;
	assert_int_equal(promsize_parse_vector("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
					       "[{\"metric\":{\"pod\":\"a\"},\"value\":[1,\"2\"]}]}}",
					       200, count_series, &n, why, sizeof(why)), 1);
	assert_int_equal(n, 1);
}

/* stats_blind_spot returned worst = INT64_MAX when no scrape phase fell inside any sample's
 * interval (samples 5 ns apart: the phase step is 75 s / 2^20), and sizing multiplied that
 * (fuzz/corpus/recording/crash-blind-spot-no-phase). */
static void blind_spot_no_phase(void **state)
{
	(void)state;
	const int64_t t[] = {1, 6, 11};
	const int64_t x[] = {100, 100, 100};
	struct stats_blind b;
	assert_int_equal(stats_blind_spot(t, x, 3, 75000000000LL, &b), -ENODATA);
	const int64_t t2[] = {0, 1000000000, 2000000000};
	assert_int_equal(stats_blind_spot(t2, x, 3, 1000000000LL, &b), 0);
	assert_int_equal(b.worst, 100);
	assert_int_equal(b.best, 100);
}

/* stats_blind_spot visited every covered phase of every sample: with samples 1 ns apart (2^20
 * phases) and 14 s gaps between groups, 8000 samples took 7 s and a million would take most of
 * an hour (fuzz/corpus/analysis/slow-blind-spot). 200000 such samples now take well under a
 * second; the alarm is a bound 100x above that, not a timing measurement. */
static void blind_spot_cost_bounded(void **state)
{
	(void)state;
	size_t n = 200000;
	int64_t *t = malloc(n * sizeof(*t)), *x = malloc(n * sizeof(*x));
	assert_non_null(t);
	assert_non_null(x);
	for (size_t i = 0; i < n; i++) {
		t[i] = (int64_t)(i / 4) * 14000000000LL + (int64_t)(i % 4);
		x[i] = 1000 + (int64_t)(i % 7);
	}
	alarm(60);
	struct stats_blind b;
	assert_int_equal(stats_blind_spot(t, x, n, 75000000000LL, &b), 0);
	alarm(0);
	assert_int_equal(b.best, 1006);
	free(t);
	free(x);
}

/* size_recommend cast the time to reach the limit to ns without a bound: a growing verdict with
 * a slope of almost nothing overflowed (fuzz/corpus/analysis/crash-time-to-limit). */
static void time_to_limit_saturates(void **state)
{
	(void)state;
	struct analysis a;
	memset(&a, 0, sizeof(a));
	a.peak = a.final = 100 * UTIL_MiB;
	a.startup_peak = a.request_basis_p95 = HR_UNKNOWN;
	a.krr_max_bytes = a.krr_max_best_bytes = a.vpa_peak_bytes = a.vpa_peak_best_bytes = HR_UNKNOWN;
	a.verdict = VERDICT_GROWING;
	a.nfindings = 1;   /* sizing reads the growing finding */
	a.findings[0] = (struct finding){FINDING_GROWING, NAN, HR_UNKNOWN, HR_UNKNOWN};
	a.slope_bytes_per_s = 1e-12;
	const struct analysis *pa = &a;
	struct sizing s;
	assert_int_equal(size_recommend(&pa, 1, NULL, &s), 0);
	assert_true(s.growing);
	assert_int_equal(s.time_to_limit_ns, INT64_MAX);
	a.slope_bytes_per_s = 1024 * 1024;   /* 1 MiB/s: the 25 % headroom, 25 MiB, in 25 s */
	assert_int_equal(size_recommend(&pa, 1, NULL, &s), 0);
	assert_true(s.time_to_limit_ns > 20000000000LL && s.time_to_limit_ns < 30000000000LL);
}

/* The live heap's change over the steady phase is its slope times the phase's length: heap figures
 * 1 ms apart falling by 568 MiB (a slope of -3e11 B/s) in a steady phase of 417 days overflowed
 * the cast to int64 (UBSan; fuzz/corpus/analysis/crash-heap-change-overflow holds these samples).
 * It saturates now, as every figure from a recording does. Rising, the saturated answer is
 * INT64_MAX, which an x86 cast does not give by accident (it gives INT64_MIN). */
static int64_t heap_change_of(int64_t h0, int64_t h1, int64_t h2, double *slope)
{
	char dir[] = "/tmp/fuzz_found_heapXXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[300];
	snprintf(path, sizeof(path), "%s/h.db", dir);
	struct run_info info;
	memset(&info, 0, sizeof(info));
	snprintf(info.mode, sizeof(info.mode), "run");
	snprintf(info.command, sizeof(info.command), "[\"svc\"]");
	info.pid = 1;
	info.limit_bytes = HR_UNKNOWN;
	info.interval_ns = 100000000;
	info.rss_peaks_exact = info.cg_peaks_exact = true;
	snprintf(info.heap_mode, sizeof(info.heap_mode), "count");
	snprintf(info.heap_status, sizeof(info.heap_status), "available: glibc, count mode");
	const int64_t U = HR_UNKNOWN, M = 4 * UTIL_MiB, D = INT64_C(1) << 54;   /* D: 208 days */
	const int64_t t7 = 2000000 + 3 * D + 101000000;
	const int64_t rows[][4] = {   /* t_ns, rss, heap_live, heap_t_ns */
		{1000000, U, U, U}, {2000000, U, 1, 1}, {2000000 + D, 1, U, U},
		{102000000 + D, 147 * M, U, 0}, {102000000 + D, 0, U, U}, {103000000 + D, U, U, 1},
		{103000000 + 2 * D, 1, 1, 1}, {t7, 1, h0, U}, {t7 + 1000000, U, h1, U},
		{t7 + 2000000, U, U, 50 * M}, {t7 + 2001000, U, h2, U}, {t7 + 3001000, U, U, U},
		{t7 + 4001000, U, U, U}, {t7 + 5001000, U, U, U}, {t7 + 6001000, 5 * M, U, U},
		{t7 + 106001000, 30 * M, U, U},
	};
	struct record *r;
	assert_int_equal(record_create(path, &info, &r), 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sample s;
		sample_clear(&s);
		s.t_ns = rows[i][0];
		s.rss = rows[i][1];
		s.heap_live = rows[i][2];
		s.heap_t_ns = rows[i][3];
		record_push_sample(r, &s);
	}
	info.finished = true;
	info.duration_ns = rows[15][0];
	assert_int_equal(record_finish(r, &info), 0);

	struct recording *rec;
	struct analysis *a;
	assert_int_equal(analyze_file(path, &rec, &a), 0);
	*slope = a->heap_slope_bytes_per_s;
	/* the product is beyond int64: the steady phase is the 417 days from the third sample */
	assert_true(fabs(a->heap_slope_bytes_per_s * (double)a->steady_ns / 1e9) > 9.3e18);
	int64_t change = a->heap_change_bytes;
	analyze_file_free(rec, a);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return change;
}

static void heap_change_saturates(void **state)
{
	(void)state;
	const int64_t M = 4 * UTIL_MiB;
	double slope;
	assert_int_equal(heap_change_of(147 * M, 0, 5 * M, &slope), INT64_MIN);
	assert_true(slope < -2.9e11);   /* -568 MiB in 2 ms */
	assert_int_equal(heap_change_of(0, 147 * M, 142 * M, &slope), INT64_MAX);
	assert_true(slope > 2.9e11);
}

/* The report's "+X over D" for a trend over a short steady phase multiplied the slope by the
 * phase's length and cast it to int64: 1e20 bytes in 1 s overflowed (UBSan; an x86 cast gives
 * INT64_MIN, which printed "+- over 1s"). The analysis now keeps the change, saturated
 * (change_bytes); the words print the largest size with its sign, INT64_MIN included
 * (fuzz/corpus/analysis/crash-words-change-overflow). */
static void words_change_saturates(void **state)
{
	(void)state;
	struct analysis a;
	memset(&a, 0, sizeof(a));
	a.steady_ns = 1000000000;
	char got[96], want[96], size[32], d[32];
	util_duration_format(a.steady_ns, d, sizeof(d));
	util_size_format(INT64_MAX, size, sizeof(size));
	snprintf(want, sizeof(want), "+%s over %s", size, d);
	assert_string_equal(words_change(&a, 1e20, INT64_MAX, got, sizeof(got)), want);
	snprintf(want, sizeof(want), "-%s over %s", size, d);
	assert_string_equal(words_change(&a, -1e20, INT64_MIN, got, sizeof(got)), want);
	util_size_format(3 * UTIL_MiB, size, sizeof(size));   /* and an ordinary figure as before */
	snprintf(want, sizeof(want), "+%s over %s", size, d);
	assert_string_equal(words_change(&a, 3.0 * UTIL_MiB, 3 * UTIL_MiB, got, sizeof(got)), want);
}

/* A recording with a negative time (fuzz/corpus/recording/crash-negative-t-blind-spot) drove the
 * blind-spot phases below their array; control characters in its text (crash-control-char-in-
 * command) reached the terminal. Now: corrupt, and '?'; impossible figures read as unknown. */
static void recording_validated(void **state)
{
	(void)state;
	char dir[] = "/tmp/fuzz_found_recXXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[300];
	snprintf(path, sizeof(path), "%s/r.db", dir);
	struct run_info info;
	memset(&info, 0, sizeof(info));
	snprintf(info.mode, sizeof(info.mode), "run");
	snprintf(info.command, sizeof(info.command), "[\"svc\"]");
	info.pid = 1;
	info.limit_bytes = HR_UNKNOWN;
	info.interval_ns = 100000000;
	snprintf(info.heap_mode, sizeof(info.heap_mode), "off");
	struct record *r;
	assert_int_equal(record_create(path, &info, &r), 0);
	for (int i = 0; i < 10; i++) {
		struct sample s;
		sample_clear(&s);
		s.t_ns = (int64_t)i * 100000000;
		s.rss = 1000000 + i;
		record_push_sample(r, &s);
	}
	info.duration_ns = 1000000000;
	assert_int_equal(record_finish(r, &info), 0);

	struct recording *rec;
	assert_int_equal(record_open(path, NULL, &rec), 0);
	recording_free(rec);
	static const char *const edits[] = {
		"UPDATE samples SET t_ns = -1583222785 WHERE rowid = 3",   /* negative */
		"UPDATE samples SET t_ns = 50 WHERE rowid = 5",            /* backwards */
		"INSERT INTO events (t_ns, kind, value, detail) VALUES (-7, 'note', 0, '')",
		"INSERT INTO events (t_ns, kind, value, detail) VALUES (9223372036854775807, 'note', 0, '')",
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char copy[320], cmd[700];
		snprintf(copy, sizeof(copy), "%s/e%zu.db", dir, i);
		snprintf(cmd, sizeof(cmd), "cp %s %s", path, copy);
		assert_int_equal(system(cmd), 0);
		sqlite3 *db;
		assert_int_equal(sqlite3_open(copy, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, edits[i], NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
		assert_int_equal(record_open(copy, NULL, &rec), -EPROTO);
	}
	/* a run figure no arithmetic can use is read as unknown, not trusted and not fatal */
	{
		char copy[320], cmd[700];
		snprintf(copy, sizeof(copy), "%s/interval0.db", dir);
		snprintf(cmd, sizeof(cmd), "cp %s %s", path, copy);
		assert_int_equal(system(cmd), 0);
		sqlite3 *db0;
		assert_int_equal(sqlite3_open(copy, &db0), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db0, "UPDATE run SET interval_ns = 0", NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db0);
		assert_int_equal(record_open(copy, NULL, &rec), 0);
		assert_int_equal(rec->run.interval_ns, HR_UNKNOWN);
		recording_free(rec);
	}
	/* figures no process can have are unknown, the rest of the recording stays readable */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE samples SET rss = 9223372036854775807 WHERE rowid = 2;"
				      "UPDATE samples SET rss = -5 WHERE rowid = 3; UPDATE run SET interval_ns = 0",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(record_open(path, NULL, &rec), 0);
	const int64_t *rss = recording_column(rec, "rss");
	assert_int_equal(rss[0], 1000000);
	assert_int_equal(rss[1], HR_UNKNOWN);
	assert_int_equal(rss[2], HR_UNKNOWN);
	assert_int_equal(rss[3], 1000003);
	assert_int_equal(rec->run.interval_ns, HR_UNKNOWN);
	recording_free(rec);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE run SET command = '[\"a' || char(27) || '[2J' || char(10) || 'b\"]'",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(record_open(path, NULL, &rec), 0);
	assert_string_equal(rec->run.command, "[\"a?[2J?b\"]");
	recording_free(rec);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_u64_refuses_overflow),
		cmocka_unit_test(duration_format_huge),
		cmocka_unit_test(proc_kb_overflow),
		cmocka_unit_test(cgroup_lines),
		cmocka_unit_test(heap_seg_sums_saturate),
		cmocka_unit_test(elf_names_bounded),
		cmocka_unit_test(promsize_wrong_types),
		cmocka_unit_test(blind_spot_no_phase),
		cmocka_unit_test(blind_spot_cost_bounded),
		cmocka_unit_test(heap_change_saturates),
		cmocka_unit_test(words_change_saturates),
		cmocka_unit_test(time_to_limit_saturates),
		cmocka_unit_test(recording_validated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
