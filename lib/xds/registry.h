/* Message types libmesh knows by name: resolves the type of an Any (a type
 * URL such as "type.googleapis.com/envoy.config.cluster.v3.Cluster") or a
 * full message name to its protobuf-c descriptor.
 *
 * The table holds every message of libmesh's xDS protos that can be packed
 * in an Any: the xDS resource types (Listener, RouteConfiguration, Cluster,
 * ClusterLoadAssignment, and the discovery Resource wrapper), the extension
 * payloads libmesh understands (HttpConnectionManager, Router, upstream
 * HttpProtocolOptions), the Bootstrap, the discovery messages, google.rpc.Status
 * and the protobuf well-known types. A type not listed is unknown (NULL),
 * even if libmesh has a descriptor for it as a nested or helper message.
 *
 * Lookups are a binary search in a static table: no allocation, no locks,
 * safe from any thread. */
#ifndef MESH_XDS_REGISTRY_H
#define MESH_XDS_REGISTRY_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* name[0..len): a full name ("envoy.config.route.v3.RouteConfiguration") or
 * a type URL (anything up to the last '/' is ignored). NULL if unknown.
 * Matches the mesh__pb_resolver signature of xds/pbjson.h. */
const ProtobufCMessageDescriptor *mesh__pb_find(const char *name, size_t len);

/* The table itself, in ascending byte order of descriptor->name (for tests
 * and the config dump). mesh__pb_at returns NULL past the end. */
size_t mesh__pb_count(void);
const ProtobufCMessageDescriptor *mesh__pb_at(size_t i);

/* The name of a Listener, RouteConfiguration or Cluster, or the
 * cluster_name of a ClusterLoadAssignment; "" for other messages. */
const char *mesh__xds_resource_name(const ProtobufCMessage *m);

#endif
