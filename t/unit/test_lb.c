/* model/cluster, lb/round_robin: the endpoint model, Envoy's priority and
 * locality arithmetic, weighted round robin; xds/cds: the translators
 * (when built with MESH_TEST_CDS and the generated protobuf-c sources). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "lb/lb.h"
#include "mesh/mesh.h"
#include "model/cluster.h"

/* ------------------------------------------------------------ helpers */

/* A locality for mk(): hosts is one letter per endpoint, h(ealthy),
 * u(nhealthy), d(egraded), or the raw Envoy status as a digit 0..5. */
typedef struct tloc {
  uint32_t priority;
  uint32_t weight; /* locality weight, 0: unset */
  const char *hosts;
  const uint32_t *weights; /* per endpoint, or NULL for 1 */
} tloc;

static int status_of(char c) {
  switch (c) {
  case 'h': return MESH__HS_HEALTHY;
  case 'u': return MESH__HS_UNHEALTHY;
  case 'd': return MESH__HS_DEGRADED;
  default: return c - '0';
  }
}

static mesh__load_assignment *mk(const tloc *locs, size_t n) {
  size_t ne = 0;
  for (size_t i = 0; i < n; i++) ne += strlen(locs[i].hosts);
  mesh__load_assignment *la = mesh__load_assignment_new(n, ne);
  cr_assert(la);
  size_t j = 0;
  char why[128], addr[32];
  for (size_t i = 0; i < n; i++) {
    la->localities[i].priority = locs[i].priority;
    la->localities[i].weight = locs[i].weight;
    for (size_t k = 0; locs[i].hosts[k]; k++, j++) {
      mesh__endpoint *ep = &la->endpoints[j];
      snprintf(addr, sizeof addr, "10.0.%zu.%zu", i, k);
      cr_assert_eq(mesh__endpoint_set_address(la, ep, addr, 8080, true, why, sizeof why), 0, "%s",
                   why);
      ep->locality = (uint32_t)i;
      ep->health_status = (uint8_t)status_of(locs[i].hosts[k]);
      ep->health = mesh__health_from_status(ep->health_status);
      ep->weight = locs[i].weights ? locs[i].weights[k] : 1;
    }
  }
  char err[256];
  cr_assert_eq(mesh__load_assignment_seal(la, err, sizeof err), 0, "%s", err);
  return la;
}

static mesh__lb *mklb(const mesh__cluster *c, const mesh__load_assignment *la, uint64_t seed) {
  mesh__lb *lb = NULL;
  cr_assert_eq(mesh__lb_round_robin.create(c, la, seed, &lb), 0);
  cr_assert(lb);
  return lb;
}

/* n picks with ctx->random = 0, 1, 2, ... (so every 100 picks walk the
 * priority table once), counting per endpoint; counts[n_endpoints] holds -1s. */
static void run(mesh__lb *lb, int picks, uint32_t *counts, size_t n_endpoints) {
  memset(counts, 0, (n_endpoints + 1) * sizeof *counts);
  for (int i = 0; i < picks; i++) {
    mesh__lb_ctx ctx = {.random = (uint64_t)i};
    int e = mesh__lb_pick(lb, &ctx);
    cr_assert(e >= -1 && e < (int)n_endpoints);
    counts[e < 0 ? n_endpoints : (size_t)e]++;
  }
}

/* ------------------------------------------------------------ model */

Test(model, seal_orders_by_priority_and_keeps_input_order) {
  tloc locs[] = {{2, 0, "hh", NULL}, {0, 0, "h", NULL}, {2, 0, "u", NULL}, {0, 0, "hhh", NULL}};
  mesh__load_assignment *la = mk(locs, 4);
  cr_expect_eq(la->n_priorities, 3, "priority 1 is an empty level");
  cr_expect_eq(la->priorities[0].count, 4);
  cr_expect_eq(la->priorities[0].n_localities, 2);
  cr_expect_eq(la->priorities[1].count, 0);
  cr_expect_eq(la->priorities[1].first, 4);
  cr_expect_eq(la->priorities[2].first, 4);
  cr_expect_eq(la->priorities[2].count, 3);
  /* P0: input locality 1 then 3; P2: input localities 0 then 2. */
  cr_expect_str_eq(la->endpoints[0].address, "10.0.1.0");
  cr_expect_str_eq(la->endpoints[1].address, "10.0.3.0");
  cr_expect_str_eq(la->endpoints[3].address, "10.0.3.2");
  cr_expect_str_eq(la->endpoints[4].address, "10.0.0.0");
  cr_expect_str_eq(la->endpoints[6].address, "10.0.2.0");
  cr_expect_eq(la->endpoints[6].health, MESH__UNHEALTHY);
  cr_expect_eq(la->endpoints[6].priority, 2);
  for (uint32_t j = 0; j < la->n_endpoints; j++) {
    const mesh__locality *l = &la->localities[la->endpoints[j].locality];
    cr_expect(j >= l->first && j < l->first + l->count);
  }
  cr_expect_eq(la->priorities[0].total_weight, 4);
  mesh__load_assignment_unref(la);
}

Test(model, seal_rejects_bad_priorities_and_weight_sums) {
  char err[256];
  mesh__load_assignment *la = mesh__load_assignment_new(1, 0);
  la->localities[0].priority = 129;
  cr_expect_eq(mesh__load_assignment_seal(la, err, sizeof err), -1);
  cr_expect(strstr(err, "priority"), "%s", err);
  mesh__load_assignment_unref(la);

  la = mesh__load_assignment_new(1, 2);
  la->endpoints[0].weight = 0xffffffffu;
  la->endpoints[1].weight = 1;
  cr_expect_eq(mesh__load_assignment_seal(la, err, sizeof err), -1);
  cr_expect(strstr(err, "4294967295"), "%s", err);
  mesh__load_assignment_unref(la);

  la = mesh__load_assignment_new(2, 0);
  la->localities[0].weight = 0xffffffffu;
  la->localities[1].weight = 1;
  cr_expect_eq(mesh__load_assignment_seal(la, err, sizeof err), -1);
  cr_expect(strstr(err, "locality weights"), "%s", err);
  mesh__load_assignment_unref(la);

  la = mesh__load_assignment_new(1, 1);
  la->endpoints[0].weight = 0;
  cr_expect_eq(mesh__load_assignment_seal(la, err, sizeof err), -1);
  mesh__load_assignment_unref(la);
}

Test(model, addresses) {
  mesh__load_assignment *la = mesh__load_assignment_new(1, 1);
  mesh__endpoint *ep = &la->endpoints[0];
  char why[200];
  cr_expect_eq(mesh__endpoint_set_address(la, ep, "192.0.2.1", 443, true, why, sizeof why), 0);
  cr_expect(ep->is_ip);
  cr_expect_eq(ep->sa.in4.sin_family, AF_INET);
  cr_expect_eq(ntohs(ep->sa.in4.sin_port), 443);
  cr_expect_eq(ep->salen, sizeof(struct sockaddr_in));
  cr_expect_eq(mesh__endpoint_set_address(la, ep, "2001:db8::1", 65535, true, why, sizeof why), 0);
  cr_expect_eq(ep->sa.in6.sin6_family, AF_INET6);
  cr_expect_eq(ep->port, 65535);
  cr_expect_eq(mesh__endpoint_set_address(la, ep, "10.0.0.1", 0, true, why, sizeof why), -1);
  cr_expect_str_eq(why, "0 is not a valid port");
  cr_expect_eq(mesh__endpoint_set_address(la, ep, "10.0.0.1", 65536, true, why, sizeof why), -1);
  cr_expect_eq(mesh__endpoint_set_address(la, ep, "backend.svc", 80, true, why, sizeof why), -1);
  cr_expect(strstr(why, "not an IP address"), "%s", why);
  cr_expect_eq(mesh__endpoint_set_address(la, ep, "backend.svc", 80, false, why, sizeof why), 0);
  cr_expect_not(ep->is_ip);
  cr_expect_str_eq(ep->address, "backend.svc");
  cr_expect_eq(mesh__endpoint_set_address(la, ep, "bad name", 80, false, why, sizeof why), -1);
  cr_expect_eq(mesh__endpoint_set_address(la, ep, "", 80, false, why, sizeof why), -1);
  mesh__load_assignment_unref(la);
}

Test(model, health_folding_and_defaults) {
  cr_expect_eq(mesh__health_from_status(MESH__HS_UNKNOWN), MESH__HEALTHY);
  cr_expect_eq(mesh__health_from_status(MESH__HS_HEALTHY), MESH__HEALTHY);
  cr_expect_eq(mesh__health_from_status(MESH__HS_UNHEALTHY), MESH__UNHEALTHY);
  cr_expect_eq(mesh__health_from_status(MESH__HS_DRAINING), MESH__UNHEALTHY);
  cr_expect_eq(mesh__health_from_status(MESH__HS_TIMEOUT), MESH__UNHEALTHY);
  cr_expect_eq(mesh__health_from_status(MESH__HS_DEGRADED), MESH__DEGRADED);
  mesh__cluster *c = mesh__cluster_new();
  cr_expect_eq(c->connect_timeout_ms, 5000);
  cr_expect_eq(c->dns_refresh_rate_ms, 5000);
  cr_expect_eq(c->healthy_panic_threshold, 50);
  cr_expect_eq(c->lb_policy, MESH__LB_ROUND_ROBIN);
  cr_expect_eq(c->cb[MESH__ROUTING_DEFAULT].max_connections, 1024);
  cr_expect_eq(c->cb[MESH__ROUTING_DEFAULT].max_retries, 3);
  cr_expect_eq(c->outlier.consecutive_5xx, 5);
  cr_expect_eq(c->outlier.base_ejection_time_ms, 30000);
  cr_expect_eq(c->maglev_table_size, 65537);
  cr_expect_str_eq(mesh__lb_policy_name(MESH__LB_MAGLEV), "MAGLEV");
  mesh__cluster_unref(mesh__cluster_ref(c));
  mesh__cluster_unref(c);
}

/* ------------------------------------------------------------ priority load */

static void load_of(const mesh__prio_in *in, uint32_t n, uint32_t op, uint32_t thr,
                    mesh__prio_load *out) {
  mesh__lb_priority_load(in, n, op, thr, out);
  uint32_t sum = 0;
  for (uint32_t i = 0; i < n; i++) sum += out->healthy[i] + out->degraded[i];
  cr_assert_eq(sum, 100, "loads add up to 100");
}

Test(priority_load, envoy_failover_table) {
  /* Envoy docs, priority levels: P0 healthy % -> P0 / P1 load with P1 100%. */
  static const struct { uint32_t healthy, p0, p1; } rows[] = {
      {100, 100, 0}, {72, 100, 0}, {71, 99, 1}, {50, 70, 30}, {25, 35, 65}, {0, 0, 100}};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    mesh__prio_in in[2] = {{.total = 100, .healthy = rows[i].healthy, .hosts = 100,
                            .healthy_hosts = rows[i].healthy},
                           {.total = 100, .healthy = 100, .hosts = 100, .healthy_hosts = 100}};
    mesh__prio_load out;
    load_of(in, 2, 140, 50, &out);
    cr_expect_eq(out.healthy[0], rows[i].p0, "P0 %u%% healthy", rows[i].healthy);
    cr_expect_eq(out.healthy[1], rows[i].p1, "P0 %u%% healthy", rows[i].healthy);
    cr_expect_eq(out.panic[0], 0, "total availability 100%%: no panic");
  }
}

Test(priority_load, degraded_and_rounding_as_envoy_comment) {
  /* load_balancer_impl.cc: health 10/20/10 and degraded 20/10/0 give
   * 16/28/14 healthy and 28/14/0 degraded. */
  mesh__prio_in in[3] = {{.total = 10, .healthy = 1, .degraded = 2, .hosts = 10},
                         {.total = 10, .healthy = 2, .degraded = 1, .hosts = 10},
                         {.total = 10, .healthy = 1, .degraded = 0, .hosts = 10}};
  mesh__prio_load out;
  load_of(in, 3, 100, 0, &out);
  cr_expect_eq(out.healthy[0], 16);
  cr_expect_eq(out.healthy[1], 28);
  cr_expect_eq(out.healthy[2], 14);
  cr_expect_eq(out.degraded[0], 28);
  cr_expect_eq(out.degraded[1], 14);
  cr_expect_eq(out.degraded[2], 0);
  /* Table: slots 0..15 -> P0, 16..43 -> P1, 44..57 -> P2, then degraded. */
  cr_expect_eq(out.choice_prio[15], 0);
  cr_expect_eq(out.choice_prio[16], 1);
  cr_expect_eq(out.choice_prio[57], 2);
  cr_expect_eq(out.choice_degraded[57], 0);
  cr_expect_eq(out.choice_prio[58], 0);
  cr_expect_eq(out.choice_degraded[58], 1);
  cr_expect_eq(out.choice_prio[99], 1);
  cr_expect_eq(out.choice_degraded[99], 1);
}

Test(priority_load, total_panic_spreads_by_host_count) {
  /* 10% and 10% healthy: availability 14 + 14 = 28 < 50 -> total panic:
   * load by host count (3 vs 1 hosts -> 75/25), both priorities in panic. */
  mesh__prio_in in[2] = {{.total = 30, .healthy = 3, .hosts = 30, .healthy_hosts = 3},
                         {.total = 10, .healthy = 1, .hosts = 10, .healthy_hosts = 1}};
  mesh__prio_load out;
  load_of(in, 2, 140, 50, &out);
  cr_expect_eq(out.healthy[0], 75);
  cr_expect_eq(out.healthy[1], 25);
  cr_expect(out.panic[0] && out.panic[1]);
  /* Panic disabled: availability-proportional, no panic. */
  load_of(in, 2, 140, 0, &out);
  cr_expect_eq(out.healthy[0], 50);
  cr_expect_eq(out.healthy[1], 50);
  cr_expect(!out.panic[0] && !out.panic[1]);
}

Test(priority_load, nothing_available_panic_off_goes_to_p0) {
  mesh__prio_in in[2] = {{.total = 3, .hosts = 3}, {.total = 3, .hosts = 3}};
  mesh__prio_load out;
  load_of(in, 2, 140, 0, &out);
  cr_expect_eq(out.healthy[0], 100);
}

/* ------------------------------------------------------------ round robin */

Test(round_robin, equal_weights_rotate_exactly) {
  tloc locs[] = {{0, 0, "hhhhh", NULL}};
  mesh__load_assignment *la = mk(locs, 1);
  mesh__cluster *c = mesh__cluster_new();
  mesh__lb *lb = mklb(c, la, 0);
  for (int i = 0; i < 23; i++) cr_expect_eq(mesh__lb_pick(lb, NULL), i % 5);
  mesh__lb_destroy(lb);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
}

Test(round_robin, weights_1_2_7_exact_per_round) {
  static const uint32_t w[] = {1, 2, 7};
  tloc locs[] = {{0, 0, "hhh", w}};
  mesh__load_assignment *la = mk(locs, 1);
  mesh__cluster *c = mesh__cluster_new();
  mesh__lb *lb = mklb(c, la, 0);
  for (int round = 0; round < 10; round++) {
    uint32_t n[3] = {0};
    for (int i = 0; i < 10; i++) {
      int e = mesh__lb_pick(lb, NULL);
      cr_assert(e >= 0 && e < 3);
      n[e]++;
    }
    cr_expect_eq(n[0], 1, "round %d", round);
    cr_expect_eq(n[1], 2, "round %d", round);
    cr_expect_eq(n[2], 7, "round %d", round);
  }
  mesh__lb_destroy(lb);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
}

Test(round_robin, edf_order_matches_envoy) {
  /* Weights 1:2 -> deadlines B 1/2, then A 1 and B 1 tie (A was in first). */
  static const uint32_t w[] = {1, 2};
  tloc locs[] = {{0, 0, "hh", w}};
  mesh__load_assignment *la = mk(locs, 1);
  mesh__cluster *c = mesh__cluster_new();
  mesh__lb *lb = mklb(c, la, 0);
  static const int want[] = {1, 0, 1, 1, 0, 1, 1, 0, 1};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    cr_expect_eq(mesh__lb_pick(lb, NULL), want[i], "pick %zu", i);
  mesh__lb_destroy(lb);
  /* 1:1:8: C is due at 1/8 .. 7/8, then A, B and C tie at 1 and go in
   * insertion order; the pattern repeats every 10 picks. (EDF, like
   * Envoy's, is not nginx's "smooth" WRR: C runs 7-8 picks in a row.) */
  static const uint32_t w2[] = {1, 1, 8};
  tloc locs2[] = {{0, 0, "hhh", w2}};
  mesh__load_assignment *la2 = mk(locs2, 1);
  lb = mklb(c, la2, 0);
  static const int want2[] = {2, 2, 2, 2, 2, 2, 2, 0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 0, 1, 2};
  for (size_t i = 0; i < sizeof want2 / sizeof want2[0]; i++)
    cr_expect_eq(mesh__lb_pick(lb, NULL), want2[i], "pick %zu", i);
  mesh__lb_destroy(lb);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
  mesh__load_assignment_unref(la2);
}

Test(round_robin, large_weights_stay_exact) {
  static const uint32_t w[] = {1000000000u, 3000000000u, 1};
  tloc locs[] = {{0, 0, "hhh", w}};
  mesh__load_assignment *la = mk(locs, 1);
  mesh__cluster *c = mesh__cluster_new();
  mesh__lb *lb = mklb(c, la, 0);
  uint32_t n[3] = {0};
  for (int i = 0; i < 4000; i++) n[mesh__lb_pick(lb, NULL)]++;
  cr_expect_eq(n[0], 1000);
  cr_expect_eq(n[1], 3000);
  cr_expect_eq(n[2], 0);
  mesh__lb_destroy(lb);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
}

Test(round_robin, seed_offsets_the_start_not_the_proportions) {
  static const uint32_t w[] = {1, 2, 7};
  tloc locs[] = {{0, 0, "hhh", w}, {0, 0, "hhhh", NULL}};
  mesh__load_assignment *la = mk(locs, 1);
  mesh__load_assignment *lb4 = mk(locs + 1, 1);
  mesh__cluster *c = mesh__cluster_new();
  bool differ = false;
  int first0 = -1;
  for (uint64_t seed = 1; seed < 20; seed++) {
    mesh__lb *lb = mklb(c, la, seed);
    uint32_t n[3] = {0};
    for (int i = 0; i < 100; i++) n[mesh__lb_pick(lb, NULL)]++;
    cr_expect_eq(n[0], 10);
    cr_expect_eq(n[1], 20);
    cr_expect_eq(n[2], 70);
    mesh__lb_destroy(lb);
    lb = mklb(c, lb4, seed);
    int f = mesh__lb_pick(lb, NULL);
    if (first0 < 0) first0 = f;
    else if (f != first0) differ = true;
    for (int i = 1; i < 8; i++) cr_expect_eq(mesh__lb_pick(lb, NULL), (f + i) % 4);
    mesh__lb_destroy(lb);
  }
  cr_expect(differ, "workers with different seeds start on different endpoints");
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
  mesh__load_assignment_unref(lb4);
}

Test(round_robin, priority_failover_with_overprovisioning) {
  /* P0: 3 of 5 healthy -> 140 x 3/5 = 84% to P0, 16% to P1. */
  tloc locs[] = {{0, 0, "huhuh", NULL}, {1, 0, "hhhhh", NULL}};
  mesh__load_assignment *la = mk(locs, 2);
  mesh__cluster *c = mesh__cluster_new();
  mesh__lb *lb = mklb(c, la, 0);
  uint32_t n[11];
  run(lb, 1000, n, 10);
  cr_expect_eq(n[0] + n[2] + n[4], 840);
  cr_expect_eq(n[1] + n[3], 0, "unhealthy hosts get nothing");
  cr_expect_eq(n[0], 280);
  cr_expect_eq(n[5] + n[6] + n[7] + n[8] + n[9], 160);
  cr_expect_eq(n[5], 32);
  cr_expect_eq(n[10], 0);
  mesh__lb_destroy(lb);

  /* Overprovisioning 1.0: 60/40. */
  la->overprovisioning_factor = 100;
  lb = mklb(c, la, 0);
  run(lb, 100, n, 10);
  cr_expect_eq(n[0] + n[2] + n[4], 60);
  mesh__lb_destroy(lb);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
}

Test(round_robin, empty_and_unhealthy_priorities_fail_over) {
  /* P0 has no endpoints (skipped level), P1 all unhealthy, P2 healthy. */
  tloc locs[] = {{1, 0, "uu", NULL}, {2, 0, "hh", NULL}};
  mesh__load_assignment *la = mk(locs, 2);
  mesh__cluster *c = mesh__cluster_new();
  mesh__lb *lb = mklb(c, la, 0);
  uint32_t n[5];
  run(lb, 200, n, 4);
  cr_expect_eq(n[2], 100);
  cr_expect_eq(n[3], 100);
  mesh__lb_destroy(lb);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
}

Test(round_robin, weighted_priority_health) {
  /* P0: healthy weight 1 of 4 -> 35%; by count it would be 70%. */
  static const uint32_t w[] = {1, 3};
  tloc locs[] = {{0, 0, "hu", w}, {1, 0, "h", NULL}};
  mesh__load_assignment *la = mk(locs, 2);
  la->weighted_priority_health = true;
  mesh__cluster *c = mesh__cluster_new();
  c->healthy_panic_threshold = 0;
  mesh__lb *lb = mklb(c, la, 0);
  uint32_t n[4];
  run(lb, 100, n, 3);
  cr_expect_eq(n[0], 35);
  cr_expect_eq(n[2], 65);
  mesh__lb_destroy(lb);
  la->weighted_priority_health = false;
  lb = mklb(c, la, 0);
  run(lb, 100, n, 3);
  cr_expect_eq(n[0], 70);
  mesh__lb_destroy(lb);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
}

Test(round_robin, panic_threshold) {
  /* 1 of 5 healthy: 20% < 50% -> panic: all five hosts, healthy or not. */
  tloc locs[] = {{0, 0, "uuhuu", NULL}};
  mesh__load_assignment *la = mk(locs, 1);
  mesh__cluster *c = mesh__cluster_new();
  mesh__lb *lb = mklb(c, la, 0);
  for (int i = 0; i < 10; i++) cr_expect_eq(mesh__lb_pick(lb, NULL), i % 5);
  mesh__lb_destroy(lb);
  /* Threshold 10%: not in panic, only the healthy host. */
  c->healthy_panic_threshold = 10;
  lb = mklb(c, la, 0);
  for (int i = 0; i < 10; i++) cr_expect_eq(mesh__lb_pick(lb, NULL), 2);
  mesh__lb_destroy(lb);
  /* fail_traffic_on_panic: no host at all while in panic. */
  c->healthy_panic_threshold = 50;
  c->fail_traffic_on_panic = true;
  lb = mklb(c, la, 0);
  cr_expect_eq(mesh__lb_pick(lb, NULL), -1);
  mesh__lb_destroy(lb);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
}

Test(round_robin, panic_in_one_priority_only) {
  /* P0 1/10 healthy (14%), P1 5/10 healthy (70%): total 84 < 100, so P0
   * (10% < 50%) is in panic and spreads over all of its hosts; P1 (50%) is
   * not. Loads: 14x100/84 = 16 (+1 rounding) and 70x100/84 = 83. */
  tloc locs[] = {{0, 0, "huuuuuuuuu", NULL}, {1, 0, "hhhhhuuuuu", NULL}};
  mesh__load_assignment *la = mk(locs, 2);
  mesh__cluster *c = mesh__cluster_new();
  mesh__lb *lb = mklb(c, la, 0);
  uint32_t n[21];
  run(lb, 1000, n, 20);
  uint32_t p0 = 0, p1h = 0, p1u = 0;
  for (int i = 0; i < 10; i++) p0 += n[i];
  for (int i = 10; i < 15; i++) p1h += n[i];
  for (int i = 15; i < 20; i++) p1u += n[i];
  cr_expect_eq(p0, 170);
  cr_expect_eq(n[3], 17, "P0 in panic uses its unhealthy hosts");
  cr_expect_eq(p1h, 830);
  cr_expect_eq(p1u, 0);
  mesh__lb_destroy(lb);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
}

Test(round_robin, all_unhealthy_panics_or_fails) {
  tloc locs[] = {{0, 0, "uu", NULL}, {1, 0, "u", NULL}};
  mesh__load_assignment *la = mk(locs, 2);
  mesh__cluster *c = mesh__cluster_new();
  mesh__lb *lb = mklb(c, la, 0);
  uint32_t n[4];
  run(lb, 300, n, 3);
  /* Total panic: load by host count 66(+1)/33, all hosts. */
  cr_expect_eq(n[0] + n[1], 201);
  cr_expect_eq(n[2], 99);
  cr_expect_eq(n[3], 0);
  mesh__lb_destroy(lb);
  c->healthy_panic_threshold = 0;
  lb = mklb(c, la, 0);
  run(lb, 100, n, 3);
  cr_expect_eq(n[3], 100, "panic disabled: no endpoint");
  mesh__lb_destroy(lb);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
}

Test(round_robin, no_endpoints) {
  mesh__load_assignment *la = mk(NULL, 0);
  mesh__cluster *c = mesh__cluster_new();
  mesh__lb *lb = mklb(c, la, 0);
  cr_expect_eq(mesh__lb_pick(lb, NULL), -1);
  mesh__lb_destroy(lb);
  tloc locs[] = {{0, 0, "", NULL}};
  mesh__load_assignment *la2 = mk(locs, 1);
  lb = mklb(c, la2, 0);
  cr_expect_eq(mesh__lb_pick(lb, NULL), -1);
  mesh__lb_destroy(lb);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
  mesh__load_assignment_unref(la2);
}

Test(round_robin, degraded_hosts_take_the_remainder) {
  /* 2 healthy + 3 degraded of 5: healthy 140x2/5 = 56%, degraded gets the
   * remaining 44%. With no degraded hosts at all, unhealthy ones get 0. */
  tloc locs[] = {{0, 0, "hhddd", NULL}};
  mesh__load_assignment *la = mk(locs, 1);
  mesh__cluster *c = mesh__cluster_new();
  mesh__lb *lb = mklb(c, la, 0);
  uint32_t n[6];
  run(lb, 1000, n, 5);
  cr_expect_eq(n[0] + n[1], 560);
  cr_expect_eq(n[2] + n[3] + n[4], 440);
  for (int i = 2; i < 5; i++) cr_expect(n[i] == 146 || n[i] == 147, "rotation among degraded");
  mesh__lb_destroy(lb);
  /* Degraded in P0 with a healthy P1: P1 healthy first (100% after P0's
   * 56), P0 degraded gets nothing. */
  tloc locs2[] = {{0, 0, "hhddd", NULL}, {1, 0, "hh", NULL}};
  mesh__load_assignment *la2 = mk(locs2, 2);
  lb = mklb(c, la2, 0);
  uint32_t m[8];
  run(lb, 100, m, 7);
  cr_expect_eq(m[0] + m[1], 56);
  cr_expect_eq(m[5] + m[6], 44);
  cr_expect_eq(m[2] + m[3] + m[4], 0);
  mesh__lb_destroy(lb);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
  mesh__load_assignment_unref(la2);
}

Test(round_robin, locality_weighting) {
  /* X weight 1, Y weight 2, all healthy: 1/3 and 2/3 exactly per round;
   * inside a locality, rotation. */
  tloc locs[] = {{0, 1, "hh", NULL}, {0, 2, "hh", NULL}};
  mesh__load_assignment *la = mk(locs, 2);
  mesh__cluster *c = mesh__cluster_new();
  c->locality_weighted = true;
  mesh__lb *lb = mklb(c, la, 0);
  uint32_t n[5];
  run(lb, 300, n, 4);
  cr_expect_eq(n[0], 50);
  cr_expect_eq(n[1], 50);
  cr_expect_eq(n[2], 100);
  cr_expect_eq(n[3], 100);
  mesh__lb_destroy(lb);
  /* Without locality_weighted_lb_config the weights are ignored. */
  c->locality_weighted = false;
  lb = mklb(c, la, 0);
  run(lb, 400, n, 4);
  for (int i = 0; i < 4; i++) cr_expect_eq(n[i], 100);
  mesh__lb_destroy(lb);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
}

Test(round_robin, locality_weight_follows_health) {
  /* Envoy docs table: X (weight 1) 50% healthy -> 1 x min(1, 1.4 x 0.5)
   * = 0.7 against Y's 2: X gets 7 of every 27 picks. */
  tloc locs[] = {{0, 1, "hhuu", NULL}, {0, 2, "hh", NULL}};
  mesh__load_assignment *la = mk(locs, 2);
  mesh__cluster *c = mesh__cluster_new();
  c->locality_weighted = true;
  mesh__lb *lb = mklb(c, la, 0);
  uint32_t n[7];
  run(lb, 270, n, 6);
  cr_expect_eq(n[0] + n[1], 70);
  cr_expect_eq(n[2] + n[3], 0);
  cr_expect_eq(n[4] + n[5], 200);
  mesh__lb_destroy(lb);
  /* A locality without a weight gets no load... */
  tloc locs2[] = {{0, 0, "hh", NULL}, {0, 3, "h", NULL}};
  mesh__load_assignment *la2 = mk(locs2, 2);
  lb = mklb(c, la2, 0);
  run(lb, 30, n, 3);
  cr_expect_eq(n[2], 30);
  mesh__lb_destroy(lb);
  /* ...unless no locality has weight: then the priority's hosts (Envoy
   * falls back to the host set). */
  tloc locs3[] = {{0, 0, "hh", NULL}, {0, 0, "h", NULL}};
  mesh__load_assignment *la3 = mk(locs3, 2);
  lb = mklb(c, la3, 0);
  run(lb, 30, n, 3);
  cr_expect_eq(n[0], 10);
  cr_expect_eq(n[1], 10);
  cr_expect_eq(n[2], 10);
  mesh__lb_destroy(lb);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
  mesh__load_assignment_unref(la2);
  mesh__load_assignment_unref(la3);
}

Test(round_robin, ejected_flags_are_honoured) {
  tloc locs[] = {{0, 0, "hhhhh", NULL}, {1, 0, "hhhhh", NULL}};
  mesh__load_assignment *la = mk(locs, 2);
  mesh__cluster *c = mesh__cluster_new();
  mesh__lb *lb = mklb(c, la, 0);
  uint32_t n[11];
  cr_expect_eq(mesh__lb_set_ejected(lb, 2, true), 0);
  cr_expect(mesh__lb_is_ejected(lb, 2));
  run(lb, 400, n, 10);
  cr_expect_eq(n[2], 0);
  cr_expect_eq(n[0] + n[1] + n[3] + n[4], 400, "4 of 5 left: 112%% -> still all load");
  /* Two ejected: 3 of 5 -> 84/16, as with EDS health. */
  mesh__lb_set_ejected(lb, 4, true);
  run(lb, 100, n, 10);
  cr_expect_eq(n[0] + n[1] + n[3], 84);
  cr_expect_eq(n[2] + n[4], 0);
  cr_expect_eq(n[5] + n[6] + n[7] + n[8] + n[9], 16);
  /* Back in. */
  mesh__lb_set_ejected(lb, 2, false);
  mesh__lb_set_ejected(lb, 4, false);
  run(lb, 500, n, 10);
  for (int i = 0; i < 5; i++) cr_expect_eq(n[i], 100);
  cr_expect_eq(mesh__lb_set_ejected(lb, 10, true), -1);
  mesh__lb_destroy(lb);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
}

Test(round_robin, ejection_into_panic_uses_all_hosts) {
  /* Envoy: in panic the priority's hosts are all used, ejected included. */
  tloc locs[] = {{0, 0, "hhhhh", NULL}};
  mesh__load_assignment *la = mk(locs, 1);
  mesh__cluster *c = mesh__cluster_new();
  mesh__lb *lb = mklb(c, la, 0);
  for (uint32_t j = 0; j < 4; j++) mesh__lb_set_ejected(lb, j, true);
  uint32_t n[6];
  run(lb, 500, n, 5);
  for (int i = 0; i < 5; i++) cr_expect_eq(n[i], 100);
  mesh__lb_destroy(lb);
  c->healthy_panic_threshold = 0;
  lb = mklb(c, la, 0);
  for (uint32_t j = 0; j < 4; j++) mesh__lb_set_ejected(lb, j, true);
  run(lb, 50, n, 5);
  cr_expect_eq(n[4], 50);
  mesh__lb_destroy(lb);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
}

Test(round_robin, ejection_with_weights_and_localities) {
  static const uint32_t w[] = {1, 2, 7};
  tloc locs[] = {{0, 1, "hhh", w}, {0, 1, "hh", NULL}};
  mesh__load_assignment *la = mk(locs, 2);
  mesh__cluster *c = mesh__cluster_new();
  c->locality_weighted = true;
  mesh__lb *lb = mklb(c, la, 0);
  mesh__lb_set_ejected(lb, 2, true); /* weight 7 host of X */
  uint32_t n[6];
  run(lb, 600, n, 5);
  cr_expect_eq(n[2], 0);
  /* X: 2 of 3 healthy -> min(1, 1.4 x 2/3) = 0.93; Y: 1. */
  uint32_t x = n[0] + n[1], y = n[3] + n[4];
  cr_expect_eq(x + y, 600);
  cr_expect(x > 280 && x < 300, "x=%u", x);
  cr_expect(n[1] + 2 >= 2 * n[0] && n[1] <= 2 * n[0] + 2, "1:2 inside X: %u %u", n[0], n[1]);
  mesh__lb_destroy(lb);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
}

Test(round_robin, picker_keeps_the_model_alive) {
  tloc locs[] = {{0, 0, "hh", NULL}};
  mesh__load_assignment *la = mk(locs, 1);
  mesh__cluster *c = mesh__cluster_new();
  mesh__lb *lb = mklb(c, la, 7);
  mesh__load_assignment_unref(la);
  mesh__cluster_unref(c);
  int e = mesh__lb_pick(lb, NULL);
  cr_expect(e == 0 || e == 1);
  cr_expect_str_eq(lb->la->endpoints[e].address, e ? "10.0.0.1" : "10.0.0.0");
  mesh__lb_destroy(lb);
}

Test(round_robin, vtable_lookup) {
  cr_expect_eq(mesh__lb_vtable_for(MESH__LB_ROUND_ROBIN), &mesh__lb_round_robin);
  cr_expect_null(mesh__lb_vtable_for(MESH__LB_MAGLEV));
  cr_expect_str_eq(mesh__lb_round_robin.name, "round_robin");
  mesh__load_assignment *la = mesh__load_assignment_new(0, 0);
  mesh__cluster *c = mesh__cluster_new();
  mesh__lb *lb = NULL;
  cr_expect_eq(mesh__lb_round_robin.create(c, la, 0, &lb), MESH_ECONFIG, "unsealed");
  cr_expect_null(lb);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
}
