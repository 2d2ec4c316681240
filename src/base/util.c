#include "util.h"

#include "sat.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct unit { const char *suffix; double factor; };

/* Kubernetes' own suffixes (apimachinery resource.Quantity): binary Ki..Ei, decimal k (lower
 * case only: "K" is not a quantity there, so a limit written with it would not apply), M..E. */
static const struct unit size_units[] = {
	{"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
	{"Pi", 1125899906842624.0}, {"Ei", 1152921504606846976.0},
	{"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"P", 1e15}, {"E", 1e18}, {"", 1.0},
};

/* Kubernetes' decimal exponent: "1e9", "1.5E6" (a bare number followed by e/E and an integer). */
static int parse_exponent(const char *end, double *v)
{
	if ((end[0] != 'e' && end[0] != 'E') || !end[1])
		return -EINVAL;
	const char *p = end + 1;
	int sign = 1;
	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (!*p || strlen(p) > 2 || strspn(p, "0123456789") != strlen(p))
		return -EINVAL;
	uint64_t e;
	if (util_parse_u64(&p, &e) < 0)   /* at most two digits, checked above */
		return -EINVAL;
	*v *= pow(10.0, sign * (double)e);
	return 0;
}

/* A decimal number with at most one '.', no sign, no exponent. */
static int parse_decimal(const char *text, double *ret, const char **ret_end)
{
	const char *p = text;
	int digits = 0, dots = 0;
	while (isdigit((unsigned char)*p) || *p == '.') {
		if (*p == '.')
			dots++;
		else
			digits++;
		p++;
	}
	if (digits == 0 || dots > 1)
		return -EINVAL;
	char tmp[64];
	size_t n = (size_t)(p - text);
	if (n >= sizeof(tmp))
		return -ERANGE;
	memcpy(tmp, text, n);
	tmp[n] = '\0';
	*ret = strtod(tmp, NULL);
	*ret_end = p;
	return 0;
}

int util_size_parse(const char *text, int64_t *ret_bytes)
{
	if (!text || !*text)
		return -EINVAL;
	double v;
	const char *end;
	int r = parse_decimal(text, &v, &end);
	if (r < 0)
		return r;
	double factor = 0;
	for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++)
		if (strcmp(end, size_units[i].suffix) == 0)
			factor = size_units[i].factor;
	if (factor == 0 && parse_exponent(end, &v) == 0)
		factor = 1.0;
	if (factor == 0)
		return -EINVAL;
	double bytes = ceil(v * factor);
	/* no memory size is above 8 EiB - 1 MiB: a larger figure is refused rather than wrapping when
	 * it is later rounded up to a whole Mi (9.2e18 did, found by fuzz_quantity) */
	if (!(bytes <= (double)(INT64_MAX - (1LL << 20) - (1LL << 11))))
		return -ERANGE;
	*ret_bytes = (int64_t)bytes;
	return 0;
}

void util_size_explain(const char *text, char *buf, size_t len)
{
	const char *accepted = "accepted: plain bytes or a Kubernetes quantity such as 256Mi, 1Gi, 500M, 1.5G, 500k, 1e9";
	double v;
	const char *end;
	if (text && parse_decimal(text, &v, &end) == 0 &&
	    (strcasecmp(end, "MB") == 0 || strcasecmp(end, "GB") == 0 || strcasecmp(end, "KB") == 0 ||
	     strcasecmp(end, "TB") == 0)) {
		int n = (int)(end - text);
		char u = (char)toupper((unsigned char)end[0]);
		snprintf(buf, len, "'%s' is ambiguous: use %.*s%ci (binary, %s) or %.*s%c (decimal)", text, n,
			 text, u, u == 'K' ? "KiB" : u == 'M' ? "MiB" : u == 'G' ? "GiB" : "TiB", n, text,
			 u == 'K' ? 'k' : u);
		return;
	}
	if (text && parse_decimal(text, &v, &end) == 0 && strcmp(end, "K") == 0) {
		int n = (int)(end - text);
		snprintf(buf, len, "'%s' is not a Kubernetes quantity: write %.*sk (10^3, lower case) or %.*sKi (2^10)", text,
			 n, text, n, text);
		return;
	}
	if (text && parse_decimal(text, &v, &end) == 0 && (strcasecmp(end, "mib") == 0 || strcasecmp(end, "gib") == 0)) {
		int n = (int)(end - text);
		snprintf(buf, len, "'%s' is not a quantity: write %.*s%ci", text, n, text, toupper((unsigned char)end[0]));
		return;
	}
	snprintf(buf, len, "'%s' is not a size (%s)", text ? text : "", accepted);
}

static const struct unit duration_units[] = {
	{"ns", 1.0}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}, {"d", 86400e9},
};

int util_duration_parse(const char *text, int64_t *ret_ns)
{
	if (!text || !*text)
		return -EINVAL;
	double v;
	const char *end;
	int r = parse_decimal(text, &v, &end);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
		if (strcmp(end, duration_units[i].suffix) == 0) {
			double ns = v * duration_units[i].factor;
			if (ns > 9.2e18)
				return -ERANGE;
			*ret_ns = (int64_t)llround(ns);
			return 0;
		}
	}
	return -EINVAL;
}

int util_percent_parse(const char *text, double *ret_fraction)
{
	if (!text || !*text)
		return -EINVAL;
	const char *p = text;
	int negative = 0;
	if (*p == '-') {
		negative = 1;
		p++;
	}
	double v;
	const char *end;
	int r = parse_decimal(p, &v, &end);
	if (r < 0)
		return r;
	/* one unit, percent: "0.5" is half a percent, not half (issue 16.13: "0.25" and "25" meant
	 * the same and "1" meant 1 %, a trap) */
	if (strcmp(end, "%") != 0 && strcmp(end, "") != 0)
		return -EINVAL;
	v /= 100.0;
	*ret_fraction = negative ? -v : v;
	return 0;
}

char *util_size_format(int64_t bytes, char *buf, size_t len)
{
	if (bytes < 0)
		snprintf(buf, len, "-");
	else if (bytes < 1024)
		snprintf(buf, len, "%lldB", (long long)bytes);
	else if (bytes < UTIL_MiB)
		snprintf(buf, len, "%.1fKi", bytes / 1024.0);
	else if (bytes < 1024 * UTIL_MiB)
		snprintf(buf, len, "%.1fMi", bytes / (double)UTIL_MiB);
	else
		snprintf(buf, len, "%.2fGi", bytes / (1024.0 * UTIL_MiB));
	return buf;
}

int64_t util_round_up_mi(int64_t bytes)
{
	if (bytes <= 0)
		return 0;
	if (bytes > INT64_MAX - UTIL_MiB)
		return INT64_MAX / UTIL_MiB * UTIL_MiB; /* saturate: never wrap to a negative size */
	return (bytes + UTIL_MiB - 1) / UTIL_MiB * UTIL_MiB;
}

char *util_size_format_mi_ceil(int64_t bytes, char *buf, size_t len)
{
	snprintf(buf, len, "%lldMi", (long long)(util_round_up_mi(bytes) / UTIL_MiB));
	return buf;
}

char *util_duration_format(int64_t ns, char *buf, size_t len)
{
	double s = ns / 1e9;
	if (ns < 0)
		snprintf(buf, len, "-");
	else if (s < 0.001)
		snprintf(buf, len, "%.0fus", ns / 1e3);
	else if (s < 1)
		snprintf(buf, len, "%.0fms", ns / 1e6);
	else if (s < 60)
		snprintf(buf, len, "%.1fs", s);
	else if (s < 3600)
		snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)s % 60);
	else /* up to 292 years of ns: long long holds the hours, int would not */
		snprintf(buf, len, "%lldh%02lldm", (long long)(s / 3600), ((long long)s % 3600) / 60);
	return buf;
}

int64_t util_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t util_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

ssize_t util_read_fd(int fd, char *buf, size_t len)
{
	if (len < 2)
		return -EINVAL;
	ssize_t n;
	do
		n = pread(fd, buf, len - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if ((size_t)n == len - 1)
		return -EFBIG;
	return n;
}

ssize_t util_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = util_read_fd(fd, buf, len);
	close(fd);
	return n;
}

int util_write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t n = strlen(text);
	ssize_t w = write(fd, text, n);
	int r = w < 0 ? -errno : (size_t)w == n ? 0 : -EIO;
	close(fd);
	return r;
}

int util_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = 0;
	const char *p = data;
	size_t off = 0;
	while (off < len && rc == 0) {
		ssize_t w = write(fd, p + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			rc = -errno;
		else
			off += (size_t)w;
	}
	if (rc == 0 && fchmod(fd, (mode_t)mode) < 0)
		rc = -errno;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int util_parse_u64(const char **p, uint64_t *ret)
{
	const char *s = *p;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	uint64_t v = 0;
	while (isdigit((unsigned char)*s)) {
		/* a number past 2^64 is refused: wrapped, it would read as a small plausible one */
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
			return -ERANGE;
		s++;
	}
	*ret = v;
	*p = s;
	return 0;
}

char *util_shell_quote(const char *arg, char *buf, size_t len)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-";
	if (len == 0)
		return buf;
	const unsigned char *p = (const unsigned char *)(arg ? arg : "");
	if (*p && strspn((const char *)p, safe) == strlen((const char *)p)) {
		snprintf(buf, len, "%s", (const char *)p);
		return buf;
	}
	bool ctl = false;
	for (const unsigned char *q = p; *q; q++)
		if (*q < 0x20 || *q == 0x7f)
			ctl = true;
	/* 'it'\''s' for ordinary text; bash's $'...' with \xNN when a control byte must not reach the
	 * terminal raw */
	size_t o = 0;
	o += (size_t)snprintf(buf + o, len - o, ctl ? "$'" : "'");
	for (; *p && o + 6 < len; p++) {
		if (ctl && (*p == '\\' || *p == '\'')) {
			buf[o++] = '\\';
			buf[o++] = (char)*p;
		} else if (ctl && (*p < 0x20 || *p == 0x7f))
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", *p);
		else if (!ctl && *p == '\'')
			o += (size_t)snprintf(buf + o, len - o, "'\\''");
		else
			buf[o++] = (char)*p;
	}
	if (o + 2 <= len) {
		buf[o++] = '\'';
		buf[o] = '\0';
	} else {
		buf[len - 1] = '\0';
	}
	return buf;
}

/* the saturating helpers of sat.h, for callers outside the hot paths */
int64_t util_add_sat(int64_t a, int64_t b)
{
	return sat_add(a, b);
}

int64_t util_double_to_i64(double v, int64_t nan_value)
{
	if (v != v)
		return nan_value;
	if (v >= 9223372036854775807.0) /* 2^63: the first double above INT64_MAX */
		return INT64_MAX;
	if (v <= -9223372036854775808.0)
		return INT64_MIN;
	return (int64_t)v;
}

int64_t util_mul_sat(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_mul_overflow(a, b, &r))
		return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
	return r;
}

/* Length of the valid UTF-8 sequence at s (2..4), or 0 when it is not one (overlong forms,
 * surrogates and code points above U+10FFFF count as invalid: a terminal may read them oddly). */
static size_t utf8_len(const unsigned char *s, uint32_t *ret_cp)
{
	uint32_t cp;
	size_t n;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret_cp = cp;
	return n;
}

char *util_term_escape(const char *in, char *out, size_t len, bool keep_newlines)
{
	if (!out || len == 0)
		return out;
	size_t k = 0;
	const unsigned char *s = (const unsigned char *)(in ? in : "");
	while (*s) {
		char esc[16];
		const char *piece = esc;
		size_t n = 1, plen;
		uint32_t cp = 0;
		if (*s == '\n' && keep_newlines) {
			piece = "\n";
		} else if (*s == '\t' && keep_newlines) {
			piece = "\t";
		} else if (*s == '\n') {
			piece = "\\n";
		} else if (*s == '\t') {
			piece = "\\t";
		} else if (*s == 0x1b) {
			piece = "\\e";
		} else if (*s < 0x20 || *s == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", *s);
		} else if (*s < 0x80) {
			esc[0] = (char)*s;
			esc[1] = '\0';
		} else if ((n = utf8_len(s, &cp)) == 0) {
			n = 1;
			snprintf(esc, sizeof(esc), "\\x%02x", *s);
		} else if (cp >= 0x80 && cp <= 0x9f) {
			/* C1 controls: U+009B is a CSI to a terminal that reads UTF-8 */
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
		} else {
			memcpy(esc, s, n);
			esc[n] = '\0';
		}
		plen = strlen(piece);
		if (k + plen >= len)
			break;
		memcpy(out + k, piece, plen);
		k += plen;
		s += n;
	}
	out[k] = '\0';
	return out;
}
