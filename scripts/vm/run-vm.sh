#!/usr/bin/env bash
# Boots KERNEL with INITRD in QEMU (software emulation: KVM does not work on these hosts),
# captures the serial console and parses the markers /init and /test.sh print.
#   run-vm.sh [--timeout S] [--max-total S] [--mem MiB] [--log FILE] [--blobs DIR] [--append ARGS] KERNEL INITRD
# --timeout: seconds the console may stay silent before the VM counts as hung (default 60);
# --max-total: seconds for the whole run (default 900). --append adds kernel arguments; name=value ones reach /init and /test.sh as environment.
# Markers (one per line on the console):
#   HR-BOOT <release> <uptime>   /init started; uptime is the guest's boot time in seconds
#   HR-PASS <name> [detail]      a check passed
#   HR-FAIL <name> [detail]      a check failed
#   HR-INFO <text>               for the log only
#   HR-BLOB-BEGIN <name> / base64 lines / HR-BLOB-END
#                                a base64 .tar.gz, unpacked into --blobs DIR/<name>/
#   HR-END rc=N                  /test.sh exited with N
# Prints the markers and a summary line
#   run-vm: <release>: P passed, F failed; boot B s (guest), wall W s
# Exit 0 when HR-END rc=0 came and no check failed; 1 when a check failed or rc != 0;
# 124 when the VM hung or died before HR-END (the console log is printed then).
set -euo pipefail

timeout_s=60 max_s=900 mem=512 log="" blobs="" append=""
while [ $# -gt 2 ]; do
  case "$1" in
    --timeout) timeout_s=$2; shift 2 ;;
    --max-total) max_s=$2; shift 2 ;;
    --mem)     mem=$2; shift 2 ;;
    --log)     log=$2; shift 2 ;;
    --blobs)   blobs=$2; shift 2 ;;
    --append)  append=$2; shift 2 ;;
    *) echo "usage: run-vm.sh [--timeout S] [--max-total S] [--mem MiB] [--log FILE] [--blobs DIR] [--append ARGS] KERNEL INITRD" >&2; exit 2 ;;
  esac
done
if [ $# -ne 2 ]; then
  echo "usage: run-vm.sh [--timeout S] [--mem MiB] [--log FILE] [--blobs DIR] [--append ARGS] KERNEL INITRD" >&2
  exit 2
fi
kernel=$1 initrd=$2
tmplog=""
if [ -z "$log" ]; then tmplog=$(mktemp); log=$tmplog; fi
trap '[ -n "$tmplog" ] && rm -f "$tmplog"' EXIT

t0=$(date +%s.%N)
raw=$(mktemp)
trap '[ -n "$tmplog" ] && rm -f "$tmplog"; rm -f "$raw"' EXIT
set +e
# stdin from /dev/null: qemu's stdio console must not take the caller's terminal. loglevel=1:
# nothing of the kernel but a panic reaches the console (loglevel=0 hid one: under a loaded
# host a 6.12 guest once rebooted right after the BIOS with no word, qemu status 0)
qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m "$mem" \
  -nographic -nic none -no-reboot -kernel "$kernel" -initrd "$initrd" \
  -append "console=ttyS0 quiet loglevel=1 panic=-1 $append" </dev/null >"$raw" 2>&1 &
qpid=$!
# The guest's own progress is the clock: it prints a marker per step, so a VM is hung when its
# console stays silent for --timeout seconds, not when a fixed total elapsed (under emulation on
# a busy machine the same steps take several times longer, and a total bound failed them).
# --max-total caps the whole run anyway.
last=-1 idle=0 start=$SECONDS qrc=""
while kill -0 "$qpid" 2>/dev/null; do
  sleep 1
  size=$(stat -c %s "$raw" 2>/dev/null || echo 0)
  if [ "$size" != "$last" ]; then last=$size idle=0; else idle=$((idle + 1)); fi
  if [ "$idle" -ge "$timeout_s" ] || [ $((SECONDS - start)) -ge "$max_s" ]; then
    kill "$qpid" 2>/dev/null
    for _ in 1 2 3 4 5; do kill -0 "$qpid" 2>/dev/null || break; sleep 1; done
    kill -9 "$qpid" 2>/dev/null
    qrc=124
    break
  fi
done
wait "$qpid"
qrc=${qrc:-$?}
tr -d '\r' <"$raw" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g; s/^.*\(HR-BOOT \)/\1/' > "$log"
set -e
t1=$(date +%s.%N)
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')

grep -E '^HR-(BOOT|PASS|FAIL|INFO|END)' "$log" || true

if [ -n "$blobs" ]; then
  mkdir -p "$blobs"
  awk -v dir="$blobs" '
    /^HR-BLOB-BEGIN /{name=$2; file=dir "/" name ".b64"; printf "" > file; inblob=1; next}
    /^HR-BLOB-END/{inblob=0; close(file); next}
    inblob{print >> file}' "$log"
  for b64 in "$blobs"/*.b64; do
    [ -e "$b64" ] || continue
    name=$(basename "$b64" .b64)
    rm -rf "${blobs:?}/$name"; mkdir -p "$blobs/$name"
    base64 -d "$b64" | tar xzf - -C "$blobs/$name"
    rm -f "$b64"
  done
fi

release=$(awk '/^HR-BOOT /{print $2; exit}' "$log")
boot=$(awk '/^HR-BOOT /{print $3; exit}' "$log")
passed=$(grep -c '^HR-PASS ' "$log" || true)
failed=$(grep -c '^HR-FAIL ' "$log" || true)
end=$(sed -n 's/^HR-END rc=\([0-9]*\).*/\1/p' "$log" | tail -1)
if [ -z "$end" ]; then
  why="no HR-END"
  [ "$qrc" = 124 ] && why="no console output for ${timeout_s}s, or ${max_s}s in all"
  echo "run-vm: ${release:-$(basename "$kernel")}: VM did not finish ($why, qemu status $qrc); console:" >&2
  tail -40 "$log" >&2
  exit 124
fi
echo "run-vm: $release: $passed passed, $failed failed; boot ${boot}s (guest), wall ${wall}s"
[ "$end" = 0 ] && [ "$failed" = 0 ] && exit 0
exit 1
