/* SPDX-License-Identifier: MIT */
/* HTTP(S) calls to the upstreams through one reused libcurl handle. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "upstream.h"

#define UPSTREAM_CONNECT_TIMEOUT_MS 10000
#define UPSTREAM_MAX_HEADERS 16

struct upstream {
    const char *name;             /* borrowed: metric label */
    CURL *easy;                   /* owned; this thread's only */
    const char *ca_file;          /* borrowed from the config; or NULL */
    size_t max_bytes;             /* response body cap */
    long timeout_ms;              /* whole call */
    long connect_timeout_ms;
    char errbuf[CURL_ERROR_SIZE]; /* libcurl's detail of the last call */
};

/* What the libcurl callbacks fill during one transfer. */
struct upstream_xfer {
    struct upstream_response *resp;
    bool toobig;
    char retry_after[64];
};

static const char *const upstream_method_names[] = {
    [UPSTREAM_GET] = "GET",
    [UPSTREAM_POST] = "POST",
    [UPSTREAM_PUT] = "PUT",
    [UPSTREAM_PATCH] = "PATCH",
    [UPSTREAM_DELETE] = "DELETE",
};

static void upstream_describe_metrics(void)
{
    metrics_describe("scbridge_upstream_requests_total", METRICS_COUNTER,
                     "Requests to the upstreams by endpoint and result.");
    metrics_describe("scbridge_upstream_duration_seconds",
                     METRICS_HISTOGRAM,
                     "Duration of upstream requests, whole call.");
}

struct upstream *upstream_new(const char *name, const struct config *cfg,
                              int64_t timeout_s)
{
    struct upstream *up = mem_calloc(1, sizeof(*up));

    if (!up)
        return NULL;
    up->easy = curl_easy_init();
    if (!up->easy) {
        mem_free(up);
        return NULL;
    }
    up->name = name;
    up->ca_file = cfg->ca_file;
    up->max_bytes = cfg->upstream_max_bytes > 0
                        ? (size_t)cfg->upstream_max_bytes
                        : 8388608;
    up->timeout_ms = (long)(timeout_s > 0 ? timeout_s * 1000 : 30000);
    up->connect_timeout_ms = up->timeout_ms < UPSTREAM_CONNECT_TIMEOUT_MS
                                 ? up->timeout_ms
                                 : UPSTREAM_CONNECT_TIMEOUT_MS;
    upstream_describe_metrics();
    return up;
}

void upstream_free(struct upstream *up)
{
    if (!up)
        return;
    curl_easy_cleanup(up->easy);
    mem_free(up);
}

const char *upstream_name(const struct upstream *up)
{
    return up->name;
}

void upstream_response_init(struct upstream_response *resp, size_t max)
{
    memset(resp, 0, sizeof(*resp));
    resp->retry_after_s = -1;
    buf_init(&resp->body, max);
}

void upstream_response_release(struct upstream_response *resp)
{
    buf_release(&resp->body);
}

/* Empties 'resp' for a new call, keeping its body allocation. */
static void upstream_response_reset(struct upstream_response *resp,
                                    size_t cap)
{
    struct buf body = resp->body;

    buf_reset(&body);
    if (body.max == 0 || body.max > cap)
        body.max = cap;
    memset(resp, 0, sizeof(*resp));
    resp->body = body;
    resp->retry_after_s = -1;
}

static size_t upstream_on_body(char *data, size_t size, size_t n,
                               void *ctx)
{
    struct upstream_xfer *x = ctx;
    size_t len = size * n;

    if (buf_append(&x->resp->body, data, len)) {
        x->toobig = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return len;
}

/* Copies a header's value without leading blanks or the trailing CRLF. */
static void upstream_header_value(const char *v, size_t len, char *out,
                                  size_t outlen)
{
    size_t n;

    while (len > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)v[len - 1]))
        len--;
    n = len < outlen - 1 ? len : outlen - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

static size_t upstream_on_header(char *data, size_t size, size_t n,
                                 void *ctx)
{
    struct upstream_xfer *x = ctx;
    size_t len = size * n;
    static const char ct[] = "content-type:";
    static const char ra[] = "retry-after:";

    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue): forget the last one. */
        x->resp->content_type[0] = '\0';
        x->retry_after[0] = '\0';
    } else if (len > sizeof(ct) - 1 &&
               strncasecmp(data, ct, sizeof(ct) - 1) == 0) {
        upstream_header_value(data + sizeof(ct) - 1, len - (sizeof(ct) - 1),
                              x->resp->content_type,
                              sizeof(x->resp->content_type));
    } else if (len > sizeof(ra) - 1 &&
               strncasecmp(data, ra, sizeof(ra) - 1) == 0) {
        upstream_header_value(data + sizeof(ra) - 1, len - (sizeof(ra) - 1),
                              x->retry_after, sizeof(x->retry_after));
    }
    return len;
}

/* Builds the header list: the caller's, then Accept, Content-Type. */
static enum scb_err upstream_headers(const struct upstream_request *req,
                                     struct curl_slist **out_list)
{
    struct curl_slist *list = NULL, *next;
    char ctype[160];
    const char *fixed[3];
    size_t i;

    for (i = 0; req->headers && req->headers[i]; i++) {
        if (i >= UPSTREAM_MAX_HEADERS)
            goto fail_inval;
        next = curl_slist_append(list, req->headers[i]);
        if (!next)
            goto fail_nomem;
        list = next;
    }
    snprintf(ctype, sizeof(ctype), "Content-Type: %s",
             req->content_type ? req->content_type : "application/json");
    /* "Expect:" stops libcurl from waiting for a 100 Continue. */
    fixed[0] = "Accept: application/json";
    fixed[1] = "Expect:";
    fixed[2] = req->body ? ctype : NULL;
    for (i = 0; i < 3 && fixed[i]; i++) {
        next = curl_slist_append(list, fixed[i]);
        if (!next)
            goto fail_nomem;
        list = next;
    }
    *out_list = list;
    return SCB_OK;

fail_inval:
    curl_slist_free_all(list);
    return SCB_EINVAL;
fail_nomem:
    curl_slist_free_all(list);
    return SCB_ENOMEM;
}

/* Sets the method and body; POSTFIELDS is borrowed for the transfer. */
static CURLcode upstream_set_method(CURL *h,
                                    const struct upstream_request *req)
{
    CURLcode rc = CURLE_OK;
    const char *body = req->body ? req->body : "";
    curl_off_t len = req->body ? (curl_off_t)req->body_len : 0;

    if (req->method == UPSTREAM_GET)
        return curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    if (req->method == UPSTREAM_DELETE && !req->body)
        return curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    rc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, len);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    if (rc == CURLE_OK && req->method != UPSTREAM_POST)
        rc = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST,
                              upstream_method_names[req->method]);
    return rc;
}

static CURLcode upstream_setup(struct upstream *up,
                               const struct upstream_request *req,
                               struct curl_slist *headers,
                               struct upstream_xfer *x)
{
    CURL *h = up->easy;
    CURLcode rc = CURLE_OK;

    /* Reset drops the last call's options but keeps its connections. */
    curl_easy_reset(h);
    rc |= curl_easy_setopt(h, CURLOPT_URL, req->url);
    rc |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    rc |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, up->timeout_ms);
    rc |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                           up->connect_timeout_ms);
    rc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    rc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (up->ca_file)
        rc |= curl_easy_setopt(h, CURLOPT_CAINFO, up->ca_file);
    rc |= curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    rc |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, up->errbuf);
    rc |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    rc |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, upstream_on_body);
    rc |= curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    rc |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, upstream_on_header);
    rc |= curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    rc |= upstream_set_method(h, req);
    return rc;
}

static double upstream_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static enum upstream_fail upstream_fail_of(CURLcode rc, bool toobig)
{
    if (rc == CURLE_OK)
        return UPSTREAM_FAIL_NONE;
    if (toobig)
        return UPSTREAM_FAIL_TOOBIG;
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return UPSTREAM_FAIL_TIMEOUT;
    return UPSTREAM_FAIL_CONN;
}

/* Fills the response's result fields from the finished transfer. */
static void upstream_finish(struct upstream *up,
                            const struct upstream_request *req,
                            struct upstream_xfer *x, CURLcode rc)
{
    struct upstream_response *resp = x->resp;
    long status = 0, reqsize = 0;

    resp->fail = upstream_fail_of(rc, x->toobig);
    (void)curl_easy_getinfo(up->easy, CURLINFO_RESPONSE_CODE, &status);
    (void)curl_easy_getinfo(up->easy, CURLINFO_REQUEST_SIZE, &reqsize);
    resp->sent = reqsize > 0;
    if (resp->fail == UPSTREAM_FAIL_TIMEOUT ||
        resp->fail == UPSTREAM_FAIL_CONN)
        status = 0; /* a partial answer proves nothing */
    resp->status = status;
    if (x->retry_after[0] &&
        upstream_parse_retry_after(x->retry_after, time(NULL),
                                   &resp->retry_after_s))
        resp->retry_after_s = -1;
    resp->err = upstream_classify(req->method, resp->fail, resp->sent,
                                  status, resp->retry_after_s,
                                  &resp->wait_ms);
    resp->cls = upstream_class_of(resp->err);
    if (resp->fail == UPSTREAM_FAIL_TIMEOUT)
        snprintf(resp->code, sizeof(resp->code), "timeout");
    else if (resp->fail == UPSTREAM_FAIL_CONN)
        snprintf(resp->code, sizeof(resp->code), "conn_error");
    else
        snprintf(resp->code, sizeof(resp->code), "%ld", status);
    if (resp->err && resp->body.len > 0)
        upstream_excerpt(resp->body.data, resp->body.len, resp->excerpt);
}

static void upstream_count(const struct upstream *up,
                           const struct upstream_response *resp)
{
    char ep[192], labels[320];

    metrics_label_value(resp->endpoint, ep, sizeof(ep));
    snprintf(labels, sizeof(labels),
             "upstream=\"%s\",endpoint=\"%s\",code=\"%s\"", up->name, ep,
             resp->code);
    metrics_inc("scbridge_upstream_requests_total", labels, 1);
    snprintf(labels, sizeof(labels), "upstream=\"%s\"", up->name);
    metrics_observe("scbridge_upstream_duration_seconds", labels,
                    resp->elapsed_s);
}

enum scb_err upstream_send(struct upstream *up,
                           const struct upstream_request *req,
                           struct upstream_response *resp)
{
    struct upstream_xfer x = { .resp = resp };
    struct curl_slist *headers = NULL;
    enum scb_err err;
    double start;
    CURLcode rc;

    upstream_response_reset(resp, up->max_bytes);
    if (!req->url || !req->endpoint ||
        (unsigned)req->method > UPSTREAM_DELETE) {
        err = SCB_EINVAL;
        goto out;
    }
    snprintf(resp->endpoint, sizeof(resp->endpoint), "%s", req->endpoint);
    upstream_url_for_log(req->url, resp->url_log, sizeof(resp->url_log));
    err = upstream_headers(req, &headers);
    if (err)
        goto out;
    up->errbuf[0] = '\0';
    if (upstream_setup(up, req, headers, &x) != CURLE_OK) {
        err = SCB_EINVAL;
        goto out_headers;
    }
    start = upstream_now_s();
    rc = curl_easy_perform(up->easy);
    resp->elapsed_s = upstream_now_s() - start;
    upstream_finish(up, req, &x, rc);
    snprintf(resp->detail, sizeof(resp->detail), "%s",
             rc == CURLE_OK ? "" : curl_easy_strerror(rc));
    upstream_count(up, resp);
    err = resp->err;

out_headers:
    curl_slist_free_all(headers);
out:
    resp->err = err;
    resp->cls = upstream_class_of(err);
    return err;
}

enum upstream_class upstream_class_of(enum scb_err err)
{
    switch (err) {
    case SCB_OK:
        return UPSTREAM_CLASS_OK;
    case SCB_EWAIT:
        return UPSTREAM_CLASS_WAIT;
    case SCB_EUNKNOWN:
        return UPSTREAM_CLASS_UNKNOWN;
    case SCB_EPERMANENT:
    case SCB_ETOOBIG:
    case SCB_EINVAL:
    case SCB_ENOTFOUND:
        return UPSTREAM_CLASS_PERMANENT;
    default:
        return UPSTREAM_CLASS_TRANSIENT;
    }
}

const char *upstream_class_name(enum upstream_class cls)
{
    switch (cls) {
    case UPSTREAM_CLASS_OK:
        return "ok";
    case UPSTREAM_CLASS_WAIT:
        return "wait";
    case UPSTREAM_CLASS_UNKNOWN:
        return "unknown";
    case UPSTREAM_CLASS_PERMANENT:
        return "permanent";
    default:
        return "transient";
    }
}

static bool upstream_is_write(enum upstream_method method)
{
    return method != UPSTREAM_GET;
}

static int64_t upstream_wait_of(int64_t retry_after_s)
{
    if (retry_after_s < 0)
        return (int64_t)UPSTREAM_DEFAULT_WAIT_S * 1000;
    return retry_after_s > 0 ? retry_after_s * 1000 : 1000;
}

enum scb_err upstream_classify(enum upstream_method method,
                               enum upstream_fail fail, bool sent,
                               long status, int64_t retry_after_s,
                               int64_t *out_wait_ms)
{
    bool unknown = upstream_is_write(method) && sent;

    if (fail == UPSTREAM_FAIL_TOOBIG)
        return SCB_ETOOBIG;
    if (fail == UPSTREAM_FAIL_TIMEOUT)
        return unknown ? SCB_EUNKNOWN : SCB_ETIMEOUT;
    if (fail == UPSTREAM_FAIL_CONN || status <= 0)
        return unknown ? SCB_EUNKNOWN : SCB_EUPSTREAM;
    if (status >= 200 && status <= 299)
        return SCB_OK;
    if (status == 429 || (status == 503 && retry_after_s >= 0)) {
        *out_wait_ms = upstream_wait_of(retry_after_s);
        return SCB_EWAIT;
    }
    if (status >= 500)
        return upstream_is_write(method) ? SCB_EUNKNOWN : SCB_EUPSTREAM;
    if (status == 408 || status == 401)
        return SCB_EUPSTREAM;
    if (status >= 400)
        return SCB_EPERMANENT;
    return SCB_EUPSTREAM; /* 1xx or 3xx as a final answer: not expected */
}

static bool upstream_all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
    }
    return true;
}

enum scb_err upstream_parse_retry_after(const char *value, time_t now,
                                        int64_t *out_s)
{
    struct tm tm;
    const char *end;
    int64_t s = 0;
    time_t t;

    if (upstream_all_digits(value)) {
        for (; *value && s <= UPSTREAM_MAX_RETRY_AFTER_S; value++)
            s = s * 10 + (*value - '0');
        *out_s = s < UPSTREAM_MAX_RETRY_AFTER_S ? s
                                                : UPSTREAM_MAX_RETRY_AFTER_S;
        return SCB_OK;
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return SCB_EINVAL;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return SCB_EINVAL;
    s = t > now ? (int64_t)(t - now) : 0;
    *out_s = s < UPSTREAM_MAX_RETRY_AFTER_S ? s : UPSTREAM_MAX_RETRY_AFTER_S;
    return SCB_OK;
}

void upstream_url_for_log(const char *url, char *out, size_t outlen)
{
    const char *scheme_end = strstr(url, "://");
    const char *host, *at, *stop;
    size_t slen, rlen;

    if (outlen == 0)
        return;
    if (!scheme_end) {
        snprintf(out, outlen, "(invalid url)");
        return;
    }
    host = scheme_end + 3;
    /* The last '@' before the path ends the user info, whatever the
     * password holds; a password is never copied. */
    stop = host + strcspn(host, "/");
    at = memrchr(host, '@', (size_t)(stop - host));
    if (at)
        host = at + 1; /* drop user and password */
    slen = (size_t)(scheme_end + 3 - url);
    rlen = strcspn(host, "?#");
    snprintf(out, outlen, "%.*s%.*s", (int)slen, url, (int)rlen, host);
}

void upstream_excerpt(const char *body, size_t len,
                      char out[UPSTREAM_EXCERPT_MAX + 1])
{
    size_t i, o = 0;
    bool space = false;

    for (i = 0; i < len && o < UPSTREAM_EXCERPT_MAX; i++) {
        unsigned char c = (unsigned char)body[i];

        if (isspace(c)) {
            if (!space && o > 0)
                out[o++] = ' ';
            space = true;
            continue;
        }
        space = false;
        out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (i < len && o >= 3)
        memcpy(out + o - 3, "...", 3); /* the cut is marked */
    out[o] = '\0';
}

bool upstream_is_json(const struct upstream_response *resp)
{
    static const char want[] = "application/json";
    const char *ct = resp->content_type;
    size_t n = sizeof(want) - 1;

    if (strncasecmp(ct, want, n) != 0)
        return false;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

void upstream_log_failure(const char *mod, const char *job,
                          const struct upstream *up,
                          const struct upstream_response *resp)
{
    const char *cls = upstream_class_name(resp->cls);

    if (job) {
        log_warn(mod, "upstream call failed", LOG_STR("job", job),
                 LOG_STR("upstream", up->name),
                 LOG_STR("endpoint", resp->endpoint),
                 LOG_STR("url", resp->url_log),
                 LOG_INT("status", resp->status),
                 LOG_STR("code", resp->code), LOG_STR("class", cls),
                 LOG_STR("error", scb_strerror(resp->err)),
                 LOG_STR("detail", resp->detail),
                 LOG_DBL("elapsed_s", resp->elapsed_s),
                 LOG_STR("body_excerpt", resp->excerpt));
    } else {
        log_warn(mod, "upstream call failed",
                 LOG_STR("upstream", up->name),
                 LOG_STR("endpoint", resp->endpoint),
                 LOG_STR("url", resp->url_log),
                 LOG_INT("status", resp->status),
                 LOG_STR("code", resp->code), LOG_STR("class", cls),
                 LOG_STR("error", scb_strerror(resp->err)),
                 LOG_STR("detail", resp->detail),
                 LOG_DBL("elapsed_s", resp->elapsed_s),
                 LOG_STR("body_excerpt", resp->excerpt));
    }
}
