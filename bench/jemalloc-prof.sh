#!/usr/bin/env bash
# Would sampling inside the allocator beat the heap shim's sites mode over jemalloc (issue 15's
# cost goal)? Callgrind instruction counts of malloc_bench (1 thread) over jemalloc: bare, the
# shim's stats mode (the cost of interposing at all), sites mode at its largest interval (1 GiB:
# the per-call work with a sample or two) and at its 512 KiB default, and jemalloc's own
# profiler at the same mean interval (Debian's libjemalloc2 is built with it): with its own
# backtrace (libgcc) and with a one-frame backtrace hook (experimental.hooks.prof_backtrace,
# jemalloc 5.3), which leaves its bookkeeping alone.
# Instruction counts are deterministic but blind to cache misses; bench/heap-shim.sh has the
# CPU-time ratios.
#
# usage: bench/jemalloc-prof.sh [BUILD_DIR]     env: OPS (default 500000)
set -euo pipefail
BUILD=${1:-build}
OPS=${OPS:-500000}
BENCH=$BUILD/tests/progs/malloc_bench
JE=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
[ -x "$BENCH" ] && [ -f "$BUILD/libheadroom-heap.so" ] || { echo "jemalloc-prof.sh: build first (make build)" >&2; exit 1; }
[ -f "$JE" ] || { echo "jemalloc-prof.sh: no $JE (apt-get install libjemalloc2)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "jemalloc-prof.sh: needs valgrind" >&2; exit 1; }
SHIM=$(realpath "$BUILD/libheadroom-heap.so")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

cat >"$TMP/hook.c" <<'EOF'
/* a one-frame backtrace for jemalloc's sampled allocations: its profiler's cost without unwinding */
#include <stddef.h>
#include <stdio.h>
extern int mallctl(const char *, void *, size_t *, void *, size_t);
typedef void (*bt_hook)(void **, unsigned *, unsigned);
static void one_frame(void **vec, unsigned *len, unsigned max)
{
	(void)max;
	vec[0] = __builtin_return_address(0);
	*len = 1;
}
__attribute__((constructor)) static void install(void)
{
	bt_hook h = one_frame;
	if (mallctl("experimental.hooks.prof_backtrace", NULL, NULL, &h, sizeof(h)) != 0)
		fprintf(stderr, "hook: jemalloc refused the backtrace hook\n");
}
EOF
${CC:-cc} -O2 -shared -fPIC -o "$TMP/hook.so" "$TMP/hook.c"

run() { # NAME ENV... -> a row
	local name=$1 ir
	shift
	ir=$(env "$@" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BENCH" 1 "$OPS" 2>&1 |
		awk '/Collected/ {print $4}')
	[ -n "$ir" ] || { echo "jemalloc-prof.sh: no count for $name" >&2; exit 1; }
	[ -n "${base:-}" ] || base=$ir
	printf '%-44s %14s %7.3fx\n' "$name" "$ir" "$(awk -v a="$ir" -v b="$base" 'BEGIN{print a/b}')"
}
echo "callgrind instructions, malloc_bench 1 thread, $OPS operations, over jemalloc"
printf '%-44s %14s %8s\n' config instructions ratio
run "bare" LD_PRELOAD=$JE
run "shim stats (forwards only)" LD_PRELOAD="$SHIM $JE" HEADROOM_HEAP_RUN=jp$$ HEADROOM_HEAP_MODE=stats
run "shim sites, 1 GiB interval (a sample or two)" LD_PRELOAD="$SHIM $JE" HEADROOM_HEAP_RUN=jp$$ HEADROOM_HEAP_MODE=sites \
	HEADROOM_HEAP_INTERVAL=1073741824
run "shim sites, 512 KiB" LD_PRELOAD="$SHIM $JE" HEADROOM_HEAP_RUN=jp$$ HEADROOM_HEAP_MODE=sites
run "jemalloc prof compiled in, inactive" LD_PRELOAD=$JE MALLOC_CONF=prof:true,prof_active:false
run "jemalloc prof 512 KiB, libgcc backtrace" LD_PRELOAD=$JE MALLOC_CONF=prof:true,lg_prof_sample:19
run "jemalloc prof 512 KiB, one-frame hook" LD_PRELOAD="$JE $TMP/hook.so" MALLOC_CONF=prof:true,lg_prof_sample:19
