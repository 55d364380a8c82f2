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
 */
typedef enum mesh_error {
  MESH_OK = 0,
  MESH_EINVAL = -1,        /* an argument is invalid (NULL, bad URL, ...) */
  MESH_ENOMEM = -2,        /* out of memory */
  MESH_ESTATE = -3,        /* not allowed now (handle closing, inside a callback, ...) */
  MESH_EWRONGTHREAD = -4,  /* attached mode: called from a thread other than the loop's */
  MESH_ESYSTEM = -5,       /* an operating-system call failed (thread, socket, pipe) */
  MESH_ENOTFOUND = -6,     /* no such call (already finished or never started) */

  MESH_ECONNECT = -10,     /* could not connect to the upstream (refused, unreachable, DNS) */
  MESH_ECONNECT_TIMEOUT = -11, /* the connect timeout expired */
  MESH_ETIMEOUT = -12,     /* the call's timeout expired */
  MESH_ERESET = -13,       /* the upstream reset the stream or closed the connection mid-call */
  MESH_EPROTOCOL = -14,    /* the upstream broke the HTTP protocol */
  MESH_ETOOLARGE = -15,    /* response headers or body exceeded the configured bound */
  MESH_ECANCELED = -16,    /* canceled by mesh_call_cancel() or mesh_free() */
  MESH_EDNS = -17,         /* the upstream host name did not resolve */
  MESH_EOVERFLOW = -18     /* too many calls waiting for a connection */
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

/* A log line: no trailing newline. Called on the loop thread. */
typedef void (*mesh_log_cb)(int level, const char *message, void *user_data);

MESH_EXTERN int mesh_options_new(mesh_options **out);
MESH_EXTERN void mesh_options_free(mesh_options *opts);

/* Bound on establishing a TCP connection; default 5000 ms. 0 is invalid. */
MESH_EXTERN int mesh_options_set_connect_timeout_ms(mesh_options *opts, uint32_t ms);
/* Timeout of a call that sets none; default 15000 ms; 0 disables it. */
MESH_EXTERN int mesh_options_set_default_timeout_ms(mesh_options *opts, uint32_t ms);
/* Default upstream protocol; default MESH_PROTOCOL_HTTP1. */
MESH_EXTERN int mesh_options_set_protocol(mesh_options *opts, int protocol);
/* Bound on a response's header section (status, headers, trailers);
 * default 65536 bytes, minimum 1024. */
MESH_EXTERN int mesh_options_set_max_response_header_bytes(mesh_options *opts, uint32_t bytes);
/* Bound on a response body; default 16 MiB. 0 is invalid. */
MESH_EXTERN int mesh_options_set_max_response_body_bytes(mesh_options *opts, uint64_t bytes);
/* Bound on connections per upstream endpoint; default 1024. Calls beyond
 * what the connections can carry wait in a queue, bounded by
 * mesh_options_set_max_pending_calls(). */
MESH_EXTERN int mesh_options_set_max_connections_per_endpoint(mesh_options *opts, uint32_t n);
/* Bound on calls waiting for a connection, per endpoint; default 4096.
 * A call beyond it ends with MESH_EOVERFLOW. */
MESH_EXTERN int mesh_options_set_max_pending_calls(mesh_options *opts, uint32_t n);
/* Where log lines go; default: WARN and above to stderr. cb NULL silences. */
MESH_EXTERN int mesh_options_set_log_callback(mesh_options *opts, mesh_log_cb cb, void *user_data);
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
 * that created it.
 */
MESH_EXTERN int mesh_new(mesh **out, const mesh_options *opts);

/*
 * Cancel every call in flight (each callback runs once with
 * MESH_ECANCELED), close connections and free the handle. NULL is a no-op;
 * so is a second mesh_free() of the same handle. May be called from inside
 * a libmesh callback: the free then completes when the callback returns.
 */
MESH_EXTERN void mesh_free(mesh *m);

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

typedef struct mesh_request mesh_request;

/*
 * A request for "METHOD url". url is http://host[:port]/path?query (the
 * authority names the destination; see libmesh(7)). The request is only
 * read by mesh_call_start(): it may be reused or freed right after.
 */
MESH_EXTERN int mesh_request_new(mesh_request **out, const char *method, const char *url);
MESH_EXTERN void mesh_request_free(mesh_request *req);
/* Append a header. Names are sent lower-case on HTTP/2. Hop-by-hop
 * headers (Connection, Transfer-Encoding, ...) and Host are rejected. */
MESH_EXTERN int mesh_request_add_header(mesh_request *req, const char *name, const char *value);
/* Set the body (copied). len 0 clears it. */
MESH_EXTERN int mesh_request_set_body(mesh_request *req, const void *body, size_t len);
/* Per-call timeout: from mesh_call_start() to the whole response; 0 uses
 * the handle's default. */
MESH_EXTERN int mesh_request_set_timeout_ms(mesh_request *req, uint32_t ms);
/* Upstream protocol for this call (mesh_protocol). */
MESH_EXTERN int mesh_request_set_protocol(mesh_request *req, int protocol);

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

typedef struct mesh_response mesh_response;

/* MESH_OK when an HTTP response arrived (whatever its status), else why not. */
MESH_EXTERN int mesh_response_error(const mesh_response *resp);
/* A readable account of the error ("" on success). Never NULL. */
MESH_EXTERN const char *mesh_response_detail(const mesh_response *resp);
/* HTTP status, or 0 when mesh_response_error() is not MESH_OK. */
MESH_EXTERN int mesh_response_status(const mesh_response *resp);
/* Protocol the response came over (mesh_protocol), 0 on error before one was chosen. */
MESH_EXTERN int mesh_response_protocol(const mesh_response *resp);
MESH_EXTERN size_t mesh_response_header_count(const mesh_response *resp);
/* The i-th header (names lower-case); MESH_ENOTFOUND past the end. */
MESH_EXTERN int mesh_response_header_at(const mesh_response *resp, size_t i,
                                        const char **name, const char **value);
/* First header of that name (case-insensitive), or NULL. */
MESH_EXTERN const char *mesh_response_header(const mesh_response *resp, const char *name);
MESH_EXTERN size_t mesh_response_trailer_count(const mesh_response *resp);
MESH_EXTERN int mesh_response_trailer_at(const mesh_response *resp, size_t i,
                                         const char **name, const char **value);
/* The body; *len receives its length. Never NULL (an empty body is ""). */
MESH_EXTERN const void *mesh_response_body(const mesh_response *resp, size_t *len);
/* Free a response returned by mesh_call_sync(). NULL is a no-op. */
MESH_EXTERN void mesh_response_free(mesh_response *resp);

/* ------------------------------------------------------------------ */
/* Calls                                                               */
/* ------------------------------------------------------------------ */

/*
 * Called exactly once per started call, on the loop thread. resp is valid
 * only until the callback returns. From inside it you may start and cancel
 * calls and free the handle; you may not call mesh_call_sync().
 */
typedef void (*mesh_response_cb)(const mesh_response *resp, void *user_data);

/*
 * Start a call. On MESH_OK the callback will run exactly once (never from
 * inside this function); on an error it never runs. *call_id (optional)
 * receives an id for mesh_call_cancel(); ids are never 0 or reused.
 */
MESH_EXTERN int mesh_call_start(mesh *m, const mesh_request *req, mesh_response_cb cb,
                                void *user_data, uint64_t *call_id);

/* Cancel a call: its callback runs once with MESH_ECANCELED (unless it has
 * already run). MESH_ENOTFOUND if the call is not in flight. */
MESH_EXTERN int mesh_call_cancel(mesh *m, uint64_t call_id);

/*
 * Blocking call. Own-thread mode: from any thread but the loop thread.
 * Attached mode: runs the app's event base until the call ends; not from
 * inside that loop's callbacks (MESH_ESTATE). On MESH_OK *out is a
 * response to free with mesh_response_free(); check its
 * mesh_response_error(). An error return means no response.
 */
MESH_EXTERN int mesh_call_sync(mesh *m, const mesh_request *req, mesh_response **out);

#ifdef __cplusplus
}
#endif

#endif /* MESH_MESH_H */
