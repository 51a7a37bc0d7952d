/* SPDX-License-Identifier: MIT */
/*
 * HTTP server on libmicrohttpd: one or two listeners, a routing table,
 * request ids, body caps, access logs, HTTP metrics and a bounded drain.
 *
 * Routes. Each route is a method, a pattern and a zone. A pattern is a
 * path whose segments are literal or "{name}" (a path parameter: one
 * non-empty segment), or a prefix ending in "…" (U+2026, as
 * operations.md writes "/admin/static/…"): it matches every path that
 * starts with the part before it. Patterns are matched in the order they
 * were added; the first route whose pattern and method match wins. A
 * path that matches some pattern, but with no route of that method,
 * answers 405 {"error":"method_not_allowed"} with Allow; a path that
 * matches none answers 404 {"error":"not_found"}. HEAD is served by the
 * GET route. The pattern is the "route" label of the HTTP metrics and of
 * the access log, "unmatched" when none matched.
 *
 * Zones. HTTPD_ZONE_ADMIN routes (/admin, /metrics, /livez, /readyz) and
 * HTTPD_ZONE_PUBLIC routes (/webhooks/...) share the one listener when
 * there is no admin listener. With an admin listener (SCBRIDGE_ADMIN_
 * LISTEN), admin routes are served only there and public routes only on
 * the main listener; a route of the other listener answers 404.
 *
 * Every answer carries X-Request-Id: the request's X-Request-Id when it
 * is 1-64 printable ASCII characters, else a new random one. A body
 * larger than max_body answers 413 {"error":"too_large"}, decided from
 * Content-Length before reading, or while reading a chunked body (that
 * one is read on and dropped, and answered at its end; past
 * HTTPD_DISCARD_MAX more bytes the connection is closed). The handler
 * runs once the whole body has arrived. While draining, every
 * answer carries "Connection: close".
 *
 * Threads: each listener runs a pool of HTTPD_THREADS threads, each with
 * its own epoll loop; a handler runs on the thread of its connection and
 * may block (on Redis, say) for a few milliseconds, holding up only the
 * other connections of that thread. Handlers must be thread-safe.
 */
#ifndef SCB_HTTPD_H
#define SCB_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define HTTPD_THREADS 4         /* per listener */
#define HTTPD_CONN_LIMIT 1024   /* per listener */
#define HTTPD_CONN_TIMEOUT_S 30 /* an idle or stalled connection closes */
#define HTTPD_REQ_ID_MAX 64
#define HTTPD_RESP_MAX (64u << 20)    /* largest answer body built in memory */
#define HTTPD_RESP_HEADERS 12         /* extra answer headers per response */
#define HTTPD_PARAMS_MAX 4            /* {name} segments per pattern */
#define HTTPD_DISCARD_MAX (16u << 20) /* over-limit body read before close */
#define HTTPD_IDLE_SETTLE_MS 100      /* quiet time before a drain ends */

struct httpd;      /* the server: opaque */
struct httpd_req;  /* one request; valid only during the handler call */
struct httpd_resp; /* its answer; valid only during the handler call */

enum httpd_zone {
    HTTPD_ZONE_PUBLIC, /* /webhooks/...: the main listener */
    HTTPD_ZONE_ADMIN,  /* /admin, /metrics, probes: the admin listener */
};

/*
 * A route handler. It reads 'req' and fills 'resp'; a handler that sets
 * nothing answers 500 {"error":"internal"}. 'ctx' is the pointer given
 * to httpd_route(). Runs on a server thread: must be thread-safe.
 */
typedef void (*httpd_handler_fn)(struct httpd_req *req, struct httpd_resp *resp,
                                 void *ctx);

struct httpd_config {
    const char *host; /* main listener: name or address, no [] */
    int port;
    const char *admin_host; /* NULL: no admin listener */
    int admin_port;
    size_t max_body; /* SCBRIDGE_WEBHOOK_MAX_BYTES */
};

/*
 * New server for 'cfg' (copied); declares the HTTP metric families.
 * Nothing listens until httpd_start(). NULL only on OOM.
 */
struct httpd *httpd_new(const struct httpd_config *cfg);

/*
 * Adds a route; call before httpd_start(). 'method' and 'pattern' are
 * copied. SCB_EINVAL for a malformed pattern (not starting with '/',
 * an empty or unclosed {name}, more than HTTPD_PARAMS_MAX params, or
 * "…" anywhere but at the end), SCB_ENOMEM. Not thread-safe.
 */
enum scb_err httpd_route(struct httpd *h, enum httpd_zone zone,
                         const char *method, const char *pattern,
                         httpd_handler_fn fn, void *ctx);

/*
 * Binds the listeners and starts serving. SCB_EIO when an address cannot
 * be resolved or bound (the cause in httpd_errstr()); nothing is left
 * running then.
 */
enum scb_err httpd_start(struct httpd *h);

/* Why httpd_start() failed, e.g. "127.0.0.1:8080: Address in use". */
const char *httpd_errstr(const struct httpd *h);

/*
 * Called when the server itself refuses a request on a matched route
 * with 413 (a body over max_body), before that answer goes out; no
 * handler runs for such a request. For accounting only: it answers
 * nothing. Runs on a server thread: must be thread-safe.
 */
typedef void (*httpd_reject_fn)(const struct httpd_req *req, int status,
                                void *ctx);

/* Sets the reject callback (one per server); call before httpd_start(). */
void httpd_on_reject(struct httpd *h, httpd_reject_fn fn, void *ctx);

/*
 * Stops accepting new connections; connections already open are still
 * served, and their answers carry "Connection: close". Thread-safe.
 */
void httpd_quiesce(struct httpd *h);

/* Requests in progress (from their request line to their answer). */
int httpd_in_flight(const struct httpd *h);

/*
 * Waits until no request has been in progress for HTTPD_IDLE_SETTLE_MS,
 * or CLOCK_MONOTONIC passes 'deadline_ms'; true when idle. Call after
 * httpd_quiesce().
 */
bool httpd_wait_idle(const struct httpd *h, int64_t deadline_ms);

/*
 * Stops the listeners (closing remaining connections; a handler still
 * running is waited for) and frees everything. NULL is a no-op.
 */
void httpd_free(struct httpd *h);

/* The local port of the main (or admin) listener once started; tests. */
int httpd_port(const struct httpd *h, bool admin);

/*
 * Request accessors. Strings are borrowed until the handler returns.
 */
const char *httpd_req_method(const struct httpd_req *req);
const char *httpd_req_path(const struct httpd_req *req);  /* decoded */
const char *httpd_req_route(const struct httpd_req *req); /* the pattern */
const char *httpd_req_id(const struct httpd_req *req);

/* The value of path parameter {name}, or NULL. */
const char *httpd_req_param(const struct httpd_req *req, const char *name);

/* For a "…" route, the part of the path after the prefix (maybe ""). */
const char *httpd_req_tail(const struct httpd_req *req);

/*
 * The first query value of 'name' (decoded; "" for "?name" without =),
 * or NULL when absent.
 */
const char *httpd_req_query(const struct httpd_req *req, const char *name);

/*
 * Every value of a repeated query name: fills out[0..max-1] in order
 * and answers how many there are in all (which may exceed max).
 */
size_t httpd_req_query_all(const struct httpd_req *req, const char *name,
                           const char **out, size_t max);

/* True when the request has a query string with at least one name. */
bool httpd_req_has_query(const struct httpd_req *req);

/* A request header, by name without regard to case (the first one). */
const char *httpd_req_header(const struct httpd_req *req, const char *name);

/* The body (NULL and 0 when none); at most max_body bytes. */
const unsigned char *httpd_req_body(const struct httpd_req *req,
                                    size_t *out_len);

/*
 * Response builders. Each replaces what an earlier call set. On SCB_ENOMEM
 * or SCB_ETOOBIG the answer becomes 500 {"error":"internal"}.
 */

/* 'json' (copied) with Content-Type application/json. */
enum scb_err httpd_resp_json(struct httpd_resp *resp, int status,
                             const char *json);

/* {"error":"<code>"} with Content-Type application/json. */
enum scb_err httpd_resp_error(struct httpd_resp *resp, int status,
                              const char *code);

/* 'len' bytes of 'data' (copied) with 'content_type'. */
enum scb_err httpd_resp_body(struct httpd_resp *resp, int status,
                             const char *content_type, const void *data,
                             size_t len);

/* Takes the contents of 'body' (left empty) as the answer body. */
void httpd_resp_take(struct httpd_resp *resp, int status,
                     const char *content_type, struct buf *body);

/*
 * Answers the file at 'path' with 'content_type' and 200, streamed from
 * disk; a missing or unreadable file answers 404 {"error":"not_found"}
 * (SCB_ENOTFOUND).
 */
enum scb_err httpd_resp_file(struct httpd_resp *resp, const char *path,
                             const char *content_type);

/*
 * Adds an answer header ("Retry-After", "Allow", "WWW-Authenticate",
 * "Cache-Control"...), copied. SCB_ETOOBIG past HTTPD_RESP_HEADERS.
 */
enum scb_err httpd_resp_header(struct httpd_resp *resp, const char *name,
                               const char *value);

/*
 * The one place where an error code becomes an HTTP answer:
 * SCB_EINVAL and SCB_EPARSE 400 bad_request, SCB_EAUTH 401
 * unauthorized, SCB_ENOTFOUND 404 not_found, SCB_ETOOBIG 413 too_large,
 * SCB_ESTORE, SCB_ESTORECMD and SCB_ETIMEOUT 503 unavailable with
 * Retry-After: 5, anything else 500 internal.
 */
void httpd_resp_scb_err(struct httpd_resp *resp, enum scb_err err);

/* The status an error code maps to, as httpd_resp_scb_err() answers. */
int httpd_status_for(enum scb_err err);

#endif
