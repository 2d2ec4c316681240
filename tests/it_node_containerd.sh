#!/usr/bin/env bash
# headroom export as a node agent, on the runtime Kubernetes uses: containerd + runc started by
# hand (FACTS.md "Real containers"), an image built here with podman and imported, containers run
# where the kubelet's cgroupfs driver puts them with the annotations the CRI plugin sets. A real
# Prometheus scrapes the exporter and sees each container by namespace/pod/container, a spike
# between scrapes at its height, an OOM kill under a limit, a container that goes away and one
# found by a rescan; the shared v1 peak (cAdvisor's max_usage) is left alone; podman's
# containers are named too. Skips (77) only where containerd, runc, podman or Prometheus are not
# installed (scripts/install-deps.sh node) or the v1 memory hierarchy is not writable.
. "$(dirname "$0")/lib.sh"
cd "$T"
for tool in containerd ctr runc podman prometheus curl python3 gcc; do
  command -v "$tool" >/dev/null || { echo "skip: $tool not installed (scripts/install-deps.sh node)"; exit 77; }
done
MEMROOT=/sys/fs/cgroup/memory
[ "$(id -u)" -eq 0 ] && [ -w "$MEMROOT" ] && [ -e "$MEMROOT/memory.usage_in_bytes" ] ||
  { echo "skip: needs root and a writable cgroup v1 memory hierarchy at $MEMROOT"; exit 77; }
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || [ -n "$(gcc -print-file-name=libc.a | grep /)" ] ||
  { echo "skip: no static libc for the image (libc6-dev)"; exit 77; }

NODE=hr-it-node-$$                  # our own kubepods tree: parallel runs do not see each other
KROOT=$MEMROOT/$NODE/kubepods
CTD=$T/ctd
PIDS=()
CIDS=()
ctr_() { ctr -a "$CTD/c.sock" -n k8s.io "$@"; }
cleanup() {
  for c in "${CIDS[@]}"; do ctr_ task kill -s KILL "$c" >/dev/null 2>&1 || true; done
  sleep 0.3
  for c in "${CIDS[@]}"; do ctr_ task delete -f "$c" >/dev/null 2>&1 || true; ctr_ containers rm "$c" >/dev/null 2>&1 || true; done
  podman --storage-driver=vfs rm -f "$NODE-web" >/dev/null 2>&1 || true
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  # leaves first: a cgroup directory goes only when it has no children
  [ -d "$MEMROOT/$NODE" ] && find "$MEMROOT/$NODE" -depth -type d -exec rmdir {} + 2>/dev/null || true
  for ctl in /sys/fs/cgroup/*/; do [ -d "$ctl$NODE" ] && find "$ctl$NODE" -depth -type d -exec rmdir {} + 2>/dev/null; done || true
  podman --storage-driver=vfs rmi -f "localhost/$NODE:1" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT

# 1. A small image of static test programs, built with podman, saved, imported into containerd.
cat > oomkid.c <<'EOF'
/* oomkid: a worker child touches memory until the kernel's memcg OOM killer ends it under the
 * container's limit; the parent (the container's init) reports and stays, like a server whose
 * worker died. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	unsigned hold = argc > 1 ? (unsigned)atoi(argv[1]) : 60;
	pid_t c = fork();
	if (c == 0) {
		for (;;) {
			char *p = malloc(1 << 20);
			if (!p) _exit(1);
			memset(p, 7, 1 << 20);
		}
	}
	int st = 0;
	waitpid(c, &st, 0);
	printf("child %s %d\n", WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	fflush(stdout);
	sleep(hold);
	return 0;
}
EOF
mkdir img
for p in memgrow memspike; do gcc -static -O2 -o "img/$p" "$SRC/tests/progs/$p.c"; done
gcc -static -O2 -o img/oomkid oomkid.c
printf 'FROM scratch\nCOPY memgrow memspike oomkid /\n' > img/Containerfile
PODMAN=(podman --cgroup-manager=cgroupfs --storage-driver=vfs --runtime /usr/sbin/runc)
"${PODMAN[@]}" build -q -t "localhost/$NODE:1" -f img/Containerfile img >/dev/null
"${PODMAN[@]}" save -q --format docker-archive -o img.tar "localhost/$NODE:1"
containerd --root "$CTD/root" --state "$CTD/state" --address "$CTD/c.sock" > containerd.log 2>&1 &
PIDS+=("$!")
for _ in $(seq 50); do [ -S "$CTD/c.sock" ] && ctr_ version >/dev/null 2>&1 && break; sleep 0.1; done
ctd_up() { ctr_ version >/dev/null 2>&1; }
check "containerd started by hand" ctd_up
ctr_ images import img.tar >/dev/null
check "the podman-built image is imported" grep -q "$NODE" <(ctr_ images ls -q)

# run_ctr QOS POD NS NAME LIMIT_BYTES CMD...: a container where the kubelet puts it, with the CRI
# annotations; sets CID. QOS guaranteed|burstable|besteffort.
declare -A UIDS
run_ctr() {
  local qos=$1 pod=$2 ns=$3 name=$4 limit=$5; shift 5
  local uid=${UIDS[$pod]:-$(cat /proc/sys/kernel/random/uuid)}; UIDS[$pod]=$uid
  CID=$(head -c 32 /dev/urandom | sha256sum | cut -c1-64)
  local lvl=""; [ "$qos" = guaranteed ] || lvl="/$qos"
  local lim=(); [ "$limit" -gt 0 ] && lim=(--memory-limit "$limit")
  ctr_ run -d --snapshotter native --cgroup "/$NODE/kubepods$lvl/pod$uid/$CID" "${lim[@]}" \
    --annotation io.kubernetes.cri.container-type=container --annotation "io.kubernetes.cri.container-name=$name" \
    --annotation "io.kubernetes.cri.sandbox-name=$pod" --annotation "io.kubernetes.cri.sandbox-namespace=$ns" \
    --annotation "io.kubernetes.cri.sandbox-uid=$uid" "localhost/$NODE:1" "$CID" "$@" >/dev/null
  CIDS+=("$CID")
}

# 2. Before the exporter: a steady container and its pod's sandbox.
run_ctr burstable web-0 shop app $((64 << 20)) /memgrow 24 4 10 60000; APP=$CID
SID=$(head -c 32 /dev/urandom | sha256sum | cut -c1-64)
ctr_ run -d --snapshotter native --cgroup "/$NODE/kubepods/burstable/pod${UIDS[web-0]}/$SID" \
  --annotation io.kubernetes.cri.container-type=sandbox --annotation io.kubernetes.cri.sandbox-name=web-0 \
  --annotation io.kubernetes.cri.sandbox-namespace=shop --annotation "io.kubernetes.cri.sandbox-uid=${UIDS[web-0]}" \
  "localhost/$NODE:1" "$SID" /memgrow 1 1 10 60000 >/dev/null; CIDS+=("$SID")
for _ in $(seq 50); do [ -e "$KROOT/burstable/pod${UIDS[web-0]}/$APP/cgroup.procs" ] && break; sleep 0.1; done
check "the container's cgroup is where the kubelet puts it" grep -q . "$KROOT/burstable/pod${UIDS[web-0]}/$APP/cgroup.procs"

EPORT=$(free_port)
"$HEADROOM" export --cgroup-root "$KROOT" --containerd-state "$CTD/state" --listen "127.0.0.1:$EPORT" \
  --interval 1s --peak-window 5s --rescan 2s 2> exporter.log &
EPID=$!; PIDS+=("$EPID")
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$EPORT/metrics" -o /dev/null && break; sleep 0.1; done
PPORT=$(free_port)
cat > prom.yml <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: headroom-node
    static_configs: [{targets: ['127.0.0.1:$EPORT']}]
EOF
prometheus --config.file=prom.yml --storage.tsdb.path="$T/tsdb" --web.listen-address="127.0.0.1:$PPORT" > prom.log 2>&1 &
PIDS+=("$!")
PROM=http://127.0.0.1:$PPORT

# 3. After the exporter: a container that spikes 48 MiB for 30 ms every 1.5 s (between 1 s scrapes),
# and one whose worker is OOM-killed under its 32 MiB limit.
# The clock starts when the container runs (ctr run -d has returned), not before ctr starts it:
# on a loaded machine ctr itself can take seconds, which are not the exporter's.
run_ctr besteffort spiky-1 shop spike 0 /memspike 8 48 30 1500 40; SPIKE=$CID
t_spike=$(date +%s%N)
found_ms=""
for _ in $(seq 60); do
  if curl -sf "http://127.0.0.1:$EPORT/metrics" | grep -q "container=\"spike\""; then
    found_ms=$(( ($(date +%s%N) - t_spike) / 1000000 )); break; fi
  sleep 0.1
done
check "a container started later is found within one --rescan of 2 s (+1 s interval): ${found_ms:-never} ms" \
  test -n "$found_ms" -a "${found_ms:-99999}" -le 3500
run_ctr guaranteed batch-7 jobs hog $((32 << 20)) /oomkid 60

for _ in $(seq 100); do curl -sf "$PROM/-/ready" >/dev/null 2>&1 && break; sleep 0.2; done
promql() { curl -sf "$PROM/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "none")'; }
promlabels() { curl -sf "$PROM/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
m = r[0]["metric"] if r else {}
print(" ".join(k + "=" + m.get(k, "") for k in ("namespace", "pod", "container", "uid", "container_id", "qos")))'; }

# until Prometheus holds what the checks below read: a spike at its height, the hog's OOM kill at
# the limit, the steady container's usage (polled: a loaded machine decides when scrapes happen;
# 60 s bounds an exporter that never gets there)
true_spike=$(( (8 + 48) << 20 ))
scraped_all() {
  local v
  v=$(promql 'max_over_time(headroom_cgroup_usage_peak_bytes{container="spike"}[1m])'); [ "${v%.*}" != none ] && [ "${v%.*}" -ge "$true_spike" ] || return 1
  v=$(promql 'max_over_time(headroom_cgroup_usage_peak_bytes{container="hog"}[1m])'); [ "${v%.*}" != none ] && [ "${v%.*}" -ge $((31 << 20)) ] || return 1
  [ "$(promql 'headroom_oom_kills_total{container="hog"}')" = 1 ] || return 1
  v=$(promql 'headroom_cgroup_usage_bytes{container="app"}'); [ "${v%.*}" != none ] && [ "${v%.*}" -ge $((24 << 20)) ]
}
eventually 60 scraped_all || true
curl -sf "http://127.0.0.1:$EPORT/metrics" > m.txt
plainb=$(curl -s -o /dev/null -w '%{size_download}' "http://127.0.0.1:$EPORT/metrics")
gzb=$(curl -s -H 'Accept-Encoding: gzip' -D gz.h -o m.gz -w '%{size_download}' "http://127.0.0.1:$EPORT/metrics")
check "asked for gzip, the answer is gzip ($gzb bytes against $plainb)" grep -qi '^content-encoding: gzip' gz.h
check "and holds the same exposition" test "$(gunzip -c m.gz | grep -c '^headroom_cgroup_usage_bytes{')" = "$(grep -c '^headroom_cgroup_usage_bytes{' m.txt)"
promtool check metrics < m.txt > lint.txt 2>&1; rc=$?
check "promtool parses the node exposition (rc $rc: 0 clean, 3 lint only)" test "$rc" -eq 0 -o "$rc" -eq 3
expect_eq "Prometheus has the steady container by its Kubernetes names" \
  "$(promlabels 'headroom_cgroup_usage_bytes{container="app"}')" \
  "namespace=shop pod=web-0 container=app uid=${UIDS[web-0]} container_id=$APP qos=burstable"
usage=$(promql 'headroom_cgroup_usage_bytes{namespace="shop",pod="web-0",container="app"}')
check "and measures it: usage $usage >= its 24 MiB" test "${usage%.*}" -ge $((24 << 20))
expect_eq "its limit is the container's" "$(promql 'headroom_cgroup_limit_bytes{container="app"}')" $((64 << 20))
expect_eq "the sandbox (pause) container is not exported" "$(promql "count(headroom_cgroup_usage_bytes{container_id=\"$SID\"})")" none
expect_eq "and counted as a sandbox" "$(promql 'headroom_node_containers{state="sandbox"}')" 1
expect_eq "the worker OOM-killed under the 32 MiB limit is counted" \
  "$(promql 'headroom_oom_kills_total{namespace="jobs",pod="batch-7",container="hog",qos="guaranteed"}')" 1
hogpeak=$(promql 'max_over_time(headroom_cgroup_usage_peak_bytes{container="hog"}[1m])')
hogplain=$(promql 'max_over_time(headroom_cgroup_usage_bytes{container="hog"}[1m])')
check "its usage peak reached the limit ($hogpeak of $((32 << 20)); the plain gauge saw $hogplain)" \
  test "${hogpeak%.*}" -ge $((31 << 20))
peak=$(promql 'max_over_time(headroom_cgroup_usage_peak_bytes{container="spike"}[1m])')
plain=$(promql 'max_over_time(headroom_cgroup_usage_bytes{container="spike"}[1m])')
check "the spike between scrapes reaches Prometheus at its height (peak $peak >= 56 MiB)" \
  test "${peak%.*}" -ge "$true_spike"
echo "     (the plain usage gauge scraped every second saw at most $plain bytes)"
expect_eq "the v1 peak is marked sampled by default (exact=0)" \
  "$(promql 'headroom_cgroup_usage_peak_exact{container="spike"}')" 0
maxu=$(cat "$KROOT/besteffort/pod${UIDS[spiky-1]}/$SPIKE/memory.max_usage_in_bytes")
check "the shared v1 max_usage_in_bytes (cAdvisor's) was not reset: $maxu >= 56 MiB" test "$maxu" -ge "$true_spike"

# 4. A container that goes away drops its series; the scrape still succeeds.
ctr_ task kill -s KILL "$APP" >/dev/null; sleep 0.5; ctr_ task delete "$APP" >/dev/null 2>&1 || true
# until a rescan has dropped it (30 s at most)
app_gone() { code=$(curl -s -o m2.txt -w '%{http_code}' "http://127.0.0.1:$EPORT/metrics"); ! grep -q "container_id=\"$APP\"" m2.txt; }
eventually 30 app_gone || true
expect_eq "scrape succeeds after a container went away" "$code" 200
check "its series are gone" test -z "$(grep "container_id=\"$APP\"" m2.txt)"
check "the others remain" grep -q 'container="spike"' m2.txt

# 5. podman's containers, named from podman's own containers.json.
"${PODMAN[@]}" run -d --name "$NODE-web" --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --memory=64m \
  --cgroup-parent "/$NODE/libpod_parent" "localhost/$NODE:1" /memgrow 16 4 10 60000 >/dev/null
P2=$(free_port)
"$HEADROOM" export --cgroup-root "$MEMROOT/$NODE/libpod_parent" --listen "127.0.0.1:$P2" --interval 500ms 2> podman-exp.log &
PIDS+=("$!")
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$P2/metrics" 2>/dev/null | grep -q "container=\"$NODE-web\"" && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$P2/metrics" > mp.txt || true
check "a podman container is named from podman's record" \
  grep -qE "^headroom_cgroup_usage_bytes\{container=\"$NODE-web\",container_id=\"[0-9a-f]{64}\",runtime=\"podman\"\} [0-9]+" mp.txt

# 6. --reset-peaks, the explicit choice: every interval's peak exact, and the shared v1 counter
# (cAdvisor's container_memory_max_usage_bytes) now restarts at every interval.
P3=$(free_port)
"$HEADROOM" export --cgroup-root "$KROOT" --containerd-state "$CTD/state" --listen "127.0.0.1:$P3" \
  --interval 500ms --peak-window 3s --rescan 1s --reset-peaks 2> reset.log &
PIDS+=("$!")
sp=""; ex=""
for _ in $(seq 40); do
  m=$(curl -sf "http://127.0.0.1:$P3/metrics" 2>/dev/null || true)
  ex=$(sed -n 's/^headroom_cgroup_usage_peak_exact{namespace="shop",pod="spiky-1",container="spike",.*} //p' <<<"$m")
  sp=$(sed -n 's/^headroom_cgroup_usage_peak_bytes{namespace="shop",pod="spiky-1",container="spike",.*} //p' <<<"$m")
  [ "${ex:-0}" = 1 ] && [ "${sp:-0}" -ge "$true_spike" ] && break
  sleep 0.25
done
check "with --reset-peaks a spike that is no new high is still caught exactly (exact=$ex, peak ${sp:-none})" \
  test "${ex:-0}" = 1 -a "${sp:-0}" -ge "$true_spike"
low=""
for _ in $(seq 30); do
  v=$(cat "$KROOT/besteffort/pod${UIDS[spiky-1]}/$SPIKE/memory.max_usage_in_bytes")
  [ "$v" -lt "$true_spike" ] && { low=$v; break; }
  sleep 0.1
done
check "and it resets the shared max_usage_in_bytes, as documented (seen at ${low:-never})" test -n "$low"

check "the exporter printed no error" test -z "$(grep -v 'exporting on\|note:' exporter.log)"
finish
