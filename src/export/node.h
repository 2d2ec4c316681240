/* node: which Kubernetes container a cgroup is, from the kubelet's cgroup naming and the container
 * runtime's own record of the container.
 *
 * The kubelet names pod cgroups after the pod's QoS class and UID, the runtime names the
 * container's cgroup after its id (FACTS.md "Kubelet cgroup names"):
 *   cgroupfs driver:  kubepods[/burstable|/besteffort]/pod<UID>/<CID>      (CRI-O: crio-<CID>)
 *   systemd driver:   kubepods.slice[/kubepods-<qos>.slice]/kubepods[-<qos>]-pod<UID, _ for ->.slice/
 *                     {cri-containerd,crio,docker}-<CID>.scope
 *   podman:           libpod_parent/libpod-<CID> (cgroupfs), machine.slice/libpod-<CID>.scope
 * The names (namespace, pod, container) and whether it is a sandbox ("pause") come from the
 * runtime's record of the container, read-only: containerd's bundle config.json (CRI annotations),
 * CRI-O's userdata/config.json (its annotations), docker's config.v2.json (cri-dockerd labels),
 * podman's containers.json. Every file is hostile input: read with a size bound, names checked
 * against the runtime's own id, values bounded and escaped by the caller.
 * Knows nothing of sampling or HTTP; errors are negative errno values.
 */
#ifndef HEADROOM_NODE_H
#define HEADROOM_NODE_H

#include <stdbool.h>
#include <stddef.h>

/* Longest label value kept (Kubernetes names are at most 253 bytes: a DNS subdomain). */
#define NODE_NAME_MAX 253
/* Largest runtime record read; containerd's config.json is ~10-30 KiB (env, mounts, seccomp). */
#define NODE_RECORD_MAX (1024 * 1024)

enum node_runtime { NODE_RT_UNKNOWN, NODE_RT_CONTAINERD, NODE_RT_CRIO, NODE_RT_DOCKER, NODE_RT_PODMAN };

struct node_container {
	/* from the cgroup path */
	bool kube;                     /* under a kubelet pod cgroup */
	char qos[12];                  /* "guaranteed", "burstable", "besteffort"; "" outside kube */
	char pod_uid[40];              /* with dashes, as kube-state-metrics' uid label */
	char id[72];                   /* container id (hex), "" when the leaf names none */
	enum node_runtime runtime;     /* from a scope prefix, or the record found */
	/* from the runtime's record */
	bool named;
	bool sandbox;                  /* the pod's pause container */
	char namespace_[NODE_NAME_MAX + 1], pod[NODE_NAME_MAX + 1], container[NODE_NAME_MAX + 1];
	char note[160];                /* why it could not be named, for the operator */
};

/* Where the runtimes keep their records (NULL: the default under `host_root`). */
struct node_runtime_dirs {
	const char *host_root;         /* prefix for the defaults, e.g. "/host" in a DaemonSet; NULL: "" */
	const char *containerd_state;  /* default /run/containerd */
	const char *crio_state;        /* default /run/containers/storage */
	const char *docker_root;       /* default /var/lib/docker */
	const char *podman_root;       /* default /var/lib/containers/storage */
};

/* Reads the kubelet/runtime naming of a cgroup path (absolute or relative). Returns 0 when the
 * leaf is a container cgroup (an id was found), -ENOENT when it names no container (a pod or QoS
 * level cgroup, something else), with whatever was found filled in either way. */
int node_parse_cgroup_path(const char *path, struct node_container *ret);

/* Fills the names from the runtime's record of c->id. 0 when named; -ENOENT no record found
 * (c->note says where it looked), -EINVAL a record that is not the JSON expected, -EFBIG too big. */
int node_name_container(const struct node_runtime_dirs *dirs, struct node_container *c);

const char *node_runtime_name(enum node_runtime rt);

#endif
