#!/usr/bin/env bash
# Real programs run unchanged under the heap shim: the same stdout and exit status bare, in stats
# mode and in count mode, and the shim really in them (a segment exists while they run).
# ripgrep (Rust) over /usr, python3 running a script, bash with pipelines, redis-server under
# redis-benchmark, nginx under a bounded curl loop, a program that forks and execs, and python3
# with jemalloc and with mimalloc preloaded behind the shim. All network on 127.0.0.1.
# Env: BUILD (build dir). A missing program is reported and skipped; if all are missing, exit 77.
set -uo pipefail

BUILD=${BUILD:-build}
SHIM=$(realpath "$BUILD/libheadroom-heap.so")
[ -f "$SHIM" ] || { echo "FAIL: no $SHIM: build first"; exit 1; }
JE=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
MI=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2
T=$(mktemp -d)
RUN=it$$
fails=0 ran=0
cleanup() {
	[ -f "$T/redis.pid" ] && kill "$(cat "$T/redis.pid")" 2>/dev/null
	[ -f "$T/nginx/nginx.pid" ] && kill "$(cat "$T/nginx/nginx.pid")" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# a port free now, outside the ephemeral range (redis once failed to bind one the kernel picked)
free_port() { python3 "$(dirname "$0")/free_port.py"; }
have() { command -v "$1" >/dev/null 2>&1; }

# under MODE [PRELOAD_AFTER] -- CMD...: runs CMD with the shim (MODE "bare": without)
under() {
	local mode=$1 after=$2
	shift 3
	if [ "$mode" = bare ]; then
		env ${after:+LD_PRELOAD=$after} "$@"
	else
		env LD_PRELOAD="$SHIM${after:+ $after}" HEADROOM_HEAP_RUN=$RUN HEADROOM_HEAP_MODE=$mode "$@"
	fi
}

# same NAME [PRELOAD_AFTER] -- CMD...: stdout and exit status identical bare, stats, count
same() {
	local name=$1 after=$2
	shift 3
	ran=$((ran + 1))
	under bare "$after" -- "$@" >"$T/bare.out" 2>"$T/bare.err"
	local want=$?
	for mode in stats count; do
		under $mode "$after" -- "$@" >"$T/$mode.out" 2>"$T/$mode.err"
		local got=$?
		if [ $got -ne $want ]; then
			fail "$name ($mode): exit $got, bare $want"; head -5 "$T/$mode.err"
		elif ! cmp -s "$T/bare.out" "$T/$mode.out"; then
			fail "$name ($mode): output differs from bare"; diff "$T/bare.out" "$T/$mode.out" | head -5
		fi
	done
	echo "ok: $name (exit $want, $(wc -l <"$T/bare.out") lines)"
}

# start MODE -- CMD...: in the background, $! being the program itself (exec, not a subshell)
start() {
	local mode=$1
	shift 2
	if [ "$mode" = bare ]; then
		exec "$@"
	else
		exec env LD_PRELOAD="$SHIM" HEADROOM_HEAP_RUN=$RUN HEADROOM_HEAP_MODE=$mode "$@"
	fi
}

# a segment of this run exists for pid $1
has_segment() { ls -l "/proc/$1/fd" 2>/dev/null | grep -q "memfd:headroom-heap-$RUN-$1 "; }

cat >"$T/work.py" <<'EOF'
import hashlib, json, subprocess, sys, threading
d = {str(i): [i] * (i % 50) for i in range(60000)}
s = json.dumps(d, sort_keys=True)
print(len(s), hashlib.sha256(s.encode()).hexdigest())
def work(k):
    x = [bytes(1000 + k) for _ in range(3000)]
    out.append(sum(map(len, x)))
out = []
ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print(sorted(out))
print(subprocess.run(["sh", "-c", "echo child $((6*7))"], capture_output=True, text=True).stdout.strip())
sys.exit(3)
EOF

if have rg; then
	same "ripgrep over /usr" "" -- bash -c "rg -c --no-messages 'MemAvailable|malloc_trim' /usr | sort"
fi
PY=/usr/bin/python3   # Debian's, not whatever python3 is first on PATH
[ -x $PY ] || PY=$(command -v python3)
if [ -n "$PY" ]; then
	same "python3 script" "" -- $PY "$T/work.py"
	[ -f "$JE" ] && same "python3 over jemalloc" "$JE" -- $PY "$T/work.py"
	[ -f "$MI" ] && same "python3 over mimalloc" "$MI" -- $PY "$T/work.py"
fi
same "bash pipelines" "" -- bash -c 'for i in $(seq 1 200); do echo "$i $((i * i))"; done | sort -k2 -n | tail -3; x=$(ls /usr/bin | wc -l); echo "bin ${x:+counted}"; exit 7'
same "fork and exec" "" -- bash -o pipefail -c "'$BUILD/tests/progs/forkexec' 0.3 | tr -d 0-9"
# a user namespace needs a single-threaded process: the shim's service thread steps aside
# (unshare(CLONE_NEWUSER) fails with EINVAL while it runs)
if have unshare && unshare -U true 2>/dev/null; then
	same "unshare -U (a user namespace)" "" -- unshare -U -r sh -c 'id -u; echo in'
fi

# redis-server under redis-benchmark: the benchmark succeeds, the server answers and exits cleanly
if have redis-server && have redis-benchmark && have redis-cli; then
	for mode in bare stats count; do
		port=$(free_port)
		ran=$((ran + 1))
		start $mode -- redis-server --bind 127.0.0.1 --port $port --save '' --appendonly no \
			--daemonize no --logfile "$T/redis.log" &
		pid=$!
		echo $pid >"$T/redis.pid"
		for _ in $(seq 100); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
		[ $mode != bare ] && ! has_segment $pid && fail "redis ($mode): no heap segment for pid $pid"
		timeout 60 redis-benchmark -h 127.0.0.1 -p $port -n 20000 -c 10 -q -t set,get,lpush,lpop >/dev/null
		rc=$?
		redis-cli -p $port set k v >/dev/null
		answer=$(redis-cli -p $port get k)
		redis-cli -p $port shutdown nosave >/dev/null 2>&1
		wait $pid
		st=$?
		rm -f "$T/redis.pid"
		if [ $rc -ne 0 ] || [ $st -ne 0 ] || [ "$answer" != v ]; then
			fail "redis ($mode): benchmark $rc, server exit $st, answers '$answer'"
			tail -3 "$T/redis.log"
		fi
	done
	echo "ok: redis-server under redis-benchmark -n 20000"
fi

# nginx under a bounded load: 300 requests, the same bodies, a clean exit
if [ -x /usr/sbin/nginx ] && have curl; then
	port=$(free_port)
	chmod 755 "$T"   # the workers run as nobody
	mkdir -p "$T/nginx/html" "$T/nginx/tmp"
	head -c 100000 /usr/share/common-licenses/GPL-3 >"$T/nginx/html/index.html" 2>/dev/null || seq 20000 >"$T/nginx/html/index.html"
	cat >"$T/nginx/nginx.conf" <<EOF
daemon off; worker_processes 2; pid $T/nginx/nginx.pid; error_log $T/nginx/error.log;
events { worker_connections 64; }
http { access_log off; client_body_temp_path $T/nginx/tmp; proxy_temp_path $T/nginx/tmp;
  fastcgi_temp_path $T/nginx/tmp; uwsgi_temp_path $T/nginx/tmp; scgi_temp_path $T/nginx/tmp;
  server { listen 127.0.0.1:$port; root $T/nginx/html; } }
EOF
	want=$(md5sum <"$T/nginx/html/index.html")
	for mode in bare stats count; do
		ran=$((ran + 1))
		start $mode -- /usr/sbin/nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" &
		pid=$!
		for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
		if [ $mode != bare ]; then
			has_segment $pid || fail "nginx ($mode): no heap segment for the master $pid"
			for w in $(pgrep -P $pid); do has_segment $w || fail "nginx ($mode): no segment for worker $w"; done
		fi
		bad=0
		for i in $(seq 300); do
			[ "$(curl -s --max-time 5 "http://127.0.0.1:$port/index.html" | md5sum)" = "$want" ] || bad=$((bad + 1))
		done
		kill -QUIT $pid
		wait $pid
		st=$?
		[ $bad -eq 0 ] && [ $st -eq 0 ] || fail "nginx ($mode): $bad bad bodies of 300, exit $st"
	done
	echo "ok: nginx under 300 requests"
fi

[ $ran -eq 0 ] && { echo "skip: none of the programs is installed"; exit 77; }
echo "$ran runs, $fails failures"
[ $fails -eq 0 ]
