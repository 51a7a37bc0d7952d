/* SPDX-License-Identifier: MIT */
/* The admin routes: the page, the token check and the API's one edge. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "log.h"
#include "mem.h"
#include "orderstate.h"
#include "route_admin.h"

#define RA_MOD "admin"
#define RA_ASSET_MAX (1u << 20) /* bytes of one page file */

/*
 * The page's own files only; 'unsafe-inline' is never needed, and the
 * page talks to nothing but this service.
 */
#define RA_CSP                                                       \
    "default-src 'none'; script-src 'self'; style-src 'self'; "     \
    "img-src 'self'; connect-src 'self'; base-uri 'none'; "         \
    "form-action 'none'; frame-ancestors 'none'"

/* ---- shared helpers ---- */

bool route_admin_token_ok(const struct config *cfg, const char *authorization)
{
    const char *tok;
    size_t len;
    bool ok = false;

    if (!authorization || strlen(authorization) > ROUTE_ADMIN_AUTH_MAX ||
        strncasecmp(authorization, "Bearer ", 7) != 0)
        return false;
    tok = authorization + 7;
    while (*tok == ' ')
        tok++;
    len = strlen(tok);
    /* Every token is compared, so the time does not tell which matched. */
    for (size_t i = 0; i < cfg->n_admin_tokens; i++) {
        const struct config_secret *s = &cfg->admin_tokens[i];

        if (s->len == len && len > 0 &&
            CRYPTO_memcmp(s->bytes, tok, len) == 0)
            ok = true;
    }
    return ok;
}

bool route_admin_parse_id(const char *text, int64_t *out_v)
{
    int64_t v = 0;

    if (!text || !*text || strlen(text) > 19)
        return false;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        if (v > (INT64_MAX - (*p - '0')) / 10)
            return false;
        v = v * 10 + (*p - '0');
    }
    if (v < 1)
        return false;
    *out_v = v;
    return true;
}

enum scb_err route_admin_query(const struct httpd_req *req, const char *name,
                               const char **out)
{
    const char *v[2] = { NULL, NULL };
    size_t n = httpd_req_query_all(req, name, v, 2);

    if (n > 1)
        return SCB_EINVAL;
    *out = n ? v[0] : NULL;
    return SCB_OK;
}

enum scb_err route_admin_limit(const struct httpd_req *req, size_t *out)
{
    const char *text;
    int64_t v;
    enum scb_err err = route_admin_query(req, "limit", &text);

    if (err)
        return err;
    if (!text) {
        *out = ROUTE_ADMIN_LIMIT_DEFAULT;
        return SCB_OK;
    }
    if (!route_admin_parse_id(text, &v) || v > ROUTE_ADMIN_LIMIT_MAX)
        return SCB_EINVAL;
    *out = (size_t)v;
    return SCB_OK;
}

enum scb_err route_admin_put_time(struct buf *out, int64_t ms)
{
    char at[32];

    if (ms <= 0)
        return buf_puts(out, "null");
    orderstate_fmt_time(ms, at);
    return buf_printf(out, "\"%s\"", at);
}

enum scb_err route_admin_put_str_or_null(struct buf *out, const char *s)
{
    if (!s || !*s)
        return buf_puts(out, "null");
    return buf_put_json_str(out, s);
}

/* ---- the page ---- */

static void page_headers(struct httpd_resp *resp)
{
    httpd_resp_header(resp, "Content-Security-Policy", RA_CSP);
    httpd_resp_header(resp, "X-Content-Type-Options", "nosniff");
    httpd_resp_header(resp, "Referrer-Policy", "no-referrer");
    httpd_resp_header(resp, "X-Frame-Options", "DENY");
    httpd_resp_header(resp, "Cache-Control", "no-cache");
}

static void serve_asset(struct httpd_resp *resp, const char *name)
{
    const struct route_admin_asset *a = route_admin_asset_find(name);
    struct buf b;
    enum scb_err err;

    if (!a) {
        httpd_resp_error(resp, 404, "not_found");
        return;
    }
    buf_init(&b, RA_ASSET_MAX);
    err = route_admin_asset_text(a, &b);
    if (err)
        httpd_resp_scb_err(resp, err);
    else
        httpd_resp_take(resp, 200, a->type, &b);
    buf_release(&b);
    page_headers(resp);
}

static void on_page(struct httpd_req *req, struct httpd_resp *resp,
                    void *ctx)
{
    (void)req;
    (void)ctx;
    serve_asset(resp, "index.html");
}

static void on_static(struct httpd_req *req, struct httpd_resp *resp,
                      void *ctx)
{
    const char *tail = httpd_req_tail(req);

    (void)ctx;
    /* Only the page's own flat names: no directories, no dot files. */
    if (!tail || !*tail || strchr(tail, '/') || tail[0] == '.') {
        httpd_resp_error(resp, 404, "not_found");
        return;
    }
    serve_asset(resp, tail);
}

static void on_admin_bare(struct httpd_req *req, struct httpd_resp *resp,
                          void *ctx)
{
    (void)req;
    (void)ctx;
    httpd_resp_body(resp, 308, "text/plain; charset=utf-8", "", 0);
    httpd_resp_header(resp, "Location", "/admin/");
}

/* ---- the API edge ---- */

/*
 * A token in the query string is refused even when valid: URLs end up
 * in browser history, proxies and logs, so the token travels only in
 * the Authorization header.
 */
static bool api_authorized(const struct httpd_req *req,
                           const struct config *cfg)
{
    if (httpd_req_query(req, "token") || httpd_req_query(req, "access_token"))
        return false;
    return route_admin_token_ok(cfg, httpd_req_header(req, "Authorization"));
}

/* The one place where an admin API failure becomes an answer. */
static void api_fail(struct route_admin_call *c, struct httpd_resp *resp,
                     enum scb_err err)
{
    int status = err == SCB_EVERSION ? 409 : httpd_status_for(err);

    if (status >= 500)
        log_warn(RA_MOD, "admin request failed",
                 LOG_STR("req", httpd_req_id(c->req)),
                 LOG_STR("route", httpd_req_route(c->req)),
                 LOG_STR("error", scb_strerror(err)),
                 LOG_STR("detail", c->st ? store_errstr(c->st) : ""));
    if (err == SCB_EVERSION)
        httpd_resp_error(resp, 409, "conflict");
    else
        httpd_resp_scb_err(resp, err);
}

static void api_run(struct httpd_req *req, struct httpd_resp *resp,
                    struct app *app, route_admin_fn fn)
{
    struct route_admin_call c;
    enum scb_err err;

    httpd_resp_header(resp, "Cache-Control", "no-store");
    if (!api_authorized(req, app->cfg)) {
        httpd_resp_error(resp, 401, "unauthorized");
        httpd_resp_header(resp, "WWW-Authenticate", "Bearer");
        return;
    }
    memset(&c, 0, sizeof(c));
    c.app = app;
    c.req = req;
    c.status = 200;
    buf_init(&c.out, HTTPD_RESP_MAX);
    c.st = store_pool_get(app->pool);
    err = c.st ? fn(&c) : SCB_ENOMEM;
    /* A pooled link that broke while idle: one more try, if harmless. */
    if (err == SCB_ESTORE && !c.wrote) {
        buf_reset(&c.out);
        c.status = 200;
        err = fn(&c);
    }
    if (err)
        api_fail(&c, resp, err);
    else
        httpd_resp_take(resp, c.status, "application/json", &c.out);
    buf_release(&c.out);
    if (c.st)
        store_pool_put(app->pool, c.st);
}

static void on_order(struct httpd_req *req, struct httpd_resp *resp,
                     void *ctx)
{
    api_run(req, resp, ctx, route_admin_order_get);
}

static void on_orders(struct httpd_req *req, struct httpd_resp *resp,
                      void *ctx)
{
    api_run(req, resp, ctx, route_admin_orders);
}

static void on_replay(struct httpd_req *req, struct httpd_resp *resp,
                      void *ctx)
{
    api_run(req, resp, ctx, route_admin_replay);
}

static void on_dead(struct httpd_req *req, struct httpd_resp *resp, void *ctx)
{
    api_run(req, resp, ctx, route_admin_dead_list);
}

static void on_dead_retry(struct httpd_req *req, struct httpd_resp *resp,
                          void *ctx)
{
    api_run(req, resp, ctx, route_admin_dead_retry);
}

static void on_dead_discard(struct httpd_req *req, struct httpd_resp *resp,
                            void *ctx)
{
    api_run(req, resp, ctx, route_admin_dead_discard);
}

static void on_stats(struct httpd_req *req, struct httpd_resp *resp,
                     void *ctx)
{
    api_run(req, resp, ctx, route_admin_stats);
}

struct ra_route {
    const char *method;
    const char *pattern;
    httpd_handler_fn fn;
};

static const struct ra_route ra_routes[] = {
    { "GET", "/admin", on_admin_bare },
    { "GET", "/admin/", on_page },
    { "GET", "/admin/static/\xe2\x80\xa6", on_static },
    { "GET", "/admin/api/orders", on_orders },
    { "GET", "/admin/api/orders/{sc_order_id}", on_order },
    { "POST", "/admin/api/orders/{sc_order_id}/replay", on_replay },
    { "GET", "/admin/api/dead-letters", on_dead },
    { "POST", "/admin/api/dead-letters/{id}/retry", on_dead_retry },
    { "POST", "/admin/api/dead-letters/{id}/discard", on_dead_discard },
    { "GET", "/admin/api/stats", on_stats },
};

enum scb_err route_admin_register(struct app *app)
{
    enum scb_err err = SCB_OK;

    for (size_t i = 0; !err && i < sizeof(ra_routes) / sizeof(ra_routes[0]);
         i++)
        err = httpd_route(app->httpd, HTTPD_ZONE_ADMIN, ra_routes[i].method,
                          ra_routes[i].pattern, ra_routes[i].fn, app);
    if (!err)
        route_admin_metrics_init(app);
    return err;
}
