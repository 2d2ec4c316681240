#!/usr/bin/env bash
# run --json --out FILE: the report goes to its own file, so a command that writes to stdout cannot
# break the JSON (issue 19.6). The command's own output reaches stdout unchanged; the file is the
# report, valid against docs/schema/report.schema.json; a bad --out is refused before the run.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
$PY -c 'import jsonschema' 2>/dev/null || { echo "python3-jsonschema missing"; exit 77; }
cmd=(/bin/sh -c 'echo "{ this is the program talking"; echo line two; exit 3')
set +e
"$HEADROOM" run --no-heap --json --out "$T/r.json" --record "$T/r.db" -- "${cmd[@]}" >"$T/stdout" 2>"$T/stderr"; rc=$?
set -e
expect_eq "run exits with the command's status" "$rc" 3
expect_eq "stdout holds the command's output alone" "$(cat "$T/stdout")" "$(printf '{ this is the program talking\nline two')"
check "the report file is JSON" $PY -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/r.json"
expect_eq "the report names the exit" "$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["exit"]["code"])' "$T/r.json")" 3
check "the report file is valid against the schema" $PY - "$SRC/docs/schema/report.schema.json" "$T/r.json" <<'PY'
import json, sys
from jsonschema import Draft202012Validator, RefResolver
s = json.load(open(sys.argv[1]))
v = Draft202012Validator(s, resolver=RefResolver.from_schema(s, store={s["$id"]: s}))
errs = list(v.iter_errors(json.load(open(sys.argv[2]))))
for e in errs[:3]: print(e.message, file=sys.stderr)
sys.exit(1 if errs else 0)
PY
# text too, and --quiet still writes the file the user asked for
"$HEADROOM" run --no-heap --quiet --out "$T/r.txt" -- /bin/sh -c 'echo hi' >"$T/stdout2" 2>/dev/null
expect_eq "with --quiet: stdout is the command's" "$(cat "$T/stdout2")" "hi"
check "with --quiet: the text report is in the file" grep -q '^headroom: ' "$T/r.txt"
# refused before anything runs
set +e
"$HEADROOM" run --no-heap --out /nonexistent/dir/r.json -- /bin/sh -c 'touch '"$T"'/ran' 2>"$T/err"; rc=$?
set -e
expect_eq "an --out in a missing directory is a usage error" "$rc" 2
check "... and the command never ran" test ! -e "$T/ran"
ln -s "$T/victim" "$T/link.json"; echo precious >"$T/victim"
"$HEADROOM" run --no-heap --quiet --out "$T/link.json" -- true 2>/dev/null
expect_eq "a symlink at --out is replaced, its target untouched" "$(cat "$T/victim")" "precious"
finish
