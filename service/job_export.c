/* SPDX-License-Identifier: MIT */
/* orders.export: marks imported orders exported, many ids per call. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jobs.h"
#include "log.h"
#include "orderstate.h"

#define EXPORT_DELAY_MS 2000  /* gathers a burst of imports into one call */
#define EXPORT_AGAIN_MS 30000 /* ids Sellercloud did not mark: try later */

static enum scb_err export_key(struct store *st, struct buf *key)
{
    return store_key(st, key, "export:pending");
}

static enum scb_err export_enqueue(struct store *st, int64_t run_at_ms)
{
    struct queue_new_job nj = {
        "orders.export", "export", "{\"v\":1}", 0, run_at_ms,
    };
    enum queue_added added;

    return queue_enqueue(st, &nj, &added);
}

enum scb_err job_export_add(struct store *st, int64_t order_id)
{
    struct buf key;
    redisReply *r = NULL;
    enum scb_err err;

    buf_init(&key, 256);
    err = export_key(st, &key);
    if (!err)
        err = store_cmd(st, &r, "SADD %s %" PRId64, key.data, order_id);
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    if (!err)
        err = export_enqueue(st, orderstate_now_ms() + EXPORT_DELAY_MS);
    return err;
}

static enum scb_err export_take(struct store *st, const char *key,
                                int64_t *ids, size_t *out_n)
{
    redisReply *r = NULL;
    size_t n = 0;
    enum scb_err err;

    err = store_cmd(st, &r, "SRANDMEMBER %s %d", key, SC_MAX_EXPORT);
    for (size_t i = 0; !err && i < r->elements; i++) {
        if (r->element[i]->type == REDIS_REPLY_STRING)
            ids[n++] = strtoll(r->element[i]->str, NULL, 10);
    }
    if (!err)
        *out_n = n;
    if (r)
        freeReplyObject(r);
    return err;
}

/* Records the marked ids; answers how many stay pending. */
static enum scb_err export_record(struct jobs *j, struct store *st,
                                  const char *key, const int64_t *marked,
                                  size_t n)
{
    redisReply *r = NULL;
    enum scb_err err = SCB_OK;

    /*
     * A history event and one field, never the state: another job may be
     * moving the order on at this very moment.
     */
    for (size_t i = 0; !err && i < n; i++) {
        err = orderstate_touch(st, marked[i], "exported", "1");
        if (!err)
            err = orderstate_event(st, j->cfg, marked[i], "exported",
                                   "marked exported in Sellercloud");
        if (!err)
            err = store_cmd(st, &r, "SREM %s %" PRId64, key, marked[i]);
        if (r)
            freeReplyObject(r);
        r = NULL;
    }
    return err;
}

enum queue_outcome job_export_run(struct queue_job *job, void *ctx)
{
    struct jobs *j = ctx;
    struct store *st = queue_job_store(job);
    struct jobs_thread *t = jobs_thread_get(j, job);
    int64_t ids[SC_MAX_EXPORT], marked[SC_MAX_EXPORT];
    size_t n = 0, nm = 0;
    struct buf key;
    enum queue_outcome out = QUEUE_DONE;
    enum scb_err err;

    if (!t) {
        queue_job_set_error(job, "out of memory making API clients");
        return QUEUE_RETRY;
    }
    buf_init(&key, 256);
    err = export_key(st, &key);
    if (!err)
        err = export_take(st, key.data, ids, &n);
    if (err || n == 0)
        goto out;
    err = sc_orders_set_exported(t->sc, ids, n, marked, &nm);
    if (err) {
        sc_client_log_failure(t->sc, "export", queue_job_id(job));
        out = jobs_outcome(job, err, sc_client_wait_ms(t->sc),
                           "sellercloud SetExported");
        if (out == QUEUE_DEAD)
            queue_job_set_reason(job, "SC_REJECTED: SetExported: %s",
                                 scb_strerror(err));
        err = SCB_OK;
        goto out;
    }
    err = export_record(j, st, key.data, marked, nm);
    if (!err && nm < n)
        log_warn("export", "sellercloud did not mark every order",
                 LOG_STR("job", queue_job_id(job)), LOG_INT("asked", n),
                 LOG_INT("marked", nm));
    if (!err && n == SC_MAX_EXPORT)
        err = export_enqueue(st, 0);
    else if (!err && nm < n)
        err = export_enqueue(st, orderstate_now_ms() + EXPORT_AGAIN_MS);

out:
    buf_release(&key);
    if (err) {
        queue_job_set_error(job, "redis: %s", scb_strerror(err));
        return QUEUE_RETRY;
    }
    return out;
}
