#!/usr/bin/env bash
# `headroom size --verify --verify-margin`: the command replayed under the recommended limit
# survives; under 0.9 × the true peak it is OOM-killed — the headroom is real. Needs `headroom
# run` with --limit (a memory cgroup, root); skipped until then.
set -euo pipefail
: "${HEADROOM:?}" "${BUILD:?}"
P="$BUILD/tests/progs/known_startup"
[ -x "$P" ] || { echo "no $P"; exit 77; }
probe=$("$HEADROOM" run -- true 2>&1 || true)
case "$probe" in *"being built"*|*"unknown command"*) echo "headroom run not built yet"; exit 77 ;; esac
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 200 MiB for half a second, then 40 MiB, 3 s in all
if ! "$HEADROOM" run --interval 50ms --record "$tmp/base.hr" --quiet -- "$P" 200 40 3 >/dev/null 2>"$tmp/err"; then
	grep -qi 'cgroup\|permission' "$tmp/err" && { echo "no memory cgroup here: $(cat "$tmp/err")"; exit 77; }
	fail "recording: $(cat "$tmp/err")"
fi
set +e
"$HEADROOM" size "$tmp/base.hr" --format json --verify-margin -- "$P" 200 40 3 >"$tmp/v.json" 2>"$tmp/err"
rc=$?
set -e
[ $rc = 0 ] || fail "size --verify exit $rc: $(cat "$tmp/err")"
python3 - "$tmp/v.json" <<'PY' || fail "verify: $(cat "$tmp/v.json")"
import json, sys
d = json.load(open(sys.argv[1]))
v = d["verify"]
u, m = v["under_limit"], v["under_margin"]
assert u["limit_bytes"] == d["limit_bytes"], u
assert u["survived"] and not u["oom_killed"], u
assert m["limit_bytes"] < d["true_peak_bytes"], m
assert m["oom_killed"] and m["as_expected"], m
print("verify ok: survived under", u["limit"], "killed under", m["limit"])
PY
echo ok
