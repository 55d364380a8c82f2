/* Load balancers: a small vtable per policy (h2o lib/common/balancer/ has
 * the same shape).
 *
 * A mesh__lb is one worker's picker for one cluster's endpoints. It is built
 * once, off the hot path, from the immutable model (a mesh__cluster and a
 * mesh__load_assignment, both referenced for the picker's lifetime) and holds
 * all the mutable state of that worker: schedulers, rotation counters,
 * ejection flags. It is never shared between threads, so nothing in it
 * takes a lock. pick() allocates nothing and takes no lock.
 *
 * A new load assignment (EDS update) means a new picker: build it, swap it
 * in between calls, destroy the old one.
 *
 * Endpoint indices are flat indices in la->endpoints (model/cluster.h).
 */
#ifndef MESH_LB_LB_H
#define MESH_LB_LB_H

#include <stdbool.h>
#include <stdint.h>

#include "model/cluster.h"
#include "util/arena.h"

typedef struct mesh__lb mesh__lb;

/* Per-pick input. ctx may be NULL: the picker then draws its own
 * pseudo-random numbers (seeded at create). */
typedef struct mesh__lb_ctx {
  uint64_t hash;     /* request hash (RING_HASH, MAGLEV) when has_hash */
  int has_hash;
  uint64_t random;   /* a fresh random number for this pick; ROUND_ROBIN uses
                      * it for the priority choice (random % 100) only */
  /* later: hosts already attempted (retry host predicates) */
} mesh__lb_ctx;

/* How a call ended, for release(). */
enum { MESH__LB_OK = 0, MESH__LB_FAILED = 1, MESH__LB_LOCAL_FAILURE = 2 };

typedef struct mesh__lb_vtable {
  const char *name;
  /* Builds the picker and its tables. seed: per-worker start offset, so that
   * workers do not all begin with the same endpoint (0: deterministic, from
   * the first endpoint). 0, MESH_ENOMEM or MESH_ECONFIG (*out untouched). */
  int (*create)(const mesh__cluster *c, const mesh__load_assignment *la, uint64_t seed,
                mesh__lb **out);
  /* The chosen endpoint, or -1 when no endpoint may be used (none at all,
   * none healthy with panic mode off, fail_traffic_on_panic). */
  int (*pick)(mesh__lb *lb, const mesh__lb_ctx *ctx);
  /* A call to endpoint ended (least-request, peak EWMA); may be NULL.
   * latency_ns: how long the call took, 0 when unknown (peak EWMA then
   * only counts the call as finished). Every pick that returned an
   * endpoint and was used must be released once: the pickers that count
   * active requests count the pick as the call's start. */
  void (*release)(mesh__lb *lb, int endpoint, int outcome, uint64_t latency_ns);
  /* The health of endpoint changed (ejected flag): refresh what depends on
   * it. Off the hot path; allocates nothing. */
  void (*health_changed)(mesh__lb *lb, uint32_t endpoint);
  void (*destroy)(mesh__lb *lb);
} mesh__lb_vtable;

/* The part every picker starts with. */
struct mesh__lb {
  const mesh__lb_vtable *vt;
  const mesh__cluster *cluster;        /* referenced */
  const mesh__load_assignment *la;     /* referenced */
  uint8_t *ejected;                    /* [la->n_endpoints]: outlier ejection */
  uint32_t n_endpoints;
};

extern const mesh__lb_vtable mesh__lb_round_robin;
extern const mesh__lb_vtable mesh__lb_least_request;
extern const mesh__lb_vtable mesh__lb_random;
extern const mesh__lb_vtable mesh__lb_ring_hash;
extern const mesh__lb_vtable mesh__lb_maglev;
extern const mesh__lb_vtable mesh__lb_peak_ewma;

/* The policy's vtable, or NULL when libmesh does not implement it. */
static inline const mesh__lb_vtable *mesh__lb_vtable_for(mesh__lb_policy p) {
  switch (p) {
  case MESH__LB_ROUND_ROBIN: return &mesh__lb_round_robin;
  case MESH__LB_LEAST_REQUEST: return &mesh__lb_least_request;
  case MESH__LB_RANDOM: return &mesh__lb_random;
  case MESH__LB_RING_HASH: return &mesh__lb_ring_hash;
  case MESH__LB_MAGLEV: return &mesh__lb_maglev;
  case MESH__LB_PEAK_EWMA: return &mesh__lb_peak_ewma;
  default: return NULL;
  }
}

static inline int mesh__lb_pick(mesh__lb *lb, const mesh__lb_ctx *ctx) {
  return lb->vt->pick(lb, ctx);
}

static inline void mesh__lb_release(mesh__lb *lb, int endpoint, int outcome) {
  if (lb->vt->release) lb->vt->release(lb, endpoint, outcome, 0);
}

/* mesh__lb_release with the call's latency (peak EWMA learns from it). */
static inline void mesh__lb_release_timed(mesh__lb *lb, int endpoint, int outcome, uint64_t latency_ns) {
  if (lb->vt->release) lb->vt->release(lb, endpoint, outcome, latency_ns);
}

static inline void mesh__lb_destroy(mesh__lb *lb) {
  if (lb) lb->vt->destroy(lb);
}

/* Marks an endpoint ejected (outlier detection) or back. An ejected endpoint
 * counts as unhealthy: it leaves the healthy set, and priority and locality
 * loads follow, as Envoy does. In panic mode every endpoint of the priority
 * is used, ejected or not (Envoy). 0, or -1 for an index out of range. */
static inline int mesh__lb_set_ejected(mesh__lb *lb, uint32_t endpoint, bool ejected) {
  if (endpoint >= lb->n_endpoints) return -1;
  if ((lb->ejected[endpoint] != 0) == ejected) return 0;
  lb->ejected[endpoint] = ejected ? 1 : 0;
  lb->vt->health_changed(lb, endpoint);
  return 0;
}

static inline bool mesh__lb_is_ejected(const mesh__lb *lb, uint32_t endpoint) {
  return endpoint < lb->n_endpoints && lb->ejected[endpoint];
}

/* ------------------------------------------------------------ priority load
 * Envoy's priority-level arithmetic (LoadBalancerBase::
 * recalculatePerPriorityState / recalculatePerPriorityPanic /
 * recalculateLoadInTotalPanic), shared by the policies that honour
 * priorities. Implemented in common.c. */

typedef struct mesh__prio_in {
  uint64_t total, healthy, degraded;   /* host counts, or weights when
                                        * weighted_priority_health */
  uint32_t hosts, healthy_hosts, degraded_hosts; /* counts (panic test) */
} mesh__prio_in;

typedef struct mesh__prio_load {
  uint8_t healthy[MESH__MAX_PRIORITY + 1];  /* percent of load */
  uint8_t degraded[MESH__MAX_PRIORITY + 1];
  uint8_t panic[MESH__MAX_PRIORITY + 1];    /* use all hosts of the priority */
  /* r in [0,100): the priority and whether its degraded hosts serve it */
  uint8_t choice_prio[100];
  uint8_t choice_degraded[100];
} mesh__prio_load;

/* n: number of priorities (<= MESH__MAX_PRIORITY + 1); op: overprovisioning
 * factor in percent; panic_threshold: percent (0 disables panic). */
void mesh__lb_priority_load(const mesh__prio_in *in, uint32_t n, uint32_t op,
                            uint32_t panic_threshold, mesh__prio_load *out);

/* ------------------------------------------------------------ shared pieces */

/* A 64-bit mixer and generator (splitmix64): per-picker random numbers. */
static inline uint64_t mesh__lb_splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* A uniform index in [0, n) from 64 random bits (multiply-shift: no
 * division on the hot path). */
static inline uint32_t mesh__lb_uniform(uint64_t r, uint32_t n) {
  return (uint32_t)(((r >> 32) * (uint64_t)n) >> 32);
}

/* One priority's hosts of one health class, for the policies that pick
 * among hosts directly (least request, random, peak EWMA). */
typedef struct mesh__lb_set {
  uint32_t *ids;      /* endpoint indices */
  uint64_t *cum;      /* cum[i]: sum of the weights of ids[0..i] */
  uint32_t n;
  bool equal;         /* all weights equal: pick by index */
} mesh__lb_set;

enum { MESH__SET_HEALTHY = 0, MESH__SET_DEGRADED = 1, MESH__SET_ALL = 2 };

/* Locality choice of one priority and health class (locality-weighted
 * clusters): cum[i] is the running sum of the effective weights of
 * localities loc[0..i] (Envoy's effectiveLocalityWeight: weight x min(1,
 * overprovisioning x available / hosts), x 1000 as an integer). */
typedef struct mesh__lb_locs {
  uint32_t *loc;   /* la locality indices */
  uint64_t *cum;
  uint32_t n;
} mesh__lb_locs;

/* The host sets of every priority and the priority loads over them,
 * kept up to date with health and ejection (common.c). */
typedef struct mesh__lb_hosts {
  /* [priority * 3 + MESH__SET_*], then, locality-weighted, the healthy
   * and degraded hosts of each locality at [n_priorities * 3 + locality *
   * 2 + MESH__SET_HEALTHY / DEGRADED]; n_sets in all. */
  mesh__lb_set *sets;
  uint32_t n_sets;
  mesh__lb_locs *locs;          /* [priority * 2 + class], locality-weighted only */
  uint8_t *health;              /* [endpoint]: mesh__health, ejection folded in */
  mesh__prio_in *in;
  mesh__prio_load load;
  uint32_t n_priorities;
  bool fail_on_panic;
  bool locality_weighted;
} mesh__lb_hosts;

/* Allocates the sets from a and fills them from lb->la, lb->ejected and
 * lb->cluster (which must be set). 0 or -1 (out of memory). */
int mesh__lb_hosts_init(mesh__lb_hosts *h, mesh__arena *a, const mesh__lb *lb);
/* Recomputes the sets of endpoint's priority and the loads after its
 * health or ejection changed. Allocates nothing. */
/* The number of hosts a set at index i of h->sets can hold (for side
 * tables sized per set). */
uint32_t mesh__lb_hosts_set_cap(const mesh__lb_hosts *h, const mesh__load_assignment *la, uint32_t i);
void mesh__lb_hosts_update(mesh__lb_hosts *h, const mesh__lb *lb, uint32_t endpoint);

/* Picker construction (common.c). base_new: a zeroed picker of size bytes
 * (its first member a mesh__lb) in a new arena, with the ejection flags,
 * borrowing c and la; NULL with *err = MESH_ECONFIG (unsealed or bad
 * input) or MESH_ENOMEM. base_finish takes the references once the
 * picker is built; base_free drops them and frees the arena (which holds
 * the picker: do not touch it after). */
void *mesh__lb_base_new(const mesh__lb_vtable *vt, size_t size, const mesh__cluster *c,
                        const mesh__load_assignment *la, mesh__arena **arena, int *err);
void mesh__lb_base_finish(mesh__lb *lb);
void mesh__lb_base_free(mesh__lb *lb, mesh__arena *a);

/* Envoy's choosePriority and hostSourceToUse: the set to pick from for the
 * random number r (r % 100 chooses the priority), or NULL when the pick
 * must fail (no priorities, fail_traffic_on_panic). The set may be empty.
 * Locality-weighted clusters (not in panic) choose a locality in
 * proportion to its effective weight, drawing from *rng, then use its
 * hosts; when no locality of the priority has weight, the whole priority
 * (as Envoy falls through). */
static inline const mesh__lb_set *mesh__lb_hosts_choose(const mesh__lb_hosts *h, uint64_t r, uint64_t *rng) {
  if (h->n_priorities == 0) return NULL;
  uint32_t slot = (uint32_t)(r % 100);
  uint32_t p = h->load.choice_prio[slot];
  if (h->load.panic[p]) return h->fail_on_panic ? NULL : &h->sets[p * 3 + MESH__SET_ALL];
  uint32_t k = h->load.choice_degraded[slot] ? MESH__SET_DEGRADED : MESH__SET_HEALTHY;
  if (h->locality_weighted) {
    const mesh__lb_locs *L = &h->locs[p * 2 + k];
    if (L->n) {
      uint64_t x = mesh__lb_splitmix64(rng) % L->cum[L->n - 1];
      uint32_t i = 0;
      while (L->cum[i] <= x) i++; /* localities of a priority are few */
      return &h->sets[h->n_priorities * 3 + L->loc[i] * 2 + k];
    }
  }
  return &h->sets[p * 3 + k];
}

/* The same choice for the hash-based policies, which keep one table per
 * priority over all of its hosts and skip the hosts they may not use:
 * returns the priority (-1: the pick fails) and sets *want to the
 * mesh__health the host must have, or -1 for any host (panic). The
 * priority is r % 100's, as Envoy's thread-aware balancers choose it from
 * the request hash. */
static inline int mesh__lb_hosts_choose_class(const mesh__lb_hosts *h, uint64_t r, int *want) {
  if (h->n_priorities == 0) return -1;
  uint32_t slot = (uint32_t)(r % 100);
  uint32_t p = h->load.choice_prio[slot];
  if (h->load.panic[p]) {
    *want = -1;
    return h->fail_on_panic || h->sets[p * 3 + MESH__SET_ALL].n == 0 ? -1 : (int)p;
  }
  int k = h->load.choice_degraded[slot] ? MESH__SET_DEGRADED : MESH__SET_HEALTHY;
  *want = k == MESH__SET_DEGRADED ? MESH__DEGRADED : MESH__HEALTHY;
  return h->sets[p * 3 + (uint32_t)k].n ? (int)p : -1;
}

/* The key an endpoint is hashed by on a ring or a Maglev table, as Envoy
 * forms it: the address as "ip:port" ("[ip6]:port"), or Endpoint.hostname
 * with use_hostname_for_hashing (the address when it has none). Writes
 * buf (NUL-terminated) and returns the length, 0 if it does not fit. */
size_t mesh__lb_host_key(const mesh__cluster *c, const mesh__endpoint *ep, char *buf, size_t cap);

/* A host of s drawn in proportion to its weight (r: random bits), -1 when
 * s is empty. Unweighted sets: one multiply; weighted: a binary search
 * over the cumulative weights. */
static inline int mesh__lb_set_pick(const mesh__lb_set *s, uint64_t r) {
  if (s->n == 0) return -1;
  if (s->equal) return (int)s->ids[mesh__lb_uniform(r, s->n)];
  uint64_t total = s->cum[s->n - 1];
  uint64_t x = r % total; /* the first i with cum[i] > x */
  uint32_t lo = 0, len = s->n;
  while (len > 1) {
    uint32_t half = len / 2;
    lo = s->cum[lo + half - 1] > x ? lo : lo + half;
    len -= half;
  }
  return (int)s->ids[lo];
}

#endif
