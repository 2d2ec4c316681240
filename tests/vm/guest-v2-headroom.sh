# Runs inside the VM (busybox sh, after guest-v2-manual.sh): the static headroom on a real
# cgroup v2 memory controller: run --limit with an OOM kill, the true peak of a short spike
# between 1 s samples, working set with page cache, a run started inside a busy non-root
# cgroup, attach --cgroup; no cgroup of headroom's left behind. Prints HR-PASS/HR-FAIL/HR-INFO lines for run-vm.sh; copies the
# recordings and outputs out as the blob "headroom" so the host can query them with sqlite3.
cg=/sys/fs/cgroup
pass() { echo "HR-PASS $*"; }
fail() { echo "HR-FAIL $*"; }
info() { echo "HR-INFO $*"; }
phase() { echo "HR-INFO t=$(cut -d' ' -f1 /proc/uptime)s $*"; }
out=/tmp/hr
mkdir -p $out

# the cgroup tree as a sorted list of directories, to see what a run leaves behind
tree() { find $cg -mindepth 1 -type d | sort; }
# a value in the first object named SECTION of the JSON on stdout: json_num FILE SECTION KEY
json_num() {
  tr -d '\n' < "$1" | grep -oE "\"$2\": *\{[^}]*\}" | head -1 |
    grep -oE "\"$3\": *(-?[0-9.]+|null|true|false)" | head -1 | sed -E 's/.*: *//'
}
# a top-level key: its first occurrence (later objects, e.g. the recommendation, reuse names)
json_top() { tr -d '\n' < "$1" | grep -oE "\"$2\": *(-?[0-9.]+|null|true|false)" | head -1 | sed -E 's/.*: *//'; }
# a killed process may leave its cgroup populated for a moment after it was reaped
rmdir_retry() { i=0; until rmdir "$1" 2>/dev/null || [ $i -ge 40 ]; do usleep 50000; i=$((i + 1)); done; [ ! -d "$1" ]; }
# within PCT percent: within A B PCT (integers)
within() { [ $(($1 * 100)) -ge $(($2 * (100 - $3))) ] && [ $(($1 * 100)) -le $(($2 * (100 + $3))) ]; }
v612=0
major=$(uname -r | cut -d. -f1) minor=$(uname -r | cut -d. -f2)
{ [ "$major" -gt 6 ] || { [ "$major" = 6 ] && [ "$minor" -ge 12 ]; }; } && v612=1

headroom --version >/dev/null 2>&1 || { fail headroom-runs "headroom --version failed: $(headroom --version 2>&1)"; exit 1; }
info "$(headroom --version)"
if headroom run -- true 2>&1 | grep -q 'being built'; then
  info "headroom run is not built yet: headroom checks skipped"
  exit 0
fi

phase "1. run --limit"
# 1. run --limit 32Mi with a 100 MiB toucher: OOM kill, exit 137, said in plain words (the
# summary, stdout not being a terminal), and the same in --json
before=$(tree)
headroom run --limit 32Mi --record $out/oom.db -- toucher 100 > $out/oom.txt 2> $out/oom.err
rc=$?
info "oom: exit $rc; stdout: $(tr '\n' '|' < $out/oom.txt) stderr: $(tr '\n' '|' < $out/oom.err)"
[ $rc = 137 ] && pass hr-oom-exit "exit 137" || fail hr-oom-exit "exit $rc, want 137"
# -w: the word OOM, not the "oom" in "headroom"
grep -qiw oom $out/oom.txt $out/oom.err && pass hr-oom-said "$(grep -hiw oom $out/oom.txt $out/oom.err | head -1)" ||
  fail hr-oom-said "no OOM in the summary"
head -c 16 $out/oom.db 2>/dev/null | grep -q 'SQLite format 3' && pass hr-oom-recording ||
  fail hr-oom-recording "$out/oom.db is not an SQLite file"
headroom run --limit 32Mi --quiet --json --record $out/oom-json.db -- toucher 100 > $out/oom.json 2> $out/oom-json.err
rc=$?
info "oom --json: exit $rc; json: $(tr -d '\n' < $out/oom.json)"
[ $rc = 137 ] && pass hr-oom-json-exit "exit 137" || fail hr-oom-json-exit "exit $rc, want 137"
[ "$(json_num $out/oom.json exit oom_killed)" = true ] && pass hr-oom-json "exit.oom_killed true" ||
  fail hr-oom-json "exit.oom_killed=$(json_num $out/oom.json exit oom_killed), want true"
[ "$(json_num $out/oom.json cgroup oom_kills)" = 1 ] && pass hr-oom-kills "cgroup.oom_kills 1" ||
  fail hr-oom-kills "cgroup.oom_kills=$(json_num $out/oom.json cgroup oom_kills), want 1"
hits=$(json_num $out/oom.json cgroup limit_hits)
[ -n "$hits" ] && [ "$hits" != null ] && [ "$hits" -gt 0 ] && pass hr-oom-limit-hits "cgroup.limit_hits $hits (memory.events max)" ||
  fail hr-oom-limit-hits "cgroup.limit_hits=$hits, want > 0 after an OOM kill"
lim=$(json_top $out/oom.json limit_bytes)
[ "$lim" = 33554432 ] && pass hr-oom-limit "limit_bytes 33554432" || fail hr-oom-limit "limit_bytes=$lim, want 33554432"
[ "$(tree)" = "$before" ] && pass hr-oom-cgroup-removed ||
  fail hr-oom-cgroup-removed "left behind: $(tree | grep -vxF "$before" | tr '\n' ' ')"

phase "2. a 5 ms spike"
# 2. a 5 ms spike of +200 MiB between 1 s samples: the recorded peaks within 2 % of the true peak RSS.
# The toucher holds its base 3 s after the spike, so samples 1 s apart read it after the spike
# with 2 s to spare on a loaded host (a 1.5 s hold left 0.5 s, and an attach run once missed).
before=$(tree)
headroom run --interval 1s --quiet --json --record $out/spike.db -- \
  toucher --wait-ms 1300 --spike 200 --spike-ms 5 --hold-ms 3000 --report 16 > $out/spike.json 2> $out/spike.err
rc=$?
info "spike: exit $rc; stderr: $(tr '\n' '|' < $out/spike.err)"
# the toucher's own line goes to the same stdout as headroom's JSON; its peak_rss_bytes is
# the truth (its VmHWM at exit is not: headroom resets VmHWM every interval)
hwm=$(sed -n 's/.*toucher: peak_rss_bytes=\([0-9]*\).*/\1/p' $out/spike.json)
grep -v '^toucher:' $out/spike.json > $out/spike.only.json
info "spike: $(grep '^toucher:' $out/spike.json); json: $(tr -d '\n' < $out/spike.only.json)"
[ $rc = 0 ] && pass hr-spike-exit || fail hr-spike-exit "exit $rc, want 0"
rss=$(json_num $out/spike.only.json rss peak_bytes)
use=$(json_num $out/spike.only.json cgroup usage_peak_bytes)
[ -n "$hwm" ] && [ -n "$rss" ] && [ "$rss" != null ] && within "$rss" "$hwm" 2 &&
  pass hr-spike-rss-peak "rss.peak_bytes=$rss true peak RSS=$hwm" ||
  fail hr-spike-rss-peak "rss.peak_bytes=$rss true peak RSS=$hwm, want within 2 %"
[ -n "$hwm" ] && [ -n "$use" ] && [ "$use" != null ] && within "$use" "$hwm" 2 &&
  pass hr-spike-cgroup-peak "cgroup.usage_peak_bytes=$use true peak RSS=$hwm" ||
  fail hr-spike-cgroup-peak "cgroup.usage_peak_bytes=$use true peak RSS=$hwm, want within 2 %"
if [ $v612 = 1 ]; then
  grep -qi 'since' $out/spike.err && fail hr-peak-reset "6.12 can reset memory.peak, yet: $(grep -i since $out/spike.err)" ||
    pass hr-peak-reset "no since-start note on $(uname -r)"
else
  grep -qi 'since' $out/spike.err && pass hr-peak-since-start "$(grep -i since $out/spike.err | head -1)" ||
    fail hr-peak-since-start "6.1 cannot reset memory.peak: want a note that cgroup peaks are since-start"
fi
[ "$(tree)" = "$before" ] && pass hr-spike-cgroup-removed ||
  fail hr-spike-cgroup-removed "left behind: $(tree | grep -vxF "$before" | tr '\n' ' ')"

phase "3. page cache"
# 3. page cache (an ext2 mount on a loop device, see guest-v2-manual.sh): the working set
# (usage - inactive_file) stays below the usage peak by about the 8 MiB the command wrote
if grep -q ' /mnt ' /proc/mounts; then
  before=$(tree)
  headroom run --interval 100ms --quiet --json --record $out/cache.db -- \
    sh -c 'dd if=/dev/zero of=/mnt/hr-cache bs=1M count=8 2>/dev/null; sync; exec toucher --hold-ms 1500 16' \
    > $out/cache.json 2> $out/cache.err
  rc=$?
  rm -f /mnt/hr-cache
  info "cache: exit $rc; stderr: $(tr '\n' '|' < $out/cache.err); json: $(tr -d '\n' < $out/cache.json)"
  use=$(json_num $out/cache.json cgroup usage_peak_bytes)
  ws=$(json_num $out/cache.json cgroup working_set_peak_bytes)
  MIB=1048576
  if [ $rc = 0 ] && [ -n "$use" ] && [ -n "$ws" ] && [ "$use" != null ] && [ "$ws" != null ] &&
     [ "$use" -ge $((24 * MIB)) ] && [ "$ws" -ge $((16 * MIB)) ] && [ "$ws" -le $((use - 6 * MIB)) ]; then
    pass hr-working-set "usage_peak=$use working_set_peak=$ws"
  else
    fail hr-working-set "exit $rc usage_peak=$use working_set_peak=$ws; want usage >= 24 MiB, working set >= 16 MiB and >= 6 MiB below usage"
  fi
  [ "$(tree)" = "$before" ] && pass hr-cache-cgroup-removed ||
    fail hr-cache-cgroup-removed "left behind: $(tree | grep -vxF "$before" | tr '\n' ' ')"
fi

phase "4. headroom started"
# 4. headroom started from inside a non-root cgroup that holds processes (a login session, a
# container's main process): that cgroup cannot enable +memory for children (no internal
# processes), so headroom must find another place, and leave nothing behind
mkdir $cg/outer
before=$(tree)
sh -c "echo \$\$ > $cg/outer/cgroup.procs; exec headroom run --limit 32Mi --quiet --json -- toucher 100" \
  > $out/nested.json 2> $out/nested.err
rc=$?
info "nested: exit $rc; stderr: $(tr '\n' '|' < $out/nested.err)"
[ $rc = 137 ] && [ "$(json_num $out/nested.json cgroup oom_kills)" = 1 ] &&
  pass hr-nested-oom "exit 137, cgroup.oom_kills 1 from inside $cg/outer" ||
  fail hr-nested-oom "exit $rc, cgroup.oom_kills=$(json_num $out/nested.json cgroup oom_kills); want 137 and 1"
# the per-run cgroup and the parent headroom made to delegate from (<root>/headroom) both go
[ "$(tree)" = "$before" ] && pass hr-nested-cgroup-removed ||
  fail hr-nested-cgroup-removed "left behind: $(tree | grep -vxF "$before" | tr '\n' ' ')"
[ -d $cg/headroom ] && [ -z "$(find $cg/headroom -mindepth 1 -type d)" ] && rmdir $cg/headroom
rmdir $cg/outer

phase "5. attach --cgroup"
# 5. attach --cgroup to a v2 cgroup headroom did not make: the spike's true peak, and the
# cgroup is still there afterwards (not headroom's to remove)
# attach follows the cgroup until it is removed, --duration bounds it. attach can only know a
# peak it read: the toucher lives on 3 s after its spike and the cgroup stays 1.2 s after the
# toucher, so that samples (1 s apart) read VmHWM and memory.peak after the spike; what happens
# in a target's last partial interval before it vanishes is lost to any sampler.
mkdir $cg/svc
sh -c "echo \$\$ > $cg/svc/cgroup.procs
       exec toucher --wait-ms 1300 --spike 100 --spike-ms 5 --hold-ms 3000 --report 16" > $out/attach.toucher &
tpid=$!
usleep 200000
headroom attach --cgroup $cg/svc --interval 1s --duration 60s --quiet --json --record $out/attach.db \
  > $out/attach.json 2> $out/attach.err &
apid=$!
wait $tpid
usleep 1200000
[ -d $cg/svc ] && pass hr-attach-cgroup-kept || fail hr-attach-cgroup-kept "attach removed $cg/svc"
rmdir_retry $cg/svc
wait $apid
rc=$?
truth=$(sed -n 's/.*peak_rss_bytes=\([0-9]*\).*/\1/p' $out/attach.toucher)
info "attach: exit $rc; stderr: $(tr '\n' '|' < $out/attach.err); $(cat $out/attach.toucher); json: $(tr -d '\n' < $out/attach.json)"
use=$(json_num $out/attach.json cgroup usage_peak_bytes)
rss=$(json_num $out/attach.json rss peak_bytes)
[ $rc = 0 ] && pass hr-attach-exit "ended with the cgroup" || fail hr-attach-exit "exit $rc, want 0"
[ -n "$truth" ] && [ -n "$use" ] && [ "$use" != null ] && within "$use" "$truth" 2 &&
  pass hr-attach-cgroup-peak "cgroup.usage_peak_bytes=$use true peak RSS=$truth" ||
  fail hr-attach-cgroup-peak "cgroup.usage_peak_bytes=$use true peak RSS=$truth, want within 2 %"
[ -n "$truth" ] && [ -n "$rss" ] && [ "$rss" != null ] && within "$rss" "$truth" 2 &&
  pass hr-attach-rss-peak "rss.peak_bytes=$rss true peak RSS=$truth" ||
  fail hr-attach-rss-peak "rss.peak_bytes=$rss true peak RSS=$truth, want within 2 %"

phase "done"
echo HR-BLOB-BEGIN headroom
tar czf - -C $out . | base64
echo HR-BLOB-END
exit 0
