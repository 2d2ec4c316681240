#!/usr/bin/env bash
# Long fuzzing runs (issue 16): each libFuzzer target of fuzz/ to N executions, one after the
# other on one core (nice 19: the machine is shared; run two of these with different targets to
# use two cores), then a table of executions, wall time, executions per second and crashes per
# target. Needs a clang build with -DHEADROOM_FUZZ=ON (the Makefile's build-san).
#   scripts/fuzz-long.sh [-runs=N] [-max_time=S] [-build=DIR] [-nice=N] [TARGET...]  (TARGET: quantity, ...)
# -nice=0 makes the fuzzers a full load on their core (scripts/stress-timing.sh LOAD_PIDS).
# Defaults: -runs=10000000, no time cap, -build=build-san, every target. -max_time=S stops each
# target after S seconds even if it has not reached N (its executions are then fewer than N:
# the table says how many). A target stops at its first crash
# (the input is kept in DIR/fuzz/long/<target>/crashes/, reproduce with the target and the
# file as its only argument); the corpus it grows is kept in DIR/fuzz/long/<target>/corpus and
# reused by the next run.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
runs=10000000
max_time=0
build=$src/build-san
niceness=19
targets=()
for a in "$@"; do
  case "$a" in
    -runs=*) runs=${a#-runs=} ;;
    -max_time=*) max_time=${a#-max_time=} ;;
    -build=*) build=${a#-build=} ;;
    -nice=*) niceness=${a#-nice=} ;;
    -*) echo "fuzz-long.sh: unknown option '$a' (accepted: -runs=N -max_time=S -build=DIR -nice=N)" >&2; exit 2 ;;
    *) targets+=("$a") ;;
  esac
done
case "$runs$max_time$niceness" in ''|*[!0-9]*) echo "fuzz-long.sh: -runs, -max_time and -nice take whole numbers, not '$runs' '$max_time' '$niceness'" >&2; exit 2 ;; esac
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$src"/fuzz/fuzz_*.c; do t=$(basename "$f" .c); targets+=("${t#fuzz_}"); done
fi
for t in "${targets[@]}"; do
  if [ ! -x "$build/fuzz/fuzz_$t" ]; then
    echo "fuzz-long.sh: no $build/fuzz/fuzz_$t: configure $build with -DHEADROOM_FUZZ=ON (CC=clang) and build" >&2
    exit 2
  fi
done

printf '%-14s %12s %10s %8s %8s  %s\n' target executions wall_s exec_s crashes artifacts
total_crashes=0
for t in "${targets[@]}"; do
  work=$build/fuzz/long/$t
  mkdir -p "$work/corpus" "$work/crashes"
  before=$(ls "$work/crashes" | wc -l)
  dict=()
  [ -f "$src/fuzz/$t.dict" ] && dict=(-dict="$src/fuzz/$t.dict")
  start=$(date +%s%N)
  nice -n "$niceness" "$build/fuzz/fuzz_$t" -runs="$runs" -max_total_time="$max_time" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/crashes/" "${dict[@]}" "$work/corpus" "$src/fuzz/corpus/$t" > "$work/log" 2>&1
  rc=$?
  end=$(date +%s%N)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  after=$(ls "$work/crashes" | wc -l)
  crashes=$((after - before))
  # a crash ends the run early: count it even if libFuzzer printed no stats
  [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1
  total_crashes=$((total_crashes + crashes))
  new=$(ls -t "$work/crashes" | head -"$crashes" | tr '\n' ' ')
  ms=$(((end - start) / 1000000))
  rate=?
  [ -n "$execs" ] && [ "$ms" -gt 0 ] && rate=$((execs * 1000 / ms))
  printf '%-14s %12s %8d.%d %8s %8d  %s\n' "$t" "${execs:-?}" $((ms / 1000)) $((ms % 1000 / 100)) "$rate" "$crashes" \
    "${new:+$work/crashes/}$new"
done
[ "$total_crashes" -eq 0 ]
