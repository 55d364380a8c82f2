/* A config file and binary xDS must reach the same verdict on fields
 * libmesh's protos lack: refused where skipping them changes behaviour
 * (wherever they sit, inline in a listener too), noted otherwise; and an
 * Any of a type libmesh has no schema for is readable when it is empty. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mesh/mesh.h"

static char path[256];

static int check(const char *text, char *err, size_t errlen) {
  snprintf(path, sizeof path, "/tmp/mesh-test-fields-%d.yaml", (int)getpid());
  FILE *f = fopen(path, "w");
  cr_assert(f);
  fputs(text, f);
  fclose(f);
  err[0] = '\0';
  int rc = mesh_config_check_file(path, err, errlen);
  unlink(path);
  return rc;
}

#define CLUSTER_C                                                                                              \
  "  clusters:\n"                                                                                              \
  "    - name: c\n"                                                                                            \
  "      type: STATIC\n"                                                                                       \
  "      load_assignment: {cluster_name: c, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: " \
  "{address: 127.0.0.1, port_value: 80}}}}]}]}\n"

#define LISTENER(FILTER_EXTRA, MATCH)                                                                          \
  "static_resources:\n"                                                                                        \
  "  listeners:\n"                                                                                             \
  "    - name: l\n"                                                                                            \
  "      address: {socket_address: {address: 0.0.0.0, port_value: 80}}\n"                                     \
  "      filter_chains:\n"                                                                                     \
  "        - filters:\n"                                                                                       \
  "            - name: hcm\n"                                                                                  \
  "              typed_config:\n"                                                                              \
  "                \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3." \
  "HttpConnectionManager\n"                                                                                    \
  "                http_filters:\n" FILTER_EXTRA                                                               \
  "                  - {name: envoy.filters.http.router}\n"                                                    \
  "                route_config:\n"                                                                            \
  "                  name: r\n"                                                                                \
  "                  virtual_hosts:\n"                                                                         \
  "                    - name: v\n"                                                                            \
  "                      domains: [\"*\"]\n"                                                                   \
  "                      routes:\n"                                                                            \
  "                        - match: " MATCH "\n"                                                               \
  "                          route: {cluster: c}\n" CLUSTER_C

Test(config_fields, unknown_match_condition_inline_is_refused) {
  char err[512];
  cr_expect_eq(check(LISTENER("", "{prefix: /, headers: [{name: x, string_match: {exact: a, foo: 1}}]}"), err,
                     sizeof err),
               MESH_ECONFIG);
  cr_expect(strstr(err, "Listener \"l\": filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0]"
                        ".routes[0].match.headers[0].string_match.foo: not supported (a match condition libmesh "
                        "cannot evaluate)"),
            "%s", err);
  cr_expect_eq(check(LISTENER("", "{prefix: /, dynamicMetadata: [{filter: f}]}"), err, sizeof err), MESH_ECONFIG);
  cr_expect(strstr(err, "match.dynamicMetadata: not supported"), "%s", err);
}

Test(config_fields, harmless_unknown_fields_are_accepted) {
  char err[512];
  cr_expect_eq(check(LISTENER("", "{prefix: /}") "      cleanup_interval: 5s\n", err, sizeof err), MESH_OK, "%s", err);
}

Test(config_fields, cluster_fields_refused_as_over_binary_xds) {
  char err[512];
  cr_expect_eq(check(LISTENER("", "{prefix: /}") "      lb_subset_config: {fallback_policy: ANY_ENDPOINT}\n", err,
                     sizeof err),
               MESH_ECONFIG);
  cr_expect(strstr(err, "Cluster \"c\": lb_subset_config: subset load balancing is not supported"), "%s", err);
  cr_expect_eq(check(LISTENER("", "{prefix: /}") "      upstreamConfig: {name: x}\n", err, sizeof err), MESH_ECONFIG);
  cr_expect(strstr(err, "upstreamConfig: custom upstreams are not supported"), "%s", err);
}

Test(config_fields, fault_filter_read_with_its_fields) {
  char err[512];
  cr_expect_eq(check(LISTENER("                  - name: envoy.filters.http.fault\n"
                              "                    typed_config: {\"@type\": type.googleapis.com/envoy.extensions."
                              "filters.http.fault.v3.HTTPFault}\n",
                              "{prefix: /}"),
                     err, sizeof err),
               MESH_OK, "%s", err);
  cr_expect_eq(check(LISTENER("                  - name: envoy.filters.http.fault\n"
                              "                    typed_config: {\"@type\": type.googleapis.com/envoy.extensions."
                              "filters.http.fault.v3.HTTPFault, abort: {http_status: 503, percentage: {numerator: 10}}}\n",
                              "{prefix: /}"),
                     err, sizeof err),
               MESH_OK, "%s", err);
  /* A known type is read by its fields: bytes under "value" (proto3 JSON
   * has them only for a type without a schema) are refused, not skipped. */
  cr_expect_eq(check(LISTENER("                  - name: envoy.filters.http.fault\n"
                              "                    typed_config: {\"@type\": type.googleapis.com/envoy.extensions."
                              "filters.http.fault.v3.HTTPFault, value: EgcQ9wMaAggK}\n",
                              "{prefix: /}"),
                     err, sizeof err),
               MESH_ECONFIG);
  cr_expect(strstr(err, "value: not supported (a fault config libmesh cannot read whole)"), "%s", err);
  cr_expect_eq(check(LISTENER("                  - name: envoy.filters.http.fault\n"
                              "                    typed_config: {\"@type\": type.googleapis.com/envoy.extensions."
                              "filters.http.fault.v3.HTTPFault, abort: {http_status: 99}}\n",
                              "{prefix: /}"),
                     err, sizeof err),
               MESH_ECONFIG);
  cr_expect(strstr(err, "http_status: 99 is not in [200, 600)"), "%s", err);
}
