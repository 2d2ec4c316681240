#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli.h"
#include "opts.h"
#include "size_opts.h"
#include "fleet.h"
#include "patch.h"
#include "promsize.h"
#include "util.h"

/* --fail-on under: at least one workload's current limit is below its recommendation (a CI class
 * of its own, apart from usage errors (2) and failures (1)) */
#define EXIT_UNDER 3

/* The options are size's (cmd_size.c): one table, one --help. */

/* Names and labels come from Prometheus, i.e. from whoever named the pods: quotes and backslashes
 * escaped for YAML, then control characters as the escapes YAML's double-quoted style shares with
 * util_term_escape (\e, \xNN, \uNNNN, \n, \t), so neither the YAML nor a terminal is driven. */
static void yaml_str(const char *s)
{
	size_t n = strlen(s);
	char *q = malloc(2 * n + 1), *safe = malloc(8 * n + 1);
	if (q && safe) {
		size_t k = 0;
		for (; *s; s++) {
			if (*s == '"' || *s == '\\')
				q[k++] = '\\';
			q[k++] = *s;
		}
		q[k] = '\0';
		printf("\"%s\"", util_term_escape(q, safe, 8 * n + 1, false));
	} else {
		printf("\"\"");
	}
	free(q);
	free(safe);
}

static void warning_text(const struct promsize_row *r, const char *window, char *buf, size_t len)
{
	char h[32];
	util_duration_format((int64_t)(r->history_s > 0 ? r->history_s * 1e9 : 0), h, sizeof(h));
	snprintf(buf, len, "history too short: %lld points over %s of the %s window; the peak may not have happened yet",
	         (long long)r->points, h, window);
}

static int series_view(const struct promsize_options *po, const char *format, const char *window_text)
{
	const struct promsize_options o = *po;
	struct promsize_result r;
	char why[512];
	int rc = promsize_run(&o, &r, why, sizeof(why));
	if (rc < 0)
		return cli_fail(rc == -EINVAL && strncmp(why, "--", 2) == 0 ? EXIT_USAGE : EXIT_FAIL, "%s", why);

	char warn[256], peak[32], rec[32], hist[32];
	if (strcmp(format, "json") == 0) {
		json_object *root = json_object_new_object(), *arr = json_object_new_array();
		json_object_object_add(root, "prometheus", json_object_new_string(o.url));
		json_object_object_add(root, "window_seconds", json_object_new_int64(r.window_ns / 1000000000LL));
		json_object_object_add(root, "headroom", json_object_new_double(r.headroom));
		for (int i = 0; i < r.nrows; i++) {
			const struct promsize_row *w = &r.rows[i];
			json_object *c = json_object_new_object();
			json_object_object_add(c, "name", json_object_new_string(w->name));
			json_object_object_add(c, "labels", json_object_new_string(w->labels));
			json_object_object_add(c, "source", json_object_new_string(w->source));
			json_object_object_add(c, "peak_bytes", json_object_new_int64(w->peak_bytes));
			json_object_object_add(c, "points", json_object_new_int64(w->points));
			json_object_object_add(c, "history_seconds", json_object_new_double(w->history_s));
			json_object_object_add(c, "limit_bytes", json_object_new_int64(w->recommended_bytes));
			json_object_object_add(c, "limit", json_object_new_string(util_size_format_mi_ceil(w->recommended_bytes, rec, sizeof(rec))));
			if (w->short_history) {
				warning_text(w, window_text, warn, sizeof(warn));
				json_object_object_add(c, "warning", json_object_new_string(warn));
			}
			json_object_array_add(arr, c);
		}
		json_object_object_add(root, "containers", arr);
		puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
	} else if (strcmp(format, "yaml") == 0) {
		printf("# headroom size --prometheus %s: peak over %s × (1 + %g), rounded up to Mi\n", o.url, window_text, r.headroom);
		printf("containers:\n");
		for (int i = 0; i < r.nrows; i++) {
			const struct promsize_row *w = &r.rows[i];
			printf("  - name: ");
			yaml_str(w->name);
			printf("\n    labels: ");
			yaml_str(w->labels);
			printf("\n    source: %s\n    peak_bytes: %lld\n    points: %lld\n    history_seconds: %.0f\n",
			       w->source, (long long)w->peak_bytes, (long long)w->points, w->history_s);
			printf("    resources:\n      limits:\n        memory: %s\n",
			       util_size_format_mi_ceil(w->recommended_bytes, rec, sizeof(rec)));
			if (w->short_history) {
				warning_text(w, window_text, warn, sizeof(warn));
				printf("    warning: ");
				yaml_str(warn);
				putchar('\n');
			}
		}
	} else {
		int wname = 9;
		char name[1024], source[256];
		for (int i = 0; i < r.nrows; i++)
			if ((int)strlen(util_term_escape(r.rows[i].name, name, sizeof(name), false)) > wname)
				wname = (int)strlen(name);
		printf("%-*s  %-34s  %10s  %7s  %8s  %8s\n", wname, "CONTAINER", "SOURCE", "PEAK", "POINTS", "HISTORY", "LIMIT");
		for (int i = 0; i < r.nrows; i++) {
			const struct promsize_row *w = &r.rows[i];
			util_duration_format((int64_t)(w->history_s > 0 ? w->history_s * 1e9 : 0), hist, sizeof(hist));
			printf("%-*s  %-34s  %10s  %7lld  %8s  %8s%s\n", wname,
			       util_term_escape(w->name, name, sizeof(name), false),
			       util_term_escape(w->source, source, sizeof(source), false),
			       util_size_format(w->peak_bytes, peak, sizeof(peak)), (long long)w->points, hist,
			       util_size_format_mi_ceil(w->recommended_bytes, rec, sizeof(rec)), w->short_history ? "  (!)" : "");
		}
		printf("limit = peak over %s × (1 + %g), rounded up to Mi\n", window_text, r.headroom);
	}
	for (int i = 0; i < r.nrows; i++)
		if (r.rows[i].short_history) {
			warning_text(&r.rows[i], window_text, warn, sizeof(warn));
			cli_note("%s: %s", r.rows[i].name, warn);
		}
	promsize_free(&r);
	return 0;
}

/* ---- per workload (fleet) ---- */

/* The caveats of one row, one sentence each; returns how many were written. */
static int row_warnings(const struct fleet_row *w, double scrape_s, char out[][256], int max)
{
	int n = 0;
	char a[32], b[32];
	if (!w->peak_exact && n < max)
		snprintf(out[n++], 256, "peak from the working set sampled every ~%.0fs%s: spikes shorter than that are missed",
		         scrape_s > 0 ? scrape_s : 0, w->exact_pods ? " for some pods" : "");
	if (w->missed_bytes > 0 && n < max)
		snprintf(out[n++], 256, "headroom's exact peak is %s above the sampled working set (%d of %d pods measured)",
		         util_size_format(w->missed_bytes, a, sizeof(a)), w->exact_pods, w->pods);
	if (w->oom_kills > 0 && n < max)
		snprintf(out[n++], 256, "OOM-killed %d times at a limit of %s: the demand was higher than anything measured; "
		         "sized from max(peak, limit) raised by VPA's rule (+100Mi or x1.2)", w->oom_kills,
		         w->cur_limit > 0 ? util_size_format(w->cur_limit, b, sizeof(b)) : "unknown");
	if (w->gap_pods > 0 && n < max)
		snprintf(out[n++], 256, "%d pod(s) miss up to %.0f%% of their working-set samples: a peak may be missing",
		         w->gap_pods, w->gap_fraction * 100);
	if (w->counter_reset && n < max)
		snprintf(out[n++], 256, "the restart counter went down (pod re-created): restarts counted as increments only");
	if (w->kind_guessed && n < max)
		snprintf(out[n++], 256, "workload guessed from pod names (no kube_pod_owner for them)");
	if (w->cur_limit < 0 && n < max)
		snprintf(out[n++], 256, "no current memory limit in kube_pod_container_resource_limits");
	if (w->peak_bytes < 0 && n < max)
		snprintf(out[n++], 256, "no memory figure at all: not sized");
	return n;
}

static const char *sz(int64_t v, char *buf, size_t len)
{
	return v < 0 ? "-" : util_size_format_mi_ceil(v, buf, len);
}

static void csv_field(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static json_object *json_bytes(int64_t v)
{
	return v < 0 ? NULL : json_object_new_int64(v);
}

static void fleet_print_json(const struct fleet_result *r, const char *url)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array(), *notes = json_object_new_array();
	char warn[8][256];
	json_object_object_add(root, "prometheus", json_object_new_string(url));
	json_object_object_add(root, "at", json_object_new_double(r->at_s));
	json_object_object_add(root, "window_seconds", json_object_new_int64(r->window_ns / 1000000000LL));
	json_object_object_add(root, "headroom", json_object_new_double(r->headroom));
	json_object_object_add(root, "scrape_interval_seconds", isnan(r->scrape_s) ? NULL : json_object_new_double(r->scrape_s));
	json_object_object_add(root, "queries", json_object_new_int(r->queries));
	json_object *qs = json_object_new_object();
	for (int i = 0; i < r->queries && i < FLEET_QUERIES; i++)
		if (r->query_names[i])
			json_object_object_add(qs, r->query_names[i], json_object_new_double(r->query_s[i]));
	json_object_object_add(root, "query_seconds", qs);
	json_object_object_add(root, "owners_guessed", json_object_new_boolean(r->owners_guessed));
	for (int i = 0; i < r->nrows; i++) {
		const struct fleet_row *w = &r->rows[i];
		json_object *c = json_object_new_object(), *wa = json_object_new_array();
		json_object_object_add(c, "namespace", json_object_new_string(w->ns));
		json_object_object_add(c, "kind", json_object_new_string(w->kind));
		json_object_object_add(c, "name", json_object_new_string(w->name));
		json_object_object_add(c, "container", json_object_new_string(w->container));
		json_object_object_add(c, "kind_guessed", json_object_new_boolean(w->kind_guessed));
		json_object_object_add(c, "pods", json_object_new_int(w->pods));
		json_object_object_add(c, "avg_replicas", json_object_new_double(w->avg_replicas));
		json_object_object_add(c, "peak_bytes", json_bytes(w->peak_bytes));
		json_object_object_add(c, "peak_source", json_object_new_string(w->peak_exact ? "headroom_exact" :
		                                                                 w->exact_pods ? "mixed" : "working_set"));
		json_object_object_add(c, "exact_pods", json_object_new_int(w->exact_pods));
		json_object_object_add(c, "working_set_max_bytes", json_bytes(w->ws_max_bytes));
		json_object_object_add(c, "missed_by_sampling_bytes", json_bytes(w->missed_bytes));
		json_object_object_add(c, "working_set_p95_bytes", json_bytes(w->ws_p95_bytes));
		json_object_object_add(c, "current_request_bytes", json_bytes(w->cur_request));
		json_object_object_add(c, "current_limit_bytes", json_bytes(w->cur_limit));
		json_object_object_add(c, "oom_kills", json_object_new_int(w->oom_kills));
		json_object_object_add(c, "restarts", json_object_new_int(w->restarts));
		json_object_object_add(c, "recommended_request_bytes", json_bytes(w->rec_request));
		json_object_object_add(c, "recommended_limit_bytes", json_bytes(w->rec_limit));
		json_object_object_add(c, "krr_bytes", json_bytes(w->krr_bytes));
		json_object_object_add(c, "vpa_bytes", json_bytes(w->vpa_bytes));
		json_object_object_add(c, "vpa_days", json_object_new_int(w->vpa_days));
		json_object_object_add(c, "limit_change_bytes", w->cur_limit > 0 && w->rec_limit > 0 ? json_object_new_int64(w->change_bytes) : NULL);
		json_object_object_add(c, "gib_hours_per_month", json_object_new_double(w->gib_hours_month));
		json_object_object_add(c, "under", json_object_new_boolean(w->under));
		int nw = row_warnings(w, r->scrape_s, warn, 8);
		for (int k = 0; k < nw; k++)
			json_object_array_add(wa, json_object_new_string(warn[k]));
		json_object_object_add(c, "warnings", wa);
		json_object_array_add(arr, c);
	}
	for (int i = 0; i < r->nnotes; i++)
		json_object_array_add(notes, json_object_new_string(r->notes[i]));
	json_object_object_add(root, "workloads", arr);
	json_object_object_add(root, "notes", notes);
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

static void fleet_print_yaml(const struct fleet_result *r, const char *url, const char *window)
{
	char a[32], b[32], warn[8][256];
	printf("# headroom size --prometheus %s: per workload and container over %s; limit = peak x (1 + %g)\n", url,
	       window, r->headroom);
	printf("workloads:\n");
	for (int i = 0; i < r->nrows; i++) {
		const struct fleet_row *w = &r->rows[i];
		printf("  - namespace: ");
		yaml_str(w->ns);
		printf("\n    kind: ");
		yaml_str(w->kind);
		printf("\n    name: ");
		yaml_str(w->name);
		printf("\n    container: ");
		yaml_str(w->container);
		printf("\n    pods: %d\n    peak_bytes: %lld\n    peak_exact: %s\n    working_set_p95_bytes: %lld\n"
		       "    oom_kills: %d\n    restarts: %d\n    krr_bytes: %lld\n    vpa_bytes: %lld\n"
		       "    gib_hours_per_month: %.1f\n    under: %s\n",
		       w->pods, (long long)w->peak_bytes, w->peak_exact ? "true" : "false", (long long)w->ws_p95_bytes,
		       w->oom_kills, w->restarts, (long long)w->krr_bytes, (long long)w->vpa_bytes, w->gib_hours_month,
		       w->under ? "true" : "false");
		printf("    current:\n      requests: {memory: %s}\n      limits: {memory: %s}\n",
		       w->cur_request > 0 ? sz(w->cur_request, a, sizeof(a)) : "null",
		       w->cur_limit > 0 ? sz(w->cur_limit, b, sizeof(b)) : "null");
		printf("    resources:\n      requests: {memory: %s}\n      limits: {memory: %s}\n",
		       w->rec_request > 0 ? sz(w->rec_request, a, sizeof(a)) : "null",
		       w->rec_limit > 0 ? sz(w->rec_limit, b, sizeof(b)) : "null");
		int nw = row_warnings(w, r->scrape_s, warn, 8);
		if (nw)
			printf("    warnings:\n");
		for (int k = 0; k < nw; k++) {
			printf("      - ");
			yaml_str(warn[k]);
			putchar('\n');
		}
	}
}

static void fleet_print_csv(const struct fleet_result *r)
{
	char warn[8][256];
	printf("namespace,kind,name,container,pods,avg_replicas,peak_bytes,peak_exact,missed_by_sampling_bytes,"
	       "working_set_p95_bytes,current_request_bytes,current_limit_bytes,oom_kills,restarts,"
	       "recommended_request_bytes,recommended_limit_bytes,krr_bytes,vpa_bytes,limit_change_bytes,"
	       "gib_hours_per_month,under,warnings\n");
	for (int i = 0; i < r->nrows; i++) {
		const struct fleet_row *w = &r->rows[i];
		csv_field(w->ns);
		putchar(',');
		csv_field(w->kind);
		putchar(',');
		csv_field(w->name);
		putchar(',');
		csv_field(w->container);
		printf(",%d,%.2f,%lld,%d,%lld,%lld,%lld,%lld,%d,%d,%lld,%lld,%lld,%lld,%lld,%.1f,%d,", w->pods, w->avg_replicas,
		       (long long)w->peak_bytes, w->peak_exact, (long long)w->missed_bytes, (long long)w->ws_p95_bytes,
		       (long long)w->cur_request, (long long)w->cur_limit, w->oom_kills, w->restarts,
		       (long long)w->rec_request, (long long)w->rec_limit, (long long)w->krr_bytes, (long long)w->vpa_bytes,
		       (long long)w->change_bytes, w->gib_hours_month, w->under);
		int nw = row_warnings(w, r->scrape_s, warn, 8);
		char all[2048] = "";
		for (int k = 0; k < nw; k++)
			snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s", k ? "; " : "", warn[k]);
		csv_field(all);
		putchar('\n');
	}
}

static void fleet_print_table(const struct fleet_result *r, const char *window)
{
	char name[600], pk[32], p95[32], cr[32], cl[32], rr[32], rl[32], krr[32], vpa[32], ch[32], warn[8][256];
	int wn = 8;
	for (int i = 0; i < r->nrows; i++) {
		const struct fleet_row *w = &r->rows[i];
		int l = snprintf(name, sizeof(name), "%s/%s/%s/%s", w->ns, w->kind, w->name, w->container);
		if (l > wn)
			wn = l < 70 ? l : 70;
	}
	printf("%-*s %4s %8s %8s %8s %8s %3s %4s | %8s %8s %8s %8s | %9s %9s\n", wn, "WORKLOAD/CONTAINER", "PODS", "PEAK",
	       "P95", "REQUEST", "LIMIT", "OOM", "RST", "REC.REQ", "REC.LIM", "KRR", "VPA", "CHANGE", "GiB-h/mo");
	for (int i = 0; i < r->nrows; i++) {
		const struct fleet_row *w = &r->rows[i];
		snprintf(name, sizeof(name), "%s/%s/%s/%s", w->ns, w->kind, w->name, w->container);
		if (w->cur_limit > 0 && w->rec_limit > 0)
			snprintf(ch, sizeof(ch), "%+lldMi", (long long)(w->change_bytes / UTIL_MiB));
		else
			snprintf(ch, sizeof(ch), "-");
		printf("%-*.*s %4d %7s%c %8s %8s %8s %3d %4d | %8s %8s %8s %8s | %9s %+9.1f\n", wn, wn, name, w->pods,
		       sz(w->peak_bytes, pk, sizeof(pk)), w->peak_exact ? '*' : ' ', sz(w->ws_p95_bytes, p95, sizeof(p95)),
		       sz(w->cur_request, cr, sizeof(cr)), sz(w->cur_limit, cl, sizeof(cl)), w->oom_kills, w->restarts,
		       sz(w->rec_request, rr, sizeof(rr)), sz(w->rec_limit, rl, sizeof(rl)), sz(w->krr_bytes, krr, sizeof(krr)),
		       sz(w->vpa_bytes, vpa, sizeof(vpa)), ch, w->gib_hours_month);
	}
	printf("* exact peak (headroom exporter); else the sampled working set. limit = peak over %s x (1 + %g), "
	       "request = p95 of the working set; KRR = max x 1.15, VPA = P90 of daily peaks x 1.15 (>= 250Mi)\n",
	       window, r->headroom);
	for (int i = 0; i < r->nrows; i++) {
		const struct fleet_row *w = &r->rows[i];
		int nw = row_warnings(w, r->scrape_s, warn, 8);
		for (int k = 0; k < nw; k++)
			printf("  %s/%s/%s/%s: %s\n", w->ns, w->kind, w->name, w->container, warn[k]);
	}
}

static void on_skipped(void *ctx, const struct fleet_row *w, const char *reason)
{
	cli_note("no patch for %s/%s/%s: %s", w->ns, w->kind, w->name, reason);
}

static int fleet_view(const struct fleet_options *fo, const char *format, const char *window_text,
                      const char *patch_dir, bool fail_under, bool may_fall_back, const struct promsize_options *po)
{
	struct fleet_result r;
	char why[512];
	int rc = fleet_run(fo, &r, why, sizeof(why));
	for (int i = 0; i < r.nnotes && rc >= 0; i++)
		cli_note("%s", r.notes[i]);
	if (rc == -ENODATA && may_fall_back && r.nnotes == 0) {
		/* no namespace/pod/container labels anywhere (an exporter on a pid or a cgroup): per series */
		fleet_free(&r);
		return series_view(po, format, window_text);
	}
	if (rc < 0) {
		for (int i = 0; i < r.nnotes; i++)
			cli_note("%s", r.notes[i]);
		fleet_free(&r);
		return cli_fail(rc == -EINVAL && strncmp(why, "--", 2) == 0 ? EXIT_USAGE : EXIT_FAIL, "%s", why);
	}
	if (strcmp(format, "json") == 0)
		fleet_print_json(&r, fo->url);
	else if (strcmp(format, "yaml") == 0)
		fleet_print_yaml(&r, fo->url, window_text);
	else if (strcmp(format, "csv") == 0)
		fleet_print_csv(&r);
	else
		fleet_print_table(&r, window_text);
	int code = 0;
	if (patch_dir) {
		int n = fleet_patch_write(&r, patch_dir, on_skipped, NULL, why, sizeof(why));
		if (n < 0)
			code = cli_fail(EXIT_FAIL, "%s", why);
		else
			cli_note("%d patches written to %s", n, patch_dir);
	}
	if (fail_under && code == 0) {
		int under = 0;
		char cl[32], rl[32];
		for (int i = 0; i < r.nrows; i++) {
			const struct fleet_row *w = &r.rows[i];
			if (!w->under)
				continue;
			under++;
			fprintf(stderr, "under: %s/%s/%s/%s limit %s < recommended %s\n", w->ns, w->kind, w->name, w->container,
			        sz(w->cur_limit, cl, sizeof(cl)), sz(w->rec_limit, rl, sizeof(rl)));
		}
		if (under)
			code = EXIT_UNDER;
	}
	fleet_free(&r);
	return code;
}

/* Long because: one case per option the Prometheus sizing takes from size's table, each a few
 * lines of checking, before any query is sent. */
int cmd_size_prometheus(int argc, char **argv)
{
	struct promsize_options o = {.headroom = 0.25};
	const char *format = "table", *window_text = "7d", *by = NULL, *patch_dir = NULL;
	bool fail_under = false;
	double at_s = 0;
	int64_t step_ns = 0;
	struct option long_opts[CLI_OPTS_MAX];
	cli_opts_getopt(size_opts, long_opts, CLI_OPTS_MAX);
	optind = 1;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_PROMETHEUS:
			o.url = optarg;
			break;
		case OPT_SELECTOR: {
			size_t l = strlen(optarg);
			if (l < 2 || optarg[0] != '{' || optarg[l - 1] != '}')
				return cli_fail(EXIT_USAGE, "--selector '%s' is not a label selector (accepted: '{namespace=\"shop\"}')", optarg);
			o.selector = optarg;
			break;
		}
		case OPT_WINDOW:
			if (util_duration_parse(optarg, &o.window_ns) < 0 || o.window_ns < 1000000000LL)
				return cli_fail(EXIT_USAGE, "--window '%s' is not a duration of a second or more (accepted: 1h, 7d)", optarg);
			window_text = optarg;
			break;
		case OPT_HEADROOM:
			if (util_percent_parse(optarg, &o.headroom) < 0 || o.headroom < 0 || o.headroom > 2)
				return cli_fail(EXIT_USAGE, "--headroom '%s' is not a percentage from 0 to 200 (accepted: 25, 25%%)", optarg);
			break;
		case OPT_FORMAT:
			/* "text" too, as `size FILE...` calls its table */
			if (strcmp(optarg, "table") && strcmp(optarg, "text") && strcmp(optarg, "yaml") && strcmp(optarg, "json") &&
			    strcmp(optarg, "csv"))
				return cli_fail(EXIT_USAGE, "--format '%s' is not one of table, yaml, json, csv", optarg);
			format = strcmp(optarg, "text") == 0 ? "table" : optarg;
			break;
		case OPT_TIMEOUT:
			if (util_duration_parse(optarg, &o.timeout_ns) < 0 || o.timeout_ns <= 0)
				return cli_fail(EXIT_USAGE, "--timeout '%s' is not a duration above zero (accepted: 10s)", optarg);
			break;
		case OPT_BY:
			if (strcmp(optarg, "workload") && strcmp(optarg, "series"))
				return cli_fail(EXIT_USAGE, "--by '%s' is not one of workload, series", optarg);
			by = optarg;
			break;
		case OPT_PATCH:
			patch_dir = optarg;
			break;
		case OPT_FAIL_ON:
			if (strcmp(optarg, "under"))
				return cli_fail(EXIT_USAGE, "--fail-on '%s' is not a failure class (accepted: under)", optarg);
			fail_under = true;
			break;
		case OPT_AT: {
			char *end;
			at_s = strtod(optarg, &end);
			if (end == optarg || *end || !(at_s > 0 && at_s < 1e11))
				return cli_fail(EXIT_USAGE, "--at '%s' is not a time (accepted: unix seconds, 1764460800)", optarg);
			break;
		}
		case OPT_STEP:
			if (util_duration_parse(optarg, &step_ns) < 0 || step_ns < 1000000000LL)
				return cli_fail(EXIT_USAGE, "--step '%s' is not a duration of a second or more (accepted: 15s, 1m)", optarg);
			break;
		case OPT_JSON:
			format = "json";
			break;
		case CLI_OPT_HELP:
			cli_help_print(stdout, &size_help, cli_width(STDOUT_FILENO));
			return 0;
		case ':':
		case '?':
			return cli_opts_fail(size_opts, opt, argc, argv);
		default:
			return cli_fail(EXIT_USAGE, "size: --%s is for sizing from recordings, not with --prometheus",
					cli_opt_name(size_opts, opt));
		}
	}
	if (!o.url)
		return cli_fail(EXIT_USAGE, "size from Prometheus needs --prometheus URL");
	if (optind < argc)
		return cli_fail(EXIT_USAGE, "size --prometheus takes no files ('%s')", argv[optind]);
	if (patch_dir) {
		/* before any query: a run that cannot write its patches should not print figures first */
		struct stat st;
		if (stat(patch_dir, &st) < 0 || !S_ISDIR(st.st_mode))
			return cli_fail(EXIT_USAGE, "--patch '%s' is not a directory (it must be an existing directory)", patch_dir);
	}
	bool series = by && strcmp(by, "series") == 0;
	bool fleet_only = patch_dir || fail_under || at_s > 0 || step_ns > 0 || strcmp(format, "csv") == 0;
	if (series && fleet_only)
		return cli_fail(EXIT_USAGE, "--patch, --fail-on, --at, --step and --format csv need --by workload");
	if (series)
		return series_view(&o, format, window_text);
	struct fleet_options fo = {.url = o.url, .selector = o.selector, .window_ns = o.window_ns, .step_ns = step_ns,
	                           .at_s = at_s, .headroom = o.headroom, .timeout_ns = o.timeout_ns};
	return fleet_view(&fo, format, window_text, patch_dir, fail_under, !by && !fleet_only, &o);
}
