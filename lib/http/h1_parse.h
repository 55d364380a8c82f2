/*
 * HTTP/1.1 response parser (RFC 9112): bytes in, callbacks out.
 *
 * No I/O, no event loop, no allocation on the hot path. The caller arms the
 * parser with mesh__h1_parser_expect() for each request it has sent, feeds
 * whatever bytes arrive with mesh__h1_parser_feed(), and reports the peer's
 * close with mesh__h1_parser_eof().
 *
 * Pointers handed to callbacks (names, values, body bytes) are valid only
 * for the duration of the callback: they point either into the caller's
 * input or into the parser's internal line buffer. Callbacks must not call
 * mesh__h1_parser_feed() or mesh__h1_parser_free() on the same parser; they
 * may call mesh__h1_parser_expect() from on_complete (feed() stops right
 * after on_complete anyway).
 *
 * Internal to libmesh: not exported (mesh__ prefix, hidden visibility).
 */
#ifndef MESH_HTTP_H1_PARSE_H
#define MESH_HTTP_H1_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mesh__h1_callbacks {
  /* Each returns 0 to continue or a negative value to abort parsing; feed() then returns that value.
   * Any callback may be NULL (treated as returning 0). */
  int (*on_status)(void *ud, int status);                   /* final or 1xx status line parsed */
  int (*on_header)(void *ud, const char *name, size_t name_len,
                   const char *value, size_t value_len);      /* one field line; value trimmed of OWS */
  int (*on_headers_done)(void *ud);                          /* end of header section of a FINAL (>=200) response */
  int (*on_body)(void *ud, const char *data, size_t len);    /* body bytes, already de-chunked */
  int (*on_trailer)(void *ud, const char *name, size_t name_len,
                    const char *value, size_t value_len);     /* chunked trailer fields */
  int (*on_complete)(void *ud, int keep_alive);              /* message done; keep_alive=1 if the connection may be reused */
} mesh__h1_callbacks;

enum { /* error codes returned by feed()/eof(), all negative, distinct from callback aborts if callbacks use -1..-99 */
  MESH__H1_EPROTO = -1001,     /* malformed message */
  MESH__H1_ETOOBIG = -1002,    /* header section (or trailer section, or one chunk-size line) exceeds max_header_bytes */
  MESH__H1_ETRUNC = -1003,     /* eof() before the message was complete */
  MESH__H1_EUNEXPECTED = -1004, /* bytes received while no response was expected */
  MESH__H1_ENOMEM = -1005      /* the line buffer could not be allocated */
};

/* Default for max_header_bytes when 0 is passed to mesh__h1_parser_init(). */
#define MESH__H1_DEFAULT_MAX_HEADER_BYTES ((size_t)64 * 1024)

/* Fields are private to h1_parse.c; declared here so the parser can be
 * embedded in a connection object without a separate malloc. */
typedef struct mesh__h1_parser {
  const mesh__h1_callbacks *cb;
  void *ud;
  char *buf;               /* partial-line buffer; grows up to max_header_bytes, reused */
  size_t buf_len;          /* bytes of the current partial line held in buf */
  size_t buf_cap;
  size_t max_header_bytes;
  size_t hdr_bytes;        /* bytes of the current header/trailer section consumed so far */
  uint64_t remaining;      /* bytes left in the Content-Length body or current chunk */
  uint64_t content_length; /* value of Content-Length, once seen */
  int status;              /* status code of the response being parsed */
  int err;                 /* sticky error once the parser has failed */
  unsigned flags;
  unsigned char state;
} mesh__h1_parser;

void mesh__h1_parser_init(mesh__h1_parser *p, const mesh__h1_callbacks *cb, void *ud, size_t max_header_bytes);
void mesh__h1_parser_free(mesh__h1_parser *p);                 /* frees internal buffers; p itself is caller-owned */
/* Arm the parser for the next response. head_request=1 means the request was HEAD (no body whatever the headers say).
 * Also clears any previous error. */
void mesh__h1_parser_expect(mesh__h1_parser *p, int head_request);
/* Feed bytes. Returns the number of bytes consumed (>= 0) or a negative error. It stops right after on_complete()
 * and returns the bytes consumed so far (bytes after the end of a response are NOT consumed; the caller decides
 * whether they are an error). Calling feed() when no response is expected returns MESH__H1_EUNEXPECTED.
 * After an error (or a callback abort) the parser is dead: feed()/eof() return the same error until expect(). */
ssize_t mesh__h1_parser_feed(mesh__h1_parser *p, const char *data, size_t len);
/* The peer closed the connection. Completes a read-until-close body (on_complete with keep_alive=0) and returns 0;
 * returns MESH__H1_ETRUNC if a response was expected and is incomplete (including when none of its bytes arrived:
 * see mesh__h1_parser_started()); 0 if none was expected. */
int mesh__h1_parser_eof(mesh__h1_parser *p);
/* 1 if at least one byte of the currently expected response has been consumed, else 0. Lets the caller tell a
 * pooled connection closed before any reply (safe to retry an idempotent request) from a truncated response. */
int mesh__h1_parser_started(const mesh__h1_parser *p);

#ifdef __cplusplus
}
#endif

#endif /* MESH_HTTP_H1_PARSE_H */
