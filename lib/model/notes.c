#include "model/notes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mesh__notes_init(mesh__notes *notes) { memset(notes, 0, sizeof *notes); }

void mesh__notes_free(mesh__notes *notes) {
  if (!notes) return;
  for (size_t i = 0; i < notes->n; i++) free(notes->v[i]);
  free(notes->v);
  memset(notes, 0, sizeof *notes);
}

static void push(mesh__notes *notes, char *s) {
  if (notes->n == notes->cap) {
    size_t cap = notes->cap ? notes->cap * 2 : 8;
    char **v = realloc(notes->v, cap * sizeof *v);
    if (!v) {
      free(s);
      notes->dropped++;
      return;
    }
    notes->v = v;
    notes->cap = cap;
  }
  notes->v[notes->n++] = s;
}

void mesh__notes_add(mesh__notes *notes, const char *s) {
  if (!notes || !s) return;
  if (notes->n >= MESH__NOTES_MAX - 1) {
    /* The last slot says how many were left out; keep it current. */
    notes->dropped++;
    char buf[64];
    snprintf(buf, sizeof buf, "... and %zu more notes", notes->dropped);
    char *c = strdup(buf);
    if (!c) return;
    if (notes->n == MESH__NOTES_MAX) {
      free(notes->v[notes->n - 1]);
      notes->v[notes->n - 1] = c;
    } else {
      push(notes, c);
    }
    return;
  }
  char *c = strdup(s);
  if (!c) {
    notes->dropped++;
    return;
  }
  push(notes, c);
}

void mesh__notes_addf(mesh__notes *notes, const char *fmt, ...) {
  if (!notes) return;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  mesh__notes_add(notes, buf);
}
