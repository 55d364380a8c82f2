/* RouteConfiguration (RDS, or HttpConnectionManager.route_config) →
 * mesh__route_table (model/route.h).
 *
 * Validation follows Envoy's (its proto constraints and config_impl.cc
 * checks). What would change meaning or weaken behaviour if skipped is an
 * error: a path match kind libmesh does not know, an invalid or non-RE2
 * regex, a route without a forwarding/redirect/direct-response action,
 * weights summing to 0, a domain in two places, a header matcher without
 * a name, a direct response body above max_direct_response_body_size_bytes,
 * a match condition libmesh cannot evaluate, ... What is merely
 * unsupported (typed_per_filter_config, runtime keys, retry host
 * predicates, fields this build's protos do not carry, ...) is noted in
 * ignored and skipped. */
#ifndef MESH_XDS_RDS_H
#define MESH_XDS_RDS_H

#include <stddef.h>

#include "envoy/config/route/v3/route.pb-c.h"
#include "model/notes.h"
#include "model/route.h"

/* 0 and *out (one reference) on success; -1 with a readable error such as
 * "virtual_hosts[2].routes[0].match: ..." in err. ignored (may be NULL)
 * receives notes on fields that are set but not supported, e.g.
 * "virtual_hosts[0].routes[3].typed_per_filter_config: not supported,
 * ignored". */
int mesh__rds_translate(const Envoy__Config__Route__V3__RouteConfiguration *rc, mesh__route_table **out, char *err,
                        size_t errlen, mesh__notes *ignored);

/* The HTTPFault in any (an HTTP filter's typed_config) into holder's arena
 * (its compiled regexes freed with it): 0 and *out, or -1 with err. */
int mesh__rds_fault_filter(const Google__Protobuf__Any *any, mesh__route_table *holder, const mesh__fault **out,
                           char *err, size_t errlen, mesh__notes *ignored, const char *where);

/* For a field libmesh's protos lack, found in a message of type d while
 * reading a config file (so without its field number): why it must be
 * refused (the reason binary xDS gives for the same field), or NULL when
 * it may be noted and skipped. name is the proto (snake_case) name. */
const char *mesh__rds_unknown_field_reject(const ProtobufCMessageDescriptor *d, const char *name);

#endif
