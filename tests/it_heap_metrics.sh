#!/usr/bin/env bash
# run --metrics: the heap of a Go service from its own Prometheus page (issue 12). A Go program
# holding a known 64 MiB of slices (after a GC) must be recorded within 5 % through its /metrics,
# the report and explain must show that heap and name the Go runtime; a broken endpoint
# (refused, 500, garbage, a 10 MB body, slow) must leave the recording intact with one note each.
# Ports: free ones the kernel picks (free_port), never fixed ones another run on a shared machine
# may hold.
# ctest-labels: timing
. "$(dirname "$0")/lib.sh"

command -v go >/dev/null || { echo "skip: no go (scripts/install-deps.sh demo)"; exit 77; }
mkdir -p "$BUILD/gocache"
# std only, offline; the build cache lives in the build tree (never the source tree)
(cd "$T" && GOPROXY=off GOFLAGS=-mod=mod GOCACHE="$BUILD/gocache" \
	go build -o "$T/heapmetrics" "$SRC/tests/progs/go/heapmetrics.go") || { echo "go build failed"; exit 1; }

# No run here ends on a fixed duration: the Go program says "served N" after each page (and can
# exit after a given number), the other endpoints' runs last until the endpoint has answered a
# given number of polls (bad.py counts them), so a loaded machine stretches a run, never cuts it.

# wait_for FILE PATTERN: until a line matches (bounded: 60 s on a starved machine)
wait_for() {
	for _ in $(seq 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

P1=$(free_port) P2=$(free_port) P3=$(free_port)

# --- known truth: 64 MiB live after a GC ---------------------------------------------------
# Stopped with Ctrl-C just after its fifth page: the last samples then hold a fresh answer (an
# end just before the next poll would leave the breakdown's heap figures a poll old)
URL=http://127.0.0.1:$P1/metrics
"$HEADROOM" run --metrics "$URL" --record "$T/go.db" --out "$T/go.txt" \
	-- "$T/heapmetrics" 127.0.0.1:$P1 64 >"$T/go.out" 2>"$T/go.err" &
hp=$!
check "the Go program served its page five times" wait_for "$T/go.out" '^served 5$'
kill -INT $hp
rc=0; wait $hp || rc=$?
expect_eq "run --metrics ends with the Ctrl-C it forwarded (128+2)" $rc 130
expect_eq "heap mode" "$(q "$T/go.db" "select heap_mode from run")" "metrics"
expect_eq "heap status names the runtime and the page" "$(q "$T/go.db" "select heap_status from run")" \
	"available: go runtime (metrics $URL)"
live=$(q "$T/go.db" "select heap_live from samples where heap_live is not null order by t_ns desc limit 1")
within "live heap from go_memstats_heap_alloc_bytes" "${live:-0}" 67108864 5
# every sample from the first answer on carries the heap (answers are fresh for 5 s, polls 1 s apart)
n=$(q "$T/go.db" "select count(*) from samples where heap_live is not null")
all=$(q "$T/go.db" "select count(*) from samples where t_ns >= (select min(t_ns) from samples where heap_live is not null)")
check "heap figures in the samples from the first answer on ($n of $all)" test "${n:-0}" -ge 10 -a "${n:-0}" -ge "$(( ${all:-1} * 9 / 10 ))"
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
grep -qE "live heap +6[3-5]\.[0-9]Mi" "$T/explain.txt" || cat "$T/explain.txt"

# attach --metrics (localhost, --json): the same figures from a service already running
# (it exits after its third page: attach ends with it)
"$T/heapmetrics" 127.0.0.1:$P2 32 3 & gopid=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$P2) 2>/dev/null && break; sleep 0.1; done
rc=0
"$HEADROOM" attach --pid $gopid --metrics http://localhost:$P2/metrics --record "$T/attach.db" \
	--json >"$T/attach.json" 2>"$T/attach.err" || rc=$?
kill $gopid 2>/dev/null || true
wait $gopid 2>/dev/null || true
expect_eq "attach --metrics exits 0" $rc 0
python3 - "$T/attach.json" "$P2" >"$T/attach.check" 2>&1 <<'PY' || true
import json, sys
h = json.load(open(sys.argv[1]))["heap"]
assert h["available"] is True and h["status"] == "available: go runtime (metrics http://localhost:" + sys.argv[2] + "/metrics)", h
assert abs(h["live_final_bytes"] - 32 * 2**20) <= 0.05 * 32 * 2**20, h
print("ok")
PY
expect_eq "attach --json: heap from the Go runtime, 32 MiB within 5 %" "$(cat "$T/attach.check")" ok

# --- broken endpoints: one note each, the recording goes on ----------------------------------
cat >"$T/bad.py" <<'PY'
import socket, struct, sys, threading, time
mode, port, served = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(16)
def serve(c):
    try:
        if not c.recv(4096):
            c.close()
            return   # a probe of the port (connected, nothing asked): not a poll
        with open(served, "a") as f:   # one line per request: what the runs wait for
            f.write("x\n")
        with open(served) as f:
            nth = len(f.readlines())
        if (mode == "pagereset" and nth == 2) or (mode == "resetmany" and nth >= 2):
            # the request read, the connection reset (RST): what a service closing at exit does
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
            return
        if mode == "500":
            c.sendall(b"HTTP/1.0 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops\n")
        elif mode == "garbage":
            c.sendall(b"HTTP/1.0 200 OK\r\n\r\ngo_memstats_heap_alloc_bytes twelve\n\x1b[31m{{{\n")
        elif mode == "big":
            c.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + (b"# " + b"x" * 1000 + b"\n") * 10000)
        elif mode in ("page", "pagereset", "resetmany"):
            body = (b"# TYPE jemalloc_allocated_bytes gauge\njemalloc_allocated_bytes 104857600\n"
                    b"jemalloc_active_bytes 1.1e8\njemalloc_resident_bytes 1.2e+08\n"
                    b"jemalloc_retained_bytes 35000000\njemalloc_stats_metadata_bytes 4096\n"
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
# the program run under headroom for the endpoints below: it ends once the endpoint counted in
# file $1 has received $2 requests in all (polls, 1 s apart, one at a time). An absolute count: a
# count taken when the program starts races headroom's first poll, which may come before it
served() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
polls() {
	printf 'while [ $(if [ -f "%s" ]; then wc -l <"%s"; else echo 0; fi) -lt %d ]; do sleep 0.05; done' \
		"$1" "$1" "$2"
}
for mode in refused 500 garbage big slow; do
	port=$(free_port)
	pid=
	# five polls of the endpoint: a slow answer is only said after the start-up grace
	# (METRICS_START_GRACE_NS, 3 s), so of the fourth poll (3 s in; the third times out at 2.8 s),
	# which has timed out once the fifth comes (one poll at a time). A refusal is only said after
	# the grace too: that run's length is the tool's own timer, not the program's
	prog=(sh -c "$(polls "$T/$mode.served" 5)")
	dur=()
	if [ $mode != refused ]; then
		python3 "$T/bad.py" $mode $port "$T/$mode.served" & pid=$!
		for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
	else
		prog=(sleep 30)
		dur=(--duration 5s)
	fi
	rc=0
	"$HEADROOM" run --quiet --metrics "http://127.0.0.1:$port/metrics" "${dur[@]}" --record "$T/$mode.db" \
		-- "${prog[@]}" 2>"$T/$mode.err" || rc=$?
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	expect_eq "$mode: exit status" $rc 0
	# samples through all the polls (4 s between the first and the fifth), not only up to the first
	n=$(q "$T/$mode.db" "select count(*) from samples")
	span=$(q "$T/$mode.db" "select (max(t_ns) - min(t_ns)) / 1000000 from samples")
	check "$mode: the recording goes on ($n samples over ${span:-0} ms)" test "${n:-0}" -ge 10 -a "${span:-0}" -ge 2500
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
	n=$(grep -c "metrics http://127.0.0.1:$port/metrics: .*$want" "$T/$mode.err" || true)   # none: said below
	expect_eq "$mode: one note saying '$want'" "$n" 1
	expect_eq "$mode: no note repeated" "$(grep "metrics http" "$T/$mode.err" | sort | uniq -d)" ""
	[ "$n" = 1 ] || cat "$T/$mode.err"
	check "$mode: status says unavailable" grep -q "^unavailable: metrics" <(q "$T/$mode.db" "select heap_status from run")
	check "$mode: no escape reaches the terminal" test "$(grep -c $'\x1b' "$T/$mode.err")" -eq 0
done

# a connection reset after answers (the service closing at exit with the poll unread) is said only
# when a second comes in a row, like a refusal
for mode in pagereset resetmany; do
	port=$(free_port)
	python3 "$T/bad.py" $mode $port "$T/$mode.served" & pid=$!
	for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
	"$HEADROOM" run --quiet --metrics "http://127.0.0.1:$port/metrics" --record "$T/$mode.db" \
		-- sh -c "$(polls "$T/$mode.served" 5)" 2>"$T/$mode.err" || fail "$mode: run exits 0"
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
	n=$(grep -c "Connection reset by peer" "$T/$mode.err" || true)
	if [ $mode = pagereset ]; then
		expect_eq "one reset between answers: no note" "$n" 0
		check "one reset between answers: the heap figures go on" test "$(q "$T/$mode.db" \
			"select count(*) from samples where heap_live is not null")" -gt 0
	else
		expect_eq "resets in a row after an answer: one note" "$n" 1
	fi
	[ $FAILS -eq 0 ] || cat "$T/$mode.err"
done

# jemalloc's names as Rust services export them, and --heap-metric (which wins over known names)
python3 "$T/bad.py" page $P3 "$T/page.served" & pid=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$P3) 2>/dev/null && break; sleep 0.1; done
"$HEADROOM" run --quiet --metrics http://127.0.0.1:$P3/metrics --record "$T/je.db" \
	-- sh -c "$(polls "$T/page.served" 3)" 2>/dev/null || fail "jemalloc page: run exits 0"
"$HEADROOM" run --quiet --metrics http://127.0.0.1:$P3/metrics --heap-metric live=app_heap_bytes \
	--heap-metric held=app_free_bytes --record "$T/hm.db" \
	-- sh -c "$(polls "$T/page.served" $(( $(served "$T/page.served") + 3 )))" 2>/dev/null ||
	fail "--heap-metric: run exits 0"
kill $pid; wait $pid 2>/dev/null || true
expect_eq "jemalloc: status" "$(q "$T/je.db" "select heap_status from run")" \
	"available: jemalloc (metrics http://127.0.0.1:$P3/metrics)"
expect_eq "jemalloc: live = allocated, held = resident - allocated" \
	"$(q "$T/je.db" "select distinct heap_live || ' ' || heap_held from samples where heap_live is not null")" \
	"104857600 15142400"
# the page-level figures of the same family of names: the stats_ metadata is another exporter's
expect_eq "jemalloc: active, resident, retained kept; metadata of another family not taken" \
	"$(q "$T/je.db" "select distinct alloc_active || ' ' || alloc_resident || ' ' || alloc_retained || ' ' ||
		ifnull(alloc_metadata, 'null') from samples where heap_live is not null")" \
	"110000000 120000000 35000000 null"
expect_eq "--heap-metric: no jemalloc figures" \
	"$(q "$T/hm.db" "select count(*) from samples where alloc_resident is not null")" "0"
expect_eq "--heap-metric: status" "$(q "$T/hm.db" "select heap_status from run")" \
	"available: --heap-metric (metrics http://127.0.0.1:$P3/metrics)"
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
