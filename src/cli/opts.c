#include "opts.h"
#include "util.h"

#include <errno.h>
#include <string.h>

#include "cli.h"

/* the column option descriptions start at, like git's and curl's help */
#define HELP_DESC_COL 26

int cli_opts_getopt(const struct cli_opt *opts, struct option *out, size_t max)
{
	size_t n = 0;
	for (const struct cli_opt *o = opts; o->name; o++) {
		if (n + 2 >= max)
			return -E2BIG;
		out[n++] = (struct option){o->name, o->arg ? required_argument : no_argument, NULL, o->id};
	}
	out[n++] = (struct option){"help", no_argument, NULL, CLI_OPT_HELP};
	out[n] = (struct option){NULL, 0, NULL, 0};
	return 0;
}

const char *cli_opt_name(const struct cli_opt *opts, int id)
{
	for (const struct cli_opt *o = opts; o->name; o++)
		if (o->id == id)
			return o->name;
	return "?";
}


const char *cli_safe(const char *text, char *buf, size_t len)
{
	/* one escaping for every terminal-bound text: base's */
	if (len == 0)
		return "";
	return util_term_escape(text ? text : "", buf, len, false);
}

int cli_opts_fail(const struct cli_opt *opts, int opt, int argc, char **argv)
{
	char safe[256];
	if (opt == ':') {
		const char *name = cli_opt_name(opts, optopt);
		const char *arg = "a value";
		for (const struct cli_opt *o = opts; o->name; o++)
			if (o->id == optopt && o->arg)
				arg = o->arg;
		return cli_fail(EXIT_USAGE, "--%s needs a value (--%s %s)", name, name, arg);
	}
	const char *bad = optind - 1 >= 1 && optind - 1 < argc ? argv[optind - 1] : "";
	/* a short option inside a cluster: getopt left optind on the word */
	if (optopt > 0 && optopt < 128 && optopt != '-')
		return cli_fail(EXIT_USAGE, "unknown option '-%c'", optopt);
	if (optopt >= 256) {
		/* a flag given a value (--json=x) */
		return cli_fail(EXIT_USAGE, "--%s takes no value ('%s')", cli_opt_name(opts, optopt),
				cli_safe(bad, safe, sizeof(safe)));
	}
	if (strncmp(bad, "--", 2) == 0 && bad[2]) {
		/* getopt_long takes an unambiguous prefix: name the candidates of an ambiguous one */
		size_t n = strcspn(bad + 2, "=");
		char which[256] = "";
		size_t off = 0;
		int hits = 0;
		for (const struct cli_opt *o = opts; o->name && off < sizeof(which); o++)
			if (strncmp(o->name, bad + 2, n) == 0) {
				hits++;
				off += (size_t)snprintf(which + off, sizeof(which) - off, "%s--%s", off ? ", " : "", o->name);
			}
		if (hits > 1)
			return cli_fail(EXIT_USAGE, "ambiguous option '%s' (%s)", cli_safe(bad, safe, sizeof(safe)), which);
	}
	return cli_fail(EXIT_USAGE, "unknown option '%s'", cli_safe(bad, safe, sizeof(safe)));
}

/* Prints `text` from column `col`, wrapped at `width`, continuation lines at `indent`. */
static void wrap(FILE *f, const char *text, int col, int indent, int width)
{
	const char *p = text;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		int wl = (int)(p - w);
		if (wl == 0)
			break;
		if (col > indent && col + 1 + wl > width) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', f);
			col++;
		}
		fwrite(w, 1, (size_t)wl, f);
		col += wl;
	}
	fputc('\n', f);
}

void cli_help_print(FILE *f, const struct cli_help *h, int width)
{
	if (width < 40)
		width = 40;
	const char *s = h->synopsis;
	for (int first = 1; *s; first = 0) {
		const char *nl = strchr(s, '\n');
		int n = nl ? (int)(nl - s) : (int)strlen(s);
		fprintf(f, "%s%.*s\n", first ? "usage: headroom " : "       headroom ", n, s);
		s += n + (nl ? 1 : 0);
	}
	fputc('\n', f);
	wrap(f, h->summary, 0, 0, width);
	fprintf(f, "\noptions:\n");
	for (const struct cli_opt *o = h->opts; o->name; o++) {
		char head[64];
		int n = snprintf(head, sizeof(head), "  --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		fputs(head, f);
		int col = n;
		if (col >= HELP_DESC_COL - 1) {
			fprintf(f, "\n%*s", HELP_DESC_COL, "");
		} else {
			fprintf(f, "%*s", HELP_DESC_COL - col, "");
		}
		char desc[512];
		snprintf(desc, sizeof(desc), "%s%s%s%s", o->help, o->dflt ? " (default: " : "", o->dflt ? o->dflt : "",
			 o->dflt ? ")" : "");
		wrap(f, desc, HELP_DESC_COL, HELP_DESC_COL, width);
	}
	fprintf(f, "  --help%*sshow this help and exit\n", HELP_DESC_COL - 8, "");
	if (h->footer) {
		fputc('\n', f);
		const char *p = h->footer;
		while (*p) {
			const char *nl = strchr(p, '\n');
			size_t n = nl ? (size_t)(nl - p) : strlen(p);
			char line[512];
			snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1), p);
			wrap(f, line, 0, 0, width);
			p += n + (nl ? 1 : 0);
		}
	}
}

void cli_help_table(FILE *f, const struct cli_help *h)
{
	for (const struct cli_opt *o = h->opts; o->name; o++)
		fprintf(f, "%s\t--%s\t%s\t%s\t%s\n", h->name, o->name, o->arg ? o->arg : "-", o->dflt ? o->dflt : "-",
			o->help);
	fprintf(f, "%s\t--help\t-\t-\tshow this help and exit\n", h->name);
}
