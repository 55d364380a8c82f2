/* Calls against a real upstream on loopback, in both loop modes. */
#include <criterion/criterion.h>
#include <event2/event.h>
#include <mesh/mesh.h>
#include <mesh/mesh_event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helpers.h"

static upstream up;

static void setup(void) { cr_assert_eq(upstream_start(&up), 0, "test upstream did not start"); }
static void teardown(void) { upstream_stop(&up); }

TestSuite(calls, .init = setup, .fini = teardown, .timeout = 30);

/* ---- attached-mode harness ---- */

typedef struct result {
  int done;
  int err;
  int status;
  int proto;
  size_t body_len;
  char conn[16];
  char detail[200];
  char trailer[32];
  int *outstanding;
} result;

static void on_resp(const mesh_response *r, void *ud) {
  result *res = ud;
  cr_assert_eq(res->done, 0, "callback ran twice");
  res->done = 1;
  res->err = mesh_response_error(r);
  res->status = mesh_response_status(r);
  res->proto = mesh_response_protocol(r);
  mesh_response_body(r, &res->body_len);
  const char *c = mesh_response_header(r, "x-upstream-conn");
  snprintf(res->conn, sizeof res->conn, "%s", c ? c : "");
  snprintf(res->detail, sizeof res->detail, "%s", mesh_response_detail(r));
  for (size_t i = 0; i < mesh_response_trailer_count(r); i++) {
    const char *n, *v;
    mesh_response_trailer_at(r, i, &n, &v);
    if (!strcmp(n, "x-trailer")) snprintf(res->trailer, sizeof res->trailer, "%s", v);
  }
  if (res->outstanding) (*res->outstanding)--;
}

typedef struct attached {
  struct event_base *eb;
  mesh *m;
  int outstanding;
} attached;

/* hold_us: the write hold to set, or -1 for the default. */
static void attached_new_hold(attached *a, int proto, int64_t hold_us) {
  mesh_options *o;
  a->eb = event_base_new();
  a->outstanding = 0;
  cr_assert_eq(mesh_options_new(&o), MESH_OK);
  mesh_options_set_event_base(o, a->eb);
  mesh_options_set_protocol(o, proto);
  if (hold_us >= 0) cr_assert_eq(mesh_options_set_write_hold_us(o, (uint32_t)hold_us), MESH_OK);
  cr_assert_eq(mesh_new(&a->m, o), MESH_OK);
  mesh_options_free(o);
}

static void attached_new(attached *a, int proto) { attached_new_hold(a, proto, -1); }

static void attached_free(attached *a) {
  mesh_free(a->m);
  event_base_free(a->eb);
}

/* GET path of the upstream; cb(ud) ends it and fills res (reset here). */
static void start_cb(attached *a, const char *path, uint32_t timeout_ms, mesh_response_cb cb, void *ud, result *res) {
  char url[256];
  mesh_request *req;
  memset(res, 0, sizeof *res);
  res->outstanding = &a->outstanding;
  cr_assert_eq(mesh_request_new(&req, "GET", upstream_url(&up, path, url, sizeof url)), MESH_OK);
  if (timeout_ms) mesh_request_set_timeout_ms(req, timeout_ms);
  cr_assert_eq(mesh_call_start(a->m, req, cb, ud, NULL), MESH_OK);
  a->outstanding++;
  mesh_request_free(req);
}

static void start(attached *a, const char *path, uint32_t timeout_ms, result *res) {
  start_cb(a, path, timeout_ms, on_resp, res, res);
}

static void run(attached *a) {
  while (a->outstanding > 0) event_base_loop(a->eb, EVLOOP_ONCE);
}

static void one(int proto, const char *path, uint32_t timeout_ms, result *res) {
  attached a;
  attached_new(&a, proto);
  start(&a, path, timeout_ms, res);
  run(&a);
  attached_free(&a);
}

#define BOTH_PROTOS(name, ...)                                                   \
  static void name##_impl(int proto);                                            \
  Test(calls, name##_http1) { name##_impl(MESH_PROTOCOL_HTTP1); }                \
  Test(calls, name##_http2) { name##_impl(MESH_PROTOCOL_HTTP2); }                \
  static void name##_impl(int proto) __VA_ARGS__

BOTH_PROTOS(status_and_body, {
  result r;
  one(proto, "/a?status=201&size=1000", 0, &r);
  cr_assert_eq(r.err, MESH_OK, "%s", r.detail);
  cr_expect_eq(r.status, 201);
  cr_expect_eq(r.body_len, 1000);
  cr_expect_eq(r.proto, proto);
})

BOTH_PROTOS(large_body, {
  result r;
  one(proto, "/a?size=3000000", 0, &r);
  cr_assert_eq(r.err, MESH_OK, "%s", r.detail);
  cr_expect_eq(r.body_len, 3000000);
})

BOTH_PROTOS(timeout_fires, {
  result r;
  one(proto, "/a?delay_ms=2000", 100, &r);
  cr_expect_eq(r.err, MESH_ETIMEOUT, "got %d %s", r.err, r.detail);
  cr_expect_eq(r.status, 0);
})

BOTH_PROTOS(stall_after_headers_times_out, {
  result r;
  one(proto, "/a?stall=1&size=100", 150, &r);
  cr_expect_eq(r.err, MESH_ETIMEOUT, "got %d %s", r.err, r.detail);
})

BOTH_PROTOS(reset_before_response, {
  result r;
  one(proto, "/a?reset=1", 0, &r);
  cr_expect_eq(r.err, MESH_ERESET, "got %d %s", r.err, r.detail);
  cr_expect_neq(r.detail[0], '\0');
})

BOTH_PROTOS(reset_mid_body, {
  result r;
  one(proto, "/a?reset=mid_body&size=100000", 0, &r);
  cr_expect_eq(r.err, MESH_ERESET, "got %d %s", r.err, r.detail);
})

BOTH_PROTOS(reset_after_headers, {
  result r;
  one(proto, "/a?reset=after_headers&size=10", 0, &r);
  cr_expect_eq(r.err, MESH_ERESET, "got %d %s", r.err, r.detail);
})

BOTH_PROTOS(connection_reused, {
  attached a;
  result r1, r2, r3;
  attached_new(&a, proto);
  start(&a, "/a", 0, &r1);
  run(&a);
  start(&a, "/a", 0, &r2);
  run(&a);
  start(&a, "/a", 0, &r3);
  run(&a);
  cr_assert_eq(r1.err, MESH_OK, "%s", r1.detail);
  cr_expect_str_eq(r1.conn, r2.conn);
  cr_expect_str_eq(r2.conn, r3.conn);
  attached_free(&a);
})

BOTH_PROTOS(body_bound_enforced, {
  attached a;
  mesh_options *o;
  a.eb = event_base_new();
  a.outstanding = 0;
  mesh_options_new(&o);
  mesh_options_set_event_base(o, a.eb);
  mesh_options_set_protocol(o, proto);
  mesh_options_set_max_response_body_bytes(o, 1000);
  mesh_new(&a.m, o);
  mesh_options_free(o);
  result r, ok;
  start(&a, "/a?size=5000", 0, &r);
  start(&a, "/a?size=1000", 0, &ok);
  run(&a);
  cr_expect_eq(r.err, MESH_ETOOLARGE, "got %d %s", r.err, r.detail);
  cr_expect_eq(ok.err, MESH_OK, "%s", ok.detail);
  attached_free(&a);
})

BOTH_PROTOS(header_bound_enforced, {
  attached a;
  mesh_options *o;
  a.eb = event_base_new();
  a.outstanding = 0;
  mesh_options_new(&o);
  mesh_options_set_event_base(o, a.eb);
  mesh_options_set_protocol(o, proto);
  mesh_options_set_max_response_header_bytes(o, 4096);
  mesh_new(&a.m, o);
  mesh_options_free(o);
  result r;
  start(&a, "/a?header_bytes=8000", 0, &r);
  run(&a);
  cr_expect_eq(r.err, MESH_ETOOLARGE, "got %d %s", r.err, r.detail);
  attached_free(&a);
})

BOTH_PROTOS(connect_refused, {
  attached a;
  result r;
  char url[128];
  mesh_request *req;
  attached_new(&a, proto);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", closed_port());
  mesh_request_new(&req, "GET", url);
  memset(&r, 0, sizeof r);
  r.outstanding = &a.outstanding;
  cr_assert_eq(mesh_call_start(a.m, req, on_resp, &r, NULL), MESH_OK);
  a.outstanding++;
  mesh_request_free(req);
  run(&a);
  cr_expect_eq(r.err, MESH_ECONNECT, "got %d %s", r.err, r.detail);
  attached_free(&a);
})

BOTH_PROTOS(hundreds_concurrent, {
  attached a;
  enum { N = 400 };
  result *rs = calloc(N, sizeof *rs);
  attached_new(&a, proto);
  for (int i = 0; i < N; i++) start(&a, i % 2 ? "/a?size=100" : "/a?size=10&delay_ms=5", 0, &rs[i]);
  run(&a);
  for (int i = 0; i < N; i++) {
    cr_expect_eq(rs[i].err, MESH_OK, "call %d: %s", i, rs[i].detail);
    cr_expect_eq(rs[i].body_len, i % 2 ? 100u : 10u);
  }
  attached_free(&a);
  free(rs);
})

Test(calls, h1_chunked_with_trailer) {
  result r;
  one(MESH_PROTOCOL_HTTP1, "/a?chunked=1&size=10000", 0, &r);
  cr_assert_eq(r.err, MESH_OK, "%s", r.detail);
  cr_expect_eq(r.body_len, 10000);
  cr_expect_str_eq(r.trailer, "done");
}

Test(calls, h2_trailers) {
  result r;
  one(MESH_PROTOCOL_HTTP2, "/a?trailer=1&size=10", 0, &r);
  cr_assert_eq(r.err, MESH_OK, "%s", r.detail);
  cr_expect_str_eq(r.trailer, "done");
}

Test(calls, h1_connection_close_then_new_connection) {
  attached a;
  result r1, r2;
  attached_new(&a, MESH_PROTOCOL_HTTP1);
  start(&a, "/a?close=1&size=5", 0, &r1);
  run(&a);
  start(&a, "/a?size=5", 0, &r2);
  run(&a);
  cr_expect_eq(r1.err, MESH_OK, "%s", r1.detail);
  cr_expect_eq(r2.err, MESH_OK, "%s", r2.detail);
  cr_expect_str_neq(r1.conn, r2.conn);
  attached_free(&a);
}

Test(calls, h2_goaway_then_new_connection) {
  attached a;
  result r1, r2;
  attached_new(&a, MESH_PROTOCOL_HTTP2);
  start(&a, "/a?goaway=1", 0, &r1);
  run(&a);
  start(&a, "/a", 0, &r2);
  run(&a);
  cr_expect_eq(r1.err, MESH_OK, "%s", r1.detail);
  cr_expect_eq(r2.err, MESH_OK, "%s", r2.detail);
  cr_expect_str_neq(r1.conn, r2.conn);
  attached_free(&a);
}

Test(calls, h2_multiplexes_on_one_connection) {
  attached a;
  enum { N = 50 };
  result rs[N];
  attached_new(&a, MESH_PROTOCOL_HTTP2);
  for (int i = 0; i < N; i++) start(&a, "/a?delay_ms=20", 0, &rs[i]);
  run(&a);
  for (int i = 0; i < N; i++) {
    cr_assert_eq(rs[i].err, MESH_OK, "%s", rs[i].detail);
    cr_expect_str_eq(rs[i].conn, rs[0].conn, "all streams on one connection");
  }
  attached_free(&a);
}

Test(calls, post_body_echo) {
  for (int proto = 1; proto <= 2; proto++) {
    attached a;
    attached_new(&a, proto);
    char url[128];
    mesh_request *req;
    static char body[200000];
    memset(body, 'b', sizeof body);
    mesh_request_new(&req, "POST", upstream_url(&up, "/echo?echo=1", url, sizeof url));
    mesh_request_set_body(req, body, sizeof body);
    result r;
    memset(&r, 0, sizeof r);
    r.outstanding = &a.outstanding;
    cr_assert_eq(mesh_call_start(a.m, req, on_resp, &r, NULL), MESH_OK);
    a.outstanding++;
    mesh_request_free(req);
    run(&a);
    cr_expect_eq(r.err, MESH_OK, "proto %d: %s", proto, r.detail);
    cr_expect_eq(r.body_len, sizeof body, "proto %d", proto);
    attached_free(&a);
  }
}

Test(calls, cancel_gives_canceled_once) {
  attached a;
  result r;
  char url[128];
  mesh_request *req;
  uint64_t id = 0;
  attached_new(&a, MESH_PROTOCOL_HTTP2);
  mesh_request_new(&req, "GET", upstream_url(&up, "/a?delay_ms=1000", url, sizeof url));
  memset(&r, 0, sizeof r);
  r.outstanding = &a.outstanding;
  cr_assert_eq(mesh_call_start(a.m, req, on_resp, &r, &id), MESH_OK);
  a.outstanding++;
  cr_assert_neq(id, 0);
  cr_expect_eq(mesh_call_cancel(a.m, id), MESH_OK);
  cr_expect_eq(r.done, 0, "callback must not run inside mesh_call_cancel");
  run(&a);
  cr_expect_eq(r.err, MESH_ECANCELED);
  cr_expect_eq(mesh_call_cancel(a.m, id), MESH_ENOTFOUND);
  mesh_request_free(req);
  attached_free(&a);
}

Test(calls, free_with_calls_in_flight_cancels_them) {
  attached a;
  result rs[10];
  attached_new(&a, MESH_PROTOCOL_HTTP1);
  for (int i = 0; i < 10; i++) start(&a, "/a?delay_ms=1000", 0, &rs[i]);
  event_base_loop(a.eb, EVLOOP_NONBLOCK);
  mesh_free(a.m);
  for (int i = 0; i < 10; i++) cr_expect_eq(rs[i].err, MESH_ECANCELED, "call %d got %d", i, rs[i].err);
  event_base_free(a.eb);
}

/* ---- own-thread mode ---- */

typedef struct tstate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done, ok;
  pthread_t cb_thread;
} tstate;

static void on_thread_resp(const mesh_response *r, void *ud) {
  tstate *s = ud;
  pthread_mutex_lock(&s->mu);
  s->done++;
  if (mesh_response_error(r) == MESH_OK && mesh_response_status(r) == 200) s->ok++;
  s->cb_thread = pthread_self();
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

typedef struct starter {
  mesh *m;
  tstate *s;
  int n;
  int proto;
} starter;

static void *start_many(void *arg) {
  starter *st = arg;
  char url[128];
  mesh_request *req;
  mesh_request_new(&req, "GET", upstream_url(&up, "/t?size=20", url, sizeof url));
  mesh_request_set_protocol(req, st->proto);
  for (int i = 0; i < st->n; i++) cr_assert_eq(mesh_call_start(st->m, req, on_thread_resp, st->s, NULL), MESH_OK);
  mesh_request_free(req);
  return NULL;
}

Test(calls, own_thread_from_many_threads) {
  mesh *m;
  tstate s;
  memset(&s, 0, sizeof s);
  pthread_mutex_init(&s.mu, NULL);
  pthread_cond_init(&s.cv, NULL);
  cr_assert_eq(mesh_new(&m, NULL), MESH_OK);
  pthread_t th[4];
  starter st[4];
  for (int i = 0; i < 4; i++) {
    st[i] = (starter){m, &s, 100, i % 2 ? MESH_PROTOCOL_HTTP2 : MESH_PROTOCOL_HTTP1};
    pthread_create(&th[i], NULL, start_many, &st[i]);
  }
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  pthread_mutex_lock(&s.mu);
  while (s.done < 400) pthread_cond_wait(&s.cv, &s.mu);
  pthread_mutex_unlock(&s.mu);
  cr_expect_eq(s.ok, 400);
  cr_expect(!pthread_equal(s.cb_thread, pthread_self()), "callbacks run on libmesh's thread");
  mesh_free(m);
}

Test(calls, own_thread_sync_call) {
  mesh *m;
  mesh_request *req;
  mesh_response *resp;
  char url[128];
  cr_assert_eq(mesh_new(&m, NULL), MESH_OK);
  mesh_request_new(&req, "GET", upstream_url(&up, "/s?size=7&status=202", url, sizeof url));
  mesh_request_add_header(req, "x-echo-k", "v1");
  cr_assert_eq(mesh_call_sync(m, req, &resp), MESH_OK);
  cr_expect_eq(mesh_response_error(resp), MESH_OK, "%s", mesh_response_detail(resp));
  cr_expect_eq(mesh_response_status(resp), 202);
  cr_expect_str_eq(mesh_response_header(resp, "X-Echo-K"), "v1");
  size_t len;
  mesh_response_body(resp, &len);
  cr_expect_eq(len, 7);
  mesh_response_free(resp);
  mesh_request_free(req);
  mesh_free(m);
}

Test(calls, attached_sync_call_runs_the_loop) {
  attached a;
  mesh_request *req;
  mesh_response *resp;
  char url[128];
  attached_new(&a, MESH_PROTOCOL_HTTP2);
  mesh_request_new(&req, "GET", upstream_url(&up, "/s?size=3", url, sizeof url));
  cr_assert_eq(mesh_call_sync(a.m, req, &resp), MESH_OK);
  cr_expect_eq(mesh_response_status(resp), 200);
  mesh_response_free(resp);
  mesh_request_free(req);
  attached_free(&a);
}

Test(calls, no_fd_leak_after_free) {
  int before = count_fds();
  for (int round = 0; round < 3; round++) {
    attached a;
    result rs[20];
    attached_new(&a, round % 2 ? MESH_PROTOCOL_HTTP2 : MESH_PROTOCOL_HTTP1);
    for (int i = 0; i < 20; i++) start(&a, i % 4 ? "/a" : "/a?reset=1", 0, &rs[i]);
    run(&a);
    attached_free(&a);
  }
  mesh *m;
  mesh_new(&m, NULL);
  mesh_free(m);
  cr_expect_eq(count_fds(), before, "file descriptors leaked");
}

/* ---- deadlines and write timing ---- */

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct timed {
  result r;
  uint64_t end_ns;
} timed;

static void on_timed(const mesh_response *resp, void *ud) {
  timed *t = ud;
  t->end_ns = mono_ns();
  on_resp(resp, &t->r);
}

/* Calls with twelve different timeouts (more values than libmesh keeps
 * deadline queues for, so some use timers of their own) and calls
 * sharing one: each ends at its own deadline, no earlier, in order. */
Test(calls, deadlines_of_many_values_each_fire_on_time) {
  enum { N = 16 };
  attached a;
  timed ts[N];
  uint32_t tmo[N];
  attached_new(&a, MESH_PROTOCOL_HTTP2);
  uint64_t t0 = mono_ns();
  for (int i = 0; i < N; i++) {
    /* 12 distinct values 60..280 ms, then three more of 100 ms and one
     * that outlives the delay. */
    tmo[i] = i < 12 ? 60u + 20u * (uint32_t)i : i < 15 ? 100u : 5000u;
    start_cb(&a, "/a?delay_ms=1500", tmo[i], on_timed, &ts[i], &ts[i].r);
  }
  run(&a);
  for (int i = 0; i < N; i++) {
    double ms = (double)(ts[i].end_ns - t0) / 1e6;
    if (tmo[i] == 5000u) {
      cr_expect_eq(ts[i].r.err, MESH_OK, "call %d: %s", i, ts[i].r.detail);
      continue;
    }
    cr_expect_eq(ts[i].r.err, MESH_ETIMEOUT, "call %d: %d %s", i, ts[i].r.err, ts[i].r.detail);
    cr_expect_geq(ms, (double)tmo[i] - 1.0, "call %d (timeout %u ms) ended after %.1f ms", i, tmo[i], ms);
    cr_expect_lt(ms, (double)tmo[i] + 400.0, "call %d (timeout %u ms) ended after %.1f ms", i, tmo[i], ms);
  }
  for (int i = 1; i < 12; i++)
    cr_expect_geq(ts[i].end_ns, ts[i - 1].end_ns, "deadline %u ms ended before %u ms", tmo[i], tmo[i - 1]);
  attached_free(&a);
}

/* Requests that callbacks start are written while later callbacks of the
 * same batch still run (after libmesh's short hold), not only when the
 * whole batch is done: the upstream sees the first one long before the
 * last callback returns. */
typedef struct wave {
  attached *a;
  timed first[8];
  timed second[8];
  uint64_t started_ns[8];
  int nstarted;
  uint64_t stall_until_ns;
} wave;

static wave *g_wave;

static void on_stamped(const mesh_response *resp, void *ud) {
  timed *t = ud;
  const char *s = mesh_response_header(resp, "x-upstream-ns");
  on_timed(resp, t);
  snprintf(t->r.trailer, sizeof t->r.trailer, "%s", s ? s : "");
}

/* A first-wave answer: start a second-wave call, then do 3 ms of the
 * application's own work. */
static void on_first(const mesh_response *resp, void *ud) {
  wave *w = g_wave;
  on_stamped(resp, ud);
  int k = w->nstarted++;
  w->started_ns[k] = mono_ns();
  start_cb(w->a, "/b?stamp=1", 0, on_stamped, &w->second[k], &w->second[k].r);
  while (mono_ns() - w->started_ns[k] < 3000000u) {
  }
}

/* The application keeps the loop busy while the first answers arrive, so
 * that they wait in the socket together and come in one read. */
static void on_stall(evutil_socket_t fd, short what, void *arg) {
  wave *w = arg;
  (void)fd;
  (void)what;
  while (mono_ns() < w->stall_until_ns) {
  }
}

static uint64_t stamp_of(const timed *t) { return strtoull(t->r.trailer, NULL, 10); }

/* Eight answers due at the same moment, each starting a call from its
 * callback. The loop is kept busy until well after the upstream sent them
 * all, so they are read at once and their callbacks run as one batch. On
 * return: how long after the first callback started the upstream saw the
 * first second-wave request, and when (from the same start) the last
 * callback returned. 0 when the answers were not all sent before the loop
 * read them (an overloaded machine): nothing to judge. */
static int wave_run(int64_t hold_us, double *wait_ms, double *batch_ms) {
  attached a;
  wave w;
  memset(&w, 0, sizeof w);
  w.a = &a;
  g_wave = &w;
  attached_new_hold(&a, MESH_PROTOCOL_HTTP2, hold_us);
  for (int i = 0; i < 8; i++) start_cb(&a, "/a?delay_ms=50&stamp=1", 0, on_first, &w.first[i], &w.first[i].r);
  /* Answers are due 50 ms from now; the loop is busy from 30 ms to 150 ms. */
  w.stall_until_ns = mono_ns() + 150000000u;
  struct event *stall = evtimer_new(a.eb, on_stall, &w);
  struct timeval tv = {0, 30000};
  evtimer_add(stall, &tv);
  run(&a);
  event_free(stall);
  attached_free(&a);
  cr_assert_eq(w.nstarted, 8);
  for (int i = 0; i < 8; i++) {
    cr_assert_eq(w.first[i].r.err, MESH_OK, "%s", w.first[i].r.detail);
    cr_assert_eq(w.second[i].r.err, MESH_OK, "%s", w.second[i].r.detail);
    uint64_t sent = stamp_of(&w.first[i]);
    cr_assert_gt(sent, 0, "no x-upstream-ns");
    if (sent + 5000000u > w.stall_until_ns) return 0;
  }
  if (w.started_ns[0] < w.stall_until_ns) return 0; /* the stall came late */
  uint64_t seen = stamp_of(&w.second[0]);
  cr_assert_gt(seen, 0, "no x-upstream-ns");
  *wait_ms = ((double)seen - (double)w.started_ns[0]) / 1e6;
  *batch_ms = (double)(w.started_ns[7] - w.started_ns[0]) / 1e6 + 3.0;
  cr_assert_geq(*batch_ms, 24.0);
  return 1;
}

Test(calls, requests_started_in_callbacks_go_out_while_callbacks_run) {
  double wait_ms, batch_ms;
  /* With the default hold (25 us), the first second-wave request reaches
   * the upstream before the last callback of the batch has returned: it
   * is written after one more callback, not after all seven (the upstream
   * has some 18 ms to be scheduled on a busy machine). */
  if (!wave_run(-1, &wait_ms, &batch_ms)) cr_skip_test("the first answers were not read together");
  cr_expect_lt(wait_ms, batch_ms, "the first request started in a callback reached the upstream %.1f ms later, "
               "when the batch of callbacks had ended (%.1f ms)", wait_ms, batch_ms);
  /* Held for up to 1 s, it waits for the whole batch. */
  if (!wave_run(1000000, &wait_ms, &batch_ms)) cr_skip_test("the first answers were not read together");
  cr_expect_geq(wait_ms, batch_ms, "held for 1 s, the request reached the upstream after %.1f ms, "
                "before the batch of callbacks ended (%.1f ms)", wait_ms, batch_ms);
}
