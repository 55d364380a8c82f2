/*
 * libmesh: an in-process service-mesh data plane.
 *
 * This is the one public header (the umbrella). Everything here is stable
 * C ABI: opaque handles, no varargs, no structs passed by value, no
 * dependency types. The libevent adapter lives apart in <mesh/mesh_event.h>.
 *
 * See libmesh(7) for the model, the two loop modes and thread safety.
 */
#ifndef MESH_MESH_H
#define MESH_MESH_H

#include <stddef.h>
#include <stdint.h>

#include <mesh/mesh_version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MESH_BUILDING_LIBRARY) && defined(__GNUC__)
#define MESH_EXTERN __attribute__((visibility("default")))
#else
#define MESH_EXTERN
#endif

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/*
 * Every function that can fail returns MESH_OK (0) or one of these
 * negative codes. Codes are never renumbered; new ones are only added.
 * Codes from -1 to -9 are returned by functions; codes from -10 on (and
 * MESH_ENOMEM) describe how a call ended, in mesh_response_error().
 */
typedef enum mesh_error {
  MESH_OK = 0,
  MESH_EINVAL = -1,        /* an argument is invalid (NULL, bad URL, ...) */
  MESH_ENOMEM = -2,        /* out of memory */
  MESH_ESTATE = -3,        /* not allowed now (handle closing, inside a callback, ...) */
  MESH_EWRONGTHREAD = -4,  /* attached mode: called from a thread other than the loop's */
  MESH_ESYSTEM = -5,       /* an operating-system call failed (thread, socket, pipe) */
  MESH_ENOTFOUND = -6,     /* no such call (already finished or never started) */
  MESH_ECONFIG = -7,       /* the configuration is invalid (see the log or errbuf) */

  MESH_ECONNECT = -10,     /* could not connect to the upstream (refused, unreachable) */
  MESH_ECONNECT_TIMEOUT = -11, /* the connect timeout expired */
  MESH_ETIMEOUT = -12,     /* the call's timeout expired */
  MESH_ERESET = -13,       /* the upstream reset the stream or closed the connection mid-call */
  MESH_EPROTOCOL = -14,    /* the upstream broke the HTTP protocol */
  MESH_ETOOLARGE = -15,    /* response headers or body exceeded the configured bound */
  MESH_ECANCELED = -16,    /* canceled by mesh_call_cancel() or mesh_free() */
  MESH_EDNS = -17,         /* the upstream host name did not resolve */
  MESH_EOVERFLOW = -18,    /* too many calls waiting for a connection */
  MESH_ENOROUTE = -19,     /* no listener, virtual host, route or cluster for the call */
  MESH_ENOHEALTHY = -20    /* the route's cluster has no healthy endpoint */
} mesh_error;

/* A static, human-readable description of an error code. Never NULL. */
MESH_EXTERN const char *mesh_strerror(int err);

/* ------------------------------------------------------------------ */
/* Version                                                             */
/* ------------------------------------------------------------------ */

/* Run-time version: "MAJOR.MINOR.PATCH" and MESH_VERSION_NUM's layout. */
MESH_EXTERN const char *mesh_version(void);
MESH_EXTERN uint32_t mesh_version_num(void);

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

typedef struct mesh_options mesh_options;

/* Upstream protocol of a call. */
typedef enum mesh_protocol {
  MESH_PROTOCOL_DEFAULT = 0, /* per request: use the handle's default */
  MESH_PROTOCOL_HTTP1 = 1,   /* HTTP/1.1 with keep-alive */
  MESH_PROTOCOL_HTTP2 = 2    /* HTTP/2 (cleartext: prior knowledge) */
} mesh_protocol;

typedef enum mesh_log_level {
  MESH_LOG_DEBUG = 0,
  MESH_LOG_INFO = 1,
  MESH_LOG_WARN = 2,
  MESH_LOG_ERROR = 3,
  MESH_LOG_OFF = 4
} mesh_log_level;

/* A log line: no trailing newline; message is valid during the call only.
 * Called on the loop thread (or the thread calling into libmesh); it must
 * not call libmesh functions. */
typedef void (*mesh_log_cb)(int level, const char *message, void *user_data);

/* Options are plain values: not thread-safe, copied by mesh_new(). Every
 * setter returns MESH_EINVAL for a NULL opts or a value out of range and
 * then leaves the option unchanged. */
MESH_EXTERN int mesh_options_new(mesh_options **out);
/* NULL is a no-op. */
MESH_EXTERN void mesh_options_free(mesh_options *opts);

/* Bound on establishing a TCP connection (name resolution not included);
 * default 5000 ms. 0 is invalid. */
MESH_EXTERN int mesh_options_set_connect_timeout_ms(mesh_options *opts, uint32_t ms);
/* Timeout of a call that sets none; default 15000 ms; 0 disables it. */
MESH_EXTERN int mesh_options_set_default_timeout_ms(mesh_options *opts, uint32_t ms);
/* Default upstream protocol: MESH_PROTOCOL_HTTP1 (the default) or
 * MESH_PROTOCOL_HTTP2; MESH_PROTOCOL_DEFAULT is invalid here. */
MESH_EXTERN int mesh_options_set_protocol(mesh_options *opts, int protocol);
/* Bound on a response's header section, headers and trailers together,
 * counted as HTTP/2 counts SETTINGS_MAX_HEADER_LIST_SIZE (decoded name +
 * value + 32 per field); default 65536, below 1024 is invalid. */
MESH_EXTERN int mesh_options_set_max_response_header_bytes(mesh_options *opts, uint32_t bytes);
/* Bound on a response body; default 16 MiB. 0 is invalid. */
MESH_EXTERN int mesh_options_set_max_response_body_bytes(mesh_options *opts, uint64_t bytes);
/* Bound on connections per upstream endpoint (a URL authority and
 * protocol: HTTP/1.1 and HTTP/2 pools are bounded apart); default 1024, 0
 * is invalid. Calls beyond what the connections can carry wait in a
 * queue, bounded by mesh_options_set_max_pending_calls(). */
MESH_EXTERN int mesh_options_set_max_connections_per_endpoint(mesh_options *opts, uint32_t n);
/* Bound on calls waiting for a connection, per endpoint; default 4096, 0
 * is invalid. A call beyond it ends (in its callback) with MESH_EOVERFLOW. */
MESH_EXTERN int mesh_options_set_max_pending_calls(mesh_options *opts, uint32_t n);
/* While the callbacks of calls that ended together run, how long the
 * requests they start may wait for the rest of those callbacks before they
 * are written anyway; default 25 us. 0 writes after every callback; at
 * most 1000000 (1 s). Waiting saves writes; writing early lets the
 * upstream work while the remaining callbacks run. */
MESH_EXTERN int mesh_options_set_write_hold_us(mesh_options *opts, uint32_t us);
/*
 * Route calls by a local config file: YAML or JSON holding xDS v3
 * resources (Envoy's static_resources, a DiscoveryResponse, or a list of
 * typed resources; see libmesh-config(5)). The file is read by mesh_new()
 * (an invalid file fails it with MESH_ECONFIG and a logged reason) and
 * watched: a valid change applies between calls, an invalid one is
 * logged, counted and ignored. Without a config, the URL authority is
 * dialled directly. The path is copied.
 */
MESH_EXTERN int mesh_options_set_config_file(mesh_options *opts, const char *path);
/* Take config from an xDS control plane (ADS) named by a bootstrap in
 * gRPC's format (libmesh-bootstrap(5)): a file, or the JSON text itself.
 * Without either (and without a config file), mesh_new() reads the
 * bootstrap named by MESH_XDS_BOOTSTRAP / GRPC_XDS_BOOTSTRAP or held in
 * MESH_XDS_BOOTSTRAP_CONFIG / GRPC_XDS_BOOTSTRAP_CONFIG, if set. A config
 * file takes precedence. The string is copied. */
MESH_EXTERN int mesh_options_set_xds_bootstrap(mesh_options *opts, const char *path);
MESH_EXTERN int mesh_options_set_xds_bootstrap_config(mesh_options *opts, const char *json);
/* Where log lines go; default: stderr. cb NULL silences. */
MESH_EXTERN int mesh_options_set_log_callback(mesh_options *opts, mesh_log_cb cb, void *user_data);
/* Lines below this level (mesh_log_level) are dropped; default MESH_LOG_WARN. */
MESH_EXTERN int mesh_options_set_log_level(mesh_options *opts, int level);

/* ------------------------------------------------------------------ */
/* The mesh handle                                                     */
/* ------------------------------------------------------------------ */

typedef struct mesh mesh;

/*
 * Create a handle. opts may be NULL (all defaults) and is copied: it may be
 * freed right after. Without an event base (see <mesh/mesh_event.h>) the
 * handle runs its own loop thread and every public call is thread-safe;
 * with one, it is attached to that loop and must be used from the thread
 * that created it, which must be the thread that runs the base. Several
 * handles may share a base. On error *out is NULL.
 */
MESH_EXTERN int mesh_new(mesh **out, const mesh_options *opts);

/*
 * Cancel every call in flight (each callback runs once with
 * MESH_ECANCELED, before mesh_free returns), close connections and free
 * the handle. NULL is a no-op; so is mesh_free() of a handle already
 * freed. May be called from inside a libmesh callback: the free then
 * completes once the callback returns. In attached mode a call from
 * another thread is refused (logged, the handle stays).
 */
MESH_EXTERN void mesh_free(mesh *m);

/*
 * Every config resource the handle holds, as proto3 JSON: its version,
 * status, and the fields it ignored, plus reload counters (see
 * libmesh-config(5)). *out is a NUL-terminated string to free with
 * mesh_string_free(). Own-thread mode: from any thread but the loop's.
 */
MESH_EXTERN int mesh_config_dump(mesh *m, char **out);

/*
 * Validate a config file without a handle: MESH_OK, or MESH_ECONFIG with
 * the reason (file, path to the field, why) in errbuf (may be NULL).
 */
MESH_EXTERN int mesh_config_check_file(const char *path, char *errbuf, size_t errlen);

/* Free a string returned by libmesh. NULL is a no-op. */
MESH_EXTERN void mesh_string_free(char *s);

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

typedef struct mesh_request mesh_request;

/*
 * A request for "METHOD url" (both copied). url is
 * http://host[:port][/path][?query][#fragment]: host a name, an IPv4
 * address or a bracketed IPv6 literal; port 80 by default; no user info;
 * the fragment is dropped. The authority as written is sent as Host
 * (HTTP/1.1) or :authority (HTTP/2) and names the destination (see
 * libmesh(7)). method must be an HTTP token. A bad argument is
 * MESH_EINVAL and *out is NULL. Requests are not thread-safe to modify,
 * but mesh_call_start() only reads them (concurrent starts of one request
 * are fine): a request may be reused or freed right after.
 */
MESH_EXTERN int mesh_request_new(mesh_request **out, const char *method, const char *url);
MESH_EXTERN void mesh_request_free(mesh_request *req);
/* Append a header (copied). The name must be an HTTP token (so no
 * pseudo-headers) and is sent lower-case; the value must hold no CR, LF
 * or NUL. Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding,
 * Upgrade, TE, Host and Content-Length are libmesh's to set: MESH_EINVAL. */
MESH_EXTERN int mesh_request_add_header(mesh_request *req, const char *name, const char *value);
/* Set the body (copied; body may be NULL when len is 0, which clears it).
 * Sent with Content-Length on HTTP/1.1 (also "0" for POST, PUT, PATCH),
 * as DATA frames on HTTP/2. */
MESH_EXTERN int mesh_request_set_body(mesh_request *req, const void *body, size_t len);
/* Per-call timeout: from mesh_call_start() to the whole response; 0 uses
 * the handle's default. */
MESH_EXTERN int mesh_request_set_timeout_ms(mesh_request *req, uint32_t ms);
/* Upstream protocol for this call (mesh_protocol; DEFAULT, the initial
 * value, uses the handle's). */
MESH_EXTERN int mesh_request_set_protocol(mesh_request *req, int protocol);

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

typedef struct mesh_response mesh_response;

/* Every accessor accepts NULL (an error MESH_EINVAL, an empty response).
 * Strings and the body stay valid as long as the response: until the
 * callback returns, or until mesh_response_free(). A response that ended
 * in an error has no headers, trailers or body. 1xx responses are never
 * reported. */

/* MESH_OK when an HTTP response arrived (whatever its status), else why not. */
MESH_EXTERN int mesh_response_error(const mesh_response *resp);
/* A readable account of the error ("" on success). Never NULL. */
MESH_EXTERN const char *mesh_response_detail(const mesh_response *resp);
/* HTTP status, or 0 when mesh_response_error() is not MESH_OK. */
MESH_EXTERN int mesh_response_status(const mesh_response *resp);
/* Protocol the response came over (mesh_protocol), 0 on error before one was chosen. */
MESH_EXTERN int mesh_response_protocol(const mesh_response *resp);
MESH_EXTERN size_t mesh_response_header_count(const mesh_response *resp);
/* The i-th header in the order received (names lower-case);
 * MESH_ENOTFOUND past the end; MESH_EINVAL if name or value is NULL. */
MESH_EXTERN int mesh_response_header_at(const mesh_response *resp, size_t i,
                                        const char **name, const char **value);
/* First header (not trailer) of that name, case-insensitive, or NULL. */
MESH_EXTERN const char *mesh_response_header(const mesh_response *resp, const char *name);
/* Trailers (HTTP/1.1 chunked trailers, HTTP/2 trailing HEADERS; gRPC
 * puts grpc-status here), as for headers. */
MESH_EXTERN size_t mesh_response_trailer_count(const mesh_response *resp);
MESH_EXTERN int mesh_response_trailer_at(const mesh_response *resp, size_t i,
                                         const char **name, const char **value);
/* The body, not NUL-terminated; *len (len may be NULL) receives its
 * length. Never NULL (an empty body is ""). */
MESH_EXTERN const void *mesh_response_body(const mesh_response *resp, size_t *len);
/* Which route, cluster and endpoint ("ip:port") served the call, when a
 * config routed it; NULL otherwise (or not reached). */
MESH_EXTERN const char *mesh_response_route(const mesh_response *resp);
MESH_EXTERN const char *mesh_response_cluster(const mesh_response *resp);
MESH_EXTERN const char *mesh_response_endpoint(const mesh_response *resp);
/* Why libmesh ended or shaped the call, as Envoy's response flags
 * ("UF,URX": no healthy upstream UH, connect failure UF, overflow UO, no
 * route NR, retry limit exceeded URX, timeout UT, reset UR, canceled DC,
 * direct response DR, ...); "" when none. See libmesh-resilience(7). */
MESH_EXTERN const char *mesh_response_flags(const mesh_response *resp);
/* Upstream attempts the call made: 1 + retries; 0 when none started. */
MESH_EXTERN unsigned mesh_response_attempts(const mesh_response *resp);
/* Free a response returned by mesh_call_sync(). NULL is a no-op. */
MESH_EXTERN void mesh_response_free(mesh_response *resp);

/* A counter of the handle by name (retries, timeouts, overflows, response
 * flags: see libmesh-resilience(7)), from any thread; or a gauge of what
 * is in flight ("rq_active", "rq_retry_active", ...), read on the loop
 * (attached mode: from its thread only, else MESH_EWRONGTHREAD).
 * MESH_ENOTFOUND for an unknown name, MESH_EINVAL for NULL arguments. */
MESH_EXTERN int mesh_stat(mesh *m, const char *name, uint64_t *value);

/* ------------------------------------------------------------------ */
/* Calls                                                               */
/* ------------------------------------------------------------------ */

/*
 * Called exactly once per started call, on the loop thread. resp is valid
 * only until the callback returns. From inside it you may start and cancel
 * calls, create handles and free this one; you may not call
 * mesh_call_sync() (MESH_ESTATE).
 */
typedef void (*mesh_response_cb)(const mesh_response *resp, void *user_data);

/*
 * Start a call. cb is required. On MESH_OK the callback will run exactly
 * once, never from inside this function (in own-thread mode it may run on
 * the loop thread before this function returns); on an error it never
 * runs. *call_id (optional) receives an id for mesh_call_cancel(), set
 * before the call can complete; ids are never 0 or reused within a
 * handle. How the call ended (timeout, reset, overflow, ...) is reported
 * to the callback, not returned here. Returns MESH_EINVAL, MESH_ENOMEM,
 * MESH_EWRONGTHREAD or MESH_ESTATE (the handle is being freed).
 */
MESH_EXTERN int mesh_call_start(mesh *m, const mesh_request *req, mesh_response_cb cb,
                                void *user_data, uint64_t *call_id);

/* Cancel a call: its callback runs once with MESH_ECANCELED, later, never
 * inside this function. MESH_ENOTFOUND if the call is not in flight. From
 * a thread other than the loop's (own-thread mode) the cancel is handed to
 * the loop: MESH_OK then means requested, and a call that completes first
 * reports its real outcome. */
MESH_EXTERN int mesh_call_cancel(mesh *m, uint64_t call_id);

/*
 * Blocking call. Own-thread mode: from any thread but the loop thread
 * (MESH_ESTATE there); several threads may block at once. Attached mode:
 * runs the app's event base (dispatching all its events) until the call
 * ends; not from inside a callback of that base (MESH_ESTATE). On MESH_OK
 * *out is a response to free with mesh_response_free(); check its
 * mesh_response_error(). An error return means no response (*out NULL).
 */
MESH_EXTERN int mesh_call_sync(mesh *m, const mesh_request *req, mesh_response **out);

#ifdef __cplusplus
}
#endif

#endif /* MESH_MESH_H */
