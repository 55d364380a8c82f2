/*
 * libFuzzer target for what the xDS client reads from outside: the
 * bootstrap (lib/xds/bootstrap.c) and the ADS responses from the control
 * plane (DiscoveryResponse and DeltaDiscoveryResponse, each resource
 * decoded and run through its translator, as lib/xds/ads.c does).
 *
 * Each input is tried as a bootstrap text, then as the bytes of both
 * responses. Nothing may crash, leak or hang; a rejected input says why.
 *
 * Build for fuzzing: `make fuzz` builds the other targets; this one is
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Ilib -Iinclude -Ilib/xds/gen \
 *     t/fuzz/fuzz_xds.c <the sources of t_fuzz_replay_xds_client in Makefile.am> -lprotobuf-c -lyaml -lpcre2-8 -lm
 * As a corpus replayer (in `make check`): built with -DMESH_FUZZ_STANDALONE.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envoy/config/cluster/v3/cluster.pb-c.h"
#include "envoy/config/endpoint/v3/endpoint.pb-c.h"
#include "envoy/config/listener/v3/listener.pb-c.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "envoy/service/discovery/v3/discovery.pb-c.h"
#include "model/cluster.h"
#include "model/notes.h"
#include "model/route.h"
#include "xds/bootstrap.h"
#include "xds/cds.h"
#include "xds/lds.h"
#include "xds/rds.h"
#include "xds/registry.h"

#define FUZZ_MAX_INPUT (1024 * 1024)

static void must(int cond, const char *what) {
  if (!cond) {
    fprintf(stderr, "fuzz_xds_client: %s\n", what);
    abort();
  }
}

static void translate(const Google__Protobuf__Any *any) {
  if (!any || !any->type_url) return;
  const ProtobufCMessageDescriptor *d = mesh__pb_find(any->type_url, strlen(any->type_url));
  if (!d) return;
  ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, any->value.len, any->value.data);
  if (!m) return;
  char err[512] = "";
  mesh__notes notes;
  mesh__notes_init(&notes);
  int rc = 0;
  if (d == &envoy__config__listener__v3__listener__descriptor) {
    mesh__arena *a = mesh__arena_new(0);
    mesh__listener l;
    memset(&l, 0, sizeof l);
    rc = mesh__lds_translate((const Envoy__Config__Listener__V3__Listener *)m, a, &l, err, sizeof err, &notes);
    mesh__listener_release(&l);
    mesh__arena_free(a);
  } else if (d == &envoy__config__route__v3__route_configuration__descriptor) {
    mesh__route_table *rt = NULL;
    rc = mesh__rds_translate((const Envoy__Config__Route__V3__RouteConfiguration *)m, &rt, err, sizeof err, &notes);
    mesh__route_table_unref(rt);
  } else if (d == &envoy__config__cluster__v3__cluster__descriptor) {
    mesh__cluster *c = NULL;
    rc = mesh__cds_translate((const Envoy__Config__Cluster__V3__Cluster *)m, &c, err, sizeof err, &notes);
    if (c) mesh__cluster_unref(c);
  } else if (d == &envoy__config__endpoint__v3__cluster_load_assignment__descriptor) {
    mesh__load_assignment *la = NULL;
    rc = mesh__eds_translate((const Envoy__Config__Endpoint__V3__ClusterLoadAssignment *)m, &la, err, sizeof err,
                             &notes);
    if (la) mesh__load_assignment_unref(la);
  }
  must(rc == 0 || err[0], "a translator refused a resource without a reason");
  mesh__notes_free(&notes);
  protobuf_c_message_free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  if (len > FUZZ_MAX_INPUT) return 0;
  /* 1. A bootstrap. */
  mesh__bootstrap *b = NULL;
  char err[512] = "";
  if (mesh__bootstrap_parse((const char *)data, len, "fuzz", &b, err, sizeof err) == 0) {
    must(b && b->nservers > 0 && b->servers[0].host && b->node, "an accepted bootstrap is incomplete");
    char *n = mesh__bootstrap_listener_name(b, "a/b c:80");
    free(n);
    mesh__bootstrap_free(b);
  } else {
    must(!b && err[0], "a rejected bootstrap without a reason");
  }
  /* 2. A state-of-the-world response. */
  Envoy__Service__Discovery__V3__DiscoveryResponse *dr =
      envoy__service__discovery__v3__discovery_response__unpack(NULL, len, data);
  if (dr) {
    for (size_t i = 0; i < dr->n_resources; i++) translate(dr->resources[i]);
    envoy__service__discovery__v3__discovery_response__free_unpacked(dr, NULL);
  }
  /* 3. An incremental one. */
  Envoy__Service__Discovery__V3__DeltaDiscoveryResponse *dd =
      envoy__service__discovery__v3__delta_discovery_response__unpack(NULL, len, data);
  if (dd) {
    for (size_t i = 0; i < dd->n_resources; i++) translate(dd->resources[i]->resource);
    envoy__service__discovery__v3__delta_discovery_response__free_unpacked(dd, NULL);
  }
  return 0;
}

#ifdef MESH_FUZZ_STANDALONE
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_xds_client", argc, argv); }
#endif
