/* headroom demo service (C11, glibc): HTTP/1.1 keep-alive endpoints whose memory behaviour is
 * known, so a recording of it under load can be checked against the expectation. See
 * examples/README.md for the endpoint contract shared with the Rust and Go services.
 *
 * One thread per connection: /work holds its buffer for ms milliseconds by sleeping, which is
 * trivially right in a thread and would need timers in an event loop. Thread stacks are kept
 * small (256 KiB) so that hundreds of connections cost little beyond their buffers.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, strcasestr */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define MAX_KB (1u << 20)          /* 1 GiB per request: a typo should not take the machine down */
#define MAX_MS 60000u
#define MAX_CONNS 4096             /* beyond this, new connections are closed at once */
#define REQ_MAX 16384              /* request head limit; larger heads get 431 */
#define IDLE_TIMEOUT_S 120

static const char USAGE[] =
    "usage: demo-c-svc [--listen ADDR:PORT] [--drain-ms N] [--release] [--release-ms N]\n"
    "  --listen      loopback address to serve on (env DEMO_LISTEN; default 127.0.0.1:8080; port 0 = any)\n"
    "  --drain-ms    the queue drainer frees one item every N ms (env DEMO_DRAIN_MS; default 100)\n"
    "  --release     release mode: malloc_trim(0) every --release-ms (env DEMO_RELEASE=1)\n"
    "  --release-ms  period of the release mode (env DEMO_RELEASE_MS; default 1000)\n";

struct block {
	struct block *next;
	size_t size;
	unsigned char data[];
};

static struct {
	pthread_mutex_t lock;              /* guards the two lists */
	struct block *cache;               /* grows without bound until /release */
	struct block *q_head, *q_tail;     /* FIFO drained one item per drain period */
	atomic_uint_fast64_t requests, releases, drained;
	atomic_int_fast64_t inflight, work_bytes, cache_bytes, cache_items, queue_bytes, queue_items;
	atomic_int conns;
	bool release_mode;
	unsigned drain_ms, release_ms;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void die_usage(const char *fmt, const char *arg)
{
	fputs("demo-c-svc: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\n", stderr);
	fputs(USAGE, stderr);
	exit(2);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

/* A block of n bytes with every page written, so it is resident rather than just reserved. */
static struct block *block_new(size_t n)
{
	struct block *b = malloc(sizeof(*b) + n);
	if (!b)
		return NULL;
	b->next = NULL;
	b->size = n;
	memset(b->data, 0x5a, n);
	return b;
}

static uint64_t block_sum(const struct block *b)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < b->size; i += PAGE)
		sum += ((const volatile unsigned char *)b->data)[i];
	return sum;
}

static void blocks_free(struct block *b)
{
	while (b) {
		struct block *next = b->next;
		free(b);
		b = next;
	}
}

/* Value of key in a query string ("a=1&b=2"), 0 with *out = def when absent, -EINVAL when not
 * an integer in 0..max. */
static int query_num(const char *q, const char *key, unsigned long def, unsigned long max,
		     unsigned long *out)
{
	size_t klen = strlen(key);
	*out = def;
	for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		if (strncmp(p, key, klen) != 0 || p[klen] != '=')
			continue;
		const char *v = p + klen + 1;
		char *end;
		errno = 0;
		unsigned long n = strtoul(v, &end, 10);
		if (end == v || (*end && *end != '&') || errno || n > max || *v == '-' || *v == '+')
			return -EINVAL;
		*out = n;
		return 0;
	}
	return 0;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int respond(int fd, int status, const char *ctype, const char *body, bool keep)
{
	const char *reason = status == 200 ? "OK" : status == 400 ? "Bad Request"
			   : status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed"
			   : status == 431 ? "Request Header Fields Too Large" : "Service Unavailable";
	char head[256];
	size_t blen = strlen(body);
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
			 status, reason, ctype, blen, keep ? "" : "Connection: close\r\n");
	int rc = send_all(fd, head, (size_t)n);
	return rc ? rc : send_all(fd, body, blen);
}

static void stats_json(char *out, size_t len)
{
	snprintf(out, len,
		 "{\"service\":\"c\",\"build\":\"%s\",\"requests\":%" PRIuFAST64
		 ",\"inflight\":%" PRIdFAST64 ",\"work_bytes\":%" PRIdFAST64
		 ",\"cache_bytes\":%" PRIdFAST64 ",\"cache_items\":%" PRIdFAST64
		 ",\"queue_bytes\":%" PRIdFAST64 ",\"queue_items\":%" PRIdFAST64
		 ",\"queue_drained\":%" PRIuFAST64 ",\"releases\":%" PRIuFAST64
		 ",\"release_mode\":%s}\n",
#ifdef __OPTIMIZE__
		 "optimized",
#else
		 "debug",
#endif
		 atomic_load(&g.requests), atomic_load(&g.inflight), atomic_load(&g.work_bytes),
		 atomic_load(&g.cache_bytes), atomic_load(&g.cache_items), atomic_load(&g.queue_bytes),
		 atomic_load(&g.queue_items), atomic_load(&g.drained), atomic_load(&g.releases),
		 g.release_mode ? "true" : "false");
}

/* Drops the cache and the queue (freed outside the lock), then gives free pages back. */
static int64_t release_all(void)
{
	pthread_mutex_lock(&g.lock);
	struct block *cache = g.cache, *queue = g.q_head;
	g.cache = g.q_head = g.q_tail = NULL;
	int64_t freed = atomic_exchange(&g.cache_bytes, 0) + atomic_exchange(&g.queue_bytes, 0);
	atomic_store(&g.cache_items, 0);
	atomic_store(&g.queue_items, 0);
	pthread_mutex_unlock(&g.lock);
	blocks_free(cache);
	blocks_free(queue);
	malloc_trim(0);
	atomic_fetch_add(&g.releases, 1);
	return freed;
}

/* Handles one parsed request; returns 0 to keep the connection, negative to close it. */
static int handle(int fd, const char *method, char *target, bool keep)
{
	char body[512];
	atomic_fetch_add(&g.requests, 1);
	char *q = strchr(target, '?');
	if (q)
		*q++ = '\0';
	if (strcmp(method, "GET") != 0)
		return respond(fd, 405, "text/plain", "GET only\n", keep);

	if (strcmp(target, "/health") == 0)
		return respond(fd, 200, "text/plain", "ok\n", keep);
	if (strcmp(target, "/stats") == 0) {
		stats_json(body, sizeof(body));
		return respond(fd, 200, "application/json", body, keep);
	}
	if (strcmp(target, "/release") == 0) {
		int64_t freed = release_all();
		snprintf(body, sizeof(body), "{\"freed_bytes\":%" PRId64 ",\"trimmed\":true}\n", freed);
		return respond(fd, 200, "application/json", body, keep);
	}
	bool work = strcmp(target, "/work") == 0, cache = strcmp(target, "/cache") == 0;
	if (!work && !cache && strcmp(target, "/queue") != 0)
		return respond(fd, 404, "text/plain",
			       "endpoints: /health /work /cache /queue /release /stats\n", keep);

	unsigned long kb, ms = 0;
	if (query_num(q, "kb", 64, MAX_KB, &kb) < 0) {
		snprintf(body, sizeof(body), "kb is not an integer in 0..=%u\n", MAX_KB);
		return respond(fd, 400, "text/plain", body, keep);
	}
	if (work && query_num(q, "ms", 20, MAX_MS, &ms) < 0) {
		snprintf(body, sizeof(body), "ms is not an integer in 0..=%u\n", MAX_MS);
		return respond(fd, 400, "text/plain", body, keep);
	}
	size_t n = (size_t)kb * 1024;
	struct block *b = block_new(n);
	if (!b)
		return respond(fd, 503, "text/plain", "out of memory\n", keep);

	if (work) {
		atomic_fetch_add(&g.inflight, 1);
		atomic_fetch_add(&g.work_bytes, (int64_t)n);
		sleep_ms((unsigned)ms);
		uint64_t sum = block_sum(b);
		free(b);
		atomic_fetch_sub(&g.work_bytes, (int64_t)n);
		atomic_fetch_sub(&g.inflight, 1);
		snprintf(body, sizeof(body), "{\"bytes\":%zu,\"held_ms\":%lu,\"sum\":%" PRIu64 "}\n", n,
			 ms, sum);
		return respond(fd, 200, "application/json", body, keep);
	}
	int64_t total;
	pthread_mutex_lock(&g.lock);
	if (cache) {
		b->next = g.cache;
		g.cache = b;
		atomic_fetch_add(&g.cache_items, 1);
		total = atomic_fetch_add(&g.cache_bytes, (int64_t)n) + (int64_t)n;
	} else {
		if (g.q_tail)
			g.q_tail->next = b;
		else
			g.q_head = b;
		g.q_tail = b;
		atomic_fetch_add(&g.queue_items, 1);
		total = atomic_fetch_add(&g.queue_bytes, (int64_t)n) + (int64_t)n;
	}
	pthread_mutex_unlock(&g.lock);
	snprintf(body, sizeof(body), "{\"added_bytes\":%zu,\"%s_bytes\":%" PRId64 "}\n", n,
		 cache ? "cache" : "queue", total);
	return respond(fd, 200, "application/json", body, keep);
}

/* Whether a header block (lines after the request line) has name: value containing token. */
static bool header_has(const char *head, const char *name, const char *token)
{
	size_t nlen = strlen(name);
	for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2;
		if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			const char *eol = strstr(line, "\r\n");
			size_t vlen = eol ? (size_t)(eol - line) : strlen(line);
			char v[256];
			snprintf(v, sizeof(v), "%.*s", (int)(vlen < sizeof(v) ? vlen : sizeof(v) - 1), line);
			if (strcasestr(v + nlen + 1, token))
				return true;
		}
	}
	return false;
}

static unsigned long header_num(const char *head, const char *name)
{
	size_t nlen = strlen(name);
	for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, nlen) == 0 && p[2 + nlen] == ':')
			return strtoul(p + 3 + nlen, NULL, 10);
	}
	return 0;
}

static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char *buf = malloc(REQ_MAX + 1);
	size_t have = 0;
	unsigned long skip = 0;          /* request body bytes still to discard */
	while (buf) {
		char *end = NULL;
		if (have) {
			if (skip) {
				size_t d = skip < have ? skip : have;
				memmove(buf, buf + d, have - d);
				have -= d;
				skip -= d;
			}
			buf[have] = '\0';
			end = strstr(buf, "\r\n\r\n");
		}
		if (!end) {
			if (have == REQ_MAX) {
				respond(fd, 431, "text/plain", "request head too large\n", false);
				break;
			}
			ssize_t r = recv(fd, buf + have, REQ_MAX - have, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			have += (size_t)r;
			continue;
		}
		size_t used = (size_t)(end - buf) + 4;
		end[2] = '\0';             /* keep the last header's CRLF for header_has */
		char method[16], target[2048], version[16];
		if (sscanf(buf, "%15s %2047s %15s", method, target, version) != 3 ||
		    strncmp(version, "HTTP/1.", 7) != 0) {
			respond(fd, 400, "text/plain", "not an HTTP/1.x request\n", false);
			break;
		}
		bool keep = strcmp(version, "HTTP/1.0") == 0 ? header_has(buf, "Connection", "keep-alive")
							   : !header_has(buf, "Connection", "close");
		skip = header_num(buf, "Content-Length");
		memmove(buf, buf + used, have - used);
		have -= used;
		if (handle(fd, method, target, keep) < 0 || !keep)
			break;
	}
	free(buf);
	close(fd);
	atomic_fetch_sub(&g.conns, 1);
	return NULL;
}

static void *drain_main(void *arg)
{
	(void)arg;
	for (;;) {
		sleep_ms(g.drain_ms);
		pthread_mutex_lock(&g.lock);
		struct block *b = g.q_head;
		if (b) {
			g.q_head = b->next;
			if (!g.q_head)
				g.q_tail = NULL;
			atomic_fetch_sub(&g.queue_bytes, (int64_t)b->size);
			atomic_fetch_sub(&g.queue_items, 1);
			atomic_fetch_add(&g.drained, 1);
		}
		pthread_mutex_unlock(&g.lock);
		free(b);
	}
	return NULL;
}

/* Release mode: only free pages go back; the cache and the queue are the service's data. */
static void *release_main(void *arg)
{
	(void)arg;
	for (;;) {
		sleep_ms(g.release_ms);
		malloc_trim(0);
		atomic_fetch_add(&g.releases, 1);
	}
	return NULL;
}

static unsigned parse_ms(const char *name, const char *v, unsigned min)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (!*v || *end || errno || *v == '-' || n < min || n > 3600000)
		die_usage("%s is not an integer in range (milliseconds)", name);
	return (unsigned)n;
}

/* Parses ADDR:PORT or [ADDR6]:PORT into ss; only loopback addresses are accepted. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	const char *h = s;
	size_t hlen = (size_t)(colon - s);
	if (*h == '[') {
		if (hlen < 2 || h[hlen - 1] != ']')
			return -EINVAL;
		h++;
		hlen -= 2;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	char *end;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
		return (ntohl(a4->sin_addr.s_addr) >> 24) == 127 ? 0 : -EPERM;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr) ? 0 : -EPERM;
	}
	return -EINVAL;
}

static const char *env_or(const char *k, const char *def)
{
	const char *v = getenv(k);
	return v && *v ? v : def;
}

int main(int argc, char **argv)
{
	const char *listen_s = env_or("DEMO_LISTEN", "127.0.0.1:8080");
	const char *rel = env_or("DEMO_RELEASE", "0");
	g.release_mode = strcmp(rel, "0") != 0;
	g.drain_ms = parse_ms("DEMO_DRAIN_MS", env_or("DEMO_DRAIN_MS", "100"), 1);
	g.release_ms = parse_ms("DEMO_RELEASE_MS", env_or("DEMO_RELEASE_MS", "1000"), 10);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_value = i + 1 < argc;
		if (strcmp(a, "--release") == 0) {
			g.release_mode = true;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(USAGE, stdout);
			return 0;
		} else if (strcmp(a, "--listen") == 0 && has_value) {
			listen_s = argv[++i];
		} else if (strcmp(a, "--drain-ms") == 0 && has_value) {
			g.drain_ms = parse_ms("--drain-ms", argv[++i], 1);
		} else if (strcmp(a, "--release-ms") == 0 && has_value) {
			g.release_ms = parse_ms("--release-ms", argv[++i], 10);
		} else {
			die_usage("unknown argument or missing value: '%s'", a);
		}
	}
	struct sockaddr_storage ss;
	socklen_t sslen;
	int rc = parse_listen(listen_s, &ss, &sslen);
	if (rc == -EPERM)
		die_usage("--listen '%s' is not a loopback address (127.0.0.0/8 or ::1)", listen_s);
	if (rc < 0)
		die_usage("--listen '%s' is not ADDR:PORT (e.g. 127.0.0.1:8080, [::1]:8080)", listen_s);

	signal(SIGPIPE, SIG_IGN);
	int lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&ss, sslen) < 0 || listen(lfd, 1024) < 0) {
		fprintf(stderr, "demo-c-svc: cannot listen on %s: %s\n", listen_s, strerror(errno));
		return 1;
	}
	sslen = sizeof(ss);
	getsockname(lfd, (struct sockaddr *)&ss, &sslen);
	char host[INET6_ADDRSTRLEN];
	unsigned port;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host));
		port = ntohs(a4->sin_port);
	} else {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host));
		port = ntohs(a6->sin6_port);
	}

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t t;
	if (pthread_create(&t, &attr, drain_main, NULL) != 0 ||
	    (g.release_mode && pthread_create(&t, &attr, release_main, NULL) != 0)) {
		fputs("demo-c-svc: cannot start a thread\n", stderr);
		return 1;
	}
	/* The bound address (port 0 picks one): scripts read this line. */
	printf(ss.ss_family == AF_INET ? "demo-c-svc listening on %s:%u\n"
				       : "demo-c-svc listening on [%s]:%u\n", host, port);
	fflush(stdout);

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
				sleep_ms(10);  /* out of descriptors: let connections finish */
			continue;
		}
		if (atomic_fetch_add(&g.conns, 1) >= MAX_CONNS) {
			atomic_fetch_sub(&g.conns, 1);
			close(fd);
			continue;
		}
		struct timeval tv = {.tv_sec = IDLE_TIMEOUT_S};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (pthread_create(&t, &attr, conn_main, (void *)(intptr_t)fd) != 0) {
			atomic_fetch_sub(&g.conns, 1);
			close(fd);
		}
	}
}
