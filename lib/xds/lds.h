/* Listener (LDS) resources → mesh__listener. */
#ifndef MESH_XDS_LDS_H
#define MESH_XDS_LDS_H

#include <stddef.h>

#include "envoy/config/listener/v3/listener.pb-c.h"
#include "model/notes.h"
#include "model/snapshot.h"

/* Fill *out (strings in arena a). 0, or -1 with the reason (a path to the
 * field) in err. Unsupported-but-harmless fields are noted in ignored.
 * On success *out holds references (its inline route table, its fault
 * config): mesh__listener_release() drops them, unless a snapshot took
 * the listener over (the snapshot drops them when freed). */
int mesh__lds_translate(const Envoy__Config__Listener__V3__Listener *l, mesh__arena *a, mesh__listener *out,
                        char *err, size_t errlen, mesh__notes *ignored);
void mesh__listener_release(mesh__listener *l);

#endif
