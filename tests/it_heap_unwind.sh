#!/usr/bin/env bash
# The heap shim's stack walker (src/shim/heap_unwind.c) records the same frames as libgcc's
# _Unwind_Backtrace on the same stacks: tests/unwind/unwind_cmp.c walks 1,200 random stacks of
# real -O2 code (small, large, alloca'd and variable frames, calls through pointers and through
# libc's qsort and bsearch, 70-deep recursion, three threads) with both, built with and without
# frame pointers; every frame past the walkers' own must be the same, none may be handed to the
# fallback, the second pass must come from the cache, a walk in a signal handler must go to the
# fallback. Then real programs with tests/unwind/unwind_preload.c preloaded (every Nth malloc
# walked by both, the walkers' own library left out as in the shim): sqlite3 (Debian's -O2 C),
# sites_three, a C++ program at -O2, a Rust program at opt-level 3 (no frame pointers), and the
# Rust demo service under load when it was built: no stack may differ, none may be handed to the
# fallback, and each must have walked stacks.
. "$(dirname "$0")/lib.sh"

for v in fp nofp; do
	[ -x "$PROGS/unwind_cmp_$v" ] || { echo "skip: unwind_cmp_$v not built"; exit 77; }
	rc=0; "$PROGS/unwind_cmp_$v" 300 >"$T/$v.out" 2>"$T/$v.err" || rc=$?
	[ $rc = 77 ] && { echo "skip: $(cat "$T/$v.out")"; exit 77; }
	expect_eq "$v: every stack the same as libgcc's ($(cat "$T/$v.out"); $(head -c 600 "$T/$v.err"))" $rc 0
	check "$v: 1201 stacks compared" grep -q "^compared 1201 stacks" "$T/$v.out"
done

LIB="$PROGS/libunwind-cmp.so"
[ -f "$LIB" ] || { fail "libunwind-cmp.so not built"; finish; exit $?; }
# compared LABEL STDERR_FILE: the last summary line says 0 differ, 0 fallback, some stacks
compared() {
	local line
	line=$(grep '^unwind-cmp: ' "$2" | tail -1)
	check "$1: stacks walked ($line)" grep -qE '^unwind-cmp: [1-9][0-9]* stacks' <<<"$line"
	check "$1: none differs from libgcc's ($(grep '^  ' "$2" | head -12 | tr '\n' ' '))" \
		grep -q ' 0 differ' <<<"$line"
	check "$1: none handed to the fallback" grep -q ' 0 fallback' <<<"$line"
}
# (a program that fails leaves no summary line: the checks say so)
UNWIND_CMP_EVERY=1 LD_PRELOAD="$LIB" sqlite3 :memory: \
	"create table t(a); insert into t select randomblob(3000) from generate_series(1, 3000); select count(*) from t" \
	>"$T/sq.out" 2>"$T/sq.err" || true
compared "sqlite3" "$T/sq.err"
# a sanitizer build's programs carry their own malloc (and want their runtime first)
if ! grep -q '^HEADROOM_SANITIZE:STRING=.\+' "$BUILD/CMakeCache.txt" 2>/dev/null; then
	LD_PRELOAD="$LIB" "$PROGS/sites_three" 0.2 </dev/null >"$T/three.out" 2>"$T/three.err" || true
	compared "sites_three" "$T/three.err"
fi
P="$SRC/tests/progs/sym"
if g++ -O2 -o "$T/cpp_prog" "$P/sites.cpp" 2>"$T/gpp.err"; then
	UNWIND_CMP_EVERY=1 LD_PRELOAD="$LIB" "$T/cpp_prog" </dev/null >"$T/cpp.out" 2>"$T/cpp.err" || true
	compared "C++ -O2" "$T/cpp.err"
else
	fail "g++ -O2 sites.cpp: $(head -c 300 "$T/gpp.err")"
fi
RUSTC=$(command -v rustc || echo "$HOME/.cargo/bin/rustc")
if [ -x "$RUSTC" ]; then
	"$RUSTC" -C opt-level=3 -o "$T/rs_prog" "$P/sites.rs" 2>"$T/rustc.err" || fail "rustc: $(head -c 300 "$T/rustc.err")"
	UNWIND_CMP_EVERY=1 LD_PRELOAD="$LIB" "$T/rs_prog" </dev/null >"$T/rs.out" 2>"$T/rs.err" || true
	compared "Rust opt-level 3" "$T/rs.err"
fi
# the Rust demo service (release build), when scripts/build-examples.sh built it: handlers,
# hyper-less std networking, its cache; a summary line every 1024 stacks
RUST="$BUILD/examples/demo-rust-svc"
if [ -x "$RUST" ]; then
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	UNWIND_CMP_EVERY=3 LD_PRELOAD="$LIB" "$RUST" --listen "127.0.0.1:$port" >"$T/svc.out" 2>"$T/svc.err" &
	svc=$!
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/work" >/dev/null 2>&1 && break; sleep 0.1; done
	for _ in $(seq 150); do
		curl -sf "http://127.0.0.1:$port/cache?kb=32" >/dev/null
		curl -sf "http://127.0.0.1:$port/work" >/dev/null
	done
	kill -TERM $svc
	wait $svc || true
	compared "Rust demo service" "$T/svc.err"
fi
finish
