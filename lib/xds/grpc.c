/* A gRPC bidirectional stream over h2c (see grpc.h). */
#include "xds/grpc.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Receive windows: one big xDS response (100k endpoints are a few MB)
 * should not stall on window updates. */
#define GRPC_STREAM_WINDOW (8 << 20)
#define GRPC_CONN_WINDOW (16 << 20)

struct mesh__grpc {
  struct event_base *base;
  struct bufferevent *bev;
  nghttp2_session *h2;
  mesh__grpc_cbs cbs;
  void *ud;
  mesh__grpc_opts o;
  char *host, *authority, *path;
  int32_t stream_id;
  int opened;          /* on_open called */
  int closed;          /* on_close called */
  int in_recv;         /* inside nghttp2_session_mem_recv */
  int want_flush;
  int local_end;       /* we ended our side */
  struct evbuffer *out; /* framed messages waiting for the data provider */
  struct evbuffer *in;  /* received DATA not yet a full message */
  int http_status;
  int grpc_status;     /* -1 until seen */
  char grpc_message[256];
  struct event *ping_ev;
  struct event *fail_ev;
  uint64_t pings_unacked;
  char reason[256];
};

static void grpc_fail(mesh__grpc *g, int status, const char *reason) {
  if (g->closed) return;
  g->closed = 1;
  if (g->ping_ev) event_del(g->ping_ev);
  if (g->bev) bufferevent_disable(g->bev, EV_READ | EV_WRITE);
  if (g->cbs.on_close) g->cbs.on_close(g->ud, status, reason);
}

static void flush(mesh__grpc *g) {
  if (g->closed || !g->h2) return;
  if (g->in_recv) {
    g->want_flush = 1;
    return;
  }
  int rv = nghttp2_session_send(g->h2);
  if (rv != 0) {
    char why[128];
    snprintf(why, sizeof why, "HTTP/2: %s", nghttp2_strerror(rv));
    grpc_fail(g, MESH__GRPC_TRANSPORT_ERROR, why);
    return;
  }
  if (!nghttp2_session_want_read(g->h2) && !nghttp2_session_want_write(g->h2) &&
      evbuffer_get_length(bufferevent_get_output(g->bev)) == 0)
    grpc_fail(g, MESH__GRPC_TRANSPORT_ERROR, "connection closed (HTTP/2 connection over)");
}

static ssize_t cb_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud) {
  mesh__grpc *g = ud;
  (void)s;
  (void)flags;
  if (bufferevent_write(g->bev, data, len) != 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
  return (ssize_t)len;
}

/* Deliver every complete message in g->in. 0, or -1 after failing. */
static int drain_messages(mesh__grpc *g) {
  for (;;) {
    size_t have = evbuffer_get_length(g->in);
    if (have < 5) return 0;
    uint8_t hdr[5];
    evbuffer_copyout(g->in, hdr, 5);
    uint32_t n = (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 8 | hdr[4];
    if (hdr[0] != 0) {
      /* We never send grpc-accept-encoding, so a compressed message is a
       * protocol error (PROTOCOL-HTTP2.md "Compressed-Flag"). */
      grpc_fail(g, MESH__GRPC_TRANSPORT_ERROR, "compressed gRPC message, but no compression was offered");
      return -1;
    }
    if (n > g->o.max_message) {
      char why[128];
      snprintf(why, sizeof why, "gRPC message of %u bytes exceeds the bound of %zu", n, g->o.max_message);
      grpc_fail(g, MESH__GRPC_TRANSPORT_ERROR, why);
      return -1;
    }
    if (have < 5 + (size_t)n) return 0;
    evbuffer_drain(g->in, 5);
    uint8_t *p = evbuffer_pullup(g->in, n);
    if (!p && n) {
      grpc_fail(g, MESH__GRPC_TRANSPORT_ERROR, "out of memory");
      return -1;
    }
    if (g->cbs.on_message) g->cbs.on_message(g->ud, p, n);
    if (g->closed) return -1;
    evbuffer_drain(g->in, n);
  }
}

static int cb_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud) {
  mesh__grpc *g = ud;
  (void)s;
  (void)flags;
  if (id != g->stream_id || g->closed) return 0;
  if (evbuffer_add(g->in, data, len) != 0) {
    grpc_fail(g, MESH__GRPC_TRANSPORT_ERROR, "out of memory");
    return 0;
  }
  drain_messages(g);
  return 0;
}

static int cb_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                     const uint8_t *value, size_t vl, uint8_t flags, void *ud) {
  mesh__grpc *g = ud;
  (void)s;
  (void)flags;
  if (f->hd.stream_id != g->stream_id) return 0;
  if (nl == 7 && !memcmp(name, ":status", 7)) {
    g->http_status = atoi((const char *)value); /* nghttp2 checked it is 3 digits */
  } else if (nl == 11 && !memcmp(name, "grpc-status", 11)) {
    int st = 0;
    for (size_t i = 0; i < vl && i < 4; i++) st = value[i] >= '0' && value[i] <= '9' ? st * 10 + (value[i] - '0') : 2;
    g->grpc_status = st;
  } else if (nl == 12 && !memcmp(name, "grpc-message", 12)) {
    /* Percent-encoded (PROTOCOL-HTTP2.md); decode what is well formed. */
    size_t o = 0;
    for (size_t i = 0; i < vl && o + 1 < sizeof g->grpc_message; i++) {
      char c = (char)value[i];
      if (c == '%' && i + 2 < vl) {
        char hx[3] = {(char)value[i + 1], (char)value[i + 2], 0};
        char *end;
        long v = strtol(hx, &end, 16);
        if (*end == 0) {
          c = (char)v;
          i += 2;
        }
      }
      g->grpc_message[o++] = c;
    }
    g->grpc_message[o] = 0;
  }
  return 0;
}

static void report_end(mesh__grpc *g, uint32_t code) {
  if (g->grpc_status >= 0) {
    char why[320];
    snprintf(why, sizeof why, "stream ended with grpc-status %d%s%s", g->grpc_status,
             g->grpc_message[0] ? ": " : "", g->grpc_message);
    grpc_fail(g, g->grpc_status, why);
  } else if (g->reason[0]) {
    grpc_fail(g, MESH__GRPC_TRANSPORT_ERROR, g->reason);
  } else {
    char why[128];
    snprintf(why, sizeof why, "stream closed without a gRPC status (HTTP/2 %s)", nghttp2_http2_strerror(code));
    grpc_fail(g, MESH__GRPC_TRANSPORT_ERROR, why);
  }
}

static int cb_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  mesh__grpc *g = ud;
  (void)s;
  if (f->hd.type == NGHTTP2_PING && (f->hd.flags & NGHTTP2_FLAG_ACK)) g->pings_unacked = 0;
  if (f->hd.stream_id != g->stream_id || g->closed) return 0;
  if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_RESPONSE && g->http_status != 200 &&
      g->grpc_status < 0) {
    /* Not a gRPC server (a proxy's error page, a wrong port). */
    snprintf(g->reason, sizeof g->reason, "HTTP status %d from the xDS server", g->http_status);
    nghttp2_submit_rst_stream(g->h2, NGHTTP2_FLAG_NONE, g->stream_id, NGHTTP2_CANCEL);
    return 0;
  }
  if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    /* The server is done (trailers, or a trailers-only response): so is
     * the call, whatever our side still had to say. */
    nghttp2_submit_rst_stream(g->h2, NGHTTP2_FLAG_NONE, g->stream_id, NGHTTP2_NO_ERROR);
    report_end(g, NGHTTP2_NO_ERROR);
  }
  return 0;
}

static int cb_stream_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud) {
  mesh__grpc *g = ud;
  (void)s;
  if (id != g->stream_id) return 0;
  report_end(g, code);
  return 0;
}

/* The request body: whatever messages are queued; DEFERRED when none. */
static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *ud) {
  mesh__grpc *g = ud;
  (void)s;
  (void)id;
  (void)src;
  size_t have = evbuffer_get_length(g->out);
  if (have == 0) {
    if (g->local_end) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      return 0;
    }
    return NGHTTP2_ERR_DEFERRED;
  }
  if (len > have) len = have;
  return evbuffer_remove(g->out, buf, len);
}

static void on_read(struct bufferevent *bev, void *arg) {
  mesh__grpc *g = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  g->in_recv = 1;
  while (!g->closed && evbuffer_get_length(in) > 0) {
    struct evbuffer_iovec v;
    if (evbuffer_peek(in, -1, NULL, &v, 1) < 1) break;
    ssize_t n = nghttp2_session_mem_recv(g->h2, v.iov_base, v.iov_len);
    if (n < 0) {
      char why[128];
      snprintf(why, sizeof why, "HTTP/2: %s", nghttp2_strerror((int)n));
      g->in_recv = 0;
      grpc_fail(g, MESH__GRPC_TRANSPORT_ERROR, why);
      return;
    }
    evbuffer_drain(in, (size_t)n);
  }
  g->in_recv = 0;
  g->want_flush = 0;
  flush(g);
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
  mesh__grpc *g = arg;
  (void)bev;
  if (what & BEV_EVENT_CONNECTED) {
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 16},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, GRPC_STREAM_WINDOW},
                                   {NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
    nghttp2_submit_settings(g->h2, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
    nghttp2_session_set_local_window_size(g->h2, NGHTTP2_FLAG_NONE, 0, GRPC_CONN_WINDOW);
    char port[8];
    snprintf(port, sizeof port, "%u", g->o.port);
    nghttp2_nv hdrs[] = {
        {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":path", (uint8_t *)g->path, 5, strlen(g->path), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":authority", (uint8_t *)g->authority, 10, strlen(g->authority), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"te", (uint8_t *)"trailers", 2, 8, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"user-agent", (uint8_t *)"libmesh-xds", 10, 11, NGHTTP2_NV_FLAG_NONE},
    };
    nghttp2_data_provider dp = {.source = {.ptr = NULL}, .read_callback = read_body};
    g->stream_id = nghttp2_submit_request(g->h2, NULL, hdrs, sizeof hdrs / sizeof hdrs[0], &dp, g);
    if (g->stream_id < 0) {
      grpc_fail(g, MESH__GRPC_TRANSPORT_ERROR, "could not start the HTTP/2 stream");
      return;
    }
    if (g->ping_ev) {
      struct timeval tv = {g->o.keepalive_ms / 1000, (g->o.keepalive_ms % 1000) * 1000};
      event_add(g->ping_ev, &tv);
    }
    bufferevent_set_timeouts(g->bev, NULL, NULL);
    g->opened = 1;
    flush(g);
    if (!g->closed && g->cbs.on_open) g->cbs.on_open(g->ud);
    return;
  }
  if (what & BEV_EVENT_TIMEOUT) {
    grpc_fail(g, MESH__GRPC_TRANSPORT_ERROR, g->opened ? "connection timed out" : "connect timed out");
    return;
  }
  char why[160];
  if (what & BEV_EVENT_EOF) snprintf(why, sizeof why, "connection closed by the xDS server");
  else {
    int e = EVUTIL_SOCKET_ERROR();
    int dnserr = bufferevent_socket_get_dns_error(g->bev);
    if (dnserr) snprintf(why, sizeof why, "cannot resolve %s: %s", g->host, evutil_gai_strerror(dnserr));
    else if (g->o.unix_path)
      snprintf(why, sizeof why, "%s unix:%s: %s", g->opened ? "connection to" : "cannot connect to", g->o.unix_path,
               evutil_socket_error_to_string(e));
    else snprintf(why, sizeof why, "%s %s:%u: %s", g->opened ? "connection to" : "cannot connect to", g->host,
                  g->o.port, evutil_socket_error_to_string(e));
  }
  grpc_fail(g, MESH__GRPC_TRANSPORT_ERROR, why);
}

/* HTTP/2 keepalive (RFC 9113 §6.7): one PING per interval; an interval
 * without the previous PING's ACK means the path is dead. */
static void on_ping(evutil_socket_t fd, short what, void *arg) {
  mesh__grpc *g = arg;
  (void)fd;
  (void)what;
  if (g->closed) return;
  if (g->pings_unacked) {
    grpc_fail(g, MESH__GRPC_TRANSPORT_ERROR, "keepalive: no PING acknowledgement from the xDS server");
    return;
  }
  nghttp2_submit_ping(g->h2, NGHTTP2_FLAG_NONE, NULL);
  g->pings_unacked = 1;
  flush(g);
  struct timeval tv = {g->o.keepalive_ms / 1000, (g->o.keepalive_ms % 1000) * 1000};
  if (!g->closed) event_add(g->ping_ev, &tv);
}

static void on_connect_refused(evutil_socket_t fd, short what, void *arg) {
  mesh__grpc *g = arg;
  (void)fd;
  (void)what;
  grpc_fail(g, MESH__GRPC_TRANSPORT_ERROR, g->reason);
}

mesh__grpc *mesh__grpc_open(struct event_base *base, struct evdns_base *dns, const mesh__grpc_opts *o,
                            const mesh__grpc_cbs *cbs, void *ud, char *err, size_t errlen) {
  if (!o->host || !*o->host || !o->path || (o->port == 0 && !o->unix_path)) {
    snprintf(err, errlen, "gRPC: host, port and path are required");
    return NULL;
  }
  mesh__grpc *g = calloc(1, sizeof *g);
  if (!g) goto oom;
  g->base = base;
  g->cbs = *cbs;
  g->ud = ud;
  g->o = *o;
  g->grpc_status = -1;
  if (!g->o.max_message) g->o.max_message = 4u << 20;
  g->host = strdup(o->host);
  g->path = strdup(o->path);
  if (o->authority) g->authority = strdup(o->authority);
  else if (o->unix_path) g->authority = strdup(o->host);
  else if ((g->authority = malloc(strlen(o->host) + 16)))
    sprintf(g->authority, strchr(o->host, ':') ? "[%s]:%u" : "%s:%u", o->host, o->port);
  g->out = evbuffer_new();
  g->in = evbuffer_new();
  if (!g->host || !g->path || !g->authority || !g->out || !g->in) goto oom;
  nghttp2_session_callbacks *cb;
  if (nghttp2_session_callbacks_new(&cb)) goto oom;
  nghttp2_session_callbacks_set_send_callback(cb, cb_send);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, cb_data_chunk);
  nghttp2_session_callbacks_set_on_header_callback(cb, cb_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, cb_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, cb_stream_close);
  int rv = nghttp2_session_client_new(&g->h2, cb, g);
  nghttp2_session_callbacks_del(cb);
  if (rv) goto oom;
  g->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
  if (!g->bev) goto oom;
  if (o->keepalive_ms && !(g->ping_ev = evtimer_new(base, on_ping, g))) goto oom;
  bufferevent_setcb(g->bev, on_read, NULL, on_event, g);
  bufferevent_enable(g->bev, EV_READ | EV_WRITE);
  uint32_t ct = o->connect_timeout_ms ? o->connect_timeout_ms : 20000;
  struct timeval tv = {ct / 1000, (ct % 1000) * 1000};
  bufferevent_set_timeouts(g->bev, &tv, &tv);
  /* Failures (including DNS) are reported through on_event. */
  if (!(g->fail_ev = evtimer_new(base, on_connect_refused, g))) goto oom;
  int crc;
  if (o->unix_path) {
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", o->unix_path);
    crc = bufferevent_socket_connect(g->bev, (struct sockaddr *)&sun, sizeof sun);
  } else {
    crc = bufferevent_socket_connect_hostname(g->bev, dns, AF_UNSPEC, g->host, o->port);
  }
  if (crc != 0 && !g->closed) {
    /* Reported as every other failure: from the loop, never from here. */
    if (o->unix_path) snprintf(g->reason, sizeof g->reason, "cannot connect to unix:%s", o->unix_path);
    else snprintf(g->reason, sizeof g->reason, "cannot connect to %s:%u", g->host, o->port);
    struct timeval now = {0, 0};
    event_add(g->fail_ev, &now);
  }
  return g;
oom:
  snprintf(err, errlen, "out of memory");
  mesh__grpc_free(g);
  return NULL;
}

int mesh__grpc_send(mesh__grpc *g, const uint8_t *data, size_t len) {
  if (!g || g->closed || g->local_end || len > 0xffffffffu) return -1;
  uint8_t hdr[5] = {0, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
  if (evbuffer_add(g->out, hdr, 5) || evbuffer_add(g->out, data, len)) return -1;
  if (g->stream_id > 0) {
    nghttp2_session_resume_data(g->h2, g->stream_id);
    flush(g);
  }
  return 0;
}

void mesh__grpc_free(mesh__grpc *g) {
  if (!g) return;
  if (g->ping_ev) event_free(g->ping_ev);
  if (g->fail_ev) event_free(g->fail_ev);
  if (g->bev) bufferevent_free(g->bev);
  if (g->h2) nghttp2_session_del(g->h2);
  if (g->out) evbuffer_free(g->out);
  if (g->in) evbuffer_free(g->in);
  free(g->host);
  free(g->path);
  free(g->authority);
  free(g);
}
