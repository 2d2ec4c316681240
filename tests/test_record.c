/* record: a recording written in batches reads back exactly; bad files are named as such. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "record.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/hr-test-record-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void fill_info(struct run_info *info)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->mode, sizeof(info->mode), "run");
	snprintf(info->command, sizeof(info->command), "[\"./svc\",\"--port\",\"8080\"]");
	info->pid = 4242;
	info->limit_bytes = 256LL << 20;
	info->interval_ns = 10000000;
	info->cgroup_version = 1;
	snprintf(info->cgroup_path, sizeof(info->cgroup_path), "/sys/fs/cgroup/memory/x");
	info->rss_peaks_exact = true;
	snprintf(info->heap_mode, sizeof(info->heap_mode), "off");
	snprintf(info->kernel, sizeof(info->kernel), "6.18");
	info->started_wall_ns = 1700000000000000000LL;
}

/* sites mode's tables: written with the first site, read back; a recording without them has no
 * sites; rows a file should not hold (a gap in the frames, an unknown site, a negative count, a
 * control character) are left out or cleaned */
static void sites_roundtrip(void **state)
{
	(void)state;
	char path[300], path2[300];
	snprintf(path, sizeof(path), "%s/sites.db", dir);
	snprintf(path2, sizeof(path2), "%s/nosites.db", dir);
	struct run_info info;
	fill_info(&info);
	struct record *r;
	assert_int_equal(record_create(path2, &info, &r), 0);
	struct sample smp;
	sample_clear(&smp);
	smp.rss = 1;
	record_push_sample(r, &smp);
	assert_int_equal(record_finish(r, &info), 0);
	struct recording *rec;
	assert_int_equal(record_open(path2, NULL, &rec), 0);
	assert_int_equal(rec->nsites, 0);
	assert_int_equal(rec->nsite_samples, 0);
	assert_int_equal(rec->heap_sample_interval, HR_UNKNOWN);
	assert_null(recording_site(rec, 1));
	recording_free(rec);

	assert_int_equal(record_create(path, &info, &r), 0);
	record_push_sample(r, &smp);
	struct record_new_frame fr[3] = {
		{.pc = 0x55550001234, .offset = 0x1234, .module = "/srv/app", .build_id = "abcd"},
		{.pc = 0x55550005678, .offset = 0x5678, .module = "/srv/app", .build_id = "abcd"},
		{.pc = 0x7f0000000010, .offset = HR_UNKNOWN, .module = NULL, .build_id = NULL},
	};
	record_push_site(r, 1, 4242, 3, fr);
	record_push_site(r, 2, 4243, 0, NULL);
	record_push_site(r, 0, 4242, 1, fr);   /* not a site id: refused */
	for (int t = 1; t <= 3; t++) {
		struct record_site_sample row = {.t_ns = t * 1000000000LL, .site = 1, .live_bytes = t * 100,
						 .live_objects = t, .alloc_bytes = t * 200, .alloc_objects = 2 * t};
		record_push_site_sample(r, &row);
		row.site = 2;
		row.live_bytes = 50;
		record_push_site_sample(r, &row);
	}
	record_set_sites_meta(r, 524288, "stack not walkable in 3 % of samples");
	assert_int_equal(record_finish(r, &info), 0);
	/* what a damaged or forged file may hold */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
		"INSERT INTO heap_site_frames VALUES (1, 5, 1, '/x', NULL, 1, NULL, NULL, NULL);"     /* a gap */
		"INSERT INTO heap_site_samples VALUES (4000000000, 99, 1, 1, 1, 1);"                   /* no such site */
		"INSERT INTO heap_site_samples VALUES (4000000000, 1, -5, 1, 1, 1);"                   /* negative */
		"INSERT INTO heap_sites VALUES (3, -1, 0);"                                             /* bad pid */
		"UPDATE heap_site_frames SET function = 'evil' || char(27) || '[2J' WHERE site = 1 AND depth = 0;",
		NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(record_open(path, NULL, &rec), 0);
	assert_int_equal(rec->nsites, 2);
	assert_int_equal(rec->heap_sample_interval, 524288);
	assert_string_equal(rec->heap_sites_note, "stack not walkable in 3 % of samples");
	const struct rec_site *s1 = recording_site(rec, 1);
	assert_non_null(s1);
	assert_int_equal(s1->pid, 4242);
	assert_int_equal(s1->nframes, 3);
	assert_int_equal(s1->frames[1].pc, 0x55550005678);
	assert_int_equal(s1->frames[1].offset, 0x5678);
	assert_string_equal(s1->frames[1].module, "/srv/app");
	assert_string_equal(s1->frames[1].build_id, "abcd");
	assert_null(s1->frames[2].module);
	assert_int_equal(s1->frames[2].offset, HR_UNKNOWN);
	assert_string_equal(s1->frames[0].function, "evil?[2J");
	assert_null(s1->frames[1].function);
	assert_int_equal(recording_site(rec, 2)->nframes, 0);
	assert_null(recording_site(rec, 3));
	assert_int_equal(rec->nsite_samples, 6);
	assert_int_equal(rec->site_samples[0].t_ns, 1000000000LL);
	assert_int_equal(rec->site_samples[4].live_bytes, 300);
	assert_int_equal(rec->site_samples[4].alloc_objects, 6);
	/* what the flame graph and pprof draw: the rows of the loaded sites, and each site's last
	 * figures at or before an instant (site 1 at 2.5 s: its 2 s row; the forged rows are gone) */
	struct record_site_row *rows;
	size_t nrows;
	assert_int_equal(recording_site_rows(rec, &rows, &nrows), 0);
	assert_int_equal(nrows, 3);
	assert_int_equal(rows[2].site, 1);
	assert_int_equal(rows[2].depth, 2);
	assert_int_equal(rows[2].pid, 4242);
	assert_int_equal(rows[1].pc, 0x55550005678);
	assert_string_equal(rows[0].function, "evil?[2J");
	assert_null(rows[2].module);
	record_site_rows_free(rows, nrows);
	struct record_site_value *v;
	size_t nv;
	int64_t at;
	assert_int_equal(recording_site_values_at(rec, 2500000000LL, &v, &nv, &at), 0);
	assert_int_equal(nv, 2);
	assert_int_equal(at, 2000000000LL);
	assert_int_equal(v[0].site, 1);
	assert_int_equal(v[0].live_bytes, 200);
	assert_int_equal(v[0].alloc_objects, 4);
	assert_int_equal(v[1].site, 2);
	assert_int_equal(v[1].live_bytes, 50);
	free(v);
	assert_int_equal(recording_site_values_at(rec, INT64_MAX, &v, &nv, &at), 0);
	assert_int_equal(at, 3000000000LL);
	assert_int_equal(v[0].live_bytes, 300);
	free(v);
	assert_int_equal(recording_site_values_at(rec, 999999999LL, &v, &nv, &at), 0);
	assert_int_equal(nv, 0);
	assert_int_equal(at, HR_UNKNOWN);
	free(v);
	recording_free(rec);
	/* the writer's reader (naming) sees the same rows as record_open, text bounded alike */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE heap_site_frames SET function = printf('%.3000c', 'f')"
				      " WHERE site = 1 AND depth = 1;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(record_open(path, NULL, &rec), 0);
	assert_int_equal(record_site_rows_read(path, &rows, &nrows), 0);
	assert_int_equal(strlen(recording_site(rec, 1)->frames[1].function), 3000);
	assert_int_equal(strlen(rows[1].function), 3000);
	record_site_rows_free(rows, nrows);
	recording_free(rec);
}

static void roundtrip(void **state)
{
	(void)state;
	char path[300];
	snprintf(path, sizeof(path), "%s/a.db", dir);
	struct run_info info;
	fill_info(&info);
	struct record *r;
	assert_int_equal(record_create(path, &info, &r), 0);
	for (int i = 0; i < 20000; i++) {
		struct sample s;
		sample_clear(&s);
		s.t_ns = (int64_t)i * 1000000;
		s.rss = 1000 + i;
		s.rss_peak = 2000 + i;
		if (i % 100 == 0)
			s.map_stacks = i;
		record_push_sample(r, &s);
		if (i % 4000 == 3999)
			record_sync(r); /* a batch holds 8192 rows: never overflow, however slow the disk */
	}
	record_push_event(r, 5, "start", 4242, NULL);
	record_push_event(r, 99, "exit", 0, "exited with status 0");
	struct load_row row = {.t_ns = 1000000000, .stage = 1, .connections = 50, .requests = 900,
			       .inflight = 50, .errors = 2, .p50_us = 300, .p99_us = 2000, .max_us = 9000};
	record_push_load(r, &row);
	assert_int_equal(record_dropped(r), 0);
	info.duration_ns = 20000000000LL;
	info.exit_code = 0;
	assert_int_equal(record_finish(r, &info), 0);

	/* never overwrite */
	assert_int_equal(record_create(path, &info, &r), -EEXIST);

	struct recording *rec;
	const char *cols[] = {"rss", "rss_peak", "map_stacks", NULL};
	assert_int_equal(record_open(path, cols, &rec), 0);
	assert_int_equal(rec->nsamples, 20000);
	const int64_t *rss = recording_column(rec, "rss");
	const int64_t *stacks = recording_column(rec, "map_stacks");
	assert_non_null(rss);
	assert_null(recording_column(rec, "cg_usage"));
	assert_int_equal(rss[12345], 1000 + 12345);
	assert_int_equal(rec->t_ns[19999], 19999LL * 1000000);
	assert_int_equal(stacks[200], 200);
	assert_int_equal(stacks[201], HR_UNKNOWN);
	assert_int_equal(rec->nevents, 2);
	assert_string_equal(rec->events[0].kind, "start");
	assert_string_equal(rec->events[1].detail, "exited with status 0");
	assert_int_equal(rec->nload, 1);
	assert_int_equal(rec->load[0].p99_us, 2000);
	assert_true(rec->run.finished);
	assert_int_equal(rec->run.limit_bytes, 256LL << 20);
	assert_int_equal(rec->run.exit_code, 0);
	assert_string_equal(rec->run.command, "[\"./svc\",\"--port\",\"8080\"]");
	recording_free(rec);
}

static void abandoned_recording_keeps_flushed_rows(void **state)
{
	(void)state;
	char path[300];
	snprintf(path, sizeof(path), "%s/b.db", dir);
	struct run_info info;
	fill_info(&info);
	struct record *r;
	assert_int_equal(record_create(path, &info, &r), 0);
	for (int i = 0; i < 100; i++) {
		struct sample s;
		sample_clear(&s);
		s.t_ns = (int64_t)i * 10000000;
		s.rss = 5;
		record_push_sample(r, &s);
	}
	/* the writer's own word that the rows are committed, not a guess at how long it takes */
	record_sync(r);
	/* what a SIGKILL leaves: flushed rows, run row not finished */
	struct recording *rec;
	assert_int_equal(record_open(path, NULL, &rec), 0);
	assert_int_equal(rec->nsamples, 100);
	assert_false(rec->run.finished);
	assert_int_equal(rec->run.duration_ns, 99LL * 10000000);
	recording_free(rec);
	record_abandon(r);
}

/* record_open_image: a file's bytes read in memory give what the file gives; garbage is -EPROTO */
static void image_reads_as_the_file(void **state)
{
	(void)state;
	char path[300];
	snprintf(path, sizeof(path), "%s/img.db", dir);
	struct run_info info;
	fill_info(&info);
	struct record *r;
	assert_int_equal(record_create(path, &info, &r), 0);
	for (int i = 0; i < 3000; i++) {
		struct sample s;
		sample_clear(&s);
		s.t_ns = (int64_t)i * 7000000;
		s.rss = 4096 * (int64_t)(i % 97);
		record_push_sample(r, &s);
	}
	record_push_event(r, 5, "start", 4242, NULL);
	info.duration_ns = 21000000000LL;
	assert_int_equal(record_finish(r, &info), 0);

	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static unsigned char img[4 << 20];
	size_t len = fread(img, 1, sizeof(img), f);
	fclose(f);
	assert_true(len > 0 && len < sizeof(img));
	struct recording *a, *b;
	assert_int_equal(record_open(path, NULL, &a), 0);
	assert_int_equal(record_open_image(img, len, "img", NULL, &b), 0);
	assert_int_equal(b->nsamples, 3000);
	assert_int_equal(b->nsamples, a->nsamples);
	assert_int_equal(b->ncols, a->ncols);
	for (int c = 0; c < a->ncols; c++) {
		assert_string_equal(b->col_name[c], a->col_name[c]);
		assert_memory_equal(b->col[c], a->col[c], a->nsamples * sizeof(int64_t));
	}
	assert_memory_equal(b->t_ns, a->t_ns, a->nsamples * sizeof(int64_t));
	assert_int_equal(b->nevents, 1);
	assert_string_equal(b->events[0].kind, "start");
	assert_int_equal(b->run.duration_ns, a->run.duration_ns);
	assert_string_equal(b->run.command, a->run.command);
	assert_string_equal(b->path, "img");
	recording_free(a);
	recording_free(b);

	/* cut short, or not SQLite at all: not a recording, and nothing written anywhere */
	assert_int_equal(record_open_image(img, 1000, "cut", NULL, &b), -EPROTO);
	assert_int_equal(record_open_image("not sqlite", 10, "x", NULL, &b), -EPROTO);
	assert_int_equal(record_open_image("", 0, "empty", NULL, &b), -EPROTO);
}

static void bad_files(void **state)
{
	(void)state;
	char path[300];
	struct recording *rec;
	snprintf(path, sizeof(path), "%s/missing.db", dir);
	assert_int_equal(record_open(path, NULL, &rec), -ENOENT);

	snprintf(path, sizeof(path), "%s/garbage.db", dir);
	FILE *f = fopen(path, "w");
	for (int i = 0; i < 200; i++)
		fputs("this is not sqlite at all\n", f);
	fclose(f);
	assert_int_equal(record_open(path, NULL, &rec), -EPROTO);

	/* a valid SQLite file that is not ours */
	snprintf(path, sizeof(path), "%s/other.db", dir);
	sqlite3 *db;
	sqlite3_open(path, &db);
	sqlite3_exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1);", NULL, NULL, NULL);
	sqlite3_close(db);
	assert_int_equal(record_open(path, NULL, &rec), -EPROTO);

	/* from a newer headroom */
	snprintf(path, sizeof(path), "%s/newer.db", dir);
	struct run_info info;
	fill_info(&info);
	struct record *r;
	assert_int_equal(record_create(path, &info, &r), 0);
	assert_int_equal(record_finish(r, &info), 0);
	sqlite3_open(path, &db);
	sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
	sqlite3_close(db);
	assert_int_equal(record_open(path, NULL, &rec), -EPROTONOSUPPORT);

	/* an unwritable place */
	assert_int_equal(record_create("/nonexistent-dir/x.db", &info, &r), -ENOENT);
}

/* A write that fails mid-run (here: the file size limit, as a full disk would) stops the file at
 * one instant; every later sample is kept in memory, and the file plus memory is the whole run.
 * In a child: the limit applies to the whole process. */
#define FULL_SAMPLES 20000
static int full_child(const char *path)
{
	signal(SIGXFSZ, SIG_IGN); /* EFBIG from write() instead of a signal */
	struct run_info info;
	fill_info(&info);
	struct record *r;
	if (record_create(path, &info, &r) != 0)
		return 10;
	struct rlimit lim = {96 * 1024, 96 * 1024};
	if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
		return 11;
	int noticed_at = -1;
	for (int i = 0; i < FULL_SAMPLES; i++) {
		struct sample s;
		sample_clear(&s);
		s.t_ns = (int64_t)i * 1000000;
		s.rss = 1000 + i;
		record_push_sample(r, &s);
		if (i % 1000 == 999) {
			record_sync(r);
			if (noticed_at < 0 && record_write_failed(r, NULL) != 0)
				noticed_at = i;
		}
	}
	if (noticed_at < 0 || noticed_at >= FULL_SAMPLES - 1000)
		return 12; /* the failure must be visible during the run, not only at the end */
	int64_t stopped;
	record_write_failed(r, &stopped);
	struct record_unwritten u;
	int rc = record_finish_keep(r, &info, &u);
	if (rc == 0 || u.write_error == 0 || u.nsamples == 0 || u.stopped_t_ns != stopped)
		return 13;
	struct recording *rec;
	if (record_open(path, NULL, &rec) != 0)
		return 14;
	size_t in_file = rec->nsamples;
	if (rec->run.finished)
		return 15; /* a file that stops early must never read as a finished run */
	if (in_file > 0 && rec->t_ns[in_file - 1] != stopped)
		return 16; /* the file stops exactly where it says */
	if (recording_add_unwritten(rec, &u) != 0 || rec->nsamples != FULL_SAMPLES)
		return 17;
	const int64_t *rss = recording_column(rec, "rss");
	for (size_t i = 0; i < rec->nsamples; i++)
		if (rec->t_ns[i] != (int64_t)i * 1000000 || rss[i] != 1000 + (int64_t)i)
			return 18; /* the whole run, in order, nothing lost or doubled */
	bool event = false;
	for (size_t i = 0; i < rec->nevents; i++)
		event |= strcmp(rec->events[i].kind, "write_failed") == 0;
	recording_free(rec);
	record_unwritten_free(&u);
	return event ? 0 : 19;
}

static void write_failure_keeps_the_run(void **state)
{
	(void)state;
	char path[300];
	snprintf(path, sizeof(path), "%s/full.db", dir);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(full_child(path));
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roundtrip),
		cmocka_unit_test(sites_roundtrip),
		cmocka_unit_test(abandoned_recording_keeps_flushed_rows),
		cmocka_unit_test(bad_files),
		cmocka_unit_test(image_reads_as_the_file),
		cmocka_unit_test(write_failure_keeps_the_run),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
