/* SPDX-License-Identifier: MIT */
/* Admin API: listing, retrying and discarding dead letters. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonio.h"
#include "log.h"
#include "mem.h"
#include "orderstate.h"
#include "route_admin.h"

#define RA_MOD "admin"
#define RA_PAYLOAD_PARSE_MAX (1u << 20) /* larger payloads: key only */

/* "SC-<company>-<order>", exactly; false for anything else. */
static bool parse_reference(const char *ref, int64_t *out_company,
                            int64_t *out_order)
{
    char tmp[64];
    char *dash;

    if (!ref || strncmp(ref, "SC-", 3) != 0 || strlen(ref) >= sizeof(tmp))
        return false;
    memcpy(tmp, ref + 3, strlen(ref + 3) + 1);
    dash = strchr(tmp, '-');
    if (!dash)
        return false;
    *dash = '\0';
    return route_admin_parse_id(tmp, out_company) &&
           route_admin_parse_id(dash + 1, out_order);
}

static bool from_payload(const char *payload, int64_t *out_company,
                         int64_t *out_order)
{
    cJSON *p = NULL;
    const cJSON *ship;
    int64_t company = 0, order = 0;
    bool found;

    if (!payload || strlen(payload) > RA_PAYLOAD_PARSE_MAX ||
        jsonio_parse(payload, strlen(payload), RA_PAYLOAD_PARSE_MAX, &p))
        return false;
    found = jsonio_get_i64(p, "order_id", 1, INT64_MAX, &order) == SCB_OK;
    if (found) {
        company = jsonio_i64_or(p, "company_id", 0);
    } else {
        ship = cJSON_GetObjectItemCaseSensitive(p, "shipment");
        found = parse_reference(jsonio_str_or(ship, "reference", NULL),
                                &company, &order);
    }
    cJSON_Delete(p);
    if (found) {
        *out_company = company > 0 && company <= INT32_MAX ? company : 0;
        *out_order = order;
    }
    return found;
}

bool route_admin_dead_order(const char *key, const char *payload,
                            int64_t *out_company, int64_t *out_order)
{
    int64_t order;

    if (from_payload(payload, out_company, out_order))
        return true;
    if (key && strncmp(key, "order:", 6) == 0 &&
        route_admin_parse_id(key + 6, &order)) {
        *out_company = 0;
        *out_order = order;
        return true;
    }
    return false;
}

/* ---- the list ---- */

static enum scb_err put_dead(struct buf *out, const struct queue_dead *d)
{
    int64_t company = 0, order = 0;
    bool has = route_admin_dead_order(d->key, d->payload, &company, &order);
    enum scb_err err;

    err = buf_puts(out, "{\"id\":");
    if (!err)
        err = buf_put_json_str(out, d->id);
    if (!err)
        err = buf_puts(out, ",\"type\":");
    if (!err)
        err = buf_put_json_str(out, d->type);
    if (!err && has)
        err = buf_printf(out, ",\"sc_order_id\":%" PRId64, order);
    else if (!err)
        err = buf_puts(out, ",\"sc_order_id\":null");
    if (!err && company > 0)
        err = buf_printf(out, ",\"company_id\":%" PRId64, company);
    else if (!err)
        err = buf_puts(out, ",\"company_id\":null");
    if (!err)
        err = buf_puts(out, ",\"reason\":");
    if (!err)
        err = buf_put_json_str(out, d->reason);
    if (!err)
        err = buf_puts(out, ",\"error\":");
    if (!err)
        err = buf_put_json_str(out, d->error);
    if (!err)
        err = buf_printf(out, ",\"attempts\":%" PRId64 ",\"failed_at\":",
                         d->attempts);
    if (!err)
        err = route_admin_put_time(out, d->failed_at_ms);
    if (!err)
        err = buf_putc(out, '}');
    return err;
}

enum scb_err route_admin_dead_list(struct route_admin_call *c)
{
    struct queue_dead_page page;
    const char *cursor;
    size_t limit;
    enum scb_err err;

    err = route_admin_limit(c->req, &limit);
    if (!err)
        err = route_admin_query(c->req, "cursor", &cursor);
    if (!err && cursor && (!*cursor || strlen(cursor) >= QUEUE_ID_MAX))
        err = SCB_EINVAL;
    if (!err)
        err = queue_dead_list(c->st, cursor, limit, &page);
    if (err)
        return err;
    err = buf_puts(&c->out, "{\"items\":[");
    for (size_t i = 0; !err && i < page.n; i++) {
        err = i ? buf_putc(&c->out, ',') : SCB_OK;
        if (!err)
            err = put_dead(&c->out, &page.items[i]);
    }
    if (!err)
        err = buf_puts(&c->out, "],\"next_cursor\":");
    if (!err)
        err = route_admin_put_str_or_null(&c->out, page.next_cursor);
    if (!err)
        err = buf_putc(&c->out, '}');
    queue_dead_page_release(&page);
    return err;
}

/* ---- retry and discard ---- */

/* A stream id, "<ms>-<seq>"; anything else is no dead letter (404). */
static bool dead_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    size_t digits = 0, dashes = 0;

    if (n == 0 || n >= QUEUE_ID_MAX || id[0] == '-' || id[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (id[i] == '-')
            dashes++;
        else if (id[i] >= '0' && id[i] <= '9')
            digits++;
    }
    return dashes == 1 && digits == n - 1;
}

/* What a dead letter holds, read without touching it. */
struct dead_peek {
    char type[QUEUE_TYPE_MAX + 1];
    char v[8];
    char *key;     /* owned */
    char *payload; /* owned */
};

static void peek_release(struct dead_peek *p)
{
    mem_free(p->key);
    mem_free(p->payload);
    memset(p, 0, sizeof(*p));
}

static enum scb_err peek_fields(const redisReply *f, struct dead_peek *out)
{
    const char *key = "", *payload = "";

    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const char *k, *v;

        if (f->element[i]->type != REDIS_REPLY_STRING ||
            f->element[i + 1]->type != REDIS_REPLY_STRING)
            continue;
        k = f->element[i]->str;
        v = f->element[i + 1]->str;
        if (strcmp(k, "type") == 0)
            snprintf(out->type, sizeof(out->type), "%s", v);
        else if (strcmp(k, "v") == 0)
            snprintf(out->v, sizeof(out->v), "%s", v);
        else if (strcmp(k, "key") == 0)
            key = v;
        else if (strcmp(k, "payload") == 0)
            payload = v;
    }
    out->key = mem_strdup(key);
    out->payload = mem_strdup(payload);
    return out->key && out->payload ? SCB_OK : SCB_ENOMEM;
}

/*
 * Reads dead letter 'id' (the stream of queue.h, "jobs:dead"), so that
 * an order's letter can be replayed before it is dropped.
 */
static enum scb_err dead_peek(struct store *st, const char *id,
                              struct dead_peek *out)
{
    struct dead_peek p;
    struct buf key;
    redisReply *r = NULL;
    enum scb_err err;

    memset(&p, 0, sizeof(p));
    buf_init(&key, 256);
    err = store_key(st, &key, "jobs:dead");
    if (!err)
        err = store_cmd(st, &r, "XRANGE %s %s %s", key.data, id, id);
    if (!err && (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
                 r->element[0]->type != REDIS_REPLY_ARRAY ||
                 r->element[0]->elements != 2 ||
                 r->element[0]->element[1]->type != REDIS_REPLY_ARRAY))
        err = SCB_ENOTFOUND;
    if (!err)
        err = peek_fields(r->element[0]->element[1], &p);
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    if (err)
        peek_release(&p);
    else
        *out = p;
    return err;
}

/* Adds 'event' to the order a letter concerns, if that order is known. */
static enum scb_err note_order(struct route_admin_call *c, const char *key,
                               const char *payload, const char *event,
                               const char *detail, int64_t *out_order)
{
    struct order_rec rec;
    int64_t company, order;
    enum scb_err err;

    *out_order = 0;
    if (!route_admin_dead_order(key, payload, &company, &order))
        return SCB_OK;
    err = orderstate_get(c->st, order, &rec);
    if (err == SCB_ENOTFOUND)
        return SCB_OK;
    if (!err)
        err = orderstate_event(c->st, c->app->cfg, order, event, detail);
    if (!err)
        *out_order = order;
    return err;
}

/*
 * An order.import letter runs as a replay, so that the import looks at
 * its needs_attention order again; the order's history says so.
 */
static enum scb_err retry_order(struct route_admin_call *c, const char *id,
                                const struct dead_peek *p, const char *detail,
                                int64_t *out_order)
{
    struct order_rec rec;
    int64_t company = 0, order;
    enum scb_err err;

    if (strcmp(p->v, QUEUE_SCHEMA) != 0)
        return SCB_EVERSION;
    if (!route_admin_dead_order(p->key, p->payload, &company, &order))
        return SCB_ENOTFOUND;
    err = orderstate_get(c->st, order, &rec);
    if (err && err != SCB_ENOTFOUND)
        return err;
    if (company < 1 && !err)
        company = rec.company_id;
    err = route_admin_rerun(c, company, order, err ? NULL : "admin_retry",
                            detail, id);
    if (!err)
        *out_order = order;
    return err;
}

static enum scb_err retry_other(struct route_admin_call *c, const char *id,
                                const char *detail, int64_t *out_order)
{
    struct queue_dead d;
    enum scb_err err;

    c->wrote = true;
    err = queue_dead_retry(c->st, id, &d);
    if (err)
        return err;
    err = note_order(c, d.key, d.payload, "admin_retry", detail, out_order);
    queue_dead_release(&d);
    return err;
}

enum scb_err route_admin_dead_retry(struct route_admin_call *c)
{
    const char *id = httpd_req_param(c->req, "id");
    struct dead_peek p;
    char detail[160];
    int64_t order = 0;
    enum scb_err err;

    if (!dead_id_ok(id))
        return SCB_ENOTFOUND;
    err = dead_peek(c->st, id, &p);
    if (err)
        return err;
    snprintf(detail, sizeof(detail), "dead letter %s retried (request %s)",
             id, httpd_req_id(c->req));
    if (strcmp(p.type, "order.import") == 0)
        err = retry_order(c, id, &p, detail, &order);
    else
        err = retry_other(c, id, detail, &order);
    if (!err)
        log_info(RA_MOD, "dead letter retried",
                 LOG_STR("req", httpd_req_id(c->req)), LOG_STR("id", id),
                 LOG_STR("type", p.type), LOG_INT("order", order));
    peek_release(&p);
    if (err)
        return err;
    c->status = 202;
    return buf_printf(&c->out, "{\"id\":\"%s\",\"status\":\"requeued\"}", id);
}

enum scb_err route_admin_dead_discard(struct route_admin_call *c)
{
    const char *id = httpd_req_param(c->req, "id");
    struct queue_dead d;
    char detail[160];
    int64_t order = 0;
    enum scb_err err;

    if (!dead_id_ok(id))
        return SCB_ENOTFOUND;
    c->wrote = true;
    err = queue_dead_discard(c->st, id, &d);
    if (err)
        return err;
    snprintf(detail, sizeof(detail), "dead letter %s discarded (request %s)",
             id, httpd_req_id(c->req));
    err = note_order(c, d.key, d.payload, "admin_discard", detail, &order);
    if (!err)
        log_info(RA_MOD, "dead letter discarded",
                 LOG_STR("req", httpd_req_id(c->req)), LOG_STR("id", id),
                 LOG_STR("type", d.type), LOG_INT("order", order));
    queue_dead_release(&d);
    if (err)
        return err;
    return buf_printf(&c->out, "{\"id\":\"%s\",\"status\":\"discarded\"}",
                      id);
}
