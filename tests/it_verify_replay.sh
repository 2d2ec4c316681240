#!/usr/bin/env bash
# size --verify replays the load the recording had (stages, URL, paths, cooldown), not only the
# command, and says so; --no-replay-load and recordings without load run the command alone; a
# tampered load in a recording is refused, never passed on to `headroom run`.
# ctest-labels: timing
. "$(dirname "$0")/lib.sh"
cd "$T"
SVC="$BUILD/demo-c-svc"
[ -x "$SVC" ] || { echo "skip: $SVC not built"; exit 77; }
port=$(free_port)

# 1. a recording with load: 40 connections each holding 1 MiB for 30 ms
"$HEADROOM" run --quiet --limit 512Mi --interval 50ms --record load.hr \
  --load 1s:10,2s:40 --ready 127.0.0.1:$port --path '/work?kb=1024&ms=30' --cooldown 500ms \
  -- "$SVC" --listen 127.0.0.1:$port >/dev/null
expect_eq "the load is stored for a replay" \
  "$(q load.hr "select group_concat(detail, '') from (select detail from events where kind='load_replay' order by value)")" \
  "[\"--load\",\"1000ms:10,2000ms:40\",\"--ready\",\"127.0.0.1:$port\",\"--path\",\"/work?kb=1024&ms=30\",\"--cooldown\",\"500ms\"]"
rec_peak=$(q load.hr 'select max(cg_usage_peak) from samples')

# 2. verify replays it: the service is loaded again, so its peak comes back
set +e
timeout 60 "$HEADROOM" size load.hr --format json --verify -- "$SVC" --listen 127.0.0.1:$port >v.json 2>v.err
rc=$?
set -e
expect_eq "size --verify of a loaded service ends by itself and exits 0" "$rc" 0
check "verify says it replays the recorded load" grep -q "verify: replaying the load recorded in 'load.hr': --load 1000ms:10,2000ms:40" v.err
vpeak=$(python3 -c 'import json,sys; print(json.load(open("v.json"))["verify"]["under_limit"]["peak_bytes"])')
vdur=$(python3 -c 'import json,sys; print(json.load(open("v.json"))["verify"]["under_limit"]["duration_s"])')
within "the replay's peak is the recorded one (load came back)" "$vpeak" "$rec_peak" 35
check "the replay lasted the load's 3 s and its cooldown ($vdur s)" python3 -c "import sys; sys.exit(0 if 3.0 <= $vdur < 20 else 1)"

# 3. without load in the recording, or when told, the command alone (and said)
"$HEADROOM" run --quiet --interval 50ms --record calm.hr -- "$PROGS/known_startup" 20 10 2 >/dev/null
"$HEADROOM" size calm.hr --verify -- "$PROGS/known_startup" 20 10 2 >/dev/null 2>calm.err
check "a recording without load: the command alone, said" grep -q "the recordings had no load: replaying the command alone" calm.err
"$HEADROOM" size load.hr --verify --no-replay-load -- "$PROGS/known_startup" 20 10 2 >/dev/null 2>noreplay.err
check "--no-replay-load: the command alone, said" grep -q -- "--no-replay-load: replaying the command alone" noreplay.err
set +e
"$HEADROOM" size load.hr --no-replay-load >/dev/null 2>bad.err; rc=$?
set -e
expect_eq "--no-replay-load without --verify is a usage error" "$rc" 2

# 4. a tampered load is refused (only the load options are accepted)
cp load.hr evil.hr
q evil.hr "delete from events where kind='load_replay'; insert into events(t_ns, kind, value, detail) values (0, 'load_replay', 0, '[\"--load\",\"1s:1\",\"--record\",\"/tmp/x\"]')"
"$HEADROOM" size evil.hr --verify -- "$PROGS/known_startup" 20 10 2 >/dev/null 2>evil.err
check "a recording naming another option is called malformed" grep -q "is malformed: not replayed from it" evil.err
check "... and the command runs alone" grep -q "replaying the command alone" evil.err
finish
