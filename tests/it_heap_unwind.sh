#!/usr/bin/env bash
# The heap shim's stack walker (src/shim/heap_unwind.c) records the same frames as libgcc's
# _Unwind_Backtrace on the same stacks: tests/unwind/unwind_cmp.c walks 1,200 random stacks of
# real -O2 code (small, large, alloca'd and variable frames, calls through pointers and through
# libc's qsort and bsearch, 70-deep recursion, three threads) with both, built with and without
# frame pointers; every frame past the walkers' own must be the same, none may be handed to the
# fallback, the second pass must come from the cache, a walk in a signal handler must go to the
# fallback.
. "$(dirname "$0")/lib.sh"

for v in fp nofp; do
	[ -x "$PROGS/unwind_cmp_$v" ] || { echo "skip: unwind_cmp_$v not built"; exit 77; }
	rc=0; "$PROGS/unwind_cmp_$v" 300 >"$T/$v.out" 2>"$T/$v.err" || rc=$?
	[ $rc = 77 ] && { echo "skip: $(cat "$T/$v.out")"; exit 77; }
	expect_eq "$v: every stack the same as libgcc's ($(cat "$T/$v.out"); $(head -c 600 "$T/$v.err"))" $rc 0
	check "$v: 1200 stacks compared" grep -q "^compared 1200 stacks" "$T/$v.out"
done
finish
