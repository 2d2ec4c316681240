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
for i in 1 2 3 4; do
  delay=$(python3 -c "import random; print(round(random.uniform(0.15, 2.2), 2))")
  rm -f k$i.*
  "$HEADROOM" run --interval 10ms --record k$i.db -- ./tree.sh "$T/k$i" "$PROGS/memgrow" >/dev/null 2>&1 &
  hp=$!
  wait_for 10 test -s k$i.cmd -a -s k$i.kid || true
  sleep "$delay"
  t_kill=$(date +%s%N)
  kill -9 $hp; wait $hp 2>/dev/null || true
  cmd=$(cat k$i.cmd 2>/dev/null || echo 0); kid=$(cat k$i.kid 2>/dev/null || echo 0)
  check "kill -9 at ${delay}s: the command is gone" wait_for 5 gone "$cmd"
  check "kill -9 at ${delay}s: the process it forked is gone" wait_for 5 gone "$kid"
  check "kill -9 at ${delay}s: its cgroup is removed" wait_for 5 test ! -e "$memcg/headroom-$hp"
  seg=$(printf 'headroom-heap-%08x' $hp)
  check "kill -9 at ${delay}s: no heap segment is left" wait_for 5 bash -c "! ls /dev/shm | grep -q '^$seg'"
  set +e; "$HEADROOM" report k$i.db >k$i.rep 2>&1; rc=$?; set -e
  expect_eq "kill -9 at ${delay}s: the recording opens" "$rc" 0
  check "kill -9 at ${delay}s: the report says it was cut short" grep -q "not finished" k$i.rep
  # every sample up to about the last second: flushes every 250 ms (WAL), checkpoints every 1 s
  t0=$(q k$i.db 'select started_wall_ns from run')
  last=$(q k$i.db 'select coalesce(max(t_ns), 0) from samples')
  lag=$(( (t_kill - t0 - last) / 1000000 ))
  check "kill -9 at ${delay}s: samples up to ${lag} ms before the kill (at most 1000)" [ "$lag" -le 1000 ]
  if [ "${delay%.*}" -ge 2 ] || python3 -c "import sys; sys.exit(0 if $delay >= 1.6 else 1)"; then
    cp k$i.db alone$i.db   # the .db alone, as attached to a ticket, without -wal
    n_alone=$(q alone$i.db 'select coalesce(max(t_ns), 0) from samples')
    lag2=$(( (t_kill - t0 - n_alone) / 1000000 ))
    check "kill -9 at ${delay}s: the .db alone has samples up to ${lag2} ms before the kill (at most 1600)" [ "$lag2" -le 1600 ]
  fi
done

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
