#!/usr/bin/env bash
# The heap shim's cost, side by side: malloc_bench (tests/progs/malloc_bench.c: mixed sizes,
# free+malloc over a ring, 1/16 realloc) run bare, under the shim's stats, count and sites modes, under
# heaptrack and under glibc's libmemusage.so, over glibc and over jemalloc, at 1 and 2 threads.
# Prints the best CPU time (all threads of the benchmark process) and the best wall time of REPS
# interleaved runs, each as a ratio to bare (the machine is shared: CPU time leaves out the waits
# for a core, the minimum is the least disturbed run). heaptrack and memusage do part of their
# work outside the measured process (heaptrack_interpret, the writer): their wall ratio is the
# fair one. "paired" is the median over the REPS of each run's CPU time over the bare run just
# before it (the same minute of a machine whose speed drifts by several % from minute to minute:
# the steadier figure of the two); then callgrind instruction counts (noise-free,
# but blind to cache effects: an instruction that hits L1 costs less than a malloc's miss).
#
# stats+r and count+r run the benchmark under `headroom run --heap MODE` (a reader asking at its
# default interval, answered by the shim's service thread): its CPU time includes the answers;
# stats and count have the shim but nobody asking (the cost of merely being preloaded).
#
# usage: bench/heap-shim.sh [BUILD_DIR]      env: OPS (per thread, default 2000000), REPS (5),
#        CALLGRIND=0 to skip the instruction counts, SLOW=0 to skip heaptrack and memusage.
set -euo pipefail

BUILD=${1:-build}
OPS=${OPS:-2000000}
REPS=${REPS:-5}
BENCH=$BUILD/tests/progs/malloc_bench
HEADROOM=$BUILD/headroom
SHIM=$(realpath "$BUILD/libheadroom-heap.so")
JE=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
MEMUSAGE=/usr/lib/x86_64-linux-gnu/libmemusage.so
[ -x "$BENCH" ] && [ -f "$SHIM" ] || { echo "heap-shim.sh: build first (make build)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
RUN=bench$$

# sites/sites+r: sites mode (sampled allocation sites) at its default interval (512Ki, or
# SITES_INTERVAL bytes); sites+r under `headroom run --heap sites`, which also reads the site
# tables once a second.
SITES_INTERVAL=${SITES_INTERVAL:-524288}

# run CONFIG ALLOC THREADS -> seconds (as the benchmark measured them)
run() {
	local config=$1 alloc=$2 threads=$3 pre=""
	[ "$alloc" = jemalloc ] && pre=$JE
	# one recording at a time, removed first: headroom never overwrites one, and a name drawn
	# from $RANDOM came up twice in a run now and then (an empty result ended the script)
	rm -f "$TMP/r.db"
	case $config in
	bare)  env ${pre:+LD_PRELOAD=$pre} "$BENCH" "$threads" "$OPS" ;;
	stats) env LD_PRELOAD="$SHIM${pre:+ $pre}" HEADROOM_HEAP_RUN=$RUN HEADROOM_HEAP_MODE=stats "$BENCH" "$threads" "$OPS" ;;
	count) env LD_PRELOAD="$SHIM${pre:+ $pre}" HEADROOM_HEAP_RUN=$RUN HEADROOM_HEAP_MODE=count "$BENCH" "$threads" "$OPS" ;;
	sites) env LD_PRELOAD="$SHIM${pre:+ $pre}" HEADROOM_HEAP_RUN=$RUN HEADROOM_HEAP_MODE=sites \
		HEADROOM_HEAP_INTERVAL=$SITES_INTERVAL "$BENCH" "$threads" "$OPS" ;;
	sites+r)
		env ${pre:+LD_PRELOAD=$pre} "$HEADROOM" run --quiet --heap sites --heap-interval "$SITES_INTERVAL" \
			--record "$TMP/r.db" -- "$BENCH" "$threads" "$OPS" 2>/dev/null ;;
	stats+r|count+r)
		env ${pre:+LD_PRELOAD=$pre} "$HEADROOM" run --quiet --heap "${config%+r}" --record "$TMP/r.db" \
			-- "$BENCH" "$threads" "$OPS" 2>/dev/null ;;
	heaptrack) env ${pre:+LD_PRELOAD=$pre} heaptrack -o "$TMP/ht" "$BENCH" "$threads" "$OPS" 2>/dev/null | grep -E '^[0-9.]+ [0-9]+ [0-9.]+$' ;;
	memusage) env LD_PRELOAD="$MEMUSAGE${pre:+ $pre}" MEMUSAGE_OUTPUT="$TMP/mu" "$BENCH" "$threads" "$OPS" 2>/dev/null ;;
	esac | awk 'NR==1 {print $1, $3}'
}

# min A B -> the smaller
min() { awk -v a="$1" -v b="$2" 'BEGIN{print (b == "" || a < b) ? a : b}'; }

configs=(bare stats count sites)
[ -x "$HEADROOM" ] && configs+=(stats+r count+r sites+r)
if [ "${SLOW:-1}" = 1 ]; then
	command -v heaptrack >/dev/null && configs+=(heaptrack)
	[ -f "$MEMUSAGE" ] && configs+=(memusage)
fi
allocs=(glibc)
[ -f "$JE" ] && allocs+=(jemalloc)

# median of the numbers on stdin
median() { sort -g | awk '{a[NR] = $1} END {print NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

printf '%-8s %-9s %-10s %8s %7s %7s %8s %7s\n' threads malloc config cpu_s ratio paired wall_s ratio
for threads in 1 2; do
	for alloc in "${allocs[@]}"; do
		declare -A cpu=() wall=() pairs=()
		for ((r = 0; r < REPS; r++)); do
			for c in "${configs[@]}"; do
				# the slow tools once: their ratio is several x, noise does not matter
				if [ $r -gt 0 ] && { [ "$c" = heaptrack ] || [ "$c" = memusage ]; }; then continue; fi
				read -r w t < <(run "$c" "$alloc" "$threads") ||
					{ echo "heap-shim.sh: $c, $alloc, $threads threads: no result" >&2; exit 1; }
				cpu[$c]=$(min "$t" "${cpu[$c]:-}")
				wall[$c]=$(min "$w" "${wall[$c]:-}")
				[ "$c" = bare ] && bare_t=$t
				pairs[$c]="${pairs[$c]:-} $(awk -v a="$t" -v b="$bare_t" 'BEGIN{print a/b}')"
			done
		done
		for c in "${configs[@]}"; do
			printf '%-8s %-9s %-10s %8.4f %6.3fx %6.3fx %8.4f %6.3fx\n' "$threads" "$alloc" "$c" "${cpu[$c]}" \
				"$(awk -v a="${cpu[$c]}" -v b="${cpu[bare]}" 'BEGIN{print a/b}')" \
				"$(tr ' ' '\n' <<<"${pairs[$c]}" | grep . | median)" "${wall[$c]}" \
				"$(awk -v a="${wall[$c]}" -v b="${wall[bare]}" 'BEGIN{print a/b}')"
		done
		unset cpu wall pairs
	done
done

if [ "${CALLGRIND:-1}" = 1 ] && command -v valgrind >/dev/null; then
	echo
	echo "callgrind instructions (1 thread, $((OPS / 4)) ops)"
	printf '%-8s %-6s %14s %7s\n' malloc config instructions ratio
	for alloc in "${allocs[@]}"; do
		pre=""
		[ "$alloc" = jemalloc ] && pre=$JE
		base=""
		for c in bare stats count sites; do
			case $c in
			bare) envs=(${pre:+LD_PRELOAD=$pre}) ;;
			*) envs=(LD_PRELOAD="$SHIM${pre:+ $pre}" HEADROOM_HEAP_RUN=$RUN HEADROOM_HEAP_MODE=$c
				HEADROOM_HEAP_INTERVAL=$SITES_INTERVAL) ;;
			esac
			ir=$(env "${envs[@]}" valgrind --tool=callgrind --callgrind-out-file=/dev/null \
				"$BENCH" 1 $((OPS / 4)) 2>&1 | awk '/Collected/ {print $4}')
			[ -z "$base" ] && base=$ir
			printf '%-8s %-6s %14s %6.3fx\n' "$alloc" "$c" "$ir" "$(awk -v a="$ir" -v b="$base" 'BEGIN{print a/b}')"
		done
	done
fi
