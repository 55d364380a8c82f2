/*
 * libmesh: the libevent adapter.
 *
 * The only public header that names a dependency's type. Include it to run
 * libmesh attached to your own libevent loop: every libmesh event is added
 * to that base, every callback runs on the thread that runs it, and no lock
 * is taken. See libmesh(7).
 */
#ifndef MESH_MESH_EVENT_H
#define MESH_MESH_EVENT_H

#include <mesh/mesh.h>

struct event_base;

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Attach handles created from these options to base (attached mode). NULL
 * returns to the default, libmesh's own loop thread. The base must outlive
 * the handle.
 */
MESH_EXTERN int mesh_options_set_event_base(mesh_options *opts, struct event_base *base);

#ifdef __cplusplus
}
#endif

#endif /* MESH_MESH_EVENT_H */
