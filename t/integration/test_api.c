/* API contract: argument checks, misuse, versions, errors. */
#include <criterion/criterion.h>
#include <event2/event.h>
#include <mesh/mesh.h>
#include <mesh/mesh_event.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

Test(api, version) {
  cr_expect_str_eq(mesh_version(), MESH_VERSION_STRING);
  cr_expect_eq(mesh_version_num(), (uint32_t)MESH_VERSION_NUM);
  cr_expect_geq(mesh_version_num(), 0x000100u);
}

Test(api, strerror_covers_every_code) {
  for (int e = 0; e >= -20; e--) {
    const char *s = mesh_strerror(e);
    cr_assert_not_null(s);
    if (e == 0 || e >= -7 || (e <= -10 && e >= -20))
      cr_expect_str_neq(s, "unknown error", "code %d has no text", e);
  }
  cr_expect_str_eq(mesh_strerror(-999), "unknown error");
}

Test(api, null_arguments) {
  mesh_options *o;
  mesh *m;
  mesh_request *r;
  mesh_response *resp;
  cr_expect_eq(mesh_options_new(NULL), MESH_EINVAL);
  cr_expect_eq(mesh_new(NULL, NULL), MESH_EINVAL);
  cr_expect_eq(mesh_request_new(NULL, "GET", "http://a/"), MESH_EINVAL);
  cr_expect_eq(mesh_request_new(&r, NULL, "http://a/"), MESH_EINVAL);
  cr_expect_eq(mesh_request_new(&r, "GET", NULL), MESH_EINVAL);
  cr_expect_eq(mesh_options_set_connect_timeout_ms(NULL, 1), MESH_EINVAL);
  cr_expect_eq(mesh_call_start(NULL, NULL, NULL, NULL, NULL), MESH_EINVAL);
  cr_expect_eq(mesh_call_sync(NULL, NULL, &resp), MESH_EINVAL);
  cr_expect_eq(mesh_call_cancel(NULL, 1), MESH_EINVAL);
  cr_expect_eq(mesh_request_add_header(NULL, "a", "b"), MESH_EINVAL);
  cr_expect_eq(mesh_response_error(NULL), MESH_EINVAL);
  cr_expect_str_eq(mesh_response_detail(NULL), "");
  cr_expect_null(mesh_response_header(NULL, "x"));
  mesh_free(NULL);
  mesh_options_free(NULL);
  mesh_request_free(NULL);
  mesh_response_free(NULL);
  cr_assert_eq(mesh_options_new(&o), MESH_OK);
  cr_expect_eq(mesh_options_set_connect_timeout_ms(o, 0), MESH_EINVAL);
  cr_expect_eq(mesh_options_set_protocol(o, 7), MESH_EINVAL);
  cr_expect_eq(mesh_options_set_max_response_header_bytes(o, 10), MESH_EINVAL);
  cr_expect_eq(mesh_options_set_max_response_body_bytes(o, 0), MESH_EINVAL);
  cr_expect_eq(mesh_options_set_max_connections_per_endpoint(o, 0), MESH_EINVAL);
  cr_expect_eq(mesh_options_set_log_level(o, 9), MESH_EINVAL);
  cr_expect_eq(mesh_options_set_write_hold_us(NULL, 25), MESH_EINVAL);
  cr_expect_eq(mesh_options_set_write_hold_us(o, 1000001), MESH_EINVAL);
  cr_expect_eq(mesh_options_set_write_hold_us(o, 0), MESH_OK);
  cr_expect_eq(mesh_options_set_write_hold_us(o, 1000000), MESH_OK);
  mesh_options_free(o);
  cr_assert_eq(mesh_new(&m, NULL), MESH_OK);
  cr_assert_eq(mesh_request_new(&r, "GET", "http://127.0.0.1:1/"), MESH_OK);
  cr_expect_eq(mesh_call_start(m, r, NULL, NULL, NULL), MESH_EINVAL, "callback is required");
  cr_expect_eq(mesh_call_cancel(m, 0), MESH_EINVAL);
  cr_expect_eq(mesh_call_cancel(m, 12345), MESH_ENOTFOUND);
  mesh_request_free(r);
  mesh_free(m);
}

Test(api, bad_urls_and_headers) {
  mesh_request *r;
  const char *bad[] = {"", "127.0.0.1:80/", "ftp://a/", "https://a/", "http://", "http:///x", "http://a:0/",
                       "http://a:65536/", "http://a:8x/", "http://u@a/", "http://[::1/", "http://a b/",
                       "http://a/\x01", NULL};
  for (int i = 0; bad[i]; i++) cr_expect_eq(mesh_request_new(&r, "GET", bad[i]), MESH_EINVAL, "%s", bad[i]);
  cr_expect_eq(mesh_request_new(&r, "G ET", "http://a/"), MESH_EINVAL);
  cr_expect_eq(mesh_request_new(&r, "", "http://a/"), MESH_EINVAL);
  cr_assert_eq(mesh_request_new(&r, "GET", "http://[::1]:8080/p?q#frag"), MESH_OK);
  cr_expect_eq(mesh_request_add_header(r, "bad name", "v"), MESH_EINVAL);
  cr_expect_eq(mesh_request_add_header(r, "x", "a\r\nb"), MESH_EINVAL);
  cr_expect_eq(mesh_request_add_header(r, "Connection", "close"), MESH_EINVAL);
  cr_expect_eq(mesh_request_add_header(r, "host", "x"), MESH_EINVAL);
  cr_expect_eq(mesh_request_add_header(r, "Transfer-Encoding", "chunked"), MESH_EINVAL);
  cr_expect_eq(mesh_request_add_header(r, "x-ok", ""), MESH_OK);
  cr_expect_eq(mesh_request_set_body(r, NULL, 5), MESH_EINVAL);
  cr_expect_eq(mesh_request_set_body(r, NULL, 0), MESH_OK);
  cr_expect_eq(mesh_request_set_protocol(r, 3), MESH_EINVAL);
  mesh_request_free(r);
}

Test(api, double_free_is_harmless) {
  mesh *m;
  cr_assert_eq(mesh_new(&m, NULL), MESH_OK);
  mesh_free(m);
  mesh_free(m); /* guarded: the handle is no longer live */
}

typedef struct wt {
  mesh *m;
  mesh_request *r;
  int rc_start, rc_cancel, rc_sync;
} wt;

static void *other_thread(void *arg) {
  wt *w = arg;
  mesh_response *resp;
  w->rc_start = mesh_call_start(w->m, w->r, (mesh_response_cb)1, NULL, NULL);
  w->rc_cancel = mesh_call_cancel(w->m, 1);
  w->rc_sync = mesh_call_sync(w->m, w->r, &resp);
  mesh_free(w->m); /* refused from a foreign thread, logged */
  return NULL;
}

static void quiet(int level, const char *msg, void *ud) {
  (void)level;
  (void)msg;
  (*(int *)ud)++;
}

Test(api, attached_mode_rejects_other_threads) {
  struct event_base *eb = event_base_new();
  mesh_options *o;
  mesh *m;
  int logs = 0;
  mesh_options_new(&o);
  mesh_options_set_event_base(o, eb);
  mesh_options_set_log_callback(o, quiet, &logs);
  cr_assert_eq(mesh_new(&m, o), MESH_OK);
  mesh_options_free(o);
  wt w = {m, NULL, 0, 0, 0};
  mesh_request_new(&w.r, "GET", "http://127.0.0.1:1/");
  pthread_t t;
  pthread_create(&t, NULL, other_thread, &w);
  pthread_join(t, NULL);
  cr_expect_eq(w.rc_start, MESH_EWRONGTHREAD);
  cr_expect_eq(w.rc_cancel, MESH_EWRONGTHREAD);
  cr_expect_eq(w.rc_sync, MESH_EWRONGTHREAD);
  cr_expect_eq(logs, 1, "the refused mesh_free is logged");
  mesh_request_free(w.r);
  mesh_free(m);
  event_base_free(eb);
}

typedef struct inner {
  mesh *m;
  int sync_rc;
  int start_rc;
  int done;
} inner;

static void inner_cb(const mesh_response *r, void *ud) {
  inner *in = ud;
  (void)r;
  in->done++;
}

static void outer_cb(const mesh_response *r, void *ud) {
  inner *in = ud;
  mesh_request *req;
  mesh_response *resp = NULL;
  (void)r;
  mesh_request_new(&req, "GET", "http://127.0.0.1:1/");
  in->sync_rc = mesh_call_sync(in->m, req, &resp);
  in->start_rc = mesh_call_start(in->m, req, inner_cb, in, NULL);
  mesh_request_free(req);
  in->done++;
}

Test(api, inside_callback_rules, .timeout = 10) {
  struct event_base *eb = event_base_new();
  mesh_options *o;
  inner in = {0};
  mesh_options_new(&o);
  mesh_options_set_event_base(o, eb);
  mesh_options_set_log_level(o, MESH_LOG_OFF);
  cr_assert_eq(mesh_new(&in.m, o), MESH_OK);
  mesh_options_free(o);
  mesh_request *req;
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", closed_port());
  mesh_request_new(&req, "GET", url);
  cr_assert_eq(mesh_call_start(in.m, req, outer_cb, &in, NULL), MESH_OK);
  mesh_request_free(req);
  while (in.done < 2) event_base_loop(eb, EVLOOP_ONCE);
  cr_expect_eq(in.sync_rc, MESH_ESTATE, "blocking call inside a callback is refused");
  cr_expect_eq(in.start_rc, MESH_OK, "starting a call inside a callback is allowed");
  mesh_free(in.m);
  event_base_free(eb);
}

static void free_in_cb(const mesh_response *r, void *ud) {
  mesh **mp = ud;
  (void)r;
  mesh_free(*mp);
  *mp = NULL;
}

Test(api, free_inside_callback_attached, .timeout = 10) {
  struct event_base *eb = event_base_new();
  mesh_options *o;
  mesh *m;
  mesh_options_new(&o);
  mesh_options_set_event_base(o, eb);
  mesh_options_set_log_level(o, MESH_LOG_OFF);
  cr_assert_eq(mesh_new(&m, o), MESH_OK);
  mesh_options_free(o);
  mesh_request *req;
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", closed_port());
  mesh_request_new(&req, "GET", url);
  mesh *holder = m;
  cr_assert_eq(mesh_call_start(m, req, free_in_cb, &holder, NULL), MESH_OK);
  cr_assert_eq(mesh_call_start(m, req, free_in_cb, &holder, NULL), MESH_OK);
  mesh_request_free(req);
  while (holder) event_base_loop(eb, EVLOOP_ONCE);
  event_base_free(eb);
}

Test(api, free_inside_callback_own_thread, .timeout = 10) {
  mesh *m;
  mesh_options *o;
  mesh_options_new(&o);
  mesh_options_set_log_level(o, MESH_LOG_OFF);
  cr_assert_eq(mesh_new(&m, o), MESH_OK);
  mesh_options_free(o);
  mesh_request *req;
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", closed_port());
  mesh_request_new(&req, "GET", url);
  mesh *volatile holder = m;
  cr_assert_eq(mesh_call_start(m, req, free_in_cb, (void *)&holder, NULL), MESH_OK);
  mesh_request_free(req);
  while (__atomic_load_n(&holder, __ATOMIC_SEQ_CST)) usleep(1000);
  usleep(50000); /* let the reaper finish before the process checks leaks */
}
