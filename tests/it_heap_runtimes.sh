#!/usr/bin/env bash
# The demos' own heap pages (issue 12): the Rust demo with jemalloc compiled in as its global
# allocator holding a known 100 MiB must report jemalloc's allocated bytes within 2 % through
# `run --metrics` (the shim cannot see it and says why); the Go demo's /metrics is the Prometheus
# client library's standard page, read as the Go runtime's. Builds the demos first
# (scripts/build-examples.sh; cached ~1 s, cold ~1-2 min). Ports 27501..27510.
. "$(dirname "$0")/lib.sh"

deps_log="$T/deps.log"
if ! bash "$SRC/scripts/install-deps.sh" demo runtimes >"$deps_log" 2>&1; then
	echo "skip: cannot install the demo toolchains (scripts/install-deps.sh demo runtimes):"; cat "$deps_log"; exit 77
fi
EX="$BUILD/examples"
EXAMPLES_OUT="$EX" bash "$SRC/scripts/build-examples.sh" rust-jemalloc go >"$T/build.log" 2>&1 ||
	{ cat "$T/build.log"; fail "the demos build"; finish; }
J="$EX/demo-rust-jemalloc-svc"

# --- jemalloc compiled in: 100 MiB held ----------------------------------------------------------
URL=http://127.0.0.1:27501/metrics
"$HEADROOM" run --metrics "$URL" --duration 4s --record "$T/je.db" --out "$T/je.txt" \
	-- "$J" --listen 127.0.0.1:27501 --hold-mib 100 --threads 2 >"$T/je.out" 2>"$T/je.err" ||
	fail "run --metrics on the jemalloc demo exits 0"
expect_eq "heap status names jemalloc and the page" "$(q "$T/je.db" "select heap_status from run")" \
	"available: jemalloc (metrics $URL)"
live=$(q "$T/je.db" "select heap_live from samples where heap_live is not null order by t_ns desc limit 1")
# 100 MiB in 1 MiB vectors, plus the service's own few hundred KiB (tokio, hyper, jemalloc's caches)
within "jemalloc's allocated bytes of a 100 MiB hold" "${live:-0}" 104857600 2
held=$(q "$T/je.db" "select heap_held from samples where heap_held is not null order by t_ns desc limit 1")
check "held = resident - allocated is known and small next to the hold (got ${held:-none})" \
	test "${held:-999999999}" -ge 0 -a "${held:-999999999}" -lt 20971520
check "the report shows the live heap" grep -qE "^Heap: live (9[89]|10[0-2])\.[0-9]Mi" "$T/je.txt"

# without --metrics: the shim cannot see a bundled allocator, and says so
"$HEADROOM" run --duration 1s --record "$T/je-shim.db" -- "$J" --listen 127.0.0.1:27502 >/dev/null 2>"$T/je-shim.err" || true
check "the shim says the program bundles jemalloc" grep -q "bundles jemalloc" "$T/je-shim.err"

# --- the Go demo: the client library's standard page ----------------------------------------------
URL=http://127.0.0.1:27503/metrics
"$HEADROOM" run --metrics "$URL" --duration 3s --record "$T/go.db" \
	-- "$EX/demo-go-svc" --listen 127.0.0.1:27503 >/dev/null 2>"$T/go.err" || fail "run --metrics on the Go demo exits 0"
expect_eq "the Go demo's /metrics is read as the Go runtime's" "$(q "$T/go.db" "select heap_status from run")" \
	"available: go runtime (metrics $URL)"
n=$(q "$T/go.db" "select count(*) from samples where heap_live > 0")
check "heap figures from client_golang's go_memstats (got $n samples)" test "${n:-0}" -ge 10
# and without --metrics the same binary is Go: its GC trace instead
"$HEADROOM" run --duration 2s --record "$T/go-trace.db" -- "$EX/demo-go-svc" --listen 127.0.0.1:27504 >/dev/null 2>&1 || true
expect_eq "without --metrics: the Go demo's heap from its GC trace" "$(q "$T/go-trace.db" "select heap_mode from run")" "gctrace"

finish
