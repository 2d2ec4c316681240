#!/usr/bin/env bash
# A load that fails is a failed run (issue 19.2), and the load counts so that errors never
# exceed attempts: `run --load` at a path that answers 404 exits 1 with a loud line, and the
# recording says how many attempts failed. Also: --load-url without --ready waits on the URL's
# own address (the port was doubled, 19.3), and a status outside 100..599 is counted (16.13).
# ctest-labels: timing
. "$(dirname "$0")/lib.sh"
cd "$T"
TS="$PROGS/testserver"
[ -x "$TS" ] || { echo "skip: $TS not built"; exit 77; }
P=$(free_port)

# every request answers 404; --load-url alone: ready is when 127.0.0.1:$P accepts connections
t0=$(date +%s%N)
set +e
"$HEADROOM" run --quiet --no-heap --record fail.db --load 2s:4 --load-url "http://127.0.0.1:$P/404" --cooldown 0s \
  --ready-timeout 10s -- "$TS" --port $P --port-file pf >out 2>err; rc=$?
set -e
el=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "an all-404 load fails the run (exit 1)" "$rc" 1
check "with a loud line that says the load did not exercise the service" grep -q "LOAD FAILED.*did not exercise the service" err
check "ready without --ready: the run took ${el} ms, not the 10 s ready timeout" test "$el" -lt 8000
check "no doubled port in the ready event" \
  test "$(q fail.db "select detail from events where kind='ready'")" = "127.0.0.1:$P accepts connections"
detail=$(q fail.db "select detail from events where kind='load'")
attempts=$(q fail.db "select value from events where kind='load'")
errors=$(sed -n 's/.*errors \([0-9]*\) .*/\1/p' <<<"$detail")
rate=$(sed -n 's/.*error_rate \([0-9.]*\) .*/\1/p' <<<"$detail")
check "the recording has attempts ($attempts), errors ($errors) and the rate ($rate)" \
  test -n "$attempts" -a -n "$errors" -a -n "$rate" -a "${attempts:-0}" -gt 100
check "errors never exceed attempts" test "$errors" -le "$attempts"
expect_eq "every attempt was an error" "$rate" "1.000000"
expect_eq "a load_failed event for the analysis" "$(q fail.db "select count(*) from events where kind='load_failed'")" 1
expect_eq "no second has more errors than attempts" "$(q fail.db 'select count(*) from load where errors > requests')" 0

# the same failing load under a threshold the user raised to 100%: the run is judged as usual
set +e
"$HEADROOM" run --quiet --no-heap --record ok.db --load 1s:2 --load-url "http://127.0.0.1:$P/404" --cooldown 0s \
  --max-error-rate 100% -- "$TS" --port $P --port-file pf2 >out 2>err; rc=$?
set -e
expect_eq "--max-error-rate 100%: exit 0" "$rc" 0
check "and no LOAD FAILED line" test "$(grep -c 'LOAD FAILED' err)" = 0

# a service that never answers: no attempt completes, which is a failed load too
set +e
"$HEADROOM" run --quiet --no-heap --record stall.db --load 1s:2 --load-url "http://127.0.0.1:$P/stall" --cooldown 0s \
  --grace 1s -- "$TS" --port $P --port-file pf4 >out 2>err; rc=$?
set -e
expect_eq "a load nobody answers fails the run" "$rc" 1
check "and says no request was answered" grep -q "LOAD FAILED: no request was answered" err

# status 999: counted in the class 'other' and as an error, never lost
"$TS" --port $P --port-file pf3 & ts=$!
for _ in $(seq 50); do [ -s pf3 ] && break; sleep 0.1; done
set +e; "$HEADROOM" load "http://127.0.0.1:$P/999" --stages 1s:2 --json >j.json 2>err; rc=$?; set -e
kill $ts; wait $ts 2>/dev/null || true
jq_() { python3 -c "import json,sys; d=json.load(open('j.json')); print(eval('d'+sys.argv[1]))" "$1"; }
expect_eq "load of a 999 answer runs" "$rc" 0
check "999 answers are in the status class 'other' ($(jq_ "['status']['other']"))" test "$(jq_ "['status']['other']")" -gt 10
expect_eq "and every one is an error" "$(jq_ "['errors']['other']")" "$(jq_ "['requests']")"
check "errors <= attempts in load's JSON" test "$(jq_ "['errors']['total']")" -le "$(jq_ "['attempts']")"
finish
