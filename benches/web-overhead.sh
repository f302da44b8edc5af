#!/usr/bin/env bash
# End-to-end cost of the session layer over loopback HTTP (issue 4, item 8), measured with wrk
# against examples/overhead_server.rs: one server without the layer, one with it. Three cases,
# interleaved over several rounds so machine noise spreads evenly:
#   bare          no layer
#   layer+cookie  the layer verifies a valid session cookie on every request (no rotation)
#   layer-cookie  the layer with no cookie
# Prints requests/s (median of the rounds) and the ratio to bare.
#
# Usage: benches/web-overhead.sh [seconds per run, default 10] [rounds, default 3]
# Env:   CONNS (default 2), THREADS (default 1). Needs wrk (apt-get install -y wrk).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${1:-10}
ROUNDS=${2:-3}
CONNS=${CONNS:-2}
THREADS=${THREADS:-1}
UA="wrk-overhead" # the User-Agent the server's session is bound to

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
cargo build --quiet --release --features web --example overhead_server
BIN=target/release/examples/overhead_server

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

# start NAME ARGS...: runs the server, waits for its address, sets URL_<NAME>.
start() {
    local name=$1; shift
    "$BIN" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    PIDS+=("$!")
    for _ in $(seq 100); do
        if grep -q '^listening on ' "$TMP/$name.out"; then
            printf -v "URL_$name" '%s' "$(sed -n 's/^listening on //p' "$TMP/$name.out")"
            return
        fi
        sleep 0.1
    done
    echo "server $name did not start:" >&2; cat "$TMP/$name.err" >&2; exit 1
}

start bare --layer off
start layer --layer on --cookie-file "$TMP/cookie"
COOKIE=$(cat "$TMP/cookie") # "Cookie: session=…"; a secret, never printed

# rps URL [extra wrk args]: requests/s of one run; fails on any non-2xx response.
rps() {
    local url=$1; shift
    local out
    out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" -H "User-Agent: $UA" "$@" "$url")
    if grep -q 'Non-2xx' <<<"$out"; then echo "non-2xx responses from $url" >&2; echo "$out" >&2; exit 1; fi
    awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}

# The cookie must really verify, before and after, or the figures measure the refusal path.
check_session() {
    local out
    out=$(wrk -t1 -c1 -d1s -H "User-Agent: $UA" -H "$COOKIE" "$URL_layer/check")
    if grep -q 'Non-2xx' <<<"$out"; then echo "the session cookie did not verify" >&2; exit 1; fi
}

check_session
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s, $ROUNDS rounds, on $(nproc) cores"
declare -a BARE=() WITH=() WITHOUT=()
for round in $(seq "$ROUNDS"); do
    BARE+=("$(rps "$URL_bare/")")
    WITH+=("$(rps "$URL_layer/" -H "$COOKIE")")
    WITHOUT+=("$(rps "$URL_layer/")")
    echo "round $round: bare ${BARE[-1]}  layer+cookie ${WITH[-1]}  layer-cookie ${WITHOUT[-1]} req/s"
done
check_session

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
B=$(median "${BARE[@]}")
W=$(median "${WITH[@]}")
N=$(median "${WITHOUT[@]}")
awk -v b="$B" -v w="$W" -v n="$N" 'BEGIN {
    printf "median req/s: bare %.0f, layer+cookie %.0f, layer-cookie %.0f\n", b, w, n
    printf "layer+cookie / bare = %.3f (throughput cost %.1f%%, +%.2f us per request)\n", w / b, (1 - w / b) * 100, (1e6 / w - 1e6 / b)
    printf "layer-cookie / bare = %.3f (throughput cost %.1f%%)\n", n / b, (1 - n / b) * 100
}'
