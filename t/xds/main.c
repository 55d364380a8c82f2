/* mesh-test-xds-server: the test xDS management server (server.c) as a
 * process, for tests that kill it for real and for trying libmesh by hand.
 *
 *   mesh-test-xds-server [--port N] [--unix PATH] FILE
 *
 * Serves the resources in FILE (a YAML/JSON list of typed resources, as
 * libmesh-config(5) describes) over ADS (SotW and delta) on 127.0.0.1;
 * prints "port=N" once listening; reads FILE again on SIGHUP and pushes
 * the change to every stream; exits on SIGTERM/SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

static volatile sig_atomic_t hup, quit;
static void on_hup(int s) {
  (void)s;
  hup = 1;
}
static void on_quit(int s) {
  (void)s;
  quit = 1;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return NULL;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *b = malloc((size_t)n + 1);
  if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
    fclose(f);
    free(b);
    return NULL;
  }
  b[n] = 0;
  fclose(f);
  return b;
}

static int load(xds_server *s, const char *path) {
  char *text = slurp(path);
  int rc = text ? xds_server_set(s, text) : -1;
  free(text);
  return rc;
}

int main(int argc, char **argv) {
  int port = 0;
  const char *file = NULL, *unix_path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--unix") && i + 1 < argc) unix_path = argv[++i];
    else if (argv[i][0] != '-' && !file) file = argv[i];
    else {
      fprintf(stderr, "usage: %s [--port N] [--unix PATH] FILE\n", argv[0]);
      return 2;
    }
  }
  if (!file || port < 0 || port > 65535) {
    fprintf(stderr, "usage: %s [--port N] [--unix PATH] FILE\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, on_hup);
  signal(SIGTERM, on_quit);
  signal(SIGINT, on_quit);
  xds_server *s = xds_server_start((uint16_t)port);
  if (!s) {
    fprintf(stderr, "cannot listen on 127.0.0.1:%d\n", port);
    return 1;
  }
  if (load(s, file) != 0) return 1;
  if (unix_path && xds_server_listen_unix(s, unix_path) != 0) {
    fprintf(stderr, "cannot listen on %s\n", unix_path);
    return 1;
  }
  printf("port=%u\n", xds_server_port(s));
  fflush(stdout);
  while (!quit) {
    pause();
    if (hup) {
      hup = 0;
      if (load(s, file) != 0) fprintf(stderr, "%s: not loaded, keeping the previous resources\n", file);
    }
  }
  xds_server_free(s);
  return 0;
}
