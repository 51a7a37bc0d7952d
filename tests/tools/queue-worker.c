/* SPDX-License-Identifier: MIT */
/*
 * A test program for the queue: runs worker threads with a test handler
 * against a given Redis (for crash and restart tests), enqueues test
 * jobs, and measures throughput (bench) against a bare stream baseline.
 *
 * usage: queue-worker [options] run | enqueue N | bench N | baseline N |
 *        check
 *   --redis redis://host:port/db   --prefix P (scb:)   --workers N (8)
 *   --lease S (30)  --attempts N (10)  --base S (2)  --cap S (600)
 *   --max-wait S (3600)  --drain S (10)  --for S (run: stop after S)
 *   --handler record|noop|slow:MS|fail|wait:MS|dead (record)
 *   --type T (test.job)  --batch N (100)  --keys N (enqueue: key n % N)
 *
 * The record handler counts each job it sees in the hash
 * "<P>v1:test:seen" (field: the payload's n) before it returns done.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "queue.h"
#include "store.h"
#include "worker.h"

enum tool_handler { H_RECORD, H_NOOP, H_SLOW, H_FAIL, H_WAIT, H_DEAD };

struct tool {
    struct config cfg;
    enum tool_handler handler;
    long handler_ms;
    long run_for_s; /* 0: until a signal */
    const char *type;
    long batch;
    long keys;
    const char *mode;
    long n;
    atomic_long handled;
};

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool num_arg(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || !end || *end || end == s || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool url_arg(struct config *cfg, const char *url)
{
    char host[128] = "";
    int port = 0, db = 0;

    if (sscanf(url, "redis://%127[^:]:%d/%d", host, &port, &db) < 2)
        return false;
    snprintf(cfg->redis_host, sizeof(cfg->redis_host), "%s", host);
    cfg->redis_port = port;
    cfg->redis_db = db;
    return true;
}

static bool handler_arg(struct tool *t, const char *s)
{
    static const struct {
        const char *name;
        enum tool_handler h;
        bool ms;
    } names[] = {
        { "record", H_RECORD, false }, { "noop", H_NOOP, false },
        { "slow:", H_SLOW, true },     { "fail", H_FAIL, false },
        { "wait:", H_WAIT, true },     { "dead", H_DEAD, false },
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t len = strlen(names[i].name);

        if (names[i].ms && strncmp(s, names[i].name, len) == 0) {
            t->handler = names[i].h;
            return num_arg(s + len, 0, 3600000, &t->handler_ms);
        }
        if (!names[i].ms && strcmp(s, names[i].name) == 0) {
            t->handler = names[i].h;
            return true;
        }
    }
    return false;
}

static void tool_defaults(struct tool *t)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->cfg.redis_host, sizeof(t->cfg.redis_host), "127.0.0.1");
    t->cfg.redis_port = 6379;
    snprintf(t->cfg.redis_prefix, sizeof(t->cfg.redis_prefix), "scb:");
    t->cfg.workers = 8;
    t->cfg.job_lease_s = 30;
    t->cfg.job_max_attempts = 10;
    t->cfg.backoff_base_s = 2;
    t->cfg.backoff_cap_s = 600;
    t->cfg.max_wait_s = 3600;
    t->cfg.drain_timeout_s = 10;
    t->cfg.order_retention_s = 2160 * 3600;
    t->type = "test.job";
    t->batch = 100;
    t->handler = H_RECORD;
}

/* The options that take a number of seconds or a count. */
static bool int_opt(struct tool *t, const char *name, const char *v)
{
    static const struct {
        const char *name;
        size_t off;
        long min, max;
    } opts[] = {
        { "--workers", offsetof(struct config, workers), 1, 256 },
        { "--lease", offsetof(struct config, job_lease_s), 1, 3600 },
        { "--attempts", offsetof(struct config, job_max_attempts), 1, 100 },
        { "--base", offsetof(struct config, backoff_base_s), 0, 3600 },
        { "--cap", offsetof(struct config, backoff_cap_s), 0, 86400 },
        { "--max-wait", offsetof(struct config, max_wait_s), 0, 86400 },
        { "--drain", offsetof(struct config, drain_timeout_s), 1, 600 },
    };
    long x;

    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        if (strcmp(name, opts[i].name) != 0)
            continue;
        if (!num_arg(v, opts[i].min, opts[i].max, &x))
            return false;
        *(int64_t *)((char *)&t->cfg + opts[i].off) = x;
        return true;
    }
    if (strcmp(name, "--for") == 0)
        return num_arg(v, 1, 86400, &t->run_for_s);
    if (strcmp(name, "--batch") == 0)
        return num_arg(v, 1, QUEUE_BATCH_MAX, &t->batch);
    if (strcmp(name, "--keys") == 0)
        return num_arg(v, 1, 100000000, &t->keys);
    return false;
}

static bool one_opt(struct tool *t, const char *name, const char *v)
{
    if (strcmp(name, "--redis") == 0)
        return url_arg(&t->cfg, v);
    if (strcmp(name, "--prefix") == 0) {
        snprintf(t->cfg.redis_prefix, sizeof(t->cfg.redis_prefix), "%s", v);
        return strlen(v) < sizeof(t->cfg.redis_prefix);
    }
    if (strcmp(name, "--handler") == 0)
        return handler_arg(t, v);
    if (strcmp(name, "--type") == 0) {
        t->type = v;
        return true;
    }
    return int_opt(t, name, v);
}

static bool parse_args(struct tool *t, int argc, char **argv)
{
    int i = 1;

    tool_defaults(t);
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (i + 1 >= argc || !one_opt(t, argv[i], argv[i + 1])) {
            fprintf(stderr, "queue-worker: bad option %s\n", argv[i]);
            return false;
        }
    }
    if (i >= argc)
        return false;
    t->mode = argv[i++];
    if (strcmp(t->mode, "run") == 0 || strcmp(t->mode, "check") == 0)
        return i == argc;
    return i + 1 == argc && num_arg(argv[i], 0, 100000000, &t->n);
}

/* ---- the test handler ------------------------------------------------- */

static void record(struct queue_job *job)
{
    struct store *st = queue_job_store(job);
    const cJSON *n = cJSON_GetObjectItem(queue_job_json(job), "n");
    struct buf key;
    redisReply *r = NULL;

    buf_init(&key, 256);
    if (n && !store_key(st, &key, "test:seen") &&
        !store_cmd(st, &r, "HINCRBY %s %d 1", key.data, n->valueint))
        freeReplyObject(r);
    buf_release(&key);
}

static enum queue_outcome tool_handle(struct queue_job *job, void *ctx)
{
    struct tool *t = ctx;

    atomic_fetch_add(&t->handled, 1);
    if (t->handler == H_NOOP)
        return QUEUE_DONE;
    record(job);
    switch (t->handler) {
    case H_SLOW:
        usleep((useconds_t)t->handler_ms * 1000);
        return QUEUE_DONE;
    case H_FAIL:
        queue_job_set_error(job, "test failure on attempt %d",
                            queue_job_attempt(job));
        return QUEUE_RETRY;
    case H_WAIT:
        queue_job_set_wait(job, t->handler_ms);
        return QUEUE_WAIT;
    case H_DEAD:
        queue_job_set_reason(job, "TEST_DEAD: the handler said so");
        return QUEUE_DEAD;
    default:
        return QUEUE_DONE;
    }
}

/* ---- modes -------------------------------------------------------------- */

static int wait_signal(long seconds)
{
    sigset_t set;
    struct timespec ts = { .tv_sec = seconds, .tv_nsec = 0 };

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (seconds > 0)
        return sigtimedwait(&set, NULL, &ts);
    return sigwaitinfo(&set, NULL);
}

static struct worker_pool *pool_start(struct tool *t)
{
    struct worker_pool *wp = worker_pool_new(&t->cfg);

    if (!wp)
        return NULL;
    if (worker_pool_register(wp, t->type, tool_handle, t) ||
        worker_pool_start(wp)) {
        worker_pool_free(wp);
        return NULL;
    }
    return wp;
}

/* Stops the pool; exits the process at once if a job outlived the drain. */
static void pool_end(struct tool *t, struct worker_pool *wp)
{
    if (!worker_pool_drain(wp, t->cfg.drain_timeout_s * 1000)) {
        log_warn("tool", "drain timed out, jobs left for others");
        _exit(0);
    }
    metrics_reset();
    worker_pool_free(wp);
}

static int mode_run(struct tool *t)
{
    struct worker_pool *wp = pool_start(t);

    if (!wp)
        return 1;
    log_info("tool", "workers running", LOG_INT("workers", t->cfg.workers));
    (void)wait_signal(t->run_for_s); /* a signal or the time: both stop */
    pool_end(t, wp);
    log_info("tool", "workers stopped",
             LOG_INT("handled", atomic_load(&t->handled)));
    return 0;
}

static enum scb_err enqueue_some(struct tool *t, struct store *st, long from,
                                 long n)
{
    struct queue_new_job jobs[QUEUE_BATCH_MAX];
    char payloads[QUEUE_BATCH_MAX][32];
    char keys[QUEUE_BATCH_MAX][32];
    bool dup = false;

    for (long i = 0; i < n; i++) {
        snprintf(payloads[i], sizeof(payloads[i]), "{\"n\":%ld}", from + i);
        snprintf(keys[i], sizeof(keys[i]), "k%ld",
                 t->keys ? (from + i) % t->keys : 0);
        jobs[i] = (struct queue_new_job){ t->type, t->keys ? keys[i] : NULL,
                                          payloads[i], 0, 0 };
    }
    return queue_enqueue_batch(st, jobs, (size_t)n, NULL, 0, &dup, NULL);
}

static int mode_enqueue(struct tool *t)
{
    struct store *st = store_new(&t->cfg);
    enum scb_err err = st ? SCB_OK : SCB_ENOMEM;

    for (long i = 0; !err && i < t->n; i += t->batch)
        err = enqueue_some(t, st, i, t->n - i < t->batch ? t->n - i : t->batch);
    if (err)
        fprintf(stderr, "queue-worker: enqueue: %s: %s\n", scb_strerror(err),
                st ? store_errstr(st) : "");
    else
        printf("enqueued %ld\n", t->n);
    store_free(st);
    return err ? 1 : 0;
}

static int mode_check(struct tool *t)
{
    struct store *st = store_new(&t->cfg);
    enum scb_err err = st ? store_connect(st) : SCB_ENOMEM;

    if (err)
        printf("error: %s: %s\n", scb_strerror(err),
               st ? store_errstr(st) : "");
    else
        printf("ok\n");
    store_free(st);
    return err ? 1 : 0;
}

static void wait_handled(struct tool *t, long n)
{
    while (atomic_load(&t->handled) < n)
        usleep(200);
}

static void print_rate(const char *what, const struct tool *t, long n,
                       int64_t ms)
{
    printf("%s jobs=%ld workers=%lld ms=%lld jobs_per_s=%.0f\n", what, n,
           (long long)t->cfg.workers, (long long)ms,
           ms > 0 ? (double)n * 1000.0 / (double)ms : 0.0);
}

static int mode_bench(struct tool *t)
{
    struct worker_pool *wp;
    struct store *st = store_new(&t->cfg);
    struct queue_new_job j = { t->type, NULL, "{\"n\":0}", 0, 0 };
    enum queue_added added;
    enum scb_err err = st ? store_ping(st) : SCB_ENOMEM;
    int64_t t0;

    t->handler = H_NOOP;
    wp = err ? NULL : pool_start(t);
    if (!wp) {
        store_free(st);
        return 1;
    }
    usleep(200 * 1000); /* workers connected and reading */
    t0 = mono_ms();
    for (long i = 0; !err && i < t->n; i++)
        err = queue_enqueue(st, &j, &added);
    if (!err) {
        wait_handled(t, t->n);
        print_rate("bench", t, t->n, mono_ms() - t0);
    }
    store_free(st);
    pool_end(t, wp);
    return err ? 1 : 0;
}

/* ---- the baseline: bare XADD, XREADGROUP and XACK ------------------- */

struct raw_reader {
    struct tool *t;
    char name[32];
    char stream[96];
    atomic_bool *stop;
};

static void *raw_read_main(void *arg)
{
    struct raw_reader *rr = arg;
    struct store *st = store_new(&rr->t->cfg);
    redisReply *r = NULL;

    store_set_timeout_ms(st, 3000);
    while (st && !atomic_load(rr->stop)) {
        if (store_cmd(st, &r,
                      "XREADGROUP GROUP g %s COUNT 1 BLOCK 200 "
                      "STREAMS %s >",
                      rr->name, rr->stream))
            break;
        if (r->type == REDIS_REPLY_ARRAY) {
            redisReply *e = r->element[0]->element[1]->element[0];
            redisReply *a = NULL;

            if (!store_cmd(st, &a, "XACK %s g %s", rr->stream,
                           e->element[0]->str))
                freeReplyObject(a);
            atomic_fetch_add(&rr->t->handled, 1);
        }
        freeReplyObject(r);
    }
    store_free(st);
    return NULL;
}

static int raw_run(struct tool *t, struct store *st, const char *stream)
{
    struct raw_reader rr[256];
    pthread_t th[256];
    atomic_bool stop = false;
    redisReply *r = NULL;
    int64_t t0;
    size_t n = (size_t)t->cfg.workers;

    for (size_t i = 0; i < n; i++) {
        rr[i] = (struct raw_reader){ t, "", "", &stop };
        snprintf(rr[i].name, sizeof(rr[i].name), "r%zu", i);
        snprintf(rr[i].stream, sizeof(rr[i].stream), "%s", stream);
        pthread_create(&th[i], NULL, raw_read_main, &rr[i]);
    }
    usleep(200 * 1000);
    t0 = mono_ms();
    for (long i = 0; i < t->n; i++) {
        if (store_cmd(st, &r, "XADD %s * n 0", stream))
            break;
        freeReplyObject(r);
    }
    wait_handled(t, t->n);
    print_rate("baseline", t, t->n, mono_ms() - t0);
    atomic_store(&stop, true);
    for (size_t i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    return 0;
}

static int mode_baseline(struct tool *t)
{
    struct store *st = store_new(&t->cfg);
    struct buf stream;
    redisReply *r = NULL;
    int rc = 1;

    buf_init(&stream, 128);
    if (st && !store_key(st, &stream, "bench:raw") &&
        !store_cmd(st, &r, "DEL %s", stream.data)) {
        freeReplyObject(r);
        if (!store_cmd(st, &r, "XGROUP CREATE %s g 0 MKSTREAM", stream.data)) {
            freeReplyObject(r);
            rc = raw_run(t, st, stream.data);
        }
    }
    buf_release(&stream);
    store_free(st);
    return rc;
}

int main(int argc, char **argv)
{
    static struct tool t;
    sigset_t set;

    log_init(LOG_INFO, 1);
    mem_install_hooks();
    if (!parse_args(&t, argc, argv)) {
        fprintf(stderr, "usage: queue-worker [options] run | enqueue N | "
                        "bench N | baseline N | check\n");
        return 2;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (strcmp(t.mode, "run") == 0)
        return mode_run(&t);
    if (strcmp(t.mode, "enqueue") == 0)
        return mode_enqueue(&t);
    if (strcmp(t.mode, "bench") == 0)
        return mode_bench(&t);
    if (strcmp(t.mode, "baseline") == 0)
        return mode_baseline(&t);
    return mode_check(&t);
}
