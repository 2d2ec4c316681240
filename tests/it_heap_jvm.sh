#!/usr/bin/env bash
# run --metrics on a real JVM (issue 12): a Java program holding a known 64 MiB of byte arrays
# publishes its heap pools under Micrometer's names (one sample per pool, area="heap"/"nonheap");
# the recorded live heap must be within 10 % of the heap the JVM itself reports used
# (MemoryMXBean, printed by the program for each page), the nonheap pools left out, and the run
# must name the JVM as the source. A free port the kernel picks.
# ctest-labels: timing
. "$(dirname "$0")/lib.sh"

command -v javac >/dev/null && command -v java >/dev/null || { echo "skip: no javac (openjdk-17-jdk-headless)"; exit 77; }
javac -d "$T" "$SRC/tests/progs/java/HeapMetrics.java" || { echo "javac failed"; exit 1; }

# No fixed durations: the program serves five pages (polls, 1 s apart) and exits after the fifth,
# which ends the run; the bound below only turns a hang into a failure.
P=$(free_port)
URL=http://127.0.0.1:$P/metrics
rc=0
timeout 120 "$HEADROOM" run --metrics "$URL" --record "$T/jvm.db" --out "$T/jvm.txt" \
	-- java -Xmx512m -cp "$T" HeapMetrics 127.0.0.1:$P 64 5 >"$T/jvm.out" 2>"$T/jvm.err" || rc=$?
expect_eq "run --metrics ends with the JVM's exit status" $rc 0
check "the JVM served its five pages" grep -q '^done 1024$' "$T/jvm.out"
[ $rc = 0 ] || { cat "$T/jvm.out" "$T/jvm.err"; }
expect_eq "heap mode" "$(q "$T/jvm.db" "select heap_mode from run")" "metrics"
expect_eq "heap status names the JVM and the page" "$(q "$T/jvm.db" "select heap_status from run")" \
	"available: jvm (metrics $URL)"

# the JVM's own figures for its last page (after a System.gc(): used is the live set)
last=$(grep '^served ' "$T/jvm.out" | tail -1)
used=$(echo "$last" | sed -n 's/.* used=\([0-9]*\) .*/\1/p')
committed=$(echo "$last" | sed -n 's/.* committed=\([0-9]*\) .*/\1/p')
live=$(q "$T/jvm.db" "select heap_live from samples where heap_live is not null order by t_ns desc limit 1")
held=$(q "$T/jvm.db" "select heap_held from samples where heap_held is not null order by t_ns desc limit 1")
within "live heap: the heap pools' used, vs MemoryMXBean's used" "${live:-0}" "${used:-1}" 10
check "live heap holds the 64 MiB live set (got ${live:-none})" test "${live:-0}" -ge 67108864
within "live heap vs the 64 MiB live set" "${live:-0}" 67108864 10
# the page a sample holds is one of the last two (the run may end between a poll and a sample);
# each page's used is printed: the live heap is one of them, not one plus the nonheap pools
# (metaspace, code cache: a few MiB, more than pages differ by after their System.gc())
nonheap=$(grep -o 'nonheap=[0-9]*' "$T/jvm.out" | tail -1 | cut -d= -f2)
check "live heap is the used of one of the JVM's pages within 1 % (nonheap ${nonheap:-?} left out)" python3 -c "
import sys, re
live = int(sys.argv[1])
used = [int(m) for m in re.findall(r'^served \\d+ used=(\\d+)', open(sys.argv[2]).read(), re.M)]
sys.exit(0 if any(abs(live - u) <= u / 100 for u in used) else 1)" "${live:-0}" "$T/jvm.out"
# held = committed - used: live + held is the heap the JVM has committed
within "live + held vs MemoryMXBean's committed" "$(( ${live:-0} + ${held:-0} ))" "${committed:-1}" 10
n=$(q "$T/jvm.db" "select count(*) from samples where heap_live is not null")
check "heap figures in the samples ($n)" test "${n:-0}" -ge 3
# a JVM starting on a loaded machine may still refuse connections, or build its first page
# slowly (it collects before each page), past the 3 s start-up grace: those notes are right; any
# other (garbage, status, size, range) is not
n=$(grep "$URL" "$T/jvm.err" | grep -v "cannot connect" | grep -vc "no complete answer within" || true)
expect_eq "no note on a working page but the one saying where the heap comes from" "$n" 1
[ "$n" = 1 ] || cat "$T/jvm.err"
"$HEADROOM" explain "$T/jvm.db" >"$T/explain.txt" 2>&1 || fail "explain exits 0"
check "explain names the JVM" grep -q "jvm (metrics" "$T/explain.txt"
finish
