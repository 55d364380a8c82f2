/* The immutable cluster and endpoint model.
 *
 * A mesh__cluster is what libmesh keeps of an xDS Cluster (CDS); a
 * mesh__load_assignment is what it keeps of a ClusterLoadAssignment (EDS, or
 * a Cluster's inline load_assignment). Each lives in its own arena, is built
 * once off the hot path (xds/cds.c, or by hand in tests), then only read:
 * any thread may read a published object without a lock. Lifetime is an
 * atomic reference count; the last unref frees the arena.
 *
 * Building: *_new() returns an object with the documented defaults and one
 * reference; the builder fills the public fields (allocating from ->arena),
 * seals it (load assignments), then shares it as a const pointer.
 */
#ifndef MESH_MODEL_CLUSTER_H
#define MESH_MODEL_CLUSTER_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/arena.h"

/* ------------------------------------------------------------ endpoints */

/* Health as the load balancer sees it (Envoy core.v3.HealthStatus folded:
 * UNKNOWN and HEALTHY are healthy; DEGRADED is degraded; UNHEALTHY,
 * DRAINING and TIMEOUT are unhealthy). */
typedef enum mesh__health {
  MESH__HEALTHY = 0,
  MESH__DEGRADED = 1,
  MESH__UNHEALTHY = 2
} mesh__health;

/* Envoy's core.v3.HealthStatus values, kept for the config dump. */
enum {
  MESH__HS_UNKNOWN = 0,
  MESH__HS_HEALTHY = 1,
  MESH__HS_UNHEALTHY = 2,
  MESH__HS_DRAINING = 3,
  MESH__HS_TIMEOUT = 4,
  MESH__HS_DEGRADED = 5
};

typedef struct mesh__endpoint {
  const char *address;            /* as configured: IP literal or host name */
  const char *hostname;           /* Endpoint.hostname ("" when unset) */
  uint16_t port;                  /* 1..65535 */
  bool is_ip;                     /* address is an IP literal; sa is valid */
  socklen_t salen;
  union {                         /* resolved from the literal (port set) */
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
  } sa;
  uint8_t health_status;          /* MESH__HS_* as received */
  mesh__health health;            /* folded, see above */
  uint32_t weight;                /* load_balancing_weight, >= 1 (default 1) */
  uint32_t locality;              /* index in la->localities */
  uint32_t priority;              /* the locality's priority */
} mesh__endpoint;

typedef struct mesh__locality {
  const char *region, *zone, *sub_zone; /* "" when unset */
  uint32_t weight;                /* load_balancing_weight; 0: unset (no load
                                   * under locality-weighted balancing) */
  uint32_t priority;
  uint32_t first, count;          /* its endpoints: la->endpoints[first..+count) */
} mesh__locality;

typedef struct mesh__priority {
  uint32_t first_locality, n_localities; /* la->localities[...] */
  uint32_t first, count;          /* la->endpoints[first..+count) */
  uint64_t total_weight;          /* sum of endpoint weights (<= UINT32_MAX) */
} mesh__priority;

/* Endpoint index ("flat index"): the position in la->endpoints. After
 * mesh__load_assignment_seal() endpoints are ordered by priority, then by
 * locality in input order, then in input order; localities likewise. Every
 * priority from 0 to the highest one configured has an entry in
 * la->priorities (a skipped priority is an empty level, as in Envoy). */
typedef struct mesh__load_assignment {
  mesh__arena *arena;
  atomic_uint refs;
  const char *cluster_name;
  mesh__endpoint *endpoints;
  uint32_t n_endpoints;
  mesh__locality *localities;
  uint32_t n_localities;
  mesh__priority *priorities;
  uint32_t n_priorities;
  uint32_t overprovisioning_factor; /* percent: 140 means 1.4 (the default) */
  bool weighted_priority_health;  /* priority health from weights, not counts */
  bool sealed;
} mesh__load_assignment;

#define MESH__MAX_PRIORITY 128u    /* Envoy: LocalityLbEndpoints.priority lte 128 */
#define MESH__LA_ARENA_LIMIT (64u << 20) /* bytes per load assignment */

/* An empty load assignment with room for the given counts (all zeroed:
 * fill localities[i] and endpoints[j], each endpoint naming its locality),
 * overprovisioning 140, one reference. NULL when out of memory. */
mesh__load_assignment *mesh__load_assignment_new(size_t n_localities, size_t n_endpoints);
/* Orders localities and endpoints by priority, fills the per-locality and
 * per-priority ranges and checks what the builder cannot see alone
 * (priority range, weight sums). 0, or -1 with a reason in err. */
int mesh__load_assignment_seal(mesh__load_assignment *la, char *err, size_t errlen);
const mesh__load_assignment *mesh__load_assignment_ref(const mesh__load_assignment *la);
void mesh__load_assignment_unref(const mesh__load_assignment *la);

/* Sets ep->address and ep->port, and ep->sa when addr is an IPv4 or IPv6
 * literal. require_ip: a host name is an error. 0, or -1 with a reason in
 * why ("... is not a valid port", "... is not an IP address"). */
int mesh__endpoint_set_address(mesh__load_assignment *la, mesh__endpoint *ep, const char *addr,
                               uint32_t port, bool require_ip, char *why, size_t whylen);
/* Folds an Envoy HealthStatus value (unknown values are unhealthy). */
mesh__health mesh__health_from_status(int status);

/* ------------------------------------------------------------ clusters */

typedef enum mesh__discovery {
  MESH__DISCOVERY_STATIC = 0,
  MESH__DISCOVERY_STRICT_DNS = 1,
  MESH__DISCOVERY_LOGICAL_DNS = 2,
  MESH__DISCOVERY_EDS = 3
} mesh__discovery;

typedef enum mesh__lb_policy {
  MESH__LB_ROUND_ROBIN = 0,
  MESH__LB_LEAST_REQUEST = 1,
  MESH__LB_RANDOM = 2,
  MESH__LB_RING_HASH = 3,
  MESH__LB_MAGLEV = 4,
  /* Linkerd's peak-EWMA least latency: no xDS lb_policy names it (Envoy
   * has none); selectable by setting lb_policy in the model only. */
  MESH__LB_PEAK_EWMA = 5
} mesh__lb_policy;

typedef enum mesh__dns_family {
  MESH__DNS_AUTO = 0,
  MESH__DNS_V4_ONLY = 1,
  MESH__DNS_V6_ONLY = 2,
  MESH__DNS_V4_PREFERRED = 3,
  MESH__DNS_ALL = 4
} mesh__dns_family;

enum { MESH__RING_HASH_XX = 0, MESH__RING_HASH_MURMUR2 = 1 };

/* CircuitBreakers.Thresholds; defaults are Envoy's. */
typedef struct mesh__cb_thresholds {
  bool set;                       /* configured for this routing priority */
  uint32_t max_connections;       /* 1024 */
  uint32_t max_pending_requests;  /* 1024 */
  uint32_t max_requests;          /* 1024 */
  uint32_t max_retries;           /* 3 */
  bool has_retry_budget;
  double retry_budget_percent;    /* 20.0 */
  uint32_t retry_budget_min_concurrency; /* 3 */
  bool track_remaining;
  uint32_t max_connection_pools;  /* UINT32_MAX: unlimited */
} mesh__cb_thresholds;

enum { MESH__ROUTING_DEFAULT = 0, MESH__ROUTING_HIGH = 1 };

/* OutlierDetection; all durations in ms, defaults are Envoy's. */
typedef struct mesh__outlier_detection {
  uint32_t consecutive_5xx;                       /* 5 */
  uint64_t interval_ms;                           /* 10000 */
  uint64_t base_ejection_time_ms;                 /* 30000 */
  uint32_t max_ejection_percent;                  /* 10 */
  uint32_t enforcing_consecutive_5xx;             /* 100 */
  uint32_t enforcing_success_rate;                /* 100 */
  uint32_t success_rate_minimum_hosts;            /* 5 */
  uint32_t success_rate_request_volume;           /* 100 */
  uint32_t success_rate_stdev_factor;             /* 1900 (1.9 x 1000) */
  uint32_t consecutive_gateway_failure;           /* 5 */
  uint32_t enforcing_consecutive_gateway_failure; /* 0 */
  bool split_external_local_origin_errors;        /* false */
  uint32_t consecutive_local_origin_failure;      /* 5 */
  uint32_t enforcing_consecutive_local_origin_failure; /* 100 */
  uint32_t enforcing_local_origin_success_rate;   /* 100 */
  uint32_t failure_percentage_threshold;          /* 85 */
  uint32_t enforcing_failure_percentage;          /* 0 */
  uint32_t enforcing_failure_percentage_local_origin; /* 0 */
  uint32_t failure_percentage_minimum_hosts;      /* 5 */
  uint32_t failure_percentage_request_volume;     /* 50 */
  uint64_t max_ejection_time_ms;                  /* 300000 */
  uint64_t max_ejection_time_jitter_ms;           /* 0 */
  bool successful_active_health_check_uneject_host; /* true */
  bool always_eject_one_host;                     /* false */
} mesh__outlier_detection;

typedef struct mesh__slow_start {
  bool set;
  uint64_t window_ms;
  double aggression;              /* 1.0 */
  double min_weight_percent;      /* 10.0 */
} mesh__slow_start;

typedef struct mesh__cluster {
  mesh__arena *arena;
  atomic_uint refs;
  const char *name;
  const char *alt_stat_name;      /* "" when unset */
  mesh__discovery type;
  uint32_t connect_timeout_ms;    /* 5000 */
  mesh__lb_policy lb_policy;      /* ROUND_ROBIN */
  int protocol;                   /* mesh_protocol: DEFAULT (the caller's
                                   * choice), HTTP1 or HTTP2 */
  const char *eds_service_name;   /* EDS: the resource to subscribe (the
                                   * cluster name when service_name is empty) */
  uint64_t dns_refresh_rate_ms;   /* 5000 */
  bool respect_dns_ttl;
  mesh__dns_family dns_lookup_family; /* AUTO: IPv6, falling back to IPv4 */
  uint32_t per_connection_buffer_limit_bytes; /* 1 MiB */

  /* common_lb_config */
  uint32_t healthy_panic_threshold; /* percent, 50; 0 disables panic mode */
  bool locality_weighted;         /* locality_weighted_lb_config present */
  bool zone_aware;                /* zone_aware_lb_config present */
  bool fail_traffic_on_panic;     /* zone_aware_lb_config.fail_traffic_on_panic */
  uint64_t update_merge_window_ms; /* 1000 */
  bool close_connections_on_host_set_change;

  /* per-policy configs (stored now, used by the next policies) */
  uint32_t least_request_choice_count;   /* 2 */
  double least_request_active_request_bias; /* 1.0 */
  uint64_t ring_hash_min_size;    /* 1024 */
  uint64_t ring_hash_max_size;    /* 8388608 */
  int ring_hash_function;         /* MESH__RING_HASH_XX */
  bool use_hostname_for_hashing;
  uint32_t hash_balance_factor;   /* 0: unset */
  uint64_t maglev_table_size;     /* 65537 */
  mesh__slow_start slow_start;    /* round_robin or least_request config */

  /* circuit breakers, indexed by MESH__ROUTING_* */
  mesh__cb_thresholds cb[2];
  uint32_t per_host_max_connections; /* UINT32_MAX: unlimited */

  bool has_outlier_detection;
  mesh__outlier_detection outlier;

  /* HTTP protocol options (common_http_protocol_options) */
  uint32_t max_requests_per_connection; /* 0: unlimited */
  uint64_t idle_timeout_ms;       /* 3600000 (1 h); 0 disables */
  bool has_max_connection_duration;
  uint64_t max_connection_duration_ms;

  /* STATIC / STRICT_DNS / LOGICAL_DNS: the inline endpoints (a reference
   * held by the cluster; NULL when none were given); NULL for EDS. */
  const mesh__load_assignment *load_assignment;
} mesh__cluster;

#define MESH__CLUSTER_ARENA_LIMIT (1u << 20)

/* A cluster with Envoy's defaults and one reference; NULL when out of memory. */
mesh__cluster *mesh__cluster_new(void);
const mesh__cluster *mesh__cluster_ref(const mesh__cluster *c);
void mesh__cluster_unref(const mesh__cluster *c);

/* EDS: the ClusterLoadAssignment name to subscribe to (service_name, or
 * the cluster's name); NULL for other discovery types. */
const char *mesh__cluster_eds_service(const mesh__cluster *c);

/* Names for logs and errors: "ROUND_ROBIN", "STRICT_DNS", ... */
const char *mesh__lb_policy_name(mesh__lb_policy p);
const char *mesh__discovery_name(mesh__discovery d);

#endif
