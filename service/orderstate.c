/* SPDX-License-Identifier: MIT */
/* Per-order state, history, locks and indexes in Redis. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "jsonio.h"
#include "mem.h"
#include "orderstate.h"

/*
 * The scripts keep the last 500 history events of an order and the hourly
 * counts for 25 h (the admin page shows 24).
 */

const char *const orderstate_names[ORDERSTATE_COUNT] = {
    "seen",     "awaiting_payment", "importing",      "imported",
    "shipped",  "cancelled",        "needs_attention",
};

/*
 * KEYS: order hash, history list. ARGV: prefix, id, state, reason, event,
 * detail, now ms, retention s, then field/value pairs. Answers the old
 * state ("" for a new record).
 */
static const struct store_script set_script = {
    "orderstate_set",
    "local h, hist = KEYS[1], KEYS[2]\n"
    "local p, id, st = ARGV[1], ARGV[2], ARGV[3]\n"
    "local now, ret = tonumber(ARGV[7]), tonumber(ARGV[8])\n"
    "local old = redis.call('HGET', h, 'state')\n"
    "if old and old ~= st then\n"
    "  redis.call('ZREM', p .. 'orders:state:' .. old, id)\n"
    "end\n"
    "local idx = p .. 'orders:state:' .. st\n"
    "redis.call('ZADD', idx, now, id)\n"
    "redis.call('ZREMRANGEBYSCORE', idx, '-inf', now - ret * 1000)\n"
    "redis.call('HSET', h, 'id', id, 'state', st, 'reason', ARGV[4],\n"
    "  'updated_at', ARGV[7])\n"
    "for i = 9, #ARGV, 2 do redis.call('HSET', h, ARGV[i], ARGV[i+1]) end\n"
    "if ARGV[5] ~= '' then\n"
    "  redis.call('RPUSH', hist, cjson.encode({at = ARGV[7],\n"
    "    event = ARGV[5], detail = ARGV[6]}))\n"
    "  redis.call('LTRIM', hist, -500, -1)\n"
    "  local ev = ARGV[5]\n"
    "  if ev == 'imported' or ev == 'shipped' or ev == 'shipped_outside'\n"
    "  then\n"
    "    local k = p .. 'stats:h:' .. (math.floor(now / 3600000) * 3600000)\n"
    "    redis.call('HINCRBY', k, ev == 'imported' and 'imported'\n"
    "      or 'shipped', 1)\n"
    "    redis.call('PEXPIRE', k, 90000000)\n"
    "  end\n"
    "end\n"
    "redis.call('EXPIRE', h, ret)\n"
    "if redis.call('EXISTS', hist) == 1 then\n"
    "  redis.call('EXPIRE', hist, ret)\n"
    "end\n"
    "local dno = redis.call('HGET', h, 'ddi_order_no')\n"
    "if dno and dno ~= '' then\n"
    "  redis.call('SET', p .. 'ddi:' .. dno, id, 'EX', ret)\n"
    "end\n"
    "return old or ''\n",
};

/* KEYS: history list, order hash. ARGV: event, detail, now ms, ret s. */
static const struct store_script event_script = {
    "orderstate_event",
    "redis.call('RPUSH', KEYS[1], cjson.encode({at = ARGV[3],\n"
    "  event = ARGV[1], detail = ARGV[2]}))\n"
    "redis.call('LTRIM', KEYS[1], -500, -1)\n"
    "redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))\n"
    "if redis.call('EXISTS', KEYS[2]) == 1 then\n"
    "  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))\n"
    "end\n"
    "return 1\n",
};

/* KEYS: order hash. ARGV: field, value. */
static const struct store_script touch_script = {
    "orderstate_touch",
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "end\n"
    "return 0\n",
};

/* KEYS: lock. ARGV: token. Deletes the lock only if the token holds it. */
static const struct store_script unlock_script = {
    "orderstate_unlock",
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('DEL', KEYS[1])\n"
    "end\n"
    "return 0\n",
};

/* ARGV: prefix, now ms, retention s, then the state names. */
static const struct store_script counts_script = {
    "orderstate_counts",
    "local out = {}\n"
    "local floor = tonumber(ARGV[2]) - tonumber(ARGV[3]) * 1000\n"
    "for i = 4, #ARGV do\n"
    "  local k = ARGV[1] .. 'orders:state:' .. ARGV[i]\n"
    "  redis.call('ZREMRANGEBYSCORE', k, '-inf', floor)\n"
    "  out[#out + 1] = redis.call('ZCARD', k)\n"
    "end\n"
    "return out\n",
};

int64_t orderstate_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void orderstate_fmt_time(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;

    char tmp[96]; /* room for any int fields: the compiler checks it */
    size_t n;

    gmtime_r(&secs, &tm);
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    n = strnlen(tmp, 31);
    memcpy(out, tmp, n);
    out[n] = '\0';
}

bool orderstate_valid(const char *state)
{
    for (size_t i = 0; i < ORDERSTATE_COUNT; i++) {
        if (strcmp(state, orderstate_names[i]) == 0)
            return true;
    }
    return false;
}

static enum scb_err order_keys(struct store *st, int64_t id, struct buf *h,
                               struct buf *hist)
{
    enum scb_err err = store_key(st, h, "order:%" PRId64, id);

    if (!err && hist)
        err = store_key(st, hist, "order:%" PRId64 ":h", id);
    return err;
}

static void copy_field(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

static void rec_field(struct order_rec *r, const char *k, const char *v)
{
    if (strcmp(k, "state") == 0)
        copy_field(r->state, sizeof(r->state), v);
    else if (strcmp(k, "reason") == 0)
        copy_field(r->reason, sizeof(r->reason), v);
    else if (strcmp(k, "company_id") == 0)
        r->company_id = strtoll(v, NULL, 10);
    else if (strcmp(k, "channel") == 0)
        copy_field(r->channel, sizeof(r->channel), v);
    else if (strcmp(k, "channel_order_id") == 0)
        copy_field(r->channel_order_id, sizeof(r->channel_order_id), v);
    else if (strcmp(k, "reference") == 0)
        copy_field(r->reference, sizeof(r->reference), v);
    else if (strcmp(k, "ddi_order_no") == 0)
        copy_field(r->ddi_order_no, sizeof(r->ddi_order_no), v);
    else if (strcmp(k, "updated_at") == 0)
        r->updated_at_ms = strtoll(v, NULL, 10);
    else if (strcmp(k, "awaiting_since") == 0)
        r->awaiting_since_ms = strtoll(v, NULL, 10);
    else if (strcmp(k, "create_sent_at") == 0)
        r->create_sent_at_ms = strtoll(v, NULL, 10);
    else if (strcmp(k, "sig") == 0)
        copy_field(r->sig, sizeof(r->sig), v);
    else if (strcmp(k, "sc_last_updated") == 0)
        copy_field(r->sc_last_updated, sizeof(r->sc_last_updated), v);
    else if (strcmp(k, "shipped_outside") == 0)
        r->shipped_outside = strcmp(v, "1") == 0;
    else if (strcmp(k, "exported") == 0)
        r->exported = strcmp(v, "1") == 0;
    else if (strcmp(k, "replay") == 0)
        r->replay = strcmp(v, "1") == 0;
}

enum scb_err orderstate_get(struct store *st, int64_t id,
                            struct order_rec *out)
{
    struct buf key;
    redisReply *r = NULL;
    struct order_rec rec;
    enum scb_err err;

    buf_init(&key, 256);
    err = order_keys(st, id, &key, NULL);
    if (!err)
        err = store_cmd(st, &r, "HGETALL %s", key.data);
    if (err)
        goto out;
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        err = SCB_ENOTFOUND;
        goto out;
    }
    memset(&rec, 0, sizeof(rec));
    rec.sc_order_id = id;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        if (r->element[i]->type == REDIS_REPLY_STRING &&
            r->element[i + 1]->type == REDIS_REPLY_STRING)
            rec_field(&rec, r->element[i]->str, r->element[i + 1]->str);
    }
    *out = rec;

out:
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}

enum scb_err orderstate_set(struct store *st, const struct config *cfg,
                            int64_t id, const char *state,
                            const char *reason, const char *event,
                            const char *detail,
                            const struct orderstate_field *fields,
                            size_t nfields)
{
    struct buf h, hist;
    char idtxt[24], now[24], ret[24];
    const char **argv = NULL;
    redisReply *r = NULL;
    int argc = 10 + 2 * (int)nfields;
    enum scb_err err;

    buf_init(&h, 256);
    buf_init(&hist, 256);
    if (!orderstate_valid(state) || nfields > 32)
        return SCB_EINVAL;
    err = order_keys(st, id, &h, &hist);
    if (err)
        goto out;
    argv = mem_calloc((size_t)argc, sizeof(*argv));
    if (!argv) {
        err = SCB_ENOMEM;
        goto out;
    }
    snprintf(idtxt, sizeof(idtxt), "%" PRId64, id);
    snprintf(now, sizeof(now), "%" PRId64, orderstate_now_ms());
    snprintf(ret, sizeof(ret), "%" PRId64, cfg->order_retention_s);
    argv[0] = h.data;
    argv[1] = hist.data;
    argv[2] = store_prefix(st);
    argv[3] = idtxt;
    argv[4] = state;
    argv[5] = reason ? reason : "";
    argv[6] = event ? event : "";
    argv[7] = detail ? detail : "";
    argv[8] = now;
    argv[9] = ret;
    for (size_t i = 0; i < nfields; i++) {
        argv[10 + 2 * i] = fields[i].name;
        argv[11 + 2 * i] = fields[i].value ? fields[i].value : "";
    }
    err = store_eval(st, &set_script, &r, 2, argc, argv, NULL);

out:
    if (r)
        freeReplyObject(r);
    mem_free(argv);
    buf_release(&h);
    buf_release(&hist);
    return err;
}

enum scb_err orderstate_event(struct store *st, const struct config *cfg,
                              int64_t id, const char *event,
                              const char *detail)
{
    struct buf h, hist;
    char now[24], ret[24];
    const char *argv[6];
    redisReply *r = NULL;
    enum scb_err err;

    buf_init(&h, 256);
    buf_init(&hist, 256);
    err = order_keys(st, id, &h, &hist);
    if (err)
        goto out;
    snprintf(now, sizeof(now), "%" PRId64, orderstate_now_ms());
    snprintf(ret, sizeof(ret), "%" PRId64, cfg->order_retention_s);
    argv[0] = hist.data;
    argv[1] = h.data;
    argv[2] = event;
    argv[3] = detail ? detail : "";
    argv[4] = now;
    argv[5] = ret;
    err = store_eval(st, &event_script, &r, 2, 6, argv, NULL);

out:
    if (r)
        freeReplyObject(r);
    buf_release(&h);
    buf_release(&hist);
    return err;
}

enum scb_err orderstate_touch(struct store *st, int64_t id, const char *name,
                              const char *value)
{
    struct buf key;
    const char *argv[3];
    redisReply *r = NULL;
    enum scb_err err;

    buf_init(&key, 256);
    err = order_keys(st, id, &key, NULL);
    if (!err) {
        argv[0] = key.data;
        argv[1] = name;
        argv[2] = value;
        err = store_eval(st, &touch_script, &r, 1, 3, argv, NULL);
    }
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}

enum scb_err orderstate_lock(struct store *st, int64_t id, int64_t lease_ms,
                             char out_token[33])
{
    unsigned char raw[16];
    char token[33];
    struct buf key;
    redisReply *r = NULL;
    enum scb_err err;

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return SCB_EIO;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(token + 2 * i, 3, "%02x", raw[i]);
    buf_init(&key, 256);
    err = store_key(st, &key, "lock:order:%" PRId64, id);
    if (!err)
        err = store_cmd(st, &r, "SET %s %s NX PX %" PRId64, key.data,
                        token, lease_ms);
    if (!err && r->type == REDIS_REPLY_NIL)
        err = SCB_ECONFLICT;
    if (!err)
        memcpy(out_token, token, sizeof(token));
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}

enum scb_err orderstate_unlock(struct store *st, int64_t id,
                               const char *token)
{
    struct buf key;
    redisReply *r = NULL;
    const char *argv[2];
    enum scb_err err;

    buf_init(&key, 256);
    err = store_key(st, &key, "lock:order:%" PRId64, id);
    if (!err) {
        argv[0] = key.data;
        argv[1] = token;
        err = store_eval(st, &unlock_script, &r, 1, 2, argv, NULL);
    }
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}

enum scb_err orderstate_find_ddi(struct store *st, const char *order_no,
                                 int64_t *out_id)
{
    struct buf key;
    redisReply *r = NULL;
    enum scb_err err;

    buf_init(&key, 512);
    err = store_key(st, &key, "ddi:%s", order_no);
    if (!err)
        err = store_cmd(st, &r, "GET %s", key.data);
    if (!err && r->type != REDIS_REPLY_STRING)
        err = SCB_ENOTFOUND;
    if (!err)
        *out_id = strtoll(r->str, NULL, 10);
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}

static enum scb_err history_entry(struct buf *out, const char *text,
                                  bool first)
{
    cJSON *e = NULL;
    char at[32];
    enum scb_err err = jsonio_parse(text, strlen(text), 65536, &e);

    if (err)
        return err;
    orderstate_fmt_time(strtoll(jsonio_str_or(e, "at", "0"), NULL, 10), at);
    err = buf_printf(out, "%s{\"at\":\"%s\",\"event\":", first ? "" : ",",
                     at);
    if (!err)
        err = buf_put_json_str(out, jsonio_str_or(e, "event", ""));
    if (!err)
        err = buf_puts(out, ",\"detail\":");
    if (!err)
        err = buf_put_json_str(out, jsonio_str_or(e, "detail", ""));
    if (!err)
        err = buf_putc(out, '}');
    cJSON_Delete(e);
    return err;
}

enum scb_err orderstate_history_json(struct store *st, int64_t id,
                                     struct buf *out)
{
    struct buf key;
    redisReply *r = NULL;
    enum scb_err err;

    buf_init(&key, 256);
    err = store_key(st, &key, "order:%" PRId64 ":h", id);
    if (!err)
        err = store_cmd(st, &r, "LRANGE %s 0 -1", key.data);
    if (!err)
        err = buf_putc(out, '[');
    for (size_t i = 0; !err && i < r->elements; i++) {
        if (r->element[i]->type == REDIS_REPLY_STRING)
            err = history_entry(out, r->element[i]->str, i == 0);
    }
    if (!err)
        err = buf_putc(out, ']');
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}

enum scb_err orderstate_counts(struct store *st, const struct config *cfg,
                               int64_t out_counts[ORDERSTATE_COUNT])
{
    const char *argv[3 + ORDERSTATE_COUNT];
    char now[24], ret[24];
    redisReply *r = NULL;
    enum scb_err err;

    snprintf(now, sizeof(now), "%" PRId64, orderstate_now_ms());
    snprintf(ret, sizeof(ret), "%" PRId64, cfg->order_retention_s);
    argv[0] = store_prefix(st);
    argv[1] = now;
    argv[2] = ret;
    for (size_t i = 0; i < ORDERSTATE_COUNT; i++)
        argv[3 + i] = orderstate_names[i];
    err = store_eval(st, &counts_script, &r, 0, 3 + ORDERSTATE_COUNT, argv,
                     NULL);
    if (!err && (r->type != REDIS_REPLY_ARRAY ||
                 r->elements != ORDERSTATE_COUNT))
        err = SCB_ESTORECMD;
    for (size_t i = 0; !err && i < ORDERSTATE_COUNT; i++)
        out_counts[i] = r->element[i]->integer;
    if (r)
        freeReplyObject(r);
    return err;
}
