#include "xds/file_watch.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/str.h"

#define DEBOUNCE_MS 30
#define POLL_MS 2000
#define MAX_CONFIG_BYTES (64u << 20)

struct mesh__file_watch {
  char *path;
  int ifd;
  struct event *iev, *debounce, *poll;
  mesh__file_changed_cb cb;
  void *user_data;
  uint64_t last_hash;
  size_t last_len;
  int have_last;
  struct stat last_st;
};

int mesh__file_read(const char *path, size_t max, char **out, size_t *len, char *err, size_t errlen) {
  *out = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "%s: not a regular file", path);
    close(fd);
    return -1;
  }
  if ((uint64_t)st.st_size > max) {
    snprintf(err, errlen, "%s: %lld bytes, more than the %zu allowed", path, (long long)st.st_size, max);
    close(fd);
    return -1;
  }
  size_t cap = (size_t)st.st_size + 1, n = 0;
  char *buf = malloc(cap);
  if (!buf) {
    snprintf(err, errlen, "%s: out of memory", path);
    close(fd);
    return -1;
  }
  for (;;) {
    if (n + 1 == cap) {
      /* The file grew while we read it. */
      if (cap > max) {
        snprintf(err, errlen, "%s: more than the %zu bytes allowed", path, max);
        free(buf);
        close(fd);
        return -1;
      }
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        close(fd);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
      }
      buf = nb;
      cap *= 2;
    }
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      snprintf(err, errlen, "%s: %s", path, strerror(errno));
      free(buf);
      close(fd);
      return -1;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return 0;
}

static uint64_t content_hash(const char *p, size_t n) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a 64 */
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
  return h;
}

void mesh__file_watch_seen(mesh__file_watch *w, const char *text, size_t len) {
  w->last_hash = content_hash(text, len);
  w->last_len = len;
  w->have_last = 1;
  stat(w->path, &w->last_st);
}

static void check_now(mesh__file_watch *w) {
  char *text;
  size_t len;
  char err[256];
  if (mesh__file_read(w->path, MAX_CONFIG_BYTES, &text, &len, err, sizeof err) < 0) {
    /* Gone or unreadable for a moment (a replace in progress): the
     * next event or poll tries again; the last config stays. */
    return;
  }
  uint64_t h = content_hash(text, len);
  if (!w->have_last || h != w->last_hash || len != w->last_len) {
    w->last_hash = h;
    w->last_len = len;
    w->have_last = 1;
    stat(w->path, &w->last_st);
    w->cb(w->user_data, text, len);
  }
  free(text);
}

static void on_debounce(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  check_now(arg);
}

static void schedule(mesh__file_watch *w) {
  struct timeval tv = {0, DEBOUNCE_MS * 1000};
  event_add(w->debounce, &tv); /* re-adding pushes it back: debounce */
}

static void on_inotify(evutil_socket_t fd, short what, void *arg) {
  mesh__file_watch *w = arg;
  char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
  (void)what;
  int any = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    any = 1; /* any change in the directory: symlink swaps rename other names */
  }
  if (any) schedule(w);
}

static void on_poll(evutil_socket_t fd, short what, void *arg) {
  mesh__file_watch *w = arg;
  struct stat st;
  (void)fd;
  (void)what;
  if (stat(w->path, &st) == 0 &&
      (st.st_mtim.tv_sec != w->last_st.st_mtim.tv_sec || st.st_mtim.tv_nsec != w->last_st.st_mtim.tv_nsec ||
       st.st_size != w->last_st.st_size || st.st_ino != w->last_st.st_ino))
    schedule(w);
}

mesh__file_watch *mesh__file_watch_new(struct event_base *base, const char *path, mesh__file_changed_cb cb,
                                       void *user_data) {
  mesh__file_watch *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->ifd = -1;
  w->cb = cb;
  w->user_data = user_data;
  w->path = strdup(path);
  char *dircopy = strdup(path);
  if (!w->path || !dircopy) goto fail;
  w->debounce = evtimer_new(base, on_debounce, w);
  w->poll = event_new(base, -1, EV_PERSIST, on_poll, w);
  if (!w->debounce || !w->poll) goto fail;
  struct timeval pt = {POLL_MS / 1000, (POLL_MS % 1000) * 1000};
  event_add(w->poll, &pt);
  w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (w->ifd >= 0) {
    const char *dir = dirname(dircopy);
    if (inotify_add_watch(w->ifd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MODIFY) < 0) {
      close(w->ifd);
      w->ifd = -1; /* the poll still works */
    } else {
      w->iev = event_new(base, w->ifd, EV_READ | EV_PERSIST, on_inotify, w);
      if (!w->iev) goto fail;
      event_add(w->iev, NULL);
    }
  }
  free(dircopy);
  return w;
fail:
  free(dircopy);
  mesh__file_watch_free(w);
  return NULL;
}

void mesh__file_watch_free(mesh__file_watch *w) {
  if (!w) return;
  if (w->iev) event_free(w->iev);
  if (w->debounce) event_free(w->debounce);
  if (w->poll) event_free(w->poll);
  if (w->ifd >= 0) close(w->ifd);
  free(w->path);
  free(w);
}
