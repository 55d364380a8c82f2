/* Fault injection: Envoy's fault filter (HTTPFault), as Istio's
 * VirtualService fault and gRPC's xDS clients (gRFC A33) use it.
 *
 * Pure, like route selection: which fault config applies to a call and
 * what it draws. The router applies the draw (holds the call for the
 * delay, answers locally for the abort) and keeps the count of active
 * faults. */
#ifndef MESH_ROUTE_FAULT_H
#define MESH_ROUTE_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "model/route.h"
#include "route/match.h"

typedef struct mesh__fault_draw {
  uint64_t delay_ms; /* 0: no delay */
  bool abort;
  bool grpc;         /* code is a gRPC status, not an HTTP one */
  uint32_t code;
} mesh__fault_draw;

/* The config in force for a call routed by r (and weighted cluster cw,
 * may be NULL) under the fault filter named filter: the most specific
 * per-route override for that name (weighted cluster, route, virtual
 * host, route table), else the filter's own (dflt). */
const mesh__fault *mesh__fault_for(const char *filter, const mesh__fault *dflt, const mesh__route *r,
                                   const mesh__cluster_weight *cw);

/* Draw the call's faults: true when f applies to the call (its
 * upstream_cluster and headers match) and drew a delay or an abort, each
 * on its own random number from rnd(arg). The percentage headers are read
 * for header-controlled faults only, and may lower the configured share,
 * never raise it; invalid header values are ignored. */
bool mesh__fault_draw_for(const mesh__fault *f, const char *cluster, const mesh__route_input *in,
                          uint64_t (*rnd)(void *), void *arg, mesh__fault_draw *out);

/* gRPC's code for an HTTP status (how a gRPC caller sees an HTTP abort). */
uint32_t mesh__fault_grpc_code_of_http(uint32_t status);

#endif
