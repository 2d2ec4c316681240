#!/usr/bin/env bash
# headroom size --prometheus per workload against a real Prometheus serving a week of a synthetic
# fleet (tests/lib/fleet_synth.py: 4 namespaces, 11 workloads, 60 pods with rollouts, restarts,
# a re-created pod, a gap, OOM kills, cAdvisor, kube-state-metrics and headroom exporter series),
# backfilled with promtool. Every figure is checked against answers recomputed in Python from the
# same OpenMetrics text; the patches are applied to sample manifests (kubectl patch --local when
# kubectl is installed, else and also a strategic merge written in Python); bad input fails clearly.
. "$(dirname "$0")/lib.sh"
cd "$T"
for tool in prometheus promtool curl python3; do
  command -v "$tool" >/dev/null || { echo "skip: $tool not installed (scripts/install-deps.sh)"; exit 77; }
done
python3 -c 'import yaml' 2>/dev/null || { echo "skip: python3-yaml not installed (scripts/install-deps.sh)"; exit 77; }
LIB="$SRC/tests/lib"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT

# 1. A week of the fleet, backfilled and served.
END=$(( $(date +%s) / 60 * 60 - 120 ))
AT=$(( END + 30 ))
t0=$(date +%s%N)
python3 "$LIB/fleet_synth.py" generate fleet.om "$END"
t1=$(date +%s%N)
# one promtool per day file, two at a time (this machine has two cores)
ls fleet.om.* | xargs -P2 -I{} promtool tsdb create-blocks-from openmetrics -q {} tsdb >/dev/null
t2=$(date +%s%N)
echo "     (generated $(cat fleet.om.* | wc -l) lines in $(( (t1 - t0) / 1000000 )) ms; promtool create-blocks took $(( (t2 - t1) / 1000000 )) ms)"
PPORT=$(free_port)
echo 'global: {scrape_interval: 1m}' > prom.yml
prometheus --config.file=prom.yml --storage.tsdb.path="$T/tsdb" --storage.tsdb.retention.time=30d \
  --web.listen-address=127.0.0.1:$PPORT > prom.log 2>&1 &
PIDS+=("$!")
PROM=http://127.0.0.1:$PPORT
for _ in $(seq 150); do curl -sf "$PROM/-/ready" >/dev/null 2>&1 && break; sleep 0.2; done
check "prometheus is ready with the backfilled week" curl -sf "$PROM/-/ready" -o /dev/null

# 2. Every workload and figure against the answers recomputed from the OpenMetrics text.
set +e
"$HEADROOM" size --prometheus "$PROM" --at "$AT" --window 7d --format json > got.json 2> got.err
rc=$?
set -e
expect_eq "size --prometheus per workload succeeds" "$rc" 0
python3 "$LIB/fleet_synth.py" expect fleet.om "$AT" 604800 0.25 > want.json
python3 - got.json want.json > cmp.txt <<'PY'
import json, sys
got = json.load(open(sys.argv[1]))
want = json.load(open(sys.argv[2]))
g = {"%s/%s/%s/%s" % (w["namespace"], w["kind"], w["name"], w["container"]): w for w in got["workloads"]}
bad = []
for k, x in sorted(want["workloads"].items()):
    w = g.get(k)
    if not w:
        bad.append("missing " + k)
        continue
    for f, v in x.items():
        gv = w.get(f)
        ok = abs(gv - v) <= 0.05 * abs(v) + 0.1 if f == "gib_hours_per_month" else gv == v
        if not ok:
            bad.append("%s %s: got %r, want %r" % (k, f, gv, v))
extra = set(g) - set(want["workloads"])
if extra:
    bad.append("unexpected rows %s" % sorted(extra))
ns = {w["namespace"] for w in got["workloads"]}
wl = {(w["namespace"], w["kind"], w["name"]) for w in got["workloads"]}
pods = sum(x["pods"] for k, x in want["workloads"].items() if k.endswith(("/app", "/cart", "/search", "/db", "/api", "/redis", "/agent", "/report", "/migrate", "/grafana", "/shell")))
print("rows=%d namespaces=%d workloads=%d pods=%d fields=%d queries=%d" % (len(g), len(ns), len(wl), pods,
      sum(len(x) for x in want["workloads"].values()), got["queries"]))
for b in bad:
    print("BAD " + b)
PY
cat cmp.txt | head -20
check "every figure of every workload equals the independent answer" test -z "$(grep '^BAD' cmp.txt)"
read -r _ ns wl pods _ < <(sed -n 's/rows=[0-9]* namespaces=\([0-9]*\) workloads=\([0-9]*\) pods=\([0-9]*\).*/x \1 \2 \3 x/p' cmp.txt)
check "the fleet has >= 3 namespaces, >= 10 workloads, >= 50 pods ($ns, $wl, $pods)" test "$ns" -ge 3 -a "$wl" -ge 10 -a "$pods" -ge 50
w() { python3 -c "
import json, sys
for w in json.load(open('got.json'))['workloads']:
    if w['name'] == sys.argv[1] and w['container'] == sys.argv[2]:
        print($3)" "$1" "$2"; }
expect_eq "cart: 5 OOM kills at its 512Mi limit, 6 restarts, flagged under" \
  "$(w cart cart "w['oom_kills'], w['restarts'], w['current_limit_bytes'] >> 20, w['under']")" "5 6 512 True"
expect_eq "cart: sized from the limit that killed it with VPA's raise: 512Mi x 1.2 x 1.25 -> 769Mi" \
  "$(w cart cart "w['recommended_limit_bytes'] >> 20")" 769
expect_eq "search: the peak is the exporter's exact peak, above what KRR's working set sees" \
  "$(w search search "w['peak_source'], w['peak_bytes'] > w['working_set_max_bytes'] + (200 << 20), w['recommended_limit_bytes'] > w['krr_bytes'], w['under']")" \
  "headroom_exact True True True"
check "search: the warning says by how much sampling missed the spikes" \
  python3 -c "import json; w=[w for w in json.load(open('got.json'))['workloads'] if w['name']=='search'][0]; assert any('exact peak is 2' in x for x in w['warnings']), w['warnings']"
expect_eq "etl-api: over-provisioned, the limit goes down by GiBs and GiB-hours are freed" \
  "$(w etl-api api "w['limit_change_bytes'] < -(7 << 30), w['gib_hours_per_month'] < -5000, w['pods'], round(w['avg_replicas'], 1)")" "True True 6 3.0"
expect_eq "node-agent is one DaemonSet, its exact peaks joined by pod uid" \
  "$(w node-agent agent "w['kind'], w['pods'], w['exact_pods'], w['peak_source']")" "DaemonSet 3 3 headroom_exact"
expect_eq "report is one CronJob over its 28 Jobs' pods" "$(w report report "w['kind'], w['pods']")" "CronJob 28"
expect_eq "web: two containers of one Deployment over 3 rollouts (8 pods each)" \
  "$(w web app "w['kind'], w['pods']") $(w web proxy "w['pods']")" "Deployment 8 8"
expect_eq "db: a re-created pod's counter reset counted as increments (3 restarts), and said" \
  "$(w db db "w['restarts'], any('counter went down' in x for x in w['warnings'])")" "3 True"
check "db: the series with a gap is named with its missing fraction" \
  python3 -c "import json; w=[w for w in json.load(open('got.json'))['workloads'] if w['name']=='db'][0]; assert any('1 pod(s) miss up to 12%' in x for x in w['warnings']), w['warnings']"
check "a pod with two controllers is left out, with one line naming it" \
  grep -q "pod shop/orphan-x7k2p has conflicting controllers" got.err
expect_eq "the query count is fixed (18 at most, all needed here)" "$(python3 -c "import json; print(json.load(open('got.json'))['queries'])")" 18
"$HEADROOM" size --prometheus "$PROM" --at "$AT" --window 7d --format json --selector '{namespace="ops"}' > ops.json 2>/dev/null
expect_eq "a selector narrows the fleet; no counter reset or OOM there, so two queries fewer" \
  "$(python3 -c "import json; d=json.load(open('ops.json')); print(sorted({w['namespace'] for w in d['workloads']}), d['queries'])")" "['ops'] 16"

# 3. The other formats say the same.
"$HEADROOM" size --prometheus "$PROM" --at "$AT" --window 7d --format csv > got.csv 2>/dev/null
"$HEADROOM" size --prometheus "$PROM" --at "$AT" --window 7d --format yaml > got.yaml 2>/dev/null
"$HEADROOM" size --prometheus "$PROM" --at "$AT" --window 7d > got.txt 2>/dev/null
check "csv and yaml carry the same limits as json" python3 - <<'PY'
import csv, json, yaml
j = {(w["namespace"], w["name"], w["container"]): w["recommended_limit_bytes"] for w in json.load(open("got.json"))["workloads"]}
c = {(r["namespace"], r["name"], r["container"]): int(r["recommended_limit_bytes"]) for r in csv.DictReader(open("got.csv"))}
y = yaml.safe_load(open("got.yaml"))["workloads"]
ym = {(w["namespace"], w["name"], w["container"]): w["resources"]["limits"]["memory"] for w in y}
assert j == c, (j, c)
assert {k: "%dMi" % (v >> 20) for k, v in j.items()} == ym, ym
PY
check "the table has one line per workload and container" \
  test "$(grep -cE '^(shop|data|ops|batch)/' got.txt)" -eq "$(python3 -c "import json; print(len(json.load(open('got.json'))['workloads']))")"
echo "     table:"; sed 's/^/     /' got.txt | head -14

# 4. --patch: one strategic-merge patch per workload, applied to sample manifests.
mkdir patches manifests
"$HEADROOM" size --prometheus "$PROM" --at "$AT" --window 7d --patch patches > /dev/null 2> patch.err
expect_eq "one patch per workload" "$(ls patches | wc -l)" "$(python3 -c "import json; print(len({(w['namespace'], w['kind'], w['name']) for w in json.load(open('got.json'))['workloads']}))")"
python3 - <<'PY'
import json, yaml
tmpl = {"Deployment": ("apps/v1", ["spec", "template", "spec"]), "StatefulSet": ("apps/v1", ["spec", "template", "spec"]),
        "DaemonSet": ("apps/v1", ["spec", "template", "spec"]), "Job": ("batch/v1", ["spec", "template", "spec"]),
        "CronJob": ("batch/v1", ["spec", "jobTemplate", "spec", "template", "spec"]), "Pod": ("v1", ["spec"])}
wl = {}
for w in json.load(open("got.json"))["workloads"]:
    wl.setdefault((w["namespace"], w["kind"], w["name"]), []).append(w["container"])
for (ns, kind, name), ctrs in wl.items():
    api, path = tmpl[kind]
    doc = {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": ns}}
    spec = {"containers": [{"name": c, "image": "registry.local/%s:1" % c,
                            "resources": {"limits": {"memory": "1Gi", "cpu": "500m"}, "requests": {"memory": "100Mi"}}}
                           for c in ctrs] + [{"name": "untouched", "image": "busybox"}]}
    node = doc
    for p in path[:-1]:
        node = node.setdefault(p, {})
    node[path[-1]] = spec
    if kind in ("Deployment", "StatefulSet", "DaemonSet"):
        doc["spec"]["selector"] = {"matchLabels": {"app": name}}
        doc["spec"]["template"]["metadata"] = {"labels": {"app": name}}
    if kind == "CronJob":
        doc["spec"]["schedule"] = "0 */6 * * *"
    if kind in ("Job", "CronJob"):
        (doc["spec"]["jobTemplate"]["spec"] if kind == "CronJob" else doc["spec"])["template"]["spec"]["restartPolicy"] = "Never"
    yaml.safe_dump(doc, open("manifests/%s.%s.%s.yaml" % (ns, kind.lower(), name), "w"))
PY
# merged MANIFEST_DIR: every container has the recommended memory, cpu and image kept, others untouched
check_merged() { python3 - "$1" <<'PY'
import glob, json, sys, yaml
want = {(w["namespace"], w["kind"], w["name"], w["container"]): w for w in json.load(open("got.json"))["workloads"]}
n = 0
for f in sorted(glob.glob(sys.argv[1] + "/*.yaml")):
    d = yaml.safe_load(open(f))
    spec = d["spec"]
    if d["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    if d["kind"] != "Pod":
        spec = spec["template"]["spec"]
    for c in spec["containers"]:
        k = (d["metadata"]["namespace"], d["kind"], d["metadata"]["name"], c["name"])
        r = c.get("resources", {})
        if c["name"] == "untouched":
            assert "resources" not in c and c["image"] == "busybox", (f, c)
            continue
        w = want[k]
        assert r["limits"]["memory"] == "%dMi" % (w["recommended_limit_bytes"] >> 20), (f, c)
        assert r["requests"]["memory"] == "%dMi" % (w["recommended_request_bytes"] >> 20), (f, c)
        assert r["limits"]["cpu"] == "500m" and c["image"].startswith("registry.local/"), (f, c)
        n += 1
assert n == len(want), (n, len(want))
PY
}
mkdir merged-py
for m in manifests/*.yaml; do
  b=$(basename "$m"); python3 "$LIB/smp_apply.py" "$m" "patches/$b" > "merged-py/$b"
done
check "patches merged by the documented strategic-merge rules set every container's memory" check_merged merged-py
if command -v kubectl >/dev/null 2>&1; then
  kv=$(kubectl version --client -o json 2>/dev/null | python3 -c 'import json,sys; v=json.load(sys.stdin)["clientVersion"]; print(int(v["major"]) * 100 + int(v["minor"].rstrip("+")))' || echo 0)
  mkdir merged-kubectl
  kerr=0
  for m in manifests/*.yaml; do
    b=$(basename "$m")
    if [ "$kv" -lt 121 ] && grep -q '^kind: CronJob' "$m"; then
      cp "merged-py/$b" "merged-kubectl/$b"; echo "     (kubectl $kv predates batch/v1 CronJob: $b checked by the Python merge only)"; continue
    fi
    kubectl patch --local -f "$m" --type strategic -p "$(cat "patches/$b")" -o yaml > "merged-kubectl/$b" 2>> kubectl.err || kerr=1
  done
  expect_eq "kubectl patch --local --type strategic accepts every patch" "$kerr $(cat kubectl.err 2>/dev/null | head -2)" "0 "
  check "and kubectl's result has the recommended memory in every container" check_merged merged-kubectl
else
  echo "     (kubectl not installed: patches checked with the Python strategic merge only)"
fi

# 5. --fail-on under: non-zero, the list on stderr, exactly the workloads below their recommendation.
set +e
"$HEADROOM" size --prometheus "$PROM" --at "$AT" --window 7d --fail-on under > /dev/null 2> under.err
rc=$?
set -e
expect_eq "--fail-on under exits 3" "$rc" 3
expect_eq "and lists exactly the workloads whose limit is below the recommendation" \
  "$(sed -n 's/^under: \([^ ]*\) .*/\1/p' under.err | sort | tr '\n' ' ')" \
  "$(python3 -c "import json; print(' '.join(sorted(k for k, x in json.load(open('want.json'))['workloads'].items() if x['under'])) + ' ')")"
set +e; "$HEADROOM" size --prometheus "$PROM" --at "$AT" --window 7d --fail-on under --selector '{namespace="data"}' >/dev/null 2>&1; rc=$?; set -e
expect_eq "--fail-on under passes (0) where no limit is too low" "$rc" 0

# 6. Without kube-state-metrics: names stripped of hashes, and said.
"$HEADROOM" size --prometheus "$PROM" --at "$AT" --window 7d --format json --selector '{job="cadvisor"}' > noksm.json 2> noksm.err
check "kube-state-metrics absent is said on stderr" grep -q "no kube_pod_owner series" noksm.err
expect_eq "workloads guessed from pod names" \
  "$(python3 -c "
import json
d = {w['name']: w['kind'] for w in json.load(open('noksm.json'))['workloads'] if w['kind_guessed']}
print(d.get('web'), d.get('db'), d.get('report'), d.get('node-agent'), d.get('debug'))")" "Deployment StatefulSet CronJob DaemonSet|Job Pod"
mkdir noksm-patches
"$HEADROOM" size --prometheus "$PROM" --at "$AT" --window 7d --selector '{job="cadvisor"}' --patch noksm-patches >/dev/null 2> noksm-patch.err
expect_eq "no patch is written for a guessed workload" "$(ls noksm-patches | wc -l)" 0
check "and each is named on stderr" grep -q "no patch for shop/Deployment/web: its kind is guessed" noksm-patch.err

# 7. Bad servers and bad input: one line, non-zero, never a figure.
fails_with() { # DESCRIPTION EXPECTED_TEXT ARGS...
  local d=$1 want=$2; shift 2
  set +e; local e out; out=$("$HEADROOM" size "$@" 2> err.txt); local rc=$?; e=$(cat err.txt); set -e
  if [ "$rc" -ne 0 ] && [ "$(wc -l <<<"$e")" -eq 1 ] && grep -q -- "$want" <<<"$e" && [ -z "$out" ]; then ok "$d"
  else fail "$d: rc=$rc '$e' out='${out:0:80}'"; fi
}
fails_with "unreachable Prometheus" "cannot reach Prometheus" --prometheus "http://127.0.0.1:$(free_port)" --timeout 3s
for mode in slow partial garbage; do
  FP=$(free_port); python3 "$LIB/fake_prom.py" "$FP" "$mode" & PIDS+=("$!")
  for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $FP))" 2>/dev/null && break; sleep 0.1; done
  case $mode in
    slow)    fails_with "a Prometheus slower than --timeout" "did not answer in time" --prometheus "http://127.0.0.1:$FP" --timeout 1s ;;
    partial) fails_with "a partial result (warnings) is refused" "partial result" --prometheus "http://127.0.0.1:$FP" --by workload ;;
    garbage) fails_with "a value that is not a number" "not a number" --prometheus "http://127.0.0.1:$FP" --by workload ;;
  esac
done
fails_with "PromQL error" "Prometheus refused the query" --prometheus "$PROM" --selector '{job=~"("}' --by workload
fails_with "nothing matched" "no container series matched" --prometheus "$PROM" --at "$AT" --selector '{namespace="none"}' --by workload
fails_with "bad --fail-on" "not a failure class" --prometheus "$PROM" --fail-on over
fails_with "bad --by" "not one of workload, series" --prometheus "$PROM" --by pod
fails_with "bad --at" "is not a time" --prometheus "$PROM" --at yesterday
fails_with "--patch into a missing directory" "must be an existing directory" --prometheus "$PROM" --at "$AT" --patch "$T/nope"
finish
