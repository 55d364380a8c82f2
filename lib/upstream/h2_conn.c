/* HTTP/2 on an upstream connection (RFC 9113) over nghttp2: cleartext
 * with prior knowledge (§3.3), many calls multiplexed as streams, up to
 * the peer's SETTINGS_MAX_CONCURRENT_STREAMS. */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <string.h>

#include "upstream/pool.h"
#include "util/str.h"

/* Our receive windows: large enough that window updates are rare. */
#define H2_STREAM_WINDOW (1 << 20)
#define H2_CONN_WINDOW (16 << 20)

static mesh__call *stream_call(nghttp2_session *s, int32_t id) {
  return id > 0 ? nghttp2_session_get_stream_user_data(s, id) : NULL;
}

/* Record the first error of a call; it completes when its stream closes. */
static void call_fail_later(nghttp2_session *s, mesh__call *c, int err, const char *why) {
  if (c->resp.error == MESH_OK) {
    c->resp.error = err;
    snprintf(c->resp.detail, sizeof c->resp.detail, "%s", why);
  }
  nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, c->stream_id, NGHTTP2_CANCEL);
}

/* Look the stream's call up once per HEADERS frame, not once per field. */
static int h2_on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  mesh__conn *cn = ud;
  cn->h2_hstream = f->hd.stream_id;
  /* Only a response's HEADERS (a PUSH_PROMISE is not ours: push is off). */
  cn->h2_hcall = f->hd.type == NGHTTP2_HEADERS ? stream_call(s, f->hd.stream_id) : NULL;
  /* A HEADERS frame after the final response headers carries trailers. */
  cn->h2_htrailers = cn->h2_hcall && f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_HEADERS &&
                     cn->h2_hcall->resp.nheaders_done;
  return 0;
}

/* The response's :status: 100..999, or -1. Three digits is the rule
 * (RFC 9110 §15); anything else goes through the general parser. */
static int parse_status(const uint8_t *v, size_t n) {
  unsigned long long st;
  if (n == 3 && v[0] >= '1' && v[0] <= '9' && v[1] >= '0' && v[1] <= '9' && v[2] >= '0' && v[2] <= '9')
    return (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
  if (mesh__parse_u64((const char *)v, n, 999, &st) || st < 100) return -1;
  return (int)st;
}

static int h2_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                        const uint8_t *value, size_t vl, uint8_t flags, void *ud) {
  mesh__conn *cn = ud;
  /* on_begin_headers named the frame's call (NULL: none, or detached). */
  mesh__call *c = cn->h2_hstream == f->hd.stream_id ? cn->h2_hcall : NULL;
  (void)flags;
  if (!c || c->resp.error) return 0;
  if (nl > 0 && name[0] == ':') {
    if (nl != 7 || memcmp(name, ":status", 7) != 0) return 0;
    int st = parse_status(value, vl);
    if (st < 0) {
      call_fail_later(s, c, MESH_EPROTOCOL, "bad :status from upstream");
      return 0;
    }
    /* 1xx: informational, its fields are dropped (RFC 9113 §8.1). */
    if (st >= 200) {
      c->resp.status = st;
      c->resp.in_trailers = 0;
    }
    return 0;
  }
  if (c->resp.status == 0) return 0; /* fields of a 1xx */
  c->resp.in_trailers = cn->h2_htrailers;
  int rc = mesh__response_add_field(&c->resp, (const char *)name, nl, (const char *)value, vl,
                                    /* nghttp2 enforces lower-case names (RFC 9113 §8.2.1) */
                                    cn->h2_max_header_bytes, 0);
  if (rc == MESH_ETOOLARGE) call_fail_later(s, c, rc, "response headers exceed the configured bound");
  else if (rc) call_fail_later(s, c, rc, "out of memory reading the response");
  return 0;
}

static int h2_on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  mesh__conn *cn = ud;
  if (f->hd.type == NGHTTP2_GOAWAY) {
    /* No new streams here; streams above last_stream_id are closed by
     * nghttp2 with REFUSED_STREAM. */
    cn->h2_goaway = 1;
    return 0;
  }
  mesh__call *c = stream_call(s, f->hd.stream_id);
  if (!c) return 0;
  if (f->hd.type == NGHTTP2_HEADERS && c->resp.status >= 200) c->resp.nheaders_done = 1;
  if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
      (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
    c->h2_end = 1;
  return 0;
}

static int h2_on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                      void *ud) {
  mesh__conn *cn = ud;
  mesh__call *c = stream_call(s, id);
  (void)flags;
  if (!c || c->resp.error) return 0;
  if (c->resp.body.len + len > mesh__conn_opts(cn)->max_body_bytes) {
    call_fail_later(s, c, MESH_ETOOLARGE, "response body exceeds the configured bound");
    return 0;
  }
  if (mesh__buf_append(&c->resp.body, data, len))
    call_fail_later(s, c, MESH_ENOMEM, "out of memory reading the response");
  return 0;
}

static void unbind(mesh__conn *cn, mesh__call *c) {
  mesh__list_remove(&c->link);
  cn->h2_active--;
  c->conn = NULL;
  c->pool = NULL;
  if (cn->h2_active == 0) mesh__conn_check_idle(cn);
}

static int h2_on_stream_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud) {
  mesh__conn *cn = ud;
  mesh__call *c = stream_call(s, id);
  if (!c) return 0;
  nghttp2_session_set_stream_user_data(s, id, NULL);
  if (cn->h2_hstream == id) cn->h2_hcall = NULL;
  unbind(cn, c);
  if (c->resp.error) {
    int err = c->resp.error;
    c->resp.error = MESH_OK;
    mesh__call_finish(c, err, "%s", c->resp.detail);
  } else if (code != NGHTTP2_NO_ERROR) {
    /* Refused streams were never processed (RFC 9113 §8.7): safe to retry. */
    c->refused = code == NGHTTP2_REFUSED_STREAM;
    mesh__call_finish(c, MESH_ERESET, "upstream reset the stream (%s)", nghttp2_http2_strerror(code));
  } else if (!c->h2_end || c->resp.status == 0) {
    mesh__call_finish(c, MESH_ERESET, "upstream closed the stream before the response ended");
  } else {
    mesh__call_finish(c, MESH_OK, NULL);
  }
  return 0;
}

static ssize_t h2_read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                            nghttp2_data_source *src, void *ud) {
  mesh__call *c = stream_call(s, id);
  (void)src;
  (void)ud;
  if (!c) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  size_t left = c->req.body.len - c->body_off;
  if (len > left) len = left;
  memcpy(buf, mesh__buf_head(&c->req.body) + c->body_off, len);
  c->body_off += len;
  if (c->body_off == c->req.body.len) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)len;
}

static int h2_start(mesh__conn *cn) {
  nghttp2_session_callbacks *cbs;
  nghttp2_option *opt;
  if (nghttp2_session_callbacks_new(&cbs)) return -1;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, h2_on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, h2_on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, h2_on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, h2_on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, h2_on_stream_close);
  if (nghttp2_option_new(&opt)) {
    nghttp2_session_callbacks_del(cbs);
    return -1;
  }
  /* Header bytes are bounded in h2_on_header (and advertised in our
   * SETTINGS_MAX_HEADER_LIST_SIZE); nghttp2 bounds a single field. */
  nghttp2_option_set_no_auto_window_update(opt, 0);
  cn->h2_max_header_bytes = mesh__conn_opts(cn)->max_header_bytes;
  int rc = nghttp2_session_client_new2(&cn->h2, cbs, cn, opt);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_option_del(opt);
  if (rc) return -1;
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, mesh__conn_opts(cn)->max_header_bytes},
  };
  if (nghttp2_submit_settings(cn->h2, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0])) return -1;
  if (nghttp2_session_set_local_window_size(cn->h2, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW)) return -1;
  return 0;
}

#define NV(n, nl, v, vl) \
  { (uint8_t *)(n), (uint8_t *)(v), (nl), (vl), NGHTTP2_NV_FLAG_NONE }
/* A static name: nghttp2 need not copy it. */
#define NVS(n, nl, v, vl) \
  { (uint8_t *)(n), (uint8_t *)(v), (nl), (vl), NGHTTP2_NV_FLAG_NO_COPY_NAME }

static int h2_submit(mesh__conn *cn, mesh__call *c) {
  const mesh__req *r = &c->req;
  nghttp2_nv stack[32];
  nghttp2_nv *nva = stack;
  size_t n = 4 + r->headers.n;
  if (n > sizeof stack / sizeof stack[0]) {
    nva = malloc(n * sizeof *nva);
    if (!nva) return -1;
  }
  nva[0] = (nghttp2_nv)NVS(":method", 7, mesh__req_str(r, r->method), r->method_len);
  nva[1] = (nghttp2_nv)NVS(":scheme", 7, "http", 4);
  nva[2] = (nghttp2_nv)NVS(":authority", 10, mesh__req_str(r, r->authority), r->authority_len);
  nva[3] = (nghttp2_nv)NVS(":path", 5, mesh__req_str(r, r->path), r->path_len);
  for (uint32_t i = 0; i < r->headers.n; i++) {
    const char *hn = mesh__req_str(r, r->headers.v[i].name), *hv = mesh__req_str(r, r->headers.v[i].value);
    nva[4 + i] = (nghttp2_nv)NV(hn, strlen(hn), hv, strlen(hv));
  }
  nghttp2_data_provider dp = {{0}, h2_read_body};
  c->body_off = 0;
  c->h2_end = 0;
  int32_t id = nghttp2_submit_request(cn->h2, NULL, nva, n, r->body.len ? &dp : NULL, c);
  if (nva != stack) free(nva);
  if (id < 0) return -1;
  c->stream_id = id;
  c->resp.protocol = MESH_PROTOCOL_HTTP2;
  mesh__list_push_back(&cn->h2_calls, &c->link);
  cn->h2_active++;
  mesh__conn_want_flush(cn);
  return 0;
}

static int h2_flush(mesh__conn *cn) {
  for (;;) {
    const uint8_t *data;
    ssize_t n = nghttp2_session_mem_send(cn->h2, &data);
    if (n < 0) {
      mesh__conn_close(cn, MESH_EPROTOCOL, nghttp2_strerror((int)n));
      return -1;
    }
    if (n == 0) break;
    if (mesh__conn_write(cn, data, (size_t)n)) {
      mesh__conn_close(cn, MESH_ENOMEM, "out of memory framing requests");
      return -1;
    }
  }
  if (!nghttp2_session_want_read(cn->h2) && !nghttp2_session_want_write(cn->h2) && cn->out.len == 0) {
    /* GOAWAY exchanged and every stream done: nothing more to do here. */
    mesh__conn_close(cn, MESH_ERESET, "upstream ended the connection (GOAWAY)");
    return -1;
  }
  return 0;
}

static int h2_feed(mesh__conn *cn, const char *p, size_t n) {
  ssize_t rc = nghttp2_session_mem_recv(cn->h2, (const uint8_t *)p, n);
  if (rc < 0) {
    char why[128];
    snprintf(why, sizeof why, "HTTP/2 protocol error from upstream: %s", nghttp2_strerror((int)rc));
    mesh__conn_close(cn, MESH_EPROTOCOL, why);
    return -1;
  }
  mesh__conn_want_flush(cn);
  /* Streams that closed made room for waiting calls. */
  if (cn->pool->npending > 0) mesh__pool_dispatch(cn->pool);
  return 0;
}

static void h2_detach(mesh__conn *cn, mesh__call *c) {
  nghttp2_session_set_stream_user_data(cn->h2, c->stream_id, NULL);
  if (cn->h2_hstream == c->stream_id) cn->h2_hcall = NULL;
  nghttp2_submit_rst_stream(cn->h2, NGHTTP2_FLAG_NONE, c->stream_id, NGHTTP2_CANCEL);
  unbind(cn, c);
  mesh__conn_want_flush(cn);
}

static uint32_t h2_capacity(mesh__conn *cn) {
  if (!cn->h2 || cn->h2_goaway) return 0;
  /* Client stream ids are odd and end at 2^31-1 (RFC 9113 §5.1.1). */
  if (nghttp2_session_get_next_stream_id(cn->h2) > 0x7fffff00) return 0;
  uint32_t max = nghttp2_session_get_remote_settings(cn->h2, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  return cn->h2_active < max ? max - cn->h2_active : 0;
}

static void h2_closed(mesh__conn *cn, int err, const char *why) {
  mesh__list *n;
  while ((n = mesh__list_pop_front(&cn->h2_calls))) {
    mesh__call *c = MESH__CONTAINER(n, mesh__call, link);
    if (cn->h2) nghttp2_session_set_stream_user_data(cn->h2, c->stream_id, NULL);
    if (cn->h2_hstream == c->stream_id) cn->h2_hcall = NULL;
    cn->h2_active--;
    c->conn = NULL;
    c->pool = NULL;
    /* A response that ended before the connection did is complete. */
    if (c->h2_end && c->resp.status >= 200 && !c->resp.error) mesh__call_finish(c, MESH_OK, NULL);
    else mesh__call_finish(c, err ? err : MESH_ERESET, "%s", why);
  }
}

static void h2_free(mesh__conn *cn) {
  if (cn->h2) nghttp2_session_del(cn->h2);
  cn->h2 = NULL;
}

const mesh__codec mesh__codec_h2 = {
    MESH_PROTOCOL_HTTP2, h2_start, h2_submit, h2_feed, h2_flush, h2_detach, h2_capacity, h2_closed, h2_free,
};
