#!/usr/bin/env bash
# Installs the Debian packages headroom needs to build and test, and only those missing.
# Idempotent: a second run installs nothing. Needs root (apt-get) when anything is missing.
set -euo pipefail

# build + unit tests
pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev
      libsqlite3-dev sqlite3 libjson-c-dev libcmocka-dev zlib1g-dev
      libmicrohttpd-dev libcurl4-openssl-dev libproc2-dev
      libdw-dev libelf-dev libiberty-dev  # naming heap sites: symbols, DWARF lines, demangling
      golang-go binutils g++  # tests/it_sites_pprof.sh: go tool pprof reads the profile; nm,
                              # objdump, addr2line give the known answers; a C++ program to name
      nginx-light         # tests/it_load_nginx.sh: a real server for the load generator
      python3 python3-yaml  # tests/it_analyze_*.sh: JSON checks, the resources: YAML parsed
      python3-jsonschema  # tests/it_json_schema.sh: --json output against docs/schema/
      prometheus curl     # promtool and a real server for tests/it_export_prometheus.sh
      # the heap shim's tests: allocators underneath, a static program, real programs under it
      libjemalloc2 libmimalloc2.0 busybox-static ripgrep redis-server
      # shipping (tests/it_install.sh, it_manpages.sh, it_completion.sh, it_package.sh): man
      # pages from docs/man/*.scd, the shells whose completions are tested, the package checks
      scdoc man-db bash-completion zsh fish lintian dpkg-dev)
# tests/it_fleet_prometheus.sh applies its patches with `kubectl patch --local`: Debian's kubectl
# (kubernetes-client, 1.20) only where no kubectl is installed, as another package owns that path
command -v kubectl >/dev/null 2>&1 || pkgs+=(kubernetes-client)
# tests/it_sites_pprof.sh builds a Rust program (legacy and v0 mangling): Debian's rustc only where
# no rustc is installed (the image's rustup one does the same)
command -v rustc >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/rustc" ] || pkgs+=(rustc)
# extra groups selected by arguments: "vm" for the cgroup v2 VM test, "bench", "real"
for group in "$@"; do
  case "$group" in
    vm)    pkgs+=(qemu-system-x86 busybox-static cpio) ;;
    bench) pkgs+=(heaptrack libc-devtools valgrind wrk nginx-light libjemalloc2 libmimalloc2.0 prometheus-node-exporter) ;;
    real)  pkgs+=(redis-server memcached nginx-light ripgrep libjemalloc2 libmimalloc2.0 wrk) ;;
    # demo services (scripts/build-examples.sh): Debian's crates for an offline cargo build,
    # Go (also tests/it_heap_metrics.sh's Go service), curl for the tests. Debian's cargo (with rustc 1.63) only when no cargo is present:
    # the image's rustup cargo builds the same sources.
    demo)  pkgs+=(golang-go librust-hyper-dev librust-tokio-dev curl)
           command -v cargo >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/cargo" ] || pkgs+=(cargo) ;;
    # the runtimes' own heap figures (scripts/build-examples.sh go, rust-jemalloc): the Prometheus
    # client library for the Go demo's /metrics, jemalloc's static library for the Rust one, a JDK
    # for tests/it_heap_jvm.sh's Java service (skipped without javac)
    runtimes) pkgs+=(golang-go golang-github-prometheus-client-golang-dev libjemalloc-dev openjdk-17-jdk-headless) ;;
    browser) pkgs+=(chromium python3) ;;
    # the node agent's tests (tests/it_node_containerd.sh, it_deploy_*.sh): the container runtime
    # Kubernetes uses, podman to build images, a static libc for the test image, node + npm for
    # the manifest validator (deploy/validate). Debian's npm only where no npm came with nodejs.
    node)  pkgs+=(containerd runc podman libc6-dev prometheus curl python3-yaml nodejs)
           command -v npm >/dev/null 2>&1 || pkgs+=(npm) ;;
    *) echo "install-deps.sh: unknown group '$group' (accepted: vm bench real demo runtimes browser node)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: missing packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# an update only when the lists are older than a day or absent
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
  apt-get update -q >/dev/null
fi
# other sessions may be installing at the same time: wait for the dpkg lock instead of failing
apt() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }
if ! apt install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
  apt update -q >/dev/null   # stale lists: refresh once and try again
  apt install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
