/* html_tool: writes HTML reports for the browser test and the benchmark.
 *
 *   html_tool synth SCENARIO NSAMPLES OUT.html [--summary]
 *   html_tool compare NSAMPLES OUT.html
 *   html_tool record SCENARIO NSAMPLES REC      writes the scenario as a real recording (record.c)
 *   html_tool render REC OUT.html               reads a recording (record_open) and writes its report
 *   html_tool render-compare REC_A REC_B OUT.html
 *   html_tool report REC OUT.html               with the analysis: html_report_file(), as the CLI
 *   html_tool report-compare REC_A REC_B OUT.html
 *
 * SCENARIO builds a recording in memory shaped like a real service run: full (heap, load,
 * cgroup, ready and exit), noheap, noload, nocgroup, single (one sample), oom (killed under its
 * limit), empty (no samples). Every run holds one spike that lasts less than one interval and is
 * seen only by rss_peak; its size is printed on stdout ("spike BYTES") so the test can check the
 * report kept it, and the time html_write_report() took ("write_ns NS"). --summary attaches an html_summary as the analysis would, so the test can check
 * that every field reaches the page. Exit 0, or 1 with a message on failure.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "html.h"
#include "util.h"

#define MiB UTIL_MiB
#define NCOLS 64

struct synth {
	struct recording rec;
	int64_t spike;
};

static uint64_t rng = 88172645463325252ULL;
static double rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static int64_t *column(struct recording *rec, const char *name)
{
	int i = rec->ncols++;
	rec->col_name[i] = name;
	rec->col[i] = malloc((rec->nsamples ? rec->nsamples : 1) * sizeof(int64_t));
	if (!rec->col[i]) {
		fprintf(stderr, "html_tool: out of memory\n");
		exit(1);
	}
	for (size_t k = 0; k < rec->nsamples; k++)
		rec->col[i][k] = HR_UNKNOWN;
	return rec->col[i];
}

static void synth_free(struct synth *s)
{
	for (int i = 0; i < s->rec.ncols; i++)
		free(s->rec.col[i]);
	free(s->rec.t_ns);
	free(s->rec.events);
	free(s->rec.load);
}

static void event(struct recording *rec, int64_t t, const char *kind, int64_t value, const char *detail)
{
	struct record_event *e = &rec->events[rec->nevents++];
	memset(e, 0, sizeof(*e));
	e->t_ns = t;
	snprintf(e->kind, sizeof(e->kind), "%s", kind);
	e->value = value;
	snprintf(e->detail, sizeof(e->detail), "%s", detail);
}

static int synth_make(const char *scenario, size_t n, struct synth *s)
{
	bool heap = true, load = true, cg = true, oom = false;
	if (strcmp(scenario, "single") == 0)
		n = 1;
	else if (strcmp(scenario, "empty") == 0)
		n = 0;
	else if (strcmp(scenario, "noheap") == 0)
		heap = false;
	else if (strcmp(scenario, "noload") == 0)
		load = false;
	else if (strcmp(scenario, "nocgroup") == 0)
		cg = false;
	else if (strcmp(scenario, "oom") == 0)
		oom = true;
	else if (strcmp(scenario, "full") != 0 && strcmp(scenario, "leak") != 0)
		return -EINVAL;
	bool leak = strcmp(scenario, "leak") == 0;

	memset(s, 0, sizeof(*s));
	struct recording *rec = &s->rec;
	struct run_info *run = &rec->run;
	snprintf(rec->path, sizeof(rec->path), "synthetic-%s.db", scenario);
	snprintf(run->mode, sizeof(run->mode), "run");
	snprintf(run->command, sizeof(run->command), "[\"./service\",\"--port\",\"8080\",\"<scenario=%s>\"]",
	         scenario);
	run->pid = 4242;
	run->interval_ns = 10000000LL;   /* 10 ms */
	run->limit_bytes = oom ? 200 * MiB : (cg ? 512 * MiB : HR_UNKNOWN);
	run->cgroup_version = cg ? 1 : 0;
	run->rss_peaks_exact = true;
	snprintf(run->heap_mode, sizeof(run->heap_mode), heap ? "stats" : "off");
	snprintf(run->heap_status, sizeof(run->heap_status), "%s",
	         heap ? "available" : "the target is statically linked: malloc cannot be interposed");
	snprintf(run->kernel, sizeof(run->kernel), "6.1.0-synthetic");
	snprintf(run->host, sizeof(run->host), "testhost");
	snprintf(run->version, sizeof(run->version), "test");
	run->started_wall_ns = 1700000000LL * 1000000000LL;
	run->finished = true;
	run->exit_code = 0;

	rec->nsamples = n;
	rec->t_ns = malloc((n ? n : 1) * sizeof(int64_t));
	rec->events = calloc(16, sizeof(struct record_event));
	int64_t dur = (int64_t)n * run->interval_ns;
	size_t nload = load && n > 1 ? (size_t)(dur / 1000000000LL) + 1 : 0;
	rec->load = calloc(nload ? nload : 1, sizeof(struct load_row));
	if (!rec->t_ns || !rec->events || !rec->load)
		return -ENOMEM;
	int64_t *rss = column(rec, "rss"), *peak = column(rec, "rss_peak"), *anon = column(rec, "rss_anon");
	int64_t *file = column(rec, "rss_file"), *shm = column(rec, "rss_shmem"), *thr = column(rec, "threads");
	int64_t *m_anon = column(rec, "map_anon"), *m_st = column(rec, "map_stacks"), *m_code = column(rec, "map_code");
	int64_t *m_files = column(rec, "map_files"), *m_shm = column(rec, "map_shmem"), *m_oth = column(rec, "map_other");
	int64_t *cgu = NULL, *cgp = NULL, *ws = NULL, *cgl = NULL, *live = NULL, *held = NULL;
	if (cg) {
		cgu = column(rec, "cg_usage");
		cgp = column(rec, "cg_usage_peak");
		ws = column(rec, "cg_working_set");
		cgl = column(rec, "cg_limit");
	}
	if (heap) {
		live = column(rec, "heap_live");
		held = column(rec, "heap_held");
	}

	/* shape: startup to 10 %, load from 30 % to 80 %, retention after it */
	size_t end = oom ? n * 6 / 10 + 1 : n;
	if (end > n)
		end = n;
	size_t spike_at = n > 2 ? n / 2 + 7 : 0;
	double held_level = 8;
	for (size_t i = 0; i < end; i++) {
		double f = n > 1 ? (double)i / (double)(n - 1) : 0;
		rec->t_ns[i] = (int64_t)i * run->interval_ns;
		double startup = f < 0.1 ? 60.0 * f / 0.1 : 60;
		if (f > 0.04 && f < 0.06)
			startup += 25;   /* the startup peak: caches warming */
		double traffic = load && f >= 0.3 && f < 0.8 ? 40 + 10 * rnd() : 0;
		if (traffic > 0 && held_level < 30)
			held_level += 0.001;
		double growth = leak || oom ? 180.0 * f : 0;
		double live_mb = 10 + startup * 0.6 + traffic * 0.8 + growth;
		double held_mb = held_level + traffic * 0.2 + 3 * rnd();
		double anon_mb = live_mb + held_mb + 12;
		double code_mb = 9, files_mb = 4, shm_mb = 1, stacks_mb = 2 + traffic / 20;
		int64_t r = (int64_t)((anon_mb + code_mb + files_mb + shm_mb + stacks_mb) * MiB);
		rss[i] = r;
		peak[i] = r + (int64_t)(rnd() * MiB);
		anon[i] = (int64_t)((anon_mb + stacks_mb) * MiB);
		file[i] = (int64_t)((code_mb + files_mb) * MiB);
		shm[i] = (int64_t)(shm_mb * MiB);
		thr[i] = 8 + (traffic > 0 ? 16 : 0);
		if (i % 100 == 0 || n < 100) {
			m_anon[i] = (int64_t)(anon_mb * MiB);
			m_st[i] = (int64_t)(stacks_mb * MiB);
			m_code[i] = (int64_t)(code_mb * MiB);
			m_files[i] = (int64_t)(files_mb * MiB);
			m_shm[i] = (int64_t)(shm_mb * MiB);
			m_oth[i] = 16384;
		}
		if (heap) {
			live[i] = (int64_t)(live_mb * MiB);
			held[i] = (int64_t)(held_mb * MiB);
		}
		if (cg) {
			cgu[i] = r + 30 * MiB;
			cgp[i] = peak[i] + 30 * MiB;
			ws[i] = r + 6 * MiB;
			cgl[i] = run->limit_bytes;
		}
	}
	if (n > 2 && spike_at < end) {
		/* 150 MiB for a few milliseconds: only the exact interval peak sees it */
		s->spike = rss[spike_at] + 150 * MiB;
		peak[spike_at] = s->spike;
		if (cg)
			cgp[spike_at] = s->spike + 30 * MiB;
	} else {
		s->spike = n ? peak[0] : 0;
	}
	if (oom) {
		rec->nsamples = end;
		dur = (int64_t)end * run->interval_ns;
	}
	run->duration_ns = dur;
	if (n > 1) {
		event(rec, 0, "start", 4242, "");
		event(rec, dur / 10, "ready", 0, "127.0.0.1:8080 accepted a connection");
	}
	for (size_t k = 0; k < nload; k++) {
		int64_t t = (int64_t)k * 1000000000LL;
		double f = dur ? (double)t / (double)dur : 0;
		if (f < 0.3 || f >= 0.8 || t >= dur)
			continue;
		struct load_row *lr = &rec->load[rec->nload++];
		lr->t_ns = t;
		lr->stage = 0;
		lr->connections = 32;
		lr->requests = 2000 + (int64_t)(500 * rnd());
		lr->inflight = 20 + (int64_t)(12 * rnd());
		lr->p50_us = 800;
		lr->p99_us = 4000;
		lr->max_us = 9000;
	}
	if (rec->nload)
		event(rec, rec->load[0].t_ns, "stage", 0, "32 connections");
	if (oom) {
		event(rec, dur, "limit_hit", 1, "");
		event(rec, dur, "oom_kill", 1, "memory.oom_control oom_kill 1");
		run->oom_killed = true;
		run->exit_code = -1;
		run->exit_signal = 9;
	} else if (n > 1) {
		event(rec, dur, "exit", 0, "");
	}
	return 0;
}

static void summary_fill(struct html_summary *sum, struct html_answer *ans, struct html_phase *ph, int64_t dur)
{
	html_summary_init(sum);
	sum->verdict = "TEST-VERDICT: memory stabilised after startup and tracks load <with markup>";
	sum->trend = "stable";
	ans[0] = (struct html_answer){"Growing or stable?", "TEST-ANSWER-1 stable after 2s"};
	ans[1] = (struct html_answer){"Heap or allocator?", "TEST-ANSWER-2 allocator retention"};
	ans[2] = (struct html_answer){"Did a short spike do it?", "TEST-ANSWER-3 yes, 150Mi for one interval"};
	sum->answers = ans;
	sum->nanswers = 3;
	sum->limit_bytes = 300 * MiB;
	sum->request_bytes = 200 * MiB;
	sum->recommendation = "TEST-RECOMMENDATION: peak plus 25 %";
	ph[0] = (struct html_phase){0, dur / 10, "startup"};
	ph[1] = (struct html_phase){dur / 10, dur * 3 / 10, "steady"};
	ph[2] = (struct html_phase){dur * 3 / 10, dur * 8 / 10, "load"};
	sum->phases = ph;
	sum->nphases = 3;
}

/* The synthetic recording through record.c, so a report is also tested on what record_open returns. */
static int synth_record(const struct synth *s, const char *path)
{
	const struct recording *rec = &s->rec;
	int idx[NCOLS];
	for (int c = 0; c < rec->ncols; c++) {
		idx[c] = -1;
		for (int k = 0; record_sample_columns[k]; k++)
			if (strcmp(record_sample_columns[k], rec->col_name[c]) == 0)
				idx[c] = k;
		if (idx[c] < 1)
			return -EINVAL;
	}
	struct record *r;
	int rc = record_create(path, &rec->run, &r);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < rec->nsamples; i++) {
		struct sample smp;
		sample_clear(&smp);
		/* struct sample is the columns in schema order, as record.c stores it */
		int64_t *f = (int64_t *)&smp;
		f[0] = rec->t_ns[i];
		for (int c = 0; c < rec->ncols; c++)
			f[idx[c]] = rec->col[c][i];
		record_push_sample(r, &smp);
		if (i % 4096 == 4095)
			record_sync(r);   /* let the writer drain: a full batch drops rows */
	}
	for (size_t i = 0; i < rec->nevents; i++)
		record_push_event(r, rec->events[i].t_ns, rec->events[i].kind, rec->events[i].value, rec->events[i].detail);
	for (size_t i = 0; i < rec->nload; i++)
		record_push_load(r, &rec->load[i]);
	if (record_dropped(r) > 0) {
		record_abandon(r);
		return -ENOBUFS;
	}
	return record_finish(r, &rec->run);
}

static int open_rec(const char *path, struct recording **ret)
{
	int r = record_open(path, NULL, ret);
	if (r < 0)
		fprintf(stderr, "html_tool: %s: %s\n", path, record_strerror(r));
	return r;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "record") == 0) {
		struct synth s;
		int r = synth_make(argv[2], strtoull(argv[3], NULL, 10), &s);
		if (r == 0)
			r = synth_record(&s, argv[4]);
		if (r < 0)
			fprintf(stderr, "html_tool: recording '%s' to %s: %s\n", argv[2], argv[4],
			        r == -ENOBUFS ? "rows dropped" : record_strerror(r));
		else
			printf("spike %lld\n", (long long)s.spike);
		synth_free(&s);
		return r < 0;
	}
	if (argc == 4 && strcmp(argv[1], "render") == 0) {
		struct recording *rec;
		if (open_rec(argv[2], &rec) < 0)
			return 1;
		int r = html_write_report(argv[3], rec, NULL);
		recording_free(rec);
		if (r < 0)
			fprintf(stderr, "html_tool: writing %s: %s\n", argv[3], strerror(-r));
		return r < 0;
	}
	if (argc == 4 && strcmp(argv[1], "report") == 0) {
		int r = html_report_file(argv[2], argv[3]);
		if (r < 0)
			fprintf(stderr, "html_tool: report of %s: %s\n", argv[2], record_strerror(r));
		return r < 0;
	}
	if (argc == 5 && strcmp(argv[1], "report-compare") == 0) {
		int r = html_compare_files(argv[2], argv[3], argv[4]);
		if (r < 0)
			fprintf(stderr, "html_tool: compare: %s\n", record_strerror(r));
		return r < 0;
	}
	if (argc == 5 && strcmp(argv[1], "render-compare") == 0) {
		struct recording *a, *b;
		if (open_rec(argv[2], &a) < 0)
			return 1;
		if (open_rec(argv[3], &b) < 0) {
			recording_free(a);
			return 1;
		}
		int r = html_write_compare(argv[4], a, b, NULL, NULL);
		recording_free(a);
		recording_free(b);
		if (r < 0)
			fprintf(stderr, "html_tool: writing %s: %s\n", argv[4], strerror(-r));
		return r < 0;
	}
	if (argc >= 5 && strcmp(argv[1], "synth") == 0) {
		struct synth s;
		size_t n = strtoull(argv[3], NULL, 10);
		int r = synth_make(argv[2], n, &s);
		if (r < 0) {
			fprintf(stderr, "html_tool: scenario '%s': %s\n", argv[2], strerror(-r));
			synth_free(&s);
			return 1;
		}
		struct html_summary sum;
		struct html_answer ans[3];
		struct html_phase ph[3];
		bool with = argc > 5 && strcmp(argv[5], "--summary") == 0;
		if (with)
			summary_fill(&sum, ans, ph, s.rec.run.duration_ns);
		int64_t t0 = util_now_ns();
		r = html_write_report(argv[4], &s.rec, with ? &sum : NULL);
		int64_t took = util_now_ns() - t0;
		if (r < 0) {
			fprintf(stderr, "html_tool: writing '%s': %s\n", argv[4], strerror(-r));
			synth_free(&s);
			return 1;
		}
		printf("spike %lld\nwrite_ns %lld\n", (long long)s.spike, (long long)took);
		synth_free(&s);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "compare") == 0) {
		struct synth a, b;
		size_t n = strtoull(argv[2], NULL, 10);
		int r = synth_make("full", n, &a);
		if (r == 0)
			r = synth_make("leak", n, &b);
		if (r == 0)
			r = html_write_compare(argv[3], &a.rec, &b.rec, NULL, NULL);
		synth_free(&a);
		synth_free(&b);
		if (r < 0) {
			fprintf(stderr, "html_tool: compare: %s\n", strerror(-r));
			return 1;
		}
		return 0;
	}
	fprintf(stderr, "usage: html_tool synth (full|leak|noheap|noload|nocgroup|single|oom|empty) NSAMPLES OUT "
	                "[--summary] | compare NSAMPLES OUT | record SCENARIO NSAMPLES REC | render REC OUT | "
	                "render-compare REC_A REC_B OUT | report REC OUT | report-compare REC_A REC_B OUT\n");
	return 2;
}
