/* Monotonic time only: wall-clock time never drives a timeout. */
#ifndef MESH_UTIL_CLOCK_H
#define MESH_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t mesh__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
