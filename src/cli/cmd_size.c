/* headroom size FILE... : Kubernetes memory requests and limits from recordings, with the KRR and
 * VPA anchors and autoscaling advice. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analyze.h"
#include "cli.h"
#include "gate.h"
#include "markdown.h"
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
	{"format", "FMT", "yaml (recordings), table (Prometheus)", "yaml (a resources: block), json, text/table, "
	 "markdown (a summary for a pull request or a CI job; recordings), csv (Prometheus)", OPT_FORMAT},
	{"json", NULL, NULL, "same as --format json", OPT_JSON},
	{"verify", NULL, NULL, "replay '-- COMMAND [ARG...]' under the recommended limit and say whether it held "
	 "(exit 1 when it was OOM-killed)", OPT_VERIFY},
	{"verify-margin", NULL, NULL, "--verify, and also under 0.9 x the true peak, expected to be OOM-killed",
	 OPT_VERIFY_MARGIN},
	{"no-replay-load", NULL, NULL, "with --verify: replay the command alone, not the load the recording had",
	 OPT_NO_REPLAY_LOAD},
	{"fail-on", "CLASS[,CLASS]", "none", "exit with the class's status when it holds: growing, oom, over-limit, "
	 "under-sized (recordings, docs/ci.md); under (Prometheus: a workload's limit below its recommendation)",
	 OPT_FAIL_ON},
	{"html-link", "URL", NULL, "with --format markdown: a link to the HTML report", OPT_HTML_LINK},
	{"prometheus", "URL", NULL, "size every container from a Prometheus server's history instead of "
	 "recordings (loopback or any http:// URL)", OPT_PROMETHEUS},
	{"selector", "SEL", "every container", "with --prometheus: a label selector, e.g. '{namespace=\"shop\"}'",
	 OPT_SELECTOR},
	{"window", "DUR", "7d", "with --prometheus: how much history to take the peak over", OPT_WINDOW},
	{"timeout", "DUR", "30s", "with --prometheus: per query", OPT_TIMEOUT},
	{"by", "KIND", "workload", "with --prometheus: workload (owners from kube-state-metrics) or series", OPT_BY},
	{"patch", "DIR", NULL, "with --prometheus: write one strategic-merge patch per workload into DIR", OPT_PATCH},
	{"at", "UNIXTIME", "now", "with --prometheus: the end of the window", OPT_AT},
	{"step", "DUR", "1m", "with --prometheus: the resolution of the queries over the window", OPT_STEP},
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
	"or a --verify replay was OOM-killed, 2 for a usage error, 3 for --fail-on under (Prometheus), "
	"10-13 for --fail-on classes (docs/ci.md).",
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

/* The load to replay: the recording that set the peak first, then any other that had load. */
static char **replay_load(struct recording **rec, size_t n, size_t first, const char **ret_from)
{
	for (size_t k = 0; k <= n; k++) {
		size_t i = k == 0 ? first : k - 1;
		if (i >= n || (k > 0 && i == first))
			continue;
		char **args = NULL;
		int r = verify_load_args(rec[i], &args);
		if (r == 0) {
			*ret_from = rec[i]->path;
			return args;
		}
		if (r == -EPROTO)
			cli_note("verify: the load recorded in '%s' is malformed: not replayed from it", rec[i]->path);
	}
	return NULL;
}

/* Replay under the limit, and with margin under 0.9 × the true peak, each into a fresh recording. */
static int run_verify(const struct sizing *s, char **command, char **load, bool margin, struct verify_result *v,
		      size_t *nv)
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
		char lim[32];   /* the same figure the result line says (issue 19.9: "34Mi" then "35Mi") */
		cli_note("verify: running the command under %s%s", util_size_format(limits[k], lim, sizeof(lim)),
			 k ? " (0.9 × the true peak: expected to be OOM-killed)" : " (the recommended limit)");
		int r = verify_run(self, limits[k], command, load, path, &v[k]);
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

/* The same recording given twice: one file (same inode, through any path or link), or a copy of
 * the same run (its start instant, host and command; only when the start instant is known). */
static bool same_recording(const char *fa, const struct recording *ra, const char *fb, const struct recording *rb)
{
	struct stat sa, sb;
	if (stat(fa, &sa) == 0 && stat(fb, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino)
		return true;
	return ra->run.started_wall_ns > 0 && ra->run.started_wall_ns == rb->run.started_wall_ns &&
	       strcmp(ra->run.host, rb->run.host) == 0 && strcmp(ra->run.command, rb->run.command) == 0;
}

/* Recordings sized together must belong together (issue 19.7): the same recording counts once
 * (dropped from the arrays, which are compacted, *n updated; the dropped ones move past *n so
 * the caller still frees them); an unfinished one and different commands are warned about; a
 * mix of bases (cgroup usage vs RSS) is refused: their peaks are different quantities. */
static int check_together(const char **files, struct recording **rec, struct analysis **a, size_t *n)
{
	char sa[256], sb[256];
	for (size_t i = 0; i < *n; i++) {
		for (size_t j = 0; j < i; j++) {
			if (!same_recording(files[j], rec[j], files[i], rec[i]))
				continue;
			cli_note("warning: '%s' is the same recording as '%s': counted once", cli_safe(files[i], sa, sizeof(sa)),
				 cli_safe(files[j], sb, sizeof(sb)));
			const char *f = files[i];
			struct recording *r = rec[i];
			struct analysis *x = a[i];
			memmove(files + i, files + i + 1, (*n - i - 1) * sizeof(*files));
			memmove(rec + i, rec + i + 1, (*n - i - 1) * sizeof(*rec));
			memmove(a + i, a + i + 1, (*n - i - 1) * sizeof(*a));
			(*n)--;
			files[*n] = f;
			rec[*n] = r;
			a[*n] = x;
			i--;
			break;
		}
	}
	for (size_t i = 0; i < *n; i++) {
		if (!rec[i]->run.finished)
			cli_note("warning: '%s' is a recording headroom never finished (it was stopped or killed): its "
				 "figures end at its last flush and the peak may be missing", cli_safe(files[i], sa, sizeof(sa)));
		if (i == 0)
			continue;
		if (a[i]->basis != a[0]->basis)
			return cli_fail(EXIT_FAIL, "size: '%s' is measured as %s and '%s' as %s: their peaks are different "
					"quantities; record both the same way (with a cgroup, or both --no-cgroup) or size them "
					"one at a time", cli_safe(files[0], sa, sizeof(sa)), analyze_basis_name(a[0]->basis),
					cli_safe(files[i], sb, sizeof(sb)), analyze_basis_name(a[i]->basis));
		if (strcmp(rec[i]->run.command, rec[0]->run.command) != 0) {
			char ca[200], cb[200];
			cli_note("warning: '%s' and '%s' record different commands (%s, %s): sizing them together assumes "
				 "they are one service", cli_safe(files[0], sa, sizeof(sa)), cli_safe(files[i], sb, sizeof(sb)),
				 cli_safe(rec[0]->run.command, ca, sizeof(ca)), cli_safe(rec[i]->run.command, cb, sizeof(cb)));
		}
	}
	return 0;
}

/* Long because: one case per option of size's table, each a few lines of checking, then the
 * sizing, --verify and the output in their order; kept together so every option is validated
 * before anything runs. */
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
	bool verify = false, margin = false, markdown = false, replay = true;
	unsigned fail_on = 0;
	const char *html_link = NULL;
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
			else if (strcmp(val, "markdown") == 0)
				markdown = true;
			else
				code = cli_fail(EXIT_USAGE, "size: --format '%s' is not an output format (accepted: yaml, json, text, markdown)", val);
			if (strcmp(val, "markdown") != 0)
				markdown = false;
			break;
		case OPT_FAIL_ON:
			code = cli_fail_on_parse("size", val, &fail_on);
			break;
		case OPT_HTML_LINK:
			html_link = val;
			break;
		case OPT_NO_REPLAY_LOAD:
			replay = false;
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
		case OPT_BY:
		case OPT_PATCH:
		case OPT_AT:
		case OPT_STEP:
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
	if (code == 0 && !replay && !verify)
		code = cli_fail(EXIT_USAGE, "size: --no-replay-load goes with --verify");
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
	size_t nall = nfiles;
	if (code == 0)
		code = check_together(files, rec, a, &nfiles);
	if (code == 0) {
		struct sizing s;
		int r = size_recommend((const struct analysis *const *)a, nfiles, &opt, &s);
		struct verify_result v[2];
		size_t nv = 0;
		if (r < 0)
			code = cli_fail(EXIT_FAIL, "size: cannot size: %s", strerror(-r));
		char **load = NULL;
		if (code == 0 && verify) {
			/* the load the recording had, unless told otherwise; said either way */
			const char *from = NULL;
			load = replay ? replay_load(rec, nfiles, s.peak_recording, &from) : NULL;
			if (load) {
				char shown[512] = "";
				size_t sn = 0;
				for (size_t i = 0; load[i] && sn < sizeof(shown); i++)
					sn += (size_t)snprintf(shown + sn, sizeof(shown) - sn, "%s%s", i ? " " : "", load[i]);
				for (char *c = shown; *c; c++)   /* recorded text: no terminal escapes */
					if ((unsigned char)*c < 0x20 || *c == 0x7f)
						*c = '?';
				cli_note("verify: replaying the load recorded in '%s': %s (--no-replay-load: the command alone)",
					 from, shown);
			} else {
				cli_note("verify: %s", replay ? "the recordings had no load: replaying the command alone"
							      : "--no-replay-load: replaying the command alone, without load");
			}
			code = run_verify(&s, command, load, margin, v, &nv);
		}
		free(load);
		const struct analysis *const *ca = (const struct analysis *const *)a;
		unsigned fired = code == 0 ? gate_findings(ca, nfiles, &s, nv > 0 ? &v[0] : NULL) : 0;
		struct markdown_gate g = {.wanted = fail_on, .fired = fired, .exit_code = gate_exit_code(fired, fail_on)};
		if (code == 0 && markdown) {
			if (markdown_print_sizing(stdout, files, ca, nfiles, &s, v, nv, html_link, &g) < 0)
				code = cli_fail(EXIT_FAIL, "size: cannot write the output");
		} else if (code == 0 && report_print_sizing(stdout, &s, files, ca, fmt, v, nv) < 0) {
			code = cli_fail(EXIT_FAIL, "size: cannot write the output");
		}
		if (code == 0)
			cli_gate_say("size", fired, fail_on);
		/* --fail-on decides first (gate.h: 10..13); without it, a limit that did not hold under
		 * --verify is a failure scripts must see */
		if (code == 0 && g.exit_code)
			code = g.exit_code;
		else if (code == 0 && nv > 0 && v[0].oom_killed)
			code = EXIT_FAIL;
	}
	for (size_t i = 0; rec && a && i < nall; i++) {
		free(a[i]);
		recording_free(rec[i]);
	}
	free(rec);
	free(a);
	free(files);
	return code;
}
