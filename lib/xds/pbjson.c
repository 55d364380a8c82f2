/* Proto3 JSON (as a parsed YAML/JSON tree) -> protobuf-c message.
 *
 * The mapping is https://protobuf.dev/programming-guides/proto3/#json with
 * the leniencies Envoy has for YAML (a string field takes any scalar) and
 * none of YAML 1.1's (yes/no/on/off are not booleans, 010 is not octal).
 *
 * Memory: messages are built in place with the caller's allocator and are
 * always in a state protobuf_c_message_free_unpacked() can free: a repeated
 * field's count grows only once an element is stored, a oneof's case is set
 * before its member is, and a field is set at most once (a field given twice
 * is an error), so an error anywhere frees the whole partial message.
 *
 * Recursion follows the tree, whose depth mesh__doc_parse bounded; decode
 * checks max_depth again for trees parsed with other options. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xds/pbjson_int.h"

typedef struct dctx {
  mesh__pbjson_report *r;
  mesh__pb_resolver resolve;
  ProtobufCAllocator *alloc;
  size_t max_depth;
  size_t plen;
  int failed;
  char path[1024];
} dctx;

/* ------------------------------------------------------------ errors, paths */

static int fail(dctx *c, const mesh__node *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(dctx *c, const mesh__node *n, const char *fmt, ...) {
  if (c->failed) return -1;
  c->failed = 1;
  if (!c->r) return -1;
  va_list ap;
  va_start(ap, fmt);
  mesh__pbjson_note_set(&c->r->error, c->path, n ? (int)n->line : 0, fmt, ap);
  va_end(ap);
  return -1;
}

/* Text of s for messages and paths: at most max bytes, non-printable bytes as \xNN. */
static void show_text(char *out, size_t cap, const char *s, size_t n, size_t max) {
  size_t o = 0;
  for (size_t i = 0; i < n && i < max; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (o + 5 >= cap) break;
    if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\') {
      if (ch == '"' || ch == '\\') {
        out[o++] = '\\';
        out[o++] = (char)ch;
      } else {
        o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
      }
    } else {
      out[o++] = (char)ch;
    }
  }
  if (n > max && o + 4 < cap) {
    memcpy(out + o, "...", 3);
    o += 3;
  }
  out[o] = '\0';
}

/* The node as shown in a message: "text", or what kind of node it is. */
static const char *show(const mesh__node *n, char *buf, size_t cap) {
  if (n->kind == MESH__NODE_MAP) return "a mapping";
  if (n->kind == MESH__NODE_SEQ) return "a list";
  if (n->kind == MESH__NODE_NULL) return "null";
  buf[0] = '"';
  show_text(buf + 1, cap - 2, n->u.str, n->len, 48);
  size_t l = strlen(buf);
  buf[l] = '"';
  buf[l + 1] = '\0';
  return buf;
}

static void path_add(dctx *c, const char *s) {
  size_t l = strlen(s);
  if (c->plen + l >= sizeof(c->path)) l = sizeof(c->path) - 1 - c->plen;
  memcpy(c->path + c->plen, s, l);
  c->plen += l;
  c->path[c->plen] = '\0';
}

static size_t path_field(dctx *c, const char *name, size_t n) {
  size_t old = c->plen;
  char tmp[300];
  show_text(tmp, sizeof(tmp), name, n, 64);
  if (c->plen) path_add(c, ".");
  path_add(c, tmp);
  return old;
}

static size_t path_index(dctx *c, size_t i) {
  size_t old = c->plen;
  char tmp[32];
  snprintf(tmp, sizeof(tmp), "[%zu]", i);
  path_add(c, tmp);
  return old;
}

static size_t path_key(dctx *c, const char *k, size_t n) {
  size_t old = c->plen;
  char tmp[300];
  path_add(c, "[\"");
  show_text(tmp, sizeof(tmp), k, n, 64);
  path_add(c, tmp);
  path_add(c, "\"]");
  return old;
}

static void path_pop(dctx *c, size_t old) {
  c->plen = old;
  c->path[old] = '\0';
}

static void note_ignored(dctx *c, const mesh__node *key, const ProtobufCMessageDescriptor *d) {
  mesh__pbjson_report *r = c->r;
  if (!r) return;
  if (r->nignored >= MESH__PBJSON_MAX_IGNORED) {
    r->ndropped++;
    return;
  }
  if (r->nignored == 0 || (r->nignored >= 4 && (r->nignored & (r->nignored - 1)) == 0)) { /* 4, 8, 16, ... */
    size_t cap = r->nignored ? r->nignored * 2 : 4;
    mesh__pbjson_note *g = realloc(r->ignored, cap * sizeof(*g));
    if (!g) {
      r->ndropped++;
      return;
    }
    r->ignored = g;
  }
  size_t old = path_field(c, key->u.str, key->len);
  char k[300];
  show_text(k, sizeof(k), key->u.str, key->len, 64);
  mesh__pbjson_note *n = &r->ignored[r->nignored++];
  memset(n, 0, sizeof(*n));
  snprintf(n->msg, sizeof(n->msg), "unknown field \"%.60s\" in %.100s, ignored", k, d->name);
  size_t pl = strlen(c->path);
  if (pl < sizeof(n->path)) {
    memcpy(n->path, c->path, pl + 1);
  } else {
    memcpy(n->path, "...", 3);
    memcpy(n->path + 3, c->path + pl - (sizeof(n->path) - 4), sizeof(n->path) - 3);
  }
  n->line = (int)key->line;
  path_pop(c, old);
}

/* -------------------------------------------------------------- allocation */

static void *xalloc(dctx *c, const mesh__node *n, size_t sz) {
  void *p = c->alloc ? c->alloc->alloc(c->alloc->allocator_data, sz ? sz : 1) : malloc(sz ? sz : 1);
  if (!p) fail(c, n, "out of memory");
  return p;
}

static void xfree(dctx *c, void *p) {
  if (!p) return;
  if (c->alloc)
    c->alloc->free(c->alloc->allocator_data, p);
  else
    free(p);
}

static ProtobufCMessage *new_msg(dctx *c, const mesh__node *n, const ProtobufCMessageDescriptor *d) {
  ProtobufCMessage *m = xalloc(c, n, d->sizeof_message);
  if (m) protobuf_c_message_init(d, m);
  return m;
}

static void free_msg(dctx *c, ProtobufCMessage *m) {
  if (m) protobuf_c_message_free_unpacked(m, c->alloc);
}

static char *xstrdup(dctx *c, const mesh__node *n, const char *s, size_t len) {
  char *p = xalloc(c, n, len + 1);
  if (!p) return NULL;
  memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

/* ---------------------------------------------------------- field helpers */

#define MEMBER(m, off) ((void *)((char *)(m) + (off)))

static size_t elem_size(ProtobufCType t) {
  switch (t) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32:
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32:
  case PROTOBUF_C_TYPE_ENUM: return 4;
  case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: return 8;
  case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
  case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
  case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
  case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
  case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
  }
  return 8;
}

/* Marks a singular field present: the oneof case, or has_ for proto2 optional scalars. */
static void set_present(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
    *(uint32_t *)MEMBER(m, f->quantifier_offset) = f->id;
  else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
           f->type != PROTOBUF_C_TYPE_MESSAGE)
    *(protobuf_c_boolean *)MEMBER(m, f->quantifier_offset) = 1;
}

static int is_wkt(const ProtobufCFieldDescriptor *f, mesh__wkt w) {
  return f->type == PROTOBUF_C_TYPE_MESSAGE && mesh__pbjson_wkt(f->descriptor) == w;
}

static int is_null_value_enum(const ProtobufCFieldDescriptor *f) {
  return f->type == PROTOBUF_C_TYPE_ENUM &&
         strcmp(((const ProtobufCEnumDescriptor *)f->descriptor)->name, "google.protobuf.NullValue") == 0;
}

/* lowerCamelCase JSON name of a proto field name equals key[0..n)? (protoc's ToJsonName) */
static int camel_eq(const char *name, const char *key, size_t n) {
  size_t i = 0;
  int up = 0;
  for (; *name; name++) {
    if (*name == '_') {
      up = 1;
      continue;
    }
    char ch = *name;
    if (up && ch >= 'a' && ch <= 'z') ch = (char)(ch - 32);
    up = 0;
    if (i >= n || key[i] != ch) return 0;
    i++;
  }
  return i == n;
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d, const mesh__node *key) {
  if (strlen(key->u.str) != key->len) return NULL; /* a NUL inside */
  const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key->u.str);
  if (f) return f;
  /* lowerCamelCase: guess the snake_case name (fooBar -> foo_bar), then check it */
  char snake[128];
  size_t o = 0;
  for (size_t i = 0; i < key->len && o + 2 < sizeof(snake); i++) {
    char ch = key->u.str[i];
    if (ch >= 'A' && ch <= 'Z') {
      snake[o++] = '_';
      ch = (char)(ch + 32);
    }
    snake[o++] = ch;
  }
  snake[o] = '\0';
  f = protobuf_c_message_descriptor_get_field_by_name(d, snake);
  if (f && camel_eq(f->name, key->u.str, key->len)) return f;
  for (unsigned i = 0; i < d->n_fields; i++)
    if (camel_eq(d->fields[i].name, key->u.str, key->len)) return &d->fields[i];
  return NULL;
}

/* -------------------------------------------------------------- scalars */

static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

enum { NUM_OK = 0, NUM_SYNTAX, NUM_LEADING_ZERO, NUM_FRACTION, NUM_OVERFLOW };

/* A decimal number (JSON syntax, exponent allowed) that must be integral: sign and magnitude. */
static int parse_intnum(const char *s, size_t n, int *neg, uint64_t *mag) {
  size_t i = 0, ds, il, fs = 0, fl = 0;
  long exp = 0;
  *neg = 0;
  *mag = 0;
  if (i < n && s[i] == '-') {
    *neg = 1;
    i++;
  }
  ds = i;
  while (i < n && is_digit(s[i])) i++;
  il = i - ds;
  if (il == 0) return NUM_SYNTAX;
  if (il > 1 && s[ds] == '0') return NUM_LEADING_ZERO;
  if (i < n && s[i] == '.') {
    fs = ++i;
    while (i < n && is_digit(s[i])) i++;
    fl = i - fs;
    if (fl == 0) return NUM_SYNTAX;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    int eneg = 0;
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
    if (i >= n || !is_digit(s[i])) return NUM_SYNTAX;
    for (; i < n && is_digit(s[i]); i++)
      if (exp < 1000000) exp = exp * 10 + (s[i] - '0');
    if (eneg) exp = -exp;
  }
  if (i != n) return NUM_SYNTAX;
  /* value = digits(int part . frac part) * 10^exp; p digits stand before the point */
  size_t total = il + fl;
  long p = (long)il + exp;
  for (size_t k = p > 0 ? (size_t)p : 0; k < total; k++) {
    char ch = k < il ? s[ds + k] : s[fs + k - il];
    if (ch != '0') return NUM_FRACTION;
  }
  uint64_t v = 0;
  for (long k = 0; k < p; k++) {
    unsigned dg = (size_t)k < total ? (unsigned)((size_t)k < il ? s[ds + k] : s[fs + k - il]) - '0' : 0;
    if ((size_t)k >= total && v == 0) break;
    if (v > (UINT64_MAX - dg) / 10) return NUM_OVERFLOW;
    v = v * 10 + dg;
  }
  *mag = v;
  return NUM_OK;
}

static int need_scalar(dctx *c, const mesh__node *n, const char *what) {
  if (n->kind == MESH__NODE_SCALAR) return 0;
  char b[64];
  return fail(c, n, "expected %s, got %s", what, show(n, b, sizeof(b)));
}

/* Integers of every width: into *out (int64 or uint64 bits), range [min,max] / [0,umax]. */
static int decode_int(dctx *c, const mesh__node *n, int is_signed, int64_t min, int64_t max, uint64_t umax,
                      const char *tname, uint64_t *out) {
  char b[80];
  if (need_scalar(c, n, "an integer")) return -1;
  int neg;
  uint64_t mag;
  switch (parse_intnum(n->u.str, n->len, &neg, &mag)) {
  case NUM_OK: break;
  case NUM_LEADING_ZERO:
    return fail(c, n, "bad integer %s: leading zeros are not allowed (YAML 1.1 would read octal)",
                show(n, b, sizeof(b)));
  case NUM_FRACTION: return fail(c, n, "bad integer %s: not a whole number", show(n, b, sizeof(b)));
  case NUM_OVERFLOW: return fail(c, n, "integer %s out of range for %s", show(n, b, sizeof(b)), tname);
  default: return fail(c, n, "bad integer %s: expected a decimal number", show(n, b, sizeof(b)));
  }
  if (!is_signed) {
    if (neg && mag) return fail(c, n, "integer %s out of range for %s: negative", show(n, b, sizeof(b)), tname);
    if (mag > umax) return fail(c, n, "integer %s out of range for %s", show(n, b, sizeof(b)), tname);
    *out = mag;
    return 0;
  }
  int64_t v;
  if (neg) {
    if (mag > (uint64_t)INT64_MAX + 1) return fail(c, n, "integer %s out of range for %s", show(n, b, sizeof(b)), tname);
    v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
  } else {
    if (mag > (uint64_t)INT64_MAX) return fail(c, n, "integer %s out of range for %s", show(n, b, sizeof(b)), tname);
    v = (int64_t)mag;
  }
  if (v < min || v > max) return fail(c, n, "integer %s out of range for %s", show(n, b, sizeof(b)), tname);
  memcpy(out, &v, sizeof(v));
  return 0;
}

/* JSON number grammar (no leading zeros, no '+', no hex), whole text. */
static int is_json_number(const char *s, size_t n) {
  size_t i = 0;
  if (i < n && s[i] == '-') i++;
  size_t ds = i;
  while (i < n && is_digit(s[i])) i++;
  if (i == ds || (i - ds > 1 && s[ds] == '0')) return 0;
  if (i < n && s[i] == '.') {
    size_t fs = ++i;
    while (i < n && is_digit(s[i])) i++;
    if (i == fs) return 0;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t es = i;
    while (i < n && is_digit(s[i])) i++;
    if (i == es) return 0;
  }
  return i == n;
}

static int streq(const mesh__node *n, const char *s) { return n->len == strlen(s) && memcmp(n->u.str, s, n->len) == 0; }

/* float/double: numbers, "NaN", "Infinity", "-Infinity", and YAML's .nan/.inf when unquoted. */
static int decode_real(dctx *c, const mesh__node *n, int is_float, double *dout, float *fout) {
  char b[80];
  if (need_scalar(c, n, "a number")) return -1;
  int special = 0;
  double sv = 0;
  if (streq(n, "NaN") || (!n->quoted && (streq(n, ".nan") || streq(n, ".NaN") || streq(n, ".NAN")))) {
    special = 1;
    sv = NAN;
  } else if (streq(n, "Infinity") ||
             (!n->quoted && (streq(n, ".inf") || streq(n, ".Inf") || streq(n, ".INF") || streq(n, "+.inf") ||
                             streq(n, "+.Inf") || streq(n, "+.INF")))) {
    special = 1;
    sv = INFINITY;
  } else if (streq(n, "-Infinity") || (!n->quoted && (streq(n, "-.inf") || streq(n, "-.Inf") || streq(n, "-.INF")))) {
    special = 1;
    sv = -INFINITY;
  }
  if (special) {
    if (is_float)
      *fout = (float)sv;
    else
      *dout = sv;
    return 0;
  }
  if (!is_json_number(n->u.str, n->len))
    return fail(c, n, "bad number %s: expected a decimal number, \"NaN\" or \"Infinity\"", show(n, b, sizeof(b)));
  if (n->len > 512) return fail(c, n, "bad number %s: too long", show(n, b, sizeof(b)));
  locale_t loc = mesh__pbjson_c_locale();
  char *end = NULL;
  if (is_float) {
    float v = loc ? strtof_l(n->u.str, &end, loc) : strtof(n->u.str, &end);
    if (end != n->u.str + n->len) return fail(c, n, "bad number %s", show(n, b, sizeof(b)));
    if (isinf(v)) return fail(c, n, "number %s out of range for float", show(n, b, sizeof(b)));
    *fout = v;
  } else {
    double v = loc ? strtod_l(n->u.str, &end, loc) : strtod(n->u.str, &end);
    if (end != n->u.str + n->len) return fail(c, n, "bad number %s", show(n, b, sizeof(b)));
    if (isinf(v)) return fail(c, n, "number %s out of range for double", show(n, b, sizeof(b)));
    *dout = v;
  }
  return 0;
}

static int bool_text(const mesh__node *n, int *v) {
  if (streq(n, "true") || streq(n, "True") || streq(n, "TRUE")) {
    *v = 1;
    return 1;
  }
  if (streq(n, "false") || streq(n, "False") || streq(n, "FALSE")) {
    *v = 0;
    return 1;
  }
  return 0;
}

static int decode_bool(dctx *c, const mesh__node *n, protobuf_c_boolean *out) {
  char b[80];
  int v;
  if (need_scalar(c, n, "true or false")) return -1;
  if (!bool_text(n, &v)) return fail(c, n, "bad boolean %s: expected true or false", show(n, b, sizeof(b)));
  if (n->quoted) return fail(c, n, "bad boolean %s: a quoted string; write true or false without quotes", show(n, b, sizeof(b)));
  *out = v;
  return 0;
}

static int decode_enum(dctx *c, const mesh__node *n, const ProtobufCEnumDescriptor *ed, int32_t *out) {
  char b[80];
  if (need_scalar(c, n, "an enum value")) return -1;
  const char *s = n->u.str;
  if (n->len && (is_digit(s[0]) || s[0] == '-')) {
    int neg;
    uint64_t mag;
    if (parse_intnum(s, n->len, &neg, &mag) != NUM_OK || mag > (neg ? 2147483648u : 2147483647u))
      return fail(c, n, "bad value %s for enum %s", show(n, b, sizeof(b)), ed->name);
    *out = neg ? (int32_t)(0 - (int64_t)mag) : (int32_t)mag;
    return 0;
  }
  const ProtobufCEnumValue *v = strlen(s) == n->len ? protobuf_c_enum_descriptor_get_value_by_name(ed, s) : NULL;
  if (!v) return fail(c, n, "unknown value %s for enum %s", show(n, b, sizeof(b)), ed->name);
  *out = v->value;
  return 0;
}

static int decode_string(dctx *c, const mesh__node *n, char **out) {
  if (need_scalar(c, n, "a string")) return -1;
  if (memchr(n->u.str, '\0', n->len)) return fail(c, n, "string holds a NUL byte");
  *out = xstrdup(c, n, n->u.str, n->len);
  return *out ? 0 : -1;
}

static int decode_bytes(dctx *c, const mesh__node *n, ProtobufCBinaryData *out) {
  char b[80];
  if (need_scalar(c, n, "a base64 string")) return -1;
  out->len = 0;
  out->data = NULL;
  if (n->len == 0) return 0;
  uint8_t *p = xalloc(c, n, n->len / 4 * 3 + 3);
  if (!p) return -1;
  size_t len;
  if (mesh__pbjson_b64_decode(n->u.str, n->len, p, &len)) {
    xfree(c, p);
    return fail(c, n, "bad base64 %s", show(n, b, sizeof(b)));
  }
  if (len == 0) {
    xfree(c, p);
    return 0;
  }
  out->len = len;
  out->data = p;
  return 0;
}

typedef union scalar {
  int32_t i32;
  uint32_t u32;
  int64_t i64;
  uint64_t u64;
  float f;
  double d;
  protobuf_c_boolean b;
  char *s;
  ProtobufCBinaryData bytes;
} scalar;

/* A non-message value of type f->type into *v (elem_size(f->type) bytes are meaningful). */
static int decode_scalar(dctx *c, const mesh__node *n, const ProtobufCFieldDescriptor *f, scalar *v) {
  uint64_t u;
  memset(v, 0, sizeof(*v));
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32:
    if (decode_int(c, n, 1, INT32_MIN, INT32_MAX, 0, "int32", &u)) return -1;
    int64_t s64;
    memcpy(&s64, &u, sizeof(s64));
    v->i32 = (int32_t)s64;
    return 0;
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
    if (decode_int(c, n, 1, INT64_MIN, INT64_MAX, 0, "int64", &u)) return -1;
    memcpy(&v->i64, &u, sizeof(u));
    return 0;
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32:
    if (decode_int(c, n, 0, 0, 0, UINT32_MAX, "uint32", &u)) return -1;
    v->u32 = (uint32_t)u;
    return 0;
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: return decode_int(c, n, 0, 0, 0, UINT64_MAX, "uint64", &v->u64);
  case PROTOBUF_C_TYPE_FLOAT: return decode_real(c, n, 1, NULL, &v->f);
  case PROTOBUF_C_TYPE_DOUBLE: return decode_real(c, n, 0, &v->d, NULL);
  case PROTOBUF_C_TYPE_BOOL: return decode_bool(c, n, &v->b);
  case PROTOBUF_C_TYPE_ENUM:
    if (n->kind == MESH__NODE_NULL && is_null_value_enum(f)) return 0;
    return decode_enum(c, n, f->descriptor, &v->i32);
  case PROTOBUF_C_TYPE_STRING: return decode_string(c, n, &v->s);
  case PROTOBUF_C_TYPE_BYTES: return decode_bytes(c, n, &v->bytes);
  case PROTOBUF_C_TYPE_MESSAGE: break;
  }
  return fail(c, n, "internal error: not a scalar field");
}

/* ---------------------------------------------------------------- messages */

static int decode_msg(dctx *c, const mesh__node *n, const ProtobufCMessageDescriptor *d, ProtobufCMessage *m,
                      size_t depth);
static int decode_field(dctx *c, const mesh__node *n, const ProtobufCMessageDescriptor *d,
                        const ProtobufCFieldDescriptor *f, ProtobufCMessage *m, size_t depth);

/* Keys of a map node, checked for duplicates (a hash set beyond a few keys). */
static int check_unique_keys(dctx *c, const mesh__node *map) {
  size_t n = map->len;
  if (n < 2) return 0;
  if (n <= 8) {
    for (size_t i = 1; i < n; i++) {
      const mesh__node *k = map->u.kids[2 * i];
      for (size_t j = 0; j < i; j++) {
        const mesh__node *o = map->u.kids[2 * j];
        if (o->len == k->len && memcmp(o->u.str, k->u.str, k->len) == 0) {
          char b[80];
          return fail(c, k, "key %s given twice (first on line %u)", show(k, b, sizeof(b)), (unsigned)o->line);
        }
      }
    }
    return 0;
  }
  size_t cap = 16;
  while (cap < n * 2) cap *= 2;
  const mesh__node **t = calloc(cap, sizeof(*t));
  if (!t) return fail(c, map, "out of memory");
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    const mesh__node *k = map->u.kids[2 * i];
    uint32_t h = 2166136261u;
    for (size_t x = 0; x < k->len; x++) h = (h ^ (unsigned char)k->u.str[x]) * 16777619u;
    size_t j = h & (cap - 1);
    while (t[j]) {
      const mesh__node *o = t[j];
      if (o->len == k->len && memcmp(o->u.str, k->u.str, k->len) == 0) {
        char b[80];
        rc = fail(c, k, "key %s given twice (first on line %u)", show(k, b, sizeof(b)), (unsigned)o->line);
        break;
      }
      j = (j + 1) & (cap - 1);
    }
    t[j] = k;
  }
  free(t);
  return rc;
}

/* YAML reads implicit keys of at most 1024 characters (YAML 1.2 §7.4.2), so
 * a longer key would print as JSON we cannot read back. */
#define MAX_KEY_CHARS 1000

/* Characters of s once written as a JSON string body (the encoder's escapes). */
static size_t json_chars(const char *s, size_t n) {
  size_t chars = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if ((ch & 0xc0) == 0x80) continue; /* continuation byte */
    if (ch < 0x20 || ch == 0x7f)
      chars += 6;
    else if (ch == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] < 0xa0)
      chars += 6; /* C1 controls */
    else if (i + 2 < n && ((ch == 0xe2 && (unsigned char)s[i + 1] == 0x80 && ((unsigned char)s[i + 2] | 1) == 0xa9) ||
                           (ch == 0xef && (unsigned char)s[i + 1] == 0xbf && ((unsigned char)s[i + 2] | 1) == 0xbf)))
      chars += 6; /* U+2028, U+2029, U+FFFE, U+FFFF */
    else
      chars += ch == '"' || ch == '\\' ? 2 : 1;
  }
  return chars;
}

/* An integer map key as the encoder prints it: one text per value. */
static int canonical_int(const char *s, size_t n) {
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == n || (s[i] == '0' && (n - i > 1 || i == 1))) return 0;
  for (; i < n; i++)
    if (!is_digit(s[i])) return 0;
  return 1;
}

/* map<K, V>: a mapping whose keys convert to K. */
static int decode_map(dctx *c, const mesh__node *n, const ProtobufCFieldDescriptor *f, ProtobufCMessage *m,
                      size_t depth) {
  char b[80];
  if (n->kind != MESH__NODE_MAP) return fail(c, n, "expected a mapping (map field), got %s", show(n, b, sizeof(b)));
  if (n->len == 0) return 0;
  if (check_unique_keys(c, n)) return -1;
  const ProtobufCMessageDescriptor *ed = f->descriptor;
  const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
  size_t *np = MEMBER(m, f->quantifier_offset);
  ProtobufCMessage **arr = xalloc(c, n, n->len * sizeof(*arr));
  if (!arr) return -1;
  *(ProtobufCMessage ***)MEMBER(m, f->offset) = arr;
  *np = 0;
  for (size_t i = 0; i < n->len; i++) {
    const mesh__node *k = n->u.kids[2 * i], *v = n->u.kids[2 * i + 1];
    size_t old = path_key(c, k->u.str, k->len);
    if (json_chars(k->u.str, k->len) > MAX_KEY_CHARS)
      return fail(c, k, "map key longer than %d characters (as JSON)", MAX_KEY_CHARS);
    if (kf->type != PROTOBUF_C_TYPE_STRING && kf->type != PROTOBUF_C_TYPE_BOOL && !canonical_int(k->u.str, k->len))
      return fail(c, k, "bad map key %s: expected a decimal integer like \"-12\"", show(k, b, sizeof(b)));
    ProtobufCMessage *e = new_msg(c, k, ed);
    if (!e) return -1;
    arr[(*np)++] = e;
    /* the key: text converted to the key type (quotes do not matter for keys) */
    mesh__node kn = *k;
    kn.kind = MESH__NODE_SCALAR;
    kn.quoted = 0;
    scalar sv;
    if (kf->type == PROTOBUF_C_TYPE_BOOL) {
      int bv;
      if (!bool_text(&kn, &bv) || (k->u.str[0] != 't' && k->u.str[0] != 'f'))
        return fail(c, k, "bad map key %s: expected \"true\" or \"false\"", show(k, b, sizeof(b)));
      sv.b = bv;
    } else if (decode_scalar(c, &kn, kf, &sv)) {
      return -1;
    }
    memcpy(MEMBER(e, kf->offset), &sv, elem_size(kf->type));
    set_present(e, kf);
    if (v->kind == MESH__NODE_NULL && !is_wkt(vf, MESH__WKT_VALUE) && !is_null_value_enum(vf))
      return fail(c, v, "null is not allowed as a map value");
    if (decode_field(c, v, ed, vf, e, depth)) return -1;
    path_pop(c, old);
  }
  return 0;
}

static int decode_repeated(dctx *c, const mesh__node *n, const ProtobufCFieldDescriptor *f, ProtobufCMessage *m,
                           size_t depth) {
  char b[80];
  if (n->kind != MESH__NODE_SEQ) return fail(c, n, "expected a list, got %s", show(n, b, sizeof(b)));
  if (n->len == 0) return 0;
  size_t es = elem_size(f->type);
  size_t *np = MEMBER(m, f->quantifier_offset);
  char *arr = xalloc(c, n, n->len * es);
  if (!arr) return -1;
  *(void **)MEMBER(m, f->offset) = arr;
  *np = 0;
  for (size_t i = 0; i < n->len; i++) {
    const mesh__node *it = n->u.kids[i];
    size_t old = path_index(c, i);
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
      if (it->kind == MESH__NODE_NULL && !is_wkt(f, MESH__WKT_VALUE))
        return fail(c, it, "null is not allowed in a list");
      ProtobufCMessage *e = new_msg(c, it, f->descriptor);
      if (!e) return -1;
      ((ProtobufCMessage **)(void *)arr)[(*np)++] = e;
      if (decode_msg(c, it, f->descriptor, e, depth + 1)) return -1;
    } else {
      scalar sv;
      if (it->kind == MESH__NODE_NULL && !is_null_value_enum(f)) return fail(c, it, "null is not allowed in a list");
      if (decode_scalar(c, it, f, &sv)) return -1;
      memcpy(arr + (*np) * es, &sv, es);
      (*np)++;
    }
    path_pop(c, old);
  }
  return 0;
}

/* One field of m from node n (n already known not to be a null that leaves it unset). */
static int decode_field(dctx *c, const mesh__node *n, const ProtobufCMessageDescriptor *d,
                        const ProtobufCFieldDescriptor *f, ProtobufCMessage *m, size_t depth) {
  if (f->label == PROTOBUF_C_LABEL_REPEATED) {
    if (n->kind == MESH__NODE_NULL) return 0;
    if (mesh__pbjson_is_map(d, f)) return decode_map(c, n, f, m, depth);
    return decode_repeated(c, n, f, m, depth);
  }
  if (n->kind == MESH__NODE_NULL && !is_wkt(f, MESH__WKT_VALUE) && !is_null_value_enum(f)) return 0;
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
    uint32_t cs = *(const uint32_t *)MEMBER(m, f->quantifier_offset);
    if (cs && cs != f->id) {
      const ProtobufCFieldDescriptor *o = protobuf_c_message_descriptor_get_field(d, cs);
      return fail(c, n, "\"%s\" and \"%s\" are members of one oneof: give only one", o ? o->name : "?", f->name);
    }
  }
  if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
    ProtobufCMessage *sub = new_msg(c, n, f->descriptor);
    if (!sub) return -1;
    set_present(m, f);
    *(ProtobufCMessage **)MEMBER(m, f->offset) = sub;
    return decode_msg(c, n, f->descriptor, sub, depth + 1);
  }
  scalar sv;
  if (decode_scalar(c, n, f, &sv)) return -1;
  set_present(m, f);
  memcpy(MEMBER(m, f->offset), &sv, elem_size(f->type));
  return 0;
}

/* The fields of a mapping onto m; skip_type: leave "@type" alone (Any). */
static int decode_fields(dctx *c, const mesh__node *n, const ProtobufCMessageDescriptor *d, ProtobufCMessage *m,
                         size_t depth, int skip_type) {
  uint64_t small[8], *seen = small;
  size_t words = (d->n_fields + 63) / 64;
  int rc = 0;
  if (words > 8) {
    seen = calloc(words, sizeof(*seen));
    if (!seen) return fail(c, n, "out of memory");
  } else {
    memset(small, 0, sizeof(small));
  }
  for (size_t i = 0; i < n->len && !rc; i++) {
    const mesh__node *k = n->u.kids[2 * i], *v = n->u.kids[2 * i + 1];
    if (skip_type && streq(k, "@type")) continue;
    const ProtobufCFieldDescriptor *f = find_field(d, k);
    if (!f) {
      note_ignored(c, k, d);
      continue;
    }
    size_t idx = (size_t)(f - d->fields);
    size_t old = path_field(c, f->name, strlen(f->name));
    if (seen[idx / 64] & (1ull << (idx % 64))) {
      rc = fail(c, k, "field \"%s\" given twice (its snake_case and lowerCamelCase names are one field)", f->name);
    } else {
      seen[idx / 64] |= 1ull << (idx % 64);
      rc = decode_field(c, v, d, f, m, depth);
    }
    if (!rc) path_pop(c, old);
  }
  if (seen != small) free(seen);
  return rc;
}

/* ------------------------------------------------------- well-known types */

static const ProtobufCFieldDescriptor *wkt_field(dctx *c, const mesh__node *n, const ProtobufCMessageDescriptor *d,
                                                 const char *name) {
  const ProtobufCFieldDescriptor *f = mesh__pbjson_field(d, name);
  if (!f) fail(c, n, "%s has no field \"%s\"", d->name, name);
  return f;
}

/* "-12.000000500s": up to 9 fractional digits, |seconds| <= 315576000000. */
static int parse_duration(const char *s, size_t n, int64_t *secs, int32_t *nanos) {
  size_t i = 0;
  int neg = 0;
  if (n < 2 || s[n - 1] != 's') return -1;
  n--;
  if (s[i] == '-') {
    neg = 1;
    i++;
  }
  size_t ds = i;
  int64_t sec = 0;
  while (i < n && is_digit(s[i])) {
    if (i - ds >= 12) return -1;
    sec = sec * 10 + (s[i++] - '0');
  }
  if (i == ds) return -1;
  int32_t ns = 0;
  if (i < n && s[i] == '.') {
    size_t fs = ++i;
    while (i < n && is_digit(s[i])) {
      if (i - fs >= 9) return -1;
      ns = ns * 10 + (s[i++] - '0');
    }
    if (i == fs) return -1;
    for (size_t k = i - fs; k < 9; k++) ns *= 10;
  }
  if (i != n || sec > MESH__DURATION_MAX_SECONDS) return -1;
  *secs = neg ? -sec : sec;
  *nanos = neg ? -ns : ns;
  return 0;
}

static int two(const char *s, unsigned *v) {
  if (!is_digit(s[0]) || !is_digit(s[1])) return -1;
  *v = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
  return 0;
}

/* RFC 3339: 1972-01-01T10:00:20.021Z or with a +hh:mm / -hh:mm offset; years 0001..9999. */
static int parse_timestamp(const char *s, size_t n, int64_t *secs, int32_t *nanos) {
  unsigned y1, y2, mo, d, h, mi, se, oh = 0, om = 0;
  if (n < 20 || two(s, &y1) || two(s + 2, &y2) || s[4] != '-' || two(s + 5, &mo) || s[7] != '-' || two(s + 8, &d) ||
      (s[10] != 'T' && s[10] != 't') || two(s + 11, &h) || s[13] != ':' || two(s + 14, &mi) || s[16] != ':' ||
      two(s + 17, &se))
    return -1;
  unsigned y = y1 * 100 + y2;
  static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 59) return -1;
  if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return -1;
  size_t i = 19;
  int32_t ns = 0;
  if (i < n && s[i] == '.') {
    size_t fs = ++i;
    while (i < n && is_digit(s[i])) {
      if (i - fs >= 9) return -1;
      ns = ns * 10 + (s[i++] - '0');
    }
    if (i == fs) return -1;
    for (size_t k = i - fs; k < 9; k++) ns *= 10;
  }
  int off = 0;
  if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z')) {
    i++;
  } else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && !two(s + i + 1, &oh) && s[i + 3] == ':' &&
             !two(s + i + 4, &om) && oh <= 23 && om <= 59) {
    off = (s[i] == '-' ? -1 : 1) * (int)(oh * 3600 + om * 60);
    i += 6;
  } else {
    return -1;
  }
  int64_t t = mesh__pbjson_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
  if (t < MESH__TIMESTAMP_MIN_SECONDS || t > MESH__TIMESTAMP_MAX_SECONDS) return -1;
  *secs = t;
  *nanos = ns;
  return 0;
}

static int set_secs_nanos(dctx *c, const mesh__node *n, const ProtobufCMessageDescriptor *d, ProtobufCMessage *m,
                          int64_t secs, int32_t nanos) {
  const ProtobufCFieldDescriptor *fs = wkt_field(c, n, d, "seconds"), *fn = wkt_field(c, n, d, "nanos");
  if (!fs || !fn || fs->type != PROTOBUF_C_TYPE_INT64 || fn->type != PROTOBUF_C_TYPE_INT32)
    return fail(c, n, "%s: unexpected descriptor", d->name);
  *(int64_t *)MEMBER(m, fs->offset) = secs;
  set_present(m, fs);
  *(int32_t *)MEMBER(m, fn->offset) = nanos;
  set_present(m, fn);
  return 0;
}

static int decode_any(dctx *c, const mesh__node *n, const ProtobufCMessageDescriptor *d, ProtobufCMessage *m,
                      size_t depth) {
  char b[80];
  if (n->kind != MESH__NODE_MAP) return fail(c, n, "expected a mapping with \"@type\" (Any), got %s", show(n, b, sizeof(b)));
  const mesh__node *tn = mesh__node_get(n, "@type");
  if (!tn) {
    if (n->len == 0) return 0;
    return fail(c, n, "an Any needs \"@type\"");
  }
  if (tn->kind != MESH__NODE_SCALAR || tn->len == 0)
    return fail(c, tn, "bad \"@type\" %s: expected a type URL", show(tn, b, sizeof(b)));
  if (memchr(tn->u.str, '\0', tn->len)) return fail(c, tn, "bad \"@type\": holds a NUL byte");
  if (!c->resolve)
    return fail(c, tn, "cannot decode \"@type\" %s: no type resolver", show(tn, b, sizeof(b)));
  const ProtobufCMessageDescriptor *td = c->resolve(tn->u.str, tn->len);
  /* A type without a schema here can still be read when it needs none:
   * just "@type" (an empty message), or "value" holding its bytes in
   * base64 (as the encoder prints such an Any). Control planes send empty
   * configs of filters libmesh does not know (Istio's fault filter); the
   * translators judge the type, as for binary xDS. */
  const mesh__node *raw = NULL;
  for (size_t i = 0; !td && i < n->len; i++) {
    const mesh__node *k = n->u.kids[2 * i];
    if (streq(k, "@type")) continue;
    if (!streq(k, "value") || raw)
      return fail(c, tn, "unknown type in \"@type\" %s (only an empty one, or one given as a base64 \"value\", "
                  "can be read)", show(tn, b, sizeof(b)));
    raw = n->u.kids[2 * i + 1];
  }
  const ProtobufCFieldDescriptor *fu = wkt_field(c, n, d, "type_url"), *fv = wkt_field(c, n, d, "value");
  if (!fu || !fv || fu->type != PROTOBUF_C_TYPE_STRING || fv->type != PROTOBUF_C_TYPE_BYTES)
    return fail(c, n, "%s: unexpected descriptor", d->name);
  ProtobufCMessage *inner = td ? new_msg(c, n, td) : NULL;
  if (td && !inner) return -1;
  int rc = 0;
  if (!td) {
    /* opaque: packed below from raw */
  } else if (mesh__pbjson_wkt(td) != MESH__WKT_NONE) {
    /* a type with a special JSON form sits under "value" */
    const mesh__node *seen = NULL;
    for (size_t i = 0; i < n->len && !rc; i++) {
      const mesh__node *k = n->u.kids[2 * i], *v = n->u.kids[2 * i + 1];
      if (streq(k, "@type")) continue;
      if (!streq(k, "value")) {
        note_ignored(c, k, td);
        continue;
      }
      if (seen) {
        rc = fail(c, k, "field \"value\" given twice (first on line %u)", (unsigned)seen->line);
        break;
      }
      seen = k;
      size_t old = path_field(c, "value", 5);
      rc = decode_msg(c, v, td, inner, depth + 1);
      if (!rc) path_pop(c, old);
    }
    if (!rc && !seen) { /* no "value": as if null (a Value then holds null, as it prints) */
      mesh__node null_node;
      memset(&null_node, 0, sizeof(null_node));
      null_node.kind = MESH__NODE_NULL;
      null_node.line = n->line;
      null_node.u.str = "";
      rc = decode_msg(c, &null_node, td, inner, depth + 1);
    }
  } else {
    rc = decode_fields(c, n, td, inner, depth + 1, 1);
  }
  uint8_t *buf = NULL;
  size_t sz = 0;
  char *url = NULL;
  if (!td) {
    ProtobufCBinaryData bd = {0, NULL};
    if (raw) {
      size_t old = path_field(c, "value", 5);
      rc = decode_bytes(c, raw, &bd);
      if (!rc) path_pop(c, old);
    }
    buf = bd.data;
    sz = bd.len;
  } else if (!rc) {
    sz = protobuf_c_message_get_packed_size(inner);
    buf = sz ? xalloc(c, n, sz) : NULL;
    if (sz && !buf) rc = -1;
  }
  if (!rc && td && sz && protobuf_c_message_pack(inner, buf) != sz)
    rc = fail(c, n, "internal error: packing %s", td->name);
  if (!rc) {
    static const char prefix[] = "type.googleapis.com/";
    if (memchr(tn->u.str, '/', tn->len)) {
      url = xstrdup(c, tn, tn->u.str, tn->len);
    } else if ((url = xalloc(c, tn, sizeof(prefix) + tn->len)) != NULL) {
      memcpy(url, prefix, sizeof(prefix) - 1);
      memcpy(url + sizeof(prefix) - 1, tn->u.str, tn->len + 1);
    }
    if (!url) rc = -1;
  }
  free_msg(c, inner);
  if (rc) {
    xfree(c, buf);
    return -1;
  }
  *(char **)MEMBER(m, fu->offset) = url;
  set_present(m, fu);
  ProtobufCBinaryData *bd = MEMBER(m, fv->offset);
  bd->len = sz;
  bd->data = buf;
  set_present(m, fv);
  return 0;
}

/* google.protobuf.Value from any node: null, bool, number, string, mapping, list. */
static int decode_value(dctx *c, const mesh__node *n, const ProtobufCMessageDescriptor *d, ProtobufCMessage *m,
                        size_t depth) {
  const char *fname;
  int bv = 0;
  switch (n->kind) {
  case MESH__NODE_NULL: fname = "null_value"; break;
  case MESH__NODE_MAP: fname = "struct_value"; break;
  case MESH__NODE_SEQ: fname = "list_value"; break;
  default:
    if (!n->quoted && bool_text(n, &bv))
      fname = "bool_value";
    else if (!n->quoted && is_json_number(n->u.str, n->len))
      fname = "number_value";
    else
      fname = "string_value";
  }
  const ProtobufCFieldDescriptor *f = wkt_field(c, n, d, fname);
  if (!f) return -1;
  if (f->type == PROTOBUF_C_TYPE_BOOL) {
    set_present(m, f);
    *(protobuf_c_boolean *)MEMBER(m, f->offset) = bv;
    return 0;
  }
  return decode_field(c, n, d, f, m, depth);
}

static int decode_field_mask(dctx *c, const mesh__node *n, const ProtobufCMessageDescriptor *d, ProtobufCMessage *m) {
  if (need_scalar(c, n, "a string of comma-separated paths")) return -1;
  const ProtobufCFieldDescriptor *f = wkt_field(c, n, d, "paths");
  if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label != PROTOBUF_C_LABEL_REPEATED)
    return fail(c, n, "%s: unexpected descriptor", d->name);
  if (memchr(n->u.str, '\0', n->len)) return fail(c, n, "string holds a NUL byte");
  if (memchr(n->u.str, '_', n->len)) {
    char b[80];
    return fail(c, n, "bad field mask %s: paths are lowerCamelCase in JSON (fooBar, not foo_bar)", show(n, b, sizeof(b)));
  }
  if (n->len == 0) return 0;
  size_t np = 1;
  for (size_t i = 0; i < n->len; i++) np += n->u.str[i] == ',';
  char **arr = xalloc(c, n, np * sizeof(*arr));
  if (!arr) return -1;
  size_t *cnt = MEMBER(m, f->quantifier_offset);
  *(char ***)MEMBER(m, f->offset) = arr;
  *cnt = 0;
  const char *s = n->u.str, *end = s + n->len;
  while (s <= end) {
    const char *e = memchr(s, ',', (size_t)(end - s));
    if (!e) e = end;
    size_t up = 0;
    for (const char *p = s; p < e; p++) up += *p >= 'A' && *p <= 'Z';
    char *p = xalloc(c, n, (size_t)(e - s) + up + 1), *o = p;
    if (!p) return -1;
    for (const char *q = s; q < e; q++) {
      if (*q >= 'A' && *q <= 'Z') {
        *o++ = '_';
        *o++ = (char)(*q + 32);
      } else {
        *o++ = *q;
      }
    }
    *o = '\0';
    arr[(*cnt)++] = p;
    s = e + 1;
  }
  return 0;
}

static int decode_wkt(dctx *c, const mesh__node *n, const ProtobufCMessageDescriptor *d, ProtobufCMessage *m,
                      mesh__wkt w, size_t depth) {
  char b[80];
  int64_t secs;
  int32_t nanos;
  const ProtobufCFieldDescriptor *f;
  switch (w) {
  case MESH__WKT_DURATION:
    if (n->kind == MESH__NODE_NULL) return 0;
    if (n->kind != MESH__NODE_SCALAR || parse_duration(n->u.str, n->len, &secs, &nanos))
      return fail(c, n, "bad duration %s: expected a string like \"1.5s\" (at most 9 fractional digits, %lld s)",
                  show(n, b, sizeof(b)), (long long)MESH__DURATION_MAX_SECONDS);
    return set_secs_nanos(c, n, d, m, secs, nanos);
  case MESH__WKT_TIMESTAMP:
    if (n->kind == MESH__NODE_NULL) return 0;
    if (n->kind != MESH__NODE_SCALAR || parse_timestamp(n->u.str, n->len, &secs, &nanos))
      return fail(c, n, "bad timestamp %s: expected RFC 3339 like \"2024-01-31T12:00:00.5Z\"", show(n, b, sizeof(b)));
    return set_secs_nanos(c, n, d, m, secs, nanos);
  case MESH__WKT_FIELD_MASK:
    if (n->kind == MESH__NODE_NULL) return 0;
    return decode_field_mask(c, n, d, m);
  case MESH__WKT_WRAPPER:
    if (n->kind == MESH__NODE_NULL) return 0;
    if (!(f = wkt_field(c, n, d, "value"))) return -1;
    return decode_field(c, n, d, f, m, depth);
  case MESH__WKT_STRUCT:
    if (n->kind == MESH__NODE_NULL) return 0;
    if (n->kind != MESH__NODE_MAP) return fail(c, n, "expected a mapping (Struct), got %s", show(n, b, sizeof(b)));
    if (!(f = wkt_field(c, n, d, "fields"))) return -1;
    return decode_map(c, n, f, m, depth);
  case MESH__WKT_LIST_VALUE:
    if (n->kind == MESH__NODE_NULL) return 0;
    if (n->kind != MESH__NODE_SEQ) return fail(c, n, "expected a list (ListValue), got %s", show(n, b, sizeof(b)));
    if (!(f = wkt_field(c, n, d, "values"))) return -1;
    return decode_repeated(c, n, f, m, depth);
  case MESH__WKT_VALUE: return decode_value(c, n, d, m, depth);
  case MESH__WKT_ANY:
    if (n->kind == MESH__NODE_NULL) return 0;
    return decode_any(c, n, d, m, depth);
  case MESH__WKT_NONE: break;
  }
  return fail(c, n, "internal error: not a well-known type");
}

static int decode_msg(dctx *c, const mesh__node *n, const ProtobufCMessageDescriptor *d, ProtobufCMessage *m,
                      size_t depth) {
  char b[80];
  if (depth > c->max_depth) return fail(c, n, "nesting deeper than %zu levels", c->max_depth);
  mesh__wkt w = mesh__pbjson_wkt(d);
  if (w != MESH__WKT_NONE) return decode_wkt(c, n, d, m, w, depth);
  if (n->kind == MESH__NODE_NULL) return 0;
  if (n->kind != MESH__NODE_MAP) return fail(c, n, "expected a mapping (%s), got %s", d->name, show(n, b, sizeof(b)));
  return decode_fields(c, n, d, m, depth, 0);
}

/* ------------------------------------------------------------------- API */

int mesh__pbjson_decode_node(const mesh__node *n, const ProtobufCMessageDescriptor *d, const mesh__pbjson_opts *o,
                             const char *path_prefix, ProtobufCMessage **out, mesh__pbjson_report *r) {
  dctx c;
  memset(&c, 0, sizeof(c));
  c.r = r;
  c.resolve = o ? o->resolve : NULL;
  c.alloc = o ? o->alloc : NULL;
  c.max_depth = o && o->max_depth ? o->max_depth : MESH__PBJSON_DEFAULT_MAX_DEPTH;
  if (c.max_depth > MESH__PBJSON_MAX_DEPTH_LIMIT) c.max_depth = MESH__PBJSON_MAX_DEPTH_LIMIT;
  if (r) memset(&r->error, 0, sizeof(r->error));
  if (path_prefix) path_add(&c, path_prefix);
  *out = NULL;
  if (!n || !d) return fail(&c, NULL, "nothing to decode");
  ProtobufCMessage *m = new_msg(&c, n, d);
  if (!m) return -1;
  if (decode_msg(&c, n, d, m, 1)) {
    free_msg(&c, m);
    return -1;
  }
  *out = m;
  return 0;
}

int mesh__pbjson_decode(const char *text, size_t len, const ProtobufCMessageDescriptor *d,
                        const mesh__pbjson_opts *o, ProtobufCMessage **out, mesh__pbjson_report *report) {
  mesh__doc *doc;
  *out = NULL;
  if (report) memset(&report->error, 0, sizeof(report->error));
  if (mesh__doc_parse(text, len, o, &doc, report)) return -1;
  int rc = mesh__pbjson_decode_node(mesh__doc_root(doc), d, o, NULL, out, report);
  mesh__doc_free(doc);
  return rc;
}
