#!/usr/bin/env bash
# Starts the users service, consumes its stream from a separate process twice (the second run
# resumes after its stored cursor), then stops the service with SIGTERM.
set -euo pipefail
exe=$1
dir=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
"$exe" serve --db "$dir/users.db" --address-file "$dir/address" --users 20 >"$dir/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do [ -s "$dir/address" ] && break; sleep 0.05; done
address=$(cat "$dir/address")
timeout 20 "$exe" consume --target "$address" --cursors "$dir/consumer.db" --count 12 >"$dir/first.log"
timeout 20 "$exe" consume --target "$address" --cursors "$dir/consumer.db" --count 8 >"$dir/second.log"
cat "$dir/first.log" "$dir/second.log"
first=$(grep -c "created" "$dir/first.log")
second=$(grep -c "created" "$dir/second.log")
[ "$first" -eq 12 ] && [ "$second" -eq 8 ] || { echo "expected 12 then 8 events"; exit 1; }
grep -q "user 13 created (event 13)" "$dir/second.log" || { echo "second run did not resume"; exit 1; }
grep -q "cursor 20" "$dir/second.log" || { echo "cursor not at 20"; exit 1; }
kill -TERM "$server"
wait "$server"
grep -q "stopped" "$dir/server.log"
