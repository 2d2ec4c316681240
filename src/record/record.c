#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Column names in the order of struct sample's fields (all int64_t). */
const char *const record_sample_columns[] = {
	"t_ns", "nprocs", "threads", "rss", "rss_anon", "rss_file", "rss_shmem", "swap", "rss_peak", "pss",
	"map_anon", "map_stacks", "map_code", "map_files", "map_shmem", "map_other",
	"cg_usage", "cg_usage_peak", "cg_limit", "cg_working_set", "cg_inactive_file", "cg_active_file",
	"cg_anon", "cg_file", "cg_shmem", "cg_oom_kills", "cg_limit_hits",
	"heap_live", "heap_held", "heap_mmapped", "heap_allocs", "heap_frees", "heap_live_peak",
	"heap_t_ns", "heap_goal", "heap_goal_base", "gc_cycles", "heap_released",
	"alloc_active", "alloc_resident", "alloc_retained", "alloc_metadata", NULL,
};
#define NCOLS ((int)(sizeof(struct sample) / sizeof(int64_t)))
_Static_assert(sizeof(record_sample_columns) / sizeof(record_sample_columns[0]) ==
		       sizeof(struct sample) / sizeof(int64_t) + 1,
	       "record_sample_columns must name every field of struct sample");

#define EVENTS_MAX 256
/* No recording lasts ten years: an instant beyond it (or before 0) is corruption, refused at
 * open (-EPROTO) so no analysis ever does arithmetic on it. */
#define RECORD_T_MAX (10LL * 366 * 24 * 3600 * 1000000000LL)
#define LOADS_MAX 64
#define SITES_BATCH_MAX 4096        /* new sites per flush (a collection adds at most a few hundred) */
#define SITE_SAMPLES_BATCH_MAX 16384
/* read back: beyond these a recording is cut (a note says so), not loaded whole */
#define SITES_READ_MAX 200000
#define SITE_SAMPLES_READ_MAX 4000000

struct pending_site {
	int64_t site, pid;
	int nframes;
	struct {
		int64_t pc, offset;
		char *module, *build_id;
	} f[RECORD_SITE_FRAMES];
};

struct batch {
	struct sample *samples;
	size_t nsamples;
	struct record_event events[EVENTS_MAX];
	size_t nevents;
	struct load_row loads[LOADS_MAX];
	size_t nloads;
	struct pending_site **sites;     /* SITES_BATCH_MAX, allocated with the first site */
	size_t nsites;
	struct record_site_sample *ssamples;   /* SITE_SAMPLES_BATCH_MAX, likewise */
	size_t nssamples;
};

struct record {
	sqlite3 *db;
	sqlite3_stmt *ins_sample, *ins_event, *ins_load;
	sqlite3_stmt *ins_site, *ins_frame, *ins_ssample;   /* once the sites tables exist */
	bool sites_tables;
	bool sites_meta;
	int64_t sites_interval;
	char sites_note[256];
	pthread_t writer;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_cond_t written_cond;
	uint64_t written;       /* batches the writer has finished */
	bool stopping;
	bool writer_started;
	struct batch filling;   /* pushes go here, under lock */
	struct batch writing;   /* the writer thread's, outside the lock */
	int64_t dropped;
	int write_error;        /* first SQLite error of the writer, as -errno-ish */
	/* once a write failed, nothing more goes to the file (one clear instant where it stops):
	 * rows go to `kept` instead, touched only by the writer (and by finish after the join) */
	bool failed;
	int64_t committed_t;    /* t_ns of the last sample in the file, -1 when none */
	/* the checkpointer: its own connection and thread, so the fsyncs of a checkpoint never hold
	 * up the writer's commits (seen: 2 s without a commit on a loaded machine when they did) */
	sqlite3 *ckpt_db;
	pthread_t ckpt;
	bool ckpt_started;
	struct sample *kept;
	size_t nkept;
	int64_t kept_dropped;
	struct record_event kept_events[EVENTS_MAX];
	size_t nkept_events;
};

static const char *schema_sql =
	"CREATE TABLE run ("
	" id INTEGER PRIMARY KEY CHECK (id = 1), mode TEXT NOT NULL, command TEXT NOT NULL, pid INTEGER,"
	" limit_bytes INTEGER, interval_ns INTEGER NOT NULL, cgroup_version INTEGER NOT NULL,"
	" cgroup_path TEXT, rss_peaks_exact INTEGER NOT NULL, cg_peaks_exact INTEGER NOT NULL,"
	" heap_mode TEXT, heap_status TEXT, kernel TEXT, host TEXT, headroom_version TEXT,"
	" schema_version INTEGER NOT NULL, started_wall_ns INTEGER NOT NULL, duration_ns INTEGER,"
	" exit_code INTEGER, exit_signal INTEGER, oom_killed INTEGER, finished INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE events (t_ns INTEGER NOT NULL, kind TEXT NOT NULL, value INTEGER, detail TEXT);"
	"CREATE TABLE load (t_ns INTEGER NOT NULL, stage INTEGER, connections INTEGER, requests INTEGER,"
	" inflight INTEGER, errors INTEGER, p50_us INTEGER, p99_us INTEGER, max_us INTEGER);";

static int sqlite_err(int rc)
{
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_CANTOPEN:
		return -EACCES;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return -EPROTO;
	default:
		return -EIO;
	}
}

const char *record_strerror(int err)
{
	switch (err) {
	case -EEXIST:
		return "the file exists (headroom never overwrites a recording: choose another --record path)";
	case -ENOENT:
		return "no such file";
	case -EACCES:
		return "permission denied or the directory does not exist";
	case -EPROTO:
		return "not a headroom recording, or the file is corrupt";
	case -EPROTONOSUPPORT:
		return "the recording was made by a newer headroom (newer schema): upgrade headroom to read it";
	case -ENOSPC:
		return "disk full";
	case -ENOMEM:
		return "out of memory";
	case -ENODATA:
		return "the recording has no run information (it was cut short before its first write)";
	default:
		return strerror(-err);
	}
}

static int exec_sql(sqlite3 *db, const char *sql)
{
	return sqlite_err(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

static void bind_i64_or_null(sqlite3_stmt *st, int idx, int64_t v)
{
	if (v == HR_UNKNOWN)
		sqlite3_bind_null(st, idx);
	else
		sqlite3_bind_int64(st, idx, v);
}

static void pending_site_free(struct pending_site *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->nframes; i++) {
		free(p->f[i].module);
		free(p->f[i].build_id);
	}
	free(p);
}

static void batch_sites_clear(struct batch *b)
{
	for (size_t i = 0; i < b->nsites; i++)
		pending_site_free(b->sites[i]);
	b->nsites = b->nssamples = 0;
}

static const char *sites_schema_sql =
	"CREATE TABLE IF NOT EXISTS heap_sites (site INTEGER PRIMARY KEY, pid INTEGER NOT NULL, frames INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS heap_site_frames (site INTEGER NOT NULL, depth INTEGER NOT NULL, pc INTEGER NOT NULL,"
	" module TEXT, build_id TEXT, offset INTEGER, function TEXT, file TEXT, line INTEGER, PRIMARY KEY (site, depth));"
	"CREATE TABLE IF NOT EXISTS heap_site_samples (t_ns INTEGER NOT NULL, site INTEGER NOT NULL,"
	" live_bytes INTEGER NOT NULL, live_objects INTEGER NOT NULL, alloc_bytes INTEGER NOT NULL,"
	" alloc_objects INTEGER NOT NULL);"
	"ALTER TABLE run ADD COLUMN heap_sample_interval INTEGER;"
	"ALTER TABLE run ADD COLUMN heap_sites_note TEXT;";

/* the sites tables, inside the batch's transaction, with the first site */
static int sites_tables(struct record *r)
{
	if (r->sites_tables)
		return 0;
	int rc = exec_sql(r->db, sites_schema_sql);
	if (rc == 0)
		rc = sqlite_err(sqlite3_prepare_v2(r->db, "INSERT OR REPLACE INTO heap_sites VALUES (?,?,?)", -1,
						   &r->ins_site, NULL));
	if (rc == 0)
		rc = sqlite_err(sqlite3_prepare_v2(r->db, "INSERT OR REPLACE INTO heap_site_frames VALUES "
							  "(?,?,?,?,?,?,NULL,NULL,NULL)", -1, &r->ins_frame, NULL));
	if (rc == 0)
		rc = sqlite_err(sqlite3_prepare_v2(r->db, "INSERT INTO heap_site_samples VALUES (?,?,?,?,?,?)", -1,
						   &r->ins_ssample, NULL));
	if (rc == 0)
		r->sites_tables = true;
	return rc;
}

static void bind_text_or_null(sqlite3_stmt *st, int idx, const char *v)
{
	if (v)
		sqlite3_bind_text(st, idx, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, idx);
}

static int write_sites(struct record *r, struct batch *b)
{
	int rc = sites_tables(r);
	for (size_t i = 0; i < b->nsites && rc == 0; i++) {
		const struct pending_site *p = b->sites[i];
		sqlite3_bind_int64(r->ins_site, 1, p->site);
		sqlite3_bind_int64(r->ins_site, 2, p->pid);
		sqlite3_bind_int(r->ins_site, 3, p->nframes);
		rc = sqlite_err(sqlite3_step(r->ins_site));
		sqlite3_reset(r->ins_site);
		for (int d = 0; d < p->nframes && rc == 0; d++) {
			sqlite3_bind_int64(r->ins_frame, 1, p->site);
			sqlite3_bind_int(r->ins_frame, 2, d);
			sqlite3_bind_int64(r->ins_frame, 3, p->f[d].pc);
			bind_text_or_null(r->ins_frame, 4, p->f[d].module);
			bind_text_or_null(r->ins_frame, 5, p->f[d].build_id);
			bind_i64_or_null(r->ins_frame, 6, p->f[d].offset);
			rc = sqlite_err(sqlite3_step(r->ins_frame));
			sqlite3_reset(r->ins_frame);
		}
	}
	for (size_t i = 0; i < b->nssamples && rc == 0; i++) {
		const int64_t *f = (const int64_t *)&b->ssamples[i];
		for (int c = 0; c < 6; c++)
			sqlite3_bind_int64(r->ins_ssample, c + 1, f[c]);
		rc = sqlite_err(sqlite3_step(r->ins_ssample));
		sqlite3_reset(r->ins_ssample);
	}
	return rc;
}

static int write_batch(struct record *r, struct batch *b)
{
	if (b->nsamples == 0 && b->nevents == 0 && b->nloads == 0 && b->nsites == 0 && b->nssamples == 0)
		return 0;
	int rc = exec_sql(r->db, "BEGIN");
	if (rc < 0)
		return rc;
	if (b->nsites || b->nssamples)
		rc = write_sites(r, b);
	for (size_t i = 0; i < b->nsamples && rc == 0; i++) {
		const int64_t *f = (const int64_t *)&b->samples[i];
		for (int c = 0; c < NCOLS; c++)
			bind_i64_or_null(r->ins_sample, c + 1, f[c]);
		rc = sqlite_err(sqlite3_step(r->ins_sample));
		sqlite3_reset(r->ins_sample);
	}
	for (size_t i = 0; i < b->nevents && rc == 0; i++) {
		const struct record_event *e = &b->events[i];
		sqlite3_bind_int64(r->ins_event, 1, e->t_ns);
		sqlite3_bind_text(r->ins_event, 2, e->kind, -1, SQLITE_STATIC);
		bind_i64_or_null(r->ins_event, 3, e->value);
		if (e->detail[0])
			sqlite3_bind_text(r->ins_event, 4, e->detail, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(r->ins_event, 4);
		rc = sqlite_err(sqlite3_step(r->ins_event));
		sqlite3_reset(r->ins_event);
	}
	for (size_t i = 0; i < b->nloads && rc == 0; i++) {
		const int64_t *f = (const int64_t *)&b->loads[i];
		for (int c = 0; c < (int)(sizeof(struct load_row) / sizeof(int64_t)); c++)
			bind_i64_or_null(r->ins_load, c + 1, f[c]);
		rc = sqlite_err(sqlite3_step(r->ins_load));
		sqlite3_reset(r->ins_load);
	}
	int rc2 = exec_sql(r->db, rc == 0 ? "COMMIT" : "ROLLBACK");
	return rc ? rc : rc2;
}

static void keep_batch(struct record *r, const struct batch *b)
{
	if (!r->kept && b->nsamples)
		r->kept = malloc(RECORD_KEEP_MAX * sizeof(struct sample));
	for (size_t i = 0; i < b->nsamples; i++) {
		if (r->kept && r->nkept < RECORD_KEEP_MAX)
			r->kept[r->nkept++] = b->samples[i];
		else
			r->kept_dropped++;
	}
	for (size_t i = 0; i < b->nevents && r->nkept_events < EVENTS_MAX; i++)
		r->kept_events[r->nkept_events++] = b->events[i];
}

/* Write a batch, or keep it in memory once writing has failed; the batch is empty afterwards.
 * Runs on the writer thread, or on the caller's after the writer was joined. */
static void handle_batch(struct record *r, struct batch *b)
{
	if (!r->failed) {
		int rc = write_batch(r, b);
		pthread_mutex_lock(&r->lock);
		if (rc == 0 && b->nsamples)
			r->committed_t = b->samples[b->nsamples - 1].t_ns;
		if (rc < 0) {
			r->failed = true;
			if (r->write_error == 0)
				r->write_error = rc;
		}
		pthread_mutex_unlock(&r->lock);
	}
	if (r->failed)
		keep_batch(r, b);
	b->nsamples = b->nevents = b->nloads = 0;
	batch_sites_clear(b);
}

static void *writer_main(void *arg)
{
	struct record *r = arg;
	pthread_mutex_lock(&r->lock);
	for (;;) {
		bool stop = r->stopping;
		if (!stop) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += RECORD_FLUSH_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec += 1;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&r->wake, &r->lock, &ts);
			stop = r->stopping;
		}
		/* swap buffers: the pushers continue into the empty one while we write */
		struct batch tmp = r->writing;
		r->writing = r->filling;
		r->filling = tmp;
		pthread_mutex_unlock(&r->lock);
		handle_batch(r, &r->writing);
		pthread_mutex_lock(&r->lock);
		r->written++;
		pthread_cond_broadcast(&r->written_cond);
		if (stop)
			break;
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static void *ckpt_main(void *arg)
{
	struct record *r = arg;
	pthread_mutex_lock(&r->lock);
	while (!r->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += RECORD_CHECKPOINT_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&r->wake, &r->lock, &ts);
		if (r->stopping || r->failed)
			break;
		pthread_mutex_unlock(&r->lock);
		/* PASSIVE: waits for no one, and a failure leaves the rows safe in the WAL */
		sqlite3_wal_checkpoint_v2(r->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static int prepare_inserts(struct record *r)
{
	char sql[2048];
	size_t off = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO samples VALUES (");
	for (int c = 0; c < NCOLS; c++)
		off += (size_t)snprintf(sql + off, sizeof(sql) - off, c ? ",?" : "?");
	snprintf(sql + off, sizeof(sql) - off, ")");
	int rc = sqlite3_prepare_v2(r->db, sql, -1, &r->ins_sample, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(r->db, "INSERT INTO events VALUES (?,?,?,?)", -1, &r->ins_event, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(r->db, "INSERT INTO load VALUES (?,?,?,?,?,?,?,?,?)", -1, &r->ins_load, NULL);
	return sqlite_err(rc);
}

static int write_run_row(sqlite3 *db, const struct run_info *in, bool insert, bool finished)
{
	const char *sql = insert
		? "INSERT INTO run (id, mode, command, pid, limit_bytes, interval_ns, cgroup_version, cgroup_path,"
		  " rss_peaks_exact, cg_peaks_exact, heap_mode, heap_status, kernel, host, headroom_version,"
		  " schema_version, started_wall_ns, finished) VALUES (1,?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,0)"
		: "UPDATE run SET mode=?1, command=?2, pid=?3, limit_bytes=?4, interval_ns=?5, cgroup_version=?6,"
		  " cgroup_path=?7, rss_peaks_exact=?8, cg_peaks_exact=?9, heap_mode=?10, heap_status=?11,"
		  " duration_ns=?17, exit_code=?18, exit_signal=?19, oom_killed=?20, finished=?21 WHERE id=1";
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sqlite_err(rc);
	sqlite3_bind_text(st, 1, in->mode, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, in->command, -1, SQLITE_STATIC);
	bind_i64_or_null(st, 3, in->pid);
	bind_i64_or_null(st, 4, in->limit_bytes);
	sqlite3_bind_int64(st, 5, in->interval_ns);
	sqlite3_bind_int(st, 6, in->cgroup_version);
	sqlite3_bind_text(st, 7, in->cgroup_path, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 8, in->rss_peaks_exact);
	sqlite3_bind_int(st, 9, in->cg_peaks_exact);
	sqlite3_bind_text(st, 10, in->heap_mode, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, in->heap_status, -1, SQLITE_STATIC);
	if (insert) {
		sqlite3_bind_text(st, 12, in->kernel, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 13, in->host, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 14, in->version, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 15, RECORD_SCHEMA_VERSION);
		sqlite3_bind_int64(st, 16, in->started_wall_ns);
	} else {
		sqlite3_bind_int64(st, 17, in->duration_ns);
		if (in->exit_code >= 0)
			sqlite3_bind_int(st, 18, in->exit_code);
		else
			sqlite3_bind_null(st, 18);
		sqlite3_bind_int(st, 19, in->exit_signal);
		sqlite3_bind_int(st, 20, in->oom_killed);
		sqlite3_bind_int(st, 21, finished);
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return sqlite_err(rc);
}

static void record_free(struct record *r)
{
	if (!r)
		return;
	sqlite3_finalize(r->ins_sample);
	sqlite3_finalize(r->ins_event);
	sqlite3_finalize(r->ins_load);
	sqlite3_finalize(r->ins_site);
	sqlite3_finalize(r->ins_frame);
	sqlite3_finalize(r->ins_ssample);
	batch_sites_clear(&r->filling);
	batch_sites_clear(&r->writing);
	free(r->filling.sites);
	free(r->writing.sites);
	free(r->filling.ssamples);
	free(r->writing.ssamples);
	if (r->ckpt_db)
		sqlite3_close(r->ckpt_db);
	if (r->db)
		sqlite3_close(r->db);
	free(r->filling.samples);
	free(r->writing.samples);
	free(r->kept);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->wake);
	pthread_cond_destroy(&r->written_cond);
	free(r);
}

/* Remove the first `n` of FILE, FILE-wal, FILE-shm (the ones record_create made). */
static void rc_sides_unlink(const char *path, int n)
{
	static const char *const sides[] = {"", "-wal", "-shm"};
	for (int i = 0; i < n && i < 3; i++) {
		char side[4200];
		snprintf(side, sizeof(side), "%s%s", path, sides[i]);
		unlink(side);
	}
}

int record_create(const char *path, const struct run_info *info, struct record **ret)
{
	/* O_EXCL: never overwrite a recording, never follow a planted symlink, and fail early on an
	 * unwritable directory. SQLite opens FILE-wal and FILE-shm by name later: they are created
	 * here the same way, so a name planted by another user (in /tmp, say) fails the run instead of
	 * being written through. */
	static const char *const sides[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		char side[4200];
		if (snprintf(side, sizeof(side), "%s%s", path, sides[i]) >= (int)sizeof(side)) {
			rc_sides_unlink(path, i);
			return -ENAMETOOLONG;
		}
		int fd = open(side, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0) {
			int e = -errno;
			rc_sides_unlink(path, i);
			return e;
		}
		close(fd);
	}

	struct record *r = calloc(1, sizeof(*r));
	if (!r) {
		rc_sides_unlink(path, 3);
		return -ENOMEM;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	pthread_cond_init(&r->written_cond, NULL);
	r->committed_t = -1;
	r->filling.samples = malloc(RECORD_BATCH_MAX * sizeof(struct sample));
	r->writing.samples = malloc(RECORD_BATCH_MAX * sizeof(struct sample));
	int rc = -ENOMEM;
	if (!r->filling.samples || !r->writing.samples)
		goto fail;
	rc = sqlite_err(sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL));
	if (rc < 0)
		goto fail;
	sqlite3_busy_timeout(r->db, 2000);
	char sql[4096];
	size_t off = (size_t)snprintf(sql, sizeof(sql), "%s CREATE TABLE samples (", schema_sql);
	for (int c = 0; c < NCOLS; c++)
		off += (size_t)snprintf(sql + off, sizeof(sql) - off, "%s%s INTEGER%s", c ? ", " : "",
					record_sample_columns[c], c == 0 ? " NOT NULL" : "");
	snprintf(sql + off, sizeof(sql) - off, "); PRAGMA user_version = %d;", RECORD_SCHEMA_VERSION);
	/* the writer only appends: a small page cache keeps headroom's own RSS flat */
	rc = exec_sql(r->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -256;"
			     " PRAGMA wal_autocheckpoint = 0;");
	/* the schema and the run row in one transaction: a recording cut short during its creation is
	 * either empty or whole, never a schema without its run */
	if (rc == 0)
		rc = exec_sql(r->db, "BEGIN");
	if (rc == 0)
		rc = exec_sql(r->db, sql);
	if (rc == 0)
		rc = write_run_row(r->db, info, true, false);
	if (rc == 0)
		rc = exec_sql(r->db, "COMMIT");
	if (rc == 0)
		rc = prepare_inserts(r);
	if (rc < 0)
		goto fail;
	/* The writer starts with every signal blocked: a thread inherits its creator's mask, and a
	 * caller that blocks SIGCHLD/SIGTERM later (to read them from a signalfd) would otherwise
	 * lose them to this thread, whose default action for SIGCHLD is to discard it. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int prc = pthread_create(&r->writer, NULL, writer_main, r);
	if (prc == 0) {
		r->writer_started = true;
		/* without the checkpointer the WAL still holds every row: a recording, only in two files */
		if (sqlite3_open_v2(path, &r->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) == SQLITE_OK) {
			sqlite3_busy_timeout(r->ckpt_db, 100);
			/* a connection learns the file is in WAL mode on its first read; before it, a
			 * checkpoint through it is a silent no-op */
			exec_sql(r->ckpt_db, "SELECT count(*) FROM sqlite_master");
			r->ckpt_started = pthread_create(&r->ckpt, NULL, ckpt_main, r) == 0;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (prc != 0) {
		rc = -EAGAIN;
		goto fail;
	}
	*ret = r;
	return 0;
fail:
	record_free(r);
	rc_sides_unlink(path, 3);
	return rc;
}

void record_push_sample(struct record *r, const struct sample *s)
{
	pthread_mutex_lock(&r->lock);
	if (r->filling.nsamples < RECORD_BATCH_MAX)
		r->filling.samples[r->filling.nsamples++] = *s;
	else
		r->dropped++;
	pthread_mutex_unlock(&r->lock);
}

void record_push_event(struct record *r, int64_t t_ns, const char *kind, int64_t value, const char *detail)
{
	pthread_mutex_lock(&r->lock);
	if (r->filling.nevents < EVENTS_MAX) {
		struct record_event *e = &r->filling.events[r->filling.nevents++];
		e->t_ns = t_ns;
		snprintf(e->kind, sizeof(e->kind), "%s", kind);
		e->value = value;
		snprintf(e->detail, sizeof(e->detail), "%s", detail ? detail : "");
	} else {
		r->dropped++;
	}
	pthread_mutex_unlock(&r->lock);
}

void record_push_load(struct record *r, const struct load_row *row)
{
	pthread_mutex_lock(&r->lock);
	if (r->filling.nloads < LOADS_MAX)
		r->filling.loads[r->filling.nloads++] = *row;
	else
		r->dropped++;
	pthread_mutex_unlock(&r->lock);
}

void record_push_site(struct record *r, int64_t site, int64_t pid, int nframes, const struct record_new_frame *frames)
{
	if (nframes < 0 || nframes > RECORD_SITE_FRAMES || site < 1)
		return;
	struct pending_site *p = calloc(1, sizeof(*p));
	bool ok = p != NULL;
	if (ok) {
		p->site = site;
		p->pid = pid;
		p->nframes = nframes;
		for (int i = 0; i < nframes; i++) {
			p->f[i].pc = frames[i].pc;
			p->f[i].offset = frames[i].offset;
			p->f[i].module = frames[i].module ? strdup(frames[i].module) : NULL;
			p->f[i].build_id = frames[i].build_id ? strdup(frames[i].build_id) : NULL;
			ok = ok && (!frames[i].module || p->f[i].module) && (!frames[i].build_id || p->f[i].build_id);
		}
	}
	pthread_mutex_lock(&r->lock);
	if (ok && !r->filling.sites)
		r->filling.sites = malloc(SITES_BATCH_MAX * sizeof(*r->filling.sites));
	if (ok && r->filling.sites && r->filling.nsites < SITES_BATCH_MAX) {
		r->filling.sites[r->filling.nsites++] = p;
		p = NULL;
	} else {
		r->dropped++;
	}
	pthread_mutex_unlock(&r->lock);
	pending_site_free(p);
}

void record_push_site_sample(struct record *r, const struct record_site_sample *row)
{
	pthread_mutex_lock(&r->lock);
	if (!r->filling.ssamples)
		r->filling.ssamples = malloc(SITE_SAMPLES_BATCH_MAX * sizeof(*r->filling.ssamples));
	if (r->filling.ssamples && r->filling.nssamples < SITE_SAMPLES_BATCH_MAX)
		r->filling.ssamples[r->filling.nssamples++] = *row;
	else
		r->dropped++;
	pthread_mutex_unlock(&r->lock);
}

void record_set_sites_meta(struct record *r, int64_t interval, const char *note)
{
	pthread_mutex_lock(&r->lock);
	r->sites_meta = true;
	r->sites_interval = interval;
	snprintf(r->sites_note, sizeof(r->sites_note), "%s", note ? note : "");
	pthread_mutex_unlock(&r->lock);
}

void record_sync(struct record *r)
{
	pthread_mutex_lock(&r->lock);
	/* the batch being written now may predate our rows: wait for the one after it */
	uint64_t want = r->written + 2;
	while (r->writer_started && r->written < want) {
		pthread_cond_broadcast(&r->wake); /* the checkpointer waits on it too */
		pthread_cond_wait(&r->written_cond, &r->lock);
	}
	pthread_mutex_unlock(&r->lock);
}

int64_t record_dropped(const struct record *r)
{
	return r->dropped;
}

int record_write_failed(struct record *r, int64_t *ret_stopped_t_ns)
{
	pthread_mutex_lock(&r->lock);
	int rc = r->failed ? (r->write_error ? r->write_error : -EIO) : 0;
	if (ret_stopped_t_ns)
		*ret_stopped_t_ns = r->committed_t;
	pthread_mutex_unlock(&r->lock);
	return rc;
}

void record_unwritten_free(struct record_unwritten *u)
{
	if (!u)
		return;
	free(u->samples);
	free(u->events);
	memset(u, 0, sizeof(*u));
}

static void stop_writer(struct record *r)
{
	if (!r->writer_started)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_broadcast(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->writer, NULL);
	r->writer_started = false;
	if (r->ckpt_started)
		pthread_join(r->ckpt, NULL);
	r->ckpt_started = false;
	/* leaving WAL mode at finish needs the only connection */
	if (r->ckpt_db)
		sqlite3_close(r->ckpt_db);
	r->ckpt_db = NULL;
	/* whatever was pushed after the writer's last swap */
	handle_batch(r, &r->filling);
}

int record_finish_keep(struct record *r, const struct run_info *end, struct record_unwritten *ret)
{
	if (ret)
		memset(ret, 0, sizeof(*ret));
	if (r->dropped > 0) {
		char d[64];
		snprintf(d, sizeof(d), "%lld rows dropped: the disk could not keep up", (long long)r->dropped);
		record_push_event(r, end->duration_ns, "dropped", r->dropped, d);
	}
	stop_writer(r);
	int rc = r->write_error;
	if (!r->failed && r->sites_tables && r->sites_meta) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(r->db, "UPDATE run SET heap_sample_interval = ?1, heap_sites_note = ?2 WHERE id = 1",
				       -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, r->sites_interval);
			bind_text_or_null(st, 2, r->sites_note[0] ? r->sites_note : NULL);
			sqlite3_step(st);
			sqlite3_finalize(st);
		}
	}
	if (!r->failed) {
		rc = write_run_row(r->db, end, false, true);
	} else {
		/* say where the file stops, if the disk takes these few bytes; if not, the run row
		 * still says "not finished", which every view reports */
		struct record_event e = {.t_ns = r->committed_t, .value = rc};
		snprintf(e.kind, sizeof(e.kind), "write_failed");
		snprintf(e.detail, sizeof(e.detail), "writing the recording failed (%s): samples after this instant are not in the file",
			 record_strerror(rc));
		struct batch *one = calloc(1, sizeof(*one)); /* 80 KiB: not on the stack */
		if (one) {
			one->nevents = 1;
			one->events[0] = e;
			if (write_batch(r, one) == 0)
				write_run_row(r->db, end, false, false);
			free(one);
		}
		if (r->nkept_events < EVENTS_MAX)
			r->kept_events[r->nkept_events++] = e;
	}
	/* fold the WAL back so a single file can be copied or attached to a ticket */
	sqlite3_wal_checkpoint_v2(r->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	exec_sql(r->db, "PRAGMA journal_mode = DELETE");
	if (ret && r->failed) {
		ret->write_error = rc;
		ret->stopped_t_ns = r->committed_t;
		ret->samples = r->kept;
		ret->nsamples = r->nkept;
		ret->samples_dropped = r->kept_dropped;
		r->kept = NULL;
		ret->events = malloc((r->nkept_events ? r->nkept_events : 1) * sizeof(struct record_event));
		if (ret->events) {
			memcpy(ret->events, r->kept_events, r->nkept_events * sizeof(struct record_event));
			ret->nevents = r->nkept_events;
		}
	}
	record_free(r);
	return rc;
}

int record_finish(struct record *r, const struct run_info *end)
{
	return record_finish_keep(r, end, NULL);
}

void record_abandon(struct record *r)
{
	stop_writer(r);
	record_free(r);
}

/* ---- reading ---- */

/* Text of a recording reaches terminals (report, explain, compare): a control character in it
 * (ESC sequences, a newline forging a report line) is replaced by '?'. The recorder writes none:
 * the command is stored as JSON, which escapes them. */
static void copy_text(char *dst, size_t len, const unsigned char *src)
{
	snprintf(dst, len, "%s", src ? (const char *)src : "");
	for (char *c = dst; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

static int64_t col_i64(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? HR_UNKNOWN : sqlite3_column_int64(st, i);
}

static int read_run(sqlite3 *db, struct run_info *run)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db,
		"SELECT mode, command, pid, limit_bytes, interval_ns, cgroup_version, cgroup_path,"
		" rss_peaks_exact, cg_peaks_exact, heap_mode, heap_status, kernel, host, headroom_version,"
		" started_wall_ns, duration_ns, exit_code, exit_signal, oom_killed, finished FROM run WHERE id = 1",
		-1, &st, NULL);
	if (rc != SQLITE_OK)
		return -EPROTO;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return rc == SQLITE_DONE ? -ENODATA : sqlite_err(rc);
	}
	copy_text(run->mode, sizeof(run->mode), sqlite3_column_text(st, 0));
	copy_text(run->command, sizeof(run->command), sqlite3_column_text(st, 1));
	run->pid = col_i64(st, 2);
	run->limit_bytes = col_i64(st, 3);
	run->interval_ns = col_i64(st, 4);
	run->cgroup_version = sqlite3_column_int(st, 5);
	copy_text(run->cgroup_path, sizeof(run->cgroup_path), sqlite3_column_text(st, 6));
	run->rss_peaks_exact = sqlite3_column_int(st, 7);
	run->cg_peaks_exact = sqlite3_column_int(st, 8);
	copy_text(run->heap_mode, sizeof(run->heap_mode), sqlite3_column_text(st, 9));
	copy_text(run->heap_status, sizeof(run->heap_status), sqlite3_column_text(st, 10));
	copy_text(run->kernel, sizeof(run->kernel), sqlite3_column_text(st, 11));
	copy_text(run->host, sizeof(run->host), sqlite3_column_text(st, 12));
	copy_text(run->version, sizeof(run->version), sqlite3_column_text(st, 13));
	run->started_wall_ns = col_i64(st, 14);
	run->duration_ns = col_i64(st, 15);
	run->exit_code = sqlite3_column_type(st, 16) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 16);
	run->exit_signal = sqlite3_column_int(st, 17);
	run->oom_killed = sqlite3_column_int(st, 18);
	run->finished = sqlite3_column_int(st, 19);
	sqlite3_finalize(st);
	/* figures no consumer can do arithmetic on are unknown, not trusted */
	if (run->duration_ns < 0 || run->duration_ns > RECORD_T_MAX)
		run->duration_ns = HR_UNKNOWN;
	if (run->interval_ns <= 0 || run->interval_ns > RECORD_T_MAX)
		run->interval_ns = HR_UNKNOWN;
	if (run->started_wall_ns < 0)
		run->started_wall_ns = HR_UNKNOWN;
	return 0;
}

static int read_events(sqlite3 *db, struct recording *rec)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM events", -1, &st, NULL) != SQLITE_OK)
		return -EPROTO;
	size_t n = sqlite3_step(st) == SQLITE_ROW ? (size_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	rec->events = calloc(n ? n : 1, sizeof(*rec->events));
	if (!rec->events)
		return -ENOMEM;
	if (sqlite3_prepare_v2(db, "SELECT t_ns, kind, value, detail FROM events ORDER BY t_ns, rowid", -1, &st,
			       NULL) != SQLITE_OK)
		return -EPROTO;
	while (rec->nevents < n && sqlite3_step(st) == SQLITE_ROW) {
		struct record_event *e = &rec->events[rec->nevents++];
		e->t_ns = col_i64(st, 0);
		if (e->t_ns < -1 || e->t_ns > RECORD_T_MAX) {   /* -1: before the first sample */
			sqlite3_finalize(st);
			return -EPROTO;
		}
		copy_text(e->kind, sizeof(e->kind), sqlite3_column_text(st, 1));
		e->value = col_i64(st, 2);
		copy_text(e->detail, sizeof(e->detail), sqlite3_column_text(st, 3));
	}
	sqlite3_finalize(st);
	return 0;
}

static int read_load(sqlite3 *db, struct recording *rec)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM load", -1, &st, NULL) != SQLITE_OK)
		return -EPROTO;
	size_t n = sqlite3_step(st) == SQLITE_ROW ? (size_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	rec->load = calloc(n ? n : 1, sizeof(*rec->load));
	if (!rec->load)
		return -ENOMEM;
	if (sqlite3_prepare_v2(db, "SELECT * FROM load ORDER BY t_ns", -1, &st, NULL) != SQLITE_OK)
		return -EPROTO;
	while (rec->nload < n && sqlite3_step(st) == SQLITE_ROW) {
		int64_t *f = (int64_t *)&rec->load[rec->nload++];
		for (int c = 0; c < (int)(sizeof(struct load_row) / sizeof(int64_t)); c++)
			f[c] = col_i64(st, c);
		if (f[0] < 0 || f[0] > RECORD_T_MAX) {
			sqlite3_finalize(st);
			return -EPROTO;
		}
	}
	sqlite3_finalize(st);
	return 0;
}

static int column_index(const char *name)
{
	for (int c = 0; c < NCOLS; c++)
		if (strcmp(record_sample_columns[c], name) == 0)
			return c;
	return -1;
}

static int read_samples(sqlite3 *db, const char *const *columns, struct recording *rec)
{
	int idx[64];
	int n = 0;
	if (!columns) {
		for (int c = 1; c < NCOLS; c++)
			idx[n++] = c;
	} else {
		for (int i = 0; columns[i] && n < 63; i++) {
			int c = column_index(columns[i]);
			if (c < 0)
				return -EINVAL;
			if (c > 0)
				idx[n++] = c;
		}
	}
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM samples", -1, &st, NULL) != SQLITE_OK)
		return -EPROTO;
	size_t count = sqlite3_step(st) == SQLITE_ROW ? (size_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);

	/* a recording made before a column existed (heap_t_ns) reads it as unknown */
	bool have[64] = {false};
	if (sqlite3_prepare_v2(db, "PRAGMA table_info(samples)", -1, &st, NULL) != SQLITE_OK)
		return -EPROTO;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(st, 1);
		int c = name ? column_index((const char *)name) : -1;
		if (c >= 0 && c < 64)
			have[c] = true;
	}
	sqlite3_finalize(st);

	char sql[2048];
	size_t off = (size_t)snprintf(sql, sizeof(sql), "SELECT t_ns");
	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(sql + off, sizeof(sql) - off, have[idx[i]] ? ", %s" : ", NULL AS %s",
					record_sample_columns[idx[i]]);
	snprintf(sql + off, sizeof(sql) - off, " FROM samples ORDER BY rowid");

	rec->t_ns = malloc((count ? count : 1) * sizeof(int64_t));
	if (!rec->t_ns)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		rec->col[i] = malloc((count ? count : 1) * sizeof(int64_t));
		if (!rec->col[i])
			return -ENOMEM;
		rec->col_name[i] = record_sample_columns[idx[i]];
		rec->ncols = i + 1;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -EPROTO;
	size_t k = 0;
	int rc;
	while (k < count && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		rec->t_ns[k] = sqlite3_column_int64(st, 0);
		/* instants in order, within range, and numbers: anything else is a corrupt file */
		if (sqlite3_column_type(st, 0) != SQLITE_INTEGER || rec->t_ns[k] < 0 || rec->t_ns[k] > RECORD_T_MAX ||
		    (k > 0 && rec->t_ns[k] < rec->t_ns[k - 1])) {
			sqlite3_finalize(st);
			return -EPROTO;
		}
		for (int i = 0; i < n; i++)
			rec->col[i][k] = col_i64(st, i + 1);
		k++;
	}
	sqlite3_finalize(st);
	rec->nsamples = k;
	return 0;
}

/* What a recording must respect to be analysed. The recorder never writes outside these bounds;
 * a file that does was damaged or forged (a recording may come from anyone), and the analysis's
 * arithmetic — differences of times, sums of sizes, phases of a scrape interval — is only free of
 * overflow inside them. Times are ns since the start, non-decreasing as the sampler writes them:
 * a time outside makes the file corrupt. A figure outside is no measurement (a target that forges
 * its heap segment gets INT64_MAX recorded): it becomes unknown, and the rest stays readable. */
/* RECORD_T_MAX (above): the longest recording's clock */
#define RECORD_VALUE_MAX (INT64_C(1) << 53)   /* bytes or counts: 8 PiB, still exact as a double */

static void value_bound(int64_t *v)
{
	if (*v < HR_UNKNOWN || *v > RECORD_VALUE_MAX)
		*v = HR_UNKNOWN;
}

static bool time_ok(int64_t t)
{
	return t >= 0 && t <= RECORD_T_MAX;
}

static int recording_bound(struct recording *rec)
{
	struct run_info *r = &rec->run;
	if (r->interval_ns <= 0 || r->interval_ns > RECORD_T_MAX)
		r->interval_ns = HR_UNKNOWN;
	if (!time_ok(r->duration_ns))
		r->duration_ns = HR_UNKNOWN;
	value_bound(&r->limit_bytes);
	for (size_t i = 0; i < rec->nsamples; i++) {
		if (!time_ok(rec->t_ns[i]) || (i > 0 && rec->t_ns[i] < rec->t_ns[i - 1]))
			return -EPROTO;
		for (int c = 0; c < rec->ncols; c++)
			value_bound(&rec->col[c][i]);
	}
	for (size_t i = 0; i < rec->nevents; i++)
		if (!time_ok(rec->events[i].t_ns))
			return -EPROTO;
	for (size_t i = 0; i < rec->nload; i++) {
		struct load_row *l = &rec->load[i];
		if (!time_ok(l->t_ns))
			return -EPROTO;
		int64_t *f[] = {&l->stage, &l->connections, &l->requests, &l->inflight, &l->errors,
				&l->p50_us, &l->p99_us, &l->max_us};
		for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++)
			value_bound(f[k]);
	}
	return 0;
}

static int cmp_site(const void *a, const void *b)
{
	const struct rec_site *x = a, *y = b;
	return x->site < y->site ? -1 : x->site > y->site;
}

const struct rec_site *recording_site(const struct recording *rec, int64_t site)
{
	struct rec_site key = {.site = site};
	return rec->nsites ? bsearch(&key, rec->sites, rec->nsites, sizeof(key), cmp_site) : NULL;
}

static size_t count_rows(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return 0;
	size_t n = sqlite3_step(st) == SQLITE_ROW ? (size_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return n;
}

/* The sites tables, if the recording has them (a recording from before they existed, or without
 * sites, has none: no sites, not an error). Every row is checked: site ids in range and unique,
 * frames at depths 0.. without a gap (at most RECORD_SITE_FRAMES), samples of known sites with
 * figures in range; what is not is left out. Strings are bounded and cleaned of control
 * characters (they reach terminals). */
static int site_rows_query(sqlite3 *db, struct record_site_row **ret, size_t *ret_n);

static int read_sites(sqlite3 *db, struct recording *rec)
{
	rec->heap_sample_interval = HR_UNKNOWN;
	if (count_rows(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
			   "('heap_sites', 'heap_site_frames', 'heap_site_samples')") != 3)
		return 0;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT heap_sample_interval, heap_sites_note FROM run WHERE id = 1", -1, &st,
			       NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			int64_t iv = col_i64(st, 0);
			rec->heap_sample_interval = iv > 0 && iv <= RECORD_VALUE_MAX ? iv : HR_UNKNOWN;
			copy_text(rec->heap_sites_note, sizeof(rec->heap_sites_note), sqlite3_column_text(st, 1));
		}
		sqlite3_finalize(st);
	}
	size_t n = count_rows(db, "SELECT count(*) FROM heap_sites");
	if (n > SITES_READ_MAX)
		n = SITES_READ_MAX;
	rec->sites = calloc(n ? n : 1, sizeof(*rec->sites));
	if (!rec->sites)
		return -ENOMEM;
	if (sqlite3_prepare_v2(db, "SELECT site, pid FROM heap_sites ORDER BY site", -1, &st, NULL) != SQLITE_OK)
		return -EPROTO;
	while (rec->nsites < n && sqlite3_step(st) == SQLITE_ROW) {
		int64_t site = col_i64(st, 0), pid = col_i64(st, 1);
		if (site < 1 || site > INT32_MAX || pid < 0 || pid > INT32_MAX ||
		    (rec->nsites && rec->sites[rec->nsites - 1].site == site))
			continue;
		rec->sites[rec->nsites++] = (struct rec_site){.site = site, .pid = pid};
	}
	sqlite3_finalize(st);
	struct record_site_row *rows;
	size_t nrows;
	int rc = site_rows_query(db, &rows, &nrows);
	if (rc < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < nrows; i++) {
		struct record_site_row *r = &rows[i];
		struct rec_site *s = (struct rec_site *)recording_site(rec, r->site);
		if (!s || r->depth != s->nframes || r->depth >= RECORD_SITE_FRAMES)
			continue;   /* a gap, a duplicate or too deep: the stack ends before it */
		if (!s->frames && !(s->frames = calloc(RECORD_SITE_FRAMES, sizeof(*s->frames)))) {
			rc = -ENOMEM;
			break;
		}
		/* the row's text moves into the frame */
		s->frames[s->nframes++] = (struct rec_site_frame){.pc = r->pc, .offset = r->offset, .line = r->line,
			.module = r->module, .build_id = r->build_id, .function = r->function, .file = r->file};
		r->module = r->build_id = r->function = r->file = NULL;
	}
	record_site_rows_free(rows, nrows);
	if (rc < 0)
		return rc;
	size_t m = count_rows(db, "SELECT count(*) FROM heap_site_samples");
	if (m > SITE_SAMPLES_READ_MAX)
		m = SITE_SAMPLES_READ_MAX;
	rec->site_samples = calloc(m ? m : 1, sizeof(*rec->site_samples));
	if (!rec->site_samples)
		return -ENOMEM;
	if (sqlite3_prepare_v2(db, "SELECT t_ns, site, live_bytes, live_objects, alloc_bytes, alloc_objects "
				   "FROM heap_site_samples ORDER BY t_ns, site", -1, &st, NULL) != SQLITE_OK)
		return -EPROTO;
	while (rec->nsite_samples < m && sqlite3_step(st) == SQLITE_ROW) {
		struct rec_site_sample x;
		int64_t *f = (int64_t *)&x;
		bool ok = true;
		for (int c = 0; c < 6; c++) {
			f[c] = col_i64(st, c);
			ok = ok && f[c] >= 0 && (c < 2 || f[c] <= RECORD_VALUE_MAX);
		}
		if (ok && time_ok(x.t_ns) && recording_site(rec, x.site))
			rec->site_samples[rec->nsite_samples++] = x;
	}
	sqlite3_finalize(st);
	return 0;
}

/* everything after the file is open: the same checks whether it came from a path or an image */
static int record_read(sqlite3 *db, const char *path, const char *const *columns, struct recording **ret)
{
	struct recording *rec = calloc(1, sizeof(*rec));
	if (!rec)
		return -ENOMEM;
	snprintf(rec->path, sizeof(rec->path), "%s", path);
	int rc;
	sqlite3_busy_timeout(db, 2000);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
		rc = -EPROTO;
		goto out;
	}
	int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	if (version > RECORD_SCHEMA_VERSION) {
		rc = -EPROTONOSUPPORT;
		goto out;
	}
	if (version < 1) {
		rc = -EPROTO;
		goto out;
	}
	rc = read_run(db, &rec->run);
	if (rc == 0)
		rc = read_events(db, rec);
	if (rc == 0)
		rc = read_load(db, rec);
	if (rc == 0)
		rc = read_samples(db, columns, rec);
	if (rc == 0)
		rc = read_sites(db, rec);
	if (rc == 0)
		rc = recording_bound(rec);
	if (rc == 0 && (!rec->run.finished || rec->run.duration_ns == HR_UNKNOWN) && rec->nsamples > 0)
		rec->run.duration_ns = rec->t_ns[rec->nsamples - 1];
out:
	if (rc < 0) {
		recording_free(rec);
		return rc;
	}
	*ret = rec;
	return 0;
}

/* Opens a recording's file (a regular file only) with SQLite's flags; *db is set even on an
 * error (sqlite3_close takes it, NULL or not). */
static int open_regular(const char *path, int flags, sqlite3 **db)
{
	*db = NULL;
	struct stat sb;
	if (stat(path, &sb) < 0)
		return -errno;
	if (!S_ISREG(sb.st_mode))
		return -EPROTO;
	return sqlite_err(sqlite3_open_v2(path, db, flags, NULL));
}

int record_open(const char *path, const char *const *columns, struct recording **ret)
{
	sqlite3 *db;
	int rc = open_regular(path, SQLITE_OPEN_READONLY, &db);
	if (rc == 0)
		rc = record_read(db, path, columns, ret);
	sqlite3_close(db);
	return rc;
}

int record_open_image(const void *data, size_t len, const char *name, const char *const *columns,
		      struct recording **ret)
{
	if (len > (size_t)INT64_MAX / 2)
		return -E2BIG;
	sqlite3 *db = NULL;
	int rc = sqlite_err(sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE, NULL));
	if (rc < 0) {
		sqlite3_close(db);
		return rc;
	}
	/* SQLite owns (and frees) the copy; read only, so nothing is ever written to it */
	unsigned char *copy = sqlite3_malloc64(len ? len : 1);
	if (!copy) {
		sqlite3_close(db);
		return -ENOMEM;
	}
	memcpy(copy, data, len);
	if (sqlite3_deserialize(db, "main", copy, (sqlite3_int64)len, (sqlite3_int64)len,
				SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY) != SQLITE_OK)
		rc = -EPROTO;
	else
		rc = record_read(db, name ? name : "", columns, ret);
	sqlite3_close(db);
	return rc;
}

int recording_add_unwritten(struct recording *rec, const struct record_unwritten *u)
{
	if (!u || (u->nsamples == 0 && u->nevents == 0))
		return 0;
	size_t n = rec->nsamples + u->nsamples;
	int64_t *t = realloc(rec->t_ns, (n ? n : 1) * sizeof(int64_t));
	if (!t)
		return -ENOMEM;
	rec->t_ns = t;
	for (int i = 0; i < rec->ncols; i++) {
		int64_t *c = realloc(rec->col[i], (n ? n : 1) * sizeof(int64_t));
		if (!c)
			return -ENOMEM;
		rec->col[i] = c;
	}
	for (size_t k = 0; k < u->nsamples; k++) {
		const int64_t *f = (const int64_t *)&u->samples[k];
		rec->t_ns[rec->nsamples + k] = f[0];
		for (int i = 0; i < rec->ncols; i++)
			rec->col[i][rec->nsamples + k] = f[column_index(rec->col_name[i])];
	}
	rec->nsamples = n;
	struct record_event *ev = realloc(rec->events, (rec->nevents + u->nevents + 1) * sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	rec->events = ev;
	memcpy(ev + rec->nevents, u->events, u->nevents * sizeof(*ev));
	rec->nevents += u->nevents;
	return 0;
}

const int64_t *recording_column(const struct recording *rec, const char *name)
{
	if (strcmp(name, "t_ns") == 0)
		return rec->t_ns;
	for (int i = 0; i < rec->ncols; i++)
		if (strcmp(rec->col_name[i], name) == 0)
			return rec->col[i];
	return NULL;
}

void recording_free(struct recording *rec)
{
	if (!rec)
		return;
	free(rec->events);
	free(rec->load);
	free(rec->t_ns);
	for (int i = 0; i < rec->ncols; i++)
		free(rec->col[i]);
	for (size_t i = 0; i < rec->nsites; i++) {
		for (int k = 0; k < rec->sites[i].nframes; k++) {
			struct rec_site_frame *f = &rec->sites[i].frames[k];
			free(f->module);
			free(f->build_id);
			free(f->function);
			free(f->file);
		}
		free(rec->sites[i].frames);
	}
	free(rec->sites);
	free(rec->site_samples);
	free(rec);
}

/* ---- heap allocation sites: reading the site tables, storing symbols (issue 15) ---- */

static int sites_open(const char *path, bool write, sqlite3 **ret)
{
	sqlite3 *db;
	int rc = open_regular(path, write ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW : SQLITE_OPEN_READONLY, &db);
	if (rc < 0) {
		sqlite3_close(db);
		return rc;
	}
	sqlite3_busy_timeout(db, 2000);
	sqlite3_stmt *st;
	rc = -EPROTO;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
		int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
		rc = version < 1 ? -EPROTO : 0;
		sqlite3_finalize(st);
	}
	/* the tables exist only when sites were sampled: an older recording has none */
	if (rc == 0 && sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
					  " ('heap_sites', 'heap_site_frames', 'heap_site_samples')", -1, &st, NULL) == SQLITE_OK) {
		rc = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 3 ? 0 : -ENODATA;
		sqlite3_finalize(st);
	} else if (rc == 0) {
		rc = -EPROTO;
	}
	if (rc < 0) {
		sqlite3_close(db);
		return rc;
	}
	*ret = db;
	return 0;
}

static char *site_text(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NULL;
	const unsigned char *t = sqlite3_column_text(st, i);
	char buf[RECORD_SITE_TEXT_MAX];
	copy_text(buf, sizeof(buf), t);
	return strdup(buf);
}

void record_site_rows_free(struct record_site_row *f, size_t n)
{
	if (!f)
		return;
	for (size_t i = 0; i < n; i++) {
		free(f[i].module);
		free(f[i].build_id);
		free(f[i].function);
		free(f[i].file);
	}
	free(f);
}

/* A row array read from a table, doubled (256 rows first); NULL (rows and *cap as they were)
 * when there is no memory. */
static void *rows_grow(void *rows, size_t *cap, size_t size)
{
	size_t nc = *cap ? *cap * 2 : 256;
	void *g = realloc(rows, nc * size);
	if (g)
		*cap = nc;
	return g;
}

/* The frame rows of every site, ordered by site then depth, text bounded and made printable, a
 * depth or line no stack or source has marked unknown: the one reader of heap_site_frames, for
 * record_open's sites and for record_site_rows_read alike. */
static int site_rows_query(sqlite3 *db, struct record_site_row **ret, size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT f.site, f.depth, s.pid, f.pc, f.module, f.build_id, f.offset, f.function,"
			       " f.file, f.line FROM heap_site_frames f LEFT JOIN heap_sites s ON s.site = f.site"
			       " ORDER BY f.site, f.depth", -1, &st, NULL) != SQLITE_OK)
		return -EPROTO;
	struct record_site_row *f = NULL;
	size_t n = 0, cap = 0;
	int rc = 0, step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW && n < RECORD_SITE_FRAMES_MAX) {
		if (n == cap) {
			struct record_site_row *g = rows_grow(f, &cap, sizeof(*f));
			if (!g) {
				rc = -ENOMEM;
				break;
			}
			f = g;
		}
		struct record_site_row *r = &f[n++];
		memset(r, 0, sizeof(*r));
		r->site = col_i64(st, 0);
		r->depth = col_i64(st, 1);
		r->pid = col_i64(st, 2);
		r->pc = col_i64(st, 3);
		r->module = site_text(st, 4);
		r->build_id = site_text(st, 5);
		r->offset = col_i64(st, 6);
		r->function = site_text(st, 7);
		r->file = site_text(st, 8);
		r->line = col_i64(st, 9);
		/* a depth or line no stack or source has is a forged row: unknown, not trusted */
		if (r->depth < 0 || r->depth > 1024)
			r->depth = HR_UNKNOWN;
		if (r->line <= 0 || r->line > INT32_MAX)
			r->line = HR_UNKNOWN;
		if (r->offset < 0)
			r->offset = HR_UNKNOWN;
	}
	if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = sqlite_err(step);
	sqlite3_finalize(st);
	if (rc < 0) {
		record_site_rows_free(f, n);
		return rc;
	}
	*ret = f;
	*ret_n = n;
	return 0;
}

int record_site_rows_read(const char *path, struct record_site_row **ret, size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	sqlite3 *db;
	int rc = sites_open(path, false, &db);
	if (rc < 0)
		return rc;
	rc = site_rows_query(db, ret, ret_n);
	sqlite3_close(db);
	return rc;
}

int record_site_rows_store(const char *path, const struct record_site_row *f, size_t n)
{
	sqlite3 *db;
	int rc = sites_open(path, true, &db);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "UPDATE heap_site_frames SET function = ?1, file = ?2, line = ?3"
			       " WHERE site = ?4 AND depth = ?5", -1, &st, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return -EPROTO;
	}
	rc = exec_sql(db, "BEGIN");
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (!f[i].function)
			continue;
		sqlite3_bind_text(st, 1, f[i].function, -1, SQLITE_STATIC);
		if (f[i].file)
			sqlite3_bind_text(st, 2, f[i].file, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 2);
		bind_i64_or_null(st, 3, f[i].line);
		sqlite3_bind_int64(st, 4, f[i].site);
		sqlite3_bind_int64(st, 5, f[i].depth);
		rc = sqlite_err(sqlite3_step(st));
		sqlite3_reset(st);
	}
	int rc2 = exec_sql(db, rc == 0 ? "COMMIT" : "ROLLBACK");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc ? rc : rc2;
}

int recording_site_rows(const struct recording *rec, struct record_site_row **ret, size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	size_t n = 0, k = 0;
	for (size_t i = 0; i < rec->nsites; i++)
		n += (size_t)rec->sites[i].nframes;
	struct record_site_row *f = calloc(n ? n : 1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	bool nomem = false;
	for (size_t i = 0; i < rec->nsites; i++) {
		const struct rec_site *s = &rec->sites[i];
		for (int d = 0; d < s->nframes; d++) {
			const struct rec_site_frame *x = &s->frames[d];
			struct record_site_row *r = &f[k++];
			*r = (struct record_site_row){.site = s->site, .depth = d, .pid = s->pid, .pc = x->pc,
				.offset = x->offset, .line = x->line};
			char **to[] = {&r->module, &r->build_id, &r->function, &r->file};
			const char *from[] = {x->module, x->build_id, x->function, x->file};
			for (size_t t = 0; t < 4; t++)
				if (from[t] && !(*to[t] = strdup(from[t])))
					nomem = true;
		}
	}
	if (nomem) {
		record_site_rows_free(f, k);
		return -ENOMEM;
	}
	*ret = f;
	*ret_n = k;
	return 0;
}

int recording_site_values_at(const struct recording *rec, int64_t at_t_ns, struct record_site_value **ret,
			     size_t *ret_n, int64_t *ret_t_ns)
{
	*ret = NULL;
	*ret_n = 0;
	*ret_t_ns = HR_UNKNOWN;
	struct record_site_value *v = calloc(rec->nsites ? rec->nsites : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < rec->nsites; i++)
		v[i] = (struct record_site_value){.site = rec->sites[i].site, .t_ns = HR_UNKNOWN};
	/* the samples are in time order: the last row of a site at or before the instant is its figure */
	for (size_t j = 0; j < rec->nsite_samples && rec->site_samples[j].t_ns <= at_t_ns; j++) {
		const struct rec_site_sample *x = &rec->site_samples[j];
		const struct rec_site *s = recording_site(rec, x->site);
		if (!s)
			continue;
		v[s - rec->sites] = (struct record_site_value){.site = x->site, .t_ns = x->t_ns,
			.live_bytes = x->live_bytes, .live_objects = x->live_objects,
			.alloc_bytes = x->alloc_bytes, .alloc_objects = x->alloc_objects};
		if (x->t_ns > *ret_t_ns)
			*ret_t_ns = x->t_ns;
	}
	size_t n = 0;
	for (size_t i = 0; i < rec->nsites; i++)
		if (v[i].t_ns != HR_UNKNOWN)
			v[n++] = v[i];
	*ret = v;
	*ret_n = n;
	return 0;
}
