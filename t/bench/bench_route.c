/*
 * bench_route: route lookup cost, run by `make bench`.
 *
 * Builds a route table the size of a large mesh — 1000 virtual hosts of 10
 * routes each, Istio-like domains (exact names with and without ports,
 * "*.suffix" and "prefix.*" wildcards, one "*"), prefix / exact /
 * separated-prefix / safe_regex paths, header matchers on some routes,
 * one weighted split — then times what the router does per request:
 * virtual host lookup, route match and cluster choice.
 *
 * Requests are generated before timing (random vhost and path, 6-8 request
 * headers each, a few authorities that fall through to "*"); the timed
 * loop prefetches the request a few lookups ahead, as a router's own
 * request is in cache when it routes it (the route table is not). Timing: the
 * monotonic clock is read around batches of BATCH lookups and the batch
 * time divided by BATCH, so the clock's own cost (~20 ns) is spread over
 * the batch instead of dominating one lookup; the per-lookup figure of
 * every batch goes into a sorted sample and p50/p90/p99 are read from it.
 * The process is pinned to one CPU. A warm-up pass runs first (JIT
 * compiled regexes, caches, per-thread match data).
 *
 * Output:
 *   bench: case=route_lookup vhosts=1000 routes_per_vhost=10 p50_ns=... p90_ns=... p99_ns=...
 * Exit status 1 when p50 exceeds TARGET_P50_NS (not in sanitizer builds).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/route.h"
#include "route/match.h"
#include "route/regex.h"

#define NVHOSTS 1000
#define NROUTES 10
#define NREQ 65536
#define BATCH 64
#define NBATCH 40000
#define TARGET_P50_NS 500

#include "sanitized.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static mesh__arena *A;
static mesh__route_table *RT;

static void die(const char *what) {
  fprintf(stderr, "bench_route: %s\n", what);
  exit(2);
}

static mesh__rstr S(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static mesh__rstr S(const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  mesh__rstr r = {mesh__arena_strndup(A, buf, (size_t)n), (size_t)n};
  if (!r.p) die("out of memory");
  return r;
}

/* One compiled regex per distinct pattern, as xds/rds.c shares them. */
static const mesh__regex *RE(const char *pattern) {
  static struct {
    const char *pattern;
    const mesh__regex *re;
  } seen[8];
  static size_t nseen;
  for (size_t i = 0; i < nseen; i++)
    if (!strcmp(seen[i].pattern, pattern)) return seen[i].re;
  char err[200];
  mesh__regex *re = mesh__regex_compile(pattern, strlen(pattern), MESH__RE_FULL, 0, err, sizeof err);
  if (!re) die(err);
  if (mesh__route_table_on_free(RT, mesh__regex_free_cb, re) < 0) die("out of memory");
  if (nseen < sizeof seen / sizeof *seen) seen[nseen].pattern = pattern, seen[nseen++].re = re;
  return re;
}

static mesh__header_matcher *HM(const char *name, int kind, const char *value) {
  mesh__header_matcher *h = mesh__arena_alloc(A, sizeof *h);
  if (!h) die("out of memory");
  h->name = S("%s", name);
  h->source = name[0] == ':' ? MESH__HSRC_METHOD : MESH__HSRC_HEADER;
  h->kind = (uint8_t)kind;
  h->present = true;
  h->sm.kind = MESH__STR_EXACT;
  h->sm.value = S("%s", value ? value : "");
  return h;
}

static void path(mesh__route *r, int kind, const char *p, bool case_sensitive) {
  r->match.path_kind = (uint8_t)kind;
  r->match.case_sensitive = case_sensitive;
  if (kind == MESH__PATH_REGEX) {
    r->match.path = S("%s", "");
    r->match.path_re = RE(p);
    const char *pre;
    size_t n = mesh__regex_prefix(r->match.path_re, &pre);
    r->match.path_re_prefix = S("%.*s", (int)n, pre);
  } else {
    r->match.path = S("%s", p);
  }
}

static void cluster(mesh__route *r, int vh, int k) {
  r->action = MESH__ACTION_ROUTE;
  r->route.cluster_kind = MESH__CLUSTER_NAME;
  r->route.cluster = S("outbound|%d||svc%d-r%d.ns.svc.cluster.local", 8000 + k, vh, k);
  r->route.timeout_ms = MESH__ROUTE_DEFAULT_TIMEOUT_MS;
  r->route.idle_timeout_ms = -1;
}

static void build(void) {
  RT = mesh__route_table_new();
  if (!RT) die("out of memory");
  A = RT->arena;
  RT->name = S("bench");
  RT->vhosts = mesh__arena_calloc(A, NVHOSTS, sizeof *RT->vhosts);
  RT->nvhosts = NVHOSTS;
  for (int i = 0; i < NVHOSTS; i++) {
    mesh__vhost *vh = &RT->vhosts[i];
    vh->name = S("vh%d", i);
    mesh__rstr *d = mesh__arena_calloc(A, 4, sizeof *d);
    size_t nd = 0;
    if (i == NVHOSTS - 1) {
      d[nd++] = S("*");
    } else {
      switch (i % 10) {
        case 6: case 7:
          d[nd++] = S("*.app%d.example.com", i);
          break;
        case 8:
          d[nd++] = S("api%d.*", i);
          break;
        case 9:
          d[nd++] = S("host%d.example.org", i);
          break;
        default: /* Istio-style: FQDN and short name, with and without the port */
          d[nd++] = S("svc%d.ns%d.svc.cluster.local", i, i % 50);
          d[nd++] = S("svc%d.ns%d.svc.cluster.local:8080", i, i % 50);
          d[nd++] = S("svc%d", i);
          d[nd++] = S("svc%d:8080", i);
          break;
      }
    }
    vh->domains = d;
    vh->ndomains = nd;
    mesh__route *r = mesh__arena_calloc(A, NROUTES, sizeof *r);
    if (!r) die("out of memory");
    path(&r[0], MESH__PATH_EXACT, "/healthz", true);
    path(&r[1], MESH__PATH_PREFIX, "/api/v1/users", true);
    r[1].match.headers = HM("x-version", MESH__HDR_STRING, "v2");
    r[1].match.nheaders = 1;
    path(&r[2], MESH__PATH_REGEX, "/api/v1/items/[0-9]+", true);
    path(&r[3], MESH__PATH_PREFIX, "/api/v1/items", true);
    path(&r[4], MESH__PATH_PREFIX, "/static/", false);
    path(&r[5], MESH__PATH_SEP_PREFIX, "/admin", true);
    r[5].match.headers = HM(":method", MESH__HDR_STRING, "GET");
    r[5].match.nheaders = 1;
    path(&r[6], MESH__PATH_REGEX, "/v[0-9]+/orders/[a-z0-9-]+/status", true);
    path(&r[7], MESH__PATH_PREFIX, "/api/v2", true);
    path(&r[8], MESH__PATH_EXACT, "/login", true);
    r[8].match.headers = HM("cookie", MESH__HDR_PRESENT, NULL);
    r[8].match.nheaders = 1;
    path(&r[9], MESH__PATH_PREFIX, "/", true);
    for (int k = 0; k < NROUTES; k++) {
      r[k].name = S("vh%d-r%d", i, k);
      cluster(&r[k], i, k);
    }
    /* route 7: a 90/10 canary split */
    mesh__cluster_weight *w = mesh__arena_calloc(A, 2, sizeof *w);
    w[0].name = S("outbound|8000|v1|svc%d.ns.svc.cluster.local", i);
    w[0].weight = 90;
    w[1].name = S("outbound|8000|v2|svc%d.ns.svc.cluster.local", i);
    w[1].weight = 10;
    w[0].cluster_header = w[1].cluster_header = w[0].host_rewrite_literal = w[1].host_rewrite_literal = S("%s", "");
    r[7].route.cluster_kind = MESH__CLUSTER_WEIGHTED;
    r[7].route.weights = w;
    r[7].route.nweights = 2;
    r[7].route.total_weight = 100;
    vh->routes = r;
    vh->nroutes = NROUTES;
  }
  char err[256];
  if (mesh__route_table_seal(RT, err, sizeof err) < 0) die(err);
}

/* ------------------------------------------------------------ requests */

/* A request as the router sees it: the input plus the strings it points
 * at, in three cache lines; header lists are shared (four variants). */
typedef struct request {
  mesh__route_input in;
  char authority[48];
  char path[48];
} request;

static request *REQ;

static const char *const PATHS[] = {
    "/healthz",
    "/api/v1/users/1234",
    "/api/v1/users/1234?expand=true",
    "/api/v1/items/42",
    "/api/v1/items/abc",
    "/static/app.3f2a.js",
    "/STATIC/logo.png",
    "/admin",
    "/admin/settings",
    "/v2/orders/ab12-cd34/status",
    "/api/v2/cart",
    "/login",
    "/index.html?utm_source=x",
    "/products/9876/reviews",
};
#define NPATHS (sizeof PATHS / sizeof *PATHS)

/* Typical request headers; the last two vary (x-version, cookie). */
static const char *const HNAMES[4][8] = {
    {"user-agent", "accept", "content-type", "x-request-id", "x-b3-traceid", "accept-encoding"},
    {"user-agent", "accept", "content-type", "x-request-id", "x-b3-traceid", "accept-encoding", "x-version"},
    {"user-agent", "accept", "content-type", "x-request-id", "x-b3-traceid", "accept-encoding", "cookie"},
    {"user-agent", "accept", "content-type", "x-request-id", "x-b3-traceid", "accept-encoding", "x-version",
     "cookie"},
};
static const char *const HVALUES[4][8] = {
    {"grpc-go/1.60.1", "*/*", "application/json", "6b7c1f5e-1f0e-4a8b-9a4e-7e1d2c3b4a5f",
     "80f198ee56343ba864fe8b2a57d3eff7", "gzip"},
    {"grpc-go/1.60.1", "*/*", "application/json", "6b7c1f5e-1f0e-4a8b-9a4e-7e1d2c3b4a5f",
     "80f198ee56343ba864fe8b2a57d3eff7", "gzip", "v2"},
    {"grpc-go/1.60.1", "*/*", "application/json", "6b7c1f5e-1f0e-4a8b-9a4e-7e1d2c3b4a5f",
     "80f198ee56343ba864fe8b2a57d3eff7", "gzip", "session=abc"},
    {"grpc-go/1.60.1", "*/*", "application/json", "6b7c1f5e-1f0e-4a8b-9a4e-7e1d2c3b4a5f",
     "80f198ee56343ba864fe8b2a57d3eff7", "gzip", "v2", "session=abc"},
};

static void make_requests(void) {
  REQ = calloc(NREQ, sizeof *REQ);
  if (!REQ) die("out of memory");
  for (int n = 0; n < NREQ; n++) {
    request *q = &REQ[n];
    int i = (int)(rnd() % (NVHOSTS - 1));
    int flavor = (int)(rnd() % 4);
    uint64_t miss = rnd() % 50;
    if (miss == 0) {
      snprintf(q->authority, sizeof q->authority, "unknown%d.example.net", i);
    } else {
      switch (i % 10) {
        case 6: case 7:
          snprintf(q->authority, sizeof q->authority, "www.app%d.example.com", i);
          break;
        case 8:
          snprintf(q->authority, sizeof q->authority, "api%d.internal", i);
          break;
        case 9:
          snprintf(q->authority, sizeof q->authority, "host%d.example.org", i);
          break;
        default:
          if (flavor == 0)
            snprintf(q->authority, sizeof q->authority, "svc%d.ns%d.svc.cluster.local:8080", i, i % 50);
          else if (flavor == 1)
            snprintf(q->authority, sizeof q->authority, "svc%d:8080", i);
          else if (flavor == 2)
            snprintf(q->authority, sizeof q->authority, "svc%d", i);
          else
            snprintf(q->authority, sizeof q->authority, "SVC%d.ns%d.svc.cluster.local:9090", i, i % 50);
          break;
      }
    }
    snprintf(q->path, sizeof q->path, "%s", PATHS[rnd() % NPATHS]);
    int hv = (int)(rnd() % 4);
    q->in.hnames = HNAMES[hv];
    q->in.hvalues = HVALUES[hv];
    q->in.nheaders = hv == 0 ? 6 : hv == 3 ? 8 : 7;
    q->in.method = "GET";
    q->in.scheme = "http";
    q->in.authority = q->authority;
    q->in.authority_len = strlen(q->authority);
    q->in.path = q->path;
    q->in.path_len = strlen(q->path);
    q->in.random = rnd();
  }
}

/* ------------------------------------------------------------ timing */

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uintptr_t sink;

/* What the router does per request: vhost, route, cluster. */
static inline void lookup(const mesh__route_input *in) {
  const mesh__vhost *vh = mesh__route_vhost(RT, in->authority, in->authority_len);
  const mesh__route *r = mesh__route_match(vh, in);
  const char *c = mesh__route_cluster(r, in, NULL);
  sink += (uintptr_t)c;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &set);
  sched_setaffinity(0, sizeof set, &set); /* best effort */

  build();
  make_requests();

  /* Sanity: every request finds a route and a cluster. */
  size_t found = 0;
  for (int n = 0; n < NREQ; n++) {
    const mesh__vhost *vh = mesh__route_vhost(RT, REQ[n].in.authority, REQ[n].in.authority_len);
    const mesh__route *r = mesh__route_match(vh, &REQ[n].in);
    found += mesh__route_cluster(r, &REQ[n].in, NULL) != NULL;
  }
  if (found != NREQ) die("some requests found no cluster");

  for (int n = 0; n < NREQ; n++) lookup(&REQ[n].in); /* warm up */

  double *per = malloc(NBATCH * sizeof *per);
  if (!per) die("out of memory");
  size_t next = 0;
  for (int b = 0; b < NBATCH; b++) {
    uint64_t t0 = now_ns();
    for (int k = 0; k < BATCH; k++) {
      /* The caller has just built its request: keep the input in cache
       * so that the figure is the lookup's, not the harness's. */
      const request *ahead = &REQ[(next + 8) & (NREQ - 1)];
      __builtin_prefetch(ahead);
      __builtin_prefetch((const char *)ahead + 64);
      __builtin_prefetch((const char *)ahead + 128);
      lookup(&REQ[next++ & (NREQ - 1)].in);
    }
    uint64_t t1 = now_ns();
    per[b] = (double)(t1 - t0) / BATCH;
  }
  qsort(per, NBATCH, sizeof *per, cmp_double);
  double p50 = per[NBATCH / 2], p90 = per[NBATCH * 9 / 10], p99 = per[NBATCH * 99 / 100];
  printf("bench: case=route_lookup vhosts=%d routes_per_vhost=%d p50_ns=%.0f p90_ns=%.0f p99_ns=%.0f "
         "batch=%d batches=%d target_p50_ns=%d%s\n",
         NVHOSTS, NROUTES, p50, p90, p99, BATCH, NBATCH, TARGET_P50_NS, SANITIZED ? " sanitized=1" : "");
  fflush(stdout);
  free(per);
  free(REQ);
  mesh__route_table_unref(RT);
  mesh__regex_thread_cleanup();
  if (sink == 1) puts(""); /* keep the lookups */
  if (p50 > TARGET_P50_NS && !SANITIZED) {
    fprintf(stderr, "bench_route: p50 %.0f ns is above the %d ns target\n", p50, TARGET_P50_NS);
    return 1;
  }
  return 0;
}
