/* load: the configuration half — URL, stages, profiles, descriptor limits (see load.h). */
#include "load.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "util.h"

#define NS_PER_S 1000000000LL

const char load_stages_form[] =
	"DUR:N[,DUR:N...] with DUR > 0 such as 500ms, 10s, 2m and N connections (0..100000), "
	"~N to ramp linearly to N, e.g. 10s:50,5s:400,30s:~200";

const char *const load_profile_names[] = {"steady", "burst", "ramp", "soak", NULL};

void load_config_init(struct load_config *c)
{
	memset(c, 0, sizeof(*c));
	c->threads = 1;
	c->timeout_ns = LOAD_DEFAULT_TIMEOUT_NS;
	c->max_requests = LOAD_DEFAULT_MAX_REQUESTS;
	snprintf(c->path, sizeof(c->path), "/");
}

static bool v4_loopback(const struct in_addr *a)
{
	return (ntohl(a->s_addr) >> 24) == 127;
}

static bool v6_loopback(const struct in6_addr *a)
{
	if (IN6_IS_ADDR_LOOPBACK(a))
		return true;
	if (IN6_IS_ADDR_V4MAPPED(a)) {
		struct in_addr v4;
		memcpy(&v4, &a->s6_addr[12], 4);
		return v4_loopback(&v4);
	}
	return false;
}

static int add_addr(struct load_config *c, const struct sockaddr *sa, socklen_t len)
{
	if (c->naddr >= LOAD_ADDRS_MAX)
		return 0;
	memcpy(&c->addr[c->naddr], sa, len);
	c->addrlen[c->naddr] = len;
	c->naddr++;
	return 0;
}

int load_config_parse_url(struct load_config *c, const char *url)
{
	if (!url || !*url || strlen(url) >= sizeof(c->url))
		return -EINVAL;
	const char *sep = strstr(url, "://");
	if (!sep)
		return -EINVAL;
	size_t slen = (size_t)(sep - url);
	if (!(slen == 4 && strncasecmp(url, "http", 4) == 0))
		return -EPROTONOSUPPORT;
	const char *h = sep + 3;
	const char *hend;
	char host[256];
	size_t authority_len = strcspn(h, "/?#");
	if (memchr(h, '@', authority_len))
		return -EINVAL;   /* credentials in the URL: not for a load test */
	if (*h == '[') {
		hend = memchr(h, ']', authority_len);
		if (!hend)
			return -EINVAL;
		size_t n = (size_t)(hend - h - 1);
		if (n == 0 || n >= sizeof(host))
			return -EINVAL;
		memcpy(host, h + 1, n);
		host[n] = '\0';
		hend++;
	} else {
		hend = h + strcspn(h, ":/?#");
		size_t n = (size_t)(hend - h);
		if (n == 0 || n >= sizeof(host))
			return -EINVAL;
		memcpy(host, h, n);
		host[n] = '\0';
	}
	int port = 80;
	const char *p = hend;
	if (*p == ':') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		long v = 0;
		while (isdigit((unsigned char)*p)) {
			v = v * 10 + (*p - '0');
			if (v > 65535)
				return -EINVAL;
			p++;
		}
		if (v == 0)
			return -EINVAL;
		port = (int)v;
	}
	if (*p && *p != '/' && *p != '?' && *p != '#')
		return -EINVAL;
	char path[1024];
	size_t plen = strcspn(p, "#");
	if (plen + 2 >= sizeof(path))
		return -EINVAL;
	if (*p == '/')
		snprintf(path, sizeof(path), "%.*s", (int)plen, p);
	else
		snprintf(path, sizeof(path), "/%.*s", (int)plen, p);
	for (const char *q = path; *q; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return -EINVAL;

	struct load_config t = *c;
	t.naddr = 0;
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, host, &a4) == 1) {
		if (!v4_loopback(&a4))
			return -EADDRNOTAVAIL;
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = a4};
		add_addr(&t, (struct sockaddr *)&sin, sizeof(sin));
	} else if (inet_pton(AF_INET6, host, &a6) == 1) {
		if (!v6_loopback(&a6))
			return -EADDRNOTAVAIL;
		struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = a6};
		add_addr(&t, (struct sockaddr *)&sin6, sizeof(sin6));
	} else if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0) {
		struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
		struct addrinfo *res = NULL;
		char portbuf[8];
		snprintf(portbuf, sizeof(portbuf), "%d", port);
		if (getaddrinfo(host, portbuf, &hints, &res) != 0)
			return -ENOENT;
		for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
			/* only what really is loopback, whatever /etc/hosts says */
			if (ai->ai_family == AF_INET &&
			    v4_loopback(&((struct sockaddr_in *)ai->ai_addr)->sin_addr))
				add_addr(&t, ai->ai_addr, ai->ai_addrlen);
			else if (ai->ai_family == AF_INET6 &&
				 v6_loopback(&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr))
				add_addr(&t, ai->ai_addr, ai->ai_addrlen);
		}
		freeaddrinfo(res);
		if (t.naddr == 0)
			return -EADDRNOTAVAIL;
	} else {
		return -EADDRNOTAVAIL;
	}
	snprintf(t.url, sizeof(t.url), "%s", url);
	if (strchr(host, ':'))
		snprintf(t.host, sizeof(t.host), "[%.250s]", host);
	else
		snprintf(t.host, sizeof(t.host), "%s", host);
	if (port != 80) {
		size_t n = strlen(t.host);
		snprintf(t.host + n, sizeof(t.host) - n, ":%d", port);
	}
	t.port = port;
	snprintf(t.path, sizeof(t.path), "%s", path);
	*c = t;
	return 0;
}

/* One "DUR:N" or "DUR:~N". Returns 0, or -EINVAL with *why set. */
static int parse_stage(const char *s, size_t n, struct load_stage *st, const char **why)
{
	char tmp[64];
	if (n == 0) {
		*why = "empty stage";
		return -EINVAL;
	}
	if (n >= sizeof(tmp)) {
		*why = "stage too long";
		return -EINVAL;
	}
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	char *colon = strchr(tmp, ':');
	if (!colon) {
		*why = "missing ':' between duration and connections";
		return -EINVAL;
	}
	*colon = '\0';
	const char *d = tmp, *v = colon + 1;
	if (*d == '-') {
		*why = "negative duration";
		return -EINVAL;
	}
	int64_t ns;
	if (util_duration_parse(d, &ns) < 0) {
		*why = "duration does not parse";
		return -EINVAL;
	}
	if (ns <= 0) {
		*why = "zero duration";
		return -EINVAL;
	}
	bool ramp = false;
	if (*v == '~') {
		ramp = true;
		v++;
	}
	if (*v == '-') {
		*why = "negative connections";
		return -EINVAL;
	}
	uint64_t conns;
	const char *q = v;
	if (util_parse_u64(&q, &conns) < 0 || *q) {
		*why = "connections must be a whole number";
		return -EINVAL;
	}
	if (conns > LOAD_CONN_MAX) {
		*why = "more than 100000 connections";
		return -ERANGE;
	}
	st->duration_ns = ns;
	st->connections = (int)conns;
	st->ramp = ramp;
	return 0;
}

static int stages_parse(const char *spec, struct load_stage *ret, int max, int *ret_n, char *why_buf,
			size_t why_len)
{
	const char *why = NULL;
	if (!spec || !*spec) {
		if (why_buf)
			snprintf(why_buf, why_len, "empty stage list");
		return -EINVAL;
	}
	int n = 0;
	struct load_stage tmp[LOAD_STAGES_MAX];
	const char *s = spec;
	for (;;) {
		size_t len = strcspn(s, ",");
		if (n >= max || n >= LOAD_STAGES_MAX) {
			if (why_buf)
				snprintf(why_buf, why_len, "more than %d stages", max < LOAD_STAGES_MAX ? max : LOAD_STAGES_MAX);
			return -E2BIG;
		}
		int r = parse_stage(s, len, &tmp[n], &why);
		if (r < 0) {
			if (why_buf)
				snprintf(why_buf, why_len, "stage %d '%.*s': %s", n + 1, (int)(len > 40 ? 40 : len), s, why);
			return r;
		}
		n++;
		if (!s[len])
			break;
		s += len + 1;
	}
	if (load_stages_duration(tmp, n) <= 0) {
		if (why_buf)
			snprintf(why_buf, why_len, "total duration overflows");
		return -ERANGE;
	}
	memcpy(ret, tmp, sizeof(tmp[0]) * (size_t)n);
	*ret_n = n;
	return 0;
}

int load_stages_parse(const char *spec, struct load_stage *ret, int max, int *ret_n)
{
	return stages_parse(spec, ret, max, ret_n, NULL, 0);
}

void load_stages_explain(const char *spec, char *buf, size_t len)
{
	struct load_stage st[LOAD_STAGES_MAX];
	int n;
	char why[160] = "";
	if (stages_parse(spec, st, LOAD_STAGES_MAX, &n, why, sizeof(why)) == 0) {
		snprintf(buf, len, "'%s' is a valid stage list", spec);
		return;
	}
	snprintf(buf, len, "bad --stages '%.60s': %s; accepted: %s", spec ? spec : "", why, load_stages_form);
}

int load_profile_stages(const char *name, int connections, struct load_stage *ret, int max, int *ret_n)
{
	int c = connections > 0 ? connections : LOAD_DEFAULT_CONNECTIONS;
	if (c > LOAD_CONN_MAX / 8)
		return -ERANGE;
	struct load_stage st[4];
	int n;
	if (!name)
		return -EINVAL;
	if (strcmp(name, "steady") == 0) {
		/* warm up, then hold: the baseline a burst is judged against */
		st[0] = (struct load_stage){5 * NS_PER_S, c, true};
		st[1] = (struct load_stage){55 * NS_PER_S, c, false};
		n = 2;
	} else if (strcmp(name, "burst") == 0) {
		/* baseline, an abrupt 8x burst, then a long baseline to see whether memory comes back */
		st[0] = (struct load_stage){15 * NS_PER_S, c, false};
		st[1] = (struct load_stage){10 * NS_PER_S, 8 * c, false};
		st[2] = (struct load_stage){35 * NS_PER_S, c, false};
		n = 3;
	} else if (strcmp(name, "ramp") == 0) {
		/* up to 8x linearly, hold, and linearly back down: memory should follow both ways */
		st[0] = (struct load_stage){30 * NS_PER_S, 8 * c, true};
		st[1] = (struct load_stage){10 * NS_PER_S, 8 * c, false};
		st[2] = (struct load_stage){20 * NS_PER_S, c, true};
		n = 3;
	} else if (strcmp(name, "soak") == 0) {
		/* a long constant load: growth that a minute hides (leaks, caches) */
		st[0] = (struct load_stage){30 * NS_PER_S, c, true};
		st[1] = (struct load_stage){570 * NS_PER_S, c, false};
		n = 2;
	} else {
		return -EINVAL;
	}
	if (n > max)
		return -E2BIG;
	memcpy(ret, st, sizeof(st[0]) * (size_t)n);
	*ret_n = n;
	return 0;
}

int load_stages_from_spec(const char *spec, int connections, struct load_stage *ret, int max, int *ret_n)
{
	for (int i = 0; load_profile_names[i]; i++)
		if (spec && strcmp(spec, load_profile_names[i]) == 0)
			return load_profile_stages(spec, connections, ret, max, ret_n);
	return load_stages_parse(spec, ret, max, ret_n);
}

int64_t load_stages_duration(const struct load_stage *st, int n)
{
	int64_t total = 0;
	for (int i = 0; i < n; i++) {
		if (st[i].duration_ns > INT64_MAX / 2 - total)
			return -1;
		total += st[i].duration_ns;
	}
	return total;
}

int load_stages_max_connections(const struct load_stage *st, int n)
{
	int m = 0;
	for (int i = 0; i < n; i++)
		if (st[i].connections > m)
			m = st[i].connections;
	return m;
}

int load_stages_at(const struct load_stage *st, int n, int64_t t, int *ret_stage)
{
	int prev = 0;
	if (t < 0)
		t = 0;
	for (int i = 0; i < n; i++) {
		if (t < st[i].duration_ns) {
			if (ret_stage)
				*ret_stage = i;
			if (!st[i].ramp)
				return st[i].connections;
			double f = (double)t / (double)st[i].duration_ns;
			return prev + (int)lround((double)(st[i].connections - prev) * f);
		}
		t -= st[i].duration_ns;
		prev = st[i].connections;
	}
	if (ret_stage)
		*ret_stage = n;
	return n > 0 ? st[n - 1].connections : 0;
}

int load_check_nofile(int connections, int threads, long *ret_limit)
{
	/* sockets, an epoll fd per thread, and room for stdio, the recording and the target */
	rlim_t need = (rlim_t)connections + (rlim_t)threads + 64;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
			if (ret_limit)
				*ret_limit = (long)rl.rlim_max - threads - 64;
			return -EMFILE;
		}
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? need : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -errno;
	}
	if (ret_limit)
		*ret_limit = rl.rlim_cur == RLIM_INFINITY ? LOAD_CONN_MAX : (long)rl.rlim_cur - threads - 64;
	return 0;
}
