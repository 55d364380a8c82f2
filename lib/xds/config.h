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

/* The handle's file source: load m->opts.config_file now (0, or -1 with
 * the reason in err) and watch it. */
int mesh__config_open(struct mesh *m, char *err, size_t errlen);
void mesh__config_close(struct mesh *m);
/* The dump of mesh_config_dump(): malloc'd JSON, or NULL. */
char *mesh__config_dump(struct mesh *m);

#endif
