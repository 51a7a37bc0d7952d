/* SPDX-License-Identifier: MIT */
/* Worker threads that run queued jobs, and the sweeper that serves them. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "worker.h"

#define WORKER_BLOCK_MS 5000       /* longest blocking read */
#define WORKER_BACKOFF_MIN_MS 100  /* first pause after a Redis failure */
#define WORKER_BACKOFF_MAX_MS 2000 /* longest pause */
#define WORKER_SWEEP_MAX_MS 5000   /* longest time between sweeps */
#define WORKER_HOUSEKEEP_MS 3600000
#define WORKER_NEVER INT64_MAX

#define M_JOBS "scbridge_jobs_total"
#define M_DURATION "scbridge_job_duration_seconds"
#define M_DEPTH "scbridge_queue_depth"
#define M_AGE "scbridge_oldest_job_age_seconds"
#define M_DEAD "scbridge_dead_letters"

struct worker_handler {
    char type[QUEUE_TYPE_MAX + 1];
    queue_handler_fn fn;
    void *ctx;
};

struct worker_slot {
    struct worker_pool *wp;
    pthread_t thread;
    bool joinable;
    char consumer[QUEUE_CONSUMER_MAX];
    atomic_llong client_id;    /* CLIENT ID of its connection; 0: none */
    pthread_mutex_t slot_lock; /* guards busy, entry_id, renewed_ms */
    bool busy;
    char entry_id[QUEUE_ID_MAX];
    int64_t renewed_ms; /* monotonic, lease last taken or renewed */
};

struct worker_pool {
    const struct config *cfg; /* borrowed */
    struct worker_handler handlers[WORKER_HANDLERS_MAX];
    size_t nhandlers;
    struct worker_slot *slots;
    size_t nslots;
    char sweeper_name[QUEUE_CONSUMER_MAX];
    pthread_t sweeper;
    bool sweeper_joinable;
    bool started;
    atomic_bool stopping;
    atomic_int in_flight;
    pthread_mutex_t wp_lock;    /* guards running, kick_at_ms */
    pthread_cond_t wp_cond;     /* CLOCK_MONOTONIC; stop, kicks, exits */
    int running;                /* worker threads not yet ended */
    int64_t kick_at_ms;         /* monotonic; 0: none */
    pthread_mutex_t stats_lock; /* guards stats_store */
    struct store *stats_store;
};

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits on wp_cond (held) until the monotonic time 'at_ms'. */
static void wp_wait_until(struct worker_pool *wp, int64_t at_ms)
{
    struct timespec ts;

    if (at_ms == WORKER_NEVER)
        at_ms = mono_ms() + 3600000;
    ts.tv_sec = (time_t)(at_ms / 1000);
    ts.tv_nsec = (long)(at_ms % 1000) * 1000000;
    (void)pthread_cond_timedwait(&wp->wp_cond, &wp->wp_lock, &ts);
}

/* Sleeps 'ms' unless the pool is stopping. */
static void wp_pause(struct worker_pool *wp, int64_t ms)
{
    int64_t until = mono_ms() + ms;

    pthread_mutex_lock(&wp->wp_lock);
    while (!atomic_load(&wp->stopping) && mono_ms() < until)
        wp_wait_until(wp, until);
    pthread_mutex_unlock(&wp->wp_lock);
}

static void worker_describe(void)
{
    metrics_describe(M_JOBS, METRICS_COUNTER,
                     "Jobs finished, by type and outcome");
    metrics_describe(M_DURATION, METRICS_HISTOGRAM,
                     "Time a handler took for one attempt");
    metrics_describe(M_DEPTH, METRICS_GAUGE,
                     "Jobs ready, pending, delayed and dead");
    metrics_describe(M_AGE, METRICS_GAUGE,
                     "Age of the oldest job ready or pending");
    metrics_describe(M_DEAD, METRICS_GAUGE, "Dead letters");
}

/* "<host>-<pid>-<random>": unique even when a restart reuses pid 1. */
static void worker_base_name(char *out, size_t outlen)
{
    char host[48] = "scbridge";
    uint32_t rnd = 0;

    (void)gethostname(host, sizeof(host) - 1); /* the default stays */
    host[sizeof(host) - 1] = '\0';
    for (char *p = host; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
            *p = '_';
    }
    if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
        rnd = (uint32_t)mono_ms();
    snprintf(out, outlen, "%s-%ld-%08x", host, (long)getpid(), rnd);
}

static enum scb_err worker_init_sync(struct worker_pool *wp)
{
    pthread_condattr_t ca;
    int rc;

    if (pthread_condattr_init(&ca) != 0)
        return SCB_ENOMEM;
    rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (!rc)
        rc = pthread_cond_init(&wp->wp_cond, &ca);
    pthread_condattr_destroy(&ca);
    if (rc)
        return SCB_ENOMEM;
    if (pthread_mutex_init(&wp->wp_lock, NULL) != 0) {
        pthread_cond_destroy(&wp->wp_cond);
        return SCB_ENOMEM;
    }
    if (pthread_mutex_init(&wp->stats_lock, NULL) != 0) {
        pthread_mutex_destroy(&wp->wp_lock);
        pthread_cond_destroy(&wp->wp_cond);
        return SCB_ENOMEM;
    }
    return SCB_OK;
}

static enum scb_err worker_slots_init(struct worker_pool *wp, const char *base)
{
    for (size_t i = 0; i < wp->nslots; i++) {
        struct worker_slot *s = &wp->slots[i];

        if (pthread_mutex_init(&s->slot_lock, NULL) != 0) {
            while (i--)
                pthread_mutex_destroy(&wp->slots[i].slot_lock);
            return SCB_ENOMEM;
        }
        s->wp = wp;
        atomic_init(&s->client_id, 0);
        snprintf(s->consumer, sizeof(s->consumer), "%s-w%zu", base, i);
    }
    return SCB_OK;
}

static void worker_sync_release(struct worker_pool *wp)
{
    pthread_mutex_destroy(&wp->stats_lock);
    pthread_mutex_destroy(&wp->wp_lock);
    pthread_cond_destroy(&wp->wp_cond);
}

struct worker_pool *worker_pool_new(const struct config *cfg)
{
    struct worker_pool *wp = mem_calloc(1, sizeof(*wp));
    char base[72];

    if (!wp)
        return NULL;
    wp->cfg = cfg;
    wp->nslots = cfg->workers > 0 ? (size_t)cfg->workers : 1;
    wp->slots = mem_calloc(wp->nslots, sizeof(*wp->slots));
    if (!wp->slots || worker_init_sync(wp))
        goto out_free;
    atomic_init(&wp->stopping, false);
    atomic_init(&wp->in_flight, 0);
    worker_base_name(base, sizeof(base));
    snprintf(wp->sweeper_name, sizeof(wp->sweeper_name), "%s-sweep", base);
    if (worker_slots_init(wp, base)) {
        worker_sync_release(wp);
        goto out_free;
    }
    worker_describe();
    return wp;

out_free:
    mem_free(wp->slots);
    mem_free(wp);
    return NULL;
}

enum scb_err worker_pool_register(struct worker_pool *wp, const char *type,
                                  queue_handler_fn fn, void *ctx)
{
    struct worker_handler *h;

    if (wp->started || !fn || !type || !*type ||
        strlen(type) > QUEUE_TYPE_MAX || wp->nhandlers >= WORKER_HANDLERS_MAX)
        return SCB_EINVAL;
    for (size_t i = 0; i < wp->nhandlers; i++) {
        if (strcmp(wp->handlers[i].type, type) == 0)
            return SCB_EINVAL;
    }
    h = &wp->handlers[wp->nhandlers++];
    snprintf(h->type, sizeof(h->type), "%s", type);
    h->fn = fn;
    h->ctx = ctx;
    return SCB_OK;
}

static const struct worker_handler *worker_find(const struct worker_pool *wp,
                                                const char *type)
{
    for (size_t i = 0; i < wp->nhandlers; i++) {
        if (strcmp(wp->handlers[i].type, type) == 0)
            return &wp->handlers[i];
    }
    return NULL;
}

/* ---- one worker ------------------------------------------------------- */

/* Remembers the connection's CLIENT ID so that a stop can unblock it. */
static void worker_note_client(struct worker_slot *slot, struct store *st)
{
    redisReply *r = NULL;

    if (store_cmd(st, &r, "CLIENT ID"))
        return; /* a stop then waits out the read instead */
    if (r->type == REDIS_REPLY_INTEGER)
        atomic_store(&slot->client_id, r->integer);
    freeReplyObject(r);
}

/*
 * Connects if the link broke, and notes the new CLIENT ID. A handler
 * whose own commands reconnected leaves a stale id behind; a stop then
 * waits out that worker's read (5 s at most).
 */
static enum scb_err worker_link(struct worker_slot *slot, struct store *st)
{
    enum scb_err err;

    if (store_connected(st))
        return SCB_OK;
    atomic_store(&slot->client_id, 0);
    err = store_connect(st);
    if (!err)
        worker_note_client(slot, st);
    return err;
}

static enum scb_err worker_take(struct worker_slot *slot, struct store *st,
                                struct queue_job **out_job)
{
    enum scb_err err = worker_link(slot, st);

    if (err)
        return err;
    return queue_take(st, slot->wp->cfg, slot->consumer, WORKER_BLOCK_MS,
                      out_job);
}

static void slot_begin(struct worker_slot *slot, const struct queue_job *job)
{
    pthread_mutex_lock(&slot->slot_lock);
    slot->busy = true;
    snprintf(slot->entry_id, sizeof(slot->entry_id), "%s",
             queue_job_entry_id(job));
    slot->renewed_ms = mono_ms();
    pthread_mutex_unlock(&slot->slot_lock);
    atomic_fetch_add(&slot->wp->in_flight, 1);
}

static void slot_end(struct worker_slot *slot)
{
    pthread_mutex_lock(&slot->slot_lock);
    slot->busy = false;
    slot->entry_id[0] = '\0';
    pthread_mutex_unlock(&slot->slot_lock);
    atomic_fetch_sub(&slot->wp->in_flight, 1);
}

static const char *const worker_outcome_names[] = {
    [QUEUE_DONE] = "done",
    [QUEUE_RETRY] = "retry",
    [QUEUE_WAIT] = "wait",
    [QUEUE_DEAD] = "dead",
};

static void worker_count(const struct queue_job *job,
                         enum queue_outcome applied, int64_t dur_ms)
{
    char type[2 * QUEUE_TYPE_MAX + 1];
    char labels[3 * QUEUE_TYPE_MAX + 64];

    metrics_label_value(queue_job_type(job), type, sizeof(type));
    snprintf(labels, sizeof(labels), "type=\"%s\",outcome=\"%s\"", type,
             worker_outcome_names[applied]);
    metrics_inc(M_JOBS, labels, 1);
    snprintf(labels, sizeof(labels), "type=\"%s\"", type);
    metrics_observe(M_DURATION, labels, (double)dur_ms / 1000.0);
}

static void worker_log(const struct queue_job *job,
                       const struct queue_finished *fin, const char *error)
{
    const char *id = queue_job_id(job);
    const char *type = queue_job_type(job);

    if (fin->outcome == QUEUE_DONE)
        log_debug("worker", "job done", LOG_STR("job", id),
                  LOG_STR("type", type));
    else if (fin->outcome == QUEUE_WAIT)
        log_info("worker", "job waits", LOG_STR("job", id),
                 LOG_STR("type", type), LOG_INT("wait_ms", fin->delay_ms));
    else if (fin->outcome == QUEUE_RETRY)
        log_warn(
            "worker", "job failed, will retry", LOG_STR("job", id),
            LOG_STR("type", type), LOG_INT("attempt", queue_job_attempt(job)),
            LOG_INT("retry_in_ms", fin->delay_ms), LOG_STR("error", error));
    else
        log_error("worker", "job dead-lettered", LOG_STR("job", id),
                  LOG_STR("type", type),
                  LOG_INT("attempt", queue_job_attempt(job)),
                  LOG_STR("error", error));
}

/*
 * Finishes a job, trying again while Redis is away, for up to half a
 * lease: past that the job is better left to be taken back.
 */
static void worker_finish(struct worker_slot *slot, struct queue_job *job,
                          enum queue_outcome outcome, int64_t dur_ms)
{
    struct worker_pool *wp = slot->wp;
    int64_t give_up = mono_ms() + wp->cfg->job_lease_s * 500;
    int64_t pause = WORKER_BACKOFF_MIN_MS;
    struct queue_finished fin = { 0 };
    enum scb_err err;

    (void)worker_link(slot, queue_job_store(job)); /* finish reports */
    while ((err = queue_finish(job, outcome, &fin)) == SCB_ESTORE &&
           mono_ms() < give_up) {
        /* Not cut short by a stop: a drain waits for this very job. */
        nanosleep(&(struct timespec){ .tv_sec = pause / 1000,
                                      .tv_nsec = (pause % 1000) * 1000000 },
                  NULL);
        (void)worker_link(slot, queue_job_store(job));
        pause = pause * 2 > WORKER_BACKOFF_MAX_MS ? WORKER_BACKOFF_MAX_MS
                                                  : pause * 2;
    }
    if (err == SCB_ECONFLICT) {
        log_warn("worker", "lease lost, the new owner finishes the job",
                 LOG_STR("job", queue_job_id(job)),
                 LOG_STR("type", queue_job_type(job)));
        return;
    }
    if (err) {
        log_error("worker", "cannot finish job, it will be taken back",
                  LOG_STR("job", queue_job_id(job)),
                  LOG_STR("detail", store_errstr(queue_job_store(job))));
        return;
    }
    worker_count(job, fin.outcome, dur_ms);
    worker_log(job, &fin, queue_job_error(job));
    if (fin.outcome == QUEUE_RETRY || fin.outcome == QUEUE_WAIT)
        worker_pool_kick(wp, fin.delay_ms);
}

/* A job this worker cannot run stays pending for one that can. */
static bool worker_leave(const struct worker_pool *wp,
                         const struct queue_job *job)
{
    if (queue_job_foreign(job)) {
        log_info("worker", "job of another schema version left alone",
                 LOG_STR("entry", queue_job_entry_id(job)));
        return true;
    }
    if (!worker_find(wp, queue_job_type(job))) {
        log_warn("worker", "no handler for the job type, left alone",
                 LOG_STR("job", queue_job_id(job)),
                 LOG_STR("type", queue_job_type(job)));
        return true;
    }
    return false;
}

static void worker_run(struct worker_slot *slot, struct queue_job *job)
{
    const struct worker_handler *h;
    enum queue_outcome outcome;
    int64_t t0;

    if (worker_leave(slot->wp, job))
        return;
    h = worker_find(slot->wp, queue_job_type(job));
    slot_begin(slot, job);
    t0 = mono_ms();
    outcome = h->fn(job, h->ctx);
    worker_finish(slot, job, outcome, mono_ms() - t0);
    slot_end(slot);
}

static void worker_failed(struct worker_slot *slot, struct store *st,
                          enum scb_err err, int64_t *pause)
{
    if (*pause == 0)
        log_warn("worker", "cannot take jobs, retrying",
                 LOG_STR("consumer", slot->consumer),
                 LOG_STR("error", scb_strerror(err)),
                 LOG_STR("detail", store_errstr(st)));
    *pause = *pause ? *pause * 2 : WORKER_BACKOFF_MIN_MS;
    if (*pause > WORKER_BACKOFF_MAX_MS)
        *pause = WORKER_BACKOFF_MAX_MS;
    wp_pause(slot->wp, *pause);
}

static void worker_loop(struct worker_slot *slot, struct store *st)
{
    struct worker_pool *wp = slot->wp;
    int64_t pause = 0;

    while (!atomic_load(&wp->stopping)) {
        struct queue_job *job = NULL;
        enum scb_err err = worker_take(slot, st, &job);

        if (err && err != SCB_ENOTFOUND) {
            worker_failed(slot, st, err, &pause);
            continue;
        }
        if (pause)
            log_info("worker", "taking jobs again",
                     LOG_STR("consumer", slot->consumer));
        pause = 0;
        if (!job)
            continue;
        if (atomic_load(&wp->stopping) && !queue_job_foreign(job))
            (void)queue_release(job); /* lost: taken back after a lease */
        else
            worker_run(slot, job);
        queue_job_free(job);
    }
}

static void *worker_main(void *arg)
{
    struct worker_slot *slot = arg;
    struct worker_pool *wp = slot->wp;
    struct store *st = store_new(wp->cfg);

    if (st) {
        worker_loop(slot, st);
        /* Best effort: a consumer left behind is dropped by a sweep. */
        (void)queue_consumer_drop(st, slot->consumer);
        store_free(st);
    } else {
        log_error("worker", "out of memory, worker not started",
                  LOG_STR("consumer", slot->consumer));
    }
    pthread_mutex_lock(&wp->wp_lock);
    wp->running--;
    pthread_cond_broadcast(&wp->wp_cond);
    pthread_mutex_unlock(&wp->wp_lock);
    return NULL;
}

/* ---- the sweeper -------------------------------------------------------- */

/* The sweeper thread's state. */
struct sweeper {
    struct worker_pool *wp;
    struct store *st;
    /* Copies of the running jobs whose lease is due for renewal. */
    const char **consumers;
    const char **ids;
    char (*id_buf)[QUEUE_ID_MAX];
    size_t *slot_of;
    size_t n;
    int64_t next_sweep; /* monotonic ms */
    int64_t next_house;
    bool sweep_failing; /* a failure is logged once, not every retry */
    bool renew_failing;
};

static int64_t sweep_period_ms(const struct config *cfg)
{
    int64_t p = cfg->job_lease_s * 1000 / 3;

    if (p > WORKER_SWEEP_MAX_MS)
        p = WORKER_SWEEP_MAX_MS;
    return p < 100 ? 100 : p;
}

static void sweeper_failed(struct sweeper *sw, bool *failing, const char *msg,
                           enum scb_err err)
{
    if (!*failing)
        log_warn("worker", msg, LOG_STR("error", scb_strerror(err)),
                 LOG_STR("detail", store_errstr(sw->st)));
    *failing = true;
}

/* One sweep; sets the monotonic time of the next. */
static void sweeper_sweep(struct sweeper *sw, int64_t now)
{
    struct queue_sweep_result res = { 0 };
    const struct config *cfg = sw->wp->cfg;
    bool house = now >= sw->next_house;
    int64_t next = now + sweep_period_ms(cfg);
    enum scb_err err;

    err = queue_sweep(sw->st, cfg, sw->wp->sweeper_name, house, &res);
    if (err) {
        sweeper_failed(sw, &sw->sweep_failing, "sweep failed", err);
        sw->next_sweep = now + WORKER_BACKOFF_MAX_MS < next
                             ? now + WORKER_BACKOFF_MAX_MS
                             : next;
        return;
    }
    sw->sweep_failing = false;
    if (house)
        sw->next_house = now + WORKER_HOUSEKEEP_MS;
    if (res.reclaimed)
        log_warn("worker", "took back jobs from silent workers",
                 LOG_INT("jobs", res.reclaimed), LOG_INT("dead", res.dead));
    if (res.next_due_ms >= 0 && now + res.next_due_ms < next)
        next = now + res.next_due_ms;
    sw->next_sweep = res.more ? now : next;
}

/* Collects running jobs whose lease is a third spent; next due time. */
static int64_t renew_collect(struct sweeper *sw, int64_t now)
{
    struct worker_pool *wp = sw->wp;
    int64_t third = wp->cfg->job_lease_s * 1000 / 3;
    int64_t next = WORKER_NEVER;

    sw->n = 0;
    for (size_t i = 0; i < wp->nslots; i++) {
        struct worker_slot *s = &wp->slots[i];

        pthread_mutex_lock(&s->slot_lock);
        if (s->busy && now - s->renewed_ms >= third) {
            snprintf(sw->id_buf[sw->n], QUEUE_ID_MAX, "%s", s->entry_id);
            sw->consumers[sw->n] = s->consumer;
            sw->ids[sw->n] = sw->id_buf[sw->n];
            sw->slot_of[sw->n++] = i;
        } else if (s->busy && s->renewed_ms + third < next) {
            next = s->renewed_ms + third;
        }
        pthread_mutex_unlock(&s->slot_lock);
    }
    return next;
}

static void renew_mark(struct sweeper *sw, int64_t now)
{
    for (size_t i = 0; i < sw->n; i++) {
        struct worker_slot *s = &sw->wp->slots[sw->slot_of[i]];

        pthread_mutex_lock(&s->slot_lock);
        if (s->busy && strcmp(s->entry_id, sw->ids[i]) == 0)
            s->renewed_ms = now;
        pthread_mutex_unlock(&s->slot_lock);
    }
}

/* Renews what is due; answers the monotonic time of the next renewal. */
static int64_t sweeper_renew(struct sweeper *sw, int64_t now)
{
    int64_t third = sw->wp->cfg->job_lease_s * 1000 / 3;
    int64_t next = renew_collect(sw, now);
    size_t renewed = 0;
    enum scb_err err;

    if (!sw->n)
        return next;
    err = queue_renew(sw->st, sw->consumers, sw->ids, sw->n, &renewed);
    if (err) {
        sweeper_failed(sw, &sw->renew_failing, "lease renewal failed", err);
        return now + WORKER_BACKOFF_MIN_MS;
    }
    sw->renew_failing = false;
    renew_mark(sw, now);
    return now + third < next ? now + third : next;
}

static enum scb_err sweeper_init(struct sweeper *sw, struct worker_pool *wp)
{
    size_t n = wp->nslots;

    memset(sw, 0, sizeof(*sw));
    sw->wp = wp;
    sw->st = store_new(wp->cfg);
    sw->consumers = mem_calloc(n, sizeof(*sw->consumers));
    sw->ids = mem_calloc(n, sizeof(*sw->ids));
    sw->id_buf = mem_calloc(n, sizeof(*sw->id_buf));
    sw->slot_of = mem_calloc(n, sizeof(*sw->slot_of));
    if (!sw->st || !sw->consumers || !sw->ids || !sw->id_buf || !sw->slot_of)
        return SCB_ENOMEM;
    sw->next_sweep = mono_ms();
    sw->next_house = sw->next_sweep + WORKER_HOUSEKEEP_MS;
    return SCB_OK;
}

static void sweeper_release(struct sweeper *sw)
{
    store_free(sw->st);
    mem_free(sw->consumers);
    mem_free(sw->ids);
    mem_free(sw->id_buf);
    mem_free(sw->slot_of);
}

/* Answers whether the sweeper should end; takes a pending kick. */
static bool sweeper_next(struct sweeper *sw)
{
    struct worker_pool *wp = sw->wp;
    bool end;

    pthread_mutex_lock(&wp->wp_lock);
    end = atomic_load(&wp->stopping) && wp->running == 0;
    if (wp->kick_at_ms && wp->kick_at_ms < sw->next_sweep)
        sw->next_sweep = wp->kick_at_ms;
    wp->kick_at_ms = 0;
    pthread_mutex_unlock(&wp->wp_lock);
    return end;
}

static void sweeper_sleep(struct worker_pool *wp, int64_t until)
{
    pthread_mutex_lock(&wp->wp_lock);
    if (!wp->kick_at_ms && !(atomic_load(&wp->stopping) && !wp->running))
        wp_wait_until(wp, until);
    pthread_mutex_unlock(&wp->wp_lock);
}

/*
 * After a stop the sweeper only renews leases, until the last worker
 * has ended, so that jobs still draining keep their lease.
 */
static void sweeper_loop(struct sweeper *sw)
{
    while (!sweeper_next(sw)) {
        int64_t now = mono_ms();
        int64_t next_renew;

        if (atomic_load(&sw->wp->stopping))
            sw->next_sweep = WORKER_NEVER;
        else if (now >= sw->next_sweep)
            sweeper_sweep(sw, now);
        next_renew = sweeper_renew(sw, mono_ms());
        sweeper_sleep(sw->wp, sw->next_sweep < next_renew ? sw->next_sweep
                                                          : next_renew);
    }
}

static void *sweeper_main(void *arg)
{
    struct sweeper sw;

    if (sweeper_init(&sw, arg) == SCB_OK)
        sweeper_loop(&sw);
    else
        log_error("worker", "out of memory, sweeper not started");
    sweeper_release(&sw);
    return NULL;
}

/* ---- the pool ----------------------------------------------------------- */

static void worker_collect(void *ctx)
{
    struct worker_pool *wp = ctx;
    struct queue_stats s;
    enum scb_err err = SCB_ENOMEM;

    pthread_mutex_lock(&wp->stats_lock);
    if (!wp->stats_store)
        wp->stats_store = store_new(wp->cfg);
    if (wp->stats_store)
        err = queue_stats_read(wp->stats_store, wp->cfg, &s);
    pthread_mutex_unlock(&wp->stats_lock);
    if (err)
        return; /* the gauges keep their last values; /readyz tells why */
    metrics_set(M_DEPTH, "queue=\"ready\"", (double)s.ready);
    metrics_set(M_DEPTH, "queue=\"pending\"", (double)s.pending);
    metrics_set(M_DEPTH, "queue=\"delayed\"", (double)s.delayed);
    metrics_set(M_DEPTH, "queue=\"dead\"", (double)s.dead);
    metrics_set(M_AGE, "", s.oldest_age_s);
    metrics_set(M_DEAD, "", (double)s.dead);
}

static enum scb_err worker_spawn(struct worker_pool *wp)
{
    for (size_t i = 0; i < wp->nslots; i++) {
        struct worker_slot *s = &wp->slots[i];

        pthread_mutex_lock(&wp->wp_lock);
        wp->running++;
        pthread_mutex_unlock(&wp->wp_lock);
        if (pthread_create(&s->thread, NULL, worker_main, s) != 0) {
            pthread_mutex_lock(&wp->wp_lock);
            wp->running--;
            pthread_mutex_unlock(&wp->wp_lock);
            return SCB_ENOMEM;
        }
        s->joinable = true;
    }
    if (pthread_create(&wp->sweeper, NULL, sweeper_main, wp) != 0)
        return SCB_ENOMEM;
    wp->sweeper_joinable = true;
    return SCB_OK;
}

static void worker_join(struct worker_pool *wp)
{
    for (size_t i = 0; i < wp->nslots; i++) {
        if (wp->slots[i].joinable) {
            pthread_join(wp->slots[i].thread, NULL);
            wp->slots[i].joinable = false;
        }
    }
    if (wp->sweeper_joinable) {
        pthread_join(wp->sweeper, NULL);
        wp->sweeper_joinable = false;
    }
}

enum scb_err worker_pool_start(struct worker_pool *wp)
{
    sigset_t all, old;
    enum scb_err err;

    if (wp->started || atomic_load(&wp->stopping))
        return SCB_EINVAL;
    wp->started = true;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    err = worker_spawn(wp);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        worker_pool_stop(wp);
        worker_join(wp);
        wp->started = false;
        return err;
    }
    metrics_add_collector(worker_collect, wp);
    return SCB_OK;
}

/*
 * Cuts the idle workers' blocking reads short; they then see the stop
 * flag. A busy worker's connection is left alone.
 */
static bool worker_unblock(struct worker_pool *wp, struct store *st)
{
    for (size_t i = 0; st && i < wp->nslots; i++) {
        struct worker_slot *s = &wp->slots[i];
        long long id = atomic_load(&s->client_id);
        redisReply *r = NULL;
        enum scb_err err;
        bool busy;

        pthread_mutex_lock(&s->slot_lock);
        busy = s->busy;
        pthread_mutex_unlock(&s->slot_lock);
        if (id <= 0 || busy)
            continue;
        err = store_cmd(st, &r, "CLIENT UNBLOCK %lld", id);
        if (err == SCB_ESTORE || err == SCB_ESTORECMD)
            return false; /* the reads end on their own within 5 s */
        if (!err)
            freeReplyObject(r);
    }
    return st != NULL;
}

void worker_pool_stop(struct worker_pool *wp)
{
    struct store *st;

    if (atomic_exchange(&wp->stopping, true))
        return;
    pthread_mutex_lock(&wp->wp_lock);
    pthread_cond_broadcast(&wp->wp_cond);
    pthread_mutex_unlock(&wp->wp_lock);
    if (!wp->started)
        return;
    st = store_new(wp->cfg);
    (void)worker_unblock(wp, st); /* best effort; see worker_wait_end() */
    store_free(st);
}

/*
 * Waits for the workers to end. A worker that was between its stop
 * check and its read when the stop came blocks anyway, so the idle ones
 * are unblocked again every quarter second.
 */
static bool worker_wait_end(struct worker_pool *wp, int64_t until)
{
    struct store *st = store_new(wp->cfg);
    bool done = false, reachable = true;

    for (;;) {
        int64_t step = mono_ms() + 250;

        pthread_mutex_lock(&wp->wp_lock);
        while (wp->running > 0 && mono_ms() < step && mono_ms() < until)
            wp_wait_until(wp, step < until ? step : until);
        done = wp->running == 0;
        pthread_cond_broadcast(&wp->wp_cond);
        pthread_mutex_unlock(&wp->wp_lock);
        if (done || mono_ms() >= until)
            break;
        if (reachable)
            reachable = worker_unblock(wp, st);
    }
    store_free(st);
    return done;
}

bool worker_pool_drain(struct worker_pool *wp, int64_t timeout_ms)
{
    int64_t until = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);

    worker_pool_stop(wp);
    if (!wp->started)
        return true;
    if (!worker_wait_end(wp, until))
        return false;
    worker_join(wp);
    wp->started = false;
    return true;
}

void worker_pool_free(struct worker_pool *wp)
{
    if (!wp || wp->started)
        return;
    store_free(wp->stats_store);
    for (size_t i = 0; i < wp->nslots; i++)
        pthread_mutex_destroy(&wp->slots[i].slot_lock);
    worker_sync_release(wp);
    mem_free(wp->slots);
    mem_free(wp);
}

void worker_pool_kick(struct worker_pool *wp, int64_t in_ms)
{
    int64_t at = mono_ms() + (in_ms > 0 ? in_ms : 0);

    pthread_mutex_lock(&wp->wp_lock);
    if (!wp->kick_at_ms || at < wp->kick_at_ms)
        wp->kick_at_ms = at ? at : 1;
    pthread_cond_broadcast(&wp->wp_cond);
    pthread_mutex_unlock(&wp->wp_lock);
}

int worker_pool_in_flight(struct worker_pool *wp)
{
    return atomic_load(&wp->in_flight);
}
