/* Fault injection (Envoy's HTTPFault, as Istio and gRPC's xDS clients use
 * it), end to end: a config file with a fault filter and per-route
 * overrides, a real upstream on loopback, calls through the public API. */
#include <criterion/criterion.h>
#include <event2/event.h>
#include <mesh/mesh.h>
#include <mesh/mesh_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

static upstream up1;
static char dir[256], cfg_path[300];

static void setup(void) {
  cr_assert_eq(upstream_start(&up1), 0);
  snprintf(dir, sizeof dir, "/tmp/mesh-test-fault-%d", (int)getpid());
  mkdir_p(dir);
  snprintf(cfg_path, sizeof cfg_path, "%s/mesh.yaml", dir);
}

static void teardown(void) {
  upstream_stop(&up1);
  unlink(cfg_path);
  rmdir(dir);
}

TestSuite(fault, .init = setup, .fini = teardown, .timeout = 60);

#define FAULT_TYPE "\"@type\": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"

/* One route with a fault override: prefix, then the HTTPFault's fields in
 * flow style. */
#define OVERRIDE(prefix, fields)                                   \
  "            - match: {prefix: \"" prefix "\"}\n"                \
  "              route: {cluster: c1}\n"                           \
  "              typed_per_filter_config:\n"                       \
  "                envoy.filters.http.fault: {" FAULT_TYPE ", " fields "}\n"

/* The config file: listener svc.mesh whose fault filter has the given
 * HTTPFault fields (flow style), the given routes (block style, under the
 * virtual host), and cluster c1 at port. */
static void write_listener(const char *filter_fields, const char *routes, int port) {
  char text[8192];
  snprintf(text, sizeof text,
           "static_resources:\n"
           "  listeners:\n"
           "  - name: svc.mesh\n"
           "    api_listener:\n"
           "      api_listener:\n"
           "        \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
           "HttpConnectionManager\n"
           "        http_filters:\n"
           "        - name: envoy.filters.http.fault\n"
           "          typed_config: {" FAULT_TYPE ", %s}\n"
           "        - name: envoy.filters.http.router\n"
           "          typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}\n"
           "        route_config:\n"
           "          virtual_hosts:\n"
           "          - name: v\n"
           "            domains: [\"svc.mesh\"]\n"
           "            routes:\n"
           "%s"
           "            - match: {prefix: \"/\"}\n"
           "              route: {cluster: c1}\n"
           "  clusters:\n"
           "  - name: c1\n"
           "    type: STATIC\n"
           "    load_assignment: {cluster_name: c1, endpoints: [{lb_endpoints: [{endpoint: {address: "
           "{socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]}\n",
           filter_fields, routes, port);
  write_file_atomic(cfg_path, text);
}

/* The listener's own fault filter config is header-controlled (the calls
 * to "/" choose their faults by request headers); routes override it. */
static void write_config(void) {
  write_listener("delay: {header_delay: {}, percentage: {numerator: 100}}, "
                 "abort: {header_abort: {}, percentage: {numerator: 100}}",
                 OVERRIDE("/abort", "abort: {http_status: 503, percentage: {numerator: 100}}")
                 OVERRIDE("/delay", "delay: {fixed_delay: 0.2s, percentage: {numerator: 1000000, denominator: "
                                    "MILLION}}, max_active_faults: 2")
                 OVERRIDE("/half", "abort: {http_status: 503, percentage: {numerator: 5000, denominator: "
                                   "TEN_THOUSAND}}")
                 OVERRIDE("/grpc", "abort: {grpc_status: 14, percentage: {numerator: 100}}")
                 OVERRIDE("/other-cluster", "abort: {http_status: 503, percentage: {numerator: 100}}, "
                                            "upstream_cluster: c2")
                 OVERRIDE("/when-header", "abort: {http_status: 503, percentage: {numerator: 100}}, "
                                          "headers: [{name: x-fault, exact_match: \"yes\"}]")
                 OVERRIDE("/unset-percentage", "abort: {http_status: 503}")
                 "            - match: {prefix: \"/route-timeout\"}\n"
                 "              route: {cluster: c1, timeout: 0.1s}\n"
                 "              typed_per_filter_config:\n"
                 "                envoy.filters.http.fault: {" FAULT_TYPE ", delay: {fixed_delay: 0.2s, "
                 "percentage: {numerator: 100}}}\n",
                 up1.port);
}

static mesh *open_mesh(struct event_base *eb) {
  write_config();
  mesh_options *o;
  mesh *m = NULL;
  cr_assert_eq(mesh_options_new(&o), MESH_OK);
  mesh_options_set_config_file(o, cfg_path);
  if (eb) mesh_options_set_event_base(o, eb);
  int rc = mesh_new(&m, o);
  mesh_options_free(o);
  cr_assert_eq(rc, MESH_OK, "mesh_new: %s", mesh_strerror(rc));
  return m;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t stat_of(mesh *m, const char *name) {
  uint64_t v = 0;
  cr_assert_eq(mesh_stat(m, name, &v), MESH_OK, "%s", name);
  return v;
}

/* A blocking GET of path with optional header pairs (NULL-terminated). */
static mesh_response *get(mesh *m, const char *path, const char *const *headers, uint32_t timeout_ms) {
  char url[256];
  snprintf(url, sizeof url, "http://svc.mesh%s", path);
  mesh_request *req;
  cr_assert_eq(mesh_request_new(&req, "GET", url), MESH_OK);
  for (; headers && headers[0]; headers += 2) cr_assert_eq(mesh_request_add_header(req, headers[0], headers[1]), MESH_OK);
  if (timeout_ms) mesh_request_set_timeout_ms(req, timeout_ms);
  mesh_response *r = NULL;
  cr_assert_eq(mesh_call_sync(m, req, &r), MESH_OK);
  mesh_request_free(req);
  return r;
}

/* The status of a GET (0 when the call failed), the response freed. */
static int status_of(mesh *m, const char *path, const char *const *headers) {
  mesh_response *r = get(m, path, headers, 0);
  int s = mesh_response_error(r) == MESH_OK ? mesh_response_status(r) : 0;
  mesh_response_free(r);
  return s;
}

static int has_flag(const mesh_response *r, const char *flag) {
  const char *f = mesh_response_flags(r);
  size_t n = strlen(flag);
  for (const char *p = f; (p = strstr(p, flag)); p += n)
    if ((p == f || p[-1] == ',') && (p[n] == '\0' || p[n] == ',')) return 1;
  return 0;
}

Test(fault, abort_answers_locally_without_reaching_the_upstream) {
  mesh *m = open_mesh(NULL);
  mesh_response *r = get(m, "/abort", NULL, 0);
  cr_expect_eq(mesh_response_error(r), MESH_OK, "%s", mesh_response_detail(r));
  cr_expect_eq(mesh_response_status(r), 503);
  cr_expect(has_flag(r, "FI"), "flags: %s", mesh_response_flags(r));
  cr_expect_eq(mesh_response_attempts(r), 0, "the upstream was reached");
  size_t len = 0;
  const char *body = mesh_response_body(r, &len);
  cr_expect(len == 18 && !memcmp(body, "fault filter abort", 18), "body: %.*s", (int)len, body);
  cr_expect_null(mesh_response_header(r, "x-req-path"), "the upstream answered");
  mesh_response_free(r);
  cr_expect_eq(stat_of(m, "fault.aborts_injected"), 1);
  cr_expect_eq(stat_of(m, "response_flags.FI"), 1);
  /* A route without an override takes the listener's (header-controlled)
   * config: no header, no fault. */
  r = get(m, "/plain", NULL, 0);
  cr_expect_eq(mesh_response_status(r), 200, "%s", mesh_response_detail(r));
  cr_expect_str_eq(mesh_response_header(r, "x-req-path"), "/plain");
  cr_expect_str_eq(mesh_response_flags(r), "");
  mesh_response_free(r);
  mesh_free(m);
}

Test(fault, delay_holds_the_call_then_sends_it) {
  mesh *m = open_mesh(NULL);
  double t0 = now_ms();
  mesh_response *r = get(m, "/delay", NULL, 0);
  double took = now_ms() - t0;
  cr_expect_eq(mesh_response_status(r), 200, "%s", mesh_response_detail(r));
  cr_expect_str_eq(mesh_response_header(r, "x-req-path"), "/delay");
  cr_expect(has_flag(r, "DI"), "flags: %s", mesh_response_flags(r));
  cr_expect_geq(took, 199.0, "took %.1f ms", took);
  cr_expect_lt(took, 2000.0, "took %.1f ms", took);
  mesh_response_free(r);
  cr_expect_eq(stat_of(m, "fault.delays_injected"), 1);
  mesh_free(m);
}

Test(fault, percentage_is_drawn_per_call) {
  mesh *m = open_mesh(NULL);
  enum { N = 400 };
  int aborted = 0;
  for (int i = 0; i < N; i++) {
    mesh_response *r = get(m, "/half", NULL, 0);
    if (mesh_response_status(r) == 503 && has_flag(r, "FI")) aborted++;
    else cr_assert_eq(mesh_response_status(r), 200, "%s", mesh_response_detail(r));
    mesh_response_free(r);
  }
  /* 50%: sd 10 calls of 400; 5 sd each way. */
  cr_expect(aborted > 150 && aborted < 250, "%d of %d aborted at 50%%", aborted, N);
  /* The percentage headers are read only for header-controlled faults
   * (as in Envoy): a caller cannot escape a configured fault... */
  static const char *const zero[] = {"x-envoy-fault-abort-request-percentage", "0", NULL};
  for (int i = 0; i < 20; i++) cr_expect_eq(status_of(m, "/abort", zero), 503, "percentage header 0");
  /* ...nor raise its share. */
  static const char *const all[] = {"x-envoy-fault-abort-request-percentage", "10000", NULL};
  aborted = 0;
  for (int i = 0; i < N; i++) aborted += status_of(m, "/half", all) == 503;
  cr_expect(aborted > 150 && aborted < 250, "%d of %d aborted with the header asking for all", aborted, N);
  /* An unset percentage is 0%, as in Envoy. */
  cr_expect_eq(status_of(m, "/unset-percentage", NULL), 200);
  mesh_free(m);
}

Test(fault, grpc_calls_get_a_grpc_status) {
  mesh *m = open_mesh(NULL);
  static const char *const grpc[] = {"content-type", "application/grpc", NULL};
  mesh_response *r = get(m, "/grpc", grpc, 0);
  cr_expect_eq(mesh_response_status(r), 200);
  cr_expect_str_eq(mesh_response_header(r, "grpc-status"), "14");
  cr_expect_str_eq(mesh_response_header(r, "content-type"), "application/grpc");
  cr_expect(has_flag(r, "FI"));
  mesh_response_free(r);
  /* An HTTP status abort of a gRPC call: the status mapped (503 ->
   * UNAVAILABLE). */
  r = get(m, "/abort", grpc, 0);
  cr_expect_eq(mesh_response_status(r), 200);
  cr_expect_str_eq(mesh_response_header(r, "grpc-status"), "14");
  mesh_response_free(r);
  mesh_free(m);
}

Test(fault, upstream_cluster_and_headers_select_the_calls) {
  mesh *m = open_mesh(NULL);
  cr_expect_eq(status_of(m, "/other-cluster", NULL), 200, "a fault for cluster c2 hit a call to c1");
  cr_expect_eq(status_of(m, "/when-header", NULL), 200, "no x-fault header, yet aborted");
  static const char *const no[] = {"x-fault", "no", NULL};
  cr_expect_eq(status_of(m, "/when-header", no), 200);
  static const char *const yes[] = {"x-fault", "yes", NULL};
  cr_expect_eq(status_of(m, "/when-header", yes), 503);
  mesh_free(m);
}

Test(fault, header_controlled_faults) {
  mesh *m = open_mesh(NULL);
  static const char *const ab[] = {"x-envoy-fault-abort-request", "418", NULL};
  mesh_response *r = get(m, "/", ab, 0);
  cr_expect_eq(mesh_response_status(r), 418);
  cr_expect(has_flag(r, "FI"));
  mesh_response_free(r);
  static const char *const gab[] = {"x-envoy-fault-abort-grpc-request", "7", NULL};
  r = get(m, "/", gab, 0);
  cr_expect_eq(mesh_response_status(r), 200);
  cr_expect_str_eq(mesh_response_header(r, "grpc-status"), "7");
  mesh_response_free(r);
  /* For a header-controlled fault, the percentage header lowers the
   * configured share (100 here) to its own... */
  static const char *const ab0[] = {"x-envoy-fault-abort-request", "418", "x-envoy-fault-abort-request-percentage", "0",
                                    NULL};
  for (int i = 0; i < 10; i++) cr_expect_eq(status_of(m, "/", ab0), 200, "percentage header 0");
  /* Invalid values are ignored: no fault. */
  static const char *const bad[] = {"x-envoy-fault-abort-request", "99", "x-envoy-fault-delay-request", "soon", NULL};
  r = get(m, "/", bad, 0);
  cr_expect_eq(mesh_response_status(r), 200);
  cr_expect_str_eq(mesh_response_flags(r), "");
  mesh_response_free(r);
  static const char *const dl[] = {"x-envoy-fault-delay-request", "150", NULL};
  double t0 = now_ms();
  r = get(m, "/", dl, 0);
  double took = now_ms() - t0;
  cr_expect_eq(mesh_response_status(r), 200);
  cr_expect(has_flag(r, "DI"));
  cr_expect_geq(took, 149.0, "took %.1f ms", took);
  mesh_response_free(r);
  /* Delay then abort, both drawn. */
  static const char *const both[] = {"x-envoy-fault-delay-request", "100", "x-envoy-fault-abort-request", "500", NULL};
  t0 = now_ms();
  r = get(m, "/", both, 0);
  took = now_ms() - t0;
  cr_expect_eq(mesh_response_status(r), 500);
  cr_expect(has_flag(r, "DI") && has_flag(r, "FI"), "flags: %s", mesh_response_flags(r));
  cr_expect_geq(took, 99.0, "took %.1f ms", took);
  mesh_response_free(r);
  mesh_free(m);
}

/* The route's timeout starts after the injected delay (as in Envoy, where
 * the fault filter runs before the router); the caller's own timeout
 * counts the delay. */
Test(fault, route_timeout_starts_after_the_delay) {
  mesh *m = open_mesh(NULL);
  double t0 = now_ms();
  mesh_response *r = get(m, "/route-timeout?delay_ms=50", NULL, 0);
  double took = now_ms() - t0;
  cr_expect_eq(mesh_response_error(r), MESH_OK, "%s", mesh_response_detail(r));
  cr_expect_eq(mesh_response_status(r), 200);
  cr_expect(has_flag(r, "DI"), "flags: %s", mesh_response_flags(r));
  cr_expect_geq(took, 249.0, "took %.1f ms", took);
  mesh_response_free(r);
  /* The upstream too slow for the route timeout, counted after the delay. */
  t0 = now_ms();
  r = get(m, "/route-timeout?delay_ms=1000", NULL, 0);
  took = now_ms() - t0;
  cr_expect_eq(mesh_response_error(r), MESH_ETIMEOUT, "%s", mesh_response_detail(r));
  cr_expect(has_flag(r, "UT"), "flags: %s", mesh_response_flags(r));
  cr_expect(took >= 299.0 && took < 900.0, "took %.1f ms", took);
  mesh_response_free(r);
  /* The caller's timeout includes the delay. */
  t0 = now_ms();
  r = get(m, "/route-timeout", NULL, 150);
  took = now_ms() - t0;
  cr_expect_eq(mesh_response_error(r), MESH_ETIMEOUT, "%s", mesh_response_detail(r));
  cr_expect_lt(took, 199.0, "took %.1f ms", took);
  mesh_response_free(r);
  mesh_free(m);
}

/* Attached mode: several calls at once. */
typedef struct many {
  int outstanding, delayed, plain;
  double t0, last_plain_ms;
} many;

static void on_many(const mesh_response *r, void *ud) {
  many *x = ud;
  x->outstanding--;
  cr_expect_eq(mesh_response_status(r), 200, "%s", mesh_response_detail(r));
  if (has_flag(r, "DI")) {
    x->delayed++;
  } else {
    x->plain++;
    x->last_plain_ms = now_ms() - x->t0;
  }
}

Test(fault, max_active_faults_bounds_the_delayed_calls) {
  struct event_base *eb = event_base_new();
  mesh *m = open_mesh(eb);
  mesh_request *req;
  cr_assert_eq(mesh_request_new(&req, "GET", "http://svc.mesh/delay"), MESH_OK);
  many x = {0};
  x.t0 = now_ms();
  for (int i = 0; i < 5; i++) {
    cr_assert_eq(mesh_call_start(m, req, on_many, &x, NULL), MESH_OK);
    x.outstanding++;
  }
  while (x.outstanding > 0) event_base_loop(eb, EVLOOP_ONCE);
  cr_expect_eq(x.delayed, 2, "max_active_faults 2: %d calls delayed", x.delayed);
  cr_expect_eq(x.plain, 3);
  cr_expect_lt(x.last_plain_ms, 150.0, "the calls past the bound were not delayed (%.1f ms)", x.last_plain_ms);
  cr_expect_eq(stat_of(m, "fault.faults_overflow"), 3);
  /* The delays are over: the bound is free again. */
  x.delayed = x.plain = 0;
  cr_assert_eq(mesh_call_start(m, req, on_many, &x, NULL), MESH_OK);
  x.outstanding++;
  while (x.outstanding > 0) event_base_loop(eb, EVLOOP_ONCE);
  cr_expect_eq(x.delayed, 1);
  mesh_request_free(req);
  mesh_free(m);
  event_base_free(eb);
}

/* A call whose timeout ends it during an injected delay: it ends with
 * MESH_ETIMEOUT at its deadline, and its place among the active faults is
 * given back. */
Test(fault, timeout_during_a_delay_releases_the_fault) {
  mesh *m = open_mesh(NULL);
  for (int i = 0; i < 3; i++) {
    double t0 = now_ms();
    mesh_response *r = get(m, "/delay", NULL, 50);
    double took = now_ms() - t0;
    cr_expect_eq(mesh_response_error(r), MESH_ETIMEOUT, "%s", mesh_response_detail(r));
    cr_expect_lt(took, 190.0, "took %.1f ms", took);
    mesh_response_free(r);
  }
  /* Three delays began (none overflowed the bound of 2): each ended with
   * its call. */
  cr_expect_eq(stat_of(m, "fault.delays_injected"), 3);
  cr_expect_eq(stat_of(m, "fault.faults_overflow"), 0);
  mesh_free(m);
}

/* Freeing the handle with calls in an injected delay cancels them. */
static void on_canceled(const mesh_response *r, void *ud) {
  int *n = ud;
  cr_expect_eq(mesh_response_error(r), MESH_ECANCELED, "%s", mesh_response_detail(r));
  (*n)++;
}

Test(fault, free_during_a_delay_cancels_the_call) {
  struct event_base *eb = event_base_new();
  mesh *m = open_mesh(eb);
  mesh_request *req;
  cr_assert_eq(mesh_request_new(&req, "GET", "http://svc.mesh/delay"), MESH_OK);
  int n = 0;
  cr_assert_eq(mesh_call_start(m, req, on_canceled, &n, NULL), MESH_OK);
  struct timeval tv = {0, 20000};
  event_base_loopexit(eb, &tv);
  event_base_dispatch(eb);
  mesh_free(m);
  cr_expect_eq(n, 1);
  mesh_request_free(req);
  event_base_free(eb);
}

/* What libmesh cannot do exactly is refused with the field named. */
static void expect_refused(const char *fault_fields, const char *want) {
  write_listener(fault_fields, "", 1);
  char err[1024] = "";
  cr_expect_neq(mesh_config_check_file(cfg_path, err, sizeof err), MESH_OK, "accepted: %s", fault_fields);
  cr_expect(strstr(err, want) != NULL, "for %s: %s", fault_fields, err);
}

Test(fault, what_cannot_be_done_exactly_is_refused) {
  expect_refused("abort: {http_status: 700, percentage: {numerator: 100}}", "http_status: 700 is not in [200, 600)");
  expect_refused("abort: {percentage: {numerator: 100}}", "http_status, grpc_status or header_abort is required");
  expect_refused("delay: {percentage: {numerator: 100}}", "fixed_delay or header_delay is required");
  expect_refused("delay: {fixed_delay: 0s, percentage: {numerator: 100}}", "fixed_delay: must be greater than 0");
  expect_refused("downstream_nodes: [a]", "downstream_nodes: not supported");
  expect_refused("response_rate_limit: {fixed_limit: {limit_kbps: 1}}", "response_rate_limit: not supported");
  expect_refused("abort: {http_status: 503, percentage: {numerator: 1, denominator: 7}}", "denominator");
  expect_refused("abort: {http_status: 503, bogus: 1}", "bogus");
}
