#include "patch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static bool dns_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
			return false;
	return s[0] != '.' && s[0] != '-';
}

/* apiVersion and the path to the pod template's containers, by kind */
static bool kind_shape(const char *kind, const char **api, const char **prefix, int *indent)
{
	static const struct { const char *kind, *api, *prefix; int indent; } k[] = {
		{"Deployment", "apps/v1", "spec:\n  template:\n    spec:\n", 6},
		{"StatefulSet", "apps/v1", "spec:\n  template:\n    spec:\n", 6},
		{"DaemonSet", "apps/v1", "spec:\n  template:\n    spec:\n", 6},
		{"ReplicaSet", "apps/v1", "spec:\n  template:\n    spec:\n", 6},
		{"Job", "batch/v1", "spec:\n  template:\n    spec:\n", 6},
		{"CronJob", "batch/v1", "spec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n", 10},
		{"Pod", "v1", "spec:\n", 2},
	};
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		if (strcmp(kind, k[i].kind) == 0) {
			*api = k[i].api;
			*prefix = k[i].prefix;
			*indent = k[i].indent;
			return true;
		}
	return false;
}

static bool same_workload(const struct fleet_row *a, const struct fleet_row *b)
{
	return strcmp(a->ns, b->ns) == 0 && strcmp(a->kind, b->kind) == 0 && strcmp(a->name, b->name) == 0;
}

int fleet_patch_write(const struct fleet_result *r, const char *dir,
                      void (*skipped)(void *ctx, const struct fleet_row *w, const char *reason), void *ctx,
                      char *why, size_t whylen)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		int e = errno;
		snprintf(why, whylen, "--patch '%s': %s (it must be an existing directory)", dir, strerror(e));
		return -e;
	}
	int written = 0, rc = 0;
	/* rows are sorted by namespace, name, kind, container: a workload's containers are adjacent */
	for (int i = 0; i < r->nrows;) {
		int j = i;
		while (j < r->nrows && same_workload(&r->rows[i], &r->rows[j]))
			j++;
		const struct fleet_row *w = &r->rows[i];
		const char *api, *prefix, *reason = NULL;
		int ind;
		bool any = false;
		for (int k = i; k < j; k++)
			if (r->rows[k].rec_limit > 0 && dns_name(r->rows[k].container))
				any = true;
		if (w->kind_guessed)
			reason = "its kind is guessed from pod names (no kube-state-metrics)";
		else if (!kind_shape(w->kind, &api, &prefix, &ind))
			reason = "its kind has no known pod template";
		else if (!dns_name(w->ns) || !dns_name(w->name))
			reason = "its namespace or name is not a DNS-1123 name";
		else if (!any)
			reason = "no container has a recommendation";
		if (reason) {
			if (skipped)
				skipped(ctx, w, reason);
			i = j;
			continue;
		}
		char fname[600];
		snprintf(fname, sizeof(fname), "%s.%s.%s.yaml", w->ns, w->kind, w->name);
		for (char *p = fname; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		int fd = openat(dfd, fname, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
		FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!f) {
			rc = -errno;
			snprintf(why, whylen, "cannot write %s/%s: %s", dir, fname, strerror(errno));
			if (fd >= 0)
				close(fd);
			break;
		}
		fprintf(f, "# headroom size --prometheus: memory of %s/%s/%s (strategic merge patch)\n", w->ns, w->kind, w->name);
		fprintf(f, "apiVersion: %s\nkind: %s\nmetadata:\n  name: %s\n  namespace: %s\n%s", api, w->kind, w->name, w->ns,
		        prefix);
		fprintf(f, "%*scontainers:\n", ind, "");
		for (int k = i; k < j; k++) {
			const struct fleet_row *c = &r->rows[k];
			char lim[32], req[32];
			if (c->rec_limit <= 0 || !dns_name(c->container))
				continue;
			fprintf(f, "%*s- name: %s\n%*s  resources:\n", ind, "", c->container, ind, "");
			if (c->rec_request > 0)
				fprintf(f, "%*s    requests:\n%*s      memory: %s\n", ind, "", ind, "",
				        util_size_format_mi_ceil(c->rec_request, req, sizeof(req)));
			fprintf(f, "%*s    limits:\n%*s      memory: %s\n", ind, "", ind, "",
			        util_size_format_mi_ceil(c->rec_limit, lim, sizeof(lim)));
		}
		if (fclose(f) != 0) {
			rc = -errno;
			snprintf(why, whylen, "cannot write %s/%s: %s", dir, fname, strerror(errno));
			break;
		}
		written++;
		i = j;
	}
	close(dfd);
	return rc < 0 ? rc : written;
}
