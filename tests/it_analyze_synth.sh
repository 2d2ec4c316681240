#!/usr/bin/env bash
# report / size / compare end to end on recordings of known shape written by the real writer
# (tests/tools/synth_recording), and on bad input: the verdicts, the sizing arithmetic, the
# resources: YAML shape, and one clear line for every error.
set -euo pipefail
: "${HEADROOM:?}" "${BUILD:?}"
SYNTH="$BUILD/tests/tools/synth_recording"
[ -x "$SYNTH" ] || { echo "no $SYNTH"; exit 77; }
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); 
for k in sys.argv[2].split("."): d = d[int(k)] if isinstance(d, list) else d[k]
print("null" if d is None else d)' "$1" "$2"; }

# --- verdicts of the known shapes ---
declare -A want=([startup]=stable [leak]=growing [frag]=stable [sawtooth]=sawtooth [spikes]=spiky [flat]=stable [load]=tracks-load)
for shape in "${!want[@]}"; do
	"$SYNTH" "$shape" "$tmp/$shape.hr"
	"$HEADROOM" report "$tmp/$shape.hr" --json >"$tmp/$shape.json"
	got=$(jget "$tmp/$shape.json" trend.verdict)
	[ "$got" = "${want[$shape]}" ] || fail "$shape: verdict $got, want ${want[$shape]}"
	"$HEADROOM" report "$tmp/$shape.hr" >"$tmp/$shape.txt"
	grep -q "^Trend: ${want[$shape]}" "$tmp/$shape.txt" || fail "$shape: text lacks the verdict"
done
# evidence in numbers, not adjectives
grep -Eq 'Mann–Kendall p = [0-9.e+-]+' "$tmp/leak.txt" || fail "leak: no p-value"
grep -Eq 'grows by \+[0-9.]+Mi over [0-9.]+s' "$tmp/leak.txt" || fail "leak: no change over the run (short runs say the change, not a rate per hour)"
grep -q 'live data is accumulating' "$tmp/leak.txt" || fail "leak: heap finding"
grep -q 'held by the allocator' "$tmp/frag.txt" || fail "frag: retention not named"
grep -q 'MALLOC_ARENA_MAX' "$tmp/frag.txt" || fail "frag: no remedy"
grep -Eq '[0-9]+ drops of at least' "$tmp/sawtooth.txt" || fail "sawtooth: no drop count"
grep -Eq '[0-9.]+x the median' "$tmp/spikes.txt" || fail "spikes: no ratio"
[ "$(jget "$tmp/startup.json" heap.available)" = False ] || fail "startup: heap should be unavailable"
[ "$(jget "$tmp/startup.json" heap.live_peak_bytes)" = null ] || fail "startup: unknown heap must be null"
# leak: 3 MiB/s = 10800 MiB/h, within 10 %
python3 - "$tmp/leak.json" <<'EOF' || fail "leak slope"
import json, sys
d = json.load(open(sys.argv[1]))
s = d["trend"]["slope_bytes_per_hour"] / 2**20
assert abs(s - 10800) < 1080, s
assert d["trend"]["p_value"] < 1e-6
EOF
# the 5 ms spikes: seen in the true peak, invisible to every dashboard
python3 - "$tmp/spikes.json" <<'EOF' || fail "spikes blind spot"
import json, sys
d = json.load(open(sys.argv[1]))
b = d["blind_spot"]
assert b["true_peak_bytes"] >= 280 * 2**20, b
seen = {iv["scrape_interval_s"]: iv for iv in b["intervals"]}
for sec in (15, 30):
    assert seen[sec]["best_bytes"] < 90 * 2**20, seen[sec]
# 59.9 s of recording is shorter than one 60 s scrape: unknown, not invented
assert seen[60]["best_bytes"] is None and seen[60]["worst_bytes"] is None, seen[60]
EOF

# --- size: YAML a kubectl dry-run would accept, JSON, arithmetic ---
"$HEADROOM" size "$tmp/startup.hr" >"$tmp/size.yaml"
python3 - "$tmp/size.yaml" "$tmp/startup.json" <<'EOF' || fail "size yaml"
import json, math, re, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
rep = json.load(open(sys.argv[2]))
assert set(doc) == {"resources"}, doc
res = doc["resources"]
assert set(res) == {"requests", "limits"}, res
q = re.compile(r"^[0-9]+Mi$")
for k in ("requests", "limits"):
    assert set(res[k]) == {"memory"}, res[k]
    assert isinstance(res[k]["memory"], str) and q.match(res[k]["memory"]), res[k]
lim = int(res["limits"]["memory"][:-2]); req = int(res["requests"]["memory"][:-2])
peak = rep["blind_spot"]["true_peak_bytes"]
assert lim == math.ceil(math.ceil(peak * 1.25) / 2**20), (lim, peak)
assert req <= lim
EOF
# every shape's YAML parses to the same shape, whatever notes and warnings ride along as comments
"$SYNTH" flat "$tmp/short.hr" --samples 30
for shape in "${!want[@]}" short; do
	"$HEADROOM" size "$tmp/$shape.hr" --replicas 2 --hpa-target 80% >"$tmp/$shape.yaml"
	python3 - "$tmp/$shape.yaml" <<'EOF' || fail "$shape: size yaml: $(cat "$tmp/$shape.yaml")"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
assert list(doc) == ["resources"] and sorted(doc["resources"]) == ["limits", "requests"], doc
EOF
done
grep -q 'too short to judge a trend' "$tmp/short.yaml" || fail "short: no too-short note"
"$HEADROOM" size "$tmp/startup.hr" "$tmp/flat.hr" --headroom 20% --format json >"$tmp/size.json"
python3 - "$tmp/size.json" <<'EOF' || fail "size json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["resources"]["limits"]["memory"].endswith("Mi")
assert abs(d["headroom"] - 0.2) < 1e-9
assert d["peak_at_startup"] is True          # the 300 MiB startup beats the 120 MiB flat run
assert d["anchors"]["vpa"]["days"] == 2
assert len(d["recordings"]) == 2
EOF
"$HEADROOM" size "$tmp/leak.hr" --format text | grep -q 'no limit is safe; it reaches' || fail "growing: no time to limit"
"$HEADROOM" size "$tmp/startup.hr" --replicas 3 | grep -q '3 pod(s) starting together' || fail "replicas"
"$HEADROOM" size "$tmp/frag.hr" --hpa-target 80% | grep -q 'scale on CPU' || fail "hpa warning"
"$HEADROOM" size "$tmp/startup.hr" --qos guaranteed --format json >"$tmp/g.json"
[ "$(jget "$tmp/g.json" resources.requests.memory)" = "$(jget "$tmp/g.json" resources.limits.memory)" ] || fail "guaranteed"

# --- compare ---
"$HEADROOM" compare "$tmp/frag.hr" "$tmp/flat.hr" >"$tmp/cmp.txt"
grep -q '^true peak' "$tmp/cmp.txt" || fail "compare rows"
grep -q 'live heap final' "$tmp/cmp.txt" || fail "compare heap row"
"$HEADROOM" compare "$tmp/frag.hr" "$tmp/flat.hr" --json >"$tmp/cmp.json"
[ "$(jget "$tmp/cmp.json" verdicts.a)" = stable ] || fail "compare json"

# --- bad input: one line, the right exit code ---
expect() { # code pattern cmd...
	local code=$1 pat=$2; shift 2
	set +e; "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?; set -e
	[ "$rc" = "$code" ] || fail "$*: exit $rc, want $code ($(cat "$tmp/err"))"
	[ "$(wc -l <"$tmp/err")" -le 1 ] || fail "$*: more than one line on stderr"
	grep -q -- "$pat" "$tmp/err" "$tmp/out" || fail "$*: no '$pat' in: $(cat "$tmp/err" "$tmp/out")"
}
expect 1 'no such file' "$HEADROOM" report "$tmp/nope.hr"
head -c 5000 /dev/urandom >"$tmp/garbage.hr"
expect 1 'not a headroom recording' "$HEADROOM" report "$tmp/garbage.hr"
head -c 4096 "$tmp/startup.hr" >"$tmp/trunc.hr"
set +e; "$HEADROOM" report "$tmp/trunc.hr" >"$tmp/out" 2>"$tmp/err"; rc=$?; set -e
{ [ $rc = 1 ] && grep -q 'corrupt\|no run information' "$tmp/err"; } || { [ $rc = 0 ] && grep -q 'headroom:' "$tmp/out"; } ||
	fail "truncated: exit $rc: $(cat "$tmp/err")"
cp "$tmp/flat.hr" "$tmp/newer.hr"
if command -v sqlite3 >/dev/null; then
	sqlite3 "$tmp/newer.hr" 'PRAGMA user_version = 99'
	expect 1 'newer headroom' "$HEADROOM" report "$tmp/newer.hr"
fi
"$SYNTH" empty "$tmp/empty.hr"
expect 0 'no memory samples' "$HEADROOM" report "$tmp/empty.hr"
expect 1 'no memory samples' "$HEADROOM" size "$tmp/empty.hr"
"$SYNTH" flat "$tmp/one.hr" --samples 1
expect 0 'too-short' "$HEADROOM" report "$tmp/one.hr"
"$SYNTH" startup "$tmp/oom.hr" --samples 8 --oom --cgroup
expect 0 'OOM KILLED' "$HEADROOM" report "$tmp/oom.hr"
grep -q 'record at least' "$tmp/out" || fail "oom: too-short does not say how much longer"
"$SYNTH" flat "$tmp/cut.hr" --unfinished
expect 0 'not finished' "$HEADROOM" report "$tmp/cut.hr"
expect 2 'outside 0%..200%' "$HEADROOM" size "$tmp/flat.hr" --headroom 300%
expect 2 'outside 0%..200%' "$HEADROOM" size "$tmp/flat.hr" --headroom -5%
expect 2 'takes a percentage' "$HEADROOM" size "$tmp/flat.hr" --headroom lots
expect 2 'no recording given' "$HEADROOM" size
expect 2 'needs two recordings' "$HEADROOM" compare "$tmp/flat.hr"
expect 2 'unknown option' "$HEADROOM" report "$tmp/flat.hr" --frobnicate
expect 2 "is not an output format (accepted: yaml, json, text, markdown)" "$HEADROOM" size "$tmp/flat.hr" --format xml
echo "ok"
