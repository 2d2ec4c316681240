#!/usr/bin/env bash
# headroom export as a node agent at scale (issue 17.5; not a test: numbers to read).
# N containers in kubelet-shaped v1 memory cgroups (kubepods/burstable/pod<UID>/<ID>), one process
# each, each with a containerd record carrying the CRI annotations (so every series has its
# namespace/pod/container labels, as on a node), and `headroom export --cgroup-root --interval 1s`
# over them, scraped once a second. Measured:
#   - CPU: % of one core, from /proc/PID/schedstat (ns on CPU), over the run and per minute
#   - RSS: VmRSS every 10 s (start, end, min, max, drift first → last minute)
#   - series per scrape, bytes per scrape, scrape latency (median, p95, max over all scrapes)
#   - a container started during the run: seconds until the exporter has it (vs --rescan)
# Goals (issue 17): <= 1 % of a core, <= 16 MiB RSS, flat; scrapes < 50 ms.
# usage: bench/node-agent.sh [BUILD_DIR] [DURATION] [N]   (default build, 2m, 500)
#        SCRAPE_EVERY=15 bench/node-agent.sh ...           (seconds between scrapes; default 1)
set -euo pipefail
BUILD=${1:-build}
DUR=${2:-2m}
N=${3:-500}
EVERY=${SCRAPE_EVERY:-1}
HR="$BUILD/headroom"
MEMROOT=/sys/fs/cgroup/memory
[ -w "$MEMROOT" ] || { echo "node-agent.sh: needs root and the v1 memory hierarchy at $MEMROOT" >&2; exit 1; }
T=$(mktemp -d /tmp/headroom-nodebench.XXXXXX)
NODE=$MEMROOT/hr-bench-node-$$
K=$NODE/kubepods/burstable
RT=$T/containerd/io.containerd.runtime.v2.task/k8s.io
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -d "$NODE" ] && find "$NODE" -depth -type d -exec rmdir {} + 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
secs=$(python3 -c "
import re; m=re.fullmatch(r'(\d+)(s|m|h)', '$DUR'); print(int(m[1])*{'s':1,'m':60,'h':3600}[m[2]])")
port() { python3 -c 'import socket,sys
for p in range(int(sys.argv[1]), 26000):
    s = socket.socket()
    try: s.bind(("127.0.0.1", p)); print(p); break
    except OSError: pass' "$1"; }

# add_container I: a pod cgroup, a container cgroup with one sleeping process, its record
add_container() {
  local i=$1 uid cid
  uid=$(printf '%08x-0000-4000-8000-%012x' "$i" "$$")
  cid=$(printf '%064x' $(( i * 7919 + 1 )))
  mkdir -p "$K/pod$uid/$cid" "$RT/$cid"
  printf '{"ociVersion":"1.0.2-dev","annotations":{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.container-name":"app","io.kubernetes.cri.sandbox-name":"web-%d","io.kubernetes.cri.sandbox-namespace":"bench","io.kubernetes.cri.sandbox-uid":"%s"}}\n' \
    "$i" "$uid" > "$RT/$cid/config.json"
  sh -c 'echo $$ > "$1/cgroup.procs"; exec sleep 100000' sh "$K/pod$uid/$cid" &
  PIDS+=("$!")
}
echo "starting $N containers ..."
for i in $(seq 1 "$N"); do add_container "$i"; done
sleep 1
EP=$(port 25300)
"$HR" export --cgroup-root "$NODE/kubepods" --containerd-state "$T/containerd" --listen "127.0.0.1:$EP" \
  --interval 1s --rescan 10s 2> "$T/export.log" &
hx=$!; PIDS+=("$hx")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$EP/metrics" -o /dev/null 2>/dev/null && break; sleep 0.1; done
sleep 12   # a full rescan and a dozen samples before measuring

# every thread's time on CPU (the process's own schedstat is its main thread only)
cpu_ns() { cat /proc/$hx/task/*/schedstat | awk '{s += $1} END {printf "%.0f\n", s}'; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$hx/status"; }
c0=$(cpu_ns); t0=$(date +%s%N)
: > "$T/rss"; : > "$T/scrape"; : > "$T/cpu"
late_at=$((secs / 2)); late_found=""
cmin=$(cpu_ns); tmin=$t0
for s in $(seq 1 "$secs"); do
  if [ $((s % EVERY)) -eq 0 ] || [ "$s" -gt "$late_at" -a -z "$late_found" ]; then
    curl -s -o "$T/m.txt" -w '%{time_total} %{size_download}\n' "http://127.0.0.1:$EP/metrics" >> "$T/scrape"
  fi
  if [ $((s % 10)) -eq 0 ]; then echo "$s $(rss_kb)" >> "$T/rss"; fi
  if [ $((s % 60)) -eq 0 ]; then
    c=$(cpu_ns); t=$(date +%s%N)
    echo "$s $(python3 -c "print(round(($c - $cmin) / ($t - $tmin) * 100, 3))")" >> "$T/cpu"; cmin=$c; tmin=$t
  fi
  if [ "$s" -eq "$late_at" ]; then add_container $((N + 1)); t_late=$(date +%s%N); fi
  if [ "$s" -gt "$late_at" ] && [ -z "$late_found" ] && grep -q "pod=\"web-$((N + 1))\"" "$T/m.txt"; then
    late_found=$(( ($(date +%s%N) - t_late) / 1000000 ))
  fi
  sleep 0.95
done
c1=$(cpu_ns); t1=$(date +%s%N)
# as Prometheus asks: gzip (after the CPU figure, so it is not counted there)
: > "$T/gz"
for _ in $(seq 20); do
  curl -s -H 'Accept-Encoding: gzip' -o /dev/null -w '%{time_total} %{size_download}\n' "http://127.0.0.1:$EP/metrics" >> "$T/gz"
  sleep 0.2
done
series=$(grep -vc '^#' "$T/m.txt")
named=$(sed -n 's/^headroom_node_containers{state="named"} //p' "$T/m.txt")
python3 - "$T" "$c0" "$c1" "$t0" "$t1" "$N" "$series" "${named:-0}" "${late_found:-never}" "$DUR" "$EVERY" <<'EOF'
import sys, statistics
T, c0, c1, t0, t1, n, series, named, late, dur, every = sys.argv[1:]
c0, c1, t0, t1 = map(int, (c0, c1, t0, t1))
lat = []; size = []
for line in open(T + "/scrape"):
    a, b = line.split(); lat.append(float(a) * 1000); size.append(int(b))
rss = [(int(a), int(b)) for a, b in (l.split() for l in open(T + "/rss"))]
cpu = [l.split() for l in open(T + "/cpu")]
lat.sort()
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"containers {n} (named {named}), interval 1s, rescan 10s, {dur}, a scrape every {every} s")
print(f"CPU        {(c1 - c0) / (t1 - t0) * 100:.3f} % of one core over the run; per minute: {' '.join(c for _, c in cpu) or '-'}")
if rss:
    first = [b for a, b in rss if a <= 60] or [rss[0][1]]
    last = [b for a, b in rss if a > rss[-1][0] - 60] or [rss[-1][1]]
    print(f"RSS        start {rss[0][1]/1024:.2f} MiB, end {rss[-1][1]/1024:.2f} MiB, min {min(b for _, b in rss)/1024:.2f}, "
          f"max {max(b for _, b in rss)/1024:.2f}, drift (last - first minute) {(statistics.mean(last) - statistics.mean(first))/1024:+.3f} MiB")
print(f"series     {series} per scrape")
print(f"scrape     {statistics.median(size)/1024:.1f} KiB; latency median {statistics.median(lat):.2f} ms, p95 {p(0.95):.2f} ms, max {lat[-1]:.2f} ms ({len(lat)} scrapes)")
gz = [l.split() for l in open(T + "/gz")]
if gz:
    gl = sorted(float(a) * 1000 for a, _ in gz)
    print(f"gzip       {statistics.median(int(b) for _, b in gz)/1024:.1f} KiB per scrape; latency median {statistics.median(gl):.2f} ms, max {gl[-1]:.2f} ms ({len(gl)} scrapes)")
print(f"rescan     a container started mid-run was exported after {late} ms (--rescan 10s)")
EOF
grep -E '^headroom_exporter_(samples_total|sample_seconds_total|sample_duration_seconds) ' "$T/m.txt" | sed 's/^/           /'
grep -v 'exporting on' "$T/export.log" | head -5 || true
