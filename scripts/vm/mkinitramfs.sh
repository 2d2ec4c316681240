#!/usr/bin/env bash
# Packs a tiny initramfs for the cgroup v2 VM test: busybox-static, an /init that mounts
# proc, sysfs, devtmpfs, a tmpfs /tmp and cgroup2, enables the memory controller for the
# root's children, runs /test.sh and powers off, plus the given programs in /bin.
#   mkinitramfs.sh OUT.cpio.gz TEST_SCRIPT [PROGRAM...]
# Programs should be static; a dynamic one gets its libraries (from ldd) copied beside it.
# A PROGRAM named loop-<kernel release>.ko goes to /lib/modules/ instead, and /init loads the
# one matching the running kernel (fetch-kernels.sh keeps them beside the kernels).
# Programs are stripped in the image (debug info only makes the archive slow to load).
# The console protocol /init speaks (read by run-vm.sh):
#   HR-BOOT <uname -r> <uptime s>   /init started (uptime = kernel boot time)
#   HR-END rc=N                     /test.sh exited with N; poweroff follows
# /test.sh adds its own HR-PASS/HR-FAIL/HR-INFO/HR-BLOB lines (see run-vm.sh).
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: mkinitramfs.sh OUT.cpio.gz TEST_SCRIPT [PROGRAM...]" >&2
  exit 2
fi
out=$1 script=$2
shift 2
busybox=${BUSYBOX:-/bin/busybox}
is_static() { ! readelf -l "$1" 2>/dev/null | grep -q 'program interpreter'; }
if [ ! -x "$busybox" ] || ! is_static "$busybox"; then
  echo "mkinitramfs.sh: $busybox is not a static busybox (apt-get install busybox-static)" >&2
  exit 3
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib,lib64,etc}
cp "$busybox" "$root/bin/busybox"
cp "$script" "$root/test.sh"
chmod 755 "$root/test.sh"

for prog in "$@"; do
  name=$(basename "$prog")
  case "$name" in
    loop-*.ko) mkdir -p "$root/lib/modules"; cp "$prog" "$root/lib/modules/$name"; continue ;;
  esac
  cp "$prog" "$root/bin/$name"
  strip "$root/bin/$name" 2>/dev/null || true
  chmod 755 "$root/bin/$name"
  if ! is_static "$prog"; then
    # copy each library to the same path inside, so the loader finds it as on the host
    ldd "$prog" | awk '/=> \//{print $3} /^\t\/[^ ]*ld-linux/{print $1}' | while read -r lib; do
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
  fi
done

cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo +memory > /sys/fs/cgroup/cgroup.subtree_control
[ -f /lib/modules/loop-$(uname -r).ko ] && insmod /lib/modules/loop-$(uname -r).ko
# a newline first: the console line may still hold the firmware's "Booting from ROM.."
echo
echo "HR-BOOT $(uname -r) $(cut -d' ' -f1 /proc/uptime)"
cd /tmp
sh /test.sh
echo "HR-END rc=$?"
sync
poweroff -f
INIT
chmod 755 "$root/init"

( cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet ) | gzip -1 > "$out.part"
mv "$out.part" "$out"
