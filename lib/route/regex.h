/* safe_regex: RE2-syntax regular expressions, run by PCRE2 and bounded.
 *
 * xDS regexes are RE2 syntax, and RE2 guarantees linear-time matching.
 * PCRE2 backtracks, so this module (1) refuses what RE2 would refuse and
 * what breaks the time bound or changes meaning: backreferences,
 * lookahead/lookbehind, atomic groups, possessive quantifiers, recursion
 * and subroutine calls, conditionals, (*VERBS), \K \G \Z \R \X \h \H \v \V
 * \N \g \k, flags other than i m s U, and counted repeats above 1000 (RE2's
 * limit); (2) compiles with $ meaning end of subject only (as RE2 without
 * (?m)), bytes not UTF-8; and (3) bounds every match with a match limit, a
 * depth limit and a heap limit (a pattern that hits a limit does not match
 * and counts in mesh__regex_limit_hits()). Matching uses the JIT when the
 * platform has one, and per-thread match data and JIT stack created on
 * first use: no allocation per match.
 *
 * Modes: MESH__RE_FULL matches the whole subject (Envoy's safe_regex
 * matchers: RE2::FullMatch), MESH__RE_SEARCH finds matches anywhere (for
 * regex_rewrite, RE2::GlobalReplace). */
#ifndef MESH_ROUTE_REGEX_H
#define MESH_ROUTE_REGEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct mesh__regex mesh__regex;

enum { MESH__RE_SEARCH = 0, MESH__RE_FULL = 1 };

/* Bounds applied to every match (PCRE2 units: match() calls, nested
 * backtracking depth, KiB of backtracking frames). */
#define MESH__RE_MATCH_LIMIT 100000u
#define MESH__RE_DEPTH_LIMIT 10000u
#define MESH__RE_HEAP_LIMIT_KIB 1024u
/* Longest pattern accepted, in bytes. */
#define MESH__RE_MAX_PATTERN 4096u

/* Compile pattern[0..len). max_program_size: RegexMatcher.google_re2's
 * (deprecated) limit, 0 if unset; libmesh has no RE2 program, so it is
 * applied to the pattern's length in bytes (a loose stand-in, documented).
 * NULL with a message in err on failure. */
mesh__regex *mesh__regex_compile(const char *pattern, size_t len, int mode, uint32_t max_program_size, char *err,
                                 size_t errlen);
void mesh__regex_free(mesh__regex *re);
/* For cleanup lists: mesh__regex_free with a void * argument. */
void mesh__regex_free_cb(void *re);

/* 1 if s[0..n) matches (whole subject in MESH__RE_FULL), else 0. */
int mesh__regex_match(const mesh__regex *re, const char *s, size_t n);
/* A literal every match starts with (MESH__RE_FULL only; may be empty):
 * lets a matcher reject most subjects with a memcmp before running the
 * regex. Returns its length and sets *p (NUL-terminated). */
size_t mesh__regex_prefix(const mesh__regex *re, const char **p);
/* Number of capturing groups. */
uint32_t mesh__regex_groups(const mesh__regex *re);
const char *mesh__regex_pattern(const mesh__regex *re);

/* Check an RE2 rewrite string: \0..\9 name groups, \\ is a backslash, any
 * other backslash is an error, as is a group the pattern does not have.
 * 0, or -1 with a message. */
int mesh__regex_check_rewrite(const mesh__regex *re, const char *sub, size_t sublen, char *err, size_t errlen);

/* RE2::GlobalReplace: every non-overlapping match of re in s[0..n) replaced
 * by sub (checked by mesh__regex_check_rewrite), written to out[0..cap).
 * Returns the length written (no NUL added), -1 if it does not fit, -2 if
 * a match limit was hit. */
#define MESH__RE_ETOOSMALL (-1)
#define MESH__RE_ELIMIT (-2)
ptrdiff_t mesh__regex_replace(const mesh__regex *re, const char *s, size_t n, const char *sub, size_t sublen,
                              char *out, size_t cap);

/* Matches abandoned at a limit since the process started (all threads). */
uint64_t mesh__regex_limit_hits(void);
/* Free the calling thread's match data now (it is also freed when the
 * thread exits). */
void mesh__regex_thread_cleanup(void);

#endif
