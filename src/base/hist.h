/* hist: a log-linear latency histogram (HDR-like), fixed size, no allocation.
 *
 * Values (nanoseconds in practice) below HIST_SUB are counted exactly; above, each power of two
 * is split into HIST_SUB linear buckets, so any value is known within 1/HIST_SUB (0.8 %).
 * Values above 2^HIST_MAX_EXP are counted in the last bucket; the exact maximum is kept apart.
 * Not thread-safe: one writer, merged by the owner.
 */
#ifndef HEADROOM_HIST_H
#define HEADROOM_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB (1 << HIST_SUB_BITS)
#define HIST_MAX_EXP 40                    /* 2^40 ns = 18 minutes */
#define HIST_BUCKETS ((HIST_MAX_EXP - HIST_SUB_BITS + 2) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t max;
	uint64_t min;
	uint64_t sum;
	uint64_t b[HIST_BUCKETS];
};

void hist_reset(struct hist *h);
void hist_add(struct hist *h, uint64_t value);
void hist_merge(struct hist *dst, const struct hist *src);
/* The value at quantile q (0..1): the highest value of the bucket holding the ceil(q*count)-th
 * value, never above the exact maximum. 0 when the histogram is empty. */
uint64_t hist_quantile(const struct hist *h, double q);
/* Bucket arithmetic, exposed for tests. */
int hist_bucket(uint64_t value);
uint64_t hist_bucket_high(int bucket);

#endif
