/* SPDX-License-Identifier: MIT */
/*
 * httpd-probe: serves a fixed set of test routes through the HTTP server
 * module (httpd.h), so that the end-to-end tests can check routing, path
 * parameters, query values, headers, bodies, file answers, error
 * mapping, zones and the drain without the rest of scbridge.
 *
 *   httpd-probe PORT ADMIN_PORT|- MAX_BODY DIR
 *
 * Routes (zone): POST /echo/{a}/and/{b} (public) answers what the
 * handler saw as JSON; GET /files/… (admin) answers DIR/<tail>; GET
 * /admin/ (admin); GET /silent (admin) sets nothing; GET /headers
 * (admin) adds answer headers; GET /slow (admin) takes 1.5 s; GET
 * /err/{name} (admin) answers httpd_resp_scb_err() of the named code.
 * Runs until SIGTERM, then drains (5 s bound), prints "idle true" or
 * "idle false" on stdout and exits 0. Exit 1 when it cannot listen, 2 on
 * a usage error.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <pthread.h>

#include "httpd.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"

#define PROBE_QUERY_MAX 8

static void add_str(cJSON *o, const char *key, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

static void answer_json(struct httpd_resp *resp, cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);

    if (text)
        httpd_resp_json(resp, 200, text);
    cJSON_free(text);
    cJSON_Delete(o);
}

static void add_query(cJSON *o, const struct httpd_req *req)
{
    const char *vals[PROBE_QUERY_MAX];
    size_t n = httpd_req_query_all(req, "q", vals, PROBE_QUERY_MAX);
    cJSON *arr = cJSON_AddArrayToObject(o, "q");

    for (size_t i = 0; arr && i < n && i < PROBE_QUERY_MAX; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(vals[i]));
    cJSON_AddNumberToObject(o, "q_count", (double)n);
    add_str(o, "q_first", httpd_req_query(req, "q"));
    add_str(o, "flag", httpd_req_query(req, "flag"));
    cJSON_AddBoolToObject(o, "has_query", httpd_req_has_query(req));
}

static void on_echo(struct httpd_req *req, struct httpd_resp *resp, void *ctx)
{
    cJSON *o = cJSON_CreateObject();
    size_t len;
    const unsigned char *body = httpd_req_body(req, &len);
    char *copy = mem_strndup(body ? (const char *)body : "", len);

    (void)ctx;
    if (!o || !copy) {
        cJSON_Delete(o);
        mem_free(copy);
        return; /* answers 500 */
    }
    add_str(o, "route", httpd_req_route(req));
    add_str(o, "method", httpd_req_method(req));
    add_str(o, "path", httpd_req_path(req));
    add_str(o, "id", httpd_req_id(req));
    add_str(o, "a", httpd_req_param(req, "a"));
    add_str(o, "b", httpd_req_param(req, "b"));
    add_str(o, "zz", httpd_req_param(req, "zz"));
    add_str(o, "x_test", httpd_req_header(req, "x-TEST"));
    add_query(o, req);
    cJSON_AddNumberToObject(o, "body_len", (double)len);
    add_str(o, "body", copy);
    mem_free(copy);
    answer_json(resp, o);
}

static void on_file(struct httpd_req *req, struct httpd_resp *resp, void *ctx)
{
    const char *tail = httpd_req_tail(req);
    struct buf path;

    buf_init(&path, 4096);
    if (!tail || strstr(tail, "..") ||
        buf_printf(&path, "%s/%s", (const char *)ctx, tail))
        httpd_resp_scb_err(resp, SCB_EINVAL);
    else
        httpd_resp_file(resp, path.data, "text/plain; charset=utf-8");
    buf_release(&path);
}

static void on_page(struct httpd_req *req, struct httpd_resp *resp, void *ctx)
{
    (void)req;
    (void)ctx;
    httpd_resp_json(resp, 200, "{\"page\":true}");
}

static void on_silent(struct httpd_req *req, struct httpd_resp *resp, void *ctx)
{
    (void)req;
    (void)resp;
    (void)ctx;
}

static void on_headers(struct httpd_req *req, struct httpd_resp *resp,
                       void *ctx)
{
    (void)req;
    (void)ctx;
    httpd_resp_json(resp, 200, "{}");
    httpd_resp_header(resp, "Retry-After", "7");
    httpd_resp_header(resp, "Cache-Control", "no-store");
    httpd_resp_header(resp, "WWW-Authenticate", "Bearer");
}

static void on_slow(struct httpd_req *req, struct httpd_resp *resp, void *ctx)
{
    const struct timespec t = { 1, 500 * 1000000 };

    (void)req;
    (void)ctx;
    nanosleep(&t, NULL);
    httpd_resp_json(resp, 200, "{\"slow\":true}");
}

static void on_err(struct httpd_req *req, struct httpd_resp *resp, void *ctx)
{
    static const struct {
        const char *name;
        enum scb_err err;
    } codes[] = {
        { "inval", SCB_EINVAL },       { "auth", SCB_EAUTH },
        { "notfound", SCB_ENOTFOUND }, { "toobig", SCB_ETOOBIG },
        { "store", SCB_ESTORE },       { "nomem", SCB_ENOMEM },
    };
    const char *name = httpd_req_param(req, "name");

    (void)ctx;
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (strcmp(name, codes[i].name) == 0) {
            httpd_resp_scb_err(resp, codes[i].err);
            return;
        }
    }
    httpd_resp_error(resp, 418, "unknown_code");
}

static enum scb_err add_routes(struct httpd *h, char *dir)
{
    enum scb_err err;

    err = httpd_route(h, HTTPD_ZONE_PUBLIC, "POST", "/echo/{a}/and/{b}",
                      on_echo, NULL);
    if (!err)
        err = httpd_route(h, HTTPD_ZONE_ADMIN, "GET", "/files/\xe2\x80\xa6",
                          on_file, dir);
    if (!err)
        err = httpd_route(h, HTTPD_ZONE_ADMIN, "GET", "/admin/", on_page, NULL);
    if (!err)
        err = httpd_route(h, HTTPD_ZONE_ADMIN, "GET", "/silent", on_silent,
                          NULL);
    if (!err)
        err = httpd_route(h, HTTPD_ZONE_ADMIN, "GET", "/headers", on_headers,
                          NULL);
    if (!err)
        err = httpd_route(h, HTTPD_ZONE_ADMIN, "GET", "/slow", on_slow, NULL);
    if (!err)
        err = httpd_route(h, HTTPD_ZONE_ADMIN, "GET", "/err/{name}", on_err,
                          NULL);
    return err;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int serve(struct httpd *h, char *dir, const sigset_t *set)
{
    int sig;
    bool idle;

    if (add_routes(h, dir)) {
        fputs("httpd-probe: cannot add routes\n", stderr);
        return 1;
    }
    if (httpd_start(h)) {
        fprintf(stderr, "httpd-probe: %s\n", httpd_errstr(h));
        return 1;
    }
    while (sigwait(set, &sig) != 0)
        ;
    httpd_quiesce(h);
    idle = httpd_wait_idle(h, now_ms() + 5000);
    printf("idle %s\n", idle ? "true" : "false");
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    struct httpd_config cfg = { .host = "127.0.0.1" };
    struct httpd *h;
    sigset_t set;
    int rc;

    if (argc != 5) {
        fputs("usage: httpd-probe PORT ADMIN_PORT|- MAX_BODY DIR\n", stderr);
        return 2;
    }
    cfg.port = (int)strtol(argv[1], NULL, 10);
    if (strcmp(argv[2], "-") != 0) {
        cfg.admin_host = "127.0.0.1";
        cfg.admin_port = (int)strtol(argv[2], NULL, 10);
    }
    cfg.max_body = (size_t)strtoul(argv[3], NULL, 10);
    log_init(LOG_INFO, 1);
    mem_install_hooks();
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    h = httpd_new(&cfg);
    if (!h)
        return 1;
    rc = serve(h, argv[4], &set);
    httpd_free(h);
    metrics_reset();
    return rc;
}
