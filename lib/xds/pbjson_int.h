/* Internals shared by the pbjson files (pbjson_doc.c, pbjson.c, pbjson_encode.c,
 * pbjson_util.c). Not for other modules: use pbjson.h. */
#ifndef MESH_XDS_PBJSON_INT_H
#define MESH_XDS_PBJSON_INT_H

#include <locale.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "xds/pbjson.h"

struct mesh__node {
  uint8_t kind;   /* mesh__node_kind */
  uint8_t quoted; /* scalar written quoted, as a block scalar or tagged !!str: always a string */
  uint32_t line;
  uint32_t height; /* levels below this node (0 for scalars) */
  size_t len;      /* scalar: bytes; map: pairs; seq: items */
  size_t weight;   /* nodes in the expanded sub-tree, this one included (saturating) */
  union {
    const char *str;          /* scalars and nulls: NUL-terminated */
    const mesh__node **kids;  /* seq: items; map: key, value, key, value, ... */
  } u;
};

/* Well-known types with a special JSON form, by full name. */
typedef enum mesh__wkt {
  MESH__WKT_NONE = 0,
  MESH__WKT_ANY,
  MESH__WKT_DURATION,
  MESH__WKT_TIMESTAMP,
  MESH__WKT_FIELD_MASK,
  MESH__WKT_STRUCT,
  MESH__WKT_VALUE,
  MESH__WKT_LIST_VALUE,
  MESH__WKT_WRAPPER /* DoubleValue ... BytesValue: the JSON of their "value" field */
} mesh__wkt;

mesh__wkt mesh__pbjson_wkt(const ProtobufCMessageDescriptor *d);
/* A map<K,V> field: repeated message XxxEntry {key = 1; value = 2;} nested in the
 * message, named after the field (protoc's rule). */
int mesh__pbjson_is_map(const ProtobufCMessageDescriptor *parent, const ProtobufCFieldDescriptor *f);
/* Field by number / name within d, or NULL. */
const ProtobufCFieldDescriptor *mesh__pbjson_field(const ProtobufCMessageDescriptor *d, const char *name);

/* "C" LC_NUMERIC locale for strtod_l / uselocale; (locale_t)0 if it could not be made. */
locale_t mesh__pbjson_c_locale(void);

/* Base64: decode standard or URL-safe, padding optional; -1 on bad input.
 * out must hold n / 4 * 3 + 3 bytes. */
int mesh__pbjson_b64_decode(const char *s, size_t n, uint8_t *out, size_t *outlen);
/* Standard alphabet with padding; out must hold (n + 2) / 3 * 4 bytes; returns the length. */
size_t mesh__pbjson_b64_encode(const uint8_t *p, size_t n, char *out);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t mesh__pbjson_days_from_civil(int64_t y, unsigned m, unsigned d);
void mesh__pbjson_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#define MESH__DURATION_MAX_SECONDS 315576000000LL /* 10,000 years, the Duration range */
#define MESH__TIMESTAMP_MIN_SECONDS (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define MESH__TIMESTAMP_MAX_SECONDS 253402300799LL   /* 9999-12-31T23:59:59Z */

void mesh__pbjson_note_set(mesh__pbjson_note *n, const char *path, int line, const char *fmt, va_list ap);

#endif
