/*
 * Routing: safe_regex (route/regex.c), the route model (model/route.c),
 * matching and actions (route/match.c), and the RDS translator
 * (xds/rds.c). Route tables are built the way the library builds them:
 * RouteConfiguration messages through mesh__rds_translate().
 */
#include <criterion/criterion.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/notes.h"
#include "model/route.h"
#include "route/fault.h"
#include "route/match.h"
#include "route/regex.h"
#include "util/arena.h"
#include "xds/rds.h"

typedef Envoy__Config__Route__V3__RouteConfiguration RouteConfiguration;
typedef Envoy__Config__Route__V3__VirtualHost VirtualHost;
typedef Envoy__Config__Route__V3__Route Route;
typedef Envoy__Config__Route__V3__RouteMatch RouteMatch;
typedef Envoy__Config__Route__V3__RouteAction RouteAction;
typedef Envoy__Config__Route__V3__RedirectAction RedirectAction;
typedef Envoy__Config__Route__V3__DirectResponseAction DirectResponseAction;
typedef Envoy__Config__Route__V3__HeaderMatcher HeaderMatcher;
typedef Envoy__Config__Route__V3__QueryParameterMatcher QueryParameterMatcher;
typedef Envoy__Config__Route__V3__WeightedCluster WeightedCluster;
typedef Envoy__Config__Route__V3__WeightedCluster__ClusterWeight ClusterWeight;
typedef Envoy__Config__Core__V3__HeaderValueOption HeaderValueOption;

/* ------------------------------------------------------------------ */
/* Building RouteConfiguration messages                               */
/* ------------------------------------------------------------------ */

static mesh__arena *P;     /* every message of a test */
static mesh__notes NOTES;  /* what the last translation noted */
static mesh__route_table *RT;

static void setup(void) {
  P = mesh__arena_new(0);
  mesh__notes_init(&NOTES);
  RT = NULL;
}

static void teardown(void) {
  mesh__route_table_unref(RT);
  mesh__notes_free(&NOTES);
  mesh__arena_free(P);
  mesh__regex_thread_cleanup();
}

TestSuite(regex, .init = setup, .fini = teardown);
TestSuite(vhost, .init = setup, .fini = teardown);
TestSuite(match, .init = setup, .fini = teardown);
TestSuite(action, .init = setup, .fini = teardown);
TestSuite(rds, .init = setup, .fini = teardown);
TestSuite(fault, .init = setup, .fini = teardown);

static void *pb(size_t n) { return mesh__arena_alloc(P, n); }
static char *str(const char *s) { return mesh__arena_strdup(P, s); }

static void *push_mem(const void *arr, size_t n, size_t sz, const void *item) {
  char *a = pb((n + 1) * sz);
  if (n) memcpy(a, arr, n * sz);
  memcpy(a + n * sz, item, sz);
  return a;
}
#define PUSH(owner, field, item)                                                     \
  do {                                                                               \
    __typeof__(item) it_ = (item);                                                   \
    (owner)->field = push_mem((owner)->field, (owner)->n_##field, sizeof it_, &it_); \
    (owner)->n_##field++;                                                            \
  } while (0)

#define NEW(T, INIT)          \
  T *x = pb(sizeof *x);       \
  {                           \
    T init_ = INIT;           \
    *x = init_;               \
  }

static RouteConfiguration *rc_new(void) {
  NEW(RouteConfiguration, ENVOY__CONFIG__ROUTE__V3__ROUTE_CONFIGURATION__INIT);
  x->name = str("rc");
  return x;
}

/* domains: space-separated. */
static VirtualHost *vh_add(RouteConfiguration *rc, const char *name, const char *domains) {
  NEW(VirtualHost, ENVOY__CONFIG__ROUTE__V3__VIRTUAL_HOST__INIT);
  x->name = str(name);
  char *d = str(domains);
  for (char *t = strtok(d, " "); t; t = strtok(NULL, " ")) PUSH(x, domains, t);
  PUSH(rc, virtual_hosts, x);
  return x;
}

static RouteMatch *match_new(void) {
  NEW(RouteMatch, ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__INIT);
  return x;
}

static Envoy__Type__Matcher__V3__RegexMatcher *re_msg(const char *pattern) {
  NEW(Envoy__Type__Matcher__V3__RegexMatcher, ENVOY__TYPE__MATCHER__V3__REGEX_MATCHER__INIT);
  x->regex = str(pattern);
  return x;
}

static Envoy__Type__Matcher__V3__RegexMatchAndSubstitute *re_sub(const char *pattern, const char *subst) {
  NEW(Envoy__Type__Matcher__V3__RegexMatchAndSubstitute, ENVOY__TYPE__MATCHER__V3__REGEX_MATCH_AND_SUBSTITUTE__INIT);
  x->pattern = re_msg(pattern);
  x->substitution = str(subst);
  return x;
}

enum { PREFIX, PATH, REGEX, SEP };

static Route *route_add(VirtualHost *vh, int kind, const char *p) {
  NEW(Route, ENVOY__CONFIG__ROUTE__V3__ROUTE__INIT);
  x->match = match_new();
  switch (kind) {
    case PREFIX:
      x->match->path_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER_PREFIX;
      x->match->prefix = str(p);
      break;
    case PATH:
      x->match->path_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER_PATH;
      x->match->path = str(p);
      break;
    case REGEX:
      x->match->path_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER_SAFE_REGEX;
      x->match->safe_regex = re_msg(p);
      break;
    case SEP:
      x->match->path_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER_PATH_SEPARATED_PREFIX;
      x->match->path_separated_prefix = str(p);
      break;
  }
  PUSH(vh, routes, x);
  return x;
}

static RouteAction *action_new(Route *r) {
  NEW(RouteAction, ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__INIT);
  r->action_case = ENVOY__CONFIG__ROUTE__V3__ROUTE__ACTION_ROUTE;
  r->route = x;
  return x;
}

static RouteAction *to_cluster(Route *r, const char *cluster) {
  RouteAction *a = action_new(r);
  a->cluster_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__CLUSTER_SPECIFIER_CLUSTER;
  a->cluster = str(cluster);
  return a;
}

static Google__Protobuf__UInt32Value *u32(uint32_t v) {
  NEW(Google__Protobuf__UInt32Value, GOOGLE__PROTOBUF__UINT32_VALUE__INIT);
  x->value = v;
  return x;
}

static Google__Protobuf__BoolValue *boolv(bool v) {
  NEW(Google__Protobuf__BoolValue, GOOGLE__PROTOBUF__BOOL_VALUE__INIT);
  x->value = v;
  return x;
}

static Google__Protobuf__Duration *dur(int64_t s, int32_t ns) {
  NEW(Google__Protobuf__Duration, GOOGLE__PROTOBUF__DURATION__INIT);
  x->seconds = s;
  x->nanos = ns;
  return x;
}

static WeightedCluster *weighted(Route *r) {
  RouteAction *a = action_new(r);
  NEW(WeightedCluster, ENVOY__CONFIG__ROUTE__V3__WEIGHTED_CLUSTER__INIT);
  a->cluster_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__CLUSTER_SPECIFIER_WEIGHTED_CLUSTERS;
  a->weighted_clusters = x;
  return x;
}

static ClusterWeight *weight_add(WeightedCluster *wc, const char *name, uint32_t w) {
  NEW(ClusterWeight, ENVOY__CONFIG__ROUTE__V3__WEIGHTED_CLUSTER__CLUSTER_WEIGHT__INIT);
  x->name = str(name);
  x->weight = u32(w);
  PUSH(wc, clusters, x);
  return x;
}

static HeaderMatcher *hm_add(Route *r, const char *name) {
  NEW(HeaderMatcher, ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__INIT);
  x->name = str(name);
  PUSH(r->match, headers, x);
  return x;
}

static Envoy__Type__Matcher__V3__StringMatcher *sm_new(int kind, const char *v, bool ignore_case) {
  NEW(Envoy__Type__Matcher__V3__StringMatcher, ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__INIT);
  x->ignore_case = ignore_case;
  x->match_pattern_case = kind;
  switch (kind) {
    case ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_EXACT: x->exact = str(v); break;
    case ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_PREFIX: x->prefix = str(v); break;
    case ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_SUFFIX: x->suffix = str(v); break;
    case ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_CONTAINS: x->contains = str(v); break;
    case ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_SAFE_REGEX: x->safe_regex = re_msg(v); break;
  }
  return x;
}
#define SM_EXACT ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_EXACT
#define SM_PREFIX ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_PREFIX
#define SM_SUFFIX ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_SUFFIX
#define SM_CONTAINS ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_CONTAINS
#define SM_REGEX ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_SAFE_REGEX

static QueryParameterMatcher *qm_add(Route *r, const char *name) {
  NEW(QueryParameterMatcher, ENVOY__CONFIG__ROUTE__V3__QUERY_PARAMETER_MATCHER__INIT);
  x->name = str(name);
  PUSH(r->match, query_parameters, x);
  return x;
}

static HeaderValueOption *hvo(const char *key, const char *value) {
  NEW(HeaderValueOption, ENVOY__CONFIG__CORE__V3__HEADER_VALUE_OPTION__INIT);
  Envoy__Config__Core__V3__HeaderValue *h = pb(sizeof *h);
  Envoy__Config__Core__V3__HeaderValue hi = ENVOY__CONFIG__CORE__V3__HEADER_VALUE__INIT;
  *h = hi;
  h->key = str(key);
  h->value = str(value);
  x->header = h;
  return x;
}

static RedirectAction *redirect(Route *r) {
  NEW(RedirectAction, ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__INIT);
  r->action_case = ENVOY__CONFIG__ROUTE__V3__ROUTE__ACTION_REDIRECT;
  r->redirect = x;
  return x;
}

static DirectResponseAction *direct(Route *r, uint32_t status, const char *body) {
  NEW(DirectResponseAction, ENVOY__CONFIG__ROUTE__V3__DIRECT_RESPONSE_ACTION__INIT);
  x->status = status;
  if (body) {
    Envoy__Config__Core__V3__DataSource *d = pb(sizeof *d);
    Envoy__Config__Core__V3__DataSource di = ENVOY__CONFIG__CORE__V3__DATA_SOURCE__INIT;
    *d = di;
    d->specifier_case = ENVOY__CONFIG__CORE__V3__DATA_SOURCE__SPECIFIER_INLINE_STRING;
    d->inline_string = str(body);
    x->body = d;
  }
  r->action_case = ENVOY__CONFIG__ROUTE__V3__ROUTE__ACTION_DIRECT_RESPONSE;
  r->direct_response = x;
  return x;
}

static mesh__route_table *build(const RouteConfiguration *rc) {
  char err[512] = "";
  mesh__route_table_unref(RT);
  RT = NULL;
  int rc_ = mesh__rds_translate(rc, &RT, err, sizeof err, &NOTES);
  cr_assert_eq(rc_, 0, "translate failed: %s", err);
  cr_assert_not_null(RT);
  return RT;
}

static void expect_error(const RouteConfiguration *rc, const char *want) {
  char err[512] = "";
  mesh__route_table *rt = NULL;
  int rc_ = mesh__rds_translate(rc, &rt, err, sizeof err, &NOTES);
  cr_assert_eq(rc_, -1, "expected an error containing \"%s\"", want);
  cr_assert_null(rt);
  cr_expect(strstr(err, want) != NULL, "error \"%s\" does not contain \"%s\"", err, want);
}

static bool noted(const char *want) {
  for (size_t i = 0; i < NOTES.n; i++)
    if (strstr(NOTES.v[i], want)) return true;
  return false;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

typedef struct req {
  mesh__route_input in;
  const char *names[16], *values[16];
} req;

/* Headers as name, value pairs ending with NULL. */
static void mkreq(req *q, const char *authority, const char *path, ...) {
  memset(q, 0, sizeof *q);
  q->in.method = "GET";
  q->in.scheme = "http";
  q->in.authority = authority;
  q->in.authority_len = authority ? strlen(authority) : 0;
  q->in.path = path;
  q->in.path_len = path ? strlen(path) : 0;
  va_list ap;
  va_start(ap, path);
  const char *n;
  while ((n = va_arg(ap, const char *)) && q->in.nheaders < 16) {
    q->names[q->in.nheaders] = n;
    q->values[q->in.nheaders++] = va_arg(ap, const char *);
  }
  va_end(ap);
  q->in.hnames = q->names;
  q->in.hvalues = q->values;
}

/* The name of the route a request selects ("" none). */
static const char *route_for(const mesh__route_input *in) {
  const mesh__vhost *vh = mesh__route_vhost(RT, in->authority, in->authority_len);
  const mesh__route *r = mesh__route_match(vh, in);
  return r ? r->name.p : "";
}

#define ROUTE_FOR(path, ...)          \
  ({                                  \
    req q_;                           \
    mkreq(&q_, "x", path, __VA_ARGS__); \
    route_for(&q_.in);                \
  })

static const char *vhost_for(const char *authority) {
  const mesh__vhost *vh = mesh__route_vhost(RT, authority, strlen(authority));
  return vh ? vh->name.p : "";
}

/* One vhost "*" with one route; returns the route to add matchers to. */
static Route *one_route(RouteConfiguration **rcp, int kind, const char *p) {
  RouteConfiguration *rc = rc_new();
  VirtualHost *vh = vh_add(rc, "all", "*");
  Route *r = route_add(vh, kind, p);
  r->name = str("hit");
  to_cluster(r, "c");
  *rcp = rc;
  return r;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_random(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* ------------------------------------------------------------------ */
/* safe_regex                                                          */
/* ------------------------------------------------------------------ */

static mesh__regex *re_ok(const char *p, int mode) {
  char err[200] = "";
  mesh__regex *re = mesh__regex_compile(p, strlen(p), mode, 0, err, sizeof err);
  cr_assert_not_null(re, "\"%s\" should compile: %s", p, err);
  return re;
}

static void re_bad(const char *p, const char *want) {
  char err[200] = "";
  mesh__regex *re = mesh__regex_compile(p, strlen(p), MESH__RE_FULL, 0, err, sizeof err);
  cr_expect_null(re, "\"%s\" should be refused", p);
  mesh__regex_free(re);
  cr_expect(strstr(err, want) != NULL, "\"%s\": error \"%s\" lacks \"%s\"", p, err, want);
}

static int m(mesh__regex *re, const char *s) { return mesh__regex_match(re, s, strlen(s)); }

Test(regex, full_mode_is_anchored_at_both_ends) {
  mesh__regex *re = re_ok("/api/v[0-9]+", MESH__RE_FULL);
  cr_expect(m(re, "/api/v12"));
  cr_expect_not(m(re, "/api/v12/x"), "a match of a prefix is not a match");
  cr_expect_not(m(re, "x/api/v1"), "a match of a suffix is not a match");
  cr_expect_not(m(re, "/api/v1\n"), "$ semantics: no newline before the end");
  mesh__regex_free(re);
  re = re_ok("a|ab", MESH__RE_FULL);
  cr_expect(m(re, "ab"), "alternation backtracks to satisfy the end anchor");
  cr_expect_not(m(re, "abc"));
  mesh__regex_free(re);
  re = re_ok("foo$", MESH__RE_SEARCH);
  cr_expect(m(re, "xfoo"));
  cr_expect_not(m(re, "foo\n"), "$ is the end of the subject only (RE2)");
  mesh__regex_free(re);
}

Test(regex, search_mode_finds_anywhere) {
  mesh__regex *re = re_ok("b+", MESH__RE_SEARCH);
  cr_expect(m(re, "abbbc"));
  cr_expect_not(m(re, "ac"));
  mesh__regex_free(re);
}

Test(regex, re2_syntax_that_pcre_would_take_differently_is_refused) {
  re_bad("(a)\\1", "backreference");
  re_bad("(?<n>a)\\k<n>", "backreference");
  re_bad("foo(?=bar)", "unsupported group");
  re_bad("foo(?!bar)", "unsupported group");
  re_bad("(?<=a)b", "unsupported group");
  re_bad("(?<!a)b", "unsupported group");
  re_bad("(?>a+)b", "unsupported group");
  re_bad("a++", "possessive");
  re_bad("a*+", "possessive");
  re_bad("a{2}+", "possessive");
  re_bad("(a|(?R))", "unsupported group");
  re_bad("(a)(?1)", "unsupported group");
  re_bad("(?(1)a|b)", "unsupported group");
  re_bad("(*ACCEPT)a", "(*VERB)");
  re_bad("(*UTF)a", "(*VERB)");
  re_bad("a\\Kb", "not RE2");
  re_bad("a\\Z", "not RE2");
  re_bad("(?x) a", "unsupported group");
  re_bad("a{1001}", "above 1000");
  re_bad("", "empty");
  re_bad("a(", "invalid regex");
  re_bad("\\C", "invalid regex");
}

Test(regex, escapes_and_classes_are_not_mistaken_for_groups) {
  mesh__regex *re = re_ok("\\(?=x", MESH__RE_FULL); /* optional '(' then "=x" */
  cr_expect(m(re, "(=x"));
  cr_expect(m(re, "=x"));
  mesh__regex_free(re);
  re = re_ok("[(?=]+", MESH__RE_FULL);
  cr_expect(m(re, "(?="));
  mesh__regex_free(re);
  re = re_ok("\\Q(?=\\E", MESH__RE_FULL);
  cr_expect(m(re, "(?="));
  mesh__regex_free(re);
  re = re_ok("(?i)ab(?P<x>c)(?:d)(?s:.)[[:digit:]]{2,3}", MESH__RE_FULL);
  cr_expect(m(re, "ABcd\n12"));
  cr_expect_eq(mesh__regex_groups(re), 1);
  mesh__regex_free(re);
}

static const char *prefix_of(const char *pattern, int mode) {
  static char buf[64];
  mesh__regex *re = re_ok(pattern, mode);
  const char *p;
  size_t n = mesh__regex_prefix(re, &p);
  snprintf(buf, sizeof buf, "%.*s", (int)n, p);
  mesh__regex_free(re);
  return buf;
}

Test(regex, literal_prefix_is_a_necessary_condition) {
  cr_expect_str_eq(prefix_of("/api/v1/items/[0-9]+", MESH__RE_FULL), "/api/v1/items/");
  cr_expect_str_eq(prefix_of("^/abc", MESH__RE_FULL), "/abc");
  cr_expect_str_eq(prefix_of("/ab?c", MESH__RE_FULL), "/a", "a quantified character is optional");
  cr_expect_str_eq(prefix_of("/abc*", MESH__RE_FULL), "/ab");
  cr_expect_str_eq(prefix_of("/x{2}", MESH__RE_FULL), "/");
  cr_expect_str_eq(prefix_of("/a\\.b\\-", MESH__RE_FULL), "/a.b-");
  cr_expect_str_eq(prefix_of("/abc$", MESH__RE_FULL), "/abc");
  cr_expect_str_eq(prefix_of("/abc(?i)def", MESH__RE_FULL), "/abc");
  cr_expect_str_eq(prefix_of("(?i)/abc", MESH__RE_FULL), "", "a flag could apply to it");
  cr_expect_str_eq(prefix_of("/a|/b", MESH__RE_FULL), "", "an alternation");
  cr_expect_str_eq(prefix_of("/x(a|b)", MESH__RE_FULL), "", "any alternation");
  cr_expect_str_eq(prefix_of("\\d+", MESH__RE_FULL), "");
  cr_expect_str_eq(prefix_of("/a\\Qb\\E", MESH__RE_FULL), "/a");
  cr_expect_str_eq(prefix_of(".*", MESH__RE_FULL), "");
  cr_expect_str_eq(prefix_of("/abc", MESH__RE_SEARCH), "", "search mode has none");
}

Test(regex, max_program_size_is_applied_to_the_pattern_length) {
  char err[200];
  mesh__regex *re = mesh__regex_compile("abcdef", 6, MESH__RE_FULL, 5, err, sizeof err);
  cr_expect_null(re);
  cr_expect(strstr(err, "max_program_size") != NULL);
  re = mesh__regex_compile("abcdef", 6, MESH__RE_FULL, 6, err, sizeof err);
  cr_expect_not_null(re);
  mesh__regex_free(re);
}

Test(regex, catastrophic_backtracking_is_bounded) {
  mesh__regex *re = re_ok("(a+)+$", MESH__RE_FULL);
  char s[64];
  memset(s, 'a', 40);
  s[40] = 'b';
  s[41] = 0;
  uint64_t before = mesh__regex_limit_hits();
  cr_expect_not(m(re, s)); /* returns (quickly) without a match */
  cr_expect_gt(mesh__regex_limit_hits(), before, "the match limit stopped it");
  mesh__regex_free(re);
}

Test(regex, global_replace_follows_re2) {
  char out[128];
  mesh__regex *re = re_ok("one", MESH__RE_SEARCH);
  ptrdiff_t n = mesh__regex_replace(re, "/xxx/one/yyy/one/zzz", 20, "two", 3, out, sizeof out);
  cr_assert_eq(n, 20);
  cr_expect_eq(memcmp(out, "/xxx/two/yyy/two/zzz", 20), 0);
  mesh__regex_free(re);

  re = re_ok("^/service/([^/]+)(/.*)$", MESH__RE_SEARCH);
  const char *sub = "\\2/instance/\\1";
  n = mesh__regex_replace(re, "/service/foo/v1/api", 19, sub, strlen(sub), out, sizeof out);
  cr_assert_gt(n, 0);
  out[n] = 0;
  cr_expect_str_eq(out, "/v1/api/instance/foo");
  mesh__regex_free(re);

  /* Empty matches: RE2 puts one at each position, never right after the
   * previous match. */
  re = re_ok("x*", MESH__RE_SEARCH);
  n = mesh__regex_replace(re, "abxd", 4, "-", 1, out, sizeof out);
  out[n] = 0;
  cr_expect_str_eq(out, "-a-b-d-");
  cr_expect_eq(mesh__regex_replace(re, "abxd", 4, "-", 1, out, 3), MESH__RE_ETOOSMALL);
  mesh__regex_free(re);

  re = re_ok("(a)(b)?", MESH__RE_SEARCH);
  n = mesh__regex_replace(re, "ac", 2, "[\\2\\1\\\\]", 8, out, sizeof out);
  out[n] = 0;
  cr_expect_str_eq(out, "[a\\]c", "an unset group is empty; \\\\ is a backslash");
  mesh__regex_free(re);
}

Test(regex, rewrite_strings_are_checked) {
  char err[160];
  mesh__regex *re = re_ok("(a)", MESH__RE_SEARCH);
  cr_expect_eq(mesh__regex_check_rewrite(re, "\\1\\0\\\\", 6, err, sizeof err), 0);
  cr_expect_eq(mesh__regex_check_rewrite(re, "\\2", 2, err, sizeof err), -1);
  cr_expect_eq(mesh__regex_check_rewrite(re, "\\n", 2, err, sizeof err), -1);
  cr_expect_eq(mesh__regex_check_rewrite(re, "x\\", 2, err, sizeof err), -1);
  mesh__regex_free(re);
}

/* ------------------------------------------------------------------ */
/* Virtual hosts                                                       */
/* ------------------------------------------------------------------ */

Test(vhost, exact_beats_suffix_beats_prefix_beats_any) {
  RouteConfiguration *rc = rc_new();
  vh_add(rc, "exact", "www.foo.com");
  vh_add(rc, "suffix-short", "*.com");
  vh_add(rc, "suffix-long", "*.foo.com");
  vh_add(rc, "suffix-dash", "*-bar.foo.com");
  vh_add(rc, "prefix-short", "www.*");
  vh_add(rc, "prefix-long", "www.foo.*");
  vh_add(rc, "any", "*");
  build(rc);
  cr_expect_str_eq(vhost_for("www.foo.com"), "exact");
  cr_expect_str_eq(vhost_for("WWW.Foo.COM"), "exact", "case-insensitive");
  cr_expect_str_eq(vhost_for("api.foo.com"), "suffix-long", "the longest suffix wins");
  cr_expect_str_eq(vhost_for("x-bar.foo.com"), "suffix-dash");
  cr_expect_str_eq(vhost_for("x.com"), "suffix-short");
  cr_expect_str_eq(vhost_for("www.foo.org"), "prefix-long", "the longest prefix wins");
  cr_expect_str_eq(vhost_for("www.bar.org"), "prefix-short");
  cr_expect_str_eq(vhost_for("www.bar.com"), "suffix-short", "suffix before prefix");
  cr_expect_str_eq(vhost_for("other.org"), "any");
  cr_expect_str_eq(vhost_for(".foo.com"), "suffix-short", "a wildcard needs at least one character");
  cr_expect_str_eq(vhost_for("www."), "any");
  cr_expect_str_eq(vhost_for(""), "any");
  cr_expect_eq(RT->nsuffixes, 3);
  cr_expect_eq(RT->suffixes[0].key.len, strlen("-bar.foo.com"), "longest first");
  cr_expect_eq(RT->nprefixes, 2);
  cr_expect_str_eq(RT->prefixes[0].key.p, "www.foo.");
}

Test(vhost, no_match_without_star) {
  RouteConfiguration *rc = rc_new();
  vh_add(rc, "a", "a.com");
  build(rc);
  cr_expect_null(mesh__route_vhost(RT, "b.com", 5));
  cr_expect_null(mesh__route_vhost(RT, NULL, 0));
  cr_expect_not_null(mesh__route_vhost(RT, "A.COM", 5));
}

Test(vhost, port_stripped_when_no_domain_has_one) {
  RouteConfiguration *rc = rc_new();
  vh_add(rc, "foo", "foo.com");
  vh_add(rc, "wild", "*.bar.com");
  vh_add(rc, "v6", "[::1]");
  vh_add(rc, "any", "*");
  build(rc);
  cr_expect_str_eq(vhost_for("foo.com:8080"), "foo");
  cr_expect_str_eq(vhost_for("x.bar.com:443"), "wild");
  cr_expect_str_eq(vhost_for("[::1]:80"), "v6");
  cr_expect_str_eq(vhost_for("foo.com:"), "any", "an empty port is not a port");
  cr_expect_str_eq(vhost_for("foo.com:80x"), "any");
}

Test(vhost, port_tried_as_given_first_when_domains_have_ports) {
  RouteConfiguration *rc = rc_new();
  vh_add(rc, "with-port", "foo.com:8080");
  vh_add(rc, "without", "foo.com");
  vh_add(rc, "wild", "foo.*");
  build(rc);
  cr_expect_str_eq(vhost_for("foo.com:8080"), "with-port");
  cr_expect_str_eq(vhost_for("foo.com:9090"), "without", "exact without the port beats a wildcard");
  cr_expect_str_eq(vhost_for("foo.com"), "without");
  cr_expect_str_eq(vhost_for("foo.org:1"), "wild");
}

Test(vhost, ignore_port_in_host_matching) {
  RouteConfiguration *rc = rc_new();
  rc->ignore_port_in_host_matching = 1;
  vh_add(rc, "with-port", "foo.com:8080");
  vh_add(rc, "without", "foo.com");
  build(rc);
  cr_expect_str_eq(vhost_for("foo.com:8080"), "without");
}

Test(vhost, duplicate_domains_are_refused) {
  RouteConfiguration *rc = rc_new();
  vh_add(rc, "a", "a.com b.com");
  vh_add(rc, "b", "B.com");
  expect_error(rc, "virtual_hosts[1].domains[0]: duplicate domain \"b.com\" (also in virtual_hosts[0])");
  rc = rc_new();
  vh_add(rc, "a", "*.a.com");
  vh_add(rc, "b", "*.a.com");
  expect_error(rc, "duplicate domain");
  rc = rc_new();
  vh_add(rc, "a", "*");
  vh_add(rc, "b", "*");
  expect_error(rc, "only one \"*\"");
  rc = rc_new();
  vh_add(rc, "a", "");
  expect_error(rc, "virtual_hosts[0]: domains: at least one domain is required");
}

Test(vhost, many_domains_hash_lookup) {
  RouteConfiguration *rc = rc_new();
  char name[32], dom[128];
  for (int i = 0; i < 500; i++) {
    snprintf(name, sizeof name, "v%d", i);
    snprintf(dom, sizeof dom, "svc%d.ns%d.example.com *.w%d.example.org p%d.*", i, i % 7, i, i);
    vh_add(rc, name, dom);
  }
  build(rc);
  for (int i = 0; i < 500; i += 37) {
    snprintf(name, sizeof name, "v%d", i);
    snprintf(dom, sizeof dom, "svc%d.ns%d.example.com", i, i % 7);
    cr_expect_str_eq(vhost_for(dom), name);
    snprintf(dom, sizeof dom, "a.b.w%d.example.org", i);
    cr_expect_str_eq(vhost_for(dom), name);
    snprintf(dom, sizeof dom, "p%d.anything", i);
    cr_expect_str_eq(vhost_for(dom), name);
  }
}

/* ------------------------------------------------------------------ */
/* Route matching                                                      */
/* ------------------------------------------------------------------ */

static void named(Route *r, const char *name) { r->name = str(name); }

Test(match, path_kinds_and_first_match_wins) {
  RouteConfiguration *rc = rc_new();
  VirtualHost *vh = vh_add(rc, "v", "*");
  named(route_add(vh, PATH, "/exact"), "exact");
  named(route_add(vh, SEP, "/api"), "sep");
  named(route_add(vh, REGEX, "/re/[0-9]+"), "regex");
  named(route_add(vh, PREFIX, "/p"), "prefix");
  named(route_add(vh, PREFIX, ""), "catch-all");
  for (size_t i = 0; i < vh->n_routes; i++) to_cluster(vh->routes[i], "c");
  build(rc);
  cr_expect_str_eq(ROUTE_FOR("/exact", NULL), "exact");
  cr_expect_str_eq(ROUTE_FOR("/exact?x=1", NULL), "exact", "the query is not part of the path");
  cr_expect_str_eq(ROUTE_FOR("/exact/", NULL), "catch-all");
  cr_expect_str_eq(ROUTE_FOR("/api", NULL), "sep");
  cr_expect_str_eq(ROUTE_FOR("/api/v1", NULL), "sep");
  cr_expect_str_eq(ROUTE_FOR("/api?q", NULL), "sep");
  cr_expect_str_eq(ROUTE_FOR("/apix", NULL), "catch-all", "separated prefix needs '/' or the end");
  cr_expect_str_eq(ROUTE_FOR("/re/123", NULL), "regex");
  cr_expect_str_eq(ROUTE_FOR("/re/123?a=b", NULL), "regex", "regex sees the path without the query");
  cr_expect_str_eq(ROUTE_FOR("/re/123/x", NULL), "catch-all", "regex must match the whole path");
  cr_expect_str_eq(ROUTE_FOR("/x/re/123", NULL), "catch-all");
  cr_expect_str_eq(ROUTE_FOR("/prefix", NULL), "prefix");
  cr_expect_str_eq(ROUTE_FOR("/P", NULL), "catch-all", "case-sensitive by default");
  cr_expect_str_eq(ROUTE_FOR("/", NULL), "catch-all");
  cr_expect_str_eq(ROUTE_FOR("/exact#frag", NULL), "exact");
}

Test(match, case_insensitive_prefix_and_path) {
  RouteConfiguration *rc = rc_new();
  VirtualHost *vh = vh_add(rc, "v", "*");
  Route *r = route_add(vh, PREFIX, "/Foo");
  r->match->case_sensitive = boolv(false);
  named(r, "prefix");
  to_cluster(r, "c");
  r = route_add(vh, PATH, "/BAR");
  r->match->case_sensitive = boolv(false);
  named(r, "path");
  to_cluster(r, "c");
  r = route_add(vh, REGEX, "/baz");
  r->match->case_sensitive = boolv(false);
  named(r, "regex");
  to_cluster(r, "c");
  build(rc);
  cr_expect_str_eq(ROUTE_FOR("/fOO/x", NULL), "prefix");
  cr_expect_str_eq(ROUTE_FOR("/bar", NULL), "path");
  cr_expect_str_eq(ROUTE_FOR("/Bar?Q", NULL), "path");
  cr_expect_str_eq(ROUTE_FOR("/baz", NULL), "regex");
  cr_expect_str_eq(ROUTE_FOR("/BAZ", NULL), "", "case_sensitive does not apply to safe_regex");
}

Test(match, header_string_matchers) {
  RouteConfiguration *rc;
  Route *r = one_route(&rc, PREFIX, "/");
  HeaderMatcher *h = hm_add(r, "X-Exact");
  h->header_match_specifier_case = ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_EXACT_MATCH;
  h->exact_match = str("Val");
  h = hm_add(r, "x-pre");
  h->header_match_specifier_case = ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_STRING_MATCH;
  h->string_match = sm_new(SM_PREFIX, "AB", true);
  h = hm_add(r, "x-suf");
  h->header_match_specifier_case = ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_SUFFIX_MATCH;
  h->suffix_match = str("yz");
  h = hm_add(r, "x-con");
  h->header_match_specifier_case = ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_STRING_MATCH;
  h->string_match = sm_new(SM_CONTAINS, "mid", false);
  h = hm_add(r, "x-re");
  h->header_match_specifier_case = ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_SAFE_REGEX_MATCH;
  h->safe_regex_match = re_msg("[0-9]{3}");
  build(rc);
  const char *ok[] = {"x-exact", "Val", "x-pre", "abc", "x-suf", "xyz", "x-con", "amidb", "x-re", "123", NULL};
  req q;
  mkreq(&q, "h", "/", ok[0], ok[1], ok[2], ok[3], ok[4], ok[5], ok[6], ok[7], ok[8], ok[9], NULL);
  cr_expect_str_eq(route_for(&q.in), "hit");
  q.values[0] = "val";
  cr_expect_str_eq(route_for(&q.in), "", "exact is case-sensitive");
  q.values[0] = "Val";
  q.values[1] = "xab";
  cr_expect_str_eq(route_for(&q.in), "", "prefix");
  q.values[1] = "aBx";
  cr_expect_str_eq(route_for(&q.in), "hit", "ignore_case prefix");
  q.values[3] = "amIdb";
  cr_expect_str_eq(route_for(&q.in), "", "contains is case-sensitive");
  q.values[3] = "mid";
  q.values[4] = "1234";
  cr_expect_str_eq(route_for(&q.in), "", "a regex matching a substring does not match");
  q.values[4] = "999";
  cr_expect_str_eq(route_for(&q.in), "hit");
  q.in.nheaders = 4;
  cr_expect_str_eq(route_for(&q.in), "", "a missing header does not match");
}

Test(match, header_invert_present_missing_and_empty) {
  RouteConfiguration *rc = rc_new();
  VirtualHost *vh = vh_add(rc, "v", "*");
  Route *r;
  HeaderMatcher *h;
  /* inverted exact: matches other values, not a missing header */
  r = route_add(vh, PREFIX, "/inv");
  named(r, "inv");
  to_cluster(r, "c");
  h = hm_add(r, "x");
  h->header_match_specifier_case = ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_EXACT_MATCH;
  h->exact_match = str("a");
  h->invert_match = 1;
  /* present_match false: the header is absent */
  r = route_add(vh, PREFIX, "/absent");
  named(r, "absent");
  to_cluster(r, "c");
  h = hm_add(r, "x");
  h->header_match_specifier_case = ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_PRESENT_MATCH;
  h->present_match = 0;
  /* present_match true inverted: also absent */
  r = route_add(vh, PREFIX, "/ip");
  named(r, "inv-present");
  to_cluster(r, "c");
  h = hm_add(r, "x");
  h->header_match_specifier_case = ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_PRESENT_MATCH;
  h->present_match = 1;
  h->invert_match = 1;
  /* no specifier: present */
  r = route_add(vh, PREFIX, "/bare");
  named(r, "bare");
  to_cluster(r, "c");
  hm_add(r, "x");
  /* treat_missing_header_as_empty + inverted range: missing is "", which
   * is not in range, so the inverted matcher matches */
  r = route_add(vh, PREFIX, "/tm");
  named(r, "tm");
  to_cluster(r, "c");
  h = hm_add(r, "x");
  h->header_match_specifier_case = ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_RANGE_MATCH;
  Envoy__Type__V3__Int64Range *range = pb(sizeof *range);
  Envoy__Type__V3__Int64Range ri = ENVOY__TYPE__V3__INT64_RANGE__INIT;
  *range = ri;
  range->start = 0;
  range->end = 10;
  h->range_match = range;
  h->invert_match = 1;
  h->treat_missing_header_as_empty = 1;
  /* the same without treat_missing: a missing header does not match */
  r = route_add(vh, PREFIX, "/nt");
  named(r, "nt");
  to_cluster(r, "c");
  h = hm_add(r, "x");
  h->header_match_specifier_case = ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_RANGE_MATCH;
  h->range_match = range;
  h->invert_match = 1;
  /* empty exact with treat_missing: "" matches */
  r = route_add(vh, PREFIX, "/empty");
  named(r, "empty");
  to_cluster(r, "c");
  h = hm_add(r, "x");
  h->header_match_specifier_case = ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_STRING_MATCH;
  h->string_match = sm_new(SM_EXACT, "", false);
  h->treat_missing_header_as_empty = 1;
  build(rc);

  cr_expect_str_eq(ROUTE_FOR("/inv", "x", "b", NULL), "inv");
  cr_expect_str_eq(ROUTE_FOR("/inv", "x", "a", NULL), "");
  cr_expect_str_eq(ROUTE_FOR("/inv", NULL), "", "inverted matchers do not match a missing header");
  cr_expect_str_eq(ROUTE_FOR("/absent", NULL), "absent");
  cr_expect_str_eq(ROUTE_FOR("/absent", "x", "", NULL), "", "an empty header is present");
  cr_expect_str_eq(ROUTE_FOR("/ip", NULL), "inv-present");
  cr_expect_str_eq(ROUTE_FOR("/ip", "x", "1", NULL), "");
  cr_expect_str_eq(ROUTE_FOR("/bare", "x", "", NULL), "bare");
  cr_expect_str_eq(ROUTE_FOR("/bare", NULL), "");
  cr_expect_str_eq(ROUTE_FOR("/tm", NULL), "tm");
  cr_expect_str_eq(ROUTE_FOR("/tm", "x", "5", NULL), "");
  cr_expect_str_eq(ROUTE_FOR("/tm", "x", "10", NULL), "tm");
  cr_expect_str_eq(ROUTE_FOR("/nt", NULL), "");
  cr_expect_str_eq(ROUTE_FOR("/nt", "x", "11", NULL), "nt");
  cr_expect_str_eq(ROUTE_FOR("/empty", NULL), "empty");
  cr_expect_str_eq(ROUTE_FOR("/empty", "x", "", NULL), "empty");
  cr_expect_str_eq(ROUTE_FOR("/empty", "x", "v", NULL), "");
}

Test(match, header_range_bounds) {
  RouteConfiguration *rc;
  Route *r = one_route(&rc, PREFIX, "/");
  HeaderMatcher *h = hm_add(r, "n");
  h->header_match_specifier_case = ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_RANGE_MATCH;
  Envoy__Type__V3__Int64Range *range = pb(sizeof *range);
  Envoy__Type__V3__Int64Range ri = ENVOY__TYPE__V3__INT64_RANGE__INIT;
  *range = ri;
  range->start = -10;
  range->end = 10;
  h->range_match = range;
  build(rc);
  cr_expect_str_eq(ROUTE_FOR("/", "n", "-10", NULL), "hit", "start is inclusive");
  cr_expect_str_eq(ROUTE_FOR("/", "n", "9", NULL), "hit");
  cr_expect_str_eq(ROUTE_FOR("/", "n", "10", NULL), "", "end is exclusive");
  cr_expect_str_eq(ROUTE_FOR("/", "n", "-11", NULL), "");
  cr_expect_str_eq(ROUTE_FOR("/", "n", " +3 ", NULL), "hit", "whitespace and sign, as absl::SimpleAtoi");
  cr_expect_str_eq(ROUTE_FOR("/", "n", "3x", NULL), "");
  cr_expect_str_eq(ROUTE_FOR("/", "n", "", NULL), "");
  cr_expect_str_eq(ROUTE_FOR("/", "n", "99999999999999999999", NULL), "", "overflow is not a number");
  cr_expect_str_eq(ROUTE_FOR("/", "n", "1", "n", "2", NULL), "", "\"1,2\" is not a number");
}

Test(match, multiple_values_are_joined_with_commas) {
  RouteConfiguration *rc;
  Route *r = one_route(&rc, PREFIX, "/");
  HeaderMatcher *h = hm_add(r, "x");
  h->header_match_specifier_case = ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_EXACT_MATCH;
  h->exact_match = str("a,b,c");
  build(rc);
  cr_expect_str_eq(ROUTE_FOR("/", "x", "a", "y", "-", "x", "b", "x", "c", NULL), "hit");
  cr_expect_str_eq(ROUTE_FOR("/", "x", "a,b,c", NULL), "hit");
  cr_expect_str_eq(ROUTE_FOR("/", "x", "a", "x", "b", NULL), "");
  /* A joined value beyond the bound fails the matcher. */
  static char big[MESH__ROUTE_JOIN_MAX];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  cr_expect_str_eq(ROUTE_FOR("/", "x", big, "x", big, NULL), "");
}

Test(match, pseudo_headers) {
  RouteConfiguration *rc;
  Route *r = one_route(&rc, PREFIX, "/");
  HeaderMatcher *h = hm_add(r, ":method");
  h->header_match_specifier_case = ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_EXACT_MATCH;
  h->exact_match = str("POST");
  h = hm_add(r, ":authority");
  h->header_match_specifier_case = ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_SUFFIX_MATCH;
  h->suffix_match = str(":8080");
  h = hm_add(r, ":path");
  h->header_match_specifier_case = ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_CONTAINS_MATCH;
  h->contains_match = str("?debug");
  h = hm_add(r, ":scheme");
  h->header_match_specifier_case = ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_EXACT_MATCH;
  h->exact_match = str("https");
  build(rc);
  req q;
  mkreq(&q, "h:8080", "/a?debug=1", NULL);
  q.in.method = "POST";
  q.in.scheme = "https";
  cr_expect_str_eq(route_for(&q.in), "hit");
  q.in.method = "GET";
  cr_expect_str_eq(route_for(&q.in), "");
  q.in.method = "POST";
  q.in.scheme = "http";
  cr_expect_str_eq(route_for(&q.in), "");
}

Test(match, query_parameters) {
  RouteConfiguration *rc = rc_new();
  VirtualHost *vh = vh_add(rc, "v", "*");
  Route *r = route_add(vh, PREFIX, "/s");
  named(r, "string");
  to_cluster(r, "c");
  QueryParameterMatcher *q = qm_add(r, "a");
  q->query_parameter_match_specifier_case =
      ENVOY__CONFIG__ROUTE__V3__QUERY_PARAMETER_MATCHER__QUERY_PARAMETER_MATCH_SPECIFIER_STRING_MATCH;
  q->string_match = sm_new(SM_EXACT, "1%202", false);
  r = route_add(vh, PREFIX, "/p");
  named(r, "present");
  to_cluster(r, "c");
  q = qm_add(r, "flag");
  q->query_parameter_match_specifier_case =
      ENVOY__CONFIG__ROUTE__V3__QUERY_PARAMETER_MATCHER__QUERY_PARAMETER_MATCH_SPECIFIER_PRESENT_MATCH;
  q->present_match = 1;
  r = route_add(vh, PREFIX, "/n");
  named(r, "absent");
  to_cluster(r, "c");
  q = qm_add(r, "flag");
  q->query_parameter_match_specifier_case =
      ENVOY__CONFIG__ROUTE__V3__QUERY_PARAMETER_MATCHER__QUERY_PARAMETER_MATCH_SPECIFIER_PRESENT_MATCH;
  q->present_match = 0;
  r = route_add(vh, PREFIX, "/e");
  named(r, "empty");
  to_cluster(r, "c");
  q = qm_add(r, "v");
  q->query_parameter_match_specifier_case =
      ENVOY__CONFIG__ROUTE__V3__QUERY_PARAMETER_MATCHER__QUERY_PARAMETER_MATCH_SPECIFIER_STRING_MATCH;
  q->string_match = sm_new(SM_EXACT, "", false);
  build(rc);
  cr_expect_str_eq(ROUTE_FOR("/s?a=1%202", NULL), "string", "raw value, not decoded");
  cr_expect_str_eq(ROUTE_FOR("/s?a=1 2", NULL), "");
  cr_expect_str_eq(ROUTE_FOR("/s?b=0&a=1%202&a=x", NULL), "string");
  cr_expect_str_eq(ROUTE_FOR("/s?a=x&a=1%202", NULL), "", "only the first value counts");
  cr_expect_str_eq(ROUTE_FOR("/s", NULL), "");
  cr_expect_str_eq(ROUTE_FOR("/p?flag", NULL), "present", "a parameter without a value");
  cr_expect_str_eq(ROUTE_FOR("/p?x=1&flag=", NULL), "present");
  cr_expect_str_eq(ROUTE_FOR("/p?flags=1", NULL), "");
  cr_expect_str_eq(ROUTE_FOR("/p#?flag", NULL), "", "a fragment is not a query");
  cr_expect_str_eq(ROUTE_FOR("/n?other=1", NULL), "absent");
  cr_expect_str_eq(ROUTE_FOR("/n", NULL), "absent");
  cr_expect_str_eq(ROUTE_FOR("/n?flag=0", NULL), "");
  cr_expect_str_eq(ROUTE_FOR("/e?v", NULL), "empty", "no '=' means the value \"\"");
  cr_expect_str_eq(ROUTE_FOR("/e?v=", NULL), "empty");
  cr_expect_str_eq(ROUTE_FOR("/e?v=1", NULL), "");
}

Test(match, grpc_content_type) {
  RouteConfiguration *rc;
  Route *r = one_route(&rc, PREFIX, "/");
  Envoy__Config__Route__V3__RouteMatch__GrpcRouteMatchOptions *g = pb(sizeof *g);
  Envoy__Config__Route__V3__RouteMatch__GrpcRouteMatchOptions gi =
      ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__GRPC_ROUTE_MATCH_OPTIONS__INIT;
  *g = gi;
  r->match->grpc = g;
  build(rc);
  cr_expect_str_eq(ROUTE_FOR("/", "content-type", "application/grpc", NULL), "hit");
  cr_expect_str_eq(ROUTE_FOR("/", "content-type", "application/grpc+proto", NULL), "hit");
  cr_expect_str_eq(ROUTE_FOR("/", "content-type", "application/grpc-web", NULL), "");
  cr_expect_str_eq(ROUTE_FOR("/", "content-type", "application/json", NULL), "");
  cr_expect_str_eq(ROUTE_FOR("/", NULL), "");
}

static void set_fraction(Route *r, uint32_t num, int den) {
  Envoy__Config__Core__V3__RuntimeFractionalPercent *f = pb(sizeof *f);
  Envoy__Config__Core__V3__RuntimeFractionalPercent fi = ENVOY__CONFIG__CORE__V3__RUNTIME_FRACTIONAL_PERCENT__INIT;
  *f = fi;
  Envoy__Type__V3__FractionalPercent *fp = pb(sizeof *fp);
  Envoy__Type__V3__FractionalPercent fpi = ENVOY__TYPE__V3__FRACTIONAL_PERCENT__INIT;
  *fp = fpi;
  fp->numerator = num;
  fp->denominator = den;
  f->default_value = fp;
  r->match->runtime_fraction = f;
}

Test(match, runtime_fraction) {
  RouteConfiguration *rc = rc_new();
  VirtualHost *vh = vh_add(rc, "v", "*");
  Route *r = route_add(vh, PREFIX, "/zero");
  named(r, "zero");
  to_cluster(r, "c");
  set_fraction(r, 0, ENVOY__TYPE__V3__FRACTIONAL_PERCENT__DENOMINATOR_TYPE__HUNDRED);
  r = route_add(vh, PREFIX, "/all");
  named(r, "all");
  to_cluster(r, "c");
  set_fraction(r, 100, ENVOY__TYPE__V3__FRACTIONAL_PERCENT__DENOMINATOR_TYPE__HUNDRED);
  r = route_add(vh, PREFIX, "/half");
  named(r, "half");
  to_cluster(r, "c");
  set_fraction(r, 5000, ENVOY__TYPE__V3__FRACTIONAL_PERCENT__DENOMINATOR_TYPE__TEN_THOUSAND);
  r->match->runtime_fraction->runtime_key = str("routing.half");
  build(rc);
  cr_expect(noted("runtime_fraction.runtime_key"));
  req q;
  int zero = 0, all = 0, half = 0;
  for (int i = 0; i < 10000; i++) {
    uint64_t x = next_random();
    mkreq(&q, "h", "/zero", NULL);
    q.in.random = x;
    zero += *route_for(&q.in) != 0;
    mkreq(&q, "h", "/all", NULL);
    q.in.random = x;
    all += *route_for(&q.in) != 0;
    mkreq(&q, "h", "/half", NULL);
    q.in.random = x;
    half += *route_for(&q.in) != 0;
  }
  cr_expect_eq(zero, 0);
  cr_expect_eq(all, 10000);
  cr_expect(half >= 4800 && half <= 5200, "50%% matched %d of 10000", half);
  mkreq(&q, "h", "/half", NULL);
  q.in.random = 4999;
  cr_expect_str_eq(route_for(&q.in), "half", "random %% 10000 < 5000");
  q.in.random = 5000;
  cr_expect_str_eq(route_for(&q.in), "");
}

/* ------------------------------------------------------------------ */
/* Actions                                                             */
/* ------------------------------------------------------------------ */

static const mesh__route *only_route(void) {
  cr_assert_eq(RT->nvhosts, 1);
  cr_assert_geq(RT->vhosts[0].nroutes, 1);
  return &RT->vhosts[0].routes[0];
}

Test(action, weighted_clusters_split_statistically) {
  RouteConfiguration *rc = rc_new();
  Route *r = route_add(vh_add(rc, "v", "*"), PREFIX, "/");
  WeightedCluster *wc = weighted(r);
  weight_add(wc, "eighty", 80);
  weight_add(wc, "twenty", 20);
  weight_add(wc, "never", 0);
  build(rc);
  const mesh__route *rt = only_route();
  cr_expect_eq(rt->route.total_weight, 100);
  int eighty = 0, twenty = 0;
  req q;
  mkreq(&q, "h", "/", NULL);
  for (int i = 0; i < 10000; i++) {
    q.in.random = next_random();
    const mesh__cluster_weight *cw = NULL;
    const char *c = mesh__route_cluster(rt, &q.in, &cw);
    cr_assert_not_null(c);
    cr_assert_not_null(cw);
    cr_assert_str_eq(cw->name.p, c);
    eighty += !strcmp(c, "eighty");
    twenty += !strcmp(c, "twenty");
  }
  cr_expect_eq(eighty + twenty, 10000, "a zero weight is never picked");
  cr_expect(eighty >= 7800 && eighty <= 8200, "80%%: %d of 10000", eighty);
  /* Sequential random values (a counter) split as well. */
  eighty = 0;
  for (uint64_t i = 0; i < 10000; i++) {
    q.in.random = i;
    eighty += !strcmp(mesh__route_cluster(rt, &q.in, NULL), "eighty");
  }
  cr_expect(eighty >= 7800 && eighty <= 8200, "80%% (counter): %d of 10000", eighty);
}

Test(action, weighted_random_value_header_and_cluster_header) {
  RouteConfiguration *rc = rc_new();
  Route *r = route_add(vh_add(rc, "v", "*"), PREFIX, "/");
  WeightedCluster *wc = weighted(r);
  wc->random_value_specifier_case = ENVOY__CONFIG__ROUTE__V3__WEIGHTED_CLUSTER__RANDOM_VALUE_SPECIFIER_HEADER_NAME;
  wc->header_name = str("X-Pick");
  weight_add(wc, "a", 30);
  ClusterWeight *cw = weight_add(wc, "", 70);
  cw->cluster_header = str("X-Cluster");
  PUSH(cw, request_headers_to_add, hvo("x-weighted", "1"));
  build(rc);
  const mesh__route *rt = only_route();
  req q;
  const mesh__cluster_weight *w;
  mkreq(&q, "h", "/", "x-pick", "129", "x-cluster", "dyn", NULL);
  cr_expect_str_eq(mesh__route_cluster(rt, &q.in, &w), "a", "129 %% 100 = 29 < 30");
  mkreq(&q, "h", "/", "x-pick", "30", "x-cluster", "dyn", NULL);
  cr_expect_str_eq(mesh__route_cluster(rt, &q.in, &w), "dyn");
  cr_expect_eq(w, &rt->route.weights[1]);
  mkreq(&q, "h", "/", "x-pick", "30", NULL);
  cr_expect_null(mesh__route_cluster(rt, &q.in, &w), "cluster_header missing: no cluster");
  cr_expect_eq(w, &rt->route.weights[1]);
}

Test(action, cluster_header) {
  RouteConfiguration *rc = rc_new();
  Route *r = route_add(vh_add(rc, "v", "*"), PREFIX, "/");
  RouteAction *a = action_new(r);
  a->cluster_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__CLUSTER_SPECIFIER_CLUSTER_HEADER;
  a->cluster_header = str("X-Target");
  a->cluster_not_found_response_code = ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__CLUSTER_NOT_FOUND_RESPONSE_CODE__NOT_FOUND;
  build(rc);
  const mesh__route *rt = only_route();
  req q;
  mkreq(&q, "h", "/", "x-target", "svc-b", "x-target", "svc-c", NULL);
  cr_expect_str_eq(mesh__route_cluster(rt, &q.in, NULL), "svc-b", "the first value");
  mkreq(&q, "h", "/", NULL);
  cr_expect_null(mesh__route_cluster(rt, &q.in, NULL));
  mkreq(&q, "h", "/", "x-target", "", NULL);
  cr_expect_null(mesh__route_cluster(rt, &q.in, NULL));
  cr_expect_eq(rt->route.cluster_not_found_code, 404);
}

static const char *rewrite(const char *path) {
  static char buf[256];
  req q;
  mkreq(&q, "h", path, NULL);
  const mesh__vhost *vh = mesh__route_vhost(RT, "h", 1);
  const mesh__route *r = mesh__route_match(vh, &q.in);
  cr_assert_not_null(r, "no route for %s", path);
  ptrdiff_t n = mesh__route_rewrite_path(r, &q.in, buf, sizeof buf);
  cr_assert_geq(n, 0);
  cr_assert_eq((size_t)n, strlen(buf));
  return buf;
}

Test(action, prefix_and_regex_rewrite) {
  RouteConfiguration *rc = rc_new();
  VirtualHost *vh = vh_add(rc, "v", "*");
  Route *r = route_add(vh, PREFIX, "/old/");
  to_cluster(r, "c")->prefix_rewrite = str("/new/");
  r = route_add(vh, PREFIX, "/CI/");
  r->match->case_sensitive = boolv(false);
  to_cluster(r, "c")->prefix_rewrite = str("/");
  r = route_add(vh, PATH, "/exact");
  to_cluster(r, "c")->prefix_rewrite = str("/other");
  r = route_add(vh, REGEX, "/svc/[a-z]+/.*");
  to_cluster(r, "c")->regex_rewrite = re_sub("^/svc/([^/]+)(/.*)$", "\\2/instance/\\1");
  r = route_add(vh, PREFIX, "/g/");
  to_cluster(r, "c")->regex_rewrite = re_sub("one", "two");
  r = route_add(vh, PREFIX, "/");
  to_cluster(r, "c");
  build(rc);
  cr_expect_str_eq(rewrite("/old/a/b?x=/old/"), "/new/a/b?x=/old/");
  cr_expect_str_eq(rewrite("/ci/x"), "/x", "the matched prefix goes, whatever its case");
  cr_expect_str_eq(rewrite("/exact?q"), "/other?q");
  cr_expect_str_eq(rewrite("/svc/foo/v1/api?one"), "/v1/api/instance/foo?one", "the query is kept");
  cr_expect_str_eq(rewrite("/g/one/x/one"), "/g/two/x/two");
  cr_expect_str_eq(rewrite("/plain?q=1"), "/plain?q=1", "no rewrite: the path as is");
  cr_expect(mesh__route_rewrites_path(&RT->vhosts[0].routes[0]));
  cr_expect_not(mesh__route_rewrites_path(&RT->vhosts[0].routes[5]));
  /* too small */
  req q;
  mkreq(&q, "h", "/old/abc", NULL);
  char small[9];
  cr_expect_eq(mesh__route_rewrite_path(&RT->vhosts[0].routes[0], &q.in, small, 8), MESH__ROUTE_ETOOSMALL,
               "no room for the NUL");
  cr_expect_eq(mesh__route_rewrite_path(&RT->vhosts[0].routes[0], &q.in, small, sizeof small), 8);
  cr_expect_str_eq(small, "/new/abc");
}

static const char *location(const char *scheme, const char *authority, const char *path) {
  static char buf[256];
  req q;
  mkreq(&q, authority, path, NULL);
  q.in.scheme = scheme;
  const mesh__route *r = mesh__route_match(mesh__route_vhost(RT, authority, strlen(authority)), &q.in);
  cr_assert_not_null(r, "no route for %s", path);
  cr_assert_eq(r->action, MESH__ACTION_REDIRECT);
  ptrdiff_t n = mesh__route_redirect_location(r, &q.in, buf, sizeof buf);
  cr_assert_geq(n, 0, "location error %td", n);
  cr_assert_eq((size_t)n, strlen(buf));
  return buf;
}

Test(action, redirect_location) {
  RouteConfiguration *rc = rc_new();
  VirtualHost *vh = vh_add(rc, "v", "*");
  RedirectAction *ra;
  ra = redirect(route_add(vh, PREFIX, "/https"));
  ra->scheme_rewrite_specifier_case = ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__SCHEME_REWRITE_SPECIFIER_HTTPS_REDIRECT;
  ra->https_redirect = 1;
  ra = redirect(route_add(vh, PREFIX, "/host"));
  ra->host_redirect = str("new.example");
  ra->port_redirect = 8443;
  ra->response_code = ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__REDIRECT_RESPONSE_CODE__PERMANENT_REDIRECT;
  ra = redirect(route_add(vh, PREFIX, "/port"));
  ra->port_redirect = 9000;
  ra = redirect(route_add(vh, PREFIX, "/path"));
  ra->path_rewrite_specifier_case = ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__PATH_REWRITE_SPECIFIER_PATH_REDIRECT;
  ra->path_redirect = str("/elsewhere");
  ra = redirect(route_add(vh, PREFIX, "/pq"));
  ra->path_rewrite_specifier_case = ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__PATH_REWRITE_SPECIFIER_PATH_REDIRECT;
  ra->path_redirect = str("/new?own=1");
  ra->strip_query = 1;
  ra = redirect(route_add(vh, PREFIX, "/strip"));
  ra->strip_query = 1;
  ra->scheme_rewrite_specifier_case = ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__SCHEME_REWRITE_SPECIFIER_SCHEME_REDIRECT;
  ra->scheme_redirect = str("HTTP");
  ra = redirect(route_add(vh, PREFIX, "/pre/"));
  ra->path_rewrite_specifier_case = ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__PATH_REWRITE_SPECIFIER_PREFIX_REWRITE;
  ra->prefix_rewrite = str("/post/");
  ra->response_code = ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__REDIRECT_RESPONSE_CODE__FOUND;
  ra = redirect(route_add(vh, PREFIX, "/re/"));
  ra->path_rewrite_specifier_case = ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__PATH_REWRITE_SPECIFIER_REGEX_REWRITE;
  ra->regex_rewrite = re_sub("^/re/(.*)$", "\\1");
  build(rc);
  cr_expect_str_eq(location("http", "foo.com:80", "/https/x?a=1"), "https://foo.com/https/x?a=1",
                   "the old scheme's default port goes");
  cr_expect_str_eq(location("http", "foo.com:8080", "/https"), "https://foo.com:8080/https");
  cr_expect_str_eq(location("http", "[::1]:80", "/https"), "https://[::1]/https");
  cr_expect_str_eq(location("https", "foo.com", "/host/y"), "https://new.example:8443/host/y");
  cr_expect_str_eq(location("http", "foo.com:1234", "/port"), "http://foo.com:9000/port", "the port is replaced");
  cr_expect_str_eq(location("http", "foo.com", "/path/z?q=2"), "http://foo.com/elsewhere?q=2",
                   "path_redirect keeps the request's query");
  cr_expect_str_eq(location("http", "foo.com", "/pq?q=2"), "http://foo.com/new?own=1",
                   "a query in path_redirect wins and is not stripped");
  cr_expect_str_eq(location("https", "foo.com:443", "/strip?q=2"), "http://foo.com/strip",
                   "scheme_redirect, lower-cased; :443 goes leaving https; strip_query");
  cr_expect_str_eq(location("http", "foo.com", "/pre/a?b"), "http://foo.com/post/a?b");
  cr_expect_str_eq(location("http", "foo.com", "/re/a/b?c"), "http://foo.com/a/b?c", "a leading / is added");
  cr_expect_eq(RT->vhosts[0].routes[0].redirect.code, 301);
  cr_expect_eq(RT->vhosts[0].routes[1].redirect.code, 308);
  cr_expect_eq(RT->vhosts[0].routes[6].redirect.code, 302);
  /* buffer too small; not a redirect */
  req q;
  mkreq(&q, "foo.com", "/https", NULL);
  char small[10];
  cr_expect_eq(mesh__route_redirect_location(&RT->vhosts[0].routes[0], &q.in, small, sizeof small),
               MESH__ROUTE_ETOOSMALL);
}

Test(action, direct_response) {
  RouteConfiguration *rc = rc_new();
  VirtualHost *vh = vh_add(rc, "v", "*");
  direct(route_add(vh, PREFIX, "/teapot"), 418, "short and stout");
  direct(route_add(vh, PREFIX, "/empty"), 204, NULL);
  build(rc);
  const mesh__route *r = &RT->vhosts[0].routes[0];
  cr_expect_eq(r->action, MESH__ACTION_DIRECT);
  cr_expect_eq(r->direct.status, 418);
  cr_expect(r->direct.has_body);
  cr_expect_str_eq(r->direct.body.p, "short and stout");
  cr_expect_not(RT->vhosts[0].routes[1].direct.has_body);
  req q;
  mkreq(&q, "h", "/teapot", NULL);
  cr_expect_null(mesh__route_cluster(r, &q.in, NULL));

  rc = rc_new();
  vh = vh_add(rc, "v", "*");
  char *body = pb(4098);
  memset(body, 'x', 4097);
  direct(route_add(vh, PREFIX, "/"), 200, body);
  expect_error(rc, "virtual_hosts[0].routes[0].direct_response.body: 4097 bytes is more than "
                   "max_direct_response_body_size_bytes (4096)");
  rc->max_direct_response_body_size_bytes = u32(5000);
  build(rc);
  direct(route_add(vh, PREFIX, "/"), 600, NULL);
  expect_error(rc, "status: 600");
  vh->routes[1]->direct_response->status = 199;
  expect_error(rc, "status: 199");
}

Test(action, header_mutation_levels_in_order) {
  RouteConfiguration *rc = rc_new();
  PUSH(rc, request_headers_to_add, hvo("x-level", "table"));
  PUSH(rc, response_headers_to_remove, str("server"));
  VirtualHost *vh = vh_add(rc, "v", "*");
  PUSH(vh, request_headers_to_add, hvo("x-level", "vhost"));
  Route *r = route_add(vh, PREFIX, "/");
  to_cluster(r, "c");
  HeaderValueOption *o = hvo("X-Level", "route %% 100%");
  o->append_action = ENVOY__CONFIG__CORE__V3__HEADER_VALUE_OPTION__HEADER_APPEND_ACTION__OVERWRITE_IF_EXISTS_OR_ADD;
  PUSH(r, request_headers_to_add, o);
  o = hvo("x-old", "1");
  o->append = boolv(false);
  PUSH(r, request_headers_to_add, o);
  o = hvo("x-new", "");
  o->append_action = ENVOY__CONFIG__CORE__V3__HEADER_VALUE_OPTION__HEADER_APPEND_ACTION__ADD_IF_ABSENT;
  o->keep_empty_value = 1;
  PUSH(r, request_headers_to_add, o);
  PUSH(r, request_headers_to_remove, str("X-Drop"));
  build(rc);
  const mesh__route *rt = only_route();
  const mesh__header_ops *ops[4];
  size_t n = mesh__route_request_mutations(rt, NULL, ops);
  cr_assert_eq(n, 3);
  cr_expect_str_eq(ops[0]->add[0].value.p, "route % 100%", "%% unescaped; formatters kept as written");
  cr_expect(noted("FORMATTER"));
  cr_expect_str_eq(ops[0]->add[0].name.p, "x-level", "names lower-cased");
  cr_expect_eq(ops[0]->add[0].action, MESH__OVERWRITE_IF_EXISTS_OR_ADD);
  cr_expect_eq(ops[0]->add[1].action, MESH__OVERWRITE_IF_EXISTS_OR_ADD, "append: false");
  cr_expect_eq(ops[0]->add[2].action, MESH__ADD_IF_ABSENT);
  cr_expect(ops[0]->add[2].keep_empty_value);
  cr_expect_str_eq(ops[0]->remove[0].p, "x-drop");
  cr_expect_str_eq(ops[1]->add[0].value.p, "vhost");
  cr_expect_str_eq(ops[2]->add[0].value.p, "table");
  cr_expect_eq(mesh__route_response_mutations(rt, NULL, ops), 3);
  cr_expect_str_eq(ops[2]->remove[0].p, "server");

  rc->most_specific_header_mutations_wins = 1;
  build(rc);
  rt = only_route();
  n = mesh__route_request_mutations(rt, NULL, ops);
  cr_expect_str_eq(ops[0]->add[0].value.p, "table");
  cr_expect_str_eq(ops[1]->add[0].value.p, "vhost");
  cr_expect_str_eq(ops[2]->add[0].value.p, "route % 100%");

  /* A weighted cluster's own mutations come first. */
  rc = rc_new();
  r = route_add(vh_add(rc, "v", "*"), PREFIX, "/");
  ClusterWeight *cw = weight_add(weighted(r), "a", 1);
  PUSH(cw, response_headers_to_add, hvo("x-cw", "1"));
  build(rc);
  rt = only_route();
  n = mesh__route_response_mutations(rt, &rt->route.weights[0], ops);
  cr_expect_eq(n, 4);
  cr_expect_str_eq(ops[0]->add[0].name.p, "x-cw");
}

Test(action, resilience_fields_are_stored) {
  RouteConfiguration *rc = rc_new();
  VirtualHost *vh = vh_add(rc, "v", "*");
  Envoy__Config__Route__V3__RetryPolicy *rp = pb(sizeof *rp);
  Envoy__Config__Route__V3__RetryPolicy rpi = ENVOY__CONFIG__ROUTE__V3__RETRY_POLICY__INIT;
  *rp = rpi;
  rp->retry_on = str("5xx, connect-failure,unavailable,bogus");
  rp->num_retries = u32(3);
  rp->per_try_timeout = dur(0, 250000000);
  uint32_t codes[] = {503, 409};
  rp->retriable_status_codes = codes;
  rp->n_retriable_status_codes = 2;
  vh->retry_policy = rp;
  Route *r = route_add(vh, PREFIX, "/a");
  RouteAction *a = to_cluster(r, "c");
  a->timeout = dur(2, 500000000);
  a->idle_timeout = dur(0, 0);
  a->priority = ENVOY__CONFIG__CORE__V3__ROUTING_PRIORITY__HIGH;
  Envoy__Config__Route__V3__RouteAction__MaxStreamDuration *msd = pb(sizeof *msd);
  Envoy__Config__Route__V3__RouteAction__MaxStreamDuration msdi =
      ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__MAX_STREAM_DURATION__INIT;
  *msd = msdi;
  msd->max_stream_duration = dur(30, 0);
  msd->grpc_timeout_header_max = dur(5, 0);
  a->max_stream_duration = msd;
  Envoy__Config__Route__V3__RouteAction__HashPolicy *hp = pb(sizeof *hp);
  Envoy__Config__Route__V3__RouteAction__HashPolicy hpi = ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HASH_POLICY__INIT;
  *hp = hpi;
  Envoy__Config__Route__V3__RouteAction__HashPolicy__Header *hh = pb(sizeof *hh);
  Envoy__Config__Route__V3__RouteAction__HashPolicy__Header hhi =
      ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HASH_POLICY__HEADER__INIT;
  *hh = hhi;
  hh->header_name = str("X-User");
  hp->policy_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HASH_POLICY__POLICY_SPECIFIER_HEADER;
  hp->header = hh;
  hp->terminal = 1;
  PUSH(a, hash_policy, hp);
  r = route_add(vh, PREFIX, "/b");
  to_cluster(r, "c");
  build(rc);
  const mesh__route *ra = &RT->vhosts[0].routes[0], *rb = &RT->vhosts[0].routes[1];
  cr_expect_eq(ra->route.timeout_ms, 2500);
  cr_expect_eq(ra->route.idle_timeout_ms, 0);
  cr_expect_eq(rb->route.timeout_ms, 15000, "Envoy's default");
  cr_expect_eq(rb->route.idle_timeout_ms, -1);
  cr_expect_eq(ra->route.priority, MESH__PRIORITY_HIGH);
  cr_expect_eq(ra->route.max_stream_duration_ms, 30000);
  cr_expect_eq(ra->route.grpc_timeout_header_max_ms, 5000);
  cr_expect_eq(ra->route.grpc_timeout_header_offset_ms, -1);
  cr_assert_eq(ra->route.nhash, 1);
  cr_expect_str_eq(ra->route.hash[0].name.p, "x-user");
  cr_expect(ra->route.hash[0].terminal);
  const mesh__retry_policy *p = mesh__route_retry_policy(rb);
  cr_assert_not_null(p, "the vhost's policy applies");
  cr_expect_eq(p->retry_on_bits, MESH__RETRY_5XX | MESH__RETRY_CONNECT_FAILURE | MESH__RETRY_GRPC_UNAVAILABLE);
  cr_expect(noted("\"bogus\""));
  cr_expect_eq(p->num_retries, 3);
  cr_expect_eq(p->per_try_timeout_ms, 250);
  cr_expect_eq(p->nretriable_status_codes, 2);
  cr_expect_eq(p->backoff_base_ms, 25);
  cr_expect_eq(p->backoff_max_ms, 250);
}

Test(action, require_tls) {
  RouteConfiguration *rc = rc_new();
  VirtualHost *vh = vh_add(rc, "all", "a.com");
  vh->require_tls = ENVOY__CONFIG__ROUTE__V3__VIRTUAL_HOST__TLS_REQUIREMENT_TYPE__ALL;
  vh = vh_add(rc, "ext", "b.com");
  vh->require_tls = ENVOY__CONFIG__ROUTE__V3__VIRTUAL_HOST__TLS_REQUIREMENT_TYPE__EXTERNAL_ONLY;
  build(rc);
  req q;
  mkreq(&q, "a.com", "/", NULL);
  cr_expect(mesh__vhost_requires_tls_redirect(&RT->vhosts[0], &q.in));
  q.in.scheme = "https";
  cr_expect_not(mesh__vhost_requires_tls_redirect(&RT->vhosts[0], &q.in));
  mkreq(&q, "b.com", "/", "x-envoy-internal", "true", NULL);
  cr_expect_not(mesh__vhost_requires_tls_redirect(&RT->vhosts[1], &q.in));
  mkreq(&q, "b.com", "/", NULL);
  cr_expect(mesh__vhost_requires_tls_redirect(&RT->vhosts[1], &q.in));
}

/* ------------------------------------------------------------------ */
/* Translator validation                                               */
/* ------------------------------------------------------------------ */

Test(rds, invalid_configurations_are_refused_with_a_path) {
  RouteConfiguration *rc;
  Route *r = one_route(&rc, PREFIX, "/");
  r->match->path_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER_CONNECT_MATCHER;
  expect_error(rc, "virtual_hosts[0].routes[0].match: connect_matcher");
  r->match->path_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER__NOT_SET;
  expect_error(rc, "virtual_hosts[0].routes[0].match: one of prefix, path");
  r->match->path_specifier_case = 99;
  expect_error(rc, "unknown path match kind");

  r = one_route(&rc, REGEX, "(a)\\1");
  expect_error(rc, "virtual_hosts[0].routes[0].match.safe_regex: \"(a)\\1\": invalid regex: backreferences");
  r->match->safe_regex = re_msg("a(");
  expect_error(rc, "match.safe_regex");

  r = one_route(&rc, PREFIX, "/");
  r->action_case = ENVOY__CONFIG__ROUTE__V3__ROUTE__ACTION__NOT_SET;
  expect_error(rc, "virtual_hosts[0].routes[0]: one of route, redirect or direct_response is required");
  r->action_case = ENVOY__CONFIG__ROUTE__V3__ROUTE__ACTION_FILTER_ACTION;
  expect_error(rc, "filter_action");

  rc = rc_new();
  r = route_add(vh_add(rc, "v", "*"), PREFIX, "/");
  WeightedCluster *wc = weighted(r);
  weight_add(wc, "a", 0);
  weight_add(wc, "b", 0);
  expect_error(rc, "weighted_clusters: the sum of the cluster weights must be greater than 0");
  wc->clusters[0]->weight->value = UINT32_MAX;
  wc->clusters[1]->weight->value = 1;
  expect_error(rc, "exceeds");
  wc->clusters[1]->cluster_header = str("x-c");
  expect_error(rc, "weighted_clusters.clusters[1]: exactly one of name and cluster_header");

  r = one_route(&rc, PREFIX, "/");
  hm_add(r, "");
  expect_error(rc, "virtual_hosts[0].routes[0].match.headers[0]: name is required");
  r->match->headers[0]->name = str("bad name");
  expect_error(rc, "not a valid header name");
  r->match->headers[0]->name = str("x");
  r->match->headers[0]->header_match_specifier_case =
      ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_PREFIX_MATCH;
  r->match->headers[0]->prefix_match = str("");
  expect_error(rc, "the match string must not be empty");
  r->match->headers[0]->header_match_specifier_case =
      ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_STRING_MATCH;
  r->match->headers[0]->string_match = sm_new(SM_REGEX, "x(?=y)", false);
  expect_error(rc, "headers[0].string_match.safe_regex");

  r = one_route(&rc, PREFIX, "/");
  qm_add(r, "");
  expect_error(rc, "query_parameters[0]: name is required");

  r = one_route(&rc, SEP, "/api/");
  expect_error(rc, "path_separated_prefix: must not");

  r = one_route(&rc, PREFIX, "/");
  RouteAction *a = r->route;
  a->prefix_rewrite = str("/x");
  a->regex_rewrite = re_sub("a", "b");
  expect_error(rc, "prefix_rewrite and regex_rewrite are mutually exclusive");
  a->prefix_rewrite = str("");
  a->regex_rewrite = re_sub("(a)", "\\2");
  expect_error(rc, "route.regex_rewrite.substitution: rewrite: \\2 names a group");
  a->regex_rewrite = NULL;
  a->cluster = str("");
  expect_error(rc, "route.cluster: must not be empty");
  a->cluster_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__CLUSTER_SPECIFIER_CLUSTER_SPECIFIER_PLUGIN;
  expect_error(rc, "cluster specifier plugins");
  a->cluster_specifier_case = ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__CLUSTER_SPECIFIER_CLUSTER;
  a->cluster = str("c");
  a->timeout = dur(-1, 0);
  expect_error(rc, "route.timeout: invalid duration");
  a->timeout = NULL;

  PUSH(r, request_headers_to_add, hvo(":path", "/x"));
  expect_error(rc, "request_headers_to_add[0]: header.key \":path\" may not be modified");
  r->request_headers_to_add[0] = hvo("x", "a\r\nb");
  expect_error(rc, "invalid character");
  r->request_headers_to_add[0] = hvo("x", "1");
  r->request_headers_to_add[0]->append = boolv(true);
  r->request_headers_to_add[0]->append_action =
      ENVOY__CONFIG__CORE__V3__HEADER_VALUE_OPTION__HEADER_APPEND_ACTION__ADD_IF_ABSENT;
  expect_error(rc, "append and append_action are mutually exclusive");
  r->n_request_headers_to_add = 0;
  PUSH(r, request_headers_to_remove, str("host"));
  expect_error(rc, "request_headers_to_remove[0]: \"host\" may not be removed");
  r->n_request_headers_to_remove = 0;
  build(rc);

  rc = rc_new();
  VirtualHost *vh = vh_add(rc, "", "*");
  expect_error(rc, "virtual_hosts[0]: name is required");
  vh->name = str("v");
  redirect(route_add(vh, PREFIX, "/"))->port_redirect = 70000;
  expect_error(rc, "port_redirect: 70000");
}

Test(rds, unsupported_fields_are_noted) {
  RouteConfiguration *rc;
  Route *r = one_route(&rc, PREFIX, "/");
  Envoy__Config__Route__V3__Route__TypedPerFilterConfigEntry *e = pb(sizeof *e);
  Envoy__Config__Route__V3__Route__TypedPerFilterConfigEntry ei =
      ENVOY__CONFIG__ROUTE__V3__ROUTE__TYPED_PER_FILTER_CONFIG_ENTRY__INIT;
  *e = ei;
  PUSH(r, typed_per_filter_config, e);
  PUSH(rc, internal_only_headers, str("x-internal"));
  build(rc);
  cr_expect(noted("virtual_hosts[0].routes[0].typed_per_filter_config: not supported, ignored"));
  cr_expect(noted("internal_only_headers: not supported, ignored"));
}

Test(rds, unknown_match_fields_are_refused) {
  /* A RouteMatch carrying a field libmesh's protos lack (tls_context, 11)
   * decodes as an unknown field: refused, not ignored. */
  RouteConfiguration *rc;
  one_route(&rc, PREFIX, "/");
  uint8_t *buf = pb(protobuf_c_message_get_packed_size(&rc->base) + 16);
  size_t n = protobuf_c_message_pack(&rc->base, buf);
  RouteConfiguration *back = envoy__config__route__v3__route_configuration__unpack(NULL, n, buf);
  cr_assert_not_null(back);
  build(back);
  RouteMatch *m = back->virtual_hosts[0]->routes[0]->match;
  ProtobufCMessageUnknownField uf = {.tag = 11, .wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, .len = 0,
                                     .data = NULL};
  m->base.unknown_fields = &uf;
  m->base.n_unknown_fields = 1;
  expect_error(back, "virtual_hosts[0].routes[0].match: field 11: not supported (a match condition");
  m->base.n_unknown_fields = 0;
  m->base.unknown_fields = NULL;
  /* Route.decorator (5), twice: named, noted once. */
  ProtobufCMessageUnknownField two[2] = {uf, uf};
  two[0].tag = two[1].tag = 5;
  Route *rr = back->virtual_hosts[0]->routes[0];
  rr->base.unknown_fields = two;
  rr->base.n_unknown_fields = 2;
  mesh__notes_free(&NOTES);
  build(back);
  cr_expect(noted("virtual_hosts[0].routes[0].decorator: not supported, ignored"));
  cr_expect_eq(NOTES.n, 1);
  rr->base.n_unknown_fields = 0;
  rr->base.unknown_fields = NULL;
  /* RouteAction.metadata_match (4) would change where traffic goes. */
  uf.tag = 4;
  rr->route->base.unknown_fields = &uf;
  rr->route->base.n_unknown_fields = 1;
  expect_error(back, "virtual_hosts[0].routes[0].route: metadata_match: not supported");
  rr->route->base.n_unknown_fields = 0;
  rr->route->base.unknown_fields = NULL;
  envoy__config__route__v3__route_configuration__free_unpacked(back, NULL);
}

static int count_cluster(const char *name, size_t len, void *ud) {
  (void)name;
  (void)len;
  (*(int *)ud)++;
  return 0;
}

Test(rds, table_lifetime_and_cluster_names) {
  RouteConfiguration *rc = rc_new();
  VirtualHost *vh = vh_add(rc, "v", "*");
  to_cluster(route_add(vh, REGEX, "/a.*"), "one");
  to_cluster(route_add(vh_add(rc, "w", "w.com"), REGEX, "/a.*"), "one");
  WeightedCluster *wc = weighted(route_add(vh, PREFIX, "/"));
  weight_add(wc, "two", 1);
  weight_add(wc, "", 1)->cluster_header = str("x-c");
  build(rc);
  int n = 0;
  mesh__route_table_each_cluster(RT, count_cluster, &n);
  cr_expect_eq(n, 3, "names only, not cluster_header");
  cr_expect_eq(RT->vhosts[0].routes[0].match.path_re, RT->vhosts[1].routes[0].match.path_re,
               "one compiled regex for one pattern");
  cr_expect_str_eq(mesh__route_table_name(RT), "rc");
  /* Another reference keeps the table (and its regexes) alive. */
  mesh__route_table *ref = mesh__route_table_ref(RT);
  mesh__route_table_unref(RT);
  RT = ref;
  req q;
  mkreq(&q, "h", "/abc", NULL);
  cr_expect_str_eq(mesh__route_cluster(mesh__route_match(mesh__route_vhost(RT, "h", 1), &q.in), &q.in, NULL), "one");
}

Test(rds, notes_are_bounded) {
  mesh__notes n;
  mesh__notes_init(&n);
  for (int i = 0; i < 1000; i++) mesh__notes_addf(&n, "note %d", i);
  cr_expect_eq(n.n, MESH__NOTES_MAX);
  cr_expect_eq(n.dropped, 1000 - (MESH__NOTES_MAX - 1));
  cr_expect(strstr(n.v[n.n - 1], "more notes") != NULL);
  mesh__notes_free(&n);
}

/* ------------------------------------------------------------------ */
/* Fault injection: which config applies, what it draws               */
/* ------------------------------------------------------------------ */

static uint64_t fixed_random(void *arg) { return *(uint64_t *)arg; }

static mesh__fault fault_of(uint8_t abort_kind, uint32_t code, uint32_t num, uint32_t scale) {
  mesh__fault f;
  memset(&f, 0, sizeof f);
  f.upstream_cluster.p = "";
  f.abort_kind = abort_kind;
  f.abort_code = code;
  f.abort_num = num;
  f.abort_scale = scale;
  f.delay_scale = 10000;
  return f;
}

Test(fault, the_most_specific_override_for_the_filter_wins) {
  mesh__fault dflt = fault_of(MESH__FAULT_ABORT_HTTP, 500, 100, 10000), ft = dflt, fv = dflt, fr = dflt, fc = dflt,
              other = dflt;
  mesh__fault_override ot = {{"fault", 5}, &ft}, ov = {{"fault", 5}, &fv}, orr[2] = {{{"other", 5}, &other}, {{"fault", 5}, &fr}},
                       oc = {{"fault", 5}, &fc};
  mesh__route_table t;
  mesh__vhost v;
  mesh__route r;
  mesh__cluster_weight cw;
  memset(&t, 0, sizeof t);
  memset(&v, 0, sizeof v);
  memset(&r, 0, sizeof r);
  memset(&cw, 0, sizeof cw);
  v.table = &t;
  r.vhost = &v;
  cr_expect_eq(mesh__fault_for("fault", &dflt, &r, NULL), &dflt, "no override: the filter's own");
  t.faults = (mesh__fault_overrides){&ot, 1};
  cr_expect_eq(mesh__fault_for("fault", &dflt, &r, NULL), &ft);
  v.faults = (mesh__fault_overrides){&ov, 1};
  cr_expect_eq(mesh__fault_for("fault", &dflt, &r, NULL), &fv);
  r.faults = (mesh__fault_overrides){orr, 2};
  cr_expect_eq(mesh__fault_for("fault", &dflt, &r, NULL), &fr, "the entry for this filter, not another's");
  cw.faults = (mesh__fault_overrides){&oc, 1};
  cr_expect_eq(mesh__fault_for("fault", &dflt, &r, &cw), &fc);
  cr_expect_eq(mesh__fault_for("faults", &dflt, &r, &cw), &dflt, "another filter's name matches nothing");
}

Test(fault, percentages_cut_at_their_parts_per_million) {
  req q;
  mkreq(&q, "x", "/", NULL);
  mesh__fault_draw d;
  /* 50 of HUNDRED: 500000 ppm. */
  mesh__fault f = fault_of(MESH__FAULT_ABORT_HTTP, 503, 50, 10000);
  uint64_t r = 499999;
  cr_expect(mesh__fault_draw_for(&f, "c", &q.in, fixed_random, &r, &d));
  cr_expect(d.abort && !d.grpc && d.code == 503 && d.delay_ms == 0);
  r = 500000;
  cr_expect_not(mesh__fault_draw_for(&f, "c", &q.in, fixed_random, &r, &d));
  cr_expect_not(d.abort);
  /* 1 of MILLION; 10 of TEN_THOUSAND; 0; more than 100% is all. */
  f = fault_of(MESH__FAULT_ABORT_GRPC, 14, 1, 1);
  r = 0;
  cr_expect(mesh__fault_draw_for(&f, "c", &q.in, fixed_random, &r, &d) && d.grpc && d.code == 14);
  r = 1;
  cr_expect_not(mesh__fault_draw_for(&f, "c", &q.in, fixed_random, &r, &d));
  f = fault_of(MESH__FAULT_ABORT_HTTP, 503, 10, 100);
  r = 999;
  cr_expect(mesh__fault_draw_for(&f, "c", &q.in, fixed_random, &r, &d));
  r = 1000;
  cr_expect_not(mesh__fault_draw_for(&f, "c", &q.in, fixed_random, &r, &d));
  f = fault_of(MESH__FAULT_ABORT_HTTP, 503, 0, 10000);
  r = 0;
  cr_expect_not(mesh__fault_draw_for(&f, "c", &q.in, fixed_random, &r, &d));
  f = fault_of(MESH__FAULT_ABORT_HTTP, 503, 250, 10000);
  r = 999999;
  cr_expect(mesh__fault_draw_for(&f, "c", &q.in, fixed_random, &r, &d));
}

Test(fault, headers_control_only_header_faults_and_only_downwards) {
  mesh__fault_draw d;
  uint64_t r = 400000; /* passes a 50% share, fails a 40% one */
  mesh__fault f = fault_of(MESH__FAULT_ABORT_HEADER, 0, 50, 10000);
  f.delay_kind = MESH__FAULT_DELAY_HEADER;
  f.delay_num = 100;
  req q;
  mkreq(&q, "x", "/", "x-envoy-fault-abort-request", "418", "x-envoy-fault-delay-request", "25", NULL);
  cr_expect(mesh__fault_draw_for(&f, "c", &q.in, fixed_random, &r, &d));
  cr_expect(d.abort && d.code == 418 && !d.grpc && d.delay_ms == 25);
  mkreq(&q, "x", "/", "x-envoy-fault-abort-request", "418", "x-envoy-fault-abort-request-percentage", "40", NULL);
  cr_expect_not(mesh__fault_draw_for(&f, "c", &q.in, fixed_random, &r, &d), "lowered to 40%%");
  mkreq(&q, "x", "/", "x-envoy-fault-abort-request", "418", "x-envoy-fault-abort-request-percentage", "100", NULL);
  r = 600000;
  cr_expect_not(mesh__fault_draw_for(&f, "c", &q.in, fixed_random, &r, &d), "not raised above 50%%");
  r = 0;
  mkreq(&q, "x", "/", "x-envoy-fault-abort-grpc-request", "7", NULL);
  cr_expect(mesh__fault_draw_for(&f, "c", &q.in, fixed_random, &r, &d) && d.grpc && d.code == 7);
  /* Invalid values: no fault. */
  mkreq(&q, "x", "/", "x-envoy-fault-abort-request", "600", "x-envoy-fault-delay-request", "-5", NULL);
  cr_expect_not(mesh__fault_draw_for(&f, "c", &q.in, fixed_random, &r, &d));
  mkreq(&q, "x", "/", "x-envoy-fault-abort-request", "99999999999999999999999", NULL);
  cr_expect_not(mesh__fault_draw_for(&f, "c", &q.in, fixed_random, &r, &d));
  /* A configured abort ignores the percentage header. */
  mesh__fault g = fault_of(MESH__FAULT_ABORT_HTTP, 503, 50, 10000);
  mkreq(&q, "x", "/", "x-envoy-fault-abort-request-percentage", "0", NULL);
  cr_expect(mesh__fault_draw_for(&g, "c", &q.in, fixed_random, &r, &d) && d.code == 503);
}

Test(fault, upstream_cluster_and_headers_restrict_it) {
  mesh__fault_draw d;
  uint64_t r = 0;
  mesh__fault f = fault_of(MESH__FAULT_ABORT_HTTP, 503, 100, 10000);
  f.upstream_cluster = (mesh__rstr){"c2", 2};
  req q;
  mkreq(&q, "x", "/", NULL);
  cr_expect_not(mesh__fault_draw_for(&f, "c1", &q.in, fixed_random, &r, &d));
  cr_expect(mesh__fault_draw_for(&f, "c2", &q.in, fixed_random, &r, &d));
  mesh__header_matcher hm;
  memset(&hm, 0, sizeof hm);
  hm.name = (mesh__rstr){"x-fault", 7};
  hm.kind = MESH__HDR_PRESENT;
  hm.present = true;
  f.headers = &hm;
  f.nheaders = 1;
  cr_expect_not(mesh__fault_draw_for(&f, "c2", &q.in, fixed_random, &r, &d));
  mkreq(&q, "x", "/", "x-fault", "1", NULL);
  cr_expect(mesh__fault_draw_for(&f, "c2", &q.in, fixed_random, &r, &d));
}

Test(fault, http_statuses_map_to_grpc_codes) {
  cr_expect_eq(mesh__fault_grpc_code_of_http(400), 13);
  cr_expect_eq(mesh__fault_grpc_code_of_http(401), 16);
  cr_expect_eq(mesh__fault_grpc_code_of_http(403), 7);
  cr_expect_eq(mesh__fault_grpc_code_of_http(404), 12);
  cr_expect_eq(mesh__fault_grpc_code_of_http(429), 14);
  cr_expect_eq(mesh__fault_grpc_code_of_http(503), 14);
  cr_expect_eq(mesh__fault_grpc_code_of_http(200), 2);
  cr_expect_eq(mesh__fault_grpc_code_of_http(500), 2);
}
