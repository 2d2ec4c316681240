#!/usr/bin/env bash
# make demo: the main job on a bundled default. Builds the Rust demo service (hyper + tokio from
# Debian's crates), runs it under a 256Mi cgroup limit with the burst load profile for about a
# minute while recording, and prints the live line, the verdict and the recommended resources.
# DEMO_OUT (default demo-out/) receives the recording and, where built, the HTML report.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
HR="$BUILD/headroom"
OUT=${DEMO_OUT:-$SRC/demo-out}
mkdir -p "$OUT"

echo "== building the Rust demo service (offline, from Debian's crates)"
bash "$SRC/scripts/build-examples.sh" rust
SVC=${EXAMPLES_OUT:-$BUILD/examples}/demo-rust-svc

port=
for p in $(seq 18080 18180); do
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { port=$p; break; }
done
[ -n "$port" ] || { echo "demo: no free loopback port in 18080..18180" >&2; exit 1; }

stamp=$(date +%Y%m%d-%H%M%S)
rec="$OUT/rust-svc-burst-$stamp.db"
html="$OUT/rust-svc-burst-$stamp.html"
html_opt=()
"$HR" report --help 2>&1 | grep -q -- '--html' && html_opt=(--html "$html")
echo
echo "== recording: burst load (15 s at 24 connections, 10 s at 192, 35 s at 24), 256Mi limit"
cmd=("$HR" run --limit 256Mi --interval 100ms --record "$rec" "${html_opt[@]}"
     --ready "127.0.0.1:$port" --load burst --connections 24 --path '/work?kb=256&ms=20'
     -- "$SVC" --listen "127.0.0.1:$port")
echo "\$ headroom run --limit 256Mi --record $rec --ready 127.0.0.1:$port --load burst --connections 24 --path '/work?kb=256&ms=20' -- demo-rust-svc --listen 127.0.0.1:$port"
"${cmd[@]}"
echo
echo "The recording is $rec (sqlite3 works on it; see docs/recording.md)."
[ ${#html_opt[@]} -gt 0 ] && [ -f "$html" ] && echo "The HTML report is $html."
exit 0
