#!/usr/bin/env bash
# headroom export's own footprint, measured with headroom itself, side by side with Debian's
# prometheus-node-exporter on the same machine (not a test: numbers to read).
#   1. RSS of both exporters over DURATION at one scrape per second each (headroom attach --pid,
#      1 s interval): start, end, min, max, and the drift between the first and last minute
#   2. 100 concurrent scrapes: wrk -c100 for 10 s (xargs -P100 curl when wrk is missing)
#   3. 50 silent clients (connect, send nothing) held open: a normal scrape's latency meanwhile,
#      and when the exporter closes them (its --timeout)
# usage: bench/export-footprint.sh [BUILD_DIR] [DURATION]   (default build, 10m)
set -euo pipefail
BUILD=${1:-build}
DUR=${2:-10m}
HR="$BUILD/headroom"
T=$(mktemp -d /tmp/headroom-exportbench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
secs=$(python3 -c "
import re,sys; m=re.fullmatch(r'(\d+)(s|m|h)', '$DUR'); print(int(m[1])*{'s':1,'m':60,'h':3600}[m[2]])")

# the exported target: a process holding 64 MiB with 100 MiB spikes, for the whole run
"$BUILD/tests/progs/memspike" 64 100 20 5000 $((secs / 5 + 10)) > /dev/null &
PIDS+=("$!"); target=$!
EP=$(free_port)
"$HR" export --pid "$target" --listen 127.0.0.1:$EP --timeout 5s 2> "$T/export.log" &
hx=$!; PIDS+=("$hx")
NP=$(free_port)
node=""
if command -v prometheus-node-exporter >/dev/null; then
  prometheus-node-exporter --web.listen-address=127.0.0.1:$NP > "$T/node.log" 2>&1 &
  node=$!; PIDS+=("$node")
else
  echo "(prometheus-node-exporter not installed: scripts/install-deps.sh bench)"
fi
sleep 1

echo "== 1. RSS over $DUR at one scrape per second (headroom attach --interval 1s) =="
( while :; do   # one scrape of each per second, not one plus the scrapes' own time
    curl -sf -o /dev/null "http://127.0.0.1:$EP/metrics" &
    [ -n "$node" ] && curl -sf -o /dev/null "http://127.0.0.1:$NP/metrics" &
    sleep 1
  done ) &
PIDS+=("$!"); loop=$!
"$HR" attach --pid "$hx" --duration "$DUR" --interval 1s --record "$T/headroom.db" --quiet &
a1=$!
if [ -n "$node" ]; then
  "$HR" attach --pid "$node" --duration "$DUR" --interval 1s --record "$T/node.db" --quiet &
  a2=$!
fi
wait "$a1"; [ -n "$node" ] && wait "$a2"
kill "$loop" 2>/dev/null || true
scrapes=$(curl -sf "http://127.0.0.1:$EP/metrics" | awk '/^headroom_exporter_scrapes_total/ {print $2}')
stats() { # DB NAME
  sqlite3 -separator ' ' "$1" "
    with s as (select t_ns, rss from samples where rss is not null),
         b as (select min(t_ns) t0, max(t_ns) t1 from s)
    select '$2', count(*),
      printf('%.2f', (select rss from s order by t_ns limit 1) / 1048576.0),
      printf('%.2f', (select rss from s order by t_ns desc limit 1) / 1048576.0),
      printf('%.2f', min(rss) / 1048576.0), printf('%.2f', max(rss) / 1048576.0),
      printf('%+.3f', ((select avg(rss) from s, b where t_ns >= b.t1 - 60e9)
                      - (select avg(rss) from s, b where t_ns <= b.t0 + 60e9)) / 1048576.0)
    from s"
}
printf "  %-24s %7s %9s %9s %9s %9s %14s\n" exporter samples start_MiB end_MiB min_MiB max_MiB drift_MiB
{ stats "$T/headroom.db" "headroom export"; [ -n "$node" ] && stats "$T/node.db" "prometheus-node-exporter"; } |
  while read -r name1 name2 rest; do
    [ "$name1" = headroom ] && name="$name1 $name2" || { name=$name1; rest="$name2 $rest"; }
    printf "  %-24s %7s %9s %9s %9s %9s %14s\n" "$name" $rest
  done
grep -E 'RssAnon|RssFile|VmRSS' /proc/$hx/status | tr -s '\t ' ' ' | sed 's/^/  headroom export now: /'
[ -n "$node" ] && grep -E 'RssAnon|RssFile|VmRSS' /proc/$node/status | tr -s '\t ' ' ' | sed 's/^/  node-exporter now:   /'
echo "  headroom export served $scrapes scrapes"

echo
echo "== 2. 100 concurrent scrapes for 10 s =="
for name in headroom node; do
  port=$EP; pid=$hx
  [ $name = node ] && { [ -n "$node" ] || continue; port=$NP; pid=$node; }
  if command -v wrk >/dev/null; then
    out=$(wrk -t2 -c100 -d10s --timeout 5s "http://127.0.0.1:$port/metrics" 2>&1)
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    lat=$(awk '/Latency/ {print $2, "avg", $4, "max"}' <<<"$out")
    errs=$(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr -s ' ' | tr '\n' ';' || true)
    printf "  %-9s %10s req/s  latency %s  %s  RSS after: %s kB (peak %s kB)\n" "$name" "$rps" "$lat" \
      "${errs:-no errors}" "$(awk '/VmRSS/ {print $2}' /proc/$pid/status)" "$(awk '/VmHWM/ {print $2}' /proc/$pid/status)"
  else
    codes=$(seq 100 | xargs -P100 -I{} curl -s -m 5 -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$port/metrics" | sort | uniq -c | tr -s ' ')
    echo "  $name: $codes"
  fi
done

echo
echo "== 3. 50 silent clients held open, then a normal scrape =="
python3 - "$EP" <<'EOF'
import socket, sys, time, urllib.request
port = int(sys.argv[1])
silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
time.sleep(0.5)
t0 = time.time()
body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read()
print("  scrape while 50 clients send nothing: %.1f ms, %d bytes" % ((time.time() - t0) * 1e3, len(body)))
for s in silent:
    s.settimeout(30)
t0 = time.time()
closed = 0
for s in silent:
    try:
        if s.recv(1) == b"":
            closed += 1
    except Exception:
        pass
print("  %d of 50 silent clients closed by the exporter %.1f s later (--timeout 5s)" % (closed, time.time() - t0 + 0.5))
EOF
