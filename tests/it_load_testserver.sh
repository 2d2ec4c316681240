#!/usr/bin/env bash
# headroom load against tests/progs/testserver: every failure kind is counted, the counts agree
# with what the server sent, every run is bounded, and the open loop sees a stall that the
# closed loop hides (coordinated omission).
set -euo pipefail
: "${HEADROOM:?}" "${BUILD:?}"
TS="$BUILD/tests/progs/testserver"
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

start_server() { # name, extra args
  "$TS" --port-file "$dir/$1.port" --stats "$dir/$1.stats" "${@:2}" &
  pids+=($!)
  eval "${1}_pid=$!"
  for _ in $(seq 100); do [ -s "$dir/$1.port" ] && break; sleep 0.05; done
  [ -s "$dir/$1.port" ] || fail "testserver did not start"
}
stop_server() { # name
  local v="${1}_pid"; kill "${!v}"; wait "${!v}" 2>/dev/null || true
  for _ in $(seq 100); do [ -s "$dir/$1.stats" ] && break; sleep 0.05; done
}
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$@"; }
count() { awk -v p="$2" '$1==p {print $2}' "$dir/$1.stats"; }

# 1. every kind of trouble at once, with a short timeout
start_server mix
P=$(cat "$dir/mix.port")
t0=$(date +%s%N)
"$HEADROOM" load "http://127.0.0.1:$P/" --stages 2s:9 --timeout 300ms --json \
  --path /ok --path /500 --path /404 --path /chunked --path /close --path /reset --path /early \
  --path /stall --path /big > "$dir/mix.json"
t1=$(date +%s%N)
stop_server mix
cat "$dir/mix.json"; cat "$dir/mix.stats"
el_ms=$(( (t1 - t0) / 1000000 ))
[ "$el_ms" -lt 4000 ] || fail "a 2s run took ${el_ms}ms"
J="$dir/mix.json"
unf=$(field "$J" "['unfinished']")
for k in timeout reset 4xx 5xx; do
  [ "$(field "$J" "['errors']['$k']")" -gt 0 ] || fail "no $k errors counted"
done
[ "$(field "$J" "['errors']['parse']")" -eq 0 ] || fail "parse errors against a valid server"
[ "$(field "$J" "['errors']['connect']")" -eq 0 ] || fail "connect errors against a listening server"
# what the server answered with 500/404 is what the client counted, but for requests cut by the end
for pair in "5xx /500" "4xx /404"; do
  set -- $pair
  got=$(field "$J" "['errors']['$1']"); sent=$(count mix "$2")
  [ "$got" -le "$sent" ] && [ "$got" -ge $((sent - unf)) ] || fail "$1: client $got, server $sent (unfinished $unf)"
done
# resets: /reset sends RST, /early closes without an answer
got=$(field "$J" "['errors']['reset']"); sent=$(( $(count mix /reset) + $(count mix /early) ))
[ "$got" -le "$sent" ] && [ "$got" -ge $((sent - unf)) ] || fail "reset: client $got, server $sent"
# stalls become timeouts (the ones still waiting at the end are unfinished, not errors)
got=$(field "$J" "['errors']['timeout']"); sent=$(count mix /stall)
[ "$got" -le "$sent" ] && [ "$got" -ge $((sent - unf)) ] || fail "timeout: client $got, server $sent"
# 2xx: /ok, /chunked, /close and /big all complete
got=$(field "$J" "['status']['2xx']")
sent=$(( $(count mix /ok) + $(count mix /chunked) + $(count mix /close) + $(count mix /big) ))
[ "$got" -le "$sent" ] && [ "$got" -ge $((sent - unf)) ] || fail "2xx: client $got, server $sent"
total=$(field "$J" "['requests']"); sent_total=$(awk '{s+=$2} END {print s}' "$dir/mix.stats")
[ "$(field "$J" "['sent']")" -eq "$sent_total" ] || fail "sent $(field "$J" "['sent']") but the server saw $sent_total"
echo "mix: ok ($total responses, server saw $sent_total requests)"

# 2. the request cap ends the run early and exactly
start_server cap
P=$(cat "$dir/cap.port")
t0=$(date +%s%N)
"$HEADROOM" load "http://127.0.0.1:$P/ok" --stages 30s:4 --max-requests 500 --json > "$dir/cap.json"
t1=$(date +%s%N)
stop_server cap
[ "$(field "$dir/cap.json" "['sent']")" -eq 500 ] || fail "cap: sent $(field "$dir/cap.json" "['sent']")"
[ "$(field "$dir/cap.json" "['requests']")" -eq 500 ] || fail "cap: requests"
[ "$(count cap /ok)" -eq 500 ] || fail "cap: the server saw $(count cap /ok)"
[ "$(field "$dir/cap.json" "['ended_by']")" = max-requests ] || fail "cap: ended_by"
[ $(( (t1 - t0) / 1000000 )) -lt 10000 ] || fail "cap: did not end early"
echo "cap: ok"

# 3. a 500 ms server stall: the open loop measures it from the intended send times
start_server ol
P=$(cat "$dir/ol.port")
"$HEADROOM" load "http://127.0.0.1:$P/" --stages 3s:10 --rate 400 --path /pause --path /ok --json > "$dir/ol.json"
stop_server ol
cat "$dir/ol.json"
req=$(field "$dir/ol.json" "['requests']")
# 400/s for 3 s; the server paused once for 500 ms, the backlog is sent afterwards
[ "$req" -ge 900 ] && [ "$req" -le 1300 ] || fail "open loop: $req requests, expected about 1200"
p99=$(field "$dir/ol.json" "['latency_us']['p99']")
[ "$p99" -ge 200000 ] || fail "open loop p99 ${p99}us hides a 500ms stall"
[ "$(field "$dir/ol.json" "['mode']")" = open ] || fail "mode"
start_server cl
P=$(cat "$dir/cl.port")
"$HEADROOM" load "http://127.0.0.1:$P/" --stages 3s:10 --path /pause --path /ok --json > "$dir/cl.json"
stop_server cl
cp99=$(field "$dir/cl.json" "['latency_us']['p99']"); cmax=$(field "$dir/cl.json" "['latency_us']['max']")
[ "$cmax" -ge 400000 ] || fail "closed loop max ${cmax}us missed the stall"
echo "stall: open loop p99 ${p99}us; closed loop p99 ${cp99}us max ${cmax}us"
[ "$cp99" -lt "$p99" ] || fail "closed loop p99 should hide the stall"
echo "ok"
