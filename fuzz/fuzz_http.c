/* fuzz_http: HTTP/1.x responses as the load generator reads them from a server under test
 * (src/load/http_parse.c). The input is cut at two fuzzed points and fed piece by piece; a
 * response that ends early starts the next one on the same connection (pipelining), and the
 * end of input is the peer closing. The outcome must not depend on the cuts, and what the
 * parser reports must be consistent (bytes used within what was fed, a body within its
 * Content-Length). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s\n", #cond); abort(); } } while (0)

struct outcome {
	int err;
	int responses;       /* completed */
	int64_t body;        /* body bytes of all completed responses */
};

static void check_response(const struct http_parser *p)
{
	CHECK(p->body_bytes >= 0);
	if (p->body == HTTP_BODY_LENGTH)
		CHECK(p->content_length >= 0 && p->body_bytes <= p->content_length);
	if (http_parse_done(p))
		CHECK(p->status >= 200 && p->status <= 999);
}

static struct outcome run(const char *buf, size_t len, const size_t cuts[2], bool head)
{
	struct outcome o = {0};
	struct http_parser p;
	http_parse_init(&p, head);
	size_t pos = 0;
	for (int piece = 0; piece < 3; piece++) {
		size_t end = piece < 2 ? cuts[piece] : len;
		while (pos < end) {
			ssize_t r = http_parse_feed(&p, buf + pos, end - pos);
			if (r < 0) {
				o.err = (int)r;
				return o;
			}
			CHECK((size_t)r <= end - pos);
			check_response(&p);
			pos += (size_t)r;
			if (http_parse_done(&p)) {
				o.responses++;
				o.body += p.body_bytes;
				http_parse_init(&p, head);
			} else {
				CHECK(pos == end);   /* a response not done consumes all it is given */
			}
		}
	}
	if (!http_parse_idle(&p)) {
		int r = http_parse_eof(&p);
		if (r == 0) {
			CHECK(http_parse_done(&p));
			o.responses++;
			o.body += p.body_bytes;
		} else {
			o.err = r;
		}
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	bool head = data[0] & 1;
	size_t body = size - 3;
	size_t cuts[2] = {data[1] * body / 255, data[2] * body / 255};
	if (cuts[0] > cuts[1]) {
		size_t t = cuts[0];
		cuts[0] = cuts[1];
		cuts[1] = t;
	}
	/* a copy of exactly the response bytes, so reading past them is caught */
	char *buf = malloc(body ? body : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 3, body);
	struct outcome split = run(buf, body, cuts, head);
	const size_t none[2] = {0, 0};
	struct outcome whole = run(buf, body, none, head);
	CHECK(split.err == whole.err && split.responses == whole.responses && split.body == whole.body);
	free(buf);
	return 0;
}
