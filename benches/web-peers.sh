#!/usr/bin/env bash
# Per-request cost of the session layer against what an axum user would pick instead, over
# loopback HTTP with wrk (issue 12, goal 1). Four servers, one handler (`GET /` answers
# "hello, world\n"), each with a valid session cookie on every request:
#   bare            examples/overhead_server --layer off (no session at all)
#   sealed          examples/overhead_server --layer on: full verify per request (AEAD open,
#                   claims, IP + User-Agent binding, revocation probe), the revocation filter
#                   holding REVOKED (default 1,000,000) ids in the session's own epoch
#   private-cookie  benches/peers/web-peers: axum-extra's PrivateCookieJar carrying the same
#                   claims as JSON (decrypt, parse, expiry check in a middleware)
#   tower-sessions  benches/peers/web-peers: tower-sessions with its MemoryStore (load the
#                   session, read the claims, expiry check in a middleware)
# Every round runs one wrk per server, the order rotated each round (round r starts with the
# r-th server), so machine noise spreads over all of them. Prints per round and as medians:
# requests/s, p99 latency, and the server's CPU per request (utime + stime from
# /proc/PID/stat, before and after the run, divided by the requests wrk counted); then each
# server's ratios to bare and sealed's ratios to each peer. On a small shared machine wrk and
# the server compete for the same cores: CPU per request is the steadier figure.
#
# Usage: benches/web-peers.sh [rounds, default 5] [seconds per run, default 5]
# Env:   CONNS (default 2), THREADS (wrk threads, default 1), REVOKED (default 1000000),
#        PIN_SERVER / PIN_WRK: CPU lists for taskset, applied to every server / every wrk run
#        alike (default: nothing pinned). Needs wrk and curl (apt-get install -y wrk curl).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-5}
DURATION=${2:-5}
CONNS=${CONNS:-2}
THREADS=${THREADS:-1}
REVOKED=${REVOKED:-1000000}
PIN_SERVER=${PIN_SERVER:-}
PIN_WRK=${PIN_WRK:-}
UA="wrk-overhead" # the User-Agent the sealed session is bound to (examples/overhead_server.rs)
export CARGO_TERM_COLOR=never

for tool in wrk curl; do
    command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install -y $tool" >&2; exit 1; }
done
cargo build --quiet --release --features web --example overhead_server
(cd benches/peers/web-peers && cargo build --quiet --release --locked)
OURS=target/release/examples/overhead_server
PEER=benches/peers/web-peers/target/release/web-peer

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

# pinned CPU-LIST CMD...: becomes CMD (under taskset when a CPU list is given). Always run in
# a subshell (`&` or `$(...)`): the exec makes the background PID the server's own.
pinned() {
    local cpus=$1; shift
    if [ -n "$cpus" ]; then exec taskset -c "$cpus" "$@"; else exec "$@"; fi
}

declare -A PID URL COOKIE
# start NAME CMD...: runs a server with --cookie-file, waits for "listening on http://ADDR".
start() {
    local name=$1; shift
    pinned "$PIN_SERVER" "$@" --cookie-file "$TMP/$name.cookie" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    PIDS+=("$!")
    PID[$name]=$!
    for _ in $(seq 600); do # filling a 1M-entry filter takes a few seconds
        if grep -q '^listening on ' "$TMP/$name.out"; then
            URL[$name]=$(sed -n 's/^listening on //p' "$TMP/$name.out")
            COOKIE[$name]=$(cat "$TMP/$name.cookie" 2>/dev/null || true) # "Cookie: …"; a secret, never printed
            return
        fi
        kill -0 "${PID[$name]}" 2>/dev/null || break
        sleep 0.1
    done
    echo "server $name did not start:" >&2; cat "$TMP/$name.err" >&2; exit 1
}

start bare "$OURS" --layer off
start sealed "$OURS" --layer on --revoked "$REVOKED"
start private-cookie "$PEER" --peer private-cookie
start tower-sessions "$PEER" --peer tower-sessions
SERVERS=(bare sealed private-cookie tower-sessions)

status() { # status URL [curl args]: the HTTP status code
    local url=$1; shift
    curl -s -o /dev/null -w '%{http_code}' -H "User-Agent: $UA" "$@" "$url"
}
# Each cookie must really verify (or the figures measure a refusal), and each session check
# must really refuse without it (or the figures measure no check at all).
check_sessions() {
    local code
    for name in sealed private-cookie tower-sessions; do
        local path=/
        [ "$name" = sealed ] && path=/check # `/` is open to anonymous visitors under the layer
        code=$(status "${URL[$name]}$path" -H "${COOKIE[$name]}")
        [ "$code" = 200 ] || { echo "$name: the session cookie did not verify ($code)" >&2; exit 1; }
        code=$(status "${URL[$name]}$path")
        [ "$code" != 200 ] || { echo "$name: answered 200 without a session" >&2; exit 1; }
    done
}

TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# measure NAME: "requests/s p99-us server-CPU-us-per-request" of one wrk run; fails on any
# non-2xx response.
measure() {
    local name=$1 out before after
    local args=(-t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -H "User-Agent: $UA")
    [ "$name" = bare ] || args+=(-H "${COOKIE[$name]}")
    before=$(cpu_ticks "${PID[$name]}")
    out=$(pinned "$PIN_WRK" wrk "${args[@]}" "${URL[$name]}/")
    after=$(cpu_ticks "${PID[$name]}")
    if grep -q 'Non-2xx' <<<"$out"; then echo "non-2xx responses from $name" >&2; echo "$out" >&2; exit 1; fi
    awk -v t="$((after - before))" -v hz="$TICK" '
        function us(v) { # wrk prints 812.00us, 1.20ms, 2.00s
            if (v ~ /us$/) return v + 0
            if (v ~ /ms$/) return v * 1000
            if (v ~ /s$/) return v * 1e6
            return v
        }
        /requests in/ { n = $1 } /^Requests\/sec:/ { r = $2 } $1 == "99%" { p = us($2) }
        END { printf "%s %.1f %.2f\n", r, p, (n > 0) ? t * 1e6 / hz / n : 0 }' <<<"$out"
}

check_sessions
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s --latency, $ROUNDS rounds, $(nproc) cores," \
    "sealed filter holding $REVOKED revocations, servers pinned to: ${PIN_SERVER:-none}, wrk pinned to: ${PIN_WRK:-none}"
echo "load at start: $(uptime)"
declare -A RPS P99 CPU
for round in $(seq "$ROUNDS"); do
    line="round $round:"
    for i in "${!SERVERS[@]}"; do
        name=${SERVERS[$(((i + round - 1) % ${#SERVERS[@]}))]}
        read -r r p c < <(measure "$name")
        RPS[$name]+="$r "; P99[$name]+="$p "; CPU[$name]+="$c "
        line+=" $name $r req/s p99 ${p}us ${c}us CPU/req;"
    done
    echo "$line"
done
check_sessions
echo "load at end: $(uptime)"

median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A MR MP MC
for name in "${SERVERS[@]}"; do
    MR[$name]=$(median "${RPS[$name]}"); MP[$name]=$(median "${P99[$name]}"); MC[$name]=$(median "${CPU[$name]}")
done
echo
printf '%-16s %12s %10s %14s %14s %14s\n' server "median req/s" "p99 us" "CPU us/req" "req/s vs bare" "CPU vs bare"
for name in "${SERVERS[@]}"; do
    awk -v n="$name" -v r="${MR[$name]}" -v p="${MP[$name]}" -v c="${MC[$name]}" \
        -v br="${MR[bare]}" -v bc="${MC[bare]}" 'BEGIN {
        printf "%-16s %12.0f %10.1f %14.2f %13.3fx %13.3fx\n", n, r, p, c, r / br, c / bc }'
done
awk -v sr="${MR[sealed]}" -v sc="${MC[sealed]}" -v br="${MR[bare]}" -v bc="${MC[bare]}" 'BEGIN {
    printf "sealed vs bare: server CPU per request %+.2f us (%+.1f%%), throughput %+.1f%%; goal <= +5%%: CPU %s, throughput %s\n",
        sc - bc, (sc / bc - 1) * 100, (sr / br - 1) * 100,
        (sc / bc <= 1.05) ? "met" : "MISSED", (sr / br >= 0.95) ? "met" : "MISSED" }'
for peer in private-cookie tower-sessions; do
    awk -v p="$peer" -v sr="${MR[sealed]}" -v sc="${MC[sealed]}" -v pr="${MR[$peer]}" -v pc="${MC[$peer]}" 'BEGIN {
        printf "sealed vs %s: server CPU per request x%.3f (%+.2f us), throughput x%.3f; cheaper: %s\n",
            p, sc / pc, sc - pc, sr / pr, (sc < pc) ? "yes" : "NO" }'
done
