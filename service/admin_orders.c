/* SPDX-License-Identifier: MIT */
/* Admin API: one order, orders by state, and replaying an order. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs.h"
#include "jsonio.h"
#include "log.h"
#include "mem.h"
#include "orderstate.h"
#include "route_admin.h"

#define RA_MOD "admin"
#define RA_CURSOR_MAX 48 /* bytes of an orders cursor */

const char *const route_admin_field_names[RA_F_COUNT] = {
    [RA_F_STATE] = "state",
    [RA_F_REASON] = "reason",
    [RA_F_COMPANY] = "company_id",
    [RA_F_CHANNEL] = "channel",
    [RA_F_CHANNEL_ORDER] = "channel_order_id",
    [RA_F_REFERENCE] = "reference",
    [RA_F_DDI_NO] = "ddi_order_no",
    [RA_F_UPDATED] = "updated_at",
    [RA_F_TRACKING] = "tracking",
};

/*
 * A page of one state's index, most recently updated first. Orders
 * updated in the same millisecond come in Redis's order for equal
 * scores (members by descending bytes), so the cursor is the last
 * item's score and id. ARGV: prefix, state, limit, cursor score or '',
 * cursor id, then the hash fields. Answers {next score or '', next id
 * or '', id, fields..., id, fields...}; an expired order's fields are
 * nil.
 */
static const struct store_script page_script = {
    "admin_orders_page",
    "local p, lim = ARGV[1], tonumber(ARGV[3])\n"
    "local z = p .. 'orders:state:' .. ARGV[2]\n"
    "local got, top = {}, '+inf'\n"
    "if ARGV[4] ~= '' then\n"
    "  local same = redis.call('ZREVRANGEBYSCORE', z, ARGV[4], ARGV[4])\n"
    "  for _, m in ipairs(same) do\n"
    "    if #got <= lim and m < ARGV[5] then\n"
    "      got[#got + 1] = {m, ARGV[4]}\n"
    "    end\n"
    "  end\n"
    "  top = '(' .. ARGV[4]\n"
    "end\n"
    "if #got <= lim then\n"
    "  local r = redis.call('ZREVRANGEBYSCORE', z, top, '-inf',\n"
    "    'WITHSCORES', 'LIMIT', 0, lim + 1 - #got)\n"
    "  for i = 1, #r, 2 do got[#got + 1] = {r[i], r[i + 1]} end\n"
    "end\n"
    "local out = {'', ''}\n"
    "if #got > lim then out[1], out[2] = got[lim][2], got[lim][1] end\n"
    "local fields = {}\n"
    "for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end\n"
    "for i = 1, math.min(#got, lim) do\n"
    "  local id = got[i][1]\n"
    "  out[#out + 1] = id\n"
    "  local f = redis.call('HMGET', p .. 'order:' .. id, unpack(fields))\n"
    "  for j = 1, #fields do out[#out + 1] = f[j] end\n"
    "end\n"
    "return out\n",
};

/* ---- the order object ---- */

static enum scb_err put_pushed_at(struct buf *out, const cJSON *at)
{
    if (cJSON_IsString(at) && at->valuestring[0])
        return buf_put_json_str(out, at->valuestring);
    if (cJSON_IsNumber(at) && at->valuedouble >= 1)
        return route_admin_put_time(out, (int64_t)at->valuedouble);
    return buf_puts(out, "null");
}

static enum scb_err put_tracking_entry(struct buf *out, const cJSON *e)
{
    static const char *const keys[] = { "number", "carrier", "service",
                                        "shipment_id" };
    enum scb_err err = buf_putc(out, '{');

    for (size_t i = 0; !err && i < sizeof(keys) / sizeof(keys[0]); i++) {
        err = buf_printf(out, "%s\"%s\":", i ? "," : "", keys[i]);
        if (!err)
            err = buf_put_json_str(out, jsonio_str_or(e, keys[i], ""));
    }
    if (!err)
        err = buf_puts(out, ",\"pushed_at\":");
    if (!err)
        err = put_pushed_at(out,
                            cJSON_GetObjectItemCaseSensitive(e, "pushed_at"));
    if (!err)
        err = buf_putc(out, '}');
    return err;
}

/* The stored list, element by element, so the shape is the contract's. */
static enum scb_err put_tracking(struct buf *out, const char *text)
{
    cJSON *root = NULL;
    const cJSON *e;
    bool first = true;
    enum scb_err err;

    if (!text || !*text)
        return buf_puts(out, "[]");
    err = jsonio_parse(text, strlen(text), ROUTE_ADMIN_TRACKING_MAX, &root);
    if (err == SCB_ENOMEM)
        return err;
    if (err || !cJSON_IsArray(root)) {
        cJSON_Delete(root);
        return buf_puts(out, "[]");
    }
    err = buf_putc(out, '[');
    cJSON_ArrayForEach (e, root) {
        if (err)
            break;
        if (!cJSON_IsObject(e))
            continue;
        err = first ? SCB_OK : buf_putc(out, ',');
        if (!err)
            err = put_tracking_entry(out, e);
        first = false;
    }
    if (!err)
        err = buf_putc(out, ']');
    cJSON_Delete(root);
    return err;
}

static enum scb_err put_field(struct buf *out, const char *name,
                              const char *value)
{
    enum scb_err err = buf_printf(out, ",\"%s\":", name);

    return err ? err : route_admin_put_str_or_null(out, value);
}

enum scb_err route_admin_order_json(struct buf *out, int64_t id,
                                    const char *const v[RA_F_COUNT])
{
    int64_t company = 0;
    const char *upd = v[RA_F_UPDATED];
    enum scb_err err;

    err = buf_printf(out, "{\"sc_order_id\":%" PRId64 ",\"company_id\":", id);
    if (!err && route_admin_parse_id(v[RA_F_COMPANY], &company))
        err = buf_printf(out, "%" PRId64, company);
    else if (!err)
        err = buf_puts(out, "null");
    if (!err)
        err = put_field(out, "channel", v[RA_F_CHANNEL]);
    if (!err)
        err = put_field(out, "channel_order_id", v[RA_F_CHANNEL_ORDER]);
    if (!err)
        err = put_field(out, "reference", v[RA_F_REFERENCE]);
    if (!err)
        err = put_field(out, "state", v[RA_F_STATE]);
    if (!err)
        err = put_field(out, "reason", v[RA_F_REASON]);
    if (!err)
        err = put_field(out, "ddi_order_no", v[RA_F_DDI_NO]);
    if (!err)
        err = buf_puts(out, ",\"tracking\":");
    if (!err)
        err = put_tracking(out, v[RA_F_TRACKING]);
    if (!err)
        err = buf_puts(out, ",\"updated_at\":");
    if (!err)
        err = route_admin_put_time(out, upd ? strtoll(upd, NULL, 10) : 0);
    return err;
}

/* The values of one order's fields out of reply elements 'el'. */
static bool fields_from(redisReply *const *el, const char *v[RA_F_COUNT])
{
    for (size_t i = 0; i < RA_F_COUNT; i++)
        v[i] = el[i]->type == REDIS_REPLY_STRING ? el[i]->str : NULL;
    return v[RA_F_STATE] != NULL;
}

/* ---- one order ---- */

/* Appends order 'id' with its history; SCB_ENOTFOUND when unknown. */
static enum scb_err write_order(struct route_admin_call *c, int64_t id)
{
    const char *argv[2 + RA_F_COUNT];
    const char *v[RA_F_COUNT];
    redisReply *r = NULL;
    struct buf key;
    enum scb_err err;

    buf_init(&key, 256);
    err = store_key(c->st, &key, "order:%" PRId64, id);
    if (err)
        goto out;
    argv[0] = "HMGET";
    argv[1] = key.data;
    for (size_t i = 0; i < RA_F_COUNT; i++)
        argv[2 + i] = route_admin_field_names[i];
    err = store_cmd_argv(c->st, &r, 2 + RA_F_COUNT, argv, NULL);
    if (err)
        goto out;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != RA_F_COUNT ||
        !fields_from(r->element, v)) {
        err = SCB_ENOTFOUND;
        goto out;
    }
    err = route_admin_order_json(&c->out, id, v);
    if (!err)
        err = buf_puts(&c->out, ",\"history\":");
    if (!err)
        err = orderstate_history_json(c->st, id, &c->out);
    if (!err)
        err = buf_putc(&c->out, '}');

out:
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}

enum scb_err route_admin_order_get(struct route_admin_call *c)
{
    int64_t id;

    if (!route_admin_parse_id(httpd_req_param(c->req, "sc_order_id"), &id))
        return SCB_EINVAL;
    return write_order(c, id);
}

/* A DDI order number as the API accepts it: printable ASCII, no space. */
static bool ddi_no_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > ROUTE_ADMIN_DDI_NO_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] <= ' ' || s[i] > '~')
            return false;
    }
    return true;
}

static enum scb_err by_ddi_no(struct route_admin_call *c, const char *no)
{
    int64_t id;
    enum scb_err err;

    if (!ddi_no_ok(no))
        return SCB_EINVAL;
    err = orderstate_find_ddi(c->st, no, &id);
    return err ? err : write_order(c, id);
}

/* ---- orders by state ---- */

struct page_cursor {
    char score[24]; /* "" for the first page */
    char id[24];
};

/* "<updated ms>.<sc order id>", as page_script's answer gives them. */
static enum scb_err cursor_parse(const char *text, struct page_cursor *out)
{
    char tmp[RA_CURSOR_MAX];
    int64_t score, id;
    char *dot;

    memset(out, 0, sizeof(*out));
    if (!text)
        return SCB_OK;
    if (strlen(text) >= sizeof(tmp))
        return SCB_EINVAL;
    memcpy(tmp, text, strlen(text) + 1);
    dot = strchr(tmp, '.');
    if (!dot)
        return SCB_EINVAL;
    *dot = '\0';
    if (!route_admin_parse_id(tmp, &score) ||
        !route_admin_parse_id(dot + 1, &id))
        return SCB_EINVAL;
    snprintf(out->score, sizeof(out->score), "%" PRId64, score);
    snprintf(out->id, sizeof(out->id), "%" PRId64, id);
    return SCB_OK;
}

static enum scb_err put_page(struct route_admin_call *c, const redisReply *r)
{
    const size_t step = 1 + RA_F_COUNT;
    const char *v[RA_F_COUNT];
    bool first = true;
    int64_t id;
    enum scb_err err = buf_puts(&c->out, "{\"items\":[");

    for (size_t i = 2; !err && i + step <= r->elements; i += step) {
        const redisReply *e = r->element[i];

        if (e->type != REDIS_REPLY_STRING ||
            !route_admin_parse_id(e->str, &id) ||
            !fields_from(r->element + i + 1, v))
            continue; /* expired since it was indexed */
        err = first ? SCB_OK : buf_putc(&c->out, ',');
        if (!err)
            err = route_admin_order_json(&c->out, id, v);
        if (!err)
            err = buf_putc(&c->out, '}');
        first = false;
    }
    if (!err)
        err = buf_puts(&c->out, "],\"next_cursor\":");
    if (!err && r->element[0]->type == REDIS_REPLY_STRING &&
        r->element[0]->len > 0)
        err = buf_printf(&c->out, "\"%s.%s\"}", r->element[0]->str,
                         r->element[1]->str);
    else if (!err)
        err = buf_puts(&c->out, "null}");
    return err;
}

static enum scb_err by_state(struct route_admin_call *c, const char *state)
{
    const char *argv[5 + RA_F_COUNT];
    struct page_cursor cur;
    const char *ctext;
    char lim[24];
    size_t limit;
    redisReply *r = NULL;
    enum scb_err err;

    if (!orderstate_valid(state))
        return SCB_EINVAL;
    err = route_admin_limit(c->req, &limit);
    if (!err)
        err = route_admin_query(c->req, "cursor", &ctext);
    if (!err)
        err = cursor_parse(ctext, &cur);
    if (err)
        return err;
    snprintf(lim, sizeof(lim), "%zu", limit);
    argv[0] = store_prefix(c->st);
    argv[1] = state;
    argv[2] = lim;
    argv[3] = cur.score;
    argv[4] = cur.id;
    for (size_t i = 0; i < RA_F_COUNT; i++)
        argv[5 + i] = route_admin_field_names[i];
    err = store_eval(c->st, &page_script, &r, 0, 5 + RA_F_COUNT, argv, NULL);
    if (!err && (r->type != REDIS_REPLY_ARRAY || r->elements < 2))
        err = SCB_ESTORECMD;
    if (!err)
        err = put_page(c, r);
    if (r)
        freeReplyObject(r);
    return err;
}

enum scb_err route_admin_orders(struct route_admin_call *c)
{
    const char *state, *no;
    enum scb_err err;

    err = route_admin_query(c->req, "state", &state);
    if (!err)
        err = route_admin_query(c->req, "ddi_order_no", &no);
    if (err)
        return err;
    if (!state == !no)
        return SCB_EINVAL; /* exactly one of the two */
    return state ? by_state(c, state) : by_ddi_no(c, no);
}

/* ---- replay ---- */

enum scb_err route_admin_rerun(struct route_admin_call *c, int64_t company,
                               int64_t id, const char *event,
                               const char *detail, const char *dead_id)
{
    enum scb_err err = SCB_OK;

    if (company < 1 && c->app->cfg->n_sc_company_ids > 0)
        company = c->app->cfg->sc_company_ids[0];
    c->wrote = true;
    /* The event first, so the history reads in the order things ran. */
    if (event)
        err = orderstate_event(c->st, c->app->cfg, id, event, detail);
    if (!err)
        err = jobs_enqueue_import(c->st, company, id, "replay", 0, 0);
    /*
     * By id, not by key: should the replay already have failed again,
     * its new letter stands (it replaced this one, hence SCB_ENOTFOUND).
     */
    if (!err && dead_id && *dead_id) {
        err = queue_dead_discard(c->st, dead_id, NULL);
        if (err == SCB_ENOTFOUND)
            err = SCB_OK;
    }
    return err;
}

/* The id of the dead letter of order 'id' into out ("" when none). */
static enum scb_err order_dead_id(struct store *st, int64_t id,
                                  char out[QUEUE_ID_MAX])
{
    struct buf key;
    redisReply *r = NULL;
    enum scb_err err;

    buf_init(&key, 256);
    err = store_key(st, &key, "jobs:dead:key:" JOBS_ORDER_KEY_FMT,
                    (long long)id);
    if (!err)
        err = store_cmd(st, &r, "GET %s", key.data);
    if (!err) {
        if (r->type == REDIS_REPLY_STRING && r->len < QUEUE_ID_MAX)
            memcpy(out, r->str, r->len + 1);
        else
            out[0] = '\0';
    }
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}

enum scb_err route_admin_replay(struct route_admin_call *c)
{
    struct order_rec rec;
    char dead[QUEUE_ID_MAX], detail[128];
    int64_t id;
    enum scb_err err;

    if (!route_admin_parse_id(httpd_req_param(c->req, "sc_order_id"), &id))
        return SCB_EINVAL;
    err = orderstate_get(c->st, id, &rec);
    if (!err)
        err = order_dead_id(c->st, id, dead);
    if (err)
        return err;
    snprintf(detail, sizeof(detail), "replay requested (request %s)",
             httpd_req_id(c->req));
    err = route_admin_rerun(c, rec.company_id, id, "admin_replay", detail,
                            dead);
    if (err)
        return err;
    log_info(RA_MOD, "order replayed", LOG_STR("req", httpd_req_id(c->req)),
             LOG_INT("order", id), LOG_STR("state", rec.state),
             LOG_STR("dead_letter", dead));
    c->status = 202;
    return buf_printf(&c->out,
                      "{\"sc_order_id\":%" PRId64 ",\"status\":\"requeued\"}",
                      id);
}
