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
  /* Why libmesh ended or changed the call, as Envoy's response flags
   * (MESH__RF_*), and how many attempts it made (0: none reached a pool). */
  uint32_t flags;
  uint32_t attempts;
  char flags_str[48];    /* formatted when the call completes */
};

/* Envoy's response flags (access log %RESPONSE_FLAGS%), in its order. */
enum mesh__response_flag {
  MESH__RF_UH = 1u << 0,    /* no healthy upstream */
  MESH__RF_UF = 1u << 1,    /* upstream connection failure */
  MESH__RF_UO = 1u << 2,    /* upstream overflow (circuit breaker) */
  MESH__RF_NR = 1u << 3,    /* no route */
  MESH__RF_URX = 1u << 4,   /* retry limit exceeded */
  MESH__RF_UT = 1u << 5,    /* upstream request timeout */
  MESH__RF_UR = 1u << 6,    /* upstream remote reset */
  MESH__RF_DC = 1u << 7,    /* downstream (caller) canceled */
  MESH__RF_DR = 1u << 8,    /* direct response */
  MESH__RF_SI = 1u << 9,    /* stream idle timeout */
  MESH__RF_UMSDR = 1u << 10, /* upstream max stream duration reached */
  MESH__RF_UPE = 1u << 11,  /* upstream protocol error */
  MESH__RF_DI = 1u << 12,   /* delay injected (fault filter) */
  MESH__RF_FI = 1u << 13,   /* fault injected: aborted (fault filter) */
  MESH__RF_COUNT = 14
};
extern const char *const mesh__response_flag_names[MESH__RF_COUNT];
/* Write "UF,URX" for flags into out (n >= 48 fits every flag). */
void mesh__response_flags_format(uint32_t flags, char *out, size_t n);

void mesh__response_reset(mesh_response *r);
void mesh__response_free(mesh_response *r);
/* Append a header (or a trailer once in_trailers): 0, or MESH_ETOOLARGE /
 * MESH_ENOMEM. Names are stored lower-case (lower=0: they already are). */
int mesh__response_add_field_slow(mesh_response *r, const char *name, size_t nlen, const char *value,
                                  size_t vlen, size_t max_bytes, int lower);
/* The common case inline (room in both arrays, no case folding): a
 * response's fields cost two copies each, no call. */
static inline int mesh__response_add_field(mesh_response *r, const char *name, size_t nlen, const char *value,
                                           size_t vlen, size_t max_bytes, int lower) {
  mesh__buf *b = &r->strings;
  size_t at = b->off + b->len;
  if (lower || r->fields.n == r->fields.cap || at + nlen + vlen + 2 > b->cap ||
      r->header_bytes + nlen + vlen + 32 > max_bytes)
    return mesh__response_add_field_slow(r, name, nlen, value, vlen, max_bytes, lower);
  /* Counted like HTTP/2's SETTINGS_MAX_HEADER_LIST_SIZE: name + value + 32. */
  r->header_bytes += nlen + vlen + 32;
  char *p = b->data + at;
  memcpy(p, name, nlen);
  p[nlen] = '\0';
  memcpy(p + nlen + 1, value, vlen);
  p[nlen + 1 + vlen] = '\0';
  b->len += nlen + vlen + 2;
  mesh__field *f = &r->fields.v[r->fields.n++];
  f->name = (uint32_t)at;
  f->value = (uint32_t)(at + nlen + 1);
  if (!r->in_trailers) r->nheaders = r->fields.n;
  return MESH_OK;
}

enum mesh__call_state {
  MESH__CALL_FREE = 0,
  MESH__CALL_QUEUED,   /* handed across threads, not yet on the loop */
  MESH__CALL_PENDING,  /* waiting for a connection in its pool */
  MESH__CALL_ACTIVE,   /* bound to a connection */
  MESH__CALL_DONE,     /* completed, callback queued or running */
  MESH__CALL_WAITING   /* xDS: waiting for its listener's config (m->config_wait) */
};

typedef struct mesh__call {
  mesh__list link;       /* inbox / freelist / pool pending queue / done queue */
  mesh__list all;        /* the handle's list of calls in flight */
  struct mesh *m;
  uint64_t id;
  mesh_response_cb cb;
  void *user_data;
  mesh__req req;
  struct event *timer;    /* the deadline, when no queue takes it (m->dl) */
  mesh__list dl_link;     /* in a deadline queue */
  uint64_t deadline_ns;
  uint8_t timer_armed;
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
  /* Resilience (router.c): the retry policy, the cluster's breaker state,
   * the endpoints tried, one timer for the per-try timeout and the
   * back-off between attempts. Reset per call, reused with the object. */
  const struct mesh__retry_policy *retry;
  struct mesh__cb_state *cbs;
  struct event *try_timer;
  uint64_t try_start_ns;     /* the attempt's start (per-try timeouts) */
  uint64_t idle_mark;        /* response progress at the last idle check */
  int32_t ci;                /* the cluster's index in snap */
  int32_t ep;                /* the endpoint of the attempt, -1: none */
  int32_t pick_ci;           /* the cluster index the attempt picked in... */
  uint32_t pick_gen;         /* ...this config generation of the router */
  int32_t tried[4];          /* previous endpoints, most recent last */
  uint64_t hash;             /* the request hash (route hash_policy) when has_hash */
  uint64_t pick_ns;          /* when the attempt picked (latency-aware pickers only) */
  uint64_t wait_since_ns;    /* xDS: when it began waiting for its listener (0: never) */
  uint8_t has_hash;
  uint8_t ntried;
  uint8_t prio;              /* routing priority: MESH__ROUTING_* */
  uint8_t rq_counted;        /* counted in cbs rq_active */
  uint8_t retry_counted;     /* counted in cbs rq_retry (a retry in flight) */
  uint8_t try_phase;         /* MESH__TRY_*: what try_timer does */
  uint8_t refused;           /* HTTP/2: the stream was refused (REFUSED_STREAM) */
  uint8_t idle_expired;      /* the attempt ended by per_try_idle_timeout */
  uint8_t may_retry;         /* the policy may retry this request (body bound, request headers) */
  uint8_t backoff_n;         /* Envoy's current_retry_ of the back-off */
  uint8_t fault_abort;       /* fault filter: abort once the delay (if any) is over */
  uint8_t fault_active;      /* counted in the router's active faults */
  uint8_t fault_grpc;        /* fault_code is a gRPC status */
  uint32_t fault_code;       /* the abort's HTTP status or gRPC code */
  uint32_t deadline_flag;    /* MESH__RF_* the call timer reports (UT, UMSDR) */
  uint32_t deadline_ms;      /* what the call timer was armed with */
  mesh_response resp;
} mesh__call;

enum { MESH__TRY_NONE = 0, MESH__TRY_TIMEOUT, MESH__TRY_BACKOFF, MESH__TRY_EXPIRED, MESH__TRY_FAULT_DELAY };

/* Complete a call: stop its timer, unbind it, and queue its callback
 * (never run synchronously: the caller may hold codec state). err is
 * MESH_OK when resp holds a full response. */
void mesh__call_finish(mesh__call *c, int err, const char *detail_fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
