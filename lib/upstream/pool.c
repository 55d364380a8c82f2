#include "upstream/pool.h"
#include "util/str.h"

#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mesh__conn *mesh__conn_open(mesh__pool *p, const mesh__codec *codec);

static int pool_set_numeric(mesh__pool *p) {
  struct sockaddr_in *a4 = (struct sockaddr_in *)&p->addr;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&p->addr;
  memset(&p->addr, 0, sizeof p->addr);
  if (inet_pton(AF_INET, p->host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(p->port);
    p->addrlen = sizeof *a4;
    return 1;
  }
  if (inet_pton(AF_INET6, p->host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(p->port);
    p->addrlen = sizeof *a6;
    return 1;
  }
  return 0;
}

mesh__pool *mesh__pool_get(struct mesh *m, const char *key, size_t keylen, uint32_t hash, int protocol,
                           const char *host, size_t hostlen, uint16_t port, int *err) {
  if (keylen >= sizeof(((mesh__pool *)0)->key) || hostlen >= sizeof(((mesh__pool *)0)->host)) {
    *err = MESH_EINVAL;
    return NULL;
  }
  mesh__list *bucket = &m->pools[(hash + (uint32_t)protocol) % MESH__POOL_BUCKETS];
  for (mesh__list *n = bucket->next; n != bucket; n = n->next) {
    mesh__pool *p = MESH__CONTAINER(n, mesh__pool, link);
    if (p->protocol == protocol && p->keylen == keylen && memcmp(p->key, key, keylen) == 0) return p;
  }
  mesh__pool *p = calloc(1, sizeof *p);
  if (!p) {
    *err = MESH_ENOMEM;
    return NULL;
  }
  p->m = m;
  memcpy(p->key, key, keylen);
  p->key[keylen] = '\0';
  p->keylen = keylen;
  p->protocol = protocol;
  memcpy(p->host, host, hostlen);
  p->host[hostlen] = '\0';
  p->port = port;
  mesh__list_init(&p->conns);
  mesh__list_init(&p->idle);
  mesh__list_init(&p->pending);
  if (pool_set_numeric(p)) p->resolve_state = 2;
  mesh__list_push_back(bucket, &p->link);
  return p;
}

mesh__pool *mesh__pool_for_call(struct mesh *m, mesh__call *c, int *err) {
  const mesh__req *r = &c->req;
  const char *host = mesh__req_str(r, r->host);
  return mesh__pool_get(m, mesh__req_str(r, r->authority), r->authority_len, r->authority_hash, r->protocol,
                        host, strlen(host), r->port, err);
}

static void pool_fail_pending(mesh__pool *p, int err, const char *why) {
  mesh__list *n;
  while ((n = mesh__list_pop_front(&p->pending))) {
    mesh__call *c = MESH__CONTAINER(n, mesh__call, link);
    p->npending--;
    mesh__pending_left(c);
    c->pool = NULL;
    mesh__call_finish(c, err, "upstream %s:%u: %s", p->host, p->port, why);
  }
}

static void pool_on_resolved(int result, struct evutil_addrinfo *ai, void *arg) {
  mesh__pool *p = arg;
  struct mesh *m = p->m;
  p->dns_req = NULL;
  if (result == EVUTIL_EAI_CANCEL) {
    if (ai) evutil_freeaddrinfo(ai);
    return;
  }
  mesh__enter(m);
  if (result != 0 || !ai) {
    p->resolve_state = 0; /* try again with the next call */
    pool_fail_pending(p, MESH_EDNS, evutil_gai_strerror(result));
  } else {
    memcpy(&p->addr, ai->ai_addr, ai->ai_addrlen);
    p->addrlen = (socklen_t)ai->ai_addrlen;
    if (p->addr.ss_family == AF_INET) ((struct sockaddr_in *)&p->addr)->sin_port = htons(p->port);
    else ((struct sockaddr_in6 *)&p->addr)->sin6_port = htons(p->port);
    p->resolve_state = 2;
    mesh__pool_dispatch(p);
  }
  if (ai) evutil_freeaddrinfo(ai);
  mesh__leave(m);
}

static void pool_resolve(mesh__pool *p) {
  struct mesh *m = p->m;
  if (!m->dns) {
    m->dns = evdns_base_new(m->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                         EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (!m->dns) {
      pool_fail_pending(p, MESH_EDNS, "could not start the DNS resolver");
      return;
    }
  }
  struct evutil_addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
  p->resolve_state = 1;
  /* May call back at once (e.g. /etc/hosts): state is set before. */
  p->dns_req = evdns_getaddrinfo(m->dns, p->host, NULL, &hints, pool_on_resolved, p);
}

void mesh__pool_submit(mesh__pool *p, mesh__call *c) {
  if (p->npending >= p->m->opts.max_pending) {
    mesh__call_finish(c, MESH_EOVERFLOW, "upstream %s:%u: %u calls already waiting for a connection",
                      p->host, p->port, p->npending);
    return;
  }
  c->pool = p;
  c->state = MESH__CALL_PENDING;
  mesh__list_push_back(&p->pending, &c->link);
  p->npending++;
  if (c->cbs) c->cbs->n[c->prio].rq_pending++;
  mesh__pool_dispatch(p);
  /* Still waiting for a connection: the cluster's max_pending_requests. */
  if (c->cbs && c->pool == p && c->state == MESH__CALL_PENDING) {
    const mesh__cb_count *n = &c->cbs->n[c->prio];
    if (n->rq_pending > c->cbs->th[c->prio].max_pending_requests) {
      mesh__stat_add(p->m->stats, MESH__ST_PENDING_OVERFLOW, 1);
      mesh__call_finish(c, MESH_EOVERFLOW, "cluster %s: %u calls waiting for a connection (max_pending_requests)",
                        c->cbs->name, n->rq_pending - 1);
    }
  }
}

static const mesh__codec *pool_codec(const mesh__pool *p) {
  return p->protocol == MESH_PROTOCOL_HTTP2 ? &mesh__codec_h2 : &mesh__codec_h1;
}

static mesh__conn *pool_ready_h2(mesh__pool *p) {
  for (mesh__list *n = p->conns.next; n != &p->conns; n = n->next) {
    mesh__conn *cn = MESH__CONTAINER(n, mesh__conn, link);
    if (cn->state == MESH__CONN_READY && cn->codec->capacity(cn) > 0) return cn;
  }
  return NULL;
}

void mesh__pool_dispatch(mesh__pool *p) {
  if (p->npending == 0) return;
  if (p->resolve_state == 0) pool_resolve(p);
  if (p->resolve_state != 2) return;
  const mesh__codec *codec = pool_codec(p);
  while (p->npending > 0) {
    mesh__conn *cn = NULL;
    if (codec == &mesh__codec_h2) {
      cn = pool_ready_h2(p);
    } else if (!mesh__list_empty(&p->idle)) {
      cn = MESH__CONTAINER(p->idle.next, mesh__conn, idle_link);
      mesh__list_remove(&cn->idle_link);
    }
    if (!cn) {
      /* HTTP/2: one connecting connection serves the whole queue; HTTP/1.1:
       * one per waiting call, up to the bound. */
      uint32_t want = codec == &mesh__codec_h2 ? 1 : p->npending;
      if (p->nconnecting < want && p->nconns < p->m->opts.max_conns) {
        /* The cluster's max_connections (counted under the default
         * priority): the calls wait for a connection of this pool. As in
         * Envoy, a pool with no connection at all still opens one, or its
         * calls could never be served. */
        if (p->cbs && p->cbs->n[0].cx >= p->cbs->th[0].max_connections) {
          mesh__stat_add(p->m->stats, MESH__ST_CX_OVERFLOW, 1);
          if (p->nconns > 0) return;
        }
        if (!mesh__conn_open(p, codec)) {
          pool_fail_pending(p, MESH_ECONNECT, "could not open a socket");
          return;
        }
        continue;
      }
      return;
    }
    mesh__call *c = MESH__CONTAINER(mesh__list_pop_front(&p->pending), mesh__call, link);
    p->npending--;
    mesh__pending_left(c);
    c->state = MESH__CALL_ACTIVE;
    c->conn = cn;
    cn->used = 1;
    if (cn->codec->submit(cn, c) < 0) {
      c->conn = NULL;
      c->pool = NULL;
      mesh__call_finish(c, MESH_ENOMEM, "out of memory framing the request");
    }
  }
}

void mesh__pool_unbind(mesh__call *c) {
  if (c->state == MESH__CALL_PENDING && c->pool) {
    mesh__list_remove(&c->link);
    c->pool->npending--;
    mesh__pending_left(c);
  } else if (c->state == MESH__CALL_ACTIVE && c->conn) {
    c->conn->codec->detach(c->conn, c);
  }
  c->conn = NULL;
  c->pool = NULL;
}

void mesh__pools_free_all(struct mesh *m) {
  for (int i = 0; i < MESH__POOL_BUCKETS; i++) {
    mesh__list *b = &m->pools[i];
    while (!mesh__list_empty(b)) {
      mesh__pool *p = MESH__CONTAINER(b->next, mesh__pool, link);
      while (!mesh__list_empty(&p->conns))
        mesh__conn_close(MESH__CONTAINER(p->conns.next, mesh__conn, link), MESH_ECANCELED,
                         "handle closed");
      pool_fail_pending(p, MESH_ECANCELED, "handle closed");
      if (p->dns_req) evdns_getaddrinfo_cancel(p->dns_req);
      mesh__list_remove(&p->link);
      free(p);
    }
  }
}
