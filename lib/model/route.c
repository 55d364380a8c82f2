#include "model/route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

mesh__route_table *mesh__route_table_new(void) {
  mesh__route_table *rt = calloc(1, sizeof *rt);
  if (!rt) return NULL;
  rt->arena = mesh__arena_new(MESH__ROUTE_TABLE_ARENA_LIMIT);
  if (!rt->arena) {
    free(rt);
    return NULL;
  }
  rt->refs = 1;
  rt->name.p = "";
  rt->max_direct_response_body_bytes = MESH__ROUTE_DEFAULT_MAX_DIRECT_BODY;
  return rt;
}

int mesh__route_table_on_free(mesh__route_table *rt, void (*fn)(void *), void *arg) {
  mesh__cleanup *c = mesh__arena_alloc(rt->arena, sizeof *c);
  if (!c) {
    fn(arg);
    return -1;
  }
  c->fn = fn;
  c->arg = arg;
  c->next = rt->cleanups;
  rt->cleanups = c;
  return 0;
}

mesh__route_table *mesh__route_table_ref(mesh__route_table *rt) {
  if (rt) __atomic_add_fetch(&rt->refs, 1, __ATOMIC_RELAXED);
  return rt;
}

void mesh__route_table_unref(mesh__route_table *rt) {
  if (!rt || __atomic_sub_fetch(&rt->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  for (mesh__cleanup *c = rt->cleanups; c; c = c->next) c->fn(c->arg);
  mesh__arena_free(rt->arena);
  free(rt);
}

const char *mesh__route_table_name(const mesh__route_table *rt) { return rt->name.p ? rt->name.p : ""; }

int mesh__route_table_each_cluster(const mesh__route_table *rt, int (*fn)(const char *name, size_t len, void *ud),
                                   void *ud) {
  for (size_t i = 0; i < rt->nvhosts; i++) {
    const mesh__vhost *vh = &rt->vhosts[i];
    for (size_t j = 0; j < vh->nroutes; j++) {
      const mesh__route *r = &vh->routes[j];
      if (r->action != MESH__ACTION_ROUTE) continue;
      int rc = 0;
      if (r->route.cluster_kind == MESH__CLUSTER_NAME) {
        rc = fn(r->route.cluster.p, r->route.cluster.len, ud);
      } else if (r->route.cluster_kind == MESH__CLUSTER_WEIGHTED) {
        for (size_t k = 0; rc == 0 && k < r->route.nweights; k++)
          if (r->route.weights[k].name.len) rc = fn(r->route.weights[k].name.p, r->route.weights[k].name.len, ud);
      }
      if (rc) return rc;
    }
  }
  return 0;
}

/* ------------------------------------------------------------ domain index */

enum { DOM_EXACT, DOM_SUFFIX, DOM_PREFIX };

typedef struct dom {
  const char *key;
  uint32_t len;
  size_t vhost, index; /* where it was configured, for messages and order */
  int kind;
} dom;

static int cmp_len_desc(const void *a, const void *b) {
  const dom *x = a, *y = b;
  if (x->len != y->len) return x->len > y->len ? -1 : 1;
  if (x->vhost != y->vhost) return x->vhost < y->vhost ? -1 : 1;
  return x->index < y->index ? -1 : (x->index > y->index);
}

/* "host:digits" (not inside an IPv6 literal's brackets). */
static bool ends_with_port(const char *s, size_t n) {
  size_t i = n;
  while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9') i--;
  return i < n && i > 0 && s[i - 1] == ':' && !memchr(s + i, ']', n - i);
}

static int build_map(mesh__route_table *rt, mesh__domain_map *m, const dom *d, size_t n, int kind, char *pool,
                     size_t *pool_used, char *err, size_t errlen) {
  size_t count = 0;
  for (size_t i = 0; i < n; i++) count += d[i].kind == kind;
  if (count == 0) return 0;
  /* Load factor at most 3/4 (linear probing, 64-byte slots). */
  size_t cap = 8;
  while (cap * 3 < count * 4) cap *= 2;
  /* One slot a cache line. */
  char *raw = mesh__arena_alloc(rt->arena, cap * sizeof *m->slots + 63);
  uint32_t *lens = kind == DOM_EXACT ? NULL : mesh__arena_calloc(rt->arena, count, sizeof *lens);
  if (!raw || (kind != DOM_EXACT && !lens)) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  m->slots = (mesh__domain_slot *)(raw + ((64 - (uintptr_t)raw % 64) % 64));
  m->mask = (uint32_t)(cap - 1);
  for (size_t i = 0; i < n; i++) {
    if (d[i].kind != kind) continue;
    uint32_t h = mesh__domain_hash(d[i].key, d[i].len);
    size_t s = h & m->mask;
    while (m->slots[s].vh) {
      const mesh__domain_slot *o = &m->slots[s];
      if (o->hash == h && o->len == d[i].len && mesh__memcaseeq(pool + o->off, d[i].key, d[i].len)) {
        /* Find where the first one was configured, for the message. */
        size_t first = 0;
        for (size_t k = 0; k < n; k++)
          if (&rt->vhosts[d[k].vhost] == o->vh && d[k].kind == kind && d[k].len == d[i].len &&
              mesh__memcaseeq(d[k].key, d[i].key, d[i].len)) {
            first = d[k].vhost;
            break;
          }
        snprintf(err, errlen, "virtual_hosts[%zu].domains[%zu]: duplicate domain \"%s\" (also in virtual_hosts[%zu])",
                 d[i].vhost, d[i].index, rt->vhosts[d[i].vhost].domains[d[i].index].p, first);
        return -1;
      }
      s = (s + 1) & m->mask;
    }
    char *key = pool + *pool_used;
    for (uint32_t k = 0; k < d[i].len; k++) key[k] = mesh__lower(d[i].key[k]);
    key[d[i].len] = '\0';
    m->slots[s].off = (uint32_t)*pool_used;
    *pool_used += d[i].len + 1;
    m->slots[s].len = (uint16_t)d[i].len;
    m->slots[s].hash = h;
    m->slots[s].vh = &rt->vhosts[d[i].vhost];
    m->slots[s].keys = rt->vhosts[d[i].vhost].keys;
    memcpy(m->slots[s].head, key, d[i].len < MESH__DOMAIN_INLINE ? d[i].len : MESH__DOMAIN_INLINE);
    if (lens) {
      /* Distinct lengths, longest first (insertion into a short list). */
      uint32_t L = d[i].len, k = 0;
      while (k < m->nlens && lens[k] > L) k++;
      if (k == m->nlens || lens[k] != L) {
        memmove(lens + k + 1, lens + k, (m->nlens - k) * sizeof *lens);
        lens[k] = L;
        m->nlens++;
      }
    }
    m->count++;
  }
  m->lens = lens;
  return 0;
}

static int sorted_list(mesh__route_table *rt, dom *d, size_t n, int kind, const mesh__domain_entry **out,
                       size_t *nout) {
  size_t count = 0;
  for (size_t i = 0; i < n; i++) count += d[i].kind == kind;
  *nout = 0;
  if (!count) return 0;
  dom *tmp = malloc(count * sizeof *tmp);
  mesh__domain_entry *e = mesh__arena_calloc(rt->arena, count, sizeof *e);
  if (!tmp || !e) {
    free(tmp);
    return -1;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (d[i].kind == kind) tmp[k++] = d[i];
  qsort(tmp, count, sizeof *tmp, cmp_len_desc);
  for (size_t i = 0; i < count; i++) {
    char *key = mesh__arena_strndup(rt->arena, tmp[i].key, tmp[i].len); /* without the * */
    if (!key) {
      free(tmp);
      return -1;
    }
    e[i].key.p = key;
    e[i].key.len = tmp[i].len;
    e[i].vh = &rt->vhosts[tmp[i].vhost];
  }
  free(tmp);
  *out = e;
  *nout = count;
  return 0;
}

static int build_keys(mesh__route_table *rt, mesh__vhost *vh) {
  if (!vh->nroutes) return 0;
  mesh__route_key *k = mesh__arena_calloc(rt->arena, vh->nroutes, sizeof *k);
  if (!k) return -1;
  for (size_t j = 0; j < vh->nroutes; j++) {
    const mesh__route *r = &vh->routes[j];
    const mesh__route_matcher *m = &r->match;
    const mesh__rstr *lit = m->path_kind == MESH__PATH_REGEX ? &m->path_re_prefix : &m->path;
    k[j].kind = m->path_kind;
    k[j].re = m->path_re;
    k[j].fold = m->path_kind != MESH__PATH_REGEX && !m->case_sensitive;
    if (m->has_fraction || m->grpc || m->nqueries || m->nheaders > 255) k[j].extra |= MESH__KEY_OTHER;
    if (m->nheaders && m->nheaders <= 255) {
      k[j].extra |= MESH__KEY_HEADERS;
      k[j].nhdr = (uint8_t)m->nheaders;
      k[j].hdr = m->headers;
    }
    if (lit->p && lit->len > UINT32_MAX / 2) return -1;
    k[j].len = lit->p ? (uint32_t)lit->len : 0;
    if (k[j].len) memcpy(k[j].head, lit->p, k[j].len < MESH__ROUTE_KEY_INLINE ? k[j].len : MESH__ROUTE_KEY_INLINE);
  }
  vh->keys = k;
  return 0;
}

int mesh__route_table_seal(mesh__route_table *rt, char *err, size_t errlen) {
  size_t total = 0;
  for (size_t i = 0; i < rt->nvhosts; i++) {
    mesh__vhost *vh = &rt->vhosts[i];
    vh->table = rt;
    for (size_t j = 0; j < vh->nroutes; j++) ((mesh__route *)&vh->routes[j])->vhost = vh;
    if (build_keys(rt, vh) < 0) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    if (vh->ndomains == 0) {
      snprintf(err, errlen, "virtual_hosts[%zu].domains: at least one domain is required", i);
      return -1;
    }
    total += vh->ndomains;
  }
  dom *d = total ? malloc(total * sizeof *d) : NULL;
  if (total && !d) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  size_t n = 0, any_at = 0;
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < rt->nvhosts; i++) {
    const mesh__vhost *vh = &rt->vhosts[i];
    for (size_t j = 0; j < vh->ndomains; j++) {
      const mesh__rstr *s = &vh->domains[j];
      if (s->len > MESH__DOMAIN_MAX) {
        snprintf(err, errlen, "virtual_hosts[%zu].domains[%zu]: longer than %u bytes", i, j, MESH__DOMAIN_MAX);
        rc = -1;
        break;
      }
      if (s->len == 1 && s->p[0] == '*') {
        if (rt->any) {
          snprintf(err, errlen,
                   "virtual_hosts[%zu].domains[%zu]: only one \"*\" domain is allowed (also in virtual_hosts[%zu])", i,
                   j, any_at);
          rc = -1;
          break;
        }
        rt->any = vh;
        any_at = i;
        continue;
      }
      /* As Envoy: a leading '*' makes a suffix wildcard, else a trailing
       * one a prefix wildcard; the '*' matches one character or more. */
      dom *x = &d[n++];
      x->vhost = i;
      x->index = j;
      if (s->len > 0 && s->p[0] == '*') {
        x->kind = DOM_SUFFIX;
        x->key = s->p + 1;
        x->len = (uint32_t)s->len - 1;
      } else if (s->len > 0 && s->p[s->len - 1] == '*') {
        x->kind = DOM_PREFIX;
        x->key = s->p;
        x->len = (uint32_t)s->len - 1;
      } else {
        x->kind = DOM_EXACT;
        x->key = s->p;
        x->len = (uint32_t)s->len;
      }
      if (x->kind != DOM_PREFIX && ends_with_port(x->key, x->len)) rt->domain_has_port = true;
    }
  }
  size_t pool_size = 1, pool_used = 0;
  for (size_t i = 0; i < n; i++) pool_size += d[i].len + 1;
  char *pool = rc == 0 ? mesh__arena_alloc(rt->arena, pool_size) : NULL;
  if (rc == 0 && (!pool || pool_size > UINT32_MAX)) {
    snprintf(err, errlen, "out of memory");
    rc = -1;
  }
  rt->domain_pool = pool;
  if (rc == 0) rc = build_map(rt, &rt->exact, d, n, DOM_EXACT, pool, &pool_used, err, errlen);
  if (rc == 0) rc = build_map(rt, &rt->suffix, d, n, DOM_SUFFIX, pool, &pool_used, err, errlen);
  if (rc == 0) rc = build_map(rt, &rt->prefix, d, n, DOM_PREFIX, pool, &pool_used, err, errlen);
  if (rc == 0 && (sorted_list(rt, d, n, DOM_SUFFIX, &rt->suffixes, &rt->nsuffixes) < 0 ||
                  sorted_list(rt, d, n, DOM_PREFIX, &rt->prefixes, &rt->nprefixes) < 0)) {
    snprintf(err, errlen, "out of memory");
    rc = -1;
  }
  free(d);
  if (rc == 0) rt->sealed = true;
  return rc;
}
