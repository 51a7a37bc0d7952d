/* SPDX-License-Identifier: MIT */
/* order.import: a Sellercloud order becomes one DDI POS order, once. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "channel.h"
#include "jobs.h"
#include "jsonio.h"
#include "log.h"
#include "order_map.h"
#include "order_snap.h"
#include "orderstate.h"
#include "reserve.h"

#define IMPORT_BUSY_WAIT_MS 1000   /* a lock another worker holds */
#define IMPORT_BATCH_LOCK_MS 60000 /* one list call and its snapshots */
#define IMPORT_READ_ROUNDS 3       /* list calls one job may make */
#define RECHECK_MIN_S 300          /* first re-check of an unpaid order */
#define RECHECK_MAX_S 21600        /* re-checks grow to every 6 hours */

#define SC_STATUS_INPROCESS 2
#define SC_STATUS_VOID 999
#define SC_STATUS_CANCELED (-1)
#define SC_PAY_CHARGED 30
#define SC_PAY_PARTIAL_REFUND 50
#define SC_PAY_FULL_REFUND 60
#define SC_SHIP_FULLY 3

/* One run of the handler. */
struct imp {
    struct jobs *j;
    struct queue_job *job;
    struct store *st;
    struct jobs_thread *t;
    const char *jid;
    int64_t company;  /* from the payload: the company announced */
    int64_t id;       /* the Sellercloud order id */
    bool replay;      /* an operator asked: run even needs_attention */
    struct order_rec rec;
    bool have_rec;
    struct sc_order o;
    int64_t now;
};

/* KEYS: lock. ARGV: token. */
static const struct store_script unlock_script = {
    "import_batch_unlock",
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('DEL', KEYS[1])\n"
    "end\n"
    "return 0\n",
};

static enum queue_outcome imp_wait(struct imp *m, int64_t ms)
{
    queue_job_set_wait(m->job, ms);
    return QUEUE_WAIT;
}

static enum queue_outcome imp_store_fail(struct imp *m, enum scb_err err)
{
    queue_job_set_error(m->job, "redis: %s: %s", scb_strerror(err),
                        store_errstr(m->st));
    return QUEUE_RETRY;
}

/* The order needs a person: state, reason, history and dead letter. */
static enum queue_outcome imp_attention(struct imp *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum queue_outcome imp_attention(struct imp *m, const char *fmt, ...)
{
    char reason[ORDERSTATE_REASON_MAX];
    va_list ap;
    enum scb_err err;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    err = orderstate_set(m->st, m->j->cfg, m->id, "needs_attention", reason,
                         "needs_attention", reason, NULL, 0);
    if (err)
        return imp_store_fail(m, err);
    log_warn("import", "order needs attention", LOG_STR("job", m->jid),
             LOG_INT("order", m->id), LOG_STR("reason", reason));
    queue_job_set_reason(m->job, "%s", reason);
    return QUEUE_DEAD;
}

static bool company_synced(const struct config *cfg, int64_t company)
{
    for (size_t i = 0; i < cfg->n_sc_company_ids; i++) {
        if (cfg->sc_company_ids[i] == company)
            return true;
    }
    return false;
}

static void channel_text(int value, char *out, size_t n)
{
    const char *name = channel_ddi_name(value);

    if (name)
        snprintf(out, n, "%s", name);
    else
        snprintf(out, n, "%d", value);
}

/* A digest of the lines and the total: a change after import shows. */
static void order_sig(const struct sc_order *o, char out[72])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char part[320];

    out[0] = '\0';
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        goto out;
    snprintf(part, sizeof(part), "%" PRId64 "|%zu", o->grand_total,
             o->n_lines);
    EVP_DigestUpdate(ctx, part, strlen(part));
    for (size_t i = 0; i < o->n_lines; i++) {
        snprintf(part, sizeof(part), "|%s/%" PRId64 "/%" PRId64,
                 o->lines[i].product_id, o->lines[i].qty,
                 o->lines[i].line_total);
        EVP_DigestUpdate(ctx, part, strlen(part));
    }
    if (EVP_DigestFinal_ex(ctx, md, &len) != 1)
        goto out;
    for (unsigned int i = 0; i < len && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);

out:
    EVP_MD_CTX_free(ctx);
}

/* A DDI call failed: wait, retry, or (refused for good) attention. */
static enum queue_outcome imp_ddi_fail(struct imp *m, enum scb_err err,
                                       const struct ddi_error *e,
                                       const char *what)
{
    enum queue_outcome out;

    ddi_client_log_failure(m->t->ddi, "import", m->jid);
    out = jobs_outcome(m->job, err, e->wait_ms, what);
    if (out != QUEUE_DEAD)
        return out;
    return imp_attention(m, "%s: %s answered %ld%s%s",
                         e->reason[0] ? e->reason : "DDI_VALIDATION", what,
                         e->status, e->detail[0] ? ": " : "", e->detail);
}

/* ---- reading the order: one list call serves up to 50 jobs ---- */

static enum scb_err batch_lock(struct imp *m, struct buf *key, char tok[33])
{
    unsigned char raw[16];
    redisReply *r = NULL;
    enum scb_err err;

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return SCB_EIO;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(tok + 2 * i, 3, "%02x", raw[i]);
    err = store_key(m->st, key, "import:batch:%" PRId64, m->company);
    if (!err)
        err = store_cmd(m->st, &r, "SET %s %s NX PX %d", key->data, tok,
                        IMPORT_BATCH_LOCK_MS);
    if (!err && r->type == REDIS_REPLY_NIL)
        err = SCB_ECONFLICT;
    if (r)
        freeReplyObject(r);
    return err;
}

static void batch_unlock(struct imp *m, const char *key, const char *tok)
{
    const char *argv[2] = { key, tok };
    redisReply *r = NULL;

    /* The lock expires on its own if this fails: nothing else to do. */
    if (store_eval(m->st, &unlock_script, &r, 1, 2, argv, NULL) == SCB_OK)
        freeReplyObject(r);
}

/* The ids to read: this job's order first, then the oldest pending. */
static enum scb_err batch_ids(struct imp *m, int64_t ids[SC_MAX_IDS],
                              size_t *out_n)
{
    int64_t pend[SC_MAX_IDS];
    size_t np = 0, n = 1;
    enum scb_err err;

    ids[0] = m->id;
    err = order_snap_pending(m->st, m->company, pend, SC_MAX_IDS, &np);
    for (size_t i = 0; !err && i < np && n < SC_MAX_IDS; i++) {
        if (pend[i] != m->id)
            ids[n++] = pend[i];
    }
    if (!err)
        *out_n = n;
    return err;
}

static enum scb_err batch_store(struct imp *m, const struct sc_order_page *p,
                                int64_t read_ms, bool *out_own)
{
    enum scb_err err = SCB_OK;

    *out_own = false;
    for (size_t i = 0; !err && i < p->n_orders; i++) {
        err = order_snap_put(m->st, &p->orders[i], read_ms);
        if (p->orders[i].id == m->id)
            *out_own = true;
    }
    for (size_t i = 0; i < p->n_bad; i++)
        log_warn("import", "sellercloud order unreadable",
                 LOG_STR("job", m->jid), LOG_INT("order", p->bad[i].id),
                 LOG_STR("field", p->bad[i].field),
                 LOG_STR("detail", scb_strerror(p->bad[i].err)));
    return err;
}

/*
 * One list call for this job's company: this order and up to 49 others
 * announced. QUEUE_DONE when it ran (*out_own: this order came back),
 * QUEUE_WAIT when another worker is reading this company now.
 */
static enum queue_outcome imp_fetch(struct imp *m, bool *out_own)
{
    struct buf key;
    char tok[33];
    int64_t ids[SC_MAX_IDS];
    size_t n = 0;
    struct sc_order_page page;
    int64_t read_ms;
    enum queue_outcome out = QUEUE_DONE;
    bool locked;
    enum scb_err err;

    memset(&page, 0, sizeof(page));
    buf_init(&key, 256);
    err = batch_lock(m, &key, tok);
    if (err == SCB_ECONFLICT) {
        buf_release(&key);
        return imp_wait(m, IMPORT_BUSY_WAIT_MS);
    }
    locked = err == SCB_OK;
    if (!err)
        err = batch_ids(m, ids, &n);
    if (err) {
        out = imp_store_fail(m, err);
        goto out;
    }
    read_ms = orderstate_now_ms();
    err = sc_orders_by_ids(m->t->sc, &m->company, 1, ids, n, &page);
    if (err) {
        sc_client_log_failure(m->t->sc, "import", m->jid);
        out = jobs_outcome(m->job, err, sc_client_wait_ms(m->t->sc),
                           "sellercloud list orders");
        if (out == QUEUE_DEAD)
            queue_job_set_reason(m->job, "SC_REJECTED: list orders: %s",
                                 scb_strerror(err));
        goto out;
    }
    err = batch_store(m, &page, read_ms, out_own);
    if (!err)
        err = order_snap_settle(m->st, m->company, ids, n, read_ms);
    if (err)
        out = imp_store_fail(m, err);

out:
    if (locked)
        batch_unlock(m, key.data, tok);
    sc_order_page_release(&page);
    buf_release(&key);
    return out;
}

/*
 * Fills m->o with a snapshot read after this job was accepted and after
 * the order's last announcement. *out_have false: Sellercloud does not
 * know the order.
 */
static enum queue_outcome imp_read(struct imp *m, bool *out_have)
{
    int64_t accepted = queue_job_accepted_ms(m->job);
    int64_t at = 0, pend = 0;
    bool own = true, fetched = false;
    enum queue_outcome out;
    enum scb_err err;

    *out_have = false;
    err = order_snap_announce(m->st, m->company, m->id, accepted);
    for (int round = 0; !err && round < IMPORT_READ_ROUNDS && own;
         round++) {
        err = order_snap_get(m->st, m->id, &m->o, &at);
        if (!err)
            err = order_snap_pending_at(m->st, m->company, m->id, &pend);
        /*
         * Fresh: read after the job was accepted (or by this job itself,
         * whatever the clocks of the replicas say) and after the order's
         * last announcement.
         */
        if (!err && (fetched || at >= accepted) &&
            (pend == 0 || pend <= at)) {
            *out_have = true;
            return QUEUE_DONE;
        }
        if (!err)
            sc_order_release(&m->o);
        if (err == SCB_ENOTFOUND)
            err = SCB_OK;
        if (!err) {
            out = imp_fetch(m, &own);
            if (out != QUEUE_DONE)
                return out;
            fetched = true;
        }
    }
    if (err)
        return imp_store_fail(m, err);
    log_warn("import", "order not found in sellercloud",
             LOG_STR("job", m->jid), LOG_INT("order", m->id),
             LOG_INT("company", m->company));
    return QUEUE_DONE;
}

/* ---- states before import ---- */

static enum queue_outcome imp_set(struct imp *m, const char *state,
                                  const char *reason, const char *event,
                                  const char *detail,
                                  const struct orderstate_field *f,
                                  size_t nf)
{
    enum scb_err err = orderstate_set(m->st, m->j->cfg, m->id, state,
                                      reason, event, detail, f, nf);

    return err ? imp_store_fail(m, err) : QUEUE_DONE;
}

/* Records 'state' with 'reason' unless the order already shows both. */
static enum queue_outcome imp_settle(struct imp *m, const char *state,
                                     const char *reason)
{
    char chan[64];
    struct orderstate_field f[3] = {
        { "company_id", NULL },
        { "channel", chan },
        { "sc_last_updated", m->o.last_updated.raw },
    };
    char company[24];

    if (m->have_rec && strcmp(m->rec.state, state) == 0 &&
        strcmp(m->rec.reason, reason ? reason : "") == 0)
        return QUEUE_DONE;
    snprintf(company, sizeof(company), "%" PRId64, m->o.company_id);
    f[0].value = company;
    channel_text(m->o.order_source, chan, sizeof(chan));
    return imp_set(m, state, reason, state, reason, f, 3);
}

static int64_t recheck_delay_s(int64_t waited_s, int64_t max_age_s)
{
    int64_t d = waited_s / 2;

    if (d < RECHECK_MIN_S)
        d = RECHECK_MIN_S;
    if (d > RECHECK_MAX_S)
        d = RECHECK_MAX_S;
    if (waited_s < max_age_s && waited_s + d > max_age_s)
        d = max_age_s - waited_s + 1;
    return d;
}

static enum queue_outcome imp_awaiting(struct imp *m)
{
    const struct config *cfg = m->j->cfg;
    bool was = m->have_rec &&
               strcmp(m->rec.state, "awaiting_payment") == 0 &&
               m->rec.awaiting_since_ms > 0;
    int64_t since = was ? m->rec.awaiting_since_ms : m->now;
    /* The customer has waited since the order was placed, not since
     * scbridge first saw it. */
    int64_t waited = (m->now - m->o.time_of_order.ms) / 1000;
    char since_txt[24], placed_txt[24], detail[64];
    struct orderstate_field f[2] = {
        { "awaiting_since", since_txt },
        { "time_of_order", placed_txt },
    };
    enum queue_outcome out;
    enum scb_err err;

    if (waited >= cfg->awaiting_payment_max_age_s)
        return imp_attention(m, "PAYMENT_TIMEOUT: not Charged after %"
                             PRId64 "s (PaymentStatus %d)", waited,
                             m->o.payment_status);
    snprintf(since_txt, sizeof(since_txt), "%" PRId64, since);
    snprintf(placed_txt, sizeof(placed_txt), "%" PRId64,
             m->o.time_of_order.ms);
    snprintf(detail, sizeof(detail), "PaymentStatus %d",
             m->o.payment_status);
    out = was ? QUEUE_DONE
              : imp_set(m, "awaiting_payment", NULL, "awaiting_payment",
                        detail, f, 2);
    if (out != QUEUE_DONE)
        return out;
    err = jobs_enqueue_import(m->st, m->company, m->id, "recheck", 0,
                              m->now + 1000 * recheck_delay_s(
                                  waited, cfg->awaiting_payment_max_age_s));
    return err ? imp_store_fail(m, err) : QUEUE_DONE;
}

/* Why an order is not to be imported, or NULL. */
static const char *imp_out_of_scope(struct imp *m, char *buf, size_t n)
{
    const struct config *cfg = m->j->cfg;
    char chan[64];

    if (!company_synced(cfg, m->o.company_id)) {
        snprintf(buf, n, "company %" PRId64 " is not synced",
                 m->o.company_id);
        return buf;
    }
    if (m->o.time_of_order.ms < atomic_load(&m->j->cutover_ms))
        return "before cut-over";
    if (config_channel_excluded(cfg, m->o.order_source)) {
        channel_text(m->o.order_source, chan, sizeof(chan));
        snprintf(buf, n, "excluded channel %s", chan);
        return buf;
    }
    if (m->o.dropship != 0 && !cfg->import_dropship)
        return "dropship order";
    return NULL;
}

/* ---- the import itself ---- */

static enum queue_outcome imp_done(struct imp *m, const char *order_no,
                                   bool outside, const char *how)
{
    char chan[64], company[24], sig[72], detail[160];
    char ref[ORDER_MAP_REF_MAX];
    struct orderstate_field f[9];
    enum queue_outcome out;
    enum scb_err err;

    snprintf(company, sizeof(company), "%" PRId64,
             m->have_rec && m->rec.company_id ? m->rec.company_id
                                              : m->o.company_id);
    order_map_reference(strtoll(company, NULL, 10), m->id, ref);
    channel_text(m->o.order_source, chan, sizeof(chan));
    order_sig(&m->o, sig);
    f[0] = (struct orderstate_field){ "ddi_order_no", order_no };
    f[1] = (struct orderstate_field){ "reference", ref };
    f[2] = (struct orderstate_field){ "company_id", company };
    f[3] = (struct orderstate_field){ "channel", chan };
    f[4] = (struct orderstate_field){ "channel_order_id",
                                      m->o.order_source_order_id };
    f[5] = (struct orderstate_field){ "sig", sig };
    f[6] = (struct orderstate_field){ "create_sent_at", "0" };
    f[7] = (struct orderstate_field){ "sc_last_updated",
                                      m->o.last_updated.raw };
    f[8] = (struct orderstate_field){ "shipped_outside", outside ? "1"
                                                                 : "0" };
    snprintf(detail, sizeof(detail), "DDI order %s (%s)", order_no, how);
    out = imp_set(m, "imported", NULL, "imported", detail, f, 9);
    if (out == QUEUE_DONE && outside)
        out = imp_set(m, "shipped", NULL, "shipped_outside",
                      "FullyShipped in Sellercloud before import: the DDI "
                      "order records the shipment, no tracking is pushed",
                      NULL, 0);
    if (out != QUEUE_DONE)
        return out;
    /* Sellercloud reserves the lines until it ships: I of the stock. */
    err = outside ? SCB_OK : reserve_add(m->st, m->id, &m->o);
    if (err)
        return imp_store_fail(m, err);
    log_info("import", "order imported", LOG_STR("job", m->jid),
             LOG_INT("order", m->id), LOG_STR("ddi_order_no", order_no),
             LOG_STR("how", how));
    err = job_export_add(m->st, m->id);
    return err ? imp_store_fail(m, err) : QUEUE_DONE;
}

static enum queue_outcome imp_create(struct imp *m, const char *ref,
                                     const char *body, bool outside)
{
    struct orderstate_field f[1] = { { "create_sent_at", NULL } };
    struct ddi_order_doc *doc = NULL;
    struct ddi_error e;
    char now[24];
    enum queue_outcome out;
    enum scb_err err;

    snprintf(now, sizeof(now), "%" PRId64, orderstate_now_ms());
    f[0].value = now;
    out = imp_set(m, "importing", NULL, NULL, NULL, f, 1);
    if (out != QUEUE_DONE)
        return out;
    memset(&e, 0, sizeof(e));
    err = ddi_create_order(m->t->ddi, ref, body, &doc, &e);
    if (!err) {
        out = imp_done(m, doc->order.order_no, outside, "created");
        ddi_order_doc_free(doc);
        return out;
    }
    if (err == SCB_EUNKNOWN) {
        ddi_client_log_failure(m->t->ddi, "import", m->jid);
        queue_job_set_error(m->job, "DDI create outcome unknown; the "
                            "reference is looked up after %" PRId64 "s",
                            m->j->cfg->ddi_lookup_delay_s);
        return QUEUE_RETRY;
    }
    /* Anything else means DDI did not create the order. */
    f[0].value = "0";
    out = imp_set(m, "importing", NULL, NULL, NULL, f, 1);
    if (out != QUEUE_DONE)
        return out;
    if (err == SCB_EPERMANENT && e.reason[0])
        return imp_attention(m, "%s: %s", e.reason, e.detail);
    return imp_ddi_fail(m, err, &e, "DDI create");
}

static enum queue_outcome imp_lookup(struct imp *m, const char *ref,
                                     const char *body, bool outside)
{
    struct ddi_order_list *list = NULL;
    struct ddi_error e;
    enum queue_outcome out;
    enum scb_err err;

    memset(&e, 0, sizeof(e));
    err = ddi_find_orders(m->t->ddi, ref, &list, &e);
    if (err)
        return imp_ddi_fail(m, err, &e, "DDI lookup");
    if (list->n > 1)
        out = imp_attention(m, "DUPLICATE_IN_DDI: %zu DDI orders carry %s "
                            "(%s, %s%s); nothing created", list->n, ref,
                            list->orders[0].order_no,
                            list->orders[1].order_no,
                            list->n > 2 ? ", ..." : "");
    else if (list->n == 1)
        out = imp_done(m, list->orders[0].order_no, outside,
                       "found by reference");
    else
        out = imp_create(m, ref, body, outside);
    ddi_order_list_free(list);
    return out;
}

static enum queue_outcome imp_import(struct imp *m, bool outside)
{
    const struct config *cfg = m->j->cfg;
    struct order_map_opts opts = { 0 };
    char ref[ORDER_MAP_REF_MAX], reason[ORDER_MAP_REASON_MAX];
    char company[24], chan[64];
    struct orderstate_field f[4];
    cJSON *body = NULL;
    char *text = NULL;
    int64_t due;
    enum queue_outcome out;

    opts.company_id = m->have_rec && m->rec.company_id ? m->rec.company_id
                                                       : m->o.company_id;
    opts.already_shipped = outside;
    order_map_reference(opts.company_id, m->id, ref);
    if (order_map_create_body(cfg, &m->o, &opts, &body, reason,
                              sizeof(reason)) == SCB_EINVAL)
        return imp_attention(m, "%s", reason);
    text = body ? jsonio_print(body) : NULL;
    cJSON_Delete(body);
    if (!text) {
        queue_job_set_error(m->job, "out of memory mapping the order");
        return QUEUE_RETRY;
    }
    due = m->have_rec && m->rec.create_sent_at_ms > 0
              ? m->rec.create_sent_at_ms + cfg->ddi_lookup_delay_s * 1000
              : 0;
    if (due > m->now) {
        out = imp_wait(m, due - m->now);
        goto out;
    }
    snprintf(company, sizeof(company), "%" PRId64, opts.company_id);
    channel_text(m->o.order_source, chan, sizeof(chan));
    f[0] = (struct orderstate_field){ "reference", ref };
    f[1] = (struct orderstate_field){ "company_id", company };
    f[2] = (struct orderstate_field){ "channel", chan };
    f[3] = (struct orderstate_field){ "channel_order_id",
                                      m->o.order_source_order_id };
    out = QUEUE_DONE;
    if (!m->have_rec || strcmp(m->rec.state, "importing") != 0)
        out = imp_set(m, "importing", NULL, "importing", ref, f, 4);
    if (out == QUEUE_DONE)
        out = imp_lookup(m, ref, text, outside);

out:
    cJSON_free(text);
    return out;
}

/* ---- after import: cancellations, refunds, changes ---- */

static enum queue_outcome imp_cancel(struct imp *m)
{
    struct ddi_order_doc *doc = NULL;
    struct ddi_error e;
    char detail[160];
    enum scb_err err;

    if (strcmp(m->rec.state, "shipped") == 0)
        return imp_attention(m, "CANCELLED_AFTER_SHIPMENT: cancelled in "
                             "Sellercloud after DDI order %s shipped",
                             m->rec.ddi_order_no);
    memset(&e, 0, sizeof(e));
    err = ddi_cancel_order(m->t->ddi, m->rec.ddi_order_no,
                           "cancelled in Sellercloud", &doc, &e);
    ddi_order_doc_free(doc);
    if (err == SCB_ECONFLICT)
        return imp_attention(m, "CANCELLED_AFTER_SHIPMENT: DDI order %s "
                             "has a shipment", m->rec.ddi_order_no);
    if (err)
        return imp_ddi_fail(m, err, &e, "DDI cancel");
    snprintf(detail, sizeof(detail),
             "DDI order %s cancelled, deposit reversed",
             m->rec.ddi_order_no);
    return imp_set(m, "cancelled", NULL, "cancelled", detail, NULL, 0);
}

static enum queue_outcome imp_after(struct imp *m)
{
    int s = m->o.status_code, pay = m->o.payment_status;
    bool cancelled = s == SC_STATUS_CANCELED || s == SC_STATUS_VOID;
    char sig[72];
    enum scb_err err;

    /* Shipped or cancelled in Sellercloud: it reserves nothing now. */
    if (cancelled || m->o.shipping_status == SC_SHIP_FULLY) {
        err = reserve_remove(m->st, m->id, &m->o);
        if (err)
            return imp_store_fail(m, err);
    }
    if (cancelled)
        return imp_cancel(m);
    if (pay == SC_PAY_PARTIAL_REFUND || pay == SC_PAY_FULL_REFUND)
        return imp_attention(m, "REFUNDED_AFTER_IMPORT: PaymentStatus %d "
                             "after DDI order %s", pay,
                             m->rec.ddi_order_no);
    order_sig(&m->o, sig);
    if (m->rec.sig[0] && strcmp(sig, m->rec.sig) != 0)
        return imp_attention(m, "CHANGED_AFTER_IMPORT: lines or total "
                             "changed after DDI order %s",
                             m->rec.ddi_order_no);
    if (!m->rec.exported) {
        err = job_export_add(m->st, m->id);
        if (err)
            return imp_store_fail(m, err);
    }
    return QUEUE_DONE;
}

/*
 * An order that waits for a person and never reached DDI: a cancel in
 * Sellercloud settles it, and its dead letter goes with it.
 */
static enum queue_outcome imp_unsent_cancel(struct imp *m)
{
    char key[48];
    enum scb_err err;

    if (m->o.status_code != SC_STATUS_CANCELED &&
        m->o.status_code != SC_STATUS_VOID)
        return QUEUE_DONE;
    snprintf(key, sizeof(key), "order:%" PRId64, m->id);
    err = queue_dead_discard_key(m->st, key, NULL);
    if (err && err != SCB_ENOTFOUND)
        return imp_store_fail(m, err);
    return imp_set(m, "cancelled", NULL, "cancelled",
                   "cancelled in Sellercloud; never sent to DDI", NULL, 0);
}

/* ---- the decision ---- */

static enum queue_outcome imp_decide(struct imp *m)
{
    const struct sc_order *o = &m->o;
    const char *state = m->have_rec ? m->rec.state : "";
    bool has_ddi = m->have_rec && m->rec.ddi_order_no[0];
    char buf[160];
    const char *why;

    if (has_ddi && (strcmp(state, "needs_attention") != 0 || m->replay))
        return strcmp(state, "cancelled") == 0 ? QUEUE_DONE : imp_after(m);
    if (strcmp(state, "cancelled") == 0)
        return QUEUE_DONE;
    if (strcmp(state, "needs_attention") == 0 && !m->replay)
        return has_ddi ? QUEUE_DONE : imp_unsent_cancel(m);
    if (strcmp(state, "importing") == 0)
        return imp_import(m, o->shipping_status == SC_SHIP_FULLY);
    why = imp_out_of_scope(m, buf, sizeof(buf));
    if (why)
        return imp_settle(m, "seen", why);
    if (o->status_code == SC_STATUS_CANCELED ||
        o->status_code == SC_STATUS_VOID)
        return imp_settle(m, "cancelled", NULL);
    if (o->payment_status == SC_PAY_CHARGED &&
        o->shipping_status == SC_SHIP_FULLY)
        return imp_import(m, true);
    if (o->status_code == SC_STATUS_INPROCESS &&
        o->payment_status == SC_PAY_CHARGED)
        return imp_import(m, false);
    if (o->status_code == SC_STATUS_INPROCESS)
        return imp_awaiting(m);
    snprintf(buf, sizeof(buf), "StatusCode %d", o->status_code);
    return imp_settle(m, "seen", buf);
}

static enum queue_outcome imp_locked(struct imp *m)
{
    char tok[33];
    /* Outlives a lookup and a create in flight, should this worker die. */
    int64_t lease = 2 * m->j->cfg->ddi_timeout_s * 1000 + 5000;
    enum queue_outcome out;
    enum scb_err err;

    err = orderstate_lock(m->st, m->id, lease, tok);
    if (err == SCB_ECONFLICT)
        return imp_wait(m, IMPORT_BUSY_WAIT_MS);
    if (err)
        return imp_store_fail(m, err);
    err = orderstate_get(m->st, m->id, &m->rec);
    m->have_rec = err == SCB_OK;
    if (m->have_rec && m->rec.replay)
        m->replay = true;
    if (err && err != SCB_ENOTFOUND)
        out = imp_store_fail(m, err);
    else
        out = imp_decide(m);
    /* The operator's request is served once this run got to decide. */
    if (m->replay && (out == QUEUE_DONE || out == QUEUE_DEAD))
        (void)orderstate_touch(m->st, m->id, "replay", "0");
    /* What the poll compares with: this version of the order is done. */
    if (out == QUEUE_DONE || out == QUEUE_DEAD)
        (void)orderstate_touch(m->st, m->id, "sc_last_updated",
                               m->o.last_updated.raw);
    /* An unreleased lock expires after its lease. */
    (void)orderstate_unlock(m->st, m->id, tok);
    return out;
}

enum queue_outcome job_import_run(struct queue_job *job, void *ctx)
{
    struct imp m;
    const cJSON *p = queue_job_json(job);
    const char *src;
    bool have = false;
    enum queue_outcome out;

    memset(&m, 0, sizeof(m));
    m.j = ctx;
    m.job = job;
    m.st = queue_job_store(job);
    m.jid = queue_job_id(job);
    if (!p || jsonio_get_i64(p, "company_id", 1, INT32_MAX, &m.company) ||
        jsonio_get_i64(p, "order_id", 1, INT64_MAX, &m.id)) {
        queue_job_set_reason(job, "BAD_JOB: order.import payload");
        return QUEUE_DEAD;
    }
    src = jsonio_str_or(p, "source", "");
    m.replay = strcmp(src, "replay") == 0;
    m.t = jobs_thread_get(m.j, job);
    if (!m.t) {
        queue_job_set_error(job, "out of memory making API clients");
        return QUEUE_RETRY;
    }
    if (jobs_start_time(m.j, m.st) != SCB_OK) {
        queue_job_set_error(job, "redis: cannot read the cut-over");
        return QUEUE_RETRY;
    }
    out = imp_read(&m, &have);
    if (out == QUEUE_DONE && have) {
        m.now = orderstate_now_ms();
        out = imp_locked(&m);
        sc_order_release(&m.o);
    }
    return out;
}
