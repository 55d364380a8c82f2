#ifndef MESH_UTIL_LOG_H
#define MESH_UTIL_LOG_H

#include "mesh/mesh.h"

typedef struct mesh__logger {
  mesh_log_cb cb;
  void *user_data;
  int level;
} mesh__logger;

void mesh__log_stderr(int level, const char *message, void *user_data);
void mesh__log(const mesh__logger *lg, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
