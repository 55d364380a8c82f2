/* RE2-syntax regexes on PCRE2 (see regex.h for what is refused and why).
 * RE2 syntax: https://github.com/google/re2/wiki/Syntax
 * PCRE2 limits: pcre2api(3), "The match context"; JIT: pcre2jit(3). */
#include "route/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mesh__regex {
  pcre2_code *code;
  bool jit;
  int mode;
  uint32_t groups;
  char *pattern;
  char *prefix; /* required literal prefix (FULL mode), NUL-terminated */
  size_t prefix_len;
};

/* Capture pairs kept per match: the whole match and \1..\9 (all RE2
 * rewrites can name). */
#define OVEC_PAIRS 10

/* ---------------------------------------------------------------- shared state */

typedef struct thread_state {
  pcre2_match_data *md;
  pcre2_jit_stack *jit_stack;
} thread_state;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static bool g_key_ok;
static pcre2_match_context *g_mctx;  /* read-only once built; shared by all threads */
static atomic_uint_fast64_t g_limit_hits;
static _Thread_local thread_state *tl_state;

static void thread_state_free(void *p) {
  thread_state *ts = p;
  if (!ts) return;
  pcre2_match_data_free(ts->md);
  pcre2_jit_stack_free(ts->jit_stack);
  free(ts);
  if (tl_state == ts) tl_state = NULL;
}

static thread_state *thread_get(void) {
  thread_state *ts = tl_state;
  if (ts) return ts;
  ts = calloc(1, sizeof *ts);
  if (!ts) return NULL;
  ts->md = pcre2_match_data_create(OVEC_PAIRS, NULL);
  if (!ts->md) {
    free(ts);
    return NULL;
  }
  /* Grows on demand up to 512 KiB (mmap'd by PCRE2); without it the JIT
   * uses 32 KiB of the machine stack. Optional. */
  ts->jit_stack = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
  if (g_key_ok) pthread_setspecific(g_key, ts);
  tl_state = ts;
  return ts;
}

/* The JIT asks for its stack through the shared match context: answer
 * with the calling thread's own. */
static pcre2_jit_stack *jit_stack_cb(void *unused) {
  (void)unused;
  thread_state *ts = tl_state;
  return ts ? ts->jit_stack : NULL;
}

static void global_init(void) {
  g_key_ok = pthread_key_create(&g_key, thread_state_free) == 0;
  pcre2_match_context *m = pcre2_match_context_create(NULL);
  if (!m) return;
  pcre2_set_match_limit(m, MESH__RE_MATCH_LIMIT);
  pcre2_set_depth_limit(m, MESH__RE_DEPTH_LIMIT);
  pcre2_set_heap_limit(m, MESH__RE_HEAP_LIMIT_KIB);
  pcre2_jit_stack_assign(m, jit_stack_cb, NULL);
  g_mctx = m;
}

void mesh__regex_thread_cleanup(void) {
  thread_state *ts = tl_state;
  if (!ts) return;
  if (g_key_ok) pthread_setspecific(g_key, NULL);
  thread_state_free(ts);
  tl_state = NULL;
}

uint64_t mesh__regex_limit_hits(void) { return atomic_load_explicit(&g_limit_hits, memory_order_relaxed); }

/* ---------------------------------------------------------------- vetting */

static int fail(char *err, size_t errlen, const char *fmt, const char *what) {
  if (err && errlen) snprintf(err, errlen, fmt, what);
  return -1;
}

/* Parse a counted repetition at p[i] == '{'. Returns the index after '}'
 * and the counts, or 0 when it is not a repetition (then '{' is a literal,
 * in RE2 and PCRE2 alike). */
static size_t parse_repeat(const char *p, size_t n, size_t i, unsigned long *lo, unsigned long *hi) {
  size_t j = i + 1;
  unsigned long a = 0, b;
  size_t digits = 0;
  while (j < n && p[j] >= '0' && p[j] <= '9') {
    if (a < 100000) a = a * 10 + (unsigned long)(p[j] - '0');
    j++, digits++;
  }
  if (!digits) return 0;
  b = a;
  if (j < n && p[j] == ',') {
    j++;
    b = 0;
    digits = 0;
    while (j < n && p[j] >= '0' && p[j] <= '9') {
      if (b < 100000) b = b * 10 + (unsigned long)(p[j] - '0');
      j++, digits++;
    }
    if (!digits) b = a; /* {n,}: only n bounds the program */
  }
  if (j >= n || p[j] != '}') return 0;
  *lo = a;
  *hi = b;
  return j + 1;
}

/* Refuse what is not RE2 syntax and would change meaning or bounds under
 * a backtracking engine. Escapes, \Q..\E and character classes are
 * skipped so that "[(?=]" or "\(?=" are not mistaken for lookaheads. */
static int vet(const char *p, size_t n, char *err, size_t errlen) {
  bool in_class = false;
  size_t i = 0;
  while (i < n) {
    char c = p[i];
    if (c == '\\') {
      if (i + 1 >= n) return fail(err, errlen, "%s", "trailing backslash");
      char d = p[i + 1];
      if (d == 'Q') {
        size_t j = i + 2;
        while (j + 1 < n && !(p[j] == '\\' && p[j + 1] == 'E')) j++;
        i = j + 1 < n ? j + 2 : n;
        continue;
      }
      switch (d) {
        case 'g': case 'k':
          return fail(err, errlen, "\\%s: backreferences and subroutine calls are not supported", d == 'g' ? "g" : "k");
        case 'K': case 'G': case 'Z': case 'R': case 'X': case 'h': case 'H': case 'v': case 'V': case 'N': {
          char e[3] = {'\\', d, 0};
          return fail(err, errlen, "%s is not RE2 syntax", e);
        }
        default:
          break;
      }
      i += 2;
      continue;
    }
    if (in_class) {
      if (c == '[' && i + 1 < n && p[i + 1] == ':') {
        /* [:alpha:] */
        size_t j = i + 2;
        while (j + 1 < n && !(p[j] == ':' && p[j + 1] == ']')) j++;
        i = j + 1 < n ? j + 2 : n;
        continue;
      }
      if (c == ']') in_class = false;
      i++;
      continue;
    }
    switch (c) {
      case '[':
        in_class = true;
        i++;
        if (i < n && p[i] == '^') i++;
        if (i < n && p[i] == ']') i++; /* a leading ] is literal */
        continue;
      case '(':
        if (i + 1 < n && p[i + 1] == '*') return fail(err, errlen, "%s", "(*VERB) and (*...) groups are not supported");
        if (i + 1 < n && p[i + 1] == '?') {
          size_t j = i + 2;
          if (j + 1 < n && p[j] == 'P' && p[j + 1] == '<') break;                      /* (?P<name> */
          if (j + 1 < n && p[j] == '<' && p[j + 1] != '=' && p[j + 1] != '!') break; /* (?<name> */
          while (j < n && (p[j] == 'i' || p[j] == 'm' || p[j] == 's' || p[j] == 'U' || p[j] == '-')) j++;
          if (j < n && (p[j] == ':' || p[j] == ')')) break;
          return fail(err, errlen, "%s",
                      "unsupported group: lookaround, atomic groups, recursion, conditionals, comments and "
                      "flags other than imsU are not RE2 syntax");
        }
        break;
      case '*': case '+': case '?':
        if (i + 1 < n && p[i + 1] == '+') return fail(err, errlen, "%s", "possessive quantifiers are not supported");
        break;
      case '{': {
        unsigned long lo, hi;
        size_t end = parse_repeat(p, n, i, &lo, &hi);
        if (end) {
          if (lo > 1000 || hi > 1000) return fail(err, errlen, "%s", "repeat count above 1000");
          if (end < n && p[end] == '+') return fail(err, errlen, "%s", "possessive quantifiers are not supported");
          i = end;
          continue;
        }
        break;
      }
      default:
        break;
    }
    i++;
  }
  return 0;
}

/* The literal a whole-subject match must start with: the pattern's
 * leading run of plain characters (and escaped punctuation), stopping at
 * anything else, and dropping a character a quantifier makes optional.
 * Empty when the pattern has an alternation or an inline flag could apply
 * (a '|' anywhere, or a leading "(?"). Writes at most len bytes to out. */
static size_t literal_prefix(const char *p, size_t n, char *out) {
  if (memchr(p, '|', n)) return 0;
  size_t i = 0, k = 0;
  if (i < n && p[i] == '^') i++;
  while (i < n) {
    char c = p[i];
    size_t step = 1;
    if (c == '\\') {
      if (i + 1 >= n) break;
      char d = p[i + 1];
      bool punct = (d >= '!' && d <= '/') || (d >= ':' && d <= '@') || (d >= '[' && d <= '`') || (d >= '{' && d <= '~');
      if (!punct) break; /* \d, \w, \x41, \Q ...: stop */
      c = d;
      step = 2;
    } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' || c == '-' ||
                 c == '_' || c == ',' || c == ':' || c == '=' || c == '@' || c == '%' || c == '&' || c == '!' ||
                 c == '~' || c == '\'' || c == '"' || c == '#' || c == ';' || c == '<' || c == '>' || c == ' ')) {
      break;
    }
    size_t j = i + step;
    if (j < n && (p[j] == '*' || p[j] == '?' || p[j] == '+' || p[j] == '{')) break; /* quantified */
    out[k++] = c;
    i = j;
  }
  return k;
}

size_t mesh__regex_prefix(const mesh__regex *re, const char **p) {
  *p = re->prefix ? re->prefix : "";
  return re->prefix_len;
}

/* ---------------------------------------------------------------- compile */

mesh__regex *mesh__regex_compile(const char *pattern, size_t len, int mode, uint32_t max_program_size, char *err,
                                 size_t errlen) {
  pthread_once(&g_once, global_init);
  if (!g_mctx) {
    fail(err, errlen, "%s", "out of memory");
    return NULL;
  }
  if (len == 0) {
    fail(err, errlen, "%s", "empty regex");
    return NULL;
  }
  if (len > MESH__RE_MAX_PATTERN) {
    if (err && errlen) snprintf(err, errlen, "regex of %zu bytes is longer than %u", len, MESH__RE_MAX_PATTERN);
    return NULL;
  }
  if (max_program_size && len > max_program_size) {
    if (err && errlen)
      snprintf(err, errlen, "regex of %zu bytes exceeds max_program_size %u (measured as the pattern's length)", len,
               max_program_size);
    return NULL;
  }
  if (memchr(pattern, '\0', len)) {
    fail(err, errlen, "%s", "NUL byte in regex");
    return NULL;
  }
  char why[200];
  if (vet(pattern, len, why, sizeof why) < 0) {
    fail(err, errlen, "invalid regex: %s", why);
    return NULL;
  }
  uint32_t opts = PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_UTF | PCRE2_NEVER_UCP | PCRE2_NEVER_BACKSLASH_C;
  if (mode == MESH__RE_FULL) opts |= PCRE2_ANCHORED | PCRE2_ENDANCHORED;
  pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
  if (!cc) {
    fail(err, errlen, "%s", "out of memory");
    return NULL;
  }
  pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
  pcre2_set_max_pattern_length(cc, MESH__RE_MAX_PATTERN);
  pcre2_set_parens_nest_limit(cc, 100);
  int ecode = 0;
  PCRE2_SIZE eoff = 0;
  pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, len, opts, &ecode, &eoff, cc);
  pcre2_compile_context_free(cc);
  if (!code) {
    PCRE2_UCHAR msg[160];
    if (pcre2_get_error_message(ecode, msg, sizeof msg) < 0) snprintf((char *)msg, sizeof msg, "error %d", ecode);
    if (err && errlen) snprintf(err, errlen, "invalid regex at offset %zu: %s", (size_t)eoff, (const char *)msg);
    return NULL;
  }
  uint32_t backrefs = 0, groups = 0;
  pcre2_pattern_info(code, PCRE2_INFO_BACKREFMAX, &backrefs);
  pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &groups);
  if (backrefs > 0) {
    pcre2_code_free(code);
    fail(err, errlen, "%s", "invalid regex: backreferences are not supported");
    return NULL;
  }
  mesh__regex *re = calloc(1, sizeof *re);
  char *copy = malloc(len + 1);
  char *prefix = malloc(len + 1);
  if (!re || !copy || !prefix) {
    free(re);
    free(copy);
    free(prefix);
    pcre2_code_free(code);
    fail(err, errlen, "%s", "out of memory");
    return NULL;
  }
  memcpy(copy, pattern, len);
  copy[len] = '\0';
  re->code = code;
  re->mode = mode;
  re->groups = groups;
  re->pattern = copy;
  re->prefix = prefix;
  re->prefix_len = mode == MESH__RE_FULL ? literal_prefix(pattern, len, prefix) : 0;
  prefix[re->prefix_len] = '\0';
  re->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return re;
}

void mesh__regex_free(mesh__regex *re) {
  if (!re) return;
  pcre2_code_free(re->code);
  free(re->pattern);
  free(re->prefix);
  free(re);
}

void mesh__regex_free_cb(void *re) { mesh__regex_free(re); }

uint32_t mesh__regex_groups(const mesh__regex *re) { return re->groups; }
const char *mesh__regex_pattern(const mesh__regex *re) { return re->pattern; }

/* ---------------------------------------------------------------- match */

/* PCRE2's return: >= 0 matched, PCRE2_ERROR_NOMATCH, or an error (a limit). */
static int run(const mesh__regex *re, const char *s, size_t n, size_t start, pcre2_match_data *md) {
  PCRE2_SPTR subj = (PCRE2_SPTR)(s ? s : "");
  if (re->jit) return pcre2_jit_match(re->code, subj, n, start, 0, md, g_mctx);
  return pcre2_match(re->code, subj, n, start, 0, md, g_mctx);
}

int mesh__regex_match(const mesh__regex *re, const char *s, size_t n) {
  thread_state *ts = thread_get();
  if (!ts) {
    atomic_fetch_add_explicit(&g_limit_hits, 1, memory_order_relaxed);
    return 0;
  }
  int rc = run(re, s, n, 0, ts->md);
  if (rc >= 0) return 1;
  if (rc != PCRE2_ERROR_NOMATCH) atomic_fetch_add_explicit(&g_limit_hits, 1, memory_order_relaxed);
  return 0;
}

/* ---------------------------------------------------------------- rewrite */

int mesh__regex_check_rewrite(const mesh__regex *re, const char *sub, size_t sublen, char *err, size_t errlen) {
  for (size_t i = 0; i < sublen; i++) {
    if (sub[i] != '\\') continue;
    if (i + 1 >= sublen) return fail(err, errlen, "%s", "rewrite: '\\' not allowed at the end");
    char d = sub[++i];
    if (d == '\\') continue;
    if (d < '0' || d > '9') return fail(err, errlen, "%s", "rewrite: '\\' must be followed by a digit or '\\'");
    if ((uint32_t)(d - '0') > re->groups) {
      if (err && errlen)
        snprintf(err, errlen, "rewrite: \\%c names a group the regex does not have (%u groups)", d, re->groups);
      return -1;
    }
  }
  return 0;
}

typedef struct out_buf {
  char *p;
  size_t len, cap;
  bool overflow;
} out_buf;

static void put(out_buf *o, const char *s, size_t n) {
  if (o->overflow) return;
  if (n > o->cap - o->len) {
    o->overflow = true;
    return;
  }
  if (n) memcpy(o->p + o->len, s, n);
  o->len += n;
}

static void rewrite(out_buf *o, const char *s, const char *sub, size_t sublen, const PCRE2_SIZE *ov, int pairs) {
  size_t lit = 0;
  for (size_t i = 0; i < sublen; i++) {
    if (sub[i] != '\\' || i + 1 >= sublen) continue;
    put(o, sub + lit, i - lit);
    char d = sub[i + 1];
    if (d >= '0' && d <= '9') {
      int g = d - '0';
      if (g < pairs && ov[2 * g] != PCRE2_UNSET) put(o, s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
    } else {
      put(o, &sub[i + 1], 1); /* "\\" (others were refused at config time) */
    }
    i++;
    lit = i + 1;
  }
  put(o, sub + lit, sublen - lit);
}

ptrdiff_t mesh__regex_replace(const mesh__regex *re, const char *s, size_t n, const char *sub, size_t sublen,
                              char *out, size_t cap) {
  thread_state *ts = thread_get();
  if (!ts) return MESH__RE_ELIMIT;
  out_buf o = {out, 0, cap, false};
  size_t p = 0;
  size_t lastend = (size_t)-1;
  /* RE2::GlobalReplace: non-overlapping matches left to right; an empty
   * match right where the previous match ended is skipped by one byte. */
  while (p <= n) {
    int rc = run(re, s, n, p, ts->md);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      atomic_fetch_add_explicit(&g_limit_hits, 1, memory_order_relaxed);
      return MESH__RE_ELIMIT;
    }
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(ts->md);
    int pairs = rc == 0 ? OVEC_PAIRS : rc;
    size_t ms = ov[0], me = ov[1];
    if (ms > p) put(&o, s + p, ms - p);
    if (ms == me && ms == lastend) {
      if (p < n) put(&o, s + p, 1);
      p++;
      continue;
    }
    rewrite(&o, s, sub, sublen, ov, pairs);
    p = me;
    lastend = me;
    if (o.overflow) break;
  }
  if (p < n) put(&o, s + p, n - p);
  if (o.overflow) return MESH__RE_ETOOSMALL;
  return (ptrdiff_t)o.len;
}
