/* SPDX-License-Identifier: MIT */
/* The simulators' HTTP core: libmicrohttpd, body collection and faults. */
#include "simhttp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "buf.h"
#include "jsonio.h"
#include "mem.h"

#define SIMHTTP_BODY_MAX ((size_t)64 * 1024 * 1024)
#define SIMHTTP_FAULTS_MAX ((size_t)1024 * 1024)
#define SIMHTTP_RULES_MAX 64
#define SIMHTTP_HOLD_STEP_MS 20 /* how often a held request looks up */
#define SIMHTTP_HOLD_MAX_MS (600 * 1000) /* a held request's upper bound */
#define SIMHTTP_ERR_BODY_MAX 1024

struct simhttp_rule {
    char method[16];          /* "" matches every method */
    char path_prefix[256];    /* "" matches every path */
    double error_rate;        /* 0..1 */
    int error_status;         /* 500 or 503 usually */
    int retry_after_s;        /* < 0: no Retry-After header */
    char error_body[SIMHTTP_ERR_BODY_MAX]; /* "" : the default body */
    int latency_ms;           /* added before any answer */
    double timeout_rate;      /* 0..1 */
    double drop_rate;         /* 0..1 */
    unsigned long n_matched;
    unsigned long n_error;
    unsigned long n_latency;
    unsigned long n_timeout;
    unsigned long n_drop;
};

struct simhttp {
    struct MHD_Daemon *daemon;
    simhttp_handler_fn handler;
    void *ctx;
    atomic_bool stopping;
    pthread_mutex_t faults_lock; /* guards rules, n_rules, seed, rng */
    struct simhttp_rule rules[SIMHTTP_RULES_MAX];
    size_t n_rules;
    uint64_t seed;
    uint64_t rng;
};

/* What a request is to suffer, decided once when it is complete. */
enum simhttp_action {
    SIMHTTP_ACT_NONE,
    SIMHTTP_ACT_ERROR,
    SIMHTTP_ACT_TIMEOUT,
    SIMHTTP_ACT_DROP
};

struct simhttp_fault {
    enum simhttp_action action;
    int latency_ms;
    int status;
    int retry_after_s;
    char body[SIMHTTP_ERR_BODY_MAX];
};

/* Per-connection request state: the body as it arrives. */
struct simhttp_conn {
    struct buf body;
    bool too_big;
};

static uint64_t simhttp_next(uint64_t *state)
{
    uint64_t z;

    *state += 0x9e3779b97f4a7c15ULL;
    z = *state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A uniform double in [0, 1). */
static double simhttp_uniform(uint64_t *state)
{
    return (double)(simhttp_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

void simhttp_sleep_ms(long ms)
{
    struct timespec ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
}

static bool simhttp_rule_matches(const struct simhttp_rule *r,
                                 const char *method, const char *path)
{
    size_t n = strlen(r->path_prefix);

    if (r->method[0] && strcasecmp(r->method, method) != 0)
        return false;
    return strncmp(path, r->path_prefix, n) == 0;
}

/*
 * The first matching rule decides. One draw splits [0, 1) into drop,
 * timeout and error bands so the configured shares hold exactly.
 */
static void simhttp_decide(struct simhttp *srv, const char *method,
                           const char *path, struct simhttp_fault *out)
{
    struct simhttp_rule *r = NULL;
    double u;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&srv->faults_lock);
    for (size_t i = 0; i < srv->n_rules && !r; i++) {
        if (simhttp_rule_matches(&srv->rules[i], method, path))
            r = &srv->rules[i];
    }
    if (!r)
        goto out;
    r->n_matched++;
    out->latency_ms = r->latency_ms;
    if (r->latency_ms > 0)
        r->n_latency++;
    u = simhttp_uniform(&srv->rng);
    if (u < r->drop_rate) {
        out->action = SIMHTTP_ACT_DROP;
        r->n_drop++;
    } else if (u < r->drop_rate + r->timeout_rate) {
        out->action = SIMHTTP_ACT_TIMEOUT;
        r->n_timeout++;
    } else if (u < r->drop_rate + r->timeout_rate + r->error_rate) {
        out->action = SIMHTTP_ACT_ERROR;
        out->status = r->error_status;
        out->retry_after_s = r->retry_after_s;
        memcpy(out->body, r->error_body, sizeof(out->body));
        r->n_error++;
    }
out:
    pthread_mutex_unlock(&srv->faults_lock);
}

/* Sleeps 'ms' in short steps; false when the server began to stop. */
static bool simhttp_wait(struct simhttp *srv, long ms)
{
    while (ms > 0) {
        long step = ms < SIMHTTP_HOLD_STEP_MS ? ms : SIMHTTP_HOLD_STEP_MS;

        if (atomic_load(&srv->stopping))
            return false;
        simhttp_sleep_ms(step);
        ms -= step;
    }
    return !atomic_load(&srv->stopping);
}

bool simhttp_peer_gone(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci;
    struct pollfd pfd;
    char c;

    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return true;
    pfd.fd = ci->connect_fd;
    pfd.events = POLLIN | POLLRDHUP;
    pfd.revents = 0;
    if (poll(&pfd, 1, 0) <= 0)
        return false;
    if (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))
        return true;
    return recv(pfd.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* Holds a request unanswered until the client leaves or the server stops. */
static void simhttp_hold(struct simhttp *srv, struct MHD_Connection *conn)
{
    long waited = 0;

    while (waited < SIMHTTP_HOLD_MAX_MS) {
        if (!simhttp_wait(srv, SIMHTTP_HOLD_STEP_MS))
            return;
        if (simhttp_peer_gone(conn))
            return;
        waited += SIMHTTP_HOLD_STEP_MS;
    }
}

void simhttp_reply(struct simhttp_resp *resp, int status, const char *json)
{
    mem_free(resp->body);
    resp->body = json ? mem_strdup(json) : NULL;
    resp->status = status;
}

static void simhttp_put_rule(struct buf *b, const struct simhttp_rule *r)
{
    (void)buf_puts(b, "{\"method\":");
    (void)buf_put_json_str(b, r->method);
    (void)buf_puts(b, ",\"path_prefix\":");
    (void)buf_put_json_str(b, r->path_prefix);
    if (r->error_body[0]) {
        (void)buf_puts(b, ",\"error_body\":");
        (void)buf_put_json_str(b, r->error_body);
    }
    (void)buf_printf(b, ",\"error_rate\":%g,\"error_status\":%d,"
                     "\"retry_after_s\":%d,\"latency_ms\":%d,"
                     "\"timeout_rate\":%g,\"drop_rate\":%g,",
                     r->error_rate, r->error_status, r->retry_after_s,
                     r->latency_ms, r->timeout_rate, r->drop_rate);
    (void)buf_printf(b, "\"fired\":{\"matched\":%lu,\"error\":%lu,"
                     "\"latency\":%lu,\"timeout\":%lu,\"drop\":%lu}}",
                     r->n_matched, r->n_error, r->n_latency, r->n_timeout,
                     r->n_drop);
}

/*
 * Answers the rules and their counters. Append failures are ignored on
 * purpose: the buffer is unbounded in practice and a short answer on OOM
 * is acceptable for a test tool; buf_steal() reports OOM as NULL.
 */
static void simhttp_faults_get(struct simhttp *srv, struct simhttp_resp *resp)
{
    struct buf b;

    buf_init(&b, SIMHTTP_FAULTS_MAX);
    pthread_mutex_lock(&srv->faults_lock);
    (void)buf_printf(&b, "{\"seed\":%llu,\"rules\":[",
                     (unsigned long long)srv->seed);
    for (size_t i = 0; i < srv->n_rules; i++) {
        if (i)
            (void)buf_putc(&b, ',');
        simhttp_put_rule(&b, &srv->rules[i]);
    }
    (void)buf_puts(&b, "]}");
    pthread_mutex_unlock(&srv->faults_lock);
    mem_free(resp->body);
    resp->body = buf_steal(&b);
    resp->status = resp->body ? 200 : 500;
}

static bool simhttp_rate_ok(const cJSON *obj, const char *key, double *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!it || cJSON_IsNull(it)) {
        *out = 0;
        return true;
    }
    if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0) ||
        it->valuedouble > 1)
        return false;
    *out = it->valuedouble;
    return true;
}

static bool simhttp_str_ok(const cJSON *obj, const char *key, char *dst,
                           size_t cap)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    size_t n;

    dst[0] = '\0';
    if (!it || cJSON_IsNull(it))
        return true;
    if (!cJSON_IsString(it))
        return false;
    n = strlen(it->valuestring);
    if (n >= cap)
        return false;
    memcpy(dst, it->valuestring, n + 1);
    return true;
}

/* Reads one rule; false when a field is malformed or out of range. */
static bool simhttp_parse_rule(const cJSON *o, struct simhttp_rule *r)
{
    memset(r, 0, sizeof(*r));
    if (!cJSON_IsObject(o))
        return false;
    if (!simhttp_str_ok(o, "method", r->method, sizeof(r->method)) ||
        !simhttp_str_ok(o, "path_prefix", r->path_prefix,
                        sizeof(r->path_prefix)) ||
        !simhttp_str_ok(o, "error_body", r->error_body,
                        sizeof(r->error_body)))
        return false;
    if (!simhttp_rate_ok(o, "error_rate", &r->error_rate) ||
        !simhttp_rate_ok(o, "timeout_rate", &r->timeout_rate) ||
        !simhttp_rate_ok(o, "drop_rate", &r->drop_rate))
        return false;
    r->error_status = (int)jsonio_i64_or(o, "error_status", 503);
    r->retry_after_s = (int)jsonio_i64_or(o, "retry_after_s", -1);
    r->latency_ms = (int)jsonio_i64_or(o, "latency_ms", 0);
    if (r->error_status < 400 || r->error_status > 599)
        return false;
    if (r->latency_ms < 0 || r->latency_ms > 600000)
        return false;
    return r->retry_after_s <= 86400;
}

static void simhttp_faults_post(struct simhttp *srv,
                                const struct simhttp_req *req,
                                struct simhttp_resp *resp)
{
    struct simhttp_rule *rules = NULL;
    const cJSON *list;
    const cJSON *it;
    cJSON *root = NULL;
    size_t n = 0;

    if (jsonio_parse(req->body, req->body_len, SIMHTTP_FAULTS_MAX, &root))
        goto bad;
    list = cJSON_GetObjectItemCaseSensitive(root, "rules");
    if (list && !cJSON_IsArray(list))
        goto bad;
    if (cJSON_GetArraySize(list) > SIMHTTP_RULES_MAX)
        goto bad;
    rules = mem_calloc(SIMHTTP_RULES_MAX, sizeof(*rules));
    if (!rules)
        goto bad;
    cJSON_ArrayForEach(it, list) {
        if (!simhttp_parse_rule(it, &rules[n]))
            goto bad;
        n++;
    }
    pthread_mutex_lock(&srv->faults_lock);
    memcpy(srv->rules, rules, n * sizeof(*rules));
    srv->n_rules = n;
    it = cJSON_GetObjectItemCaseSensitive(root, "seed");
    if (cJSON_IsNumber(it) && it->valuedouble >= 0) {
        srv->seed = (uint64_t)it->valuedouble;
        srv->rng = srv->seed;
    }
    pthread_mutex_unlock(&srv->faults_lock);
    mem_free(rules);
    cJSON_Delete(root);
    simhttp_faults_get(srv, resp);
    return;
bad:
    mem_free(rules);
    cJSON_Delete(root);
    simhttp_reply(resp, 400, "{\"error\":\"bad fault rules\"}");
}

static enum MHD_Result simhttp_send(struct MHD_Connection *conn,
                                    struct simhttp_resp *resp)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    size_t len = resp->body ? strlen(resp->body) : 0;

    r = MHD_create_response_from_buffer(len, resp->body,
                                        MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (resp->body)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                resp->content_type ? resp->content_type
                                                   : "application/json");
    if (resp->retry_after[0])
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER,
                                resp->retry_after);
    ret = MHD_queue_response(conn, (unsigned int)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static bool simhttp_is_control(const char *path)
{
    return strncmp(path, "/_sim/", 6) == 0;
}

/* Applies faults; true when the request is to be answered by 'resp'. */
static bool simhttp_apply_faults(struct simhttp *srv,
                                 const struct simhttp_req *req,
                                 struct simhttp_resp *resp,
                                 enum simhttp_action *out_act)
{
    struct simhttp_fault f;

    simhttp_decide(srv, req->method, req->path, &f);
    *out_act = f.action;
    if (f.latency_ms > 0 && !simhttp_wait(srv, f.latency_ms))
        return false;
    if (f.action == SIMHTTP_ACT_TIMEOUT) {
        simhttp_hold(srv, req->conn);
        return false;
    }
    if (f.action == SIMHTTP_ACT_DROP)
        return false;
    if (f.action == SIMHTTP_ACT_ERROR) {
        simhttp_reply(resp, f.status, f.body[0]
                      ? f.body : "{\"Message\":\"injected fault\"}");
        if (f.retry_after_s >= 0)
            (void)snprintf(resp->retry_after, sizeof(resp->retry_after),
                           "%d", f.retry_after_s);
        return true;
    }
    return true;
}

static enum MHD_Result simhttp_dispatch(struct simhttp *srv,
                                        const struct simhttp_req *req)
{
    struct simhttp_resp resp;
    enum simhttp_action act = SIMHTTP_ACT_NONE;
    enum MHD_Result ret;

    memset(&resp, 0, sizeof(resp));
    resp.status = 200;
    if (strcmp(req->path, "/_sim/faults") == 0) {
        if (strcmp(req->method, "POST") == 0)
            simhttp_faults_post(srv, req, &resp);
        else
            simhttp_faults_get(srv, &resp);
    } else if (!simhttp_is_control(req->path) &&
               !simhttp_apply_faults(srv, req, &resp, &act)) {
        return MHD_NO;
    } else if (act != SIMHTTP_ACT_ERROR) {
        srv->handler(srv->ctx, req, &resp);
    }
    ret = simhttp_send(req->conn, &resp);
    mem_free(resp.body);
    return ret;
}

static enum MHD_Result simhttp_access(void *cls, struct MHD_Connection *conn,
                                      const char *url, const char *method,
                                      const char *version,
                                      const char *upload_data,
                                      size_t *upload_data_size,
                                      void **con_cls)
{
    struct simhttp *srv = cls;
    struct simhttp_conn *c = *con_cls;
    struct simhttp_req req;

    (void)version;
    if (!c) {
        c = mem_calloc(1, sizeof(*c));
        if (!c)
            return MHD_NO;
        buf_init(&c->body, SIMHTTP_BODY_MAX);
        *con_cls = c;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!c->too_big &&
            buf_append(&c->body, upload_data, *upload_data_size))
            c->too_big = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (c->too_big) {
        struct simhttp_resp resp = { .status = 413 };

        return simhttp_send(conn, &resp);
    }
    req.method = method;
    req.path = url;
    req.conn = conn;
    req.body = c->body.data ? c->body.data : "";
    req.body_len = c->body.len;
    return simhttp_dispatch(srv, &req);
}

static void simhttp_completed(void *cls, struct MHD_Connection *conn,
                              void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    struct simhttp_conn *c = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (!c)
        return;
    buf_release(&c->body);
    mem_free(c);
    *con_cls = NULL;
}

struct simhttp *simhttp_start(int port, simhttp_handler_fn handler,
                              void *ctx, int *out_port)
{
    struct simhttp *srv;
    struct sockaddr_in sa;
    const union MHD_DaemonInfo *di;
    unsigned int flags = MHD_USE_THREAD_PER_CONNECTION |
                         MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                         MHD_USE_ERROR_LOG;

    if (port < 0 || port > 65535 || !handler)
        return NULL;
    srv = mem_calloc(1, sizeof(*srv));
    if (!srv)
        return NULL;
    srv->handler = handler;
    srv->ctx = ctx;
    atomic_init(&srv->stopping, false);
    pthread_mutex_init(&srv->faults_lock, NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, simhttp_access, srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_NOTIFY_COMPLETED, simhttp_completed, srv,
        MHD_OPTION_CONNECTION_TIMEOUT, 120U, MHD_OPTION_END);
    if (!srv->daemon)
        goto fail;
    di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (!di || !di->port) {
        MHD_stop_daemon(srv->daemon);
        goto fail;
    }
    *out_port = di->port;
    return srv;
fail:
    pthread_mutex_destroy(&srv->faults_lock);
    mem_free(srv);
    return NULL;
}

void simhttp_stop(struct simhttp *srv)
{
    if (!srv)
        return;
    atomic_store(&srv->stopping, true);
    MHD_stop_daemon(srv->daemon);
    pthread_mutex_destroy(&srv->faults_lock);
    mem_free(srv);
}
