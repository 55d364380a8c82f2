/* MAGLEV: consistent hashing with a lookup table (Eisenbud et al.,
 * "Maglev: A Fast and Reliable Software Network Load Balancer", NSDI
 * 2016), built as Envoy builds it.
 *
 * Envoy: source/extensions/load_balancing_policies/maglev (MaglevTable::
 * constructMaglevTableInternal); docs: intro/arch_overview/upstream/
 * load_balancing/load_balancers#maglev.
 *
 * Table of M entries (maglev_lb_config.table_size, a prime, default
 * 65537). Host i, with key k (mesh__lb_host_key, as the ring hash uses):
 * offset = xxHash64(k, seed 0) % M, skip = xxHash64(k, seed 1) % (M - 1)
 * + 1; its j-th preference is (offset + skip x j) % M. Rounds
 * (iteration 1, 2, ...) go through the hosts in order; a host takes its
 * turn in a round when iteration x weight >= its target, then its target
 * grows by the largest weight and it takes its next preferred free slot:
 * hosts fill the table in proportion to their weights. Integer weights
 * are used where Envoy normalizes them to doubles (the same ratios,
 * without rounding).
 *
 * A request with hash h goes to table[h % M]; its priority comes from
 * h % 100, as in Envoy. As for the ring hash (ring_hash.c), libmesh builds
 * a priority's table once over all of its hosts and skips, at pick time,
 * slots whose host may not take the request (moving on to the next slot),
 * where Envoy rebuilds the table from the healthy hosts. Locality weights
 * are not applied.
 */
#include <stdlib.h>
#include <xxhash.h>

#include "lb/lb.h"
#include "mesh/mesh.h"

typedef struct maglev_lb {
  mesh__lb base;
  mesh__lb_hosts hosts;
  uint32_t **tables; /* [priority]: M endpoint indices, NULL for an empty priority */
  uint64_t m;
  uint64_t rng;
  mesh__arena *arena;
} maglev_lb;

typedef struct build_ent {
  uint64_t offset, skip, next;
  uint64_t weight, target;
  uint32_t id;
} build_ent;

static int build_table(maglev_lb *lb, mesh__arena *a, uint32_t p) {
  const mesh__cluster *c = lb->base.cluster;
  const mesh__load_assignment *la = lb->base.la;
  const mesh__priority *pr = &la->priorities[p];
  uint64_t m = lb->m;
  lb->tables[p] = NULL;
  if (pr->count == 0) return 0;
  build_ent *e = calloc(pr->count, sizeof *e);
  uint32_t *t = mesh__arena_calloc(a, m, sizeof *t);
  if (!e || !t) {
    free(e);
    return -1;
  }
  uint32_t n = 0;
  uint64_t wmax = 0;
  char key[320];
  for (uint32_t j = pr->first; j < pr->first + pr->count; j++) {
    size_t kl = mesh__lb_host_key(c, &la->endpoints[j], key, sizeof key);
    if (kl == 0) continue;
    e[n].offset = XXH64(key, kl, 0) % m;
    e[n].skip = XXH64(key, kl, 1) % (m - 1) + 1;
    e[n].weight = la->endpoints[j].weight;
    e[n].id = j;
    if (e[n].weight > wmax) wmax = e[n].weight;
    n++;
  }
  if (n == 0) {
    free(e);
    return 0;
  }
  for (uint64_t s = 0; s < m; s++) t[s] = UINT32_MAX;
  uint64_t filled = 0;
  for (uint64_t it = 1; filled < m; it++) {
    for (uint32_t i = 0; i < n && filled < m; i++) {
      build_ent *x = &e[i];
      if (it * x->weight < x->target) continue;
      x->target += wmax;
      uint64_t s = (x->offset + x->skip * x->next) % m, tries = 0;
      while (t[s] != UINT32_MAX) {
        /* With a prime m the preferences reach every slot; a size that is
         * not prime falls back to the next slot rather than loop. */
        x->next++;
        s = ++tries < m ? (x->offset + x->skip * x->next) % m : (s + 1) % m;
      }
      t[s] = x->id;
      x->next++;
      filled++;
    }
  }
  free(e);
  lb->tables[p] = t;
  return 0;
}

static int maglev_pick(mesh__lb *base, const mesh__lb_ctx *ctx) {
  maglev_lb *lb = (maglev_lb *)base;
  uint64_t h = ctx ? (ctx->has_hash ? ctx->hash : ctx->random) : mesh__lb_splitmix64(&lb->rng);
  int want;
  int p = mesh__lb_hosts_choose_class(&lb->hosts, h, &want);
  if (p < 0 || !lb->tables[p]) return -1;
  const uint32_t *t = lb->tables[p];
  uint64_t s = h % lb->m;
  if (want < 0) return (int)t[s];
  for (uint64_t k = 0; k < lb->m; k++) {
    uint32_t id = t[s];
    if (lb->hosts.health[id] == want) return (int)id;
    if (++s == lb->m) s = 0;
  }
  return -1;
}

static void maglev_health_changed(mesh__lb *base, uint32_t endpoint) {
  maglev_lb *lb = (maglev_lb *)base;
  mesh__lb_hosts_update(&lb->hosts, base, endpoint);
}

static void maglev_destroy(mesh__lb *base) {
  maglev_lb *lb = (maglev_lb *)base;
  mesh__lb_base_free(base, lb->arena);
}

static int maglev_create(const mesh__cluster *c, const mesh__load_assignment *la, uint64_t seed, mesh__lb **out) {
  /* The translator checks the size is prime; any size >= 2 still builds a
   * full table (a prime only makes every skip reach every slot). */
  if (c && c->maglev_table_size < 2) return MESH_ECONFIG;
  mesh__arena *a;
  int err;
  maglev_lb *lb = mesh__lb_base_new(&mesh__lb_maglev, sizeof *lb, c, la, &a, &err);
  if (!lb) return err;
  lb->arena = a;
  lb->rng = seed;
  lb->m = c->maglev_table_size;
  lb->tables = mesh__arena_calloc(a, la->n_priorities ? la->n_priorities : 1, sizeof *lb->tables);
  if (!lb->tables || mesh__lb_hosts_init(&lb->hosts, a, &lb->base)) goto oom;
  for (uint32_t p = 0; p < la->n_priorities; p++)
    if (build_table(lb, a, p)) goto oom;
  mesh__lb_base_finish(&lb->base);
  *out = &lb->base;
  return 0;
oom:
  mesh__arena_free(a);
  return MESH_ENOMEM;
}

const mesh__lb_vtable mesh__lb_maglev = {
    .name = "maglev",
    .create = maglev_create,
    .pick = maglev_pick,
    .release = NULL,
    .health_changed = maglev_health_changed,
    .destroy = maglev_destroy,
};
