/*
 * bench_h2: the HTTP/2 benchmark run by `make bench`.
 *
 * One run compares, over loopback h2c (prior knowledge) against one
 * upstream server process (t/mesh-test-upstream):
 *
 *   direct  a plain nghttp2 + libevent client, no libmesh: the baseline.
 *           One connection, N requests kept in flight, writes batched with
 *           nghttp2_session_mem_send() after each read event.
 *   mesh    the same load through libmesh attached to the bench's own
 *           event_base (mesh_options_set_event_base).
 *   thread  the same load through a libmesh handle running its own loop
 *           thread (no event base).
 *   proxy   the direct client through one HAProxy hop (only when haproxy
 *           is on PATH).
 *
 * Every client keeps N requests in flight: each completion starts the next
 * request at once. A round warms the client up for WARMUP_S on a fresh
 * connection, then measures for a fixed duration: requests completed in
 * the window, the latency of each (monotonic clock, from submission to the
 * end of the response) in a log-linear histogram, and the process's CPU
 * time (getrusage, user + sys; the upstream and HAProxy are other
 * processes, so this is the client's cost only). Clients run interleaved
 * over several rounds and each figure printed is the median across rounds.
 *
 * Layout: the bench process is pinned to CPU 0; the upstream and HAProxy
 * are pinned to CPU 1 (a loopback wakeup across cores costs ~20 us on this
 * class of machine, so an unpinned layout makes the figures noisy).
 *
 * Output: one line per case, e.g.
 *   bench: case=h2_c1 direct_rps=... mesh_rps=... ratio=... ...
 *
 * Build with -DBENCH_NO_MESH to leave out the libmesh clients (to test the
 * harness and the direct client alone); the lines then hold the direct and
 * proxy keys only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#ifndef BENCH_NO_MESH
#include <mesh/mesh.h>
#include <mesh/mesh_event.h>
#endif

/* ------------------------------------------------------------------ */
/* Settings                                                            */
/* ------------------------------------------------------------------ */

#define WARMUP_S 0.3            /* per round, on the fresh connection */
#define DEFAULT_DURATION_S 2.0  /* measured window per round */
#define DEFAULT_ROUNDS 7 /* paired rounds: the median of 7 ratios is steady on a 2-core machine */
#define DEFAULT_CASES "h2_c1,h2_c64"
#define DEFAULT_UPSTREAM "./t/mesh-test-upstream"
#define DRAIN_TIMEOUT_S 10.0    /* bound on finishing the calls in flight */
#define START_TIMEOUT_MS 10000  /* bound on a child process coming up */
#define BENCH_CPU 0             /* where the bench runs */
#define SERVER_CPU 1            /* where the upstream and HAProxy run */
#define READ_BUF_SIZE 65536     /* the direct client's read buffer */
#define MAX_DEPTH 4096          /* bound on requests in flight per case */
#define MAX_ROUNDS 1000

/* The request: GET with no body; the upstream answers 200 with a 64-byte
 * body (the size query parameter). */
#define REQ_PATH "/bench?size=64"

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of the whole process (all threads), user + sys, in µs. */
static double cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void sleep_s(double s) {
  struct timespec ts;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static struct timeval tv_of(double s) {
  struct timeval tv;
  tv.tv_sec = (time_t)s;
  tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
  return tv;
}

static void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fatal(const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "bench_h2: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

static void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void warnx_(const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "bench_h2: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* Pin the calling thread (and the threads it creates later) to one CPU.
 * Returns false when that CPU is not available. */
static bool pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

/* ------------------------------------------------------------------ */
/* Latency histogram                                                   */
/* ------------------------------------------------------------------ */

/*
 * Log-linear over nanoseconds: values below 2^HIST_SUB_BITS get a bucket
 * each; above, every power of two is split into 2^(HIST_SUB_BITS-1) equal
 * buckets, so a bucket is at most 1/128 (0.8%) of its value wide. Adding
 * is a few instructions and never allocates; 2^40 ns (18 min) is the top.
 */
#define HIST_SUB_BITS 8
#define HIST_HALF (1u << (HIST_SUB_BITS - 1))
#define HIST_MAX_BIT 40
#define HIST_BUCKETS ((1u << HIST_SUB_BITS) + (HIST_MAX_BIT - HIST_SUB_BITS + 1) * HIST_HALF)

struct hist {
  uint64_t total;
  uint64_t counts[HIST_BUCKETS];
};

static unsigned hist_index(uint64_t v) {
  if (v < (1u << HIST_SUB_BITS))
    return (unsigned)v;
  if (v >= ((uint64_t)1 << HIST_MAX_BIT))
    v = ((uint64_t)1 << HIST_MAX_BIT) - 1;
  unsigned msb = 63u - (unsigned)__builtin_clzll(v);
  unsigned shift = msb - (HIST_SUB_BITS - 1); /* v >> shift is in [HALF, 2*HALF) */
  return (1u << HIST_SUB_BITS) + (shift - 1) * HIST_HALF + (unsigned)((v >> shift) - HIST_HALF);
}

/* The middle of bucket i, in ns. */
static double hist_value(unsigned i) {
  if (i < (1u << HIST_SUB_BITS))
    return (double)i;
  unsigned shift = (i - (1u << HIST_SUB_BITS)) / HIST_HALF + 1;
  uint64_t sub = (i - (1u << HIST_SUB_BITS)) % HIST_HALF + HIST_HALF;
  double lo = (double)(sub << shift);
  return lo + (double)((uint64_t)1 << shift) / 2.0;
}

static void hist_add(struct hist *h, uint64_t ns) {
  h->counts[hist_index(ns)]++;
  h->total++;
}

/* The q-quantile (0 < q <= 1) in ns; 0 when empty. */
static double hist_quantile(const struct hist *h, double q) {
  if (h->total == 0)
    return 0;
  /* The smallest rank covering a q share of the samples. */
  double want = q * (double)h->total;
  uint64_t rank = (uint64_t)want;
  if ((double)rank < want || rank == 0)
    rank++;
  uint64_t seen = 0;
  for (unsigned i = 0; i < HIST_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= rank)
      return hist_value(i);
  }
  return hist_value(HIST_BUCKETS - 1);
}

/* ------------------------------------------------------------------ */
/* One measured run of one client                                      */
/* ------------------------------------------------------------------ */

enum phase { PHASE_WARMUP, PHASE_MEASURE, PHASE_DRAIN };

/*
 * The state every client shares: the phase, the in-flight count, the
 * measured latencies, failures. Loop clients touch it from their loop
 * thread only; the own-thread client also from libmesh's thread(s), which
 * is why `lock` exists (NULL for loop clients).
 */
struct run {
  int depth;                     /* requests kept in flight */
  atomic_int phase;              /* enum phase */
  atomic_int in_flight;
  atomic_uint_fast64_t failures; /* failed calls, in any phase */
  atomic_flag err_claimed;       /* the first failure writes err[] */
  char err[256];
  struct hist *hist;             /* latencies completed while measuring */
  uint64_t t0_ns, t1_ns;         /* the measured window */
  double cpu0_us, cpu1_us;
  bool timed_out;
  pthread_mutex_t *lock;         /* own-thread client only */
  pthread_cond_t *idle_cond;     /* signalled when drained (own thread) */
  void (*on_idle)(void *ctx);    /* loop clients: drained, stop the loop */
  void *ctx;
};

/* What a round of one client measured. */
struct result {
  double rps, p50_us, p99_us, cpu_us_per_req;
  uint64_t completed, failures;
};

static void run_init(struct run *r, int depth) {
  memset(r, 0, sizeof *r);
  r->depth = depth;
  atomic_init(&r->phase, PHASE_WARMUP);
  atomic_init(&r->in_flight, 0);
  atomic_init(&r->failures, 0);
  atomic_flag_clear(&r->err_claimed);
  r->hist = calloc(1, sizeof *r->hist);
  if (!r->hist)
    fatal("out of memory");
}

static void run_destroy(struct run *r) {
  free(r->hist);
  r->hist = NULL;
}

/* Count n failed calls; the first reason noted is kept for the report
 * (n may be 0 to note a reason whose failures are counted elsewhere). */
static void run_note(struct run *r, unsigned n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void run_note(struct run *r, unsigned n, const char *fmt, ...) {
  atomic_fetch_add_explicit(&r->failures, n, memory_order_relaxed);
  if (!atomic_flag_test_and_set(&r->err_claimed)) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
  }
}

#define run_fail(r, ...) run_note((r), 1, __VA_ARGS__)

static void run_begin_measure(struct run *r) {
  r->cpu0_us = cpu_us();
  r->t0_ns = now_ns();
  atomic_store(&r->phase, PHASE_MEASURE);
}

static void run_end_measure(struct run *r) {
  atomic_store(&r->phase, PHASE_DRAIN);
  r->t1_ns = now_ns();
  r->cpu1_us = cpu_us();
}

/*
 * A successful request finished; lat_ns is its latency. Returns true when
 * the caller should start the next request on the same slot, false when
 * the run is draining (the caller then calls run_retire()).
 */
static bool run_complete(struct run *r, uint64_t lat_ns) {
  int phase = atomic_load_explicit(&r->phase, memory_order_relaxed);
  if (phase == PHASE_MEASURE) {
    if (r->lock) {
      pthread_mutex_lock(r->lock);
      hist_add(r->hist, lat_ns);
      pthread_mutex_unlock(r->lock);
    } else {
      hist_add(r->hist, lat_ns);
    }
  }
  return phase != PHASE_DRAIN;
}

static bool run_refilling(struct run *r) {
  return atomic_load_explicit(&r->phase, memory_order_relaxed) != PHASE_DRAIN;
}

/* One slot stops: no request will be started on it again. */
static void run_retire(struct run *r) {
  if (atomic_fetch_sub(&r->in_flight, 1) != 1)
    return;
  if (atomic_load(&r->phase) != PHASE_DRAIN)
    return; /* every slot failed before the end: the timers end the run */
  if (r->lock) {
    pthread_mutex_lock(r->lock);
    pthread_cond_signal(r->idle_cond);
    pthread_mutex_unlock(r->lock);
  } else if (r->on_idle) {
    r->on_idle(r->ctx);
  }
}

static void run_result(const struct run *r, struct result *out) {
  memset(out, 0, sizeof *out);
  out->completed = r->hist->total;
  out->failures = atomic_load(&r->failures);
  double secs = (double)(r->t1_ns - r->t0_ns) / 1e9;
  if (secs > 0)
    out->rps = (double)out->completed / secs;
  out->p50_us = hist_quantile(r->hist, 0.50) / 1000.0;
  out->p99_us = hist_quantile(r->hist, 0.99) / 1000.0;
  if (out->completed > 0)
    out->cpu_us_per_req = (r->cpu1_us - r->cpu0_us) / (double)out->completed;
}

/*
 * The phase timers of a loop client: warm-up, then the measured window,
 * then drain; a watchdog bounds the drain.
 */
struct loop_timers {
  struct run *r;
  struct event_base *base;
  double duration_s;
  struct event *ev;
  int step; /* 0: warming up, 1: measuring, 2: draining */
};

static void loop_timer_cb(evutil_socket_t fd, short what, void *arg) {
  struct loop_timers *lt = arg;
  struct timeval tv;
  (void)fd;
  (void)what;
  switch (lt->step) {
  case 0:
    run_begin_measure(lt->r);
    lt->step = 1;
    tv = tv_of(lt->duration_s);
    evtimer_add(lt->ev, &tv);
    break;
  case 1:
    run_end_measure(lt->r);
    lt->step = 2;
    if (atomic_load(&lt->r->in_flight) == 0) {
      event_base_loopbreak(lt->base);
      break;
    }
    tv = tv_of(DRAIN_TIMEOUT_S);
    evtimer_add(lt->ev, &tv);
    break;
  default:
    /* The drain did not finish. What is left counts as failed: the
     * client's teardown counts it (libmesh cancels it, the direct client
     * adds it). */
    lt->r->timed_out = true;
    run_note(lt->r, 0, "%d request(s) still in flight %.0f s after the end",
             atomic_load(&lt->r->in_flight), DRAIN_TIMEOUT_S);
    event_base_loopbreak(lt->base);
    break;
  }
}

static void loop_timers_start(struct loop_timers *lt, struct event_base *base, struct run *r,
                              double duration_s) {
  lt->r = r;
  lt->base = base;
  lt->duration_s = duration_s;
  lt->step = 0;
  lt->ev = evtimer_new(base, loop_timer_cb, lt);
  if (!lt->ev)
    fatal("evtimer_new failed");
  struct timeval tv = tv_of(WARMUP_S);
  evtimer_add(lt->ev, &tv);
}

static void loop_timers_stop(struct loop_timers *lt) {
  if (lt->ev)
    event_free(lt->ev);
  lt->ev = NULL;
}

static void loop_idle_cb(void *ctx) {
  event_base_loopbreak(ctx);
}

/* ------------------------------------------------------------------ */
/* The direct client: nghttp2 + libevent, no libmesh                   */
/* ------------------------------------------------------------------ */

/* One request kept in flight. */
struct direct_slot {
  uint64_t start_ns;
  int status;
};

struct direct {
  struct run *run;
  struct event_base *base;
  int fd;
  struct event *ev_read;  /* persistent */
  struct event *ev_write; /* added only while output is blocked */
  nghttp2_session *sess;
  struct direct_slot *slots;
  nghttp2_nv nva[4];
  char authority[32];
  bool dead; /* the connection failed; the loop is stopping */

  /* Output gathered from nghttp2_session_mem_send(), written in one go. */
  uint8_t *wbuf;
  size_t wlen, woff, wcap;

  uint8_t rbuf[READ_BUF_SIZE];
};

/* The connection is unusable: every request in flight failed. */
static void direct_die(struct direct *d, const char *why) {
  if (d->dead)
    return;
  d->dead = true;
  int left = atomic_exchange(&d->run->in_flight, 0);
  run_note(d->run, (unsigned)left, "direct connection: %s", why);
  event_base_loopbreak(d->base);
}

/* Start a request on slot s; false (and the failure counted) if nghttp2
 * refuses it. */
static bool direct_submit(struct direct *d, struct direct_slot *s) {
  s->status = 0;
  s->start_ns = now_ns();
  int32_t id = nghttp2_submit_request(d->sess, NULL, d->nva, 4, NULL, s);
  if (id < 0) {
    run_fail(d->run, "nghttp2_submit_request: %s", nghttp2_strerror(id));
    return false;
  }
  return true;
}

/*
 * Write what nghttp2 has queued: gather every pending frame into wbuf and
 * send it with one system call. Stops when the socket is full (EV_WRITE
 * then resumes). Returns false on a connection error.
 */
static bool direct_flush(struct direct *d) {
  for (;;) {
    while (d->woff < d->wlen) {
      ssize_t n = send(d->fd, d->wbuf + d->woff, d->wlen - d->woff, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          event_add(d->ev_write, NULL);
          return true;
        }
        return false;
      }
      d->woff += (size_t)n;
    }
    d->woff = d->wlen = 0;

    /* Gather up to ~64 KiB of frames; nghttp2's pointer is only valid
     * until its next call, hence the copy. */
    while (d->wlen < READ_BUF_SIZE) {
      const uint8_t *data;
      ssize_t n = nghttp2_session_mem_send(d->sess, &data);
      if (n < 0)
        return false;
      if (n == 0)
        break;
      if (d->wlen + (size_t)n > d->wcap) {
        size_t cap = d->wcap * 2;
        while (cap < d->wlen + (size_t)n)
          cap *= 2;
        uint8_t *p = realloc(d->wbuf, cap);
        if (!p)
          return false;
        d->wbuf = p;
        d->wcap = cap;
      }
      memcpy(d->wbuf + d->wlen, data, (size_t)n);
      d->wlen += (size_t)n;
    }
    if (d->wlen == 0)
      return true;
  }
}

static void direct_on_write(evutil_socket_t fd, short what, void *arg) {
  struct direct *d = arg;
  (void)fd;
  (void)what;
  if (!direct_flush(d))
    direct_die(d, "write failed");
}

/* Read everything available, feed it to nghttp2 (whose callbacks submit
 * the next requests), then write all the resulting frames at once. */
static void direct_on_read(evutil_socket_t fd, short what, void *arg) {
  struct direct *d = arg;
  (void)what;
  for (;;) {
    ssize_t n = recv(fd, d->rbuf, sizeof d->rbuf, 0);
    if (n > 0) {
      ssize_t rv = nghttp2_session_mem_recv(d->sess, d->rbuf, (size_t)n);
      if (rv < 0) {
        direct_die(d, nghttp2_strerror((int)rv));
        return;
      }
      if (d->dead)
        return;
      if ((size_t)n < sizeof d->rbuf)
        break; /* drained the socket: skip the EAGAIN round trip */
      continue;
    }
    if (n == 0) {
      direct_die(d, "the server closed the connection");
      return;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      break;
    direct_die(d, strerror(errno));
    return;
  }
  if (!direct_flush(d))
    direct_die(d, "write failed");
}

static int direct_on_header(nghttp2_session *sess, const nghttp2_frame *frame,
                            const uint8_t *name, size_t namelen, const uint8_t *value,
                            size_t valuelen, uint8_t flags, void *user_data) {
  (void)flags;
  (void)user_data;
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_RESPONSE)
    return 0;
  if (namelen == 7 && memcmp(name, ":status", 7) == 0 && valuelen == 3) {
    struct direct_slot *s = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
    if (s)
      s->status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
  }
  return 0;
}

/* A stream ended (the whole response arrived, or it was reset): account
 * for it and put the next request on the same slot. */
static int direct_on_stream_close(nghttp2_session *sess, int32_t stream_id,
                                  uint32_t error_code, void *user_data) {
  struct direct *d = user_data;
  struct direct_slot *s = nghttp2_session_get_stream_user_data(sess, stream_id);
  if (!s || d->dead)
    return 0;
  uint64_t end = now_ns();
  bool next;
  if (error_code != NGHTTP2_NO_ERROR) {
    run_fail(d->run, "stream reset: %s", nghttp2_http2_strerror(error_code));
    next = run_refilling(d->run);
  } else if (s->status != 200) {
    run_fail(d->run, "status %d", s->status);
    next = run_refilling(d->run);
  } else {
    next = run_complete(d->run, end - s->start_ns);
  }
  if (!next || !direct_submit(d, s))
    run_retire(d->run);
  return 0;
}

static int connect_loopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static nghttp2_nv make_nv(const char *name, const char *value) {
  nghttp2_nv nv;
  nv.name = (uint8_t *)name;
  nv.namelen = strlen(name);
  nv.value = (uint8_t *)value;
  nv.valuelen = strlen(value);
  nv.flags = NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
  return nv;
}

/* One round of the direct client against port (the upstream, or HAProxy). */
static void run_direct(int port, int depth, double duration_s, struct result *out) {
  struct run run;
  struct loop_timers lt = {0};
  struct direct *d = calloc(1, sizeof *d);
  if (!d)
    fatal("out of memory");
  run_init(&run, depth);
  d->run = &run;
  d->fd = -1;

  d->base = event_base_new();
  if (!d->base)
    fatal("event_base_new failed");
  run.on_idle = loop_idle_cb;
  run.ctx = d->base;

  d->fd = connect_loopback(port);
  if (d->fd < 0)
    fatal("connect to 127.0.0.1:%d: %s", port, strerror(errno));
  int one = 1;
  setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(d->fd, F_SETFL, fcntl(d->fd, F_GETFL) | O_NONBLOCK);

  d->wcap = READ_BUF_SIZE;
  d->wbuf = malloc(d->wcap);
  d->slots = calloc((size_t)depth, sizeof *d->slots);
  if (!d->wbuf || !d->slots)
    fatal("out of memory");

  snprintf(d->authority, sizeof d->authority, "127.0.0.1:%d", port);
  d->nva[0] = make_nv(":method", "GET");
  d->nva[1] = make_nv(":scheme", "http");
  d->nva[2] = make_nv(":authority", d->authority);
  d->nva[3] = make_nv(":path", REQ_PATH);

  nghttp2_session_callbacks *cbs;
  if (nghttp2_session_callbacks_new(&cbs) != 0)
    fatal("out of memory");
  nghttp2_session_callbacks_set_on_header_callback(cbs, direct_on_header);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, direct_on_stream_close);
  int rv = nghttp2_session_client_new(&d->sess, cbs, d);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0)
    fatal("nghttp2_session_client_new: %s", nghttp2_strerror(rv));

  /* Our SETTINGS: no push; a window big enough never to stall. */
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 20},
  };
  nghttp2_submit_settings(d->sess, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
  nghttp2_session_set_local_window_size(d->sess, NGHTTP2_FLAG_NONE, 0, 1 << 24);

  d->ev_read = event_new(d->base, d->fd, EV_READ | EV_PERSIST, direct_on_read, d);
  d->ev_write = event_new(d->base, d->fd, EV_WRITE, direct_on_write, d);
  if (!d->ev_read || !d->ev_write)
    fatal("event_new failed");
  event_add(d->ev_read, NULL);

  /* Fill the pipe: `depth` requests go out with the preface and SETTINGS
   * in one write. */
  atomic_store(&run.in_flight, depth);
  for (int i = 0; i < depth; i++)
    if (!direct_submit(d, &d->slots[i]))
      run_retire(&run);
  if (!direct_flush(d))
    direct_die(d, "write failed");

  loop_timers_start(&lt, d->base, &run, duration_s);
  if (!d->dead)
    event_base_dispatch(d->base);
  if (lt.step < 2) /* the loop stopped early (a dead connection) */
    run_end_measure(&run);
  if (run.timed_out)
    atomic_fetch_add(&run.failures, (unsigned)atomic_load(&run.in_flight));

  /* Say goodbye politely (best effort) and tear down. */
  if (!d->dead) {
    nghttp2_session_terminate_session(d->sess, NGHTTP2_NO_ERROR);
    direct_flush(d);
  }
  loop_timers_stop(&lt);
  event_free(d->ev_read);
  event_free(d->ev_write);
  nghttp2_session_del(d->sess);
  close(d->fd);
  event_base_free(d->base);

  run_result(&run, out);
  if (out->failures > 0)
    warnx_("direct client (port %d): %llu failed call(s), first: %s", port,
           (unsigned long long)out->failures, run.err);
  run_destroy(&run);
  free(d->wbuf);
  free(d->slots);
  free(d);
}

/* ------------------------------------------------------------------ */
/* The libmesh clients                                                 */
/* ------------------------------------------------------------------ */

#ifndef BENCH_NO_MESH

struct mclient;

/* One call kept in flight. */
struct mslot {
  struct mclient *c;
  uint64_t start_ns;
};

struct mclient {
  struct run *run;
  mesh *m;
  mesh_request *req; /* built once, reused by every call */
  struct mslot *slots;
};

static void mesh_on_response(const mesh_response *resp, void *user_data);

/* Start a call on slot s; false (and the failure counted) if refused. */
static bool mclient_start(struct mclient *c, struct mslot *s) {
  s->start_ns = now_ns();
  int rv = mesh_call_start(c->m, c->req, mesh_on_response, s, NULL);
  if (rv != MESH_OK) {
    run_fail(c->run, "mesh_call_start: %s", mesh_strerror(rv));
    return false;
  }
  return true;
}

/* A call ended (on the loop thread: the app's, or libmesh's own): account
 * for it and start the next one on the same slot. */
static void mesh_on_response(const mesh_response *resp, void *user_data) {
  struct mslot *s = user_data;
  struct mclient *c = s->c;
  uint64_t end = now_ns();
  int err = mesh_response_error(resp);
  bool next;
  if (err != MESH_OK) {
    run_fail(c->run, "%s (%s)", mesh_strerror(err), mesh_response_detail(resp));
    next = run_refilling(c->run);
  } else if (mesh_response_status(resp) != 200) {
    run_fail(c->run, "status %d", mesh_response_status(resp));
    next = run_refilling(c->run);
  } else {
    next = run_complete(c->run, end - s->start_ns);
  }
  if (!next || !mclient_start(c, s))
    run_retire(c->run);
}

/* The handle and request of one round; base NULL means own-thread mode. */
static void mclient_open(struct mclient *c, struct run *run, int port, struct event_base *base) {
  mesh_options *o;
  int rv;
  char url[64];

  memset(c, 0, sizeof *c);
  c->run = run;
  if ((rv = mesh_options_new(&o)) != MESH_OK)
    fatal("mesh_options_new: %s", mesh_strerror(rv));
  if (base && (rv = mesh_options_set_event_base(o, base)) != MESH_OK)
    fatal("mesh_options_set_event_base: %s", mesh_strerror(rv));
  if ((rv = mesh_options_set_protocol(o, MESH_PROTOCOL_HTTP2)) != MESH_OK)
    fatal("mesh_options_set_protocol: %s", mesh_strerror(rv));
  if ((rv = mesh_new(&c->m, o)) != MESH_OK)
    fatal("mesh_new: %s", mesh_strerror(rv));
  mesh_options_free(o);

  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, REQ_PATH);
  if ((rv = mesh_request_new(&c->req, "GET", url)) != MESH_OK)
    fatal("mesh_request_new(%s): %s", url, mesh_strerror(rv));

  c->slots = calloc((size_t)run->depth, sizeof *c->slots);
  if (!c->slots)
    fatal("out of memory");
  for (int i = 0; i < run->depth; i++)
    c->slots[i].c = c;
}

/* Fill the pipe: `depth` calls. */
static void mclient_fill(struct mclient *c) {
  atomic_store(&c->run->in_flight, c->run->depth);
  for (int i = 0; i < c->run->depth; i++)
    if (!mclient_start(c, &c->slots[i]))
      run_retire(c->run);
}

static void mclient_close(struct mclient *c) {
  mesh_free(c->m); /* cancels anything left (a timed-out drain) */
  mesh_request_free(c->req);
  free(c->slots);
}

static void report_failures(const char *who, const struct result *res, const struct run *run) {
  if (res->failures > 0)
    warnx_("%s: %llu failed call(s), first: %s", who, (unsigned long long)res->failures,
           run->err);
}

/* One round of libmesh attached to the bench's own event_base. */
static void run_mesh_attached(int port, int depth, double duration_s, struct result *out) {
  struct run run;
  struct mclient c;
  struct loop_timers lt = {0};

  struct event_base *base = event_base_new();
  if (!base)
    fatal("event_base_new failed");
  run_init(&run, depth);
  run.on_idle = loop_idle_cb;
  run.ctx = base;

  mclient_open(&c, &run, port, base);
  mclient_fill(&c);
  loop_timers_start(&lt, base, &run, duration_s);
  event_base_dispatch(base);
  if (lt.step < 2)
    run_end_measure(&run);
  loop_timers_stop(&lt);
  mclient_close(&c);
  event_base_free(base);

  run_result(&run, out);
  report_failures("mesh attached", out, &run);
  run_destroy(&run);
}

/* One round of libmesh on its own loop thread. The callbacks (on
 * libmesh's thread) refill; this thread only keeps time. */
static void run_mesh_thread(int port, int depth, double duration_s, struct result *out) {
  struct run run;
  struct mclient c;
  pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t idle;
  pthread_condattr_t ca;

  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&idle, &ca);
  pthread_condattr_destroy(&ca);

  run_init(&run, depth);
  run.lock = &lock;
  run.idle_cond = &idle;

  mclient_open(&c, &run, port, NULL);
  mclient_fill(&c);
  sleep_s(WARMUP_S);
  run_begin_measure(&run);
  sleep_s(duration_s);
  run_end_measure(&run);

  /* Wait for the calls in flight to finish. */
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += (time_t)DRAIN_TIMEOUT_S;
  pthread_mutex_lock(&lock);
  while (atomic_load(&run.in_flight) > 0) {
    if (pthread_cond_timedwait(&idle, &lock, &deadline) == ETIMEDOUT) {
      if (atomic_load(&run.in_flight) > 0) {
        run.timed_out = true; /* mesh_free() below cancels them: failures */
        run_note(&run, 0, "%d call(s) still in flight %.0f s after the end",
                 atomic_load(&run.in_flight), DRAIN_TIMEOUT_S);
      }
      break;
    }
  }
  pthread_mutex_unlock(&lock);

  mclient_close(&c); /* a timed-out drain's calls end here, as failures */

  pthread_mutex_lock(&lock); /* pairs with the callbacks' histogram updates */
  run_result(&run, out);
  pthread_mutex_unlock(&lock);
  report_failures("mesh own-thread", out, &run);
  run_destroy(&run);
  pthread_cond_destroy(&idle);
  pthread_mutex_destroy(&lock);
}

#endif /* BENCH_NO_MESH */

/* ------------------------------------------------------------------ */
/* Child processes: the upstream and HAProxy                           */
/* ------------------------------------------------------------------ */

static pid_t g_upstream_pid = -1;
static pid_t g_proxy_pid = -1;
static char g_proxy_dir[64];

/*
 * In a fresh child: die with the bench, run on SERVER_CPU (when there is
 * one), send stdout to out_fd (or leave it), then exec.
 */
static void child_exec(char *const argv[], int out_fd, bool pin) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1)
    _exit(127); /* the bench is already gone */
  if (pin)
    pin_to_cpu(SERVER_CPU);
  if (out_fd >= 0) {
    dup2(out_fd, STDOUT_FILENO);
    close(out_fd);
  }
  execv(argv[0], argv);
  fprintf(stderr, "bench_h2: exec %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

static void stop_child(pid_t *pid) {
  if (*pid <= 0)
    return;
  kill(*pid, SIGTERM);
  waitpid(*pid, NULL, 0);
  *pid = -1;
}

static void cleanup_children(void) {
  stop_child(&g_proxy_pid);
  stop_child(&g_upstream_pid);
  if (g_proxy_dir[0]) {
    char path[128];
    snprintf(path, sizeof path, "%s/haproxy.cfg", g_proxy_dir);
    unlink(path);
    rmdir(g_proxy_dir);
    g_proxy_dir[0] = '\0';
  }
}

/*
 * Start the upstream and read its "port=NNNN" line. The pipe stays open
 * (closing it would give the upstream SIGPIPE should it print more).
 */
static int start_upstream(const char *path, bool pin) {
  int fds[2];
  char cpu[16];
  snprintf(cpu, sizeof cpu, "%d", SERVER_CPU);

  if (access(path, X_OK) != 0)
    fatal("upstream %s: %s (build it, or pass --upstream PATH or set MESH_TEST_UPSTREAM)",
          path, strerror(errno));
  if (pipe2(fds, O_CLOEXEC) != 0)
    fatal("pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid < 0)
    fatal("fork: %s", strerror(errno));
  if (pid == 0) {
    char *argv[] = {(char *)path, "--port", "0", "--cpu", cpu, NULL};
    if (!pin)
      argv[3] = NULL; /* one CPU only: let the upstream float */
    close(fds[0]);
    child_exec(argv, fds[1], pin);
  }
  close(fds[1]);
  g_upstream_pid = pid;

  /* Read until a full "port=" line arrives, bounded in time. */
  char line[256];
  size_t len = 0;
  uint64_t deadline = now_ns() + (uint64_t)START_TIMEOUT_MS * 1000000u;
  for (;;) {
    char *nl = memchr(line, '\n', len);
    if (nl) {
      *nl = '\0';
      int port = 0;
      if (sscanf(line, "port=%d", &port) == 1 && port > 0 && port < 65536)
        return port;
      /* Another line first: drop it. */
      len -= (size_t)(nl + 1 - line);
      memmove(line, nl + 1, len);
      continue;
    }
    uint64_t now = now_ns();
    if (now >= deadline)
      fatal("upstream %s did not print port= within %d ms", path, START_TIMEOUT_MS);
    struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
    int left_ms = (int)((deadline - now) / 1000000u) + 1;
    if (poll(&pfd, 1, left_ms) < 0 && errno != EINTR)
      fatal("poll: %s", strerror(errno));
    if (len == sizeof line - 1)
      len = 0; /* an absurdly long line: drop it */
    ssize_t n = read(fds[0], line + len, sizeof line - 1 - len);
    if (n == 0) {
      int status = 0;
      waitpid(pid, &status, 0);
      g_upstream_pid = -1;
      fatal("upstream %s exited before listening (status %d)", path,
            WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
    if (n > 0)
      len += (size_t)n;
  }
}

/* The full path of prog on PATH, or false. */
static bool find_on_path(const char *prog, char *out, size_t outlen) {
  const char *p = getenv("PATH");
  if (!p)
    p = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";
  while (*p) {
    const char *end = strchr(p, ':');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n > 0 && (size_t)snprintf(out, outlen, "%.*s/%s", (int)n, p, prog) < outlen &&
        access(out, X_OK) == 0)
      return true;
    p += n;
    if (*p == ':')
      p++;
  }
  return false;
}

/* A loopback port nobody listens on now (the usual small race is fine for
 * a bench). */
static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  close(fd);
  return ntohs(sa.sin_port);
}

/*
 * Start HAProxy as one h2 -> h2 hop in front of the upstream, when it is on
 * PATH. Returns its port, or 0 (the proxy figures are then left out).
 */
static int start_proxy(int upstream_port, bool pin) {
  char haproxy[PATH_MAX], cfg[128];
  if (!find_on_path("haproxy", haproxy, sizeof haproxy))
    return 0;
  int port = free_port();
  snprintf(g_proxy_dir, sizeof g_proxy_dir, "/tmp/bench_h2.XXXXXX");
  if (port <= 0 || !mkdtemp(g_proxy_dir)) {
    g_proxy_dir[0] = '\0';
    warnx_("cannot set up HAProxy; leaving the proxy figures out");
    return 0;
  }
  snprintf(cfg, sizeof cfg, "%s/haproxy.cfg", g_proxy_dir);
  FILE *f = fopen(cfg, "w");
  if (!f) {
    warnx_("%s: %s; leaving the proxy figures out", cfg, strerror(errno));
    return 0;
  }
  /* One thread (it shares SERVER_CPU with the upstream), h2 on both sides,
   * no logging. */
  fprintf(f,
          "global\n"
          "  nbthread 1\n"
          "  maxconn 4096\n"
          "defaults\n"
          "  mode http\n"
          "  timeout connect 5s\n"
          "  timeout client 60s\n"
          "  timeout server 60s\n"
          "frontend fe\n"
          "  bind 127.0.0.1:%d proto h2\n"
          "  default_backend be\n"
          "backend be\n"
          "  server up 127.0.0.1:%d proto h2\n",
          port, upstream_port);
  fclose(f);

  pid_t pid = fork();
  if (pid < 0) {
    warnx_("fork: %s; leaving the proxy figures out", strerror(errno));
    return 0;
  }
  if (pid == 0) {
    char *argv[] = {haproxy, "-q", "-db", "-f", cfg, NULL};
    int devnull = open("/dev/null", O_WRONLY);
    child_exec(argv, devnull, pin);
  }
  g_proxy_pid = pid;

  /* Wait until it accepts connections. */
  uint64_t deadline = now_ns() + (uint64_t)START_TIMEOUT_MS * 1000000u;
  while (now_ns() < deadline) {
    int fd = connect_loopback(port);
    if (fd >= 0) {
      close(fd);
      return port;
    }
    if (waitpid(pid, NULL, WNOHANG) == pid) {
      g_proxy_pid = -1;
      warnx_("haproxy exited at start (config %s); leaving the proxy figures out", cfg);
      return 0;
    }
    sleep_s(0.01);
  }
  warnx_("haproxy did not listen within %d ms; leaving the proxy figures out",
         START_TIMEOUT_MS);
  stop_child(&g_proxy_pid);
  return 0;
}

/* ------------------------------------------------------------------ */
/* Cases, rounds, report                                               */
/* ------------------------------------------------------------------ */

enum client { C_DIRECT, C_MESH, C_THREAD, C_PROXY, C_COUNT };

static const char *const client_names[C_COUNT] = {"direct", "mesh", "thread", "proxy"};

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of one field (at byte offset off) across n results. */
static double median_of(const struct result *rs, int n, size_t off) {
  double v[MAX_ROUNDS];
  for (int i = 0; i < n; i++)
    memcpy(&v[i], (const char *)&rs[i] + off, sizeof(double));
  qsort(v, (size_t)n, sizeof v[0], cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

#define MEDIAN(rs, n, field) median_of((rs), (n), offsetof(struct result, field))

struct config {
  double duration_s;
  int rounds;
  const char *cases;
  const char *upstream;
};

static void usage(FILE *f) {
  fprintf(f,
          "usage: bench_h2 [--duration S] [--rounds N] [--cases h2_c1,h2_c64]"
          " [--upstream PATH]\n"
          "  --duration S   measured seconds per client and round (default %.0f;"
          " env MESH_BENCH_DURATION)\n"
          "  --rounds N     interleaved rounds; medians are reported (default %d)\n"
          "  --cases LIST   h2_cN: N requests in flight (default %s)\n"
          "  --upstream P   the test upstream (env MESH_TEST_UPSTREAM; default %s)\n"
          "Env MESH_BENCH_VERBOSE=1 prints every round's figures to stderr.\n",
          DEFAULT_DURATION_S, DEFAULT_ROUNDS, DEFAULT_CASES, DEFAULT_UPSTREAM);
}

static double parse_duration(const char *s) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v > 0) || v > 3600)
    fatal("bad duration '%s' (seconds, > 0)", s);
  return v;
}

static void parse_args(int argc, char **argv, struct config *cfg) {
  const char *env;
  cfg->duration_s = DEFAULT_DURATION_S;
  cfg->rounds = DEFAULT_ROUNDS;
  cfg->cases = DEFAULT_CASES;
  cfg->upstream = DEFAULT_UPSTREAM;
  if ((env = getenv("MESH_BENCH_DURATION")) && *env)
    cfg->duration_s = parse_duration(env);
  if ((env = getenv("MESH_TEST_UPSTREAM")) && *env)
    cfg->upstream = env;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      exit(0);
    }
    if (i + 1 >= argc) {
      usage(stderr);
      fatal("%s: unknown option or missing value", a);
    }
    const char *v = argv[++i];
    if (!strcmp(a, "--duration")) {
      cfg->duration_s = parse_duration(v);
    } else if (!strcmp(a, "--rounds")) {
      char *end;
      long n = strtol(v, &end, 10);
      if (end == v || *end || n < 1 || n > MAX_ROUNDS)
        fatal("bad round count '%s'", v);
      cfg->rounds = (int)n;
    } else if (!strcmp(a, "--cases")) {
      cfg->cases = v;
    } else if (!strcmp(a, "--upstream")) {
      cfg->upstream = v;
    } else {
      usage(stderr);
      fatal("unknown option %s", a);
    }
  }
}

/* "h2_cN" -> N, or 0 when malformed. */
static int parse_case(const char *name) {
  char *end;
  if (strncmp(name, "h2_c", 4) != 0)
    return 0;
  long n = strtol(name + 4, &end, 10);
  if (end == name + 4 || *end || n < 1 || n > MAX_DEPTH)
    return 0;
  return (int)n;
}

/* Run one case over every round; print its line. Returns the number of
 * failed calls. */
/* Median of n doubles (sorts a copy). */
static double median_d(const double *v, int n) {
  double tmp[n];
  memcpy(tmp, v, sizeof tmp);
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && tmp[j - 1] > tmp[j]; j--) {
      double t = tmp[j];
      tmp[j] = tmp[j - 1];
      tmp[j - 1] = t;
    }
  return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

static uint64_t run_case(const char *name, int depth, const struct config *cfg, int up_port,
                         int proxy_port) {
  int rounds = cfg->rounds;
  struct result *res = calloc((size_t)C_COUNT * (size_t)rounds, sizeof *res);
  if (!res)
    fatal("out of memory");
#define RES(c, r) (&res[(size_t)(c) * (size_t)rounds + (size_t)(r)])
  uint64_t failures = 0;

  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < C_COUNT; k++) {
      /* Odd rounds run the direct and attached clients in the other order
       * (ABBA): neither gains from always running first. */
      int c = k;
      if (r % 2 == 1 && k < 2)
        c = 1 - k;
      struct result *out = RES(c, r);
      /* MESH_BENCH_CLIENTS=direct,mesh,... runs only those (profiling). */
      const char *only = getenv("MESH_BENCH_CLIENTS");
      if (only && !strstr(only, client_names[c]))
        continue;
      switch (c) {
      case C_DIRECT:
        run_direct(up_port, depth, cfg->duration_s, out);
        break;
#ifndef BENCH_NO_MESH
      case C_MESH:
        run_mesh_attached(up_port, depth, cfg->duration_s, out);
        break;
      case C_THREAD:
        run_mesh_thread(up_port, depth, cfg->duration_s, out);
        break;
#endif
      case C_PROXY:
        if (proxy_port > 0)
          run_direct(proxy_port, depth, cfg->duration_s, out);
        break;
      default:
        break;
      }
      failures += out->failures;
#ifdef BENCH_NO_MESH
      if (c == C_MESH || c == C_THREAD)
        continue;
#endif
      if (c == C_PROXY && proxy_port <= 0)
        continue;
      if (getenv("MESH_BENCH_VERBOSE"))
        fprintf(stderr,
                "bench_h2: %s round %d %s: rps=%.0f p50=%.1fus p99=%.1fus cpu=%.2fus/req n=%llu\n",
                name, r + 1, client_names[c], out->rps, out->p50_us, out->p99_us,
                out->cpu_us_per_req, (unsigned long long)out->completed);
    }
  }

  double d_rps = MEDIAN(RES(C_DIRECT, 0), rounds, rps);
  double d_p50 = MEDIAN(RES(C_DIRECT, 0), rounds, p50_us);
  double d_p99 = MEDIAN(RES(C_DIRECT, 0), rounds, p99_us);
  double d_cpu = MEDIAN(RES(C_DIRECT, 0), rounds, cpu_us_per_req);

  printf("bench: case=%s direct_rps=%.0f", name, d_rps);
#ifndef BENCH_NO_MESH
  double m_rps = MEDIAN(RES(C_MESH, 0), rounds, rps);
  double m_p50 = MEDIAN(RES(C_MESH, 0), rounds, p50_us);
  double m_p99 = MEDIAN(RES(C_MESH, 0), rounds, p99_us);
  double m_cpu = MEDIAN(RES(C_MESH, 0), rounds, cpu_us_per_req);
  /* Ratio and added latency pair each mesh round with the direct round
   * next to it, then take the median: slow drift of the machine cancels. */
  double ratios[rounds], added[rounds];
  for (int r = 0; r < rounds; r++) {
    ratios[r] = RES(C_DIRECT, r)->rps > 0 ? RES(C_MESH, r)->rps / RES(C_DIRECT, r)->rps : 0.0;
    added[r] = RES(C_MESH, r)->p50_us - RES(C_DIRECT, r)->p50_us;
  }
  printf(" mesh_rps=%.0f ratio=%.2f direct_p50_us=%.0f mesh_p50_us=%.0f added_p50_us=%.1f"
         " direct_p99_us=%.0f mesh_p99_us=%.0f direct_cpu_us_per_req=%.1f"
         " mesh_cpu_us_per_req=%.1f thread_rps=%.0f thread_p50_us=%.0f",
         m_rps, median_d(ratios, rounds), d_p50, m_p50, median_d(added, rounds), d_p99, m_p99,
         d_cpu, m_cpu, MEDIAN(RES(C_THREAD, 0), rounds, rps),
         MEDIAN(RES(C_THREAD, 0), rounds, p50_us));
#else
  printf(" direct_p50_us=%.0f direct_p99_us=%.0f direct_cpu_us_per_req=%.0f", d_p50, d_p99,
         d_cpu);
#endif
  if (proxy_port > 0)
    printf(" proxy_rps=%.0f proxy_p50_us=%.0f", MEDIAN(RES(C_PROXY, 0), rounds, rps),
           MEDIAN(RES(C_PROXY, 0), rounds, p50_us));
  printf("\n");
  fflush(stdout);
#undef RES
  free(res);
  return failures;
}

int main(int argc, char **argv) {
  struct config cfg;
  parse_args(argc, argv, &cfg);
  signal(SIGPIPE, SIG_IGN);

  /* Validate the case list before starting anything. */
  char *cases = strdup(cfg.cases);
  if (!cases)
    fatal("out of memory");
  for (char *save = NULL, *tok = strtok_r(cases, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save))
    if (!parse_case(tok))
      fatal("bad case '%s' (expected h2_cN, 1 <= N <= %d)", tok, MAX_DEPTH);
  free(cases);

  /* Client on CPU 0, servers on CPU 1; with a single CPU, float. */
  bool pin = sysconf(_SC_NPROCESSORS_ONLN) > SERVER_CPU;
  if (pin && !pin_to_cpu(BENCH_CPU)) {
    warnx_("cannot pin to CPU %d (%s); running unpinned", BENCH_CPU, strerror(errno));
    pin = false;
  }
  if (!pin)
    warnx_("fewer than %d CPUs usable: client and servers share CPUs", SERVER_CPU + 1);

  atexit(cleanup_children);
  int up_port = start_upstream(cfg.upstream, pin);
  int proxy_port = start_proxy(up_port, pin);

  uint64_t failures = 0;
  cases = strdup(cfg.cases);
  if (!cases)
    fatal("out of memory");
  for (char *save = NULL, *tok = strtok_r(cases, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save))
    failures += run_case(tok, parse_case(tok), &cfg, up_port, proxy_port);
  free(cases);

  if (failures > 0) {
    fprintf(stderr, "bench_h2: FAILED: %llu call(s) failed\n", (unsigned long long)failures);
    return 1;
  }
  return 0;
}
