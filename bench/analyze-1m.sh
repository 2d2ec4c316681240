#!/usr/bin/env bash
# Analysis of a 1,000,000-sample recording must take under 1 s (issue 4). Builds the recording
# once (synthetic: a leak under noise, 1 ms interval, ~17 min), then times loading the columns
# the analysis reads, the analysis, and the JSON rendering, best of 3, and the whole
# `headroom report --json` for scale. Figures in bench/results/analyze-1m.json.
set -euo pipefail
BUILD=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
rec=${TMPDIR:-/tmp}/headroom-bench-1m.hr
[ -x "$BUILD/tests/tools/synth_recording" ] || { echo "build first (make build)" >&2; exit 1; }
if [ ! -s "$rec" ]; then
	rm -f "$rec"
	"$BUILD/tests/tools/synth_recording" leak "$rec" --samples 1000000 --interval-ms 1
fi
line=$("$BUILD/tests/tools/bench_analyze" "$rec" 3)
start=$(date +%s.%N)
"$BUILD/headroom" report "$rec" --json >/dev/null
end=$(date +%s.%N)
total=$(echo "$end - $start" | bc)
mkdir -p "$here/results"
echo "${line%\}}, \"report_cli_s\": $total}" | tee "$here/results/analyze-1m.json"
an=$(echo "$line" | sed 's/.*"analyze_s": \([0-9.]*\).*/\1/')
if [ "$(echo "$an < 1.0" | bc)" != 1 ]; then
	echo "FAIL: analysis took ${an}s (> 1 s)" >&2
	exit 1
fi
echo "ok: analysis of 1,000,000 samples in ${an}s"
