/* meshctl: libmesh from the shell. Validate a config file, print what
 * libmesh holds, or make a call and show which route, cluster and
 * endpoint served it. See meshctl(1). */
#include <mesh/mesh.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int usage(FILE *f) {
  fprintf(f,
          "usage: meshctl validate FILE\n"
          "       meshctl dump FILE\n"
          "       meshctl xds [-w MS] [BOOTSTRAP]\n"
          "       meshctl call [-X METHOD] [-H 'name: value']... [-d BODY] [--http2] [-i] [-t MS] FILE URL\n"
          "       meshctl version\n");
  return f == stderr ? 2 : 0;
}

static mesh *open_mesh(const char *file, int http2) {
  mesh_options *o;
  mesh *m = NULL;
  if (mesh_options_new(&o) != MESH_OK) return NULL;
  if (file) mesh_options_set_config_file(o, file);
  if (http2) mesh_options_set_protocol(o, MESH_PROTOCOL_HTTP2);
  int rc = mesh_new(&m, o);
  mesh_options_free(o);
  if (rc != MESH_OK) fprintf(stderr, "meshctl: %s\n", mesh_strerror(rc));
  return m;
}

static int cmd_validate(const char *file) {
  char err[1024];
  if (mesh_config_check_file(file, err, sizeof err) != MESH_OK) {
    fprintf(stderr, "meshctl: %s\n", err);
    return 1;
  }
  /* Loading it logs what it ignores (unknown or unsupported fields). */
  mesh *m = open_mesh(file, 0);
  mesh_free(m);
  printf("%s: valid\n", file);
  return 0;
}

static int cmd_dump(const char *file) {
  mesh *m = open_mesh(file, 0);
  if (!m) return 1;
  char *dump;
  int rc = mesh_config_dump(m, &dump);
  if (rc == MESH_OK) {
    fputs(dump, stdout);
    fputc('\n', stdout);
    mesh_string_free(dump);
  } else {
    fprintf(stderr, "meshctl: %s\n", mesh_strerror(rc));
  }
  mesh_free(m);
  return rc == MESH_OK ? 0 : 1;
}

static int cmd_call(int argc, char **argv) {
  const char *method = "GET", *body = NULL, *file = NULL, *url = NULL;
  const char *headers[64];
  int nheaders = 0, http2 = 0, show_headers = 0;
  unsigned long timeout_ms = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-X") && i + 1 < argc) method = argv[++i];
    else if (!strcmp(a, "-H") && i + 1 < argc && nheaders < 64) headers[nheaders++] = argv[++i];
    else if (!strcmp(a, "-d") && i + 1 < argc) body = argv[++i];
    else if (!strcmp(a, "-t") && i + 1 < argc) timeout_ms = strtoul(argv[++i], NULL, 10);
    else if (!strcmp(a, "--http2")) http2 = 1;
    else if (!strcmp(a, "-i")) show_headers = 1;
    else if (a[0] == '-') return usage(stderr);
    else if (!file) file = a;
    else if (!url) url = a;
    else return usage(stderr);
  }
  if (!file || !url) return usage(stderr);
  mesh_request *req;
  int rc = mesh_request_new(&req, method, url);
  if (rc != MESH_OK) {
    fprintf(stderr, "meshctl: bad method or URL: %s\n", mesh_strerror(rc));
    return 2;
  }
  for (int i = 0; i < nheaders; i++) {
    char name[256];
    const char *colon = strchr(headers[i], ':');
    size_t nl = colon ? (size_t)(colon - headers[i]) : 0;
    if (!colon || nl == 0 || nl >= sizeof name) {
      fprintf(stderr, "meshctl: bad header '%s' (want 'name: value')\n", headers[i]);
      mesh_request_free(req);
      return 2;
    }
    memcpy(name, headers[i], nl);
    name[nl] = '\0';
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t') v++;
    if (mesh_request_add_header(req, name, v) != MESH_OK) {
      fprintf(stderr, "meshctl: header '%s' not allowed\n", name);
      mesh_request_free(req);
      return 2;
    }
  }
  if (body) mesh_request_set_body(req, body, strlen(body));
  if (timeout_ms) mesh_request_set_timeout_ms(req, (uint32_t)timeout_ms);
  mesh *m = open_mesh(file, http2);
  if (!m) {
    mesh_request_free(req);
    return 1;
  }
  mesh_response *resp;
  rc = mesh_call_sync(m, req, &resp);
  int status = 1;
  if (rc != MESH_OK) {
    fprintf(stderr, "meshctl: %s\n", mesh_strerror(rc));
  } else {
    const char *route = mesh_response_route(resp), *cluster = mesh_response_cluster(resp),
               *ep = mesh_response_endpoint(resp);
    fprintf(stderr, "route=%s cluster=%s endpoint=%s\n", route ? route : "-", cluster ? cluster : "-",
            ep ? ep : "-");
    if (mesh_response_error(resp) != MESH_OK) {
      fprintf(stderr, "meshctl: %s: %s\n", mesh_strerror(mesh_response_error(resp)), mesh_response_detail(resp));
    } else {
      status = mesh_response_status(resp) < 400 ? 0 : 1;
      if (show_headers) {
        printf("status: %d\n", mesh_response_status(resp));
        for (size_t i = 0; i < mesh_response_header_count(resp); i++) {
          const char *n, *v;
          mesh_response_header_at(resp, i, &n, &v);
          printf("%s: %s\n", n, v);
        }
        printf("\n");
      } else {
        fprintf(stderr, "status=%d\n", mesh_response_status(resp));
      }
      size_t len;
      const void *b = mesh_response_body(resp, &len);
      fwrite(b, 1, len, stdout);
    }
    mesh_response_free(resp);
  }
  mesh_request_free(req);
  mesh_free(m);
  return status;
}

/* Connect to the control plane a bootstrap names (the file given, else
 * GRPC_XDS_BOOTSTRAP and the like), wait until the stream is up and no
 * subscribed resource is still awaited (or MS ms pass), print the dump:
 * connection state, per resource status, NACK reasons. */
static int cmd_xds(int argc, char **argv) {
  const char *bootstrap = NULL;
  long wait_ms = 3000;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "-w") && i + 1 < argc) {
      char *end;
      wait_ms = strtol(argv[++i], &end, 10);
      if (*end || wait_ms < 0) return usage(stderr);
    } else if (!bootstrap && argv[i][0] != '-') {
      bootstrap = argv[i];
    } else {
      return usage(stderr);
    }
  }
  mesh_options *o;
  mesh *m = NULL;
  if (mesh_options_new(&o) != MESH_OK) return 1;
  if (bootstrap) mesh_options_set_xds_bootstrap(o, bootstrap);
  int rc = mesh_new(&m, o);
  mesh_options_free(o);
  if (rc != MESH_OK) {
    fprintf(stderr, "meshctl: %s\n", mesh_strerror(rc));
    return 1;
  }
  char *dump = NULL;
  int ready = 0;
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    mesh_string_free(dump);
    dump = NULL;
    if (mesh_config_dump(m, &dump) != MESH_OK) break;
    if (!strstr(dump, "\"xds\": ")) {
      fprintf(stderr, "meshctl: no xDS bootstrap (give one, or set GRPC_XDS_BOOTSTRAP)\n");
      break;
    }
    /* Up, something received, nothing still awaited. */
    ready = strstr(dump, "\"state\": \"READY\"") && !strstr(dump, "\"status\": \"REQUESTED\"") &&
            strstr(dump, "\"status\": ");
    clock_gettime(CLOCK_MONOTONIC, &t);
    long el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
    if (ready || el >= wait_ms) break;
    usleep(100000);
  }
  if (dump) {
    fputs(dump, stdout);
    fputc('\n', stdout);
    mesh_string_free(dump);
  }
  mesh_free(m);
  return ready ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc < 2) return usage(stderr);
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) return usage(stdout);
  if (!strcmp(cmd, "version")) {
    printf("meshctl (libmesh %s)\n", mesh_version());
    return 0;
  }
  if (!strcmp(cmd, "validate") && argc == 3) return cmd_validate(argv[2]);
  if (!strcmp(cmd, "dump") && argc == 3) return cmd_dump(argv[2]);
  if (!strcmp(cmd, "call")) return cmd_call(argc - 2, argv + 2);
  if (!strcmp(cmd, "xds")) return cmd_xds(argc - 2, argv + 2);
  return usage(stderr);
}
