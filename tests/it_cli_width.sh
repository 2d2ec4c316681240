#!/usr/bin/env bash
# 80 columns (issue 19.8): the live line of run and the progress line of load repaint with \r, so
# each must stay one row narrower than the terminal, whatever it holds (limit, heap, sparkline).
# script(1) gives them a terminal; `stty cols` sets its width.
. "$(dirname "$0")/lib.sh"
cd "$T"
command -v script >/dev/null || { echo "skip: script(1) not installed"; exit 77; }
TS="$PROGS/testserver"
# widest LINES: the widest \r- or \n-separated piece of a typescript matching a pattern, escapes removed
widest() {
  python3 - "$1" "$2" <<'PY'
import re, sys
t = open(sys.argv[1], 'rb').read().decode('utf-8', 'replace')
segs = [re.sub(r'\x1b\[[0-9;]*[A-Za-z]', '', x) for x in re.split(r'[\r\n]', t)]
m = [x for x in segs if re.search(sys.argv[2], x)]
print(len(m), max([len(x) for x in m] or [0]))
PY
}
# memgrow grows for 2.4 s and holds 1.6 s: the run ends when it exits, not on a clock (issue 20.3)
for cols in 80 40; do
  rm -f live.db
  script -qfec "stty cols $cols; '$HEADROOM' run --record live.db --limit 256Mi --interval 20ms -- '$PROGS/memgrow' 48 4 200 1600" \
    live.txt >/dev/null 2>&1 || true
  read -r n w < <(widest live.txt '^ *[0-9][0-9.]*[a-z]+ +RSS ')
  check "run's live line was drawn at $cols columns ($n times)" test "$n" -gt 5
  check "and is always narrower than $cols columns (widest $w)" test "$w" -lt "$cols"
done
if [ -x "$TS" ]; then
  "$TS" --port 0 --port-file pf & ts=$!
  for _ in $(seq 50); do [ -s pf ] && break; sleep 0.1; done
  script -qfec "stty cols 60; '$HEADROOM' load http://127.0.0.1:$(cat pf)/ok --stages 3s:4" load.txt >/dev/null 2>&1 || true
  kill $ts; wait $ts 2>/dev/null || true
  read -r n w < <(widest load.txt 'req/s')
  check "load's progress line was drawn ($n times)" test "$n" -ge 1
  check "and is narrower than 60 columns (widest $w)" test "$w" -lt 60
fi
finish
