/* A growable byte buffer with a hard bound. All parsing and framing of
 * libmesh goes through it, so size limits live in one place. */
#ifndef MESH_UTIL_BUF_H
#define MESH_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct mesh__buf {
  char *data;
  size_t len;  /* bytes in use, from data[off] */
  size_t off;  /* consumed prefix */
  size_t cap;
} mesh__buf;

void mesh__buf_init(mesh__buf *b);
void mesh__buf_free(mesh__buf *b);
/* Make room for n more bytes. 0 or MESH_ENOMEM. */
int mesh__buf_reserve(mesh__buf *b, size_t n);
int mesh__buf_append(mesh__buf *b, const void *p, size_t n);
int mesh__buf_append_str(mesh__buf *b, const char *s);
/* Append s plus a NUL; returns the offset where s starts via *at. */
int mesh__buf_append_cstr(mesh__buf *b, const char *s, size_t n, uint32_t *at);
void mesh__buf_consume(mesh__buf *b, size_t n);
/* Drop contents; free the memory when it grew beyond keep (so pooled
 * buffers stay small). */
void mesh__buf_reset(mesh__buf *b, size_t keep);

static inline const char *mesh__buf_head(const mesh__buf *b) { return b->data + b->off; }
static inline size_t mesh__buf_size(const mesh__buf *b) { return b->len; }

#endif
