/* LEAST_REQUEST, Envoy's semantics
 * (source/extensions/load_balancing_policies/least_request,
 * LeastRequestLoadBalancer; docs: intro/arch_overview/upstream/
 * load_balancing/load_balancers#weighted-least-request).
 *
 * After the priority choice (shared with the other policies, common.c):
 * - all weights equal: choice_count hosts drawn uniformly (with
 *   replacement), the one with the fewest active requests wins, ties to
 *   the first drawn ("power of two choices" for the default 2);
 * - weights differ: earliest deadline first over effective weights
 *   weight / (active_requests + 1)^active_request_bias, a host's weight
 *   being recomputed each time it is picked (as Envoy's EdfScheduler::
 *   pickAndAdd does; weights of hosts not picked are not refreshed).
 *
 * Active requests are counted per picker: pick() counts the call as
 * started, release() as ended. Locality-weighted clusters choose the
 * locality first (common.c), then a host of it as above.
 */
#include <math.h>
#include <string.h>

#include "lb/lb.h"
#include "mesh/mesh.h"

typedef struct edf {
  double deadline;
  uint64_t seq; /* ties go to the earlier insertion */
  uint32_t id;
} edf;

typedef struct heap {
  edf *e;
  uint32_t n;
  uint64_t seq;
} heap;

typedef struct lr_lb {
  mesh__lb base;
  mesh__lb_hosts hosts;
  heap *heaps;        /* one per host set (hosts.sets), used when it is weighted */
  uint32_t *active;   /* [endpoint] */
  uint32_t choices;
  double bias;
  uint64_t rng, seed;
  mesh__arena *arena;
} lr_lb;

static inline bool edf_before(const edf *a, const edf *b) {
  return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_down(edf *h, uint32_t n, uint32_t i) {
  edf x = h[i];
  for (;;) {
    uint32_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && edf_before(&h[c + 1], &h[c])) c++;
    if (!edf_before(&h[c], &x)) break;
    h[i] = h[c];
    i = c;
  }
  h[i] = x;
}

static inline double eff_weight(const lr_lb *lb, uint32_t id) {
  double w = (double)lb->base.la->endpoints[id].weight;
  double a = (double)lb->active[id] + 1.0;
  if (lb->bias == 1.0) return w / a;
  if (lb->bias == 0.0) return w;
  return w / pow(a, lb->bias);
}

static int heap_pick(lr_lb *lb, heap *hp) {
  edf *top = &hp->e[0];
  uint32_t id = top->id;
  top->deadline += 1.0 / eff_weight(lb, id);
  top->seq = hp->seq++;
  heap_down(hp->e, hp->n, 0);
  return (int)id;
}

static void heap_build(lr_lb *lb, heap *hp, const mesh__lb_set *s, uint64_t skip) {
  hp->n = 0;
  if (s->equal) return;
  for (uint32_t i = 0; i < s->n; i++) {
    edf *x = &hp->e[hp->n++];
    x->deadline = 1.0 / eff_weight(lb, s->ids[i]);
    x->seq = i;
    x->id = s->ids[i];
  }
  hp->seq = hp->n;
  for (uint32_t i = hp->n / 2; i-- > 0;) heap_down(hp->e, hp->n, i);
  /* A per-worker start, so that workers do not move in step. */
  for (uint64_t k = hp->n ? skip % hp->n : 0; k > 0; k--) heap_pick(lb, hp);
}

static void build_set(lr_lb *lb, uint32_t i) {
  uint64_t x = lb->seed ^ ((i + 1) * 0x9e3779b97f4a7c15ull);
  heap_build(lb, &lb->heaps[i], &lb->hosts.sets[i], lb->seed ? mesh__lb_splitmix64(&x) : 0);
}

/* The heaps of priority p's sets and of its localities' sets. */
static void build_priority(lr_lb *lb, uint32_t p) {
  const mesh__priority *pr = &lb->base.la->priorities[p];
  for (uint32_t k = 0; k < 3; k++) build_set(lb, p * 3 + k);
  if (!lb->hosts.locality_weighted) return;
  for (uint32_t l = pr->first_locality; l < pr->first_locality + pr->n_localities; l++)
    for (uint32_t k = 0; k < 2; k++) build_set(lb, lb->hosts.n_priorities * 3 + l * 2 + k);
}

static int lr_pick(mesh__lb *base, const mesh__lb_ctx *ctx) {
  lr_lb *lb = (lr_lb *)base;
  uint64_t r = ctx ? ctx->random : mesh__lb_splitmix64(&lb->rng);
  const mesh__lb_set *s = mesh__lb_hosts_choose(&lb->hosts, r, &lb->rng);
  if (!s || s->n == 0) return -1;
  int best;
  if (s->equal) {
    best = (int)s->ids[mesh__lb_uniform(mesh__lb_splitmix64(&lb->rng), s->n)];
    for (uint32_t k = 1; k < lb->choices; k++) {
      int c = (int)s->ids[mesh__lb_uniform(mesh__lb_splitmix64(&lb->rng), s->n)];
      if (lb->active[c] < lb->active[best]) best = c;
    }
  } else {
    best = heap_pick(lb, &lb->heaps[s - lb->hosts.sets]);
  }
  if (lb->active[best] != UINT32_MAX) lb->active[best]++;
  return best;
}

static void lr_release(mesh__lb *base, int endpoint, int outcome, uint64_t latency_ns) {
  lr_lb *lb = (lr_lb *)base;
  (void)outcome;
  (void)latency_ns;
  if (endpoint >= 0 && (uint32_t)endpoint < base->n_endpoints && lb->active[endpoint]) lb->active[endpoint]--;
}

static void lr_health_changed(mesh__lb *base, uint32_t endpoint) {
  lr_lb *lb = (lr_lb *)base;
  mesh__lb_hosts_update(&lb->hosts, base, endpoint);
  build_priority(lb, base->la->endpoints[endpoint].priority);
}

static void lr_destroy(mesh__lb *base) {
  lr_lb *lb = (lr_lb *)base;
  mesh__lb_base_free(base, lb->arena);
}

static int lr_create(const mesh__cluster *c, const mesh__load_assignment *la, uint64_t seed, mesh__lb **out) {
  mesh__arena *a;
  int err;
  lr_lb *lb = mesh__lb_base_new(&mesh__lb_least_request, sizeof *lb, c, la, &a, &err);
  if (!lb) return err;
  lb->arena = a;
  lb->rng = lb->seed = seed;
  lb->choices = c->least_request_choice_count >= 2 ? c->least_request_choice_count : 2;
  lb->bias = c->least_request_active_request_bias >= 0.0 && isfinite(c->least_request_active_request_bias)
                 ? c->least_request_active_request_bias
                 : 1.0;
  uint32_t np = la->n_priorities;
  lb->active = mesh__arena_calloc(a, la->n_endpoints ? la->n_endpoints : 1, sizeof *lb->active);
  if (!lb->active || mesh__lb_hosts_init(&lb->hosts, a, &lb->base)) goto oom;
  lb->heaps = mesh__arena_calloc(a, lb->hosts.n_sets ? lb->hosts.n_sets : 1, sizeof *lb->heaps);
  if (!lb->heaps) goto oom;
  for (uint32_t i = 0; i < lb->hosts.n_sets; i++) {
    uint32_t n = mesh__lb_hosts_set_cap(&lb->hosts, la, i);
    if (!(lb->heaps[i].e = mesh__arena_calloc(a, n ? n : 1, sizeof(edf)))) goto oom;
  }
  for (uint32_t p = 0; p < np; p++) build_priority(lb, p);
  mesh__lb_base_finish(&lb->base);
  *out = &lb->base;
  return 0;
oom:
  mesh__arena_free(a);
  return MESH_ENOMEM;
}

const mesh__lb_vtable mesh__lb_least_request = {
    .name = "least_request",
    .create = lr_create,
    .pick = lr_pick,
    .release = lr_release,
    .health_changed = lr_health_changed,
    .destroy = lr_destroy,
};
