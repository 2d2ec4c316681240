#!/usr/bin/env bash
# Reads fetch-kernels.sh's "SERIES PATH" lines on stdin and prints the loop module kept beside
# each kernel (loop-RELEASE.ko), for mkinitramfs.sh; kernels without one are left out (the VM
# then has no page cache to show).
while read -r _ kernel; do
  [ -n "$kernel" ] || continue
  m=$(dirname "$kernel")/loop-$(basename "$kernel" | sed 's/^vmlinuz-//').ko
  [ -f "$m" ] && echo "$m"
done
exit 0
