#include "upstream/call.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/str.h"

/* Pooled buffers keep at most this much memory between calls. */
#define MESH__KEEP_BYTES (64 * 1024)

int mesh__fields_grow(mesh__fields *f) {
  uint32_t cap = f->cap ? f->cap * 2 : 16;
  mesh__field *v = realloc(f->v, cap * sizeof(*v));
  if (!v) return MESH_ENOMEM;
  f->v = v;
  f->cap = cap;
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
  if (s->headers.n) {
    while (d->headers.cap < s->headers.n)
      if (mesh__fields_grow(&d->headers)) return MESH_ENOMEM;
    memcpy(d->headers.v, s->headers.v, s->headers.n * sizeof *s->headers.v);
    d->headers.n = s->headers.n;
  }
  d->method = s->method;
  d->authority = s->authority;
  d->path = s->path;
  d->method_len = s->method_len;
  d->authority_len = s->authority_len;
  d->path_len = s->path_len;
  d->authority_hash = s->authority_hash;
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
  r->route_name = r->cluster_name = r->endpoint = NULL;
  r->detail[0] = '\0';
  r->flags = 0;
  r->attempts = 0;
  r->flags_str[0] = '\0';
  mesh__buf_reset(&r->strings, MESH__KEEP_BYTES);
  mesh__buf_reset(&r->body, MESH__KEEP_BYTES);
}

void mesh__response_free(mesh_response *r) {
  mesh__buf_free(&r->strings);
  mesh__buf_free(&r->body);
  free(r->fields.v);
  memset(r, 0, sizeof(*r));
}

int mesh__response_add_field_slow(mesh_response *r, const char *name, size_t nlen, const char *value,
                                  size_t vlen, size_t max_bytes, int lower) {
  /* Count like HTTP/2's SETTINGS_MAX_HEADER_LIST_SIZE: name + value + 32. */
  r->header_bytes += nlen + vlen + 32;
  if (r->header_bytes > max_bytes) return MESH_ETOOLARGE;
  mesh__buf *b = &r->strings;
  if (b->off + b->len + nlen + vlen + 2 > b->cap && mesh__buf_reserve(b, nlen + vlen + 2)) return MESH_ENOMEM;
  /* Offsets are from data: the arena is never consumed from the front. */
  uint32_t n = (uint32_t)(b->off + b->len), v = n + (uint32_t)nlen + 1;
  char *p = b->data + n;
  if (lower) {
    for (size_t i = 0; i < nlen; i++) p[i] = mesh__lower(name[i]);
  } else {
    memcpy(p, name, nlen);
  }
  p[nlen] = '\0';
  memcpy(p + nlen + 1, value, vlen);
  p[nlen + 1 + vlen] = '\0';
  b->len += nlen + vlen + 2;
  if (mesh__fields_push(&r->fields, n, v)) return MESH_ENOMEM;
  if (!r->in_trailers) r->nheaders = r->fields.n;
  return MESH_OK;
}

const char *const mesh__response_flag_names[MESH__RF_COUNT] = {
    "UH", "UF", "UO", "NR", "URX", "UT", "UR", "DC", "DR", "SI", "UMSDR", "UPE", "DI", "FI",
};

void mesh__response_flags_format(uint32_t flags, char *out, size_t n) {
  size_t at = 0;
  if (n == 0) return;
  out[0] = '\0';
  for (int i = 0; i < MESH__RF_COUNT; i++) {
    if (!(flags & (1u << i))) continue;
    size_t l = strlen(mesh__response_flag_names[i]);
    if (at + l + 2 > n) break;
    if (at) out[at++] = ',';
    memcpy(out + at, mesh__response_flag_names[i], l);
    at += l;
    out[at] = '\0';
  }
}
