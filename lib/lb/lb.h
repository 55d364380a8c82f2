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
  /* A call to endpoint ended (least-request, peak EWMA); may be NULL. */
  void (*release)(mesh__lb *lb, int endpoint, int outcome);
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

/* The policy's vtable, or NULL when libmesh does not implement it yet. */
static inline const mesh__lb_vtable *mesh__lb_vtable_for(mesh__lb_policy p) {
  switch (p) {
  case MESH__LB_ROUND_ROBIN: return &mesh__lb_round_robin;
  default: return NULL;
  }
}

static inline int mesh__lb_pick(mesh__lb *lb, const mesh__lb_ctx *ctx) {
  return lb->vt->pick(lb, ctx);
}

static inline void mesh__lb_release(mesh__lb *lb, int endpoint, int outcome) {
  if (lb->vt->release) lb->vt->release(lb, endpoint, outcome);
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
 * priorities. Implemented in round_robin.c for now. */

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

#endif
