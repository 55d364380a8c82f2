/* The ADS client (envoyproxy/envoy api/xds_protocol.rst, gRPC's gRFCs A27,
 * A46, A57, A88): one StreamAggregatedResources stream (state
 * of the world), or DeltaAggregatedResources when the server lists the
 * feature "delta_xds", to the bootstrap's first xds_server,
 * Listener -> RouteConfiguration -> Cluster -> ClusterLoadAssignment
 * subscriptions, ACK/NACK, a cache of valid resources, and coherent
 * snapshots published through the router like the file source's. See
 * libmesh-xds(7). Loop thread only. */
#ifndef MESH_XDS_ADS_H
#define MESH_XDS_ADS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "xds/bootstrap.h"

struct mesh;
typedef struct mesh__ads mesh__ads;

/* Start the client (it takes b). Publishes an empty snapshot at once, so
 * that calls fail with "no listener" rather than bypass the mesh until the
 * first config arrives. 0, or -1 with the reason in err (b is freed). */
int mesh__ads_start(struct mesh *m, mesh__bootstrap *b, mesh__ads **out, char *err, size_t errlen);
void mesh__ads_free(mesh__ads *a);

/* Append the "xds" object of the config dump: server, connection state,
 * counters, per type version/nonce and per resource status. 0 or -1. */
int mesh__ads_dump(const mesh__ads *a, mesh__buf *out);
/* A call's authority named no listener: subscribe the listener resource
 * it names (the bootstrap's template; gRPC's xds:/// does the same), so
 * that the next calls are routed once it arrives. Bounded. why (may be
 * NULL) receives the control plane's part in the failure, or "". */
/* 1: the listener may still come (a call should wait for it); 0: it will
 * not come soon (the control plane is unreachable, the listener does not
 * exist or was rejected, too many subscribed): fail the call with why. */
int mesh__ads_want_listener(mesh__ads *a, const char *authority, size_t len, char *why, size_t whylen);
void mesh__ads_counters(const mesh__ads *a, uint64_t *accepted, uint64_t *rejected);

#endif
