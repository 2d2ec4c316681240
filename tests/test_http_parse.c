/* http_parse: responses fed whole, split at every byte, and one byte at a time. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http_parse.h"

struct outcome {
	int err;          /* first negative return, 0 when none */
	size_t used;      /* bytes consumed in total */
	bool done;
	int status;
	int64_t body;
	bool keep_alive;
	enum http_body kind;
	int interim;
};

static struct outcome finish(struct http_parser *p, int err, size_t used)
{
	struct outcome o = {.err = err, .used = used, .done = http_parse_done(p), .status = p->status,
			    .body = p->body_bytes, .keep_alive = p->keep_alive, .kind = p->body,
			    .interim = p->interim};
	return o;
}

/* Feeds text in pieces cut at the given positions (ascending, inside the text). */
static struct outcome feed_cuts(const char *text, size_t len, const size_t *cuts, int ncuts, bool head, bool eof)
{
	struct http_parser p;
	http_parse_init(&p, head);
	size_t start = 0, used = 0;
	for (int i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		if (http_parse_done(&p))
			break;
		ssize_t r = http_parse_feed(&p, text + start, end - start);
		if (r < 0)
			return finish(&p, (int)r, used);
		used += (size_t)r;
		start = end;
	}
	if (eof && !http_parse_done(&p)) {
		int r = http_parse_eof(&p);
		if (r < 0)
			return finish(&p, r, used);
	}
	return finish(&p, 0, used);
}

static void assert_same(struct outcome a, struct outcome b)
{
	assert_int_equal(a.err, b.err);
	if (a.err)   /* how much was consumed before the error depends on the cuts */
		return;
	assert_int_equal(a.used, b.used);
	assert_int_equal(a.done, b.done);
	assert_int_equal(a.status, b.status);
	assert_int_equal(a.body, b.body);
	assert_int_equal(a.keep_alive, b.keep_alive);
	assert_int_equal(a.kind, b.kind);
}

/* Whole, every two-piece split, every three-piece split around the middle, and byte by byte:
 * all must agree with the whole feed. */
static struct outcome feed_all_ways(const char *text, bool head, bool eof)
{
	size_t len = strlen(text);
	struct outcome whole = feed_cuts(text, len, NULL, 0, head, eof);
	for (size_t k = 1; k < len; k++) {
		size_t cut[1] = {k};
		assert_same(whole, feed_cuts(text, len, cut, 1, head, eof));
	}
	for (size_t k = 1; k + 1 < len; k++) {
		size_t cut[2] = {k, k + 1 + (len - k - 1) / 2};
		if (cut[1] >= len)
			continue;
		assert_same(whole, feed_cuts(text, len, cut, 2, head, eof));
	}
	size_t *every = malloc(sizeof(size_t) * len);
	assert_non_null(every);
	for (size_t k = 1; k < len; k++)
		every[k - 1] = k;
	assert_same(whole, feed_cuts(text, len, every, (int)len - 1, head, eof));
	free(every);
	return whole;
}

static void content_length(void **state)
{
	(void)state;
	const char *t = "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 12\r\nContent-Type: text/plain\r\n\r\nhello world!";
	struct outcome o = feed_all_ways(t, false, false);
	assert_int_equal(o.err, 0);
	assert_true(o.done);
	assert_int_equal(o.status, 200);
	assert_int_equal(o.body, 12);
	assert_true(o.keep_alive);
	assert_int_equal(o.kind, HTTP_BODY_LENGTH);
	assert_int_equal(o.used, strlen(t));
}

static void content_length_zero_and_list(void **state)
{
	(void)state;
	struct outcome o = feed_all_ways("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, false);
	assert_true(o.done);
	assert_int_equal(o.body, 0);
	/* RFC 9110 8.6: a list of identical values is one value */
	o = feed_all_ways("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc", false, false);
	assert_true(o.done);
	assert_int_equal(o.body, 3);
}

static void chunked_extensions_trailers(void **state)
{
	(void)state;
	const char *t = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			"5;foo=bar\r\nhello\r\n"
			"6 ; name=\"quoted;value\"\r\n world\r\n"
			"1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"
			"0;last\r\nX-Checksum: 42\r\nX-Other: y\r\n\r\n";
	struct outcome o = feed_all_ways(t, false, false);
	assert_int_equal(o.err, 0);
	assert_true(o.done);
	assert_int_equal(o.kind, HTTP_BODY_CHUNKED);
	assert_int_equal(o.body, 5 + 6 + 26);
	assert_true(o.keep_alive);
	assert_int_equal(o.used, strlen(t));
}

static void chunked_wins_over_length(void **state)
{
	(void)state;
	const char *t = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
			"3\r\nabc\r\n0\r\n\r\n";
	struct outcome o = feed_all_ways(t, false, false);
	assert_true(o.done);
	assert_int_equal(o.body, 3);
	assert_false(o.keep_alive); /* a sender of both must close */
	/* chunked not last: the body runs to the end of the connection */
	o = feed_all_ways("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nxyz", false, true);
	assert_true(o.done);
	assert_int_equal(o.kind, HTTP_BODY_CLOSE);
	assert_int_equal(o.body, 3);
}

static void close_delimited(void **state)
{
	(void)state;
	const char *t = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
	struct outcome o = feed_all_ways(t, false, false);
	assert_false(o.done);
	assert_int_equal(o.kind, HTTP_BODY_CLOSE);
	o = feed_all_ways(t, false, true);
	assert_int_equal(o.err, 0);
	assert_true(o.done);
	assert_false(o.keep_alive);
	assert_int_equal(o.body, 13);
}

static void http10_keep_alive(void **state)
{
	(void)state;
	struct outcome o = feed_all_ways("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false, false);
	assert_true(o.done);
	assert_false(o.keep_alive);
	o = feed_all_ways("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok", false, false);
	assert_true(o.keep_alive);
	o = feed_all_ways("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", false, false);
	assert_true(o.done);
	assert_false(o.keep_alive);
}

static void no_body_responses(void **state)
{
	(void)state;
	const char *t100 = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
			   "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
	struct outcome o = feed_all_ways(t100, false, false);
	assert_true(o.done);
	assert_int_equal(o.status, 201);
	assert_int_equal(o.body, 2);
	assert_int_equal(o.interim, 2);
	/* 204 and 304 never have a body, whatever Content-Length says */
	const char *t204 = "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n";
	o = feed_all_ways(t204, false, false);
	assert_true(o.done);
	assert_int_equal(o.body, 0);
	assert_int_equal(o.used, strlen(t204));
	o = feed_all_ways("HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\nETag: \"x\"\r\n\r\n", false, false);
	assert_true(o.done);
	assert_int_equal(o.status, 304);
	/* nor does the answer to HEAD */
	o = feed_all_ways("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", true, false);
	assert_true(o.done);
	assert_int_equal(o.body, 0);
	o = feed_all_ways("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, false);
	assert_true(o.done);
	/* 101 would switch protocols: refused */
	o = feed_all_ways("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", false, false);
	assert_int_equal(o.err, -EPROTONOSUPPORT);
}

static void bare_lf_and_folding(void **state)
{
	(void)state;
	struct outcome o = feed_all_ways("HTTP/1.1 200 OK\nX-Long: a\n  continued\nContent-Length: 1\n\nz", false, false);
	assert_int_equal(o.err, 0);
	assert_true(o.done);
	assert_int_equal(o.body, 1);
}

static void bad_lengths(void **state)
{
	(void)state;
	const char *bad[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
		/* a list that starts with 0 is as conflicting as any other: 0 is a value, not "none yet" */
		"HTTP/1.1 200 OK\r\nContent-Length: 0, 5\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5, 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;ext\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3 x\r\nabc\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct outcome o = feed_all_ways(bad[i], false, false);
		if (o.err != -EBADMSG)
			fail_msg("case %zu: got %d, want -EBADMSG: %s", i, o.err, bad[i]);
	}
	const char *huge[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\n",
	};
	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		struct outcome o = feed_all_ways(huge[i], false, false);
		if (o.err != -ERANGE)
			fail_msg("case %zu: got %d, want -ERANGE", i, o.err);
	}
}

static void not_http(void **state)
{
	(void)state;
	const char *bad[] = {
		"SSH-2.0-OpenSSH_9.2\r\n",
		"HTTP/2 200\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n",
		"\r\nHTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct outcome o = feed_all_ways(bad[i], false, false);
		if (o.err != -EBADMSG)
			fail_msg("case %zu: got %d, want -EBADMSG", i, o.err);
	}
	/* a non-HTTP banner is refused at its first byte, before any line end */
	struct http_parser p;
	http_parse_init(&p, false);
	assert_int_equal(http_parse_feed(&p, "S", 1), -EBADMSG);
	/* and the error is sticky */
	assert_int_equal(http_parse_feed(&p, "HTTP/1.1", 8), -EBADMSG);
}

static char *repeat_headers(size_t total)
{
	char *buf = malloc(total + 256);
	assert_non_null(buf);
	size_t n = (size_t)sprintf(buf, "HTTP/1.1 200 OK\r\n");
	int i = 0;
	while (n < total)
		n += (size_t)sprintf(buf + n, "X-Filler-%06d: %s\r\n", i++, "0123456789abcdef0123456789abcdef");
	sprintf(buf + n, "Content-Length: 0\r\n\r\n");
	return buf;
}

static void oversized_headers(void **state)
{
	(void)state;
	/* just under the limit: fine */
	char *ok = repeat_headers(HTTP_HEADER_MAX - 200);
	struct outcome o = feed_cuts(ok, strlen(ok), NULL, 0, false, false);
	assert_int_equal(o.err, 0);
	assert_true(o.done);
	free(ok);
	char *big = repeat_headers(HTTP_HEADER_MAX + 100);
	size_t len = strlen(big);
	o = feed_cuts(big, len, NULL, 0, false, false);
	assert_int_equal(o.err, -EMSGSIZE);
	size_t cuts[3] = {7, len / 2, len - 3};
	o = feed_cuts(big, len, cuts, 3, false, false);
	assert_int_equal(o.err, -EMSGSIZE);
	free(big);
	/* one endless line without a newline */
	size_t llen = HTTP_HEADER_MAX + 10;
	char *line = malloc(llen + 1);
	assert_non_null(line);
	memcpy(line, "HTTP/1.1 200 OK\r\nX: ", 20);
	memset(line + 20, 'a', llen - 20);
	line[llen] = '\0';
	o = feed_cuts(line, llen, NULL, 0, false, false);
	assert_int_equal(o.err, -EMSGSIZE);
	free(line);
	/* trailers are bounded as well */
	char *tr = repeat_headers(HTTP_HEADER_MAX + 100);
	char *chunked = malloc(strlen(tr) + 128);
	assert_non_null(chunked);
	/* reuse the filler lines as trailers after a last chunk */
	sprintf(chunked, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n%s", strstr(tr, "X-Filler"));
	o = feed_cuts(chunked, strlen(chunked), NULL, 0, false, false);
	assert_int_equal(o.err, -EMSGSIZE);
	free(chunked);
	free(tr);
	/* a chunk-size line with endless extensions */
	char ext[HTTP_CHUNK_LINE_MAX + 200];
	int n = sprintf(ext, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;");
	memset(ext + n, 'e', sizeof(ext) - (size_t)n - 1);
	ext[sizeof(ext) - 1] = '\0';
	o = feed_cuts(ext, strlen(ext), NULL, 0, false, false);
	assert_int_equal(o.err, -EMSGSIZE);
}

static void stops_at_end_of_response(void **state)
{
	(void)state;
	const char *t = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n";
	struct http_parser p;
	http_parse_init(&p, false);
	ssize_t r = http_parse_feed(&p, t, strlen(t));
	assert_int_equal(r, (ssize_t)strlen("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
	assert_true(http_parse_done(&p));
	/* chunked likewise stops after the final CRLF */
	const char *c = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nextra";
	http_parse_init(&p, false);
	r = http_parse_feed(&p, c, strlen(c));
	assert_int_equal(r, (ssize_t)strlen(c) - 5);
	assert_true(http_parse_done(&p));
}

static void cut_short(void **state)
{
	(void)state;
	struct http_parser p;
	http_parse_init(&p, false);
	assert_true(http_parse_idle(&p));
	assert_int_equal(http_parse_eof(&p), -ECONNRESET);
	const char *t = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
	http_parse_init(&p, false);
	assert_int_equal(http_parse_feed(&p, t, strlen(t)), (ssize_t)strlen(t));
	assert_false(http_parse_idle(&p));
	assert_false(http_parse_done(&p));
	assert_int_equal(http_parse_eof(&p), -ECONNRESET);
	const char *c = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel";
	http_parse_init(&p, false);
	assert_int_equal(http_parse_feed(&p, c, strlen(c)), (ssize_t)strlen(c));
	assert_int_equal(http_parse_eof(&p), -ECONNRESET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(content_length),
		cmocka_unit_test(content_length_zero_and_list),
		cmocka_unit_test(chunked_extensions_trailers),
		cmocka_unit_test(chunked_wins_over_length),
		cmocka_unit_test(close_delimited),
		cmocka_unit_test(http10_keep_alive),
		cmocka_unit_test(no_body_responses),
		cmocka_unit_test(bare_lf_and_folding),
		cmocka_unit_test(bad_lengths),
		cmocka_unit_test(not_http),
		cmocka_unit_test(oversized_headers),
		cmocka_unit_test(stops_at_end_of_response),
		cmocka_unit_test(cut_short),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
