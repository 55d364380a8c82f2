/* ASCII string helpers that do not depend on the locale. */
#ifndef MESH_UTIL_STR_H
#define MESH_UTIL_STR_H

#include <stddef.h>
#include <stdint.h>

static inline char mesh__lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c; }
int mesh__strcaseeq(const char *a, const char *b);
int mesh__memcaseeq(const char *a, const char *b, size_t n);
/* RFC 9110 §5.6.2 token characters. */
int mesh__is_token(const char *s, size_t n);
/* A field value without CR, LF or NUL (RFC 9110 §5.5). */
int mesh__is_field_value(const char *s, size_t n);
/* FNV-1a, for small hash tables. */
static inline uint32_t mesh__hash(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}
/* Parse a decimal unsigned integer in [0, max]; 0 on success, -1 otherwise. */
int mesh__parse_u64(const char *s, size_t n, unsigned long long max, unsigned long long *out);

#endif
