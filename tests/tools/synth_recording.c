/* synth_recording: writes a recording of a known shape through the real writer (record_create,
 * record_push_*, record_finish), for the shell tests and the analysis bench.
 *
 *   synth_recording SHAPE OUT [--samples N] [--interval-ms MS] [--cgroup] [--oom] [--unfinished]
 *
 * Shapes (RSS unless said): startup (300 MiB for the first 5 %, then 80 MiB; `ready` event),
 * leak (50 MiB + 3 MiB/s, heap grows too), frag (RSS climbs to 200 MiB and stays while the live
 * heap falls back to 10 MiB), sawtooth (60 -> 160 MiB teeth every 5 s), spikes (80 MiB with a
 * 5 ms spike to 280 MiB every 5 s, seen only in the interval peak), flat (120 MiB), load
 * (100 MiB + 2 MiB per connection over stages of 10, 50, 10 connections), go (a Go program's GC
 * trace: the heap fills from 40 to 80 MiB in 2 s and a cycle brings it back, RSS 30 MiB above it;
 * each cycle's live heap, goal and its base in the row after it, the cycle count in every row, a
 * scavenger report every fifth cycle), jemalloc (a service's jemalloc page read once a second:
 * 100 MiB held from 10 % to 40 % of the run, then freed while jemalloc keeps 50 MiB of it
 * resident as dirty pages; 6 threads), empty (no samples).
 * Up to 100000 samples go through record_push_sample() in batches paced to the writer's flushes;
 * more (the million-sample bench) are appended after record_finish() in one SQLite transaction
 * with the same columns, so the bench does not wait minutes for its input.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "record.h"
#include "sample.h"

#define MiB (1024LL * 1024LL)

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static double noise(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (double)((rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0 - 0.5;
}

static int64_t conns_at(size_t i, size_t n)
{
	if (i < n / 10 || i >= n * 9 / 10)
		return 0;
	size_t k = (i - n / 10) * 3 / (n * 8 / 10);
	return k == 1 ? 50 : 10;
}

static sqlite3 *bulk_db;
static sqlite3_stmt *bulk_st;
static struct sample *bulk_rows;
static size_t bulk_n;

static int bulk_add(struct sample *rows, const struct sample *s)
{
	rows[bulk_n++] = *s;
	return 0;
}

/* Append the rows in one transaction, NULL for unknown, as record.c stores them. */
static int bulk_write(const char *path)
{
	char sql[4096];
	size_t off = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO samples (");
	int ncols = 0;
	for (; record_sample_columns[ncols]; ncols++)
		off += (size_t)snprintf(sql + off, sizeof(sql) - off, "%s%s", ncols ? ", " : "", record_sample_columns[ncols]);
	off += (size_t)snprintf(sql + off, sizeof(sql) - off, ") VALUES (");
	for (int c = 0; c < ncols; c++)
		off += (size_t)snprintf(sql + off, sizeof(sql) - off, "%s?", c ? ", " : "");
	snprintf(sql + off, sizeof(sql) - off, ")");
	if (sqlite3_open(path, &bulk_db) != SQLITE_OK || sqlite3_exec(bulk_db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(bulk_db, sql, -1, &bulk_st, NULL) != SQLITE_OK) {
		fprintf(stderr, "synth_recording: %s: %s\n", path, sqlite3_errmsg(bulk_db));
		return -1;
	}
	for (size_t i = 0; i < bulk_n; i++) {
		const int64_t *f = (const int64_t *)&bulk_rows[i];
		for (int c = 0; c < ncols; c++) {
			if (c > 0 && f[c] == HR_UNKNOWN)
				sqlite3_bind_null(bulk_st, c + 1);
			else
				sqlite3_bind_int64(bulk_st, c + 1, f[c]);
		}
		if (sqlite3_step(bulk_st) != SQLITE_DONE) {
			fprintf(stderr, "synth_recording: insert: %s\n", sqlite3_errmsg(bulk_db));
			return -1;
		}
		sqlite3_reset(bulk_st);
	}
	sqlite3_finalize(bulk_st);
	int rc = sqlite3_exec(bulk_db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(bulk_db);
	return rc == SQLITE_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: synth_recording SHAPE OUT [--samples N] [--interval-ms MS] [--cgroup] [--oom] [--unfinished]\n");
		return 2;
	}
	const char *shape = argv[1], *out = argv[2];
	size_t n = 600;
	int64_t interval = 100000000LL;
	int cgroup = 0, oom = 0, unfinished = 0;
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc)
			n = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--interval-ms") == 0 && i + 1 < argc)
			interval = (int64_t)(atof(argv[++i]) * 1e6);
		else if (strcmp(argv[i], "--cgroup") == 0)
			cgroup = 1;
		else if (strcmp(argv[i], "--oom") == 0)
			oom = 1;
		else if (strcmp(argv[i], "--unfinished") == 0)
			unfinished = 1;
		else {
			fprintf(stderr, "synth_recording: unknown argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (strcmp(shape, "empty") == 0)
		n = 0;
	struct run_info info;
	memset(&info, 0, sizeof(info));
	snprintf(info.mode, sizeof(info.mode), "run");
	snprintf(info.command, sizeof(info.command), "[\"synth\", \"%s\"]", shape);
	info.pid = 4242;
	info.limit_bytes = HR_UNKNOWN;
	info.interval_ns = interval;
	info.cgroup_version = cgroup ? 1 : 0;
	info.rss_peaks_exact = true;
	info.cg_peaks_exact = cgroup;
	int heap = strcmp(shape, "leak") == 0 || strcmp(shape, "frag") == 0;
	int go = strcmp(shape, "go") == 0, je = strcmp(shape, "jemalloc") == 0;
	snprintf(info.heap_mode, sizeof(info.heap_mode), "%s", heap ? "count" : go ? "gctrace" : je ? "metrics" : "off");
	snprintf(info.heap_status, sizeof(info.heap_status), "%s",
		 heap ? "available" : go ? "available: go runtime (GODEBUG=gctrace=1)"
		 : je ? "available: jemalloc (metrics http://127.0.0.1:8081/metrics)" : "disabled (--no-heap)");
	snprintf(info.version, sizeof(info.version), "synth");
	info.exit_code = -1;

	struct record *r;
	int rc = record_create(out, &info, &r);
	if (rc < 0) {
		fprintf(stderr, "synth_recording: %s: %s\n", out, record_strerror(rc));
		return 1;
	}
	record_push_event(r, 0, "start", 4242, NULL);
	if (strcmp(shape, "startup") == 0)
		record_push_event(r, (int64_t)(n / 20) * interval, "ready", 0, "127.0.0.1:8080");
	if (strcmp(shape, "load") == 0) {
		for (int s = 0; s < 3; s++)
			record_push_event(r, (int64_t)(n / 10 + (size_t)s * (n * 8 / 10) / 3) * interval, "stage", s, NULL);
		for (int64_t sec = 1; sec * 1000000000LL <= (int64_t)n * interval; sec++) {
			size_t i = (size_t)(sec * 1000000000LL / interval) - 1;
			if (conns_at(i, n) == 0)
				continue;
			struct load_row row = {.t_ns = sec * 1000000000LL, .stage = conns_at(i, n) == 50 ? 1 : (i < n / 2 ? 0 : 2),
					       .connections = conns_at(i, n), .requests = 1000, .inflight = conns_at(i, n)};
			record_push_load(r, &row);
		}
	}
	struct sample *bulk = NULL;
	if (n > 100000) {
		bulk = bulk_rows = malloc(n * sizeof(struct sample));
		if (!bulk)
			return 1;
	}
	int64_t teeth = 5000000000LL / interval > 2 ? 5000000000LL / interval : 2;
	int64_t cycle = 2000000000LL / interval > 2 ? 2000000000LL / interval : 2;   /* go: samples per GC cycle */
	int64_t poll = 1000000000LL / interval > 1 ? 1000000000LL / interval : 1;    /* jemalloc: samples per page read */
	int64_t cycles = 0, je_t = HR_UNKNOWN;
	struct sample je_last;
	sample_clear(&je_last);
	for (size_t i = 0; i < n; i++) {
		struct sample s;
		sample_clear(&s);
		s.t_ns = (int64_t)i * interval;
		s.nprocs = 1;
		s.threads = 1;
		double t = (double)s.t_ns / 1e9;
		double rss = 0, pk = -1;
		int64_t heap_live = HR_UNKNOWN;
		if (strcmp(shape, "startup") == 0) {
			rss = (i < n / 20 ? 300 : 80) * MiB + noise() * 512 * 1024;
		} else if (strcmp(shape, "leak") == 0) {
			rss = 50 * MiB + t * 3 * MiB + noise() * 2 * MiB;
			heap_live = 20 * MiB + (int64_t)(t * 3 * MiB);
		} else if (strcmp(shape, "frag") == 0) {
			double ramp = i < n / 20 ? (double)i / (double)(n / 20) : 1;
			rss = (20 + 180 * ramp) * MiB + noise() * 256 * 1024;
			heap_live = i < n / 20 ? (int64_t)((10 + 180 * ramp) * MiB) : 10 * MiB;
			if (i % 50 == 49)
				s.map_anon = (int64_t)rss - 6 * MiB;
			if (i % 50 == 49) {
				s.map_code = 4 * MiB;
				s.map_stacks = 256 * 1024;
				s.map_files = 1 * MiB;
				s.map_other = 8192;
				s.map_shmem = 0;
			}
		} else if (strcmp(shape, "sawtooth") == 0) {
			rss = 60 * MiB + (double)((int64_t)i % teeth) / (double)teeth * 100 * MiB + noise() * 512 * 1024;
		} else if (strcmp(shape, "spikes") == 0) {
			rss = 80 * MiB + noise() * 256 * 1024;
			if ((int64_t)i % teeth == teeth / 2)
				pk = 280 * MiB;
		} else if (strcmp(shape, "load") == 0) {
			rss = 100 * MiB + (double)conns_at(i, n) * 2 * MiB + noise() * 512 * 1024;
		} else if (go) {
			int64_t k = (int64_t)i % cycle;
			rss = 30 * MiB + 40 * MiB + (double)k / (double)(cycle - 1) * 40 * MiB + noise() * 256 * 1024;
			if (k == 0 && i > 0) {
				/* the row after a cycle: what it marked live, the goal it set, the goal's base */
				cycles++;
				s.heap_live = s.heap_live_peak = 40 * MiB;
				s.heap_goal = 80 * MiB;
				s.heap_goal_base = cycles > 1 ? 40 * MiB : HR_UNKNOWN;
				s.heap_t_ns = s.t_ns - 30000000LL;
				if (cycles % 5 == 0)
					s.heap_released = cycles / 5 * 4 * MiB;
			}
			if (cycles)
				s.gc_cycles = cycles;
			s.threads = 8;
		} else if (je) {
			/* the page's figures, read once a second and put into every row until the next */
			bool held = i >= n / 10 && i < n * 4 / 10;
			if ((int64_t)i % poll == 0) {
				int64_t alloc = (held ? 102 : 2) * MiB;
				int64_t resident = held ? 106 * MiB : i < n / 10 ? 6 * MiB : 56 * MiB;
				je_last.heap_live = alloc;
				je_last.alloc_active = alloc + 512 * 1024;
				je_last.alloc_resident = resident;
				je_last.alloc_retained = (i < n * 4 / 10 ? 8 : 58) * MiB;
				je_last.alloc_metadata = 3 * MiB;
				je_t = s.t_ns - 20000000LL;
			}
			s.heap_live = je_last.heap_live;
			s.heap_held = je_last.alloc_resident - je_last.heap_live;
			s.alloc_active = je_last.alloc_active;
			s.alloc_resident = je_last.alloc_resident;
			s.alloc_retained = je_last.alloc_retained;
			s.alloc_metadata = je_last.alloc_metadata;
			s.heap_t_ns = je_t >= 0 ? je_t : HR_UNKNOWN;
			rss = (held ? 110 : i < n / 10 ? 10 : 60) * MiB + noise() * 256 * 1024;
			s.threads = 6;
		} else {
			rss = 120 * MiB + noise() * 512 * 1024;
		}
		s.rss = (int64_t)rss;
		s.rss_anon = s.rss - 8 * MiB;
		s.rss_file = 8 * MiB;
		s.rss_peak = pk > rss ? (int64_t)pk : s.rss;
		if (!go && !je)
			s.heap_live = heap_live;
		if (cgroup) {
			s.cg_inactive_file = 4 * MiB;
			s.cg_usage = s.rss + 6 * MiB;
			s.cg_usage_peak = s.rss_peak + 6 * MiB;
			s.cg_working_set = s.cg_usage - s.cg_inactive_file;
			s.cg_file = 6 * MiB;
			s.cg_oom_kills = oom && i + 1 == n ? 1 : 0;
			s.cg_limit_hits = 0;
		}
		if (bulk) {
			if (bulk_add(bulk, &s) < 0)
				return 1;
			continue;
		}
		record_push_sample(r, &s);
		if ((i + 1) % (RECORD_BATCH_MAX / 2) == 0) {
			/* let the writer take the batch: it swaps every RECORD_FLUSH_MS */
			struct timespec ts = {0, (RECORD_FLUSH_MS + 20) * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	if (unfinished) {
		record_abandon(r);
		return bulk && bulk_write(out) < 0 ? 1 : 0;
	}
	struct run_info end = info;
	end.duration_ns = n ? (int64_t)(n - 1) * interval : 0;
	end.exit_code = oom ? -1 : 0;
	end.exit_signal = oom ? 9 : 0;
	end.oom_killed = oom;
	end.finished = true;
	if (oom)
		record_push_event(r, end.duration_ns, "oom_kill", 1, NULL);
	rc = record_finish(r, &end);
	if (rc < 0) {
		fprintf(stderr, "synth_recording: finishing %s: %s\n", out, record_strerror(rc));
		return 1;
	}
	if (bulk && bulk_write(out) < 0)
		return 1;
	free(bulk);
	return 0;
}
