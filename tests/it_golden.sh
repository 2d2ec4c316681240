#!/usr/bin/env bash
# Golden outputs: every view (report, report --json, explain, size, compare) of recordings of
# known shape written by the real writer, compared byte for byte with tests/golden/. Taken before
# the src/ folder move and the one-analysis refactor so that a refactor cannot change what a user
# sees by accident; a deliberate change regenerates them (GOLDEN_UPDATE=1) and the diff is reviewed
# in the commit that makes it.
set -euo pipefail
: "${HEADROOM:?}" "${BUILD:?}" "${SRC:?}"
SYNTH="$BUILD/tests/tools/synth_recording"
[ -x "$SYNTH" ] || { echo "no $SYNTH"; exit 77; }
G="$SRC/tests/golden"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
# the recording's path is the only thing that differs between two runs
render() { sed "s|$tmp/|REC/|g"; }
compare_view() {
	local name=$1; shift
	"$@" 2>&1 | render >"$tmp/$name.out" || true
	if [ "${GOLDEN_UPDATE:-0}" = 1 ]; then cp "$tmp/$name.out" "$G/$name.txt"; fi
	if diff -u "$G/$name.txt" "$tmp/$name.out" >"$tmp/$name.diff"; then
		passes=$((passes + 1)); echo "ok   - $name"
	else
		fails=$((fails + 1)); echo "FAIL - $name differs from tests/golden/$name.txt:"; head -40 "$tmp/$name.diff"
	fi
}
for shape in startup leak frag sawtooth spikes flat load go jemalloc; do
	"$SYNTH" "$shape" "$tmp/$shape.hr" --cgroup >/dev/null
	compare_view "$shape.report" "$HEADROOM" report "$tmp/$shape.hr"
	compare_view "$shape.json" "$HEADROOM" report --json "$tmp/$shape.hr"
	compare_view "$shape.explain" "$HEADROOM" explain "$tmp/$shape.hr"
	compare_view "$shape.size" "$HEADROOM" size "$tmp/$shape.hr"
done
compare_view "compare.leak-flat" "$HEADROOM" compare "$tmp/leak.hr" "$tmp/flat.hr"
# the Go and the jemalloc service: heap next to RSS from their runtimes' own figures
compare_view "compare.go-jemalloc" "$HEADROOM" compare "$tmp/go.hr" "$tmp/jemalloc.hr"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
