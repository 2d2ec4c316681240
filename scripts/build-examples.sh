#!/usr/bin/env bash
# Builds the demo services of examples/ (see examples/README.md) and prints nothing else than
# what it builds. Idempotent and fast when up to date (cargo and go cache; C by mtime).
#   scripts/build-examples.sh [rust|rust-debug|rust-jemalloc|go|c|all]...   (default: all)
# Output: $EXAMPLES_OUT (default <repo>/build/examples):
#   demo-rust-svc (release), demo-rust-svc-debug, demo-rust-jemalloc-svc, demo-go-svc, demo-c-svc
# Installs what it needs first (scripts/install-deps.sh demo). Offline: cargo reads Debian's
# crates (examples/rust-svc/.cargo/config.toml), go builds with GOPROXY=off.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
OUT=${EXAMPLES_OUT:-$SRC/build/examples}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(all)
for t in "${targets[@]}"; do
  case "$t" in
    rust|rust-debug|rust-jemalloc|go|c|all) ;;
    *) echo "build-examples.sh: unknown target '$t' (accepted: rust rust-debug rust-jemalloc go c all)" >&2; exit 2 ;;
  esac
done

# the Rust path of `make demo` needs only the "demo" packages; the Go client library and the
# static jemalloc only the targets that build with them
groups=(demo)
for t in "${targets[@]}"; do
  case "$t" in go|rust-jemalloc|all) groups=(demo runtimes) ;; esac
done
bash "$SRC/scripts/install-deps.sh" "${groups[@]}"
mkdir -p "$OUT"
# Tests and demos may build at the same time: one builder at a time per output directory.
exec 9>"$OUT/.build.lock"
flock 9

now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

find_cargo() {
  local c
  for c in "$(command -v cargo 2>/dev/null || true)" "$HOME/.cargo/bin/cargo" /usr/bin/cargo; do
    [ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return 0; }
  done
  echo "build-examples.sh: no cargo found (install-deps.sh demo installs Debian's)" >&2
  return 1
}

build_rust() {  # $1 = release|debug
  local cargo profile_flag= sub=release name=demo-rust-svc t0
  cargo=$(find_cargo)
  if [ "$1" = debug ]; then sub=debug; name=demo-rust-svc-debug; else profile_flag=--release; fi
  cd "$SRC/examples/rust-svc"
  # A lock file written by a newer cargo (version 4) stops an older one (Debian's 1.65):
  # it is not committed, so drop it and let this cargo resolve again from the same registry.
  if [ -f Cargo.lock ] && ! "$cargo" metadata --format-version 1 --offline >/dev/null 2>&1; then
    rm -f Cargo.lock
  fi
  t0=$(now)
  local log
  log=$(CARGO_TARGET_DIR="$OUT/rust-target" "$cargo" build $profile_flag --offline 2>&1) || {
    printf '%s\n' "$log" >&2
    echo "build-examples.sh: cargo build ($1) failed" >&2
    return 1
  }
  if ! cmp -s "$OUT/rust-target/$sub/demo-rust-svc" "$OUT/$name"; then
    cp -f "$OUT/rust-target/$sub/demo-rust-svc" "$OUT/$name.tmp" && mv -f "$OUT/$name.tmp" "$OUT/$name"
    echo "build-examples.sh: built $OUT/$name ($1, $($cargo --version | cut -d' ' -f1-2)) in $(took "$t0") s" >&2
  fi
}

build_go() {
  local t0 go=go
  command -v go >/dev/null 2>&1 || go=/usr/lib/go/bin/go
  cd "$SRC/examples/go-svc"
  t0=$(now)
  # The Prometheus client library from Debian (golang-github-prometheus-client-golang-dev):
  # GOPATH mode over /usr/share/gocode, where Debian's Go packages put their sources; nothing is
  # fetched. Replace the binary only when it changed.
  GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOTOOLCHAIN=local \
    "$go" build -buildvcs=false -o "$OUT/demo-go-svc.tmp" .
  if cmp -s "$OUT/demo-go-svc.tmp" "$OUT/demo-go-svc"; then
    rm -f "$OUT/demo-go-svc.tmp"
  else
    mv -f "$OUT/demo-go-svc.tmp" "$OUT/demo-go-svc"
    echo "build-examples.sh: built $OUT/demo-go-svc ($("$go" version | cut -d' ' -f3)) in $(took "$t0") s" >&2
  fi
}

# jemalloc compiled in as Rust's global allocator (Debian's static libjemalloc_pic.a, build.rs);
# the same crates and target directory as rust-svc, so hyper and tokio are compiled once.
build_rust_jemalloc() {
  local cargo name=demo-rust-jemalloc-svc t0
  cargo=$(find_cargo)
  cd "$SRC/examples/rust-jemalloc-svc"
  t0=$(now)
  if [ -f Cargo.lock ] && ! "$cargo" metadata --format-version 1 --offline >/dev/null 2>&1; then
    rm -f Cargo.lock
  fi
  log=$(CARGO_TARGET_DIR="$OUT/rust-target" "$cargo" build --release --offline 2>&1) || {
    echo "$log" >&2
    echo "build-examples.sh: cargo build (rust-jemalloc) failed" >&2
    exit 1
  }
  if ! cmp -s "$OUT/rust-target/release/$name" "$OUT/$name"; then
    cp -f "$OUT/rust-target/release/$name" "$OUT/$name.tmp" && mv -f "$OUT/$name.tmp" "$OUT/$name"
    echo "build-examples.sh: built $OUT/$name (release, jemalloc compiled in) in $(took "$t0") s" >&2
  fi
}

build_c() {
  local t0 cc=${CC:-cc} src="$SRC/examples/c-svc/c_svc.c" bin="$OUT/demo-c-svc"
  [ -x "$bin" ] && [ "$bin" -nt "$src" ] && [ "$bin" -nt "$0" ] && return 0
  t0=$(now)
  # Plain -O2, never sanitized: its RSS is what the demos measure.
  "$cc" -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread "$src" -o "$bin.tmp"
  mv -f "$bin.tmp" "$bin"
  echo "build-examples.sh: built $bin ($cc) in $(took "$t0") s" >&2
}

for t in "${targets[@]}"; do
  case "$t" in
    rust) build_rust release ;;
    rust-debug) build_rust debug ;;
    rust-jemalloc) build_rust_jemalloc ;;
    go) build_go ;;
    c) build_c ;;
    all) build_rust release; build_rust debug; build_rust_jemalloc; build_go; build_c ;;
  esac
done
