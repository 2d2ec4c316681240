#!/usr/bin/env bash
# run --metrics: the heap of a Go service from its own Prometheus page (issue 12). A Go program
# holding a known 64 MiB of slices (after a GC) must be recorded within 5 % through its /metrics,
# the report and explain must show that heap and name the Go runtime; a broken endpoint
# (refused, 500, garbage, a 10 MB body, slow) must leave the recording intact with one note each.
# Ports: free ones picked at run time (other builds of this suite may run at the same time).
# ctest-labels: timing
. "$(dirname "$0")/lib.sh"

command -v go >/dev/null || { echo "skip: no go (scripts/install-deps.sh demo)"; exit 77; }
mkdir -p "$BUILD/gocache"
# std only, offline; the build cache lives in the build tree (never the source tree)
(cd "$T" && GOPROXY=off GOFLAGS=-mod=mod GOCACHE="$BUILD/gocache" \
	go build -o "$T/heapmetrics" "$SRC/tests/progs/go/heapmetrics.go") || { echo "go build failed"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- known truth: 64 MiB live after a GC ---------------------------------------------------
P1=$(free_port)
URL=http://127.0.0.1:$P1/metrics
"$HEADROOM" run --metrics "$URL" --duration 5s --record "$T/go.db" --out "$T/go.txt" \
	-- "$T/heapmetrics" 127.0.0.1:$P1 64 >"$T/go.out" 2>"$T/go.err" || fail "run --metrics exits 0"
expect_eq "heap mode" "$(q "$T/go.db" "select heap_mode from run")" "metrics"
expect_eq "heap status names the runtime and the page" "$(q "$T/go.db" "select heap_status from run")" \
	"available: go runtime (metrics $URL)"
live=$(q "$T/go.db" "select heap_live from samples where heap_live is not null order by t_ns desc limit 1")
within "live heap from go_memstats_heap_alloc_bytes" "${live:-0}" 67108864 5
n=$(q "$T/go.db" "select count(*) from samples where heap_live is not null")
check "heap figures in most samples (got $n)" test "${n:-0}" -ge 25
# the instant of an answer: never after its sample, and at most a poll (1 s) and a timeout older
bad=$(q "$T/go.db" "select count(*) from samples where heap_live is not null and (heap_t_ns > t_ns or t_ns - heap_t_ns > 1900000000)")
expect_eq "heap_t_ns within a poll of each sample" "$bad" 0
held=$(q "$T/go.db" "select heap_held from samples where heap_held is not null order by t_ns desc limit 1")
check "held (idle - released) is known and below the live set (got ${held:-none})" test "${held:-99999999999}" -lt 67108864
n=$(grep -c "$URL" "$T/go.err")
expect_eq "no note on a working page but the one saying where the heap comes from" "$n" 1
[ "$n" = 1 ] || cat "$T/go.err"
check "report shows the live heap" grep -qE "^Heap: live 6[3-5]\.[0-9]Mi" "$T/go.txt"
"$HEADROOM" explain "$T/go.db" >"$T/explain.txt" 2>&1 || fail "explain exits 0"
check "explain names the Go runtime" grep -q "go runtime" "$T/explain.txt"
check "explain shows the live heap" grep -qE "live heap +6[3-5]\.[0-9]Mi" "$T/explain.txt"

# attach --metrics (localhost, --json): the same figures from a service already running
P2=$(free_port)
"$T/heapmetrics" 127.0.0.1:$P2 32 & gopid=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$P2) 2>/dev/null && break; sleep 0.1; done
rc=0
"$HEADROOM" attach --pid $gopid --metrics http://localhost:$P2/metrics --duration 3s --record "$T/attach.db" \
	--json >"$T/attach.json" 2>"$T/attach.err" || rc=$?
kill $gopid; wait $gopid 2>/dev/null || true
expect_eq "attach --metrics exits 0" $rc 0
python3 - "$T/attach.json" "$P2" >"$T/attach.check" 2>&1 <<'PY' || true
import json, sys
h = json.load(open(sys.argv[1]))["heap"]
assert h["available"] is True and h["status"] == "available: go runtime (metrics http://localhost:%s/metrics)" % sys.argv[2], h
assert abs(h["live_final_bytes"] - 32 * 2**20) <= 0.05 * 32 * 2**20, h
print("ok")
PY
expect_eq "attach --json: heap from the Go runtime, 32 MiB within 5 %" "$(cat "$T/attach.check")" ok

# --- broken endpoints: one note each, the recording goes on ----------------------------------
cat >"$T/bad.py" <<'PY'
import socket, sys, threading, time
mode, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(16)
def serve(c):
    try:
        c.recv(4096)
        if mode == "500":
            c.sendall(b"HTTP/1.0 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops\n")
        elif mode == "garbage":
            c.sendall(b"HTTP/1.0 200 OK\r\n\r\ngo_memstats_heap_alloc_bytes twelve\n\x1b[31m{{{\n")
        elif mode == "big":
            c.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + (b"# " + b"x" * 1000 + b"\n") * 10000)
        elif mode == "page":
            body = (b"# TYPE jemalloc_allocated_bytes gauge\njemalloc_allocated_bytes 104857600\n"
                    b"jemalloc_active_bytes 1.1e8\njemalloc_resident_bytes 1.2e+08\n"
                    b"app_heap_bytes{pool=\"main\"} 5000000 1700000000000\napp_free_bytes 700000\n")
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: %d\r\n\r\n"
                      % len(body) + body)
        elif mode == "slow":
            time.sleep(2)
            c.sendall(b"HTTP/1.0 200 OK\r\n\r\ngo_memstats_heap_alloc_bytes 1\n")
    except OSError:
        pass
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
for mode in refused 500 garbage big slow; do
	port=$(free_port)
	pid=
	if [ $mode != refused ]; then
		python3 "$T/bad.py" $mode $port & pid=$!
		for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
	fi
	# a refusal is only said after the start-up grace (METRICS_START_GRACE_NS, 3 s)
	dur=2500ms; [ $mode = refused ] && dur=5s
	rc=0
	"$HEADROOM" run --quiet --metrics "http://127.0.0.1:$port/metrics" --duration $dur --record "$T/$mode.db" \
		-- sleep 30 2>"$T/$mode.err" || rc=$?
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	expect_eq "$mode: exit status" $rc 0
	n=$(q "$T/$mode.db" "select count(*) from samples")
	check "$mode: the recording goes on ($n samples)" test "${n:-0}" -ge 20
	expect_eq "$mode: no heap figures" "$(q "$T/$mode.db" "select count(*) from samples where heap_live is not null")" 0
	case $mode in
	refused) want="cannot connect: Connection refused" ;;
	500) want="HTTP status 500 (expected 200)" ;;
	garbage) want="line 1 is not the Prometheus text format" ;;
	big) want="larger than 4 MiB" ;;
	slow) want="no complete answer within 800ms" ;;
	esac
	# once, not once a poll; a loaded machine may add another kind (a 10 MB page read past the
	# timeout is also slow), each said once too
	n=$(grep -c "metrics http://127.0.0.1:$port/metrics: .*$want" "$T/$mode.err")
	expect_eq "$mode: one note saying '$want'" "$n" 1
	expect_eq "$mode: no note repeated" "$(grep "metrics http" "$T/$mode.err" | sort | uniq -d)" ""
	[ "$n" = 1 ] || cat "$T/$mode.err"
	check "$mode: status says unavailable" grep -q "^unavailable: metrics" <(q "$T/$mode.db" "select heap_status from run")
	check "$mode: no escape reaches the terminal" test "$(grep -c $'\x1b' "$T/$mode.err")" -eq 0
done

# jemalloc's names as Rust services export them, and --heap-metric (which wins over known names)
P10=$(free_port)
python3 "$T/bad.py" page $P10 & pid=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$P10) 2>/dev/null && break; sleep 0.1; done
"$HEADROOM" run --quiet --metrics http://127.0.0.1:$P10/metrics --duration 2s --record "$T/je.db" -- sleep 30 2>/dev/null ||
	fail "jemalloc page: run exits 0"
"$HEADROOM" run --quiet --metrics http://127.0.0.1:$P10/metrics --heap-metric live=app_heap_bytes \
	--heap-metric held=app_free_bytes --duration 2s --record "$T/hm.db" -- sleep 30 2>/dev/null ||
	fail "--heap-metric: run exits 0"
kill $pid; wait $pid 2>/dev/null || true
expect_eq "jemalloc: status" "$(q "$T/je.db" "select heap_status from run")" \
	"available: jemalloc (metrics http://127.0.0.1:$P10/metrics)"
expect_eq "jemalloc: live = allocated, held = resident - allocated" \
	"$(q "$T/je.db" "select distinct heap_live || ' ' || heap_held from samples where heap_live is not null")" \
	"104857600 15142400"
expect_eq "--heap-metric: status" "$(q "$T/hm.db" "select heap_status from run")" \
	"available: --heap-metric (metrics http://127.0.0.1:$P10/metrics)"
expect_eq "--heap-metric: the named series (labels and timestamp allowed)" \
	"$(q "$T/hm.db" "select distinct heap_live || ' ' || heap_held from samples where heap_live is not null")" \
	"5000000 700000"

# bad input: not loopback, not a URL, --heap-metric alone or malformed
rc=0; "$HEADROOM" run --metrics http://10.1.2.3/metrics -- true 2>"$T/u1" || rc=$?
expect_eq "non-loopback --metrics is a usage error" $rc 2
check "it says loopback" grep -q "not a loopback address" "$T/u1"
rc=0; "$HEADROOM" run --metrics ftp://x -- true 2>"$T/u2" || rc=$?
expect_eq "a non-URL is a usage error" $rc 2
rc=0; "$HEADROOM" run --heap-metric live=x -- true 2>"$T/u3" || rc=$?
expect_eq "--heap-metric without --metrics" $rc 2
rc=0; "$HEADROOM" run --metrics "$URL" --heap-metric size=9x -- true 2>"$T/u4" || rc=$?
expect_eq "--heap-metric bad form" $rc 2
check "it names the accepted form" grep -q "ROLE=NAME (ROLE: live or held" "$T/u4"
finish
