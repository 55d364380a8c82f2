/* gRPC-format xDS bootstrap (see bootstrap.h and libmesh-bootstrap(5)).
 * Field names and meanings: grpc/grpc doc/grpc_xds_bootstrap_format.md,
 * gRFC A27 (xds_servers, node), A29 (certificate_providers), A47
 * (authorities, templates), A53/A88 (server_features). */
#include "xds/bootstrap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xds/file_watch.h"
#include "xds/pbjson.h"
#include "xds/registry.h"

#define MAX_BOOTSTRAP_BYTES (1u << 20)

typedef struct ctx {
  const char *origin;
  char *err;
  size_t errlen;
  mesh__bootstrap *b;
} ctx;

static int fail(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(ctx *c, const char *fmt, ...) {
  int n = snprintf(c->err, c->errlen, "%s: ", c->origin);
  if (n < 0 || (size_t)n >= c->errlen) return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

static void note(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(ctx *c, const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  char **v = realloc(c->b->notes, (c->b->nnotes + 1) * sizeof *v);
  if (!v) return;
  c->b->notes = v;
  if ((v[c->b->nnotes] = strdup(buf))) c->b->nnotes++;
}

/* A string field: NULL when absent; -1 when present but not a string. */
static int get_str(ctx *c, const mesh__node *map, const char *key, const char *path, const char **out) {
  const mesh__node *v = mesh__node_get(map, key);
  *out = NULL;
  if (!v || mesh__node_kind_of(v) == MESH__NODE_NULL) return 0;
  if (mesh__node_kind_of(v) != MESH__NODE_SCALAR) return fail(c, "%s%s: must be a string", path, key);
  *out = mesh__node_str(v);
  return 0;
}

/* server_uri: "host:port", "[v6]:port", or a gRPC target (grpc/grpc
 * doc/naming.md) "dns:///host:port" / "dns:host:port" /
 * "passthrough:///host:port" / "unix:path" / "unix:///abs/path" (what
 * Istio's agent writes). Other schemes (xds:, unix-abstract:, ...) are
 * rejected. */
static int parse_uri(ctx *c, const char *uri, const char *path, mesh__xds_server *s) {
  const char *p = uri;
  if (!strncmp(p, "unix:", 5)) {
    const char *f = !strncmp(p, "unix://", 7) ? p + 7 : p + 5;
    if (!*f || strlen(f) >= 108) return fail(c, "%sserver_uri: \"%s\": a socket path of 1-107 bytes is required", path, uri);
    s->unix_path = strdup(f);
    s->host = strdup("localhost"); /* the :authority gRPC sends for unix: targets */
    s->uri = strdup(uri);
    if (!s->unix_path || !s->host || !s->uri) return fail(c, "out of memory");
    return 0;
  }
  if (!strncmp(p, "dns:///", 7)) p += 7;
  else if (!strncmp(p, "dns://", 6)) {
    const char *slash = strchr(p + 6, '/'); /* dns://resolver/host:port: the resolver is not used */
    if (!slash) return fail(c, "%sserver_uri: \"%s\": no host after the DNS authority", path, uri);
    p = slash + 1;
  } else if (!strncmp(p, "dns:", 4)) p += 4;
  else if (!strncmp(p, "passthrough:///", 15)) p += 15;
  else if (strstr(p, "://") || !strncmp(p, "unix-abstract:", 14) || !strncmp(p, "vsock:", 6))
    return fail(c, "%sserver_uri: \"%s\": only host:port, dns: and unix: targets are supported", path, uri);
  const char *host = p, *hend, *colon;
  if (*p == '[') {
    host = p + 1;
    hend = strchr(p, ']');
    if (!hend || hend[1] != ':') return fail(c, "%sserver_uri: \"%s\": expected [address]:port", path, uri);
    colon = hend + 1;
  } else {
    colon = strrchr(p, ':');
    hend = colon;
  }
  if (!colon || hend == host) return fail(c, "%sserver_uri: \"%s\": expected host:port", path, uri);
  char *end;
  unsigned long port = strtoul(colon + 1, &end, 10);
  if (*end || colon[1] == 0 || port == 0 || port > 65535)
    return fail(c, "%sserver_uri: \"%s\": the port must be 1-65535", path, uri);
  s->host = strndup(host, (size_t)(hend - host));
  s->port = (uint16_t)port;
  s->uri = strdup(uri);
  if (!s->host || !s->uri) return fail(c, "out of memory");
  return 0;
}

static int parse_servers(ctx *c, const mesh__node *seq, const char *prefix, mesh__xds_server **out, size_t *n) {
  if (mesh__node_kind_of(seq) != MESH__NODE_SEQ || mesh__node_len(seq) == 0)
    return fail(c, "%sxds_servers: must be a non-empty list", prefix);
  size_t len = mesh__node_len(seq);
  *out = calloc(len, sizeof **out);
  if (!*out) return fail(c, "out of memory");
  for (size_t i = 0; i < len; i++) {
    mesh__xds_server *s = &(*out)[i];
    (*n)++;
    const mesh__node *sv = mesh__node_at(seq, i);
    char path[256];
    snprintf(path, sizeof path, "%.200sxds_servers[%zu].", prefix, i);
    if (mesh__node_kind_of(sv) != MESH__NODE_MAP) return fail(c, "%.*s: must be an object", (int)strlen(path) - 1, path);
    const char *uri;
    if (get_str(c, sv, "server_uri", path, &uri)) return -1;
    if (!uri || !*uri) return fail(c, "%sserver_uri: required", path);
    if (parse_uri(c, uri, path, s)) return -1;
    /* channel_creds: the first type this build supports wins (as in gRPC). */
    const mesh__node *creds = mesh__node_get(sv, "channel_creds");
    if (mesh__node_kind_of(creds) != MESH__NODE_SEQ || mesh__node_len(creds) == 0)
      return fail(c, "%schannel_creds: required, a non-empty list", path);
    char seen[128] = "";
    for (size_t k = 0; k < mesh__node_len(creds) && !s->creds; k++) {
      const mesh__node *cr = mesh__node_at(creds, k);
      char cp[320];
      snprintf(cp, sizeof cp, "%schannel_creds[%zu].", path, k);
      const char *type;
      if (mesh__node_kind_of(cr) != MESH__NODE_MAP) return fail(c, "%.*s: must be an object", (int)strlen(cp) - 1, cp);
      if (get_str(c, cr, "type", cp, &type)) return -1;
      if (!type || !*type) return fail(c, "%stype: required", cp);
      if (!strcmp(type, "insecure")) {
        if (!(s->creds = strdup(type))) return fail(c, "out of memory");
      } else {
        size_t l = strlen(seen);
        snprintf(seen + l, sizeof seen - l, "%s%s", l ? ", " : "", type);
      }
    }
    if (!s->creds)
      return fail(c, "%schannel_creds: no supported type (this build supports \"insecure\"; got %s)", path, seen);
    if (seen[0]) note(c, "%schannel_creds: %s not supported, insecure used", path, seen);
    const mesh__node *feats = mesh__node_get(sv, "server_features");
    if (feats && mesh__node_kind_of(feats) != MESH__NODE_SEQ) return fail(c, "%sserver_features: must be a list", path);
    for (size_t k = 0; k < mesh__node_len(feats); k++) {
      const char *f = mesh__node_str(mesh__node_at(feats, k));
      if (!f) return fail(c, "%sserver_features[%zu]: must be a string", path, k);
      if (!strcmp(f, "ignore_resource_deletion")) s->ignore_resource_deletion = 1;
      else if (!strcmp(f, "fail_on_data_errors")) s->fail_on_data_errors = 1;
      else if (!strcmp(f, "resource_timer_is_transient_error")) s->resource_timer_is_transient_error = 1;
      else if (!strcmp(f, "delta_xds")) s->delta = 1; /* libmesh's own; gRPC ignores unknown features */
      else if (!strcmp(f, "xds_v3")) { /* v3 is all libmesh speaks */
      } else note(c, "%sserver_features[%zu]: \"%s\" not known, ignored", path, k, f);
    }
  }
  return 0;
}

int mesh__bootstrap_parse(const char *text, size_t len, const char *origin, mesh__bootstrap **out, char *err,
                          size_t errlen) {
  *out = NULL;
  mesh__bootstrap *b = calloc(1, sizeof *b);
  ctx c = {origin, err, errlen, b};
  mesh__doc *doc = NULL;
  mesh__pbjson_report rep;
  memset(&rep, 0, sizeof rep);
  mesh__pbjson_opts jo;
  memset(&jo, 0, sizeof jo);
  jo.resolve = mesh__pb_find;
  jo.max_nodes = 100000;
  int rc = -1;
  if (!b || !(b->origin = strdup(origin))) {
    fail(&c, "out of memory");
    goto done;
  }
  if (mesh__doc_parse(text, len, &jo, &doc, &rep) < 0) {
    char buf[512];
    fail(&c, "%s", mesh__pbjson_note_format(&rep.error, buf, sizeof buf));
    goto done;
  }
  const mesh__node *root = mesh__doc_root(doc);
  if (mesh__node_kind_of(root) != MESH__NODE_MAP) {
    fail(&c, "the bootstrap must be a JSON object");
    goto done;
  }
  if (parse_servers(&c, mesh__node_get(root, "xds_servers"), "", &b->servers, &b->nservers)) goto done;
  /* node: proto3 JSON of envoy.config.core.v3.Node. */
  const mesh__node *node = mesh__node_get(root, "node");
  ProtobufCMessage *nm = NULL;
  if (node && mesh__node_kind_of(node) != MESH__NODE_MAP) {
    fail(&c, "node: must be an object");
    goto done;
  }
  if (node) {
    if (mesh__pbjson_decode_node(node, &envoy__config__core__v3__node__descriptor, &jo, "node", &nm, &rep) < 0) {
      char buf[512];
      fail(&c, "%s", mesh__pbjson_note_format(&rep.error, buf, sizeof buf));
      goto done;
    }
  } else {
    Envoy__Config__Core__V3__Node *n = malloc(sizeof *n);
    if (!n) {
      fail(&c, "out of memory");
      goto done;
    }
    envoy__config__core__v3__node__init(n);
    nm = &n->base;
  }
  b->node = (Envoy__Config__Core__V3__Node *)nm;
  for (size_t i = 0; i < rep.nignored; i++) note(&c, "%s: unknown field, ignored", rep.ignored[i].path);
  const char *tpl;
  if (get_str(&c, root, "client_default_listener_resource_name_template", "", &tpl)) goto done;
  if (tpl && *tpl && !(b->listener_template = strdup(tpl))) {
    fail(&c, "out of memory");
    goto done;
  }
  /* certificate_providers: stored for TLS to come (gRFC A29). */
  const mesh__node *cp = mesh__node_get(root, "certificate_providers");
  if (cp && mesh__node_kind_of(cp) != MESH__NODE_MAP) {
    fail(&c, "certificate_providers: must be an object");
    goto done;
  }
  if (mesh__node_map_len(cp) && !(b->providers = calloc(mesh__node_map_len(cp), sizeof *b->providers))) {
    fail(&c, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < mesh__node_map_len(cp); i++) {
    const char *name = mesh__node_str(mesh__node_key_at(cp, i));
    const mesh__node *v = mesh__node_value_at(cp, i);
    char path[200];
    snprintf(path, sizeof path, "certificate_providers[\"%s\"].", name);
    const char *plugin;
    if (mesh__node_kind_of(v) != MESH__NODE_MAP) {
      fail(&c, "certificate_providers[\"%s\"]: must be an object", name);
      goto done;
    }
    if (get_str(&c, v, "plugin_name", path, &plugin)) goto done;
    if (!plugin || !*plugin) {
      fail(&c, "%splugin_name: required", path);
      goto done;
    }
    mesh__cert_provider *p = &b->providers[b->nproviders++];
    p->name = strdup(name);
    p->plugin_name = strdup(plugin);
    if (!p->name || !p->plugin_name) {
      fail(&c, "out of memory");
      goto done;
    }
  }
  if (b->nproviders) note(&c, "certificate_providers: stored; TLS to the control plane and mTLS are not built yet");
  /* authorities (gRFC A47): xdstp: names. */
  const mesh__node *au = mesh__node_get(root, "authorities");
  if (au && mesh__node_kind_of(au) != MESH__NODE_MAP) {
    fail(&c, "authorities: must be an object");
    goto done;
  }
  if (mesh__node_map_len(au) && !(b->authorities = calloc(mesh__node_map_len(au), sizeof *b->authorities))) {
    fail(&c, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < mesh__node_map_len(au); i++) {
    const char *name = mesh__node_str(mesh__node_key_at(au, i));
    const mesh__node *v = mesh__node_value_at(au, i);
    char path[160];
    snprintf(path, sizeof path, "authorities[\"%s\"].", name);
    if (mesh__node_kind_of(v) != MESH__NODE_MAP) {
      fail(&c, "authorities[\"%s\"]: must be an object", name);
      goto done;
    }
    mesh__authority *a = &b->authorities[b->nauthorities++];
    if (!(a->name = strdup(name))) {
      fail(&c, "out of memory");
      goto done;
    }
    if (get_str(&c, v, "client_listener_resource_name_template", path, &tpl)) goto done;
    if (tpl) {
      char want[200];
      snprintf(want, sizeof want, "xdstp://%s/", name);
      if (strncmp(tpl, want, strlen(want)) != 0) {
        fail(&c, "%sclient_listener_resource_name_template: must start with \"%s\"", path, want);
        goto done;
      }
      if (!(a->listener_template = strdup(tpl))) {
        fail(&c, "out of memory");
        goto done;
      }
    }
    const mesh__node *xs = mesh__node_get(v, "xds_servers");
    if (xs && parse_servers(&c, xs, path, &a->servers, &a->nservers)) goto done;
  }
  if (b->nauthorities) note(&c, "authorities: parsed; xdstp: resources are requested from the top-level xds_servers");
  if (b->nservers > 1) note(&c, "xds_servers: only the first server is used (no fallback yet)");
  rc = 0;
done:
  mesh__pbjson_report_free(&rep);
  mesh__doc_free(doc);
  if (rc) mesh__bootstrap_free(b);
  else *out = b;
  return rc;
}

int mesh__bootstrap_load(const char *path, const char *json, mesh__bootstrap **out, char *err, size_t errlen) {
  *out = NULL;
  const char *origin = path;
  if (!path && !json) {
    static const char *const files[] = {"MESH_XDS_BOOTSTRAP", "GRPC_XDS_BOOTSTRAP"};
    static const char *const texts[] = {"MESH_XDS_BOOTSTRAP_CONFIG", "GRPC_XDS_BOOTSTRAP_CONFIG"};
    for (int i = 0; i < 2 && !path && !json; i++) {
      const char *v = getenv(files[i]);
      if (v && *v) path = origin = v;
      else if ((v = getenv(texts[i])) && *v) {
        json = v;
        origin = texts[i];
      }
    }
    if (!path && !json) return 1;
  } else if (!path) {
    origin = "bootstrap config";
  }
  if (json) return mesh__bootstrap_parse(json, strlen(json), origin, out, err, errlen);
  char *text;
  size_t len;
  if (mesh__file_read(path, MAX_BOOTSTRAP_BYTES, &text, &len, err, errlen) < 0) return -1;
  int rc = mesh__bootstrap_parse(text, len, path, out, err, errlen);
  free(text);
  return rc;
}

char *mesh__bootstrap_listener_name(const mesh__bootstrap *b, const char *authority) {
  const char *tpl = b->listener_template ? b->listener_template : "%s";
  int xdstp = !strncmp(tpl, "xdstp:", 6);
  size_t cap = strlen(tpl) + 3 * strlen(authority) + 1;
  char *out = malloc(cap), *o = out;
  if (!out) return NULL;
  for (const char *p = tpl; *p; p++) {
    if (p[0] == '%' && p[1] == 's') {
      for (const char *a = authority; *a; a++) {
        unsigned char ch = (unsigned char)*a;
        /* gRFC A47: the authority is percent-encoded in xdstp: names. */
        if (xdstp && !(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') && !(ch >= '0' && ch <= '9') &&
            !strchr("-._~:@!$&'()*+,;=", ch))
          o += sprintf(o, "%%%02X", ch);
        else
          *o++ = (char)ch;
      }
      p++;
    } else {
      *o++ = *p;
    }
  }
  *o = 0;
  return out;
}

static void free_servers(mesh__xds_server *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(s[i].uri);
    free(s[i].host);
    free(s[i].unix_path);
    free(s[i].creds);
  }
  free(s);
}

void mesh__bootstrap_free(mesh__bootstrap *b) {
  if (!b) return;
  free(b->origin);
  free_servers(b->servers, b->nservers);
  if (b->node) protobuf_c_message_free_unpacked(&b->node->base, NULL);
  free(b->listener_template);
  for (size_t i = 0; i < b->nproviders; i++) {
    free(b->providers[i].name);
    free(b->providers[i].plugin_name);
  }
  free(b->providers);
  for (size_t i = 0; i < b->nauthorities; i++) {
    free(b->authorities[i].name);
    free(b->authorities[i].listener_template);
    free_servers(b->authorities[i].servers, b->authorities[i].nservers);
  }
  free(b->authorities);
  for (size_t i = 0; i < b->nnotes; i++) free(b->notes[i]);
  free(b->notes);
  free(b);
}
