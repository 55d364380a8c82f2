/* Config file and routing, end to end: real upstreams on loopback, a real
 * config file on disk, calls through the public API. */
#include <criterion/criterion.h>
#include <event2/event.h>
#include <mesh/mesh.h>
#include <mesh/mesh_event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

static upstream up1, up2;
static char cfg_path[256];

static void setup(void) {
  cr_assert_eq(upstream_start(&up1), 0);
  cr_assert_eq(upstream_start(&up2), 0);
  snprintf(cfg_path, sizeof cfg_path, "/tmp/mesh-test-config-%d/mesh.yaml", (int)getpid());
  char dir[256];
  snprintf(dir, sizeof dir, "/tmp/mesh-test-config-%d", (int)getpid());
  mkdir_p(dir);
}

static void teardown(void) {
  upstream_stop(&up1);
  upstream_stop(&up2);
  unlink(cfg_path);
}

TestSuite(config, .init = setup, .fini = teardown, .timeout = 60);

/* A listener for web.mesh with a weighted split, two STATIC clusters. */
static void write_split(const char *path, int w1, int w2, const char *version_header) {
  char text[4096];
  snprintf(text, sizeof text,
           "# written by test_config\n"
           "static_resources:\n"
           "  listeners:\n"
           "  - name: web.mesh\n"
           "    api_listener:\n"
           "      api_listener:\n"
           "        \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager\n"
           "        stat_prefix: web\n"
           "        route_config:\n"
           "          name: web\n"
           "          virtual_hosts:\n"
           "          - name: web\n"
           "            domains: [\"web.mesh\"]\n"
           "            routes:\n"
           "            - name: split\n"
           "              match: {prefix: \"/\"}\n"
           "              request_headers_to_add:\n"
           "              - header: {key: x-echo-version, value: \"%s\"}\n"
           "              route:\n"
           "                weighted_clusters:\n"
           "                  clusters:\n"
           "                  - {name: v1, weight: %d}\n"
           "                  - {name: v2, weight: %d}\n"
           "  clusters:\n"
           "  - name: v1\n"
           "    type: STATIC\n"
           "    connectTimeout: 1s\n"
           "    load_assignment:\n"
           "      cluster_name: v1\n"
           "      endpoints:\n"
           "      - lb_endpoints:\n"
           "        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}\n"
           "  - name: v2\n"
           "    type: STATIC\n"
           "    connect_timeout: 1s\n"
           "    load_assignment:\n"
           "      cluster_name: v2\n"
           "      endpoints:\n"
           "      - lb_endpoints:\n"
           "        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}\n",
           version_header, w1, w2, up1.port, up2.port);
  write_file_atomic(path, text);
}

typedef struct counts {
  int done, ok, fail, v1, v2;
  int versions[16];
  char last_err[256];
  int outstanding;
} counts;

static void on_split(const mesh_response *r, void *ud) {
  counts *c = ud;
  c->done++;
  c->outstanding--;
  if (mesh_response_error(r) != MESH_OK || mesh_response_status(r) != 200) {
    c->fail++;
    snprintf(c->last_err, sizeof c->last_err, "%s: %s", mesh_strerror(mesh_response_error(r)),
             mesh_response_detail(r));
    return;
  }
  c->ok++;
  const char *cl = mesh_response_cluster(r);
  if (cl && !strcmp(cl, "v1")) c->v1++;
  if (cl && !strcmp(cl, "v2")) c->v2++;
  const char *v = mesh_response_header(r, "x-echo-version");
  if (v) {
    int n = atoi(v);
    if (n >= 0 && n < 16) c->versions[n]++;
  }
}

static mesh *attached_with_config(struct event_base *eb, const char *path, int *logs) {
  mesh_options *o;
  mesh *m = NULL;
  mesh_options_new(&o);
  mesh_options_set_event_base(o, eb);
  mesh_options_set_config_file(o, path);
  if (logs) mesh_options_set_log_callback(o, count_log, logs);
  int rc = mesh_new(&m, o);
  mesh_options_free(o);
  cr_assert_eq(rc, MESH_OK, "mesh_new: %s", mesh_strerror(rc));
  return m;
}

Test(config, weighted_split_80_20_within_2_percent) {
  write_split(cfg_path, 80, 20, "0");
  struct event_base *eb = event_base_new();
  mesh *m = attached_with_config(eb, cfg_path, NULL);
  mesh_request *req;
  cr_assert_eq(mesh_request_new(&req, "GET", "http://web.mesh/split"), MESH_OK);
  counts c = {0};
  enum { N = 10000, INFLIGHT = 64 };
  int started = 0;
  while (c.done < N) {
    while (started < N && c.outstanding < INFLIGHT) {
      cr_assert_eq(mesh_call_start(m, req, on_split, &c, NULL), MESH_OK);
      started++;
      c.outstanding++;
    }
    event_base_loop(eb, EVLOOP_ONCE);
  }
  cr_assert_eq(c.fail, 0, "%d failed, last: %s", c.fail, c.last_err);
  double share = (double)c.v1 / N;
  cr_expect(share > 0.78 && share < 0.82, "v1 got %.2f%% of %d calls", share * 100, N);
  cr_expect_eq(c.v1 + c.v2, N);
  mesh_request_free(req);
  mesh_free(m);
  event_base_free(eb);
}

/* The file changes 10 times (2 of them invalid) under 1000 calls/s for
 * 10 s: no call fails, invalid versions are rejected with a reason, the
 * valid ones apply. */
typedef struct reload_ctx {
  struct event_base *eb;
  mesh *m;
  mesh_request *req;
  counts c;
  int tick;
  int version;
  struct event *timer;
} reload_ctx;

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  reload_ctx *x = arg;
  (void)fd;
  (void)what;
  /* 1000 calls/s: 10 per 10 ms tick. */
  for (int i = 0; i < 10; i++) {
    cr_assert_eq(mesh_call_start(x->m, x->req, on_split, &x->c, NULL), MESH_OK);
    x->c.outstanding++;
  }
  x->tick++;
  if (x->tick % 100 == 50 && x->version < 10) {
    x->version++;
    char v[16];
    snprintf(v, sizeof v, "%d", x->version);
    if (x->version == 3 || x->version == 7) {
      /* invalid: a route to a cluster that does not exist */
      write_file_atomic(cfg_path, "static_resources:\n  listeners:\n  - name: web.mesh\n"
                                  "    api_listener:\n      api_listener:\n"
                                  "        \"@type\": type.googleapis.com/envoy.extensions.filters.network."
                                  "http_connection_manager.v3.HttpConnectionManager\n"
                                  "        route_config:\n          virtual_hosts:\n          - name: w\n"
                                  "            domains: [\"*\"]\n            routes:\n"
                                  "            - match: {prefix: \"/\"}\n              route: {cluster: nowhere}\n");
    } else {
      write_split(cfg_path, x->version % 2 ? 50 : 80, x->version % 2 ? 50 : 20, v);
    }
  }
  if (x->tick >= 1000) {
    event_del(x->timer);
    return;
  }
}

static void count_log_errors(int level, const char *msg, void *ud) {
  reload_ctx *x = ud;
  (void)x;
  if (level >= MESH_LOG_WARN) fprintf(stderr, "log: %s\n", msg);
}

Test(config, hot_reload_under_load_without_failures, .timeout = 60) {
  write_split(cfg_path, 80, 20, "0");
  reload_ctx x;
  memset(&x, 0, sizeof x);
  x.eb = event_base_new();
  int logs = 0;
  x.m = attached_with_config(x.eb, cfg_path, &logs);
  (void)count_log_errors;
  cr_assert_eq(mesh_request_new(&x.req, "GET", "http://web.mesh/reload"), MESH_OK);
  x.timer = event_new(x.eb, -1, EV_PERSIST, on_tick, &x);
  struct timeval tv = {0, 10000};
  event_add(x.timer, &tv);
  while (x.tick < 1000 || x.c.outstanding > 0) event_base_loop(x.eb, EVLOOP_ONCE);
  cr_expect_eq(x.c.fail, 0, "%d calls failed, last: %s", x.c.fail, x.c.last_err);
  cr_expect_geq(x.c.done, 9900, "only %d calls ran", x.c.done);
  /* every valid version served calls; the invalid ones never did */
  for (int v = 0; v <= 10; v++) {
    if (v == 3 || v == 7) cr_expect_eq(x.c.versions[v], 0, "invalid version %d served calls", v);
    else cr_expect_gt(x.c.versions[v], 0, "version %d never applied", v);
  }
  cr_expect_geq(logs, 2, "each rejected version is logged");
  char *dump = NULL;
  cr_assert_eq(mesh_config_dump(x.m, &dump), MESH_OK);
  cr_expect(strstr(dump, "\"rejected\": 2") != NULL, "dump counts rejections: %s", dump);
  cr_expect(strstr(dump, "\"accepted\": 9") != NULL, "dump counts accepted updates: %s", dump);
  mesh_string_free(dump);
  event_free(x.timer);
  mesh_request_free(x.req);
  mesh_free(x.m);
  event_base_free(x.eb);
}

Test(config, invalid_file_fails_mesh_new_with_a_reason) {
  write_file_atomic(cfg_path, "static_resources:\n  clusters:\n  - name: c\n    type: STATIC\n"
                              "    connect_timeout: 5\n");
  char err[512] = "";
  cr_expect_eq(mesh_config_check_file(cfg_path, err, sizeof err), MESH_ECONFIG);
  cr_expect(strstr(err, "connect_timeout") != NULL, "reason names the field: %s", err);
  cr_expect(strstr(err, cfg_path) != NULL, "reason names the file: %s", err);
  mesh_options *o;
  mesh *m = NULL;
  int logs = 0;
  mesh_options_new(&o);
  mesh_options_set_config_file(o, cfg_path);
  mesh_options_set_log_callback(o, count_log, &logs);
  cr_expect_eq(mesh_new(&m, o), MESH_ECONFIG);
  cr_expect_null(m);
  cr_expect_geq(logs, 1);
  mesh_options_free(o);
  cr_expect_eq(mesh_config_check_file("/nonexistent/mesh.yaml", err, sizeof err), MESH_ECONFIG);
}

static int sync_call(mesh *m, const char *url, mesh_response **out) {
  mesh_request *req;
  cr_assert_eq(mesh_request_new(&req, "GET", url), MESH_OK);
  int rc = mesh_call_sync(m, req, out);
  mesh_request_free(req);
  return rc;
}

Test(config, routes_direct_response_redirect_and_no_route) {
  char text[4096];
  snprintf(text, sizeof text,
           "version_info: \"7\"\n"
           "resources:\n"
           "- \"@type\": type.googleapis.com/envoy.config.listener.v3.Listener\n"
           "  name: api.mesh\n"
           "  apiListener:\n"
           "    apiListener:\n"
           "      \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager\n"
           "      rds: {route_config_name: api, config_source: {ads: {}}}\n"
           "- \"@type\": type.googleapis.com/envoy.config.route.v3.RouteConfiguration\n"
           "  name: api\n"
           "  virtual_hosts:\n"
           "  - name: api\n"
           "    domains: [\"api.mesh\"]\n"
           "    routes:\n"
           "    - match: {path: \"/health\"}\n"
           "      direct_response: {status: 204}\n"
           "    - match: {prefix: \"/old/\"}\n"
           "      redirect: {prefix_rewrite: \"/new/\", response_code: FOUND}\n"
           "    - match: {prefix: \"/api/\", headers: [{name: x-canary, present_match: true}]}\n"
           "      route: {cluster: backend, prefix_rewrite: \"/canary/\"}\n"
           "    - match: {prefix: \"/api/\"}\n"
           "      route: {cluster: backend}\n"
           "- \"@type\": type.googleapis.com/envoy.config.cluster.v3.Cluster\n"
           "  name: backend\n"
           "  type: STRICT_DNS\n"
           "  load_assignment:\n"
           "    cluster_name: backend\n"
           "    endpoints:\n"
           "    - lb_endpoints:\n"
           "      - endpoint: {address: {socket_address: {address: localhost, port_value: %d}}}\n",
           up1.port);
  write_file_atomic(cfg_path, text);
  mesh_options *o;
  mesh *m;
  mesh_options_new(&o);
  mesh_options_set_config_file(o, cfg_path);
  cr_assert_eq(mesh_new(&m, o), MESH_OK);
  mesh_options_free(o);
  mesh_response *r;
  cr_assert_eq(sync_call(m, "http://api.mesh/health", &r), MESH_OK);
  cr_expect_eq(mesh_response_status(r), 204, "%s", mesh_response_detail(r));
  mesh_response_free(r);
  cr_assert_eq(sync_call(m, "http://api.mesh/old/x?y=1", &r), MESH_OK);
  cr_expect_eq(mesh_response_status(r), 302);
  cr_expect_str_eq(mesh_response_header(r, "location"), "http://api.mesh/new/x?y=1");
  mesh_response_free(r);
  cr_assert_eq(sync_call(m, "http://api.mesh/api/v?size=3", &r), MESH_OK);
  cr_expect_eq(mesh_response_status(r), 200, "%s", mesh_response_detail(r));
  cr_expect_str_eq(mesh_response_header(r, "x-req-path"), "/api/v?size=3");
  cr_expect_str_eq(mesh_response_header(r, "x-req-authority"), "api.mesh");
  cr_expect_str_eq(mesh_response_cluster(r), "backend");
  mesh_response_free(r);
  mesh_request *req;
  mesh_request_new(&req, "GET", "http://api.mesh/api/v");
  mesh_request_add_header(req, "x-canary", "1");
  cr_assert_eq(mesh_call_sync(m, req, &r), MESH_OK);
  cr_expect_str_eq(mesh_response_header(r, "x-req-path"), "/canary/v");
  mesh_response_free(r);
  mesh_request_free(req);
  cr_assert_eq(sync_call(m, "http://api.mesh/nothing", &r), MESH_OK);
  cr_expect_eq(mesh_response_error(r), MESH_ENOROUTE);
  mesh_response_free(r);
  cr_assert_eq(sync_call(m, "http://other.mesh/", &r), MESH_OK);
  cr_expect_eq(mesh_response_error(r), MESH_ENOROUTE);
  mesh_response_free(r);
  char *dump;
  cr_assert_eq(mesh_config_dump(m, &dump), MESH_OK);
  cr_expect(strstr(dump, "envoy.config.route.v3.RouteConfiguration") != NULL, "%s", dump);
  cr_expect(strstr(dump, "\"7\"") != NULL, "version in dump");
  mesh_string_free(dump);
  mesh_free(m);
}

/* Unknown fields are ignored and reported: in the dump, on the resource
 * they were found in (or at the top when outside any), and in the log. */
Test(config, unknown_fields_are_reported_where_they_are) {
  char text[2048];
  snprintf(text, sizeof text,
           "admin: {address: {socket_address: {address: 0.0.0.0, port_value: 9901}}}\n"
           "static_resources:\n"
           "  listeners:\n"
           "  - name: u.mesh\n"
           "    api_listener:\n"
           "      api_listener:\n"
           "        \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
           "HttpConnectionManager\n"
           "        route_config:\n"
           "          virtual_hosts:\n"
           "          - {name: u, domains: [\"*\"], routes: [{match: {prefix: /}, route: {cluster: c}}]}\n"
           "  clusters:\n"
           "  - name: c\n"
           "    colour: blue\n"
           "    load_assignment:\n"
           "      cluster_name: c\n"
           "      endpoints:\n"
           "      - lb_endpoints:\n"
           "        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}\n",
           up1.port);
  write_file_atomic(cfg_path, text);
  char err[512] = "";
  cr_assert_eq(mesh_config_check_file(cfg_path, err, sizeof err), MESH_OK, "%s", err);
  struct event_base *eb = event_base_new();
  int logs = 0;
  mesh *m = attached_with_config(eb, cfg_path, &logs);
  cr_expect_geq(logs, 2, "each ignored field is logged");
  char *dump = NULL;
  cr_assert_eq(mesh_config_dump(m, &dump), MESH_OK);
  cr_expect(strstr(dump, "\"ignored\": [\"admin: unknown field, ignored\"]") != NULL, "top-level note: %s", dump);
  const char *cl = strstr(dump, "\"name\": \"c\"");
  cr_assert_not_null(cl, "%s", dump);
  const char *note = strstr(cl, "static_resources.clusters[0].colour: unknown field, ignored");
  const char *next = strstr(cl, "\"resource\":");
  cr_expect(note && next && note < next, "note on the cluster's own entry: %s", dump);
  mesh_string_free(dump);
  mesh_free(m);
  event_base_free(eb);
}
