#include <stdlib.h>

#include "upstream/call.h"
#include "util/str.h"

int mesh_response_error(const mesh_response *r) { return r ? r->error : MESH_EINVAL; }

const char *mesh_response_detail(const mesh_response *r) { return r ? r->detail : ""; }

int mesh_response_status(const mesh_response *r) { return r && r->error == MESH_OK ? r->status : 0; }

int mesh_response_protocol(const mesh_response *r) { return r ? r->protocol : 0; }

size_t mesh_response_header_count(const mesh_response *r) { return r ? r->nheaders : 0; }

size_t mesh_response_trailer_count(const mesh_response *r) { return r ? r->fields.n - r->nheaders : 0; }

static int field_at(const mesh_response *r, size_t i, const char **name, const char **value) {
  if (!name || !value) return MESH_EINVAL;
  *name = r->strings.data + r->fields.v[i].name;
  *value = r->strings.data + r->fields.v[i].value;
  return MESH_OK;
}

int mesh_response_header_at(const mesh_response *r, size_t i, const char **name, const char **value) {
  if (!r) return MESH_EINVAL;
  if (i >= r->nheaders) return MESH_ENOTFOUND;
  return field_at(r, i, name, value);
}

int mesh_response_trailer_at(const mesh_response *r, size_t i, const char **name, const char **value) {
  if (!r) return MESH_EINVAL;
  if (i >= r->fields.n - r->nheaders) return MESH_ENOTFOUND;
  return field_at(r, r->nheaders + i, name, value);
}

const char *mesh_response_header(const mesh_response *r, const char *name) {
  if (!r || !name) return NULL;
  for (uint32_t i = 0; i < r->nheaders; i++)
    if (mesh__strcaseeq(r->strings.data + r->fields.v[i].name, name))
      return r->strings.data + r->fields.v[i].value;
  return NULL;
}

const void *mesh_response_body(const mesh_response *r, size_t *len) {
  if (len) *len = r ? r->body.len : 0;
  if (!r || r->body.len == 0) return "";
  return mesh__buf_head(&r->body);
}

void mesh_response_free(mesh_response *r) {
  if (!r) return;
  mesh__response_free(r);
  free(r);
}

const char *mesh_response_route(const mesh_response *r) { return r ? r->route_name : NULL; }

const char *mesh_response_cluster(const mesh_response *r) { return r ? r->cluster_name : NULL; }

const char *mesh_response_endpoint(const mesh_response *r) { return r ? r->endpoint : NULL; }

const char *mesh_response_flags(const mesh_response *r) { return r ? r->flags_str : ""; }

unsigned mesh_response_attempts(const mesh_response *r) { return r ? r->attempts : 0; }
