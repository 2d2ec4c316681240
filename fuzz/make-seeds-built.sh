#!/usr/bin/env bash
# Writes the seeds that need a build: fuzz/corpus/recording/ (small recordings made by the real
# writer through tests/tools/synth_recording, re-paged to 512-byte pages so that a seed is a few
# KiB) and fuzz/corpus/elf/ (Debian's /usr/bin/true, and a minimal dynamic and a minimal
# static executable built here).
#   fuzz/make-seeds-built.sh BUILD_DIR     (e.g. build-san)
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
ls -l "$out/recording" "$out/elf"
