#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *node_runtime_name(enum node_runtime rt)
{
	switch (rt) {
	case NODE_RT_CONTAINERD: return "containerd";
	case NODE_RT_CRIO: return "cri-o";
	case NODE_RT_DOCKER: return "docker";
	case NODE_RT_PODMAN: return "podman";
	case NODE_RT_UNKNOWN: break;
	}
	return "";
}

static bool starts(const char *s, size_t len, const char *prefix)
{
	size_t pl = strlen(prefix);
	return len >= pl && memcmp(s, prefix, pl) == 0;
}

static bool ends(const char *s, size_t len, const char *suffix)
{
	size_t sl = strlen(suffix);
	return len >= sl && memcmp(s + len - sl, suffix, sl) == 0;
}

/* Container ids are 64 lower-case hex digits in every runtime here; 12 is docker's short form. */
static bool copy_id(const char *s, size_t len, char *out, size_t cap)
{
	if (len < 12 || len >= cap)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	memcpy(out, s, len);
	out[len] = 0;
	return true;
}

/* A pod UID: a UUID (36 with dashes) or a static pod's 32-hex hash; systemd names use '_' for '-'. */
static bool copy_uid(const char *s, size_t len, char *out, size_t cap)
{
	if (len < 8 || len >= cap)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i] == '_' ? '-' : s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-'))
			return false;
		out[i] = c;
	}
	out[len] = 0;
	return true;
}

/* One path component: what it says about QoS, pod and container. Returns 1 when it names a
 * container (the leaf), 0 otherwise. */
static int parse_component(const char *s, size_t len, struct node_container *c)
{
	if ((len == 8 && memcmp(s, "kubepods", 8) == 0) || (len == 14 && memcmp(s, "kubepods.slice", 14) == 0)) {
		c->kube = true;
		snprintf(c->qos, sizeof(c->qos), "guaranteed");
		return 0;
	}
	if (c->kube && !c->pod_uid[0]) {
		if ((len == 9 && memcmp(s, "burstable", 9) == 0) || (len == 24 && memcmp(s, "kubepods-burstable.slice", 24) == 0)) {
			snprintf(c->qos, sizeof(c->qos), "burstable");
			return 0;
		}
		if ((len == 10 && memcmp(s, "besteffort", 10) == 0) || (len == 25 && memcmp(s, "kubepods-besteffort.slice", 25) == 0)) {
			snprintf(c->qos, sizeof(c->qos), "besteffort");
			return 0;
		}
		if (starts(s, len, "pod")) {
			copy_uid(s + 3, len - 3, c->pod_uid, sizeof(c->pod_uid));
			return 0;
		}
		/* systemd: kubepods[-<qos>]-pod<UID>.slice */
		const char *pod = len > 6 ? memmem(s, len, "-pod", 4) : NULL;
		if (starts(s, len, "kubepods-") && ends(s, len, ".slice") && pod) {
			const char *u = pod + 4;
			copy_uid(u, (size_t)(s + len - 6 - u), c->pod_uid, sizeof(c->pod_uid));
			return 0;
		}
	}
	static const struct {
		const char *prefix;
		enum node_runtime rt;
	} scopes[] = {
		{"cri-containerd-", NODE_RT_CONTAINERD}, {"crio-", NODE_RT_CRIO}, {"docker-", NODE_RT_DOCKER},
		{"libpod-", NODE_RT_PODMAN},
	};
	size_t body = ends(s, len, ".scope") ? len - 6 : len;
	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		size_t pl = strlen(scopes[i].prefix);
		if (!starts(s, body, scopes[i].prefix))
			continue;
		/* crio-conmon-<id>, libpod-conmon-<id>: the runtime's monitor, not the container */
		if (copy_id(s + pl, body - pl, c->id, sizeof(c->id))) {
			c->runtime = scopes[i].rt;
			return 1;
		}
		return 0;
	}
	/* cgroupfs driver: the bare id directly under the pod */
	if (c->pod_uid[0] && copy_id(s, len, c->id, sizeof(c->id)))
		return 1;
	return 0;
}

int node_parse_cgroup_path(const char *path, struct node_container *ret)
{
	memset(ret, 0, sizeof(*ret));
	const char *p = path;
	int leaf = 0;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		ret->id[0] = 0;
		ret->runtime = NODE_RT_UNKNOWN;
		leaf = parse_component(p, len, ret);
		p += len;
	}
	if (!leaf) {
		ret->id[0] = 0;
		ret->runtime = NODE_RT_UNKNOWN;
		snprintf(ret->note, sizeof(ret->note), "the cgroup's name is no container id");
		return -ENOENT;
	}
	return 0;
}

/* ---- runtime records ---- */

/* Reads a runtime record: a regular file owned by root (or by us), at most NODE_RECORD_MAX bytes,
 * no symlink as its last component, a complete JSON value of type `want`. */
static int read_record(const char *path, json_type want, json_object **ret)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = 0;
	char *buf = NULL;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid())) {
		rc = -EPERM;
		goto out_close;
	}
	if (st.st_size > NODE_RECORD_MAX) {
		rc = -EFBIG;
		goto out_close;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out_close;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0) {
			rc = -errno;
			goto out_free;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = 0;
	/* a file being rewritten may be short or empty: that is "not JSON", the next rescan retries */
	json_tokener *tok = json_tokener_new_ex(64);
	if (!tok) {
		rc = -ENOMEM;
		goto out_free;
	}
	json_object *o = json_tokener_parse_ex(tok, buf, (int)got);
	bool complete = json_tokener_get_error(tok) == json_tokener_success;
	json_tokener_free(tok);
	if (!o || !complete || !json_object_is_type(o, want)) {
		json_object_put(o);
		rc = -EINVAL;
		goto out_free;
	}
	*ret = o;
out_free:
	free(buf);
out_close:
	close(fd);
	return rc;
}

/* A string member, truncated to the label bound; "" when absent or not a string. */
static void take(json_object *obj, const char *key, char *out, size_t cap)
{
	json_object *v;
	out[0] = 0;
	if (obj && json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, json_type_string))
		snprintf(out, cap, "%s", json_object_get_string(v));
}

struct keys {
	const char *type, *sandbox_value, *name, *pod, *ns, *uid;
};

static const struct keys containerd_keys = {
	"io.kubernetes.cri.container-type", "sandbox", "io.kubernetes.cri.container-name",
	"io.kubernetes.cri.sandbox-name", "io.kubernetes.cri.sandbox-namespace", "io.kubernetes.cri.sandbox-uid",
};
static const struct keys crio_keys = {
	"io.kubernetes.cri-o.ContainerType", "sandbox", "io.kubernetes.container.name",
	"io.kubernetes.pod.name", "io.kubernetes.pod.namespace", "io.kubernetes.pod.uid",
};
static const struct keys docker_keys = {
	"io.kubernetes.docker.type", "podsandbox", "io.kubernetes.container.name",
	"io.kubernetes.pod.name", "io.kubernetes.pod.namespace", "io.kubernetes.pod.uid",
};

static int name_from(json_object *ann, const struct keys *k, struct node_container *c, const char *path)
{
	char type[32], uid[64];
	take(ann, k->type, type, sizeof(type));
	take(ann, k->name, c->container, sizeof(c->container));
	take(ann, k->pod, c->pod, sizeof(c->pod));
	take(ann, k->ns, c->namespace_, sizeof(c->namespace_));
	take(ann, k->uid, uid, sizeof(uid));
	c->sandbox = strcmp(type, k->sandbox_value) == 0;
	if (!c->pod_uid[0] && uid[0])
		copy_uid(uid, strlen(uid), c->pod_uid, sizeof(c->pod_uid));
	if (!c->pod[0] || !c->namespace_[0] || (!c->container[0] && !c->sandbox)) {
		snprintf(c->note, sizeof(c->note), "%.120s has no Kubernetes names", path);
		return -ENOENT;
	}
	if (c->sandbox && !c->container[0])
		snprintf(c->container, sizeof(c->container), "POD");
	c->named = true;
	return 0;
}

static const char *dir_or(const struct node_runtime_dirs *d, const char *set, const char *def, char *buf, size_t cap)
{
	if (set)
		return set;
	snprintf(buf, cap, "%s%s", d && d->host_root ? d->host_root : "", def);
	return buf;
}

static int try_containerd(const struct node_runtime_dirs *d, struct node_container *c)
{
	char base[512], path[1024];
	const char *state = dir_or(d, d ? d->containerd_state : NULL, "/run/containerd", base, sizeof(base));
	static const char *const shims[] = {"io.containerd.runtime.v2.task", "io.containerd.runtime.v1.linux"};
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s/k8s.io/%s/config.json", state, shims[i], c->id);
		json_object *o = NULL;
		int rc = read_record(path, json_type_object, &o);
		if (rc == -ENOENT)
			continue;
		if (rc < 0) {
			snprintf(c->note, sizeof(c->note), "cannot read %.110s: %s", path, strerror(-rc));
			return rc;
		}
		json_object *ann = NULL;
		json_object_object_get_ex(o, "annotations", &ann);
		c->runtime = NODE_RT_CONTAINERD;
		rc = name_from(ann, &containerd_keys, c, path);
		json_object_put(o);
		return rc;
	}
	return -ENOENT;
}

/* A runtime's JSON record of the container, or a note saying why it could not be read (absent is
 * not worth a note: that runtime does not run it). */
static int record_or_note(const char *path, struct node_container *c, json_object **ret)
{
	int rc = read_record(path, json_type_object, ret);
	if (rc < 0 && rc != -ENOENT)
		snprintf(c->note, sizeof(c->note), "cannot read %.110s: %s", path, strerror(-rc));
	return rc;
}

static int try_crio(const struct node_runtime_dirs *d, struct node_container *c)
{
	char base[512], path[1024];
	const char *state = dir_or(d, d ? d->crio_state : NULL, "/run/containers/storage", base, sizeof(base));
	snprintf(path, sizeof(path), "%s/overlay-containers/%s/userdata/config.json", state, c->id);
	json_object *o = NULL;
	int rc = record_or_note(path, c, &o);
	if (rc < 0)
		return rc;
	json_object *ann = NULL;
	json_object_object_get_ex(o, "annotations", &ann);
	c->runtime = NODE_RT_CRIO;
	rc = name_from(ann, &crio_keys, c, path);
	if (rc == -ENOENT) {
		/* the kubelet's CRI labels (the same io.kubernetes.* keys), which CRI-O keeps as one JSON
		 * string in io.kubernetes.cri-o.Labels */
		char text[8192];
		take(ann, "io.kubernetes.cri-o.Labels", text, sizeof(text));
		json_object *labels = text[0] ? json_tokener_parse(text) : NULL;
		if (labels && json_object_is_type(labels, json_type_object)) {
			bool sandbox = c->sandbox;
			rc = name_from(labels, &crio_keys, c, path);
			c->sandbox = sandbox;
			if (rc == 0 && c->sandbox && !c->container[0])
				snprintf(c->container, sizeof(c->container), "POD");
		}
		json_object_put(labels);
	}
	json_object_put(o);
	return rc;
}

static int try_docker(const struct node_runtime_dirs *d, struct node_container *c)
{
	char base[512], path[1024];
	const char *root = dir_or(d, d ? d->docker_root : NULL, "/var/lib/docker", base, sizeof(base));
	snprintf(path, sizeof(path), "%s/containers/%s/config.v2.json", root, c->id);
	json_object *o = NULL;
	int rc = record_or_note(path, c, &o);
	if (rc < 0)
		return rc;
	json_object *cfg = NULL, *labels = NULL;
	if (json_object_object_get_ex(o, "Config", &cfg))
		json_object_object_get_ex(cfg, "Labels", &labels);
	c->runtime = NODE_RT_DOCKER;
	rc = name_from(labels, &docker_keys, c, path);
	json_object_put(o);
	return rc;
}

/* podman keeps every container of a storage driver in one containers.json: [{"id", "names"}] */
static int try_podman(const struct node_runtime_dirs *d, struct node_container *c)
{
	char base[512], path[1024];
	const char *root = dir_or(d, d ? d->podman_root : NULL, "/var/lib/containers/storage", base, sizeof(base));
	static const char *const drivers[] = {"overlay", "vfs", "btrfs", "zfs"};
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s-containers/containers.json", root, drivers[i]);
		json_object *arr = NULL;
		int rc = read_record(path, json_type_array, &arr);
		if (rc < 0)
			continue;
		rc = -ENOENT;
		size_t n = json_object_array_length(arr);
		for (size_t k = 0; k < n; k++) {
			json_object *e = json_object_array_get_idx(arr, k), *id, *names;
			if (!json_object_object_get_ex(e, "id", &id) || !json_object_is_type(id, json_type_string) ||
			    strcmp(json_object_get_string(id), c->id) != 0)
				continue;
			if (json_object_object_get_ex(e, "names", &names) && json_object_is_type(names, json_type_array) &&
			    json_object_array_length(names) > 0) {
				json_object *nm = json_object_array_get_idx(names, 0);
				if (json_object_is_type(nm, json_type_string)) {
					snprintf(c->container, sizeof(c->container), "%s", json_object_get_string(nm));
					c->runtime = NODE_RT_PODMAN;
					c->named = true;
					rc = 0;
				}
			}
			break;
		}
		json_object_put(arr);
		if (rc == 0)
			return 0;
	}
	return -ENOENT;
}

int node_name_container(const struct node_runtime_dirs *dirs, struct node_container *c)
{
	if (!c->id[0])
		return -ENOENT;
	c->note[0] = 0;
	int rc = -ENOENT;
	switch (c->runtime) {
	case NODE_RT_CONTAINERD: rc = try_containerd(dirs, c); break;
	case NODE_RT_CRIO: rc = try_crio(dirs, c); break;
	case NODE_RT_DOCKER: rc = try_docker(dirs, c); break;
	case NODE_RT_PODMAN: rc = try_podman(dirs, c); break;
	case NODE_RT_UNKNOWN:
		/* cgroupfs names only the id: ask each runtime in turn */
		rc = try_containerd(dirs, c);
		if (rc == -ENOENT && !c->note[0])
			rc = try_crio(dirs, c);
		if (rc == -ENOENT && !c->note[0])
			rc = try_docker(dirs, c);
		break;
	}
	if (rc == -ENOENT && !c->note[0])
		snprintf(c->note, sizeof(c->note), "no runtime record of container %.64s", c->id);
	return rc;
}
