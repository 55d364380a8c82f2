/* Resilience end to end: retries, timeouts, circuit breakers and response
 * flags against real test upstreams on loopback that inject faults on a
 * schedule, with the config in a file written here. */
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

#define MAXUP 4
static upstream ups[MAXUP];
static int nups;
static char cfg_dir[256], cfg_path[300];

/* Envoy's default max_retries (3) would refuse retries of concurrent
 * calls; tests about retry conditions lift it. */
#define CB_MANY_RETRIES "    circuit_breakers: {thresholds: [{max_retries: 1000}]}\n"

static void setup(void) {
  nups = 0;
  snprintf(cfg_dir, sizeof cfg_dir, "/tmp/mesh-test-resilience-%d", (int)getpid());
  snprintf(cfg_path, sizeof cfg_path, "%s/mesh.yaml", cfg_dir);
  mkdir_p(cfg_dir);
}

static void teardown(void) {
  for (int i = 0; i < nups; i++) upstream_stop(&ups[i]);
  unlink(cfg_path);
  rmdir(cfg_dir);
}

TestSuite(resilience, .init = setup, .fini = teardown, .timeout = 90);

/* Start an upstream with a fault schedule; its port. */
static int up(const char *a1, const char *a2, const char *a3, const char *a4) {
  const char *args[] = {a1, a2, a3, a4, NULL};
  cr_assert_lt(nups, MAXUP);
  cr_assert_eq(upstream_start_args(&ups[nups], args), 0, "upstream did not start");
  return ups[nups++].port;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Listener "svc.mesh": /direct answers 204 locally, everything else goes
 * to cluster svc with the route options in route_extra (flow-style YAML
 * entries); cluster_extra holds block lines at the cluster's level. A
 * port of 0 is a closed port. */
static void write_cfg(const char *route_extra, const char *cluster_extra, const int *ports, int n) {
  char eps[2048] = "";
  for (int i = 0; i < n; i++) {
    size_t l = strlen(eps);
    snprintf(eps + l, sizeof eps - l,
             "        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}\n",
             ports[i] ? ports[i] : closed_port());
  }
  char text[8192];
  snprintf(text, sizeof text,
           "static_resources:\n"
           "  listeners:\n"
           "  - name: svc.mesh\n"
           "    api_listener:\n"
           "      api_listener:\n"
           "        \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager\n"
           "        stat_prefix: svc\n"
           "        route_config:\n"
           "          name: svc\n"
           "          virtual_hosts:\n"
           "          - name: svc\n"
           "            domains: [\"svc.mesh\"]\n"
           "            include_request_attempt_count: true\n"
           "            routes:\n"
           "            - match: {prefix: \"/direct\"}\n"
           "              direct_response: {status: 204}\n"
           "            - name: main\n"
           "              match: {prefix: \"/\"}\n"
           "              route: {cluster: svc%s%s}\n"
           "  clusters:\n"
           "  - name: svc\n"
           "    type: STATIC\n"
           "    connect_timeout: 1s\n"
           "%s"
           "    load_assignment:\n"
           "      cluster_name: svc\n"
           "      endpoints:\n"
           "      - lb_endpoints:\n"
           "%s",
           route_extra && *route_extra ? ", " : "", route_extra ? route_extra : "",
           cluster_extra ? cluster_extra : "", eps);
  write_file_atomic(cfg_path, text);
}

typedef struct results {
  int done, outstanding, ok, fail, status[600];
  unsigned max_attempts, attempts_hist[8];
  int errs[32]; /* by -error */
  char last_flags[48], last_detail[200];
  int last_status, last_error;
  unsigned last_attempts;
  double last_end_ms;
  int attempt_header_bad; /* responses whose x-envoy-attempt-count is not the attempt */
} results;

static void on_done(const mesh_response *r, void *ud) {
  results *x = ud;
  x->done++;
  x->outstanding--;
  int e = mesh_response_error(r), st = mesh_response_status(r);
  unsigned a = mesh_response_attempts(r);
  if (e == MESH_OK && st == 200) x->ok++;
  else x->fail++;
  if (e == MESH_OK && st >= 0 && st < 600) x->status[st]++;
  if (-e >= 0 && -e < 32) x->errs[-e]++;
  if (a > x->max_attempts) x->max_attempts = a;
  x->attempts_hist[a < 7 ? a : 7]++;
  snprintf(x->last_flags, sizeof x->last_flags, "%s", mesh_response_flags(r));
  snprintf(x->last_detail, sizeof x->last_detail, "%s", mesh_response_detail(r));
  x->last_status = st;
  x->last_error = e;
  x->last_attempts = a;
  x->last_end_ms = now_ms();
  const char *ac = mesh_response_header(r, "x-envoy-attempt-count");
  if (e == MESH_OK && a && (!ac || (unsigned)atoi(ac) != a)) x->attempt_header_bad++;
  if (getenv("RES_DEBUG"))
    fprintf(stderr, "call: err=%d status=%d attempts=%u flags=%s detail=%s\n", e, st, a, mesh_response_flags(r),
            mesh_response_detail(r));
}

typedef struct harness {
  struct event_base *eb;
  mesh *m;
} harness;

static void open_mesh(harness *h) {
  h->eb = event_base_new();
  mesh_options *o;
  mesh_options_new(&o);
  mesh_options_set_event_base(o, h->eb);
  mesh_options_set_config_file(o, cfg_path);
  int rc = mesh_new(&h->m, o);
  mesh_options_free(o);
  cr_assert_eq(rc, MESH_OK, "mesh_new: %s", mesh_strerror(rc));
}

static void close_mesh(harness *h) {
  mesh_free(h->m);
  event_base_free(h->eb);
}

static uint64_t stat_of(harness *h, const char *name) {
  uint64_t v = 0;
  cr_assert_eq(mesh_stat(h->m, name, &v), MESH_OK, "mesh_stat(%s)", name);
  return v;
}

/* Nothing in flight any more: the breakers' counts came back to zero. */
static void expect_drained(harness *h) {
  cr_expect_eq(stat_of(h, "rq_active"), 0, "attempts still counted");
  cr_expect_eq(stat_of(h, "rq_pending"), 0, "pending attempts still counted");
  cr_expect_eq(stat_of(h, "rq_retry_active"), 0, "retries still counted");
}

/* n calls of method path (with optional header), at most inflight at once. */
static void run(harness *h, results *x, const char *path, int n, int inflight, int proto, uint32_t timeout_ms,
                const char *hname, const char *hvalue) {
  char url[512];
  snprintf(url, sizeof url, "http://svc.mesh%s", path);
  mesh_request *req;
  cr_assert_eq(mesh_request_new(&req, "GET", url), MESH_OK);
  if (proto) mesh_request_set_protocol(req, proto);
  if (timeout_ms) mesh_request_set_timeout_ms(req, timeout_ms);
  if (hname) mesh_request_add_header(req, hname, hvalue);
  int started = 0, target = x->done + n;
  while (x->done < target) {
    while (started < n && x->outstanding < inflight) {
      cr_assert_eq(mesh_call_start(h->m, req, on_done, x, NULL), MESH_OK);
      started++;
      x->outstanding++;
    }
    event_base_loop(h->eb, EVLOOP_ONCE);
  }
  mesh_request_free(req);
}

/* Run the loop for ms (idle timeouts). */
static void spin(harness *h, int ms) {
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  event_base_loopexit(h->eb, &tv);
  event_base_dispatch(h->eb);
}

/* ------------------------------------------------------------ retries */

Test(resilience, retry_5xx_goes_to_another_endpoint) {
  int ports[3] = {up("--fault", "503:100%", NULL, NULL), up(NULL, NULL, NULL, NULL), up(NULL, NULL, NULL, NULL)};
  write_cfg("retry_policy: {retry_on: \"5xx\", num_retries: 2, retry_back_off: {base_interval: 0.001s},"
            " retry_host_predicate: [{name: envoy.retry_host_predicates.previous_hosts}],"
            " host_selection_retry_max_attempts: 3}",
            CB_MANY_RETRIES, ports, 3);
  harness h;
  open_mesh(&h);
  results x = {0};
  run(&h, &x, "/", 300, 16, 0, 0, NULL, NULL);
  cr_expect_eq(x.ok, 300, "%d of 300 failed; last: %s %s", x.fail, x.last_flags, x.last_detail);
  cr_expect_leq(x.max_attempts, 2, "previous_hosts: one retry reaches a healthy endpoint");
  cr_expect_gt(x.attempts_hist[2], 50, "about a third of the calls first hit the failing endpoint");
  cr_expect_eq(stat_of(&h, "upstream_rq_retry"), x.attempts_hist[2]);
  cr_expect_eq(stat_of(&h, "upstream_rq_retry_success"), x.attempts_hist[2]);
  cr_expect_eq(x.attempt_header_bad, 0, "x-envoy-attempt-count names the attempt that answered");
  expect_drained(&h);
  close_mesh(&h);
}

Test(resilience, retry_limit_reports_last_response_and_URX) {
  int ports[1] = {up("--fault", "503:100%", NULL, NULL)};
  write_cfg("retry_policy: {retry_on: \"gateway-error\", num_retries: 3, retry_back_off: {base_interval: 0.001s}}",
            CB_MANY_RETRIES, ports, 1);
  harness h;
  open_mesh(&h);
  results x = {0};
  run(&h, &x, "/", 20, 4, 0, 0, NULL, NULL);
  cr_expect_eq(x.status[503], 20);
  cr_expect_eq(x.max_attempts, 4);
  cr_expect_eq(x.attempts_hist[4], 20);
  cr_expect_str_eq(x.last_flags, "URX");
  cr_expect_eq(stat_of(&h, "upstream_rq_retry_limit_exceeded"), 20);
  cr_expect_eq(stat_of(&h, "response_flags.URX"), 20);
  cr_expect_eq(stat_of(&h, "attempts_max"), 4);
  expect_drained(&h);
  close_mesh(&h);
}

Test(resilience, retry_on_conditions) {
  int ports[1] = {up(NULL, NULL, NULL, NULL)};
  harness h;
  results x;
  /* gateway-error does not cover 500. */
  write_cfg("retry_policy: {retry_on: \"gateway-error\", num_retries: 2, retry_back_off: {base_interval: 0.001s}}",
            NULL, ports, 1);
  open_mesh(&h);
  memset(&x, 0, sizeof x);
  run(&h, &x, "/?status=500", 5, 1, 0, 0, NULL, NULL);
  cr_expect_eq(x.status[500], 5);
  cr_expect_eq(x.max_attempts, 1);
  cr_expect_str_eq(x.last_flags, "");
  /* ... but 502 */
  memset(&x, 0, sizeof x);
  run(&h, &x, "/?status=502", 5, 1, 0, 0, NULL, NULL);
  cr_expect_eq(x.attempts_hist[3], 5);
  expect_drained(&h);
  close_mesh(&h);

  /* retriable-4xx is 409 only; retriable-status-codes lists more. */
  write_cfg("retry_policy: {retry_on: \"retriable-4xx,retriable-status-codes\", retriable_status_codes: [418],"
            " num_retries: 1, retry_back_off: {base_interval: 0.001s}}",
            NULL, ports, 1);
  open_mesh(&h);
  memset(&x, 0, sizeof x);
  run(&h, &x, "/?status=409", 3, 1, 0, 0, NULL, NULL);
  cr_expect_eq(x.attempts_hist[2], 3);
  memset(&x, 0, sizeof x);
  run(&h, &x, "/?status=418", 3, 1, 0, 0, NULL, NULL);
  cr_expect_eq(x.attempts_hist[2], 3);
  memset(&x, 0, sizeof x);
  run(&h, &x, "/?status=404", 3, 1, 0, 0, NULL, NULL);
  cr_expect_eq(x.attempts_hist[1], 3);
  expect_drained(&h);
  close_mesh(&h);

  /* gRPC statuses from grpc-status; and retriable-headers. */
  write_cfg("retry_policy: {retry_on: \"unavailable,retriable-headers\", num_retries: 1,"
            " retriable_headers: [{name: x-echo-retry, string_match: {exact: \"yes\"}}],"
            " retry_back_off: {base_interval: 0.001s}}",
            NULL, ports, 1);
  open_mesh(&h);
  memset(&x, 0, sizeof x);
  run(&h, &x, "/?grpc_status=14", 3, 1, MESH_PROTOCOL_HTTP2, 0, NULL, NULL);
  cr_expect_eq(x.attempts_hist[2], 3, "UNAVAILABLE is retried");
  memset(&x, 0, sizeof x);
  run(&h, &x, "/?grpc_status=5", 3, 1, MESH_PROTOCOL_HTTP2, 0, NULL, NULL);
  cr_expect_eq(x.attempts_hist[1], 3, "NOT_FOUND is not");
  memset(&x, 0, sizeof x);
  run(&h, &x, "/", 3, 1, 0, 0, "x-echo-retry", "yes");
  cr_expect_eq(x.attempts_hist[2], 3, "a matching response header is retried");
  expect_drained(&h);
  close_mesh(&h);
}

Test(resilience, retry_on_reset_and_connect_failure) {
  int ports[3] = {up("--fault", "reset:100%", NULL, NULL), 0, up(NULL, NULL, NULL, NULL)};
  write_cfg("retry_policy: {retry_on: \"reset,connect-failure\", num_retries: 2, retry_back_off: {base_interval: 0.001s},"
            " retry_host_predicate: [{name: envoy.retry_host_predicates.previous_hosts}],"
            " host_selection_retry_max_attempts: 5}",
            CB_MANY_RETRIES, ports, 3);
  harness h;
  open_mesh(&h);
  results x = {0};
  for (int proto = MESH_PROTOCOL_HTTP1; proto <= MESH_PROTOCOL_HTTP2; proto++) {
    run(&h, &x, "/", 90, 8, proto, 0, NULL, NULL);
  }
  cr_expect_eq(x.ok, 180, "%d failed; last: %s %s", x.fail, x.last_flags, x.last_detail);
  cr_expect_leq(x.max_attempts, 3);
  cr_expect_gt(stat_of(&h, "upstream_rq_retry"), 60);
  expect_drained(&h);
  close_mesh(&h);

  /* Without a retry policy: the failures surface with their flags. */
  write_cfg(NULL, NULL, ports, 3);
  open_mesh(&h);
  memset(&x, 0, sizeof x);
  run(&h, &x, "/", 30, 1, 0, 0, NULL, NULL);
  cr_expect_eq(x.errs[-MESH_ERESET], 10);
  cr_expect_eq(x.errs[-MESH_ECONNECT], 10);
  cr_expect_eq(x.ok, 10);
  cr_expect_eq(stat_of(&h, "response_flags.UR"), 10);
  cr_expect_eq(stat_of(&h, "response_flags.UF"), 10);
  expect_drained(&h);
  close_mesh(&h);
}

Test(resilience, rate_limited_back_off_honours_retry_after) {
  int ports[1] = {up(NULL, NULL, NULL, NULL)};
  write_cfg("retry_policy: {retry_on: \"retriable-status-codes\", retriable_status_codes: [429], num_retries: 1,"
            " retry_back_off: {base_interval: 0.001s},"
            " rate_limited_retry_back_off: {reset_headers: [{name: retry-after}], max_interval: 5s}}",
            NULL, ports, 1);
  harness h;
  open_mesh(&h);
  results x = {0};
  double t0 = now_ms();
  run(&h, &x, "/?status=429&retry_after=1", 1, 1, 0, 5000, NULL, NULL);
  double took = x.last_end_ms - t0;
  cr_expect_eq(x.last_attempts, 2);
  cr_expect(took >= 1000 && took < 2500, "waited %.0f ms for Retry-After: 1", took);
  cr_expect_eq(stat_of(&h, "upstream_rq_retry_backoff_ratelimited"), 1);
  /* Above max_interval: the normal back-off (1 ms base) applies. */
  t0 = now_ms();
  run(&h, &x, "/?status=429&retry_after=60", 1, 1, 0, 5000, NULL, NULL);
  took = x.last_end_ms - t0;
  cr_expect_eq(x.last_attempts, 2);
  cr_expect_lt(took, 900, "took %.0f ms", took);
  expect_drained(&h);
  close_mesh(&h);
}

Test(resilience, rate_limited_back_off_config_is_checked) {
  int ports[1] = {1};
  char err[512];
  write_cfg("retry_policy: {retry_on: \"5xx\", rate_limited_retry_back_off: {reset_headers: []}}", NULL, ports, 1);
  cr_expect_neq(mesh_config_check_file(cfg_path, err, sizeof err), MESH_OK);
  cr_expect(strstr(err, "reset_headers"), "%s", err);
  write_cfg("retry_policy: {retry_on: \"5xx\", rate_limited_retry_back_off: {reset_headers: [{name: \"\"}]}}", NULL,
            ports, 1);
  cr_expect_neq(mesh_config_check_file(cfg_path, err, sizeof err), MESH_OK);
  write_cfg("retry_policy: {retry_on: \"5xx\", rate_limited_retry_back_off: {reset_headers: [{name: x-ratelimit-reset,"
            " format: UNIX_TIMESTAMP}], max_interval: 10s}}",
            NULL, ports, 1);
  cr_expect_eq(mesh_config_check_file(cfg_path, err, sizeof err), MESH_OK, "%s", err);
}

Test(resilience, body_is_retried_within_bound_only) {
  int ports[1] = {up("--fault", "503:100%", NULL, NULL)};
  write_cfg("retry_policy: {retry_on: \"5xx\", num_retries: 1, retry_back_off: {base_interval: 0.001s}}", NULL,
            ports, 1);
  harness h;
  open_mesh(&h);
  results x = {0};
  static char body[(1 << 20) + 1];
  memset(body, 'b', sizeof body);
  mesh_request *req;
  for (int big = 0; big <= 1; big++) {
    cr_assert_eq(mesh_request_new(&req, "POST", "http://svc.mesh/"), MESH_OK);
    mesh_request_set_body(req, body, big ? sizeof body : 1000);
    x.outstanding++;
    cr_assert_eq(mesh_call_start(h.m, req, on_done, &x, NULL), MESH_OK);
    while (x.outstanding) event_base_loop(h.eb, EVLOOP_ONCE);
    cr_expect_eq(x.last_attempts, big ? 1u : 2u, "body of %s", big ? "1 MiB + 1" : "1000 bytes");
    mesh_request_free(req);
  }
  expect_drained(&h);
  close_mesh(&h);
}

/* A retry after a config change uses the new config's cluster of the same
 * name: the stalled first attempt times out, its retry goes to the
 * endpoint the new config lists. */
typedef struct swap_ctx {
  int port;
  const char *route;
} swap_ctx;

static void on_swap(evutil_socket_t fd, short what, void *arg) {
  swap_ctx *w = arg;
  int ports[1] = {w->port};
  (void)fd;
  (void)what;
  write_cfg(w->route, CB_MANY_RETRIES, ports, 1);
}

Test(resilience, retry_after_config_change_uses_the_new_cluster) {
  int stall = up("--fault", "stall:100%", NULL, NULL), good = up(NULL, NULL, NULL, NULL);
  const char *route = "retry_policy: {retry_on: \"5xx\", num_retries: 1, per_try_timeout: 1s,"
                      " retry_back_off: {base_interval: 0.001s}}";
  int ports[1] = {stall};
  write_cfg(route, CB_MANY_RETRIES, ports, 1);
  harness h;
  open_mesh(&h);
  swap_ctx w = {good, route};
  struct event *ev = evtimer_new(h.eb, on_swap, &w);
  struct timeval tv = {0, 200000};
  evtimer_add(ev, &tv);
  results x = {0};
  run(&h, &x, "/", 4, 4, MESH_PROTOCOL_HTTP2, 5000, NULL, NULL);
  cr_expect_eq(x.ok, 4, "%s %s", x.last_flags, x.last_detail);
  cr_expect_eq(x.attempts_hist[2], 4);
  cr_expect_eq(x.attempt_header_bad, 0);
  event_free(ev);
  expect_drained(&h);
  close_mesh(&h);
}

/* ------------------------------------------------------------ timeouts */

/* Connections the upstream has open, besides the one asking. */
static int upstream_conns(int port) {
  mesh *m;
  mesh_new(&m, NULL);
  mesh_request *req;
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/stats", port);
  mesh_request_new(&req, "GET", url);
  mesh_response *r = NULL;
  int n = -1;
  if (mesh_call_sync(m, req, &r) == MESH_OK && mesh_response_status(r) == 200) {
    const char *b = mesh_response_body(r, NULL), *p = strstr(b, "active_connections=");
    if (p) n = atoi(p + 19) - 1;
    if (getenv("RES_DEBUG")) fprintf(stderr, "stats: %s", b);
  }
  mesh_response_free(r);
  mesh_request_free(req);
  mesh_free(m);
  return n;
}

Test(resilience, per_try_timeout_cancels_the_stalled_attempt) {
  int stall = up("--fault", "stall:100%", NULL, NULL);
  int ports[2] = {stall, up(NULL, NULL, NULL, NULL)};
  write_cfg("retry_policy: {retry_on: \"5xx\", num_retries: 1, per_try_timeout: 0.2s,"
            " retry_back_off: {base_interval: 0.001s},"
            " retry_host_predicate: [{name: envoy.retry_host_predicates.previous_hosts}],"
            " host_selection_retry_max_attempts: 3}",
            CB_MANY_RETRIES, ports, 2);
  harness h;
  open_mesh(&h);
  for (int proto = MESH_PROTOCOL_HTTP1; proto <= MESH_PROTOCOL_HTTP2; proto++) {
    results x = {0};
    double t0 = now_ms();
    run(&h, &x, "/", 20, 20, proto, 0, NULL, NULL);
    double took = now_ms() - t0;
    cr_expect_eq(x.ok, 20, "%s: %d failed: %s %s", proto == 1 ? "h1" : "h2", x.fail, x.last_flags, x.last_detail);
    cr_expect_lt(took, 3000, "took %.0f ms", took);
    cr_expect_geq(x.attempts_hist[2], 5);
  }
  cr_expect_geq(stat_of(&h, "upstream_rq_per_try_timeout"), 10);
  /* HTTP/1.1 attempts were abandoned by closing their connections. */
  spin(&h, 100);
  int uc = upstream_conns(stall);
  cr_expect_eq(uc, 1, "%d connections: only the HTTP/2 one stays (its streams were reset)", uc);
  expect_drained(&h);
  close_mesh(&h);
}

Test(resilience, per_try_timeout_without_retry_is_UT) {
  int ports[1] = {up("--fault", "stall:100%", NULL, NULL)};
  write_cfg("retry_policy: {retry_on: \"connect-failure\", num_retries: 1, per_try_timeout: 0.1s}", NULL, ports, 1);
  harness h;
  open_mesh(&h);
  results x = {0};
  run(&h, &x, "/", 1, 1, 0, 0, NULL, NULL);
  cr_expect_eq(x.last_error, MESH_ETIMEOUT);
  cr_expect_str_eq(x.last_flags, "UT");
  cr_expect_eq(x.last_attempts, 1);
  expect_drained(&h);
  close_mesh(&h);
}

Test(resilience, per_try_idle_timeout) {
  int ports[1] = {up(NULL, NULL, NULL, NULL)};
  write_cfg("retry_policy: {retry_on: \"connect-failure\", num_retries: 1, per_try_idle_timeout: 0.2s}", NULL, ports,
            1);
  harness h;
  open_mesh(&h);
  results x = {0};
  /* Slow but progressing within the idle timeout: fine. */
  run(&h, &x, "/?delay_ms=150", 1, 1, 0, 0, NULL, NULL);
  cr_expect_eq(x.ok, 1, "%s", x.last_detail);
  /* Headers, then nothing. */
  double t0 = now_ms();
  run(&h, &x, "/?stall=1&size=100", 1, 1, MESH_PROTOCOL_HTTP2, 0, NULL, NULL);
  double took = now_ms() - t0;
  cr_expect_eq(x.last_error, MESH_ETIMEOUT);
  cr_expect(took >= 190 && took < 1000, "took %.0f ms", took);
  cr_expect_str_eq(x.last_flags, "UT");
  cr_expect_eq(stat_of(&h, "upstream_rq_per_try_idle_timeout"), 1);
  expect_drained(&h);
  close_mesh(&h);

  /* The route's idle_timeout (stream idle timeout): SI, never retried. */
  write_cfg("idle_timeout: 0.2s, retry_policy: {retry_on: \"5xx\", num_retries: 2}", NULL, ports, 1);
  open_mesh(&h);
  t0 = now_ms();
  run(&h, &x, "/?stall=1&size=100", 1, 1, 0, 0, NULL, NULL);
  took = now_ms() - t0;
  cr_expect_eq(x.last_error, MESH_ETIMEOUT);
  cr_expect_str_eq(x.last_flags, "SI");
  cr_expect_eq(x.last_attempts, 1);
  cr_expect(took >= 190 && took < 1000, "took %.0f ms", took);
  expect_drained(&h);
  close_mesh(&h);
}

Test(resilience, route_timeout_spans_retries) {
  int ports[1] = {up(NULL, NULL, NULL, NULL)};
  write_cfg("timeout: 0.5s, retry_policy: {retry_on: \"5xx\", num_retries: 10, retry_back_off: {base_interval: 0.001s}}",
            NULL, ports, 1);
  harness h;
  open_mesh(&h);
  results x = {0};
  double t0 = now_ms();
  run(&h, &x, "/?status=503&delay_ms=150", 1, 1, 0, 0, NULL, NULL);
  double took = now_ms() - t0;
  cr_expect_eq(x.last_error, MESH_ETIMEOUT);
  cr_expect_str_eq(x.last_flags, "UT");
  cr_expect(took >= 490 && took < 1500, "took %.0f ms", took);
  cr_expect(x.last_attempts >= 3 && x.last_attempts <= 4, "%u attempts", x.last_attempts);
  /* The caller's shorter timeout wins. */
  t0 = now_ms();
  run(&h, &x, "/?stall=1&size=100", 1, 1, 0, 200, NULL, NULL);
  took = now_ms() - t0;
  cr_expect_eq(x.last_error, MESH_ETIMEOUT);
  cr_expect(took >= 190 && took < 1000, "took %.0f ms", took);
  expect_drained(&h);
  close_mesh(&h);
}

Test(resilience, grpc_timeout_header_and_max_stream_duration) {
  int ports[1] = {up(NULL, NULL, NULL, NULL)};
  write_cfg("timeout: 5s, max_stream_duration: {grpc_timeout_header_max: 0s}", NULL, ports, 1);
  harness h;
  open_mesh(&h);
  results x = {0};
  double t0 = now_ms();
  run(&h, &x, "/?delay_ms=2000", 1, 1, MESH_PROTOCOL_HTTP2, 0, "grpc-timeout", "200m");
  double took = now_ms() - t0;
  cr_expect_eq(x.last_error, MESH_ETIMEOUT);
  cr_expect(took >= 190 && took < 1200, "grpc-timeout 200m: took %.0f ms", took);
  /* A malformed header leaves the route timeout. */
  run(&h, &x, "/?delay_ms=300", 1, 1, MESH_PROTOCOL_HTTP2, 0, "grpc-timeout", "200x");
  cr_expect_eq(x.last_error, MESH_OK);
  expect_drained(&h);
  close_mesh(&h);

  write_cfg("timeout: 5s, max_stream_duration: {max_stream_duration: 0.2s}", NULL, ports, 1);
  open_mesh(&h);
  run(&h, &x, "/?delay_ms=2000", 1, 1, 0, 0, NULL, NULL);
  cr_expect_eq(x.last_error, MESH_ETIMEOUT);
  cr_expect_str_eq(x.last_flags, "UMSDR");
  expect_drained(&h);
  close_mesh(&h);
}

Test(resilience, idle_connections_close_after_cluster_idle_timeout) {
  int port = up(NULL, NULL, NULL, NULL);
  int ports[1] = {port};
  write_cfg(NULL,
            "    typed_extension_protocol_options:\n"
            "      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:\n"
            "        \"@type\": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions\n"
            "        common_http_protocol_options: {idle_timeout: 0.2s}\n"
            "        use_downstream_protocol_config: {}\n",
            ports, 1);
  harness h;
  open_mesh(&h);
  results x = {0};
  run(&h, &x, "/", 4, 4, 0, 0, NULL, NULL);
  run(&h, &x, "/", 4, 4, MESH_PROTOCOL_HTTP2, 0, NULL, NULL);
  cr_expect_eq(x.ok, 8, "%s", x.last_detail);
  cr_expect_geq(upstream_conns(port), 2);
  spin(&h, 700);
  cr_expect_eq(upstream_conns(port), 0);
  cr_expect_geq(stat_of(&h, "upstream_cx_idle_timeout"), 2);
  expect_drained(&h);
  close_mesh(&h);
}

/* ------------------------------------------------------------ circuit breakers */

Test(resilience, max_requests_and_max_pending_overflow) {
  int ports[1] = {up(NULL, NULL, NULL, NULL)};
  write_cfg(NULL, "    circuit_breakers: {thresholds: [{max_requests: 3}]}\n", ports, 1);
  harness h;
  open_mesh(&h);
  results x = {0};
  run(&h, &x, "/?delay_ms=200", 10, 10, 0, 0, NULL, NULL);
  cr_expect_eq(x.ok, 3);
  cr_expect_eq(x.errs[-MESH_EOVERFLOW], 7);
  cr_expect_eq(stat_of(&h, "response_flags.UO"), 7);
  cr_expect_eq(stat_of(&h, "upstream_rq_overflow"), 7);
  expect_drained(&h);
  close_mesh(&h);

  /* One connection (HTTP/1.1: one call at a time), two calls may wait
   * (all of them wait while it connects). */
  write_cfg(NULL, "    circuit_breakers: {thresholds: [{max_connections: 1, max_pending_requests: 2}]}\n", ports, 1);
  open_mesh(&h);
  memset(&x, 0, sizeof x);
  run(&h, &x, "/?delay_ms=100", 6, 6, MESH_PROTOCOL_HTTP1, 0, NULL, NULL);
  cr_expect_eq(x.ok, 2, "%d ok: %s", x.ok, x.last_detail);
  cr_expect_eq(x.errs[-MESH_EOVERFLOW], 4);
  cr_expect_eq(stat_of(&h, "upstream_rq_pending_overflow"), 4);
  cr_expect_eq(stat_of(&h, "cx_active"), 1, "max_connections: one connection");
  cr_expect_gt(stat_of(&h, "upstream_cx_overflow"), 0);
  expect_drained(&h);
  close_mesh(&h);
}

Test(resilience, max_connections_still_serves_an_endpoint_without_one) {
  int ports[2] = {up(NULL, NULL, NULL, NULL), up(NULL, NULL, NULL, NULL)};
  write_cfg(NULL, "    circuit_breakers: {thresholds: [{max_connections: 1}]}\n", ports, 2);
  harness h;
  open_mesh(&h);
  results x = {0};
  run(&h, &x, "/", 20, 1, MESH_PROTOCOL_HTTP1, 2000, NULL, NULL);
  cr_expect_eq(x.ok, 20, "%s", x.last_detail);
  cr_expect_eq(stat_of(&h, "cx_active"), 2, "one connection per endpoint, no more");
  cr_expect_gt(stat_of(&h, "upstream_cx_overflow"), 0);
  expect_drained(&h);
  close_mesh(&h);
}

Test(resilience, max_retries_bounds_concurrent_retries) {
  int ports[2] = {up("--fault", "503:100%", NULL, NULL), up("--fault", "503:100%", NULL, NULL)};
  write_cfg("retry_policy: {retry_on: \"5xx\", num_retries: 3, retry_back_off: {base_interval: 0.05s}}",
            "    circuit_breakers: {thresholds: [{max_retries: 2}]}\n", ports, 2);
  harness h;
  open_mesh(&h);
  results x = {0};
  run(&h, &x, "/", 40, 40, 0, 0, NULL, NULL);
  cr_expect_eq(x.status[503], 40);
  cr_expect_leq(stat_of(&h, "retry_active_peak"), 2);
  cr_expect_gt(stat_of(&h, "upstream_rq_retry_overflow"), 20);
  cr_expect_gt(stat_of(&h, "response_flags.UO"), 20);
  expect_drained(&h);
  close_mesh(&h);
}

/* ------------------------------------------------------------ response flags */

Test(resilience, response_flags_of_local_replies) {
  int ports[1] = {up(NULL, NULL, NULL, NULL)};
  write_cfg(NULL, NULL, ports, 1);
  harness h;
  open_mesh(&h);
  results x = {0};
  run(&h, &x, "/direct", 1, 1, 0, 0, NULL, NULL);
  cr_expect_eq(x.last_status, 204);
  cr_expect_str_eq(x.last_flags, "DR");
  cr_expect_eq(x.last_attempts, 0);
  run(&h, &x, "/", 1, 1, 0, 0, NULL, NULL);
  cr_expect_str_eq(x.last_flags, "");
  cr_expect_eq(x.last_attempts, 1);

  mesh_request *req;
  cr_assert_eq(mesh_request_new(&req, "GET", "http://nowhere.mesh/"), MESH_OK);
  x.outstanding++;
  cr_assert_eq(mesh_call_start(h.m, req, on_done, &x, NULL), MESH_OK);
  while (x.outstanding) event_base_loop(h.eb, EVLOOP_ONCE);
  cr_expect_eq(x.last_error, MESH_ENOROUTE);
  cr_expect_str_eq(x.last_flags, "NR");
  mesh_request_free(req);

  cr_assert_eq(mesh_request_new(&req, "GET", "http://svc.mesh/?stall=1&size=100"), MESH_OK);
  uint64_t id;
  x.outstanding++;
  cr_assert_eq(mesh_call_start(h.m, req, on_done, &x, &id), MESH_OK);
  event_base_loop(h.eb, EVLOOP_NONBLOCK);
  cr_assert_eq(mesh_call_cancel(h.m, id), MESH_OK);
  while (x.outstanding) event_base_loop(h.eb, EVLOOP_ONCE);
  cr_expect_str_eq(x.last_flags, "DC");
  mesh_request_free(req);

  uint64_t v;
  cr_expect_eq(mesh_stat(h.m, "response_flags.DR", &v), MESH_OK);
  cr_expect_eq(v, 1);
  cr_expect_eq(mesh_stat(h.m, "no_such_counter", &v), MESH_ENOTFOUND);
  cr_expect_eq(mesh_stat(h.m, NULL, &v), MESH_EINVAL);
  cr_expect_str_eq(mesh_response_flags(NULL), "");
  cr_expect_eq(mesh_response_attempts(NULL), 0);
  expect_drained(&h);
  close_mesh(&h);
}

/* ------------------------------------------------------------ acceptance */

/* Three endpoints: one answers 503 half the time, one resets 10% of its
 * connections (and, to make resets frequent, 10% of requests kill their
 * connection), one is healthy. 500 calls/s for 20 s. */
typedef struct load {
  harness *h;
  mesh_request *req;
  results x;
  int ticks, per_tick, total_ticks;
  struct event *timer;
} load;

static void on_load_tick(evutil_socket_t fd, short what, void *arg) {
  load *l = arg;
  (void)fd;
  (void)what;
  for (int i = 0; i < l->per_tick; i++) {
    cr_assert_eq(mesh_call_start(l->h->m, l->req, on_done, &l->x, NULL), MESH_OK);
    l->x.outstanding++;
  }
  if (++l->ticks >= l->total_ticks) event_del(l->timer);
}

Test(resilience, acceptance_500_rps_20s_three_faulty_endpoints, .timeout = 120) {
  int ports[3] = {up("--fault", "503:50%", "--seed", "11"), up("--conn-reset", "10%", "--fault", "conn_reset:10%"),
                  up(NULL, NULL, NULL, NULL)};
  const unsigned num_retries = 3, min_conc = 5;
  const double budget = 20.0;
  char route[512], cluster[256];
  snprintf(route, sizeof route,
           "retry_policy: {retry_on: \"5xx,reset,connect-failure\", num_retries: %u,"
           " retry_back_off: {base_interval: 0.005s, max_interval: 0.05s},"
           " retry_host_predicate: [{name: envoy.retry_host_predicates.previous_hosts}],"
           " host_selection_retry_max_attempts: 3}",
           num_retries);
  snprintf(cluster, sizeof cluster,
           "    circuit_breakers: {thresholds: [{retry_budget: {budget_percent: {value: %.1f},"
           " min_retry_concurrency: %u}}]}\n",
           budget, min_conc);
  write_cfg(route, cluster, ports, 3);
  harness h;
  open_mesh(&h);
  load l;
  memset(&l, 0, sizeof l);
  l.h = &h;
  cr_assert_eq(mesh_request_new(&l.req, "GET", "http://svc.mesh/"), MESH_OK);
  l.per_tick = 5; /* every 10 ms */
  l.total_ticks = 2000;
  l.timer = event_new(h.eb, -1, EV_PERSIST, on_load_tick, &l);
  struct timeval tv = {0, 10000};
  event_add(l.timer, &tv);
  double t0 = now_ms();
  while (l.ticks < l.total_ticks || l.x.outstanding > 0) event_base_loop(h.eb, EVLOOP_ONCE);
  double took = now_ms() - t0;
  event_free(l.timer);
  mesh_request_free(l.req);

  int n = l.per_tick * l.total_ticks;
  double success = (double)l.x.ok / n;
  uint64_t retries = stat_of(&h, "upstream_rq_retry"), peak = stat_of(&h, "retry_active_peak"),
           active_peak = stat_of(&h, "rq_active_peak"), overflow = stat_of(&h, "upstream_rq_retry_overflow");
  uint64_t bound = (uint64_t)(budget / 100.0 * (double)active_peak);
  if (bound < min_conc) bound = min_conc;
  fprintf(stderr,
          "acceptance: calls=%d ok=%d success=%.4f%% took_ms=%.0f retries=%llu retry_overflow=%llu "
          "max_attempts=%u attempts[1..4]=%u/%u/%u/%u retry_active_peak=%llu rq_active_peak=%llu bound=%llu\n",
          n, l.x.ok, success * 100, took, (unsigned long long)retries, (unsigned long long)overflow,
          l.x.max_attempts, l.x.attempts_hist[1], l.x.attempts_hist[2], l.x.attempts_hist[3], l.x.attempts_hist[4],
          (unsigned long long)peak, (unsigned long long)active_peak, (unsigned long long)bound);
  cr_expect_eq(l.x.done, n);
  cr_expect_geq(success, 0.999, "success %.4f%%; last failure: %s %s", success * 100, l.x.last_flags,
                l.x.last_detail);
  cr_expect_leq(l.x.max_attempts, 1 + num_retries);
  cr_expect_leq(stat_of(&h, "attempts_max"), 1 + num_retries);
  cr_expect_leq(peak, bound, "concurrent retries %llu above the budget's bound %llu", (unsigned long long)peak,
               (unsigned long long)bound);
  cr_expect_gt(retries, (uint64_t)n / 10, "the faults were exercised");
  expect_drained(&h);
  close_mesh(&h);
}

/* ------------------------------------------------------------ outlier detection, hashing */

/* One endpoint of three always answers 503: after consecutive_5xx of them
 * it is ejected and the calls that follow go to the other two. */
Test(resilience, outlier_detection_ejects_the_failing_endpoint) {
  int ports[3] = {up("--fault", "503:100%", NULL, NULL), up(NULL, NULL, NULL, NULL), up(NULL, NULL, NULL, NULL)};
  write_cfg(NULL,
            "    outlier_detection: {consecutive_5xx: 3, interval: 0.05s, base_ejection_time: 30s,"
            " max_ejection_percent: 100}\n",
            ports, 3);
  harness h;
  open_mesh(&h);
  results x = {0};
  run(&h, &x, "/", 300, 1, 0, 0, NULL, NULL);
  cr_expect_eq(x.status[503], 3, "only the 503s before the ejection reach the caller (%d)", x.status[503]);
  cr_expect_eq(x.status[200], 297);
  spin(&h, 120); /* an interval tick publishes the count */
  cr_expect_eq(stat_of(&h, "outlier_detection.ejections_enforced_total"), 1);
  /* Without outlier detection the same endpoint keeps getting its share. */
  write_cfg(NULL, NULL, ports, 3);
  spin(&h, 400);
  results y = {0};
  run(&h, &y, "/", 30, 1, 0, 0, NULL, NULL);
  cr_expect_eq(y.status[503], 10, "round robin over three again (%d)", y.status[503]);
  expect_drained(&h);
  close_mesh(&h);
}

typedef struct hashed {
  int done, outstanding;
  char endpoint[8][64];
} hashed;

static void on_hashed(const mesh_response *r, void *ud) {
  hashed *x = ud;
  const char *ep = mesh_response_endpoint(r);
  snprintf(x->endpoint[x->done % 8], sizeof x->endpoint[0], "%s", ep ? ep : "");
  x->done++;
  x->outstanding--;
}

/* RING_HASH with a header hash policy: one user's calls stay on one
 * endpoint; different users spread over the endpoints. */
Test(resilience, ring_hash_keeps_a_key_on_one_endpoint) {
  int ports[3] = {up(NULL, NULL, NULL, NULL), up(NULL, NULL, NULL, NULL), up(NULL, NULL, NULL, NULL)};
  write_cfg("hash_policy: [{header: {header_name: x-user}}]", "    lb_policy: RING_HASH\n", ports, 3);
  harness h;
  open_mesh(&h);
  char first[16][64];
  int distinct = 0;
  for (int u = 0; u < 16; u++) {
    char user[16];
    snprintf(user, sizeof user, "user-%d", u);
    mesh_request *req;
    cr_assert_eq(mesh_request_new(&req, "GET", "http://svc.mesh/"), MESH_OK);
    mesh_request_add_header(req, "x-user", user);
    hashed x = {0};
    for (int i = 0; i < 8; i++) {
      cr_assert_eq(mesh_call_start(h.m, req, on_hashed, &x, NULL), MESH_OK);
      x.outstanding++;
    }
    while (x.outstanding) event_base_loop(h.eb, EVLOOP_ONCE);
    for (int i = 1; i < 8; i++) cr_expect_str_eq(x.endpoint[i], x.endpoint[0], "%s moved between endpoints", user);
    snprintf(first[u], sizeof first[u], "%s", x.endpoint[0]);
    int seen = 0;
    for (int k = 0; k < u; k++) seen |= !strcmp(first[k], first[u]);
    distinct += !seen;
    mesh_request_free(req);
  }
  cr_expect_geq(distinct, 2, "16 users all hashed to one endpoint");
  expect_drained(&h);
  close_mesh(&h);
}
