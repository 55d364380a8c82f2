/* Request hashing for the hash-based load balancers (RING_HASH, MAGLEV):
 * a route action's hash_policy list evaluated against a request.
 *
 * Semantics are Envoy's (source/common/http/hash_policy.cc,
 * HashPolicyImpl::generateHash; route_components.proto RouteAction.
 * HashPolicy):
 * - header: the values of every occurrence of the header, each rewritten
 *   by regex_rewrite when set, sorted, hashed together with xxHash64 as one
 *   string (so their order does not matter); ":authority", ":path",
 *   ":method" and ":scheme" come from the input's fields. Missing: no hash.
 * - cookie: the value of the first cookie of that name in the Cookie
 *   header(s), surrounding double quotes removed; missing or empty: no
 *   hash. (Envoy then sets a cookie when a ttl is configured; libmesh does
 *   not, see libmesh-lb(7).)
 * - query_parameter: the raw (not decoded) value of its first occurrence
 *   in the path's query ("a" without '=' has the value ""); absent: no
 *   hash.
 * - connection_properties.source_ip: the caller's source address as text.
 * - filter_state: libmesh has no filter state: never a hash.
 * Each hash is xxHash64 with seed 0. Hashes combine as
 * hash = rotl64(hash, 1) ^ new (the first is taken as is), and a policy
 * with terminal set stops the evaluation when a hash has been produced so
 * far (by it or an earlier policy).
 *
 * Pure: no allocation, no lock; a regex_rewrite runs on a stack buffer
 * (values longer than MESH__ROUTE_HASH_MAX bytes in all, or more than
 * MESH__ROUTE_HASH_VALUES occurrences, give no hash for that policy).
 */
#ifndef MESH_ROUTE_HASH_H
#define MESH_ROUTE_HASH_H

#include <stdbool.h>
#include <stdint.h>

#include "model/route.h"
#include "route/match.h"

#define MESH__ROUTE_HASH_MAX 8192
#define MESH__ROUTE_HASH_VALUES 16

/* The request hash of ra's hash policies for request in. source_ip: the
 * local (source) address of the call as text ("10.1.2.3", "::1"), or NULL
 * when unknown. Returns true and sets *out when a hash was produced; false
 * when ra has no hash policy or none applied (the balancer then picks at
 * random, as Envoy does). */
bool mesh__route_hash(const mesh__route_action *ra, const mesh__route_input *in, const char *source_ip,
                      uint64_t *out);

#endif
