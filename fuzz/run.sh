#!/usr/bin/env bash
# Runs one fuzz target for a few seconds from its seed corpus (the CTest test of each target,
# label `fuzz`). New inputs and crash artifacts go to WORKDIR in the build tree: the seeds in
# the source tree are read only. A crash fails the test and leaves crash-* in WORKDIR/crashes.
#   fuzz/run.sh TARGET SEEDDIR WORKDIR SECONDS [libFuzzer flags...]
set -euo pipefail
bin=$1 seeds=$2 work=$3 secs=$4
shift 4
# every run starts from the seeds alone: a corpus grown over many runs would make the run's
# start (each input is executed once first) ever longer
rm -rf "$work/corpus"
mkdir -p "$work/corpus" "$work/crashes"
# fuzz/<parser>.dict: the tokens of the format, where it has any worth knowing
dict=$(dirname "$0")/$(basename "$seeds").dict
[ -f "$dict" ] && set -- -dict="$dict" "$@"
# -timeout: one input taking 10 s is a hang worth reporting; -rss_limit_mb: a parser that
# balloons on hostile input is a finding too
exec "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
  -artifact_prefix="$work/crashes/" "$@" "$work/corpus" "$seeds"
