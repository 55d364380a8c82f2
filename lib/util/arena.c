#include "util/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct chunk {
  struct chunk *next;
  size_t used, cap;
  max_align_t data[];
} chunk;

struct mesh__arena {
  chunk *head;
  size_t limit, total;
};

#define ALIGN (sizeof(max_align_t))
#define ARENA_FIRST_CHUNK 256
#define ARENA_MAX_CHUNK 16384

mesh__arena *mesh__arena_new(size_t limit) {
  mesh__arena *a = calloc(1, sizeof *a);
  if (a) a->limit = limit;
  return a;
}

void mesh__arena_free(mesh__arena *a) {
  if (!a) return;
  chunk *c = a->head;
  while (c) {
    chunk *n = c->next;
    free(c);
    c = n;
  }
  free(a);
}

void *mesh__arena_alloc(mesh__arena *a, size_t n) {
  if (n == 0) n = 1;
  if (n > SIZE_MAX / 2) return NULL;
  n = (n + ALIGN - 1) & ~(ALIGN - 1);
  if (a->limit && (a->total + n > a->limit)) return NULL;
  chunk *c = a->head;
  if (!c || c->cap - c->used < n) {
    /* Chunks grow geometrically from small: a mesh holds many tiny arenas
     * (one per cluster, load assignment and picker; 10,000s of each), so a
     * fixed 4 KiB first chunk would cost more than the objects themselves. */
    size_t next = c ? c->cap * 2 : ARENA_FIRST_CHUNK;
    if (next > ARENA_MAX_CHUNK) next = ARENA_MAX_CHUNK;
    size_t cap = n > next ? n : next;
    c = malloc(sizeof *c + cap);
    if (!c) return NULL;
    c->used = 0;
    c->cap = cap;
    c->next = a->head;
    a->head = c;
  }
  void *p = (char *)c->data + c->used;
  c->used += n;
  a->total += n;
  memset(p, 0, n);
  return p;
}

void *mesh__arena_calloc(mesh__arena *a, size_t n, size_t sz) {
  if (sz && n > SIZE_MAX / sz) return NULL;
  return mesh__arena_alloc(a, n * sz);
}

char *mesh__arena_strndup(mesh__arena *a, const char *s, size_t n) {
  char *p = mesh__arena_alloc(a, n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *mesh__arena_strdup(mesh__arena *a, const char *s) { return mesh__arena_strndup(a, s, strlen(s)); }

size_t mesh__arena_used(const mesh__arena *a) { return a->total; }
