#!/usr/bin/env bash
# stress-timing.sh [N] [BUILD_DIR] [-- extra ctest args]
#
# Runs `ctest -L timing` N times (default 20) while every core is kept busy by a busy-loop load
# this script starts and stops itself (or by CPU-bound jobs of the caller: LOAD_PIDS below) (one spinning process per core, at normal priority: the
# tests share the CPU with it as they would with a neighbour on a small shared machine).
# Prints the pass count of every timing test and of whole runs; exits 0 only when every run
# passed. Extra ctest arguments (e.g. `-- -R it_faults`) narrow or widen the set.
set -u
N=${1:-20}
BUILD=${2:-build}
shift $(( $# >= 2 ? 2 : $# ))
[ "${1:-}" = "--" ] && shift
case $N in ''|*[!0-9]*) echo "usage: $0 [N] [BUILD_DIR] [-- ctest args]  (N: a count, got '$N')" >&2; exit 2;; esac
[ -f "$BUILD/CTestTestfile.cmake" ] || { echo "$0: '$BUILD' is not a configured build directory" >&2; exit 2; }

cores=$(nproc)
spinners=()
stop_load() { for p in "${spinners[@]}"; do kill "$p" 2>/dev/null; done; wait "${spinners[@]}" 2>/dev/null; }
trap stop_load EXIT
# LOAD_PIDS="PID ...": CPU-bound jobs the caller started (long fuzz runs, say) that are the load
# on as many cores; each is replaced by a busy loop the second it ends, so every core stays busy
read -r -a load_pids <<<"${LOAD_PIDS:-}"
for p in "${load_pids[@]}"; do
  case $p in ''|*[!0-9]*) echo "$0: LOAD_PIDS takes process ids, got '$p'" >&2; exit 2;; esac
  kill -0 "$p" 2>/dev/null || { echo "$0: LOAD_PIDS: no process $p" >&2; exit 2; }
done
for k in $(seq "$cores"); do
  if [ "$k" -le "${#load_pids[@]}" ]; then
    p=${load_pids[$((k - 1))]}
    ( while kill -0 "$p" 2>/dev/null; do sleep 1; done; while :; do :; done ) &
  else
    ( while :; do :; done ) &
  fi
  spinners+=($!)
done
echo "load on $cores cores: ${#load_pids[@]} of the caller's jobs (${load_pids[*]:-none}; a busy loop in the place of one that ends), $((cores - ${#load_pids[@]})) busy loops"

log=$(mktemp -d /tmp/stress-timing.XXXXXX)
declare -A pass total skip
runs_ok=0
for i in $(seq "$N"); do
  ( cd "$BUILD" && ctest -L timing --output-on-failure "$@" ) >"$log/run$i.txt" 2>&1
  rc=$?
  [ $rc -eq 0 ] && runs_ok=$((runs_ok + 1))
  # "  1/13 Test  #3: test_heap ........   Passed    1.23 sec"
  while read -r name verdict; do
    total[$name]=$(( ${total[$name]:-0} + 1 ))
    case $verdict in
      Passed) pass[$name]=$(( ${pass[$name]:-0} + 1 ));;
      *Skipped) skip[$name]=$(( ${skip[$name]:-0} + 1 ));;
    esac
  done < <(awk '/ Test +#[0-9]+: / { v = "Failed"; if (/ Passed /) v = "Passed"; else if (/Skipped/) v = "Skipped";
                                       for (k = 1; k <= NF; k++) if ($k ~ /^#[0-9]+:$/) print $(k + 1), v }' "$log/run$i.txt")
  # "... Passed   12.34 sec": the seconds of every test, for the medians below
  awk '/ Test +#[0-9]+: / { for (k = 1; k <= NF; k++) if ($k ~ /^#[0-9]+:$/) n = $(k + 1); print n, $(NF - 1) }' \
    "$log/run$i.txt" >>"$log/times.txt"
  echo "run $i/$N: $([ $rc -eq 0 ] && echo passed || echo "FAILED (log: $log/run$i.txt)")"
done
echo
echo "pass counts under full CPU load ($N runs):"
for name in $(printf '%s\n' "${!total[@]}" | sort); do
  printf '  %-24s %d/%d passed%s\n' "$name" "${pass[$name]:-0}" "${total[$name]}" \
    "$([ "${skip[$name]:-0}" -gt 0 ] && echo " (${skip[$name]} skipped: exit 77)")"
done
echo "median seconds per test under that load (slowest first):"
sort -k1,1 -k2,2n "$log/times.txt" | awk '{ t[$1] = t[$1] " " $2; c[$1]++ }
  END { for (n in t) { split(substr(t[n], 2), v, " "); printf "  %-24s %7.1f\n", n, v[int((c[n] + 1) / 2)] } }' | sort -k2,2nr
echo "whole runs passed: $runs_ok/$N  (logs in $log)"
[ "$runs_ok" -eq "$N" ]
