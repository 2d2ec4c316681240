/* record: the SQLite recording — schema, batched writes from a writer thread, reading back.
 *
 * One recording file feeds every consumer (report, size, compare, explain, the HTML report).
 * Writing: record_create() makes a new file (never overwrites: -EEXIST), record_push_*() copy a
 * row into a bounded in-memory batch and return at once (the sampler never waits for disk); a
 * writer thread commits a batch every RECORD_FLUSH_MS in one transaction (WAL, synchronous=NORMAL),
 * so a SIGKILL of headroom loses at most the last flush interval. When the batch is full the
 * row is dropped and counted (record_dropped()), never blocking the caller.
 * Reading: record_open() checks the schema version and loads the run, the events, the load rows
 * and whichever sample columns the caller asks for, as arrays (columnar, so a million samples
 * load quickly and analysis touches only what it needs).
 * The schema is documented in docs/recording.md; RECORD_SCHEMA_VERSION is PRAGMA user_version.
 */
#ifndef HEADROOM_RECORD_H
#define HEADROOM_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sample.h"

#define RECORD_SCHEMA_VERSION 1
#define RECORD_FLUSH_MS 250
#define RECORD_BATCH_MAX 8192
/* Samples kept in memory once the disk refuses writes (disk full), for the run's own report:
 * 65536 × 264 bytes = 17 MiB, 11 minutes at the shortest usual interval (10 ms). Older samples
 * than the bound are dropped and counted. */
#define RECORD_KEEP_MAX 65536
/* A PASSIVE checkpoint this often folds the WAL into the main file, so a recording interrupted any
 * way (kill -9, power) holds every sample up to about the last second in FILE itself, not only in
 * FILE-wal (which a copy of the .db alone would lose). */
#define RECORD_CHECKPOINT_MS 1000

struct run_info {
	char mode[16];            /* "run" or "attach" */
	char command[4096];       /* JSON array of the argv, or of the attach target */
	int64_t pid;              /* the root process, HR_UNKNOWN for a cgroup attach */
	int64_t limit_bytes;      /* --limit, HR_UNKNOWN when none */
	int64_t interval_ns;
	int cgroup_version;       /* 0 none, 1, 2 */
	char cgroup_path[1024];
	bool rss_peaks_exact;     /* VmHWM was reset every interval (else peaks are since start) */
	bool cg_peaks_exact;      /* the cgroup peak was reset every interval */
	char heap_mode[16];       /* "stats", "count", "off" */
	char heap_status[256];    /* "available", or why heap figures are unavailable */
	char kernel[128];
	char host[128];
	char version[32];
	int64_t started_wall_ns;  /* CLOCK_REALTIME at t_ns = 0 */
	/* filled at the end (record_finish), or found missing in a recording that was cut short */
	int64_t duration_ns;
	int exit_code;            /* -1 when unknown or killed by a signal */
	int exit_signal;          /* 0 when none */
	bool oom_killed;
	bool finished;            /* false: headroom itself was killed; the data up to the last flush is intact */
};

struct record_event {
	int64_t t_ns;
	char kind[24];            /* start, ready, exit, signal, oom_kill, limit_hit, stage, note, dropped,
				   * write_failed (value: -errno; t_ns: the last sample in the file) */
	int64_t value;
	char detail[232];
};

/* One second of load, written by the load generator while recording. */
struct load_row {
	int64_t t_ns;
	int64_t stage;            /* index into the stage list */
	int64_t connections;      /* target concurrency of the stage at this instant */
	int64_t requests;         /* completed in this second */
	int64_t inflight;
	int64_t errors;
	int64_t p50_us, p99_us, max_us;
};

/* Sites mode (heap_sites, heap_site_frames, heap_site_samples; docs/recording.md): the tables
 * are created with the first site pushed, so a recording without sites has none. */
#define RECORD_SITE_FRAMES 64
struct record_new_frame {
	int64_t pc;               /* the return address in the process */
	int64_t offset;           /* ELF virtual address in module; HR_UNKNOWN when not known */
	const char *module;       /* path, NULL: anonymous or unknown */
	const char *build_id;     /* hex, NULL: none */
};
struct record_site_sample {
	int64_t t_ns, site;
	int64_t live_bytes, live_objects, alloc_bytes, alloc_objects;   /* estimates, already scaled */
};

struct record;

int record_create(const char *path, const struct run_info *info, struct record **ret);
void record_push_sample(struct record *r, const struct sample *s);
void record_push_event(struct record *r, int64_t t_ns, const char *kind, int64_t value, const char *detail);
void record_push_load(struct record *r, const struct load_row *row);
/* A site seen for the first time (site >= 1, nframes <= RECORD_SITE_FRAMES; the strings are copied). */
void record_push_site(struct record *r, int64_t site, int64_t pid, int nframes, const struct record_new_frame *frames);
void record_push_site_sample(struct record *r, const struct record_site_sample *row);
/* Run-level facts of sites mode, written at record_finish (the run row's heap_sample_interval,
 * heap_sites_note) when any site was pushed. */
void record_set_sites_meta(struct record *r, int64_t interval, const char *note);
int64_t record_dropped(const struct record *r);
/* Did a write fail (disk full, I/O error)? Then writing stopped for good: ret_stopped_t_ns is the
 * t_ns of the last sample that reached the file (-1: none), and later rows are kept in memory
 * (record_finish_keep). Returns the first error (-ENOSPC, -EIO, ...) or 0. */
int record_write_failed(struct record *r, int64_t *ret_stopped_t_ns);

/* What could not be written, handed to the caller so the run's report still covers the run. */
struct record_unwritten {
	int write_error;          /* 0 when everything was written */
	int64_t stopped_t_ns;     /* the last sample in the file, -1 when none */
	struct sample *samples;   /* malloc'd, in order; free with record_unwritten_free */
	size_t nsamples;
	int64_t samples_dropped;  /* beyond RECORD_KEEP_MAX */
	struct record_event *events;
	size_t nevents;
};
void record_unwritten_free(struct record_unwritten *u);
/* Block until every row pushed before the call is committed (tests; a clean checkpoint). */
void record_sync(struct record *r);
/* Flush, stop the writer, store the end of the run and close. Frees r. When writing failed, the
 * run is stored (if the disk allows) as not finished with a `write_failed` event at the instant
 * writing stopped, so every later view says the file is incomplete; returns that error. */
int record_finish(struct record *r, const struct run_info *end);
/* record_finish that also hands over what could not be written (ret may be NULL). */
int record_finish_keep(struct record *r, const struct run_info *end, struct record_unwritten *ret);
/* Close without marking the run finished (tests of a headroom that died). Frees r. */
void record_abandon(struct record *r);

/* Reading back */
struct rec_site_frame {
	int64_t pc, offset, line;         /* offset, line: HR_UNKNOWN when NULL */
	char *module, *build_id, *function, *file;   /* NULL when NULL; control characters replaced */
};
struct rec_site {
	int64_t site, pid;
	int nframes;                      /* frames[0] is depth 0 (malloc's caller) */
	struct rec_site_frame *frames;
};
struct rec_site_sample {
	int64_t t_ns, site;
	int64_t live_bytes, live_objects, alloc_bytes, alloc_objects;
};

struct recording {
	char path[1024];
	struct run_info run;
	struct record_event *events;
	size_t nevents;
	struct load_row *load;
	size_t nload;
	size_t nsamples;
	int64_t *t_ns;            /* always loaded */
	/* one array per loaded sample column, NULL when not asked for; HR_UNKNOWN where NULL */
	int64_t *col[64];
	const char *col_name[64];
	int ncols;
	/* sites mode; all empty in a recording without sites (or from before they existed) */
	struct rec_site *sites;           /* sorted by site */
	size_t nsites;
	struct rec_site_sample *site_samples;   /* sorted by t_ns, then site; sites all in `sites` */
	size_t nsite_samples;
	int64_t heap_sample_interval;     /* bytes; HR_UNKNOWN without sites */
	char heap_sites_note[256];
};
/* The site of id `site`, NULL when there is none. */
const struct rec_site *recording_site(const struct recording *rec, int64_t site);

/* Names of the sample columns, in schema order (t_ns first), NULL-terminated. */
extern const char *const record_sample_columns[];

/* Opens, validates the schema and loads run, events and load rows, and the sample columns named
 * (NULL = every column). Times outside what the recorder writes (record.c RECORD_T_MAX) or
 * going backwards make the file corrupt; figures outside it (RECORD_VALUE_MAX) read as HR_UNKNOWN.
 * Errors: -ENOENT, -EPROTO (not a headroom recording or corrupt),
 * -EPROTONOSUPPORT (a newer schema), -ENOMEM. */
int record_open(const char *path, const char *const *columns, struct recording **ret);
/* The same from a file's bytes in memory (the file's -wal, if any, is not part of them), with
 * the same checks; name only labels the recording. For tests and the fuzz target, which must
 * not pay for a file per input. Errors as record_open, -E2BIG past what SQLite can hold. */
int record_open_image(const void *data, size_t len, const char *name, const char *const *columns,
		      struct recording **ret);
/* Append rows that never reached the file (from record_finish_keep) to a recording read back, so
 * the run's own report covers the whole run. -ENOMEM. */
int recording_add_unwritten(struct recording *rec, const struct record_unwritten *u);
/* The array of a loaded column, or NULL if it was not loaded. */
const int64_t *recording_column(const struct recording *rec, const char *name);
void recording_free(struct recording *rec);
/* A message for a negative return of record_open/record_create. */
const char *record_strerror(int err);

/* ---- heap allocation sites (issue 15; docs/recording.md, tables heap_sites, heap_site_frames,
 * heap_site_samples). The shim's sampler writes them; these read them back for the views and
 * store what symbolisation found. Text is bounded and control bytes become '?'; figures outside
 * the recording's bounds read as HR_UNKNOWN. A recording without the tables: -ENODATA. */
#define RECORD_SITE_FRAMES_MAX (1 << 20)   /* rows read at most: 16384 sites of 64 frames */
#define RECORD_SITE_TEXT_MAX 4096          /* longest module, function or file name kept */
struct record_site_row {
	int64_t site, depth;      /* depth 0: the innermost frame (the caller of malloc) */
	int64_t pid;              /* of the site */
	int64_t pc;               /* the return address in the process, HR_UNKNOWN when absent */
	char *module, *build_id;  /* NULL when unknown (anonymous or JIT code, no build-id) */
	int64_t offset;           /* ELF virtual address in module, HR_UNKNOWN when absent */
	char *function, *file;    /* NULL until symbolised, or when unknown */
	int64_t line;             /* HR_UNKNOWN when unknown */
};
struct record_site_value {
	int64_t site, t_ns;       /* t_ns: the site's latest row at or before the instant asked */
	int64_t live_bytes, live_objects, alloc_bytes, alloc_objects;   /* estimates, HR_UNKNOWN when unusable */
};
/* Every frame row, ordered by site then depth. */
int record_site_rows_read(const char *path, struct record_site_row **ret, size_t *ret_n);
/* Store function, file and line of the rows that have a function (the others are left alone).
 * Opens the file for writing: -EROFS/-EACCES when it cannot be written (callers go on with
 * what they resolved in memory). */
int record_site_rows_store(const char *path, const struct record_site_row *f, size_t n);
void record_site_rows_free(struct record_site_row *f, size_t n);
/* The loaded recording's sites (record_open: rec->sites, rec->site_samples), for the views that
 * draw whole stacks or one instant (the flame graph, pprof): the same rows and checks as the
 * analysis saw, from the one reader of the tables. */
/* Every frame of rec's sites as rows ordered by site then depth, text copied (names can be filled
 * in memory: symbols_resolve_frames). -ENOMEM. */
int recording_site_rows(const struct recording *rec, struct record_site_row **ret, size_t *ret_n);
/* Each site's latest figures at or before at_t_ns (INT64_MAX: the end), ordered by site;
 * *ret_t_ns: the latest of those instants (HR_UNKNOWN when there is none). -ENOMEM. */
int recording_site_values_at(const struct recording *rec, int64_t at_t_ns, struct record_site_value **ret,
			     size_t *ret_n, int64_t *ret_t_ns);

#endif
