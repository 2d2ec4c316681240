#!/usr/bin/env bash
# headroom size --prometheus per workload on 5,000 containers over a week (issue 13): the
# synthetic fleet of tests/it_fleet_prometheus.sh plus SCALE Deployments of 10 pods, backfilled
# into a real Prometheus on loopback; times `size --prometheus` (wall, its own CPU and peak RSS,
# median of RUNS) and Prometheus' peak RSS, and checks the query count does not grow with pods.
# Usage: bench/fleet-5000.sh [BUILD] ; env SCALE (500), STEP (cAdvisor sample spacing, s; 900),
# RUNS (3), PORT (24190). Figures in bench/results/fleet-5000.json. Needs ~3 GB of RAM and
# ~2 GB of disk under $TMPDIR while it runs; removes them after.
set -euo pipefail
BUILD=${1:-build}
SCALE=${SCALE:-500}
STEP=${STEP:-900}
RUNS=${RUNS:-3}
PORT=${PORT:-24190}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
HEADROOM=$(cd "$BUILD" && pwd)/headroom
for tool in prometheus promtool python3 curl /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "fleet-5000: $tool missing (scripts/install-deps.sh)" >&2; exit 1; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/headroom-fleet-bench.XXXXXX")
PPID_PROM=
cleanup() { [ -n "$PPID_PROM" ] && kill "$PPID_PROM" 2>/dev/null && wait "$PPID_PROM" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
cd "$T"
END=$(( $(date +%s) / 60 * 60 - 120 ))
AT=$(( END + 30 ))
s0=$(date +%s.%N)
/usr/bin/time -f '%e %M' -o gen.time python3 "$src/tests/lib/fleet_synth.py" generate fleet.om "$END" --scale "$SCALE" --step "$STEP"
s1=$(date +%s.%N)
lines=$(cat fleet.om.* | wc -l)
ls fleet.om.* | xargs -P2 -I{} promtool tsdb create-blocks-from openmetrics -q {} tsdb >/dev/null
s2=$(date +%s.%N)
rm -f fleet.om.*
echo 'global: {scrape_interval: 1m}' > prom.yml
prometheus --config.file=prom.yml --storage.tsdb.path="$T/tsdb" --storage.tsdb.retention.time=30d \
	--web.listen-address=127.0.0.1:$PORT > prom.log 2>&1 &
PPID_PROM=$!
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$PORT/-/ready" >/dev/null 2>&1 && break; sleep 0.5; done
curl -sf "http://127.0.0.1:$PORT/-/ready" >/dev/null || { echo "fleet-5000: prometheus did not start: $(tail -3 prom.log)" >&2; exit 1; }
prom_rss_before=$(awk '/VmRSS/ {print $2}' /proc/$PPID_PROM/status)
for i in $(seq "$RUNS"); do
	/usr/bin/time -f '%e %U %M' -o "run$i.time" "$HEADROOM" size --prometheus "http://127.0.0.1:$PORT" --at "$AT" \
		--window 7d --step "${STEP}s" --timeout 300s --format json > "run$i.json" 2> "run$i.err"
done
prom_hwm=$(awk '/VmHWM/ {print $2}' /proc/$PPID_PROM/status)
python3 - "$RUNS" "$lines" "$(echo "$s1 - $s0" | bc)" "$(echo "$s2 - $s1" | bc)" "$prom_rss_before" "$prom_hwm" "$SCALE" "$STEP" <<'PY' | tee "$here/results/fleet-5000.json"
import json, statistics, sys
runs, lines, gen_s, blocks_s, prss, phwm, scale, step = sys.argv[1:]
t = [list(map(float, open("run%d.time" % i).read().split())) for i in range(1, int(runs) + 1)]
d = json.load(open("run1.json"))
ctrs = sum(w["pods"] for w in d["workloads"])
print(json.dumps({
    "containers": ctrs, "workload_rows": len(d["workloads"]), "queries": d["queries"],
    "samples_lines": int(lines), "cadvisor_step_s": int(step), "scale_deployments": int(scale),
    "generate_s": round(float(gen_s), 1), "create_blocks_s": round(float(blocks_s), 1),
    "size_wall_s_median": statistics.median(x[0] for x in t), "size_wall_s_all": [x[0] for x in t],
    "size_user_cpu_s_median": statistics.median(x[1] for x in t),
    "size_max_rss_mib_median": round(statistics.median(x[2] for x in t) / 1024, 1),
    "prometheus_rss_mib_before": round(int(prss) / 1024, 1), "prometheus_peak_rss_mib": round(int(phwm) / 1024, 1),
    "query_seconds_median": {q: statistics.median(json.load(open("run%d.json" % i))["query_seconds"][q]
                                                  for i in range(1, int(runs) + 1))
                             for q in d.get("query_seconds", {})},
}, indent=1))
PY
