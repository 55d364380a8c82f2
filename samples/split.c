/* split: a weighted traffic split from a local config file.
 *
 *   split CONFIG.yaml [CALLS]
 *
 * Sends CALLS (default 1000) calls to http://web.mesh/ through libmesh in
 * attached mode and prints how many each cluster served. */
#include <event2/event.h>
#include <mesh/mesh.h>
#include <mesh/mesh_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tally {
  char name[8][64];
  int count[8];
  int n, done, failed;
} tally;

static void on_response(const mesh_response *resp, void *user_data) {
  tally *t = user_data;
  t->done++;
  if (mesh_response_error(resp) != MESH_OK) {
    if (t->failed++ == 0) fprintf(stderr, "call failed: %s\n", mesh_response_detail(resp));
    return;
  }
  const char *c = mesh_response_cluster(resp);
  if (!c) c = "-";
  for (int i = 0; i < t->n; i++)
    if (!strcmp(t->name[i], c)) {
      t->count[i]++;
      return;
    }
  if (t->n < 8) {
    snprintf(t->name[t->n], sizeof t->name[0], "%s", c);
    t->count[t->n++] = 1;
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s CONFIG.yaml [CALLS]\n", argv[0]);
    return 2;
  }
  int calls = argc > 2 ? atoi(argv[2]) : 1000;
  struct event_base *eb = event_base_new();
  mesh_options *o;
  mesh *m;
  if (!eb || mesh_options_new(&o) != MESH_OK) return 1;
  mesh_options_set_event_base(o, eb);
  mesh_options_set_config_file(o, argv[1]);
  int rc = mesh_new(&m, o);
  mesh_options_free(o);
  if (rc != MESH_OK) {
    fprintf(stderr, "mesh_new: %s\n", mesh_strerror(rc));
    return 1;
  }
  mesh_request *req;
  mesh_request_new(&req, "GET", "http://web.mesh/hello?size=16");
  tally t;
  memset(&t, 0, sizeof t);
  int started = 0;
  while (t.done < calls) {
    while (started < calls && started - t.done < 32) {
      if (mesh_call_start(m, req, on_response, &t, NULL) != MESH_OK) return 1;
      started++;
    }
    event_base_loop(eb, EVLOOP_ONCE);
  }
  printf("%d calls to http://web.mesh/ via %s:\n", calls, argv[1]);
  for (int i = 0; i < t.n; i++)
    printf("  %-8s %5d  (%.1f%%)\n", t.name[i], t.count[i], 100.0 * t.count[i] / calls);
  if (t.failed) printf("  failed   %5d\n", t.failed);
  mesh_request_free(req);
  mesh_free(m);
  event_base_free(eb);
  return t.failed ? 1 : 0;
}
