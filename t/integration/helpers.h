/* Test helpers: a real upstream server process on loopback. */
#ifndef MESH_T_HELPERS_H
#define MESH_T_HELPERS_H

#include <sys/types.h>

typedef struct upstream {
  pid_t pid;
  int port;
  char base[64]; /* "http://127.0.0.1:PORT" */
} upstream;

/* Start t/mesh-test-upstream (path from $MESH_TEST_UPSTREAM). 0 or -1. */
int upstream_start(upstream *u);
/* The same with extra command-line arguments (a NULL-terminated list),
 * e.g. a fault schedule: {"--fault", "503:50%", NULL}. */
int upstream_start_args(upstream *u, const char *const *args);
void upstream_stop(upstream *u);
/* Format base + path into a static-per-call buffer. */
const char *upstream_url(const upstream *u, const char *path, char *buf, size_t len);
/* A port on 127.0.0.1 where nothing listens. */
int closed_port(void);
/* Number of open file descriptors of this process. */
int count_fds(void);


/* Write a file by rename, as editors and config tools do. */
void write_file_atomic(const char *path, const char *text);
void mkdir_p(const char *dir);
/* A log callback counting WARN-and-above lines into *(int *)user_data. */
void count_log(int level, const char *message, void *user_data);

#endif
