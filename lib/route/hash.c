/* Request hashing from RouteAction.hash_policy; see hash.h. */
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>

#include "route/hash.h"
#include "route/regex.h"

typedef struct span {
  const char *p;
  size_t n;
} span;

static bool name_is(const char *a, const mesh__rstr *b) {
  return strlen(a) == b->len && memcmp(a, b->p, b->len) == 0;
}

/* Up to max values of header name (lower-case); returns how many were
 * found, or max + 1 when there are more. */
static size_t header_values(const mesh__route_input *in, const mesh__rstr *name, span *v, size_t max) {
  const char *pseudo = NULL;
  size_t plen = 0;
  if (name->len && name->p[0] == ':') {
    if (name_is(":authority", name)) pseudo = in->authority, plen = in->authority_len;
    else if (name_is(":path", name)) pseudo = in->path, plen = in->path_len;
    else if (name_is(":method", name)) pseudo = in->method, plen = pseudo ? strlen(pseudo) : 0;
    else if (name_is(":scheme", name)) pseudo = in->scheme, plen = pseudo ? strlen(pseudo) : 0;
    if (!pseudo) return 0;
    v[0].p = pseudo;
    v[0].n = plen;
    return 1;
  }
  size_t k = 0;
  for (size_t i = 0; i < in->nheaders; i++) {
    if (!name_is(in->hnames[i], name)) continue;
    if (k == max) return max + 1;
    v[k].p = in->hvalues[i];
    v[k].n = in->hvalue_lens ? in->hvalue_lens[i] : strlen(in->hvalues[i]);
    k++;
  }
  return k;
}

static int span_cmp(const void *a, const void *b) {
  const span *x = a, *y = b;
  size_t n = x->n < y->n ? x->n : y->n;
  int c = memcmp(x->p, y->p, n);
  if (c) return c;
  return (x->n > y->n) - (x->n < y->n);
}

static bool hash_header(const mesh__hash_policy *hp, const mesh__route_input *in, uint64_t *out) {
  span v[MESH__ROUTE_HASH_VALUES];
  char buf[MESH__ROUTE_HASH_MAX];
  size_t n = header_values(in, &hp->name, v, MESH__ROUTE_HASH_VALUES);
  if (n == 0 || n > MESH__ROUTE_HASH_VALUES) return false;
  if (hp->rewrite) {
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
      ptrdiff_t r = mesh__regex_replace(hp->rewrite, v[i].p, v[i].n, hp->rewrite_sub.p, hp->rewrite_sub.len,
                                        buf + used, sizeof buf - used);
      if (r < 0) return false;
      v[i].p = buf + used;
      v[i].n = (size_t)r;
      used += (size_t)r;
    }
  }
  if (n == 1) {
    *out = XXH64(v[0].p, v[0].n, 0);
    return true;
  }
  /* Sorted, so that the order of the occurrences does not matter; hashed
   * as one string (Envoy's HashUtil::xxHash64 over a span). */
  qsort(v, n, sizeof *v, span_cmp);
  XXH64_state_t st;
  XXH64_reset(&st, 0);
  for (size_t i = 0; i < n; i++) XXH64_update(&st, v[i].p, v[i].n);
  *out = XXH64_digest(&st);
  return true;
}

/* Envoy's Http::Utility::parseCookieValue: the first "name=value" among
 * the ';'-separated pairs of every Cookie header, spaces around pairs
 * skipped, one pair of surrounding double quotes removed. */
static bool cookie_value(const mesh__route_input *in, const mesh__rstr *name, span *out) {
  static const mesh__rstr cookie = {"cookie", 6};
  for (size_t i = 0; i < in->nheaders; i++) {
    if (!name_is(in->hnames[i], &cookie)) continue;
    const char *p = in->hvalues[i];
    const char *end = p + (in->hvalue_lens ? in->hvalue_lens[i] : strlen(p));
    while (p < end) {
      while (p < end && (*p == ' ' || *p == '\t')) p++;
      const char *semi = memchr(p, ';', (size_t)(end - p));
      const char *pe = semi ? semi : end;
      const char *eq = memchr(p, '=', (size_t)(pe - p));
      if (eq && (size_t)(eq - p) == name->len && memcmp(p, name->p, name->len) == 0) {
        const char *v = eq + 1, *ve = pe;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        if (ve - v >= 2 && v[0] == '"' && ve[-1] == '"') v++, ve--;
        out->p = v;
        out->n = (size_t)(ve - v);
        return true;
      }
      p = semi ? semi + 1 : end;
    }
  }
  return false;
}

/* The raw value of the first occurrence of parameter name in the query
 * of path[0..n) (up to a '#'). */
static bool query_value(const char *path, size_t n, const mesh__rstr *name, span *out) {
  if (!path) return false;
  const char *q = memchr(path, '?', n);
  if (!q) return false;
  const char *end = path + n;
  const char *hash = memchr(q, '#', (size_t)(end - q));
  if (hash) end = hash;
  const char *p = q + 1;
  while (p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *pe = amp ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(pe - p));
    const char *ne = eq ? eq : pe;
    if ((size_t)(ne - p) == name->len && memcmp(p, name->p, name->len) == 0) {
      out->p = eq ? eq + 1 : pe;
      out->n = eq ? (size_t)(pe - eq - 1) : 0;
      return true;
    }
    p = amp ? amp + 1 : end;
  }
  return false;
}

bool mesh__route_hash(const mesh__route_action *ra, const mesh__route_input *in, const char *source_ip,
                      uint64_t *out) {
  if (!ra || !in) return false;
  bool have = false;
  uint64_t hash = 0;
  for (size_t i = 0; i < ra->nhash; i++) {
    const mesh__hash_policy *hp = &ra->hash[i];
    uint64_t h = 0;
    bool got = false;
    span v;
    switch (hp->kind) {
    case MESH__HASH_HEADER: got = hash_header(hp, in, &h); break;
    case MESH__HASH_COOKIE:
      if (cookie_value(in, &hp->name, &v) && v.n) {
        h = XXH64(v.p, v.n, 0);
        got = true;
      }
      break;
    case MESH__HASH_QUERY_PARAMETER:
      if (query_value(in->path, in->path_len, &hp->name, &v)) {
        h = XXH64(v.p, v.n, 0);
        got = true;
      }
      break;
    case MESH__HASH_SOURCE_IP:
      if (source_ip && *source_ip) {
        h = XXH64(source_ip, strlen(source_ip), 0);
        got = true;
      }
      break;
    default: break; /* filter_state: libmesh has none */
    }
    if (got) {
      /* Rotating keeps two identical policies from cancelling out. */
      uint64_t old = have ? (hash << 1) | (hash >> 63) : 0;
      hash = old ^ h;
      have = true;
    }
    if (hp->terminal && have) break;
  }
  if (have) *out = hash;
  return have;
}
