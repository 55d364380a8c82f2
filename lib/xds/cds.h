/* Cluster (CDS) and ClusterLoadAssignment (EDS) resources -> the model
 * (model/cluster.h).
 *
 * Both return 0 with *out holding one reference, or -1 with *out untouched
 * and a reason naming the field in err, e.g.
 *   load_assignment.endpoints[0].lb_endpoints[2].endpoint.address
 *     .socket_address.port_value: 0 is not a valid port
 * What would change behaviour if skipped is an error (an lb_policy libmesh
 * does not implement, ORIGINAL_DST, TLS transport sockets, an endpoint
 * without an address, a host name in a STATIC or EDS endpoint, drop
 * overloads, ...); what is harmless to skip is noted in ignored (which may
 * be NULL).
 *
 * The Cluster's inline load_assignment is translated with the cluster's
 * type rules (host names allowed for STRICT_DNS and LOGICAL_DNS only;
 * LOGICAL_DNS needs exactly one endpoint) into (*out)->load_assignment;
 * it is ignored, with a note, for EDS clusters. mesh__eds_translate is for
 * EDS resources: addresses must be IP literals, as in Envoy.
 */
#ifndef MESH_XDS_CDS_H
#define MESH_XDS_CDS_H

#include <stddef.h>

#include "envoy/config/cluster/v3/cluster.pb-c.h"
#include "envoy/config/endpoint/v3/endpoint.pb-c.h"
#include "model/cluster.h"
#include "model/notes.h"

int mesh__cds_translate(const Envoy__Config__Cluster__V3__Cluster *c, mesh__cluster **out, char *err,
                        size_t errlen, mesh__notes *ignored);

int mesh__eds_translate(const Envoy__Config__Endpoint__V3__ClusterLoadAssignment *la,
                        mesh__load_assignment **out, char *err, size_t errlen, mesh__notes *ignored);

/* For a field libmesh's protos lack, found in a message of type d while
 * reading a config file (so without its field number): why it must be
 * refused (as binary xDS refuses it), or NULL. name is snake_case. */
const char *mesh__cds_unknown_field_reject(const ProtobufCMessageDescriptor *d, const char *name);

#endif
