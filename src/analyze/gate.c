#include "gate.h"

#include <errno.h>
#include <string.h>

const char gate_classes_accepted[] = "growing, oom, over-limit, under-sized";

/* in order of severity: the first one that fired gives the exit status */
static const struct {
	unsigned cls;
	const char *name;
	int code;
} classes[] = {
	{GATE_OOM, "oom", GATE_EXIT_OOM},
	{GATE_OVER_LIMIT, "over-limit", GATE_EXIT_OVER_LIMIT},
	{GATE_UNDER_SIZED, "under-sized", GATE_EXIT_UNDER_SIZED},
	{GATE_GROWING, "growing", GATE_EXIT_GROWING},
};
#define NCLASSES (sizeof(classes) / sizeof(classes[0]))

int gate_parse(const char *list, unsigned *ret_mask, const char **ret_bad, size_t *ret_badlen)
{
	unsigned mask = 0;
	const char *p = list ? list : "";
	for (;;) {
		size_t len = strcspn(p, ",");
		size_t i;
		for (i = 0; i < NCLASSES; i++)
			if (len == strlen(classes[i].name) && strncmp(p, classes[i].name, len) == 0)
				break;
		if (i == NCLASSES) {
			if (ret_bad)
				*ret_bad = p;
			if (ret_badlen)
				*ret_badlen = len;
			return -EINVAL;
		}
		mask |= classes[i].cls;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	*ret_mask = mask;
	return 0;
}

unsigned gate_findings(const struct analysis *const *a, size_t n, const struct sizing *s,
		       const struct verify_result *v)
{
	unsigned fired = 0;
	for (size_t i = 0; i < n; i++) {
		const struct analysis *x = a[i];
		if (x->verdict == VERDICT_GROWING)
			fired |= GATE_GROWING;
		if (x->oom_killed || x->cg_oom_kills > 0)
			fired |= GATE_OOM;
		if (x->limit_bytes > 0 && (x->cg_limit_hits > 0 || x->peak >= x->limit_bytes))
			fired |= GATE_OVER_LIMIT;
		if (s && x->limit_bytes > 0 && s->limit_bytes > x->limit_bytes)
			fired |= GATE_UNDER_SIZED;
	}
	if (v) {
		if (v->oom_killed)
			fired |= GATE_OOM;
		if (v->oom_killed || v->limit_hits > 0)
			fired |= GATE_UNDER_SIZED;
	}
	return fired;
}

int gate_exit_code(unsigned fired, unsigned wanted)
{
	for (size_t i = 0; i < NCLASSES; i++)
		if (fired & wanted & classes[i].cls)
			return classes[i].code;
	return 0;
}

const char *gate_class_name(unsigned cls)
{
	for (size_t i = 0; i < NCLASSES; i++)
		if (cls == classes[i].cls)
			return classes[i].name;
	return NULL;
}
