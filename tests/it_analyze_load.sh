#!/usr/bin/env bash
# Memory that follows the load, judged end to end: the C demo service (examples/c-svc, built
# here without sanitizers) under `headroom run --load` with stages 5, 60, 5, 60, 5 connections of
# /work?kb=1024&ms=30 (about 60 MiB in flight at 60), recorded every 50 ms. The service runs in its
# release mode (malloc_trim every 200 ms): without it glibc keeps a varying part of each burst in
# its arenas from run to run, which is the allocator's story, not this test's. The verdict must be
# tracks-load with a strong correlation, memory must come down after the load, and a
# memory-based HPA is not flagged for it. ~20 s.
set -euo pipefail
: "${HEADROOM:?}" "${BUILD:?}"
: "${SRC:?}"
probe=$("$HEADROOM" run --load 1s:1 -- true 2>&1 || true)
case "$probe" in *"unrecognized"*|*"unknown option"*|*"being built"*) echo "run --load not built"; exit 77 ;; esac
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# the plain -O2 service, as the demos measure it: a sanitizer's allocator (ASan's quarantine holds
# freed memory) would not give memory back after the load, whatever the service does
SVC="$tmp/demo-c-svc"
${CC_PLAIN:-cc} -std=gnu11 -O2 -pthread "$SRC/examples/c-svc/c_svc.c" -o "$SVC" || { echo "cannot build the C demo"; exit 77; }
free_port() { python3 "$(dirname "$0")/free_port.py"; }
# a port another test draws at the same instant ("Address already in use"): pick again
for attempt in 1 2 3; do
	port=$(free_port)
	rm -f "$tmp/load.hr"
	if "$HEADROOM" run --quiet --interval 50ms --record "$tmp/load.hr" --load 3s:5,3s:60,3s:5,3s:60,3s:5 \
		--ready 127.0.0.1:$port --path '/work?kb=1024&ms=30' --cooldown 2s \
		-- "$SVC" --listen 127.0.0.1:$port --release --release-ms 200 >/dev/null 2>"$tmp/err"; then
		break
	fi
	grep -q 'Address already in use' "$tmp/err" && [ $attempt -lt 3 ] && continue
	fail "run --load: $(cat "$tmp/err")"
done
"$HEADROOM" report "$tmp/load.hr" --json >"$tmp/load.json"
"$HEADROOM" report "$tmp/load.hr" >"$tmp/load.txt"
python3 - "$tmp/load.json" 2>"$tmp/why" <<'PY' || { cat "$tmp/load.txt"; fail "$(cat "$tmp/why")"; }
import json, sys
d = json.load(open(sys.argv[1]))
t = d["trend"]
assert t["verdict"] == "tracks-load", t
assert t["load_correlation"] >= 0.7, t
assert t["falls_after_load"] is True, t
stages = [p for p in d["phases"] if p["stage"] is not None]
assert [p["connections"] for p in stages] == [5, 60, 5, 60, 5], stages
# 60 connections × 1 MiB held: the 60-connection stages sit tens of MiB above the 5-connection one
assert stages[1]["p50_bytes"] - stages[0]["p50_bytes"] > 30 * 2**20, stages
assert d["memory"]["startup_from"] == "ready", d["memory"]
PY
grep -q 'Memory follows the load (r = ' "$tmp/load.txt" || fail "text: no correlation"
"$HEADROOM" size "$tmp/load.hr" --hpa-target 80% --format json >"$tmp/size.json"
python3 - "$tmp/size.json" <<'PY' || fail "hpa: $(cat "$tmp/size.json")"
import json, sys
a = json.load(open(sys.argv[1]))["autoscaling"]
assert a["hpa_warning"] is False, a
PY
echo ok
