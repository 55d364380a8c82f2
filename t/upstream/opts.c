/*
 * Request options (query parameters) and the response plan.
 *
 * req_opts_parse() turns "?status=503&size=10" into a struct req_opts;
 * plan_request() turns the options (plus method, path and protocol) into a
 * struct plan that the protocol code executes.  The fault schedule of the
 * command line (--fault, --fail-every, --conn-reset) is applied here too.
 */
#include "upstream.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Strict unsigned decimal: digits only, no sign, no overflow past `max`. */
static bool parse_u64(const char *v, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;

	if (n == 0 || n > 20)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		uint64_t d = (uint64_t)(v[i] - '0');
		if (x > (max - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*out = x;
	return true;
}

static bool val_is(const char *v, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(v, lit, n) == 0;
}

/* Boolean flags: "1"/"true", "0"/"false"; a bare "?flag" means true. */
static bool parse_bool(const char *v, size_t n, bool bare, bool *out)
{
	if (bare || val_is(v, n, "1") || val_is(v, n, "true")) {
		*out = true;
		return true;
	}
	if (val_is(v, n, "0") || val_is(v, n, "false")) {
		*out = false;
		return true;
	}
	return false;
}

static bool parse_reset(const char *v, size_t n, bool bare, enum reset_mode *out)
{
	bool b;

	if (val_is(v, n, "after_headers")) {
		*out = RESET_AFTER_HEADERS;
		return true;
	}
	if (val_is(v, n, "mid_body")) {
		*out = RESET_MID_BODY;
		return true;
	}
	if (val_is(v, n, "conn")) {
		*out = RESET_CONN;
		return true;
	}
	if (parse_bool(v, n, bare, &b)) {
		*out = b ? RESET_NOW : RESET_NONE;
		return true;
	}
	return false;
}

/* Apply one key=value pair; false if the value is malformed. */
static bool apply_param(struct req_opts *o, const char *k, size_t kn,
                        const char *v, size_t vn, bool bare)
{
	uint64_t u;

#define KEY(lit) (kn == sizeof(lit) - 1 && memcmp(k, lit, kn) == 0)
	if (KEY("status")) {
		if (!parse_u64(v, vn, 599, &u) || u < 200)
			return false;
		o->status = (int)u;
	} else if (KEY("delay_ms")) {
		if (!parse_u64(v, vn, UP_MAX_DELAY_MS, &u))
			return false;
		o->delay_ms = (uint32_t)u;
	} else if (KEY("size")) {
		if (!parse_u64(v, vn, UP_MAX_RESP_BODY, &u))
			return false;
		o->size = u;
		o->size_set = true;
	} else if (KEY("header_bytes")) {
		if (!parse_u64(v, vn, UP_MAX_HEADER_BYTES, &u))
			return false;
		o->header_bytes = (uint32_t)u;
	} else if (KEY("retry_after")) {
		if (!parse_u64(v, vn, UINT32_MAX, &u))
			return false;
		o->retry_after = (uint32_t)u;
		o->retry_after_set = true;
	} else if (KEY("grpc_status")) {
		if (!parse_u64(v, vn, 16, &u))
			return false;
		o->grpc_status = (int)u;
	} else if (KEY("reset")) {
		return parse_reset(v, vn, bare, &o->reset);
	} else if (KEY("echo")) {
		return parse_bool(v, vn, bare, &o->echo);
	} else if (KEY("stall")) {
		return parse_bool(v, vn, bare, &o->stall);
	} else if (KEY("goaway")) {
		return parse_bool(v, vn, bare, &o->goaway);
	} else if (KEY("chunked")) {
		return parse_bool(v, vn, bare, &o->chunked);
	} else if (KEY("close")) {
		return parse_bool(v, vn, bare, &o->close);
	} else if (KEY("trailer")) {
		return parse_bool(v, vn, bare, &o->trailer);
	} else if (KEY("stamp")) {
		return parse_bool(v, vn, bare, &o->stamp);
	}
	/* Unknown parameters are ignored. */
#undef KEY
	return true;
}

int req_opts_parse(const uint8_t *target, size_t len, struct req_opts *o,
                   char *bad, size_t badlen)
{
	const char *p = (const char *)target, *end = p + len;
	const char *q;

	memset(o, 0, sizeof(*o));
	o->status = 200;
	o->grpc_status = -1;
	if (badlen)
		bad[0] = '\0';

	q = memchr(p, '?', len);
	if (!q)
		return 0;
	p = q + 1;
	/* A fragment never reaches a server, but be tolerant. */
	q = memchr(p, '#', (size_t)(end - p));
	if (q)
		end = q;

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(pe - p));
		const char *k = p, *v;
		size_t kn, vn;
		bool bare = (eq == NULL);

		kn = (size_t)((eq ? eq : pe) - p);
		v = eq ? eq + 1 : pe;
		vn = (size_t)(pe - v);
		if (kn > 0 && !apply_param(o, k, kn, v, vn, bare)) {
			snprintf(bad, badlen, "%.*s", (int)(kn > 64 ? 64 : kn), k);
			return -1;
		}
		p = pe + (amp ? 1 : 0);
	}
	return 0;
}

const char *reason_phrase(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default:  return "Status";
	}
}

static bool ref_eq(const struct hdr_ref *h, const char *lit)
{
	size_t n = strlen(lit);
	return h->vlen == n && memcmp(h->val, lit, n) == 0;
}

/* Path without the query, compared to `lit`. */
static bool path_is(const struct hdr_ref *path, const char *lit)
{
	size_t n = strlen(lit);
	return path->vlen >= n && memcmp(path->val, lit, n) == 0 &&
	       (path->vlen == n || path->val[n] == '?');
}

void plan_error(struct request *r, int status, const char *msg, bool close)
{
	struct plan *p = &r->plan;

	memset(p, 0, sizeof(*p));
	p->status = status;
	p->retry_after = -1;
	p->grpc_status = -1;
	p->src = BODY_TEXT;
	r->text_len = (size_t)snprintf(r->text, sizeof(r->text), "%s\n", msg);
	if (r->text_len >= sizeof(r->text))
		r->text_len = sizeof(r->text) - 1;
	p->body_len = p->send_limit = r->text_len;
	p->send_body = !ref_eq(&r->method, "HEAD");
	p->content_length = true;
	p->close = close;
	p->content_type = "text/plain";
}

/* ---- the fault schedule ---------------------------------------------- */

enum fault_kind { F_STATUS, F_RESET, F_CONN_RESET, F_DELAY, F_STALL, F_AFTER_HEADERS, F_MID_BODY };

struct fault {
	enum fault_kind kind;
	int status;
	uint32_t delay_ms;
	uint32_t ppm;            /* probability, parts per million     */
	uint64_t every;          /* or: every N-th request (N > 0)     */
};

#define MAX_FAULTS 16
static struct fault faults[MAX_FAULTS];
static size_t nfaults;
static uint32_t conn_reset_ppm;
static uint64_t fault_seq;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

void fault_seed(uint64_t seed)
{
	rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

static uint32_t roll_ppm(void)
{
	/* xorshift64*: reproducible with --seed. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 2685821657736338717ull) >> 32) % 1000000u;
}

/* "50%", "0.5%", "100%": parts per million. */
static bool parse_pct(const char *s, uint32_t *ppm)
{
	size_t n = strlen(s);
	uint64_t whole = 0, frac = 0, scale = 10000;
	size_t i = 0;

	if (n < 2 || s[n - 1] != '%')
		return false;
	n--;
	if (!isdigit((unsigned char)s[0]))
		return false;
	for (; i < n && isdigit((unsigned char)s[i]); i++)
		whole = whole * 10 + (uint64_t)(s[i] - '0');
	if (i < n && s[i] == '.') {
		for (i++; i < n && isdigit((unsigned char)s[i]); i++) {
			scale /= 10;
			frac += (uint64_t)(s[i] - '0') * scale;
		}
	}
	if (i != n || whole > 100 || whole * 10000 + frac > 1000000)
		return false;
	*ppm = (uint32_t)(whole * 10000 + frac);
	return true;
}

int fault_add(const char *spec)
{
	struct fault f;
	const char *colon = strrchr(spec, ':');
	char kind[64];
	uint64_t u;

	memset(&f, 0, sizeof(f));
	if (!colon || (size_t)(colon - spec) >= sizeof(kind) || nfaults == MAX_FAULTS)
		return -1;
	memcpy(kind, spec, (size_t)(colon - spec));
	kind[colon - spec] = '\0';
	if (!parse_pct(colon + 1, &f.ppm))
		return -1;
	if (parse_u64(kind, strlen(kind), 599, &u)) {
		if (u < 200)
			return -1;
		f.kind = F_STATUS;
		f.status = (int)u;
	} else if (!strcmp(kind, "reset")) {
		f.kind = F_RESET;
	} else if (!strcmp(kind, "conn_reset")) {
		f.kind = F_CONN_RESET;
	} else if (!strcmp(kind, "stall")) {
		f.kind = F_STALL;
	} else if (!strcmp(kind, "after_headers")) {
		f.kind = F_AFTER_HEADERS;
	} else if (!strcmp(kind, "mid_body")) {
		f.kind = F_MID_BODY;
	} else if (!strncmp(kind, "delay=", 6) &&
	           parse_u64(kind + 6, strlen(kind + 6), UP_MAX_DELAY_MS, &u)) {
		f.kind = F_DELAY;
		f.delay_ms = (uint32_t)u;
	} else {
		return -1;
	}
	faults[nfaults++] = f;
	return 0;
}

int fault_fail_every(const char *spec)
{
	const char *colon = strchr(spec, ':');
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
	uint64_t every, st = 503;
	struct fault f;

	if (!parse_u64(spec, n, UINT32_MAX, &every) || every == 0 || nfaults == MAX_FAULTS)
		return -1;
	if (colon && (!parse_u64(colon + 1, strlen(colon + 1), 599, &st) || st < 200))
		return -1;
	memset(&f, 0, sizeof(f));
	f.kind = F_STATUS;
	f.status = (int)st;
	f.every = every;
	faults[nfaults++] = f;
	return 0;
}

int fault_conn_reset(const char *spec)
{
	return parse_pct(spec, &conn_reset_ppm) ? 0 : -1;
}

bool fault_doom_conn(void)
{
	return conn_reset_ppm && roll_ppm() < conn_reset_ppm;
}

/* The first scheduled fault that fires overrides what the request asked. */
static void fault_apply(struct request *r)
{
	struct req_opts *o = &r->opts;
	uint64_t seq = ++fault_seq;

	if (r->conn && r->conn->doomed) {
		o->reset = RESET_CONN;
		return;
	}
	for (size_t i = 0; i < nfaults; i++) {
		const struct fault *f = &faults[i];
		bool fire = f->every ? seq % f->every == 0 : f->ppm && roll_ppm() < f->ppm;
		if (!fire)
			continue;
		switch (f->kind) {
		case F_STATUS: o->status = f->status; break;
		case F_RESET: o->reset = RESET_NOW; break;
		case F_CONN_RESET: o->reset = RESET_CONN; break;
		case F_DELAY: o->delay_ms = f->delay_ms; break;
		case F_STALL:
			/* Headers announcing a body that never comes. */
			o->stall = true;
			if (!o->size_set) {
				o->size = 1000;
				o->size_set = true;
			}
			break;
		case F_AFTER_HEADERS: o->reset = RESET_AFTER_HEADERS; break;
		case F_MID_BODY:
			o->reset = RESET_MID_BODY;
			break;
		}
		return;
	}
}

/*
 * Decide the response.  r->opts must already be parsed (r->bad_opts set on
 * a malformed query).  This is the one place where behaviour is chosen.
 */
void plan_request(struct request *r, bool is_h2)
{
	const struct req_opts *o = &r->opts;
	struct plan *p = &r->plan;

	if (r->bad_opts) {
		/* r->text already holds the parameter name; keep it. */
		char msg[96];
		snprintf(msg, sizeof(msg), "malformed query parameter: %.64s", r->text);
		plan_error(r, 400, msg, false);
		return;
	}

	if (path_is(&r->path, "/stats")) {
		plan_error(r, 200, "", false);
		r->text_len = (size_t)snprintf(r->text, sizeof(r->text),
		        "connections=%llu requests=%llu active_connections=%llu\n",
		        (unsigned long long)G.stats.connections,
		        (unsigned long long)G.stats.requests,
		        (unsigned long long)G.stats.active_connections);
		p->body_len = p->send_limit = r->text_len;
		return;
	}

	if (nfaults || conn_reset_ppm)
		fault_apply(r);
	memset(p, 0, sizeof(*p));
	p->status = o->status;
	p->delay_ms = o->delay_ms;
	p->reset = o->reset;
	p->stall = o->stall;
	p->header_bytes = o->header_bytes;
	p->trailer = o->trailer;
	p->stamp = o->stamp;
	p->retry_after = o->retry_after_set ? (int64_t)o->retry_after : -1;
	p->grpc_status = o->grpc_status;
	if (is_h2) {
		p->goaway = o->goaway;
	} else {
		/* trailer=1 on h1 needs chunked coding (RFC 9112 7.1.2). */
		p->chunked = o->chunked || o->trailer;
		p->trailer = o->chunked || o->trailer;
		p->close = o->close;
	}

	if (o->echo) {
		p->src = BODY_ECHO;
		p->body_len = r->body_bytes;
	} else {
		p->src = BODY_FILL;
		p->body_len = o->size;
		if (o->reset == RESET_MID_BODY && !o->size_set)
			p->body_len = 1000;
	}
	p->send_limit = p->body_len;
	if (p->reset == RESET_MID_BODY)
		p->send_limit = p->body_len / 2;
	if (p->reset == RESET_AFTER_HEADERS || p->stall)
		p->send_limit = 0;

	/* RFC 9110 6.4.1: 204 and 304 never carry content; HEAD gets none. */
	p->send_body = !ref_eq(&r->method, "HEAD");
	p->content_length = !p->chunked;
	if (p->status == 204 || p->status == 304) {
		p->send_body = false;
		p->content_length = false;
		p->chunked = false;
		p->trailer = false;
		p->body_len = p->send_limit = 0;
	}
}
