/* Helpers shared by the proto3 JSON decoder and encoder: well-known type
 * detection, map fields, base64, calendar arithmetic, the C locale, reports. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xds/pbjson_int.h"

mesh__wkt mesh__pbjson_wkt(const ProtobufCMessageDescriptor *d) {
  static const struct {
    const char *name;
    mesh__wkt kind;
  } wkts[] = {
      {"Any", MESH__WKT_ANY},
      {"Duration", MESH__WKT_DURATION},
      {"Timestamp", MESH__WKT_TIMESTAMP},
      {"FieldMask", MESH__WKT_FIELD_MASK},
      {"Struct", MESH__WKT_STRUCT},
      {"Value", MESH__WKT_VALUE},
      {"ListValue", MESH__WKT_LIST_VALUE},
      {"DoubleValue", MESH__WKT_WRAPPER},
      {"FloatValue", MESH__WKT_WRAPPER},
      {"Int64Value", MESH__WKT_WRAPPER},
      {"UInt64Value", MESH__WKT_WRAPPER},
      {"Int32Value", MESH__WKT_WRAPPER},
      {"UInt32Value", MESH__WKT_WRAPPER},
      {"BoolValue", MESH__WKT_WRAPPER},
      {"StringValue", MESH__WKT_WRAPPER},
      {"BytesValue", MESH__WKT_WRAPPER},
  };
  const char *n = d->name;
  if (!n || strncmp(n, "google.protobuf.", 16) != 0) return MESH__WKT_NONE;
  n += 16;
  for (size_t i = 0; i < sizeof(wkts) / sizeof(wkts[0]); i++)
    if (strcmp(n, wkts[i].name) == 0) return wkts[i].kind;
  return MESH__WKT_NONE;
}

const ProtobufCFieldDescriptor *mesh__pbjson_field(const ProtobufCMessageDescriptor *d, const char *name) {
  return protobuf_c_message_descriptor_get_field_by_name(d, name);
}

int mesh__pbjson_is_map(const ProtobufCMessageDescriptor *parent, const ProtobufCFieldDescriptor *f) {
  if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE) return 0;
  const ProtobufCMessageDescriptor *e = f->descriptor;
  if (e->n_fields != 2 || e->fields[0].id != 1 || e->fields[1].id != 2 || strcmp(e->fields[0].name, "key") != 0 ||
      strcmp(e->fields[1].name, "value") != 0 || e->fields[0].label == PROTOBUF_C_LABEL_REPEATED ||
      e->fields[1].label == PROTOBUF_C_LABEL_REPEATED)
    return 0;
  /* protoc names the entry after the field: foo_bar -> FooBarEntry, nested in the parent. */
  const char *s = e->short_name, *fn = f->name;
  size_t pl = strlen(parent->name);
  if (strncmp(e->name, parent->name, pl) != 0 || e->name[pl] != '.' || strcmp(e->name + pl + 1, s) != 0) return 0;
  int up = 1;
  for (; *fn; fn++) {
    if (*fn == '_') {
      up = 1;
      continue;
    }
    char c = *fn;
    if (up && c >= 'a' && c <= 'z') c = (char)(c - 32);
    up = 0;
    if (*s++ != c) return 0;
  }
  return strcmp(s, "Entry") == 0;
}

locale_t mesh__pbjson_c_locale(void) {
  static _Atomic(locale_t) cached;
  locale_t l = atomic_load(&cached);
  if (l) return l;
  l = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
  if (!l) return (locale_t)0;
  locale_t expected = (locale_t)0;
  if (!atomic_compare_exchange_strong(&cached, &expected, l)) {
    freelocale(l);
    l = expected;
  }
  return l;
}

/* ------------------------------------------------------------------ base64 */

static int b64_val(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

int mesh__pbjson_b64_decode(const char *s, size_t n, uint8_t *out, size_t *outlen) {
  size_t pad = 0;
  while (n > 0 && s[n - 1] == '=' && pad < 2) {
    n--;
    pad++;
  }
  if (pad && (n + pad) % 4 != 0) return -1;
  if (n % 4 == 1) return -1;
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64_val((unsigned char)s[i]);
    if (v < 0) return -1;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  *outlen = o;
  return 0;
}

size_t mesh__pbjson_b64_encode(const uint8_t *p, size_t n, char *out) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0, i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    out[o++] = tab[v >> 18];
    out[o++] = tab[(v >> 12) & 63];
    out[o++] = tab[(v >> 6) & 63];
    out[o++] = tab[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
    out[o++] = tab[v >> 18];
    out[o++] = tab[(v >> 12) & 63];
    out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  return o;
}

/* ---------------------------------------------------------------- calendar */
/* Howard Hinnant's days_from_civil / civil_from_days (public domain). */

int64_t mesh__pbjson_days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

void mesh__pbjson_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = (unsigned)(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* ----------------------------------------------------------------- reports */

void mesh__pbjson_report_free(mesh__pbjson_report *r) {
  if (!r) return;
  free(r->ignored);
  memset(r, 0, sizeof(*r));
}

void mesh__pbjson_note_set(mesh__pbjson_note *n, const char *path, int line, const char *fmt, va_list ap) {
  size_t pl = strlen(path);
  if (pl < sizeof(n->path)) {
    memcpy(n->path, path, pl + 1);
  } else { /* keep the end, the most specific part */
    size_t keep = sizeof(n->path) - 4;
    memcpy(n->path, "...", 3);
    memcpy(n->path + 3, path + pl - keep, keep + 1);
  }
  n->line = line;
  vsnprintf(n->msg, sizeof(n->msg), fmt, ap);
}

char *mesh__pbjson_note_format(const mesh__pbjson_note *n, char *buf, size_t len) {
  if (!buf || len == 0) return buf;
  const char *p = n->path[0] ? n->path : "";
  if (n->line > 0)
    snprintf(buf, len, "%s%s(line %d): %s", p, p[0] ? " " : "", n->line, n->msg);
  else if (p[0])
    snprintf(buf, len, "%s: %s", p, n->msg);
  else
    snprintf(buf, len, "%s", n->msg);
  return buf;
}
