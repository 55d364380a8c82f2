/*
 * libFuzzer target for the HTTP/1.1 response parser (lib/http/h1_parse.c).
 *
 * Each input is parsed as a stream of pipelined responses (the parser is
 * re-armed after every completed response, up to MAX_RESPONSES, then eof()),
 * under a few configurations (GET/HEAD, small/large max_header_bytes). For
 * each configuration the input is fed whole, one byte at a time and split at
 * several points; the outcome (a hash of the callback sequence with body
 * bytes coalesced, plus the final return code) must be identical every time.
 * Callback arguments are also checked against the parser's contract.
 *
 * Build for fuzzing:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ilib \
 *     lib/http/h1_parse.c t/fuzz/fuzz_h1_parse.c -o fuzz_h1_parse
 *   ./fuzz_h1_parse t/fuzz/corpus/h1_parse
 * Build as a plain corpus replayer (no clang needed):
 *   cc -DMESH_FUZZ_STANDALONE -Ilib lib/http/h1_parse.c t/fuzz/fuzz_h1_parse.c -o fuzz_h1_parse
 *   ./fuzz_h1_parse t/fuzz/corpus/h1_parse     (files or directories)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/h1_parse.h"

#define MAX_RESPONSES 64

typedef struct outcome {
  uint64_t h;     /* FNV-1a over the event stream */
  uint64_t nev;   /* events (body runs count once) */
  int in_body;
  int completed;
  int rc;         /* first error from feed()/eof(), or 0 */
} outcome_t;

static void die(const char *what) {
  fprintf(stderr, "fuzz_h1_parse: %s\n", what);
  abort();
}

static void mix(outcome_t *o, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) {
    o->h ^= b[i];
    o->h *= 0x100000001b3ULL;
  }
}

static void event(outcome_t *o, char tag) {
  o->in_body = 0;
  o->nev++;
  mix(o, &tag, 1);
}

static int is_tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void check_field(const char *n, size_t nl, const char *v, size_t vl) {
  if (nl == 0) die("empty field name");
  for (size_t i = 0; i < nl; i++)
    if (!is_tchar((unsigned char)n[i])) die("non-token field name");
  for (size_t i = 0; i < vl; i++)
    if (v[i] == '\0' || v[i] == '\r' || v[i] == '\n') die("NUL/CR/LF in field value");
  if (vl && (v[0] == ' ' || v[0] == '\t' || v[vl - 1] == ' ' || v[vl - 1] == '\t')) die("value not trimmed");
}

static void mix_field(outcome_t *o, const char *n, size_t nl, const char *v, size_t vl) {
  mix(o, &nl, sizeof(nl));
  mix(o, n, nl);
  mix(o, &vl, sizeof(vl));
  mix(o, v, vl);
}

static int f_status(void *ud, int status) {
  outcome_t *o = ud;
  if (status < 100 || status > 599 || status == 101) die("bad status reported");
  event(o, 'S');
  mix(o, &status, sizeof(status));
  return 0;
}
static int f_header(void *ud, const char *n, size_t nl, const char *v, size_t vl) {
  outcome_t *o = ud;
  check_field(n, nl, v, vl);
  event(o, 'H');
  mix_field(o, n, nl, v, vl);
  return 0;
}
static int f_headers_done(void *ud) {
  event(ud, 'D');
  return 0;
}
static int f_body(void *ud, const char *d, size_t len) {
  outcome_t *o = ud;
  if (len == 0) die("empty on_body");
  if (!o->in_body) {
    event(o, 'B');
    o->in_body = 1;
  }
  mix(o, d, len);
  return 0;
}
static int f_trailer(void *ud, const char *n, size_t nl, const char *v, size_t vl) {
  outcome_t *o = ud;
  check_field(n, nl, v, vl);
  event(o, 'T');
  mix_field(o, n, nl, v, vl);
  return 0;
}
static int f_complete(void *ud, int ka) {
  outcome_t *o = ud;
  if (ka != 0 && ka != 1) die("keep_alive not 0/1");
  event(o, ka ? 'K' : 'C');
  o->completed++;
  return 0;
}

static const mesh__h1_callbacks CBS = {f_status, f_header, f_headers_done, f_body, f_trailer, f_complete};

typedef struct config {
  int head;
  size_t maxh;
} config_t;

/* Feed data in pieces ending at cuts[] (ascending, <= len) and then at len. */
static outcome_t run(const uint8_t *data, size_t len, const size_t *cuts, size_t ncuts, config_t c) {
  outcome_t o;
  mesh__h1_parser p;
  memset(&o, 0, sizeof(o));
  o.h = 0xcbf29ce484222325ULL;
  mesh__h1_parser_init(&p, &CBS, &o, c.maxh);
  mesh__h1_parser_expect(&p, c.head);
  int handled = 0;
  size_t prev = 0;
  for (size_t k = 0; k <= ncuts; k++) {
    size_t next = k < ncuts ? cuts[k] : len;
    if (next < prev) next = prev;
    const char *piece = (const char *)data + prev;
    size_t plen = next - prev;
    prev = next;
    while (plen > 0) {
      ssize_t n = mesh__h1_parser_feed(&p, piece, plen);
      if (n < 0) {
        o.rc = (int)n;
        goto out;
      }
      if ((size_t)n > plen) die("feed consumed more than given");
      if ((size_t)n < plen && o.completed == handled) die("feed stopped early without completing");
      piece += n;
      plen -= (size_t)n;
      if (o.completed > handled) {
        if (o.completed != handled + 1) die("more than one completion in one feed");
        handled = o.completed;
        if (handled < MAX_RESPONSES) mesh__h1_parser_expect(&p, c.head);
      }
    }
  }
  o.rc = mesh__h1_parser_eof(&p);
out:
  if (p.buf_cap > (c.maxh ? c.maxh : MESH__H1_DEFAULT_MAX_HEADER_BYTES)) die("line buffer exceeded the limit");
  /* a sticky error must stay sticky */
  if (o.rc < 0 && o.rc != MESH__H1_EUNEXPECTED) {
    if (mesh__h1_parser_feed(&p, "x", 1) != o.rc) die("error not sticky (feed)");
    if (mesh__h1_parser_eof(&p) != o.rc) die("error not sticky (eof)");
  }
  mesh__h1_parser_free(&p);
  mix(&o, &o.rc, sizeof(o.rc));
  return o;
}

static void same(const outcome_t *a, const outcome_t *b, const char *how) {
  if (a->h != b->h || a->nev != b->nev || a->rc != b->rc || a->completed != b->completed) {
    fprintf(stderr, "fuzz_h1_parse: outcome differs when fed %s: rc %d vs %d, events %llu vs %llu, completed %d vs %d\n",
            how, a->rc, b->rc, (unsigned long long)a->nev, (unsigned long long)b->nev, a->completed, b->completed);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const config_t configs[] = {{0, 256}, {1, 96}, {0, 0}};
  size_t *cuts = malloc((size + 1) * sizeof(*cuts));
  if (!cuts) return 0;
  /* cheap deterministic "random" split points derived from the input */
  uint64_t seed = 0x9e3779b97f4a7c15ULL ^ size;
  for (size_t i = 0; i < size && i < 64; i++) seed = (seed ^ data[i]) * 0x100000001b3ULL;

  for (size_t ci = 0; ci < sizeof(configs) / sizeof(configs[0]); ci++) {
    config_t c = configs[ci];
    outcome_t whole = run(data, size, NULL, 0, c), o;

    /* one byte at a time (bounded so that huge inputs stay fast) */
    if (size <= 8192) {
      for (size_t i = 0; i + 1 < size; i++) cuts[i] = i + 1;
      o = run(data, size, cuts, size ? size - 1 : 0, c);
      same(&whole, &o, "byte by byte");
    }
    /* fixed split points */
    const size_t fixed[] = {1, 2, size / 2, size > 0 ? size - 1 : 0, size > 1 ? size - 2 : 0, 17, 40};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
      if (fixed[i] > size) continue;
      cuts[0] = fixed[i];
      o = run(data, size, cuts, 1, c);
      same(&whole, &o, "split once");
    }
    /* several pseudo-random multi-way splits */
    if (size > 2) {
      for (int r = 0; r < 3; r++) {
        size_t n = 0, at = 0;
        while (n < 8) {
          seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
          at += 1 + (size_t)((seed >> 33) % (size / 4 + 1));
          if (at >= size) break;
          cuts[n++] = at;
        }
        o = run(data, size, cuts, n, c);
        same(&whole, &o, "split randomly");
      }
    }
  }
  free(cuts);
  return 0;
}

#ifdef MESH_FUZZ_STANDALONE
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_h1_parse", argc, argv); }
#endif
