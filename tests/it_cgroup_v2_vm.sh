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
# Env: SRC (source dir), HEADROOM (a dynamic fallback when the static build fails, or always
#      with HEADROOM_VM_DYNAMIC=1: its libraries and the loader are copied into the VM),
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

if [ "${HEADROOM_VM_DYNAMIC:-0}" != 1 ] && bdir=$(bash "$SRC/scripts/vm/build-static.sh" "$SRC"); then
  hr=$bdir/headroom
else
  # e.g. a module that needs libcurl/libmicrohttpd and is not compiled out under HEADROOM_NO_HTTP
  [ "${HEADROOM_VM_DYNAMIC:-0}" = 1 ] || echo "NOTE: the static build failed (above)" >&2
  echo "NOTE: using ${HEADROOM:-?} with its libraries copied in" >&2
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

# The recording of the 5 ms spike, read on the host: the interval that holds the spike has
# its true height (rss_peak, cg_usage_peak within 2 % of the toucher's own peak RSS); a later interval
# is back down where the peak can be reset (VmHWM everywhere, memory.peak since 6.12) and
# still at the spike where it cannot (memory.peak on 6.1: since-start, and the run says so).
check_spike_recording() {
  local series=$1 dir=$2 db=$2/spike.db hwm q ok=0
  if [ ! -f "$db" ]; then echo "(no spike recording from $series: headroom run did not write one)"; return 0; fi
  command -v sqlite3 >/dev/null || { echo "(no sqlite3 on the host: recording not checked)"; return 0; }
  hwm=$(sed -n 's/.*toucher: peak_rss_bytes=\([0-9]*\).*/\1/p' "$dir/spike.json")
  [ -n "$hwm" ] || { echo "FAIL $series recording: no toucher peak_rss_bytes line"; return 1; }
  # max peak; the lowest peak of the samples after the last one holding the max (a sample
  # taken at the top resets the peak to the top, so the next may hold it too: min, not next)
  q="with m as (select max(rss_peak) rp, max(cg_usage_peak) cp from samples),
          tr as (select min(t_ns) t from samples, m where rss_peak = m.rp),
          tc as (select min(t_ns) t from samples, m where cg_usage_peak = m.cp)
     select m.rp, m.cp,
            (select min(rss_peak) from samples, tr where t_ns > tr.t),
            (select min(cg_usage_peak) from samples, tc where t_ns > tc.t),
            (select cg_peaks_exact from run), (select count(*) from samples),
            (select max(rss) from samples)
     from m"
  local row rp cp rafter cafter exact n rssmax
  # '|' keeps NULL (empty) columns in place, where read would merge blanks
  row=$(sqlite3 -separator '|' "$db" "$q" 2>&1) || { echo "FAIL $series recording: $row"; return 1; }
  IFS='|' read -r rp cp rafter cafter exact n rssmax <<< "$row"
  # the check means something only if no plain sample saw the top
  if [ -n "$rssmax" ] && [ $((rssmax * 100)) -ge $((hwm * 98)) ]; then
    echo "NOTE $series: a sample's plain RSS ($rssmax) caught the spike's top by chance"
  else
    echo "spike ($series): highest plain RSS sample $rssmax, $(( (hwm - rssmax) * 100 / hwm ))% below the top"
  fi
  echo "spike recording ($series): $n samples; true peak RSS $hwm; max rss_peak $rp, later ${rafter:-none};" \
       "max cg_usage_peak $cp, later ${cafter:-none}; run.cg_peaks_exact $exact"
  within() { [ -n "$1" ] && [ $(($1 * 100)) -ge $(($2 * 98)) ] && [ $(($1 * 100)) -le $(($2 * 102)) ]; }
  within "$rp" "$hwm" || { echo "FAIL $series: max rss_peak $rp not within 2 % of the true peak RSS $hwm"; ok=1; }
  within "$cp" "$hwm" || { echo "FAIL $series: max cg_usage_peak $cp not within 2 % of the true peak RSS $hwm"; ok=1; }
  [ -n "$rafter" ] && [ "$rafter" -lt $((rp / 2)) ] ||
    { echo "FAIL $series: rss_peak after the spike ${rafter:-missing}, want it reset (< $((rp / 2)))"; ok=1; }
  case "$series" in
    6.1) [ "$cafter" = "$cp" ] && [ "$exact" = 0 ] ||
           { echo "FAIL $series: want since-start cgroup peaks (later $cafter = max $cp) and cg_peaks_exact 0"; ok=1; } ;;
    *)   [ -n "$cafter" ] && [ "$cafter" -lt $((cp / 2)) ] && [ "$exact" = 1 ] ||
           { echo "FAIL $series: want cg_usage_peak reset after the spike (later ${cafter:-missing} < $((cp / 2))) and cg_peaks_exact 1"; ok=1; } ;;
  esac
  [ $ok = 0 ] && echo "PASS $series: spike recording"
  return $ok
}

rc=0
while read -r series kernel; do
  echo "== Linux $series: $(basename "$kernel")"
  if ! bash "$SRC/scripts/vm/run-vm.sh" --timeout 90 --log "$work/console-$series.log" \
         --blobs "$work/blobs-$series" "$kernel" "$work/initrd.gz"; then
    rc=1
  fi
  check_spike_recording "$series" "$work/blobs-$series/headroom" || rc=1
done <<< "$kernels"
[ $rc = 0 ] && echo "cgroup v2 VM test: all checks passed on: $(awk '{printf "%s ", $1}' <<< "$kernels")"
exit $rc
