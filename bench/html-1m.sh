#!/usr/bin/env bash
# bench/html-1m.sh [BUILD]: how long a 1,000,000-sample HTML report takes to write (html_write_report,
# measured inside html_tool) and to render in headless chromium (performance.now() at the end of
# the page's script, i.e. parse + layout up to the script, and the wall time of the whole browser
# run including its start), side by side with a 1,000-sample report so the ratio shows what the
# sample count costs. Three browser runs each; the median is printed. The last row is the whole
# path of `report --html` on a stored 1,000,000-sample recording (synth_recording: 5 ms spikes
# every 5 s at a 1 ms interval, with a cgroup): record_open of every column, the analysis, the
# sizing and the page (html_report_file), timed around html_tool.
set -euo pipefail
BUILD=${1:-build}
SRC=$(cd "$(dirname "$0")/.." && pwd)
TOOL="$BUILD/tests/tools/html_tool"
bash "$SRC/scripts/install-deps.sh" browser >&2
CHROMIUM=$(command -v chromium)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

rec=${TMPDIR:-/tmp}/headroom-bench-html-1m.hr
if [ ! -s "$rec" ]; then
	rm -f "$rec"
	"$BUILD/tests/tools/synth_recording" spikes "$rec" --samples 1000000 --interval-ms 1 --cgroup >/dev/null
fi

printf '%-16s %10s %10s %12s %14s\n' samples write_ms size_KiB render_ms browser_wall_ms
for n in 1000 1000000 file-1000000; do
	out="$tmp/r$n.html"
	if [ "$n" = file-1000000 ]; then
		t0=$(date +%s%N)
		"$TOOL" report "$rec" "$out"
		t1=$(date +%s%N)
		write_ms=$(( (t1 - t0) / 1000000 ))
	else
		"$TOOL" synth full "$n" "$out" --summary >"$tmp/w$n"
		write_ms=$(awk '/^write_ns/{printf "%.1f", $2/1e6}' "$tmp/w$n")
	fi
	size=$(( $(stat -c %s "$out") / 1024 ))
	: >"$tmp/rend$n"
	: >"$tmp/wall$n"
	for run in 1 2 3; do
		t0=$(date +%s%N)
		timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
			--disable-component-update --disable-sync --no-first-run --disable-extensions \
			--user-data-dir="$(mktemp -d -p "$tmp")" --dump-dom "file://$out" 2>/dev/null >"$tmp/dom"
		t1=$(date +%s%N)
		echo $(( (t1 - t0) / 1000000 )) >>"$tmp/wall$n"
		grep -o 'data-rendered-ms="[0-9]*"' "$tmp/dom" | grep -o '[0-9]*' >>"$tmp/rend$n"
	done
	printf '%-16s %10s %10s %12s %14s\n' "$n" "$write_ms" "$size" "$(median <"$tmp/rend$n")" "$(median <"$tmp/wall$n")"
done
