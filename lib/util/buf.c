#include "util/buf.h"

#include <stdlib.h>

#include "mesh/mesh.h"

void mesh__buf_init(mesh__buf *b) { memset(b, 0, sizeof(*b)); }

void mesh__buf_free(mesh__buf *b) {
  free(b->data);
  memset(b, 0, sizeof(*b));
}

int mesh__buf_reserve(mesh__buf *b, size_t n) {
  if (b->off + b->len + n <= b->cap) return MESH_OK;
  /* Slide the unconsumed bytes to the front before growing. */
  if (b->off > 0) {
    if (b->len > 0) memmove(b->data, b->data + b->off, b->len);
    b->off = 0;
    if (b->len + n <= b->cap) return MESH_OK;
  }
  if (n > SIZE_MAX / 2 - b->len) return MESH_ENOMEM;
  size_t want = b->len + n;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < want) cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) return MESH_ENOMEM;
  b->data = p;
  b->cap = cap;
  return MESH_OK;
}

int mesh__buf_append(mesh__buf *b, const void *p, size_t n) {
  if (n == 0) return MESH_OK;
  int rc = mesh__buf_reserve(b, n);
  if (rc) return rc;
  memcpy(b->data + b->off + b->len, p, n);
  b->len += n;
  return MESH_OK;
}

int mesh__buf_append_str(mesh__buf *b, const char *s) { return mesh__buf_append(b, s, strlen(s)); }

int mesh__buf_append_cstr(mesh__buf *b, const char *s, size_t n, uint32_t *at) {
  int rc = mesh__buf_reserve(b, n + 1);
  if (rc) return rc;
  if (b->off + b->len > UINT32_MAX) return MESH_ENOMEM;
  *at = (uint32_t)(b->off + b->len);
  if (n) memcpy(b->data + b->off + b->len, s, n);
  b->data[b->off + b->len + n] = '\0';
  b->len += n + 1;
  return MESH_OK;
}

void mesh__buf_consume(mesh__buf *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    b->off = 0;
  } else {
    b->off += n;
    b->len -= n;
  }
}

void mesh__buf_reset(mesh__buf *b, size_t keep) {
  b->len = 0;
  b->off = 0;
  if (b->cap > keep) mesh__buf_free(b);
}
