/* The test xDS management server (see server.h). ADS state of the world as
 * envoyproxy/envoy api/xds_protocol.rst describes the server side: answer
 * a request when its resource names change or the resources do, not a
 * plain ACK; LDS and CDS with no names are wildcard; push every change to
 * every stream. */
#include "server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "envoy/config/cluster/v3/cluster.pb-c.h"
#include "envoy/config/endpoint/v3/endpoint.pb-c.h"
#include "envoy/config/listener/v3/listener.pb-c.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "envoy/service/discovery/v3/discovery.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "xds/pbjson.h"
#include "xds/registry.h"

static const char *const type_url[XDS_NTYPES] = {
    "type.googleapis.com/envoy.config.listener.v3.Listener",
    "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
    "type.googleapis.com/envoy.config.cluster.v3.Cluster",
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"};

typedef struct resource {
  int type;
  char *name;
  char *type_url;      /* as sent (a wrong one can be sent on purpose) */
  uint8_t *data;
  size_t len;
} resource;

typedef struct stream stream;
typedef struct conn conn;

struct stream {
  conn *c;
  int32_t id;
  struct evbuffer *in, *out;
  int subscribed[XDS_NTYPES];
  char **names[XDS_NTYPES];
  size_t nnames[XDS_NTYPES];
  int sent_version[XDS_NTYPES]; /* 0: nothing sent */
  int nonce;
  int first_seen[XDS_NTYPES];
  int delta;                   /* DeltaAggregatedResources */
  int ending;                  /* send trailers once out is drained */
  char end_status[8], end_msg[256];
  int wildcard[XDS_NTYPES];    /* delta: "*" subscribed */
  struct sent {                /* delta: what the client holds, by name */
    char *name;
    char version[24];
  } *sent[XDS_NTYPES];
  size_t nsent[XDS_NTYPES];
  stream *next;
};

struct conn {
  xds_server *s;
  struct bufferevent *bev;
  nghttp2_session *h2;
  stream *streams;
  conn *next;
};

struct xds_server {
  struct event_base *base;
  pthread_t thread;
  struct evconnlistener *lis;
  struct evconnlistener *ulis; /* Unix socket, if asked for */
  uint16_t port;
  conn *conns;
  resource *res;
  size_t nres;
  int version;
  pthread_mutex_t mu; /* stats */
  xds_server_stats st;
  int quit;
  int no_wildcard;     /* serve named resources only (as some servers do for LDS) */
};

/* ---- running things on the server thread ---- */

typedef struct job {
  void (*fn)(xds_server *, void *);
  xds_server *s;
  void *arg;
  int done;
  pthread_mutex_t mu;
  pthread_cond_t cv;
} job;

static void run_job(evutil_socket_t fd, short what, void *arg) {
  job *j = arg;
  (void)fd;
  (void)what;
  j->fn(j->s, j->arg);
  pthread_mutex_lock(&j->mu);
  j->done = 1;
  pthread_cond_signal(&j->cv);
  pthread_mutex_unlock(&j->mu);
}

static void on_loop(xds_server *s, void (*fn)(xds_server *, void *), void *arg) {
  job j = {fn, s, arg, 0, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};
  struct timeval now = {0, 0};
  event_base_once(s->base, -1, EV_TIMEOUT, run_job, &j, &now);
  pthread_mutex_lock(&j.mu);
  while (!j.done) pthread_cond_wait(&j.cv, &j.mu);
  pthread_mutex_unlock(&j.mu);
}

/* ---- sending ---- */

static void flush(conn *c) {
  if (c->h2) nghttp2_session_send(c->h2);
}

static void send_msg(stream *st, const uint8_t *data, size_t len) {
  uint8_t hdr[5] = {0, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
  evbuffer_add(st->out, hdr, 5);
  evbuffer_add(st->out, data, len);
  nghttp2_session_resume_data(st->c->h2, st->id);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* names[type] is kept sorted: 10,000 names x 10,000 resources must not
 * be a nested loop. */
static int wanted(const xds_server *s, const stream *st, int type, const char *name) {
  if (st->nnames[type] == 0) return !s->no_wildcard && (type == XDS_LDS || type == XDS_CDS); /* wildcard */
  const char *star = "*";
  return bsearch(&name, st->names[type], st->nnames[type], sizeof(char *), cmp_str) ||
         (!s->no_wildcard && bsearch(&star, st->names[type], st->nnames[type], sizeof(char *), cmp_str));
}

static void send_type(xds_server *s, stream *st, int type) {
  Envoy__Service__Discovery__V3__DiscoveryResponse dr = ENVOY__SERVICE__DISCOVERY__V3__DISCOVERY_RESPONSE__INIT;
  Google__Protobuf__Any *anys = calloc(s->nres + 1, sizeof *anys);
  Google__Protobuf__Any **ptrs = calloc(s->nres + 1, sizeof *ptrs);
  size_t n = 0;
  for (size_t i = 0; i < s->nres; i++) {
    resource *r = &s->res[i];
    if (r->type != type || !wanted(s, st, type, r->name)) continue;
    google__protobuf__any__init(&anys[n]);
    anys[n].type_url = r->type_url;
    anys[n].value.data = r->data;
    anys[n].value.len = r->len;
    ptrs[n] = &anys[n];
    n++;
  }
  /* SotW: RDS/EDS with nothing to say stay silent (no empty response). */
  if (n == 0 && type != XDS_LDS && type != XDS_CDS) {
    free(anys);
    free(ptrs);
    return;
  }
  char version[32], nonce[32];
  snprintf(version, sizeof version, "%d", s->version);
  snprintf(nonce, sizeof nonce, "n%d", ++st->nonce);
  dr.version_info = version;
  dr.type_url = (char *)type_url[type];
  dr.nonce = nonce;
  dr.resources = ptrs;
  dr.n_resources = n;
  size_t len = protobuf_c_message_get_packed_size(&dr.base);
  uint8_t *buf = malloc(len + 1);
  protobuf_c_message_pack(&dr.base, buf);
  send_msg(st, buf, len);
  free(buf);
  free(anys);
  free(ptrs);
  st->sent_version[type] = s->version;
}

/* ---- incremental xDS ---- */

static struct sent *sent_find(stream *st, int type, const char *name) {
  for (size_t i = 0; i < st->nsent[type]; i++)
    if (!strcmp(st->sent[type][i].name, name)) return &st->sent[type][i];
  return NULL;
}

static struct sent *sent_put(stream *st, int type, const char *name, const char *version) {
  struct sent *e = sent_find(st, type, name);
  if (!e) {
    st->sent[type] = realloc(st->sent[type], (st->nsent[type] + 1) * sizeof *e);
    e = &st->sent[type][st->nsent[type]++];
    e->name = strdup(name);
  }
  snprintf(e->version, sizeof e->version, "%s", version);
  return e;
}

static void res_version(const resource *r, char *out, size_t len) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < r->len; i++) h = (h ^ r->data[i]) * 1099511628211ull;
  snprintf(out, len, "%016llx", (unsigned long long)h);
}

/* Send what changed for type since the client last heard (xds_protocol
 * "Incremental xDS"): changed resources, and removed_resources. */
static void send_delta_type(xds_server *s, stream *st, int type) {
  Envoy__Service__Discovery__V3__DeltaDiscoveryResponse dr =
      ENVOY__SERVICE__DISCOVERY__V3__DELTA_DISCOVERY_RESPONSE__INIT;
  Envoy__Service__Discovery__V3__Resource *rs = calloc(s->nres + 1, sizeof *rs);
  Envoy__Service__Discovery__V3__Resource **rsp = calloc(s->nres + 1, sizeof *rsp);
  Google__Protobuf__Any *anys = calloc(s->nres + 1, sizeof *anys);
  char (*vers)[24] = calloc(s->nres + 1, sizeof *vers);
  char **removed = calloc(st->nsent[type] + 1, sizeof *removed);
  size_t n = 0, nrem = 0;
  for (size_t i = 0; i < s->nres; i++) {
    resource *r = &s->res[i];
    if (r->type != type) continue;
    int want = st->wildcard[type] && !s->no_wildcard;
    for (size_t k = 0; !want && k < st->nnames[type]; k++) want = !strcmp(st->names[type][k], r->name);
    if (!want) continue;
    res_version(r, vers[n], sizeof vers[n]);
    struct sent *e = sent_find(st, type, r->name);
    if (e && !strcmp(e->version, vers[n])) continue;
    sent_put(st, type, r->name, vers[n]);
    envoy__service__discovery__v3__resource__init(&rs[n]);
    google__protobuf__any__init(&anys[n]);
    anys[n].type_url = r->type_url;
    anys[n].value.data = r->data;
    anys[n].value.len = r->len;
    rs[n].name = r->name;
    rs[n].version = vers[n];
    rs[n].resource = &anys[n];
    rsp[n] = &rs[n];
    n++;
  }
  /* Held by the client but gone from the server. */
  size_t o = 0;
  for (size_t i = 0; i < st->nsent[type]; i++) {
    int present = 0;
    for (size_t k = 0; !present && k < s->nres; k++)
      present = s->res[k].type == type && !strcmp(s->res[k].name, st->sent[type][i].name);
    if (present) st->sent[type][o++] = st->sent[type][i];
    else removed[nrem++] = st->sent[type][i].name;
  }
  st->nsent[type] = o;
  if (n || nrem) {
    char version[32], nonce[32];
    snprintf(version, sizeof version, "%d", s->version);
    snprintf(nonce, sizeof nonce, "n%d", ++st->nonce);
    dr.system_version_info = version;
    dr.type_url = (char *)type_url[type];
    dr.nonce = nonce;
    dr.resources = rsp;
    dr.n_resources = n;
    dr.removed_resources = removed;
    dr.n_removed_resources = nrem;
    size_t len = protobuf_c_message_get_packed_size(&dr.base);
    uint8_t *buf = malloc(len + 1);
    protobuf_c_message_pack(&dr.base, buf);
    send_msg(st, buf, len);
    free(buf);
  }
  for (size_t i = 0; i < nrem; i++) free(removed[i]);
  free(removed);
  free(rs);
  free(rsp);
  free(anys);
  free(vers);
  st->sent_version[type] = s->version;
}

static int type_of(const char *url);

static void on_delta_request(stream *st, const uint8_t *data, size_t len) {
  xds_server *s = st->c->s;
  Envoy__Service__Discovery__V3__DeltaDiscoveryRequest *rq =
      envoy__service__discovery__v3__delta_discovery_request__unpack(NULL, len, data);
  if (!rq) return;
  int type = type_of(rq->type_url);
  if (type < 0) {
    envoy__service__discovery__v3__delta_discovery_request__free_unpacked(rq, NULL);
    return;
  }
  pthread_mutex_lock(&s->mu);
  s->st.requests[type]++;
  s->st.delta_requests++;
  if (rq->node && rq->node->id) snprintf(s->st.node_id, sizeof s->st.node_id, "%s", rq->node->id);
  if (!st->first_seen[type]) {
    st->first_seen[type] = 1;
    s->st.initial_versions[type] = (int)rq->n_initial_resource_versions;
  }
  if (rq->error_detail) {
    s->st.nacks[type]++;
    snprintf(s->st.last_nack[type], sizeof s->st.last_nack[type], "%s", rq->error_detail->message);
  } else if (rq->response_nonce && *rq->response_nonce) {
    s->st.acks[type]++;
  }
  s->st.unsubscribed[type] += (int)rq->n_resource_names_unsubscribe;
  pthread_mutex_unlock(&s->mu);
  for (size_t i = 0; i < rq->n_initial_resource_versions; i++)
    sent_put(st, type, rq->initial_resource_versions[i]->key, rq->initial_resource_versions[i]->value);
  for (size_t i = 0; i < rq->n_resource_names_subscribe; i++) {
    const char *nm = rq->resource_names_subscribe[i];
    if (!strcmp(nm, "*")) {
      st->wildcard[type] = 1;
      continue;
    }
    st->names[type] = realloc(st->names[type], (st->nnames[type] + 1) * sizeof(char *));
    st->names[type][st->nnames[type]++] = strdup(nm);
  }
  for (size_t i = 0; i < rq->n_resource_names_unsubscribe; i++) {
    const char *nm = rq->resource_names_unsubscribe[i];
    if (!strcmp(nm, "*")) st->wildcard[type] = 0;
    size_t o = 0;
    for (size_t k = 0; k < st->nnames[type]; k++) {
      if (!strcmp(st->names[type][k], nm)) free(st->names[type][k]);
      else st->names[type][o++] = st->names[type][k];
    }
    st->nnames[type] = o;
    /* Forget what it held: a later subscribe gets it again. */
    size_t q = 0;
    for (size_t k = 0; k < st->nsent[type]; k++) {
      if (!strcmp(st->sent[type][k].name, nm)) free(st->sent[type][k].name);
      else st->sent[type][q++] = st->sent[type][k];
    }
    st->nsent[type] = q;
  }
  st->subscribed[type] = 1;
  send_delta_type(s, st, type);
  envoy__service__discovery__v3__delta_discovery_request__free_unpacked(rq, NULL);
}

/* ---- requests ---- */

static int type_of(const char *url) {
  for (int i = 0; i < XDS_NTYPES; i++)
    if (url && !strcmp(url, type_url[i])) return i;
  return -1;
}

static void on_request(stream *st, const uint8_t *data, size_t len) {
  xds_server *s = st->c->s;
  Envoy__Service__Discovery__V3__DiscoveryRequest *rq =
      envoy__service__discovery__v3__discovery_request__unpack(NULL, len, data);
  if (!rq) return;
  int type = type_of(rq->type_url);
  if (type < 0) {
    envoy__service__discovery__v3__discovery_request__free_unpacked(rq, NULL);
    return;
  }
  pthread_mutex_lock(&s->mu);
  s->st.requests[type]++;
  if (rq->node && rq->node->id) snprintf(s->st.node_id, sizeof s->st.node_id, "%s", rq->node->id);
  if (!st->first_seen[type]) {
    st->first_seen[type] = 1;
    snprintf(s->st.first_version[type], sizeof s->st.first_version[type], "%s", rq->version_info);
  }
  if (rq->error_detail) {
    s->st.nacks[type]++;
    snprintf(s->st.last_nack[type], sizeof s->st.last_nack[type], "%s", rq->error_detail->message);
  } else if (rq->response_nonce && *rq->response_nonce) {
    s->st.acks[type]++;
  }
  pthread_mutex_unlock(&s->mu);
  /* Did the names change? (Compared sorted.) */
  char **names = calloc(rq->n_resource_names + 1, sizeof(char *));
  for (size_t i = 0; i < rq->n_resource_names; i++) names[i] = strdup(rq->resource_names[i]);
  qsort(names, rq->n_resource_names, sizeof(char *), cmp_str);
  int changed = !st->subscribed[type] || rq->n_resource_names != st->nnames[type];
  for (size_t i = 0; !changed && i < rq->n_resource_names; i++)
    if (strcmp(names[i], st->names[type][i])) changed = 1;
  for (size_t i = 0; i < st->nnames[type]; i++) free(st->names[type][i]);
  free(st->names[type]);
  st->names[type] = names;
  st->nnames[type] = rq->n_resource_names;
  st->subscribed[type] = 1;
  if (changed || st->sent_version[type] != s->version) send_type(s, st, type);
  envoy__service__discovery__v3__discovery_request__free_unpacked(rq, NULL);
}

/* ---- HTTP/2 ---- */

static stream *find_stream(conn *c, int32_t id) {
  for (stream *st = c->streams; st; st = st->next)
    if (st->id == id) return st;
  return NULL;
}

static void stream_free(stream *st) {
  evbuffer_free(st->in);
  evbuffer_free(st->out);
  for (int t = 0; t < XDS_NTYPES; t++) {
    for (size_t i = 0; i < st->nsent[t]; i++) free(st->sent[t][i].name);
    free(st->sent[t]);
    for (size_t i = 0; i < st->nnames[t]; i++) free(st->names[t][i]);
    free(st->names[t]);
  }
  free(st);
}

static ssize_t read_out(nghttp2_session *h, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                        nghttp2_data_source *src, void *ud) {
  stream *st = src->ptr;
  (void)ud;
  size_t have = evbuffer_get_length(st->out);
  if (!have && st->ending) {
    /* The gRPC status in trailers (PROTOCOL-HTTP2.md). */
    nghttp2_nv tr[] = {
        {(uint8_t *)"grpc-status", (uint8_t *)st->end_status, 11, strlen(st->end_status), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"grpc-message", (uint8_t *)st->end_msg, 12, strlen(st->end_msg), NGHTTP2_NV_FLAG_NONE}};
    *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    nghttp2_submit_trailer(h, id, tr, 2);
    return 0;
  }
  if (!have) return NGHTTP2_ERR_DEFERRED;
  return evbuffer_remove(st->out, buf, len < have ? len : have);
}

static int on_begin_headers(nghttp2_session *h, const nghttp2_frame *f, void *ud) {
  conn *c = ud;
  (void)h;
  if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  stream *st = calloc(1, sizeof *st);
  st->c = c;
  st->id = f->hd.stream_id;
  st->in = evbuffer_new();
  st->out = evbuffer_new();
  st->next = c->streams;
  c->streams = st;
  return 0;
}

static int on_header(nghttp2_session *h, const nghttp2_frame *f, const uint8_t *name, size_t nl, const uint8_t *value,
                     size_t vl, uint8_t flags, void *ud) {
  conn *c = ud;
  (void)h;
  (void)flags;
  if (f->hd.type != NGHTTP2_HEADERS || nl != 5 || memcmp(name, ":path", 5)) return 0;
  stream *st = find_stream(c, f->hd.stream_id);
  static const char delta_path[] = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";
  if (st) st->delta = vl == strlen(delta_path) && !memcmp(value, delta_path, vl);
  return 0;
}

static int on_frame_recv(nghttp2_session *h, const nghttp2_frame *f, void *ud) {
  conn *c = ud;
  if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  stream *st = find_stream(c, f->hd.stream_id);
  if (!st) return 0;
  nghttp2_nv hdrs[] = {{(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
                       {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, NGHTTP2_NV_FLAG_NONE}};
  nghttp2_data_provider dp = {.source = {.ptr = st}, .read_callback = read_out};
  nghttp2_submit_response(h, st->id, hdrs, 2, &dp);
  xds_server *s = c->s;
  pthread_mutex_lock(&s->mu);
  s->st.streams++;
  s->st.open_streams++;
  memset(s->st.first_version, 0, sizeof s->st.first_version);
  memset(s->st.initial_versions, 0, sizeof s->st.initial_versions);
  pthread_mutex_unlock(&s->mu);
  return 0;
}

static int on_data(nghttp2_session *h, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud) {
  conn *c = ud;
  (void)h;
  (void)flags;
  stream *st = find_stream(c, id);
  if (!st) return 0;
  evbuffer_add(st->in, data, len);
  for (;;) {
    size_t have = evbuffer_get_length(st->in);
    if (have < 5) break;
    uint8_t hdr[5];
    evbuffer_copyout(st->in, hdr, 5);
    size_t n = (size_t)hdr[1] << 24 | (size_t)hdr[2] << 16 | (size_t)hdr[3] << 8 | hdr[4];
    if (have < 5 + n) break;
    evbuffer_drain(st->in, 5);
    uint8_t *p = evbuffer_pullup(st->in, (ssize_t)n);
    if (st->delta) on_delta_request(st, p, n);
    else on_request(st, p, n);
    evbuffer_drain(st->in, n);
  }
  return 0;
}

static int on_stream_close(nghttp2_session *h, int32_t id, uint32_t code, void *ud) {
  conn *c = ud;
  (void)h;
  (void)code;
  for (stream **pp = &c->streams; *pp; pp = &(*pp)->next)
    if ((*pp)->id == id) {
      stream *st = *pp;
      *pp = st->next;
      pthread_mutex_lock(&c->s->mu);
      c->s->st.open_streams--;
      pthread_mutex_unlock(&c->s->mu);
      stream_free(st);
      break;
    }
  return 0;
}

static ssize_t on_send(nghttp2_session *h, const uint8_t *data, size_t len, int flags, void *ud) {
  conn *c = ud;
  (void)h;
  (void)flags;
  bufferevent_write(c->bev, data, len);
  return (ssize_t)len;
}

static void conn_free(conn *c) {
  xds_server *s = c->s;
  for (conn **pp = &s->conns; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  while (c->streams) {
    stream *st = c->streams;
    c->streams = st->next;
    pthread_mutex_lock(&s->mu);
    s->st.open_streams--;
    pthread_mutex_unlock(&s->mu);
    stream_free(st);
  }
  nghttp2_session_del(c->h2);
  bufferevent_free(c->bev);
  free(c);
}

static void conn_read(struct bufferevent *bev, void *arg) {
  conn *c = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  size_t len = evbuffer_get_length(in);
  uint8_t *p = evbuffer_pullup(in, (ssize_t)len);
  if (nghttp2_session_mem_recv(c->h2, p, len) < 0) {
    conn_free(c);
    return;
  }
  evbuffer_drain(in, len);
  flush(c);
}

static void conn_event(struct bufferevent *bev, short what, void *arg) {
  (void)bev;
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) conn_free(arg);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg) {
  xds_server *s = arg;
  (void)l;
  (void)sa;
  (void)salen;
  conn *c = calloc(1, sizeof *c);
  c->s = s;
  c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
  nghttp2_session_callbacks *cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_send_callback(cb, on_send);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_session_server_new(&c->h2, cb, c);
  nghttp2_session_callbacks_del(cb);
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
                                 {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 8 << 20}};
  nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2);
  nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, 16 << 20);
  c->next = s->conns;
  s->conns = c;
  bufferevent_setcb(c->bev, conn_read, NULL, conn_event, c);
  bufferevent_enable(c->bev, EV_READ | EV_WRITE);
  flush(c);
}

static int listen_on(xds_server *s) {
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sin.sin_port = htons(s->port);
  s->lis = evconnlistener_new_bind(s->base, on_accept, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 64,
                                   (struct sockaddr *)&sin, sizeof sin);
  if (!s->lis) return -1;
  struct sockaddr_in got;
  socklen_t gl = sizeof got;
  getsockname(evconnlistener_get_fd(s->lis), (struct sockaddr *)&got, &gl);
  s->port = ntohs(got.sin_port);
  return 0;
}

/* ---- the loop thread and the public functions ---- */

static void *loop_main(void *arg) {
  xds_server *s = arg;
  event_base_loop(s->base, EVLOOP_NO_EXIT_ON_EMPTY);
  return NULL;
}

xds_server *xds_server_start(uint16_t port) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, (void (*)(void))evthread_use_pthreads);
  xds_server *s = calloc(1, sizeof *s);
  s->base = event_base_new();
  s->port = port;
  pthread_mutex_init(&s->mu, NULL);
  if (!s->base || listen_on(s) < 0) {
    if (s->base) event_base_free(s->base);
    free(s);
    return NULL;
  }
  pthread_create(&s->thread, NULL, loop_main, s);
  return s;
}

uint16_t xds_server_port(const xds_server *s) { return s->port; }

static void do_no_wildcard(xds_server *s, void *arg) { s->no_wildcard = *(int *)arg; }

void xds_server_no_wildcard(xds_server *s, int on) { on_loop(s, do_no_wildcard, &on); }

typedef struct set_arg {
  resource *res;
  size_t nres;
} set_arg;

static void do_set(xds_server *s, void *arg) {
  set_arg *a = arg;
  for (size_t i = 0; i < s->nres; i++) {
    free(s->res[i].name);
    free(s->res[i].type_url);
    free(s->res[i].data);
  }
  free(s->res);
  s->res = a->res;
  s->nres = a->nres;
  s->version++;
  pthread_mutex_lock(&s->mu);
  s->st.version = s->version;
  pthread_mutex_unlock(&s->mu);
  /* Make before break (xds_protocol "Eventual consistency
   * considerations"): clusters and endpoints before listeners and routes. */
  static const int order[] = {XDS_CDS, XDS_EDS, XDS_LDS, XDS_RDS};
  for (conn *c = s->conns; c; c = c->next) {
    for (stream *st = c->streams; st; st = st->next)
      for (int k = 0; k < 4; k++)
        if (st->subscribed[order[k]]) {
          if (st->delta) send_delta_type(s, st, order[k]);
          else send_type(s, st, order[k]);
        }
    flush(c);
  }
}

static const char *name_of(int type, const ProtobufCMessage *m) {
  switch (type) {
  case XDS_LDS: return ((const Envoy__Config__Listener__V3__Listener *)m)->name;
  case XDS_RDS: return ((const Envoy__Config__Route__V3__RouteConfiguration *)m)->name;
  case XDS_CDS: return ((const Envoy__Config__Cluster__V3__Cluster *)m)->name;
  default: return ((const Envoy__Config__Endpoint__V3__ClusterLoadAssignment *)m)->cluster_name;
  }
}

int xds_server_set(xds_server *s, const char *text) {
  mesh__pbjson_opts o;
  memset(&o, 0, sizeof o);
  o.resolve = mesh__pb_find;
  o.max_nodes = 100000000; /* the scale benchmark's 100,000 endpoints */
  mesh__pbjson_report rep;
  memset(&rep, 0, sizeof rep);
  mesh__doc *doc;
  if (mesh__doc_parse(text, strlen(text), &o, &doc, &rep) < 0) {
    fprintf(stderr, "xds_server_set: line %d: %s\n", rep.error.line, rep.error.msg);
    mesh__pbjson_report_free(&rep);
    return -1;
  }
  const mesh__node *root = mesh__doc_root(doc);
  size_t n = mesh__node_len(root);
  set_arg a = {calloc(n + 1, sizeof(resource)), 0};
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    ProtobufCMessage *m = NULL;
    if (mesh__pbjson_decode_node(mesh__node_at(root, i), &google__protobuf__any__descriptor, &o, "", &m, &rep) < 0) {
      fprintf(stderr, "xds_server_set: [%zu]: %s: %s\n", i, rep.error.path, rep.error.msg);
      rc = -1;
      break;
    }
    Google__Protobuf__Any *any = (Google__Protobuf__Any *)m;
    resource *r = &a.res[a.nres++];
    r->type = type_of(any->type_url);
    r->type_url = strdup(any->type_url);
    r->data = malloc(any->value.len + 1);
    memcpy(r->data, any->value.data, any->value.len);
    r->len = any->value.len;
    if (r->type >= 0) {
      ProtobufCMessage *inner = mesh__pb_find(any->type_url, strlen(any->type_url))
                                    ? protobuf_c_message_unpack(mesh__pb_find(any->type_url, strlen(any->type_url)),
                                                                NULL, r->len, r->data)
                                    : NULL;
      r->name = strdup(inner ? name_of(r->type, inner) : "");
      if (inner) protobuf_c_message_free_unpacked(inner, NULL);
    } else {
      r->name = strdup("");
    }
    protobuf_c_message_free_unpacked(m, NULL);
  }
  mesh__pbjson_report_free(&rep);
  mesh__doc_free(doc);
  if (rc == 0) {
    on_loop(s, do_set, &a);
  } else {
    for (size_t i = 0; i < a.nres; i++) {
      free(a.res[i].name);
      free(a.res[i].type_url);
      free(a.res[i].data);
    }
    free(a.res);
  }
  return rc;
}

typedef struct unix_arg {
  const char *path;
  int rc;
} unix_arg;

static void do_listen_unix(xds_server *s, void *arg) {
  unix_arg *u = arg;
  struct sockaddr_un sun;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  snprintf(sun.sun_path, sizeof sun.sun_path, "%s", u->path);
  unlink(u->path);
  s->ulis = evconnlistener_new_bind(s->base, on_accept, s, LEV_OPT_CLOSE_ON_FREE, 16, (struct sockaddr *)&sun,
                                    sizeof sun);
  u->rc = s->ulis ? 0 : -1;
}

int xds_server_listen_unix(xds_server *s, const char *path) {
  unix_arg u = {path, -1};
  on_loop(s, do_listen_unix, &u);
  return u.rc;
}

typedef struct end_arg {
  int code;
  const char *msg;
} end_arg;

static void do_end(xds_server *s, void *arg) {
  end_arg *e = arg;
  for (conn *c = s->conns; c; c = c->next) {
    for (stream *st = c->streams; st; st = st->next) {
      st->ending = 1;
      snprintf(st->end_status, sizeof st->end_status, "%d", e->code);
      snprintf(st->end_msg, sizeof st->end_msg, "%s", e->msg);
      nghttp2_session_resume_data(c->h2, st->id);
    }
    flush(c);
  }
}

typedef struct raw_arg {
  const uint8_t *data;
  size_t len;
  int framed;
} raw_arg;

static void do_raw(xds_server *s, void *arg) {
  raw_arg *r = arg;
  for (conn *c = s->conns; c; c = c->next) {
    for (stream *st = c->streams; st; st = st->next) {
      if (r->framed) {
        send_msg(st, r->data, r->len);
      } else {
        evbuffer_add(st->out, r->data, r->len);
        nghttp2_session_resume_data(c->h2, st->id);
      }
    }
    flush(c);
  }
}

void xds_server_send_raw(xds_server *s, const uint8_t *data, size_t len, int framed) {
  raw_arg r = {data, len, framed};
  on_loop(s, do_raw, &r);
}

void xds_server_end_streams(xds_server *s, int code, const char *msg) {
  end_arg e = {code, msg};
  on_loop(s, do_end, &e);
}

static void do_stop(xds_server *s, void *arg) {
  (void)arg;
  if (s->lis) evconnlistener_free(s->lis);
  s->lis = NULL;
  if (s->ulis) evconnlistener_free(s->ulis);
  s->ulis = NULL;
  while (s->conns) conn_free(s->conns);
}

void xds_server_stop(xds_server *s) { on_loop(s, do_stop, NULL); }

static void do_restart(xds_server *s, void *arg) { *(int *)arg = s->lis ? 0 : listen_on(s); }

int xds_server_restart(xds_server *s) {
  int rc;
  on_loop(s, do_restart, &rc);
  return rc;
}

static void do_quit(xds_server *s, void *arg) {
  (void)arg;
  do_stop(s, NULL);
  event_base_loopbreak(s->base);
}

void xds_server_free(xds_server *s) {
  if (!s) return;
  on_loop(s, do_quit, NULL);
  pthread_join(s->thread, NULL);
  for (size_t i = 0; i < s->nres; i++) {
    free(s->res[i].name);
    free(s->res[i].type_url);
    free(s->res[i].data);
  }
  free(s->res);
  event_base_free(s->base);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

void xds_server_get_stats(xds_server *s, xds_server_stats *out) {
  pthread_mutex_lock(&s->mu);
  *out = s->st;
  pthread_mutex_unlock(&s->mu);
}
