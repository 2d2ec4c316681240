#include "sampler.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MS 1000000LL

static int find_proc(const struct sampler *s, pid_t pid)
{
	for (int i = 0; i < s->nprocs; i++)
		if (s->procs[i].pid == pid)
			return i;
	return -1;
}

static void drop_proc(struct sampler *s, int i)
{
	probe_proc_close(&s->procs[i]);
	s->procs[i] = s->procs[--s->nprocs];
}

static int add_proc(struct sampler *s, pid_t pid)
{
	if (s->nprocs >= SAMPLER_MAX_PROCS) {
		s->warnings |= SAMPLER_WARN_TOO_MANY;
		return -ENOSPC;
	}
	if (s->nprocs == s->cap_procs) {
		int cap = s->cap_procs ? s->cap_procs * 2 : 4;
		if (cap > SAMPLER_MAX_PROCS)
			cap = SAMPLER_MAX_PROCS;
		struct proc_handle *p = realloc(s->procs, (size_t)cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		s->procs = p;
		s->cap_procs = cap;
	}
	int rc = probe_proc_open(&s->procs[s->nprocs], s->cfg.proc_root, pid);
	if (rc == -EACCES)
		s->warnings |= SAMPLER_WARN_EACCES;
	if (rc < 0)
		return rc;
	if (s->procs[s->nprocs].fd_clear_refs < 0 && !s->cfg.keep_hwm)
		s->warnings |= SAMPLER_WARN_HWM_RESET;
	s->nprocs++;
	return 0;
}

void sampler_refresh_tree(struct sampler *s)
{
	pid_t pids[SAMPLER_MAX_PROCS * 2];
	int n;
	if (s->cfg.pids_from_cgroup && s->have_cg)
		n = probe_cgroup_pids(&s->cg, pids, (int)(sizeof(pids) / sizeof(pids[0])));
	else if (s->cfg.root_pid > 0)
		n = probe_tree_scan(s->cfg.proc_root, s->cfg.root_pid, pids, (int)(sizeof(pids) / sizeof(pids[0])));
	else
		n = 0;
	if (n < 0)
		n = 0; /* the root is gone: keep the handles we have until their reads fail */
	if (n == 0 && s->cfg.root_pid > 0 && !s->cfg.pids_from_cgroup)
		return;
	/* close what left, open what came */
	for (int i = s->nprocs - 1; i >= 0; i--) {
		bool present = false;
		for (int k = 0; k < n && !present; k++)
			present = pids[k] == s->procs[i].pid;
		if (!present)
			drop_proc(s, i);
	}
	for (int k = 0; k < n; k++)
		if (find_proc(s, pids[k]) < 0)
			add_proc(s, pids[k]);
}

int sampler_init(struct sampler *s, const struct sampler_config *cfg)
{
	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	if (!s->cfg.proc_root)
		s->cfg.proc_root = "/proc";
	if (!s->cfg.rollup_every_ns)
		s->cfg.rollup_every_ns = 500 * MS;
	if (!s->cfg.smaps_every_ns)
		s->cfg.smaps_every_ns = 1000 * MS;
	if (!s->cfg.tree_every_ns)
		s->cfg.tree_every_ns = 200 * MS;
	if (!s->cfg.cgstat_every_ns)
		s->cfg.cgstat_every_ns = 100 * MS;
	s->inactive_file = s->active_file = s->cg_anon = s->cg_file = s->cg_shmem = HR_UNKNOWN;
	s->cg_limit = s->oom_kills = s->limit_hits = HR_UNKNOWN;
	if (cfg->cgroup_path) {
		int rc = probe_cgroup_open(&s->cg, cfg->cgroup_path);
		if (rc < 0)
			return rc;
		s->have_cg = true;
	}
	if (cfg->root_pid > 0) {
		int rc = add_proc(s, cfg->root_pid);
		if (rc < 0) {
			sampler_destroy(s);
			return rc;
		}
	}
	sampler_refresh_tree(s);
	return 0;
}

void sampler_destroy(struct sampler *s)
{
	while (s->nprocs > 0)
		drop_proc(s, s->nprocs - 1);
	free(s->procs);
	s->procs = NULL;
	s->cap_procs = 0;
	if (s->have_cg)
		probe_cgroup_close(&s->cg);
	s->have_cg = false;
}

static void add(int64_t *acc, int64_t v)
{
	if (v == HR_UNKNOWN)
		return;
	*acc = *acc == HR_UNKNOWN ? v : *acc + v;
}

static void take_cgroup(struct sampler *s, int64_t now, struct sample *out)
{
	struct cgroup_stats cs;
	memset(&cs, 0xff, sizeof(cs)); /* every field HR_UNKNOWN (-1) */
	bool full = now >= s->next_cgstat;
	if (probe_cgroup_read(&s->cg, full, &cs) < 0)
		return;
	if (full) {
		s->next_cgstat = now + s->cfg.cgstat_every_ns;
		s->inactive_file = cs.inactive_file;
		s->active_file = cs.active_file;
		s->cg_anon = cs.anon;
		s->cg_file = cs.file;
		s->cg_shmem = cs.shmem;
		s->cg_limit = cs.limit;
		s->oom_kills = cs.oom_kills;
		s->limit_hits = cs.limit_hits;
		out->cg_inactive_file = cs.inactive_file;
		out->cg_active_file = cs.active_file;
		out->cg_anon = cs.anon;
		out->cg_file = cs.file;
		out->cg_shmem = cs.shmem;
	}
	out->cg_usage = cs.usage;
	if (s->cfg.keep_v1_peak && (s->cg.version == 1 || !s->cg.peak_resettable)) {
		/* a peak since creation (v1 max_usage left alone, or a v2 memory.peak we may not reset:
		 * before 6.12, or a read-only mount): this interval's peak only if it rose during it */
		bool rose = cs.peak != HR_UNKNOWN && cs.peak > s->last_cg_peak;
		out->cg_usage_peak = rose && cs.peak > cs.usage ? cs.peak : cs.usage;
	} else {
		out->cg_usage_peak = cs.peak != HR_UNKNOWN && cs.peak > cs.usage ? cs.peak : cs.usage;
	}
	if (cs.peak != HR_UNKNOWN)
		s->last_cg_peak = cs.peak;
	out->cg_limit = s->cg_limit;
	out->cg_oom_kills = s->oom_kills;
	out->cg_limit_hits = s->limit_hits;
	/* between memory.stat reads, the last inactive_file stands in: it moves slowly */
	if (s->inactive_file != HR_UNKNOWN)
		out->cg_working_set = cs.usage > s->inactive_file ? cs.usage - s->inactive_file : 0;
	if (s->cfg.keep_v1_peak && s->cg.version == 1)
		return;
	if (s->cg.peak_resettable && probe_cgroup_reset_peak(&s->cg) < 0)
		s->warnings |= SAMPLER_WARN_CG_PEAK;
	if (!s->cg.peak_resettable)
		s->warnings |= SAMPLER_WARN_CG_PEAK;
}

int sampler_take(struct sampler *s, int64_t t_ns, struct sample *out)
{
	int64_t now = util_now_ns();
	sample_clear(out);
	out->t_ns = t_ns;
	if (now >= s->next_tree) {
		sampler_refresh_tree(s);
		s->next_tree = now + s->cfg.tree_every_ns;
	}
	bool status = !(s->cfg.keep_hwm && s->cfg.hwm_every_ns) || now >= s->next_hwm;
	if (status && s->cfg.hwm_every_ns)
		s->next_hwm = now + s->cfg.hwm_every_ns;
	bool rollup = now >= s->next_rollup;
	bool smaps = now >= s->next_smaps;
	int64_t peak_sum = HR_UNKNOWN;
	int64_t t_smaps = 0;

	for (int i = s->nprocs - 1; i >= 0; i--) {
		struct proc_handle *h = &s->procs[i];
		struct proc_status st;
		if (status) {
			if (probe_proc_read_status(h, &st) < 0) {
				drop_proc(s, i);
				continue;
			}
		} else {
			memset(&st, 0xff, sizeof(st)); /* every field HR_UNKNOWN but the RSS */
			if (probe_proc_read_statm_rss(h, &st.rss) < 0) {
				drop_proc(s, i);
				continue;
			}
		}
		int64_t peak = st.hwm > st.rss ? st.hwm : st.rss;
		if (s->cfg.keep_hwm) {
			/* VmHWM since start: this interval's peak only if it rose during it */
			if (!(st.hwm != HR_UNKNOWN && st.hwm > h->last_hwm))
				peak = st.rss;
			if (st.hwm != HR_UNKNOWN)
				h->last_hwm = st.hwm;
		} else if (probe_proc_reset_hwm(h) < 0) {
			s->warnings |= SAMPLER_WARN_HWM_RESET;
		}
		add(&out->rss, st.rss);
		add(&out->rss_anon, st.rss_anon);
		add(&out->rss_file, st.rss_file);
		add(&out->rss_shmem, st.rss_shmem);
		add(&out->swap, st.swap);
		add(&out->threads, st.threads);
		add(&peak_sum, peak);
		if (rollup) {
			struct proc_rollup r;
			if (probe_proc_read_rollup(h, &r) == 0)
				add(&out->pss, r.pss);
		}
		if (smaps) {
			int64_t t0 = util_now_ns();
			struct smaps_breakdown b;
			if (probe_proc_read_smaps(h, &b) == 0) {
				add(&out->map_anon, b.anon);
				add(&out->map_stacks, b.stacks);
				add(&out->map_code, b.code);
				add(&out->map_files, b.files);
				add(&out->map_shmem, b.shmem);
				add(&out->map_other, b.other);
			}
			t_smaps += util_now_ns() - t0;
		}
	}
	out->nprocs = s->nprocs;
	out->rss_peak = peak_sum;
	if (rollup)
		s->next_rollup = now + s->cfg.rollup_every_ns;
	if (smaps) {
		/* keep smaps under ~1 % of the time: a 2000-mapping target costs ~2 ms a read */
		int64_t gap = t_smaps * 100 > s->cfg.smaps_every_ns ? t_smaps * 100 : s->cfg.smaps_every_ns;
		s->next_smaps = now + gap;
	}
	if (s->have_cg)
		take_cgroup(s, now, out);
	if (s->cfg.read_heap && s->nprocs > 0) {
		pid_t pids[SAMPLER_MAX_PROCS];
		for (int i = 0; i < s->nprocs; i++)
			pids[i] = s->procs[i].pid;
		s->cfg.read_heap(s->cfg.heap_ctx, pids, s->nprocs, out);
	}
	s->samples++;
	return s->nprocs > 0 ? 0 : -ESRCH;
}
