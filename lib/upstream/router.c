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
#include "route/match.h"
#include "upstream/core.h"
#include "util/str.h"

#define MAX_MATCH_HEADERS 128

typedef struct rcluster {
  mesh__lb *lb;
  const mesh__load_assignment *la;
  mesh__pool **pools; /* per endpoint, filled on first use */
} rcluster;

typedef struct mesh__router mesh__router;
struct mesh__router {
  mesh__snapshot *snap;
  rcluster *cl; /* parallel to snap->clusters */
  uint64_t rng;
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
    mesh__lb_destroy(cl[i].lb);
    free(cl[i].pools);
  }
  free(cl);
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
    if (!la || !vt) continue; /* the translator refused these; be safe */
    if (vt->create(c, la, next_random(r), &cl[i].lb) != 0 ||
        !(cl[i].pools = calloc(la->n_endpoints + 1, sizeof *cl[i].pools))) {
      free_clusters(cl, s->nclusters);
      return -1;
    }
  }
  mesh__snapshot_ref(s);
  if (r->snap) {
    free_clusters(r->cl, r->snap->nclusters);
    mesh__snapshot_unref(r->snap); /* calls in flight hold their own */
  }
  r->snap = s;
  r->cl = cl;
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
  free(r);
  m->router = NULL;
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
  if (location) mesh__response_add_field(r, "location", 8, location, loclen, SIZE_MAX, 0);
  if (blen) {
    char cl[32];
    int n = snprintf(cl, sizeof cl, "%zu", blen);
    mesh__response_add_field(r, "content-length", 14, cl, (size_t)n, SIZE_MAX, 0);
    mesh__buf_append(&r->body, body, blen);
  }
  mesh__call_finish(c, MESH_OK, NULL);
}

/* ---- the route ---- */

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

  rcluster *rc = &rt->cl[ci];
  const mesh__cluster *cluster = s->clusters[ci].cluster;
  if (!rc->lb) {
    mesh__call_finish(c, MESH_ENOHEALTHY, "cluster %s has no endpoints", cname);
    return NULL;
  }
  mesh__lb_ctx ctx = {0};
  ctx.random = next_random(rt);
  int ei = mesh__lb_pick(rc->lb, &ctx);
  if (ei < 0) {
    mesh__call_finish(c, MESH_ENOHEALTHY, "no healthy endpoint in cluster %s", cname);
    return NULL;
  }
  mesh__pool *p = rc->pools[ei];
  if (!p) {
    const mesh__endpoint *ep = &rc->la->endpoints[ei];
    char key[300];
    int kl = strchr(ep->address, ':') ? snprintf(key, sizeof key, "[%s]:%u", ep->address, ep->port)
                                      : snprintf(key, sizeof key, "%s:%u", ep->address, ep->port);
    int err = MESH_OK;
    int proto = cluster->protocol != MESH_PROTOCOL_DEFAULT ? cluster->protocol : q->protocol;
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
  c->resp.endpoint = p->key;
  return p;
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
  if (c->snap) mesh__snapshot_unref(c->snap);
  c->snap = NULL;
  c->route = NULL;
  c->cw = NULL;
}
