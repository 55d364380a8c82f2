#include "model/snapshot.h"

#include <stdlib.h>
#include <string.h>

#include "lb/lb.h"
#include "model/cluster.h"
#include "model/route.h"
#include "util/str.h"

void mesh__snapshot_ref(mesh__snapshot *s) { __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED); }

void mesh__snapshot_unref(mesh__snapshot *s) {
  if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  for (size_t i = 0; i < s->nlisteners; i++)
    if (s->listeners[i].rt) mesh__route_table_unref(s->listeners[i].rt);
  for (size_t i = 0; i < s->nlisteners; i++) mesh__route_table_unref(s->listeners[i].fault_holder);
  for (size_t i = 0; i < s->nroutes; i++) mesh__route_table_unref(s->routes[i].rt);
  for (size_t i = 0; i < s->nclusters; i++) {
    if (s->clusters[i].cluster) mesh__cluster_unref(s->clusters[i].cluster);
    if (s->clusters[i].la) mesh__load_assignment_unref(s->clusters[i].la);
  }
  for (size_t i = 0; i < s->nresources; i++) free(s->resources[i].json);
  free(s->listener_idx);
  free(s->cluster_idx);
  mesh__arena_free(s->arena);
  free(s);
}

static size_t cap_for(size_t n) {
  size_t cap = 8;
  while (cap < n * 2) cap *= 2;
  return cap;
}

static int build_index(uint32_t **idx, size_t *capp, size_t n, const char *(*name_at)(const mesh__snapshot *, size_t),
                       const mesh__snapshot *s) {
  size_t cap = cap_for(n);
  uint32_t *t = calloc(cap, sizeof *t);
  if (!t) return -1;
  for (size_t i = 0; i < n; i++) {
    const char *name = name_at(s, i);
    size_t h = mesh__hash(name, strlen(name)) & (cap - 1);
    while (t[h]) h = (h + 1) & (cap - 1);
    t[h] = (uint32_t)i + 1;
  }
  *idx = t;
  *capp = cap;
  return 0;
}

static const char *listener_name(const mesh__snapshot *s, size_t i) { return s->listeners[i].name; }
static const char *cluster_name(const mesh__snapshot *s, size_t i) { return s->clusters[i].name; }

int mesh__snapshot_index(mesh__snapshot *s) {
  if (build_index(&s->listener_idx, &s->listener_cap, s->nlisteners, listener_name, s) ||
      build_index(&s->cluster_idx, &s->cluster_cap, s->nclusters, cluster_name, s))
    return -1;
  return 0;
}

static int find(const uint32_t *idx, size_t cap, const char *name, size_t len,
                const char *(*name_at)(const mesh__snapshot *, size_t), const mesh__snapshot *s) {
  if (!idx) return -1;
  size_t h = mesh__hash(name, len) & (cap - 1);
  while (idx[h]) {
    const char *n = name_at(s, idx[h] - 1);
    if (strncmp(n, name, len) == 0 && n[len] == '\0') return (int)idx[h] - 1;
    h = (h + 1) & (cap - 1);
  }
  return -1;
}

const mesh__listener *mesh__snapshot_listener(const mesh__snapshot *s, const char *auth, size_t len) {
  int i = find(s->listener_idx, s->listener_cap, auth, len, listener_name, s);
  if (i >= 0) return &s->listeners[i];
  const char *colon = NULL;
  /* The port of "host:port" or "[v6]:port". */
  for (size_t k = len; k > 0; k--) {
    if (auth[k - 1] == ':') {
      colon = auth + k - 1;
      break;
    }
    if (auth[k - 1] == ']') break;
  }
  unsigned long long port = 80;
  if (!colon) {
    char buf[300];
    if (len + 3 < sizeof buf) {
      memcpy(buf, auth, len);
      memcpy(buf + len, ":80", 3);
      i = find(s->listener_idx, s->listener_cap, buf, len + 3, listener_name, s);
      if (i >= 0) return &s->listeners[i];
    }
  } else if (mesh__parse_u64(colon + 1, (size_t)(auth + len - colon - 1), 65535, &port)) {
    return NULL;
  }
  for (size_t k = 0; k < s->nlisteners; k++)
    if (s->listeners[k].port == port) return &s->listeners[k];
  return NULL;
}

int mesh__snapshot_cluster(const mesh__snapshot *s, const char *name, size_t len) {
  return find(s->cluster_idx, s->cluster_cap, name, len, cluster_name, s);
}
