/* RouteConfiguration → mesh__route_table (see rds.h).
 *
 * Envoy references: api/envoy/config/route/v3/route.proto and
 * route_components.proto (field meanings and validate.rules constraints),
 * source/common/router/config_impl.cc (checks done at load time). */
#include "xds/rds.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envoy/extensions/filters/http/fault/v3/fault.pb-c.h"
#include "route/regex.h"
#include "util/str.h"

typedef Envoy__Config__Route__V3__RouteConfiguration RouteConfiguration;
typedef Envoy__Config__Route__V3__VirtualHost VirtualHost;
typedef Envoy__Config__Route__V3__Route Route;
typedef Envoy__Config__Route__V3__RouteMatch RouteMatch;
typedef Envoy__Config__Route__V3__RouteAction RouteAction;
typedef Envoy__Config__Route__V3__RedirectAction RedirectAction;
typedef Envoy__Config__Route__V3__DirectResponseAction DirectResponseAction;
typedef Envoy__Config__Route__V3__HeaderMatcher HeaderMatcher;
typedef Envoy__Config__Route__V3__QueryParameterMatcher QueryParameterMatcher;
typedef Envoy__Config__Route__V3__RetryPolicy RetryPolicy;
typedef Envoy__Config__Route__V3__WeightedCluster WeightedCluster;
typedef Envoy__Config__Route__V3__WeightedCluster__ClusterWeight ClusterWeight;
typedef Envoy__Config__Route__V3__RouteAction__HashPolicy HashPolicy;
typedef Envoy__Type__Matcher__V3__StringMatcher StringMatcher;
typedef Envoy__Type__Matcher__V3__RegexMatcher RegexMatcher;
typedef Envoy__Type__Matcher__V3__RegexMatchAndSubstitute RegexMatchAndSubstitute;
typedef Envoy__Config__Core__V3__HeaderValueOption HeaderValueOption;
typedef Google__Protobuf__Duration Duration;

/* Compiled regexes of the table being built, by (pattern, mode, limit):
 * a pattern used by many routes (common: one per virtual host) is
 * compiled once and shared — less memory, and one hot copy at match time. */
typedef struct re_slot {
  const mesh__regex *re; /* NULL: empty */
  uint32_t hash, max;
  int mode;
} re_slot;

typedef struct ctx {
  mesh__route_table *rt;
  mesh__arena *a;
  char *err;
  size_t errlen;
  mesh__notes *notes;
  re_slot *res; /* open addressing, malloc'd for the translation */
  size_t nres, capres;
} ctx;

/* Distinct regexes one route table may hold (each is compiled code outside
 * the arena). */
#define MESH__RDS_MAX_REGEXES 20000

/* Paths in messages: "virtual_hosts[2].routes[0].match.headers[1]". */
#define WHERE_MAX 256
#define S(x) ((x) ? (x) : "")

__attribute__((format(printf, 3, 4))) static int fail(ctx *c, const char *where, const char *fmt, ...) {
  char msg[320];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (c->err && c->errlen) {
    if (where && *where)
      snprintf(c->err, c->errlen, "%s: %s", where, msg);
    else
      snprintf(c->err, c->errlen, "%s", msg);
  }
  return -1;
}

static int oom(ctx *c, const char *where) { return fail(c, where, "out of memory"); }

static void ignore(ctx *c, const char *where, const char *field) {
  mesh__notes_addf(c->notes, "%s%s%s: not supported, ignored", where, *where ? "." : "", field);
}

/* typed_per_filter_config: per-route configs of HTTP filters. The fault
 * filter's (an HTTPFault, keyed by the filter's name) replaces the
 * listener's fault config for the calls of that route (fault_override(),
 * after the helpers it needs); other filters' configs are noted and
 * skipped, as libmesh runs no other HTTP filter but the router. */
#define FAULT_TYPE "envoy.extensions.filters.http.fault.v3.HTTPFault"

static int fault_override(ctx *c, const char *key, const Google__Protobuf__Any *v, mesh__fault_override *slot,
                          const char *where);

#define PER_FILTER(c, o, outp, where)                                                                      \
  do {                                                                                                     \
    size_t nf_ = 0;                                                                                        \
    bool ign_ = false;                                                                                     \
    mesh__fault_override *fv_ = NULL;                                                                      \
    if ((o)->n_typed_per_filter_config &&                                                                  \
        !(fv_ = mesh__arena_calloc((c)->a, (o)->n_typed_per_filter_config, sizeof *fv_)))                  \
      return oom((c), (where));                                                                            \
    for (size_t k_ = 0; k_ < (o)->n_typed_per_filter_config; k_++) {                                       \
      int r_ = fault_override((c), (o)->typed_per_filter_config[k_]->key,                                  \
                              (o)->typed_per_filter_config[k_]->value, &fv_[nf_], (where));               \
      if (r_ < 0) return -1;                                                                               \
      if (r_) nf_++;                                                                                       \
      else ign_ = true;                                                                                    \
    }                                                                                                      \
    if (ign_) ignore((c), (where), "typed_per_filter_config");                                             \
    (outp)->v = fv_;                                                                                       \
    (outp)->n = nf_;                                                                                       \
  } while (0)

static void sub(char *out, const char *where, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void sub(char *out, const char *where, const char *fmt, ...) {
  char tail[96];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tail, sizeof tail, fmt, ap);
  va_end(ap);
  snprintf(out, WHERE_MAX, "%s%s%s", where, *where ? "." : "", tail);
}

/* Unknown fields: set by the control plane, absent from libmesh's
 * (trimmed) protos, kept by protobuf-c when it decodes the binary form.
 * Known ones are named (Envoy's field numbers); those that would change
 * what a route selects or where traffic goes are refused, others noted. */
typedef struct known_field {
  uint32_t tag;
  const char *name;
  bool reject;
} known_field;

static const known_field K_CONFIG[] = {{9, "vhds", true}, {0, NULL, false}};
static const known_field K_VHOST[] = {
    {5, "virtual_clusters", false},  {6, "rate_limits", false},
    {8, "cors", false},              {17, "hedge_policy", false},
    {18, "per_request_buffer_limit_bytes", false}, {19, "include_attempt_count_in_response", false},
    {20, "retry_policy_typed_config", false},      {21, "matcher", true},
    {0, NULL, false}};
static const known_field K_ROUTE[] = {{5, "decorator", false},
                                      {15, "tracing", false},
                                      {16, "per_request_buffer_limit_bytes", false},
                                      {0, NULL, false}};
static const known_field K_ACTION[] = {
    {4, "metadata_match", true},     {13, "rate_limits", false},     {14, "include_vh_rate_limits", false},
    {17, "cors", false},             {25, "upgrade_configs", false}, {27, "hedge_policy", false},
    {30, "request_mirror_policies", false}, {33, "retry_policy_typed_config", false},
    {34, "internal_redirect_policy", false}, {0, NULL, false}};
static const known_field K_WEIGHT[] = {{3, "metadata_match", true}, {0, NULL, false}};
static const known_field K_NONE[] = {{0, NULL, false}};

/* reject_all: every unknown field is refused (match conditions). */
static int unknown_fields(ctx *c, const ProtobufCMessage *m, const char *where, const known_field *k,
                          bool reject_all) {
  if (!m) return 0;
  for (unsigned i = 0; i < m->n_unknown_fields; i++) {
    uint32_t tag = m->unknown_fields[i].tag;
    bool seen = false; /* a repeated field comes once per element */
    for (unsigned j = 0; j < i && !seen; j++) seen = m->unknown_fields[j].tag == tag;
    if (seen) continue;
    const known_field *f = k;
    while (f->name && f->tag != tag) f++;
    char name[48];
    if (f->name)
      snprintf(name, sizeof name, "%s", f->name);
    else
      snprintf(name, sizeof name, "field %" PRIu32, tag);
    if (reject_all || (f->name && f->reject))
      return fail(c, where, "%s: not supported (%s)", name,
                  reject_all ? "a match condition libmesh cannot evaluate" : "ignoring it would change where traffic goes");
    mesh__notes_addf(c->notes, "%s%s%s: not supported, ignored", where, *where ? "." : "", name);
  }
  return 0;
}

const char *mesh__rds_unknown_field_reject(const ProtobufCMessageDescriptor *d, const char *name) {
  if (d == &envoy__type__matcher__v3__string_matcher__descriptor ||
      d == &envoy__config__route__v3__header_matcher__descriptor ||
      d == &envoy__config__route__v3__query_parameter_matcher__descriptor ||
      d == &envoy__config__route__v3__route_match__descriptor)
    return "not supported (a match condition libmesh cannot evaluate)";
  if (d == &envoy__extensions__filters__http__fault__v3__httpfault__descriptor ||
      d == &envoy__extensions__filters__http__fault__v3__fault_abort__descriptor ||
      d == &envoy__extensions__filters__common__fault__v3__fault_delay__descriptor)
    return "not supported (a fault config libmesh cannot read whole)";
  const known_field *k = d == &envoy__config__route__v3__route_configuration__descriptor ? K_CONFIG
                         : d == &envoy__config__route__v3__virtual_host__descriptor      ? K_VHOST
                         : d == &envoy__config__route__v3__route__descriptor             ? K_ROUTE
                         : d == &envoy__config__route__v3__route_action__descriptor      ? K_ACTION
                         : d == &envoy__config__route__v3__weighted_cluster__cluster_weight__descriptor ? K_WEIGHT
                                                                                                          : NULL;
  for (; k && k->name; k++)
    if (k->reject && !strcmp(k->name, name)) return "not supported (ignoring it would change where traffic goes)";
  return NULL;
}

/* ------------------------------------------------------------ strings */

static int dup(ctx *c, mesh__rstr *out, const char *s, size_t n, bool lower, const char *where) {
  char *p = mesh__arena_strndup(c->a, s ? s : "", s ? n : 0);
  if (!p) return oom(c, where);
  if (lower)
    for (size_t i = 0; i < n; i++) p[i] = mesh__lower(p[i]);
  out->p = p;
  out->len = s ? n : 0;
  return 0;
}

static int dups(ctx *c, mesh__rstr *out, const char *s, bool lower, const char *where) {
  return dup(c, out, s, strlen(S(s)), lower, where);
}

/* A header name: a token, or ':' and a token (pseudo-header). */
static bool valid_header_name(const char *s) {
  size_t n = strlen(S(s));
  if (n && s[0] == ':') return mesh__is_token(s + 1, n - 1);
  return mesh__is_token(S(s), n);
}

/* Envoy's HTTP_HEADER_VALUE (non-strict): no NUL, CR or LF. */
static bool valid_header_value(const char *s, size_t n) { return mesh__is_field_value(S(s), s ? n : 0); }

static bool valid_str_value(const char *s) { return valid_header_value(s, strlen(S(s))); }

/* Envoy's isModifiableHeader: not a pseudo-header, not host. */
static bool modifiable_header(const char *s) { return s[0] != ':' && !mesh__strcaseeq(s, "host"); }

/* ------------------------------------------------------------ durations */

/* google.protobuf.Duration → ms (truncated, as Envoy's
 * DurationUtil::durationToMilliseconds). -1 on a negative or out-of-range
 * value. */
static int duration_ms(ctx *c, const Duration *d, const char *where, uint64_t *out) {
  if (d->seconds < 0 || d->nanos < 0 || d->nanos > 999999999 || d->seconds > 315576000000LL)
    return fail(c, where, "invalid duration (%" PRId64 "s %" PRId32 "ns)", d->seconds, d->nanos);
  *out = (uint64_t)d->seconds * 1000u + (uint64_t)d->nanos / 1000000u;
  return 0;
}

static int opt_duration_ms(ctx *c, const Duration *d, const char *where, const char *field, int64_t *out) {
  *out = -1;
  if (!d) return 0;
  char w[WHERE_MAX];
  sub(w, where, "%s", field);
  uint64_t ms = 0;
  if (duration_ms(c, d, w, &ms) < 0) return -1;
  *out = (int64_t)ms;
  return 0;
}

/* ------------------------------------------------------------ regexes */

static const mesh__regex *regex(ctx *c, const RegexMatcher *m, int mode, const char *where) {
  if (!m) {
    fail(c, where, "regex is required");
    return NULL;
  }
  uint32_t max = 0;
  if (m->engine_type_case == ENVOY__TYPE__MATCHER__V3__REGEX_MATCHER__ENGINE_TYPE_GOOGLE_RE2 && m->google_re2 &&
      m->google_re2->max_program_size)
    max = m->google_re2->max_program_size->value;
  char e[200];
  const char *pat = S(m->regex);
  size_t len = strlen(pat);
  uint32_t h = mesh__hash(pat, len) ^ (uint32_t)mode * 0x9e3779b9u ^ max;
  if (c->capres) {
    for (size_t i = h & (c->capres - 1); c->res[i].re; i = (i + 1) & (c->capres - 1)) {
      const re_slot *sl = &c->res[i];
      if (sl->hash == h && sl->mode == mode && sl->max == max && !strcmp(mesh__regex_pattern(sl->re), pat))
        return sl->re;
    }
  }
  if (c->nres >= MESH__RDS_MAX_REGEXES) {
    fail(c, where, "more than %d distinct regexes in one route configuration", MESH__RDS_MAX_REGEXES);
    return NULL;
  }
  if ((c->nres + 1) * 2 > c->capres) {
    size_t cap = c->capres ? c->capres * 2 : 64;
    re_slot *t = calloc(cap, sizeof *t);
    if (!t) {
      oom(c, where);
      return NULL;
    }
    for (size_t i = 0; i < c->capres; i++) {
      if (!c->res[i].re) continue;
      size_t k = c->res[i].hash & (cap - 1);
      while (t[k].re) k = (k + 1) & (cap - 1);
      t[k] = c->res[i];
    }
    free(c->res);
    c->res = t;
    c->capres = cap;
  }
  mesh__regex *re = mesh__regex_compile(pat, len, mode, max, e, sizeof e);
  if (!re) {
    fail(c, where, "\"%.80s\": %s", pat, e);
    return NULL;
  }
  if (mesh__route_table_on_free(c->rt, mesh__regex_free_cb, re) < 0) {
    oom(c, where);
    return NULL;
  }
  size_t k = h & (c->capres - 1);
  while (c->res[k].re) k = (k + 1) & (c->capres - 1);
  c->res[k] = (re_slot){re, h, max, mode};
  c->nres++;
  return re;
}

static int regex_sub(ctx *c, const RegexMatchAndSubstitute *rs, const char *where, const mesh__regex **re,
                     mesh__rstr *subst) {
  char w[WHERE_MAX];
  if (!rs) return fail(c, where, "required");
  sub(w, where, "pattern");
  if (!(*re = regex(c, rs->pattern, MESH__RE_SEARCH, w))) return -1;
  const char *s = S(rs->substitution);
  char e[160];
  sub(w, where, "substitution");
  if (mesh__regex_check_rewrite(*re, s, strlen(s), e, sizeof e) < 0) return fail(c, w, "%s", e);
  if (!valid_str_value(s)) return fail(c, w, "invalid character");
  return dups(c, subst, s, false, w);
}

/* ------------------------------------------------------------ matchers */

static int string_matcher(ctx *c, const StringMatcher *m, mesh__str_matcher *out, const char *where) {
  if (!m) return fail(c, where, "required");
  if (unknown_fields(c, &m->base, where, K_NONE, true) < 0) return -1;
  const char *lit = NULL;
  bool nonempty = true;
  switch (m->match_pattern_case) {
    case ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_EXACT:
      out->kind = MESH__STR_EXACT, lit = m->exact, nonempty = false;
      break;
    case ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_PREFIX:
      out->kind = MESH__STR_PREFIX, lit = m->prefix;
      break;
    case ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_SUFFIX:
      out->kind = MESH__STR_SUFFIX, lit = m->suffix;
      break;
    case ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_CONTAINS:
      out->kind = MESH__STR_CONTAINS, lit = m->contains;
      break;
    case ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_SAFE_REGEX: {
      char w[WHERE_MAX];
      sub(w, where, "safe_regex");
      out->kind = MESH__STR_REGEX;
      out->value.p = "";
      return (out->re = regex(c, m->safe_regex, MESH__RE_FULL, w)) ? 0 : -1;
    }
    case ENVOY__TYPE__MATCHER__V3__STRING_MATCHER__MATCH_PATTERN_CUSTOM:
      return fail(c, where, "custom: string matcher extensions are not supported");
    default:
      return fail(c, where, "one of exact, prefix, suffix, contains or safe_regex is required");
  }
  if (nonempty && !*S(lit)) return fail(c, where, "the match string must not be empty");
  out->ignore_case = m->ignore_case;
  return dups(c, &out->value, lit, m->ignore_case, where);
}

static uint8_t header_source(const char *name) {
  if (name[0] != ':') return MESH__HSRC_HEADER;
  if (!strcmp(name, ":method")) return MESH__HSRC_METHOD;
  if (!strcmp(name, ":authority")) return MESH__HSRC_AUTHORITY;
  if (!strcmp(name, ":path")) return MESH__HSRC_PATH;
  if (!strcmp(name, ":scheme")) return MESH__HSRC_SCHEME;
  return MESH__HSRC_HEADER;
}

static int header_matcher(ctx *c, const HeaderMatcher *m, mesh__header_matcher *out, const char *where) {
  if (!m) return fail(c, where, "required");
  if (unknown_fields(c, &m->base, where, K_NONE, true) < 0) return -1;
  if (!*S(m->name)) return fail(c, where, "name is required");
  if (!valid_header_name(m->name)) return fail(c, where, "name \"%.64s\" is not a valid header name", m->name);
  if (dups(c, &out->name, m->name, true, where) < 0) return -1;
  out->source = header_source(out->name.p);
  out->invert = m->invert_match;
  out->missing_as_empty = m->treat_missing_header_as_empty;
  out->kind = MESH__HDR_STRING;
  out->sm.value.p = "";
  char w[WHERE_MAX];
  const char *lit = NULL;
  switch (m->header_match_specifier_case) {
    case ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_EXACT_MATCH:
      /* Envoy: an empty exact_match matches any value. */
      if (!*S(m->exact_match)) {
        out->kind = MESH__HDR_ANY;
        return 0;
      }
      out->sm.kind = MESH__STR_EXACT, lit = m->exact_match;
      break;
    case ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_SAFE_REGEX_MATCH:
      sub(w, where, "safe_regex_match");
      out->sm.kind = MESH__STR_REGEX;
      return (out->sm.re = regex(c, m->safe_regex_match, MESH__RE_FULL, w)) ? 0 : -1;
    case ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_RANGE_MATCH:
      if (!m->range_match) return fail(c, where, "range_match: required");
      out->kind = MESH__HDR_RANGE;
      out->range_start = m->range_match->start;
      out->range_end = m->range_match->end;
      return 0;
    case ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_PRESENT_MATCH:
      out->kind = MESH__HDR_PRESENT;
      out->present = m->present_match;
      return 0;
    case ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_PREFIX_MATCH:
      out->sm.kind = MESH__STR_PREFIX, lit = m->prefix_match;
      break;
    case ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_SUFFIX_MATCH:
      out->sm.kind = MESH__STR_SUFFIX, lit = m->suffix_match;
      break;
    case ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_CONTAINS_MATCH:
      out->sm.kind = MESH__STR_CONTAINS, lit = m->contains_match;
      break;
    case ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER_STRING_MATCH:
      sub(w, where, "string_match");
      return string_matcher(c, m->string_match, &out->sm, w);
    case ENVOY__CONFIG__ROUTE__V3__HEADER_MATCHER__HEADER_MATCH_SPECIFIER__NOT_SET:
      /* Envoy: no specifier means "present". */
      out->kind = MESH__HDR_PRESENT;
      out->present = true;
      return 0;
    default:
      return fail(c, where, "unknown header match kind %d", (int)m->header_match_specifier_case);
  }
  if (!*S(lit)) return fail(c, where, "the match string must not be empty");
  return dups(c, &out->sm.value, lit, false, where);
}

static int header_matchers(ctx *c, HeaderMatcher *const *in, size_t n, const mesh__header_matcher **out,
                           size_t *nout, const char *where, const char *field) {
  *nout = 0;
  if (!n) return 0;
  mesh__header_matcher *v = mesh__arena_calloc(c->a, n, sizeof *v);
  if (!v) return oom(c, where);
  for (size_t i = 0; i < n; i++) {
    char w[WHERE_MAX];
    sub(w, where, "%s[%zu]", field, i);
    if (header_matcher(c, in[i], &v[i], w) < 0) return -1;
  }
  *out = v;
  *nout = n;
  return 0;
}

static int query_matcher(ctx *c, const QueryParameterMatcher *m, mesh__query_matcher *out, const char *where) {
  if (!m) return fail(c, where, "required");
  if (unknown_fields(c, &m->base, where, K_NONE, true) < 0) return -1;
  if (!*S(m->name)) return fail(c, where, "name is required");
  if (strlen(m->name) > 1024) return fail(c, where, "name is longer than 1024 bytes");
  if (dups(c, &out->name, m->name, false, where) < 0) return -1;
  out->sm.value.p = "";
  switch (m->query_parameter_match_specifier_case) {
    case ENVOY__CONFIG__ROUTE__V3__QUERY_PARAMETER_MATCHER__QUERY_PARAMETER_MATCH_SPECIFIER_STRING_MATCH: {
      char w[WHERE_MAX];
      sub(w, where, "string_match");
      out->kind = MESH__QUERY_STRING;
      return string_matcher(c, m->string_match, &out->sm, w);
    }
    case ENVOY__CONFIG__ROUTE__V3__QUERY_PARAMETER_MATCHER__QUERY_PARAMETER_MATCH_SPECIFIER_PRESENT_MATCH:
      out->kind = m->present_match ? MESH__QUERY_PRESENT : MESH__QUERY_ABSENT;
      return 0;
    case ENVOY__CONFIG__ROUTE__V3__QUERY_PARAMETER_MATCHER__QUERY_PARAMETER_MATCH_SPECIFIER__NOT_SET:
      out->kind = MESH__QUERY_PRESENT;
      return 0;
    default:
      return fail(c, where, "unknown query parameter match kind %d", (int)m->query_parameter_match_specifier_case);
  }
}

static int route_match(ctx *c, const RouteMatch *m, mesh__route_matcher *out, const char *where) {
  if (!m) return fail(c, where, "required");
  if (unknown_fields(c, &m->base, where, K_NONE, true) < 0) return -1;
  char w[WHERE_MAX];
  const char *lit = NULL;
  out->case_sensitive = m->case_sensitive ? m->case_sensitive->value : true;
  switch (m->path_specifier_case) {
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER_PREFIX:
      out->path_kind = MESH__PATH_PREFIX, lit = m->prefix;
      sub(w, where, "prefix");
      break;
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER_PATH:
      out->path_kind = MESH__PATH_EXACT, lit = m->path;
      sub(w, where, "path");
      break;
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER_PATH_SEPARATED_PREFIX: {
      out->path_kind = MESH__PATH_SEP_PREFIX, lit = m->path_separated_prefix;
      sub(w, where, "path_separated_prefix");
      /* validate.rules pattern ^[^?#]+[^?#/]$ */
      size_t n = strlen(S(lit));
      if (n < 2 || strpbrk(lit, "?#") || lit[n - 1] == '/')
        return fail(c, w, "must not be empty, contain '?' or '#', or end with '/'");
      break;
    }
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER_SAFE_REGEX:
      out->path_kind = MESH__PATH_REGEX;
      out->path.p = "";
      sub(w, where, "safe_regex");
      if (!(out->path_re = regex(c, m->safe_regex, MESH__RE_FULL, w))) return -1;
      {
        const char *pre;
        size_t n = mesh__regex_prefix(out->path_re, &pre);
        if (dup(c, &out->path_re_prefix, pre, n, false, w) < 0) return -1;
      }
      break;
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER_CONNECT_MATCHER:
      return fail(c, where, "connect_matcher: CONNECT routes are not supported");
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER_PATH_MATCH_POLICY:
      return fail(c, where, "path_match_policy: path match extensions are not supported");
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_MATCH__PATH_SPECIFIER__NOT_SET:
      return fail(c, where, "one of prefix, path, safe_regex or path_separated_prefix is required");
    default:
      return fail(c, where, "unknown path match kind %d", (int)m->path_specifier_case);
  }
  if (lit) {
    if (!valid_str_value(lit)) return fail(c, w, "invalid character");
    if (dups(c, &out->path, lit, !out->case_sensitive, w) < 0) return -1;
  }
  if (m->runtime_fraction) {
    sub(w, where, "runtime_fraction");
    const Envoy__Type__V3__FractionalPercent *fp = m->runtime_fraction->default_value;
    if (!fp) return fail(c, w, "default_value is required");
    switch (fp->denominator) {
      case ENVOY__TYPE__V3__FRACTIONAL_PERCENT__DENOMINATOR_TYPE__HUNDRED:
        out->fraction_den = 100;
        break;
      case ENVOY__TYPE__V3__FRACTIONAL_PERCENT__DENOMINATOR_TYPE__TEN_THOUSAND:
        out->fraction_den = 10000;
        break;
      case ENVOY__TYPE__V3__FRACTIONAL_PERCENT__DENOMINATOR_TYPE__MILLION:
        out->fraction_den = 1000000;
        break;
      default:
        return fail(c, w, "default_value.denominator: unknown value %d", (int)fp->denominator);
    }
    out->fraction_num = fp->numerator;
    out->has_fraction = true;
    if (*S(m->runtime_fraction->runtime_key)) ignore(c, w, "runtime_key (default_value is used)");
  }
  out->grpc = m->grpc != NULL;
  if (header_matchers(c, m->headers, m->n_headers, &out->headers, &out->nheaders, where, "headers") < 0) return -1;
  if (m->n_query_parameters) {
    mesh__query_matcher *q = mesh__arena_calloc(c->a, m->n_query_parameters, sizeof *q);
    if (!q) return oom(c, where);
    for (size_t i = 0; i < m->n_query_parameters; i++) {
      sub(w, where, "query_parameters[%zu]", i);
      if (query_matcher(c, m->query_parameters[i], &q[i], w) < 0) return -1;
    }
    out->queries = q;
    out->nqueries = m->n_query_parameters;
  }
  return 0;
}

/* ------------------------------------------------------------ header mutations */

/* A configured value: "%%" becomes "%"; other %FORMATTER% commands are not
 * evaluated and stay as written (noted). */
static int header_value_text(ctx *c, const char *s, size_t n, mesh__rstr *out, const char *where) {
  char *p = mesh__arena_alloc(c->a, n + 1);
  if (!p) return oom(c, where);
  size_t k = 0;
  bool noted = false;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%' && i + 1 < n && s[i + 1] == '%') {
      p[k++] = '%';
      i++;
      continue;
    }
    if (s[i] == '%' && !noted) {
      mesh__notes_addf(c->notes, "%s: %%FORMATTER%% substitution is not supported; the value is sent as written",
                       where);
      noted = true;
    }
    p[k++] = s[i];
  }
  p[k] = '\0';
  out->p = p;
  out->len = k;
  return 0;
}

static int header_adds(ctx *c, HeaderValueOption *const *in, size_t n, mesh__header_ops *ops, const char *where,
                       const char *field) {
  if (!n) return 0;
  mesh__header_add *v = mesh__arena_calloc(c->a, n, sizeof *v);
  if (!v) return oom(c, where);
  for (size_t i = 0; i < n; i++) {
    char w[WHERE_MAX];
    sub(w, where, "%s[%zu]", field, i);
    const HeaderValueOption *o = in[i];
    if (!o) return fail(c, w, "required");
    unknown_fields(c, &o->base, w, K_NONE, false);
    if (!o->header) return fail(c, w, "header is required");
    const char *key = S(o->header->key);
    if (!*key) return fail(c, w, "header.key is required");
    if (!valid_header_name(key)) return fail(c, w, "header.key \"%.64s\" is not a valid header name", key);
    if (!modifiable_header(key)) return fail(c, w, "header.key \"%.64s\" may not be modified", key);
    const char *val = S(o->header->value);
    size_t vlen = strlen(val);
    if (o->header->raw_value.len) {
      if (vlen) return fail(c, w, "only one of header.value and header.raw_value may be set");
      val = (const char *)o->header->raw_value.data;
      vlen = o->header->raw_value.len;
    }
    if (!valid_header_value(val, vlen)) return fail(c, w, "header value has an invalid character");
    if (o->append && o->append_action != ENVOY__CONFIG__CORE__V3__HEADER_VALUE_OPTION__HEADER_APPEND_ACTION__APPEND_IF_EXISTS_OR_ADD)
      return fail(c, w, "append and append_action are mutually exclusive");
    uint8_t action;
    if (o->append) {
      action = o->append->value ? MESH__APPEND_IF_EXISTS_OR_ADD : MESH__OVERWRITE_IF_EXISTS_OR_ADD;
    } else {
      switch (o->append_action) {
        case ENVOY__CONFIG__CORE__V3__HEADER_VALUE_OPTION__HEADER_APPEND_ACTION__APPEND_IF_EXISTS_OR_ADD:
          action = MESH__APPEND_IF_EXISTS_OR_ADD;
          break;
        case ENVOY__CONFIG__CORE__V3__HEADER_VALUE_OPTION__HEADER_APPEND_ACTION__ADD_IF_ABSENT:
          action = MESH__ADD_IF_ABSENT;
          break;
        case ENVOY__CONFIG__CORE__V3__HEADER_VALUE_OPTION__HEADER_APPEND_ACTION__OVERWRITE_IF_EXISTS_OR_ADD:
          action = MESH__OVERWRITE_IF_EXISTS_OR_ADD;
          break;
        case ENVOY__CONFIG__CORE__V3__HEADER_VALUE_OPTION__HEADER_APPEND_ACTION__OVERWRITE_IF_EXISTS:
          action = MESH__OVERWRITE_IF_EXISTS;
          break;
        default:
          return fail(c, w, "append_action: unknown value %d", (int)o->append_action);
      }
    }
    if (dups(c, &v[i].name, key, true, w) < 0 || header_value_text(c, val, vlen, &v[i].value, w) < 0) return -1;
    v[i].action = action;
    v[i].keep_empty_value = o->keep_empty_value;
  }
  ops->add = v;
  ops->nadd = n;
  return 0;
}

static int header_removes(ctx *c, char *const *in, size_t n, mesh__header_ops *ops, const char *where,
                          const char *field) {
  if (!n) return 0;
  mesh__rstr *v = mesh__arena_calloc(c->a, n, sizeof *v);
  if (!v) return oom(c, where);
  for (size_t i = 0; i < n; i++) {
    char w[WHERE_MAX];
    sub(w, where, "%s[%zu]", field, i);
    const char *k = S(in[i]);
    if (!*k || !valid_header_name(k)) return fail(c, w, "\"%.64s\" is not a valid header name", k);
    if (!modifiable_header(k)) return fail(c, w, "\"%.64s\" may not be removed", k);
    if (dups(c, &v[i], k, true, w) < 0) return -1;
  }
  ops->remove = v;
  ops->nremove = n;
  return 0;
}

/* The four header fields every level has. */
#define MUTATIONS(c, msg, out, where)                                                                              \
  (header_adds(c, (msg)->request_headers_to_add, (msg)->n_request_headers_to_add, &(out)->request, where,         \
               "request_headers_to_add") < 0 ||                                                                    \
           header_removes(c, (msg)->request_headers_to_remove, (msg)->n_request_headers_to_remove,                 \
                          &(out)->request, where, "request_headers_to_remove") < 0 ||                              \
           header_adds(c, (msg)->response_headers_to_add, (msg)->n_response_headers_to_add, &(out)->response,      \
                       where, "response_headers_to_add") < 0 ||                                                    \
           header_removes(c, (msg)->response_headers_to_remove, (msg)->n_response_headers_to_remove,               \
                          &(out)->response, where, "response_headers_to_remove") < 0                               \
       ? -1                                                                                                        \
       : 0)

/* ------------------------------------------------------------ retry and hash policies */

static const struct {
  const char *name;
  uint32_t bit;
} retry_on_names[] = {
    {"5xx", MESH__RETRY_5XX},
    {"gateway-error", MESH__RETRY_GATEWAY_ERROR},
    {"reset", MESH__RETRY_RESET},
    {"reset-before-request", MESH__RETRY_RESET_BEFORE_REQUEST},
    {"connect-failure", MESH__RETRY_CONNECT_FAILURE},
    {"envoy-ratelimited", MESH__RETRY_ENVOY_RATELIMITED},
    {"retriable-4xx", MESH__RETRY_RETRIABLE_4XX},
    {"refused-stream", MESH__RETRY_REFUSED_STREAM},
    {"retriable-status-codes", MESH__RETRY_RETRIABLE_STATUS_CODES},
    {"retriable-headers", MESH__RETRY_RETRIABLE_HEADERS},
    {"http3-post-connect-failure", MESH__RETRY_HTTP3_POST_CONNECT_FAILURE},
    {"cancelled", MESH__RETRY_GRPC_CANCELLED},
    {"deadline-exceeded", MESH__RETRY_GRPC_DEADLINE_EXCEEDED},
    {"internal", MESH__RETRY_GRPC_INTERNAL},
    {"resource-exhausted", MESH__RETRY_GRPC_RESOURCE_EXHAUSTED},
    {"unavailable", MESH__RETRY_GRPC_UNAVAILABLE},
};

static int retry_policy(ctx *c, const RetryPolicy *p, const mesh__retry_policy **out, const char *where) {
  *out = NULL;
  if (!p) return 0;
  unknown_fields(c, &p->base, where, K_NONE, false);
  mesh__retry_policy *rp = mesh__arena_alloc(c->a, sizeof *rp);
  if (!rp) return oom(c, where);
  char w[WHERE_MAX];
  sub(w, where, "retry_on");
  if (dups(c, &rp->retry_on, p->retry_on, false, w) < 0) return -1;
  /* Comma-separated conditions (Envoy's parseRetryOn / parseRetryGrpcOn). */
  const char *s = rp->retry_on.p;
  while (*s) {
    while (*s == ' ' || *s == ',') s++;
    const char *e = s;
    while (*e && *e != ',') e++;
    size_t n = (size_t)(e - s);
    while (n && s[n - 1] == ' ') n--;
    if (n) {
      bool known = false;
      for (size_t i = 0; i < sizeof retry_on_names / sizeof *retry_on_names; i++)
        if (strlen(retry_on_names[i].name) == n && !memcmp(retry_on_names[i].name, s, n)) {
          rp->retry_on_bits |= retry_on_names[i].bit;
          known = true;
        }
      if (!known) mesh__notes_addf(c->notes, "%s: condition \"%.*s\" not supported, ignored", w, (int)n, s);
    }
    s = e;
  }
  rp->num_retries = p->num_retries ? p->num_retries->value : 1;
  int64_t ms;
  if (opt_duration_ms(c, p->per_try_timeout, where, "per_try_timeout", &ms) < 0) return -1;
  rp->per_try_timeout_ms = ms < 0 ? 0 : (uint64_t)ms;
  if (opt_duration_ms(c, p->per_try_idle_timeout, where, "per_try_idle_timeout", &ms) < 0) return -1;
  rp->per_try_idle_timeout_ms = ms < 0 ? 0 : (uint64_t)ms;
  for (size_t i = 0; i < p->n_retry_host_predicate; i++) {
    const char *name = p->retry_host_predicate[i] ? S(p->retry_host_predicate[i]->name) : "";
    if (!strcmp(name, "envoy.retry_host_predicates.previous_hosts")) {
      rp->avoid_previous_hosts = true;
    } else {
      sub(w, where, "retry_host_predicate[%zu]", i);
      mesh__notes_addf(c->notes, "%s (%s): not supported, ignored", w, name);
    }
  }
  if (p->host_selection_retry_max_attempts < 0) return fail(c, where, "host_selection_retry_max_attempts: negative");
  rp->host_selection_max_attempts =
      p->host_selection_retry_max_attempts == 0 ? 1
      : p->host_selection_retry_max_attempts > UINT32_MAX ? UINT32_MAX
                                                          : (uint32_t)p->host_selection_retry_max_attempts;
  if (p->n_retriable_status_codes) {
    uint32_t *codes = mesh__arena_calloc(c->a, p->n_retriable_status_codes, sizeof *codes);
    if (!codes) return oom(c, where);
    for (size_t i = 0; i < p->n_retriable_status_codes; i++) {
      if (p->retriable_status_codes[i] < 100 || p->retriable_status_codes[i] > 599) {
        sub(w, where, "retriable_status_codes[%zu]", i);
        return fail(c, w, "%" PRIu32 " is not an HTTP status", p->retriable_status_codes[i]);
      }
      codes[i] = p->retriable_status_codes[i];
    }
    rp->retriable_status_codes = codes;
    rp->nretriable_status_codes = p->n_retriable_status_codes;
  }
  rp->backoff_base_ms = 25;
  rp->backoff_max_ms = 250;
  if (p->retry_back_off) {
    sub(w, where, "retry_back_off");
    uint64_t base = 0, max = 0;
    if (!p->retry_back_off->base_interval) return fail(c, w, "base_interval is required");
    char w2[WHERE_MAX];
    sub(w2, w, "base_interval");
    if (duration_ms(c, p->retry_back_off->base_interval, w2, &base) < 0) return -1;
    if (base == 0) return fail(c, w2, "must be at least 1ms");
    max = base * 10;
    if (p->retry_back_off->max_interval) {
      sub(w2, w, "max_interval");
      if (duration_ms(c, p->retry_back_off->max_interval, w2, &max) < 0) return -1;
      if (max < base) return fail(c, w2, "must not be less than base_interval");
    }
    rp->backoff_base_ms = base;
    rp->backoff_max_ms = max;
  }
  if (p->rate_limited_retry_back_off) {
    const Envoy__Config__Route__V3__RetryPolicy__RateLimitedRetryBackOff *rl = p->rate_limited_retry_back_off;
    sub(w, where, "rate_limited_retry_back_off");
    if (rl->n_reset_headers == 0) return fail(c, w, "reset_headers: at least one is required");
    mesh__reset_header *rh = mesh__arena_calloc(c->a, rl->n_reset_headers, sizeof *rh);
    if (!rh) return oom(c, w);
    for (size_t i = 0; i < rl->n_reset_headers; i++) {
      char w2[WHERE_MAX];
      sub(w2, w, "reset_headers[%zu].name", i);
      const char *name = rl->reset_headers[i] ? S(rl->reset_headers[i]->name) : "";
      if (!*name) return fail(c, w2, "must not be empty");
      if (dups(c, &rh[i].name, name, true, w2) < 0) return -1;
      rh[i].format = rl->reset_headers[i]->format == ENVOY__CONFIG__ROUTE__V3__RETRY_POLICY__RESET_HEADER_FORMAT__UNIX_TIMESTAMP
                         ? MESH__RESET_UNIX_TIMESTAMP
                         : MESH__RESET_SECONDS;
    }
    rp->reset_headers = rh;
    rp->nreset_headers = rl->n_reset_headers;
    rp->rl_backoff_max_ms = 300000; /* Envoy's default */
    if (rl->max_interval) {
      char w2[WHERE_MAX];
      sub(w2, w, "max_interval");
      uint64_t max = 0;
      if (duration_ms(c, rl->max_interval, w2, &max) < 0) return -1;
      if (max == 0) return fail(c, w2, "must be at least 1ms");
      rp->rl_backoff_max_ms = max;
    }
  }
  if (header_matchers(c, p->retriable_headers, p->n_retriable_headers, &rp->retriable_headers,
                      &rp->nretriable_headers, where, "retriable_headers") < 0 ||
      header_matchers(c, p->retriable_request_headers, p->n_retriable_request_headers,
                      &rp->retriable_request_headers, &rp->nretriable_request_headers, where,
                      "retriable_request_headers") < 0)
    return -1;
  *out = rp;
  return 0;
}

static int hash_policy(ctx *c, const HashPolicy *h, mesh__hash_policy *out, const char *where) {
  char w[WHERE_MAX];
  if (!h || (h->policy_specifier_case != ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HASH_POLICY__POLICY_SPECIFIER__NOT_SET &&
             !h->header))
    return fail(c, where, "required"); /* every policy_specifier member shares the union's pointer */
  out->terminal = h->terminal;
  out->name.p = out->rewrite_sub.p = out->cookie_path.p = "";
  switch (h->policy_specifier_case) {
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HASH_POLICY__POLICY_SPECIFIER_HEADER:
      sub(w, where, "header");
      out->kind = MESH__HASH_HEADER;
      if (!*S(h->header->header_name) || !valid_header_name(h->header->header_name))
        return fail(c, w, "header_name is not a valid header name");
      if (dups(c, &out->name, h->header->header_name, true, w) < 0) return -1;
      if (h->header->regex_rewrite) {
        char w2[WHERE_MAX];
        sub(w2, w, "regex_rewrite");
        return regex_sub(c, h->header->regex_rewrite, w2, &out->rewrite, &out->rewrite_sub);
      }
      return 0;
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HASH_POLICY__POLICY_SPECIFIER_COOKIE:
      sub(w, where, "cookie");
      out->kind = MESH__HASH_COOKIE;
      if (!*S(h->cookie->name)) return fail(c, w, "name is required");
      if (h->cookie->ttl) {
        char w2[WHERE_MAX];
        sub(w2, w, "ttl");
        if (duration_ms(c, h->cookie->ttl, w2, &out->cookie_ttl_ms) < 0) return -1;
        out->cookie_has_ttl = true;
      }
      if (h->cookie->n_attributes) ignore(c, w, "attributes");
      return dups(c, &out->name, h->cookie->name, false, w) < 0 ||
                     dups(c, &out->cookie_path, h->cookie->path, false, w) < 0
                 ? -1
                 : 0;
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HASH_POLICY__POLICY_SPECIFIER_CONNECTION_PROPERTIES:
      out->kind = MESH__HASH_SOURCE_IP;
      if (!h->connection_properties->source_ip) ignore(c, where, "connection_properties (source_ip false)");
      return 0;
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HASH_POLICY__POLICY_SPECIFIER_QUERY_PARAMETER:
      sub(w, where, "query_parameter");
      out->kind = MESH__HASH_QUERY_PARAMETER;
      if (!*S(h->query_parameter->name)) return fail(c, w, "name is required");
      return dups(c, &out->name, h->query_parameter->name, false, w);
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HASH_POLICY__POLICY_SPECIFIER_FILTER_STATE:
      sub(w, where, "filter_state");
      out->kind = MESH__HASH_FILTER_STATE;
      if (!*S(h->filter_state->key)) return fail(c, w, "key is required");
      return dups(c, &out->name, h->filter_state->key, false, w);
    default:
      return fail(c, where, "one of header, cookie, connection_properties, query_parameter or filter_state is required");
  }
}

/* ------------------------------------------------------------ actions */

static int weighted(ctx *c, const WeightedCluster *wc, mesh__route_action *out, const char *where) {
  if (!wc || wc->n_clusters == 0) return fail(c, where, "clusters: at least one is required");
  unknown_fields(c, &wc->base, where, K_NONE, false);
  mesh__cluster_weight *v = mesh__arena_calloc(c->a, wc->n_clusters, sizeof *v);
  if (!v) return oom(c, where);
  uint64_t sum = 0;
  for (size_t i = 0; i < wc->n_clusters; i++) {
    const ClusterWeight *cw = wc->clusters[i];
    char w[WHERE_MAX];
    sub(w, where, "clusters[%zu]", i);
    if (!cw) return fail(c, w, "required");
    if (unknown_fields(c, &cw->base, w, K_WEIGHT, false) < 0) return -1;
    bool has_name = *S(cw->name), has_header = *S(cw->cluster_header);
    if (has_name == has_header) return fail(c, w, "exactly one of name and cluster_header is required");
    if (has_header && !valid_header_name(cw->cluster_header))
      return fail(c, w, "cluster_header \"%.64s\" is not a valid header name", cw->cluster_header);
    if (dups(c, &v[i].name, cw->name, false, w) < 0 || dups(c, &v[i].cluster_header, cw->cluster_header, true, w) < 0)
      return -1;
    v[i].weight = cw->weight ? cw->weight->value : 0;
    sum += v[i].weight;
    v[i].host_rewrite_literal.p = "";
    if (cw->host_rewrite_specifier_case ==
        ENVOY__CONFIG__ROUTE__V3__WEIGHTED_CLUSTER__CLUSTER_WEIGHT__HOST_REWRITE_SPECIFIER_HOST_REWRITE_LITERAL) {
      if (!valid_str_value(cw->host_rewrite_literal)) return fail(c, w, "host_rewrite_literal: invalid character");
      if (dups(c, &v[i].host_rewrite_literal, cw->host_rewrite_literal, false, w) < 0) return -1;
    }
    if (MUTATIONS(c, cw, &v[i].headers, w) < 0) return -1;
    PER_FILTER(c, cw, &v[i].faults, w);
  }
  if (sum == 0) return fail(c, where, "the sum of the cluster weights must be greater than 0");
  if (sum > UINT32_MAX) return fail(c, where, "the sum of the cluster weights exceeds %" PRIu32, UINT32_MAX);
  if (wc->total_weight && wc->total_weight->value && wc->total_weight->value != sum)
    mesh__notes_addf(c->notes, "%s.total_weight: %" PRIu32 " differs from the sum of the weights (%" PRIu64
                     "); the sum is used (total_weight is deprecated)",
                     where, wc->total_weight->value, sum);
  if (*S(wc->runtime_key_prefix)) ignore(c, where, "runtime_key_prefix");
  out->random_value_header.p = "";
  if (wc->random_value_specifier_case == ENVOY__CONFIG__ROUTE__V3__WEIGHTED_CLUSTER__RANDOM_VALUE_SPECIFIER_HEADER_NAME) {
    if (!valid_header_name(wc->header_name)) return fail(c, where, "header_name is not a valid header name");
    if (dups(c, &out->random_value_header, wc->header_name, true, where) < 0) return -1;
  }
  out->cluster_kind = MESH__CLUSTER_WEIGHTED;
  out->weights = v;
  out->nweights = wc->n_clusters;
  out->total_weight = sum;
  return 0;
}

static int route_action(ctx *c, const RouteAction *ra, mesh__route_action *out, const char *where) {
  char w[WHERE_MAX];
  /* metadata_match selects endpoint subsets: ignoring it would send
   * traffic outside the subset. */
  if (unknown_fields(c, &ra->base, where, K_ACTION, false) < 0) return -1;
  out->cluster.p = out->prefix_rewrite.p = out->regex_sub.p = out->host_rewrite_literal.p = "";
  out->host_rewrite_header.p = out->host_rewrite_path_sub.p = out->random_value_header.p = "";
  switch (ra->cluster_specifier_case) {
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__CLUSTER_SPECIFIER_CLUSTER:
      sub(w, where, "cluster");
      if (!*S(ra->cluster)) return fail(c, w, "must not be empty");
      out->cluster_kind = MESH__CLUSTER_NAME;
      if (dups(c, &out->cluster, ra->cluster, false, w) < 0) return -1;
      break;
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__CLUSTER_SPECIFIER_CLUSTER_HEADER:
      sub(w, where, "cluster_header");
      if (!*S(ra->cluster_header) || !valid_header_name(ra->cluster_header))
        return fail(c, w, "\"%.64s\" is not a valid header name", S(ra->cluster_header));
      out->cluster_kind = MESH__CLUSTER_HEADER;
      if (dups(c, &out->cluster, ra->cluster_header, true, w) < 0) return -1;
      break;
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__CLUSTER_SPECIFIER_WEIGHTED_CLUSTERS:
      sub(w, where, "weighted_clusters");
      if (weighted(c, ra->weighted_clusters, out, w) < 0) return -1;
      break;
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__CLUSTER_SPECIFIER_CLUSTER_SPECIFIER_PLUGIN:
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__CLUSTER_SPECIFIER_INLINE_CLUSTER_SPECIFIER_PLUGIN:
      return fail(c, where, "cluster specifier plugins are not supported");
    default:
      return fail(c, where, "one of cluster, cluster_header or weighted_clusters is required");
  }
  switch (ra->cluster_not_found_response_code) {
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__CLUSTER_NOT_FOUND_RESPONSE_CODE__SERVICE_UNAVAILABLE:
      out->cluster_not_found_code = 503;
      break;
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__CLUSTER_NOT_FOUND_RESPONSE_CODE__NOT_FOUND:
      out->cluster_not_found_code = 404;
      break;
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__CLUSTER_NOT_FOUND_RESPONSE_CODE__INTERNAL_SERVER_ERROR:
      out->cluster_not_found_code = 500;
      break;
    default:
      return fail(c, where, "cluster_not_found_response_code: unknown value %d", (int)ra->cluster_not_found_response_code);
  }
  if (*S(ra->prefix_rewrite) && ra->regex_rewrite)
    return fail(c, where, "prefix_rewrite and regex_rewrite are mutually exclusive");
  if (*S(ra->prefix_rewrite)) {
    sub(w, where, "prefix_rewrite");
    if (!valid_str_value(ra->prefix_rewrite)) return fail(c, w, "invalid character");
    if (dups(c, &out->prefix_rewrite, ra->prefix_rewrite, false, w) < 0) return -1;
  }
  if (ra->regex_rewrite) {
    sub(w, where, "regex_rewrite");
    if (regex_sub(c, ra->regex_rewrite, w, &out->regex_rewrite, &out->regex_sub) < 0) return -1;
  }
  switch (ra->host_rewrite_specifier_case) {
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HOST_REWRITE_SPECIFIER_HOST_REWRITE_LITERAL:
      sub(w, where, "host_rewrite_literal");
      if (!valid_str_value(ra->host_rewrite_literal)) return fail(c, w, "invalid character");
      if (dups(c, &out->host_rewrite_literal, ra->host_rewrite_literal, false, w) < 0) return -1;
      break;
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HOST_REWRITE_SPECIFIER_AUTO_HOST_REWRITE:
      out->auto_host_rewrite = ra->auto_host_rewrite && ra->auto_host_rewrite->value;
      break;
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HOST_REWRITE_SPECIFIER_HOST_REWRITE_HEADER:
      sub(w, where, "host_rewrite_header");
      if (!valid_header_name(ra->host_rewrite_header)) return fail(c, w, "not a valid header name");
      if (dups(c, &out->host_rewrite_header, ra->host_rewrite_header, true, w) < 0) return -1;
      break;
    case ENVOY__CONFIG__ROUTE__V3__ROUTE_ACTION__HOST_REWRITE_SPECIFIER_HOST_REWRITE_PATH_REGEX:
      sub(w, where, "host_rewrite_path_regex");
      if (regex_sub(c, ra->host_rewrite_path_regex, w, &out->host_rewrite_path_re, &out->host_rewrite_path_sub) < 0)
        return -1;
      break;
    default:
      break;
  }
  out->timeout_ms = MESH__ROUTE_DEFAULT_TIMEOUT_MS;
  if (ra->timeout) {
    sub(w, where, "timeout");
    if (duration_ms(c, ra->timeout, w, &out->timeout_ms) < 0) return -1;
  }
  if (opt_duration_ms(c, ra->idle_timeout, where, "idle_timeout", &out->idle_timeout_ms) < 0) return -1;
  sub(w, where, "retry_policy");
  if (retry_policy(c, ra->retry_policy, &out->retry, w) < 0) return -1;
  switch (ra->priority) {
    case ENVOY__CONFIG__CORE__V3__ROUTING_PRIORITY__DEFAULT:
      out->priority = MESH__PRIORITY_DEFAULT;
      break;
    case ENVOY__CONFIG__CORE__V3__ROUTING_PRIORITY__HIGH:
      out->priority = MESH__PRIORITY_HIGH;
      break;
    default:
      return fail(c, where, "priority: unknown value %d", (int)ra->priority);
  }
  if (ra->n_hash_policy) {
    mesh__hash_policy *hp = mesh__arena_calloc(c->a, ra->n_hash_policy, sizeof *hp);
    if (!hp) return oom(c, where);
    for (size_t i = 0; i < ra->n_hash_policy; i++) {
      sub(w, where, "hash_policy[%zu]", i);
      if (hash_policy(c, ra->hash_policy[i], &hp[i], w) < 0) return -1;
    }
    out->hash = hp;
    out->nhash = ra->n_hash_policy;
  }
  out->max_stream_duration_ms = out->grpc_timeout_header_max_ms = out->grpc_timeout_header_offset_ms = -1;
  if (ra->max_stream_duration) {
    sub(w, where, "max_stream_duration");
    const Envoy__Config__Route__V3__RouteAction__MaxStreamDuration *m = ra->max_stream_duration;
    if (opt_duration_ms(c, m->max_stream_duration, w, "max_stream_duration", &out->max_stream_duration_ms) < 0 ||
        opt_duration_ms(c, m->grpc_timeout_header_max, w, "grpc_timeout_header_max",
                        &out->grpc_timeout_header_max_ms) < 0 ||
        opt_duration_ms(c, m->grpc_timeout_header_offset, w, "grpc_timeout_header_offset",
                        &out->grpc_timeout_header_offset_ms) < 0)
      return -1;
  } else {
    /* The deprecated forms mean the same as the max_stream_duration ones. */
    if (opt_duration_ms(c, ra->max_grpc_timeout, where, "max_grpc_timeout", &out->grpc_timeout_header_max_ms) < 0 ||
        opt_duration_ms(c, ra->grpc_timeout_offset, where, "grpc_timeout_offset",
                        &out->grpc_timeout_header_offset_ms) < 0)
      return -1;
  }
  return 0;
}

static int redirect_action(ctx *c, const RedirectAction *ra, mesh__redirect *out, const char *where) {
  char w[WHERE_MAX];
  unknown_fields(c, &ra->base, where, K_NONE, false);
  out->scheme.p = out->host.p = out->path.p = out->regex_sub.p = "";
  switch (ra->scheme_rewrite_specifier_case) {
    case ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__SCHEME_REWRITE_SPECIFIER_HTTPS_REDIRECT:
      if (ra->https_redirect) out->scheme.p = "https", out->scheme.len = 5;
      break;
    case ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__SCHEME_REWRITE_SPECIFIER_SCHEME_REDIRECT: {
      sub(w, where, "scheme_redirect");
      const char *s = S(ra->scheme_redirect);
      /* RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
      bool ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z');
      for (const char *p = s; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '+' ||
             *p == '-' || *p == '.';
      if (!ok) return fail(c, w, "\"%.32s\" is not a URI scheme", s);
      if (dups(c, &out->scheme, s, true, w) < 0) return -1;
      break;
    }
    default:
      break;
  }
  if (*S(ra->host_redirect)) {
    sub(w, where, "host_redirect");
    if (!valid_str_value(ra->host_redirect) || strpbrk(ra->host_redirect, "/?#"))
      return fail(c, w, "invalid character");
    if (dups(c, &out->host, ra->host_redirect, false, w) < 0) return -1;
  }
  if (ra->port_redirect > 65535) return fail(c, where, "port_redirect: %" PRIu32 " is not a port", ra->port_redirect);
  out->port = ra->port_redirect;
  switch (ra->path_rewrite_specifier_case) {
    case ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__PATH_REWRITE_SPECIFIER_PATH_REDIRECT:
      sub(w, where, "path_redirect");
      if (!valid_str_value(ra->path_redirect)) return fail(c, w, "invalid character");
      if (*S(ra->path_redirect)) {
        out->path_kind = MESH__REDIRECT_PATH_REPLACE;
        out->path_has_query = strchr(ra->path_redirect, '?') != NULL;
        if (dups(c, &out->path, ra->path_redirect, false, w) < 0) return -1;
      }
      break;
    case ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__PATH_REWRITE_SPECIFIER_PREFIX_REWRITE:
      sub(w, where, "prefix_rewrite");
      if (!valid_str_value(ra->prefix_rewrite)) return fail(c, w, "invalid character");
      if (*S(ra->prefix_rewrite)) {
        out->path_kind = MESH__REDIRECT_PATH_PREFIX;
        if (dups(c, &out->path, ra->prefix_rewrite, false, w) < 0) return -1;
      }
      break;
    case ENVOY__CONFIG__ROUTE__V3__REDIRECT_ACTION__PATH_REWRITE_SPECIFIER_REGEX_REWRITE:
      sub(w, where, "regex_rewrite");
      out->path_kind = MESH__REDIRECT_PATH_REGEX;
      if (regex_sub(c, ra->regex_rewrite, w, &out->regex, &out->regex_sub) < 0) return -1;
      break;
    default:
      break;
  }
  static const uint16_t codes[] = {301, 302, 303, 307, 308};
  if ((unsigned)ra->response_code >= sizeof codes / sizeof *codes)
    return fail(c, where, "response_code: unknown value %d", (int)ra->response_code);
  out->code = codes[ra->response_code];
  out->strip_query = ra->strip_query;
  return 0;
}

static int direct_response(ctx *c, const DirectResponseAction *d, mesh__direct_response *out, const char *where) {
  char w[WHERE_MAX];
  unknown_fields(c, &d->base, where, K_NONE, false);
  if (d->status < 200 || d->status > 599)
    return fail(c, where, "status: %" PRIu32 " is not in [200, 600)", d->status);
  out->status = (uint16_t)d->status;
  out->body.p = "";
  if (!d->body) return 0;
  sub(w, where, "body");
  const char *p;
  size_t n;
  switch (d->body->specifier_case) {
    case ENVOY__CONFIG__CORE__V3__DATA_SOURCE__SPECIFIER_INLINE_STRING:
      p = S(d->body->inline_string), n = strlen(p);
      break;
    case ENVOY__CONFIG__CORE__V3__DATA_SOURCE__SPECIFIER_INLINE_BYTES:
      p = (const char *)d->body->inline_bytes.data, n = d->body->inline_bytes.len;
      break;
    case ENVOY__CONFIG__CORE__V3__DATA_SOURCE__SPECIFIER_FILENAME:
      return fail(c, w, "filename: bodies from files are not supported (use inline_string or inline_bytes)");
    case ENVOY__CONFIG__CORE__V3__DATA_SOURCE__SPECIFIER_ENVIRONMENT_VARIABLE:
      return fail(c, w, "environment_variable: not supported (use inline_string or inline_bytes)");
    default:
      return fail(c, w, "one of inline_string or inline_bytes is required");
  }
  if (d->body->watched_directory) ignore(c, w, "watched_directory");
  if (n > c->rt->max_direct_response_body_bytes)
    return fail(c, w, "%zu bytes is more than max_direct_response_body_size_bytes (%" PRIu32 ")", n,
                c->rt->max_direct_response_body_bytes);
  out->has_body = true;
  return dup(c, &out->body, p, n, false, w);
}

/* ------------------------------------------------------------ routes, vhosts */

static int route(ctx *c, const Route *r, mesh__route *out, const char *where) {
  char w[WHERE_MAX];
  if (!r) return fail(c, where, "required");
  /* A oneof member message set without its pointer (built by hand). */
  if (r->action_case != ENVOY__CONFIG__ROUTE__V3__ROUTE__ACTION__NOT_SET && !r->route)
    return fail(c, where, "action: set without a message");
  unknown_fields(c, &r->base, where, K_ROUTE, false);
  if (dups(c, &out->name, r->name, false, where) < 0) return -1;
  sub(w, where, "match");
  if (route_match(c, r->match, &out->match, w) < 0) return -1;
  switch (r->action_case) {
    case ENVOY__CONFIG__ROUTE__V3__ROUTE__ACTION_ROUTE:
      sub(w, where, "route");
      out->action = MESH__ACTION_ROUTE;
      if (route_action(c, r->route, &out->route, w) < 0) return -1;
      break;
    case ENVOY__CONFIG__ROUTE__V3__ROUTE__ACTION_REDIRECT:
      sub(w, where, "redirect");
      out->action = MESH__ACTION_REDIRECT;
      if (redirect_action(c, r->redirect, &out->redirect, w) < 0) return -1;
      break;
    case ENVOY__CONFIG__ROUTE__V3__ROUTE__ACTION_DIRECT_RESPONSE:
      sub(w, where, "direct_response");
      out->action = MESH__ACTION_DIRECT;
      if (direct_response(c, r->direct_response, &out->direct, w) < 0) return -1;
      break;
    case ENVOY__CONFIG__ROUTE__V3__ROUTE__ACTION_FILTER_ACTION:
      return fail(c, where, "filter_action: not supported (no action libmesh can take)");
    case ENVOY__CONFIG__ROUTE__V3__ROUTE__ACTION_NON_FORWARDING_ACTION:
      return fail(c, where, "non_forwarding_action: not supported (no action libmesh can take)");
    default:
      return fail(c, where, "one of route, redirect or direct_response is required");
  }
  if (MUTATIONS(c, r, &out->headers, where) < 0) return -1;
  PER_FILTER(c, r, &out->faults, where);
  return 0;
}

static int vhost(ctx *c, const VirtualHost *v, mesh__vhost *out, const char *where) {
  char w[WHERE_MAX];
  if (!v) return fail(c, where, "required");
  /* matcher: a matcher tree that replaces the routes. */
  if (unknown_fields(c, &v->base, where, K_VHOST, false) < 0) return -1;
  if (!*S(v->name)) return fail(c, where, "name is required");
  if (dups(c, &out->name, v->name, false, where) < 0) return -1;
  if (v->n_domains == 0) return fail(c, where, "domains: at least one domain is required");
  mesh__rstr *d = mesh__arena_calloc(c->a, v->n_domains, sizeof *d);
  if (!d) return oom(c, where);
  for (size_t i = 0; i < v->n_domains; i++) {
    sub(w, where, "domains[%zu]", i);
    if (!valid_str_value(v->domains[i])) return fail(c, w, "invalid character");
    if (dups(c, &d[i], v->domains[i], true, w) < 0) return -1;
  }
  out->domains = d;
  out->ndomains = v->n_domains;
  if (v->n_routes) {
    mesh__route *r = mesh__arena_calloc(c->a, v->n_routes, sizeof *r);
    if (!r) return oom(c, where);
    for (size_t i = 0; i < v->n_routes; i++) {
      sub(w, where, "routes[%zu]", i);
      if (route(c, v->routes[i], &r[i], w) < 0) return -1;
    }
    out->routes = r;
    out->nroutes = v->n_routes;
  }
  switch (v->require_tls) {
    case ENVOY__CONFIG__ROUTE__V3__VIRTUAL_HOST__TLS_REQUIREMENT_TYPE__NONE:
      out->require_tls = MESH__TLS_NONE;
      break;
    case ENVOY__CONFIG__ROUTE__V3__VIRTUAL_HOST__TLS_REQUIREMENT_TYPE__EXTERNAL_ONLY:
      out->require_tls = MESH__TLS_EXTERNAL_ONLY;
      break;
    case ENVOY__CONFIG__ROUTE__V3__VIRTUAL_HOST__TLS_REQUIREMENT_TYPE__ALL:
      out->require_tls = MESH__TLS_ALL;
      break;
    default:
      return fail(c, where, "require_tls: unknown value %d", (int)v->require_tls);
  }
  if (MUTATIONS(c, v, &out->headers, where) < 0) return -1;
  PER_FILTER(c, v, &out->faults, where);
  out->include_request_attempt_count = v->include_request_attempt_count;
  sub(w, where, "retry_policy");
  return retry_policy(c, v->retry_policy, &out->retry, w);
}

/* ------------------------------------------------------------ fault injection */

typedef Envoy__Extensions__Filters__Http__Fault__V3__HTTPFault HttpFault;
typedef Envoy__Extensions__Filters__Common__Fault__V3__FaultDelay FaultDelay;
typedef Envoy__Extensions__Filters__Http__Fault__V3__FaultAbort FaultAbort;

/* A FractionalPercent as numerator and scale to parts per million. Unset:
 * 0% (Envoy reads the message's defaults, numerator 0). */
static int fraction(ctx *c, const Envoy__Type__V3__FractionalPercent *p, uint32_t *num, uint32_t *scale,
                    const char *where) {
  *num = 0;
  *scale = 10000;
  if (!p) return 0;
  switch (p->denominator) {
    case ENVOY__TYPE__V3__FRACTIONAL_PERCENT__DENOMINATOR_TYPE__HUNDRED: *scale = 10000; break;
    case ENVOY__TYPE__V3__FRACTIONAL_PERCENT__DENOMINATOR_TYPE__TEN_THOUSAND: *scale = 100; break;
    case ENVOY__TYPE__V3__FRACTIONAL_PERCENT__DENOMINATOR_TYPE__MILLION: *scale = 1; break;
    default: return fail(c, where, "percentage.denominator: unknown value %d", (int)p->denominator);
  }
  *num = p->numerator;
  return 0;
}

static int fault_delay(ctx *c, const FaultDelay *d, mesh__fault *f, const char *where) {
  char w[WHERE_MAX];
  switch (d->fault_delay_secifier_case) {
    case ENVOY__EXTENSIONS__FILTERS__COMMON__FAULT__V3__FAULT_DELAY__FAULT_DELAY_SECIFIER_FIXED_DELAY:
      sub(w, where, "fixed_delay");
      if (!d->fixed_delay) return fail(c, w, "required");
      if (duration_ms(c, d->fixed_delay, w, &f->delay_ms) < 0) return -1;
      if (d->fixed_delay->seconds == 0 && d->fixed_delay->nanos == 0) return fail(c, w, "must be greater than 0");
      f->delay_kind = MESH__FAULT_DELAY_FIXED;
      break;
    case ENVOY__EXTENSIONS__FILTERS__COMMON__FAULT__V3__FAULT_DELAY__FAULT_DELAY_SECIFIER_HEADER_DELAY:
      f->delay_kind = MESH__FAULT_DELAY_HEADER;
      break;
    default: return fail(c, where, "fixed_delay or header_delay is required");
  }
  sub(w, where, "percentage");
  return fraction(c, d->percentage, &f->delay_num, &f->delay_scale, w);
}

static int fault_abort(ctx *c, const FaultAbort *a, mesh__fault *f, const char *where) {
  char w[WHERE_MAX];
  switch (a->error_type_case) {
    case ENVOY__EXTENSIONS__FILTERS__HTTP__FAULT__V3__FAULT_ABORT__ERROR_TYPE_HTTP_STATUS:
      if (a->http_status < 200 || a->http_status >= 600)
        return fail(c, where, "http_status: %" PRIu32 " is not in [200, 600)", a->http_status);
      f->abort_kind = MESH__FAULT_ABORT_HTTP;
      f->abort_code = a->http_status;
      break;
    case ENVOY__EXTENSIONS__FILTERS__HTTP__FAULT__V3__FAULT_ABORT__ERROR_TYPE_GRPC_STATUS:
      f->abort_kind = MESH__FAULT_ABORT_GRPC;
      f->abort_code = a->grpc_status;
      break;
    case ENVOY__EXTENSIONS__FILTERS__HTTP__FAULT__V3__FAULT_ABORT__ERROR_TYPE_HEADER_ABORT:
      f->abort_kind = MESH__FAULT_ABORT_HEADER;
      break;
    default: return fail(c, where, "http_status, grpc_status or header_abort is required");
  }
  sub(w, where, "percentage");
  return fraction(c, a->percentage, &f->abort_num, &f->abort_scale, w);
}

/* An HTTPFault (filter config or per-route override) into the arena. */
static int fault_config(ctx *c, const Google__Protobuf__Any *any, const mesh__fault **out, const char *where) {
  HttpFault *h = (HttpFault *)protobuf_c_message_unpack(&envoy__extensions__filters__http__fault__v3__httpfault__descriptor,
                                                        NULL, any->value.len, any->value.data);
  if (!h) return fail(c, where, "could not decode the HTTPFault");
  int rc = -1;
  char w[WHERE_MAX];
  mesh__fault *f = mesh__arena_calloc(c->a, 1, sizeof *f);
  if (!f) {
    oom(c, where);
    goto done;
  }
  f->delay_scale = f->abort_scale = 10000;
  f->upstream_cluster.p = "";
  if (unknown_fields(c, &h->base, where, K_NONE, true) < 0) goto done;
  sub(w, where, "delay");
  if (h->delay && fault_delay(c, h->delay, f, w) < 0) goto done;
  sub(w, where, "abort");
  if (h->abort && fault_abort(c, h->abort, f, w) < 0) goto done;
  if (*S(h->upstream_cluster) && dups(c, &f->upstream_cluster, h->upstream_cluster, false, where) < 0) goto done;
  if (header_matchers(c, h->headers, h->n_headers, &f->headers, &f->nheaders, where, "headers") < 0) goto done;
  if (h->n_downstream_nodes) {
    fail(c, where, "downstream_nodes: not supported (faults would reach callers it leaves out)");
    goto done;
  }
  if (h->response_rate_limit) {
    fail(c, where, "response_rate_limit: not supported (the response would not be throttled)");
    goto done;
  }
  if (h->max_active_faults) {
    f->has_max_active = true;
    f->max_active = h->max_active_faults->value;
  }
  if (*S(h->delay_percent_runtime) || *S(h->abort_percent_runtime) || *S(h->delay_duration_runtime) ||
      *S(h->abort_http_status_runtime) || *S(h->max_active_faults_runtime) ||
      *S(h->response_rate_limit_percent_runtime) || *S(h->abort_grpc_status_runtime))
    mesh__notes_addf(c->notes, "%s: *_runtime keys: not supported, the configured values apply", where);
  *out = f;
  rc = 0;
done:
  protobuf_c_message_free_unpacked(&h->base, NULL);
  return rc;
}

static bool is_type(const Google__Protobuf__Any *v, const char *full) {
  const char *url = v && v->type_url ? v->type_url : "";
  const char *slash = strrchr(url, '/');
  return strcmp(slash ? slash + 1 : url, full) == 0;
}

/* One typed_per_filter_config entry: 1 when it is a fault config (stored in
 * *slot), 0 when it is another filter's (skipped), -1 on error. */
static int fault_override(ctx *c, const char *key, const Google__Protobuf__Any *v, mesh__fault_override *slot,
                          const char *where) {
  char w[WHERE_MAX];
  sub(w, where, "typed_per_filter_config[\"%.64s\"]", S(key));
  if (!v) return 0;
  if (!is_type(v, FAULT_TYPE)) {
    /* A fault filter switched on or changed by a wrapper libmesh cannot
     * read (FilterConfig) would be missed: refuse rather than skip. */
    if (!strcmp(S(key), "envoy.filters.http.fault") && v->value.len > 0)
      return fail(c, w, "%.96s: not supported for the fault filter (only an HTTPFault)", S(v->type_url));
    return 0;
  }
  if (dups(c, &slot->filter, S(key), false, w) < 0) return -1;
  return fault_config(c, v, &slot->fault, w) < 0 ? -1 : 1;
}

static int table_faults(ctx *c, const RouteConfiguration *rc, mesh__fault_overrides *out) {
  PER_FILTER(c, rc, out, "");
  return 0;
}

int mesh__rds_fault_filter(const Google__Protobuf__Any *any, mesh__route_table *holder, const mesh__fault **out,
                           char *err, size_t errlen, mesh__notes *ignored, const char *where) {
  ctx c = {0};
  c.rt = holder;
  c.a = holder->arena;
  c.err = err;
  c.errlen = errlen;
  c.notes = ignored;
  int rc = fault_config(&c, any, out, where);
  free(c.res);
  return rc;
}


int mesh__rds_translate(const RouteConfiguration *rc, mesh__route_table **out, char *err, size_t errlen,
                        mesh__notes *ignored) {
  *out = NULL;
  ctx c = {NULL, NULL, err, errlen, ignored, NULL, 0, 0};
  if (!rc) return fail(&c, "", "no RouteConfiguration");
  c.rt = mesh__route_table_new();
  if (!c.rt) return oom(&c, "");
  c.a = c.rt->arena;
  mesh__route_table *rt = c.rt;
  int rc_ = -1;
  /* vhds: virtual hosts delivered separately. */
  if (unknown_fields(&c, &rc->base, "", K_CONFIG, false) < 0) goto done;
  if (dups(&c, &rt->name, rc->name, false, "name") < 0) goto done;
  rt->most_specific_header_mutations_wins = rc->most_specific_header_mutations_wins;
  rt->ignore_port_in_host_matching = rc->ignore_port_in_host_matching;
  if (rc->max_direct_response_body_size_bytes)
    rt->max_direct_response_body_bytes = rc->max_direct_response_body_size_bytes->value;
  if (rc->n_internal_only_headers) ignore(&c, "", "internal_only_headers");
  if (table_faults(&c, rc, &rt->faults) < 0) goto done;
  if (MUTATIONS(&c, rc, &rt->headers, "") < 0) goto done;
  if (rc->n_virtual_hosts) {
    rt->vhosts = mesh__arena_calloc(c.a, rc->n_virtual_hosts, sizeof *rt->vhosts);
    if (!rt->vhosts) {
      oom(&c, "virtual_hosts");
      goto done;
    }
    rt->nvhosts = rc->n_virtual_hosts;
    for (size_t i = 0; i < rc->n_virtual_hosts; i++) {
      char w[WHERE_MAX];
      snprintf(w, sizeof w, "virtual_hosts[%zu]", i);
      if (vhost(&c, rc->virtual_hosts[i], &rt->vhosts[i], w) < 0) goto done;
    }
  }
  if (mesh__route_table_seal(rt, err, errlen) < 0) goto done;
  rc_ = 0;
done:
  free(c.res);
  if (rc_ < 0) {
    mesh__route_table_unref(rt);
    return -1;
  }
  *out = rt;
  return 0;
}
