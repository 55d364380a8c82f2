/* The mesh handle: the two loop modes, hand-off between threads, and the
 * life of a call from mesh_call_start() to its callback. */
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mesh/mesh_event.h"
#include "upstream/core.h"
#include "upstream/pool.h"
#include "upstream/router.h"
#include "util/clock.h"
#include "xds/config.h"

const mesh__req *mesh__request_req(const mesh_request *q);

static void wake(mesh *m);
static int on_loop_thread(const mesh *m);

/* Calls kept for reuse per handle; beyond this they are freed. */
#define MESH__FREELIST_MAX 1024

/* ---- live handle registry: makes a second mesh_free() harmless ---- */

static pthread_mutex_t g_live_mu = PTHREAD_MUTEX_INITIALIZER;
static mesh **g_live;
static size_t g_nlive, g_caplive;

static int live_add(mesh *m) {
  pthread_mutex_lock(&g_live_mu);
  if (g_nlive == g_caplive) {
    size_t cap = g_caplive ? g_caplive * 2 : 8;
    mesh **v = realloc(g_live, cap * sizeof *v);
    if (!v) {
      pthread_mutex_unlock(&g_live_mu);
      return MESH_ENOMEM;
    }
    g_live = v;
    g_caplive = cap;
  }
  g_live[g_nlive++] = m;
  pthread_mutex_unlock(&g_live_mu);
  return MESH_OK;
}

/* Remove m; 1 if it was live. */
static int live_take(mesh *m) {
  int found = 0;
  pthread_mutex_lock(&g_live_mu);
  for (size_t i = 0; i < g_nlive; i++) {
    if (g_live[i] == m) {
      g_live[i] = g_live[--g_nlive];
      found = 1;
      break;
    }
  }
  if (g_nlive == 0) {
    free(g_live);
    g_live = NULL;
    g_caplive = 0;
  }
  pthread_mutex_unlock(&g_live_mu);
  return found;
}

/* ---- call objects ---- */

static mesh__call *call_alloc(mesh *m) {
  mesh__call *c = NULL;
  if (!m->attached) pthread_mutex_lock(&m->mu);
  mesh__list *n = mesh__list_pop_front(&m->freelist);
  if (n) m->nfree--;
  if (!m->attached) pthread_mutex_unlock(&m->mu);
  if (n) return MESH__CONTAINER(n, mesh__call, link);
  c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->m = m;
  mesh__list_init(&c->link);
  mesh__list_init(&c->all);
  mesh__list_init(&c->dl_link);
  return c;
}

static void call_destroy(mesh__call *c) {
  mesh__list_remove(&c->dl_link);
  if (c->timer) event_free(c->timer);
  if (c->try_timer) event_free(c->try_timer);
  mesh__req_free(&c->req);
  mesh__response_free(&c->resp);
  free(c);
}

void mesh__call_recycle(mesh *m, mesh__call *c) {
  if (c->snap) mesh__router_release(c);
  c->state = MESH__CALL_FREE;
  c->cb = NULL;
  c->user_data = NULL;
  int keep;
  if (!m->attached) pthread_mutex_lock(&m->mu);
  keep = m->nfree < MESH__FREELIST_MAX && !m->closing;
  if (keep) {
    mesh__list_push_back(&m->freelist, &c->link);
    m->nfree++;
  }
  if (!m->attached) pthread_mutex_unlock(&m->mu);
  if (!keep) call_destroy(c);
}

/* Run the callbacks of completed calls. Each call is unlinked before its
 * callback so the callback may start, cancel or free at will.
 *
 * Requests that callbacks start may wait for the rest of the completions
 * of the same turn for at most the write hold (opts.write_hold_ns) before
 * they are written anyway. Writing them all at the end of the turn costs
 * the fewest system calls, but holds the first ones back for as long as
 * the other callbacks run, and keeps the upstream idle meanwhile; past the
 * hold the output goes out and the upstream works on it while the
 * remaining callbacks run. */
static void run_done(mesh *m) {
  mesh__list *n;
  const uint64_t hold = m->opts.write_hold_ns;
  uint64_t held_since = 0; /* when output was first seen waiting (0: none) */
  while ((n = mesh__list_pop_front(&m->done))) {
    mesh__call *c = MESH__CONTAINER(n, mesh__call, link);
    mesh_response_cb cb = c->cb;
    void *ud = c->user_data;
    cb(&c->resp, ud);
    mesh__call_recycle(m, c);
    if (mesh__list_empty(&m->flushq) || mesh__list_empty(&m->done)) continue; /* leave() flushes */
    uint64_t now = mesh__now_ns();
    if (!held_since) held_since = now;
    if (now - held_since >= hold) {
      mesh__flush_all(m);
      held_since = 0;
    }
  }
}

static void mesh_destroy(mesh *m);

int mesh__leave(mesh *m) {
  if (m->depth == 1) {
    /* Outermost: deliver completions and push output before unwinding,
     * so a callback that starts the next call sends it in this turn. */
    while (!mesh__list_empty(&m->done) || !mesh__list_empty(&m->flushq)) {
      run_done(m);
      mesh__flush_all(m);
    }
  }
  m->depth--;
  if (m->depth == 0 && m->free_requested) {
    mesh_destroy(m);
    return 1;
  }
  return 0;
}

static void on_done_ev(evutil_socket_t fd, short what, void *arg) {
  mesh *m = arg;
  (void)fd;
  (void)what;
  mesh__enter(m);
  mesh__leave(m);
}

/* Envoy's response flags for how the call ended, formatted and counted.
 * A call that succeeded at once has none and costs two tests. */
static void response_flags(mesh *m, mesh__call *c, int err) {
  uint32_t f = c->resp.flags;
  switch (err) {
    case MESH_OK: break;
    case MESH_ENOROUTE: f |= MESH__RF_NR; break;
    case MESH_ENOHEALTHY: f |= MESH__RF_UH; break;
    case MESH_ECONNECT:
    case MESH_ECONNECT_TIMEOUT:
    case MESH_EDNS: f |= MESH__RF_UF; break;
    case MESH_EOVERFLOW: f |= MESH__RF_UO; break;
    case MESH_ETIMEOUT:
      if (!(f & (MESH__RF_UT | MESH__RF_UMSDR | MESH__RF_SI))) f |= MESH__RF_UT;
      break;
    case MESH_ERESET: f |= MESH__RF_UR; break;
    case MESH_EPROTOCOL: f |= MESH__RF_UPE; break;
    case MESH_ECANCELED: f |= MESH__RF_DC; break;
    default: break;
  }
  if (c->resp.attempts > 1) mesh__stat_max(m->stats, MESH__ST_ATTEMPTS_MAX, c->resp.attempts);
  c->resp.flags = f;
  if (!f) return;
  mesh__response_flags_format(f, c->resp.flags_str, sizeof c->resp.flags_str);
  for (int i = 0; i < MESH__RF_COUNT; i++)
    if (f & (1u << i)) mesh__stat_add(m->stats, MESH__ST_FLAG0 + i, 1);
}

static void deadline_clear(mesh__call *c);

void mesh__call_finish(mesh__call *c, int err, const char *fmt, ...) {
  mesh *m = c->m;
  if (c->state == MESH__CALL_DONE) return;
  if (c->state == MESH__CALL_WAITING) {
    mesh__list_remove(&c->link);
    m->nconfig_wait--;
    c->state = MESH__CALL_PENDING;
  }
  if (c->state == MESH__CALL_PENDING || c->state == MESH__CALL_ACTIVE) mesh__pool_unbind(c);
  /* A routed call's attempt ended: the router may retry it. */
  if ((c->cbs || c->try_phase) && mesh__router_attempt_end(c, err)) return;
  c->state = MESH__CALL_DONE;
  deadline_clear(c);
  mesh__list_remove(&c->all);
  c->resp.error = err;
  if (err != MESH_OK) {
    /* A failed call reports no partial response. */
    c->resp.status = 0;
    c->resp.nheaders = 0;
    c->resp.fields.n = 0;
    c->resp.body.len = 0;
    c->resp.body.off = 0;
    if (fmt) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(c->resp.detail, sizeof c->resp.detail, fmt, ap);
      va_end(ap);
    } else {
      snprintf(c->resp.detail, sizeof c->resp.detail, "%s", mesh_strerror(err));
    }
  } else {
    c->resp.detail[0] = '\0';
    if (c->route) mesh__router_on_response(c);
  }
  response_flags(m, c, err);
  mesh__list_push_back(&m->done, &c->link);
  /* Inside a libmesh callback the done queue runs at leave(); otherwise
   * (a call failed while being started) on the next loop turn. */
  if (m->depth == 0) event_active(m->done_ev, EV_READ, 0);
}

static void call_timed_out(mesh *m, mesh__call *c) {
  c->resp.flags |= c->deadline_flag;
  mesh__stat_add(m->stats, MESH__ST_RQ_TIMEOUT, 1);
  mesh__call_finish(c, MESH_ETIMEOUT, "call timed out after %u ms%s", c->deadline_ms,
                    c->state == MESH__CALL_WAITING         ? " waiting for its listener from the xDS server"
                    : c->deadline_flag == MESH__RF_UMSDR ? " (max_stream_duration)"
                                                         : "");
}

/* Arm ev to fire at deadline_ns (monotonic), rounded up to a microsecond:
 * 1 if armed. */
static int arm_at(struct event *ev, uint64_t deadline_ns, uint64_t now) {
  uint64_t us = deadline_ns > now ? (deadline_ns - now + 999) / 1000 : 0;
  struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
  return event_add(ev, &tv) == 0;
}

/* A deadline that has no queue: the call's own timer. */
static void on_call_timeout(evutil_socket_t fd, short what, void *arg) {
  mesh__call *c = arg;
  mesh *m = c->m;
  (void)fd;
  (void)what;
  mesh__enter(m);
  c->timer_armed = 0;
  uint64_t now = mesh__now_ns();
  /* libevent's clock is coarse (a few ms): if not due yet, wait the rest. */
  if (c->deadline_ns > now) c->timer_armed = arm_at(c->timer, c->deadline_ns, now);
  if (!c->timer_armed) call_timed_out(m, c);
  mesh__leave(m);
}

static uint64_t turn_now(mesh *m) {
  if (!m->turn_ns) m->turn_ns = mesh__now_ns();
  return m->turn_ns;
}

static void deadlines_arm(struct mesh__deadlines *q, uint64_t now) {
  q->armed = arm_at(q->ev, MESH__CONTAINER(q->calls.next, mesh__call, dl_link)->deadline_ns, now);
}

/* A queue's head is due: end every call whose deadline passed, then wait
 * for the next head. Calls that ended meanwhile left the queue. */
static void on_deadlines(evutil_socket_t fd, short what, void *arg) {
  struct mesh__deadlines *q = arg;
  mesh *m = q->m;
  (void)fd;
  (void)what;
  mesh__enter(m);
  q->armed = 0;
  uint64_t now = mesh__now_ns();
  while (!mesh__list_empty(&q->calls)) {
    mesh__call *c = MESH__CONTAINER(q->calls.next, mesh__call, dl_link);
    if (c->deadline_ns > now) break;
    mesh__list_remove(&c->dl_link);
    call_timed_out(m, c);
  }
  if (!mesh__list_empty(&q->calls)) deadlines_arm(q, now);
  mesh__leave(m);
}

static void deadline_clear(mesh__call *c) {
  mesh__list_remove(&c->dl_link);
  if (c->timer_armed) {
    event_del(c->timer);
    c->timer_armed = 0;
  }
}

/* Set c's deadline ms from now (this loop turn): 0, or MESH_ENOMEM. */
static int deadline_set(mesh *m, mesh__call *c, uint32_t ms) {
  struct mesh__deadlines *q = NULL;
  for (int i = 0; i < m->ndl; i++)
    if (m->dl[i].ms == ms) {
      q = &m->dl[i];
      break;
    }
  if (!q && m->ndl < (int)(sizeof m->dl / sizeof m->dl[0])) {
    q = &m->dl[m->ndl];
    if ((q->ev = evtimer_new(m->base, on_deadlines, q))) {
      q->m = m;
      q->ms = ms;
      q->armed = 0;
      mesh__list_init(&q->calls);
      m->ndl++;
    } else {
      q = NULL;
    }
  }
  /* Out of memory leaves the deadline the call had. */
  if (!q && !c->timer && !(c->timer = evtimer_new(m->base, on_call_timeout, c))) return MESH_ENOMEM;
  deadline_clear(c);
  uint64_t now = turn_now(m);
  c->deadline_ns = now + (uint64_t)ms * 1000000u;
  if (q) {
    mesh__list_push_back(&q->calls, &c->dl_link);
    if (!q->armed) deadlines_arm(q, now);
    return MESH_OK;
  }
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
  c->timer_armed = event_add(c->timer, &tv) == 0;
  return MESH_OK;
}

void mesh__call_arm_deadline(mesh *m, mesh__call *c, uint32_t ms, uint32_t flag) {
  if (c->deadline_ms && c->deadline_ms <= ms) return; /* the caller's is earlier */
  if (deadline_set(m, c, ms)) return;
  c->deadline_ms = ms;
  c->deadline_flag = flag;
}

static void on_config_wait(evutil_socket_t fd, short what, void *arg);
static int config_wait(mesh *m, mesh__call *c);

/* Choose the call's pool and queue it: by the config's routes, or (no
 * config) the authority dialled directly. With xDS, a call whose listener
 * has not arrived waits for it. */
static void route_call(mesh *m, mesh__call *c) {
  mesh__pool *p;
  const mesh__snapshot *snap = m->router ? mesh__router_snapshot(m) : NULL;
  if (mesh__config_is_xds(m)) {
    const char *auth = mesh__req_str(&c->req, c->req.authority);
    if (!snap || !mesh__snapshot_listener(snap, auth, c->req.authority_len)) {
      char why[160];
      if (!mesh__config_listener_missing(m, auth, c->req.authority_len, why, sizeof why))
        mesh__call_finish(c, MESH_ENOROUTE, "no listener for %s%s%s%s", auth, why[0] ? " (" : "", why,
                          why[0] ? ")" : "");
      else if (!config_wait(m, c))
        mesh__call_finish(c, MESH_ENOROUTE, "no listener for %s (%u calls already wait for the xDS config)", auth,
                          m->nconfig_wait);
      return;
    }
  }
  if (snap) {
    p = mesh__router_route(m, c);
    if (!p) return; /* answered or failed here; only its callback is due */
  } else {
    int err = MESH_OK;
    p = mesh__pool_for_call(m, c, &err);
    if (!p) {
      mesh__call_finish(c, err, "no upstream for %s", mesh__req_str(&c->req, c->req.authority));
      return;
    }
  }
  c->state = MESH__CALL_QUEUED;
  mesh__pool_submit(p, c);
}

/* On the loop thread: arm the timer, choose the pool, queue the call. */
void mesh__call_dispatch(mesh *m, mesh__call *c) {
  uint32_t tmo = c->req.timeout_ms ? c->req.timeout_ms : m->opts.default_timeout_ms;
  if (tmo && c->queued_ns) {
    /* The timeout runs from mesh_call_start(), not from the hand-off. */
    uint64_t waited_ms = (mesh__now_ns() - c->queued_ns) / 1000000u;
    tmo = waited_ms >= tmo ? 1 : tmo - (uint32_t)waited_ms;
    c->queued_ns = 0;
  }
  mesh__list_push_back(&m->inflight, &c->all);
  c->state = MESH__CALL_PENDING;
  c->pool = NULL;
  c->cbs = NULL;
  c->try_phase = MESH__TRY_NONE;
  c->rq_counted = c->retry_counted = 0;
  c->deadline_ms = tmo;
  c->deadline_flag = MESH__RF_UT;
  c->wait_since_ns = 0;
  if (m->closing) {
    mesh__call_finish(c, MESH_ECANCELED, "handle closed");
    return;
  }
  if (tmo && deadline_set(m, c, tmo)) {
    mesh__call_finish(c, MESH_ENOMEM, "out of memory");
    return;
  }
  route_call(m, c);
}

/* ---- calls waiting for the xDS config ---- */

/* How long a call waits for its listener to come from the control plane
 * (the xDS does-not-exist timeout), and how many calls may wait. */
#define MESH__CONFIG_WAIT_MS 15000u
#define MESH__CONFIG_WAIT_MAX 4096u

static void config_wait_arm(mesh *m) {
  struct timeval tv = {1, 0};
  if (m->config_wait_ev) event_add(m->config_wait_ev, &tv);
}

/* Park c until a config names its listener: 1, or 0 when it cannot wait
 * (the bound; the caller then fails it). */
static int config_wait(mesh *m, mesh__call *c) {
  if (m->nconfig_wait >= MESH__CONFIG_WAIT_MAX) return 0;
  if (!m->config_wait_ev && !(m->config_wait_ev = evtimer_new(m->base, on_config_wait, m))) return 0;
  if (!c->wait_since_ns) c->wait_since_ns = mesh__now_ns();
  c->state = MESH__CALL_WAITING;
  mesh__list_push_back(&m->config_wait, &c->link);
  if (m->nconfig_wait++ == 0) config_wait_arm(m);
  return 1;
}

static void config_unwait(mesh *m, mesh__call *c) {
  mesh__list_remove(&c->link);
  m->nconfig_wait--;
  c->state = MESH__CALL_PENDING;
}

/* Waiting calls the control plane never answered for fail with what the
 * xDS source knows (unreachable, does not exist). */
static void on_config_wait(evutil_socket_t fd, short what, void *arg) {
  mesh *m = arg;
  (void)fd;
  (void)what;
  mesh__enter(m);
  uint64_t now = mesh__now_ns();
  mesh__list *n = m->config_wait.next;
  while (n != &m->config_wait) {
    mesh__call *c = MESH__CONTAINER(n, mesh__call, link);
    n = n->next;
    const char *auth = mesh__req_str(&c->req, c->req.authority);
    char why[160];
    int may_come = mesh__config_listener_missing(m, auth, c->req.authority_len, why, sizeof why);
    int waited = now - c->wait_since_ns >= (uint64_t)MESH__CONFIG_WAIT_MS * 1000000u;
    if (may_come && !waited) continue;
    config_unwait(m, c);
    mesh__call_finish(c, MESH_ENOROUTE, "no listener for %s%s%s%s%s", auth,
                      waited ? " after waiting 15 s for the xDS config" : "", why[0] ? " (" : "", why,
                      why[0] ? ")" : "");
  }
  if (m->nconfig_wait) config_wait_arm(m);
  mesh__leave(m);
}

void mesh__calls_config_changed(mesh *m) {
  if (!m->nconfig_wait) return;
  mesh__list todo;
  mesh__list_init(&todo);
  while (!mesh__list_empty(&m->config_wait)) {
    mesh__call *c = MESH__CONTAINER(m->config_wait.next, mesh__call, link);
    config_unwait(m, c);
    mesh__list_push_back(&todo, &c->link);
  }
  while (!mesh__list_empty(&todo)) {
    mesh__call *c = MESH__CONTAINER(todo.next, mesh__call, link);
    mesh__list_remove(&c->link);
    route_call(m, c); /* may wait again */
  }
  if (!m->nconfig_wait && m->config_wait_ev) event_del(m->config_wait_ev);
}

static void cancel_id(mesh *m, uint64_t id) {
  for (mesh__list *n = m->inflight.next; n != &m->inflight; n = n->next) {
    mesh__call *c = MESH__CONTAINER(n, mesh__call, all);
    if (c->id == id) {
      mesh__call_finish(c, MESH_ECANCELED, "canceled");
      return;
    }
  }
}

/* ---- running on the loop for other threads ---- */

typedef struct loop_task {
  mesh__list link;
  void (*fn)(struct mesh *, void *);
  void *arg;
  int done;
  pthread_cond_t cv;
} loop_task;

static void run_tasks(mesh *m) {
  /* mu held on entry and exit; released while each task runs. */
  mesh__list *n;
  while ((n = mesh__list_pop_front(&m->tasks))) {
    loop_task *t = MESH__CONTAINER(n, loop_task, link);
    pthread_mutex_unlock(&m->mu);
    t->fn(m, t->arg);
    pthread_mutex_lock(&m->mu);
    t->done = 1;
    pthread_cond_signal(&t->cv);
  }
}

int mesh__run_on_loop(mesh *m, void (*fn)(mesh *, void *), void *arg) {
  if (m->attached || on_loop_thread(m)) {
    fn(m, arg);
    return MESH_OK;
  }
  loop_task t;
  memset(&t, 0, sizeof t);
  t.fn = fn;
  t.arg = arg;
  pthread_cond_init(&t.cv, NULL);
  pthread_mutex_lock(&m->mu);
  int rc = MESH_OK;
  if (m->stopping) {
    rc = MESH_ESTATE;
  } else {
    mesh__list_push_back(&m->tasks, &t.link);
    wake(m);
    while (!t.done) pthread_cond_wait(&t.cv, &m->mu);
  }
  pthread_mutex_unlock(&m->mu);
  pthread_cond_destroy(&t.cv);
  return rc;
}

/* ---- own-thread mode: the inbox ---- */

static void on_wake(evutil_socket_t fd, short what, void *arg) {
  mesh *m = arg;
  char buf[64];
  (void)what;
  while (read(fd, buf, sizeof buf) > 0) {
  }
  mesh__list calls;
  mesh__list_init(&calls);
  uint64_t cancels[64];
  size_t ncancels = 0;
  int stopping;
  pthread_mutex_lock(&m->mu);
  m->wake_pending = 0;
  if (!mesh__list_empty(&m->inbox)) {
    calls = m->inbox;
    calls.next->prev = &calls;
    calls.prev->next = &calls;
    mesh__list_init(&m->inbox);
  }
  ncancels = m->ncancels < 64 ? m->ncancels : 64;
  if (ncancels) {
    memcpy(cancels, m->cancels, ncancels * sizeof *cancels);
    memmove(m->cancels, m->cancels + ncancels, (m->ncancels - ncancels) * sizeof *cancels);
    m->ncancels -= ncancels;
  }
  if (m->ncancels) {
    m->wake_pending = 1;
    (void)!write(m->wake_fd[1], "w", 1);
  }
  stopping = m->stopping;
  run_tasks(m);
  pthread_mutex_unlock(&m->mu);

  mesh__enter(m);
  mesh__list *n;
  while ((n = mesh__list_pop_front(&calls))) mesh__call_dispatch(m, MESH__CONTAINER(n, mesh__call, link));
  for (size_t i = 0; i < ncancels; i++) cancel_id(m, cancels[i]);
  if (stopping) {
    m->closing = 1;
    while (!mesh__list_empty(&m->inflight))
      mesh__call_finish(MESH__CONTAINER(m->inflight.next, mesh__call, all), MESH_ECANCELED, "handle closed");
    mesh__pools_free_all(m);
  }
  mesh__leave(m);
  if (stopping) event_base_loopbreak(m->base);
}

static void wake(mesh *m) {
  /* mu held */
  if (!m->wake_pending) {
    m->wake_pending = 1;
    (void)!write(m->wake_fd[1], "w", 1);
  }
}

static void *loop_thread(void *arg) {
  mesh *m = arg;
  event_base_loop(m->base, EVLOOP_NO_EXIT_ON_EMPTY);
  return NULL;
}

static int on_loop_thread(const mesh *m) {
  return m->attached ? pthread_equal(pthread_self(), m->owner) : pthread_equal(pthread_self(), m->thread);
}

/* ---- create / free ---- */

int mesh_new(mesh **out, const mesh_options *opts) {
  if (!out) return MESH_EINVAL;
  *out = NULL;
  mesh_options *def = NULL;
  if (!opts) {
    int rc = mesh_options_new(&def);
    if (rc) return rc;
    opts = def;
  }
  mesh *m = calloc(1, sizeof *m);
  if (!m) {
    mesh_options_free(def);
    return MESH_ENOMEM;
  }
  m->magic = MESH__MAGIC;
  m->opts = opts->o;
  m->opts.config_file = m->opts.xds_bootstrap = m->opts.xds_bootstrap_config = NULL;
  if ((opts->o.config_file && !(m->opts.config_file = strdup(opts->o.config_file))) ||
      (opts->o.xds_bootstrap && !(m->opts.xds_bootstrap = strdup(opts->o.xds_bootstrap))) ||
      (opts->o.xds_bootstrap_config && !(m->opts.xds_bootstrap_config = strdup(opts->o.xds_bootstrap_config)))) {
    mesh_options_free(def);
    free(m->opts.config_file);
    free(m->opts.xds_bootstrap);
    free(m);
    return MESH_ENOMEM;
  }
  mesh_options_free(def);
  m->wake_fd[0] = m->wake_fd[1] = -1;
  mesh__list_init(&m->inbox);
  mesh__list_init(&m->freelist);
  mesh__list_init(&m->inflight);
  mesh__list_init(&m->done);
  mesh__list_init(&m->config_wait);
  mesh__list_init(&m->flushq);
  mesh__list_init(&m->tasks);
  for (int i = 0; i < MESH__POOL_BUCKETS; i++) mesh__list_init(&m->pools[i]);
  pthread_mutex_init(&m->mu, NULL);
  int rc = MESH_ENOMEM;
  if (m->opts.base) {
    m->attached = 1;
    m->base = m->opts.base;
    m->owner = pthread_self();
  } else {
    m->base = event_base_new();
    if (!m->base) goto fail;
    if (pipe2(m->wake_fd, O_NONBLOCK | O_CLOEXEC) < 0) {
      rc = MESH_ESYSTEM;
      goto fail;
    }
    m->wake_ev = event_new(m->base, m->wake_fd[0], EV_READ | EV_PERSIST, on_wake, m);
    if (!m->wake_ev || event_add(m->wake_ev, NULL)) goto fail;
  }
  m->done_ev = event_new(m->base, -1, 0, on_done_ev, m);
  if (!m->done_ev) goto fail;
  if (m->opts.config_file) {
    char err[512];
    if (mesh__config_open(m, err, sizeof err) < 0) {
      mesh__log(&m->opts.log, MESH_LOG_ERROR, "config: %s", err);
      rc = MESH_ECONFIG;
      goto fail;
    }
  } else {
    /* xDS: from the options' bootstrap, else GRPC_XDS_BOOTSTRAP and the
     * like; nothing when there is none. */
    char err[512];
    if (mesh__config_open_xds(m, err, sizeof err) < 0) {
      mesh__log(&m->opts.log, MESH_LOG_ERROR, "xDS: %s", err);
      rc = MESH_ECONFIG;
      goto fail;
    }
  }
  if ((rc = live_add(m))) goto fail;
  if (!m->attached) {
    if (pthread_create(&m->thread, NULL, loop_thread, m)) {
      live_take(m);
      rc = MESH_ESYSTEM;
      goto fail;
    }
    m->thread_running = 1;
  }
  *out = m;
  return MESH_OK;
fail:
  m->closing = 1;
  mesh_destroy(m);
  return rc;
}

/* Free everything; the loop thread (if any) has stopped or is us. */
static void mesh_destroy(mesh *m) {
  m->closing = 1;
  mesh__enter(m);
  while (!mesh__list_empty(&m->inflight))
    mesh__call_finish(MESH__CONTAINER(m->inflight.next, mesh__call, all), MESH_ECANCELED, "handle closed");
  mesh__list *n;
  while ((n = mesh__list_pop_front(&m->inbox))) {
    /* Started from another thread but never reached the loop. */
    mesh__call *c = MESH__CONTAINER(n, mesh__call, link);
    mesh__list_push_back(&m->inflight, &c->all);
    c->state = MESH__CALL_QUEUED;
    mesh__call_finish(c, MESH_ECANCELED, "handle closed");
  }
  mesh__pools_free_all(m);
  run_done(m);
  m->depth--;
  mesh__config_close(m);
  mesh__router_free(m);
  if (m->dns) evdns_base_free(m->dns, 1);
  while ((n = mesh__list_pop_front(&m->freelist))) call_destroy(MESH__CONTAINER(n, mesh__call, link));
  if (m->done_ev) event_free(m->done_ev);
  for (int i = 0; i < m->ndl; i++) event_free(m->dl[i].ev);
  if (m->config_wait_ev) event_free(m->config_wait_ev);
  if (m->wake_ev) event_free(m->wake_ev);
  if (!m->attached && m->base) event_base_free(m->base);
  if (m->wake_fd[0] >= 0) close(m->wake_fd[0]);
  if (m->wake_fd[1] >= 0) close(m->wake_fd[1]);
  free(m->cancels);
  free(m->opts.config_file);
  free(m->opts.xds_bootstrap);
  free(m->opts.xds_bootstrap_config);
  pthread_mutex_destroy(&m->mu);
  m->magic = 0;
  free(m);
}

static void *reaper(void *arg) {
  mesh *m = arg;
  pthread_join(m->thread, NULL);
  mesh_destroy(m);
  return NULL;
}

void mesh_free(mesh *m) {
  if (!m) return;
  /* Only a live handle is touched: a second free finds nothing. In
   * attached mode a free from a foreign thread would race the loop, so it
   * is refused and the handle stays live. */
  int found = 0, foreign = 0;
  pthread_mutex_lock(&g_live_mu);
  for (size_t i = 0; i < g_nlive; i++) {
    if (g_live[i] != m) continue;
    found = 1;
    foreign = m->attached && !pthread_equal(pthread_self(), m->owner);
    if (!foreign) g_live[i] = g_live[--g_nlive];
    break;
  }
  pthread_mutex_unlock(&g_live_mu);
  if (!found) return;
  if (foreign) {
    mesh__log(&m->opts.log, MESH_LOG_ERROR, "mesh_free() from a thread other than the loop's; ignored");
    return;
  }
  if (m->attached) {
    if (m->depth > 0) {
      m->free_requested = 1; /* completes at leave() */
      return;
    }
    mesh_destroy(m);
    return;
  }
  pthread_mutex_lock(&m->mu);
  m->stopping = 1;
  wake(m);
  pthread_mutex_unlock(&m->mu);
  if (pthread_equal(pthread_self(), m->thread)) {
    /* From a callback on our own thread: a helper thread joins it. */
    pthread_t t;
    if (pthread_create(&t, NULL, reaper, m) == 0) pthread_detach(t);
    return;
  }
  pthread_join(m->thread, NULL);
  mesh_destroy(m);
}

/* ---- calls ---- */

int mesh_call_start(mesh *m, const mesh_request *req, mesh_response_cb cb, void *user_data,
                    uint64_t *call_id) {
  if (!m || !req || !cb || m->magic != MESH__MAGIC) return MESH_EINVAL;
  if (m->attached && !pthread_equal(pthread_self(), m->owner)) return MESH_EWRONGTHREAD;
  if (m->closing || m->free_requested || __atomic_load_n(&m->stopping, __ATOMIC_RELAXED))
    return MESH_ESTATE;
  mesh__call *c = call_alloc(m);
  if (!c) return MESH_ENOMEM;
  mesh__response_reset(&c->resp);
  if (mesh__req_copy(&c->req, mesh__request_req(req))) {
    mesh__call_recycle(m, c);
    return MESH_ENOMEM;
  }
  if (c->req.protocol == MESH_PROTOCOL_DEFAULT) c->req.protocol = (uint8_t)m->opts.protocol;
  c->cb = cb;
  c->user_data = user_data;
  c->conn = NULL;
  c->pool = NULL;
  c->id = __atomic_add_fetch(&m->next_call_id, 1, __ATOMIC_RELAXED);
  if (call_id) *call_id = c->id;
  if (m->attached || on_loop_thread(m)) {
    mesh__enter(m);
    mesh__call_dispatch(m, c);
    /* Not leave(): a failure found now must not run the callback inside
     * mesh_call_start; done_ev delivers it on the next turn. */
    m->depth--;
    if (m->depth == 0 && !mesh__list_empty(&m->flushq)) {
      mesh__enter(m);
      mesh__flush_all(m);
      m->depth--;
    }
    /* Failures found while starting (or flushing) run on the next turn;
     * inside a libmesh callback the outermost leave() delivers them. */
    if (m->depth == 0 && !mesh__list_empty(&m->done)) event_active(m->done_ev, EV_READ, 0);
    return MESH_OK;
  }
  pthread_mutex_lock(&m->mu);
  if (m->stopping) {
    pthread_mutex_unlock(&m->mu);
    mesh__call_recycle(m, c);
    return MESH_ESTATE;
  }
  c->state = MESH__CALL_QUEUED;
  c->queued_ns = mesh__now_ns();
  mesh__list_push_back(&m->inbox, &c->link);
  wake(m);
  pthread_mutex_unlock(&m->mu);
  return MESH_OK;
}

int mesh_call_cancel(mesh *m, uint64_t id) {
  if (!m || m->magic != MESH__MAGIC || id == 0) return MESH_EINVAL;
  if (m->attached && !pthread_equal(pthread_self(), m->owner)) return MESH_EWRONGTHREAD;
  if (m->attached || on_loop_thread(m)) {
    for (mesh__list *n = m->inflight.next; n != &m->inflight; n = n->next) {
      mesh__call *c = MESH__CONTAINER(n, mesh__call, all);
      if (c->id == id) {
        mesh__enter(m);
        mesh__call_finish(c, MESH_ECANCELED, "canceled");
        m->depth--;
        if (!mesh__list_empty(&m->done)) event_active(m->done_ev, EV_READ, 0);
        return MESH_OK;
      }
    }
    return MESH_ENOTFOUND;
  }
  /* Another thread: the loop looks the id up; an id never issued is
   * known here, one already finished is reported as canceled-or-done. */
  if (id > __atomic_load_n(&m->next_call_id, __ATOMIC_RELAXED)) return MESH_ENOTFOUND;
  pthread_mutex_lock(&m->mu);
  int rc = MESH_OK;
  if (m->ncancels == m->capcancels) {
    size_t cap = m->capcancels ? m->capcancels * 2 : 16;
    uint64_t *v = realloc(m->cancels, cap * sizeof *v);
    if (!v) rc = MESH_ENOMEM;
    else {
      m->cancels = v;
      m->capcancels = cap;
    }
  }
  if (rc == MESH_OK) {
    m->cancels[m->ncancels++] = id;
    wake(m);
  }
  pthread_mutex_unlock(&m->mu);
  return rc;
}

/* ---- blocking call ---- */

typedef struct sync_wait {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
  mesh_response *resp;
  int err;
} sync_wait;

static void sync_cb(const mesh_response *r, void *ud) {
  sync_wait *w = ud;
  mesh_response *copy = calloc(1, sizeof *copy);
  int err = MESH_OK;
  if (!copy) {
    err = MESH_ENOMEM;
  } else {
    copy->error = r->error;
    copy->status = r->status;
    copy->protocol = r->protocol;
    copy->nheaders = r->nheaders;
    memcpy(copy->detail, r->detail, sizeof copy->detail);
    copy->flags = r->flags;
    copy->attempts = r->attempts;
    memcpy(copy->flags_str, r->flags_str, sizeof copy->flags_str);
    if (mesh__buf_append(&copy->strings, mesh__buf_head(&r->strings), r->strings.len) ||
        mesh__buf_append(&copy->body, mesh__buf_head(&r->body), r->body.len)) {
      err = MESH_ENOMEM;
    } else {
      for (uint32_t i = 0; i < r->fields.n && !err; i++)
        /* Offsets shift by the source's consumed prefix (always 0 here). */
        err = mesh__fields_push(&copy->fields, r->fields.v[i].name - (uint32_t)r->strings.off,
                                r->fields.v[i].value - (uint32_t)r->strings.off);
    }
    /* Provenance strings belong to the config: copy them in. */
    const char *info[3] = {r->route_name, r->cluster_name, r->endpoint};
    uint32_t at[3] = {0, 0, 0};
    for (int k = 0; k < 3 && !err; k++)
      if (info[k] && mesh__buf_append_cstr(&copy->strings, info[k], strlen(info[k]), &at[k])) err = MESH_ENOMEM;
    if (!err) {
      copy->route_name = info[0] ? copy->strings.data + at[0] : NULL;
      copy->cluster_name = info[1] ? copy->strings.data + at[1] : NULL;
      copy->endpoint = info[2] ? copy->strings.data + at[2] : NULL;
    }
    if (err) {
      mesh_response_free(copy);
      copy = NULL;
    }
  }
  pthread_mutex_lock(&w->mu);
  w->resp = copy;
  w->err = err;
  w->done = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

int mesh_call_sync(mesh *m, const mesh_request *req, mesh_response **out) {
  if (!m || !req || !out || m->magic != MESH__MAGIC) return MESH_EINVAL;
  *out = NULL;
  if (m->attached) {
    if (!pthread_equal(pthread_self(), m->owner)) return MESH_EWRONGTHREAD;
    if (m->depth > 0) return MESH_ESTATE;
    /* Inside a callback of the app's own on this base, the loop cannot be
     * run again: find out before anything is sent (libevent refuses a
     * reentrant loop with -1; otherwise this runs what is already due). */
    if (event_base_loop(m->base, EVLOOP_NONBLOCK) < 0) return MESH_ESTATE;
  } else if (on_loop_thread(m)) {
    return MESH_ESTATE; /* would wait for ourselves */
  }
  sync_wait w;
  memset(&w, 0, sizeof w);
  pthread_mutex_init(&w.mu, NULL);
  pthread_cond_init(&w.cv, NULL);
  uint64_t id;
  int rc = mesh_call_start(m, req, sync_cb, &w, &id);
  if (rc == MESH_OK) {
    if (m->attached) {
      /* Run the app's loop until our call ends. A loop that is already
       * running on this thread cannot be re-entered. */
      while (!w.done) {
        if (event_base_loop(m->base, EVLOOP_ONCE) < 0) {
          mesh_call_cancel(m, id);
          rc = MESH_ESTATE;
          /* The cancel delivers through done_ev: run it. */
          while (!w.done) on_done_ev(-1, 0, m);
          break;
        }
      }
    } else {
      pthread_mutex_lock(&w.mu);
      while (!w.done) pthread_cond_wait(&w.cv, &w.mu);
      pthread_mutex_unlock(&w.mu);
    }
    if (rc == MESH_OK) rc = w.err;
    if (rc == MESH_OK) *out = w.resp;
    else mesh_response_free(w.resp);
  }
  pthread_cond_destroy(&w.cv);
  pthread_mutex_destroy(&w.mu);
  return rc;
}
