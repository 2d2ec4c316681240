#include "sample.h"

void sample_clear(struct sample *s)
{
	int64_t *f = (int64_t *)s;
	for (unsigned i = 0; i < sizeof(*s) / sizeof(int64_t); i++)
		f[i] = HR_UNKNOWN;
	s->t_ns = 0;
}
