/*
 * mesh-test-upstream: a controllable HTTP/1.1 + h2c (prior knowledge) test
 * server for libmesh integration tests and benchmarks.
 *
 *   mesh-test-upstream [--host 127.0.0.1] [--port N] [--cpu N] [fault schedule]
 *
 * Prints "port=NNNN\n" on stdout once listening (--port 0, the default,
 * picks a free port).  Exits on SIGTERM/SIGINT and when its parent dies.
 * HTTP/2 is detected by the client preface; anything else is HTTP/1.1.
 *
 * Query parameters of the request path select the behaviour (opts.c):
 *   status=N         response status, 200..599 (default 200)
 *   delay_ms=N       wait before sending the response headers
 *   size=N           body of N 'x' bytes (max 64 MiB)
 *   echo=1           body = request body
 *   reset=1          h2: RST_STREAM(INTERNAL_ERROR); h1: close, no response
 *   reset=after_headers  headers (content-length = size), then reset/close
 *   reset=mid_body   headers + size/2 bytes, then reset/close (size default 1000)
 *   reset=conn       TCP RST of the whole connection (every stream on it)
 *   stall=1          headers, then nothing
 *   goaway=1         (h2) respond, then GOAWAY(NO_ERROR) and close
 *   chunked=1        (h1) chunked body (4096-byte chunks) + x-trailer: done
 *   close=1          (h1) Connection: close
 *   header_bytes=N   header x-big with N 'y' bytes (max 1 MiB)
 *   trailer=1        trailer x-trailer: done (h1: implies chunked=1)
 *   retry_after=N    header retry-after: N
 *   grpc_status=N    header grpc-status: N (a trailers-only gRPC answer)
 *   stamp=1          header x-upstream-ns: CLOCK_MONOTONIC nanoseconds when
 *                    the response headers were built (tests compare it with
 *                    their own clock: when did the request arrive)
 * Booleans accept 1/true/0/false or a bare key.  Unknown keys are ignored;
 * a malformed value gives 400.  GET /stats returns
 * "connections=N requests=N active_connections=N" (counting itself).
 *
 * Every response carries x-upstream-proto, x-upstream-conn (1, 2, ... per
 * accepted connection), x-upstream-port, x-req-method, x-req-path,
 * x-req-authority, x-req-body-bytes, the request's x-echo-* headers (and
 * x-envoy-attempt-count) and,
 * when the length is known, content-length.
 *
 * A fault schedule on the command line applies to every request (the first
 * matching fault wins; a request's own options are overridden):
 *   --fault 503:50%        answer 503 to half the requests (any status)
 *   --fault reset:10%      reset the request (as reset=1)
 *   --fault conn_reset:5%  RST the request's whole connection
 *   --fault delay=200:5%   delay 200 ms;  --fault stall:1%  headers, then nothing
 *   --fault after_headers:1%, --fault mid_body:1%  reset after headers / mid-body
 *   --fail-every N[:STATUS]  every N-th request gets STATUS (default 503)
 *   --conn-reset P%        each new connection, with probability P, is reset
 *                          (TCP RST) at its first request
 *   --seed N               seed of the schedule's random numbers
 *
 * This file holds process setup, the listener, connection I/O and the
 * shared helpers (request objects, response header list).
 */
#include "upstream.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct up_global G;

static char fill_x[UP_FILL_CHUNK];
static char fill_y[UP_MAX_HEADER_BYTES];
const char *up_fill_x = fill_x;
const char *up_fill_y = fill_y;

/* Scratch read buffer shared by all connections (single-threaded). */
static uint8_t rbuf[UP_READ_CHUNK];

#define FREE_REQS_MAX 1024

static const char H2_PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN 24

static void die(const char *what)
{
	fprintf(stderr, "mesh-test-upstream: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- request objects -------------------------------------------------- */

static void ref_clear(struct hdr_ref *h)
{
	if (h->rn)
		nghttp2_rcbuf_decref(h->rn);
	if (h->rv)
		nghttp2_rcbuf_decref(h->rv);
	memset(h, 0, sizeof(*h));
}

/* Clear per-request state, keeping reusable allocations (timer, echo
 * array, body buffer). */
void req_reset_fields(struct request *r)
{
	ref_clear(&r->method);
	ref_clear(&r->path);
	ref_clear(&r->authority);
	for (size_t i = 0; i < r->n_echo; i++)
		ref_clear(&r->echo[i]);
	r->n_echo = 0;
	if (r->body)
		evbuffer_drain(r->body, evbuffer_get_length(r->body));
	if (r->timer)
		event_del(r->timer);
	r->conn = NULL;
	r->next = r->prev = NULL;
	r->stream_id = 0;
	r->body_bytes = 0;
	r->keep_body = false;
	r->complete = false;
	r->planned = false;
	r->bad_opts = false;
	r->sent = 0;
	r->headers_sent = false;
	r->text_len = 0;
	r->text[0] = '\0';
	memset(&r->opts, 0, sizeof(r->opts));
	memset(&r->plan, 0, sizeof(r->plan));
}

struct request *req_alloc(struct conn *c)
{
	struct request *r = G.free_reqs;

	if (r) {
		G.free_reqs = r->next;
		G.n_free_reqs--;
	} else {
		r = calloc(1, sizeof(*r));
		if (!r)
			return NULL;
	}
	r->next = r->prev = NULL;
	r->conn = c;
	return r;
}

static void req_destroy(struct request *r)
{
	req_reset_fields(r);
	if (r->timer)
		event_free(r->timer);
	if (r->body)
		evbuffer_free(r->body);
	free(r->echo);
	free(r);
}

void req_release(struct request *r)
{
	if (!r)
		return;
	if (G.n_free_reqs >= FREE_REQS_MAX) {
		req_destroy(r);
		return;
	}
	req_reset_fields(r);
	r->next = G.free_reqs;
	G.free_reqs = r;
	G.n_free_reqs++;
}

/* Start the delay_ms timer of r; `cb` gets r as its argument. */
bool req_arm_timer(struct request *r, event_callback_fn cb)
{
	struct timeval tv = {
		.tv_sec = r->plan.delay_ms / 1000,
		.tv_usec = (suseconds_t)(r->plan.delay_ms % 1000) * 1000,
	};

	if (!r->timer)
		r->timer = event_new(G.base, -1, 0, cb, r);
	else
		event_assign(r->timer, G.base, -1, 0, cb, r);
	return r->timer && event_add(r->timer, &tv) == 0;
}

/* ---- response headers -------------------------------------------------- */

static bool nv_reserve(struct conn *c, size_t n)
{
	if (n <= c->nv_cap)
		return true;
	size_t cap = c->nv_cap ? c->nv_cap : 32;
	while (cap < n)
		cap *= 2;
	nghttp2_nv *nv = realloc(c->nv, cap * sizeof(*nv));
	if (!nv)
		return false;
	c->nv = nv;
	c->nv_cap = cap;
	return true;
}

static void nv_put(nghttp2_nv *nv, const char *name, const void *val, size_t vlen)
{
	nv->name = (uint8_t *)(uintptr_t)name;
	nv->namelen = strlen(name);
	nv->value = (uint8_t *)(uintptr_t)(val ? val : "");
	nv->valuelen = val ? vlen : 0;
	nv->flags = NGHTTP2_NV_FLAG_NONE;
}

static void nv_put_str(nghttp2_nv *nv, const char *name, const char *val)
{
	nv_put(nv, name, val, strlen(val));
}

int build_resp_headers(struct request *r, struct hdr_scratch *s, bool with_clen,
                       bool h1)
{
	struct conn *c = r->conn;
	const struct plan *p = &r->plan;
	size_t n = 0;

	if (!nv_reserve(c, 16 + r->n_echo))
		return -1;
	nghttp2_nv *nv = c->nv;

	snprintf(s->status, sizeof(s->status), "%d", p->status);
	nv_put_str(&nv[n++], ":status", s->status);
	if (with_clen) {
		snprintf(s->clen, sizeof(s->clen), "%llu",
		         (unsigned long long)p->body_len);
		nv_put_str(&nv[n++], "content-length", s->clen);
	}
	if (p->content_type)
		nv_put_str(&nv[n++], "content-type", p->content_type);
	nv_put_str(&nv[n++], "x-upstream-proto", h1 ? "http/1.1" : "h2");
	nv_put_str(&nv[n++], "x-upstream-conn", c->id_str);
	nv_put_str(&nv[n++], "x-upstream-port", G.port_str);
	nv_put(&nv[n++], "x-req-method", r->method.val, r->method.vlen);
	nv_put(&nv[n++], "x-req-path", r->path.val, r->path.vlen);
	nv_put(&nv[n++], "x-req-authority", r->authority.val, r->authority.vlen);
	snprintf(s->body_bytes, sizeof(s->body_bytes), "%llu",
	         (unsigned long long)r->body_bytes);
	nv_put_str(&nv[n++], "x-req-body-bytes", s->body_bytes);
	for (size_t i = 0; i < r->n_echo; i++) {
		const struct hdr_ref *e = &r->echo[i];
		nv[n].name = (uint8_t *)(uintptr_t)e->name;
		nv[n].namelen = e->nlen;
		nv[n].value = (uint8_t *)(uintptr_t)e->val;
		nv[n].valuelen = e->vlen;
		nv[n].flags = NGHTTP2_NV_FLAG_NONE;
		n++;
	}
	if (p->header_bytes)
		nv_put(&nv[n++], "x-big", up_fill_y, p->header_bytes);
	if (p->retry_after >= 0) {
		snprintf(s->retry_after, sizeof(s->retry_after), "%lld", (long long)p->retry_after);
		nv_put_str(&nv[n++], "retry-after", s->retry_after);
	}
	if (p->stamp) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		snprintf(s->stamp, sizeof(s->stamp), "%llu",
		         (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec);
		nv_put_str(&nv[n++], "x-upstream-ns", s->stamp);
	}
	if (p->grpc_status >= 0) {
		snprintf(s->grpc_status, sizeof(s->grpc_status), "%d", p->grpc_status);
		nv_put_str(&nv[n++], "grpc-status", s->grpc_status);
	}
	return (int)n;
}

/* ---- connections ------------------------------------------------------ */

static void conn_read_cb(evutil_socket_t fd, short what, void *arg);
static void conn_write_cb(evutil_socket_t fd, short what, void *arg);

static struct conn *conn_new(int fd)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->id = ++G.next_conn_id;
	snprintf(c->id_str, sizeof(c->id_str), "%llu", (unsigned long long)c->id);
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	c->rev = event_new(G.base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->wev = event_new(G.base, fd, EV_WRITE | EV_PERSIST, conn_write_cb, c);
	if (!c->in || !c->out || !c->rev || !c->wev) {
		if (c->in)
			evbuffer_free(c->in);
		if (c->out)
			evbuffer_free(c->out);
		if (c->rev)
			event_free(c->rev);
		if (c->wev)
			event_free(c->wev);
		free(c);
		return NULL;
	}
	c->next = G.conns;
	if (G.conns)
		G.conns->prev = c;
	G.conns = c;
	G.stats.connections++;
	G.stats.active_connections++;
	event_add(c->rev, NULL);
	return c;
}

static void conn_free(struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		G.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	G.stats.active_connections--;

	h2_free(c);
	h1_free(c);
	event_free(c->rev);
	event_free(c->wev);
	if (c->linger_timer)
		event_free(c->linger_timer);
	evbuffer_free(c->in);
	evbuffer_free(c->out);
	close(c->fd);
	free(c->nv);
	free(c);
}

void conn_kill(struct conn *c)
{
	c->dead = true;
}

void conn_finish(struct conn *c)
{
	if (c->dead)
		conn_free(c);
}

/* Request an action once all pending output has been written.  The most
 * drastic request wins. */
void conn_after_flush(struct conn *c, enum after_flush af)
{
	if (af > c->after_flush)
		c->after_flush = af;
}

static void linger_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	conn_kill(c);
	conn_finish(c);
}

/* Graceful close: send FIN after the last response, then keep reading (and
 * discarding) until the peer closes, so that unread input does not turn our
 * close into a RST that could destroy the response in flight (RFC 9112 9.6). */
static void conn_start_linger(struct conn *c)
{
	struct timeval tv = { UP_LINGER_MS / 1000, (UP_LINGER_MS % 1000) * 1000 };

	if (c->lingering)
		return;
	c->lingering = true;
	if (c->peer_eof || shutdown(c->fd, SHUT_WR) < 0) {
		conn_kill(c);
		return;
	}
	c->linger_timer = event_new(G.base, -1, 0, linger_timeout_cb, c);
	if (!c->linger_timer || event_add(c->linger_timer, &tv) < 0)
		conn_kill(c);
}

static void conn_do_after_flush(struct conn *c)
{
	switch (c->after_flush) {
	case AF_NONE:
		break;
	case AF_CLOSE:
		conn_kill(c);
		break;
	case AF_LINGER:
		conn_start_linger(c);
		break;
	case AF_ABORT:
		shutdown(c->fd, SHUT_RDWR);
		conn_kill(c);
		break;
	}
}

void conn_reset_hard(struct conn *c)
{
	struct linger lg = { 1, 0 };

	/* close() with a zero linger sends RST, not FIN. */
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	conn_after_flush(c, AF_ABORT);
}

static bool conn_wants_read(struct conn *c)
{
	if (c->dead || c->peer_eof)
		return false;
	if (c->lingering)
		return true;
	if (evbuffer_get_length(c->out) >= UP_OUT_HIGH_WATER)
		return false;
	/* h1: a response is in progress; buffer at most a bit of pipelined
	 * input before applying backpressure. */
	if (c->proto == PROTO_H1 && evbuffer_get_length(c->in) >= 4 * UP_READ_CHUNK)
		return false;
	return true;
}

static void conn_update_events(struct conn *c)
{
	bool want_write = evbuffer_get_length(c->out) > 0;
	bool want_read = conn_wants_read(c);

	if (want_write)
		event_add(c->wev, NULL);
	else
		event_del(c->wev);
	if (want_read && c->read_paused) {
		event_add(c->rev, NULL);
		c->read_paused = false;
	} else if (!want_read && !c->read_paused) {
		event_del(c->rev);
		c->read_paused = true;
	}
}

/*
 * Let the protocol produce output (bounded by UP_OUT_HIGH_WATER), write it,
 * and repeat while the socket accepts everything.  For small responses this
 * is exactly one write(2) per read event.
 */
void conn_flush(struct conn *c)
{
	for (;;) {
		if (c->dead)
			return;
		if (!c->lingering) {
			if (c->proto == PROTO_H2)
				h2_pump(c);
			else if (c->proto == PROTO_H1)
				h1_pump(c);
			if (c->dead)
				return;
		}
		if (evbuffer_get_length(c->out) == 0)
			break;
		int n = evbuffer_write(c->out, c->fd);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			conn_kill(c);
			return;
		}
		if (evbuffer_get_length(c->out) > 0)
			break; /* socket buffer full; wait for EV_WRITE */
	}
	if (evbuffer_get_length(c->out) == 0)
		conn_do_after_flush(c);
	if (!c->dead)
		conn_update_events(c);
}

/* Decide h1 vs h2 from the first bytes (RFC 9113 3.3: prior knowledge means
 * the connection starts with the client preface). */
static void conn_detect(struct conn *c)
{
	size_t len = evbuffer_get_length(c->in);
	size_t n = len < H2_PREFACE_LEN ? len : H2_PREFACE_LEN;
	const unsigned char *p = evbuffer_pullup(c->in, (ev_ssize_t)n);

	if (n == 0) {
		if (c->peer_eof)
			conn_kill(c);
		return;
	}
	if (memcmp(p, H2_PREFACE, n) != 0) {
		h1_start(c);
	} else if (n == H2_PREFACE_LEN) {
		if (h2_start(c) < 0)
			conn_kill(c);
	} else if (c->peer_eof) {
		h1_start(c); /* a truncated preface: let h1 reject it */
	}
}

static void conn_drain_linger(struct conn *c)
{
	for (;;) {
		ssize_t n = read(c->fd, rbuf, sizeof(rbuf));
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0 && errno == EINTR)
			continue;
		conn_kill(c); /* EOF or error: done */
		return;
	}
}

static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)what;
	if (c->lingering) {
		conn_drain_linger(c);
		conn_finish(c);
		return;
	}

	if (c->proto == PROTO_H2) {
		ssize_t n = read(fd, rbuf, sizeof(rbuf));
		if (n > 0) {
			if (h2_recv(c, rbuf, (size_t)n) < 0)
				conn_kill(c);
		} else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
		                      errno != EINTR)) {
			conn_kill(c);
		}
	} else {
		int n = evbuffer_read(c->in, fd, UP_READ_CHUNK);
		if (n == 0) {
			c->peer_eof = true;
		} else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		           errno != EINTR) {
			conn_kill(c);
		}
		if (!c->dead && c->proto == PROTO_UNKNOWN)
			conn_detect(c);
		/* The client has closed (or half-closed) its side.  A stalled
		 * response never completes and a delayed one is not wanted any
		 * more: close now rather than hold the connection (tests look at
		 * active_connections).  Half-closing clients still get responses
		 * that are already being written, and pipelined ones after them. */
		if (c->peer_eof && c->proto == PROTO_H1 &&
		    (c->h1.state == H1_STALLED ||
		     (c->h1.state == H1_RESPOND && c->cur && !c->cur->headers_sent)))
			conn_kill(c);
	}
	conn_flush(c);
	conn_finish(c);
}

static void conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	conn_flush(c);
	conn_finish(c);
}

/* ---- listener ---------------------------------------------------------- */

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	(void)what;
	(void)arg;
	for (int i = 0; i < 64; i++) {
		int one = 1;
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				fprintf(stderr, "mesh-test-upstream: accept: %s\n",
				        strerror(errno));
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = conn_new(fd);
		if (!c)
			close(fd);
		else
			c->doomed = fault_doom_conn();
	}
}

static int listen_on(const char *host, const char *port)
{
	struct addrinfo hints = { 0 }, *res, *ai;
	int fd = -1, one = 1, rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "mesh-test-upstream: %s: %s\n", host, gai_strerror(rc));
		exit(1);
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4096) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		die("bind/listen");
	return fd;
}

static uint16_t local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		die("getsockname");
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* ---- process setup ------------------------------------------------------ */

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	event_base_loopbreak(G.base);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mesh-test-upstream [--host ADDR] [--port N] [--cpu N]\n"
	           "         [--fault KIND:P%%]... [--fail-every N[:STATUS]] [--conn-reset P%%]\n"
	           "         [--seed N]\n"
	           "  KIND: a status (503), reset, conn_reset, delay=MS, stall,\n"
	           "        after_headers, mid_body\n");
}

static long parse_num(const char *opt, const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < 0 || v > max) {
		fprintf(stderr, "mesh-test-upstream: bad value for %s: %s\n", opt, s);
		exit(2);
	}
	return v;
}

static void pin_cpu(long cpu)
{
	cpu_set_t set;

	if (cpu >= CPU_SETSIZE) {
		fprintf(stderr, "mesh-test-upstream: warning: cpu %ld out of range\n", cpu);
		return;
	}
	CPU_ZERO(&set);
	CPU_SET((int)cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		fprintf(stderr, "mesh-test-upstream: warning: cannot pin to cpu %ld: %s\n",
		        cpu, strerror(errno));
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	char port_arg[8] = "0";
	long cpu = -1;
	pid_t parent = getppid();

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (i + 1 >= argc) {
			usage(stderr);
			return 2;
		}
		if (!strcmp(a, "--host"))
			host = argv[++i];
		else if (!strcmp(a, "--port"))
			snprintf(port_arg, sizeof(port_arg), "%ld",
			         parse_num(a, argv[++i], 65535));
		else if (!strcmp(a, "--cpu"))
			cpu = parse_num(a, argv[++i], INT_MAX);
		else if (!strcmp(a, "--seed"))
			fault_seed((uint64_t)parse_num(a, argv[++i], LONG_MAX));
		else if ((!strcmp(a, "--fault") && fault_add(argv[i + 1]) == 0) ||
		         (!strcmp(a, "--fail-every") && fault_fail_every(argv[i + 1]) == 0) ||
		         (!strcmp(a, "--conn-reset") && fault_conn_reset(argv[i + 1]) == 0))
			i++;
		else if (!strcmp(a, "--fault") || !strcmp(a, "--fail-every") ||
		         !strcmp(a, "--conn-reset")) {
			fprintf(stderr, "mesh-test-upstream: bad value for %s: %s\n", a, argv[i + 1]);
			return 2;
		} else {
			usage(stderr);
			return 2;
		}
	}

	/* Die with the parent (the test runner), and close the race where the
	 * parent exited before prctl() took effect. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		fprintf(stderr, "mesh-test-upstream: warning: prctl: %s\n", strerror(errno));
	if (getppid() != parent)
		return 0;
	if (cpu >= 0)
		pin_cpu(cpu);
	signal(SIGPIPE, SIG_IGN);

	memset(fill_x, 'x', sizeof(fill_x));
	memset(fill_y, 'y', sizeof(fill_y));

	G.base = event_base_new();
	if (!G.base)
		die("event_base_new");

	int lfd = listen_on(host, port_arg);
	G.port = local_port(lfd);
	snprintf(G.port_str, sizeof(G.port_str), "%u", (unsigned)G.port);

	struct event *lev = event_new(G.base, lfd, EV_READ | EV_PERSIST, accept_cb, NULL);
	struct event *sterm = evsignal_new(G.base, SIGTERM, signal_cb, NULL);
	struct event *sint = evsignal_new(G.base, SIGINT, signal_cb, NULL);
	if (!lev || !sterm || !sint || event_add(lev, NULL) < 0 ||
	    event_add(sterm, NULL) < 0 || event_add(sint, NULL) < 0)
		die("event setup");

	printf("port=%u\n", (unsigned)G.port);
	fflush(stdout);

	event_base_dispatch(G.base);

	/* Orderly teardown so that sanitizers see no leaks. */
	while (G.conns)
		conn_free(G.conns);
	while (G.free_reqs) {
		struct request *r = G.free_reqs;
		G.free_reqs = r->next;
		req_destroy(r);
	}
	event_free(lev);
	event_free(sterm);
	event_free(sint);
	close(lfd);
	h2_global_free();
	event_base_free(G.base);
	libevent_global_shutdown();
	return 0;
}
