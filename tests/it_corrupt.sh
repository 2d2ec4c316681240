#!/usr/bin/env bash
# Corrupted recordings (extreme, negative, disordered figures written into a valid recording):
# every view must give an answer or a one-line refusal, never a crash, a hang or a wrapped
# number (a peak of INT64_MAX must not become a 1Mi limit). Run it with a sanitizer build
# (HEADROOM=build-san/headroom) to catch undefined arithmetic: -fno-sanitize-recover makes any
# report a crash, which fails the case.
. "$(dirname "$0")/lib.sh"
SYNTH="$BUILD/tests/tools/synth_recording"
command -v sqlite3 >/dev/null || { echo "sqlite3 is not installed"; exit 77; }
"$SYNTH" load "$T/base.db" --cgroup --samples 300 >/dev/null
"$SYNTH" leak "$T/heap.db" --samples 300 >/dev/null
MAX=9223372036854775807 MIN=-9223372036854775808
cases=()
add() { cases+=("$1|$2|$3"); }   # name|base|sql
for col in t_ns rss rss_peak cg_usage cg_usage_peak cg_working_set cg_limit nprocs cg_oom_kills; do
  for v in $MAX $MIN -1; do add "$col=$v" base "UPDATE samples SET $col = $v WHERE rowid IN (1, 150, 300)"; done
done
for col in heap_live heap_live_peak heap_allocs; do
  for v in $MAX $MIN; do add "$col=$v" heap "UPDATE samples SET $col = $v WHERE rowid % 7 = 0"; done
done
add "every rss INT64_MAX" base "UPDATE samples SET rss = $MAX, rss_peak = $MAX, cg_usage = $MAX, cg_usage_peak = $MAX, cg_working_set = $MAX"
add "every t_ns equal" base "UPDATE samples SET t_ns = 5"
add "t_ns reversed" base "UPDATE samples SET t_ns = (400 - rowid) * 100000000"
add "t_ns alternating extremes" base "UPDATE samples SET t_ns = CASE WHEN rowid % 2 THEN $MAX ELSE $MIN END"
for v in 0 -1 $MAX $MIN; do add "interval_ns=$v" base "UPDATE run SET interval_ns = $v"; done
for v in $MAX $MIN; do add "started_wall_ns=$v" base "UPDATE run SET started_wall_ns = $v"; done
for v in $MAX -1; do add "duration_ns=$v" base "UPDATE run SET duration_ns = $v"; done
for v in $MAX -7; do add "limit_bytes=$v" base "UPDATE run SET limit_bytes = $v"; done
add "exit_code huge" base "UPDATE run SET exit_code = 9999999999, exit_signal = 99999"
add "exit_signal negative" base "UPDATE run SET exit_signal = -3"
add "events at extremes" base "UPDATE events SET t_ns = CASE WHEN rowid % 2 THEN $MAX ELSE $MIN END, value = $MAX"
add "load rows at extremes" base "UPDATE load SET t_ns = $MAX, requests = $MAX, p99_us = $MAX, connections = $MIN"
add "load rows negative" base "UPDATE load SET requests = -5, inflight = $MIN, stage = $MAX"
add "text in number columns" base "UPDATE samples SET rss = 'x', t_ns = 'y' WHERE rowid < 10"
add "blobs in text columns" base "UPDATE run SET command = x'1b5b324a00ff', heap_status = x'00'"
add "cgroup_version huge" base "UPDATE run SET cgroup_version = 99999"

crashed=0
for c in "${cases[@]}"; do
  name=${c%%|*}; rest=${c#*|}; base=${rest%%|*}; sql=${rest#*|}
  f="$T/case.db"; cp "$T/$base.db" "$f"
  sqlite3 "$f" "$sql"
  bad=""
  for view in "report" "report --json" "explain" "size" "size --format json" "compare $T/base.db"; do
    set +e
    # shellcheck disable=SC2086
    timeout 20 "$HEADROOM" $view "$f" >"$T/out" 2>"$T/err" </dev/null; rc=$?
    set -e
    if [ "$rc" -ge 124 ]; then
      bad="$bad [$view: exit $rc $(head -c 300 "$T/err" | tr '\n' ' ')]"
    elif grep -q "runtime error\|Sanitizer" "$T/err"; then
      bad="$bad [$view: $(grep -m1 "runtime error\|Sanitizer" "$T/err")]"
    elif [ "$rc" -ne 0 ] && [ "$(wc -l <"$T/err")" -gt 1 ]; then
      bad="$bad [$view: more than one line on stderr]"
    fi
    if grep -q '"memory": "1Mi"\|limit *1Mi\b' "$T/out" && sqlite3 "$f" "select max(rss) from samples" | grep -q "^$MAX$"; then
      bad="$bad [$view: a 1Mi limit from an INT64_MAX peak]"
    fi
  done
  if [ -z "$bad" ]; then ok "$name"; else fail "$name:$bad"; crashed=$((crashed + 1)); fi
done
echo "# ${#cases[@]} corrupted recordings, $crashed with a crash, hang or wrapped figure"

# a recording cut short before its first write (no run row): every view says so in one line, the
# pprof export too (it said "has no heap sites", taking the file's missing run row for missing sites)
cp "$T/base.db" "$T/norun.db"
sqlite3 "$T/norun.db" "DELETE FROM run"
for view in "report" "report --json" "report --html $T/norun.html" "report --pprof $T/norun.pb.gz"; do
  set +e
  # shellcheck disable=SC2086
  "$HEADROOM" $view "$T/norun.db" >/dev/null 2>"$T/err"; rc=$?
  set -e
  if [ "$rc" -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "no run information" "$T/err"; then
    ok "$view: a recording without its run row is said to be cut short"
  else
    fail "$view on a recording without its run row: exit $rc, $(head -c 300 "$T/err")"
  fi
done
# the page's own entry points (html_report_file, html_compare_files): they took the missing run
# row for "no samples" and rendered a NULL analysis (SIGSEGV)
set +e
"$BUILD/tests/tools/html_tool" report "$T/norun.db" "$T/norun.html" 2>"$T/err"; rc=$?
set -e
if [ "$rc" -eq 1 ] && grep -q "no run information" "$T/err"; then ok "html_report_file: the missing run row said"; else
  fail "html_report_file on a recording without its run row: exit $rc, $(head -c 300 "$T/err")"; fi
set +e
"$HEADROOM" compare "$T/base.db" "$T/norun.db" --html "$T/norun-cmp.html" >/dev/null 2>"$T/err"; rc=$?
set -e
if [ "$rc" -eq 1 ] && grep -q "no run information" "$T/err"; then ok "compare --html: the missing run row said"; else
  fail "compare --html on a recording without its run row: exit $rc, $(head -c 300 "$T/err")"; fi
finish
