/*
 * The corpus replayer shared by the fuzz targets when they are built with
 * -DMESH_FUZZ_STANDALONE (no libFuzzer): `target FILE|DIR...` runs every
 * file (directories recursively) through LLVMFuzzerTestOneInput once.
 *
 * A target may define FUZZ_REPLAY_ONE(buf, len, path) before including
 * this file to run an input its own way (e.g. twice, checking the heap in
 * between); it returns 0, or -1 to count the input as failed.
 */
#ifndef MESH_FUZZ_REPLAY_H
#define MESH_FUZZ_REPLAY_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef FUZZ_REPLAY_ONE
#define FUZZ_REPLAY_ONE(buf, len, path) (LLVMFuzzerTestOneInput((buf), (len)), 0)
#endif

static long fuzz_replay_failed;

/* The whole file in a malloc'd buffer: 0, or -1 (said on stderr). */
static int fuzz_read_file(const char *path, uint8_t **out, size_t *outlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  size_t cap = 4096, len = 0, n;
  uint8_t *buf = malloc(cap);
  while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
    len += n;
    if (len == cap) {
      uint8_t *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  int err = !buf || ferror(f);
  fclose(f);
  if (err) {
    fprintf(stderr, "%s: %s\n", path, buf ? "read error" : "out of memory");
    free(buf);
    return -1;
  }
  *out = buf;
  *outlen = len;
  return 0;
}

/* Inputs replayed under path, or -1 when one could not be read. */
static int fuzz_replay(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    perror(path);
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    uint8_t *buf;
    size_t len;
    if (fuzz_read_file(path, &buf, &len) < 0) return -1;
    if (FUZZ_REPLAY_ONE(buf, len, path) < 0) fuzz_replay_failed++;
    free(buf);
    return 1;
  }
  DIR *d = opendir(path);
  if (!d) {
    perror(path);
    return -1;
  }
  int count = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    size_t l = strlen(path) + strlen(e->d_name) + 2;
    char *sub = malloc(l);
    if (!sub) break;
    snprintf(sub, l, "%s/%s", path, e->d_name);
    int r = fuzz_replay(sub);
    free(sub);
    if (r < 0) {
      closedir(d);
      return -1;
    }
    count += r;
  }
  closedir(d);
  return count;
}

/* main() of a replayer: 0 when every input ran (and none failed). */
static int fuzz_replay_main(const char *name, int argc, char **argv) {
  int total = 0;
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    int r = fuzz_replay(argv[i]);
    if (r < 0) return 1;
    total += r;
  }
  printf("%s: replayed %d inputs, %ld failed\n", name, total, fuzz_replay_failed);
  return total > 0 && fuzz_replay_failed == 0 ? 0 : 1;
}

#endif
