#!/usr/bin/env bash
# Three bank nodes sharing revocations through Redis Streams, behind a round-robin proxy.
#
#   examples/cluster/run.sh            # proxy on http://127.0.0.1:8080/
#   PROXY_PORT=9000 examples/cluster/run.sh
#
# Starts its own redis-server on a free loopback port (no persistence), makes a key file all
# nodes share, starts bank nodes a, b and c on free ports and the proxy, and stops them all on
# Ctrl-C. Log in through the proxy, log out, and replay the old cookie: every node refuses it
# (each response names the node that served it in `x-served-by`).
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v redis-server >/dev/null || { echo "redis-server is needed (apt-get install redis-server)"; exit 2; }
cargo build --quiet --features cli,redis --bin sealed-session --example bank --example round_robin
bin=target/debug
work=$(mktemp -d -t sealed-session-cluster.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.1; done
redis_url="redis://127.0.0.1:$redis_port/"

"$bin/sealed-session" keygen --out "$work/keys" >/dev/null

backends=()
for node in a b c; do
  port=$(free_port)
  "$bin/examples/bank" --addr "127.0.0.1:$port" --keys "$work/keys" --data-dir "$work/data" \
    --redis "$redis_url" --node "$node" >"$work/bank-$node.log" 2>&1 &
  pids+=($!)
  backends+=("127.0.0.1:$port")
done
for backend in "${backends[@]}"; do
  until curl -fsS "http://$backend/healthz" >/dev/null 2>&1; do sleep 0.1; done
done

proxy_port=${PROXY_PORT:-8080}
"$bin/examples/round_robin" "127.0.0.1:$proxy_port" "${backends[@]}" >"$work/proxy.log" 2>&1 &
pids+=($!)
until curl -fsS "http://127.0.0.1:$proxy_port/healthz" >/dev/null 2>&1; do sleep 0.1; done

cat <<MSG
Three bank nodes share revocations through Redis at $redis_url

  open         http://127.0.0.1:$proxy_port/   (round robin over ${backends[*]})
  demo user    alice / alice-demo-password
  status       $bin/sealed-session status --redis $redis_url --keys $work/keys --context sealed-bank
  revoke       $bin/sealed-session revoke --redis $redis_url --keys $work/keys --context sealed-bank --subject alice
  node logs    $work/bank-{a,b,c}.log

Log in, copy the session cookie, log out, then replay it:
  curl -s -o /dev/null -w '%{http_code} %header{x-served-by}\n' -H 'Cookie: session=<old value>' http://127.0.0.1:$proxy_port/account
three times: each node (x-served-by) answers 401 for the logged-out session, having
answered 200 before the logout.

Press Ctrl-C to stop everything.
MSG
wait
