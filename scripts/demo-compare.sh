#!/usr/bin/env bash
# The two questions users ask, answered with recordings: the Rust demo service built in debug
# vs release, and Rust vs Go, each recorded under the same load; prints `headroom compare`
# for both pairs. See examples/README.md for the services.
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
bash "$SRC/scripts/build-examples.sh" rust rust-debug go
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

record() {  # record NAME BINARY: one recording, same load, same limit
  local name=$1 bin=$2 port
  port=$(free_port)
  rm -f "$OUT/$name.db"
  echo "== $name: $(basename "$bin") under '$LOAD' on 127.0.0.1:$port$PATH_Q, limit $LIMIT"
  "$HEADROOM" run --quiet --limit "$LIMIT" --record "$OUT/$name.db" \
    --ready "127.0.0.1:$port" --load "$LOAD" --path "$PATH_Q" \
    -- "$bin" --listen "127.0.0.1:$port" || true   # ended by headroom after the load: not an error
}

record rust-release "$EX/demo-rust-svc"
record rust-debug "$EX/demo-rust-svc-debug"
record go "$EX/demo-go-svc"

echo; echo "== Rust: debug vs release"
"$HEADROOM" compare "$OUT/rust-debug.db" "$OUT/rust-release.db"
echo; echo "== Rust (release) vs Go"
"$HEADROOM" compare "$OUT/rust-release.db" "$OUT/go.db"
