#!/usr/bin/env bash
# headroom run --heap sites, against known truth:
# - sites_three holds 60, 30 and 10 MiB from three functions (small and large blocks): the
#   --json top sites at the end, each mapped to its function by addr2line (independent of
#   headroom), have shares within 5 points of 60/30/10, and the peak list agrees;
# - sites_leak leaks from one function among three busy ones: that function is the first leak
#   suspect, and the growing verdict names it;
# - heap_forkstress (threads churning malloc while the main thread forks 300 times) under a small
#   interval, so that samples are taken across the forks: no crash, no deadlock, its own output;
# - a sampling interval of 0 or beyond 1Gi, or without --heap sites, is a usage error naming the range;
# - a recording without sites (stats mode) has "sites": null.
# The programs end themselves (a hold after their setup), so no fixed duration cuts them short.
. "$(dirname "$0")/lib.sh"

SAN=0
grep -q '^HEADROOM_SANITIZE:STRING=.\+' "$BUILD/CMakeCache.txt" 2>/dev/null && SAN=1

# usage errors first: they need no sampling
for bad in 0 1 4095 2Gi junk; do
	rc=0; "$HEADROOM" run --heap sites --heap-interval "$bad" -- true >/dev/null 2>"$T/bad.err" || rc=$?
	expect_eq "--heap-interval $bad: usage error" $rc 2
	check "--heap-interval $bad: names the range" grep -q "4Ki to 1Gi" "$T/bad.err"
	expect_eq "--heap-interval $bad: one line" "$(wc -l <"$T/bad.err")" 1
done
rc=0; "$HEADROOM" run --heap-interval 64Ki -- true >/dev/null 2>"$T/mode.err" || rc=$?
expect_eq "--heap-interval without --heap sites: usage error" $rc 2
check "... says it goes with --heap sites" grep -q "goes with --heap sites" "$T/mode.err"

if [ $SAN = 1 ]; then
	# a sanitizer build's programs carry their own malloc: the shim cannot see them
	finish
	exit $?
fi

# the three sites: 32Ki gives ~1600 samples of the small blocks of the 60 MiB site (sampling error
# about 1 point of share), the default 512Ki only ~60 (too few for a 5-point check)
"$HEADROOM" run --heap sites --heap-interval 32Ki --json --out "$T/three.json" --record "$T/three.db" \
	-- "$PROGS/sites_three" 3 >"$T/three.out" 2>"$T/three.err"
expect_eq "sites_three: sites recorded" "$(q "$T/three.db" "select count(*) > 0 from heap_sites")" 1
expect_eq "interval recorded" "$(q "$T/three.db" "select heap_sample_interval from run")" 32768
python3 - "$T/three.json" >"$T/three.check" 2>&1 <<'PY' || true
import json, subprocess, sys
d = json.load(open(sys.argv[1]))["sites"]
want = {"site_sixty": 60.0, "site_thirty": 30.0, "site_ten": 10.0}
def fn(s):
    # the return address is just after the call: addr2line on the byte before
    out = subprocess.run(["addr2line", "-f", "-e", s["module"], hex(s["offset"] - 1)],
                         capture_output=True, text=True).stdout.split("\n")[0]
    return out.strip()
for which in ("end", "peak"):
    got = {}
    for s in d[which]:
        if s["module"] and s["offset"] is not None:
            got[fn(s)] = got.get(fn(s), 0) + 100.0 * s["share"]
    for f, w in want.items():
        g = got.get(f, 0)
        print(("ok" if abs(g - w) <= 5 else "FAIL") + f" {which} {f} share {g:.1f} want {w}")
PY
while read -r verdict rest; do
	if [ "$verdict" = ok ]; then ok "sites_three: $rest"; else fail "sites_three: $verdict $rest"; fi
done <"$T/three.check"
expect_eq "sites_three: six share checks" "$(grep -c '^ok' "$T/three.check")" 6

# the leak among busy sites: the default interval
"$HEADROOM" run --heap sites --json --out "$T/leak.json" --record "$T/leak.db" -- "$PROGS/sites_leak" 14 >"$T/leak.out" 2>"$T/leak.err"
"$HEADROOM" report "$T/leak.db" >"$T/leak.txt"
python3 - "$T/leak.json" >"$T/leak.check" 2>&1 <<'PY' || true
import json, subprocess, sys
d = json.load(open(sys.argv[1]))
s = d["sites"]["leak_suspects"]
if not s:
    print("FAIL no leak suspect"); sys.exit()
top = s[0]
name = subprocess.run(["addr2line", "-f", "-e", top["module"], hex(top["offset"] - 1)],
                      capture_output=True, text=True).stdout.split("\n")[0].strip()
print(("ok" if name == "leak_site" else "FAIL") + f" first suspect is {name}")
others = [x for x in s[1:] if subprocess.run(["addr2line", "-f", "-e", x["module"], hex(x["offset"] - 1)],
          capture_output=True, text=True).stdout.split("\n")[0].strip().startswith("busy_")]
print(("ok" if not others else "FAIL") + f" no busy site among the suspects ({len(others)})")
# 2 MiB/s leaked: the slope is an estimate, within a factor of two
r = top["slope_bytes_per_s"] / (2048 * 1024)
print(("ok" if 0.5 < r < 2 else "FAIL") + f" slope {top['slope_bytes_per_s']:.0f} B/s near 2 MiB/s")
print(top["name"], file=open(sys.argv[1] + ".name", "w"))
PY
while read -r verdict rest; do
	if [ "$verdict" = ok ]; then ok "sites_leak: $rest"; else fail "sites_leak: $verdict $rest"; fi
done <"$T/leak.check"
name=$(cat "$T/leak.json.name" 2>/dev/null || echo "?")
check "the growing verdict names the suspect" grep -qF "grows at $name" "$T/leak.txt"
check "the report lists the leak suspects" grep -q "leak suspects" "$T/leak.txt"
"$HEADROOM" report --html "$T/leak.html" "$T/leak.db" >/dev/null
check "HTML: the sites section" grep -q 'id="sites"' "$T/leak.html"
check "HTML: the suspect in its table" python3 -c '
import sys; s = open(sys.argv[1]).read(); i = s.find("Leak suspects")
sys.exit(0 if i > 0 and sys.argv[2] in s[i:] else 1)' "$T/leak.html" "$name"

# the Rust demo service (release build: no frame pointers, stacks from .eh_frame): its /cache
# grows, /work does not; the first suspect's stack, mapped by addr2line, runs through the
# handler's code (the name in the report is the symboliser's, from the other half of issue 15).
# 16 s of load, ~15 snapshots of a 640 KiB/s rise in 32 KiB blocks: found 9,999 times in 10,000
# (scripts/sites-suspect-sim.py; over 12 s 996 in 1,000).
# Only when the demo was built (scripts/build-examples.sh; it_demo_services builds it).
RUST="$BUILD/examples/demo-rust-svc"
if [ -x "$RUST" ]; then
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$HEADROOM" run --heap sites --json --out "$T/rust.json" --record "$T/rust.db" --ready ":$port" \
		--load 16s:2 --rate 40 --cooldown 1s --path '/cache?kb=32' --path /work \
		-- "$RUST" --listen "127.0.0.1:$port" >/dev/null 2>"$T/rust.err" || true
	python3 - "$T/rust.db" >"$T/rust.check" 2>&1 <<'PY' || true
import sqlite3, subprocess, sys, json
db = sqlite3.connect(sys.argv[1])
d = json.load(open(sys.argv[1].replace(".db", ".json")))["sites"]
s = d["leak_suspects"]
if not s:
    print("FAIL no leak suspect"); sys.exit()
frames = db.execute("select module, offset from heap_site_frames where site = ? order by depth", (s[0]["site"],)).fetchall()
names = [subprocess.run(["addr2line", "-f", "-C", "-e", m, hex(o - 1)], capture_output=True, text=True).stdout.split("\n")[0]
         for m, o in frames if m and o is not None]
print(("ok" if any(n.startswith("demo_rust_svc::handle") for n in names) else "FAIL")
      + f" the suspect's stack runs through demo_rust_svc::handle ({len(names)} frames unwound)")
PY
	while read -r verdict rest; do
		if [ "$verdict" = ok ]; then ok "rust demo: $rest"; else fail "rust demo: $verdict $rest"; fi
	done <"$T/rust.check"
fi

# fork + threads while sampling often: the program's own "done" and a clean exit
rc=0
timeout 240 "$HEADROOM" run --quiet --heap sites --heap-interval 4Ki --record "$T/fork.db" \
	-- "$PROGS/heap_forkstress" 2 300 >"$T/fork.out" 2>"$T/fork.err" || rc=$?
expect_eq "forkstress under sites mode: exit status" $rc 0
check "forkstress under sites mode: done" grep -q "^done forks=300" "$T/fork.out"
expect_eq "forkstress: heap available in sites mode" "$(q "$T/fork.db" "select heap_status from run")" \
	"available: glibc, sites mode"

# every function of the family, realloc of sampled and unsampled blocks, frees from other
# threads: at a small interval the sites' live bytes at the end are the program's own count of
# what it holds (usable sizes, a little above what it asked for). A realloc that moved a sampled
# block without forgetting it would count it twice (140 MB of 88 MB with that mutant). ~25,000
# sampled blocks alive: with one live-table bucket per block, 340-580 found theirs full and the
# sum read 0.980-1.002 (a CI run: 0.976); with its neighbour 15-152 and 0.983-1.011
# (docs/heap.md). The note's count is in the label, for a failure to show it.
"$HEADROOM" run --quiet --heap sites --heap-interval 4Ki --record "$T/thr.db" \
	-- "$PROGS/heap_threads" 4 20000 3 >"$T/thr.out" 2>"$T/thr.err" || true
truth=$(sed -n 's/^ready usable=\([0-9]*\) .*/\1/p' "$T/thr.out")
est=$(q "$T/thr.db" "select sum(live_bytes) from heap_site_samples where t_ns = (select max(t_ns) from heap_site_samples)")
untracked=$(q "$T/thr.db" "select heap_sites_note from run" | grep -o '[0-9]* sampled blocks not counted as live' | cut -d' ' -f1)
within "heap_threads: the sites' live bytes at the end = the blocks it holds (untracked: ${untracked:-0})" \
	"${est:-0}" "${truth:-1}" 3

# no sites: stats mode
"$HEADROOM" run --json --out "$T/stats.json" --record "$T/stats.db" -- "$PROGS/sites_three" 0.5 >/dev/null 2>&1
expect_eq "stats mode: no sites tables" "$(q "$T/stats.db" "select count(*) from sqlite_master where name like 'heap_site%'")" 0
expect_eq "stats mode: --json sites is null" \
	"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sites"])' "$T/stats.json")" None

finish
