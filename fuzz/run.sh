#!/bin/sh
# A fuzzing campaign over every target (README "Fuzzing"): each runs until it has made RUNS
# executions or spent SECONDS (default 10 million / 1800 s), with no input over 1 s and RSS
# under 512 MB, and its corpus grows in fuzz/corpus/<target>/. A crash stops that target and
# leaves the input in fuzz/artifacts/<target>/: fix it, keep the file (tests/fuzz replays it).
# Usage: fuzz/run.sh [SECONDS] [RUNS] [target…]   (nightly + cargo-fuzz; sanitizer off: the
# crate forbids unsafe code, and the speed is worth more here). libFuzzer's timeout is wall
# time: on a loaded machine a starved run passes 1 s without being slow, so TIMEOUT=N raises it
# and the summary prints the slowest input's own time instead.
set -eu
cd "$(dirname "$0")"
SECONDS_EACH=${1:-1800}
RUNS=${2:-10000000}
shift 2 2>/dev/null || shift $# 
TARGETS=${*:-$(ls fuzz_targets | sed 's/\.rs$//')}
mkdir -p logs
for t in $TARGETS; do
    mkdir -p "corpus/$t" "artifacts/$t"
    cargo +nightly fuzz run -s none -O "$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_EACH" -runs="$RUNS" -rss_limit_mb=512 -timeout="${TIMEOUT:-1}" \
        -print_final_stats=1 -artifact_prefix="artifacts/$t/" >"logs/$t.log" 2>&1 || true
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' || echo "?")
    rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' || echo "?")
    slow=$(grep -o 'stat::slowest_unit_time_sec: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' || echo "?")
    crashes=$(ls "artifacts/$t" | wc -l)
    echo "$t: $execs executions, peak RSS ${rss} MB, slowest input ${slow} s, $crashes crash/timeout files"
done
