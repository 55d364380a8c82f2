/* xDS benchmarks.
 *
 *   xds_push_to_route: the test xDS server pushes a route change (the
 *   route moves between two EDS clusters); the time until calls through
 *   libmesh reach the new cluster, polled with back-to-back calls on
 *   loopback. Median and p90 of 40 pushes.
 *
 *   xds_scale: 10,000 EDS clusters with 100,000 endpoints (10 each), one
 *   route per cluster, served by the test server in a child process. The
 *   time from mesh_new() until a call to the last cluster is routed (one
 *   connection, four ADS round trips, decoding, validation, translation,
 *   publication), and this process's resident memory after that (the
 *   server's memory is in the child).
 *
 *   xds_outage: 500 calls/s; the control plane is killed for 30 s and
 *   started again; then a push moves the route. Failed calls (must be 0),
 *   the time from the restart to the new ADS stream (jittered backoff:
 *   after 30 s away the next attempt may be up to ~17 s later), and from
 *   the push to calls reaching the new cluster. `bench_xds outage`.
 *
 * Loopback; the machine may be shared, so figures are noisy. */
#include <mesh/mesh.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../integration/helpers.h"
#include "xds/server.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void quiet(int level, const char *msg, void *ud) {
  (void)ud;
  if (level >= MESH_LOG_ERROR) fprintf(stderr, "libmesh: %s\n", msg);
}

static mesh *xds_mesh(unsigned port) {
  char bs[512];
  snprintf(bs, sizeof bs,
           "{\"xds_servers\": [{\"server_uri\": \"127.0.0.1:%u\", \"channel_creds\": [{\"type\": \"insecure\"}]}],"
           " \"node\": {\"id\": \"bench\"}}",
           port);
  mesh_options *o;
  mesh *m = NULL;
  mesh_options_new(&o);
  mesh_options_set_xds_bootstrap_config(o, bs);
  mesh_options_set_log_callback(o, quiet, NULL);
  mesh_options_set_connect_timeout_ms(o, 1000);
  mesh_options_set_default_timeout_ms(o, 2000);
  if (mesh_new(&m, o) != MESH_OK) {
    fprintf(stderr, "mesh_new failed\n");
    exit(1);
  }
  mesh_options_free(o);
  return m;
}

/* One call; 0 when it was routed to cluster want (any outcome but
 * "no route" counts as routed when want is NULL). */
static int routed(mesh *m, const char *url, const char *want) {
  mesh_request *req;
  mesh_request_new(&req, "GET", url);
  mesh_response *resp = NULL;
  int rc = mesh_call_sync(m, req, &resp);
  mesh_request_free(req);
  int ok = 0;
  if (rc == MESH_OK && resp) {
    int err = mesh_response_error(resp);
    const char *cl = mesh_response_cluster(resp);
    if (want) ok = err == MESH_OK && cl && !strcmp(cl, want);
    else ok = err != MESH_ENOROUTE;
  }
  mesh_response_free(resp);
  return ok ? 0 : -1;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void serve(xds_server *s, const char *cluster, int p1, int p2) {
  char text[4096];
  snprintf(text, sizeof text,
           "- {\"@type\": type.googleapis.com/envoy.config.listener.v3.Listener, name: svc.mesh, api_listener: "
           "{api_listener: {\"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager."
           "v3.HttpConnectionManager, stat_prefix: s, rds: {route_config_name: r, config_source: {ads: {}}}}}}\n"
           "- {\"@type\": type.googleapis.com/envoy.config.route.v3.RouteConfiguration, name: r, virtual_hosts: "
           "[{name: all, domains: [\"*\"], routes: [{match: {prefix: /}, route: {cluster: %s}}]}]}\n"
           "- {\"@type\": type.googleapis.com/envoy.config.cluster.v3.Cluster, name: c1, type: EDS, "
           "eds_cluster_config: {eds_config: {ads: {}}}}\n"
           "- {\"@type\": type.googleapis.com/envoy.config.cluster.v3.Cluster, name: c2, type: EDS, "
           "eds_cluster_config: {eds_config: {ads: {}}}}\n"
           "- {\"@type\": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment, cluster_name: c1, "
           "endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]}\n"
           "- {\"@type\": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment, cluster_name: c2, "
           "endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]}\n",
           cluster, p1, p2);
  if (xds_server_set(s, text) != 0) exit(1);
}

static void bench_push(void) {
  upstream u1, u2;
  if (upstream_start(&u1) || upstream_start(&u2)) {
    fprintf(stderr, "bench_xds: cannot start the test upstream (set MESH_TEST_UPSTREAM)\n");
    exit(1);
  }
  xds_server *s = xds_server_start(0);
  serve(s, "c1", u1.port, u2.port);
  mesh *m = xds_mesh(xds_server_port(s));
  double t0 = now_ms();
  while (routed(m, "http://svc.mesh/", "c1") != 0)
    if (now_ms() - t0 > 10000) {
      fprintf(stderr, "bench_xds: the first config never applied\n");
      exit(1);
    }
  enum { N = 40 };
  double ms[N];
  for (int i = 0; i < N; i++) {
    const char *want = i % 2 ? "c1" : "c2";
    double start = now_ms();
    serve(s, want, u1.port, u2.port);
    while (routed(m, "http://svc.mesh/", want) != 0)
      if (now_ms() - start > 10000) {
        fprintf(stderr, "bench_xds: push %d never applied\n", i);
        exit(1);
      }
    ms[i] = now_ms() - start;
  }
  qsort(ms, N, sizeof ms[0], cmp_double);
  printf("bench: case=xds_push_to_route pushes=%d p50_ms=%.2f p90_ms=%.2f max_ms=%.2f\n", N, ms[N / 2],
         ms[N * 9 / 10], ms[N - 1]);
  mesh_free(m);
  xds_server_free(s);
  upstream_stop(&u1);
  upstream_stop(&u2);
}

static double rss_mb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  double kb = 0;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) kb = atof(line + 6);
  if (f) fclose(f);
  return kb / 1024;
}

/* Append to a growing string. */
typedef struct sbuf {
  char *p;
  size_t n, cap;
} sbuf;
static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if ((size_t)n < b->cap - b->n) {
      b->n += (size_t)n;
      return;
    }
    b->cap = b->cap * 2 + (size_t)n + 1;
    b->p = realloc(b->p, b->cap);
  }
}

enum { CLUSTERS = 10000, PER_CLUSTER = 10 };

static pid_t scale_server(unsigned *port) {
  int fds[2];
  if (pipe(fds)) exit(1);
  pid_t pid = fork();
  if (pid < 0) exit(1);
  if (pid > 0) {
    close(fds[1]);
    if (read(fds[0], port, sizeof *port) != sizeof *port) {
      fprintf(stderr, "bench_xds: the scale server did not start\n");
      exit(1);
    }
    close(fds[0]);
    return pid;
  }
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  close(fds[0]);
  sbuf b = {malloc(1 << 20), 0, 1 << 20};
  sb_printf(&b, "- {\"@type\": type.googleapis.com/envoy.config.listener.v3.Listener, name: svc.mesh, api_listener: "
                "{api_listener: {\"@type\": type.googleapis.com/envoy.extensions.filters.network."
                "http_connection_manager.v3.HttpConnectionManager, stat_prefix: s, rds: {route_config_name: r, "
                "config_source: {ads: {}}}}}}\n"
                "- {\"@type\": type.googleapis.com/envoy.config.route.v3.RouteConfiguration, name: r, "
                "virtual_hosts: [{name: all, domains: [\"*\"], routes: [\n");
  for (int i = CLUSTERS - 1; i >= 0; i--)
    sb_printf(&b, "  {match: {path: /c%d}, route: {cluster: c%d}}%s\n", i, i, i ? "," : "");
  sb_printf(&b, "]}]}\n");
  for (int i = 0; i < CLUSTERS; i++)
    sb_printf(&b, "- {\"@type\": type.googleapis.com/envoy.config.cluster.v3.Cluster, name: c%d, type: EDS, "
                  "eds_cluster_config: {eds_config: {ads: {}}}}\n", i);
  for (int i = 0; i < CLUSTERS; i++) {
    sb_printf(&b, "- {\"@type\": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment, cluster_name: "
                  "c%d, endpoints: [{lb_endpoints: [", i);
    for (int j = 0; j < PER_CLUSTER; j++)
      sb_printf(&b, "%s{endpoint: {address: {socket_address: {address: 10.%d.%d.%d, port_value: 8080}}}}",
                j ? ", " : "", (i >> 8) & 255, i & 255, j + 1);
    sb_printf(&b, "]}]}\n");
  }
  xds_server *s = xds_server_start(0);
  if (!s || xds_server_set(s, b.p) != 0) _exit(1);
  free(b.p);
  unsigned p = xds_server_port(s);
  if (write(fds[1], &p, sizeof p) != sizeof p) _exit(1);
  for (;;) pause();
}

static void bench_scale(void) {
  unsigned port;
  pid_t pid = scale_server(&port);
  double rss0 = rss_mb();
  double t0 = now_ms();
  mesh *m = xds_mesh(port);
  char url[64];
  snprintf(url, sizeof url, "http://svc.mesh/c%d", CLUSTERS - 1);
  while (routed(m, url, NULL) != 0) {
    if (now_ms() - t0 > 60000) {
      fprintf(stderr, "bench_xds: the scale config never applied\n");
      exit(1);
    }
    usleep(1000);
  }
  double apply = now_ms() - t0;
  double rss = rss_mb();
  printf("bench: case=xds_scale clusters=%d endpoints=%d apply_ms=%.0f rss_mb=%.1f rss_before_mb=%.1f\n", CLUSTERS,
         CLUSTERS * PER_CLUSTER, apply, rss, rss0);
  mesh_free(m);
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
}

typedef struct outage {
  int started, done, failed, c2;
  char last_err[128];
  pthread_mutex_t mu;
} outage;

static void on_outage_call(const mesh_response *r, void *ud) {
  outage *o = ud;
  pthread_mutex_lock(&o->mu);
  o->done++;
  if (mesh_response_error(r) != MESH_OK || mesh_response_status(r) != 200) {
    o->failed++;
    snprintf(o->last_err, sizeof o->last_err, "%s: %s", mesh_strerror(mesh_response_error(r)),
             mesh_response_detail(r));
  } else if (mesh_response_cluster(r) && !strcmp(mesh_response_cluster(r), "c2")) {
    o->c2++;
  }
  pthread_mutex_unlock(&o->mu);
}

static void bench_outage(int seconds) {
  upstream u1, u2;
  if (upstream_start(&u1) || upstream_start(&u2)) exit(1);
  xds_server *s = xds_server_start(0);
  serve(s, "c1", u1.port, u2.port);
  mesh *m = xds_mesh(xds_server_port(s));
  double t0 = now_ms();
  while (routed(m, "http://svc.mesh/", "c1") != 0)
    if (now_ms() - t0 > 10000) exit(1);
  mesh_request *req;
  mesh_request_new(&req, "GET", "http://svc.mesh/");
  outage o = {0, 0, 0, 0, "", PTHREAD_MUTEX_INITIALIZER};
  enum { RATE = 500 };
  double start = now_ms(), killed_at = start + 3000, back_at = killed_at + seconds * 1000.0;
  double reconnect_ms = -1, push_ms = -1, pushed_at = 0;
  int phase = 0, c2_before = 0;
  xds_server_stats st0;
  xds_server_get_stats(s, &st0);
  for (;;) {
    double t = now_ms();
    /* Calls at RATE per second, on schedule. */
    while (o.started < (t - start) * RATE / 1000.0) {
      if (mesh_call_start(m, req, on_outage_call, &o, NULL) != MESH_OK) exit(1);
      o.started++;
    }
    if (phase == 0 && t >= killed_at) {
      xds_server_stop(s);
      phase = 1;
    } else if (phase == 1 && t >= back_at) {
      if (xds_server_restart(s) != 0) exit(1);
      phase = 2;
    } else if (phase == 2) {
      xds_server_stats st;
      xds_server_get_stats(s, &st);
      if (st.open_streams > 0 && st.acks[XDS_EDS] > 0 && st.streams > st0.streams) {
        reconnect_ms = t - back_at;
        pthread_mutex_lock(&o.mu);
        c2_before = o.c2;
        pthread_mutex_unlock(&o.mu);
        pushed_at = now_ms();
        serve(s, "c2", u1.port, u2.port);
        phase = 3;
      } else if (t - back_at > 180000) {
        fprintf(stderr, "bench_xds: no reconnection within 180 s\n");
        exit(1);
      }
    } else if (phase == 3) {
      pthread_mutex_lock(&o.mu);
      int c2 = o.c2;
      pthread_mutex_unlock(&o.mu);
      if (c2 > c2_before) {
        push_ms = t - pushed_at;
        phase = 4;
      }
    } else if (phase == 4 && t - pushed_at > 2000) {
      break;
    }
    usleep(500);
  }
  for (double w = now_ms(); now_ms() - w < 5000;) {
    pthread_mutex_lock(&o.mu);
    int done = o.done;
    pthread_mutex_unlock(&o.mu);
    if (done == o.started) break;
    usleep(1000);
  }
  printf("bench: case=xds_outage down_s=%d rate=%d calls=%d failed=%d reconnect_ms=%.0f push_after_ms=%.1f%s%s\n",
         seconds, RATE, o.started, o.failed, reconnect_ms, push_ms, o.failed ? " last_error=" : "",
         o.failed ? o.last_err : "");
  mesh_request_free(req);
  mesh_free(m);
  xds_server_free(s);
  upstream_stop(&u1);
  upstream_stop(&u2);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  const char *only = argc > 1 ? argv[1] : "";
  if (!*only || !strcmp(only, "push")) bench_push();
  if (!*only || !strcmp(only, "scale")) bench_scale();
  if (!*only || !strcmp(only, "outage")) bench_outage(argc > 2 ? atoi(argv[2]) : 30);
  return 0;
}
