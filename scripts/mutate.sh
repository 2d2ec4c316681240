#!/usr/bin/env bash
# mutate.sh: does the fast suite catch value bugs? (issue 20.2)
#
# Applies the mutants of scripts/mutants.txt one at a time to a private copy of the tree, rebuilds
# it (build-mutate/, never build/), runs the unit tests (ctest -R '^test_') with a timeout, and
# prints the score and the survivors. Every mutant faces the whole unit suite, in two phases: the
# fast tests first (a kill there ends the mutant's turn), then the slow ones (those that took
# MUTATE_SLOW_S or more in the unmutated run: test_heap's real processes, test_load_run's
# servers), which only the mutants that survive the fast phase wait for. A mutant is one line of
# mutants.txt:
#
#     file <TAB> text to find <TAB> text to put instead [<TAB> why it is a realistic bug]
#
# The text is matched literally (not a regex) and must occur exactly once in the file, so a mutant
# survives line moves; a mutant whose text is gone (or now ambiguous) is STALE, not killed.
# The working tree is never edited: the copy under build-mutate/src is refreshed at every start and
# each mutated file is restored after its mutant, even when interrupted (trap).
#
# Usage: scripts/mutate.sh [-k REGEX] [-t SECONDS] [-j N] [-x REGEX]
#   -k REGEX    only mutants whose line matches REGEX (extended, e.g. -k 'src/base/|rps')
#   -t SECONDS  timeout of each phase of the unit suite per mutant (default 240)
#   -j N        parallel build and test jobs (default 2)
#   -x REGEX    leave out the unit tests matching REGEX (one that fails without a mutant on a busy
#               machine, e.g. -x test_heap, would count every mutant as killed)
# Run it niced: `nice -n 10 scripts/mutate.sh`. Exit 0 when the score reaches MUTATE_MIN_PCT.
set -u

# 85 %: the bar issue 20 sets for the suite (it stood at 37.5 % on 16 mutants when filed)
MUTATE_MIN_PCT=85
# a unit test this slow unmutated runs after the others, and only for a mutant they did not kill
MUTATE_SLOW_S=2

here=$(cd "$(dirname "$0")/.." && pwd)
list="$here/scripts/mutants.txt"
work="$here/build-mutate"
filter=""
tmo=240
jobs=2
exclude=""
while getopts "k:t:j:x:" o; do
	case $o in
	k) filter=$OPTARG ;;
	t) tmo=$OPTARG ;;
	j) jobs=$OPTARG ;;
	x) exclude=$OPTARG ;;
	*) echo "usage: $0 [-k REGEX] [-t SECONDS] [-j N] [-x REGEX]" >&2; exit 2 ;;
	esac
done
case $tmo$jobs in *[!0-9]*) echo "mutate: -t and -j take whole numbers, e.g. -t 240 -j 2" >&2; exit 2 ;; esac
[ -r "$list" ] || { echo "mutate: no mutant list at $list" >&2; exit 2; }

started=$(date +%s)
src="$work/src"
bld="$work/build"
log="$work/log"
mkdir -p "$src" "$bld" "$log"

# The copy: tracked and untracked-but-not-ignored files of the working tree as they are now. Only
# a file whose content differs is written, and then with the current time: the build under
# $work must see it as new even when the working tree's file is older than an object built from
# a mutant (a run interrupted mid-mutant, whose source was restored but not rebuilt); a file
# left alone keeps the time its build already matches.
(cd "$here" && git ls-files -z --cached --others --exclude-standard) | python3 -c '
import os, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
for rel in sys.stdin.buffer.read().split(b"\0"):
    if not rel:
        continue
    s, d = os.path.join(src.encode(), rel), os.path.join(dst.encode(), rel)
    if os.path.islink(s):
        t = os.readlink(s)
        if os.path.islink(d) and os.readlink(d) == t:
            continue
        if os.path.lexists(d):
            os.remove(d)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        os.symlink(t, d)
        continue
    if not os.path.isfile(s):
        continue   # deleted in the working tree, not yet in the index
    with open(s, "rb") as f:
        data = f.read()
    if os.path.isfile(d) and not os.path.islink(d):
        with open(d, "rb") as f:
            if f.read() == data:
                continue
    if os.path.lexists(d):
        os.remove(d)
    os.makedirs(os.path.dirname(d), exist_ok=True)
    with open(d, "wb") as f:
        f.write(data)
    shutil.copymode(s, d)
' "$here" "$src" || { echo "mutate: could not copy the tree to $src" >&2; exit 2; }

current=""  # the file under mutation, restored by the trap
restore() {
	if [ -n "$current" ] && [ -f "$current.mutate-orig" ]; then
		mv -f "$current.mutate-orig" "$current"
		touch "$current"
	fi
	current=""
}
trap 'restore' EXIT
trap 'restore; echo "mutate: interrupted, source restored" >&2; exit 130' INT TERM HUP

# the unit tests' executables and the heap shim that test_heap preloads: the CLI, tools, benches
# and examples are not what is run
build() { cmake --build "$bld" -j"$jobs" --target $targets >"$1" 2>&1; }
# ctest over the unit tests: -R and -E given by the caller (one of each: ctest keeps the last)
ctest_run() {
	(cd "$bld" && timeout -k 10 "$tmo" ctest -j"$jobs" --timeout "$tmo" "$@")
}
# One phase fails only when a failure repeats: the failed tests are run again, and if they pass the
# second time the phase is run once more in full. A test that fails now and then on a loaded
# machine (timings, peaks) must not count a mutant as killed; a real kill fails every time.
# $out ends up holding only the failures that decided (what "KILLED ... by" names); a failure
# that did not repeat stays in $out.first.
phase() {
	local out=$1
	shift
	ctest_run "$@" --stop-on-failure >"$out" 2>&1 && return 0
	mv -f "$out" "$out.first"
	if ! ctest_run "$@" --rerun-failed >"$out.again" 2>&1; then
		cat "$out.first" "$out.again" >"$out"
		return 1
	fi
	ctest_run "$@" >"$out" 2>&1
}
# the whole unit suite: the fast tests, then (if they all pass) the slow ones
suite() {
	phase "$1" -R '^test_' ${fast_skip:+-E "$fast_skip"} || return 1
	[ -n "$slow" ] || return 0
	phase "$1.slow" -R "$slow" ${exclude:+-E "$exclude"} && return 0
	cat "$1.slow" >>"$1"
	return 1
}

echo "mutate: configuring and building the unmutated copy in $bld"
cmake -S "$src" -B "$bld" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$log/configure" 2>&1 ||
	{ echo "mutate: cmake failed (see $log/configure)" >&2; exit 2; }
targets=$(cd "$bld" && ctest -N -R '^test_' ${exclude:+-E "$exclude"} | awk '/Test +#/ {print $3}' | tr '\n' ' ')
[ -n "$targets" ] || { echo "mutate: no unit tests found" >&2; exit 2; }
targets="$targets headroom-heap"
# everything once (the shim and the test programs test_heap runs), then only the unit tests
cmake --build "$bld" -j"$jobs" >"$log/build-base" 2>&1 || { echo "mutate: the unmutated tree does not build (see $log/build-base)" >&2; exit 2; }
# the unmutated suite in one phase, which also times every test
slow="" fast_skip=$exclude
if ! phase "$log/suite-base" -R '^test_' ${exclude:+-E "$exclude"}; then
	echo "mutate: the unit suite fails without any mutant (see $log/suite-base); fix that first" >&2
	grep -E 'Failed|Timeout' "$log/suite-base" >&2
	exit 2
fi
# "12/30 Test  #7: test_heap ....   Passed   43.40 sec": the slow ones, as one anchored regex
slow=$(awk -v lim="$MUTATE_SLOW_S" '/Test +#[0-9]+: test_/ && / sec$/ { if ($(NF-1) + 0 >= lim) print $4 }' \
	"$log/suite-base" | sort -u | paste -sd'|')
if [ -n "$slow" ]; then
	slow="^($slow)\$"
	fast_skip="$slow${exclude:+|$exclude}"
	echo "mutate: slow unit tests, run only for the mutants the others miss: $slow"
fi

# literal, exactly-once replacement; exit 3 when the text is missing, 4 when it is not unique
apply() {
	python3 - "$1" "$2" "$3" <<'EOF'
import sys
path, old, new = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path, encoding="utf-8").read()
n = text.count(old)
if n == 0:
    sys.exit(3)
if n > 1:
    sys.exit(4)
open(path, "w", encoding="utf-8").write(text.replace(old, new, 1))
EOF
}

total=0 killed=0 stale=0 broke=0
survivors=() stales=()
lineno=0
while IFS= read -r line <&3; do
	lineno=$((lineno + 1))
	case $line in '' | '#'*) continue ;; esac
	[ -n "$filter" ] && ! [[ $line =~ $filter ]] && continue
	IFS=$'\t' read -r file old new why <<<"$line"
	id="L$lineno ${file#src/}"
	if [ -z "${file:-}" ] || [ -z "${old:-}" ] || [ ! -f "$src/$file" ]; then
		echo "STALE   $id: no such file or malformed line"
		stale=$((stale + 1)); stales+=("$id"); continue
	fi
	cp -p "$src/$file" "$src/$file.mutate-orig"
	current="$src/$file"
	apply "$src/$file" "$old" "${new:-}"
	rc=$?
	if [ $rc -ne 0 ]; then
		restore
		reason="text not found"; [ $rc -eq 4 ] && reason="text not unique"
		echo "STALE   $id: $reason: $old"
		stale=$((stale + 1)); stales+=("$id: $old"); continue
	fi
	if ! build "$log/build-$lineno"; then
		# a mutant the compiler rejects (-Werror) tests nothing: not counted either way
		echo "INVALID $id (does not compile, see $log/build-$lineno): $old -> $new"
		broke=$((broke + 1)); restore; continue
	fi
	total=$((total + 1))
	if suite "$log/suite-$lineno"; then
		echo "SURVIVE $id: $old -> $new"
		survivors+=("$id: '$old' -> '$new'${why:+ ($why)}")
	else
		by=$(grep -oE 'test_[a-z0-9_]+ \(?(Failed|Timeout|SEGFAULT|Subprocess aborted)' "$log/suite-$lineno" |
			awk '{print $1}' | sort -u | tr '\n' ' ')
		echo "KILLED  $id by ${by:-timeout}: $old -> $new"
		killed=$((killed + 1))
	fi
	restore
done 3<"$list"
# leave the copy's build matching its source
[ $total -gt 0 ] && build "$log/build-final"

echo
echo "mutants: $total run, $killed killed, $((total - killed)) survived; $stale stale, $broke invalid (do not compile)"
pct=0
[ $total -gt 0 ] && pct=$((killed * 100 / total))
echo "score: $pct % (target $MUTATE_MIN_PCT %)"
el=$(($(date +%s) - started))
echo "wall time: $((el / 60))m$((el % 60))s"
if [ ${#survivors[@]} -gt 0 ]; then
	echo "survivors:"
	printf '  %s\n' "${survivors[@]}"
fi
if [ ${#stales[@]} -gt 0 ]; then
	echo "stale (update scripts/mutants.txt):"
	printf '  %s\n' "${stales[@]}"
fi
[ $pct -ge $MUTATE_MIN_PCT ]
