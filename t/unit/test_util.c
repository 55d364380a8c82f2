/* util/ and http/url: buffers, strings, URL parsing. */
#include <criterion/criterion.h>
#include <string.h>

#include "http/url.h"
#include "mesh/mesh.h"
#include "util/buf.h"
#include "util/str.h"

Test(buf, grows_consumes_and_resets) {
  mesh__buf b;
  mesh__buf_init(&b);
  for (int i = 0; i < 1000; i++) cr_assert_eq(mesh__buf_append(&b, "abcd", 4), 0);
  cr_expect_eq(b.len, 4000);
  mesh__buf_consume(&b, 3998);
  cr_expect_eq(b.len, 2);
  cr_expect_eq(memcmp(mesh__buf_head(&b), "cd", 2), 0);
  mesh__buf_append(&b, "ef", 2);
  cr_expect_eq(memcmp(mesh__buf_head(&b), "cdef", 4), 0);
  mesh__buf_reset(&b, 100);
  cr_expect_eq(b.cap, 0, "memory beyond keep is released");
  uint32_t at;
  cr_assert_eq(mesh__buf_append_cstr(&b, "xyz", 3, &at), 0);
  cr_expect_str_eq(b.data + at, "xyz");
  mesh__buf_free(&b);
}

Test(str, tokens_values_numbers) {
  cr_expect(mesh__is_token("x-a_b.c~", 8));
  cr_expect_not(mesh__is_token("a b", 3));
  cr_expect_not(mesh__is_token("", 0));
  cr_expect_not(mesh__is_token("a:b", 3));
  cr_expect(mesh__is_field_value("v 1\t", 4));
  cr_expect_not(mesh__is_field_value("a\nb", 3));
  cr_expect_not(mesh__is_field_value("a\0b", 3));
  unsigned long long v;
  cr_expect_eq(mesh__parse_u64("65535", 5, 65535, &v), 0);
  cr_expect_eq(v, 65535);
  cr_expect_eq(mesh__parse_u64("65536", 5, 65535, &v), -1);
  cr_expect_eq(mesh__parse_u64("18446744073709551616", 20, ~0ull, &v), -1);
  cr_expect_eq(mesh__parse_u64("1x", 2, 100, &v), -1);
  cr_expect_eq(mesh__parse_u64("", 0, 100, &v), -1);
  cr_expect(mesh__strcaseeq("Content-Length", "content-length"));
  cr_expect_not(mesh__strcaseeq("a", "ab"));
}

static void url_ok(const char *s, const char *auth, const char *host, int port, const char *path) {
  mesh__url u;
  const char *why = NULL;
  cr_assert_eq(mesh__url_parse(s, strlen(s), &u, &why), 0, "%s: %s", s, why);
  cr_expect_eq(u.authority_len, strlen(auth), "%s", s);
  cr_expect_eq(memcmp(u.authority, auth, u.authority_len), 0, "%s", s);
  cr_expect_eq(u.host_len, strlen(host), "%s", s);
  cr_expect_eq(memcmp(u.host, host, u.host_len), 0, "%s", s);
  cr_expect_eq(u.port, port, "%s", s);
  cr_expect_eq(u.path_len, strlen(path), "%s", s);
  cr_expect_eq(memcmp(u.path, path, u.path_len), 0, "%s", s);
}

Test(url, valid) {
  url_ok("http://a", "a", "a", 80, "/");
  url_ok("HTTP://a:8080/x/y?z=1", "a:8080", "a", 8080, "/x/y?z=1");
  url_ok("http://[::1]:9/p#frag", "[::1]:9", "::1", 9, "/p");
  url_ok("http://svc.ns.svc.cluster.local:80/", "svc.ns.svc.cluster.local:80", "svc.ns.svc.cluster.local", 80, "/");
  url_ok("http://h?q=1", "h", "h", 80, "?q=1");
}

Test(url, invalid) {
  const char *bad[] = {"", "http:/", "http://", "http:///p", "https://a/", "http://a:/", "http://a:99999/",
                       "http://[::1", "http://[::1]x/", "http://a@b/", "http://a b/", "http://a/p q", NULL};
  for (int i = 0; bad[i]; i++) {
    mesh__url u;
    const char *why = NULL;
    cr_expect_eq(mesh__url_parse(bad[i], strlen(bad[i]), &u, &why), -1, "%s accepted", bad[i]);
    if (why) cr_expect_neq(why[0], '\0');
  }
}
