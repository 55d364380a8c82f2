/* upstream/outlier: Envoy's outlier detectors, ejection time growth and
 * cap, max_ejection_percent, un-ejection, picker attachment and carrying
 * state over an endpoint-set change; xds/cds: the OutlierDetection checks. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb/lb.h"
#include "mesh/mesh.h"
#include "model/cluster.h"
#include "model/notes.h"
#include "upstream/outlier.h"
#include "xds/cds.h"

/* ------------------------------------------------------------ helpers */

/* Envoy's defaults, as the model gives them. */
static mesh__outlier_detection defaults(void) {
  mesh__cluster *c = mesh__cluster_new();
  cr_assert(c);
  mesh__outlier_detection d = c->outlier;
  mesh__cluster_unref(c);
  return d;
}

static mesh__outlier *mk(const mesh__outlier_detection *cfg, uint32_t n) {
  mesh__outlier *o = NULL;
  cr_assert_eq(mesh__outlier_new(cfg, n, 42, &o), 0);
  cr_assert(o);
  return o;
}

static void statuses(mesh__outlier *o, uint32_t ep, int status, int count, uint64_t now) {
  for (int i = 0; i < count; i++) mesh__outlier_report_status(o, ep, status, now);
}

static void results(mesh__outlier *o, uint32_t ep, int result, int count, uint64_t now) {
  for (int i = 0; i < count; i++) mesh__outlier_report(o, ep, result, now);
}

static mesh__outlier_endpoint info(const mesh__outlier *o, uint32_t ep) {
  mesh__outlier_endpoint e;
  cr_assert_eq(mesh__outlier_endpoint_info(o, ep, &e), 0);
  return e;
}

/* ok successes and total - ok 500s on ep. */
static void load(mesh__outlier *o, uint32_t ep, int ok, int total, uint64_t now) {
  statuses(o, ep, 200, ok, now);
  statuses(o, ep, 500, total - ok, now);
}

/* One locality of endpoints "addr:port" (IP literals), all healthy. */
static mesh__load_assignment *mkla(const char *const *addrs, size_t n) {
  mesh__load_assignment *la = mesh__load_assignment_new(1, n);
  cr_assert(la);
  char why[128];
  for (size_t i = 0; i < n; i++) {
    mesh__endpoint *ep = &la->endpoints[i];
    char a[64];
    snprintf(a, sizeof a, "%s", addrs[i]);
    char *colon = strrchr(a, ':');
    cr_assert(colon);
    *colon = 0;
    cr_assert_eq(mesh__endpoint_set_address(la, ep, a, (uint32_t)atoi(colon + 1), true, why, sizeof why), 0,
                 "%s", why);
    ep->locality = 0;
    ep->health_status = MESH__HS_HEALTHY;
    ep->health = MESH__HEALTHY;
    ep->weight = 1;
  }
  char err[256];
  cr_assert_eq(mesh__load_assignment_seal(la, err, sizeof err), 0, "%s", err);
  return la;
}

/* ------------------------------------------------------------ creation */

Test(outlier, new_checks_config) {
  mesh__outlier_detection d = defaults();
  mesh__outlier *o = NULL;
  cr_expect_eq(mesh__outlier_new(NULL, 3, 1, &o), MESH_EINVAL);
  cr_expect_eq(mesh__outlier_new(&d, 3, 1, NULL), MESH_EINVAL);
  mesh__outlier_detection b = d;
  b.interval_ms = 0;
  cr_expect_eq(mesh__outlier_new(&b, 3, 1, &o), MESH_EINVAL);
  b = d;
  b.base_ejection_time_ms = 0;
  cr_expect_eq(mesh__outlier_new(&b, 3, 1, &o), MESH_EINVAL);
  b = d;
  b.max_ejection_time_ms = b.base_ejection_time_ms - 1;
  cr_expect_eq(mesh__outlier_new(&b, 3, 1, &o), MESH_EINVAL);
  b = d;
  b.enforcing_failure_percentage_local_origin = 101;
  cr_expect_eq(mesh__outlier_new(&b, 3, 1, &o), MESH_EINVAL);
  cr_expect_null(o);
  cr_expect_eq(mesh__outlier_new(&d, 0, 1, &o), 0, "no endpoints is fine");
  mesh__outlier_report(o, 0, MESH__OD_HTTP_5XX, 0); /* out of range: ignored */
  cr_expect_eq(mesh__outlier_tick(o, 5), 5 + d.interval_ms);
  mesh__outlier_free(o);
  mesh__outlier_free(NULL);
  cr_expect_eq(mesh__outlier_set_config(NULL, &d), MESH_EINVAL);
}

Test(outlier, defaults_are_envoys) {
  mesh__outlier_detection d = defaults();
  cr_expect_eq(d.consecutive_5xx, 5);
  cr_expect_eq(d.interval_ms, 10000);
  cr_expect_eq(d.base_ejection_time_ms, 30000);
  cr_expect_eq(d.max_ejection_percent, 10);
  cr_expect_eq(d.enforcing_consecutive_gateway_failure, 0);
  cr_expect_eq(d.enforcing_failure_percentage, 0);
  cr_expect_eq(d.max_ejection_time_ms, 300000);
}

/* ------------------------------------------------------------ consecutive */

Test(outlier, consecutive_5xx_at_threshold) {
  mesh__outlier_detection d = defaults();
  d.max_ejection_percent = 100;
  mesh__outlier *o = mk(&d, 3);
  statuses(o, 1, 500, 4, 0);
  cr_expect_not(mesh__outlier_is_ejected(o, 1));
  cr_expect_eq(info(o, 1).consecutive_5xx, 4);
  mesh__outlier_report(o, 1, MESH__OD_HTTP_5XX, 7);
  cr_expect(mesh__outlier_is_ejected(o, 1));
  const mesh__outlier_stats *s = mesh__outlier_get_stats(o);
  cr_expect_eq(s->detected[MESH__OD_CONSECUTIVE_5XX], 1);
  cr_expect_eq(s->enforced[MESH__OD_CONSECUTIVE_5XX], 1);
  cr_expect_eq(s->enforced_total, 1);
  cr_expect_eq(s->active, 1);
  mesh__outlier_endpoint e = info(o, 1);
  cr_expect_eq(e.ejected_at_ms, 7);
  cr_expect_eq(e.eject_for_ms, 30000);
  cr_expect_eq(e.num_ejections, 1);
  cr_expect_not(mesh__outlier_is_ejected(o, 0));
  cr_expect_not(mesh__outlier_is_ejected(o, 2));
  mesh__outlier_free(o);
}

Test(outlier, consecutive_counters_reset_on_success) {
  mesh__outlier_detection d = defaults();
  d.max_ejection_percent = 100;
  d.enforcing_consecutive_gateway_failure = 100;
  mesh__outlier *o = mk(&d, 2);
  statuses(o, 0, 503, 4, 0);
  cr_expect_eq(info(o, 0).consecutive_gateway_failure, 4);
  mesh__outlier_report_status(o, 0, 404, 0); /* a 4xx is a success */
  cr_expect_eq(info(o, 0).consecutive_5xx, 0);
  cr_expect_eq(info(o, 0).consecutive_gateway_failure, 0);
  statuses(o, 0, 503, 4, 0);
  results(o, 0, MESH__OD_SUCCESS, 1, 0);
  statuses(o, 0, 503, 4, 0);
  cr_expect_not(mesh__outlier_is_ejected(o, 0));
  cr_expect_eq(mesh__outlier_get_stats(o)->detected[MESH__OD_CONSECUTIVE_5XX], 0);
  mesh__outlier_free(o);
}

Test(outlier, consecutive_gateway_failure) {
  mesh__outlier_detection d = defaults();
  d.max_ejection_percent = 100;
  d.consecutive_5xx = 100;
  d.consecutive_gateway_failure = 3;
  mesh__outlier *o = mk(&d, 2);
  /* enforcing_consecutive_gateway_failure defaults to 0: detected only. */
  statuses(o, 0, 502, 3, 0);
  cr_expect_not(mesh__outlier_is_ejected(o, 0));
  cr_expect_eq(mesh__outlier_get_stats(o)->detected[MESH__OD_CONSECUTIVE_GATEWAY_FAILURE], 1);
  cr_expect_eq(mesh__outlier_get_stats(o)->enforced[MESH__OD_CONSECUTIVE_GATEWAY_FAILURE], 0);
  cr_expect_eq(info(o, 0).consecutive_gateway_failure, 0, "restarts after a detection");
  cr_expect_eq(info(o, 0).consecutive_5xx, 3, "the 5xx counter goes on");
  d.enforcing_consecutive_gateway_failure = 100;
  cr_expect_eq(mesh__outlier_set_config(o, &d), 0);
  /* a 5xx that is not a gateway error breaks the gateway run */
  statuses(o, 0, 503, 2, 0);
  statuses(o, 0, 500, 1, 0);
  statuses(o, 0, 504, 2, 0);
  cr_expect_not(mesh__outlier_is_ejected(o, 0));
  statuses(o, 0, 504, 1, 0);
  cr_expect(mesh__outlier_is_ejected(o, 0));
  cr_expect_eq(mesh__outlier_get_stats(o)->enforced[MESH__OD_CONSECUTIVE_GATEWAY_FAILURE], 1);
  results(o, 1, MESH__OD_GATEWAY_FAILURE, 3, 0);
  cr_expect(mesh__outlier_is_ejected(o, 1), "MESH__OD_GATEWAY_FAILURE is a gateway error");
  mesh__outlier_free(o);
}

Test(outlier, enforcing_zero_and_hundred) {
  mesh__outlier_detection d = defaults();
  d.max_ejection_percent = 100;
  d.enforcing_consecutive_5xx = 0;
  mesh__outlier *o = mk(&d, 2);
  statuses(o, 0, 500, 10, 0);
  cr_expect_not(mesh__outlier_is_ejected(o, 0));
  cr_expect_eq(mesh__outlier_get_stats(o)->detected[MESH__OD_CONSECUTIVE_5XX], 2, "detected twice in ten");
  cr_expect_eq(mesh__outlier_get_stats(o)->enforced_total, 0);
  d.enforcing_consecutive_5xx = 100;
  mesh__outlier_set_config(o, &d);
  statuses(o, 0, 500, 5, 0);
  cr_expect(mesh__outlier_is_ejected(o, 0));
  mesh__outlier_free(o);
}

Test(outlier, enforcing_is_a_draw) {
  mesh__outlier_detection d = defaults();
  d.max_ejection_percent = 100;
  d.consecutive_5xx = 1;
  d.enforcing_consecutive_5xx = 30;
  int ejected = 0, trials = 2000;
  for (int t = 0; t < trials; t++) {
    mesh__outlier *o = NULL;
    cr_assert_eq(mesh__outlier_new(&d, 1, (uint64_t)t * 7919u + 1, &o), 0);
    mesh__outlier_report_status(o, 0, 500, 0);
    ejected += mesh__outlier_is_ejected(o, 0);
    mesh__outlier_free(o);
  }
  /* 30% of 2000 = 600, sd ~20.5: +-5 sd */
  cr_expect(ejected > 500 && ejected < 700, "%d of %d ejected at 30%%", ejected, trials);
}

Test(outlier, threshold_zero_disables) {
  mesh__outlier_detection d = defaults();
  d.max_ejection_percent = 100;
  d.consecutive_5xx = 0;
  mesh__outlier *o = mk(&d, 1);
  statuses(o, 0, 500, 1000, 0);
  cr_expect_not(mesh__outlier_is_ejected(o, 0));
  cr_expect_eq(mesh__outlier_get_stats(o)->detected[MESH__OD_CONSECUTIVE_5XX], 0);
  mesh__outlier_free(o);
}

/* ------------------------------------------------------------ local origin */

Test(outlier, local_origin_not_split) {
  mesh__outlier_detection d = defaults();
  d.max_ejection_percent = 100;
  mesh__outlier *o = mk(&d, 4);
  /* connect failures count as 503s; a connection made counts for nothing */
  results(o, 0, MESH__OD_LOCAL_CONNECT_FAILED, 4, 0);
  results(o, 0, MESH__OD_LOCAL_SUCCESS, 1, 0);
  cr_expect_eq(info(o, 0).consecutive_5xx, 4);
  cr_expect_eq(info(o, 0).consecutive_local_origin_failure, 0);
  results(o, 0, MESH__OD_LOCAL_RESET, 1, 0);
  cr_expect(mesh__outlier_is_ejected(o, 0));
  cr_expect_eq(mesh__outlier_get_stats(o)->enforced[MESH__OD_CONSECUTIVE_5XX], 1);
  /* timeouts are 504s: gateway failures too */
  results(o, 1, MESH__OD_LOCAL_TIMEOUT, 3, 0);
  cr_expect_eq(info(o, 1).consecutive_gateway_failure, 3);
  /* consecutive_local_origin_failure is not used at all */
  d.consecutive_5xx = 0;
  d.consecutive_gateway_failure = 0;
  d.consecutive_local_origin_failure = 2;
  mesh__outlier_set_config(o, &d);
  results(o, 2, MESH__OD_LOCAL_CONNECT_FAILED, 10, 0);
  cr_expect_not(mesh__outlier_is_ejected(o, 2));
  mesh__outlier_free(o);
}

Test(outlier, local_origin_split) {
  mesh__outlier_detection d = defaults();
  d.max_ejection_percent = 100;
  d.split_external_local_origin_errors = true;
  mesh__outlier *o = mk(&d, 3);
  results(o, 0, MESH__OD_LOCAL_CONNECT_FAILED, 2, 0);
  results(o, 0, MESH__OD_LOCAL_TIMEOUT, 2, 0);
  cr_expect_eq(info(o, 0).consecutive_5xx, 0, "local errors are not 5xx in split mode");
  cr_expect_eq(info(o, 0).consecutive_local_origin_failure, 4);
  results(o, 0, MESH__OD_LOCAL_SUCCESS, 1, 0);
  cr_expect_eq(info(o, 0).consecutive_local_origin_failure, 0, "a connection made resets it");
  results(o, 0, MESH__OD_LOCAL_RESET, 5, 0);
  cr_expect(mesh__outlier_is_ejected(o, 0));
  cr_expect_eq(mesh__outlier_get_stats(o)->enforced[MESH__OD_CONSECUTIVE_LOCAL_ORIGIN_FAILURE], 1);
  /* statuses still feed consecutive_5xx, and do not touch the local counter */
  results(o, 1, MESH__OD_LOCAL_CONNECT_FAILED, 4, 0);
  statuses(o, 1, 200, 3, 0);
  cr_expect_eq(info(o, 1).consecutive_local_origin_failure, 4);
  statuses(o, 1, 500, 5, 0);
  cr_expect(mesh__outlier_is_ejected(o, 1));
  cr_expect_eq(mesh__outlier_get_stats(o)->enforced[MESH__OD_CONSECUTIVE_5XX], 1);
  /* enforcing_consecutive_local_origin_failure 0: detected only */
  d.enforcing_consecutive_local_origin_failure = 0;
  mesh__outlier_set_config(o, &d);
  results(o, 2, MESH__OD_LOCAL_TIMEOUT, 5, 0);
  cr_expect_not(mesh__outlier_is_ejected(o, 2));
  cr_expect_eq(mesh__outlier_get_stats(o)->detected[MESH__OD_CONSECUTIVE_LOCAL_ORIGIN_FAILURE], 2);
  mesh__outlier_free(o);
}

/* ------------------------------------------------------------ max_ejection_percent */

Test(outlier, max_ejection_percent_caps) {
  mesh__outlier_detection d = defaults();
  d.max_ejection_percent = 20;
  mesh__outlier *o = mk(&d, 10);
  for (uint32_t i = 0; i < 10; i++) statuses(o, i, 500, 5, 0);
  uint32_t n = 0;
  for (uint32_t i = 0; i < 10; i++) n += mesh__outlier_is_ejected(o, i);
  cr_expect_eq(n, 2, "20%% of 10");
  cr_expect(mesh__outlier_is_ejected(o, 0) && mesh__outlier_is_ejected(o, 1));
  const mesh__outlier_stats *s = mesh__outlier_get_stats(o);
  cr_expect_eq(s->overflow, 8);
  cr_expect_eq(s->detected[MESH__OD_CONSECUTIVE_5XX], 10);
  cr_expect_eq(s->active, 2);
  mesh__outlier_free(o);

  /* the default 10% of 3 endpoints: (0 + 1) / 3 = 33% > 10%, none */
  d = defaults();
  o = mk(&d, 3);
  statuses(o, 0, 500, 5, 0);
  cr_expect_not(mesh__outlier_is_ejected(o, 0));
  cr_expect_eq(mesh__outlier_get_stats(o)->overflow, 1);
  mesh__outlier_free(o);

  /* always_eject_one_host: one, even above the percentage, but no second */
  d.always_eject_one_host = true;
  o = mk(&d, 3);
  statuses(o, 0, 500, 5, 0);
  statuses(o, 1, 500, 5, 0);
  cr_expect(mesh__outlier_is_ejected(o, 0));
  cr_expect_not(mesh__outlier_is_ejected(o, 1));
  mesh__outlier_free(o);

  /* max_ejection_percent 0 without it: never */
  d.always_eject_one_host = false;
  d.max_ejection_percent = 0;
  o = mk(&d, 100);
  statuses(o, 0, 500, 5, 0);
  cr_expect_not(mesh__outlier_is_ejected(o, 0));
  mesh__outlier_free(o);

  /* the edge is inclusive: 1 of 4 at 25% */
  d.max_ejection_percent = 25;
  o = mk(&d, 4);
  statuses(o, 0, 500, 5, 0);
  statuses(o, 1, 500, 5, 0);
  cr_expect(mesh__outlier_is_ejected(o, 0));
  cr_expect_not(mesh__outlier_is_ejected(o, 1));
  mesh__outlier_free(o);
}

/* ------------------------------------------------------------ ejection time */

/* Ejects ep by five 5xx at now, then ticks every interval until it is back;
 * returns how long it stayed out. */
static uint64_t eject_and_wait(mesh__outlier *o, uint32_t ep, uint64_t *now, uint64_t interval) {
  statuses(o, ep, 500, 5, *now);
  cr_assert(mesh__outlier_is_ejected(o, ep));
  uint64_t start = *now;
  for (int guard = 0; guard < 100000 && mesh__outlier_is_ejected(o, ep); guard++) {
    *now += interval;
    mesh__outlier_tick(o, *now);
  }
  cr_assert_not(mesh__outlier_is_ejected(o, ep));
  return *now - start;
}

Test(outlier, ejection_time_grows_and_caps) {
  mesh__outlier_detection d = defaults();
  d.max_ejection_percent = 100;
  d.interval_ms = 1000;
  d.base_ejection_time_ms = 10000;
  d.max_ejection_time_ms = 25000;
  mesh__outlier *o = mk(&d, 1);
  uint64_t now = 0;
  /* re-ejected at once after each return: base x 1, x 2, then the cap */
  cr_expect_eq(eject_and_wait(o, 0, &now, 1000), 10000);
  cr_expect_eq(info(o, 0).multiplier, 1);
  cr_expect_eq(eject_and_wait(o, 0, &now, 1000), 20000);
  cr_expect_eq(eject_and_wait(o, 0, &now, 1000), 25000);
  cr_expect_eq(eject_and_wait(o, 0, &now, 1000), 25000);
  cr_expect_eq(eject_and_wait(o, 0, &now, 1000), 25000);
  /* grows while base x m < max + base: stops at 4 (40 s >= 35 s) */
  cr_expect_eq(info(o, 0).multiplier, 4);
  cr_expect_eq(info(o, 0).num_ejections, 5);
  cr_expect_eq(info(o, 0).consecutive_5xx, 0, "un-ejection clears the counters");
  mesh__outlier_free(o);
}

Test(outlier, unejection_clears_counters) {
  mesh__outlier_detection d = defaults();
  d.max_ejection_percent = 100;
  d.enforcing_consecutive_gateway_failure = 100;
  mesh__outlier *o = mk(&d, 1);
  statuses(o, 0, 500, 5, 0);
  cr_assert(mesh__outlier_is_ejected(o, 0));
  /* calls still in flight (or panic mode) keep reporting while it is out */
  statuses(o, 0, 503, 4, 1);
  cr_expect_eq(info(o, 0).consecutive_5xx, 4);
  cr_expect_eq(info(o, 0).consecutive_gateway_failure, 4);
  mesh__outlier_tick(o, 30000);
  cr_assert_not(mesh__outlier_is_ejected(o, 0));
  cr_expect_eq(info(o, 0).consecutive_5xx, 0);
  cr_expect_eq(info(o, 0).consecutive_gateway_failure, 0);
  statuses(o, 0, 503, 1, 30001);
  cr_expect_not(mesh__outlier_is_ejected(o, 0), "one failure after coming back is not five");
  mesh__outlier_free(o);
}

Test(outlier, multiplier_decreases_while_healthy) {
  mesh__outlier_detection d = defaults();
  d.max_ejection_percent = 100;
  d.interval_ms = 1000;
  d.base_ejection_time_ms = 10000;
  d.max_ejection_time_ms = 300000;
  mesh__outlier *o = mk(&d, 1);
  uint64_t now = 0;
  for (int i = 0; i < 3; i++) eject_and_wait(o, 0, &now, 1000);
  cr_expect_eq(info(o, 0).multiplier, 3);
  /* the tick that un-ejected does not count; the next one does */
  now += 1000;
  mesh__outlier_tick(o, now);
  cr_expect_eq(info(o, 0).multiplier, 2);
  now += 1000;
  mesh__outlier_tick(o, now);
  cr_expect_eq(info(o, 0).multiplier, 1);
  /* ejected now: base x 2 */
  cr_expect_eq(eject_and_wait(o, 0, &now, 1000), 20000);
  for (int i = 0; i < 5; i++) {
    now += 1000;
    mesh__outlier_tick(o, now);
  }
  cr_expect_eq(info(o, 0).multiplier, 0, "never below 0");
  cr_expect_eq(eject_and_wait(o, 0, &now, 1000), 10000);
  mesh__outlier_free(o);
}

Test(outlier, unejection_waits_for_the_time_and_jitter) {
  mesh__outlier_detection d = defaults();
  d.max_ejection_percent = 100;
  d.interval_ms = 100;
  d.base_ejection_time_ms = 1000;
  d.max_ejection_time_jitter_ms = 500;
  uint64_t min_seen = UINT64_MAX, max_seen = 0;
  for (uint64_t seed = 1; seed <= 200; seed++) {
    mesh__outlier *o = NULL;
    cr_assert_eq(mesh__outlier_new(&d, 1, seed, &o), 0);
    statuses(o, 0, 500, 5, 50);
    mesh__outlier_endpoint e = info(o, 0);
    cr_assert(e.ejected);
    cr_assert(e.eject_for_ms >= 1000 && e.eject_for_ms <= 1500, "%llu", (unsigned long long)e.eject_for_ms);
    if (e.eject_for_ms < min_seen) min_seen = e.eject_for_ms;
    if (e.eject_for_ms > max_seen) max_seen = e.eject_for_ms;
    /* still out one millisecond before; back at the first tick after */
    mesh__outlier_tick(o, 50 + e.eject_for_ms - 1);
    cr_expect(mesh__outlier_is_ejected(o, 0));
    mesh__outlier_tick(o, 50 + e.eject_for_ms);
    cr_expect_not(mesh__outlier_is_ejected(o, 0));
    cr_expect_eq(mesh__outlier_get_stats(o)->active, 0);
    mesh__outlier_free(o);
  }
  cr_expect(max_seen - min_seen > 250, "jitter spreads: %llu..%llu", (unsigned long long)min_seen,
            (unsigned long long)max_seen);
}

Test(outlier, time_going_backwards_is_harmless) {
  mesh__outlier_detection d = defaults();
  d.max_ejection_percent = 100;
  mesh__outlier *o = mk(&d, 1);
  statuses(o, 0, 500, 5, 100000);
  mesh__outlier_tick(o, 5);
  cr_expect(mesh__outlier_is_ejected(o, 0));
  mesh__outlier_tick(o, 100000 + 30000);
  cr_expect_not(mesh__outlier_is_ejected(o, 0));
  mesh__outlier_free(o);
}

/* ------------------------------------------------------------ success rate */

/* Envoy's defaults with the consecutive detectors off, so that a host
 * failing a run of calls is judged by the interval detectors alone. */
static mesh__outlier_detection interval_only(void) {
  mesh__outlier_detection d = defaults();
  d.consecutive_5xx = 0;
  d.consecutive_gateway_failure = 0;
  d.consecutive_local_origin_failure = 0;
  return d;
}

Test(outlier, success_rate_one_bad_of_ten) {
  mesh__outlier_detection d = interval_only();
  mesh__outlier *o = mk(&d, 10);
  for (uint32_t i = 0; i < 10; i++) load(o, i, i == 6 ? 70 : 100, 100, 0);
  cr_expect_not(mesh__outlier_is_ejected(o, 6), "only at the tick");
  mesh__outlier_tick(o, 10000);
  for (uint32_t i = 0; i < 10; i++) cr_expect_eq(mesh__outlier_is_ejected(o, i), i == 6, "endpoint %u", i);
  cr_expect_eq(mesh__outlier_get_stats(o)->enforced[MESH__OD_SUCCESS_RATE], 1);
  /* the next interval has no data: nothing more happens */
  mesh__outlier_tick(o, 20000);
  cr_expect_eq(mesh__outlier_get_stats(o)->active, 1);
  mesh__outlier_free(o);
}

Test(outlier, success_rate_uses_the_last_interval_only) {
  mesh__outlier_detection d = interval_only();
  d.max_ejection_percent = 100;
  mesh__outlier *o = mk(&d, 10);
  for (uint32_t i = 0; i < 10; i++) load(o, i, i == 6 ? 50 : 100, 100, 0);
  mesh__outlier_tick(o, 1); /* evaluated, ejected 6 */
  cr_expect(mesh__outlier_is_ejected(o, 6));
  for (uint32_t i = 0; i < 10; i++) load(o, i, i == 3 ? 50 : 100, 60, 2);
  mesh__outlier_tick(o, 3); /* volume 60 < 100: no evaluation */
  cr_expect_not(mesh__outlier_is_ejected(o, 3));
  mesh__outlier_free(o);
}

Test(outlier, success_rate_envoys_example_and_the_edge) {
  /* Envoy's comment: {50, 100, 100, 100, 100}: mean 90, stdev 20; factor
   * 1.9 gives a threshold of 52 (50 is out), factor 2.0 gives 50 (50 is
   * not below it: stays). */
  mesh__outlier_detection d = interval_only();
  d.max_ejection_percent = 100;
  for (int f = 0; f < 2; f++) {
    d.success_rate_stdev_factor = f ? 2000 : 1900;
    mesh__outlier *o = mk(&d, 5);
    load(o, 0, 50, 100, 0);
    for (uint32_t i = 1; i < 5; i++) load(o, i, 100, 100, 0);
    mesh__outlier_tick(o, 10000);
    cr_expect_eq(mesh__outlier_is_ejected(o, 0), f == 0, "factor %u", d.success_rate_stdev_factor);
    mesh__outlier_free(o);
  }
}

Test(outlier, success_rate_needs_volume_and_hosts) {
  mesh__outlier_detection d = interval_only();
  d.max_ejection_percent = 100;
  /* the bad host lacks volume: not judged */
  mesh__outlier *o = mk(&d, 10);
  for (uint32_t i = 0; i < 10; i++) load(o, i, i == 6 ? 0 : 100, i == 6 ? 99 : 100, 0);
  mesh__outlier_tick(o, 10000);
  cr_expect_eq(mesh__outlier_get_stats(o)->active, 0);
  mesh__outlier_free(o);
  /* only four hosts with volume (minimum 5): no detection at all */
  o = mk(&d, 10);
  for (uint32_t i = 0; i < 10; i++) load(o, i, i == 0 ? 0 : (i < 4 ? 100 : 10), i < 4 ? 100 : 10, 0);
  mesh__outlier_tick(o, 10000);
  cr_expect_eq(mesh__outlier_get_stats(o)->active, 0);
  mesh__outlier_free(o);
  /* a cluster smaller than both minimums: nothing is looked at */
  o = mk(&d, 4);
  for (uint32_t i = 0; i < 4; i++) load(o, i, i == 0 ? 0 : 100, 100, 0);
  mesh__outlier_tick(o, 10000);
  cr_expect_eq(mesh__outlier_get_stats(o)->active, 0);
  mesh__outlier_free(o);
  /* enforcing_success_rate 0: detected, not ejected */
  d.enforcing_success_rate = 0;
  o = mk(&d, 10);
  for (uint32_t i = 0; i < 10; i++) load(o, i, i == 2 ? 10 : 100, 100, 0);
  mesh__outlier_tick(o, 10000);
  cr_expect_eq(mesh__outlier_get_stats(o)->active, 0);
  cr_expect_eq(mesh__outlier_get_stats(o)->detected[MESH__OD_SUCCESS_RATE], 1);
  mesh__outlier_free(o);
}

Test(outlier, success_rate_respects_max_ejection_percent) {
  mesh__outlier_detection d = interval_only();
  d.max_ejection_percent = 10;
  d.failure_percentage_minimum_hosts = 1000; /* failure percentage off */
  mesh__outlier *o = mk(&d, 20);
  /* four of twenty fail everything: all four are outliers (mean 80,
   * stdev 40, threshold 4), two may go */
  for (uint32_t i = 0; i < 20; i++) load(o, i, i < 4 ? 0 : 100, 100, 0);
  mesh__outlier_tick(o, 10000);
  cr_expect_eq(mesh__outlier_get_stats(o)->detected[MESH__OD_SUCCESS_RATE], 4);
  cr_expect_eq(mesh__outlier_get_stats(o)->active, 2, "10%% of 20");
  cr_expect_eq(mesh__outlier_get_stats(o)->overflow, 2);
  mesh__outlier_free(o);
}

/* ------------------------------------------------------------ failure percentage */

Test(outlier, failure_percentage) {
  mesh__outlier_detection d = interval_only();
  d.max_ejection_percent = 100;
  d.enforcing_success_rate = 0; /* keep success rate out of the picture */
  d.enforcing_failure_percentage = 100;
  mesh__outlier *o = mk(&d, 6);
  load(o, 0, 10, 100, 0); /* 90% failures: out */
  load(o, 1, 15, 100, 0); /* 85%: the threshold is inclusive, out */
  load(o, 2, 16, 100, 0); /* 84%: stays */
  load(o, 3, 0, 49, 0);   /* all failed, but volume 49 < 50: stays */
  load(o, 4, 100, 100, 0);
  load(o, 5, 100, 100, 0);
  mesh__outlier_tick(o, 10000);
  cr_expect(mesh__outlier_is_ejected(o, 0));
  cr_expect(mesh__outlier_is_ejected(o, 1));
  cr_expect_not(mesh__outlier_is_ejected(o, 2));
  cr_expect_not(mesh__outlier_is_ejected(o, 3));
  cr_expect_eq(mesh__outlier_get_stats(o)->enforced[MESH__OD_FAILURE_PERCENTAGE], 2);
  mesh__outlier_free(o);

  /* enforcing_failure_percentage defaults to 0 */
  d = interval_only();
  d.max_ejection_percent = 100;
  d.enforcing_success_rate = 0;
  o = mk(&d, 6);
  for (uint32_t i = 0; i < 6; i++) load(o, i, i == 0 ? 0 : 100, 100, 0);
  mesh__outlier_tick(o, 10000);
  cr_expect_eq(mesh__outlier_get_stats(o)->active, 0);
  cr_expect_eq(mesh__outlier_get_stats(o)->detected[MESH__OD_FAILURE_PERCENTAGE], 1);
  mesh__outlier_free(o);

  /* failure_percentage_minimum_hosts: 5 with volume needed */
  d.enforcing_failure_percentage = 100;
  o = mk(&d, 6);
  for (uint32_t i = 0; i < 6; i++) load(o, i, i == 0 ? 0 : (i < 4 ? 100 : 10), i < 4 ? 100 : 10, 0);
  mesh__outlier_tick(o, 10000);
  cr_expect_eq(mesh__outlier_get_stats(o)->active, 0);
  mesh__outlier_free(o);
}

Test(outlier, local_origin_failure_percentage_split) {
  mesh__outlier_detection d = interval_only();
  d.max_ejection_percent = 100;
  d.split_external_local_origin_errors = true;
  d.consecutive_local_origin_failure = 0;
  d.enforcing_failure_percentage_local_origin = 100;
  d.enforcing_local_origin_success_rate = 0;
  mesh__outlier *o = mk(&d, 5);
  for (uint32_t i = 0; i < 5; i++) {
    results(o, i, MESH__OD_LOCAL_SUCCESS, i == 2 ? 5 : 100, 0);
    results(o, i, MESH__OD_LOCAL_CONNECT_FAILED, i == 2 ? 95 : 0, 0);
  }
  mesh__outlier_tick(o, 10000);
  cr_expect(mesh__outlier_is_ejected(o, 2));
  cr_expect_eq(mesh__outlier_get_stats(o)->enforced[MESH__OD_FAILURE_PERCENTAGE_LOCAL_ORIGIN], 1);
  cr_expect_eq(mesh__outlier_get_stats(o)->active, 1);
  mesh__outlier_free(o);

  /* not split: local results never reach the local-origin detectors */
  d.split_external_local_origin_errors = false;
  d.enforcing_failure_percentage = 0;
  d.enforcing_success_rate = 0;
  d.consecutive_5xx = 0;
  d.consecutive_gateway_failure = 0;
  o = mk(&d, 5);
  for (uint32_t i = 0; i < 5; i++) results(o, i, MESH__OD_LOCAL_CONNECT_FAILED, i == 2 ? 100 : 0, 0);
  mesh__outlier_tick(o, 10000);
  cr_expect_eq(mesh__outlier_get_stats(o)->detected[MESH__OD_FAILURE_PERCENTAGE_LOCAL_ORIGIN], 0);
  mesh__outlier_free(o);
}

Test(outlier, local_origin_success_rate_split) {
  mesh__outlier_detection d = interval_only();
  d.max_ejection_percent = 100;
  d.split_external_local_origin_errors = true;
  d.consecutive_local_origin_failure = 0;
  mesh__outlier *o = mk(&d, 10);
  for (uint32_t i = 0; i < 10; i++) {
    results(o, i, MESH__OD_LOCAL_SUCCESS, i == 4 ? 40 : 100, 0);
    results(o, i, MESH__OD_LOCAL_TIMEOUT, i == 4 ? 60 : 0, 0);
  }
  mesh__outlier_tick(o, 10000);
  cr_expect(mesh__outlier_is_ejected(o, 4));
  cr_expect_eq(mesh__outlier_get_stats(o)->enforced[MESH__OD_SUCCESS_RATE_LOCAL_ORIGIN], 1);
  cr_expect_eq(mesh__outlier_get_stats(o)->detected[MESH__OD_SUCCESS_RATE], 0, "no external data");
  mesh__outlier_free(o);
}

/* ------------------------------------------------------------ picker and remap */

Test(outlier, attached_picker_follows) {
  const char *addrs[] = {"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"};
  mesh__load_assignment *la = mkla(addrs, 3);
  mesh__cluster *c = mesh__cluster_new();
  c->healthy_panic_threshold = 0; /* no panic mode: ejected means unused */
  mesh__lb *lb = NULL;
  cr_assert_eq(mesh__lb_round_robin.create(c, la, 0, &lb), 0);
  mesh__outlier_detection d = defaults();
  d.max_ejection_percent = 100;
  mesh__outlier *o = mk(&d, 3);
  statuses(o, 1, 500, 5, 0); /* before attaching */
  cr_expect_eq(mesh__outlier_attach(o, lb), 0);
  cr_expect(mesh__lb_is_ejected(lb, 1), "attach applies the current state");
  for (int i = 0; i < 30; i++) cr_expect_neq(mesh__lb_pick(lb, NULL), 1);
  statuses(o, 2, 500, 5, 0);
  cr_expect(mesh__lb_is_ejected(lb, 2));
  for (int i = 0; i < 30; i++) cr_expect_eq(mesh__lb_pick(lb, NULL), 0);
  mesh__outlier_tick(o, 30000);
  cr_expect_not(mesh__lb_is_ejected(lb, 1));
  cr_expect_not(mesh__lb_is_ejected(lb, 2));

  mesh__outlier *small = mk(&d, 2);
  cr_expect_eq(mesh__outlier_attach(small, lb), MESH_EINVAL, "size mismatch");
  mesh__outlier_free(small);
  cr_expect_eq(mesh__outlier_attach(o, NULL), 0);
  statuses(o, 0, 500, 5, 40000);
  cr_expect_not(mesh__lb_is_ejected(lb, 0), "detached");
  mesh__outlier_free(o);
  mesh__lb_destroy(lb);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la);
}

Test(outlier, remap_carries_state_by_address) {
  const char *a1[] = {"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.2:81"};
  const char *a2[] = {"10.0.0.9:80", "10.0.0.3:80", "10.0.0.2:80", "10.0.0.2:81"};
  mesh__load_assignment *la1 = mkla(a1, 4), *la2 = mkla(a2, 4), *la_one = mkla(a1, 1);
  mesh__cluster *c = mesh__cluster_new();
  mesh__lb *lb1 = NULL, *lb2 = NULL;
  cr_assert_eq(mesh__lb_round_robin.create(c, la1, 0, &lb1), 0);
  cr_assert_eq(mesh__lb_round_robin.create(c, la2, 0, &lb2), 0);
  mesh__outlier_detection d = defaults();
  d.max_ejection_percent = 100;
  mesh__outlier *o = mk(&d, 4);
  cr_assert_eq(mesh__outlier_attach(o, lb1), 0);
  statuses(o, 1, 500, 5, 0); /* 10.0.0.2:80 out */
  statuses(o, 2, 500, 3, 0); /* 10.0.0.3:80: three in a row */
  statuses(o, 0, 500, 5, 0); /* 10.0.0.1:80 out, then removed */
  cr_expect_eq(mesh__outlier_get_stats(o)->active, 2);

  cr_expect_eq(mesh__outlier_remap(o, la_one, la2), MESH_EINVAL, "old_la must match the count");
  cr_assert_eq(mesh__outlier_remap(o, la1, la2), 0);
  cr_expect_eq(mesh__outlier_n_endpoints(o), 4);
  cr_expect_not(mesh__outlier_is_ejected(o, 0), "new endpoint starts clean");
  cr_expect_eq(info(o, 1).consecutive_5xx, 3, "10.0.0.3:80 kept its counter");
  cr_expect(mesh__outlier_is_ejected(o, 2), "10.0.0.2:80 stays out");
  cr_expect_eq(info(o, 2).multiplier, 1);
  cr_expect_not(mesh__outlier_is_ejected(o, 3), "same address, other port");
  cr_expect_eq(mesh__outlier_get_stats(o)->active, 1, "the removed one no longer counts");
  /* the old picker is detached: changes go to the new one after attach */
  statuses(o, 1, 500, 2, 0);
  cr_expect(mesh__outlier_is_ejected(o, 1));
  cr_expect_not(mesh__lb_is_ejected(lb1, 2));
  cr_assert_eq(mesh__outlier_attach(o, lb2), 0);
  mesh__lb_destroy(lb1);
  cr_expect(mesh__lb_is_ejected(lb2, 1));
  cr_expect(mesh__lb_is_ejected(lb2, 2));
  mesh__outlier_tick(o, 30000);
  cr_expect_not(mesh__lb_is_ejected(lb2, 2), "back on time, through the new picker");
  mesh__outlier_free(o);
  mesh__lb_destroy(lb2);
  mesh__cluster_unref(c);
  mesh__load_assignment_unref(la1);
  mesh__load_assignment_unref(la2);
  mesh__load_assignment_unref(la_one);
}

Test(outlier, remap_duplicates_and_shrinking) {
  const char *a1[] = {"10.0.0.1:80", "10.0.0.1:80", "10.0.0.2:80"};
  const char *a2[] = {"10.0.0.1:80"};
  mesh__load_assignment *la1 = mkla(a1, 3), *la2 = mkla(a2, 1), *la0 = mkla(a2, 0);
  mesh__outlier_detection d = defaults();
  d.max_ejection_percent = 100;
  mesh__outlier *o = mk(&d, 3);
  statuses(o, 0, 500, 5, 0);
  statuses(o, 1, 500, 2, 0);
  cr_assert_eq(mesh__outlier_remap(o, la1, la2), 0);
  cr_expect(mesh__outlier_is_ejected(o, 0), "duplicates pair up in order: the first one");
  cr_expect_eq(mesh__outlier_get_stats(o)->active, 1);
  cr_assert_eq(mesh__outlier_remap(o, la2, la0), 0);
  cr_expect_eq(mesh__outlier_n_endpoints(o), 0);
  cr_expect_eq(mesh__outlier_get_stats(o)->active, 0);
  mesh__outlier_tick(o, 100000);
  mesh__outlier_free(o);
  mesh__load_assignment_unref(la0);
  mesh__load_assignment_unref(la1);
  mesh__load_assignment_unref(la2);
}

/* ------------------------------------------------------------ invariants */

/* Random reports and ticks under random configurations: the active count
 * matches the flags, the cap holds, ejections end within their time plus
 * one interval, and nothing crashes. */
Test(outlier, random_walk_invariants) {
  uint64_t r = 12345;
#define RND() (r ^= r << 13, r ^= r >> 7, r ^= r << 17, r)
  for (int round = 0; round < 200; round++) {
    mesh__outlier_detection d = defaults();
    d.interval_ms = 1 + RND() % 50;
    d.base_ejection_time_ms = 1 + RND() % 200;
    d.max_ejection_time_ms = d.base_ejection_time_ms + RND() % 500;
    d.max_ejection_time_jitter_ms = RND() % 3 ? 0 : RND() % 100;
    d.max_ejection_percent = (uint32_t)(RND() % 101);
    d.always_eject_one_host = RND() % 2;
    d.split_external_local_origin_errors = RND() % 2;
    d.consecutive_5xx = (uint32_t)(RND() % 6);
    d.consecutive_gateway_failure = (uint32_t)(RND() % 6);
    d.consecutive_local_origin_failure = (uint32_t)(RND() % 6);
    d.enforcing_consecutive_gateway_failure = (uint32_t)(RND() % 101);
    d.enforcing_failure_percentage = (uint32_t)(RND() % 101);
    d.enforcing_failure_percentage_local_origin = (uint32_t)(RND() % 101);
    d.success_rate_request_volume = (uint32_t)(RND() % 20);
    d.failure_percentage_request_volume = (uint32_t)(RND() % 20);
    d.success_rate_minimum_hosts = (uint32_t)(RND() % 6);
    d.failure_percentage_minimum_hosts = (uint32_t)(RND() % 6);
    d.failure_percentage_threshold = (uint32_t)(RND() % 101);
    d.success_rate_stdev_factor = (uint32_t)(RND() % 3000);
    uint32_t n = (uint32_t)(RND() % 12);
    mesh__outlier *o = NULL;
    cr_assert_eq(mesh__outlier_new(&d, n, RND(), &o), 0);
    uint64_t now = RND() % 1000, next = now + d.interval_ms;
    for (int step = 0; step < 3000; step++) {
      now += RND() % 5;
      if (now >= next) next = mesh__outlier_tick(o, now);
      uint32_t ep = (uint32_t)(RND() % (n + 1)); /* n: out of range */
      int kind = (int)(RND() % 9);
      if (kind < 7) mesh__outlier_report(o, ep, kind, now);
      else if (kind == 7) mesh__outlier_report_status(o, ep, (int)(RND() % 700), now);
      else mesh__outlier_report(o, ep, 99, now); /* unknown result: ignored */
      uint32_t active = 0;
      for (uint32_t i = 0; i < n; i++) {
        mesh__outlier_endpoint e = info(o, i);
        active += e.ejected;
        if (e.ejected)
          cr_assert(now - e.ejected_at_ms <= e.eject_for_ms + d.interval_ms + 5, "ejected too long");
        cr_assert_leq(e.eject_for_ms, d.max_ejection_time_ms + d.max_ejection_time_jitter_ms);
      }
      cr_assert_eq(active, mesh__outlier_get_stats(o)->active);
      if (active > 1 || !d.always_eject_one_host)
        cr_assert_leq((uint64_t)active * 100, (uint64_t)d.max_ejection_percent * n, "cap");
    }
    mesh__outlier_free(o);
  }
#undef RND
}

/* ------------------------------------------------------------ mappings */

Test(outlier, grpc_status_and_error_mapping) {
  cr_expect_eq(mesh__outlier_grpc_to_http(0), 200);
  cr_expect_eq(mesh__outlier_grpc_to_http(4), 504);
  cr_expect_eq(mesh__outlier_grpc_to_http(8), 429);
  cr_expect_eq(mesh__outlier_grpc_to_http(12), 501);
  cr_expect_eq(mesh__outlier_grpc_to_http(14), 503);
  cr_expect_eq(mesh__outlier_grpc_to_http(16), 401);
  cr_expect_eq(mesh__outlier_grpc_to_http(17), 500);
  cr_expect_eq(mesh__outlier_grpc_to_http(-1), 500);
  cr_expect_str_eq(mesh__outlier_type_name(MESH__OD_CONSECUTIVE_GATEWAY_FAILURE), "consecutive_gateway_failure");
  cr_expect_eq(mesh__outlier_result_for_error(MESH_ECONNECT), MESH__OD_LOCAL_CONNECT_FAILED);
  cr_expect_eq(mesh__outlier_result_for_error(MESH_ECONNECT_TIMEOUT), MESH__OD_LOCAL_CONNECT_FAILED);
  cr_expect_eq(mesh__outlier_result_for_error(MESH_ERESET), MESH__OD_LOCAL_RESET);
  cr_expect_eq(mesh__outlier_result_for_error(MESH_EPROTOCOL), MESH__OD_LOCAL_RESET);
  cr_expect_eq(mesh__outlier_result_for_error(MESH_ETIMEOUT), MESH__OD_LOCAL_TIMEOUT);
  const int uncharged[] = {MESH_OK, MESH_ECANCELED, MESH_EOVERFLOW, MESH_ENOMEM, MESH_ETOOLARGE, MESH_EDNS,
                           MESH_ENOHEALTHY, MESH_ENOROUTE, 12345};
  for (size_t i = 0; i < sizeof uncharged / sizeof uncharged[0]; i++)
    cr_expect_eq(mesh__outlier_result_for_error(uncharged[i]), -1, "%d", uncharged[i]);
}

/* ------------------------------------------------------------ CDS checks */

typedef Envoy__Config__Cluster__V3__Cluster Cluster;

static Google__Protobuf__UInt32Value u32s[16];
static size_t nu32;
static Google__Protobuf__UInt32Value *u32(uint32_t v) {
  cr_assert_lt(nu32, 16);
  Google__Protobuf__UInt32Value *w = &u32s[nu32++];
  *w = (Google__Protobuf__UInt32Value)GOOGLE__PROTOBUF__UINT32_VALUE__INIT;
  w->value = v;
  return w;
}

static Google__Protobuf__Duration durs[16];
static size_t ndur;
static Google__Protobuf__Duration *dur(int64_t s, int32_t nanos) {
  cr_assert_lt(ndur, 16);
  Google__Protobuf__Duration *d = &durs[ndur++];
  *d = (Google__Protobuf__Duration)GOOGLE__PROTOBUF__DURATION__INIT;
  d->seconds = s;
  d->nanos = nanos;
  return d;
}

/* translate m; *err gets the reason on failure. */
static int translate(const Cluster *m, mesh__outlier_detection *out, char *err, size_t errlen) {
  mesh__cluster *c = NULL;
  int rc = mesh__cds_translate(m, &c, err, errlen, NULL);
  if (rc == 0) {
    *out = c->outlier;
    cr_expect(c->has_outlier_detection);
    mesh__cluster_unref(c);
  }
  return rc;
}

Test(outlier_cds, validation) {
  Cluster m = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__INIT;
  m.name = (char *)"c";
  m.cluster_discovery_type_case = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__CLUSTER_DISCOVERY_TYPE_TYPE;
  m.type = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__EDS;
  Envoy__Config__Cluster__V3__Cluster__EdsClusterConfig eds = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__EDS_CLUSTER_CONFIG__INIT;
  Envoy__Config__Core__V3__ConfigSource src = ENVOY__CONFIG__CORE__V3__CONFIG_SOURCE__INIT;
  Envoy__Config__Core__V3__AggregatedConfigSource ads = ENVOY__CONFIG__CORE__V3__AGGREGATED_CONFIG_SOURCE__INIT;
  src.config_source_specifier_case = ENVOY__CONFIG__CORE__V3__CONFIG_SOURCE__CONFIG_SOURCE_SPECIFIER_ADS;
  src.ads = &ads;
  eds.eds_config = &src;
  m.eds_cluster_config = &eds;
  Envoy__Config__Cluster__V3__OutlierDetection od = ENVOY__CONFIG__CLUSTER__V3__OUTLIER_DETECTION__INIT;
  m.outlier_detection = &od;
  mesh__outlier_detection o;
  char err[512] = "";

  /* An unset max_ejection_time is max(300 s, base_ejection_time) (Envoy). */
  od.base_ejection_time = dur(400, 0);
  cr_assert_eq(translate(&m, &o, err, sizeof err), 0, "%s", err);
  cr_expect_eq(o.max_ejection_time_ms, 400000);
  mesh__outlier *det = NULL;
  cr_expect_eq(mesh__outlier_new(&o, 3, 1, &det), 0, "what CDS accepts, the detector takes");
  mesh__outlier_free(det);
  /* A set one below base_ejection_time is an error naming the field. */
  od.max_ejection_time = dur(399, 0);
  cr_expect_eq(translate(&m, &o, err, sizeof err), -1);
  cr_expect(strstr(err, "outlier_detection.max_ejection_time: 399000ms is smaller than base_ejection_time (400000ms)"),
            "%s", err);
  od.max_ejection_time = dur(400, 0);
  cr_expect_eq(translate(&m, &o, err, sizeof err), 0, "equal is fine: %s", err);
  od.base_ejection_time = NULL;
  od.max_ejection_time = NULL;

  /* gRFC A50 / Envoy PGV: percentages <= 100, durations > 0. */
  od.enforcing_failure_percentage = u32(101);
  cr_expect_eq(translate(&m, &o, err, sizeof err), -1);
  cr_expect(strstr(err, "outlier_detection.enforcing_failure_percentage: 101 is above the maximum 100"), "%s", err);
  od.enforcing_failure_percentage = u32(100);
  od.failure_percentage_threshold = u32(200);
  cr_expect_eq(translate(&m, &o, err, sizeof err), -1);
  cr_expect(strstr(err, "outlier_detection.failure_percentage_threshold"), "%s", err);
  od.failure_percentage_threshold = NULL;
  od.base_ejection_time = dur(0, 0);
  cr_expect_eq(translate(&m, &o, err, sizeof err), -1);
  cr_expect(strstr(err, "outlier_detection.base_ejection_time: must be greater than 0"), "%s", err);
  od.base_ejection_time = dur(-1, 0);
  cr_expect_eq(translate(&m, &o, err, sizeof err), -1);
  cr_expect(strstr(err, "outlier_detection.base_ejection_time: not a valid non-negative duration"), "%s", err);
  od.base_ejection_time = NULL;
  od.max_ejection_time_jitter = dur(0, 0);
  od.success_rate_stdev_factor = u32(1000);
  cr_assert_eq(translate(&m, &o, err, sizeof err), 0, "%s", err);
  cr_expect_eq(o.max_ejection_time_jitter_ms, 0);
  cr_expect_eq(o.success_rate_stdev_factor, 1000);
  cr_expect_eq(o.enforcing_failure_percentage, 100);
  cr_expect_eq(o.max_ejection_time_ms, 300000);
}
