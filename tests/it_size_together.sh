#!/usr/bin/env bash
# size FILE... on recordings that do not belong together (issue 19.7): an unfinished recording
# is warned about, a mix of bases (cgroup usage vs RSS) is refused, different commands are
# warned about, and the same recording given twice (same file, a link, or a copy) counts once.
. "$(dirname "$0")/lib.sh"
cd "$T"
SYNTH="$BUILD/tests/tools/synth_recording"
"$SYNTH" flat rss.hr --samples 600 >/dev/null
"$SYNTH" flat cg.hr --samples 600 --cgroup >/dev/null
"$SYNTH" leak other.hr --samples 600 >/dev/null
"$SYNTH" flat cut.hr --samples 600 --unfinished >/dev/null

set +e; "$HEADROOM" size cut.hr >out 2>err; rc=$?; set -e
expect_eq "an unfinished recording is still sized" "$rc" 0
check "with a warning that headroom never finished it" grep -q "never finished" err

set +e; "$HEADROOM" size rss.hr cg.hr >out 2>err; rc=$?; set -e
expect_eq "RSS and cgroup usage together are refused" "$rc" 1
check "naming both bases" grep -q "rss.*cgroup-usage\|cgroup-usage.*rss" err
check "on one line" test "$(wc -l <err)" -eq 1

set +e; "$HEADROOM" size rss.hr other.hr >out 2>err; rc=$?; set -e
expect_eq "two different commands are sized" "$rc" 0
check "with a warning that they are different commands" grep -q "different commands" err

# the same recording twice: through the same path, a hard link, and a copy of a real run
"$HEADROOM" run --quiet --no-heap --record real.db -- sleep 0.3 >/dev/null 2>&1
ln real.db link.db
cp real.db copy.db
"$HEADROOM" size real.db --format json >one.json
for other in real.db link.db copy.db; do
  set +e; "$HEADROOM" size real.db "$other" --format json >two.json 2>err; rc=$?; set -e
  expect_eq "size real.db $other runs" "$rc" 0
  check "says $other is the same recording, counted once" grep -q "same recording.*counted once" err
  check "and sizes exactly as one recording" cmp -s one.json two.json
done
finish
