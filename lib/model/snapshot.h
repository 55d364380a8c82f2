/* A config snapshot: everything calls are routed by, immutable once
 * built, refcounted. A new config builds a new snapshot; calls in flight
 * keep the one they started with (they hold a reference). */
#ifndef MESH_MODEL_SNAPSHOT_H
#define MESH_MODEL_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"

struct mesh__route_table;
struct mesh__cluster;
struct mesh__load_assignment;

typedef struct mesh__listener {
  const char *name;
  uint16_t port;                  /* address.socket_address.port_value, 0 if none */
  const char *rds_name;           /* HttpConnectionManager.rds.route_config_name, or NULL */
  struct mesh__route_table *rt;   /* inline route_config, or the RDS one (a reference) */
  /* The HttpConnectionManager's fault filter (HTTPFault), if it has one:
   * its name (the key of per-route overrides) and config, which
   * fault_holder (a reference) owns. */
  const char *fault_filter;
  const struct mesh__fault *fault;
  struct mesh__route_table *fault_holder;
} mesh__listener;

typedef struct mesh__cluster_entry {
  const char *name;
  struct mesh__cluster *cluster;        /* a reference */
  struct mesh__load_assignment *la;     /* inline load_assignment or EDS; a reference */
} mesh__cluster_entry;

/* One resource as it came, for the config dump. */
typedef struct mesh__resource {
  const char *type_url;
  const char *name;
  char *json;                     /* proto3 JSON (malloc'd) */
  const char **ignored;           /* notes: fields set but not honoured */
  size_t nignored;
} mesh__resource;

typedef struct mesh__snapshot {
  int refs;                       /* atomic */
  mesh__arena *arena;             /* names and arrays below */
  const char *version;
  const char *origin;             /* the file it came from */
  mesh__listener *listeners;
  size_t nlisteners;
  struct { const char *name; struct mesh__route_table *rt; } *routes;
  size_t nroutes;
  mesh__cluster_entry *clusters;
  size_t nclusters;
  mesh__resource *resources;
  size_t nresources;
  const char **ignored;           /* unknown fields outside any resource */
  size_t nignored;
  /* open-addressing indexes by name (slot = index + 1, 0 empty) */
  uint32_t *listener_idx, *cluster_idx;
  size_t listener_cap, cluster_cap;
} mesh__snapshot;

/* Build the name indexes once the arrays are filled: 0 or -1 (memory). */
int mesh__snapshot_index(mesh__snapshot *s);

void mesh__snapshot_ref(mesh__snapshot *s);
void mesh__snapshot_unref(mesh__snapshot *s);

/* The listener an authority names: exact name, then "host:80" for an
 * authority without a port, then the listener bound to the authority's
 * port. NULL if none. */
const mesh__listener *mesh__snapshot_listener(const mesh__snapshot *s, const char *authority, size_t len);
/* Index of a cluster by name, or -1. */
int mesh__snapshot_cluster(const mesh__snapshot *s, const char *name, size_t len);

#endif
