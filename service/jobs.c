/* SPDX-License-Identifier: MIT */
/* What the job handlers share: clients per thread, start time, outcomes. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "job_items.h"
#include "job_tracking.h"
#include "jobs.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "orderstate.h"
#include "upstream.h"

static void jobs_thread_free(void *p)
{
    struct jobs_thread *t = p;

    if (!t)
        return;
    sc_client_free(t->sc);
    ddi_client_free(t->ddi);
    mem_free(t);
}

struct jobs *jobs_new(const struct config *cfg)
{
    struct jobs *j = mem_calloc(1, sizeof(*j));

    if (!j)
        return NULL;
    j->cfg = cfg;
    j->sc = sc_session_new(cfg);
    j->gate = ddi_gate_new(cfg->ddi_concurrency);
    if (!j->sc || !j->gate ||
        pthread_key_create(&j->tls, jobs_thread_free) != 0) {
        sc_session_free(j->sc);
        ddi_gate_free(j->gate);
        mem_free(j);
        return NULL;
    }
    atomic_init(&j->cutover_ms,
                cfg->has_import_since ? cfg->import_since_ms : 0);
    atomic_init(&j->shipments_since_ms,
                cfg->has_shipments_since ? cfg->shipments_since_ms : 0);
    metrics_describe("scbridge_reconcile_found_total", METRICS_COUNTER,
                     "What a poll found that no webhook announced.");
    return j;
}

void jobs_free(struct jobs *j)
{
    if (!j)
        return;
    /* Worker threads have ended: their clients went with them. */
    pthread_key_delete(j->tls);
    sc_session_free(j->sc);
    ddi_gate_free(j->gate);
    mem_free(j);
}

enum scb_err jobs_start_time(struct jobs *j, struct store *st)
{
    struct buf key;
    redisReply *r = NULL;
    char now[24];
    int64_t first = 0;
    enum scb_err err;

    if (atomic_load(&j->cutover_ms) && atomic_load(&j->shipments_since_ms))
        return SCB_OK;
    buf_init(&key, 256);
    snprintf(now, sizeof(now), "%" PRId64, orderstate_now_ms());
    err = store_key(st, &key, "first_start");
    /* SET NX with GET needs Redis 7: two commands serve 6.2 too. */
    if (!err)
        err = store_cmd(st, &r, "SET %s %s NX", key.data, now);
    if (r)
        freeReplyObject(r);
    r = NULL;
    if (!err)
        err = store_cmd(st, &r, "GET %s", key.data);
    if (!err && r->type != REDIS_REPLY_STRING)
        err = SCB_ESTORECMD;
    if (!err)
        first = strtoll(r->str, NULL, 10);
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    if (err)
        return err;
    /* Every thread reads the same recorded time: racing is harmless. */
    if (!j->cfg->has_import_since)
        atomic_store(&j->cutover_ms, first);
    if (!j->cfg->has_shipments_since)
        atomic_store(&j->shipments_since_ms, first);
    return SCB_OK;
}

struct jobs_thread *jobs_thread_get(struct jobs *j, struct queue_job *job)
{
    struct jobs_thread *t = pthread_getspecific(j->tls);

    if (t)
        return t;
    t = mem_calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->sc = sc_client_new(j->cfg, j->sc, queue_job_store(job));
    t->ddi = ddi_client_new(j->cfg, j->gate);
    if (!t->sc || !t->ddi || pthread_setspecific(j->tls, t) != 0) {
        jobs_thread_free(t);
        return NULL;
    }
    return t;
}

enum queue_outcome jobs_outcome(struct queue_job *job, enum scb_err err,
                                int64_t wait_ms, const char *what)
{
    switch (upstream_class_of(err)) {
    case UPSTREAM_CLASS_OK:
        return QUEUE_DONE;
    case UPSTREAM_CLASS_WAIT:
        queue_job_set_error(job, "%s: %s", what, scb_strerror(err));
        queue_job_set_wait(job, wait_ms);
        return QUEUE_WAIT;
    case UPSTREAM_CLASS_TRANSIENT:
    case UPSTREAM_CLASS_UNKNOWN:
        queue_job_set_error(job, "%s: %s", what, scb_strerror(err));
        return QUEUE_RETRY;
    case UPSTREAM_CLASS_PERMANENT:
        queue_job_set_error(job, "%s: %s", what, scb_strerror(err));
        return QUEUE_DEAD;
    }
    return QUEUE_RETRY;
}

enum scb_err jobs_enqueue_import(struct store *st, int64_t company_id,
                                 int64_t order_id, const char *source,
                                 int64_t accepted_ms, int64_t run_at_ms)
{
    char key[48], payload[160];
    struct queue_new_job nj;
    enum queue_added added;

    snprintf(key, sizeof(key), "order:%" PRId64, order_id);
    snprintf(payload, sizeof(payload),
             "{\"v\":1,\"company_id\":%" PRId64 ",\"order_id\":%" PRId64
             ",\"source\":\"%s\"}",
             company_id, order_id, source);
    /*
     * A replay may fold into a job already waiting for the order, whose
     * payload does not say "replay": the order's record carries the
     * request until a job has run it.
     */
    if (strcmp(source, "replay") == 0) {
        enum scb_err err = orderstate_touch(st, order_id, "replay", "1");

        if (err)
            return err;
    }
    nj.type = "order.import";
    nj.key = key;
    nj.payload = payload;
    nj.accepted_ms = accepted_ms;
    nj.run_at_ms = run_at_ms;
    return queue_enqueue(st, &nj, &added);
}

enum scb_err jobs_register(struct jobs *j, struct worker_pool *wp)
{
    enum scb_err err;

    j->pool = wp;
    err = worker_pool_register(wp, "order.import", job_import_run, j);
    if (!err)
        err = worker_pool_register(wp, "orders.export", job_export_run, j);
    if (!err)
        err = worker_pool_register(wp, "poll.orders", job_poll_orders_run,
                                   j);
    if (!err)
        err = job_items_register(j, wp);
    if (!err)
        err = job_tracking_register(j, wp);
    return err;
}
