#!/usr/bin/env bash
# CI gating: docs/ci.md's worked example, run as written (a leaking build fails with the growing
# status, the fixed one passes), one exit status per --fail-on class, the markdown summary, and
# bad --fail-on / --format values refused with the accepted forms.
# ctest-labels: timing
. "$(dirname "$0")/lib.sh"
: "${SRC:?SRC must point at the source tree}"
cd "$T"
ln -s "$BUILD" build
export PATH="$(dirname "$HEADROOM"):$PATH" GITHUB_STEP_SUMMARY="$T/summary.md"

# the sh block after <!-- ci-example:NAME --> in docs/ci.md
example() {
  awk -v m="<!-- ci-example:$1 -->" '$0 == m {f = 1; next} f && /^```sh/ {b = 1; next} b && /^```/ {exit} b {print}' \
    "$SRC/docs/ci.md"
}
run_example() {  # run_example NAME: sets rc
  local code; code=$(example "$1")
  [ -n "$code" ] || { fail "docs/ci.md has no ci-example:$1 block"; rc=-1; return; }
  set +e; bash -c "$code" 2>"$T/$1.err"; rc=$?; set -e
}

# 1. the worked example, as written
: > summary.md
run_example leak
expect_eq "docs/ci.md: the leaking build fails with status 10 (growing)" "$rc" 10
check "the failed class is named on stderr" grep -q -- "--fail-on growing: failed" leak.err
check "the summary gives the verdict" grep -q 'memory verdict \*\*growing\*\*' summary.md
check "the summary says the gate failed" grep -Eq '^\*\*CI gate\*\* \(`--fail-on`\): `growing` \*\*failed\*\*, `oom` passed, `over-limit` passed — exit status 10$' summary.md
check "the summary has the figures table" grep -q '^| true peak | ' summary.md
check "the summary has the recommendation" grep -q '^\*\*Recommendation:\*\* `limits.memory: ' summary.md
check "the summary links the HTML report, which exists" grep -q '\[HTML\](<leak.html>)' summary.md
check "the HTML report was written" test -s leak.html
: > summary.md
run_example fixed
expect_eq "docs/ci.md: the fixed build passes (status 0)" "$rc" 0
check "the fixed build's summary says every class passed" \
  grep -q '`growing` passed, `oom` passed, `over-limit` passed — exit status 0' summary.md
check "the fixed build is judged stable" grep -q 'memory verdict \*\*stable\*\*' summary.md
run_example size
expect_eq "docs/ci.md: size --fail-on under-sized on the fixed build passes" "$rc" 0
check "size's markdown has the recordings table" grep -q '^| fixed\\.hr | stable | ' summary.md
# the markdown renders only the analysis: its peak is the one the JSON report gives
peak_json=$("$HEADROOM" report fixed.hr --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["rss"]["peak_bytes"])')
check "the recording's peak is a real figure ($peak_json bytes)" test "$peak_json" -gt 1000000

# 2. one status per class, on real runs
set +e
"$HEADROOM" run --quiet --limit 32Mi --record oom.hr --fail-on growing,oom -- "$PROGS/memgrow" 100 8 5 0 2>oom.err
rc=$?
set -e
expect_eq "an OOM-killed run with --fail-on oom exits 11, not the kill's 137" "$rc" 11
check "oom is named on stderr" grep -q -- "--fail-on oom: failed" oom.err
set +e
"$HEADROOM" run --quiet --limit 32Mi --record oom2.hr -- "$PROGS/memgrow" 100 8 5 0 2>/dev/null
rc=$?
set -e
expect_eq "without --fail-on the same run keeps the kill's status 137" "$rc" 137
set +e
"$HEADROOM" size oom.hr --fail-on oom > /dev/null 2>&1; rc=$?
set -e
expect_eq "size --fail-on oom on the OOM recording exits 11" "$rc" 11
# known_startup 24 MiB at start then 16 MiB, under 28Mi: the recommended limit (peak + 25 %) is above it
set +e
# the run lasts as long as the program (3.5 s), never cut by the clock (issue 20.3)
"$HEADROOM" run --quiet --limit 28Mi --record small.hr -- "$PROGS/known_startup" 24 16 3 2>/dev/null
"$HEADROOM" size small.hr --fail-on under-sized --format markdown > small.md 2>small.err; rc=$?
set -e
expect_eq "size --fail-on under-sized on a run under a too-small limit exits 13" "$rc" 13
check "under-sized is named on stderr" grep -q -- "--fail-on under-sized: failed" small.err
set +e
"$HEADROOM" size small.hr --fail-on growing > /dev/null 2>&1; rc=$?
set -e
expect_eq "a class that did not fire leaves size at 0" "$rc" 0

# 3. hostile text in the summary cannot break the table or inject HTML
cp fixed.hr 'x|<b>y[z](u).hr'
"$HEADROOM" size 'x|<b>y[z](u).hr' --format markdown > hostile.md
check "a path with |, <b> and a link is escaped in the table" \
  grep -qF '| x\|&lt;b&gt;y\[z\]\(u\)\.hr | stable' hostile.md

# 4. bad input: the accepted forms, status 2
bad() {  # bad DESCRIPTION PATTERN args...
  local d=$1 pat=$2; shift 2
  set +e; local o; o=$("$HEADROOM" "$@" 2>&1 >/dev/null); local r=$?; set -e
  if [ "$r" -eq 2 ] && grep -q -- "$pat" <<<"$o"; then ok "$d"; else fail "$d: exit $r, stderr: $o"; fi
}
bad "run: unknown --fail-on class" "unknown class 'leaky' (accepted: growing, oom, over-limit, under-sized" \
  run --fail-on oom,leaky -- /bin/true
bad "size: unknown --fail-on class" "unknown class 'OOM' (accepted: growing, oom, over-limit, under-sized" \
  size fixed.hr --fail-on OOM
bad "size: empty --fail-on" "unknown class '' (accepted:" size fixed.hr --fail-on ''
bad "run: unknown --format" "--format 'html' is not an output format (accepted: text, json, markdown)" \
  run --format html -- /bin/true
bad "size: unknown --format" "--format 'md' is not an output format (accepted: yaml, json, text, markdown)" \
  size fixed.hr --format md
finish
