/* RING_HASH: consistent hashing on a ring ("ketama"), Envoy's ring.
 *
 * Envoy: source/extensions/load_balancing_policies/ring_hash
 * (RingHashLoadBalancer::Ring::Ring, chooseHost) and
 * source/common/upstream/thread_aware_lb_impl.cc; docs:
 * intro/arch_overview/upstream/load_balancing/load_balancers#ring-hash.
 *
 * Building one priority's ring (as Envoy does):
 *   - host weights are normalized to sum to 1 (min and max noted);
 *   - scale = min(ceil(min_weight x minimum_ring_size) / min_weight,
 *     maximum_ring_size): the smallest host gets at least
 *     ceil(min_weight x minimum_ring_size) entries, the ring stays within
 *     maximum_ring_size;
 *   - walking the hosts in order with running sums target += scale x w and
 *     current (entries so far), a host gets entries while current < target;
 *     entry i of a host hashes the key "<host key>_<i>" (host key: see
 *     mesh__lb_host_key, "10.0.0.1:8080_0", "10.0.0.1:8080_1", ...) with
 *     xxHash64 (seed 0) or, with hash_function MURMUR_HASH_2, Envoy's
 *     MurmurHash2 (libstdc++'s 64-bit std::hash, seed 0xc70f6907);
 *   - entries are sorted by hash.
 * A request with hash h goes to the first entry whose hash is >= h,
 * wrapping to the first entry (binary search). The priority comes from
 * h % 100, as in Envoy. Without a request hash, a random number is used.
 *
 * Where libmesh differs, on purpose:
 * - Envoy gives the least-weighted host ceil(min_weight x
 *   minimum_ring_size) points, so with equal weights each host has
 *   ceil(minimum_ring_size / hosts) and every host added takes points away
 *   from all the others: their keys move too (adding an 11th host to 10
 *   remaps ~16% of keys, where 1/11 = 9% is the least possible), and large
 *   clusters get very few points per host (2 each for 1000 hosts: poor
 *   balance). libmesh gives it at least MIN_POINTS (128, or
 *   minimum_ring_size when that is smaller), so that from 8 hosts up (at
 *   the default minimum) a host's points do not change as hosts come and
 *   go, and only the keys of the host added or removed move. The ring is
 *   therefore never smaller than Envoy's (still capped by
 *   maximum_ring_size, where the points shrink again), but not the same
 *   ring once there are more hosts than minimum_ring_size / 128: libmesh
 *   and Envoy then do not map keys to the same hosts.
 * - Envoy rebuilds the ring from the healthy hosts whenever health
 *   changes; libmesh builds each priority's ring once over all of its
 *   hosts and, at pick time, walks clockwise past entries whose host may
 *   not take the request (unhealthy, ejected, or not of the class chosen:
 *   healthy, degraded, any in panic). So an ejection moves only the
 *   ejected host's keys (to their ring successors), takes no allocation
 *   and no rebuild, and health flapping does not reshuffle anything else.
 * Locality weights are not applied to the ring.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "lb/lb.h"
#include "mesh/mesh.h"

#define MIN_POINTS 128.0

typedef struct ring {
  uint64_t *hash; /* sorted */
  uint32_t *id;
  uint32_t n;
  /* A first-level index over the top bits of the hash: idx[b] is the
   * first entry whose hash is >= b << shift, so a lookup searches one
   * bucket of ~2 entries instead of the whole ring (the ring of a large
   * cluster does not fit in cache; each halving step would miss). */
  uint32_t *idx;  /* [(1 << bits) + 1] */
  uint32_t shift; /* 64 - bits */
} ring;

typedef struct ring_lb {
  mesh__lb base;
  mesh__lb_hosts hosts;
  ring *rings;    /* [priority] */
  uint64_t rng;
  mesh__arena *arena;
} ring_lb;

/* Envoy's MurmurHash::murmurHash2 (libstdc++'s _Hash_bytes for 64-bit
 * size_t), written from its definition. */
static uint64_t murmur2_64(const char *p, size_t len, uint64_t seed) {
  const uint64_t mul = 0xc6a4a7935bd1e995ull;
  uint64_t h = seed ^ (len * mul);
  size_t aligned = len & ~(size_t)7;
  for (size_t i = 0; i < aligned; i += 8) {
    uint64_t d;
    memcpy(&d, p + i, 8); /* little-endian hosts, as Envoy assumes */
    d *= mul;
    d ^= d >> 47;
    d *= mul;
    h ^= d;
    h *= mul;
  }
  if (len & 7) {
    uint64_t d = 0;
    for (size_t k = len; k-- > aligned;) d = (d << 8) + (unsigned char)p[k];
    h ^= d;
    h *= mul;
  }
  h ^= h >> 47;
  h *= mul;
  h ^= h >> 47;
  return h;
}

typedef struct ent {
  uint64_t hash;
  uint32_t id;
} ent;

static int ent_cmp(const void *a, const void *b) {
  const ent *x = a, *y = b;
  if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
  return (x->id > y->id) - (x->id < y->id);
}

static int build_ring(ring_lb *lb, mesh__arena *a, uint32_t p) {
  const mesh__cluster *c = lb->base.cluster;
  const mesh__load_assignment *la = lb->base.la;
  const mesh__priority *pr = &la->priorities[p];
  ring *rg = &lb->rings[p];
  rg->n = 0;
  if (pr->count == 0) return 0;
  uint64_t total = 0, wmin = UINT64_MAX;
  for (uint32_t j = pr->first; j < pr->first + pr->count; j++) {
    total += la->endpoints[j].weight;
    if (la->endpoints[j].weight < wmin) wmin = la->endpoints[j].weight;
  }
  double min_norm = (double)wmin / (double)total;
  double min_size = (double)(c->ring_hash_min_size ? c->ring_hash_min_size : 1);
  double max_size = (double)(c->ring_hash_max_size ? c->ring_hash_max_size : 8388608);
  if (max_size > 8388608) max_size = 8388608; /* Envoy's bound (the translator checks it) */
  if (min_size > max_size) min_size = max_size;
  /* Points of the least-weighted host: Envoy's ceil(min_weight x
   * minimum_ring_size), but never fewer than MIN_POINTS (or
   * minimum_ring_size when smaller): see "Where libmesh differs". */
  double points = ceil(min_norm * min_size);
  double floor_points = min_size < MIN_POINTS ? min_size : MIN_POINTS;
  if (points < floor_points) points = floor_points;
  double scale = points / min_norm;
  if (scale > max_size) scale = max_size;
  size_t cap = (size_t)ceil(scale) + 2;
  ent *tmp = malloc(cap * sizeof *tmp);
  if (!tmp) return -1;
  double target = 0.0, current = 0.0;
  size_t n = 0;
  char key[320];
  for (uint32_t j = pr->first; j < pr->first + pr->count; j++) {
    size_t kl = mesh__lb_host_key(c, &la->endpoints[j], key, sizeof key - 24);
    if (kl == 0) continue; /* cannot happen with bounded names; such a host gets no entries */
    key[kl++] = '_';
    target += scale * ((double)la->endpoints[j].weight / (double)total);
    for (uint64_t i = 0; current < target && n < cap; i++, current += 1.0) {
      int il = snprintf(key + kl, sizeof key - kl, "%llu", (unsigned long long)i);
      size_t len = kl + (size_t)il;
      tmp[n].hash = c->ring_hash_function == MESH__RING_HASH_MURMUR2 ? murmur2_64(key, len, 0xc70f6907ull)
                                                                    : XXH64(key, len, 0);
      tmp[n].id = j;
      n++;
    }
  }
  qsort(tmp, n, sizeof *tmp, ent_cmp);
  rg->hash = mesh__arena_calloc(a, n ? n : 1, sizeof *rg->hash);
  rg->id = mesh__arena_calloc(a, n ? n : 1, sizeof *rg->id);
  if (!rg->hash || !rg->id) {
    free(tmp);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    rg->hash[i] = tmp[i].hash;
    rg->id[i] = tmp[i].id;
  }
  rg->n = (uint32_t)n;
  free(tmp);
  uint32_t bits = 0;
  while (bits < 20 && ((size_t)2 << bits) < n) bits++; /* ~2 to 4 entries a bucket */
  rg->shift = 64 - bits;
  rg->idx = mesh__arena_calloc(a, ((size_t)1 << bits) + 1, sizeof *rg->idx);
  if (!rg->idx) return -1;
  size_t e = 0;
  for (uint64_t b = 0; b < ((uint64_t)1 << bits); b++) {
    /* bits == 0: one bucket, the whole ring. */
    uint64_t start = bits ? b << rg->shift : 0;
    while (e < n && rg->hash[e] < start) e++;
    rg->idx[b] = (uint32_t)e;
  }
  rg->idx[(size_t)1 << bits] = (uint32_t)n;
  return 0;
}

/* The first entry with hash >= h (n when none). */
static inline uint32_t lower_bound(const uint64_t *a, uint32_t n, uint64_t h) {
  uint32_t lo = 0, len = n;
  while (len > 0) {
    uint32_t half = len / 2;
    if (a[lo + half] < h) {
      lo += half + 1;
      len -= half + 1;
    } else {
      len = half;
    }
  }
  return lo;
}

static int ring_pick(mesh__lb *base, const mesh__lb_ctx *ctx) {
  ring_lb *lb = (ring_lb *)base;
  uint64_t h = ctx ? (ctx->has_hash ? ctx->hash : ctx->random) : mesh__lb_splitmix64(&lb->rng);
  int want;
  int p = mesh__lb_hosts_choose_class(&lb->hosts, h, &want);
  if (p < 0) return -1;
  const ring *rg = &lb->rings[p];
  if (rg->n == 0) return -1;
  /* shift is 64 for a one-bucket ring: shifting by 64 is undefined. */
  uint64_t b = rg->shift < 64 ? h >> rg->shift : 0;
  uint32_t lo = rg->idx[b];
  uint32_t i = lo + lower_bound(rg->hash + lo, rg->idx[b + 1] - lo, h);
  if (i == rg->n) i = 0;
  if (want < 0) return (int)rg->id[i];
  /* Clockwise past the hosts this request may not use. */
  for (uint32_t k = 0; k < rg->n; k++) {
    uint32_t id = rg->id[i];
    if (lb->hosts.health[id] == want) return (int)id;
    if (++i == rg->n) i = 0;
  }
  return -1;
}

static void ring_health_changed(mesh__lb *base, uint32_t endpoint) {
  ring_lb *lb = (ring_lb *)base;
  mesh__lb_hosts_update(&lb->hosts, base, endpoint);
}

static void ring_destroy(mesh__lb *base) {
  ring_lb *lb = (ring_lb *)base;
  mesh__lb_base_free(base, lb->arena);
}

static int ring_create(const mesh__cluster *c, const mesh__load_assignment *la, uint64_t seed, mesh__lb **out) {
  mesh__arena *a;
  int err;
  ring_lb *lb = mesh__lb_base_new(&mesh__lb_ring_hash, sizeof *lb, c, la, &a, &err);
  if (!lb) return err;
  lb->arena = a;
  lb->rng = seed;
  lb->rings = mesh__arena_calloc(a, la->n_priorities ? la->n_priorities : 1, sizeof *lb->rings);
  if (!lb->rings || mesh__lb_hosts_init(&lb->hosts, a, &lb->base)) goto oom;
  for (uint32_t p = 0; p < la->n_priorities; p++)
    if (build_ring(lb, a, p)) goto oom;
  mesh__lb_base_finish(&lb->base);
  *out = &lb->base;
  return 0;
oom:
  mesh__arena_free(a);
  return MESH_ENOMEM;
}

const mesh__lb_vtable mesh__lb_ring_hash = {
    .name = "ring_hash",
    .create = ring_create,
    .pick = ring_pick,
    .release = NULL,
    .health_changed = ring_health_changed,
    .destroy = ring_destroy,
};
