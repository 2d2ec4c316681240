#!/usr/bin/env bash
# headroom load vs wrk on the same loopback server, same connections, one thread each, same
# duration, with and without keep-alive.
#
#   bench/load-vs-wrk.sh [BUILD]   env: DUR=5 REPS=5 CONNS="10 50 200" KEEPALIVE="on off"
#                                       PORT=23500 (this engineer's range)  PIN=1
#                                       SERVERS="nginx demo"
#                                       C_DEMO="cmd with {port}" C_DEMO_PATH=/health (optional)
#
# Starts nginx (Debian nginx-light, 1 worker) on a loopback port with every path under a temp
# dir, then the same against the C demo service (BUILD/examples/demo-c-svc, path /health) when
# it is built, or against C_DEMO. With PIN=1 and 2+ CPUs the server is pinned to CPU 0 and the
# client (either tool) to CPU 1, so the two tools meet the same server under the same
# conditions. keep-alive "off" sends `Connection: close` (both tools): one connection per request.
# Each configuration runs REPS times, alternating which tool goes first; the table shows the
# medians (each column on its own): requests/s of each and the median of the per-run ratios
# (headroom / wrk, target >= 1.0), latency percentiles side by side, each tool's CPU seconds and
# max RSS (/usr/bin/time -v), and per request (the figures least disturbed by other work on a
# shared machine): the client's CPU microseconds, the server's CPU microseconds (schedstat of its
# threads: what the client costs the server, which is what a closed loop is limited by), the
# client's sleeps (voluntary context switches; headroom's include its coordinator thread, ~50/s)
# and, when `perf stat` can count tracepoints, the client's system calls.
# The load average is printed with each table: on a busy shared machine requests/s say more about
# the neighbours than about the tools; the per-request columns hold up.
# Not part of ctest: it takes about 2 * REPS * DUR seconds per configuration and server.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
HEADROOM=${HEADROOM:-$BUILD/headroom}
DUR=${DUR:-5}
REPS=${REPS:-5}
CONNS=${CONNS:-"10 50 200"}
KEEPALIVE=${KEEPALIVE:-"on off"}
PORT=${PORT:-23500}
PIN=${PIN:-1}
SERVERS=${SERVERS:-"nginx demo"}   # which servers to measure against
SRV_PIN=() CLI_PIN=()
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  SRV_PIN=(taskset -c 0) CLI_PIN=(taskset -c 1)
fi
bash "$SRC/scripts/install-deps.sh" bench
[ -x "$HEADROOM" ] || { echo "build headroom first (make build)" >&2; exit 1; }
command -v wrk > /dev/null || { echo "wrk missing" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing (apt-get install time)" >&2; exit 1; }

PERF=()
if command -v perf >/dev/null && perf stat -x, -e raw_syscalls:sys_enter -o /dev/null true 2>/dev/null; then
  PERF=(perf stat -x, -e raw_syscalls:sys_enter)
fi

dir=$(mktemp -d)
chmod 755 "$dir"
srvpid=
cleanup() { [ -n "$srvpid" ] && kill "$srvpid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
free_port() { # the first free port from PORT on (loopback ports of this bench stay in one range)
  python3 - "$PORT" <<'PY'
import socket, sys
for p in range(int(sys.argv[1]), int(sys.argv[1]) + 100):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError: pass
    finally: s.close()
PY
}
wait_port() { for _ in $(seq 200); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0; sleep 0.05; done; return 1; }

start_nginx() {
  mkdir -p "$dir/html" "$dir/logs" "$dir/tmp"
  python3 -c "print('x' * 600)" > "$dir/html/index.html"
  port=$(free_port)
  cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path $dir/tmp/body; proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi; uwsgi_temp_path $dir/tmp/uwsgi; scgi_temp_path $dir/tmp/scgi;
  server { listen 127.0.0.1:$port; root $dir/html; }
}
CONF
  "${SRV_PIN[@]}" nginx -p "$dir" -c "$dir/nginx.conf" 2> "$dir/logs/start.log" &
  srvpid=$!
  wait_port "$port" || { echo "nginx did not start: $(cat "$dir/logs/start.log")" >&2; exit 1; }
  url="http://127.0.0.1:$port/"
}

# time -v figures: CPU seconds (user+sys), max RSS in KiB, voluntary context switches
tv() { awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} /Maximum resident/ {r=$2} /Voluntary context/ {v=$2} END {printf "%.2f %d %d", u+s, r, v}' "$1"; }
# the server's CPU time so far in ns: every thread of the server process and of its children
srv_ns() {
  local t=0 a p f
  for p in "$srvpid" $(pgrep -P "$srvpid" || true); do
    for f in /proc/"$p"/task/*/schedstat; do
      read -r a _ < "$f" 2>/dev/null && t=$((t + a))
    done
  done
  echo "$t"
}
# what a client run adds after "rps p50 p90 p99 max": "cpu rss vcs server_ns syscalls"
client() { # output-file command...
  local out=$1 s0 s1 sc=-1; shift
  s0=$(srv_ns)
  if [ ${#PERF[@]} -gt 0 ]; then
    "${PERF[@]}" -o "$dir/perf" "${CLI_PIN[@]}" /usr/bin/time -v -o "$dir/time" "$@" > "$out" 2>&1
    sc=$(awk -F, '/sys_enter/ {print $1}' "$dir/perf")
  else
    "${CLI_PIN[@]}" /usr/bin/time -v -o "$dir/time" "$@" > "$out" 2>&1
  fi
  s1=$(srv_ns)
  echo "$(tv "$dir/time") $((s1 - s0)) $sc" > "$dir/extra"
}

run_wrk() { # conns keepalive -> "rps p50us p90us p99us max cpu rsskb vcs server_ns syscalls"
  local hdr=(); [ "$2" = off ] && hdr=(-H "Connection: close")
  client "$dir/wrk.out" wrk -t 1 -c "$1" -d "${DUR}s" --latency "${hdr[@]}" "$url"
  python3 - "$dir/wrk.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def us(s):
    m = re.match(r'([\d.]+)(us|ms|s)', s)
    v, u = float(m.group(1)), m.group(2)
    return v * {'us': 1, 'ms': 1e3, 's': 1e6}[u]
rps = float(re.search(r'Requests/sec:\s+([\d.]+)', t).group(1))
lat = {p: us(v) for p, v in re.findall(r'^\s+(50|90|99)%\s+(\S+)', t, re.M)}
mx = us(re.search(r'Latency\s+\S+\s+\S+\s+(\S+)', t).group(1))
err = re.search(r'Non-2xx or 3xx responses: (\d+)', t)
sock = re.search(r'Socket errors: (.*)', t)
print(f"{rps:.0f} {lat['50']:.0f} {lat['90']:.0f} {lat['99']:.0f} {mx:.0f}", end=' ')
PY
  cat "$dir/extra"
}

run_headroom() { # conns keepalive
  local hdr=(); [ "$2" = off ] && hdr=(--header "Connection: close")
  client "$dir/hr.json" "$HEADROOM" load "$url" --stages "${DUR}s:$1" --threads 1 "${hdr[@]}" --json
  python3 - "$dir/hr.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
l = d['latency_us']
assert d['errors']['total'] == 0, d['errors']
assert d['requests'] > 0, d
print(f"{d['rps']:.0f} {l['p50']} {l['p90']} {l['p99']} {l['max']}", end=' ')
PY
  cat "$dir/extra"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
col() { awk -v c="$1" '{print $c}' "$2" | median; }

# per request, from a run's row: client cpu us, server cpu us, client sleeps, client syscalls ("-": no perf)
per_req() {
  awk -v d="$DUR" '{n = $1 * d; printf "%.1f %.1f %.3f %s", $6 * 1e6 / n, $9 / 1e3 / n, $8 / n, ($10 < 0 ? "-" : sprintf("%.2f", $10 / n))}'
}

bench_server() { # name
  echo
  echo "== $1 at $url  (${DUR}s per run, median of $REPS, 1 thread each, $(nproc) cores;" \
       "${SRV_PIN[*]:-no pinning}${SRV_PIN:+ for the server, }${CLI_PIN[*]}${CLI_PIN:+ for the client};" \
       "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg))"
  printf "%-9s %7s %7s %6s | %-26s | %-26s | %-13s | %-13s | %-11s | %-11s | %-11s | %s\n" conns/ka \
    "wrk rps" "hr rps" ratio "wrk p50/p90/p99/max (us)" "hr p50/p90/p99/max (us)" "wrk cpu s/RSS" "hr cpu s/RSS" \
    "cpu us/req" "srv us/req" "sleeps/req" "syscalls/req (wrk / hr)"
  for ka in $KEEPALIVE; do
  for c in $CONNS; do
    : > "$dir/w"; : > "$dir/h"; : > "$dir/ratio"
    for r in $(seq "$REPS"); do
      if [ $((r % 2)) -eq 1 ]; then w=$(run_wrk "$c" "$ka"); h=$(run_headroom "$c" "$ka")
      else h=$(run_headroom "$c" "$ka"); w=$(run_wrk "$c" "$ka"); fi
      w="$w $(echo "$w" | per_req)"
      h="$h $(echo "$h" | per_req)"
      echo "$w" >> "$dir/w"; echo "$h" >> "$dir/h"
      awk -v a="${h%% *}" -v b="${w%% *}" 'BEGIN {printf "%.3f\n", a/b}' >> "$dir/ratio"
      echo "   $c conns, keep-alive $ka, run $r: wrk [$w]  headroom [$h]  ratio $(tail -1 "$dir/ratio")" >&2
    done
    pair() { echo "$(col "$1" "$dir/w") / $(col "$1" "$dir/h")"; }
    sc="-"; [ ${#PERF[@]} -gt 0 ] && sc=$(pair 14)
    printf "%-9s %7s %7s %6s | %-26s | %-26s | %-13s | %-13s | %-11s | %-11s | %-11s | %s\n" "${c}/${ka}" \
      "$(col 1 "$dir/w")" "$(col 1 "$dir/h")" "$(median < "$dir/ratio")" \
      "$(col 2 "$dir/w")/$(col 3 "$dir/w")/$(col 4 "$dir/w")/$(col 5 "$dir/w")" \
      "$(col 2 "$dir/h")/$(col 3 "$dir/h")/$(col 4 "$dir/h")/$(col 5 "$dir/h")" \
      "$(col 6 "$dir/w")/$(( $(col 7 "$dir/w") / 1024 ))Mi" "$(col 6 "$dir/h")/$(( $(col 7 "$dir/h") / 1024 ))Mi" \
      "$(pair 11)" "$(pair 12)" "$(pair 13)" "$sc"
  done
  done
  echo "(load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
}

if [[ " $SERVERS " == *" nginx "* ]]; then
  start_nginx
  bench_server nginx
  kill "$srvpid"; wait "$srvpid" 2>/dev/null || true; srvpid=
fi
[[ " $SERVERS " == *" demo "* ]] || exit 0

# the C demo service (examples/c-svc, built by scripts/build-examples.sh or by CMake), or any
# service given as C_DEMO="cmd ... {port}" with C_DEMO_PATH
if [ -z "${C_DEMO:-}" ]; then
  for cand in "$BUILD/examples/demo-c-svc" "$BUILD/demo-c-svc"; do
    [ -x "$cand" ] && C_DEMO="$cand --listen 127.0.0.1:{port}" && break
  done
fi
if [ -n "${C_DEMO:-}" ]; then
  port=$(free_port)
  "${SRV_PIN[@]}" ${C_DEMO//\{port\}/$port} > "$dir/demo.log" 2>&1 &
  srvpid=$!
  wait_port "$port" || { echo "C demo did not start: $(cat "$dir/demo.log")" >&2; exit 1; }
  url="http://127.0.0.1:$port${C_DEMO_PATH:-/health}"
  bench_server "C demo"
else
  echo
  echo "(no C demo service found: set C_DEMO='path/to/binary --port {port}' to add it)"
fi
