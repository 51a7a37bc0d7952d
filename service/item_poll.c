/* SPDX-License-Identifier: MIT */
/* poll.items: reads DDI's changed items from the cursor and writes them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "item_map.h"
#include "item_poll.h"
#include "item_sync.h"
#include "job_items.h"
#include "jsonio.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "orderstate.h"
#include "scheduler.h"

#define ITEMS_PAGE_LIMIT 200      /* records per list call (the most) */
#define ITEMS_SLICE_MS 60000      /* a poll job's run before it hands on */
#define ITEMS_RECHECK_BATCH 500   /* product numbers per recheck round */
#define ITEMS_RECHECK_ROUNDS 100  /* rounds per poll: 50,000 items */

/*
 * KEYS[1] the poll lock, KEYS[2] the poll hash. ARGV[1] token, ARGV[2]
 * ms. Takes the lock (1), or, when another run holds it, asks that run
 * to read once more before it lets go (0): no request is lost and no
 * job waits in a loop for the lock.
 */
static const struct store_script items_poll_take_script = {
    "items_poll_take",
    "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then\n"
    "  redis.call('HDEL', KEYS[2], 'again')\n"
    "  return 1\n"
    "end\n"
    "redis.call('HSET', KEYS[2], 'again', '1')\n"
    "return 0\n",
};

/*
 * The same keys. ARGV[1] token, ARGV[2] ms, ARGV[3] "try" or "force".
 * "try" keeps the lock (1) when a read was asked for meanwhile, else
 * releases it (0); "force" releases it. -1: the lock was lost.
 */
static const struct store_script items_poll_give_script = {
    "items_poll_give",
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end\n"
    "if ARGV[3] == 'try' and redis.call('HGET', KEYS[2], 'again') then\n"
    "  redis.call('HDEL', KEYS[2], 'again')\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "  return 1\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "return 0\n",
};

static int64_t items_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Redis's clock in Unix ms: the one clock that every replica shares. */
static enum scb_err items_redis_ms(struct store *st, int64_t *out_ms)
{
    redisReply *r = NULL;
    enum scb_err err = store_cmd(st, &r, "TIME");

    if (!err && (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                 r->element[0]->type != REDIS_REPLY_STRING ||
                 r->element[1]->type != REDIS_REPLY_STRING))
        err = SCB_ESTORECMD;
    if (!err)
        *out_ms = strtoll(r->element[0]->str, NULL, 10) * 1000 +
                  strtoll(r->element[1]->str, NULL, 10) / 1000;
    if (r)
        freeReplyObject(r);
    return err;
}

/*
 * What the settings that shape the writes look like; when they change,
 * every item is read and planned again (unchanged ones cost no call).
 */
static void items_fingerprint(const struct config *cfg, char out[24])
{
    char text[1024];
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    snprintf(text, sizeof(text), "%u|%" PRId64 "|%" PRId64 "|%s|%s|%s|%d|%"
             PRId64 "|%s", cfg->sync_fields, cfg->stock_buffer,
             cfg->sc_warehouse_id, cfg->ddi_warehouse, cfg->sc_uom_column,
             cfg->sc_image_column, cfg->sc_create_products,
             cfg->sc_product_company_id,
             cfg->sc_default_product_type ? cfg->sc_default_product_type
                                          : "");
    for (const char *p = text; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
    }
    snprintf(out, 24, "%016" PRIx64, h);
}

/* One run of a poll.items job. */
struct poll {
    struct jobs *j;
    struct queue_job *job;
    struct store *st;
    struct jobs_thread *t;
    const char *jid;
    char lock[ITEM_SYNC_KEY_MAX]; /* lock:items:poll */
    char hash[ITEM_SYNC_KEY_MAX]; /* poll:items:default */
    char token[ITEM_SYNC_TOKEN_SIZE];
    char lock_ms[24];
    char fp[24];                /* items_fingerprint() */
    char cursor[DDI_CURSOR_MAX + 1];
    bool has_cursor;
    bool full_done;             /* the first full read has ended */
    int64_t started_ms;         /* Unix ms, this run */
    int64_t pass_ms;            /* Unix ms, this pass */
    int64_t mono_start, mono_renew;
    int64_t stamp;              /* Redis ms before the page's read */
    int64_t pages, records, written, unchanged, passed, errors, found;
    int64_t calls;
    int64_t defer_ms;           /* > 0: an item failed; run again then */
};

static void poll_renew(struct poll *p)
{
    int64_t now = items_mono_ms();

    if (now - p->mono_renew < p->j->cfg->job_lease_s * 1000 / 3)
        return;
    p->mono_renew = now;
    (void)queue_job_renew(p->job); /* a lost lease shows at the finish */
    item_sync_lock_keep(p->st, p->lock, p->token, p->lock_ms);
}

static void poll_count(struct poll *p, const struct item_sync *x,
                       bool changed, bool hinted)
{
    p->calls += x->calls;
    if (strcmp(x->status, "written") == 0)
        p->written++;
    else if (strcmp(x->status, "error") == 0)
        p->errors++;
    else if (strcmp(x->status, "unchanged") == 0)
        p->unchanged++;
    else
        p->passed++;
    /* New or changed with no hint; the first full read does not count. */
    if (changed && !hinted && (x->s.ddi || p->full_done))
        p->found++;
}

/*
 * Writes a new or changed record and records the outcome; the item's
 * lock is held. QUEUE_DONE once it is handled.
 */
static enum queue_outcome poll_write(struct poll *p, struct item_sync *x,
                                     const char *text, bool changed)
{
    enum queue_outcome out;
    bool hinted = false;
    enum scb_err err;

    x->as_of = p->stamp;
    err = item_sync_run(x);
    if (err && !item_sync_give_up(x, err)) {
        out = item_sync_again(x, err);
        /*
         * The item's tries, not the poll job's attempts, bound this: a
         * new run after the backoff, so that failures spread over many
         * items never dead-letter the poll.
         */
        if (out == QUEUE_RETRY && x->tries > 0)
            p->defer_ms = queue_backoff_ms(p->j->cfg, x->tries,
                                           (uint32_t)items_mono_ms());
        return out;
    }
    err = item_sync_commit(x, text, p->stamp, p->fp, &hinted);
    /* Past the cursor, the item is tried again by a job of its own. */
    if (!err && x->gave_up)
        err = job_items_enqueue_sync(p->st, &x->pno, 1, "recheck");
    if (err)
        return item_sync_store_fail(p->job, p->st, err);
    poll_count(p, x, changed, hinted);
    return QUEUE_DONE;
}

/*
 * One record of the warehouse. QUEUE_DONE once it is handled; else the
 * page stops here and the job waits or retries.
 */
static enum queue_outcome poll_item(struct poll *p, const struct ddi_item *it,
                                    const char *text)
{
    struct item_sync x;
    enum queue_outcome out = QUEUE_DONE;
    bool changed;
    enum scb_err err;

    item_sync_init(&x, p->j, p->job, p->t, it->product_no);
    err = item_sync_open(&x);
    if (err == SCB_ECONFLICT)
        return item_sync_busy(&x);
    if (err)
        return item_sync_store_fail(p->job, p->st, err);
    changed = !x.s.ddi || strcmp(x.s.ddi, text) != 0;
    if (!changed && x.s.fp && strcmp(x.s.fp, p->fp) == 0) {
        p->unchanged++; /* this version was handled already */
    } else {
        x.item = it;
        out = poll_write(p, &x, text, changed);
    }
    /* poll_count() counted the calls of a handled record. */
    p->calls += out == QUEUE_DONE ? 0 : x.calls;
    item_sync_close(&x);
    item_sync_release(&x);
    return out;
}

/* One record of a page. */
static enum queue_outcome poll_record(struct poll *p, const cJSON *obj,
                                      const struct ddi_item *it)
{
    const char *wh = p->j->cfg->ddi_warehouse;
    enum queue_outcome out;
    char *text;

    p->records++;
    if (!it->product_no) {
        log_warn(ITEM_SYNC_LOG, "item record unreadable",
                 LOG_STR("job", p->jid),
                 LOG_STR("problem", it->problem ? it->problem : ""));
        p->errors++;
        return QUEUE_DONE;
    }
    if (it->warehouse && strcmp(it->warehouse, wh) != 0) {
        p->passed++;
        return QUEUE_DONE;
    }
    text = obj ? jsonio_print(obj) : NULL;
    if (!text) {
        queue_job_set_error(p->job, "out of memory printing a record");
        return QUEUE_RETRY;
    }
    out = poll_item(p, it, text);
    mem_free(text);
    return out;
}

static enum queue_outcome poll_page(struct poll *p,
                                    const struct ddi_item_page *page)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(page->root, "items");
    const cJSON *obj = arr ? arr->child : NULL;
    enum queue_outcome out = QUEUE_DONE;

    for (size_t i = 0; out == QUEUE_DONE && i < page->n; i++) {
        out = poll_record(p, obj, &page->items[i]);
        obj = obj ? obj->next : NULL;
        poll_renew(p);
    }
    return out;
}

/* The page is handled: the cursor moves past it. */
static enum scb_err poll_advance(struct poll *p, const char *next, bool end)
{
    const char *argv[12] = { "HSET", p->hash, "cursor", next, "fp", p->fp };
    char stamp[24], now[24];
    redisReply *r = NULL;
    int argc = 6;
    enum scb_err err;

    snprintf(stamp, sizeof(stamp), "%" PRId64, p->stamp);
    snprintf(now, sizeof(now), "%" PRId64, orderstate_now_ms());
    if (end) {
        argv[argc++] = "caught_up_at";
        argv[argc++] = stamp;
    }
    if (end && !p->full_done) {
        argv[argc++] = "full_sync_at";
        argv[argc++] = now;
    }
    err = store_cmd_argv(p->st, &r, argc, argv, NULL);
    if (r)
        freeReplyObject(r);
    if (!err) {
        snprintf(p->cursor, sizeof(p->cursor), "%s", next);
        p->has_cursor = true;
    }
    return err;
}

/*
 * Reads the cursor. A change of the write settings starts a full read
 * (records then compare unequal and are planned again).
 */
static enum scb_err poll_cursor(struct poll *p)
{
    redisReply *r = NULL;
    const char *cur, *fp;
    enum scb_err err;

    err = store_cmd(p->st, &r, "HMGET %s cursor full_sync_at fp", p->hash);
    if (!err && (r->type != REDIS_REPLY_ARRAY || r->elements != 3))
        err = SCB_ESTORECMD;
    if (!err) {
        cur = item_sync_reply_str(r, 0);
        fp = item_sync_reply_str(r, 2);
        p->full_done = item_sync_reply_str(r, 1) != NULL;
        p->has_cursor = cur && *cur && fp && strcmp(fp, p->fp) == 0 &&
                        strlen(cur) <= DDI_CURSOR_MAX;
        if (p->has_cursor)
            snprintf(p->cursor, sizeof(p->cursor), "%s", cur);
    }
    if (r)
        freeReplyObject(r);
    return err;
}

static enum queue_outcome poll_ddi_fail(struct poll *p, enum scb_err err,
                                        const struct ddi_error *e)
{
    redisReply *r = NULL;
    enum queue_outcome out;

    ddi_client_log_failure(p->t->ddi, ITEM_SYNC_LOG, p->jid);
    if (err == SCB_EPERMANENT && p->has_cursor) {
        /* A cursor the gateway did not hand out: read everything again. */
        log_error(ITEM_SYNC_LOG, "item cursor refused, full read follows",
                  LOG_STR("job", p->jid), LOG_INT("status", e->status));
        if (store_cmd(p->st, &r, "HDEL %s cursor", p->hash) == SCB_OK)
            freeReplyObject(r);
        queue_job_set_error(p->job, "DDI refused the item cursor (%ld)",
                            e->status);
        return QUEUE_RETRY;
    }
    out = jobs_outcome(p->job, err, e->wait_ms, "DDI list items");
    if (out == QUEUE_DEAD)
        queue_job_set_reason(p->job, "DDI_VALIDATION: list items answered "
                             "%ld: %s", e->status, e->detail);
    return out;
}

/*
 * Reads pages from the cursor until DDI has no more (*out_end) or the
 * run's time is up. QUEUE_DONE unless a page had to stop.
 */
static enum queue_outcome poll_pass(struct poll *p, bool *out_end)
{
    struct ddi_item_page *page = NULL;
    struct ddi_error e;
    enum queue_outcome out;
    bool more = true;
    enum scb_err err;

    *out_end = false;
    p->pass_ms = orderstate_now_ms();
    err = poll_cursor(p);
    while (!err && more) {
        err = items_redis_ms(p->st, &p->stamp);
        if (err)
            break;
        memset(&e, 0, sizeof(e));
        err = ddi_list_items(p->t->ddi, p->has_cursor ? p->cursor : NULL,
                             NULL, ITEMS_PAGE_LIMIT, &page, &e);
        if (err)
            return poll_ddi_fail(p, err, &e);
        p->pages++;
        out = poll_page(p, page);
        more = page->more;
        if (out == QUEUE_DONE)
            err = poll_advance(p, page->next_cursor, !more);
        ddi_item_page_free(page);
        if (out != QUEUE_DONE)
            return out;
        if (!err && more &&
            items_mono_ms() - p->mono_start >= ITEMS_SLICE_MS)
            return QUEUE_DONE;
    }
    if (err)
        return item_sync_store_fail(p->job, p->st, err);
    *out_end = true;
    return QUEUE_DONE;
}

/* Product numbers to write again now that every record is current. */
static enum scb_err poll_rechecks(struct poll *p)
{
    char key[ITEM_SYNC_KEY_MAX];
    redisReply *r = NULL, *d = NULL;
    const char **argv = NULL;
    enum scb_err err = item_sync_key(p->st, key, "items:recheck", NULL);

    for (int round = 0; !err && round < ITEMS_RECHECK_ROUNDS; round++) {
        err = store_cmd(p->st, &r, "SRANDMEMBER %s %d", key,
                        ITEMS_RECHECK_BATCH);
        if (!err && (r->type != REDIS_REPLY_ARRAY || r->elements == 0))
            break;
        argv = err ? NULL : mem_calloc(r->elements + 2, sizeof(*argv));
        if (!err && !argv)
            err = SCB_ENOMEM;
        for (size_t i = 0; !err && i < r->elements; i++)
            argv[i + 2] = r->element[i]->str;
        if (!err)
            err = job_items_enqueue_sync(p->st, argv + 2, r->elements,
                                         "recheck");
        if (!err) {
            argv[0] = "SREM";
            argv[1] = key;
            err = store_cmd_argv(p->st, &d, (int)r->elements + 2, argv,
                                 NULL);
        }
        if (d)
            freeReplyObject(d);
        d = NULL;
        mem_free(argv);
        argv = NULL;
        freeReplyObject(r);
        r = NULL;
    }
    if (r)
        freeReplyObject(r);
    return err;
}

/* After a pass that reached the end: stale hints go, rechecks run. */
static enum scb_err poll_caught_up(struct poll *p)
{
    char key[ITEM_SYNC_KEY_MAX];
    redisReply *r = NULL;
    enum scb_err err = item_sync_key(p->st, key, "items:hints", NULL);

    /* A hint older than this pass was for a record already handled. */
    if (!err)
        err = store_cmd(p->st, &r, "ZREMRANGEBYSCORE %s -inf (%" PRId64,
                        key, p->pass_ms);
    if (r)
        freeReplyObject(r);
    if (!err)
        err = poll_rechecks(p);
    p->full_done = true;
    return err;
}

static int poll_give(struct poll *p, const char *mode)
{
    const char *argv[5] = { p->lock, p->hash, p->token, p->lock_ms, mode };
    redisReply *r = NULL;
    int res = -1;

    if (store_eval(p->st, &items_poll_give_script, &r, 2, 5, argv, NULL) ==
            SCB_OK &&
        r->type == REDIS_REPLY_INTEGER)
        res = (int)r->integer;
    if (r)
        freeReplyObject(r);
    return res;
}

/*
 * After the locked passes: a later run for items that failed, or a new
 * job for the rest of a run whose time is up.
 */
static enum queue_outcome poll_hand_on(struct poll *p,
                                       enum queue_outcome out, bool end)
{
    int64_t at = orderstate_now_ms() + p->defer_ms;
    enum scb_err err;

    if (p->defer_ms > 0) {
        err = job_items_enqueue_poll_at(p->st, at);
        if (!err && p->j->pool)
            worker_pool_kick(p->j->pool, p->defer_ms);
        return err ? item_sync_store_fail(p->job, p->st, err) : QUEUE_DONE;
    }
    err = out == QUEUE_DONE && !end ? job_items_enqueue_poll(p->st)
                                    : SCB_OK;
    return err ? item_sync_store_fail(p->job, p->st, err) : out;
}

/*
 * Passes until nothing more was asked for; the lock is held and given
 * up here. A run whose time is up hands the rest on to a new job.
 */
static enum queue_outcome poll_locked(struct poll *p)
{
    enum queue_outcome out;
    bool end = false;
    enum scb_err err;

    for (;;) {
        out = poll_pass(p, &end);
        if (out != QUEUE_DONE || !end)
            break;
        err = poll_caught_up(p);
        if (err) {
            out = item_sync_store_fail(p->job, p->st, err);
            break;
        }
        if (poll_give(p, "try") != 1)
            return QUEUE_DONE; /* released, nothing asked for meanwhile */
        if (items_mono_ms() - p->mono_start >= ITEMS_SLICE_MS) {
            end = false;
            break;
        }
    }
    (void)poll_give(p, "force");
    return poll_hand_on(p, out, end);
}

static enum scb_err poll_take(struct poll *p, bool *out_taken)
{
    const char *argv[4] = { p->lock, p->hash, p->token, p->lock_ms };
    redisReply *r = NULL;
    enum scb_err err;

    err = item_sync_key(p->st, p->lock, "lock:items:poll", NULL);
    if (!err)
        err = item_sync_key(p->st, p->hash, "poll:", JOB_ITEMS_POLL_ID);
    if (!err)
        err = item_sync_token(p->token);
    if (!err)
        err = store_eval(p->st, &items_poll_take_script, &r, 2, 4, argv,
                         NULL);
    if (!err)
        *out_taken = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    if (r)
        freeReplyObject(r);
    return err;
}

static void poll_report(struct poll *p, enum queue_outcome out)
{
    bool ok = out == QUEUE_DONE && p->defer_ms == 0;
    redisReply *r = NULL;

    /*
     * The report is for operators; a failed write loses only that. The
     * scheduler turns last_ok_at into
     * scbridge_poll_last_success_timestamp_seconds at each scrape.
     */
    (void)sched_poll_report(p->st, JOB_ITEMS_POLL_ID, p->started_ms,
                            ok ? NULL : queue_job_error(p->job));
    if (store_cmd(p->st, &r, "HSET %s interval_s %" PRId64, p->hash,
                  p->j->cfg->poll_items_s) == SCB_OK)
        freeReplyObject(r);
    if (p->found)
        metrics_inc(ITEM_POLL_FOUND_METRIC, "kind=\"item\"", (double)p->found);
    log_info(ITEM_SYNC_LOG, "item poll run", LOG_STR("job", p->jid),
             LOG_INT("pages", p->pages), LOG_INT("records", p->records),
             LOG_INT("written", p->written),
             LOG_INT("unchanged", p->unchanged),
             LOG_INT("passed", p->passed), LOG_INT("errors", p->errors),
             LOG_INT("found", p->found), LOG_INT("sc_calls", p->calls),
             LOG_BOOL("ok", ok));
}

enum queue_outcome item_poll_run(struct queue_job *job, void *ctx)
{
    struct poll p;
    enum queue_outcome out;
    bool taken = false;
    enum scb_err err;

    memset(&p, 0, sizeof(p));
    p.j = ctx;
    p.job = job;
    p.st = queue_job_store(job);
    p.jid = queue_job_id(job);
    p.started_ms = orderstate_now_ms();
    p.mono_start = p.mono_renew = items_mono_ms();
    snprintf(p.lock_ms, sizeof(p.lock_ms), "%" PRId64,
             item_sync_lock_ms(p.j->cfg));
    items_fingerprint(p.j->cfg, p.fp);
    p.t = jobs_thread_get(p.j, job);
    if (!p.t) {
        queue_job_set_error(job, "out of memory making API clients");
        return QUEUE_RETRY;
    }
    err = poll_take(&p, &taken);
    if (err)
        return item_sync_store_fail(job, p.st, err);
    if (!taken)
        return QUEUE_DONE; /* the running poll reads once more for us */
    out = poll_locked(&p);
    poll_report(&p, out);
    return out;
}
