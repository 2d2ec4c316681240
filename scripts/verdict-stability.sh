#!/usr/bin/env bash
# Runs the spike and sawtooth programs N times each under `headroom run` and counts the verdicts:
# a spike (60 MiB held, 400 MiB taken for a few ms every second) must be `spiky` and never
# `sawtooth`; a sawtooth (fills to 100 MiB over 2 s, frees at once) must be `sawtooth`, every time.
# Usage: scripts/verdict-stability.sh [BUILD=build] [N=10]. Prints one line per run and the tally;
# exits 1 unless every run got its verdict. Takes about N x 25 s.
set -euo pipefail
BUILD=${1:-build}
N=${2:-10}
H="$BUILD/headroom"
P="$BUILD/tests/progs"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
good=0 total=0
verdict() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["trend"]["verdict"], ",".join(f["kind"] for f in d["findings"]))' "$1"; }
for i in $(seq 1 "$N"); do
	for prog in spikes sawtooth; do
		case $prog in
		spikes) args=(60 400 20); want=spiky ;;
		sawtooth) args=(100 2000 20); want=sawtooth ;;
		esac
		"$H" run --no-heap --interval 100ms --quiet --record "$tmp/$prog-$i.db" -- "$P/known_$prog" "${args[@]}" \
			>/dev/null 2>"$tmp/err" || { echo "run $i $prog failed: $(cat "$tmp/err")"; continue; }
		"$H" report --json "$tmp/$prog-$i.db" >"$tmp/$prog-$i.json"
		read -r got kinds < <(verdict "$tmp/$prog-$i.json")
		total=$((total + 1))
		if [ "$got" = "$want" ]; then good=$((good + 1)); mark=ok; else mark=WRONG; fi
		echo "$mark run $i $prog: verdict $got (findings: $kinds)"
	done
done
echo "verdict-stability: $good of $total runs got their verdict"
[ "$good" -eq "$total" ]
