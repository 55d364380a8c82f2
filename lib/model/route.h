/* The immutable route model: what an RDS RouteConfiguration becomes once
 * validated (xds/rds.c), and what route/match.c selects from.
 *
 * A mesh__route_table owns one arena holding every vhost, route, matcher
 * and string below, plus a cleanup list (compiled regexes). It is built
 * once off the hot path: mesh__route_table_new(), fill the public fields
 * from rt->arena, mesh__route_table_seal() (validates and indexes the
 * domains), then share it as a const pointer: any thread may read it
 * without a lock. Lifetime is an atomic reference count; the last unref
 * runs the cleanups and frees the arena.
 *
 * Strings are mesh__rstr: pointer + length, always NUL-terminated, never
 * NULL once built (an unset string is ""). Durations are milliseconds.
 * Header names are lower-case. Semantics follow Envoy's
 * envoy.config.route.v3 (route_components.proto); deviations are listed
 * in route/match.h. */
#ifndef MESH_MODEL_ROUTE_H
#define MESH_MODEL_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/snapshot.h"
#include "util/arena.h"

typedef struct mesh__regex mesh__regex; /* route/regex.h; the model only points at them */

typedef struct mesh__rstr {
  const char *p;
  size_t len;
} mesh__rstr;

/* ------------------------------------------------------------ matchers */

enum mesh__str_match_kind {
  MESH__STR_EXACT = 0,
  MESH__STR_PREFIX,
  MESH__STR_SUFFIX,
  MESH__STR_CONTAINS,
  MESH__STR_REGEX
};

/* envoy.type.matcher.v3.StringMatcher. */
typedef struct mesh__str_matcher {
  uint8_t kind;          /* MESH__STR_* */
  bool ignore_case;      /* literal kinds only; value is then lower-case */
  mesh__rstr value;      /* the literal */
  const mesh__regex *re; /* MESH__STR_REGEX: matches the whole value */
} mesh__str_matcher;

enum mesh__hdr_match_kind {
  MESH__HDR_STRING = 0, /* sm applies to the value */
  MESH__HDR_ANY,        /* deprecated exact_match "": any value (Envoy) */
  MESH__HDR_PRESENT,    /* present_match (present says which way) */
  MESH__HDR_RANGE       /* range_match: integer value in [start, end) */
};

/* Where a header matcher reads its value: a pseudo-header of the input or
 * the header list. */
enum mesh__hdr_source {
  MESH__HSRC_HEADER = 0,
  MESH__HSRC_METHOD,    /* :method */
  MESH__HSRC_AUTHORITY, /* :authority */
  MESH__HSRC_PATH,      /* :path (with the query) */
  MESH__HSRC_SCHEME     /* :scheme */
};

/* envoy.config.route.v3.HeaderMatcher. */
typedef struct mesh__header_matcher {
  mesh__rstr name; /* lower-case */
  uint8_t kind;    /* MESH__HDR_* */
  uint8_t source;  /* MESH__HSRC_* */
  bool invert;
  bool missing_as_empty; /* treat_missing_header_as_empty */
  bool present;          /* MESH__HDR_PRESENT */
  int64_t range_start, range_end;
  mesh__str_matcher sm; /* MESH__HDR_STRING */
} mesh__header_matcher;

enum mesh__query_match_kind {
  MESH__QUERY_PRESENT = 0, /* the parameter is present (also: nothing set) */
  MESH__QUERY_ABSENT,      /* present_match: false */
  MESH__QUERY_STRING       /* string_match on the first value (raw, not decoded) */
};

/* envoy.config.route.v3.QueryParameterMatcher. */
typedef struct mesh__query_matcher {
  mesh__rstr name; /* raw, case-sensitive */
  uint8_t kind;    /* MESH__QUERY_* */
  mesh__str_matcher sm;
} mesh__query_matcher;

enum mesh__path_kind {
  MESH__PATH_PREFIX = 0,
  MESH__PATH_EXACT,
  MESH__PATH_REGEX,        /* whole path without the query */
  MESH__PATH_SEP_PREFIX    /* path_separated_prefix */
};

/* envoy.config.route.v3.RouteMatch. */
typedef struct mesh__route_matcher {
  uint8_t path_kind;       /* MESH__PATH_* */
  bool case_sensitive;     /* prefix, exact and separated prefix (default true) */
  bool grpc;               /* content-type application/grpc or application/grpc+... */
  bool has_fraction;       /* runtime_fraction.default_value */
  mesh__rstr path;         /* the literal; lower-case when !case_sensitive */
  const mesh__regex *path_re;
  mesh__rstr path_re_prefix; /* MESH__PATH_REGEX: a literal every matching path starts
                              * with (mesh__regex_prefix), "" if none; a fast pre-check */
  uint32_t fraction_num, fraction_den; /* matches when random % den < num */
  const mesh__header_matcher *headers;
  size_t nheaders;
  const mesh__query_matcher *queries;
  size_t nqueries;
} mesh__route_matcher;

/* ------------------------------------------------------------ header mutations */

enum mesh__append_action {
  MESH__APPEND_IF_EXISTS_OR_ADD = 0,
  MESH__ADD_IF_ABSENT = 1,
  MESH__OVERWRITE_IF_EXISTS_OR_ADD = 2,
  MESH__OVERWRITE_IF_EXISTS = 3
};

typedef struct mesh__header_add {
  mesh__rstr name;  /* lower-case */
  mesh__rstr value; /* as configured (no %FORMATTER% substitution) */
  uint8_t action;   /* MESH__APPEND_* ...; the deprecated append folded in */
  bool keep_empty_value;
} mesh__header_add;

typedef struct mesh__header_ops {
  const mesh__header_add *add;
  size_t nadd;
  const mesh__rstr *remove; /* lower-case names */
  size_t nremove;
} mesh__header_ops;

/* The mutations one level (cluster weight, route, vhost, route table)
 * configures. */
typedef struct mesh__header_mutation {
  mesh__header_ops request, response;
} mesh__header_mutation;

/* ------------------------------------------------------------ resilience (stored for later use) */

enum mesh__retry_on {
  MESH__RETRY_5XX = 1u << 0,
  MESH__RETRY_GATEWAY_ERROR = 1u << 1,
  MESH__RETRY_RESET = 1u << 2,
  MESH__RETRY_CONNECT_FAILURE = 1u << 3,
  MESH__RETRY_ENVOY_RATELIMITED = 1u << 4,
  MESH__RETRY_RETRIABLE_4XX = 1u << 5,
  MESH__RETRY_REFUSED_STREAM = 1u << 6,
  MESH__RETRY_RETRIABLE_STATUS_CODES = 1u << 7,
  MESH__RETRY_RETRIABLE_HEADERS = 1u << 8,
  MESH__RETRY_HTTP3_POST_CONNECT_FAILURE = 1u << 9,
  MESH__RETRY_RESET_BEFORE_REQUEST = 1u << 10,
  MESH__RETRY_GRPC_CANCELLED = 1u << 16,
  MESH__RETRY_GRPC_DEADLINE_EXCEEDED = 1u << 17,
  MESH__RETRY_GRPC_INTERNAL = 1u << 18,
  MESH__RETRY_GRPC_RESOURCE_EXHAUSTED = 1u << 19,
  MESH__RETRY_GRPC_UNAVAILABLE = 1u << 20
};

/* envoy.config.route.v3.RetryPolicy, in plain C. */
typedef struct mesh__retry_policy {
  mesh__rstr retry_on;               /* as configured */
  uint32_t retry_on_bits;            /* MESH__RETRY_*; unknown tokens are dropped (noted) */
  uint32_t num_retries;              /* default 1 */
  uint64_t per_try_timeout_ms;       /* 0: none */
  uint64_t per_try_idle_timeout_ms;  /* 0: none */
  uint64_t backoff_base_ms;          /* default 25 */
  uint64_t backoff_max_ms;           /* default 10 x base */
  uint32_t host_selection_max_attempts; /* host_selection_retry_max_attempts, default 1 */
  bool avoid_previous_hosts;         /* retry_host_predicate envoy.retry_host_predicates.previous_hosts */
  const uint32_t *retriable_status_codes;
  size_t nretriable_status_codes;
  const mesh__header_matcher *retriable_headers; /* response headers */
  size_t nretriable_headers;
  const mesh__header_matcher *retriable_request_headers;
  size_t nretriable_request_headers;
  /* rate_limited_retry_back_off: response headers that carry the interval
   * to wait (Retry-After in seconds, X-RateLimit-Reset as a Unix time). */
  const struct mesh__reset_header *reset_headers;
  size_t nreset_headers;             /* 0: not configured */
  uint64_t rl_backoff_max_ms;        /* max_interval, default 300000 */
} mesh__retry_policy;

enum mesh__reset_format { MESH__RESET_SECONDS = 0, MESH__RESET_UNIX_TIMESTAMP = 1 };

/* RetryPolicy.ResetHeader. */
typedef struct mesh__reset_header {
  mesh__rstr name; /* lower-case */
  uint8_t format;  /* MESH__RESET_* */
} mesh__reset_header;

enum mesh__hash_kind {
  MESH__HASH_HEADER = 0,
  MESH__HASH_COOKIE,
  MESH__HASH_SOURCE_IP,
  MESH__HASH_QUERY_PARAMETER,
  MESH__HASH_FILTER_STATE
};

/* envoy.config.route.v3.RouteAction.HashPolicy. */
typedef struct mesh__hash_policy {
  uint8_t kind; /* MESH__HASH_* */
  bool terminal;
  mesh__rstr name;              /* header (lower-case), cookie, query parameter or filter-state key */
  const mesh__regex *rewrite;   /* header: regex_rewrite pattern (search mode), or NULL */
  mesh__rstr rewrite_sub;
  bool cookie_has_ttl;
  uint64_t cookie_ttl_ms;
  mesh__rstr cookie_path;
} mesh__hash_policy;

/* ------------------------------------------------------------ actions */

enum mesh__cluster_kind {
  MESH__CLUSTER_NAME = 0, /* route.cluster */
  MESH__CLUSTER_HEADER,   /* route.cluster_header */
  MESH__CLUSTER_WEIGHTED  /* route.weighted_clusters */
};

/* Fault injection: Envoy's HTTPFault (envoy.filters.http.fault), as
 * Istio's VirtualService fault and gRPC's xDS clients (gRFC A33) use it.
 * Percentages are kept as numerator and the scale to parts per million
 * (10000 for HUNDRED, 100 for TEN_THOUSAND, 1 for MILLION), because a
 * request header may replace the numerator (capped by this one). */
enum mesh__fault_delay { MESH__FAULT_DELAY_NONE = 0, MESH__FAULT_DELAY_FIXED, MESH__FAULT_DELAY_HEADER };
enum mesh__fault_abort {
  MESH__FAULT_ABORT_NONE = 0,
  MESH__FAULT_ABORT_HTTP,  /* abort.http_status */
  MESH__FAULT_ABORT_GRPC,  /* abort.grpc_status */
  MESH__FAULT_ABORT_HEADER /* abort.header_abort: x-envoy-fault-abort-(grpc-)request */
};
typedef struct mesh__fault {
  uint8_t delay_kind;          /* MESH__FAULT_DELAY_* */
  uint8_t abort_kind;          /* MESH__FAULT_ABORT_* */
  bool has_max_active;
  uint32_t max_active;         /* max_active_faults, when has_max_active */
  uint64_t delay_ms;           /* FIXED */
  uint32_t delay_num, delay_scale;
  uint32_t abort_code;         /* HTTP status or gRPC code */
  uint32_t abort_num, abort_scale;
  mesh__rstr upstream_cluster; /* "" : any */
  const mesh__header_matcher *headers; /* all must match */
  size_t nheaders;
} mesh__fault;

/* A per-route fault config (typed_per_filter_config), by filter name. */
typedef struct mesh__fault_override {
  mesh__rstr filter; /* the key: the HTTP filter's name */
  const mesh__fault *fault;
} mesh__fault_override;

typedef struct mesh__fault_overrides {
  const mesh__fault_override *v;
  size_t n;
} mesh__fault_overrides;

typedef struct mesh__cluster_weight {
  mesh__rstr name;           /* "" when cluster_header is set */
  mesh__rstr cluster_header; /* lower-case; "" when name is set */
  uint32_t weight;
  mesh__rstr host_rewrite_literal;
  mesh__header_mutation headers;
  mesh__fault_overrides faults;
} mesh__cluster_weight;

enum mesh__route_priority { MESH__PRIORITY_DEFAULT = 0, MESH__PRIORITY_HIGH = 1 };

/* envoy.config.route.v3.RouteAction. */
typedef struct mesh__route_action {
  uint8_t cluster_kind;         /* MESH__CLUSTER_* */
  mesh__rstr cluster;           /* NAME: the cluster; HEADER: the header name */
  const mesh__cluster_weight *weights;
  size_t nweights;
  uint64_t total_weight;        /* sum of weights, > 0 */
  mesh__rstr random_value_header; /* weighted_clusters.header_name, or "" */
  uint16_t cluster_not_found_code; /* 503 (default), 404 or 500 */
  mesh__rstr prefix_rewrite;    /* "" when unset */
  const mesh__regex *regex_rewrite; /* search mode, or NULL */
  mesh__rstr regex_sub;
  mesh__rstr host_rewrite_literal;
  mesh__rstr host_rewrite_header; /* lower-case */
  const mesh__regex *host_rewrite_path_re; /* host_rewrite_path_regex (search mode), or NULL */
  mesh__rstr host_rewrite_path_sub;
  bool auto_host_rewrite;
  uint8_t priority;             /* MESH__PRIORITY_* */
  uint64_t timeout_ms;          /* default 15000; 0: no timeout */
  int64_t idle_timeout_ms;      /* -1: unset; 0: disabled */
  int64_t max_stream_duration_ms;        /* -1: unset */
  int64_t grpc_timeout_header_max_ms;    /* -1: unset */
  int64_t grpc_timeout_header_offset_ms; /* -1: unset */
  const mesh__retry_policy *retry; /* NULL: none at route level */
  const mesh__hash_policy *hash;
  size_t nhash;
} mesh__route_action;

enum mesh__redirect_path {
  MESH__REDIRECT_PATH_KEEP = 0,
  MESH__REDIRECT_PATH_REPLACE, /* path_redirect */
  MESH__REDIRECT_PATH_PREFIX,  /* prefix_rewrite */
  MESH__REDIRECT_PATH_REGEX    /* regex_rewrite */
};

/* envoy.config.route.v3.RedirectAction. */
typedef struct mesh__redirect {
  mesh__rstr scheme;   /* lower-case; "https" for https_redirect; "" keeps the request's */
  mesh__rstr host;     /* "" keeps the request's */
  uint32_t port;       /* 0 keeps the request's */
  uint8_t path_kind;   /* MESH__REDIRECT_PATH_* */
  mesh__rstr path;     /* path_redirect or prefix_rewrite */
  bool path_has_query; /* path_redirect carries its own query */
  const mesh__regex *regex; /* search mode */
  mesh__rstr regex_sub;
  uint16_t code;       /* 301 (default), 302, 303, 307, 308 */
  bool strip_query;
} mesh__redirect;

/* envoy.config.route.v3.DirectResponseAction. */
typedef struct mesh__direct_response {
  uint16_t status; /* 200..599 */
  bool has_body;
  mesh__rstr body; /* bytes, may contain NUL */
} mesh__direct_response;

enum mesh__action_kind { MESH__ACTION_ROUTE = 0, MESH__ACTION_REDIRECT, MESH__ACTION_DIRECT };

typedef struct mesh__vhost mesh__vhost;
typedef struct mesh__route_table mesh__route_table;

/* Field order: what a lookup reads of the route it picked (action, then
 * the cluster fields at the head of route) comes first. */
typedef struct mesh__route {
  uint8_t action; /* MESH__ACTION_*: which of route, redirect, direct applies */
  mesh__route_action route;
  mesh__route_matcher match;
  mesh__rstr name;
  mesh__redirect redirect;
  mesh__direct_response direct;
  mesh__header_mutation headers;
  const mesh__vhost *vhost; /* the vhost it belongs to */
  mesh__fault_overrides faults;
} mesh__route;

enum mesh__require_tls { MESH__TLS_NONE = 0, MESH__TLS_EXTERNAL_ONLY, MESH__TLS_ALL };

/* The path condition of a route, packed for the matcher (built by
 * mesh__route_table_seal): a vhost's keys are contiguous, so matching
 * reads a few cache lines and touches a full mesh__route only once its
 * path matched. */
#define MESH__ROUTE_KEY_INLINE 16
enum {
  MESH__KEY_HEADERS = 1, /* header matchers: hdr[0..nhdr) */
  MESH__KEY_OTHER = 2    /* other conditions (fraction, grpc, query, > 255 headers): see the route */
};
typedef struct mesh__route_key {
  uint8_t kind;  /* MESH__PATH_* */
  bool fold;     /* compare ASCII case-insensitively (the literal is lower-case) */
  uint8_t extra; /* MESH__KEY_* */
  uint8_t nhdr;
  uint32_t len;  /* length of the literal: route.match.path, or for a regex
                  * route its literal prefix (path_re_prefix) */
  char head[MESH__ROUTE_KEY_INLINE]; /* literal[0..min(len, INLINE)) */
  const mesh__header_matcher *hdr;   /* the route's match.headers */
  const mesh__regex *re;             /* the route's match.path_re */
} mesh__route_key; /* 40 bytes; key i is vhost->routes[i] */

struct mesh__vhost {
  const mesh__route_key *keys; /* [nroutes], built by mesh__route_table_seal() */
  const mesh__route *routes;   /* in order; first match wins */
  size_t nroutes;
  mesh__rstr name;
  const mesh__rstr *domains; /* lower-case, as configured */
  size_t ndomains;
  mesh__header_mutation headers;
  const mesh__retry_policy *retry; /* NULL: none */
  uint8_t require_tls;             /* MESH__TLS_* (stored; enforced by the router) */
  bool include_request_attempt_count;
  const mesh__route_table *table;
  mesh__fault_overrides faults;
};

/* ------------------------------------------------------------ the table */

/* Domain index slot: key is a lower-case copy of an exact domain, a
 * suffix (from "*suffix") or a prefix (from "prefix*"). */
#define MESH__DOMAIN_INLINE 38
#define MESH__DOMAIN_MAX 4096 /* longest domain accepted */
typedef struct mesh__domain_slot {
  const mesh__vhost *vh;       /* NULL: empty slot */
  const mesh__route_key *keys; /* vh->keys, prefetched on a hit */
  uint32_t hash;
  uint32_t off;                /* the whole key: rt->domain_pool + off */
  uint16_t len;
  char head[MESH__DOMAIN_INLINE]; /* key[0..min(len, INLINE)): a probe reads one cache line */
} mesh__domain_slot;             /* 64 bytes */

typedef struct mesh__domain_map {
  mesh__domain_slot *slots;    /* 64-byte aligned */
  uint32_t mask;       /* slots - 1 (power of two), 0 when empty */
  uint32_t count;
  const uint32_t *lens; /* wildcard maps: the distinct key lengths, longest first */
  uint32_t nlens;
} mesh__domain_map;

typedef struct mesh__domain_entry {
  mesh__rstr key; /* without the '*' */
  const mesh__vhost *vh;
} mesh__domain_entry;

typedef struct mesh__cleanup {
  void (*fn)(void *);
  void *arg;
  struct mesh__cleanup *next;
} mesh__cleanup;

struct mesh__route_table {
  int refs; /* atomic (__atomic builtins) */
  mesh__arena *arena;
  mesh__rstr name;
  mesh__vhost *vhosts;
  size_t nvhosts;
  mesh__header_mutation headers;
  bool most_specific_header_mutations_wins;
  bool ignore_port_in_host_matching;
  uint32_t max_direct_response_body_bytes; /* default 4096 */
  mesh__fault_overrides faults;
  /* Built by mesh__route_table_seal(): */
  bool sealed;
  bool domain_has_port; /* some non-wildcard part of a domain ends in ":port" */
  mesh__domain_map exact, suffix, prefix;
  const mesh__domain_entry *suffixes; /* longest first */
  size_t nsuffixes;
  const mesh__domain_entry *prefixes; /* longest first */
  size_t nprefixes;
  const mesh__vhost *any; /* the "*" vhost, or NULL */
  const char *domain_pool; /* lower-case exact, suffix and prefix keys, NUL-separated */
  mesh__cleanup *cleanups;
};

/* Arena bound for one route table (untrusted config stays bounded). */
#define MESH__ROUTE_TABLE_ARENA_LIMIT (64u << 20)
#define MESH__ROUTE_DEFAULT_TIMEOUT_MS 15000u
#define MESH__ROUTE_DEFAULT_MAX_DIRECT_BODY 4096u

/* An empty table with one reference and the defaults above; NULL on OOM. */
mesh__route_table *mesh__route_table_new(void);
/* Run fn(arg) when the table is freed. On OOM runs fn(arg) at once and
 * returns -1 (so a compiled object is never leaked). */
int mesh__route_table_on_free(mesh__route_table *rt, void (*fn)(void *), void *arg);
/* Validate and index the domains (see route/match.h for the matching
 * rules): a domain may appear once across the table; one "*" at most.
 * Builds every vhost's route keys; sets every route's and vhost's back
 * pointer. 0, or -1 with a message. */
int mesh__route_table_seal(mesh__route_table *rt, char *err, size_t errlen);

mesh__route_table *mesh__route_table_ref(mesh__route_table *rt);
/* Accepts NULL. */
void mesh__route_table_unref(mesh__route_table *rt);

const char *mesh__route_table_name(const mesh__route_table *rt);
/* Call fn for every cluster name the table's routes name (not header
 * names); stops early and returns fn's value when it is non-zero. */
int mesh__route_table_each_cluster(const mesh__route_table *rt, int (*fn)(const char *name, size_t len, void *ud),
                                   void *ud);

/* Every cluster a route names (cluster, weighted cluster names) must be in
 * the snapshot: 0, or -1 with *missing pointing at the first that is not.
 * Names from request headers (cluster_header) are not checked. (Inline so
 * that the model does not link against the snapshot.) */
typedef struct mesh__route_check_ctx {
  const struct mesh__snapshot *s;
  const char *missing;
} mesh__route_check_ctx;
static inline int mesh__route_check_one(const char *name, size_t len, void *ud) {
  mesh__route_check_ctx *c = (mesh__route_check_ctx *)ud;
  if (mesh__snapshot_cluster(c->s, name, len) >= 0) return 0;
  c->missing = name;
  return 1;
}
static inline int mesh__route_table_check_clusters(const mesh__route_table *rt, const struct mesh__snapshot *s,
                                                   const char **missing) {
  mesh__route_check_ctx c = {s, NULL};
  if (mesh__route_table_each_cluster(rt, mesh__route_check_one, &c) == 0) return 0;
  *missing = c.missing;
  return -1;
}

/* Domain hashing and comparison, shared by the index builder and the
 * matcher: eight bytes at a time, ASCII letters folded to lower case with
 * SWAR arithmetic, so a lookup costs a few instructions per 8 bytes. */
static inline uint64_t mesh__lower8(uint64_t w) {
  uint64_t h = w & 0x7f7f7f7f7f7f7f7full;
  uint64_t ge_a = h + 0x3f3f3f3f3f3f3f3full; /* bit 7: byte >= 'A' */
  uint64_t gt_z = h + 0x2525252525252525ull; /* bit 7: byte > 'Z' */
  uint64_t upper = ge_a & ~gt_z & ~w & 0x8080808080808080ull;
  return w | (upper >> 2);
}

static inline uint64_t mesh__load8(const char *p) {
  uint64_t w;
  __builtin_memcpy(&w, p, 8);
  return w;
}

/* s[0..n), n < 8, as a word (zero-filled). */
static inline uint64_t mesh__load_short(const char *s, size_t n) {
  uint64_t w = 0;
  for (size_t i = 0; i < n; i++) w |= (uint64_t)(unsigned char)s[i] << (8 * i);
  return w;
}

static inline uint64_t mesh__hash_mix(uint64_t h, uint64_t w) {
  h = (h ^ w) * 0xff51afd7ed558ccdull;
  return h ^ (h >> 29);
}

/* Case-insensitive hash of s[0..n). */
static inline uint32_t mesh__domain_hash(const char *s, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
  if (n >= 8) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) h = mesh__hash_mix(h, mesh__lower8(mesh__load8(s + i)));
    if (i < n) h = mesh__hash_mix(h, mesh__lower8(mesh__load8(s + n - 8))); /* overlapping tail */
  } else {
    h = mesh__hash_mix(h, mesh__lower8(mesh__load_short(s, n)));
  }
  h *= 0xc4ceb9fe1a85ec53ull;
  return (uint32_t)(h ^ (h >> 32));
}

/* s[0..n) equals key[0..n) ignoring ASCII case; key is lower-case. */
static inline bool mesh__domain_eq(const char *s, const char *key, size_t n) {
  if (n < 8) return mesh__lower8(mesh__load_short(s, n)) == mesh__load_short(key, n);
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    if (mesh__lower8(mesh__load8(s + i)) != mesh__load8(key + i)) return false;
  return i == n || mesh__lower8(mesh__load8(s + n - 8)) == mesh__load8(key + n - 8);
}

#endif
