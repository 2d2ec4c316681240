#!/usr/bin/env bash
# make demo: headroom on a bundled example. Until the load-driven demo lands, the example is
# examples/spiky.c: a 200 MiB startup peak, then ~40 MiB steady with a 5 ms, 300 MiB burst every 3 s.
set -euo pipefail
BUILD=${1:-build}
out=${DEMO_OUT:-demo-out}
mkdir -p "$out"
rec="$out/spiky-$(date +%Y%m%d-%H%M%S).db"
echo "headroom demo: recording examples/spiky under a 512Mi limit at a 1 s interval (about 20 s)"
echo "\$ headroom run --limit 512Mi --interval 1s --record $rec -- spiky 18"
"$BUILD/headroom" run --limit 512Mi --interval 1s --record "$rec" -- "$BUILD/spiky" 18
echo
echo "The 5 ms bursts fall between the 1 s samples, yet the peak above is their true height:"
echo "headroom resets VmHWM and the cgroup peak every interval. Query the recording yourself:"
echo "\$ sqlite3 $rec 'select t_ns/1e9 as s, rss/1048576 as rss_mi, rss_peak/1048576 as peak_mi from samples'"
sqlite3 -header -column "$rec" 'select round(t_ns/1e9,1) as s, rss/1048576 as rss_mi, rss_peak/1048576 as peak_mi, cg_working_set/1048576 as ws_mi from samples limit 12'
