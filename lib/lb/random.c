/* RANDOM: a host drawn at random in proportion to its weight, after the
 * priority choice (Envoy's RandomLoadBalancer over hostSourceToUse).
 *
 * Envoy: source/extensions/load_balancing_policies/random (RandomLoadBalancer::
 * peekOrChoose picks uniformly among the hosts to use; libmesh weighs the
 * draw by load_balancing_weight, as Envoy's own docs ask of "weighted"
 * random and as its round robin does — equal weights give Envoy's uniform
 * draw exactly).
 *
 * Locality-weighted clusters choose the locality first (common.c).
 */
#include "lb/lb.h"
#include "mesh/mesh.h"

typedef struct random_lb {
  mesh__lb base;
  mesh__lb_hosts hosts;
  uint64_t rng;
  mesh__arena *arena;
} random_lb;

static int random_pick(mesh__lb *base, const mesh__lb_ctx *ctx) {
  random_lb *lb = (random_lb *)base;
  uint64_t r = ctx ? ctx->random : mesh__lb_splitmix64(&lb->rng);
  const mesh__lb_set *s = mesh__lb_hosts_choose(&lb->hosts, r, &lb->rng);
  if (!s) return -1;
  /* Fresh bits for the host: r % 100 already chose the priority. */
  return mesh__lb_set_pick(s, mesh__lb_splitmix64(&lb->rng));
}

static void random_health_changed(mesh__lb *base, uint32_t endpoint) {
  random_lb *lb = (random_lb *)base;
  mesh__lb_hosts_update(&lb->hosts, base, endpoint);
}

static void random_destroy(mesh__lb *base) {
  random_lb *lb = (random_lb *)base;
  mesh__lb_base_free(base, lb->arena);
}

static int random_create(const mesh__cluster *c, const mesh__load_assignment *la, uint64_t seed,
                         mesh__lb **out) {
  mesh__arena *a;
  int err;
  random_lb *lb = mesh__lb_base_new(&mesh__lb_random, sizeof *lb, c, la, &a, &err);
  if (!lb) return err;
  lb->arena = a;
  lb->rng = seed;
  if (mesh__lb_hosts_init(&lb->hosts, a, &lb->base)) {
    mesh__arena_free(a);
    return MESH_ENOMEM;
  }
  mesh__lb_base_finish(&lb->base);
  *out = &lb->base;
  return 0;
}

const mesh__lb_vtable mesh__lb_random = {
    .name = "random",
    .create = random_create,
    .pick = random_pick,
    .release = NULL,
    .health_changed = random_health_changed,
    .destroy = random_destroy,
};
