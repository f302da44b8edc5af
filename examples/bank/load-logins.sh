#!/usr/bin/env bash
# Peak memory of the bank under password guessing: 64 parallel wrong-password logins for
# 15 s, on loopback only. Prints VmHWM/VmRSS of the bank before and after and the response
# codes, then stops the bank by its pid.
#
#   cargo build --release --example bank
#   examples/bank/load-logins.sh              # all 64 guessers from 127.0.0.1
#   SOURCES=64 examples/bank/load-logins.sh   # each guesser from its own 127.0.1.N
#
# BANK (default target/release/examples/bank), PARALLEL (64), SECONDS_RUN (15).
set -euo pipefail

BANK=${BANK:-target/release/examples/bank}
PARALLEL=${PARALLEL:-64}
SECONDS_RUN=${SECONDS_RUN:-15}
SOURCES=${SOURCES:-1}

work=$(mktemp -d)
"$BANK" --addr 127.0.0.1:0 --data-dir "$work/data" >"$work/bank.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

# The banner names the port the kernel chose.
port=
for _ in $(seq 100); do
    port=$(sed -n 's|.*open *http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$work/bank.log")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$work/bank.log"; exit 1; }
base="http://127.0.0.1:$port"

memory() { grep -E '^(VmHWM|VmRSS)' "/proc/$pid/status" | tr -s ' \t' ' ' | paste -sd' '; }
echo "bank pid $pid on $base; $PARALLEL guessers from $SOURCES source(s) for $SECONDS_RUN s"
echo "before: $(memory)"

guesser() {
    local i=$1 end=$((SECONDS + SECONDS_RUN)) from=()
    [ "$SOURCES" -gt 1 ] && from=(--interface "127.0.1.$((i % SOURCES + 1))")
    while [ "$SECONDS" -lt "$end" ]; do
        curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 "${from[@]}" \
            -H "Origin: $base" -H 'Sec-Fetch-Site: same-origin' \
            --data "user=guess$i&password=wrong" "$base/login" || echo 000
    done
}
for i in $(seq "$PARALLEL"); do guesser "$i" >"$work/codes.$i" & done
wait $(jobs -p | grep -v "^$pid$")

echo "after:  $(memory)"
echo "responses (count code):"
cat "$work"/codes.* | sort | uniq -c
