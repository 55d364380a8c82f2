/* PEAK_EWMA: least expected latency, Linkerd's default balancer (from
 * Finagle's PeakEwma; tower's p2c + PeakEwma in linkerd2-proxy).
 *
 * Each endpoint keeps a latency estimate that jumps up to any slower
 * observation at once (the "peak") and otherwise decays towards new
 * observations with an exponentially weighted moving average whose weight
 * depends on the time elapsed (tau = DECAY_NS): w = exp(-elapsed / tau),
 * estimate = estimate x w + rtt x (1 - w). Read at pick time, the
 * estimate also decays towards zero with the time since the last
 * observation, so an endpoint that was slow once is retried eventually.
 * An endpoint never observed starts at DEFAULT_RTT_NS.
 *
 * The cost of an endpoint is estimate x (active requests + 1); a pick
 * draws two distinct endpoints of the chosen priority set at random and
 * takes the cheaper (ties to the first drawn). release() feeds the
 * latency (mesh__lb_release_timed; 0 means unknown: only the active count
 * drops).
 *
 * No xDS field selects this policy (Envoy has none): it is chosen with
 * lb_policy = MESH__LB_PEAK_EWMA in the model. Endpoint weights are not
 * used (Linkerd ignores them too); locality-weighted clusters choose the
 * locality first (common.c).
 */
#include <math.h>

#include "lb/lb.h"
#include "mesh/mesh.h"
#include "util/clock.h"

#define DEFAULT_RTT_NS 30e6 /* linkerd2-proxy's default_rtt: 30 ms */
#define DECAY_NS 10e9       /* linkerd2-proxy's decay: 10 s */

typedef struct ewma_ep {
  double est_ns;
  uint64_t stamp_ns; /* when est_ns was last updated */
  uint32_t active;
} ewma_ep;

typedef struct ewma_lb {
  mesh__lb base;
  mesh__lb_hosts hosts;
  ewma_ep *ep;
  uint64_t rng;
  mesh__arena *arena;
} ewma_lb;

static inline double cost(const ewma_ep *e, uint64_t now) {
  double est = e->est_ns;
  if (now > e->stamp_ns) est *= exp(-(double)(now - e->stamp_ns) / DECAY_NS);
  return est * ((double)e->active + 1.0);
}

static int ewma_pick(mesh__lb *base, const mesh__lb_ctx *ctx) {
  ewma_lb *lb = (ewma_lb *)base;
  uint64_t r = ctx ? ctx->random : mesh__lb_splitmix64(&lb->rng);
  const mesh__lb_set *s = mesh__lb_hosts_choose(&lb->hosts, r, &lb->rng);
  if (!s || s->n == 0) return -1;
  int best;
  if (s->n == 1) {
    best = (int)s->ids[0];
  } else {
    uint64_t x = mesh__lb_splitmix64(&lb->rng);
    uint32_t i = mesh__lb_uniform(x, s->n);
    uint32_t j = mesh__lb_uniform(x << 32, s->n - 1); /* distinct from i */
    if (j >= i) j++;
    uint32_t a = s->ids[i], b = s->ids[j];
    uint64_t now = mesh__now_ns();
    best = (int)(cost(&lb->ep[b], now) < cost(&lb->ep[a], now) ? b : a);
  }
  if (lb->ep[best].active != UINT32_MAX) lb->ep[best].active++;
  return best;
}

/* Peak-sensitive update with one observation. */
static void observe(ewma_ep *e, double rtt, uint64_t now) {
  double elapsed = now > e->stamp_ns ? (double)(now - e->stamp_ns) : 0.0;
  if (rtt > e->est_ns) {
    e->est_ns = rtt;
  } else {
    double w = exp(-elapsed / DECAY_NS);
    e->est_ns = e->est_ns * w + rtt * (1.0 - w);
  }
  e->stamp_ns = now;
}

static void ewma_release(mesh__lb *base, int endpoint, int outcome, uint64_t latency_ns) {
  ewma_lb *lb = (ewma_lb *)base;
  (void)outcome;
  if (endpoint < 0 || (uint32_t)endpoint >= base->n_endpoints) return;
  ewma_ep *e = &lb->ep[endpoint];
  if (e->active) e->active--;
  if (latency_ns) observe(e, (double)latency_ns, mesh__now_ns());
}

static void ewma_health_changed(mesh__lb *base, uint32_t endpoint) {
  ewma_lb *lb = (ewma_lb *)base;
  mesh__lb_hosts_update(&lb->hosts, base, endpoint);
}

static void ewma_destroy(mesh__lb *base) {
  ewma_lb *lb = (ewma_lb *)base;
  mesh__lb_base_free(base, lb->arena);
}

static int ewma_create(const mesh__cluster *c, const mesh__load_assignment *la, uint64_t seed,
                       mesh__lb **out) {
  mesh__arena *a;
  int err;
  ewma_lb *lb = mesh__lb_base_new(&mesh__lb_peak_ewma, sizeof *lb, c, la, &a, &err);
  if (!lb) return err;
  lb->arena = a;
  lb->rng = seed;
  lb->ep = mesh__arena_calloc(a, la->n_endpoints ? la->n_endpoints : 1, sizeof *lb->ep);
  if (!lb->ep || mesh__lb_hosts_init(&lb->hosts, a, &lb->base)) {
    mesh__arena_free(a);
    return MESH_ENOMEM;
  }
  uint64_t now = mesh__now_ns();
  for (uint32_t j = 0; j < la->n_endpoints; j++) {
    lb->ep[j].est_ns = DEFAULT_RTT_NS;
    lb->ep[j].stamp_ns = now;
  }
  mesh__lb_base_finish(&lb->base);
  *out = &lb->base;
  return 0;
}

const mesh__lb_vtable mesh__lb_peak_ewma = {
    .name = "peak_ewma",
    .create = ewma_create,
    .pick = ewma_pick,
    .release = ewma_release,
    .health_changed = ewma_health_changed,
    .destroy = ewma_destroy,
};
