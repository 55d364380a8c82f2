/* Intrusive doubly-linked lists (a node embedded in the element). */
#ifndef MESH_UTIL_LIST_H
#define MESH_UTIL_LIST_H

#include <stddef.h>

typedef struct mesh__list {
  struct mesh__list *prev, *next;
} mesh__list;

#define MESH__CONTAINER(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static inline void mesh__list_init(mesh__list *l) { l->prev = l->next = l; }
static inline int mesh__list_empty(const mesh__list *l) { return l->next == l; }
static inline int mesh__list_linked(const mesh__list *n) { return n->next != NULL && n->next != n; }
static inline void mesh__list_push_back(mesh__list *l, mesh__list *n) {
  n->prev = l->prev;
  n->next = l;
  l->prev->next = n;
  l->prev = n;
}
static inline void mesh__list_remove(mesh__list *n) {
  if (!n->next) return;
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->prev = n->next = n;
}
static inline mesh__list *mesh__list_pop_front(mesh__list *l) {
  if (mesh__list_empty(l)) return NULL;
  mesh__list *n = l->next;
  mesh__list_remove(n);
  return n;
}

#endif
