#!/usr/bin/env bash
# headroom load refuses bad input with one clear line: usage problems exit 2, a target that
# does not work exits 1, quickly. Progress goes to a terminal only.
set -uo pipefail
: "${HEADROOM:?}" "${BUILD:?}"
TS="$BUILD/tests/progs/testserver"
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect CODE PATTERN -- ARGS...: exit code, one stderr line matching PATTERN, within 10 s
expect() {
  local code=$1 pat=$2; shift 3
  local t0=$(date +%s%N)
  timeout 20 "$HEADROOM" load "$@" > "$dir/out" 2> "$dir/err"
  local rc=$? el=$(( ($(date +%s%N) - t0) / 1000000 ))
  echo "[$rc ${el}ms] load $*: $(cat "$dir/err")"
  [ "$rc" -eq "$code" ] || fail "exit $rc, expected $code"
  [ "$(wc -l < "$dir/err")" -eq 1 ] || fail "expected one line on stderr"
  grep -qE -- "$pat" "$dir/err" || fail "stderr does not match '$pat'"
  [ "$el" -lt 10000 ] || fail "took ${el}ms"
}

# a port nobody listens on: bind one, learn its number, close it
free_port=$(python3 "$(dirname "$0")/free_port.py")
expect 1 "connection refused by 127.0.0.1:$free_port" -- "http://127.0.0.1:$free_port/" --stages 5s:4
expect 2 "https:// is not supported yet" -- https://127.0.0.1:8443/ --stages 1s:1
expect 2 "not a loopback target" -- http://10.1.2.3/ --stages 1s:1
expect 2 "not a loopback target" -- http://example.com/ --stages 1s:1
expect 2 "not a URL; accepted: http://HOST" -- 127.0.0.1:80 --stages 1s:1
expect 2 "zero duration; accepted: DUR:N" -- http://127.0.0.1:1/ --stages 10s:5,0s:50
expect 2 "negative duration; accepted: DUR:N" -- http://127.0.0.1:1/ --stages -5s:50
expect 2 "accepted: DUR:N.*10s:50,5s:400" -- http://127.0.0.1:1/ --stages fast
expect 2 "accepted: DUR:N" -- http://127.0.0.1:1/ --stages 10s:lots
expect 2 "never opens a connection" -- http://127.0.0.1:1/ --stages 10s:0
expect 2 "one of --stages" -- http://127.0.0.1:1/
expect 2 "profile 'spiky': accepted steady, burst, ramp, soak" -- http://127.0.0.1:1/ --profile spiky
expect 2 "--rate 'x'" -- http://127.0.0.1:1/ --stages 1s:1 --rate x
expect 2 "--timeout '0s'" -- http://127.0.0.1:1/ --stages 1s:1 --timeout 0s
expect 2 "--header 'nocolon'" -- http://127.0.0.1:1/ --stages 1s:1 --header nocolon
expect 2 "missing URL" -- --stages 1s:1
expect 2 "--method .G ET." -- http://127.0.0.1:1/ --stages 1s:1 --method "G ET"

# more connections than descriptors: the soft limit is raised to the hard one first, and the
# message names the hard limit
(ulimit -Sn 100; ulimit -Hn 300
 expect 2 "RLIMIT_NOFILE allows \(hard limit 300: at most [0-9]+ connections\)" -- http://127.0.0.1:1/ --stages 1s:1000) || exit 1

# a server that answers with something else than HTTP
"$TS" --port-file "$dir/nh.port" --not-http & pids+=($!)
for _ in $(seq 100); do [ -s "$dir/nh.port" ] && break; sleep 0.05; done
expect 1 "does not answer HTTP/1.x" -- "http://127.0.0.1:$(cat "$dir/nh.port")/" --stages 20s:4

# progress: a line on a terminal, nothing when stderr is not one
"$TS" --port-file "$dir/ok.port" & pids+=($!)
for _ in $(seq 100); do [ -s "$dir/ok.port" ] && break; sleep 0.05; done
P=$(cat "$dir/ok.port")
"$HEADROOM" load "http://127.0.0.1:$P/ok" --stages 2s:2 > "$dir/out" 2> "$dir/err" || fail "plain run"
[ ! -s "$dir/err" ] || fail "progress written to a non-terminal: $(cat "$dir/err")"
grep -q "^requests " "$dir/out" || fail "no summary"
if command -v script > /dev/null; then
  script -qec "$HEADROOM load http://127.0.0.1:$P/ok --stages 2s:2" /dev/null > "$dir/tty" 2>&1 || fail "tty run"
  grep -q "req/s" "$dir/tty" || fail "no progress line on a terminal: $(cat "$dir/tty")"
fi
echo ok
