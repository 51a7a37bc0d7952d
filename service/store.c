/* SPDX-License-Identifier: MIT */
/* Redis access through hiredis: one connection per handle, and a pool. */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <openssl/evp.h>

#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "store.h"

#define STORE_CONNECT_MS 2000 /* connect timeout */
#define STORE_REPLY_MS 5000   /* default reply timeout */
#define STORE_SHA_SLOTS 32    /* scripts whose digest is cached */
#define STORE_MIN_MAJOR 6
#define STORE_MIN_MINOR 2
#define STORE_WARN_METRIC "scbridge_redis_config_warning"

struct store_sha {
    const struct store_script *script; /* the key: scripts are static */
    char hex[41];
};

struct store {
    const struct config *cfg; /* borrowed */
    redisContext *ctx;        /* NULL while disconnected */
    int timeout_ms;           /* reply timeout asked for; 0: default */
    bool warned_aof;          /* logged once per handle, not per connect */
    bool warned_policy;
    char prefix[48]; /* "<prefix>v1:" */
    char errstr[128];
    struct store_sha shas[STORE_SHA_SLOTS];
    struct store *pool_next; /* idle list of a store_pool */
};

struct store_pool {
    const struct config *cfg;
    pthread_mutex_t pool_lock; /* guards idle */
    struct store *idle;
};

static void store_seterr(struct store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void store_seterr(struct store *st, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(st->errstr, sizeof(st->errstr), fmt, ap);
    va_end(ap);
}

struct store *store_new(const struct config *cfg)
{
    struct store *st = mem_calloc(1, sizeof(*st));

    if (!st)
        return NULL;
    st->cfg = cfg;
    snprintf(st->prefix, sizeof(st->prefix), "%s%s:", cfg->redis_prefix,
             STORE_SCHEMA);
    return st;
}

static void store_drop(struct store *st)
{
    if (st->ctx) {
        redisFree(st->ctx);
        st->ctx = NULL;
    }
}

void store_free(struct store *st)
{
    if (!st)
        return;
    store_drop(st);
    mem_free(st);
}

static struct timeval store_tv(int ms)
{
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

    return tv;
}

/* Sends one command on the raw context; the connect steps use it. */
static enum scb_err store_raw(struct store *st, redisReply **out_reply,
                              int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(st->ctx, argc, argv, NULL);

    if (!r) {
        store_seterr(st, "%s: %s", argv[0], st->ctx->errstr);
        store_drop(st);
        return SCB_ESTORE;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        store_seterr(st, "%s: %.100s", argv[0], r->str);
        freeReplyObject(r);
        return SCB_ESTORECMD;
    }
    *out_reply = r;
    return SCB_OK;
}

/* AUTH never copies Redis's answer: it is about the credentials. */
static enum scb_err store_auth(struct store *st)
{
    const struct config *cfg = st->cfg;
    const char *argv[3] = { "AUTH", cfg->redis_user, cfg->redis_password };
    redisReply *r = NULL;
    enum scb_err err;

    if (!cfg->redis_password)
        return SCB_OK;
    if (!cfg->redis_user)
        argv[1] = cfg->redis_password; /* AUTH password: user "default" */
    err = store_raw(st, &r, cfg->redis_user ? 3 : 2, argv);
    if (err == SCB_ESTORECMD) {
        store_seterr(st, "AUTH: credentials refused");
        store_drop(st);
        return SCB_EAUTH;
    }
    if (err)
        return err;
    freeReplyObject(r);
    return SCB_OK;
}

static enum scb_err store_select(struct store *st)
{
    char db[16];
    redisReply *r = NULL;
    enum scb_err err;

    if (st->cfg->redis_db == 0)
        return SCB_OK;
    snprintf(db, sizeof(db), "%d", st->cfg->redis_db);
    err = store_raw(st, &r, 2, (const char *[]){ "SELECT", db });
    if (err)
        return err;
    freeReplyObject(r);
    return SCB_OK;
}

/* Finds "redis_version:X.Y.Z" in an INFO answer. */
static enum scb_err store_check_version(struct store *st, const char *info)
{
    const char *p = strstr(info, "redis_version:");
    char *end = NULL;
    long major, minor = 0;

    if (!p) {
        store_seterr(st, "INFO: no redis_version");
        return SCB_EVERSION;
    }
    p += strlen("redis_version:");
    major = strtol(p, &end, 10);
    if (end && *end == '.')
        minor = strtol(end + 1, NULL, 10);
    if (major > STORE_MIN_MAJOR ||
        (major == STORE_MIN_MAJOR && minor >= STORE_MIN_MINOR))
        return SCB_OK;
    store_seterr(st, "redis %ld.%ld is older than %d.%d", major, minor,
                 STORE_MIN_MAJOR, STORE_MIN_MINOR);
    return SCB_EVERSION;
}

static enum scb_err store_version(struct store *st)
{
    redisReply *r = NULL;
    enum scb_err err;

    err = store_raw(st, &r, 2, (const char *[]){ "INFO", "server" });
    if (err)
        return err;
    if (r->type == REDIS_REPLY_STRING)
        err = store_check_version(st, r->str);
    else
        err = SCB_EVERSION;
    freeReplyObject(r);
    if (err == SCB_EVERSION)
        store_drop(st);
    return err;
}

/*
 * CONFIG GET 'name'; *out_bad is whether the value differs from 'good'.
 * SCB_ENOTFOUND when the command is not allowed (ACL, renamed).
 */
static enum scb_err store_config_is(struct store *st, const char *name,
                                    const char *good, bool *out_bad)
{
    redisReply *r = NULL;
    enum scb_err err;

    err = store_raw(st, &r, 3, (const char *[]){ "CONFIG", "GET", name });
    if (err == SCB_ESTORECMD)
        return SCB_ENOTFOUND;
    if (err)
        return err;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[1]->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return SCB_ENOTFOUND;
    }
    *out_bad = strcmp(r->element[1]->str, good) != 0;
    freeReplyObject(r);
    return SCB_OK;
}

static enum scb_err store_check_one(struct store *st, const char *name,
                                    const char *good, const char *check,
                                    bool *warned)
{
    char labels[64];
    bool bad = false;
    enum scb_err err = store_config_is(st, name, good, &bad);

    if (err == SCB_ENOTFOUND)
        return SCB_OK;
    if (err)
        return err;
    snprintf(labels, sizeof(labels), "check=\"%s\"", check);
    metrics_set(STORE_WARN_METRIC, labels, bad ? 1 : 0);
    if (bad && !*warned)
        log_error("store", "redis is not configured as required",
                  LOG_STR("setting", name), LOG_STR("want", good));
    *warned = bad;
    return SCB_OK;
}

static enum scb_err store_checks(struct store *st)
{
    enum scb_err err = store_version(st);

    if (err)
        return err;
    metrics_describe(STORE_WARN_METRIC, METRICS_GAUGE,
                     "1 when a Redis setting differs from what scbridge "
                     "needs");
    err = store_check_one(st, "appendonly", "yes", "aof", &st->warned_aof);
    if (!err)
        err = store_check_one(st, "maxmemory-policy", "noeviction",
                              "maxmemory_policy", &st->warned_policy);
    return err;
}

static int store_reply_ms(const struct store *st)
{
    return st->timeout_ms > 0 ? st->timeout_ms : STORE_REPLY_MS;
}

enum scb_err store_connect(struct store *st)
{
    const struct config *cfg = st->cfg;
    enum scb_err err;

    if (st->ctx)
        return SCB_OK;
    st->ctx = redisConnectWithTimeout(cfg->redis_host, cfg->redis_port,
                                      store_tv(STORE_CONNECT_MS));
    if (!st->ctx) {
        store_seterr(st, "connect: out of memory");
        return SCB_ENOMEM;
    }
    if (st->ctx->err) {
        store_seterr(st, "connect: %s", st->ctx->errstr);
        store_drop(st);
        return SCB_ESTORE;
    }
    if (redisSetTimeout(st->ctx, store_tv(store_reply_ms(st))) != REDIS_OK ||
        redisEnableKeepAlive(st->ctx) != REDIS_OK) {
        store_seterr(st, "connect: cannot set socket options");
        store_drop(st);
        return SCB_ESTORE;
    }
    err = store_auth(st);
    if (!err)
        err = store_select(st);
    if (!err)
        err = store_checks(st);
    if (err)
        store_drop(st);
    else
        st->errstr[0] = '\0';
    return err;
}

bool store_connected(const struct store *st)
{
    return st->ctx && !st->ctx->err;
}

/* Classifies a reply: NULL breaks the link, an error reply does not. */
static enum scb_err store_reply(struct store *st, redisReply *r,
                                const char *what, redisReply **out_reply)
{
    if (!r) {
        store_seterr(st, "%s: %s", what, st->ctx->errstr);
        store_drop(st);
        return SCB_ESTORE;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        store_seterr(st, "%s", r->str);
        freeReplyObject(r);
        return SCB_ESTORECMD;
    }
    *out_reply = r;
    return SCB_OK;
}

enum scb_err store_ping(struct store *st)
{
    redisReply *r = NULL;
    enum scb_err err = store_cmd(st, &r, "PING");

    if (err)
        return err;
    if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "PONG") != 0) {
        store_seterr(st, "PING: unexpected answer");
        err = SCB_ESTORE;
    }
    freeReplyObject(r);
    return err;
}

static enum scb_err store_vcmd(struct store *st, redisReply **out_reply,
                               const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static enum scb_err store_vcmd(struct store *st, redisReply **out_reply,
                               const char *fmt, va_list ap)
{
    enum scb_err err = store_connect(st);

    if (err)
        return err;
    return store_reply(st, redisvCommand(st->ctx, fmt, ap), "command",
                       out_reply);
}

enum scb_err store_cmd(struct store *st, redisReply **out_reply,
                       const char *fmt, ...)
{
    va_list ap;
    enum scb_err err;

    va_start(ap, fmt);
    err = store_vcmd(st, out_reply, fmt, ap);
    va_end(ap);
    return err;
}

enum scb_err store_cmd_argv(struct store *st, redisReply **out_reply, int argc,
                            const char **argv, const size_t *argvlen)
{
    enum scb_err err = store_connect(st);

    if (err)
        return err;
    return store_reply(st, redisCommandArgv(st->ctx, argc, argv, argvlen),
                       argv[0], out_reply);
}

/* The script's SHA-1 in hex, computed once per handle and script. */
static enum scb_err store_sha(struct store *st,
                              const struct store_script *script,
                              const char **out_hex)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    struct store_sha *slot = NULL;

    for (size_t i = 0; i < STORE_SHA_SLOTS; i++) {
        if (st->shas[i].script == script) {
            *out_hex = st->shas[i].hex;
            return SCB_OK;
        }
        if (!slot && !st->shas[i].script)
            slot = &st->shas[i];
    }
    if (!slot)
        slot = &st->shas[(size_t)(uintptr_t)script % STORE_SHA_SLOTS];
    if (!EVP_Digest(script->lua, strlen(script->lua), md, &mdlen, EVP_sha1(),
                    NULL) ||
        mdlen != 20) {
        store_seterr(st, "%s: cannot hash the script", script->name);
        return SCB_ENOMEM;
    }
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(slot->hex + 2 * i, 3, "%02x", md[i]);
    slot->script = script;
    *out_hex = slot->hex;
    return SCB_OK;
}

static bool store_noscript(const struct store *st)
{
    return strncmp(st->errstr, "NOSCRIPT", 8) == 0;
}

/*
 * EVALSHA first; Redis forgets scripts on restart or SCRIPT FLUSH, so
 * NOSCRIPT is answered with EVAL of the text, which caches it again.
 * v[0] and v[1] are the command and the digest, rewritten for EVAL.
 */
static enum scb_err store_eval_run(struct store *st,
                                   const struct store_script *script,
                                   redisReply **out_reply, int n,
                                   const char **v, size_t *l)
{
    enum scb_err err = store_cmd_argv(st, out_reply, n, v, l);

    if (err == SCB_ESTORECMD && store_noscript(st)) {
        v[0] = "EVAL";
        l[0] = 4;
        v[1] = script->lua;
        l[1] = strlen(script->lua);
        err = store_cmd_argv(st, out_reply, n, v, l);
    }
    return err;
}

enum scb_err store_eval(struct store *st, const struct store_script *script,
                        redisReply **out_reply, int nkeys, int argc,
                        const char **argv, const size_t *argvlen)
{
    const char *stack_v[24];
    size_t stack_l[24];
    const char **v = stack_v;
    size_t *l = stack_l;
    char nk[16];
    const char *sha = NULL;
    enum scb_err err;

    if (argc < 0 || nkeys < 0 || nkeys > argc || argc > 1000000)
        return SCB_EINVAL;
    err = store_sha(st, script, &sha);
    if (err)
        return err;
    if ((size_t)argc + 3 > 24) {
        v = mem_malloc(((size_t)argc + 3) * sizeof(*v));
        l = mem_malloc(((size_t)argc + 3) * sizeof(*l));
    }
    if (v && l) {
        snprintf(nk, sizeof(nk), "%d", nkeys);
        v[0] = "EVALSHA";
        l[0] = 7;
        v[1] = sha;
        l[1] = 40;
        v[2] = nk;
        l[2] = strlen(nk);
        for (int i = 0; i < argc; i++) {
            v[i + 3] = argv[i];
            l[i + 3] = argvlen ? argvlen[i] : strlen(argv[i]);
        }
        err = store_eval_run(st, script, out_reply, argc + 3, v, l);
    } else {
        err = SCB_ENOMEM;
    }
    if (v != stack_v) {
        mem_free(v);
        mem_free(l);
    }
    return err;
}

void store_set_timeout_ms(struct store *st, int ms)
{
    if (ms < 0)
        ms = 0;
    if (st->timeout_ms == ms)
        return;
    st->timeout_ms = ms;
    if (st->ctx &&
        redisSetTimeout(st->ctx, store_tv(store_reply_ms(st))) != REDIS_OK) {
        store_seterr(st, "cannot set the reply timeout");
        store_drop(st);
    }
}

const char *store_errstr(const struct store *st)
{
    return st->errstr;
}

enum scb_err store_key(const struct store *st, struct buf *out, const char *fmt,
                       ...)
{
    va_list ap;
    enum scb_err err = buf_puts(out, st->prefix);

    if (err)
        return err;
    va_start(ap, fmt);
    err = buf_vprintf(out, fmt, ap);
    va_end(ap);
    return err;
}

const char *store_prefix(const struct store *st)
{
    return st->prefix;
}

struct store_pool *store_pool_new(const struct config *cfg)
{
    struct store_pool *pool = mem_calloc(1, sizeof(*pool));

    if (!pool)
        return NULL;
    pool->cfg = cfg;
    if (pthread_mutex_init(&pool->pool_lock, NULL) != 0) {
        mem_free(pool);
        return NULL;
    }
    return pool;
}

void store_pool_free(struct store_pool *pool)
{
    if (!pool)
        return;
    while (pool->idle) {
        struct store *st = pool->idle;

        pool->idle = st->pool_next;
        store_free(st);
    }
    pthread_mutex_destroy(&pool->pool_lock);
    mem_free(pool);
}

struct store *store_pool_get(struct store_pool *pool)
{
    struct store *st;

    pthread_mutex_lock(&pool->pool_lock);
    st = pool->idle;
    if (st)
        pool->idle = st->pool_next;
    pthread_mutex_unlock(&pool->pool_lock);
    if (!st)
        return store_new(pool->cfg);
    st->pool_next = NULL;
    return st;
}

void store_pool_put(struct store_pool *pool, struct store *st)
{
    if (!st)
        return;
    store_set_timeout_ms(st, 0);
    pthread_mutex_lock(&pool->pool_lock);
    st->pool_next = pool->idle;
    pool->idle = st;
    pthread_mutex_unlock(&pool->pool_lock);
}
