#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/transport.h"

int mesh__sock_connect(const struct sockaddr *addr, unsigned addrlen) {
  int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  /* Requests are small and latency-bound: never wait for Nagle. */
  if (addr->sa_family == AF_INET || addr->sa_family == AF_INET6)
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, addr, addrlen) < 0 && errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

int mesh__sock_connect_result(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
  return err;
}

static int plain_handshake(void *ctx, int fd) {
  (void)ctx;
  (void)fd;
  return 0;
}

static ssize_t plain_recv(void *ctx, int fd, void *buf, size_t len) {
  (void)ctx;
  for (;;) {
    ssize_t n = recv(fd, buf, len, 0);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return MESH__IO_AGAIN;
    return MESH__IO_ERROR;
  }
}

static ssize_t plain_sendv(void *ctx, int fd, const struct iovec *iov, int iovcnt) {
  (void)ctx;
  struct msghdr msg = {0};
  msg.msg_iov = (struct iovec *)iov;
  msg.msg_iovlen = (size_t)iovcnt;
  for (;;) {
    /* MSG_NOSIGNAL: a closed peer is an error, not a SIGPIPE for the app. */
    ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return MESH__IO_AGAIN;
    return MESH__IO_ERROR;
  }
}

static void plain_free(void *ctx) { (void)ctx; }

const mesh__transport_ops mesh__transport_plain = {
    "tcp", plain_handshake, plain_recv, plain_sendv, plain_free,
};
