/* Circuit breakers and retry budgets per cluster and routing priority
 * (Envoy's ResourceManager): counters the router and the pools keep on
 * the loop thread, checked against the cluster's thresholds. A state
 * outlives config updates (carried over by cluster name) so that calls
 * and connections opened under an old snapshot are counted where the new
 * one looks. */
#ifndef MESH_UPSTREAM_BREAKER_H
#define MESH_UPSTREAM_BREAKER_H

#include <stdint.h>

#include "model/cluster.h"

typedef struct mesh__cb_count {
  uint32_t rq_active;   /* attempts in flight: bound to, or waiting for, a connection */
  uint32_t rq_pending;  /* of those, waiting for a connection */
  uint32_t rq_retry;    /* retries scheduled and not yet concluded */
  uint32_t cx;          /* connections open or opening */
  uint32_t peak_retry, peak_active;
} mesh__cb_count;

typedef struct mesh__cb_state {
  struct mesh__cb_state *next; /* the router's list */
  char *name;                  /* the cluster's */
  mesh__cb_thresholds th[2];   /* copied from the newest cluster of that name */
  mesh__cb_count n[2];         /* MESH__ROUTING_* */
} mesh__cb_state;

/* Envoy's RetryBudgetImpl::max(): budget_percent of the active and
 * pending requests, at least min_retry_concurrency; without a budget,
 * max_retries. */
static inline uint32_t mesh__cb_retry_bound(const mesh__cb_thresholds *t, const mesh__cb_count *n) {
  if (!t->has_retry_budget) return t->max_retries;
  double b = t->retry_budget_percent / 100.0 * (double)n->rq_active; /* pending included */
  uint32_t v = b >= 4294967295.0 ? UINT32_MAX : (uint32_t)b;
  return v > t->retry_budget_min_concurrency ? v : t->retry_budget_min_concurrency;
}

#endif
