#!/usr/bin/env bash
# One recording, four views, one set of numbers (issue 18.3): the report's breakdown line, explain's
# table, the HTML building section and --json "breakdown" show the same parts at the same instant.
# The recording is the fragmentation case (tests/tools/synth_recording frag: 200 MiB RSS, 10 MiB
# live heap, the rest held by the allocator) written by the real writer. Each part's bytes from
# --json are formatted the way the views format sizes and must appear, at the same instant, in
# every other view.
set -euo pipefail
: "${HEADROOM:?}" "${BUILD:?}"
SYNTH="$BUILD/tests/tools/synth_recording"
[ -x "$SYNTH" ] || { echo "no $SYNTH"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); echo "ok   - $*"; }
bad() { fails=$((fails + 1)); echo "FAIL - $*"; }

"$SYNTH" frag "$tmp/frag.hr" --cgroup >/dev/null
"$HEADROOM" report --json "$tmp/frag.hr" >"$tmp/j"
"$HEADROOM" report "$tmp/frag.hr" >"$tmp/report"
"$HEADROOM" explain "$tmp/frag.hr" >"$tmp/explain"
"$HEADROOM" report --html "$tmp/frag.html" "$tmp/frag.hr" >/dev/null
# the HTML's building section only (its figures table says other things)
python3 - "$tmp/frag.html" >"$tmp/html" <<'PY'
import re, sys, html
page = open(sys.argv[1]).read()
m = re.search(r'<section id="building">(.*?)</section>', page, re.S)
print(html.unescape(re.sub(r"<[^>]+>", " ", m.group(1))) if m else "")
PY

# "184.0Mi" as util_size_format writes it, and the instant as util_duration_format does
python3 - "$tmp/j" >"$tmp/parts" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
b = d["breakdown"]
def size(v):
    if v < 1024: return "%dB" % v
    if v < 2**20: return "%.1fKi" % (v / 1024)
    if v < 2**30: return "%.1fMi" % (v / 2**20)
    return "%.2fGi" % (v / 2**30)
for k in ("heap_bytes", "allocator_bytes", "stacks_bytes", "code_bytes", "mapped_files_bytes"):
    if b[k] is not None and b[k] > 0:
        print(k, size(b[k]))
print("at", "%.1fs" % b["at_s"])
print("held_finding", "yes" if any(f["kind"] == "allocator-retention" for f in d["findings"]) else "no")
PY
[ "$(grep -c . "$tmp/parts")" -ge 6 ] && ok "--json has the breakdown's parts" || bad "--json breakdown: $(cat "$tmp/parts")"
while read -r key val; do
	case $key in
	held_finding)
		[ "$val" = yes ] && ok "--json names allocator retention" || bad "--json lacks the retention finding"
		grep -q 'held by the allocator' "$tmp/report" && ok "report names it" || bad "report lacks it"
		grep -q 'held by the allocator' "$tmp/explain" && ok "explain names it" || bad "explain lacks it"
		grep -q 'not a leak' "$tmp/html" && ok "html says not a leak" || bad "html building lacks 'not a leak'"
		continue ;;
	esac
	for view in report explain html; do
		if grep -qF -- "$val" "$tmp/$view"; then ok "$view shows $key $val"; else bad "$view lacks $key $val"; fi
	done
done <"$tmp/parts"
# allocator-held is the same part in every view: never put under "other" by one of them
grep -E '^ *other +[0-9.]+[KMG]i' "$tmp/explain" | grep -q '184' && bad "explain puts the held memory under other" || ok "explain keeps held memory out of other"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
