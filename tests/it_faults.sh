#!/usr/bin/env bash
# One fault per promise of issue 16, against the real binary, real cgroups and a real small disk:
#   disk full while recording (a 128 KiB tmpfs): said at once, the run goes on, its report is
#     printed, the exit status says it, and every later view says the file is incomplete;
#   SIGKILL of headroom at random instants: nothing it started keeps running (the command, the
#     process it forked, the cgroup, the heap segments) and the recording opens with its samples
#     up to about the last second, even as the .db file alone;
#   a daemonizing command (double fork, new session) is followed through its cgroup;
#   the target OOM-killed: 137, said, and nothing left behind.
# Waits poll for the program's own signs (a line on stderr, a pid gone), never a fixed sleep.
. "$(dirname "$0")/lib.sh"
cd "$T"
[ "$(id -u)" = 0 ] || { echo "needs root (tmpfs mount, cgroups)"; exit 77; }
memcg=$(own_memcg)

# wait_for SECONDS COMMAND...: poll every 20 ms until the command succeeds
wait_for() {
  local end=$(( $(date +%s%N) + $1 * 1000000000 )); shift
  until "$@"; do [ "$(date +%s%N)" -lt "$end" ] || return 1; sleep 0.02; done
}

# --- disk full -------------------------------------------------------------------------------
mkdir full
if mount -t tmpfs -o size=128k tmpfs full 2>/dev/null; then
  trap 'umount "$T/full" 2>/dev/null || true; rm -rf "$T"' EXIT
  "$HEADROOM" run --no-heap --interval 5ms --record full/r.db -- "$PROGS/memgrow" 48 4 250 1500 \
    >full.out 2>full.err &
  hp=$!
  if wait_for 20 grep -q "cannot write the recording" full.err; then
    if kill -0 $hp 2>/dev/null; then ok "disk full is said while the run goes on"; else fail "disk full said only at the end"; fi
  else
    fail "disk full was never said"
  fi
  set +e; wait $hp; rc=$?; set -e
  check "the exit status says the recording failed (exit $rc)" [ "$rc" -ne 0 ]
  check "the run's report is still printed" grep -q "true peak" full.out
  check "the run's report says the file is incomplete" grep -q "recording file is incomplete" full.out
  mem_n=$(sed -n 's/.* · \([0-9]*\) samples.*/\1/p' full.out | head -1)
  file_n=$(q full/r.db 'select count(*) from samples')
  check "the run's report covers more than the file ($mem_n > $file_n samples)" [ "${mem_n:-0}" -gt "$file_n" ]
  expect_eq "the file is not marked finished" "$(q full/r.db 'select finished from run')" 0
  "$HEADROOM" report full/r.db >later.out 2>&1 || true
  check "a later report says the file is incomplete" grep -q "incomplete\|not finished" later.out
  "$HEADROOM" report full/r.db --json >later.json 2>/dev/null || true
  # the write_failed marker is in the file only when the full disk still took those few bytes
  marker=$(q full/r.db "select count(*) from events where kind = 'write_failed'")
  check "a later JSON report says the file is not finished, and where it stops when the file knows ($marker)" \
    python3 -c "import json,sys; d=json.load(open('later.json')); sys.exit(0 if d['finished'] is False and ('recording_written_until_s' in d) == ($marker > 0) else 1)"
  later_n=$(sed -n 's/.* · \([0-9]*\) samples.*/\1/p' later.out | head -1)
  expect_eq "a later report counts only the samples in the file" "$later_n" "$file_n"
  umount full
else
  echo "# cannot mount a tmpfs here: disk-full case skipped"
fi

# --- SIGKILL of headroom at random instants -------------------------------------------------
cat >tree.sh <<'SH'
#!/bin/sh
# the command and a process it forked, both writing their pids, both long-lived
sleep 120 &
echo $! >"$1.kid"
echo $$ >"$1.cmd"
exec "$2" 64 4 100 60000
SH
chmod +x tree.sh
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' /proc/$1/stat 2>/dev/null)" = Z ]; }
# The recording's own signs of progress, read live as any other reader would: its last sample
# (file + WAL), and its last sample in the .db file alone (what the checkpoints put there).
live_t() { q "$1" 'select coalesce(max(t_ns), 0) from samples' 2>/dev/null || echo 0; }
alone_t() {  # a copy of the .db alone, as attached to a ticket; a copy torn by a checkpoint reads 0
  cp "$1" "$1.alone" 2>/dev/null && q "$1.alone" 'select coalesce(max(t_ns), 0) from samples' 2>/dev/null || echo 0
  rm -f "$1.alone"
}
lags=""
for i in 1 2 3 4; do
  delay=$(python3 -c "import random; print(round(random.uniform(0, 1.2), 2))")
  rm -f k$i.*
  "$HEADROOM" run --interval 10ms --record k$i.db -- ./tree.sh "$T/k$i" "$PROGS/memgrow" >/dev/null 2>&1 &
  hp=$!
  wait_for 20 test -s k$i.cmd -a -s k$i.kid || true
  # wait until the writer has committed and a checkpoint has reached the .db file alone (no
  # clock bound: on a starved machine this takes longer, it does not fail), then a random instant
  check "kill -9 #$i: samples reach the .db file itself while recording" \
    wait_for 30 bash -c "[ \$( (cp k$i.db k$i.a && sqlite3 k$i.a 'select count(*) from samples') 2>/dev/null || echo 0) -gt 0 ]"
  rm -f k$i.a
  sleep "$delay"
  seen=$(live_t k$i.db); seen_alone=$(alone_t k$i.db)
  t_kill=$(date +%s%N)
  kill -9 $hp; wait $hp 2>/dev/null || true
  # the .db alone, copied before anything opens it (SQLite's last reader folds the WAL in on close)
  cp k$i.db k$i.alone.db
  cmd=$(cat k$i.cmd 2>/dev/null || echo 0); kid=$(cat k$i.kid 2>/dev/null || echo 0)
  check "kill -9 #$i (+${delay}s): the command is gone" wait_for 5 gone "$cmd"
  check "kill -9 #$i: the process it forked is gone" wait_for 5 gone "$kid"
  check "kill -9 #$i: its cgroup is removed" wait_for 5 test ! -e "$memcg/headroom-$hp"
  seg=$(printf 'headroom-heap-%08x' $hp)
  check "kill -9 #$i: no heap segment is left" wait_for 5 bash -c "! ls /dev/shm | grep -q '^$seg'"
  set +e; "$HEADROOM" report k$i.db >k$i.rep 2>&1; rc=$?; set -e
  expect_eq "kill -9 #$i: the recording opens" "$rc" 0
  check "kill -9 #$i: the report says it was cut short" grep -q "not finished" k$i.rep
  after=$(live_t k$i.db)
  check "kill -9 #$i: every sample seen before the kill is still there ($after >= $seen ns)" [ "$after" -ge "$seen" ]
  after_alone=$(q k$i.alone.db 'select coalesce(max(t_ns), 0) from samples')
  check "kill -9 #$i: the .db alone keeps what its checkpoints held ($after_alone >= $seen_alone ns)" \
    [ "$after_alone" -ge "$seen_alone" ]
  # for the record, not a threshold: how far before the kill the last sample in the file was
  t0=$(q k$i.db 'select started_wall_ns from run')
  lags="$lags $(( (t_kill - t0 - after) / 1000000 ))/$(( (t_kill - t0 - after_alone) / 1000000 ))"
done
echo "# last sample before the kill, ms (file+WAL / .db alone):$lags"

# --- headroom and its guard both killed: the next run cleans up ------------------------------
# Every `headroom run` first kills what is left in the cgroups of its parent's dead runs, and
# other tests run theirs beside this one in the same parent: once this headroom is reaped, any of
# them may clean up after it before the check below looks. So headroom runs under a holder that
# does not reap it until told (SIGUSR1; 120 s at most): killed, it stays a zombie, dead (its
# PDEATHSIG fired, its guard pipe closed) but its pid and name still taken, so no run takes its
# cgroup for a dead run's until the holder reaps it, after the check.
rm -f g.*
python3 -c '
import signal, subprocess, sys
p = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
open(sys.argv[1], "w").write(str(p.pid))
signal.sigtimedwait({signal.SIGUSR1}, 120)
p.wait()
' g.hp "$HEADROOM" run --interval 10ms --record g.db -- ./tree.sh "$T/g" "$PROGS/memgrow" &
holder=$!
wait_for 20 test -s g.hp
hp=$(cat g.hp)
wait_for 10 test -s g.cmd -a -s g.kid || true
guard=$(cat /proc/$hp/task/*/children 2>/dev/null | tr ' ' '\n' | while read -r p; do
  [ -n "$p" ] && [ "$(cat /proc/$p/comm 2>/dev/null)" = headroom-guard ] && echo "$p"; done | head -1)
check "the guard process runs beside headroom" [ -n "$guard" ]
seg=$(printf 'headroom-heap-%08x' $hp)
wait_for 5 bash -c "ls /dev/shm | grep -q '^$seg'" || true
kill -9 ${guard:-} $hp
zombie() { [ "$(awk '{print $3}' /proc/$1/stat 2>/dev/null)" = Z ]; }
check "headroom is dead, not yet reaped" wait_for 5 zombie "$hp"
cmd=$(cat g.cmd); kid=$(cat g.kid)
check "the command itself died with headroom (PR_SET_PDEATHSIG)" wait_for 5 gone "$cmd"
alive() { ! gone "$1"; }
check "with the guard killed too, the process it forked outlives headroom (until the next run)" alive "$kid"
kill -USR1 "$holder"; wait "$holder" || true
"$HEADROOM" run --quiet --record next.db -- true
check "the next run kills what the crashed run left running" wait_for 5 gone "$kid"
check "the next run removes the crashed run's cgroup" wait_for 5 test ! -e "$memcg/headroom-$hp"
check "the next run removes the crashed run's heap segments" bash -c "! ls /dev/shm | grep -q '^$seg'"

# --- a daemonizing command is followed through its cgroup -----------------------------------
cat >daemon.sh <<'SH'
#!/bin/sh
setsid "$1" 32 32 0 1200 </dev/null >/dev/null 2>&1 &
exit 0
SH
chmod +x daemon.sh
set +e
"$HEADROOM" run --no-heap --interval 20ms --record d.db -- ./daemon.sh "$PROGS/memgrow" >d.out 2>d.err; rc=$?
set -e
expect_eq "daemon: exit status is the command's" "$rc" 0
check "daemon: headroom says it follows what the command left" grep -q "left 1 process running in its cgroup" d.err
peak=$(q d.db 'select coalesce(max(rss_peak), 0) from samples')
check "daemon: its 32 MiB is measured after the command exited (peak $peak)" [ "$peak" -ge $((32 * 1024 * 1024)) ]
dur=$(q d.db 'select duration_ns / 1000000 from run')
check "daemon: the run lasts until the daemon ends (${dur} ms >= 1200)" [ "$dur" -ge 1200 ]

# --- the target OOM-killed -------------------------------------------------------------------
set +e
"$HEADROOM" run --limit 32Mi --interval 20ms --record oom.db -- "$PROGS/memgrow" 200 8 5 0 >oom.out 2>&1; rc=$?
set -e
expect_eq "OOM: exit 137" "$rc" 137
check "OOM: said in plain words" grep -q "OOM KILLED" oom.out
check "OOM: the cgroup is removed" test ! -e "$(q oom.db 'select cgroup_path from run')"
finish
