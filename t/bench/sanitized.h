/* SANITIZED: 1 in an AddressSanitizer build (make check-sanitizers,
 * --enable-sanitizers), where a bench runs for its checks, not its
 * figures, and does not enforce its targets. */
#ifndef MESH_BENCH_SANITIZED_H
#define MESH_BENCH_SANITIZED_H

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#endif
