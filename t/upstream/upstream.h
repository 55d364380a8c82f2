/*
 * mesh-test-upstream: a controllable HTTP/1.1 + h2c test server.
 *
 * Shared declarations for the pieces of the test upstream:
 *
 *   upstream.c  process setup, listener, connection I/O, statistics
 *   opts.c      request-option parsing and the response plan (the one place
 *               where "what do we do with this request" is decided)
 *   h1.c        HTTP/1.1 (RFC 9112) request parsing and response writing
 *   h2.c        HTTP/2 (RFC 9113) via nghttp2, prior knowledge only
 *
 * Everything runs on a single libevent loop; nothing here is thread-safe.
 */
#ifndef MESH_TEST_UPSTREAM_H
#define MESH_TEST_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

/* ---- limits --------------------------------------------------------- */

#define UP_MAX_HEAD_BYTES      (64u * 1024u)          /* h1 request head -> 431 */
#define UP_MAX_BODY_BYTES      (64ull * 1024 * 1024)  /* request body    -> 413 */
#define UP_MAX_RESP_BODY       (64ull * 1024 * 1024)  /* size=N ceiling  -> 400 */
#define UP_MAX_HEADER_BYTES    (1024u * 1024u)        /* header_bytes=N  -> 400 */
#define UP_MAX_DELAY_MS        (3600u * 1000u)        /* delay_ms=N      -> 400 */
#define UP_READ_CHUNK          (64u * 1024u)          /* bytes per read(2)      */
#define UP_OUT_HIGH_WATER      (256u * 1024u)         /* stop producing output  */
#define UP_FILL_CHUNK          (64u * 1024u)          /* size of the 'x' buffer */
#define UP_H1_CHUNK            4096u                  /* chunked=1 chunk size   */
#define UP_H2_WINDOW           (16 * 1024 * 1024)     /* stream + conn window   */
#define UP_H2_MAX_STREAMS      1000u
#define UP_LINGER_MS           2000u                  /* lingering close bound  */

/* Static body sources: UP_FILL_CHUNK bytes of 'x', UP_MAX_HEADER_BYTES of 'y'. */
extern const char *up_fill_x;
extern const char *up_fill_y;

/* ---- global state ---------------------------------------------------- */

struct up_stats {
	uint64_t connections;        /* accepted since start            */
	uint64_t requests;           /* dispatched since start          */
	uint64_t active_connections; /* currently open                  */
};

struct up_global {
	struct event_base *base;
	uint16_t port;               /* the port we listen on           */
	char port_str[8];
	uint64_t next_conn_id;
	struct up_stats stats;
	struct conn *conns;          /* all live connections (for exit) */
	struct request *free_reqs;   /* recycled request objects        */
	size_t n_free_reqs;
};

extern struct up_global G;

/* ---- request options and response plan ------------------------------- */

enum reset_mode {
	RESET_NONE = 0,
	RESET_NOW,            /* reset=1                                      */
	RESET_AFTER_HEADERS,  /* reset=after_headers                          */
	RESET_MID_BODY,       /* reset=mid_body                               */
	RESET_CONN,           /* reset=conn: TCP RST of the whole connection  */
};

/* What the request asked for, parsed from the query string. */
struct req_opts {
	int status;                 /* status=N      (default 200)   */
	uint32_t delay_ms;          /* delay_ms=N                    */
	uint64_t size;              /* size=N                        */
	bool size_set;
	bool echo;                  /* echo=1                        */
	enum reset_mode reset;      /* reset=1|after_headers|mid_body */
	bool stall;                 /* stall=1                       */
	bool goaway;                /* goaway=1        (h2 only)     */
	bool chunked;               /* chunked=1       (h1 only)     */
	bool close;                 /* close=1         (h1 only)     */
	bool trailer;               /* trailer=1                     */
	bool stamp;                 /* stamp=1                       */
	uint32_t header_bytes;      /* header_bytes=N                */
	uint32_t retry_after;       /* retry_after=N: Retry-After: N */
	bool retry_after_set;
	int grpc_status;            /* grpc_status=N (-1: none)      */
};

enum body_src {
	BODY_FILL,  /* 'x' bytes from the static buffer */
	BODY_ECHO,  /* the request body                 */
	BODY_TEXT,  /* request->text (stats / errors)   */
};

/* What we are going to do; derived from the options by plan_request(). */
struct plan {
	int status;
	enum body_src src;
	uint64_t body_len;       /* declared length (content-length)            */
	uint64_t send_limit;     /* body bytes to actually send before stopping  */
	bool send_body;          /* false for HEAD / 204 / 304                   */
	bool content_length;     /* emit content-length                          */
	uint32_t delay_ms;
	enum reset_mode reset;
	bool stall;
	bool goaway;
	bool chunked;            /* h1: Transfer-Encoding: chunked               */
	bool trailer;            /* send trailer x-trailer: done                 */
	bool stamp;              /* x-upstream-ns: when the response was built   */
	bool close;              /* h1: Connection: close after this response    */
	uint32_t header_bytes;
	const char *content_type; /* NULL: none                                  */
	int64_t retry_after;     /* Retry-After header value, -1: none          */
	int grpc_status;         /* grpc-status header, -1: none                */
};

/* A header reference: bytes owned either by the h1 head buffer of the
 * connection or by nghttp2 reference-counted buffers (h2). */
struct hdr_ref {
	const uint8_t *name;
	size_t nlen;
	const uint8_t *val;
	size_t vlen;
	nghttp2_rcbuf *rn, *rv;  /* h2 only; NULL for h1 */
};

enum proto { PROTO_UNKNOWN = 0, PROTO_H1, PROTO_H2 };

/* One request/response exchange (one h2 stream, or one h1 request). */
struct request {
	struct conn *conn;
	struct request *next, *prev;  /* conn->reqs list, or the free list */
	int32_t stream_id;            /* h2 */

	struct hdr_ref method, path, authority;
	struct hdr_ref *echo;         /* x-echo-* request headers */
	size_t n_echo, cap_echo;

	uint64_t body_bytes;          /* request body bytes received        */
	struct evbuffer *body;        /* kept only when echoing; reused     */
	bool keep_body;
	bool complete;                /* request fully received/dispatched  */
	bool planned;                 /* opts parsed (h2: after HEADERS)    */
	bool bad_opts;

	struct req_opts opts;
	struct plan plan;
	struct event *timer;          /* delay_ms; created lazily, reused   */
	uint64_t sent;                /* response body bytes produced       */
	bool headers_sent;

	char text[192];               /* BODY_TEXT body                     */
	size_t text_len;
};

/* ---- connection ------------------------------------------------------ */

enum after_flush {
	AF_NONE = 0,
	AF_CLOSE,   /* close once output is flushed                            */
	AF_LINGER,  /* shutdown(SHUT_WR), drain input until EOF, then close    */
	AF_ABORT,   /* shutdown(SHUT_RDWR) + close, e.g. reset=1 on h1         */
};

enum h1_state {
	H1_HEAD = 0,     /* waiting for / parsing a request head            */
	H1_BODY,         /* reading a request body                          */
	H1_RESPOND,      /* a response is in progress (delay/streaming)     */
	H1_STALLED,      /* stall=1: never finishes                         */
	H1_DONE,         /* no more requests will be processed              */
};

enum h1_chunk_state { CH_SIZE = 0, CH_DATA, CH_DATA_CRLF, CH_TRAILER };

struct h1_state_s {
	enum h1_state state;
	char *head;              /* copy of the current request head          */
	size_t head_cap;
	size_t scan_from;        /* resume offset for the end-of-head search  */
	bool chunked_in;         /* request body is chunked                   */
	enum h1_chunk_state ch;
	uint64_t remaining;      /* body (or current chunk) bytes left         */
	size_t trailer_bytes;
	bool keepalive;          /* connection persists after this exchange   */
	bool expect_continue;
	bool http10;             /* request was HTTP/1.0                      */
	bool resp_chunked;       /* current response uses chunked coding      */
};

struct conn {
	int fd;
	uint64_t id;
	char id_str[24];
	enum proto proto;
	struct event *rev, *wev, *linger_timer;
	struct evbuffer *in;     /* h1 / protocol detection input             */
	struct evbuffer *out;    /* pending output                            */
	struct conn *next, *prev;
	bool peer_eof;
	bool doomed;             /* --conn-reset picked it: RST at its first request */
	bool dead;               /* free at the end of the current callback   */
	bool lingering;
	bool read_paused;
	enum after_flush after_flush;

	/* HTTP/2 */
	nghttp2_session *h2;
	struct request *reqs;    /* live streams                              */
	bool goaway_wanted;
	bool goaway_submitted;

	/* HTTP/1.1 */
	struct h1_state_s h1;
	struct request *cur;     /* the request being read/answered           */

	/* scratch for response headers */
	nghttp2_nv *nv;
	size_t nv_cap;
};

/* ---- upstream.c ------------------------------------------------------ */

struct request *req_alloc(struct conn *c);
void req_release(struct request *r);
void req_reset_fields(struct request *r);
bool req_arm_timer(struct request *r, event_callback_fn cb);
void conn_kill(struct conn *c);            /* mark dead (abrupt)        */
void conn_after_flush(struct conn *c, enum after_flush af);
void conn_flush(struct conn *c);           /* pump protocol + write     */
void conn_finish(struct conn *c);          /* free if dead              */

/* Scratch numbers used while building response headers. */
struct hdr_scratch {
	char status[8];
	char clen[24];
	char body_bytes[24];
	char retry_after[24];
	char grpc_status[12];
	char stamp[24];
};

/* Build the response header list into c->nv; returns count or -1 (OOM).
 * Includes ":status" first (h1 skips it).  `with_clen` adds content-length
 * from plan->body_len. */
int build_resp_headers(struct request *r, struct hdr_scratch *s, bool with_clen,
                       bool h1);

/* ---- opts.c ---------------------------------------------------------- */

/* Parse options from the query part of `target`.  Returns 0 on success or
 * -1 on a malformed value; `bad` then names the offending parameter. */
int req_opts_parse(const uint8_t *target, size_t len, struct req_opts *o,
                   char *bad, size_t badlen);

/* The single place that decides what to do with a complete request: fills
 * r->plan from r->opts, the path, the method and the protocol. */
void plan_request(struct request *r, bool is_h2);

/* Build a plain error response plan (status + short text body). */
void plan_error(struct request *r, int status, const char *msg, bool close);

const char *reason_phrase(int status);

/* Fault schedule (--fault, --fail-every, --conn-reset, --seed): applied to
 * every request before its plan, so that one process can answer 503 half
 * the time and another reset a tenth of its connections. */
int fault_add(const char *spec);            /* 0, or -1: malformed       */
int fault_fail_every(const char *spec);     /* "N" or "N:STATUS"         */
int fault_conn_reset(const char *spec);     /* "P%"                      */
void fault_seed(uint64_t seed);
bool fault_doom_conn(void);                 /* roll for a new connection */
/* Abort the connection with a TCP RST (SO_LINGER 0) once output is out. */
void conn_reset_hard(struct conn *c);

/* ---- h1.c ------------------------------------------------------------ */

void h1_start(struct conn *c);
void h1_pump(struct conn *c);           /* parse input, fill output       */
void h1_free(struct conn *c);

/* ---- h2.c ------------------------------------------------------------ */

int h2_start(struct conn *c);            /* feeds c->in into the session  */
int h2_recv(struct conn *c, const uint8_t *data, size_t len);
void h2_pump(struct conn *c);            /* mem_send into c->out          */
void h2_free(struct conn *c);
void h2_global_free(void);              /* at exit                      */

#endif
