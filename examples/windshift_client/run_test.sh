#!/usr/bin/env bash
# Starts reflexd on the test's nats-server (free ports), runs the windshift client against it, then
# stops reflexd with SIGTERM (it must drain and exit 0).
set -euo pipefail
reflexd=$1
client=$2
: "${REFLEX_TEST_NATS_URL:?the nats-server of scripts/services (source its env file)}"
dir=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
NATS_URL=$REFLEX_TEST_NATS_URL REFLEX_LISTEN=127.0.0.1:0 REFLEX_HTTP=127.0.0.1:0 \
  "$reflexd" >"$dir/reflexd.log" 2>&1 &
server=$!
address=
for _ in $(seq 1 200); do
  address=$(sed -n 's/.*"msg":"reflexd serving".*"grpc":"\([^"]*\)".*/\1/p' "$dir/reflexd.log")
  [ -n "$address" ] && break
  sleep 0.05
done
[ -n "$address" ] || { cat "$dir/reflexd.log"; echo "reflexd did not start"; exit 1; }
timeout 30 "$client" --target "$address" --stream "EXAMPLE_ORDERS_$$" | tee "$dir/client.log"
grep -q "acknowledged 3 events" "$dir/client.log"
kill -TERM "$server"
wait "$server"
