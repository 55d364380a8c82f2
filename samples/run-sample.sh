#!/bin/sh
# Start test upstreams, run the samples against them, stop the upstreams.
#  1. hello: calls over HTTP/1.1 and HTTP/2 in both loop modes.
#  2. split: an 80/20 traffic split from samples/split.yaml.
set -e
top=${1:-.}
srcdir=${2:-$(dirname "$0")/..}
pids=""
trap 'kill $pids 2>/dev/null' EXIT
start_upstream() { # port (0 = any); prints the port
  fifo=$(mktemp -u)
  mkfifo "$fifo"
  "$top/t/mesh-test-upstream" --port "$1" >"$fifo" &
  pids="$pids $!"
  read -r line <"$fifo"
  rm -f "$fifo"
  echo "${line#port=}"
}
port=$(start_upstream 0)
echo "== hello (upstream on port $port)"
"$top/samples/hello" "http://127.0.0.1:$port"
echo
echo "== split (samples/split.yaml: web-v1 on 18081, web-v2 on 18082)"
start_upstream 18081 >/dev/null
start_upstream 18082 >/dev/null
"$top/samples/split" "$srcdir/samples/split.yaml" 1000
