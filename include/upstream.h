/* SPDX-License-Identifier: MIT */
/*
 * HTTP(S) calls to the two upstreams (Sellercloud, DDI) through libcurl,
 * and the one classification of their failures that both clients share
 * (contracts/ddi.md "Errors and their classes").
 *
 * A struct upstream owns one libcurl easy handle, reused call after call
 * so that connections are kept alive. It is NOT thread-safe: each thread
 * owns its own. TLS verification is always on (CA bundle from
 * SCBRIDGE_CA_FILE); responses are capped at SCBRIDGE_UPSTREAM_MAX_BYTES;
 * redirects are not followed; only http and https are allowed.
 *
 * Every call counts scbridge_upstream_requests_total{upstream,endpoint,
 * code} (code = the status, or "timeout" / "conn_error") and observes
 * scbridge_upstream_duration_seconds{upstream}. Nothing here logs a URL's
 * query, a header or a body; upstream_log_failure() logs only the scheme,
 * host and path, the status and a bounded body excerpt.
 *
 * Result codes of upstream_send() and their class:
 *   SCB_OK          2xx                                      ok
 *   SCB_EWAIT       429, or 503 with Retry-After              wait
 *   SCB_EUPSTREAM   5xx, 408, 401, connection refused or       transient
 *                   dropped (a write: only if nothing was sent)
 *   SCB_ETIMEOUT    a read (GET) that timed out, or a write    transient
 *                   that did before anything was sent
 *   SCB_EUNKNOWN    a write (POST, PUT, PATCH, DELETE) that    unknown
 *                   was sent and then timed out, was dropped
 *                   or got a 5xx other than a 503 to wait on
 *   SCB_EPERMANENT  any other 4xx (400, 404, 409, 422, ...)   permanent
 *   SCB_ETOOBIG     the answer exceeded the size cap          permanent
 *   SCB_ENOMEM, SCB_EINVAL (bad request fields)               transient,
 *                                                             permanent
 * A 401 is transient here; the Sellercloud client refreshes its token and
 * retries once before it hands one back.
 */
#ifndef SCB_UPSTREAM_H
#define SCB_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "err.h"

/* Longest body excerpt kept for logs, in bytes (NUL not included). */
#define UPSTREAM_EXCERPT_MAX 256
/* Longest loggable URL form (scheme://host/path), NUL included. */
#define UPSTREAM_URL_LOG_MAX 256
/* Wait given to a 429 that names no time, in seconds. */
#define UPSTREAM_DEFAULT_WAIT_S 30
/* Longest Retry-After honoured, in seconds (larger values are cut). */
#define UPSTREAM_MAX_RETRY_AFTER_S 86400

enum upstream_method {
    UPSTREAM_GET,
    UPSTREAM_POST,
    UPSTREAM_PUT,
    UPSTREAM_PATCH,
    UPSTREAM_DELETE,
};

/* What the service does about a result; see the table above. */
enum upstream_class {
    UPSTREAM_CLASS_OK,
    UPSTREAM_CLASS_WAIT,      /* no attempt spent; wait wait_ms */
    UPSTREAM_CLASS_TRANSIENT, /* retry with backoff, spends an attempt */
    UPSTREAM_CLASS_UNKNOWN,   /* a write may have happened: look it up */
    UPSTREAM_CLASS_PERMANENT, /* retrying cannot help: needs a person */
};

/* How a transfer ended before any status could be trusted. */
enum upstream_fail {
    UPSTREAM_FAIL_NONE,    /* a complete answer arrived */
    UPSTREAM_FAIL_TIMEOUT, /* connect or total timeout */
    UPSTREAM_FAIL_CONN,    /* refused, reset, dropped, TLS, DNS */
    UPSTREAM_FAIL_TOOBIG,  /* the body exceeded the cap */
};

/* One request. Every pointer is borrowed for the call only. */
struct upstream_request {
    enum upstream_method method;
    const char *url;      /* full URL with query; never logged */
    const char *endpoint; /* metric label, the contract's template:
                             "PUT /api/Orders/SetExported" */
    const char *const *headers; /* "Name: value" lines, NULL-terminated,
                                   or NULL; never logged */
    const char *body;     /* NULL: no body */
    size_t body_len;
    const char *content_type; /* of the body; NULL: application/json */
};

/*
 * One answer. upstream_send() fills it whatever its result, so that the
 * caller can log and classify a failure; release it with
 * upstream_response_release(). 'body' holds the whole body of a 2xx and
 * of an error answer alike (up to the cap).
 */
struct upstream_response {
    long status;             /* HTTP status; 0 when no answer came */
    enum upstream_fail fail;
    bool sent;               /* some of the request left this host */
    enum scb_err err;        /* the same code upstream_send() returned */
    enum upstream_class cls; /* upstream_class_of(err) */
    int64_t wait_ms;         /* SCB_EWAIT: how long to wait */
    int64_t retry_after_s;   /* Retry-After in seconds; -1 if none */
    char content_type[128];  /* "" when none; truncated if longer */
    char code[16];           /* metric label: "200", "timeout", ... */
    char endpoint[96];       /* copy of the request's template */
    char url_log[UPSTREAM_URL_LOG_MAX]; /* scheme://host/path only */
    char excerpt[UPSTREAM_EXCERPT_MAX + 1]; /* of a failed call's body */
    char detail[96];         /* libcurl's error text; "" when none */
    double elapsed_s;        /* whole call, wall time */
    struct buf body;
};

struct upstream;

/*
 * New handle for upstream 'name' ("sellercloud" or "ddi": the metric
 * label; borrowed, must outlive the handle), with a total timeout of
 * 'timeout_s' per call and the cap and CA bundle of 'cfg' (borrowed;
 * must outlive the handle). curl_global_init() must have run. NULL on
 * OOM or when libcurl cannot make a handle.
 */
struct upstream *upstream_new(const char *name, const struct config *cfg,
                              int64_t timeout_s);
void upstream_free(struct upstream *up);

/* The name given to upstream_new(). */
const char *upstream_name(const struct upstream *up);

/*
 * Sets the response empty. Its body is capped at 'max' bytes or at the
 * handle's SCBRIDGE_UPSTREAM_MAX_BYTES, whichever is smaller (0: the
 * handle's).
 */
void upstream_response_init(struct upstream_response *resp, size_t max);
void upstream_response_release(struct upstream_response *resp);

/*
 * Sends 'req' and waits for the answer (at most the handle's timeout).
 * 'resp' must have been initialised; it is reset first and filled. The
 * result is one of the codes in the table atop this file.
 */
enum scb_err upstream_send(struct upstream *up,
                           const struct upstream_request *req,
                           struct upstream_response *resp);

/* The class of a result code of this module or of the two clients. */
enum upstream_class upstream_class_of(enum scb_err err);

/* "ok", "wait", "transient", "unknown" or "permanent". */
const char *upstream_class_name(enum upstream_class cls);

/*
 * The result code for an ended transfer (pure): 'fail' how it ended,
 * 'sent' whether any of the request was sent, 'status' the HTTP status
 * (0 if none), 'retry_after_s' (-1 if none). On SCB_EWAIT *out_wait_ms
 * is set; otherwise it is left alone.
 */
enum scb_err upstream_classify(enum upstream_method method,
                               enum upstream_fail fail, bool sent,
                               long status, int64_t retry_after_s,
                               int64_t *out_wait_ms);

/*
 * Parses a Retry-After value: delay-seconds or an IMF-fixdate ("Sun, 06
 * Nov 1994 08:49:37 GMT") read against 'now'. A past date is 0 s; more
 * than UPSTREAM_MAX_RETRY_AFTER_S is cut to it. SCB_EINVAL otherwise.
 */
enum scb_err upstream_parse_retry_after(const char *value, time_t now,
                                        int64_t *out_s);

/*
 * Writes the loggable form of 'url' into 'out': scheme, host (no user
 * or password) and path, without query or fragment; truncated to fit.
 */
void upstream_url_for_log(const char *url, char *out, size_t outlen);

/*
 * Writes at most UPSTREAM_EXCERPT_MAX bytes of 'body' into 'out' as
 * printable ASCII (other bytes become '?', whitespace runs one space),
 * marking a cut with "..." within the bound.
 */
void upstream_excerpt(const char *body, size_t len,
                      char out[UPSTREAM_EXCERPT_MAX + 1]);

/*
 * True when the answer's Content-Type is application/json (parameters
 * such as charset allowed, case ignored).
 */
bool upstream_is_json(const struct upstream_response *resp);

/*
 * Logs a failed call once at warn: mod, job (NULL if none), the upstream,
 * endpoint, loggable URL, status, code, class, elapsed and the body
 * excerpt. Nothing else of the request or answer is logged.
 */
void upstream_log_failure(const char *mod, const char *job,
                          const struct upstream *up,
                          const struct upstream_response *resp);

#endif
