#include <stdlib.h>
#include <string.h>

#include "http/url.h"
#include "upstream/call.h"
#include "util/str.h"

struct mesh_request {
  mesh__req r;
};

int mesh_request_new(mesh_request **out, const char *method, const char *url) {
  if (!out) return MESH_EINVAL;
  *out = NULL;
  if (!method || !url) return MESH_EINVAL;
  size_t ml = strlen(method);
  if (!mesh__is_token(method, ml)) return MESH_EINVAL;
  mesh__url u;
  const char *why;
  if (mesh__url_parse(url, strlen(url), &u, &why)) return MESH_EINVAL;
  mesh_request *q = calloc(1, sizeof *q);
  if (!q) return MESH_ENOMEM;
  mesh__req *r = &q->r;
  uint32_t dummy;
  int rc = mesh__buf_append_cstr(&r->arena, method, ml, &r->method);
  rc |= mesh__buf_append_cstr(&r->arena, u.authority, u.authority_len, &r->authority);
  rc |= mesh__buf_append_cstr(&r->arena, u.host, u.host_len, &r->host);
  if (u.path[0] == '?') {
    /* "http://h?q": the path is "/" plus the query. */
    rc |= mesh__buf_append_cstr(&r->arena, "/", 1, &r->path);
    r->arena.len--; /* drop the NUL to extend the string */
    rc |= mesh__buf_append_cstr(&r->arena, u.path, u.path_len, &dummy);
  } else {
    rc |= mesh__buf_append_cstr(&r->arena, u.path, u.path_len, &r->path);
  }
  if (rc) {
    mesh_request_free(q);
    return MESH_ENOMEM;
  }
  r->port = u.port;
  r->head = ml == 4 && memcmp(method, "HEAD", 4) == 0;
  if (ml > UINT16_MAX || u.authority_len > UINT16_MAX || u.path_len > UINT32_MAX / 2) {
    mesh_request_free(q);
    return MESH_EINVAL;
  }
  r->method_len = (uint16_t)ml;
  r->authority_len = (uint16_t)u.authority_len;
  r->path_len = (uint32_t)strlen(r->arena.data + r->path);
  r->authority_hash = mesh__hash(u.authority, u.authority_len);
  *out = q;
  return MESH_OK;
}

void mesh_request_free(mesh_request *q) {
  if (!q) return;
  mesh__req_free(&q->r);
  free(q);
}

/* Connection-specific fields belong to libmesh's own hop (RFC 9110 §7.6.1;
 * HTTP/2 forbids them, RFC 9113 §8.2.2). Host comes from the URL. */
static int forbidden_header(const char *n, const char *v) {
  static const char *const names[] = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                                      "upgrade", "host", "content-length"};
  /* TE: only "trailers" (what gRPC sends), as HTTP/2 allows. */
  if (mesh__strcaseeq(n, "te")) return !mesh__strcaseeq(v, "trailers");
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (mesh__strcaseeq(n, names[i])) return 1;
  return 0;
}

int mesh_request_add_header(mesh_request *q, const char *name, const char *value) {
  if (!q || !name || !value) return MESH_EINVAL;
  size_t nl = strlen(name), vl = strlen(value);
  if (!mesh__is_token(name, nl) || !mesh__is_field_value(value, vl) || forbidden_header(name, value))
    return MESH_EINVAL;
  mesh__req *r = &q->r;
  uint32_t n, v;
  if (mesh__buf_append_cstr(&r->arena, name, nl, &n) || mesh__buf_append_cstr(&r->arena, value, vl, &v) ||
      mesh__fields_push(&r->headers, n, v))
    return MESH_ENOMEM;
  /* HTTP/2 requires lower-case names; HTTP/1.1 does not care. */
  char *p = r->arena.data + n;
  for (size_t i = 0; i < nl; i++) p[i] = mesh__lower(p[i]);
  return MESH_OK;
}

int mesh_request_set_body(mesh_request *q, const void *body, size_t len) {
  if (!q || (!body && len)) return MESH_EINVAL;
  mesh__buf_reset(&q->r.body, 0);
  return mesh__buf_append(&q->r.body, body, len);
}

int mesh_request_set_timeout_ms(mesh_request *q, uint32_t ms) {
  if (!q) return MESH_EINVAL;
  q->r.timeout_ms = ms;
  return MESH_OK;
}

int mesh_request_set_protocol(mesh_request *q, int protocol) {
  if (!q || protocol < MESH_PROTOCOL_DEFAULT || protocol > MESH_PROTOCOL_HTTP2) return MESH_EINVAL;
  q->r.protocol = (uint8_t)protocol;
  return MESH_OK;
}

/* For mesh.c: the request's internal form. */
const mesh__req *mesh__request_req(const mesh_request *q);
const mesh__req *mesh__request_req(const mesh_request *q) { return &q->r; }
