/* Connection pools: one per upstream endpoint and protocol. A pool owns
 * its connections and a bounded queue of calls waiting for one. */
#ifndef MESH_UPSTREAM_POOL_H
#define MESH_UPSTREAM_POOL_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "http/h1_parse.h"
#include "io/transport.h"
#include "upstream/breaker.h"
#include "upstream/call.h"
#include "upstream/core.h"
#include "util/buf.h"
#include "util/list.h"

typedef struct nghttp2_session nghttp2_session;
typedef struct mesh__conn mesh__conn;

/* What a protocol plugs into a connection (h1_conn.c, h2_conn.c). */
typedef struct mesh__codec {
  int protocol;
  int (*start)(mesh__conn *cn);                       /* TCP (and TLS) ready */
  int (*submit)(mesh__conn *cn, mesh__call *c);        /* bind and send a call */
  int (*feed)(mesh__conn *cn, const char *p, size_t n); /* bytes read; <0 closes */
  int (*flush)(mesh__conn *cn);                        /* move codec output to cn->out */
  void (*detach)(mesh__conn *cn, mesh__call *c);       /* call canceled or timed out */
  uint32_t (*capacity)(mesh__conn *cn);                /* calls it can take now */
  void (*closed)(mesh__conn *cn, int err, const char *why); /* fail bound calls */
  void (*free)(mesh__conn *cn);
} mesh__codec;

extern const mesh__codec mesh__codec_h1;
extern const mesh__codec mesh__codec_h2;

enum { MESH__CONN_CONNECTING = 1, MESH__CONN_HANDSHAKE, MESH__CONN_READY, MESH__CONN_CLOSED };

typedef struct mesh__pool mesh__pool;

struct mesh__conn {
  mesh__list link;        /* pool->conns */
  mesh__list idle_link;   /* pool->idle (HTTP/1.1) */
  mesh__list flush_link;  /* m->flushq */
  mesh__pool *pool;
  uint64_t id;
  int fd;
  int state;
  struct event *rev, *wev, *timer, *flush_ev;
  const mesh__transport_ops *tp;
  void *tp_ctx;
  const mesh__codec *codec;
  mesh__buf out;
  uint8_t in_io;          /* inside our own read/write handler */
  uint8_t want_flush;
  uint8_t dead;           /* closed while in_io: free when unwound */
  uint8_t peer_eof;       /* the peer closed its side cleanly */
  uint8_t used;           /* carried a call since the idle timer was armed */
  uint8_t idle_armed;     /* cn->timer runs the idle timeout */
  struct mesh__cb_state *cbs; /* counted in its cx */
  /* HTTP/1.1 */
  mesh__call *h1_call;
  mesh__h1_parser h1;
  uint8_t h1_keepalive;
  /* HTTP/2 */
  nghttp2_session *h2;
  mesh__list h2_calls;    /* calls bound to streams of this connection */
  mesh__call *h2_hcall;   /* the call of the HEADERS frame being decoded */
  int32_t h2_hstream;
  uint32_t h2_active;
  uint8_t h2_goaway;
  uint8_t h2_htrailers;       /* the HEADERS frame being decoded carries trailers */
  size_t h2_max_header_bytes; /* the handle's bound, read per field */
};

struct mesh__pool {
  mesh__list link;        /* hash bucket */
  struct mesh *m;
  char key[300];          /* endpoint key ("host:port"); with protocol, the pool's identity */
  size_t keylen;
  int protocol;
  char host[256];
  uint16_t port;
  struct sockaddr_storage addr;
  socklen_t addrlen;
  int resolve_state;      /* 0 unresolved, 1 resolving, 2 resolved */
  uint32_t connect_timeout_ms; /* the cluster's; 0: the handle's */
  uint64_t idle_timeout_ms;    /* the cluster's idle_timeout; 0: none */
  struct mesh__cb_state *cbs;  /* breakers of the cluster routing here last (max_connections) */
  struct evdns_getaddrinfo_request *dns_req;
  mesh__list conns;
  mesh__list idle;
  uint32_t nconns;
  uint32_t nconnecting;
  mesh__list pending;
  uint32_t npending;
};

/* The routing seam: which pool serves this call. Today the URL authority
 * names the endpoint directly; routing replaces this with listener ->
 * route -> cluster -> load balancer. */
mesh__pool *mesh__pool_for_call(struct mesh *m, mesh__call *c, int *err);
/* The pool for an endpoint key and protocol, created on first use (host
 * is an IP literal or a name resolved on first dispatch). */
mesh__pool *mesh__pool_get(struct mesh *m, const char *key, size_t keylen, uint32_t hash, int protocol,
                           const char *host, size_t hostlen, uint16_t port, int *err);
void mesh__pool_submit(mesh__pool *p, mesh__call *c);
/* Try to hand pending calls to connections, opening new ones as allowed. */
void mesh__pool_dispatch(mesh__pool *p);
/* Remove a pending or bound call (cancel, timeout). */
void mesh__pool_unbind(mesh__call *c);
void mesh__pools_free_all(struct mesh *m);

/* A call left its pool's pending queue: the cluster's pending count. */
static inline void mesh__pending_left(mesh__call *c) {
  if (c->cbs) c->cbs->n[c->prio].rq_pending--;
}

/* Connection plumbing used by the codecs (conn.c). */
void mesh__conn_want_flush(mesh__conn *cn);
int mesh__conn_write(mesh__conn *cn, const void *p, size_t n);
void mesh__conn_close(mesh__conn *cn, int err, const char *why);
/* An HTTP/1.1 connection finished its exchange and can be reused. */
void mesh__conn_idle(mesh__conn *cn);
const mesh__opts *mesh__conn_opts(const mesh__conn *cn);
/* The connection may have become idle: start its idle timeout (the
 * cluster's idle_timeout) if it has one and it is not running. */
void mesh__conn_check_idle(mesh__conn *cn);

#endif
