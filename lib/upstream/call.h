/* A call in flight: the copied request, its binding to a connection, and
 * the response being assembled. Call objects are pooled per handle with
 * their buffers, so a steady stream of calls allocates nothing. */
#ifndef MESH_UPSTREAM_CALL_H
#define MESH_UPSTREAM_CALL_H

#include <stdint.h>

#include "mesh/mesh.h"
#include "util/buf.h"
#include "util/list.h"

struct event;
struct mesh__conn;
struct mesh__pool;
struct mesh__snapshot;
struct mesh__route;
struct mesh__cluster_weight;

typedef struct mesh__field {
  uint32_t name, value; /* offsets of NUL-terminated strings in an arena */
} mesh__field;

typedef struct mesh__fields {
  mesh__field *v;
  uint32_t n, cap;
} mesh__fields;

int mesh__fields_grow(mesh__fields *f);
static inline int mesh__fields_push(mesh__fields *f, uint32_t name, uint32_t value) {
  if (f->n == f->cap && mesh__fields_grow(f)) return MESH_ENOMEM;
  f->v[f->n].name = name;
  f->v[f->n].value = value;
  f->n++;
  return MESH_OK;
}

/* The request as libmesh keeps it: one arena of NUL-terminated strings. */
typedef struct mesh__req {
  mesh__buf arena;
  uint32_t method, authority, path, host;
  uint16_t method_len, authority_len;
  uint32_t path_len;
  uint32_t authority_hash;  /* for the pool lookup, computed once */
  uint16_t port;
  uint8_t protocol;  /* mesh_protocol, DEFAULT until resolved */
  uint8_t head;      /* method is HEAD */
  uint32_t timeout_ms;
  mesh__fields headers;
  mesh__buf body;
} mesh__req;

void mesh__req_init(mesh__req *r);
void mesh__req_free(mesh__req *r);
int mesh__req_copy(mesh__req *dst, const mesh__req *src);
static inline const char *mesh__req_str(const mesh__req *r, uint32_t at) { return r->arena.data + at; }

struct mesh_response {
  int error;
  int status;
  int protocol;
  uint32_t nheaders;     /* fields.v[0..nheaders) are headers, the rest trailers */
  mesh__fields fields;
  mesh__buf strings;
  mesh__buf body;
  size_t header_bytes;   /* counted against max_response_header_bytes */
  int in_trailers;
  int nheaders_done;     /* HTTP/2: the final HEADERS frame ended */
  /* What served it, when a config routed it (strings owned by the
   * snapshot or the pool, which outlive the callback). */
  const char *route_name, *cluster_name, *endpoint;
  char detail[200];
};

void mesh__response_reset(mesh_response *r);
void mesh__response_free(mesh_response *r);
/* Append a header (or a trailer once in_trailers): 0, or MESH_ETOOLARGE /
 * MESH_ENOMEM. Names are stored lower-case (lower=0: they already are). */
int mesh__response_add_field(mesh_response *r, const char *name, size_t nlen, const char *value,
                             size_t vlen, size_t max_bytes, int lower);

enum mesh__call_state {
  MESH__CALL_FREE = 0,
  MESH__CALL_QUEUED,   /* handed across threads, not yet on the loop */
  MESH__CALL_PENDING,  /* waiting for a connection in its pool */
  MESH__CALL_ACTIVE,   /* bound to a connection */
  MESH__CALL_DONE      /* completed, callback queued or running */
};

typedef struct mesh__call {
  mesh__list link;       /* inbox / freelist / pool pending queue / done queue */
  mesh__list all;        /* the handle's list of calls in flight */
  struct mesh *m;
  uint64_t id;
  mesh_response_cb cb;
  void *user_data;
  mesh__req req;
  struct event *timer;
  int state;
  struct mesh__pool *pool;
  struct mesh__conn *conn;
  int32_t stream_id;
  size_t body_off;       /* request body bytes handed to the codec */
  uint64_t queued_ns;    /* own-thread hand-off: when mesh_call_start ran */
  uint8_t h2_end;        /* HTTP/2: the response's END_STREAM arrived */
  /* Routing (router.c): the snapshot the call was routed by (a
   * reference), its route and weighted cluster. */
  struct mesh__snapshot *snap;
  const struct mesh__route *route;
  const struct mesh__cluster_weight *cw;
  mesh_response resp;
} mesh__call;

/* Complete a call: stop its timer, unbind it, and queue its callback
 * (never run synchronously: the caller may hold codec state). err is
 * MESH_OK when resp holds a full response. */
void mesh__call_finish(mesh__call *c, int err, const char *detail_fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
