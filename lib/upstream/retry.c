#include "upstream/retry.h"

#include <stdio.h>
#include <string.h>

#include "route/match.h"
#include "util/str.h"

int mesh__attempt_outcome(int err, int refused) {
  switch (err) {
    case MESH_OK:
      return MESH__ATTEMPT_RESPONSE;
    case MESH_ERESET:
    case MESH_EPROTOCOL:
      return refused ? MESH__ATTEMPT_REFUSED_STREAM : MESH__ATTEMPT_RESET;
    case MESH_ECONNECT:
    case MESH_ECONNECT_TIMEOUT:
    case MESH_EDNS:
      return MESH__ATTEMPT_CONNECT_FAILURE;
    default:
      return MESH__ATTEMPT_LOCAL;
  }
}

static const char *resp_field(const mesh_response *r, uint32_t from, uint32_t to, const char *name) {
  for (uint32_t i = from; i < to; i++)
    if (!strcmp(r->strings.data + r->fields.v[i].name, name)) return r->strings.data + r->fields.v[i].value;
  return NULL;
}

int mesh__grpc_status(const mesh_response *r) {
  /* Trailers-only responses carry it in the headers (gRPC PROTOCOL-HTTP2). */
  const char *v = resp_field(r, 0, r->nheaders, "grpc-status");
  if (!v) v = resp_field(r, r->nheaders, r->fields.n, "grpc-status");
  unsigned long long st;
  if (!v || mesh__parse_u64(v, strlen(v), 1000, &st)) return -1;
  return (int)st;
}

/* Response headers as a route input, for retriable_headers matchers. */
static bool headers_match(const mesh__header_matcher *hm, size_t n, const mesh_response *r) {
  enum { MAX = 64 };
  const char *hn[MAX + 1], *hv[MAX + 1];
  char status[8];
  size_t k = 0;
  /* ":status" is matchable, as in Envoy. */
  snprintf(status, sizeof status, "%d", r->status);
  hn[k] = ":status";
  hv[k++] = status;
  for (uint32_t i = 0; i < r->nheaders && k <= MAX; i++, k++) {
    hn[k] = r->strings.data + r->fields.v[i].name;
    hv[k] = r->strings.data + r->fields.v[i].value;
  }
  mesh__route_input in;
  memset(&in, 0, sizeof in);
  in.hnames = hn;
  in.hvalues = hv;
  in.nheaders = k;
  return mesh__headers_match_any(hm, n, &in);
}

bool mesh__retry_would_retry(const mesh__retry_policy *p, int outcome, const mesh_response *r) {
  uint32_t on = p->retry_on_bits;
  switch (outcome) {
    case MESH__ATTEMPT_RESPONSE:
      break;
    case MESH__ATTEMPT_RESET:
    case MESH__ATTEMPT_PER_TRY_TIMEOUT:
      /* A reset counts as a 5xx: the upstream may or may not have acted. */
      return (on & (MESH__RETRY_5XX | MESH__RETRY_GATEWAY_ERROR | MESH__RETRY_RESET)) != 0;
    case MESH__ATTEMPT_REFUSED_STREAM:
      return (on & (MESH__RETRY_5XX | MESH__RETRY_GATEWAY_ERROR | MESH__RETRY_RESET |
                    MESH__RETRY_REFUSED_STREAM | MESH__RETRY_RESET_BEFORE_REQUEST)) != 0;
    case MESH__ATTEMPT_CONNECT_FAILURE:
      /* Nothing reached the upstream: reset-before-request covers it too. */
      return (on & (MESH__RETRY_5XX | MESH__RETRY_GATEWAY_ERROR | MESH__RETRY_RESET |
                    MESH__RETRY_CONNECT_FAILURE | MESH__RETRY_RESET_BEFORE_REQUEST)) != 0;
    default:
      return false;
  }
  /* Status conditions first: a 2xx under a status-only policy reads no
   * header. x-envoy-overloaded vetoes whatever matched. */
  int st = r->status;
  bool would = ((on & MESH__RETRY_5XX) && st >= 500 && st <= 599) ||
               ((on & MESH__RETRY_GATEWAY_ERROR) && st >= 502 && st <= 504) ||
               ((on & MESH__RETRY_RETRIABLE_4XX) && st == 409);
  if (!would && (on & MESH__RETRY_RETRIABLE_STATUS_CODES))
    for (size_t i = 0; i < p->nretriable_status_codes && !would; i++)
      would = (uint32_t)st == p->retriable_status_codes[i];
  if (would) return !resp_field(r, 0, r->nheaders, "x-envoy-overloaded");
  uint32_t by_header = MESH__RETRY_ENVOY_RATELIMITED | MESH__RETRY_RETRIABLE_HEADERS | MESH__RETRY_GRPC_CANCELLED |
                       MESH__RETRY_GRPC_DEADLINE_EXCEEDED | MESH__RETRY_GRPC_INTERNAL |
                       MESH__RETRY_GRPC_RESOURCE_EXHAUSTED | MESH__RETRY_GRPC_UNAVAILABLE;
  if (!(on & by_header) || resp_field(r, 0, r->nheaders, "x-envoy-overloaded")) return false;
  if ((on & MESH__RETRY_ENVOY_RATELIMITED) && resp_field(r, 0, r->nheaders, "x-envoy-ratelimited")) return true;
  if ((on & MESH__RETRY_RETRIABLE_HEADERS) && p->nretriable_headers &&
      headers_match(p->retriable_headers, p->nretriable_headers, r))
    return true;
  uint32_t grpc = on & (MESH__RETRY_GRPC_CANCELLED | MESH__RETRY_GRPC_DEADLINE_EXCEEDED | MESH__RETRY_GRPC_INTERNAL |
                        MESH__RETRY_GRPC_RESOURCE_EXHAUSTED | MESH__RETRY_GRPC_UNAVAILABLE);
  if (grpc) {
    /* gRPC status codes (grpc/doc/statuscodes.md). */
    switch (mesh__grpc_status(r)) {
      case 1: return (grpc & MESH__RETRY_GRPC_CANCELLED) != 0;
      case 4: return (grpc & MESH__RETRY_GRPC_DEADLINE_EXCEEDED) != 0;
      case 8: return (grpc & MESH__RETRY_GRPC_RESOURCE_EXHAUSTED) != 0;
      case 13: return (grpc & MESH__RETRY_GRPC_INTERNAL) != 0;
      case 14: return (grpc & MESH__RETRY_GRPC_UNAVAILABLE) != 0;
      default: break;
    }
  }
  return false;
}

uint64_t mesh__backoff_next(uint64_t base_ms, uint64_t max_ms, uint8_t *n, uint64_t random) {
  if (base_ms == 0) return 0;
  if (*n == 0) *n = 1;
  uint64_t mult = *n >= 63 ? UINT64_MAX : (1ull << *n) - 1;
  uint64_t interval = mult > UINT64_MAX / base_ms ? UINT64_MAX : mult * base_ms;
  if (interval <= max_ms && *n < 63) (*n)++;
  uint64_t v = random % interval;
  return v < max_ms ? v : max_ms;
}

int64_t mesh__retry_reset_backoff_ms(const mesh__retry_policy *p, const mesh_response *r, int64_t now_unix_s,
                                     uint64_t random) {
  for (size_t i = 0; i < p->nreset_headers; i++) {
    const mesh__reset_header *h = &p->reset_headers[i];
    const char *v = resp_field(r, 0, r->nheaders, h->name.p);
    unsigned long long x;
    /* Envoy reads integers only (no HTTP-date form of Retry-After). */
    if (!v || mesh__parse_u64(v, strlen(v), UINT32_MAX * 1000ull, &x)) continue;
    int64_t s = (int64_t)x;
    if (h->format == MESH__RESET_UNIX_TIMESTAMP) {
      s -= now_unix_s; /* the header is a wall-clock time by definition */
      if (s <= 0) continue;
    }
    uint64_t ms = (uint64_t)s * 1000u;
    if (ms > p->rl_backoff_max_ms) continue;
    /* Envoy's JitteredLowerBoundBackOffStrategy: [interval, 1.5 x interval). */
    return (int64_t)(ms / 2 ? ms + random % (ms / 2) : ms);
  }
  return -1;
}

int64_t mesh__grpc_timeout_ms(const char *v, size_t n) {
  /* TimeoutValue = 1*8DIGIT; TimeoutUnit = H / M / S / m / u / n */
  if (n < 2 || n > 9) return -1;
  uint64_t x = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    if (v[i] < '0' || v[i] > '9') return -1;
    x = x * 10 + (uint64_t)(v[i] - '0');
  }
  switch (v[n - 1]) {
    case 'H': return (int64_t)(x * 3600000u);
    case 'M': return (int64_t)(x * 60000u);
    case 'S': return (int64_t)(x * 1000u);
    case 'm': return (int64_t)x;
    case 'u': return (int64_t)((x + 999u) / 1000u);
    case 'n': return (int64_t)((x + 999999u) / 1000000u);
    default: return -1;
  }
}
