/* HTTP/1.1 on an upstream connection (RFC 9112): one exchange at a time,
 * keep-alive reuse, no pipelining. */
#include <stdio.h>
#include <string.h>

#include "upstream/pool.h"
#include "util/str.h"

enum { H1_ABORT_TOOLARGE = -10, H1_ABORT_NOMEM = -11 };

static int h1_on_status(void *ud, int status) {
  mesh__conn *cn = ud;
  if (cn->h1_call && status >= 200) cn->h1_call->resp.status = status;
  return 0;
}

static int h1_on_field(mesh__conn *cn, int trailer, const char *n, size_t nl, const char *v, size_t vl) {
  mesh__call *c = cn->h1_call;
  if (!c) return 0;
  c->resp.in_trailers = trailer;
  int rc = mesh__response_add_field(&c->resp, n, nl, v, vl, mesh__conn_opts(cn)->max_header_bytes, 1);
  if (rc == MESH_ETOOLARGE) return H1_ABORT_TOOLARGE;
  return rc ? H1_ABORT_NOMEM : 0;
}

static int h1_on_header(void *ud, const char *n, size_t nl, const char *v, size_t vl) {
  return h1_on_field(ud, 0, n, nl, v, vl);
}

static int h1_on_trailer(void *ud, const char *n, size_t nl, const char *v, size_t vl) {
  return h1_on_field(ud, 1, n, nl, v, vl);
}

static int h1_on_body(void *ud, const char *p, size_t n) {
  mesh__conn *cn = ud;
  mesh__call *c = cn->h1_call;
  if (!c) return 0;
  if (c->resp.body.len + n > mesh__conn_opts(cn)->max_body_bytes) return H1_ABORT_TOOLARGE;
  return mesh__buf_append(&c->resp.body, p, n) ? H1_ABORT_NOMEM : 0;
}

static int h1_on_complete(void *ud, int keep_alive) {
  mesh__conn *cn = ud;
  mesh__call *c = cn->h1_call;
  cn->h1_call = NULL;
  cn->h1_keepalive = (uint8_t)keep_alive;
  if (c) {
    c->conn = NULL;
    c->pool = NULL;
    mesh__call_finish(c, MESH_OK, NULL);
  }
  return 0;
}

static const mesh__h1_callbacks h1_callbacks = {
    h1_on_status, h1_on_header, NULL, h1_on_body, h1_on_trailer, h1_on_complete,
};

static int h1_start(mesh__conn *cn) {
  mesh__h1_parser_init(&cn->h1, &h1_callbacks, cn, mesh__conn_opts(cn)->max_header_bytes);
  cn->h1_keepalive = 1;
  mesh__conn_idle(cn);
  return 0;
}

static int method_has_body(const char *m) {
  return !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH");
}

static int h1_submit(mesh__conn *cn, mesh__call *c) {
  const mesh__req *r = &c->req;
  mesh__buf *o = &cn->out;
  const char *method = mesh__req_str(r, r->method);
  int rc = 0;
  rc |= mesh__buf_append_str(o, method);
  rc |= mesh__buf_append(o, " ", 1);
  rc |= mesh__buf_append_str(o, mesh__req_str(r, r->path));
  rc |= mesh__buf_append(o, " HTTP/1.1\r\nHost: ", 17);
  rc |= mesh__buf_append_str(o, mesh__req_str(r, r->authority));
  rc |= mesh__buf_append(o, "\r\n", 2);
  for (uint32_t i = 0; i < r->headers.n; i++) {
    rc |= mesh__buf_append_str(o, mesh__req_str(r, r->headers.v[i].name));
    rc |= mesh__buf_append(o, ": ", 2);
    rc |= mesh__buf_append_str(o, mesh__req_str(r, r->headers.v[i].value));
    rc |= mesh__buf_append(o, "\r\n", 2);
  }
  if (r->body.len > 0 || method_has_body(method)) {
    char cl[48];
    int n = snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", r->body.len);
    rc |= mesh__buf_append(o, cl, (size_t)n);
  }
  rc |= mesh__buf_append(o, "\r\n", 2);
  rc |= mesh__buf_append(o, mesh__buf_head(&r->body), r->body.len);
  if (rc) return -1;
  cn->h1_call = c;
  c->resp.protocol = MESH_PROTOCOL_HTTP1;
  mesh__h1_parser_expect(&cn->h1, r->head);
  mesh__conn_want_flush(cn);
  return 0;
}

static int h1_feed(mesh__conn *cn, const char *p, size_t n) {
  while (n > 0) {
    if (!cn->h1_call) {
      mesh__conn_close(cn, MESH_EPROTOCOL, "upstream sent bytes with no request outstanding");
      return -1;
    }
    ssize_t used = mesh__h1_parser_feed(&cn->h1, p, n);
    if (used < 0) {
      int err = MESH_EPROTOCOL;
      const char *why = "malformed HTTP/1.1 response";
      if (used == H1_ABORT_TOOLARGE || used == MESH__H1_ETOOBIG) {
        err = MESH_ETOOLARGE;
        why = "response exceeds the configured size bound";
      } else if (used == H1_ABORT_NOMEM || used == MESH__H1_ENOMEM) {
        err = MESH_ENOMEM;
        why = "out of memory reading the response";
      }
      mesh__conn_close(cn, err, why);
      return -1;
    }
    p += used;
    n -= (size_t)used;
    if (!cn->h1_call) {
      /* The exchange completed. */
      if (!cn->h1_keepalive) {
        mesh__conn_close(cn, MESH_OK, "connection: close");
        return -1;
      }
      if (n > 0) {
        mesh__conn_close(cn, MESH_EPROTOCOL, "upstream sent bytes after the response");
        return -1;
      }
      mesh__conn_idle(cn);
    }
  }
  return 0;
}

static void h1_detach(mesh__conn *cn, mesh__call *c) {
  if (cn->h1_call != c) return;
  /* HTTP/1.1 cannot abandon an exchange and keep the connection. */
  cn->h1_call = NULL;
  mesh__conn_close(cn, MESH_ECANCELED, "call abandoned");
}

static uint32_t h1_capacity(mesh__conn *cn) { return cn->h1_call ? 0 : 1; }

static void h1_closed(mesh__conn *cn, int err, const char *why) {
  mesh__call *c = cn->h1_call;
  if (!c) return;
  cn->h1_call = NULL;
  /* A clean EOF completes a body delimited by the close (RFC 9112 §6.3). */
  if (cn->peer_eof) {
    cn->h1_call = c;
    int rc = mesh__h1_parser_eof(&cn->h1);
    if (rc == 0 && !cn->h1_call) return; /* on_complete finished it */
    cn->h1_call = NULL;
  }
  c->conn = NULL;
  c->pool = NULL;
  mesh__call_finish(c, err ? err : MESH_ERESET, "%s", why);
}

static void h1_free(mesh__conn *cn) { mesh__h1_parser_free(&cn->h1); }

const mesh__codec mesh__codec_h1 = {
    MESH_PROTOCOL_HTTP1, h1_start, h1_submit, h1_feed, NULL, h1_detach, h1_capacity, h1_closed, h1_free,
};
