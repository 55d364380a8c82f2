/*
 * bench_lb: cost of one load-balancer pick, per policy, run by `make bench`.
 *
 * One cluster of 1000 healthy endpoints in one priority, weights all 1
 * (the common case: plain rotation, uniform draws, two choices), default
 * policy settings (ring: minimum 1024, maglev: 65537 slots). Every pick
 * gets a fresh random number and, for the hash policies, a fresh request
 * hash, both generated before timing. least_request and peak_ewma count
 * active requests, so each pick is released at once and the release is
 * inside the timed loop (peak_ewma with a latency, so it reads the clock
 * twice per pick: its figure includes that).
 *
 * Timing as bench_route: the monotonic clock around batches of BATCH
 * picks, the batch time divided by BATCH, p50/p90/p99 over the batches.
 * The process is pinned to one CPU; a warm-up pass runs first.
 *
 * Output, one line per policy:
 *   bench: case=lb_pick policy=<name> endpoints=1000 p50_ns=... p90_ns=... p99_ns=...
 * Exit status 1 when round_robin, least_request, random or maglev has a
 * p50 above TARGET_P50_NS (not in sanitizer builds).
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

#include "lb/lb.h"
#include "mesh/mesh.h"
#include "model/cluster.h"

#define NEP 1000
#define NCTX 65536
#define BATCH 64
#define NBATCH 20000
#define TARGET_P50_NS 100

#include "sanitized.h"

static void die(const char *what) {
  fprintf(stderr, "bench_lb: %s\n", what);
  exit(2);
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

static mesh__load_assignment *endpoints(void) {
  mesh__load_assignment *la = mesh__load_assignment_new(1, NEP);
  if (!la) die("out of memory");
  char addr[32], why[128];
  for (uint32_t k = 0; k < NEP; k++) {
    mesh__endpoint *ep = &la->endpoints[k];
    snprintf(addr, sizeof addr, "10.1.%u.%u", k / 256, k % 256);
    if (mesh__endpoint_set_address(la, ep, addr, 8080, true, why, sizeof why)) die(why);
    ep->weight = 1;
  }
  if (mesh__load_assignment_seal(la, why, sizeof why)) die(why);
  return la;
}

static volatile int sink;

/* Times vt's pick (and release, for the policies that count requests)
 * and prints its line; returns its p50. */
static double bench(const mesh__lb_vtable *vt, const mesh__cluster *c, const mesh__load_assignment *la,
                    const mesh__lb_ctx *ctx) {
  mesh__lb *lb = NULL;
  if (vt->create(c, la, 12345, &lb)) die("create failed");
  bool rel = vt->release != NULL;
  size_t next = 0;
  int acc = 0;
  for (int i = 0; i < NCTX; i++) { /* warm up: tables in cache as far as they fit */
    int e = mesh__lb_pick(lb, &ctx[i]);
    if (rel) mesh__lb_release_timed(lb, e, MESH__LB_OK, 1000000);
    acc += e;
  }
  double *per = malloc(NBATCH * sizeof *per);
  if (!per) die("out of memory");
  for (int b = 0; b < NBATCH; b++) {
    uint64_t t0 = now_ns();
    if (rel) {
      for (int k = 0; k < BATCH; k++) {
        int e = mesh__lb_pick(lb, &ctx[next++ & (NCTX - 1)]);
        mesh__lb_release_timed(lb, e, MESH__LB_OK, 1000000);
        acc += e;
      }
    } else {
      for (int k = 0; k < BATCH; k++) acc += mesh__lb_pick(lb, &ctx[next++ & (NCTX - 1)]);
    }
    per[b] = (double)(now_ns() - t0) / BATCH;
  }
  sink = acc;
  qsort(per, NBATCH, sizeof *per, cmp_double);
  double p50 = per[NBATCH / 2], p90 = per[NBATCH * 9 / 10], p99 = per[NBATCH * 99 / 100];
  printf("bench: case=lb_pick policy=%s endpoints=%d p50_ns=%.1f p90_ns=%.1f p99_ns=%.1f batch=%d batches=%d%s\n",
         vt->name, NEP, p50, p90, p99, BATCH, NBATCH, SANITIZED ? " sanitized=1" : "");
  fflush(stdout);
  free(per);
  mesh__lb_destroy(lb);
  return p50;
}

int main(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &set);
  sched_setaffinity(0, sizeof set, &set); /* best effort */

  mesh__cluster *c = mesh__cluster_new();
  if (!c) die("out of memory");
  mesh__load_assignment *la = endpoints();
  mesh__lb_ctx *ctx = calloc(NCTX, sizeof *ctx);
  if (!ctx) die("out of memory");
  uint64_t x = 0x5eed;
  for (int i = 0; i < NCTX; i++) {
    ctx[i].random = mesh__lb_splitmix64(&x);
    ctx[i].hash = mesh__lb_splitmix64(&x);
    ctx[i].has_hash = 1;
  }
  static const struct {
    const mesh__lb_vtable *vt;
    bool target;
  } pol[] = {{&mesh__lb_round_robin, true}, {&mesh__lb_least_request, true}, {&mesh__lb_random, true},
             {&mesh__lb_maglev, true},      {&mesh__lb_ring_hash, false},    {&mesh__lb_peak_ewma, false}};
  int rc = 0;
  for (size_t i = 0; i < sizeof pol / sizeof pol[0]; i++) {
    double p50 = bench(pol[i].vt, c, la, ctx);
    if (pol[i].target && p50 > TARGET_P50_NS && !SANITIZED) {
      fprintf(stderr, "bench_lb: %s p50 %.1f ns is above the %d ns target\n", pol[i].vt->name, p50, TARGET_P50_NS);
      rc = 1;
    }
  }
  free(ctx);
  mesh__load_assignment_unref(la);
  mesh__cluster_unref(c);
  return rc;
}
