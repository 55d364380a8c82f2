/* The xDS bootstrap, in gRPC's format (grpc/grpc
 * doc/grpc_xds_bootstrap_format.md), so that tools writing gRPC bootstraps
 * (Istio's agent, Traffic Director's generator) work unchanged. See
 * libmesh-bootstrap(5). Read with the same YAML/JSON reader as the config
 * file (xds/pbjson.h); node is mapped onto envoy.config.core.v3.Node. */
#ifndef MESH_XDS_BOOTSTRAP_H
#define MESH_XDS_BOOTSTRAP_H

#include <stddef.h>
#include <stdint.h>

#include "envoy/config/core/v3/base.pb-c.h"

typedef struct mesh__xds_server {
  char *uri;                    /* as written */
  char *host;                   /* from uri: name or IP literal, no brackets */
  uint16_t port;
  char *unix_path;              /* unix:PATH / unix:///PATH targets (Istio's agent), else NULL */
  char *creds;                  /* the channel_creds type chosen ("insecure") */
  int ignore_resource_deletion; /* server_features (gRFC A53) */
  int fail_on_data_errors;      /* server_features (gRFC A88) */
  int resource_timer_is_transient_error; /* server_features (gRFC A88) */
  int delta;                    /* server_features "delta_xds" (libmesh): incremental xDS */
} mesh__xds_server;

typedef struct mesh__cert_provider {
  char *name;
  char *plugin_name;
} mesh__cert_provider;

typedef struct mesh__authority {
  char *name;
  char *listener_template;      /* client_listener_resource_name_template, or NULL */
  mesh__xds_server *servers;    /* own xds_servers, or none (use the top level) */
  size_t nservers;
} mesh__authority;

typedef struct mesh__bootstrap {
  char *origin;                 /* the file, or the variable, it came from */
  mesh__xds_server *servers;
  size_t nservers;
  Envoy__Config__Core__V3__Node *node; /* never NULL after a parse */
  char *listener_template;      /* client_default_listener_resource_name_template, or NULL ("%s") */
  mesh__cert_provider *providers;
  size_t nproviders;
  mesh__authority *authorities;
  size_t nauthorities;
  char **notes;                 /* what was read but is not acted on */
  size_t nnotes;
} mesh__bootstrap;

/* Parse text (JSON, or YAML). 0 and *out, or -1 with one error naming the
 * field, e.g. "bootstrap.json: xds_servers[0].server_uri: required". */
int mesh__bootstrap_parse(const char *text, size_t len, const char *origin, mesh__bootstrap **out, char *err,
                          size_t errlen);

/* Find and parse the bootstrap: the file path (if not NULL), else the
 * inline text json (if not NULL), else the environment: MESH_XDS_BOOTSTRAP
 * or GRPC_XDS_BOOTSTRAP (a file), MESH_XDS_BOOTSTRAP_CONFIG or
 * GRPC_XDS_BOOTSTRAP_CONFIG (the text), in that order. 0 and *out; 1 when
 * there is no bootstrap anywhere (*out NULL); -1 with the reason in err. */
int mesh__bootstrap_load(const char *path, const char *json, mesh__bootstrap **out, char *err, size_t errlen);

/* The listener resource name for a call's authority, per the template
 * ("%s" replaced, xdstp: names percent-encode it). malloc'd, or NULL. */
char *mesh__bootstrap_listener_name(const mesh__bootstrap *b, const char *authority);

void mesh__bootstrap_free(mesh__bootstrap *b);

#endif
