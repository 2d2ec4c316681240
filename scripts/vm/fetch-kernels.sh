#!/usr/bin/env bash
# Fetches Debian's cloud kernels 6.1 and 6.12 (the versions the archive's meta-packages point
# at now) without installing them: apt-get download + dpkg -x, keeping only boot/vmlinuz-*
# and the loop module (loop-VERSION.ko beside it: the VM mounts an ext2 image through it to
# have real page cache). Cached, so a second run downloads nothing. Prints one line per
# kernel: "SERIES PATH".
#   HEADROOM_VM_CACHE  cache directory (default /var/cache/headroom-vm, or build/vm-cache
#                      under the source tree when that is not writable)
#   SERIES...          which kernels (default: 6.1 6.12)
# Exit 0 with both lines printed; 3 when a kernel can be neither found in the cache nor
# downloaded (no network to Debian's mirror), with the reason on stderr.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${HEADROOM_VM_CACHE:-/var/cache/headroom-vm}
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
  cache="$here/../../build/vm-cache"
  mkdir -p "$cache"
fi
cache=$(cd "$cache" && pwd)

series_list=("$@")
[ ${#series_list[@]} -eq 0 ] && series_list=(6.1 6.12)

# The package that holds a series' current kernel: the meta-package's dependency, else the
# highest version apt-cache knows. Empty when apt knows none (no lists).
current_package() {
  local series=$1 meta pkg
  case "$series" in
    6.1)  meta=linux-image-cloud-amd64 ;;
    6.12) meta=linux-image-6.12-cloud-amd64 ;;
    *)    meta=linux-image-$series-cloud-amd64 ;;
  esac
  pkg=$(apt-cache depends "$meta" 2>/dev/null |
        sed -n "s/^ *Depends: \(linux-image-${series//./\\.}[.-][^ ]*-cloud-amd64\)\$/\1/p" | head -1)
  if [ -z "$pkg" ]; then
    pkg=$(apt-cache search --names-only "^linux-image-${series//./\\.}[.-].*-cloud-amd64\$" 2>/dev/null |
          awk '{print $1}' | sort -V | tail -1)
  fi
  printf '%s\n' "$pkg"
}

# newest cached vmlinuz of a series (the fallback when apt cannot say or cannot download)
cached_kernel() {
  local series=$1
  find "$cache" -maxdepth 1 -name "vmlinuz-${series}[.-]*-cloud-amd64" 2>/dev/null | sort -V | tail -1
}

fetch_one() {
  local series=$1 pkg ver kernel tmp
  pkg=$(current_package "$series")
  if [ -n "$pkg" ]; then
    ver=${pkg#linux-image-}
    kernel="$cache/vmlinuz-$ver"
    if [ -s "$kernel" ] && { [ -s "$cache/loop-$ver.ko" ] || [ -e "$cache/loop-$ver.none" ]; }; then printf '%s %s\n' "$series" "$kernel"; return 0; fi
    tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
    # apt-get download writes to the current directory; _apt needs to write there
    chmod 755 "$tmp"
    if ( cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>"$tmp/err" ) ||
       { apt-get update -q >/dev/null 2>&1 && ( cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>"$tmp/err" ); }; then
      dpkg -x "$tmp"/*.deb "$tmp/x"
      loop=$(find "$tmp/x/lib/modules" -name 'loop.ko*' | head -1)
      # optional: without it the VM has no page cache to show, nothing else is lost
      case "$loop" in
        *.xz)  xz -dc "$loop" > "$cache/loop-$ver.ko" 2>/dev/null || rm -f "$cache/loop-$ver.ko" ;;
        *.zst) zstd -qdc "$loop" > "$cache/loop-$ver.ko" 2>/dev/null || rm -f "$cache/loop-$ver.ko" ;;
        ?*)    cp "$loop" "$cache/loop-$ver.ko" ;;
      esac
      [ -s "$cache/loop-$ver.ko" ] || touch "$cache/loop-$ver.none"
      cp "$tmp/x/boot/vmlinuz-$ver" "$kernel.part" && mv "$kernel.part" "$kernel"
      rm -rf "$tmp"
      printf '%s %s\n' "$series" "$kernel"
      return 0
    fi
    echo "fetch-kernels.sh: cannot download $pkg: $(tail -1 "$tmp/err")" >&2
    rm -rf "$tmp"
  fi
  kernel=$(cached_kernel "$series")
  if [ -n "$kernel" ]; then printf '%s %s\n' "$series" "$kernel"; return 0; fi
  [ -z "$pkg" ] && echo "fetch-kernels.sh: apt knows no linux-image-$series*-cloud-amd64 (run apt-get update?)" >&2
  return 3
}

# one fetch at a time per cache (ctest may run two builds' tests side by side)
exec 9>"$cache/.lock"
flock 9
rc=0
for s in "${series_list[@]}"; do fetch_one "$s" || rc=3; done
exit $rc
