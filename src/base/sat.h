/* sat: saturating int64 arithmetic for byte figures read from outside (a corrupt recording, a
 * hostile /proc or Prometheus answer). A sum or product that would wrap stays at INT64_MAX (or
 * INT64_MIN), so a huge input gives a huge answer, never a small wrong one.
 */
#ifndef HEADROOM_SAT_H
#define HEADROOM_SAT_H

#include <math.h>
#include <stdint.h>

static inline int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static inline int64_t sat_sub(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* bytes × f for f >= 0, rounded up; INT64_MAX when the product does not fit (or is NaN). */
static inline int64_t sat_mul_frac_ceil(int64_t bytes, double f)
{
	double v = ceil((double)bytes * f);
	if (!(v < 9.2233720368547748e18))
		return INT64_MAX;
	if (v < -9.2233720368547748e18)
		return INT64_MIN;
	return (int64_t)v;
}

/* v toward zero as an int64; beyond the range (a cast there is undefined) INT64_MAX or INT64_MIN,
 * NaN INT64_MAX as in sat_mul_frac_ceil. For a rate times a duration of a hostile recording. */
static inline int64_t sat_from_double(double v)
{
	if (!(v < 9.2233720368547748e18))
		return INT64_MAX;
	if (v <= -9.2233720368547758e18)
		return INT64_MIN;
	return (int64_t)v;
}

#endif
