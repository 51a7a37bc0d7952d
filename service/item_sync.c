/* SPDX-License-Identifier: MIT */
/* One item's write to Sellercloud and the record of its outcome. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "item_map.h"
#include "item_sync.h"
#include "log.h"
#include "metrics.h"
#include "orderstate.h"
#include "reserve.h"

#define ITEMS_BUSY_WAIT_MS 1000 /* an item another worker holds */
#define ITEMS_CALLS_MAX 5       /* Sellercloud calls one item can take */

/* The writes of a plan, in the order they are sent. */
enum items_step {
    STEP_CREATE = 1u << 0,
    STEP_QTY = 1u << 1,
    STEP_BASIC = 1u << 2,
    STEP_COLUMNS = 1u << 3,
};

static const unsigned items_steps[] = {
    STEP_CREATE, STEP_QTY, STEP_BASIC, STEP_COLUMNS,
};

/* KEYS[1] a lock. ARGV[1] its token, ARGV[2] "" to release, else ms. */
static const struct store_script items_lock_script = {
    "items_lock",
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
    "if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end\n"
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2])\n",
};

/*
 * Records the outcome of one item. KEYS: item hash, items:errors,
 * items:recheck, items:hints. ARGV: product no, status, written record
 * ("": keep), exists ("1", "0": gone, "": keep), error ("": none), DDI
 * record ("": keep), read_at, recheck ("1"), now, fingerprint. Answers
 * 1 when a stored record was replaced and a webhook had announced it.
 */
static const struct store_script items_commit_script = {
    "items_commit",
    "redis.call('HSET', KEYS[1], 'status', ARGV[2], 'synced_at', ARGV[9])\n"
    "redis.call('HDEL', KEYS[1], 'tries')\n"
    "if ARGV[3] ~= '' then\n"
    "  redis.call('HSET', KEYS[1], 'written', ARGV[3])\n"
    "  redis.call('HDEL', KEYS[1], 'pend', 'done')\n"
    "end\n"
    "if ARGV[4] == '1' then\n"
    "  redis.call('HSET', KEYS[1], 'exists', '1')\n"
    "elseif ARGV[4] == '0' then\n"
    "  redis.call('HDEL', KEYS[1], 'exists', 'written', 'pend', 'done')\n"
    "end\n"
    "if ARGV[5] ~= '' then\n"
    "  redis.call('HSET', KEYS[1], 'error', ARGV[5])\n"
    "  redis.call('HSET', KEYS[2], ARGV[1], ARGV[5])\n"
    "else\n"
    "  redis.call('HDEL', KEYS[1], 'error')\n"
    "  redis.call('HDEL', KEYS[2], ARGV[1])\n"
    "end\n"
    "if ARGV[8] == '1' then redis.call('SADD', KEYS[3], ARGV[1]) end\n"
    "if ARGV[6] == '' then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'ddi', ARGV[6], 'read_at', ARGV[7],\n"
    "           'fp', ARGV[10])\n"
    "return redis.call('ZREM', KEYS[4], ARGV[1])\n",
};

/* ---- helpers the item jobs share ------------------------------------ */

enum scb_err item_sync_key(struct store *st, char out[ITEM_SYNC_KEY_MAX],
                           const char *name, const char *id)
{
    struct buf b;
    enum scb_err err;

    buf_init(&b, ITEM_SYNC_KEY_MAX - 1);
    err = store_key(st, &b, "%s%s", name, id ? id : "");
    if (!err)
        memcpy(out, b.data, b.len + 1);
    buf_release(&b);
    return err;
}

enum scb_err item_sync_token(char out[ITEM_SYNC_TOKEN_SIZE])
{
    unsigned char raw[16];

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return SCB_EIO;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return SCB_OK;
}

int64_t item_sync_lock_ms(const struct config *cfg)
{
    int64_t call_ms = cfg->sc_timeout_s * 1000 + SC_DEFAULT_BLOCK_MS;

    return ITEMS_CALLS_MAX * call_ms + cfg->job_lease_s * 1000;
}

static enum scb_err isync_lock(struct store *st, const char *key,
                               int64_t ms, char token[ITEM_SYNC_TOKEN_SIZE])
{
    redisReply *r = NULL;
    enum scb_err err = item_sync_token(token);

    if (!err)
        err = store_cmd(st, &r, "SET %s %s NX PX %" PRId64, key, token, ms);
    if (!err && r->type == REDIS_REPLY_NIL)
        err = SCB_ECONFLICT;
    if (r)
        freeReplyObject(r);
    return err;
}

void item_sync_lock_keep(struct store *st, const char *key,
                         const char *token, const char *ms)
{
    const char *argv[3] = { key, token, ms ? ms : "" };
    redisReply *r = NULL;

    /* A lock that cannot be released expires on its own. */
    if (store_eval(st, &items_lock_script, &r, 1, 3, argv, NULL) == SCB_OK)
        freeReplyObject(r);
}

const char *item_sync_reply_str(const redisReply *r, size_t i)
{
    const redisReply *e = r->element[i];

    return e->type == REDIS_REPLY_STRING ? e->str : NULL;
}

enum queue_outcome item_sync_store_fail(struct queue_job *job,
                                        struct store *st, enum scb_err err)
{
    queue_job_set_error(job, "redis: %s: %s", scb_strerror(err),
                        store_errstr(st));
    return QUEUE_RETRY;
}

/* ---- the item's lock and state --------------------------------------- */

static enum scb_err isync_load(struct store *st, const char *key,
                               struct item_sync_state *out)
{
    redisReply *r = NULL;
    const char *v;
    enum scb_err err;

    memset(out, 0, sizeof(*out));
    err = store_cmd(st, &r, "HMGET %s ddi read_at fp written exists pend "
                    "done", key);
    if (!err && (r->type != REDIS_REPLY_ARRAY || r->elements != 7))
        err = SCB_ESTORECMD;
    if (err) {
        if (r)
            freeReplyObject(r);
        return err;
    }
    out->r = r;
    out->ddi = item_sync_reply_str(r, 0);
    v = item_sync_reply_str(r, 1);
    out->read_at = v ? strtoll(v, NULL, 10) : 0;
    out->fp = item_sync_reply_str(r, 2);
    out->written = item_sync_reply_str(r, 3);
    v = item_sync_reply_str(r, 4);
    out->exists = out->written || (v && strcmp(v, "1") == 0);
    out->pend = item_sync_reply_str(r, 5);
    v = item_sync_reply_str(r, 6);
    out->done = v ? (unsigned)strtoul(v, NULL, 10) : 0;
    return SCB_OK;
}

static void isync_state_release(struct item_sync_state *s)
{
    if (s->r)
        freeReplyObject(s->r);
    memset(s, 0, sizeof(*s));
}

void item_sync_init(struct item_sync *x, struct jobs *j,
                    struct queue_job *job, struct jobs_thread *t,
                    const char *pno)
{
    memset(x, 0, sizeof(*x));
    x->j = j;
    x->job = job;
    x->st = queue_job_store(job);
    x->t = t;
    x->jid = queue_job_id(job);
    x->pno = pno;
    x->exists = "";
}

void item_sync_release(struct item_sync *x)
{
    isync_state_release(&x->s);
    if (x->record)
        cJSON_free(x->record);
    x->record = NULL;
}

enum scb_err item_sync_open(struct item_sync *x)
{
    enum scb_err err = item_sync_key(x->st, x->key, "item:", x->pno);
    char lock[ITEM_SYNC_KEY_MAX];

    if (!err)
        err = item_sync_key(x->st, lock, "lock:item:", x->pno);
    if (!err)
        err = isync_lock(x->st, lock, item_sync_lock_ms(x->j->cfg),
                         x->token);
    if (err)
        return err;
    err = isync_load(x->st, x->key, &x->s);
    if (err) {
        item_sync_lock_keep(x->st, lock, x->token, NULL);
        x->token[0] = '\0';
    }
    return err;
}

enum queue_outcome item_sync_busy(struct item_sync *x)
{
    queue_job_set_error(x->job, "item %s is being written", x->pno);
    queue_job_set_wait(x->job, ITEMS_BUSY_WAIT_MS);
    return QUEUE_WAIT;
}

void item_sync_close(struct item_sync *x)
{
    char lock[ITEM_SYNC_KEY_MAX];

    if (x->token[0] && item_sync_key(x->st, lock, "lock:item:", x->pno) == 0)
        item_sync_lock_keep(x->st, lock, x->token, NULL);
    x->token[0] = '\0';
}

/* ---- writing one item ------------------------------------------------ */

/* The item cannot be written: recorded for it alone, never retried. */
static void isync_error(struct item_sync *x, const char *code,
                        const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void isync_error(struct item_sync *x, const char *code,
                        const char *fmt, ...)
{
    char text[ITEM_SYNC_REASON_MAX - 32], labels[64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    snprintf(x->error, sizeof(x->error), "%s: %s", code, text);
    x->status = "error";
    log_warn(ITEM_SYNC_LOG, "item needs attention", LOG_STR("job", x->jid),
             LOG_STR("product_no", x->pno), LOG_STR("reason", x->error));
    snprintf(labels, sizeof(labels), "reason=\"%s\"", code);
    metrics_inc(ITEM_SYNC_ERR_METRIC, labels, 1);
}

/* A Sellercloud refusal of this item's call: an error of the item. */
static void isync_rejected(struct item_sync *x, enum scb_err err)
{
    const struct upstream_response *last = sc_client_last(x->t->sc);

    sc_client_log_failure(x->t->sc, ITEM_SYNC_LOG, x->jid);
    isync_error(x, "SC_REJECTED", "%s answered %ld (%s)%s%.256s", x->what,
                last ? last->status : 0L, scb_strerror(err),
                last && last->excerpt[0] ? ": " : "",
                last ? last->excerpt : "");
    /* Read the catalog again next time: the product may be gone. */
    x->exists = "0";
}

static bool isync_permanent(enum scb_err err)
{
    return upstream_class_of(err) == UPSTREAM_CLASS_PERMANENT;
}

static enum scb_err isync_exists(struct item_sync *x, bool *out_exists)
{
    cJSON *found = NULL;
    enum scb_err err;

    if (x->s.exists) {
        *out_exists = true;
        return SCB_OK;
    }
    x->what = "GET /api/Catalog";
    x->calls++;
    err = sc_catalog_get(x->t->sc, x->pno, &found);
    cJSON_Delete(found);
    if (err == SCB_ENOTFOUND) {
        *out_exists = false;
        return SCB_OK;
    }
    if (!err) {
        x->exists = "1";
        *out_exists = true;
    }
    return err;
}

static unsigned isync_plan_steps(const struct item_map_plan *p)
{
    return (p->create ? STEP_CREATE : 0) | (p->set_qty ? STEP_QTY : 0) |
           (p->basic ? STEP_BASIC : 0) | (p->n_columns ? STEP_COLUMNS : 0);
}

static enum scb_err isync_step(struct item_sync *x,
                               const struct item_map_plan *p, unsigned step)
{
    struct sc_client *c = x->t->sc;

    x->calls++;
    switch (step) {
    case STEP_CREATE:
        x->what = "POST /api/Products";
        return sc_product_create(c, &p->product);
    case STEP_QTY:
        x->what = "PUT /api/Inventory/SetPhysicalInventory";
        return sc_inventory_set_physical(c, x->pno, p->warehouse_id, p->qty);
    case STEP_BASIC:
        x->what = "PUT /api/Catalog/BasicInfo";
        return sc_product_basic_info(c, &p->basic_info);
    default:
        x->what = "PUT /api/Products/CustomColumns";
        return sc_product_custom_columns(c, x->pno, p->columns,
                                         p->n_columns);
    }
}

/* Keeps the steps sent so far, so the next run sends only the rest. */
static enum scb_err isync_progress(struct item_sync *x, const char *record,
                                   unsigned done)
{
    redisReply *r = NULL;
    enum scb_err err;

    err = store_cmd(x->st, &r, "HSET %s pend %s done %u exists %s", x->key,
                    record, done, x->s.exists || x->exists[0] == '1'
                                      ? "1"
                                      : "0");
    if (r)
        freeReplyObject(r);
    return err;
}

/*
 * Sends the plan's writes: create, stock, basic info, custom columns.
 * Steps of an interrupted run for the same target are not sent again.
 */
static enum scb_err isync_write(struct item_sync *x, struct item_map_plan *p)
{
    unsigned need = isync_plan_steps(p), done = 0, before;
    enum scb_err err = SCB_OK;

    if (x->s.pend && strcmp(x->s.pend, p->record) == 0)
        done = x->s.done & need;
    before = done;
    for (size_t i = 0; !err && i < sizeof(items_steps) / sizeof(unsigned);
         i++) {
        unsigned step = items_steps[i];

        if (!(need & step) || (done & step))
            continue;
        err = isync_step(x, p, step);
        if (!err)
            done |= step;
        if (!err && step == STEP_CREATE)
            x->exists = "1";
    }
    if (!err) {
        x->status = "written";
        x->record = p->record;
        p->record = NULL;
        return SCB_OK;
    }
    if (isync_permanent(err)) {
        isync_rejected(x, err);
        return SCB_OK;
    }
    if (done != before && isync_progress(x, p->record, done))
        log_warn(ITEM_SYNC_LOG, "progress not stored",
                 LOG_STR("job", x->jid), LOG_STR("product_no", x->pno));
    return err;
}

static enum scb_err isync_plan(struct item_sync *x, bool exists, int64_t qty)
{
    struct item_map_input in = { x->item, exists, qty, x->s.written };
    struct item_map_plan plan;
    char why[ITEM_SYNC_REASON_MAX - 64];
    enum scb_err err;

    memset(&plan, 0, sizeof(plan));
    why[0] = '\0';
    err = item_map_plan(x->j->cfg, &in, &plan, why, sizeof(why));
    if (err == SCB_EINVAL) {
        isync_error(x, "ITEM_INVALID", "%s", why);
        return SCB_OK;
    }
    if (err)
        return err;
    switch (plan.outcome) {
    case ITEM_MAP_NO_PRODUCT:
        x->status = "no_product";
        break;
    case ITEM_MAP_UNCHANGED:
        x->status = "unchanged";
        x->record = plan.record;
        plan.record = NULL;
        break;
    default:
        err = isync_write(x, &plan);
        break;
    }
    /*
     * The good fields are written; the bad one is the item's error. A
     * refusal of a write (already an error) says more.
     */
    if (!err && plan.invalid && strcmp(x->status, "error") != 0)
        isync_error(x, "ITEM_INVALID", "%s", why);
    item_map_plan_release(&plan);
    return err;
}

enum scb_err item_sync_run(struct item_sync *x)
{
    const struct ddi_item *it = x->item;
    int64_t qty = 0;
    bool exists = false;
    enum scb_err err;

    if (!it->valid) {
        isync_error(x, "ITEM_INVALID", "record: %s", it->problem);
        return SCB_OK;
    }
    if (item_map_filter(x->j->cfg, it) != ITEM_MAP_KEEP) {
        x->status = "not_web";
        return SCB_OK;
    }
    err = reserve_qty_as_of(x->st, x->pno, x->as_of, &qty, &x->recheck);
    if (err)
        return err;
    err = isync_exists(x, &exists);
    if (err && isync_permanent(err)) {
        isync_rejected(x, err);
        return SCB_OK;
    }
    return err ? err : isync_plan(x, exists, qty);
}

/* The class of a failed item_sync_run() for the queue. */
static bool isync_store_err(enum scb_err err)
{
    return err == SCB_ESTORE || err == SCB_ESTORECMD || err == SCB_ENOMEM;
}

/*
 * A Sellercloud call for this item failed in a way a retry may fix. The
 * item's own count of tries, not a job's attempts, decides, so that it
 * cannot hold the poll's cursor for ever.
 */
bool item_sync_give_up(struct item_sync *x, enum scb_err err)
{
    redisReply *r = NULL;
    long long tries = 0;

    if (err == SCB_EWAIT || err == SCB_EAUTH || isync_store_err(err))
        return false;
    if (store_cmd(x->st, &r, "HINCRBY %s tries 1", x->key) == SCB_OK &&
        r->type == REDIS_REPLY_INTEGER)
        tries = r->integer;
    if (r)
        freeReplyObject(r);
    x->tries = (int)(tries < INT32_MAX ? tries : INT32_MAX);
    if (tries < x->j->cfg->job_max_attempts)
        return false;
    sc_client_log_failure(x->t->sc, ITEM_SYNC_LOG, x->jid);
    isync_error(x, "SC_FAILED", "%s failed %lld times (%s)",
                x->what ? x->what : "sellercloud", tries,
                scb_strerror(err));
    x->gave_up = true;
    return true;
}

enum queue_outcome item_sync_again(struct item_sync *x, enum scb_err err)
{
    if (isync_store_err(err)) {
        queue_job_set_error(x->job, "redis: %s: %s", scb_strerror(err),
                            store_errstr(x->st));
        return QUEUE_RETRY;
    }
    if (err != SCB_EWAIT)
        sc_client_log_failure(x->t->sc, ITEM_SYNC_LOG, x->jid);
    return jobs_outcome(x->job, err, sc_client_wait_ms(x->t->sc),
                        x->what ? x->what : "sellercloud");
}

enum scb_err item_sync_commit(struct item_sync *x, const char *ddi,
                              int64_t read_at, const char *fp,
                              bool *out_hinted)
{
    char k[4][ITEM_SYNC_KEY_MAX], at[24], now[24];
    const char *argv[14];
    redisReply *r = NULL;
    enum scb_err err;

    if (!x->status)
        return SCB_EINVAL; /* nothing was decided: nothing to record */
    snprintf(at, sizeof(at), "%" PRId64, read_at);
    snprintf(now, sizeof(now), "%" PRId64, orderstate_now_ms());
    memcpy(k[0], x->key, sizeof(k[0]));
    err = item_sync_key(x->st, k[1], "items:errors", NULL);
    if (!err)
        err = item_sync_key(x->st, k[2], "items:recheck", NULL);
    if (!err)
        err = item_sync_key(x->st, k[3], "items:hints", NULL);
    if (err)
        return err;
    for (int i = 0; i < 4; i++)
        argv[i] = k[i];
    argv[4] = x->pno;
    argv[5] = x->status;
    argv[6] = x->record ? x->record : "";
    argv[7] = x->exists;
    argv[8] = x->error;
    argv[9] = ddi ? ddi : "";
    argv[10] = at;
    argv[11] = x->recheck ? "1" : "0";
    argv[12] = now;
    argv[13] = fp ? fp : "";
    err = store_eval(x->st, &items_commit_script, &r, 4, 14, argv, NULL);
    if (!err && out_hinted)
        *out_hinted = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    if (r)
        freeReplyObject(r);
    return err;
}
