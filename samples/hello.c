/* hello: libmesh at work. Calls an upstream over HTTP/1.1 and HTTP/2,
 * first in attached mode (our own libevent loop), then with the blocking
 * call on libmesh's own thread.
 *
 *   hello http://127.0.0.1:PORT
 */
#include <event2/event.h>
#include <mesh/mesh.h>
#include <mesh/mesh_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int remaining;

static void on_response(const mesh_response *resp, void *user_data) {
  const char *what = user_data;
  if (mesh_response_error(resp) != MESH_OK) {
    printf("%-28s error: %s (%s)\n", what, mesh_strerror(mesh_response_error(resp)),
           mesh_response_detail(resp));
  } else {
    size_t len;
    mesh_response_body(resp, &len);
    printf("%-28s status=%d proto=%s body=%zu bytes upstream-conn=%s\n", what, mesh_response_status(resp),
           mesh_response_protocol(resp) == MESH_PROTOCOL_HTTP2 ? "h2" : "http/1.1", len,
           mesh_response_header(resp, "x-upstream-conn") ? mesh_response_header(resp, "x-upstream-conn")
                                                         : "-");
  }
  remaining--;
}

static int start(mesh *m, const char *base, const char *path, int proto, uint32_t timeout_ms,
                 const char *what) {
  char url[512];
  mesh_request *req;
  snprintf(url, sizeof url, "%s%s", base, path);
  int rc = mesh_request_new(&req, "GET", url);
  if (rc == MESH_OK) rc = mesh_request_set_protocol(req, proto);
  if (rc == MESH_OK) rc = mesh_request_set_timeout_ms(req, timeout_ms);
  if (rc == MESH_OK) rc = mesh_call_start(m, req, on_response, (void *)what, NULL);
  mesh_request_free(req);
  if (rc == MESH_OK) remaining++;
  else fprintf(stderr, "%s: %s\n", what, mesh_strerror(rc));
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s http://HOST:PORT\n", argv[0]);
    return 2;
  }
  const char *base = argv[1];
  printf("libmesh %s\n", mesh_version());

  /* 1. Attached mode: libmesh runs on our event loop. */
  struct event_base *eb = event_base_new();
  mesh_options *opts;
  mesh *m;
  if (!eb || mesh_options_new(&opts) || mesh_options_set_event_base(opts, eb) ||
      mesh_new(&m, opts)) {
    fprintf(stderr, "setup failed\n");
    return 1;
  }
  mesh_options_free(opts);
  start(m, base, "/hello?size=12", MESH_PROTOCOL_HTTP1, 2000, "http/1.1 GET");
  start(m, base, "/hello?size=12", MESH_PROTOCOL_HTTP1, 2000, "http/1.1 GET (2nd)");
  for (int i = 0; i < 3; i++) start(m, base, "/hello?size=100", MESH_PROTOCOL_HTTP2, 2000, "h2 GET (multiplexed)");
  start(m, base, "/slow?delay_ms=500", MESH_PROTOCOL_HTTP2, 100, "h2 GET, 100 ms timeout");
  start(m, base, "/?status=503", MESH_PROTOCOL_HTTP2, 2000, "h2 GET status=503");
  start(m, base, "/?reset=1", MESH_PROTOCOL_HTTP2, 2000, "h2 GET, upstream resets");
  while (remaining > 0) event_base_loop(eb, EVLOOP_ONCE);
  mesh_free(m);
  event_base_free(eb);

  /* 2. Own-thread mode with the blocking call. */
  if (mesh_new(&m, NULL)) return 1;
  mesh_request *req;
  char url[512];
  snprintf(url, sizeof url, "%s/sync?size=5", base);
  if (mesh_request_new(&req, "GET", url)) return 1;
  mesh_response *resp;
  int rc = mesh_call_sync(m, req, &resp);
  if (rc == MESH_OK) {
    printf("%-28s status=%d error=%s\n", "blocking call (own thread)", mesh_response_status(resp),
           mesh_strerror(mesh_response_error(resp)));
    mesh_response_free(resp);
  }
  mesh_request_free(req);
  mesh_free(m);
  return rc == MESH_OK ? 0 : 1;
}
