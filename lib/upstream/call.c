#include "upstream/call.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/str.h"

/* Pooled buffers keep at most this much memory between calls. */
#define MESH__KEEP_BYTES (64 * 1024)

int mesh__fields_push(mesh__fields *f, uint32_t name, uint32_t value) {
  if (f->n == f->cap) {
    uint32_t cap = f->cap ? f->cap * 2 : 16;
    mesh__field *v = realloc(f->v, cap * sizeof(*v));
    if (!v) return MESH_ENOMEM;
    f->v = v;
    f->cap = cap;
  }
  f->v[f->n].name = name;
  f->v[f->n].value = value;
  f->n++;
  return MESH_OK;
}

void mesh__req_init(mesh__req *r) {
  memset(r, 0, sizeof(*r));
}

void mesh__req_free(mesh__req *r) {
  mesh__buf_free(&r->arena);
  mesh__buf_free(&r->body);
  free(r->headers.v);
  memset(r, 0, sizeof(*r));
}

int mesh__req_copy(mesh__req *d, const mesh__req *s) {
  mesh__buf_reset(&d->arena, MESH__KEEP_BYTES);
  mesh__buf_reset(&d->body, MESH__KEEP_BYTES);
  d->headers.n = 0;
  if (mesh__buf_append(&d->arena, mesh__buf_head(&s->arena), s->arena.len) ||
      mesh__buf_append(&d->body, mesh__buf_head(&s->body), s->body.len))
    return MESH_ENOMEM;
  for (uint32_t i = 0; i < s->headers.n; i++)
    if (mesh__fields_push(&d->headers, s->headers.v[i].name, s->headers.v[i].value))
      return MESH_ENOMEM;
  d->method = s->method;
  d->authority = s->authority;
  d->path = s->path;
  d->host = s->host;
  d->port = s->port;
  d->protocol = s->protocol;
  d->head = s->head;
  d->timeout_ms = s->timeout_ms;
  return MESH_OK;
}

void mesh__response_reset(mesh_response *r) {
  r->error = MESH_OK;
  r->status = 0;
  r->protocol = 0;
  r->nheaders = 0;
  r->fields.n = 0;
  r->header_bytes = 0;
  r->in_trailers = 0;
  r->nheaders_done = 0;
  r->detail[0] = '\0';
  mesh__buf_reset(&r->strings, MESH__KEEP_BYTES);
  mesh__buf_reset(&r->body, MESH__KEEP_BYTES);
}

void mesh__response_free(mesh_response *r) {
  mesh__buf_free(&r->strings);
  mesh__buf_free(&r->body);
  free(r->fields.v);
  memset(r, 0, sizeof(*r));
}

int mesh__response_add_field(mesh_response *r, const char *name, size_t nlen, const char *value,
                             size_t vlen, size_t max_bytes) {
  /* Count like HTTP/2's SETTINGS_MAX_HEADER_LIST_SIZE: name + value + 32. */
  r->header_bytes += nlen + vlen + 32;
  if (r->header_bytes > max_bytes) return MESH_ETOOLARGE;
  uint32_t n, v;
  if (mesh__buf_append_cstr(&r->strings, name, nlen, &n) ||
      mesh__buf_append_cstr(&r->strings, value, vlen, &v))
    return MESH_ENOMEM;
  char *lname = r->strings.data + n;
  for (size_t i = 0; i < nlen; i++) lname[i] = mesh__lower(lname[i]);
  if (mesh__fields_push(&r->fields, n, v)) return MESH_ENOMEM;
  if (!r->in_trailers) r->nheaders = r->fields.n;
  return MESH_OK;
}
