/* Cluster and ClusterLoadAssignment -> model/cluster.h.
 *
 * Field semantics and defaults follow Envoy's v3 API
 * (api/envoy/config/cluster/v3 and api/envoy/config/endpoint/v3 protos)
 * and its validation rules (the PGV annotations and the checks Envoy makes
 * when it builds a cluster), so a config Envoy rejects is rejected here too,
 * with a path to the field. */
#include "xds/cds.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envoy/extensions/load_balancing_policies/least_request/v3/least_request.pb-c.h"
#include "envoy/extensions/load_balancing_policies/maglev/v3/maglev.pb-c.h"
#include "envoy/extensions/load_balancing_policies/random/v3/random.pb-c.h"
#include "envoy/extensions/load_balancing_policies/ring_hash/v3/ring_hash.pb-c.h"
#include "envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.pb-c.h"
#include "envoy/extensions/load_balancing_policies/wrr_locality/v3/wrr_locality.pb-c.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb-c.h"
#include "lb/lb.h"
#include "mesh/mesh.h"

typedef Envoy__Config__Cluster__V3__Cluster Cluster;
typedef Envoy__Config__Endpoint__V3__ClusterLoadAssignment Cla;
typedef Envoy__Config__Endpoint__V3__LocalityLbEndpoints LocalityLb;
typedef Envoy__Config__Endpoint__V3__LbEndpoint LbEndpoint;
typedef Envoy__Config__Core__V3__SocketAddress SocketAddress;
typedef Envoy__Config__Core__V3__HttpProtocolOptions CommonHttp;
typedef Envoy__Extensions__Upstreams__Http__V3__HttpProtocolOptions Hpo;

#define HPO_TYPE "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
#define RAW_BUFFER_TYPE "envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"
#define RAW_BUFFER_NAME "envoy.transport_sockets.raw_buffer"
#define DURATION_MAX_SECONDS 315576000000LL

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

static const char *str(const char *s) { return s ? s : ""; }

static const char *any_type(const Google__Protobuf__Any *a) {
  if (!a || !a->type_url) return "";
  const char *slash = strrchr(a->type_url, '/');
  return slash ? slash + 1 : a->type_url;
}

/* Duration -> ms; a positive duration below 1 ms rounds up to 1 ms, so it
 * never reads as "disabled". -1 when out of the Duration range. */
static int duration_ms(const Google__Protobuf__Duration *d, uint64_t *ms) {
  if (d->seconds < 0 || d->nanos < 0 || d->nanos > 999999999 || d->seconds > DURATION_MAX_SECONDS) return -1;
  *ms = (uint64_t)d->seconds * 1000u + ((uint64_t)d->nanos + 999999u) / 1000000u;
  return 0;
}

/* An optional Duration field into *ms (left alone when unset). min_ms: the
 * value must be above it (Envoy's "gt"), or -1 for any value. */
static int get_duration(const Google__Protobuf__Duration *d, const char *path, int64_t min_ms, uint64_t *ms,
                        char *err, size_t errlen) {
  uint64_t v;
  if (!d) return 0;
  if (duration_ms(d, &v) < 0)
    return fail(err, errlen, "%s: not a valid non-negative duration", path);
  if (min_ms >= 0 && v <= (uint64_t)min_ms) {
    if (min_ms == 0) return fail(err, errlen, "%s: must be greater than 0", path);
    return fail(err, errlen, "%s: must be greater than %lldms", path, (long long)min_ms);
  }
  *ms = v;
  return 0;
}

/* An optional Percent (0..100) into *out. */
static int get_percent(const Envoy__Type__V3__Percent *p, const char *path, double *out, char *err,
                       size_t errlen) {
  if (!p) return 0;
  if (!(p->value >= 0.0 && p->value <= 100.0))
    return fail(err, errlen, "%s: %g is not a percentage in [0, 100]", path, p->value);
  *out = p->value;
  return 0;
}

static int get_u32_max(const Google__Protobuf__UInt32Value *w, const char *path, uint32_t max, uint32_t *out,
                       char *err, size_t errlen) {
  if (!w) return 0;
  if (w->value > max) return fail(err, errlen, "%s: %u is above the maximum %u", path, w->value, max);
  *out = w->value;
  return 0;
}

#define U32(w, out)                       \
  do {                                    \
    if (w) (out) = (w)->value;            \
  } while (0)

/* Unknown fields (set by a newer control plane, or Envoy fields libmesh's
 * trimmed protos leave out): noted. */
static void note_unknown(const ProtobufCMessage *m, const char *path, mesh__notes *ignored) {
  for (unsigned i = 0; m && i < m->n_unknown_fields; i++)
    mesh__notes_addf(ignored, "%s: field %u is not known to libmesh, ignored", path, m->unknown_fields[i].tag);
}

/* ------------------------------------------------------------ load assignments */

typedef struct loc_key {
  uint32_t priority;
  const char *region, *zone, *sub_zone;
  size_t index;
} loc_key;

static int loc_cmp(const void *pa, const void *pb) {
  const loc_key *a = pa, *b = pb;
  if (a->priority != b->priority) return a->priority < b->priority ? -1 : 1;
  int c = strcmp(a->region, b->region);
  if (!c) c = strcmp(a->zone, b->zone);
  if (!c) c = strcmp(a->sub_zone, b->sub_zone);
  if (!c) c = a->index < b->index ? -1 : a->index > b->index;
  return c;
}

/* Envoy: "one can have multiple LocalityLbEndpoints for a locality, but
 * only if they have different priorities". */
static int check_duplicate_localities(const mesh__load_assignment *la, const char *pfx, char *err,
                                      size_t errlen) {
  if (la->n_localities < 2) return 0;
  loc_key *k = malloc(la->n_localities * sizeof *k);
  if (!k) return fail(err, errlen, "out of memory");
  for (size_t i = 0; i < la->n_localities; i++) {
    const mesh__locality *l = &la->localities[i];
    k[i] = (loc_key){l->priority, l->region, l->zone, l->sub_zone, i};
  }
  qsort(k, la->n_localities, sizeof *k, loc_cmp);
  int rc = 0;
  for (size_t i = 1; i < la->n_localities && rc == 0; i++) {
    const loc_key *a = &k[i - 1], *b = &k[i];
    if (a->priority == b->priority && !strcmp(a->region, b->region) && !strcmp(a->zone, b->zone) &&
        !strcmp(a->sub_zone, b->sub_zone))
      rc = fail(err, errlen,
                "%sendpoints[%zu].locality: same locality (region \"%s\", zone \"%s\", sub_zone \"%s\") and "
                "priority %u as endpoints[%zu]",
                pfx, b->index, b->region, b->zone, b->sub_zone, b->priority, a->index);
  }
  free(k);
  return rc;
}

enum { ADDR_IP_ONLY = 1, ADDR_HOSTNAMES = 0 };

static int translate_endpoint(const LbEndpoint *e, mesh__load_assignment *la, mesh__endpoint *ep, const char *path,
                              int ip_only, bool *noted_metadata, char *err, size_t errlen,
                              mesh__notes *ignored) {
  char why[200];
  if (!e) return fail(err, errlen, "%s: empty entry", path);
  switch (e->host_identifier_case) {
  case ENVOY__CONFIG__ENDPOINT__V3__LB_ENDPOINT__HOST_IDENTIFIER_ENDPOINT: break;
  case ENVOY__CONFIG__ENDPOINT__V3__LB_ENDPOINT__HOST_IDENTIFIER_ENDPOINT_NAME:
    return fail(err, errlen, "%s.endpoint_name: named endpoints are not supported", path);
  default: return fail(err, errlen, "%s.endpoint: required", path);
  }
  const Envoy__Config__Endpoint__V3__Endpoint *ed = e->endpoint;
  if (!ed || !ed->address) return fail(err, errlen, "%s.endpoint.address: required", path);
  if (ed->address->address_case != ENVOY__CONFIG__CORE__V3__ADDRESS__ADDRESS_SOCKET_ADDRESS ||
      !ed->address->socket_address)
    return fail(err, errlen, "%s.endpoint.address: only socket_address is supported (not pipe or envoy_internal_address)",
                path);
  const SocketAddress *sa = ed->address->socket_address;
  if (sa->protocol != ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__PROTOCOL__TCP)
    return fail(err, errlen, "%s.endpoint.address.socket_address.protocol: only TCP is supported", path);
  if (*str(sa->resolver_name))
    return fail(err, errlen, "%s.endpoint.address.socket_address.resolver_name: custom resolvers are not supported",
                path);
  if (sa->port_specifier_case == ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__PORT_SPECIFIER_NAMED_PORT)
    return fail(err, errlen, "%s.endpoint.address.socket_address.named_port: named ports are not supported", path);
  uint32_t port =
      sa->port_specifier_case == ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__PORT_SPECIFIER_PORT_VALUE ? sa->port_value : 0;
  if (port == 0 || port > 65535)
    return fail(err, errlen, "%s.endpoint.address.socket_address.port_value: %u is not a valid port", path, port);
  if (mesh__endpoint_set_address(la, ep, str(sa->address), port, ip_only == ADDR_IP_ONLY, why, sizeof why) < 0)
    return fail(err, errlen, "%s.endpoint.address.socket_address.address: %s", path, why);
  if (sa->ipv4_compat) mesh__notes_addf(ignored, "%s.endpoint.address.socket_address.ipv4_compat: ignored", path);
  if (*str(ed->hostname)) {
    ep->hostname = mesh__arena_strdup(la->arena, ed->hostname);
    if (!ep->hostname) return fail(err, errlen, "out of memory");
  }
  int hs = (int)e->health_status;
  ep->health_status = (uint8_t)(hs >= 0 && hs <= MESH__HS_DEGRADED ? hs : MESH__HS_UNHEALTHY);
  ep->health = mesh__health_from_status(hs);
  if (e->load_balancing_weight) {
    if (e->load_balancing_weight->value == 0)
      return fail(err, errlen, "%s.load_balancing_weight: must be at least 1", path);
    ep->weight = e->load_balancing_weight->value;
  }
  if (e->metadata && !*noted_metadata) {
    mesh__notes_addf(ignored, "%s.metadata: endpoint metadata is not used (subsets, transport socket matches), ignored",
                     path);
    *noted_metadata = true;
  }
  note_unknown(&e->base, path, ignored);
  note_unknown(&ed->base, path, ignored);
  return 0;
}

static int translate_cla(const Cla *m, const char *pfx, int ip_only, mesh__load_assignment **out, char *err,
                         size_t errlen, mesh__notes *ignored) {
  char path[160];
  size_t ne = 0;
  bool noted_metadata = false;
  for (size_t i = 0; i < m->n_endpoints; i++) {
    if (!m->endpoints[i]) return fail(err, errlen, "%sendpoints[%zu]: empty entry", pfx, i);
    ne += m->endpoints[i]->n_lb_endpoints;
  }
  mesh__load_assignment *la = mesh__load_assignment_new(m->n_endpoints, ne);
  if (!la) return fail(err, errlen, "out of memory (%zu localities, %zu endpoints)", m->n_endpoints, ne);
  int rc = -1;
  la->cluster_name = mesh__arena_strdup(la->arena, str(m->cluster_name));
  if (!la->cluster_name) {
    fail(err, errlen, "out of memory");
    goto done;
  }
  if (m->policy) {
    const Envoy__Config__Endpoint__V3__ClusterLoadAssignment__Policy *p = m->policy;
    if (p->n_drop_overloads) {
      fail(err, errlen, "%spolicy.drop_overloads: drop overloads are not supported (traffic would not be dropped)", pfx);
      goto done;
    }
    if (p->overprovisioning_factor) {
      if (p->overprovisioning_factor->value == 0) {
        fail(err, errlen, "%spolicy.overprovisioning_factor: must be greater than 0", pfx);
        goto done;
      }
      la->overprovisioning_factor = p->overprovisioning_factor->value;
    }
    la->weighted_priority_health = p->weighted_priority_health;
    if (p->endpoint_stale_after)
      mesh__notes_addf(ignored, "%spolicy.endpoint_stale_after: not supported, ignored", pfx);
    snprintf(path, sizeof path, "%spolicy", pfx);
    note_unknown(&p->base, path, ignored);
  }
  size_t j = 0;
  for (size_t i = 0; i < m->n_endpoints; i++) {
    const LocalityLb *L = m->endpoints[i];
    mesh__locality *loc = &la->localities[i];
    snprintf(path, sizeof path, "%sendpoints[%zu]", pfx, i);
    if (L->locality) {
      loc->region = mesh__arena_strdup(la->arena, str(L->locality->region));
      loc->zone = mesh__arena_strdup(la->arena, str(L->locality->zone));
      loc->sub_zone = mesh__arena_strdup(la->arena, str(L->locality->sub_zone));
      if (!loc->region || !loc->zone || !loc->sub_zone) {
        fail(err, errlen, "out of memory");
        goto done;
      }
    }
    if (L->load_balancing_weight) {
      if (L->load_balancing_weight->value == 0) {
        fail(err, errlen, "%s.load_balancing_weight: must be at least 1", path);
        goto done;
      }
      loc->weight = L->load_balancing_weight->value;
    }
    if (L->priority > MESH__MAX_PRIORITY) {
      fail(err, errlen, "%s.priority: %u is above the maximum %u", path, L->priority, MESH__MAX_PRIORITY);
      goto done;
    }
    loc->priority = L->priority;
    for (unsigned u = 0; u < L->base.n_unknown_fields; u++) {
      uint32_t tag = L->base.unknown_fields[u].tag;
      if (tag == 7 || tag == 8) { /* load_balancer_endpoints, leds_cluster_locality_config */
        fail(err, errlen, "%s.%s: not supported (its endpoints would be missing)", path,
             tag == 7 ? "load_balancer_endpoints" : "leds_cluster_locality_config");
        goto done;
      }
      mesh__notes_addf(ignored, "%s: field %u is not known to libmesh, ignored", path, tag);
    }
    for (size_t k = 0; k < L->n_lb_endpoints; k++, j++) {
      char epath[200];
      snprintf(epath, sizeof epath, "%s.lb_endpoints[%zu]", path, k);
      la->endpoints[j].locality = (uint32_t)i;
      if (translate_endpoint(L->lb_endpoints[k], la, &la->endpoints[j], epath, ip_only, &noted_metadata, err, errlen,
                             ignored) < 0)
        goto done;
    }
  }
  if (check_duplicate_localities(la, pfx, err, errlen) < 0) goto done;
  char e2[256];
  if (mesh__load_assignment_seal(la, e2, sizeof e2) < 0) {
    fail(err, errlen, "%s%s", pfx, e2);
    goto done;
  }
  note_unknown(&m->base, *pfx ? "load_assignment" : "ClusterLoadAssignment", ignored);
  *out = la;
  rc = 0;
done:
  if (rc) mesh__load_assignment_unref(la);
  return rc;
}

int mesh__eds_translate(const Cla *la, mesh__load_assignment **out, char *err, size_t errlen, mesh__notes *ignored) {
  return translate_cla(la, "", ADDR_IP_ONLY, out, err, errlen, ignored);
}

/* ------------------------------------------------------------ clusters */

/* Envoy Cluster fields that libmesh's protos leave out arrive as unknown
 * fields (binary xDS). Those that would change behaviour if skipped are
 * errors; the rest are noted. */
static const struct {
  uint32_t tag;
  const char *name;
  const char *reject; /* why it is an error, or NULL: noted */
} cluster_extra[] = {
    {8, "health_checks", NULL},
    {18, "dns_resolvers", NULL},
    {20, "cleanup_interval", NULL},
    {21, "upstream_bind_config", NULL},
    {22, "lb_subset_config", "subset load balancing is not supported (routes would reach every endpoint)"},
    {26, "protocol_selection", NULL},
    {30, "upstream_connection_options", NULL},
    {31, "close_connections_on_host_health_failure", NULL},
    {32, "ignore_health_on_host_removal", NULL},
    {40, "filters", "upstream network filters are not supported"},
    {42, "lrs_server", NULL},
    {43, "transport_socket_matches", "TLS to upstreams is not supported yet (refusing to send plaintext)"},
    {44, "dns_failure_refresh_rate", NULL},
    {45, "use_tcp_for_dns_lookups", NULL},
    {46, "upstream_http_protocol_options", NULL},
    {47, "track_timeout_budgets", NULL},
    {48, "upstream_config", "custom upstreams are not supported"},
    {49, "track_cluster_stats", NULL},
    {50, "preconnect_policy", NULL},
    {51, "connection_pool_per_downstream_connection", NULL},
    {53, "dns_resolution_config", NULL},
    {54, "wait_for_warm_on_init", NULL},
    {55, "typed_dns_resolver_config", NULL},
    {57, "lrs_report_endpoint_metrics", NULL},
    {58, "dns_jitter", NULL},
};

const char *mesh__cds_unknown_field_reject(const ProtobufCMessageDescriptor *d, const char *name) {
  if (d != &envoy__config__cluster__v3__cluster__descriptor) return NULL;
  for (size_t k = 0; k < sizeof cluster_extra / sizeof cluster_extra[0]; k++)
    if (!strcmp(cluster_extra[k].name, name)) return cluster_extra[k].reject;
  return NULL;
}

static int read_varint(const uint8_t *p, size_t n, uint64_t *v) {
  uint64_t x = 0;
  for (size_t i = 0; i < n && i < 10; i++) {
    x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
    if (!(p[i] & 0x80)) {
      *v = x;
      return 0;
    }
  }
  return -1;
}

static int cluster_unknown_fields(const Cluster *m, bool *use_downstream, char *err, size_t errlen,
                                  mesh__notes *ignored) {
  for (unsigned i = 0; i < m->base.n_unknown_fields; i++) {
    const ProtobufCMessageUnknownField *u = &m->base.unknown_fields[i];
    const char *name = NULL, *reject = NULL;
    for (size_t k = 0; k < sizeof cluster_extra / sizeof cluster_extra[0]; k++)
      if (cluster_extra[k].tag == u->tag) {
        name = cluster_extra[k].name;
        reject = cluster_extra[k].reject;
      }
    if (reject) return fail(err, errlen, "%s: %s", name, reject);
    if (u->tag == 26) {
      /* protocol_selection: USE_DOWNSTREAM_PROTOCOL (1) means "the
       * protocol of the call", which is what the caller chooses here. */
      uint64_t v = 0;
      if (u->wire_type == PROTOBUF_C_WIRE_TYPE_VARINT && read_varint(u->data, u->len, &v) == 0 && v <= 1) {
        *use_downstream = v == 1;
        continue;
      }
    }
    if (name) mesh__notes_addf(ignored, "%s: not supported, ignored", name);
    else mesh__notes_addf(ignored, "field %u: not known to libmesh, ignored", u->tag);
  }
  return 0;
}

static int slow_start(const Envoy__Config__Cluster__V3__Cluster__SlowStartConfig *s, const char *path, mesh__cluster *c,
                      char *err, size_t errlen, mesh__notes *ignored) {
  char p[160];
  if (!s) return 0;
  c->slow_start.set = true;
  snprintf(p, sizeof p, "%s.slow_start_window", path);
  if (get_duration(s->slow_start_window, p, -1, &c->slow_start.window_ms, err, errlen) < 0) return -1;
  if (s->aggression) {
    double a = s->aggression->default_value;
    if (!(a > 0.0) || !isfinite(a))
      return fail(err, errlen, "%s.aggression: %g must be greater than 0", path, a);
    c->slow_start.aggression = a;
  }
  snprintf(p, sizeof p, "%s.min_weight_percent", path);
  if (get_percent(s->min_weight_percent, p, &c->slow_start.min_weight_percent, err, errlen) < 0) return -1;
  mesh__notes_addf(ignored, "%s: stored, not applied yet (new endpoints get their full weight at once)", path);
  return 0;
}

static bool is_prime(uint64_t n) {
  if (n < 2) return false;
  for (uint64_t d = 2; d * d <= n; d++)
    if (n % d == 0) return false;
  return true;
}

/* Settings the cluster's own *_lb_config fields and the typed policies of
 * load_balancing_policy share, checked once; path names the message. */

static int ring_sizes(const Google__Protobuf__UInt64Value *min, const Google__Protobuf__UInt64Value *max,
                      const char *path, mesh__cluster *c, char *err, size_t errlen) {
  if (min) c->ring_hash_min_size = min->value;
  if (max) c->ring_hash_max_size = max->value;
  if (c->ring_hash_min_size > 8388608)
    return fail(err, errlen, "%s.minimum_ring_size: %llu is above 8388608", path,
                (unsigned long long)c->ring_hash_min_size);
  if (c->ring_hash_max_size > 8388608)
    return fail(err, errlen, "%s.maximum_ring_size: %llu is above 8388608", path,
                (unsigned long long)c->ring_hash_max_size);
  if (c->ring_hash_min_size > c->ring_hash_max_size)
    return fail(err, errlen, "%s: minimum_ring_size (%llu) > maximum_ring_size (%llu)", path,
                (unsigned long long)c->ring_hash_min_size, (unsigned long long)c->ring_hash_max_size);
  return 0;
}

static int maglev_table(const Google__Protobuf__UInt64Value *size, const char *path, mesh__cluster *c, char *err,
                        size_t errlen) {
  if (!size) return 0;
  if (size->value > 5000011 || !is_prime(size->value))
    return fail(err, errlen, "%s.table_size: %llu must be a prime number no larger than 5000011", path,
                (unsigned long long)size->value);
  c->maglev_table_size = size->value;
  return 0;
}

static int least_request(const Google__Protobuf__UInt32Value *choices, const Envoy__Config__Core__V3__RuntimeDouble *bias,
                         const char *path, mesh__cluster *c, char *err, size_t errlen) {
  if (choices) {
    if (choices->value < 2) return fail(err, errlen, "%s.choice_count: %u must be at least 2", path, choices->value);
    c->least_request_choice_count = choices->value;
  }
  if (bias) {
    double b = bias->default_value;
    if (!(b >= 0.0) || !isfinite(b)) return fail(err, errlen, "%s.active_request_bias: %g must be 0 or more", path, b);
    c->least_request_active_request_bias = b;
  }
  return 0;
}

/* consistent_hashing_lb_config (of common_lb_config or a typed policy). */
static int hashing(bool hostname, const Google__Protobuf__UInt32Value *factor, const char *path, mesh__cluster *c,
                   char *err, size_t errlen) {
  c->use_hostname_for_hashing = hostname;
  if (factor) {
    if (factor->value < 100) return fail(err, errlen, "%s.hash_balance_factor: %u must be at least 100", path, factor->value);
    c->hash_balance_factor = factor->value;
  }
  return 0;
}

static void zone_aware(bool fail_traffic_on_panic, const char *path, mesh__cluster *c, mesh__notes *ignored) {
  c->zone_aware = true;
  c->locality_weighted = false;
  c->fail_traffic_on_panic = fail_traffic_on_panic;
  mesh__notes_addf(ignored,
                   "%s.zone_aware_lb_config: zone-aware routing needs the local locality, which libmesh does not "
                   "know yet; not applied (fail_traffic_on_panic is)", path);
}

static int lb_configs(const Cluster *m, mesh__cluster *c, char *err, size_t errlen, mesh__notes *ignored) {
  const char *policy = mesh__lb_policy_name(c->lb_policy);
  switch (m->lb_config_case) {
  case ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_CONFIG_RING_HASH_LB_CONFIG: {
    const Envoy__Config__Cluster__V3__Cluster__RingHashLbConfig *r = m->ring_hash_lb_config;
    if (c->lb_policy != MESH__LB_RING_HASH) {
      mesh__notes_addf(ignored, "ring_hash_lb_config: ignored (lb_policy is %s)", policy);
      break;
    }
    if (ring_sizes(r->minimum_ring_size, r->maximum_ring_size, "ring_hash_lb_config", c, err, errlen) < 0) return -1;
    if (r->hash_function == ENVOY__CONFIG__CLUSTER__V3__CLUSTER__RING_HASH_LB_CONFIG__HASH_FUNCTION__XX_HASH)
      c->ring_hash_function = MESH__RING_HASH_XX;
    else if (r->hash_function == ENVOY__CONFIG__CLUSTER__V3__CLUSTER__RING_HASH_LB_CONFIG__HASH_FUNCTION__MURMUR_HASH_2)
      c->ring_hash_function = MESH__RING_HASH_MURMUR2;
    else
      return fail(err, errlen, "ring_hash_lb_config.hash_function: unknown value %d", (int)r->hash_function);
    break;
  }
  case ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_CONFIG_MAGLEV_LB_CONFIG: {
    if (c->lb_policy != MESH__LB_MAGLEV) {
      mesh__notes_addf(ignored, "maglev_lb_config: ignored (lb_policy is %s)", policy);
      break;
    }
    return maglev_table(m->maglev_lb_config->table_size, "maglev_lb_config", c, err, errlen);
  }
  case ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_CONFIG_LEAST_REQUEST_LB_CONFIG: {
    const Envoy__Config__Cluster__V3__Cluster__LeastRequestLbConfig *l = m->least_request_lb_config;
    if (c->lb_policy != MESH__LB_LEAST_REQUEST) {
      mesh__notes_addf(ignored, "least_request_lb_config: ignored (lb_policy is %s)", policy);
      break;
    }
    if (least_request(l->choice_count, l->active_request_bias, "least_request_lb_config", c, err, errlen) < 0)
      return -1;
    return slow_start(l->slow_start_config, "least_request_lb_config.slow_start_config", c, err, errlen, ignored);
  }
  case ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_CONFIG_ROUND_ROBIN_LB_CONFIG:
    if (c->lb_policy != MESH__LB_ROUND_ROBIN) {
      mesh__notes_addf(ignored, "round_robin_lb_config: ignored (lb_policy is %s)", policy);
      break;
    }
    return slow_start(m->round_robin_lb_config->slow_start_config, "round_robin_lb_config.slow_start_config", c, err,
                      errlen, ignored);
  case ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_CONFIG_ORIGINAL_DST_LB_CONFIG:
    mesh__notes_add(ignored, "original_dst_lb_config: ignored (the cluster is not ORIGINAL_DST)");
    break;
  default: break;
  }
  return 0;
}

static int common_lb(const Envoy__Config__Cluster__V3__Cluster__CommonLbConfig *l, mesh__cluster *c, char *err,
                     size_t errlen, mesh__notes *ignored) {
  if (!l) return 0;
  double pct = 50.0;
  if (get_percent(l->healthy_panic_threshold, "common_lb_config.healthy_panic_threshold", &pct, err, errlen) < 0)
    return -1;
  c->healthy_panic_threshold = (uint32_t)(pct + 0.5); /* Envoy rounds */
  switch (l->locality_config_specifier_case) {
  case ENVOY__CONFIG__CLUSTER__V3__CLUSTER__COMMON_LB_CONFIG__LOCALITY_CONFIG_SPECIFIER_LOCALITY_WEIGHTED_LB_CONFIG:
    c->locality_weighted = true;
    break;
  case ENVOY__CONFIG__CLUSTER__V3__CLUSTER__COMMON_LB_CONFIG__LOCALITY_CONFIG_SPECIFIER_ZONE_AWARE_LB_CONFIG:
    zone_aware(l->zone_aware_lb_config && l->zone_aware_lb_config->fail_traffic_on_panic, "common_lb_config", c, ignored);
    break;
  default: break;
  }
  if (get_duration(l->update_merge_window, "common_lb_config.update_merge_window", -1, &c->update_merge_window_ms, err,
                   errlen) < 0)
    return -1;
  if (l->ignore_new_hosts_until_first_hc)
    mesh__notes_add(ignored, "common_lb_config.ignore_new_hosts_until_first_hc: no active health checks, ignored");
  c->close_connections_on_host_set_change = l->close_connections_on_host_set_change;
  if (l->consistent_hashing_lb_config &&
      hashing(l->consistent_hashing_lb_config->use_hostname_for_hashing,
              l->consistent_hashing_lb_config->hash_balance_factor, "common_lb_config.consistent_hashing_lb_config", c,
              err, errlen) < 0)
    return -1;
  note_unknown(&l->base, "common_lb_config", ignored);
  return 0;
}

/* ---- load_balancing_policy: typed policies, the first supported wins ---- */

typedef Envoy__Config__Cluster__V3__LoadBalancingPolicy LbPolicyList;
typedef Envoy__Extensions__LoadBalancingPolicies__Common__V3__LocalityLbConfig TypedLocalityLb;
typedef Envoy__Extensions__LoadBalancingPolicies__Common__V3__SlowStartConfig SlowStart;
typedef Envoy__Extensions__LoadBalancingPolicies__Common__V3__ConsistentHashingLbConfig ConsistentHashing;

#define LBP "envoy.extensions.load_balancing_policies."
/* How deep wrr_locality may nest policy lists. */
#define LBP_MAX_DEPTH 4

static int typed_slow_start(const SlowStart *s, const char *path, mesh__cluster *c, char *err, size_t errlen,
                            mesh__notes *ignored) {
  if (!s) return 0;
  Envoy__Config__Cluster__V3__Cluster__SlowStartConfig v = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__SLOW_START_CONFIG__INIT;
  v.slow_start_window = s->slow_start_window;
  v.aggression = s->aggression;
  v.min_weight_percent = s->min_weight_percent;
  return slow_start(&v, path, c, err, errlen, ignored);
}

static void typed_locality(const TypedLocalityLb *l, const char *path, mesh__cluster *c, mesh__notes *ignored) {
  if (!l) return;
  switch (l->locality_config_specifier_case) {
  case ENVOY__EXTENSIONS__LOAD_BALANCING_POLICIES__COMMON__V3__LOCALITY_LB_CONFIG__LOCALITY_CONFIG_SPECIFIER_LOCALITY_WEIGHTED_LB_CONFIG:
    c->locality_weighted = true;
    c->zone_aware = false;
    break;
  case ENVOY__EXTENSIONS__LOAD_BALANCING_POLICIES__COMMON__V3__LOCALITY_LB_CONFIG__LOCALITY_CONFIG_SPECIFIER_ZONE_AWARE_LB_CONFIG:
    zone_aware(l->zone_aware_lb_config && l->zone_aware_lb_config->fail_traffic_on_panic, path, c, ignored);
    break;
  default: break;
  }
}

/* A hashing policy's consistent_hashing_lb_config, or (ring_hash's
 * deprecated fields) the same settings inline. */
static int typed_hashing(const ConsistentHashing *h, bool hostname, const Google__Protobuf__UInt32Value *factor,
                         const char *path, mesh__cluster *c, char *err, size_t errlen) {
  char p[300];
  if (!h) return hashing(hostname, factor, path, c, err, errlen);
  snprintf(p, sizeof p, "%s.consistent_hashing_lb_config", path);
  return hashing(h->use_hostname_for_hashing, h->hash_balance_factor, p, c, err, errlen);
}


static int typed_lb(const LbPolicyList *l, const char *path, int depth, mesh__cluster *c, char *err, size_t errlen,
                    mesh__notes *ignored);

/* One policy of the list: 1 when used, 0 when its type is not one libmesh
 * has (the next is tried), -1 when it is but its settings are refused. */
static int typed_policy(const Google__Protobuf__Any *a, const char *p, int depth, mesh__cluster *c, char *err,
                        size_t errlen, mesh__notes *ignored) {
  const char *type = any_type(a);
  char sub[300];
  if (strncmp(type, LBP, sizeof LBP - 1) != 0) return 0;
  const char *kind = type + sizeof LBP - 1;
  const ProtobufCMessageDescriptor *d = NULL;
  if (!strcmp(kind, "round_robin.v3.RoundRobin")) d = &envoy__extensions__load_balancing_policies__round_robin__v3__round_robin__descriptor;
  else if (!strcmp(kind, "least_request.v3.LeastRequest")) d = &envoy__extensions__load_balancing_policies__least_request__v3__least_request__descriptor;
  else if (!strcmp(kind, "random.v3.Random")) d = &envoy__extensions__load_balancing_policies__random__v3__random__descriptor;
  else if (!strcmp(kind, "ring_hash.v3.RingHash")) d = &envoy__extensions__load_balancing_policies__ring_hash__v3__ring_hash__descriptor;
  else if (!strcmp(kind, "maglev.v3.Maglev")) d = &envoy__extensions__load_balancing_policies__maglev__v3__maglev__descriptor;
  else if (!strcmp(kind, "wrr_locality.v3.WrrLocality")) d = &envoy__extensions__load_balancing_policies__wrr_locality__v3__wrr_locality__descriptor;
  if (!d) return 0;
  ProtobufCMessage *msg = protobuf_c_message_unpack(d, NULL, a->value.len, a->value.data);
  if (!msg) return fail(err, errlen, "%s: could not decode the %s", p, type);
  int rc = 1;
  if (d == &envoy__extensions__load_balancing_policies__round_robin__v3__round_robin__descriptor) {
    const Envoy__Extensions__LoadBalancingPolicies__RoundRobin__V3__RoundRobin *v = (void *)msg;
    c->lb_policy = MESH__LB_ROUND_ROBIN;
    typed_locality(v->locality_lb_config, p, c, ignored);
    snprintf(sub, sizeof sub, "%s.slow_start_config", p);
    if (typed_slow_start(v->slow_start_config, sub, c, err, errlen, ignored) < 0) rc = -1;
  } else if (d == &envoy__extensions__load_balancing_policies__least_request__v3__least_request__descriptor) {
    const Envoy__Extensions__LoadBalancingPolicies__LeastRequest__V3__LeastRequest *v = (void *)msg;
    c->lb_policy = MESH__LB_LEAST_REQUEST;
    if (least_request(v->choice_count, v->active_request_bias, p, c, err, errlen) < 0) rc = -1;
    if (rc > 0 && (v->selection_method ==
                       ENVOY__EXTENSIONS__LOAD_BALANCING_POLICIES__LEAST_REQUEST__V3__LEAST_REQUEST__SELECTION_METHOD__FULL_SCAN ||
                   (v->enable_full_scan && v->enable_full_scan->value)))
      rc = fail(err, errlen, "%s: full-scan selection is not supported (libmesh samples choice_count endpoints)", p);
    if (rc > 0) {
      typed_locality(v->locality_lb_config, p, c, ignored);
      snprintf(sub, sizeof sub, "%s.slow_start_config", p);
      if (typed_slow_start(v->slow_start_config, sub, c, err, errlen, ignored) < 0) rc = -1;
    }
  } else if (d == &envoy__extensions__load_balancing_policies__random__v3__random__descriptor) {
    c->lb_policy = MESH__LB_RANDOM;
    typed_locality(((const Envoy__Extensions__LoadBalancingPolicies__Random__V3__Random *)msg)->locality_lb_config, p, c,
                   ignored);
  } else if (d == &envoy__extensions__load_balancing_policies__ring_hash__v3__ring_hash__descriptor) {
    const Envoy__Extensions__LoadBalancingPolicies__RingHash__V3__RingHash *v = (void *)msg;
    c->lb_policy = MESH__LB_RING_HASH;
    switch (v->hash_function) {
    case ENVOY__EXTENSIONS__LOAD_BALANCING_POLICIES__RING_HASH__V3__RING_HASH__HASH_FUNCTION__DEFAULT_HASH:
    case ENVOY__EXTENSIONS__LOAD_BALANCING_POLICIES__RING_HASH__V3__RING_HASH__HASH_FUNCTION__XX_HASH:
      c->ring_hash_function = MESH__RING_HASH_XX;
      break;
    case ENVOY__EXTENSIONS__LOAD_BALANCING_POLICIES__RING_HASH__V3__RING_HASH__HASH_FUNCTION__MURMUR_HASH_2:
      c->ring_hash_function = MESH__RING_HASH_MURMUR2;
      break;
    default: rc = fail(err, errlen, "%s.hash_function: unknown value %d", p, (int)v->hash_function);
    }
    if (rc > 0 && ring_sizes(v->minimum_ring_size, v->maximum_ring_size, p, c, err, errlen) < 0) rc = -1;
    if (rc > 0 && typed_hashing(v->consistent_hashing_lb_config, v->use_hostname_for_hashing, v->hash_balance_factor, p,
                                c, err, errlen) < 0)
      rc = -1;
    if (rc > 0 && v->locality_weighted_lb_config) c->locality_weighted = true;
  } else if (d == &envoy__extensions__load_balancing_policies__maglev__v3__maglev__descriptor) {
    const Envoy__Extensions__LoadBalancingPolicies__Maglev__V3__Maglev *v = (void *)msg;
    c->lb_policy = MESH__LB_MAGLEV;
    if (maglev_table(v->table_size, p, c, err, errlen) < 0) rc = -1;
    if (rc > 0 && typed_hashing(v->consistent_hashing_lb_config, false, NULL, p, c, err, errlen) < 0) rc = -1;
    if (rc > 0 && v->locality_weighted_lb_config) c->locality_weighted = true;
  } else {
    /* wrr_locality: localities by their EDS weights, the child policy
     * inside each (gRPC's default for xDS clusters). */
    const Envoy__Extensions__LoadBalancingPolicies__WrrLocality__V3__WrrLocality *v = (void *)msg;
    snprintf(sub, sizeof sub, "%s.endpoint_picking_policy", p);
    if (!v->endpoint_picking_policy) rc = fail(err, errlen, "%s: required", sub);
    else if (depth + 1 >= LBP_MAX_DEPTH) rc = fail(err, errlen, "%s: nested more than %d deep", sub, LBP_MAX_DEPTH);
    else rc = typed_lb(v->endpoint_picking_policy, sub, depth + 1, c, err, errlen, ignored);
    if (rc > 0) c->locality_weighted = true;
  }
  protobuf_c_message_free_unpacked(msg, NULL);
  return rc;
}

/* 1: a policy of the list is used; -1: refused (err says why). */
static int typed_lb(const LbPolicyList *l, const char *path, int depth, mesh__cluster *c, char *err, size_t errlen,
                    mesh__notes *ignored) {
  char p[220];
  if (!l || l->n_policies == 0) return fail(err, errlen, "%s.policies: at least one policy is required", path);
  for (size_t i = 0; i < l->n_policies; i++) {
    const Envoy__Config__Cluster__V3__LoadBalancingPolicy__Policy *pol = l->policies[i];
    snprintf(p, sizeof p, "%s.policies[%zu].typed_extension_config", path, i);
    if (!pol || !pol->typed_extension_config || !pol->typed_extension_config->typed_config)
      return fail(err, errlen, "%s.typed_config: required", p);
    const Google__Protobuf__Any *a = pol->typed_extension_config->typed_config;
    int rc = typed_policy(a, p, depth, c, err, errlen, ignored);
    if (rc != 0) return rc;
    mesh__notes_addf(ignored, "%s (%.200s): not supported, the next policy is tried", p, any_type(a));
  }
  return fail(err, errlen, "%s: none of its %zu policies is supported by libmesh (round_robin, least_request, random, "
              "ring_hash, maglev, wrr_locality)", path, l->n_policies);
}

static int circuit_breakers(const Envoy__Config__Cluster__V3__CircuitBreakers *cb, mesh__cluster *c, char *err,
                            size_t errlen, mesh__notes *ignored) {
  char p[160];
  if (!cb) return 0;
  for (size_t i = 0; i < cb->n_thresholds; i++) {
    const Envoy__Config__Cluster__V3__CircuitBreakers__Thresholds *t = cb->thresholds[i];
    if (!t) return fail(err, errlen, "circuit_breakers.thresholds[%zu]: empty entry", i);
    int prio = (int)t->priority;
    if (prio != MESH__ROUTING_DEFAULT && prio != MESH__ROUTING_HIGH)
      return fail(err, errlen, "circuit_breakers.thresholds[%zu].priority: unknown routing priority %d", i, prio);
    mesh__cb_thresholds *o = &c->cb[prio];
    if (o->set) {
      /* Envoy uses the first entry of a priority. */
      mesh__notes_addf(ignored, "circuit_breakers.thresholds[%zu]: a second entry for priority %s, ignored", i,
                       prio ? "HIGH" : "DEFAULT");
      continue;
    }
    o->set = true;
    U32(t->max_connections, o->max_connections);
    U32(t->max_pending_requests, o->max_pending_requests);
    U32(t->max_requests, o->max_requests);
    U32(t->max_retries, o->max_retries);
    U32(t->max_connection_pools, o->max_connection_pools);
    o->track_remaining = t->track_remaining;
    if (t->retry_budget) {
      o->has_retry_budget = true;
      snprintf(p, sizeof p, "circuit_breakers.thresholds[%zu].retry_budget.budget_percent", i);
      if (get_percent(t->retry_budget->budget_percent, p, &o->retry_budget_percent, err, errlen) < 0) return -1;
      U32(t->retry_budget->min_retry_concurrency, o->retry_budget_min_concurrency);
    }
    snprintf(p, sizeof p, "circuit_breakers.thresholds[%zu]", i);
    note_unknown(&t->base, p, ignored);
  }
  for (size_t i = 0; i < cb->n_per_host_thresholds; i++) {
    const Envoy__Config__Cluster__V3__CircuitBreakers__Thresholds *t = cb->per_host_thresholds[i];
    if (!t) return fail(err, errlen, "circuit_breakers.per_host_thresholds[%zu]: empty entry", i);
    if (i > 0 || t->priority != ENVOY__CONFIG__CORE__V3__ROUTING_PRIORITY__DEFAULT) {
      mesh__notes_addf(ignored, "circuit_breakers.per_host_thresholds[%zu]: only the first (DEFAULT) entry is used", i);
      continue;
    }
    U32(t->max_connections, c->per_host_max_connections);
    if (t->max_pending_requests || t->max_requests || t->max_retries || t->retry_budget || t->max_connection_pools)
      mesh__notes_add(ignored, "circuit_breakers.per_host_thresholds[0]: only max_connections is supported (as in "
                               "Envoy), the other limits are ignored");
  }
  note_unknown(&cb->base, "circuit_breakers", ignored);
  return 0;
}

static int outlier(const Envoy__Config__Cluster__V3__OutlierDetection *od, mesh__cluster *c, char *err,
                   size_t errlen, mesh__notes *ignored) {
  if (!od) return 0;
  mesh__outlier_detection *o = &c->outlier;
  c->has_outlier_detection = true;
  bool max_set = od->max_ejection_time != NULL;
  U32(od->consecutive_5xx, o->consecutive_5xx);
  U32(od->success_rate_minimum_hosts, o->success_rate_minimum_hosts);
  U32(od->success_rate_request_volume, o->success_rate_request_volume);
  U32(od->success_rate_stdev_factor, o->success_rate_stdev_factor);
  U32(od->consecutive_gateway_failure, o->consecutive_gateway_failure);
  U32(od->consecutive_local_origin_failure, o->consecutive_local_origin_failure);
  U32(od->failure_percentage_minimum_hosts, o->failure_percentage_minimum_hosts);
  U32(od->failure_percentage_request_volume, o->failure_percentage_request_volume);
  o->split_external_local_origin_errors = od->split_external_local_origin_errors;
  if (od->successful_active_health_check_uneject_host)
    o->successful_active_health_check_uneject_host = od->successful_active_health_check_uneject_host->value;
  if (od->always_eject_one_host) o->always_eject_one_host = od->always_eject_one_host->value;
  static const struct {
    const char *name;
    size_t off;
  } pcts[] = {
#define P(f) {"outlier_detection." #f, offsetof(Envoy__Config__Cluster__V3__OutlierDetection, f)}
      P(max_ejection_percent), P(enforcing_consecutive_5xx), P(enforcing_success_rate),
      P(enforcing_consecutive_gateway_failure), P(enforcing_consecutive_local_origin_failure),
      P(enforcing_local_origin_success_rate), P(failure_percentage_threshold), P(enforcing_failure_percentage),
      P(enforcing_failure_percentage_local_origin),
#undef P
  };
  uint32_t *dst[] = {&o->max_ejection_percent,
                     &o->enforcing_consecutive_5xx,
                     &o->enforcing_success_rate,
                     &o->enforcing_consecutive_gateway_failure,
                     &o->enforcing_consecutive_local_origin_failure,
                     &o->enforcing_local_origin_success_rate,
                     &o->failure_percentage_threshold,
                     &o->enforcing_failure_percentage,
                     &o->enforcing_failure_percentage_local_origin};
  for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++) {
    const Google__Protobuf__UInt32Value *w = *(Google__Protobuf__UInt32Value *const *)((const char *)od + pcts[i].off);
    if (get_u32_max(w, pcts[i].name, 100, dst[i], err, errlen) < 0) return -1;
  }
  if (get_duration(od->interval, "outlier_detection.interval", 0, &o->interval_ms, err, errlen) < 0 ||
      get_duration(od->base_ejection_time, "outlier_detection.base_ejection_time", 0, &o->base_ejection_time_ms, err,
                   errlen) < 0 ||
      get_duration(od->max_ejection_time, "outlier_detection.max_ejection_time", 0, &o->max_ejection_time_ms, err,
                   errlen) < 0 ||
      get_duration(od->max_ejection_time_jitter, "outlier_detection.max_ejection_time_jitter", -1,
                   &o->max_ejection_time_jitter_ms, err, errlen) < 0)
    return -1;
  /* Envoy (DetectorConfig): an unset max_ejection_time is
   * max(300 s, base_ejection_time); a set one below base_ejection_time is
   * an error (DetectorImpl::create). */
  if (!max_set && o->max_ejection_time_ms < o->base_ejection_time_ms) o->max_ejection_time_ms = o->base_ejection_time_ms;
  if (o->base_ejection_time_ms > o->max_ejection_time_ms)
    return fail(err, errlen, "outlier_detection.max_ejection_time: %llums is smaller than base_ejection_time (%llums)",
                (unsigned long long)o->max_ejection_time_ms, (unsigned long long)o->base_ejection_time_ms);
  note_unknown(&od->base, "outlier_detection", ignored);
  return 0;
}

static int common_http(const CommonHttp *h, const char *path, mesh__cluster *c, bool *mrpc_set, char *err,
                       size_t errlen, mesh__notes *ignored) {
  char p[200];
  if (!h) return 0;
  snprintf(p, sizeof p, "%s.idle_timeout", path);
  if (get_duration(h->idle_timeout, p, -1, &c->idle_timeout_ms, err, errlen) < 0) return -1;
  if (h->max_connection_duration) {
    snprintf(p, sizeof p, "%s.max_connection_duration", path);
    if (get_duration(h->max_connection_duration, p, -1, &c->max_connection_duration_ms, err, errlen) < 0) return -1;
    c->has_max_connection_duration = c->max_connection_duration_ms != 0;
  }
  if (h->max_requests_per_connection) {
    c->max_requests_per_connection = h->max_requests_per_connection->value;
    *mrpc_set = true;
  }
  if (h->max_headers_count || h->max_stream_duration || h->headers_with_underscores_action)
    mesh__notes_addf(ignored, "%s: only idle_timeout, max_connection_duration and max_requests_per_connection are "
                              "supported, the rest is ignored", path);
  note_unknown(&h->base, path, ignored);
  return 0;
}

/* use_downstream: the deprecated protocol_selection is
 * USE_DOWNSTREAM_PROTOCOL, which only the deprecated fields honour. */
static int protocol_options(const Cluster *m, bool use_downstream, mesh__cluster *c, char *err, size_t errlen,
                            mesh__notes *ignored) {
  bool typed = false, mrpc_typed = false, mrpc_legacy = false;
  char path[300];
  for (size_t i = 0; i < m->n_typed_extension_protocol_options; i++) {
    const Envoy__Config__Cluster__V3__Cluster__TypedExtensionProtocolOptionsEntry *e =
        m->typed_extension_protocol_options[i];
    if (!e) continue;
    const char *key = str(e->key);
    snprintf(path, sizeof path, "typed_extension_protocol_options[\"%.100s\"]", key);
    if (!e->value) return fail(err, errlen, "%s: value required", path);
    if (strcmp(any_type(e->value), HPO_TYPE) != 0) {
      if (!strcmp(key, HPO_TYPE))
        return fail(err, errlen, "%s: expected a %s, got %.100s", path, HPO_TYPE, any_type(e->value));
      mesh__notes_addf(ignored, "%s (%.100s): not supported, ignored", path, any_type(e->value));
      continue;
    }
    if (typed) return fail(err, errlen, "%s: a second HttpProtocolOptions", path);
    typed = true;
    Hpo *h = (Hpo *)protobuf_c_message_unpack(&envoy__extensions__upstreams__http__v3__http_protocol_options__descriptor,
                                              NULL, e->value->value.len, e->value->value.data);
    if (!h) return fail(err, errlen, "%s: could not decode the HttpProtocolOptions", path);
    int rc = 0;
    switch (h->upstream_protocol_options_case) {
    case ENVOY__EXTENSIONS__UPSTREAMS__HTTP__V3__HTTP_PROTOCOL_OPTIONS__UPSTREAM_PROTOCOL_OPTIONS_EXPLICIT_HTTP_CONFIG:
      switch (h->explicit_http_config->protocol_config_case) {
      case ENVOY__EXTENSIONS__UPSTREAMS__HTTP__V3__HTTP_PROTOCOL_OPTIONS__EXPLICIT_HTTP_CONFIG__PROTOCOL_CONFIG_HTTP_PROTOCOL_OPTIONS:
        c->protocol = MESH_PROTOCOL_HTTP1;
        break;
      case ENVOY__EXTENSIONS__UPSTREAMS__HTTP__V3__HTTP_PROTOCOL_OPTIONS__EXPLICIT_HTTP_CONFIG__PROTOCOL_CONFIG_HTTP2_PROTOCOL_OPTIONS:
        c->protocol = MESH_PROTOCOL_HTTP2;
        break;
      case ENVOY__EXTENSIONS__UPSTREAMS__HTTP__V3__HTTP_PROTOCOL_OPTIONS__EXPLICIT_HTTP_CONFIG__PROTOCOL_CONFIG_HTTP3_PROTOCOL_OPTIONS:
        rc = fail(err, errlen, "%s.explicit_http_config.http3_protocol_options: HTTP/3 is not supported", path);
        break;
      default:
        rc = fail(err, errlen, "%s.explicit_http_config: one of http_protocol_options or http2_protocol_options is "
                  "required", path);
      }
      break;
    case ENVOY__EXTENSIONS__UPSTREAMS__HTTP__V3__HTTP_PROTOCOL_OPTIONS__UPSTREAM_PROTOCOL_OPTIONS_USE_DOWNSTREAM_PROTOCOL_CONFIG:
      c->protocol = MESH_PROTOCOL_DEFAULT; /* the call's own protocol */
      break;
    case ENVOY__EXTENSIONS__UPSTREAMS__HTTP__V3__HTTP_PROTOCOL_OPTIONS__UPSTREAM_PROTOCOL_OPTIONS_AUTO_CONFIG:
      c->protocol = MESH_PROTOCOL_DEFAULT;
      mesh__notes_addf(ignored, "%s.auto_config: ALPN protocol selection is not supported; the call's protocol is "
                                "used", path);
      break;
    default:
      rc = fail(err, errlen, "%s: upstream_protocol_options (explicit_http_config, use_downstream_protocol_config or "
                "auto_config) is required", path);
    }
    if (rc == 0) {
      char p2[340];
      snprintf(p2, sizeof p2, "%s.common_http_protocol_options", path);
      rc = common_http(h->common_http_protocol_options, p2, c, &mrpc_typed, err, errlen, ignored);
    }
    if (rc == 0) note_unknown(&h->base, path, ignored);
    protobuf_c_message_free_unpacked(&h->base, NULL);
    if (rc) return rc;
  }
  /* The deprecated Cluster fields. */
  bool legacy = m->http_protocol_options || m->http2_protocol_options || m->common_http_protocol_options;
  if (legacy && typed)
    return fail(err, errlen, "%s: cannot be combined with an HttpProtocolOptions in typed_extension_protocol_options",
                m->http2_protocol_options ? "http2_protocol_options"
                : m->http_protocol_options ? "http_protocol_options"
                                           : "common_http_protocol_options");
  if (m->http2_protocol_options) {
    c->protocol = MESH_PROTOCOL_HTTP2;
    if (m->http_protocol_options)
      mesh__notes_add(ignored, "http_protocol_options: ignored (http2_protocol_options is set)");
  } else if (m->http_protocol_options) {
    c->protocol = MESH_PROTOCOL_HTTP1;
  }
  if (use_downstream) {
    if (typed)
      mesh__notes_add(ignored, "protocol_selection: ignored (the HttpProtocolOptions in "
                               "typed_extension_protocol_options choose the protocol)");
    else
      c->protocol = MESH_PROTOCOL_DEFAULT; /* the call's own protocol */
  }
  if (common_http(m->common_http_protocol_options, "common_http_protocol_options", c, &mrpc_legacy, err, errlen,
                  ignored) < 0)
    return -1;
  if (m->max_requests_per_connection) {
    if (mrpc_typed || mrpc_legacy)
      return fail(err, errlen, "max_requests_per_connection: only one of max_requests_per_connection from Cluster or "
                  "HttpProtocolOptions can be specified");
    c->max_requests_per_connection = m->max_requests_per_connection->value;
  }
  return 0;
}

static int transport_socket(const Envoy__Config__Core__V3__TransportSocket *ts, char *err, size_t errlen) {
  if (!ts) return 0;
  bool raw;
  if (ts->config_type_case == ENVOY__CONFIG__CORE__V3__TRANSPORT_SOCKET__CONFIG_TYPE_TYPED_CONFIG && ts->typed_config)
    raw = !strcmp(any_type(ts->typed_config), RAW_BUFFER_TYPE);
  else
    raw = !strcmp(str(ts->name), RAW_BUFFER_NAME) || !strcmp(str(ts->name), "raw_buffer");
  if (!raw)
    return fail(err, errlen, "transport_socket (%.100s): TLS and other transport sockets are not supported yet "
                "(refusing to send plaintext)", str(ts->name));
  return 0;
}

static int eds_config(const Cluster *m, mesh__cluster *c, char *err, size_t errlen, mesh__notes *ignored) {
  const Envoy__Config__Cluster__V3__Cluster__EdsClusterConfig *e = m->eds_cluster_config;
  if (c->type != MESH__DISCOVERY_EDS) {
    if (e) mesh__notes_addf(ignored, "eds_cluster_config: ignored (the cluster is %s)", mesh__discovery_name(c->type));
    return 0;
  }
  if (!e || !e->eds_config)
    return fail(err, errlen, "eds_cluster_config.eds_config: required for an EDS cluster");
  switch (e->eds_config->config_source_specifier_case) {
  case ENVOY__CONFIG__CORE__V3__CONFIG_SOURCE__CONFIG_SOURCE_SPECIFIER_ADS:
  case ENVOY__CONFIG__CORE__V3__CONFIG_SOURCE__CONFIG_SOURCE_SPECIFIER_SELF: break;
  case ENVOY__CONFIG__CORE__V3__CONFIG_SOURCE__CONFIG_SOURCE_SPECIFIER__NOT_SET:
    return fail(err, errlen, "eds_cluster_config.eds_config: a config source (ads or self) is required");
  default:
    mesh__notes_add(ignored, "eds_cluster_config.eds_config: libmesh reads endpoints from its own source (the ADS "
                             "stream or the same file), not from this config source");
  }
  c->eds_service_name = mesh__arena_strdup(c->arena, *str(e->service_name) ? e->service_name : c->name);
  if (!c->eds_service_name) return fail(err, errlen, "out of memory");
  return 0;
}

int mesh__cds_translate(const Cluster *m, mesh__cluster **out, char *err, size_t errlen, mesh__notes *ignored) {
  mesh__cluster *c = mesh__cluster_new();
  if (!c) return fail(err, errlen, "out of memory");
  int rc = -1;
  if (!*str(m->name)) {
    fail(err, errlen, "name: required");
    goto done;
  }
  c->name = mesh__arena_strdup(c->arena, m->name);
  c->alt_stat_name = mesh__arena_strdup(c->arena, str(m->alt_stat_name));
  if (!c->name || !c->alt_stat_name) {
    fail(err, errlen, "out of memory");
    goto done;
  }

  /* Discovery type. */
  if (m->cluster_discovery_type_case == ENVOY__CONFIG__CLUSTER__V3__CLUSTER__CLUSTER_DISCOVERY_TYPE_CLUSTER_TYPE) {
    fail(err, errlen, "cluster_type (%.100s): custom cluster types are not supported",
         m->cluster_type ? str(m->cluster_type->name) : "");
    goto done;
  }
  int type = m->cluster_discovery_type_case == ENVOY__CONFIG__CLUSTER__V3__CLUSTER__CLUSTER_DISCOVERY_TYPE_TYPE
                 ? (int)m->type
                 : ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__STATIC;
  switch (type) {
  case ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__STATIC: c->type = MESH__DISCOVERY_STATIC; break;
  case ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__STRICT_DNS: c->type = MESH__DISCOVERY_STRICT_DNS; break;
  case ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__LOGICAL_DNS: c->type = MESH__DISCOVERY_LOGICAL_DNS; break;
  case ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__EDS: c->type = MESH__DISCOVERY_EDS; break;
  case ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__ORIGINAL_DST:
    fail(err, errlen, "type: ORIGINAL_DST is not supported (an embedded client has no original destination)");
    goto done;
  default: fail(err, errlen, "type: unknown discovery type %d", type); goto done;
  }

  /* Load-balancing policy: stored as configured; one libmesh does not
   * implement is an error, since balancing differently changes behaviour.
   * A load_balancing_policy list supersedes lb_policy and its lb_config. */
  bool typed = m->load_balancing_policy != NULL;
  if (typed) {
    if (m->lb_policy != ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__ROUND_ROBIN &&
        m->lb_policy != ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__LOAD_BALANCING_POLICY_CONFIG)
      mesh__notes_add(ignored, "lb_policy: ignored (load_balancing_policy is set)");
    if (m->lb_config_case != ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_CONFIG__NOT_SET)
      mesh__notes_add(ignored, "lb_config (ring_hash_lb_config, ...): ignored (load_balancing_policy is set)");
    if (common_lb(m->common_lb_config, c, err, errlen, ignored) < 0 ||
        typed_lb(m->load_balancing_policy, "load_balancing_policy", 0, c, err, errlen, ignored) < 0)
      goto done;
  } else switch (m->lb_policy) {
  case ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__ROUND_ROBIN: c->lb_policy = MESH__LB_ROUND_ROBIN; break;
  case ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__LEAST_REQUEST: c->lb_policy = MESH__LB_LEAST_REQUEST; break;
  case ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__RING_HASH: c->lb_policy = MESH__LB_RING_HASH; break;
  case ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__RANDOM: c->lb_policy = MESH__LB_RANDOM; break;
  case ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__MAGLEV: c->lb_policy = MESH__LB_MAGLEV; break;
  case ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__CLUSTER_PROVIDED:
    fail(err, errlen, "lb_policy: CLUSTER_PROVIDED is not supported");
    goto done;
  case ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__LOAD_BALANCING_POLICY_CONFIG:
    fail(err, errlen, "load_balancing_policy: required (lb_policy is LOAD_BALANCING_POLICY_CONFIG)");
    goto done;
  default: fail(err, errlen, "lb_policy: unknown policy %d", (int)m->lb_policy); goto done;
  }
  if (!mesh__lb_vtable_for(c->lb_policy)) {
    fail(err, errlen, "lb_policy: %s is not implemented; rejected rather than balanced differently",
         mesh__lb_policy_name(c->lb_policy));
    goto done;
  }
  if (!typed && (lb_configs(m, c, err, errlen, ignored) < 0 || common_lb(m->common_lb_config, c, err, errlen, ignored) < 0))
    goto done;

  uint64_t ms = c->connect_timeout_ms;
  if (get_duration(m->connect_timeout, "connect_timeout", 0, &ms, err, errlen) < 0) goto done;
  c->connect_timeout_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
  U32(m->per_connection_buffer_limit_bytes, c->per_connection_buffer_limit_bytes);

  bool use_downstream = false;
  if (transport_socket(m->transport_socket, err, errlen) < 0 ||
      cluster_unknown_fields(m, &use_downstream, err, errlen, ignored) < 0 || eds_config(m, c, err, errlen, ignored) < 0 ||
      circuit_breakers(m->circuit_breakers, c, err, errlen, ignored) < 0 ||
      outlier(m->outlier_detection, c, err, errlen, ignored) < 0 ||
      protocol_options(m, use_downstream, c, err, errlen, ignored) < 0)
    goto done;

  /* DNS. */
  if (get_duration(m->dns_refresh_rate, "dns_refresh_rate", 1, &c->dns_refresh_rate_ms, err, errlen) < 0) goto done;
  c->respect_dns_ttl = m->respect_dns_ttl;
  if ((int)m->dns_lookup_family < 0 || (int)m->dns_lookup_family > MESH__DNS_ALL) {
    fail(err, errlen, "dns_lookup_family: unknown value %d", (int)m->dns_lookup_family);
    goto done;
  }
  c->dns_lookup_family = (mesh__dns_family)m->dns_lookup_family;

  if (m->metadata) mesh__notes_add(ignored, "metadata: ignored");

  /* Inline endpoints, with the cluster type's address rules. */
  if (m->load_assignment) {
    if (c->type == MESH__DISCOVERY_EDS) {
      mesh__notes_add(ignored, "load_assignment: ignored (EDS clusters take endpoints from EDS)");
    } else {
      mesh__load_assignment *la = NULL;
      if (translate_cla(m->load_assignment, "load_assignment.",
                        c->type == MESH__DISCOVERY_STATIC ? ADDR_IP_ONLY : ADDR_HOSTNAMES, &la, err, errlen,
                        ignored) < 0)
        goto done;
      c->load_assignment = la;
    }
  }
  /* Envoy: "LOGICAL_DNS clusters must have a single locality_lb_endpoint
   * and a single lb_endpoint". */
  if (c->type == MESH__DISCOVERY_LOGICAL_DNS &&
      (!m->load_assignment || m->load_assignment->n_endpoints != 1 || c->load_assignment->n_endpoints != 1)) {
    fail(err, errlen, "load_assignment: a LOGICAL_DNS cluster needs exactly one locality with exactly one endpoint");
    goto done;
  }
  *out = c;
  rc = 0;
done:
  if (rc) mesh__cluster_unref(c);
  return rc;
}
