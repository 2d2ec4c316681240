#!/usr/bin/env bash
# headroom load against a real nginx (Debian nginx-light) on a loopback port: keep-alive,
# Content-Length and chunked (gzip) bodies, HEAD, POST with a body, 404s, several threads.
set -euo pipefail
: "${HEADROOM:?}"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "SKIP: nginx not installed (scripts/install-deps.sh installs nginx-light)"; exit 77; }
dir=$(mktemp -d)
ngpid=
cleanup() { [ -n "$ngpid" ] && kill "$ngpid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$dir/logs/error.log" ] && tail -5 "$dir/logs/error.log" >&2; exit 1; }
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$@"; }

chmod 755 "$dir"   # nginx workers run as nobody when started by root
mkdir -p "$dir/html" "$dir/logs" "$dir/tmp"
python3 -c "print('x' * 4000)" > "$dir/html/index.html"
python3 -c "print('hello nginx ' * 2000)" > "$dir/html/text.txt"
start_nginx() {
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  types { text/plain txt; text/html html; }
  gzip on; gzip_min_length 0; gzip_types text/plain;
  server {
    listen 127.0.0.1:$port;
    root $dir/html;
    location = /post { return 200 "posted\n"; }
  }
}
CONF
  "$NGINX" -p "$dir" -c "$dir/nginx.conf" 2> "$dir/logs/start.log" &
  ngpid=$!
  for _ in $(seq 100); do
    if ! kill -0 "$ngpid" 2>/dev/null; then ngpid=; return 1; fi
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
for _ in 1 2 3; do start_nginx && break; done
[ -n "$ngpid" ] || fail "nginx did not start: $(cat "$dir/logs/start.log")"
U="http://127.0.0.1:$port"

# closed loop with a ramp on two threads: every response a clean 200 with its 4001-byte body
"$HEADROOM" load "$U/" --stages 1s:8,1s:~32 --threads 2 --json > "$dir/a.json"
cat "$dir/a.json"
req=$(field "$dir/a.json" "['requests']")
[ "$req" -gt 1000 ] || fail "only $req requests in 2 s"
[ "$(field "$dir/a.json" "['status']['2xx']")" -eq "$req" ] || fail "not all 2xx"
[ "$(field "$dir/a.json" "['errors']['total']")" -eq 0 ] || fail "errors against nginx"
[ "$(field "$dir/a.json" "['max_connections']")" -eq 32 ] || fail "max connections"
# keep-alive: nginx closes after keepalive_requests (1000), so few reconnects
conns=$(field "$dir/a.json" "['connections_opened']")
[ "$conns" -le $(( 32 + req / 900 + 4 )) ] || fail "$conns connections for $req requests: keep-alive not used"
# the bytes read are about the responses' size (4001 bytes of body + headers)
bytes=$(field "$dir/a.json" "['bytes_read']")
[ "$bytes" -ge $(( req * 4001 )) ] || fail "read $bytes bytes for $req responses"

# chunked bodies (gzip), HEAD, POST with a body, a 404 path, round robin over paths
"$HEADROOM" load "$U/" --stages 1s:4 --header 'Accept-Encoding: gzip' --path /text.txt --path /missing --json > "$dir/b.json"
cat "$dir/b.json"
[ "$(field "$dir/b.json" "['errors']['parse']")" -eq 0 ] || fail "chunked: parse errors"
[ "$(field "$dir/b.json" "['status']['2xx']")" -gt 100 ] || fail "chunked: no 2xx"
[ "$(field "$dir/b.json" "['errors']['4xx']")" -gt 100 ] || fail "404s not counted"
curl -s -D - -o /dev/null -H 'Accept-Encoding: gzip' "$U/text.txt" 2>/dev/null | grep -qi 'transfer-encoding: chunked' \
  || echo "note: nginx did not answer chunked here"
"$HEADROOM" load "$U/text.txt" --stages 1s:4 --method HEAD --json > "$dir/c.json"
[ "$(field "$dir/c.json" "['errors']['total']")" -eq 0 ] || fail "HEAD: errors (a body was expected?)"
[ "$(field "$dir/c.json" "['requests']")" -gt 100 ] || fail "HEAD: too few"
"$HEADROOM" load "$U/post" --stages 1s:4 --method POST --body '{"size": 1024}' --header 'Content-Type: application/json' --json > "$dir/d.json"
[ "$(field "$dir/d.json" "['errors']['total']")" -eq 0 ] || fail "POST: errors"
[ "$(field "$dir/d.json" "['status']['2xx']")" -gt 100 ] || fail "POST: too few 2xx"

# open loop at a fixed rate: the count follows the rate
"$HEADROOM" load "$U/" --stages 2s:20 --rate 1000 --json > "$dir/e.json"
req=$(field "$dir/e.json" "['requests']")
[ "$req" -ge 1700 ] && [ "$req" -le 2100 ] || fail "open loop at 1000/s for 2 s gave $req"
echo ok
