#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>

void mesh__log_stderr(int level, const char *message, void *user_data) {
  static const char *names[] = {"debug", "info", "warn", "error"};
  (void)user_data;
  fprintf(stderr, "libmesh %s: %s\n", names[level < 0 || level > 3 ? 3 : level], message);
}

void mesh__log(const mesh__logger *lg, int level, const char *fmt, ...) {
  if (!lg->cb || level < lg->level) return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  lg->cb(level, line, lg->user_data);
}
