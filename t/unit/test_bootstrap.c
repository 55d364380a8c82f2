/* xds/bootstrap: gRPC-format bootstraps (grpc/grpc
 * doc/grpc_xds_bootstrap_format.md) as tools write them, and one clear
 * error naming the field for each kind of mistake. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xds/bootstrap.h"

static mesh__bootstrap *parse_ok(const char *text) {
  mesh__bootstrap *b = NULL;
  char err[512] = "";
  int rc = mesh__bootstrap_parse(text, strlen(text), "b.json", &b, err, sizeof err);
  cr_assert_eq(rc, 0, "%s", err);
  cr_assert_not_null(b);
  return b;
}

static void parse_err(const char *text, const char *want) {
  mesh__bootstrap *b = NULL;
  char err[512] = "";
  cr_assert_eq(mesh__bootstrap_parse(text, strlen(text), "b.json", &b, err, sizeof err), -1, "accepted: %s", text);
  cr_assert_null(b);
  cr_expect(strstr(err, want) != NULL, "want \"%s\" in \"%s\"", want, err);
  cr_expect(!strncmp(err, "b.json: ", 8), "the origin comes first: %s", err);
}

static int has_note(const mesh__bootstrap *b, const char *part) {
  for (size_t i = 0; i < b->nnotes; i++)
    if (strstr(b->notes[i], part)) return 1;
  return 0;
}

/* The shape Istio's agent writes for proxyless gRPC. */
Test(bootstrap, istio_style) {
  mesh__bootstrap *b = parse_ok(
      "{\n"
      "  \"xds_servers\": [{\"server_uri\": \"unix:///etc/istio/proxy/XDS\","
      "    \"channel_creds\": [{\"type\": \"insecure\"}], \"server_features\": [\"xds_v3\"]}],\n"
      "  \"node\": {\"id\": \"sidecar~10.0.0.7~app-1.default~default.svc.cluster.local\","
      "    \"metadata\": {\"GENERATOR\": \"grpc\", \"INSTANCE_IPS\": \"10.0.0.7\", \"LABELS\": {\"app\": \"a\"}},"
      "    \"locality\": {\"region\": \"r\", \"zone\": \"z\"}, \"UNKNOWN_FIELD\": 1},\n"
      "  \"certificate_providers\": {\"default\": {\"plugin_name\": \"file_watcher\","
      "    \"config\": {\"certificate_file\": \"/var/run/cert-chain.pem\", \"refresh_interval\": \"900s\"}}},\n"
      "  \"server_listener_resource_name_template\": \"xds.istio.io/grpc/lds/inbound/%s\"\n"
      "}");
  cr_expect_str_eq(b->servers[0].unix_path, "/etc/istio/proxy/XDS");
  cr_expect_str_eq(b->servers[0].host, "localhost");
  cr_expect_str_eq(b->node->id, "sidecar~10.0.0.7~app-1.default~default.svc.cluster.local");
  cr_expect_str_eq(b->node->locality->zone, "z");
  cr_expect_eq(b->nproviders, 1);
  cr_expect(has_note(b, "node.UNKNOWN_FIELD: unknown field, ignored"));
  mesh__bootstrap_free(b);
}

Test(bootstrap, other_schemes_are_rejected_clearly) {
  parse_err("{\"xds_servers\": [{\"server_uri\": \"xds:///x\", \"channel_creds\": [{\"type\": \"insecure\"}]}]}",
            "xds_servers[0].server_uri: \"xds:///x\": only host:port, dns: and unix: targets are supported");
  parse_err("{\"xds_servers\": [{\"server_uri\": \"unix:\", \"channel_creds\": [{\"type\": \"insecure\"}]}]}",
            "a socket path of 1-107 bytes is required");
}

Test(bootstrap, every_field) {
  mesh__bootstrap *b = parse_ok(
      "{\"xds_servers\": [{\"server_uri\": \"dns:///istiod.istio-system.svc:15010\","
      "   \"channel_creds\": [{\"type\": \"google_default\"}, {\"type\": \"insecure\"}],"
      "   \"server_features\": [\"xds_v3\", \"ignore_resource_deletion\", \"fail_on_data_errors\","
      "                         \"resource_timer_is_transient_error\", \"delta_xds\", \"trusted_xds_server\"]},"
      "  {\"server_uri\": \"[::1]:18000\", \"channel_creds\": [{\"type\": \"insecure\"}]}],"
      " \"node\": {\"id\": \"n1\", \"cluster\": \"c\", \"locality\": {\"region\": \"eu\", \"zone\": \"eu-b\","
      "   \"sub_zone\": \"r7\"}, \"metadata\": {\"k\": \"v\", \"n\": 2}},"
      " \"certificate_providers\": {\"p1\": {\"plugin_name\": \"file_watcher\", \"config\": {}}},"
      " \"client_default_listener_resource_name_template\": \"svc/%s\","
      " \"authorities\": {\"traffic-director.example.com\": {"
      "   \"client_listener_resource_name_template\": \"xdstp://traffic-director.example.com/"
      "envoy.config.listener.v3.Listener/%s\","
      "   \"xds_servers\": [{\"server_uri\": \"td.example.com:443\", \"channel_creds\": [{\"type\": \"insecure\"}]}]}}}");
  cr_assert_eq(b->nservers, 2);
  cr_expect_str_eq(b->servers[0].host, "istiod.istio-system.svc");
  cr_expect_eq(b->servers[0].port, 15010);
  cr_expect_str_eq(b->servers[0].creds, "insecure");
  cr_expect(b->servers[0].ignore_resource_deletion && b->servers[0].fail_on_data_errors &&
            b->servers[0].resource_timer_is_transient_error && b->servers[0].delta);
  cr_expect_str_eq(b->servers[1].host, "::1");
  cr_expect_eq(b->servers[1].port, 18000);
  cr_expect(!b->servers[1].delta);
  cr_expect_str_eq(b->node->id, "n1");
  cr_expect_str_eq(b->node->cluster, "c");
  cr_assert_not_null(b->node->locality);
  cr_expect_str_eq(b->node->locality->sub_zone, "r7");
  cr_assert_not_null(b->node->metadata);
  cr_expect_eq(b->node->metadata->n_fields, 2);
  cr_assert_eq(b->nproviders, 1);
  cr_expect_str_eq(b->providers[0].name, "p1");
  cr_expect_str_eq(b->providers[0].plugin_name, "file_watcher");
  cr_assert_eq(b->nauthorities, 1);
  cr_expect_eq(b->authorities[0].nservers, 1);
  cr_expect(has_note(b, "google_default not supported"));
  cr_expect(has_note(b, "\"trusted_xds_server\" not known"));
  cr_expect(has_note(b, "only the first server is used"));
  char *n = mesh__bootstrap_listener_name(b, "api.example:8080");
  cr_expect_str_eq(n, "svc/api.example:8080");
  free(n);
  mesh__bootstrap_free(b);
}

Test(bootstrap, listener_names) {
  mesh__bootstrap *b = parse_ok("{\"xds_servers\": [{\"server_uri\": \"h:1\", \"channel_creds\": [{\"type\": "
                                "\"insecure\"}]}]}");
  char *n = mesh__bootstrap_listener_name(b, "svc.ns:80");
  cr_expect_str_eq(n, "svc.ns:80");
  free(n);
  mesh__bootstrap_free(b);
  /* gRFC A47: in xdstp: names the target is percent-encoded. */
  b = parse_ok("{\"xds_servers\": [{\"server_uri\": \"h:1\", \"channel_creds\": [{\"type\": \"insecure\"}]}],"
               " \"client_default_listener_resource_name_template\": \"xdstp://a.example/"
               "envoy.config.listener.v3.Listener/%s\"}");
  n = mesh__bootstrap_listener_name(b, "svc/x y?");
  cr_expect_str_eq(n, "xdstp://a.example/envoy.config.listener.v3.Listener/svc%2Fx%20y%3F");
  free(n);
  mesh__bootstrap_free(b);
}

Test(bootstrap, uri_forms) {
  static const struct {
    const char *uri, *host;
    int port;
  } ok[] = {{"localhost:18000", "localhost", 18000},     {"dns:///xds.example:443", "xds.example", 443},
            {"dns:xds.example:443", "xds.example", 443},  {"dns://8.8.8.8/xds.example:5", "xds.example", 5},
            {"passthrough:///10.0.0.1:15010", "10.0.0.1", 15010}, {"[fe80::1]:9", "fe80::1", 9}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    char text[256];
    snprintf(text, sizeof text, "{\"xds_servers\": [{\"server_uri\": \"%s\", \"channel_creds\": [{\"type\": "
                                "\"insecure\"}]}]}", ok[i].uri);
    mesh__bootstrap *b = parse_ok(text);
    cr_expect_str_eq(b->servers[0].host, ok[i].host, "%s", ok[i].uri);
    cr_expect_eq(b->servers[0].port, ok[i].port, "%s", ok[i].uri);
    mesh__bootstrap_free(b);
  }
}

Test(bootstrap, errors_name_the_field) {
#define CREDS "\"channel_creds\": [{\"type\": \"insecure\"}]"
  parse_err("[]", "the bootstrap must be a JSON object");
  parse_err("{}", "xds_servers: must be a non-empty list");
  parse_err("{\"xds_servers\": {}}", "xds_servers: must be a non-empty list");
  parse_err("{\"xds_servers\": [1]}", "xds_servers[0]: must be an object");
  parse_err("{\"xds_servers\": [{\"server_uri\": \"h\", " CREDS "}]}", "xds_servers[0].server_uri: \"h\": expected host:port");
  parse_err("{\"xds_servers\": [{\"server_uri\": \"h:99999\", " CREDS "}]}", "the port must be 1-65535");
  parse_err("{\"xds_servers\": [{\"server_uri\": \"[::1:5\", " CREDS "}]}", "expected [address]:port");
  parse_err("{\"xds_servers\": [{\"server_uri\": {}, " CREDS "}]}", "xds_servers[0].server_uri: must be a string");
  parse_err("{\"xds_servers\": [{\"server_uri\": \"h:1\"}]}", "xds_servers[0].channel_creds: required");
  parse_err("{\"xds_servers\": [{\"server_uri\": \"h:1\", \"channel_creds\": [{}]}]}",
            "xds_servers[0].channel_creds[0].type: required");
  parse_err("{\"xds_servers\": [{\"server_uri\": \"h:1\", \"channel_creds\": [{\"type\": \"tls\"}, {\"type\": \"xds\"}]}]}",
            "no supported type (this build supports \"insecure\"; got tls, xds)");
  parse_err("{\"xds_servers\": [{\"server_uri\": \"h:1\", " CREDS ", \"server_features\": \"xds_v3\"}]}",
            "xds_servers[0].server_features: must be a list");
  parse_err("{\"xds_servers\": [{\"server_uri\": \"h:1\", " CREDS "}], \"node\": []}", "node: must be an object");
  parse_err("{\"xds_servers\": [{\"server_uri\": \"h:1\", " CREDS "}], \"node\": {\"id\": {}}}", "node.id");
  parse_err("{\"xds_servers\": [{\"server_uri\": \"h:1\", " CREDS "}], \"certificate_providers\": []}",
            "certificate_providers: must be an object");
  parse_err("{\"xds_servers\": [{\"server_uri\": \"h:1\", " CREDS "}], \"authorities\": {\"a\": {"
            "\"client_listener_resource_name_template\": \"xdstp://b/x/%s\"}}}",
            "authorities[\"a\"].client_listener_resource_name_template: must start with \"xdstp://a/\"");
  parse_err("{\"xds_servers\": [{\"server_uri\": \"h:1\", " CREDS "}], \"authorities\": {\"a\": {"
            "\"xds_servers\": [{\"server_uri\": \"h:1\"}]}}}",
            "authorities[\"a\"].xds_servers[0].channel_creds: required");
  parse_err("{\"xds_servers\": [", "b.json: ");
#undef CREDS
}

Test(bootstrap, yaml_is_read_too) {
  mesh__bootstrap *b = parse_ok("xds_servers:\n- server_uri: h:7\n  channel_creds: [{type: insecure}]\nnode: {id: y}\n");
  cr_expect_eq(b->servers[0].port, 7);
  cr_expect_str_eq(b->node->id, "y");
  mesh__bootstrap_free(b);
}

/* Where the bootstrap comes from: arguments, then MESH_ before GRPC_, a
 * file before inline text. */
Test(bootstrap, sources_in_order) {
  static const char *vars[] = {"MESH_XDS_BOOTSTRAP", "GRPC_XDS_BOOTSTRAP", "MESH_XDS_BOOTSTRAP_CONFIG",
                               "GRPC_XDS_BOOTSTRAP_CONFIG"};
  for (int i = 0; i < 4; i++) unsetenv(vars[i]);
  mesh__bootstrap *b;
  char err[256];
  cr_expect_eq(mesh__bootstrap_load(NULL, NULL, &b, err, sizeof err), 1, "no bootstrap anywhere");
  char p1[64], p2[64];
  snprintf(p1, sizeof p1, "/tmp/mesh-bs1-%d.json", (int)getpid());
  snprintf(p2, sizeof p2, "/tmp/mesh-bs2-%d.json", (int)getpid());
  FILE *f = fopen(p1, "w");
  fputs("{\"xds_servers\": [{\"server_uri\": \"one:1\", \"channel_creds\": [{\"type\": \"insecure\"}]}]}", f);
  fclose(f);
  f = fopen(p2, "w");
  fputs("{\"xds_servers\": [{\"server_uri\": \"two:2\", \"channel_creds\": [{\"type\": \"insecure\"}]}]}", f);
  fclose(f);
  setenv("GRPC_XDS_BOOTSTRAP_CONFIG",
         "{\"xds_servers\": [{\"server_uri\": \"four:4\", \"channel_creds\": [{\"type\": \"insecure\"}]}]}", 1);
  cr_assert_eq(mesh__bootstrap_load(NULL, NULL, &b, err, sizeof err), 0, "%s", err);
  cr_expect_str_eq(b->servers[0].host, "four");
  cr_expect_str_eq(b->origin, "GRPC_XDS_BOOTSTRAP_CONFIG");
  mesh__bootstrap_free(b);
  setenv("GRPC_XDS_BOOTSTRAP", p2, 1);
  cr_assert_eq(mesh__bootstrap_load(NULL, NULL, &b, err, sizeof err), 0, "%s", err);
  cr_expect_str_eq(b->servers[0].host, "two");
  mesh__bootstrap_free(b);
  setenv("MESH_XDS_BOOTSTRAP", p1, 1);
  cr_assert_eq(mesh__bootstrap_load(NULL, NULL, &b, err, sizeof err), 0, "%s", err);
  cr_expect_str_eq(b->servers[0].host, "one");
  mesh__bootstrap_free(b);
  /* Arguments first. */
  cr_assert_eq(mesh__bootstrap_load(p2, NULL, &b, err, sizeof err), 0, "%s", err);
  cr_expect_str_eq(b->servers[0].host, "two");
  mesh__bootstrap_free(b);
  cr_assert_eq(mesh__bootstrap_load(NULL, "{\"xds_servers\": [{\"server_uri\": \"three:3\", \"channel_creds\": "
                                          "[{\"type\": \"insecure\"}]}]}", &b, err, sizeof err), 0, "%s", err);
  cr_expect_str_eq(b->servers[0].host, "three");
  mesh__bootstrap_free(b);
  /* A missing file is an error naming it. */
  setenv("MESH_XDS_BOOTSTRAP", "/nonexistent/bootstrap.json", 1);
  cr_expect_eq(mesh__bootstrap_load(NULL, NULL, &b, err, sizeof err), -1);
  cr_expect(strstr(err, "/nonexistent/bootstrap.json"), "%s", err);
  for (int i = 0; i < 4; i++) unsetenv(vars[i]);
  unlink(p1);
  unlink(p2);
}
