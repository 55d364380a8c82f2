/* What the load-balancing policies share: Envoy's priority-load arithmetic
 * and the per-priority host sets (healthy, degraded, all) with ejection
 * folded in.
 *
 * Envoy source: source/common/upstream/load_balancer_impl.cc
 * (LoadBalancerBase::recalculatePerPriorityState, choosePriority,
 * ZoneAwareLoadBalancerBase::hostSourceToUse).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "lb/lb.h"
#include "mesh/mesh.h"

#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 u128;
#endif

/* min(100, floor(op * part / total)), total > 0. */
static uint32_t capped_percent(uint64_t op, uint64_t part, uint64_t total) {
#ifdef __SIZEOF_INT128__
  u128 v = (u128)op * part / total;
  return v >= 100 ? 100 : (uint32_t)v;
#else
  long double v = (long double)op * (long double)part / (long double)total;
  return v >= 100.0L ? 100 : (uint32_t)v;
#endif
}

/* ------------------------------------------------------------ priority load */

static bool host_set_in_panic(const mesh__prio_in *in, uint32_t threshold) {
  double healthy = in->hosts ? 100.0 * in->healthy_hosts / in->hosts : 0.0;
  double degraded = in->hosts ? 100.0 * in->degraded_hosts / in->hosts : 0.0;
  return healthy + degraded < (double)threshold;
}

/* Envoy's distributeLoad: returns the first priority with availability. */
static int distribute(uint8_t *load, const uint32_t *avail, uint32_t n, uint32_t *total_load,
                      uint32_t normalized) {
  int first = -1;
  for (uint32_t i = 0; i < n; i++) {
    if (first < 0 && avail[i] > 0) first = (int)i;
    uint32_t l = avail[i] * 100 / normalized;
    if (l > *total_load) l = *total_load;
    load[i] = (uint8_t)l;
    *total_load -= l;
  }
  return first;
}

void mesh__lb_priority_load(const mesh__prio_in *in, uint32_t n, uint32_t op,
                            uint32_t panic_threshold, mesh__prio_load *out) {
  uint32_t health[MESH__MAX_PRIORITY + 1], degraded[MESH__MAX_PRIORITY + 1];
  uint32_t sum = 0;
  memset(out, 0, sizeof *out);
  if (n == 0) return; /* the table points at priority 0, which has nothing */
  if (n > MESH__MAX_PRIORITY + 1) n = MESH__MAX_PRIORITY + 1;
  if (panic_threshold > 100) panic_threshold = 100;
  for (uint32_t i = 0; i < n; i++) {
    health[i] = in[i].total ? capped_percent(op, in[i].healthy, in[i].total) : 0;
    degraded[i] = in[i].total ? capped_percent(op, in[i].degraded, in[i].total) : 0;
    sum += health[i] + degraded[i];
  }
  uint32_t normalized = sum > 100 ? 100 : sum;
  if (normalized > 0) {
    uint32_t left = 100;
    int fh = distribute(out->healthy, health, n, &left, normalized);
    int fd = distribute(out->degraded, degraded, n, &left, normalized);
    if (left) {
      if (fh >= 0) out->healthy[fh] = (uint8_t)(out->healthy[fh] + left);
      else out->degraded[fd] = (uint8_t)(out->degraded[fd] + left);
    }
  }
  if (panic_threshold == 0 && normalized == 0) {
    /* Panic disabled and nothing available: P0 gets the load, and finds
     * no host. */
    out->healthy[0] = 100;
  } else {
    for (uint32_t i = 0; i < n; i++)
      out->panic[i] = normalized == 100 ? 0 : host_set_in_panic(&in[i], panic_threshold);
    if (normalized < panic_threshold) {
      /* Total panic: load by host count, over all priorities. */
      uint64_t hosts = 0;
      for (uint32_t i = 0; i < n; i++) hosts += in[i].hosts;
      memset(out->degraded, 0, sizeof out->degraded);
      if (hosts == 0) {
        memset(out->healthy, 0, sizeof out->healthy);
        out->healthy[0] = 100;
      } else {
        uint32_t left = 100;
        int first = -1;
        for (uint32_t i = 0; i < n; i++) {
          if (first < 0 && in[i].hosts) first = (int)i;
          uint32_t l = (uint32_t)(100 * (uint64_t)in[i].hosts / hosts);
          out->healthy[i] = (uint8_t)l;
          left -= l;
        }
        out->healthy[first] = (uint8_t)(out->healthy[first] + left);
      }
    }
  }
  /* choosePriority: h = r + 1 in 1..100, first priority whose cumulative
   * healthy load reaches h, then the same over degraded loads. */
  for (uint32_t r = 0; r < 100; r++) {
    uint32_t h = r + 1, acc = 0;
    bool found = false;
    for (uint32_t i = 0; i < n && !found; i++) {
      acc += out->healthy[i];
      if (h <= acc) {
        out->choice_prio[r] = (uint8_t)i;
        out->choice_degraded[r] = 0;
        found = true;
      }
    }
    for (uint32_t i = 0; i < n && !found; i++) {
      acc += out->degraded[i];
      if (h <= acc) {
        out->choice_prio[r] = (uint8_t)i;
        out->choice_degraded[r] = 1;
        found = true;
      }
    }
  }
}

/* ------------------------------------------------------------ host sets */

static mesh__health effective_health(const mesh__lb *lb, uint32_t j) {
  if (lb->ejected[j]) return MESH__UNHEALTHY;
  return lb->la->endpoints[j].health;
}

static void set_reset(mesh__lb_set *s) {
  s->n = 0;
  s->equal = true;
}

static void set_add(mesh__lb_set *s, const mesh__load_assignment *la, uint32_t j) {
  uint64_t w = la->endpoints[j].weight;
  if (s->n && la->endpoints[s->ids[0]].weight != w) s->equal = false;
  s->cum[s->n] = (s->n ? s->cum[s->n - 1] : 0) + w;
  s->ids[s->n++] = j;
}

/* Envoy's effectiveLocalityWeight, x 1000 as an integer (as round_robin.c
 * computes it). */
static uint64_t locality_weight(uint32_t weight, uint32_t avail, uint32_t hosts, uint32_t op) {
  if (weight == 0 || avail == 0 || hosts == 0) return 0;
  double ratio = (double)op * avail / (100.0 * hosts);
  if (ratio > 1.0) ratio = 1.0;
  uint64_t w = (uint64_t)((double)weight * ratio * 1000.0 + 0.5);
  return w ? w : 1;
}

static void fill_priority(mesh__lb_hosts *h, const mesh__lb *lb, uint32_t p) {
  const mesh__load_assignment *la = lb->la;
  const mesh__priority *pr = &la->priorities[p];
  mesh__lb_set *hs = &h->sets[p * 3 + MESH__SET_HEALTHY];
  mesh__lb_set *ds = &h->sets[p * 3 + MESH__SET_DEGRADED];
  mesh__prio_in *in = &h->in[p];
  bool weighted_health = la->weighted_priority_health;
  uint32_t op = la->overprovisioning_factor;

  memset(in, 0, sizeof *in);
  set_reset(hs);
  set_reset(ds);
  if (h->locality_weighted) h->locs[p * 2].n = h->locs[p * 2 + 1].n = 0;
  for (uint32_t k = pr->first_locality; k < pr->first_locality + pr->n_localities; k++) {
    const mesh__locality *loc = &la->localities[k];
    mesh__lb_set *lh = NULL, *ld = NULL;
    if (h->locality_weighted) {
      lh = &h->sets[h->n_priorities * 3 + k * 2 + MESH__SET_HEALTHY];
      ld = &h->sets[h->n_priorities * 3 + k * 2 + MESH__SET_DEGRADED];
      set_reset(lh);
      set_reset(ld);
    }
    for (uint32_t j = loc->first; j < loc->first + loc->count; j++) {
      uint32_t w = la->endpoints[j].weight;
      mesh__health st = effective_health(lb, j);
      h->health[j] = (uint8_t)st;
      in->hosts++;
      in->total += weighted_health ? w : 1;
      if (st == MESH__HEALTHY) {
        set_add(hs, la, j);
        if (lh) set_add(lh, la, j);
        in->healthy += weighted_health ? w : 1;
      } else if (st == MESH__DEGRADED) {
        set_add(ds, la, j);
        if (ld) set_add(ld, la, j);
        in->degraded += weighted_health ? w : 1;
      }
    }
    if (h->locality_weighted) {
      for (uint32_t c = 0; c < 2; c++) {
        const mesh__lb_set *ls = c == MESH__SET_HEALTHY ? lh : ld;
        uint64_t ew = locality_weight(loc->weight, ls->n, loc->count, op);
        mesh__lb_locs *L = &h->locs[p * 2 + c];
        if (!ew) continue;
        L->cum[L->n] = (L->n ? L->cum[L->n - 1] : 0) + ew;
        L->loc[L->n++] = k;
      }
    }
  }
  in->healthy_hosts = hs->n;
  in->degraded_hosts = ds->n;
}

static void refresh_load(mesh__lb_hosts *h, const mesh__lb *lb) {
  mesh__lb_priority_load(h->in, h->n_priorities, lb->la->overprovisioning_factor,
                         lb->cluster->healthy_panic_threshold, &h->load);
}

uint32_t mesh__lb_hosts_set_cap(const mesh__lb_hosts *h, const mesh__load_assignment *la, uint32_t i) {
  if (i < h->n_priorities * 3) return la->priorities[i / 3].count;
  return la->localities[(i - h->n_priorities * 3) / 2].count;
}

static int set_alloc(mesh__lb_set *s, mesh__arena *a, uint32_t cap) {
  s->ids = mesh__arena_calloc(a, cap ? cap : 1, sizeof *s->ids);
  s->cum = mesh__arena_calloc(a, cap ? cap : 1, sizeof *s->cum);
  set_reset(s);
  return s->ids && s->cum ? 0 : -1;
}

int mesh__lb_hosts_init(mesh__lb_hosts *h, mesh__arena *a, const mesh__lb *lb) {
  const mesh__load_assignment *la = lb->la;
  uint32_t np = la->n_priorities;
  memset(h, 0, sizeof *h);
  h->n_priorities = np;
  h->fail_on_panic = lb->cluster->fail_traffic_on_panic;
  h->locality_weighted = lb->cluster->locality_weighted;
  h->n_sets = np * 3 + (h->locality_weighted ? la->n_localities * 2 : 0);
  h->sets = mesh__arena_calloc(a, h->n_sets ? h->n_sets : 1, sizeof *h->sets);
  h->in = mesh__arena_calloc(a, np ? np : 1, sizeof *h->in);
  h->health = mesh__arena_calloc(a, la->n_endpoints ? la->n_endpoints : 1, 1);
  if (!h->sets || !h->in || !h->health) return -1;
  for (uint32_t i = 0; i < h->n_sets; i++)
    if (set_alloc(&h->sets[i], a, mesh__lb_hosts_set_cap(h, la, i))) return -1;
  if (h->locality_weighted) {
    h->locs = mesh__arena_calloc(a, np ? (size_t)np * 2 : 1, sizeof *h->locs);
    if (!h->locs) return -1;
    for (uint32_t i = 0; i < np * 2; i++) {
      uint32_t nl = la->priorities[i / 2].n_localities;
      h->locs[i].loc = mesh__arena_calloc(a, nl ? nl : 1, sizeof *h->locs[i].loc);
      h->locs[i].cum = mesh__arena_calloc(a, nl ? nl : 1, sizeof *h->locs[i].cum);
      if (!h->locs[i].loc || !h->locs[i].cum) return -1;
    }
  }
  for (uint32_t p = 0; p < np; p++) {
    const mesh__priority *pr = &la->priorities[p];
    mesh__lb_set *all = &h->sets[p * 3 + MESH__SET_ALL];
    for (uint32_t j = pr->first; j < pr->first + pr->count; j++) set_add(all, la, j);
    fill_priority(h, lb, p);
  }
  refresh_load(h, lb);
  return 0;
}

void mesh__lb_hosts_update(mesh__lb_hosts *h, const mesh__lb *lb, uint32_t endpoint) {
  if (endpoint >= lb->la->n_endpoints) return;
  fill_priority(h, lb, lb->la->endpoints[endpoint].priority);
  refresh_load(h, lb);
}

/* ------------------------------------------------------------ picker life */

void *mesh__lb_base_new(const mesh__lb_vtable *vt, size_t size, const mesh__cluster *c,
                        const mesh__load_assignment *la, mesh__arena **arena, int *err) {
  *err = MESH_ECONFIG;
  if (!c || !la || !la->sealed || la->n_priorities > MESH__MAX_PRIORITY + 1) return NULL;
  *err = MESH_ENOMEM;
  mesh__arena *a = mesh__arena_new(0);
  if (!a) return NULL;
  mesh__lb *lb = mesh__arena_alloc(a, size);
  if (!lb) goto fail;
  lb->vt = vt;
  lb->cluster = c; /* borrowed until mesh__lb_base_finish */
  lb->la = la;
  lb->n_endpoints = la->n_endpoints;
  lb->ejected = mesh__arena_calloc(a, la->n_endpoints ? la->n_endpoints : 1, 1);
  if (!lb->ejected) goto fail;
  *arena = a;
  *err = 0;
  return lb;
fail:
  mesh__arena_free(a);
  return NULL;
}

void mesh__lb_base_finish(mesh__lb *lb) {
  lb->la = mesh__load_assignment_ref(lb->la);
  lb->cluster = mesh__cluster_ref(lb->cluster);
}

void mesh__lb_base_free(mesh__lb *lb, mesh__arena *a) {
  mesh__load_assignment_unref(lb->la);
  mesh__cluster_unref(lb->cluster);
  mesh__arena_free(a);
}

/* ------------------------------------------------------------ host keys */

size_t mesh__lb_host_key(const mesh__cluster *c, const mesh__endpoint *ep, char *buf, size_t cap) {
  int n;
  if (c->use_hostname_for_hashing && ep->hostname && ep->hostname[0]) {
    n = snprintf(buf, cap, "%s", ep->hostname);
  } else if (ep->is_ip) {
    /* Envoy's Address::asString(): the canonical text of the address. */
    char ip[INET6_ADDRSTRLEN];
    bool v6 = ep->sa.sa.sa_family == AF_INET6;
    const void *src = v6 ? (const void *)&ep->sa.in6.sin6_addr : (const void *)&ep->sa.in4.sin_addr;
    if (!inet_ntop(v6 ? AF_INET6 : AF_INET, src, ip, sizeof ip)) return 0;
    n = snprintf(buf, cap, v6 ? "[%s]:%u" : "%s:%u", ip, (unsigned)ep->port);
  } else {
    n = snprintf(buf, cap, "%s:%u", ep->address, (unsigned)ep->port);
  }
  return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
