#!/usr/bin/env bash
# headroom run and attach against real processes under a real cgroup v1 memory controller.
. "$(dirname "$0")/lib.sh"
cd "$T"

# 1. OOM kill under --limit: exit 137, said in plain words, recording intact, cgroup gone.
set +e
out=$("$HEADROOM" run --limit 64Mi --record oom.db -- "$PROGS/memgrow" 300 8 5 0 2>&1)
rc=$?
set -e
expect_eq "OOM kill exits 137 like the kernel's kill" "$rc" 137
check "OOM kill is said in plain words" grep -q "OOM KILLED" <<<"$out"
expect_eq "recording readable by sqlite3: oom_killed" "$(q oom.db 'select oom_killed, exit_signal, finished from run')" "1|9|1"
expect_eq "oom_kill event recorded" "$(q oom.db "select count(*) from events where kind='oom_kill'")" 1
peak=$(q oom.db 'select max(cg_usage_peak) from samples')
within "cgroup peak reached the 64Mi limit" "$peak" 67108864 2
cg=$(q oom.db 'select cgroup_path from run')
check "the cgroup was removed afterwards" test ! -e "$cg"

# 2. A 5 ms spike of +400 MiB between 1 s samples is recorded at its true height.
"$HEADROOM" run --quiet --interval 1s --record spike.db -- "$PROGS/memspike" 20 400 5 1300 2 > spike.out
true_kb=$(awk '/peak_kb/ {print $2}' spike.out)
rec_peak=$(q spike.db 'select max(rss_peak) from samples')
within "5 ms spike at 1 s interval: true peak within 2%" "$rec_peak" $((true_kb * 1024)) 2
nsamples=$(q spike.db 'select count(*) from samples')
maxn=$(q spike.db 'select cast(duration_ns / 1e9 as int) + 3 from run')
check "sampled at 1 s, not faster ($nsamples samples, at most $maxn)" test "$nsamples" -le "$maxn"
cpeak=$(q spike.db 'select max(cg_usage_peak) from samples')
within "the cgroup's interval peak saw it too" "$cpeak" $((true_kb * 1024)) 5

# 3. Exit status like time(1); command not found 127; usage errors 2 with one line.
set +e
"$HEADROOM" run --quiet --record e3.db -- sh -c 'exit 3'; expect_eq "exit status passed through" $? 3
"$HEADROOM" run --quiet --record e4.db -- sh -c 'kill -TERM $$'; expect_eq "killed by a signal: 128+signal" $? 143
err=$("$HEADROOM" run --quiet -- /no/such/program 2>&1); rc=$?
set -e
expect_eq "command not found exits 127" "$rc" 127
check "command not found is named" grep -q "command not found: '/no/such/program'" <<<"$err"
check "no recording left for a command that never ran" test -z "$(ls headroom-such* 2>/dev/null)"
usage() { # usage DESCRIPTION EXPECTED_TEXT ARGS...
  local d=$1 want=$2; shift 2
  set +e; local e; e=$("$HEADROOM" "$@" 2>&1); local rc=$?; set -e
  if [ "$rc" -eq 2 ] && [ "$(wc -l <<<"$e")" -eq 1 ] && grep -q -- "$want" <<<"$e"; then ok "$d"; else fail "$d: rc=$rc '$e'"; fi
}
usage "--limit 512MB says to use Mi or M" "use 512Mi" run --limit 512MB -- true
usage "--limit 0 is refused" "above zero" run --limit 0 -- true
usage "--interval 0 is refused" "above zero" run --interval 0 -- true
usage "--interval without a unit is refused" "accepted" run --interval 10 -- true
usage "run without a command" "needs a command" run --limit 64Mi
usage "attach without a target" "exactly one of" attach
usage "attach --pid that is not a number" "not a process id" attach --pid abc
touch exists.db
set +e; e=$("$HEADROOM" run --quiet --record exists.db -- true 2>&1); rc=$?; set -e
expect_eq "an existing --record is never overwritten" "$rc" 1
check "and the message says so" grep -q "never overwrites" <<<"$e"
check "the existing file is untouched" test ! -s exists.db
set +e; e=$("$HEADROOM" run --quiet --record /nonexistent-dir/x.db -- true 2>&1); rc=$?; set -e
expect_eq "an unwritable --record fails" "$rc" 1

# 4. attach --pid follows a running process tree until it exits.
"$PROGS/memgrow" 48 8 50 1500 &
pid=$!
# attach to the program, not to the shell that forked it and has not exec'd it yet
for _ in $(seq 200); do [ "$(readlink /proc/$pid/exe 2>/dev/null)" = "$PROGS/memgrow" ] && break; sleep 0.01; done
"$HEADROOM" attach --pid "$pid" --interval 50ms --record attach.db --quiet
wait "$pid" || true
apeak=$(q attach.db 'select max(rss_peak) from samples')
check "attach saw the 48 MiB the process touched ($apeak)" test "$apeak" -gt $((48 << 20))
expect_eq "attach recorded the end of the tree" "$(q attach.db "select count(*) from events where kind='exit'")" 1
# the recording names the process by its own command line, and no startup is made up for a
# process that started before the recording
expect_eq "attach recorded the process's command line" "$(q attach.db 'select command from run')" \
	"[\"$PROGS/memgrow\",\"48\",\"8\",\"50\",\"1500\"]"
"$HEADROOM" report --json attach.db >attach.json
expect_eq "attach: the startup is not observed" \
	"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["memory"]["startup_from"])' attach.json)" attached
check "attach: the report says the startup was not observed" grep -q "not observed: attached" <("$HEADROOM" report attach.db)
set +e; e=$("$HEADROOM" attach --pid 999999 --quiet 2>&1); rc=$?; set -e
expect_eq "attach to a pid that does not exist fails" "$rc" 1
check "and says which pid" grep -q "no process with pid 999999" <<<"$e"
set +e; e=$("$HEADROOM" attach --cgroup /tmp --quiet 2>&1); rc=$?; set -e
expect_eq "attach to a path that is not a cgroup fails" "$rc" 1
check "and says it is not a memory cgroup" grep -q "not a memory cgroup" <<<"$e"

# 5. attach --cgroup follows a container-like cgroup made by hand, with a forking workload.
parent=$(own_memcg)
cgdir="$parent/it-attach-$$"
mkdir "$cgdir"
# The workload's own signals pace it, not the clock (issue 20.3): it waits in the cgroup until
# attach has written its recording, and attach is stopped (SIGINT) once the workload has exited.
rm -f in-cg go
( echo $BASHPID > "$cgdir/cgroup.procs"; : > in-cg
  for _ in $(seq 300); do [ -e go ] && break; sleep 0.05; done
  exec sh -c "\"$PROGS/memgrow\" 32 8 20 1200 & \"$PROGS/memgrow\" 16 8 20 1200 & wait" ) &
wl=$!
for _ in $(seq 300); do [ -e in-cg ] && break; sleep 0.05; done
"$HEADROOM" attach --cgroup "$cgdir" --duration 60s --interval 50ms --record cg.db --quiet &
at=$!
for _ in $(seq 300); do [ -s cg.db ] && break; sleep 0.05; done
: > go
wait "$wl" || true
kill -INT "$at" 2>/dev/null || true
wait "$at" || true
rmdir "$cgdir" 2>/dev/null || true
cgpeak=$(q cg.db 'select max(cg_usage_peak) from samples')
check "attach --cgroup saw both workers' 48 MiB ($cgpeak)" test "$cgpeak" -gt $((46 << 20))
nprocs=$(q cg.db 'select max(nprocs) from samples')
check "the tree is counted whole ($nprocs processes)" test "$nprocs" -ge 3
expect_eq "cgroup version recorded" "$(q cg.db 'select cgroup_version from run')" 1

# 6. --duration stops a service (SIGTERM), exit 0, recording finished; Ctrl-C of headroom is forwarded.
"$HEADROOM" run --quiet --duration 500ms --record dur.db -- sleep 30; rc=$?
expect_eq "--duration stop exits 0" "$rc" 0
expect_eq "--duration: the recording is finished" "$(q dur.db 'select finished, exit_signal from run')" "1|15"
# samples_at_least DB N: waits (30 s at most) until the recording DB holds N samples. The file
# is read only once headroom made it: sqlite3 creates a missing database, which headroom then
# refuses to overwrite.
samples_at_least() {
  local n=0
  for _ in $(seq 600); do
    [ -s "$1" ] && n=$(q "$1" 'select count(*) from samples' 2>/dev/null || echo 0)
    [ "${n:-0}" -ge "$2" ] && return 0
    sleep 0.05
  done
  return 1
}
"$HEADROOM" run --quiet --record int.db -- sleep 30 &
hp=$!
# a background job starts with SIGINT ignored, and headroom takes it back (blocked, for its
# signalfd) only after its cgroup and guard, just before it creates the recording: a SIGINT sent
# before is lost. So the signal goes once the recording holds a sample (the command runs by then).
samples_at_least int.db 1 || true
kill -INT "$hp"
set +e; wait "$hp"; rc=$?; set -e
expect_eq "SIGINT to headroom reaches the command (128+2)" "$rc" 130
cgi=$(q int.db 'select cgroup_path from run')
check "the cgroup is removed after Ctrl-C" test ! -e "$cgi"

# 7. SIGKILL of headroom loses at most the last flush: the recording still reads. headroom is
# killed once its recording holds 100 samples (its own output, not a fixed 1.5 s: a starved
# machine may not have written one by then), and every sample written before survives.
"$HEADROOM" run --quiet --interval 10ms --record killed.db -- sleep 60 &
hp=$!
samples_at_least killed.db 100 || true
before=$(q killed.db 'select count(*) from samples' 2>/dev/null || echo 0)
child=$(pgrep -P "$hp" -x sleep || true)
kill -KILL "$hp"
wait "$hp" 2>/dev/null || true
[ -n "$child" ] && kill "$child" 2>/dev/null || true
n=$(q killed.db 'select count(*) from samples')
check "headroom had written 100 samples before the kill ($before)" test "${before:-0}" -ge 100
check "after SIGKILL of headroom, the $before samples written survive ($n)" test "$n" -ge "${before:-0}"

finish
