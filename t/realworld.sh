#!/bin/sh
# Configs in the shapes real control planes produce (t/data/realworld):
# each must get its expected verdict from `meshctl validate` — accepted
# (with the notes listed), or rejected with the reason listed. Every file
# in the directory needs a line here.
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
dir="$top_srcdir/t/data/realworld"
meshctl="$top_builddir/meshctl"

# file | valid or rejected | text the output must contain (may be empty)
expect='
istio-grpc-outbound.yaml|valid|
istio-grpc-inbound-rbac.yaml|rejected|(envoy.filters.http.rbac): RBAC authorization is not supported; refusing the listener rather than letting every call through
istio-grpc-mtls-cluster.yaml|rejected|transport_socket (envoy.transport_sockets.tls): TLS and other transport sockets are not supported yet (refusing to send plaintext)
istio-grpc-fault-route.yaml|valid|
istio-sidecar-automtls-cluster.yaml|rejected|transport_socket_matches: TLS to upstreams is not supported yet (refusing to send plaintext)
envoy-front-proxy.yaml|valid|admin: unknown field, ignored
envoy-demo-tls-upstream.yaml|rejected|Cluster "service_envoyproxy_io": transport_socket (envoy.transport_sockets.tls): TLS and other transport sockets are not supported yet
go-control-plane-example.json|valid|
consul-connect-upstream.yaml|rejected|transport_socket (tls): TLS and other transport sockets are not supported yet
kuma-outbound-plaintext.yaml|valid|normalize_path, merge_slashes, path_with_escaped_slashes_action: not applied
envoy-gateway-routes.yaml|valid|upgradeConfigs: unknown field, ignored
envoy-gateway-lb-policy.yaml|valid|lb_policy: ignored (load_balancing_policy is set)
grpc-xds-wrr-locality.yaml|valid|client_side_weighted_round_robin.v3.ClientSideWeightedRoundRobin): not supported, the next policy is tried
'

pass=0
fail=0
out=$(mktemp) || exit 99
trap 'rm -f "$out"' EXIT
for path in "$dir"/*; do
  f=$(basename "$path")
  line=$(printf '%s\n' "$expect" | grep -F "$f|" | head -1)
  if [ -z "$line" ]; then
    echo "FAIL: $f: no expected verdict listed in t/realworld.sh"
    fail=$((fail + 1))
    continue
  fi
  want=$(printf '%s' "$line" | cut -d'|' -f2)
  text=$(printf '%s' "$line" | cut -d'|' -f3-)
  "$meshctl" validate "$path" >"$out" 2>&1
  rc=$?
  got=valid
  [ $rc -eq 0 ] || got=rejected
  if [ "$got" != "$want" ]; then
    echo "FAIL: $f: $got, expected $want"
    cat "$out"
    fail=$((fail + 1))
  elif [ -n "$text" ] && ! grep -qF -- "$text" "$out"; then
    echo "FAIL: $f: $got, but the output lacks: $text"
    cat "$out"
    fail=$((fail + 1))
  elif grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$out"; then
    echo "FAIL: $f: sanitizer report"
    cat "$out"
    fail=$((fail + 1))
  else
    echo "ok: $f: $got"
    pass=$((pass + 1))
  fi
done
echo "realworld: $pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -gt 0 ]
