/* ADS, state of the world (see ads.h). Protocol references:
 * envoyproxy/envoy api/xds_protocol.rst (cited as "xds_protocol"), gRFC
 * A27, A46, A57, A88, and the numbers R1-R12 of libmesh's xDS client rules
 * (its design notes, derived from those): R2 ACK/NACK, R3 per-resource
 * validation, R4 last good config, R5 does-not-exist timers, R6 backoff and
 * resubscription, R7 deletion, R8 coherent snapshots. */
#include "xds/ads.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envoy/config/cluster/v3/cluster.pb-c.h"
#include "envoy/config/endpoint/v3/endpoint.pb-c.h"
#include "envoy/config/listener/v3/listener.pb-c.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "envoy/service/discovery/v3/discovery.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "mesh/mesh_version.h"
#include "model/cluster.h"
#include "model/notes.h"
#include "model/route.h"
#include "upstream/core.h"
#include "upstream/router.h"
#include "util/clock.h"
#include "util/str.h"
#include "xds/cds.h"
#include "xds/config.h"
#include "xds/grpc.h"
#include "xds/lds.h"
#include "xds/pbjson.h"
#include "xds/registry.h"
#include "xds/rds.h"

#define ADS_PATH "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
#define DELTA_ADS_PATH "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"
#define MAX_MESSAGE (64u << 20)
#define KEEPALIVE_MS 30000
/* gRPC connection backoff (grpc/grpc doc/connection-backoff.md). */
#define BACKOFF_INITIAL_MS 1000.0
#define BACKOFF_MULTIPLIER 1.6
#define BACKOFF_JITTER 0.2
#define BACKOFF_MAX_MS 120000.0
#define CONNECT_TIMEOUT_MS 20000
/* Does-not-exist timer: xds_protocol "Knowing When a Requested Resource
 * Does Not Exist" recommends 15 s; gRFC A88 uses 30 s when the timer is a
 * transient error. */
#define DOES_NOT_EXIST_MS 15000
#define TIMEOUT_TRANSIENT_MS 30000
#define MAX_ERROR_DETAIL 4096

enum { LDS, RDS, CDS, EDS, NTYPES };
static const char *const type_url[NTYPES] = {
    "type.googleapis.com/envoy.config.listener.v3.Listener",
    "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
    "type.googleapis.com/envoy.config.cluster.v3.Cluster",
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"};
static const char *const type_kind[NTYPES] = {"Listener", "RouteConfiguration", "Cluster", "ClusterLoadAssignment"};
static const ProtobufCMessageDescriptor *const type_desc[NTYPES] = {
    &envoy__config__listener__v3__listener__descriptor, &envoy__config__route__v3__route_configuration__descriptor,
    &envoy__config__cluster__v3__cluster__descriptor,
    &envoy__config__endpoint__v3__cluster_load_assignment__descriptor};

/* Cache entry states, as in gRFC A88 / CSDS ClientResourceStatus. */
enum { ST_REQUESTED, ST_ACKED, ST_NACKED, ST_DOES_NOT_EXIST, ST_TIMEOUT };
static const char *const st_name[] = {"REQUESTED", "ACKED", "NACKED", "DOES_NOT_EXIST", "TIMEOUT"};

enum { CONN_CONNECTING, CONN_READY, CONN_BACKOFF };
static const char *const conn_name[] = {"CONNECTING", "READY", "TRANSIENT_FAILURE"};

/* One accepted copy of a resource: translated once, on receipt, into the
 * model objects snapshots are built from (no second translation when
 * publishing), plus its bytes for the config dump. Shared between "the
 * newest" and "the one in the published snapshot". */
typedef struct blob {
  int refs;
  uint8_t *bytes;   /* the resource as received (Any.value) */
  size_t len;
  mesh__arena *arena; /* the listener's strings, the notes */
  mesh__listener l; /* LDS (l.rt: an inline route_config, a reference) */
  mesh__route_table *rt;      /* RDS */
  mesh__cluster *cluster;     /* CDS */
  mesh__load_assignment *la;  /* EDS */
  const char **notes; /* fields set but not honoured */
  size_t nnotes;
  char *ref;        /* LDS: the RDS name; CDS (EDS type): the ClusterLoadAssignment name */
  char **clusters;  /* RDS, or LDS with an inline route_config: cluster names */
  size_t nclusters;
} blob;

typedef struct res {
  char *name;
  int status;
  char *version;    /* of the response that carried cur */
  char *error;      /* why the last copy was rejected, or a deletion note */
  blob *cur;        /* the newest valid copy */
  blob *pub;        /* the copy in the published snapshot */
  blob *next;       /* scratch: the copy chosen for the next snapshot */
  blob *before;     /* scratch: cur before this response (undone if the name repeats) */
  uint64_t requested_ns; /* subscription on a connected stream, not yet answered */
  int wanted;
  int sent_sub;     /* delta: subscribed on the current stream */
  int named;        /* LDS: subscribed by name (a call's authority), not only through the wildcard */
  unsigned seen;    /* scratch: generation of the response that named it */
} res;

typedef struct tstate {
  res **v;
  size_t n, cap;
  uint32_t *idx;    /* open addressing, slot = index + 1 */
  size_t idxcap;
  char *version;    /* last accepted */
  char *nonce;
  int dirty;        /* the subscription set changed: send it */
  int sent;         /* a request went out on this stream */
  char **unsub;     /* delta: names to unsubscribe in the next request */
  size_t nunsub;
} tstate;

struct mesh__ads {
  struct mesh *m;
  mesh__bootstrap *b;
  const mesh__xds_server *server;
  struct evdns_base *dns;
  mesh__grpc *g;
  int conn;
  int got_response;       /* on the current stream */
  int node_sent;
  double backoff_ms;
  struct event *retry_ev, *tick_ev;
  uint64_t rng;
  unsigned gen;
  tstate t[NTYPES];
  uint64_t accepted, rejected, restarts, published;
  char last_error[512];   /* control plane: connection or stream */
  char last_nack[1024];
  int deletion_warned;
  int republish;          /* a published resource left the cache */
  int delta;              /* incremental xDS (server feature "delta_xds") */
  size_t nnamed;          /* LDS names subscribed on demand */
};

/* Bound on listener names subscribed because calls named them: calls to
 * made-up authorities must not grow the subscription without end. */
#define MAX_ONDEMAND_LISTENERS 1024

/* ---- small helpers ---- */

static void *xcalloc(size_t n, size_t s) { return calloc(n ? n : 1, s); }

static void set_str(char **dst, const char *s) {
  char *c = s ? strdup(s) : NULL;
  free(*dst);
  *dst = c;
}

static blob *blob_ref(blob *b) {
  if (b) b->refs++;
  return b;
}

static void blob_unref(blob *b) {
  if (!b || --b->refs > 0) return;
  free(b->bytes);
  mesh__listener_release(&b->l);
  mesh__route_table_unref(b->rt);
  if (b->cluster) mesh__cluster_unref(b->cluster);
  if (b->la) mesh__load_assignment_unref(b->la);
  mesh__arena_free(b->arena);
  free(b->ref);
  for (size_t i = 0; i < b->nclusters; i++) free(b->clusters[i]);
  free(b->clusters);
  free(b);
}

static void set_blob(blob **dst, blob *b) {
  blob_ref(b);
  blob_unref(*dst);
  *dst = b;
}

static res *find(tstate *t, const char *name) {
  if (!t->idxcap) return NULL;
  size_t h = mesh__hash(name, strlen(name)) & (t->idxcap - 1);
  for (; t->idx[h]; h = (h + 1) & (t->idxcap - 1))
    if (!strcmp(t->v[t->idx[h] - 1]->name, name)) return t->v[t->idx[h] - 1];
  return NULL;
}

static int reindex(tstate *t) {
  size_t cap = 16;
  while (cap < t->n * 2) cap *= 2;
  uint32_t *idx = calloc(cap, sizeof *idx);
  if (!idx) return -1;
  for (size_t i = 0; i < t->n; i++) {
    size_t h = mesh__hash(t->v[i]->name, strlen(t->v[i]->name)) & (cap - 1);
    while (idx[h]) h = (h + 1) & (cap - 1);
    idx[h] = (uint32_t)i + 1;
  }
  free(t->idx);
  t->idx = idx;
  t->idxcap = cap;
  return 0;
}

static res *add(tstate *t, const char *name) {
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    res **v = realloc(t->v, cap * sizeof *v);
    if (!v) return NULL;
    t->v = v;
    t->cap = cap;
  }
  res *r = calloc(1, sizeof *r);
  if (!r || !(r->name = strdup(name))) {
    free(r);
    return NULL;
  }
  t->v[t->n++] = r;
  if (t->n * 2 > t->idxcap) {
    if (reindex(t)) {
      t->n--;
      free(r->name);
      free(r);
      return NULL;
    }
  } else {
    size_t h = mesh__hash(name, strlen(name)) & (t->idxcap - 1);
    while (t->idx[h]) h = (h + 1) & (t->idxcap - 1);
    t->idx[h] = (uint32_t)t->n;
  }
  return r;
}

static void res_free(res *r) {
  blob_unref(r->before);
  blob_unref(r->cur);
  blob_unref(r->pub);
  free(r->name);
  free(r->version);
  free(r->error);
  free(r);
}

/* Drop the entries no longer wanted (deletion by reference, R7). 1 when
 * one of them was in the published snapshot. */
static int sweep(tstate *t) {
  size_t o = 0;
  int was_published = 0;
  for (size_t i = 0; i < t->n; i++) {
    if (t->v[i]->wanted) {
      t->v[o++] = t->v[i];
    } else {
      was_published |= t->v[i]->pub != NULL;
      char **u = t->v[i]->sent_sub ? realloc(t->unsub, (t->nunsub + 1) * sizeof *u) : NULL;
      if (u) {
        /* Delta: the server is told (resource_names_unsubscribe). */
        t->unsub = u;
        t->unsub[t->nunsub++] = t->v[i]->name;
        t->v[i]->name = NULL;
      }
      res_free(t->v[i]);
    }
  }
  if (o != t->n) {
    t->n = o;
    reindex(t);
  }
  return was_published;
}

static const char *msg_name(int type, const ProtobufCMessage *m) {
  switch (type) {
  case LDS: return ((const Envoy__Config__Listener__V3__Listener *)m)->name;
  case RDS: return ((const Envoy__Config__Route__V3__RouteConfiguration *)m)->name;
  case CDS: return ((const Envoy__Config__Cluster__V3__Cluster *)m)->name;
  default: return ((const Envoy__Config__Endpoint__V3__ClusterLoadAssignment *)m)->cluster_name;
  }
}

static uint64_t rnd(mesh__ads *a) {
  a->rng ^= a->rng << 13;
  a->rng ^= a->rng >> 7;
  a->rng ^= a->rng << 17;
  return a->rng;
}

#define LOG(a, lvl, ...) mesh__log(&(a)->m->opts.log, MESH_LOG_##lvl, __VA_ARGS__)

/* ---- validation: the same translators as the file source ---- */

typedef struct names {
  char **v;
  size_t n, cap;
} names;

static int collect_cluster(const char *name, size_t len, void *ud) {
  names *ns = ud;
  /* Repeats are harmless (subscribing looks names up): no search here,
   * which would be quadratic in a table naming 10,000 clusters. */
  if (ns->n && strlen(ns->v[ns->n - 1]) == len && !memcmp(ns->v[ns->n - 1], name, len)) return 0;
  if (ns->n == ns->cap) {
    size_t cap = ns->cap ? ns->cap * 2 : 4;
    char **v = realloc(ns->v, cap * sizeof *v);
    if (!v) return 1;
    ns->v = v;
    ns->cap = cap;
  }
  if (!(ns->v[ns->n] = strndup(name, len))) return 1;
  ns->n++;
  return 0;
}

/* Translate msg (which stays the caller's) with the same translators as
 * the file source. A blob, or NULL with the reason in err. */
static blob *validate(int type, const ProtobufCMessage *msg, const uint8_t *bytes, size_t len, char *err,
                      size_t errlen, mesh__notes *notes) {
  blob *b = calloc(1, sizeof *b);
  if (!b || !(b->arena = mesh__arena_new(0)) || !(b->bytes = malloc(len ? len : 1))) {
    snprintf(err, errlen, "out of memory");
    if (b) mesh__arena_free(b->arena);
    free(b);
    return NULL;
  }
  b->refs = 1;
  memcpy(b->bytes, bytes, len);
  b->len = len;
  int rc = -1;
  names ns = {NULL, 0, 0};
  if (type == LDS) {
    if (mesh__lds_translate((const Envoy__Config__Listener__V3__Listener *)msg, b->arena, &b->l, err, errlen,
                            notes) == 0) {
      rc = 0;
      if (b->l.rds_name && !(b->ref = strdup(b->l.rds_name))) rc = -1;
      if (b->l.rt && !b->l.rds_name && mesh__route_table_each_cluster(b->l.rt, collect_cluster, &ns)) rc = -1;
      if (!b->l.rt && !b->l.rds_name) {
        snprintf(err, errlen, "no HttpConnectionManager with rds or route_config: nothing to route by");
        rc = -1;
      }
    }
  } else if (type == RDS) {
    if (mesh__rds_translate((const Envoy__Config__Route__V3__RouteConfiguration *)msg, &b->rt, err, errlen, notes) ==
        0)
      rc = mesh__route_table_each_cluster(b->rt, collect_cluster, &ns) ? -1 : 0;
  } else if (type == CDS) {
    const Envoy__Config__Cluster__V3__Cluster *pc = (const Envoy__Config__Cluster__V3__Cluster *)msg;
    if (mesh__cds_translate(pc, &b->cluster, err, errlen, notes) == 0) {
      rc = 0;
      if (b->cluster->type == MESH__DISCOVERY_EDS) {
        const char *want =
            b->cluster->eds_service_name && *b->cluster->eds_service_name ? b->cluster->eds_service_name : pc->name;
        if (!(b->ref = strdup(want))) rc = -1;
      }
    }
  } else {
    rc = mesh__eds_translate((const Envoy__Config__Endpoint__V3__ClusterLoadAssignment *)msg, &b->la, err, errlen,
                             notes);
  }
  b->clusters = ns.v;
  b->nclusters = ns.n;
  if (rc == 0 && notes->n) {
    b->notes = mesh__arena_calloc(b->arena, notes->n, sizeof *b->notes);
    for (size_t k = 0; b->notes && k < notes->n; k++)
      if ((b->notes[b->nnotes] = mesh__arena_strdup(b->arena, notes->v[k]))) b->nnotes++;
  }
  if (rc) {
    if (!err[0]) snprintf(err, errlen, "out of memory");
    blob_unref(b);
    return NULL;
  }
  return b;
}

/* ---- requests ---- */

static void node_for_request(mesh__ads *a, Envoy__Config__Core__V3__Node *node);

/* Encode and send one request of type state t (either protocol): 0 when
 * it is on the stream. */
static int send_msg(mesh__ads *a, tstate *t, const ProtobufCMessage *msg) {
  size_t len = protobuf_c_message_get_packed_size(msg);
  uint8_t *buf = malloc(len ? len : 1);
  int rc = -1;
  if (buf) {
    protobuf_c_message_pack(msg, buf);
    rc = mesh__grpc_send(a->g, buf, len);
    if (rc == 0) {
      a->node_sent = 1;
      t->sent = 1;
      t->dirty = 0;
    }
  }
  free(buf);
  return rc == 0 ? 0 : -1;
}

static void send_request(mesh__ads *a, int type, const char *error) {
  tstate *t = &a->t[type];
  if (!a->g || a->conn != CONN_READY) return;
  /* The first request of a type with no names would be a wildcard
   * subscription (xds_protocol "wildcard"); for RDS/EDS, and CDS, which
   * libmesh subscribes by name, there is then nothing to ask for yet. */
  if (type != LDS && !t->sent) {
    int any = 0;
    for (size_t i = 0; i < t->n && !any; i++) any = t->v[i]->wanted;
    if (!any) return;
  }
  Envoy__Service__Discovery__V3__DiscoveryRequest rq = ENVOY__SERVICE__DISCOVERY__V3__DISCOVERY_REQUEST__INIT;
  Envoy__Config__Core__V3__Node node;
  Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
  /* xds_protocol: only the first request of a stream must carry the node. */
  if (!a->node_sent) {
    node_for_request(a, &node);
    rq.node = &node;
  }
  rq.type_url = (char *)type_url[type];
  rq.version_info = t->version ? t->version : "";
  rq.response_nonce = t->nonce ? t->nonce : "";
  /* Resource hints (xds_protocol "How the client specifies what resources
   * to return"): LDS is a wildcard subscription (no names); the others
   * list every name wanted. */
  char **nm = NULL;
  size_t nn = 0;
  if (type != LDS) {
    nm = xcalloc(t->n, sizeof *nm);
    if (!nm) return;
    for (size_t i = 0; i < t->n; i++)
      if (t->v[i]->wanted) nm[nn++] = t->v[i]->name;
  } else if (a->nnamed) {
    /* Listeners named by calls, next to the explicit wildcard "*"
     * (xds_protocol: a client that wants names and the wildcard). */
    nm = xcalloc(t->n + 1, sizeof *nm);
    if (!nm) return;
    nm[nn++] = "*";
    for (size_t i = 0; i < t->n; i++)
      if (t->v[i]->named) nm[nn++] = t->v[i]->name;
  }
  rq.resource_names = nm;
  rq.n_resource_names = nn;
  if (error) {
    /* R2: a NACK carries the previous version plus error_detail. */
    st.code = 3; /* INVALID_ARGUMENT, as Envoy and gRPC send */
    st.message = (char *)error;
    rq.error_detail = &st;
  }
  send_msg(a, t, &rq.base);
  free(nm);
  /* R5 / A57: the does-not-exist timer runs from when the request is on a
   * connected transport, for what is not cached. */
  uint64_t now = mesh__now_ns();
  for (size_t i = 0; i < t->n; i++)
    if (t->v[i]->wanted && !t->v[i]->cur && !t->v[i]->requested_ns && t->v[i]->status == ST_REQUESTED)
      t->v[i]->requested_ns = now;
}

static void node_for_request(mesh__ads *a, Envoy__Config__Core__V3__Node *node) {
  *node = *a->b->node;
  node->user_agent_name = "libmesh";
  node->user_agent_version_type_case = ENVOY__CONFIG__CORE__V3__NODE__USER_AGENT_VERSION_TYPE_USER_AGENT_VERSION;
  node->user_agent_version = MESH_VERSION_STRING;
}

static void free_unsub(tstate *t) {
  for (size_t i = 0; i < t->nunsub; i++) free(t->unsub[i]);
  free(t->unsub);
  t->unsub = NULL;
  t->nunsub = 0;
}

/* Incremental xDS (xds_protocol "Incremental xDS"): subscriptions are
 * diffs; ack says whether this answers the last response (its nonce, and
 * error for a NACK). On the first request of a stream every name is sent
 * again, with the versions held (initial_resource_versions, R6). */
static void send_delta(mesh__ads *a, int type, int ack, const char *error) {
  tstate *t = &a->t[type];
  if (!a->g || a->conn != CONN_READY) return;
  Envoy__Service__Discovery__V3__DeltaDiscoveryRequest rq =
      ENVOY__SERVICE__DISCOVERY__V3__DELTA_DISCOVERY_REQUEST__INIT;
  Envoy__Config__Core__V3__Node node;
  Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
  if (!a->node_sent) {
    node_for_request(a, &node);
    rq.node = &node;
  }
  rq.type_url = (char *)type_url[type];
  char **sub = xcalloc(t->n + 1, sizeof *sub);
  Envoy__Service__Discovery__V3__DeltaDiscoveryRequest__InitialResourceVersionsEntry *iv =
      xcalloc(t->n + 1, sizeof *iv);
  Envoy__Service__Discovery__V3__DeltaDiscoveryRequest__InitialResourceVersionsEntry **ivp =
      xcalloc(t->n + 1, sizeof *ivp);
  if (!sub || !iv || !ivp) goto done;
  size_t nsub = 0, niv = 0;
  int first = !t->sent;
  if (type == LDS && first) sub[nsub++] = "*"; /* explicit wildcard */
  for (size_t i = 0; i < t->n; i++) {
    res *r = t->v[i];
    if (first && r->cur && r->version) {
      envoy__service__discovery__v3__delta_discovery_request__initial_resource_versions_entry__init(&iv[niv]);
      iv[niv].key = r->name;
      iv[niv].value = r->version;
      ivp[niv] = &iv[niv];
      niv++;
    }
    if ((type != LDS || r->named) && r->wanted && !r->sent_sub) sub[nsub++] = r->name;
  }
  if (!nsub && !t->nunsub && !ack && !niv) goto done; /* nothing to say */
  rq.resource_names_subscribe = sub;
  rq.n_resource_names_subscribe = nsub;
  rq.resource_names_unsubscribe = t->unsub;
  rq.n_resource_names_unsubscribe = t->nunsub;
  rq.initial_resource_versions = ivp;
  rq.n_initial_resource_versions = niv;
  if (ack) rq.response_nonce = t->nonce ? t->nonce : "";
  if (error) {
    st.code = 3; /* INVALID_ARGUMENT */
    st.message = (char *)error;
    rq.error_detail = &st;
  }
  if (send_msg(a, t, &rq.base) == 0) {
    for (size_t i = 0; i < t->n; i++)
      if (t->v[i]->wanted) t->v[i]->sent_sub = 1;
    free_unsub(t);
  }
  uint64_t now = mesh__now_ns();
  for (size_t i = 0; i < t->n; i++)
    if (t->v[i]->wanted && !t->v[i]->cur && !t->v[i]->requested_ns && t->v[i]->status == ST_REQUESTED)
      t->v[i]->requested_ns = now;
done:
  free(sub);
  free(iv);
  free(ivp);
}

static void send_for(mesh__ads *a, int type, int ack, const char *error) {
  if (a->delta) send_delta(a, type, ack, error);
  else send_request(a, type, error);
}

/* ---- subscriptions: the LDS -> RDS -> CDS -> EDS cascade ---- */

static void want(mesh__ads *a, int type, const char *name) {
  tstate *t = &a->t[type];
  res *r = find(t, name);
  if (!r) {
    if (!(r = add(t, name))) return;
    r->status = ST_REQUESTED; /* its timer starts when the request goes out */
    t->dirty = 1;
  }
  r->wanted = 1;
}

static void want_blob_deps(mesh__ads *a, const blob *b, int reftype) {
  if (!b) return;
  if (b->ref) want(a, reftype, b->ref);
  for (size_t i = 0; i < b->nclusters; i++) want(a, CDS, b->clusters[i]);
}

static void resubscribe(mesh__ads *a) {
  for (int ty = RDS; ty < NTYPES; ty++)
    for (size_t i = 0; i < a->t[ty].n; i++) a->t[ty].v[i]->wanted = 0;
  /* What the newest copy and the published copy refer to stays wanted:
   * the published snapshot may still use the latter. */
  for (size_t i = 0; i < a->t[LDS].n; i++) {
    res *r = a->t[LDS].v[i];
    r->wanted = 1;
    want_blob_deps(a, r->cur, RDS);
    want_blob_deps(a, r->pub, RDS);
  }
  for (size_t i = 0; i < a->t[RDS].n; i++) {
    if (!a->t[RDS].v[i]->wanted) continue;
    want_blob_deps(a, a->t[RDS].v[i]->cur, CDS);
    want_blob_deps(a, a->t[RDS].v[i]->pub, CDS);
  }
  for (size_t i = 0; i < a->t[CDS].n; i++) {
    if (!a->t[CDS].v[i]->wanted) continue;
    want_blob_deps(a, a->t[CDS].v[i]->cur, EDS);
    want_blob_deps(a, a->t[CDS].v[i]->pub, EDS);
  }
  for (int ty = RDS; ty < NTYPES; ty++) {
    size_t before = a->t[ty].n;
    if (sweep(&a->t[ty])) a->republish = 1;
    if (a->t[ty].n != before) a->t[ty].dirty = 1;
  }
}

int mesh__ads_want_listener(mesh__ads *a, const char *authority, size_t len, char *why, size_t whylen) {
  char auth[256];
  if (why && whylen) why[0] = 0;
  if (len == 0 || len >= sizeof auth) return 0;
  memcpy(auth, authority, len);
  auth[len] = 0;
  char *name = mesh__bootstrap_listener_name(a->b, auth);
  if (!name) return 0;
  tstate *t = &a->t[LDS];
  res *r = find(t, name);
  if (!r) {
    if (a->nnamed >= MAX_ONDEMAND_LISTENERS) {
      if (a->nnamed++ == MAX_ONDEMAND_LISTENERS)
        LOG(a, WARN, "xDS: %d listeners subscribed on demand; calls naming others are not subscribed",
            MAX_ONDEMAND_LISTENERS);
      free(name);
      return 0;
    }
    if ((r = add(t, name))) {
      r->status = ST_REQUESTED;
      r->wanted = r->named = 1;
      a->nnamed++;
      LOG(a, INFO, "xDS: subscribing to listener \"%s\", which a call named", name);
      send_for(a, LDS, 0, NULL);
    }
  }
  /* Wait while the stream is up, or coming up for the first time (gRPC
   * queues calls while CONNECTING); not in backoff after a failure (A57:
   * a connectivity error with nothing cached fails calls). */
  int wait = r && r->status != ST_DOES_NOT_EXIST && r->status != ST_NACKED && r->status != ST_TIMEOUT &&
             (a->conn == CONN_READY || (a->conn == CONN_CONNECTING && !a->last_error[0]));
  /* The ambient state, for the call's error (gRFC A54/A88: say that the
   * control plane is the cause, and how). */
  if (why && whylen) {
    if (a->conn != CONN_READY)
      snprintf(why, whylen, "xDS server %s unreachable: %s", a->server->uri,
               a->last_error[0] ? a->last_error : "connecting");
    else if (r && r->status == ST_DOES_NOT_EXIST)
      snprintf(why, whylen, "xDS: listener \"%s\" does not exist", name);
    else if (r && r->status == ST_NACKED)
      snprintf(why, whylen, "xDS: listener \"%s\" rejected: %s", name, r->error ? r->error : "");
    else if (!r || !r->cur)
      snprintf(why, whylen, "xDS: listener \"%s\" requested", name);
  }
  free(name);
  return wait;
}

/* ---- snapshots (R8: coherent) ---- */

static int cluster_ready(mesh__ads *a, const char *name) {
  res *r = find(&a->t[CDS], name);
  return r && r->next;
}

static int blob_ready(mesh__ads *a, const blob *b, int reftype) {
  if (!b) return 0;
  if (b->ref) {
    res *r = find(&a->t[reftype], b->ref);
    if (!r || !r->next) return 0;
  }
  for (size_t i = 0; i < b->nclusters; i++)
    if (!cluster_ready(a, b->clusters[i])) return 0;
  return 1;
}

static void choose(mesh__ads *a, int type, int reftype) {
  tstate *t = &a->t[type];
  for (size_t i = 0; i < t->n; i++) {
    res *r = t->v[i];
    r->next = blob_ready(a, r->cur, reftype) ? r->cur : blob_ready(a, r->pub, reftype) ? r->pub : NULL;
  }
}

static void add_resource(mesh__snapshot *s, int type, const res *r) {
  mesh__resource *o = &s->resources[s->nresources++];
  o->type_url = type_url[type];
  o->name = mesh__arena_strdup(s->arena, r->name);
  o->ignored = mesh__arena_calloc(s->arena, r->next->nnotes + 1, sizeof *o->ignored);
  for (size_t k = 0; o->ignored && k < r->next->nnotes; k++)
    if ((o->ignored[o->nignored] = mesh__arena_strdup(s->arena, r->next->notes[k]))) o->nignored++;
}

/* The snapshot of the chosen copies (r->next): references to their model
 * objects, as mesh__config_build links a file's. NULL on out of memory. */
static mesh__snapshot *build_snapshot(mesh__ads *a, const size_t *count, const char *origin, const char *version) {
  mesh__snapshot *s = calloc(1, sizeof *s);
  if (!s || !(s->arena = mesh__arena_new(0))) {
    free(s);
    return NULL;
  }
  s->refs = 1;
  mesh__arena *ar = s->arena;
  s->origin = mesh__arena_strdup(ar, origin);
  s->version = mesh__arena_strdup(ar, version);
  s->listeners = mesh__arena_calloc(ar, count[LDS] + 1, sizeof *s->listeners);
  s->routes = mesh__arena_calloc(ar, count[RDS] + 1, sizeof *s->routes);
  s->clusters = mesh__arena_calloc(ar, count[CDS] + 1, sizeof *s->clusters);
  s->resources = mesh__arena_calloc(ar, count[LDS] + count[RDS] + count[CDS] + count[EDS] + 1, sizeof *s->resources);
  if (!s->origin || !s->version || !s->listeners || !s->routes || !s->clusters || !s->resources) goto oom;
  for (size_t i = 0; i < a->t[EDS].n; i++)
    if (a->t[EDS].v[i]->next) add_resource(s, EDS, a->t[EDS].v[i]);
  for (size_t i = 0; i < a->t[CDS].n; i++) {
    res *r = a->t[CDS].v[i];
    if (!r->next) continue;
    mesh__cluster_entry *ce = &s->clusters[s->nclusters++];
    ce->name = mesh__arena_strdup(ar, r->name);
    ce->cluster = (mesh__cluster *)mesh__cluster_ref(r->next->cluster);
    if (r->next->ref) ce->la = (mesh__load_assignment *)mesh__load_assignment_ref(find(&a->t[EDS], r->next->ref)->next->la);
    add_resource(s, CDS, r);
    if (!ce->name) goto oom;
  }
  for (size_t i = 0; i < a->t[RDS].n; i++) {
    res *r = a->t[RDS].v[i];
    if (!r->next) continue;
    s->routes[s->nroutes].name = mesh__arena_strdup(ar, r->name);
    s->routes[s->nroutes++].rt = mesh__route_table_ref(r->next->rt);
    add_resource(s, RDS, r);
  }
  for (size_t i = 0; i < a->t[LDS].n; i++) {
    res *r = a->t[LDS].v[i];
    if (!r->next) continue;
    mesh__listener *l = &s->listeners[s->nlisteners++];
    *l = r->next->l;
    l->name = mesh__arena_strdup(ar, r->next->l.name);
    l->rds_name = r->next->l.rds_name ? mesh__arena_strdup(ar, r->next->l.rds_name) : NULL;
    l->rt = l->rds_name ? mesh__route_table_ref(find(&a->t[RDS], r->next->ref)->next->rt)
                        : mesh__route_table_ref(r->next->l.rt);
    if (l->fault_holder) mesh__route_table_ref(l->fault_holder);
    if (l->fault_filter && !(l->fault_filter = mesh__arena_strdup(ar, l->fault_filter))) goto oom;
    add_resource(s, LDS, r);
    if (!l->name) goto oom;
  }
  if (mesh__snapshot_index(s) < 0) goto oom;
  return s;
oom:
  mesh__snapshot_unref(s);
  return NULL;
}

/* Each resource goes in at its newest copy when everything it refers to is
 * ready, else at its published copy when that one's references are ready,
 * else not at all: a route never switches to a cluster without endpoints
 * and a listener is not served before its routes (gRFC A74's idea). */
static void publish(mesh__ads *a) {
  for (size_t i = 0; i < a->t[EDS].n; i++) a->t[EDS].v[i]->next = a->t[EDS].v[i]->cur ? a->t[EDS].v[i]->cur
                                                                                     : a->t[EDS].v[i]->pub;
  choose(a, CDS, EDS);
  choose(a, RDS, CDS);
  choose(a, LDS, RDS);
  int changed = 0;
  size_t count[NTYPES] = {0};
  for (int ty = 0; ty < NTYPES; ty++)
    for (size_t i = 0; i < a->t[ty].n; i++) {
      res *r = a->t[ty].v[i];
      count[ty] += r->next != NULL;
      if (r->next != r->pub) changed = 1;
    }
  if (!changed && !a->republish && a->published) return;
  char version[512];
  snprintf(version, sizeof version, "lds=%s,rds=%s,cds=%s,eds=%s", a->t[LDS].version ? a->t[LDS].version : "",
           a->t[RDS].version ? a->t[RDS].version : "", a->t[CDS].version ? a->t[CDS].version : "",
           a->t[EDS].version ? a->t[EDS].version : "");
  char origin[300];
  snprintf(origin, sizeof origin, "xds:%s", a->server->uri);
  mesh__snapshot *snap = build_snapshot(a, count, origin, version);
  if (!snap) {
    LOG(a, ERROR, "xDS: out of memory building the config; keeping the last good one");
    return;
  }
  mesh__enter(a->m);
  int rc = mesh__router_publish(a->m, snap);
  if (rc == 0) mesh__calls_config_changed(a->m);
  mesh__leave(a->m);
  mesh__snapshot_unref(snap);
  if (rc < 0) {
    LOG(a, ERROR, "xDS: out of memory applying the config; keeping the last good one");
    return;
  }
  a->published++;
  a->republish = 0;
  for (int ty = 0; ty < NTYPES; ty++)
    for (size_t i = 0; i < a->t[ty].n; i++) set_blob(&a->t[ty].v[i]->pub, a->t[ty].v[i]->next);
  LOG(a, INFO, "xDS: config %s applied (%zu listeners, %zu route configurations, %zu clusters)", version,
      count[LDS], count[RDS], count[CDS]);
}

/* ---- responses ---- */

static void append_err(char *detail, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append_err(char *detail, size_t cap, const char *fmt, ...) {
  size_t l = strlen(detail);
  if (l + 8 >= cap) return;
  if (l) {
    memcpy(detail + l, "; ", 3);
    l += 2;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail + l, cap - l, fmt, ap);
  va_end(ap);
}

static int type_of(const char *url) {
  for (int i = 0; i < NTYPES; i++)
    if (url && !strcmp(url, type_url[i])) return i;
  return -1;
}

/* One resource of a response: decode, pick out, validate (R3), cache.
 * Problems go to detail; 1 when the resource was accepted, -1 when it
 * undid one accepted earlier in the response (a repeated name). */
static int apply_resource(mesh__ads *a, int type, unsigned gen, size_t i, const Google__Protobuf__Any *any,
                          const char *version, char *detail) {
  tstate *t = &a->t[type];
  char err[512] = "";
  if (!any->type_url || strcmp(any->type_url, type_url[type]) != 0) {
    append_err(detail, MAX_ERROR_DETAIL, "resources[%zu]: type \"%s\" in a %s response", i,
               any->type_url ? any->type_url : "", type_kind[type]);
    return 0;
  }
  ProtobufCMessage *msg = protobuf_c_message_unpack(type_desc[type], NULL, any->value.len, any->value.data);
  if (!msg) {
    append_err(detail, MAX_ERROR_DETAIL, "resources[%zu]: cannot decode a %s", i, type_kind[type]);
    return 0;
  }
  const char *mname = msg_name(type, msg);
  if (!mname || !*mname) {
    append_err(detail, MAX_ERROR_DETAIL, "resources[%zu]: %s without a name", i, type_kind[type]);
    protobuf_c_message_free_unpacked(msg, NULL);
    return 0;
  }
  res *r = find(t, mname);
  if (!r && type != LDS) {
    /* R3 / xds_protocol: resources not asked for are ignored. */
    protobuf_c_message_free_unpacked(msg, NULL);
    return 0;
  }
  if (!r && !(r = add(t, mname))) {
    protobuf_c_message_free_unpacked(msg, NULL);
    return 0;
  }
  r->wanted = 1;
  if (r->seen == gen) {
    /* xds_protocol: the same name twice in one response is a NACK; which
     * copy is meant is unknown, so neither is used. */
    append_err(detail, MAX_ERROR_DETAIL, "%s \"%s\": appears twice in the response", type_kind[type], r->name);
    if (r->cur != r->before) set_blob(&r->cur, r->before);
    r->status = ST_NACKED;
    set_str(&r->error, "appears twice in one response");
    protobuf_c_message_free_unpacked(msg, NULL);
    return -1;
  }
  r->seen = gen;
  set_blob(&r->before, r->cur);
  mesh__notes notes;
  mesh__notes_init(&notes);
  blob *b = validate(type, msg, any->value.data, any->value.len, err, sizeof err, &notes);
  protobuf_c_message_free_unpacked(msg, NULL);
  for (size_t k = 0; k < notes.n; k++) LOG(a, INFO, "xDS: %s \"%s\": %s", type_kind[type], r->name, notes.v[k]);
  mesh__notes_free(&notes);
  if (!b) {
    /* A46: only this resource is rejected; the cached copy stays. */
    append_err(detail, MAX_ERROR_DETAIL, "%s \"%s\": %s", type_kind[type], r->name, err);
    r->status = ST_NACKED;
    set_str(&r->error, err);
    return 0;
  }
  set_blob(&r->cur, b);
  blob_unref(b);
  r->status = ST_ACKED;
  r->requested_ns = 0;
  set_str(&r->version, version);
  set_str(&r->error, NULL);
  return 1;
}

static void forget_before(tstate *t, unsigned gen) {
  for (size_t i = 0; i < t->n; i++)
    if (t->v[i]->seen == gen) set_blob(&t->v[i]->before, NULL);
}

/* The server deleted r (R7). gRFC A88: by default a deletion is a data
 * error and the cached copy keeps serving; the server feature
 * fail_on_data_errors (without ignore_resource_deletion) honours it.
 * 1 when r was freed (a listener). */
static int deleted(mesh__ads *a, int type, res *r) {
  if (!r->cur) {
    r->status = ST_DOES_NOT_EXIST;
    r->requested_ns = 0;
    return 0;
  }
  if (a->server->fail_on_data_errors && !a->server->ignore_resource_deletion) {
    LOG(a, WARN, "xDS: %s \"%s\" deleted by the control plane", type_kind[type], r->name);
    a->republish = 1;
    if (type == LDS && !r->named) {
      res_free(r);
      return 1;
    }
    /* Neither copy may serve any more (no fallback to the published one). */
    set_blob(&r->cur, NULL);
    set_blob(&r->pub, NULL);
    r->status = ST_DOES_NOT_EXIST;
    set_str(&r->error, "deleted by the control plane");
  } else if (!r->error || strncmp(r->error, "deleted", 7)) {
    if (!a->deletion_warned++)
      LOG(a, WARN, "xDS: %s \"%s\" deleted by the control plane; the cached copy stays in use (gRFC A88; "
                   "set server feature fail_on_data_errors to honour deletions)", type_kind[type], r->name);
    set_str(&r->error, "deleted by the control plane; cached copy kept");
  }
  return 0;
}

/* After a response: count it, ACK or NACK it (R2), follow the cascade,
 * publish. */
static void finish_response(mesh__ads *a, int type, const char *version, const char *nonce, const char *detail,
                            size_t nvalid) {
  tstate *t = &a->t[type];
  set_str(&t->nonce, nonce);
  if (detail[0]) {
    a->rejected++;
    snprintf(a->last_nack, sizeof a->last_nack, "%s version %s: %s", type_kind[type], version, detail);
    LOG(a, WARN, "xDS: NACK %s version %s (%zu valid resources applied): %s", type_kind[type], version, nvalid,
        detail);
  } else {
    a->accepted++;
    set_str(&t->version, version);
  }
  resubscribe(a);
  send_for(a, type, 1, detail[0] ? detail : NULL);
  for (int ty = 0; ty < NTYPES; ty++)
    if (ty != type && a->t[ty].dirty) send_for(a, ty, 0, NULL);
  publish(a);
  /* What the previous snapshot alone referred to is no longer wanted
   * now: unsubscribe it (R7: RDS/EDS go when nothing refers to them). */
  resubscribe(a);
  for (int ty = 0; ty < NTYPES; ty++)
    if (a->t[ty].dirty) send_for(a, ty, 0, NULL);
  if (a->republish) publish(a);
}

static void handle_response(mesh__ads *a, const Envoy__Service__Discovery__V3__DiscoveryResponse *dr) {
  int type = type_of(dr->type_url);
  if (type < 0) {
    LOG(a, WARN, "xDS: response for type \"%s\", which libmesh did not subscribe to; ignored", dr->type_url);
    return;
  }
  tstate *t = &a->t[type];
  char *detail = calloc(1, MAX_ERROR_DETAIL);
  if (!detail) return;
  unsigned gen = ++a->gen;
  const char *version = dr->version_info ? dr->version_info : "";
  size_t nvalid = 0;
  for (size_t i = 0; i < dr->n_resources; i++)
    if (apply_resource(a, type, gen, i, dr->resources[i], version, detail) > 0) nvalid++;
  forget_before(t, gen);
  /* R7: in SotW, LDS and CDS responses are complete; a cached resource
   * missing from one has been deleted. */
  if (type == LDS || type == CDS) {
    size_t o = 0;
    for (size_t i = 0; i < t->n; i++) {
      res *r = t->v[i];
      if (r->seen == gen || !r->cur || !deleted(a, type, r)) t->v[o++] = r;
    }
    if (o != t->n) {
      t->n = o;
      reindex(t);
    }
  }
  finish_response(a, type, version, dr->nonce, detail, nvalid);
  free(detail);
}

static void handle_delta(mesh__ads *a, const Envoy__Service__Discovery__V3__DeltaDiscoveryResponse *dr) {
  int type = type_of(dr->type_url);
  if (type < 0) {
    LOG(a, WARN, "xDS: response for type \"%s\", which libmesh did not subscribe to; ignored", dr->type_url);
    return;
  }
  tstate *t = &a->t[type];
  char *detail = calloc(1, MAX_ERROR_DETAIL);
  if (!detail) return;
  unsigned gen = ++a->gen;
  size_t nvalid = 0;
  for (size_t i = 0; i < dr->n_resources; i++) {
    const Envoy__Service__Discovery__V3__Resource *rs = dr->resources[i];
    if (!rs->resource) {
      /* xds_protocol (delta): a Resource with a name and no body: it does
       * not exist. */
      res *r = rs->name ? find(t, rs->name) : NULL;
      if (r && !r->cur) deleted(a, type, r);
      continue;
    }
    if (apply_resource(a, type, gen, i, rs->resource, rs->version ? rs->version : "", detail) > 0) nvalid++;
  }
  forget_before(t, gen);
  /* R7: delta deletion is explicit. */
  for (size_t i = 0; i < dr->n_removed_resources; i++) {
    res *r = find(t, dr->removed_resources[i]);
    if (!r) continue;
    if (deleted(a, type, r)) {
      size_t o = 0;
      for (size_t k = 0; k < t->n; k++)
        if (t->v[k] != r) t->v[o++] = t->v[k];
      t->n = o;
      reindex(t);
    }
  }
  finish_response(a, type, dr->system_version_info ? dr->system_version_info : "", dr->nonce, detail, nvalid);
  free(detail);
}

/* ---- the stream ---- */

static void connect_now(mesh__ads *a);

static void on_open(void *ud) {
  mesh__ads *a = ud;
  a->conn = CONN_READY;
  a->node_sent = 0;
  LOG(a, INFO, "xDS: stream open to %s", a->server->uri);
  /* R6: a new stream re-sends every subscription with the last versions;
   * nonces belong to the old stream. LDS first, as the server expects
   * the cascade to start there. */
  for (int ty = 0; ty < NTYPES; ty++) {
    set_str(&a->t[ty].nonce, NULL);
    a->t[ty].sent = 0;
    free_unsub(&a->t[ty]); /* delta: the new stream starts from nothing (xds_protocol) */
    for (size_t i = 0; i < a->t[ty].n; i++) a->t[ty].v[i]->sent_sub = 0;
    if (ty == LDS || a->t[ty].n) send_for(a, ty, 0, NULL);
  }
}

static void on_message(void *ud, const uint8_t *data, size_t len) {
  mesh__ads *a = ud;
  if (a->delta) {
    Envoy__Service__Discovery__V3__DeltaDiscoveryResponse *dd =
        envoy__service__discovery__v3__delta_discovery_response__unpack(NULL, len, data);
    if (!dd) {
      snprintf(a->last_error, sizeof a->last_error, "undecodable DeltaDiscoveryResponse (%zu bytes)", len);
      LOG(a, WARN, "xDS: %s; ignored", a->last_error);
      return;
    }
    a->got_response = 1;
    a->backoff_ms = BACKOFF_INITIAL_MS;
    handle_delta(a, dd);
    envoy__service__discovery__v3__delta_discovery_response__free_unpacked(dd, NULL);
    return;
  }
  Envoy__Service__Discovery__V3__DiscoveryResponse *dr = envoy__service__discovery__v3__discovery_response__unpack(
      NULL, len, data);
  if (!dr) {
    snprintf(a->last_error, sizeof a->last_error, "undecodable DiscoveryResponse (%zu bytes)", len);
    LOG(a, WARN, "xDS: %s; ignored", a->last_error);
    return;
  }
  /* A57: a response resets the backoff. */
  a->got_response = 1;
  a->backoff_ms = BACKOFF_INITIAL_MS;
  handle_response(a, dr);
  envoy__service__discovery__v3__discovery_response__free_unpacked(dr, NULL);
}

static void on_close(void *ud, int status, const char *reason) {
  mesh__ads *a = ud;
  a->restarts++;
  snprintf(a->last_error, sizeof a->last_error, "%s", reason);
  /* R4: the cached config stays; does-not-exist timers stop (A57). */
  for (int ty = 0; ty < NTYPES; ty++)
    for (size_t i = 0; i < a->t[ty].n; i++) a->t[ty].v[i]->requested_ns = 0;
  double delay = 0;
  if (!a->got_response) {
    /* A57: closed before any response: a connectivity error; back off
     * with jitter so that clients started together disperse. */
    double j = 1.0 + BACKOFF_JITTER * (2.0 * (double)(rnd(a) % 10001) / 10000.0 - 1.0);
    delay = a->backoff_ms * j;
    a->backoff_ms *= BACKOFF_MULTIPLIER;
    if (a->backoff_ms > BACKOFF_MAX_MS) a->backoff_ms = BACKOFF_MAX_MS;
  }
  mesh__log(&a->m->opts.log, status == 0 ? MESH_LOG_INFO : MESH_LOG_WARN, "xDS: stream to %s closed (%s); keeping the last config, "
      "retrying in %.0f ms", a->server->uri, reason, delay);
  a->conn = CONN_BACKOFF;
  struct timeval tv = {(time_t)(delay / 1000), (suseconds_t)((long)delay % 1000) * 1000};
  event_add(a->retry_ev, &tv);
}

static void on_retry(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  connect_now(arg);
}

static void connect_now(mesh__ads *a) {
  mesh__grpc_free(a->g);
  a->g = NULL;
  a->got_response = 0;
  a->conn = CONN_CONNECTING;
  mesh__grpc_opts o = {.host = a->server->host,
                       .port = a->server->port,
                       .unix_path = a->server->unix_path,
                       .path = a->delta ? DELTA_ADS_PATH : ADS_PATH,
                       .max_message = MAX_MESSAGE,
                       .keepalive_ms = KEEPALIVE_MS,
                       .connect_timeout_ms = CONNECT_TIMEOUT_MS};
  mesh__grpc_cbs cbs = {on_open, on_message, on_close};
  char err[256];
  a->g = mesh__grpc_open(a->m->base, a->dns, &o, &cbs, a, err, sizeof err);
  if (!a->g) {
    snprintf(a->last_error, sizeof a->last_error, "%s", err);
    a->conn = CONN_BACKOFF;
    struct timeval tv = {1, 0};
    event_add(a->retry_ev, &tv);
  }
}

/* Does-not-exist timers (R5), checked once a second. */
static void on_tick(evutil_socket_t fd, short what, void *arg) {
  mesh__ads *a = arg;
  (void)fd;
  (void)what;
  if (a->conn != CONN_READY) return;
  uint64_t now = mesh__now_ns();
  int transient = a->server->resource_timer_is_transient_error;
  uint64_t limit = (uint64_t)(transient ? TIMEOUT_TRANSIENT_MS : DOES_NOT_EXIST_MS) * 1000000u;
  for (int ty = 0; ty < NTYPES; ty++)
    for (size_t i = 0; i < a->t[ty].n; i++) {
      res *r = a->t[ty].v[i];
      if (r->cur || !r->requested_ns || now - r->requested_ns < limit) continue;
      r->requested_ns = 0;
      r->status = transient ? ST_TIMEOUT : ST_DOES_NOT_EXIST;
      set_str(&r->error, transient ? "no answer from the control plane in time" : "the control plane did not send it "
                                                                                   "within 15 s");
      LOG(a, WARN, "xDS: %s \"%s\": %s", type_kind[ty], r->name, r->error);
    }
}

int mesh__ads_start(struct mesh *m, mesh__bootstrap *b, mesh__ads **out, char *err, size_t errlen) {
  *out = NULL;
  mesh__ads *a = calloc(1, sizeof *a);
  if (!a) {
    mesh__bootstrap_free(b);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  a->m = m;
  a->b = b;
  a->server = &b->servers[0];
  a->backoff_ms = BACKOFF_INITIAL_MS;
  a->delta = a->server->delta;
  a->rng = mesh__now_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)a;
  if (!a->rng) a->rng = 1;
  a->retry_ev = evtimer_new(m->base, on_retry, a);
  a->tick_ev = event_new(m->base, -1, EV_PERSIST, on_tick, a);
  if (!a->retry_ev || !a->tick_ev) {
    mesh__ads_free(a);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  struct timeval sec = {1, 0};
  event_add(a->tick_ev, &sec);
  a->dns = evdns_base_new(m->base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
  for (size_t i = 0; i < b->nnotes; i++) LOG(a, INFO, "xDS bootstrap: %s", b->notes[i]);
  /* No config yet: an empty snapshot, so calls fail with "no listener"
   * instead of going straight to the authority. */
  publish(a);
  connect_now(a);
  *out = a;
  return 0;
}

void mesh__ads_free(mesh__ads *a) {
  if (!a) return;
  mesh__grpc_free(a->g);
  if (a->retry_ev) event_free(a->retry_ev);
  if (a->tick_ev) event_free(a->tick_ev);
  if (a->dns) evdns_base_free(a->dns, 0);
  for (int ty = 0; ty < NTYPES; ty++) {
    for (size_t i = 0; i < a->t[ty].n; i++) res_free(a->t[ty].v[i]);
    free(a->t[ty].v);
    free(a->t[ty].idx);
    free(a->t[ty].version);
    free(a->t[ty].nonce);
    free_unsub(&a->t[ty]);
  }
  mesh__bootstrap_free(a->b);
  free(a);
}

void mesh__ads_counters(const mesh__ads *a, uint64_t *accepted, uint64_t *rejected) {
  *accepted = a->accepted;
  *rejected = a->rejected;
}

static int put(mesh__buf *b, const char *s) { return mesh__buf_append_str(b, s); }

int mesh__ads_dump(const mesh__ads *a, mesh__buf *b) {
  char num[160];
  int rc = put(b, "{\"server\": ");
  rc |= mesh__json_string(b, a->server->uri);
  rc |= put(b, a->delta ? ", \"protocol\": \"delta\"" : ", \"protocol\": \"sotw\"");
  rc |= put(b, ", \"state\": ");
  rc |= mesh__json_string(b, conn_name[a->conn]);
  snprintf(num, sizeof num, ", \"accepted\": %llu, \"rejected\": %llu, \"stream_restarts\": %llu",
           (unsigned long long)a->accepted, (unsigned long long)a->rejected, (unsigned long long)a->restarts);
  rc |= put(b, num);
  rc |= put(b, ", \"last_error\": ");
  rc |= mesh__json_string(b, a->last_error);
  rc |= put(b, ", \"last_nack\": ");
  rc |= mesh__json_string(b, a->last_nack);
  rc |= put(b, ", \"types\": [");
  for (int ty = 0; ty < NTYPES; ty++) {
    const tstate *t = &a->t[ty];
    rc |= put(b, ty ? ",\n    {\"type_url\": " : "\n    {\"type_url\": ");
    rc |= mesh__json_string(b, type_url[ty]);
    rc |= put(b, ", \"version\": ");
    rc |= mesh__json_string(b, t->version ? t->version : "");
    rc |= put(b, ", \"nonce\": ");
    rc |= mesh__json_string(b, t->nonce ? t->nonce : "");
    rc |= put(b, ", \"resources\": [");
    for (size_t i = 0; i < t->n; i++) {
      const res *r = t->v[i];
      rc |= put(b, i ? ",\n      {\"name\": " : "\n      {\"name\": ");
      rc |= mesh__json_string(b, r->name);
      rc |= put(b, ", \"status\": ");
      rc |= mesh__json_string(b, st_name[r->status]);
      rc |= put(b, ", \"version\": ");
      rc |= mesh__json_string(b, r->version ? r->version : "");
      rc |= put(b, ", \"in_use\": ");
      rc |= put(b, r->pub ? "true" : "false");
      if (r->error) {
        rc |= put(b, ", \"error\": ");
        rc |= mesh__json_string(b, r->error);
      }
      if (r->cur) {
        /* The newest valid copy, as libmesh decoded it. */
        mesh__pbjson_opts jo;
        memset(&jo, 0, sizeof jo);
        jo.resolve = mesh__pb_find;
        ProtobufCMessage *msg = protobuf_c_message_unpack(type_desc[ty], NULL, r->cur->len, r->cur->bytes);
        char *json = msg ? mesh__pbjson_encode(msg, &jo, 0) : NULL;
        if (msg) protobuf_c_message_free_unpacked(msg, NULL);
        rc |= put(b, ", \"resource\": ");
        rc |= put(b, json ? json : "null");
        free(json);
      }
      rc |= put(b, "}");
    }
    rc |= put(b, "]}");
  }
  rc |= put(b, "]}");
  return rc ? -1 : 0;
}
