#!/usr/bin/env bash
# Benchmarks for headroom's recorder (not tests: numbers to read, side by side with a peer).
#   1. CPU cost per call of each probe, small vs 2000-mapping target, vs libproc2 (bench_probe)
#   2. headroom's CPU share of one core at 1 ms, 10 ms and 100 ms intervals (vs the bare target)
#   3. headroom's own RSS over a 60 s run at 10 ms: peak and flatness
# usage: bench/run-all.sh [BUILD_DIR]   (BENCH_SECONDS=N shortens 2 and 3)
set -euo pipefail
BUILD=${1:-build}
S=${BENCH_SECONDS:-60}
HR="$BUILD/headroom"
T=$(mktemp -d /tmp/headroom-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT

echo "== 1. probe cost (CPU us per call) =="
"$BUILD/bench/bench_probe" 20000

echo
echo "== 2. headroom's CPU share of one core while recording 'sleep' for ${S}s (10 s for 1 ms) =="
printf "  %-10s %10s %10s %12s %10s\n" interval samples cpu_s share_%core own_maxrss
for iv in 1ms 10ms 100ms; do
  secs=$S; [ "$iv" = 1ms ] && secs=10
  # CPU of headroom alone (every thread, children excluded) from schedstat: exact ns, where
  # utime/stime ticks are biased for a process that wakes in step with the tick
  "$HR" run --quiet --interval "$iv" --record "$T/cpu-$iv.db" -- sleep "$secs" &
  hp=$!
  sleep $((secs - 1))
  ns=$(cat /proc/$hp/task/*/schedstat | awk '{s += $1} END {print s}')
  rss=$(awk '/VmHWM/ {print $2}' /proc/$hp/status)
  wait $hp
  n=$(sqlite3 "$T/cpu-$iv.db" 'select count(*) from samples')
  python3 - "$iv" "$n" "$ns" "$((secs - 1))" "$rss" <<'PY'
import sys
iv, n, ns, secs, rss = sys.argv[1:]
cpu = int(ns) / 1e9
print(f"  {iv:<10} {int(n):>10} {cpu:>10.3f} {100*cpu/float(secs):>11.2f}% {int(rss)/1024:>8.1f}Mi")
PY
done

echo
echo "== 3. headroom's own RSS during a ${S}s run at 10 ms (sampled every 5 s) =="
"$HR" run --quiet --interval 10ms --record "$T/rss.db" -- sleep "$S" &
hp=$!
series=""
for _ in $(seq 1 $((S / 5 - 1))); do
  sleep 5
  series="$series $(awk '/VmRSS/ {print $2}' /proc/$hp/status)"
done
peak=$(awk '/VmHWM/ {print $2}' /proc/$hp/status)
wait $hp
echo "  VmRSS kB every 5 s:$series"
echo "  VmHWM: $((peak / 1024)) MiB ($peak kB)  (target: <= 8 MiB and flat)"

echo
echo "== 4. analysis of a 1,000,000-sample recording (target: < 1 s) =="
bash "$(dirname "$0")/analyze-1m.sh" "$BUILD"
