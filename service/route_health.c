/* SPDX-License-Identifier: MIT */
/* /livez, /readyz and /metrics, and the Redis watcher behind /readyz. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "route_health.h"

#define METRICS_CTYPE "text/plain; version=0.0.4; charset=utf-8"

struct route_health_watch {
    struct app *app;
    struct store *st; /* the watcher thread's own connection */
    pthread_t thread;
    pthread_mutex_t lock; /* lock guards stop */
    pthread_cond_t cond;  /* signalled when stop is set */
    bool stop;
};

const char *route_health_reason(const struct app *app)
{
    if (atomic_load(&app->draining))
        return "draining";
    switch (atomic_load(&app->redis_state)) {
    case APP_REDIS_UP:
        return NULL;
    case APP_REDIS_DOWN:
        return "redis";
    default:
        return "starting";
    }
}

static void on_livez(struct httpd_req *req, struct httpd_resp *resp, void *ctx)
{
    (void)req;
    (void)ctx;
    httpd_resp_json(resp, 200, "{\"status\":\"ok\"}");
    httpd_resp_header(resp, "Cache-Control", "no-store");
}

static void on_readyz(struct httpd_req *req, struct httpd_resp *resp, void *ctx)
{
    const char *reason = route_health_reason(ctx);
    struct buf b;

    (void)req;
    if (!reason) {
        httpd_resp_json(resp, 200, "{\"status\":\"ready\"}");
    } else {
        buf_init(&b, 128);
        if (buf_printf(&b, "{\"status\":\"unready\",\"reason\":\"%s\"}",
                       reason) == SCB_OK)
            httpd_resp_take(resp, 503, "application/json", &b);
        buf_release(&b);
    }
    httpd_resp_header(resp, "Cache-Control", "no-store");
}

static void on_metrics(struct httpd_req *req, struct httpd_resp *resp,
                       void *ctx)
{
    struct buf b;
    enum scb_err err;

    (void)req;
    (void)ctx;
    buf_init(&b, HTTPD_RESP_MAX);
    err = metrics_render(&b);
    if (err)
        httpd_resp_scb_err(resp, err);
    else
        httpd_resp_take(resp, 200, METRICS_CTYPE, &b);
    buf_release(&b);
}

enum scb_err route_health_register(struct app *app)
{
    enum scb_err err;

    err = httpd_route(app->httpd, HTTPD_ZONE_ADMIN, "GET", "/livez", on_livez,
                      app);
    if (!err)
        err = httpd_route(app->httpd, HTTPD_ZONE_ADMIN, "GET", "/readyz",
                          on_readyz, app);
    if (!err)
        err = httpd_route(app->httpd, HTTPD_ZONE_ADMIN, "GET", "/metrics",
                          on_metrics, app);
    return err;
}

/* Logs only changes of state, so an outage gives one line, not one/s. */
static void watch_record(struct route_health_watch *w, enum scb_err err)
{
    struct app *app = w->app;
    int was = atomic_load(&app->redis_state);

    if (!err) {
        atomic_store(&app->redis_checked, true);
        atomic_store(&app->redis_state, APP_REDIS_UP);
        if (was != APP_REDIS_UP)
            log_info("health", "redis ready");
        return;
    }
    atomic_store(&app->redis_state, APP_REDIS_DOWN);
    if (was == APP_REDIS_DOWN)
        return;
    if (err == SCB_EVERSION)
        log_error("health", "redis refused",
                  LOG_STR("error", scb_strerror(err)),
                  LOG_STR("detail", store_errstr(w->st)));
    else
        log_warn("health", "redis unavailable",
                 LOG_STR("error", scb_strerror(err)),
                 LOG_STR("detail", store_errstr(w->st)));
}

static void watch_check(struct route_health_watch *w)
{
    enum scb_err err;

    if (!store_connected(w->st))
        err = store_connect(w->st);
    else
        err = store_ping(w->st);
    watch_record(w, err);
}

/* Sleeps one period, or less if stop is set; true when stopping. */
static bool watch_sleep(struct route_health_watch *w)
{
    struct timespec until;
    bool stop;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ROUTE_HEALTH_PERIOD_MS / 1000;
    until.tv_nsec += (ROUTE_HEALTH_PERIOD_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        if (pthread_cond_timedwait(&w->cond, &w->lock, &until) == ETIMEDOUT)
            break;
    }
    stop = w->stop;
    pthread_mutex_unlock(&w->lock);
    return stop;
}

static void *watch_main(void *arg)
{
    struct route_health_watch *w = arg;

    do {
        watch_check(w);
    } while (!watch_sleep(w));
    return NULL;
}

static void watch_free(struct route_health_watch *w)
{
    store_free(w->st);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    mem_free(w);
}

static enum scb_err watch_init(struct route_health_watch *w)
{
    pthread_condattr_t ca;
    bool ok;

    if (pthread_condattr_init(&ca) != 0)
        return SCB_ENOMEM;
    ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
         pthread_cond_init(&w->cond, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!ok)
        return SCB_ENOMEM;
    if (pthread_mutex_init(&w->lock, NULL) != 0) {
        pthread_cond_destroy(&w->cond);
        return SCB_ENOMEM;
    }
    return SCB_OK;
}

enum scb_err route_health_watch_start(struct app *app)
{
    struct route_health_watch *w = mem_calloc(1, sizeof(*w));
    enum scb_err err;

    if (!w)
        return SCB_ENOMEM;
    err = watch_init(w);
    if (err) {
        mem_free(w);
        return err;
    }
    w->app = app;
    w->st = store_new(app->cfg);
    if (!w->st) {
        err = SCB_ENOMEM;
        goto out;
    }
    store_set_timeout_ms(w->st, ROUTE_HEALTH_TIMEOUT_MS);
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0)
        err = SCB_EIO;
out:
    if (err)
        watch_free(w);
    else
        app->watch = w;
    return err;
}

void route_health_watch_stop(struct app *app, int64_t deadline_ms)
{
    struct route_health_watch *w = app->watch;

    (void)deadline_ms; /* a check is bounded by its own timeout */
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    watch_free(w);
    app->watch = NULL;
}
