#!/usr/bin/env bash
# A Go program's heap without changing it (issue 12): `headroom run` recognises a Go binary and
# records the runtime's own GC reports (GODEBUG=gctrace=1,scavtrace=1). A program holding a
# known 64 MiB of slices must be recorded within 5 % as the live heap after GC; its stdout and
# stderr (whole and partial lines, binary bytes, the two streams interleaved, lines that begin
# like the runtime's) must be byte for byte what it writes without headroom — to files, to one
# file (2>&1) and to a terminal, and a resize of that terminal reaches the program; --heap off and
# a program that is not Go: nothing changes.
. "$(dirname "$0")/lib.sh"

command -v go >/dev/null || { echo "skip: no go (scripts/install-deps.sh demo)"; exit 77; }
mkdir -p "$BUILD/gocache"
# std only, offline; the build cache lives in the build tree (never the source tree)
(cd "$T" && GOPROXY=off GOFLAGS=-mod=mod GOCACHE="$BUILD/gocache" \
	go build -o "$T/gcholder" "$SRC/tests/progs/go/gcholder.go" &&
	go build -o "$T/winsize" "$SRC/tests/progs/go/winsize.go") || { echo "go build failed"; exit 1; }
G="$T/gcholder"

# --- known truth: 64 MiB live after GC -------------------------------------------------------
"$HEADROOM" run --record "$T/go.db" --out "$T/go.txt" -- "$G" 64 8 >"$T/go.out" 2>"$T/go.err" ||
	fail "run on a Go program exits 0"
expect_eq "heap mode" "$(q "$T/go.db" "select heap_mode from run")" "gctrace"
expect_eq "heap status names the runtime" "$(q "$T/go.db" "select heap_status from run")" \
	"available: go runtime (GODEBUG=gctrace=1)"
live=$(q "$T/go.db" "select heap_live from samples where heap_live is not null order by t_ns desc limit 1")
within "live heap after the last GC" "${live:-0}" 67108864 5
cycles=$(q "$T/go.db" "select max(gc_cycles) from samples")
# the holding itself takes ~5 cycles (4, 8, 16, 32, 64 MiB goals), then 8 more
check "GC cycles counted (got ${cycles:-none}, at least 8)" test "${cycles:-0}" -ge 8
goal=$(q "$T/go.db" "select heap_goal from samples where heap_goal is not null order by t_ns desc limit 1")
# GOGC=100: the goal is about twice the live heap
within "heap goal of the last cycle (GOGC=100: twice the live heap)" "${goal:-0}" 134217728 10
bad=$(q "$T/go.db" "select count(*) from samples where heap_live is not null and (heap_t_ns > t_ns or heap_t_ns < 0)")
expect_eq "a cycle's instant is never after its sample" "$bad" 0
decreasing=$(q "$T/go.db" "select count(*) from (select gc_cycles c, lag(gc_cycles) over (order by rowid) p
	from samples where gc_cycles is not null) where c < p")
expect_eq "the cycle count never goes back" "$decreasing" 0
# headroom's own note (the report's file) is there; the runtime's lines are not
check "no GC or scavenger line reached stderr" sh -c "! grep -qE '^(gc [0-9]+ @|scav [0-9]+ KiB)' '$T/go.err'"
check "the report shows the live heap" grep -qE "^Heap: live 6[2-6]\.[0-9]Mi" "$T/go.txt"

# the analysis: the GC figures and the advice, recomputed here from the report's own figures
"$HEADROOM" report --json "$T/go.db" >"$T/go.json" || fail "report --json exits 0"
python3 -W ignore::DeprecationWarning - "$T/go.json" "$SRC/docs/schema" >"$T/go.check" 2>&1 <<'PY' || true
import json, math, os, sys
d = json.load(open(sys.argv[1]))
g, MiB = d["gc"], 2**20
assert g and g["runtime"] == "go", g
assert abs(g["live_final_bytes"] - 64 * MiB) <= 0.05 * 64 * MiB, g
assert g["cycles"] >= 8 and g["gogc"] is not None and abs(g["gogc"] - 100) <= 10, g   # GOGC unset: 100
lim = d["recommendation"]["limit_bytes"]
assert g["limit_bytes"] == lim, (g, lim)
gml = math.floor(lim * 0.9 / MiB) * MiB
assert g["gomemlimit_bytes"] == gml, (g["gomemlimit_bytes"], gml)
over = max(0, d["rss"]["peak_bytes"] - g["goal_peak_bytes"])
assert g["overhead_bytes"] == over, (g, over)
want = max(0, math.floor(100 * (gml - over - g["live_peak_bytes"]) / g["live_peak_bytes"]))
assert abs(g["gogc_max"] - want) <= 1, (g["gogc_max"], want)      # float rounding at the floor
assert "GOMEMLIMIT=%dMiB" % (gml // MiB) in g["gomemlimit_text"], g["gomemlimit_text"]
assert "GOGC up to %d" % g["gogc_max"] in g["gogc_text"], g["gogc_text"]
from jsonschema import Draft202012Validator, RefResolver
store = {}
for f in os.listdir(sys.argv[2]):
    s = json.load(open(os.path.join(sys.argv[2], f)))
    store[s["$id"]] = s
schema = store["urn:headroom:schema:report"]
errs = list(Draft202012Validator(schema, resolver=RefResolver.from_schema(schema, store=store)).iter_errors(d))
assert not errs, [e.message[:200] for e in errs[:3]]
print("ok")
PY
expect_eq "--json gc: 64 MiB live, GOMEMLIMIT = 90 % of the limit, GOGC that fits, valid against the schema" \
	"$(cat "$T/go.check")" ok
[ "$(cat "$T/go.check")" = ok ] || cat "$T/go.check"
check "the report has the GC lines and the advice" sh -c "grep -q '^GC (Go runtime): ' '$T/go.txt' && grep -q '^  GOMEMLIMIT=' '$T/go.txt' && grep -q '^  GOGC up to ' '$T/go.txt'"
"$HEADROOM" explain "$T/go.db" >"$T/explain.txt" 2>&1 || fail "explain exits 0"
check "explain says where the heap came from and gives the advice" \
	sh -c "grep -q 'go runtime (GODEBUG=gctrace=1)' '$T/explain.txt' && grep -q '^GOMEMLIMIT=' '$T/explain.txt'"
"$HEADROOM" report "$T/go.db" --html "$T/go.html" >/dev/null 2>&1 || fail "report --html exits 0"
check "the HTML answers what the collector's settings do, with GOMEMLIMIT" \
	sh -c "grep -q 'garbage collector&#39;s settings' '$T/go.html' && grep -q 'GOMEMLIMIT=' '$T/go.html'"
check "no glibc remedy for a Go program" sh -c "! grep -q MALLOC_ARENA_MAX '$T/go.txt' '$T/explain.txt'"

# --- the program's output, byte for byte --------------------------------------------------------
"$G" 8 6 chatter >"$T/d.out" 2>"$T/d.err"
"$HEADROOM" run --quiet --record "$T/c1.db" -- "$G" 8 6 chatter >"$T/h.out" 2>"$T/h.err" || fail "run (files) exits 0"
check "stdout to a file: byte for byte" cmp "$T/d.out" "$T/h.out"
check "stderr to a file: byte for byte" cmp "$T/d.err" "$T/h.err"
n=$(q "$T/c1.db" "select max(gc_cycles) from samples")
check "the runtime's lines were there to take out (${n:-0} cycles)" test "${n:-0}" -ge 6
check "the script ran (a partial line across a GC cycle)" grep -q "^open across a cycle: closed after it$" "$T/d.err"

"$G" 8 6 chatter >"$T/d.all" 2>&1
"$HEADROOM" run --quiet --record "$T/c2.db" -- "$G" 8 6 chatter >"$T/h.all" 2>&1 || fail "run (2>&1) exits 0"
check "stdout and stderr into one file (2>&1): byte for byte, same order" cmp "$T/d.all" "$T/h.all"

cat >"$T/ptyrun.py" <<'PY'
# runs a command under a new terminal and writes every byte it shows to a file
import os, pty, sys
out = open(sys.argv[1], "wb")
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
while True:
    try:
        b = os.read(fd, 65536)
    except OSError:
        break
    if not b:
        break
    out.write(b)
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
PY
python3 "$T/ptyrun.py" "$T/d.tty" "$G" 8 6 chatter
python3 "$T/ptyrun.py" "$T/h.tty" "$HEADROOM" run --quiet --record "$T/c3.db" -- "$G" 8 6 chatter || fail "run (terminal) exits 0"
check "on a terminal: byte for byte" cmp "$T/d.tty" "$T/h.tty"
check "the program still sees a terminal" grep -q "^stderr is a terminal: true" "$T/h.tty"
expect_eq "heap from the runtime on a terminal too" "$(q "$T/c3.db" "select heap_mode from run")" "gctrace"

# a resize of the terminal reaches the program on its pty: the program's own lines say the size it
# reads after each SIGWINCH, and it exits once that is the new one (30 s without: exit 1)
cat >"$T/ptyresize.py" <<'PY'
# runs a command on a new 24x80 terminal; once it says "size 24 80", the terminal becomes 40x132
import fcntl, os, pty, re, struct, sys, termios, time
out = open(sys.argv[1], "wb")
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    os.execvp(sys.argv[2], sys.argv[2:])
seen, resized = b"", False
while True:
    try:
        b = os.read(fd, 65536)
    except OSError:
        break
    if not b:
        break
    out.write(b)
    seen += b
    if not resized and re.search(rb"size 24 80\r?\n", seen):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 132, 0, 0))
        resized = True
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
PY
rc=0
python3 "$T/ptyresize.py" "$T/w.tty" "$HEADROOM" run --quiet --record "$T/w.db" -- "$T/winsize" 40 132 || rc=$?
check "a resize reaches the Go program's terminal (exit $rc; it read: $(grep -ao 'size [0-9 ]*' "$T/w.tty" | tr '\n' ',' ))" \
	test "$rc" -eq 0
check "it read the new size on its stderr" grep -aq "^size 40 132" "$T/w.tty"
expect_eq "through headroom's pty (the runtime's trace asked for)" "$(q "$T/w.db" "select heap_mode from run")" "gctrace"

# the user's own gctrace: their lines stay, and are read
GODEBUG=gctrace=1 "$HEADROOM" run --quiet --record "$T/u.db" -- "$G" 8 4 >/dev/null 2>"$T/u.err" || fail "run (user gctrace) exits 0"
check "the user's gctrace lines are kept" grep -qE "^gc [0-9]+ @" "$T/u.err"
check "scavtrace (headroom's) is not" sh -c "! grep -q '^scav ' '$T/u.err'"
expect_eq "and read" "$(q "$T/u.db" "select heap_mode from run")" "gctrace"

# --- nothing changes: --heap off, a program that is not Go -----------------------------------
cat >"$T/envcheck.sh" <<'SH'
#!/bin/sh
echo "GODEBUG=${GODEBUG-unset}"
[ -t 2 ] && echo "stderr: tty" || echo "stderr: $(readlink /proc/self/fd/2)"
SH
chmod +x "$T/envcheck.sh"
"$HEADROOM" run --quiet --record "$T/n1.db" -- "$T/envcheck.sh" >"$T/n1.out" 2>"$T/n1.err"
expect_eq "not Go: no GODEBUG, stderr is headroom's own" "$(cat "$T/n1.out")" "GODEBUG=unset
stderr: $T/n1.err"
"$HEADROOM" run --heap off --quiet --record "$T/n2.db" -- "$G" 8 2 >/dev/null 2>"$T/n2.err"
expect_eq "--heap off: heap mode" "$(q "$T/n2.db" "select heap_mode from run")" "off"
check "--heap off: no gctrace asked for, nothing recorded" test "$(q "$T/n2.db" "select count(gc_cycles) from samples")" = 0
check "--heap off: nothing on stderr" test ! -s "$T/n2.err"

finish
