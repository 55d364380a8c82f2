/*
 * HTTP/2 (RFC 9113) with prior knowledge, on top of nghttp2.
 *
 * Input: conn_read_cb() reads up to 64 KiB and hands it to
 * nghttp2_session_mem_recv() (h2_recv).  Output: h2_pump() drains
 * nghttp2_session_mem_send() into c->out up to the high-water mark, and
 * conn_flush() writes it with one writev per batch.
 *
 * Each stream has a struct request as nghttp2 stream user data; it is
 * released in on_stream_close (or with the connection).
 */
#include "upstream.h"

#include <string.h>

static nghttp2_session_callbacks *callbacks;
static nghttp2_option *options;

static struct request *stream_req(nghttp2_session *s, int32_t id)
{
	return nghttp2_session_get_stream_user_data(s, id);
}

static void list_add(struct conn *c, struct request *r)
{
	r->prev = NULL;
	r->next = c->reqs;
	if (c->reqs)
		c->reqs->prev = r;
	c->reqs = r;
}

static void list_del(struct conn *c, struct request *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		c->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
}

static void ref_set_rc(struct hdr_ref *h, nghttp2_rcbuf *name, nghttp2_rcbuf *value)
{
	nghttp2_vec n = nghttp2_rcbuf_get_buf(name);
	nghttp2_vec v = nghttp2_rcbuf_get_buf(value);

	if (h->rn)
		nghttp2_rcbuf_decref(h->rn);
	if (h->rv)
		nghttp2_rcbuf_decref(h->rv);
	nghttp2_rcbuf_incref(name);
	nghttp2_rcbuf_incref(value);
	h->rn = name;
	h->rv = value;
	h->name = n.base;
	h->nlen = n.len;
	h->val = v.base;
	h->vlen = v.len;
}

static bool name_is(nghttp2_vec n, const char *lit)
{
	size_t ln = strlen(lit);
	return n.len == ln && memcmp(n.base, lit, ln) == 0;
}

/* ---- response ------------------------------------------------------------ */

/* DATA source: produces the planned body, then ends the stream, sends
 * trailers, stalls or resets, as the plan says. */
static ssize_t read_body_cb(nghttp2_session *s, int32_t id, uint8_t *buf,
                            size_t length, uint32_t *flags,
                            nghttp2_data_source *src, void *ud)
{
	struct request *r = src->ptr;
	const struct plan *p = &r->plan;
	uint64_t limit = p->send_body ? p->send_limit : 0;
	size_t n = 0;

	(void)ud;
	if (r->sent >= limit) {
		if (p->stall)
			return NGHTTP2_ERR_DEFERRED; /* never resumed */
		if (p->reset == RESET_AFTER_HEADERS || p->reset == RESET_MID_BODY)
			/* nghttp2 answers this with RST_STREAM(INTERNAL_ERROR). */
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	} else {
		uint64_t left = limit - r->sent;
		n = left < length ? (size_t)left : length;
		switch (p->src) {
		case BODY_FILL:
			for (size_t off = 0; off < n; off += UP_FILL_CHUNK) {
				size_t k = n - off < UP_FILL_CHUNK ? n - off : UP_FILL_CHUNK;
				memcpy(buf + off, up_fill_x, k);
			}
			break;
		case BODY_ECHO:
			evbuffer_remove(r->body, buf, n);
			break;
		case BODY_TEXT:
			memcpy(buf, r->text + r->sent, n);
			break;
		}
		r->sent += n;
		if (r->sent < limit || p->stall || p->reset != RESET_NONE)
			return (ssize_t)n;
	}

	*flags |= NGHTTP2_DATA_FLAG_EOF;
	if (p->trailer) {
		/* Trailers end the stream instead (RFC 9113 8.1). */
		static uint8_t tname[] = "x-trailer", tval[] = "done";
		static const nghttp2_nv tr[] = { {
			tname, tval, sizeof(tname) - 1, sizeof(tval) - 1,
			NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE } };
		if (nghttp2_submit_trailer(s, id, tr, 1) == 0)
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
	}
	return (ssize_t)n;
}

static void h2_respond(struct request *r)
{
	struct conn *c = r->conn;
	const struct plan *p = &r->plan;
	struct hdr_scratch s;
	int n;

	if (p->reset == RESET_CONN) {
		conn_reset_hard(c);
		return;
	}
	if (p->reset == RESET_NOW) {
		nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, r->stream_id,
		                          NGHTTP2_INTERNAL_ERROR);
		return;
	}
	n = build_resp_headers(r, &s, p->content_length, false);
	if (n < 0) {
		nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, r->stream_id,
		                          NGHTTP2_INTERNAL_ERROR);
		return;
	}
	bool need_data = p->stall || p->reset == RESET_AFTER_HEADERS ||
	                 p->reset == RESET_MID_BODY ||
	                 (p->send_body && (p->body_len > 0 || p->trailer));
	nghttp2_data_provider dp = { .source.ptr = r, .read_callback = read_body_cb };
	if (nghttp2_submit_response(c->h2, r->stream_id, c->nv, (size_t)n,
	                            need_data ? &dp : NULL) != 0) {
		nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, r->stream_id,
		                          NGHTTP2_INTERNAL_ERROR);
		return;
	}
	r->headers_sent = true;
}

static void h2_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct request *r = arg;
	struct conn *c = r->conn;

	(void)fd;
	(void)what;
	h2_respond(r);
	conn_flush(c);
	conn_finish(c);
}

/* The request (headers + body) is complete. */
static void h2_request_complete(struct request *r)
{
	if (r->complete)
		return;
	r->complete = true;
	G.stats.requests++;
	plan_request(r, true);
	if (r->keep_body && r->body_bytes > UP_MAX_BODY_BYTES)
		plan_error(r, 413, "request body too large", false);
	if (r->plan.delay_ms) {
		if (!req_arm_timer(r, h2_timer_cb))
			nghttp2_submit_rst_stream(r->conn->h2, NGHTTP2_FLAG_NONE,
			                          r->stream_id, NGHTTP2_INTERNAL_ERROR);
		return;
	}
	h2_respond(r);
}

/* ---- nghttp2 callbacks ----------------------------------------------------- */

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct conn *c = ud;
	struct request *r;

	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	r = req_alloc(c);
	if (!r)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	r->stream_id = f->hd.stream_id;
	list_add(c, r);
	nghttp2_session_set_stream_user_data(s, f->hd.stream_id, r);
	return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f,
                     nghttp2_rcbuf *name, nghttp2_rcbuf *value, uint8_t flags,
                     void *ud)
{
	struct request *r;
	nghttp2_vec n;

	(void)flags;
	(void)ud;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0; /* request trailers are ignored */
	r = stream_req(s, f->hd.stream_id);
	if (!r)
		return 0;
	n = nghttp2_rcbuf_get_buf(name);
	if (n.len > 0 && n.base[0] == ':') {
		if (name_is(n, ":method"))
			ref_set_rc(&r->method, name, value);
		else if (name_is(n, ":path"))
			ref_set_rc(&r->path, name, value);
		else if (name_is(n, ":authority"))
			ref_set_rc(&r->authority, name, value);
	} else if (name_is(n, "host")) {
		/* RFC 9113 8.3.1: :authority wins over Host. */
		if (!r->authority.rv)
			ref_set_rc(&r->authority, name, value);
	} else if ((n.len >= 7 && memcmp(n.base, "x-echo-", 7) == 0) || name_is(n, "x-envoy-attempt-count")) {
		/* Names are lower case in h2 (RFC 9113 8.2.1). */
		if (r->n_echo == r->cap_echo) {
			size_t cap = r->cap_echo ? r->cap_echo * 2 : 8;
			struct hdr_ref *e = realloc(r->echo, cap * sizeof(*e));
			if (!e)
				return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
			r->echo = e;
			r->cap_echo = cap;
		}
		struct hdr_ref *h = &r->echo[r->n_echo++];
		memset(h, 0, sizeof(*h));
		ref_set_rc(h, name, value);
	}
	return 0;
}

/* Request header section complete: parse options now so DATA knows
 * whether to keep the body. */
static void on_request_headers(struct request *r)
{
	if (r->planned)
		return;
	r->planned = true;
	if (req_opts_parse(r->path.val, r->path.vlen, &r->opts, r->text,
	                   sizeof(r->text)) < 0)
		r->bad_opts = true;
	r->keep_body = r->opts.echo && !r->bad_opts;
	if (r->keep_body && !r->body && !(r->body = evbuffer_new()))
		r->keep_body = false;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct request *r;

	(void)ud;
	if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
		return 0;
	r = stream_req(s, f->hd.stream_id);
	if (!r)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
		on_request_headers(r);
	if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
		h2_request_complete(r);
	return 0;
}

static int on_data_chunk_recv(nghttp2_session *s, uint8_t flags, int32_t id,
                              const uint8_t *data, size_t len, void *ud)
{
	struct request *r = stream_req(s, id);

	(void)flags;
	(void)ud;
	if (!r)
		return 0;
	r->body_bytes += len;
	if (r->keep_body && r->body_bytes <= UP_MAX_BODY_BYTES)
		evbuffer_add(r->body, data, len);
	return 0;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct conn *c = ud;
	struct request *r;

	/* goaway=1: once this response is complete, GOAWAY(NO_ERROR) and close
	 * (RFC 9113 6.8). */
	if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
	    !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	r = stream_req(s, f->hd.stream_id);
	if (r && r->plan.goaway)
		c->goaway_wanted = true;
	return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t err, void *ud)
{
	struct conn *c = ud;
	struct request *r = stream_req(s, id);

	(void)err;
	if (!r)
		return 0;
	nghttp2_session_set_stream_user_data(s, id, NULL);
	list_del(c, r);
	req_release(r);
	return 0;
}

static int init_globals(void)
{
	if (callbacks)
		return 0;
	if (nghttp2_session_callbacks_new(&callbacks) != 0)
		return -1;
	nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback2(callbacks, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks,
	                                                          on_data_chunk_recv);
	nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, on_frame_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);

	if (nghttp2_option_new(&options) != 0)
		return -1;
	/* header_bytes=N may exceed nghttp2's 64 KiB default. */
	nghttp2_option_set_max_send_header_block_length(options,
	                                                4 * UP_MAX_HEADER_BYTES);
	nghttp2_option_set_no_closed_streams(options, 1);
#if NGHTTP2_VERSION_NUM >= 0x013900
	/* Benchmarks may cancel many streams; do not treat that as an attack. */
	nghttp2_option_set_stream_reset_rate_limit(options, UINT64_MAX, UINT64_MAX);
#endif
	return 0;
}

/* ---- driver ---------------------------------------------------------------- */

int h2_start(struct conn *c)
{
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, UP_H2_MAX_STREAMS },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, UP_H2_WINDOW },
	};
	size_t len;
	int rc;

	c->proto = PROTO_H2;
	if (init_globals() != 0 ||
	    nghttp2_session_server_new2(&c->h2, callbacks, c, options) != 0)
		return -1;
	/* Server preface: SETTINGS (RFC 9113 3.4), then widen the connection
	 * window, which SETTINGS cannot do (6.9.2). */
	if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv,
	                            sizeof(iv) / sizeof(iv[0])) != 0 ||
	    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0,
	                                          UP_H2_WINDOW) != 0)
		return -1;

	/* Feed what protocol detection buffered (starts with the preface). */
	len = evbuffer_get_length(c->in);
	rc = h2_recv(c, evbuffer_pullup(c->in, (ev_ssize_t)len), len);
	evbuffer_drain(c->in, len);
	return rc;
}

int h2_recv(struct conn *c, const uint8_t *data, size_t len)
{
	ssize_t rv = nghttp2_session_mem_recv(c->h2, data, len);
	return rv < 0 ? -1 : 0;
}

void h2_pump(struct conn *c)
{
	while (evbuffer_get_length(c->out) < UP_OUT_HIGH_WATER) {
		const uint8_t *data;
		ssize_t n;

		if (c->goaway_wanted && !c->goaway_submitted) {
			c->goaway_submitted = true;
			nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
		}
		n = nghttp2_session_mem_send(c->h2, &data);
		if (n < 0) {
			conn_kill(c);
			return;
		}
		if (n == 0)
			break;
		evbuffer_add(c->out, data, (size_t)n);
	}
	/* Session finished (GOAWAY exchanged or fatal error answered). */
	if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2))
		conn_after_flush(c, AF_LINGER);
}

void h2_free(struct conn *c)
{
	while (c->reqs) {
		struct request *r = c->reqs;
		list_del(c, r);
		req_release(r);
	}
	if (c->h2) {
		nghttp2_session_del(c->h2);
		c->h2 = NULL;
	}
}

void h2_global_free(void)
{
	if (callbacks)
		nghttp2_session_callbacks_del(callbacks);
	if (options)
		nghttp2_option_del(options);
	callbacks = NULL;
	options = NULL;
}
