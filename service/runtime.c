/* SPDX-License-Identifier: MIT */
/* Wires the job handlers, the worker pool and the poll scheduler. */
#include <stdio.h>
#include <time.h>

#include "job_items.h"
#include "job_tracking.h"
#include "jobs.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "orderstate.h"
#include "runtime.h"
#include "scheduler.h"
#include "worker.h"

struct runtime {
    struct app *app;
    struct jobs *jobs;
    struct worker_pool *pool;
    struct scheduler *sched;
};

static int64_t runtime_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* scbridge_orders{state}, read from Redis at each scrape. */
static void runtime_collect(void *ctx)
{
    struct runtime *rt = ctx;
    struct store *st = store_pool_get(rt->app->pool);
    int64_t counts[ORDERSTATE_COUNT];
    char labels[64];

    if (!st)
        return;
    /* runtime_stop() frees the scheduler only once HTTP is idle. */
    if (rt->sched)
        sched_collect(rt->sched, st);
    if (orderstate_counts(st, rt->app->cfg, counts) == SCB_OK) {
        for (size_t i = 0; i < ORDERSTATE_COUNT; i++) {
            snprintf(labels, sizeof(labels), "state=\"%s\"",
                     orderstate_names[i]);
            metrics_set("scbridge_orders", labels, (double)counts[i]);
        }
    }
    store_pool_put(rt->app->pool, st);
}

/*
 * Records the first start now rather than at the first job, so that a
 * shipment confirmed before the first shipment poll is not before it.
 * With Redis down, the jobs record it when they first can.
 */
static void runtime_first_start(struct runtime *rt)
{
    struct store *st = store_pool_get(rt->app->pool);

    if (!st)
        return;
    if (jobs_start_time(rt->jobs, st) != SCB_OK)
        log_warn("main", "cannot record the first start yet",
                 LOG_STR("detail", store_errstr(st)));
    store_pool_put(rt->app->pool, st);
}

static void runtime_free(struct runtime *rt)
{
    if (!rt)
        return;
    sched_free(rt->sched);
    worker_pool_free(rt->pool);
    jobs_free(rt->jobs);
    mem_free(rt);
}

enum scb_err runtime_start(struct app *app)
{
    struct runtime *rt = mem_calloc(1, sizeof(*rt));
    enum scb_err err = SCB_ENOMEM;

    if (!rt)
        return SCB_ENOMEM;
    rt->app = app;
    rt->jobs = jobs_new(app->cfg);
    rt->pool = worker_pool_new(app->cfg);
    rt->sched = sched_new(app->cfg);
    if (!rt->jobs || !rt->pool || !rt->sched)
        goto out;
    err = jobs_register(rt->jobs, rt->pool);
    if (!err)
        err = sched_add(rt->sched, "shipments", app->cfg->poll_shipments_s,
                        job_tracking_enqueue_poll, rt->jobs);
    if (!err)
        err = sched_add(rt->sched, "items", app->cfg->poll_items_s,
                        job_items_sched_enqueue, NULL);
    if (!err)
        runtime_first_start(rt);
    if (!err)
        err = worker_pool_start(rt->pool);
    if (!err)
        err = sched_start(rt->sched);

out:
    if (err) {
        if (rt->pool && worker_pool_drain(rt->pool, 0))
            runtime_free(rt);
        return err;
    }
    metrics_describe("scbridge_orders", METRICS_GAUGE,
                     "Orders scbridge knows, by state.");
    metrics_add_collector(runtime_collect, rt);
    app->runtime = rt;
    return SCB_OK;
}

void runtime_stop(struct app *app, int64_t deadline_ms)
{
    struct runtime *rt = app->runtime;
    int64_t left;

    if (!rt)
        return;
    sched_free(rt->sched);
    rt->sched = NULL;
    left = deadline_ms - runtime_mono_ms();
    if (!worker_pool_drain(rt->pool, left > 0 ? left : 0)) {
        log_warn("main", "jobs still running at the drain deadline: "
                 "another replica takes them after their lease");
        return; /* the process exits; threads still use the runtime */
    }
    /* The collector reads rt: stop rendering it before freeing. */
    metrics_reset();
    app->runtime = NULL;
    runtime_free(rt);
}
