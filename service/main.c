/* SPDX-License-Identifier: MIT */
/*
 * scbridge's entry point: command line, configuration, signals, wiring of
 * the parts, and the drain at SIGTERM or SIGINT.
 *
 * Threads. The main thread starts everything, then waits in sigwait() for
 * SIGTERM or SIGINT, which every thread blocks; it alone runs the drain.
 * The HTTP server (httpd.c) runs libmicrohttpd with an internal thread
 * pool per listener: HTTPD_THREADS threads, each with its own epoll loop
 * serving its share of connections. A handler runs on its connection's
 * thread, so one waiting on Redis for a few milliseconds holds up only
 * the other connections of that thread; slow clients cost no thread.
 * Handlers borrow Redis handles from app.pool. The Redis watcher
 * (route_health.c) is one more thread with its own connection; workers
 * and polls add theirs through main_parts[]. No curl or hiredis handle
 * crosses threads.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <pthread.h>

#include "app.h"
#include "config.h"
#include "httpd.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "route_admin.h"
#include "route_health.h"
#include "route_webhooks.h"
#include "runtime.h"
#include "store.h"

#define MAIN_EXIT_OK 0
#define MAIN_EXIT_FAIL 1
#define MAIN_EXIT_CONFIG 2

/*
 * Every module's routes; a new route module adds its function here.
 * The webhook and admin routes come next.
 */
static const app_routes_fn main_routes[] = {
    route_health_register,
    route_webhooks_register,
    route_admin_register,
};

/*
 * Background parts, started in this order once the listeners are bound
 * and stopped in reverse order at shutdown. Workers and polls go here;
 * they must take no new work once app.draining is set.
 */
struct main_part {
    const char *name;
    app_start_fn start;
    app_stop_fn stop;
};

static const struct main_part main_parts[] = {
    { "redis watcher", route_health_watch_start, route_health_watch_stop },
    { "workers and polls", runtime_start, runtime_stop },
};

#define MAIN_NROUTES (sizeof(main_routes) / sizeof(main_routes[0]))
#define MAIN_NPARTS (sizeof(main_parts) / sizeof(main_parts[0]))

static const char main_usage[] =
    "usage: scbridge [--check-config | --version | --help]\n"
    "\n"
    "Runs the scbridge service (Sellercloud <-> DDI System), configured\n"
    "by the SCBRIDGE_* environment variables, until SIGTERM or SIGINT.\n"
    "\n"
    "  --check-config  validate the environment and print the effective\n"
    "                  settings; touches no network\n"
    "  --version       print the version\n"
    "  --help          print this text\n";

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *main_getenv(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

/* Loads the configuration; on failure prints why and answers the exit. */
static int load_config(struct config *cfg)
{
    struct buf problems;
    enum scb_err err;
    int rc = MAIN_EXIT_OK;

    buf_init(&problems, 64 * 1024);
    err = config_load(cfg, main_getenv, NULL, &problems);
    if (err == SCB_EINVAL) {
        fputs(problems.data ? problems.data : "", stderr);
        rc = MAIN_EXIT_CONFIG;
    } else if (err) {
        fprintf(stderr, "scbridge: %s\n", scb_strerror(err));
        rc = MAIN_EXIT_FAIL;
    }
    buf_release(&problems);
    return rc;
}

static int check_config(void)
{
    struct config cfg;
    struct buf out;
    int rc = load_config(&cfg);

    if (rc)
        return rc;
    buf_init(&out, 1 << 20);
    if (config_print(&cfg, &out) == SCB_OK) {
        fputs(out.data ? out.data : "", stdout);
    } else {
        fputs("scbridge: out of memory\n", stderr);
        rc = MAIN_EXIT_FAIL;
    }
    buf_release(&out);
    config_release(&cfg);
    return rc;
}

/*
 * The effective configuration, one log line per setting, from
 * config_print() (secrets as ***). The text is cut in place.
 */
static void log_config(const struct config *cfg)
{
    struct buf out;
    char *p;

    buf_init(&out, 1 << 20);
    if (config_print(cfg, &out) != SCB_OK || !out.data) {
        buf_release(&out);
        return;
    }
    for (p = out.data; *p;) {
        char *end = p + strcspn(p, "\n");
        bool last = *end == '\0';
        char *eq;

        *end = '\0';
        eq = strchr(p, '=');
        if (eq) {
            *eq = '\0';
            log_info("main", "setting", LOG_STR("name", p),
                     LOG_STR("value", eq + 1));
        }
        if (last)
            break;
        p = end + 1;
    }
    buf_release(&out);
}

/*
 * Before any thread: SIGPIPE and SIGHUP ignored; SIGTERM and SIGINT
 * blocked, so that every thread inherits the mask and only sigwait()
 * in the main thread takes them.
 */
static int signals_setup(sigset_t *out_set)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, NULL) != 0 || sigaction(SIGHUP, &sa, NULL) != 0)
        return -1;
    sigemptyset(out_set);
    sigaddset(out_set, SIGTERM);
    sigaddset(out_set, SIGINT);
    return pthread_sigmask(SIG_BLOCK, out_set, NULL) == 0 ? 0 : -1;
}

static int wait_signal(const sigset_t *set)
{
    int sig = 0;

    while (sigwait(set, &sig) != 0)
        ;
    return sig;
}

static enum scb_err app_init(struct app *app, const struct config *cfg)
{
    struct httpd_config hc = {
        .host = cfg->listen_host,
        .port = cfg->listen_port,
        .admin_host = cfg->has_admin_listen ? cfg->admin_host : NULL,
        .admin_port = cfg->admin_port,
        .max_body = (size_t)cfg->webhook_max_bytes,
    };
    enum scb_err err = SCB_OK;

    memset(app, 0, sizeof(*app));
    app->cfg = cfg;
    atomic_init(&app->draining, false);
    atomic_init(&app->redis_state, APP_REDIS_STARTING);
    atomic_init(&app->redis_checked, false);
    app->pool = store_pool_new(cfg);
    app->httpd = httpd_new(&hc);
    if (!app->pool || !app->httpd)
        return SCB_ENOMEM;
    httpd_on_reject(app->httpd, route_webhooks_rejected, NULL);
    for (size_t i = 0; !err && i < MAIN_NROUTES; i++)
        err = main_routes[i](app);
    return err;
}

static void app_release(struct app *app)
{
    httpd_free(app->httpd);
    app->httpd = NULL;
    store_pool_free(app->pool);
    app->pool = NULL;
}

/* Starts the parts in order; on failure stops those already started. */
static enum scb_err parts_start(struct app *app, size_t *out_started)
{
    enum scb_err err = SCB_OK;
    size_t i;

    for (i = 0; i < MAIN_NPARTS; i++) {
        err = main_parts[i].start(app);
        if (err) {
            log_error("main", "cannot start",
                      LOG_STR("part", main_parts[i].name),
                      LOG_STR("error", scb_strerror(err)));
            break;
        }
    }
    *out_started = i;
    return err;
}

static void parts_stop(struct app *app, size_t started, int64_t deadline)
{
    while (started > 0) {
        started--;
        main_parts[started].stop(app, deadline);
    }
}

static void build_info(void)
{
    char v[64], labels[96];

    metrics_describe("scbridge_build_info", METRICS_GAUGE,
                     "Always 1; the version label is the running build.");
    metrics_label_value(SCB_VERSION, v, sizeof(v));
    snprintf(labels, sizeof(labels), "version=\"%s\"", v);
    metrics_set("scbridge_build_info", labels, 1);
}

/*
 * The drain: readiness fails, the listeners stop accepting, requests and
 * parts in flight get until the deadline. The exit is 0 either way.
 */
static void drain(struct app *app, int sig, size_t started)
{
    int64_t deadline = now_ms() + app->cfg->drain_timeout_s * 1000;

    log_info("main", "drain started",
             LOG_STR("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"),
             LOG_INT("timeout_s", app->cfg->drain_timeout_s));
    atomic_store(&app->draining, true);
    httpd_quiesce(app->httpd);
    if (!httpd_wait_idle(app->httpd, deadline))
        log_warn("main", "drain timed out",
                 LOG_INT("requests_in_flight", httpd_in_flight(app->httpd)));
    parts_stop(app, started, deadline);
}

static int serve(struct app *app, const sigset_t *set)
{
    const struct config *cfg = app->cfg;
    size_t started = 0;
    enum scb_err err;
    int sig;

    err = httpd_start(app->httpd);
    if (err) {
        log_error("main", "cannot listen",
                  LOG_STR("detail", httpd_errstr(app->httpd)));
        return MAIN_EXIT_FAIL;
    }
    err = parts_start(app, &started);
    if (err) {
        parts_stop(app, started, now_ms());
        return MAIN_EXIT_FAIL;
    }
    log_info("main", "started", LOG_STR("version", SCB_VERSION),
             LOG_INT("port", httpd_port(app->httpd, false)),
             LOG_INT("admin_port",
                     cfg->has_admin_listen ? httpd_port(app->httpd, true) : 0));
    sig = wait_signal(set);
    drain(app, sig, started);
    log_info("main", "stopped");
    return MAIN_EXIT_OK;
}

static int run(void)
{
    struct config cfg;
    struct app app;
    sigset_t set;
    enum scb_err err;
    int rc = load_config(&cfg);

    if (rc)
        return rc;
    log_init(cfg.log_level, 1);
    mem_install_hooks();
    if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, mem_malloc, mem_free,
                             mem_realloc, mem_strdup, mem_calloc) != 0 ||
        signals_setup(&set) != 0) {
        log_error("main", "cannot initialise the process");
        config_release(&cfg);
        return MAIN_EXIT_FAIL;
    }
    log_config(&cfg);
    build_info();
    err = app_init(&app, &cfg);
    if (err) {
        log_error("main", "cannot set up", LOG_STR("error", scb_strerror(err)));
        rc = MAIN_EXIT_FAIL;
    } else {
        rc = serve(&app, &set);
    }
    app_release(&app);
    curl_global_cleanup();
    metrics_reset();
    config_release(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 1)
        return run();
    if (argc == 2 && strcmp(argv[1], "--check-config") == 0)
        return check_config();
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("scbridge %s (%s)\n", SCB_VERSION, SCB_GIT_SHA);
        return MAIN_EXIT_OK;
    }
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        fputs(main_usage, stdout);
        return MAIN_EXIT_OK;
    }
    fputs(main_usage, stderr);
    return MAIN_EXIT_CONFIG;
}
