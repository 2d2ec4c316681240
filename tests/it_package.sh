#!/usr/bin/env bash
# The .deb (CPack's DEB generator on this build): its metadata and contents, lintian without an
# error or warning, installed into a fresh root with dpkg --root where `headroom run` works from
# / with the heap shim found, and removed cleanly (no file left behind).
. "$(dirname "$0")/lib.sh"
command -v cpack >/dev/null && command -v dpkg >/dev/null || { echo "skip: cpack or dpkg missing"; exit 77; }
cd "$T"
# the package is packed into $T: the build directory is not written to
cpack --config "$BUILD/CPackConfig.cmake" -B "$T/pkg" -G DEB > cpack.out 2>&1 || { cat cpack.out; fail "cpack"; finish; }
deb=$(ls "$T"/pkg/headroom_*.deb 2>/dev/null | head -1)
check "cpack wrote headroom_<version>_<arch>.deb" test -f "$deb"
arch=$(dpkg --print-architecture)
expect_eq "the package's architecture is this machine's" "$(dpkg-deb -f "$deb" Architecture)" "$arch"
check "the dependencies come from dpkg-shlibdeps (libc6, libsqlite3-0, libjson-c5)" \
  bash -c 'd=$(dpkg-deb -f "$1" Depends); [[ $d == *libc6* && $d == *libsqlite3-0* && $d == *libjson-c5* ]]' _ "$deb"
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
multi=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for f in ./usr/bin/headroom "./usr/lib/$multi/headroom/libheadroom-heap.so" ./usr/share/man/man1/headroom-run.1.gz \
         ./usr/share/bash-completion/completions/headroom ./usr/share/doc/headroom/copyright \
         ./usr/share/doc/headroom/changelog.gz; do
  check "the package holds $f" grep -qx -- "$f" <<<"$contents"
done
check "no file of the build or source tree leaks in" bash -c '! grep -Eq "/(build|tests|src)/" <<<"$1"' _ "$contents"

if command -v lintian >/dev/null; then
  lintian --allow-root "$deb" > lintian.out 2>&1 || true
  expect_eq "lintian: no error and no warning" "$(grep -E '^(E|W): ' lintian.out | head -5)" ""
else
  echo "note: lintian not installed, not run"
fi

# a fresh root: an empty dpkg database; the libraries come from the host (--force-depends), the
# point is what the package itself puts in place
R="$T/root"
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
: > "$R/var/lib/dpkg/status"
dp() { dpkg --root="$R" --force-depends --force-not-root --log=/dev/null "$@"; }
set +e
dp -i "$deb" > dpkg-i.out 2>&1; rc=$?
set -e
expect_eq "dpkg --root installs it" "$rc" 0
[ "$rc" = 0 ] || cat dpkg-i.out
expect_eq "dpkg records it as installed" "$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Status}' headroom 2>/dev/null)" "install ok installed"
set +e
(cd / && env -i PATH=/usr/bin:/bin "$R/usr/bin/headroom" run --quiet --heap count --record "$T/pkg.hr" \
  -- /usr/bin/perl -e '$x = "x" x (8 << 20); select(undef, undef, undef, 1.5)'  >"$T/pkgrun.out" 2>&1)
rc=$?
set -e
expect_eq "the packaged headroom run works from /" "$rc" 0
hs=$(q "$T/pkg.hr" 'select heap_status from run' 2>/dev/null || true)
check "the packaged binary found its heap shim (heap_status: $hs)" grep -q '^available' <<<"$hs"
live=$(q "$T/pkg.hr" 'select max(heap_live) from samples' 2>/dev/null || true)
check "the 8 MiB the program holds is in the live heap (max $live bytes)" test "${live:-0}" -ge 8388608
ver=$("$R/usr/bin/headroom" --version)
check "the packaged --version ($ver)" grep -Eq '^headroom [0-9.]+ \(git ' <<<"$ver"

set +e
dp -P headroom > dpkg-r.out 2>&1; rc=$?
set -e
expect_eq "dpkg --purge removes it" "$rc" 0
left=$(find "$R" -mindepth 1 -not -path "$R/var/lib/dpkg*" \( -type f -o -type l \) | head -5)
expect_eq "no file of the package is left behind" "$left" ""
left=$(find "$R/usr" -depth -mindepth 1 -type d 2>/dev/null | head -3)
expect_eq "no directory of the package is left behind" "$left" ""
finish
