/* SPDX-License-Identifier: MIT */
/* The webhook routes: checks in order, one atomic write, counted answers. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "job_tracking.h"
#include "jsonio.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "order_snap.h"
#include "orderstate.h"
#include "queue.h"
#include "route_webhooks.h"
#include "store.h"
#include "webhook.h"

#define RW_MOD "webhook"
#define RW_METRIC "scbridge_webhooks_total"
#define RW_IGNORED_METRIC "scbridge_shipments_ignored_total"
#define RW_LABELS_MAX 96
#define RW_RETRY_AFTER "5"

/* The jobs of one message; keys and payloads live in 'text'. */
struct rw_batch {
    struct queue_new_job jobs[QUEUE_BATCH_MAX];
    size_t key_off[QUEUE_BATCH_MAX];     /* into text.data */
    size_t payload_off[QUEUE_BATCH_MAX]; /* into text.data */
    size_t n;
    struct buf text; /* NUL-separated; moves as it grows */
    int64_t company;                  /* Sellercloud: the company */
    int64_t order_ids[QUEUE_BATCH_MAX]; /* and the orders announced */
    size_t n_order_ids;
};

static const char *const rw_patterns[] = {
    [WEBHOOK_SRC_SELLERCLOUD] = "/webhooks/sellercloud",
    [WEBHOOK_SRC_DDI_SHIP_CONFIRM] = "/webhooks/ddi/ship-confirm",
    [WEBHOOK_SRC_DDI_ITEMS] = "/webhooks/ddi/items",
};

/* ---- counting ---- */

static void rw_count(enum webhook_source src, enum webhook_answer res)
{
    char labels[RW_LABELS_MAX];

    snprintf(labels, sizeof(labels), "source=\"%s\",outcome=\"%s\"",
             webhook_source_label(src), webhook_answer_outcome(res));
    metrics_inc(RW_METRIC, labels, 1);
    if (res == WEBHOOK_IGNORED)
        metrics_inc(RW_IGNORED_METRIC, "via=\"webhook\"", 1);
}

void route_webhooks_rejected(const struct httpd_req *req, int status, void *ctx)
{
    const char *route = httpd_req_route(req);

    (void)ctx;
    if (status != 413 || !route)
        return;
    for (int s = 0; s < WEBHOOK_SRC_COUNT; s++) {
        if (strcmp(route, rw_patterns[s]) == 0)
            rw_count((enum webhook_source)s, WEBHOOK_TOO_LARGE);
    }
}

/* ---- jobs ---- */

static struct rw_batch *rw_batch_new(const struct config *cfg)
{
    struct rw_batch *b = mem_calloc(1, sizeof(*b));

    /* A shipment payload is the body and a few bytes; lists are small. */
    if (b)
        buf_init(&b->text, (size_t)cfg->webhook_max_bytes + (1u << 20));
    return b;
}

static void rw_batch_free(struct rw_batch *b)
{
    if (!b)
        return;
    buf_release(&b->text);
    mem_free(b);
}

/* Opens job n: its key text follows. */
static void rw_job_open(struct rw_batch *b, const char *type)
{
    b->jobs[b->n].type = type;
    b->key_off[b->n] = b->text.len;
}

/* Ends the key; the payload text follows. */
static enum scb_err rw_job_payload(struct rw_batch *b)
{
    enum scb_err err = buf_append(&b->text, "", 1);

    b->payload_off[b->n] = b->text.len;
    return err;
}

static enum scb_err rw_job_close(struct rw_batch *b)
{
    enum scb_err err = buf_append(&b->text, "", 1);

    if (!err)
        b->n++;
    return err;
}

/* Points every job at its texts, now that the buffer stops moving. */
static void rw_batch_seal(struct rw_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        b->jobs[i].key = b->text.data + b->key_off[i];
        b->jobs[i].payload = b->text.data + b->payload_off[i];
    }
}

static enum scb_err rw_jobs_sc(const struct webhook_sc_note *note,
                               struct rw_batch *b)
{
    enum scb_err err = SCB_OK;

    b->company = note->company_id;
    for (size_t i = 0; i < note->n_order_ids && !err; i++) {
        long long id = (long long)note->order_ids[i];

        b->order_ids[b->n_order_ids++] = id;
        rw_job_open(b, "order.import");
        err = buf_printf(&b->text, "order:%lld", id);
        if (!err)
            err = rw_job_payload(b);
        if (!err)
            err = buf_printf(&b->text,
                             "{\"v\":1,\"company_id\":%lld,"
                             "\"order_id\":%lld,\"source\":\"webhook\"}",
                             (long long)note->company_id, id);
        if (!err)
            err = rw_job_close(b);
    }
    return err;
}

static enum scb_err rw_jobs_items(const struct webhook_items *items,
                                  struct rw_batch *b)
{
    enum scb_err err = SCB_OK;

    for (size_t i = 0; i < items->n_product_nos && !err; i++) {
        const char *no = items->product_nos[i];

        rw_job_open(b, "item.sync");
        err = buf_printf(&b->text, "item:%s", no);
        if (!err)
            err = rw_job_payload(b);
        if (!err)
            err = buf_puts(&b->text, "{\"v\":1,\"product_no\":");
        if (!err)
            err = buf_put_json_str(&b->text, no);
        if (!err)
            err = buf_puts(&b->text, ",\"source\":\"webhook\"}");
        if (!err)
            err = rw_job_close(b);
    }
    return err;
}

static enum scb_err rw_jobs_ship(const struct webhook_shipment *s,
                                 struct rw_batch *b)
{
    char *record = jsonio_print(s->record);
    enum scb_err err;

    if (!record)
        return SCB_ENOMEM;
    rw_job_open(b, "tracking.push");
    /* The key the shipment poll uses too (job_tracking.h). */
    err = job_tracking_key(s->shipment_id, &b->text);
    if (!err)
        err = rw_job_payload(b);
    if (!err)
        err = buf_printf(&b->text,
                         "{\"v\":1,\"source\":\"webhook\",\"shipment\":%s}",
                         record);
    if (!err)
        err = rw_job_close(b);
    cJSON_free(record);
    return err;
}

/* ---- checks 6 and 7, by route ---- */

static enum webhook_answer rw_build_sc(const struct config *cfg,
                                       const char *body, size_t len,
                                       struct rw_batch *b)
{
    struct webhook_sc_note *note = mem_malloc(sizeof(*note));
    enum webhook_answer res = WEBHOOK_UNAVAILABLE;

    if (!note)
        return res;
    res = webhook_parse_sellercloud(body, len, cfg->sc_company_ids,
                                    cfg->n_sc_company_ids, note);
    if (!res && rw_jobs_sc(note, b))
        res = WEBHOOK_UNAVAILABLE;
    mem_free(note);
    return res;
}

static enum webhook_answer rw_build_items(const char *body, size_t len,
                                          struct rw_batch *b)
{
    struct webhook_items *items = mem_malloc(sizeof(*items));
    enum webhook_answer res = WEBHOOK_UNAVAILABLE;

    if (!items)
        return res;
    res = webhook_parse_items(body, len, items);
    if (!res && rw_jobs_items(items, b))
        res = WEBHOOK_UNAVAILABLE;
    mem_free(items);
    return res;
}

static enum webhook_answer rw_build_ship(const char *body, size_t len,
                                         struct rw_batch *b)
{
    struct webhook_shipment s = { 0 };
    enum webhook_answer res = webhook_parse_ship_confirm(body, len, &s);

    if (!res && rw_jobs_ship(&s, b))
        res = WEBHOOK_UNAVAILABLE;
    webhook_shipment_release(&s);
    return res;
}

static enum webhook_answer rw_build(const struct config *cfg,
                                    enum webhook_source src, const char *body,
                                    size_t len, struct rw_batch *b)
{
    enum webhook_answer res;

    switch (src) {
    case WEBHOOK_SRC_SELLERCLOUD:
        res = rw_build_sc(cfg, body, len, b);
        break;
    case WEBHOOK_SRC_DDI_SHIP_CONFIRM:
        res = rw_build_ship(body, len, b);
        break;
    default:
        res = rw_build_items(body, len, b);
        break;
    }
    if (!res)
        rw_batch_seal(b);
    return res;
}

/* ---- checks 8 and 9: one atomic script ---- */

static enum scb_err rw_enqueue(struct store *st, const struct config *cfg,
                               enum webhook_source src, const char *msg_id,
                               const struct rw_batch *b, bool *out_dup)
{
    struct buf key;
    enum scb_err err;

    buf_init(&key, 1024);
    err = store_key(st, &key, "webhook:%s:%s", webhook_source_label(src),
                    msg_id);
    if (!err)
        err = queue_enqueue_batch(st, b->jobs, b->n, key.data,
                                  cfg->webhook_dedupe_ttl_s, out_dup, NULL);
    buf_release(&key);
    return err;
}

/*
 * A pooled connection may have died since its last use (a Redis
 * restart); the store then reconnects on the next call, so a broken link
 * gets one more try. Should the first script have run with its reply
 * lost, the second finds the id and answers duplicate: still one write.
 */
static enum webhook_answer rw_write(struct app *app, const char *req_id,
                                    enum webhook_source src, const char *msg_id,
                                    const struct rw_batch *b)
{
    struct store *st;
    bool dup = false;
    enum scb_err err;

    if (atomic_load(&app->draining))
        return WEBHOOK_UNAVAILABLE;
    st = store_pool_get(app->pool);
    if (!st)
        return WEBHOOK_UNAVAILABLE;
    err = rw_enqueue(st, app->cfg, src, msg_id, b, &dup);
    if (err == SCB_ESTORE)
        err = rw_enqueue(st, app->cfg, src, msg_id, b, &dup);
    /*
     * Tell jobs already waiting for these orders that news came: a
     * snapshot read before now is old. Only a hint: each job announces
     * its own order when it runs, so a failure here loses nothing.
     */
    if (!err && !dup && b->n_order_ids > 0 &&
        order_snap_announce_many(st, b->company, b->order_ids,
                                 b->n_order_ids, orderstate_now_ms()))
        log_debug(RW_MOD, "announcing orders failed",
                  LOG_STR("req", req_id), LOG_STR("detail", store_errstr(st)));
    if (err)
        log_warn(RW_MOD, "webhook write failed", LOG_STR("req", req_id),
                 LOG_STR("source", webhook_source_label(src)),
                 LOG_STR("error", scb_strerror(err)),
                 LOG_STR("detail", store_errstr(st)));
    store_pool_put(app->pool, st);
    if (err)
        return WEBHOOK_UNAVAILABLE;
    return dup ? WEBHOOK_DUPLICATE : WEBHOOK_ACCEPTED;
}

/* ---- answering ---- */

/*
 * Answers and counts. 2xx answers log at debug (the access line already
 * says 202); refusals at info, so that a sender with a wrong secret or a
 * stale clock shows up. The webhook-id is logged only once well formed.
 */
static void rw_answer(struct httpd_req *req, struct httpd_resp *resp,
                      enum webhook_source src, enum webhook_answer res,
                      const char *msg_id, size_t njobs)
{
    int status = webhook_answer_status(res);

    httpd_resp_json(resp, status, webhook_answer_body(res));
    if (res == WEBHOOK_UNAVAILABLE)
        httpd_resp_header(resp, "Retry-After", RW_RETRY_AFTER);
    rw_count(src, res);
    if (res == WEBHOOK_MISSING_HEADER || !msg_id)
        msg_id = "";
    log_at(status < 300 ? LOG_DEBUG : LOG_INFO, RW_MOD, "webhook answered",
           LOG_STR("req", httpd_req_id(req)),
           LOG_STR("source", webhook_source_label(src)),
           LOG_STR("outcome", webhook_answer_outcome(res)),
           LOG_INT("status", status), LOG_STR("webhook_id", msg_id),
           LOG_INT("jobs", res == WEBHOOK_ACCEPTED ? njobs : 0));
}

static void rw_secrets(const struct config *cfg, enum webhook_source src,
                       const struct config_secret **out_sec, size_t *out_n)
{
    if (src == WEBHOOK_SRC_SELLERCLOUD) {
        *out_sec = cfg->webhook_secret_sc;
        *out_n = cfg->n_webhook_secret_sc;
    } else {
        *out_sec = cfg->webhook_secret_ddi;
        *out_n = cfg->n_webhook_secret_ddi;
    }
}

static void rw_handle(struct httpd_req *req, struct httpd_resp *resp,
                      struct app *app, enum webhook_source src)
{
    const struct config *cfg = app->cfg;
    const struct config_secret *sec;
    struct webhook_headers h;
    struct rw_batch *b = NULL;
    const char *body;
    size_t len = 0, nsec;
    enum webhook_answer res;

    h.id = httpd_req_header(req, "webhook-id");
    h.timestamp = httpd_req_header(req, "webhook-timestamp");
    h.signature = httpd_req_header(req, "webhook-signature");
    body = (const char *)httpd_req_body(req, &len);
    if (!body)
        body = "";
    rw_secrets(cfg, src, &sec, &nsec);
    res = webhook_verify(&h, body, len, sec, nsec, (int64_t)time(NULL),
                         cfg->webhook_tolerance_s);
    if (!res) {
        b = rw_batch_new(cfg);
        res = b ? rw_build(cfg, src, body, len, b) : WEBHOOK_UNAVAILABLE;
    }
    if (!res)
        res = rw_write(app, httpd_req_id(req), src, h.id, b);
    rw_answer(req, resp, src, res, h.id, b ? b->n : 0);
    rw_batch_free(b);
}

static void rw_sellercloud(struct httpd_req *req, struct httpd_resp *resp,
                           void *ctx)
{
    rw_handle(req, resp, ctx, WEBHOOK_SRC_SELLERCLOUD);
}

static void rw_ship_confirm(struct httpd_req *req, struct httpd_resp *resp,
                            void *ctx)
{
    rw_handle(req, resp, ctx, WEBHOOK_SRC_DDI_SHIP_CONFIRM);
}

static void rw_items(struct httpd_req *req, struct httpd_resp *resp, void *ctx)
{
    rw_handle(req, resp, ctx, WEBHOOK_SRC_DDI_ITEMS);
}

enum scb_err route_webhooks_register(struct app *app)
{
    static const httpd_handler_fn fns[] = {
        [WEBHOOK_SRC_SELLERCLOUD] = rw_sellercloud,
        [WEBHOOK_SRC_DDI_SHIP_CONFIRM] = rw_ship_confirm,
        [WEBHOOK_SRC_DDI_ITEMS] = rw_items,
    };
    enum scb_err err = SCB_OK;

    metrics_describe(RW_METRIC, METRICS_COUNTER,
                     "Inbound webhooks by source and outcome.");
    metrics_describe(RW_IGNORED_METRIC, METRICS_COUNTER,
                     "DDI shipments that are not scbridge's, by where they "
                     "were seen.");
    for (int s = 0; s < WEBHOOK_SRC_COUNT && !err; s++)
        err = httpd_route(app->httpd, HTTPD_ZONE_PUBLIC, "POST", rw_patterns[s],
                          fns[s], app);
    return err;
}
