#!/bin/sh
# Start the test upstream, run samples/hello against it, stop the upstream.
set -e
top=${1:-.}
fifo=$(mktemp -u)
mkfifo "$fifo"
"$top/t/mesh-test-upstream" --port 0 >"$fifo" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$fifo"' EXIT
read -r line <"$fifo"
port=${line#port=}
"$top/samples/hello" "http://127.0.0.1:$port"
