/* One upstream connection: socket, transport, events, output buffer. The
 * codec (HTTP/1.1 or HTTP/2) turns calls into bytes and bytes into
 * responses; this file only moves bytes and handles the lifecycle. */
#include <errno.h>
#include <event2/event.h>
#include <sys/time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "upstream/pool.h"

#define MESH__READ_CHUNK (64 * 1024)
#define MESH__OUT_KEEP (64 * 1024)

static void conn_free(mesh__conn *cn);

const mesh__opts *mesh__conn_opts(const mesh__conn *cn) { return &cn->pool->m->opts; }

/* Write out cn->out; 0 when all of it went or the socket is full (write
 * readiness is then armed), -1 when the connection broke. */
static int conn_send_out(mesh__conn *cn) {
  while (cn->out.len > 0) {
    struct iovec iov = {(void *)mesh__buf_head(&cn->out), cn->out.len};
    ssize_t n = cn->tp->sendv(cn->tp_ctx, cn->fd, &iov, 1);
    if (n == MESH__IO_AGAIN) {
      event_add(cn->wev, NULL);
      return 0;
    }
    if (n < 0) return -1;
    mesh__buf_consume(&cn->out, (size_t)n);
  }
  if (cn->out.cap > MESH__OUT_KEEP) mesh__buf_reset(&cn->out, MESH__OUT_KEEP);
  return 0;
}

/* Let the codec emit what it has and push it to the socket. */
static int conn_flush_now(mesh__conn *cn) {
  cn->want_flush = 0;
  if (cn->state != MESH__CONN_READY) return 0;
  if (cn->codec->flush && cn->codec->flush(cn) < 0) return -1;
  return conn_send_out(cn);
}

int mesh__conn_write(mesh__conn *cn, const void *p, size_t n) {
  return mesh__buf_append(&cn->out, p, n);
}

/* Output is flushed once per loop turn, after every call submitted in
 * this turn has been framed: one syscall carries many requests. Inside
 * our own read handler the flush at its end covers it. */
void mesh__conn_want_flush(mesh__conn *cn) {
  struct mesh *m = cn->pool->m;
  if (cn->want_flush) return;
  cn->want_flush = 1;
  if (cn->in_io) return;
  if (m->depth > 0) mesh__list_push_back(&m->flushq, &cn->flush_link);
  else event_active(cn->flush_ev, EV_WRITE, 0);
}

void mesh__flush_all(struct mesh *m) {
  mesh__list *n;
  while ((n = mesh__list_pop_front(&m->flushq))) {
    mesh__conn *cn = MESH__CONTAINER(n, mesh__conn, flush_link);
    if (!cn->want_flush) continue;
    cn->in_io = 1;
    if (conn_flush_now(cn) < 0) mesh__conn_close(cn, MESH_ERESET, "write to upstream failed");
    cn->in_io = 0;
    if (cn->dead) conn_free(cn);
  }
}

static void conn_on_flush(evutil_socket_t fd, short what, void *arg) {
  mesh__conn *cn = arg;
  struct mesh *m = cn->pool->m;
  (void)fd;
  (void)what;
  if (!cn->want_flush) return;
  mesh__enter(m);
  cn->in_io = 1;
  if (conn_flush_now(cn) < 0) mesh__conn_close(cn, MESH_ERESET, "write to upstream failed");
  cn->in_io = 0;
  if (cn->dead) conn_free(cn);
  mesh__leave(m);
}

static void conn_ready(mesh__conn *cn) {
  mesh__pool *p = cn->pool;
  cn->state = MESH__CONN_READY;
  p->nconnecting--;
  if (cn->timer) event_del(cn->timer);
  event_add(cn->rev, NULL);
  if (cn->codec->start(cn) < 0) {
    /* Treated as a failed connect: the waiting calls end, no redial. */
    cn->state = MESH__CONN_HANDSHAKE;
    p->nconnecting++;
    mesh__conn_close(cn, MESH_ENOMEM, "could not start the protocol session");
    return;
  }
  mesh__pool_dispatch(p);
  mesh__conn_want_flush(cn);
  mesh__conn_check_idle(cn);
}

static void conn_on_read(mesh__conn *cn) {
  char buf[MESH__READ_CHUNK];
  /* Read a bounded number of chunks per wakeup so one busy connection
   * cannot starve the loop. */
  for (int i = 0; i < 4 && cn->state == MESH__CONN_READY; i++) {
    ssize_t n = cn->tp->recv(cn->tp_ctx, cn->fd, buf, sizeof buf);
    if (n == MESH__IO_AGAIN) break;
    if (n == 0) {
      cn->peer_eof = 1;
      mesh__conn_close(cn, MESH_ERESET, "upstream closed the connection");
      return;
    }
    if (n < 0) {
      mesh__conn_close(cn, MESH_ERESET, "upstream connection broke");
      return;
    }
    if (cn->codec->feed(cn, buf, (size_t)n) < 0) return; /* the codec closed it */
    if ((size_t)n < sizeof buf) break;
  }
}

static void conn_on_io(evutil_socket_t fd, short what, void *arg) {
  mesh__conn *cn = arg;
  struct mesh *m = cn->pool->m;
  (void)fd;
  mesh__enter(m);
  cn->in_io = 1;
  if (cn->state == MESH__CONN_CONNECTING && (what & EV_WRITE)) {
    int err = mesh__sock_connect_result(cn->fd);
    if (err) {
      mesh__conn_close(cn, MESH_ECONNECT, strerror(err));
    } else {
      int h = cn->tp->handshake(cn->tp_ctx, cn->fd);
      if (h == 0) conn_ready(cn);
      else cn->state = MESH__CONN_HANDSHAKE; /* TLS arrives here later */
    }
  } else if (cn->state == MESH__CONN_READY) {
    if (what & EV_READ) conn_on_read(cn);
    if ((what & EV_WRITE) && cn->state == MESH__CONN_READY) cn->want_flush = 1;
  }
  /* Output goes out at leave(), after the completions of this read have
   * run: their callbacks' next calls share the same write. */
  if (cn->state == MESH__CONN_READY && cn->want_flush && !mesh__list_linked(&cn->flush_link))
    mesh__list_push_back(&m->flushq, &cn->flush_link);
  cn->in_io = 0;
  if (cn->dead) conn_free(cn);
  mesh__leave(m);
}

static int conn_is_idle(const mesh__conn *cn) {
  if (cn->state != MESH__CONN_READY) return 0;
  return cn->codec == &mesh__codec_h2 ? cn->h2_active == 0 : mesh__list_linked(&cn->idle_link);
}

static void conn_arm_idle(mesh__conn *cn) {
  uint64_t ms = cn->pool->idle_timeout_ms;
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
  cn->used = 0;
  cn->idle_armed = 1;
  event_add(cn->timer, &tv);
}

/* The idle timeout closes a connection that carried no call for between
 * one and two idle_timeout periods: calls only mark the connection used,
 * so a busy connection costs no timer operation per call. */
void mesh__conn_check_idle(mesh__conn *cn) {
  if (!cn->idle_armed && cn->pool->idle_timeout_ms && conn_is_idle(cn)) conn_arm_idle(cn);
}

static void conn_on_timer(evutil_socket_t fd, short what, void *arg) {
  mesh__conn *cn = arg;
  struct mesh *m = cn->pool->m;
  (void)fd;
  (void)what;
  mesh__enter(m);
  if (cn->state != MESH__CONN_READY) {
    mesh__conn_close(cn, MESH_ECONNECT_TIMEOUT, "connect timeout");
  } else {
    cn->idle_armed = 0;
    if (conn_is_idle(cn) && !cn->used) {
      mesh__stat_add(m->stats, MESH__ST_CX_IDLE_TIMEOUT, 1);
      mesh__conn_close(cn, MESH_OK, "idle timeout");
    } else if (conn_is_idle(cn)) {
      conn_arm_idle(cn);
    }
  }
  mesh__leave(m);
}

mesh__conn *mesh__conn_open(mesh__pool *p, const mesh__codec *codec);
mesh__conn *mesh__conn_open(mesh__pool *p, const mesh__codec *codec) {
  struct mesh *m = p->m;
  mesh__conn *cn = calloc(1, sizeof *cn);
  if (!cn) return NULL;
  cn->pool = p;
  cn->codec = codec;
  cn->tp = &mesh__transport_plain;
  cn->id = ++m->next_conn_id;
  mesh__list_init(&cn->idle_link);
  mesh__list_init(&cn->flush_link);
  mesh__list_init(&cn->h2_calls);
  cn->fd = mesh__sock_connect((const struct sockaddr *)&p->addr, (unsigned)p->addrlen);
  if (cn->fd < 0) {
    mesh__log(&m->opts.log, MESH_LOG_WARN, "connect to %s:%u: %s", p->host, p->port,
              strerror(-cn->fd));
    free(cn);
    return NULL;
  }
  cn->rev = event_new(m->base, cn->fd, EV_READ | EV_PERSIST, conn_on_io, cn);
  cn->wev = event_new(m->base, cn->fd, EV_WRITE, conn_on_io, cn);
  cn->flush_ev = event_new(m->base, -1, 0, conn_on_flush, cn);
  cn->timer = evtimer_new(m->base, conn_on_timer, cn);
  if (!cn->rev || !cn->wev || !cn->flush_ev || !cn->timer) {
    cn->state = MESH__CONN_CLOSED;
    conn_free(cn);
    return NULL;
  }
  uint32_t cto = p->connect_timeout_ms ? p->connect_timeout_ms : m->opts.connect_timeout_ms;
  struct timeval tv = {cto / 1000, (cto % 1000) * 1000};
  event_add(cn->timer, &tv);
  event_add(cn->wev, NULL);
  cn->state = MESH__CONN_CONNECTING;
  mesh__list_push_back(&p->conns, &cn->link);
  p->nconns++;
  p->nconnecting++;
  if ((cn->cbs = p->cbs)) cn->cbs->n[0].cx++;
  return cn;
}

void mesh__conn_idle(mesh__conn *cn) {
  if (cn->state != MESH__CONN_READY) return;
  if (!mesh__list_linked(&cn->idle_link)) mesh__list_push_back(&cn->pool->idle, &cn->idle_link);
  mesh__pool_dispatch(cn->pool);
  mesh__conn_check_idle(cn);
}

static void conn_free(mesh__conn *cn) {
  if (cn->rev) event_free(cn->rev);
  if (cn->wev) event_free(cn->wev);
  if (cn->flush_ev) event_free(cn->flush_ev);
  if (cn->timer) event_free(cn->timer);
  if (cn->codec && cn->codec->free) cn->codec->free(cn);
  if (cn->tp && cn->tp->free) cn->tp->free(cn->tp_ctx);
  if (cn->fd >= 0) close(cn->fd);
  mesh__buf_free(&cn->out);
  free(cn);
}

/* Close a connection: its bound calls fail with err, pending calls of the
 * pool get another chance. Safe from inside the connection's own
 * handlers (the memory is freed when they unwind). */
void mesh__conn_close(mesh__conn *cn, int err, const char *why) {
  if (cn->state == MESH__CONN_CLOSED) return;
  mesh__pool *p = cn->pool;
  int was_connecting = cn->state == MESH__CONN_CONNECTING || cn->state == MESH__CONN_HANDSHAKE;
  cn->state = MESH__CONN_CLOSED;
  mesh__list_remove(&cn->link);
  mesh__list_remove(&cn->idle_link);
  mesh__list_remove(&cn->flush_link);
  p->nconns--;
  if (was_connecting) p->nconnecting--;
  if (cn->cbs) cn->cbs->n[0].cx--;
  cn->cbs = NULL;
  event_del(cn->rev);
  event_del(cn->wev);
  event_del(cn->flush_ev);
  event_del(cn->timer);
  cn->codec->closed(cn, err, why);
  if (was_connecting) {
    mesh__log(&p->m->opts.log, MESH_LOG_WARN, "upstream %s:%u: %s", p->host, p->port, why);
    /* The endpoint refused us: fail the calls waiting for it rather than
     * dial it again for them (retry policy decides on re-dispatch). */
    {
      mesh__list *n;
      while ((n = mesh__list_pop_front(&p->pending))) {
        mesh__call *c = MESH__CONTAINER(n, mesh__call, link);
        p->npending--;
        mesh__pending_left(c);
        c->pool = NULL;
        mesh__call_finish(c, err, "upstream %s:%u: %s", p->host, p->port, why);
      }
    }
  }
  if (cn->in_io) cn->dead = 1;
  else conn_free(cn);
  if (!p->m->closing) mesh__pool_dispatch(p);
}
