#!/usr/bin/env bash
# headroom export checked by the real tools: promtool lints the exposition, a real Prometheus
# server scrapes it every second and PromQL sees a spike shorter than the scrape interval at its
# true height; `headroom size` sizes from that server; bad input fails clearly.
. "$(dirname "$0")/lib.sh"
cd "$T"
for tool in prometheus promtool curl python3; do
  command -v "$tool" >/dev/null || { echo "skip: $tool not installed (scripts/install-deps.sh)"; exit 77; }
done
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${cgroot:-}" ] && { for d in "$cgroot"/*/; do rmdir "$d" 2>/dev/null || true; done; rmdir "$cgroot" 2>/dev/null || true; }
  rm -rf "$T"
}
trap cleanup EXIT
# start_exporter LOG ADDRESS ARGS...: starts headroom export on ADDRESS (port 0: any free port),
# sets EPID and EPORT
start_exporter() {
  local log=$1 addr=$2; shift 2
  "$HEADROOM" export --listen "$addr" "$@" 2>"$log" &
  EPID=$!; PIDS+=("$EPID")
  for _ in $(seq 50); do grep -q 'exporting on' "$log" && break; sleep 0.1; done
  EPORT=$(sed -n 's|.*127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$log")
  [ -n "$EPORT" ] || { echo "exporter did not start: $(cat "$log")"; exit 1; }
}

# 1. A real Prometheus scraping every second, started first: it creates its scrape loops only on
# its scrape manager's 5 s reload tick after it loaded the config, so started after the program
# below (which lives ~14 s) a slow TSDB open or config load left the program 2-3 scrapes. Its
# target is the exporter's port, on which nothing listens until the exporter starts; the loop
# exists once Prometheus lists the target (down until then), and it then scrapes every second.
EPORT=$(free_port)
PPORT=$(free_port)
while [ "$PPORT" = "$EPORT" ]; do PPORT=$(free_port); done
cat > prom.yml <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: headroom
    static_configs: [{targets: ['127.0.0.1:$EPORT']}]
EOF
prometheus --config.file=prom.yml --storage.tsdb.path="$T/tsdb" --web.listen-address=127.0.0.1:$PPORT \
  > prom.log 2>&1 &
PIDS+=("$!")
PROM=http://127.0.0.1:$PPORT
eventually 60 curl -sf "$PROM/-/ready" -o /dev/null || true
check "prometheus is ready" curl -sf "$PROM/-/ready" -o /dev/null
promql() { curl -sf "$PROM/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "none")'; }
target_listed() { curl -sf "$PROM/api/v1/targets?state=active" | python3 -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)["data"]["activeTargets"] else 1)'; }
check "prometheus scrapes the exporter's port (polled, 30 s at most)" eventually 30 target_listed

# 2. A process with 100 MiB spikes of ~25 ms every 1.5 s, on a 20 MiB base.
"$PROGS/memspike" 20 100 5 1500 8 > spike.out &
SPID=$!; PIDS+=("$SPID")
# --reset-peaks: the exact peak of every interval, which resets the program's own VmHWM (its choice here)
start_exporter exp.log "127.0.0.1:$EPORT" --pid "$SPID" --interval 1s --peak-window 15s --timeout 2s --reset-peaks
# the first interval's figures: polled, a loaded machine decides when the first interval ends
scraped() { curl -sf "http://127.0.0.1:$EPORT/metrics" > m1.txt && grep -q "^headroom_rss_bytes{pid=\"$SPID\"} " m1.txt; }
eventually 30 scraped || true
check "promtool check metrics passes on --pid output" promtool check metrics < m1.txt
for m in headroom_rss_bytes headroom_rss_peak_bytes headroom_processes; do
  check "$m has HELP and TYPE" grep -q "^# TYPE $m gauge" m1.txt
done
check "series labelled by pid" grep -q "^headroom_rss_bytes{pid=\"$SPID\"} " m1.txt
check "no heap metric without the shim" test -z "$(grep headroom_heap_live_bytes m1.txt)"

# 3. Meanwhile: 100 concurrent scrapes, and a client that connects and sends nothing.
python3 - "$EPORT" > halfopen.out <<'EOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
t0 = time.time(); s.settimeout(20)
try:
    d = s.recv(1)
except Exception as e:
    d = repr(e).encode()
print("closed_after %.1f %r" % (time.time() - t0, d))
EOF
HO=$!
sleep 0.3
t0=$(date +%s%N)
codes=$(seq 100 | xargs -P100 -I{} curl -s -m 5 -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$EPORT/metrics" | sort | uniq -c | tr -s ' ')
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "100 concurrent scrapes all answered 200 (in ${ms} ms) while a client sends nothing" "$codes" " 100 200"
wait "$HO"
secs=$(awk '{print $2}' halfopen.out)
check "the silent client was closed by the 2 s timeout ($secs s)" python3 -c "import sys; sys.exit(0 if 1.5 <= $secs <= 6 else 1)"

# 4. The spikes as Prometheus saw them.
wait "$SPID" || true
true_b=$(( $(awk '/peak_kb/ {print $2}' spike.out) * 1024 ))
# The last interval's peak reaches the exporter, then Prometheus. The exporter drops the series of
# a process that exited, so once PromQL's instant query has no sample (the scrape after the drop
# marks it stale) no later, higher interval peak can arrive: only then is the maximum final, and
# the one `size` reads below (a maximum taken while samples still came once differed by 12 KiB).
final_peak() {
  [ "$(promql 'headroom_rss_peak_bytes')" = none ] || return 1
  peak=$(promql 'max_over_time(headroom_rss_peak_bytes[2m])')
}
peak=none; eventually 30 final_peak || true
check "the exited process's series went stale in Prometheus" test "$(promql 'headroom_rss_peak_bytes')" = none
within "PromQL max_over_time(headroom_rss_peak_bytes) = the true spike height" "$peak" "$true_b" 2
plain=$(promql 'max_over_time(headroom_rss_bytes[2m])')
echo "     (the plain RSS gauge scraped every second saw at most $plain of $true_b bytes)"
n=$(promql 'count_over_time(headroom_rss_peak_bytes[2m])')
check "Prometheus scraped the exporter every second ($n points)" test "${n:-0}" -ge 5
check "the exporter's own metrics reached Prometheus" test "$(promql 'headroom_exporter_scrapes_total')" != none

# 5. headroom size against that server.
"$HEADROOM" size --prometheus "$PROM" --window 10m --headroom 25% --format json > size.json 2> size.err
got=$(python3 -c 'import json; c=json.load(open("size.json"))["containers"]; print(len(c), c[0]["source"], c[0]["peak_bytes"], c[0]["limit_bytes"], c[0]["points"], "warning" in c[0])')
read -r nc src pk lim pts warned <<<"$got"
expect_eq "one container, from headroom's exact peak" "$nc $src" "1 headroom_rss_peak_bytes"
expect_eq "size used the peak PromQL returned" "$pk" "$(python3 -c "import math; print(math.ceil(float('$peak')))")"
expect_eq "limit = peak x 1.25 rounded up to Mi" "$lim" "$(python3 -c "import math; print(math.ceil(math.ceil($pk*1.25)/2**20)*2**20)")"
check "points counted ($pts)" test "$pts" -ge 5
expect_eq "a 10m window over ~15 s of history is flagged" "$warned" True
check "and the warning is said on stderr" grep -q "history too short" size.err
"$HEADROOM" size --prometheus "$PROM" --selector "{job=\"headroom\"}" --window 10m > size.txt 2>/dev/null
check "table output names the pid and the limit" grep -qE "pid $SPID +headroom_rss_peak_bytes .* [0-9]+Mi" size.txt
"$HEADROOM" size --prometheus "$PROM" --window 10m --format yaml > size.yaml 2>/dev/null
check "yaml output has a Kubernetes limit" grep -qE "^        memory: [0-9]+Mi$" size.yaml
fails_with() { # DESCRIPTION EXPECTED_TEXT ARGS...
  local d=$1 want=$2; shift 2
  set +e; local e; e=$("$HEADROOM" size "$@" 2>&1 >/dev/null); local rc=$?; set -e
  if [ "$rc" -ne 0 ] && [ "$(wc -l <<<"$e")" -eq 1 ] && grep -q -- "$want" <<<"$e"; then ok "$d"; else fail "$d: rc=$rc '$e'"; fi
}
fails_with "unreachable Prometheus" "cannot reach Prometheus" --prometheus "http://127.0.0.1:$(free_port)" --timeout 3s
fails_with "PromQL error" "Prometheus refused the query" --prometheus "$PROM" --selector '{job=~"("}'
fails_with "empty result" "no series matched" --prometheus "$PROM" --selector '{job="no-such-job"}'
fails_with "non-JSON answer" "not Prometheus JSON" --prometheus "http://127.0.0.1:$EPORT"
fails_with "no URL" "needs --prometheus URL" --window 1h
fails_with "bad selector" "not a label selector" --prometheus "$PROM" --selector 'namespace=shop'

# 6. --cgroup-root: every cgroup with processes under a root, and one that disappears.
parent=$(own_memcg)
if [ -w "$parent" ] && [ -e "$parent/memory.usage_in_bytes" -o -e "$parent/memory.current" ]; then
  cgroot="$parent/it-export-$$"
  mkdir -p "$cgroot/a" "$cgroot/b" "$cgroot/empty"
  ( echo $BASHPID > "$cgroot/a/cgroup.procs"; exec "$PROGS/memgrow" 24 8 20 60000 ) & PIDS+=("$!")
  ( echo $BASHPID > "$cgroot/b/cgroup.procs"; exec "$PROGS/memgrow" 12 4 20 60000 ) & bp=$!; PIDS+=("$bp")
  sleep 0.5
  start_exporter cg.log 127.0.0.1:0 --cgroup-root "$cgroot" --interval 200ms --peak-window 2s --rescan 300ms
  # until both cgroups are exported and a's program has grown to its 24 MiB (or 30 s)
  both() {
    curl -sf "http://127.0.0.1:$EPORT/metrics" > m2.txt &&
      [ "$(grep -c '^headroom_cgroup_usage_bytes{' m2.txt)" -ge 2 ] &&
      [ "$(sed -n "s|^headroom_cgroup_usage_peak_bytes{cgroup=\"$cgroot/a\"} ||p" m2.txt)" -ge $((24 << 20)) ]
  }
  eventually 30 both || true
  check "promtool check metrics passes on --cgroup-root output" promtool check metrics < m2.txt
  expect_eq "two cgroups with processes exported, the empty one not" \
    "$(grep -c '^headroom_cgroup_usage_bytes{' m2.txt)" 2
  ua=$(sed -n "s|^headroom_cgroup_usage_peak_bytes{cgroup=\"$cgroot/a\"} ||p" m2.txt)
  check "cgroup a's usage peak covers its 24 MiB ($ua)" test "${ua:-0}" -ge $((24 << 20))
  check "working set exported" grep -q "^headroom_cgroup_working_set_bytes{cgroup=\"$cgroot/b\"}" m2.txt
  check "OOM kills exported as a counter" grep -q '^# TYPE headroom_oom_kills_total counter' m2.txt
  kill -KILL "$bp"; wait "$bp" 2>/dev/null || true
  for _ in $(seq 50); do rmdir "$cgroot/b" 2>/dev/null && break; sleep 0.1; done
  # until a rescan has dropped b (or 30 s)
  b_gone() { code=$(curl -s -o m3.txt -w '%{http_code}' "http://127.0.0.1:$EPORT/metrics"); ! grep -q "$cgroot/b\"" m3.txt; }
  eventually 30 b_gone || true
  expect_eq "scrape still succeeds after cgroup b disappeared" "$code" 200
  check "cgroup b's series dropped" test -z "$(grep "$cgroot/b\"" m3.txt)"
  check "cgroup a's series still there" grep -q "cgroup=\"$cgroot/a\"" m3.txt
  check "promtool still passes" promtool check metrics < m3.txt
  mkdir "$cgroot/c"
  ( echo $BASHPID > "$cgroot/c/cgroup.procs"; exec "$PROGS/memgrow" 8 4 20 60000 ) & PIDS+=("$!")
  c_found() { curl -sf "http://127.0.0.1:$EPORT/metrics" | grep -q "cgroup=\"$cgroot/c\""; }
  check "a new cgroup is found by the rescan (polled, 30 s at most)" eventually 30 c_found
else
  echo "     (no writable memory cgroup here: --cgroup-root part skipped)"
fi

# 7. Usage errors: exit 2 and one line.
usage() { local d=$1 want=$2; shift 2
  set +e; local e; e=$("$HEADROOM" export "$@" 2>&1); local rc=$?; set -e
  if [ "$rc" -eq 2 ] && [ "$(wc -l <<<"$e")" -eq 1 ] && grep -q -- "$want" <<<"$e"; then ok "$d"; else fail "$d: rc=$rc '$e'"; fi; }
usage "export without a target" "exactly one of" --listen 127.0.0.1:0
usage "export with a bad address" "is not an address" --pid $$ --listen localhost
usage "peak window shorter than the interval" "peak-window" --pid $$ --interval 2s --peak-window 1s
usage "a runtime directory that is not absolute" "not an absolute directory path" --cgroup-root / --containerd-state run/containerd
usage "an empty host root" "not an absolute directory path" --cgroup-root / --host-root ""
# SIGTERM stops it cleanly (under ASan a leak would make this non-zero), and --duration ends it
start_exporter stop.log 127.0.0.1:0 --pid $$
kill -TERM "$EPID"; set +e; wait "$EPID"; rc=$?; set -e
expect_eq "SIGTERM stops the exporter with status 0" "$rc" 0
set +e; timeout 10 "$HEADROOM" export --pid $$ --listen 127.0.0.1:0 --duration 300ms 2>/dev/null; rc=$?; set -e
expect_eq "--duration ends the exporter with status 0" "$rc" 0
set +e; e=$("$HEADROOM" export --pid 999999 --listen 127.0.0.1:0 2>&1); rc=$?; set -e
expect_eq "export of a missing pid fails" "$rc" 1
check "and says so" grep -q "no process with pid 999999" <<<"$e"
finish
