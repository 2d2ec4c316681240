/* node: the kubelet's cgroup layouts (tests/fixtures/node-layouts/paths.txt, each shape with its
 * source), naming from the runtimes' records (tests/fixtures/node-runtime: containerd records
 * captured here from containerd 1.6 + runc, podman's captured containers.json, CRI-O and
 * cri-dockerd records written from their documented keys), and the exporter over a kubelet-shaped
 * tree of real cgroup v2 files (tests/fixtures/cgroup-v2-6.12/live) copied to /tmp. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "export.h"
#include "node.h"

#define RT FIXTURES "/node-runtime"
#define CID_APP "1111111111111111111111111111111111111111111111111111111111111111"
#define CID_SANDBOX "2222222222222222222222222222222222222222222222222222222222222222"
#define CID_HALF "3333333333333333333333333333333333333333333333333333333333333333"
#define CID_HOSTILE "4444444444444444444444444444444444444444444444444444444444444444"
#define CID_NOANN "5555555555555555555555555555555555555555555555555555555555555555"
#define POD_UID "f43f7ab7-0a64-45da-ab3b-0efba5090fe3"
#define CID_SYSD "cccc111111111111111111111111111111111111111111111111111111111111"
#define POD_UID_SYSD "0b5c7f0e_1c2d_4e5f_8a9b_0c1d2e3f4a5b"

static const char *dash(const char *s)
{
	return s[0] ? s : "-";
}

static void layouts_from_fixture(void **state)
{
	(void)state;
	FILE *f = fopen(FIXTURES "/node-layouts/paths.txt", "re");
	assert_non_null(f);
	char line[1024];
	int checked = 0, containers = 0;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		char path[512], result[16], qos[16], uid[64], id[80], rt[16];
		assert_int_equal(sscanf(line, "%511s %15s %15s %63s %79s %15s", path, result, qos, uid, id, rt), 6);
		struct node_container c;
		int rc = node_parse_cgroup_path(path, &c);
		if (strcmp(result, "container") == 0) {
			if (rc != 0)
				fail_msg("%s: not recognised as a container", path);
			containers++;
		} else if (rc != -ENOENT) {
			fail_msg("%s: taken for a container (%d, id %s)", path, rc, c.id);
		}
		if (strcmp(dash(c.qos), qos) || strcmp(dash(c.pod_uid), uid) || strcmp(dash(c.id), id) ||
		    strcmp(dash(node_runtime_name(c.runtime)), rt))
			fail_msg("%s: got qos %s uid %s id %s runtime %s", path, dash(c.qos), dash(c.pod_uid), dash(c.id),
			         dash(node_runtime_name(c.runtime)));
		checked++;
	}
	fclose(f);
	assert_true(checked >= 15);
	assert_true(containers >= 8);
}

static const struct node_runtime_dirs fixture_dirs = {
	.containerd_state = RT "/containerd",
	.crio_state = RT "/crio",
	.docker_root = RT "/docker",
	.podman_root = RT "/podman",
};

static int name(const char *path, struct node_container *c)
{
	assert_int_equal(node_parse_cgroup_path(path, c), 0);
	return node_name_container(&fixture_dirs, c);
}

static void names_from_runtime_records(void **state)
{
	(void)state;
	struct node_container c;
	/* containerd, cgroupfs: the bare id, so each runtime is asked in turn */
	assert_int_equal(name("/kubepods/burstable/pod" POD_UID "/" CID_APP, &c), 0);
	assert_string_equal(c.namespace_, "shop");
	assert_string_equal(c.pod, "web-0");
	assert_string_equal(c.container, "app");
	assert_false(c.sandbox);
	assert_int_equal(c.runtime, NODE_RT_CONTAINERD);
	/* the pod's sandbox */
	assert_int_equal(name("/kubepods/burstable/pod" POD_UID "/" CID_SANDBOX, &c), 0);
	assert_true(c.sandbox);
	assert_string_equal(c.pod, "web-0");
	/* a half-written config.json: not JSON, said, not named */
	assert_int_equal(name("/kubepods/burstable/pod" POD_UID "/" CID_HALF, &c), -EINVAL);
	assert_false(c.named);
	assert_non_null(strstr(c.note, "cannot read"));
	/* a record without the CRI annotations */
	assert_int_equal(name("/kubepods/burstable/pod" POD_UID "/" CID_NOANN, &c), -ENOENT);
	assert_non_null(strstr(c.note, "has no Kubernetes names"));
	/* hostile values come through as bytes; escaping is the exporter's (below) */
	assert_int_equal(name("/kubepods/burstable/pod" POD_UID "/" CID_HOSTILE, &c), 0);
	assert_string_equal(c.container, "side\"car\\x\nnext");
	assert_string_equal(c.namespace_, "ns-\xff\xc0\xafz");
	/* CRI-O, systemd driver: names from annotations, or from the kubelet labels it keeps */
	assert_int_equal(name("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0b5c7f0e_1c2d_4e5f_8a9b_0c1d2e3f4a5b.slice/"
	                      "crio-6666666666666666666666666666666666666666666666666666666666666666.scope", &c), 0);
	assert_string_equal(c.namespace_, "payments");
	assert_string_equal(c.container, "api");
	assert_string_equal(c.pod_uid, "0b5c7f0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b");
	assert_int_equal(name("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod9e8d7c6b_5a49_3827_1605_f4e3d2c1b0a9.slice/"
	                      "crio-8888888888888888888888888888888888888888888888888888888888888888.scope", &c), 0);
	assert_string_equal(c.namespace_, "batch");
	assert_string_equal(c.pod, "jobs-1");
	assert_string_equal(c.container, "worker");
	/* cri-dockerd: a container and its sandbox */
	assert_int_equal(name("/kubepods.slice/kubepods-pod1a2b3c4d_0000_4000_8000_000000000001.slice/"
	                      "docker-9999999999999999999999999999999999999999999999999999999999999999.scope", &c), 0);
	assert_string_equal(c.container, "db");
	assert_string_equal(c.qos, "guaranteed");
	assert_false(c.sandbox);
	assert_int_equal(name("/kubepods/pod1a2b3c4d-0000-4000-8000-000000000001/"
	                      "aaaa999999999999999999999999999999999999999999999999999999999999", &c), 0);
	assert_true(c.sandbox);
	assert_int_equal(c.runtime, NODE_RT_DOCKER);
	/* podman's containers.json, captured here */
	assert_int_equal(name("/libpod_parent/libpod-42dc02671d4ae712a9e881020af6910c9fbac0e968da5bd9dd8a8501c736c11f", &c), 0);
	assert_string_equal(c.container, "hr-fixture-web");
	assert_string_equal(c.namespace_, "");
	/* a container no runtime knows, and runtime directories that are absent */
	assert_int_equal(name("/kubepods/besteffort/pod" POD_UID "/" "bbbb111111111111111111111111111111111111111111111111111111111111", &c), -ENOENT);
	assert_non_null(strstr(c.note, "no runtime record"));
	const struct node_runtime_dirs none = {.host_root = "/nonexistent/headroom-host"};
	assert_int_equal(node_parse_cgroup_path("/kubepods/burstable/pod" POD_UID "/" CID_APP, &c), 0);
	assert_int_equal(node_name_container(&none, &c), -ENOENT);
	assert_false(c.named);
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

/* Records that are not what the runtime writes: another owner, a symlink, too big. */
static void hostile_records_refused(void **state)
{
	(void)state;
	char d[] = "/tmp/headroom-test-node.XXXXXX";
	assert_non_null(mkdtemp(d));
	char k8s[256];
	snprintf(k8s, sizeof(k8s), "%s/io.containerd.runtime.v2.task/k8s.io", d);
	sh("mkdir -p '%s' && cp -r '" RT "/containerd/io.containerd.runtime.v2.task/k8s.io/" CID_APP "' '%s/'", k8s, k8s);
	struct node_runtime_dirs dirs = {.containerd_state = d};
	struct node_container c;
	assert_int_equal(node_parse_cgroup_path("/kubepods/burstable/pod" POD_UID "/" CID_APP, &c), 0);
	assert_int_equal(node_name_container(&dirs, &c), 0);
	if (geteuid() == 0) {
		/* written by someone else than root: not the runtime's */
		sh("chown 65534 '%s/" CID_APP "/config.json'", k8s);
		assert_int_equal(node_name_container(&dirs, &c), -EPERM);
		assert_non_null(strstr(c.note, "cannot read"));
		sh("chown 0 '%s/" CID_APP "/config.json'", k8s);
	}
	sh("mv '%s/" CID_APP "/config.json' '%s/real.json' && ln -s '%s/real.json' '%s/" CID_APP "/config.json'", k8s, d, d, k8s);
	assert_int_equal(node_name_container(&dirs, &c), -ELOOP);
	sh("rm '%s/" CID_APP "/config.json' && truncate -s 2M '%s/" CID_APP "/config.json'", k8s, k8s);
	assert_int_equal(node_name_container(&dirs, &c), -EFBIG);
	sh("rm -rf '%s'", d);
}

/* ---- the exporter over a kubelet-shaped tree ---- */

struct notes {
	char text[8][512];
	int n;
};

static void on_note(void *ctx, const char *text)
{
	struct notes *n = ctx;
	if (n->n < 8)
		snprintf(n->text[n->n++], 512, "%s", text);
}

static bool valid_utf8(const unsigned char *p)
{
	while (*p) {
		int n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
		if (!n || (n == 2 && *p < 0xc2))
			return false;
		for (int i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		p += n;
	}
	return true;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0)
		;
}

/* A container cgroup of real v2 files with this process in it. */
static void mk_cgroup(const char *root, const char *rel)
{
	sh("mkdir -p '%s/%s' && cp " FIXTURES "/cgroup-v2-6.12/live/memory.* '%s/%s/' && echo %d > '%s/%s/cgroup.procs'",
	   root, rel, root, rel, (int)getpid(), root, rel);
}

static char *scrape_until(struct exporter *e, const char *needle, bool present)
{
	size_t len;
	char *t = NULL;
	/* returns as soon as a rescan shows it; 10 s bound an exporter that never rescans, not how
	 * fast one does on a loaded machine */
	for (int i = 0; i < 500; i++) {
		free(t);
		t = export_render(e, &len);
		assert_non_null(t);
		if ((strstr(t, needle) != NULL) == present)
			return t;
		sleep_ms(20);
	}
	fail_msg("'%s' %s after 10 s:\n%s", needle, present ? "never appeared" : "never went away", t);
	return t;
}

static void exporter_names_a_node(void **state)
{
	(void)state;
	char d[] = "/tmp/headroom-test-node.XXXXXX";
	assert_non_null(mkdtemp(d));
	char root[256], rt[256];
	snprintf(root, sizeof(root), "%s/cg/kubepods", d);
	snprintf(rt, sizeof(rt), "%s/containerd", d);
	sh("mkdir -p '%s' && cp -r " RT "/containerd '%s/'", root, d);
	/* beside the cgroupfs tree, a systemd-driver one (cgroup v2's default): a Guaranteed pod's
	 * cri-containerd scope, with a record made from the captured one */
	char sysd[256];
	snprintf(sysd, sizeof(sysd), "%s/cg", d);
	sh("mkdir -p '%s/io.containerd.runtime.v2.task/k8s.io/" CID_SYSD "' && sed 's/\"web-0\"/\"db-0\"/' "
	   RT "/containerd/io.containerd.runtime.v2.task/k8s.io/" CID_APP "/config.json > "
	   "'%s/io.containerd.runtime.v2.task/k8s.io/" CID_SYSD "/config.json'", rt, rt);
	mk_cgroup(sysd, "kubepods.slice/kubepods-pod" POD_UID_SYSD ".slice/cri-containerd-" CID_SYSD ".scope");
	mk_cgroup(root, "burstable/pod" POD_UID "/" CID_APP);
	mk_cgroup(root, "burstable/pod" POD_UID "/" CID_SANDBOX);
	mk_cgroup(root, "burstable/pod" POD_UID "/" CID_HALF);
	mk_cgroup(root, "burstable/pod" POD_UID "/" CID_HOSTILE);
	mk_cgroup(root, "besteffort/helper");
	sh("mkdir -p '%s/x/1/2/3/4/5/6/7/8/9'", root);      /* stranger than the kubelet makes */
	struct notes notes = {0};
	struct export_config cfg = {
		.mode = EXPORT_CGROUP_ROOT, .cgroup = sysd, .listen = "127.0.0.1:0",
		.interval_ns = 20 * 1000000LL, .peak_window_ns = 200 * 1000000LL, .rescan_ns = 30 * 1000000LL,
		.runtimes = {.containerd_state = rt}, .note = on_note, .note_ctx = &notes,
	};
	struct exporter *e;
	char why[256];
	assert_int_equal(export_start(&e, &cfg, why, sizeof(why)), 0);
	char *t = scrape_until(e, "headroom_cgroup_usage_bytes{namespace=\"shop\"", true);
	/* the fixture's memory.current, under the container's Kubernetes names */
	assert_non_null(strstr(t, "headroom_cgroup_usage_bytes{namespace=\"shop\",pod=\"web-0\",container=\"app\",uid=\"" POD_UID
	                          "\",container_id=\"" CID_APP "\",qos=\"burstable\"} 30740480\n"));
	/* the sandbox is left out, the half-written one is exported by its path with what is known */
	assert_null(strstr(t, CID_SANDBOX));
	assert_non_null(strstr(t, "headroom_cgroup_usage_bytes{cgroup=\"" ));
	assert_non_null(strstr(t, "/" CID_HALF "\",uid=\"" POD_UID "\",container_id=\"" CID_HALF "\",qos=\"burstable\"} 30740480\n"));
	assert_non_null(strstr(t, "headroom_cgroup_usage_bytes{cgroup=\"" ));
	assert_non_null(strstr(t, "/besteffort/helper\",qos=\"besteffort\"} 30740480\n"));
	/* quotes, backslash and newline escaped per the text format, invalid UTF-8 replaced */
	assert_non_null(strstr(t, "{namespace=\"ns-\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz\",pod=\"caf\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac-0\","
	                          "container=\"side\\\"car\\\\x\\nnext\","));
	assert_true(valid_utf8((const unsigned char *)t));
	/* the systemd scope: the pod UID's '_' back to '-', the QoS of a pod directly in kubepods.slice */
	assert_non_null(strstr(t, "headroom_cgroup_usage_bytes{namespace=\"shop\",pod=\"db-0\",container=\"app\","
	                          "uid=\"0b5c7f0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b\",container_id=\"" CID_SYSD "\",qos=\"guaranteed\"} 30740480\n"));
	assert_non_null(strstr(t, "headroom_node_containers{state=\"named\"} 3\n"));
	assert_non_null(strstr(t, "headroom_node_containers{state=\"unnamed\"} 1\n"));
	assert_non_null(strstr(t, "headroom_node_containers{state=\"sandbox\"} 1\n"));
	assert_non_null(strstr(t, "headroom_exporter_targets 5\n"));
	assert_non_null(strstr(t, "headroom_exporter_peak_resets 0\n"));
	free(t);
	bool noted = false;
	for (int i = 0; i < notes.n; i++)
		noted |= strstr(notes.text[i], CID_HALF) && strstr(notes.text[i], "not named");
	assert_true(noted);
	bool deep = false;
	for (int i = 0; i < notes.n; i++)
		deep |= strstr(notes.text[i], "more than 8 levels below") != NULL;
	assert_true(deep);
	/* the runtime finishes writing the record: named at the next rescan */
	sh("cp " RT "/containerd/io.containerd.runtime.v2.task/k8s.io/" CID_APP "/config.json "
	   "'%s/io.containerd.runtime.v2.task/k8s.io/" CID_HALF "/config.json'", rt);
	t = scrape_until(e, "container_id=\"" CID_HALF "\",qos=\"burstable\"} 30740480\n", true);
	free(t);
	t = scrape_until(e, "headroom_node_containers{state=\"unnamed\"} 0\n", true);
	free(t);
	/* a container that goes away drops its series; a new one is found by the next rescan */
	sh("rm -rf '%s/burstable/pod" POD_UID "/" CID_APP "'", root);
	t = scrape_until(e, "container_id=\"" CID_APP "\"", false);
	free(t);
	mk_cgroup(root, "besteffort/late");
	t = scrape_until(e, "/besteffort/late\",qos=\"besteffort\"}", true);
	free(t);
	export_stop(e);
	sh("rm -rf '%s'", d);
}

static long long metric(const char *t, const char *name)
{
	const char *at = strstr(t, name);
	assert_non_null(at);
	return strtoll(at + strlen(name), NULL, 10);
}

/* --rescan is a period on the sampling ticks' schedule: at a 100 ms interval and a 200 ms rescan,
 * a rescan every second tick. Counted from the end of the last rescan, it came every third tick
 * (the due time fell just after a tick): over 40 ticks 1 + 13 rescans instead of 1 + 20. The
 * bound (0.42 of the ticks) leaves 3 rescans to a loaded machine's stalls, which skip due times. */
static void exporter_rescans_on_its_period(void **state)
{
	(void)state;
	char d[] = "/tmp/headroom-test-rescan.XXXXXX";
	assert_non_null(mkdtemp(d));
	mk_cgroup(d, "kubepods/besteffort/one");
	struct export_config cfg = {
		.mode = EXPORT_CGROUP_ROOT, .cgroup = d, .listen = "127.0.0.1:0",
		.interval_ns = 100 * 1000000LL, .rescan_ns = 200 * 1000000LL,
	};
	struct exporter *e;
	char why[256];
	assert_int_equal(export_start(&e, &cfg, why, sizeof(why)), 0);
	char *t = NULL;
	long long samples = 0, rescans = 0;
	for (int i = 0; i < 1500 && samples < 41; i++) {   /* 41 passes: ~4 s; 30 s at most */
		sleep_ms(20);
		free(t);
		size_t len;
		t = export_render(e, &len);
		assert_non_null(t);
		samples = metric(t, "\nheadroom_exporter_samples_total ");
		rescans = metric(t, "\nheadroom_exporter_cgroup_rescans_total ");
	}
	export_stop(e);
	free(t);
	sh("rm -rf '%s'", d);
	assert_true(samples >= 41);
	if (rescans < 0.42 * (double)samples)
		fail_msg("%lld rescans in %lld sampling passes at --rescan 2x the interval", rescans, samples);
	assert_true(rescans <= samples / 2 + 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(layouts_from_fixture),
		cmocka_unit_test(names_from_runtime_records),
		cmocka_unit_test(hostile_records_refused),
		cmocka_unit_test(exporter_names_a_node),
		cmocka_unit_test(exporter_rescans_on_its_period),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
