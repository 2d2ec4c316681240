/* metrics_poll: a service's heap from its Prometheus endpoint (see metrics_poll.h).
 *
 * Why not src/load/http_parse.c: it frames responses for the load generator and never hands out
 * the body; libcurl (dlopened by src/prom) would pull a library into every recording for one GET
 * a second. An HTTP/1.0 request needs neither: the server cannot answer it chunked and ends the
 * body by closing, so the whole answer is one bounded read loop. */
#include "metrics_poll.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "heap.h"
#include "load.h"
#include "metrics.h"
#include "util.h"

/* the known runtimes' series; names from client_golang's Go collector, from the jemalloc
 * exporters of Rust services and from the two common JVM exporters (docs/heap.md lists them) */
enum { W_GO_ALLOC, W_GO_IDLE, W_GO_RELEASED, W_GO_INUSE, W_GO_NEXT_GC, W_GO_GC_COUNT, W_JE_ALLOC, W_JE_RESIDENT,
       W_JE_ALLOC2, W_JE_RESIDENT2, W_LIVE, W_HELD, W_JE_ACTIVE, W_JE_RETAINED, W_JE_METADATA, W_JE_ACTIVE2,
       W_JE_RETAINED2, W_JE_METADATA2, W_JVM_USED, W_JVM_COMMITTED, W_MM_USED, W_MM_COMMITTED, W_N };

static const char *const known_names[W_N] = {
	"go_memstats_heap_alloc_bytes", "go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes",
	"go_memstats_heap_inuse_bytes", "go_memstats_next_gc_bytes", "go_gc_duration_seconds_count",
	"jemalloc_allocated_bytes", "jemalloc_resident_bytes", "jemalloc_stats_allocated_bytes",
	"jemalloc_stats_resident_bytes", NULL, NULL,
	"jemalloc_active_bytes", "jemalloc_retained_bytes", "jemalloc_metadata_bytes",
	"jemalloc_stats_active_bytes", "jemalloc_stats_retained_bytes", "jemalloc_stats_metadata_bytes",
	/* the Prometheus Java client's hotspot collector: one sample per area */
	"jvm_memory_bytes_used", "jvm_memory_bytes_committed",
	/* Micrometer's JvmMemoryMetrics: one sample per pool (area, id), summed over the heap's;
	 * client_java 1.x writes the same names with one sample per area, which the sum also reads */
	"jvm_memory_used_bytes", "jvm_memory_committed_bytes",
};

/* the JVM's series count only for the heap: its nonheap pools (metaspace, code cache) are not
 * the heap the collector manages */
static bool known_heap_only(int i)
{
	return i >= W_JVM_USED && i <= W_MM_COMMITTED;
}

static int fail_bit(unsigned kind)
{
	return __builtin_ctz(kind);
}

void metrics_poll_init(struct metrics_poll *m)
{
	memset(m, 0, sizeof(*m));
	m->stop_pipe[0] = m->stop_pipe[1] = -1;
	m->live = m->held = m->next_gc = m->gc_count = HR_UNKNOWN;
	m->active = m->resident = m->retained = m->metadata = HR_UNKNOWN;
	snprintf(m->status, sizeof(m->status), "off");
}

int metrics_poll_set_name(struct metrics_poll *m, const char *spec)
{
	const char *eq = strchr(spec, '=');
	if (!eq || !metrics_name_valid(eq + 1))
		return -EINVAL;
	char *dst;
	if ((size_t)(eq - spec) == 4 && strncmp(spec, "live", 4) == 0)
		dst = m->live_name;
	else if ((size_t)(eq - spec) == 4 && strncmp(spec, "held", 4) == 0)
		dst = m->held_name;
	else
		return -EINVAL;
	snprintf(dst, METRICS_NAME_LEN, "%s", eq + 1);
	return 0;
}

int metrics_poll_check_url(const char *url)
{
	struct load_config *c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	load_config_init(c);
	int r = load_config_parse_url(c, url);
	free(c);
	return r;
}

/* Records a failure of this kind (the first text of each kind is kept for the note). */
static void poll_fail(struct metrics_poll *m, unsigned kind, const char *fmt, const char *detail)
{
	pthread_mutex_lock(&m->mu);
	if (!(m->failed & kind)) {
		m->failed |= kind;
		snprintf(m->fail_text[fail_bit(kind)], sizeof(m->fail_text[0]), fmt, detail ? detail : "");
	}
	pthread_mutex_unlock(&m->mu);
}

/* Waits for fd to be ready for `events` until deadline (CLOCK_MONOTONIC) or a stop: 1 ready,
 * 0 timed out, -ECANCELED stopped. */
static int wait_fd(struct metrics_poll *m, int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - util_now_ns();
		if (left <= 0)
			return 0;
		struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = m->stop_pipe[0], .events = POLLIN}};
		int r = poll(p, 2, (int)((left + 999999) / 1000000));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (p[1].revents)
			return -ECANCELED;
		if (p[0].revents)
			return 1;
	}
}

/* One GET: the whole answer into m->buf; its length, or a negative errno with the failure
 * recorded (-ECANCELED: stopped). */
static ssize_t poll_fetch(struct metrics_poll *m)
{
	struct load_config *t = m->target;
	int64_t deadline = util_now_ns() + METRICS_TIMEOUT_NS;
	int fd = socket(t->addr[0].ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	ssize_t ret;
	int soerr = 0;
	if (connect(fd, (struct sockaddr *)&t->addr[0], t->addrlen[0]) < 0 && errno != EINPROGRESS)
		soerr = errno;
	int w = soerr ? 1 : wait_fd(m, fd, POLLOUT, deadline);
	socklen_t sl = sizeof(soerr);
	if (w == 1 && (soerr || (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr))) {
		ret = -soerr;
		pthread_mutex_lock(&m->mu);
		bool answered = m->answers > 0;
		bool starting = !answered && util_now_ns() - m->start_ns < METRICS_START_GRACE_NS;
		pthread_mutex_unlock(&m->mu);
		/* after answers, one refusal is most often the service stopping at the end of the run
		 * (the poll raced its exit): only a second in a row is said */
		if (!starting && ++m->refused_in_row >= (answered ? 2 : 1))
			poll_fail(m, MF_CONNECT, "cannot connect: %s", strerror(soerr));
		goto out_close;
	}
	if (w <= 0) {
		ret = w == 0 ? -ETIMEDOUT : w;
		if (w == 0)
			poll_fail(m, MF_TIMEOUT, "no connection within %s", "800ms");
		goto out_close;
	}
	char req[1400];
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: headroom\r\nAccept: text/plain;version=0.0.4\r\n"
			 "Connection: close\r\n\r\n", t->path, t->host);
	if (n < 0 || (size_t)n >= sizeof(req) || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		ret = -EIO;
		poll_fail(m, MF_CONNECT, "cannot send the request: %s", strerror(errno));
		goto out_close;
	}
	m->refused_in_row = 0;
	size_t cap = METRICS_HEADER_MAX + METRICS_BODY_MAX, len = 0;
	for (;;) {
		w = wait_fd(m, fd, POLLIN, deadline);
		if (w <= 0) {
			ret = w == 0 ? -ETIMEDOUT : w;
			/* a service still starting (no answer yet, within the start-up grace) may be slow
			 * to build its first page (a JVM loading classes): said only if it stays so */
			pthread_mutex_lock(&m->mu);
			bool starting = m->answers == 0 && util_now_ns() - m->start_ns < METRICS_START_GRACE_NS;
			pthread_mutex_unlock(&m->mu);
			if (w == 0 && !starting)
				poll_fail(m, MF_TIMEOUT, "no complete answer within %s (slow endpoint)", "800ms");
			goto out_close;
		}
		ssize_t r = read(fd, m->buf + len, cap + 1 - len);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0) {
			ret = -errno;
			/* a reset after answers, like a refusal, is most often the service closing at the
			 * end of the run with our request unread: only a second in a row is said */
			pthread_mutex_lock(&m->mu);
			bool answered = m->answers > 0;
			pthread_mutex_unlock(&m->mu);
			if (errno != ECONNRESET || ++m->reset_in_row >= (answered ? 2 : 1))
				poll_fail(m, MF_CONNECT, "connection failed: %s", strerror(-(int)ret));
			goto out_close;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > cap) {
			ret = -EMSGSIZE;
			poll_fail(m, MF_TOO_BIG, "the answer is larger than %s (not read)", "4 MiB");
			goto out_close;
		}
	}
	m->buf[len] = '\0';
	ret = (ssize_t)len;
out_close:
	close(fd);
	return ret;
}

/* The body of an HTTP/1.x 200 answer in buf[0..len): *ret_body, *ret_len; -EBADMSG otherwise
 * (the failure recorded). */
static int poll_body(struct metrics_poll *m, char *buf, size_t len, const char **ret_body, size_t *ret_len)
{
	char *end = memmem(buf, len < METRICS_HEADER_MAX ? len : METRICS_HEADER_MAX, "\r\n\r\n", 4);
	int minor, status;
	char sp;
	if (!end || len < 13 || sscanf(buf, "HTTP/1.%1d %3d%c", &minor, &status, &sp) != 3 || (sp != ' ' && sp != '\r')) {
		poll_fail(m, MF_HTTP, "not an HTTP/1.x answer%s", NULL);
		return -EBADMSG;
	}
	if (status != 200) {
		char st[8];
		snprintf(st, sizeof(st), "%d", status);
		poll_fail(m, MF_STATUS, "HTTP status %s (expected 200)", st);
		return -EBADMSG;
	}
	*end = '\0';
	int64_t clen = -1;
	for (char *h = strstr(buf, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n")) {
		const char *name = h + 2;
		if (strncasecmp(name, "transfer-encoding:", 18) == 0 ||
		    (strncasecmp(name, "content-encoding:", 17) == 0 && !strstr(name + 17, "identity"))) {
			poll_fail(m, MF_HTTP, "an encoded body (Transfer- or Content-Encoding) to an HTTP/1.0 request%s", NULL);
			return -EBADMSG;
		}
		if (strncasecmp(name, "content-length:", 15) == 0) {
			char *e;
			long long v = strtoll(name + 15, &e, 10);
			if (v < 0 || (*e && *e != '\r'))
				v = -1;
			clen = v;
		}
	}
	char *body = end + 4;
	size_t blen = len - (size_t)(body - buf);
	if (clen >= 0 && (uint64_t)clen > blen) {
		poll_fail(m, MF_HTTP, "the answer ended before its Content-Length%s", NULL);
		return -EBADMSG;
	}
	if (clen >= 0)
		blen = (size_t)clen;
	if (blen > METRICS_BODY_MAX) {
		poll_fail(m, MF_TOO_BIG, "the answer is larger than %s (not read)", "4 MiB");
		return -EMSGSIZE;
	}
	*ret_body = body;
	*ret_len = blen;
	return 0;
}

/* A byte figure from the page: finite, >= 0, within what heap.c believes of any count. */
static int as_bytes(const struct metrics_want *w, int64_t *ret)
{
	if (!w->found)
		return -ENOENT;
	if (!isfinite(w->value) || w->value < 0 || w->value >= (double)HEAP_COUNT_MAX)
		return -ERANGE;
	*ret = (int64_t)w->value;
	return 0;
}

/* Parses and maps one answer, then publishes it. */
static void poll_answer(struct metrics_poll *m, const char *body, size_t blen, int64_t taken)
{
	struct metrics_want w[W_N];
	int nw = 0;
	for (int i = 0; i < W_N; i++) {
		w[i].name = i == W_LIVE ? m->live_name : i == W_HELD ? m->held_name : known_names[i];
		if (!w[i].name || !*w[i].name)
			w[i].name = "\x01";   /* never a metric name: not looked for */
		w[i].label = known_heap_only(i) ? "area" : NULL;
		w[i].label_value = known_heap_only(i) ? "heap" : NULL;
		w[i].sum = i == W_MM_USED || i == W_MM_COMMITTED;
		nw++;
	}
	int line = 0;
	int r = metrics_parse(body, blen, w, nw, &line);
	if (r < 0) {
		char at[64];
		snprintf(at, sizeof(at), "%d", line);
		poll_fail(m, MF_GARBAGE, r == -EMSGSIZE ? "line %s is too long for the Prometheus text format"
					 : "line %s is not the Prometheus text format (name{labels} value [timestamp])", at);
		return;
	}
	int64_t live = HR_UNKNOWN, held = HR_UNKNOWN, a, b;
	int64_t active = HR_UNKNOWN, resident = HR_UNKNOWN, retained = HR_UNKNOWN, metadata = HR_UNKNOWN;
	const char *source = NULL;
	int bad = 0;
	if (*m->live_name || *m->held_name) {
		source = "--heap-metric";
		if (*m->live_name && (r = as_bytes(&w[W_LIVE], &live)) < 0)
			bad = r;
		if (*m->held_name && (r = as_bytes(&w[W_HELD], &held)) < 0)
			bad = r;
	} else if (w[W_GO_ALLOC].found) {
		source = "go runtime";
		if ((r = as_bytes(&w[W_GO_ALLOC], &live)) < 0)
			bad = r;
		/* idle spans the runtime still holds resident: idle minus what it gave back (madvise) */
		if (as_bytes(&w[W_GO_IDLE], &a) == 0 && as_bytes(&w[W_GO_RELEASED], &b) == 0)
			held = a > b ? a - b : 0;
	} else if (w[W_JE_ALLOC].found || w[W_JE_ALLOC2].found) {
		source = "jemalloc";
		int ia = w[W_JE_ALLOC].found ? W_JE_ALLOC : W_JE_ALLOC2;
		int ir = w[W_JE_ALLOC].found ? W_JE_RESIDENT : W_JE_RESIDENT2;
		if ((r = as_bytes(&w[ia], &live)) < 0)
			bad = r;
		else if (as_bytes(&w[ir], &b) == 0) {
			held = b > live ? b - live : 0;
			resident = b;
		}
		/* the page-level figures the analysis compares (allocview.c); each from the same
		 * family of names as allocated, unknown when the page does not have it */
		bool stats = ia == W_JE_ALLOC2;
		as_bytes(&w[stats ? W_JE_ACTIVE2 : W_JE_ACTIVE], &active);
		as_bytes(&w[stats ? W_JE_RETAINED2 : W_JE_RETAINED], &retained);
		as_bytes(&w[stats ? W_JE_METADATA2 : W_JE_METADATA], &metadata);
	} else if (w[W_JVM_USED].found || w[W_MM_USED].found) {
		source = "jvm";
		int iu = w[W_JVM_USED].found ? W_JVM_USED : W_MM_USED;
		int ic = w[W_JVM_USED].found ? W_JVM_COMMITTED : W_MM_COMMITTED;
		/* used includes garbage not collected yet: the JVM says no more about live objects */
		if ((r = as_bytes(&w[iu], &live)) < 0)
			bad = r;
		else if (as_bytes(&w[ic], &b) == 0)
			held = b > live ? b - live : 0;   /* committed to the heap, not used */
	}
	if (!source) {
		poll_fail(m, MF_NO_SERIES, "no known heap series (go_memstats_heap_alloc_bytes, jemalloc_allocated_bytes, "
			  "jvm_memory_used_bytes{area=\"heap\"}; "
			  "--heap-metric live=NAME names another)%s", NULL);
		return;
	}
	if (bad) {
		poll_fail(m, bad == -ENOENT ? MF_NO_SERIES : MF_RANGE,
			  bad == -ENOENT ? "a --heap-metric series is not on the page%s"
					 : "a heap series is negative, not a number or beyond 64 PiB%s", NULL);
		return;
	}
	int64_t next_gc = HR_UNKNOWN, gcs = HR_UNKNOWN;
	as_bytes(&w[W_GO_NEXT_GC], &next_gc);
	as_bytes(&w[W_GO_GC_COUNT], &gcs);
	pthread_mutex_lock(&m->mu);
	m->live = live;
	m->held = held;
	m->next_gc = next_gc;
	m->gc_count = gcs;
	m->active = active;
	m->resident = resident;
	m->retained = retained;
	m->metadata = metadata;
	m->taken_ns = taken;
	m->source = source;
	m->answers++;
	m->reset_in_row = 0;
	pthread_mutex_unlock(&m->mu);
}

static void *poll_thread(void *arg)
{
	struct metrics_poll *m = arg;
	int64_t next = util_now_ns();
	for (;;) {
		ssize_t len = poll_fetch(m);
		if (len == -ECANCELED)
			break;
		int64_t taken = util_now_ns();
		const char *body;
		size_t blen;
		if (len >= 0 && poll_body(m, m->buf, (size_t)len, &body, &blen) == 0)
			poll_answer(m, body, blen, taken);
		pthread_mutex_lock(&m->mu);
		m->polls++;
		pthread_mutex_unlock(&m->mu);
		next += METRICS_POLL_INTERVAL_NS;
		int64_t now = util_now_ns();
		if (next < now)
			next = now;   /* a slow poll is not made up for with a burst */
		struct pollfd p = {.fd = m->stop_pipe[0], .events = POLLIN};
		int r;
		do
			r = poll(&p, 1, (int)((next - util_now_ns() + 999999) / 1000000));
		while (r < 0 && errno == EINTR);
		if (r > 0)
			break;
	}
	return NULL;
}

int metrics_poll_start(struct metrics_poll *m, const char *url)
{
	if (strlen(url) >= sizeof(m->url))
		return -EINVAL;
	struct load_config *c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	load_config_init(c);
	int r = load_config_parse_url(c, url);
	if (r < 0) {
		free(c);
		return r;
	}
	snprintf(m->url, sizeof(m->url), "%s", url);
	m->target = c;
	m->buf = malloc(METRICS_HEADER_MAX + METRICS_BODY_MAX + 1);
	if (!m->buf)
		goto out_nomem;
	if (pipe2(m->stop_pipe, O_CLOEXEC) < 0) {
		r = -errno;
		goto out_free;
	}
	pthread_mutex_init(&m->mu, NULL);
	m->start_ns = util_now_ns();
	char safe[200];
	snprintf(m->status, sizeof(m->status), "pending: no answer yet from metrics %s",
		 util_term_escape(url, safe, sizeof(safe), false));
	/* the thread takes no signal: the runner waits for SIGCHLD and SIGTERM with a signalfd, and
	 * a signal delivered here instead would be lost to it (a child never reaped) */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&m->thread, NULL, poll_thread, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		pthread_mutex_destroy(&m->mu);
		goto out_pipe;
	}
	m->started = true;
	return 0;
out_pipe:
	close(m->stop_pipe[0]);
	close(m->stop_pipe[1]);
	m->stop_pipe[0] = m->stop_pipe[1] = -1;
	goto out_free;
out_nomem:
	r = -ENOMEM;
out_free:
	free(m->buf);
	free(m->target);
	m->buf = NULL;
	m->target = NULL;
	return r;
}

void metrics_poll_read(struct metrics_poll *m, struct sample *s)
{
	if (!m->started)
		return;
	int64_t now = util_now_ns();
	/* t_ns = 0 at an instant we only see from here: the smallest now - t_ns is the closest */
	int64_t origin = now - s->t_ns;
	if (m->origin_ns == 0 || origin < m->origin_ns)
		m->origin_ns = origin;
	pthread_mutex_lock(&m->mu);
	int64_t taken = m->taken_ns, live = m->live, held = m->held;
	int64_t active = m->active, resident = m->resident, retained = m->retained, metadata = m->metadata;
	const char *source = m->source;
	unsigned failed = m->failed;
	char last[200] = "";
	for (int i = 0; i < 10 && failed && !*last; i++)
		if (failed & (1u << i))
			snprintf(last, sizeof(last), "%s", m->fail_text[i]);
	pthread_mutex_unlock(&m->mu);
	char safe[200];
	util_term_escape(m->url, safe, sizeof(safe), false);
	if (source)
		snprintf(m->status, sizeof(m->status), "available: %s (metrics %s)", source, safe);
	else if (failed)
		snprintf(m->status, sizeof(m->status), "unavailable: metrics %s: %s", safe, last);
	if (!source || now - taken > METRICS_STALE_NS)
		return;
	s->heap_live = live;
	s->heap_held = held;
	s->heap_mmapped = s->heap_allocs = s->heap_frees = s->heap_live_peak = HR_UNKNOWN;
	s->alloc_active = active;
	s->alloc_resident = resident;
	s->alloc_retained = retained;
	s->alloc_metadata = metadata;
	int64_t at = taken - m->origin_ns;
	s->heap_t_ns = at < s->t_ns ? at : s->t_ns;
}

const char *metrics_poll_note(struct metrics_poll *m, char *buf, size_t len)
{
	if (!m->started)
		return NULL;
	pthread_mutex_lock(&m->mu);
	const char *source = m->source;
	unsigned fresh = m->failed & ~m->noted;
	char text[200] = "";
	if (fresh) {
		int bit = fail_bit(fresh);
		m->noted |= 1u << bit;
		snprintf(text, sizeof(text), "%s", m->fail_text[bit]);
	}
	pthread_mutex_unlock(&m->mu);
	char safe[200];
	util_term_escape(m->url, safe, sizeof(safe), false);
	if (source && !m->noted_available) {
		m->noted_available = true;
		snprintf(buf, len, "heap: from the metrics of %s (%s)", safe, source);
		return buf;
	}
	if (!*text)
		return NULL;
	snprintf(buf, len, "metrics %s: %s; the recording goes on%s", safe, text,
		 source ? "" : " without a heap from it");
	return buf;
}

void metrics_poll_stop(struct metrics_poll *m)
{
	if (!m->started)
		return;
	ssize_t w;
	do
		w = write(m->stop_pipe[1], "x", 1);
	while (w < 0 && errno == EINTR);
	pthread_join(m->thread, NULL);
	pthread_mutex_destroy(&m->mu);
	close(m->stop_pipe[0]);
	close(m->stop_pipe[1]);
	free(m->buf);
	free(m->target);
	m->buf = NULL;
	m->target = NULL;
	m->started = false;
}
