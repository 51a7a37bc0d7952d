/* SPDX-License-Identifier: MIT */
/* The leader replica's scheduler of the reconciliation polls. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "channel.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "orderstate.h"
#include "queue.h"
#include "scheduler.h"

#define SCHED_TICK_MS 1000

struct sched_poll {
    char id[128];
    char kind[16];
    int64_t company; /* 0 for the DDI polls */
    char key[CONFIG_NAME_MAX];
    int channels[2];
    int nchannels;
    int64_t interval_s;
    sched_enqueue_fn fn; /* NULL: the built-in order poll */
    void *ctx;
};

struct scheduler {
    const struct config *cfg;
    struct store *st; /* the scheduler thread's own */
    pthread_t thread;
    bool started;
    pthread_mutex_t lock; /* guards stop */
    pthread_cond_t cond;
    bool stop;
    atomic_bool leader;
    char me[33]; /* this replica's lease token */
    struct sched_poll *polls;
    size_t n, cap;
};

/* KEYS: leader. ARGV: me, ms. Renews our lease or takes a free one. */
static const struct store_script lead_script = {
    "sched_lead",
    "local cur = redis.call('GET', KEYS[1])\n"
    "if cur == ARGV[1] then\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "  return 1\n"
    "end\n"
    "if not cur then\n"
    "  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "  return 1\n"
    "end\n"
    "return 0\n",
};

/* KEYS: leader. ARGV: me. Gives the lease up if it is ours. */
static const struct store_script resign_script = {
    "sched_resign",
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('DEL', KEYS[1])\n"
    "end\n"
    "return 0\n",
};

static enum scb_err sched_push(struct scheduler *s,
                               const struct sched_poll *p)
{
    struct sched_poll *np;

    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;

        np = mem_realloc(s->polls, cap * sizeof(*np));
        if (!np)
            return SCB_ENOMEM;
        s->polls = np;
        s->cap = cap;
    }
    s->polls[s->n++] = *p;
    return SCB_OK;
}

static void sched_labels(const struct sched_poll *p, char *out, size_t n)
{
    char company[24] = "", key[2 * CONFIG_NAME_MAX];

    if (p->company)
        snprintf(company, sizeof(company), "%" PRId64, p->company);
    metrics_label_value(p->key, key, sizeof(key));
    snprintf(out, n, "poll=\"%s\",company=\"%s\",key=\"%s\"", p->kind,
             company, key);
}

static void sched_describe(const struct sched_poll *p)
{
    char labels[256];

    sched_labels(p, labels, sizeof(labels));
    metrics_set("scbridge_poll_interval_seconds", labels,
                (double)p->interval_s);
}

static enum scb_err sched_add_orders(struct scheduler *s)
{
    const struct config *cfg = s->cfg;
    enum scb_err err = SCB_OK;

    for (size_t c = 0; !err && c < cfg->n_sc_company_ids; c++) {
        for (size_t i = 0; !err && i < cfg->poll_orders.n; i++) {
            const struct config_chan_entry *e = &cfg->poll_orders.e[i];
            struct sched_poll p;

            memset(&p, 0, sizeof(p));
            snprintf(p.kind, sizeof(p.kind), "orders");
            p.company = cfg->sc_company_ids[c];
            snprintf(p.key, sizeof(p.key), "%s", e->key);
            snprintf(p.id, sizeof(p.id), "orders:%" PRId64 ":%s",
                     p.company, e->key);
            p.nchannels = e->nchannels;
            memcpy(p.channels, e->channels, sizeof(p.channels));
            p.interval_s = e->secs;
            err = sched_push(s, &p);
        }
    }
    return err;
}

struct scheduler *sched_new(const struct config *cfg)
{
    struct scheduler *s = mem_calloc(1, sizeof(*s));
    unsigned char raw[16];

    if (!s)
        return NULL;
    s->cfg = cfg;
    s->st = store_new(cfg);
    if (!s->st || RAND_bytes(raw, sizeof(raw)) != 1 ||
        sched_add_orders(s) != SCB_OK) {
        store_free(s->st);
        mem_free(s->polls);
        mem_free(s);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(s->me + 2 * i, 3, "%02x", raw[i]);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    metrics_describe("scbridge_poll_interval_seconds", METRICS_GAUGE,
                     "Interval of each reconciliation poll.");
    metrics_describe("scbridge_poll_last_success_timestamp_seconds",
                     METRICS_GAUGE,
                     "Unix time of each poll's last successful run.");
    for (size_t i = 0; i < s->n; i++)
        sched_describe(&s->polls[i]);
    return s;
}

enum scb_err sched_add(struct scheduler *s, const char *kind,
                       int64_t interval_s, sched_enqueue_fn fn, void *ctx)
{
    struct sched_poll p;

    memset(&p, 0, sizeof(p));
    snprintf(p.kind, sizeof(p.kind), "%s", kind);
    snprintf(p.key, sizeof(p.key), "default");
    snprintf(p.id, sizeof(p.id), "%s:default", kind);
    p.interval_s = interval_s;
    p.fn = fn;
    p.ctx = ctx;
    sched_describe(&p);
    return sched_push(s, &p);
}

static enum scb_err sched_orders_enqueue(struct store *st,
                                         const struct sched_poll *p)
{
    char payload[512];
    struct queue_new_job nj;
    enum queue_added added;
    int n;

    n = snprintf(payload, sizeof(payload),
                 "{\"v\":1,\"poll\":\"%s\",\"company_id\":%" PRId64
                 ",\"key\":\"%s\",\"channels\":[",
                 p->id, p->company, p->key);
    for (int i = 0; i < p->nchannels; i++)
        n += snprintf(payload + n, sizeof(payload) - (size_t)n, "%s%d",
                      i ? "," : "", p->channels[i]);
    snprintf(payload + n, sizeof(payload) - (size_t)n, "]}");
    nj.type = "poll.orders";
    nj.key = p->id;
    nj.payload = payload;
    nj.accepted_ms = 0;
    nj.run_at_ms = 0;
    return queue_enqueue(st, &nj, &added);
}

static enum scb_err sched_poll_key(struct store *st, const char *id,
                                   struct buf *key)
{
    return store_key(st, key, "poll:%s", id);
}

/* Enqueues poll 'p' when due, and records when it is due next. */
static enum scb_err sched_due(struct scheduler *s, struct sched_poll *p,
                              int64_t now)
{
    struct buf key;
    redisReply *r = NULL;
    bool due;
    enum scb_err err;

    buf_init(&key, 512);
    err = sched_poll_key(s->st, p->id, &key);
    if (!err)
        err = store_cmd(s->st, &r, "HGET %s next_at", key.data);
    if (err)
        goto out;
    due = r->type != REDIS_REPLY_STRING || strtoll(r->str, NULL, 10) <= now;
    freeReplyObject(r);
    r = NULL;
    if (!due)
        goto out;
    err = p->fn ? p->fn(s->st, p->ctx) : sched_orders_enqueue(s->st, p);
    if (!err)
        err = store_cmd(s->st, &r,
                        "HSET %s next_at %" PRId64 " interval_s %" PRId64
                        " kind %s company %" PRId64 " key %s",
                        key.data, now + p->interval_s * 1000, p->interval_s,
                        p->kind, p->company, p->key);

out:
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}

static bool sched_lead(struct scheduler *s, const char *script_arg)
{
    struct buf key;
    const char *argv[3];
    char ms[24];
    redisReply *r = NULL;
    bool lead = false;

    buf_init(&key, 256);
    snprintf(ms, sizeof(ms), "%d", SCHED_LEADER_MS);
    if (store_key(s->st, &key, "leader") == SCB_OK) {
        argv[0] = key.data;
        argv[1] = s->me;
        argv[2] = ms;
        if (store_eval(s->st, script_arg ? &resign_script : &lead_script,
                       &r, 1, script_arg ? 2 : 3, argv, NULL) == SCB_OK)
            lead = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    }
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return lead;
}

static void sched_tick(struct scheduler *s)
{
    bool lead = sched_lead(s, NULL);
    int64_t now = orderstate_now_ms();

    if (lead != atomic_load(&s->leader))
        log_info("sched", lead ? "leading the polls" : "polls led elsewhere");
    atomic_store(&s->leader, lead);
    for (size_t i = 0; lead && i < s->n; i++) {
        if (sched_due(s, &s->polls[i], now) != SCB_OK)
            break; /* Redis trouble: the next tick tries again */
    }
}

static void *sched_main(void *arg)
{
    struct scheduler *s = arg;
    struct timespec ts;

    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        pthread_mutex_unlock(&s->lock);
        sched_tick(s);
        pthread_mutex_lock(&s->lock);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += SCHED_TICK_MS / 1000;
        while (!s->stop &&
               pthread_cond_timedwait(&s->cond, &s->lock, &ts) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&s->lock);
    if (atomic_load(&s->leader))
        (void)sched_lead(s, "resign"); /* else the lease just expires */
    return NULL;
}

enum scb_err sched_start(struct scheduler *s)
{
    sigset_t all, old;
    int rc;

    /* Signals stay with main(), which handles them. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&s->thread, NULL, sched_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return SCB_EIO;
    s->started = true;
    return SCB_OK;
}

void sched_free(struct scheduler *s)
{
    if (!s)
        return;
    if (s->started) {
        pthread_mutex_lock(&s->lock);
        s->stop = true;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
    }
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    store_free(s->st);
    mem_free(s->polls);
    mem_free(s);
}

void sched_collect(struct scheduler *s, struct store *st)
{
    struct buf key;
    char labels[256];
    redisReply *r = NULL;

    buf_init(&key, 512);
    for (size_t i = 0; i < s->n; i++) {
        buf_reset(&key);
        if (sched_poll_key(st, s->polls[i].id, &key) != SCB_OK ||
            store_cmd(st, &r, "HGET %s last_ok_at", key.data) != SCB_OK)
            break; /* Redis trouble: the gauges keep their last values */
        if (r->type == REDIS_REPLY_STRING) {
            sched_labels(&s->polls[i], labels, sizeof(labels));
            metrics_set("scbridge_poll_last_success_timestamp_seconds",
                        labels, (double)strtoll(r->str, NULL, 10) / 1000.0);
        }
        freeReplyObject(r);
        r = NULL;
    }
    buf_release(&key);
}

bool sched_is_leader(struct scheduler *s)
{
    return atomic_load(&s->leader);
}

enum scb_err sched_poll_report(struct store *st, const char *id,
                               int64_t started_ms, const char *error)
{
    struct buf key;
    redisReply *r = NULL;
    enum scb_err err;

    buf_init(&key, 512);
    err = sched_poll_key(st, id, &key);
    if (!err && error)
        err = store_cmd(st, &r, "HSET %s last_run_at %" PRId64
                        " last_error %s", key.data, started_ms, error);
    else if (!err)
        err = store_cmd(st, &r, "HSET %s last_run_at %" PRId64
                        " last_ok_at %" PRId64 " last_error %s", key.data,
                        started_ms, orderstate_now_ms(), "");
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}
