/* fleet: memory requests and limits per workload and container from a Prometheus server's history.
 *
 * Owners come from kube-state-metrics (kube_pod_owner, kube_replicaset_owner, kube_job_owner,
 * kube_pod_info): a pod of a ReplicaSet belongs to its Deployment, a pod of a Job to its CronJob.
 * Without them the workload is guessed by stripping the ReplicaSet / pod hashes from pod names,
 * and the result says so. Figures per container come from cAdvisor's working set and, where the
 * headroom exporter runs, its exact peaks (joined by namespace/pod/container or by pod uid).
 * Every query aggregates on the server: their number is fixed (FLEET_QUERIES), whatever the
 * number of pods. The sizing arithmetic is analyze/size's (limit = peak × (1 + headroom); after
 * OOM kills VPA's raise is applied to the larger of the peak and the limit that killed).
 * No printing: errors are negative errno values with one line in `why` (see prom.h); problems
 * that leave a figure unknown or uncertain are kept as notes on the result or on the row.
 */
#ifndef HEADROOM_FLEET_H
#define HEADROOM_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Points missing from a series beyond this fraction of its span are a gap worth a warning
 * (one lost scrape in ten; a restarting exporter or Prometheus loses fewer). */
#define FLEET_GAP_FRACTION 0.10
/* 730 h: the average month (8,760 h / 12), the unit cloud bills use for GiB-hours. */
#define FLEET_HOURS_PER_MONTH 730.0
#define FLEET_QUERIES 18   /* at most: two are only sent when a pod needs them */
/* Prometheus' default --query.lookback-delta: an instant selector sees a sample this long */
#define FLEET_LOOKBACK_S 300

struct fleet_options {
	const char *url;
	const char *selector;        /* '{namespace="shop"}' or NULL */
	int64_t window_ns;           /* 0: 7 days */
	int64_t step_ns;             /* resolution of the counter subqueries; 0: 1 minute (the scrape interval or longer) */
	double at_s;                 /* evaluation time (unix s); 0: now */
	double headroom;
	int64_t timeout_ns;
};

struct fleet_row {
	char ns[128], kind[32], name[256], container[128];
	bool kind_guessed;           /* from the pod names, not kube-state-metrics */
	int pods;                    /* pods seen in the window */
	double avg_replicas;         /* pod-time in the window / window */
	int64_t peak_bytes;          /* the true peak used for sizing */
	bool peak_exact;             /* every pod's peak came from headroom's exact peaks */
	int exact_pods;              /* pods with exact peaks */
	int64_t ws_max_bytes;        /* highest sampled working set */
	int64_t missed_bytes;        /* exact peak − working-set max where both exist; -1 unknown */
	int64_t ws_p95_bytes;        /* highest per-pod p95 of the working set */
	int64_t cur_request, cur_limit;  /* of the newest pod; -1 when not set / unknown */
	int oom_kills, restarts;
	bool counter_reset;          /* the restart counter went down in the window (pod re-created) */
	int gap_pods;                /* pods whose series miss more than FLEET_GAP_FRACTION of points */
	double gap_fraction;         /* the worst of them */
	int64_t rec_request, rec_limit;
	int64_t krr_bytes, vpa_bytes;
	bool vpa_floored;
	int vpa_days;
	int64_t change_bytes;        /* rec_limit − cur_limit; 0 when no current limit */
	double gib_hours_month;      /* (rec_request − current request) × avg_replicas × 730 h; + needed, − freed */
	bool under;                  /* current limit below the recommendation */
};

struct fleet_result {
	struct fleet_row *rows;
	int nrows;
	int64_t window_ns;
	double headroom, at_s, scrape_s;
	int queries;                 /* PromQL queries sent */
	const char *query_names[FLEET_QUERIES];
	double query_s[FLEET_QUERIES];  /* wall time of each, answer parsed */
	bool owners_guessed;         /* no kube_pod_owner: names stripped of hashes */
	char **notes;                /* one line each: conflicting owners, partial answers, ... */
	int nnotes;
};

int fleet_run(const struct fleet_options *o, struct fleet_result *ret, char *why, size_t whylen);
void fleet_free(struct fleet_result *r);

/* The workload a pod name belongs to when no owner is known (exposed for tests): writes the name
 * without the ReplicaSet / pod hash and a kind guess (Deployment, StatefulSet, CronJob,
 * DaemonSet|Job, Pod). */
void fleet_guess_owner(const char *pod, char *name, size_t namelen, const char **kind);

#endif
