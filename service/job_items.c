/* SPDX-License-Identifier: MIT */
/* The SKU sync's jobs: enqueueing them, and the item.sync handler. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item_poll.h"
#include "item_sync.h"
#include "job_items.h"
#include "jsonio.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "orderstate.h"

#define ITEMS_SYNC_TYPE "item.sync"
#define ITEMS_POLL_TYPE "poll.items"
/* Reservation changes of one SKU folded into one stock write, ms. */
#define ITEMS_RESERVE_DEBOUNCE_MS 5000

/* ---- enqueueing ------------------------------------------------------ */

enum scb_err job_items_enqueue_poll_at(struct store *st, int64_t run_at_ms)
{
    struct queue_new_job nj = {
        ITEMS_POLL_TYPE, JOB_ITEMS_POLL_ID,
        "{\"v\":1,\"poll\":\"" JOB_ITEMS_POLL_ID "\"}", 0, run_at_ms,
    };
    enum queue_added added;

    return queue_enqueue(st, &nj, &added);
}

enum scb_err job_items_enqueue_poll(struct store *st)
{
    return job_items_enqueue_poll_at(st, 0);
}

enum scb_err job_items_sched_enqueue(struct store *st, void *ctx)
{
    (void)ctx;
    return job_items_enqueue_poll(st);
}

/* Appends one job's key and payload, NUL-terminated, to 'text'. */
static enum scb_err items_job_text(struct buf *text, const char *pno,
                                   const char *source, size_t *key_off,
                                   size_t *pl_off)
{
    enum scb_err err;

    *key_off = text->len;
    err = buf_printf(text, "item:%s", pno);
    if (!err)
        err = buf_append(text, "", 1);
    *pl_off = text->len;
    if (!err)
        err = buf_puts(text, "{\"v\":1,\"product_no\":");
    if (!err)
        err = buf_put_json_str(text, pno);
    if (!err)
        err = buf_puts(text, ",\"source\":");
    if (!err)
        err = buf_put_json_str(text, source);
    if (!err)
        err = buf_puts(text, "}");
    return err ? err : buf_append(text, "", 1);
}

static enum scb_err items_enqueue_chunk(struct store *st,
                                        const char *const *pnos, size_t n,
                                        const char *source)
{
    struct queue_new_job *jobs = mem_calloc(n, sizeof(*jobs));
    size_t *off = mem_calloc(2 * n, sizeof(*off));
    struct buf text;
    size_t m = 0, len;
    int64_t now = orderstate_now_ms();
    bool dup = false;
    enum scb_err err = jobs && off ? SCB_OK : SCB_ENOMEM;

    buf_init(&text, n * 1024);
    for (size_t i = 0; !err && i < n; i++) {
        len = strlen(pnos[i]);
        if (len == 0 || len > DDI_PRODUCT_NO_MAX)
            continue;
        err = items_job_text(&text, pnos[i], source, &off[2 * m],
                             &off[2 * m + 1]);
        m++;
    }
    for (size_t i = 0; !err && i < m; i++) {
        jobs[i].type = ITEMS_SYNC_TYPE;
        jobs[i].key = text.data + off[2 * i];
        jobs[i].payload = text.data + off[2 * i + 1];
        /*
         * A burst of imports changes a SKU's reservation many times a
         * second: waiting a little folds them into one stock write.
         */
        if (strcmp(source, "reserve") == 0)
            jobs[i].run_at_ms = now + ITEMS_RESERVE_DEBOUNCE_MS;
    }
    if (!err && m > 0)
        err = queue_enqueue_batch(st, jobs, m, NULL, 0, &dup, NULL);
    buf_release(&text);
    mem_free(off);
    mem_free(jobs);
    return err;
}

enum scb_err job_items_enqueue_sync(struct store *st,
                                    const char *const *pnos, size_t n,
                                    const char *source)
{
    enum scb_err err = SCB_OK;

    for (size_t at = 0; !err && at < n; at += QUEUE_BATCH_MAX) {
        size_t k = n - at < QUEUE_BATCH_MAX ? n - at : QUEUE_BATCH_MAX;

        err = items_enqueue_chunk(st, pnos + at, k, source);
    }
    return err;
}

/* ---- item.sync ------------------------------------------------------- */

/* A webhook hint: note it, and have the poll read the new record. */
static enum queue_outcome sync_hint(struct queue_job *job, const char *pno)
{
    struct store *st = queue_job_store(job);
    char key[ITEM_SYNC_KEY_MAX];
    redisReply *r = NULL;
    enum scb_err err;

    err = item_sync_key(st, key, "items:hints", NULL);
    if (!err)
        err = store_cmd(st, &r, "ZADD %s %" PRId64 " %s", key,
                        orderstate_now_ms(), pno);
    if (r)
        freeReplyObject(r);
    if (!err)
        err = job_items_enqueue_poll(st);
    return err ? item_sync_store_fail(job, st, err) : QUEUE_DONE;
}

/* The record's "as of": its own read, or the last complete poll. */
static enum scb_err sync_as_of(struct item_sync *x, int64_t *out_ms)
{
    char key[ITEM_SYNC_KEY_MAX];
    redisReply *r = NULL;
    int64_t caught = 0;
    enum scb_err err = item_sync_key(x->st, key, "poll:", JOB_ITEMS_POLL_ID);

    if (!err)
        err = store_cmd(x->st, &r, "HGET %s caught_up_at", key);
    if (!err && r->type == REDIS_REPLY_STRING)
        caught = strtoll(r->str, NULL, 10);
    if (r)
        freeReplyObject(r);
    if (!err)
        *out_ms = caught > x->s.read_at ? caught : x->s.read_at;
    return err;
}

/* Writes the item from its stored record; the lock is held. */
static enum queue_outcome sync_stored(struct item_sync *x)
{
    const struct ddi_item *it = &x->stored;
    cJSON *root = NULL;
    enum queue_outcome out = QUEUE_DONE;
    enum scb_err err;

    err = jsonio_parse(x->s.ddi, strlen(x->s.ddi),
                       (size_t)x->j->cfg->upstream_max_bytes, &root);
    if (err == SCB_ENOMEM)
        return item_sync_store_fail(x->job, x->st, err);
    ddi_item_read(err ? NULL : root, &x->stored);
    x->item = it;
    err = sync_as_of(x, &x->as_of);
    if (!err && it->valid && it->warehouse &&
        strcmp(it->warehouse, x->j->cfg->ddi_warehouse) != 0)
        x->status = "not_web"; /* the warehouse setting changed */
    else if (!err)
        err = item_sync_run(x);
    if (err && !item_sync_give_up(x, err)) {
        out = item_sync_again(x, err);
        goto out;
    }
    err = item_sync_commit(x, NULL, 0, NULL, NULL);
    if (!err && x->recheck)
        err = job_items_enqueue_poll(x->st);
    if (err)
        out = item_sync_store_fail(x->job, x->st, err);

out:
    /* The record's strings live in 'root'. */
    x->item = NULL;
    memset(&x->stored, 0, sizeof(x->stored));
    cJSON_Delete(root);
    return out;
}

static enum queue_outcome sync_one(struct jobs *j, struct queue_job *job,
                                   struct jobs_thread *t, const char *pno)
{
    struct item_sync x;
    enum queue_outcome out;
    enum scb_err err;

    item_sync_init(&x, j, job, t, pno);
    err = item_sync_open(&x);
    if (err == SCB_ECONFLICT)
        return item_sync_busy(&x);
    if (err)
        return item_sync_store_fail(job, x.st, err);
    if (!x.s.ddi) {
        /* Not read from DDI yet: the poll writes it once it reads it. */
        err = job_items_enqueue_poll(x.st);
        out = err ? item_sync_store_fail(job, x.st, err) : QUEUE_DONE;
    } else {
        out = sync_stored(&x);
    }
    if (out == QUEUE_DONE && x.status)
        log_debug(ITEM_SYNC_LOG, "item synced", LOG_STR("job", x.jid),
                  LOG_STR("product_no", pno), LOG_STR("status", x.status),
                  LOG_INT("sc_calls", x.calls));
    item_sync_close(&x);
    item_sync_release(&x);
    return out;
}

enum queue_outcome job_items_sync_run(struct queue_job *job, void *ctx)
{
    const cJSON *p = queue_job_json(job);
    const char *pno = p ? jsonio_str_or(p, "product_no", NULL) : NULL;
    const char *src = p ? jsonio_str_or(p, "source", "") : "";
    struct jobs_thread *t;

    if (!pno || !*pno || strlen(pno) > DDI_PRODUCT_NO_MAX) {
        queue_job_set_reason(job, "BAD_JOB: item.sync payload");
        return QUEUE_DEAD;
    }
    if (strcmp(src, "webhook") == 0)
        return sync_hint(job, pno);
    t = jobs_thread_get(ctx, job);
    if (!t) {
        queue_job_set_error(job, "out of memory making API clients");
        return QUEUE_RETRY;
    }
    return sync_one(ctx, job, t, pno);
}

/* ---- registration ---------------------------------------------------- */

enum scb_err job_items_register(struct jobs *j, struct worker_pool *wp)
{
    enum scb_err err;

    metrics_describe(ITEM_POLL_FOUND_METRIC, METRICS_COUNTER,
                     "What a poll found that no webhook announced.");
    metrics_describe(ITEM_SYNC_ERR_METRIC, METRICS_COUNTER,
                     "Item errors recorded by the SKU sync, by reason.");
    err = worker_pool_register(wp, ITEMS_SYNC_TYPE, job_items_sync_run, j);
    if (!err)
        err = worker_pool_register(wp, ITEMS_POLL_TYPE, item_poll_run, j);
    return err;
}
