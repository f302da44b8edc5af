#!/usr/bin/env bash
# The cost curve (issue 12, goal 6): how the cost of a verify moves with what a deployment
# accumulates, written to benches/cost-curve.csv, plotted to docs/cost-curve.png and tabulated
# in README.md (between the cost-curve markers) by benches/cost-curve.py.
#
#   verify vs revocations held    10k .. 1M ids in the epoch the session probes, default
#                                 filter config (100k per filter; past that the generation grows
#                                 more filters): instructions and simulated last-level data
#                                 misses per cold verify (callgrind, benches/instructions.sh)
#   verify vs application data    0 .. 256 bytes: instructions per cold verify and token open
#   verify vs keys in the ring    1 .. 255 keys, the token sealed with the last: instructions
#   throughput vs threads         1, 2 threads verifying while 1,000 revocations/s arrive:
#                                 criterion (cargo bench --bench sessions -- verify_scaling)
#   memory vs revocations held    filter bytes and process RSS growth (instr-probe memory)
#   catch-up vs backlog           a node down while N revocations arrived, until ready again:
#                                 examples/feed_latency --catch-up (own redis-server)
#
# Usage: benches/cost-curve.sh        (SKIP_CRITERION=1 / SKIP_FEED=1 leave those parts out;
#        REVOKED_SIZES, APP_SIZES, KEY_COUNTS, BACKLOGS override the x values)
# Needs valgrind, python3 (matplotlib is pip-installed if missing), redis-server for the feed.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
CSV=benches/cost-curve.csv
# Verify cost is counted up to 1M: filling 10M ids under valgrind's cache simulation takes
# longer than the rest of the script (VERIFY_REVOKED_SIZES="... 10000000" if you have the time).
VERIFY_REVOKED_SIZES=${VERIFY_REVOKED_SIZES:-"10000 100000 1000000"}
REVOKED_SIZES=${REVOKED_SIZES:-"10000 100000 1000000 10000000"}
APP_SIZES=${APP_SIZES:-"0 32 64 128 256"}
KEY_COUNTS=${KEY_COUNTS:-"1 2 16 64 255"}
BACKLOGS=${BACKLOGS:-"1000,10000,100000"}

TMP=$(mktemp)
trap 'rm -f "$TMP"' EXIT
echo "series,x,metric,value,unit,method" >"$TMP"
row() { echo "$1,$2,$3,$4,$5,$6" >>"$TMP"; }
count() { bash benches/instructions.sh --count "$@"; }
echo "load at start: $(uptime)"

echo "== verify vs revocations held (callgrind, cache simulation)"
for n in $VERIFY_REVOKED_SIZES; do
    # One run each (filling 10M ids under valgrind takes minutes): count / 500.
    read -r ir ll < <(CACHE_SIM=1 SINGLE=1 N_LONG=500 count session_verify_cold --revoked "$n")
    echo "  $n revoked: $ir instructions, $ll LL data misses per verify"
    row revocations "$n" instructions "$ir" instr/verify callgrind
    row revocations "$n" ll_data_misses "$ll" misses/verify callgrind-cache-sim
done

echo "== verify vs application data (callgrind)"
for b in $APP_SIZES; do
    v=$(count session_verify_cold --app-data "$b")
    o=$(count token_open --app-data "$b")
    echo "  $b bytes: verify $v, token open $o instructions"
    row app_data "$b" instructions "$v" instr/verify callgrind
    row app_data "$b" open_instructions "$o" instr/open callgrind
done

echo "== verify vs keys in the ring (callgrind)"
for k in $KEY_COUNTS; do
    v=$(count session_verify_cold --keys "$k")
    echo "  $k keys: $v instructions"
    row keys "$k" instructions "$v" instr/verify callgrind
done

echo "== memory vs revocations held"
PROBE=benches/instructions/target/release/instr-probe
for n in $REVOKED_SIZES; do
    read -r _ bytes _ rss < <("$PROBE" memory --revoked "$n")
    echo "  $n revoked: filters $bytes bytes, RSS +$rss KiB"
    row memory "$n" filter_bytes "$bytes" bytes instr-probe
    row memory "$n" rss_kib "$rss" KiB instr-probe
done

# keep SERIES: a skipped part keeps its rows from the previous CSV, if any.
keep() { [ -f "$CSV" ] && grep "^$1," "$CSV" >>"$TMP" || true; }

if [ "${SKIP_CRITERION:-0}" = 1 ]; then
    keep threads
else
    echo "== throughput vs threads (criterion)"
    cargo bench --quiet --bench sessions -- verify_scaling >/dev/null 2>&1 ||
        echo "cargo bench --bench sessions -- verify_scaling failed" >&2
    for t in 1 2; do
        est=target/criterion/verify_scaling/threads/$t/new/estimates.json
        [ -f "$est" ] || { echo "no $est (was the verify_scaling group renamed?): threads not measured" >&2; continue; }
        ns=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["median"]["point_estimate"])' "$est")
        ops=$(awk -v ns="$ns" 'BEGIN { printf "%.0f", 1e9 / ns }')
        echo "  $t threads: $ops verifies/s"
        row threads "$t" throughput "$ops" verifies/s criterion
    done
fi

if [ "${SKIP_FEED:-0}" = 1 ]; then
    keep catch_up
else
    echo "== catch-up vs backlog (examples/feed_latency, own redis-server)"
    command -v redis-server >/dev/null || { echo "redis-server is required (apt-get install -y redis-server)" >&2; exit 1; }
    cargo build --quiet --release --features redis --example feed_latency
    while read -r _ _ n _ pub _ _ ready _ _ total _ _ missing; do
        n=${n%:}
        echo "  backlog $n: ready after ${ready} s (published in ${pub} s), missing ${missing}"
        row catch_up "$n" ready_s "$ready" s wall-clock
        row catch_up "$n" missing "$missing" ids wall-clock
    done < <(target/release/examples/feed_latency --catch-up "$BACKLOGS" | grep '^catch-up backlog' | tr -d ',')
fi
echo "load at end: $(uptime)"

mv "$TMP" "$CSV"
trap - EXIT
echo "wrote $CSV"
if ! python3 -c 'import matplotlib' 2>/dev/null; then
    python3 -m pip install --quiet matplotlib || echo "matplotlib could not be installed: no plot" >&2
fi
python3 benches/cost-curve.py "$CSV" docs/cost-curve.png README.md
