/* YAML/JSON text -> a tree of mesh__node with line numbers, via libyaml's
 * event parser (YAML 1.1; every JSON text is also read by it).
 *
 * Limits are enforced while parsing, before anything is expanded: nesting
 * depth (max_depth), nodes including alias expansions (max_nodes), and the
 * size of one scalar (MESH__PBJSON_MAX_STRING). An alias shares the node it
 * names and adds that node's whole weight to the count, so a "billion
 * laughs" document stops at max_nodes with O(input) memory. An anchor is
 * defined only once its node is complete, so a node cannot contain itself.
 *
 * Why libyaml: the YAML 1.1 reference parser in C, packaged everywhere
 * (Debian libyaml-dev), event based (no recursion, no DOM we would have to
 * bound afterwards), gives line numbers, and reads JSON, so one parser serves
 * both file formats. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/arena.h"
#include "xds/pbjson_int.h"

struct mesh__doc {
  mesh__arena *arena;
  const mesh__node *root;
  char *text; /* rewritten input, when surrogate pairs were rewritten */
};

typedef struct frame {
  mesh__node *node;
  size_t first;       /* index of its first child in kids */
  const char *anchor; /* to define when the node is complete */
} frame;

typedef struct anchor {
  const char *name;
  const mesh__node *node;
} anchor;

typedef struct pctx {
  mesh__arena *a;
  size_t max_depth, max_nodes, nodes;
  frame *stack;
  size_t nstack, capstack;
  const mesh__node **kids;
  size_t nkids, capkids;
  anchor *tab; /* open addressing, power-of-two capacity */
  size_t ntab, captab;
  const mesh__node *root;
  int ndocs;
  mesh__pbjson_report *r;
  int failed;
} pctx;

static void perr(pctx *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void perr(pctx *p, int line, const char *fmt, ...) {
  if (p->failed) return;
  p->failed = 1;
  if (!p->r) return;
  va_list ap;
  va_start(ap, fmt);
  mesh__pbjson_note_set(&p->r->error, "", line, fmt, ap);
  va_end(ap);
}

static int mark_line(const yaml_mark_t *m) { return m->line < INT32_MAX ? (int)m->line + 1 : INT32_MAX; }

static size_t sat_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

/* ----------------------------------------------------------------- anchors */

static uint32_t name_hash(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static int anchor_define(pctx *p, const char *name, const mesh__node *n) {
  if (p->ntab * 2 >= p->captab) {
    size_t cap = p->captab ? p->captab * 2 : 16;
    anchor *t = calloc(cap, sizeof(*t));
    if (!t) return -1;
    for (size_t i = 0; i < p->captab; i++) {
      if (!p->tab[i].name) continue;
      size_t j = name_hash(p->tab[i].name) & (cap - 1);
      while (t[j].name) j = (j + 1) & (cap - 1);
      t[j] = p->tab[i];
    }
    free(p->tab);
    p->tab = t;
    p->captab = cap;
  }
  size_t j = name_hash(name) & (p->captab - 1);
  while (p->tab[j].name) {
    if (strcmp(p->tab[j].name, name) == 0) { /* redefinition: later aliases see the new node */
      p->tab[j].node = n;
      return 0;
    }
    j = (j + 1) & (p->captab - 1);
  }
  p->tab[j].name = name;
  p->tab[j].node = n;
  p->ntab++;
  return 0;
}

static const mesh__node *anchor_find(const pctx *p, const char *name) {
  if (!p->captab) return NULL;
  size_t j = name_hash(name) & (p->captab - 1);
  while (p->tab[j].name) {
    if (strcmp(p->tab[j].name, name) == 0) return p->tab[j].node;
    j = (j + 1) & (p->captab - 1);
  }
  return NULL;
}

/* ------------------------------------------------------------------- nodes */

static int count(pctx *p, size_t n, int line) {
  p->nodes = sat_add(p->nodes, n);
  if (p->nodes > p->max_nodes) {
    perr(p, line, "document too large: more than %zu nodes (aliases count once per use)", p->max_nodes);
    return -1;
  }
  return 0;
}

static int add_node(pctx *p, const mesh__node *n) {
  if (p->nstack == 0) {
    p->root = n;
    return 0;
  }
  const frame *f = &p->stack[p->nstack - 1];
  if (f->node->kind == MESH__NODE_MAP && (p->nkids - f->first) % 2 == 0) {
    if (n->kind == MESH__NODE_MAP || n->kind == MESH__NODE_SEQ) {
      perr(p, (int)n->line, "a mapping key must be a scalar, not a %s",
           n->kind == MESH__NODE_MAP ? "mapping" : "sequence");
      return -1;
    }
    if (!n->quoted && n->len == 2 && memcmp(n->u.str, "<<", 2) == 0) {
      perr(p, (int)n->line, "YAML merge keys (<<) are not supported");
      return -1;
    }
  }
  if (p->nkids == p->capkids) {
    size_t cap = p->capkids ? p->capkids * 2 : 256;
    const mesh__node **k = realloc(p->kids, cap * sizeof(*k));
    if (!k) {
      perr(p, (int)n->line, "out of memory");
      return -1;
    }
    p->kids = k;
    p->capkids = cap;
  }
  p->kids[p->nkids++] = n;
  return 0;
}

static int is_null_text(const char *s, size_t n) {
  return n == 0 || (n == 1 && s[0] == '~') ||
         (n == 4 && (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 || memcmp(s, "NULL", 4) == 0));
}

#define YTAG "tag:yaml.org,2002:"

static int on_scalar(pctx *p, const yaml_event_t *e) {
  int line = mark_line(&e->start_mark);
  const char *tag = (const char *)e->data.scalar.tag;
  size_t len = e->data.scalar.length;
  if (p->nstack + 1 > p->max_depth) {
    perr(p, line, "nesting deeper than %zu levels", p->max_depth);
    return -1;
  }
  if (len > MESH__PBJSON_MAX_STRING) {
    perr(p, line, "scalar too long: %zu bytes (limit %d)", len, MESH__PBJSON_MAX_STRING);
    return -1;
  }
  if (count(p, 1, line)) return -1;
  mesh__node *n = mesh__arena_alloc(p->a, sizeof(*n));
  char *s = n ? mesh__arena_strndup(p->a, (const char *)e->data.scalar.value, len) : NULL;
  if (!s) {
    perr(p, line, "out of memory");
    return -1;
  }
  n->line = (uint32_t)line;
  n->len = len;
  n->weight = 1;
  n->u.str = s;
  int plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE || e->data.scalar.style == YAML_ANY_SCALAR_STYLE;
  if (!tag) {
    n->quoted = !plain;
    n->kind = plain && is_null_text(s, len) ? MESH__NODE_NULL : MESH__NODE_SCALAR;
  } else if (strcmp(tag, "!") == 0 || strcmp(tag, YTAG "str") == 0) {
    n->quoted = 1;
    n->kind = MESH__NODE_SCALAR;
  } else if (strcmp(tag, YTAG "null") == 0) {
    n->kind = MESH__NODE_NULL;
  } else if (strcmp(tag, YTAG "int") == 0 || strcmp(tag, YTAG "float") == 0 || strcmp(tag, YTAG "bool") == 0) {
    n->kind = MESH__NODE_SCALAR;
  } else {
    perr(p, line, "unsupported YAML tag \"%.60s\"", tag);
    return -1;
  }
  if (e->data.scalar.anchor) {
    const char *an = mesh__arena_strdup(p->a, (const char *)e->data.scalar.anchor);
    if (!an || anchor_define(p, an, n)) {
      perr(p, line, "out of memory");
      return -1;
    }
  }
  return add_node(p, n);
}

static int on_start(pctx *p, const yaml_event_t *e, int kind) {
  int line = mark_line(&e->start_mark);
  const char *tag, *an;
  if (kind == MESH__NODE_MAP) {
    tag = (const char *)e->data.mapping_start.tag;
    an = (const char *)e->data.mapping_start.anchor;
  } else {
    tag = (const char *)e->data.sequence_start.tag;
    an = (const char *)e->data.sequence_start.anchor;
  }
  if (tag && strcmp(tag, "!") != 0 && strcmp(tag, kind == MESH__NODE_MAP ? YTAG "map" : YTAG "seq") != 0) {
    perr(p, line, "unsupported YAML tag \"%.60s\"", tag);
    return -1;
  }
  if (p->nstack + 1 > p->max_depth) {
    perr(p, line, "nesting deeper than %zu levels", p->max_depth);
    return -1;
  }
  if (count(p, 1, line)) return -1;
  if (p->nstack == p->capstack) {
    size_t cap = p->capstack ? p->capstack * 2 : 16;
    frame *s = realloc(p->stack, cap * sizeof(*s));
    if (!s) {
      perr(p, line, "out of memory");
      return -1;
    }
    p->stack = s;
    p->capstack = cap;
  }
  mesh__node *n = mesh__arena_alloc(p->a, sizeof(*n));
  const char *anc = NULL;
  if (n && an) anc = mesh__arena_strdup(p->a, an);
  if (!n || (an && !anc)) {
    perr(p, line, "out of memory");
    return -1;
  }
  n->kind = (uint8_t)kind;
  n->line = (uint32_t)line;
  frame *f = &p->stack[p->nstack++];
  f->node = n;
  f->first = p->nkids;
  f->anchor = anc;
  return 0;
}

static int on_end(pctx *p) {
  frame *f = &p->stack[--p->nstack];
  mesh__node *n = f->node;
  size_t nk = p->nkids - f->first;
  if (nk) {
    const mesh__node **k = mesh__arena_calloc(p->a, nk, sizeof(*k));
    if (!k) {
      perr(p, (int)n->line, "out of memory");
      return -1;
    }
    memcpy(k, p->kids + f->first, nk * sizeof(*k));
    n->u.kids = k;
  }
  size_t w = 1;
  uint32_t h = 0;
  for (size_t i = 0; i < nk; i++) {
    w = sat_add(w, p->kids[f->first + i]->weight);
    if (p->kids[f->first + i]->height > h) h = p->kids[f->first + i]->height;
  }
  n->weight = w;
  n->height = h + 1;
  n->len = n->kind == MESH__NODE_MAP ? nk / 2 : nk;
  p->nkids = f->first;
  if (f->anchor && anchor_define(p, f->anchor, n)) {
    perr(p, (int)n->line, "out of memory");
    return -1;
  }
  return add_node(p, n);
}

static int on_alias(pctx *p, const yaml_event_t *e) {
  int line = mark_line(&e->start_mark);
  const char *name = (const char *)e->data.alias.anchor;
  const mesh__node *n = anchor_find(p, name);
  if (!n) {
    perr(p, line, "alias *%.60s names no anchor defined before it (or is used inside its own anchor)", name);
    return -1;
  }
  if (p->nstack + 1 + n->height > p->max_depth) {
    perr(p, line, "alias *%.60s: nesting deeper than %zu levels", name, p->max_depth);
    return -1;
  }
  if (count(p, n->weight, line)) return -1;
  return add_node(p, n);
}

/* libyaml does not combine JSON's escaped UTF-16 surrogate pairs ("\ud83d\ude00"):
 * rewrite each pair as YAML's "\U0001f600" (shorter, same lines). Outside
 * double-quoted scalars a backslash is literal, but such a text (a plain
 * scalar holding \ud83d\ude00) is not worth a second parser. NULL: no pair, or
 * no memory (*oom). */
static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static long hex4(const char *s) {
  long v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(s[i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

static char *rewrite_surrogates(const char *t, size_t n, size_t *outn, int *oom) {
  char *out = NULL;
  size_t o = 0, copied = 0;
  *oom = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    if (t[i] != '\\') continue;
    if (t[i + 1] != 'u' || i + 12 > n || t[i + 6] != '\\' || t[i + 7] != 'u') {
      i++; /* skip the escaped character (handles "\\") */
      continue;
    }
    long hi = hex4(t + i + 2), lo = hex4(t + i + 8);
    if (hi < 0xd800 || hi > 0xdbff || lo < 0xdc00 || lo > 0xdfff) {
      i++;
      continue;
    }
    if (!out) {
      out = malloc(n ? n : 1);
      if (!out) {
        *oom = 1;
        return NULL;
      }
    }
    memcpy(out + o, t + copied, i - copied);
    o += i - copied;
    unsigned long cp = 0x10000 + (((unsigned long)hi - 0xd800) << 10) + ((unsigned long)lo - 0xdc00);
    static const char hx[] = "0123456789abcdef";
    out[o++] = '\\';
    out[o++] = 'U';
    for (int k = 7; k >= 0; k--) out[o++] = hx[(cp >> (4 * k)) & 15];
    i += 11;
    copied = i + 1;
  }
  if (!out) return NULL;
  memcpy(out + o, t + copied, n - copied);
  o += n - copied;
  *outn = o;
  return out;
}

static int line_of_offset(const char *t, size_t n, size_t off) {
  int line = 1;
  for (size_t i = 0; i < off && i < n; i++)
    if (t[i] == '\n' && line < INT32_MAX) line++;
  return line;
}

static void yaml_fail(pctx *p, const yaml_parser_t *y, const char *text, size_t len) {
  if (y->error == YAML_MEMORY_ERROR) {
    perr(p, 0, "out of memory");
  } else if (y->error == YAML_READER_ERROR) {
    if (y->problem_value >= 0)
      perr(p, line_of_offset(text, len, y->problem_offset), "bad YAML/JSON text: %s (byte 0x%02x)",
           y->problem ? y->problem : "unreadable input", (unsigned)y->problem_value & 0xffu);
    else
      perr(p, line_of_offset(text, len, y->problem_offset), "bad YAML/JSON text: %s",
           y->problem ? y->problem : "unreadable input");
  } else {
    perr(p, mark_line(&y->problem_mark), "bad YAML/JSON: %s%s%s", y->problem ? y->problem : "syntax error",
         y->context ? ", " : "", y->context ? y->context : "");
  }
}

int mesh__doc_parse(const char *text, size_t len, const mesh__pbjson_opts *o, mesh__doc **out,
                    mesh__pbjson_report *r) {
  pctx p;
  yaml_parser_t y;
  int yinit = 0, rc = -1, oom = 0;
  memset(&p, 0, sizeof(p));
  p.r = r;
  p.max_depth = o && o->max_depth ? o->max_depth : MESH__PBJSON_DEFAULT_MAX_DEPTH;
  if (p.max_depth > MESH__PBJSON_MAX_DEPTH_LIMIT) p.max_depth = MESH__PBJSON_MAX_DEPTH_LIMIT;
  p.max_nodes = o && o->max_nodes ? o->max_nodes : MESH__PBJSON_DEFAULT_MAX_NODES;
  *out = NULL;
  mesh__doc *d = calloc(1, sizeof(*d));
  if (!d || !(d->arena = mesh__arena_new(0))) {
    perr(&p, 0, "out of memory");
    goto done;
  }
  p.a = d->arena;
  if (!text) len = 0;
  size_t rlen = 0;
  d->text = rewrite_surrogates(text ? text : "", len, &rlen, &oom);
  if (oom) {
    perr(&p, 0, "out of memory");
    goto done;
  }
  if (d->text) {
    text = d->text;
    len = rlen;
  }
  if (!yaml_parser_initialize(&y)) {
    perr(&p, 0, "out of memory");
    goto done;
  }
  yinit = 1;
  yaml_parser_set_input_string(&y, (const unsigned char *)(text ? text : ""), len);
  for (;;) {
    yaml_event_t e;
    if (!yaml_parser_parse(&y, &e)) {
      yaml_fail(&p, &y, text, len);
      goto done;
    }
    int err = 0, end = 0;
    switch (e.type) {
    case YAML_DOCUMENT_START_EVENT:
      if (++p.ndocs > 1) {
        perr(&p, mark_line(&e.start_mark), "more than one YAML document (---): give one document per file");
        err = 1;
      }
      break;
    case YAML_SCALAR_EVENT: err = on_scalar(&p, &e); break;
    case YAML_ALIAS_EVENT: err = on_alias(&p, &e); break;
    case YAML_SEQUENCE_START_EVENT: err = on_start(&p, &e, MESH__NODE_SEQ); break;
    case YAML_MAPPING_START_EVENT: err = on_start(&p, &e, MESH__NODE_MAP); break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: err = on_end(&p); break;
    case YAML_STREAM_END_EVENT: end = 1; break;
    default: break;
    }
    yaml_event_delete(&e);
    if (err) goto done;
    if (end) break;
  }
  if (!p.root) {
    perr(&p, 0, "no YAML or JSON document in the input");
    goto done;
  }
  d->root = p.root;
  *out = d;
  d = NULL;
  rc = 0;
done:
  if (yinit) yaml_parser_delete(&y);
  free(p.stack);
  free(p.kids);
  free(p.tab);
  mesh__doc_free(d);
  return rc;
}

void mesh__doc_free(mesh__doc *d) {
  if (!d) return;
  mesh__arena_free(d->arena);
  free(d->text);
  free(d);
}

const mesh__node *mesh__doc_root(const mesh__doc *d) { return d ? d->root : NULL; }

mesh__node_kind mesh__node_kind_of(const mesh__node *n) { return n ? (mesh__node_kind)n->kind : MESH__NODE_NULL; }

const mesh__node *mesh__node_get(const mesh__node *map, const char *key) {
  if (!map || map->kind != MESH__NODE_MAP || !key) return NULL;
  size_t kl = strlen(key);
  for (size_t i = 0; i < map->len; i++) {
    const mesh__node *k = map->u.kids[2 * i];
    if (k->len == kl && memcmp(k->u.str, key, kl) == 0) return map->u.kids[2 * i + 1];
  }
  return NULL;
}

size_t mesh__node_len(const mesh__node *seq) { return seq && seq->kind == MESH__NODE_SEQ ? seq->len : 0; }

const mesh__node *mesh__node_at(const mesh__node *seq, size_t i) {
  return seq && seq->kind == MESH__NODE_SEQ && i < seq->len ? seq->u.kids[i] : NULL;
}

size_t mesh__node_map_len(const mesh__node *map) { return map && map->kind == MESH__NODE_MAP ? map->len : 0; }

const mesh__node *mesh__node_key_at(const mesh__node *map, size_t i) {
  return map && map->kind == MESH__NODE_MAP && i < map->len ? map->u.kids[2 * i] : NULL;
}

const mesh__node *mesh__node_value_at(const mesh__node *map, size_t i) {
  return map && map->kind == MESH__NODE_MAP && i < map->len ? map->u.kids[2 * i + 1] : NULL;
}

const char *mesh__node_str(const mesh__node *n) { return n && n->kind == MESH__NODE_SCALAR ? n->u.str : NULL; }

size_t mesh__node_str_len(const mesh__node *n) { return n && n->kind == MESH__NODE_SCALAR ? n->len : 0; }

int mesh__node_line(const mesh__node *n) { return n ? (int)n->line : 0; }
