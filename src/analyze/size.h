/* size: Kubernetes memory requests and limits from one or more analyses, with the anchors of
 * other recommenders (KRR simple, VPA) computed on the same data and autoscaling advice.
 *
 * limit   = the highest true peak across the recordings, startup included, × (1 + headroom),
 *           rounded up to a whole Mi, and at least the tree's RSS peak × (1 + headroom) and
 *           SIZE_FLOOR_BYTES (limit_floored says so). After an OOM kill the recorded peak is only a lower bound;
 *           VPA's own rule is applied: max(peak + 100 MiB, peak × 1.2) before the headroom.
 * request = the highest p95 of the steady working set (RSS without a cgroup), rounded up to a
 *           Mi, or = limit for QoS Guaranteed.
 * KRR     = max of the working set polled every 75 s × 1.15 (it needs >= 100 points).
 * VPA     = P90 of the daily peaks (each recording is one "day") × 1.15, at least 250 MiB.
 * Both depend on where their polling falls: given at the worst and the best alignment.
 * A growing verdict gets the time to reach the limit at the measured slope: no limit is safe.
 * Pure: no I/O. Errors: -EINVAL (no analyses), -ERANGE (headroom outside 0..200 %, replicas or
 * surge < 0), -ENODATA (no recording has a peak). A corrupt peak cannot wrap: record_open() reads
 * figures above RECORD_VALUE_MAX (8 PiB) as unknown, and the arithmetic here saturates (base/sat.h).
 */
#ifndef HEADROOM_SIZE_H
#define HEADROOM_SIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze.h"

#define SIZE_HEADROOM_DEFAULT 0.25
#define SIZE_HEADROOM_MAX 2.0
#define SIZE_VPA_FLOOR (250LL * 1024 * 1024)
/* The smallest limit recommended: docker refuses limits under 6 MiB, and runc's init, the dynamic
 * loader and libc of a small program need a few MiB before main(); 16 MiB leaves a margin. The
 * limit is also never below the process tree's RSS peak plus the headroom (sizing.needs_to_exist). */
#define SIZE_FLOOR_BYTES (16LL * 1024 * 1024)
#define SIZE_KRR_MIN_POINTS 100

struct size_options {
	double headroom;        /* fraction: 0.25 = 25 % */
	bool qos_guaranteed;    /* request = limit */
	int replicas;           /* pods starting together (0 = not asked) */
	int surge;              /* extra pods of a rolling update (0 = not asked) */
	double hpa_target;      /* memory utilisation target of an HPA, fraction; < 0 = none */
};
void size_options_init(struct size_options *opt);

/* struct sizing: in analyze.h (the analysis carries the sizing of its own run). */


/* The arithmetic of size_recommend, one figure at a time, for callers that have figures and no
 * analysis (fleet sizing from Prometheus). All results are rounded up to a whole Mi, at least 1 Mi. */
int64_t size_oom_raise(int64_t peak);   /* VPA's rule after an OOM: max(peak + 100 MiB, peak × 1.2) */
int64_t size_limit_from_peak(int64_t peak, double headroom);          /* peak × (1 + headroom) */
int64_t size_request_from_p95(int64_t p95, int64_t limit);            /* p95, at most the limit */
int64_t size_krr_from_max(int64_t max_working_set);                   /* max × 1.15 */
/* P90 of daily peaks × 1.15, at least SIZE_VPA_FLOOR (sets *floored); reorders `peaks`. */
int64_t size_vpa_from_daily_peaks(double *peaks, size_t n, bool *floored);

int size_recommend(const struct analysis *const *a, size_t n, const struct size_options *opt, struct sizing *ret);

#endif
