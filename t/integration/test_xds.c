/* xDS end to end: the test management server (t/xds/server.c) serves
 * LDS/RDS/CDS/EDS over ADS, libmesh routes real calls to real upstreams by
 * what it received, through the public API. */
#include <criterion/criterion.h>
#include <mesh/mesh.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "envoy/config/cluster/v3/cluster.pb-c.h"
#include "envoy/service/discovery/v3/discovery.pb-c.h"
#include "helpers.h"
#include "xds/server.h"

static upstream up1, up2;
static xds_server *srv;

static void setup(void) {
  cr_assert_eq(upstream_start(&up1), 0);
  cr_assert_eq(upstream_start(&up2), 0);
  srv = xds_server_start(0);
  cr_assert(srv);
}

static void teardown(void) {
  xds_server_free(srv);
  upstream_stop(&up1);
  upstream_stop(&up2);
}

TestSuite(xds, .init = setup, .fini = teardown, .timeout = 60);

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Listener svc.mesh -> RDS "routes" -> cluster `cluster` (EDS); clusters
 * c1 (up1) and c2 (up2) with their load assignments; extra appended. */
static void serve(const char *cluster, const char *extra) {
  char text[8192];
  snprintf(text, sizeof text,
           "- \"@type\": type.googleapis.com/envoy.config.listener.v3.Listener\n"
           "  name: svc.mesh\n"
           "  api_listener:\n"
           "    api_listener:\n"
           "      \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
           "HttpConnectionManager\n"
           "      stat_prefix: svc\n"
           "      rds: {route_config_name: routes, config_source: {ads: {}}}\n"
           "- \"@type\": type.googleapis.com/envoy.config.route.v3.RouteConfiguration\n"
           "  name: routes\n"
           "  virtual_hosts:\n"
           "  - name: all\n"
           "    domains: [\"*\"]\n"
           "    routes:\n"
           "    - match: {prefix: \"/\"}\n"
           "      route: {cluster: %s}\n"
           "- \"@type\": type.googleapis.com/envoy.config.cluster.v3.Cluster\n"
           "  name: c1\n"
           "  type: EDS\n"
           "  connect_timeout: 1s\n"
           "  eds_cluster_config: {eds_config: {ads: {}}}\n"
           "- \"@type\": type.googleapis.com/envoy.config.cluster.v3.Cluster\n"
           "  name: c2\n"
           "  type: EDS\n"
           "  connect_timeout: 1s\n"
           "  eds_cluster_config: {eds_config: {ads: {}}}\n"
           "- \"@type\": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment\n"
           "  cluster_name: c1\n"
           "  endpoints:\n"
           "  - lb_endpoints:\n"
           "    - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}\n"
           "- \"@type\": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment\n"
           "  cluster_name: c2\n"
           "  endpoints:\n"
           "  - lb_endpoints:\n"
           "    - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}\n"
           "%s",
           cluster, up1.port, up2.port, extra ? extra : "");
  cr_assert_eq(xds_server_set(srv, text), 0);
}

static char log_text[8192];
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static void keep_log(int level, const char *msg, void *ud) {
  (void)ud;
  if (level < MESH_LOG_WARN) return;
  pthread_mutex_lock(&log_mu);
  size_t l = strlen(log_text);
  snprintf(log_text + l, sizeof log_text - l, "%s\n", msg);
  pthread_mutex_unlock(&log_mu);
}

static int new_mesh(mesh **m, const char *bootstrap) {
  mesh_options *o;
  cr_assert_eq(mesh_options_new(&o), MESH_OK);
  cr_assert_eq(mesh_options_set_xds_bootstrap_config(o, bootstrap), MESH_OK);
  mesh_options_set_log_callback(o, keep_log, NULL);
  mesh_options_set_connect_timeout_ms(o, 1000);
  int rc = mesh_new(m, o);
  mesh_options_free(o);
  return rc;
}

static mesh *xds_mesh(void) {
  char bs[512];
  snprintf(bs, sizeof bs,
           "{\"xds_servers\": [{\"server_uri\": \"127.0.0.1:%u\", \"channel_creds\": [{\"type\": \"insecure\"}],"
           " \"server_features\": [\"xds_v3\"]}],"
           " \"node\": {\"id\": \"test-node-1\", \"cluster\": \"test\", \"locality\": {\"zone\": \"z1\"},"
           " \"metadata\": {\"app\": \"t\"}}}",
           xds_server_port(srv));
  mesh *m = NULL;
  int rc = new_mesh(&m, bs);
  cr_assert_eq(rc, MESH_OK, "mesh_new: %s\n%s", mesh_strerror(rc), log_text);
  return m;
}

/* One call; its cluster (static buffer) or "" and the error. */
static int call(mesh *m, char *cluster, size_t len) {
  mesh_request *req;
  cr_assert_eq(mesh_request_new(&req, "GET", "http://svc.mesh/x"), MESH_OK);
  mesh_response *resp = NULL;
  int rc = mesh_call_sync(m, req, &resp);
  mesh_request_free(req);
  cluster[0] = 0;
  if (rc == MESH_OK) rc = mesh_response_error(resp);
  if (rc == MESH_OK && mesh_response_status(resp) != 200) rc = MESH_EPROTOCOL;
  if (resp && mesh_response_cluster(resp)) snprintf(cluster, len, "%s", mesh_response_cluster(resp));
  mesh_response_free(resp);
  return rc;
}

/* One call's error detail (static buffer). */
static const char *call_detail(mesh *m) {
  static char detail[256];
  mesh_request *req;
  cr_assert_eq(mesh_request_new(&req, "GET", "http://svc.mesh/x"), MESH_OK);
  mesh_response *resp = NULL;
  int rc = mesh_call_sync(m, req, &resp);
  mesh_request_free(req);
  snprintf(detail, sizeof detail, "%s", rc == MESH_OK && resp ? mesh_response_detail(resp) : mesh_strerror(rc));
  mesh_response_free(resp);
  return detail;
}

/* Poll calls until they reach `want`; ms taken, or -1 after limit_ms. */
static double wait_cluster(mesh *m, const char *want, double limit_ms) {
  double t0 = now_ms();
  char cl[64];
  while (now_ms() - t0 < limit_ms) {
    if (call(m, cl, sizeof cl) == MESH_OK && !strcmp(cl, want)) return now_ms() - t0;
    usleep(1000);
  }
  return -1;
}

static char *dump(mesh *m) {
  char *d = NULL;
  cr_assert_eq(mesh_config_dump(m, &d), MESH_OK);
  return d;
}

Test(xds, lds_rds_cds_eds_route_real_calls) {
  serve("c1", NULL);
  mesh *m = xds_mesh();
  cr_assert_geq(wait_cluster(m, "c1", 5000), 0, "calls never reached c1\n%s", log_text);
  for (int i = 0; i < 20; i++) {
    char cl[64];
    cr_assert_eq(call(m, cl, sizeof cl), MESH_OK);
    cr_assert_str_eq(cl, "c1");
  }
  xds_server_stats st;
  xds_server_get_stats(srv, &st);
  cr_expect_str_eq(st.node_id, "test-node-1");
  for (int t = 0; t < XDS_NTYPES; t++) {
    cr_expect_geq(st.acks[t], 1, "type %d never ACKed", t);
    cr_expect_eq(st.nacks[t], 0, "type %d NACKed: %s", t, st.last_nack[t]);
  }
  char *d = dump(m);
  cr_expect(strstr(d, "\"source\": \"xds\""), "%s", d);
  cr_expect(strstr(d, "\"state\": \"READY\""), "%s", d);
  cr_expect(strstr(d, "\"name\": \"c1\", \"status\": \"ACKED\", \"version\": \"1\", \"in_use\": true"), "%s", d);
  cr_expect(strstr(d, "\"name\": \"routes\", \"status\": \"ACKED\""), "%s", d);
  mesh_string_free(d);
  mesh_free(m);
}

Test(xds, push_switches_route) {
  serve("c1", NULL);
  mesh *m = xds_mesh();
  cr_assert_geq(wait_cluster(m, "c1", 5000), 0, "%s", log_text);
  double t0 = now_ms();
  serve("c2", NULL);
  double ms = wait_cluster(m, "c2", 5000);
  cr_assert_geq(ms, 0, "the push never applied\n%s", log_text);
  /* Loopback; loose bound because the machine is shared. The bench
   * measures the real figure. */
  cr_expect_lt(now_ms() - t0, 1000.0, "push to route took %.1f ms", now_ms() - t0);
  /* Once switched, it stays switched. */
  for (int i = 0; i < 20; i++) {
    char cl[64];
    cr_assert_eq(call(m, cl, sizeof cl), MESH_OK);
    cr_assert_str_eq(cl, "c2");
  }
  mesh_free(m);
}

/* A46: one invalid Cluster in a CDS response: the response is NACKed with
 * a reason naming it, the valid resources of the same response apply. */
Test(xds, invalid_resource_nacked_valid_ones_apply) {
  serve("c1", NULL);
  mesh *m = xds_mesh();
  cr_assert_geq(wait_cluster(m, "c1", 5000), 0, "%s", log_text);
  /* The route moves to c2; a second listener names cluster "bad", an EDS
   * cluster without eds_cluster_config. The CDS response then carries c1,
   * c2 and bad: it is NACKed, and c2 is used all the same. */
  serve("c2",
        "- \"@type\": type.googleapis.com/envoy.config.listener.v3.Listener\n"
        "  name: other.mesh\n"
        "  api_listener:\n"
        "    api_listener:\n"
        "      \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
        "HttpConnectionManager\n"
        "      stat_prefix: o\n"
        "      route_config:\n"
        "        name: other\n"
        "        virtual_hosts:\n"
        "        - name: o\n"
        "          domains: [\"*\"]\n"
        "          routes:\n"
        "          - match: {prefix: \"/\"}\n"
        "            route: {cluster: bad}\n"
        "- \"@type\": type.googleapis.com/envoy.config.cluster.v3.Cluster\n"
        "  name: bad\n"
        "  type: EDS\n");
  cr_assert_geq(wait_cluster(m, "c2", 5000), 0, "valid resources of the NACKed response did not apply\n%s",
                log_text);
  xds_server_stats st;
  double t0 = now_ms();
  do {
    usleep(5000);
    xds_server_get_stats(srv, &st);
  } while (st.nacks[XDS_CDS] == 0 && now_ms() - t0 < 5000);
  cr_assert_geq(st.nacks[XDS_CDS], 1, "no NACK\n%s", log_text);
  cr_expect(strstr(st.last_nack[XDS_CDS], "Cluster \"bad\": eds_cluster_config.eds_config: required"),
            "NACK reason: %s", st.last_nack[XDS_CDS]);
  for (int i = 0; i < 20; i++) {
    char cl[64];
    cr_assert_eq(call(m, cl, sizeof cl), MESH_OK);
    cr_assert_str_eq(cl, "c2");
  }
  char *d = dump(m);
  cr_expect(strstr(d, "\"name\": \"bad\", \"status\": \"NACKED\""), "%s", d);
  cr_expect(strstr(d, "\"last_nack\": \"Cluster version 2: Cluster \\\"bad\\\""), "%s", d);
  /* The listener naming the invalid cluster is not served (R8). */
  cr_expect(strstr(d, "\"name\": \"other.mesh\", \"status\": \"ACKED\", \"version\": \"2\", \"in_use\": false"),
            "%s", d);
  mesh_string_free(d);
  mesh_free(m);
}

/* The control plane goes away for 30 s under 500 calls/s: no call fails,
 * the client reconnects with backoff (and its last versions) and the next
 * push applies. */
#define OUTAGE_S 30
#define OUTAGE_RATE 500
Test(xds, control_plane_outage_under_load, .timeout = 120) {
  serve("c1", NULL);
  mesh *m = xds_mesh();
  cr_assert_geq(wait_cluster(m, "c1", 5000), 0, "%s", log_text);
  xds_server_stats before;
  xds_server_get_stats(srv, &before);
  int calls = 0, failed = 0;
  char last_err[128] = "";
  double t0 = now_ms(), next = t0;
  int stopped = 0, restarted = 0;
  double end = 1000 + OUTAGE_S * 1000 + 1000;
  while (now_ms() - t0 < end) {
    double t = now_ms() - t0;
    if (t > 1000 && !stopped) {
      xds_server_stop(srv);
      stopped = 1;
    }
    if (t > 1000 + OUTAGE_S * 1000 && !restarted) {
      cr_assert_eq(xds_server_restart(srv), 0);
      restarted = 1;
    }
    char cl[64];
    int rc = call(m, cl, sizeof cl);
    calls++;
    if (rc != MESH_OK) {
      failed++;
      snprintf(last_err, sizeof last_err, "%s", mesh_strerror(rc));
    }
    /* Paced, not slept after: OUTAGE_RATE calls a second. */
    next += 1000.0 / OUTAGE_RATE;
    double wait = next - now_ms();
    if (wait > 0) usleep((useconds_t)(wait * 1000));
  }
  double rate = calls / (end / 1000);
  cr_expect_eq(failed, 0, "%d of %d calls failed (%s)", failed, calls, last_err);
#ifdef __SANITIZE_ADDRESS__
  const double min_rate = OUTAGE_RATE * 0.5; /* the sanitizer build is slower; the load still runs */
#else
  const double min_rate = OUTAGE_RATE * 0.95;
#endif
  cr_expect_geq(rate, min_rate, "only %.0f calls/s", rate);
  /* Reconnected (backoff: the next attempt may come up to ~17 s after the
   * restart): a new stream, whose first LDS request carries the last
   * accepted version (xds_protocol: versions survive the stream). */
  xds_server_stats st;
  t0 = now_ms();
  do {
    usleep(10000);
    xds_server_get_stats(srv, &st);
  } while (st.open_streams == 0 && now_ms() - t0 < 40000);
  cr_assert_eq(st.open_streams, 1, "no reconnection\n%s", log_text);
  fprintf(stderr, "outage: %d s down, calls=%d failed=%d rate=%.0f/s, reconnected %.0f ms after the restart\n",
          OUTAGE_S, calls, failed, rate, now_ms() - t0 + 1000);
  cr_expect_gt(st.streams, before.streams);
  cr_expect_str_eq(st.first_version[XDS_LDS], "1");
  cr_expect_str_eq(st.first_version[XDS_CDS], "1");
  char *d = dump(m);
  /* One stream lost, then failed attempts 1 s x 1.6^n apart (+-20%):
   * over 30 s, 5 to 8 of them, not a busy loop. */
  const char *sr = strstr(d, "\"stream_restarts\": ");
  cr_assert(sr, "%s", d);
  int restarts = atoi(sr + 19);
  cr_expect(restarts >= 4 && restarts <= 9, "stream_restarts %d", restarts);
  mesh_string_free(d);
  serve("c2", NULL);
  cr_assert_geq(wait_cluster(m, "c2", 5000), 0, "the push after reconnection did not apply\n%s", log_text);
  mesh_free(m);
}

/* No control plane at all: mesh_new succeeds, calls fail (at once, or
 * within the second after the first connect attempt failed) with
 * ENOROUTE (never bypass the mesh), the dump says why. */
Test(xds, unreachable_control_plane) {
  char bs[512];
  int closed_port_used = closed_port();
  snprintf(bs, sizeof bs,
           "{\"xds_servers\": [{\"server_uri\": \"127.0.0.1:%d\", \"channel_creds\": [{\"type\": \"insecure\"}]}]}",
           closed_port_used);
  mesh *m;
  cr_assert_eq(new_mesh(&m, bs), MESH_OK);
  char cl[64];
  cr_expect_eq(call(m, cl, sizeof cl), MESH_ENOROUTE);
  usleep(200000);
  /* The call's error says the control plane is the cause (A54). */
  char want[128];
  snprintf(want, sizeof want, "no listener for svc.mesh (xDS server 127.0.0.1:%d unreachable: cannot connect",
           closed_port_used);
  const char *det = call_detail(m);
  cr_expect(strstr(det, want), "detail: %s", det);
  char *d = dump(m);
  cr_expect(strstr(d, "\"state\": \"TRANSIENT_FAILURE\"") || strstr(d, "\"state\": \"CONNECTING\""), "%s", d);
  cr_expect(strstr(d, "cannot connect") || strstr(d, "connection"), "%s", d);
  mesh_string_free(d);
  mesh_free(m);
}

/* A bad bootstrap is one error naming the field. */
Test(xds, bad_bootstrap_names_the_field) {
  static const struct {
    const char *text, *want;
  } cases[] = {
      {"{\"xds_servers\": [{\"channel_creds\": [{\"type\": \"insecure\"}]}]}", "xds_servers[0].server_uri: required"},
      {"{\"xds_servers\": [{\"server_uri\": \"a:1\", \"channel_creds\": [{\"type\": \"google_default\"}]}]}",
       "xds_servers[0].channel_creds: no supported type"},
      {"{\"xds_servers\": [{\"server_uri\": \"a:0\", \"channel_creds\": [{\"type\": \"insecure\"}]}]}",
       "xds_servers[0].server_uri: \"a:0\": the port must be 1-65535"},
      {"{\"xds_servers\": []}", "xds_servers: must be a non-empty list"},
      {"{\"xds_servers\": [{\"server_uri\": \"a:1\", \"channel_creds\": [{\"type\": \"insecure\"}]}],"
       " \"node\": {\"locality\": {\"zone\": [1]}}}",
       "node.locality.zone"},
      {"{\"xds_servers\": [{\"server_uri\": \"a:1\", \"channel_creds\": [{\"type\": \"insecure\"}]}],"
       " \"certificate_providers\": {\"p\": {\"config\": {}}}}",
       "certificate_providers[\"p\"].plugin_name: required"},
      {"{", "bootstrap config"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    log_text[0] = 0;
    mesh *m = NULL;
    cr_expect_eq(new_mesh(&m, cases[i].text), MESH_ECONFIG, "case %zu", i);
    cr_expect(strstr(log_text, cases[i].want), "case %zu: want \"%s\" in: %s", i, cases[i].want, log_text);
    if (m) mesh_free(m);
  }
}

/* The environment names the bootstrap, as gRPC's GRPC_XDS_BOOTSTRAP. */
Test(xds, bootstrap_from_environment) {
  serve("c1", NULL);
  char path[128], text[512];
  snprintf(path, sizeof path, "/tmp/mesh-test-bootstrap-%d.json", (int)getpid());
  snprintf(text, sizeof text,
           "{\"xds_servers\": [{\"server_uri\": \"dns:///localhost:%u\", \"channel_creds\": [{\"type\": \"tls\"}, "
           "{\"type\": \"insecure\"}]}], \"node\": {\"id\": \"from-env\"}}",
           xds_server_port(srv));
  write_file_atomic(path, text);
  setenv("GRPC_XDS_BOOTSTRAP", path, 1);
  mesh *m = NULL;
  int rc = mesh_new(&m, NULL);
  unsetenv("GRPC_XDS_BOOTSTRAP");
  unlink(path);
  cr_assert_eq(rc, MESH_OK);
  cr_assert_geq(wait_cluster(m, "c1", 5000), 0, "%s", log_text);
  xds_server_stats st;
  xds_server_get_stats(srv, &st);
  cr_expect_str_eq(st.node_id, "from-env");
  mesh_free(m);
}

/* SotW deletion (R7, gRFC A88): a Listener missing from a later LDS
 * response keeps serving by default; with fail_on_data_errors the deletion
 * is honoured. */
static void serve_without_listener(void) {
  char text[2048];
  snprintf(text, sizeof text,
           "- \"@type\": type.googleapis.com/envoy.config.cluster.v3.Cluster\n"
           "  name: c1\n"
           "  type: STATIC\n"
           "  load_assignment:\n"
           "    cluster_name: c1\n"
           "    endpoints:\n"
           "    - lb_endpoints:\n"
           "      - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}\n",
           up1.port);
  cr_assert_eq(xds_server_set(srv, text), 0);
}

static int lds_acks(void) {
  xds_server_stats st;
  xds_server_get_stats(srv, &st);
  return st.acks[XDS_LDS];
}

Test(xds, listener_deletion_kept_by_default) {
  serve("c1", NULL);
  mesh *m = xds_mesh();
  cr_assert_geq(wait_cluster(m, "c1", 5000), 0, "%s", log_text);
  int acks = lds_acks();
  serve_without_listener();
  for (double t0 = now_ms(); lds_acks() == acks && now_ms() - t0 < 5000;) usleep(2000);
  cr_assert_gt(lds_acks(), acks);
  char cl[64];
  cr_expect_eq(call(m, cl, sizeof cl), MESH_OK, "the cached listener must keep serving");
  char *d = dump(m);
  cr_expect(strstr(d, "deleted by the control plane; cached copy kept"), "%s", d);
  mesh_string_free(d);
  mesh_free(m);
}

Test(xds, listener_deletion_honoured_with_fail_on_data_errors) {
  serve("c1", NULL);
  char bs[512];
  snprintf(bs, sizeof bs,
           "{\"xds_servers\": [{\"server_uri\": \"127.0.0.1:%u\", \"channel_creds\": [{\"type\": \"insecure\"}],"
           " \"server_features\": [\"fail_on_data_errors\"]}], \"node\": {\"id\": \"n\"}}",
           xds_server_port(srv));
  mesh *m;
  cr_assert_eq(new_mesh(&m, bs), MESH_OK);
  cr_assert_geq(wait_cluster(m, "c1", 5000), 0, "%s", log_text);
  int acks = lds_acks();
  serve_without_listener();
  for (double t0 = now_ms(); lds_acks() == acks && now_ms() - t0 < 5000;) usleep(2000);
  usleep(20000);
  /* Not served any more: the call fails, or waits for a listener that
   * the server may send again and times out. */
  mesh_request *req;
  cr_assert_eq(mesh_request_new(&req, "GET", "http://svc.mesh/x"), MESH_OK);
  mesh_request_set_timeout_ms(req, 500);
  mesh_response *resp = NULL;
  cr_assert_eq(mesh_call_sync(m, req, &resp), MESH_OK);
  int e = mesh_response_error(resp);
  cr_expect(e == MESH_ENOROUTE || e == MESH_ETIMEOUT, "a deleted listener still served: %s", mesh_strerror(e));
  mesh_response_free(resp);
  mesh_request_free(req);
  mesh_free(m);
}

/* R5: a subscribed resource the server never sends is DOES_NOT_EXIST
 * after 15 s on a connected stream, and is still accepted later. */
Test(xds, does_not_exist_after_15s_then_accepted, .timeout = 60) {
  char text[1024];
  snprintf(text, sizeof text,
           "- \"@type\": type.googleapis.com/envoy.config.listener.v3.Listener\n"
           "  name: svc.mesh\n"
           "  api_listener:\n"
           "    api_listener:\n"
           "      \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
           "HttpConnectionManager\n"
           "      rds: {route_config_name: routes, config_source: {ads: {}}}\n");
  cr_assert_eq(xds_server_set(srv, text), 0);
  double started = now_ms();
  mesh *m = xds_mesh();
  usleep(1000000);
  char *d = dump(m);
  cr_expect(strstr(d, "\"name\": \"routes\", \"status\": \"REQUESTED\""), "%s", d);
  mesh_string_free(d);
  mesh_request *req;
  cr_assert_eq(mesh_request_new(&req, "GET", "http://svc.mesh/x"), MESH_OK);
  mesh_request_set_timeout_ms(req, 200);
  mesh_response *resp = NULL;
  cr_assert_eq(mesh_call_sync(m, req, &resp), MESH_OK);
  cr_expect_eq(mesh_response_error(resp), MESH_ETIMEOUT, "a listener without its routes is not served (R8): %s",
               mesh_response_detail(resp));
  mesh_response_free(resp);
  mesh_request_free(req);
  int found = 0;
  while (!found && now_ms() - started < 20000) {
    usleep(250000);
    d = dump(m);
    found = strstr(d, "\"name\": \"routes\", \"status\": \"DOES_NOT_EXIST\"") != NULL;
    mesh_string_free(d);
    cr_assert(!found || now_ms() - started >= 14900, "DOES_NOT_EXIST after %.0f ms, before 15 s",
              now_ms() - started);
  }
  cr_assert(found, "never DOES_NOT_EXIST");
  serve("c1", NULL);
  cr_assert_geq(wait_cluster(m, "c1", 5000), 0, "%s", log_text);
  mesh_free(m);
}

/* Incremental xDS, chosen by the bootstrap (server feature delta_xds):
 * routing, a push, unsubscription of what is no longer referenced, a
 * NACK that still applies the valid resources, and a reconnection that
 * re-sends every name with the versions held. */
Test(xds, delta_xds) {
  serve("c1", NULL);
  char bs[512];
  snprintf(bs, sizeof bs,
           "{\"xds_servers\": [{\"server_uri\": \"127.0.0.1:%u\", \"channel_creds\": [{\"type\": \"insecure\"}],"
           " \"server_features\": [\"delta_xds\"]}], \"node\": {\"id\": \"delta-node\"}}",
           xds_server_port(srv));
  mesh *m;
  cr_assert_eq(new_mesh(&m, bs), MESH_OK);
  cr_assert_geq(wait_cluster(m, "c1", 5000), 0, "%s", log_text);
  xds_server_stats st;
  xds_server_get_stats(srv, &st);
  cr_expect_gt(st.delta_requests, 0);
  cr_expect_str_eq(st.node_id, "delta-node");
  char *d = dump(m);
  cr_expect(strstr(d, "\"protocol\": \"delta\""), "%s", d);
  mesh_string_free(d);

  serve("c2", NULL);
  cr_assert_geq(wait_cluster(m, "c2", 5000), 0, "delta push not applied\n%s", log_text);
  /* c1 and its endpoints are no longer referenced: unsubscribed. */
  double t0 = now_ms();
  do {
    usleep(5000);
    xds_server_get_stats(srv, &st);
  } while ((st.unsubscribed[XDS_CDS] == 0 || st.unsubscribed[XDS_EDS] == 0) && now_ms() - t0 < 3000);
  cr_expect_geq(st.unsubscribed[XDS_CDS], 1);
  cr_expect_geq(st.unsubscribed[XDS_EDS], 1);

  /* A46 in delta: back to c1, plus a listener naming an invalid cluster. */
  serve("c1",
        "- \"@type\": type.googleapis.com/envoy.config.listener.v3.Listener\n"
        "  name: other.mesh\n"
        "  api_listener:\n"
        "    api_listener:\n"
        "      \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
        "HttpConnectionManager\n"
        "      route_config:\n"
        "        virtual_hosts:\n"
        "        - name: o\n"
        "          domains: [\"*\"]\n"
        "          routes:\n"
        "          - match: {prefix: \"/\"}\n"
        "            route: {cluster: bad}\n"
        "- \"@type\": type.googleapis.com/envoy.config.cluster.v3.Cluster\n"
        "  name: bad\n"
        "  type: EDS\n");
  cr_assert_geq(wait_cluster(m, "c1", 5000), 0, "%s", log_text);
  t0 = now_ms();
  do {
    usleep(5000);
    xds_server_get_stats(srv, &st);
  } while (st.nacks[XDS_CDS] == 0 && now_ms() - t0 < 3000);
  cr_expect(strstr(st.last_nack[XDS_CDS], "Cluster \"bad\""), "NACK: %s", st.last_nack[XDS_CDS]);

  /* Reconnection: every name again, with the versions held. */
  xds_server_stop(srv);
  usleep(100000);
  cr_assert_eq(xds_server_restart(srv), 0);
  t0 = now_ms();
  do {
    usleep(20000);
    xds_server_get_stats(srv, &st);
  } while ((st.open_streams == 0 || st.initial_versions[XDS_EDS] == 0) && now_ms() - t0 < 8000);
  cr_assert_eq(st.open_streams, 1, "no reconnection\n%s", log_text);
  cr_expect_geq(st.initial_versions[XDS_LDS], 1);
  cr_expect_geq(st.initial_versions[XDS_CDS], 1);
  cr_expect_geq(st.initial_versions[XDS_EDS], 1);
  char cl[64];
  cr_expect_eq(call(m, cl, sizeof cl), MESH_OK);
  serve("c2", NULL);
  cr_assert_geq(wait_cluster(m, "c2", 5000), 0, "push after reconnection not applied\n%s", log_text);
  mesh_free(m);
}

/* unix: targets, as Istio's agent writes them for proxyless clients. */
Test(xds, unix_socket_server_uri) {
  serve("c1", NULL);
  char path[96], bs[512];
  snprintf(path, sizeof path, "/tmp/mesh-xds-%d.sock", (int)getpid());
  cr_assert_eq(xds_server_listen_unix(srv, path), 0);
  snprintf(bs, sizeof bs,
           "{\"xds_servers\": [{\"server_uri\": \"unix://%s\", \"channel_creds\": [{\"type\": \"insecure\"}]}],"
           " \"node\": {\"id\": \"over-unix\"}}",
           path);
  mesh *m;
  cr_assert_eq(new_mesh(&m, bs), MESH_OK, "%s", log_text);
  cr_assert_geq(wait_cluster(m, "c1", 5000), 0, "%s", log_text);
  xds_server_stats st;
  xds_server_get_stats(srv, &st);
  cr_expect_str_eq(st.node_id, "over-unix");
  mesh_free(m);
  unlink(path);
}

/* The CLI shows the same status: meshctl xds BOOTSTRAP. */
Test(xds, meshctl_xds_status) {
  serve("c1", NULL);
  char path[128], text[512], cmd[512];
  snprintf(path, sizeof path, "/tmp/mesh-test-bootstrap-cli-%d.json", (int)getpid());
  snprintf(text, sizeof text,
           "{\"xds_servers\": [{\"server_uri\": \"127.0.0.1:%u\", \"channel_creds\": [{\"type\": \"insecure\"}]}],"
           " \"node\": {\"id\": \"cli\"}}",
           xds_server_port(srv));
  write_file_atomic(path, text);
  const char *top = getenv("top_builddir");
  snprintf(cmd, sizeof cmd, "%s/meshctl xds -w 5000 %s", top && *top ? top : ".", path);
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p);
  static char out[1 << 16];
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = 0;
  int st = pclose(p);
  unlink(path);
  cr_expect_eq(st, 0, "meshctl xds exited with %d:\n%s", st, out);
  cr_expect(strstr(out, "\"state\": \"READY\""), "%s", out);
  cr_expect(strstr(out, "\"name\": \"svc.mesh\", \"status\": \"ACKED\""), "%s", out);
  cr_expect(strstr(out, "\"name\": \"c1\", \"status\": \"ACKED\""), "%s", out);
}

/* A server that serves listeners by name only: the first call to an
 * authority subscribes it and waits for it, as gRPC's xds:/// target
 * does, then is routed. In both protocols. */
static void on_demand(int delta) {
  xds_server_no_wildcard(srv, 1);
  serve("c1", NULL);
  char bs[512];
  snprintf(bs, sizeof bs,
           "{\"xds_servers\": [{\"server_uri\": \"127.0.0.1:%u\", \"channel_creds\": [{\"type\": \"insecure\"}]%s}],"
           " \"node\": {\"id\": \"n\"}}",
           xds_server_port(srv), delta ? ", \"server_features\": [\"delta_xds\"]" : "");
  mesh *m;
  cr_assert_eq(new_mesh(&m, bs), MESH_OK);
  usleep(200000);
  char first[64];
  double t0 = now_ms();
  cr_expect_eq(call(m, first, sizeof first), MESH_OK, "the first call waits for its listener\n%s", log_text);
  cr_expect_str_eq(first, "c1");
  cr_expect_lt(now_ms() - t0, 1000, "the wait is a round trip to the server, not a timer");
  cr_assert_geq(wait_cluster(m, "c1", 5000), 0, "the listener a call named was not subscribed\n%s", log_text);
  char *d = dump(m);
  cr_expect(strstr(d, "\"name\": \"svc.mesh\", \"status\": \"ACKED\""), "%s", d);
  mesh_string_free(d);
  /* Subscriptions survive a reconnection. */
  xds_server_stop(srv);
  cr_assert_eq(xds_server_restart(srv), 0);
  serve("c2", NULL);
  cr_assert_geq(wait_cluster(m, "c2", 8000), 0, "%s", log_text);
  mesh_free(m);
}

Test(xds, listener_subscribed_on_demand_sotw) { on_demand(0); }
Test(xds, listener_subscribed_on_demand_delta) { on_demand(1); }

/* The server ends the stream with a gRPC status (trailers), as when it
 * rebalances: the reason is shown, the client reconnects at once (the
 * stream had answered, gRFC A57) and keeps its config meanwhile. */
Test(xds, stream_ended_with_grpc_status) {
  serve("c1", NULL);
  mesh *m = xds_mesh();
  cr_assert_geq(wait_cluster(m, "c1", 5000), 0, "%s", log_text);
  xds_server_stats before, st;
  xds_server_get_stats(srv, &before);
  xds_server_end_streams(srv, 14, "going away: max connection age%2C 30m");
  double t0 = now_ms();
  do {
    usleep(5000);
    xds_server_get_stats(srv, &st);
  } while (st.streams == before.streams && now_ms() - t0 < 3000);
  cr_expect_gt(st.streams, before.streams, "no new stream");
  cr_expect_lt(now_ms() - t0, 900.0, "reconnection should not wait for a backoff");
  char cl[64];
  cr_expect_eq(call(m, cl, sizeof cl), MESH_OK);
  char *d = dump(m);
  cr_expect(strstr(d, "stream ended with grpc-status 14: going away: max connection age, 30m"), "%s", d);
  mesh_string_free(d);
  serve("c2", NULL);
  cr_assert_geq(wait_cluster(m, "c2", 5000), 0, "%s", log_text);
  mesh_free(m);
}

/* Hostile or broken responses never crash the client nor cost it its
 * config: undecodable bytes, a type it did not ask for, resources of the
 * wrong type, without a name, or twice; then a message over the size
 * bound, which ends the connection. */
static void send_response(const char *type_url, Google__Protobuf__Any **res, size_t n, const char *nonce) {
  Envoy__Service__Discovery__V3__DiscoveryResponse dr = ENVOY__SERVICE__DISCOVERY__V3__DISCOVERY_RESPONSE__INIT;
  dr.type_url = (char *)type_url;
  dr.version_info = "evil";
  dr.nonce = (char *)nonce;
  dr.resources = res;
  dr.n_resources = n;
  size_t len = protobuf_c_message_get_packed_size(&dr.base);
  uint8_t *buf = malloc(len + 1);
  protobuf_c_message_pack(&dr.base, buf);
  xds_server_send_raw(srv, buf, len, 1);
  free(buf);
}

Test(xds, hostile_responses) {
  serve("c1", NULL);
  mesh *m = xds_mesh();
  cr_assert_geq(wait_cluster(m, "c1", 5000), 0, "%s", log_text);
  static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x08, 0x96, 0x01, 0x12};
  xds_server_send_raw(srv, junk, sizeof junk, 1);
  send_response("type.googleapis.com/envoy.config.core.v3.Nope", NULL, 0, "x1");
  /* A Cluster response holding a Listener, a Cluster without a name, and
   * the same Cluster twice. */
  Envoy__Config__Cluster__V3__Cluster noname = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__INIT;
  uint8_t nb[64];
  size_t nl = protobuf_c_message_pack(&noname.base, nb);
  Envoy__Config__Cluster__V3__Cluster c1 = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__INIT;
  c1.name = "c1";
  c1.cluster_discovery_type_case = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__CLUSTER_DISCOVERY_TYPE_TYPE;
  c1.type = ENVOY__CONFIG__CLUSTER__V3__CLUSTER__DISCOVERY_TYPE__STATIC;
  uint8_t cb[64];
  size_t cl1 = protobuf_c_message_pack(&c1.base, cb);
  Google__Protobuf__Any a[4];
  Google__Protobuf__Any *ap[4];
  for (int i = 0; i < 4; i++) {
    google__protobuf__any__init(&a[i]);
    ap[i] = &a[i];
  }
  a[0].type_url = "type.googleapis.com/envoy.config.listener.v3.Listener";
  a[1].type_url = a[2].type_url = a[3].type_url = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
  a[1].value.data = nb;
  a[1].value.len = nl;
  a[2].value.data = a[3].value.data = cb;
  a[2].value.len = a[3].value.len = cl1;
  send_response("type.googleapis.com/envoy.config.cluster.v3.Cluster", ap, 4, "x2");
  xds_server_stats st;
  double t0 = now_ms();
  do {
    usleep(5000);
    xds_server_get_stats(srv, &st);
  } while (st.nacks[XDS_CDS] == 0 && now_ms() - t0 < 3000);
  cr_assert_geq(st.nacks[XDS_CDS], 1);
  cr_expect(strstr(st.last_nack[XDS_CDS], "resources[0]: type \"type.googleapis.com/envoy.config.listener.v3.Listener\" "
                                          "in a Cluster response"), "%s", st.last_nack[XDS_CDS]);
  cr_expect(strstr(st.last_nack[XDS_CDS], "resources[1]: Cluster without a name"), "%s", st.last_nack[XDS_CDS]);
  cr_expect(strstr(st.last_nack[XDS_CDS], "Cluster \"c1\": appears twice in the response"), "%s",
            st.last_nack[XDS_CDS]);
  /* Still routed by c1: the cached cluster was not replaced by the
   * NACKed response's broken copy... */
  char cl[64];
  cr_expect_eq(call(m, cl, sizeof cl), MESH_OK);
  /* ...and a message over the 64 MiB bound ends the connection. */
  xds_server_get_stats(srv, &st);
  int streams = st.streams;
  static const uint8_t huge[] = {0, 0x7f, 0xff, 0xff, 0xff};
  xds_server_send_raw(srv, huge, sizeof huge, 0);
  t0 = now_ms();
  do {
    usleep(5000);
    xds_server_get_stats(srv, &st);
  } while (st.streams == streams && now_ms() - t0 < 3000);
  cr_expect_gt(st.streams, streams, "no reconnection after an oversized message");
  char *d = dump(m);
  cr_expect(strstr(d, "exceeds the bound"), "%s", d);
  mesh_string_free(d);
  cr_expect_eq(call(m, cl, sizeof cl), MESH_OK);
  cr_expect_str_eq(cl, "c1");
  mesh_free(m);
}

/* R8: a route does not switch to a cluster whose endpoints have not
 * arrived; calls keep the previous route until they do. */
Test(xds, route_waits_for_cluster_endpoints) {
  serve("c1", NULL);
  mesh *m = xds_mesh();
  cr_assert_geq(wait_cluster(m, "c1", 5000), 0, "%s", log_text);
  static const char c3[] =
      "- \"@type\": type.googleapis.com/envoy.config.cluster.v3.Cluster\n"
      "  name: c3\n"
      "  type: EDS\n"
      "  eds_cluster_config: {eds_config: {ads: {}}}\n";
  serve("c3", c3); /* no ClusterLoadAssignment for c3 yet */
  xds_server_stats st;
  double t0 = now_ms();
  do {
    usleep(5000);
    xds_server_get_stats(srv, &st);
  } while (st.acks[XDS_CDS] < 2 && now_ms() - t0 < 3000);
  usleep(100000);
  for (int i = 0; i < 50; i++) {
    char cl[64];
    cr_assert_eq(call(m, cl, sizeof cl), MESH_OK, "a call failed while c3 had no endpoints");
    cr_assert_str_eq(cl, "c1");
  }
  char *d = dump(m);
  cr_expect(strstr(d, "\"name\": \"routes\", \"status\": \"ACKED\", \"version\": \"2\", \"in_use\": true"), "%s", d);
  cr_expect(strstr(d, "\"name\": \"c3\", \"status\": \"REQUESTED\""), "the endpoints of c3 are awaited: %s", d);
  mesh_string_free(d);
  char text[1024];
  snprintf(text, sizeof text,
           "%s- \"@type\": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment\n"
           "  cluster_name: c3\n"
           "  endpoints:\n"
           "  - lb_endpoints:\n"
           "    - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}\n",
           c3, up2.port);
  serve("c3", text);
  cr_assert_geq(wait_cluster(m, "c3", 5000), 0, "%s", log_text);
  mesh_free(m);
}

/* A server that never answers (here the HTTP test upstream, which waits
 * for the end of a request body that never comes): in SotW this cannot be
 * told from "nothing exists" (gRFC A57). No crash; a call waits for its
 * listener until its own deadline (or the 15 s does-not-exist time) and
 * says why it ended; the listener is awaited. */
Test(xds, silent_server) {
  char bs[512];
  snprintf(bs, sizeof bs,
           "{\"xds_servers\": [{\"server_uri\": \"127.0.0.1:%d\", \"channel_creds\": [{\"type\": \"insecure\"}]}]}",
           up1.port);
  mesh *m;
  cr_assert_eq(new_mesh(&m, bs), MESH_OK);
  usleep(300000);
  mesh_request *req;
  cr_assert_eq(mesh_request_new(&req, "GET", "http://svc.mesh/x"), MESH_OK);
  mesh_request_set_timeout_ms(req, 300);
  mesh_response *resp = NULL;
  double t0 = now_ms();
  cr_assert_eq(mesh_call_sync(m, req, &resp), MESH_OK);
  cr_expect_eq(mesh_response_error(resp), MESH_ETIMEOUT);
  cr_expect_geq(now_ms() - t0, 250, "the call waited for its listener");
  cr_expect(strstr(mesh_response_detail(resp), "waiting for its listener from the xDS server"), "detail: %s",
            mesh_response_detail(resp));
  mesh_response_free(resp);
  mesh_request_free(req);
  char *d = dump(m);
  cr_expect(strstr(d, "\"name\": \"svc.mesh\", \"status\": \"REQUESTED\""), "%s", d);
  mesh_string_free(d);
  mesh_free(m);
}

/* The server as a process, killed with SIGKILL under load and started
 * again on the same port with other resources. */
static pid_t spawn_server(const char *file, int port, int *port_out) {
  const char *top = getenv("top_builddir");
  char exe[512], portarg[16];
  snprintf(exe, sizeof exe, "%s/t/mesh-test-xds-server", top && *top ? top : ".");
  snprintf(portarg, sizeof portarg, "%d", port);
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execl(exe, exe, "--port", portarg, file, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  char line[64] = "";
  size_t n = 0;
  while (n < sizeof line - 1 && read(fds[0], line + n, 1) == 1 && line[n] != '\n') n++;
  close(fds[0]);
  cr_assert(!strncmp(line, "port=", 5), "%s did not start: \"%s\"", exe, line);
  *port_out = atoi(line + 5);
  return pid;
}

static void write_resources(const char *path, const char *cluster) {
  char text[4096];
  snprintf(text, sizeof text,
           "- {\"@type\": type.googleapis.com/envoy.config.listener.v3.Listener, name: svc.mesh, api_listener: "
           "{api_listener: {\"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager."
           "v3.HttpConnectionManager, stat_prefix: s, rds: {route_config_name: r, config_source: {ads: {}}}}}}\n"
           "- {\"@type\": type.googleapis.com/envoy.config.route.v3.RouteConfiguration, name: r, virtual_hosts: "
           "[{name: all, domains: [\"*\"], routes: [{match: {prefix: /}, route: {cluster: %s}}]}]}\n"
           "- {\"@type\": type.googleapis.com/envoy.config.cluster.v3.Cluster, name: %s, type: STATIC, "
           "load_assignment: {cluster_name: %s, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: "
           "{address: 127.0.0.1, port_value: %d}}}}]}]}}\n",
           cluster, cluster, cluster, !strcmp(cluster, "c1") ? up1.port : up2.port);
  write_file_atomic(path, text);
}

Test(xds, server_process_killed_and_restarted) {
  char file[128];
  snprintf(file, sizeof file, "/tmp/mesh-test-xds-res-%d.yaml", (int)getpid());
  write_resources(file, "c1");
  int port;
  pid_t pid = spawn_server(file, 0, &port);
  char bs[512];
  snprintf(bs, sizeof bs,
           "{\"xds_servers\": [{\"server_uri\": \"127.0.0.1:%d\", \"channel_creds\": [{\"type\": \"insecure\"}]}]}",
           port);
  mesh *m;
  cr_assert_eq(new_mesh(&m, bs), MESH_OK);
  cr_assert_geq(wait_cluster(m, "c1", 5000), 0, "%s", log_text);
  /* SIGHUP: the change on cue. */
  write_resources(file, "c2");
  kill(pid, SIGHUP);
  cr_assert_geq(wait_cluster(m, "c2", 5000), 0, "%s", log_text);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  int failed = 0, calls = 0;
  for (double t0 = now_ms(); now_ms() - t0 < 1500; calls++) {
    char cl[64];
    if (call(m, cl, sizeof cl) != MESH_OK || strcmp(cl, "c2")) failed++;
    usleep(2000);
  }
  cr_expect_eq(failed, 0, "%d of %d calls failed with the control plane dead", failed, calls);
  write_resources(file, "c1");
  int port2;
  pid = spawn_server(file, port, &port2);
  cr_assert_eq(port2, port);
  cr_expect_geq(wait_cluster(m, "c1", 8000), 0, "not reconnected to the restarted server\n%s", log_text);
  mesh_free(m);
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  unlink(file);
}
