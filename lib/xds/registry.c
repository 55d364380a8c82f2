/* Type-URL registry over libmesh's generated xDS descriptors. */
#include "xds/registry.h"

#include <string.h>

#include "envoy/config/bootstrap/v3/bootstrap.pb-c.h"
#include "envoy/config/cluster/v3/cluster.pb-c.h"
#include "envoy/config/endpoint/v3/endpoint.pb-c.h"
#include "envoy/config/listener/v3/listener.pb-c.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb-c.h"
#include "envoy/extensions/filters/http/router/v3/router.pb-c.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb-c.h"
#include "envoy/extensions/load_balancing_policies/least_request/v3/least_request.pb-c.h"
#include "envoy/extensions/load_balancing_policies/maglev/v3/maglev.pb-c.h"
#include "envoy/extensions/load_balancing_policies/random/v3/random.pb-c.h"
#include "envoy/extensions/load_balancing_policies/ring_hash/v3/ring_hash.pb-c.h"
#include "envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.pb-c.h"
#include "envoy/extensions/load_balancing_policies/wrr_locality/v3/wrr_locality.pb-c.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb-c.h"
#include "envoy/service/discovery/v3/discovery.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "google/rpc/status.pb-c.h"

/* Sorted by descriptor name, byte order (the unit test checks it). */
static const ProtobufCMessageDescriptor *const table[] = {
    &envoy__config__bootstrap__v3__bootstrap__descriptor,
    &envoy__config__cluster__v3__cluster__descriptor,
    &envoy__config__endpoint__v3__cluster_load_assignment__descriptor,
    &envoy__config__listener__v3__listener__descriptor,
    &envoy__config__route__v3__route_configuration__descriptor,
    &envoy__extensions__filters__http__fault__v3__httpfault__descriptor,
    &envoy__extensions__filters__http__router__v3__router__descriptor,
    &envoy__extensions__filters__network__http_connection_manager__v3__http_connection_manager__descriptor,
    &envoy__extensions__load_balancing_policies__least_request__v3__least_request__descriptor,
    &envoy__extensions__load_balancing_policies__maglev__v3__maglev__descriptor,
    &envoy__extensions__load_balancing_policies__random__v3__random__descriptor,
    &envoy__extensions__load_balancing_policies__ring_hash__v3__ring_hash__descriptor,
    &envoy__extensions__load_balancing_policies__round_robin__v3__round_robin__descriptor,
    &envoy__extensions__load_balancing_policies__wrr_locality__v3__wrr_locality__descriptor,
    &envoy__extensions__upstreams__http__v3__http_protocol_options__descriptor,
    &envoy__service__discovery__v3__delta_discovery_request__descriptor,
    &envoy__service__discovery__v3__delta_discovery_response__descriptor,
    &envoy__service__discovery__v3__discovery_request__descriptor,
    &envoy__service__discovery__v3__discovery_response__descriptor,
    &envoy__service__discovery__v3__resource__descriptor,
    &google__protobuf__any__descriptor,
    &google__protobuf__bool_value__descriptor,
    &google__protobuf__bytes_value__descriptor,
    &google__protobuf__double_value__descriptor,
    &google__protobuf__duration__descriptor,
    &google__protobuf__empty__descriptor,
    &google__protobuf__float_value__descriptor,
    &google__protobuf__int32_value__descriptor,
    &google__protobuf__int64_value__descriptor,
    &google__protobuf__list_value__descriptor,
    &google__protobuf__string_value__descriptor,
    &google__protobuf__struct__descriptor,
    &google__protobuf__uint32_value__descriptor,
    &google__protobuf__uint64_value__descriptor,
    &google__protobuf__value__descriptor,
    &google__rpc__status__descriptor,
};

#define TABLE_LEN (sizeof table / sizeof table[0])

/* Byte-order comparison of s[0..n) with the NUL-terminated t. */
static int cmp_name(const char *s, size_t n, const char *t) {
  size_t tn = strlen(t);
  int c = memcmp(s, t, n < tn ? n : tn);
  if (c != 0) return c;
  return n < tn ? -1 : n > tn ? 1 : 0;
}

const ProtobufCMessageDescriptor *mesh__pb_find(const char *name, size_t len) {
  if (name == NULL) return NULL;
  for (size_t i = len; i > 0; i--) {
    if (name[i - 1] == '/') {
      name += i;
      len -= i;
      break;
    }
  }
  if (len == 0) return NULL;
  size_t lo = 0, hi = TABLE_LEN;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = cmp_name(name, len, table[mid]->name);
    if (c == 0) return table[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

size_t mesh__pb_count(void) { return TABLE_LEN; }

const ProtobufCMessageDescriptor *mesh__pb_at(size_t i) { return i < TABLE_LEN ? table[i] : NULL; }

const char *mesh__xds_resource_name(const ProtobufCMessage *m) {
  const char *n = "";
  if (m->descriptor == &envoy__config__listener__v3__listener__descriptor)
    n = ((const Envoy__Config__Listener__V3__Listener *)m)->name;
  else if (m->descriptor == &envoy__config__route__v3__route_configuration__descriptor)
    n = ((const Envoy__Config__Route__V3__RouteConfiguration *)m)->name;
  else if (m->descriptor == &envoy__config__cluster__v3__cluster__descriptor)
    n = ((const Envoy__Config__Cluster__V3__Cluster *)m)->name;
  else if (m->descriptor == &envoy__config__endpoint__v3__cluster_load_assignment__descriptor)
    n = ((const Envoy__Config__Endpoint__V3__ClusterLoadAssignment *)m)->cluster_name;
  return n ? n : "";
}
