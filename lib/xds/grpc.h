/* One gRPC bidirectional stream over HTTP/2 cleartext (h2c with prior
 * knowledge, RFC 9113 §3.3), on a libevent bufferevent, for the ADS
 * stream. The upstream pools serve request/response calls; a control-plane
 * stream lives for hours and carries many messages each way, so it has its
 * own small client here.
 *
 * Framing follows gRPC's PROTOCOL-HTTP2.md: request headers :method POST,
 * :scheme http, :path /<service>/<method>, te: trailers, content-type
 * application/grpc; each message is a 5-byte prefix (compressed flag, 4-byte
 * big-endian length) and the bytes; the status comes in grpc-status and
 * grpc-message, in the trailers (or in a trailers-only response).
 *
 * Loop thread only. Callbacks may call mesh__grpc_send; they must not free
 * the stream (do that later, e.g. from a timer). */
#ifndef MESH_XDS_GRPC_H
#define MESH_XDS_GRPC_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evdns_base;

typedef struct mesh__grpc mesh__grpc;

/* Status for a stream that ended without a gRPC status (connect failure,
 * connection lost, HTTP error, reset). */
#define MESH__GRPC_TRANSPORT_ERROR (-1)

typedef struct mesh__grpc_cbs {
  /* The HTTP/2 connection is up and the request headers are out. */
  void (*on_open)(void *ud);
  /* One complete message. */
  void (*on_message)(void *ud, const uint8_t *data, size_t len);
  /* The stream is over: a gRPC status (0 = OK) or MESH__GRPC_TRANSPORT_ERROR,
   * with a readable reason. Called once; nothing is called after it. */
  void (*on_close)(void *ud, int status, const char *reason);
} mesh__grpc_cbs;

typedef struct mesh__grpc_opts {
  const char *host;          /* name or IP literal */
  uint16_t port;
  const char *unix_path;     /* connect to this Unix socket instead (host is then the :authority) */
  const char *authority;     /* :authority; host:port when NULL */
  const char *path;          /* "/service/Method" */
  size_t max_message;        /* bound on one received message */
  uint32_t keepalive_ms;     /* HTTP/2 PING interval, and the time its ACK may take; 0 = none */
  uint32_t connect_timeout_ms;
} mesh__grpc_opts;

/* Start connecting. NULL on out of memory or a refused argument (reason in
 * err); otherwise failures arrive through on_close. dns may be NULL. */
mesh__grpc *mesh__grpc_open(struct event_base *base, struct evdns_base *dns, const mesh__grpc_opts *o,
                            const mesh__grpc_cbs *cbs, void *ud, char *err, size_t errlen);
/* Queue one message (copied). 0, or -1 when the stream is closed or memory
 * is short. Messages queued before on_open go out once connected. */
int mesh__grpc_send(mesh__grpc *g, const uint8_t *data, size_t len);
/* Close without calling on_close. NULL is fine. */
void mesh__grpc_free(mesh__grpc *g);

#endif
