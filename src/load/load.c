/* load: the engine — workers with an epoll loop each, and the per-second coordinator (see load.h). */
#include "load.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"
#include "http_parse.h"
#include "util.h"

#define NS_PER_S 1000000000LL
#define NS_PER_MS 1000000LL
#define SCAN_NS (10 * NS_PER_MS)       /* connection targets, timeouts and retries are checked this often */
#define RBUF_SIZE (64 * 1024)
#define MAX_EVENTS 256
#define BACKOFF_MIN_NS (10 * NS_PER_MS)
#define BACKOFF_MAX_NS (1000 * NS_PER_MS)
#define PROBE_TIMEOUT_NS (3 * NS_PER_S)
#define FAIL_FAST_NS (1 * NS_PER_S)
/* Closed loop: poll before sleeping (see worker_wait). */
#define POLL_MAX_NS (50 * 1000LL)      /* never poll longer than this before sleeping */
#define POLL_GROW_NS (10 * 1000LL)     /* the first window after a short sleep */
#define POLL_GAP_NS (2 * 1000LL)       /* between two looks: keeps the extra system calls few */

enum { C_CLOSED, C_CONNECTING, C_WRITING, C_READING, C_IDLE };

struct req {
	char *buf;
	size_t len;
	bool head;
};

struct conn {
	int fd;
	int state;
	int idx;                  /* position in the worker's pool: active while idx < target */
	int heap_pos;             /* in the open-loop wait heap, -1 when not */
	int64_t t_start;          /* latency origin: the send (closed loop) or the intended send (open) */
	int64_t deadline;
	int64_t next_due;         /* open loop: intended time of the next request */
	int64_t retry_at;
	int64_t backoff_ns;
	size_t woff;
	const struct req *req;
	uint32_t nreq;
	bool scheduled;           /* open loop: next_due is set */
	struct http_parser p;
};

struct run;

struct worker {
	struct run *run;
	int id;
	pthread_t th;
	int ep;
	struct conn *conns;
	int nconns;
	int target;
	bool dirty;
	struct conn **heap;
	int nheap;
	char *rbuf;
	int64_t poll_ns;          /* closed loop: how long to poll before sleeping, 0..POLL_MAX_NS */
	/* the current second, flipped by the coordinator under lock */
	pthread_mutex_t lock;
	struct hist *sec[2];
	int cur;
	int64_t sec_requests, sec_errors, sec_failed;   /* responses, errors of any kind, failed attempts */
	atomic_llong inflight;
	/* totals, read after join */
	struct hist total;
	int64_t requests, status_class[6], errors[LOAD_ERR_KINDS], bytes, connects, unfinished;
	int first_error, first_error_kind;
	int64_t first_error_t;
};

struct run {
	const struct load_config *c;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct req *reqs;
	int nreqs;
	int nthreads;
	int maxconn;
	int64_t start, end;
	int64_t interval_ns;      /* open loop, per connection; 0 = closed loop */
	atomic_int stop;
	atomic_llong sent;
	atomic_int capped;
	struct worker *w;
};

static int64_t now_ns(void)
{
	return util_now_ns();
}

const char *load_error_name(int kind)
{
	static const char *const names[] = {"connect", "timeout", "reset", "4xx", "5xx", "parse", "other"};
	return kind >= 0 && kind < LOAD_ERR_KINDS ? names[kind] : "?";
}

double load_error_rate(const struct load_result *r)
{
	return r->attempts > 0 ? (double)r->errors_total / (double)r->attempts : 0.0;
}

/* ---- the open-loop wait heap, ordered by next_due ---- */

static void heap_swap(struct worker *w, int a, int b)
{
	struct conn *t = w->heap[a];
	w->heap[a] = w->heap[b];
	w->heap[b] = t;
	w->heap[a]->heap_pos = a;
	w->heap[b]->heap_pos = b;
}

static void heap_up(struct worker *w, int i)
{
	while (i > 0) {
		int parent = (i - 1) / 2;
		if (w->heap[parent]->next_due <= w->heap[i]->next_due)
			break;
		heap_swap(w, i, parent);
		i = parent;
	}
}

static void heap_down(struct worker *w, int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		if (l < w->nheap && w->heap[l]->next_due < w->heap[m]->next_due)
			m = l;
		if (r < w->nheap && w->heap[r]->next_due < w->heap[m]->next_due)
			m = r;
		if (m == i)
			break;
		heap_swap(w, i, m);
		i = m;
	}
}

static void heap_push(struct worker *w, struct conn *c)
{
	c->heap_pos = w->nheap;
	w->heap[w->nheap++] = c;
	heap_up(w, c->heap_pos);
}

static void heap_remove(struct worker *w, struct conn *c)
{
	int i = c->heap_pos;
	if (i < 0)
		return;
	c->heap_pos = -1;
	w->nheap--;
	if (i == w->nheap)
		return;
	w->heap[i] = w->heap[w->nheap];
	w->heap[i]->heap_pos = i;
	heap_up(w, i);
	heap_down(w, w->heap[i]->heap_pos);
}

/* ---- accounting ---- */

static void note_error(struct worker *w, int kind, int err)
{
	w->errors[kind]++;
	if (w->first_error_kind < 0) {
		w->first_error_kind = kind;
		w->first_error = err;
		w->first_error_t = now_ns();
	}
	pthread_mutex_lock(&w->lock);
	w->sec_errors++;
	w->sec_failed++;
	pthread_mutex_unlock(&w->lock);
}

static void note_response(struct worker *w, int status, int64_t latency_ns)
{
	uint64_t lat = latency_ns > 0 ? (uint64_t)latency_ns : 0;
	int cls = status / 100;
	w->requests++;
	bool known = cls >= 1 && cls <= 5;
	w->status_class[known ? cls : 0]++;
	hist_add(&w->total, lat);
	bool err = cls == 4 || cls == 5 || !known;
	if (err) {
		int kind = cls == 4 ? LOAD_ERR_4XX : cls == 5 ? LOAD_ERR_5XX : LOAD_ERR_OTHER;
		w->errors[kind]++;
		if (w->first_error_kind < 0) {
			w->first_error_kind = kind;
			w->first_error = -EPROTO;
			w->first_error_t = now_ns();
		}
	}
	pthread_mutex_lock(&w->lock);
	hist_add(w->sec[w->cur], lat);
	w->sec_requests++;
	if (err)
		w->sec_errors++;
	pthread_mutex_unlock(&w->lock);
}

/* ---- connections ---- */

static void conn_close(struct worker *w, struct conn *c, int64_t now)
{
	heap_remove(w, c);
	if (c->fd >= 0) {
		epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	if (c->state == C_WRITING || c->state == C_READING)
		atomic_fetch_sub_explicit(&w->inflight, 1, memory_order_relaxed);
	c->state = C_CLOSED;
	c->retry_at = now;
	w->dirty = true;
}

static void conn_error(struct worker *w, struct conn *c, int kind, int err, int64_t now)
{
	note_error(w, kind, err);
	conn_close(w, c, now);
	if (kind == LOAD_ERR_CONNECT) {
		/* a refused port must not turn into a busy loop */
		c->backoff_ns = c->backoff_ns ? c->backoff_ns * 2 : BACKOFF_MIN_NS;
		if (c->backoff_ns > BACKOFF_MAX_NS)
			c->backoff_ns = BACKOFF_MAX_NS;
		c->retry_at = now + c->backoff_ns;
	}
}

static int set_events(struct worker *w, struct conn *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};
	return epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_send(struct worker *w, struct conn *c, int64_t now);

/* Connected and idle: send now, or wait for the schedule. */
static void conn_next(struct worker *w, struct conn *c, int64_t now)
{
	struct run *r = w->run;
	if (r->interval_ns > 0) {
		if (c->next_due > now) {
			c->state = C_IDLE;
			heap_push(w, c);
			return;
		}
	}
	conn_send(w, c, now);
}

static void conn_write(struct worker *w, struct conn *c, int64_t now)
{
	const struct req *q = c->req;
	while (c->woff < q->len) {
		ssize_t n = send(c->fd, q->buf + c->woff, q->len - c->woff, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				if (c->state != C_WRITING) {
					c->state = C_WRITING;
					set_events(w, c, EPOLLIN | EPOLLOUT);
				}
				return;
			}
			conn_error(w, c, LOAD_ERR_RESET, -errno, now);
			return;
		}
		c->woff += (size_t)n;
	}
	if (c->state == C_WRITING)
		set_events(w, c, EPOLLIN);
	c->state = C_READING;
}

static void conn_send(struct worker *w, struct conn *c, int64_t now)
{
	struct run *r = w->run;
	if (atomic_load_explicit(&r->capped, memory_order_relaxed) ||
	    atomic_fetch_add_explicit(&r->sent, 1, memory_order_relaxed) >= r->c->max_requests) {
		atomic_store(&r->capped, 1);
		c->state = C_IDLE;
		return;
	}
	c->req = &r->reqs[c->nreq++ % (uint32_t)r->nreqs];
	now = now_ns();   /* the batch's timestamp may be stale by the time this send happens */
	if (r->interval_ns > 0) {
		c->t_start = c->next_due;
		c->next_due += r->interval_ns;
	} else {
		c->t_start = now;
	}
	c->deadline = now + r->c->timeout_ns;
	c->woff = 0;
	http_parse_init(&c->p, c->req->head);
	atomic_fetch_add_explicit(&w->inflight, 1, memory_order_relaxed);
	c->state = C_READING;   /* conn_write switches to C_WRITING (and EPOLLOUT) only if it must wait */
	conn_write(w, c, now);
}

static void conn_ready(struct worker *w, struct conn *c, int64_t now)
{
	struct run *r = w->run;
	c->backoff_ns = 0;
	if (r->interval_ns > 0 && !c->scheduled) {
		/* spread the connections' phases over one interval (golden-ratio sequence) */
		double frac = (double)c->idx * 0.6180339887498949;
		frac -= (double)(int64_t)frac;
		c->next_due = now + (int64_t)(frac * (double)r->interval_ns);
		c->scheduled = true;
	}
	conn_next(w, c, now);
}

/* After a non-blocking connect() that said EINPROGRESS: on loopback the handshake has almost
 * always completed inside the call (the SYN, SYN-ACK and ACK are processed before it returns).
 * One getsockopt tells, and saves waiting for EPOLLOUT, reading SO_ERROR and switching the
 * events back to EPOLLIN: three system calls and a trip through epoll per connection, which is
 * what a `Connection: close` load spends its time on (perf and strace -c, bench/load-vs-wrk.sh). */
static bool conn_established(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && len >= 1 && ti.tcpi_state == TCP_ESTABLISHED;
}

static void conn_open(struct worker *w, struct conn *c, int64_t now)
{
	struct run *r = w->run;
	int fd = socket(r->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		conn_error(w, c, LOAD_ERR_CONNECT, -errno, now);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	w->connects++;
	c->fd = fd;
	c->deadline = now + r->c->timeout_ns;
	int rc = connect(fd, (struct sockaddr *)&r->addr, r->addrlen);
	if (rc < 0 && errno != EINPROGRESS) {
		int err = -errno;
		close(fd);
		c->fd = -1;
		conn_error(w, c, LOAD_ERR_CONNECT, err, now);
		return;
	}
	if (rc < 0 && conn_established(fd))
		rc = 0;
	struct epoll_event ev = {.events = rc == 0 ? EPOLLIN : EPOLLIN | EPOLLOUT, .data.ptr = c};
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;
		close(fd);
		c->fd = -1;
		conn_error(w, c, LOAD_ERR_CONNECT, err, now);
		return;
	}
	if (rc == 0) {
		conn_ready(w, c, now);
	} else {
		c->state = C_CONNECTING;
	}
}

static void conn_done(struct worker *w, struct conn *c, int64_t now)
{
	bool writing = c->state == C_WRITING;
	now = now_ns();
	note_response(w, c->p.status, now - c->t_start);
	atomic_fetch_sub_explicit(&w->inflight, 1, memory_order_relaxed);
	c->state = C_IDLE;
	if (!c->p.keep_alive || writing || c->idx >= w->target) {
		conn_close(w, c, now);
		/* the server closes after every response (Connection: close): the next connection
		 * goes out now, not at the next scan of the pool */
		if (!writing && c->idx < w->target && !atomic_load_explicit(&w->run->capped, memory_order_relaxed))
			conn_open(w, c, now);
		return;
	}
	conn_next(w, c, now);
}

static void conn_read(struct worker *w, struct conn *c, int64_t now)
{
	for (;;) {
		ssize_t n = recv(c->fd, w->rbuf, RBUF_SIZE, 0);
		if (n > 0) {
			w->bytes += n;
			if (c->state == C_IDLE || c->state == C_CONNECTING) {
				/* bytes nobody asked for */
				conn_error(w, c, LOAD_ERR_PARSE, -EBADMSG, now);
				return;
			}
			ssize_t used = http_parse_feed(&c->p, w->rbuf, (size_t)n);
			if (used < 0) {
				conn_error(w, c, LOAD_ERR_PARSE, (int)used, now);
				return;
			}
			if (http_parse_done(&c->p)) {
				if (used < n) {   /* more than one response to one request */
					conn_error(w, c, LOAD_ERR_PARSE, -EBADMSG, now);
					return;
				}
				conn_done(w, c, now);
				return;
			}
			if (n < RBUF_SIZE)
				return;
			continue;
		}
		if (n == 0) {
			if (c->state == C_IDLE) {   /* the server closed an idle keep-alive connection */
				conn_close(w, c, now);
				return;
			}
			if (http_parse_eof(&c->p) == 0) {
				conn_done(w, c, now);
				return;
			}
			conn_error(w, c, LOAD_ERR_RESET, -ECONNRESET, now);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return;
		if (c->state == C_IDLE) {
			conn_close(w, c, now);
			return;
		}
		conn_error(w, c, LOAD_ERR_RESET, -errno, now);
		return;
	}
}

static void conn_event(struct worker *w, struct conn *c, uint32_t events, int64_t now)
{
	if (c->state == C_CONNECTING) {
		/* a failed connect reports EPOLLERR or EPOLLHUP: only then is SO_ERROR worth a call */
		if (events & (EPOLLERR | EPOLLHUP)) {
			int err = 0;
			socklen_t len = sizeof(err);
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				err = errno;
			conn_error(w, c, LOAD_ERR_CONNECT, err ? -err : -ECONNRESET, now);
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		set_events(w, c, EPOLLIN);
		conn_ready(w, c, now);
		return;
	}
	if (c->state == C_WRITING && (events & EPOLLOUT)) {
		conn_write(w, c, now);
		if (c->state == C_CLOSED)
			return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
		if (c->state != C_CLOSED)
			conn_read(w, c, now);
}

static int share_of(const struct run *r, int id, int total)
{
	return total / r->nthreads + (id < total % r->nthreads ? 1 : 0);
}

/* Opens and closes connections to follow the stage target; fires timeouts and retries. */
static void worker_adjust(struct worker *w, int64_t now)
{
	struct run *r = w->run;
	bool capped = atomic_load_explicit(&r->capped, memory_order_relaxed);
	for (int i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];
		bool active = i < w->target;
		switch (c->state) {
		case C_CLOSED:
			if (active && !capped && now >= c->retry_at)
				conn_open(w, c, now);
			if (!active)
				c->scheduled = false;
			break;
		case C_CONNECTING:
			if (!active)
				conn_close(w, c, now);
			else if (now >= c->deadline)
				conn_error(w, c, LOAD_ERR_TIMEOUT, -ETIMEDOUT, now);
			break;
		case C_WRITING:
		case C_READING:
			/* a retired connection finishes its request first */
			if (now >= c->deadline)
				conn_error(w, c, LOAD_ERR_TIMEOUT, -ETIMEDOUT, now);
			break;
		case C_IDLE:
			if (!active) {
				conn_close(w, c, now);
				c->scheduled = false;
			} else if (c->heap_pos < 0 && !capped) {
				conn_next(w, c, now);
			}
			break;
		}
	}
}

static int wait_events(struct worker *w, struct epoll_event *ev, int64_t timeout_ns)
{
	static atomic_int no_pwait2;
	if (timeout_ns < 0)
		timeout_ns = 0;
	if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
		/* nanosecond timeouts keep open-loop sends on time (a millisecond would bias latency) */
		struct timespec ts = {.tv_sec = timeout_ns / NS_PER_S, .tv_nsec = timeout_ns % NS_PER_S};
		int n = epoll_pwait2(w->ep, ev, MAX_EVENTS, &ts, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		atomic_store(&no_pwait2, 1);
	}
	return epoll_wait(w->ep, ev, MAX_EVENTS, (int)((timeout_ns + NS_PER_MS - 1) / NS_PER_MS));
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Waits for events until `wake`. In the closed loop with requests in flight, it first looks again
 * for up to poll_ns (without sleeping), because on a busy server the next response is a few
 * microseconds away: each time the generator sleeps, the server's send that wakes it pays for the
 * wake-up (an inter-processor interrupt, ~13 µs of the server's CPU in a VM, measured with perf
 * stat on nginx), and the server is what a closed loop is limited by. The window adapts like the
 * kernel's halt-polling: a sleep that ended within POLL_MAX_NS grows it (polling would have paid),
 * a poll that found nothing shrinks it, so a slow server is not polled for nothing. */
static int worker_wait(struct worker *w, struct epoll_event *ev, int64_t now, int64_t wake)
{
	if (wake <= now || w->run->interval_ns > 0 ||
	    atomic_load_explicit(&w->inflight, memory_order_relaxed) == 0)
		return wait_events(w, ev, wake - now);
	if (w->poll_ns > 0) {
		int64_t until = now + w->poll_ns;
		if (until > wake)
			until = wake;
		for (;;) {
			int n = epoll_wait(w->ep, ev, MAX_EVENTS, 0);
			if (n != 0)
				return n;
			int64_t t = now_ns();
			if (t >= until)
				break;
			int64_t next = t + POLL_GAP_NS;
			while ((t = now_ns()) < next && t < until)
				cpu_relax();
		}
		w->poll_ns /= 2;
		if (w->poll_ns < POLL_GROW_NS / 2)
			w->poll_ns = 0;
		now = now_ns();
		if (wake <= now)
			return 0;
	}
	int n = wait_events(w, ev, wake - now);
	if (n > 0 && now_ns() - now < POLL_MAX_NS) {
		w->poll_ns = w->poll_ns ? w->poll_ns * 2 : POLL_GROW_NS;
		if (w->poll_ns > POLL_MAX_NS)
			w->poll_ns = POLL_MAX_NS;
	}
	return n;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	struct epoll_event ev[MAX_EVENTS];
	int64_t next_scan = 0;
	for (;;) {
		int64_t now = now_ns();
		if (atomic_load_explicit(&r->stop, memory_order_relaxed) || now >= r->end)
			break;
		if (atomic_load_explicit(&r->capped, memory_order_relaxed) &&
		    atomic_load_explicit(&w->inflight, memory_order_relaxed) == 0)
			break;
		int total = load_stages_at(r->c->stages, r->c->nstages, now - r->start, NULL);
		int target = share_of(r, w->id, total);
		if (target != w->target || w->dirty || now >= next_scan) {
			w->target = target;
			w->dirty = false;
			worker_adjust(w, now);
			next_scan = now + SCAN_NS;
		}
		while (w->nheap > 0 && w->heap[0]->next_due <= now) {
			struct conn *c = w->heap[0];
			heap_remove(w, c);
			conn_send(w, c, now);
		}
		int64_t wake = next_scan < r->end ? next_scan : r->end;
		if (w->nheap > 0 && w->heap[0]->next_due < wake)
			wake = w->heap[0]->next_due;
		if (w->dirty)
			wake = now;
		int n = worker_wait(w, ev, now, wake);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		now = now_ns();
		for (int i = 0; i < n; i++)
			conn_event(w, ev[i].data.ptr, ev[i].events, now);
	}
	for (int i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];
		if (c->state == C_WRITING || c->state == C_READING)
			w->unfinished++;
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
	}
	atomic_store(&w->inflight, 0);
	return NULL;
}

/* ---- setup ---- */

static bool header_named(const char *h, const char *name)
{
	size_t n = strlen(name);
	return strncasecmp(h, name, n) == 0 && h[n] == ':';
}

static bool text_clean(const char *s)
{
	for (; *s; s++)
		if (*s == '\r' || *s == '\n')
			return false;
	return true;
}

static int build_request(const struct load_config *c, const char *path, struct req *q)
{
	const char *method = c->method && *c->method ? c->method : "GET";
	bool host = false, length = false;
	size_t cap = strlen(method) + strlen(path) + strlen(c->host) + 128 + c->body_len;
	for (int i = 0; i < c->nheaders; i++) {
		cap += strlen(c->headers[i]) + 2;
		host |= header_named(c->headers[i], "host");
		length |= header_named(c->headers[i], "content-length");
	}
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	size_t n = 0;
	n += (size_t)snprintf(buf + n, cap - n, "%s %s HTTP/1.1\r\n", method, path);
	if (!host)
		n += (size_t)snprintf(buf + n, cap - n, "Host: %s\r\n", c->host);
	n += (size_t)snprintf(buf + n, cap - n, "User-Agent: headroom/%s\r\n", HEADROOM_VERSION);
	for (int i = 0; i < c->nheaders; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s\r\n", c->headers[i]);
	if (c->body && !length)
		n += (size_t)snprintf(buf + n, cap - n, "Content-Length: %zu\r\n", c->body_len);
	n += (size_t)snprintf(buf + n, cap - n, "\r\n");
	if (c->body && c->body_len) {
		memcpy(buf + n, c->body, c->body_len);
		n += c->body_len;
	}
	q->buf = buf;
	q->len = n;
	q->head = strcasecmp(method, "HEAD") == 0;
	return 0;
}

static int config_check(const struct load_config *c)
{
	if (c->naddr <= 0 || c->nstages <= 0 || c->nstages > LOAD_STAGES_MAX || c->timeout_ns <= 0 ||
	    c->max_requests <= 0 || c->rate < 0 || c->npaths < 0 || c->npaths > LOAD_PATHS_MAX ||
	    c->nheaders < 0 || c->nheaders > LOAD_HEADERS_MAX || c->threads < 0)
		return -EINVAL;
	for (int i = 0; i < c->nstages; i++)
		if (c->stages[i].duration_ns <= 0 || c->stages[i].connections < 0 ||
		    c->stages[i].connections > LOAD_CONN_MAX)
			return -EINVAL;
	if (load_stages_max_connections(c->stages, c->nstages) == 0 || load_stages_duration(c->stages, c->nstages) <= 0)
		return -EINVAL;
	if (c->method) {
		if (!*c->method)
			return -EINVAL;
		for (const char *m = c->method; *m; m++)
			if ((unsigned char)*m <= ' ' || *m == 0x7f)
				return -EINVAL;
	}
	for (int i = 0; i < c->npaths; i++) {
		const char *p = c->paths[i];
		if (!p || (p[0] != '/' && strcmp(p, "*") != 0))
			return -EINVAL;
		for (; *p; p++)
			if ((unsigned char)*p <= ' ' || *p == 0x7f)
				return -EINVAL;
	}
	for (int i = 0; i < c->nheaders; i++)
		if (!c->headers[i] || !strchr(c->headers[i], ':') || c->headers[i][0] == ':' ||
		    !text_clean(c->headers[i]))
			return -EINVAL;
	if (c->body_len && !c->body)
		return -EINVAL;
	return 0;
}

/* One blocking connect to each address in turn; keeps the first that answers. */
static int probe_target(const struct load_config *c, struct run *r)
{
	int err = -ECONNREFUSED;
	int64_t budget = c->timeout_ns < PROBE_TIMEOUT_NS ? c->timeout_ns : PROBE_TIMEOUT_NS;
	for (int i = 0; i < c->naddr; i++) {
		int fd = socket(c->addr[i].ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		int rc = connect(fd, (const struct sockaddr *)&c->addr[i], c->addrlen[i]);
		if (rc < 0 && errno == EINPROGRESS) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			rc = poll(&pfd, 1, (int)(budget / NS_PER_MS));
			if (rc == 0) {
				err = -ETIMEDOUT;
				close(fd);
				continue;
			}
			int soerr = 0;
			socklen_t len = sizeof(soerr);
			if (rc > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0)
				rc = 0;
			else {
				errno = rc > 0 && soerr ? soerr : errno;
				rc = -1;
			}
		}
		if (rc == 0) {
			close(fd);
			memcpy(&r->addr, &c->addr[i], c->addrlen[i]);
			r->addrlen = c->addrlen[i];
			return 0;
		}
		err = -errno;
		close(fd);
	}
	return err;
}

static void run_free(struct run *r)
{
	if (r->w) {
		for (int i = 0; i < r->nthreads; i++) {
			struct worker *w = &r->w[i];
			if (!w->run)
				continue;
			if (w->ep >= 0)
				close(w->ep);
			free(w->conns);
			free(w->heap);
			free(w->rbuf);
			free(w->sec[0]);
			free(w->sec[1]);
			pthread_mutex_destroy(&w->lock);
		}
		free(r->w);
	}
	if (r->reqs)
		for (int i = 0; i < r->nreqs; i++)
			free(r->reqs[i].buf);
	free(r->reqs);
}

static int worker_init(struct run *r, struct worker *w, int id, int nconns)
{
	w->run = r;
	w->id = id;
	w->first_error_kind = -1;
	w->ep = -1;
	pthread_mutex_init(&w->lock, NULL);
	atomic_init(&w->inflight, 0);
	hist_reset(&w->total);
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	if (w->ep < 0)
		return -errno;
	w->nconns = nconns;
	w->conns = calloc((size_t)nconns, sizeof(*w->conns));
	w->heap = calloc((size_t)nconns, sizeof(*w->heap));
	w->rbuf = malloc(RBUF_SIZE);
	w->sec[0] = malloc(sizeof(struct hist));
	w->sec[1] = malloc(sizeof(struct hist));
	if (!w->conns || !w->heap || !w->rbuf || !w->sec[0] || !w->sec[1])
		return -ENOMEM;
	hist_reset(w->sec[0]);
	hist_reset(w->sec[1]);
	for (int i = 0; i < nconns; i++) {
		w->conns[i].fd = -1;
		w->conns[i].idx = i;
		w->conns[i].heap_pos = -1;
		/* spread the path rotation over the pool's global position */
		w->conns[i].nreq = (uint32_t)(i * r->nthreads + id);
	}
	return 0;
}

static int64_t us_up(uint64_t ns)
{
	return (int64_t)((ns + 999) / 1000);
}

/* Collects the second that just ended from every worker into a row. */
static int64_t collect_row(struct run *r, struct hist *tmp, int64_t now, int64_t t0, int stage,
			   struct load_row *row)
{
	hist_reset(tmp);
	int64_t requests = 0, errors = 0, inflight = 0, failed = 0;
	for (int i = 0; i < r->nthreads; i++) {
		struct worker *w = &r->w[i];
		pthread_mutex_lock(&w->lock);
		int old = w->cur;
		w->cur ^= 1;
		requests += w->sec_requests;
		errors += w->sec_errors;
		failed += w->sec_failed;
		w->sec_requests = w->sec_errors = w->sec_failed = 0;
		pthread_mutex_unlock(&w->lock);
		/* the worker now writes the other histogram: this one is ours until the next flip */
		hist_merge(tmp, w->sec[old]);
		hist_reset(w->sec[old]);
		inflight += atomic_load_explicit(&w->inflight, memory_order_relaxed);
	}
	row->t_ns = now - t0;
	row->stage = stage;
	row->connections = load_stages_at(r->c->stages, r->c->nstages, now - r->start, NULL);
	row->requests = requests + failed;   /* attempts: so errors <= requests in every row */
	row->inflight = inflight;
	row->errors = errors;
	row->p50_us = us_up(hist_quantile(tmp, 0.50));
	row->p99_us = us_up(hist_quantile(tmp, 0.99));
	row->max_us = us_up(tmp->max);
	return requests;
}

static void sleep_until(int64_t t)
{
	struct timespec ts = {.tv_sec = t / NS_PER_S, .tv_nsec = t % NS_PER_S};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

int load_run(const struct load_config *c, volatile int *stop,
	     void (*on_second)(void *ctx, const struct load_row *row),
	     void (*on_stage)(void *ctx, int index, const struct load_stage *st),
	     void *ctx, struct load_result *ret)
{
	int rc = config_check(c);
	if (rc < 0)
		return rc;
	struct run run;
	memset(&run, 0, sizeof(run));
	struct run *r = &run;
	r->c = c;
	r->maxconn = load_stages_max_connections(c->stages, c->nstages);
	r->nthreads = c->threads > 0 ? c->threads : 1;
	if (r->nthreads > LOAD_THREADS_MAX)
		r->nthreads = LOAD_THREADS_MAX;
	if (r->nthreads > r->maxconn)
		r->nthreads = r->maxconn;
	rc = load_check_nofile(r->maxconn, r->nthreads, NULL);
	if (rc < 0)
		return rc;
	rc = probe_target(c, r);
	if (rc < 0)
		return rc;
	if (c->rate > 0) {
		double iv = (double)r->maxconn * 1e9 / c->rate;
		r->interval_ns = iv < 1.0 ? 1 : (int64_t)iv;
	}
	r->nreqs = c->npaths > 0 ? c->npaths : 1;
	r->reqs = calloc((size_t)r->nreqs, sizeof(*r->reqs));
	r->w = calloc((size_t)r->nthreads, sizeof(*r->w));
	if (!r->reqs || !r->w) {
		rc = -ENOMEM;
		goto out_free;
	}
	for (int i = 0; i < r->nreqs; i++) {
		rc = build_request(c, c->npaths > 0 ? c->paths[i] : c->path, &r->reqs[i]);
		if (rc < 0)
			goto out_free;
	}
	for (int i = 0; i < r->nthreads; i++) {
		rc = worker_init(r, &r->w[i], i, share_of(r, i, r->maxconn));
		if (rc < 0)
			goto out_free;
	}
	atomic_init(&r->stop, 0);
	atomic_init(&r->sent, 0);
	atomic_init(&r->capped, 0);
	struct hist *tmp = malloc(sizeof(*tmp));
	if (!tmp) {
		rc = -ENOMEM;
		goto out_free;
	}
	r->start = now_ns();
	r->end = r->start + load_stages_duration(c->stages, c->nstages);
	int64_t t0 = c->t0_ns ? c->t0_ns : r->start;
	int started = 0;
	for (; started < r->nthreads; started++) {
		rc = -pthread_create(&r->w[started].th, NULL, worker_main, &r->w[started]);
		if (rc < 0)
			break;
	}
	struct load_result res;
	memset(&res, 0, sizeof(res));
	res.first_error_kind = -1;
	if (started == r->nthreads) {
		rc = 0;
		int stage = 0;
		if (on_stage)
			on_stage(ctx, 0, &c->stages[0]);
		int64_t next_tick = r->start + NS_PER_S, last_tick = r->start;
		int64_t cum_requests = 0, cum_errors = 0;
		struct load_row row;
		for (;;) {
			int64_t now = now_ns();
			if (stop && *stop) {
				res.stopped = true;
				break;
			}
			if (now >= r->end)
				break;
			int s;
			load_stages_at(c->stages, c->nstages, now - r->start, &s);
			while (stage < s && stage + 1 < c->nstages) {
				stage++;
				if (on_stage)
					on_stage(ctx, stage, &c->stages[stage]);
			}
			if (now >= next_tick) {
				cum_requests += collect_row(r, tmp, now, t0, stage, &row);   /* responses */
				cum_errors += row.errors;
				if (on_second)
					on_second(ctx, &row);
				last_tick = now;
				next_tick += NS_PER_S;
				if (next_tick <= now)
					next_tick = now + NS_PER_S;
				if (c->fail_fast && cum_requests == 0 && cum_errors > 0 && now - r->start >= FAIL_FAST_NS) {
					res.aborted = true;
					break;
				}
			}
			if (atomic_load(&r->capped)) {
				int64_t inflight = 0;
				for (int i = 0; i < r->nthreads; i++)
					inflight += atomic_load(&r->w[i].inflight);
				if (inflight == 0) {
					res.capped = true;
					break;
				}
			}
			/* wake for the next second, the next stage boundary, or to look at *stop */
			int64_t wake = next_tick;
			int64_t boundary = r->start;
			for (int i = 0; i <= stage && i < c->nstages; i++)
				boundary += c->stages[i].duration_ns;
			if (boundary < wake)
				wake = boundary;
			if (r->end < wake)
				wake = r->end;
			if (now + 20 * NS_PER_MS < wake)
				wake = now + 20 * NS_PER_MS;
			sleep_until(wake);
		}
		atomic_store(&r->stop, 1);
		for (int i = 0; i < started; i++)
			pthread_join(r->w[i].th, NULL);
		int64_t end = now_ns();
		if (atomic_load(&r->capped))
			res.capped = true;
		if (end - last_tick >= NS_PER_MS && on_second) {
			collect_row(r, tmp, end, t0, stage, &row);
			on_second(ctx, &row);
		}
		hist_reset(tmp);
		int64_t first_t = INT64_MAX;
		for (int i = 0; i < r->nthreads; i++) {
			struct worker *w = &r->w[i];
			hist_merge(tmp, &w->total);
			res.requests += w->requests;
			res.attempts += w->requests;
			for (int k = LOAD_ERR_CONNECT; k <= LOAD_ERR_RESET; k++)
				res.attempts += w->errors[k];
			res.attempts += w->errors[LOAD_ERR_PARSE];
			for (int k = 0; k < 6; k++)
				res.status_class[k] += w->status_class[k];
			for (int k = 0; k < LOAD_ERR_KINDS; k++) {
				res.errors[k] += w->errors[k];
				res.errors_total += w->errors[k];
			}
			res.unfinished += w->unfinished;
			res.bytes_read += w->bytes;
			res.connects += w->connects;
			if (w->first_error_kind >= 0 && w->first_error_t < first_t) {
				first_t = w->first_error_t;
				res.first_error = w->first_error;
				res.first_error_kind = w->first_error_kind;
			}
		}
		int64_t sent = atomic_load(&r->sent);
		res.sent = sent < c->max_requests ? sent : c->max_requests;
		res.duration_ns = end - r->start;
		res.rps = res.duration_ns > 0 ? (double)res.requests * 1e9 / (double)res.duration_ns : 0.0;
		res.p50_us = us_up(hist_quantile(tmp, 0.50));
		res.p90_us = us_up(hist_quantile(tmp, 0.90));
		res.p99_us = us_up(hist_quantile(tmp, 0.99));
		res.p999_us = us_up(hist_quantile(tmp, 0.999));
		res.max_us = us_up(tmp->max);
		res.mean_us = tmp->count ? us_up(tmp->sum / tmp->count) : 0;
		res.max_connections = r->maxconn;
		res.threads = r->nthreads;
		if (res.aborted)
			rc = res.first_error_kind == LOAD_ERR_PARSE ? -EPROTO : res.first_error ? res.first_error : -EIO;
		if (ret)
			*ret = res;
	} else {
		atomic_store(&r->stop, 1);
		for (int i = 0; i < started; i++)
			pthread_join(r->w[i].th, NULL);
	}
	free(tmp);
out_free:
	run_free(r);
	return rc;
}
