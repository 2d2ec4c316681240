/* http_parse: an incremental HTTP/1.x response parser for the load generator.
 *
 * Owns the framing of one response at a time: status line, headers (only Content-Length,
 * Transfer-Encoding and Connection are interpreted), and the body delimited by Content-Length,
 * chunked transfer coding (extensions and trailers skipped) or the end of the connection.
 * Input may arrive split at any byte. Interim 1xx responses are skipped; responses to HEAD and
 * 204/304 have no body. The parser never copies the body and never allocates; it keeps at most
 * HTTP_LINE_KEEP bytes of the current line. Headers above HTTP_HEADER_MAX bytes are refused.
 * Errors (sticky until http_parse_init): -EBADMSG malformed, -EMSGSIZE headers or a chunk line
 * too long, -ERANGE a length that does not fit, -EPROTONOSUPPORT 101 Switching Protocols.
 */
#ifndef HEADROOM_HTTP_PARSE_H
#define HEADROOM_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_HEADER_MAX (64 * 1024)   /* status line + headers, or trailers */
#define HTTP_LINE_KEEP 256            /* bytes of a line kept for interpretation */
#define HTTP_CHUNK_LINE_MAX 4096      /* chunk size line with its extensions */

enum http_body { HTTP_BODY_NONE, HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED, HTTP_BODY_CLOSE };

struct http_parser {
	int state;
	int error;                /* sticky negative errno, 0 when fine */
	bool head;                /* the request was HEAD: no body whatever the headers say */
	/* the response, valid once the headers are parsed */
	int status;
	int minor;                /* HTTP/1.<minor> */
	bool keep_alive;          /* the connection may carry another request */
	enum http_body body;
	int64_t content_length;   /* -1 when absent */
	int64_t body_bytes;       /* body (payload) bytes seen so far */
	int interim;              /* 1xx responses skipped */
	/* internal */
	int64_t remaining;        /* of the Content-Length body or the current chunk */
	size_t header_bytes;
	size_t line_len;          /* length of the current line so far (may exceed what is kept) */
	bool te_seen, te_chunked, cl_seen, conn_close, conn_keep_alive;
	char line[HTTP_LINE_KEEP];
};

void http_parse_init(struct http_parser *p, bool head_request);
/* Consumes bytes of one response. Returns how many bytes were used (fewer than len only when
 * the response ended inside buf: the rest belongs to no request), or a negative errno. */
ssize_t http_parse_feed(struct http_parser *p, const char *buf, size_t len);
/* True once the whole response was consumed. */
bool http_parse_done(const struct http_parser *p);
/* True when nothing of a response has arrived yet. */
bool http_parse_idle(const struct http_parser *p);
/* The peer closed the connection: 0 when that ends a close-delimited body (the response is then
 * done), -ECONNRESET when the response was cut short or none had started. */
int http_parse_eof(struct http_parser *p);

#endif
