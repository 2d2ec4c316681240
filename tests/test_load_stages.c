/* load: stage specs, ramps, profiles, URLs and the loopback rule. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <cmocka.h>

#include "load.h"

#define S 1000000000LL

static void parses_stages(void **state)
{
	(void)state;
	struct load_stage st[LOAD_STAGES_MAX];
	int n = 0;
	assert_int_equal(load_stages_parse("10s:50,5s:400,20s:50", st, LOAD_STAGES_MAX, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(st[0].duration_ns, 10 * S);
	assert_int_equal(st[0].connections, 50);
	assert_false(st[0].ramp);
	assert_int_equal(st[1].connections, 400);
	assert_int_equal(st[2].duration_ns, 20 * S);
	assert_int_equal(load_stages_duration(st, n), 35 * S);
	assert_int_equal(load_stages_max_connections(st, n), 400);

	assert_int_equal(load_stages_parse("30s:~200,500ms:0,1m:~10", st, LOAD_STAGES_MAX, &n), 0);
	assert_int_equal(n, 3);
	assert_true(st[0].ramp);
	assert_int_equal(st[0].connections, 200);
	assert_int_equal(st[1].duration_ns, S / 2);
	assert_int_equal(st[1].connections, 0);
	assert_int_equal(st[2].duration_ns, 60 * S);
	assert_true(st[2].ramp);
}

static void ramps_are_linear(void **state)
{
	(void)state;
	struct load_stage st[8];
	int n, stage;
	assert_int_equal(load_stages_parse("10s:~100,10s:100,10s:~0,5s:40", st, 8, &n), 0);
	assert_int_equal(load_stages_at(st, n, 0, &stage), 0);
	assert_int_equal(stage, 0);
	assert_int_equal(load_stages_at(st, n, 5 * S, &stage), 50);
	assert_int_equal(load_stages_at(st, n, 9 * S, &stage), 90);
	assert_int_equal(load_stages_at(st, n, 10 * S, &stage), 100);
	assert_int_equal(stage, 1);
	assert_int_equal(load_stages_at(st, n, 25 * S, &stage), 50); /* halfway down */
	assert_int_equal(stage, 2);
	assert_int_equal(load_stages_at(st, n, 30 * S, &stage), 40); /* a step, not a ramp */
	assert_int_equal(stage, 3);
	assert_int_equal(load_stages_at(st, n, 35 * S, &stage), 40);
	assert_int_equal(stage, 4); /* past the end */
	/* a ramp never leaves the segment between its two ends */
	for (int64_t t = 0; t < 10 * S; t += S / 7) {
		int v = load_stages_at(st, n, 20 * S + t, NULL);
		assert_true(v >= 0 && v <= 100);
	}
}

static void rejects_bad_specs(void **state)
{
	(void)state;
	struct load_stage st[LOAD_STAGES_MAX];
	int n = 123;
	const char *bad[] = {"", "10s", "10:50", "0s:50", "-5s:50", "10s:", "10s:abc", "10s:-5", "10s:5x",
			     "10s:50,", ",10s:50", "10s:50,,5s:1", "s:50", "10s:~", "10 s:50", "10s:50;5s:1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = load_stages_parse(bad[i], st, LOAD_STAGES_MAX, &n);
		if (r != -EINVAL)
			fail_msg("'%s' gave %d", bad[i], r);
	}
	assert_int_equal(n, 123); /* untouched on failure */
	assert_int_equal(load_stages_parse("10s:100001", st, LOAD_STAGES_MAX, &n), -ERANGE);
	char many[LOAD_STAGES_MAX * 8 + 16] = "";
	for (int i = 0; i <= LOAD_STAGES_MAX; i++)
		strcat(many, i ? ",1s:1" : "1s:1");
	assert_int_equal(load_stages_parse(many, st, LOAD_STAGES_MAX, &n), -E2BIG);
	assert_int_equal(load_stages_parse("1s:1,1s:2,1s:3", st, 2, &n), -E2BIG);

	char why[512];
	load_stages_explain("0s:50", why, sizeof(why));
	assert_non_null(strstr(why, "zero duration"));
	assert_non_null(strstr(why, "accepted"));
	assert_non_null(strstr(why, "10s:50,5s:400"));
	load_stages_explain("10s:50,-1s:5", why, sizeof(why));
	assert_non_null(strstr(why, "stage 2"));
	assert_non_null(strstr(why, "negative duration"));
	load_stages_explain("10s-50", why, sizeof(why));
	assert_non_null(strstr(why, "missing ':'"));
}

static void profiles(void **state)
{
	(void)state;
	struct load_stage st[LOAD_STAGES_MAX];
	int n;
	for (int i = 0; load_profile_names[i]; i++) {
		assert_int_equal(load_profile_stages(load_profile_names[i], 0, st, LOAD_STAGES_MAX, &n), 0);
		assert_true(n >= 1);
		assert_true(load_stages_duration(st, n) >= 60 * S);
		assert_true(load_stages_max_connections(st, n) >= LOAD_DEFAULT_CONNECTIONS);
	}
	/* burst: a baseline, an 8x step, and a baseline after it */
	assert_int_equal(load_profile_stages("burst", 10, st, LOAD_STAGES_MAX, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(st[0].connections, 10);
	assert_int_equal(st[1].connections, 80);
	assert_false(st[1].ramp);
	assert_int_equal(st[2].connections, 10);
	assert_int_equal(load_stages_duration(st, n), 60 * S);
	/* ramp goes up and comes back down linearly */
	assert_int_equal(load_profile_stages("ramp", 10, st, LOAD_STAGES_MAX, &n), 0);
	assert_int_equal(load_stages_at(st, n, 15 * S, NULL), 40);
	assert_int_equal(load_stages_at(st, n, 35 * S, NULL), 80);
	assert_int_equal(load_stages_at(st, n, 50 * S, NULL), 45);
	assert_int_equal(load_profile_stages("soak", 10, st, LOAD_STAGES_MAX, &n), 0);
	assert_int_equal(load_stages_duration(st, n), 600 * S);
	assert_int_equal(load_profile_stages("spike", 10, st, LOAD_STAGES_MAX, &n), -EINVAL);
	/* a profile name or a spec */
	assert_int_equal(load_stages_from_spec("steady", 5, st, LOAD_STAGES_MAX, &n), 0);
	assert_int_equal(load_stages_max_connections(st, n), 5);
	assert_int_equal(load_stages_from_spec("2s:7", 5, st, LOAD_STAGES_MAX, &n), 0);
	assert_int_equal(st[0].connections, 7);
	assert_int_equal(load_stages_from_spec("bogus", 5, st, LOAD_STAGES_MAX, &n), -EINVAL);
}

static void urls(void **state)
{
	(void)state;
	struct load_config c;
	load_config_init(&c);
	assert_int_equal(load_config_parse_url(&c, "http://127.0.0.1:8080/api/x?size=10k#frag"), 0);
	assert_int_equal(c.port, 8080);
	assert_string_equal(c.host, "127.0.0.1:8080");
	assert_string_equal(c.path, "/api/x?size=10k");
	assert_int_equal(c.naddr, 1);
	assert_int_equal(c.addr[0].ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&c.addr[0])->sin_port), 8080);

	assert_int_equal(load_config_parse_url(&c, "http://127.9.8.7"), 0);
	assert_int_equal(c.port, 80);
	assert_string_equal(c.path, "/");
	assert_string_equal(c.host, "127.9.8.7");
	assert_int_equal(load_config_parse_url(&c, "HTTP://[::1]:9000?q=1"), 0);
	assert_string_equal(c.host, "[::1]:9000");
	assert_string_equal(c.path, "/?q=1");
	assert_int_equal(c.addr[0].ss_family, AF_INET6);
	assert_int_equal(load_config_parse_url(&c, "http://localhost:81/"), 0);
	assert_true(c.naddr >= 1);
	assert_string_equal(c.host, "localhost:81");

	/* not loopback: refused */
	const char *remote[] = {"http://10.0.0.1/", "http://8.8.8.8:80/", "http://[2001:db8::1]/",
				"http://example.com/", "http://128.0.0.1/", "http://0.0.0.0:80/",
				"http://[::]:80/", "http://localhost.example.com/"};
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
		int r = load_config_parse_url(&c, remote[i]);
		if (r != -EADDRNOTAVAIL)
			fail_msg("%s gave %d", remote[i], r);
	}
	assert_int_equal(load_config_parse_url(&c, "https://127.0.0.1/"), -EPROTONOSUPPORT);
	assert_int_equal(load_config_parse_url(&c, "ftp://127.0.0.1/"), -EPROTONOSUPPORT);
	const char *bad[] = {"", "127.0.0.1:80", "http://", "http://127.0.0.1:0/", "http://127.0.0.1:65536/",
			     "http://127.0.0.1:80x/", "http://user:pw@127.0.0.1/", "http://[::1/", "http://127.0.0.1/a b",
			     "http://127.0.0.1:/"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = load_config_parse_url(&c, bad[i]);
		if (r != -EINVAL)
			fail_msg("'%s' gave %d", bad[i], r);
	}
	/* a failed parse leaves the last good target */
	assert_string_equal(c.host, "localhost:81");
}

static void nofile_limit(void **state)
{
	(void)state;
	struct rlimit rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	long allowed = 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < LOAD_CONN_MAX) {
		assert_int_equal(load_check_nofile(LOAD_CONN_MAX, 1, &allowed), -EMFILE);
		assert_true(allowed > 0 && allowed < LOAD_CONN_MAX);
	}
	/* a soft limit below the need is raised to what the connections need */
	struct rlimit low = {.rlim_cur = 256, .rlim_max = rl.rlim_max};
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	assert_int_equal(load_check_nofile(1000, 2, &allowed), 0);
	struct rlimit now;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &now), 0);
	assert_true(now.rlim_cur >= 1000);
	setrlimit(RLIMIT_NOFILE, &rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_stages),
		cmocka_unit_test(ramps_are_linear),
		cmocka_unit_test(rejects_bad_specs),
		cmocka_unit_test(profiles),
		cmocka_unit_test(urls),
		cmocka_unit_test(nofile_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
