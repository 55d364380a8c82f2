/* Notes: a small growable list of strings, for what a translator noticed
 * but did not act on ("virtual_hosts[0].routes[3].decorator: not supported,
 * ignored"). Bounded: after MESH__NOTES_MAX notes, further ones are counted
 * in ->dropped and one summary note says so. Out of memory drops a note;
 * notes never fail the translation they describe. */
#ifndef MESH_MODEL_NOTES_H
#define MESH_MODEL_NOTES_H

#include <stddef.h>

#define MESH__NOTES_MAX 128

typedef struct mesh__notes {
  char **v;       /* v[0..n), each malloc'd and NUL-terminated */
  size_t n, cap;
  size_t dropped; /* notes not kept because of MESH__NOTES_MAX or memory */
} mesh__notes;

void mesh__notes_init(mesh__notes *notes);
void mesh__notes_free(mesh__notes *notes);
/* Append a copy of s. A NULL notes is accepted (the note is discarded). */
void mesh__notes_add(mesh__notes *notes, const char *s);
void mesh__notes_addf(mesh__notes *notes, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
