/* Outlier detection: Envoy's detectors, ejection and un-ejection.
 *
 * Envoy docs: intro/arch_overview/upstream/outlier.rst ("Ejection
 * algorithm", "Detection types"); api/envoy/config/cluster/v3/
 * outlier_detection.proto for the fields; behaviour checked against
 * source/common/upstream/outlier_detection_impl.cc (DetectorHostMonitorImpl
 * and DetectorImpl). What this file does the way Envoy does, and why:
 *
 *  - A response status feeds the external-origin counters: a 5xx bumps the
 *    consecutive 5xx counter (and, for 502/503/504, the consecutive gateway
 *    failure counter; another 5xx zeroes that one); anything else zeroes
 *    both. A detector fires when its counter *reaches* its threshold (so a
 *    threshold of 0 never fires) and the counter restarts from 0, whether
 *    or not the ejection happened.
 *  - Without split_external_local_origin_errors a local failure is charged
 *    as the status Envoy's router charges: connect failure and reset as
 *    503, timeout as 504 (both gateway errors); a connection made is not
 *    charged at all. With it, local results have their own consecutive
 *    counter and success-rate bucket, and a status never touches them.
 *  - Success rate and failure percentage look at the last complete
 *    interval only: two buckets per endpoint, the tick swaps them.
 *  - An ejection is allowed while (ejected + 1) / all endpoints stays
 *    within max_ejection_percent, or, with always_eject_one_host, when none
 *    is ejected. Only then is the enforcing_* percentage drawn.
 *  - Ejection time: min(base x multiplier, max(base, max_ejection_time)) +
 *    jitter, jitter drawn in [0, max_ejection_time_jitter] at ejection. The
 *    multiplier grows by one at each ejection while base x multiplier <
 *    max_ejection_time + base, and shrinks by one at each tick from one
 *    interval after un-ejection while the endpoint stays in.
 *  - Un-ejection happens at ticks only (so it is late by up to one
 *    interval, as in Envoy) and clears the three consecutive counters.
 *
 * Where libmesh differs: one detector per worker (Envoy shares counters
 * between workers and ejects on its main thread), so thresholds and request
 * volumes count one worker's calls; hosts are visited in index order (Envoy
 * walks a hash map), which decides who goes first when
 * max_ejection_percent cuts a round short; an endpoint ejected by success
 * rate is not ejected again by failure percentage in the same tick. There
 * is no active health checking, so successful_active_health_check_
 * uneject_host has nothing to act on.
 */
#include "upstream/outlier.h"

#include <stdlib.h>
#include <string.h>

#include "mesh/mesh.h"

#define NO_TIME UINT64_MAX

typedef struct bucket {
  uint64_t ok, total;
} bucket;

/* The two success-rate monitors. */
enum { EXT = 0, LOCAL = 1 };

typedef struct ep_state {
  uint32_t c5xx, cgw, clocal;      /* consecutive counters */
  bool ejected;
  uint32_t num_ejections;
  uint32_t multiplier;             /* Envoy's ejectTimeBackoff */
  uint64_t ejected_at, jitter;
  uint64_t unejected_at;           /* NO_TIME: never un-ejected */
  bucket cur[2], prev[2];          /* [EXT], [LOCAL] */
} ep_state;

struct mesh__outlier {
  mesh__outlier_detection cfg;
  uint64_t max_eject_ms;           /* max(base, max_ejection_time) */
  ep_state *ep;
  uint32_t n;
  mesh__lb *lb;                    /* attached picker, or NULL */
  uint64_t rng;
  mesh__outlier_stats stats;
  /* scratch for the interval detectors: [n] each */
  uint32_t *sr_idx, *fp_idx;
  double *rate;
};

/* ------------------------------------------------------------ helpers */

/* splitmix64: small, fast and good enough for draws and jitter. */
static uint64_t next_random(mesh__outlier *o) {
  uint64_t z = (o->rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }
static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

static int check_config(const mesh__outlier_detection *c) {
  if (!c || c->interval_ms == 0 || c->base_ejection_time_ms == 0 ||
      c->max_ejection_time_ms < c->base_ejection_time_ms)
    return MESH_EINVAL;
  const uint32_t pcts[] = {c->max_ejection_percent,
                           c->enforcing_consecutive_5xx,
                           c->enforcing_success_rate,
                           c->enforcing_consecutive_gateway_failure,
                           c->enforcing_consecutive_local_origin_failure,
                           c->enforcing_local_origin_success_rate,
                           c->failure_percentage_threshold,
                           c->enforcing_failure_percentage,
                           c->enforcing_failure_percentage_local_origin};
  for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++)
    if (pcts[i] > 100) return MESH_EINVAL;
  return 0;
}

static void apply_config(mesh__outlier *o, const mesh__outlier_detection *cfg) {
  o->cfg = *cfg;
  o->max_eject_ms = max_u64(cfg->base_ejection_time_ms, cfg->max_ejection_time_ms);
}

static void ep_init(ep_state *e) {
  memset(e, 0, sizeof *e);
  e->unejected_at = NO_TIME;
}

static uint32_t enforcing_of(const mesh__outlier_detection *c, mesh__od_type t) {
  switch (t) {
  case MESH__OD_CONSECUTIVE_5XX: return c->enforcing_consecutive_5xx;
  case MESH__OD_CONSECUTIVE_GATEWAY_FAILURE: return c->enforcing_consecutive_gateway_failure;
  case MESH__OD_CONSECUTIVE_LOCAL_ORIGIN_FAILURE: return c->enforcing_consecutive_local_origin_failure;
  case MESH__OD_SUCCESS_RATE: return c->enforcing_success_rate;
  case MESH__OD_SUCCESS_RATE_LOCAL_ORIGIN: return c->enforcing_local_origin_success_rate;
  case MESH__OD_FAILURE_PERCENTAGE: return c->enforcing_failure_percentage;
  case MESH__OD_FAILURE_PERCENTAGE_LOCAL_ORIGIN: return c->enforcing_failure_percentage_local_origin;
  default: return 0;
  }
}

/* A percentage "feature" is on for this draw (Envoy's featureEnabled). */
static bool draw(mesh__outlier *o, uint32_t percent) {
  if (percent >= 100) return true;
  if (percent == 0) return false;
  return next_random(o) % 100 < percent;
}

static void notify(mesh__outlier *o, uint32_t i) {
  if (o->lb) mesh__lb_set_ejected(o->lb, i, o->ep[i].ejected);
}

/* ------------------------------------------------------------ eject / uneject */

/* Envoy's DetectorImpl::ejectHost: the max_ejection_percent gate, then the
 * enforcement draw, then the ejection. Caller: endpoint i is not ejected. */
static void eject(mesh__outlier *o, uint32_t i, mesh__od_type type, uint64_t now) {
  ep_state *e = &o->ep[i];
  const mesh__outlier_detection *c = &o->cfg;
  o->stats.detected[type]++;
  uint32_t max_pct = c->max_ejection_percent > 100 ? 100 : c->max_ejection_percent;
  /* 100 x (active + 1) / n <= max_pct, in integers: no rounding at the edge. */
  bool allowed = (uint64_t)100 * (o->stats.active + 1) <= (uint64_t)max_pct * o->n;
  if (c->always_eject_one_host && o->stats.active == 0) allowed = true;
  if (!allowed) {
    o->stats.overflow++;
    return;
  }
  if (!draw(o, enforcing_of(c, type))) return;
  o->stats.active++;
  o->stats.enforced[type]++;
  o->stats.enforced_total++;
  e->ejected = true;
  e->num_ejections++;
  e->ejected_at = now;
  /* Jitter spreads the returns so that hosts ejected together do not all
   * come back (and get connected to) at once. */
  uint64_t j = c->max_ejection_time_jitter_ms;
  e->jitter = j ? (j == UINT64_MAX ? next_random(o) : next_random(o) % (j + 1)) : 0;
  /* Grow while base x multiplier < max + base: the multiplier may pass the
   * cap by one step, so a host that keeps failing needs a few healthy
   * intervals before its ejections get shorter than the cap again. */
  uint64_t base = c->base_ejection_time_ms;
  if (e->multiplier < UINT32_MAX && (uint64_t)e->multiplier * base < o->max_eject_ms + base) e->multiplier++;
  notify(o, i);
}

static void uneject(mesh__outlier *o, uint32_t i, uint64_t now) {
  ep_state *e = &o->ep[i];
  e->ejected = false;
  o->stats.active--;
  /* A counter left just below its threshold would re-eject on very few
   * new errors: start over. */
  e->c5xx = e->cgw = e->clocal = 0;
  e->unejected_at = now;
  notify(o, i);
}

static uint64_t eject_length(const mesh__outlier *o, const ep_state *e) {
  uint64_t base = o->cfg.base_ejection_time_ms;
  uint64_t t = e->multiplier && base > o->max_eject_ms / e->multiplier ? o->max_eject_ms
                                                                         : min_u64(base * e->multiplier, o->max_eject_ms);
  return t + e->jitter < t ? UINT64_MAX : t + e->jitter;
}

/* ------------------------------------------------------------ reports */

/* A consecutive counter reached its threshold: eject unless already out,
 * then restart the counter (Envoy: onConsecutiveErrorWorker). */
static void consecutive_hit(mesh__outlier *o, uint32_t i, mesh__od_type type, uint32_t *counter, uint64_t now) {
  if (o->ep[i].ejected) return;
  eject(o, i, type, now);
  *counter = 0;
}

static uint32_t bump(uint32_t *c) {
  if (*c < UINT32_MAX) ++*c;
  return *c;
}

static void put_status(mesh__outlier *o, uint32_t i, int status, uint64_t now) {
  ep_state *e = &o->ep[i];
  e->cur[EXT].total++;
  if (status >= 500 && status <= 599) {
    if (status == 502 || status == 503 || status == 504) {
      if (bump(&e->cgw) == o->cfg.consecutive_gateway_failure)
        consecutive_hit(o, i, MESH__OD_CONSECUTIVE_GATEWAY_FAILURE, &e->cgw, now);
    } else {
      e->cgw = 0;
    }
    if (bump(&e->c5xx) == o->cfg.consecutive_5xx) consecutive_hit(o, i, MESH__OD_CONSECUTIVE_5XX, &e->c5xx, now);
  } else {
    e->cur[EXT].ok++;
    e->c5xx = e->cgw = 0;
  }
}

static void local_result(mesh__outlier *o, uint32_t i, bool ok, uint64_t now) {
  ep_state *e = &o->ep[i];
  e->cur[LOCAL].total++;
  if (ok) {
    e->cur[LOCAL].ok++;
    e->clocal = 0;
  } else if (bump(&e->clocal) == o->cfg.consecutive_local_origin_failure) {
    consecutive_hit(o, i, MESH__OD_CONSECUTIVE_LOCAL_ORIGIN_FAILURE, &e->clocal, now);
  }
}

void mesh__outlier_report_status(mesh__outlier *o, uint32_t endpoint, int status, uint64_t now_ms) {
  if (!o || endpoint >= o->n) return;
  put_status(o, endpoint, status, now_ms);
}

void mesh__outlier_report(mesh__outlier *o, uint32_t endpoint, int result, uint64_t now_ms) {
  if (!o || endpoint >= o->n) return;
  bool split = o->cfg.split_external_local_origin_errors;
  switch (result) {
  case MESH__OD_SUCCESS: put_status(o, endpoint, 200, now_ms); break;
  case MESH__OD_HTTP_5XX: put_status(o, endpoint, 500, now_ms); break;
  case MESH__OD_GATEWAY_FAILURE: put_status(o, endpoint, 503, now_ms); break;
  case MESH__OD_LOCAL_CONNECT_FAILED:
  case MESH__OD_LOCAL_RESET:
    if (split) local_result(o, endpoint, false, now_ms);
    else put_status(o, endpoint, 503, now_ms);
    break;
  case MESH__OD_LOCAL_TIMEOUT:
    if (split) local_result(o, endpoint, false, now_ms);
    else put_status(o, endpoint, 504, now_ms);
    break;
  case MESH__OD_LOCAL_SUCCESS:
    if (split) local_result(o, endpoint, true, now_ms);
    break;
  default: break;
  }
}

int mesh__outlier_grpc_to_http(int grpc_status) {
  /* Envoy Grpc::Utility::grpcToHttpStatus, after
   * https://cloud.google.com/apis/design/errors#handling_errors */
  static const short map[] = {
      200, /* 0 OK */
      499, /* 1 CANCELLED */
      500, /* 2 UNKNOWN */
      400, /* 3 INVALID_ARGUMENT */
      504, /* 4 DEADLINE_EXCEEDED */
      404, /* 5 NOT_FOUND */
      409, /* 6 ALREADY_EXISTS */
      403, /* 7 PERMISSION_DENIED */
      429, /* 8 RESOURCE_EXHAUSTED */
      400, /* 9 FAILED_PRECONDITION */
      409, /* 10 ABORTED */
      400, /* 11 OUT_OF_RANGE */
      501, /* 12 UNIMPLEMENTED */
      500, /* 13 INTERNAL */
      503, /* 14 UNAVAILABLE */
      500, /* 15 DATA_LOSS */
      401, /* 16 UNAUTHENTICATED */
  };
  if (grpc_status < 0 || (size_t)grpc_status >= sizeof map / sizeof map[0]) return 500;
  return map[grpc_status];
}

int mesh__outlier_result_for_error(int err) {
  switch (err) {
  /* Envoy's router: a connection failure or any upstream reset is charged
   * as LocalOriginConnectFailed (Filter::onUpstreamReset), except an
   * overflow (circuit breaker: the cluster's state, not the host's). */
  case MESH_ECONNECT:
  case MESH_ECONNECT_TIMEOUT: return MESH__OD_LOCAL_CONNECT_FAILED;
  case MESH_ERESET:
  case MESH_EPROTOCOL: return MESH__OD_LOCAL_RESET;
  /* Filter::onResponseTimeout / onPerTryTimeout: LocalOriginTimeout, only
   * for an attempt still awaiting its response headers (the caller's
   * check). */
  case MESH_ETIMEOUT: return MESH__OD_LOCAL_TIMEOUT;
  default: return -1;
  }
}

/* ------------------------------------------------------------ interval */

/* Envoy's processSuccessRateEjections for one monitor (EXT or LOCAL). */
static void interval_detectors(mesh__outlier *o, int m, uint64_t now) {
  const mesh__outlier_detection *c = &o->cfg;
  if (o->n < c->success_rate_minimum_hosts && o->n < c->failure_percentage_minimum_hosts) return;
  uint32_t n_sr = 0, n_fp = 0;
  double sum = 0;
  for (uint32_t i = 0; i < o->n; i++) {
    const ep_state *e = &o->ep[i];
    if (e->ejected || e->prev[m].total == 0) continue;
    o->rate[i] = (double)e->prev[m].ok * 100.0 / (double)e->prev[m].total;
    if (e->prev[m].total >= c->success_rate_request_volume) {
      o->sr_idx[n_sr++] = i;
      sum += o->rate[i];
    }
    if (e->prev[m].total >= c->failure_percentage_request_volume) o->fp_idx[n_fp++] = i;
  }
  if (n_sr > 0 && n_sr >= c->success_rate_minimum_hosts) {
    /* Outlier when rate < mean - factor x stdev (population stdev). Tested
     * as (mean - rate) > 0 and (mean - rate)^2 > factor^2 x variance, which
     * is the same inequality without a square root. */
    double mean = sum / n_sr, var = 0;
    for (uint32_t k = 0; k < n_sr; k++) {
      double d = o->rate[o->sr_idx[k]] - mean;
      var += d * d;
    }
    var /= n_sr;
    double f = c->success_rate_stdev_factor / 1000.0;
    mesh__od_type t = m == EXT ? MESH__OD_SUCCESS_RATE : MESH__OD_SUCCESS_RATE_LOCAL_ORIGIN;
    for (uint32_t k = 0; k < n_sr; k++) {
      uint32_t i = o->sr_idx[k];
      double d = mean - o->rate[i];
      if (d > 0 && d * d > f * f * var && !o->ep[i].ejected) eject(o, i, t, now);
    }
  }
  if (n_fp > 0 && n_fp >= c->failure_percentage_minimum_hosts) {
    mesh__od_type t = m == EXT ? MESH__OD_FAILURE_PERCENTAGE : MESH__OD_FAILURE_PERCENTAGE_LOCAL_ORIGIN;
    for (uint32_t k = 0; k < n_fp; k++) {
      uint32_t i = o->fp_idx[k];
      if (!o->ep[i].ejected && 100.0 - o->rate[i] >= (double)c->failure_percentage_threshold) eject(o, i, t, now);
    }
  }
}

uint64_t mesh__outlier_tick(mesh__outlier *o, uint64_t now_ms) {
  if (!o) return now_ms;
  uint64_t interval = o->cfg.interval_ms;
  for (uint32_t i = 0; i < o->n; i++) {
    ep_state *e = &o->ep[i];
    if (e->ejected && now_ms >= e->ejected_at && now_ms - e->ejected_at >= eject_length(o, e)) uneject(o, i, now_ms);
    for (int m = 0; m < 2; m++) {
      e->prev[m] = e->cur[m];
      e->cur[m] = (bucket){0, 0};
    }
  }
  interval_detectors(o, EXT, now_ms);
  interval_detectors(o, LOCAL, now_ms);
  /* "If the host is healthy during that check, the ejection time
   * multiplier is decremented." (outlier.rst) */
  for (uint32_t i = 0; i < o->n; i++) {
    ep_state *e = &o->ep[i];
    if (!e->ejected && e->unejected_at != NO_TIME && now_ms >= e->unejected_at &&
        now_ms - e->unejected_at >= interval && e->multiplier > 0)
      e->multiplier--;
  }
  return now_ms > UINT64_MAX - interval ? UINT64_MAX : now_ms + interval;
}

/* ------------------------------------------------------------ lifetime */

static int alloc_arrays(uint32_t n, ep_state **ep, uint32_t **sr, uint32_t **fp, double **rate) {
  size_t k = n ? n : 1;
  *ep = calloc(k, sizeof **ep);
  *sr = calloc(k, sizeof **sr);
  *fp = calloc(k, sizeof **fp);
  *rate = calloc(k, sizeof **rate);
  if (*ep && *sr && *fp && *rate) return 0;
  free(*ep);
  free(*sr);
  free(*fp);
  free(*rate);
  return MESH_ENOMEM;
}

int mesh__outlier_new(const mesh__outlier_detection *cfg, uint32_t n_endpoints, uint64_t seed, mesh__outlier **out) {
  if (!out || check_config(cfg) != 0) return MESH_EINVAL;
  mesh__outlier *o = calloc(1, sizeof *o);
  if (!o) return MESH_ENOMEM;
  if (alloc_arrays(n_endpoints, &o->ep, &o->sr_idx, &o->fp_idx, &o->rate) != 0) {
    free(o);
    return MESH_ENOMEM;
  }
  apply_config(o, cfg);
  o->n = n_endpoints;
  for (uint32_t i = 0; i < n_endpoints; i++) ep_init(&o->ep[i]);
  o->rng = seed;
  *out = o;
  return 0;
}

void mesh__outlier_free(mesh__outlier *o) {
  if (!o) return;
  free(o->ep);
  free(o->sr_idx);
  free(o->fp_idx);
  free(o->rate);
  free(o);
}

int mesh__outlier_set_config(mesh__outlier *o, const mesh__outlier_detection *cfg) {
  if (!o || check_config(cfg) != 0) return MESH_EINVAL;
  apply_config(o, cfg);
  return 0;
}

int mesh__outlier_attach(mesh__outlier *o, mesh__lb *lb) {
  if (!o) return MESH_EINVAL;
  if (lb && lb->n_endpoints != o->n) return MESH_EINVAL;
  o->lb = lb;
  if (lb)
    for (uint32_t i = 0; i < o->n; i++) mesh__lb_set_ejected(lb, i, o->ep[i].ejected);
  return 0;
}

/* ------------------------------------------------------------ remap */

typedef struct key_ref {
  uint64_t h;
  uint32_t idx;
} key_ref;

static uint64_t ep_hash(const mesh__endpoint *ep) {
  /* FNV-1a over the address text and the port. */
  uint64_t h = 0xcbf29ce484222325ull;
  for (const unsigned char *p = (const unsigned char *)(ep->address ? ep->address : ""); *p; p++)
    h = (h ^ *p) * 0x100000001b3ull;
  h = (h ^ (ep->port & 0xff)) * 0x100000001b3ull;
  h = (h ^ (ep->port >> 8)) * 0x100000001b3ull;
  return h;
}

static bool ep_same(const mesh__endpoint *a, const mesh__endpoint *b) {
  return a->port == b->port && strcmp(a->address ? a->address : "", b->address ? b->address : "") == 0;
}

static int key_cmp(const void *a, const void *b) {
  const key_ref *x = a, *y = b;
  if (x->h != y->h) return x->h < y->h ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx; /* equal keys keep index order */
}

int mesh__outlier_remap(mesh__outlier *o, const mesh__load_assignment *old_la, const mesh__load_assignment *new_la) {
  if (!o || !old_la || !new_la || old_la->n_endpoints != o->n) return MESH_EINVAL;
  uint32_t n = new_la->n_endpoints;
  ep_state *ep;
  uint32_t *sr, *fp;
  double *rate;
  if (alloc_arrays(n, &ep, &sr, &fp, &rate) != 0) return MESH_ENOMEM;
  key_ref *keys = calloc(o->n ? o->n : 1, sizeof *keys);
  bool *taken = calloc(o->n ? o->n : 1, sizeof *taken);
  if (!keys || !taken) {
    free(keys);
    free(taken);
    free(ep);
    free(sr);
    free(fp);
    free(rate);
    return MESH_ENOMEM;
  }
  for (uint32_t i = 0; i < o->n; i++) keys[i] = (key_ref){ep_hash(&old_la->endpoints[i]), i};
  qsort(keys, o->n, sizeof *keys, key_cmp);
  uint32_t active = 0;
  for (uint32_t j = 0; j < n; j++) {
    const mesh__endpoint *ne = &new_la->endpoints[j];
    uint64_t h = ep_hash(ne);
    /* first key >= h */
    size_t lo = 0, hi = o->n;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (keys[mid].h < h) lo = mid + 1;
      else hi = mid;
    }
    ep_init(&ep[j]);
    /* Duplicates (the same address twice) pair up in index order. */
    for (size_t k = lo; k < o->n && keys[k].h == h; k++) {
      uint32_t oi = keys[k].idx;
      if (taken[oi] || !ep_same(&old_la->endpoints[oi], ne)) continue;
      taken[oi] = true;
      ep[j] = o->ep[oi];
      break;
    }
    if (ep[j].ejected) active++;
  }
  free(keys);
  free(taken);
  free(o->ep);
  free(o->sr_idx);
  free(o->fp_idx);
  free(o->rate);
  o->ep = ep;
  o->sr_idx = sr;
  o->fp_idx = fp;
  o->rate = rate;
  o->n = n;
  o->stats.active = active;
  o->lb = NULL;
  return 0;
}

/* ------------------------------------------------------------ queries */

uint32_t mesh__outlier_n_endpoints(const mesh__outlier *o) { return o ? o->n : 0; }

bool mesh__outlier_is_ejected(const mesh__outlier *o, uint32_t endpoint) {
  return o && endpoint < o->n && o->ep[endpoint].ejected;
}

int mesh__outlier_endpoint_info(const mesh__outlier *o, uint32_t endpoint, mesh__outlier_endpoint *out) {
  if (!o || !out || endpoint >= o->n) return -1;
  const ep_state *e = &o->ep[endpoint];
  *out = (mesh__outlier_endpoint){
      .ejected = e->ejected,
      .num_ejections = e->num_ejections,
      .multiplier = e->multiplier,
      .ejected_at_ms = e->ejected_at,
      .eject_for_ms = e->num_ejections ? eject_length(o, e) : 0,
      .consecutive_5xx = e->c5xx,
      .consecutive_gateway_failure = e->cgw,
      .consecutive_local_origin_failure = e->clocal,
  };
  return 0;
}

const mesh__outlier_stats *mesh__outlier_get_stats(const mesh__outlier *o) { return o ? &o->stats : NULL; }

const char *mesh__outlier_type_name(mesh__od_type t) {
  switch (t) {
  case MESH__OD_CONSECUTIVE_5XX: return "consecutive_5xx";
  case MESH__OD_CONSECUTIVE_GATEWAY_FAILURE: return "consecutive_gateway_failure";
  case MESH__OD_CONSECUTIVE_LOCAL_ORIGIN_FAILURE: return "consecutive_local_origin_failure";
  case MESH__OD_SUCCESS_RATE: return "success_rate";
  case MESH__OD_SUCCESS_RATE_LOCAL_ORIGIN: return "local_origin_success_rate";
  case MESH__OD_FAILURE_PERCENTAGE: return "failure_percentage";
  case MESH__OD_FAILURE_PERCENTAGE_LOCAL_ORIGIN: return "local_origin_failure_percentage";
  default: return "unknown";
  }
}
