#!/usr/bin/env bash
# User-space instructions per HTTP request of the servers benches/web-peers.sh compares
# against bare (issue 12, goals 1 and 4): examples/overhead_server, bare (`--layer off`) and
# with the layer (`--layer on`, valid cookie, IP + User-Agent binding, REVOKED ids in the
# filter), each under `valgrind --tool=callgrind`. After WARM requests the counters are zeroed
# (callgrind_control -z), N requests go over one keep-alive connection (curl), and the dump
# divided by N is the figure: the server's own instructions per request, the kernel's not
# counted. Then the layer's functions, inclusive, per request (the profile of the overhead).
#
# Usage: benches/http-instructions.sh [N, default 1000]
# Env:   REVOKED (default 1000000), WARM (default 200), TOP (profile lines, default 25).
# Needs valgrind and curl. Builds the server with line tables in target/http-instructions.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
REVOKED=${REVOKED:-1000000}
WARM=${WARM:-200}
TOP=${TOP:-25}
UA="wrk-overhead" # the User-Agent the session is bound to (examples/overhead_server.rs)
export CARGO_TERM_COLOR=never
for tool in valgrind callgrind_control curl; do
    command -v "$tool" >/dev/null || { echo "$tool not found" >&2; exit 1; }
done

TARGET=target/http-instructions
CARGO_PROFILE_RELEASE_DEBUG=line-tables-only CARGO_TARGET_DIR=$TARGET \
    cargo build --quiet --release --features web --example overhead_server
SERVER=$TARGET/release/examples/overhead_server
TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
    rm -rf "$TMP"
}
trap cleanup EXIT

# requests URL COUNT [curl args]: COUNT GETs of URL over one connection; fails unless all are 200.
requests() {
    local url=$1 count=$2; shift 2
    for _ in $(seq "$count"); do printf 'url = "%s/"\noutput = /dev/null\n' "$url"; done >"$TMP/urls"
    local codes
    codes=$(curl -s -K "$TMP/urls" -H "User-Agent: $UA" "$@" -w '%{http_code}\n' | sort | uniq -c)
    [ "$(echo "$codes" | awk '{print $2}')" = 200 ] || { echo "not all 200: $codes" >&2; exit 1; }
}

# count NAME ARGS...: prints instructions per request; leaves the dump in $TMP/NAME.out.1
count() {
    local name=$1; shift
    valgrind --tool=callgrind --callgrind-out-file="$TMP/$name.out" \
        "$SERVER" "$@" --cookie-file "$TMP/$name.cookie" >"$TMP/$name.log" 2>"$TMP/$name.err" &
    SERVER_PID=$!
    for _ in $(seq 1200); do
        grep -q '^listening on ' "$TMP/$name.log" && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/$name.err" >&2; exit 1; }
        sleep 0.5
    done
    local url cookie=()
    url=$(sed -n 's/^listening on //p' "$TMP/$name.log")
    # "Cookie: …" — a secret, never printed.
    [ -s "$TMP/$name.cookie" ] && cookie=(-H "$(cat "$TMP/$name.cookie")")
    requests "$url" "$WARM" "${cookie[@]}"
    callgrind_control -z "$SERVER_PID" >/dev/null
    requests "$url" "$N" "${cookie[@]}"
    callgrind_control -d "$SERVER_PID" >/dev/null
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    local total
    total=$(sed -n 's/^summary: //p' "$TMP/$name.out.1")
    echo $((total / N))
}

bare=$(count bare --layer off)
sealed=$(count sealed --layer on --revoked "$REVOKED")
echo "user-space instructions per request ($N keep-alive requests, callgrind)"
printf '%-8s %8d\n' bare "$bare" sealed "$sealed"
awk -v b="$bare" -v s="$sealed" 'BEGIN { printf "layer: +%d (+%.1f%%)\n", s - b, 100 * (s - b) / b }'
echo
echo "the layer's functions, inclusive, instructions per request (with the same function in bare):"
# profile DUMP: "COUNT<TAB>FUNCTION" per function. callgrind_annotate prints "COUNT (PCT)
# FILE:FUNCTION [OBJECT]", a function once per file its code came from (inlining): the
# largest of its lines is its own inclusive count.
profile() {
    callgrind_annotate --inclusive=yes "$1" 2>/dev/null \
        | sed -E 's/ \[[^]]*\]$//' \
        | sed -nE 's/^ *([0-9,]+) \([^)]*\) +[^ ]*\.(rs|S|c):(.*)$/\1\t\3/p' \
        | awk -F'\t' '{ gsub(",", "", $1) }
              $2 ~ /^<?sealed_session::|^http::extensions::Extensions::insert$/ {
                  if ($1 + 0 > max[$2] + 0) max[$2] = $1 }
              END { for (f in max) print max[f] "\t" f }'
}
profile "$TMP/bare.out.1" >"$TMP/bare.profile"
profile "$TMP/sealed.out.1" | sort -rn | head -n "$TOP" \
    | awk -F'\t' -v n="$N" -v bare="$TMP/bare.profile" '
          BEGIN { while ((getline line < bare) > 0) { split(line, f, "\t"); b[f[2]] = f[1] } }
          { printf "%8d %8d  %s\n", $1 / n, b[$2] / n, $2 }'
