/* A bump allocator for immutable config objects: everything a resource
 * (a route table, a cluster) is built from lives in its arena and goes
 * with it in one free. Objects built from untrusted input stay bounded
 * by the arena's limit. */
#ifndef MESH_UTIL_ARENA_H
#define MESH_UTIL_ARENA_H

#include <stddef.h>

typedef struct mesh__arena mesh__arena;

/* limit: total bytes the arena may hand out (0: no limit). */
mesh__arena *mesh__arena_new(size_t limit);
void mesh__arena_free(mesh__arena *a);
/* Zeroed memory aligned for any type, or NULL (out of memory or limit). */
void *mesh__arena_alloc(mesh__arena *a, size_t n);
/* n elements of size sz, overflow-checked. */
void *mesh__arena_calloc(mesh__arena *a, size_t n, size_t sz);
/* A NUL-terminated copy of s[0..n). */
char *mesh__arena_strndup(mesh__arena *a, const char *s, size_t n);
char *mesh__arena_strdup(mesh__arena *a, const char *s);
size_t mesh__arena_used(const mesh__arena *a);

#endif
