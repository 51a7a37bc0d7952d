/* SPDX-License-Identifier: MIT */
/* poll.orders: finds the orders no notification announced. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jobs.h"
#include "jsonio.h"
#include "log.h"
#include "metrics.h"
#include "order_snap.h"
#include "orderstate.h"
#include "scheduler.h"

#define POLL_ID_MAX 128

struct poll_run {
    struct jobs *j;
    struct queue_job *job;
    struct store *st;
    struct jobs_thread *t;
    char id[POLL_ID_MAX];
    int64_t company;
    int channels[2];
    int nchannels;
    int64_t max_ms;             /* largest LastUpdated seen */
    char max_raw[SC_TIME_RAW_MAX];
    int64_t found;              /* orders no notification brought */
    int64_t queued;
};

static enum scb_err poll_cursor_read(struct poll_run *p, int64_t *out_ms)
{
    struct buf key;
    redisReply *r = NULL;
    enum scb_err err;

    buf_init(&key, 512);
    err = store_key(p->st, &key, "poll:%s", p->id);
    if (!err)
        err = store_cmd(p->st, &r, "HMGET %s cursor_ms cursor", key.data);
    if (!err && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        *out_ms = strtoll(r->element[0]->str, NULL, 10);
        if (r->element[1]->type == REDIS_REPLY_STRING)
            snprintf(p->max_raw, sizeof(p->max_raw), "%s",
                     r->element[1]->str);
    } else if (!err) {
        *out_ms = 0;
    }
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}

static enum scb_err poll_cursor_write(struct poll_run *p)
{
    struct buf key;
    redisReply *r = NULL;
    enum scb_err err;

    buf_init(&key, 512);
    err = store_key(p->st, &key, "poll:%s", p->id);
    if (!err)
        err = store_cmd(p->st, &r, "HSET %s cursor_ms %" PRId64 " cursor %s",
                        key.data, p->max_ms, p->max_raw);
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}

/* One order of a page: handled already, or snapshot and job. */
static enum scb_err poll_one(struct poll_run *p, const struct sc_order *o,
                             int64_t read_ms)
{
    struct order_rec rec;
    int64_t announced = 0;
    enum scb_err err = orderstate_get(p->st, o->id, &rec);

    if (!err && strcmp(rec.sc_last_updated, o->last_updated.raw) == 0)
        return SCB_OK; /* this version was handled */
    if (err && err != SCB_ENOTFOUND)
        return err;
    err = order_snap_pending_at(p->st, o->company_id, o->id, &announced);
    if (!err && announced == 0)
        p->found++; /* no notification is on its way for it */
    if (!err)
        err = order_snap_put(p->st, o, read_ms);
    if (!err)
        err = jobs_enqueue_import(p->st, o->company_id, o->id, "poll",
                                  read_ms, 0);
    if (!err)
        p->queued++;
    return err;
}

static enum queue_outcome poll_pages(struct poll_run *p, int channel,
                                     int64_t from_ms)
{
    struct sc_order_page page;
    int64_t read_ms;
    bool last = false;
    enum scb_err err = SCB_OK;

    for (int64_t n = 1; !last; n++) {
        memset(&page, 0, sizeof(page));
        read_ms = orderstate_now_ms();
        err = sc_orders_updated(p->t->sc, p->company, from_ms, channel, n,
                                &page);
        if (err) {
            sc_client_log_failure(p->t->sc, "poll", queue_job_id(p->job));
            return jobs_outcome(p->job, err, sc_client_wait_ms(p->t->sc),
                                "sellercloud order poll");
        }
        for (size_t i = 0; !err && i < page.n_orders; i++) {
            const struct sc_order *o = &page.orders[i];

            err = poll_one(p, o, read_ms);
            if (!err && o->last_updated.ms > p->max_ms) {
                p->max_ms = o->last_updated.ms;
                snprintf(p->max_raw, sizeof(p->max_raw), "%s",
                         o->last_updated.raw);
            }
        }
        last = sc_order_page_is_last(&page, n, SC_PAGE_SIZE);
        sc_order_page_release(&page);
        if (err) {
            queue_job_set_error(p->job, "redis: %s", scb_strerror(err));
            return QUEUE_RETRY;
        }
        (void)queue_job_renew(p->job); /* a lost lease shows at finish */
    }
    return QUEUE_DONE;
}

static enum queue_outcome poll_run_all(struct poll_run *p)
{
    const struct config *cfg = p->j->cfg;
    int64_t cursor = 0, from;
    enum queue_outcome out = QUEUE_DONE;
    enum scb_err err;

    err = poll_cursor_read(p, &cursor);
    if (err) {
        queue_job_set_error(p->job, "redis: %s", scb_strerror(err));
        return QUEUE_RETRY;
    }
    p->max_ms = cursor;
    from = cursor > 0 ? cursor - cfg->poll_overlap_s * 1000
                      : orderstate_now_ms() - cfg->orders_lookback_s * 1000;
    if (p->nchannels == 0)
        out = poll_pages(p, -1, from);
    for (int i = 0; out == QUEUE_DONE && i < p->nchannels; i++)
        out = poll_pages(p, p->channels[i], from);
    /* The cursor never moves back; it moves once every order is queued. */
    if (out == QUEUE_DONE && p->max_ms > cursor)
        err = poll_cursor_write(p);
    if (err) {
        queue_job_set_error(p->job, "redis: %s", scb_strerror(err));
        return QUEUE_RETRY;
    }
    return out;
}

static bool poll_parse(struct poll_run *p, const cJSON *pl)
{
    const char *id = jsonio_str_or(pl, "poll", NULL);
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(pl, "channels");
    const cJSON *c;

    if (!id || strlen(id) >= sizeof(p->id) ||
        jsonio_get_i64(pl, "company_id", 1, INT32_MAX, &p->company) ||
        !cJSON_IsArray(ch) || cJSON_GetArraySize(ch) > 2)
        return false;
    snprintf(p->id, sizeof(p->id), "%s", id);
    cJSON_ArrayForEach(c, ch)
    {
        if (!cJSON_IsNumber(c))
            return false;
        p->channels[p->nchannels++] = c->valueint;
    }
    return true;
}

/* The last-success gauge comes from the poll's hash (sched_collect()). */
static void poll_metrics(const struct poll_run *p)
{
    if (p->found)
        metrics_inc("scbridge_reconcile_found_total", "kind=\"order\"",
                    (double)p->found);
}

enum queue_outcome job_poll_orders_run(struct queue_job *job, void *ctx)
{
    struct poll_run p;
    const cJSON *pl = queue_job_json(job);
    int64_t started = orderstate_now_ms();
    enum queue_outcome out;

    memset(&p, 0, sizeof(p));
    p.j = ctx;
    p.job = job;
    p.st = queue_job_store(job);
    if (!pl || !poll_parse(&p, pl)) {
        queue_job_set_reason(job, "BAD_JOB: poll.orders payload");
        return QUEUE_DEAD;
    }
    p.t = jobs_thread_get(p.j, job);
    if (!p.t) {
        queue_job_set_error(job, "out of memory making API clients");
        return QUEUE_RETRY;
    }
    out = poll_run_all(&p);
    /* The report is for operators; a failed write loses only that. */
    (void)sched_poll_report(p.st, p.id, started,
                            out == QUEUE_DONE ? NULL
                                              : queue_job_last_error(job));
    if (out == QUEUE_DONE) {
        poll_metrics(&p);
        log_info("poll", "order poll done", LOG_STR("job", queue_job_id(job)),
                 LOG_STR("poll", p.id), LOG_INT("queued", p.queued),
                 LOG_INT("found", p.found));
    }
    return out;
}
