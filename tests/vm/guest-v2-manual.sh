# Runs inside the VM (busybox sh, as /test.sh): the cgroup v2 checks done by hand, without
# headroom, with the static toucher and peakfd. Proves the harness and shows what the
# kernel does; tests/it_cgroup_v2_vm.sh runs it before the headroom checks.
# With hr_capture=1 on the kernel command line it also prints the files of a live cgroup and
# of one after an OOM kill as the blob "fixtures" (scripts/vm/capture-fixtures.sh).
cg=/sys/fs/cgroup
pass() { echo "HR-PASS $*"; }
fail() { echo "HR-FAIL $*"; }
info() { echo "HR-INFO $*"; }
phase() { echo "HR-INFO t=$(cut -d' ' -f1 /proc/uptime)s $*"; }
MIB=1048576

# copies every readable file of cgroup dir $1 into $2 (write-only files are skipped)
snapshot() {
  mkdir -p "$2"
  for f in "$1"/*; do
    [ -f "$f" ] || continue
    cat "$f" > "$2/$(basename "$f")" 2>/dev/null || rm -f "$2/$(basename "$f")"
  done
}

field() { awk -v k="$1" '$1 == k {print $2}' "$2"; }
# a killed process may leave its cgroup populated for a moment after it was reaped
rmdir_retry() { i=0; until rmdir "$1" 2>/dev/null || [ $i -ge 40 ]; do usleep 50000; i=$((i + 1)); done; [ ! -d "$1" ]; }

grep -qw memory $cg/cgroup.controllers && pass v2-memory-controller "$(cat $cg/cgroup.subtree_control)" ||
  fail v2-memory-controller "root controllers: $(cat $cg/cgroup.controllers)"

# A real filesystem for page cache (tmpfs pages are shmem, never inactive_file): an ext2
# image on a loop device, when /init could load the loop module.
cache_mib=0
if grep -q '^loop ' /proc/modules && dd if=/dev/zero of=/tmp/disk.img bs=1M count=24 2>/dev/null &&
   losetup /dev/loop0 /tmp/disk.img && mke2fs -q /dev/loop0 && mkdir -p /mnt &&
   mount -t ext2 /dev/loop0 /mnt; then
  cache_mib=8
  pass page-cache-fs "ext2 on a loop device at /mnt"
else
  info "no loop device: the live cgroup has no page cache"
fi

phase "a cgroup with a process in it"
# --- a cgroup with a process in it: 8 MiB of page cache written (when /mnt exists) and
# 20 MiB of anonymous memory touched, held while the files are copied
mkdir $cg/fx-live
echo 64M > $cg/fx-live/memory.max
echo 48M > $cg/fx-live/memory.high
sh -c "echo \$\$ > $cg/fx-live/cgroup.procs
       [ $cache_mib = 0 ] || { dd if=/dev/zero of=/mnt/cache bs=1M count=$cache_mib 2>/dev/null; sync; }
       exec toucher --hold-ms 30000 20" &
pid=$!
# emulation on a busy host is slow: wait up to 15 s, then stop the toucher once copied
i=0
while [ "$(cat $cg/fx-live/memory.current)" -lt $(((20 + cache_mib) * MIB)) ] && [ $i -lt 300 ]; do usleep 50000; i=$((i + 1)); done
snapshot $cg/fx-live /tmp/fx/live
mkdir -p /tmp/fx/live-proc
for f in status statm smaps_rollup smaps cgroup; do cat /proc/$pid/$f > /tmp/fx/live-proc/$f; done
cat /proc/self/mountinfo > /tmp/fx/live-proc/mountinfo
cur=$(cat /tmp/fx/live/memory.current)
[ "$cur" -ge $(((20 + cache_mib) * MIB)) ] &&
  pass live-current "memory.current=$cur with 20 MiB touched and $cache_mib MiB cached" ||
  fail live-current "memory.current=$cur, want >= $(((20 + cache_mib) * MIB))"
ifile=$(field inactive_file /tmp/fx/live/memory.stat)
if [ $cache_mib != 0 ]; then
  [ "$ifile" -ge $(((cache_mib - 1) * MIB)) ] && pass live-inactive-file "inactive_file=$ifile after writing $cache_mib MiB" ||
    fail live-inactive-file "inactive_file=$ifile after writing $cache_mib MiB"
fi
kill $pid
wait $pid
rm -f /mnt/cache
rmdir_retry $cg/fx-live && pass live-rmdir || fail live-rmdir "$cg/fx-live still there"

phase "OOM"
# --- OOM: 100 MiB under memory.max=32M is killed, events say so, peak is the limit
mkdir $cg/t-oom
echo 32M > $cg/t-oom/memory.max
sh -c "echo \$\$ > $cg/t-oom/cgroup.procs; exec toucher 100"
rc=$?
[ $rc = 137 ] && pass oom-exit "toucher 100 under 32M exited $rc" || fail oom-exit "exit $rc, want 137"
ok=$(field oom_kill $cg/t-oom/memory.events)
[ "$ok" = 1 ] && pass oom-events "memory.events: $(tr '\n' ' ' < $cg/t-oom/memory.events)" ||
  fail oom-events "oom_kill=$ok in memory.events: $(tr '\n' ' ' < $cg/t-oom/memory.events)"
peak=$(cat $cg/t-oom/memory.peak)
[ "$peak" -le $((32 * MIB)) ] && [ "$peak" -ge $((31 * MIB)) ] && pass oom-peak "memory.peak=$peak" ||
  fail oom-peak "memory.peak=$peak, want about $((32 * MIB))"
snapshot $cg/t-oom /tmp/fx/oom
rmdir_retry $cg/t-oom && pass oom-rmdir || fail oom-rmdir "$cg/t-oom still there"

phase "a 5 ms spike"
# --- a 5 ms spike of +100 MiB over 16 MiB: memory.peak has it, within 2 % of the VmHWM
mkdir $cg/t-spike
out=$(sh -c "echo \$\$ > $cg/t-spike/cgroup.procs; exec toucher --wait-ms 300 --spike 100 --spike-ms 5 --hold-ms 300 --report 16")
hwm=$(echo "$out" | sed -n 's/.*vmhwm_bytes=\([0-9]*\).*/\1/p')
peak=$(cat $cg/t-spike/memory.peak)
cur=$(cat $cg/t-spike/memory.current)
info "spike: $out; memory.peak=$peak memory.current=$cur"
# the cgroup also charges page tables and kernel memory, so its peak sits a little above VmHWM
if [ -n "$hwm" ] && [ $((peak * 100)) -ge $((hwm * 98)) ] && [ $((peak * 100)) -le $((hwm * 102)) ]; then
  pass spike-peak "memory.peak=$peak VmHWM=$hwm"
else
  fail spike-peak "memory.peak=$peak VmHWM=$hwm, want within 2 %"
fi

phase "resetting memory.peak"
# --- resetting memory.peak through one open file: works since 6.12, EINVAL before
mkdir $cg/t-reset
sh -c "echo \$\$ > $cg/t-reset/cgroup.procs; exec toucher --spike 64 --spike-ms 1 --hold-ms 20000 8" &
pid=$!
# wait for the spike to be over: emulation is slow and the machine may be busy
i=0
while { [ "$(cat $cg/t-reset/memory.peak)" -lt $((64 * MIB)) ] ||
        [ "$(cat $cg/t-reset/memory.current)" -gt $((16 * MIB)) ]; } && [ $i -lt 300 ]; do
  usleep 50000; i=$((i + 1))
done
out=$(peakfd $cg/t-reset/memory.peak)
info "$out (memory.current=$(cat $cg/t-reset/memory.current))"
kill $pid
wait $pid
major=$(uname -r | cut -d. -f1) minor=$(uname -r | cut -d. -f2)
before=$(echo "$out" | sed -n 's/.*before=\([0-9]*\).*/\1/p')
same=$(echo "$out" | sed -n 's/.*after_same_fd=\([0-9]*\).*/\1/p')
fresh=$(echo "$out" | sed -n 's/.*after_new_fd=\([0-9]*\).*/\1/p')
if [ "$major" -gt 6 ] || { [ "$major" = 6 ] && [ "$minor" -ge 12 ]; }; then
  case "$out" in
    *write=ok*) [ "$same" -lt $((before - 32 * MIB)) ] && [ "$fresh" = "$before" ] &&
                  pass peak-reset "resettable per fd: $out" || fail peak-reset "write ok but: $out" ;;
    *) fail peak-reset "want a resettable memory.peak on $(uname -r): $out" ;;
  esac
else
  case "$out" in
    *write=EINVAL*) pass peak-reset "not resettable (EINVAL) on $(uname -r), as expected" ;;
    *) fail peak-reset "want EINVAL on $(uname -r): $out" ;;
  esac
fi
rmdir_retry $cg/t-spike; rmdir_retry $cg/t-reset
[ ! -d $cg/t-spike ] && [ ! -d $cg/t-reset ] && pass rmdir-all || fail rmdir-all "leftover: $(ls $cg | grep '^t-')"

if [ "$hr_capture" = 1 ]; then
  echo HR-BLOB-BEGIN fixtures
  tar czf - -C /tmp/fx . | base64
  echo HR-BLOB-END
fi
exit 0
