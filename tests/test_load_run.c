/* load_run against a small in-process HTTP server: stage callbacks, per-second rows aligned on
 * the caller's clock, the stop flag, the request cap, and the errors returned before a run. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "helpers.h"

#include "load.h"
#include "util.h"

#define S 1000000000LL

static atomic_int open_conns, peak_conns;
/* when non-zero, every slow_every-th response (over all connections) waits SLOW_MS first */
static atomic_int slow_every, served;
#define SLOW_MS 300

struct server {
	int ls;
	int port;
	pthread_t th;
};

static void *serve_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	int open = atomic_fetch_add(&open_conns, 1) + 1;
	int peak = atomic_load(&peak_conns);
	while (open > peak && !atomic_compare_exchange_weak(&peak_conns, &peak, open))
		;
	char buf[8192];
	size_t len = 0;
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	for (;;) {
		ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		char *end;
		while ((end = memmem(buf, len, "\r\n\r\n", 4))) {
			size_t h = (size_t)(end - buf) + 4;
			memmove(buf, buf + h, len - h);
			len -= h;
			int every = atomic_load(&slow_every);
			if (every && (atomic_fetch_add(&served, 1) + 1) % every == 0) {
				struct timespec ts = {0, SLOW_MS * 1000000L};
				while (nanosleep(&ts, &ts) < 0)
					;
			}
			if (send(fd, resp, sizeof(resp) - 1, MSG_NOSIGNAL) < 0)
				goto out;
		}
		if (len == sizeof(buf))
			break;
	}
out:
	close(fd);
	atomic_fetch_sub(&open_conns, 1);
	return NULL;
}

static void *accept_loop(void *arg)
{
	struct server *s = arg;
	for (;;) {
		int fd = accept4(s->ls, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return NULL;
		pthread_t th;
		if (pthread_create(&th, NULL, serve_conn, (void *)(intptr_t)fd) == 0)
			pthread_detach(th);
		else
			close(fd);
	}
}

static int server_start(struct server *s)
{
	s->ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	if (bind(s->ls, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(s->ls, 128) < 0 ||
	    getsockname(s->ls, (struct sockaddr *)&sin, &sl) < 0)
		return -errno;
	s->port = ntohs(sin.sin_port);
	return pthread_create(&s->th, NULL, accept_loop, s) == 0 ? 0 : -1;
}

static void server_stop(struct server *s)
{
	shutdown(s->ls, SHUT_RDWR);
	pthread_join(s->th, NULL);
	close(s->ls);
}

struct seen {
	struct load_row rows[64];
	int nrows;
	int stages[16];
	int64_t stage_t[16];
	int nstages;
	int stop_after;
	volatile int *stop;
};

static void on_second(void *ctx, const struct load_row *row)
{
	struct seen *s = ctx;
	if (s->nrows < 64)
		s->rows[s->nrows++] = *row;
	if (s->stop_after && s->nrows >= s->stop_after)
		*s->stop = 1;
}

static void on_stage(void *ctx, int index, const struct load_stage *st)
{
	struct seen *s = ctx;
	(void)st;
	if (s->nstages < 16) {
		s->stage_t[s->nstages] = util_now_ns();
		s->stages[s->nstages++] = index;
	}
}

static void config_for(struct load_config *c, int port, const char *stages)
{
	char url[64];
	load_config_init(c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
	assert_int_equal(load_config_parse_url(c, url), 0);
	assert_int_equal(load_stages_parse(stages, c->stages, LOAD_STAGES_MAX, &c->nstages), 0);
}

static void stages_and_rows(void **state)
{
	(void)state;
	struct server srv;
	assert_int_equal(server_start(&srv), 0);
	struct load_config *c = malloc(sizeof(*c));
	struct seen *seen = calloc(1, sizeof(*seen));
	assert_non_null(c);
	assert_non_null(seen);
	config_for(c, srv.port, "1s:2,1s:~6,500ms:3");
	c->threads = 2;
	int64_t start = util_now_ns();
	c->t0_ns = start - 5 * S;   /* the recording started 5 s before the load */
	struct load_result res;
	volatile int stop = 0;
	assert_int_equal(load_run(c, &stop, on_second, on_stage, seen, &res), 0);
	int64_t took = util_now_ns() - start;
	assert_true(took >= 2500 * 1000000LL && took < 3500 * 1000000LL);
	/* every stage announced once, in order, at its start */
	assert_int_equal(seen->nstages, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(seen->stages[i], i);
	assert_true(seen->stage_t[1] - start >= 1 * S - 1000000 && seen->stage_t[1] - start < 1 * S + 250000000);
	assert_true(seen->stage_t[2] - start >= 2 * S - 1000000 && seen->stage_t[2] - start < 2 * S + 250000000);
	/* two whole seconds and the last half */
	assert_int_equal(seen->nrows, 3);
	int64_t sum = 0, errs = 0;
	for (int i = 0; i < seen->nrows; i++) {
		const struct load_row *r = &seen->rows[i];
		sum += r->requests;
		errs += r->errors;
		assert_true(r->requests > 0);
		assert_true(r->inflight >= 0 && r->inflight <= 6);
		assert_true(r->p50_us > 0 && r->p50_us <= r->p99_us && r->p99_us <= r->max_us);
	}
	/* rows are on the caller's clock */
	assert_true(seen->rows[0].t_ns >= 6 * S - 1000000 && seen->rows[0].t_ns < 6 * S + 250000000);
	assert_true(seen->rows[1].t_ns >= 7 * S - 1000000 && seen->rows[1].t_ns < 7 * S + 250000000);
	assert_true(seen->rows[2].t_ns >= 7 * S + S / 2 - 1000000);
	assert_int_equal(seen->rows[0].stage, 1);   /* at 1 s the ramp begins */
	assert_int_equal(seen->rows[1].stage, 2);
	assert_int_equal(seen->rows[1].connections, 3);
	assert_int_equal(sum, res.attempts);   /* the rows count attempts */
	assert_int_equal(res.attempts, res.requests);   /* no failed attempt against a healthy server */
	assert_int_equal(errs, 0);
	assert_int_equal(res.errors_total, 0);
	assert_int_equal(res.status_class[2], res.requests);
	assert_int_equal(res.max_connections, 6);
	assert_int_equal(res.threads, 2);
	assert_true(res.connects >= 6);
	assert_true(res.p50_us <= res.p90_us && res.p90_us <= res.p99_us && res.p99_us <= res.p999_us &&
		    res.p999_us <= res.max_us);
	assert_false(res.capped || res.stopped || res.aborted);
	/* the server saw the stage's connections, and every one was closed at the end */
	assert_true(atomic_load(&peak_conns) >= 5 && atomic_load(&peak_conns) <= 6);
	for (int i = 0; i < 100 && atomic_load(&open_conns) > 0; i++)
		usleep(10000);
	assert_int_equal(atomic_load(&open_conns), 0);
	server_stop(&srv);
	free(c);
	free(seen);
}

static void stop_and_cap(void **state)
{
	(void)state;
	struct server srv;
	assert_int_equal(server_start(&srv), 0);
	struct load_config *c = malloc(sizeof(*c));
	struct seen *seen = calloc(1, sizeof(*seen));
	assert_non_null(c);
	assert_non_null(seen);
	config_for(c, srv.port, "30s:3");
	volatile int stop = 0;
	seen->stop = &stop;
	seen->stop_after = 1;
	struct load_result res;
	int64_t start = util_now_ns();
	assert_int_equal(load_run(c, &stop, on_second, NULL, seen, &res), 0);
	assert_true(util_now_ns() - start < 2 * S);
	assert_true(res.stopped);
	assert_true(res.requests > 0);

	stop = 0;
	c->max_requests = 77;
	memset(seen, 0, sizeof(*seen));
	start = util_now_ns();
	assert_int_equal(load_run(c, &stop, on_second, NULL, seen, &res), 0);
	assert_true(util_now_ns() - start < 5 * S);
	assert_true(res.capped);
	assert_int_equal(res.sent, 77);
	assert_int_equal(res.requests, 77);

	/* open loop: 200 requests/s for 1.5 s */
	c->max_requests = LOAD_DEFAULT_MAX_REQUESTS;
	assert_int_equal(load_stages_parse("1500ms:4", c->stages, LOAD_STAGES_MAX, &c->nstages), 0);
	c->rate = 200;
	assert_int_equal(load_run(c, &stop, NULL, NULL, NULL, &res), 0);
	assert_true(res.requests >= 240 && res.requests <= 305);
	server_stop(&srv);
	free(c);
	free(seen);
}

/* A server that accepts and closes without answering: every attempt is an error, none a response. */
static void *accept_and_close(void *arg)
{
	struct server *s = arg;
	for (;;) {
		int fd = accept4(s->ls, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return NULL;
		close(fd);
	}
}

/* rps is complete responses ÷ the run's duration, computed here from the result's own counts and
 * checked against the caller's clock; a run where nothing answers has attempts and errors but an
 * rps of 0 and an error rate of 1 (errors over attempts, not over responses). */
static void rps_is_responses_over_duration(void **state)
{
	(void)state;
	struct server srv;
	assert_int_equal(server_start(&srv), 0);
	struct load_config *c = malloc(sizeof(*c));
	assert_non_null(c);
	config_for(c, srv.port, "1s:2");
	c->max_requests = 20000;
	struct load_result res;
	int64_t t0 = util_now_ns();
	assert_int_equal(load_run(c, NULL, NULL, NULL, NULL, &res), 0);
	int64_t wall = util_now_ns() - t0;
	server_stop(&srv);
	assert_true(res.requests > 0);
	assert_true(res.duration_ns > 0 && res.duration_ns <= wall);
	assert_near(res.rps, (double)res.requests * 1e9 / (double)res.duration_ns, 1e-6 * res.rps);
	/* the duration is the run's in nanoseconds: the 1 s stage (unless the cap ended it), at most
	 * the caller's clock */
	assert_true(res.capped || res.duration_ns >= S * 9 / 10);
	assert_near(load_error_rate(&res), 0, 0);

	struct server mute;
	mute.ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	assert_int_equal(bind(mute.ls, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(mute.ls, 128), 0);
	assert_int_equal(getsockname(mute.ls, (struct sockaddr *)&sin, &sl), 0);
	assert_int_equal(pthread_create(&mute.th, NULL, accept_and_close, &mute), 0);
	config_for(c, ntohs(sin.sin_port), "500ms:1");
	c->max_requests = 200;
	assert_int_equal(load_run(c, NULL, NULL, NULL, NULL, &res), 0);
	server_stop(&mute);
	assert_int_equal(res.requests, 0);
	assert_true(res.attempts > 0);
	assert_int_equal(res.errors_total, res.attempts);
	assert_near(res.rps, 0, 0);
	assert_near(load_error_rate(&res), 1.0, 1e-12);
	free(c);
}

/* 1000 requests on one connection, every 200th answered after SLOW_MS: 5 slow of 1000 (0.5 %).
 * The 99th percentile is rank 990, a fast answer; the 99.9th is rank 999, a slow one. Up to five
 * fast answers may be slowed by a busy machine without moving rank 990 past SLOW_MS. */
static void latency_percentiles_on_known_tail(void **state)
{
	(void)state;
	struct server srv;
	assert_int_equal(server_start(&srv), 0);
	struct load_config *c = malloc(sizeof(*c));
	assert_non_null(c);
	config_for(c, srv.port, "60s:1");
	c->max_requests = 1000;
	atomic_store(&served, 0);
	atomic_store(&slow_every, 200);
	struct load_result res;
	int rc = load_run(c, NULL, NULL, NULL, NULL, &res);
	atomic_store(&slow_every, 0);
	server_stop(&srv);
	free(c);
	assert_int_equal(rc, 0);
	assert_true(res.capped);
	assert_int_equal(res.requests, 1000);
	assert_true(res.p99_us < SLOW_MS * 1000);
	assert_true(res.p999_us >= SLOW_MS * 1000);
	assert_true(res.max_us >= SLOW_MS * 1000);
	assert_true(res.p50_us <= res.p90_us && res.p90_us <= res.p99_us);
}

static void refuses_before_running(void **state)
{
	(void)state;
	struct load_config *c = malloc(sizeof(*c));
	assert_non_null(c);
	/* a port nobody listens on */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	close(fd);
	config_for(c, ntohs(sin.sin_port), "1s:1");
	struct load_result res;
	assert_int_equal(load_run(c, NULL, NULL, NULL, NULL, &res), -ECONNREFUSED);
	/* bad configurations */
	config_for(c, 80, "1s:1");
	c->nstages = 0;
	assert_int_equal(load_run(c, NULL, NULL, NULL, NULL, &res), -EINVAL);
	config_for(c, 80, "1s:1");
	c->rate = -1;
	assert_int_equal(load_run(c, NULL, NULL, NULL, NULL, &res), -EINVAL);
	config_for(c, 80, "1s:1");
	c->paths[c->npaths++] = "no-slash";
	assert_int_equal(load_run(c, NULL, NULL, NULL, NULL, &res), -EINVAL);
	config_for(c, 80, "1s:1");
	c->headers[c->nheaders++] = "X-Bad: a\r\nInjected: b";
	assert_int_equal(load_run(c, NULL, NULL, NULL, NULL, &res), -EINVAL);
	config_for(c, 80, "1s:0");
	assert_int_equal(load_run(c, NULL, NULL, NULL, NULL, &res), -EINVAL);
	/* a stage of no time at all would be a load that never ran: refused, like a negative one */
	config_for(c, 80, "1s:1");
	c->stages[0].duration_ns = 0;
	assert_int_equal(load_run(c, NULL, NULL, NULL, NULL, &res), -EINVAL);
	c->stages[0].duration_ns = -1;
	assert_int_equal(load_run(c, NULL, NULL, NULL, NULL, &res), -EINVAL);
	/* also between stages that do last: the whole run is not empty, the stage still is */
	config_for(c, 80, "1s:1,1s:2");
	c->stages[1].duration_ns = 0;
	assert_int_equal(load_run(c, NULL, NULL, NULL, NULL, &res), -EINVAL);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stages_and_rows),
		cmocka_unit_test(stop_and_cap),
		cmocka_unit_test(rps_is_responses_over_duration),
		cmocka_unit_test(latency_percentiles_on_known_tail),
		cmocka_unit_test(refuses_before_running),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
