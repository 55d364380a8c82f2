/* Config file → snapshot. One parser for YAML and JSON (libyaml), one
 * generic mapper onto the protobuf-c messages the xDS client decodes too,
 * then the same translators whichever the source. */
#include "xds/config.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envoy/config/bootstrap/v3/bootstrap.pb-c.h"
#include "envoy/config/cluster/v3/cluster.pb-c.h"
#include "envoy/config/endpoint/v3/endpoint.pb-c.h"
#include "envoy/config/listener/v3/listener.pb-c.h"
#include "envoy/config/route/v3/route.pb-c.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb-c.h"
#include "envoy/service/discovery/v3/discovery.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "model/cluster.h"
#include "model/notes.h"
#include "model/route.h"
#include "upstream/core.h"
#include "upstream/router.h"
#include "util/log.h"
#include "util/str.h"
#include "xds/ads.h"
#include "xds/bootstrap.h"
#include "xds/cds.h"
#include "xds/file_watch.h"
#include "xds/lds.h"
#include "xds/pbjson.h"
#include "xds/rds.h"
#include "xds/registry.h"

#define MAX_CONFIG_BYTES (64u << 20)
#define T_LISTENER "type.googleapis.com/envoy.config.listener.v3.Listener"
#define T_ROUTE "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
#define T_CLUSTER "type.googleapis.com/envoy.config.cluster.v3.Cluster"
#define T_CLA "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"

typedef struct mesh__config_state {
  mesh__file_watch *watch;
  mesh__ads *ads; /* the xDS source, instead of the file */
  uint64_t accepted, rejected;
  char last_error[512];
  char *version;
} mesh__config_state;

/* ---- building ---- */

typedef struct build {
  const char *origin;
  char *err;
  size_t errlen;
  mesh__pbjson_opts jopts;
  /* decoded resources, in order */
  ProtobufCMessage **msgs;
  char **paths; /* where each came from in the file ("static_resources.clusters[2]") */
  size_t nmsgs, capmsgs;
  mesh__snapshot *snap;
} build;

static int fail(build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(build *b, const char *fmt, ...) {
  int n = snprintf(b->err, b->errlen, "%s: ", b->origin);
  if (n < 0 || (size_t)n >= b->errlen) return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->err + n, b->errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

/* Takes m (freed here on failure). */
static int push_msg(build *b, ProtobufCMessage *m, const char *path) {
  if (b->nmsgs == b->capmsgs) {
    size_t cap = b->capmsgs ? b->capmsgs * 2 : 16;
    ProtobufCMessage **v = realloc(b->msgs, cap * sizeof *v);
    char **p = v ? realloc(b->paths, cap * sizeof *p) : NULL;
    if (v) b->msgs = v;
    if (p) b->paths = p;
    if (!v || !p) goto oom;
    b->capmsgs = cap;
  }
  if (!(b->paths[b->nmsgs] = strdup(path))) goto oom;
  b->msgs[b->nmsgs++] = m;
  return 0;
oom:
  protobuf_c_message_free_unpacked(m, NULL);
  return -1;
}

/* An Any from the file → its message (unpacked with our descriptor). */
static int unpack_any(build *b, const Google__Protobuf__Any *any, const char *where) {
  const ProtobufCMessageDescriptor *d = any->type_url ? mesh__pb_find(any->type_url, strlen(any->type_url)) : NULL;
  if (!d) return fail(b, "%s: unknown resource type \"%s\"", where, any->type_url ? any->type_url : "");
  if (d != &envoy__config__listener__v3__listener__descriptor &&
      d != &envoy__config__route__v3__route_configuration__descriptor &&
      d != &envoy__config__cluster__v3__cluster__descriptor &&
      d != &envoy__config__endpoint__v3__cluster_load_assignment__descriptor)
    return fail(b, "%s: resource type %s is not one of Listener, RouteConfiguration, Cluster, "
                "ClusterLoadAssignment", where, d->name);
  ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, any->value.len, any->value.data);
  if (!m) return fail(b, "%s: could not decode %s", where, d->name);
  if (push_msg(b, m, where)) return fail(b, "out of memory");
  return 0;
}

static int report_error(build *b, const mesh__pbjson_report *r) {
  if (r->error.line > 0) return fail(b, "line %d: %s%s%s", r->error.line, r->error.path, r->error.path[0] ? ": " : "", r->error.msg);
  return fail(b, "%s%s%s", r->error.path, r->error.path[0] ? ": " : "", r->error.msg);
}

/* Decode the document into b->msgs, whichever of the three shapes. */
static int decode_file(build *b, const char *text, size_t len, char **version, mesh__notes *ignored) {
  mesh__doc *doc = NULL;
  mesh__pbjson_report rep;
  memset(&rep, 0, sizeof rep);
  int rc = -1;
  if (mesh__doc_parse(text, len, &b->jopts, &doc, &rep) < 0) {
    rc = report_error(b, &rep);
    goto done;
  }
  const mesh__node *root = mesh__doc_root(doc);
  if (root && mesh__node_get(root, "static_resources")) {
    ProtobufCMessage *m = NULL;
    if (mesh__pbjson_decode_node(root, &envoy__config__bootstrap__v3__bootstrap__descriptor, &b->jopts, "", &m,
                                 &rep) < 0) {
      rc = report_error(b, &rep);
      goto done;
    }
    Envoy__Config__Bootstrap__V3__Bootstrap *bs = (Envoy__Config__Bootstrap__V3__Bootstrap *)m;
    Envoy__Config__Bootstrap__V3__Bootstrap__StaticResources *sr = bs->static_resources;
    rc = 0;
    for (size_t i = 0; sr && i < sr->n_listeners && rc == 0; i++) {
      /* Re-pack each into its own message so all shapes free alike. */
      size_t n = protobuf_c_message_get_packed_size(&sr->listeners[i]->base);
      uint8_t *buf = malloc(n ? n : 1);
      ProtobufCMessage *one = NULL;
      if (buf) {
        protobuf_c_message_pack(&sr->listeners[i]->base, buf);
        one = protobuf_c_message_unpack(&envoy__config__listener__v3__listener__descriptor, NULL, n, buf);
      }
      free(buf);
      char where[64];
      snprintf(where, sizeof where, "static_resources.listeners[%zu]", i);
      if (!one || push_msg(b, one, where)) rc = fail(b, "out of memory");
    }
    for (size_t i = 0; sr && i < sr->n_clusters && rc == 0; i++) {
      size_t n = protobuf_c_message_get_packed_size(&sr->clusters[i]->base);
      uint8_t *buf = malloc(n ? n : 1);
      ProtobufCMessage *one = NULL;
      if (buf) {
        protobuf_c_message_pack(&sr->clusters[i]->base, buf);
        one = protobuf_c_message_unpack(&envoy__config__cluster__v3__cluster__descriptor, NULL, n, buf);
      }
      free(buf);
      char where[64];
      snprintf(where, sizeof where, "static_resources.clusters[%zu]", i);
      if (!one || push_msg(b, one, where)) rc = fail(b, "out of memory");
    }
    protobuf_c_message_free_unpacked(m, NULL);
  } else if (root && mesh__node_get(root, "resources")) {
    ProtobufCMessage *m = NULL;
    if (mesh__pbjson_decode_node(root, &envoy__service__discovery__v3__discovery_response__descriptor, &b->jopts,
                                 "", &m, &rep) < 0) {
      rc = report_error(b, &rep);
      goto done;
    }
    Envoy__Service__Discovery__V3__DiscoveryResponse *dr = (Envoy__Service__Discovery__V3__DiscoveryResponse *)m;
    rc = 0;
    if (dr->version_info && *dr->version_info) *version = strdup(dr->version_info);
    for (size_t i = 0; i < dr->n_resources && rc == 0; i++) {
      char where[64];
      snprintf(where, sizeof where, "resources[%zu]", i);
      rc = unpack_any(b, dr->resources[i], where);
    }
    protobuf_c_message_free_unpacked(m, NULL);
  } else if (root && mesh__node_len(root) > 0) {
    rc = 0;
    for (size_t i = 0; i < mesh__node_len(root) && rc == 0; i++) {
      char where[64];
      snprintf(where, sizeof where, "[%zu]", i);
      ProtobufCMessage *m = NULL;
      if (mesh__pbjson_decode_node(mesh__node_at(root, i), &google__protobuf__any__descriptor, &b->jopts, where, &m,
                                   &rep) < 0) {
        rc = report_error(b, &rep);
        break;
      }
      rc = unpack_any(b, (Google__Protobuf__Any *)m, where);
      protobuf_c_message_free_unpacked(m, NULL);
    }
  } else {
    rc = fail(b, "expected static_resources (an Envoy bootstrap), resources (a DiscoveryResponse) or a list of "
                 "typed resources");
  }
  for (size_t i = 0; rc == 0 && i < rep.nignored; i++) {
    char note[512];
    snprintf(note, sizeof note, "%s: unknown field, ignored", rep.ignored[i].path);
    mesh__notes_add(ignored, note);
  }
done:
  mesh__pbjson_report_free(&rep);
  mesh__doc_free(doc);
  return rc;
}


static const char *type_url_of(const ProtobufCMessage *m) {
  if (m->descriptor == &envoy__config__listener__v3__listener__descriptor) return T_LISTENER;
  if (m->descriptor == &envoy__config__route__v3__route_configuration__descriptor) return T_ROUTE;
  if (m->descriptor == &envoy__config__cluster__v3__cluster__descriptor) return T_CLUSTER;
  return T_CLA;
}

static int count_type(build *b, const ProtobufCMessageDescriptor *d) {
  int n = 0;
  for (size_t i = 0; i < b->nmsgs; i++) n += b->msgs[i]->descriptor == d;
  return n;
}

/* Does the note "PATH: ..." fall under the resource at prefix? */
static bool note_under(const char *note, const char *prefix) {
  size_t n = strlen(prefix);
  return strncmp(note, prefix, n) == 0 && (note[n] == '.' || note[n] == '[' || note[n] == ':');
}

/* ---- fields libmesh's protos lack ----
 * Over binary xDS such a field arrives as an unknown field with its number
 * and the translators refuse those that would change behaviour if skipped
 * (transport_socket_matches, lb_subset_config, a match condition, ...).
 * A file's decoder only notes "unknown field, ignored" with the field's
 * path, so the same verdict is reached here from the path: walk it over
 * the decoded resource to the message holding the field, then ask the
 * translators about that message type and field name. */

#define WALK_MAX_ANY 8

/* snake is a proto field name; s[0..n) the same name or its lowerCamelCase. */
static bool camel_eq(const char *snake, const char *s, size_t n) {
  size_t k = 0;
  for (size_t j = 0; snake[j]; j++, k++) {
    char c = snake[j];
    if (c == '_' && snake[j + 1]) {
      c = snake[++j];
      if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
    }
    if (k >= n || s[k] != c) return false;
  }
  return k == n;
}

static const ProtobufCFieldDescriptor *field_named(const ProtobufCMessageDescriptor *d, const char *s, size_t n) {
  for (unsigned i = 0; i < d->n_fields; i++) {
    const char *f = d->fields[i].name;
    if ((strlen(f) == n && !memcmp(f, s, n)) || camel_eq(f, s, n)) return &d->fields[i];
  }
  return NULL;
}

/* "loadBalancingPolicy" -> "load_balancing_policy" (snake_case kept). */
static void to_snake(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n && o + 2 < cap; i++) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') {
      if (o) out[o++] = '_';
      c = (char)(c - 'A' + 'a');
    }
    out[o++] = c;
  }
  out[o] = '\0';
}

/* rel: the field's path below the resource ("virtual_hosts[0].routes[2].match.foo").
 * The reason the field must be refused, or NULL. */
static const char *unknown_field_reject(const ProtobufCMessage *root, const char *rel, size_t rel_len) {
  const ProtobufCMessage *m = root;
  ProtobufCMessage *owned[WALK_MAX_ANY];
  size_t nowned = 0;
  const char *why = NULL, *p = rel, *end = rel + rel_len;
  while (p < end) {
    size_t n = 0;
    while (p + n < end && p[n] != '.' && p[n] != '[') n++;
    if (p + n == end) {
      char name[96];
      to_snake(p, n, name, sizeof name);
      why = mesh__cds_unknown_field_reject(m->descriptor, name);
      if (!why) why = mesh__rds_unknown_field_reject(m->descriptor, name);
      break;
    }
    const ProtobufCFieldDescriptor *f = field_named(m->descriptor, p, n);
    if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE) break;
    p += n;
    const char *base = (const char *)m;
    const ProtobufCMessage *child = NULL;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t count = *(const size_t *)(base + f->quantifier_offset);
      ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)(base + f->offset);
      if (*p != '[') break;
      if (p[1] == '"') { /* a map entry: name["key"] */
        const char *k = p + 2, *q = k;
        while (q + 1 < end && !(q[0] == '"' && q[1] == ']')) q++;
        if (q + 1 >= end) break;
        const ProtobufCMessageDescriptor *ed = f->descriptor;
        const ProtobufCFieldDescriptor *kf = field_named(ed, "key", 3), *vf = field_named(ed, "value", 5);
        if (!kf || !vf || kf->type != PROTOBUF_C_TYPE_STRING || vf->type != PROTOBUF_C_TYPE_MESSAGE) break;
        for (size_t i = 0; i < count && !child; i++) {
          const char *key = *(char *const *)((const char *)v[i] + kf->offset);
          if (key && strlen(key) == (size_t)(q - k) && !memcmp(key, k, (size_t)(q - k)))
            child = *(ProtobufCMessage *const *)((const char *)v[i] + vf->offset);
        }
        p = q + 2;
      } else {
        char *e;
        unsigned long idx = strtoul(p + 1, &e, 10);
        if (e >= end || *e != ']' || idx >= count) break;
        child = v[idx];
        p = e + 1;
      }
    } else {
      if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && *(const uint32_t *)(base + f->quantifier_offset) != f->id)
        break;
      child = *(ProtobufCMessage *const *)(base + f->offset);
    }
    if (!child) break;
    if (child->descriptor == &google__protobuf__any__descriptor) {
      /* The path goes on in the packed message, as the file spelled it. */
      const Google__Protobuf__Any *any = (const Google__Protobuf__Any *)child;
      const ProtobufCMessageDescriptor *d = any->type_url ? mesh__pb_find(any->type_url, strlen(any->type_url)) : NULL;
      ProtobufCMessage *inner =
          d && nowned < WALK_MAX_ANY ? protobuf_c_message_unpack(d, NULL, any->value.len, any->value.data) : NULL;
      if (!inner) break;
      owned[nowned++] = inner;
      child = inner;
    }
    m = child;
    if (p < end && *p == '.') p++;
    else break;
  }
  for (size_t i = 0; i < nowned; i++) protobuf_c_message_free_unpacked(owned[i], NULL);
  return why;
}

#define UNKNOWN_NOTE ": unknown field, ignored"

/* Translate every decoded resource into the snapshot and link them.
 * file_notes holds the decoder's notes (unknown fields) on entry: each goes
 * to the resource it was found in, the rest to the snapshot. */
static int translate_all(build *b, mesh__notes *file_notes) {
  mesh__snapshot *s = b->snap;
  mesh__arena *a = s->arena;
  size_t nl = (size_t)count_type(b, &envoy__config__listener__v3__listener__descriptor);
  size_t nr = (size_t)count_type(b, &envoy__config__route__v3__route_configuration__descriptor);
  size_t nc = (size_t)count_type(b, &envoy__config__cluster__v3__cluster__descriptor);
  s->listeners = mesh__arena_calloc(a, nl + 1, sizeof *s->listeners);
  s->routes = mesh__arena_calloc(a, nr + 1, sizeof *s->routes);
  s->clusters = mesh__arena_calloc(a, nc + 1, sizeof *s->clusters);
  s->resources = mesh__arena_calloc(a, b->nmsgs + 1, sizeof *s->resources);
  size_t ndecoded = file_notes->n;
  bool *placed = calloc(ndecoded + 1, sizeof *placed);
  if (!s->listeners || !s->routes || !s->clusters || !s->resources || !placed) {
    free(placed);
    return fail(b, "out of memory");
  }

  /* Load assignments first: clusters may name them (EDS). */
  const Envoy__Config__Endpoint__V3__ClusterLoadAssignment **clas = calloc(b->nmsgs + 1, sizeof *clas);
  size_t ncla = 0;
  if (!clas) return fail(b, "out of memory");
  int rc = 0;
  char err[512];
  for (size_t i = 0; i < b->nmsgs && rc == 0; i++) {
    const ProtobufCMessage *m = b->msgs[i];
    const char *name = mesh__xds_resource_name(m);
    const char *kind = strrchr(type_url_of(m), '.') + 1;
    mesh__notes notes;
    mesh__notes_init(&notes);
    for (size_t k = 0; k < ndecoded; k++)
      if (!placed[k] && note_under(file_notes->v[k], b->paths[i])) {
        mesh__notes_add(&notes, file_notes->v[k]);
        placed[k] = true;
      }
    /* Unknown fields binary xDS would refuse: refused here too. */
    size_t plen = strlen(b->paths[i]);
    for (size_t k = 0; k < notes.n && rc == 0; k++) {
      const char *nv = notes.v[k], *tail = strstr(nv, UNKNOWN_NOTE);
      if (!tail || tail[sizeof UNKNOWN_NOTE - 1] != '\0' || strncmp(nv, b->paths[i], plen) != 0 || nv[plen] != '.')
        continue;
      const char *rel = nv + plen + 1;
      const char *why = unknown_field_reject(m, rel, (size_t)(tail - rel));
      if (why)
        rc = fail(b, "%s \"%s\": %.*s: %s", kind, name && *name ? name : "?", (int)(tail - rel), rel, why);
    }
    if (rc) {
      mesh__notes_free(&notes);
      break;
    }
    if (!name || !*name) {
      rc = fail(b, "%s #%zu: name is required", kind, i);
      mesh__notes_free(&notes);
      break;
    }
    /* Names are unique per type (xDS rule). */
    for (size_t j = 0; j < i; j++)
      if (b->msgs[j]->descriptor == m->descriptor && !strcmp(mesh__xds_resource_name(b->msgs[j]), name)) {
        rc = fail(b, "%s \"%s\" appears twice", kind, name);
        break;
      }
    if (rc) {
      mesh__notes_free(&notes);
      break;
    }
    if (m->descriptor == &envoy__config__listener__v3__listener__descriptor) {
      mesh__listener *l = &s->listeners[s->nlisteners];
      if (mesh__lds_translate((const Envoy__Config__Listener__V3__Listener *)m, a, l, err, sizeof err, &notes) < 0)
        rc = fail(b, "Listener \"%s\": %s", name, err);
      else
        s->nlisteners++;
    } else if (m->descriptor == &envoy__config__route__v3__route_configuration__descriptor) {
      mesh__route_table *rt = NULL;
      if (mesh__rds_translate((const Envoy__Config__Route__V3__RouteConfiguration *)m, &rt, err, sizeof err, &notes) < 0)
        rc = fail(b, "RouteConfiguration \"%s\": %s", name, err);
      else {
        s->routes[s->nroutes].name = mesh__arena_strdup(a, name);
        s->routes[s->nroutes++].rt = rt;
      }
    } else if (m->descriptor == &envoy__config__cluster__v3__cluster__descriptor) {
      mesh__cluster *c = NULL;
      if (mesh__cds_translate((const Envoy__Config__Cluster__V3__Cluster *)m, &c, err, sizeof err, &notes) < 0)
        rc = fail(b, "Cluster \"%s\": %s", name, err);
      else {
        /* Inline endpoints (STATIC, DNS types) come with the cluster. */
        s->clusters[s->nclusters].name = mesh__arena_strdup(a, name);
        s->clusters[s->nclusters++].cluster = c;
      }
    } else {
      clas[ncla++] = (const Envoy__Config__Endpoint__V3__ClusterLoadAssignment *)m;
    }
    /* The resource as libmesh read it, for the dump. */
    mesh__resource *r = &s->resources[s->nresources++];
    r->type_url = type_url_of(m);
    r->name = mesh__arena_strdup(a, name);
    r->json = mesh__pbjson_encode(m, &b->jopts, 2);
    r->nignored = notes.n;
    r->ignored = mesh__arena_calloc(a, notes.n + 1, sizeof *r->ignored);
    for (size_t k = 0; r->ignored && k < notes.n; k++) r->ignored[k] = mesh__arena_strdup(a, notes.v[k]);
    mesh__notes_free(&notes);
  }
  /* Notes outside any resource (a bootstrap's admin, node, ...). */
  s->ignored = mesh__arena_calloc(a, ndecoded + 1, sizeof *s->ignored);
  for (size_t k = 0; s->ignored && k < ndecoded; k++)
    if (!placed[k]) s->ignored[s->nignored++] = mesh__arena_strdup(a, file_notes->v[k]);
  free(placed);

  /* Link: EDS clusters to their load assignments, through an index by
   * name (10,000 clusters must not cost 10,000 x 10,000 comparisons). */
  size_t icap = 16;
  while (icap < ncla * 2) icap *= 2;
  uint32_t *cidx = calloc(icap, sizeof *cidx);
  if (!cidx) rc = fail(b, "out of memory");
  for (size_t k = 0; rc == 0 && k < ncla; k++) {
    size_t h = mesh__hash(clas[k]->cluster_name, strlen(clas[k]->cluster_name)) & (icap - 1);
    while (cidx[h]) h = (h + 1) & (icap - 1);
    cidx[h] = (uint32_t)k + 1;
  }
  for (size_t i = 0; rc == 0 && i < s->nclusters; i++) {
    mesh__cluster_entry *ce = &s->clusters[i];
    if (ce->la || ce->cluster->type != MESH__DISCOVERY_EDS) continue;
    const char *want = ce->cluster->eds_service_name;
    if (!want || !*want) want = ce->name;
    /* The first load assignment of that name, as the linear search did. */
    size_t found = 0;
    for (size_t h = mesh__hash(want, strlen(want)) & (icap - 1); cidx[h]; h = (h + 1) & (icap - 1))
      if (!strcmp(clas[cidx[h] - 1]->cluster_name, want) && (!found || cidx[h] < found)) found = cidx[h];
    if (found && mesh__eds_translate(clas[found - 1], &ce->la, err, sizeof err, file_notes) < 0)
      rc = fail(b, "ClusterLoadAssignment \"%s\": %s", want, err);
    if (rc == 0 && !ce->la) rc = fail(b, "Cluster \"%s\": no endpoints (no load_assignment and no ClusterLoadAssignment \"%s\")", ce->name, want);
  }
  free(clas);
  free(cidx);
  /* Link: listeners to RDS route configurations. */
  for (size_t i = 0; rc == 0 && i < s->nlisteners; i++) {
    mesh__listener *l = &s->listeners[i];
    if (l->rt || !l->rds_name) continue;
    for (size_t k = 0; k < s->nroutes; k++)
      if (!strcmp(s->routes[k].name, l->rds_name)) {
        l->rt = mesh__route_table_ref(s->routes[k].rt);
        break;
      }
    if (!l->rt) rc = fail(b, "Listener \"%s\": RouteConfiguration \"%s\" not found", l->name, l->rds_name);
  }
  if (rc == 0 && mesh__snapshot_index(s) < 0) rc = fail(b, "out of memory");
  /* Every cluster a route names must exist (Envoy's validate_clusters). */
  for (size_t i = 0; rc == 0 && i < s->nlisteners + s->nroutes; i++) {
    const mesh__route_table *rt = i < s->nlisteners ? s->listeners[i].rt : s->routes[i - s->nlisteners].rt;
    const char *missing = NULL;
    if (rt && mesh__route_table_check_clusters(rt, s, &missing) < 0)
      rc = fail(b, "route configuration \"%s\" names cluster \"%s\", which does not exist",
                mesh__route_table_name(rt), missing);
  }
  return rc;
}

int mesh__config_build(const char *text, size_t len, const char *origin, mesh__snapshot **out, char *err,
                       size_t errlen) {
  build b;
  memset(&b, 0, sizeof b);
  b.origin = origin;
  b.err = err;
  b.errlen = errlen;
  b.jopts.resolve = mesh__pb_find;
  *out = NULL;
  char *version = NULL;
  mesh__notes notes;
  mesh__notes_init(&notes);
  int rc = decode_file(&b, text, len, &version, &notes);
  if (rc == 0) {
    b.snap = calloc(1, sizeof *b.snap);
    if (!b.snap || !(b.snap->arena = mesh__arena_new(0))) {
      rc = fail(&b, "out of memory");
    } else {
      b.snap->refs = 1;
      b.snap->origin = mesh__arena_strdup(b.snap->arena, origin);
      if (!version) {
        /* No version_info: name the content. */
        uint64_t h = 1469598103934665603ull;
        for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)text[i]) * 1099511628211ull;
        char v[32];
        snprintf(v, sizeof v, "sha-%016llx", (unsigned long long)h);
        b.snap->version = mesh__arena_strdup(b.snap->arena, v);
      } else {
        b.snap->version = mesh__arena_strdup(b.snap->arena, version);
      }
      rc = translate_all(&b, &notes);
    }
  }
  for (size_t i = 0; i < b.nmsgs; i++) {
    protobuf_c_message_free_unpacked(b.msgs[i], NULL);
    free(b.paths[i]);
  }
  free(b.msgs);
  free(b.paths);
  free(version);
  mesh__notes_free(&notes);
  if (rc != 0) {
    if (b.snap) mesh__snapshot_unref(b.snap);
    return -1;
  }
  *out = b.snap;
  return 0;
}

/* ---- the handle's file source ---- */

static void log_ignored(struct mesh *m, const mesh__snapshot *s) {
  for (size_t k = 0; k < s->nignored; k++) mesh__log(&m->opts.log, MESH_LOG_WARN, "%s: %s", s->origin, s->ignored[k]);
  for (size_t i = 0; i < s->nresources; i++)
    for (size_t k = 0; k < s->resources[i].nignored; k++)
      mesh__log(&m->opts.log, MESH_LOG_WARN, "%s: %s \"%s\": %s", s->origin,
                strrchr(s->resources[i].type_url, '.') + 1, s->resources[i].name, s->resources[i].ignored[k]);
}

static void on_file_changed(void *ud, const char *text, size_t len) {
  struct mesh *m = ud;
  mesh__config_state *st = m->config;
  mesh__snapshot *snap;
  char err[512];
  if (mesh__config_build(text, len, m->opts.config_file, &snap, err, sizeof err) < 0) {
    st->rejected++;
    snprintf(st->last_error, sizeof st->last_error, "%s", err);
    mesh__log(&m->opts.log, MESH_LOG_ERROR, "config rejected, keeping version %s: %s",
              st->version ? st->version : "-", err);
    return;
  }
  log_ignored(m, snap);
  mesh__enter(m);
  int rc = mesh__router_publish(m, snap);
  mesh__leave(m);
  if (rc < 0) {
    st->rejected++;
    snprintf(st->last_error, sizeof st->last_error, "%s: out of memory applying the config", m->opts.config_file);
    mesh__snapshot_unref(snap);
    return;
  }
  st->accepted++;
  free(st->version);
  st->version = strdup(snap->version);
  mesh__log(&m->opts.log, MESH_LOG_INFO, "config version %s applied from %s", snap->version, m->opts.config_file);
  mesh__snapshot_unref(snap); /* the router holds its own reference */
}

int mesh__config_open(struct mesh *m, char *err, size_t errlen) {
  char *text;
  size_t len;
  if (mesh__file_read(m->opts.config_file, MAX_CONFIG_BYTES, &text, &len, err, errlen) < 0) return -1;
  mesh__snapshot *snap;
  if (mesh__config_build(text, len, m->opts.config_file, &snap, err, errlen) < 0) {
    free(text);
    return -1;
  }
  mesh__config_state *st = calloc(1, sizeof *st);
  if (!st || mesh__router_publish(m, snap) < 0) {
    free(st);
    free(text);
    mesh__snapshot_unref(snap);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  m->config = st;
  log_ignored(m, snap);
  st->accepted = 1;
  st->version = strdup(snap->version);
  mesh__snapshot_unref(snap);
  st->watch = mesh__file_watch_new(m->base, m->opts.config_file, on_file_changed, m);
  if (st->watch) mesh__file_watch_seen(st->watch, text, len);
  else mesh__log(&m->opts.log, MESH_LOG_WARN, "%s: cannot watch the file; changes will not apply", m->opts.config_file);
  free(text);
  return 0;
}

int mesh__config_open_xds(struct mesh *m, char *err, size_t errlen) {
  mesh__bootstrap *b;
  int rc = mesh__bootstrap_load(m->opts.xds_bootstrap, m->opts.xds_bootstrap_config, &b, err, errlen);
  if (rc != 0) return rc;
  mesh__config_state *st = calloc(1, sizeof *st);
  if (!st) {
    mesh__bootstrap_free(b);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  m->config = st;
  if (mesh__ads_start(m, b, &st->ads, err, errlen) < 0) {
    m->config = NULL;
    free(st);
    return -1;
  }
  return 0;
}

int mesh__config_listener_missing(struct mesh *m, const char *authority, size_t len, char *why, size_t whylen) {
  mesh__config_state *st = m->config;
  if (whylen) why[0] = 0;
  return st && st->ads ? mesh__ads_want_listener(st->ads, authority, len, why, whylen) : 0;
}

int mesh__config_is_xds(const struct mesh *m) { return m->config && m->config->ads; }

void mesh__config_close(struct mesh *m) {
  mesh__config_state *st = m->config;
  if (!st) return;
  mesh__ads_free(st->ads);
  mesh__file_watch_free(st->watch);
  free(st->version);
  free(st);
  m->config = NULL;
}

/* ---- dump ---- */

static int put(mesh__buf *b, const char *s) { return mesh__buf_append_str(b, s); }

int mesh__json_string(mesh__buf *b, const char *s) {
  int rc = mesh__buf_append(b, "\"", 1);
  for (; *s && rc == 0; s++) {
    unsigned char c = (unsigned char)*s;
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      rc = mesh__buf_append(b, esc, 2);
    } else if (c < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      rc = mesh__buf_append(b, esc, 6);
    } else {
      rc = mesh__buf_append(b, s, 1);
    }
  }
  return rc | mesh__buf_append(b, "\"", 1);
}

char *mesh__config_dump(struct mesh *m) {
  mesh__buf b;
  mesh__buf_init(&b);
  mesh__config_state *st = m->config;
  const mesh__snapshot *s = mesh__router_snapshot(m);
  char num[64];
  int rc = put(&b, "{\n  \"source\": ");
  rc |= mesh__json_string(&b, st ? (st->ads ? "xds" : m->opts.config_file) : "none");
  rc |= put(&b, ",\n  \"version\": ");
  rc |= mesh__json_string(&b, s ? s->version : "");
  uint64_t acc = st ? st->accepted : 0, rej = st ? st->rejected : 0;
  if (st && st->ads) mesh__ads_counters(st->ads, &acc, &rej);
  snprintf(num, sizeof num, ",\n  \"accepted\": %llu", (unsigned long long)acc);
  rc |= put(&b, num);
  snprintf(num, sizeof num, ",\n  \"rejected\": %llu", (unsigned long long)rej);
  rc |= put(&b, num);
  rc |= put(&b, ",\n  \"last_error\": ");
  rc |= mesh__json_string(&b, st ? st->last_error : "");
  if (st && st->ads) {
    rc |= put(&b, ",\n  \"xds\": ");
    rc |= mesh__ads_dump(st->ads, &b);
  }
  rc |= put(&b, ",\n  \"ignored\": [");
  for (size_t k = 0; s && k < s->nignored; k++) {
    if (k) rc |= put(&b, ", ");
    rc |= mesh__json_string(&b, s->ignored[k]);
  }
  rc |= put(&b, "],\n  \"resources\": [");
  for (size_t i = 0; s && i < s->nresources; i++) {
    const mesh__resource *r = &s->resources[i];
    rc |= put(&b, i ? ",\n    {" : "\n    {");
    rc |= put(&b, "\"type_url\": ");
    rc |= mesh__json_string(&b, r->type_url);
    rc |= put(&b, ", \"name\": ");
    rc |= mesh__json_string(&b, r->name);
    rc |= put(&b, ", \"version\": ");
    rc |= mesh__json_string(&b, s->version);
    rc |= put(&b, ", \"status\": \"ACKED\", \"ignored\": [");
    for (size_t k = 0; k < r->nignored; k++) {
      if (k) rc |= put(&b, ", ");
      rc |= mesh__json_string(&b, r->ignored[k]);
    }
    rc |= put(&b, "],\n     \"resource\": ");
    rc |= put(&b, r->json ? r->json : "null");
    rc |= put(&b, "}");
  }
  rc |= put(&b, s && s->nresources ? "\n  ]\n}" : "]\n}");
  rc |= mesh__buf_append(&b, "", 1);
  if (rc) {
    mesh__buf_free(&b);
    return NULL;
  }
  return b.data; /* off is 0: nothing was consumed */
}
