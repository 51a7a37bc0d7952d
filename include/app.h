/* SPDX-License-Identifier: MIT */
/*
 * The application context: what main() builds once and hands, borrowed,
 * to every route handler and background part. Fields are set before any
 * thread starts and never change afterwards, except the atomics.
 *
 * Wiring a new module in (see service/main.c):
 *   - routes: an app_routes_fn in main_routes[], which calls httpd_route()
 *     with the app as ctx;
 *   - threads (workers, polls, watchers): an entry in main_parts[], with
 *     an app_start_fn run before the listeners open and an app_stop_fn
 *     run at shutdown, in reverse order, with the drain deadline;
 *   - anything they share: a field below, documented with its owner.
 */
#ifndef SCB_APP_H
#define SCB_APP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "httpd.h"
#include "store.h"

/* What /readyz reports about Redis (app.redis_state). */
enum app_redis_state {
    APP_REDIS_STARTING, /* no check has finished yet */
    APP_REDIS_UP,       /* the start-up checks passed and PING answers */
    APP_REDIS_DOWN,     /* unreachable, PING failing, or refused (< 6.2) */
};

struct route_health_watch; /* owned by route_health.c */
struct runtime;            /* owned by runtime.c */

struct app {
    const struct config *cfg;         /* immutable after start */
    struct store_pool *pool;          /* Redis handles for HTTP handlers */
    struct httpd *httpd;              /* the server; routes are added to it */
    atomic_bool draining;             /* set once, by SIGTERM or SIGINT */
    atomic_int redis_state;           /* enum app_redis_state; by the watcher */
    atomic_bool redis_checked;        /* the start-up checks passed once */
    struct route_health_watch *watch; /* the Redis watcher thread */
    struct runtime *runtime;          /* workers, jobs, polls; by runtime.c */
};

/* Adds one module's routes to app->httpd. */
typedef enum scb_err (*app_routes_fn)(struct app *app);

/* Starts one background part; a failure stops start-up (exit 1). */
typedef enum scb_err (*app_start_fn)(struct app *app);

/*
 * Stops a started part: takes no new work, lets work in flight finish
 * until CLOCK_MONOTONIC 'deadline_ms', then returns whatever is left
 * unfinished (jobs stay unacknowledged) and frees the part.
 */
typedef void (*app_stop_fn)(struct app *app, int64_t deadline_ms);

#endif
