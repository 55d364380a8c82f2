#include "http/url.h"

#include <string.h>

#include "util/str.h"

int mesh__url_parse(const char *url, size_t len, mesh__url *u, const char **why) {
  memset(u, 0, sizeof(*u));
  const char *end = url + len;
  const char *p = memchr(url, ':', len);
  if (!p || end - p < 3 || p[1] != '/' || p[2] != '/') {
    *why = "URL must start with http://";
    return -1;
  }
  u->scheme = url;
  u->scheme_len = (size_t)(p - url);
  if (u->scheme_len == 4 && mesh__memcaseeq(url, "http", 4)) {
    u->port = 80;
  } else {
    *why = "unsupported URL scheme (only http:// for now)";
    return -1;
  }
  const char *a = p + 3;
  const char *ae = a;
  while (ae < end && *ae != '/' && *ae != '?' && *ae != '#') ae++;
  u->authority = a;
  u->authority_len = (size_t)(ae - a);
  if (u->authority_len == 0) {
    *why = "URL has no host";
    return -1;
  }
  if (memchr(a, '@', u->authority_len)) {
    *why = "user info in URLs is not supported";
    return -1;
  }
  const char *hp = a, *he;
  const char *portp = NULL;
  if (*a == '[') {
    he = memchr(a, ']', u->authority_len);
    if (!he) {
      *why = "unterminated IPv6 literal in URL";
      return -1;
    }
    u->host = a + 1;
    u->host_len = (size_t)(he - a - 1);
    if (he + 1 < ae) {
      if (he[1] != ':') {
        *why = "bad character after IPv6 literal";
        return -1;
      }
      portp = he + 2;
    }
  } else {
    he = memchr(a, ':', u->authority_len);
    if (he) portp = he + 1; else he = ae;
    u->host = hp;
    u->host_len = (size_t)(he - hp);
  }
  if (u->host_len == 0 || u->host_len > 253) {
    *why = "bad host in URL";
    return -1;
  }
  for (size_t i = 0; i < u->host_len; i++) {
    unsigned char c = (unsigned char)u->host[i];
    if (c <= 0x20 || c >= 0x7f || c == '/' || c == '\\' || c == '%') {
      *why = "bad character in URL host";
      return -1;
    }
  }
  if (portp) {
    unsigned long long v;
    if (ae - portp > 5 || mesh__parse_u64(portp, (size_t)(ae - portp), 65535, &v) || v == 0) {
      *why = "bad port in URL";
      return -1;
    }
    u->port = (uint16_t)v;
  }
  /* The fragment never goes on the wire (RFC 9110 §4.2.4). */
  const char *pe = memchr(ae, '#', (size_t)(end - ae));
  if (!pe) pe = end;
  for (const char *c = ae; c < pe; c++) {
    if ((unsigned char)*c <= 0x20 || (unsigned char)*c == 0x7f) {
      *why = "bad character in URL path";
      return -1;
    }
  }
  if (ae == pe) {
    u->path = "/";
    u->path_len = 1;
  } else if (*ae == '?') {
    /* "http://h?q" means path "/" with the query. */
    u->path = NULL; /* caller prepends "/" */
    u->path = ae;
    u->path_len = (size_t)(pe - ae);
  } else {
    u->path = ae;
    u->path_len = (size_t)(pe - ae);
  }
  return 0;
}
