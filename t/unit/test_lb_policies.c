/* lb/{least_request,random,ring_hash,maglev,peak_ewma}.c and
 * route/hash.c: pick distributions (chi-square at fixed seeds), load
 * awareness, consistent-hash stability and remapping, priorities and
 * ejection, request hashing from hash_policy. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "lb/lb.h"
#include "mesh/mesh.h"
#include "model/cluster.h"
#include "route/hash.h"
#include "route/regex.h"

/* ------------------------------------------------------------ helpers */

/* n endpoints in one locality of priority prio (appended to a layout of
 * up to 4 localities): address 10.<loc>.<k/256>.<k%256>:8080. */
typedef struct tloc {
  uint32_t priority;
  uint32_t n;
  const uint32_t *weights; /* NULL: 1 */
  const char *health;      /* NULL: all healthy; else one of h, u, d per endpoint */
  uint32_t lweight;        /* locality load_balancing_weight, 0: unset */
} tloc;

static mesh__load_assignment *mk(const tloc *locs, size_t nl) {
  size_t ne = 0;
  for (size_t i = 0; i < nl; i++) ne += locs[i].n;
  mesh__load_assignment *la = mesh__load_assignment_new(nl, ne);
  cr_assert(la);
  size_t j = 0;
  char why[128], addr[32];
  for (size_t i = 0; i < nl; i++) {
    la->localities[i].priority = locs[i].priority;
    la->localities[i].weight = locs[i].lweight;
    for (uint32_t k = 0; k < locs[i].n; k++, j++) {
      mesh__endpoint *ep = &la->endpoints[j];
      snprintf(addr, sizeof addr, "10.%zu.%u.%u", i, k / 256, k % 256);
      cr_assert_eq(mesh__endpoint_set_address(la, ep, addr, 8080, true, why, sizeof why), 0, "%s", why);
      ep->locality = (uint32_t)i;
      char h = locs[i].health ? locs[i].health[k] : 'h';
      ep->health_status = h == 'u' ? MESH__HS_UNHEALTHY : h == 'd' ? MESH__HS_DEGRADED : MESH__HS_HEALTHY;
      ep->health = mesh__health_from_status(ep->health_status);
      ep->weight = locs[i].weights ? locs[i].weights[k] : 1;
    }
  }
  char err[256];
  cr_assert_eq(mesh__load_assignment_seal(la, err, sizeof err), 0, "%s", err);
  return la;
}

static mesh__lb *mklb(const mesh__lb_vtable *vt, const mesh__cluster *c, const mesh__load_assignment *la,
                      uint64_t seed) {
  mesh__lb *lb = NULL;
  cr_assert_eq(vt->create(c, la, seed, &lb), 0, "%s", vt->name);
  cr_assert(lb);
  cr_assert_eq(lb->vt, vt);
  return lb;
}

/* n picks with fresh random numbers (and a random hash for the hash
 * policies), each released at once; counts[e]++. Returns the -1s. */
static uint32_t run(mesh__lb *lb, uint64_t seed, int n, uint32_t *counts, uint32_t ne) {
  uint64_t x = seed;
  uint32_t fails = 0;
  memset(counts, 0, ne * sizeof *counts);
  for (int i = 0; i < n; i++) {
    mesh__lb_ctx ctx = {.random = mesh__lb_splitmix64(&x)};
    ctx.hash = mesh__lb_splitmix64(&x);
    ctx.has_hash = 1;
    int e = mesh__lb_pick(lb, &ctx);
    cr_assert(e >= -1 && e < (int)ne);
    if (e < 0) {
      fails++;
      continue;
    }
    counts[e]++;
    mesh__lb_release(lb, e, MESH__LB_OK);
  }
  return fails;
}

/* Pearson's chi-square of counts against expected shares w[i] / sum(w). */
static double chi2(const uint32_t *counts, const uint32_t *w, uint32_t n) {
  double total = 0, wsum = 0, x = 0;
  for (uint32_t i = 0; i < n; i++) total += counts[i], wsum += w ? w[i] : 1;
  for (uint32_t i = 0; i < n; i++) {
    double e = total * (w ? w[i] : 1) / wsum;
    x += (counts[i] - e) * (counts[i] - e) / e;
  }
  return x;
}

/* Chi-square critical values at p = 1e-6 (a correct implementation fails
 * one run in a million; the seeds are fixed anyway), by degrees of
 * freedom. */
static double chi2_crit(uint32_t df) {
  switch (df) {
  case 1: return 23.93;
  case 3: return 30.66;
  case 4: return 33.38;
  case 9: return 42.86;
  default: cr_assert_fail("no critical value for df=%u", df); return 0;
  }
}

static const mesh__lb_vtable *const ALL[] = {&mesh__lb_round_robin, &mesh__lb_least_request, &mesh__lb_random,
                                             &mesh__lb_ring_hash,   &mesh__lb_maglev,         &mesh__lb_peak_ewma};
#define NALL (sizeof ALL / sizeof ALL[0])

/* ------------------------------------------------------------ vtables */

Test(lb_policies, vtables) {
  cr_expect_eq(mesh__lb_vtable_for(MESH__LB_LEAST_REQUEST), &mesh__lb_least_request);
  cr_expect_eq(mesh__lb_vtable_for(MESH__LB_RANDOM), &mesh__lb_random);
  cr_expect_eq(mesh__lb_vtable_for(MESH__LB_RING_HASH), &mesh__lb_ring_hash);
  cr_expect_eq(mesh__lb_vtable_for(MESH__LB_MAGLEV), &mesh__lb_maglev);
  cr_expect_eq(mesh__lb_vtable_for(MESH__LB_PEAK_EWMA), &mesh__lb_peak_ewma);
  cr_expect_str_eq(mesh__lb_policy_name(MESH__LB_PEAK_EWMA), "PEAK_EWMA");
  mesh__cluster *c = mesh__cluster_new();
  mesh__load_assignment *unsealed = mesh__load_assignment_new(0, 0);
  tloc l = {0, 0, NULL, NULL, 0};
  mesh__load_assignment *empty = mk(&l, 1);
  for (size_t i = 0; i < NALL; i++) {
    mesh__lb *lb = NULL;
    cr_expect_eq(ALL[i]->create(c, unsealed, 0, &lb), MESH_ECONFIG, "%s", ALL[i]->name);
    cr_expect_null(lb);
    cr_expect_eq(ALL[i]->create(NULL, empty, 0, &lb), MESH_ECONFIG, "%s", ALL[i]->name);
    lb = mklb(ALL[i], c, empty, 1);
    cr_expect_eq(mesh__lb_pick(lb, NULL), -1, "%s: no endpoint", ALL[i]->name);
    mesh__lb_release(lb, 0, MESH__LB_OK); /* out of range: ignored */
    mesh__lb_destroy(lb);
  }
  mesh__load_assignment_unref(unsealed);
  mesh__load_assignment_unref(empty);
  mesh__cluster_unref(c);
}

/* ------------------------------------------------------------ distributions */

Test(lb_policies, uniform_distributions) {
  mesh__cluster *c = mesh__cluster_new();
  tloc l = {0, 10, NULL, NULL, 0};
  mesh__load_assignment *la = mk(&l, 1);
  uint32_t counts[10];
  for (size_t i = 0; i < NALL; i++) {
    mesh__lb *lb = mklb(ALL[i], c, la, 42);
    cr_expect_eq(run(lb, 7, 100000, counts, 10), 0);
    double x = chi2(counts, NULL, 10);
    /* Ring hash is consistent, not uniform: each host owns the arcs of
     * its ~100 points, so shares spread by some 10%; checked by bands. */
    if (ALL[i] == &mesh__lb_ring_hash) {
      for (int e = 0; e < 10; e++)
        cr_expect(counts[e] > 7000 && counts[e] < 13000, "ring_hash: endpoint %d got %u of 100000", e, counts[e]);
    } else {
      cr_expect(x < chi2_crit(9), "%s: chi2 %.1f", ALL[i]->name, x);
    }
    mesh__lb_destroy(lb);
  }
  mesh__load_assignment_unref(la);
  mesh__cluster_unref(c);
}

Test(lb_policies, weighted_distributions) {
  mesh__cluster *c = mesh__cluster_new();
  static const uint32_t w[] = {1, 2, 3, 4, 10};
  tloc l = {0, 5, w, NULL, 0};
  mesh__load_assignment *la = mk(&l, 1);
  uint32_t counts[5];
  const mesh__lb_vtable *weighted[] = {&mesh__lb_least_request, &mesh__lb_random, &mesh__lb_maglev,
                                       &mesh__lb_ring_hash};
  for (size_t i = 0; i < 4; i++) {
    mesh__lb *lb = mklb(weighted[i], c, la, 3);
    cr_expect_eq(run(lb, 11, 200000, counts, 5), 0);
    if (weighted[i] == &mesh__lb_random) {
      double x = chi2(counts, w, 5);
      cr_expect(x < chi2_crit(4), "random: chi2 %.1f", x);
    } else {
      /* EDF (least request, all idle) is exact; the tables are close. */
      double tol = weighted[i] == &mesh__lb_least_request ? 0.01 : weighted[i] == &mesh__lb_maglev ? 0.05 : 0.25;
      for (int e = 0; e < 5; e++) {
        double want = 200000.0 * w[e] / 20.0;
        cr_expect(counts[e] > want * (1 - tol) && counts[e] < want * (1 + tol), "%s: endpoint %d got %u, want ~%.0f",
                  weighted[i]->name, e, counts[e], want);
      }
    }
    mesh__lb_destroy(lb);
  }
  mesh__load_assignment_unref(la);
  mesh__cluster_unref(c);
}

/* ------------------------------------------------------------ least request */

Test(least_request, prefers_less_loaded) {
  mesh__cluster *c = mesh__cluster_new();
  tloc l = {0, 4, NULL, NULL, 0};
  mesh__load_assignment *la = mk(&l, 1);
  mesh__lb *lb = mklb(&mesh__lb_least_request, c, la, 5);
  /* Endpoint 0 keeps every call it gets; the others finish at once. */
  uint64_t x = 1;
  for (int i = 0; i < 2000; i++) {
    mesh__lb_ctx ctx = {.random = mesh__lb_splitmix64(&x)};
    int e = mesh__lb_pick(lb, &ctx);
    if (e != 0) mesh__lb_release(lb, e, MESH__LB_OK);
  }
  uint32_t counts[4];
  run(lb, 9, 10000, counts, 4);
  /* With two choices among four, a busy endpoint wins only when drawn
   * twice: 1/16 of the picks. */
  cr_expect(counts[0] < 10000 / 16 * 13 / 10, "busy endpoint got %u of 10000", counts[0]);
  mesh__lb_destroy(lb);

  /* With no release at all, two choices keep the loads level. */
  lb = mklb(&mesh__lb_least_request, c, la, 5);
  memset(counts, 0, sizeof counts);
  for (int i = 0; i < 4000; i++) {
    mesh__lb_ctx ctx = {.random = mesh__lb_splitmix64(&x)};
    counts[mesh__lb_pick(lb, &ctx)]++;
  }
  for (int e = 0; e < 4; e++) cr_expect(counts[e] >= 990 && counts[e] <= 1010, "endpoint %d: %u", e, counts[e]);
  mesh__lb_destroy(lb);
  mesh__load_assignment_unref(la);
  mesh__cluster_unref(c);
}

Test(least_request, weighted_active_request_bias) {
  mesh__cluster *c = mesh__cluster_new();
  static const uint32_t w[] = {2, 1};
  tloc l = {0, 2, w, NULL, 0};
  mesh__load_assignment *la = mk(&l, 1);
  /* Endpoint 0 (weight 2) holds 3 calls: effective weight 2/4 against 1. */
  mesh__lb *lb = mklb(&mesh__lb_least_request, c, la, 0);
  int held = 0;
  uint64_t x = 3;
  while (held < 3) {
    mesh__lb_ctx ctx = {.random = mesh__lb_splitmix64(&x)};
    int e = mesh__lb_pick(lb, &ctx);
    if (e == 0) held++;
    else mesh__lb_release(lb, e, MESH__LB_OK);
  }
  uint32_t counts[2];
  run(lb, 4, 30000, counts, 2);
  cr_expect(counts[1] > counts[0] * 18 / 10 && counts[1] < counts[0] * 22 / 10, "counts %u %u", counts[0], counts[1]);
  mesh__lb_destroy(lb);
  /* Bias 0: load is ignored, weights alone (2:1). */
  c->least_request_active_request_bias = 0.0;
  lb = mklb(&mesh__lb_least_request, c, la, 0);
  for (int i = 0; i < 10; i++) mesh__lb_pick(lb, NULL); /* held */
  run(lb, 4, 30000, counts, 2);
  cr_expect(counts[0] > counts[1] * 19 / 10 && counts[0] < counts[1] * 21 / 10, "counts %u %u", counts[0], counts[1]);
  mesh__lb_destroy(lb);
  mesh__load_assignment_unref(la);
  mesh__cluster_unref(c);
}

/* ------------------------------------------------------------ peak EWMA */

Test(peak_ewma, avoids_slow_endpoint) {
  mesh__cluster *c = mesh__cluster_new();
  tloc l = {0, 4, NULL, NULL, 0};
  mesh__load_assignment *la = mk(&l, 1);
  mesh__lb *lb = mklb(&mesh__lb_peak_ewma, c, la, 8);
  uint32_t counts[4] = {0};
  uint64_t x = 5;
  for (int i = 0; i < 20000; i++) {
    mesh__lb_ctx ctx = {.random = mesh__lb_splitmix64(&x)};
    int e = mesh__lb_pick(lb, &ctx);
    cr_assert(e >= 0 && e < 4);
    counts[e]++;
    /* Endpoint 2 answers in 200 ms, the others in 1 ms. */
    mesh__lb_release_timed(lb, e, MESH__LB_OK, e == 2 ? 200000000u : 1000000u);
  }
  /* Drawn in half of the pairs, it loses every comparison once known. */
  cr_expect(counts[2] < 200, "slow endpoint got %u of 20000", counts[2]);
  for (int e = 0; e < 4; e++)
    if (e != 2) cr_expect(counts[e] > 6000, "endpoint %d got %u", e, counts[e]);
  mesh__lb_destroy(lb);
  mesh__load_assignment_unref(la);
  mesh__cluster_unref(c);
}

Test(peak_ewma, pending_counts) {
  mesh__cluster *c = mesh__cluster_new();
  tloc l = {0, 2, NULL, NULL, 0};
  mesh__load_assignment *la = mk(&l, 1);
  mesh__lb *lb = mklb(&mesh__lb_peak_ewma, c, la, 8);
  /* Two endpoints, equal estimates, no release: the pending counts raise
   * the costs, so the two never drift more than one call apart. */
  int n[2] = {0, 0};
  for (int i = 0; i < 100; i++) {
    int e = mesh__lb_pick(lb, NULL);
    cr_assert(e == 0 || e == 1);
    n[e]++;
    cr_expect(abs(n[0] - n[1]) <= 1, "pick %d: %d %d", i, n[0], n[1]);
  }
  mesh__lb_destroy(lb);
  mesh__load_assignment_unref(la);
  mesh__cluster_unref(c);
}

/* ------------------------------------------------------------ consistent hashing */

/* The endpoint (as its address) every key 0..n-1 maps to. */
static void map_keys(mesh__lb *lb, int n, uint32_t *out) {
  for (int k = 0; k < n; k++) {
    mesh__lb_ctx ctx = {.hash = XXH64(&k, sizeof k, 99), .has_hash = 1, .random = (uint64_t)k * 7919};
    int e = mesh__lb_pick(lb, &ctx);
    cr_assert(e >= 0);
    out[k] = lb->la->endpoints[e].sa.in4.sin_addr.s_addr;
  }
}

static void consistent(const mesh__lb_vtable *vt, double *remap_out) {
  enum { N = 10000 };
  static uint32_t a[N], b[N], d[N];
  mesh__cluster *c = mesh__cluster_new();
  tloc l10 = {0, 10, NULL, NULL, 0}, l11 = {0, 11, NULL, NULL, 0};
  mesh__load_assignment *la10 = mk(&l10, 1), *la11 = mk(&l11, 1);
  /* Two instances (different seeds, as two processes would have). */
  mesh__lb *one = mklb(vt, c, la10, 1), *two = mklb(vt, c, la10, 0xdeadbeef);
  map_keys(one, N, a);
  map_keys(two, N, b);
  cr_expect_eq(memcmp(a, b, sizeof a), 0, "%s: two instances disagree", vt->name);
  /* A rebuild (new load assignment, same endpoints): the same mapping. */
  mesh__lb_destroy(two);
  mesh__load_assignment *again = mk(&l10, 1);
  two = mklb(vt, c, again, 77);
  map_keys(two, N, b);
  cr_expect_eq(memcmp(a, b, sizeof a), 0, "%s: rebuild disagrees", vt->name);
  /* An 11th endpoint: only keys moving to it should move. */
  mesh__lb *eleven = mklb(vt, c, la11, 1);
  map_keys(eleven, N, d);
  int moved = 0, moved_elsewhere = 0;
  uint32_t new_addr = eleven->la->endpoints[10].sa.in4.sin_addr.s_addr;
  for (int k = 0; k < N; k++)
    if (a[k] != d[k]) {
      moved++;
      if (d[k] != new_addr) moved_elsewhere++;
    }
  double pct = 100.0 * moved / N;
  cr_expect(pct <= 15.0, "%s: adding an 11th endpoint remapped %.2f%% of keys", vt->name, pct);
  cr_expect(moved > N / 20, "%s: the new endpoint got only %d keys", vt->name, moved);
  fprintf(stderr, "%s: 10 -> 11 endpoints remapped %.2f%% of %d keys (%d not to the new one)\n", vt->name, pct, N,
          moved_elsewhere);
  if (remap_out) *remap_out = pct;
  mesh__lb_destroy(one);
  mesh__lb_destroy(two);
  mesh__lb_destroy(eleven);
  mesh__load_assignment_unref(la10);
  mesh__load_assignment_unref(la11);
  mesh__load_assignment_unref(again);
  mesh__cluster_unref(c);
}

Test(ring_hash, consistent) { consistent(&mesh__lb_ring_hash, NULL); }
Test(maglev, consistent) { consistent(&mesh__lb_maglev, NULL); }

Test(ring_hash, known_ring) {
  /* One host: minimum_ring_size entries hashed from "10.0.0.0:8080_<i>",
   * so a hash just at one of them maps there, and the key format is
   * Envoy's. */
  mesh__cluster *c = mesh__cluster_new();
  c->ring_hash_min_size = c->ring_hash_max_size = 4;
  tloc l = {0, 2, NULL, NULL, 0};
  mesh__load_assignment *la = mk(&l, 1);
  mesh__lb *lb = mklb(&mesh__lb_ring_hash, c, la, 0);
  const char *k0 = "10.0.0.0:8080_1", *k1 = "10.0.0.1:8080_0";
  mesh__lb_ctx ctx = {.has_hash = 1};
  /* Priority 0 is the only one: h % 100 does not matter. */
  ctx.hash = XXH64(k0, strlen(k0), 0);
  cr_expect_eq(mesh__lb_pick(lb, &ctx), 0);
  ctx.hash = XXH64(k1, strlen(k1), 0);
  cr_expect_eq(mesh__lb_pick(lb, &ctx), 1);
  ctx.hash = XXH64(k1, strlen(k1), 0) - 1; /* just before: still its arc */
  cr_expect_eq(mesh__lb_pick(lb, &ctx), 1);
  mesh__lb_destroy(lb);
  /* MURMUR_HASH_2 places the same keys elsewhere, still consistently. */
  c->ring_hash_function = MESH__RING_HASH_MURMUR2;
  lb = mklb(&mesh__lb_ring_hash, c, la, 0);
  uint32_t counts[2];
  cr_expect_eq(run(lb, 1, 1000, counts, 2), 0);
  cr_expect(counts[0] > 0 && counts[1] > 0);
  mesh__lb_destroy(lb);
  mesh__load_assignment_unref(la);
  mesh__cluster_unref(c);
}

/* ------------------------------------------------------------ priorities, ejection */

Test(lb_policies, priority_failover_and_ejection) {
  mesh__cluster *c = mesh__cluster_new();
  /* P0: 4 hosts, 3 unhealthy (25% healthy x 1.4 = 35% of the load); P1:
   * 4 healthy hosts take the rest. */
  tloc l[] = {{0, 4, NULL, "huuu", 0}, {1, 4, NULL, NULL, 0}};
  mesh__load_assignment *la = mk(l, 2);
  uint32_t counts[8];
  for (size_t i = 0; i < NALL; i++) {
    mesh__lb *lb = mklb(ALL[i], c, la, 21);
    cr_expect_eq(run(lb, 5, 20000, counts, 8), 0, "%s", ALL[i]->name);
    for (int e = 1; e < 4; e++) cr_expect_eq(counts[e], 0, "%s: unhealthy endpoint %d used", ALL[i]->name, e);
    cr_expect(counts[0] > 20000 * 30 / 100 && counts[0] < 20000 * 40 / 100, "%s: P0 got %u", ALL[i]->name,
              counts[0]);
    /* Eject endpoint 0: P0 has nothing, P1 takes everything. */
    cr_assert_eq(mesh__lb_set_ejected(lb, 0, true), 0);
    cr_expect_eq(run(lb, 6, 5000, counts, 8), 0);
    cr_expect_eq(counts[0], 0, "%s: ejected endpoint used", ALL[i]->name);
    /* Eject one of P1: the other three share P1's load. */
    cr_assert_eq(mesh__lb_set_ejected(lb, 5, true), 0);
    cr_expect_eq(run(lb, 6, 5000, counts, 8), 0);
    cr_expect_eq(counts[5], 0, "%s: ejected endpoint used", ALL[i]->name);
    cr_expect_eq(counts[4] + counts[6] + counts[7], 5000);
    /* Back. */
    cr_assert_eq(mesh__lb_set_ejected(lb, 0, false), 0);
    cr_assert_eq(mesh__lb_set_ejected(lb, 5, false), 0);
    cr_expect_eq(run(lb, 5, 20000, counts, 8), 0);
    cr_expect(counts[0] > 20000 * 30 / 100 && counts[5] > 0, "%s", ALL[i]->name);
    mesh__lb_destroy(lb);
  }
  mesh__load_assignment_unref(la);
  mesh__cluster_unref(c);
}

Test(lb_policies, panic_and_degraded) {
  mesh__cluster *c = mesh__cluster_new();
  /* 1 healthy of 4 (25% < 50%): panic, all four used. */
  tloc l = {0, 4, NULL, "huuu", 0};
  mesh__load_assignment *la = mk(&l, 1);
  tloc ld = {0, 2, NULL, "dd", 0};
  mesh__load_assignment *deg = mk(&ld, 1);
  uint32_t counts[4];
  for (size_t i = 0; i < NALL; i++) {
    mesh__lb *lb = mklb(ALL[i], c, la, 2);
    cr_expect_eq(run(lb, 5, 8000, counts, 4), 0);
    for (int e = 0; e < 4; e++) cr_expect(counts[e] > 1000, "%s panic: endpoint %d got %u", ALL[i]->name, e, counts[e]);
    mesh__lb_destroy(lb);
    /* Only degraded hosts: they serve. */
    lb = mklb(ALL[i], c, deg, 2);
    cr_expect_eq(run(lb, 5, 2000, counts, 2), 0, "%s degraded", ALL[i]->name);
    cr_expect(counts[0] > 0 && counts[1] > 0, "%s degraded", ALL[i]->name);
    mesh__lb_destroy(lb);
  }
  /* fail_traffic_on_panic: no host. */
  c->fail_traffic_on_panic = true;
  for (size_t i = 0; i < NALL; i++) {
    mesh__lb *lb = mklb(ALL[i], c, la, 2);
    cr_expect_eq(mesh__lb_pick(lb, NULL), -1, "%s", ALL[i]->name);
    mesh__lb_destroy(lb);
  }
  mesh__load_assignment_unref(la);
  mesh__load_assignment_unref(deg);
  mesh__cluster_unref(c);
}

Test(ring_hash, ejection_moves_only_its_keys) {
  enum { N = 5000 };
  static uint32_t a[N], b[N];
  const mesh__lb_vtable *vts[] = {&mesh__lb_ring_hash, &mesh__lb_maglev};
  mesh__cluster *c = mesh__cluster_new();
  tloc l = {0, 10, NULL, NULL, 0};
  mesh__load_assignment *la = mk(&l, 1);
  for (int v = 0; v < 2; v++) {
    mesh__lb *lb = mklb(vts[v], c, la, 1);
    map_keys(lb, N, a);
    uint32_t gone = la->endpoints[3].sa.in4.sin_addr.s_addr;
    mesh__lb_set_ejected(lb, 3, true);
    map_keys(lb, N, b);
    for (int k = 0; k < N; k++) {
      cr_expect_neq(b[k], gone, "%s: key %d on the ejected endpoint", vts[v]->name, k);
      if (a[k] != gone) cr_expect_eq(a[k], b[k], "%s: key %d moved", vts[v]->name, k);
    }
    mesh__lb_set_ejected(lb, 3, false);
    map_keys(lb, N, b);
    cr_expect_eq(memcmp(a, b, sizeof a), 0, "%s: back after the ejection ends", vts[v]->name);
    mesh__lb_destroy(lb);
  }
  mesh__load_assignment_unref(la);
  mesh__cluster_unref(c);
}

/* ------------------------------------------------------------ request hashing */

static const char *HN[] = {"x-user", "cookie", "x-multi", "x-multi", "cookie"};
static const char *HV[] = {"alice", "a=1; session=\"s-123\"; b=2", "two", "one", "other=9"};

static mesh__route_input input(const char *path) {
  mesh__route_input in = {0};
  in.method = "GET";
  in.scheme = "http";
  in.authority = "svc.local";
  in.authority_len = strlen(in.authority);
  in.path = path;
  in.path_len = strlen(path);
  in.hnames = HN;
  in.hvalues = HV;
  in.nheaders = 5;
  return in;
}

static mesh__hash_policy hp(int kind, const char *name, bool terminal) {
  mesh__hash_policy p = {0};
  p.kind = (uint8_t)kind;
  p.terminal = terminal;
  p.name.p = name;
  p.name.len = strlen(name);
  p.rewrite_sub.p = p.cookie_path.p = "";
  return p;
}

static bool route_hash(const mesh__hash_policy *p, size_t n, const mesh__route_input *in, const char *ip,
                       uint64_t *out) {
  mesh__route_action ra = {0};
  ra.hash = p;
  ra.nhash = n;
  return mesh__route_hash(&ra, in, ip, out);
}

static uint64_t xx(const char *s) { return XXH64(s, strlen(s), 0); }
static uint64_t rotl1(uint64_t h) { return (h << 1) | (h >> 63); }

Test(route_hash, each_kind) {
  mesh__route_input in = input("/p?a=1&user=bob&e&user=carol#frag");
  uint64_t h = 0;
  mesh__hash_policy p = hp(MESH__HASH_HEADER, "x-user", false);
  cr_assert(route_hash(&p, 1, &in, NULL, &h));
  cr_expect_eq(h, xx("alice"));
  p = hp(MESH__HASH_HEADER, ":authority", false);
  cr_assert(route_hash(&p, 1, &in, NULL, &h));
  cr_expect_eq(h, xx("svc.local"));
  /* Several values: sorted, hashed as one string. */
  p = hp(MESH__HASH_HEADER, "x-multi", false);
  cr_assert(route_hash(&p, 1, &in, NULL, &h));
  cr_expect_eq(h, xx("onetwo"));
  p = hp(MESH__HASH_COOKIE, "session", false);
  cr_assert(route_hash(&p, 1, &in, NULL, &h));
  cr_expect_eq(h, xx("s-123"), "quotes removed");
  p = hp(MESH__HASH_COOKIE, "other", false); /* in a second Cookie header */
  cr_assert(route_hash(&p, 1, &in, NULL, &h));
  cr_expect_eq(h, xx("9"));
  p = hp(MESH__HASH_QUERY_PARAMETER, "user", false);
  cr_assert(route_hash(&p, 1, &in, NULL, &h));
  cr_expect_eq(h, xx("bob"), "the first occurrence");
  p = hp(MESH__HASH_QUERY_PARAMETER, "e", false);
  cr_assert(route_hash(&p, 1, &in, NULL, &h));
  cr_expect_eq(h, xx(""));
  p = hp(MESH__HASH_SOURCE_IP, "", false);
  cr_assert(route_hash(&p, 1, &in, "10.1.2.3", &h));
  cr_expect_eq(h, xx("10.1.2.3"));
}

Test(route_hash, missing_gives_no_hash) {
  mesh__route_input in = input("/p?a=1");
  uint64_t h = 12345;
  mesh__hash_policy p[] = {hp(MESH__HASH_HEADER, "x-none", false), hp(MESH__HASH_COOKIE, "nope", false),
                           hp(MESH__HASH_QUERY_PARAMETER, "user", false), hp(MESH__HASH_SOURCE_IP, "", false),
                           hp(MESH__HASH_FILTER_STATE, "k", false)};
  for (size_t i = 0; i < 5; i++) cr_expect_not(route_hash(&p[i], 1, &in, NULL, &h), "policy %zu", i);
  cr_expect_not(route_hash(p, 5, &in, NULL, &h));
  cr_expect_eq(h, 12345, "untouched");
  cr_expect_not(route_hash(NULL, 0, &in, NULL, &h));
  mesh__route_input none = input("/p");
  cr_expect_not(route_hash(&p[2], 1, &none, NULL, &h));
}

Test(route_hash, combine_and_terminal) {
  mesh__route_input in = input("/p?user=bob");
  uint64_t h = 0;
  /* Missing policies are skipped; present ones combine. */
  mesh__hash_policy p[] = {hp(MESH__HASH_HEADER, "x-none", true), hp(MESH__HASH_HEADER, "x-user", false),
                           hp(MESH__HASH_QUERY_PARAMETER, "user", true), hp(MESH__HASH_SOURCE_IP, "", false)};
  cr_assert(route_hash(p, 4, &in, "10.0.0.1", &h));
  cr_expect_eq(h, rotl1(xx("alice")) ^ xx("bob"), "terminal on the 3rd stops before source ip");
  p[2].terminal = false;
  cr_assert(route_hash(p, 4, &in, "10.0.0.1", &h));
  cr_expect_eq(h, rotl1(rotl1(xx("alice")) ^ xx("bob")) ^ xx("10.0.0.1"));
  /* Twice the same policy does not cancel out. */
  mesh__hash_policy twice[] = {hp(MESH__HASH_HEADER, "x-user", false), hp(MESH__HASH_HEADER, "x-user", false)};
  cr_assert(route_hash(twice, 2, &in, NULL, &h));
  cr_expect_eq(h, rotl1(xx("alice")) ^ xx("alice"));
  cr_expect_neq(h, 0);
  /* terminal with a hash from an earlier policy stops too. */
  mesh__hash_policy t[] = {hp(MESH__HASH_HEADER, "x-user", false), hp(MESH__HASH_HEADER, "x-none", true),
                           hp(MESH__HASH_SOURCE_IP, "", false)};
  cr_assert(route_hash(t, 3, &in, "10.0.0.1", &h));
  cr_expect_eq(h, xx("alice"));
}

Test(route_hash, header_regex_rewrite) {
  mesh__route_input in = input("/p");
  char err[128];
  mesh__regex *re = mesh__regex_compile("^a(l)i", 6, MESH__RE_SEARCH, 0, err, sizeof err);
  cr_assert(re, "%s", err);
  mesh__hash_policy p = hp(MESH__HASH_HEADER, "x-user", false);
  p.rewrite = re;
  p.rewrite_sub.p = "X\\1";
  p.rewrite_sub.len = 3;
  uint64_t h = 0;
  cr_assert(route_hash(&p, 1, &in, NULL, &h));
  cr_expect_eq(h, xx("Xlce"));
  mesh__regex_free(re);
}

Test(route_hash, ring_hash_end_to_end) {
  /* The same request maps to the same endpoint on two pickers. */
  mesh__cluster *c = mesh__cluster_new();
  tloc l = {0, 50, NULL, NULL, 0};
  mesh__load_assignment *la = mk(&l, 1);
  mesh__lb *a = mklb(&mesh__lb_ring_hash, c, la, 1), *b = mklb(&mesh__lb_ring_hash, c, la, 2);
  mesh__hash_policy p = hp(MESH__HASH_HEADER, "x-user", false);
  mesh__route_input in = input("/");
  mesh__lb_ctx ctx = {.random = 1};
  cr_assert(route_hash(&p, 1, &in, NULL, &ctx.hash));
  ctx.has_hash = 1;
  int ea = mesh__lb_pick(a, &ctx);
  ctx.random = 99; /* the random number does not matter with a hash */
  cr_expect_eq(mesh__lb_pick(b, &ctx), ea);
  mesh__lb_destroy(a);
  mesh__lb_destroy(b);
  mesh__load_assignment_unref(la);
  mesh__cluster_unref(c);
}

/* ------------------------------------------------------------ edges */

Test(lb_policies, small_and_odd_tables) {
  mesh__cluster *c = mesh__cluster_new();
  tloc l = {0, 3, NULL, NULL, 0};
  mesh__load_assignment *la = mk(&l, 1);
  uint32_t counts[3];
  /* Maglev tables smaller than useful, or not prime: still built, every
   * slot filled, no endless probing. */
  static const uint64_t sizes[] = {2, 3, 7, 10, 12};
  for (size_t i = 0; i < 5; i++) {
    c->maglev_table_size = sizes[i];
    mesh__lb *lb = mklb(&mesh__lb_maglev, c, la, 1);
    cr_expect_eq(run(lb, 1, 300, counts, 3), 0, "table_size %llu", (unsigned long long)sizes[i]);
    mesh__lb_destroy(lb);
  }
  c->maglev_table_size = 1;
  mesh__lb *lb = NULL;
  cr_expect_eq(mesh__lb_maglev.create(c, la, 0, &lb), MESH_ECONFIG);
  /* maximum_ring_size 1: a ring of one point (one host on it); picks
   * still never fail. */
  c->ring_hash_min_size = c->ring_hash_max_size = 1;
  lb = mklb(&mesh__lb_ring_hash, c, la, 1);
  cr_expect_eq(run(lb, 1, 300, counts, 3), 0);
  mesh__lb_destroy(lb);
  /* The largest hash wraps to the first point. */
  c->ring_hash_min_size = 1024;
  c->ring_hash_max_size = 8388608;
  lb = mklb(&mesh__lb_ring_hash, c, la, 1);
  mesh__lb_ctx ctx = {.hash = UINT64_MAX, .has_hash = 1};
  int top = mesh__lb_pick(lb, &ctx);
  ctx.hash = 0;
  /* UINT64_MAX % 100 = 15, 0 % 100 = 0: one priority, same ring. */
  cr_expect_eq(mesh__lb_pick(lb, &ctx), top, "0 and UINT64_MAX both go to the first point");
  mesh__lb_destroy(lb);
  mesh__load_assignment_unref(la);
  mesh__cluster_unref(c);
}

Test(lb_policies, extreme_weights) {
  mesh__cluster *c = mesh__cluster_new();
  c->maglev_table_size = 65537;
  static const uint32_t w[] = {1, 100000};
  tloc l = {0, 2, w, NULL, 0};
  mesh__load_assignment *la = mk(&l, 1);
  uint32_t counts[2];
  for (size_t i = 0; i < NALL; i++) {
    mesh__lb *lb = mklb(ALL[i], c, la, 1);
    cr_expect_eq(run(lb, 1, 10000, counts, 2), 0, "%s", ALL[i]->name);
    if (ALL[i] != &mesh__lb_peak_ewma) /* peak EWMA ignores weights */
      cr_expect(counts[1] > 9900, "%s: heavy endpoint got %u", ALL[i]->name, counts[1]);
    mesh__lb_destroy(lb);
  }
  mesh__load_assignment_unref(la);
  mesh__cluster_unref(c);
}

Test(route_hash, bounds) {
  /* More occurrences than MESH__ROUTE_HASH_VALUES: no hash. */
  const char *names[MESH__ROUTE_HASH_VALUES + 1], *values[MESH__ROUTE_HASH_VALUES + 1];
  for (int i = 0; i <= MESH__ROUTE_HASH_VALUES; i++) names[i] = "x-v", values[i] = "v";
  mesh__route_input in = input("/");
  in.hnames = names;
  in.hvalues = values;
  in.nheaders = MESH__ROUTE_HASH_VALUES + 1;
  mesh__hash_policy p = hp(MESH__HASH_HEADER, "x-v", false);
  uint64_t h;
  cr_expect_not(route_hash(&p, 1, &in, NULL, &h));
  in.nheaders = MESH__ROUTE_HASH_VALUES;
  cr_expect(route_hash(&p, 1, &in, NULL, &h));
  /* A rewrite that does not fit the buffer: no hash. */
  static char big[MESH__ROUTE_HASH_MAX + 10];
  memset(big, 'a', sizeof big - 1);
  const char *bn[] = {"x-big"}, *bv[] = {big};
  in.hnames = bn;
  in.hvalues = bv;
  in.nheaders = 1;
  char err[128];
  mesh__regex *re = mesh__regex_compile("b", 1, MESH__RE_SEARCH, 0, err, sizeof err);
  cr_assert(re, "%s", err);
  p = hp(MESH__HASH_HEADER, "x-big", false);
  cr_expect(route_hash(&p, 1, &in, NULL, &h), "no rewrite: hashed as is");
  cr_expect_eq(h, xx(big));
  p.rewrite = re;
  p.rewrite_sub.p = "c";
  p.rewrite_sub.len = 1;
  cr_expect_not(route_hash(&p, 1, &in, NULL, &h));
  mesh__regex_free(re);
  /* Cookie edge cases: empty value, name as a prefix of another. */
  const char *cn[] = {"cookie"}, *cv[] = {"sessionx=1;session=;  session2=\"\""};
  in.hnames = cn;
  in.hvalues = cv;
  p = hp(MESH__HASH_COOKIE, "session", false);
  cr_expect_not(route_hash(&p, 1, &in, NULL, &h), "empty cookie value: no hash");
  p = hp(MESH__HASH_COOKIE, "session2", false);
  cr_expect_not(route_hash(&p, 1, &in, NULL, &h), "\"\" is empty too");
}

/* ------------------------------------------------------------ localities */

Test(lb_policies, locality_weights) {
  mesh__cluster *c = mesh__cluster_new();
  c->locality_weighted = true;
  /* Localities of weight 1 and 3; a third, unweighted, gets nothing. */
  tloc l[] = {{0, 2, NULL, NULL, 1}, {0, 2, NULL, NULL, 3}, {0, 2, NULL, NULL, 0}};
  mesh__load_assignment *la = mk(l, 3);
  /* The same with one host of the heavy locality unhealthy: its effective
   * weight is 3 x min(1, 1.4 x 1/2) = 2.1 against 1. */
  tloc lu[] = {{0, 2, NULL, NULL, 1}, {0, 2, NULL, "hu", 3}, {0, 2, NULL, NULL, 0}};
  mesh__load_assignment *lau = mk(lu, 3);
  const mesh__lb_vtable *vts[] = {&mesh__lb_round_robin, &mesh__lb_least_request, &mesh__lb_random,
                                  &mesh__lb_peak_ewma};
  uint32_t counts[6];
  for (size_t i = 0; i < 4; i++) {
    mesh__lb *lb = mklb(vts[i], c, la, 4);
    cr_expect_eq(run(lb, 3, 40000, counts, 6), 0);
    uint32_t l0 = counts[0] + counts[1], l1 = counts[2] + counts[3];
    cr_expect(l0 > 40000 * 23 / 100 && l0 < 40000 * 27 / 100, "%s: light locality got %u", vts[i]->name, l0);
    cr_expect_eq(l0 + l1, 40000, "%s: unweighted locality used", vts[i]->name);
    mesh__lb_destroy(lb);
    lb = mklb(vts[i], c, lau, 4);
    cr_expect_eq(run(lb, 3, 40000, counts, 6), 0);
    l0 = counts[0] + counts[1];
    double want = 40000 / 3.1;
    cr_expect(l0 > want * 0.93 && l0 < want * 1.07, "%s: light locality got %u, want ~%.0f", vts[i]->name, l0, want);
    cr_expect_eq(counts[3], 0, "%s: unhealthy host used", vts[i]->name);
    /* Eject the heavy locality's last healthy host: all to the light one. */
    mesh__lb_set_ejected(lb, 2, true);
    cr_expect_eq(run(lb, 3, 4000, counts, 6), 0);
    cr_expect_eq(counts[0] + counts[1], 4000, "%s", vts[i]->name);
    mesh__lb_destroy(lb);
  }
  mesh__load_assignment_unref(la);
  mesh__load_assignment_unref(lau);
  mesh__cluster_unref(c);
}
