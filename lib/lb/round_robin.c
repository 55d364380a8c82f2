/* Weighted round robin with priority failover, Envoy's semantics.
 *
 * Envoy docs: intro/arch_overview/upstream/load_balancing/{priority,
 * overprovisioning, panic_threshold, degraded, locality_weight}; source:
 * source/common/upstream/load_balancer_impl.cc (LoadBalancerBase,
 * ZoneAwareLoadBalancerBase::hostSourceToUse, EdfLoadBalancerBase,
 * RoundRobinLoadBalancer) and source/common/upstream/edf_scheduler.h.
 *
 * A pick:
 *   1. priority: random % 100 indexes a 100-slot table built from the
 *      per-priority healthy and degraded loads (Envoy's choosePriority);
 *   2. the priority in panic: all of its hosts (or -1 with
 *      fail_traffic_on_panic);
 *   3. locality-weighted clusters: a locality by EDF over effective
 *      locality weights (weight x min(1, overprovisioning x available /
 *      hosts)), then a host of that locality; when no locality has weight,
 *      the whole priority (Envoy falls through the same way);
 *   4. a host: plain rotation when all weights are equal, otherwise an EDF
 *      scheduler (earliest deadline first; a host of weight w is due at
 *      k/w for its k-th pick, ties in insertion order).
 *
 * Deadlines are exact: k/w is kept as the pair (k, w) and compared by
 * cross-multiplication in 128 bits, so a round of W picks (W = the sum of
 * the weights) gives every host exactly its weight, with no floating-point
 * drift (Envoy uses doubles).
 *
 * Health changes (ejection) rebuild the sets of one priority and the
 * priority loads: O(hosts of the priority), no allocation.
 *
 * The priority-load arithmetic is shared with the other policies
 * (common.c).
 */
#include <stdlib.h>
#include <string.h>

#include "lb/lb.h"
#include "mesh/mesh.h"
#include "util/arena.h"

/* ------------------------------------------------------------ 128-bit math */

#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 u128;
#else
/* 64x64 -> 128 for targets without __int128 (32-bit ones). */
static inline void mul64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo) {
  uint64_t al = (uint32_t)a, ah = a >> 32, bl = (uint32_t)b, bh = b >> 32;
  uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
  uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;
  *lo = (mid << 32) | (uint32_t)ll;
  *hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}
#endif

/* ------------------------------------------------------------ schedulers */

typedef struct edf_ent {
  uint64_t num;  /* deadline = num / w */
  uint64_t w;
  uint64_t seq;  /* insertion order: ties go to the earlier */
  uint32_t id;
} edf_ent;

typedef struct sched {
  edf_ent *e;    /* a heap (weighted) or the rotation order (equal weights) */
  uint32_t n, cap;
  uint32_t rr;   /* next rotation slot */
  bool equal;
  uint64_t seq;
} sched;

/* a before b: the earlier deadline (exact: num_a x w_b < num_b x w_a in 128
 * bits), then the earlier insertion. Written without branches: heap
 * descents pick between siblings at random, which branch predictors lose. */
static inline bool edf_less(const edf_ent *a, const edf_ent *b) {
#ifdef __SIZEOF_INT128__
  u128 x = (u128)a->num * b->w, y = (u128)b->num * a->w;
  return (x < y) | ((x == y) & (a->seq < b->seq));
#else
  uint64_t ah, al, bh, bl;
  mul64(a->num, b->w, &ah, &al);
  mul64(b->num, a->w, &bh, &bl);
  return (ah < bh) | ((ah == bh) & ((al < bl) | ((al == bl) & (a->seq < b->seq))));
#endif
}

/* Restores the heap after h[0] grew (it was just picked). Bottom-up
 * (Floyd): walk the hole down along the smaller children to a leaf, one
 * comparison a level, then let the entry climb back; a picked entry's new
 * deadline is late, so it rarely climbs far. */
static inline void sift_top(edf_ent *h, uint32_t n) {
  edf_ent x = h[0];
  uint32_t i = 0, c;
  while ((c = 2 * i + 2) < n) {
    c -= edf_less(&h[c - 1], &h[c]);
    h[i] = h[c];
    i = c;
  }
  if (c == n) { /* a lone left child */
    h[i] = h[c - 1];
    i = c - 1;
  }
  while (i > 0) {
    uint32_t p = (i - 1) / 2;
    if (!edf_less(&x, &h[p])) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = x;
}

/* Plain sift-down, for building the heap. */
static void sift_down(edf_ent *h, uint32_t n, uint32_t i) {
  edf_ent x = h[i];
  for (;;) {
    uint32_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && edf_less(&h[c + 1], &h[c])) c++;
    if (!edf_less(&h[c], &x)) break;
    h[i] = h[c];
    i = c;
  }
  h[i] = x;
}

static inline int sched_pick(sched *s) {
  if (s->n == 0) return -1;
  if (s->equal) {
    uint32_t i = s->rr;
    s->rr = (i + 1 == s->n) ? 0 : i + 1;
    return (int)s->e[i].id;
  }
  edf_ent *top = &s->e[0];
  int id = (int)top->id;
  top->num++;
  top->seq = s->seq++;
  sift_top(s->e, s->n);
  return id;
}

static void sched_reset(sched *s) { s->n = 0; }

static void sched_add(sched *s, uint32_t id, uint64_t w) {
  edf_ent *x = &s->e[s->n];
  x->num = 1;
  x->w = w;
  x->seq = s->n;
  x->id = id;
  s->n++;
}

/* skip: picks to advance by (a per-worker offset, so that workers do not
 * move in step). On a rebuild (rebuild: true) a rotation keeps its
 * position, as Envoy's rr index does; EDF state starts over, offset again. */
static void sched_finish(sched *s, uint64_t skip, bool rebuild) {
  s->equal = true;
  s->seq = s->n;
  for (uint32_t i = 1; i < s->n; i++)
    if (s->e[i].w != s->e[0].w) {
      s->equal = false;
      break;
    }
  if (s->n == 0) {
    s->rr = 0;
    return;
  }
  if (s->equal) {
    s->rr = (uint32_t)((rebuild ? s->rr : skip) % s->n);
    return;
  }
  for (uint32_t i = s->n / 2; i-- > 0;) sift_down(s->e, s->n, i);
  for (uint64_t k = skip % s->n; k > 0; k--) sched_pick(s);
}

static int sched_alloc(mesh__arena *a, sched *s, uint32_t cap) {
  s->e = mesh__arena_calloc(a, cap ? cap : 1, sizeof *s->e);
  s->cap = cap;
  return s->e ? 0 : -1;
}

/* ------------------------------------------------------------ the picker */

typedef struct rr_prio {
  sched healthy, degraded, all;
  sched loc_healthy, loc_degraded; /* over la locality indices */
} rr_prio;

typedef struct rr_lb {
  mesh__lb base;
  rr_prio *prios;
  sched *loc_h, *loc_d;            /* per la locality (locality-weighted) */
  uint32_t n_priorities;
  bool locality_weighted;
  bool fail_on_panic;
  uint64_t rng;
  uint64_t seed;
  mesh__arena *arena;
  mesh__prio_in *in;
  mesh__prio_load load;
} rr_lb;

/* A per-scheduler start offset derived from the seed; 0 when seed is 0. */
static uint64_t skip_for(const rr_lb *lb, uint64_t salt) {
  if (lb->seed == 0) return 0;
  uint64_t x = lb->seed ^ (salt * 0x9e3779b97f4a7c15ull);
  return mesh__lb_splitmix64(&x);
}

static mesh__health effective_health(const rr_lb *lb, uint32_t j) {
  if (lb->base.ejected[j]) return MESH__UNHEALTHY;
  return lb->base.la->endpoints[j].health;
}

/* Envoy's effectiveLocalityWeight: weight x min(1, op/100 x avail/hosts),
 * scaled by 1000 to an integer EDF weight. */
static uint64_t locality_weight(uint32_t weight, uint32_t avail, uint32_t hosts, uint32_t op) {
  if (weight == 0 || avail == 0 || hosts == 0) return 0;
  double ratio = (double)op * avail / (100.0 * hosts);
  if (ratio > 1.0) ratio = 1.0;
  uint64_t w = (uint64_t)((double)weight * ratio * 1000.0 + 0.5);
  return w ? w : 1;
}

static void refresh_priority(rr_lb *lb, uint32_t p, bool rebuild) {
  const mesh__load_assignment *la = lb->base.la;
  const mesh__priority *pr = &la->priorities[p];
  rr_prio *P = &lb->prios[p];
  mesh__prio_in *in = &lb->in[p];
  uint64_t salt = (uint64_t)p * 8;
  bool weighted_health = la->weighted_priority_health;
  uint32_t op = la->overprovisioning_factor;

  memset(in, 0, sizeof *in);
  sched_reset(&P->healthy);
  sched_reset(&P->degraded);
  sched_reset(&P->loc_healthy);
  sched_reset(&P->loc_degraded);
  for (uint32_t k = pr->first_locality; k < pr->first_locality + pr->n_localities; k++) {
    const mesh__locality *loc = &la->localities[k];
    uint32_t nh = 0, nd = 0;
    if (lb->locality_weighted) {
      sched_reset(&lb->loc_h[k]);
      sched_reset(&lb->loc_d[k]);
    }
    for (uint32_t j = loc->first; j < loc->first + loc->count; j++) {
      uint32_t w = la->endpoints[j].weight;
      mesh__health h = effective_health(lb, j);
      in->hosts++;
      in->total += weighted_health ? w : 1;
      if (h == MESH__HEALTHY) {
        sched_add(&P->healthy, j, w);
        if (lb->locality_weighted) sched_add(&lb->loc_h[k], j, w);
        in->healthy += weighted_health ? w : 1;
        nh++;
      } else if (h == MESH__DEGRADED) {
        sched_add(&P->degraded, j, w);
        if (lb->locality_weighted) sched_add(&lb->loc_d[k], j, w);
        in->degraded += weighted_health ? w : 1;
        nd++;
      }
    }
    if (lb->locality_weighted) {
      sched_finish(&lb->loc_h[k], skip_for(lb, 0x10000 + k * 2), rebuild);
      sched_finish(&lb->loc_d[k], skip_for(lb, 0x10000 + k * 2 + 1), rebuild);
      uint64_t wh = locality_weight(loc->weight, nh, loc->count, op);
      uint64_t wd = locality_weight(loc->weight, nd, loc->count, op);
      if (wh) sched_add(&P->loc_healthy, k, wh);
      if (wd) sched_add(&P->loc_degraded, k, wd);
    }
  }
  in->healthy_hosts = P->healthy.n;
  in->degraded_hosts = P->degraded.n;
  sched_finish(&P->healthy, skip_for(lb, salt + 1), rebuild);
  sched_finish(&P->degraded, skip_for(lb, salt + 2), rebuild);
  sched_finish(&P->loc_healthy, skip_for(lb, salt + 3), rebuild);
  sched_finish(&P->loc_degraded, skip_for(lb, salt + 4), rebuild);
}

static void refresh_load(rr_lb *lb) {
  mesh__lb_priority_load(lb->in, lb->n_priorities, lb->base.la->overprovisioning_factor,
                         lb->base.cluster->healthy_panic_threshold, &lb->load);
}

static int rr_pick(mesh__lb *base, const mesh__lb_ctx *ctx) {
  rr_lb *lb = (rr_lb *)base;
  if (lb->n_priorities == 0) return -1;
  uint64_t r = ctx ? ctx->random : mesh__lb_splitmix64(&lb->rng);
  uint32_t slot = (uint32_t)(r % 100);
  uint32_t p = lb->load.choice_prio[slot];
  bool degraded = lb->load.choice_degraded[slot];
  rr_prio *P = &lb->prios[p];
  if (lb->load.panic[p]) return lb->fail_on_panic ? -1 : sched_pick(&P->all);
  if (lb->locality_weighted) {
    sched *ls = degraded ? &P->loc_degraded : &P->loc_healthy;
    if (ls->n) {
      int k = sched_pick(ls);
      return sched_pick(degraded ? &lb->loc_d[k] : &lb->loc_h[k]);
    }
  }
  return sched_pick(degraded ? &P->degraded : &P->healthy);
}

static void rr_health_changed(mesh__lb *base, uint32_t endpoint) {
  rr_lb *lb = (rr_lb *)base;
  refresh_priority(lb, lb->base.la->endpoints[endpoint].priority, true);
  refresh_load(lb);
}

static void rr_destroy(mesh__lb *base) {
  rr_lb *lb = (rr_lb *)base;
  mesh__load_assignment_unref(lb->base.la);
  mesh__cluster_unref(lb->base.cluster);
  mesh__arena_free(lb->arena);
}

static int rr_create(const mesh__cluster *c, const mesh__load_assignment *la, uint64_t seed,
                     mesh__lb **out) {
  if (!c || !la || !la->sealed || la->n_priorities > MESH__MAX_PRIORITY + 1) return MESH_ECONFIG;
  mesh__arena *a = mesh__arena_new(0);
  if (!a) return MESH_ENOMEM;
  rr_lb *lb = mesh__arena_alloc(a, sizeof *lb);
  if (!lb) goto oom;
  lb->arena = a;
  lb->base.vt = &mesh__lb_round_robin;
  lb->n_priorities = la->n_priorities;
  lb->locality_weighted = c->locality_weighted;
  lb->fail_on_panic = c->fail_traffic_on_panic;
  lb->seed = seed;
  lb->rng = seed;
  lb->base.n_endpoints = la->n_endpoints;
  lb->base.ejected = mesh__arena_calloc(a, la->n_endpoints ? la->n_endpoints : 1, 1);
  lb->prios = mesh__arena_calloc(a, la->n_priorities ? la->n_priorities : 1, sizeof *lb->prios);
  lb->in = mesh__arena_calloc(a, la->n_priorities ? la->n_priorities : 1, sizeof *lb->in);
  if (!lb->base.ejected || !lb->prios || !lb->in) goto oom;
  if (lb->locality_weighted) {
    lb->loc_h = mesh__arena_calloc(a, la->n_localities ? la->n_localities : 1, sizeof *lb->loc_h);
    lb->loc_d = mesh__arena_calloc(a, la->n_localities ? la->n_localities : 1, sizeof *lb->loc_d);
    if (!lb->loc_h || !lb->loc_d) goto oom;
    for (uint32_t k = 0; k < la->n_localities; k++)
      if (sched_alloc(a, &lb->loc_h[k], la->localities[k].count) ||
          sched_alloc(a, &lb->loc_d[k], la->localities[k].count))
        goto oom;
  }
  /* Borrow the model for the tables; references are taken on success. */
  lb->base.la = la;
  lb->base.cluster = c;
  for (uint32_t p = 0; p < la->n_priorities; p++) {
    const mesh__priority *pr = &la->priorities[p];
    rr_prio *P = &lb->prios[p];
    if (sched_alloc(a, &P->healthy, pr->count) || sched_alloc(a, &P->degraded, pr->count) ||
        sched_alloc(a, &P->all, pr->count) ||
        sched_alloc(a, &P->loc_healthy, lb->locality_weighted ? pr->n_localities : 0) ||
        sched_alloc(a, &P->loc_degraded, lb->locality_weighted ? pr->n_localities : 0))
      goto oom;
    for (uint32_t j = pr->first; j < pr->first + pr->count; j++)
      sched_add(&P->all, j, la->endpoints[j].weight);
    sched_finish(&P->all, skip_for(lb, (uint64_t)p * 8), false);
    refresh_priority(lb, p, false);
  }
  refresh_load(lb);
  lb->base.la = mesh__load_assignment_ref(la);
  lb->base.cluster = mesh__cluster_ref(c);
  *out = &lb->base;
  return 0;
oom:
  mesh__arena_free(a);
  return MESH_ENOMEM;
}

const mesh__lb_vtable mesh__lb_round_robin = {
    .name = "round_robin",
    .create = rr_create,
    .pick = rr_pick,
    .release = NULL,
    .health_changed = rr_health_changed,
    .destroy = rr_destroy,
};
