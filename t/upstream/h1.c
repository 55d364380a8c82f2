/*
 * HTTP/1.1 (RFC 9112) for the test upstream.
 *
 * One request is handled at a time; pipelined requests wait in c->in until
 * the current response is finished.  State machine (c->h1.state):
 *
 *   H1_HEAD -> H1_BODY -> (dispatch) -> H1_RESPOND -> H1_HEAD ...
 *                                    -> H1_STALLED           (stall=1)
 *   any     -> H1_DONE  (connection is closing; input is discarded)
 */
#include "upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#define CHUNK_LINE_MAX   4096u   /* chunk-size line incl. extensions */
#define TRAILER_LINE_MAX 8192u

static const char CONTINUE_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

/* ---- small helpers ---------------------------------------------------- */

/* RFC 9110 5.6.2 tchar. */
static bool is_tchar(unsigned char ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9'))
		return true;
	return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static bool is_token(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)s[i]))
			return false;
	return true;
}

static bool ieq(const char *s, size_t n, const char *lit)
{
	size_t ln = strlen(lit);
	return n == ln && strncasecmp(s, lit, ln) == 0;
}

static bool iprefix(const char *s, size_t n, const char *lit)
{
	size_t ln = strlen(lit);
	return n >= ln && strncasecmp(s, lit, ln) == 0;
}

static void trim_ows(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

static void ref_set(struct hdr_ref *h, const char *v, size_t n)
{
	h->val = (const uint8_t *)v;
	h->vlen = n;
}

static bool add_echo(struct request *r, const char *name, size_t nlen,
                     const char *val, size_t vlen)
{
	if (r->n_echo == r->cap_echo) {
		size_t cap = r->cap_echo ? r->cap_echo * 2 : 8;
		struct hdr_ref *e = realloc(r->echo, cap * sizeof(*e));
		if (!e)
			return false;
		r->echo = e;
		r->cap_echo = cap;
	}
	struct hdr_ref *h = &r->echo[r->n_echo++];
	memset(h, 0, sizeof(*h));
	h->name = (const uint8_t *)name;
	h->nlen = nlen;
	h->val = (const uint8_t *)val;
	h->vlen = vlen;
	return true;
}

/* Iterate comma-separated list elements (RFC 9110 5.6.1). */
static bool list_has(const char *v, size_t n, const char *tok, bool last_only)
{
	bool found = false;

	while (n) {
		const char *comma = memchr(v, ',', n);
		size_t en = comma ? (size_t)(comma - v) : n;
		const char *e = v;
		size_t el = en;
		trim_ows(&e, &el);
		if (el) /* empty elements are ignored */
			found = ieq(e, el, tok) ? true : (last_only ? false : found);
		if (!comma)
			break;
		v = comma + 1;
		n -= en + 1;
	}
	return found;
}

/* ---- responses -------------------------------------------------------- */

static void out_add(struct conn *c, const void *p, size_t n)
{
	evbuffer_add(c->out, p, n);
}

static void h1_write_head(struct conn *c, struct request *r)
{
	const struct plan *p = &r->plan;
	struct h1_state_s *h = &c->h1;
	struct hdr_scratch s;
	char line[96];
	int n = build_resp_headers(r, &s, p->content_length, true);

	if (n < 0) {
		conn_kill(c);
		return;
	}
	int ln = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", p->status,
	                  reason_phrase(p->status));

	/* Assemble in one piece when small (the common case), else append. */
	size_t total = (size_t)ln + 128;
	for (int i = 1; i < n; i++)
		total += c->nv[i].namelen + c->nv[i].valuelen + 4;
	char stackbuf[4096];
	char *buf = total <= sizeof(stackbuf) ? stackbuf : NULL;
	size_t off = 0;

#define PUT(ptr, len)                                         \
	do {                                                      \
		if ((len) == 0) {                                     \
		} else if (buf) {                                     \
			memcpy(buf + off, (ptr), (len));                  \
			off += (len);                                     \
		} else {                                              \
			out_add(c, (ptr), (len));                         \
		}                                                     \
	} while (0)
#define PUTS(lit) PUT(lit, sizeof(lit) - 1)

	if (!buf)
		evbuffer_expand(c->out, total);
	PUT(line, (size_t)ln);
	for (int i = 1; i < n; i++) {
		PUT(c->nv[i].name, c->nv[i].namelen);
		PUTS(": ");
		PUT(c->nv[i].value, c->nv[i].valuelen);
		PUTS("\r\n");
	}
	h->resp_chunked = p->chunked;
	if (p->chunked) {
		/* RFC 9112 7.1; announce the trailer field (RFC 9110 6.6.2). */
		PUTS("transfer-encoding: chunked\r\n");
		if (p->trailer)
			PUTS("trailer: x-trailer\r\n");
	}
	if (p->close)
		PUTS("connection: close\r\n");
	else if (h->http10)
		PUTS("connection: keep-alive\r\n");
	PUTS("\r\n");
	if (buf)
		out_add(c, buf, off);
#undef PUTS
#undef PUT
	r->headers_sent = true;
}

/* Append n body bytes from the plan's source. */
static void h1_add_body(struct conn *c, struct request *r, size_t n)
{
	switch (r->plan.src) {
	case BODY_FILL:
		if (n < 1024)
			evbuffer_add(c->out, up_fill_x, n);
		else
			evbuffer_add_reference(c->out, up_fill_x, n, NULL, NULL);
		break;
	case BODY_ECHO:
		evbuffer_remove_buffer(r->body, c->out, n);
		break;
	case BODY_TEXT:
		evbuffer_add(c->out, r->text + r->sent, n);
		break;
	}
}

/* The current exchange is over. */
static void h1_response_done(struct conn *c)
{
	struct request *r = c->cur;
	bool close = r->plan.close;

	req_release(r);
	c->cur = NULL;
	if (close) {
		c->h1.state = H1_DONE;
		conn_after_flush(c, AF_LINGER);
	} else {
		c->h1.state = H1_HEAD;
	}
}

/* Produce body output up to the high-water mark.  Returns true when the
 * state changed (response finished or connection closing). */
static bool h1_fill(struct conn *c)
{
	struct request *r = c->cur;
	const struct plan *p = &r->plan;
	uint64_t limit = p->send_body ? p->send_limit : 0;
	bool chunked = c->h1.resp_chunked;

	if (!r->headers_sent)
		return false; /* still waiting for delay_ms */

	while (r->sent < limit && evbuffer_get_length(c->out) < UP_OUT_HIGH_WATER) {
		uint64_t left = limit - r->sent;
		size_t max = chunked ? UP_H1_CHUNK : UP_FILL_CHUNK;
		size_t n = left < max ? (size_t)left : max;
		if (chunked) {
			char sz[24];
			int ln = snprintf(sz, sizeof(sz), "%zx\r\n", n);
			out_add(c, sz, (size_t)ln);
		}
		h1_add_body(c, r, n);
		if (chunked)
			out_add(c, "\r\n", 2);
		r->sent += n;
	}
	if (r->sent < limit)
		return false;

	if (p->reset == RESET_AFTER_HEADERS || p->reset == RESET_MID_BODY) {
		/* Truncate the message: close once the partial response is out. */
		c->h1.state = H1_DONE;
		conn_after_flush(c, AF_ABORT);
		return true;
	}
	if (chunked && p->send_body) {
		/* last-chunk, trailer section, final CRLF (RFC 9112 7.1) */
		if (p->trailer)
			out_add(c, "0\r\nx-trailer: done\r\n\r\n", 23);
		else
			out_add(c, "0\r\n\r\n", 5);
	}
	h1_response_done(c);
	return true;
}

/* Act on the plan once any delay has elapsed. */
static void h1_begin_response(struct conn *c)
{
	struct request *r = c->cur;

	if (r->plan.reset == RESET_CONN) {
		c->h1.state = H1_DONE;
		conn_reset_hard(c);
		return;
	}
	if (r->plan.reset == RESET_NOW) {
		/* No response at all: flush earlier responses, then shut down. */
		c->h1.state = H1_DONE;
		conn_after_flush(c, AF_ABORT);
		return;
	}
	h1_write_head(c, r);
	if (c->dead)
		return;
	c->h1.state = r->plan.stall ? H1_STALLED : H1_RESPOND;
}

static void h1_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct request *r = arg;
	struct conn *c = r->conn;

	(void)fd;
	(void)what;
	h1_begin_response(c);
	conn_flush(c);
	conn_finish(c);
}

/* Error response (400/413/431/505) and close (RFC 9112 9.6). */
static void h1_fail(struct conn *c, int status, const char *msg)
{
	struct request *r = c->cur;

	if (!r) {
		r = req_alloc(c);
		if (!r) {
			conn_kill(c);
			return;
		}
		c->cur = r;
	}
	plan_error(r, status, msg, true);
	h1_write_head(c, r);
	c->h1.state = H1_RESPOND;
}

/* The request is complete: decide what to do, then do it (possibly later). */
static void h1_dispatch(struct conn *c)
{
	struct request *r = c->cur;
	struct plan *p = &r->plan;

	r->complete = true;
	G.stats.requests++;
	plan_request(r, false);
	if (!c->h1.keepalive)
		p->close = true;
	if (c->h1.http10 && p->chunked) {
		/* RFC 9112 6.1: no Transfer-Encoding towards HTTP/1.0. */
		p->chunked = false;
		p->trailer = false;
		p->content_length = p->status != 204 && p->status != 304;
	}
	if (p->delay_ms) {
		c->h1.state = H1_RESPOND;
		if (!req_arm_timer(r, h1_timer_cb))
			conn_kill(c);
		return;
	}
	h1_begin_response(c);
}

/* ---- request parsing ---------------------------------------------------- */

/* Find the end of the head: the first empty line (CRLF CRLF, or bare LF
 * line ends as RFC 9112 2.2 permits).  *end is the head length. */
static bool h1_find_head_end(struct conn *c, size_t *end)
{
	struct h1_state_s *h = &c->h1;
	size_t len = evbuffer_get_length(c->in);
	size_t look = len < UP_MAX_HEAD_BYTES ? len : UP_MAX_HEAD_BYTES;
	const char *p = (const char *)evbuffer_pullup(c->in, (ev_ssize_t)look);
	size_t i = h->scan_from;

	while (i < look) {
		const char *nl = memchr(p + i, '\n', look - i);
		if (!nl)
			break;
		size_t k = (size_t)(nl - p);
		if (k + 1 < look && p[k + 1] == '\n') {
			*end = k + 2;
			return true;
		}
		if (k + 2 < look && p[k + 1] == '\r' && p[k + 2] == '\n') {
			*end = k + 3;
			return true;
		}
		i = k + 1;
	}
	h->scan_from = look >= 2 ? look - 2 : 0;
	return false;
}

/* Next line of the head copy; strips CR LF.  Returns false at the end. */
static bool next_line(char **pos, char *end, char **line, size_t *len)
{
	char *nl;

	if (*pos >= end)
		return false;
	nl = memchr(*pos, '\n', (size_t)(end - *pos));
	if (!nl)
		nl = end;
	*line = *pos;
	*len = (size_t)(nl - *pos);
	if (*len && (*line)[*len - 1] == '\r')
		(*len)--;
	*pos = nl + 1;
	return true;
}

struct h1_head_info {
	bool has_cl, has_te, te_chunked, conn_close, conn_keepalive, has_host;
	uint64_t cl;
};

/* Request line (RFC 9112 3): method SP request-target SP HTTP-version. */
static int parse_request_line(struct conn *c, struct request *r, char *l,
                              size_t n)
{
	char *sp1 = memchr(l, ' ', n);
	if (!sp1)
		return 400;
	char *t = sp1 + 1;
	char *sp2 = memchr(t, ' ', n - (size_t)(t - l));
	if (!sp2)
		return 400;
	char *v = sp2 + 1;
	size_t vn = n - (size_t)(v - l), tn = (size_t)(sp2 - t);

	if (!is_token(l, (size_t)(sp1 - l)) || tn == 0)
		return 400;
	for (size_t i = 0; i < tn; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] == 0x7f)
			return 400;
	if (vn == 8 && !memcmp(v, "HTTP/1.1", 8))
		c->h1.http10 = false;
	else if (vn == 8 && !memcmp(v, "HTTP/1.0", 8))
		c->h1.http10 = true;
	else if (vn > 5 && !memcmp(v, "HTTP/", 5))
		return 505;
	else
		return 400;

	ref_set(&r->method, l, (size_t)(sp1 - l));
	/* absolute-form (RFC 9112 3.2.2): authority comes from the target. */
	if (iprefix(t, tn, "http://") || iprefix(t, tn, "https://")) {
		char *a = (char *)memchr(t, '/', tn) + 2;
		char *ae = a;
		while (ae < t + tn && *ae != '/' && *ae != '?')
			ae++;
		ref_set(&r->authority, a, (size_t)(ae - a));
		if (ae < t + tn)
			ref_set(&r->path, ae, (size_t)(t + tn - ae));
		else
			ref_set(&r->path, "/", 1);
	} else {
		ref_set(&r->path, t, tn);
	}
	return 0;
}

/* One header field line (RFC 9112 5). */
static int parse_field(struct request *r, struct h1_head_info *hi, char *l,
                       size_t n)
{
	if (l[0] == ' ' || l[0] == '\t')
		return 400; /* obs-fold: RFC 9112 5.2 lets us reject it */
	char *colon = memchr(l, ':', n);
	if (!colon || colon == l)
		return 400;
	size_t nn = (size_t)(colon - l);
	if (!is_token(l, nn))
		return 400; /* includes whitespace before the colon (5.1) */
	const char *v = colon + 1;
	size_t vn = n - nn - 1;
	trim_ows(&v, &vn);
	for (size_t i = 0; i < vn; i++)
		if (v[i] == '\0' || v[i] == '\r')
			return 400;

	if (ieq(l, nn, "host")) {
		if (hi->has_host)
			return 400; /* RFC 9112 3.2 */
		hi->has_host = true;
		if (!r->authority.val)
			ref_set(&r->authority, v, vn);
	} else if (ieq(l, nn, "content-length")) {
		/* RFC 9110 8.6: a list of identical values may be accepted. */
		const char *p = v, *e = v + vn;
		while (p < e) {
			uint64_t x = 0;
			const char *s = p;
			while (p < e && *p >= '0' && *p <= '9') {
				if (x > (UINT64_MAX - 9) / 10)
					return 400;
				x = x * 10 + (uint64_t)(*p++ - '0');
			}
			if (p == s || (hi->has_cl && x != hi->cl))
				return 400;
			hi->has_cl = true;
			hi->cl = x;
			while (p < e && (*p == ' ' || *p == '\t'))
				p++;
			if (p < e && *p++ != ',')
				return 400;
			while (p < e && (*p == ' ' || *p == '\t'))
				p++;
		}
		if (!hi->has_cl)
			return 400;
	} else if (ieq(l, nn, "transfer-encoding")) {
		hi->has_te = true;
		hi->te_chunked = list_has(v, vn, "chunked", true);
	} else if (ieq(l, nn, "connection")) {
		if (list_has(v, vn, "close", false))
			hi->conn_close = true;
		if (list_has(v, vn, "keep-alive", false))
			hi->conn_keepalive = true;
	} else if (ieq(l, nn, "expect")) {
		r->conn->h1.expect_continue = ieq(v, vn, "100-continue");
	} else if (iprefix(l, nn, "x-echo-") || ieq(l, nn, "x-envoy-attempt-count")) {
		if (!add_echo(r, l, nn, v, vn))
			return 500;
	}
	return 0;
}

/* Parse the head copied into h->head and set up body reading. */
static int h1_parse_head(struct conn *c, struct request *r, size_t len)
{
	struct h1_state_s *h = &c->h1;
	struct h1_head_info hi = { 0 };
	char *pos = h->head, *end = h->head + len, *l;
	size_t n;
	int rc;

	h->expect_continue = false;
	if (!next_line(&pos, end, &l, &n))
		return 400;
	if ((rc = parse_request_line(c, r, l, n)) != 0)
		return rc;
	while (next_line(&pos, end, &l, &n) && n > 0)
		if ((rc = parse_field(r, &hi, l, n)) != 0)
			return rc;

	if (req_opts_parse(r->path.val, r->path.vlen, &r->opts, r->text,
	                   sizeof(r->text)) < 0)
		r->bad_opts = true;
	r->keep_body = r->opts.echo && !r->bad_opts;
	if (r->keep_body && !r->body && !(r->body = evbuffer_new()))
		return 500;

	/* Persistence (RFC 9112 9.3). */
	h->keepalive = h->http10 ? (hi.conn_keepalive && !hi.conn_close)
	                         : !hi.conn_close;

	/* Message body length (RFC 9112 6.3). */
	h->chunked_in = false;
	h->remaining = 0;
	if (hi.has_te) {
		if (!hi.te_chunked || h->http10)
			return 400; /* 6.3 item 4 / 6.1 */
		h->chunked_in = true;
		h->ch = CH_SIZE;
		h->trailer_bytes = 0;
		if (hi.has_cl)
			h->keepalive = false; /* 6.3 item 3: must close afterwards */
	} else if (hi.has_cl) {
		if (hi.cl > UP_MAX_BODY_BYTES)
			return 413;
		h->remaining = hi.cl;
	}
	return 0;
}

/* Read the head if complete.  Returns true when the state moved on. */
static bool h1_read_head(struct conn *c)
{
	struct h1_state_s *h = &c->h1;
	size_t end;
	int rc;

	/* RFC 9112 2.2: ignore empty lines before the request-line. */
	while (evbuffer_get_length(c->in) > 0) {
		char ch;
		evbuffer_copyout(c->in, &ch, 1);
		if (ch != '\r' && ch != '\n')
			break;
		evbuffer_drain(c->in, 1);
	}
	if (!h1_find_head_end(c, &end)) {
		if (evbuffer_get_length(c->in) >= UP_MAX_HEAD_BYTES) {
			h1_fail(c, 431, "request header section too large");
			return true;
		}
		if (c->peer_eof) {
			h->state = H1_DONE;
			conn_after_flush(c, AF_CLOSE);
			return true;
		}
		return false;
	}

	if (h->head_cap < end) {
		size_t cap = h->head_cap ? h->head_cap : 1024;
		while (cap < end)
			cap *= 2;
		char *p = realloc(h->head, cap);
		if (!p) {
			conn_kill(c);
			return true;
		}
		h->head = p;
		h->head_cap = cap;
	}
	evbuffer_remove(c->in, h->head, end);
	h->scan_from = 0;

	struct request *r = req_alloc(c);
	if (!r) {
		conn_kill(c);
		return true;
	}
	c->cur = r;
	rc = h1_parse_head(c, r, end);
	if (rc != 0) {
		h1_fail(c, rc, rc == 413 ? "request body too large" : "bad request");
		return true;
	}
	if (h->chunked_in || h->remaining > 0) {
		if (h->expect_continue && !h->http10)
			out_add(c, CONTINUE_100, sizeof(CONTINUE_100) - 1); /* RFC 9110 10.1.1 */
		h->state = H1_BODY;
	} else {
		h1_dispatch(c);
	}
	return true;
}

static void h1_consume(struct conn *c, size_t n)
{
	struct request *r = c->cur;

	if (r->keep_body)
		evbuffer_remove_buffer(c->in, r->body, n);
	else
		evbuffer_drain(c->in, n);
	r->body_bytes += n;
}

/* One line of the chunked framing into buf (without EOL).  Returns its
 * length, -1 when incomplete, -2 when too long. */
static ssize_t h1_getline(struct conn *c, char *buf, size_t cap)
{
	size_t eol_len = 0;
	struct evbuffer_ptr p =
		evbuffer_search_eol(c->in, NULL, &eol_len, EVBUFFER_EOL_CRLF);

	if (p.pos < 0)
		return evbuffer_get_length(c->in) >= cap ? -2 : -1;
	if ((size_t)p.pos >= cap)
		return -2;
	evbuffer_remove(c->in, buf, (size_t)p.pos);
	evbuffer_drain(c->in, eol_len);
	return (ssize_t)p.pos;
}

/* chunk-size [ chunk-ext ] (RFC 9112 7.1, 7.1.1) */
static bool parse_chunk_size(const char *l, size_t n, uint64_t *out)
{
	uint64_t x = 0;
	size_t i = 0;

	for (; i < n; i++) {
		char ch = l[i];
		int d;
		if (ch >= '0' && ch <= '9')
			d = ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			d = ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			d = ch - 'A' + 10;
		else
			break;
		if (x > (UINT64_MAX >> 4))
			return false;
		x = (x << 4) | (uint64_t)d;
	}
	if (i == 0)
		return false;
	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	if (i < n && l[i] != ';')
		return false;
	*out = x;
	return true;
}

/* Chunked request body.  1 = complete, 0 = need more, -1 = failed. */
static int h1_read_chunked(struct conn *c)
{
	struct h1_state_s *h = &c->h1;
	char line[TRAILER_LINE_MAX];
	ssize_t n;

	for (;;) {
		switch (h->ch) {
		case CH_SIZE:
			n = h1_getline(c, line, CHUNK_LINE_MAX);
			if (n == -1)
				return 0;
			if (n < 0 || !parse_chunk_size(line, (size_t)n, &h->remaining)) {
				h1_fail(c, 400, "bad chunked encoding");
				return -1;
			}
			if (h->remaining > UP_MAX_BODY_BYTES - c->cur->body_bytes) {
				h1_fail(c, 413, "request body too large");
				return -1;
			}
			h->ch = h->remaining ? CH_DATA : CH_TRAILER;
			break;
		case CH_DATA: {
			size_t avail = evbuffer_get_length(c->in);
			size_t take = avail < h->remaining ? avail : (size_t)h->remaining;
			h1_consume(c, take);
			h->remaining -= take;
			if (h->remaining)
				return 0;
			h->ch = CH_DATA_CRLF;
			break;
		}
		case CH_DATA_CRLF:
			n = h1_getline(c, line, 8);
			if (n == -1)
				return 0;
			if (n != 0) {
				h1_fail(c, 400, "bad chunked encoding");
				return -1;
			}
			h->ch = CH_SIZE;
			break;
		case CH_TRAILER:
			n = h1_getline(c, line, sizeof(line));
			if (n == -1)
				return 0;
			if (n == -2 || (h->trailer_bytes += (size_t)n + 2) > UP_MAX_HEAD_BYTES) {
				h1_fail(c, 431, "trailer section too large");
				return -1;
			}
			if (n == 0)
				return 1; /* trailer fields are discarded (RFC 9112 7.1.2) */
			break;
		}
	}
}

/* Read request body bytes.  Returns true when the state moved on. */
static bool h1_read_body(struct conn *c)
{
	struct h1_state_s *h = &c->h1;
	int rc;

	if (h->chunked_in) {
		rc = h1_read_chunked(c);
	} else {
		size_t avail = evbuffer_get_length(c->in);
		size_t take = avail < h->remaining ? avail : (size_t)h->remaining;
		h1_consume(c, take);
		h->remaining -= take;
		rc = h->remaining == 0;
	}
	if (rc < 0)
		return true; /* h1_fail() switched state */
	if (rc == 0) {
		if (c->peer_eof) { /* incomplete message (RFC 9112 8) */
			h->state = H1_DONE;
			conn_after_flush(c, AF_CLOSE);
			return true;
		}
		return false;
	}
	h1_dispatch(c);
	return true;
}

/* ---- driver -------------------------------------------------------------- */

void h1_start(struct conn *c)
{
	c->proto = PROTO_H1;
	c->h1.state = H1_HEAD;
}

void h1_pump(struct conn *c)
{
	struct h1_state_s *h = &c->h1;

	while (!c->dead) {
		if (evbuffer_get_length(c->out) >= UP_OUT_HIGH_WATER)
			return;
		switch (h->state) {
		case H1_HEAD:
			if (!h1_read_head(c))
				return;
			break;
		case H1_BODY:
			if (!h1_read_body(c))
				return;
			break;
		case H1_RESPOND:
			if (!h1_fill(c))
				return;
			break;
		case H1_STALLED:
			return;
		case H1_DONE:
			evbuffer_drain(c->in, evbuffer_get_length(c->in));
			return;
		}
	}
}

void h1_free(struct conn *c)
{
	req_release(c->cur);
	c->cur = NULL;
	free(c->h1.head);
	c->h1.head = NULL;
	c->h1.head_cap = 0;
}
