/* synth: builds a struct recording in memory from series of known shape, for the analysis tests
 * (no SQLite involved). Every column of analyze_columns is allocated and set to HR_UNKNOWN;
 * tests fill what their scenario has. Header-only: each test binary includes it once. */
#ifndef HEADROOM_TEST_SYNTH_H
#define HEADROOM_TEST_SYNTH_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "record.h"

#define SYN_MiB (1024LL * 1024LL)

static inline struct recording *synth_new(size_t n, int64_t interval_ns)
{
	struct recording *rec = calloc(1, sizeof(*rec));
	rec->nsamples = n;
	rec->t_ns = malloc((n ? n : 1) * sizeof(int64_t));
	for (size_t i = 0; i < n; i++)
		rec->t_ns[i] = (int64_t)i * interval_ns;
	for (int c = 0; analyze_columns[c]; c++) {
		rec->col_name[c] = analyze_columns[c];
		rec->col[c] = malloc((n ? n : 1) * sizeof(int64_t));
		for (size_t i = 0; i < n; i++)
			rec->col[c][i] = HR_UNKNOWN;
		rec->ncols = c + 1;
	}
	snprintf(rec->run.mode, sizeof(rec->run.mode), "run");
	snprintf(rec->run.command, sizeof(rec->run.command), "[\"synth\"]");
	rec->run.pid = 1234;
	rec->run.limit_bytes = HR_UNKNOWN;
	rec->run.interval_ns = interval_ns;
	rec->run.rss_peaks_exact = true;
	rec->run.cg_peaks_exact = true;
	snprintf(rec->run.heap_mode, sizeof(rec->run.heap_mode), "off");
	snprintf(rec->run.heap_status, sizeof(rec->run.heap_status), "disabled (--no-heap)");
	rec->run.duration_ns = n ? rec->t_ns[n - 1] : 0;
	rec->run.exit_code = 0;
	rec->run.finished = true;
	return rec;
}

static inline int64_t *synth_col(struct recording *rec, const char *name)
{
	for (int c = 0; c < rec->ncols; c++)
		if (strcmp(rec->col_name[c], name) == 0)
			return rec->col[c];
	abort();
}

/* A column analyze_columns does not list (heap_t_ns from a newer writer, say), all HR_UNKNOWN. */
static inline int64_t *synth_add_col(struct recording *rec, const char *name)
{
	int c = rec->ncols++;
	rec->col_name[c] = name;
	rec->col[c] = malloc((rec->nsamples ? rec->nsamples : 1) * sizeof(int64_t));
	for (size_t i = 0; i < rec->nsamples; i++)
		rec->col[c][i] = HR_UNKNOWN;
	return rec->col[c];
}

static inline void synth_event(struct recording *rec, int64_t t_ns, const char *kind, int64_t value)
{
	rec->events = realloc(rec->events, (rec->nevents + 1) * sizeof(*rec->events));
	struct record_event *e = &rec->events[rec->nevents++];
	memset(e, 0, sizeof(*e));
	e->t_ns = t_ns;
	snprintf(e->kind, sizeof(e->kind), "%s", kind);
	e->value = value;
}

static inline void synth_event_detail(struct recording *rec, int64_t t_ns, const char *kind, int64_t value,
				      const char *detail)
{
	synth_event(rec, t_ns, kind, value);
	snprintf(rec->events[rec->nevents - 1].detail, sizeof(rec->events[0].detail), "%s", detail);
}

static inline void synth_load(struct recording *rec, int64_t t_ns, int64_t stage, int64_t conns)
{
	rec->load = realloc(rec->load, (rec->nload + 1) * sizeof(*rec->load));
	struct load_row *l = &rec->load[rec->nload++];
	memset(l, 0, sizeof(*l));
	l->t_ns = t_ns;
	l->stage = stage;
	l->connections = conns;
	l->requests = conns * 100;
}

static inline int synth_cmp_site_sample(const void *x, const void *y)
{
	const struct rec_site_sample *a = x, *b = y;
	if (a->t_ns != b->t_ns)
		return a->t_ns < b->t_ns ? -1 : 1;
	return a->site < b->site ? -1 : a->site > b->site;
}

/* Sites mode: site `site` (ids ascending from call to call), one frame named `function`, and its
 * sampled live bytes live[k] at the snapshots t_ns[k]; the samples stay in the reader's order. */
static inline void synth_site(struct recording *rec, int64_t site, const char *function, const int64_t *t_ns,
			      const int64_t *live, size_t n)
{
	rec->sites = realloc(rec->sites, (rec->nsites + 1) * sizeof(*rec->sites));
	struct rec_site *rs = &rec->sites[rec->nsites++];
	memset(rs, 0, sizeof(*rs));
	rs->site = site;
	rs->pid = rec->run.pid;
	rs->nframes = 1;
	rs->frames = calloc(1, sizeof(*rs->frames));
	rs->frames[0].pc = 0x1000 + site;
	rs->frames[0].offset = rs->frames[0].line = HR_UNKNOWN;
	rs->frames[0].function = strdup(function);
	rec->site_samples = realloc(rec->site_samples, (rec->nsite_samples + n) * sizeof(*rec->site_samples));
	for (size_t k = 0; k < n; k++)
		rec->site_samples[rec->nsite_samples++] = (struct rec_site_sample){
			.t_ns = t_ns[k], .site = site, .live_bytes = live[k], .live_objects = live[k] / 4096,
			.alloc_bytes = live[k], .alloc_objects = live[k] / 4096};
	qsort(rec->site_samples, rec->nsite_samples, sizeof(*rec->site_samples), synth_cmp_site_sample);
}

static inline void synth_free(struct recording *rec)
{
	if (!rec)
		return;
	for (size_t i = 0; i < rec->nsites; i++) {
		for (int f = 0; f < rec->sites[i].nframes; f++)
			free(rec->sites[i].frames[f].function);
		free(rec->sites[i].frames);
	}
	free(rec->sites);
	free(rec->site_samples);
	for (int c = 0; c < rec->ncols; c++)
		free(rec->col[c]);
	free(rec->t_ns);
	free(rec->events);
	free(rec->load);
	free(rec);
}

/* deterministic noise */
static uint64_t synth_rng = 0x9E3779B97F4A7C15ULL;
static inline double synth_gauss(void)
{
	double u[2];
	for (int k = 0; k < 2; k++) {
		synth_rng ^= synth_rng >> 12;
		synth_rng ^= synth_rng << 25;
		synth_rng ^= synth_rng >> 27;
		u[k] = (double)((synth_rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
	}
	if (u[0] < 1e-12)
		u[0] = 1e-12;
	return sqrt(-2 * log(u[0])) * cos(2 * M_PI * u[1]);
}

#endif
