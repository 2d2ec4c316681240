/* headroom size FILE... : Kubernetes memory requests and limits from recordings, with the KRR and
 * VPA anchors and autoscaling advice. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze.h"
#include "cli.h"
#include "gate.h"
#include "markdown.h"
#include "record.h"
#include "report.h"
#include "size.h"
#include "util.h"
#include "verify.h"

#define SIZE_USAGE "usage: headroom size FILE... [--headroom PCT] [--qos guaranteed|burstable] [--replicas N] " \
	"[--surge N] [--hpa-target PCT] [--format yaml|json|text|markdown] [--json] [--fail-on CLASS[,CLASS]] [--html-link URL] " \
	"[--verify [--verify-margin] [--no-replay-load] -- COMMAND [ARG...]]"

static int parse_count(const char *opt, const char *text, int *ret)
{
	char *end;
	long v = strtol(text, &end, 10);
	if (!*text || *end || v < 1 || v > 100000)
		return cli_fail(EXIT_USAGE, "size: %s takes a whole number of pods from 1 to 100000, not '%s'; %s", opt,
				text, SIZE_USAGE);
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
		cli_note("verify: running the command under %lldMi%s", (long long)(limits[k] >> 20),
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
	for (int i = 1; i < argc && code == 0; i++) {
		const char *arg = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = strcmp(arg, "--headroom") == 0 || strcmp(arg, "--qos") == 0 || strcmp(arg, "--replicas") == 0 ||
			     strcmp(arg, "--surge") == 0 || strcmp(arg, "--hpa-target") == 0 || strcmp(arg, "--format") == 0 ||
			     strcmp(arg, "--fail-on") == 0 || strcmp(arg, "--html-link") == 0;
		if (takes && !val) {
			code = cli_fail(EXIT_USAGE, "size: %s needs a value; %s", arg, SIZE_USAGE);
			break;
		}
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			printf("%s\n", SIZE_USAGE);
			free(files);
			return 0;
		} else if (strcmp(arg, "--headroom") == 0) {
			double f;
			if (util_percent_parse(val, &f) < 0)
				code = cli_fail(EXIT_USAGE, "size: --headroom takes a percentage like 25%% or 0.25, not '%s'", val);
			else if (f < 0 || f > SIZE_HEADROOM_MAX)
				code = cli_fail(EXIT_USAGE, "size: --headroom %s is outside 0%%..200%%: a limit below the peak "
						"is an OOM kill, above 3× the peak is waste; typical is 20%%..30%%", val);
			opt.headroom = f;
			i++;
		} else if (strcmp(arg, "--qos") == 0) {
			if (strcmp(val, "guaranteed") == 0)
				opt.qos_guaranteed = true;
			else if (strcmp(val, "burstable") == 0)
				opt.qos_guaranteed = false;
			else
				code = cli_fail(EXIT_USAGE, "size: --qos takes 'guaranteed' or 'burstable', not '%s'", val);
			i++;
		} else if (strcmp(arg, "--replicas") == 0) {
			code = parse_count(arg, val, &opt.replicas);
			i++;
		} else if (strcmp(arg, "--surge") == 0) {
			code = parse_count(arg, val, &opt.surge);
			i++;
		} else if (strcmp(arg, "--hpa-target") == 0) {
			double f;
			if (util_percent_parse(val, &f) < 0 || f <= 0 || f > 1)
				code = cli_fail(EXIT_USAGE, "size: --hpa-target takes a utilisation from 1%% to 100%%, not '%s'", val);
			opt.hpa_target = f;
			i++;
		} else if (strcmp(arg, "--format") == 0) {
			if (strcmp(val, "yaml") == 0)
				fmt = REPORT_SIZE_YAML;
			else if (strcmp(val, "json") == 0)
				fmt = REPORT_SIZE_JSON;
			else if (strcmp(val, "text") == 0)
				fmt = REPORT_SIZE_TEXT;
			else if (strcmp(val, "markdown") == 0)
				markdown = true;
			else
				code = cli_fail(EXIT_USAGE, "size: --format '%s' is not an output format (accepted: yaml, json, "
						"text, markdown)", val);
			if (strcmp(val, "markdown") != 0)
				markdown = false;
			i++;
		} else if (strcmp(arg, "--fail-on") == 0) {
			code = cli_fail_on_parse("size", val, &fail_on);
			i++;
		} else if (strcmp(arg, "--html-link") == 0) {
			html_link = val;
			i++;
		} else if (strcmp(arg, "--json") == 0) {
			fmt = REPORT_SIZE_JSON;
		} else if (strcmp(arg, "--verify") == 0) {
			verify = true;
		} else if (strcmp(arg, "--verify-margin") == 0) {
			verify = margin = true;
		} else if (strcmp(arg, "--no-replay-load") == 0) {
			replay = false;
		} else if (strcmp(arg, "--") == 0) {
			command = argv + i + 1;
			break;
		} else if (arg[0] == '-' && arg[1]) {
			code = cli_fail(EXIT_USAGE, "size: unknown option '%s'; %s", arg, SIZE_USAGE);
		} else {
			files[nfiles++] = arg;
		}
	}
	if (code == 0 && nfiles == 0)
		code = cli_fail(EXIT_USAGE, "size: no recording given; %s", SIZE_USAGE);
	if (code == 0 && !replay && !verify)
		code = cli_fail(EXIT_USAGE, "size: --no-replay-load goes with --verify; %s", SIZE_USAGE);
	if (code == 0 && verify && (!command || !command[0]))
		code = cli_fail(EXIT_USAGE, "size: --verify replays a command: add '-- COMMAND [ARG...]'; %s", SIZE_USAGE);
	if (code == 0 && !verify && command)
		code = cli_fail(EXIT_USAGE, "size: a command after '--' is only for --verify; %s", SIZE_USAGE);
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
	for (size_t i = 0; rec && a && i < nfiles; i++) {
		free(a[i]);
		recording_free(rec[i]);
	}
	free(rec);
	free(a);
	free(files);
	return code;
}
