#!/bin/bash
# Safety promises of issue 16 that need the real binary: output errors fail the command (3 a.m.
# scripts must not take a report that went nowhere for a success), a corrupt peak is refused
# instead of wrapping into a tiny limit, files are never written through planted symlinks, text
# from the recorded program never reaches the terminal raw, the HTML report runs only its own
# scripts (CSP hashes).
source "$(dirname "$0")/lib.sh"
SYNTH="$BUILD/tests/tools/synth_recording"
"$SYNTH" flat "$T/flat.db" --samples 200 >/dev/null

# --- 10: output errors -----------------------------------------------------------------------
set +e
"$HEADROOM" report "$T/flat.db" >/dev/full 2>"$T/err"; rc=$?
set -e
check "report > /dev/full fails (exit $rc)" [ "$rc" -ne 0 ]
check "report > /dev/full says why" grep -q "cannot write the output" "$T/err"
set +e
"$HEADROOM" report "$T/flat.db" --json >/dev/full 2>/dev/null; rc=$?
"$HEADROOM" --version >/dev/full 2>/dev/null; rc2=$?
"$HEADROOM" size "$T/flat.db" >/dev/full 2>/dev/null; rc3=$?
set -e
check "report --json > /dev/full fails" [ "$rc" -ne 0 ]
check "--version > /dev/full fails" [ "$rc2" -ne 0 ]
check "size > /dev/full fails" [ "$rc3" -ne 0 ]

check "report to a working stdout still exits 0" "$HEADROOM" report "$T/flat.db"

# --- 11: a peak of INT64_MAX is refused, never a 1Mi limit -----------------------------------
cp "$T/flat.db" "$T/huge.db"
q "$T/huge.db" "UPDATE samples SET rss = 9223372036854775807, rss_peak = 9223372036854775807 WHERE rowid = 100"
set +e
"$HEADROOM" size "$T/huge.db" >"$T/out" 2>"$T/err"; rc=$?
"$HEADROOM" report "$T/huge.db" >"$T/rep" 2>&1; rrc=$?
"$HEADROOM" report "$T/huge.db" --json >"$T/rep.json" 2>&1
set -e
# a figure no process can have is read as unknown (the rest of the recording stays usable): the
# limit comes from the real samples, never from a wrapped INT64_MAX
check "size of it ends normally (exit $rc)" [ "$rc" -eq 0 ]
check "size's limit comes from the real samples, not the forged one" bash -c "! grep -qE 'memory: [0-9]{7,}(Mi|Gi)' '$T/out'"
check "size prints no 1Mi limit" bash -c "! grep -q '\b1Mi\b' '$T/out'"
check "report of it does not crash (exit $rrc)" [ "$rrc" -lt 128 ]
check "report recommends no 1Mi limit" bash -c "! grep -q '\"limit\": \"1Mi\"\|limit *1Mi' '$T/rep' '$T/rep.json'"

# --- 3: a symlink planted at the temporary or final name is not written through -------------
echo precious >"$T/victim"
ln -s "$T/victim" "$T/out.html.tmp"
"$HEADROOM" report "$T/flat.db" --html "$T/out.html" >/dev/null
expect_eq "report --html does not write through OUT.tmp" "$(cat "$T/victim")" "precious"
check "the report was written" grep -q "<html" "$T/out.html"
check "no temporary file is left" bash -c "[ \$(ls '$T' | grep -c 'out.html.') -eq 1 ]"
ln -s "$T/victim" "$T/planted.db-wal"
set +e
"$HEADROOM" run --no-heap --no-cgroup --quiet --record "$T/planted.db" -- true 2>"$T/err"; rc=$?
set -e
check "a recording with a planted FILE-wal symlink is refused (exit $rc)" [ "$rc" -ne 0 ]
expect_eq "the planted -wal target is untouched" "$(cat "$T/victim")" "precious"
ln -s "$T/victim" "$T/link.db"
set +e
"$HEADROOM" run --no-heap --no-cgroup --quiet --record "$T/link.db" -- true 2>/dev/null; rc=$?
set -e
check "a recording path that is a symlink is refused (exit $rc)" [ "$rc" -ne 0 ]
expect_eq "its target is untouched" "$(cat "$T/victim")" "precious"

# --- 4: escape sequences from the command line never reach the terminal raw -------------------
ESC=$'\e'
"$HEADROOM" run --no-heap --no-cgroup --record "$T/esc.db" -- /bin/sh -c 'exit 0' "x${ESC}]0;pwned"$'\a'"${ESC}[2J" \
  >"$T/run.out" 2>"$T/run.err"
check "run's report holds no ESC byte" bash -c "! grep -q \$'\\e' '$T/run.out'"
check "the command line is shown escaped (shell-quoted)" grep -qF 'x\x1b]0;pwned\x07\x1b[2J' "$T/run.out"
"$HEADROOM" report "$T/esc.db" >"$T/rep.out"
"$HEADROOM" explain "$T/esc.db" >"$T/expl.out"
check "report holds no ESC byte" bash -c "! grep -q \$'\\e' '$T/rep.out'"
# text planted in a recording's run row and events (a recording is a file anyone may hand over)
cp "$T/flat.db" "$T/handed.db"
q "$T/handed.db" "UPDATE run SET exit_signal = 15, exit_code = NULL, heap_mode = 'off',
  heap_status = 'gone' || char(27) || ']0;pwned' || char(7), cgroup_path = char(27) || '[2J';
  INSERT INTO events VALUES (1000, 'signal', 15, 'headroom sent SIGTERM: ' || char(27) || '[31mred');"
"$HEADROOM" report "$T/handed.db" >"$T/planted.out" 2>&1
"$HEADROOM" explain "$T/handed.db" >>"$T/planted.out" 2>&1
check "text planted in a recording's run and events reaches no terminal raw" bash -c "! grep -q \$'\\e' '$T/planted.out'"
# escaped (\e) by the views, or already made '?' when the recording was read: either way visible
check "the planted stop reason is shown escaped" grep -qE 'stopped by headroom \((\\e|\?)\[31mred\)' "$T/planted.out"
check "explain holds no ESC byte" bash -c "! grep -q \$'\\e' '$T/expl.out'"
set +e
"$HEADROOM" run --no-heap --no-cgroup -- "/nonexistent${ESC}[2Jcmd" 2>"$T/err"; rc=$?
"$HEADROOM" report "$T/no${ESC}]0;t"$'\a' 2>"$T/err2"
set -e
expect_eq "a missing command exits 127" "$rc" 127
check "the error message holds no ESC byte" bash -c "! grep -q \$'\\e' '$T/err' '$T/err2'"
check "the error message shows it escaped" grep -qF '/nonexistent\e[2Jcmd' "$T/err"

# --- 4 and 11: a hostile Prometheus answer (pod named with escape sequences, a value of 1e30) --
cat >"$T/prom.py" <<'PY'
import http.server, json, sys
ESC = "\x1b"
body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
    {"metric": {"namespace": "ns", "pod": "p" + ESC + "]0;pwned\x07" + ESC + "[2J", "container": "c" + ESC + "[31m"},
     "value": [1700000000.0, "1e30"]}]}}).encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
for port in range(21400, 21450):
    try:
        srv = http.server.HTTPServer(("127.0.0.1", port), H)
    except OSError:
        continue
    print(port, flush=True)
    srv.timeout = 30
    for _ in range(12):
        srv.handle_request()
    break
PY
python3 "$T/prom.py" >"$T/prom.port" &
prom=$!
for _ in $(seq 100); do [ -s "$T/prom.port" ] && break; sleep 0.05; done
port=$(head -1 "$T/prom.port")
for fmt in table yaml; do
  set +e
  timeout 20 "$HEADROOM" size --prometheus "http://127.0.0.1:$port" --by series --format $fmt >"$T/ps.out" 2>"$T/ps.err"; rc=$?
  set -e
  check "size --prometheus ($fmt) with a 1e30 value does not crash (exit $rc)" [ "$rc" -lt 124 ]
  check "size --prometheus ($fmt): no ESC byte from pod names reaches the terminal" \
    bash -c "! grep -q \$'\\e' '$T/ps.out' '$T/ps.err'"
  check "size --prometheus ($fmt): the pod name is shown escaped" grep -qE 'p(\\e|\?)\]0;pwned' "$T/ps.out"
  check "size --prometheus ($fmt): no negative limit from a wrapped 1e30" bash -c "! grep -q -- '-[0-9]*Mi' '$T/ps.out'"
  check "size --prometheus ($fmt): no sanitizer report" bash -c "! grep -q 'runtime error' '$T/ps.err'"
done
kill $prom 2>/dev/null || true; wait $prom 2>/dev/null || true

# --- 5: the HTML report's CSP allows its own two scripts by hash, no 'unsafe-inline' script ---
python3 - "$T/out.html" <<'PY' && ok "CSP script-src lists the SHA-256 of every inline script, no unsafe-inline" || fail "CSP script hashes"
import base64, hashlib, re, sys
html = open(sys.argv[1], encoding="utf-8").read()
csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html).group(1)
script_src = [d for d in csp.split(";") if d.strip().startswith("script-src")][0]
assert "unsafe-inline" not in script_src, script_src
hashes = set(re.findall(r"'sha256-([^']+)'", script_src))
scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
assert len(scripts) == 2, len(scripts)
for s in scripts:
    h = base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()
    assert h in hashes, ("script not allowed", s[:60])
assert len(hashes) == len(scripts)
PY

# --- 7: the guard killed alone must not take headroom with it (SIGPIPE when told "done") -----
# the program runs until told to stop (a file), not for a second that a loaded machine may spend
# before the guard is even found
"$HEADROOM" run --no-heap --record "$T/g.db" -- \
  sh -c "while [ ! -e '$T/g.stop' ]; do sleep 0.05; done" >"$T/g.out" 2>&1 &
hp=$!
guard=""
for _ in $(seq 1500); do   # found at once when all is well; 30 s on a starved machine
  for p in $(cat /proc/$hp/task/*/children 2>/dev/null); do
    [ "$(cat /proc/$p/comm 2>/dev/null)" = headroom-guard ] && guard=$p
  done
  [ -n "$guard" ] && break
  sleep 0.02
done
[ -n "$guard" ] && kill -9 "$guard"
touch "$T/g.stop"
set +e; wait $hp; rc=$?; set -e
check "the guard was found and killed" [ -n "$guard" ]
expect_eq "headroom survives its guard's death (exit status)" "$rc" 0
check "and still prints its report" grep -q "recording " "$T/g.out"

# --- 8: without a cgroup, a daemon the command started is named as not measured --------------
cat >"$T/daemon.sh" <<'SH'
#!/bin/sh
setsid sh -c 'sleep 30' </dev/null >/dev/null 2>&1 &   # killed below; alive whatever the load
exit 0
SH
chmod +x "$T/daemon.sh"
"$HEADROOM" run --no-heap --no-cgroup --record "$T/nd.db" -- "$T/daemon.sh" >/dev/null 2>"$T/nd.err"
check "--no-cgroup: a daemonized process is said to be no longer measured" \
  grep -q "1 process it started is still running (pid [0-9]*): it is no longer measured" "$T/nd.err"
dpid=$(sed -n 's/.*still running (pid \([0-9]*\)).*/\1/p' "$T/nd.err")
[ -n "$dpid" ] && kill "$dpid" 2>/dev/null || true

# --- tests stable under load: every CTest test has a TIMEOUT (a hang fails one test, not the run)
if command -v ctest >/dev/null && [ -f "$BUILD/CTestTestfile.cmake" ]; then
  (cd "$BUILD" && ctest --show-only=json-v1) >"$T/tests.json"
  python3 - "$T/tests.json" <<'PY' && ok "every test has a TIMEOUT" || fail "tests without a TIMEOUT"
import json, sys
tests = json.load(open(sys.argv[1]))["tests"]
missing = [t["name"] for t in tests
           if not any(p["name"] == "TIMEOUT" and float(p["value"]) > 0 for p in t.get("properties", []))]
assert tests and not missing, missing
PY
fi
finish
