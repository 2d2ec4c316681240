#!/usr/bin/env bash
# The two questions users ask, answered with recordings: the Rust demo service built in debug
# vs release, and Rust vs Go, each recorded under the same load; prints `headroom compare`
# for both pairs, then the heap of the three runtimes side by side: glibc Rust through the heap
# shim, Rust with jemalloc compiled in through its /metrics page (--metrics), Go through its
# runtime's own GC reports (no flag: a Go binary is recognised). See examples/README.md.
#   scripts/demo-compare.sh [BUILD]        (default build; recordings in BUILD/demo-compare/)
# Env: DEMO_LOAD   the load given to `headroom run --load` (default: the burst profile)
#      DEMO_PATH   the request path (default /work?kb=256&ms=20: memory tracks concurrency)
#      DEMO_LIMIT  the memory limit of each run (default 256Mi)
# Exits 77 when this headroom cannot run with --load yet.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
HEADROOM=${HEADROOM:-$BUILD/headroom}
LOAD=${DEMO_LOAD:-burst}
PATH_Q=${DEMO_PATH:-/work?kb=256&ms=20}
LIMIT=${DEMO_LIMIT:-256Mi}
OUT=$BUILD/demo-compare
EX=${EXAMPLES_OUT:-$SRC/build/examples}

[ -x "$HEADROOM" ] || { echo "demo-compare.sh: no headroom binary at $HEADROOM (make build)" >&2; exit 1; }
if ! "$HEADROOM" run --help 2>&1 | grep -q -- '--load'; then
  echo "demo-compare.sh: this headroom run has no --load yet" >&2
  exit 77
fi
bash "$SRC/scripts/build-examples.sh" rust rust-debug rust-jemalloc go
mkdir -p "$OUT"

# A loopback port nobody listens on (checked, not reserved: good enough for a demo).
free_port() {
  local p
  for p in $(seq 18080 18180); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  echo "demo-compare.sh: no free port in 18080..18180" >&2
  return 1
}

record() {  # record NAME BINARY [metrics]: one recording, same load, same limit
  local name=$1 bin=$2 port metrics=()
  port=$(free_port)
  [ "${3:-}" = metrics ] && metrics=(--metrics "http://127.0.0.1:$port/metrics")
  rm -f "$OUT/$name.db"
  echo "== $name: $(basename "$bin") under '$LOAD' on 127.0.0.1:$port$PATH_Q, limit $LIMIT"
  "$HEADROOM" run --quiet --limit "$LIMIT" --record "$OUT/$name.db" "${metrics[@]}" \
    --ready "127.0.0.1:$port" --load "$LOAD" --path "$PATH_Q" \
    -- "$bin" --listen "127.0.0.1:$port" >/dev/null || true   # ended by headroom after the load: not an error
}

record rust-release "$EX/demo-rust-svc"
record rust-debug "$EX/demo-rust-svc-debug"
record rust-jemalloc "$EX/demo-rust-jemalloc-svc" metrics
record go "$EX/demo-go-svc"

echo; echo "== Rust: debug vs release"
"$HEADROOM" compare "$OUT/rust-debug.db" "$OUT/rust-release.db"
echo; echo "== Rust (release) vs Go"
"$HEADROOM" compare "$OUT/rust-release.db" "$OUT/go.db"

echo; echo "== The heap of the three runtimes (RSS peak next to the heap each one reports)"
for name in rust-release rust-jemalloc go; do
  "$HEADROOM" report --json "$OUT/$name.db" >"$OUT/$name.json"
done
python3 - "$OUT" <<'PY'
import json, sys
def mi(b):
    return "-" if b is None else "%.1fMi" % (b / 2**20)
print("%-14s %-44s %9s %11s %11s %s" % ("run", "heap from", "RSS peak", "live final", "held final", "GC"))
for name in ("rust-release", "rust-jemalloc", "go"):
    d = json.load(open("%s/%s.json" % (sys.argv[1], name)))
    h, g = d["heap"], d.get("gc")
    src = h["status"].replace("available: ", "")
    gc = "-" if not g else "%d cycles, goal %s, GOMEMLIMIT %s, GOGC <= %s" % (
        g["cycles"], mi(g["goal_final_bytes"]), mi(g["gomemlimit_bytes"]), g["gogc_max"])
    print("%-14s %-44s %9s %11s %11s %s" % (name, src[:44], mi(d["rss"]["peak_bytes"]),
          mi(h["live_final_bytes"]), mi(h["allocator_final_bytes"]), gc))
PY
