/* Per-handle counters of the resilience layer: written on the loop thread
 * with relaxed atomics (no lock, no fence), read from any thread by
 * mesh_stat(). Kept off the hot path: a call that needs no retry and ends
 * normally touches none of them. */
#ifndef MESH_UPSTREAM_STATS_H
#define MESH_UPSTREAM_STATS_H

#include <stdint.h>

enum mesh__stat {
  MESH__ST_RETRY = 0,          /* upstream_rq_retry: retries scheduled */
  MESH__ST_RETRY_SUCCESS,      /* upstream_rq_retry_success */
  MESH__ST_RETRY_OVERFLOW,     /* upstream_rq_retry_overflow: refused by max_retries / the budget */
  MESH__ST_RETRY_LIMIT,        /* upstream_rq_retry_limit_exceeded */
  MESH__ST_RETRY_BACKOFF_RL,   /* upstream_rq_retry_backoff_ratelimited */
  MESH__ST_PER_TRY_TIMEOUT,    /* upstream_rq_per_try_timeout */
  MESH__ST_PER_TRY_IDLE_TIMEOUT, /* upstream_rq_per_try_idle_timeout */
  MESH__ST_RQ_TIMEOUT,         /* upstream_rq_timeout */
  MESH__ST_PENDING_OVERFLOW,   /* upstream_rq_pending_overflow */
  MESH__ST_RQ_OVERFLOW,        /* upstream_rq_overflow (max_requests) */
  MESH__ST_CX_OVERFLOW,        /* upstream_cx_overflow (max_connections) */
  MESH__ST_CX_IDLE_TIMEOUT,    /* upstream_cx_idle_timeout */
  MESH__ST_RETRY_ACTIVE_PEAK,  /* most retries in flight at once in one cluster and priority */
  MESH__ST_RQ_ACTIVE_PEAK,     /* most attempts in flight at once in one cluster and priority */
  MESH__ST_ATTEMPTS_MAX,       /* most attempts one call made */
  MESH__ST_OUTLIER_EJECTIONS,  /* outlier_detection.ejections_enforced_total */
  MESH__ST_FAULT_DELAYS,       /* fault.delays_injected */
  MESH__ST_FAULT_ABORTS,       /* fault.aborts_injected */
  MESH__ST_FAULT_OVERFLOW,     /* fault.faults_overflow: not injected, max_active_faults reached */
  MESH__ST_FLAG0,              /* response_flags.<CODE>: calls that ended with the flag */
  MESH__ST_COUNT = MESH__ST_FLAG0 + 14
};

extern const char *const mesh__stat_names[MESH__ST_FLAG0];

/* Only the loop thread writes: a relaxed load and store (no locked
 * instruction) are enough for readers on other threads. */
static inline void mesh__stat_add(uint64_t *st, int i, uint64_t v) {
  __atomic_store_n(&st[i], __atomic_load_n(&st[i], __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

static inline void mesh__stat_max(uint64_t *st, int i, uint64_t v) {
  if (v > __atomic_load_n(&st[i], __ATOMIC_RELAXED)) __atomic_store_n(&st[i], v, __ATOMIC_RELAXED);
}

#endif
