/*
 * HTTP/1.1 response parser (RFC 9112). See h1_parse.h for the contract.
 *
 * Design notes
 * - Line-oriented parts (status line, field lines, chunk-size lines, trailer
 *   lines) are located with memchr(). A line that is entirely inside the
 *   caller's input is parsed in place; only a line split across feed() calls
 *   is copied into p->buf, which grows geometrically up to max_header_bytes
 *   and is then reused for the life of the parser.
 * - Body bytes are handed to on_body() straight from the caller's input.
 * - Every line is bounded before it is searched: memchr() never scans more
 *   than the remaining budget, so a missing LF costs O(budget), and the
 *   outcome (ETOOBIG vs. EPROTO vs. success) does not depend on how the input
 *   was split across feed() calls.
 * - Strict: CRLF is required everywhere (a bare LF is an error), obs-fold is
 *   rejected, Transfer-Encoding together with Content-Length is rejected.
 */
#include "h1_parse.h"

#include <stdlib.h>
#include <string.h>

enum {
  S_IDLE = 0,   /* no response expected */
  S_STATUS,     /* expecting a status line */
  S_HEADER,     /* expecting a field line or the empty line */
  S_BODY_CL,    /* Content-Length body */
  S_BODY_EOF,   /* body delimited by connection close */
  S_CHUNK_SIZE, /* expecting chunk-size [ chunk-ext ] CRLF */
  S_CHUNK_DATA, /* inside chunk-data */
  S_CHUNK_CR,   /* expecting the CR after chunk-data */
  S_CHUNK_LF,   /* expecting the LF after chunk-data */
  S_TRAILER,    /* expecting a trailer field line or the final empty line */
  S_ERROR       /* dead; p->err holds the error */
};

#define F_HEAD 0x001u       /* the request was HEAD */
#define F_HTTP10 0x002u     /* response is HTTP/1.0 */
#define F_INTERIM 0x004u    /* current response is 1xx */
#define F_CONN_CLOSE 0x008u /* Connection: close */
#define F_CONN_KA 0x010u    /* Connection: keep-alive */
#define F_HAS_CL 0x020u     /* Content-Length seen */
#define F_HAS_TE 0x040u     /* Transfer-Encoding seen */
#define F_TE_CHUNKED 0x080u /* last transfer coding so far is chunked */
#define F_STARTED 0x100u    /* a byte of this response was consumed */
#define F_KEEPALIVE 0x200u  /* decided at end of header section */

/* Largest Content-Length or chunk size accepted: 2^62. */
#define MAX_BODY_LEN ((uint64_t)1 << 62)

/* tchar (RFC 9110 §5.6.2):
 *   "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 *   "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
static const unsigned char tchar[256] = {
  ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1,
  ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,
  ['~'] = 1,
  ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
  ['7'] = 1, ['8'] = 1, ['9'] = 1,
  ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
  ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
  ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
  ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
  ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
  ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
  ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
  ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static inline int is_ows(char c) { return c == ' ' || c == '\t'; }

static inline unsigned char lc(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

/* Case-insensitive compare of s[0..n) with a lowercase literal of length n. */
static int ieq(const char *s, const char *lit, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (lc((unsigned char)s[i]) != (unsigned char)lit[i]) return 0;
  return 1;
}

static inline int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lc(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Field values, reason phrases and chunk extensions must not carry NUL or CR
 * (RFC 9110 §5.5: "Field values containing CR, LF, or NUL characters are
 * invalid and dangerous"). LF cannot occur: lines are split at LF. */
static int has_nul_or_cr(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\0' || c == '\r') return 1;
  }
  return 0;
}

static void trim_ows(const char **s, const char **e) {
  while (*s < *e && is_ows(**s)) (*s)++;
  while (*e > *s && is_ows((*e)[-1])) (*e)--;
}

static ssize_t fail(mesh__h1_parser *p, int rc) {
  p->err = rc;
  p->state = S_ERROR;
  p->buf_len = 0;
  return rc;
}

/* ------------------------------------------------------------------ */
/* Public lifecycle                                                    */
/* ------------------------------------------------------------------ */

void mesh__h1_parser_init(mesh__h1_parser *p, const mesh__h1_callbacks *cb, void *ud, size_t max_header_bytes) {
  memset(p, 0, sizeof(*p));
  p->cb = cb;
  p->ud = ud;
  p->max_header_bytes = max_header_bytes ? max_header_bytes : MESH__H1_DEFAULT_MAX_HEADER_BYTES;
  p->state = S_IDLE;
}

void mesh__h1_parser_free(mesh__h1_parser *p) {
  free(p->buf);
  p->buf = NULL;
  p->buf_len = p->buf_cap = 0;
  p->state = S_IDLE;
}

static void reset_message(mesh__h1_parser *p) {
  p->state = S_STATUS;
  p->flags &= (F_HEAD | F_STARTED);
  p->hdr_bytes = 0;
  p->buf_len = 0;
  p->remaining = 0;
  p->content_length = 0;
  p->status = 0;
}

void mesh__h1_parser_expect(mesh__h1_parser *p, int head_request) {
  p->flags = head_request ? F_HEAD : 0;
  p->err = 0;
  reset_message(p);
}

int mesh__h1_parser_started(const mesh__h1_parser *p) {
  return (p->flags & F_STARTED) ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* Line acquisition                                                    */
/* ------------------------------------------------------------------ */

static int buf_append(mesh__h1_parser *p, const char *d, size_t n) {
  size_t need = p->buf_len + n;
  if (need > p->buf_cap) {
    /* need <= max_header_bytes is guaranteed by the callers' budget checks. */
    size_t cap = p->buf_cap ? p->buf_cap : 256;
    while (cap < need && cap <= SIZE_MAX / 2) cap *= 2;
    if (cap > p->max_header_bytes) cap = p->max_header_bytes;
    if (cap < need) cap = need;
    char *nb = realloc(p->buf, cap);
    if (!nb) return MESH__H1_ENOMEM;
    p->buf = nb;
    p->buf_cap = cap;
  }
  memcpy(p->buf + p->buf_len, d, n);
  p->buf_len = need;
  return 0;
}

/*
 * Get the next CRLF-terminated line, at most `budget` bytes long including
 * the CRLF. On 1, *line and *n hold the line without its CRLF, *total its length
 * with it, and *dp has moved past it. On 0, all input was buffered. Negative
 * on error. RFC 9112 §2.2: we do not accept a bare LF as a line terminator.
 */
static int get_line(mesh__h1_parser *p, const char **dp, const char *end, size_t budget,
                    const char **line, size_t *n, size_t *total) {
  const char *d = *dp;
  size_t avail = (size_t)(end - d);
  size_t have = p->buf_len;
  size_t room = budget > have ? budget - have : 0;
  size_t scan = avail < room ? avail : room;
  const char *lf = scan ? memchr(d, '\n', scan) : NULL;
  if (!lf) {
    if (avail >= room) return MESH__H1_ETOOBIG; /* no LF within the budget */
    int rc = buf_append(p, d, avail);
    if (rc < 0) return rc;
    *dp = end;
    return 0;
  }
  size_t take = (size_t)(lf - d) + 1;
  const char *l;
  size_t t;
  if (have == 0) {
    l = d;
    t = take;
  } else {
    int rc = buf_append(p, d, take);
    if (rc < 0) return rc;
    l = p->buf;
    t = p->buf_len;
    p->buf_len = 0; /* nothing appends to buf while this line is in use */
  }
  *dp = lf + 1;
  if (t < 2 || l[t - 2] != '\r') return MESH__H1_EPROTO; /* bare LF */
  *line = l;
  *n = t - 2;
  *total = t;
  return 1;
}

/* ------------------------------------------------------------------ */
/* Line parsers                                                        */
/* ------------------------------------------------------------------ */

/*
 * status-line = HTTP-version SP status-code SP [ reason-phrase ]  (RFC 9112 §4)
 * HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3).
 * Leniency: "HTTP/1.1 200" without the second SP is accepted.
 */
static int parse_status_line(mesh__h1_parser *p, const char *l, size_t n) {
  if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0) return MESH__H1_EPROTO;
  if (l[7] == '0')
    p->flags |= F_HTTP10;
  else if (l[7] != '1')
    return MESH__H1_EPROTO;
  if (l[8] != ' ') return MESH__H1_EPROTO;
  unsigned d0 = (unsigned char)l[9] - '0', d1 = (unsigned char)l[10] - '0', d2 = (unsigned char)l[11] - '0';
  if (d0 > 9 || d1 > 9 || d2 > 9) return MESH__H1_EPROTO;
  int status = (int)(d0 * 100 + d1 * 10 + d2);
  /* RFC 9110 §15: valid status codes are 100..599. */
  if (status < 100 || status > 599) return MESH__H1_EPROTO;
  if (n > 12) {
    if (l[12] != ' ') return MESH__H1_EPROTO;
    if (has_nul_or_cr(l + 13, n - 13)) return MESH__H1_EPROTO;
  }
  /* 101 Switching Protocols: we never ask for an upgrade (RFC 9110 §15.2.2). */
  if (status == 101) return MESH__H1_EPROTO;
  p->status = status;
  if (status < 200) p->flags |= F_INTERIM;
  return 0;
}

/*
 * field-line = field-name ":" OWS field-value OWS  (RFC 9112 §5)
 * No whitespace between name and colon (§5.1), no obs-fold (§5.2).
 */
static int parse_field(const char *l, size_t n, const char **name, size_t *name_len,
                       const char **val, size_t *val_len) {
  size_t i = 0;
  while (i < n && tchar[(unsigned char)l[i]]) i++;
  /* Empty name, obs-fold (line starting with SP/HTAB), whitespace before the
   * colon and any non-token byte in the name all land here. */
  if (i == 0 || i == n || l[i] != ':') return MESH__H1_EPROTO;
  const char *vs = l + i + 1, *ve = l + n;
  if (has_nul_or_cr(vs, (size_t)(ve - vs))) return MESH__H1_EPROTO;
  trim_ows(&vs, &ve);
  *name = l;
  *name_len = i;
  *val = vs;
  *val_len = (size_t)(ve - vs);
  return 0;
}

/* Next element of a comma-separated list (RFC 9110 §5.6.1), trimmed of OWS.
 * Returns 0 when the list is exhausted. Empty elements are returned as such. */
static int list_next(const char **cur, const char *end, const char **es, const char **ee) {
  const char *s = *cur;
  if (s > end) return 0;
  const char *c = memchr(s, ',', (size_t)(end - s));
  const char *e = c ? c : end;
  *cur = c ? c + 1 : end + 1;
  trim_ows(&s, &e);
  *es = s;
  *ee = e;
  return 1;
}

/* Content-Length = 1*DIGIT (RFC 9112 §6.3, RFC 9110 §8.6). A list of identical
 * values ("5, 5") and repeated identical fields are accepted; anything else
 * that disagrees is an error (§6.3 item 5). */
static int parse_content_length(mesh__h1_parser *p, const char *v, size_t n) {
  const char *cur = v, *end = v + n, *s, *e;
  while (list_next(&cur, end, &s, &e)) {
    if (s == e) return MESH__H1_EPROTO;
    uint64_t x = 0;
    for (; s < e; s++) {
      unsigned dg = (unsigned char)*s - '0';
      if (dg > 9) return MESH__H1_EPROTO;
      if (x > (MAX_BODY_LEN - dg) / 10) return MESH__H1_EPROTO;
      x = x * 10 + dg;
    }
    if ((p->flags & F_HAS_CL) && p->content_length != x) return MESH__H1_EPROTO;
    p->content_length = x;
    p->flags |= F_HAS_CL;
  }
  return 0;
}

/* Transfer-Encoding = #transfer-coding (RFC 9112 §6.1). "chunked" must be the
 * final coding and must not be applied twice; we check that across all
 * Transfer-Encoding field lines (they form one list, RFC 9110 §5.3). */
static int parse_transfer_encoding(mesh__h1_parser *p, const char *v, size_t n) {
  const char *cur = v, *end = v + n, *s, *e;
  p->flags |= F_HAS_TE;
  while (list_next(&cur, end, &s, &e)) {
    if (s == e) continue; /* empty list elements are ignored (RFC 9110 §5.6.1) */
    /* transfer-coding = token *( OWS ";" OWS transfer-parameter ) */
    const char *t = s;
    while (t < e && tchar[(unsigned char)*t]) t++;
    if (t == s) return MESH__H1_EPROTO;
    const char *r = t;
    while (r < e && is_ows(*r)) r++;
    if (r < e && *r != ';') return MESH__H1_EPROTO;
    /* Anything after chunked means chunked is not final (or applied twice). */
    if (p->flags & F_TE_CHUNKED) return MESH__H1_EPROTO;
    if ((size_t)(t - s) == 7 && ieq(s, "chunked", 7)) p->flags |= F_TE_CHUNKED;
  }
  return 0;
}

/* connection-option tokens (RFC 9110 §7.6.1), case-insensitive. */
static void parse_connection(mesh__h1_parser *p, const char *v, size_t n) {
  const char *cur = v, *end = v + n, *s, *e;
  while (list_next(&cur, end, &s, &e)) {
    size_t l = (size_t)(e - s);
    if (l == 5 && ieq(s, "close", 5))
      p->flags |= F_CONN_CLOSE;
    else if (l == 10 && ieq(s, "keep-alive", 10))
      p->flags |= F_CONN_KA;
  }
}

static int on_field(mesh__h1_parser *p, const char *name, size_t nl, const char *val, size_t vl) {
  int rc;
  switch (nl) {
  case 10:
    if (ieq(name, "connection", 10)) parse_connection(p, val, vl);
    break;
  case 14:
    if (ieq(name, "content-length", 14) && (rc = parse_content_length(p, val, vl)) < 0) return rc;
    break;
  case 17:
    if (ieq(name, "transfer-encoding", 17) && (rc = parse_transfer_encoding(p, val, vl)) < 0) return rc;
    break;
  default:
    break;
  }
  return 0;
}

/* Callbacks return 0 to continue or < 0 to abort; positive values count as 0. */
static inline int cb_ret(int x) { return x < 0 ? x : 0; }

/* Message done. Returns DONE (> 0) so that feed() stops right here even if
 * on_complete() re-armed the parser with expect(), or the callback's abort. */
#define DONE 1
static int complete(mesh__h1_parser *p) {
  int ka = (p->flags & F_KEEPALIVE) ? 1 : 0;
  p->state = S_IDLE;
  int rc = p->cb->on_complete ? p->cb->on_complete(p->ud, ka) : 0;
  return rc < 0 ? rc : DONE;
}

/* End of the header section of a final response: decide framing
 * (RFC 9112 §6.3) and persistence (RFC 9112 §9.3). */
static int headers_done(mesh__h1_parser *p) {
  unsigned f = p->flags;
  int ka;
  /* §6.3 item 4: a Transfer-Encoding whose final coding is not chunked.
   * For a response that would mean read-until-close; we are strict. */
  if ((f & F_HAS_TE) && !(f & F_TE_CHUNKED)) return MESH__H1_EPROTO;
  /* §6.3 item 3: TE and CL together is a smuggling vector; reject. */
  if ((f & F_HAS_TE) && (f & F_HAS_CL)) return MESH__H1_EPROTO;
  /* §9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive". */
  if (f & F_HTTP10)
    ka = (f & F_CONN_KA) && !(f & F_CONN_CLOSE);
  else
    ka = !(f & F_CONN_CLOSE);

  int body; /* 0 none, 1 CL, 2 chunked, 3 until close */
  if ((f & F_HEAD) || p->status == 204 || p->status == 304) {
    body = 0; /* §6.3 item 1 */
  } else if (f & F_HAS_TE) {
    body = 2; /* §6.3 item 4 */
    /* §6.1: Transfer-Encoding in an HTTP/1.0 message: process it, then close. */
    if (f & F_HTTP10) ka = 0;
  } else if (f & F_HAS_CL) {
    body = p->content_length ? 1 : 0; /* §6.3 item 6 */
  } else {
    body = 3; /* §6.3 item 8 */
    ka = 0;
  }
  if (ka) p->flags |= F_KEEPALIVE;

  int rc = p->cb->on_headers_done ? cb_ret(p->cb->on_headers_done(p->ud)) : 0;
  if (rc < 0) return rc;
  switch (body) {
  case 0:
    return complete(p);
  case 1:
    p->remaining = p->content_length;
    p->state = S_BODY_CL;
    break;
  case 2:
    p->state = S_CHUNK_SIZE;
    break;
  default:
    p->state = S_BODY_EOF;
    break;
  }
  return 0;
}

/* A header-section line (status or field) of n bytes (total with CRLF). */
static int header_line(mesh__h1_parser *p, const char *l, size_t n, size_t total) {
  int rc;
  p->hdr_bytes += total;
  if (p->state == S_STATUS) {
    if ((rc = parse_status_line(p, l, n)) < 0) return rc;
    p->state = S_HEADER;
    return p->cb->on_status ? cb_ret(p->cb->on_status(p->ud, p->status)) : 0;
  }
  if (n == 0) {
    if (p->flags & F_INTERIM) {
      /* RFC 9110 §15.2: a 1xx is followed by the final response on the
       * same connection; its fields were validated but are not reported. */
      reset_message(p);
      return 0;
    }
    return headers_done(p);
  }
  const char *name, *val;
  size_t nl, vl;
  if ((rc = parse_field(l, n, &name, &nl, &val, &vl)) < 0) return rc;
  if (p->flags & F_INTERIM) return 0;
  if ((rc = on_field(p, name, nl, val, vl)) < 0) return rc;
  return p->cb->on_header ? cb_ret(p->cb->on_header(p->ud, name, nl, val, vl)) : 0;
}

/* chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF  (RFC 9112 §7.1)
 * chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 * Extensions are skipped (§7.1.1), but must not carry NUL or CR. */
static int chunk_size_line(mesh__h1_parser *p, const char *l, size_t n) {
  size_t i = 0;
  uint64_t v = 0;
  int h;
  while (i < n && (h = hexval((unsigned char)l[i])) >= 0) {
    if (v > (MAX_BODY_LEN - (uint64_t)h) / 16) return MESH__H1_EPROTO;
    v = v * 16 + (uint64_t)h;
    i++;
  }
  if (i == 0) return MESH__H1_EPROTO;
  if (i < n) {
    size_t j = i;
    while (j < n && is_ows(l[j])) j++;
    if (j == n || l[j] != ';') return MESH__H1_EPROTO;
    if (has_nul_or_cr(l + j, n - j)) return MESH__H1_EPROTO;
  }
  if (v == 0) {
    /* last-chunk: the trailer section follows (§7.1.2), bounded afresh. */
    p->state = S_TRAILER;
    p->hdr_bytes = 0;
  } else {
    p->remaining = v;
    p->state = S_CHUNK_DATA;
  }
  return 0;
}

/* trailer-section = *( field-line CRLF )  (RFC 9112 §7.1.2) */
static int trailer_line(mesh__h1_parser *p, const char *l, size_t n, size_t total) {
  int rc;
  p->hdr_bytes += total;
  if (n == 0) return complete(p);
  const char *name, *val;
  size_t nl, vl;
  if ((rc = parse_field(l, n, &name, &nl, &val, &vl)) < 0) return rc;
  return p->cb->on_trailer ? cb_ret(p->cb->on_trailer(p->ud, name, nl, val, vl)) : 0;
}

/* ------------------------------------------------------------------ */
/* feed / eof                                                          */
/* ------------------------------------------------------------------ */

ssize_t mesh__h1_parser_feed(mesh__h1_parser *p, const char *data, size_t len) {
  if (p->state == S_ERROR) return p->err;
  if (p->state == S_IDLE) return MESH__H1_EUNEXPECTED;
  const char *d = data, *end = data + len;
  if (len) p->flags |= F_STARTED;
  while (d < end) {
    int rc;
    switch (p->state) {
    case S_STATUS:
    case S_HEADER:
    case S_TRAILER:
    case S_CHUNK_SIZE: {
      const char *l;
      size_t n, total;
      size_t max = p->max_header_bytes;
      size_t budget = p->state == S_CHUNK_SIZE ? max : (p->hdr_bytes < max ? max - p->hdr_bytes : 0);
      rc = get_line(p, &d, end, budget, &l, &n, &total);
      if (rc == 0) return (ssize_t)len; /* all buffered */
      if (rc < 0) return fail(p, rc);
      if (p->state == S_CHUNK_SIZE)
        rc = chunk_size_line(p, l, n);
      else if (p->state == S_TRAILER)
        rc = trailer_line(p, l, n, total);
      else
        rc = header_line(p, l, n, total);
      if (rc < 0) return fail(p, rc);
      if (rc == DONE) return d - data;
      break;
    }
    case S_BODY_CL:
    case S_CHUNK_DATA: {
      size_t avail = (size_t)(end - d);
      size_t take = p->remaining < avail ? (size_t)p->remaining : avail;
      rc = p->cb->on_body ? cb_ret(p->cb->on_body(p->ud, d, take)) : 0;
      if (rc < 0) return fail(p, rc);
      d += take;
      p->remaining -= take;
      if (p->remaining == 0) {
        if (p->state == S_CHUNK_DATA) {
          p->state = S_CHUNK_CR;
        } else {
          if ((rc = complete(p)) < 0) return fail(p, rc);
          return d - data;
        }
      }
      break;
    }
    case S_CHUNK_CR:
      if (*d != '\r') return fail(p, MESH__H1_EPROTO);
      d++;
      p->state = S_CHUNK_LF;
      break;
    case S_CHUNK_LF:
      if (*d != '\n') return fail(p, MESH__H1_EPROTO);
      d++;
      p->state = S_CHUNK_SIZE;
      break;
    case S_BODY_EOF:
      rc = p->cb->on_body ? cb_ret(p->cb->on_body(p->ud, d, (size_t)(end - d))) : 0;
      if (rc < 0) return fail(p, rc);
      d = end;
      break;
    default: /* unreachable: S_IDLE/S_ERROR are handled above and by DONE */
      return d - data;
    }
  }
  return d - data;
}

int mesh__h1_parser_eof(mesh__h1_parser *p) {
  switch (p->state) {
  case S_IDLE:
    return 0;
  case S_ERROR:
    return p->err;
  case S_BODY_EOF: {
    /* RFC 9112 §6.3 item 8: the close delimits the body. */
    int rc = complete(p);
    return rc < 0 ? (int)fail(p, rc) : 0;
  }
  default:
    return (int)fail(p, MESH__H1_ETRUNC);
  }
}
