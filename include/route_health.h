/* SPDX-License-Identifier: MIT */
/*
 * Probes and metrics: GET /livez, GET /readyz and GET /metrics (admin
 * zone), and the Redis watcher whose state /readyz reports.
 *
 * /readyz never touches Redis itself: a background thread checks Redis
 * every ROUTE_HEALTH_PERIOD_MS (connect with the start-up checks, then
 * PING) and keeps app->redis_state, so a hanging Redis cannot hold up a
 * probe.
 */
#ifndef SCB_ROUTE_HEALTH_H
#define SCB_ROUTE_HEALTH_H

#include <stdint.h>

#include "app.h"
#include "err.h"

#define ROUTE_HEALTH_PERIOD_MS 1000  /* between two Redis checks */
#define ROUTE_HEALTH_TIMEOUT_MS 1000 /* reply timeout of one check */

/* Adds /livez, /readyz and /metrics to app->httpd (an app_routes_fn). */
enum scb_err route_health_register(struct app *app);

/*
 * Why /readyz answers 503: "draining", "redis" or "starting"; NULL when
 * ready. Thread-safe (reads atomics only).
 */
const char *route_health_reason(const struct app *app);

/*
 * Starts the Redis watcher thread (an app_start_fn); it owns its own
 * Redis connection. SCB_ENOMEM, SCB_EIO if the thread cannot start.
 */
enum scb_err route_health_watch_start(struct app *app);

/* Stops and frees the watcher (an app_stop_fn); no-op if not started. */
void route_health_watch_stop(struct app *app, int64_t deadline_ms);

#endif
