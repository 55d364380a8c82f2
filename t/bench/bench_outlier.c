/*
 * bench_outlier: the cost of outlier detection, run by `make bench`.
 *
 * One detector over 1000 endpoints with Envoy's defaults, success rate and
 * failure percentage both enforced. Two figures:
 *
 *   outlier_report: what a call pays when it ends (one report). The
 *     results are drawn before timing: random endpoints, 1% gateway
 *     failures, 1% local connect failures, so the consecutive counters
 *     move but rarely fire. Timed in batches of BATCH reports (the clock's
 *     own cost spread over the batch); p50/p90/p99 of the per-report figure
 *     over the batches.
 *   outlier_tick: one interval tick after every endpoint got 200 reports
 *     (so both interval detectors run over 1000 endpoints); the median of
 *     TICKS ticks, each after a fresh interval of reports (not timed).
 *
 * Output:
 *   bench: case=outlier_report endpoints=1000 p50_ns=... p90_ns=... p99_ns=...
 *   bench: case=outlier_tick endpoints=1000 p50_ns=... p90_ns=...
 * The process is pinned to one CPU; figures from a loaded machine are noisy.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "upstream/outlier.h"

#define NEP 1000
#define NRES (1 << 16)
#define BATCH 1000
#define NBATCH 2000
#define TICKS 51

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static mesh__outlier_detection config(void) {
  /* Envoy's defaults (model/cluster.c), both interval detectors enforced. */
  mesh__outlier_detection d = {
      .consecutive_5xx = 5,
      .interval_ms = 10000,
      .base_ejection_time_ms = 30000,
      .max_ejection_percent = 10,
      .enforcing_consecutive_5xx = 100,
      .enforcing_success_rate = 100,
      .success_rate_minimum_hosts = 5,
      .success_rate_request_volume = 100,
      .success_rate_stdev_factor = 1900,
      .consecutive_gateway_failure = 5,
      .enforcing_consecutive_gateway_failure = 100,
      .consecutive_local_origin_failure = 5,
      .enforcing_consecutive_local_origin_failure = 100,
      .enforcing_local_origin_success_rate = 100,
      .failure_percentage_threshold = 85,
      .enforcing_failure_percentage = 100,
      .failure_percentage_minimum_hosts = 5,
      .failure_percentage_request_volume = 50,
      .max_ejection_time_ms = 300000,
  };
  return d;
}

int main(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &set);
  sched_setaffinity(0, sizeof set, &set); /* best effort */

  mesh__outlier_detection d = config();
  mesh__outlier *o = NULL;
  if (mesh__outlier_new(&d, NEP, 1, &o) != 0) {
    fprintf(stderr, "bench_outlier: mesh__outlier_new failed\n");
    return 2;
  }
  uint32_t *ep = malloc(NRES * sizeof *ep);
  uint8_t *res = malloc(NRES);
  double *per = malloc(NBATCH * sizeof *per);
  if (!ep || !res || !per) return 2;
  for (int i = 0; i < NRES; i++) {
    ep[i] = (uint32_t)(rnd() % NEP);
    uint64_t r = rnd() % 100;
    res[i] = r == 0 ? MESH__OD_GATEWAY_FAILURE : r == 1 ? MESH__OD_LOCAL_CONNECT_FAILED : MESH__OD_SUCCESS;
  }

  /* report */
  uint64_t now = 0;
  size_t next = 0;
  for (int i = 0; i < NRES; i++) mesh__outlier_report(o, ep[i], res[i], now); /* warm up */
  for (int b = 0; b < NBATCH; b++) {
    uint64_t t0 = now_ns();
    for (int k = 0; k < BATCH; k++, next++) mesh__outlier_report(o, ep[next & (NRES - 1)], res[next & (NRES - 1)], now);
    uint64_t t1 = now_ns();
    per[b] = (double)(t1 - t0) / BATCH;
    if ((b & 63) == 63) now = mesh__outlier_tick(o, now + d.interval_ms) - d.interval_ms; /* keep it realistic */
  }
  qsort(per, NBATCH, sizeof *per, cmp_double);
  printf("bench: case=outlier_report endpoints=%d p50_ns=%.1f p90_ns=%.1f p99_ns=%.1f batch=%d batches=%d\n", NEP,
         per[NBATCH / 2], per[NBATCH * 9 / 10], per[NBATCH * 99 / 100], BATCH, NBATCH);

  /* tick */
  double ticks[TICKS];
  for (int t = 0; t < TICKS; t++) {
    for (int i = 0; i < NEP * 200; i++) mesh__outlier_report(o, ep[i & (NRES - 1)], res[i & (NRES - 1)], now);
    for (uint32_t e = 0; e < NEP; e++) mesh__outlier_report(o, e, MESH__OD_SUCCESS, now);
    now += d.interval_ms;
    uint64_t t0 = now_ns();
    mesh__outlier_tick(o, now);
    ticks[t] = (double)(now_ns() - t0);
  }
  qsort(ticks, TICKS, sizeof ticks[0], cmp_double);
  printf("bench: case=outlier_tick endpoints=%d p50_ns=%.0f p90_ns=%.0f ejections=%llu\n", NEP, ticks[TICKS / 2],
         ticks[TICKS * 9 / 10], (unsigned long long)mesh__outlier_get_stats(o)->enforced_total);
  free(ep);
  free(res);
  free(per);
  mesh__outlier_free(o);
  return 0;
}
