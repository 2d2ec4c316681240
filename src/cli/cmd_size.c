/* headroom size FILE... : Kubernetes memory requests and limits from recordings, with the KRR and
 * VPA anchors and autoscaling advice. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze.h"
#include "cli.h"
#include "opts.h"
#include "record.h"
#include "report.h"
#include "size.h"
#include "size_opts.h"
#include "util.h"
#include "verify.h"

/* Both ways of sizing share one table (one --help): cmd_size_prometheus parses with it too. */
const struct cli_opt size_opts[] = {
	{"headroom", "PCT", "25%", "added above the peak for the limit, a "
	 "percentage: 25 or 25% (0..200)", OPT_HEADROOM},
	{"qos", "CLASS", "burstable", "guaranteed (request = limit) or burstable (request = steady state)", OPT_QOS},
	{"replicas", "N", "not asked", "pods starting together: their startup peaks add up on a node",
	 OPT_REPLICAS},
	{"surge", "N", "not asked", "extra pods of a rolling update (maxSurge)", OPT_SURGE},
	{"hpa-target", "PCT", "none", "the HPA's memory utilisation target, a percentage (1..100)", OPT_HPA_TARGET},
	{"format", "FMT", "yaml (recordings), table (Prometheus)", "yaml (a resources: block), json, or text/table",
	 OPT_FORMAT},
	{"json", NULL, NULL, "same as --format json", OPT_JSON},
	{"verify", NULL, NULL, "replay '-- COMMAND [ARG...]' under the recommended limit and say whether it held "
	 "(exit 1 when it was OOM-killed)", OPT_VERIFY},
	{"verify-margin", NULL, NULL, "--verify, and also under 0.9 x the true peak, expected to be OOM-killed",
	 OPT_VERIFY_MARGIN},
	{"prometheus", "URL", NULL, "size every container from a Prometheus server's history instead of "
	 "recordings (loopback or any http:// URL)", OPT_PROMETHEUS},
	{"selector", "SEL", "every container", "with --prometheus: a label selector, e.g. '{namespace=\"shop\"}'",
	 OPT_SELECTOR},
	{"window", "DUR", "7d", "with --prometheus: how much history to take the peak over", OPT_WINDOW},
	{"timeout", "DUR", "30s", "with --prometheus: per query", OPT_TIMEOUT},
	{NULL, NULL, NULL, NULL, 0},
};

const struct cli_help size_help = {
	"size",
	"size FILE... [options] [--verify -- COMMAND [ARG...]]\n"
	"size --prometheus URL [--selector SEL] [--window DUR] [options]",
	"Recommend Kubernetes memory requests and limits: from one or more recordings of the same service "
	"(the highest peak wins; a recording given twice counts once), or from a Prometheus server's "
	"container history. Shows the KRR and VPA answers beside it.",
	size_opts,
	"PCT: 25 or 25%.  DUR: 250ms, 10s, 5m, 1h, 7d.  Exit status: 0, 1 when a recording cannot be read "
	"or a --verify replay was OOM-killed, 2 for a usage error.",
};

static int parse_count(const char *opt, const char *text, int *ret)
{
	char *end;
	long v = strtol(text, &end, 10);
	if (!*text || *end || v < 1 || v > 100000)
		return cli_fail(EXIT_USAGE, "size: --%s takes a whole number of pods from 1 to 100000, not '%s'", opt, text);
	*ret = (int)v;
	return 0;
}

/* Replay under the limit, and with margin under 0.9 × the true peak, each into a fresh recording. */
static int run_verify(const struct sizing *s, char **command, bool margin, struct verify_result *v, size_t *nv)
{
	char self[4096];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		return cli_fail(EXIT_FAIL, "size: --verify: cannot find the headroom binary (/proc/self/exe)");
	self[len] = '\0';
	char dir[] = "/tmp/headroom-verify-XXXXXX";
	if (!mkdtemp(dir))
		return cli_fail(EXIT_FAIL, "size: --verify: cannot create a directory in /tmp: %s", strerror(errno));
	int code = 0;
	const int64_t limits[2] = {s->limit_bytes, s->true_peak * 9 / 10 / 4096 * 4096};
	for (int k = 0; k < (margin ? 2 : 1) && code == 0; k++) {
		char path[64];
		snprintf(path, sizeof(path), "%s/verify-%d.hr", dir, k);
		cli_note("verify: running the command under %lldMi%s", (long long)(limits[k] >> 20),
			 k ? " (0.9 × the true peak: expected to be OOM-killed)" : " (the recommended limit)");
		int r = verify_run(self, limits[k], command, path, &v[k]);
		if (r < 0)
			code = cli_fail(EXIT_FAIL, "size: --verify: the replay under %lld bytes failed: %s", (long long)limits[k],
					r == -ENOENT ? "`headroom run` wrote no recording" : record_strerror(r));
		else
			*nv = (size_t)k + 1;
		unlink(path);
	}
	rmdir(dir);
	return code;
}

int cmd_size(int argc, char **argv)
{
	/* sizing a fleet from Prometheus instead of recordings: its own options and code path */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		/* options only the Prometheus path has: it explains what is missing */
		if (strncmp(argv[i], "--prometheus", 12) == 0 || strncmp(argv[i], "--selector", 10) == 0 ||
		    strncmp(argv[i], "--window", 8) == 0)
			return cmd_size_prometheus(argc, argv);
	}
	struct size_options opt;
	size_options_init(&opt);
	enum report_size_format fmt = REPORT_SIZE_YAML;
	const char **files = calloc((size_t)argc, sizeof(*files));
	if (!files)
		return cli_fail(EXIT_FAIL, "size: out of memory");
	size_t nfiles = 0;
	int code = 0;
	bool verify = false, margin = false;
	char **command = NULL;
	/* "--" ends the options: what follows is the --verify command, left alone */
	int nargs = argc;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			nargs = i;
			command = argv + i + 1;
			break;
		}
	struct option lo[CLI_OPTS_MAX];
	cli_opts_getopt(size_opts, lo, CLI_OPTS_MAX);
	optind = 1;
	opterr = 0;
	int o;
	while (code == 0 && (o = getopt_long(nargs, argv, ":h", lo, NULL)) != -1) {
		const char *val = optarg;
		switch (o) {
		case CLI_OPT_HELP:
			cli_help_print(stdout, &size_help, cli_width(STDOUT_FILENO));
			free(files);
			return 0;
		case OPT_HEADROOM: {
			double f;
			if (util_percent_parse(val, &f) < 0)
				code = cli_fail(EXIT_USAGE, "size: --headroom takes a percentage like 25 or 25%%, not '%s'", val);
			else if (f < 0 || f > SIZE_HEADROOM_MAX)
				code = cli_fail(EXIT_USAGE, "size: --headroom %s is outside 0%%..200%%: a limit below the peak "
						"is an OOM kill, above 3× the peak is waste; typical is 20%%..30%%", val);
			opt.headroom = f;
			break;
		}
		case OPT_QOS:
			if (strcmp(val, "guaranteed") == 0)
				opt.qos_guaranteed = true;
			else if (strcmp(val, "burstable") == 0)
				opt.qos_guaranteed = false;
			else
				code = cli_fail(EXIT_USAGE, "size: --qos takes 'guaranteed' or 'burstable', not '%s'", val);
			break;
		case OPT_REPLICAS:
			code = parse_count("replicas", val, &opt.replicas);
			break;
		case OPT_SURGE:
			code = parse_count("surge", val, &opt.surge);
			break;
		case OPT_HPA_TARGET: {
			double f;
			if (util_percent_parse(val, &f) < 0 || f <= 0 || f > 1)
				code = cli_fail(EXIT_USAGE, "size: --hpa-target takes a utilisation from 1%% to 100%%, not '%s'", val);
			opt.hpa_target = f;
			break;
		}
		case OPT_FORMAT:
			if (strcmp(val, "yaml") == 0)
				fmt = REPORT_SIZE_YAML;
			else if (strcmp(val, "json") == 0)
				fmt = REPORT_SIZE_JSON;
			else if (strcmp(val, "text") == 0 || strcmp(val, "table") == 0)
				fmt = REPORT_SIZE_TEXT;
			else
				code = cli_fail(EXIT_USAGE, "size: --format takes yaml, json or text, not '%s'", val);
			break;
		case OPT_JSON:
			fmt = REPORT_SIZE_JSON;
			break;
		case OPT_VERIFY:
			verify = true;
			break;
		case OPT_VERIFY_MARGIN:
			verify = margin = true;
			break;
		case OPT_PROMETHEUS:
		case OPT_SELECTOR:
		case OPT_WINDOW:
		case OPT_TIMEOUT:
			code = cli_fail(EXIT_USAGE, "size: --%s goes with --prometheus URL, not with recordings",
					cli_opt_name(size_opts, o));
			break;
		default:
			code = cli_opts_fail(size_opts, o, nargs, argv);
			break;
		}
	}
	for (int i = optind; code == 0 && i < nargs; i++)
		files[nfiles++] = argv[i];
	if (code == 0 && nfiles == 0)
		code = cli_fail(EXIT_USAGE, "size: no recording given (headroom size FILE...)");
	if (code == 0 && verify && (!command || !command[0]))
		code = cli_fail(EXIT_USAGE, "size: --verify replays a command: add '-- COMMAND [ARG...]'");
	if (code == 0 && !verify && command)
		code = cli_fail(EXIT_USAGE, "size: a command after '--' is only for --verify");
	if (code != 0) {
		free(files);
		return code;
	}

	struct recording **rec = calloc(nfiles, sizeof(*rec));
	struct analysis **a = calloc(nfiles, sizeof(*a));
	if (!rec || !a)
		code = cli_fail(EXIT_FAIL, "size: out of memory");
	for (size_t i = 0; code == 0 && i < nfiles; i++) {
		int r = analyze_file(files[i], &rec[i], &a[i]);
		if (!rec[i]) {
			code = cli_fail(EXIT_FAIL, "size: cannot read '%s': %s", files[i], record_strerror(r));
			break;
		}
		if (r == -ENODATA)
			code = cli_fail(EXIT_FAIL, "size: '%s' has no memory samples: nothing to size from (record for "
					"longer than one interval)", files[i]);
		else if (r < 0)
			code = cli_fail(EXIT_FAIL, "size: cannot analyse '%s': %s", files[i], strerror(-r));
	}
	if (code == 0) {
		struct sizing s;
		int r = size_recommend((const struct analysis *const *)a, nfiles, &opt, &s);
		struct verify_result v[2];
		size_t nv = 0;
		if (r < 0)
			code = cli_fail(EXIT_FAIL, "size: cannot size: %s", strerror(-r));
		if (code == 0 && verify)
			code = run_verify(&s, command, margin, v, &nv);
		if (code == 0 && report_print_sizing(stdout, &s, files, (const struct analysis *const *)a, fmt, v, nv) < 0)
			code = cli_fail(EXIT_FAIL, "size: cannot write the output");
		/* a limit that did not hold is a failure scripts must see */
		if (code == 0 && nv > 0 && v[0].oom_killed)
			code = EXIT_FAIL;
	}
	for (size_t i = 0; rec && a && i < nfiles; i++) {
		free(a[i]);
		recording_free(rec[i]);
	}
	free(rec);
	free(a);
	free(files);
	return code;
}
