/* protobuf-c message -> proto3 JSON text (the config dump).
 *
 * Output follows https://protobuf.dev/programming-guides/proto3/#json with
 * the proto field names (snake_case), as Envoy's config dump prints them:
 * fields at their default are left out, 64-bit integers are strings, floats
 * use the shortest text that reads back to the same value, enums print their
 * name (or number when unknown), bytes are standard base64 with padding,
 * maps are objects, and the well-known types have their special forms. What
 * this prints, mesh__pbjson_decode reads back to the same message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "xds/pbjson_int.h"

typedef struct ectx {
  mesh__buf b;
  mesh__pb_resolver resolve;
  ProtobufCAllocator *alloc;
  size_t max_depth;
  int indent;
  int err;
} ectx;

#define MEMBER(m, off) ((const void *)((const char *)(m) + (off)))

static void put(ectx *c, const char *s, size_t n) {
  if (!c->err && mesh__buf_append(&c->b, s, n)) c->err = 1;
}

static void puts_(ectx *c, const char *s) { put(c, s, strlen(s)); }

static void newline(ectx *c, size_t level) {
  static const char spaces[] = "                                ";
  if (!c->indent) return;
  put(c, "\n", 1);
  size_t n = level * (size_t)c->indent;
  while (n > 0) {
    size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
    put(c, spaces, k);
    n -= k;
  }
}

/* Length of the valid UTF-8 sequence at s (RFC 3629), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned char b = s[0];
  if (b < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if (b >= 0xc2 && b <= 0xdf) {
    len = 2;
    cp = b & 0x1f;
  } else if (b >= 0xe0 && b <= 0xef) {
    len = 3;
    cp = b & 0x0f;
  } else if (b >= 0xf0 && b <= 0xf4) {
    len = 4;
    cp = b & 0x07;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
    return 0;
  return len;
}

/* Characters written as \uXXXX although JSON allows them raw: YAML (which
 * reads our JSON back) refuses DEL, the C1 controls, U+FFFE and U+FFFF, and
 * takes U+0085, U+2028 and U+2029 for line breaks. 0 if none at s. */
static uint32_t yaml_unsafe(const unsigned char *s, size_t l) {
  if (l == 1) return s[0] == 0x7f ? 0x7f : 0;
  if (l == 2 && s[0] == 0xc2 && s[1] < 0xa0) return s[1];
  if (l == 3 && s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9)) return 0x2000u + (s[2] & 0x3fu);
  if (l == 3 && s[0] == 0xef && s[1] == 0xbf && (s[2] == 0xbe || s[2] == 0xbf)) return 0xffc0u + (s[2] & 0x3fu);
  return 0;
}

static void put_str(ectx *c, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t run = 0, i = 0;
  put(c, "\"", 1);
  while (i < n) {
    unsigned char ch = s[i];
    size_t l = ch >= 0x20 && ch != '"' && ch != '\\' ? utf8_len(s + i, n - i) : 0;
    uint32_t u = l ? yaml_unsafe(s + i, l) : 0;
    if (l && !u) {
      i += l;
      continue;
    }
    put(c, str + run, i - run);
    char esc[8];
    if (u) {
      snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)u);
      puts_(c, esc);
      i += l;
      run = i;
      continue;
    }
    switch (ch) {
    case '"': puts_(c, "\\\""); break;
    case '\\': puts_(c, "\\\\"); break;
    case '\n': puts_(c, "\\n"); break;
    case '\r': puts_(c, "\\r"); break;
    case '\t': puts_(c, "\\t"); break;
    case '\b': puts_(c, "\\b"); break;
    case '\f': puts_(c, "\\f"); break;
    default:
      if (ch < 0x20) {
        snprintf(esc, sizeof(esc), "\\u%04x", ch);
        puts_(c, esc);
      } else {
        puts_(c, "\\ufffd"); /* not UTF-8 (a string from the wire) */
      }
    }
    run = ++i;
  }
  put(c, str + run, n - run);
  put(c, "\"", 1);
}

static void put_key(ectx *c, size_t level, const char *name, size_t n, int *first) {
  if (!*first) put(c, ",", 1);
  *first = 0;
  newline(c, level + 1);
  put_str(c, name, n);
  put(c, c->indent ? ": " : ":", c->indent ? 2 : 1);
}

static void end_obj(ectx *c, size_t level, int first, const char *close) {
  if (!first) newline(c, level);
  puts_(c, close);
}

static void put_real(ectx *c, double v, int is_float) {
  if (isnan(v)) {
    puts_(c, "\"NaN\"");
    return;
  }
  if (isinf(v)) {
    puts_(c, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    return;
  }
  /* the shortest %g text that reads back to the same value */
  char buf[48];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, sizeof(buf), "%.*g", prec, v);
    if (is_float ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v) break;
  }
  puts_(c, buf);
}

static void put_fmt_i64(ectx *c, long long v, int quoted) {
  char buf[32];
  snprintf(buf, sizeof(buf), quoted ? "\"%lld\"" : "%lld", v);
  puts_(c, buf);
}

static void put_fmt_u64(ectx *c, unsigned long long v, int quoted) {
  char buf[32];
  snprintf(buf, sizeof(buf), quoted ? "\"%llu\"" : "%llu", v);
  puts_(c, buf);
}

static void put_bytes(ectx *c, const ProtobufCBinaryData *bd) {
  if (bd->len == 0) {
    puts_(c, "\"\"");
    return;
  }
  if (bd->len > (SIZE_MAX - 8) / 4 * 3) {
    c->err = 1;
    return;
  }
  size_t need = (bd->len + 2) / 3 * 4;
  if (!c->err && mesh__buf_reserve(&c->b, need + 2)) c->err = 1;
  if (c->err) return;
  put(c, "\"", 1);
  size_t n = mesh__pbjson_b64_encode(bd->data, bd->len, c->b.data + c->b.off + c->b.len);
  c->b.len += n;
  put(c, "\"", 1);
}

static void enc_msg(ectx *c, const ProtobufCMessage *m, size_t level, size_t depth);

static void enc_value(ectx *c, const ProtobufCFieldDescriptor *f, const void *p, size_t level, size_t depth) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32: put_fmt_i64(c, *(const int32_t *)p, 0); break;
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32: put_fmt_u64(c, *(const uint32_t *)p, 0); break;
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64: put_fmt_i64(c, (long long)*(const int64_t *)p, 1); break;
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: put_fmt_u64(c, (unsigned long long)*(const uint64_t *)p, 1); break;
  case PROTOBUF_C_TYPE_FLOAT: put_real(c, *(const float *)p, 1); break;
  case PROTOBUF_C_TYPE_DOUBLE: put_real(c, *(const double *)p, 0); break;
  case PROTOBUF_C_TYPE_BOOL: puts_(c, *(const protobuf_c_boolean *)p ? "true" : "false"); break;
  case PROTOBUF_C_TYPE_ENUM: {
    const ProtobufCEnumDescriptor *ed = f->descriptor;
    int v = *(const int *)p;
    if (strcmp(ed->name, "google.protobuf.NullValue") == 0) {
      puts_(c, "null");
      break;
    }
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);
    if (ev)
      put_str(c, ev->name, strlen(ev->name));
    else
      put_fmt_i64(c, v, 0);
    break;
  }
  case PROTOBUF_C_TYPE_STRING: {
    const char *s = *(const char *const *)p;
    put_str(c, s ? s : "", s ? strlen(s) : 0);
    break;
  }
  case PROTOBUF_C_TYPE_BYTES: put_bytes(c, p); break;
  case PROTOBUF_C_TYPE_MESSAGE: {
    const ProtobufCMessage *sm = *(const ProtobufCMessage *const *)p;
    if (sm)
      enc_msg(c, sm, level, depth + 1);
    else
      puts_(c, mesh__pbjson_wkt(f->descriptor) == MESH__WKT_VALUE ? "null" : "{}");
    break;
  }
  }
}

static int is_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  const void *p = MEMBER(m, f->offset);
  if (f->label == PROTOBUF_C_LABEL_REPEATED) return *(const size_t *)MEMBER(m, f->quantifier_offset) > 0;
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) return *(const uint32_t *)MEMBER(m, f->quantifier_offset) == f->id;
  if (f->type == PROTOBUF_C_TYPE_MESSAGE) return *(const void *const *)p != NULL;
  if (f->label == PROTOBUF_C_LABEL_REQUIRED) return 1;
  if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
    if (f->type == PROTOBUF_C_TYPE_STRING) return *(const char *const *)p != NULL;
    return *(const protobuf_c_boolean *)MEMBER(m, f->quantifier_offset) != 0;
  }
  switch (f->type) { /* proto3 implicit presence: not the default */
  case PROTOBUF_C_TYPE_BOOL: return *(const protobuf_c_boolean *)p != 0;
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32:
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32:
  case PROTOBUF_C_TYPE_ENUM: return *(const uint32_t *)p != 0;
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: return *(const uint64_t *)p != 0;
  case PROTOBUF_C_TYPE_FLOAT: return *(const float *)p != 0;
  case PROTOBUF_C_TYPE_DOUBLE: return *(const double *)p != 0;
  case PROTOBUF_C_TYPE_STRING: return *(const char *const *)p && **(const char *const *)p;
  case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *)p)->len != 0;
  case PROTOBUF_C_TYPE_MESSAGE: return 1;
  }
  return 0;
}

/* A map field: {"key": value, ...}; keys are strings in JSON. */
static void enc_map(ectx *c, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, size_t level,
                    size_t depth) {
  const ProtobufCMessageDescriptor *ed = f->descriptor;
  const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
  size_t n = *(const size_t *)MEMBER(m, f->quantifier_offset);
  const ProtobufCMessage *const *arr = *(const ProtobufCMessage *const *const *)MEMBER(m, f->offset);
  int first = 1;
  puts_(c, "{");
  for (size_t i = 0; i < n && !c->err; i++) {
    const ProtobufCMessage *e = arr[i];
    if (!e) continue;
    const void *kp = MEMBER(e, kf->offset);
    char kb[32];
    const char *ks = kb;
    size_t kl;
    switch (kf->type) {
    case PROTOBUF_C_TYPE_STRING: ks = *(const char *const *)kp ? *(const char *const *)kp : ""; break;
    case PROTOBUF_C_TYPE_BOOL: ks = *(const protobuf_c_boolean *)kp ? "true" : "false"; break;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: snprintf(kb, sizeof(kb), "%d", (int)*(const int32_t *)kp); break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: snprintf(kb, sizeof(kb), "%u", (unsigned)*(const uint32_t *)kp); break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: snprintf(kb, sizeof(kb), "%lld", (long long)*(const int64_t *)kp); break;
    default: snprintf(kb, sizeof(kb), "%llu", (unsigned long long)*(const uint64_t *)kp); break;
    }
    kl = strlen(ks);
    put_key(c, level, ks, kl, &first);
    enc_value(c, vf, MEMBER(e, vf->offset), level + 1, depth);
  }
  end_obj(c, level, first, "}");
}

static void enc_field(ectx *c, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, size_t level,
                      size_t depth) {
  if (f->label != PROTOBUF_C_LABEL_REPEATED) {
    enc_value(c, f, MEMBER(m, f->offset), level, depth);
    return;
  }
  if (mesh__pbjson_is_map(m->descriptor, f)) {
    enc_map(c, m, f, level, depth);
    return;
  }
  size_t n = *(const size_t *)MEMBER(m, f->quantifier_offset);
  const char *arr = *(const char *const *)MEMBER(m, f->offset);
  size_t es;
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: es = 8; break;
  case PROTOBUF_C_TYPE_DOUBLE: es = sizeof(double); break;
  case PROTOBUF_C_TYPE_FLOAT: es = sizeof(float); break;
  case PROTOBUF_C_TYPE_BOOL: es = sizeof(protobuf_c_boolean); break;
  case PROTOBUF_C_TYPE_STRING: es = sizeof(char *); break;
  case PROTOBUF_C_TYPE_BYTES: es = sizeof(ProtobufCBinaryData); break;
  case PROTOBUF_C_TYPE_MESSAGE: es = sizeof(ProtobufCMessage *); break;
  default: es = 4;
  }
  puts_(c, "[");
  for (size_t i = 0; i < n && !c->err; i++) {
    if (i) put(c, ",", 1);
    newline(c, level + 1);
    enc_value(c, f, arr + i * es, level + 1, depth);
  }
  end_obj(c, level, n == 0, "]");
}

static void enc_fields(ectx *c, const ProtobufCMessage *m, size_t level, size_t depth, int *first) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  for (unsigned i = 0; i < d->n_fields && !c->err; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (!is_present(m, f)) continue;
    put_key(c, level, f->name, strlen(f->name), first);
    enc_field(c, m, f, level + 1, depth);
  }
}

static const ProtobufCFieldDescriptor *wf(const ProtobufCMessage *m, const char *name, ProtobufCType t) {
  const ProtobufCFieldDescriptor *f = mesh__pbjson_field(m->descriptor, name);
  return f && f->type == t ? f : NULL;
}

static int secs_nanos(ectx *c, const ProtobufCMessage *m, int64_t *s, int32_t *ns) {
  const ProtobufCFieldDescriptor *fs = wf(m, "seconds", PROTOBUF_C_TYPE_INT64),
                                 *fn = wf(m, "nanos", PROTOBUF_C_TYPE_INT32);
  if (!fs || !fn) {
    c->err = 1;
    return -1;
  }
  *s = *(const int64_t *)MEMBER(m, fs->offset);
  *ns = *(const int32_t *)MEMBER(m, fn->offset);
  return 0;
}

/* Fraction digits as proto3 JSON prints them: none, 3, 6 or 9. */
static void frac(char *out, size_t cap, uint32_t ns) {
  if (ns == 0)
    out[0] = '\0';
  else if (ns % 1000000 == 0)
    snprintf(out, cap, ".%03u", ns / 1000000);
  else if (ns % 1000 == 0)
    snprintf(out, cap, ".%06u", ns / 1000);
  else
    snprintf(out, cap, ".%09u", ns);
}

static void enc_duration(ectx *c, const ProtobufCMessage *m) {
  int64_t s;
  int32_t ns;
  if (secs_nanos(c, m, &s, &ns)) return;
  /* valid ones have one sign; print others as well as possible */
  int neg = s < 0 || (s == 0 && ns < 0);
  uint64_t us = s < 0 ? 0 - (uint64_t)s : (uint64_t)s;
  int64_t n = ns;
  if (neg) n = -n;
  while (n < 0 && us > 0) {
    us--;
    n += 1000000000;
  }
  if (n < 0) n = 0;
  if (n >= 1000000000) {
    us += (uint64_t)(n / 1000000000);
    n %= 1000000000;
  }
  char fb[16], out[64];
  frac(fb, sizeof(fb), (uint32_t)n);
  snprintf(out, sizeof(out), "\"%s%llu%ss\"", neg ? "-" : "", (unsigned long long)us, fb);
  puts_(c, out);
}

static void enc_timestamp(ectx *c, const ProtobufCMessage *m) {
  int64_t s;
  int32_t ns;
  if (secs_nanos(c, m, &s, &ns)) return;
  if (ns < 0 || ns > 999999999) ns = 0;
  if (s < -(INT64_MAX / 2)) s = -(INT64_MAX / 2);
  if (s > INT64_MAX / 2) s = INT64_MAX / 2;
  int64_t days = s / 86400, rem = s % 86400;
  if (rem < 0) {
    rem += 86400;
    days--;
  }
  int64_t y;
  unsigned mo, d;
  mesh__pbjson_civil_from_days(days, &y, &mo, &d);
  char fb[16], out[96];
  frac(fb, sizeof(fb), (uint32_t)ns);
  snprintf(out, sizeof(out), "\"%04lld-%02u-%02uT%02u:%02u:%02u%sZ\"", (long long)y, mo, d, (unsigned)(rem / 3600),
           (unsigned)(rem / 60 % 60), (unsigned)(rem % 60), fb);
  puts_(c, out);
}

static void enc_field_mask(ectx *c, const ProtobufCMessage *m) {
  const ProtobufCFieldDescriptor *f = wf(m, "paths", PROTOBUF_C_TYPE_STRING);
  if (!f || f->label != PROTOBUF_C_LABEL_REPEATED) {
    c->err = 1;
    return;
  }
  size_t n = *(const size_t *)MEMBER(m, f->quantifier_offset);
  char *const *paths = *(char *const *const *)MEMBER(m, f->offset);
  mesh__buf tmp;
  mesh__buf_init(&tmp);
  for (size_t i = 0; i < n; i++) {
    if (i && mesh__buf_append(&tmp, ",", 1)) c->err = 1;
    int up = 0;
    for (const char *p = paths[i] ? paths[i] : ""; *p; p++) {
      if (*p == '_') {
        up = 1;
        continue;
      }
      char ch = up && *p >= 'a' && *p <= 'z' ? (char)(*p - 32) : *p;
      up = 0;
      if (mesh__buf_append(&tmp, &ch, 1)) c->err = 1;
    }
  }
  put_str(c, tmp.data ? tmp.data : "", tmp.len);
  mesh__buf_free(&tmp);
}

static void enc_any(ectx *c, const ProtobufCMessage *m, size_t level, size_t depth) {
  const ProtobufCFieldDescriptor *fu = wf(m, "type_url", PROTOBUF_C_TYPE_STRING),
                                 *fv = wf(m, "value", PROTOBUF_C_TYPE_BYTES);
  if (!fu || !fv) {
    c->err = 1;
    return;
  }
  const char *url = *(const char *const *)MEMBER(m, fu->offset);
  const ProtobufCBinaryData *val = MEMBER(m, fv->offset);
  if (!url) url = "";
  if (!url[0] && val->len == 0) {
    puts_(c, "{}");
    return;
  }
  int first = 1;
  puts_(c, "{");
  put_key(c, level, "@type", 5, &first);
  put_str(c, url, strlen(url));
  const ProtobufCMessageDescriptor *td = c->resolve && url[0] ? c->resolve(url, strlen(url)) : NULL;
  ProtobufCMessage *inner = td ? protobuf_c_message_unpack(td, c->alloc, val->len, val->data) : NULL;
  if (!inner) {
    put_key(c, level, "value", 5, &first);
    put_bytes(c, val);
  } else if (mesh__pbjson_wkt(td) != MESH__WKT_NONE) {
    put_key(c, level, "value", 5, &first);
    enc_msg(c, inner, level + 1, depth + 1);
  } else if (depth + 1 > c->max_depth) {
    c->err = 1;
  } else {
    enc_fields(c, inner, level, depth + 1, &first);
  }
  if (inner) protobuf_c_message_free_unpacked(inner, c->alloc);
  end_obj(c, level, first, "}");
}

static void enc_value_msg(ectx *c, const ProtobufCMessage *m, size_t level, size_t depth) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  const ProtobufCFieldDescriptor *f = NULL;
  for (unsigned i = 0; i < d->n_fields; i++)
    if (d->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
      uint32_t cs = *(const uint32_t *)MEMBER(m, d->fields[i].quantifier_offset);
      f = cs ? protobuf_c_message_descriptor_get_field(d, cs) : NULL;
      break;
    }
  if (!f || f->type == PROTOBUF_C_TYPE_ENUM) {
    puts_(c, "null");
    return;
  }
  if (f->type == PROTOBUF_C_TYPE_MESSAGE && !*(const void *const *)MEMBER(m, f->offset)) {
    puts_(c, mesh__pbjson_wkt(f->descriptor) == MESH__WKT_LIST_VALUE ? "[]" : "{}");
    return;
  }
  enc_value(c, f, MEMBER(m, f->offset), level, depth);
}

static void enc_msg(ectx *c, const ProtobufCMessage *m, size_t level, size_t depth) {
  const ProtobufCFieldDescriptor *f;
  if (c->err) return;
  if (depth > c->max_depth) {
    c->err = 1;
    return;
  }
  switch (mesh__pbjson_wkt(m->descriptor)) {
  case MESH__WKT_DURATION: enc_duration(c, m); return;
  case MESH__WKT_TIMESTAMP: enc_timestamp(c, m); return;
  case MESH__WKT_FIELD_MASK: enc_field_mask(c, m); return;
  case MESH__WKT_ANY: enc_any(c, m, level, depth); return;
  case MESH__WKT_VALUE: enc_value_msg(c, m, level, depth); return;
  case MESH__WKT_WRAPPER:
    if (!(f = mesh__pbjson_field(m->descriptor, "value")) || f->label == PROTOBUF_C_LABEL_REPEATED) {
      c->err = 1;
      return;
    }
    enc_value(c, f, MEMBER(m, f->offset), level, depth);
    return;
  case MESH__WKT_STRUCT:
    if (!(f = wf(m, "fields", PROTOBUF_C_TYPE_MESSAGE)) || !mesh__pbjson_is_map(m->descriptor, f)) {
      c->err = 1;
      return;
    }
    enc_map(c, m, f, level, depth);
    return;
  case MESH__WKT_LIST_VALUE:
    if (!(f = wf(m, "values", PROTOBUF_C_TYPE_MESSAGE)) || f->label != PROTOBUF_C_LABEL_REPEATED) {
      c->err = 1;
      return;
    }
    enc_field(c, m, f, level, depth);
    return;
  case MESH__WKT_NONE: break;
  }
  int first = 1;
  puts_(c, "{");
  enc_fields(c, m, level, depth, &first);
  end_obj(c, level, first, "}");
}

char *mesh__pbjson_encode(const ProtobufCMessage *m, const mesh__pbjson_opts *o, int indent) {
  ectx c;
  if (!m) return NULL;
  memset(&c, 0, sizeof(c));
  mesh__buf_init(&c.b);
  c.resolve = o ? o->resolve : NULL;
  c.alloc = o ? o->alloc : NULL;
  c.max_depth = o && o->max_depth ? o->max_depth : MESH__PBJSON_DEFAULT_MAX_DEPTH;
  if (c.max_depth > MESH__PBJSON_MAX_DEPTH_LIMIT) c.max_depth = MESH__PBJSON_MAX_DEPTH_LIMIT;
  c.indent = indent < 0 ? 0 : indent > 16 ? 16 : indent;
  /* number formatting and reading in the "C" locale, whatever the application set */
  locale_t loc = mesh__pbjson_c_locale(), old = (locale_t)0;
  if (loc) old = uselocale(loc);
  enc_msg(&c, m, 0, 1);
  if (loc) uselocale(old);
  put(&c, "", 1); /* the NUL */
  if (c.err) {
    mesh__buf_free(&c.b);
    return NULL;
  }
  return c.b.data;
}
