# Shared helpers for the integration tests (tests/it_*.sh). Source it; it sets -eu.
set -eu
: "${HEADROOM:?HEADROOM must point at the headroom binary}"
: "${BUILD:?BUILD must point at the build directory}"
PROGS="$BUILD/tests/progs"
T=$(mktemp -d /tmp/headroom-it.XXXXXX)
trap 'rm -rf "$T"' EXIT
FAILS=0
PASSES=0

ok()   { PASSES=$((PASSES + 1)); echo "ok   - $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL - $*"; }
# check DESCRIPTION COMMAND...: passes when the command succeeds
check() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }
# expect_eq DESCRIPTION GOT WANT
expect_eq() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: got '$2', want '$3'"; fi; }
# within DESCRIPTION GOT WANT PCT: |got-want| <= pct% of want
within() {
  if python3 -c "import sys; g,w,p=float(sys.argv[1]),float(sys.argv[2]),float(sys.argv[3]); sys.exit(0 if abs(g-w)<=w*p/100 else 1)" "$2" "$3" "$4"
  then ok "$1 ($2 vs $3, within $4%)"; else fail "$1: $2 is not within $4% of $3"; fi
}
# eventually SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds; fails after SECONDS.
# For what the program will do (a rescan, a scrape) where a loaded machine decides when: the
# bound is for a program that never does it, not a measure of how fast it is.
eventually() {
  local end=$(( $(date +%s) + $1 )); shift
  until "$@"; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.1; done
}
q() { sqlite3 "$1" "$2"; }
# A TCP port free on every address now, outside the kernel's ephemeral range (free_port.py says
# why): tests never take fixed ports that another run on a shared machine may hold
free_port() { python3 "$(dirname "${BASH_SOURCE[0]}")/free_port.py"; }
own_memcg() { echo "/sys/fs/cgroup/memory$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/self/cgroup)"; }
finish() {
  echo "$PASSES passed, $FAILS failed"
  [ "$FAILS" -eq 0 ]
}
