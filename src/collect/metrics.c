/* metrics: the Prometheus text format, strictly (see metrics.h). */
#include "metrics.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool name_start(char c, bool metric)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':');
}

static bool name_char(char c, bool metric)
{
	return name_start(c, metric) || (c >= '0' && c <= '9');
}

/* A name at *p (metric or label); its length, 0 when there is none or it is too long. */
static size_t scan_name(const char *p, const char *end, bool metric)
{
	if (p >= end || !name_start(*p, metric))
		return 0;
	size_t n = 1;
	while (p + n < end && name_char(p[n], metric))
		n++;
	return n <= METRICS_NAME_MAX ? n : 0;
}

bool metrics_name_valid(const char *name)
{
	size_t len = strlen(name);
	return len > 0 && scan_name(name, name + len, true) == len;
}

/* True when the label value raw[0..n) (as written, between its quotes, escapes valid) reads as
 * want once its escapes are undone. */
static bool value_equal(const char *raw, size_t n, const char *want)
{
	size_t i = 0;
	for (; i < n; i++, want++) {
		char c = raw[i];
		if (c == '\\') {
			i++;
			c = raw[i] == 'n' ? '\n' : raw[i];
		}
		if (*want == '\0' || *want != c)
			return false;
	}
	return *want == '\0';
}

/* {label="value",...} at *pp (just after '{'); moves *pp past the '}'. For each wanted entry in
 * `named` (a bit per index: the sample's name is theirs) whose label is there with its value, sets
 * that bit in *ret_match. */
static int scan_labels(const char **pp, const char *end, const struct metrics_want *want, int nwant,
		       uint32_t named, uint32_t *ret_match)
{
	const char *p = *pp;
	for (;;) {
		while (p < end && is_blank(*p))
			p++;
		if (p < end && *p == '}') {
			*pp = p + 1;
			return 0;
		}
		size_t n = scan_name(p, end, false);
		if (n == 0)
			return -EBADMSG;
		const char *lname = p;
		p += n;
		while (p < end && is_blank(*p))
			p++;
		if (p >= end || *p != '=')
			return -EBADMSG;
		p++;
		while (p < end && is_blank(*p))
			p++;
		if (p >= end || *p != '"')
			return -EBADMSG;
		p++;
		const char *v = p;
		/* the value: any UTF-8 but a bare '"', '\\' or newline; escapes \\ \" \n only */
		for (;;) {
			if (p >= end)
				return -EBADMSG;
			if (*p == '"')
				break;
			if (*p == '\\') {
				if (p + 1 >= end || (p[1] != '\\' && p[1] != '"' && p[1] != 'n'))
					return -EBADMSG;
				p += 2;
				continue;
			}
			if (*p == '\0')
				return -EBADMSG;
			p++;
		}
		for (int i = 0; i < nwant && named; i++)
			if ((named & (1u << i)) && want[i].label && strlen(want[i].label) == n &&
			    memcmp(want[i].label, lname, n) == 0 && value_equal(v, (size_t)(p - v), want[i].label_value))
				*ret_match |= 1u << i;
		p++;
		while (p < end && is_blank(*p))
			p++;
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == '}') {
			*pp = p + 1;
			return 0;
		}
		return -EBADMSG;
	}
}

/* A number token [p, p+n): Go's ParseFloat forms the format allows, without hex or nan(...) that
 * strtod would also take. */
static int parse_value(const char *p, size_t n, double *ret)
{
	char buf[METRICS_NUMBER_MAX + 1];
	if (n == 0 || n > METRICS_NUMBER_MAX)
		return -EBADMSG;
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (strcmp(buf, "NaN") == 0) {
		*ret = NAN;
		return 0;
	}
	if (strcmp(buf, "+Inf") == 0 || strcmp(buf, "Inf") == 0) {
		*ret = INFINITY;
		return 0;
	}
	if (strcmp(buf, "-Inf") == 0) {
		*ret = -INFINITY;
		return 0;
	}
	if (strspn(buf, "0123456789.eE+-") != n)
		return -EBADMSG;
	char *e;
	errno = 0;
	double v = strtod(buf, &e);
	if (e != buf + n || errno == ERANGE)
		return -EBADMSG;
	*ret = v;
	return 0;
}

static int parse_timestamp(const char *p, size_t n)
{
	if (n > 0 && *p == '-') {
		p++;
		n--;
	}
	if (n == 0 || n > 19)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return -EBADMSG;
	return 0;
}

/* One sample line [p, end), without its newline. */
static int parse_sample(const char *p, const char *end, struct metrics_want *tmp, int nwant)
{
	size_t n = scan_name(p, end, true);
	if (n == 0)
		return -EBADMSG;
	/* which wanted entries this sample's name is (nwant <= 32), then which of them its labels suit */
	uint32_t named = 0, labelled = 0;
	for (int i = 0; i < nwant; i++)
		if (strlen(tmp[i].name) == n && memcmp(tmp[i].name, p, n) == 0)
			named |= 1u << i;
	p += n;
	if (p < end && *p == '{') {
		p++;
		if (scan_labels(&p, end, tmp, nwant, named, &labelled) < 0)
			return -EBADMSG;
	}
	if (p >= end || !is_blank(*p))
		return -EBADMSG;
	while (p < end && is_blank(*p))
		p++;
	const char *v = p;
	while (p < end && !is_blank(*p))
		p++;
	double value;
	if (parse_value(v, (size_t)(p - v), &value) < 0)
		return -EBADMSG;
	while (p < end && is_blank(*p))
		p++;
	if (p < end) {
		const char *t = p;
		while (p < end && !is_blank(*p))
			p++;
		if (parse_timestamp(t, (size_t)(p - t)) < 0)
			return -EBADMSG;
		while (p < end && is_blank(*p))
			p++;
		if (p < end)
			return -EBADMSG;
	}
	for (int i = 0; i < nwant; i++) {
		if (!(named & (1u << i)) || (tmp[i].label && !(labelled & (1u << i))) || (tmp[i].found && !tmp[i].sum))
			continue;
		tmp[i].value = tmp[i].found ? tmp[i].value + value : value;
		tmp[i].found = true;
		if (tmp[i].samples < INT_MAX)
			tmp[i].samples++;
	}
	return 0;
}

#define METRICS_WANT_MAX 32   /* series looked for at once: the known runtimes need about ten */

int metrics_parse(const char *text, size_t len, struct metrics_want *want, int nwant, int *ret_line)
{
	struct metrics_want tmp[METRICS_WANT_MAX];
	if (nwant < 0 || nwant > METRICS_WANT_MAX || (len && !text))
		return -EINVAL;
	for (int i = 0; i < nwant; i++) {
		tmp[i] = want[i];
		if (!tmp[i].name || (tmp[i].label && !tmp[i].label_value))
			return -EINVAL;
		tmp[i].found = false;
		tmp[i].value = 0;
		tmp[i].samples = 0;
	}
	const char *p = text, *end = text + len;
	int line = 0;
	while (p < end) {
		line++;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if (ret_line)
			*ret_line = line;
		if (le - p > METRICS_LINE_MAX)
			return -EMSGSIZE;
		if (memchr(p, '\0', (size_t)(le - p)) || memchr(p, '\r', (size_t)(le - p)))
			return -EBADMSG;
		const char *q = p;
		while (q < le && is_blank(*q))
			q++;
		if (q < le && *q != '#' && parse_sample(q, le, tmp, nwant) < 0)
			return -EBADMSG;
		p = nl ? nl + 1 : end;
	}
	if (ret_line)
		*ret_line = 0;
	for (int i = 0; i < nwant; i++)
		want[i] = tmp[i];
	return 0;
}
