/*
 * libFuzzer target for the binary xDS path: protobuf-c decoding of what a
 * control plane sends, the translators (xds/lds.c, rds.c, cds.c) and the
 * snapshot they build (linked as xds/config.c links a file's resources).
 *
 * The first input byte chooses what the rest is:
 *   0  envoy.service.discovery.v3.DiscoveryResponse (every resource it
 *      carries is unpacked by its type URL, translated, then the set is
 *      linked into a snapshot: EDS clusters to their load assignments,
 *      listeners to their RDS route configurations, route clusters checked)
 *   1  envoy.config.listener.v3.Listener
 *   2  envoy.config.route.v3.RouteConfiguration
 *   3  envoy.config.cluster.v3.Cluster
 *   4  envoy.config.endpoint.v3.ClusterLoadAssignment
 * (the byte is taken modulo 5). Whatever was accepted is then used: route
 * lookups and matches, request hashes, path rewrites, redirects, a load
 * balancer built and picked from for every cluster with endpoints, and
 * each resource printed as proto3 JSON as the config dump does.
 *
 * Checks: no crash or sanitizer report; a rejection says why; a success
 * leaves a consistent model (names, endpoint ranges); every protobuf-c
 * allocation is freed through the counting allocator; and, in the
 * standalone replayer without AddressSanitizer, the heap in use after an
 * input equals the heap before it (glibc mallinfo2), so a leak in the
 * translators fails `make check` too. Under libFuzzer, LeakSanitizer does
 * that job.
 *
 * Build for fuzzing: `make fuzz` (clang), then
 *   ./t/fuzz/fuzz_xds -max_total_time=600 t/fuzz/corpus/xds
 * The plain corpus replayer (t/fuzz/replay_xds, built by `make check`) is
 * the same file compiled with -DMESH_FUZZ_STANDALONE:
 *   ./t/fuzz/replay_xds t/fuzz/corpus/xds     (files or directories)
 */
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envoy/config/cluster/v3/cluster.pb-c.h"
#include "envoy/config/endpoint/v3/endpoint.pb-c.h"
#include "envoy/config/listener/v3/listener.pb-c.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "envoy/service/discovery/v3/discovery.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "lb/lb.h"
#include "model/cluster.h"
#include "model/notes.h"
#include "model/route.h"
#include "model/snapshot.h"
#include "route/hash.h"
#include "route/match.h"
#include "xds/cds.h"
#include "xds/lds.h"
#include "xds/pbjson.h"
#include "xds/rds.h"
#include "xds/registry.h"

#define FUZZ_MAX_INPUT (1024 * 1024)
#define FUZZ_MAX_RESOURCES 64

#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif

static void die(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_xds: %s\n%s\n", what, detail ? detail : "");
  abort();
}

typedef struct counting {
  ProtobufCAllocator a;
  long live;
} counting;

static void *c_alloc(void *ud, size_t n) {
  ((counting *)ud)->live++;
  return malloc(n);
}

static void c_free(void *ud, void *p) {
  if (p) ((counting *)ud)->live--;
  free(p);
}

static void check_err(const char *err, const char *what) {
  if (memchr(err, '\0', 512) == NULL) die("error not terminated", what);
  if (err[0] == '\0') die("a rejection without a reason", what);
}

static void check_notes(const mesh__notes *n) {
  if (n->n > 100000) die("unbounded notes", NULL);
  for (size_t i = 0; i < n->n; i++)
    if (!n->v[i] || !n->v[i][0]) die("empty note", NULL);
}

/* ---- using what was accepted ---- */

static void check_la(const mesh__load_assignment *la) {
  if (!la) return;
  if (!la->sealed) die("load assignment not sealed", NULL);
  for (size_t i = 0; i < la->n_endpoints; i++) {
    const mesh__endpoint *e = &la->endpoints[i];
    if (!e->address || e->port == 0) die("endpoint without an address or port", NULL);
    if (e->locality >= la->n_localities) die("endpoint names no locality", NULL);
    if (e->weight == 0) die("endpoint weight 0", NULL);
  }
  for (size_t i = 0; i < la->n_localities; i++) {
    const mesh__locality *l = &la->localities[i];
    if ((uint64_t)l->first + l->count > la->n_endpoints) die("locality range out of bounds", NULL);
  }
}

static void use_cluster(const mesh__cluster *c, const mesh__load_assignment *la) {
  if (!c->name) die("cluster without a name", NULL);
  check_la(c->load_assignment);
  check_la(la);
  if (!la) la = c->load_assignment;
  if (!la) return;
  const mesh__lb_vtable *vt = mesh__lb_vtable_for(c->lb_policy);
  if (!vt) return;
  mesh__lb *lb = NULL;
  if (vt->create(c, la, 0, &lb) != 0) return;
  mesh__lb_ctx ctx = {0x9e3779b97f4a7c15ull, 1, 12345};
  for (int i = 0; i < 8; i++) {
    ctx.hash = ctx.hash * 6364136223846793005ull + 1442695040888963407ull;
    ctx.random = ctx.hash >> 7;
    int ep = mesh__lb_pick(lb, &ctx);
    if (ep >= 0) {
      if ((size_t)ep >= la->n_endpoints) die("picked endpoint out of range", NULL);
      mesh__lb_release(lb, ep, i & 1 ? MESH__LB_FAILED : MESH__LB_OK);
    }
  }
  if (la->n_endpoints > 0) {
    mesh__lb_set_ejected(lb, 0, true);
    int ep = mesh__lb_pick(lb, &ctx);
    if (ep >= 0) mesh__lb_release(lb, ep, MESH__LB_OK);
    mesh__lb_set_ejected(lb, 0, false);
  }
  mesh__lb_destroy(lb);
}

static void use_routes(const mesh__route_table *rt) {
  static const char *const authorities[] = {"", "a", "example.com", "example.com:8080", "foo.bar.svc.cluster.local:80",
                                            "[::1]:443", "*"};
  static const char *const paths[] = {"/", "/api/v1/users?id=1", "/grpc.health.v1.Health/Check", "//x/../y#f", "/%2F"};
  static const char *const hn[] = {"content-type", "x-user", "cookie", "x-envoy-internal"};
  static const char *const hv[] = {"application/grpc", "alice", "session=abc; v=1", "true"};
  if (!mesh__route_table_name(rt)) die("route table without a name", NULL);
  for (size_t a = 0; a < sizeof authorities / sizeof *authorities; a++) {
    const mesh__vhost *vh = mesh__route_vhost(rt, authorities[a], strlen(authorities[a]));
    for (size_t p = 0; p < sizeof paths / sizeof *paths; p++) {
      mesh__route_input in = {"GET", "http", authorities[a], paths[p], strlen(authorities[a]), strlen(paths[p]),
                              hn, hv, NULL, (a & 1) ? 4 : 0, (uint64_t)(a * 7919 + p * 104729)};
      (void)mesh__vhost_requires_tls_redirect(vh, &in);
      const mesh__route *r = mesh__route_match(vh, &in);
      if (!r) continue;
      const mesh__cluster_weight *cw = NULL;
      (void)mesh__route_cluster(r, &in, &cw);
      uint64_t h;
      if (r->action == MESH__ACTION_ROUTE) (void)mesh__route_hash(&r->route, &in, (a & 2) ? "10.1.2.3" : NULL, &h);
      char buf[512];
      ptrdiff_t n = mesh__route_rewrite_path(r, &in, buf, sizeof buf);
      if (n >= 0 && ((size_t)n >= sizeof buf || strlen(buf) != (size_t)n)) die("rewrite length", NULL);
      n = mesh__route_redirect_location(r, &in, buf, sizeof buf);
      if (n >= 0 && ((size_t)n >= sizeof buf || strlen(buf) != (size_t)n)) die("redirect length", NULL);
      const mesh__header_ops *ops[4];
      if (mesh__route_request_mutations(r, cw, ops) > 4 || mesh__route_response_mutations(r, cw, ops) > 4)
        die("too many mutation sets", NULL);
      (void)mesh__route_retry_policy(r);
    }
  }
}

/* ---- one resource, alone ---- */

static void one_resource(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t size) {
  counting c = {{c_alloc, c_free, NULL}, 0};
  c.a.allocator_data = &c;
  ProtobufCMessage *m = protobuf_c_message_unpack(d, &c.a, size, data);
  if (!m) {
    if (c.live != 0) die("unpack leaked on failure", d->name);
    return;
  }
  char err[512];
  memset(err, 0x55, sizeof err);
  mesh__notes notes;
  mesh__notes_init(&notes);
  if (d == &envoy__config__listener__v3__listener__descriptor) {
    mesh__arena *a = mesh__arena_new(0);
    if (!a) die("out of memory", NULL);
    mesh__listener l;
    if (mesh__lds_translate((const Envoy__Config__Listener__V3__Listener *)m, a, &l, err, sizeof err, &notes) < 0) {
      check_err(err, d->name);
    } else {
      if (!l.name) die("listener without a name", NULL);
      if (!l.rt && !l.rds_name) die("listener with neither routes nor an RDS name", NULL);
      if (l.rt) use_routes(l.rt);
      mesh__listener_release(&l);
    }
    mesh__arena_free(a);
  } else if (d == &envoy__config__route__v3__route_configuration__descriptor) {
    mesh__route_table *rt = NULL;
    if (mesh__rds_translate((const Envoy__Config__Route__V3__RouteConfiguration *)m, &rt, err, sizeof err, &notes) < 0) {
      check_err(err, d->name);
      if (rt) die("route table set on failure", NULL);
    } else {
      use_routes(rt);
      mesh__route_table_unref(rt);
    }
  } else if (d == &envoy__config__cluster__v3__cluster__descriptor) {
    mesh__cluster *cl = NULL;
    if (mesh__cds_translate((const Envoy__Config__Cluster__V3__Cluster *)m, &cl, err, sizeof err, &notes) < 0) {
      check_err(err, d->name);
      if (cl) die("cluster set on failure", NULL);
    } else {
      use_cluster(cl, NULL);
      mesh__cluster_unref(cl);
    }
  } else {
    mesh__load_assignment *la = NULL;
    if (mesh__eds_translate((const Envoy__Config__Endpoint__V3__ClusterLoadAssignment *)m, &la, err, sizeof err,
                            &notes) < 0) {
      check_err(err, d->name);
      if (la) die("load assignment set on failure", NULL);
    } else {
      check_la(la);
      /* Pick from it with a default (round robin) cluster. */
      mesh__cluster *cl = mesh__cluster_new();
      if (!cl) die("out of memory", NULL);
      use_cluster(cl, la);
      mesh__cluster_unref(cl);
      mesh__load_assignment_unref(la);
    }
  }
  check_notes(&notes);
  mesh__notes_free(&notes);
  protobuf_c_message_free_unpacked(m, &c.a);
  if (c.live != 0) die("protobuf-c allocations not freed", d->name);
}

/* ---- a DiscoveryResponse, linked into a snapshot as xds/config.c does ---- */


static bool is_resource_type(const ProtobufCMessageDescriptor *d) {
  return d == &envoy__config__listener__v3__listener__descriptor ||
         d == &envoy__config__route__v3__route_configuration__descriptor ||
         d == &envoy__config__cluster__v3__cluster__descriptor ||
         d == &envoy__config__endpoint__v3__cluster_load_assignment__descriptor;
}

/* Translate and link msgs[0..n) as xds/config.c's translate_all does: 0
 * or -1 (rejected), *out on success. Where config.c refuses a set that
 * does not link up (a missing route configuration, load assignment or
 * cluster), this goes on with what it has, so that more of the model is
 * used below. */
static int build_snapshot(ProtobufCMessage **msgs, size_t n, mesh__snapshot **out) {
  mesh__snapshot *s = calloc(1, sizeof *s);
  if (!s || !(s->arena = mesh__arena_new(0))) die("out of memory", NULL);
  s->refs = 1;
  mesh__arena *a = s->arena;
  s->version = "fuzz";
  s->origin = "fuzz";
  s->listeners = mesh__arena_calloc(a, n + 1, sizeof *s->listeners);
  s->routes = mesh__arena_calloc(a, n + 1, sizeof *s->routes);
  s->clusters = mesh__arena_calloc(a, n + 1, sizeof *s->clusters);
  s->resources = mesh__arena_calloc(a, n + 1, sizeof *s->resources);
  const Envoy__Config__Endpoint__V3__ClusterLoadAssignment *clas[FUZZ_MAX_RESOURCES];
  size_t ncla = 0;
  if (!s->listeners || !s->routes || !s->clusters || !s->resources) die("out of memory", NULL);
  mesh__pbjson_opts jopts = {mesh__pb_find, 0, 0, NULL};
  char err[512];
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    const ProtobufCMessage *m = msgs[i];
    const char *name = mesh__xds_resource_name(m);
    mesh__notes notes;
    mesh__notes_init(&notes);
    if (!name || !*name) { /* config.c: "name is required" */
      rc = -1;
      break;
    }
    for (size_t j = 0; j < i && rc == 0; j++)
      if (msgs[j]->descriptor == m->descriptor && !strcmp(mesh__xds_resource_name(msgs[j]), name)) rc = -1;
    if (rc) break;
    memset(err, 0x55, sizeof err);
    if (m->descriptor == &envoy__config__listener__v3__listener__descriptor) {
      mesh__listener *l = &s->listeners[s->nlisteners];
      if (mesh__lds_translate((const Envoy__Config__Listener__V3__Listener *)m, a, l, err, sizeof err, &notes) < 0) {
        check_err(err, "Listener");
        rc = -1;
      } else {
        s->nlisteners++;
      }
    } else if (m->descriptor == &envoy__config__route__v3__route_configuration__descriptor) {
      mesh__route_table *rt = NULL;
      if (mesh__rds_translate((const Envoy__Config__Route__V3__RouteConfiguration *)m, &rt, err, sizeof err, &notes) <
          0) {
        check_err(err, "RouteConfiguration");
        rc = -1;
      } else {
        s->routes[s->nroutes].name = mesh__arena_strdup(a, name);
        s->routes[s->nroutes++].rt = rt;
      }
    } else if (m->descriptor == &envoy__config__cluster__v3__cluster__descriptor) {
      mesh__cluster *c = NULL;
      if (mesh__cds_translate((const Envoy__Config__Cluster__V3__Cluster *)m, &c, err, sizeof err, &notes) < 0) {
        check_err(err, "Cluster");
        rc = -1;
      } else {
        s->clusters[s->nclusters].name = mesh__arena_strdup(a, name);
        s->clusters[s->nclusters++].cluster = c;
      }
    } else {
      clas[ncla++] = (const Envoy__Config__Endpoint__V3__ClusterLoadAssignment *)m;
    }
    check_notes(&notes);
    /* The config dump prints each resource as it came. */
    mesh__resource *r = &s->resources[s->nresources++];
    r->name = mesh__arena_strdup(a, name);
    r->json = mesh__pbjson_encode(m, &jopts, 2);
    mesh__notes_free(&notes);
  }
  mesh__notes notes;
  mesh__notes_init(&notes);
  for (size_t i = 0; rc == 0 && i < s->nclusters; i++) {
    mesh__cluster_entry *ce = &s->clusters[i];
    if (ce->cluster->type != MESH__DISCOVERY_EDS) continue;
    const char *want = ce->cluster->eds_service_name;
    if (!want || !*want) want = ce->name;
    for (size_t k = 0; k < ncla; k++) {
      if (strcmp(clas[k]->cluster_name, want) != 0) continue;
      if (mesh__eds_translate(clas[k], &ce->la, err, sizeof err, &notes) < 0) {
        check_err(err, "ClusterLoadAssignment");
        rc = -1;
      }
      break;
    }
  }
  for (size_t i = 0; rc == 0 && i < s->nlisteners; i++) {
    mesh__listener *l = &s->listeners[i];
    if (l->rt || !l->rds_name) continue;
    for (size_t k = 0; k < s->nroutes; k++)
      if (!strcmp(s->routes[k].name, l->rds_name)) {
        l->rt = mesh__route_table_ref(s->routes[k].rt);
        break;
      }
  }
  if (mesh__snapshot_index(s) < 0) die("out of memory", NULL);
  for (size_t i = 0; rc == 0 && i < s->nlisteners + s->nroutes; i++) {
    const mesh__route_table *rt = i < s->nlisteners ? s->listeners[i].rt : s->routes[i - s->nlisteners].rt;
    const char *missing = NULL;
    if (rt && mesh__route_table_check_clusters(rt, s, &missing) < 0 && !missing) die("missing cluster unnamed", NULL);
  }
  check_notes(&notes);
  mesh__notes_free(&notes);
  for (size_t i = 0; i < s->nresources; i++) free(s->resources[i].json);
  s->nresources = 0;
  if (rc != 0) {
    mesh__snapshot_unref(s);
    return -1;
  }
  *out = s;
  return 0;
}

static void use_snapshot(const mesh__snapshot *s) {
  for (size_t i = 0; i < s->nlisteners; i++) {
    const mesh__listener *l = &s->listeners[i];
    if (mesh__snapshot_listener(s, l->name, strlen(l->name)) == NULL) die("listener not found by its name", l->name);
    if (l->rt) use_routes(l->rt);
  }
  for (size_t i = 0; i < s->nroutes; i++) use_routes(s->routes[i].rt);
  for (size_t i = 0; i < s->nclusters; i++) {
    const mesh__cluster_entry *ce = &s->clusters[i];
    if (mesh__snapshot_cluster(s, ce->name, strlen(ce->name)) < 0) die("cluster not found by its name", ce->name);
    use_cluster(ce->cluster, ce->la);
  }
  (void)mesh__snapshot_listener(s, "example.com:80", 14);
  (void)mesh__snapshot_listener(s, "x:99999", 7);
}

static void discovery_response(const uint8_t *data, size_t size) {
  counting c = {{c_alloc, c_free, NULL}, 0};
  c.a.allocator_data = &c;
  Envoy__Service__Discovery__V3__DiscoveryResponse *dr = envoy__service__discovery__v3__discovery_response__unpack(
      &c.a, size, data);
  if (!dr) {
    if (c.live != 0) die("unpack leaked on failure", "DiscoveryResponse");
    return;
  }
  ProtobufCMessage *msgs[FUZZ_MAX_RESOURCES];
  size_t n = 0;
  for (size_t i = 0; i < dr->n_resources && n < FUZZ_MAX_RESOURCES; i++) {
    const Google__Protobuf__Any *any = dr->resources[i];
    if (!any->type_url) continue;
    const ProtobufCMessageDescriptor *d = mesh__pb_find(any->type_url, strlen(any->type_url));
    Envoy__Service__Discovery__V3__Resource *wrap = NULL;
    if (d == &envoy__service__discovery__v3__resource__descriptor) {
      /* A resource wrapped in a discovery Resource (TTL, aliases): one level. */
      wrap = envoy__service__discovery__v3__resource__unpack(&c.a, any->value.len, any->value.data);
      any = wrap ? wrap->resource : NULL;
      d = any && any->type_url ? mesh__pb_find(any->type_url, strlen(any->type_url)) : NULL;
    }
    ProtobufCMessage *m = d && is_resource_type(d) ? protobuf_c_message_unpack(d, &c.a, any->value.len, any->value.data)
                                                  : NULL;
    if (m) msgs[n++] = m;
    if (wrap) envoy__service__discovery__v3__resource__free_unpacked(wrap, &c.a);
  }
  /* Each alone (the ADS client applies valid resources of a NACKed
   * response one by one), then the whole set as one snapshot. */
  for (size_t i = 0; i < n; i++) {
    size_t len = protobuf_c_message_get_packed_size(msgs[i]);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) die("out of memory", NULL);
    if (protobuf_c_message_pack(msgs[i], buf) != len) die("pack size", NULL);
    one_resource(msgs[i]->descriptor, buf, len);
    free(buf);
  }
  mesh__snapshot *s = NULL;
  if (build_snapshot(msgs, n, &s) == 0) {
    use_snapshot(s);
    mesh__snapshot_unref(s);
  }
  for (size_t i = 0; i < n; i++) protobuf_c_message_free_unpacked(msgs[i], &c.a);
  envoy__service__discovery__v3__discovery_response__free_unpacked(dr, &c.a);
  if (c.live != 0) die("protobuf-c allocations not freed", "DiscoveryResponse");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > FUZZ_MAX_INPUT) return 0;
  switch (data[0] % 5) {
  case 0: discovery_response(data + 1, size - 1); break;
  case 1: one_resource(&envoy__config__listener__v3__listener__descriptor, data + 1, size - 1); break;
  case 2: one_resource(&envoy__config__route__v3__route_configuration__descriptor, data + 1, size - 1); break;
  case 3: one_resource(&envoy__config__cluster__v3__cluster__descriptor, data + 1, size - 1); break;
  default: one_resource(&envoy__config__endpoint__v3__cluster_load_assignment__descriptor, data + 1, size - 1); break;
  }
  return 0;
}

#ifdef MESH_FUZZ_STANDALONE
#include <unistd.h>

/* mallinfo2 counts chunks parked in glibc's per-thread cache as in use,
 * so the count is exact only with that cache off: main() re-executes
 * itself with it off. */
#define NO_TCACHE "glibc.malloc.tcache_count=0"

static size_t heap_in_use(void) {
#ifdef FUZZ_ASAN
  return 0; /* LeakSanitizer reports leaks at exit instead */
#else
  const char *t = getenv("GLIBC_TUNABLES");
  if (!t || strcmp(t, NO_TCACHE) != 0) return 0;
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
#endif
}

/* Twice: the first run may leave one-time state (stdio, regex caches);
 * the second must leave the heap as it found it. */
static int replay_twice(const uint8_t *buf, size_t len, const char *path) {
  LLVMFuzzerTestOneInput(buf, len);
  size_t before = heap_in_use();
  LLVMFuzzerTestOneInput(buf, len);
  size_t after = heap_in_use();
  if (after == before) return 0;
  fprintf(stderr, "fuzz_xds: %s: heap in use grew by %zd bytes (a leak)\n", path, (ssize_t)(after - before));
  return -1;
}
#define FUZZ_REPLAY_ONE(buf, len, path) replay_twice((buf), (len), (path))
#include "replay.h"

int main(int argc, char **argv) {
#ifndef FUZZ_ASAN
  const char *t = getenv("GLIBC_TUNABLES");
  if (!t && setenv("GLIBC_TUNABLES", NO_TCACHE, 1) == 0) {
    execv("/proc/self/exe", argv);
    unsetenv("GLIBC_TUNABLES"); /* no exec: replay without the leak check */
  }
#endif
  return fuzz_replay_main("fuzz_xds", argc, argv);
}
#endif
