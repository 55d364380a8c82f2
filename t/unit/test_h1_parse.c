/*
 * Unit tests for the HTTP/1.1 response parser (lib/http/h1_parse.c).
 *
 * Every message-level test goes through expect_log(), which parses the input
 * whole, one byte at a time, split at every single point and (for short
 * inputs) at every pair of points, and asserts the callback log is the same
 * each time. Body bytes are coalesced in the log, so "same" means the same
 * sequence of events carrying the same bytes.
 */
#include <criterion/criterion.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/h1_parse.h"

#define EPROTO_S "E-1001\n"
#define ETOOBIG_S "E-1002\n"
#define ETRUNC_S "E-1003\n"
#define EUNEXP_S "E-1004\n"

/* ------------------------------------------------------------------ */
/* Recorder                                                            */
/* ------------------------------------------------------------------ */

typedef struct rec {
  char log[32768];
  size_t n;
  int in_body;
  int completed;
  char abort_on;   /* event letter to abort on: S H D B T C, 0 = never */
  int abort_rc;    /* value returned by the aborting callback */
  int ret;         /* value returned by non-aborting callbacks (0, or > 0 to test "positive = continue") */
  mesh__h1_parser *rearm; /* if set, on_complete calls expect() on it */
  const char *in_lo, *in_hi; /* if set, on_body data must lie in [in_lo, in_hi) */
} rec_t;

static void rec_raw(rec_t *r, const char *s, size_t n) {
  cr_assert(r->n + n < sizeof(r->log), "log overflow");
  memcpy(r->log + r->n, s, n);
  r->n += n;
  r->log[r->n] = '\0';
}

static void rec_event(rec_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rec_event(rec_t *r, const char *fmt, ...) {
  char tmp[4096];
  va_list ap;
  if (r->in_body) {
    rec_raw(r, "\n", 1);
    r->in_body = 0;
  }
  va_start(ap, fmt);
  int k = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  cr_assert(k >= 0 && (size_t)k < sizeof(tmp));
  rec_raw(r, tmp, (size_t)k);
}

static int rc_for(rec_t *r, char ev) { return r->abort_on == ev ? r->abort_rc : r->ret; }

static int cb_status(void *ud, int status) {
  rec_t *r = ud;
  rec_event(r, "S%d\n", status);
  return rc_for(r, 'S');
}
static int cb_header(void *ud, const char *n, size_t nl, const char *v, size_t vl) {
  rec_t *r = ud;
  rec_event(r, "H%.*s=%.*s\n", (int)nl, n, (int)vl, v);
  return rc_for(r, 'H');
}
static int cb_headers_done(void *ud) {
  rec_t *r = ud;
  rec_event(r, "D\n");
  return rc_for(r, 'D');
}
static int cb_body(void *ud, const char *d, size_t len) {
  rec_t *r = ud;
  cr_assert(len > 0, "on_body with len 0");
  if (r->in_lo) cr_assert(d >= r->in_lo && d + len <= r->in_hi, "body bytes were copied");
  if (!r->in_body) {
    rec_raw(r, "B:", 2);
    r->in_body = 1;
  }
  rec_raw(r, d, len);
  return rc_for(r, 'B');
}
static int cb_trailer(void *ud, const char *n, size_t nl, const char *v, size_t vl) {
  rec_t *r = ud;
  rec_event(r, "T%.*s=%.*s\n", (int)nl, n, (int)vl, v);
  return rc_for(r, 'T');
}
static int cb_complete(void *ud, int ka) {
  rec_t *r = ud;
  rec_event(r, "C%d\n", ka);
  r->completed++;
  if (r->rearm) mesh__h1_parser_expect(r->rearm, 0);
  return rc_for(r, 'C');
}

static const mesh__h1_callbacks CBS = {cb_status, cb_header, cb_headers_done, cb_body, cb_trailer, cb_complete};

/* ------------------------------------------------------------------ */
/* Driver                                                              */
/* ------------------------------------------------------------------ */

typedef struct opts {
  int head;     /* request was HEAD */
  size_t maxh;  /* max_header_bytes (0 = 4096 here) */
  int nresp;    /* responses expected (pipelining); 0 = 1 */
  int no_eof;   /* don't call eof() at the end */
} opts_t;

/* Feed in[0..len) in pieces ending at cuts[0..ncuts) (ascending) then len.
 * Re-arms the parser after each completed response until nresp are done.
 * Errors from feed() and eof() are logged as "E<rc>". Returns the last rc. */
static int drive(rec_t *r, const char *in, size_t len, const size_t *cuts, size_t ncuts, opts_t o) {
  mesh__h1_parser p;
  int nresp = o.nresp ? o.nresp : 1, handled = 0, rc = 0;
  mesh__h1_parser_init(&p, &CBS, r, o.maxh ? o.maxh : 4096);
  mesh__h1_parser_expect(&p, o.head);
  size_t prev = 0;
  for (size_t k = 0; k <= ncuts; k++) {
    size_t next = k < ncuts ? cuts[k] : len;
    const char *piece = in + prev;
    size_t plen = next - prev;
    prev = next;
    while (plen > 0) {
      ssize_t n = mesh__h1_parser_feed(&p, piece, plen);
      if (n < 0) {
        rec_event(r, "E%d\n", (int)n);
        rc = (int)n;
        goto out;
      }
      cr_assert((size_t)n <= plen);
      cr_assert((size_t)n == plen || r->completed > handled, "feed stopped early without completing");
      piece += n;
      plen -= (size_t)n;
      if (r->completed > handled) {
        handled = r->completed;
        if (handled < nresp) mesh__h1_parser_expect(&p, o.head);
      }
    }
  }
  if (!o.no_eof) {
    rc = mesh__h1_parser_eof(&p);
    if (rc) rec_event(r, "E%d\n", rc);
  }
out:
  if (r->in_body) rec_event(r, "%s", "");
  mesh__h1_parser_free(&p);
  return rc;
}

static void rec_init(rec_t *r) {
  memset(r, 0, sizeof(*r));
}

static void check_one(const char *in, size_t len, const size_t *cuts, size_t ncuts, opts_t o, const char *exp,
                      const char *what) {
  static rec_t r;
  rec_init(&r);
  drive(&r, in, len, cuts, ncuts, o);
  cr_assert_str_eq(r.log, exp, "%s (cuts %zu: %zu,%zu)\n--- input ---\n%.*s", what, ncuts,
                   ncuts > 0 ? cuts[0] : 0, ncuts > 1 ? cuts[1] : 0, (int)len, in);
}

/* Parse whole, byte by byte, at every split point and at every pair of split
 * points (short inputs), asserting the same log every time. */
static void expect_log_n(const char *in, size_t len, opts_t o, const char *exp) {
  check_one(in, len, NULL, 0, o, exp, "whole");
  size_t *cuts = malloc((len + 1) * sizeof(*cuts));
  cr_assert(cuts);
  for (size_t i = 0; i < len; i++) cuts[i] = i + 1;
  check_one(in, len, cuts, len ? len - 1 : 0, o, exp, "byte by byte");
  for (size_t s = 0; s <= len; s++) {
    cuts[0] = s;
    check_one(in, len, cuts, 1, o, exp, "one split");
  }
  if (len <= 200) {
    for (size_t a = 1; a < len; a++)
      for (size_t b = a + 1; b < len; b++) {
        cuts[0] = a;
        cuts[1] = b;
        check_one(in, len, cuts, 2, o, exp, "two splits");
      }
  }
  free(cuts);
}

#define expect_log(in, o, exp) expect_log_n((in), strlen(in), (o), (exp))
/* For inputs with embedded NULs: a string literal. */
#define expect_log_lit(lit, o, exp) expect_log_n((lit), sizeof(lit) - 1, (o), (exp))
#define O(...) ((opts_t){__VA_ARGS__})

/* ------------------------------------------------------------------ */
/* Status line                                                         */
/* ------------------------------------------------------------------ */

Test(status, basic_content_length) {
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", O(0),
             "S200\nHContent-Length=5\nD\nB:hello\nC1\n");
}

Test(status, no_reason_without_space) {
  expect_log("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", O(0), "S200\nHContent-Length=0\nD\nC1\n");
}

Test(status, empty_reason_with_space) {
  expect_log("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", O(0), "S404\nHContent-Length=0\nD\nC1\n");
}

Test(status, reason_with_spaces_tabs_obs_text) {
  expect_log("HTTP/1.1 500 Internal \tServer \xe9rror \r\nContent-Length: 0\r\n\r\n", O(0),
             "S500\nHContent-Length=0\nD\nC1\n");
}

Test(status, range_100_to_599) {
  expect_log("HTTP/1.1 599 X\r\nContent-Length: 0\r\n\r\n", O(0), "S599\nHContent-Length=0\nD\nC1\n");
  expect_log("HTTP/1.1 099 X\r\n\r\n", O(0), EPROTO_S);
  expect_log("HTTP/1.1 600 X\r\n\r\n", O(0), EPROTO_S);
  expect_log("HTTP/1.1 000 X\r\n\r\n", O(0), EPROTO_S);
}

Test(status, bad_version) {
  expect_log("HTTP/1.2 200 OK\r\n\r\n", O(0), EPROTO_S);
  expect_log("HTTP/2.0 200 OK\r\n\r\n", O(0), EPROTO_S);
  expect_log("HTTP/0.9 200 OK\r\n\r\n", O(0), EPROTO_S);
  expect_log("http/1.1 200 OK\r\n\r\n", O(0), EPROTO_S);
  expect_log("HTTP/1.1x200 OK\r\n\r\n", O(0), EPROTO_S);
  expect_log("ICY 200 OK\r\n\r\n", O(0), EPROTO_S);
  expect_log("HTTP/11 200 OK\r\n\r\n", O(0), EPROTO_S);
}

Test(status, bad_code) {
  expect_log("HTTP/1.1 20 OK\r\n\r\n", O(0), EPROTO_S);
  expect_log("HTTP/1.1 2000 OK\r\n\r\n", O(0), EPROTO_S);
  expect_log("HTTP/1.1 2x0 OK\r\n\r\n", O(0), EPROTO_S);
  expect_log("HTTP/1.1  200 OK\r\n\r\n", O(0), EPROTO_S);
  expect_log("HTTP/1.1 200OK\r\n\r\n", O(0), EPROTO_S);
  expect_log("HTTP/1.1 -20 OK\r\n\r\n", O(0), EPROTO_S);
  expect_log("HTTP/1.1\r\n\r\n", O(0), EPROTO_S);
  expect_log("HTTP/1.1 \r\n\r\n", O(0), EPROTO_S);
}

Test(status, nul_or_cr_in_reason) {
  expect_log_lit("HTTP/1.1 200 O\0K\r\n\r\n", O(0), EPROTO_S);
  expect_log("HTTP/1.1 200 O\rK\r\n\r\n", O(0), EPROTO_S);
}

Test(status, leading_empty_line_rejected) {
  expect_log("\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", O(0), EPROTO_S);
  expect_log(" HTTP/1.1 200 OK\r\n\r\n", O(0), EPROTO_S);
}

Test(status, bare_lf_rejected) {
  expect_log("HTTP/1.1 200 OK\nContent-Length: 0\n\n", O(0), EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n", O(0), "S200\nHContent-Length=0\n" EPROTO_S);
  expect_log("\n", O(0), EPROTO_S);
}

Test(status, switching_protocols_is_error) {
  expect_log("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", O(0), EPROTO_S);
}

/* ------------------------------------------------------------------ */
/* Field lines                                                         */
/* ------------------------------------------------------------------ */

Test(fields, ows_trimmed_and_inner_kept) {
  expect_log("HTTP/1.1 200 OK\r\nX-A:  a b \t\r\nX-B:\tc\r\nX-C:d\r\nX-E:\r\nX-F:   \r\nContent-Length: 0\r\n\r\n", O(0),
             "S200\nHX-A=a b\nHX-B=c\nHX-C=d\nHX-E=\nHX-F=\nHContent-Length=0\nD\nC1\n");
}

Test(fields, token_chars_in_name_and_obs_text_in_value) {
  expect_log("HTTP/1.1 200 OK\r\n!#$%&'*+-.^_`|~09azAZ: v\xff\x80 \"q,;=\"\r\nContent-Length: 0\r\n\r\n", O(0),
             "S200\nH!#$%&'*+-.^_`|~09azAZ=v\xff\x80 \"q,;=\"\nHContent-Length=0\nD\nC1\n");
}

Test(fields, obs_fold_rejected) {
  expect_log("HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\r\n", O(0), "S200\nHX-A=a\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nX-A: a\r\n\tb\r\n\r\n", O(0), "S200\nHX-A=a\n" EPROTO_S);
}

Test(fields, whitespace_before_colon_rejected) {
  expect_log("HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nX-A\t: 5\r\n\r\n", O(0), "S200\n" EPROTO_S);
}

Test(fields, bad_names_rejected) {
  expect_log("HTTP/1.1 200 OK\r\n: v\r\n\r\n", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nX Y: v\r\n\r\n", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nX@Y: v\r\n\r\n", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nX(Y): v\r\n\r\n", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nno-colon\r\n\r\n", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nX\xc3\xa9: v\r\n\r\n", O(0), "S200\n" EPROTO_S);
}

Test(fields, nul_cr_in_value_rejected) {
  expect_log_lit("HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n", O(0), "S200\n" EPROTO_S);
  expect_log_lit("HTTP/1.1 200 OK\r\nX-A\0: ab\r\n\r\n", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nX-A: ab\r\r\n\r\n", O(0), "S200\n" EPROTO_S);
}

Test(fields, bare_lf_in_field_rejected) {
  expect_log("HTTP/1.1 200 OK\r\nX-A: a\nX-B: b\r\n\r\n", O(0), "S200\n" EPROTO_S);
}

/* ------------------------------------------------------------------ */
/* Content-Length (RFC 9112 §6.3)                                      */
/* ------------------------------------------------------------------ */

Test(content_length, zero) {
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", O(0), "S200\nHContent-Length=0\nD\nC1\n");
}

Test(content_length, case_insensitive_name_and_leading_zeros) {
  expect_log("HTTP/1.1 200 OK\r\ncOnTeNt-LeNgTh: 0003\r\n\r\nabc", O(0), "S200\nHcOnTeNt-LeNgTh=0003\nD\nB:abc\nC1\n");
}

Test(content_length, max_2_pow_62_accepted_then_truncated) {
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 4611686018427387904\r\n\r\nab", O(0),
             "S200\nHContent-Length=4611686018427387904\nD\nB:ab\n" ETRUNC_S);
}

Test(content_length, too_large_rejected) {
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 4611686018427387905\r\n\r\n", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999999999999\r\n\r\n", O(0), "S200\n" EPROTO_S);
}

Test(content_length, non_digits_rejected) {
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 5a\r\n\r\n", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\n", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 5 5\r\n\r\n", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 1.0\r\n\r\n", O(0), "S200\n" EPROTO_S);
}

Test(content_length, identical_duplicates_accepted) {
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", O(0),
             "S200\nHContent-Length=3\nHContent-Length=3\nD\nB:abc\nC1\n");
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc", O(0), "S200\nHContent-Length=3, 3\nD\nB:abc\nC1\n");
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 3,3 ,\t3\r\n\r\nabc", O(0),
             "S200\nHContent-Length=3,3 ,\t3\nD\nB:abc\nC1\n");
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 03\r\nContent-Length: 3\r\n\r\nabc", O(0),
             "S200\nHContent-Length=03\nHContent-Length=3\nD\nB:abc\nC1\n");
}

Test(content_length, conflicting_duplicates_rejected) {
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", O(0),
             "S200\nHContent-Length=3\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 3,,3\r\n\r\nabc", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 3,\r\n\r\nabc", O(0), "S200\n" EPROTO_S);
}

Test(content_length, body_bytes_not_copied) {
  static const char in[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789";
  static rec_t r;
  rec_init(&r);
  r.in_lo = in;
  r.in_hi = in + sizeof(in) - 1;
  size_t cuts[] = {20, 45};
  drive(&r, in, sizeof(in) - 1, NULL, 0, O(0));
  drive(&r, in, sizeof(in) - 1, cuts, 2, O(0));
  cr_assert_str_eq(r.log, "S200\nHContent-Length=10\nD\nB:0123456789\nC1\nS200\nHContent-Length=10\nD\nB:0123456789\nC1\n");
}

/* ------------------------------------------------------------------ */
/* Chunked (RFC 9112 §7.1)                                             */
/* ------------------------------------------------------------------ */

Test(chunked, basic) {
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", O(0),
             "S200\nHTransfer-Encoding=chunked\nD\nB:hello world\nC1\n");
}

Test(chunked, hex_sizes_and_leading_zeros) {
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\nB\r\nabcdefghijk\r\n000\r\n\r\n", O(0),
             "S200\nHTransfer-Encoding=chunked\nD\nB:0123456789abcdefghijk\nC1\n");
}

Test(chunked, extensions_skipped) {
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
             "3;foo=bar\r\nabc\r\n2 ; name=\"quoted ; \\\" value\"\r\nde\r\n1;a;b=c\r\nf\r\n0;last\r\n\r\n",
             O(0), "S200\nHTransfer-Encoding=chunked\nD\nB:abcdef\nC1\n");
}

Test(chunked, trailers_reported) {
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Checksum:  abc \r\nX-B: 2\r\n\r\n", O(0),
             "S200\nHTransfer-Encoding=chunked\nD\nB:abc\nTX-Checksum=abc\nTX-B=2\nC1\n");
}

Test(chunked, empty_body) {
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", O(0),
             "S200\nHTransfer-Encoding=chunked\nD\nC1\n");
}

Test(chunked, transfer_coding_list_final_chunked) {
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", O(0),
             "S200\nHTransfer-Encoding=gzip, Chunked\nD\nB:x\nC1\n");
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: CHUNKED\r\n\r\n1\r\nx\r\n0\r\n\r\n", O(0),
             "S200\nHTransfer-Encoding=gzip\nHTransfer-Encoding=CHUNKED\nD\nB:x\nC1\n");
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: ,gzip ,, chunked,\r\n\r\n0\r\n\r\n", O(0),
             "S200\nHTransfer-Encoding=,gzip ,, chunked,\nD\nC1\n");
}

Test(chunked, non_final_or_other_coding_rejected) {
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", O(0), "S200\nHTransfer-Encoding=gzip\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nabc", O(0),
             "S200\nHTransfer-Encoding=identity\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", O(0),
             "S200\nHTransfer-Encoding=chunked\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", O(0),
             "S200\nHTransfer-Encoding=chunked\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n", O(0), "S200\nHTransfer-Encoding=\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chun ked\r\n\r\n", O(0), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", O(0), "S200\n" EPROTO_S);
}

Test(chunked, te_and_cl_rejected) {
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n", O(0),
             "S200\nHTransfer-Encoding=chunked\nHContent-Length=5\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", O(0),
             "S200\nHContent-Length=5\nHTransfer-Encoding=chunked\n" EPROTO_S);
}

Test(chunked, bad_chunk_size) {
  const char *h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const char *bad[] = {"\r\n", "x\r\n", "-5\r\nhello\r\n", "+5\r\nhello\r\n", "5 \r\nhello\r\n",
                       " 5\r\nhello\r\n", "5x\r\nhello\r\n", "0x5\r\nhello\r\n", "5\n", "5;a\0b\r\nhello\r\n",
                       "5;a\rb\r\nhello\r\n"};
  char in[256];
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    size_t hl = strlen(h), bl = strlen(bad[i]);
    if (i == 9) bl = 14; /* embedded NUL */
    memcpy(in, h, hl);
    memcpy(in + hl, bad[i], bl);
    expect_log_n(in, hl + bl, O(0), "S200\nHTransfer-Encoding=chunked\nD\n" EPROTO_S);
  }
}

Test(chunked, size_overflow_rejected) {
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4000000000000001\r\n", O(0),
             "S200\nHTransfer-Encoding=chunked\nD\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", O(0),
             "S200\nHTransfer-Encoding=chunked\nD\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffffffffffffffff1\r\n", O(0),
             "S200\nHTransfer-Encoding=chunked\nD\n" EPROTO_S);
  /* exactly 2^62 is accepted (then the peer closes) */
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4000000000000000\r\nab", O(0),
             "S200\nHTransfer-Encoding=chunked\nD\nB:ab\n" ETRUNC_S);
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000000000000000003\r\nabc\r\n0\r\n\r\n",
             O(0), "S200\nHTransfer-Encoding=chunked\nD\nB:abc\nC1\n");
}

Test(chunked, missing_crlf_after_data) {
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n", O(0),
             "S200\nHTransfer-Encoding=chunked\nD\nB:hello\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\rX0\r\n\r\n", O(0),
             "S200\nHTransfer-Encoding=chunked\nD\nB:hello\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", O(0),
             "S200\nHTransfer-Encoding=chunked\nD\nB:hello\n" EPROTO_S);
}

Test(chunked, bad_trailer) {
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: a\r\n b\r\n\r\n", O(0),
             "S200\nHTransfer-Encoding=chunked\nD\nTX-T=a\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nnocolon\r\n\r\n", O(0),
             "S200\nHTransfer-Encoding=chunked\nD\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\n\r\n", O(0),
             "S200\nHTransfer-Encoding=chunked\nD\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n", O(0),
             "S200\nHTransfer-Encoding=chunked\nD\n" EPROTO_S);
}

Test(chunked, http10_with_te_processed_then_closed) {
  /* RFC 9112 §6.1: framing treated as faulty -> process, then close. */
  expect_log("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", O(0),
             "S200\nHConnection=keep-alive\nHTransfer-Encoding=chunked\nD\nB:hi\nC0\n");
}

/* ------------------------------------------------------------------ */
/* Responses without a body; read-until-close                          */
/* ------------------------------------------------------------------ */

Test(nobody, head_ignores_content_length) {
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", O(.head = 1), "S200\nHContent-Length=100\nD\nC1\n");
}

Test(nobody, head_ignores_chunked) {
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", O(.head = 1),
             "S200\nHTransfer-Encoding=chunked\nD\nC1\n");
}

Test(nobody, head_without_length_is_not_read_until_close) {
  expect_log("HTTP/1.1 200 OK\r\n\r\n", O(.head = 1), "S200\nD\nC1\n");
}

Test(nobody, head_bytes_after_are_unexpected) {
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", O(.head = 1),
             "S200\nHContent-Length=3\nD\nC1\n" EUNEXP_S);
}

Test(nobody, head_still_validates_framing_headers) {
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", O(.head = 1), "S200\n" EPROTO_S);
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", O(.head = 1),
             "S200\nHContent-Length=1\nHTransfer-Encoding=chunked\n" EPROTO_S);
}

Test(nobody, status_204_and_304) {
  expect_log("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", O(0), "S204\nHContent-Length=10\nD\nC1\n");
  expect_log("HTTP/1.1 204 No Content\r\n\r\n", O(0), "S204\nD\nC1\n");
  expect_log("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: \"x\"\r\n\r\n", O(0),
             "S304\nHContent-Length=10\nHETag=\"x\"\nD\nC1\n");
  expect_log("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", O(0),
             "S304\nHTransfer-Encoding=chunked\nD\nC1\n");
  expect_log("HTTP/1.0 304 Not Modified\r\n\r\n", O(0), "S304\nD\nC0\n");
}

Test(nobody, read_until_close) {
  expect_log("HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nsome body\r\nwith lines", O(0),
             "S200\nHX-A=1\nD\nB:some body\r\nwith lines\nC0\n");
  expect_log("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nabc", O(0), "S200\nHConnection=keep-alive\nD\nB:abc\nC0\n");
  expect_log("HTTP/1.0 200 OK\r\n\r\n", O(0), "S200\nD\nC0\n");
  expect_log("HTTP/1.1 200 OK\r\n\r\n", O(0), "S200\nD\nC0\n");
}

Test(nobody, read_until_close_without_eof_is_pending) {
  expect_log("HTTP/1.1 200 OK\r\n\r\nabc", O(.no_eof = 1), "S200\nD\nB:abc\n");
}

/* ------------------------------------------------------------------ */
/* 1xx                                                                 */
/* ------------------------------------------------------------------ */

Test(interim, continue_then_final) {
  expect_log("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", O(0),
             "S100\nS200\nHContent-Length=2\nD\nB:ok\nC1\n");
}

Test(interim, several_with_headers_not_reported) {
  expect_log("HTTP/1.1 100 Continue\r\nX-Ignored: 1\r\n\r\n"
             "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
             "HTTP/1.1 102 Processing\r\n\r\n"
             "HTTP/1.1 204 No Content\r\n\r\n",
             O(0), "S100\nS103\nS102\nS204\nD\nC1\n");
}

Test(interim, framing_headers_do_not_carry_over) {
  expect_log("HTTP/1.1 100 Continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
             O(0), "S100\nS200\nHTransfer-Encoding=chunked\nD\nB:x\nC1\n");
}

Test(interim, head_request) {
  expect_log("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", O(.head = 1),
             "S100\nS200\nHContent-Length=9\nD\nC1\n");
}

Test(interim, bad_field_in_1xx_rejected) {
  expect_log("HTTP/1.1 100 Continue\r\nX Y: z\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", O(0), "S100\n" EPROTO_S);
}

Test(interim, eof_after_1xx_is_truncation) {
  expect_log("HTTP/1.1 100 Continue\r\n\r\n", O(0), "S100\n" ETRUNC_S);
}

Test(interim, header_limit_is_per_response) {
  /* each header section is 40 bytes; limit 40 */
  const char *in = "HTTP/1.1 100 Continue\r\nX-A: 12345678\r\n\r\n"
                   "HTTP/1.1 200 OK\r\nContent-Length: 001\r\n\r\nx";
  cr_assert_eq(strlen("HTTP/1.1 100 Continue\r\nX-A: 12345678\r\n\r\n"), 40);
  cr_assert_eq(strlen("HTTP/1.1 200 OK\r\nContent-Length: 001\r\n\r\n"), 40);
  expect_log(in, O(.maxh = 40), "S100\nS200\nHContent-Length=001\nD\nB:x\nC1\n");
  expect_log(in, O(.maxh = 39), "S100\n" ETOOBIG_S);
}

/* ------------------------------------------------------------------ */
/* Keep-alive (RFC 9112 §9.3)                                          */
/* ------------------------------------------------------------------ */

Test(keepalive, http11_default_and_close) {
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", O(0), "S200\nHContent-Length=0\nD\nC1\n");
  expect_log("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", O(0),
             "S200\nHConnection=close\nHContent-Length=0\nD\nC0\n");
  expect_log("HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\nContent-Length: 0\r\n\r\n", O(0),
             "S200\nHConnection=Keep-Alive, CLOSE\nHContent-Length=0\nD\nC0\n");
  expect_log("HTTP/1.1 200 OK\r\nconnection: upgrade\r\nConnection: ,close,\r\nContent-Length: 0\r\n\r\n", O(0),
             "S200\nHconnection=upgrade\nHConnection=,close,\nHContent-Length=0\nD\nC0\n");
  expect_log("HTTP/1.1 200 OK\r\nConnection: closed, xclose, close-ish\r\nContent-Length: 0\r\n\r\n", O(0),
             "S200\nHConnection=closed, xclose, close-ish\nHContent-Length=0\nD\nC1\n");
  expect_log("HTTP/1.1 200 OK\r\nX-Connection: close\r\nContent-Length: 0\r\n\r\n", O(0),
             "S200\nHX-Connection=close\nHContent-Length=0\nD\nC1\n");
}

Test(keepalive, http10_default_and_keep_alive) {
  expect_log("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", O(0), "S200\nHContent-Length=0\nD\nC0\n");
  expect_log("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", O(0),
             "S200\nHConnection=keep-alive\nHContent-Length=0\nD\nC1\n");
  expect_log("HTTP/1.0 200 OK\r\nCONNECTION: KEEP-ALIVE\r\nContent-Length: 1\r\n\r\nx", O(0),
             "S200\nHCONNECTION=KEEP-ALIVE\nHContent-Length=1\nD\nB:x\nC1\n");
  expect_log("HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n", O(0),
             "S200\nHConnection=keep-alive, close\nHContent-Length=0\nD\nC0\n");
  expect_log("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nabc", O(0), "S200\nHConnection=keep-alive\nD\nB:abc\nC0\n");
}

Test(keepalive, no_body_responses_keep_alive) {
  expect_log("HTTP/1.1 204 No Content\r\n\r\n", O(0), "S204\nD\nC1\n");
  expect_log("HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n", O(0), "S304\nHConnection=close\nD\nC0\n");
}

/* ------------------------------------------------------------------ */
/* Pipelining and unexpected bytes                                     */
/* ------------------------------------------------------------------ */

Test(pipeline, two_responses_in_one_buffer) {
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n",
             O(.nresp = 2), "S200\nHContent-Length=3\nD\nB:abc\nC1\nS200\nHTransfer-Encoding=chunked\nD\nB:de\nC1\n");
}

Test(pipeline, three_responses_with_no_body_ones) {
  expect_log("HTTP/1.1 204 No Content\r\n\r\n"
             "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n"
             "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz",
             O(.nresp = 3), "S204\nD\nC1\nS100\nS304\nD\nC1\nS200\nHContent-Length=1\nD\nB:z\nC1\n");
}

Test(pipeline, feed_returns_consumed_up_to_end_of_response) {
  static rec_t r;
  rec_init(&r);
  const char *in = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 204 X\r\n\r\n";
  mesh__h1_parser p;
  mesh__h1_parser_init(&p, &CBS, &r, 0);
  mesh__h1_parser_expect(&p, 0);
  ssize_t n = mesh__h1_parser_feed(&p, in, strlen(in));
  cr_assert_eq(n, 39);
  cr_assert_eq(mesh__h1_parser_feed(&p, in + n, strlen(in) - (size_t)n), MESH__H1_EUNEXPECTED);
  mesh__h1_parser_expect(&p, 0);
  cr_assert_eq(mesh__h1_parser_feed(&p, in + n, strlen(in) - (size_t)n), (ssize_t)(strlen(in) - (size_t)n));
  cr_assert_eq(mesh__h1_parser_eof(&p), 0);
  cr_assert_str_eq(r.log, "S200\nHContent-Length=1\nD\nB:x\nC1\nS204\nD\nC1\n");
  mesh__h1_parser_free(&p);
}

Test(pipeline, extra_bytes_after_response_are_unexpected) {
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxy", O(0), "S200\nHContent-Length=1\nD\nB:x\nC1\n" EUNEXP_S);
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n\r\n", O(0), "S200\nHContent-Length=0\nD\nC1\n" EUNEXP_S);
}

Test(pipeline, feed_without_expect) {
  static rec_t r;
  rec_init(&r);
  mesh__h1_parser p;
  mesh__h1_parser_init(&p, &CBS, &r, 0);
  cr_assert_eq(mesh__h1_parser_feed(&p, "H", 1), MESH__H1_EUNEXPECTED);
  cr_assert_eq(mesh__h1_parser_feed(&p, "", 0), MESH__H1_EUNEXPECTED);
  cr_assert_eq(mesh__h1_parser_eof(&p), 0);
  cr_assert_eq(r.n, 0);
  /* not sticky: the parser can still be armed */
  mesh__h1_parser_expect(&p, 0);
  cr_assert_eq(mesh__h1_parser_feed(&p, "", 0), 0);
  cr_assert_eq(mesh__h1_parser_started(&p), 0);
  mesh__h1_parser_free(&p);
}

Test(pipeline, rearm_inside_on_complete_still_stops) {
  static rec_t r;
  rec_init(&r);
  const char *in = "HTTP/1.1 204 X\r\n\r\nHTTP/1.1 204 Y\r\n\r\n";
  mesh__h1_parser p;
  mesh__h1_parser_init(&p, &CBS, &r, 0);
  r.rearm = &p;
  mesh__h1_parser_expect(&p, 0);
  cr_assert_eq(mesh__h1_parser_feed(&p, in, strlen(in)), 18);
  cr_assert_eq(mesh__h1_parser_feed(&p, in + 18, strlen(in) - 18), (ssize_t)(strlen(in) - 18));
  cr_assert_str_eq(r.log, "S204\nD\nC1\nS204\nD\nC1\n");
  mesh__h1_parser_free(&p);
}

/* ------------------------------------------------------------------ */
/* Header size limit                                                   */
/* ------------------------------------------------------------------ */

#define LIM_MSG "HTTP/1.1 200 OK\r\nX-A: aaaaaaaaaa\r\nContent-Length: 2\r\n\r\nhi"
#define LIM_HDR_LEN (sizeof(LIM_MSG) - 1 - 2)

Test(limits, exact_limit_ok_one_less_too_big) {
  expect_log(LIM_MSG, O(.maxh = LIM_HDR_LEN), "S200\nHX-A=aaaaaaaaaa\nHContent-Length=2\nD\nB:hi\nC1\n");
  expect_log(LIM_MSG, O(.maxh = LIM_HDR_LEN - 1), "S200\nHX-A=aaaaaaaaaa\nHContent-Length=2\n" ETOOBIG_S);
  expect_log(LIM_MSG, O(.maxh = LIM_HDR_LEN - 2), "S200\nHX-A=aaaaaaaaaa\nHContent-Length=2\n" ETOOBIG_S);
  expect_log(LIM_MSG, O(.maxh = 17), "S200\n" ETOOBIG_S);
  expect_log(LIM_MSG, O(.maxh = 16), ETOOBIG_S);
  expect_log(LIM_MSG, O(.maxh = 1), ETOOBIG_S);
}

Test(limits, too_big_wins_over_later_syntax_error_in_same_line) {
  /* The over-long line also has a bad byte: the size is checked first, whatever the split. */
  expect_log("HTTP/1.1 200 OK\r\nX-A: a\rbcdefghijklmnopqrstuvwxyz\r\n\r\n", O(.maxh = 30), "S200\n" ETOOBIG_S);
}

Test(limits, huge_line_without_lf_stops_at_budget) {
  size_t n = 1 << 20;
  char *in = malloc(n);
  memcpy(in, "HTTP/1.1 200 OK\r\nX-Big: ", 24);
  memset(in + 24, 'a', n - 24);
  static rec_t r;
  rec_init(&r);
  mesh__h1_parser p;
  mesh__h1_parser_init(&p, &CBS, &r, 8192);
  mesh__h1_parser_expect(&p, 0);
  /* fed in 1000-byte pieces: the buffer never exceeds the limit */
  ssize_t rc = 0;
  size_t off = 0;
  while (off < n && (rc = mesh__h1_parser_feed(&p, in + off, 1000)) > 0) off += (size_t)rc;
  cr_assert_eq(rc, MESH__H1_ETOOBIG);
  cr_assert_leq(p.buf_cap, 8192);
  cr_assert_lt(off, 9000);
  /* sticky */
  cr_assert_eq(mesh__h1_parser_feed(&p, "x", 1), MESH__H1_ETOOBIG);
  cr_assert_eq(mesh__h1_parser_eof(&p), MESH__H1_ETOOBIG);
  mesh__h1_parser_free(&p);
  /* fed whole */
  mesh__h1_parser_init(&p, &CBS, &r, 8192);
  mesh__h1_parser_expect(&p, 0);
  cr_assert_eq(mesh__h1_parser_feed(&p, in, n), MESH__H1_ETOOBIG);
  cr_assert_null(p.buf);
  mesh__h1_parser_free(&p);
  free(in);
}

Test(limits, status_line_too_big) {
  expect_log("HTTP/1.1 200 OKOKOKOKOKOKOKOKOKOKOKOKOKOKOKOKOKOKOK\r\n\r\n", O(.maxh = 32), ETOOBIG_S);
}

Test(limits, trailer_section_bounded) {
  /* header section is 47 bytes; each trailer line 17, three of them + CRLF = 53 */
  const char *in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
                   "X-T: 0123456789\r\nX-T: 0123456789\r\nX-T: 0123456789\r\n\r\n";
  cr_assert_eq(strlen("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 47);
  expect_log(in, O(.maxh = 53), "S200\nHTransfer-Encoding=chunked\nD\nTX-T=0123456789\nTX-T=0123456789\n"
                                "TX-T=0123456789\nC1\n");
  expect_log(in, O(.maxh = 52), "S200\nHTransfer-Encoding=chunked\nD\nTX-T=0123456789\nTX-T=0123456789\n"
                                "TX-T=0123456789\n" ETOOBIG_S);
  expect_log(in, O(.maxh = 50), "S200\nHTransfer-Encoding=chunked\nD\nTX-T=0123456789\nTX-T=0123456789\n" ETOOBIG_S);
}

Test(limits, trailer_section_bounded_separately) {
  /* trailer line is 57 bytes, the header section 47 */
  const char *in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n"
                   "X-T: 01234567890123456789012345678901234567890123456789\r\n\r\n";
  expect_log(in, O(.maxh = 56), "S200\nHTransfer-Encoding=chunked\nD\nB:x\n" ETOOBIG_S);
  expect_log(in, O(.maxh = 58),
             "S200\nHTransfer-Encoding=chunked\nD\nB:x\nTX-T=01234567890123456789012345678901234567890123456789\n" ETOOBIG_S);
  expect_log(in, O(.maxh = 59),
             "S200\nHTransfer-Encoding=chunked\nD\nB:x\nTX-T=01234567890123456789012345678901234567890123456789\nC1\n");
}

Test(limits, chunk_extension_bounded) {
  const char *in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=0123456789012345678901234567890123456789\r\nx\r\n0\r\n\r\n";
  expect_log(in, O(.maxh = 47), "S200\nHTransfer-Encoding=chunked\nD\n" ETOOBIG_S);
  expect_log(in, O(.maxh = 48), "S200\nHTransfer-Encoding=chunked\nD\nB:x\nC1\n");
}

Test(limits, zero_means_default) {
  static rec_t r;
  rec_init(&r);
  mesh__h1_parser p;
  mesh__h1_parser_init(&p, &CBS, &r, 0);
  cr_assert_eq(p.max_header_bytes, MESH__H1_DEFAULT_MAX_HEADER_BYTES);
  mesh__h1_parser_free(&p);
}

Test(limits, buffer_reused_after_warmup) {
  static rec_t r;
  const char *in = "HTTP/1.1 200 OK\r\nX-A: 0123456789012345678901234567890123456789\r\nContent-Length: 1\r\n\r\nx";
  size_t len = strlen(in);
  mesh__h1_parser p;
  mesh__h1_parser_init(&p, &CBS, &r, 0);
  char *buf = NULL;
  size_t cap = 0;
  for (int round = 0; round < 50; round++) {
    rec_init(&r);
    mesh__h1_parser_expect(&p, 0);
    for (size_t i = 0; i < len; i++) cr_assert_eq(mesh__h1_parser_feed(&p, in + i, 1), 1);
    cr_assert_eq(r.completed, 1);
    if (round == 0) {
      buf = p.buf;
      cap = p.buf_cap;
      cr_assert_not_null(buf);
      cr_assert_leq(cap, 256);
    } else {
      cr_assert_eq(p.buf, buf);
      cr_assert_eq(p.buf_cap, cap);
    }
  }
  mesh__h1_parser_free(&p);
}

Test(limits, whole_input_needs_no_buffer) {
  static rec_t r;
  rec_init(&r);
  const char *in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\nT: 1\r\n\r\n";
  mesh__h1_parser p;
  mesh__h1_parser_init(&p, &CBS, &r, 0);
  mesh__h1_parser_expect(&p, 0);
  cr_assert_eq(mesh__h1_parser_feed(&p, in, strlen(in)), (ssize_t)strlen(in));
  cr_assert_null(p.buf);
  mesh__h1_parser_free(&p);
}

/* ------------------------------------------------------------------ */
/* eof()                                                               */
/* ------------------------------------------------------------------ */

Test(eof, idle_and_never_expected) {
  mesh__h1_parser p;
  mesh__h1_parser_init(&p, &CBS, NULL, 0);
  cr_assert_eq(mesh__h1_parser_eof(&p), 0);
  mesh__h1_parser_free(&p);
}

Test(eof, expected_but_nothing_received) {
  static rec_t r;
  rec_init(&r);
  mesh__h1_parser p;
  mesh__h1_parser_init(&p, &CBS, &r, 0);
  mesh__h1_parser_expect(&p, 0);
  cr_assert_eq(mesh__h1_parser_started(&p), 0);
  cr_assert_eq(mesh__h1_parser_eof(&p), MESH__H1_ETRUNC);
  cr_assert_eq(mesh__h1_parser_started(&p), 0);
  mesh__h1_parser_free(&p);
}

Test(eof, truncated_everywhere) {
  expect_log("HTTP/1.1 200 O", O(0), ETRUNC_S);
  expect_log("HTTP/1.1 200 OK\r\n", O(0), "S200\n" ETRUNC_S);
  expect_log("HTTP/1.1 200 OK\r\nX-A: 1", O(0), "S200\n" ETRUNC_S);
  expect_log("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", O(0), "S200\nHContent-Length=5\nD\nB:hel\n" ETRUNC_S);
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello", O(0),
             "S200\nHTransfer-Encoding=chunked\nD\nB:hello\n" ETRUNC_S);
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n", O(0),
             "S200\nHTransfer-Encoding=chunked\nD\nB:hello\n" ETRUNC_S);
  expect_log("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nT: 1\r\n", O(0),
             "S200\nHTransfer-Encoding=chunked\nD\nB:hello\nTT=1\n" ETRUNC_S);
}

Test(eof, started_flag) {
  static rec_t r;
  rec_init(&r);
  mesh__h1_parser p;
  mesh__h1_parser_init(&p, &CBS, &r, 0);
  mesh__h1_parser_expect(&p, 0);
  cr_assert_eq(mesh__h1_parser_feed(&p, "H", 1), 1);
  cr_assert_eq(mesh__h1_parser_started(&p), 1);
  cr_assert_eq(mesh__h1_parser_eof(&p), MESH__H1_ETRUNC);
  cr_assert_eq(mesh__h1_parser_eof(&p), MESH__H1_ETRUNC);
  cr_assert_eq(mesh__h1_parser_feed(&p, "TTP", 3), MESH__H1_ETRUNC);
  mesh__h1_parser_expect(&p, 0);
  cr_assert_eq(mesh__h1_parser_started(&p), 0);
  mesh__h1_parser_free(&p);
}

Test(eof, after_complete_is_zero) {
  static rec_t r;
  rec_init(&r);
  mesh__h1_parser p;
  mesh__h1_parser_init(&p, &CBS, &r, 0);
  mesh__h1_parser_expect(&p, 0);
  const char *in = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  cr_assert_eq(mesh__h1_parser_feed(&p, in, strlen(in)), (ssize_t)strlen(in));
  cr_assert_eq(mesh__h1_parser_eof(&p), 0);
  cr_assert_eq(r.completed, 1);
  mesh__h1_parser_free(&p);
}

/* ------------------------------------------------------------------ */
/* Callback aborts and NULL callbacks                                  */
/* ------------------------------------------------------------------ */

static void abort_case(const char *in, char ev, const char *exp) {
  static rec_t r;
  for (int mode = 0; mode < 2; mode++) {
    rec_init(&r);
    r.abort_on = ev;
    r.abort_rc = -7;
    mesh__h1_parser p;
    mesh__h1_parser_init(&p, &CBS, &r, 0);
    mesh__h1_parser_expect(&p, 0);
    ssize_t rc = 0;
    if (mode == 0) {
      rc = mesh__h1_parser_feed(&p, in, strlen(in));
    } else {
      for (size_t i = 0; i < strlen(in) && rc >= 0; i++) rc = mesh__h1_parser_feed(&p, in + i, 1);
    }
    if (rc >= 0) rc = mesh__h1_parser_eof(&p);
    cr_assert_eq(rc, -7, "abort on %c mode %d: rc %zd", ev, mode, rc);
    cr_assert_eq(mesh__h1_parser_feed(&p, "x", 1), -7);
    cr_assert_eq(mesh__h1_parser_eof(&p), -7);
    if (r.in_body) rec_event(&r, "%s", "");
    cr_assert_str_eq(r.log, exp, "abort on %c mode %d", ev, mode);
    mesh__h1_parser_free(&p);
  }
}

Test(callbacks, each_can_abort) {
  const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nT: 1\r\n\r\n";
  abort_case(chunked, 'S', "S200\n");
  abort_case(chunked, 'H', "S200\nHTransfer-Encoding=chunked\n");
  abort_case(chunked, 'D', "S200\nHTransfer-Encoding=chunked\nD\n");
  abort_case(chunked, 'B', "S200\nHTransfer-Encoding=chunked\nD\nB:a\n");
  abort_case("HTTP/1.1 200 OK\r\n\r\nz", 'B', "S200\nD\nB:z\n");
}

Test(callbacks, abort_trailer_complete_eofbody) {
  const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\r\n\r\n";
  abort_case(chunked, 'T', "S200\nHTransfer-Encoding=chunked\nD\nTT=1\n");
  abort_case(chunked, 'C', "S200\nHTransfer-Encoding=chunked\nD\nTT=1\nC1\n");
  abort_case("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 'C', "S200\nHContent-Length=0\nD\nC1\n");
  abort_case("HTTP/1.1 200 OK\r\n\r\n", 'C', "S200\nD\nC0\n"); /* from eof() */
  abort_case("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", 'S', "S100\n");
}

Test(callbacks, abort_in_body_whole) {
  static rec_t r;
  rec_init(&r);
  r.abort_on = 'B';
  r.abort_rc = -42;
  const char *in = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
  mesh__h1_parser p;
  mesh__h1_parser_init(&p, &CBS, &r, 0);
  mesh__h1_parser_expect(&p, 0);
  cr_assert_eq(mesh__h1_parser_feed(&p, in, strlen(in)), -42);
  cr_assert_eq(r.completed, 0);
  mesh__h1_parser_free(&p);
}

Test(callbacks, positive_return_continues) {
  static rec_t r;
  rec_init(&r);
  r.ret = 5;
  const char *in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nT: 1\r\n\r\n";
  size_t cuts[] = {30};
  drive(&r, in, strlen(in), cuts, 1, O(0));
  cr_assert_str_eq(r.log, "S200\nHTransfer-Encoding=chunked\nD\nB:ab\nTT=1\nC1\n");
}

Test(callbacks, all_null) {
  static const mesh__h1_callbacks none = {0};
  const char *in = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nT: 1\r\n\r\n";
  mesh__h1_parser p;
  mesh__h1_parser_init(&p, &none, NULL, 0);
  mesh__h1_parser_expect(&p, 0);
  cr_assert_eq(mesh__h1_parser_feed(&p, in, strlen(in)), (ssize_t)strlen(in));
  cr_assert_eq(mesh__h1_parser_feed(&p, "x", 1), MESH__H1_EUNEXPECTED);
  mesh__h1_parser_expect(&p, 0);
  cr_assert_eq(mesh__h1_parser_feed(&p, "HTTP/1.1 200 OK\r\n\r\nabc", 22), 22);
  cr_assert_eq(mesh__h1_parser_eof(&p), 0);
  mesh__h1_parser_free(&p);
}

Test(callbacks, expect_clears_error) {
  static rec_t r;
  rec_init(&r);
  mesh__h1_parser p;
  mesh__h1_parser_init(&p, &CBS, &r, 0);
  mesh__h1_parser_expect(&p, 0);
  cr_assert_eq(mesh__h1_parser_feed(&p, "XTTP/1.1 200 OK\r\n", 17), MESH__H1_EPROTO);
  cr_assert_eq(mesh__h1_parser_feed(&p, "", 0), MESH__H1_EPROTO);
  mesh__h1_parser_expect(&p, 0);
  cr_assert_eq(mesh__h1_parser_feed(&p, "HTTP/1.1 204 X\r\n\r\n", 18), 18);
  cr_assert_str_eq(r.log, "S204\nD\nC1\n");
  mesh__h1_parser_free(&p);
}

Test(callbacks, free_twice_and_reinit) {
  mesh__h1_parser p;
  mesh__h1_parser_init(&p, &CBS, NULL, 16);
  mesh__h1_parser_free(&p);
  mesh__h1_parser_free(&p);
}
