#!/usr/bin/env bash
# The --json contract: real output of run, report, size and compare validated against the JSON
# Schemas in docs/schema/ (Debian's python3-jsonschema). Recordings: a real run of a program, and
# the synthetic shapes written by the real writer (heap, load, cgroup, OOM, an empty recording).
set -euo pipefail
: "${HEADROOM:?}" "${BUILD:?}" "${SRC:?}"
SYNTH="$BUILD/tests/tools/synth_recording"
PY=/usr/bin/python3
$PY -c 'import jsonschema' 2>/dev/null || { echo "python3-jsonschema missing (scripts/install-deps.sh installs it)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
validate() { # NAME SCHEMA FILE
	if $PY - "$SRC/docs/schema" "$2" "$3" >"$tmp/why" 2>&1 <<'PY'
import json, sys, os
from jsonschema import Draft202012Validator, RefResolver
d, name, path = sys.argv[1:4]
store = {}
for f in os.listdir(d):
    s = json.load(open(os.path.join(d, f)))
    store[s["$id"]] = s
schema = store["urn:headroom:schema:" + name.split(".")[0]]
v = Draft202012Validator(schema, resolver=RefResolver.from_schema(schema, store=store))
errs = sorted(v.iter_errors(json.load(open(path))), key=lambda e: list(e.path))
for e in errs[:5]:
    print("/".join(map(str, e.path)), ":", e.message[:200])
sys.exit(1 if errs else 0)
PY
	then passes=$((passes + 1)); echo "ok   - $1 valid against $2"; return 0
	else fails=$((fails + 1)); echo "FAIL - $1 against $2:"; cat "$tmp/why"; return 1; fi
}
# a real run: --json on stdout (the program itself prints nothing there)
"$HEADROOM" run --json --interval 50ms --record "$tmp/run.db" -- "$BUILD/tests/progs/known_startup" >"$tmp/run.json" 2>/dev/null || true
validate "run --json" report.schema.json "$tmp/run.json"
"$HEADROOM" report --json "$tmp/run.db" >"$tmp/run-report.json"
validate "report --json of the run" report.schema.json "$tmp/run-report.json"
# sites mode: the "sites" object with its lists (a leak, so that there are suspects too)
"$HEADROOM" run --heap sites --json --out "$tmp/sites.json" --record "$tmp/sites.db" -- "$BUILD/tests/progs/sites_leak" 6 >/dev/null 2>&1 || true
validate "run --heap sites --json" report.schema.json "$tmp/sites.json"
for shape in startup leak frag sawtooth spikes flat load; do
	"$SYNTH" "$shape" "$tmp/$shape.hr" --cgroup >/dev/null
	"$HEADROOM" report --json "$tmp/$shape.hr" >"$tmp/$shape.json"
	validate "report --json $shape" report.schema.json "$tmp/$shape.json"
done
"$SYNTH" flat "$tmp/oom.hr" --cgroup --oom >/dev/null
"$HEADROOM" report --json "$tmp/oom.hr" >"$tmp/oom.json"
validate "report --json of an OOM kill" report.schema.json "$tmp/oom.json"
"$SYNTH" empty "$tmp/empty.hr" >/dev/null
"$HEADROOM" report --json "$tmp/empty.hr" >"$tmp/empty.json" || true
validate "report --json of an empty recording" report.schema.json "$tmp/empty.json"
"$HEADROOM" size --format json "$tmp/leak.hr" "$tmp/load.hr" >"$tmp/size.json"
validate "size --format json" size.schema.json "$tmp/size.json"
"$HEADROOM" compare --json "$tmp/leak.hr" "$tmp/flat.hr" >"$tmp/compare.json"
validate "compare --json" compare.schema.json "$tmp/compare.json"
# the schema is not a rubber stamp: a figure of the wrong type and a missing section fail
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); d["memory"]["peak_bytes"]="1Gi"; del d["findings"]; json.dump(d, open(sys.argv[2],"w"))' "$tmp/frag.json" "$tmp/bad.json"
if validate "a broken report (must fail)" report.schema.json "$tmp/bad.json" >/dev/null; then
	passes=$((passes - 1)); fails=$((fails + 1)); echo "FAIL - the schema accepted a string peak and no findings"
else
	fails=$((fails - 1)); passes=$((passes + 1)); echo "ok   - the schema refuses a string peak and a missing section"
	grep -q "findings" "$tmp/why" && grep -q "peak_bytes" "$tmp/why" || { fails=$((fails + 1)); echo "FAIL - the refusal does not name both: $(cat "$tmp/why")"; }
fi
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
