/* metrics: the Prometheus text format as services write it, and what the strict parser refuses. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "fakeprom.h"
#include "metrics.h"
#include "metrics_poll.h"
#include "sample.h"
#include "util.h"

static int parse(const char *text, struct metrics_want *w, int n, int *line)
{
	return metrics_parse(text, strlen(text), w, n, line);
}

/* what client_golang's default registry writes, abridged: HELP/TYPE, labels, summaries */
static const char go_page[] =
	"# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.\n"
	"# TYPE go_gc_duration_seconds summary\n"
	"go_gc_duration_seconds{quantile=\"0\"} 2.1e-05\n"
	"go_gc_duration_seconds{quantile=\"1\"} 0.000154\n"
	"go_gc_duration_seconds_sum 0.000497\n"
	"go_gc_duration_seconds_count 7\n"
	"# HELP go_info Information about the Go environment.\n"
	"go_info{version=\"go1.19.8\"} 1\n"
	"go_memstats_heap_alloc_bytes 6.7296784e+07\n"
	"go_memstats_heap_idle_bytes 2.736128e+06\n"
	"go_memstats_heap_released_bytes 2.4576e+06 1700000000000\n"
	"\n"
	"process_max_fds +Inf\n";

static void go_page_values(void **state)
{
	(void)state;
	struct metrics_want w[] = {{.name = "go_memstats_heap_alloc_bytes"}, {.name = "go_memstats_heap_released_bytes"},
				   {.name = "go_gc_duration_seconds_count"}, {.name = "go_gc_duration_seconds"},
				   {.name = "process_max_fds"}, {.name = "absent_series"}};
	int line = -1;
	assert_int_equal(parse(go_page, w, 6, &line), 0);
	assert_int_equal(line, 0);
	assert_true(w[0].found);
	assert_true(w[0].value == 67296784.0);
	assert_true(w[1].found && w[1].value == 2457600.0);   /* with a timestamp */
	assert_true(w[2].found && w[2].value == 7.0);
	assert_true(w[3].found && w[3].value == 2.1e-05);     /* the first sample of a labelled name */
	assert_true(w[4].found && isinf(w[4].value));
	assert_false(w[5].found);
}

static void labels_with_escapes_and_blanks(void **state)
{
	(void)state;
	struct metrics_want w[] = {{.name = "m"}};
	assert_int_equal(parse("m{a=\"x\\\"}y\\\\\\n\",b = \"{}\" ,} \t 12 -5\n", w, 1, NULL), 0);
	assert_true(w[0].found && w[0].value == 12.0);
	assert_int_equal(parse("m{} NaN", w, 1, NULL), 0);   /* no final newline */
	assert_true(isnan(w[0].value));
	assert_int_equal(parse("m -Inf\n", w, 1, NULL), 0);
	assert_true(isinf(w[0].value) && w[0].value < 0);
	assert_int_equal(parse("m{a=\"1\"} -2.5e3\nm 7\n", w, 1, NULL), 0);
	assert_true(w[0].value == -2500.0);                  /* the first sample, not the last */
	/* a colon is for metric names (recording rules), not labels */
	assert_int_equal(parse("job:m:rate5m 3\n", w, 1, NULL), 0);
	assert_int_equal(parse("m{a:b=\"x\"} 1\n", w, 1, NULL), -EBADMSG);
}

/* The Prometheus Java client (simpleclient_hotspot's MemoryPoolsExports, client_java 0.x): one
 * sample per area, labels ending with a comma, Java's Double.toString numbers. Written from that
 * collector's documented series (jvm_memory_bytes_{used,committed,max}{area}, and per pool
 * jvm_memory_pool_bytes_used{pool}) in the shape simpleclient's TextFormat writes. */
static const char hotspot_page[] =
	"# HELP jvm_memory_bytes_used Used bytes of a given JVM memory area.\n"
	"# TYPE jvm_memory_bytes_used gauge\n"
	"jvm_memory_bytes_used{area=\"nonheap\",} 3.5327152E7\n"
	"jvm_memory_bytes_used{area=\"heap\",} 2.1495896E7\n"
	"# HELP jvm_memory_bytes_committed Committed (bytes) of a given JVM memory area.\n"
	"# TYPE jvm_memory_bytes_committed gauge\n"
	"jvm_memory_bytes_committed{area=\"heap\",} 2.62668288E8\n"
	"jvm_memory_bytes_committed{area=\"nonheap\",} 3.8797312E7\n"
	"# HELP jvm_memory_bytes_max Max (bytes) of a given JVM memory area.\n"
	"# TYPE jvm_memory_bytes_max gauge\n"
	"jvm_memory_bytes_max{area=\"heap\",} 3.817865216E9\n"
	"jvm_memory_bytes_max{area=\"nonheap\",} -1.0\n"
	"jvm_memory_pool_bytes_used{pool=\"G1 Eden Space\",} 1.2582912E7\n"
	"jvm_memory_pool_bytes_used{pool=\"Metaspace\",} 2.7262976E7\n";

/* Micrometer's JvmMemoryMetrics through its Prometheus registry, as Spring Boot's actuator
 * documents /actuator/prometheus (docs.spring.io/spring-boot/api/rest/actuator/prometheus.html):
 * one sample per memory pool, tagged area and id, nonheap pools interleaved; an application tag as
 * Spring services commonly add, and a pool id with every escape the format has. */
static const char micrometer_page[] =
	"# HELP jvm_memory_committed_bytes The amount of memory in bytes that is committed for the Java virtual machine to use\n"
	"# TYPE jvm_memory_committed_bytes gauge\n"
	"jvm_memory_committed_bytes{application=\"shop\",area=\"heap\",id=\"G1 Eden Space\"} 7.340032E7\n"
	"jvm_memory_committed_bytes{application=\"shop\",area=\"heap\",id=\"G1 Old Gen\"} 8.0740352E7\n"
	"jvm_memory_committed_bytes{application=\"shop\",area=\"heap\",id=\"G1 Survivor Space\"} 7340032.0\n"
	"jvm_memory_committed_bytes{application=\"shop\",area=\"nonheap\",id=\"CodeHeap 'non-nmethods'\"} 2555904.0\n"
	"jvm_memory_committed_bytes{application=\"shop\",area=\"nonheap\",id=\"Metaspace\"} 4.2991616E7\n"
	"# HELP jvm_memory_used_bytes The amount of used memory\n"
	"# TYPE jvm_memory_used_bytes gauge\n"
	"jvm_memory_used_bytes{application=\"shop\",area=\"heap\",id=\"G1 Eden Space\"} 2.097152E7\n"
	"jvm_memory_used_bytes{application=\"shop\",area=\"nonheap\",id=\"Metaspace\"} 4.1503232E7\n"
	"jvm_memory_used_bytes{application=\"shop\",area=\"heap\",id=\"G1 Old Gen\"} 5.1234816E7\n"
	"jvm_memory_used_bytes{application=\"shop\",area=\"heap\",id=\"a \\\"quoted\\\" \\\\pool\\n\"} 1048576.0\n"
	"jvm_memory_used_bytes{application=\"shop\",area=\"nonheap\",id=\"CodeHeap 'non-nmethods'\"} 1340032.0\n"
	"jvm_memory_used_bytes{application=\"shop\",area=\"heap\",id=\"G1 Survivor Space\"} 3145728.0\n"
	"jvm_memory_used_bytes{application=\"shop\",area=\"heapx\",id=\"not a heap\"} 1.0\n";

static void label_match_and_sum(void **state)
{
	(void)state;
	struct metrics_want w[] = {
		{.name = "jvm_memory_used_bytes", .label = "area", .label_value = "heap", .sum = true},
		{.name = "jvm_memory_committed_bytes", .label = "area", .label_value = "heap", .sum = true},
		{.name = "jvm_memory_used_bytes", .label = "area", .label_value = "nonheap", .sum = true},
		{.name = "jvm_memory_used_bytes", .label = "area", .label_value = "heap"},   /* the first */
		{.name = "jvm_memory_used_bytes", .label = "id", .label_value = "a \"quoted\" \\pool\n"},
		{.name = "jvm_memory_used_bytes", .label = "id", .label_value = "a \"quoted\" \\pool"},
		{.name = "jvm_memory_used_bytes", .label = "area", .label_value = "hea"},
		{.name = "jvm_memory_used_bytes"},   /* no label: the first sample, whatever its labels */
	};
	assert_int_equal(parse(micrometer_page, w, 8, NULL), 0);
	/* the heap pools by hand: 20971520 + 51234816 + 1048576 + 3145728 */
	assert_true(w[0].found && w[0].value == 76400640.0 && w[0].samples == 4);
	assert_true(w[1].found && w[1].value == 73400320.0 + 80740352.0 + 7340032.0 && w[1].samples == 3);
	assert_true(w[2].found && w[2].value == 41503232.0 + 1340032.0 && w[2].samples == 2);
	assert_true(w[3].found && w[3].value == 20971520.0 && w[3].samples == 1);
	assert_true(w[4].found && w[4].value == 1048576.0);   /* \" \\ \n undone before comparing */
	assert_false(w[5].found);                             /* a prefix of the value is not it */
	assert_false(w[6].found);
	assert_true(w[7].found && w[7].value == 20971520.0);

	struct metrics_want h[] = {
		{.name = "jvm_memory_bytes_used", .label = "area", .label_value = "heap"},
		{.name = "jvm_memory_bytes_max", .label = "area", .label_value = "nonheap"},
		{.name = "jvm_memory_pool_bytes_used", .label = "area", .label_value = "heap"},
	};
	assert_int_equal(parse(hotspot_page, h, 3, NULL), 0);
	assert_true(h[0].found && h[0].value == 21495896.0);   /* not the nonheap sample before it */
	assert_true(h[1].found && h[1].value == -1.0);
	assert_false(h[2].found);                              /* no area label at all */
	/* a label wanted without a value to compare is a caller's error */
	struct metrics_want bad[] = {{.name = "m", .label = "area"}};
	assert_int_equal(parse("m 1\n", bad, 1, NULL), -EINVAL);
	/* a sum over no sample is not found; a garbage page still writes nothing */
	struct metrics_want s[] = {{.name = "m", .label = "a", .label_value = "x", .sum = true, .value = 9}};
	assert_int_equal(parse("m{a=\"y\"} 1\n", s, 1, NULL), 0);
	assert_false(s[0].found);
	s[0].value = 9;
	assert_int_equal(parse("m{a=\"x\"} 1\nm{a=\"x\" 2\n", s, 1, NULL), -EBADMSG);
	assert_true(!s[0].found && s[0].value == 9);
}

static void refuses_what_is_not_the_format(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"m twelve\n", "m 0x10\n", "m nan(1)\n", "m\n", "m 1 2 3\n", "1m 1\n", "m{a=x} 1\n",
		"m{a=\"x} 1\n", "m{a=\"\\q\"} 1\n", "m{=\"x\"} 1\n", "m{a=\"x\" b=\"y\"} 1\n", "m 1 1.5\n",
		"m 1\r\n", "m{a=\"x\"}1\n", "m 1 12345678901234567890\n", "m 1e999\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct metrics_want w[] = {{.name = "m", .value = 42}};
		int line = 0;
		if (parse(bad[i], w, 1, &line) != -EBADMSG)
			fail_msg("accepted '%s'", bad[i]);
		assert_int_equal(line, 1);
		assert_false(w[0].found);    /* nothing written on failure */
		assert_true(w[0].value == 42);
	}
	/* the line of the error, after good ones; a NUL inside the text */
	struct metrics_want w[] = {{.name = "m"}};
	int line = 0;
	assert_int_equal(parse("# ok\nm 1\n\nm{ 2\n", w, 1, &line), -EBADMSG);
	assert_int_equal(line, 4);
	assert_int_equal(metrics_parse("m 1\n\0m 2\n", 9, w, 1, &line), -EBADMSG);
	assert_int_equal(line, 2);
}

static void bounded(void **state)
{
	(void)state;
	/* a line one byte over the limit, a name one byte over its limit */
	size_t n = METRICS_LINE_MAX + 1;
	char *big = malloc(n + 1);
	assert_non_null(big);
	memset(big, ' ', n);
	big[0] = '#';
	big[n] = '\0';
	struct metrics_want w[] = {{.name = "m"}};
	int line = 0;
	assert_int_equal(parse(big, w, 1, &line), -EMSGSIZE);
	big[n - 1] = '\0';
	assert_int_equal(parse(big, w, 1, &line), 0);
	memset(big, 'a', METRICS_NAME_MAX + 1);
	memcpy(big + METRICS_NAME_MAX + 1, " 1", 3);
	assert_int_equal(parse(big, w, 1, &line), -EBADMSG);
	big[METRICS_NAME_MAX] = '\0';
	assert_true(metrics_name_valid(big));
	big[0] = '9';
	assert_false(metrics_name_valid(big));
	assert_false(metrics_name_valid(""));
	assert_true(metrics_name_valid("jemalloc:allocated_bytes"));
	free(big);
	assert_int_equal(metrics_parse("m 1", 3, w, 33, NULL), -EINVAL);   /* more wanted than the bound */
}

/* --- the poller's mapping of the known runtimes' series to live and held bytes -------------
 * Each page is served by a fake endpoint; the test waits for the poller's first poll (its own
 * count), then compares with figures worked out by hand from the page. */
static void serve_page(void *ctx, const char *request, char *body, size_t len)
{
	(void)request;
	snprintf(body, len, "%s", (const char *)ctx);
}

static void poll_page(const char *page, const char *heap_metric, const char *source, int64_t live, int64_t held)
{
	struct fakeprom fp = {.answer = serve_page, .ctx = (void *)page};
	assert_int_equal(fakeprom_start(&fp), 0);
	struct metrics_poll m;
	metrics_poll_init(&m);
	if (heap_metric)
		assert_int_equal(metrics_poll_set_name(&m, heap_metric), 0);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", fp.port);
	assert_int_equal(metrics_poll_start(&m, url), 0);
	int64_t polls = 0;
	/* the poll's own signal; the bound only turns a hang into a failure */
	for (int i = 0; i < 6000 && polls == 0; i++) {
		pthread_mutex_lock(&m.mu);
		polls = m.polls;
		pthread_mutex_unlock(&m.mu);
		if (!polls)
			nanosleep(&(struct timespec){0, 10000000L}, NULL);
	}
	pthread_mutex_lock(&m.mu);
	int64_t got_live = m.live, got_held = m.held, answers = m.answers;
	const char *got_source = m.source;
	pthread_mutex_unlock(&m.mu);
	metrics_poll_stop(&m);
	fakeprom_stop(&fp);
	assert_true(polls >= 1);
	assert_int_equal(answers, polls);
	assert_non_null(got_source);
	assert_string_equal(got_source, source);
	assert_int_equal(got_live, live);
	assert_int_equal(got_held, held);
}

static void poll_maps_runtimes(void **state)
{
	(void)state;
	/* Go: live = heap_alloc; held = idle - released = 2736128 - 2457600 */
	poll_page(go_page, NULL, "go runtime", 67296784, 278528);
	/* Go with more released than idle (a scrape between two updates): held 0, never negative */
	poll_page("go_memstats_heap_alloc_bytes 1000\ngo_memstats_heap_idle_bytes 10\n"
		  "go_memstats_heap_released_bytes 20\n", NULL, "go runtime", 1000, 0);
	/* jemalloc's exporter: held = resident - allocated */
	poll_page("# TYPE jemalloc_allocated_bytes gauge\njemalloc_resident_bytes 5000000\n"
		  "jemalloc_allocated_bytes 3500000\n", NULL, "jemalloc", 3500000, 1500000);
	/* the stats_ spelling, with the other spelling's resident present but not its allocated */
	poll_page("jemalloc_stats_allocated_bytes 2000000\njemalloc_stats_resident_bytes 2600000\n"
		  "jemalloc_resident_bytes 9999999\n", NULL, "jemalloc", 2000000, 600000);
	/* --heap-metric names the series itself */
	poll_page("app_heap_live 123456\napp_heap_held 654321\ngo_memstats_heap_alloc_bytes 1\n", "live=app_heap_live",
		  "--heap-metric", 123456, HR_UNKNOWN);
	/* the hotspot collector: live = used{area="heap"}, held = committed - used = 262668288 - 21495896 */
	poll_page(hotspot_page, NULL, "jvm", 21495896, 241172392);
	/* Micrometer: the heap pools summed, nonheap left out; held = 161480704 - 76400640 */
	poll_page(micrometer_page, NULL, "jvm", 76400640, 85080064);
	/* --heap-metric still wins over a JVM's page */
	poll_page(micrometer_page, "live=jvm_memory_committed_bytes", "--heap-metric", 73400320, HR_UNKNOWN);
}

/* --- the start-up grace: a service that accepts but has not answered yet ------------------
 * A listener that never accepts: each poll's connection completes in its backlog and no answer
 * comes, as from a JVM still loading classes. While the service counts as starting (no answer
 * yet, within METRICS_START_GRACE_NS of the start) the timeouts are not said; past the grace
 * the next one is. The start instant is moved under the poller's mutex instead of waiting 3 s,
 * so the phases do not depend on how fast a loaded machine runs the poller. */
static int64_t polls_now(struct metrics_poll *m)
{
	pthread_mutex_lock(&m->mu);
	int64_t n = m->polls;
	pthread_mutex_unlock(&m->mu);
	return n;
}

/* waits for two more polls, so that at least one ran whole after the caller's change */
static void wait_two_polls(struct metrics_poll *m, int64_t from)
{
	for (int i = 0; i < 12000 && polls_now(m) < from + 2; i++)   /* the bound turns a hang into a failure */
		nanosleep(&(struct timespec){0, 10000000L}, NULL);
	assert_true(polls_now(m) >= from + 2);
}

static void timeout_grace_while_starting(void **state)
{
	(void)state;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 64), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", ntohs(a.sin_port));
	struct metrics_poll m;
	metrics_poll_init(&m);
	assert_int_equal(metrics_poll_start(&m, url), 0);

	pthread_mutex_lock(&m.mu);
	m.start_ns = util_now_ns() + 3600 * 1000000000LL;   /* still starting, whatever the clock does */
	int64_t from = m.polls;
	pthread_mutex_unlock(&m.mu);
	wait_two_polls(&m, from);
	pthread_mutex_lock(&m.mu);
	unsigned failed_starting = m.failed;
	int64_t answers = m.answers;
	m.start_ns = util_now_ns() - METRICS_START_GRACE_NS - 1;   /* the grace is over */
	from = m.polls;
	pthread_mutex_unlock(&m.mu);
	assert_int_equal(answers, 0);
	assert_int_equal(failed_starting & MF_TIMEOUT, 0);
	char note[512] = "";
	assert_null(metrics_poll_note(&m, note, sizeof(note)));   /* nothing to say yet */

	wait_two_polls(&m, from);
	pthread_mutex_lock(&m.mu);
	unsigned failed_after = m.failed;
	pthread_mutex_unlock(&m.mu);
	assert_true(failed_after & MF_TIMEOUT);
	const char *said = metrics_poll_note(&m, note, sizeof(note));
	assert_non_null(said);
	assert_non_null(strstr(said, "slow endpoint"));
	metrics_poll_stop(&m);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(go_page_values),
		cmocka_unit_test(labels_with_escapes_and_blanks),
		cmocka_unit_test(label_match_and_sum),
		cmocka_unit_test(refuses_what_is_not_the_format),
		cmocka_unit_test(bounded),
		cmocka_unit_test(poll_maps_runtimes),
		cmocka_unit_test(timeout_grace_while_starting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
