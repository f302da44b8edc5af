#!/usr/bin/env bash
# Three nodes behind loopback HTTP, a minimal handler that needs the session, measured with wrk:
#   sealed      examples/overhead_server with the session layer and the Redis revocation feed
#               (verify is local: AEAD open, claims, binding, one filter probe)
#   tower       benches/peers/tower-sessions-node: tower-sessions with its Redis store (the
#               session is loaded from Redis on every request)
# Both share one redis-server of the script's own (free port, no persistence). Each round runs
# one wrk per node at once (so the three nodes are loaded together), sealed then tower,
# interleaved over ROUNDS rounds; the script prints each round's total requests/s and the worst
# node's p99 latency, then the medians and the ratio sealed/tower.
#
# Usage: benches/cluster-vs-tower-sessions.sh [seconds per run, default 10] [rounds, default 3]
# Needs wrk and redis-server (apt-get install -y wrk redis-server).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
ROUNDS=${2:-3}
CONNS=${CONNS:-2}
UA="wrk-overhead"

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
cargo build --quiet --release --features web,redis,cli --example overhead_server --bin sealed-session
(cd benches/peers/tower-sessions-node && cargo build --quiet --release)
OURS=target/release/examples/overhead_server
THEIRS=benches/peers/tower-sessions-node/target/release/tower-sessions-node

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP" >/dev/null 2>&1 &
PIDS+=("$!")
until redis-cli -p "$RPORT" ping >/dev/null 2>&1; do sleep 0.1; done
REDIS="redis://127.0.0.1:$RPORT/"
target/release/sealed-session keygen --out "$TMP/keys" >/dev/null

# start OUTFILE CMD...: runs a server, waits for "listening on http://ADDR", sets ADDR. Not
# called inside $(...): a command substitution's subshell would record the pid in its own copy
# of PIDS, and the cleanup would leave the server running.
start() {
  local out=$1; shift
  "$@" >"$out" 2>"$out.err" &
  PIDS+=("$!")
  for _ in $(seq 200); do
    if grep -q "listening on" "$out" 2>/dev/null; then
      ADDR=$(sed -n 's/.*listening on http:\/\///p' "$out" | head -1)
      return
    fi
    sleep 0.05
  done
  echo "server did not start: $*" >&2; cat "$out.err" >&2; exit 1
}

SEALED=()
for n in a b c; do
  args=(--layer on --keys "$TMP/keys" --redis "$REDIS" --node "$n" --data-dir "$TMP/data")
  [ "$n" = a ] && args+=(--cookie-file "$TMP/cookie")
  start "$TMP/sealed-$n" "$OURS" "${args[@]}"
  SEALED+=("$ADDR")
done
SEALED_COOKIE=$(sed 's/^Cookie: //' "$TMP/cookie")
TOWER=()
for n in a b c; do
  start "$TMP/tower-$n" "$THEIRS" --redis "$REDIS"
  TOWER+=("$ADDR")
done
TOWER_COOKIE=$(curl -s -D - -o /dev/null -X POST "http://${TOWER[0]}/login" | sed -n 's/^set-cookie: \([^;]*\).*/\1/Ip' | tr -d '\r')

# Every node must accept the one session before anything is measured.
for a in "${SEALED[@]}"; do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -A "$UA" -H "Cookie: $SEALED_COOKIE" "http://$a/check")" = 200 ] || { echo "sealed node $a refused the session" >&2; exit 1; }
done
for a in "${TOWER[@]}"; do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $TOWER_COOKIE" "http://$a/")" = 200 ] || { echo "tower node $a refused the session" >&2; exit 1; }
done

# run KIND COOKIE ADDR...: one wrk per node at once; prints "total_rps worst_p99_ms".
run() {
  local kind=$1 cookie=$2; shift 2
  local i=0 files=()
  for a in "$@"; do
    wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -H "User-Agent: $UA" -H "Cookie: $cookie" "http://$a/" >"$TMP/wrk-$kind-$i" 2>&1 &
    files+=("$TMP/wrk-$kind-$i"); i=$((i+1))
  done
  wait_wrk
  python3 - "${files[@]}" <<'PY'
import re, sys
def ms(v):
    n, u = float(re.match(r"[\d.]+", v).group()), re.sub(r"[\d.]+", "", v)
    return n * {"us": 1e-3, "ms": 1, "s": 1e3}[u]
rps, p99, non2xx = 0.0, 0.0, 0
for f in sys.argv[1:]:
    t = open(f).read()
    rps += float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
    # The latency distribution's own line: a "+/- Stdev" column such as "91.99%" must not match.
    p99 = max(p99, ms(re.search(r"^\s+99%\s+(\S+)", t, re.M).group(1)))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", t)
    non2xx += int(m.group(1)) if m else 0
print(f"{rps:.0f} {p99:.2f} {non2xx}")
PY
}
wait_wrk() { while pgrep -x wrk >/dev/null; do sleep 0.2; done; }

echo "three nodes each, ${DURATION}s per run, $ROUNDS rounds, $CONNS connections per node"
RESULTS="$TMP/results"
for r in $(seq "$ROUNDS"); do
  s=$(run sealed "$SEALED_COOKIE" "${SEALED[@]}")
  t=$(run tower "$TOWER_COOKIE" "${TOWER[@]}")
  echo "round $r: sealed-session ${s% *} (req/s, p99 ms, non-2xx) | tower-sessions+redis ${t% *}"
  echo "$s $t" >>"$RESULTS"
done
python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
s_rps = statistics.median(r[0] for r in rows); s_p99 = statistics.median(r[1] for r in rows)
t_rps = statistics.median(r[3] for r in rows); t_p99 = statistics.median(r[4] for r in rows)
errors = sum(r[2] + r[5] for r in rows)
print(f"median: sealed-session {s_rps:.0f} req/s, p99 {s_p99:.2f} ms; tower-sessions+redis {t_rps:.0f} req/s, p99 {t_p99:.2f} ms")
print(f"ratio sealed/tower: {s_rps / t_rps:.2f}x requests/s, p99 {t_p99 / s_p99:.2f}x lower; non-2xx responses {errors:.0f}")
PY
