/* SPDX-License-Identifier: MIT */
/* Admin API stats, and the gauge of orders overdue for payment. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "orderstate.h"
#include "ratelimit.h"
#include "route_admin.h"

#define RA_HOUR_MS 3600000
#define RA_OVERDUE_METRIC "scbridge_orders_awaiting_payment_overdue"
#define RA_OVERDUE_SCAN_MAX "20000" /* orders looked at, per state */

/*
 * ARGV: prefix, cut-off ms, scan limit. The wait runs from TimeOfOrder
 * (job_import.c). An awaiting_payment order's score is when it entered
 * that state, never before TimeOfOrder, so every order scored at or
 * before the cut-off is overdue; a later one is when its hash holds a
 * time_of_order (Unix ms) at or before the cut-off.
 */
static const struct store_script overdue_script = {
    "admin_overdue",
    "local p, cut, max = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local aw = p .. 'orders:state:awaiting_payment'\n"
    "local n = redis.call('ZCOUNT', aw, '-inf', cut)\n"
    "local later = redis.call('ZRANGEBYSCORE', aw, '(' .. ARGV[2],\n"
    "  '+inf', 'LIMIT', 0, max)\n"
    "for _, id in ipairs(later) do\n"
    "  local t = redis.call('HGET', p .. 'order:' .. id, 'time_of_order')\n"
    "  if t and tonumber(t) and tonumber(t) <= cut then n = n + 1 end\n"
    "end\n"
    "local ids = redis.call('ZRANGE', p .. 'orders:state:needs_attention',\n"
    "  0, max - 1)\n"
    "for _, id in ipairs(ids) do\n"
    "  local r = redis.call('HGET', p .. 'order:' .. id, 'reason')\n"
    "  if r and (r == 'PAYMENT_TIMEOUT' or\n"
    "            string.sub(r, 1, 16) == 'PAYMENT_TIMEOUT:') then\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n",
};

/* KEYS: the hourly count hashes. Answers imported, shipped per key. */
static const struct store_script hours_script = {
    "admin_hours",
    "local out = {}\n"
    "for i = 1, #KEYS do\n"
    "  local v = redis.call('HMGET', KEYS[i], 'imported', 'shipped')\n"
    "  out[#out + 1] = tonumber(v[1]) or 0\n"
    "  out[#out + 1] = tonumber(v[2]) or 0\n"
    "end\n"
    "return out\n",
};

/* ---- the overdue gauge ---- */

enum scb_err route_admin_overdue_count(struct store *st,
                                       const struct config *cfg,
                                       int64_t now_ms, int64_t *out_n)
{
    char cutoff[24];
    const char *argv[3];
    redisReply *r = NULL;
    enum scb_err err;

    snprintf(cutoff, sizeof(cutoff), "%" PRId64,
             now_ms - cfg->awaiting_payment_max_age_s * 1000);
    argv[0] = store_prefix(st);
    argv[1] = cutoff;
    argv[2] = RA_OVERDUE_SCAN_MAX;
    err = store_eval(st, &overdue_script, &r, 0, 3, argv, NULL);
    if (!err && r->type != REDIS_REPLY_INTEGER)
        err = SCB_ESTORECMD;
    if (!err)
        *out_n = r->integer;
    if (r)
        freeReplyObject(r);
    return err;
}

static void ra_collect(void *ctx)
{
    struct app *app = ctx;
    struct store *st = store_pool_get(app->pool);
    int64_t n;

    if (!st)
        return;
    if (route_admin_overdue_count(st, app->cfg, orderstate_now_ms(), &n) ==
        SCB_OK)
        metrics_set(RA_OVERDUE_METRIC, "", (double)n);
    store_pool_put(app->pool, st);
}

void route_admin_metrics_init(struct app *app)
{
    metrics_describe(RA_OVERDUE_METRIC, METRICS_GAUGE,
                     "Orders whose wait for payment passed "
                     "SCBRIDGE_AWAITING_PAYMENT_MAX_AGE and is not resolved.");
    metrics_add_collector(ra_collect, app);
}

/* ---- stats ---- */

static enum scb_err put_queues(struct route_admin_call *c)
{
    struct queue_stats q;
    enum scb_err err = queue_stats_read(c->st, c->app->cfg, &q);

    if (err)
        return err;
    return buf_printf(&c->out,
                      "\"queues\":{\"ready\":%" PRId64 ",\"pending\":%" PRId64
                      ",\"delayed\":%" PRId64 ",\"dead\":%" PRId64
                      "},\"in_flight\":%" PRId64 ",\"oldest_job_age_s\":%.3f",
                      q.ready, q.pending, q.delayed, q.dead, q.in_flight,
                      q.oldest_age_s);
}

static enum scb_err put_orders(struct route_admin_call *c)
{
    int64_t counts[ORDERSTATE_COUNT];
    enum scb_err err = orderstate_counts(c->st, c->app->cfg, counts);

    if (!err)
        err = buf_puts(&c->out, ",\"orders\":{");
    for (size_t i = 0; !err && i < ORDERSTATE_COUNT; i++)
        err = buf_printf(&c->out, "%s\"%s\":%" PRId64, i ? "," : "",
                         orderstate_names[i], counts[i]);
    if (!err)
        err = buf_putc(&c->out, '}');
    return err;
}

static enum scb_err put_hours_reply(struct route_admin_call *c,
                                    const redisReply *r, int64_t first)
{
    char at[32];
    enum scb_err err = buf_puts(&c->out, ",\"last_24h\":[");

    for (size_t i = 0; !err && i < ROUTE_ADMIN_HOURS; i++) {
        orderstate_fmt_time(first + (int64_t)i * RA_HOUR_MS, at);
        err = buf_printf(&c->out,
                         "%s{\"hour\":\"%s\",\"imported\":%lld,"
                         "\"shipped\":%lld}",
                         i ? "," : "", at, r->element[2 * i]->integer,
                         r->element[2 * i + 1]->integer);
    }
    if (!err)
        err = buf_putc(&c->out, ']');
    return err;
}

/* The 24 hours up to the current one, oldest first (orderstate.h). */
static enum scb_err put_hours(struct route_admin_call *c)
{
    int64_t now = orderstate_now_ms();
    int64_t first = now / RA_HOUR_MS * RA_HOUR_MS -
                    (ROUTE_ADMIN_HOURS - 1) * (int64_t)RA_HOUR_MS;
    struct buf keys[ROUTE_ADMIN_HOURS];
    const char *argv[ROUTE_ADMIN_HOURS];
    redisReply *r = NULL;
    enum scb_err err = SCB_OK;

    for (size_t i = 0; i < ROUTE_ADMIN_HOURS; i++) {
        buf_init(&keys[i], 256);
        if (!err)
            err = store_key(c->st, &keys[i], "stats:h:%" PRId64,
                            first + (int64_t)i * RA_HOUR_MS);
        argv[i] = keys[i].data;
    }
    if (!err)
        err = store_eval(c->st, &hours_script, &r, ROUTE_ADMIN_HOURS,
                         ROUTE_ADMIN_HOURS, argv, NULL);
    if (!err && (r->type != REDIS_REPLY_ARRAY ||
                 r->elements != 2 * ROUTE_ADMIN_HOURS))
        err = SCB_ESTORECMD;
    if (!err)
        err = put_hours_reply(c, r, first);
    if (r)
        freeReplyObject(r);
    for (size_t i = 0; i < ROUTE_ADMIN_HOURS; i++)
        buf_release(&keys[i]);
    return err;
}

/* One poll of the configuration, as the scheduler names it. */
struct ra_poll {
    const char *kind;
    int64_t company; /* 0 for the DDI polls */
    const char *key;
    int64_t interval_s;
};

static const char *const poll_fields[] = { "cursor", "last_run_at",
                                           "last_ok_at", "last_error" };
#define RA_POLL_NFIELDS (sizeof(poll_fields) / sizeof(poll_fields[0]))

static int64_t reply_ms(const redisReply *e)
{
    return e->type == REDIS_REPLY_STRING ? strtoll(e->str, NULL, 10) : 0;
}

static const char *reply_text(const redisReply *e)
{
    return e->type == REDIS_REPLY_STRING ? e->str : NULL;
}

static enum scb_err put_poll_reply(struct buf *out, const struct ra_poll *p,
                                   const redisReply *r)
{
    enum scb_err err;

    err = buf_printf(out, "{\"poll\":\"%s\",\"company_id\":", p->kind);
    if (!err)
        err = p->company ? buf_printf(out, "%" PRId64, p->company)
                         : buf_puts(out, "null");
    if (!err)
        err = buf_puts(out, ",\"key\":");
    if (!err)
        err = buf_put_json_str(out, p->key);
    if (!err)
        err = buf_puts(out, ",\"cursor\":");
    if (!err)
        err = route_admin_put_str_or_null(out, reply_text(r->element[0]));
    if (!err)
        err = buf_printf(out, ",\"interval_s\":%" PRId64 ",\"last_run_at\":",
                         p->interval_s);
    if (!err)
        err = route_admin_put_time(out, reply_ms(r->element[1]));
    if (!err)
        err = buf_puts(out, ",\"last_ok_at\":");
    if (!err)
        err = route_admin_put_time(out, reply_ms(r->element[2]));
    if (!err)
        err = buf_puts(out, ",\"last_error\":");
    if (!err)
        err = route_admin_put_str_or_null(out, reply_text(r->element[3]));
    if (!err)
        err = buf_putc(out, '}');
    return err;
}

static enum scb_err put_poll(struct route_admin_call *c,
                             const struct ra_poll *p, bool first)
{
    const char *argv[2 + RA_POLL_NFIELDS];
    struct buf key;
    redisReply *r = NULL;
    enum scb_err err;

    buf_init(&key, 512);
    if (p->company)
        err = store_key(c->st, &key, "poll:%s:%" PRId64 ":%s", p->kind,
                        p->company, p->key);
    else
        err = store_key(c->st, &key, "poll:%s:%s", p->kind, p->key);
    argv[0] = "HMGET";
    argv[1] = key.data;
    for (size_t i = 0; i < RA_POLL_NFIELDS; i++)
        argv[2 + i] = poll_fields[i];
    if (!err)
        err = store_cmd_argv(c->st, &r, 2 + RA_POLL_NFIELDS, argv, NULL);
    if (!err && (r->type != REDIS_REPLY_ARRAY ||
                 r->elements != RA_POLL_NFIELDS))
        err = SCB_ESTORECMD;
    if (!err && !first)
        err = buf_putc(&c->out, ',');
    if (!err)
        err = put_poll_reply(&c->out, p, r);
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}

/* Every poll the configuration makes (scheduler.h), orders first. */
static enum scb_err put_polls(struct route_admin_call *c)
{
    const struct config *cfg = c->app->cfg;
    struct ra_poll p;
    bool first = true;
    enum scb_err err = buf_puts(&c->out, ",\"polls\":[");

    for (size_t i = 0; !err && i < cfg->n_sc_company_ids; i++) {
        for (size_t k = 0; !err && k < cfg->poll_orders.n; k++) {
            p = (struct ra_poll){ "orders", cfg->sc_company_ids[i],
                                  cfg->poll_orders.e[k].key,
                                  cfg->poll_orders.e[k].secs };
            err = put_poll(c, &p, first);
            first = false;
        }
    }
    p = (struct ra_poll){ "shipments", 0, "default", cfg->poll_shipments_s };
    if (!err)
        err = put_poll(c, &p, first);
    p = (struct ra_poll){ "items", 0, "default", cfg->poll_items_s };
    if (!err)
        err = put_poll(c, &p, false);
    if (!err)
        err = buf_putc(&c->out, ']');
    return err;
}

static enum scb_err put_rate(struct route_admin_call *c)
{
    int64_t until = 0;
    enum scb_err err = ratelimit_paused_until(c->st, "sellercloud", &until);

    if (!err && until <= orderstate_now_ms())
        until = 0;
    if (!err)
        err = buf_puts(&c->out,
                       ",\"rate_limit\":{\"sellercloud\":{\"paused_until\":");
    if (!err)
        err = route_admin_put_time(&c->out, until);
    if (!err)
        err = buf_puts(&c->out, "}}");
    return err;
}

enum scb_err route_admin_stats(struct route_admin_call *c)
{
    enum scb_err err = buf_putc(&c->out, '{');

    if (!err)
        err = put_queues(c);
    if (!err)
        err = put_orders(c);
    if (!err)
        err = put_hours(c);
    if (!err)
        err = put_polls(c);
    if (!err)
        err = put_rate(c);
    if (!err)
        err = buf_putc(&c->out, '}');
    return err;
}
