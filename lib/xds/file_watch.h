/* Watching the local config file. The directory is watched (inotify), not
 * the file, so that atomic replaces (editors writing a temp file and
 * renaming it, Kubernetes ConfigMap symlink swaps) are seen; a slow stat()
 * poll backs it up. Changes are debounced and reported only when the
 * content differs from the last one reported. */
#ifndef MESH_XDS_FILE_WATCH_H
#define MESH_XDS_FILE_WATCH_H

#include <stddef.h>

struct event_base;
typedef struct mesh__file_watch mesh__file_watch;

/* text is the whole new content (valid during the call). */
typedef void (*mesh__file_changed_cb)(void *user_data, const char *text, size_t len);

mesh__file_watch *mesh__file_watch_new(struct event_base *base, const char *path, mesh__file_changed_cb cb,
                                       void *user_data);
void mesh__file_watch_free(mesh__file_watch *w);
/* Note content already applied (so an unchanged file does not fire). */
void mesh__file_watch_seen(mesh__file_watch *w, const char *text, size_t len);

/* Read a whole file of at most max bytes: 0, or -1 with a reason in err. */
int mesh__file_read(const char *path, size_t max, char **out, size_t *len, char *err, size_t errlen);

#endif
