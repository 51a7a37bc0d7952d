/* SPDX-License-Identifier: MIT */
/* A token bucket in Redis shared by every replica, and a shared pause. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "ratelimit.h"

#define RATELIMIT_KEY_MAX 256
#define RATELIMIT_LABEL_MAX 96

/*
 * KEYS[1] the bucket (hash: tokens, ts in us), KEYS[2] the pause (Unix
 * ms); ARGV[1] the burst, ARGV[2] the refill per hour. Answers {granted,
 * wait_ms, paused}. The clock is Redis's own, so replicas whose clocks
 * disagree still share one bucket. Tokens are kept to the microtoken,
 * rounded down, so rounding can never grant a call early.
 */
static const struct store_script ratelimit_take_script = {
    "ratelimit_take",
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local now_ms = math.floor(now / 1000)\n"
    "local pause = tonumber(redis.call('GET', KEYS[2]) or '0') or 0\n"
    "if pause > now_ms then return {0, pause - now_ms, 1} end\n"
    "local cap = tonumber(ARGV[1])\n"
    "local rate = tonumber(ARGV[2])\n"
    "local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')\n"
    "local tokens = tonumber(v[1])\n"
    "local ts = tonumber(v[2])\n"
    "if not tokens or not ts then tokens = cap; ts = now end\n"
    "if now > ts then\n"
    "  tokens = math.min(cap, tokens + (now - ts) * rate / 3600000000)\n"
    "  ts = now\n"
    "end\n"
    "local granted = 0\n"
    "if tokens >= 1 then tokens = tokens - 1; granted = 1 end\n"
    "tokens = math.floor(tokens * 1000000) / 1000000\n"
    "redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),\n"
    "  'ts', string.format('%.0f', ts))\n"
    "redis.call('PEXPIRE', KEYS[1],\n"
    "  math.ceil(cap * 3600000 / rate) + 60000)\n"
    "if granted == 1 then return {1, 0, 0} end\n"
    "local wait = math.ceil((1 - tokens) * 3600000 / rate)\n"
    "if wait < 1 then wait = 1 end\n"
    "return {0, wait, 0}\n",
};

/* KEYS[1] the pause; ARGV[1] its end in Unix ms. Keeps a later end. */
static const struct store_script ratelimit_pause_script = {
    "ratelimit_pause",
    "local t = redis.call('TIME')\n"
    "local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / "
    "1000)\n"
    "local stop = tonumber(ARGV[1])\n"
    "if not stop or stop <= now_ms then return 0 end\n"
    "local cur = tonumber(redis.call('GET', KEYS[1]) or '0') or 0\n"
    "if cur >= stop then return 0 end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', stop - now_ms)\n"
    "return 1\n",
};

int64_t ratelimit_burst(int64_t per_hour)
{
    int64_t b = per_hour / 50;

    return b >= 1 ? b : 1;
}

int64_t ratelimit_refill_per_hour(int64_t per_hour)
{
    int64_t r = per_hour - ratelimit_burst(per_hour);

    /* A budget of 1 an hour would otherwise never refill. */
    return r >= 1 ? r : 1;
}

static void ratelimit_describe(void)
{
    metrics_describe("scbridge_rate_limit_wait_seconds_total",
                     METRICS_COUNTER,
                     "Time spent waiting for the shared rate limit.");
    metrics_describe("scbridge_rate_limit_paused", METRICS_GAUGE,
                     "1 while the upstream is paused after a 429.");
}

static void ratelimit_labels(const char *upstream, char *out, size_t len)
{
    char v[64];

    metrics_label_value(upstream, v, sizeof(v));
    snprintf(out, len, "upstream=\"%s\"", v);
}

static void ratelimit_note_paused(const char *upstream, bool paused)
{
    char labels[RATELIMIT_LABEL_MAX];

    ratelimit_describe();
    ratelimit_labels(upstream, labels, sizeof(labels));
    metrics_set("scbridge_rate_limit_paused", labels, paused ? 1 : 0);
}

static void ratelimit_note_wait(const char *upstream, int64_t ms)
{
    char labels[RATELIMIT_LABEL_MAX];

    ratelimit_describe();
    ratelimit_labels(upstream, labels, sizeof(labels));
    metrics_inc("scbridge_rate_limit_wait_seconds_total", labels,
                (double)ms / 1000.0);
}

/* Builds the bucket key and the pause key of 'upstream'. */
static enum scb_err ratelimit_keys(struct store *st, const char *upstream,
                                   struct buf *bucket, struct buf *pause)
{
    enum scb_err err;

    err = store_key(st, bucket, "ratelimit:%s", upstream);
    if (!err)
        err = store_key(st, pause, "ratelimit:%s:paused", upstream);
    return err;
}

static bool ratelimit_reply_ok(const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3)
        return false;
    for (size_t i = 0; i < 3; i++) {
        if (r->element[i]->type != REDIS_REPLY_INTEGER)
            return false;
    }
    return true;
}

/* Runs the take script; on SCB_OK *out_reply is checked and new. */
static enum scb_err ratelimit_eval_take(struct store *st,
                                        const char *upstream,
                                        int64_t per_hour,
                                        redisReply **out_reply)
{
    struct buf bucket, pause;
    char burst[24], rate[24];
    const char *argv[4];
    size_t argvlen[4];
    redisReply *r = NULL;
    enum scb_err err;

    buf_init(&bucket, RATELIMIT_KEY_MAX);
    buf_init(&pause, RATELIMIT_KEY_MAX);
    err = ratelimit_keys(st, upstream, &bucket, &pause);
    if (err)
        goto out;
    snprintf(burst, sizeof(burst), "%lld",
             (long long)ratelimit_burst(per_hour));
    snprintf(rate, sizeof(rate), "%lld",
             (long long)ratelimit_refill_per_hour(per_hour));
    argv[0] = bucket.data;
    argv[1] = pause.data;
    argv[2] = burst;
    argv[3] = rate;
    for (size_t i = 0; i < 4; i++)
        argvlen[i] = strlen(argv[i]);
    err = store_eval(st, &ratelimit_take_script, &r, 2, 4, argv, argvlen);
    if (!err && !ratelimit_reply_ok(r))
        err = SCB_ESTORECMD;
    if (err && r)
        freeReplyObject(r);
    else if (!err)
        *out_reply = r;

out:
    buf_release(&bucket);
    buf_release(&pause);
    return err;
}

/* One take; *out_paused says whether a pause was the reason to wait. */
static enum scb_err ratelimit_take_once(struct store *st,
                                        const char *upstream,
                                        int64_t per_hour,
                                        int64_t *out_wait_ms,
                                        bool *out_paused)
{
    redisReply *r = NULL;
    enum scb_err err;

    if (per_hour < 1 || !upstream || !*upstream)
        return SCB_EINVAL;
    err = ratelimit_eval_take(st, upstream, per_hour, &r);
    if (err)
        return err;
    *out_paused = r->element[2]->integer != 0;
    if (r->element[0]->integer == 1) {
        err = SCB_OK;
    } else {
        *out_wait_ms = r->element[1]->integer > 0 ? r->element[1]->integer
                                                  : 1;
        err = SCB_EWAIT;
    }
    freeReplyObject(r);
    return err;
}

enum scb_err ratelimit_take(struct store *st, const char *upstream,
                            int64_t per_hour, int64_t *out_wait_ms)
{
    bool paused = false;
    int64_t wait = 0;
    enum scb_err err;

    err = ratelimit_take_once(st, upstream, per_hour, &wait, &paused);
    if (err == SCB_OK || err == SCB_EWAIT)
        ratelimit_note_paused(upstream, paused);
    if (err == SCB_EWAIT)
        *out_wait_ms = wait;
    return err;
}

static void ratelimit_sleep_ms(int64_t ms)
{
    struct timespec ts = { .tv_sec = ms / 1000,
                           .tv_nsec = (long)(ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0)
        continue; /* interrupted: sleep the rest */
}

/*
 * A few ms of spread so that waiters of several replicas do not all
 * wake at the very instant a token appears.
 */
static int64_t ratelimit_jitter_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)((ts.tv_nsec / 1000) % 8);
}

enum scb_err ratelimit_acquire(struct store *st, const char *upstream,
                               int64_t per_hour, int64_t max_block_ms,
                               int64_t *out_wait_ms)
{
    int64_t slept = 0, wait = 0, nap;
    enum scb_err err;

    for (;;) {
        err = ratelimit_take(st, upstream, per_hour, &wait);
        if (err != SCB_EWAIT)
            break;
        if (max_block_ms <= 0 || slept + wait > max_block_ms) {
            ratelimit_note_wait(upstream, wait);
            *out_wait_ms = wait;
            break;
        }
        nap = wait + ratelimit_jitter_ms();
        ratelimit_sleep_ms(nap);
        ratelimit_note_wait(upstream, nap);
        slept += nap;
    }
    return err;
}

enum scb_err ratelimit_pause(struct store *st, const char *upstream,
                             int64_t until_ms)
{
    struct buf bucket, pause;
    char until[24];
    const char *argv[2];
    size_t argvlen[2];
    redisReply *r = NULL;
    enum scb_err err;

    buf_init(&bucket, RATELIMIT_KEY_MAX);
    buf_init(&pause, RATELIMIT_KEY_MAX);
    err = ratelimit_keys(st, upstream, &bucket, &pause);
    if (err)
        goto out;
    snprintf(until, sizeof(until), "%lld", (long long)until_ms);
    argv[0] = pause.data;
    argv[1] = until;
    argvlen[0] = pause.len;
    argvlen[1] = strlen(until);
    err = store_eval(st, &ratelimit_pause_script, &r, 1, 2, argv, argvlen);
    if (err)
        goto out;
    if (r->type != REDIS_REPLY_INTEGER) {
        err = SCB_ESTORECMD;
        goto out;
    }
    ratelimit_note_paused(upstream, true);

out:
    if (r)
        freeReplyObject(r);
    buf_release(&bucket);
    buf_release(&pause);
    return err;
}

enum scb_err ratelimit_paused_until(struct store *st, const char *upstream,
                                    int64_t *out_until_ms)
{
    struct buf bucket, pause;
    redisReply *r = NULL;
    enum scb_err err;
    long long v = 0;

    buf_init(&bucket, RATELIMIT_KEY_MAX);
    buf_init(&pause, RATELIMIT_KEY_MAX);
    err = ratelimit_keys(st, upstream, &bucket, &pause);
    if (err)
        goto out;
    err = store_cmd(st, &r, "GET %b", pause.data, pause.len);
    if (err)
        goto out;
    if (r->type == REDIS_REPLY_STRING) {
        char *end = NULL;

        v = strtoll(r->str, &end, 10);
        if (end == r->str || *end || v < 0) {
            err = SCB_ESTORECMD;
            goto out;
        }
    } else if (r->type != REDIS_REPLY_NIL) {
        err = SCB_ESTORECMD;
        goto out;
    }
    *out_until_ms = (int64_t)v;

out:
    if (r)
        freeReplyObject(r);
    buf_release(&bucket);
    buf_release(&pause);
    return err;
}
