/* The run-time state behind a mesh handle, shared by the upstream layer
 * (pools, connections, codecs) and the API layer. Everything here is
 * touched on the loop thread only, except the fields marked "mu". */
#ifndef MESH_UPSTREAM_CORE_H
#define MESH_UPSTREAM_CORE_H

#include <pthread.h>
#include <stdint.h>

#include "mesh/mesh.h"
#include "upstream/call.h"
#include "upstream/stats.h"
#include "util/list.h"
#include "util/log.h"

struct event_base;
struct event;
struct evdns_base;

typedef struct mesh__opts {
  uint32_t connect_timeout_ms;
  uint32_t default_timeout_ms;
  int protocol;
  uint32_t max_header_bytes;
  uint64_t max_body_bytes;
  uint32_t max_conns;
  uint32_t max_pending;
  uint64_t write_hold_ns; /* see mesh_options_set_write_hold_us() */
  mesh__logger log;
  struct event_base *base;
  char *config_file;        /* owned: options free it, mesh_new copies it */
  char *xds_bootstrap;      /* xDS bootstrap file; owned as config_file */
  char *xds_bootstrap_config; /* xDS bootstrap text; owned as config_file */
} mesh__opts;

struct mesh_options {
  mesh__opts o;
};

#define MESH__MAGIC 0x6d657368u /* "mesh" */
#define MESH__POOL_BUCKETS 64

struct mesh {
  uint32_t magic;
  mesh__opts opts;
  struct event_base *base;
  int attached;
  pthread_t owner;          /* attached: the creating thread */
  pthread_t thread;         /* own-thread mode: the loop thread */
  int thread_running;

  /* Cross-thread hand-off (own-thread mode). */
  pthread_mutex_t mu;
  mesh__list inbox;         /* mu: calls to start */
  uint64_t *cancels;        /* mu: ids to cancel */
  size_t ncancels, capcancels;
  int wake_fd[2];
  int wake_pending;         /* mu */
  struct event *wake_ev;
  int stopping;             /* mu (atomic read elsewhere): mesh_free() asked the thread to stop */
  mesh__list freelist;      /* mu in own-thread mode: recycled calls */
  uint32_t nfree;

  /* Loop-thread state. */
  mesh__list inflight;      /* every call started and not yet completed */
  mesh__list done;          /* completed calls whose callback is due */
  struct event *done_ev;    /* runs them when no libmesh callback is on the stack */
  mesh__list flushq;        /* connections with output to push at leave() */
  mesh__list pools[MESH__POOL_BUCKETS];
  struct evdns_base *dns;
  uint64_t next_conn_id;
  uint64_t next_call_id;    /* atomic */
  /* Call deadlines: one FIFO per timeout value in use (a call joins at
   * the tail, so each queue is in deadline order) with one timer armed
   * for its head; a few values cover nearly every call, which then costs
   * a list link and unlink. Other values get a timer of their own. */
  struct mesh__deadlines {
    struct mesh *m;
    uint32_t ms;
    uint8_t armed;
    mesh__list calls;       /* by c->dl_link */
    struct event *ev;
  } dl[8];
  int ndl;
  uint64_t turn_ns;         /* monotonic now, read once per loop turn (0: not yet) */
  /* Config (loop thread): the snapshot calls are routed by, and the
   * clusters' run-time state. NULL snapshot: dial the authority. */
  struct mesh__config_state *config;
  struct mesh__router *router;
  /* xDS: calls whose listener has not arrived yet (linked by c->link),
   * routed again at each new config, failed after MESH__CONFIG_WAIT_MS. */
  mesh__list config_wait;
  uint32_t nconfig_wait;
  struct event *config_wait_ev;
  /* Functions to run on the loop thread for other threads (mu). */
  mesh__list tasks;
  /* Resilience counters (upstream/stats.h): relaxed atomics. */
  uint64_t stats[MESH__ST_COUNT];
  int depth;                /* nesting of libmesh callbacks on the loop */
  int free_requested;       /* mesh_free() from inside a callback */
  int closing;
};

/* Every libevent callback of libmesh is bracketed by enter/leave so that a
 * mesh_free() from inside an application callback completes only once the
 * stack has unwound. leave() returns 1 if the handle is gone. */
static inline void mesh__enter(struct mesh *m) {
  /* A new turn of the loop: deadlines set from here on read the clock
   * again (once), as libevent's cached time does for its timers. */
  if (m->depth++ == 0) m->turn_ns = 0;
}
int mesh__leave(struct mesh *m);
/* Push the output of every connection in m->flushq (upstream/conn.c). */
void mesh__flush_all(struct mesh *m);

/* Start a call on the loop thread (it is already in m->inflight). */
void mesh__call_dispatch(struct mesh *m, mesh__call *c);
/* A new config was published: route the calls waiting for one. */
void mesh__calls_config_changed(struct mesh *m);
/* Run fn(arg) on the loop thread and wait for it (any thread; inline on
 * the loop thread). MESH_OK, or MESH_ESTATE when the handle is closing. */
int mesh__run_on_loop(struct mesh *m, void (*fn)(struct mesh *, void *), void *arg);
/* Arm (or move earlier) the call's overall deadline, ms from now: the
 * route timeout, grpc-timeout or max_stream_duration; flag is the
 * response flag it reports (MESH__RF_UT, MESH__RF_UMSDR). A later
 * deadline than the one armed is ignored: the earlier wins. */
void mesh__call_arm_deadline(struct mesh *m, mesh__call *c, uint32_t ms, uint32_t flag);
/* Recycle a call object (loop thread). */
void mesh__call_recycle(struct mesh *m, mesh__call *c);

#endif
