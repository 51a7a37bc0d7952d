/* SPDX-License-Identifier: MIT */
/* item.sync and poll.items: DDI items to Sellercloud products and stock. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "item_map.h"
#include "job_items.h"
#include "jsonio.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "orderstate.h"
#include "reserve.h"
#include "scheduler.h"

#define ITEMS_MOD "items"
#define ITEMS_SYNC_TYPE "item.sync"
#define ITEMS_POLL_TYPE "poll.items"
#define ITEMS_PAGE_LIMIT 200      /* records per list call (the most) */
#define ITEMS_SLICE_MS 60000      /* a poll job's run before it hands on */
#define ITEMS_BUSY_WAIT_MS 1000   /* an item or poll another worker holds */
#define ITEMS_RECHECK_BATCH 500   /* product numbers per recheck round */
#define ITEMS_RECHECK_ROUNDS 100  /* rounds per poll: 50,000 items */
#define ITEMS_KEY_MAX 256         /* one key: prefix, name, product no */
#define ITEMS_REASON_MAX 512      /* an item error, NUL included */
#define ITEMS_CALLS_MAX 5         /* Sellercloud calls one item can take */
#define ITEMS_ERR_METRIC "scbridge_item_errors_total"
#define ITEMS_FOUND_METRIC "scbridge_reconcile_found_total"

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

/* ---- small helpers --------------------------------------------------- */

static int64_t items_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "<prefix>v1:<name><id>" into 'out'. */
static enum scb_err items_key(struct store *st, char out[ITEMS_KEY_MAX],
                              const char *name, const char *id)
{
    struct buf b;
    enum scb_err err;

    buf_init(&b, ITEMS_KEY_MAX - 1);
    err = store_key(st, &b, "%s%s", name, id ? id : "");
    if (!err)
        memcpy(out, b.data, b.len + 1);
    buf_release(&b);
    return err;
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

static enum scb_err items_token(char out[33])
{
    unsigned char raw[16];

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return SCB_EIO;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return SCB_OK;
}

/* How long a lock may outlive a silent holder: an item's worst case. */
static int64_t items_lock_ms(const struct config *cfg)
{
    int64_t call_ms = cfg->sc_timeout_s * 1000 + SC_DEFAULT_BLOCK_MS;

    return ITEMS_CALLS_MAX * call_ms + cfg->job_lease_s * 1000;
}

static enum scb_err items_lock(struct store *st, const char *key,
                               int64_t ms, char token[33])
{
    redisReply *r = NULL;
    enum scb_err err = items_token(token);

    if (!err)
        err = store_cmd(st, &r, "SET %s %s NX PX %" PRId64, key, token, ms);
    if (!err && r->type == REDIS_REPLY_NIL)
        err = SCB_ECONFLICT;
    if (r)
        freeReplyObject(r);
    return err;
}

/* Releases ('ms' NULL) or extends a lock this holder still owns. */
static void items_lock_keep(struct store *st, const char *key,
                            const char *token, const char *ms)
{
    const char *argv[3] = { key, token, ms ? ms : "" };
    redisReply *r = NULL;

    /* A lock that cannot be released expires on its own. */
    if (store_eval(st, &items_lock_script, &r, 1, 3, argv, NULL) == SCB_OK)
        freeReplyObject(r);
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

/* ---- enqueueing ------------------------------------------------------ */

/* A poll.items job that may run from 'run_at_ms' (Unix ms; 0: now). */
static enum scb_err items_poll_enqueue(struct store *st, int64_t run_at_ms)
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
    return items_poll_enqueue(st, 0);
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

/* Reservation changes of one SKU folded into one stock write, ms. */
#define ITEMS_RESERVE_DEBOUNCE_MS 5000

static int64_t items_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum scb_err items_enqueue_chunk(struct store *st,
                                        const char *const *pnos, size_t n,
                                        const char *source)
{
    struct queue_new_job *jobs = mem_calloc(n, sizeof(*jobs));
    size_t *off = mem_calloc(2 * n, sizeof(*off));
    struct buf text;
    size_t m = 0, len;
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
            jobs[i].run_at_ms = items_now_ms() + ITEMS_RESERVE_DEBOUNCE_MS;
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

/* ---- one item's stored state ----------------------------------------- */

struct item_state {
    redisReply *r;       /* owns the strings below */
    const char *ddi;     /* the stored DDI record, or NULL */
    int64_t read_at;     /* Redis ms before the read that brought it */
    const char *fp;      /* settings fingerprint it was written under */
    const char *written; /* the last written record, or NULL */
    bool exists;         /* the product is known to exist */
    const char *pend;    /* target record of an interrupted write */
    unsigned done;       /* the steps of it that were sent */
};

static const char *items_field(const redisReply *r, size_t i)
{
    const redisReply *e = r->element[i];

    return e->type == REDIS_REPLY_STRING ? e->str : NULL;
}

static enum scb_err items_load(struct store *st, const char *key,
                               struct item_state *out)
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
    out->ddi = items_field(r, 0);
    v = items_field(r, 1);
    out->read_at = v ? strtoll(v, NULL, 10) : 0;
    out->fp = items_field(r, 2);
    out->written = items_field(r, 3);
    v = items_field(r, 4);
    out->exists = out->written || (v && strcmp(v, "1") == 0);
    out->pend = items_field(r, 5);
    v = items_field(r, 6);
    out->done = v ? (unsigned)strtoul(v, NULL, 10) : 0;
    return SCB_OK;
}

static void items_state_release(struct item_state *s)
{
    if (s->r)
        freeReplyObject(s->r);
    memset(s, 0, sizeof(*s));
}

/* ---- writing one item ------------------------------------------------ */

/* One item's write, from its DDI record to what is recorded. */
struct isync {
    struct jobs *j;
    struct queue_job *job;
    struct store *st;
    struct jobs_thread *t;
    const char *jid;
    const char *pno;
    char key[ITEMS_KEY_MAX];      /* item:<pno> */
    char token[33];               /* its lock */
    const struct ddi_item *item;
    struct ddi_item stored;       /* item.sync: read from the stored one */
    int64_t as_of;                /* Redis ms the record is current at */
    struct item_state s;
    const char *status;           /* the outcome, once handled */
    char error[ITEMS_REASON_MAX]; /* "" when none */
    const char *exists;           /* "1", "0" (gone) or "" (as it was) */
    char *record;                 /* owned: the new last-written record */
    bool recheck;                 /* a reservation newer than the record */
    bool gave_up;                 /* tried too often: an item error now */
    int tries;                    /* failed tries of the item so far */
    const char *what;             /* the call that failed */
    int calls;                    /* Sellercloud calls made */
};

static void isync_init(struct isync *x, struct jobs *j, struct queue_job *job,
                       struct jobs_thread *t, const char *pno)
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

static void isync_release(struct isync *x)
{
    items_state_release(&x->s);
    if (x->record)
        cJSON_free(x->record);
    x->record = NULL;
}

/* The item cannot be written: recorded for it alone, never retried. */
static void isync_error(struct isync *x, const char *code, const char *fmt,
                        ...) __attribute__((format(printf, 3, 4)));

static void isync_error(struct isync *x, const char *code, const char *fmt,
                        ...)
{
    char text[ITEMS_REASON_MAX - 32], labels[64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    snprintf(x->error, sizeof(x->error), "%s: %s", code, text);
    x->status = "error";
    log_warn(ITEMS_MOD, "item needs attention", LOG_STR("job", x->jid),
             LOG_STR("product_no", x->pno), LOG_STR("reason", x->error));
    snprintf(labels, sizeof(labels), "reason=\"%s\"", code);
    metrics_inc(ITEMS_ERR_METRIC, labels, 1);
}

/* A Sellercloud refusal of this item's call: an error of the item. */
static void isync_rejected(struct isync *x, enum scb_err err)
{
    const struct upstream_response *last = sc_client_last(x->t->sc);

    sc_client_log_failure(x->t->sc, ITEMS_MOD, x->jid);
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

static enum scb_err isync_exists(struct isync *x, bool *out_exists)
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

static enum scb_err isync_step(struct isync *x, const struct item_map_plan *p,
                               unsigned step)
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
static enum scb_err isync_progress(struct isync *x, const char *record,
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
static enum scb_err isync_write(struct isync *x, struct item_map_plan *p)
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
        log_warn(ITEMS_MOD, "progress not stored", LOG_STR("job", x->jid),
                 LOG_STR("product_no", x->pno));
    return err;
}

static enum scb_err isync_plan(struct isync *x, bool exists, int64_t qty)
{
    struct item_map_input in = { x->item, exists, qty, x->s.written };
    struct item_map_plan plan;
    char why[ITEMS_REASON_MAX - 64];
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
    item_map_plan_release(&plan);
    return err;
}

/*
 * Handles one item from x->item (current at x->as_of). SCB_OK: x->status
 * says what happened, to be committed. Otherwise the item must be tried
 * again: SCB_EWAIT (sc_client_wait_ms()), a transient Sellercloud error
 * (x->what names the call), or a Redis error.
 */
static enum scb_err isync_run(struct isync *x)
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

/* The class of a failed isync_run() for the queue. */
static bool isync_store_err(enum scb_err err)
{
    return err == SCB_ESTORE || err == SCB_ESTORECMD || err == SCB_ENOMEM;
}

/*
 * A Sellercloud call for this item failed in a way a retry may fix.
 * After SCBRIDGE_JOB_MAX_ATTEMPTS tries of the item it becomes an error
 * of the item (true), so it cannot hold the poll's cursor for ever.
 * Waits, Redis trouble and refused credentials concern every item alike
 * and never count against one.
 */
static bool isync_give_up(struct isync *x, enum scb_err err)
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
    sc_client_log_failure(x->t->sc, ITEMS_MOD, x->jid);
    isync_error(x, "SC_FAILED", "%s failed %lld times (%s)",
                x->what ? x->what : "sellercloud", tries,
                scb_strerror(err));
    x->gave_up = true;
    return true;
}

/* The queue outcome of an item that must be tried again. */
static enum queue_outcome isync_again(struct isync *x, enum scb_err err)
{
    if (isync_store_err(err)) {
        queue_job_set_error(x->job, "redis: %s: %s", scb_strerror(err),
                            store_errstr(x->st));
        return QUEUE_RETRY;
    }
    if (err != SCB_EWAIT)
        sc_client_log_failure(x->t->sc, ITEMS_MOD, x->jid);
    return jobs_outcome(x->job, err, sc_client_wait_ms(x->t->sc),
                        x->what ? x->what : "sellercloud");
}

/* Records the outcome; 'ddi' (may be NULL) becomes the stored record. */
static enum scb_err isync_commit(struct isync *x, const char *ddi,
                                 int64_t read_at, const char *fp,
                                 bool *out_hinted)
{
    char k[4][ITEMS_KEY_MAX], at[24], now[24];
    const char *argv[14];
    redisReply *r = NULL;
    enum scb_err err;

    if (!x->status)
        return SCB_EINVAL; /* nothing was decided: nothing to record */
    snprintf(at, sizeof(at), "%" PRId64, read_at);
    snprintf(now, sizeof(now), "%" PRId64, orderstate_now_ms());
    memcpy(k[0], x->key, sizeof(k[0]));
    err = items_key(x->st, k[1], "items:errors", NULL);
    if (!err)
        err = items_key(x->st, k[2], "items:recheck", NULL);
    if (!err)
        err = items_key(x->st, k[3], "items:hints", NULL);
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

/* Takes the item's lock and reads its state. */
static enum scb_err isync_open(struct isync *x)
{
    enum scb_err err = items_key(x->st, x->key, "item:", x->pno);
    char lock[ITEMS_KEY_MAX];

    if (!err)
        err = items_key(x->st, lock, "lock:item:", x->pno);
    if (!err)
        err = items_lock(x->st, lock, items_lock_ms(x->j->cfg), x->token);
    if (err)
        return err;
    err = items_load(x->st, x->key, &x->s);
    if (err) {
        items_lock_keep(x->st, lock, x->token, NULL);
        x->token[0] = '\0';
    }
    return err;
}

static void isync_close(struct isync *x)
{
    char lock[ITEMS_KEY_MAX];

    if (x->token[0] && items_key(x->st, lock, "lock:item:", x->pno) == 0)
        items_lock_keep(x->st, lock, x->token, NULL);
    x->token[0] = '\0';
}

/* ---- item.sync -------------------------------------------------------- */

static enum queue_outcome items_store_fail(struct queue_job *job,
                                           struct store *st,
                                           enum scb_err err)
{
    queue_job_set_error(job, "redis: %s: %s", scb_strerror(err),
                        store_errstr(st));
    return QUEUE_RETRY;
}

/* A webhook hint: note it, and have the poll read the new record. */
static enum queue_outcome sync_hint(struct queue_job *job, const char *pno)
{
    struct store *st = queue_job_store(job);
    char key[ITEMS_KEY_MAX];
    redisReply *r = NULL;
    enum scb_err err;

    err = items_key(st, key, "items:hints", NULL);
    if (!err)
        err = store_cmd(st, &r, "ZADD %s %" PRId64 " %s", key,
                        orderstate_now_ms(), pno);
    if (r)
        freeReplyObject(r);
    if (!err)
        err = job_items_enqueue_poll(st);
    return err ? items_store_fail(job, st, err) : QUEUE_DONE;
}

/* The record's "as of": its own read, or the last complete poll. */
static enum scb_err sync_as_of(struct isync *x, int64_t *out_ms)
{
    char key[ITEMS_KEY_MAX];
    redisReply *r = NULL;
    int64_t caught = 0;
    enum scb_err err = items_key(x->st, key, "poll:", JOB_ITEMS_POLL_ID);

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
static enum queue_outcome sync_stored(struct isync *x)
{
    const struct ddi_item *it = &x->stored;
    cJSON *root = NULL;
    enum queue_outcome out = QUEUE_DONE;
    enum scb_err err;

    err = jsonio_parse(x->s.ddi, strlen(x->s.ddi),
                       (size_t)x->j->cfg->upstream_max_bytes, &root);
    if (err == SCB_ENOMEM)
        return items_store_fail(x->job, x->st, err);
    ddi_item_read(err ? NULL : root, &x->stored);
    x->item = it;
    err = sync_as_of(x, &x->as_of);
    if (!err && it->valid && it->warehouse &&
        strcmp(it->warehouse, x->j->cfg->ddi_warehouse) != 0)
        x->status = "not_web"; /* the warehouse setting changed */
    else if (!err)
        err = isync_run(x);
    if (err && !isync_give_up(x, err)) {
        out = isync_again(x, err);
        goto out;
    }
    err = isync_commit(x, NULL, 0, NULL, NULL);
    if (!err && x->recheck)
        err = job_items_enqueue_poll(x->st);
    if (err)
        out = items_store_fail(x->job, x->st, err);

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
    struct isync x;
    enum queue_outcome out;
    enum scb_err err;

    isync_init(&x, j, job, t, pno);
    err = isync_open(&x);
    if (err == SCB_ECONFLICT) {
        queue_job_set_error(job, "item %s is being written", pno);
        queue_job_set_wait(job, ITEMS_BUSY_WAIT_MS);
        return QUEUE_WAIT;
    }
    if (err)
        return items_store_fail(job, x.st, err);
    if (!x.s.ddi) {
        /* Not read from DDI yet: the poll writes it once it reads it. */
        err = job_items_enqueue_poll(x.st);
        out = err ? items_store_fail(job, x.st, err) : QUEUE_DONE;
    } else {
        out = sync_stored(&x);
    }
    if (out == QUEUE_DONE && x.status)
        log_debug(ITEMS_MOD, "item synced", LOG_STR("job", x.jid),
                  LOG_STR("product_no", pno), LOG_STR("status", x.status),
                  LOG_INT("sc_calls", x.calls));
    isync_close(&x);
    isync_release(&x);
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

/* ---- poll.items ------------------------------------------------------- */

struct poll {
    struct jobs *j;
    struct queue_job *job;
    struct store *st;
    struct jobs_thread *t;
    const char *jid;
    char lock[ITEMS_KEY_MAX];   /* lock:items:poll */
    char hash[ITEMS_KEY_MAX];   /* poll:items:default */
    char token[33];
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
    items_lock_keep(p->st, p->lock, p->token, p->lock_ms);
}

static void poll_count(struct poll *p, const struct isync *x, bool changed,
                       bool hinted)
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
 * One record of the warehouse. QUEUE_DONE once it is handled; else the
 * page stops here and the job waits or retries.
 */
static enum queue_outcome poll_item(struct poll *p, const struct ddi_item *it,
                                    const char *text)
{
    struct isync x;
    bool hinted = false, changed;
    enum queue_outcome out = QUEUE_DONE;
    enum scb_err err;

    isync_init(&x, p->j, p->job, p->t, it->product_no);
    err = isync_open(&x);
    if (err == SCB_ECONFLICT) {
        queue_job_set_error(p->job, "item %s is being written", x.pno);
        queue_job_set_wait(p->job, ITEMS_BUSY_WAIT_MS);
        return QUEUE_WAIT;
    }
    if (err)
        return items_store_fail(p->job, p->st, err);
    changed = !x.s.ddi || strcmp(x.s.ddi, text) != 0;
    if (!changed && x.s.fp && strcmp(x.s.fp, p->fp) == 0) {
        p->unchanged++; /* this version was handled already */
        goto out;
    }
    x.item = it;
    x.as_of = p->stamp;
    err = isync_run(&x);
    if (err && !isync_give_up(&x, err)) {
        out = isync_again(&x, err);
        /*
         * The item's tries, not the poll job's attempts, bound this: a
         * new run after the backoff, so that failures spread over many
         * items never dead-letter the poll.
         */
        if (out == QUEUE_RETRY && x.tries > 0)
            p->defer_ms = queue_backoff_ms(p->j->cfg, x.tries,
                                           (uint32_t)items_mono_ms());
        goto out;
    }
    err = isync_commit(&x, text, p->stamp, p->fp, &hinted);
    /* Past the cursor, the item is tried again by a job of its own. */
    if (!err && x.gave_up)
        err = job_items_enqueue_sync(p->st, &x.pno, 1, "recheck");
    if (err)
        out = items_store_fail(p->job, p->st, err);
    else
        poll_count(p, &x, changed, hinted);

out:
    p->calls += out == QUEUE_DONE ? 0 : x.calls;
    isync_close(&x);
    isync_release(&x);
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
        log_warn(ITEMS_MOD, "item record unreadable", LOG_STR("job", p->jid),
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
        cur = items_field(r, 0);
        fp = items_field(r, 2);
        p->full_done = items_field(r, 1) != NULL;
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

    ddi_client_log_failure(p->t->ddi, ITEMS_MOD, p->jid);
    if (err == SCB_EPERMANENT && p->has_cursor) {
        /* A cursor the gateway did not hand out: read everything again. */
        log_error(ITEMS_MOD, "item cursor refused, full read follows",
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
        return items_store_fail(p->job, p->st, err);
    *out_end = true;
    return QUEUE_DONE;
}

/* Product numbers to write again now that every record is current. */
static enum scb_err poll_rechecks(struct poll *p)
{
    char key[ITEMS_KEY_MAX];
    redisReply *r = NULL, *d = NULL;
    const char **argv = NULL;
    enum scb_err err = items_key(p->st, key, "items:recheck", NULL);

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
    char key[ITEMS_KEY_MAX];
    redisReply *r = NULL;
    enum scb_err err = items_key(p->st, key, "items:hints", NULL);

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
            out = items_store_fail(p->job, p->st, err);
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
    if (p->defer_ms > 0) {
        err = items_poll_enqueue(p->st, orderstate_now_ms() + p->defer_ms);
        if (!err && p->j->pool)
            worker_pool_kick(p->j->pool, p->defer_ms);
        return err ? items_store_fail(p->job, p->st, err) : QUEUE_DONE;
    }
    err = out == QUEUE_DONE && !end ? job_items_enqueue_poll(p->st)
                                    : SCB_OK;
    return err ? items_store_fail(p->job, p->st, err) : out;
}

static enum scb_err poll_take(struct poll *p, bool *out_taken)
{
    const char *argv[4] = { p->lock, p->hash, p->token, p->lock_ms };
    redisReply *r = NULL;
    enum scb_err err;

    err = items_key(p->st, p->lock, "lock:items:poll", NULL);
    if (!err)
        err = items_key(p->st, p->hash, "poll:", JOB_ITEMS_POLL_ID);
    if (!err)
        err = items_token(p->token);
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
        metrics_inc(ITEMS_FOUND_METRIC, "kind=\"item\"", (double)p->found);
    log_info(ITEMS_MOD, "item poll run", LOG_STR("job", p->jid),
             LOG_INT("pages", p->pages), LOG_INT("records", p->records),
             LOG_INT("written", p->written),
             LOG_INT("unchanged", p->unchanged),
             LOG_INT("passed", p->passed), LOG_INT("errors", p->errors),
             LOG_INT("found", p->found), LOG_INT("sc_calls", p->calls),
             LOG_BOOL("ok", ok));
}

enum queue_outcome job_items_poll_run(struct queue_job *job, void *ctx)
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
             items_lock_ms(p.j->cfg));
    items_fingerprint(p.j->cfg, p.fp);
    p.t = jobs_thread_get(p.j, job);
    if (!p.t) {
        queue_job_set_error(job, "out of memory making API clients");
        return QUEUE_RETRY;
    }
    err = poll_take(&p, &taken);
    if (err)
        return items_store_fail(job, p.st, err);
    if (!taken)
        return QUEUE_DONE; /* the running poll reads once more for us */
    out = poll_locked(&p);
    poll_report(&p, out);
    return out;
}

/* ---- registration ----------------------------------------------------- */

enum scb_err job_items_register(struct jobs *j, struct worker_pool *wp)
{
    enum scb_err err;

    metrics_describe(ITEMS_FOUND_METRIC, METRICS_COUNTER,
                     "What a poll found that no webhook announced.");
    metrics_describe(ITEMS_ERR_METRIC, METRICS_COUNTER,
                     "Item errors recorded by the SKU sync, by reason.");
    err = worker_pool_register(wp, ITEMS_SYNC_TYPE, job_items_sync_run, j);
    if (!err)
        err = worker_pool_register(wp, ITEMS_POLL_TYPE, job_items_poll_run,
                                   j);
    return err;
}
