#!/usr/bin/env bash
# The node agent image: deploy/build-image.sh builds it with podman from this build's headroom
# (FROM scratch + the binary + the libraries it loads); it must be small, and run with the
# DaemonSet's privileges (host pids, every capability dropped but SYS_PTRACE, read-only root and
# read-only cgroup mount) and measure a host process in a cgroup. Skips (77) only where podman is
# not installed or cannot run a container here (said why).
. "$(dirname "$0")/lib.sh"
cd "$T"
command -v podman >/dev/null || { echo "skip: podman not installed (scripts/install-deps.sh node)"; exit 77; }
MEMROOT=/sys/fs/cgroup/memory
[ "$(id -u)" -eq 0 ] && [ -w "$MEMROOT" ] || { echo "skip: needs root and a writable v1 memory hierarchy"; exit 77; }
TAG=localhost/headroom-it:$$
CG=$MEMROOT/hr-it-image-$$
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rmdir "$CG/app" "$CG" 2>/dev/null || true
  podman --storage-driver=vfs rmi -f "$TAG" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT
if ! HEADROOM_BIN=$HEADROOM "$SRC/deploy/build-image.sh" "$TAG" > build.out 2> build.err; then
  if grep -qi "cannot\|permission\|not supported" build.err; then
    echo "skip: podman cannot build here: $(tail -1 build.err)"; exit 77; fi
  fail "deploy/build-image.sh failed: $(tail -3 build.err)"; finish; exit 1
fi
ok "deploy/build-image.sh built $TAG"
size=$(podman --storage-driver=vfs image inspect --format '{{.Size}}' "$TAG")
# a sanitizer build's binary and runtimes are several times larger: the bound is the plain build's
max=$((16 << 20))
grep -q '^HEADROOM_SANITIZE:STRING=.\+' "$BUILD/CMakeCache.txt" 2>/dev/null && max=$((64 << 20))
check "the image is small: $((size / 1024)) KiB (< $((max >> 20)) MiB)" test "$size" -lt "$max"
out=$(podman --cgroup-manager=cgroupfs --storage-driver=vfs --runtime /usr/sbin/runc run --rm --network=none \
  --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$TAG" --version)
expect_eq "the image runs headroom" "$(echo "$out" | awk '{print $1, $2}')" "headroom $("$HEADROOM" --version | awk '{print $2}')"

mkdir -p "$CG/app"
"$BUILD/tests/progs/memgrow" 16 4 10 180000 & MP=$!; PIDS+=("$MP")
echo "$MP" > "$CG/app/cgroup.procs"
PORT=$(python3 -c 'import socket,sys
for p in range(25200, 26000):
    s = socket.socket()
    try: s.bind(("127.0.0.1", p)); print(p); break
    except OSError: pass')
# The exporter lives until the cleanup kills it (podman passes the SIGTERM on); --duration only
# bounds a container the cleanup could not stop. With vfs, podman copies the whole image for
# each container before runc starts it (seconds on a busy machine, more for a sanitizer build),
# so the first scrape is polled for, and the figures are read from the scrape that had them.
podman --cgroup-manager=cgroupfs --storage-driver=vfs --runtime /usr/sbin/runc run --rm --network=host --pid=host \
  --cap-drop=all --cap-add=SYS_PTRACE --read-only --security-opt no-new-privileges \
  --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 -v "$CG:/host/sys/fs/cgroup:ro" "$TAG" \
  export --cgroup-root /host/sys/fs/cgroup --listen "127.0.0.1:$PORT" --interval 250ms --duration 150s > run.out 2> run.err &
PODPID=$!; PIDS+=("$PODPID")
# true once a scrape has the app cgroup, or once the container is gone (no use waiting on)
scraped() {
  { curl -sf "http://127.0.0.1:$PORT/metrics" > m.txt 2>/dev/null &&
    grep -q '^headroom_rss_bytes{cgroup="/host/sys/fs/cgroup/app"} ' m.txt; } || ! kill -0 "$PODPID" 2>/dev/null
}
eventually 60 scraped || true
grep -q '^headroom_rss_bytes{' m.txt 2>/dev/null ||
  echo "     (no scrape with the app cgroup; podman: $(tail -3 run.err 2>/dev/null | tr '\n' ' '))"
rss=$(sed -n 's|^headroom_rss_bytes{cgroup="/host/sys/fs/cgroup/app"} ||p' m.txt 2>/dev/null)
check "in the image, with only SYS_PTRACE and read-only mounts, a host process is measured (RSS ${rss:-none} >= 16 MiB)" \
  test "${rss:-0}" -ge $((16 << 20))
expect_eq "and nothing was reset (peak resets 0)" "$(sed -n 's/^headroom_exporter_peak_resets //p' m.txt 2>/dev/null)" 0
finish
