#!/usr/bin/env bash
# The command line a newcomer meets (issues 19.3, 19.4, 19.10, 16.13): every subcommand's --help
# exits 0 and describes every option it accepts with what it does; usage errors are one line
# that names the command's help; bad values are refused before anything starts; quantities are
# Kubernetes'; a missing value never prints a control byte.
. "$(dirname "$0")/lib.sh"
cd "$T"

# usage DESC PATTERN ARGS...: exit 2, exactly one line on stderr matching PATTERN, nothing started
usage() {
  local d=$1 want=$2; shift 2
  set +e; "$HEADROOM" "$@" >out 2>err; local rc=$?; set -e
  local e; e=$(cat err)
  if [ "$rc" -eq 2 ] && [ "$(wc -l <err)" -eq 1 ] && grep -q -- "$want" err; then ok "$d"; else fail "$d: rc=$rc '$e'"; fi
}

# 19.4: --help for each subcommand, exit 0, on stdout, every option the parser takes is described
for cmd in run attach report size compare explain load export; do
  set +e; "$HEADROOM" $cmd --help >help.txt 2>help.err; rc=$?; set -e
  expect_eq "$cmd --help exits 0" "$rc" 0
  check "$cmd --help prints nothing on stderr" test ! -s help.err
  check "$cmd --help starts with its usage" grep -q "^usage: headroom $cmd" help.txt
  check "$cmd --help fits 80 columns" test "$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' help.txt)" -le 80
  # each option line "  --name ..." has a description after it (on the same line)
  bare=$(grep -E '^  --[a-z-]+( [A-Z]+)?$' help.txt || true)
  expect_eq "$cmd --help describes every option it lists" "$bare" ""
  # every listed option is one the parser accepts: feeding it must not be "unknown option"
  for o in $(grep -oE '^  --[a-z-]+' help.txt | sed 's/^  //'); do
    [ "$o" = --help ] && continue
    set +e; timeout 5 "$HEADROOM" $cmd "$o" >/dev/null 2>opt.err </dev/null; set -e
    if grep -q "unknown option" opt.err; then fail "$cmd --help lists $o, which the parser refuses"; fi
  done
done
"$HEADROOM" help --options > table.tsv
for cmd in run attach report size compare explain load export; do
  expect_eq "help --options lists the options of $cmd --help" \
    "$(awk -F'\t' -v c=$cmd '$1 == c {print $2}' table.tsv | sort | tr '\n' ' ')" \
    "$("$HEADROOM" $cmd --help | grep -oE '^  --[a-z-]+' | sed 's/^  //' | sort | tr '\n' ' ')"
done
check "help --options has five tab-separated fields a line" test "$(awk -F'\t' 'NF != 5' table.tsv | wc -l)" = 0
check "run --help states the default of --interval" grep -qE -- '--interval DUR .*default: 100ms' <("$HEADROOM" run --help | tr '\n' ' ' | sed 's/  */ /g')
check "size --help says --headroom is a percentage" grep -q -- '--headroom PCT.*percentage' <("$HEADROOM" size --help | tr '\n' ' ' | sed 's/  */ /g')
check "headroom help run = run --help" cmp -s <("$HEADROOM" help run) <("$HEADROOM" run --help)

# 19.4: an unknown command is one line, not the whole usage
usage "headroom bogus: one line" "unknown command 'bogus' (see 'headroom --help')" bogus
usage "an unknown option names the command's help" "see 'headroom report --help'" report --frobnicate x.db
usage "explain --bogus" "unknown option '--bogus'" explain --bogus
usage "an ambiguous prefix names the candidates" "ambiguous option '--lo' (--load, --load-url)" run --lo steady -- true
usage "a flag given a value" "--json takes no value" report --json=yes x.db

# 16.13: a missing value: one line naming the option, no NUL or BEL (a long option's id as %c)
for args in "run --limit" "run --ready" "run --interval" "attach --pid" "load --stages" "export --listen" \
            "size --headroom" "report --html" "compare --html"; do
  set +e; "$HEADROOM" $args >out 2>err; rc=$?; set -e
  opt=${args#* }
  if [ "$rc" -eq 2 ] && [ "$(wc -l <err)" -eq 1 ] && grep -q -- "$opt needs a value" err && \
     ! LC_ALL=C grep -q '[[:cntrl:]]' <(tr -d '\n' <err); then ok "$args: a clean one-line error"
  else fail "$args: rc=$rc $(od -c err | head -3)"; fi
done
usage "a control byte in an unknown option is shown escaped" '\\\(e\|x1b\)\[2J' run $'--\e[2Jx' -- true
check "and never reaches the terminal raw" test "$(LC_ALL=C grep -c $'\e' err)" = 0

# 19.3: every option checked before anything starts
usage "--connections with stages (ignored before)" "connections scales a --load profile" \
  run --load 2s:8 --connections 4 --ready :22001 -- true
usage "--html into a directory that does not exist" "does not exist" run --html /nonexistent/x.html -- true
usage "--ready that is not an address" "not an address" run --ready 127.0.0.1:99999 -- true
usage "--ready-timeout without --ready" "goes with --ready" run --ready-timeout 5s -- true
usage "--cooldown without --load" "go with --load" run --cooldown 1s -- true
usage "--max-error-rate without --load" "go with --load" run --max-error-rate 5 -- true
usage "--max-error-rate above 100%" "percentage from 0 to 100" run --load 1s:1 --ready :22001 --max-error-rate 150 -- true
usage "--path with --load-url" "put the path in the URL" run --load 1s:1 --load-url http://127.0.0.1:22001/ --path /x -- true
check "nothing was started or written by the refusals" test -z "$(ls "$T" | grep -v -e '^out$' -e '^err$' -e '^help' -e '^opt.err$' -e '^table.tsv$')"
# 16.13: --rate inf, export --interval below its floor
usage "run --rate inf" "not a request rate" run --load 1s:1 --ready :22001 --rate inf -- true
usage "load --rate inf" "--rate 'inf'" load http://127.0.0.1:22001/ --stages 1s:1 --rate inf
usage "export --interval 1ns" "shortest export interval" export --pid $$ --interval 1ns

# 19.10: Kubernetes quantities: 1e9 and 500k are sizes, 500000K is not (Kubernetes has no K)
usage "--limit 500000K is refused" "write 500000k" run --limit 500000K -- true
set +e; "$HEADROOM" run --quiet --no-heap --record q.db --limit 1e9 -- true 2>err; rc=$?; set -e
expect_eq "--limit 1e9 is accepted" "$rc" 0
expect_eq "and means 10^9 bytes" "$(q q.db 'select limit_bytes from run')" 1000000000

# 19.10: --listen :PORT prints the address it really binds and says it is not loopback
P=$(free_port)
set +e; "$HEADROOM" export --pid $$ --listen :$P --duration 300ms >out 2>err; rc=$?; set -e
expect_eq "export --listen :$P runs" "$rc" 0
check "prints the real address, not http://:$P" grep -q "http://0.0.0.0:$P/metrics" err
check "and warns that it is not loopback" grep -q "not loopback" err
set +e; "$HEADROOM" export --pid $$ --listen 127.0.0.1:$(free_port) --duration 300ms >out 2>err; set -e
check "a loopback --listen gives no warning" test "$(grep -c 'not loopback' err)" = 0
# 16.13: a command line longer than the run row's 4 KiB stays valid JSON, the arguments that fit whole
set +e; "$HEADROOM" run --quiet --no-heap --record long.db -- sh -c 'exit 3' $(seq -f 'argument-%g' 1 1500) 2>err; rc=$?; set -e
expect_eq "a 20 KiB command line runs (its own exit status)" "$rc" 3
check "and is recorded as valid JSON that says what was left out" python3 -c "
import json, sys
d = json.loads(sys.argv[1])
sys.exit(0 if d[:4] == ['sh', '-c', 'exit 3', 'argument-1'] and d[-1].endswith('more arguments not recorded)') else 1)" \
  "$(q long.db 'select command from run')"
# 19.10: the command is echoed with shell quoting
check "the report echoes it quoted: sh -c 'exit 3'" grep -q "^headroom: sh -c 'exit 3' argument-1 " <("$HEADROOM" report long.db)
finish
