/* The transport seam: how a connection moves bytes over its socket.
 * Plain TCP today; TLS (mbedTLS) slots in as another set of ops without
 * touching pools or codecs. recv/send return bytes moved, 0 for EOF (recv),
 * or a negative MESH__IO_* code. */
#ifndef MESH_IO_TRANSPORT_H
#define MESH_IO_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

enum {
  MESH__IO_AGAIN = -1,      /* would block */
  MESH__IO_ERROR = -2,      /* connection broken (errno kept) */
  MESH__IO_WANT_READ = -3,  /* handshake needs readability */
  MESH__IO_WANT_WRITE = -4  /* handshake needs writability */
};

typedef struct mesh__transport_ops {
  const char *name;
  /* Called once the TCP connect completed; 0 when ready, or WANT_*. */
  int (*handshake)(void *ctx, int fd);
  ssize_t (*recv)(void *ctx, int fd, void *buf, size_t len);
  ssize_t (*sendv)(void *ctx, int fd, const struct iovec *iov, int iovcnt);
  void (*free)(void *ctx);
} mesh__transport_ops;

extern const mesh__transport_ops mesh__transport_plain;

/* Socket helpers (io/sock.c). */
struct sockaddr;
/* A non-blocking TCP socket connecting to addr: fd >= 0 (connect may be in
 * progress) or -errno. */
int mesh__sock_connect(const struct sockaddr *addr, unsigned addrlen);
/* 0 if the pending connect succeeded, else the errno. */
int mesh__sock_connect_result(int fd);

#endif
