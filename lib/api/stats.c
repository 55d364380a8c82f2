/* mesh_stat(): the handle's resilience counters by name. */
#include <string.h>

#include <pthread.h>

#include "upstream/core.h"
#include "upstream/router.h"

const char *const mesh__stat_names[MESH__ST_FLAG0] = {
    "upstream_rq_retry",
    "upstream_rq_retry_success",
    "upstream_rq_retry_overflow",
    "upstream_rq_retry_limit_exceeded",
    "upstream_rq_retry_backoff_ratelimited",
    "upstream_rq_per_try_timeout",
    "upstream_rq_per_try_idle_timeout",
    "upstream_rq_timeout",
    "upstream_rq_pending_overflow",
    "upstream_rq_overflow",
    "upstream_cx_overflow",
    "upstream_cx_idle_timeout",
    "retry_active_peak",
    "rq_active_peak",
    "attempts_max",
    "outlier_detection.ejections_enforced_total",
    "fault.delays_injected",
    "fault.aborts_injected",
    "fault.faults_overflow",
};

/* Gauges are read on the loop thread, where the breakers count. */
static const char *const gauge_names[4] = {"rq_active", "rq_pending", "rq_retry_active", "cx_active"};

typedef struct gauge_req {
  uint64_t v[4];
} gauge_req;

static void read_gauges(struct mesh *m, void *arg) { mesh__router_gauges(m, ((gauge_req *)arg)->v); }

int mesh_stat(mesh *m, const char *name, uint64_t *value) {
  if (!m || !name || !value || m->magic != MESH__MAGIC) return MESH_EINVAL;
  for (int k = 0; k < 4; k++) {
    if (strcmp(name, gauge_names[k])) continue;
    gauge_req g;
    if (m->attached && !pthread_equal(pthread_self(), m->owner)) return MESH_EWRONGTHREAD;
    int rc = mesh__run_on_loop(m, read_gauges, &g);
    if (rc == MESH_OK) *value = g.v[k];
    return rc;
  }
  int i = -1;
  for (int k = 0; k < MESH__ST_FLAG0 && i < 0; k++)
    if (!strcmp(name, mesh__stat_names[k])) i = k;
  if (i < 0 && !strncmp(name, "response_flags.", 15))
    for (int k = 0; k < MESH__RF_COUNT && i < 0; k++)
      if (!strcmp(name + 15, mesh__response_flag_names[k])) i = MESH__ST_FLAG0 + k;
  if (i < 0) return MESH_ENOTFOUND;
  *value = __atomic_load_n(&m->stats[i], __ATOMIC_RELAXED);
  return MESH_OK;
}
