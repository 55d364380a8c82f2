/* Proto3 JSON <-> protobuf-c messages, driven by protobuf-c descriptors.
 *
 * libmesh reads its configuration from a YAML or JSON file holding xDS v3
 * resources in their proto3 JSON shape, and from xDS over gRPC in binary.
 * Both end in the same protobuf-c message structs: this module maps the text
 * form onto them (decode) and prints them back as proto3 JSON (encode, for
 * the config dump).
 *
 * Mapping: https://protobuf.dev/programming-guides/proto3/#json, as Envoy
 * accepts it (field names in snake_case or lowerCamelCase, unknown fields
 * ignored and reported, well-known types in their special forms, Any with
 * "@type"). The YAML side is YAML 1.1/1.2 as read by libyaml; JSON is read as
 * YAML (every JSON text is a YAML 1.2 document; libyaml also reads JSON's
 * escaped surrogate pairs through a rewrite done here).
 *
 * Typing is strict, as proto3 JSON is: booleans are true/false only (YAML
 * 1.1's yes/no/on/off are not), integers are decimal (numbers or strings,
 * exponent allowed when the value is integral, no leading zeros, no hex or
 * octal), durations are strings like "1.5s". A string field takes any
 * scalar: an unquoted 80 is "80". YAML merge keys (<<) and custom tags are
 * rejected; anchors and aliases are expanded, counted against max_nodes.
 *
 * Thread safety: all functions are reentrant; a mesh__doc may be read from
 * several threads at once. */
#ifndef MESH_XDS_PBJSON_H
#define MESH_XDS_PBJSON_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* Resolves an Any's "@type" (a type URL or full name) to a descriptor; NULL if unknown. */
typedef const ProtobufCMessageDescriptor *(*mesh__pb_resolver)(const char *name, size_t len);

typedef struct mesh__pbjson_opts {
  mesh__pb_resolver resolve; /* for Any; may be NULL (then Any with @type is an error) */
  size_t max_depth;          /* default 64 when 0 */
  size_t max_nodes;          /* bound on YAML nodes incl. alias expansions; default 1,000,000 when 0 */
  ProtobufCAllocator *alloc; /* NULL = protobuf-c default */
} mesh__pbjson_opts;

#define MESH__PBJSON_DEFAULT_MAX_DEPTH 64
#define MESH__PBJSON_MAX_DEPTH_LIMIT 1000 /* larger max_depth values are clamped (recursion, stack) */
#define MESH__PBJSON_DEFAULT_MAX_NODES 1000000
#define MESH__PBJSON_MAX_STRING (1024 * 1024) /* bytes in one scalar */
#define MESH__PBJSON_MAX_IGNORED 1000         /* unknown fields kept in a report */

/* One problem or notice, with the path of the field: "static_resources.clusters[2].connect_timeout".
 * Map entries and Struct keys appear as name["key"]. line is 1-based, 0 when unknown. */
typedef struct mesh__pbjson_note {
  char path[256];
  char msg[200];
  int line;
} mesh__pbjson_note;

/* Zero-initialize before the first use; calls add to ignored (so one report can
 * collect the unknown fields of several decodes) and overwrite error. */
typedef struct mesh__pbjson_report {
  mesh__pbjson_note error;    /* set when decoding fails */
  mesh__pbjson_note *ignored; /* unknown fields, ignored and reported (malloc'd array) */
  size_t nignored;
  size_t ndropped; /* unknown fields past the MESH__PBJSON_MAX_IGNORED kept in ignored */
} mesh__pbjson_report;
/* Frees ignored and zeroes *r; NULL is fine. */
void mesh__pbjson_report_free(mesh__pbjson_report *r);

/* Formats a note as `path (line N): msg` (parts that are empty are left out)
 * into buf; returns buf. */
char *mesh__pbjson_note_format(const mesh__pbjson_note *n, char *buf, size_t len);

/* Parse text (YAML 1.1/1.2 or JSON — libyaml reads both) and map the single top-level document onto a
 * new message of type d. 0 on success (*out set; free with protobuf_c_message_free_unpacked(*out, alloc)),
 * -1 on error (report->error says where and why; nothing leaked). report may be NULL. */
int mesh__pbjson_decode(const char *text, size_t len, const ProtobufCMessageDescriptor *d,
                        const mesh__pbjson_opts *o, ProtobufCMessage **out, mesh__pbjson_report *report);

/* Proto3 JSON of m (field names as in the .proto, snake_case, as Envoy's config dump prints them),
 * pretty-printed with indent (0 = compact). Returns a malloc'd NUL-terminated string or NULL. Any is printed
 * with "@type" and the unpacked fields when resolve() knows the type, else {"@type":..., "value": base64}.
 * Fields at their proto3 default are left out. Values JSON cannot hold exactly are printed as proto3 JSON
 * does (64-bit integers as strings, NaN/Infinity as strings); out-of-range Durations and Timestamps are
 * printed as well as they can be. NULL means out of memory or nesting deeper than max_depth. */
char *mesh__pbjson_encode(const ProtobufCMessage *m, const mesh__pbjson_opts *o, int indent);

/* --- the parsed document, for callers that pick resources out of a file */
typedef struct mesh__doc mesh__doc; /* parsed YAML/JSON tree with line numbers */
typedef struct mesh__node mesh__node;

typedef enum mesh__node_kind {
  MESH__NODE_NULL = 0, /* null, ~, or nothing (`key:`) */
  MESH__NODE_SCALAR,   /* any other scalar: string, number or boolean, as written */
  MESH__NODE_MAP,
  MESH__NODE_SEQ
} mesh__node_kind;

/* 0 and *out on success; -1 with r->error set (r may be NULL). The tree honours max_depth and
 * max_nodes of o (o may be NULL). Aliases share the anchored node: walking the tree visits at most
 * max_nodes nodes. */
int mesh__doc_parse(const char *text, size_t len, const mesh__pbjson_opts *o, mesh__doc **out,
                    mesh__pbjson_report *r);
void mesh__doc_free(mesh__doc *d);
const mesh__node *mesh__doc_root(const mesh__doc *d);
mesh__node_kind mesh__node_kind_of(const mesh__node *n); /* MESH__NODE_NULL for NULL */
const mesh__node *mesh__node_get(const mesh__node *map, const char *key); /* NULL if absent or not a map */
size_t mesh__node_len(const mesh__node *seq);                              /* 0 if not a sequence */
const mesh__node *mesh__node_at(const mesh__node *seq, size_t i);
/* Pairs of a map: count (0 if not a map), and the i-th key (a scalar) and value. */
size_t mesh__node_map_len(const mesh__node *map);
const mesh__node *mesh__node_key_at(const mesh__node *map, size_t i);
const mesh__node *mesh__node_value_at(const mesh__node *map, size_t i);
/* NUL-terminated text of a scalar; NULL if not a scalar (maps, sequences and nulls).
 * The text may hold NUL bytes (YAML "\0"): mesh__node_str_len gives the full length. */
const char *mesh__node_str(const mesh__node *scalar);
size_t mesh__node_str_len(const mesh__node *scalar);
int mesh__node_line(const mesh__node *n); /* 1-based; 0 for NULL */

/* Map the sub-tree n onto a new message of type d, as mesh__pbjson_decode does. path_prefix
 * (may be NULL or "") starts the paths in the report, e.g. "resources[3]". */
int mesh__pbjson_decode_node(const mesh__node *n, const ProtobufCMessageDescriptor *d, const mesh__pbjson_opts *o,
                             const char *path_prefix, ProtobufCMessage **out, mesh__pbjson_report *r);

#endif
