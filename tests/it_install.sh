#!/usr/bin/env bash
# make install / make uninstall: the installed tree works from / with nothing from the source tree
# (the heap shim found in the multiarch lib dir without LD_LIBRARY_PATH), man pages and
# completions are where man and the shells look, uninstall leaves nothing; bad paths are refused.
. "$(dirname "$0")/lib.sh"
: "${SRC:?SRC must point at the source tree}"
cd "$T"
# make's own variables must not leak in from a make test run
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -C "$SRC" BUILD="$BUILD" "$@"; }

# 1. install into a staging root with the Debian prefix
set +e
out=$(mk install DESTDIR="$T/x" PREFIX=/usr 2>&1)
rc=$?
set -e
expect_eq "make install DESTDIR=... PREFIX=/usr exits 0" "$rc" 0
[ "$rc" = 0 ] || echo "$out" | tail -5
X="$T/x/usr"
arch=$(gcc -print-multiarch 2>/dev/null || true)
check "the binary is in bin" test -x "$X/bin/headroom"
check "the shim is in the multiarch lib dir (lib/$arch/headroom)" test -f "$X/lib/$arch/headroom/libheadroom-heap.so"
check "man page headroom-run(1) installed, compressed" test -f "$X/share/man/man1/headroom-run.1.gz"
check "bash completion installed" test -s "$X/share/bash-completion/completions/headroom"
check "zsh completion installed" test -s "$X/share/zsh/vendor-completions/_headroom"
check "fish completion installed" test -s "$X/share/fish/vendor_completions.d/headroom.fish"
check "docs installed" test -f "$X/share/doc/headroom/README.md"

# 2. run from /, with a clean environment: heap figures come from the installed shim (the target
# is a system program, not one built here: those carry ASan in the sanitizer build; count mode,
# whose figures do not wait for the idle program to call malloc again)
ver=$(cd / && env -i PATH=/usr/bin:/bin "$X/bin/headroom" --version)
check "--version names the version and the git description ($ver)" \
  grep -Eq '^headroom [0-9]+\.[0-9]+\.[0-9]+ \(git [A-Za-z0-9._+-]+\)$' <<<"$ver"
set +e
(cd / && env -i PATH=/usr/bin:/bin "$X/bin/headroom" run --quiet --heap count --record "$T/inst.hr" \
  -- /usr/bin/perl -e '$x = "x" x (8 << 20); select(undef, undef, undef, 1.5)'  >"$T/run.out" 2>&1)
rc=$?
set -e
expect_eq "installed headroom run from / exits 0" "$rc" 0
hs=$(q "$T/inst.hr" 'select heap_status from run')
check "the heap shim was found and preloaded (heap_status: $hs)" grep -q '^available' <<<"$hs"
live=$(q "$T/inst.hr" 'select max(heap_live) from samples')
check "the 8 MiB the program holds is in the live heap (max $live bytes)" test "${live:-0}" -ge 8388608
# the renders: man(1) formats the installed page
if command -v man >/dev/null; then
  page=$(MANWIDTH=100 man -l "$X/share/man/man1/headroom-run.1.gz" 2>/dev/null | col -b)
  check "man headroom-run renders and documents --limit" grep -q -- '--limit' <<<"$page"
fi

# 3. uninstall removes every file it installed
mk uninstall DESTDIR="$T/x" PREFIX=/usr >/dev/null
left=$(find "$T/x" -type f | head -5)
expect_eq "make uninstall leaves no file behind" "$left" ""
check "make uninstall removed headroom's own folders" test ! -e "$X/lib/$arch/headroom" -a ! -e "$X/share/doc/headroom"

# 4. bad paths: one line naming the problem, non-zero exit, nothing written
bad() {  # bad DESCRIPTION PATTERN make-args...
  local d=$1 pat=$2; shift 2
  set +e; local o; o=$(mk install "$@" 2>&1); local r=$?; set -e
  if [ "$r" -ne 0 ] && grep -q -- "$pat" <<<"$o"; then ok "$d"; else fail "$d: exit $r, output: $(tail -2 <<<"$o")"; fi
}
bad "DESTDIR with a space is refused" "contains a space" DESTDIR="$T/with space" PREFIX=/usr
check "nothing was written under the DESTDIR with a space" test ! -e "$T/with space"
bad "PREFIX with a colon is refused" "contains a space, tab or colon" PREFIX="/opt/a:b" DESTDIR="$T/y"
bad "a relative PREFIX is refused" "not an absolute path" PREFIX=usr DESTDIR="$T/y"
bad "an unwritable prefix (/proc) is refused by name" "cannot write to '/proc'" PREFIX=/proc/headroom-install-test
touch "$T/afile"
bad "a DESTDIR that is a file is refused" "is not a directory" DESTDIR="$T/afile" PREFIX=/usr
finish
