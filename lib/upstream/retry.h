/* Retry decisions as Envoy makes them (router/retry_state_impl.cc), as
 * pure functions over the model and a completed attempt: which outcomes
 * are retriable under retry_on, the jittered exponential back-off, the
 * rate-limited back-off from reset headers, and the grpc-timeout header.
 * No I/O, no clock: callers pass time and randomness in. */
#ifndef MESH_UPSTREAM_RETRY_H
#define MESH_UPSTREAM_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "model/route.h"
#include "upstream/call.h"

/* How one attempt ended. */
enum mesh__attempt_outcome {
  MESH__ATTEMPT_RESPONSE = 0,   /* a complete response: look at its status and headers */
  MESH__ATTEMPT_RESET,          /* the stream or connection broke after connecting */
  MESH__ATTEMPT_REFUSED_STREAM, /* HTTP/2 REFUSED_STREAM (or above a GOAWAY's last id) */
  MESH__ATTEMPT_CONNECT_FAILURE,/* connect refused or timed out, name not resolved */
  MESH__ATTEMPT_PER_TRY_TIMEOUT,/* per_try_timeout or per_try_idle_timeout */
  MESH__ATTEMPT_LOCAL           /* ended by libmesh (overflow, memory, cancel, call
                                 * timeout): never retried */
};

/* The outcome of an attempt that ended with err (MESH_OK: a response). */
int mesh__attempt_outcome(int err, int refused);

/* Envoy's wouldRetryFromHeaders / wouldRetryFromReset: whether retry_on
 * (and the retriable codes and headers) make this outcome retriable. A
 * response carrying x-envoy-overloaded is never retried. */
bool mesh__retry_would_retry(const mesh__retry_policy *p, int outcome, const mesh_response *r);

/* The gRPC status of a response (grpc-status in its headers, or in its
 * trailers), or -1. */
int mesh__grpc_status(const mesh_response *r);

/* Envoy's JitteredExponentialBackOffStrategy: *n starts at 1; the result
 * is random % ((2^n - 1) * base), capped by max; n grows while the
 * un-jittered interval is within max. */
uint64_t mesh__backoff_next(uint64_t base_ms, uint64_t max_ms, uint8_t *n, uint64_t random);

/* rate_limited_retry_back_off: the interval the first configured reset
 * header gives (Retry-After seconds, or a Unix time minus now_unix_s),
 * jittered into [interval, 1.5 x interval); -1 when no header applies
 * (absent, malformed, or above max_interval). */
int64_t mesh__retry_reset_backoff_ms(const mesh__retry_policy *p, const mesh_response *r, int64_t now_unix_s,
                                     uint64_t random);

/* gRPC's grpc-timeout (PROTOCOL-HTTP2.md: 1-8 digits then H, M, S, m, u
 * or n), in ms rounded up; -1 when malformed. */
int64_t mesh__grpc_timeout_ms(const char *v, size_t n);

#endif
