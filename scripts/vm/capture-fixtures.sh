#!/usr/bin/env bash
# Captures real cgroup v2 files from Debian's cloud kernels 6.1 and 6.12 booted in QEMU, into
# tests/fixtures/cgroup-v2-<series>/ (see tests/fixtures/README.md for what each holds).
# Uses the busybox checks of tests/vm/guest-v2-manual.sh with hr_capture=1.
#   capture-fixtures.sh [SERIES...]      (default 6.1 6.12)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
bash "$src/scripts/install-deps.sh" vm
kernels=$(bash "$src/scripts/vm/fetch-kernels.sh" "$@")
bdir=$(bash "$src/scripts/vm/build-static.sh" "$src")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck disable=SC2046
bash "$src/scripts/vm/mkinitramfs.sh" "$work/initrd.gz" "$src/tests/vm/guest-v2-manual.sh" \
  "$bdir/tests/progs/toucher" "$bdir/tests/progs/peakfd" $(bash "$src/scripts/vm/loop-modules.sh" <<< "$kernels")
while read -r series kernel; do
  bash "$src/scripts/vm/run-vm.sh" --append hr_capture=1 --log "$work/console-$series.log" \
    --blobs "$work/blobs-$series" "$kernel" "$work/initrd.gz"
  dest=$src/tests/fixtures/cgroup-v2-$series
  rm -rf "$dest"
  mkdir -p "$dest"
  cp -r "$work/blobs-$series/fixtures/." "$dest/"
  grep -m1 '^HR-BOOT ' "$work/console-$series.log" | awk '{print $2}' > "$dest/KERNEL"
  echo "captured $dest ($(cat "$dest/KERNEL"))"
done <<< "$kernels"
