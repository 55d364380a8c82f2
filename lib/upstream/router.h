/* Routing a call by the handle's config snapshot: listener → route table
 * → virtual host → route → action → cluster → load balancer → endpoint
 * pool. Loop thread only; reads the immutable snapshot without locks. */
#ifndef MESH_UPSTREAM_ROUTER_H
#define MESH_UPSTREAM_ROUTER_H

#include "model/snapshot.h"
#include "upstream/call.h"
#include "upstream/pool.h"

struct mesh;

/* Route calls by s from now on (takes its own reference); calls in flight
 * keep the snapshot they started with. 0, or -1 (out of memory: the old
 * config stays). */
int mesh__router_publish(struct mesh *m, mesh__snapshot *s);
const mesh__snapshot *mesh__router_snapshot(struct mesh *m);
/* The pool to queue c on, or NULL when c has been completed here (a local
 * reply: direct response, redirect, no route, no healthy endpoint). */
mesh__pool *mesh__router_route(struct mesh *m, mesh__call *c);
/* Start the next attempt of a routed call (pick, breakers, per-try
 * timer): its pool, or NULL when the call has been completed. */
mesh__pool *mesh__router_attempt(struct mesh *m, mesh__call *c);
/* An attempt of a routed call ended with err (from mesh__call_finish):
 * 1 when a retry has been scheduled (the call goes on), 0 when the call
 * completes now (response flags and counters are updated). */
int mesh__router_attempt_end(mesh__call *c, int err);
/* A routed call completed: response header mutations. */
void mesh__router_on_response(mesh__call *c);
/* Drop what a call holds of the config (its snapshot reference). */
void mesh__router_release(mesh__call *c);
void mesh__router_free(struct mesh *m);
/* Gauges summed over the clusters' breaker states (loop thread): what is
 * in flight now. out[0..4): attempts active, waiting for a connection,
 * retries in flight, connections. */
void mesh__router_gauges(struct mesh *m, uint64_t out[4]);

#endif
