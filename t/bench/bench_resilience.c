/*
 * bench_resilience: what the resilience layer costs a routed call that
 * needs no retry.
 *
 * Routed HTTP/2 calls (config file: one listener, one route, one STATIC
 * cluster of one test upstream), libmesh attached to this process's
 * event_base, 64 calls in flight. Two configs are measured interleaved
 * over several rounds: "none" (no retry policy) and "retry" (retry_on
 * 5xx,reset,connect-failure, 2 retries, previous_hosts; the upstream
 * always answers 200, so no retry happens). Each round warms up, then
 * times N calls; the figure is the process CPU time (user + sys) per
 * call, median over the rounds. The upstream is another process.
 *
 * Output:
 *   bench: case=routed_h2 policy=none calls=N cpu_ns_per_call=...
 *   bench: case=routed_h2 policy=retry calls=N cpu_ns_per_call=...
 *
 * Usage: bench_resilience [--calls N] [--rounds R]; the upstream is
 * $MESH_TEST_UPSTREAM (default ./t/mesh-test-upstream).
 */
#include <errno.h>
#include <event2/event.h>
#include <mesh/mesh.h>
#include <mesh/mesh_event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define INFLIGHT 64
#define WARMUP 5000

static int done, outstanding, fails;

static void on_done(const mesh_response *r, void *ud) {
  (void)ud;
  done++;
  outstanding--;
  if (mesh_response_error(r) != MESH_OK || mesh_response_status(r) != 200) fails++;
}

static double cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

static pid_t start_upstream(int *port) {
  const char *path = getenv("MESH_TEST_UPSTREAM");
  if (!path || !*path) path = "./t/mesh-test-upstream";
  int fds[2];
  if (pipe(fds) < 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execl(path, path, "--port", "0", (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  char line[64] = {0};
  size_t n = 0;
  while (n < sizeof line - 1 && read(fds[0], line + n, 1) == 1 && line[n] != '\n') n++;
  close(fds[0]);
  if (sscanf(line, "port=%d", port) != 1) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
  }
  return pid;
}

static void write_config(const char *path, int port, int retry) {
  FILE *f = fopen(path, "w");
  if (!f) {
    perror(path);
    exit(1);
  }
  fprintf(f,
          "static_resources:\n"
          "  listeners:\n"
          "  - name: svc.mesh\n"
          "    api_listener:\n"
          "      api_listener:\n"
          "        \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager\n"
          "        stat_prefix: svc\n"
          "        route_config:\n"
          "          virtual_hosts:\n"
          "          - name: svc\n"
          "            domains: [\"svc.mesh\"]\n"
          "            routes:\n"
          "            - match: {prefix: \"/\"}\n"
          "              route: {cluster: svc%s}\n"
          "  clusters:\n"
          "  - name: svc\n"
          "    type: STATIC\n"
          "    load_assignment:\n"
          "      cluster_name: svc\n"
          "      endpoints:\n"
          "      - lb_endpoints:\n"
          "        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}\n",
          retry ? ", retry_policy: {retry_on: \"5xx,reset,connect-failure\", num_retries: 2,"
                  " retry_host_predicate: [{name: envoy.retry_host_predicates.previous_hosts}]}"
                : "",
          port);
  fclose(f);
}

/* CPU ns per call over n calls (after a warm-up), or -1. */
static double measure(const char *cfg, int n) {
  struct event_base *eb = event_base_new();
  mesh_options *o;
  mesh *m = NULL;
  mesh_options_new(&o);
  mesh_options_set_event_base(o, eb);
  mesh_options_set_config_file(o, cfg);
  int rc = mesh_new(&m, o);
  mesh_options_free(o);
  if (rc != MESH_OK) {
    fprintf(stderr, "bench_resilience: mesh_new: %s\n", mesh_strerror(rc));
    event_base_free(eb);
    return -1;
  }
  mesh_request *q;
  mesh_request_new(&q, "GET", "http://svc.mesh/");
  mesh_request_set_protocol(q, MESH_PROTOCOL_HTTP2);
  double result = -1;
  for (int phase = 0; phase < 2; phase++) {
    int target = phase ? n : WARMUP, started = 0;
    done = fails = 0;
    double c0 = cpu_ns();
    while (done < target) {
      while (started < target && outstanding < INFLIGHT) {
        mesh_call_start(m, q, on_done, NULL, NULL);
        started++;
        outstanding++;
      }
      event_base_loop(eb, EVLOOP_ONCE);
    }
    if (phase && !fails) result = (cpu_ns() - c0) / n;
  }
  mesh_request_free(q);
  mesh_free(m);
  event_base_free(eb);
  return result;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int calls = 100000, rounds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--calls")) calls = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
  }
  if (calls <= 0 || rounds <= 0 || rounds > 64) {
    fprintf(stderr, "usage: bench_resilience [--calls N] [--rounds R (1..64)]\n");
    return 2;
  }
  int port;
  pid_t up = start_upstream(&port);
  if (up < 0) {
    fprintf(stderr, "bench_resilience: could not start the test upstream\n");
    return 1;
  }
  char cfg[2][128];
  for (int v = 0; v < 2; v++) {
    snprintf(cfg[v], sizeof cfg[v], "/tmp/bench-resilience-%d-%d.yaml", (int)getpid(), v);
    write_config(cfg[v], port, v);
  }
  double t[2][64];
  int ok = 1;
  for (int r = 0; r < rounds && ok; r++)
    for (int v = 0; v < 2 && ok; v++) ok = (t[v][r] = measure(cfg[v], calls)) >= 0;
  for (int v = 0; v < 2; v++) unlink(cfg[v]);
  kill(up, SIGTERM);
  waitpid(up, NULL, 0);
  if (!ok) {
    fprintf(stderr, "bench_resilience: calls failed\n");
    return 1;
  }
  static const char *names[2] = {"none", "retry"};
  for (int v = 0; v < 2; v++) {
    qsort(t[v], (size_t)rounds, sizeof t[v][0], cmp);
    printf("bench: case=routed_h2 policy=%s calls=%d rounds=%d cpu_ns_per_call=%.0f\n", names[v], calls, rounds,
           t[v][rounds / 2]);
  }
  return 0;
}
