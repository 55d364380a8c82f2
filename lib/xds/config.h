/* Building config snapshots from a local file, and the file source that
 * keeps a handle's snapshot current (see libmesh-config(5)). */
#ifndef MESH_XDS_CONFIG_H
#define MESH_XDS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "model/snapshot.h"

struct mesh;

/* Parse, validate and translate a config file's text into a snapshot.
 * 0 and *out (one reference), or -1 with "FILE: path.to.field: reason" in
 * err. origin names the file in messages. */
int mesh__config_build(const char *text, size_t len, const char *origin, mesh__snapshot **out, char *err,
                       size_t errlen);

/* Append s as a JSON string literal. */
struct mesh__buf;
int mesh__json_string(struct mesh__buf *b, const char *s);

/* The handle's file source: load m->opts.config_file now (0, or -1 with
 * the reason in err) and watch it. */
int mesh__config_open(struct mesh *m, char *err, size_t errlen);
/* The handle's xDS source, from the bootstrap the options or the
 * environment name: 0 (started), 1 (no bootstrap anywhere), or -1 with
 * the reason in err (a bad bootstrap names the field). */
int mesh__config_open_xds(struct mesh *m, char *err, size_t errlen);
void mesh__config_close(struct mesh *m);
/* A call found no listener for its authority (xDS: subscribe it); why
 * receives what the config source has to say about it, or "". */
int mesh__config_listener_missing(struct mesh *m, const char *authority, size_t len, char *why, size_t whylen);
/* The handle's config comes from xDS (calls may wait for it). */
int mesh__config_is_xds(const struct mesh *m);
/* The dump of mesh_config_dump(): malloc'd JSON, or NULL. */
char *mesh__config_dump(struct mesh *m);

#endif
