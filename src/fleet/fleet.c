#include "fleet.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"
#include "size.h"
#include "util.h"

#define SEP "\x1f"   /* key separator: prom_label turns control bytes into '?', so no label holds it */
#define MAX_DAYS 64

/* ---- a small string-keyed hash map (open addressing); a fleet has thousands of keys ---- */

struct map {
	char **keys;
	void **vals;
	size_t cap, n;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void *map_get(const struct map *m, const char *key)
{
	if (!m->cap)
		return NULL;
	for (size_t i = hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->keys[i])
			return NULL;
		if (strcmp(m->keys[i], key) == 0)
			return m->vals[i];
	}
}

static int map_put(struct map *m, const char *key, void *val)
{
	if ((m->n + 1) * 2 > m->cap) {
		struct map g = {0};
		g.cap = m->cap ? m->cap * 2 : 64;
		g.keys = calloc(g.cap, sizeof(*g.keys));
		g.vals = calloc(g.cap, sizeof(*g.vals));
		if (!g.keys || !g.vals) {
			free(g.keys);
			free(g.vals);
			return -ENOMEM;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->keys[i]) {
				size_t j = hash(m->keys[i]) & (g.cap - 1);
				while (g.keys[j])
					j = (j + 1) & (g.cap - 1);
				g.keys[j] = m->keys[i];
				g.vals[j] = m->vals[i];
			}
		g.n = m->n;
		free(m->keys);
		free(m->vals);
		*m = g;
	}
	size_t i = hash(key) & (m->cap - 1);
	while (m->keys[i] && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	if (!m->keys[i]) {
		if (!(m->keys[i] = strdup(key)))
			return -ENOMEM;
		m->n++;
	}
	m->vals[i] = val;
	return 0;
}

static void map_free(struct map *m, bool free_vals)
{
	for (size_t i = 0; i < m->cap; i++) {
		free(m->keys[i]);
		if (free_vals)
			free(m->vals[i]);
	}
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/* ---- what the queries collect ---- */

/* one per namespace/pod/container */
struct ctr {
	char ns[128], pod[256], container[128];
	double ws_max, ws_p95, count, first, last;   /* NAN when absent */
	double exact;
	double req, lim;
	double restarts, restarts_inc, resets, ooms, oom_any;
	double day[MAX_DAYS];                        /* daily working-set peaks, NAN when absent */
};

/* one per namespace/pod */
struct pod {
	char kind[32], name[256];
	int owners;                  /* distinct controller owners seen */
	char other[300];             /* the second owner, for the conflict note */
};

struct state {
	struct fleet_result *r;
	struct map ctrs, pods, rs, jobs, uids;
	int err;
	int which;                   /* the query being collected */
	double day0, day_step;
	int ndays;
};

enum { Q_WS_MAX, Q_WS_P95, Q_WS_COUNT, Q_WS_FIRST, Q_WS_LAST, Q_EXACT, Q_REQ, Q_LIM, Q_RESTARTS, Q_RESTARTS_INC,
       Q_RESETS, Q_OOM_ANY, Q_OOMS, Q_DAYS, Q_POD_INFO, Q_POD_OWNER, Q_RS_OWNER, Q_JOB_OWNER };

static int note(struct fleet_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int note(struct fleet_result *r, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	char **n = realloc(r->notes, (size_t)(r->nnotes + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	r->notes = n;
	if (!(n[r->nnotes] = strdup(line)))
		return -ENOMEM;
	r->nnotes++;
	return 0;
}

static struct ctr *ctr_get(struct state *s, const char *ns, const char *pod, const char *container, bool create)
{
	char key[600];
	snprintf(key, sizeof(key), "%s" SEP "%s" SEP "%s", ns, pod, container);
	struct ctr *c = map_get(&s->ctrs, key);
	if (c || !create)
		return c;
	if (!(c = calloc(1, sizeof(*c)))) {
		s->err = -ENOMEM;
		return NULL;
	}
	snprintf(c->ns, sizeof(c->ns), "%s", ns);
	snprintf(c->pod, sizeof(c->pod), "%s", pod);
	snprintf(c->container, sizeof(c->container), "%s", container);
	c->ws_max = c->ws_p95 = c->count = c->first = c->last = c->exact = NAN;
	c->req = c->lim = c->restarts = c->restarts_inc = c->resets = c->ooms = c->oom_any = NAN;
	for (int d = 0; d < MAX_DAYS; d++)
		c->day[d] = NAN;
	if (map_put(&s->ctrs, key, c) < 0) {
		free(c);
		s->err = -ENOMEM;
		return NULL;
	}
	return c;
}

static void set_owner(struct state *s, const char *ns, const char *pod, const char *kind, const char *name)
{
	char key[400];
	snprintf(key, sizeof(key), "%s" SEP "%s", ns, pod);
	struct pod *p = map_get(&s->pods, key);
	if (!p) {
		if (!(p = calloc(1, sizeof(*p))) || map_put(&s->pods, key, p) < 0) {
			free(p);
			s->err = -ENOMEM;
			return;
		}
	}
	if (p->owners && strcmp(p->kind, kind) == 0 && strcmp(p->name, name) == 0)
		return;
	if (p->owners++ == 0) {
		snprintf(p->kind, sizeof(p->kind), "%s", kind);
		snprintf(p->name, sizeof(p->name), "%s", name);
	} else if (!p->other[0]) {
		snprintf(p->other, sizeof(p->other), "%s/%s", kind, name);
	}
}

/* kind/name of a ReplicaSet's or Job's own owner */
static void set_parent(struct state *s, struct map *m, const char *ns, const char *child, const char *kind,
                       const char *name)
{
	char key[400];
	snprintf(key, sizeof(key), "%s" SEP "%s", ns, child);
	if (map_get(m, key))
		return;
	char *v = malloc(300);
	if (!v || map_put(m, key, v) < 0) {
		free(v);
		s->err = -ENOMEM;
		return;
	}
	snprintf(v, 300, "%s/%s", kind, name);
}

static void on_sample(void *ctx, json_object *m, double ts, double value)
{
	struct state *s = ctx;
	char ns[128], pod[256], ctn[128], a[256], b[256];
	if (s->err)
		return;
	prom_label(m, "namespace", ns, sizeof(ns));
	prom_label(m, "pod", pod, sizeof(pod));
	prom_label(m, "container", ctn, sizeof(ctn));
	switch (s->which) {
	case Q_POD_INFO:
		prom_label(m, "uid", a, sizeof(a));
		if (a[0] && pod[0]) {
			char *v = malloc(400);
			if (!v || map_put(&s->uids, a, v) < 0) {
				free(v);
				s->err = -ENOMEM;
				return;
			}
			snprintf(v, 400, "%s" SEP "%s", ns, pod);
		}
		return;
	case Q_POD_OWNER:
		prom_label(m, "owner_kind", a, sizeof(a));
		prom_label(m, "owner_name", b, sizeof(b));
		if (pod[0])
			set_owner(s, ns, pod, a[0] ? a : "<none>", b);
		return;
	case Q_RS_OWNER:
	case Q_JOB_OWNER:
		prom_label(m, s->which == Q_RS_OWNER ? "replicaset" : "job_name", pod, sizeof(pod));
		prom_label(m, "owner_kind", a, sizeof(a));
		prom_label(m, "owner_name", b, sizeof(b));
		if (pod[0] && a[0] && strcmp(a, "<none>") != 0)
			set_parent(s, s->which == Q_RS_OWNER ? &s->rs : &s->jobs, ns, pod, a, b);
		return;
	case Q_EXACT:
		if (!pod[0]) {
			/* an exporter that labels by pod uid only: find the pod through kube_pod_info */
			prom_label(m, "uid", a, sizeof(a));
			const char *np = a[0] ? map_get(&s->uids, a) : NULL;
			const char *sep = np ? strchr(np, SEP[0]) : NULL;
			if (!sep)
				return;
			snprintf(ns, sizeof(ns), "%.*s", (int)(sep - np), np);
			snprintf(pod, sizeof(pod), "%s", sep + 1);
		}
		break;
	default:
		break;
	}
	if (!pod[0] || !ctn[0])
		return;
	/* only cAdvisor's working set creates a container: the others describe one we measure */
	struct ctr *c = ctr_get(s, ns, pod, ctn, s->which == Q_WS_MAX || s->which == Q_EXACT);
	if (!c)
		return;
	switch (s->which) {
	case Q_WS_MAX: c->ws_max = value; break;
	case Q_WS_P95: c->ws_p95 = value; break;
	case Q_WS_COUNT: c->count = value; break;
	case Q_WS_FIRST: c->first = value; break;
	case Q_WS_LAST: c->last = value; break;
	case Q_EXACT: c->exact = isnan(c->exact) || value > c->exact ? value : c->exact; break;
	case Q_REQ: c->req = value; break;
	case Q_LIM: c->lim = value; break;
	case Q_RESTARTS: c->restarts = value; break;
	case Q_RESTARTS_INC: c->restarts_inc = value; break;
	case Q_RESETS: c->resets = value; break;
	case Q_OOM_ANY: c->oom_any = value; break;
	case Q_OOMS: c->ooms = value; break;
	case Q_DAYS: {
		int d = (int)lround((ts - s->day0) / s->day_step);
		if (d >= 0 && d < s->ndays && d < MAX_DAYS)
			c->day[d] = value;
		break;
	}
	default: break;
	}
}

/* ---- owners without kube-state-metrics ---- */

/* the alphabet of Kubernetes' generated suffixes (k8s.io/apimachinery rand.SafeEncodeString) */
static bool safe_suffix(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr("bcdfghjklmnpqrstvwxz2456789", s[i]))
			return false;
	return n > 0;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return n > 0;
}

void fleet_guess_owner(const char *pod, char *name, size_t namelen, const char **kind)
{
	size_t n = strlen(pod);
	const char *d1 = strrchr(pod, '-');
	*kind = "Pod";
	snprintf(name, namelen, "%s", pod);
	if (!d1 || d1 == pod)
		return;
	size_t tail = n - (size_t)(d1 - pod) - 1;
	if (all_digits(d1 + 1, tail)) {
		*kind = "StatefulSet";            /* web-0, web-1 */
		snprintf(name, namelen, "%.*s", (int)(d1 - pod), pod);
		return;
	}
	if (tail != 5 || !safe_suffix(d1 + 1, 5))
		return;
	/* name-<hash>-<5>: a Deployment's ReplicaSet hash (safe alphabet, up to 10) or a CronJob's
	 * scheduled minute (digits); name-<5>: a DaemonSet's or Job's pod */
	const char *d2 = d1 - 1;
	while (d2 > pod && *d2 != '-')
		d2--;
	size_t mid = (size_t)(d1 - d2) - 1;
	if (d2 > pod && all_digits(d2 + 1, mid) && mid >= 8) {
		*kind = "CronJob";
		snprintf(name, namelen, "%.*s", (int)(d2 - pod), pod);
	} else if (d2 > pod && mid >= 6 && mid <= 10 && safe_suffix(d2 + 1, mid)) {
		*kind = "Deployment";
		snprintf(name, namelen, "%.*s", (int)(d2 - pod), pod);
	} else {
		*kind = "DaemonSet|Job";
		snprintf(name, namelen, "%.*s", (int)(d1 - pod), pod);
	}
}

/* ---- queries ---- */

/* Adds `extra` matchers inside a selector: '{a="b"}' + 'c!=""' -> '{a="b",c!=""}'. */
static void selector_with(const char *sel, const char *extra, char *out, size_t len)
{
	bool has = sel && *sel && strcmp(sel, "{}") != 0;
	bool ex = extra && *extra;
	if (!has)
		snprintf(out, len, "{%s}", ex ? extra : "");
	else if (!ex)
		snprintf(out, len, "%s", sel);
	else
		snprintf(out, len, "%.*s,%s}", (int)(strlen(sel) - 1), sel, extra);
}

struct query {
	int which;
	const char *what;            /* for the timings in the result */
	const char *tmpl;            /* $S selector (with `extra`), $W window, $R step, $O the OOMKilled selector */
	const char *extra;           /* matchers added to the selector */
};

#define CTR_ONLY "container!=\"\",container!=\"POD\""
#define BY_CTR "max by (namespace,pod,container) "
#define CWS "container_memory_working_set_bytes$S"
#define RST "kube_pod_container_status_restarts_total$S"
#define RST_INC "clamp_min(" RST " - " RST " offset $R, 0)"
/* Order matters: pod uids before the exact peaks that may be labelled by uid only. */
static const struct query queries[] = {
	{Q_POD_INFO, "pod_info", "max by (namespace,pod,uid) (max_over_time(kube_pod_info$S[$W]))", NULL},
	{Q_WS_MAX, "working_set_max", BY_CTR "(max_over_time(" CWS "[$W]))", CTR_ONLY},
	{Q_EXACT, "exact_peaks", "max by (namespace,pod,container,uid) (max_over_time(headroom_rss_peak_bytes$S[$W]))", NULL},
	{Q_WS_P95, "working_set_p95", BY_CTR "(quantile_over_time(0.95, " CWS "[$W]))", CTR_ONLY},
	/* summed: cAdvisor starts a new series (a new cgroup id) when a container restarts. A second
	 * job scraping the same cAdvisor doubles every count and halves the spacing estimated from
	 * them alike, so the gap test still compares like with like */
	{Q_WS_COUNT, "working_set_points", "sum by (namespace,pod,container) (count_over_time(" CWS "[$W]))", CTR_ONLY},
	/* first and last step at which the series is present; timestamp() would be exact but makes
	 * Prometheus 2.42 a hundred times slower here (33 s against 0.3 s for a week of 900 pods) */
	{Q_WS_FIRST, "first_sample", "min by (namespace,pod,container) (min_over_time((" CWS " * 0 + time())[$W:$R]))", CTR_ONLY},
	{Q_WS_LAST, "last_sample", BY_CTR "(max_over_time((" CWS " * 0 + time())[$W:$R]))", CTR_ONLY},
	{Q_REQ, "requests", BY_CTR "(last_over_time(kube_pod_container_resource_requests$S[$W]))", "resource=\"memory\""},
	{Q_LIM, "limits", BY_CTR "(last_over_time(kube_pod_container_resource_limits$S[$W]))", "resource=\"memory\""},
	/* increments only: a counter that starts again from 0 (pod re-created) adds nothing false */
	/* Restarts: a counter's rise (max - min) where it never went down; where it did (a pod
	 * re-created under the same name) only its increments, summed over a subquery: exact but costly
	 * (steps x series), so it is asked only for the pods whose counter reset ($P) */
	{Q_RESETS, "counter_resets", BY_CTR "(resets(" RST "[$W]))", NULL},
	{Q_RESTARTS, "restarts", BY_CTR "(max_over_time(" RST "[$W]) - min_over_time(" RST "[$W]))", NULL},
	{Q_RESTARTS_INC, "restarts_with_resets", BY_CTR "(sum_over_time(" RST_INC "[$W:$R]))", "$P"},
	{Q_OOM_ANY, "oom_reason_seen", BY_CTR "(max_over_time(kube_pod_container_status_last_terminated_reason$O[$W]))", NULL},
	/* restarts whose last termination reason, sampled with the restart (within one step), is
	 * OOMKilled; an instant selector would also see the reason of the restart before for 5 min
	 * where no staleness marker ends it */
	{Q_OOMS, "oom_kills", BY_CTR "(sum_over_time((" RST_INC " * on(namespace,pod,container) group_left() " BY_CTR
	         "(last_over_time(kube_pod_container_status_last_terminated_reason$O[$R]) == 1))[$W:$R]))", "$P"},
	/* the VPA's daily peaks: a range query, one point per day */
	{Q_DAYS, "daily_peaks", BY_CTR "(max_over_time(" CWS "[$D]))", CTR_ONLY},
	{Q_POD_OWNER, "pod_owners", "max by (namespace,pod,owner_kind,owner_name) (max_over_time(kube_pod_owner$S[$W]))",
	 "owner_is_controller!=\"false\""},
	{Q_RS_OWNER, "replicaset_owners", "max by (namespace,replicaset,owner_kind,owner_name) (max_over_time(kube_replicaset_owner$S[$W]))", NULL},
	{Q_JOB_OWNER, "job_owners", "max by (namespace,job_name,owner_kind,owner_name) (max_over_time(kube_job_owner$S[$W]))", NULL},
};
_Static_assert(sizeof(queries) / sizeof(queries[0]) == FLEET_QUERIES, "FLEET_QUERIES counts the queries");

/* Expands a template; -ENAMETOOLONG when it does not fit. */
static int expand(const char *tmpl, const char *sel, const char *oom, long long w, long long step, long long day,
                  char *out, size_t len)
{
	size_t o = 0;
	for (const char *p = tmpl; *p; p++) {
		char num[32];
		const char *ins = NULL;
		if (*p == '$' && p[1]) {
			switch (p[1]) {
			case 'S': ins = sel; break;
			case 'O': ins = oom; break;
			case 'W': snprintf(num, sizeof(num), "%llds", w); ins = num; break;
			case 'R': snprintf(num, sizeof(num), "%llds", step); ins = num; break;
			case 'D': snprintf(num, sizeof(num), "%llds", day); ins = num; break;
			}
		}
		if (ins) {
			size_t l = strlen(ins);
			if (o + l + 1 > len)
				return -ENAMETOOLONG;
			memcpy(out + o, ins, l);
			o += l;
			p++;
		} else {
			if (o + 2 > len)
				return -ENAMETOOLONG;
			out[o++] = *p;
		}
	}
	out[o] = 0;
	return 0;
}

/* ---- from containers to workloads ---- */

/* per-row working figures that do not belong in the result */
struct acc {
	double newest;               /* last sample of the newest pod: its request and limit are current */
	double day[MAX_DAYS];
	double exact_max, ws_of_exact;
	double pod_time;
};

/* Figures from the server are hostile: converting a double beyond int64 is undefined behaviour.
 * 2^53 bytes (8 PiB) is above any container's memory and still exact in a double. */
#define FLEET_MAX_FIGURE 9007199254740992.0

static int64_t to_bytes(double v)
{
	if (!(v >= 0))
		return -1;   /* NaN or negative: unknown */
	return (int64_t)ceil(v < FLEET_MAX_FIGURE ? v : FLEET_MAX_FIGURE);
}

static int to_count(double v)
{
	if (!(v >= 0))
		return 0;
	return v < 1e6 ? (int)lround(v) : 1000000;   /* a million restarts in a window is already absurd */
}

static double nanmax(double a, double b)
{
	return isnan(a) ? b : isnan(b) ? a : a > b ? a : b;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int cmp_row(const void *a, const void *b)
{
	const struct fleet_row *x = a, *y = b;
	int c = strcmp(x->ns, y->ns);
	if (!c)
		c = strcmp(x->name, y->name);
	if (!c)
		c = strcmp(x->kind, y->kind);
	return c ? c : strcmp(x->container, y->container);
}

/* The workload a pod belongs to: its controller, a ReplicaSet's Deployment, a Job's CronJob.
 * Returns false (and notes why) when the pod has conflicting controllers. */
static bool owner_of(struct state *s, const struct ctr *c, char *kind, size_t klen, char *name, size_t nlen,
                     bool *guessed)
{
	char key[400];
	snprintf(key, sizeof(key), "%s" SEP "%s", c->ns, c->pod);
	struct pod *p = map_get(&s->pods, key);
	*guessed = false;
	if (p && p->owners > 1) {
		if (p->owners != INT32_MAX) {
			note(s->r, "pod %s/%s has conflicting controllers (%s/%s and %s) in kube_pod_owner: left out of the sizing",
			     c->ns, c->pod, p->kind, p->name, p->other);
			p->owners = INT32_MAX;   /* said once per pod, not per container */
		}
		return false;
	}
	if (!p) {
		const char *k;
		fleet_guess_owner(c->pod, name, nlen, &k);
		snprintf(kind, klen, "%s", k);
		*guessed = true;
		return true;
	}
	if (strcmp(p->kind, "<none>") == 0 || !p->kind[0]) {
		snprintf(kind, klen, "Pod");
		snprintf(name, nlen, "%s", c->pod);
		return true;
	}
	snprintf(kind, klen, "%s", p->kind);
	snprintf(name, nlen, "%s", p->name);
	struct map *parents = strcmp(p->kind, "ReplicaSet") == 0 ? &s->rs : strcmp(p->kind, "Job") == 0 ? &s->jobs : NULL;
	if (parents) {
		snprintf(key, sizeof(key), "%s" SEP "%s", c->ns, p->name);
		const char *kn = map_get(parents, key);
		const char *slash = kn ? strchr(kn, '/') : NULL;
		if (slash) {
			snprintf(kind, klen, "%.*s", (int)(slash - kn), kn);
			snprintf(name, nlen, "%s", slash + 1);
		}
	}
	return true;
}

/* The scrape interval: the median spacing of the working-set series (robust to a few with gaps). */
static double scrape_interval(struct state *s)
{
	double *v = malloc((s->ctrs.n + 1) * sizeof(*v));
	size_t n = 0;
	if (!v)
		return NAN;
	for (size_t i = 0; i < s->ctrs.cap; i++) {
		const struct ctr *c = s->ctrs.vals[i];
		if (s->ctrs.keys[i] && c->count >= 2 && c->last > c->first)
			v[n++] = (c->last - c->first) / (c->count - 1);
	}
	double r = NAN;
	if (n) {
		qsort(v, n, sizeof(*v), cmp_double);
		r = v[n / 2];
	}
	free(v);
	return r;
}

/* One container's figures folded into its workload's row: peaks, current resources of the newest
 * pod, restarts, OOM kills, counter resets, daily peaks and scrape gaps. */
static void row_fold(const struct state *s, struct fleet_row *w, struct acc *a, const struct ctr *c)
{
	const struct fleet_result *r = s->r;
	w->pods++;
	int64_t pk = to_bytes(nanmax(c->exact, c->ws_max)), ws = to_bytes(c->ws_max), p95 = to_bytes(c->ws_p95);
	if (pk > w->peak_bytes)
		w->peak_bytes = pk;
	if (ws > w->ws_max_bytes)
		w->ws_max_bytes = ws;
	if (p95 > w->ws_p95_bytes)
		w->ws_p95_bytes = p95;
	if (!isnan(c->exact)) {
		w->exact_pods++;
		a->exact_max = nanmax(a->exact_max, c->exact);
		a->ws_of_exact = nanmax(a->ws_of_exact, c->ws_max);
	}
	double seen = nanmax(c->last, c->first);
	if (!isnan(seen) && (isnan(a->newest) || seen >= a->newest)) {
		a->newest = seen;
		w->cur_request = to_bytes(c->req);
		w->cur_limit = to_bytes(c->lim);
	} else if (isnan(a->newest) && w->cur_limit < 0 && !isnan(c->lim)) {
		w->cur_request = to_bytes(c->req);
		w->cur_limit = to_bytes(c->lim);
	}
	if (w->restarts < 1000000000)
		w->restarts += to_count(!isnan(c->restarts_inc) ? c->restarts_inc : c->restarts);
	if (w->oom_kills < 1000000000)
		w->oom_kills += to_count(c->ooms);
	if (c->resets > 0)
		w->counter_reset = true;
	for (int d = 0; d < s->ndays; d++)
		a->day[d] = nanmax(a->day[d], c->day[d]);
	if (!isnan(c->count) && !isnan(c->first) && !isnan(c->last) && !isnan(r->scrape_s) && r->scrape_s > 0) {
		double span = c->last - c->first;
		a->pod_time += span + r->scrape_s;
		double expected = span / r->scrape_s + 1;
		double missing = 1.0 - c->count / expected;
		if (missing > FLEET_GAP_FRACTION) {
			w->gap_pods++;
			if (missing > w->gap_fraction)
				w->gap_fraction = missing;
		}
	}
}

static int group(struct state *s, struct acc **ret_acc)
{
	struct fleet_result *r = s->r;
	struct map rows = {0};
	struct acc *acc = NULL;
	int rc = 0;
	size_t cap = 0;
	for (size_t i = 0; i < s->ctrs.cap; i++) {
		const struct ctr *c = s->ctrs.vals[i];
		if (!s->ctrs.keys[i])
			continue;
		char kind[32], name[256], key[700];
		bool guessed;
		if (!owner_of(s, c, kind, sizeof(kind), name, sizeof(name), &guessed))
			continue;
		snprintf(key, sizeof(key), "%s" SEP "%s" SEP "%s" SEP "%s", c->ns, kind, name, c->container);
		uintptr_t idx = (uintptr_t)map_get(&rows, key);
		if (!idx) {
			if ((size_t)r->nrows == cap) {
				cap = cap ? cap * 2 : 64;
				struct fleet_row *nr = realloc(r->rows, cap * sizeof(*nr));
				struct acc *na = nr ? realloc(acc, cap * sizeof(*na)) : NULL;
				if (nr)
					r->rows = nr;
				if (!na) {
					rc = -ENOMEM;
					goto out;
				}
				acc = na;
			}
			idx = (uintptr_t)++r->nrows;
			if ((rc = map_put(&rows, key, (void *)idx)) < 0)
				goto out;
			struct fleet_row *w = &r->rows[idx - 1];
			struct acc *a = &acc[idx - 1];
			memset(w, 0, sizeof(*w));
			snprintf(w->ns, sizeof(w->ns), "%s", c->ns);
			snprintf(w->kind, sizeof(w->kind), "%s", kind);
			snprintf(w->name, sizeof(w->name), "%s", name);
			snprintf(w->container, sizeof(w->container), "%s", c->container);
			w->kind_guessed = guessed;
			w->peak_bytes = w->ws_max_bytes = w->ws_p95_bytes = w->cur_request = w->cur_limit = -1;
			w->missed_bytes = -1;
			a->newest = a->exact_max = a->ws_of_exact = NAN;
			a->pod_time = 0;
			for (int d = 0; d < MAX_DAYS; d++)
				a->day[d] = NAN;
		}
		row_fold(s, &r->rows[idx - 1], &acc[idx - 1], c);
	}
out:
	map_free(&rows, false);
	if (rc < 0) {
		free(acc);
		acc = NULL;
	}
	*ret_acc = acc;
	return rc;
}

static void recommend(struct fleet_result *r, struct fleet_row *w, const struct acc *a, int ndays)
{
	w->peak_exact = w->exact_pods == w->pods;
	if (w->exact_pods && !isnan(a->ws_of_exact))
		w->missed_bytes = a->exact_max > a->ws_of_exact ? to_bytes(a->exact_max - a->ws_of_exact) : 0;
	w->avg_replicas = a->pod_time / ((double)r->window_ns / 1e9);
	w->krr_bytes = w->vpa_bytes = w->rec_limit = w->rec_request = -1;
	if (w->ws_max_bytes >= 0)
		w->krr_bytes = size_krr_from_max(w->ws_max_bytes);
	double days[MAX_DAYS];
	int nd = 0;
	for (int d = 0; d < ndays; d++)
		if (a->day[d] >= 0)
			days[nd++] = a->day[d] < FLEET_MAX_FIGURE ? a->day[d] : FLEET_MAX_FIGURE;
	w->vpa_days = nd;
	if (nd)
		w->vpa_bytes = size_vpa_from_daily_peaks(days, (size_t)nd, &w->vpa_floored);
	if (w->peak_bytes < 0)
		return;
	int64_t sized = w->peak_bytes;
	if (w->oom_kills > 0) {
		/* it died at its limit: the demand was at least that, and how much more is unknown */
		if (w->cur_limit > sized)
			sized = w->cur_limit;
		sized = size_oom_raise(sized);
	}
	w->rec_limit = size_limit_from_peak(sized, r->headroom);
	if (w->ws_p95_bytes >= 0)
		w->rec_request = size_request_from_p95(w->ws_p95_bytes, w->rec_limit);
	if (w->cur_limit > 0) {
		w->change_bytes = w->rec_limit - w->cur_limit;
		w->under = w->cur_limit < w->rec_limit;
	}
	/* what the scheduler reserves is the request; without one Kubernetes uses the limit */
	int64_t cur = w->cur_request > 0 ? w->cur_request : w->cur_limit;
	if (cur > 0 && w->rec_request > 0)
		w->gib_hours_month = (double)(w->rec_request - cur) / (double)(1LL << 30) * w->avg_replicas *
		                     FLEET_HOURS_PER_MONTH;
}

/* ---- the run ---- */

/* The longest pod=~"..." matcher sent; past it the costly queries go unrestricted (slower, same
 * answer). Prometheus takes GET URLs up to 1 MiB; 8 KiB keeps the query readable in its logs. */
#define FLEET_MAX_POD_MATCHER 8192

/* pod=~"a|b" over the pods with `field` > 0; "" when none (the query is not needed), NULL when it
 * does not fit or a name is not a plain DNS name (the query then runs for every pod). */
static const char *pod_matcher(struct state *s, size_t field_offset, char *out, size_t len)
{
	struct map seen = {0};
	size_t o = 0;
	int n = 0;
	const char *ret = out;
	out[0] = 0;
	for (size_t i = 0; i < s->ctrs.cap && ret; i++) {
		const struct ctr *c = s->ctrs.vals[i];
		if (!s->ctrs.keys[i] || !(*(const double *)((const char *)c + field_offset) > 0) || map_get(&seen, c->pod))
			continue;
		if (map_put(&seen, c->pod, (void *)1) < 0) {
			ret = NULL;
			break;
		}
		size_t need = strlen(c->pod) * 3 + 16;
		if (o + need >= len || o + need >= FLEET_MAX_POD_MATCHER) {
			ret = NULL;
			break;
		}
		o += (size_t)snprintf(out + o, len - o, "%s", n++ ? "|" : "pod=~\"");
		for (const char *p = c->pod; *p; p++) {
			if (*p == '.') {
				memcpy(out + o, "\\\\.", 3);   /* \\. in PromQL's string: the regex \. */
				o += 3;
			} else if (isalnum((unsigned char)*p) || *p == '-' || *p == '_') {
				out[o++] = *p;
			} else {
				ret = NULL;
				break;
			}
		}
		out[o] = 0;
	}
	map_free(&seen, false);
	if (ret && n)
		snprintf(out + o, len - o, "\"");
	return ret;
}

/* Query q of the fixed set (queries[]), folded into the state by on_sample; one line in `why` and
 * a negative errno when the answer cannot be trusted (nothing matched, a partial result). */
static int run_query(struct state *s, struct prom_client *c, const struct fleet_options *o, size_t q, long long w,
                     long long step, long long day, char *why, size_t whylen)
{
	char pods_re[FLEET_MAX_POD_MATCHER + 64], oom_pods[FLEET_MAX_POD_MATCHER + 64];
	char sel[FLEET_MAX_POD_MATCHER + 1200], oom[FLEET_MAX_POD_MATCHER + 1200], promql[FLEET_MAX_POD_MATCHER + 4096];
	int rc;
	selector_with(o->selector, "reason=\"OOMKilled\"", oom, sizeof(oom));
	const char *extra = queries[q].extra;
	if (extra && strcmp(extra, "$P") == 0) {
		extra = pod_matcher(s, queries[q].which == Q_OOMS ? offsetof(struct ctr, oom_any) :
		                                                     offsetof(struct ctr, resets), pods_re, sizeof(pods_re));
		if (extra && !*extra)
			return 0;   /* no pod needs it */
		if (extra && queries[q].which == Q_OOMS) {
			snprintf(oom_pods, sizeof(oom_pods), "reason=\"OOMKilled\",%s", extra);
			selector_with(o->selector, oom_pods, oom, sizeof(oom));
		}
	}
	selector_with(o->selector, extra, sel, sizeof(sel));
	if (expand(queries[q].tmpl, sel, oom, w, step, day, promql, sizeof(promql)) < 0) {
		snprintf(why, whylen, "--selector is too long (the queries must fit in %zu bytes)", sizeof(promql));
		rc = -EINVAL;
		return rc;
	}
	s->which = queries[q].which;
	if (s->which == Q_DAYS)
		rc = prom_query_range(c, promql, s->day0, s->r->at_s, (double)day, on_sample, s, why, whylen);
	else
		rc = prom_query(c, promql, s->r->at_s, on_sample, s, why, whylen);
	s->r->query_names[q] = queries[q].what;
	s->r->query_s[q] = c->last_s;
	if (rc >= 0 && s->err)
		rc = s->err;
	if (rc < 0)
		return rc;
	if (s->which == Q_EXACT && s->ctrs.n == 0) {
		snprintf(why, whylen, "no container series matched %s in the %llds before %.0f at %s (looked for "
		         "container_memory_working_set_bytes and headroom_rss_peak_bytes with namespace, pod and "
		         "container labels)", o->selector && *o->selector ? o->selector : "any selector", w,
		         s->r->at_s, c->url);
		rc = -ENODATA;
		return rc;
	}
	if (c->warnings) {
		snprintf(why, whylen, "Prometheus answered with a partial result (\"%s\"): the figures would be too low; "
		         "retry when every store answers, or narrow --selector", c->warning);
		rc = -EPROTO;
		return rc;
	}
	if (s->which == Q_POD_OWNER && s->pods.n == 0) {
		s->r->owners_guessed = true;
		if ((rc = note(s->r, "no kube_pod_owner series (kube-state-metrics absent?): workloads are guessed "
		               "by stripping the ReplicaSet and pod hashes from pod names")) < 0)
			return rc;
	}
	return 0;
}

int fleet_run(const struct fleet_options *o, struct fleet_result *ret, char *why, size_t whylen)
{
	memset(ret, 0, sizeof(*ret));
	struct state s = {.r = ret};
	ret->window_ns = o->window_ns ? o->window_ns : 7 * 86400 * 1000000000LL;
	ret->headroom = o->headroom;
	ret->at_s = o->at_s > 0 ? o->at_s : (double)(util_wall_ns() / 1000000000LL);
	ret->scrape_s = NAN;
	long long w = ret->window_ns / 1000000000LL, step = (o->step_ns ? o->step_ns : 60000000000LL) / 1000000000LL;
	if (w < 1)
		w = 1;
	if (step < 1)
		step = 1;
	long long day = w < 86400 ? w : 86400;
	s.ndays = (int)(w / day) < MAX_DAYS ? (int)(w / day) : MAX_DAYS;
	s.day_step = (double)day;
	s.day0 = ret->at_s - (double)(s.ndays - 1) * (double)day;

	struct prom_client c;
	int rc = prom_client_open(&c, o->url, o->timeout_ns, why, whylen);
	if (rc < 0)
		return rc;
	for (size_t q = 0; q < FLEET_QUERIES; q++)
		if ((rc = run_query(&s, &c, o, q, w, step, day, why, whylen)) < 0)
			goto out;
	ret->queries = c.queries;
	/* a series stays visible FLEET_LOOKBACK_S after its last sample (no staleness marker once a
	 * pod is gone from a backfilled or remote-read store): its last sample was that much earlier,
	 * unless it is still there at the last step */
	double final_step = floor(ret->at_s / (double)step) * (double)step;
	for (size_t i = 0; i < s.ctrs.cap; i++) {
		struct ctr *x = s.ctrs.vals[i];
		if (s.ctrs.keys[i] && !isnan(x->last) && x->last < final_step - 0.5) {
			x->last -= FLEET_LOOKBACK_S;
			if (!isnan(x->first) && x->last < x->first)
				x->last = x->first;
		}
	}
	ret->scrape_s = scrape_interval(&s);
	struct acc *acc;
	if ((rc = group(&s, &acc)) < 0)
		goto out;
	for (int i = 0; i < ret->nrows; i++)
		recommend(ret, &ret->rows[i], &acc[i], s.ndays);
	/* sort rows and their figures together: the accumulators are no longer needed */
	free(acc);
	qsort(ret->rows, (size_t)ret->nrows, sizeof(*ret->rows), cmp_row);
	if (ret->nrows == 0) {
		snprintf(why, whylen, "every pod matched was left out (see the notes above)");
		rc = -ENODATA;
		goto out;
	}
	rc = 0;
out:
	prom_client_close(&c);
	map_free(&s.ctrs, true);
	map_free(&s.pods, true);
	map_free(&s.rs, true);
	map_free(&s.jobs, true);
	map_free(&s.uids, true);
	if (rc < 0 && rc != -ENODATA)
		fleet_free(ret);
	return rc;
}

void fleet_free(struct fleet_result *r)
{
	free(r->rows);
	for (int i = 0; i < r->nnotes; i++)
		free(r->notes[i]);
	free(r->notes);
	r->rows = NULL;
	r->notes = NULL;
	r->nrows = r->nnotes = 0;
}
