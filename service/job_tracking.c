/* SPDX-License-Identifier: MIT */
/* tracking.push and poll.shipments: DDI ship confirms to Sellercloud. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "channel.h"
#include "job_tracking.h"
#include "jsonio.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "order_map.h"
#include "order_snap.h"
#include "orderstate.h"
#include "reserve.h"
#include "scheduler.h"

#define TRK_BUSY_WAIT_MS 1000    /* the order's lock is held elsewhere */
#define TRK_IMPORT_WAIT_MS 30000 /* the import's outcome is not known yet */
#define TRK_LOCK_MARGIN_S 5      /* lease beyond the longest single call */
#define TRK_POLL_PAGES 50        /* pages one poll run reads at most */
#define TRK_POLL_LOCK_TRIES 20   /* the poll's tries for a busy order */
#define TRK_POLL_LOCK_SLEEP_MS 100
#define TRK_DETAIL_MAX 65536     /* bytes of a history detail */
#define TRK_IGNORED "scbridge_shipments_ignored_total"
#define TRK_FOUND "scbridge_reconcile_found_total"

/* ---- the order's tracking list (pure) ---- */

static void entry_free(struct job_tracking_entry *e)
{
    mem_free(e->number);
    mem_free(e->carrier);
    mem_free(e->service);
    mem_free(e->shipment_id);
    memset(e, 0, sizeof(*e));
}

void job_tracking_list_release(struct job_tracking_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        entry_free(&l->e[i]);
    for (size_t i = 0; i < l->n_ships; i++)
        mem_free(l->ships[i].id);
    mem_free(l->e);
    mem_free(l->ships);
    memset(l, 0, sizeof(*l));
}

/* Room for 'ne' more entries and 'ns' more shipments. */
static enum scb_err list_grow(struct job_tracking_list *l, size_t ne,
                              size_t ns)
{
    struct job_tracking_entry *e;
    struct job_tracking_ship *s;

    if (ne > JOB_TRACKING_MAX_NUMBERS - l->n ||
        ns > JOB_TRACKING_MAX_SHIPMENTS - l->n_ships)
        return SCB_ETOOBIG;
    e = mem_realloc(l->e, (l->n + ne + 1) * sizeof(*e));
    if (!e)
        return SCB_ENOMEM;
    l->e = e;
    s = mem_realloc(l->ships, (l->n_ships + ns + 1) * sizeof(*s));
    if (!s)
        return SCB_ENOMEM;
    l->ships = s;
    return SCB_OK;
}

/* Appends an entry; the room must have been made. */
static enum scb_err list_put_entry(struct job_tracking_list *l,
                                   const char *number, const char *carrier,
                                   const char *service, const char *ship_id,
                                   const char *pushed_at)
{
    struct job_tracking_entry *e = &l->e[l->n];

    memset(e, 0, sizeof(*e));
    e->number = mem_strdup(number);
    e->carrier = mem_strdup(carrier);
    e->service = mem_strdup(service);
    e->shipment_id = mem_strdup(ship_id);
    if (!e->number || !e->carrier || !e->service || !e->shipment_id) {
        entry_free(e);
        return SCB_ENOMEM;
    }
    snprintf(e->pushed_at, sizeof(e->pushed_at), "%s", pushed_at);
    l->n++;
    return SCB_OK;
}

static enum scb_err list_put_ship(struct job_tracking_list *l,
                                  const char *id, bool complete, bool done)
{
    struct job_tracking_ship *s = &l->ships[l->n_ships];

    s->id = mem_strdup(id);
    if (!s->id)
        return SCB_ENOMEM;
    s->complete = complete;
    s->done = done;
    l->n_ships++;
    return SCB_OK;
}

static enum scb_err parse_entry(const cJSON *it, struct job_tracking_list *l)
{
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(it, "pushed_at");
    const char *no, *ship;
    enum scb_err err;

    if (!cJSON_IsObject(it) || jsonio_get_str(it, "number", &no) ||
        jsonio_get_str(it, "shipment_id", &ship))
        return SCB_EPARSE;
    if (!cJSON_IsNull(at) &&
        !(cJSON_IsString(at) && strlen(at->valuestring) < 32))
        return SCB_EPARSE;
    err = list_grow(l, 1, 0);
    if (!err)
        err = list_put_entry(l, no, jsonio_str_or(it, "carrier", ""),
                             jsonio_str_or(it, "service", ""), ship,
                             cJSON_IsString(at) ? at->valuestring : "");
    return err;
}

static enum scb_err parse_ship(const cJSON *it, struct job_tracking_list *l)
{
    const char *id;
    bool complete, done;
    enum scb_err err;

    if (!cJSON_IsObject(it) || jsonio_get_str(it, "id", &id) ||
        jsonio_get_bool(it, "complete", &complete) ||
        jsonio_get_bool(it, "done", &done))
        return SCB_EPARSE;
    err = list_grow(l, 0, 1);
    if (!err)
        err = list_put_ship(l, id, complete, done);
    return err;
}

/* Parses one stored JSON array, each element with 'fn'. */
static enum scb_err parse_array(const char *text,
                                enum scb_err (*fn)(const cJSON *,
                                                   struct job_tracking_list *),
                                struct job_tracking_list *l)
{
    cJSON *root = NULL;
    const cJSON *it;
    enum scb_err err;

    if (!text || !*text)
        return SCB_OK;
    err = jsonio_parse(text, strlen(text), JOB_TRACKING_FIELD_MAX, &root);
    if (!err && !cJSON_IsArray(root))
        err = SCB_EPARSE;
    for (it = root && !err ? root->child : NULL; it && !err; it = it->next)
        err = fn(it, l);
    cJSON_Delete(root);
    return err;
}

enum scb_err job_tracking_list_parse(const char *tracking, const char *ships,
                                     struct job_tracking_list *out)
{
    struct job_tracking_list l;
    enum scb_err err;

    memset(&l, 0, sizeof(l));
    err = parse_array(tracking, parse_entry, &l);
    if (!err)
        err = parse_array(ships, parse_ship, &l);
    if (err)
        job_tracking_list_release(&l);
    else
        *out = l;
    return err;
}

const struct job_tracking_ship *
job_tracking_list_find(const struct job_tracking_list *l, const char *id)
{
    for (size_t i = 0; i < l->n_ships; i++) {
        if (strcmp(l->ships[i].id, id) == 0)
            return &l->ships[i];
    }
    return NULL;
}

bool job_tracking_list_complete(const struct job_tracking_list *l)
{
    for (size_t i = 0; i < l->n_ships; i++) {
        if (l->ships[i].complete)
            return true;
    }
    return false;
}

size_t job_tracking_list_pushed(const struct job_tracking_list *l)
{
    size_t n = 0;

    for (size_t i = 0; i < l->n; i++)
        n += l->e[i].pushed_at[0] != '\0';
    return n;
}

enum scb_err job_tracking_list_add(struct job_tracking_list *l,
                                   const struct config *cfg,
                                   const struct ddi_shipment *s,
                                   bool *out_added)
{
    const char *carrier, *service;
    size_t n0 = l->n;
    enum scb_err err;

    if (job_tracking_list_find(l, s->shipment_id)) {
        *out_added = false;
        return SCB_OK;
    }
    err = list_grow(l, s->n_packages, 1);
    if (err)
        return err;
    order_map_carrier(cfg, s->carrier, s->service, &carrier, &service);
    for (size_t i = 0; !err && i < s->n_packages; i++)
        err = list_put_entry(l, s->tracking_nos[i], carrier, service,
                             s->shipment_id, "");
    if (!err)
        err = list_put_ship(l, s->shipment_id, s->complete, false);
    if (err) {
        while (l->n > n0)
            entry_free(&l->e[--l->n]);
        return err;
    }
    *out_added = true;
    return SCB_OK;
}

/* Moves the entries and the record of shipment 'id' to the new arrays. */
static void order_take(struct job_tracking_list *l, const char *id,
                       struct job_tracking_entry *e, size_t *ne,
                       struct job_tracking_ship *s, size_t *ns, bool *used,
                       bool *sused)
{
    for (size_t i = 0; i < l->n; i++) {
        if (!used[i] && (!id || strcmp(l->e[i].shipment_id, id) == 0)) {
            e[(*ne)++] = l->e[i];
            used[i] = true;
        }
    }
    for (size_t i = 0; i < l->n_ships; i++) {
        if (!sused[i] && (!id || strcmp(l->ships[i].id, id) == 0)) {
            s[(*ns)++] = l->ships[i];
            sused[i] = true;
        }
    }
}

enum scb_err job_tracking_list_order(struct job_tracking_list *l,
                                     const struct ddi_shipment *ships,
                                     size_t n)
{
    struct job_tracking_entry *e = mem_calloc(l->n + 1, sizeof(*e));
    struct job_tracking_ship *s = mem_calloc(l->n_ships + 1, sizeof(*s));
    bool *used = mem_calloc(l->n + l->n_ships + 1, sizeof(*used));
    size_t ne = 0, ns = 0;
    enum scb_err err = SCB_ENOMEM;

    if (!e || !s || !used)
        goto out;
    for (size_t i = 0; i < n; i++)
        order_take(l, ships[i].shipment_id, e, &ne, s, &ns, used,
                   used + l->n);
    order_take(l, NULL, e, &ne, s, &ns, used, used + l->n);
    mem_free(l->e);
    mem_free(l->ships);
    l->e = e;
    l->ships = s;
    e = NULL;
    s = NULL;
    err = SCB_OK;

out:
    mem_free(e);
    mem_free(s);
    mem_free(used);
    return err;
}

void job_tracking_list_mark(struct job_tracking_list *l,
                            const char *const *nos, size_t n,
                            const char *at)
{
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < l->n; i++) {
            struct job_tracking_entry *e = &l->e[i];

            if (!e->pushed_at[0] && strcmp(e->number, nos[k]) == 0) {
                snprintf(e->pushed_at, sizeof(e->pushed_at), "%s", at);
                break;
            }
        }
    }
}

void job_tracking_list_done(struct job_tracking_list *l)
{
    for (size_t i = 0; i < l->n_ships; i++) {
        bool held = false;

        for (size_t k = 0; !held && k < l->n; k++)
            held = !l->e[k].pushed_at[0] &&
                   strcmp(l->e[k].shipment_id, l->ships[i].id) == 0;
        l->ships[i].done = l->ships[i].done || !held;
    }
}

static enum scb_err json_entry(struct buf *b,
                               const struct job_tracking_entry *e)
{
    enum scb_err err = buf_puts(b, "{\"number\":");

    if (!err)
        err = buf_put_json_str(b, e->number);
    if (!err)
        err = buf_puts(b, ",\"carrier\":");
    if (!err)
        err = buf_put_json_str(b, e->carrier);
    if (!err)
        err = buf_puts(b, ",\"service\":");
    if (!err)
        err = buf_put_json_str(b, e->service);
    if (!err)
        err = buf_puts(b, ",\"shipment_id\":");
    if (!err)
        err = buf_put_json_str(b, e->shipment_id);
    if (!err)
        err = buf_puts(b, ",\"pushed_at\":");
    if (!err)
        err = e->pushed_at[0] ? buf_put_json_str(b, e->pushed_at)
                              : buf_puts(b, "null");
    if (!err)
        err = buf_putc(b, '}');
    return err;
}

enum scb_err job_tracking_list_json(const struct job_tracking_list *l,
                                    struct buf *tracking, struct buf *ships)
{
    enum scb_err err = buf_putc(tracking, '[');

    for (size_t i = 0; !err && i < l->n; i++) {
        err = i ? buf_putc(tracking, ',') : SCB_OK;
        if (!err)
            err = json_entry(tracking, &l->e[i]);
    }
    if (!err)
        err = buf_putc(tracking, ']');
    if (!err)
        err = buf_putc(ships, '[');
    for (size_t i = 0; !err && i < l->n_ships; i++) {
        err = buf_puts(ships, i ? ",{\"id\":" : "{\"id\":");
        if (!err)
            err = buf_put_json_str(ships, l->ships[i].id);
        if (!err)
            err = buf_printf(ships, ",\"complete\":%s,\"done\":%s}",
                             l->ships[i].complete ? "true" : "false",
                             l->ships[i].done ? "true" : "false");
    }
    if (!err)
        err = buf_putc(ships, ']');
    return err;
}

void job_tracking_pending_release(struct job_tracking_pending *p)
{
    mem_free(p->ships);
    mem_free(p->nos);
    memset(p, 0, sizeof(*p));
}

enum scb_err job_tracking_pending_make(const struct job_tracking_list *l,
                                       const struct ddi_shipment *ships,
                                       size_t n,
                                       struct job_tracking_pending *out)
{
    struct job_tracking_pending p;

    memset(&p, 0, sizeof(p));
    p.ships = mem_calloc(n + 1, sizeof(*p.ships));
    p.nos = mem_calloc(l->n + 1, sizeof(*p.nos));
    if (!p.ships || !p.nos) {
        job_tracking_pending_release(&p);
        return SCB_ENOMEM;
    }
    for (size_t k = 0; k < n; k++) {
        size_t first = p.n;

        for (size_t i = 0; i < l->n; i++) {
            if (!l->e[i].pushed_at[0] &&
                strcmp(l->e[i].shipment_id, ships[k].shipment_id) == 0)
                p.nos[p.n++] = l->e[i].number;
        }
        if (p.n == first)
            continue;
        p.ships[p.n_ships] = ships[k];
        p.ships[p.n_ships].tracking_nos = &p.nos[first];
        p.ships[p.n_ships].n_packages = p.n - first;
        p.n_ships++;
    }
    *out = p;
    return SCB_OK;
}

enum scb_err job_tracking_key(const char *id, struct buf *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t len = strlen(id);
    enum scb_err err;

    if (len <= JOB_TRACKING_KEY_ID_MAX)
        return buf_printf(out, "shipment:%s", id);
    if (!EVP_Digest(id, len, md, &mdlen, EVP_sha256(), NULL))
        return SCB_ENOMEM;
    err = buf_puts(out, "shipment:sha256:");
    for (unsigned int i = 0; i < mdlen && !err; i++)
        err = buf_printf(out, "%02x", md[i]);
    return err;
}

/* ---- one shipment of one order, under the order's lock ---- */

/* KEYS: lock. ARGV: token, ms. Renews the lease if the token holds it. */
static const struct store_script renew_script = {
    "tracking_lock_renew",
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "end\n"
    "return 0\n",
};

/* What the record step found. */
enum trk_step {
    TRK_GO,     /* recorded; the push may go on */
    TRK_PASS,   /* nothing to do: done already, shipped outside... */
    TRK_ATTN,   /* needs_attention recorded; reason in m->reason */
    TRK_NOTYET, /* recorded; the import's outcome is not known yet */
};

struct trk {
    struct jobs *j;
    const struct config *cfg;
    struct queue_job *job;
    struct store *st;
    struct jobs_thread *t;
    const char *jid;
    const struct ddi_shipment *s;
    int64_t id;      /* the Sellercloud order id, from the reference */
    int64_t company; /* the company, from the reference */
    char tok[33];
    bool locked;
    struct order_rec rec;
    bool have_rec;
    struct job_tracking_list list;
    char *inflight;  /* note_inflight as stored; owned; NULL when none */
    struct sc_time created_on;
    int order_source;
    bool have_sc;
    char reason[ORDERSTATE_REASON_MAX];
};

static void trk_init(struct trk *m, struct jobs *j, struct queue_job *job,
                     const struct ddi_shipment *s)
{
    memset(m, 0, sizeof(*m));
    m->j = j;
    m->cfg = j->cfg;
    m->job = job;
    m->st = queue_job_store(job);
    m->jid = queue_job_id(job);
    m->s = s;
}

static void trk_release(struct trk *m)
{
    job_tracking_list_release(&m->list);
    mem_free(m->inflight);
    m->inflight = NULL;
}

static int64_t trk_lease_ms(const struct config *cfg)
{
    int64_t sc = cfg->sc_timeout_s + SC_DEFAULT_BLOCK_MS / 1000;
    int64_t longest = cfg->ddi_timeout_s > sc ? cfg->ddi_timeout_s : sc;

    return (longest + TRK_LOCK_MARGIN_S) * 1000;
}

static enum scb_err trk_lock(struct trk *m)
{
    enum scb_err err = orderstate_lock(m->st, m->id, trk_lease_ms(m->cfg),
                                       m->tok);

    m->locked = err == SCB_OK;
    return err;
}

static void trk_unlock(struct trk *m)
{
    /* An unreleased lock expires after its lease. */
    if (m->locked)
        (void)orderstate_unlock(m->st, m->id, m->tok);
    m->locked = false;
}

/* Renews the order's lock before a call; SCB_ECONFLICT when it is lost. */
static enum scb_err trk_renew(struct trk *m)
{
    struct buf key;
    const char *argv[3];
    char ms[24];
    redisReply *r = NULL;
    enum scb_err err;

    buf_init(&key, 256);
    snprintf(ms, sizeof(ms), "%" PRId64, trk_lease_ms(m->cfg));
    err = store_key(m->st, &key, "lock:order:%" PRId64, m->id);
    if (!err) {
        argv[0] = key.data;
        argv[1] = m->tok;
        argv[2] = ms;
        err = store_eval(m->st, &renew_script, &r, 1, 3, argv, NULL);
    }
    if (!err && (r->type != REDIS_REPLY_INTEGER || r->integer != 1))
        err = SCB_ECONFLICT;
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}

static enum queue_outcome trk_retry(struct trk *m, enum scb_err err)
{
    if (err == SCB_ESTORE || err == SCB_ESTORECMD)
        queue_job_set_error(m->job, "redis: %s: %s", scb_strerror(err),
                            store_errstr(m->st));
    else
        queue_job_set_error(m->job, "%s", scb_strerror(err));
    return QUEUE_RETRY;
}

/* Reads the tracking fields of the order's hash into m->list. */
static enum scb_err trk_load(struct trk *m)
{
    struct buf key;
    redisReply *r = NULL;
    const char *f[3] = { NULL, NULL, NULL };
    enum scb_err err;

    buf_init(&key, 256);
    err = store_key(m->st, &key, "order:%" PRId64, m->id);
    if (!err)
        err = store_cmd(m->st, &r, "HMGET %s tracking shipments "
                        "note_inflight", key.data);
    if (!err && (r->type != REDIS_REPLY_ARRAY || r->elements != 3))
        err = SCB_ESTORECMD;
    for (size_t i = 0; !err && i < 3; i++) {
        if (r->element[i]->type == REDIS_REPLY_STRING)
            f[i] = r->element[i]->str;
    }
    job_tracking_list_release(&m->list);
    mem_free(m->inflight);
    m->inflight = NULL;
    if (!err)
        err = job_tracking_list_parse(f[0], f[1], &m->list);
    if (!err && f[2] && *f[2]) {
        m->inflight = mem_strdup(f[2]);
        err = m->inflight ? SCB_OK : SCB_ENOMEM;
    }
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}

/*
 * Writes state, reason, one history event (or none) and the tracking
 * fields in one step; 'extra' fields (up to 3) go with them.
 */
static enum scb_err trk_write_ex(struct trk *m, const char *state,
                                 const char *reason, const char *event,
                                 const char *detail,
                                 const struct orderstate_field *extra,
                                 size_t n_extra)
{
    struct orderstate_field f[6];
    struct buf tr, sh;
    enum scb_err err;

    buf_init(&tr, JOB_TRACKING_FIELD_MAX);
    buf_init(&sh, JOB_TRACKING_FIELD_MAX);
    err = job_tracking_list_json(&m->list, &tr, &sh);
    f[0] = (struct orderstate_field){ "tracking", tr.data };
    f[1] = (struct orderstate_field){ "shipments", sh.data };
    f[2] = (struct orderstate_field){ "note_inflight",
                                      m->inflight ? m->inflight : "" };
    for (size_t i = 0; i < n_extra && i < 3; i++)
        f[3 + i] = extra[i];
    if (!err)
        err = orderstate_set(m->st, m->cfg, m->id, state, reason, event,
                             detail, f, 3 + (n_extra < 3 ? n_extra : 3));
    /* 'state' and 'reason' may be the record's own fields. */
    if (!err && state != m->rec.state)
        snprintf(m->rec.state, sizeof(m->rec.state), "%s", state);
    if (!err && reason != m->rec.reason)
        snprintf(m->rec.reason, sizeof(m->rec.reason), "%s",
                 reason ? reason : "");
    buf_release(&tr);
    buf_release(&sh);
    return err;
}

/* The same, keeping the order's state and reason. */
static enum scb_err trk_write(struct trk *m, const char *event,
                              const char *detail)
{
    return trk_write_ex(m, m->rec.state,
                        m->rec.reason[0] ? m->rec.reason : NULL, event,
                        detail, NULL, 0);
}

/* "SH1: 1Z1, 1Z2" (and " (complete)") for the shipment_received event. */
static void trk_ship_detail(const struct ddi_shipment *s, const char *how,
                            char *out, size_t n)
{
    size_t len;

    len = (size_t)snprintf(out, n, "%s%s%s%s", s->shipment_id, how,
                           s->complete ? " (complete)" : "",
                           s->n_packages ? ": " : ": no package");
    for (size_t i = 0; i < s->n_packages && len < n; i++)
        len += (size_t)snprintf(out + len, n - len, "%s%s", i ? ", " : "",
                                s->tracking_nos[i]);
}

/* Records 's' in the list; when it is new, with its history event. */
static enum scb_err trk_add(struct trk *m, const struct ddi_shipment *s,
                            const char *how)
{
    char detail[ORDERSTATE_REASON_MAX];
    bool added = false;
    enum scb_err err = job_tracking_list_add(&m->list, m->cfg, s, &added);

    if (err || !added)
        return err;
    trk_ship_detail(s, how, detail, sizeof(detail));
    return trk_write(m, "shipment_received", detail);
}

static void trk_vreason(struct trk *m, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void trk_vreason(struct trk *m, const char *fmt, va_list ap)
{
    vsnprintf(m->reason, sizeof(m->reason), fmt, ap);
}

/*
 * The order needs a person: records the shipment with the state and
 * reason (unless the order shows that reason already).
 */
static enum scb_err trk_attn(struct trk *m, enum trk_step *out,
                             const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum scb_err trk_attn(struct trk *m, enum trk_step *out,
                             const char *fmt, ...)
{
    bool added = false;
    va_list ap;
    enum scb_err err;

    va_start(ap, fmt);
    trk_vreason(m, fmt, ap);
    va_end(ap);
    *out = TRK_ATTN;
    err = job_tracking_list_add(&m->list, m->cfg, m->s, &added);
    if (err == SCB_ETOOBIG)
        err = SCB_OK; /* the reason is what a person needs */
    if (err)
        return err;
    if (strcmp(m->rec.state, "needs_attention") == 0 &&
        strcmp(m->rec.reason, m->reason) == 0)
        return added ? trk_write(m, NULL, NULL) : SCB_OK;
    log_warn("tracking", "order needs attention", LOG_STR("job", m->jid),
             LOG_INT("order", m->id), LOG_STR("reason", m->reason));
    return trk_write_ex(m, "needs_attention", m->reason, "needs_attention",
                        m->reason, NULL, 0);
}

/* No record of the order: one is made, so the shipment shows. */
static enum scb_err trk_unknown(struct trk *m, enum trk_step *out)
{
    char company[24];
    struct orderstate_field f[3] = {
        { "reference", m->s->reference },
        { "company_id", company },
        { "ddi_order_no", m->s->order_no },
    };
    bool added = false;
    enum scb_err err;

    snprintf(company, sizeof(company), "%" PRId64, m->company);
    snprintf(m->reason, sizeof(m->reason),
             "UNKNOWN_REFERENCE: DDI order %s (%s) ship-confirmed %s, and "
             "scbridge knows no Sellercloud order %" PRId64,
             m->s->order_no, m->s->reference, m->s->shipment_id, m->id);
    *out = TRK_ATTN;
    err = job_tracking_list_add(&m->list, m->cfg, m->s, &added);
    if (err == SCB_ETOOBIG)
        err = SCB_OK;
    if (!err) {
        log_warn("tracking", "order needs attention",
                 LOG_STR("job", m->jid), LOG_INT("order", m->id),
                 LOG_STR("reason", m->reason));
        err = trk_write_ex(m, "needs_attention", m->reason,
                           "needs_attention", m->reason, f, 3);
    }
    return err;
}

/* The checks of the record against the shipment; true: one failed. */
static bool trk_mismatch(struct trk *m, enum scb_err *err,
                         enum trk_step *out)
{
    const struct order_rec *r = &m->rec;
    const struct ddi_shipment *s = m->s;

    if (strncmp(r->reason, "UNKNOWN_REFERENCE", 17) == 0 &&
        strcmp(r->state, "needs_attention") == 0) {
        *err = trk_attn(m, out, "%s", r->reason);
        return true;
    }
    if (r->reference[0] && strcmp(r->reference, s->reference) != 0) {
        *err = trk_attn(m, out, "UNKNOWN_REFERENCE: shipment %s carries "
                        "%s, but order %" PRId64 " is %s", s->shipment_id,
                        s->reference, m->id, r->reference);
        return true;
    }
    if (r->ddi_order_no[0] && strcmp(r->ddi_order_no, s->order_no) != 0) {
        *err = trk_attn(m, out, "UNKNOWN_REFERENCE: shipment %s is of DDI "
                        "order %s, but order %" PRId64 " is DDI order %s",
                        s->shipment_id, s->order_no, m->id, r->ddi_order_no);
        return true;
    }
    if (!r->ddi_order_no[0] && strcmp(r->state, "importing") != 0) {
        *err = trk_attn(m, out, "UNKNOWN_REFERENCE: DDI order %s (%s) "
                        "shipped, but order %" PRId64 " was not imported "
                        "(state %s)", s->order_no, s->reference, m->id,
                        r->state);
        return true;
    }
    return false;
}

/*
 * Records the shipment in its order (lock held) and says what follows.
 * Only Redis: the poll runs it inline.
 */
static enum scb_err trk_record(struct trk *m, enum trk_step *out)
{
    const struct job_tracking_ship *ship;
    enum scb_err err = orderstate_get(m->st, m->id, &m->rec);

    m->have_rec = err == SCB_OK;
    if (err == SCB_ENOTFOUND)
        return trk_unknown(m, out);
    if (!err)
        err = trk_load(m);
    if (err)
        return err;
    if (m->rec.shipped_outside || strcmp(m->rec.state, "cancelled") == 0) {
        log_info("tracking", "shipment passed over", LOG_STR("job", m->jid),
                 LOG_INT("order", m->id),
                 LOG_STR("shipment", m->s->shipment_id),
                 LOG_STR("state", m->rec.state),
                 LOG_BOOL("shipped_outside", m->rec.shipped_outside));
        *out = TRK_PASS;
        return SCB_OK;
    }
    if (trk_mismatch(m, &err, out))
        return err;
    err = trk_add(m, m->s, "");
    if (err)
        return err;
    ship = job_tracking_list_find(&m->list, m->s->shipment_id);
    if (!m->rec.ddi_order_no[0])
        *out = TRK_NOTYET;
    else
        *out = ship && ship->done ? TRK_PASS : TRK_GO;
    return SCB_OK;
}

/* ---- the policy ---- */

/* The policy from the stored channel; false when it is ambiguous. */
static bool trk_policy_known(const struct trk *m, bool *out_first)
{
    const struct config_chanmap *map = &m->cfg->partial_shipments;
    const struct config_chan_entry *a, *b;
    int ch[2] = { -1, -1 }, n = 0;

    /* An unknown channel name has no entry of its own: the default. */
    if (!channel_resolve(m->rec.channel, ch, &n))
        n = 1;
    a = config_chanmap_find(map, ch[0]);
    b = n > 1 ? config_chanmap_find(map, ch[1]) : a;
    if (strcmp(a->str, b->str) != 0)
        return false; /* an alias whose two channels differ */
    *out_first = strcmp(a->str, "first") == 0;
    return true;
}

/* A Sellercloud call failed: wait, retry, or (refused) attention. */
static enum queue_outcome trk_sc_fail(struct trk *m, enum scb_err err,
                                      const char *what)
{
    const struct upstream_response *last = sc_client_last(m->t->sc);
    enum queue_outcome out;
    enum trk_step step;

    sc_client_log_failure(m->t->sc, "tracking", m->jid);
    out = jobs_outcome(m->job, err, sc_client_wait_ms(m->t->sc), what);
    if (out != QUEUE_DEAD)
        return out;
    err = trk_attn(m, &step, "SC_REJECTED: %s answered %ld%s%s", what,
                   last ? last->status : 0L,
                   last && last->excerpt[0] ? ": " : "",
                   last ? last->excerpt : "");
    if (err)
        return trk_retry(m, err);
    queue_job_set_reason(m->job, "%s", m->reason);
    return QUEUE_DEAD;
}

static enum queue_outcome trk_dead(struct trk *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum queue_outcome trk_dead(struct trk *m, const char *fmt, ...)
{
    char reason[ORDERSTATE_REASON_MAX];
    enum trk_step step;
    va_list ap;
    enum scb_err err;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    err = trk_attn(m, &step, "%s", reason);
    if (err)
        return trk_retry(m, err);
    queue_job_set_reason(m->job, "%s", m->reason);
    return QUEUE_DEAD;
}

/* CreatedOn and the channel of the Sellercloud order: snapshot or read. */
static enum queue_outcome trk_sc_order(struct trk *m)
{
    struct sc_order_page page;
    struct sc_order o;
    int64_t at = 0;
    enum scb_err err;

    if (m->have_sc)
        return QUEUE_DONE;
    memset(&o, 0, sizeof(o));
    err = order_snap_get(m->st, m->id, &o, &at);
    if (err && err != SCB_ENOTFOUND)
        return trk_retry(m, err);
    if (!err) {
        m->created_on = o.created_on;
        m->order_source = o.order_source;
        m->have_sc = true;
        sc_order_release(&o);
        return QUEUE_DONE;
    }
    memset(&page, 0, sizeof(page));
    err = sc_orders_by_ids(m->t->sc, &m->rec.company_id, 1, &m->id, 1,
                           &page);
    if (err)
        return trk_sc_fail(m, err, "GET /api/Orders");
    for (size_t i = 0; i < page.n_orders; i++) {
        if (page.orders[i].id == m->id) {
            m->created_on = page.orders[i].created_on;
            m->order_source = page.orders[i].order_source;
            m->have_sc = true;
        }
    }
    sc_order_page_release(&page);
    if (!m->have_sc)
        return trk_dead(m, "SC_REJECTED: Sellercloud does not show order "
                        "%" PRId64 " in company %" PRId64, m->id,
                        m->rec.company_id);
    return QUEUE_DONE;
}

/* The policy of the order's channel ("first" or "complete"). */
static enum queue_outcome trk_policy(struct trk *m, bool *out_first)
{
    const struct config_chan_entry *e;
    enum queue_outcome out;

    if (trk_policy_known(m, out_first))
        return QUEUE_DONE;
    out = trk_sc_order(m);
    if (out != QUEUE_DONE)
        return out;
    e = config_chanmap_find(&m->cfg->partial_shipments, m->order_source);
    *out_first = strcmp(e->str, "first") == 0;
    return QUEUE_DONE;
}

/* ---- the push ---- */

static void trk_now_text(char out[32])
{
    orderstate_fmt_time(orderstate_now_ms(), out);
}

/* A note the service sent before it could record it: never sent again. */
static enum scb_err trk_recover_note(struct trk *m)
{
    cJSON *root = NULL;
    const cJSON *it;
    char at[32], detail[ORDERSTATE_REASON_MAX];
    size_t len;
    enum scb_err err;

    err = jsonio_parse(m->inflight, strlen(m->inflight),
                       JOB_TRACKING_FIELD_MAX, &root);
    if (err == SCB_EPARSE)
        err = SCB_OK; /* a garbled marker: nothing to mark */
    if (err)
        return err;
    trk_now_text(at);
    len = (size_t)snprintf(detail, sizeof(detail), "%s",
                           "an order note may not have reached "
                           "Sellercloud; it is not sent twice:");
    cJSON_ArrayForEach(it, root)
    {
        if (!cJSON_IsString(it))
            continue;
        job_tracking_list_mark(&m->list,
                               (const char *const *)&it->valuestring, 1, at);
        if (len < sizeof(detail))
            len += (size_t)snprintf(detail + len, sizeof(detail) - len,
                                    " %s", it->valuestring);
    }
    cJSON_Delete(root);
    mem_free(m->inflight);
    m->inflight = NULL;
    log_warn("tracking", "order note outcome unknown: not sent again",
             LOG_STR("job", m->jid), LOG_INT("order", m->id));
    return trk_write(m, "note", detail);
}

/* Records every shipment of the DDI order and puts the list in its order. */
static enum queue_outcome trk_merge(struct trk *m,
                                    const struct ddi_order *o)
{
    char how[DDI_ID_MAX + 32];
    enum scb_err err = SCB_OK;

    snprintf(how, sizeof(how), " (found in DDI order %s)", o->order_no);
    for (size_t i = 0; !err && i < o->n_shipments; i++)
        err = trk_add(m, &o->shipments[i], how);
    if (err == SCB_ETOOBIG)
        return trk_dead(m, "SC_REJECTED: DDI order %s has more than %d "
                        "tracking numbers or %d shipments", o->order_no,
                        JOB_TRACKING_MAX_NUMBERS,
                        JOB_TRACKING_MAX_SHIPMENTS);
    if (!err)
        err = job_tracking_list_order(&m->list, o->shipments,
                                      o->n_shipments);
    if (!err && m->inflight)
        err = trk_recover_note(m);
    return err ? trk_retry(m, err) : QUEUE_DONE;
}

/* The tracking calls of one push, package by package. */
static enum queue_outcome trk_calls(struct trk *m,
                                    const struct order_map_push *p)
{
    enum scb_err err;

    for (size_t i = 0; i < p->n_calls; i++) {
        const struct order_map_call *c = &p->calls[i];

        err = trk_renew(m);
        if (err == SCB_ECONFLICT) {
            queue_job_set_error(m->job, "the order's lock was lost");
            return QUEUE_RETRY;
        }
        if (err)
            return trk_retry(m, err);
        if (c->package == 1)
            err = sc_order_ship(m->t->sc, &c->t);
        else
            err = sc_order_ship_package(m->t->sc, &c->t);
        if (err)
            return trk_sc_fail(m, err, c->package == 1
                                   ? "PUT /api/Orders/ShippingStatus"
                                   : "PUT /api/Orders/ShippingStatus/"
                                     "SinglePackage");
    }
    return QUEUE_DONE;
}

/* JSON array text of 'n' numbers (new; mem_free()), or NULL on OOM. */
static char *trk_numbers_json(const char *const *nos, size_t n)
{
    struct buf b;
    enum scb_err err;

    buf_init(&b, JOB_TRACKING_FIELD_MAX);
    err = buf_putc(&b, '[');
    for (size_t i = 0; !err && i < n; i++) {
        err = i ? buf_putc(&b, ',') : SCB_OK;
        if (!err)
            err = buf_put_json_str(&b, nos[i]);
    }
    if (!err)
        err = buf_putc(&b, ']');
    if (err) {
        buf_release(&b);
        return NULL;
    }
    return buf_steal(&b);
}

/*
 * The order note of one push. Its numbers are recorded as in flight
 * first: after a crash or a lost answer the note is not sent again.
 */
static enum queue_outcome trk_note(struct trk *m, const char *note,
                                   const char *const *nos, size_t n)
{
    char at[32];
    enum scb_err err, err2;

    /* Renewed first: the marker then stands just before the call. */
    err = trk_renew(m);
    if (err)
        return trk_retry(m, err);
    m->inflight = trk_numbers_json(nos, n);
    if (!m->inflight)
        return trk_retry(m, SCB_ENOMEM);
    err = trk_write(m, NULL, NULL);
    if (err)
        return trk_retry(m, err);
    err = sc_order_add_note(m->t->sc, m->id, note, 0);
    if (err == SCB_EUNKNOWN) {
        sc_client_log_failure(m->t->sc, "tracking", m->jid);
        queue_job_set_error(m->job, "order note sent, outcome unknown: "
                            "it is not sent again");
        return QUEUE_RETRY;
    }
    mem_free(m->inflight);
    m->inflight = NULL;
    if (err) {
        /* Not added: the marker goes, so that a retry sends the note. */
        err2 = trk_write(m, NULL, NULL);
        if (err2)
            return trk_retry(m, err2);
        return trk_sc_fail(m, err, "POST /api/Orders/{orderID}/Notes");
    }
    trk_now_text(at);
    job_tracking_list_mark(&m->list, nos, n, at);
    return QUEUE_DONE;
}

/* "1Z1 (package 1), 1Z2 (package 2); note: 1Z3, 1Z4". */
static enum scb_err trk_push_detail(const struct order_map_push *p,
                                    const char *const *noted,
                                    struct buf *out)
{
    enum scb_err err = SCB_OK;

    for (size_t i = 0; !err && i < p->n_calls; i++)
        err = buf_printf(out, "%s%s (package %zu)", i ? ", " : "",
                         p->calls[i].t.tracking_number, p->calls[i].package);
    for (size_t i = 0; !err && i < p->n_noted; i++)
        err = buf_printf(out, "%s%s", i ? ", " : (p->n_calls ? "; note: "
                                                             : "note: "),
                         noted[i]);
    return err;
}

/*
 * Every number the policy released is in Sellercloud: the shipments are
 * done, and the order is shipped unless it waits for a person for
 * something else.
 */
static enum queue_outcome trk_finish(struct trk *m, const char *detail)
{
    bool rejected = strncmp(m->rec.reason, "SC_REJECTED", 11) == 0;
    bool attention = strcmp(m->rec.state, "needs_attention") == 0;
    size_t pushed = job_tracking_list_pushed(&m->list);
    char text[96];
    enum scb_err err = SCB_OK;
    /* Without a tracking number Sellercloud shows nothing shipped. */
    bool ship = pushed && strcmp(m->rec.state, "shipped") != 0 &&
                (!attention || rejected);

    /*
     * The shipments turn done only with the state shipped: should the
     * service stop in between, the next run of any of them finishes it.
     */
    if (!ship)
        job_tracking_list_done(&m->list);
    if (detail || !ship)
        err = trk_write(m, detail ? "tracking_pushed" : NULL, detail);
    if (!err && ship) {
        job_tracking_list_done(&m->list);
        snprintf(text, sizeof(text), "Sellercloud holds %zu tracking "
                 "number(s)", pushed);
        err = trk_write_ex(m, "shipped", NULL, "shipped", text, NULL, 0);
    }
    if (err)
        return trk_retry(m, err);
    log_info("tracking", "tracking pushed", LOG_STR("job", m->jid),
             LOG_INT("order", m->id), LOG_STR("shipment", m->s->shipment_id),
             LOG_STR("detail", detail ? detail : "nothing new"));
    return QUEUE_DONE;
}

/* Sends the plan: packages, then the note; then records it all. */
static enum queue_outcome trk_send_plan(struct trk *m,
                                        const struct order_map_push *p,
                                        const struct job_tracking_pending *pd)
{
    const char *const *noted = pd->nos + p->n_calls;
    struct buf detail;
    char at[32];
    enum queue_outcome out = trk_calls(m, p);
    enum scb_err err;

    if (out != QUEUE_DONE)
        return out;
    /* A tracking call marks the whole order FullyShipped: no reserve. */
    err = p->n_calls ? reserve_remove(m->st, m->id, NULL) : SCB_OK;
    if (err) {
        queue_job_set_error(m->job, "reserve_remove: %s: %s",
                            scb_strerror(err), store_errstr(m->st));
        return QUEUE_RETRY;
    }
    trk_now_text(at);
    job_tracking_list_mark(&m->list, pd->nos, p->n_calls, at);
    if (p->note)
        out = trk_note(m, p->note, noted, p->n_noted);
    if (out != QUEUE_DONE)
        return out;
    buf_init(&detail, TRK_DETAIL_MAX);
    if (trk_push_detail(p, noted, &detail) != SCB_OK) {
        buf_release(&detail);
        buf_init(&detail, TRK_DETAIL_MAX);
        (void)buf_puts(&detail, "tracking pushed (detail too long)");
    }
    out = trk_finish(m, detail.data ? detail.data : "");
    buf_release(&detail);
    return out;
}

/* Plans the numbers still held onto the order's packages, then sends. */
static enum queue_outcome trk_send(struct trk *m,
                                   const struct job_tracking_pending *pd)
{
    struct sc_package *pkgs = NULL;
    struct order_map_push plan;
    size_t np = 0, slots, written;
    enum queue_outcome out = trk_sc_order(m);
    enum scb_err err;

    if (out != QUEUE_DONE)
        return out;
    pkgs = mem_calloc(SC_MAX_PACKAGES, sizeof(*pkgs));
    if (!pkgs)
        return trk_retry(m, SCB_ENOMEM);
    err = sc_order_packages(m->t->sc, m->id, pkgs, SC_MAX_PACKAGES, &np);
    if (err) {
        mem_free(pkgs);
        return trk_sc_fail(m, err, "GET /api/Orders/Packages");
    }
    slots = np ? np : 1;
    written = job_tracking_list_pushed(&m->list);
    written = written < slots ? written : slots;
    memset(&plan, 0, sizeof(plan));
    err = order_map_tracking(m->cfg, m->id, &m->created_on,
                             orderstate_now_ms(), pd->ships, pd->n_ships,
                             pkgs, np, written, &plan);
    if (err)
        out = trk_retry(m, err);
    else
        out = trk_send_plan(m, &plan, pd);
    order_map_push_release(&plan);
    mem_free(pkgs);
    return out;
}

static enum queue_outcome trk_ddi_fail(struct trk *m, enum scb_err err,
                                       const struct ddi_error *e)
{
    enum queue_outcome out;

    ddi_client_log_failure(m->t->ddi, "tracking", m->jid);
    out = jobs_outcome(m->job, err, e->wait_ms,
                       "GET /v1/pos-orders/{order_no}");
    if (out != QUEUE_DEAD)
        return out;
    return trk_dead(m, "UNKNOWN_REFERENCE: DDI answered %ld to DDI order "
                    "%s%s%s", e->status, m->s->order_no,
                    e->detail[0] ? ": " : "", e->detail);
}

/*
 * The shipments to push, in DDI order: the DDI order's, and this job's
 * own after them should the order not list it (new array; mem_free()).
 */
static struct ddi_shipment *trk_ships(const struct trk *m,
                                      const struct ddi_order *o,
                                      size_t *out_n)
{
    struct ddi_shipment *all = mem_calloc(o->n_shipments + 2,
                                          sizeof(*all));
    size_t n = o->n_shipments;
    bool listed = false;

    if (!all)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        all[i] = o->shipments[i];
        listed = listed ||
                 strcmp(all[i].shipment_id, m->s->shipment_id) == 0;
    }
    if (!listed)
        all[n++] = *m->s;
    *out_n = n;
    return all;
}

/* Pushes the numbers still held of 'ships' (DDI order). */
static enum queue_outcome trk_push_held(struct trk *m,
                                        const struct ddi_shipment *ships,
                                        size_t n)
{
    struct job_tracking_pending pd;
    enum queue_outcome out;

    if (job_tracking_pending_make(&m->list, ships, n, &pd) != SCB_OK)
        return trk_retry(m, SCB_ENOMEM);
    out = pd.n ? trk_send(m, &pd) : trk_finish(m, NULL);
    job_tracking_pending_release(&pd);
    return out;
}

/* Reads the whole DDI order and pushes what is still held. */
static enum queue_outcome trk_push(struct trk *m)
{
    struct ddi_order_doc *doc = NULL;
    struct ddi_shipment *ships = NULL;
    struct ddi_error e;
    size_t n = 0;
    enum queue_outcome out;
    enum scb_err err;

    memset(&e, 0, sizeof(e));
    err = trk_renew(m);
    if (err)
        return trk_retry(m, err);
    err = ddi_get_order(m->t->ddi, m->s->order_no, &doc, &e);
    if (err)
        return trk_ddi_fail(m, err, &e);
    out = trk_merge(m, &doc->order);
    if (out == QUEUE_DONE) {
        ships = trk_ships(m, &doc->order, &n);
        out = ships ? trk_push_held(m, ships, n)
                    : trk_retry(m, SCB_ENOMEM);
    }
    mem_free(ships);
    ddi_order_doc_free(doc);
    return out;
}

/* ---- tracking.push ---- */

static enum queue_outcome trk_locked(struct trk *m)
{
    enum trk_step step = TRK_PASS;
    bool first = false;
    enum queue_outcome out;
    enum scb_err err = trk_record(m, &step);

    if (err)
        return trk_retry(m, err);
    switch (step) {
    case TRK_PASS:
        return QUEUE_DONE;
    case TRK_ATTN:
        queue_job_set_reason(m->job, "%s", m->reason);
        return QUEUE_DEAD;
    case TRK_NOTYET:
        queue_job_set_error(m->job, "the order's import has not settled");
        queue_job_set_wait(m->job, TRK_IMPORT_WAIT_MS);
        return QUEUE_WAIT;
    case TRK_GO:
        break;
    }
    if (!job_tracking_list_complete(&m->list)) {
        out = trk_policy(m, &first);
        if (out != QUEUE_DONE)
            return out;
        if (!first) {
            log_info("tracking", "shipment held until the order completes",
                     LOG_STR("job", m->jid), LOG_INT("order", m->id),
                     LOG_STR("shipment", m->s->shipment_id));
            return QUEUE_DONE;
        }
    }
    return trk_push(m);
}

static void trk_count_ignored(const char *via)
{
    char labels[48];

    snprintf(labels, sizeof(labels), "via=\"%s\"",
             strcmp(via, "poll") == 0 ? "poll" : "webhook");
    metrics_inc(TRK_IGNORED, labels, 1);
}

static enum queue_outcome trk_job(struct trk *m, const char *via)
{
    enum queue_outcome out;
    enum scb_err err;

    if (!m->s->valid) {
        log_warn("tracking", "shipment record invalid: passed over",
                 LOG_STR("job", m->jid), LOG_STR("problem", m->s->problem));
        return QUEUE_DONE;
    }
    if (!order_map_reference_parse(m->s->reference, &m->company, &m->id)) {
        trk_count_ignored(via);
        return QUEUE_DONE;
    }
    m->t = jobs_thread_get(m->j, m->job);
    if (!m->t) {
        queue_job_set_error(m->job, "out of memory making API clients");
        return QUEUE_RETRY;
    }
    err = trk_lock(m);
    if (err == SCB_ECONFLICT) {
        queue_job_set_wait(m->job, TRK_BUSY_WAIT_MS);
        return QUEUE_WAIT;
    }
    if (err)
        return trk_retry(m, err);
    out = trk_locked(m);
    trk_unlock(m);
    return out;
}

enum queue_outcome job_tracking_push_run(struct queue_job *job, void *ctx)
{
    const cJSON *p = queue_job_json(job);
    const cJSON *rec = cJSON_GetObjectItemCaseSensitive(p, "shipment");
    struct ddi_shipment s;
    struct trk m;
    enum queue_outcome out;

    if (!p || jsonio_i64_or(p, "v", 0) != 1 || !cJSON_IsObject(rec)) {
        queue_job_set_reason(job, "BAD_JOB: tracking.push payload");
        return QUEUE_DEAD;
    }
    if (ddi_shipment_read(rec, &s) != SCB_OK) {
        queue_job_set_error(job, "out of memory reading the shipment");
        return QUEUE_RETRY;
    }
    trk_init(&m, ctx, job, &s);
    out = trk_job(&m, jsonio_str_or(p, "source", "webhook"));
    trk_release(&m);
    ddi_shipment_release(&s);
    return out;
}

/* ---- poll.shipments ---- */

struct poll_run {
    struct jobs *j;
    struct queue_job *job;
    struct store *st;
    struct jobs_thread *t;
    char cursor[DDI_CURSOR_MAX + 1];
    bool have_cursor;
    int64_t ignored;  /* of the page being read */
    int64_t found;
    int64_t queued;
    int64_t total_ignored;
    int64_t total_found;
    int64_t total_queued;
    int64_t seen;
};

static enum scb_err poll_key(struct store *st, struct buf *key)
{
    return store_key(st, key, "poll:%s", JOB_TRACKING_POLL_ID);
}

static enum scb_err poll_cursor_read(struct poll_run *p)
{
    struct buf key;
    redisReply *r = NULL;
    enum scb_err err;

    buf_init(&key, 256);
    err = poll_key(p->st, &key);
    if (!err)
        err = store_cmd(p->st, &r, "HGET %s cursor", key.data);
    if (!err && r->type == REDIS_REPLY_STRING && r->len > 0 &&
        r->len < sizeof(p->cursor)) {
        memcpy(p->cursor, r->str, r->len);
        p->cursor[r->len] = '\0';
        p->have_cursor = true;
    }
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}

static enum scb_err poll_cursor_write(struct poll_run *p, const char *cur)
{
    struct buf key;
    redisReply *r = NULL;
    enum scb_err err;

    buf_init(&key, 256);
    err = poll_key(p->st, &key);
    if (!err)
        err = store_cmd(p->st, &r, "HSET %s cursor %s", key.data, cur);
    if (!err) {
        snprintf(p->cursor, sizeof(p->cursor), "%s", cur);
        p->have_cursor = true;
    }
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}

/* Enqueues tracking.push for 'record' (coalesced with a pending one). */
static enum scb_err poll_enqueue(struct store *st, const char *shipment_id,
                                 const cJSON *record)
{
    struct buf key, payload;
    struct queue_new_job nj;
    enum queue_added added;
    char *text = jsonio_print(record);
    enum scb_err err;

    if (!text)
        return SCB_ENOMEM;
    buf_init(&key, QUEUE_KEY_MAX);
    buf_init(&payload, QUEUE_PAYLOAD_MAX);
    err = job_tracking_key(shipment_id, &key);
    if (!err)
        err = buf_printf(&payload, "{\"v\":1,\"source\":\"poll\","
                         "\"shipment\":%s}", text);
    if (!err) {
        memset(&nj, 0, sizeof(nj));
        nj.type = "tracking.push";
        nj.key = key.data;
        nj.payload = payload.data;
        err = queue_enqueue(st, &nj, &added);
    }
    mem_free(text);
    buf_release(&key);
    buf_release(&payload);
    return err;
}

/* True when a tracking.push job for the shipment waits to be taken. */
static enum scb_err poll_pending(struct store *st, const char *shipment_id,
                                 bool *out)
{
    struct buf k, key;
    redisReply *r = NULL;
    enum scb_err err;

    buf_init(&k, QUEUE_KEY_MAX);
    buf_init(&key, 512);
    err = job_tracking_key(shipment_id, &k);
    if (!err)
        err = store_key(st, &key, "jobs:co:tracking.push:%s", k.data);
    if (!err)
        err = store_cmd(st, &r, "EXISTS %s", key.data);
    if (!err)
        *out = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    if (r)
        freeReplyObject(r);
    buf_release(&k);
    buf_release(&key);
    return err;
}

/* The order's lock, tried for a while: the poll waits for short pushes. */
static enum scb_err poll_lock(struct trk *m)
{
    struct timespec ts = { 0, TRK_POLL_LOCK_SLEEP_MS * 1000000L };
    enum scb_err err = trk_lock(m);

    for (int i = 1; err == SCB_ECONFLICT && i < TRK_POLL_LOCK_TRIES; i++) {
        nanosleep(&ts, NULL);
        err = trk_lock(m);
    }
    return err;
}

/* After the inline record: does a tracking.push job have work to do? */
static bool poll_needs_job(const struct trk *m, enum trk_step step)
{
    bool first = false;

    if (step == TRK_PASS)
        return false;
    if (step != TRK_GO || job_tracking_list_complete(&m->list))
        return true;
    /* Held by the complete policy: nothing to push until it completes. */
    return !trk_policy_known(m, &first) || first;
}

/*
 * A shipment recorded already: pushed, held, or its job failed or was
 * lost with a stopped replica. A job is enqueued again only for the
 * last case (a pending one coalesces); an order waiting for a person is
 * left alone, so nothing is retried forever.
 */
static enum scb_err poll_recorded(struct poll_run *p, struct trk *m,
                                  const struct job_tracking_ship *ship,
                                  const cJSON *record)
{
    enum scb_err err;

    if (ship->done)
        return SCB_OK;
    err = orderstate_get(m->st, m->id, &m->rec);
    if (err == SCB_ENOTFOUND)
        return SCB_OK;
    if (err || m->rec.shipped_outside || !m->rec.ddi_order_no[0] ||
        strcmp(m->rec.state, "needs_attention") == 0 ||
        strcmp(m->rec.state, "cancelled") == 0 ||
        !poll_needs_job(m, TRK_GO))
        return err;
    err = poll_enqueue(p->st, m->s->shipment_id, record);
    p->queued += err == SCB_OK;
    return err;
}

/*
 * One shipment of the service's: recorded in its order here, inline, so
 * that the cursor may pass it; the push itself is a tracking.push job.
 */
static enum queue_outcome poll_one(struct poll_run *p,
                                   const struct ddi_shipment *s,
                                   const cJSON *record)
{
    const struct job_tracking_ship *ship = NULL;
    enum trk_step step = TRK_PASS;
    bool pending = false;
    struct trk m;
    enum queue_outcome out = QUEUE_DONE;
    enum scb_err err;

    trk_init(&m, p->j, p->job, s);
    (void)order_map_reference_parse(s->reference, &m.company, &m.id);
    err = trk_load(&m);
    if (!err)
        ship = job_tracking_list_find(&m.list, s->shipment_id);
    if (!err && ship) {
        err = poll_recorded(p, &m, ship, record);
        goto out;
    }
    if (!err)
        err = poll_pending(p->st, s->shipment_id, &pending);
    if (!err)
        err = poll_lock(&m);
    if (err == SCB_ECONFLICT) {
        queue_job_set_wait(p->job, TRK_BUSY_WAIT_MS);
        out = QUEUE_WAIT;
        goto out;
    }
    if (!err)
        err = trk_record(&m, &step);
    trk_unlock(&m);
    /* Found: no callback brought it (one passed over was never owed). */
    if (!err && !pending && step != TRK_PASS)
        p->found++;
    if (!err && poll_needs_job(&m, step)) {
        err = poll_enqueue(p->st, s->shipment_id, record);
        p->queued += err == SCB_OK;
    }

out:
    if (err && out == QUEUE_DONE)
        out = trk_retry(&m, err);
    trk_release(&m);
    return out;
}

static enum queue_outcome poll_page(struct poll_run *p,
                                    const struct ddi_shipment_page *pg)
{
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(pg->root,
                                                          "items");
    enum queue_outcome out = QUEUE_DONE;

    p->ignored = p->found = p->queued = 0;
    for (size_t i = 0; out == QUEUE_DONE && i < pg->n; i++) {
        const struct ddi_shipment *s = &pg->items[i];

        if (!s->valid) {
            log_warn("poll", "shipment record invalid: passed over",
                     LOG_STR("job", queue_job_id(p->job)),
                     LOG_STR("shipment",
                             s->shipment_id ? s->shipment_id : ""),
                     LOG_STR("problem", s->problem));
            continue;
        }
        if (!order_map_reference_parse(s->reference, NULL, NULL)) {
            p->ignored++;
            continue;
        }
        out = poll_one(p, s, cJSON_GetArrayItem(items, (int)i));
    }
    return out;
}

/* The page is recorded: the cursor passes it, and it is counted. */
static enum queue_outcome poll_advance(struct poll_run *p,
                                       const struct ddi_shipment_page *pg)
{
    enum scb_err err = poll_cursor_write(p, pg->next_cursor);

    if (err) {
        queue_job_set_error(p->job, "redis: %s", scb_strerror(err));
        return QUEUE_RETRY;
    }
    if (p->ignored)
        metrics_inc(TRK_IGNORED, "via=\"poll\"", (double)p->ignored);
    if (p->found)
        metrics_inc(TRK_FOUND, "kind=\"shipment\"", (double)p->found);
    p->total_ignored += p->ignored;
    p->total_found += p->found;
    p->total_queued += p->queued;
    p->seen += (int64_t)pg->n;
    (void)queue_job_renew(p->job); /* a lost lease shows at finish */
    return QUEUE_DONE;
}

static enum queue_outcome poll_fail(struct poll_run *p, enum scb_err err,
                                    const struct ddi_error *e)
{
    enum queue_outcome out;

    ddi_client_log_failure(p->t->ddi, "poll", queue_job_id(p->job));
    out = jobs_outcome(p->job, err, e->wait_ms, "GET /v1/shipments");
    if (out == QUEUE_DEAD)
        queue_job_set_reason(p->job, "DDI_VALIDATION: the shipment poll "
                             "answered %ld%s%s", e->status,
                             e->detail[0] ? ": " : "", e->detail);
    return out;
}

static enum queue_outcome poll_all(struct poll_run *p)
{
    struct ddi_shipment_page *pg = NULL;
    struct ddi_error e;
    char since[32];
    bool more = true;
    enum queue_outcome out = QUEUE_DONE;
    enum scb_err err = poll_cursor_read(p);

    if (err) {
        queue_job_set_error(p->job, "redis: %s", scb_strerror(err));
        return QUEUE_RETRY;
    }
    orderstate_fmt_time(atomic_load(&p->j->shipments_since_ms), since);
    for (int n = 0; out == QUEUE_DONE && more && n < TRK_POLL_PAGES; n++) {
        memset(&e, 0, sizeof(e));
        err = ddi_list_shipments(p->t->ddi,
                                 p->have_cursor ? p->cursor : NULL,
                                 p->have_cursor ? NULL : since,
                                 DDI_SHIPMENTS_LIMIT_MAX, &pg, &e);
        if (err)
            return poll_fail(p, err, &e);
        out = poll_page(p, pg);
        if (out == QUEUE_DONE)
            out = poll_advance(p, pg);
        more = pg->more;
        ddi_shipment_page_free(pg);
        pg = NULL;
    }
    /* A long backlog: the next run starts at once, not at the interval. */
    if (out == QUEUE_DONE && more) {
        err = job_tracking_enqueue_poll(p->st, NULL);
        if (err)
            log_warn("poll", "shipment poll not continued",
                     LOG_STR("job", queue_job_id(p->job)),
                     LOG_STR("detail", scb_strerror(err)));
    }
    return out;
}

enum queue_outcome job_tracking_poll_run(struct queue_job *job, void *ctx)
{
    struct poll_run p;
    int64_t started = orderstate_now_ms();
    enum queue_outcome out;

    memset(&p, 0, sizeof(p));
    p.j = ctx;
    p.job = job;
    p.st = queue_job_store(job);
    if (jobs_start_time(p.j, p.st) != SCB_OK) {
        queue_job_set_error(job, "redis: cannot read the first start");
        return QUEUE_RETRY;
    }
    p.t = jobs_thread_get(p.j, job);
    if (!p.t) {
        queue_job_set_error(job, "out of memory making API clients");
        return QUEUE_RETRY;
    }
    out = poll_all(&p);
    if (out == QUEUE_WAIT)
        return out; /* it runs on in a moment */
    /*
     * The report is for operators; a failed write loses only that. The
     * scheduler turns last_ok_at into
     * scbridge_poll_last_success_timestamp_seconds at each scrape.
     */
    (void)sched_poll_report(p.st, JOB_TRACKING_POLL_ID, started,
                            out == QUEUE_DONE ? NULL
                                              : queue_job_error(job));
    if (out != QUEUE_DONE)
        return out;
    log_info("poll", "shipment poll done", LOG_STR("job", queue_job_id(job)),
             LOG_INT("read", p.seen), LOG_INT("queued", p.total_queued),
             LOG_INT("found", p.total_found),
             LOG_INT("ignored", p.total_ignored));
    return out;
}

/* ---- wiring ---- */

enum scb_err job_tracking_register(struct jobs *j, struct worker_pool *wp)
{
    enum scb_err err;

    metrics_describe(TRK_IGNORED, METRICS_COUNTER,
                     "DDI shipments that are not scbridge's, by where they "
                     "were seen.");
    metrics_describe(TRK_FOUND, METRICS_COUNTER,
                     "What a poll found that no webhook announced.");
    err = worker_pool_register(wp, "tracking.push", job_tracking_push_run, j);
    if (!err)
        err = worker_pool_register(wp, "poll.shipments",
                                   job_tracking_poll_run, j);
    return err;
}

enum scb_err job_tracking_enqueue_poll(struct store *st, void *ctx)
{
    struct queue_new_job nj;
    enum queue_added added;

    (void)ctx; /* the job needs nothing from the scheduler */
    memset(&nj, 0, sizeof(nj));
    nj.type = "poll.shipments";
    nj.key = JOB_TRACKING_POLL_ID;
    nj.payload = "{\"v\":1,\"poll\":\"" JOB_TRACKING_POLL_ID "\"}";
    return queue_enqueue(st, &nj, &added);
}
