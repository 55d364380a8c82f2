#include "model/cluster.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/mesh.h"

/* ------------------------------------------------------------ load assignments */

mesh__load_assignment *mesh__load_assignment_new(size_t n_localities, size_t n_endpoints) {
  mesh__arena *a = mesh__arena_new(MESH__LA_ARENA_LIMIT);
  if (!a) return NULL;
  mesh__load_assignment *la = mesh__arena_alloc(a, sizeof *la);
  if (!la) goto fail;
  la->arena = a;
  atomic_init(&la->refs, 1);
  la->cluster_name = "";
  la->overprovisioning_factor = 140;
  if (n_localities > UINT32_MAX || n_endpoints > UINT32_MAX) goto fail;
  la->localities = mesh__arena_calloc(a, n_localities, sizeof *la->localities);
  la->endpoints = mesh__arena_calloc(a, n_endpoints, sizeof *la->endpoints);
  if (!la->localities || !la->endpoints) goto fail;
  la->n_localities = (uint32_t)n_localities;
  la->n_endpoints = (uint32_t)n_endpoints;
  for (size_t i = 0; i < n_localities; i++)
    la->localities[i].region = la->localities[i].zone = la->localities[i].sub_zone = "";
  for (size_t i = 0; i < n_endpoints; i++) {
    la->endpoints[i].address = la->endpoints[i].hostname = "";
    la->endpoints[i].weight = 1;
  }
  return la;
fail:
  mesh__arena_free(a);
  return NULL;
}

int mesh__load_assignment_seal(mesh__load_assignment *la, char *err, size_t errlen) {
  mesh__arena *a = la->arena;
  uint32_t nl = la->n_localities, ne = la->n_endpoints, max_prio = 0;
  if (la->sealed) return 0;
  if (la->overprovisioning_factor == 0) {
    snprintf(err, errlen, "policy.overprovisioning_factor: must be greater than 0");
    return -1;
  }
  for (uint32_t i = 0; i < nl; i++) {
    if (la->localities[i].priority > MESH__MAX_PRIORITY) {
      snprintf(err, errlen, "endpoints[%u].priority: %u is above the maximum %u", i,
               la->localities[i].priority, MESH__MAX_PRIORITY);
      return -1;
    }
    if (la->localities[i].priority > max_prio) max_prio = la->localities[i].priority;
    la->localities[i].count = 0;
  }
  for (uint32_t j = 0; j < ne; j++) {
    mesh__endpoint *ep = &la->endpoints[j];
    if (ep->locality >= nl) {
      snprintf(err, errlen, "endpoint %u: locality index %u out of range", j, ep->locality);
      return -1;
    }
    if (ep->weight == 0) {
      snprintf(err, errlen, "endpoint %u: load_balancing_weight must be at least 1", j);
      return -1;
    }
    la->localities[ep->locality].count++;
  }

  /* New locality order: stable by priority (counting sort). The arrays are
   * permuted through malloc'd copies so the arena keeps one of each. */
  int rc = -1;
  uint32_t np = nl ? max_prio + 1 : 0;
  uint32_t *order = malloc((nl + 1) * sizeof *order);   /* new -> old */
  uint32_t *newpos = malloc((nl + 1) * sizeof *newpos); /* old -> new */
  uint32_t *fill = malloc((nl + 1) * sizeof *fill);
  uint32_t *pstart = calloc(np + 2, sizeof *pstart);
  mesh__locality *oldl = malloc((nl + 1) * sizeof *oldl);
  mesh__endpoint *olde = malloc((ne + 1) * sizeof *olde);
  mesh__priority *prios = mesh__arena_calloc(a, np ? np : 1, sizeof *prios);
  if (!order || !newpos || !fill || !pstart || !oldl || !olde || !prios) {
    snprintf(err, errlen, "out of memory (load assignment too large)");
    goto done;
  }
  if (nl) memcpy(oldl, la->localities, nl * sizeof *oldl);
  if (ne) memcpy(olde, la->endpoints, ne * sizeof *olde);
  for (uint32_t i = 0; i < nl; i++) pstart[oldl[i].priority + 1]++;
  for (uint32_t p = 0; p < np; p++) pstart[p + 1] += pstart[p];
  for (uint32_t p = 0; p < np; p++) {
    prios[p].first_locality = pstart[p];
    prios[p].n_localities = pstart[p + 1] - pstart[p];
  }
  for (uint32_t i = 0; i < nl; i++) {
    uint32_t at = pstart[oldl[i].priority]++;
    order[at] = i;
    newpos[i] = at;
  }
  /* Endpoint ranges in the new locality order. */
  mesh__locality *locs = la->localities;
  mesh__endpoint *eps = la->endpoints;
  uint32_t next = 0;
  for (uint32_t k = 0; k < nl; k++) {
    locs[k] = oldl[order[k]];
    locs[k].first = next;
    fill[k] = next;
    next += locs[k].count;
  }
  for (uint32_t j = 0; j < ne; j++) {
    uint32_t k = newpos[olde[j].locality];
    mesh__endpoint *dst = &eps[fill[k]++];
    *dst = olde[j];
    dst->locality = k;
    dst->priority = locs[k].priority;
  }
  /* Per-priority endpoint ranges and weight sums (Envoy: the sum of the
   * weights of the endpoints of a locality, and of the localities of a
   * priority, must not exceed 4294967295). */
  for (uint32_t p = 0; p < np; p++) {
    mesh__priority *pr = &prios[p];
    uint64_t lsum = 0;
    pr->first = pr->n_localities ? locs[pr->first_locality].first
                                 : (p ? prios[p - 1].first + prios[p - 1].count : 0);
    pr->count = 0;
    for (uint32_t k = pr->first_locality; k < pr->first_locality + pr->n_localities; k++) {
      uint64_t esum = 0;
      for (uint32_t j = locs[k].first; j < locs[k].first + locs[k].count; j++) esum += eps[j].weight;
      if (esum > UINT32_MAX) {
        snprintf(err, errlen, "endpoints[%u].lb_endpoints: the sum of the endpoint weights exceeds 4294967295",
                 order[k]);
        goto done;
      }
      lsum += locs[k].weight;
      pr->count += locs[k].count;
      pr->total_weight += esum;
    }
    if (lsum > UINT32_MAX) {
      snprintf(err, errlen, "endpoints (priority %u): the sum of the locality weights exceeds 4294967295", p);
      goto done;
    }
  }
  la->priorities = prios;
  la->n_priorities = np;
  la->sealed = true;
  rc = 0;
done:
  free(order);
  free(newpos);
  free(fill);
  free(pstart);
  free(oldl);
  free(olde);
  return rc;
}

const mesh__load_assignment *mesh__load_assignment_ref(const mesh__load_assignment *la) {
  if (la) atomic_fetch_add_explicit(&((mesh__load_assignment *)la)->refs, 1, memory_order_relaxed);
  return la;
}

void mesh__load_assignment_unref(const mesh__load_assignment *la) {
  if (!la) return;
  mesh__load_assignment *m = (mesh__load_assignment *)la;
  if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) mesh__arena_free(m->arena);
}

static bool is_dns_name(const char *s, size_t n) {
  if (n == 0 || n > 253) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '.' || c == '_'))
      return false;
  }
  return true;
}

int mesh__endpoint_set_address(mesh__load_assignment *la, mesh__endpoint *ep, const char *addr,
                               uint32_t port, bool require_ip, char *why, size_t whylen) {
  size_t n = strlen(addr);
  if (port == 0 || port > 65535) {
    snprintf(why, whylen, "%u is not a valid port", port);
    return -1;
  }
  if (n == 0) {
    snprintf(why, whylen, "the address is empty");
    return -1;
  }
  memset(&ep->sa, 0, sizeof ep->sa);
  struct sockaddr_in *s4 = &ep->sa.in4;
  struct sockaddr_in6 *s6 = &ep->sa.in6;
  if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    ep->salen = sizeof *s4;
    ep->is_ip = true;
  } else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    ep->salen = sizeof *s6;
    ep->is_ip = true;
  } else {
    const char *shown = n > 64 ? "the address" : addr;
    if (require_ip) {
      snprintf(why, whylen, "'%s' is not an IP address (STATIC and EDS clusters need IP literals)",
               shown);
      return -1;
    }
    if (!is_dns_name(addr, n)) {
      snprintf(why, whylen, "'%s' is neither an IP address nor a host name", shown);
      return -1;
    }
    ep->is_ip = false;
    ep->salen = 0;
  }
  ep->address = mesh__arena_strndup(la->arena, addr, n);
  if (!ep->address) {
    snprintf(why, whylen, "out of memory");
    return -1;
  }
  ep->port = (uint16_t)port;
  return 0;
}

mesh__health mesh__health_from_status(int status) {
  switch (status) {
  case MESH__HS_UNKNOWN:
  case MESH__HS_HEALTHY: return MESH__HEALTHY;
  case MESH__HS_DEGRADED: return MESH__DEGRADED;
  default: return MESH__UNHEALTHY; /* UNHEALTHY, DRAINING, TIMEOUT, unknown */
  }
}

/* ------------------------------------------------------------ clusters */

static void cb_defaults(mesh__cb_thresholds *t) {
  t->set = false;
  t->max_connections = 1024;
  t->max_pending_requests = 1024;
  t->max_requests = 1024;
  t->max_retries = 3;
  t->has_retry_budget = false;
  t->retry_budget_percent = 20.0;
  t->retry_budget_min_concurrency = 3;
  t->track_remaining = false;
  t->max_connection_pools = UINT32_MAX;
}

static void outlier_defaults(mesh__outlier_detection *o) {
  o->consecutive_5xx = 5;
  o->interval_ms = 10000;
  o->base_ejection_time_ms = 30000;
  o->max_ejection_percent = 10;
  o->enforcing_consecutive_5xx = 100;
  o->enforcing_success_rate = 100;
  o->success_rate_minimum_hosts = 5;
  o->success_rate_request_volume = 100;
  o->success_rate_stdev_factor = 1900;
  o->consecutive_gateway_failure = 5;
  o->enforcing_consecutive_gateway_failure = 0;
  o->split_external_local_origin_errors = false;
  o->consecutive_local_origin_failure = 5;
  o->enforcing_consecutive_local_origin_failure = 100;
  o->enforcing_local_origin_success_rate = 100;
  o->failure_percentage_threshold = 85;
  o->enforcing_failure_percentage = 0;
  o->enforcing_failure_percentage_local_origin = 0;
  o->failure_percentage_minimum_hosts = 5;
  o->failure_percentage_request_volume = 50;
  o->max_ejection_time_ms = 300000;
  o->max_ejection_time_jitter_ms = 0;
  o->successful_active_health_check_uneject_host = true;
  o->always_eject_one_host = false;
}

mesh__cluster *mesh__cluster_new(void) {
  mesh__arena *a = mesh__arena_new(MESH__CLUSTER_ARENA_LIMIT);
  if (!a) return NULL;
  mesh__cluster *c = mesh__arena_alloc(a, sizeof *c);
  if (!c) {
    mesh__arena_free(a);
    return NULL;
  }
  c->arena = a;
  atomic_init(&c->refs, 1);
  c->name = c->alt_stat_name = c->eds_service_name = "";
  c->type = MESH__DISCOVERY_STATIC;
  c->connect_timeout_ms = 5000;
  c->lb_policy = MESH__LB_ROUND_ROBIN;
  c->protocol = MESH_PROTOCOL_DEFAULT;
  c->dns_refresh_rate_ms = 5000;
  c->dns_lookup_family = MESH__DNS_AUTO;
  c->per_connection_buffer_limit_bytes = 1024 * 1024;
  c->healthy_panic_threshold = 50;
  c->update_merge_window_ms = 1000;
  c->least_request_choice_count = 2;
  c->least_request_active_request_bias = 1.0;
  c->ring_hash_min_size = 1024;
  c->ring_hash_max_size = 8 * 1024 * 1024;
  c->ring_hash_function = MESH__RING_HASH_XX;
  c->maglev_table_size = 65537;
  c->slow_start.aggression = 1.0;
  c->slow_start.min_weight_percent = 10.0;
  cb_defaults(&c->cb[0]);
  cb_defaults(&c->cb[1]);
  c->per_host_max_connections = UINT32_MAX;
  outlier_defaults(&c->outlier);
  c->idle_timeout_ms = 3600000;
  return c;
}

const mesh__cluster *mesh__cluster_ref(const mesh__cluster *c) {
  if (c) atomic_fetch_add_explicit(&((mesh__cluster *)c)->refs, 1, memory_order_relaxed);
  return c;
}

void mesh__cluster_unref(const mesh__cluster *c) {
  if (!c) return;
  mesh__cluster *m = (mesh__cluster *)c;
  if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) {
    mesh__load_assignment_unref(m->load_assignment);
    mesh__arena_free(m->arena);
  }
}

const char *mesh__cluster_eds_service(const mesh__cluster *c) {
  if (!c || c->type != MESH__DISCOVERY_EDS) return NULL;
  return c->eds_service_name && *c->eds_service_name ? c->eds_service_name : c->name;
}

const char *mesh__lb_policy_name(mesh__lb_policy p) {
  switch (p) {
  case MESH__LB_ROUND_ROBIN: return "ROUND_ROBIN";
  case MESH__LB_LEAST_REQUEST: return "LEAST_REQUEST";
  case MESH__LB_RANDOM: return "RANDOM";
  case MESH__LB_RING_HASH: return "RING_HASH";
  case MESH__LB_MAGLEV: return "MAGLEV";
  case MESH__LB_PEAK_EWMA: return "PEAK_EWMA";
  }
  return "?";
}

const char *mesh__discovery_name(mesh__discovery d) {
  switch (d) {
  case MESH__DISCOVERY_STATIC: return "STATIC";
  case MESH__DISCOVERY_STRICT_DNS: return "STRICT_DNS";
  case MESH__DISCOVERY_LOGICAL_DNS: return "LOGICAL_DNS";
  case MESH__DISCOVERY_EDS: return "EDS";
  }
  return "?";
}
