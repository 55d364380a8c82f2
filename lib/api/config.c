/* The public config API: file option (options.c), dump, validation. */
#include <stdlib.h>
#include <string.h>

#include "upstream/core.h"
#include "xds/config.h"
#include "xds/file_watch.h"

#define MAX_CONFIG_BYTES (64u << 20)

typedef struct dump_req {
  char *out;
} dump_req;

static void do_dump(struct mesh *m, void *arg) {
  dump_req *d = arg;
  d->out = mesh__config_dump(m);
}

int mesh_config_dump(mesh *m, char **out) {
  if (!m || !out || m->magic != MESH__MAGIC) return MESH_EINVAL;
  *out = NULL;
  if (m->attached && !pthread_equal(pthread_self(), m->owner)) return MESH_EWRONGTHREAD;
  if (m->closing) return MESH_ESTATE;
  dump_req d = {NULL};
  int rc = mesh__run_on_loop(m, do_dump, &d);
  if (rc != MESH_OK) return rc;
  if (!d.out) return MESH_ENOMEM;
  *out = d.out;
  return MESH_OK;
}

int mesh_config_check_file(const char *path, char *errbuf, size_t errlen) {
  char scratch[512];
  char *err = errbuf && errlen ? errbuf : scratch;
  size_t elen = errbuf && errlen ? errlen : sizeof scratch;
  if (!path) return MESH_EINVAL;
  char *text;
  size_t len;
  if (mesh__file_read(path, MAX_CONFIG_BYTES, &text, &len, err, elen) < 0) return MESH_ECONFIG;
  mesh__snapshot *s;
  int rc = mesh__config_build(text, len, path, &s, err, elen);
  free(text);
  if (rc < 0) return MESH_ECONFIG;
  mesh__snapshot_unref(s);
  if (errbuf && errlen) errbuf[0] = '\0';
  return MESH_OK;
}

void mesh_string_free(char *s) { free(s); }
