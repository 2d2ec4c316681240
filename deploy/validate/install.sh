#!/usr/bin/env bash
# Installs the manifest validator's npm packages (exact versions from package-lock.json) into
# DIR (default: this directory), from the npm registry or npm's cache.
#   deploy/validate/install.sh [DIR]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${1:-$HERE}
command -v npm >/dev/null || { echo "install.sh: npm not installed (scripts/install-deps.sh node)" >&2; exit 1; }
mkdir -p "$DIR"
if [ "$DIR" != "$HERE" ]; then
  cp "$HERE/package.json" "$HERE/package-lock.json" "$HERE/validate.mjs" "$DIR/"
fi
# already installed from this very lock file: nothing to do
if [ -f "$DIR/node_modules/.package-lock.json" ] && cmp -s "$HERE/package-lock.json" "$DIR/.installed-lock"; then
  exit 0
fi
(cd "$DIR" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
cp "$HERE/package-lock.json" "$DIR/.installed-lock"
