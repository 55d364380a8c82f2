#include <stdlib.h>
#include <string.h>

#include "mesh/mesh_event.h"
#include "upstream/core.h"

int mesh_options_new(mesh_options **out) {
  if (!out) return MESH_EINVAL;
  mesh_options *o = calloc(1, sizeof *o);
  if (!o) return MESH_ENOMEM;
  o->o.connect_timeout_ms = 5000;
  o->o.default_timeout_ms = 15000;
  o->o.protocol = MESH_PROTOCOL_HTTP1;
  o->o.max_header_bytes = 64 * 1024;
  o->o.max_body_bytes = 16 * 1024 * 1024;
  o->o.max_conns = 1024;
  o->o.max_pending = 4096;
  o->o.write_hold_ns = 25000;
  o->o.log.cb = mesh__log_stderr;
  o->o.log.level = MESH_LOG_WARN;
  *out = o;
  return MESH_OK;
}

void mesh_options_free(mesh_options *o) {
  if (!o) return;
  free(o->o.config_file);
  free(o->o.xds_bootstrap);
  free(o->o.xds_bootstrap_config);
  free(o);
}

int mesh_options_set_config_file(mesh_options *o, const char *path) {
  if (!o || !path || !*path) return MESH_EINVAL;
  char *p = strdup(path);
  if (!p) return MESH_ENOMEM;
  free(o->o.config_file);
  o->o.config_file = p;
  return MESH_OK;
}

int mesh_options_set_xds_bootstrap(mesh_options *o, const char *path) {
  if (!o || !path || !*path) return MESH_EINVAL;
  char *p = strdup(path);
  if (!p) return MESH_ENOMEM;
  free(o->o.xds_bootstrap);
  o->o.xds_bootstrap = p;
  return MESH_OK;
}

int mesh_options_set_xds_bootstrap_config(mesh_options *o, const char *json) {
  if (!o || !json || !*json) return MESH_EINVAL;
  char *p = strdup(json);
  if (!p) return MESH_ENOMEM;
  free(o->o.xds_bootstrap_config);
  o->o.xds_bootstrap_config = p;
  return MESH_OK;
}

int mesh_options_set_connect_timeout_ms(mesh_options *o, uint32_t ms) {
  if (!o || ms == 0) return MESH_EINVAL;
  o->o.connect_timeout_ms = ms;
  return MESH_OK;
}

int mesh_options_set_default_timeout_ms(mesh_options *o, uint32_t ms) {
  if (!o) return MESH_EINVAL;
  o->o.default_timeout_ms = ms;
  return MESH_OK;
}

int mesh_options_set_protocol(mesh_options *o, int protocol) {
  if (!o || (protocol != MESH_PROTOCOL_HTTP1 && protocol != MESH_PROTOCOL_HTTP2)) return MESH_EINVAL;
  o->o.protocol = protocol;
  return MESH_OK;
}

int mesh_options_set_max_response_header_bytes(mesh_options *o, uint32_t bytes) {
  if (!o || bytes < 1024) return MESH_EINVAL;
  o->o.max_header_bytes = bytes;
  return MESH_OK;
}

int mesh_options_set_max_response_body_bytes(mesh_options *o, uint64_t bytes) {
  if (!o || bytes == 0) return MESH_EINVAL;
  o->o.max_body_bytes = bytes;
  return MESH_OK;
}

int mesh_options_set_max_connections_per_endpoint(mesh_options *o, uint32_t n) {
  if (!o || n == 0) return MESH_EINVAL;
  o->o.max_conns = n;
  return MESH_OK;
}

int mesh_options_set_max_pending_calls(mesh_options *o, uint32_t n) {
  if (!o || n == 0) return MESH_EINVAL;
  o->o.max_pending = n;
  return MESH_OK;
}

int mesh_options_set_write_hold_us(mesh_options *o, uint32_t us) {
  if (!o || us > 1000000u) return MESH_EINVAL;
  o->o.write_hold_ns = (uint64_t)us * 1000u;
  return MESH_OK;
}

int mesh_options_set_log_callback(mesh_options *o, mesh_log_cb cb, void *user_data) {
  if (!o) return MESH_EINVAL;
  o->o.log.cb = cb;
  o->o.log.user_data = user_data;
  return MESH_OK;
}

int mesh_options_set_log_level(mesh_options *o, int level) {
  if (!o || level < MESH_LOG_DEBUG || level > MESH_LOG_OFF) return MESH_EINVAL;
  o->o.log.level = level;
  return MESH_OK;
}

int mesh_options_set_event_base(mesh_options *o, struct event_base *base) {
  if (!o) return MESH_EINVAL;
  o->o.base = base;
  return MESH_OK;
}
