/* Fault injection: which config applies to a call and what it draws
 * (route/fault.h). */
#include "route/fault.h"

#include <string.h>

#include "util/str.h"

const mesh__fault *mesh__fault_for(const char *filter, const mesh__fault *dflt, const mesh__route *r,
                                   const mesh__cluster_weight *cw) {
  const mesh__fault_overrides *lv[4] = {cw ? &cw->faults : NULL, &r->faults, r->vhost ? &r->vhost->faults : NULL,
                                         r->vhost && r->vhost->table ? &r->vhost->table->faults : NULL};
  size_t fl = strlen(filter);
  for (int k = 0; k < 4; k++)
    for (size_t i = 0; lv[k] && i < lv[k]->n; i++)
      if (lv[k]->v[i].filter.len == fl && !memcmp(lv[k]->v[i].filter.p, filter, fl)) return lv[k]->v[i].fault;
  return dflt;
}

static const char *input_header(const mesh__route_input *in, const char *name) {
  for (size_t i = 0; i < in->nheaders; i++)
    if (mesh__strcaseeq(in->hnames[i], name)) return in->hvalues[i];
  return NULL;
}

/* A request header holding a non-negative decimal number; -1 when it is
 * absent or not one (such headers are ignored, as gRPC and Envoy do). */
static int64_t header_number(const mesh__route_input *in, const char *name) {
  const char *v = input_header(in, name);
  if (!v || !*v) return -1;
  int64_t n = 0;
  for (; *v; v++) {
    if (*v < '0' || *v > '9' || n > (INT64_MAX - 9) / 10) return -1;
    n = n * 10 + (*v - '0');
  }
  return n;
}

/* Whether a fault of numerator num (scale to ppm) happens. For a
 * header-controlled fault (pct_header not NULL) that header may lower the
 * numerator, never raise it. */
static bool roll(uint32_t num, uint32_t scale, const mesh__route_input *in, const char *pct_header,
                 uint64_t (*rnd)(void *), void *arg) {
  int64_t h = pct_header ? header_number(in, pct_header) : -1;
  uint64_t n = h >= 0 && (uint64_t)h < num ? (uint64_t)h : num;
  uint64_t ppm = n * scale;
  if (ppm == 0) return false;
  if (ppm >= 1000000u) return true;
  return rnd(arg) % 1000000u < ppm;
}

bool mesh__fault_draw_for(const mesh__fault *f, const char *cluster, const mesh__route_input *in,
                          uint64_t (*rnd)(void *), void *arg, mesh__fault_draw *out) {
  memset(out, 0, sizeof *out);
  if (f->upstream_cluster.len && strcmp(f->upstream_cluster.p, cluster)) return false;
  if (!mesh__headers_match_all(f->headers, f->nheaders, in)) return false;
  if (f->delay_kind != MESH__FAULT_DELAY_NONE &&
      roll(f->delay_num, f->delay_scale, in,
           f->delay_kind == MESH__FAULT_DELAY_HEADER ? "x-envoy-fault-delay-request-percentage" : NULL, rnd, arg)) {
    int64_t ms = f->delay_kind == MESH__FAULT_DELAY_FIXED ? (int64_t)f->delay_ms
                                                          : header_number(in, "x-envoy-fault-delay-request");
    if (ms > 0) out->delay_ms = (uint64_t)ms;
  }
  if (f->abort_kind != MESH__FAULT_ABORT_NONE &&
      roll(f->abort_num, f->abort_scale, in,
           f->abort_kind == MESH__FAULT_ABORT_HEADER ? "x-envoy-fault-abort-request-percentage" : NULL, rnd, arg)) {
    if (f->abort_kind == MESH__FAULT_ABORT_HEADER) {
      int64_t hc = header_number(in, "x-envoy-fault-abort-request");
      int64_t gc = header_number(in, "x-envoy-fault-abort-grpc-request");
      if (hc >= 200 && hc < 600) out->abort = true, out->code = (uint32_t)hc;
      else if (gc >= 0 && gc <= UINT32_MAX) out->abort = true, out->grpc = true, out->code = (uint32_t)gc;
    } else {
      out->abort = true;
      out->grpc = f->abort_kind == MESH__FAULT_ABORT_GRPC;
      out->code = f->abort_code;
    }
  }
  return out->delay_ms || out->abort;
}

uint32_t mesh__fault_grpc_code_of_http(uint32_t s) {
  switch (s) {
    case 400: return 13; /* INTERNAL */
    case 401: return 16; /* UNAUTHENTICATED */
    case 403: return 7;  /* PERMISSION_DENIED */
    case 404: return 12; /* UNIMPLEMENTED */
    case 429: case 502: case 503: case 504: return 14; /* UNAVAILABLE */
    default: return 2;   /* UNKNOWN */
  }
}
