/* A listener names the HttpConnectionManager that routes its calls: from
 * api_listener (gRPC proxyless style) or from the first filter chain's
 * http_connection_manager filter (Envoy style). */
#include "xds/lds.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb-c.h"
#include "model/route.h"
#include "xds/rds.h"

typedef Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__HttpConnectionManager Hcm;

#define HCM_TYPE "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
#define ROUTER_TYPE "envoy.extensions.filters.http.router.v3.Router"
#define FAULT_TYPE "envoy.extensions.filters.http.fault.v3.HTTPFault"
#define RBAC_TYPE "envoy.extensions.filters.http.rbac.v3.RBAC"

static int type_is(const Google__Protobuf__Any *any, const char *full) {
  if (!any || !any->type_url) return 0;
  const char *slash = strrchr(any->type_url, '/');
  return strcmp(slash ? slash + 1 : any->type_url, full) == 0;
}

/* The fault filter: its config (an empty HTTPFault, as Istio puts before
 * the router of every proxyless listener, injects nothing by itself; the
 * routes' typed_per_filter_config may then turn faults on). */
static int fault_filter(const Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__HttpFilter *f,
                        const char *where, mesh__arena *a, mesh__listener *out, char *err, size_t errlen,
                        mesh__notes *ignored) {
  if (out->fault_filter) {
    snprintf(err, errlen, "%s: a second fault filter is not supported", where);
    return -1;
  }
  if (!out->fault_holder && !(out->fault_holder = mesh__route_table_new())) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (mesh__rds_fault_filter(f->typed_config, out->fault_holder, &out->fault, err, errlen, ignored, where) < 0)
    return -1;
  out->fault_filter = mesh__arena_strdup(a, f->name ? f->name : "");
  if (!out->fault_filter) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  return 0;
}

/* HTTP filters: the router is what libmesh does, and the fault filter;
 * any other filter would change behaviour if skipped (auth, RBAC, ...),
 * so it is an error unless marked optional or disabled — as gRPC's xDS
 * client does. */
static int check_filters(const Hcm *h, const char *where, mesh__arena *a, mesh__listener *out, char *err,
                         size_t errlen, mesh__notes *ignored) {
  for (size_t i = 0; i < h->n_http_filters; i++) {
    const Envoy__Extensions__Filters__Network__HttpConnectionManager__V3__HttpFilter *f = h->http_filters[i];
    int is_router = (f->config_type_case ==
                         ENVOY__EXTENSIONS__FILTERS__NETWORK__HTTP_CONNECTION_MANAGER__V3__HTTP_FILTER__CONFIG_TYPE_TYPED_CONFIG &&
                     type_is(f->typed_config, ROUTER_TYPE)) ||
                    (f->name && !strcmp(f->name, "envoy.filters.http.router"));
    if (is_router) continue;
    char note[320];
    if (f->config_type_case ==
            ENVOY__EXTENSIONS__FILTERS__NETWORK__HTTP_CONNECTION_MANAGER__V3__HTTP_FILTER__CONFIG_TYPE_TYPED_CONFIG &&
        type_is(f->typed_config, FAULT_TYPE) && !f->disabled) {
      char w[256];
      snprintf(w, sizeof w, "%s.http_filters[%zu] (%s)", where, i, f->name ? f->name : "");
      if (fault_filter(f, w, a, out, err, errlen, ignored) < 0) return -1;
      continue;
    }
    if (f->is_optional || f->disabled) {
      snprintf(note, sizeof note, "%s.http_filters[%zu] (%s): not supported, ignored (optional)", where, i,
               f->name ? f->name : "");
      mesh__notes_add(ignored, note);
      continue;
    }
    if (f->config_type_case ==
            ENVOY__EXTENSIONS__FILTERS__NETWORK__HTTP_CONNECTION_MANAGER__V3__HTTP_FILTER__CONFIG_TYPE_TYPED_CONFIG &&
        type_is(f->typed_config, RBAC_TYPE))
      snprintf(err, errlen, "%s.http_filters[%zu] (%s): RBAC authorization is not supported; refusing the listener "
               "rather than letting every call through", where, i, f->name ? f->name : "");
    else
      snprintf(err, errlen, "%s.http_filters[%zu] (%s): filter not supported and not optional", where, i,
               f->name ? f->name : "");
    return -1;
  }
  return 0;
}

static int from_hcm(const Google__Protobuf__Any *any, const char *where, mesh__arena *a, mesh__listener *out,
                    char *err, size_t errlen, mesh__notes *ignored) {
  Hcm *h = (Hcm *)protobuf_c_message_unpack(
      &envoy__extensions__filters__network__http_connection_manager__v3__http_connection_manager__descriptor, NULL,
      any->value.len, any->value.data);
  if (!h) {
    snprintf(err, errlen, "%s: could not decode the HttpConnectionManager", where);
    return -1;
  }
  int rc = check_filters(h, where, a, out, err, errlen, ignored);
  /* Request normalisation happens in Envoy before route matching; libmesh
   * matches the path and authority the caller gives, as a client would
   * send them. Noted, so a config that relies on it is not misread. */
  char note[320];
  if ((h->normalize_path && h->normalize_path->value) || h->merge_slashes ||
      h->path_with_escaped_slashes_action >
          ENVOY__EXTENSIONS__FILTERS__NETWORK__HTTP_CONNECTION_MANAGER__V3__HTTP_CONNECTION_MANAGER__PATH_WITH_ESCAPED_SLASHES_ACTION__KEEP_UNCHANGED) {
    snprintf(note, sizeof note, "%s: normalize_path, merge_slashes, path_with_escaped_slashes_action: not applied "
             "(routes match the path as the caller gives it)", where);
    mesh__notes_add(ignored, note);
  }
  if (h->strip_matching_host_port || (h->strip_port_mode_case && h->strip_any_host_port) ||
      h->strip_trailing_host_dot) {
    snprintf(note, sizeof note, "%s: strip_matching_host_port, strip_any_host_port, strip_trailing_host_dot: not "
             "applied (virtual hosts match the authority as the caller gives it)", where);
    mesh__notes_add(ignored, note);
  }
  /* Fields libmesh's protos lack (binary xDS): HCM features outside
   * routing (access logs, tracing, upgrades, ...). */
  for (unsigned i = 0; i < h->base.n_unknown_fields; i++) {
    bool seen = false;
    for (unsigned j = 0; j < i && !seen; j++) seen = h->base.unknown_fields[j].tag == h->base.unknown_fields[i].tag;
    if (seen) continue;
    snprintf(note, sizeof note, "%s: field %u: not known to libmesh, ignored", where, h->base.unknown_fields[i].tag);
    mesh__notes_add(ignored, note);
  }
  if (rc == 0) {
    switch (h->route_specifier_case) {
      case ENVOY__EXTENSIONS__FILTERS__NETWORK__HTTP_CONNECTION_MANAGER__V3__HTTP_CONNECTION_MANAGER__ROUTE_SPECIFIER_RDS:
        if (!h->rds->route_config_name || !*h->rds->route_config_name) {
          snprintf(err, errlen, "%s.rds.route_config_name: required", where);
          rc = -1;
        } else {
          out->rds_name = mesh__arena_strdup(a, h->rds->route_config_name);
          if (!out->rds_name) rc = -1;
        }
        break;
      case ENVOY__EXTENSIONS__FILTERS__NETWORK__HTTP_CONNECTION_MANAGER__V3__HTTP_CONNECTION_MANAGER__ROUTE_SPECIFIER_ROUTE_CONFIG: {
        char e2[400];
        mesh__notes rn;
        mesh__notes_init(&rn);
        if (mesh__rds_translate(h->route_config, &out->rt, e2, sizeof e2, &rn) < 0) {
          snprintf(err, errlen, "%s.route_config.%s", where, e2);
          rc = -1;
        }
        /* The route table's notes, with the path to it. */
        for (size_t i = 0; i < rn.n; i++) mesh__notes_addf(ignored, "%s.route_config.%s", where, rn.v[i]);
        mesh__notes_free(&rn);
        break;
      }
      default:
        snprintf(err, errlen, "%s: needs rds or route_config (scoped_routes is not supported)", where);
        rc = -1;
    }
  }
  protobuf_c_message_free_unpacked(&h->base, NULL);
  if (rc < 0) {
    mesh__route_table_unref(out->fault_holder);
    out->fault_holder = NULL;
    out->fault = NULL;
    out->fault_filter = NULL;
  }
  return rc;
}

void mesh__listener_release(mesh__listener *l) {
  if (!l) return;
  mesh__route_table_unref(l->rt);
  mesh__route_table_unref(l->fault_holder);
  l->rt = NULL;
  l->fault_holder = NULL;
  l->fault = NULL;
}

int mesh__lds_translate(const Envoy__Config__Listener__V3__Listener *l, mesh__arena *a, mesh__listener *out,
                        char *err, size_t errlen, mesh__notes *ignored) {
  memset(out, 0, sizeof *out);
  out->name = mesh__arena_strdup(a, l->name ? l->name : "");
  if (!out->name) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (l->address && l->address->address_case == ENVOY__CONFIG__CORE__V3__ADDRESS__ADDRESS_SOCKET_ADDRESS &&
      l->address->socket_address->port_specifier_case ==
          ENVOY__CONFIG__CORE__V3__SOCKET_ADDRESS__PORT_SPECIFIER_PORT_VALUE) {
    uint32_t port = l->address->socket_address->port_value;
    if (port > 65535) {
      snprintf(err, errlen, "address.socket_address.port_value: %u is not a port", port);
      return -1;
    }
    out->port = (uint16_t)port;
  }
  if (l->api_listener) {
    if (!type_is(l->api_listener->api_listener, HCM_TYPE)) {
      snprintf(err, errlen, "api_listener.api_listener: expected an HttpConnectionManager");
      return -1;
    }
    return from_hcm(l->api_listener->api_listener, "api_listener.api_listener", a, out, err, errlen, ignored);
  }
  /* Envoy style: the HCM filter of the first filter chain (libmesh has no
   * downstream connection to match chains against). */
  const Envoy__Config__Listener__V3__FilterChain *fc =
      l->n_filter_chains > 0 ? l->filter_chains[0] : l->default_filter_chain;
  if (l->n_filter_chains > 1) mesh__notes_add(ignored, "filter_chains[1..]: only the first filter chain is used");
  for (size_t i = 0; fc && i < fc->n_filters; i++) {
    const Envoy__Config__Listener__V3__Filter *f = fc->filters[i];
    if (f->config_type_case == ENVOY__CONFIG__LISTENER__V3__FILTER__CONFIG_TYPE_TYPED_CONFIG &&
        type_is(f->typed_config, HCM_TYPE)) {
      char where[64];
      snprintf(where, sizeof where, "filter_chains[0].filters[%zu].typed_config", i);
      return from_hcm(f->typed_config, where, a, out, err, errlen, ignored);
    }
  }
  snprintf(err, errlen, "no HttpConnectionManager (neither api_listener nor an http_connection_manager filter)");
  return -1;
}
