/* Retry decisions, back-off and header parsing (upstream/retry.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "upstream/retry.h"

static mesh_response resp;

static void add(const char *n, const char *v, int trailer) {
  resp.in_trailers = trailer;
  cr_assert_eq(mesh__response_add_field(&resp, n, strlen(n), v, strlen(v), SIZE_MAX, 1), 0);
}

static void fini(void) { mesh__response_free(&resp); }

TestSuite(retry, .fini = fini);

static mesh__retry_policy policy(uint32_t bits) {
  mesh__retry_policy p;
  memset(&p, 0, sizeof p);
  p.retry_on_bits = bits;
  p.num_retries = 1;
  return p;
}

Test(retry, status_conditions) {
  mesh__retry_policy p = policy(MESH__RETRY_GATEWAY_ERROR);
  resp.status = 500;
  cr_expect(!mesh__retry_would_retry(&p, MESH__ATTEMPT_RESPONSE, &resp));
  resp.status = 503;
  cr_expect(mesh__retry_would_retry(&p, MESH__ATTEMPT_RESPONSE, &resp));
  p = policy(MESH__RETRY_5XX);
  resp.status = 500;
  cr_expect(mesh__retry_would_retry(&p, MESH__ATTEMPT_RESPONSE, &resp));
  resp.status = 409;
  cr_expect(!mesh__retry_would_retry(&p, MESH__ATTEMPT_RESPONSE, &resp));
  p = policy(MESH__RETRY_RETRIABLE_4XX);
  cr_expect(mesh__retry_would_retry(&p, MESH__ATTEMPT_RESPONSE, &resp));
  static const uint32_t codes[] = {418};
  p = policy(MESH__RETRY_RETRIABLE_STATUS_CODES);
  p.retriable_status_codes = codes;
  p.nretriable_status_codes = 1;
  resp.status = 418;
  cr_expect(mesh__retry_would_retry(&p, MESH__ATTEMPT_RESPONSE, &resp));
  resp.status = 200;
  cr_expect(!mesh__retry_would_retry(&p, MESH__ATTEMPT_RESPONSE, &resp));
}

Test(retry, overloaded_is_never_retried) {
  mesh__retry_policy p = policy(MESH__RETRY_5XX);
  resp.status = 503;
  add("x-envoy-overloaded", "true", 0);
  cr_expect(!mesh__retry_would_retry(&p, MESH__ATTEMPT_RESPONSE, &resp));
}

Test(retry, failures) {
  mesh__retry_policy p = policy(MESH__RETRY_CONNECT_FAILURE);
  cr_expect(mesh__retry_would_retry(&p, MESH__ATTEMPT_CONNECT_FAILURE, &resp));
  cr_expect(!mesh__retry_would_retry(&p, MESH__ATTEMPT_RESET, &resp));
  cr_expect(!mesh__retry_would_retry(&p, MESH__ATTEMPT_PER_TRY_TIMEOUT, &resp));
  p = policy(MESH__RETRY_REFUSED_STREAM);
  cr_expect(mesh__retry_would_retry(&p, MESH__ATTEMPT_REFUSED_STREAM, &resp));
  cr_expect(!mesh__retry_would_retry(&p, MESH__ATTEMPT_RESET, &resp));
  p = policy(MESH__RETRY_5XX);
  cr_expect(mesh__retry_would_retry(&p, MESH__ATTEMPT_RESET, &resp));
  cr_expect(mesh__retry_would_retry(&p, MESH__ATTEMPT_PER_TRY_TIMEOUT, &resp));
  cr_expect(mesh__retry_would_retry(&p, MESH__ATTEMPT_CONNECT_FAILURE, &resp));
  cr_expect(!mesh__retry_would_retry(&p, MESH__ATTEMPT_LOCAL, &resp));
  cr_expect_eq(mesh__attempt_outcome(MESH_ECONNECT_TIMEOUT, 0), MESH__ATTEMPT_CONNECT_FAILURE);
  cr_expect_eq(mesh__attempt_outcome(MESH_ERESET, 1), MESH__ATTEMPT_REFUSED_STREAM);
  cr_expect_eq(mesh__attempt_outcome(MESH_ETIMEOUT, 0), MESH__ATTEMPT_LOCAL);
  cr_expect_eq(mesh__attempt_outcome(MESH_EOVERFLOW, 0), MESH__ATTEMPT_LOCAL);
}

Test(retry, grpc_status_in_headers_or_trailers) {
  mesh__retry_policy p = policy(MESH__RETRY_GRPC_UNAVAILABLE | MESH__RETRY_GRPC_RESOURCE_EXHAUSTED);
  resp.status = 200;
  add("content-type", "application/grpc", 0);
  cr_expect_eq(mesh__grpc_status(&resp), -1);
  add("grpc-status", "14", 1);
  cr_expect_eq(mesh__grpc_status(&resp), 14);
  cr_expect(mesh__retry_would_retry(&p, MESH__ATTEMPT_RESPONSE, &resp));
  mesh__response_reset(&resp);
  resp.status = 200;
  add("grpc-status", "8", 0);
  cr_expect(mesh__retry_would_retry(&p, MESH__ATTEMPT_RESPONSE, &resp));
  mesh__response_reset(&resp);
  resp.status = 200;
  add("grpc-status", "13", 0);
  cr_expect(!mesh__retry_would_retry(&p, MESH__ATTEMPT_RESPONSE, &resp));
  p = policy(MESH__RETRY_GRPC_INTERNAL | MESH__RETRY_GRPC_CANCELLED | MESH__RETRY_GRPC_DEADLINE_EXCEEDED);
  cr_expect(mesh__retry_would_retry(&p, MESH__ATTEMPT_RESPONSE, &resp));
}

Test(retry, jittered_exponential_back_off) {
  /* Envoy: the n-th interval is random % ((2^n - 1) x base), capped at max. */
  uint8_t n = 0;
  uint64_t max_seen[5] = {0};
  for (int round = 0; round < 2000; round++) {
    n = 0;
    for (int k = 0; k < 5; k++) {
      uint64_t r = ((uint64_t)round * 2654435761u + (uint64_t)k * 40503u) * 11400714819323198485ull;
      uint64_t v = mesh__backoff_next(25, 250, &n, r);
      uint64_t lim = ((1u << (k + 1)) - 1) * 25;
      cr_assert_lt(v, lim > 250 ? 251 : lim, "retry %d: %llu", k + 1, (unsigned long long)v);
      if (v > max_seen[k]) max_seen[k] = v;
    }
  }
  cr_expect_gt(max_seen[0], 20);
  cr_expect_gt(max_seen[1], 60);
  cr_expect_gt(max_seen[2], 150);
  cr_expect_eq(max_seen[4], 250, "capped at max_interval");
  n = 0;
  cr_expect_eq(mesh__backoff_next(0, 0, &n, 12345), 0);
}

Test(retry, reset_headers) {
  static const mesh__reset_header rh[] = {
      {{"retry-after", 11}, MESH__RESET_SECONDS},
      {{"x-ratelimit-reset", 17}, MESH__RESET_UNIX_TIMESTAMP},
  };
  mesh__retry_policy p = policy(MESH__RETRY_RETRIABLE_STATUS_CODES);
  p.reset_headers = rh;
  p.nreset_headers = 2;
  p.rl_backoff_max_ms = 300000;
  resp.status = 429;
  cr_expect_eq(mesh__retry_reset_backoff_ms(&p, &resp, 1000, 7), -1);
  add("retry-after", "2", 0);
  for (uint64_t r = 0; r < 100; r++) {
    int64_t v = mesh__retry_reset_backoff_ms(&p, &resp, 1000, r * 7919);
    cr_assert(v >= 2000 && v < 3000, "%lld", (long long)v);
  }
  mesh__response_reset(&resp);
  add("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT", 0);
  add("x-ratelimit-reset", "1005", 0);
  int64_t v = mesh__retry_reset_backoff_ms(&p, &resp, 1000, 0);
  cr_expect_eq(v, 5000, "the date form is skipped, the timestamp used");
  p.rl_backoff_max_ms = 4000;
  cr_expect_eq(mesh__retry_reset_backoff_ms(&p, &resp, 1000, 0), -1, "above max_interval");
}

Test(retry, grpc_timeout) {
  cr_expect_eq(mesh__grpc_timeout_ms("200m", 4), 200);
  cr_expect_eq(mesh__grpc_timeout_ms("1S", 2), 1000);
  cr_expect_eq(mesh__grpc_timeout_ms("2M", 2), 120000);
  cr_expect_eq(mesh__grpc_timeout_ms("1H", 2), 3600000);
  cr_expect_eq(mesh__grpc_timeout_ms("1500u", 5), 2);
  cr_expect_eq(mesh__grpc_timeout_ms("1n", 2), 1);
  cr_expect_eq(mesh__grpc_timeout_ms("99999999m", 9), 99999999);
  cr_expect_eq(mesh__grpc_timeout_ms("123456789m", 10), -1, "at most 8 digits");
  cr_expect_eq(mesh__grpc_timeout_ms("m", 1), -1);
  cr_expect_eq(mesh__grpc_timeout_ms("10x", 3), -1);
  cr_expect_eq(mesh__grpc_timeout_ms("-1m", 3), -1);
}
