#!/usr/bin/env bash
# Issue 15, naming and pprof: real programs (C, C++ with a namespaced template, Rust with the
# legacy and the v0 mangling) are built here, the return addresses of their calls are taken from
# the binaries (objdump), and
#  - symbols_lookup (tests/tools/sym_lookup) names them as binutils does (addr2line -i: the
#    outermost function's line; nm -C for C++) and as the source says (Rust paths);
#  - a stripped copy, a missing file, another build-id, a FIFO give the address and a note;
#  - recordings with the sites contract's tables filled by hand from those addresses give a
#    pprof file (`headroom report --pprof`) that `go tool pprof -top` reads, with the shares
#    written (60/30/10 live, 20/30/50 allocated), at the true peak by default, at --at end
#    and at --at TIME; and a recording without sites is one clear error, hostile rows no crash.
. "$(dirname "$0")/lib.sh"
cd "$T"
SYM="$BUILD/tests/tools/sym_lookup"
SYNTH="$BUILD/tests/tools/synth_recording"
P="$SRC/tests/progs/sym"
for t in gcc g++ objdump nm addr2line strip readelf sqlite3 go python3; do
  command -v $t >/dev/null || { echo "missing $t: run scripts/install-deps.sh"; exit 1; }
done
RUSTC=$(command -v rustc || echo "$HOME/.cargo/bin/rustc")

# retaddr BIN SYMBOL: the return address of the first call in SYMBOL (the instruction after it)
retaddr() {
  objdump -d --no-show-raw-insn --disassemble="$2" "$1" |
    awk '/^ *[0-9a-f]+:/ { a = $1; sub(":", "", a); if (want) { print "0x" a; exit } if ($2 == "call") want = 1 }'
}
# a2l BIN ADDR: "file:line" of the outermost function at the return address ADDR, by binutils
a2l() { addr2line -i -e "$1" "$(printf '0x%x' $(($2 - 1)))" | tail -1 | sed 's/ (discriminator [0-9]*)//'; }
buildid() { readelf -n "$1" | awk '/Build ID/ { print $3 }'; }
field() { cut -f"$2" <<<"$1"; }

# ---- C ----
gcc -O0 -g -o c_prog "$P/sites.c"
cbid=$(buildid c_prog)
for fn in hold_big hold_mid hold_small main; do
  a=$(retaddr c_prog $fn)
  out=$("$SYM" "$T/c_prog" "$cbid" "$a")
  expect_eq "C: $fn named" "$(field "$out" 1) $(field "$out" 2)" "0 $fn"
  expect_eq "C: $fn's file:line as addr2line" "$(field "$out" 3):$(field "$out" 4)" "$(a2l c_prog "$a")"
done
# the line is inside the function's body in the source
a=$(retaddr c_prog hold_mid)
line=$(field "$("$SYM" "$T/c_prog" - "$a")" 4)
check "C: hold_mid's line is its malloc call" grep -q 'malloc' <(sed -n "${line}p" "$P/sites.c")

# ---- C++ ----
g++ -O1 -g -o cpp_prog "$P/sites.cpp"
for mangled in $(nm cpp_prog | awk '$3 ~ /make_block|Cache4grow/ { print $3 }'); do
  a=$(retaddr cpp_prog "$mangled")
  out=$("$SYM" "$T/cpp_prog" - "$a")
  expect_eq "C++: $mangled demangled as nm -C does" "$(field "$out" 2)" \
    "$(nm -C cpp_prog | awk -v a="$(nm cpp_prog | awk -v m="$mangled" '$3 == m { print $1 }')" '$1 == a { $1 = ""; $2 = ""; sub(/^  /, ""); print; exit }')"
  expect_eq "C++: $mangled file:line as addr2line" "$(field "$out" 3):$(field "$out" 4)" "$(a2l cpp_prog "$a")"
done
out=$("$SYM" "$T/cpp_prog" - "$(retaddr cpp_prog "$(nm cpp_prog | awk '$3 ~ /make_blockIi/ { print $3 }')")")
check "C++: the template is named with its namespace and argument" grep -q 'store::make_block<int>' <<<"$out"
check "C++: the member function is named with its class" grep -q 'store::Cache::grow' <(
  "$SYM" "$T/cpp_prog" - "$(retaddr cpp_prog "$(nm cpp_prog | awk '$3 ~ /Cache4grow/ { print $3 }')")")

# ---- Rust: legacy (rustc's default) and v0 mangling ----
if [ -x "$RUSTC" ]; then
  "$RUSTC" -g -C opt-level=1 -o rs_legacy "$P/sites.rs"
  "$RUSTC" -g -C opt-level=1 -C symbol-mangling-version=v0 -o rs_v0 "$P/sites.rs"
  for bin in rs_legacy rs_v0; do
    sym=$(nm $bin | awk '$3 ~ /grow_cache/ { print $3; exit }')
    case $bin in
      rs_legacy) check "Rust legacy: the symbol is legacy-mangled" grep -q '^_ZN' <<<"$sym" ;;
      rs_v0) check "Rust v0: the symbol is v0-mangled" grep -q '^_R' <<<"$sym" ;;
    esac
    a=$(retaddr $bin "$sym")
    out=$("$SYM" "$T/$bin" - "$a")
    expect_eq "Rust $bin: named by its path, no hash" "$(field "$out" 2)" "sites::cache::grow_cache"
    expect_eq "Rust $bin: the line in grow_cache, not in the inlined Vec code" \
      "$(field "$out" 3):$(field "$out" 4)" "$(a2l $bin "$a")"
    check "Rust $bin: that is sites.rs" grep -q 'sites.rs:' <<<"$(field "$out" 3):"
  done
else
  fail "no rustc (neither on PATH nor in ~/.cargo/bin): the Rust manglings are not tested"
fi

# ---- a system library: a versioned .dynsym name is named without its version ----
libc=$(ldd "$T/c_prog" | awk '/libc\.so/ { print $3; exit }')
vsym=$(nm -D "$libc" | awk '$3 ~ /^__libc_start_main@@/ { print $1, $3; exit }')
if [ -n "$vsym" ]; then
  out=$("$SYM" "$libc" - "$(printf '0x%x' $((0x${vsym%% *} + 8)))")
  expect_eq "libc: ${vsym#* } named without the version" "$(field "$out" 2)" "__libc_start_main"
else
  fail "no versioned __libc_start_main in $libc's dynamic symbols"
fi

# ---- what cannot be named: an address and a note, never a crash ----
a=$(retaddr c_prog hold_big)
cp c_prog c_stripped && strip --strip-all c_stripped
mkfifo fifo
printf 'not an elf' > text.bin
out=$(timeout 20 "$SYM" "$T/c_stripped" - "$a" "$T/gone" - "$a" "$T/c_prog" 00ff "$a" "$T/fifo" - "$a" \
  "$T/text.bin" - 1 "$T/c_prog" - 0x1)
expect_eq "stripped copy: no name, the note" "$(sed -n 1p <<<"$out" | cut -f1,2,5)" "-2		stripped: addresses only"
expect_eq "missing file" "$(sed -n 2p <<<"$out" | cut -f1,5)" "-2	missing file"
expect_eq "another build-id" "$(sed -n 3p <<<"$out" | cut -f1,5)" "-2	build-id differs"
expect_eq "a FIFO is not opened for reading (no hang)" "$(sed -n 4p <<<"$out" | cut -f1,5)" "-2	not a regular file"
expect_eq "not an ELF file" "$(sed -n 5p <<<"$out" | cut -f1,5)" "-2	not an ELF file"
expect_eq "an address before any function" "$(sed -n 6p <<<"$out" | cut -f1)" "-2"
expect_eq "the right build-id names it" "$(field "$("$SYM" "$T/c_prog" "$cbid" "$a")" 2)" "hold_big"

# ---- recordings with sites, and pprof ----
MiB=1048576
# add_sites DB: the contract's tables (docs/recording.md), empty
add_sites() {
  sqlite3 "$1" "
CREATE TABLE heap_sites (site INTEGER PRIMARY KEY, pid INTEGER NOT NULL, frames INTEGER NOT NULL);
CREATE TABLE heap_site_frames (site INTEGER NOT NULL, depth INTEGER NOT NULL, pc INTEGER NOT NULL,
  module TEXT, build_id TEXT, offset INTEGER, function TEXT, file TEXT, line INTEGER, PRIMARY KEY (site, depth));
CREATE TABLE heap_site_samples (t_ns INTEGER NOT NULL, site INTEGER NOT NULL, live_bytes INTEGER NOT NULL,
  live_objects INTEGER NOT NULL, alloc_bytes INTEGER NOT NULL, alloc_objects INTEGER NOT NULL);"
}
# frame DB SITE DEPTH MODULE OFFSET: a frame of the C program as loaded at 0x555555554000
BASE=$((0x555555554000))
frame() {
  sqlite3 "$1" "INSERT INTO heap_site_frames (site, depth, pc, module, build_id, offset)
    VALUES ($2, $3, $((BASE + $5)), '$4', '$(buildid "$4")', $(($5)))"
}
"$SYNTH" flat rec.db --samples 200 --interval-ms 100 >/dev/null
add_sites rec.db
main_ret=$(retaddr c_prog main)
s=1
for fn in hold_big hold_mid hold_small; do
  sqlite3 rec.db "INSERT INTO heap_sites VALUES ($s, 4242, 2)"
  frame rec.db $s 0 "$T/c_prog" "$(retaddr c_prog $fn)"
  frame rec.db $s 1 "$T/c_prog" "$main_ret"
  s=$((s + 1))
done
# a fourth site in the stripped copy: held 0 at the peak, so it shows only in alloc_space
sqlite3 rec.db "INSERT INTO heap_sites VALUES (4, 4242, 1)"
frame rec.db 4 0 "$T/c_stripped" "$(retaddr c_prog hold_big)"
peak_s=$("$HEADROOM" report --json rec.db | python3 -c 'import json,sys; print(json.load(sys.stdin)["memory"]["peak_at_s"])')
peak_ns=$(python3 -c "print(round($peak_s * 1e9))")
# that report named the frames already: unnamed again, as the recorder leaves them
check "the first report named the frames" test "$(sqlite3 rec.db "SELECT count(*) FROM heap_site_frames
  WHERE function IS NOT NULL")" = 6
sqlite3 rec.db "UPDATE heap_site_frames SET function = NULL, file = NULL, line = NULL"
# one row a second: live 60/30/10 (x k), allocated 20/30/50 (+ the stripped site's 0 live,
# 100 MiB allocated), until 2 s after the peak (the peak's figures may be the latest row before
# it or the fullest within a second of it); later the live shares turn to 10/10/80
turn_ns=$((peak_ns + 2000000000))
check "the synthetic peak leaves rows after the turn" test "$turn_ns" -lt 18000000000
for k in $(seq 1 19); do
  t=$((k * 1000000000))
  if [ $t -le "$turn_ns" ]; then live=(60 30 10 0); else live=(10 10 80 0); fi
  alloc=(20 30 50 100)
  for s in 1 2 3 4; do
    i=$((s - 1))
    sqlite3 rec.db "INSERT INTO heap_site_samples VALUES ($t, $s, $((live[i] * k * MiB)), $((live[i] * k)),
      $((alloc[i] * k * MiB)), $((alloc[i] * k)))"
  done
done

cp rec.db fresh.db
"$HEADROOM" report fresh.db >/dev/null
check "the text report names the frames and stores the names" test "$(sqlite3 fresh.db "SELECT count(*)
  FROM heap_site_frames WHERE function IS NOT NULL")" = 6
# a run still in progress (finished = 0): named in memory for the views, the file not written to
cp rec.db running.db
sqlite3 running.db "UPDATE run SET finished = 0"
"$HEADROOM" report --pprof running.pb.gz running.db >/dev/null 2>&1
check "a recording still being written is left alone" test "$(sqlite3 running.db "SELECT count(*)
  FROM heap_site_frames WHERE function IS NOT NULL")" = 0
check "but its profile names the sites" grep -q hold_big <(go tool pprof -symbolize=none -top running.pb.gz 2>/dev/null)
set +e
"$HEADROOM" report --pprof peak.pb.gz rec.db >out 2>err; rc=$?
set -e
expect_eq "report --pprof exits 0" "$rc" 0
check "it says what it wrote" grep -q "^wrote peak.pb.gz (4 sites at " out
check "and notes the stripped module on stderr" grep -q "stripped: addresses only (c_stripped)" err
check "the file is gzip" test "$(head -c2 peak.pb.gz | od -An -tx1 | tr -d ' ')" = 1f8b
check "the names were stored in the recording" test "$(sqlite3 rec.db "SELECT count(*) FROM heap_site_frames
  WHERE function IS NOT NULL")" = 6
expect_eq "hold_mid's stored line is addr2line's" "$(sqlite3 rec.db "SELECT file || ':' || line FROM heap_site_frames
  WHERE site = 2 AND depth = 0")" "$(a2l c_prog "$(retaddr c_prog hold_mid)")"

# top FILE INDEX: "function flat%" lines of go tool pprof -top
top() {
  go tool pprof -symbolize=none -sample_index="$2" -top "$1" 2>/dev/null |
    awk 'f && NF >= 6 { sub("%", "", $2); print $6, $2 } /flat%/ { f = 1 }'
}
share() { awk -v f="$2" '$1 == f { print $2 }' <<<"$1"; }
GOCACHE=$T/gocache; export GOCACHE
inuse=$(top peak.pb.gz inuse_space)
echo "$inuse" | sed 's/^/    inuse_space at the peak: /'
within "pprof inuse_space at the peak: hold_big 60 %" "$(share "$inuse" hold_big)" 60 1
within "pprof inuse_space at the peak: hold_mid 30 %" "$(share "$inuse" hold_mid)" 30 1
within "pprof inuse_space at the peak: hold_small 10 %" "$(share "$inuse" hold_small)" 10 1
alloc=$(top peak.pb.gz alloc_space)
echo "$alloc" | sed 's/^/    alloc_space at the peak: /'
within "pprof alloc_space: hold_big 10 %" "$(share "$alloc" hold_big)" 10 1
within "pprof alloc_space: hold_mid 15 %" "$(share "$alloc" hold_mid)" 15 1
within "pprof alloc_space: hold_small 25 %" "$(share "$alloc" hold_small)" 25 1
within "pprof alloc_space: the stripped site 50 %, by address" "$(share "$alloc" "c_stripped+$(retaddr c_prog hold_big)")" 50 1
objs=$(top peak.pb.gz inuse_objects)
within "pprof inuse_objects: hold_big 60 %" "$(share "$objs" hold_big)" 60 1
# the absolute figure: the row of the instant said (k seconds: 100 k MiB), near the true peak
kpeak=$(sed -n 's/^wrote peak.pb.gz (4 sites at \([0-9.]*\)s)$/\1/p' out | python3 -c 'import sys; print(round(float(sys.stdin.read())))')
check "the instant is the peak's second or the next ($kpeak s, peak $peak_s s)" \
  python3 -c "import sys; sys.exit(0 if $kpeak in (int($peak_s), int($peak_s) + 1) else 1)"
check "inuse_space total is the recording's at that row ($((100 * kpeak)) MiB)" grep -q "of $((100 * kpeak))MB total" \
  <(go tool pprof -symbolize=none -sample_index=inuse_space -top peak.pb.gz 2>/dev/null)
check "main is the caller (cum 100 %)" grep -qE ' 100% +main$' <(go tool pprof -symbolize=none -top peak.pb.gz 2>/dev/null)
check "hold_mid's line is in the profile" grep -q "sites.c:$(a2l c_prog "$(retaddr c_prog hold_mid)" | cut -d: -f2)" \
  <(go tool pprof -symbolize=none -lines -top peak.pb.gz 2>/dev/null)

"$HEADROOM" report --pprof end.pb.gz rec.db --at end >/dev/null 2>&1
end=$(top end.pb.gz inuse_space)
within "--at end: hold_small 80 %" "$(share "$end" hold_small)" 80 1
"$HEADROOM" report --pprof early.pb.gz rec.db --at 2500ms >/dev/null 2>&1
check "--at 2500ms: the row of 2 s (200 MiB total)" grep -q "of 200MB total" \
  <(go tool pprof -symbolize=none -sample_index=inuse_space -top early.pb.gz 2>/dev/null)

# again, from the names stored by the first
set +e
"$HEADROOM" report --pprof again.pb.gz rec.db >/dev/null 2>err; rc=$?
set -e
expect_eq "a second profile of the same recording" "$rc" 0
expect_eq "with the same shares" "$(top again.pb.gz inuse_space)" "$inuse"

# ---- the HTML report's flame graph of live bytes at the peak ----
"$HEADROOM" report rec.db --html page.html >/dev/null
"$SYNTH" flat nosites.db --samples 50 >/dev/null
"$HEADROOM" report nosites.db --html plain.html >/dev/null
cat > flame.py <<'PY'
import re, sys, xml.etree.ElementTree as ET
page = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'<section id="flame">.*?(<svg .*?</svg>)', page, re.S)
if not m:
    sys.exit("no flame graph")
svg = ET.fromstring(m.group(1))          # well-formed: every name escaped
ns = "{http://www.w3.org/2000/svg}" if svg.tag.startswith("{") else ""
for g in svg.iter(ns + "g"):
    t, r = g.find(ns + "title"), g.find(ns + "rect")
    name = t.text.split(":")[0].split(" (")[0].split(" in ")[0]
    print("%s\t%.2f\t%s\t%s" % (name, float(r.get("width")), r.get("y"), r.get("x")))
PY
python3 flame.py page.html > flame.tsv || fail "the flame graph parses as SVG"
sed 's/^/    flame: /' flame.tsv
w() { awk -F'\t' -v n="$1" '$1 == n { print $2; exit }' flame.tsv; }
y() { awk -F'\t' -v n="$1" '$1 == n { print $3; exit }' flame.tsv; }
within "flame: the root spans the graph" "$(w 'all live sampled heap')" 960 0.1
within "flame: main, the caller of every site, spans it too" "$(w main)" 960 0.1
within "flame: hold_big is 60 % wide" "$(w hold_big)" 576 0.5
within "flame: hold_mid is 30 % wide" "$(w hold_mid)" 288 0.5
within "flame: hold_small is 10 % wide" "$(w hold_small)" 96 0.5
expect_eq "flame: the root at the bottom, main on it, the sites on main" \
  "$(( $(y 'all live sampled heap') - $(y main) )) $(( $(y main) - $(y hold_big) ))" "18 18"
check "flame: the stripped site (0 live at the peak) is not drawn" test -z "$(w "c_stripped+$(retaddr c_prog hold_big)")"
check "flame: the instant is the true peak's" grep -q "the true peak" page.html
expect_eq "flame: no script added to the page (CSP: the same inline scripts)" \
  "$(grep -o '<script' page.html | wc -l)" "$(grep -o '<script' plain.html | wc -l)"
check "a recording without sites has no flame graph" test "$(grep -c 'id="flame"' plain.html)" = 0
# ---- bad input ----
set +e
"$HEADROOM" report --pprof x.pb.gz nosites.db >out 2>err; rc=$?
set -e
expect_eq "a recording without sites: exit 1" "$rc" 1
expect_eq "one line" "$(wc -l <err)" 1
check "that says so" grep -q "has no heap sites" err
check "and writes nothing" test ! -e x.pb.gz
set +e
"$HEADROOM" report --pprof x.pb.gz rec.db --at 500ms >out 2>err; rc=$?
set -e
expect_eq "--at before the first site row: exit 1" "$rc" 1
check "that says so" grep -q "no heap site figures at or before --at" err
set +e
"$HEADROOM" report --pprof "$T/no/such/dir/x.pb.gz" rec.db >out 2>err; rc=$?
set -e
expect_eq "an OUT in a missing directory: exit 1" "$rc" 1
check "that names OUT, not the recording" grep -q "cannot write '$T/no/such/dir/x.pb.gz'" err
set +e
"$HEADROOM" report --pprof x.pb.gz "$T/absent.db" >out 2>err; rc=$?
set -e
expect_eq "a recording that does not exist: exit 1" "$rc" 1
check "that names the recording" grep -q "cannot read '$T/absent.db'" err
set +e
"$HEADROOM" report rec.db --at end >out 2>err; rc=$?
set -e
expect_eq "--at without --pprof is a usage error" "$rc" 2
set +e
"$HEADROOM" report --pprof x.pb.gz rec.db --at soon >out 2>err; rc=$?
set -e
expect_eq "--at that is no instant is a usage error" "$rc" 2
# hostile rows: control bytes in names, absurd values, a module that is a FIFO
cp rec.db evil.db
sqlite3 evil.db "UPDATE heap_site_frames SET function = 'evil' || char(27) || '[2Jname' WHERE site = 1 AND depth = 0;
  UPDATE heap_site_frames SET function = NULL, module = '$T/fifo' WHERE site = 2 AND depth = 0;
  INSERT INTO heap_site_samples VALUES (19500000000, 3, 9223372036854775807, -5, 1, 1);"
set +e
timeout 30 "$HEADROOM" report --pprof evil.pb.gz evil.db --at end >out 2>err; rc=$?
set -e
expect_eq "hostile rows: still a profile" "$rc" 0
check "no control byte reaches the profile's names" test "$(go tool pprof -symbolize=none -top evil.pb.gz 2>/dev/null |
  LC_ALL=C grep -c $'\e')" = 0
check "the FIFO frame is named by its address" grep -q "fifo+0x" <(go tool pprof -symbolize=none -top evil.pb.gz 2>/dev/null)
"$HEADROOM" report evil.db --html evil.html >/dev/null 2>&1
python3 flame.py evil.html > evil.tsv || true
check "hostile rows: the flame graph still parses, names escaped" test -s evil.tsv
check "and has no raw control byte" test "$(LC_ALL=C grep -c $'\e' evil.html)" = 0

cp page.html /tmp/pprofw/page.html 2>/dev/null || true
finish
