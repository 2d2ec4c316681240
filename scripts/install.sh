#!/usr/bin/env bash
# make install / make uninstall: scripts/install.sh install|uninstall BUILD PREFIX DESTDIR
# Installs what cmake's install rules list (CMakeLists.txt) under DESTDIR/PREFIX, and removes
# exactly those files again. Refuses, with one line saying why, a PREFIX or DESTDIR that the
# installed tool could not work from or that cannot be written.
set -euo pipefail
action=${1:?usage: scripts/install.sh install|uninstall BUILD PREFIX DESTDIR}
build=${2:?} prefix=${3:?} destdir=${4-}
die() { echo "headroom $action: $*" >&2; exit 1; }

case "$action" in install|uninstall) ;; *) die "unknown action '$action' (accepted: install, uninstall)" ;; esac
case "$prefix" in /*) ;; *) die "PREFIX '$prefix' is not an absolute path (e.g. PREFIX=/usr/local or PREFIX=\$HOME/.local)" ;; esac
# the heap shim is preloaded through LD_PRELOAD, whose list is split at spaces and colons: an
# install under such a path would run but never see the heap
for v in "PREFIX=$prefix" "DESTDIR=$destdir"; do
  case "${v#*=}" in
    *[[:space:]:]*) die "${v%%=*} '${v#*=}' contains a space, tab or colon: LD_PRELOAD cannot name the heap shim under it; choose a path without them" ;;
  esac
done
[ -z "$destdir" ] || case "$destdir" in /*) ;; *) die "DESTDIR '$destdir' is not an absolute path" ;; esac
[ -f "$build/cmake_install.cmake" ] || die "no build in '$build' (run make build first)"
root="${destdir%/}$prefix"

if [ "$action" = install ]; then
  # find the deepest existing directory on the way and check that it takes a new entry, so an
  # unwritable prefix fails here with its name, not halfway through cmake's file copies
  d=$root
  while [ ! -e "$d" ]; do d=$(dirname "$d"); done
  [ -d "$d" ] || die "'$d' (on the way to '$root') is not a directory"
  probe="$d/.headroom-install-probe.$$"
  if ! (: > "$probe") 2>/dev/null; then
    die "cannot write to '$d' (on the way to '$root'): run as root, or choose a PREFIX you own (make install PREFIX=\$HOME/.local)"
  fi
  rm -f "$probe"
  DESTDIR="$destdir" cmake --install "$build" --prefix "$prefix"
  echo "headroom install: installed under '$root' (uninstall: make uninstall PREFIX=$prefix${destdir:+ DESTDIR=$destdir})"
  exit 0
fi

# uninstall: stage an install into a scratch directory to learn the file list (no manifest from a
# previous install is needed), then remove those files and the folders that only headroom owns
stage=$(mktemp -d /tmp/headroom-uninstall.XXXXXX)
trap 'rm -rf "$stage"' EXIT
DESTDIR="$stage" cmake --install "$build" --prefix "$prefix" >/dev/null
n=0
while IFS= read -r -d '' f; do
  rel=${f#"$stage"}
  if [ -e "$destdir$rel" ] || [ -L "$destdir$rel" ]; then
    rm -f -- "$destdir$rel" || die "cannot remove '$destdir$rel'"
    n=$((n + 1))
  fi
done < <(find "$stage" \( -type f -o -type l \) -print0)
# folders of our own, now empty (never the shared ones such as bin or share/man/man1)
while IFS= read -r -d '' d; do
  rel=${d#"$stage"}
  case "$(basename "$rel")" in headroom|examples) rmdir --ignore-fail-on-non-empty -- "$destdir$rel" 2>/dev/null || true ;; esac
done < <(find "$stage" -depth -mindepth 1 -type d -print0)
echo "headroom uninstall: removed $n files under '$root'"
