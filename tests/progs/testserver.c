/* testserver: a small HTTP/1.1 server on 127.0.0.1 that misbehaves on purpose, for the load tests.
 *
 *   testserver --port-file F [--port N] [--stats F] [--not-http]
 *              [--pause-every MS --pause-ms MS [--pause-log F]]
 *
 * Paths: /ok (200, Content-Length), /chunked (200, chunked with extensions and a trailer),
 * /close (200, body delimited by closing), /404, /500, /stall (never answers), /reset (RST),
 * /early (closes without answering), /pause (the whole server sleeps 500 ms, once per run, then
 * answers 200), /big (200, 256 KiB), /999 (a status outside 100..599). Anything else: 404. --not-http answers every request with
 * an SSH banner. Counts of answers per path are written to --stats on SIGTERM/SIGINT, one
 * "path count" a line, so tests can compare what the server sent with what the client counted.
 * --pause-every P --pause-ms S stalls the whole server for S ms at P/2, 3P/2, 5P/2 ... after the
 * first request it receives (the stall starts with the first request handled after that time), and
 * writes each stall's actual start and end (CLOCK_MONOTONIC ns, "start end" a line) to --pause-log,
 * so a test can compute the latencies an open-loop client must report from what really happened.
 * Single-threaded epoll; listens on loopback only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF 16384
#define NPATHS 12

static const char *const paths[NPATHS] = {"/ok", "/chunked", "/close", "/404", "/500", "/stall",
					   "/reset", "/early", "/pause", "/big", "/999", "other"};
static long counts[NPATHS];
static volatile sig_atomic_t done;
static bool not_http;
static bool paused_once;
static char *big_body;
static long pause_every_ms, pause_ms;
static FILE *pause_log;
static long long next_pause_ns;   /* 0 until the first request */

static long long mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The scheduled stalls: the whole server sleeps, so every request due meanwhile waits for its end. */
static void maybe_pause(void)
{
	if (pause_every_ms <= 0 || pause_ms <= 0)
		return;
	long long now = mono_ns();
	if (!next_pause_ns) {
		next_pause_ns = now + pause_every_ms * 1000000LL / 2;
		return;
	}
	if (now < next_pause_ns)
		return;
	long long until = now + pause_ms * 1000000LL;
	struct timespec ts = {.tv_sec = until / 1000000000LL, .tv_nsec = until % 1000000000LL};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
	long long end = mono_ns();
	if (pause_log) {
		fprintf(pause_log, "%lld %lld\n", now, end);
		fflush(pause_log);
	}
	while (next_pause_ns <= end)
		next_pause_ns += pause_every_ms * 1000000LL;
}

struct client {
	int fd;
	size_t len;
	bool stalled;
	char buf[BUF];
};

static void on_signal(int sig)
{
	(void)sig;
	done = 1;
}

static int path_index(const char *p, size_t n)
{
	for (int i = 0; i < NPATHS - 1; i++)
		if (strlen(paths[i]) == n && memcmp(paths[i], p, n) == 0)
			return i;
	return NPATHS - 1;
}

static void drop(int ep, struct client *c, bool rst)
{
	if (rst) {
		struct linger l = {.l_onoff = 1, .l_linger = 0};
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

static bool send_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				/* the test client always reads: wait briefly rather than buffer */
				struct timespec ts = {0, 1000000};
				nanosleep(&ts, NULL);
				continue;
			}
			return false;
		}
		s += w;
		n -= (size_t)w;
	}
	return true;
}

static bool reply(int fd, int status, const char *reason, const char *body, size_t blen)
{
	char head[256];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nContent-Type: text/plain\r\n\r\n",
			 status, reason, blen);
	return send_all(fd, head, (size_t)n) && send_all(fd, body, blen);
}

/* Returns false when the connection is gone. */
static bool serve(int ep, struct client *c)
{
	for (;;) {
		if (c->stalled)
			return true;
		char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
		if (!end)
			return true;
		size_t hlen = (size_t)(end - c->buf) + 4;
		size_t body = 0;
		char *cl = memmem(c->buf, hlen, "Content-Length:", 15);
		if (cl)
			body = strtoul(cl + 15, NULL, 10);
		if (c->len < hlen + body)
			return true;
		char *sp1 = memchr(c->buf, ' ', hlen);
		char *sp2 = sp1 ? memchr(sp1 + 1, ' ', hlen - (size_t)(sp1 + 1 - c->buf)) : NULL;
		if (!sp2) {
			drop(ep, c, false);
			return false;
		}
		char *q = memchr(sp1 + 1, '?', (size_t)(sp2 - sp1 - 1));
		int idx = path_index(sp1 + 1, (size_t)((q ? q : sp2) - sp1 - 1));
		memmove(c->buf, c->buf + hlen + body, c->len - hlen - body);
		c->len -= hlen + body;
		counts[idx]++;
		maybe_pause();
		if (not_http) {
			static const char banner[] = "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n";
			send_all(c->fd, banner, sizeof(banner) - 1);
			continue;
		}
		bool ok = true;
		switch (idx) {
		case 0:
			ok = reply(c->fd, 200, "OK", "ok\n", 3);
			break;
		case 1: {
			static const char r[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
						"4;a=b\r\nabcd\r\n3\r\nefg\r\n0\r\nX-Sum: 7\r\n\r\n";
			ok = send_all(c->fd, r, sizeof(r) - 1);
			break;
		}
		case 2: {
			static const char r[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody until close";
			send_all(c->fd, r, sizeof(r) - 1);
			drop(ep, c, false);
			return false;
		}
		case 3:
			ok = reply(c->fd, 404, "Not Found", "no\n", 3);
			break;
		case 4:
			ok = reply(c->fd, 500, "Internal Server Error", "boom\n", 5);
			break;
		case 5:
			c->stalled = true;
			return true;
		case 6:
			drop(ep, c, true);
			return false;
		case 7:
			drop(ep, c, false);
			return false;
		case 8:
			if (!paused_once) {
				paused_once = true;
				struct timespec ts = {0, 500000000};
				nanosleep(&ts, NULL);
			}
			ok = reply(c->fd, 200, "OK", "paused\n", 7);
			break;
		case 9:
			ok = reply(c->fd, 200, "OK", big_body, 256 * 1024);
			break;
		case 10:
			ok = reply(c->fd, 999, "Odd", "odd\n", 4);
			break;
		default:
			ok = reply(c->fd, 404, "Not Found", "no\n", 3);
			break;
		}
		if (!ok) {
			drop(ep, c, false);
			return false;
		}
	}
}

int main(int argc, char **argv)
{
	const char *port_file = NULL, *stats = NULL;
	int port = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc)
			port_file = argv[++i];
		else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = atoi(argv[++i]);
		else if (strcmp(argv[i], "--stats") == 0 && i + 1 < argc)
			stats = argv[++i];
		else if (strcmp(argv[i], "--not-http") == 0)
			not_http = true;
		else if (strcmp(argv[i], "--pause-every") == 0 && i + 1 < argc)
			pause_every_ms = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--pause-ms") == 0 && i + 1 < argc)
			pause_ms = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--pause-log") == 0 && i + 1 < argc) {
			pause_log = fopen(argv[++i], "we");
			if (!pause_log) {
				perror("testserver: --pause-log");
				return 1;
			}
		} else {
			fprintf(stderr, "usage: testserver --port-file F [--port N] [--stats F] [--not-http]"
				" [--pause-every MS --pause-ms MS [--pause-log F]]\n");
			return 2;
		}
	}
	big_body = malloc(256 * 1024);
	if (!big_body)
		return 1;
	memset(big_body, 'x', 256 * 1024);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(ls, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(ls, 1024) < 0) {
		perror("testserver: bind");
		return 1;
	}
	socklen_t sl = sizeof(sin);
	getsockname(ls, (struct sockaddr *)&sin, &sl);
	if (port_file) {
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		FILE *f = fopen(tmp, "we");
		if (!f)
			return 1;
		fprintf(f, "%d\n", ntohs(sin.sin_port));
		fclose(f);
		rename(tmp, port_file);   /* the test sees the whole number or nothing */
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	struct epoll_event evs[64];
	while (!done) {
		int n = epoll_wait(ep, evs, 64, 200);
		for (int i = 0; i < n; i++) {
			struct client *c = evs[i].data.ptr;
			if (!c) {
				int fd;
				while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					struct client *nc = calloc(1, sizeof(*nc));
					if (!nc) {
						close(fd);
						continue;
					}
					nc->fd = fd;
					struct epoll_event cev = {.events = EPOLLIN, .data.ptr = nc};
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
				}
				continue;
			}
			ssize_t r = recv(c->fd, c->buf + c->len, BUF - c->len, 0);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR) || (r > 0 && c->len + (size_t)r >= BUF && !memmem(c->buf, c->len + (size_t)r, "\r\n\r\n", 4))) {
				drop(ep, c, false);
				continue;
			}
			if (r > 0) {
				c->len += (size_t)r;
				serve(ep, c);
			}
		}
	}
	if (stats) {
		FILE *f = fopen(stats, "we");
		if (f) {
			for (int i = 0; i < NPATHS; i++)
				fprintf(f, "%s %ld\n", paths[i], counts[i]);
			fclose(f);
		}
	}
	return 0;
}
