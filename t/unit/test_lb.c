/* model/cluster, lb/round_robin: the endpoint model, Envoy's priority and
 * locality arithmetic, weighted round robin; xds/cds: the Cluster and
 * ClusterLoadAssignment translators. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envoy/config/core/v3/address.pb-c.h"
#include "envoy/extensions/load_balancing_policies/least_request/v3/least_request.pb-c.h"
#include "envoy/extensions/load_balancing_policies/maglev/v3/maglev.pb-c.h"
#include "envoy/extensions/load_balancing_policies/random/v3/random.pb-c.h"
#include "envoy/extensions/load_balancing_policies/ring_hash/v3/ring_hash.pb-c.h"
#include "envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.pb-c.h"
#include "envoy/extensions/load_balancing_policies/wrr_locality/v3/wrr_locality.pb-c.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb-c.h"
#include "lb/lb.h"
#include "mesh/mesh.h"
#include "model/cluster.h"
#include "model/notes.h"
#include "xds/cds.h"

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

Test(round_robin, rotation_survives_an_ejection) {
  tloc locs[] = {{0, 0, "hhhhh", NULL}};
  mesh__load_assignment *la = mk(locs, 1);
  mesh__cluster *c = mesh__cluster_new();
  mesh__lb *lb = mklb(c, la, 12345);
  int first = mesh__lb_pick(lb, NULL);
  int second = mesh__lb_pick(lb, NULL);
  cr_expect_eq(second, (first + 1) % 5);
  /* After an ejection the rotation goes on from the same position in the
   * (shorter) host list, as Envoy's rr index does: no restart at 0, no
   * re-applied start offset. */
  int pos = (second + 1) % 5, out = (second + 3) % 5;
  mesh__lb_set_ejected(lb, (uint32_t)out, true);
  int members[4], n = 0;
  for (int h = 0; h < 5; h++)
    if (h != out) members[n++] = h;
  cr_expect_eq(mesh__lb_pick(lb, NULL), members[pos % 4], "continues");
  for (int i = 0; i < 20; i++) cr_expect_neq(mesh__lb_pick(lb, NULL), out);
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
  cr_expect_eq(mesh__lb_vtable_for(MESH__LB_MAGLEV), &mesh__lb_maglev); /* test_lb_policies.c */
  cr_expect_str_eq(mesh__lb_round_robin.name, "round_robin");
  mesh__load_assignment *la = mesh__load_assignment_new(0, 0);
  mesh__cluster *c = mesh__cluster_new();
  mesh__lb *lb = NULL;
  cr_expect_eq(mesh__lb_round_robin.create(c, la, 0, &lb), MESH_ECONFIG, "unsealed");
  cr_expect_null(lb);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
}

/* ------------------------------------------------------------ translators */

/* Messages are built with the protobuf-c INIT macros; everything a test
 * allocates goes on one list, freed by pb_free_all(). */
static void *pb_mem[512];
static size_t pb_nmem;

static void *pb_alloc(size_t n) {
  cr_assert_lt(pb_nmem, sizeof pb_mem / sizeof pb_mem[0]);
  void *p = calloc(1, n);
  cr_assert(p);
  return pb_mem[pb_nmem++] = p;
}

static void pb_free_all(void) {
  while (pb_nmem) free(pb_mem[--pb_nmem]);
}

#define PB_NEW(T, INIT) ({ T *p_ = pb_alloc(sizeof(T)); *p_ = (T)INIT; p_; })

typedef Envoy__Config__Cluster__V3__Cluster Cluster;
typedef Envoy__Config__Endpoint__V3__ClusterLoadAssignment Cla;
typedef Envoy__Config__Endpoint__V3__LocalityLbEndpoints LocalityLb;
typedef Envoy__Config__Endpoint__V3__LbEndpoint LbEndpoint;

static Google__Protobuf__UInt32Value *u32(uint32_t v) {
  Google__Protobuf__UInt32Value *w = PB_NEW(Google__Protobuf__UInt32Value, GOOGLE__PROTOBUF__UINT32_VALUE__INIT);
  w->value = v;
  return w;
}

static Google__Protobuf__Duration *dur(int64_t s, int32_t nanos) {
  Google__Protobuf__Duration *d = PB_NEW(Google__Protobuf__Duration, GOOGLE__PROTOBUF__DURATION__INIT);
  d->seconds = s;
  d->nanos = nanos;
  return d;
}

static Envoy__Type__V3__Percent *pct(double v) {
  Envoy__Type__V3__Percent *p = PB_NEW(Envoy__Type__V3__Percent, ENVOY__TYPE__V3__PERCENT__INIT);
  p->value = v;
  return p;
}

/* weight 0: unset */
static LbEndpoint *lbe(const char *addr, uint32_t port, int health, uint32_t weight) {
  Envoy__Config__Core__V3__SocketAddress *sa =
      PB_NEW(Envoy__Config__Core__V3__SocketAddress, ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__INIT);
  sa->address = (char *)addr;
  sa->port_specifier_case = ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__PORT_SPECIFIER_PORT_VALUE;
  sa->port_value = port;
  Envoy__Config__Core__V3__Address *a = PB_NEW(Envoy__Config__Core__V3__Address, ENVOY__CONFIG__CORE__V3__ADDRESS__INIT);
  a->address_case = ENVOY__CONFIG__CORE__V3__ADDRESS__ADDRESS_SOCKET_ADDRESS;
  a->socket_address = sa;
  Envoy__Config__Endpoint__V3__Endpoint *ed =
      PB_NEW(Envoy__Config__Endpoint__V3__Endpoint, ENVOY__CONFIG__ENDPOINT__V3__ENDPOINT__INIT);
  ed->address = a;
  LbEndpoint *e = PB_NEW(LbEndpoint, ENVOY__CONFIG__ENDPOINT__V3__LB_ENDPOINT__INIT);
  e->host_identifier_case = ENVOY__CONFIG__ENDPOINT__V3__LB_ENDPOINT__HOST_IDENTIFIER_ENDPOINT;
  e->endpoint = ed;
  e->health_status = (Envoy__Config__Core__V3__HealthStatus)health;
  if (weight) e->load_balancing_weight = u32(weight);
  return e;
}

static LocalityLb *lle(uint32_t priority, uint32_t weight, const char *zone, size_t n, LbEndpoint **eps) {
  LocalityLb *l = PB_NEW(LocalityLb, ENVOY__CONFIG__ENDPOINT__V3__LOCALITY_LB_ENDPOINTS__INIT);
  l->priority = priority;
  if (weight) l->load_balancing_weight = u32(weight);
  if (zone) {
    l->locality = PB_NEW(Envoy__Config__Core__V3__Locality, ENVOY__CONFIG__CORE__V3__LOCALITY__INIT);
    l->locality->region = (char *)"r1";
    l->locality->zone = (char *)zone;
  }
  l->n_lb_endpoints = n;
  l->lb_endpoints = pb_alloc(n * sizeof *eps + 1);
  memcpy(l->lb_endpoints, eps, n * sizeof *eps);
  return l;
}

static Cla *cla(const char *name, size_t n, LocalityLb **locs) {
  Cla *m = PB_NEW(Cla, ENVOY__CONFIG__ENDPOINT__V3__CLUSTER_LOAD_ASSIGNMENT__INIT);
  m->cluster_name = (char *)name;
  m->n_endpoints = n;
  m->endpoints = pb_alloc(n * sizeof *locs + 1);
  memcpy(m->endpoints, locs, n * sizeof *locs);
  return m;
}

static Cluster *cluster(const char *name, int type, Cla *la) {
  Cluster *c = PB_NEW(Cluster, ENVOY__CONFIG__CLUSTER__V3__CLUSTER__INIT);
  c->name = (char *)name;
  c->cluster_discovery_type_case = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__CLUSTER_DISCOVERY_TYPE_TYPE;
  c->type = (Envoy__Config__Cluster__V3__Cluster__DiscoveryType)type;
  c->load_assignment = la;
  return c;
}

/* A STATIC cluster with one locality of three endpoints. */
static Cluster *static_cluster(void) {
  LbEndpoint *eps[] = {lbe("10.0.0.1", 80, 0, 0), lbe("10.0.0.2", 80, 0, 0), lbe("10.0.0.3", 80, 0, 0)};
  LocalityLb *locs[] = {lle(0, 0, NULL, 3, eps)};
  return cluster("static", ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__STATIC, cla("", 1, locs));
}

static void cds_rejects(const Cluster *m, const char *want) {
  char err[512] = "";
  mesh__cluster *c = NULL;
  mesh__notes notes;
  mesh__notes_init(&notes);
  cr_expect_eq(mesh__cds_translate(m, &c, err, sizeof err, &notes), -1, "accepted, wanted: %s", want);
  cr_expect_null(c);
  cr_expect(strstr(err, want) != NULL, "error \"%s\" lacks \"%s\"", err, want);
  mesh__notes_free(&notes);
}

static const mesh__cluster *cds_ok(const Cluster *m, mesh__notes *notes) {
  char err[512] = "";
  mesh__cluster *c = NULL;
  cr_assert_eq(mesh__cds_translate(m, &c, err, sizeof err, notes), 0, "%s", err);
  cr_assert(c);
  return c;
}

static void eds_rejects(const Cla *m, const char *want) {
  char err[512] = "";
  mesh__load_assignment *la = NULL;
  cr_expect_eq(mesh__eds_translate(m, &la, err, sizeof err, NULL), -1, "accepted, wanted: %s", want);
  cr_expect_null(la);
  cr_expect(strstr(err, want) != NULL, "error \"%s\" lacks \"%s\"", err, want);
}

static bool has_note(const mesh__notes *n, const char *s) {
  for (size_t i = 0; i < n->n; i++)
    if (strstr(n->v[i], s)) return true;
  return false;
}

Test(eds, translates_priorities_localities_and_health) {
  LbEndpoint *p0a[] = {lbe("10.0.0.1", 8080, MESH__HS_HEALTHY, 3), lbe("10.0.0.2", 8080, MESH__HS_DRAINING, 0)};
  LbEndpoint *p0b[] = {lbe("2001:db8::5", 443, MESH__HS_DEGRADED, 0)};
  LbEndpoint *p1[] = {lbe("10.0.1.1", 9090, MESH__HS_UNKNOWN, 0), lbe("10.0.1.2", 9090, MESH__HS_TIMEOUT, 0)};
  p0a[0]->endpoint->hostname = (char *)"pod-a";
  LocalityLb *locs[] = {lle(1, 0, "z9", 2, p1), lle(0, 10, "za", 2, p0a), lle(0, 5, "zb", 1, p0b)};
  Cla *m = cla("svc", 3, locs);
  m->policy = PB_NEW(Envoy__Config__Endpoint__V3__ClusterLoadAssignment__Policy,
                     ENVOY__CONFIG__ENDPOINT__V3__CLUSTER_LOAD_ASSIGNMENT__POLICY__INIT);
  m->policy->overprovisioning_factor = u32(200);
  m->policy->weighted_priority_health = 1;
  m->policy->endpoint_stale_after = dur(60, 0);
  char err[256];
  mesh__notes notes;
  mesh__notes_init(&notes);
  mesh__load_assignment *la = NULL;
  cr_assert_eq(mesh__eds_translate(m, &la, err, sizeof err, &notes), 0, "%s", err);
  cr_expect_str_eq(la->cluster_name, "svc");
  cr_expect_eq(la->overprovisioning_factor, 200);
  cr_expect(la->weighted_priority_health);
  cr_expect(has_note(&notes, "policy.endpoint_stale_after"));
  cr_assert_eq(la->n_priorities, 2);
  cr_assert_eq(la->n_endpoints, 5);
  /* Priority 0 first: za's endpoints, zb's; then priority 1. */
  cr_expect_str_eq(la->endpoints[0].address, "10.0.0.1");
  cr_expect_eq(la->endpoints[0].port, 8080);
  cr_expect_eq(la->endpoints[0].weight, 3);
  cr_expect_str_eq(la->endpoints[0].hostname, "pod-a");
  cr_expect_eq(la->endpoints[0].health, MESH__HEALTHY);
  cr_expect_eq(la->endpoints[1].health, MESH__UNHEALTHY, "DRAINING");
  cr_expect_eq(la->endpoints[1].health_status, MESH__HS_DRAINING);
  cr_expect_eq(la->endpoints[1].weight, 1, "default weight");
  cr_expect_eq(la->endpoints[2].health, MESH__DEGRADED);
  cr_expect_eq(la->endpoints[2].sa.sa.sa_family, AF_INET6);
  cr_expect_eq(la->endpoints[3].health, MESH__HEALTHY, "UNKNOWN counts as healthy");
  cr_expect_eq(la->endpoints[4].health, MESH__UNHEALTHY, "TIMEOUT");
  cr_expect_eq(la->endpoints[4].priority, 1);
  cr_expect_str_eq(la->localities[0].zone, "za");
  cr_expect_str_eq(la->localities[0].region, "r1");
  cr_expect_eq(la->localities[0].weight, 10);
  cr_expect_str_eq(la->localities[2].zone, "z9");
  cr_expect_eq(la->priorities[0].total_weight, 5);
  mesh__load_assignment_unref(la);
  mesh__notes_free(&notes);
  pb_free_all();
}

Test(eds, rejects_with_field_paths) {
  LbEndpoint *eps[] = {lbe("10.0.0.1", 80, 0, 0), lbe("10.0.0.2", 80, 0, 0), lbe("10.0.0.3", 0, 0, 0)};
  LocalityLb *locs[] = {lle(0, 0, NULL, 3, eps)};
  Cla *m = cla("svc", 1, locs);
  eds_rejects(m, "endpoints[0].lb_endpoints[2].endpoint.address.socket_address.port_value: 0 is not a valid port");
  eps[2]->endpoint->address->socket_address->port_value = 70000;
  eds_rejects(m, "port_value: 70000 is not a valid port");
  eps[2]->endpoint->address->socket_address->port_value = 80;
  eps[2]->endpoint->address->socket_address->address = (char *)"backend.local";
  eds_rejects(m, "endpoints[0].lb_endpoints[2].endpoint.address.socket_address.address: 'backend.local' is not an IP");
  eps[2]->endpoint->address->socket_address->address = (char *)"10.0.0.3";
  eps[2]->endpoint->address->socket_address->port_specifier_case =
      ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__PORT_SPECIFIER_NAMED_PORT;
  eps[2]->endpoint->address->socket_address->named_port = (char *)"http";
  eds_rejects(m, "socket_address.named_port: named ports are not supported");
  eps[2]->endpoint->address->socket_address->port_specifier_case =
      ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__PORT_SPECIFIER_PORT_VALUE;
  eps[2]->endpoint->address->socket_address->port_value = 80;
  eps[2]->endpoint->address->socket_address->protocol = ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__PROTOCOL__UDP;
  eds_rejects(m, "socket_address.protocol: only TCP");
  eps[2]->endpoint->address->socket_address->protocol = ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__PROTOCOL__TCP;
  eps[1]->endpoint->address = NULL;
  eds_rejects(m, "endpoints[0].lb_endpoints[1].endpoint.address: required");
  eps[1]->endpoint->address = eps[0]->endpoint->address;
  eps[1]->host_identifier_case = ENVOY__CONFIG__ENDPOINT__V3__LB_ENDPOINT__HOST_IDENTIFIER_ENDPOINT_NAME;
  eds_rejects(m, "endpoints[0].lb_endpoints[1].endpoint_name: named endpoints are not supported");
  eps[1]->host_identifier_case = ENVOY__CONFIG__ENDPOINT__V3__LB_ENDPOINT__HOST_IDENTIFIER__NOT_SET;
  eds_rejects(m, "endpoints[0].lb_endpoints[1].endpoint: required");
  eps[1]->host_identifier_case = ENVOY__CONFIG__ENDPOINT__V3__LB_ENDPOINT__HOST_IDENTIFIER_ENDPOINT;
  eps[0]->load_balancing_weight = u32(0);
  eds_rejects(m, "endpoints[0].lb_endpoints[0].load_balancing_weight: must be at least 1");
  eps[0]->load_balancing_weight = NULL;
  locs[0]->load_balancing_weight = u32(0);
  eds_rejects(m, "endpoints[0].load_balancing_weight: must be at least 1");
  locs[0]->load_balancing_weight = NULL;
  locs[0]->priority = 129;
  eds_rejects(m, "endpoints[0].priority: 129 is above the maximum 128");
  locs[0]->priority = 0;
  m->policy = PB_NEW(Envoy__Config__Endpoint__V3__ClusterLoadAssignment__Policy,
                     ENVOY__CONFIG__ENDPOINT__V3__CLUSTER_LOAD_ASSIGNMENT__POLICY__INIT);
  m->policy->overprovisioning_factor = u32(0);
  eds_rejects(m, "policy.overprovisioning_factor: must be greater than 0");
  m->policy->overprovisioning_factor = NULL;
  Envoy__Config__Endpoint__V3__ClusterLoadAssignment__Policy__DropOverload *drop =
      PB_NEW(Envoy__Config__Endpoint__V3__ClusterLoadAssignment__Policy__DropOverload,
             ENVOY__CONFIG__ENDPOINT__V3__CLUSTER_LOAD_ASSIGNMENT__POLICY__DROP_OVERLOAD__INIT);
  m->policy->n_drop_overloads = 1;
  m->policy->drop_overloads = &drop;
  eds_rejects(m, "policy.drop_overloads: drop overloads are not supported");
  m->policy->n_drop_overloads = 0;
  /* Still fine after all that. */
  char err[256];
  mesh__load_assignment *la = NULL;
  cr_expect_eq(mesh__eds_translate(m, &la, err, sizeof err, NULL), 0, "%s", err);
  mesh__load_assignment_unref(la);
  pb_free_all();
}

Test(eds, rejects_pipes_duplicates_and_weight_overflow) {
  LbEndpoint *a[] = {lbe("10.0.0.1", 80, 0, 0xffffffffu)};
  LbEndpoint *b[] = {lbe("10.0.0.2", 80, 0, 0)};
  LocalityLb *locs[] = {lle(0, 0, "za", 1, a), lle(0, 0, "za", 1, b)};
  Cla *m = cla("svc", 2, locs);
  eds_rejects(m, "endpoints[1].locality: same locality (region \"r1\", zone \"za\", sub_zone \"\") and priority 0 as "
                 "endpoints[0]");
  locs[1]->priority = 1; /* same locality, other priority: fine */
  char err[256];
  mesh__load_assignment *la = NULL;
  cr_expect_eq(mesh__eds_translate(m, &la, err, sizeof err, NULL), 0, "%s", err);
  mesh__load_assignment_unref(la);
  /* Two endpoints of one locality whose weights overflow uint32. */
  LbEndpoint *c2[] = {lbe("10.0.0.1", 80, 0, 0xffffffffu), lbe("10.0.0.2", 80, 0, 2)};
  LocalityLb *locs2[] = {lle(0, 0, NULL, 2, c2)};
  eds_rejects(cla("svc", 1, locs2), "endpoints[0].lb_endpoints: the sum of the endpoint weights exceeds 4294967295");
  /* A pipe. */
  Envoy__Config__Core__V3__Pipe *pipe = PB_NEW(Envoy__Config__Core__V3__Pipe, ENVOY__CONFIG__CORE__V3__PIPE__INIT);
  b[0]->endpoint->address->address_case = ENVOY__CONFIG__CORE__V3__ADDRESS__ADDRESS_PIPE;
  b[0]->endpoint->address->pipe = pipe;
  eds_rejects(m, "endpoints[1].lb_endpoints[0].endpoint.address: only socket_address is supported");
  pb_free_all();
}

Test(cds, static_cluster_defaults) {
  mesh__notes notes;
  mesh__notes_init(&notes);
  const mesh__cluster *c = cds_ok(static_cluster(), &notes);
  cr_expect_str_eq(c->name, "static");
  cr_expect_eq(c->type, MESH__DISCOVERY_STATIC);
  cr_expect_eq(c->connect_timeout_ms, 5000);
  cr_expect_eq(c->lb_policy, MESH__LB_ROUND_ROBIN);
  cr_expect_eq(c->protocol, MESH_PROTOCOL_DEFAULT);
  cr_expect_eq(c->healthy_panic_threshold, 50);
  cr_expect_eq(c->dns_refresh_rate_ms, 5000);
  cr_expect_eq(c->idle_timeout_ms, 3600000);
  cr_expect_not(c->locality_weighted);
  cr_expect_null(mesh__cluster_eds_service(c));
  cr_assert(c->load_assignment);
  cr_expect_eq(c->load_assignment->n_endpoints, 3);
  cr_expect(c->load_assignment->endpoints[2].is_ip);
  cr_expect_eq(notes.n, 0);
  /* The picker runs on it. */
  mesh__lb *lb = mklb(c, c->load_assignment, 0);
  for (int i = 0; i < 6; i++) cr_expect_eq(mesh__lb_pick(lb, NULL), i % 3);
  mesh__lb_destroy(lb);
  mesh__cluster_unref(c);
  mesh__notes_free(&notes);
  pb_free_all();
}

Test(cds, the_briefs_error_path) {
  Cluster *m = static_cluster();
  m->load_assignment->endpoints[0]->lb_endpoints[2]->endpoint->address->socket_address->port_value = 0;
  cds_rejects(m, "load_assignment.endpoints[0].lb_endpoints[2].endpoint.address.socket_address.port_value: 0 is not "
                 "a valid port");
  pb_free_all();
}

Test(cds, discovery_types_and_host_names) {
  Cluster *m = static_cluster();
  m->load_assignment->endpoints[0]->lb_endpoints[1]->endpoint->address->socket_address->address =
      (char *)"backend.svc.local";
  cds_rejects(m, "load_assignment.endpoints[0].lb_endpoints[1].endpoint.address.socket_address.address: "
                 "'backend.svc.local' is not an IP address");
  m->type = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__STRICT_DNS;
  mesh__notes notes;
  mesh__notes_init(&notes);
  const mesh__cluster *c = cds_ok(m, &notes);
  cr_expect_eq(c->type, MESH__DISCOVERY_STRICT_DNS);
  cr_expect_not(c->load_assignment->endpoints[1].is_ip);
  cr_expect_str_eq(c->load_assignment->endpoints[1].address, "backend.svc.local");
  cr_expect(c->load_assignment->endpoints[0].is_ip);
  mesh__cluster_unref(c);
  m->type = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__LOGICAL_DNS;
  cds_rejects(m, "a LOGICAL_DNS cluster needs exactly one locality with exactly one endpoint");
  m->load_assignment->endpoints[0]->n_lb_endpoints = 1;
  c = cds_ok(m, &notes);
  cr_expect_eq(c->type, MESH__DISCOVERY_LOGICAL_DNS);
  mesh__cluster_unref(c);
  m->type = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__ORIGINAL_DST;
  cds_rejects(m, "type: ORIGINAL_DST is not supported");
  m->type = (Envoy__Config__Cluster__V3__Cluster__DiscoveryType)9;
  cds_rejects(m, "type: unknown discovery type 9");
  m->cluster_discovery_type_case = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__CLUSTER_DISCOVERY_TYPE_CLUSTER_TYPE;
  m->cluster_type = PB_NEW(Envoy__Config__Cluster__V3__Cluster__CustomClusterType,
                           ENVOY__CONFIG__CLUSTER__V3__CLUSTER__CUSTOM_CLUSTER_TYPE__INIT);
  m->cluster_type->name = (char *)"envoy.clusters.aggregate";
  cds_rejects(m, "cluster_type (envoy.clusters.aggregate): custom cluster types are not supported");
  /* No type at all: STATIC (proto3 default). */
  m->cluster_discovery_type_case = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__CLUSTER_DISCOVERY_TYPE__NOT_SET;
  m->load_assignment->endpoints[0]->lb_endpoints[0]->endpoint->address->socket_address->address = (char *)"h.local";
  cds_rejects(m, "is not an IP address");
  m->name = (char *)"";
  cds_rejects(m, "name: required");
  mesh__notes_free(&notes);
  pb_free_all();
}

Test(cds, eds_clusters) {
  Cluster *m = cluster("reviews", ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__EDS, NULL);
  cds_rejects(m, "eds_cluster_config.eds_config: required for an EDS cluster");
  m->eds_cluster_config = PB_NEW(Envoy__Config__Cluster__V3__Cluster__EdsClusterConfig,
                                 ENVOY__CONFIG__CLUSTER__V3__CLUSTER__EDS_CLUSTER_CONFIG__INIT);
  m->eds_cluster_config->eds_config =
      PB_NEW(Envoy__Config__Core__V3__ConfigSource, ENVOY__CONFIG__CORE__V3__CONFIG_SOURCE__INIT);
  cds_rejects(m, "eds_cluster_config.eds_config: a config source (ads or self) is required");
  m->eds_cluster_config->eds_config->config_source_specifier_case =
      ENVOY__CONFIG__CORE__V3__CONFIG_SOURCE__CONFIG_SOURCE_SPECIFIER_ADS;
  m->eds_cluster_config->eds_config->ads =
      PB_NEW(Envoy__Config__Core__V3__AggregatedConfigSource, ENVOY__CONFIG__CORE__V3__AGGREGATED_CONFIG_SOURCE__INIT);
  mesh__notes notes;
  mesh__notes_init(&notes);
  const mesh__cluster *c = cds_ok(m, &notes);
  cr_expect_eq(c->type, MESH__DISCOVERY_EDS);
  cr_expect_str_eq(mesh__cluster_eds_service(c), "reviews", "defaults to the cluster name");
  cr_expect_null(c->load_assignment);
  mesh__cluster_unref(c);
  m->eds_cluster_config->service_name = (char *)"reviews.default.svc";
  m->load_assignment = static_cluster()->load_assignment;
  c = cds_ok(m, &notes);
  cr_expect_str_eq(mesh__cluster_eds_service(c), "reviews.default.svc");
  cr_expect_null(c->load_assignment);
  cr_expect(has_note(&notes, "load_assignment: ignored (EDS clusters"));
  mesh__cluster_unref(c);
  mesh__notes_free(&notes);
  pb_free_all();
}

Test(cds, lb_policies) {
  Cluster *m = static_cluster();
  static const struct { int policy; mesh__lb_policy want; } yes[] = {
      {ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__LEAST_REQUEST, MESH__LB_LEAST_REQUEST},
      {ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__RING_HASH, MESH__LB_RING_HASH},
      {ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__RANDOM, MESH__LB_RANDOM},
      {ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__MAGLEV, MESH__LB_MAGLEV}};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
    m->lb_policy = (Envoy__Config__Cluster__V3__Cluster__LbPolicy)yes[i].policy;
    const mesh__cluster *cy = cds_ok(m, NULL);
    cr_expect_eq(cy->lb_policy, yes[i].want);
    mesh__cluster_unref(cy);
  }
  m->lb_policy = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__CLUSTER_PROVIDED;
  cds_rejects(m, "lb_policy: CLUSTER_PROVIDED is not supported");
  m->lb_policy = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__LOAD_BALANCING_POLICY_CONFIG;
  cds_rejects(m, "load_balancing_policy: required (lb_policy is LOAD_BALANCING_POLICY_CONFIG)");
  m->lb_policy = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__ROUND_ROBIN;
  /* A config for another policy is noted, not applied. */
  m->lb_config_case = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_CONFIG_MAGLEV_LB_CONFIG;
  m->maglev_lb_config = PB_NEW(Envoy__Config__Cluster__V3__Cluster__MaglevLbConfig,
                               ENVOY__CONFIG__CLUSTER__V3__CLUSTER__MAGLEV_LB_CONFIG__INIT);
  mesh__notes notes;
  mesh__notes_init(&notes);
  const mesh__cluster *c = cds_ok(m, &notes);
  cr_expect(has_note(&notes, "maglev_lb_config: ignored (lb_policy is ROUND_ROBIN)"));
  mesh__cluster_unref(c);
  /* round_robin_lb_config.slow_start_config is stored. */
  m->lb_config_case = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_CONFIG_ROUND_ROBIN_LB_CONFIG;
  m->round_robin_lb_config = PB_NEW(Envoy__Config__Cluster__V3__Cluster__RoundRobinLbConfig,
                                    ENVOY__CONFIG__CLUSTER__V3__CLUSTER__ROUND_ROBIN_LB_CONFIG__INIT);
  m->round_robin_lb_config->slow_start_config = PB_NEW(Envoy__Config__Cluster__V3__Cluster__SlowStartConfig,
                                                       ENVOY__CONFIG__CLUSTER__V3__CLUSTER__SLOW_START_CONFIG__INIT);
  m->round_robin_lb_config->slow_start_config->slow_start_window = dur(30, 0);
  m->round_robin_lb_config->slow_start_config->min_weight_percent = pct(25);
  c = cds_ok(m, &notes);
  cr_expect(c->slow_start.set);
  cr_expect_eq(c->slow_start.window_ms, 30000);
  cr_expect_eq(c->slow_start.min_weight_percent, 25.0);
  cr_expect_eq(c->slow_start.aggression, 1.0);
  mesh__cluster_unref(c);
  m->round_robin_lb_config->slow_start_config->min_weight_percent = pct(101);
  cds_rejects(m, "round_robin_lb_config.slow_start_config.min_weight_percent: 101 is not a percentage");
  mesh__notes_free(&notes);
  pb_free_all();
}

Test(cds, common_lb_config_and_timeouts) {
  Cluster *m = static_cluster();
  m->common_lb_config = PB_NEW(Envoy__Config__Cluster__V3__Cluster__CommonLbConfig,
                               ENVOY__CONFIG__CLUSTER__V3__CLUSTER__COMMON_LB_CONFIG__INIT);
  m->common_lb_config->healthy_panic_threshold = pct(39.6);
  m->common_lb_config->locality_config_specifier_case =
      ENVOY__CONFIG__CLUSTER__V3__CLUSTER__COMMON_LB_CONFIG__LOCALITY_CONFIG_SPECIFIER_LOCALITY_WEIGHTED_LB_CONFIG;
  m->common_lb_config->locality_weighted_lb_config =
      PB_NEW(Envoy__Config__Cluster__V3__Cluster__CommonLbConfig__LocalityWeightedLbConfig,
             ENVOY__CONFIG__CLUSTER__V3__CLUSTER__COMMON_LB_CONFIG__LOCALITY_WEIGHTED_LB_CONFIG__INIT);
  m->connect_timeout = dur(0, 250000000);
  m->dns_refresh_rate = dur(2, 0);
  m->dns_lookup_family = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DNS_LOOKUP_FAMILY__V4_ONLY;
  mesh__notes notes;
  mesh__notes_init(&notes);
  const mesh__cluster *c = cds_ok(m, &notes);
  cr_expect_eq(c->healthy_panic_threshold, 40, "rounded");
  cr_expect(c->locality_weighted);
  cr_expect_eq(c->connect_timeout_ms, 250);
  cr_expect_eq(c->dns_refresh_rate_ms, 2000);
  cr_expect_eq(c->dns_lookup_family, MESH__DNS_V4_ONLY);
  mesh__cluster_unref(c);
  m->connect_timeout = dur(0, 0);
  cds_rejects(m, "connect_timeout: must be greater than 0");
  m->connect_timeout = dur(-1, 0);
  cds_rejects(m, "connect_timeout: not a valid non-negative duration");
  m->connect_timeout = NULL;
  m->dns_refresh_rate = dur(0, 1000000);
  cds_rejects(m, "dns_refresh_rate: must be greater than 1ms");
  m->dns_refresh_rate = NULL;
  m->common_lb_config->healthy_panic_threshold = pct(150);
  cds_rejects(m, "common_lb_config.healthy_panic_threshold: 150 is not a percentage");
  m->common_lb_config->healthy_panic_threshold = pct(0);
  c = cds_ok(m, &notes);
  cr_expect_eq(c->healthy_panic_threshold, 0, "0 disables panic mode");
  mesh__cluster_unref(c);
  /* zone-aware: fail_traffic_on_panic is kept, the routing noted. */
  m->common_lb_config->locality_config_specifier_case =
      ENVOY__CONFIG__CLUSTER__V3__CLUSTER__COMMON_LB_CONFIG__LOCALITY_CONFIG_SPECIFIER_ZONE_AWARE_LB_CONFIG;
  m->common_lb_config->zone_aware_lb_config =
      PB_NEW(Envoy__Config__Cluster__V3__Cluster__CommonLbConfig__ZoneAwareLbConfig,
             ENVOY__CONFIG__CLUSTER__V3__CLUSTER__COMMON_LB_CONFIG__ZONE_AWARE_LB_CONFIG__INIT);
  m->common_lb_config->zone_aware_lb_config->fail_traffic_on_panic = 1;
  c = cds_ok(m, &notes);
  cr_expect(c->fail_traffic_on_panic);
  cr_expect_not(c->locality_weighted);
  cr_expect(has_note(&notes, "zone_aware_lb_config"));
  mesh__cluster_unref(c);
  mesh__notes_free(&notes);
  pb_free_all();
}

static Google__Protobuf__Any *pack_hpo(Envoy__Extensions__Upstreams__Http__V3__HttpProtocolOptions *h) {
  Google__Protobuf__Any *any = PB_NEW(Google__Protobuf__Any, GOOGLE__PROTOBUF__ANY__INIT);
  any->type_url = (char *)"type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
  any->value.len = protobuf_c_message_get_packed_size(&h->base);
  any->value.data = pb_alloc(any->value.len + 1);
  protobuf_c_message_pack(&h->base, any->value.data);
  return any;
}

Test(cds, upstream_protocol) {
  Cluster *m = static_cluster();
  mesh__notes notes;
  mesh__notes_init(&notes);
  /* Deprecated fields. */
  m->http2_protocol_options =
      PB_NEW(Envoy__Config__Core__V3__Http2ProtocolOptions, ENVOY__CONFIG__CORE__V3__HTTP2_PROTOCOL_OPTIONS__INIT);
  const mesh__cluster *c = cds_ok(m, &notes);
  cr_expect_eq(c->protocol, MESH_PROTOCOL_HTTP2);
  mesh__cluster_unref(c);
  m->http2_protocol_options = NULL;
  m->http_protocol_options =
      PB_NEW(Envoy__Config__Core__V3__Http1ProtocolOptions, ENVOY__CONFIG__CORE__V3__HTTP1_PROTOCOL_OPTIONS__INIT);
  c = cds_ok(m, &notes);
  cr_expect_eq(c->protocol, MESH_PROTOCOL_HTTP1);
  mesh__cluster_unref(c);
  m->http_protocol_options = NULL;

  /* typed_extension_protocol_options: HttpProtocolOptions. */
  Envoy__Extensions__Upstreams__Http__V3__HttpProtocolOptions h =
      ENVOY__EXTENSIONS__UPSTREAMS__HTTP__V3__HTTP_PROTOCOL_OPTIONS__INIT;
  Envoy__Extensions__Upstreams__Http__V3__HttpProtocolOptions__ExplicitHttpConfig ex =
      ENVOY__EXTENSIONS__UPSTREAMS__HTTP__V3__HTTP_PROTOCOL_OPTIONS__EXPLICIT_HTTP_CONFIG__INIT;
  Envoy__Config__Core__V3__Http2ProtocolOptions h2 = ENVOY__CONFIG__CORE__V3__HTTP2_PROTOCOL_OPTIONS__INIT;
  Envoy__Config__Core__V3__Http3ProtocolOptions h3 = ENVOY__CONFIG__CORE__V3__HTTP3_PROTOCOL_OPTIONS__INIT;
  Envoy__Config__Core__V3__HttpProtocolOptions common = ENVOY__CONFIG__CORE__V3__HTTP_PROTOCOL_OPTIONS__INIT;
  common.idle_timeout = dur(300, 0);
  common.max_requests_per_connection = u32(100);
  h.common_http_protocol_options = &common;
  h.upstream_protocol_options_case =
      ENVOY__EXTENSIONS__UPSTREAMS__HTTP__V3__HTTP_PROTOCOL_OPTIONS__UPSTREAM_PROTOCOL_OPTIONS_EXPLICIT_HTTP_CONFIG;
  h.explicit_http_config = &ex;
  ex.protocol_config_case =
      ENVOY__EXTENSIONS__UPSTREAMS__HTTP__V3__HTTP_PROTOCOL_OPTIONS__EXPLICIT_HTTP_CONFIG__PROTOCOL_CONFIG_HTTP2_PROTOCOL_OPTIONS;
  ex.http2_protocol_options = &h2;
  Envoy__Config__Cluster__V3__Cluster__TypedExtensionProtocolOptionsEntry entry =
      ENVOY__CONFIG__CLUSTER__V3__CLUSTER__TYPED_EXTENSION_PROTOCOL_OPTIONS_ENTRY__INIT;
  Envoy__Config__Cluster__V3__Cluster__TypedExtensionProtocolOptionsEntry *entries[] = {&entry};
  entry.key = (char *)"envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
  entry.value = pack_hpo(&h);
  m->n_typed_extension_protocol_options = 1;
  m->typed_extension_protocol_options = entries;
  c = cds_ok(m, &notes);
  cr_expect_eq(c->protocol, MESH_PROTOCOL_HTTP2);
  cr_expect_eq(c->idle_timeout_ms, 300000);
  cr_expect_eq(c->max_requests_per_connection, 100);
  mesh__cluster_unref(c);
  /* Envoy: max_requests_per_connection in both places is an error. */
  m->max_requests_per_connection = u32(5);
  cds_rejects(m, "max_requests_per_connection: only one of");
  m->max_requests_per_connection = NULL;
  /* Deprecated and typed together: an error. */
  m->http2_protocol_options = &h2;
  cds_rejects(m, "http2_protocol_options: cannot be combined with an HttpProtocolOptions");
  m->http2_protocol_options = NULL;
  /* HTTP/3: an error. */
  ex.protocol_config_case =
      ENVOY__EXTENSIONS__UPSTREAMS__HTTP__V3__HTTP_PROTOCOL_OPTIONS__EXPLICIT_HTTP_CONFIG__PROTOCOL_CONFIG_HTTP3_PROTOCOL_OPTIONS;
  ex.http3_protocol_options = &h3;
  entry.value = pack_hpo(&h);
  cds_rejects(m, "typed_extension_protocol_options[\"envoy.extensions.upstreams.http.v3.HttpProtocolOptions\"]."
                 "explicit_http_config.http3_protocol_options: HTTP/3 is not supported");
  /* use_downstream_protocol_config: the call's protocol. */
  Envoy__Extensions__Upstreams__Http__V3__HttpProtocolOptions__UseDownstreamHttpConfig ud =
      ENVOY__EXTENSIONS__UPSTREAMS__HTTP__V3__HTTP_PROTOCOL_OPTIONS__USE_DOWNSTREAM_HTTP_CONFIG__INIT;
  h.upstream_protocol_options_case =
      ENVOY__EXTENSIONS__UPSTREAMS__HTTP__V3__HTTP_PROTOCOL_OPTIONS__UPSTREAM_PROTOCOL_OPTIONS_USE_DOWNSTREAM_PROTOCOL_CONFIG;
  h.use_downstream_protocol_config = &ud;
  entry.value = pack_hpo(&h);
  c = cds_ok(m, &notes);
  cr_expect_eq(c->protocol, MESH_PROTOCOL_DEFAULT);
  mesh__cluster_unref(c);
  /* Another extension's options: noted. An HttpProtocolOptions key with
   * another type: an error. */
  entry.value->type_url = (char *)"type.googleapis.com/envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions";
  cds_rejects(m, "expected a envoy.extensions.upstreams.http.v3.HttpProtocolOptions");
  entry.key = (char *)"envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions";
  c = cds_ok(m, &notes);
  cr_expect(has_note(&notes, "TcpProtocolOptions): not supported, ignored"));
  mesh__cluster_unref(c);
  mesh__notes_free(&notes);
  pb_free_all();
}

Test(cds, circuit_breakers_outlier_detection_transport_socket) {
  Cluster *m = static_cluster();
  Envoy__Config__Cluster__V3__CircuitBreakers cb = ENVOY__CONFIG__CLUSTER__V3__CIRCUIT_BREAKERS__INIT;
  Envoy__Config__Cluster__V3__CircuitBreakers__Thresholds t0 =
      ENVOY__CONFIG__CLUSTER__V3__CIRCUIT_BREAKERS__THRESHOLDS__INIT;
  Envoy__Config__Cluster__V3__CircuitBreakers__Thresholds t1 = t0, t2 = t0;
  Envoy__Config__Cluster__V3__CircuitBreakers__Thresholds *ts[] = {&t0, &t1, &t2};
  t0.max_connections = u32(10);
  t0.max_retries = u32(1);
  t1.priority = ENVOY__CONFIG__CORE__V3__ROUTING_PRIORITY__HIGH;
  t1.max_requests = u32(7);
  t2.max_connections = u32(99); /* a second DEFAULT: Envoy uses the first */
  cb.n_thresholds = 3;
  cb.thresholds = ts;
  m->circuit_breakers = &cb;
  Envoy__Config__Cluster__V3__OutlierDetection od = ENVOY__CONFIG__CLUSTER__V3__OUTLIER_DETECTION__INIT;
  od.consecutive_5xx = u32(3);
  od.max_ejection_percent = u32(30);
  od.interval = dur(1, 0);
  od.base_ejection_time = dur(60, 0);
  m->outlier_detection = &od;
  mesh__notes notes;
  mesh__notes_init(&notes);
  const mesh__cluster *c = cds_ok(m, &notes);
  cr_expect(c->cb[MESH__ROUTING_DEFAULT].set);
  cr_expect_eq(c->cb[MESH__ROUTING_DEFAULT].max_connections, 10);
  cr_expect_eq(c->cb[MESH__ROUTING_DEFAULT].max_retries, 1);
  cr_expect_eq(c->cb[MESH__ROUTING_DEFAULT].max_requests, 1024, "default");
  cr_expect_eq(c->cb[MESH__ROUTING_HIGH].max_requests, 7);
  cr_expect(has_note(&notes, "circuit_breakers.thresholds[2]: a second entry for priority DEFAULT"));
  cr_expect(c->has_outlier_detection);
  cr_expect_eq(c->outlier.consecutive_5xx, 3);
  cr_expect_eq(c->outlier.max_ejection_percent, 30);
  cr_expect_eq(c->outlier.interval_ms, 1000);
  cr_expect_eq(c->outlier.base_ejection_time_ms, 60000);
  cr_expect_eq(c->outlier.max_ejection_time_ms, 300000);
  cr_expect_eq(c->outlier.enforcing_consecutive_gateway_failure, 0, "default");
  mesh__cluster_unref(c);
  od.max_ejection_percent = u32(101);
  cds_rejects(m, "outlier_detection.max_ejection_percent: 101 is above the maximum 100");
  od.max_ejection_percent = NULL;
  od.base_ejection_time = dur(400, 0);
  od.max_ejection_time = dur(300, 0);
  cds_rejects(m, "outlier_detection.max_ejection_time: 300000ms is smaller than base_ejection_time (400000ms)");
  od.max_ejection_time = NULL;
  od.base_ejection_time = NULL;
  od.interval = dur(0, 0);
  cds_rejects(m, "outlier_detection.interval: must be greater than 0");
  od.interval = NULL;
  t1.priority = (Envoy__Config__Core__V3__RoutingPriority)5;
  cds_rejects(m, "circuit_breakers.thresholds[1].priority: unknown routing priority 5");
  t1.priority = ENVOY__CONFIG__CORE__V3__ROUTING_PRIORITY__HIGH;

  Envoy__Config__Core__V3__TransportSocket ts_tls = ENVOY__CONFIG__CORE__V3__TRANSPORT_SOCKET__INIT;
  Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
  ts_tls.name = (char *)"envoy.transport_sockets.tls";
  ts_tls.config_type_case = ENVOY__CONFIG__CORE__V3__TRANSPORT_SOCKET__CONFIG_TYPE_TYPED_CONFIG;
  ts_tls.typed_config = &any;
  any.type_url = (char *)"type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";
  m->transport_socket = &ts_tls;
  cds_rejects(m, "transport_socket (envoy.transport_sockets.tls): TLS and other transport sockets are not supported");
  any.type_url = (char *)"type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer";
  ts_tls.name = (char *)"envoy.transport_sockets.raw_buffer";
  c = cds_ok(m, &notes);
  mesh__cluster_unref(c);
  mesh__notes_free(&notes);
  pb_free_all();
}

/* ---- the official-schema wire fixtures (t/data/wire, see test_proto.c) */

static ProtobufCMessage *wire(const char *name, const ProtobufCMessageDescriptor *d) {
  const char *top = getenv("top_srcdir");
  char path[1024];
  snprintf(path, sizeof path, "%s/t/data/wire/%s.bin", top && *top ? top : ".", name);
  FILE *f = fopen(path, "rb");
  cr_assert(f, "cannot open %s (set top_srcdir)", path);
  static uint8_t buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n, buf);
  cr_assert(m, "%s does not decode", path);
  return m;
}

Test(wire, cluster) {
  Cluster *m = (Cluster *)wire("cluster", &envoy__config__cluster__v3__cluster__descriptor);
  m->lb_policy = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__ROUND_ROBIN;
  cds_rejects(m, "transport_socket (envoy.transport_sockets.tls)");
  Envoy__Config__Core__V3__TransportSocket *ts = m->transport_socket;
  m->transport_socket = NULL;
  cds_rejects(m, "lb_subset_config: subset load balancing is not supported");
  /* Drop the lb_subset_config unknown field (tag 22) for the rest. */
  size_t nu = m->base.n_unknown_fields;
  ProtobufCMessageUnknownField keep[16];
  cr_assert_leq(nu, 16);
  memcpy(keep, m->base.unknown_fields, nu * sizeof *keep);
  size_t k = 0;
  for (size_t i = 0; i < nu; i++)
    if (keep[i].tag != 22) m->base.unknown_fields[k++] = keep[i];
  m->base.n_unknown_fields = k;

  mesh__notes notes;
  mesh__notes_init(&notes);
  const mesh__cluster *c = cds_ok(m, &notes);
  cr_expect_str_eq(c->name, "reviews");
  cr_expect_str_eq(c->alt_stat_name, "reviews_stats");
  cr_expect_eq(c->type, MESH__DISCOVERY_EDS);
  cr_expect_str_eq(mesh__cluster_eds_service(c), "reviews.default.svc");
  cr_expect_eq(c->connect_timeout_ms, 1500);
  cr_expect_eq(c->per_connection_buffer_limit_bytes, 32768);
  cr_expect_eq(c->max_requests_per_connection, 1000);
  cr_expect_eq(c->cb[0].max_connections, 100);
  cr_expect_eq(c->cb[0].max_pending_requests, 50);
  cr_expect_eq(c->cb[0].max_requests, 200);
  cr_expect(c->cb[0].has_retry_budget);
  cr_expect_eq(c->cb[0].retry_budget_percent, 25.5);
  cr_expect_eq(c->cb[0].retry_budget_min_concurrency, 5);
  cr_expect(c->cb[0].track_remaining);
  cr_expect_eq(c->cb[1].max_connections, 1000);
  cr_expect_eq(c->protocol, MESH_PROTOCOL_HTTP2, "HttpProtocolOptions win over protocol_selection");
  cr_expect(has_note(&notes, "protocol_selection: ignored"));
  cr_expect_eq(c->idle_timeout_ms, 300000);
  cr_expect(has_note(&notes, "common_http_protocol_options: only idle_timeout"));
  cr_expect_eq(c->dns_lookup_family, MESH__DNS_V4_ONLY);
  cr_expect(c->has_outlier_detection);
  cr_expect_eq(c->outlier.max_ejection_percent, 50);
  cr_expect(c->outlier.split_external_local_origin_errors);
  cr_expect_eq(c->outlier.max_ejection_time_ms, 300000);
  cr_expect_eq(c->healthy_panic_threshold, 40);
  cr_expect(c->locality_weighted);
  cr_expect_eq(c->update_merge_window_ms, 100);
  cr_expect(has_note(&notes, "ring_hash_lb_config: ignored"));
  cr_expect(has_note(&notes, "health_checks: not supported, ignored"));
  cr_expect(has_note(&notes, "cleanup_interval: not supported, ignored"));
  cr_expect(has_note(&notes, "metadata: ignored"));
  mesh__cluster_unref(c);
  mesh__notes_free(&notes);
  m->transport_socket = ts;
  m->base.n_unknown_fields = nu;
  memcpy(m->base.unknown_fields, keep, nu * sizeof *keep);
  protobuf_c_message_free_unpacked(&m->base, NULL);
}

Test(wire, cluster_load_assignment) {
  Cla *m = (Cla *)wire("cluster_load_assignment", &envoy__config__endpoint__v3__cluster_load_assignment__descriptor);
  eds_rejects(m, "policy.drop_overloads: drop overloads are not supported");
  size_t ndrop = m->policy->n_drop_overloads;
  m->policy->n_drop_overloads = 0;
  eds_rejects(m, "endpoints[1].lb_endpoints[0].endpoint.address: only socket_address is supported");
  size_t n1 = m->endpoints[1]->n_lb_endpoints;
  m->endpoints[1]->n_lb_endpoints = 0; /* drop the pipe and the named endpoint */
  char err[256];
  mesh__notes notes;
  mesh__notes_init(&notes);
  mesh__load_assignment *la = NULL;
  cr_assert_eq(mesh__eds_translate(m, &la, err, sizeof err, &notes), 0, "%s", err);
  cr_expect_str_eq(la->cluster_name, "reviews.default.svc");
  cr_expect_eq(la->overprovisioning_factor, 140);
  cr_expect(la->weighted_priority_health);
  cr_assert_eq(la->n_endpoints, 2);
  cr_expect_eq(la->n_priorities, 2);
  cr_expect_str_eq(la->endpoints[0].address, "10.1.2.3");
  cr_expect_eq(la->endpoints[0].port, 9080);
  cr_expect_eq(la->endpoints[0].weight, 3);
  cr_expect_str_eq(la->endpoints[0].hostname, "reviews-v1-abc");
  cr_expect_eq(la->endpoints[0].health, MESH__HEALTHY);
  cr_expect_eq(la->endpoints[1].health, MESH__UNHEALTHY, "DRAINING");
  cr_expect_str_eq(la->localities[0].sub_zone, "rack7");
  cr_expect_eq(la->localities[0].weight, 10);
  cr_expect_str_eq(la->localities[1].zone, "eu-west1-c");
  cr_expect_eq(la->localities[1].priority, 1);
  cr_expect(has_note(&notes, "policy.endpoint_stale_after"));
  cr_expect(has_note(&notes, "endpoints[0].lb_endpoints[0].metadata"));
  cr_expect(has_note(&notes, "endpoints[0]: field 6 is not known"), "proximity");
  cr_expect(has_note(&notes, "ClusterLoadAssignment: field 5 is not known"), "named_endpoints");
  mesh__load_assignment_unref(la);
  mesh__notes_free(&notes);
  m->policy->n_drop_overloads = ndrop;
  m->endpoints[1]->n_lb_endpoints = n1;
  protobuf_c_message_free_unpacked(&m->base, NULL);
}

/* ---- load_balancing_policy: typed policies ---- */

#define LBP_URL "type.googleapis.com/envoy.extensions.load_balancing_policies."

static Google__Protobuf__Any *pack_any(const char *type_url, const ProtobufCMessage *msg) {
  Google__Protobuf__Any *any = PB_NEW(Google__Protobuf__Any, GOOGLE__PROTOBUF__ANY__INIT);
  any->type_url = (char *)type_url;
  any->value.len = msg ? protobuf_c_message_get_packed_size(msg) : 0;
  any->value.data = pb_alloc(any->value.len + 1);
  if (msg) protobuf_c_message_pack(msg, any->value.data);
  return any;
}

/* A policy list of n Anys. */
static Envoy__Config__Cluster__V3__LoadBalancingPolicy *lbp(size_t n, Google__Protobuf__Any **anys) {
  Envoy__Config__Cluster__V3__LoadBalancingPolicy *l =
      PB_NEW(Envoy__Config__Cluster__V3__LoadBalancingPolicy, ENVOY__CONFIG__CLUSTER__V3__LOAD_BALANCING_POLICY__INIT);
  l->n_policies = n;
  l->policies = pb_alloc(n * sizeof *l->policies + 1);
  for (size_t i = 0; i < n; i++) {
    Envoy__Config__Cluster__V3__LoadBalancingPolicy__Policy *p = PB_NEW(
        Envoy__Config__Cluster__V3__LoadBalancingPolicy__Policy, ENVOY__CONFIG__CLUSTER__V3__LOAD_BALANCING_POLICY__POLICY__INIT);
    p->typed_extension_config =
        PB_NEW(Envoy__Config__Core__V3__TypedExtensionConfig, ENVOY__CONFIG__CORE__V3__TYPED_EXTENSION_CONFIG__INIT);
    p->typed_extension_config->name = (char *)"p";
    p->typed_extension_config->typed_config = anys[i];
    l->policies[i] = p;
  }
  return l;
}

/* Replace policy i of m's list. */
static void set_policy(Cluster *m, size_t i, Google__Protobuf__Any *a) {
  m->load_balancing_policy->policies[i]->typed_extension_config->typed_config = a;
}

Test(cds, load_balancing_policy_first_supported_wins) {
  Cluster *m = static_cluster();
  mesh__notes notes;
  mesh__notes_init(&notes);
  /* An unknown policy first, then least_request with settings: lb_policy
   * and the legacy lb_config are superseded (and noted). */
  Envoy__Extensions__LoadBalancingPolicies__LeastRequest__V3__LeastRequest lr =
      ENVOY__EXTENSIONS__LOAD_BALANCING_POLICIES__LEAST_REQUEST__V3__LEAST_REQUEST__INIT;
  lr.choice_count = u32(3);
  Envoy__Config__Core__V3__RuntimeDouble bias = ENVOY__CONFIG__CORE__V3__RUNTIME_DOUBLE__INIT;
  bias.default_value = 0.5;
  lr.active_request_bias = &bias;
  Envoy__Extensions__LoadBalancingPolicies__Common__V3__LocalityLbConfig loc =
      ENVOY__EXTENSIONS__LOAD_BALANCING_POLICIES__COMMON__V3__LOCALITY_LB_CONFIG__INIT;
  Envoy__Extensions__LoadBalancingPolicies__Common__V3__LocalityLbConfig__LocalityWeightedLbConfig lw =
      ENVOY__EXTENSIONS__LOAD_BALANCING_POLICIES__COMMON__V3__LOCALITY_LB_CONFIG__LOCALITY_WEIGHTED_LB_CONFIG__INIT;
  loc.locality_config_specifier_case =
      ENVOY__EXTENSIONS__LOAD_BALANCING_POLICIES__COMMON__V3__LOCALITY_LB_CONFIG__LOCALITY_CONFIG_SPECIFIER_LOCALITY_WEIGHTED_LB_CONFIG;
  loc.locality_weighted_lb_config = &lw;
  lr.locality_lb_config = &loc;
  Google__Protobuf__Any *a1[] = {pack_any(LBP_URL "client_side_weighted_round_robin.v3.ClientSideWeightedRoundRobin", NULL),
                                 pack_any(LBP_URL "least_request.v3.LeastRequest", &lr.base)};
  m->load_balancing_policy = lbp(2, a1);
  m->lb_policy = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__MAGLEV;
  const mesh__cluster *c = cds_ok(m, &notes);
  cr_expect_eq(c->lb_policy, MESH__LB_LEAST_REQUEST);
  cr_expect_eq(c->least_request_choice_count, 3);
  cr_expect_float_eq(c->least_request_active_request_bias, 0.5, 1e-9);
  cr_expect(c->locality_weighted);
  cr_expect(has_note(&notes, "policies[0].typed_extension_config (envoy.extensions.load_balancing_policies."
                             "client_side_weighted_round_robin.v3.ClientSideWeightedRoundRobin): not supported, the "
                             "next policy is tried"));
  cr_expect(has_note(&notes, "lb_policy: ignored (load_balancing_policy is set)"));
  mesh__cluster_unref(c);

  /* Bad settings of a supported policy refuse the cluster (not skipped). */
  lr.choice_count = u32(1);
  set_policy(m, 1, pack_any(LBP_URL "least_request.v3.LeastRequest", &lr.base));
  cds_rejects(m, "load_balancing_policy.policies[1].typed_extension_config.choice_count: 1 must be at least 2");
  lr.choice_count = NULL;
  lr.selection_method = ENVOY__EXTENSIONS__LOAD_BALANCING_POLICIES__LEAST_REQUEST__V3__LEAST_REQUEST__SELECTION_METHOD__FULL_SCAN;
  set_policy(m, 1, pack_any(LBP_URL "least_request.v3.LeastRequest", &lr.base));
  cds_rejects(m, "full-scan selection is not supported");

  /* None supported: refused, naming what libmesh has. */
  Google__Protobuf__Any *a2[] = {pack_any(LBP_URL "pick_first.v3.PickFirst", NULL),
                                 pack_any("type.googleapis.com/example.Custom", NULL)};
  m->load_balancing_policy = lbp(2, a2);
  cds_rejects(m, "load_balancing_policy: none of its 2 policies is supported by libmesh");
  /* An empty list, and a policy without its config. */
  m->load_balancing_policy = lbp(0, NULL);
  cds_rejects(m, "load_balancing_policy.policies: at least one policy is required");
  m->load_balancing_policy = lbp(1, a2);
  m->load_balancing_policy->policies[0]->typed_extension_config->typed_config = NULL;
  cds_rejects(m, "load_balancing_policy.policies[0].typed_extension_config.typed_config: required");
  /* Bytes that do not decode as the named type. */
  Google__Protobuf__Any *bad = pack_any(LBP_URL "ring_hash.v3.RingHash", NULL);
  bad->value.len = 2;
  bad->value.data = pb_alloc(2);
  bad->value.data[0] = 0x0a; /* field 1 as length-delimited: not an enum */
  bad->value.data[1] = 0x7f;
  Google__Protobuf__Any *a3[] = {bad};
  m->load_balancing_policy = lbp(1, a3);
  cds_rejects(m, "could not decode the envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash");
  mesh__notes_free(&notes);
  pb_free_all();
}

Test(cds, load_balancing_policy_each_type) {
  Cluster *m = static_cluster();
  /* round_robin, random */
  Envoy__Extensions__LoadBalancingPolicies__RoundRobin__V3__RoundRobin rr =
      ENVOY__EXTENSIONS__LOAD_BALANCING_POLICIES__ROUND_ROBIN__V3__ROUND_ROBIN__INIT;
  Google__Protobuf__Any *a[] = {pack_any(LBP_URL "round_robin.v3.RoundRobin", &rr.base)};
  m->load_balancing_policy = lbp(1, a);
  m->lb_policy = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__LB_POLICY__LOAD_BALANCING_POLICY_CONFIG;
  const mesh__cluster *c = cds_ok(m, NULL);
  cr_expect_eq(c->lb_policy, MESH__LB_ROUND_ROBIN);
  cr_expect(!c->locality_weighted);
  mesh__cluster_unref(c);
  Envoy__Extensions__LoadBalancingPolicies__Random__V3__Random rnd =
      ENVOY__EXTENSIONS__LOAD_BALANCING_POLICIES__RANDOM__V3__RANDOM__INIT;
  set_policy(m, 0, pack_any(LBP_URL "random.v3.Random", &rnd.base));
  c = cds_ok(m, NULL);
  cr_expect_eq(c->lb_policy, MESH__LB_RANDOM);
  mesh__cluster_unref(c);

  /* ring_hash: sizes, hash function, and its limits. */
  Envoy__Extensions__LoadBalancingPolicies__RingHash__V3__RingHash rh =
      ENVOY__EXTENSIONS__LOAD_BALANCING_POLICIES__RING_HASH__V3__RING_HASH__INIT;
  Google__Protobuf__UInt64Value mn = GOOGLE__PROTOBUF__UINT64_VALUE__INIT, mx = GOOGLE__PROTOBUF__UINT64_VALUE__INIT;
  mn.value = 2048;
  mx.value = 4096;
  rh.minimum_ring_size = &mn;
  rh.maximum_ring_size = &mx;
  rh.hash_function = ENVOY__EXTENSIONS__LOAD_BALANCING_POLICIES__RING_HASH__V3__RING_HASH__HASH_FUNCTION__MURMUR_HASH_2;
  set_policy(m, 0, pack_any(LBP_URL "ring_hash.v3.RingHash", &rh.base));
  c = cds_ok(m, NULL);
  cr_expect_eq(c->lb_policy, MESH__LB_RING_HASH);
  cr_expect_eq(c->ring_hash_min_size, 2048);
  cr_expect_eq(c->ring_hash_max_size, 4096);
  cr_expect_eq(c->ring_hash_function, MESH__RING_HASH_MURMUR2);
  mesh__cluster_unref(c);
  rh.hash_function = ENVOY__EXTENSIONS__LOAD_BALANCING_POLICIES__RING_HASH__V3__RING_HASH__HASH_FUNCTION__DEFAULT_HASH;
  set_policy(m, 0, pack_any(LBP_URL "ring_hash.v3.RingHash", &rh.base));
  c = cds_ok(m, NULL);
  cr_expect_eq(c->ring_hash_function, MESH__RING_HASH_XX, "DEFAULT_HASH is xxHash, as in Envoy");
  mesh__cluster_unref(c);
  mn.value = 8192;
  set_policy(m, 0, pack_any(LBP_URL "ring_hash.v3.RingHash", &rh.base));
  cds_rejects(m, "typed_extension_config: minimum_ring_size (8192) > maximum_ring_size (4096)");
  mn.value = 1024;
  Google__Protobuf__UInt32Value f = GOOGLE__PROTOBUF__UINT32_VALUE__INIT;
  f.value = 50;
  rh.hash_balance_factor = &f;
  set_policy(m, 0, pack_any(LBP_URL "ring_hash.v3.RingHash", &rh.base));
  cds_rejects(m, "typed_extension_config.hash_balance_factor: 50 must be at least 100");

  /* maglev: a prime table size. */
  Envoy__Extensions__LoadBalancingPolicies__Maglev__V3__Maglev mg =
      ENVOY__EXTENSIONS__LOAD_BALANCING_POLICIES__MAGLEV__V3__MAGLEV__INIT;
  Google__Protobuf__UInt64Value ts = GOOGLE__PROTOBUF__UINT64_VALUE__INIT;
  ts.value = 131071;
  mg.table_size = &ts;
  set_policy(m, 0, pack_any(LBP_URL "maglev.v3.Maglev", &mg.base));
  c = cds_ok(m, NULL);
  cr_expect_eq(c->lb_policy, MESH__LB_MAGLEV);
  cr_expect_eq(c->maglev_table_size, 131071);
  mesh__cluster_unref(c);
  ts.value = 131072;
  set_policy(m, 0, pack_any(LBP_URL "maglev.v3.Maglev", &mg.base));
  cds_rejects(m, "table_size: 131072 must be a prime number");

  /* wrr_locality around random: localities weighted, random inside; and a
   * child list must be there and not nest without end. */
  Envoy__Extensions__LoadBalancingPolicies__WrrLocality__V3__WrrLocality w =
      ENVOY__EXTENSIONS__LOAD_BALANCING_POLICIES__WRR_LOCALITY__V3__WRR_LOCALITY__INIT;
  Google__Protobuf__Any *child[] = {pack_any(LBP_URL "random.v3.Random", &rnd.base)};
  w.endpoint_picking_policy = lbp(1, child);
  set_policy(m, 0, pack_any(LBP_URL "wrr_locality.v3.WrrLocality", &w.base));
  c = cds_ok(m, NULL);
  cr_expect_eq(c->lb_policy, MESH__LB_RANDOM);
  cr_expect(c->locality_weighted);
  mesh__cluster_unref(c);
  w.endpoint_picking_policy = NULL;
  set_policy(m, 0, pack_any(LBP_URL "wrr_locality.v3.WrrLocality", &w.base));
  cds_rejects(m, "load_balancing_policy.policies[0].typed_extension_config.endpoint_picking_policy: required");
  Google__Protobuf__Any *nest = pack_any(LBP_URL "random.v3.Random", &rnd.base);
  for (int i = 0; i < 5; i++) {
    Google__Protobuf__Any **one = pb_alloc(sizeof *one);
    one[0] = nest;
    w.endpoint_picking_policy = lbp(1, one);
    nest = pack_any(LBP_URL "wrr_locality.v3.WrrLocality", &w.base);
  }
  set_policy(m, 0, nest);
  cds_rejects(m, "nested more than 4 deep");
  pb_free_all();
}
