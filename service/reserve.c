/* SPDX-License-Identifier: MIT */
/* I of the stock formula: per SKU, imported orders Sellercloud reserves. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_items.h"
#include "mem.h"
#include "reserve.h"

#define RESERVE_KEY_MAX 1024 /* one key: prefix, name and a SKU */

/*
 * KEYS[1] the order's hash, KEYS[2..n+1] the SKU hashes. ARGV[1] the
 * order id, ARGV[2..n+1] the quantities, ARGV[n+2..2n+1] the SKUs.
 * Answers the SKUs the order holds (none once it was removed).
 */
static const struct store_script reserve_add_script = {
    "reserve_add",
    "local st = redis.call('HGET', KEYS[1], 'state')\n"
    "local out = {}\n"
    "if st == 'closed' then return out end\n"
    "if st == 'open' then\n"
    "  for _, k in ipairs(redis.call('HKEYS', KEYS[1])) do\n"
    "    if string.sub(k, 1, 2) == 's:' then\n"
    "      out[#out + 1] = string.sub(k, 3)\n"
    "    end\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "local t = redis.call('TIME')\n"
    "local ms = string.format('%.0f', tonumber(t[1]) * 1000 +\n"
    "                         math.floor(tonumber(t[2]) / 1000))\n"
    "local n = #KEYS - 1\n"
    "redis.call('HSET', KEYS[1], 'state', 'open', 'at', ms)\n"
    "for i = 1, n do\n"
    "  local sku = ARGV[n + 1 + i]\n"
    "  redis.call('HSET', KEYS[1 + i], ARGV[1], ARGV[1 + i] .. ':' .. ms)\n"
    "  redis.call('HSET', KEYS[1], 's:' .. sku, ARGV[1 + i])\n"
    "  out[#out + 1] = sku\n"
    "end\n"
    "return out\n",
};

/*
 * KEYS[1] the order's hash. ARGV[1] the order id, ARGV[2] the prefix of
 * the SKU hashes, ARGV[3] the seconds a closed order is kept. The SKU
 * keys are made here from what the order recorded, which the caller
 * does not know in advance. Answers the SKUs the order held.
 */
static const struct store_script reserve_remove_script = {
    "reserve_remove",
    "local st = redis.call('HGET', KEYS[1], 'state')\n"
    "local out = {}\n"
    "for _, k in ipairs(redis.call('HKEYS', KEYS[1])) do\n"
    "  if string.sub(k, 1, 2) == 's:' then\n"
    "    local sku = string.sub(k, 3)\n"
    "    if st == 'open' then\n"
    "      redis.call('HDEL', ARGV[2] .. sku, ARGV[1])\n"
    "    end\n"
    "    out[#out + 1] = sku\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'state', 'closed')\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
    "return out\n",
};

/* A script's argument vector, its strings kept in one buffer. */
struct rsv_args {
    struct buf text;  /* NUL-separated; moves while it grows */
    size_t *off;      /* of each string in text */
    const char **argv;
    size_t n, cap;
};

static enum scb_err rsv_args_init(struct rsv_args *a, size_t cap)
{
    memset(a, 0, sizeof(*a));
    buf_init(&a->text, cap * RESERVE_KEY_MAX);
    a->off = mem_calloc(cap, sizeof(*a->off));
    a->argv = mem_calloc(cap, sizeof(*a->argv));
    a->cap = cap;
    return a->off && a->argv ? SCB_OK : SCB_ENOMEM;
}

static void rsv_args_release(struct rsv_args *a)
{
    buf_release(&a->text);
    mem_free(a->off);
    mem_free(a->argv);
    memset(a, 0, sizeof(*a));
}

/* Opens the next string; the caller appends it, then rsv_args_end(). */
static enum scb_err rsv_args_next(struct rsv_args *a)
{
    if (a->n == a->cap)
        return SCB_EINVAL;
    a->off[a->n] = a->text.len;
    return SCB_OK;
}

static enum scb_err rsv_args_end(struct rsv_args *a)
{
    enum scb_err err = buf_append(&a->text, "", 1);

    if (!err)
        a->n++;
    return err;
}

static enum scb_err rsv_args_str(struct rsv_args *a, const char *s)
{
    enum scb_err err = rsv_args_next(a);

    if (!err)
        err = buf_puts(&a->text, s);
    return err ? err : rsv_args_end(a);
}

static enum scb_err rsv_args_i64(struct rsv_args *a, int64_t v)
{
    enum scb_err err = rsv_args_next(a);

    if (!err)
        err = buf_printf(&a->text, "%" PRId64, v);
    return err ? err : rsv_args_end(a);
}

static enum scb_err rsv_args_key(struct rsv_args *a, struct store *st,
                                 const char *name, const char *id)
{
    enum scb_err err = rsv_args_next(a);

    if (!err)
        err = store_key(st, &a->text, "%s%s", name, id);
    return err ? err : rsv_args_end(a);
}

static void rsv_args_seal(struct rsv_args *a)
{
    for (size_t i = 0; i < a->n; i++)
        a->argv[i] = a->text.data + a->off[i];
}

/* The order's SKUs, each with the sum of its line quantities. */
struct rsv_lines {
    const char **skus; /* borrowed from the order */
    int64_t *qty;
    size_t n;
};

static void rsv_lines_release(struct rsv_lines *l)
{
    mem_free(l->skus);
    mem_free(l->qty);
    memset(l, 0, sizeof(*l));
}

static enum scb_err rsv_lines_of(const struct sc_order *o,
                                 struct rsv_lines *out)
{
    struct rsv_lines l = { 0 };
    size_t k;

    l.skus = mem_calloc(o->n_lines + 1, sizeof(*l.skus));
    l.qty = mem_calloc(o->n_lines + 1, sizeof(*l.qty));
    if (!l.skus || !l.qty) {
        rsv_lines_release(&l);
        return SCB_ENOMEM;
    }
    for (size_t i = 0; i < o->n_lines; i++) {
        const struct sc_order_line *ln = &o->lines[i];

        if (!ln->product_id[0] || ln->qty < 1)
            continue;
        for (k = 0; k < l.n && strcmp(l.skus[k], ln->product_id); k++)
            ;
        if (k == l.n)
            l.skus[l.n++] = ln->product_id;
        /* Quantities are at most 10^6 a line, 500 lines: no overflow. */
        l.qty[k] += ln->qty;
    }
    *out = l;
    return SCB_OK;
}

/* Enqueues item.sync for the SKUs a script answered. */
static enum scb_err rsv_sync(struct store *st, const redisReply *r)
{
    const char **pnos;
    size_t n = 0;
    enum scb_err err;

    if (r->type != REDIS_REPLY_ARRAY)
        return SCB_ESTORECMD;
    if (r->elements == 0)
        return SCB_OK;
    pnos = mem_calloc(r->elements, sizeof(*pnos));
    if (!pnos)
        return SCB_ENOMEM;
    for (size_t i = 0; i < r->elements; i++) {
        if (r->element[i]->type == REDIS_REPLY_STRING)
            pnos[n++] = r->element[i]->str;
    }
    err = job_items_enqueue_sync(st, pnos, n, "reserve");
    mem_free(pnos);
    return err;
}

static enum scb_err rsv_order_ok(int64_t order_id, const struct sc_order *o)
{
    if (order_id < 1 || (o && o->id != order_id))
        return SCB_EINVAL;
    return SCB_OK;
}

static enum scb_err rsv_add_args(struct store *st, int64_t order_id,
                                 const struct rsv_lines *l,
                                 struct rsv_args *a)
{
    char id[24];
    enum scb_err err;

    snprintf(id, sizeof(id), "%" PRId64, order_id);
    err = rsv_args_init(a, 3 * l->n + 2);
    if (!err)
        err = rsv_args_key(a, st, "reserve:order:", id);
    for (size_t i = 0; !err && i < l->n; i++)
        err = rsv_args_key(a, st, "reserve:sku:", l->skus[i]);
    if (!err)
        err = rsv_args_str(a, id);
    for (size_t i = 0; !err && i < l->n; i++)
        err = rsv_args_i64(a, l->qty[i]);
    for (size_t i = 0; !err && i < l->n; i++)
        err = rsv_args_str(a, l->skus[i]);
    if (!err)
        rsv_args_seal(a);
    return err;
}

enum scb_err reserve_add(struct store *st, int64_t order_id,
                         const struct sc_order *o)
{
    struct rsv_lines l = { 0 };
    struct rsv_args a;
    redisReply *r = NULL;
    enum scb_err err;

    memset(&a, 0, sizeof(a));
    err = o ? rsv_order_ok(order_id, o) : SCB_EINVAL;
    if (!err)
        err = rsv_lines_of(o, &l);
    if (!err)
        err = rsv_add_args(st, order_id, &l, &a);
    if (!err)
        err = store_eval(st, &reserve_add_script, &r, (int)l.n + 1,
                         (int)a.n, a.argv, NULL);
    if (!err)
        err = rsv_sync(st, r);
    if (r)
        freeReplyObject(r);
    rsv_args_release(&a);
    rsv_lines_release(&l);
    return err;
}

enum scb_err reserve_remove(struct store *st, int64_t order_id,
                            const struct sc_order *o)
{
    struct rsv_args a;
    redisReply *r = NULL;
    char id[24];
    enum scb_err err;

    memset(&a, 0, sizeof(a));
    snprintf(id, sizeof(id), "%" PRId64, order_id);
    err = rsv_order_ok(order_id, o);
    if (!err)
        err = rsv_args_init(&a, 4);
    if (!err)
        err = rsv_args_key(&a, st, "reserve:order:", id);
    if (!err)
        err = rsv_args_str(&a, id);
    if (!err)
        err = rsv_args_key(&a, st, "reserve:sku:", "");
    if (!err)
        err = rsv_args_i64(&a, RESERVE_CLOSED_TTL_S);
    if (!err) {
        rsv_args_seal(&a);
        err = store_eval(st, &reserve_remove_script, &r, 1, (int)a.n,
                         a.argv, NULL);
    }
    if (!err)
        err = rsv_sync(st, r);
    if (r)
        freeReplyObject(r);
    rsv_args_release(&a);
    return err;
}

/* Reads "<qty>:<ms>"; false when malformed. */
static bool rsv_entry(const char *s, int64_t *out_qty, int64_t *out_ms)
{
    char *end = NULL;
    long long q = strtoll(s, &end, 10);
    long long ms;

    if (end == s || *end != ':' || q < 0)
        return false;
    s = end + 1;
    ms = strtoll(s, &end, 10);
    if (end == s || *end)
        return false;
    *out_qty = q;
    *out_ms = ms;
    return true;
}

static int64_t rsv_add_sat(int64_t a, int64_t b)
{
    int64_t sum;

    return __builtin_add_overflow(a, b, &sum) ? INT64_MAX : sum;
}

enum scb_err reserve_qty_as_of(struct store *st, const char *sku,
                               int64_t as_of_ms, int64_t *out_qty,
                               bool *out_later)
{
    struct buf key;
    redisReply *r = NULL;
    int64_t sum = 0, q, ms;
    bool later = false;
    enum scb_err err;

    if (!sku || !*sku)
        return SCB_EINVAL;
    buf_init(&key, RESERVE_KEY_MAX);
    err = store_key(st, &key, "reserve:sku:%s", sku);
    if (!err)
        err = store_cmd(st, &r, "HGETALL %s", key.data);
    if (!err && r->type != REDIS_REPLY_ARRAY)
        err = SCB_ESTORECMD;
    for (size_t i = 1; !err && i < r->elements; i += 2) {
        const redisReply *v = r->element[i];

        /* A value this build did not write is left out. */
        if (v->type != REDIS_REPLY_STRING || !rsv_entry(v->str, &q, &ms))
            continue;
        if (ms > as_of_ms)
            later = true;
        else
            sum = rsv_add_sat(sum, q);
    }
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    if (err)
        return err;
    *out_qty = sum;
    if (out_later)
        *out_later = later;
    return SCB_OK;
}

enum scb_err reserve_qty(struct store *st, const char *sku, int64_t *out_qty)
{
    return reserve_qty_as_of(st, sku, INT64_MAX, out_qty, NULL);
}
