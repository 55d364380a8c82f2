/* Outlier detection (passive health checking), Envoy's semantics.
 *
 * One mesh__outlier watches one cluster's endpoints for one worker: it is
 * told how each call to an endpoint went (mesh__outlier_report*), and ejects
 * endpoints that fail too often in a row (consecutive 5xx, gateway failures,
 * local-origin failures) or that stand out in the last interval (success
 * rate, failure percentage). An interval timer, driven by the owner through
 * mesh__outlier_tick(), runs the interval detectors and brings ejected
 * endpoints back.
 *
 * The module is pure: no sockets, no event loop, no clock. Time is passed
 * in (monotonic milliseconds); randomness (enforcement draws, ejection
 * jitter) comes from a generator seeded at creation, so a run is
 * reproducible. Not thread-safe: the owning worker calls it.
 *
 * Ejection reaches the load balancer through an attached picker
 * (mesh__outlier_attach): the module calls mesh__lb_set_ejected() on it
 * when an endpoint is ejected or brought back. After an EDS update the
 * owner builds a new picker, carries the state over with
 * mesh__outlier_remap() (endpoints are matched by address and port) and
 * attaches the new picker.
 *
 * Endpoint indices are flat indices of the cluster's load assignment
 * (model/cluster.h). A report for an index out of range is ignored.
 *
 * What an owner does (the router, per cluster with has_outlier_detection):
 *  - per attempt, once it has a connection: MESH__OD_LOCAL_SUCCESS;
 *  - on final response headers (status >= 200): report_status(status), or
 *    for gRPC with grpc-status in those headers,
 *    report_status(mesh__outlier_grpc_to_http(grpc-status));
 *  - when an attempt fails: mesh__outlier_result_for_error(err), if >= 0
 *    (a MESH__OD_LOCAL_TIMEOUT only when no status was reported for it);
 *  - calls the tick at the time it returns (the first one interval_ms
 *    after creation);
 *  - on a new picker for the same endpoints: attach it; for a new
 *    endpoint set: remap, then attach; on a CDS change of the cluster:
 *    set_config.
 *
 * References: Envoy docs intro/arch_overview/upstream/outlier.rst and
 * api/envoy/config/cluster/v3/outlier_detection.proto; behaviour checked
 * against source/common/upstream/outlier_detection_impl.cc.
 */
#ifndef MESH_UPSTREAM_OUTLIER_H
#define MESH_UPSTREAM_OUTLIER_H

#include <stdbool.h>
#include <stdint.h>

#include "lb/lb.h"
#include "model/cluster.h"

typedef struct mesh__outlier mesh__outlier;

/* What happened to one call (or one attempt) on an endpoint.
 *
 * The first three are externally originated: the endpoint answered. The
 * LOCAL_* ones are locally originated: libmesh could not talk to it. With
 * split_external_local_origin_errors off (the default) a local failure
 * counts as a 5xx (CONNECT_FAILED and RESET as 503, TIMEOUT as 504, all
 * gateway failures) and LOCAL_SUCCESS counts for nothing; with it on, local
 * results feed their own consecutive counter and success rate. */
enum {
  MESH__OD_SUCCESS = 0,          /* a response that is not a 5xx */
  MESH__OD_HTTP_5XX = 1,         /* a 5xx other than 502, 503, 504 */
  MESH__OD_GATEWAY_FAILURE = 2,  /* 502, 503 or 504 */
  MESH__OD_LOCAL_CONNECT_FAILED = 3, /* the connection could not be made */
  MESH__OD_LOCAL_TIMEOUT = 4,    /* no response headers before a timeout */
  MESH__OD_LOCAL_RESET = 5,      /* the stream or connection was reset */
  MESH__OD_LOCAL_SUCCESS = 6     /* the attempt got a connection */
};

/* Why an endpoint was ejected (Envoy's OutlierEjectionType, same names). */
typedef enum mesh__od_type {
  MESH__OD_CONSECUTIVE_5XX = 0,
  MESH__OD_CONSECUTIVE_GATEWAY_FAILURE = 1,
  MESH__OD_CONSECUTIVE_LOCAL_ORIGIN_FAILURE = 2,
  MESH__OD_SUCCESS_RATE = 3,
  MESH__OD_SUCCESS_RATE_LOCAL_ORIGIN = 4,
  MESH__OD_FAILURE_PERCENTAGE = 5,
  MESH__OD_FAILURE_PERCENTAGE_LOCAL_ORIGIN = 6,
  MESH__OD_N_TYPES = 7
} mesh__od_type;

/* Counters, as Envoy's cluster.<name>.outlier_detection.* stats. */
typedef struct mesh__outlier_stats {
  uint64_t detected[MESH__OD_N_TYPES]; /* ejections_detected_* */
  uint64_t enforced[MESH__OD_N_TYPES]; /* ejections_enforced_* */
  uint64_t enforced_total;             /* ejections_enforced_total */
  uint64_t overflow;                   /* ejections_overflow: max_ejection_percent said no */
  uint32_t active;                     /* ejections_active (a gauge) */
} mesh__outlier_stats;

/* One endpoint's state, for tests, logs and the config dump. */
typedef struct mesh__outlier_endpoint {
  bool ejected;
  uint32_t num_ejections;        /* times ejected since it was first seen */
  uint32_t multiplier;           /* ejection time = base x multiplier (capped) */
  uint64_t ejected_at_ms;        /* last ejection (valid when num_ejections > 0) */
  uint64_t eject_for_ms;         /* that ejection's length: min(base x multiplier,
                                  * max(base, max_ejection_time)) + jitter */
  uint32_t consecutive_5xx, consecutive_gateway_failure, consecutive_local_origin_failure;
} mesh__outlier_endpoint;

/* A detector for n_endpoints endpoints, none ejected, config copied.
 * seed: for the enforcement draws and the jitter (give each worker its own).
 * 0; MESH_EINVAL (NULL cfg or out; interval_ms or base_ejection_time_ms 0;
 * max_ejection_time_ms below base_ejection_time_ms; a percentage above
 * 100), MESH_ENOMEM. *out is set only on success. The first
 * mesh__outlier_tick() is due interval_ms after creation. */
int mesh__outlier_new(const mesh__outlier_detection *cfg, uint32_t n_endpoints, uint64_t seed,
                      mesh__outlier **out);
void mesh__outlier_free(mesh__outlier *o); /* NULL is fine; leaves the picker as it is */

/* Replaces the configuration (a CDS update of the same cluster), keeping
 * every endpoint's state; new thresholds apply from the next report or
 * tick. Same checks as mesh__outlier_new(): 0 or MESH_EINVAL (nothing
 * changed). */
int mesh__outlier_set_config(mesh__outlier *o, const mesh__outlier_detection *cfg);

/* One result (MESH__OD_*) for endpoint. O(1), allocates nothing; may eject
 * the endpoint (consecutive detectors), calling the attached picker. */
void mesh__outlier_report(mesh__outlier *o, uint32_t endpoint, int result, uint64_t now_ms);
/* An HTTP response status from endpoint: 5xx is a failure (502, 503 and 504
 * also gateway failures), anything else a success. */
void mesh__outlier_report_status(mesh__outlier *o, uint32_t endpoint, int status, uint64_t now_ms);
/* The HTTP status Envoy charges for a gRPC status found in response headers
 * (a trailers-only response), e.g. UNAVAILABLE (14) -> 503; 500 for an
 * unknown code. */
int mesh__outlier_grpc_to_http(int grpc_status);

/* The result to report for an attempt that ended with libmesh error err
 * (mesh/mesh.h), as Envoy's router charges it: MESH_ECONNECT and
 * MESH_ECONNECT_TIMEOUT -> MESH__OD_LOCAL_CONNECT_FAILED; MESH_ERESET and
 * MESH_EPROTOCOL -> MESH__OD_LOCAL_RESET; MESH_ETIMEOUT ->
 * MESH__OD_LOCAL_TIMEOUT. -1 for MESH_OK (report the status instead) and
 * for errors that are not the endpoint's doing and are not charged
 * (canceled, overflow, a local bound, out of memory, DNS, ...). */
int mesh__outlier_result_for_error(int err);

/* The interval timer: brings back endpoints whose ejection time is over,
 * closes the interval's success-rate buckets, runs the success-rate and
 * failure-percentage detectors on them, and lowers the multiplier of
 * endpoints that stayed healthy. Returns when to call it next
 * (now_ms + interval_ms, same clock as now_ms). */
uint64_t mesh__outlier_tick(mesh__outlier *o, uint64_t now_ms);

/* Attaches lb (NULL detaches): lb's ejection flags are set from the
 * detector's state now, then follow every change. lb must cover the same
 * endpoints (lb->n_endpoints equal to the detector's count): 0, or
 * MESH_EINVAL (nothing attached). Detach, or attach the replacement,
 * before destroying the attached picker. */
int mesh__outlier_attach(mesh__outlier *o, mesh__lb *lb);

/* The endpoint set changed (EDS update): the detector now covers new_la's
 * endpoints. An endpoint of new_la with the same address and port as one
 * of old_la keeps that endpoint's state (counters, buckets, ejection,
 * multiplier); a new one starts clean; a removed one is forgotten (and no
 * longer counts as ejected). old_la must be the assignment the detector's
 * indices refer to (old_la->n_endpoints equal to its count). Detaches the
 * picker (its indices are the old ones): attach the new picker next.
 * Allocates; off the hot path. 0, MESH_EINVAL or MESH_ENOMEM (nothing
 * changed). */
int mesh__outlier_remap(mesh__outlier *o, const mesh__load_assignment *old_la,
                        const mesh__load_assignment *new_la);

uint32_t mesh__outlier_n_endpoints(const mesh__outlier *o);
bool mesh__outlier_is_ejected(const mesh__outlier *o, uint32_t endpoint);
/* 0, or -1 for an index out of range. */
int mesh__outlier_endpoint_info(const mesh__outlier *o, uint32_t endpoint, mesh__outlier_endpoint *out);
const mesh__outlier_stats *mesh__outlier_get_stats(const mesh__outlier *o);
/* "consecutive_5xx", "success_rate", ... (the proto field's stem). */
const char *mesh__outlier_type_name(mesh__od_type t);

#endif
