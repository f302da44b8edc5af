#!/usr/bin/env bash
# The long fuzz run (fuzz/README.md): every target for its own number of seconds, at most
# FUZZ_JOBS (default 2) at once, at niceness FUZZ_NICE (default 0: on a busy shared machine a
# niced fuzzer gets a small fraction of a core and the wall-clock budget buys few executions). Fails on any crash, leak, timeout or out-of-memory (libFuzzer's exit status) and
# prints the executions of each target and their total.
#
#   fuzz/run-long.sh [target:seconds ...]
#
# Without arguments, the durations below (about 33 minutes of wall time with two jobs). How many
# executions that buys depends on the machine's load: fuzz/README.md has what it gave here and
# the top-up runs that took the total past 10^8. Logs go to fuzz/artifacts/long-<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1 CARGO_TERM_COLOR=never
jobs="${FUZZ_JOBS:-2}"
export FUZZ_NICE="${FUZZ_NICE:-0}"
plan=("$@")
if [ "${#plan[@]}" -eq 0 ]; then
    plan=(claims:900 open:600 layer:420 dpop_proof:240 key_file:300 snapshot:300 snapshot_body:300
        log_recovery:300 stream_record:600)
fi

echo "== fuzz: build"
cargo fuzz build
echo "== fuzz: seeds"
cargo run --quiet --manifest-path fuzz/Cargo.toml --example seeds
mkdir -p fuzz/artifacts

run_one() {
    local target="${1%%:*}" secs="${1##*:}"
    local log="fuzz/artifacts/long-$target.log"
    mkdir -p "fuzz/corpus/$target"
    local seeds=()
    [ -d "fuzz/seeds/$target" ] && seeds=("fuzz/seeds/$target")
    local status=0
    nice -n "$FUZZ_NICE" cargo fuzz run "$target" "fuzz/corpus/$target" "${seeds[@]}" -- \
        -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1 || status=$?
    local runs
    runs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)"
    echo "$target $secs ${runs:-0} $status"
}
export -f run_one

results="$(printf '%s\n' "${plan[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}')"
total=0
failed=0
printf '%-14s %8s %14s %s\n' target seconds executions result
while read -r target secs runs status; do
    total=$((total + runs))
    verdict="0 crashes"
    if [ "$status" -ne 0 ]; then
        verdict="FAILED (exit $status, see fuzz/artifacts/long-$target.log)"
        failed=1
    fi
    printf '%-14s %8s %14s %s\n' "$target" "$secs" "$runs" "$verdict"
done <<<"$results"
printf '%-14s %8s %14s\n' total "" "$total"
exit "$failed"
