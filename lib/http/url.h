/* Request URL parsing: http://host[:port][/path][?query] (RFC 3986 §3).
 * Pure: no allocation, views into the input. */
#ifndef MESH_HTTP_URL_H
#define MESH_HTTP_URL_H

#include <stddef.h>
#include <stdint.h>

typedef struct mesh__url {
  const char *scheme; size_t scheme_len;
  const char *authority; size_t authority_len; /* host[:port] as written */
  const char *host; size_t host_len;           /* without IPv6 brackets */
  uint16_t port;                               /* explicit or the scheme's default */
  const char *path; size_t path_len;           /* "/..." including the query; "/" when empty */
} mesh__url;

/* 0 on success; -1 with a static reason in *why. */
int mesh__url_parse(const char *url, size_t len, mesh__url *out, const char **why);

#endif
