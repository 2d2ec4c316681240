#!/usr/bin/env bash
# Configures and builds the static headroom and the static test programs the cgroup v2 VM
# test runs (HEADROOM_STATIC=ON, see CMakeLists.txt) in build-static/ beside the sources,
# incrementally. Build output goes to stderr; stdout gets the build directory.
#   build-static.sh [SRC_DIR]     (HEADROOM_STATIC_BUILD overrides the build directory)
set -euo pipefail
src=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
bdir=${HEADROOM_STATIC_BUILD:-$src/build-static}
mkdir -p "$bdir"
exec 9>"$bdir/.build-lock"
flock 9
if [ ! -f "$bdir/CMakeCache.txt" ]; then
  cmake -S "$src" -B "$bdir" -DHEADROOM_STATIC=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
fi
cmake --build "$bdir" -j "$(nproc)" --target headroom toucher peakfd >&2
echo "$bdir"
