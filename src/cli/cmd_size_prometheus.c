#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "promsize.h"
#include "util.h"

#define SIZEP_USAGE "size --prometheus URL [--selector '{namespace=\"shop\"}'] [--window 7d] [--headroom 25%] [--format table|yaml|json]"

enum { OPT_PROM = 256, OPT_SELECTOR, OPT_WINDOW, OPT_HEADROOM, OPT_FORMAT, OPT_TIMEOUT };

static const struct option long_opts[] = {
	{"prometheus", required_argument, NULL, OPT_PROM},
	{"selector", required_argument, NULL, OPT_SELECTOR},
	{"window", required_argument, NULL, OPT_WINDOW},
	{"headroom", required_argument, NULL, OPT_HEADROOM},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{NULL, 0, NULL, 0},
};

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

int cmd_size_prometheus(int argc, char **argv)
{
	struct promsize_options o = {.headroom = 0.25};
	const char *format = "table", *window_text = "7d";
	optind = 1;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_PROM:
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
			if (util_percent_parse(optarg, &o.headroom) < 0 || o.headroom < 0 || o.headroom > 10)
				return cli_fail(EXIT_USAGE, "--headroom '%s' is not a percentage (accepted: 25%%, 0.25)", optarg);
			break;
		case OPT_FORMAT:
			/* "text" too, as `size FILE...` calls its table */
			if (strcmp(optarg, "table") && strcmp(optarg, "text") && strcmp(optarg, "yaml") && strcmp(optarg, "json"))
				return cli_fail(EXIT_USAGE, "--format '%s' is not one of table, yaml, json", optarg);
			format = strcmp(optarg, "text") == 0 ? "table" : optarg;
			break;
		case OPT_TIMEOUT:
			if (util_duration_parse(optarg, &o.timeout_ns) < 0 || o.timeout_ns <= 0)
				return cli_fail(EXIT_USAGE, "--timeout '%s' is not a duration above zero (accepted: 10s)", optarg);
			break;
		default:
			return cli_fail(EXIT_USAGE, "size: unknown or incomplete option '%s'; usage: headroom %s",
			                argv[optind - 1], SIZEP_USAGE);
		}
	}
	if (!o.url)
		return cli_fail(EXIT_USAGE, "size from Prometheus needs --prometheus URL; usage: headroom %s", SIZEP_USAGE);
	if (optind < argc)
		return cli_fail(EXIT_USAGE, "size --prometheus takes no files ('%s'); usage: headroom %s", argv[optind], SIZEP_USAGE);

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
