/* size: Kubernetes memory requests and limits from one or more analyses, with the anchors of
 * other recommenders (KRR simple, VPA) computed on the same data and autoscaling advice.
 *
 * limit   = the highest true peak across the recordings, startup included, × (1 + headroom),
 *           rounded up to a whole Mi. After an OOM kill the recorded peak is only a lower bound;
 *           VPA's own rule is applied: max(peak + 100 MiB, peak × 1.2) before the headroom.
 * request = the highest p95 of the steady working set (RSS without a cgroup), rounded up to a
 *           Mi, or = limit for QoS Guaranteed.
 * KRR     = max of the working set polled every 75 s × 1.15 (it needs >= 100 points).
 * VPA     = P90 of the daily peaks (each recording is one "day") × 1.15, at least 250 MiB.
 * Both depend on where their polling falls: given at the worst and the best alignment.
 * A growing verdict gets the time to reach the limit at the measured slope: no limit is safe.
 * Pure: no I/O. Errors: -EINVAL (no analyses), -ERANGE (headroom outside 0..200 %, replicas < 0,
 * a peak above SIZE_PEAK_MAX: a corrupt recording, refused rather than wrapped),
 * -ENODATA (no recording has a peak).
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
#define SIZE_KRR_MIN_POINTS 100
/* No machine has more memory than x86-64's 52-bit physical address space (4 PiB): a larger peak
 * comes from a corrupt recording, and sizing from it would overflow. */
#define SIZE_PEAK_MAX (1LL << 52)

struct size_options {
	double headroom;        /* fraction: 0.25 = 25 % */
	bool qos_guaranteed;    /* request = limit */
	int replicas;           /* pods starting together (0 = not asked) */
	int surge;              /* extra pods of a rolling update (0 = not asked) */
	double hpa_target;      /* memory utilisation target of an HPA, fraction; < 0 = none */
};
void size_options_init(struct size_options *opt);

struct sizing {
	size_t nrecordings;
	size_t peak_recording;       /* index of the analysis that set the peak */
	enum analyze_basis basis;    /* of that recording */
	int64_t true_peak;           /* highest exact peak of the basis */
	bool peak_at_startup;        /* the highest peak came during startup */
	bool oom_adjusted;           /* a recording was OOM-killed: the peak was raised (VPA's rule) */
	int64_t sized_peak;          /* the peak the limit is computed from (after the OOM rule) */
	int64_t startup_peak;        /* highest startup peak */
	double headroom;
	int64_t limit_bytes;         /* rounded up to a Mi */
	int64_t request_bytes;       /* rounded up to a Mi */
	int64_t request_p95;         /* the unrounded figure */
	bool request_is_working_set; /* else RSS */
	bool qos_guaranteed;

	int64_t krr_bytes;           /* at the worst polling alignment; HR_UNKNOWN when no point */
	int64_t krr_best_bytes;      /* at the best alignment */
	size_t krr_points;
	int64_t vpa_bytes;           /* likewise */
	int64_t vpa_best_bytes;
	bool vpa_floored;
	size_t vpa_days;

	bool growing;
	double slope_bytes_per_s;
	int64_t time_to_limit_ns;    /* growing: from the last level to the limit, HR_UNKNOWN otherwise */

	int replicas, surge;
	int64_t startup_burst_bytes; /* (replicas or surge) × startup peak, HR_UNKNOWN when not asked */

	double hpa_target;           /* < 0 when not asked */
	int hpa_warning;             /* 1: memory-based HPA would not scale back in; 0: fine; -1 unknown */
	double hpa_idle_utilisation; /* memory after load (or steady median) / request */
};

int size_recommend(const struct analysis *const *a, size_t n, const struct size_options *opt, struct sizing *ret);

#endif
