/* stage_sites: the allocation sites of a sites-mode recording — which code holds the live heap at
 * the true peak and at the end, and which sites' live bytes grow through the steady phase (the
 * leak suspects, by their rise, with a Theil–Sen slope and a Mann–Kendall p like the trend's).
 *
 * The recording holds, about once a second, a snapshot of the sites with live bytes (at most
 * 200, the largest): rows sharing one t_ns. A site absent from a snapshot had nothing live, or too
 * little to be among them. The lists are of whole stacks (one site = one stack); a site is named
 * by its first frame that is not the allocator nor the standard library's allocation machinery.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze_stages.h"
#include "stats.h"

/* A snapshot within this of the peak instant may stand for it (one collection period): the
 * fullest of them, since the peak is the fullest instant. */
#define SITES_PEAK_WINDOW_NS 1000000000LL
#define SITES_SUSPECT_MIN_POINTS 4

/* Functions that allocate on behalf of their caller: a site is named after the frame above them.
 * Prefixes of demangled names (C, C++, Rust legacy and v0 demangle to these). */
static const char *const alloc_machinery[] = {
	"malloc", "calloc", "realloc", "free", "posix_memalign", "aligned_alloc", "memalign", "valloc",
	"operator new", "__gnu_cxx::new_allocator", "std::allocator", "std::__new_allocator",
	"std::allocator_traits", "__rust_alloc", "__rust_realloc", "__rdl_alloc", "__rdl_realloc", "__rg_alloc",
	"__rg_realloc", "alloc::alloc::", "alloc::raw_vec::", "<alloc::alloc::Global", "alloc::boxed::Box<T>::new",
	"<alloc::raw_vec::", "std::alloc::", "<std::alloc::System", "__libc_malloc", "__libc_calloc",
	"xmalloc", "xcalloc", "xrealloc", "g_malloc", "g_malloc0", "g_realloc", "strdup", "strndup",
	NULL,
};

static bool is_alloc_machinery(const char *fn)
{
	for (int i = 0; alloc_machinery[i]; i++) {
		size_t n = strlen(alloc_machinery[i]);
		char last = alloc_machinery[i][n - 1];
		/* a whole name, or a prefix that ends a path component ("alloc::raw_vec::") */
		if (strncmp(fn, alloc_machinery[i], n) == 0 &&
		    (fn[n] == '\0' || fn[n] == '(' || fn[n] == '<' || fn[n] == ':' || last == ':' || last == ' '))
			return true;
	}
	return false;
}

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');
	return b ? b + 1 : path;
}

static void site_name(const struct recording *rec, int64_t id, struct analyze_site *out)
{
	const struct rec_site *rs = recording_site(rec, id);
	out->site = id;
	out->pid = rs ? rs->pid : HR_UNKNOWN;
	out->offset = HR_UNKNOWN;
	out->name[0] = out->module[0] = '\0';
	out->symbolised = false;
	if (!rs || rs->nframes == 0) {
		snprintf(out->name, sizeof(out->name), "(other: stack not recorded)");
		return;
	}
	int d = 0;
	while (d < rs->nframes - 1 && rs->frames[d].function && is_alloc_machinery(rs->frames[d].function))
		d++;
	const struct rec_site_frame *f = &rs->frames[d];
	if (f->module)
		snprintf(out->module, sizeof(out->module), "%s", f->module);
	out->offset = f->offset;
	if (f->function) {
		snprintf(out->name, sizeof(out->name), "%s", f->function);
		out->symbolised = true;
	} else if (f->module && f->offset >= 0) {
		snprintf(out->name, sizeof(out->name), "%s+0x%llx", base_name(f->module), (unsigned long long)f->offset);
	} else {
		snprintf(out->name, sizeof(out->name), "0x%llx", (unsigned long long)f->pc);
	}
}

static int cmp_live_desc(const void *x, const void *y)
{
	const struct rec_site_sample *a = *(const struct rec_site_sample *const *)x;
	const struct rec_site_sample *b = *(const struct rec_site_sample *const *)y;
	if (a->live_bytes != b->live_bytes)
		return a->live_bytes > b->live_bytes ? -1 : 1;
	return a->site < b->site ? -1 : a->site > b->site;
}

/* The snapshot [from, to) of site_samples into list (top by live bytes). */
static int64_t snapshot_list(const struct recording *rec, size_t from, size_t to, struct analyze_site *list, int *n)
{
	int64_t total = 0;
	size_t m = to - from;
	const struct rec_site_sample **p = malloc((m ? m : 1) * sizeof(*p));
	*n = 0;
	if (!p)
		return HR_UNKNOWN;
	for (size_t i = 0; i < m; i++) {
		p[i] = &rec->site_samples[from + i];
		total += p[i]->live_bytes;   /* rows are bounded by RECORD_VALUE_MAX; 200 of them cannot overflow */
	}
	qsort(p, m, sizeof(*p), cmp_live_desc);
	for (size_t i = 0; i < m && *n < ANALYZE_MAX_SITES; i++) {
		if (p[i]->live_bytes <= 0)
			break;
		struct analyze_site *s = &list[(*n)++];
		site_name(rec, p[i]->site, s);
		s->live_bytes = p[i]->live_bytes;
		s->live_objects = p[i]->live_objects;
		s->alloc_bytes = p[i]->alloc_bytes;
		s->share = total > 0 ? (double)p[i]->live_bytes / (double)total : NAN;
		s->slope_bytes_per_s = s->mk_p = NAN;
		s->change_bytes = HR_UNKNOWN;
	}
	free(p);
	return total;
}

struct suspect_work {
	int64_t site;
	size_t npoints;
};

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return a < b ? -1 : a > b;
}

static int cmp_change_desc(const void *x, const void *y)
{
	const struct analyze_site *a = x, *b = y;
	return a->change_bytes > b->change_bytes ? -1 : a->change_bytes < b->change_bytes;
}

/* Sites whose live bytes grow through [t0, t1]: Theil–Sen slope, Mann–Kendall p below
 * o->p_sites (a tenth of the trend's: many sites are judged at once, and a level site's sampled
 * bytes jump from snapshot to snapshot), and a rise over the phase of at least the trend's band
 * (o->band_min_bytes, o->band_frac of the site's last level). Each site's series is its rows in
 * the phase; a site must be in at least half the snapshots (one that drops out of the top rows
 * is not judged). */
static void find_suspects(const struct recording *rec, size_t from, size_t to, size_t nsnap,
			  const struct analyze_options *o, struct analysis *a)
{
	size_t m = to - from;
	int64_t *ids = malloc((m ? m : 1) * sizeof(*ids));
	double *ts = malloc((m ? m : 1) * sizeof(double)), *xs = malloc((m ? m : 1) * sizeof(double));
	struct analyze_site cand[64];
	int ncand = 0;
	if (!ids || !ts || !xs)
		goto out;
	for (size_t i = 0; i < m; i++)
		ids[i] = rec->site_samples[from + i].site;
	qsort(ids, m, sizeof(*ids), cmp_i64);
	double steady_s = (double)(rec->site_samples[to - 1].t_ns - rec->site_samples[from].t_ns) / 1e9;
	for (size_t i = 0; i < m; i++) {
		if (i > 0 && ids[i] == ids[i - 1])
			continue;
		size_t k = 0;
		int64_t last = 0;
		for (size_t j = from; j < to; j++)
			if (rec->site_samples[j].site == ids[i]) {
				ts[k] = (double)rec->site_samples[j].t_ns / 1e9;
				xs[k] = (double)rec->site_samples[j].live_bytes;
				last = rec->site_samples[j].live_bytes;
				k++;
			}
		if (k < SITES_SUSPECT_MIN_POINTS || k * 2 < nsnap)
			continue;
		double slope = NAN;
		struct stats_mk mk;
		if (stats_theil_sen(ts, xs, k, &slope, NULL) < 0 || !(slope > 0) || stats_mann_kendall(ts, xs, k, &mk) < 0)
			continue;
		double rise = slope * steady_s;
		if (mk.p >= o->p_sites || rise < fmax((double)o->band_min_bytes, o->band_frac * (double)last))
			continue;
		struct analyze_site s;
		site_name(rec, ids[i], &s);
		s.live_bytes = last;
		s.live_objects = HR_UNKNOWN;
		s.alloc_bytes = HR_UNKNOWN;
		s.share = NAN;
		s.slope_bytes_per_s = slope;
		s.mk_p = mk.p;
		s.change_bytes = (int64_t)rise;
		if (ncand < (int)(sizeof(cand) / sizeof(cand[0])))
			cand[ncand++] = s;
	}
	qsort(cand, (size_t)ncand, sizeof(cand[0]), cmp_change_desc);
	for (int i = 0; i < ncand && a->nsuspects < ANALYZE_MAX_SUSPECTS; i++)
		a->suspects[a->nsuspects++] = cand[i];
out:
	free(ids);
	free(ts);
	free(xs);
}

/* [from, to) of the snapshot that starts at index i */
static size_t snapshot_end(const struct recording *rec, size_t i)
{
	size_t j = i;
	while (j < rec->nsite_samples && rec->site_samples[j].t_ns == rec->site_samples[i].t_ns)
		j++;
	return j;
}

void stage_sites(struct series *s, const struct analyze_options *o, struct analysis *a)
{
	const struct recording *rec = s->rec;
	a->nsites_peak = a->nsites_end = a->nsuspects = 0;
	if (rec->nsite_samples == 0)
		return;
	a->sites = true;
	a->sites_interval = rec->heap_sample_interval;
	snprintf(a->sites_note, sizeof(a->sites_note), "%s", rec->heap_sites_note);
	int64_t alive_end = s->alive > 0 ? s->t[s->alive - 1] : INT64_MAX;
	/* the end: the last snapshot while the process lived (or the last of all) */
	size_t last = 0, nsnap_all = 0;
	for (size_t i = 0; i < rec->nsite_samples; i = snapshot_end(rec, i)) {
		nsnap_all++;
		if (rec->site_samples[i].t_ns <= alive_end || last == 0)
			last = i;
	}
	a->sites_end_t_ns = rec->site_samples[last].t_ns;
	a->sites_end_total = snapshot_list(rec, last, snapshot_end(rec, last), a->sites_end, &a->nsites_end);

	/* the peak: the fullest snapshot within SITES_PEAK_WINDOW_NS of the true peak, else the nearest */
	if (a->peak_t_ns != HR_UNKNOWN) {
		size_t best = SIZE_MAX, near = 0;
		int64_t best_total = -1, near_d = INT64_MAX;
		for (size_t i = 0; i < rec->nsite_samples;) {
			size_t j = snapshot_end(rec, i);
			int64_t t = rec->site_samples[i].t_ns, d = t > a->peak_t_ns ? t - a->peak_t_ns : a->peak_t_ns - t;
			int64_t total = 0;
			for (size_t k = i; k < j; k++)
				total += rec->site_samples[k].live_bytes;
			if (d <= SITES_PEAK_WINDOW_NS && total > best_total) {
				best = i;
				best_total = total;
			}
			if (d < near_d) {
				near = i;
				near_d = d;
			}
			i = j;
		}
		size_t pick = best != SIZE_MAX ? best : near;
		a->sites_peak_t_ns = rec->site_samples[pick].t_ns;
		a->sites_peak_total = snapshot_list(rec, pick, snapshot_end(rec, pick), a->sites_peak, &a->nsites_peak);
	}

	/* the suspects: through the steady phase; without one, after startup */
	int64_t t0 = s->s1 > s->s0 && s->s0 < s->n ? s->t[s->s0] : a->startup_end_ns != HR_UNKNOWN ? a->startup_end_ns : 0;
	int64_t t1 = s->s1 > s->s0 && s->s1 <= s->n ? s->t[s->s1 - 1] : alive_end;
	size_t from = SIZE_MAX, to = 0, nsnap = 0;
	for (size_t i = 0; i < rec->nsite_samples; i = snapshot_end(rec, i)) {
		int64_t t = rec->site_samples[i].t_ns;
		if (t < t0 || t > t1)
			continue;
		if (from == SIZE_MAX)
			from = i;
		to = snapshot_end(rec, i);
		nsnap++;
	}
	if (from != SIZE_MAX && nsnap >= SITES_SUSPECT_MIN_POINTS)
		find_suspects(rec, from, to, nsnap, o, a);
}
