#!/usr/bin/env bash
# Builds the headroom node agent image with podman from this repository, offline:
#   deploy/build-image.sh [TAG] [BUILD_DIR]
# TAG defaults to localhost/headroom:<version>; BUILD_DIR (default build-image/) gets a Release
# build, unless HEADROOM_BIN names an already built headroom to use. Prints the image id. Needs cmake, a C compiler, the -dev packages of
# scripts/install-deps.sh, and podman (group "node").
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
TAG=${1:-}
BUILD=${2:-$SRC/build-image}
BIN=${HEADROOM_BIN:-}
if [ -z "$BIN" ]; then
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release $(command -v ninja >/dev/null && echo -G Ninja) >/dev/null
  cmake --build "$BUILD" --target headroom -j "$(nproc)" >/dev/null
  BIN=$BUILD/headroom
fi
version=$("$BIN" --version | awk '{print $2}')
TAG=${TAG:-localhost/headroom:$version}
ctx=$(mktemp -d /tmp/headroom-image.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/usr/bin"
install -m 0755 "$BIN" "$ctx/rootfs/usr/bin/headroom"
strip "$ctx/rootfs/usr/bin/headroom"
# every library the binary loads, at the same path, plus the loader; libcurl is dlopened only by
# `size --prometheus`, which the agent never runs, so it is left out
ldd "$BIN" | awk '/=> \//{print $3} /^\t\/.*ld-linux/{print $1}' | while read -r lib; do
  mkdir -p "$ctx/rootfs$(dirname "$lib")"
  cp -L "$lib" "$ctx/rootfs$lib"
done
# the loader's canonical path, for binaries linked against /lib64/ld-linux-x86-64.so.2
interp=$(readelf -l "$BIN" | sed -n 's/.*interpreter: \(.*\)]/\1/p')
if [ -n "$interp" ] && [ ! -e "$ctx/rootfs$interp" ]; then
  mkdir -p "$ctx/rootfs$(dirname "$interp")"
  cp -L "$interp" "$ctx/rootfs$interp"
fi
mkdir -p "$ctx/rootfs/tmp" "$ctx/rootfs/etc"
echo "root:x:0:0:root:/:/usr/bin/headroom" > "$ctx/rootfs/etc/passwd"
cp "$SRC/deploy/Containerfile" "$ctx/Containerfile"
podman --cgroup-manager=cgroupfs --storage-driver=vfs build -q -t "$TAG" -f "$ctx/Containerfile" "$ctx"
