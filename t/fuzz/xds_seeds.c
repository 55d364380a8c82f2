/*
 * Seed inputs for fuzz_xds from libmesh config files (YAML/JSON in any of
 * the three shapes xds/config.c reads): each file becomes a serialized
 * DiscoveryResponse (first byte 0) holding all its resources, plus one
 * input per resource (first byte 1..4 by type), in OUTDIR.
 *
 *   make t/fuzz/xds_seeds      (or any make check)
 *   ./t/fuzz/xds_seeds t/fuzz/corpus/xds FILE...   (e.g. the files of t/data/realworld)
 *
 * Files that libmesh rejects are fine as seeds: the translators' error
 * paths need inputs too. A file the reader cannot decode is skipped.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envoy/config/bootstrap/v3/bootstrap.pb-c.h"
#include "envoy/config/cluster/v3/cluster.pb-c.h"
#include "envoy/config/endpoint/v3/endpoint.pb-c.h"
#include "envoy/config/listener/v3/listener.pb-c.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "envoy/service/discovery/v3/discovery.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "xds/pbjson.h"
#include "xds/registry.h"

static char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0, r;
  char *b = malloc(cap);
  while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) {
      char *nb = realloc(b, cap *= 2);
      if (!nb) {
        free(b);
        b = NULL;
      }
      b = nb;
    }
  }
  fclose(f);
  *len = n;
  return b;
}

static void write_seed(const char *dir, const char *base, const char *tag, uint8_t kind, const uint8_t *p,
                       size_t n) {
  char path[1024];
  snprintf(path, sizeof path, "%s/rw_%s%s.bin", dir, base, tag);
  FILE *f = fopen(path, "wb");
  if (!f) {
    perror(path);
    return;
  }
  fputc(kind, f);
  fwrite(p, 1, n, f);
  fclose(f);
}

static uint8_t kind_of(const char *type_url) {
  const ProtobufCMessageDescriptor *d = mesh__pb_find(type_url, strlen(type_url));
  if (d == &envoy__config__listener__v3__listener__descriptor) return 1;
  if (d == &envoy__config__route__v3__route_configuration__descriptor) return 2;
  if (d == &envoy__config__cluster__v3__cluster__descriptor) return 3;
  if (d == &envoy__config__endpoint__v3__cluster_load_assignment__descriptor) return 4;
  return 0;
}

static Google__Protobuf__Any *wrap(const ProtobufCMessage *m, const char *url) {
  Google__Protobuf__Any *a = malloc(sizeof *a);
  google__protobuf__any__init(a);
  a->type_url = (char *)url;
  a->value.len = protobuf_c_message_get_packed_size(m);
  a->value.data = malloc(a->value.len ? a->value.len : 1);
  protobuf_c_message_pack(m, a->value.data);
  return a;
}

static int one_file(const char *dir, const char *path) {
  size_t len;
  char *text = read_all(path, &len);
  if (!text) return -1;
  mesh__pbjson_opts o = {mesh__pb_find, 0, 0, NULL};
  mesh__pbjson_report rep = {0};
  mesh__doc *doc = NULL;
  if (mesh__doc_parse(text, len, &o, &doc, &rep) < 0) {
    free(text);
    mesh__pbjson_report_free(&rep);
    return -1;
  }
  const mesh__node *root = mesh__doc_root(doc);
  Envoy__Service__Discovery__V3__DiscoveryResponse dr = ENVOY__SERVICE__DISCOVERY__V3__DISCOVERY_RESPONSE__INIT;
  Google__Protobuf__Any *anys[256];
  size_t n = 0;
  ProtobufCMessage *decoded = NULL;
  int rc = 0;
  if (root && mesh__node_get(root, "static_resources")) {
    rc = mesh__pbjson_decode_node(root, &envoy__config__bootstrap__v3__bootstrap__descriptor, &o, "", &decoded, &rep);
    Envoy__Config__Bootstrap__V3__Bootstrap *bs = (Envoy__Config__Bootstrap__V3__Bootstrap *)decoded;
    for (size_t i = 0; rc == 0 && bs->static_resources && i < bs->static_resources->n_listeners && n < 256; i++)
      anys[n++] = wrap(&bs->static_resources->listeners[i]->base,
                       "type.googleapis.com/envoy.config.listener.v3.Listener");
    for (size_t i = 0; rc == 0 && bs->static_resources && i < bs->static_resources->n_clusters && n < 256; i++)
      anys[n++] = wrap(&bs->static_resources->clusters[i]->base,
                       "type.googleapis.com/envoy.config.cluster.v3.Cluster");
  } else if (root && mesh__node_get(root, "resources")) {
    rc = mesh__pbjson_decode_node(root, &envoy__service__discovery__v3__discovery_response__descriptor, &o, "",
                                  &decoded, &rep);
    Envoy__Service__Discovery__V3__DiscoveryResponse *d = (Envoy__Service__Discovery__V3__DiscoveryResponse *)decoded;
    for (size_t i = 0; rc == 0 && i < d->n_resources && n < 256; i++) {
      Google__Protobuf__Any *a = malloc(sizeof *a);
      *a = *d->resources[i];
      a->value.data = malloc(a->value.len ? a->value.len : 1);
      memcpy(a->value.data, d->resources[i]->value.data, a->value.len);
      a->type_url = strdup(d->resources[i]->type_url);
      anys[n++] = a;
    }
  } else {
    for (size_t i = 0; rc == 0 && root && i < mesh__node_len(root) && n < 256; i++) {
      ProtobufCMessage *m = NULL;
      rc = mesh__pbjson_decode_node(mesh__node_at(root, i), &google__protobuf__any__descriptor, &o, "", &m, &rep);
      if (rc == 0) {
        Google__Protobuf__Any *src = (Google__Protobuf__Any *)m, *a = malloc(sizeof *a);
        *a = *src;
        a->type_url = strdup(src->type_url);
        a->value.data = malloc(src->value.len ? src->value.len : 1);
        memcpy(a->value.data, src->value.data, src->value.len);
        anys[n++] = a;
        protobuf_c_message_free_unpacked(m, NULL);
      }
    }
  }
  if (rc == 0 && n > 0) {
    const char *slash = strrchr(path, '/');
    char base[256];
    snprintf(base, sizeof base, "%s", slash ? slash + 1 : path);
    char *dot = strrchr(base, '.');
    if (dot) *dot = '\0';
    dr.version_info = "1";
    dr.n_resources = n;
    dr.resources = anys;
    size_t sz = envoy__service__discovery__v3__discovery_response__get_packed_size(&dr);
    uint8_t *buf = malloc(sz ? sz : 1);
    envoy__service__discovery__v3__discovery_response__pack(&dr, buf);
    write_seed(dir, base, "", 0, buf, sz);
    free(buf);
    for (size_t i = 0; i < n; i++) {
      char tag[16];
      snprintf(tag, sizeof tag, "_%zu", i);
      uint8_t k = kind_of(anys[i]->type_url);
      if (k) write_seed(dir, base, tag, k, anys[i]->value.data, anys[i]->value.len);
    }
  }
  /* Bootstrap Anys point at static type URLs; the others own theirs. */
  bool own_url = !(root && mesh__node_get(root, "static_resources"));
  for (size_t i = 0; i < n; i++) {
    if (own_url) free(anys[i]->type_url);
    free(anys[i]->value.data);
    free(anys[i]);
  }
  if (decoded) protobuf_c_message_free_unpacked(decoded, NULL);
  mesh__pbjson_report_free(&rep);
  mesh__doc_free(doc);
  free(text);
  return rc == 0 && n > 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s OUTDIR FILE...\n", argv[0]);
    return 2;
  }
  int bad = 0;
  for (int i = 2; i < argc; i++)
    if (one_file(argv[1], argv[i]) < 0) {
      fprintf(stderr, "xds_seeds: %s: not read, skipped\n", argv[i]);
      bad++;
    }
  return bad == argc - 2 ? 1 : 0;
}
