#!/usr/bin/env bash
# End-to-end cost of the session layer over loopback HTTP (issue 4, item 8), measured with wrk
# against examples/overhead_server.rs: one server without the layer, one with it. Three cases,
# interleaved over several rounds so machine noise spreads evenly:
#   bare          no layer
#   layer+cookie  the layer verifies a valid session cookie on every request (no rotation)
#   layer-cookie  the layer with no cookie
# Prints requests/s and the server's CPU time per request (from /proc: user + system), each the
# median of the rounds, and their ratios to bare. On a small shared machine wrk and the server
# compete for the same cores, so CPU per request is the steadier of the two figures.
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
PID_bare=${PIDS[-1]}
start layer --layer on --cookie-file "$TMP/cookie"
PID_layer=${PIDS[-1]}
COOKIE=$(cat "$TMP/cookie") # "Cookie: session=…"; a secret, never printed

TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# measure PID URL [extra wrk args]: "requests/s server-CPU-us-per-request" of one run; fails on
# any non-2xx response.
measure() {
    local pid=$1 url=$2; shift 2
    local out before after
    before=$(cpu_ticks "$pid")
    out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" -H "User-Agent: $UA" "$@" "$url")
    after=$(cpu_ticks "$pid")
    if grep -q 'Non-2xx' <<<"$out"; then echo "non-2xx responses from $url" >&2; echo "$out" >&2; exit 1; fi
    awk -v t="$((after - before))" -v hz="$TICK" '
        /requests in/ { n = $1 } /^Requests\/sec:/ { r = $2 }
        END { printf "%s %.2f\n", r, t * 1e6 / hz / n }' <<<"$out"
}

# The cookie must really verify, before and after, or the figures measure the refusal path.
check_session() {
    local out
    out=$(wrk -t1 -c1 -d1s -H "User-Agent: $UA" -H "$COOKIE" "$URL_layer/check")
    if grep -q 'Non-2xx' <<<"$out"; then echo "the session cookie did not verify" >&2; exit 1; fi
}

check_session
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s, $ROUNDS rounds, on $(nproc) cores"
declare -a BARE=() WITH=() WITHOUT=() BARE_CPU=() WITH_CPU=() WITHOUT_CPU=()
for round in $(seq "$ROUNDS"); do
    read -r r c < <(measure "$PID_bare" "$URL_bare/"); BARE+=("$r"); BARE_CPU+=("$c")
    read -r r c < <(measure "$PID_layer" "$URL_layer/" -H "$COOKIE"); WITH+=("$r"); WITH_CPU+=("$c")
    read -r r c < <(measure "$PID_layer" "$URL_layer/"); WITHOUT+=("$r"); WITHOUT_CPU+=("$c")
    echo "round $round: req/s (server CPU us/request): bare ${BARE[-1]} (${BARE_CPU[-1]})" \
        " layer+cookie ${WITH[-1]} (${WITH_CPU[-1]})  layer-cookie ${WITHOUT[-1]} (${WITHOUT_CPU[-1]})"
done
check_session

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
awk -v b="$(median "${BARE[@]}")" -v w="$(median "${WITH[@]}")" -v n="$(median "${WITHOUT[@]}")" \
    -v bc="$(median "${BARE_CPU[@]}")" -v wc="$(median "${WITH_CPU[@]}")" -v nc="$(median "${WITHOUT_CPU[@]}")" '
# The throughput change in words: a ratio above 1 is more requests per second, not fewer.
function change(ratio,    pct) {
    pct = (ratio - 1) * 100
    return pct < 0 ? sprintf("%.1f%% fewer req/s", -pct) : sprintf("%.1f%% more req/s", pct)
}
BEGIN {
    printf "median req/s:             bare %.0f, layer+cookie %.0f, layer-cookie %.0f\n", b, w, n
    printf "median server CPU us/req: bare %.2f, layer+cookie %.2f, layer-cookie %.2f\n", bc, wc, nc
    printf "layer+cookie vs bare: throughput x%.3f (%s), server CPU per request x%.3f (%+.2f us)\n", w / b, change(w / b), wc / bc, wc - bc
    printf "layer-cookie vs bare: throughput x%.3f (%s), server CPU per request x%.3f (%+.2f us)\n", n / b, change(n / b), nc / bc, nc - bc
}'
