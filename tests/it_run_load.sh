#!/usr/bin/env bash
# headroom run --load: a real service (the C demo), staged load once it is ready, all recorded.
. "$(dirname "$0")/lib.sh"
cd "$T"
# the plain -O2 build: under ASan, freed memory sits in quarantine and would not follow the load
EXAMPLES_OUT="$BUILD/examples" bash "$SRC/scripts/build-examples.sh" c >/dev/null
SVC="$BUILD/examples/demo-c-svc"
[ -x "$SVC" ] || { echo "skip: $SVC not built"; exit 77; }
port=$(free_port)

# 1 MiB per request held 30 ms: memory in flight follows the connections (10 -> 60 -> 10).
"$HEADROOM" run --quiet --limit 512Mi --interval 50ms --record load.db \
  --load 2s:10,2s:60,2s:10 --ready 127.0.0.1:$port --path '/work?kb=1024&ms=30' --cooldown 1s \
  -- "$SVC" --listen 127.0.0.1:$port > out.txt; rc=$?
expect_eq "the run ends by itself after the load and exits 0" "$rc" 0
expect_eq "three stage events" "$(q load.db "select count(*) from events where kind='stage'")" 3
check "ready comes before the first stage" test "$(q load.db "select (select t_ns from events where kind='ready') < (select min(t_ns) from events where kind='stage')")" = 1
nload=$(q load.db 'select count(*) from load')
check "one load row a second ($nload rows for 6 s)" test "$nload" -ge 5 -a "$nload" -le 8
errors=$(q load.db 'select sum(errors) from load')
expect_eq "no errors against a healthy service" "$errors" 0
s0=$(q load.db "select min(t_ns) from events where kind='stage' and value=1")
s1=$(q load.db "select min(t_ns) from events where kind='stage' and value=2")
low=$(q load.db "select max(rss_peak) from samples where t_ns < $s0 and t_ns > $s0 - 1500000000")
high=$(q load.db "select max(rss_peak) from samples where t_ns between $s0 + 500000000 and $s1")
check "memory tracks the load: 60 connections ($high) hold well over 10 ($low)" \
  python3 -c "import sys; sys.exit(0 if $high > $low + 30*2**20 else 1)"

# Bad input: one line, exit 2, nothing started.
usage() {
  local d=$1 want=$2; shift 2
  set +e; local e; e=$("$HEADROOM" "$@" 2>&1); local rc=$?; set -e
  if [ "$rc" -eq 2 ] && [ "$(wc -l <<<"$e")" -eq 1 ] && grep -q -- "$want" <<<"$e"; then ok "$d"; else fail "$d: rc=$rc '$e'"; fi
}
usage "--load without a target" "--ready HOST:PORT or --load-url" run --load burst -- true
usage "--load with a stage spec that does not parse" "accepted" run --load 10x:5 --ready :8080 -- true
usage "--load with a zero duration" "" run --load 0s:5 --ready :8080 -- true
usage "--load-url https" "only http" run --load steady --load-url https://127.0.0.1:8443/ -- true
usage "--load-url off loopback" "loopback" run --load steady --load-url http://192.0.2.1/ -- true
usage "--path without --load" "go with --load" run --path /x -- true

# A service that never listens: a clear error after --ready-timeout, and it is stopped.
set +e; e=$("$HEADROOM" run --quiet --record never.db --ready 127.0.0.1:1 --ready-timeout 1s -- sleep 20 2>&1); rc=$?; set -e
expect_eq "not ready in time exits 1" "$rc" 1
check "and says so" grep -q "did not accept connections in time" <<<"$e"
check "the service was stopped, not left running ($(q never.db 'select duration_ns/1e9 from run') s)" \
  test "$(q never.db 'select duration_ns < 8e9 from run')" = 1
finish
