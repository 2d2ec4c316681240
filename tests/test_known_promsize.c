/* Known answers for `headroom size --prometheus` (issue 20.1): promsize_run() against a fake
 * Prometheus on loopback that answers each of its three queries with a series of known value, so
 * the recommendation and the short-history flag are checked number by number:
 *   max_over_time   -> 104857601 (100 MiB + 1 byte): the peak
 *   count_over_time -> 1000: the points
 *   min_over_time(timestamp) -> 9200 at query time 10000: 800 s of history
 * With 25 % headroom: ceil(104857601 × 1.25) = 131072002 bytes, 2 bytes over 125 MiB -> 126 MiB.
 * 800 s of a 1000 s window is under 90 % of it: short history; 950 s is not. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "promsize.h"

/* this engineer's port range (26000-26999), tried from a pid-dependent start */
#define PORT_LO 26000
#define PORT_N 1000

struct fake {
	int ls, port;
	pthread_t th;
	const char *first_ts;        /* the min_over_time(timestamp) answer */
};

static void answer(int fd, const char *value)
{
	char body[512], out[1024];
	int bl = snprintf(body, sizeof(body),
			  "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
			  "{\"metric\":{\"pid\":\"4242\",\"job\":\"headroom\"},\"value\":[10000,\"%s\"]}]}}", value);
	int n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			 "Content-Length: %d\r\nConnection: close\r\n\r\n%s", bl, body);
	ssize_t w = send(fd, out, (size_t)n, MSG_NOSIGNAL);
	(void)w;
}

static void *serve(void *arg)
{
	struct fake *f = arg;
	for (;;) {
		int fd = accept(f->ls, NULL, NULL);
		if (fd < 0)
			return NULL;
		char req[4096];
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
		if (strstr(req, "max_over_time"))
			answer(fd, "104857601");
		else if (strstr(req, "count_over_time"))
			answer(fd, "1000");
		else if (strstr(req, "min_over_time"))
			answer(fd, f->first_ts);
		close(fd);
	}
}

static void fake_start(struct fake *f)
{
	f->ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->ls >= 0);
	int one = 1;
	setsockopt(f->ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	f->port = 0;
	for (int i = 0; i < PORT_N && !f->port; i++) {
		int p = PORT_LO + (int)((getpid() + i) % PORT_N);
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		if (bind(f->ls, (struct sockaddr *)&sin, sizeof(sin)) == 0)
			f->port = p;
	}
	assert_true(f->port > 0);
	assert_int_equal(listen(f->ls, 16), 0);
	assert_int_equal(pthread_create(&f->th, NULL, serve, f), 0);
}

static void fake_stop(struct fake *f)
{
	shutdown(f->ls, SHUT_RDWR);
	pthread_join(f->th, NULL);
	close(f->ls);
}

static void run(struct fake *f, struct promsize_result *r)
{
	char url[64], why[512];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f->port);
	struct promsize_options o = {.url = url, .window_ns = 1000 * 1000000000LL, .headroom = 0.25,
				     .timeout_ns = 10 * 1000000000LL};
	int rc = promsize_run(&o, r, why, sizeof(why));
	if (rc < 0)
		fail_msg("promsize_run: %d: %s", rc, why);
}

static void recommendation_from_known_answers(void **state)
{
	(void)state;
	struct fake f = {.first_ts = "9200"};
	fake_start(&f);
	struct promsize_result r;
	run(&f, &r);
	assert_int_equal(r.nrows, 1);
	assert_string_equal(r.rows[0].source, "headroom_rss_peak_bytes");
	assert_int_equal(r.rows[0].peak_bytes, 104857601);
	assert_int_equal(r.rows[0].points, 1000);
	assert_true(r.rows[0].history_s == 800.0);
	assert_int_equal(r.rows[0].recommended_bytes, 126LL * 1024 * 1024);
	assert_true(r.rows[0].short_history);
	promsize_free(&r);
	/* 950 s of the 1000 s window: enough history */
	f.first_ts = "9050";
	run(&f, &r);
	assert_int_equal(r.nrows, 1);
	assert_true(r.rows[0].history_s == 950.0);
	assert_false(r.rows[0].short_history);
	promsize_free(&r);
	fake_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(recommendation_from_known_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
