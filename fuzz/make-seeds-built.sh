#!/usr/bin/env bash
# Writes the seeds that need a build: fuzz/corpus/recording/ (small recordings made by the real
# writer through tests/tools/synth_recording, re-paged to 512-byte pages so that a seed is a few
# KiB), fuzz/corpus/elf/ (Debian's /usr/bin/true, and a minimal dynamic and a minimal
# static executable built here) and fuzz/corpus/heap_seg/real-* (the segment the shim wrote
# for tests/progs/heap_live holding 1 MiB, count and stats mode, copied from /dev/shm).
#   fuzz/make-seeds-built.sh BUILD_DIR     (the gcc build, build/: the shim is not preloaded
#                                           into sanitized programs)
set -euo pipefail
build=${1:?usage: fuzz/make-seeds-built.sh BUILD_DIR}
src=$(cd "$(dirname "$0")/.." && pwd)
out=$src/fuzz/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out/recording" "$out/elf"

synth=$build/tests/tools/synth_recording
for spec in "flat 20" "spikes 40 --cgroup --oom" "load 60" "startup 30" "leak 30 --unfinished" "empty 0"; do
  set -- $spec
  shape=$1 n=$2
  shift 2
  "$synth" "$shape" "$tmp/$shape.db" --samples "$n" "$@" >/dev/null
  sqlite3 "$tmp/$shape.db" "PRAGMA journal_mode=DELETE; PRAGMA page_size=512; VACUUM;" >/dev/null
  cp "$tmp/$shape.db" "$out/recording/synth-$shape"
done

cp /usr/bin/true "$out/elf/debian-true"
# a small dynamic program that calls malloc (the measurable case)
printf '#include <stdlib.h>\nint main(void) { return malloc(1) == 0; }\n' > "$tmp/dyn.c"
cc -Os -s -o "$out/elf/tiny-dynamic" "$tmp/dyn.c"
# the smallest static executable: no interpreter, so the reader says "statically linked"
printf 'void _start(void) { for (;;) ; }\n' > "$tmp/tiny.c"
cc -static -nostdlib -Os -s -o "$out/elf/tiny-static" "$tmp/tiny.c"
# a real segment, with fuzz_heap_seg's flag byte in front: 1 = fix the header up for this
# process (stats), 3 = the same in count mode
for mode in count stats; do
  LD_PRELOAD=$build/libheadroom-heap.so HEADROOM_HEAP_RUN=seedcap$mode HEADROOM_HEAP_MODE=$mode \
    "$build/tests/progs/heap_live" 1048576 1000 2 >/dev/null &
  pid=$!
  sleep 1
  seg=/dev/shm/headroom-heap-seedcap$mode-$pid
  flag=$([ $mode = count ] && echo 3 || echo 1)
  { printf "\\x0$flag"; cat "$seg"; } > "$out/heap_seg/real-heap_live-$mode"
  wait $pid
  rm -f "$seg"
done
ls -l "$out/recording" "$out/elf" "$out/heap_seg"
