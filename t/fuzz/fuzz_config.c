/*
 * libFuzzer target for the config text reader (lib/xds/pbjson*.c): YAML/JSON
 * -> protobuf-c messages -> proto3 JSON.
 *
 * Each input is
 *   1. parsed into a tree (mesh__doc_parse) and walked through the node API;
 *   2. decoded as meshtest.All (t/unit/pbjson_test.proto, every field kind,
 *      the well-known types, Any with a resolver), with an allocator that
 *      counts, then encoded (compact and indented); the JSON must decode
 *      again, to the same packed bytes, without unknown fields, and encode to
 *      the same text; every allocation must be freed through the allocator;
 *   3. the same as google.protobuf.Value (takes any document) and as
 *      google.protobuf.Any (the resolver's types at the root).
 * A failed decode must say why (a message, a path no longer than the note).
 *
 * Build for fuzzing (generated code of t/unit/pbjson_test.proto in GEN):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Ilib -Iinclude -I$GEN \
 *     t/fuzz/fuzz_config.c lib/xds/pbjson*.c lib/util/arena.c lib/util/buf.c \
 *     $GEN/pbjson_test.pb-c.c $GEN/google/protobuf/[a-z]*.pb-c.c -lyaml -lprotobuf-c -lm -o fuzz_config
 *   ./fuzz_config t/fuzz/corpus/config
 * Build as a plain corpus replayer (no clang needed): the same with cc and
 * -DMESH_FUZZ_STANDALONE instead of -fsanitize=fuzzer; then
 *   ./fuzz_config t/fuzz/corpus/config     (files or directories)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "pbjson_test.pb-c.h"
#include "xds/pbjson.h"

#define FUZZ_MAX_INPUT (256 * 1024)

static void die(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_config: %s\n%s\n", what, detail ? detail : "");
  abort();
}

static const ProtobufCMessageDescriptor *resolve(const char *name, size_t len) {
  static const ProtobufCMessageDescriptor *all[] = {
      &meshtest__all__descriptor,
      &meshtest__inner__descriptor,
      &meshtest__filter__descriptor,
      &google__protobuf__any__descriptor,
      &google__protobuf__duration__descriptor,
      &google__protobuf__timestamp__descriptor,
      &google__protobuf__struct__descriptor,
      &google__protobuf__value__descriptor,
      &google__protobuf__list_value__descriptor,
      &google__protobuf__empty__descriptor,
      &google__protobuf__field_mask__descriptor,
      &google__protobuf__double_value__descriptor,
      &google__protobuf__float_value__descriptor,
      &google__protobuf__int64_value__descriptor,
      &google__protobuf__uint64_value__descriptor,
      &google__protobuf__int32_value__descriptor,
      &google__protobuf__uint32_value__descriptor,
      &google__protobuf__bool_value__descriptor,
      &google__protobuf__string_value__descriptor,
      &google__protobuf__bytes_value__descriptor,
  };
  const char *slash = memrchr(name, '/', len);
  if (slash) {
    len -= (size_t)(slash + 1 - name);
    name = slash + 1;
  }
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    if (strlen(all[i]->name) == len && memcmp(all[i]->name, name, len) == 0) return all[i];
  return NULL;
}

typedef struct counting {
  ProtobufCAllocator a;
  long live;
} counting;

static void *c_alloc(void *ud, size_t n) {
  ((counting *)ud)->live++;
  return malloc(n);
}

static void c_free(void *ud, void *p) {
  if (p) ((counting *)ud)->live--;
  free(p);
}

static void check_note(const mesh__pbjson_note *n, int is_error) {
  if (memchr(n->path, '\0', sizeof(n->path)) == NULL || memchr(n->msg, '\0', sizeof(n->msg)) == NULL)
    die("note not terminated", NULL);
  if (is_error && n->msg[0] == '\0') die("a failed decode without a message", NULL);
  if (n->line < 0) die("negative line", n->msg);
}

/* Walk the tree through the public node API, bounded by a visit budget. */
static void walk(const mesh__node *n, int depth, long *budget) {
  if (!n || --*budget < 0) return;
  if (depth > 200) die("tree deeper than max_depth", NULL);
  if (mesh__node_line(n) <= 0) die("node without a line", NULL);
  switch (mesh__node_kind_of(n)) {
  case MESH__NODE_NULL:
    if (mesh__node_str(n)) die("null with text", NULL);
    break;
  case MESH__NODE_SCALAR:
    if (!mesh__node_str(n) || mesh__node_str(n)[mesh__node_str_len(n)] != '\0') die("scalar text", NULL);
    break;
  case MESH__NODE_SEQ:
    for (size_t i = 0; i < mesh__node_len(n); i++) walk(mesh__node_at(n, i), depth + 1, budget);
    break;
  case MESH__NODE_MAP:
    for (size_t i = 0; i < mesh__node_map_len(n); i++) {
      const mesh__node *k = mesh__node_key_at(n, i);
      if (mesh__node_kind_of(k) == MESH__NODE_MAP || mesh__node_kind_of(k) == MESH__NODE_SEQ) die("complex key", NULL);
      if (mesh__node_kind_of(k) == MESH__NODE_SCALAR && mesh__node_str_len(k) < 64 &&
          !memchr(mesh__node_str(k), '\0', mesh__node_str_len(k)) && mesh__node_get(n, mesh__node_str(k)) == NULL)
        die("node_get misses a key", mesh__node_str(k));
      walk(mesh__node_value_at(n, i), depth + 1, budget);
    }
    break;
  }
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len) {
  *len = protobuf_c_message_get_packed_size(m);
  uint8_t *p = malloc(*len ? *len : 1);
  if (!p) die("out of memory", NULL);
  if (protobuf_c_message_pack(m, p) != *len) die("pack size", NULL);
  return p;
}

/* Decode as d; when that works, the JSON printed must read back to the same message. */
static void roundtrip(const ProtobufCMessageDescriptor *d, const char *text, size_t len) {
  counting c = {{c_alloc, c_free, NULL}, 0};
  c.a.allocator_data = &c;
  mesh__pbjson_opts o = {resolve, 0, 50000, &c.a};
  mesh__pbjson_report r = {0};
  ProtobufCMessage *m = NULL;
  if (mesh__pbjson_decode(text, len, d, &o, &m, &r) != 0) {
    if (m) die("output set on error", NULL);
    check_note(&r.error, 1);
    mesh__pbjson_report_free(&r);
    if (c.live != 0) die("allocations leaked on a failed decode", NULL);
    return;
  }
  if (r.nignored > 1000) die("too many ignored notes kept", NULL);
  for (size_t i = 0; i < r.nignored; i++) check_note(&r.ignored[i], 1);
  mesh__pbjson_report_free(&r);
  size_t l1;
  uint8_t *p1 = pack(m, &l1);
  char *first = NULL;
  for (int indent = 0; indent <= 2; indent += 2) {
    char *j = mesh__pbjson_encode(m, &o, indent);
    if (!j) die("encode failed on a decoded message", d->name);
    ProtobufCMessage *m2 = NULL;
    mesh__pbjson_report r2 = {0};
    if (mesh__pbjson_decode(j, strlen(j), d, &o, &m2, &r2) != 0) {
      char b[600];
      fprintf(stderr, "%s\n", mesh__pbjson_note_format(&r2.error, b, sizeof(b)));
      die("printed JSON does not decode", j);
    }
    if (r2.nignored) die("printed JSON has unknown fields", j);
    size_t l2;
    uint8_t *p2 = pack(m2, &l2);
    if (l1 != l2 || memcmp(p1, p2, l1) != 0) die("round trip changed the message", j);
    char *again = mesh__pbjson_encode(m2, &o, 0);
    if (!again) die("re-encode failed", j);
    if (indent == 0 && strcmp(again, j) != 0) die("encoding is not stable", j);
    free(again);
    free(p2);
    protobuf_c_message_free_unpacked(m2, &c.a);
    mesh__pbjson_report_free(&r2);
    if (indent == 0)
      first = j;
    else
      free(j);
  }
  free(first);
  free(p1);
  protobuf_c_message_free_unpacked(m, &c.a);
  if (c.live != 0) die("allocations not freed through the allocator", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > FUZZ_MAX_INPUT) return 0;
  const char *text = (const char *)data;

  /* 1. parse only, default limits, and a walk */
  mesh__doc *doc = NULL;
  mesh__pbjson_report r = {0};
  if (mesh__doc_parse(text, size, NULL, &doc, &r) == 0) {
    long budget = 200000;
    walk(mesh__doc_root(doc), 1, &budget);
    mesh__doc_free(doc);
  } else {
    if (doc) die("doc set on error", NULL);
    check_note(&r.error, 1);
  }
  mesh__pbjson_report_free(&r);

  /* 2, 3. decode, encode, decode */
  roundtrip(&meshtest__all__descriptor, text, size);
  roundtrip(&google__protobuf__value__descriptor, text, size);
  roundtrip(&google__protobuf__any__descriptor, text, size);
  return 0;
}

#ifdef MESH_FUZZ_STANDALONE
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_config", argc, argv); }
#endif
