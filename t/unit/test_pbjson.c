/* xds/pbjson: proto3 JSON / YAML <-> protobuf-c messages, on the test schema
 * t/unit/pbjson_test.proto (every field kind and the well-known types). */
#include <criterion/criterion.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "pbjson_test.pb-c.h"
#include "xds/pbjson.h"

/* ------------------------------------------------------------------ helpers */

static const ProtobufCMessageDescriptor *resolve(const char *name, size_t len) {
  static const ProtobufCMessageDescriptor *all[] = {
      &meshtest__all__descriptor,           &meshtest__inner__descriptor,          &meshtest__filter__descriptor,
      &google__protobuf__any__descriptor,   &google__protobuf__duration__descriptor,
      &google__protobuf__timestamp__descriptor, &google__protobuf__struct__descriptor,
      &google__protobuf__value__descriptor, &google__protobuf__list_value__descriptor,
      &google__protobuf__empty__descriptor, &google__protobuf__uint32_value__descriptor,
      &google__protobuf__string_value__descriptor, &google__protobuf__field_mask__descriptor,
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

static mesh__pbjson_opts OPTS = {resolve, 0, 0, NULL};

static char *fmt_note(const mesh__pbjson_note *n) {
  static char buf[1024];
  return mesh__pbjson_note_format(n, buf, sizeof(buf));
}

static Meshtest__All *dec(const char *text) {
  ProtobufCMessage *m = NULL;
  mesh__pbjson_report r = {0};
  int rc = mesh__pbjson_decode(text, strlen(text), &meshtest__all__descriptor, &OPTS, &m, &r);
  cr_assert_eq(rc, 0, "decode failed: %s\ninput: %s", fmt_note(&r.error), text);
  mesh__pbjson_report_free(&r);
  return (Meshtest__All *)m;
}

static void put_all(Meshtest__All *m) { protobuf_c_message_free_unpacked(&m->base, NULL); }

/* Decoding must fail with this path, line and a message containing msg. */
static void dec_err(const char *text, const char *path, int line, const char *msg) {
  ProtobufCMessage *m = (ProtobufCMessage *)1;
  mesh__pbjson_report r = {0};
  int rc = mesh__pbjson_decode(text, strlen(text), &meshtest__all__descriptor, &OPTS, &m, &r);
  cr_assert_eq(rc, -1, "decode should fail: %s", text);
  cr_expect_null(m);
  if (path) cr_expect_str_eq(r.error.path, path, "path of %s (%s)", text, fmt_note(&r.error));
  if (line >= 0) cr_expect_eq(r.error.line, line, "line of %s (%s)", text, fmt_note(&r.error));
  cr_expect(strstr(r.error.msg, msg) != NULL, "message of %s: got \"%s\", want \"%s\"", text, r.error.msg, msg);
  mesh__pbjson_report_free(&r);
}

/* Packed bytes of a message (for comparing two messages). */
static uint8_t *pack(const ProtobufCMessage *m, size_t *len) {
  *len = protobuf_c_message_get_packed_size(m);
  uint8_t *p = malloc(*len + 1);
  cr_assert(p);
  cr_assert_eq(protobuf_c_message_pack(m, p), *len);
  return p;
}

/* encode -> decode gives the same message (compact and indented). */
static void roundtrip(const ProtobufCMessage *m) {
  size_t l1, l2;
  uint8_t *p1 = pack(m, &l1);
  for (int indent = 0; indent <= 2; indent += 2) {
    char *j = mesh__pbjson_encode(m, &OPTS, indent);
    cr_assert(j, "encode failed");
    ProtobufCMessage *m2;
    mesh__pbjson_report r = {0};
    cr_assert_eq(mesh__pbjson_decode(j, strlen(j), m->descriptor, &OPTS, &m2, &r), 0, "re-decode: %s\n%s",
                 fmt_note(&r.error), j);
    cr_expect_eq(r.nignored, 0);
    uint8_t *p2 = pack(m2, &l2);
    cr_expect(l1 == l2 && memcmp(p1, p2, l1) == 0, "round trip changed the message:\n%s", j);
    free(p2);
    protobuf_c_message_free_unpacked(m2, NULL);
    mesh__pbjson_report_free(&r);
    free(j);
  }
  free(p1);
}

static char *enc(const ProtobufCMessage *m) {
  char *j = mesh__pbjson_encode(m, &OPTS, 0);
  cr_assert(j);
  return j;
}

/* Decode text and expect the compact encoding to be want. */
static void dec_enc(const char *text, const char *want) {
  Meshtest__All *m = dec(text);
  char *j = enc(&m->base);
  cr_expect_str_eq(j, want, "input: %s", text);
  roundtrip(&m->base);
  free(j);
  put_all(m);
}

/* --------------------------------------------------------------- scalars */

Test(pbjson, scalars_every_type) {
  Meshtest__All *m = dec("f_int32: -5\nf_sint32: \"7\"\nf_sfixed32: -2147483648\n"
                         "f_int64: \"-9223372036854775808\"\nf_sint64: 12\nf_sfixed64: 9223372036854775807\n"
                         "f_uint32: 4294967295\nf_fixed32: \"1\"\nf_uint64: \"18446744073709551615\"\n"
                         "f_fixed64: 2\nf_float: 0.5\nf_double: -1.25e-3\nf_bool: true\n"
                         "f_string: hello\nf_bytes: aGVsbG8=\nf_enum: BLUE\n");
  cr_expect_eq(m->f_int32, -5);
  cr_expect_eq(m->f_sint32, 7);
  cr_expect_eq(m->f_sfixed32, INT32_MIN);
  cr_expect_eq(m->f_int64, INT64_MIN);
  cr_expect_eq(m->f_sint64, 12);
  cr_expect_eq(m->f_sfixed64, INT64_MAX);
  cr_expect_eq(m->f_uint32, UINT32_MAX);
  cr_expect_eq(m->f_fixed32, 1);
  cr_expect_eq(m->f_uint64, UINT64_MAX);
  cr_expect_eq(m->f_fixed64, 2);
  cr_expect_eq(m->f_float, 0.5f);
  cr_expect_eq(m->f_double, -1.25e-3);
  cr_expect_eq(m->f_bool, 1);
  cr_expect_str_eq(m->f_string, "hello");
  cr_expect_eq(m->f_bytes.len, 5);
  cr_expect_eq(memcmp(m->f_bytes.data, "hello", 5), 0);
  cr_expect_eq(m->f_enum, MESHTEST__COLOR__BLUE);
  roundtrip(&m->base);
  put_all(m);
}

Test(pbjson, integers_strict) {
  dec_enc("f_int32: 1.0\nf_int64: 1e3\nf_uint32: \"2.50e1\"\nf_uint64: -0", "{\"f_int32\":1,\"f_int64\":\"1000\",\"f_uint32\":25}");
  dec_enc("{\"fInt32\": 2147483647, \"fInt64\": 9223372036854775807}",
          "{\"f_int32\":2147483647,\"f_int64\":\"9223372036854775807\"}");
  dec_err("f_int32: 2147483648", "f_int32", 1, "integer \"2147483648\" out of range for int32");
  dec_err("f_int32: -2147483649", "f_int32", 1, "out of range for int32");
  dec_err("f_uint32: -1", "f_uint32", 1, "out of range for uint32: negative");
  dec_err("f_uint64: 18446744073709551616", "f_uint64", 1, "out of range for uint64");
  dec_err("f_int64: \"9223372036854775808\"", "f_int64", 1, "out of range for int64");
  dec_err("f_int32: 1.5", "f_int32", 1, "bad integer \"1.5\": not a whole number");
  dec_err("f_int32: 15e-1", "f_int32", 1, "not a whole number");
  dec_err("f_int32: 012", "f_int32", 1, "leading zeros are not allowed");
  dec_err("f_int32: 0x10", "f_int32", 1, "expected a decimal number");
  dec_err("f_int32: true", "f_int32", 1, "expected a decimal number");
  dec_err("f_int32: \"\"", "f_int32", 1, "expected a decimal number");
  dec_err("f_int32: +1", "f_int32", 1, "expected a decimal number");
  dec_err("f_int32: [1]", "f_int32", 1, "expected an integer, got a list");
  dec_err("f_int64: 1e999999999", "f_int64", 1, "out of range for int64");
  dec_err("f_uint64: 99999999999999999999999999", "f_uint64", 1, "out of range");
  /* a huge exponent on zero is zero, quickly */
  dec_enc("f_int64: 0e999999999", "{}");
}

Test(pbjson, floats) {
  Meshtest__All *m = dec("f_float: 3.4028235e38\nf_double: 1.7976931348623157e308\n"
                         "r_double: [NaN, \"Infinity\", -Infinity, .inf, -.inf, .nan, -0, 0.1, 1e-320, 123456789012345678]\n"
                         "r_float: [0.1, 1e-45, \"-3.5\"]");
  cr_expect_eq(m->f_float, 3.4028235e38f);
  cr_expect_eq(m->f_double, 1.7976931348623157e308);
  cr_assert_eq(m->n_r_double, 10);
  cr_expect(isnan(m->r_double[0]) && isinf(m->r_double[1]) && m->r_double[2] < 0 && isinf(m->r_double[3]));
  cr_expect(signbit(m->r_double[6]));
  char *j = enc(&m->base);
  cr_expect(strstr(j, "\"r_float\":[0.1,1e-45,-3.5]") != NULL, "%s", j);
  cr_expect(strstr(j, "\"r_double\":[\"NaN\",\"Infinity\",\"-Infinity\",\"Infinity\",\"-Infinity\",\"NaN\",-0,0.1,"
                      "1e-320,1.2345678901234568e+17]") != NULL,
            "%s", j);
  cr_expect(strstr(j, "\"f_float\":3.4028235e+38") != NULL, "%s", j);
  free(j);
  roundtrip(&m->base);
  put_all(m);
  dec_err("f_float: 3.5e38", "f_float", 1, "out of range for float");
  dec_err("f_double: 1e309", "f_double", 1, "out of range for double");
  dec_err("f_double: nan", "f_double", 1, "bad number \"nan\"");
  dec_err("f_double: \".inf\"", "f_double", 1, "bad number");
  dec_err("f_double: 1.", "f_double", 1, "bad number");
  dec_err("f_double: .5", "f_double", 1, "bad number");
  dec_err("f_double: {}", "f_double", 1, "expected a number, got a mapping");
}

Test(pbjson, floats_ignore_the_locale) {
  /* a locale with a decimal comma, when the system has one */
  const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "C.UTF-8"};
  for (size_t i = 0; i < 4; i++)
    if (setlocale(LC_NUMERIC, names[i])) break;
  dec_enc("f_double: 1.5\nf_float: 0.25", "{\"f_float\":0.25,\"f_double\":1.5}");
  setlocale(LC_NUMERIC, "C");
}

Test(pbjson, booleans_strict) {
  dec_enc("f_bool: True\nr_bool: [false, TRUE, true]", "{\"f_bool\":true,\"r_bool\":[false,true,true]}");
  dec_err("f_bool: yes", "f_bool", 1, "bad boolean \"yes\": expected true or false");
  dec_err("f_bool: on", "f_bool", 1, "expected true or false");
  dec_err("f_bool: 1", "f_bool", 1, "expected true or false");
  dec_err("f_bool: \"true\"", "f_bool", 1, "write true or false without quotes");
}

Test(pbjson, strings_take_any_scalar) {
  dec_enc("f_string: 80\nr_string: [true, 1.5, 'x y', \"\\u00e9\\t\", null_not]",
          "{\"f_string\":\"80\",\"r_string\":[\"true\",\"1.5\",\"x y\",\"é\\t\",\"null_not\"]}");
  dec_enc("f_string: ~\nf_inner: null\nx_y_z: null\nf_enum:\nr_inner: null", "{}"); /* null: the default */
  dec_err("f_string: \"a\\0b\"", "f_string", 1, "NUL byte");
  dec_err("f_string: {a: 1}", "f_string", 1, "expected a string, got a mapping");
  dec_err("r_string: [a, null]", "r_string[1]", 1, "null is not allowed in a list");
  /* JSON's escaped surrogate pairs, "\\" before a u is not an escape */
  dec_enc("{\"f_string\": \"\\ud83d\\ude00 \\\\ud83d\\\\ude00\"}", "{\"f_string\":\"\xf0\x9f\x98\x80 \\\\ud83d\\\\ude00\"}");
  dec_err("{\"f_string\": \"\\ud83d\"}", "", 1, "invalid Unicode character escape");
}

Test(pbjson, bytes_base64) {
  dec_enc("f_bytes: aGk", "{\"f_bytes\":\"aGk=\"}");
  dec_enc("f_bytes: \"-_8=\"", "{\"f_bytes\":\"+/8=\"}");
  dec_enc("f_bytes: \"+/8\"\nr_bytes: [\"\", AA==, AAE]", "{\"f_bytes\":\"+/8=\",\"r_bytes\":[\"\",\"AA==\",\"AAE=\"]}");
  dec_err("f_bytes: \"a\"", "f_bytes", 1, "bad base64 \"a\"");
  dec_err("f_bytes: \"aGk=x\"", "f_bytes", 1, "bad base64");
  dec_err("f_bytes: \"aG=k\"", "f_bytes", 1, "bad base64");
  dec_err("f_bytes: \"aGk==\"", "f_bytes", 1, "bad base64");
  dec_err("f_bytes: \"a b=\"", "f_bytes", 1, "bad base64");
}

Test(pbjson, enums) {
  dec_enc("f_enum: GREEN\nr_enum: [RED, 3, -1, 77, \"BLUE\"]",
          "{\"f_enum\":\"GREEN\",\"r_enum\":[\"RED\",\"BLUE\",\"INFRARED\",77,\"BLUE\"]}");
  dec_enc("f_enum: COLOR_UNSPECIFIED", "{}");
  dec_err("f_enum: green", "f_enum", 1, "unknown value \"green\" for enum meshtest.Color");
  dec_err("f_enum: 2147483648", "f_enum", 1, "bad value");
  dec_err("f_enum: 1.5", "f_enum", 1, "bad value");
}

/* ------------------------------------------------------- names, structure */

Test(pbjson, camel_case_names) {
  dec_enc("{\"fInt32\":1,\"fieldWith2\":2,\"xYZ\":\"a\",\"rInner\":[{\"name\":\"n\"}]}",
          "{\"f_int32\":1,\"r_inner\":[{\"name\":\"n\"}],\"field_with_2\":2,\"x_y_z\":\"a\"}");
  dec_err("f_int32: 1\nfInt32: 2", "f_int32", 2, "field \"f_int32\" given twice");
  dec_err("f_int32: 1\nf_int32: 2", "f_int32", 2, "given twice");
}

Test(pbjson, unknown_fields_reported) {
  const char *text = "f_int32: 1\nbogus: {a: [1]}\nf_inner:\n  name: x\n  extra: 2\n"
                     "r_inner:\n  - {}\n  - {nope: 1}\nF_INT32: 3\n";
  ProtobufCMessage *m;
  mesh__pbjson_report r = {0};
  cr_assert_eq(mesh__pbjson_decode(text, strlen(text), &meshtest__all__descriptor, &OPTS, &m, &r), 0);
  cr_assert_eq(r.nignored, 4);
  cr_expect_str_eq(r.ignored[0].path, "bogus");
  cr_expect_eq(r.ignored[0].line, 2);
  cr_expect_str_eq(r.ignored[0].msg, "unknown field \"bogus\" in meshtest.All, ignored");
  cr_expect_str_eq(r.ignored[1].path, "f_inner.extra");
  cr_expect_eq(r.ignored[1].line, 5);
  cr_expect_str_eq(r.ignored[2].path, "r_inner[1].nope");
  cr_expect_eq(r.ignored[2].line, 8);
  cr_expect_str_eq(r.ignored[3].path, "F_INT32");
  cr_expect_str_eq(fmt_note(&r.ignored[1]), "f_inner.extra (line 5): unknown field \"extra\" in meshtest.Inner, ignored");
  protobuf_c_message_free_unpacked(m, NULL);
  mesh__pbjson_report_free(&r);
  cr_expect_null(r.ignored);

  /* bounded: 1000 kept, the rest counted */
  size_t cap = 1200 * 16 + 1, o = 0;
  char *big = malloc(cap);
  for (int i = 0; i < 1200; i++) o += (size_t)snprintf(big + o, cap - o, "u%d: %d\n", i, i);
  cr_assert_eq(mesh__pbjson_decode(big, o, &meshtest__all__descriptor, &OPTS, &m, &r), 0);
  cr_expect_eq(r.nignored, 1000);
  cr_expect_eq(r.ndropped, 200);
  cr_expect_str_eq(r.ignored[999].path, "u999");
  protobuf_c_message_free_unpacked(m, NULL);
  mesh__pbjson_report_free(&r);
  free(big);
}

Test(pbjson, nested_and_repeated_paths) {
  const char *y = "r_inner:\n"
                  "  - name: a\n"
                  "  - name: b\n"
                  "    children:\n"
                  "      - n: 1\n"
                  "      - n: x\n";
  dec_err(y, "r_inner[1].children[1].n", 6, "bad integer \"x\"");
  dec_err("f_inner: [1]", "f_inner", 1, "expected a mapping (meshtest.Inner), got a list");
  dec_err("r_inner: {a: 1}", "r_inner", 1, "expected a list, got a mapping");
  dec_err("r_inner: [null]", "r_inner[0]", 1, "null is not allowed in a list");
  dec_err("r_int32: 5", "r_int32", 1, "expected a list, got \"5\"");
  dec_enc("r_inner: null\nr_int32: []\nf_inner: {}", "{\"f_inner\":{}}");
  dec_err("[1, 2]", "", 1, "expected a mapping (meshtest.All), got a list");
  dec_err("42", "", 1, "expected a mapping (meshtest.All), got \"42\"");
}

Test(pbjson, maps) {
  dec_enc("m_str_msg: {b: {n: 2}, a: {}}\nm_int_str: {\"-1\": x, 7: y}\nm_bool_int: {\"true\": 1, false: 0}\n"
          "m_u64_enum: {\"18446744073709551615\": GREEN}\nm_str_str: {\"\": empty, k: \"\"}\n"
          "m_s64_bytes: {\"-9223372036854775808\": AAE=}\nm_str_dur: {t: 1s}",
          "{\"m_str_msg\":{\"b\":{\"n\":2},\"a\":{}},\"m_int_str\":{\"-1\":\"x\",\"7\":\"y\"},"
          "\"m_bool_int\":{\"true\":1,\"false\":0},\"m_u64_enum\":{\"18446744073709551615\":\"GREEN\"},"
          "\"m_str_str\":{\"\":\"empty\",\"k\":\"\"},\"m_s64_bytes\":{\"-9223372036854775808\":\"AAE=\"},"
          "\"m_str_dur\":{\"t\":\"1s\"}}");
  dec_err("m_str_str: {a: x, b: y, a: z}", "m_str_str", 1, "key \"a\" given twice");
  dec_err("m_int_str: {x: y}", "m_int_str[\"x\"]", 1, "bad map key \"x\"");
  dec_err("m_int_str: {1: y, 2: [z]}", "m_int_str[\"2\"]", 1, "expected a string, got a list");
  dec_err("m_bool_int: {yes: 1}", "m_bool_int[\"yes\"]", 1, "expected \"true\" or \"false\"");
  dec_err("m_str_msg: {a: 1}", "m_str_msg[\"a\"]", 1, "expected a mapping (meshtest.Inner)");
  dec_err("m_str_str: {a: }", "m_str_str[\"a\"]", 1, "null is not allowed as a map value");
  dec_err("m_str_str: [a]", "m_str_str", 1, "expected a mapping (map field), got a list");
  /* integer keys in their one decimal form, so that no two keys are the same number */
  dec_err("m_int_str: {\"1.0\": x}", "m_int_str[\"1.0\"]", 1, "bad map key \"1.0\": expected a decimal integer");
  dec_err("m_int_str: {\"-0\": x}", "m_int_str[\"-0\"]", 1, "bad map key");
  dec_err("m_int_str: {\"01\": x}", "m_int_str[\"01\"]", 1, "bad map key");
  dec_err("m_u64_enum: {\"\": RED}", "m_u64_enum[\"\"]", 1, "bad map key");
  dec_err("m_int_str: {2147483648: x}", "m_int_str[\"2147483648\"]", 1, "out of range for int32");
  /* keys JSON could not carry back to YAML */
  char lk[1100], kk[1002];
  memset(kk, 'k', 1001);
  kk[1001] = '\0';
  snprintf(lk, sizeof(lk), "m_str_str:\n  ? %s\n  : v\n", kk);
  dec_err(lk, NULL, 2, "map key longer than 1000 characters");
  kk[1000] = '\0';
  snprintf(lk, sizeof(lk), "m_str_str:\n  ? %s\n  : v\n", kk);
  Meshtest__All *m = dec(lk);
  roundtrip(&m->base);
  put_all(m);
  /* many keys: the hash set finds the duplicate */
  char big[4096];
  size_t o = (size_t)snprintf(big, sizeof(big), "m_str_str:\n");
  for (int i = 0; i < 100; i++) o += (size_t)snprintf(big + o, sizeof(big) - o, "  k%d: v\n", i);
  snprintf(big + o, sizeof(big) - o, "  k37: again\n");
  dec_err(big, "m_str_str", 102, "key \"k37\" given twice (first on line 39)");
}

Test(pbjson, oneofs) {
  Meshtest__All *m = dec("c_int32: 0\nx_bytes: \"\"");
  cr_expect_eq(m->choice_case, MESHTEST__ALL__CHOICE_C_INT32);
  cr_expect_eq(m->other_case, MESHTEST__ALL__OTHER_X_BYTES);
  char *j = enc(&m->base);
  cr_expect_str_eq(j, "{\"c_int32\":0,\"x_bytes\":\"\"}", "a oneof member at its default is printed");
  free(j);
  roundtrip(&m->base);
  put_all(m);
  dec_enc("c_inner: {name: a}\nx_bool: false", "{\"c_inner\":{\"name\":\"a\"},\"x_bool\":false}");
  dec_enc("c_string: s\nc_inner: null", "{\"c_string\":\"s\"}");
  dec_enc("c_duration: 1.5s", "{\"c_duration\":\"1.500s\"}");
  dec_enc("c_enum: RED", "{\"c_enum\":\"RED\"}");
  dec_err("c_string: s\nc_inner: {name: a}", "c_inner", 2, "\"c_string\" and \"c_inner\" are members of one oneof");
  dec_err("cInner: {}\ncDuration: 1s", "c_duration", 2, "\"c_inner\" and \"c_duration\"");
}

/* -------------------------------------------------------- well-known types */

Test(pbjson, durations) {
  dec_enc("duration: 1.5s\nr_duration: [0s, -0.000000001s, 315576000000s, -315576000000.999999999s, 0.010s, "
          "1.000001s, \"2s\", 3.120000000s]",
          "{\"duration\":\"1.500s\",\"r_duration\":[\"0s\",\"-0.000000001s\",\"315576000000s\","
          "\"-315576000000.999999999s\",\"0.010s\",\"1.000001s\",\"2s\",\"3.120s\"]}");
  Meshtest__All *m = dec("duration: -1.25s");
  cr_expect_eq(m->duration->seconds, -1);
  cr_expect_eq(m->duration->nanos, -250000000);
  put_all(m);
  const char *bad[] = {"5", "5m", "1.s", ".5s", "1.0000000001s", "315576000001s", "--1s", "1e3s", "s", "+1s", "1 s", "0x1s"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char y[64], want[64];
    snprintf(y, sizeof(y), "\n\nduration: \"%s\"", bad[i]);
    snprintf(want, sizeof(want), "bad duration \"%s\": expected a string like \"1.5s\"", bad[i]);
    dec_err(y, "duration", 3, want);
  }
  dec_err("duration: {seconds: 1}", "duration", 1, "bad duration a mapping");
  dec_err("f_inner:\n  timeout: 5", "f_inner.timeout", 2, "bad duration \"5\": expected a string like \"1.5s\"");
}

Test(pbjson, timestamps) {
  dec_enc("timestamp: \"1970-01-01T00:00:00Z\"", "{\"timestamp\":\"1970-01-01T00:00:00Z\"}");
  dec_enc("timestamp: 2024-02-29T23:59:59.5+01:00", "{\"timestamp\":\"2024-02-29T22:59:59.500Z\"}");
  dec_enc("timestamp: 0001-01-01T00:00:00Z", "{\"timestamp\":\"0001-01-01T00:00:00Z\"}");
  dec_enc("timestamp: 9999-12-31t23:59:59.999999999z", "{\"timestamp\":\"9999-12-31T23:59:59.999999999Z\"}");
  dec_enc("timestamp: 1969-12-31T23:59:59.000001-00:30", "{\"timestamp\":\"1970-01-01T00:29:59.000001Z\"}");
  Meshtest__All *m = dec("timestamp: 1972-01-01T10:00:20.021Z");
  cr_expect_eq(m->timestamp->seconds, 63108020);
  cr_expect_eq(m->timestamp->nanos, 21000000);
  put_all(m);
  const char *bad[] = {"2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01 00:00:00Z", "2024-01-01T24:00:00Z",
                       "2024-01-01T00:00:60Z", "2024-01-01T00:00:00", "0000-01-01T00:00:00Z", "2024-01-01T00:00:00+0100",
                       "9999-12-31T23:59:59-01:00", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00.1234567891Z"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char y[80];
    snprintf(y, sizeof(y), "timestamp: \"%s\"", bad[i]);
    dec_err(y, "timestamp", 1, "bad timestamp");
  }
}

Test(pbjson, wrappers) {
  Meshtest__All *m = dec("w_double: 1.5\nw_float: \"NaN\"\nw_int64: \"-3\"\nw_uint64: 4\nw_int32: 0\nw_uint32: 6\n"
                         "w_bool: false\nw_string: 80\nw_bytes: AAE=\nr_w_uint32: [1, 0]");
  cr_assert(m->w_int32 && m->w_bool && m->w_string);
  cr_expect_eq(m->w_int32->value, 0);
  cr_expect_str_eq(m->w_string->value, "80");
  char *j = enc(&m->base);
  cr_expect_str_eq(j, "{\"w_double\":1.5,\"w_float\":\"NaN\",\"w_int64\":\"-3\",\"w_uint64\":\"4\",\"w_int32\":0,"
                      "\"w_uint32\":6,\"w_bool\":false,\"w_string\":\"80\",\"w_bytes\":\"AAE=\",\"r_w_uint32\":[1,0]}");
  free(j);
  roundtrip(&m->base);
  put_all(m);
  m = dec("w_uint32: null\nw_bool: ~");
  cr_expect_null(m->w_uint32);
  cr_expect_null(m->w_bool);
  put_all(m);
  dec_err("w_uint32: -1", "w_uint32", 1, "negative");
  dec_err("w_uint32: {value: 1}", "w_uint32", 1, "expected an integer, got a mapping");
  dec_err("w_bool: yes", "w_bool", 1, "bad boolean");
}

Test(pbjson, struct_value_list) {
  dec_enc("st: {a: 1, b: [true, null, \"x\", {c: 2.5}], d: yes, e: \"1\", f: 1e400x, g: {}, h: [], i: -0.5}\n"
          "val: {k: [1]}\nlv: [1, [2], {}]\nr_value: [null, false, 3, s]",
          "{\"st\":{\"a\":1,\"b\":[true,null,\"x\",{\"c\":2.5}],\"d\":\"yes\",\"e\":\"1\",\"f\":\"1e400x\",\"g\":{},"
          "\"h\":[],\"i\":-0.5},\"val\":{\"k\":[1]},\"lv\":[1,[2],{}],\"r_value\":[null,false,3,\"s\"]}");
  Meshtest__All *m = dec("val: null\nst: null\nlv: null");
  cr_assert(m->val, "a null Value is a Value holding null");
  cr_expect_eq(m->val->kind_case, GOOGLE__PROTOBUF__VALUE__KIND_NULL_VALUE);
  cr_expect_null(m->st);
  char *j = enc(&m->base);
  cr_expect_str_eq(j, "{\"val\":null}");
  free(j);
  roundtrip(&m->base);
  put_all(m);
  dec_enc("val: \"str\"", "{\"val\":\"str\"}");
  dec_enc("val: 12", "{\"val\":12}");
  dec_err("st: [1]", "st", 1, "expected a mapping (Struct), got a list");
  dec_err("lv: {a: 1}", "lv", 1, "expected a list (ListValue), got a mapping");
  dec_err("st: {a: 1, a: 2}", "st", 1, "key \"a\" given twice");
  dec_err("st: {a: {b: [1, 1e999]}}", "st[\"a\"][\"b\"][1]", 1, "out of range for double");
}

Test(pbjson, any) {
  dec_enc("any: {\"@type\": type.googleapis.com/meshtest.Inner, name: x, timeout: 2s}",
          "{\"any\":{\"@type\":\"type.googleapis.com/meshtest.Inner\",\"name\":\"x\",\"timeout\":\"2s\"}}");
  /* a full name gets the usual prefix; WKTs with a special form sit under "value" */
  dec_enc("r_any:\n - {\"@type\": meshtest.Inner}\n - {\"@type\": type.googleapis.com/google.protobuf.Duration, "
          "value: 3s}\n - {\"@type\": type.googleapis.com/google.protobuf.Struct, value: {x: [1]}}\n"
          " - {\"@type\": type.googleapis.com/google.protobuf.Empty}\n"
          " - {\"@type\": type.googleapis.com/google.protobuf.Any, value: {\"@type\": "
          "type.googleapis.com/google.protobuf.UInt32Value, value: 7}}\n"
          " - {\"@type\": type.googleapis.com/google.protobuf.Value, value: null}\n"
          " - {}",
          "{\"r_any\":[{\"@type\":\"type.googleapis.com/meshtest.Inner\"},"
          "{\"@type\":\"type.googleapis.com/google.protobuf.Duration\",\"value\":\"3s\"},"
          "{\"@type\":\"type.googleapis.com/google.protobuf.Struct\",\"value\":{\"x\":[1]}},"
          "{\"@type\":\"type.googleapis.com/google.protobuf.Empty\"},"
          "{\"@type\":\"type.googleapis.com/google.protobuf.Any\",\"value\":"
          "{\"@type\":\"type.googleapis.com/google.protobuf.UInt32Value\",\"value\":7}},"
          "{\"@type\":\"type.googleapis.com/google.protobuf.Value\",\"value\":null},{}]}");
  /* typed_config as in Envoy: the fields of the inner type, paths run through */
  const char *y = "filters:\n"
                  "  - name: f\n"
                  "    typed_config:\n"
                  "      \"@type\": type.googleapis.com/meshtest.All\n"
                  "      f_inner:\n"
                  "        timeout: 5\n";
  dec_err(y, "filters[0].typed_config.f_inner.timeout", 6, "bad duration \"5\"");
  dec_err("any: {\"@type\": type.googleapis.com/nope.Nope, a: 1}", "any", 1, "unknown type in \"@type\" \"type.googleapis.com/nope.Nope\"");
  dec_err("any: {name: x}", "any", 1, "an Any needs \"@type\"");
  dec_err("any: {\"@type\": [x]}", "any", 1, "bad \"@type\" a list");
  dec_err("any: [x]", "any", 1, "expected a mapping with \"@type\" (Any)");
  dec_err("any: {\"@type\": google.protobuf.Duration, value: 1s, value: 2s}", "any", 1, "\"value\" given twice");
  /* without a resolver an Any cannot be read */
  ProtobufCMessage *m;
  mesh__pbjson_report r = {0};
  mesh__pbjson_opts none = {0};
  const char *t = "any: {\"@type\": meshtest.Inner}";
  cr_expect_eq(mesh__pbjson_decode(t, strlen(t), &meshtest__all__descriptor, &none, &m, &r), -1);
  cr_expect(strstr(r.error.msg, "no type resolver"), "%s", r.error.msg);
  mesh__pbjson_report_free(&r);
}

/* A type without a schema: read when it needs none (empty, or its bytes
 * in base64 as the encoder prints them), refused when it has fields. */
Test(pbjson, any_unknown_type_without_fields) {
  Meshtest__All *m = dec("any: {\"@type\": type.googleapis.com/nope.Empty}\n"
                         "r_any: [{\"@type\": nope.Raw, value: CgF4}]");
  cr_assert(m->any);
  cr_expect_str_eq(m->any->type_url, "type.googleapis.com/nope.Empty");
  cr_expect_eq(m->any->value.len, 0);
  cr_assert_eq(m->n_r_any, 1);
  cr_expect_str_eq(m->r_any[0]->type_url, "type.googleapis.com/nope.Raw");
  cr_expect_eq(m->r_any[0]->value.len, 3);
  cr_expect(m->r_any[0]->value.len == 3 && !memcmp(m->r_any[0]->value.data, "\x0a\x01x", 3));
  roundtrip(&m->base);
  put_all(m);
  dec_enc("any: {\"@type\": nope.Raw, value: CgF4}",
          "{\"any\":{\"@type\":\"type.googleapis.com/nope.Raw\",\"value\":\"CgF4\"}}");
  dec_err("any: {\"@type\": nope.Raw, value: \"*\"}", "any.value", 1, "bad base64");
  dec_err("any: {\"@type\": nope.Raw, value: CgF4, x: 1}", "any", 1, "only an empty one");
}

Test(pbjson, any_unknown_type_prints_base64) {
  Meshtest__All *m = dec("any: {\"@type\": meshtest.Inner, name: x}\nr_any: [{\"@type\": google.protobuf.Duration, value: 1s}]");
  mesh__pbjson_opts none = {0};
  char *j = mesh__pbjson_encode(&m->base, &none, 0);
  cr_assert(j);
  cr_expect_str_eq(j, "{\"any\":{\"@type\":\"type.googleapis.com/meshtest.Inner\",\"value\":\"CgF4\"},"
                      "\"r_any\":[{\"@type\":\"type.googleapis.com/google.protobuf.Duration\",\"value\":\"CAE=\"}]}");
  free(j);
  put_all(m);
  /* bytes that do not unpack as the named type */
  Google__Protobuf__Any a = GOOGLE__PROTOBUF__ANY__INIT;
  uint8_t junk[] = {0xff, 0xff};
  a.type_url = "type.googleapis.com/meshtest.Inner";
  a.value.data = junk;
  a.value.len = 2;
  j = mesh__pbjson_encode(&a.base, &OPTS, 0);
  cr_expect_str_eq(j, "{\"@type\":\"type.googleapis.com/meshtest.Inner\",\"value\":\"//8=\"}");
  free(j);
}

Test(pbjson, field_mask) {
  dec_enc("mask: \"fooBar,baz.quxQuux,a\"", "{\"mask\":\"fooBar,baz.quxQuux,a\"}");
  Meshtest__All *m = dec("mask: \"fooBar,x.yZ\"");
  cr_assert_eq(m->mask->n_paths, 2);
  cr_expect_str_eq(m->mask->paths[0], "foo_bar");
  cr_expect_str_eq(m->mask->paths[1], "x.y_z");
  put_all(m);
  dec_enc("mask: \"\"", "{\"mask\":\"\"}");
  dec_err("mask: foo_bar", "mask", 1, "bad field mask \"foo_bar\": paths are lowerCamelCase");
}

/* ---------------------------------------------------------------- limits */

Test(pbjson, depth_limit) {
  char buf[2048];
  size_t o = (size_t)snprintf(buf, sizeof(buf), "st: ");
  for (int i = 0; i < 70; i++) buf[o++] = '[';
  for (int i = 0; i < 70; i++) buf[o++] = ']';
  buf[o] = '\0';
  dec_err(buf, "", 1, "nesting deeper than 64 levels");
  o = 0;
  for (int i = 0; i < 40; i++) o += (size_t)snprintf(buf + o, sizeof(buf) - o, "{child: ");
  o += (size_t)snprintf(buf + o, sizeof(buf) - o, "{}");
  for (int i = 0; i < 40; i++) buf[o++] = '}';
  buf[o] = '\0';
  ProtobufCMessage *m;
  mesh__pbjson_report r = {0};
  cr_assert_eq(mesh__pbjson_decode(buf, o, &meshtest__all__descriptor, &OPTS, &m, &r), 0, "%s", fmt_note(&r.error));
  mesh__pbjson_opts shallow = OPTS;
  shallow.max_depth = 20;
  char *j = mesh__pbjson_encode(m, &shallow, 0);
  cr_expect_null(j, "the encoder honours max_depth too");
  j = mesh__pbjson_encode(m, &OPTS, 0);
  cr_expect_not_null(j);
  free(j);
  protobuf_c_message_free_unpacked(m, NULL);
  ProtobufCMessage *m2 = (ProtobufCMessage *)1;
  cr_expect_eq(mesh__pbjson_decode(buf, o, &meshtest__all__descriptor, &shallow, &m2, &r), -1);
  cr_expect_null(m2);
  cr_expect(strstr(r.error.msg, "nesting deeper than 20 levels"), "%s", r.error.msg);
}

Test(pbjson, max_depth_is_clamped) {
  /* a caller's huge max_depth cannot make the recursion blow the stack */
  size_t n = 1500, o = 0;
  char *t = malloc(n * 2 + 16);
  o += (size_t)snprintf(t, 8, "val: ");
  for (size_t i = 0; i < n; i++) t[o++] = '[';
  for (size_t i = 0; i < n; i++) t[o++] = ']';
  t[o] = '\0';
  mesh__pbjson_opts deep = OPTS;
  deep.max_depth = (size_t)1 << 40;
  ProtobufCMessage *m;
  mesh__pbjson_report r = {0};
  cr_expect_eq(mesh__pbjson_decode(t, o, &meshtest__all__descriptor, &deep, &m, &r), -1);
  cr_expect(strstr(r.error.msg, "nesting deeper than 1000 levels"), "%s", r.error.msg);
  free(t);
}

Test(pbjson, one_report_for_several_decodes) {
  const char *t = "- {a: 1, f_int32: 1}\n- {b: 2}\n- {f_int32: x}\n- {c: 3}\n";
  mesh__doc *d;
  mesh__pbjson_report r = {0};
  cr_assert_eq(mesh__doc_parse(t, strlen(t), &OPTS, &d, &r), 0);
  const mesh__node *root = mesh__doc_root(d);
  int rcs[4];
  for (size_t i = 0; i < 4; i++) {
    char where[32];
    snprintf(where, sizeof(where), "[%zu]", i);
    ProtobufCMessage *m = NULL;
    rcs[i] = mesh__pbjson_decode_node(mesh__node_at(root, i), &meshtest__all__descriptor, &OPTS, where, &m, &r);
    if (m) protobuf_c_message_free_unpacked(m, NULL);
  }
  cr_expect(rcs[0] == 0 && rcs[1] == 0 && rcs[2] == -1 && rcs[3] == 0);
  cr_assert_eq(r.nignored, 3, "unknown fields of every call are kept");
  cr_expect_str_eq(r.ignored[0].path, "[0].a");
  cr_expect_str_eq(r.ignored[1].path, "[1].b");
  cr_expect_str_eq(r.ignored[2].path, "[3].c");
  cr_expect_eq(r.ignored[2].line, 4);
  cr_expect_str_eq(r.error.msg, "", "a successful call clears the error");
  mesh__pbjson_report_free(&r);
  mesh__doc_free(d);
}

Test(pbjson, aliases_expand_and_are_counted) {
  dec_enc("f_inner: &x {name: a, n: 2}\nr_inner: [*x, *x]\nf_string: &s hi\nx_y_z: *s",
          "{\"f_string\":\"hi\",\"f_inner\":{\"name\":\"a\",\"n\":2},\"r_inner\":[{\"name\":\"a\",\"n\":2},"
          "{\"name\":\"a\",\"n\":2}],\"x_y_z\":\"hi\"}");
  /* billion laughs: stops at max_nodes, quickly, in little memory */
  const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
                     "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                     "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                     "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                     "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
                     "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
                     "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
  dec_err(bomb, "", 7, "document too large: more than 1000000 nodes");
  mesh__doc *d;
  mesh__pbjson_report r = {0};
  mesh__pbjson_opts small = {0};
  small.max_nodes = 10;
  const char *t = "a: &a [1, 2, 3]\nb: *a\n";
  cr_expect_eq(mesh__doc_parse(t, strlen(t), &small, &d, &r), -1, "2 + 4 + 1 + 4 nodes");
  cr_expect_eq(r.error.line, 2);
  small.max_nodes = 11;
  cr_expect_eq(mesh__doc_parse(t, strlen(t), &small, &d, &r), 0, "%s", fmt_note(&r.error));
  mesh__doc_free(d);
  /* an alias cannot point into its own node, nor at nothing */
  dec_err("st: &a {x: *a}", "", 1, "alias *a names no anchor");
  dec_err("st: *nope", "", 1, "alias *nope names no anchor");
  /* an alias deepens the tree by its anchor's height */
  small.max_nodes = 0;
  small.max_depth = 4;
  t = "a: &a [[1]]\nb: [*a]\n";
  cr_expect_eq(mesh__doc_parse(t, strlen(t), &small, &d, &r), -1);
  cr_expect(strstr(r.error.msg, "alias *a: nesting deeper than 4 levels"), "%s", r.error.msg);
}

Test(pbjson, yaml_features_refused) {
  dec_err("base: &b {f_int32: 1}\n<<: *b", "", 2, "merge keys (<<) are not supported");
  dec_err("f_string: !custom x", "", 1, "unsupported YAML tag \"!custom\"");
  dec_err("f_string: !!binary aGk=", "", 1, "unsupported YAML tag");
  dec_err("f_int32: 1\n---\nf_int32: 2\n", "", 2, "more than one YAML document");
  dec_err("", "", 0, "no YAML or JSON document");
  dec_err("# only a comment\n", "", 0, "no YAML or JSON document");
  dec_err("? [a]\n: b", "", 1, "a mapping key must be a scalar, not a sequence");
  dec_enc("f_string: !!str 80\nf_int32: !!int 5", "{\"f_int32\":5,\"f_string\":\"80\"}");
  dec_enc("--- {f_int32: 3}\n...\n", "{\"f_int32\":3}");
}

Test(pbjson, yaml_syntax_errors_have_lines) {
  dec_err("f_int32: 1\nf_inner:\n  name: [x\n", "", 4, "bad YAML/JSON: did not find expected ',' or ']'");
  dec_err("a: b\n c: d\n", "", 2, "bad YAML/JSON: mapping values are not allowed in this context");
  dec_err("{\"a\": 1,,}", "", 1, "bad YAML/JSON");
  dec_err("f_string: \"x\x01y\"", "", 1, "control characters are not allowed");
  dec_err("f_string: \"\xc3\x28\"", "", 1, "bad YAML/JSON text: invalid trailing UTF-8 octet");
  char nul[] = "f_int32: 1\nf_string: a\0b\n";
  ProtobufCMessage *m;
  mesh__pbjson_report r = {0};
  cr_expect_eq(mesh__pbjson_decode(nul, sizeof(nul) - 1, &meshtest__all__descriptor, &OPTS, &m, &r), -1);
  cr_expect_eq(r.error.line, 2, "%s", fmt_note(&r.error));
  mesh__pbjson_report_free(&r);
}

Test(pbjson, long_strings_refused) {
  size_t n = MESH__PBJSON_MAX_STRING + 16;
  char *t = malloc(n + 32);
  memcpy(t, "f_string: ", 10);
  memset(t + 10, 'a', n);
  t[10 + n] = '\0';
  ProtobufCMessage *m;
  mesh__pbjson_report r = {0};
  cr_expect_eq(mesh__pbjson_decode(t, 10 + n, &meshtest__all__descriptor, &OPTS, &m, &r), -1);
  cr_expect(strstr(r.error.msg, "scalar too long"), "%s", r.error.msg);
  /* just under the limit is fine */
  t[10 + MESH__PBJSON_MAX_STRING] = '\0';
  cr_expect_eq(mesh__pbjson_decode(t, 10 + MESH__PBJSON_MAX_STRING, &meshtest__all__descriptor, &OPTS, &m, &r), 0);
  cr_expect_eq(strlen(((Meshtest__All *)m)->f_string), MESH__PBJSON_MAX_STRING);
  protobuf_c_message_free_unpacked(m, NULL);
  free(t);
}

/* ------------------------------------------------------ JSON, encoder output */

Test(pbjson, json_input_like_yaml) {
  const char *json = "{\n\t\"fInt32\": 1,\n\t\"f_string\": \"a\\/b\\n\",\n\t\"r_inner\": [{\"name\": \"x\"}, "
                     "{\"children\": [{}]}],\n\t\"st\": {\"k\": null},\"duration\":\"1s\", \"f_bool\":false}";
  const char *yaml = "f_int32: 1\nf_string: \"a/b\\n\"\nr_inner:\n- name: x\n- children:\n  - {}\n"
                     "st:\n  k:\nduration: 1s\nf_bool: false\n";
  Meshtest__All *a = dec(json), *b = dec(yaml);
  size_t la, lb;
  uint8_t *pa = pack(&a->base, &la), *pb = pack(&b->base, &lb);
  cr_expect(la == lb && memcmp(pa, pb, la) == 0);
  free(pa);
  free(pb);
  put_all(a);
  put_all(b);
}

Test(pbjson, encode_pretty) {
  Meshtest__All *m = dec("f_int32: 1\nr_int32: [1, 2]\nf_inner: {name: x}\nm_str_str: {a: b}\nempty: {}\nlv: []");
  char *j = mesh__pbjson_encode(&m->base, &OPTS, 2);
  cr_expect_str_eq(j, "{\n"
                      "  \"f_int32\": 1,\n"
                      "  \"f_inner\": {\n"
                      "    \"name\": \"x\"\n"
                      "  },\n"
                      "  \"r_int32\": [\n"
                      "    1,\n"
                      "    2\n"
                      "  ],\n"
                      "  \"m_str_str\": {\n"
                      "    \"a\": \"b\"\n"
                      "  },\n"
                      "  \"lv\": [],\n"
                      "  \"empty\": {}\n"
                      "}");
  free(j);
  put_all(m);
  Meshtest__All e = MESHTEST__ALL__INIT;
  j = mesh__pbjson_encode(&e.base, &OPTS, 4);
  cr_expect_str_eq(j, "{}");
  free(j);
}

Test(pbjson, encode_escapes_and_bad_utf8) {
  Meshtest__All m = MESHTEST__ALL__INIT;
  char s[] = "q\"b\\s/\x01\x1f\x7f\xc3\xa9\xff\xed\xa0\x80\xf0\x9f\x98\x80\n";
  m.f_string = s;
  char *j = enc(&m.base);
  cr_expect_str_eq(j, "{\"f_string\":\"q\\\"b\\\\s/\\u0001\\u001f\\u007f\xc3\xa9\\ufffd\\ufffd\\ufffd\\ufffd"
                      "\xf0\x9f\x98\x80\\n\"}");
  free(j);
  /* what YAML would not read back raw is escaped */
  char y[] = "\xc2\x85\xc2\x9f\xc2\xa0\xe2\x80\xa8\xe2\x80\xa9\xe2\x80\xaa\xef\xbf\xbe\xef\xbf\xbf\xef\xbf\xbd";
  m.f_string = y;
  j = enc(&m.base);
  cr_expect_str_eq(j, "{\"f_string\":\"\\u0085\\u009f\xc2\xa0\\u2028\\u2029\xe2\x80\xaa\\ufffe\\uffff\xef\xbf\xbd\"}");
  free(j);
  roundtrip(&m.base);
}

Test(pbjson, encode_wkts_out_of_range_best_effort) {
  Google__Protobuf__Duration d = GOOGLE__PROTOBUF__DURATION__INIT;
  Google__Protobuf__Timestamp t = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  Meshtest__All m = MESHTEST__ALL__INIT;
  m.duration = &d;
  m.timestamp = &t;
  d.seconds = 1;
  d.nanos = -500000000; /* mixed signs: 0.5s */
  t.seconds = -1;
  t.nanos = 5;
  char *j = enc(&m.base);
  cr_expect_str_eq(j, "{\"duration\":\"0.500s\",\"timestamp\":\"1969-12-31T23:59:59.000000005Z\"}");
  free(j);
  Google__Protobuf__Value v = GOOGLE__PROTOBUF__VALUE__INIT;
  m.duration = NULL;
  m.timestamp = NULL;
  m.val = &v;
  j = enc(&m.base);
  cr_expect_str_eq(j, "{\"val\":null}", "a Value with no kind");
  free(j);
  v.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
  v.number_value = INFINITY;
  j = enc(&m.base);
  cr_expect_str_eq(j, "{\"val\":\"Infinity\"}");
  free(j);
}

/* ---------------------------------------------------------- doc API */

Test(pbjson, doc_api_and_decode_node) {
  const char *t = "version: 3\n"
                  "resources:\n"
                  "  - {f_int32: 1}\n"
                  "  - f_int32: 2\n"
                  "    f_inner: {n: x}\n"
                  "name: ~\n";
  mesh__doc *d;
  mesh__pbjson_report r = {0};
  cr_assert_eq(mesh__doc_parse(t, strlen(t), NULL, &d, &r), 0);
  const mesh__node *root = mesh__doc_root(d);
  cr_expect_eq(mesh__node_kind_of(root), MESH__NODE_MAP);
  cr_expect_eq(mesh__node_map_len(root), 3);
  cr_expect_str_eq(mesh__node_str(mesh__node_key_at(root, 1)), "resources");
  cr_expect_str_eq(mesh__node_str(mesh__node_get(root, "version")), "3");
  cr_expect_eq(mesh__node_line(mesh__node_get(root, "version")), 1);
  cr_expect_null(mesh__node_get(root, "nope"));
  cr_expect_eq(mesh__node_kind_of(mesh__node_get(root, "name")), MESH__NODE_NULL);
  cr_expect_null(mesh__node_str(mesh__node_get(root, "name")));
  const mesh__node *res = mesh__node_get(root, "resources");
  cr_assert_eq(mesh__node_len(res), 2);
  cr_expect_eq(mesh__node_len(root), 0, "a map is not a sequence");
  cr_expect_null(mesh__node_at(res, 2));
  cr_expect_null(mesh__node_get(res, "x"));
  cr_expect_eq(mesh__node_line(mesh__node_at(res, 1)), 4);
  ProtobufCMessage *m;
  cr_assert_eq(mesh__pbjson_decode_node(mesh__node_at(res, 0), &meshtest__all__descriptor, &OPTS, "resources[0]", &m, &r), 0);
  cr_expect_eq(((Meshtest__All *)m)->f_int32, 1);
  protobuf_c_message_free_unpacked(m, NULL);
  cr_expect_eq(mesh__pbjson_decode_node(mesh__node_at(res, 1), &meshtest__all__descriptor, &OPTS, "resources[1]", &m, &r), -1);
  cr_expect_str_eq(fmt_note(&r.error), "resources[1].f_inner.n (line 5): bad integer \"x\": expected a decimal number");
  mesh__doc_free(d);
  mesh__doc_free(NULL);
  mesh__pbjson_report_free(NULL);
  cr_expect_null(mesh__node_str(NULL));
  cr_expect_eq(mesh__node_line(NULL), 0);
}

Test(pbjson, note_format) {
  mesh__pbjson_note n = {"a.b", "bad", 3};
  char buf[64];
  cr_expect_str_eq(mesh__pbjson_note_format(&n, buf, sizeof(buf)), "a.b (line 3): bad");
  n.line = 0;
  cr_expect_str_eq(mesh__pbjson_note_format(&n, buf, sizeof(buf)), "a.b: bad");
  n.path[0] = '\0';
  cr_expect_str_eq(mesh__pbjson_note_format(&n, buf, sizeof(buf)), "bad");
  n.line = 2;
  cr_expect_str_eq(mesh__pbjson_note_format(&n, buf, sizeof(buf)), "(line 2): bad");
}

Test(pbjson, long_paths_keep_their_end) {
  char buf[8192];
  size_t o = 0;
  for (int i = 0; i < 60; i++) o += (size_t)snprintf(buf + o, sizeof(buf) - o, "{child: ");
  o += (size_t)snprintf(buf + o, sizeof(buf) - o, "{f_int32: x}");
  for (int i = 0; i < 60; i++) buf[o++] = '}';
  buf[o] = '\0';
  ProtobufCMessage *m;
  mesh__pbjson_report r = {0};
  cr_assert_eq(mesh__pbjson_decode(buf, o, &meshtest__all__descriptor, &OPTS, &m, &r), -1);
  size_t pl = strlen(r.error.path);
  cr_expect_eq(pl, sizeof(r.error.path) - 1);
  cr_expect_eq(strncmp(r.error.path, "...", 3), 0);
  cr_expect_str_eq(r.error.path + pl - 13, "child.f_int32");
}

/* ---------------------------------------------------- memory and allocators */

typedef struct counting {
  ProtobufCAllocator a;
  long live, calls, fail_at; /* fail the fail_at-th allocation (1-based), 0: never */
} counting;

static void *c_alloc(void *ud, size_t n) {
  counting *c = ud;
  c->calls++;
  if (c->fail_at && c->calls == c->fail_at) return NULL;
  c->live++;
  return malloc(n);
}

static void c_free(void *ud, void *p) {
  counting *c = ud;
  if (p) c->live--;
  free(p);
}

static const char RICH[] =
    "f_int32: 1\nf_string: s\nf_bytes: AAE=\nf_inner: {name: n, children: [{name: c}], timeout: 1s}\n"
    "r_string: [a, b]\nr_bytes: [AA==]\nr_inner: [{}, {name: x}]\nm_str_msg: {a: {n: 1}}\nm_int_str: {1: x}\n"
    "c_inner: {name: o}\nduration: 2s\ntimestamp: 2020-01-01T00:00:00Z\nw_string: w\nst: {a: [1, {b: c}]}\n"
    "val: [x]\nany: {\"@type\": meshtest.Inner, name: i, children: [{}]}\nmask: aB,c\n"
    "r_any: [{\"@type\": google.protobuf.Struct, value: {k: v}}]\n"
    "filters: [{name: f, typed_config: {\"@type\": meshtest.All, f_string: deep, r_string: [x]}}]\n";

Test(pbjson, custom_allocator_and_every_allocation_failing) {
  counting c = {{c_alloc, c_free, NULL}, 0, 0, 0};
  c.a.allocator_data = &c;
  mesh__pbjson_opts o = OPTS;
  o.alloc = &c.a;
  ProtobufCMessage *m;
  mesh__pbjson_report r = {0};
  cr_assert_eq(mesh__pbjson_decode(RICH, strlen(RICH), &meshtest__all__descriptor, &o, &m, &r), 0, "%s",
               fmt_note(&r.error));
  long total = c.calls;
  cr_expect_gt(total, 40);
  char *j = mesh__pbjson_encode(m, &o, 0);
  cr_expect_not_null(j);
  free(j);
  protobuf_c_message_free_unpacked(m, &c.a);
  cr_expect_eq(c.live, 0, "everything allocated through the allocator is freed through it");
  /* fail each allocation in turn: a clean error, nothing leaked */
  for (long k = 1; k <= total; k++) {
    c.calls = 0;
    c.fail_at = k;
    m = (ProtobufCMessage *)1;
    int rc = mesh__pbjson_decode(RICH, strlen(RICH), &meshtest__all__descriptor, &o, &m, &r);
    cr_expect_eq(rc, -1, "allocation %ld of %ld failed", k, total);
    cr_expect_null(m);
    cr_expect(strstr(r.error.msg, "out of memory"), "allocation %ld: %s", k, r.error.msg);
    cr_expect_eq(c.live, 0, "allocation %ld: %ld blocks leaked", k, c.live);
  }
  mesh__pbjson_report_free(&r);
}

Test(pbjson, errors_anywhere_leak_nothing) {
  /* the same document broken at each of its lines in turn (run under ASan/LSan) */
  counting c = {{c_alloc, c_free, NULL}, 0, 0, 0};
  c.a.allocator_data = &c;
  mesh__pbjson_opts o = OPTS;
  o.alloc = &c.a;
  const char *p = RICH;
  int line = 0;
  while ((p = strchr(p, '\n')) != NULL) {
    line++;
    size_t at = (size_t)(p - RICH);
    char *bad = malloc(strlen(RICH) + 32);
    memcpy(bad, RICH, at);
    strcpy(bad + at, "\nf_int32: []\n");
    strcat(bad, p + 1);
    ProtobufCMessage *m;
    mesh__pbjson_report r = {0};
    int rc = mesh__pbjson_decode(bad, strlen(bad), &meshtest__all__descriptor, &o, &m, &r);
    cr_expect_eq(rc, -1, "line %d", line);
    cr_expect_eq(c.live, 0, "line %d: leaked", line);
    mesh__pbjson_report_free(&r);
    free(bad);
    p++;
  }
  /* and errors deep inside: the last field of an Any, a map value, a list item */
  const char *deep[] = {
      "filters: [{name: f, typed_config: {\"@type\": meshtest.All, f_string: deep, r_string: [x], f_bool: 3}}]",
      "m_str_msg: {a: {n: 1, children: [{}, {n: x}]}}",
      "r_any: [{\"@type\": google.protobuf.Struct, value: {k: v, j: [1, 2, 1e999]}}]",
      "st: {a: [1, {b: c, d: 1e999}]}",
      "mask: a\nf_inner: {children: [{name: x}, {name: [y]}]}",
  };
  for (size_t i = 0; i < sizeof(deep) / sizeof(deep[0]); i++) {
    ProtobufCMessage *m;
    mesh__pbjson_report r = {0};
    cr_expect_eq(mesh__pbjson_decode(deep[i], strlen(deep[i]), &meshtest__all__descriptor, &o, &m, &r), -1, "%s",
                 deep[i]);
    cr_expect_eq(c.live, 0, "%s: leaked", deep[i]);
    mesh__pbjson_report_free(&r);
  }
}

/* ------------------------------------------------------------ performance */

Test(pbjson, one_megabyte_config_is_fast) {
  /* about 1 MiB of listener-like resources */
  size_t cap = 1200 * 1024, o = 0;
  char *t = malloc(cap);
  o += (size_t)snprintf(t + o, cap - o, "r_inner:\n");
  int i = 0;
  while (o < 1024 * 1024) {
    o += (size_t)snprintf(t + o, cap - o,
                          "  - name: \"listener_%d.example.internal\"\n"
                          "    n: %d\n"
                          "    color: GREEN\n"
                          "    timeout: 0.25s\n"
                          "    children:\n"
                          "      - {name: route_a_%d, n: 1}\n"
                          "      - {name: route_b_%d, n: 2, timeout: 30s}\n",
                          i, i, i, i);
    i++;
  }
  struct timespec a, b;
  ProtobufCMessage *m;
  mesh__pbjson_report r = {0};
  clock_gettime(CLOCK_MONOTONIC, &a);
  cr_assert_eq(mesh__pbjson_decode(t, o, &meshtest__all__descriptor, &OPTS, &m, &r), 0, "%s", fmt_note(&r.error));
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
  cr_expect_eq(((Meshtest__All *)m)->n_r_inner, (size_t)i);
  /* well under 100 ms in an optimized build; sanitizers and valgrind get slack */
  cr_log_info("decoded %zu bytes (%d resources) in %.1f ms", o, i, ms);
  cr_expect_lt(ms, 2000.0, "decoding 1 MiB took %.1f ms", ms);
  char *j = mesh__pbjson_encode(m, &OPTS, 2);
  cr_expect_not_null(j);
  free(j);
  protobuf_c_message_free_unpacked(m, NULL);
  free(t);
}
