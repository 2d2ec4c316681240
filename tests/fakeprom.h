/* fakeprom: a fake Prometheus HTTP API on loopback for the known-answer tests of the PromQL
 * clients (promsize, fleet). Each request's line is URL-decoded and handed to the test's answer
 * function, which writes the JSON body; the server replies 200 and closes the connection.
 * Binds a port of the tests' range (26000-26999). Header-only: include it after <cmocka.h>. */
#ifndef HEADROOM_TEST_FAKEPROM_H
#define HEADROOM_TEST_FAKEPROM_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FAKEPROM_PORT_LO 26000
#define FAKEPROM_PORT_N 1000

struct fakeprom {
	int ls, port;
	pthread_t th;
	/* writes the JSON answer to `request` (the decoded request line) into body */
	void (*answer)(void *ctx, const char *request, char *body, size_t len);
	void *ctx;
};

static inline void fakeprom_decode(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		unsigned v;
		if (*p == '%' && p[1] && p[2] && sscanf(p + 1, "%2x", &v) == 1) {
			*o++ = (char)v;
			p += 2;
		} else {
			*o++ = *p == '+' ? ' ' : *p;
		}
	}
	*o = 0;
}

static inline void *fakeprom_serve(void *arg)
{
	struct fakeprom *f = arg;
	for (;;) {
		int fd = accept(f->ls, NULL, NULL);
		if (fd < 0)
			return NULL;
		static char req[16384], body[16384], out[17000];
		size_t len = 0;
		while (len < sizeof(req) - 1) {
			ssize_t n = recv(fd, req + len, sizeof(req) - 1 - len, 0);
			if (n <= 0)
				break;
			len += (size_t)n;
			req[len] = 0;
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		req[len] = 0;
		char *eol = strstr(req, "\r\n");
		if (eol)
			*eol = 0;
		fakeprom_decode(req);
		body[0] = 0;
		f->answer(f->ctx, req, body, sizeof(body));
		int n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(body), body);
		if (n > 0 && send(fd, out, (size_t)n, MSG_NOSIGNAL) < 0)
			perror("fakeprom: send");
		close(fd);
	}
}

/* 0, or -1 when no port of the range could be bound */
static inline int fakeprom_start(struct fakeprom *f)
{
	f->ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->ls < 0)
		return -1;
	f->port = 0;
	for (int i = 0; i < FAKEPROM_PORT_N && !f->port; i++) {
		int p = FAKEPROM_PORT_LO + (int)((getpid() + i) % FAKEPROM_PORT_N);
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		if (bind(f->ls, (struct sockaddr *)&sin, sizeof(sin)) == 0)
			f->port = p;
	}
	if (!f->port || listen(f->ls, 16) < 0 || pthread_create(&f->th, NULL, fakeprom_serve, f) != 0) {
		close(f->ls);
		return -1;
	}
	return 0;
}

static inline void fakeprom_stop(struct fakeprom *f)
{
	shutdown(f->ls, SHUT_RDWR);
	pthread_join(f->th, NULL);
	close(f->ls);
}

#endif
