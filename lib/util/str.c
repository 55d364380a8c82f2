#include "util/str.h"

int mesh__strcaseeq(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (mesh__lower(*a) != mesh__lower(*b)) return 0;
  return *a == *b;
}

int mesh__memcaseeq(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (mesh__lower(a[i]) != mesh__lower(b[i])) return 0;
  return 1;
}

int mesh__is_token(const char *s, size_t n) {
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) continue;
    switch (c) {
      case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
      case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        continue;
      default:
        return 0;
    }
  }
  return 1;
}

int mesh__is_field_value(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\0' || c == '\r' || c == '\n') return 0;
  }
  return 1;
}

int mesh__parse_u64(const char *s, size_t n, unsigned long long max, unsigned long long *out) {
  unsigned long long v = 0;
  if (n == 0) return -1;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (max - d) / 10) return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}
