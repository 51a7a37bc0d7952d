/* SPDX-License-Identifier: MIT */
/* HTTP server: libmicrohttpd listeners, routing, request ids, drain. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/rand.h>

#include "httpd.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"

#define ELLIPSIS "\xe2\x80\xa6" /* U+2026, ends a prefix pattern */
#define ELLIPSIS_LEN 3
#define REQ_METRIC "scbridge_http_requests_total"
#define DUR_METRIC "scbridge_http_request_duration_seconds"
#define ALLOW_MAX 96
#define LISTEN_BACKLOG 128

struct route {
    char *method;
    char *pattern;     /* as given: the metrics label */
    size_t prefix_len; /* "…" routes: bytes before the "…"; else 0 */
    enum httpd_zone zone;
    httpd_handler_fn fn;
    void *ctx;
};

struct listener {
    struct httpd *h;
    bool admin;    /* the SCBRIDGE_ADMIN_LISTEN listener */
    bool zones[2]; /* which zones it serves, by enum httpd_zone */
    int fd;        /* listen socket until quiesced, else -1 */
    int port;      /* bound port */
    struct MHD_Daemon *d;
};

struct httpd {
    struct httpd_config cfg; /* host strings point into the fields below */
    char host[256];
    char admin_host[256];
    struct route *routes;
    size_t nroutes;
    size_t caproutes;
    struct listener main;
    struct listener admin;  /* used when cfg.admin_host */
    httpd_reject_fn reject; /* 413s the server answers itself */
    void *reject_ctx;
    atomic_int in_flight;
    atomic_bool quiesced;
    char errstr[160];
};

/* What one connection holds between requests. */
struct conn {
    struct httpd_req *req; /* the request in progress, or NULL */
};

struct param {
    const char *name; /* into the route's pattern */
    size_t nlen;
    char *value;
};

struct httpd_req {
    struct listener *l;
    struct conn *conn;
    struct MHD_Connection *mhd;
    int64_t start_ns;
    char id[HTTPD_REQ_ID_MAX + 1];
    char method[16]; /* for the access log; "other" if longer */
    char *path;
    const struct route *route; /* NULL: unmatched */
    const char *label;         /* metrics and log route: a pattern */
    const char *tail;
    struct param params[HTTPD_PARAMS_MAX];
    size_t nparams;
    bool started;  /* routing done */
    bool answered; /* a response was queued */
    bool too_large;
    struct buf body;
    uint64_t discarded; /* body bytes dropped after too_large */
    int status;
    uint64_t bytes;
};

struct resp_header {
    char *name;
    char *value;
};

struct httpd_resp {
    int status; /* 0: nothing set */
    char ctype[96];
    struct buf body;
    int fd; /* file answer, or -1 */
    uint64_t fd_size;
    struct resp_header hdr[HTTPD_RESP_HEADERS];
    size_t nhdr;
    bool failed; /* a builder failed: answer 500 */
};

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- routes ---------------------------------------------------------- */

/* Checks the {name} segments; answers the number of params or -1. */
static int pattern_params(const char *p, size_t len)
{
    int n = 0;

    if (len == 0 || p[0] != '/')
        return -1;
    for (size_t i = 0; i < len; i++) {
        const char *close;

        if (p[i] == '}')
            return -1;
        if (p[i] != '{')
            continue;
        close = memchr(p + i, '}', len - i);
        if (p[i - 1] != '/' || !close || close == p + i + 1 ||
            memchr(p + i + 1, '{', (size_t)(close - p) - i - 1))
            return -1;
        i = (size_t)(close - p);
        if (i + 1 < len && p[i + 1] != '/')
            return -1;
        n++;
    }
    return n > HTTPD_PARAMS_MAX ? -1 : n;
}

static enum scb_err route_parse(struct route *r, const char *pattern)
{
    size_t len = strlen(pattern);
    const char *ell = strstr(pattern, ELLIPSIS);

    if (ell) {
        if ((size_t)(ell - pattern) != len - ELLIPSIS_LEN)
            return SCB_EINVAL;
        len -= ELLIPSIS_LEN;
        if (memchr(pattern, '{', len))
            return SCB_EINVAL;
        r->prefix_len = len;
    }
    if (pattern_params(pattern, len) < 0)
        return SCB_EINVAL;
    return SCB_OK;
}

enum scb_err httpd_route(struct httpd *h, enum httpd_zone zone,
                         const char *method, const char *pattern,
                         httpd_handler_fn fn, void *ctx)
{
    struct route r = { .zone = zone, .fn = fn, .ctx = ctx };
    enum scb_err err;

    if (!method || !*method || !pattern || !fn ||
        (zone != HTTPD_ZONE_PUBLIC && zone != HTTPD_ZONE_ADMIN))
        return SCB_EINVAL;
    err = route_parse(&r, pattern);
    if (err)
        return err;
    if (h->nroutes == h->caproutes) {
        size_t cap = h->caproutes ? h->caproutes * 2 : 16;
        struct route *p = mem_realloc(h->routes, cap * sizeof(*p));

        if (!p)
            return SCB_ENOMEM;
        h->routes = p;
        h->caproutes = cap;
    }
    r.method = mem_strdup(method);
    r.pattern = mem_strdup(pattern);
    if (!r.method || !r.pattern) {
        mem_free(r.method);
        mem_free(r.pattern);
        return SCB_ENOMEM;
    }
    h->routes[h->nroutes++] = r;
    return SCB_OK;
}

void httpd_on_reject(struct httpd *h, httpd_reject_fn fn, void *ctx)
{
    h->reject = fn;
    h->reject_ctx = ctx;
}

static void params_clear(struct httpd_req *req)
{
    for (size_t i = 0; i < req->nparams; i++)
        mem_free(req->params[i].value);
    req->nparams = 0;
}

/* One {name} of 'pat' against the segment at *path; moves both on. */
static bool match_param(struct httpd_req *req, const char **pat,
                        const char **path)
{
    const char *close = strchr(*pat, '}');
    size_t vlen = strcspn(*path, "/");
    struct param *pm = &req->params[req->nparams];

    if (vlen == 0 || req->nparams >= HTTPD_PARAMS_MAX)
        return false;
    pm->name = *pat + 1;
    pm->nlen = (size_t)(close - *pat) - 1;
    pm->value = mem_strndup(*path, vlen);
    if (!pm->value)
        return false;
    req->nparams++;
    *pat = close + 1;
    *path += vlen;
    return true;
}

/* True when 'path' matches route 'r'; fills the params or the tail. */
static bool route_match(struct httpd_req *req, const struct route *r,
                        const char *path)
{
    const char *p = r->pattern;

    params_clear(req);
    if (r->prefix_len) {
        if (strncmp(path, r->pattern, r->prefix_len) != 0)
            return false;
        req->tail = path + r->prefix_len;
        return true;
    }
    while (*p) {
        if (*p == '{') {
            if (!match_param(req, &p, &path))
                goto fail;
        } else if (*p++ != *path++) {
            goto fail;
        }
    }
    if (*path == '\0')
        return true;
fail:
    params_clear(req);
    return false;
}

static bool method_fits(const char *route_method, const char *method)
{
    if (strcmp(route_method, method) == 0)
        return true;
    return strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0;
}

static void allow_add(char *allow, const char *method)
{
    size_t len = strlen(allow), mlen = strlen(method);
    const char *p = allow;

    while ((p = strstr(p, method)) != NULL) {
        if ((p == allow || p[-1] == ' ') && (p[mlen] == ',' || !p[mlen]))
            return;
        p += mlen;
    }
    if (len + mlen + 3 > ALLOW_MAX)
        return;
    if (len) {
        memcpy(allow + len, ", ", 2);
        len += 2;
    }
    memcpy(allow + len, method, mlen + 1);
}

/*
 * Finds the route for the request. Without a match *out_allow is empty
 * for a 404, or lists the methods the path does take for a 405.
 */
static const struct route *route_find(struct httpd_req *req, const char *path,
                                      const char *method, char *out_allow)
{
    const struct httpd *h = req->l->h;

    out_allow[0] = '\0';
    for (size_t i = 0; i < h->nroutes; i++) {
        const struct route *r = &h->routes[i];

        if (!req->l->zones[r->zone] || !route_match(req, r, path))
            continue;
        if (!out_allow[0])
            req->label = r->pattern; /* a 405 counts under the route */
        if (method_fits(r->method, method)) {
            req->label = r->pattern;
            return r;
        }
        allow_add(out_allow, r->method);
        if (strcmp(r->method, "GET") == 0)
            allow_add(out_allow, "HEAD");
    }
    params_clear(req);
    req->tail = NULL;
    return NULL;
}

/* ---- responses ------------------------------------------------------- */

static void resp_init(struct httpd_resp *resp)
{
    memset(resp, 0, sizeof(*resp));
    buf_init(&resp->body, HTTPD_RESP_MAX);
    resp->fd = -1;
}

static void resp_clear_body(struct httpd_resp *resp)
{
    buf_reset(&resp->body);
    if (resp->fd >= 0)
        close(resp->fd);
    resp->fd = -1;
    resp->fd_size = 0;
}

static void resp_release(struct httpd_resp *resp)
{
    resp_clear_body(resp);
    buf_release(&resp->body);
    for (size_t i = 0; i < resp->nhdr; i++) {
        mem_free(resp->hdr[i].name);
        mem_free(resp->hdr[i].value);
    }
    resp->nhdr = 0;
}

static void resp_set_type(struct httpd_resp *resp, const char *ctype)
{
    snprintf(resp->ctype, sizeof(resp->ctype), "%s", ctype ? ctype : "");
}

enum scb_err httpd_resp_body(struct httpd_resp *resp, int status,
                             const char *content_type, const void *data,
                             size_t len)
{
    enum scb_err err;

    resp_clear_body(resp);
    err = buf_append(&resp->body, data, len);
    if (err) {
        resp->failed = true;
        return err;
    }
    resp->status = status;
    resp_set_type(resp, content_type);
    return SCB_OK;
}

enum scb_err httpd_resp_json(struct httpd_resp *resp, int status,
                             const char *json)
{
    return httpd_resp_body(resp, status, "application/json", json,
                           strlen(json));
}

enum scb_err httpd_resp_error(struct httpd_resp *resp, int status,
                              const char *code)
{
    enum scb_err err;

    resp_clear_body(resp);
    err = buf_puts(&resp->body, "{\"error\":");
    if (!err)
        err = buf_put_json_str(&resp->body, code);
    if (!err)
        err = buf_putc(&resp->body, '}');
    if (err) {
        resp->failed = true;
        return err;
    }
    resp->status = status;
    resp_set_type(resp, "application/json");
    return SCB_OK;
}

void httpd_resp_take(struct httpd_resp *resp, int status,
                     const char *content_type, struct buf *body)
{
    resp_clear_body(resp);
    buf_release(&resp->body);
    resp->body = *body;
    buf_init(body, body->max);
    resp->status = status;
    resp_set_type(resp, content_type);
}

enum scb_err httpd_resp_file(struct httpd_resp *resp, const char *path,
                             const char *content_type)
{
    struct stat st;
    int fd;

    resp_clear_body(resp);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        httpd_resp_error(resp, 404, "not_found");
        return SCB_ENOTFOUND;
    }
    resp->fd = fd;
    resp->fd_size = (uint64_t)st.st_size;
    resp->status = 200;
    resp_set_type(resp, content_type);
    return SCB_OK;
}

enum scb_err httpd_resp_header(struct httpd_resp *resp, const char *name,
                               const char *value)
{
    struct resp_header *hd;

    if (resp->nhdr >= HTTPD_RESP_HEADERS) {
        resp->failed = true;
        return SCB_ETOOBIG;
    }
    hd = &resp->hdr[resp->nhdr];
    hd->name = mem_strdup(name);
    hd->value = mem_strdup(value);
    if (!hd->name || !hd->value) {
        mem_free(hd->name);
        mem_free(hd->value);
        resp->failed = true;
        return SCB_ENOMEM;
    }
    resp->nhdr++;
    return SCB_OK;
}

int httpd_status_for(enum scb_err err)
{
    switch (err) {
    case SCB_EINVAL:
    case SCB_EPARSE:
        return 400;
    case SCB_EAUTH:
        return 401;
    case SCB_ENOTFOUND:
        return 404;
    case SCB_ETOOBIG:
        return 413;
    case SCB_ESTORE:
    case SCB_ESTORECMD:
    case SCB_ETIMEOUT:
        return 503;
    default:
        return 500;
    }
}

void httpd_resp_scb_err(struct httpd_resp *resp, enum scb_err err)
{
    int status = httpd_status_for(err);
    const char *code;

    switch (status) {
    case 400:
        code = "bad_request";
        break;
    case 401:
        code = "unauthorized";
        break;
    case 404:
        code = "not_found";
        break;
    case 413:
        code = "too_large";
        break;
    case 503:
        code = "unavailable";
        break;
    default:
        code = "internal";
        break;
    }
    httpd_resp_error(resp, status, code);
    if (status == 503)
        httpd_resp_header(resp, "Retry-After", "5");
}

/* ---- answering --------------------------------------------------------- */

/*
 * The access log line and the HTTP metrics, written when the answer is
 * queued: a client that reads the answer then finds both up to date.
 */
static void req_account(const struct httpd_req *req)
{
    const char *route = req->label ? req->label : "unmatched";
    double secs = (double)(now_ns() - req->start_ns) / 1e9;
    char lv[256], labels[320];

    metrics_label_value(route, lv, sizeof(lv));
    snprintf(labels, sizeof(labels), "route=\"%s\",code=\"%d\"", lv,
             req->status);
    metrics_inc(REQ_METRIC, labels, 1);
    snprintf(labels, sizeof(labels), "route=\"%s\"", lv);
    metrics_observe(DUR_METRIC, labels, secs);
    log_info("httpd", "request", LOG_STR("req", req->id),
             LOG_STR("method", req->method), LOG_STR("route", route),
             LOG_INT("status", req->status), LOG_DBL("ms", secs * 1e3),
             LOG_INT("bytes", req->bytes));
}

static struct MHD_Response *mhd_response(struct httpd_resp *resp)
{
    if (resp->fd >= 0) {
        struct MHD_Response *r = MHD_create_response_from_fd64(resp->fd_size,
                                                               resp->fd);

        if (r)
            resp->fd = -1; /* MHD closes it with the response */
        return r;
    }
    if (resp->body.len == 0)
        return MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    return MHD_create_response_from_buffer(resp->body.len, resp->body.data,
                                           MHD_RESPMEM_MUST_COPY);
}

static bool add_headers(struct httpd_req *req, struct httpd_resp *resp,
                        struct MHD_Response *r)
{
    bool ok = true;

    if (resp->ctype[0])
        ok = MHD_add_response_header(r, "Content-Type", resp->ctype);
    ok = ok && MHD_add_response_header(r, "X-Request-Id", req->id);
    for (size_t i = 0; ok && i < resp->nhdr; i++)
        ok = MHD_add_response_header(r, resp->hdr[i].name, resp->hdr[i].value);
    if (ok && atomic_load(&req->l->h->quiesced))
        ok = MHD_add_response_header(r, "Connection", "close");
    return ok;
}

/*
 * Queues 'resp'. A builder failure becomes 500 internal. MHD_NO (the
 * connection is closed) only when even that cannot be sent.
 */
static enum MHD_Result answer(struct httpd_req *req, struct httpd_resp *resp)
{
    struct MHD_Response *r;
    enum MHD_Result ret = MHD_NO;

    if (resp->failed || resp->status < 100 || resp->status > 599) {
        resp->failed = false;
        if (httpd_resp_error(resp, 500, "internal"))
            return MHD_NO;
    }
    r = mhd_response(resp);
    if (!r)
        return MHD_NO;
    if (add_headers(req, resp, r))
        ret = MHD_queue_response(req->mhd, (unsigned)resp->status, r);
    if (ret == MHD_YES) {
        req->answered = true;
        req->status = resp->status;
        req->bytes = resp->fd_size ? resp->fd_size : resp->body.len;
        req_account(req);
    }
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result answer_error(struct httpd_req *req, int status,
                                    const char *code, const char *allow)
{
    struct httpd_resp resp;
    enum MHD_Result ret;

    resp_init(&resp);
    httpd_resp_error(&resp, status, code);
    if (allow)
        httpd_resp_header(&resp, "Allow", allow);
    ret = answer(req, &resp);
    resp_release(&resp);
    return ret;
}

/* ---- requests ------------------------------------------------------ */

static bool id_ok(const char *s)
{
    size_t n = 0;

    if (!s)
        return false;
    for (; s[n]; n++) {
        if (n >= HTTPD_REQ_ID_MAX || s[n] < 0x20 || s[n] > 0x7e)
            return false;
    }
    return n > 0;
}

static void id_make(char *out)
{
    static const char hex[] = "0123456789abcdef";
    static atomic_uint_fast64_t fallback;
    unsigned char rnd[16];

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        /* No entropy: still unique within this process. */
        uint64_t n = atomic_fetch_add(&fallback, 1);
        int64_t t = now_ns();

        memcpy(rnd, &n, 8);
        memcpy(rnd + 8, &t, 8);
    }
    for (size_t i = 0; i < sizeof(rnd); i++) {
        out[2 * i] = hex[rnd[i] >> 4];
        out[2 * i + 1] = hex[rnd[i] & 15];
    }
    out[2 * sizeof(rnd)] = '\0';
}

static struct conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
        c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci ? ci->socket_context : NULL;
}

static void req_free(struct httpd_req *req)
{
    if (!req)
        return;
    if (req->conn)
        req->conn->req = NULL;
    params_clear(req);
    mem_free(req->path);
    buf_release(&req->body);
    atomic_fetch_sub(&req->l->h->in_flight, 1);
    mem_free(req);
}

static struct httpd_req *req_new(struct listener *l, struct MHD_Connection *c)
{
    struct httpd_req *req = mem_calloc(1, sizeof(*req));

    if (!req)
        return NULL;
    req->l = l;
    req->mhd = c;
    req->start_ns = now_ns();
    buf_init(&req->body, l->h->cfg.max_body);
    atomic_fetch_add(&l->h->in_flight, 1);
    req->conn = conn_of(c);
    if (req->conn) {
        /* A request MHD gave up on without a completion call. */
        if (req->conn->req) {
            req->conn->req->conn = NULL;
            req_free(req->conn->req);
        }
        req->conn->req = req;
    }
    return req;
}

/* The query string is in 'uri': it is not kept and never logged. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)uri;
    return req_new(cls, c);
}

static void on_connection(void *cls, struct MHD_Connection *c,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct conn *conn = *socket_context;

    (void)cls;
    (void)c;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = mem_calloc(1, sizeof(struct conn));
        return;
    }
    if (!conn)
        return;
    if (conn->req) {
        conn->req->conn = NULL;
        req_free(conn->req);
    }
    mem_free(conn);
    *socket_context = NULL;
}

static bool content_length_over(struct httpd_req *req)
{
    const char *cl = MHD_lookup_connection_value(
        req->mhd, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long n = 0;

    if (!cl)
        return false;
    for (; *cl >= '0' && *cl <= '9'; cl++) {
        n = n * 10 + (unsigned)(*cl - '0');
        if (n > req->body.max)
            return true;
    }
    return false;
}

static enum MHD_Result answer_too_large(struct httpd_req *req)
{
    const struct httpd *h = req->l->h;

    if (h->reject)
        h->reject(req, 413, h->reject_ctx);
    return answer_error(req, 413, "too_large", NULL);
}

/* First call: id, routing, 404, 405 and Content-Length checks. */
static enum MHD_Result req_begin(struct httpd_req *req, const char *url,
                                 const char *method)
{
    const char *given = MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND,
                                                    "X-Request-Id");
    char allow[ALLOW_MAX];

    req->started = true;
    if (id_ok(given))
        snprintf(req->id, sizeof(req->id), "%s", given);
    else
        id_make(req->id);
    snprintf(req->method, sizeof(req->method), "%s",
             strlen(method) < sizeof(req->method) ? method : "other");
    req->path = mem_strdup(url);
    if (!req->path)
        return MHD_NO;
    req->route = route_find(req, req->path, method, allow);
    if (!req->route && allow[0])
        return answer_error(req, 405, "method_not_allowed", allow);
    if (!req->route)
        return answer_error(req, 404, "not_found", NULL);
    if (content_length_over(req)) {
        req->too_large = true;
        return answer_too_large(req);
    }
    return MHD_YES;
}

/*
 * libmicrohttpd 0.9.75 cannot queue an answer while a body is still
 * arriving, so a body found too large while reading is read on and
 * dropped, and the 413 goes out at its end; past HTTPD_DISCARD_MAX
 * dropped bytes the connection is closed instead.
 */
static enum MHD_Result req_body(struct httpd_req *req, const char *data,
                                size_t len)
{
    if (req->answered)
        return MHD_YES;
    if (req->too_large) {
        req->discarded += len;
        if (req->discarded <= HTTPD_DISCARD_MAX)
            return MHD_YES;
        log_info("httpd", "request body dropped", LOG_STR("req", req->id),
                 LOG_INT("max_bytes", req->body.max));
        return MHD_NO;
    }
    if (buf_append(&req->body, data, len) == SCB_OK)
        return MHD_YES;
    req->too_large = true;
    req->discarded = req->body.len + len;
    buf_release(&req->body);
    return MHD_YES;
}

static enum MHD_Result req_run(struct httpd_req *req)
{
    struct httpd_resp resp;
    enum MHD_Result ret;

    if (req->too_large)
        return answer_too_large(req);
    resp_init(&resp);
    req->route->fn(req, &resp, req->route->ctx);
    ret = answer(req, &resp);
    resp_release(&resp);
    return ret;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct httpd_req *req = *con_cls;

    (void)version;
    if (!req) {
        req = req_new(cls, c);
        if (!req)
            return MHD_NO;
        *con_cls = req;
    }
    req->mhd = c;
    if (!req->started)
        return req_begin(req, url, method);
    if (*upload_data_size) {
        size_t len = *upload_data_size;

        *upload_data_size = 0;
        return req_body(req, upload_data, len);
    }
    if (req->answered)
        return MHD_YES;
    return req_run(req);
}

/* Frees the request; logs one that ended without its answer sent. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct httpd_req *req = *con_cls;
    const char *route;

    (void)cls;
    (void)c;
    if (!req)
        return;
    route = req->label ? req->label : "unmatched";
    if (req->started && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        log_info("httpd", req->answered ? "answer not sent" : "request aborted",
                 LOG_STR("req", req->id), LOG_STR("method", req->method),
                 LOG_STR("route", route), LOG_INT("reason", (int)toe));
    req_free(req);
    *con_cls = NULL;
}

/* Only the format is logged: its arguments may hold request data. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)ap;
    log_debug("httpd", "libmicrohttpd message", LOG_STR("detail", fmt));
}

/* ---- accessors ------------------------------------------------------- */

const char *httpd_req_method(const struct httpd_req *req)
{
    return req->method;
}

const char *httpd_req_path(const struct httpd_req *req)
{
    return req->path;
}

const char *httpd_req_route(const struct httpd_req *req)
{
    return req->route ? req->route->pattern : "unmatched";
}

const char *httpd_req_id(const struct httpd_req *req)
{
    return req->id;
}

const char *httpd_req_param(const struct httpd_req *req, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < req->nparams; i++) {
        const struct param *p = &req->params[i];

        if (p->nlen == n && memcmp(p->name, name, n) == 0)
            return p->value;
    }
    return NULL;
}

const char *httpd_req_tail(const struct httpd_req *req)
{
    return req->tail;
}

struct query_walk {
    const char *name;
    const char **out;
    size_t max;
    size_t n;
};

static enum MHD_Result query_each(void *cls, enum MHD_ValueKind kind,
                                  const char *key, const char *value)
{
    struct query_walk *w = cls;

    (void)kind;
    if (!key || strcmp(key, w->name) != 0)
        return MHD_YES;
    if (w->n < w->max)
        w->out[w->n] = value ? value : "";
    w->n++;
    return MHD_YES;
}

size_t httpd_req_query_all(const struct httpd_req *req, const char *name,
                           const char **out, size_t max)
{
    struct query_walk w = { name, out, max, 0 };

    MHD_get_connection_values(req->mhd, MHD_GET_ARGUMENT_KIND, query_each, &w);
    return w.n;
}

const char *httpd_req_query(const struct httpd_req *req, const char *name)
{
    const char *v = NULL;

    if (httpd_req_query_all(req, name, &v, 1) == 0)
        return NULL;
    return v;
}

bool httpd_req_has_query(const struct httpd_req *req)
{
    return MHD_get_connection_values(req->mhd, MHD_GET_ARGUMENT_KIND, NULL,
                                     NULL) > 0;
}

const char *httpd_req_header(const struct httpd_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND, name);
}

const unsigned char *httpd_req_body(const struct httpd_req *req,
                                    size_t *out_len)
{
    *out_len = req->body.len;
    return (const unsigned char *)req->body.data;
}

/* ---- server ---------------------------------------------------------- */

struct httpd *httpd_new(const struct httpd_config *cfg)
{
    struct httpd *h = mem_calloc(1, sizeof(*h));

    if (!h)
        return NULL;
    h->cfg = *cfg;
    snprintf(h->host, sizeof(h->host), "%s", cfg->host ? cfg->host : "");
    h->cfg.host = h->host;
    if (cfg->admin_host) {
        snprintf(h->admin_host, sizeof(h->admin_host), "%s", cfg->admin_host);
        h->cfg.admin_host = h->admin_host;
    }
    h->main = (struct listener){ .h = h, .fd = -1 };
    h->admin = (struct listener){ .h = h, .admin = true, .fd = -1 };
    h->main.zones[HTTPD_ZONE_PUBLIC] = true;
    h->main.zones[HTTPD_ZONE_ADMIN] = cfg->admin_host == NULL;
    h->admin.zones[HTTPD_ZONE_ADMIN] = true;
    metrics_describe(REQ_METRIC, METRICS_COUNTER,
                     "HTTP requests answered, by route and status.");
    metrics_describe(DUR_METRIC, METRICS_HISTOGRAM,
                     "Time from request line to answer, by route.");
    return h;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

static int socket_bound(const struct addrinfo *ai)
{
    int one = 1;
    int fd = socket(ai->ai_family,
                    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        listen(fd, LISTEN_BACKLOG) != 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Resolves and binds host:port ("[v6]" accepted) for listener 'l'. */
static enum scb_err listen_open(struct httpd *h, struct listener *l,
                                const char *host, int port)
{
    struct addrinfo hints = { 0 }, *res = NULL;
    char name[256], portstr[16];
    size_t n = strlen(host);
    int rc, e = 0;

    snprintf(name, sizeof(name), "%s", host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
        snprintf(name, sizeof(name), "%.*s", (int)(n - 2), host + 1);
    snprintf(portstr, sizeof(portstr), "%d", port);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    rc = getaddrinfo(name, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(h->errstr, sizeof(h->errstr), "%s:%d: %s", host, port,
                 gai_strerror(rc));
        return SCB_EIO;
    }
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        l->fd = socket_bound(ai);
        e = errno;
        if (l->fd >= 0)
            break;
    }
    freeaddrinfo(res);
    if (l->fd < 0) {
        snprintf(h->errstr, sizeof(h->errstr), "%s:%d: %s", host, port,
                 strerror(e));
        return SCB_EIO;
    }
    l->port = bound_port(l->fd);
    return SCB_OK;
}

static enum scb_err listener_start(struct httpd *h, struct listener *l,
                                   const char *host, int port)
{
    enum scb_err err = listen_open(h, l, host, port);

    if (err)
        return err;
    l->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_access, l, MHD_OPTION_LISTEN_SOCKET, l->fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTPD_THREADS,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTPD_CONN_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTPD_CONN_TIMEOUT_S,
        MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_URI_LOG_CALLBACK, on_uri, l,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, l, MHD_OPTION_END);
    /*
     * The listen socket is MHD's now, started or not: MHD_stop_daemon()
     * closes it, or MHD_quiesce_daemon() hands it back.
     */
    l->fd = -1;
    if (!l->d) {
        snprintf(h->errstr, sizeof(h->errstr),
                 "%s:%d: the HTTP server did not start", host, port);
        return SCB_EIO;
    }
    return SCB_OK;
}

static void listener_stop(struct listener *l)
{
    if (l->d)
        MHD_stop_daemon(l->d);
    l->d = NULL;
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}

enum scb_err httpd_start(struct httpd *h)
{
    enum scb_err err;

    err = listener_start(h, &h->main, h->cfg.host, h->cfg.port);
    if (!err && h->cfg.admin_host)
        err = listener_start(h, &h->admin, h->cfg.admin_host,
                             h->cfg.admin_port);
    if (err) {
        listener_stop(&h->main);
        listener_stop(&h->admin);
    }
    return err;
}

const char *httpd_errstr(const struct httpd *h)
{
    return h->errstr;
}

static void listener_quiesce(struct listener *l)
{
    MHD_socket fd;

    if (!l->d)
        return;
    fd = MHD_quiesce_daemon(l->d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

void httpd_quiesce(struct httpd *h)
{
    if (atomic_exchange(&h->quiesced, true))
        return;
    listener_quiesce(&h->main);
    listener_quiesce(&h->admin);
}

int httpd_in_flight(const struct httpd *h)
{
    return atomic_load(&h->in_flight);
}

/*
 * A request counts from its request line, so bytes that arrived just
 * before the quiesce may not count yet: idle must hold for
 * HTTPD_IDLE_SETTLE_MS before it is believed.
 */
bool httpd_wait_idle(const struct httpd *h, int64_t deadline_ms)
{
    const struct timespec step = { 0, 20 * 1000000 };
    int64_t idle_since = -1;

    for (;;) {
        int64_t now = now_ns() / 1000000;

        if (atomic_load(&h->in_flight) > 0)
            idle_since = -1;
        else if (idle_since < 0)
            idle_since = now;
        if (idle_since >= 0 && now - idle_since >= HTTPD_IDLE_SETTLE_MS)
            return true;
        if (now >= deadline_ms)
            return atomic_load(&h->in_flight) == 0;
        nanosleep(&step, NULL);
    }
}

int httpd_port(const struct httpd *h, bool admin)
{
    return admin ? h->admin.port : h->main.port;
}

void httpd_free(struct httpd *h)
{
    if (!h)
        return;
    listener_stop(&h->main);
    listener_stop(&h->admin);
    for (size_t i = 0; i < h->nroutes; i++) {
        mem_free(h->routes[i].method);
        mem_free(h->routes[i].pattern);
    }
    mem_free(h->routes);
    mem_free(h);
}
