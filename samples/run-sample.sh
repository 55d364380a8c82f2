#!/bin/sh
# Start test upstreams, run the samples against them, stop the upstreams.
#  1. hello: calls over HTTP/1.1 and HTTP/2 in both loop modes.
#  2. split: an 80/20 traffic split from samples/split.yaml.
set -e
top=${1:-.}
srcdir=${2:-$(dirname "$0")/..}
tmp=$(mktemp -d)
pids=""
trap 'kill $pids 2>/dev/null; rm -rf "$tmp"' EXIT
# start_upstream PORT NAME: starts one (in this shell: upstreams exit with
# their parent) and leaves its port in $tmp/NAME.
start_upstream() {
  mkfifo "$tmp/$2.fifo"
  "$top/t/mesh-test-upstream" --port "$1" >"$tmp/$2.fifo" &
  pids="$pids $!"
  read -r line <"$tmp/$2.fifo"
  echo "${line#port=}" >"$tmp/$2"
}
start_upstream 0 hello
port=$(cat "$tmp/hello")
echo "== hello (upstream on port $port)"
"$top/samples/hello" "http://127.0.0.1:$port"
echo
echo "== split (samples/split.yaml: web-v1 on 18081, web-v2 on 18082)"
start_upstream 18081 v1
start_upstream 18082 v2
"$top/samples/split" "$srcdir/samples/split.yaml" 1000
