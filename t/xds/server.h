/* A test xDS management server: ADS state of the world over h2c, on its
 * own thread and event loop, serving resources given as YAML/JSON (a list
 * of typed resources, "@type" in each, as in libmesh-config(5)). The test
 * changes them on cue, can stop it (every connection closed, the port no
 * longer listening: as if the process were killed) and start it again on
 * the same port, and reads back what the client sent (ACKs, NACKs with
 * their error_detail, request versions).
 *
 * Resources are encoded with libmesh's own protos (protobuf-c), mapped from
 * text by libmesh's proto3 JSON mapper, so invalid-but-encodable resources
 * (an unsupported lb_policy, a duplicate name) are easy to send. */
#ifndef MESH_T_XDS_SERVER_H
#define MESH_T_XDS_SERVER_H

#include <stddef.h>
#include <stdint.h>

typedef struct xds_server xds_server;

enum { XDS_LDS, XDS_RDS, XDS_CDS, XDS_EDS, XDS_NTYPES };

/* Listen on 127.0.0.1:port (0: any free port). NULL on failure. */
xds_server *xds_server_start(uint16_t port);
uint16_t xds_server_port(const xds_server *s);
/* Replace every resource with those in text (YAML or JSON list of typed
 * resources); the version goes up by one and every open stream gets the
 * new state of each type it subscribed to. 0, or -1 (reason on stderr). */
int xds_server_set(xds_server *s, const char *text);
/* Also listen on a Unix socket at path (as Istio's agent serves xDS). 0 or -1. */
int xds_server_listen_unix(xds_server *s, const char *path);
/* on: ignore wildcard subscriptions, serve only names asked for (as
 * servers for proxyless gRPC clients do for listeners). */
void xds_server_no_wildcard(xds_server *s, int on);
/* End every ADS stream with a gRPC status in trailers (msg as sent:
 * percent-encode it). The connections stay. */
void xds_server_end_streams(xds_server *s, int code, const char *msg);
/* Send bytes on every ADS stream: as one gRPC message (framed), or as
 * they are (to send a bad frame). */
void xds_server_send_raw(xds_server *s, const uint8_t *data, size_t len, int framed);
/* As if killed: close the listener and every connection. */
void xds_server_stop(xds_server *s);
/* Listen again on the same port. 0 or -1. */
int xds_server_restart(xds_server *s);
void xds_server_free(xds_server *s);

typedef struct xds_server_stats {
  int streams;               /* ADS streams opened, in total */
  int open_streams;
  int requests[XDS_NTYPES];
  int acks[XDS_NTYPES];
  int nacks[XDS_NTYPES];
  char last_nack[XDS_NTYPES][2048];   /* error_detail.message of the last NACK */
  char first_version[XDS_NTYPES][64]; /* version_info of the first request for the type on the latest stream */
  char node_id[128];         /* node.id of the latest stream's first request */
  int version;               /* current resource version */
  int delta_requests;        /* DeltaDiscoveryRequests received */
  int initial_versions[XDS_NTYPES]; /* delta: initial_resource_versions in the latest stream's first request */
  int unsubscribed[XDS_NTYPES];     /* delta: names unsubscribed, in total */
} xds_server_stats;
void xds_server_get_stats(xds_server *s, xds_server_stats *out);

#endif
