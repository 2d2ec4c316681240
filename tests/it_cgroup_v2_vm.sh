#!/usr/bin/env bash
# cgroup v2 for real: boots Debian's cloud kernels 6.1 and 6.12 in QEMU (software emulation)
# with a busybox initramfs holding a static headroom and the static test programs, and runs
# inside, where the v2 memory controller exists:
#   - the v2 checks by hand (tests/vm/guest-v2-manual.sh): OOM under memory.max, memory.events,
#     memory.peak of a 5 ms spike, memory.peak reset per open file (6.12) or EINVAL (6.1)
#   - headroom itself (tests/vm/guest-v2-headroom.sh): run --limit 32Mi with an OOM kill
#     (exit 137, said), the true peak of a 5 ms spike between 1 s samples within 2 %, the
#     since-start note on 6.1, and no cgroup left behind
# Skips (77) only when qemu/busybox/cpio or the kernels cannot be installed (no network to
# Debian's mirror). About 10-12 s per kernel with a warm cache.
# Env: SRC (source dir), HEADROOM (a dynamic fallback when the static build fails),
#      HEADROOM_VM_KERNELS ("6.1 6.12" by default), HEADROOM_VM_KEEP=DIR keeps logs/blobs there.
set -uo pipefail
SRC=${SRC:-$(cd "$(dirname "$0")/.." && pwd)}
skip() { echo "SKIP: $*"; exit 77; }

if ! command -v qemu-system-x86_64 >/dev/null || [ ! -x /bin/busybox ] || ! command -v cpio >/dev/null; then
  bash "$SRC/scripts/install-deps.sh" vm >&2 ||
    skip "cannot install the vm group (qemu-system-x86 busybox-static cpio): see above"
fi
# shellcheck disable=SC2086
kernels=$(bash "$SRC/scripts/vm/fetch-kernels.sh" ${HEADROOM_VM_KERNELS:-6.1 6.12}) ||
  skip "cannot fetch Debian's cloud kernels (no network to Debian's mirror?)"

if bdir=$(bash "$SRC/scripts/vm/build-static.sh" "$SRC"); then
  hr=$bdir/headroom
else
  # e.g. a module that needs libcurl/libmicrohttpd and is not compiled out under HEADROOM_NO_HTTP
  echo "NOTE: the static build failed (above); using ${HEADROOM:-?} with its libraries copied in" >&2
  [ -n "${HEADROOM:-}" ] && [ -x "$HEADROOM" ] || { echo "FAIL: no static build and no HEADROOM"; exit 1; }
  hr=$HEADROOM
  bdir=""
fi
progs=${bdir:+$bdir/tests/progs}
[ -n "$progs" ] || progs=$(dirname "$hr")/tests/progs

work=${HEADROOM_VM_KEEP:-}
if [ -z "$work" ]; then work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
mkdir -p "$work"
cat > "$work/test.sh" <<'GUEST'
sh /bin/guest-v2-manual.sh; m=$?
sh /bin/guest-v2-headroom.sh; h=$?
[ $m = 0 ] && [ $h = 0 ]
GUEST
bash "$SRC/scripts/vm/mkinitramfs.sh" "$work/initrd.gz" "$work/test.sh" \
  "$hr" "$progs/toucher" "$progs/peakfd" \
  "$SRC/tests/vm/guest-v2-manual.sh" "$SRC/tests/vm/guest-v2-headroom.sh" \
  $(bash "$SRC/scripts/vm/loop-modules.sh" <<< "$kernels") || { echo "FAIL: mkinitramfs"; exit 1; }

rc=0
while read -r series kernel; do
  echo "== Linux $series: $(basename "$kernel")"
  if ! bash "$SRC/scripts/vm/run-vm.sh" --timeout 90 --log "$work/console-$series.log" \
         --blobs "$work/blobs-$series" "$kernel" "$work/initrd.gz"; then
    rc=1
  fi
  db=$work/blobs-$series/headroom/spike.db
  if [ -f "$db" ] && command -v sqlite3 >/dev/null; then
    echo "spike recording ($series): $(sqlite3 "$db" "select count(*) || ' samples' from samples" 2>&1)"
  fi
done <<< "$kernels"
[ $rc = 0 ] && echo "cgroup v2 VM test: all checks passed on: $(awk '{printf "%s ", $1}' <<< "$kernels")"
exit $rc
