#include "http_parse.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

enum {
	S_STATUS,
	S_HEADER,
	S_BODY_LENGTH,
	S_BODY_CLOSE,
	S_CHUNK_SIZE,
	S_CHUNK_DATA,
	S_CHUNK_DATA_END,
	S_TRAILER,
	S_DONE,
	S_ERROR,
};

/* Lengths above this are nonsense for a load test and would risk overflow in sums. */
#define LENGTH_MAX (INT64_C(1) << 60)

static void reset_response(struct http_parser *p)
{
	p->state = S_STATUS;
	p->status = 0;
	p->minor = 0;
	p->keep_alive = false;
	p->body = HTTP_BODY_NONE;
	p->content_length = -1;
	p->body_bytes = 0;
	p->remaining = 0;
	p->header_bytes = 0;
	p->line_len = 0;
	p->te_seen = p->te_chunked = p->cl_seen = p->conn_close = p->conn_keep_alive = false;
}

void http_parse_init(struct http_parser *p, bool head_request)
{
	reset_response(p);
	p->error = 0;
	p->head = head_request;
	p->interim = 0;
}

bool http_parse_done(const struct http_parser *p)
{
	return p->state == S_DONE;
}

bool http_parse_idle(const struct http_parser *p)
{
	return p->state == S_STATUS && p->line_len == 0 && p->interim == 0;
}

static int fail(struct http_parser *p, int err)
{
	p->state = S_ERROR;
	p->error = err;
	return err;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Trims optional whitespace on both ends of [*s, *e). */
static void trim(const char **s, const char **e)
{
	while (*s < *e && is_ows(**s))
		(*s)++;
	while (*e > *s && is_ows((*e)[-1]))
		(*e)--;
}

static bool token_eq(const char *s, const char *e, const char *word)
{
	size_t n = strlen(word);
	return (size_t)(e - s) == n && strncasecmp(s, word, n) == 0;
}

static int parse_status_line(struct http_parser *p, const char *l, size_t n)
{
	/* HTTP/1.x SSS[ reason] */
	if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)l[7]) || l[8] != ' ')
		return fail(p, -EBADMSG);
	for (int i = 9; i < 12; i++)
		if (!isdigit((unsigned char)l[i]))
			return fail(p, -EBADMSG);
	if (n > 12 && l[12] != ' ')
		return fail(p, -EBADMSG);
	p->minor = l[7] - '0';
	p->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	if (p->status < 100)
		return fail(p, -EBADMSG);
	p->state = S_HEADER;
	return 0;
}

static int parse_content_length(struct http_parser *p, const char *s, const char *e)
{
	/* A list of identical values ("42, 42") is allowed by RFC 9110 8.6; anything else is not. */
	int64_t value = -1;
	while (s < e) {
		const char *comma = memchr(s, ',', (size_t)(e - s));
		const char *ve = comma ? comma : e;
		const char *vs = s;
		trim(&vs, &ve);
		if (vs == ve)
			return fail(p, -EBADMSG);
		int64_t v = 0;
		for (const char *q = vs; q < ve; q++) {
			if (!isdigit((unsigned char)*q))
				return fail(p, -EBADMSG);
			if (v > (LENGTH_MAX - 9) / 10)
				return fail(p, -ERANGE);
			v = v * 10 + (*q - '0');
		}
		if (value >= 0 && v != value)
			return fail(p, -EBADMSG);
		value = v;
		s = comma ? comma + 1 : e;
	}
	if (value < 0 || (p->cl_seen && value != p->content_length))
		return fail(p, -EBADMSG);
	p->cl_seen = true;
	p->content_length = value;
	return 0;
}

static void parse_tokens(struct http_parser *p, const char *s, const char *e, bool te)
{
	while (s <= e) {
		const char *comma = memchr(s, ',', (size_t)(e - s));
		const char *ve = comma ? comma : e;
		const char *vs = s;
		trim(&vs, &ve);
		if (te) {
			if (vs != ve)   /* the last coding decides */
				p->te_chunked = token_eq(vs, ve, "chunked");
		} else if (token_eq(vs, ve, "close")) {
			p->conn_close = true;
		} else if (token_eq(vs, ve, "keep-alive")) {
			p->conn_keep_alive = true;
		}
		if (!comma)
			break;
		s = comma + 1;
	}
}

static int end_of_headers(struct http_parser *p)
{
	if (p->status < 200) {
		if (p->status == 101)
			return fail(p, -EPROTONOSUPPORT);
		int interim = p->interim + 1;
		reset_response(p);
		p->interim = interim;
		return 0;
	}
	p->keep_alive = p->minor >= 1 ? !p->conn_close : (p->conn_keep_alive && !p->conn_close);
	if (p->head || p->status == 204 || p->status == 304) {
		p->body = HTTP_BODY_NONE;
		p->state = S_DONE;
	} else if (p->te_seen) {
		/* Transfer-Encoding wins over Content-Length; a sender of both must close (RFC 9112 6.3). */
		if (p->cl_seen)
			p->keep_alive = false;
		if (p->te_chunked) {
			p->body = HTTP_BODY_CHUNKED;
			p->state = S_CHUNK_SIZE;
		} else {
			p->body = HTTP_BODY_CLOSE;
			p->keep_alive = false;
			p->state = S_BODY_CLOSE;
		}
	} else if (p->cl_seen) {
		p->body = HTTP_BODY_LENGTH;
		p->remaining = p->content_length;
		p->state = p->remaining > 0 ? S_BODY_LENGTH : S_DONE;
	} else {
		p->body = HTTP_BODY_CLOSE;
		p->keep_alive = false;
		p->state = S_BODY_CLOSE;
	}
	return 0;
}

static int parse_header_line(struct http_parser *p, const char *l, size_t n, bool truncated)
{
	if (n == 0 && !truncated)
		return end_of_headers(p);
	if (is_ows(l[0]))   /* obsolete line folding: continues a header we do not interpret */
		return 0;
	const char *colon = memchr(l, ':', n);
	if (!colon)
		return truncated ? 0 : fail(p, -EBADMSG);
	for (const char *q = l; q < colon; q++)
		if (is_ows(*q) || (unsigned char)*q <= ' ')
			return fail(p, -EBADMSG);
	if (colon == l)
		return fail(p, -EBADMSG);
	const char *vs = colon + 1, *ve = l + n;
	bool cl = token_eq(l, colon, "content-length");
	bool te = token_eq(l, colon, "transfer-encoding");
	bool conn = token_eq(l, colon, "connection");
	if ((cl || te || conn) && truncated)
		return fail(p, -EBADMSG);
	trim(&vs, &ve);
	if (cl)
		return parse_content_length(p, vs, ve);
	if (te) {
		p->te_seen = true;
		parse_tokens(p, vs, ve, true);
	} else if (conn) {
		parse_tokens(p, vs, ve, false);
	}
	return 0;
}

static int parse_chunk_size(struct http_parser *p, const char *l, size_t n)
{
	size_t i = 0;
	int64_t v = 0;
	while (i < n && isxdigit((unsigned char)l[i])) {
		if (v > (LENGTH_MAX >> 4))
			return fail(p, -ERANGE);
		char c = (char)tolower((unsigned char)l[i]);
		v = v * 16 + (c <= '9' ? c - '0' : c - 'a' + 10);
		i++;
	}
	if (i == 0)
		return fail(p, -EBADMSG);
	while (i < n && is_ows(l[i]))
		i++;
	if (i < n && l[i] != ';')   /* chunk extensions follow ';' and are ignored */
		return fail(p, -EBADMSG);
	if (v == 0) {
		p->state = S_TRAILER;
		p->header_bytes = 0;
	} else {
		p->remaining = v;
		p->state = S_CHUNK_DATA;
	}
	return 0;
}

static int end_of_line(struct http_parser *p)
{
	bool truncated = p->line_len >= HTTP_LINE_KEEP;
	size_t n = truncated ? HTTP_LINE_KEEP : p->line_len;
	if (!truncated && n > 0 && p->line[n - 1] == '\r')
		n--;
	p->line_len = 0;
	switch (p->state) {
	case S_STATUS:
		if (truncated)
			return fail(p, -EBADMSG);
		return parse_status_line(p, p->line, n);
	case S_HEADER:
		return parse_header_line(p, p->line, n, truncated);
	case S_CHUNK_SIZE:
		return parse_chunk_size(p, p->line, n);
	case S_CHUNK_DATA_END:
		if (n != 0 || truncated)
			return fail(p, -EBADMSG);
		p->state = S_CHUNK_SIZE;
		return 0;
	case S_TRAILER:
		if (n == 0 && !truncated)
			p->state = S_DONE;
		return 0;
	}
	return fail(p, -EBADMSG);
}

/* Line states: append up to the next '\n', bounded. Returns bytes used or a negative errno. */
static ssize_t feed_line(struct http_parser *p, const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);
	size_t take = nl ? (size_t)(nl - buf) : len;
	if (p->line_len < HTTP_LINE_KEEP) {
		size_t room = HTTP_LINE_KEEP - p->line_len;
		memcpy(p->line + p->line_len, buf, take < room ? take : room);
	}
	size_t before = p->line_len;
	p->line_len += take;
	if (p->state == S_CHUNK_SIZE || p->state == S_CHUNK_DATA_END) {
		if (p->line_len > HTTP_CHUNK_LINE_MAX)
			return fail(p, -EMSGSIZE);
	} else {
		p->header_bytes += take + (nl ? 1 : 0);
		if (p->header_bytes > HTTP_HEADER_MAX)
			return fail(p, -EMSGSIZE);
	}
	if (p->state == S_STATUS && before < 5) {
		/* a server that does not speak HTTP is told apart from the first bytes */
		size_t have = p->line_len < 5 ? p->line_len : 5;
		if (memcmp(p->line, "HTTP/", have) != 0)
			return fail(p, -EBADMSG);
	}
	if (!nl)
		return (ssize_t)len;
	int r = end_of_line(p);
	return r < 0 ? r : (ssize_t)(take + 1);
}

ssize_t http_parse_feed(struct http_parser *p, const char *buf, size_t len)
{
	size_t i = 0;
	if (p->state == S_ERROR)
		return p->error;
	while (i < len && p->state != S_DONE) {
		size_t left = len - i;
		switch (p->state) {
		case S_BODY_LENGTH:
		case S_CHUNK_DATA: {
			size_t take = (int64_t)left < p->remaining ? left : (size_t)p->remaining;
			p->remaining -= (int64_t)take;
			p->body_bytes += (int64_t)take;
			i += take;
			if (p->remaining == 0)
				p->state = p->state == S_BODY_LENGTH ? S_DONE : S_CHUNK_DATA_END;
			break;
		}
		case S_BODY_CLOSE:
			p->body_bytes += (int64_t)left;
			i = len;
			break;
		default: {
			ssize_t r = feed_line(p, buf + i, left);
			if (r < 0)
				return r;
			i += (size_t)r;
			break;
		}
		}
	}
	return (ssize_t)i;
}

int http_parse_eof(struct http_parser *p)
{
	if (p->state == S_BODY_CLOSE)
		p->state = S_DONE;
	if (p->state == S_DONE)
		return 0;
	if (p->state != S_ERROR)
		fail(p, -ECONNRESET);
	return -ECONNRESET;
}
