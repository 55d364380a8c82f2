/* Per-call routing over the published snapshot. Everything read here is
 * immutable (the snapshot and its route tables and clusters); the only
 * mutable state is the per-handle load balancers and the pool cache, both
 * owned by the loop thread. */
#include "upstream/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb/lb.h"
#include "model/cluster.h"
#include "model/route.h"
#include "route/fault.h"
#include "route/hash.h"
#include "route/match.h"
#include "upstream/breaker.h"
#include "upstream/core.h"
#include "upstream/outlier.h"
#include "upstream/retry.h"
#include "util/clock.h"
#include "util/str.h"

#include <event2/event.h>
#include <time.h>

/* A request body is retried only when libmesh holds all of it within this
 * bound (Envoy's default per-request buffer limit); larger bodies go out
 * once. libmesh always holds the whole body, so the bound is only about
 * not re-sending very large requests. */
#define MESH__RETRY_BODY_MAX (1u << 20)

#define MAX_MATCH_HEADERS 128

typedef struct rcluster {
  mesh__lb *lb;
  const mesh__load_assignment *la;
  mesh__pool **pools; /* per endpoint, filled on first use */
  mesh__cb_state *cbs; /* circuit breakers; owned by the router's list */
  mesh__outlier *od;   /* outlier detection (attached to lb), or NULL */
  uint64_t od_next_ms; /* when od's interval tick is due */
} rcluster;

typedef struct mesh__router mesh__router;
struct mesh__router {
  mesh__snapshot *snap;
  rcluster *cl; /* parallel to snap->clusters */
  uint64_t rng;
  uint32_t gen; /* bumped by every publish: which load balancers are live */
  /* Breaker states by cluster name, kept for the handle's life: calls and
   * connections of an old snapshot still count against them. One per
   * distinct cluster name ever published. */
  mesh__cb_state *cbs;
  mesh__cb_state **cbt; /* the same by name: open addressing, cap a power of two */
  size_t cbt_cap, cbt_n;
  struct event *od_timer; /* the outlier detectors' interval ticks */
  uint32_t faults_active; /* calls in an injected delay (max_active_faults) */
  uint64_t od_ejections;  /* ejections enforced, summed over detectors gone */
};

static uint64_t next_random(mesh__router *r) {
  /* xorshift64*: cheap, plenty for weighted picks. */
  uint64_t x = r->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  r->rng = x;
  return x * 2685821657736338717ull;
}

static void free_clusters(rcluster *cl, size_t n) {
  for (size_t i = 0; cl && i < n; i++) {
    mesh__outlier_free(cl[i].od);
    mesh__lb_destroy(cl[i].lb);
    free(cl[i].pools);
  }
  free(cl);
}

static uint64_t now_ms(void) { return mesh__now_ns() / 1000000u; }

/* ---- outlier detection ---- */

static uint64_t od_enforced(const mesh__outlier *o) {
  const mesh__outlier_stats *st = mesh__outlier_get_stats(o);
  uint64_t n = 0;
  for (int t = 0; t < MESH__OD_N_TYPES; t++) n += st->enforced[t];
  return n;
}

/* Arm the timer at the earliest detector's next tick. */
static void od_arm(mesh__router *r, uint64_t now) {
  uint64_t next = UINT64_MAX;
  for (size_t i = 0; r->snap && i < r->snap->nclusters; i++)
    if (r->cl[i].od && r->cl[i].od_next_ms < next) next = r->cl[i].od_next_ms;
  if (!r->od_timer) return;
  if (next == UINT64_MAX) {
    event_del(r->od_timer);
    return;
  }
  uint64_t ms = next > now ? next - now : 0;
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
  event_add(r->od_timer, &tv);
}

static void od_publish_stats(struct mesh *m) {
  mesh__router *r = m->router;
  uint64_t n = r->od_ejections;
  for (size_t i = 0; r->snap && i < r->snap->nclusters; i++)
    if (r->cl[i].od) n += od_enforced(r->cl[i].od);
  __atomic_store_n(&m->stats[MESH__ST_OUTLIER_EJECTIONS], n, __ATOMIC_RELAXED);
}

static void on_od_timer(evutil_socket_t fd, short what, void *arg) {
  struct mesh *m = arg;
  (void)fd;
  (void)what;
  mesh__enter(m);
  mesh__router *r = m->router;
  uint64_t now = now_ms();
  for (size_t i = 0; r && r->snap && i < r->snap->nclusters; i++) {
    rcluster *rc = &r->cl[i];
    if (rc->od && rc->od_next_ms <= now) rc->od_next_ms = mesh__outlier_tick(rc->od, now);
  }
  if (r) {
    od_publish_stats(m);
    od_arm(r, now);
  }
  mesh__leave(m);
}

/* Give the new config's clusters their detectors: a cluster of the same
 * name keeps its detector (ejections, counters, multipliers), carried
 * over by endpoint address when its endpoints changed; others start
 * fresh. Runs once the new pickers exist; detectors taken over are
 * cleared from the old clusters. 0, or -1 when out of memory (the
 * detectors taken so far are then lost with the new clusters). */
static int od_carry_over(mesh__router *r, const mesh__snapshot *s, rcluster *cl) {
  uint64_t now = now_ms();
  for (size_t i = 0; i < s->nclusters; i++) {
    const mesh__cluster *c = s->clusters[i].cluster;
    if (!c->has_outlier_detection || !cl[i].lb) continue;
    rcluster *old = NULL;
    if (r->snap) {
      int oi = mesh__snapshot_cluster(r->snap, s->clusters[i].name, strlen(s->clusters[i].name));
      if (oi >= 0 && r->cl[oi].od) old = &r->cl[oi];
    }
    mesh__outlier *od = NULL;
    if (old && (old->la == cl[i].la || mesh__outlier_remap(old->od, old->la, cl[i].la) == 0) &&
        mesh__outlier_set_config(old->od, &c->outlier) == 0) {
      od = old->od;
      cl[i].od_next_ms = old->od_next_ms;
      old->od = NULL;
    } else {
      if (old) {
        r->od_ejections += od_enforced(old->od);
        mesh__outlier_free(old->od);
        old->od = NULL;
      }
      if (mesh__outlier_new(&c->outlier, cl[i].la->n_endpoints, next_random(r), &od) != 0) return -1;
      cl[i].od_next_ms = now + c->outlier.interval_ms;
    }
    cl[i].od = od;
    mesh__outlier_attach(od, cl[i].lb);
  }
  return 0;
}

/* The breaker state of cluster c (created on first sight of its name);
 * thresholds follow the newest config. NULL when out of memory. */
static mesh__cb_state **cbt_slot(mesh__cb_state **t, size_t cap, const char *name) {
  size_t i = mesh__hash(name, strlen(name)) & (cap - 1);
  while (t[i] && strcmp(t[i]->name, name)) i = (i + 1) & (cap - 1);
  return &t[i];
}

/* Room for one more name (load at most 1/2): 0 or -1 (memory). */
static int cbt_reserve(mesh__router *r) {
  if ((r->cbt_n + 1) * 2 <= r->cbt_cap) return 0;
  size_t cap = r->cbt_cap ? r->cbt_cap * 2 : 64;
  mesh__cb_state **t = calloc(cap, sizeof *t);
  if (!t) return -1;
  for (size_t i = 0; i < r->cbt_cap; i++)
    if (r->cbt[i]) *cbt_slot(t, cap, r->cbt[i]->name) = r->cbt[i];
  free(r->cbt);
  r->cbt = t;
  r->cbt_cap = cap;
  return 0;
}

static mesh__cb_state *cb_state_for(mesh__router *r, const mesh__cluster *c) {
  if (cbt_reserve(r) < 0) return NULL;
  mesh__cb_state **slot = cbt_slot(r->cbt, r->cbt_cap, c->name);
  mesh__cb_state *st = *slot;
  if (!st) {
    st = calloc(1, sizeof *st);
    if (!st || !(st->name = strdup(c->name))) {
      free(st);
      return NULL;
    }
    st->next = r->cbs;
    r->cbs = st;
    *slot = st;
    r->cbt_n++;
  }
  st->th[0] = c->cb[0];
  st->th[1] = c->cb[1];
  return st;
}

int mesh__router_publish(struct mesh *m, mesh__snapshot *s) {
  mesh__router *r = m->router;
  if (!r) {
    r = calloc(1, sizeof *r);
    if (!r) return -1;
    r->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)m;
    m->router = r;
  }
  rcluster *cl = calloc(s->nclusters + 1, sizeof *cl);
  if (!cl) return -1;
  for (size_t i = 0; i < s->nclusters; i++) {
    const mesh__cluster *c = s->clusters[i].cluster;
    const mesh__load_assignment *la = s->clusters[i].la ? s->clusters[i].la : c->load_assignment;
    const mesh__lb_vtable *vt = mesh__lb_vtable_for(c->lb_policy);
    cl[i].la = la;
    if (!(cl[i].cbs = cb_state_for(r, c))) {
      free_clusters(cl, s->nclusters);
      return -1;
    }
    if (!la || !vt) continue; /* the translator refused these; be safe */
    if (vt->create(c, la, next_random(r), &cl[i].lb) != 0 ||
        !(cl[i].pools = calloc(la->n_endpoints + 1, sizeof *cl[i].pools))) {
      free_clusters(cl, s->nclusters);
      return -1;
    }
  }
  if (!r->od_timer && !(r->od_timer = evtimer_new(m->base, on_od_timer, m))) {
    free_clusters(cl, s->nclusters);
    return -1;
  }
  if (od_carry_over(r, s, cl) < 0) {
    free_clusters(cl, s->nclusters);
    return -1;
  }
  mesh__snapshot_ref(s);
  if (r->snap) {
    for (size_t i = 0; i < r->snap->nclusters; i++)
      if (r->cl[i].od) r->od_ejections += od_enforced(r->cl[i].od);
    free_clusters(r->cl, r->snap->nclusters);
    mesh__snapshot_unref(r->snap); /* calls in flight hold their own */
  }
  r->snap = s;
  r->cl = cl;
  r->gen++;
  od_arm(r, now_ms());
  return 0;
}

const mesh__snapshot *mesh__router_snapshot(struct mesh *m) { return m->router ? m->router->snap : NULL; }

void mesh__router_free(struct mesh *m) {
  mesh__router *r = m->router;
  if (!r) return;
  if (r->snap) {
    free_clusters(r->cl, r->snap->nclusters);
    mesh__snapshot_unref(r->snap);
  }
  if (r->od_timer) event_free(r->od_timer);
  free(r->cbt);
  while (r->cbs) {
    mesh__cb_state *st = r->cbs;
    r->cbs = st->next;
    free(st->name);
    free(st);
  }
  free(r);
  m->router = NULL;
}

void mesh__router_gauges(struct mesh *m, uint64_t out[4]) {
  out[0] = out[1] = out[2] = out[3] = 0;
  for (mesh__cb_state *st = m->router ? m->router->cbs : NULL; st; st = st->next)
    for (int p = 0; p < 2; p++) {
      out[0] += st->n[p].rq_active;
      out[1] += st->n[p].rq_pending;
      out[2] += st->n[p].rq_retry;
      out[3] += st->n[p].cx;
    }
}

/* ---- request edits ---- */

/* Replace the request's path (prefix_rewrite, regex_rewrite). */
static int set_path(mesh__req *q, const char *p, size_t n) {
  uint32_t at;
  if (mesh__buf_append_cstr(&q->arena, p, n, &at)) return -1;
  q->path = at;
  q->path_len = (uint32_t)n;
  return 0;
}

static int set_authority(mesh__req *q, const char *p, size_t n) {
  uint32_t at;
  if (n > UINT16_MAX || mesh__buf_append_cstr(&q->arena, p, n, &at)) return -1;
  q->authority = at;
  q->authority_len = (uint16_t)n;
  return 0;
}

static void remove_header(mesh__req *q, const char *name, size_t len) {
  uint32_t w = 0;
  for (uint32_t i = 0; i < q->headers.n; i++) {
    const char *n = mesh__req_str(q, q->headers.v[i].name);
    if (strlen(n) == len && memcmp(n, name, len) == 0) continue;
    q->headers.v[w++] = q->headers.v[i];
  }
  q->headers.n = w;
}

static int has_header(const mesh__req *q, const char *name, size_t len) {
  for (uint32_t i = 0; i < q->headers.n; i++) {
    const char *n = mesh__req_str(q, q->headers.v[i].name);
    if (strlen(n) == len && memcmp(n, name, len) == 0) return 1;
  }
  return 0;
}

static int add_header(mesh__req *q, const mesh__rstr *name, const mesh__rstr *value) {
  uint32_t n, v;
  if (mesh__buf_append_cstr(&q->arena, name->p, name->len, &n) ||
      mesh__buf_append_cstr(&q->arena, value->p, value->len, &v))
    return -1;
  return mesh__fields_push(&q->headers, n, v);
}

static int apply_request_ops(mesh__req *q, const mesh__header_ops *ops) {
  for (size_t i = 0; i < ops->nremove; i++) remove_header(q, ops->remove[i].p, ops->remove[i].len);
  for (size_t i = 0; i < ops->nadd; i++) {
    const mesh__header_add *a = &ops->add[i];
    if (a->value.len == 0 && !a->keep_empty_value) continue;
    int exists = has_header(q, a->name.p, a->name.len);
    switch (a->action) {
      case MESH__ADD_IF_ABSENT:
        if (exists) continue;
        break;
      case MESH__OVERWRITE_IF_EXISTS_OR_ADD:
        remove_header(q, a->name.p, a->name.len);
        break;
      case MESH__OVERWRITE_IF_EXISTS:
        if (!exists) continue;
        remove_header(q, a->name.p, a->name.len);
        break;
      default:
        break;
    }
    if (add_header(q, &a->name, &a->value)) return -1;
  }
  return 0;
}

/* ---- local replies ---- */

static void local_reply(mesh__call *c, int status, const char *body, size_t blen, const char *location,
                        size_t loclen) {
  mesh_response *r = &c->resp;
  r->status = status;
  r->flags |= MESH__RF_DR;
  if (location) mesh__response_add_field(r, "location", 8, location, loclen, SIZE_MAX, 0);
  if (blen) {
    char cl[32];
    int n = snprintf(cl, sizeof cl, "%zu", blen);
    mesh__response_add_field(r, "content-length", 14, cl, (size_t)n, SIZE_MAX, 0);
    mesh__buf_append(&r->body, body, blen);
  }
  mesh__call_finish(c, MESH_OK, NULL);
}

/* ---- fault injection ---- */

static uint64_t router_random(void *arg) { return next_random(arg); }

/* Draw the call's faults (route/fault.h): the delay (flag DI) is the
 * return value in ms, the abort is kept in the call for when the delay is
 * over. Nothing when max_active_faults calls are already in a delay. */
static uint64_t fault_decide(mesh__router *rt, const mesh__fault *f, mesh__call *c, const char *cluster,
                             const mesh__route_input *in, struct mesh *m) {
  mesh__fault_draw d;
  if (!mesh__fault_draw_for(f, cluster, in, router_random, rt, &d)) return 0;
  if (f->has_max_active && rt->faults_active >= f->max_active) {
    mesh__stat_add(m->stats, MESH__ST_FAULT_OVERFLOW, 1);
    return 0;
  }
  c->fault_abort = d.abort;
  c->fault_grpc = d.grpc;
  c->fault_code = d.code;
  if (d.delay_ms) {
    c->resp.flags |= MESH__RF_DI;
    mesh__stat_add(m->stats, MESH__ST_FAULT_DELAYS, 1);
  }
  return d.delay_ms;
}

static bool is_grpc_request(const mesh__req *q) {
  for (size_t i = 0; i < q->headers.n; i++) {
    const char *n = mesh__req_str(q, q->headers.v[i].name);
    if (mesh__strcaseeq(n, "content-type"))
      return !strncmp(mesh__req_str(q, q->headers.v[i].value), "application/grpc", 16);
  }
  return false;
}

/* The abort: a local answer, as Envoy's fault filter gives it. A gRPC
 * request gets HTTP 200 with grpc-status (the HTTP status mapped to its
 * gRPC code); any other the HTTP status (or, for a gRPC code, 200 with
 * grpc-status). */
static void fault_abort_now(struct mesh *m, mesh__call *c) {
  mesh_response *r = &c->resp;
  static const char body[] = "fault filter abort";
  mesh__stat_add(m->stats, MESH__ST_FAULT_ABORTS, 1);
  r->flags |= MESH__RF_FI;
  bool grpc = c->fault_grpc || is_grpc_request(&c->req);
  if (grpc) {
    char v[12];
    int n = snprintf(v, sizeof v, "%u", c->fault_grpc ? c->fault_code : mesh__fault_grpc_code_of_http(c->fault_code));
    r->status = 200;
    mesh__response_add_field(r, "content-type", 12, "application/grpc", 16, SIZE_MAX, 0);
    mesh__response_add_field(r, "grpc-status", 11, v, (size_t)n, SIZE_MAX, 0);
    mesh__response_add_field(r, "grpc-message", 12, body, sizeof body - 1, SIZE_MAX, 0);
  } else {
    r->status = (int)c->fault_code;
    mesh__response_add_field(r, "content-type", 12, "text/plain", 10, SIZE_MAX, 0);
    mesh__response_add_field(r, "content-length", 14, "18", 2, SIZE_MAX, 0);
    mesh__buf_append(&r->body, body, sizeof body - 1);
  }
  mesh__call_finish(c, MESH_OK, NULL);
}

static void fault_release(mesh__call *c) {
  if (!c->fault_active) return;
  c->fault_active = 0;
  if (c->m->router && c->m->router->faults_active) c->m->router->faults_active--;
}

/* ---- the route ---- */

static void on_try_timer(evutil_socket_t fd, short what, void *arg);
static void arm_try_timer(mesh__call *c, uint64_t ms);
static void route_deadline(struct mesh *m, mesh__call *c, const mesh__route *r, const mesh__route_input *in,
                           uint64_t delay_ms);

mesh__pool *mesh__router_route(struct mesh *m, mesh__call *c) {
  mesh__router *rt = m->router;
  mesh__snapshot *s = rt->snap;
  mesh__req *q = &c->req;
  const char *auth = mesh__req_str(q, q->authority);
  const mesh__listener *l = mesh__snapshot_listener(s, auth, q->authority_len);
  if (!l || !l->rt) {
    mesh__call_finish(c, MESH_ENOROUTE, "no listener for %s", auth);
    return NULL;
  }
  /* The call keeps what it routes by. */
  mesh__snapshot_ref(s);
  c->snap = s;

  const char *hn[MAX_MATCH_HEADERS], *hv[MAX_MATCH_HEADERS];
  size_t nh = q->headers.n < MAX_MATCH_HEADERS ? q->headers.n : MAX_MATCH_HEADERS;
  for (size_t i = 0; i < nh; i++) {
    hn[i] = mesh__req_str(q, q->headers.v[i].name);
    hv[i] = mesh__req_str(q, q->headers.v[i].value);
  }
  mesh__route_input in = {0};
  in.method = mesh__req_str(q, q->method);
  in.scheme = "http";
  in.authority = auth;
  in.authority_len = q->authority_len;
  in.path = mesh__req_str(q, q->path);
  in.path_len = q->path_len;
  in.hnames = hn;
  in.hvalues = hv;
  in.nheaders = nh;
  in.random = next_random(rt);

  const mesh__vhost *vh = mesh__route_vhost(l->rt, auth, q->authority_len);
  if (!vh) {
    mesh__call_finish(c, MESH_ENOROUTE, "no virtual host for %s in %s", auth, mesh__route_table_name(l->rt));
    return NULL;
  }
  const mesh__route *r = mesh__route_match(vh, &in);
  if (!r) {
    mesh__call_finish(c, MESH_ENOROUTE, "no route for %s%s", auth, in.path);
    return NULL;
  }
  c->route = r;
  c->resp.route_name = r->name.len ? r->name.p : NULL;

  char buf[2048];
  if (r->action == MESH__ACTION_DIRECT) {
    local_reply(c, r->direct.status, r->direct.body.p, r->direct.has_body ? r->direct.body.len : 0, NULL, 0);
    return NULL;
  }
  if (r->action == MESH__ACTION_REDIRECT) {
    ptrdiff_t n = mesh__route_redirect_location(r, &in, buf, sizeof buf);
    if (n < 0) {
      mesh__call_finish(c, MESH_ENOROUTE, "redirect location does not fit");
      return NULL;
    }
    local_reply(c, r->redirect.code, NULL, 0, buf, (size_t)n);
    return NULL;
  }

  const mesh__cluster_weight *cw = NULL;
  const char *cname = mesh__route_cluster(r, &in, &cw);
  if (!cname) {
    mesh__call_finish(c, MESH_ENOROUTE, "route names no cluster for this call");
    return NULL;
  }
  int ci = mesh__snapshot_cluster(s, cname, strlen(cname));
  if (ci < 0) {
    mesh__call_finish(c, MESH_ENOROUTE, "cluster %s not found", cname);
    return NULL;
  }
  c->resp.cluster_name = s->clusters[ci].name;
  c->cw = cw;
  /* The fault filter sees the request as the caller gave it. */
  uint64_t fault = 0;
  c->fault_abort = 0;
  if (l->fault_filter) {
    const mesh__fault *f = mesh__fault_for(l->fault_filter, l->fault, r, cw);
    if (f) fault = fault_decide(rt, f, c, cname, &in, m);
  }
  /* The request hash (ring hash, maglev), before rewrites change in.path. */
  c->has_hash = r->route.nhash && mesh__route_hash(&r->route, &in, NULL, &c->hash);

  /* Rewrites and header mutations change the request copy. */
  if (mesh__route_rewrites_path(r)) {
    ptrdiff_t n = mesh__route_rewrite_path(r, &in, buf, sizeof buf);
    if (n < 0 || set_path(q, buf, (size_t)n)) {
      mesh__call_finish(c, MESH_ENOMEM, "path rewrite failed");
      return NULL;
    }
  }
  const mesh__rstr *host = cw && cw->host_rewrite_literal.len ? &cw->host_rewrite_literal
                                                               : &r->route.host_rewrite_literal;
  if (host->len && set_authority(q, host->p, host->len)) {
    mesh__call_finish(c, MESH_ENOMEM, "host rewrite failed");
    return NULL;
  }
  const mesh__header_ops *ops[4];
  size_t nops = mesh__route_request_mutations(r, cw, ops);
  for (size_t i = 0; i < nops; i++)
    if (apply_request_ops(q, ops[i])) {
      mesh__call_finish(c, MESH_ENOMEM, "out of memory applying header mutations");
      return NULL;
    }

  /* Resilience: the retry policy, priority and deadline of this call. */
  c->ci = ci;
  c->prio = r->route.priority == MESH__PRIORITY_HIGH ? MESH__ROUTING_HIGH : MESH__ROUTING_DEFAULT;
  c->ep = -1;
  c->ntried = 0;
  c->backoff_n = 0;
  c->retry = mesh__route_retry_policy(r);
  /* Retries need the whole body within the bound and, when configured,
   * one of retriable_request_headers; per-try timeouts apply regardless. */
  c->may_retry = c->retry && q->body.len <= MESH__RETRY_BODY_MAX &&
                 (!c->retry->nretriable_request_headers ||
                  mesh__headers_match_any(c->retry->retriable_request_headers,
                                          c->retry->nretriable_request_headers, &in));
  route_deadline(m, c, r, &in, fault);
  if (fault) {
    /* An injected delay: no traffic until it is over (then the abort, if
     * one was drawn, or the attempt). */
    if (!c->try_timer && !(c->try_timer = evtimer_new(m->base, on_try_timer, c))) {
      mesh__call_finish(c, MESH_ENOMEM, "out of memory");
      return NULL;
    }
    c->fault_active = 1;
    rt->faults_active++;
    c->conn = NULL;
    c->pool = NULL;
    c->state = MESH__CALL_PENDING; /* in no pool: unbind leaves it alone */
    c->try_phase = MESH__TRY_FAULT_DELAY;
    arm_try_timer(c, fault);
    return NULL;
  }
  if (c->fault_abort) {
    fault_abort_now(m, c);
    return NULL;
  }
  return mesh__router_attempt(m, c);
}

/* ---- deadlines ---- */

/* The route's timeout spans every attempt; the caller's timeout (armed by
 * mesh__call_dispatch) still applies and the earlier one wins. With
 * grpc_timeout_header_max set, a grpc-timeout request header replaces the
 * route timeout (capped by the max unless it is 0, less the offset), as
 * Envoy does; max_stream_duration bounds the call as well. */
static void route_deadline(struct mesh *m, mesh__call *c, const mesh__route *r, const mesh__route_input *in,
                           uint64_t delay_ms) {
  const mesh__route_action *a = &r->route;
  uint64_t t = a->timeout_ms; /* 0: none */
  if (a->grpc_timeout_header_max_ms >= 0) {
    for (size_t i = 0; i < in->nheaders; i++) {
      if (strcmp(in->hnames[i], "grpc-timeout")) continue;
      int64_t g = mesh__grpc_timeout_ms(in->hvalues[i], strlen(in->hvalues[i]));
      if (g < 0) break; /* malformed: the route timeout stays */
      uint64_t max = (uint64_t)a->grpc_timeout_header_max_ms;
      t = g == 0 ? max : max && (uint64_t)g > max ? max : (uint64_t)g;
      if (t && a->grpc_timeout_header_offset_ms > 0 && (uint64_t)a->grpc_timeout_header_offset_ms < t)
        t -= (uint64_t)a->grpc_timeout_header_offset_ms;
      break;
    }
  }
  uint32_t flag = MESH__RF_UT;
  /* As in Envoy, where the fault filter runs before the router: the route
   * timeout starts after an injected delay (the stream's duration and the
   * caller's timeout count it). */
  if (t) t += delay_ms;
  if (a->max_stream_duration_ms > 0 && (t == 0 || (uint64_t)a->max_stream_duration_ms < t)) {
    t = (uint64_t)a->max_stream_duration_ms;
    flag = MESH__RF_UMSDR;
  }
  /* Usually the caller's timeout (default 15 s) is already the earlier. */
  if (t && (!c->deadline_ms || t < c->deadline_ms))
    mesh__call_arm_deadline(m, c, t > UINT32_MAX ? UINT32_MAX : (uint32_t)t, flag);
}

/* ---- attempts ---- */

static void on_try_timer(evutil_socket_t fd, short what, void *arg);

static int was_tried(const mesh__call *c, int ei) {
  for (int i = 0; i < c->ntried; i++)
    if (c->tried[i] == ei) return 1;
  return 0;
}

/* The cluster state the call's next attempt uses: the current config's
 * cluster of the same name (the one the call routed by may be gone). */
static rcluster *attempt_cluster(mesh__router *rt, mesh__call *c, const mesh__cluster **cl) {
  mesh__snapshot *s = rt->snap;
  int ci = c->ci;
  if (s != c->snap) {
    const char *name = c->snap->clusters[c->ci].name;
    ci = mesh__snapshot_cluster(s, name, strlen(name));
    if (ci < 0) return NULL;
  }
  *cl = s->clusters[ci].cluster;
  c->pick_ci = ci;
  c->pick_gen = rt->gen;
  return &rt->cl[ci];
}

static void arm_try_timer(mesh__call *c, uint64_t ms) {
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
  event_add(c->try_timer, &tv);
}

/* The attempt's limits: per_try_timeout, and the idle timeout, the smaller
 * of per_try_idle_timeout and the route's idle_timeout (the stream idle
 * timeout; *route_idle says it is the one that applies: it ends the call,
 * flag SI, and is not retried). 0: none. */
static void try_limits(const mesh__call *c, uint64_t *ptt, uint64_t *idle, int *route_idle) {
  const mesh__retry_policy *p = c->retry;
  int64_t ri = c->route ? c->route->route.idle_timeout_ms : -1;
  *ptt = p ? p->per_try_timeout_ms : 0;
  *idle = p ? p->per_try_idle_timeout_ms : 0;
  *route_idle = 0;
  if (ri > 0 && (*idle == 0 || (uint64_t)ri < *idle)) {
    *idle = (uint64_t)ri;
    *route_idle = 1;
  }
}

/* Arm the per-try timer for the attempt starting now: it fires at the
 * per-try timeout or to check the idle timeout, whichever is first. Idle
 * checks compare the response's progress with the last check, so an
 * attempt that stalls is ended between one and two idle periods after its
 * last progress, and progress costs nothing per byte. */
static int arm_per_try(struct mesh *m, mesh__call *c) {
  uint64_t ptt, idle;
  int route_idle;
  try_limits(c, &ptt, &idle, &route_idle);
  if (!ptt && !idle) return 0;
  if (!c->try_timer && !(c->try_timer = evtimer_new(m->base, on_try_timer, c))) return -1;
  c->try_start_ns = mesh__now_ns();
  c->idle_mark = 1; /* progress() of an empty response */
  c->try_phase = MESH__TRY_TIMEOUT;
  uint64_t ms = ptt;
  if (idle && (!ms || idle < ms)) ms = idle;
  arm_try_timer(c, ms);
  return 0;
}

/* Start an attempt: pick an endpoint (avoiding the ones tried when the
 * previous_hosts predicate is on, up to host_selection_retry_max_attempts
 * picks), check the cluster's max_requests, count the attempt. The pool
 * to queue the call on, or NULL when the call has been completed. */
mesh__pool *mesh__router_attempt(struct mesh *m, mesh__call *c) {
  mesh__router *rt = m->router;
  const mesh__cluster *cluster = NULL;
  rcluster *rc = attempt_cluster(rt, c, &cluster);
  const char *cname = c->resp.cluster_name;
  if (!rc || !rc->lb) {
    mesh__call_finish(c, MESH_ENOHEALTHY, "cluster %s has no endpoints", cname);
    return NULL;
  }
  mesh__cb_state *cbs = rc->cbs;
  mesh__cb_count *n = &cbs->n[c->prio];
  const mesh__cb_thresholds *th = &cbs->th[c->prio];
  c->cbs = cbs;
  if (n->rq_active >= th->max_requests) {
    mesh__stat_add(m->stats, MESH__ST_RQ_OVERFLOW, 1);
    mesh__call_finish(c, MESH_EOVERFLOW, "cluster %s: %u requests active (max_requests)", cname, n->rq_active);
    return NULL;
  }
  mesh__lb_ctx ctx = {0};
  ctx.hash = c->hash;
  ctx.has_hash = c->has_hash;
  int picks = c->ntried && c->retry && c->retry->avoid_previous_hosts ? (int)c->retry->host_selection_max_attempts : 1;
  int ei = -1;
  for (int k = 0; k < picks; k++) {
    ctx.random = next_random(rt);
    ei = mesh__lb_pick(rc->lb, &ctx);
    if (ei < 0 || !was_tried(c, ei)) break;
  }
  if (ei < 0) {
    mesh__call_finish(c, MESH_ENOHEALTHY, "no healthy endpoint in cluster %s", cname);
    return NULL;
  }
  mesh__pool *p = rc->pools[ei];
  /* The cache holds the endpoint's pool of the protocol used last: a
   * call of the other protocol (cluster protocol DEFAULT) looks its own up. */
  int proto = cluster->protocol != MESH_PROTOCOL_DEFAULT ? cluster->protocol : c->req.protocol;
  if (!p || p->protocol != proto) {
    const mesh__endpoint *ep = &rc->la->endpoints[ei];
    char key[300];
    int kl = strchr(ep->address, ':') ? snprintf(key, sizeof key, "[%s]:%u", ep->address, ep->port)
                                      : snprintf(key, sizeof key, "%s:%u", ep->address, ep->port);
    int err = MESH_OK;
    p = NULL;
    if (kl > 0 && (size_t)kl < sizeof key)
      p = mesh__pool_get(m, key, (size_t)kl, mesh__hash(key, (size_t)kl), proto, ep->address, strlen(ep->address),
                         ep->port, &err);
    if (!p) {
      mesh__call_finish(c, err ? err : MESH_EINVAL, "no pool for endpoint %s:%u", ep->address, ep->port);
      return NULL;
    }
    if (p->connect_timeout_ms == 0) p->connect_timeout_ms = cluster->connect_timeout_ms;
    rc->pools[ei] = p;
  }
  p->idle_timeout_ms = cluster->idle_timeout_ms;
  if (p->cbs != cbs) p->cbs = cbs;
  if (arm_per_try(m, c)) {
    mesh__call_finish(c, MESH_ENOMEM, "out of memory");
    return NULL;
  }
  if (c->ntried == sizeof c->tried / sizeof c->tried[0]) {
    memmove(c->tried, c->tried + 1, sizeof c->tried - sizeof c->tried[0]);
    c->ntried--;
  }
  c->tried[c->ntried++] = ei;
  c->ep = ei;
  if (cluster->lb_policy == MESH__LB_PEAK_EWMA) c->pick_ns = mesh__now_ns();
  c->refused = 0;
  c->idle_expired = 0;
  c->rq_counted = 1;
  if (++n->rq_active > n->peak_active) {
    n->peak_active = n->rq_active;
    mesh__stat_max(m->stats, MESH__ST_RQ_ACTIVE_PEAK, n->peak_active);
  }
  c->resp.attempts++;
  c->resp.endpoint = p->key;
  if (c->route->vhost && c->route->vhost->include_request_attempt_count) {
    /* Envoy's x-envoy-attempt-count: which attempt the upstream sees. */
    char v[12];
    mesh__rstr name = {"x-envoy-attempt-count", 21}, value = {v, (size_t)snprintf(v, sizeof v, "%u", c->resp.attempts)};
    remove_header(&c->req, name.p, name.len);
    if (add_header(&c->req, &name, &value)) {
      mesh__call_finish(c, MESH_ENOMEM, "out of memory");
      return NULL;
    }
  }
  return p;
}

/* The seam where an attempt's outcome per endpoint is known (outlier
 * detection hooks in here): endpoint ep of the call's cluster ended with
 * outcome (MESH__ATTEMPT_*; for a response, c->resp.status). */
static void attempt_done(mesh__call *c, int ep, int outcome) {
  mesh__router *rt = c->m->router;
  if (!rt || rt->gen != c->pick_gen || ep < 0) return; /* the picking lb is gone */
  rcluster *rc = &rt->cl[c->pick_ci];
  int o = outcome == MESH__ATTEMPT_RESPONSE ? (c->resp.status >= 500 ? MESH__LB_FAILED : MESH__LB_OK)
          : outcome == MESH__ATTEMPT_LOCAL ? MESH__LB_LOCAL_FAILURE
                                           : MESH__LB_FAILED;
  if (rc->lb) mesh__lb_release_timed(rc->lb, ep, o, c->pick_ns ? mesh__now_ns() - c->pick_ns : 0);
  c->pick_ns = 0;
  if (!rc->od) return;
  /* Outlier detection: what the endpoint did (Envoy's putResult /
   * putHttpResponseCode). gRPC answers count by grpc-status. Local
   * failures (overflow, cancel, the call's own deadline) are not the
   * endpoint's. */
  uint64_t now = now_ms();
  switch (outcome) {
  case MESH__ATTEMPT_RESPONSE: {
    int st = c->resp.status;
    /* grpc-status in the headers (a trailers-only response) only: a
     * status in trailers is not looked at, as in Envoy. */
    const mesh_response *rp = &c->resp;
    for (uint32_t i = 0; i < rp->nheaders; i++)
      if (!strcmp(rp->strings.data + rp->fields.v[i].name, "grpc-status")) {
        unsigned long long g;
        const char *v = rp->strings.data + rp->fields.v[i].value;
        if (mesh__parse_u64(v, strlen(v), 99, &g) == 0) st = mesh__outlier_grpc_to_http((int)g);
        break;
      }
    mesh__outlier_report(rc->od, (uint32_t)ep, MESH__OD_LOCAL_SUCCESS, now);
    mesh__outlier_report_status(rc->od, (uint32_t)ep, st, now);
    break;
  }
  case MESH__ATTEMPT_RESET:
  case MESH__ATTEMPT_REFUSED_STREAM: mesh__outlier_report(rc->od, (uint32_t)ep, MESH__OD_LOCAL_RESET, now); break;
  case MESH__ATTEMPT_CONNECT_FAILURE:
    mesh__outlier_report(rc->od, (uint32_t)ep, MESH__OD_LOCAL_CONNECT_FAILED, now);
    break;
  case MESH__ATTEMPT_PER_TRY_TIMEOUT: mesh__outlier_report(rc->od, (uint32_t)ep, MESH__OD_LOCAL_TIMEOUT, now); break;
  default: break;
  }
}

static void retry_release(mesh__call *c) {
  if (c->retry_counted) {
    c->cbs->n[c->prio].rq_retry--;
    c->retry_counted = 0;
  }
}

/* Restart the response for the next attempt; what routed the call stays. */
static void response_restart(mesh_response *r) {
  const char *route = r->route_name, *cluster = r->cluster_name;
  uint32_t attempts = r->attempts, flags = r->flags;
  mesh__response_reset(r);
  r->route_name = route;
  r->cluster_name = cluster;
  r->attempts = attempts;
  r->flags = flags;
}

int mesh__router_attempt_end(mesh__call *c, int err) {
  struct mesh *m = c->m;
  int phase = c->try_phase;
  if (c->try_timer && phase != MESH__TRY_NONE) event_del(c->try_timer);
  c->try_phase = MESH__TRY_NONE;
  if (phase == MESH__TRY_FAULT_DELAY) fault_release(c); /* ended during an injected delay */
  if (!c->cbs) return 0; /* never reached an attempt */
  mesh__cb_count *n = &c->cbs->n[c->prio];
  if (phase == MESH__TRY_BACKOFF) {
    /* Ended while waiting to retry (canceled, call timeout). */
    retry_release(c);
    return 0;
  }
  if (!c->rq_counted) {
    retry_release(c); /* a retry's attempt failed to start (overflow, no endpoint) */
    return 0;
  }
  c->rq_counted = 0;
  n->rq_active--;
  if (!c->may_retry && !c->retry_counted && phase == MESH__TRY_NONE) {
    /* No retry possible (the common no-policy case): just the outcome. */
    attempt_done(c, c->ep, mesh__attempt_outcome(err, c->refused));
    return 0;
  }
  int outcome = phase == MESH__TRY_EXPIRED ? MESH__ATTEMPT_PER_TRY_TIMEOUT : mesh__attempt_outcome(err, c->refused);
  attempt_done(c, c->ep, outcome);
  const mesh__retry_policy *p = c->retry;
  int would = c->may_retry && outcome != MESH__ATTEMPT_LOCAL && mesh__retry_would_retry(p, outcome, &c->resp);
  /* Envoy's shouldRetry(): a retry in flight concludes here. */
  if (c->retry_counted && !would) mesh__stat_add(m->stats, MESH__ST_RETRY_SUCCESS, 1);
  retry_release(c);
  if (!would) return 0;
  if (c->resp.attempts >= 1 + p->num_retries) {
    c->resp.flags |= MESH__RF_URX;
    mesh__stat_add(m->stats, MESH__ST_RETRY_LIMIT, 1);
    return 0;
  }
  if (n->rq_retry >= mesh__cb_retry_bound(&c->cbs->th[c->prio], n)) {
    c->resp.flags |= MESH__RF_UO;
    mesh__stat_add(m->stats, MESH__ST_RETRY_OVERFLOW, 1);
    return 0;
  }
  if (!c->try_timer && !(c->try_timer = evtimer_new(m->base, on_try_timer, c))) return 0;
  mesh__router *rt = m->router;
  int64_t wait = -1;
  if (p->nreset_headers && outcome == MESH__ATTEMPT_RESPONSE) {
    wait = mesh__retry_reset_backoff_ms(p, &c->resp, (int64_t)time(NULL), next_random(rt));
    if (wait >= 0) mesh__stat_add(m->stats, MESH__ST_RETRY_BACKOFF_RL, 1);
  }
  if (wait < 0) wait = (int64_t)mesh__backoff_next(p->backoff_base_ms, p->backoff_max_ms, &c->backoff_n, next_random(rt));
  c->retry_counted = 1;
  if (++n->rq_retry > n->peak_retry) {
    n->peak_retry = n->rq_retry;
    mesh__stat_max(m->stats, MESH__ST_RETRY_ACTIVE_PEAK, n->peak_retry);
  }
  mesh__stat_add(m->stats, MESH__ST_RETRY, 1);
  response_restart(&c->resp);
  c->conn = NULL;
  c->pool = NULL;
  c->state = MESH__CALL_PENDING; /* in no pool: unbind leaves it alone */
  c->try_phase = MESH__TRY_BACKOFF;
  arm_try_timer(c, (uint64_t)wait);
  return 1;
}

/* How far the response has come: the idle timeout restarts on progress. */
static uint64_t progress(const mesh__call *c) {
  return ((uint64_t)c->resp.status << 48) + ((uint64_t)c->resp.fields.n << 32) + c->resp.body.len + 1;
}

/* The attempt a timer was waiting for (after a back-off or an injected
 * delay): started, unless the handle is closing or has no config left
 * (then the call ends, why saying which). */
static void timed_attempt(struct mesh *m, mesh__call *c, const char *why) {
  if (m->closing || !m->router || !m->router->snap) {
    mesh__call_finish(c, MESH_ECANCELED, "%s", m->closing ? "handle closed" : why);
    return;
  }
  mesh__pool *p = mesh__router_attempt(m, c);
  if (p) {
    c->state = MESH__CALL_QUEUED;
    mesh__pool_submit(p, c);
  }
}

static void on_try_timer(evutil_socket_t fd, short what, void *arg) {
  mesh__call *c = arg;
  struct mesh *m = c->m;
  (void)fd;
  (void)what;
  mesh__enter(m);
  if (c->try_phase == MESH__TRY_FAULT_DELAY) {
    c->try_phase = MESH__TRY_NONE;
    fault_release(c);
    if (c->fault_abort) fault_abort_now(m, c);
    else timed_attempt(m, c, "no config to send with");
  } else if (c->try_phase == MESH__TRY_BACKOFF) {
    c->try_phase = MESH__TRY_NONE;
    timed_attempt(m, c, "no config to retry with");
  } else if (c->try_phase == MESH__TRY_TIMEOUT) {
    uint64_t ptt, idle;
    int route_idle;
    try_limits(c, &ptt, &idle, &route_idle);
    uint64_t now = mesh__now_ns(), ran = (now - c->try_start_ns) / 1000000u;
    int expired = 0, final = 0;
    if (ptt && ran >= ptt) {
      mesh__stat_add(m->stats, MESH__ST_PER_TRY_TIMEOUT, 1);
      expired = 1;
    } else if (idle) {
      uint64_t pr = progress(c);
      if (pr == c->idle_mark) {
        if (route_idle) {
          /* The stream idle timeout ends the call (Envoy: SI). */
          c->resp.flags |= MESH__RF_SI;
          final = 1;
        } else {
          mesh__stat_add(m->stats, MESH__ST_PER_TRY_IDLE_TIMEOUT, 1);
        }
        c->idle_expired = 1;
        expired = 1;
      } else {
        c->idle_mark = pr;
      }
    }
    if (expired) {
      /* Cancel the upstream stream (RST_STREAM on HTTP/2, close on
       * HTTP/1.1) and end the attempt. */
      if (c->state == MESH__CALL_PENDING || c->state == MESH__CALL_ACTIVE) mesh__pool_unbind(c);
      c->try_phase = final ? MESH__TRY_NONE : MESH__TRY_EXPIRED;
      mesh__call_finish(c, MESH_ETIMEOUT, "%s timeout after %llu ms",
                        final ? "stream idle" : c->idle_expired ? "per-try idle" : "per-try",
                        (unsigned long long)ran);
    } else {
      uint64_t ms = idle ? idle : ptt - ran;
      if (ptt && ptt - ran < ms) ms = ptt - ran;
      arm_try_timer(c, ms ? ms : 1);
    }
  }
  mesh__leave(m);
}

/* ---- the response ---- */

static void remove_resp_field(mesh_response *r, const char *name, size_t len) {
  uint32_t w = 0;
  for (uint32_t i = 0; i < r->fields.n; i++) {
    const char *n = r->strings.data + r->fields.v[i].name;
    if (i < r->nheaders && strlen(n) == len && memcmp(n, name, len) == 0) continue;
    r->fields.v[w++] = r->fields.v[i];
  }
  uint32_t removed = r->fields.n - w;
  r->nheaders -= removed;
  r->fields.n = w;
}

void mesh__router_on_response(mesh__call *c) {
  if (!c->route || c->resp.error != MESH_OK) return;
  mesh_response *r = &c->resp;
  const mesh__header_ops *ops[4];
  size_t nops = mesh__route_response_mutations(c->route, c->cw, ops);
  /* Trailers stay after the headers: mutate only when there are none. */
  if (nops && r->fields.n != r->nheaders) return;
  for (size_t k = 0; k < nops; k++) {
    const mesh__header_ops *o = ops[k];
    for (size_t i = 0; i < o->nremove; i++) remove_resp_field(r, o->remove[i].p, o->remove[i].len);
    for (size_t i = 0; i < o->nadd; i++) {
      const mesh__header_add *a = &o->add[i];
      if (a->value.len == 0 && !a->keep_empty_value) continue;
      int exists = 0;
      for (uint32_t j = 0; j < r->nheaders && !exists; j++) {
        const char *n = r->strings.data + r->fields.v[j].name;
        exists = strlen(n) == a->name.len && memcmp(n, a->name.p, a->name.len) == 0;
      }
      if (a->action == MESH__ADD_IF_ABSENT && exists) continue;
      if (a->action == MESH__OVERWRITE_IF_EXISTS && !exists) continue;
      if (a->action == MESH__OVERWRITE_IF_EXISTS || a->action == MESH__OVERWRITE_IF_EXISTS_OR_ADD)
        remove_resp_field(r, a->name.p, a->name.len);
      r->in_trailers = 0;
      mesh__response_add_field(r, a->name.p, a->name.len, a->value.p, a->value.len, SIZE_MAX, 0);
    }
  }
}

void mesh__router_release(mesh__call *c) {
  c->cbs = NULL;
  c->retry = NULL;
  if (c->snap) mesh__snapshot_unref(c->snap);
  c->snap = NULL;
  c->route = NULL;
  c->cw = NULL;
}
