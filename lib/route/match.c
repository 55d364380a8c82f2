/* Route selection (see match.h for the semantics and the deviations from
 * Envoy). Envoy references: source/common/router/config_impl.cc
 * (RouteMatcher::findVirtualHost, RouteEntryImplBase::matchRoute,
 * pickWeightedCluster, currentUrlPathAfterRewrite),
 * source/common/http/header_utility.cc (matchHeaders),
 * source/common/http/utility.cc (newUri, processRequestHost). */
#include "route/match.h"

#include <string.h>

#include "route/regex.h"
#include "util/str.h"

/* ------------------------------------------------------------ helpers */

static inline unsigned char lc(char c) {
  unsigned char u = (unsigned char)c;
  return (u >= 'A' && u <= 'Z') ? (unsigned char)(u + 32) : u;
}

/* a[0..n) equals b[0..n): inline, eight bytes at a time (most compares
 * on the lookup path are short and fail early). */
static inline bool eq_bytes(const char *a, const char *b, size_t n) {
  while (n >= 8) {
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    if (x != y) return false;
    a += 8, b += 8, n -= 8;
  }
  while (n--)
    if (*a++ != *b++) return false;
  return true;
}

/* a[0..n) equals b[0..n); b is lower-case when fold. */
static inline bool eq_fold(const char *a, const char *b, size_t n, bool fold) {
  if (!fold) return eq_bytes(a, b, n);
  for (size_t i = 0; i < n; i++)
    if (lc(a[i]) != (unsigned char)b[i]) return false;
  return true;
}

static bool contains(const char *h, size_t hn, const char *nd, size_t nn, bool fold) {
  if (nn == 0) return true;
  if (nn > hn) return false;
  if (!fold) return memmem(h, hn, nd, nn) != NULL;
  for (size_t i = 0; i + nn <= hn; i++)
    if (lc(h[i]) == (unsigned char)nd[0] && eq_fold(h + i, nd, nn, true)) return true;
  return false;
}

static bool str_match(const mesh__str_matcher *sm, const char *v, size_t n) {
  const char *x = sm->value.p;
  size_t k = sm->value.len;
  switch (sm->kind) {
    case MESH__STR_EXACT:
      return n == k && eq_fold(v, x, k, sm->ignore_case);
    case MESH__STR_PREFIX:
      return n >= k && eq_fold(v, x, k, sm->ignore_case);
    case MESH__STR_SUFFIX:
      return n >= k && eq_fold(v + n - k, x, k, sm->ignore_case);
    case MESH__STR_CONTAINS:
      return contains(v, n, x, k, sm->ignore_case);
    case MESH__STR_REGEX:
      return mesh__regex_match(sm->re, v, n) == 1;
    default:
      return false;
  }
}

/* absl::SimpleAtoi for int64: optional surrounding ASCII whitespace, an
 * optional sign, at least one digit, no overflow. */
static bool parse_i64(const char *s, size_t n, int64_t *out) {
  size_t i = 0;
  while (i < n && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) i++;
  while (n > i && (s[n - 1] == ' ' || (s[n - 1] >= '\t' && s[n - 1] <= '\r'))) n--;
  bool neg = false;
  if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  if (i >= n) return false;
  uint64_t v = 0;
  const uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (lim - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return true;
}

static bool parse_u64(const char *s, size_t n, uint64_t *out) {
  unsigned long long v;
  if (mesh__parse_u64(s, n, ~0ull, &v) < 0) return false;
  *out = v;
  return true;
}

static inline size_t value_len(const mesh__route_input *in, size_t i) {
  return in->hvalue_lens ? in->hvalue_lens[i] : strlen(in->hvalues[i]);
}

/* hn (NUL-terminated) is name[0..len) (which has no NUL): stops at the
 * first difference, so it never reads past hn's end. */
static inline bool name_is(const char *hn, const char *name, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (hn[i] != name[i]) return false;
  return hn[len] == '\0';
}

/* First value of a request header, or NULL. */
static const char *header_first(const mesh__route_input *in, const char *name, size_t len, size_t *vlen) {
  for (size_t i = 0; i < in->nheaders; i++)
    if (name_is(in->hnames[i], name, len)) {
      *vlen = value_len(in, i);
      return in->hvalues[i];
    }
  return NULL;
}

enum { HV_MISSING, HV_FOUND, HV_TOOLONG };

/* The value a header matcher sees: a pseudo-header, a single header, or
 * several joined with ',' into join[]. */
static int header_value(const mesh__header_matcher *hm, const mesh__route_input *in, char *join, const char **v,
                        size_t *n) {
  switch (hm->source) {
    case MESH__HSRC_METHOD:
      if (!in->method) return HV_MISSING;
      *v = in->method, *n = strlen(in->method);
      return HV_FOUND;
    case MESH__HSRC_SCHEME:
      if (!in->scheme) return HV_MISSING;
      *v = in->scheme, *n = strlen(in->scheme);
      return HV_FOUND;
    case MESH__HSRC_AUTHORITY:
      if (!in->authority) return HV_MISSING;
      *v = in->authority, *n = in->authority_len;
      return HV_FOUND;
    case MESH__HSRC_PATH:
      if (!in->path) return HV_MISSING;
      *v = in->path, *n = in->path_len;
      return HV_FOUND;
    default:
      break;
  }
  size_t found = 0, len = 0;
  for (size_t i = 0; i < in->nheaders; i++) {
    if (!name_is(in->hnames[i], hm->name.p, hm->name.len)) continue;
    size_t vl = value_len(in, i);
    if (found == 0) {
      *v = in->hvalues[i], *n = vl;
    } else {
      if (found == 1) {
        /* Second value: start the joined copy with the first. */
        if (*n > MESH__ROUTE_JOIN_MAX) return HV_TOOLONG;
        memcpy(join, *v, *n);
        len = *n;
      }
      if (vl + 1 > MESH__ROUTE_JOIN_MAX - len) return HV_TOOLONG;
      join[len++] = ',';
      memcpy(join + len, in->hvalues[i], vl);
      len += vl;
      *v = join, *n = len;
    }
    found++;
  }
  return found ? HV_FOUND : HV_MISSING;
}

static bool header_matches(const mesh__header_matcher *hm, const mesh__route_input *in) {
  char join[MESH__ROUTE_JOIN_MAX];
  const char *v = NULL;
  size_t n = 0;
  int st = header_value(hm, in, join, &v, &n);
  if (st == HV_TOOLONG) return false;
  if (hm->kind == MESH__HDR_PRESENT) return ((st == HV_FOUND) == hm->present) != hm->invert;
  if (st == HV_MISSING) {
    if (!hm->missing_as_empty) return false;
    v = "", n = 0;
  }
  bool m;
  switch (hm->kind) {
    case MESH__HDR_ANY:
      m = true;
      break;
    case MESH__HDR_RANGE: {
      int64_t x;
      m = parse_i64(v, n, &x) && x >= hm->range_start && x < hm->range_end;
      break;
    }
    default:
      m = str_match(&hm->sm, v, n);
      break;
  }
  return m != hm->invert;
}

/* The first value of query parameter name in q[0..qn) (raw), or NULL. */
static const char *query_first(const char *q, size_t qn, const char *name, size_t len, size_t *vlen) {
  size_t i = 0;
  while (i <= qn) {
    size_t end = i;
    while (end < qn && q[end] != '&') end++;
    size_t eq = i;
    while (eq < end && q[eq] != '=') eq++;
    if (eq - i == len && memcmp(q + i, name, len) == 0) {
      if (eq < end) {
        *vlen = end - eq - 1;
        return q + eq + 1;
      }
      *vlen = 0;
      return q + end;
    }
    i = end + 1;
  }
  return NULL;
}

static bool query_matches(const mesh__query_matcher *qm, const char *q, size_t qn, bool has_query) {
  size_t vn = 0;
  const char *v = has_query ? query_first(q, qn, qm->name.p, qm->name.len, &vn) : NULL;
  switch (qm->kind) {
    case MESH__QUERY_PRESENT:
      return v != NULL;
    case MESH__QUERY_ABSENT:
      return v == NULL;
    default:
      return v && str_match(&qm->sm, v, vn);
  }
}

static bool is_grpc(const mesh__route_input *in) {
  size_t n = 0;
  const char *ct = header_first(in, "content-type", 12, &n);
  if (!ct || n < 16 || memcmp(ct, "application/grpc", 16) != 0) return false;
  return n == 16 || ct[16] == '+';
}

/* Length of the path without query and fragment: eight bytes at a time
 * until a word holds '?' or '#' (exact zero-byte test), then bytewise. */
static inline size_t path_only_len(const char *p, size_t n) {
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w = mesh__load8(p + i);
    uint64_t q = w ^ (ones * '?'), f = w ^ (ones * '#');
    if (((q - ones) & ~q & highs) | ((f - ones) & ~f & highs)) break;
  }
  for (; i < n; i++)
    if (p[i] == '?' || p[i] == '#') return i;
  return n;
}

/* ------------------------------------------------------------ virtual host */

static const mesh__vhost *map_get(const mesh__route_table *rt, const mesh__domain_map *m, const char *k, size_t len,
                                  uint32_t h) {
  for (uint32_t s = h & m->mask;; s = (s + 1) & m->mask) {
    const mesh__domain_slot *sl = &m->slots[s];
    if (!sl->vh) return NULL;
    if (sl->hash != h || sl->len != len) continue;
    size_t in = len < MESH__DOMAIN_INLINE ? len : MESH__DOMAIN_INLINE;
    if (!mesh__domain_eq(k, sl->head, in) ||
        (len > in && !mesh__domain_eq(k + in, rt->domain_pool + sl->off + in, len - in)))
      continue;
    /* The vhost and its route keys are read next: start fetching them. */
    __builtin_prefetch(sl->vh);
    __builtin_prefetch(sl->keys);
    __builtin_prefetch((const char *)sl->keys + 64);
    __builtin_prefetch((const char *)sl->keys + 128);
    __builtin_prefetch((const char *)sl->keys + 192);
    __builtin_prefetch((const char *)sl->keys + 256);
    __builtin_prefetch((const char *)sl->keys + 320);
    return sl->vh;
  }
}

static const mesh__vhost *find_exact(const mesh__route_table *rt, const char *a, size_t n) {
  return rt->exact.count ? map_get(rt, &rt->exact, a, n, mesh__domain_hash(a, n)) : NULL;
}

/* The longest suffix (prefix) key shorter than the host: one probe per
 * distinct key length, longest first. */
static const mesh__vhost *find_suffix(const mesh__route_table *rt, const char *a, size_t n) {
  const mesh__domain_map *m = &rt->suffix;
  for (uint32_t i = 0; i < m->nlens; i++) {
    size_t L = m->lens[i];
    if (L >= n) continue;
    const mesh__vhost *vh = map_get(rt, m, a + n - L, L, mesh__domain_hash(a + n - L, L));
    if (vh) return vh;
  }
  return NULL;
}

static const mesh__vhost *find_prefix(const mesh__route_table *rt, const char *a, size_t n) {
  const mesh__domain_map *m = &rt->prefix;
  for (uint32_t i = 0; i < m->nlens; i++) {
    size_t L = m->lens[i];
    if (L >= n) continue;
    const mesh__vhost *vh = map_get(rt, m, a, L, mesh__domain_hash(a, L));
    if (vh) return vh;
  }
  return NULL;
}

/* Length of authority without ":port" (n when it has none). */
static size_t strip_port(const char *a, size_t n) {
  size_t i = n;
  while (i > 0 && a[i - 1] >= '0' && a[i - 1] <= '9') i--;
  if (i == n || i == 0 || a[i - 1] != ':') return n;
  return i - 1;
}

const mesh__vhost *mesh__route_vhost(const mesh__route_table *rt, const char *a, size_t n) {
  if (!rt) return NULL;
  if (!a || n == 0 || (!rt->exact.count && !rt->suffix.count && !rt->prefix.count)) return rt->any;
  size_t hn = strip_port(a, n);
  if (hn < n && (rt->ignore_port_in_host_matching || !rt->domain_has_port)) n = hn;
  bool two = hn < n;
  const mesh__vhost *vh;
  if ((vh = find_exact(rt, a, n)) || (two && (vh = find_exact(rt, a, hn)))) return vh;
  if ((vh = find_suffix(rt, a, n)) || (two && (vh = find_suffix(rt, a, hn)))) return vh;
  if ((vh = find_prefix(rt, a, n)) || (two && (vh = find_prefix(rt, a, hn)))) return vh;
  return rt->any;
}

/* ------------------------------------------------------------ route */

/* The conditions beyond the path and the headers. */
static bool other_matches(const mesh__route *r, const mesh__route_input *in, const char *path, size_t plen,
                          size_t full) {
  const mesh__route_matcher *m = &r->match;
  if (m->has_fraction && in->random % m->fraction_den >= m->fraction_num) return false;
  if (m->grpc && !is_grpc(in)) return false;
  if (m->nheaders > 255)
    for (size_t i = 0; i < m->nheaders; i++)
      if (!header_matches(&m->headers[i], in)) return false;
  if (m->nqueries) {
    /* The query runs from the first '?' to a '#' or the end. */
    bool has_query = plen < full && path[plen] == '?';
    const char *q = has_query ? path + plen + 1 : NULL;
    size_t qn = 0;
    if (has_query)
      while (plen + 1 + qn < full && q[qn] != '#') qn++;
    for (size_t i = 0; i < m->nqueries; i++)
      if (!query_matches(&m->queries[i], q, qn, has_query)) return false;
  }
  return true;
}

/* The path condition, from the packed key: the literal (or the regex's
 * literal prefix) is compared from the key's inline head first, so the
 * route itself is read only for long literals and regexes. */
static inline bool path_matches(const mesh__route_key *k, const mesh__route *r, const char *path, size_t plen) {
  size_t n = k->len;
  if (plen < n || (k->kind == MESH__PATH_EXACT && plen != n)) return false;
  size_t h = n < MESH__ROUTE_KEY_INLINE ? n : MESH__ROUTE_KEY_INLINE;
  if (!eq_fold(path, k->head, h, k->fold)) return false;
  if (n > h) {
    const char *lit = k->kind == MESH__PATH_REGEX ? r->match.path_re_prefix.p : r->match.path.p;
    if (!eq_fold(path + h, lit + h, n - h, k->fold)) return false;
  }
  switch (k->kind) {
    case MESH__PATH_PREFIX:
    case MESH__PATH_EXACT:
      return true;
    case MESH__PATH_SEP_PREFIX:
      return plen == n || path[n] == '/';
    case MESH__PATH_REGEX:
      return mesh__regex_match(k->re, path, plen) == 1;
    default:
      return false;
  }
}

const mesh__route *mesh__route_match(const mesh__vhost *vh, const mesh__route_input *in) {
  if (!vh) return NULL;
  const char *path = in->path ? in->path : "";
  size_t full = in->path ? in->path_len : 0;
  size_t plen = path_only_len(path, full);
  const mesh__route_key *k = vh->keys;
  const mesh__route *routes = vh->routes;
  for (size_t i = 0; i < vh->nroutes; i++) {
    if (!path_matches(&k[i], &routes[i], path, plen)) continue;
    /* Likely the answer: fetch its head (action, cluster) while the other
     * conditions are checked. */
    __builtin_prefetch(&routes[i]);
    if (k[i].extra) {
      if (k[i].extra & MESH__KEY_HEADERS) {
        size_t j = 0;
        while (j < k[i].nhdr && header_matches(&k[i].hdr[j], in)) j++;
        if (j < k[i].nhdr) continue;
      }
      if ((k[i].extra & MESH__KEY_OTHER) && !other_matches(&routes[i], in, path, plen, full)) continue;
    }
    return &routes[i];
  }
  return NULL;
}

/* ------------------------------------------------------------ cluster */

/* splitmix64's finalizer: decorrelates the weighted pick from
 * runtime_fraction, which uses the same input value. */
static inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static const char *cluster_from_header(const mesh__route_input *in, const mesh__rstr *name) {
  size_t n = 0;
  const char *v = header_first(in, name->p, name->len, &n);
  return v && n ? v : NULL;
}

const char *mesh__route_cluster(const mesh__route *r, const mesh__route_input *in, const mesh__cluster_weight **cw_out) {
  if (cw_out) *cw_out = NULL;
  if (!r || r->action != MESH__ACTION_ROUTE) return NULL;
  const mesh__route_action *a = &r->route;
  switch (a->cluster_kind) {
    case MESH__CLUSTER_NAME:
      return a->cluster.p;
    case MESH__CLUSTER_HEADER:
      return cluster_from_header(in, &a->cluster);
    case MESH__CLUSTER_WEIGHTED:
      break;
    default:
      return NULL;
  }
  if (a->total_weight == 0 || a->nweights == 0) return NULL;
  uint64_t x = 0;
  bool from_header = false;
  if (a->random_value_header.len) {
    size_t n = 0;
    const char *v = header_first(in, a->random_value_header.p, a->random_value_header.len, &n);
    from_header = v && parse_u64(v, n, &x);
  }
  if (!from_header) x = mix64(in->random);
  x %= a->total_weight;
  for (size_t i = 0; i < a->nweights; i++) {
    const mesh__cluster_weight *w = &a->weights[i];
    if (x >= w->weight) {
      x -= w->weight;
      continue;
    }
    if (cw_out) *cw_out = w;
    return w->cluster_header.len ? cluster_from_header(in, &w->cluster_header) : w->name.p;
  }
  return NULL; /* unreachable when total_weight is the sum */
}

/* ------------------------------------------------------------ rewrites */

typedef struct wbuf {
  char *p;
  size_t len, cap;
  bool overflow;
} wbuf;

static void wput(wbuf *b, const char *s, size_t n) {
  if (b->overflow) return;
  if (n > b->cap - b->len) {
    b->overflow = true;
    return;
  }
  if (n) memcpy(b->p + b->len, s, n);
  b->len += n;
}

bool mesh__route_rewrites_path(const mesh__route *r) {
  return r && r->action == MESH__ACTION_ROUTE && (r->route.prefix_rewrite.len || r->route.regex_rewrite);
}

/* The length of the request path the route's match consumed, for
 * prefix_rewrite: the configured prefix, or the whole path (exact, regex). */
static size_t matched_len(const mesh__route *r, size_t plen) {
  switch (r->match.path_kind) {
    case MESH__PATH_PREFIX:
    case MESH__PATH_SEP_PREFIX:
      return r->match.path.len < plen ? r->match.path.len : plen;
    default:
      return plen;
  }
}

/* path (with query) rewritten by prefix or regex into b. */
static int rewrite_into(wbuf *b, const mesh__route *r, const mesh__rstr *prefix, const mesh__regex *re,
                        const mesh__rstr *sub, const char *path, size_t full) {
  size_t plen = path_only_len(path, full);
  if (prefix && prefix->len) {
    size_t m = matched_len(r, plen);
    wput(b, prefix->p, prefix->len);
    wput(b, path + m, full - m);
    return 0;
  }
  if (re) {
    ptrdiff_t n = mesh__regex_replace(re, path, plen, sub->p, sub->len, b->p + b->len, b->cap - b->len);
    if (n == MESH__RE_ELIMIT) return MESH__ROUTE_ELIMIT;
    if (n < 0) {
      b->overflow = true;
      return 0;
    }
    b->len += (size_t)n;
    wput(b, path + plen, full - plen);
    return 0;
  }
  wput(b, path, full);
  return 0;
}

static ptrdiff_t finish(wbuf *b) {
  if (b->overflow || b->len >= b->cap) return MESH__ROUTE_ETOOSMALL;
  b->p[b->len] = '\0';
  return (ptrdiff_t)b->len;
}

ptrdiff_t mesh__route_rewrite_path(const mesh__route *r, const mesh__route_input *in, char *buf, size_t cap) {
  wbuf b = {buf, 0, cap, false};
  const char *path = in->path ? in->path : "";
  size_t full = in->path ? in->path_len : 0;
  int rc;
  if (r && r->action == MESH__ACTION_ROUTE)
    rc = rewrite_into(&b, r, &r->route.prefix_rewrite, r->route.regex_rewrite, &r->route.regex_sub, path, full);
  else
    rc = rewrite_into(&b, r, NULL, NULL, NULL, path, full);
  if (rc < 0) return rc;
  return finish(&b);
}

static bool scheme_is(const char *s, size_t n, const char *want) {
  size_t k = strlen(want);
  return n == k && mesh__memcaseeq(s, want, k);
}

ptrdiff_t mesh__route_redirect_location(const mesh__route *r, const mesh__route_input *in, char *buf, size_t cap) {
  if (!r || r->action != MESH__ACTION_REDIRECT) return MESH__ROUTE_EINVAL;
  const mesh__redirect *d = &r->redirect;
  wbuf b = {buf, 0, cap, false};
  const char *req_scheme = in->scheme ? in->scheme : "http";
  size_t req_scheme_len = strlen(req_scheme);
  const char *scheme = d->scheme.len ? d->scheme.p : req_scheme;
  size_t scheme_len = d->scheme.len ? d->scheme.len : req_scheme_len;
  wput(&b, scheme, scheme_len);
  wput(&b, "://", 3);
  if (d->host.len) {
    wput(&b, d->host.p, d->host.len);
  } else if (in->authority && in->authority_len) {
    /* processRequestHost: drop the port when a new one is set, or when
     * the scheme changes away from one whose default port it is. */
    const char *h = in->authority;
    size_t n = in->authority_len, end = n;
    if (h[0] == '[') {
      for (size_t i = n; i > 1; i--)
        if (h[i - 2] == ']' && h[i - 1] == ':') {
          end = i - 1;
          break;
        }
    } else {
      for (size_t i = n; i > 0; i--)
        if (h[i - 1] == ':') {
          end = i - 1;
          break;
        }
    }
    if (end < n) {
      const char *port = h + end;
      size_t plen = n - end;
      bool drop = d->port != 0;
      if (!scheme_is(scheme, scheme_len, req_scheme)) {
        drop |= scheme_is(req_scheme, req_scheme_len, "https") && plen == 4 && !memcmp(port, ":443", 4);
        drop |= scheme_is(req_scheme, req_scheme_len, "http") && plen == 3 && !memcmp(port, ":80", 3);
      }
      if (drop) n = end;
    }
    wput(&b, h, n);
  }
  if (d->port) {
    char pb[12];
    size_t k = sizeof pb;
    uint32_t p = d->port;
    do pb[--k] = (char)('0' + p % 10); while ((p /= 10) && k > 1);
    pb[--k] = ':';
    wput(&b, pb + k, sizeof pb - k);
  }
  if (b.overflow) return MESH__ROUTE_ETOOSMALL;
  /* The path goes one byte further in, so a missing leading '/' can be
   * put in front without moving it. */
  size_t at = b.len;
  if (b.cap - b.len < 1) return MESH__ROUTE_ETOOSMALL;
  wbuf pb = {buf + at + 1, 0, b.cap - at - 1, false};
  const char *path = in->path ? in->path : "";
  size_t full = in->path ? in->path_len : 0;
  switch (d->path_kind) {
    case MESH__REDIRECT_PATH_REPLACE:
      wput(&pb, d->path.p, d->path.len);
      if (!d->path_has_query) {
        const char *q = memchr(path, '?', full);
        if (q) wput(&pb, q, (size_t)(path + full - q));
      }
      break;
    case MESH__REDIRECT_PATH_PREFIX: {
      int rc = rewrite_into(&pb, r, &d->path, NULL, NULL, path, full);
      if (rc < 0) return rc;
      break;
    }
    case MESH__REDIRECT_PATH_REGEX: {
      int rc = rewrite_into(&pb, r, NULL, d->regex, &d->regex_sub, path, full);
      if (rc < 0) return rc;
      break;
    }
    default:
      wput(&pb, path, full);
      break;
  }
  if (pb.overflow) return MESH__ROUTE_ETOOSMALL;
  size_t plen = pb.len;
  if (plen > 0 && pb.p[0] == '/') {
    memmove(buf + at, buf + at + 1, plen);
  } else {
    buf[at] = '/';
    plen++;
  }
  if (d->strip_query && !(d->path_kind == MESH__REDIRECT_PATH_REPLACE && d->path_has_query)) {
    const char *q = memchr(buf + at, '?', plen);
    if (q) plen = (size_t)(q - (buf + at));
  }
  b.len = at + plen;
  return finish(&b);
}

/* ------------------------------------------------------------ header mutations */

static size_t mutations(const mesh__route *r, const mesh__cluster_weight *cw, const mesh__header_ops *out[4],
                        bool response) {
  size_t n = 0;
#define OPS(m) (response ? &(m).response : &(m).request)
  if (cw) out[n++] = OPS(cw->headers);
  const mesh__vhost *vh = r->vhost;
  const mesh__route_table *rt = vh ? vh->table : NULL;
  if (rt && vh && rt->most_specific_header_mutations_wins) {
    out[n++] = OPS(rt->headers);
    out[n++] = OPS(vh->headers);
    out[n++] = OPS(r->headers);
  } else {
    out[n++] = OPS(r->headers);
    if (vh) out[n++] = OPS(vh->headers);
    if (rt) out[n++] = OPS(rt->headers);
  }
#undef OPS
  return n;
}

size_t mesh__route_request_mutations(const mesh__route *r, const mesh__cluster_weight *cw,
                                     const mesh__header_ops *out[4]) {
  return mutations(r, cw, out, false);
}

size_t mesh__route_response_mutations(const mesh__route *r, const mesh__cluster_weight *cw,
                                      const mesh__header_ops *out[4]) {
  return mutations(r, cw, out, true);
}

bool mesh__headers_match_any(const mesh__header_matcher *hm, size_t n, const mesh__route_input *in) {
  for (size_t i = 0; i < n; i++)
    if (header_matches(&hm[i], in)) return true;
  return false;
}

bool mesh__headers_match_all(const mesh__header_matcher *hm, size_t n, const mesh__route_input *in) {
  for (size_t i = 0; i < n; i++)
    if (!header_matches(&hm[i], in)) return false;
  return true;
}

const mesh__retry_policy *mesh__route_retry_policy(const mesh__route *r) {
  if (!r) return NULL;
  if (r->action == MESH__ACTION_ROUTE && r->route.retry) return r->route.retry;
  return r->vhost ? r->vhost->retry : NULL;
}

bool mesh__vhost_requires_tls_redirect(const mesh__vhost *vh, const mesh__route_input *in) {
  if (!vh || vh->require_tls == MESH__TLS_NONE) return false;
  const char *s = in->scheme ? in->scheme : "http";
  if (scheme_is(s, strlen(s), "https")) return false;
  if (vh->require_tls == MESH__TLS_EXTERNAL_ONLY) {
    size_t n = 0;
    const char *v = header_first(in, "x-envoy-internal", 16, &n);
    if (v && n == 4 && !memcmp(v, "true", 4)) return false;
  }
  return true;
}
