/* Wire compatibility, end to end: a resource encoded with the OFFICIAL
 * envoy-api schema (t/data/wire/NAME.bin, see test_proto.c for how they
 * were made) and the same resource written as the file source's YAML
 * (t/data/wire/NAME.yaml) decode in libmesh to the same message, and the
 * translators make the same model of both (same outcome, same error or
 * notes, same names and references). The xDS client gets the first kind,
 * the file source the second. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envoy/config/endpoint/v3/endpoint.pb-c.h"
#include "envoy/config/listener/v3/listener.pb-c.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "model/cluster.h"
#include "model/notes.h"
#include "model/route.h"
#include "model/snapshot.h"
#include "xds/cds.h"
#include "xds/lds.h"
#include "xds/pbjson.h"
#include "xds/rds.h"
#include "xds/registry.h"

static char *slurp(const char *name, const char *ext, size_t *len) {
  const char *top = getenv("top_srcdir");
  char path[4096];
  snprintf(path, sizeof path, "%s/t/data/wire/%s.%s", top && *top ? top : ".", name, ext);
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *buf = malloc((size_t)n + 1);
  cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = 0;
  fclose(f);
  *len = (size_t)n;
  return buf;
}

typedef struct pair {
  ProtobufCMessage *wire, *yaml;
  mesh__pbjson_report rep; /* the YAML's unknown fields */
} pair;

/* Both decodings, and their proto3 JSON is the same (every field libmesh
 * knows, with its value). */
static pair decode_both(const char *name, const ProtobufCMessageDescriptor *d) {
  size_t n;
  char *bin = slurp(name, "bin", &n);
  pair p;
  p.wire = protobuf_c_message_unpack(d, NULL, n, (const uint8_t *)bin);
  free(bin);
  cr_assert_not_null(p.wire);
  char *text = slurp(name, "yaml", &n);
  mesh__pbjson_opts o;
  memset(&o, 0, sizeof o);
  o.resolve = mesh__pb_find;
  memset(&p.rep, 0, sizeof p.rep);
  cr_assert_eq(mesh__pbjson_decode(text, n, d, &o, &p.yaml, &p.rep), 0, "%s.yaml: %s: %s", name, p.rep.error.path,
               p.rep.error.msg);
  free(text);
  char *j1 = mesh__pbjson_encode(p.wire, &o, 1), *j2 = mesh__pbjson_encode(p.yaml, &o, 1);
  cr_assert(j1 && j2);
  cr_expect_str_eq(j1, j2, "%s: the wire and the YAML decode differently", name);
  free(j1);
  free(j2);
  return p;
}

static void free_pair(pair *p) {
  protobuf_c_message_free_unpacked(p->wire, NULL);
  protobuf_c_message_free_unpacked(p->yaml, NULL);
  mesh__pbjson_report_free(&p->rep);
}

/* The same notes, but for where unknown fields are reported: from the
 * wire, the translator notes fields the official schema has and libmesh's
 * lacks (they arrive as unknown fields); from YAML, the mapper reports
 * them before translation. Together they say the same. */
static void expect_same_notes(const mesh__notes *wire, const mesh__notes *yaml, const mesh__pbjson_report *rep) {
  size_t k = 0;
  for (size_t i = 0; i < wire->n; i++) {
    if (k < yaml->n && !strcmp(wire->v[i], yaml->v[k])) {
      k++;
      continue;
    }
    int reported = 0;
    /* A note by field number ("where: field 7: ...") matches an unknown
     * field the mapper found by name under the same message. */
    const char *num = strstr(wire->v[i], ": field ");
    size_t where = num ? (size_t)(num - wire->v[i]) : 0;
    for (size_t j = 0; j < rep->nignored && !reported; j++) {
      const char *path = rep->ignored[j].path;
      size_t l = strlen(path);
      reported = (!strncmp(wire->v[i], path, l) && wire->v[i][l] == ':') ||
                 (num && l > where && !strncmp(path, wire->v[i], where) && path[where] == '.' &&
                  !strchr(path + where + 1, '.'));
    }
    cr_expect(reported, "wire note \"%s\" is neither a YAML note nor an unknown field of the YAML", wire->v[i]);
  }
  cr_expect_eq(k, yaml->n, "YAML notes the wire lacks, from \"%s\"", k < yaml->n ? yaml->v[k] : "");
}

static int collect(const char *name, size_t len, void *ud) {
  char *out = ud;
  size_t l = strlen(out);
  snprintf(out + l, 1024 - l, "%.*s,", (int)len, name);
  return 0;
}

Test(wire_model, route_configuration) {
  pair p = decode_both("route_configuration", &envoy__config__route__v3__route_configuration__descriptor);
  mesh__route_table *rt[2] = {NULL, NULL};
  char err[2][512] = {"", ""};
  mesh__notes notes[2];
  int rc[2];
  for (int i = 0; i < 2; i++) {
    mesh__notes_init(&notes[i]);
    rc[i] = mesh__rds_translate((const Envoy__Config__Route__V3__RouteConfiguration *)(i ? p.yaml : p.wire), &rt[i],
                                err[i], sizeof err[i], &notes[i]);
  }
  cr_expect_eq(rc[0], rc[1]);
  cr_expect_str_eq(err[0], err[1]);
  expect_same_notes(&notes[0], &notes[1], &p.rep);
  if (rc[0] == 0 && rc[1] == 0) {
    cr_expect_str_eq(mesh__route_table_name(rt[0]), mesh__route_table_name(rt[1]));
    char c0[1024] = "", c1[1024] = "";
    mesh__route_table_each_cluster(rt[0], collect, c0);
    mesh__route_table_each_cluster(rt[1], collect, c1);
    cr_expect_str_eq(c0, c1);
    cr_expect_str_eq(c0, "reviews-v1,reviews-v2,");
  }
  for (int i = 0; i < 2; i++) {
    mesh__route_table_unref(rt[i]);
    mesh__notes_free(&notes[i]);
  }
  free_pair(&p);
}

Test(wire_model, listener_api) {
  pair p = decode_both("listener_api", &envoy__config__listener__v3__listener__descriptor);
  mesh__listener l[2];
  mesh__arena *ar = mesh__arena_new(0);
  char err[2][512] = {"", ""};
  mesh__notes notes[2];
  int rc[2];
  for (int i = 0; i < 2; i++) {
    memset(&l[i], 0, sizeof l[i]);
    mesh__notes_init(&notes[i]);
    rc[i] = mesh__lds_translate((const Envoy__Config__Listener__V3__Listener *)(i ? p.yaml : p.wire), ar, &l[i],
                                err[i], sizeof err[i], &notes[i]);
  }
  cr_assert_eq(rc[0], 0, "%s", err[0]);
  cr_assert_eq(rc[1], 0, "%s", err[1]);
  expect_same_notes(&notes[0], &notes[1], &p.rep);
  cr_expect_str_eq(l[0].name, l[1].name);
  cr_expect_eq(l[0].port, l[1].port);
  cr_assert(l[0].rds_name && l[1].rds_name);
  cr_expect_str_eq(l[0].rds_name, "reviews-routes");
  cr_expect_str_eq(l[1].rds_name, "reviews-routes");
  for (int i = 0; i < 2; i++) {
    mesh__listener_release(&l[i]);
    mesh__notes_free(&notes[i]);
  }
  mesh__arena_free(ar);
  free_pair(&p);
}

Test(wire_model, cluster_load_assignment) {
  pair p = decode_both("cluster_load_assignment", &envoy__config__endpoint__v3__cluster_load_assignment__descriptor);
  mesh__load_assignment *la[2] = {NULL, NULL};
  char err[2][512] = {"", ""};
  mesh__notes notes[2];
  int rc[2];
  for (int i = 0; i < 2; i++) {
    mesh__notes_init(&notes[i]);
    rc[i] = mesh__eds_translate((const Envoy__Config__Endpoint__V3__ClusterLoadAssignment *)(i ? p.yaml : p.wire),
                                &la[i], err[i], sizeof err[i], &notes[i]);
  }
  /* The fixture has what libmesh refuses (drop_overloads, a pipe
   * address): both are refused, for the same reason. */
  cr_expect_eq(rc[0], -1);
  cr_expect_eq(rc[1], -1);
  cr_expect_str_eq(err[0], err[1]);
  cr_expect_neq(err[0][0], 0);
  for (int i = 0; i < 2; i++) {
    if (la[i]) mesh__load_assignment_unref(la[i]);
    mesh__notes_free(&notes[i]);
  }
  free_pair(&p);
}
