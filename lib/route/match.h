/* Route selection over an immutable route table (model/route.h): virtual
 * host by authority, route by request, cluster by action, and the path,
 * Location and header-mutation results of the chosen route.
 *
 * Pure functions: no I/O, no locks, no allocation, safe from any thread
 * on a shared table. Results point into the table (keep a reference while
 * using them) or into the input (cluster_header values).
 *
 * Semantics are Envoy's (envoy.config.route.v3, route_components.proto),
 * with these choices, all deliberate:
 *
 * - Virtual host: domains compare case-insensitively; an exact domain
 *   beats the longest suffix wildcard ("*.foo.com", "*-bar.foo.com"),
 *   which beats the longest prefix wildcard ("foo.*"), which beats "*"; a
 *   wildcard matches one character or more. An empty or missing authority
 *   selects "*". The authority's port: when the table has
 *   ignore_port_in_host_matching, or when no domain carries a port, the
 *   port is stripped before matching (so "foo.com:8080" selects "foo.com";
 *   Envoy without ignore_port_in_host_matching would fall through to "*").
 *   When some domain carries a port, each kind is tried with the
 *   authority as given and then without its port before the next kind
 *   (exact "a:8080", exact "a", suffix "...:8080", suffix ..., prefix ...).
 *   A port is ":digits" after the last ':' outside IPv6 brackets.
 * - Paths: prefix, exact and separated-prefix compare against the path up
 *   to the first '?' or '#'; safe_regex must match that whole string;
 *   case_sensitive=false folds ASCII case for the literal kinds only.
 * - Headers: names in the input are lower-case; several values of one
 *   name are joined with ',' (in a bounded stack buffer of
 *   MESH__ROUTE_JOIN_MAX bytes: a longer joined value fails the matcher,
 *   whatever invert_match says). A missing header fails every matcher
 *   unless treat_missing_header_as_empty (then it is "") — except
 *   present_match, which tests presence (present_match:false matches a
 *   missing header; invert flips it). invert_match applies after.
 *   ":method", ":authority", ":path" (with the query) and ":scheme" come
 *   from the input's fields. range_match parses like absl::SimpleAtoi
 *   (surrounding whitespace, a sign).
 * - Query parameters: the raw (not percent-decoded) value of the first
 *   occurrence; "a" without '=' has the value ""; present_match:false
 *   matches when the parameter is absent (Envoy's newer behaviour).
 * - gRPC: content-type is "application/grpc" or starts with
 *   "application/grpc+" (Envoy's rule; application/grpc-web is not gRPC).
 * - runtime_fraction: matches when input.random % denominator <
 *   numerator (Envoy's rule; runtime keys are not consulted).
 * - Weighted clusters: the pick uses a 64-bit mix of input.random (Envoy
 *   reuses the same value as runtime_fraction, which correlates a route's
 *   fraction with the split of the routes after it); with
 *   weighted_clusters.header_name the header's integer value is used
 *   as is, as in Envoy.
 */
#ifndef MESH_ROUTE_MATCH_H
#define MESH_ROUTE_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/route.h"

/* Joined multi-value headers longer than this fail their matcher. */
#define MESH__ROUTE_JOIN_MAX 8192

typedef struct mesh__route_input {
  const char *method, *scheme, *authority, *path; /* path includes the query; NULL: absent */
  size_t authority_len, path_len;
  /* Request headers; names lower-case, values NUL-terminated. */
  const char *const *hnames;
  const char *const *hvalues;
  const size_t *hvalue_lens; /* optional: strlen(hvalues[i]) when known */
  size_t nheaders;
  uint64_t random; /* for runtime_fraction and weighted clusters */
} mesh__route_input;

/* The virtual host serving authority[0..len), or NULL (no "*" either). */
const mesh__vhost *mesh__route_vhost(const mesh__route_table *rt, const char *authority, size_t len);
/* The first route of vh that matches, or NULL (vh may be NULL). */
const mesh__route *mesh__route_match(const mesh__vhost *vh, const mesh__route_input *in);

/* The cluster a route action names for this request (name, weighted pick,
 * or the value of a cluster_header): NULL if none (not a forwarding
 * route, or the header is missing or empty — answer with
 * r->route.cluster_not_found_code). *cw_out (optional) is set to the
 * weighted cluster picked, or NULL. */
const char *mesh__route_cluster(const mesh__route *r, const mesh__route_input *in, const mesh__cluster_weight **cw_out);

/* Errors of the functions that write into a caller's buffer. */
#define MESH__ROUTE_ETOOSMALL (-1) /* the result does not fit */
#define MESH__ROUTE_ELIMIT (-2)    /* a regex hit its match limit */
#define MESH__ROUTE_EINVAL (-3)    /* not applicable to this route */

/* Whether the route changes the upstream path (prefix_rewrite or
 * regex_rewrite). */
bool mesh__route_rewrites_path(const mesh__route *r);
/* The path (with the query) to send upstream after prefix_rewrite or
 * regex_rewrite — the request's own path when the route rewrites nothing —
 * into buf[0..cap), NUL-terminated when it fits. Returns its length or a
 * MESH__ROUTE_E* error. in must be the request r matched. */
ptrdiff_t mesh__route_rewrite_path(const mesh__route *r, const mesh__route_input *in, char *buf, size_t cap);

/* The Location of a redirect route (scheme://host[:port]/path[?query]),
 * as Envoy builds it: scheme from scheme_redirect/https_redirect or the
 * request; host from host_redirect or the request's authority (its port
 * dropped when port_redirect is set, or when the scheme changes and the
 * port is the old scheme's default); path from path_redirect (which keeps
 * the request's query unless it has its own), prefix_rewrite or
 * regex_rewrite of the request path; strip_query drops the query (not one
 * path_redirect carries). NUL-terminated when it fits; returns the length
 * or a MESH__ROUTE_E* error (EINVAL: not a redirect route). */
ptrdiff_t mesh__route_redirect_location(const mesh__route *r, const mesh__route_input *in, char *buf, size_t cap);

/* Header mutations to apply, in order (later ones win where they
 * conflict): the weighted cluster's (cw, may be NULL) first, then route,
 * virtual host, route table — or route table, virtual host, route when the
 * table sets most_specific_header_mutations_wins. Fills out[0..n) and
 * returns n (<= 4). */
size_t mesh__route_request_mutations(const mesh__route *r, const mesh__cluster_weight *cw,
                                     const mesh__header_ops *out[4]);
size_t mesh__route_response_mutations(const mesh__route *r, const mesh__cluster_weight *cw,
                                      const mesh__header_ops *out[4]);

/* The retry policy in force: the route's, else its virtual host's, else
 * NULL. */
const mesh__retry_policy *mesh__route_retry_policy(const mesh__route *r);
/* Whether any of hm[0..n) matches the headers of in (retriable_headers on
 * a response, retriable_request_headers on a request). */
bool mesh__headers_match_any(const mesh__header_matcher *hm, size_t n, const mesh__route_input *in);
/* Whether all of hm[0..n) match (true when n is 0). */
bool mesh__headers_match_all(const mesh__header_matcher *hm, size_t n, const mesh__route_input *in);

/* Whether vh's require_tls asks to redirect this request to https: ALL
 * for any request whose scheme is not https, EXTERNAL_ONLY for those not
 * marked internal (x-envoy-internal: true). */
bool mesh__vhost_requires_tls_redirect(const mesh__vhost *vh, const mesh__route_input *in);

#endif
