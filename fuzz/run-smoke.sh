#!/usr/bin/env bash
# Fuzz smoke run: builds every cargo-fuzz target, regenerates the seed corpora, and runs each
# target `cargo fuzz list` names (all nine: claims, dpop_proof, key_file, layer, log_recovery,
# open, snapshot, snapshot_body, stream_record) for N seconds (default 20; first argument or
# FUZZ_SECONDS).
# Fails on any crash, leak or timeout (libFuzzer's exit status), and prints the executions of
# each target. The long run is fuzz/run-long.sh (fuzz/README.md).
#
#   fuzz/run-smoke.sh [seconds]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); on a stable toolchain the sanitizer
# flags need RUSTC_BOOTSTRAP=1, set here.
set -euo pipefail
secs="${1:-${FUZZ_SECONDS:-20}}"
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1 CARGO_TERM_COLOR=never

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

echo "== fuzz: build"
cargo fuzz build
echo "== fuzz: seeds"
cargo run --quiet --manifest-path fuzz/Cargo.toml --example seeds

summary=()
for target in $(cargo fuzz list); do
    echo "== fuzz: $target for ${secs}s"
    mkdir -p "fuzz/corpus/$target"
    log="$(mktemp)"
    seeds=()
    [ -d "fuzz/seeds/$target" ] && seeds=("fuzz/seeds/$target")
    status=0
    cargo fuzz run "$target" "fuzz/corpus/$target" "${seeds[@]}" -- \
        -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1 || status=$?
    runs="$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)"
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$log"
        echo "fuzz: $target FAILED (exit $status); artifacts in fuzz/artifacts/$target" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
    summary+=("$target: ${runs:-?} executions in ${secs}s, 0 crashes")
done
printf 'fuzz: %s\n' "${summary[@]}"
