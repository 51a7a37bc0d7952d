/* SPDX-License-Identifier: MIT */
/* Unit tests of the worker threads against the Redis of the tests. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "queue.h"
#include "store.h"
#include "worker.h"

#define NJOBS 200

struct fixture {
    struct config cfg;
    struct store *st;
    struct worker_pool *wp;
    atomic_int runs;        /* handler calls */
    atomic_int seen[NJOBS]; /* calls per payload number */
    atomic_int done_slow;   /* slow handlers that returned */
    int sleep_ms;           /* what the slow handler sleeps */
};

static void test_config(struct config *cfg)
{
    const char *url = getenv("SCB_TEST_REDIS_URL");
    char host[128] = "";
    int port = 0, db = 0;

    memset(cfg, 0, sizeof(*cfg));
    if (!url) {
        fail_msg("SCB_TEST_REDIS_URL is not set (scripts/run-tests.sh "
                 "sets it)");
        return;
    }
    if (sscanf(url, "redis://%127[^:]:%d/%d", host, &port, &db) < 2)
        fail_msg("cannot read SCB_TEST_REDIS_URL %s", url);
    snprintf(cfg->redis_host, sizeof(cfg->redis_host), "%s", host);
    cfg->redis_port = port;
    cfg->redis_db = db;
    snprintf(cfg->redis_prefix, sizeof(cfg->redis_prefix), "wt:");
    cfg->workers = 4;
    cfg->job_lease_s = 30;
    cfg->job_max_attempts = 3;
    cfg->backoff_base_s = 0; /* retries at once, so tests stay short */
    cfg->backoff_cap_s = 0;
    cfg->max_wait_s = 10;
    cfg->drain_timeout_s = 5;
    cfg->order_retention_s = 86400;
}

static int setup(void **state)
{
    struct fixture *fx = mem_calloc(1, sizeof(*fx));
    redisReply *r = NULL;

    log_init(LOG_ERROR, 1);
    test_config(&fx->cfg);
    fx->st = store_new(&fx->cfg);
    assert_int_equal(store_cmd(fx->st, &r, "FLUSHDB"), SCB_OK);
    freeReplyObject(r);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    /* The pool's collector must not outlive it. */
    metrics_reset();
    if (fx->wp) {
        assert_true(worker_pool_drain(fx->wp, 10000));
        worker_pool_free(fx->wp);
    }
    store_free(fx->st);
    mem_free(fx);
    return 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to 10 s for *v to reach 'want'. */
static void wait_count(atomic_int *v, int want)
{
    int64_t until = mono_ms() + 10000;

    while (atomic_load(v) < want && mono_ms() < until)
        usleep(5000);
    assert_int_equal(atomic_load(v), want);
}

static void enq(struct fixture *fx, const char *type, int n)
{
    char payload[32];
    struct queue_new_job j = { type, NULL, payload, 0, 0 };
    enum queue_added added;

    snprintf(payload, sizeof(payload), "{\"n\":%d}", n);
    assert_int_equal(queue_enqueue(fx->st, &j, &added), SCB_OK);
}

static struct queue_stats stats(struct fixture *fx)
{
    struct queue_stats s;

    assert_int_equal(queue_stats_read(fx->st, &fx->cfg, &s), SCB_OK);
    return s;
}

static enum queue_outcome count_handler(struct queue_job *job, void *ctx)
{
    struct fixture *fx = ctx;
    const cJSON *n = cJSON_GetObjectItem(queue_job_json(job), "n");

    if (n && n->valueint >= 0 && n->valueint < NJOBS)
        atomic_fetch_add(&fx->seen[n->valueint], 1);
    atomic_fetch_add(&fx->runs, 1);
    return QUEUE_DONE;
}

/* Fails the first attempt, succeeds on the second. */
static enum queue_outcome flaky_handler(struct queue_job *job, void *ctx)
{
    struct fixture *fx = ctx;

    atomic_fetch_add(&fx->runs, 1);
    if (queue_job_attempt(job) == 1) {
        queue_job_set_error(job, "first try fails");
        return QUEUE_RETRY;
    }
    return QUEUE_DONE;
}

static enum queue_outcome slow_handler(struct queue_job *job, void *ctx)
{
    struct fixture *fx = ctx;

    (void)job;
    atomic_fetch_add(&fx->runs, 1);
    usleep((useconds_t)fx->sleep_ms * 1000);
    atomic_fetch_add(&fx->done_slow, 1);
    return QUEUE_DONE;
}

static void start(struct fixture *fx, const char *type, queue_handler_fn fn)
{
    fx->wp = worker_pool_new(&fx->cfg);
    assert_non_null(fx->wp);
    assert_int_equal(worker_pool_register(fx->wp, type, fn, fx), SCB_OK);
    assert_int_equal(worker_pool_start(fx->wp), SCB_OK);
}

static void test_worker__runs_each_job_once(void **state)
{
    struct fixture *fx = *state;
    struct queue_stats s;

    start(fx, "t.count", count_handler);
    for (int i = 0; i < NJOBS; i++)
        enq(fx, "t.count", i);
    wait_count(&fx->runs, NJOBS);
    assert_true(worker_pool_drain(fx->wp, 5000));
    for (int i = 0; i < NJOBS; i++)
        assert_int_equal(atomic_load(&fx->seen[i]), 1);
    s = stats(fx);
    assert_int_equal(s.ready + s.pending + s.delayed + s.dead, 0);
}

static bool metric_has(const char *needle)
{
    struct buf b;
    bool found;

    buf_init(&b, 1 << 20);
    assert_int_equal(metrics_render(&b), SCB_OK);
    found = b.data && strstr(b.data, needle);
    buf_release(&b);
    return found;
}

static void test_worker__retry_runs_again_and_is_counted(void **state)
{
    struct fixture *fx = *state;

    start(fx, "t.flaky", flaky_handler);
    enq(fx, "t.flaky", 1);
    /* The retry is due at once; the pool's kick runs it without a wait. */
    wait_count(&fx->runs, 2);
    usleep(100 * 1000);
    assert_true(metric_has("scbridge_jobs_total{type=\"t.flaky\","
                           "outcome=\"retry\"} 1"));
    assert_true(metric_has("scbridge_jobs_total{type=\"t.flaky\","
                           "outcome=\"done\"} 1"));
    assert_true(metric_has("scbridge_job_duration_seconds_count{"
                           "type=\"t.flaky\"} 2"));
}

static void test_worker__drain_lets_a_running_job_finish(void **state)
{
    struct fixture *fx = *state;
    struct queue_stats s;

    fx->sleep_ms = 500;
    start(fx, "t.slow", slow_handler);
    enq(fx, "t.slow", 1);
    wait_count(&fx->runs, 1);
    assert_int_equal(worker_pool_in_flight(fx->wp), 1);
    assert_true(worker_pool_drain(fx->wp, 5000));
    assert_int_equal(atomic_load(&fx->done_slow), 1);
    s = stats(fx);
    assert_int_equal(s.pending + s.ready, 0);
}

static void test_worker__drain_gives_up_at_its_bound(void **state)
{
    struct fixture *fx = *state;
    int64_t t0;

    fx->sleep_ms = 1500;
    start(fx, "t.slow", slow_handler);
    enq(fx, "t.slow", 1);
    enq(fx, "t.slow", 2);
    wait_count(&fx->runs, 2);
    worker_pool_stop(fx->wp);
    enq(fx, "t.slow", 3); /* not taken after the stop */
    t0 = mono_ms();
    assert_false(worker_pool_drain(fx->wp, 200));
    assert_true(mono_ms() - t0 < 1000);
    assert_int_equal(stats(fx).pending, 2); /* unfinished, unacknowledged */
    assert_true(worker_pool_drain(fx->wp, 5000));
    assert_int_equal(atomic_load(&fx->runs), 2);
    assert_int_equal(stats(fx).ready, 1);
}

static void test_worker__stop_cuts_idle_reads_short(void **state)
{
    struct fixture *fx = *state;
    int64_t t0;

    start(fx, "t.count", count_handler);
    usleep(300 * 1000); /* every worker is now in its blocking read */
    t0 = mono_ms();
    assert_true(worker_pool_drain(fx->wp, 10000));
    assert_true(mono_ms() - t0 < 2000);
}

static void test_worker__job_without_handler_is_left_pending(void **state)
{
    struct fixture *fx = *state;
    struct queue_stats s;

    start(fx, "t.count", count_handler);
    enq(fx, "t.unknown", 1);
    enq(fx, "t.count", 2);
    wait_count(&fx->runs, 1);
    usleep(100 * 1000);
    s = stats(fx);
    assert_int_equal(s.ready, 0);
    assert_int_equal(s.pending, 1);
    assert_int_equal(s.dead, 0);
}

static void test_worker__long_job_keeps_its_lease(void **state)
{
    struct fixture *fx = *state;
    struct store *other = store_new(&fx->cfg);
    struct queue_sweep_result res;

    fx->cfg.job_lease_s = 2; /* renewed every 667 ms */
    fx->sleep_ms = 3500;
    start(fx, "t.slow", slow_handler);
    enq(fx, "t.slow", 1);
    wait_count(&fx->runs, 1);
    for (int i = 0; i < 15; i++) {
        usleep(200 * 1000);
        /* Another replica's sweep finds nothing to take back. */
        assert_int_equal(queue_sweep(other, &fx->cfg, "other", false, &res),
                         SCB_OK);
        assert_int_equal(res.reclaimed, 0);
    }
    wait_count(&fx->done_slow, 1);
    assert_true(worker_pool_drain(fx->wp, 5000));
    assert_int_equal(atomic_load(&fx->runs), 1);
    store_free(other);
}

static void test_worker__collector_reports_queue_depths(void **state)
{
    struct fixture *fx = *state;
    struct queue_new_job j = { "t.count", NULL, "{}", 0, 0 };
    enum queue_added added;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    j.run_at_ms = (int64_t)ts.tv_sec * 1000 + 600000;
    start(fx, "t.count", count_handler);
    assert_int_equal(queue_enqueue(fx->st, &j, &added), SCB_OK);
    assert_true(metric_has("scbridge_queue_depth{queue=\"delayed\"} 1"));
    assert_true(metric_has("scbridge_queue_depth{queue=\"ready\"} 0"));
    assert_true(metric_has("scbridge_dead_letters 0"));
    assert_true(metric_has("scbridge_oldest_job_age_seconds 0"));
}

static void test_worker__register_refuses_bad_types(void **state)
{
    struct fixture *fx = *state;
    struct worker_pool *wp = worker_pool_new(&fx->cfg);

    assert_int_equal(worker_pool_register(wp, "t.a", count_handler, fx),
                     SCB_OK);
    assert_int_equal(worker_pool_register(wp, "t.a", count_handler, fx),
                     SCB_EINVAL);
    assert_int_equal(worker_pool_register(wp, "", count_handler, fx),
                     SCB_EINVAL);
    assert_int_equal(worker_pool_register(wp, "t.b", NULL, fx), SCB_EINVAL);
    assert_true(worker_pool_drain(wp, 10)); /* never started */
    worker_pool_free(wp);
    worker_pool_free(NULL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_worker__runs_each_job_once),
        T(test_worker__retry_runs_again_and_is_counted),
        T(test_worker__drain_lets_a_running_job_finish),
        T(test_worker__drain_gives_up_at_its_bound),
        T(test_worker__stop_cuts_idle_reads_short),
        T(test_worker__job_without_handler_is_left_pending),
        T(test_worker__long_job_keeps_its_lease),
        T(test_worker__collector_reports_queue_depths),
        T(test_worker__register_refuses_bad_types),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
