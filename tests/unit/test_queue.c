/* SPDX-License-Identifier: MIT */
/* Unit tests of the job queue against the Redis of the tests. */
#include <setjmp.h>
#include <stdarg.h>
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

#define P "qt:v1:"
#define STREAM P "jobs"

struct fixture {
    struct config cfg;
    struct store *st;
};

/* Fills 'cfg' by hand: Redis from SCB_TEST_REDIS_URL, queue settings. */
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
    snprintf(cfg->redis_prefix, sizeof(cfg->redis_prefix), "qt:");
    cfg->workers = 4;
    cfg->job_lease_s = 30;
    cfg->job_max_attempts = 3;
    cfg->backoff_base_s = 2;
    cfg->backoff_cap_s = 10;
    cfg->max_wait_s = 10;
    cfg->drain_timeout_s = 5;
    cfg->order_retention_s = 86400;
}

static redisReply *vraw(struct store *st, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static redisReply *raw(struct store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static long long raw_int(struct store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Runs one command given as words separated by single spaces. */
static redisReply *vraw(struct store *st, const char *fmt, va_list ap)
{
    const char *argv[32];
    char line[1024];
    redisReply *r = NULL;
    int argc = 0;

    vsnprintf(line, sizeof(line), fmt, ap);
    for (char *p = line; p && argc < 32; argc++) {
        argv[argc] = p;
        p = strchr(p, ' ');
        if (p)
            *p++ = '\0';
    }
    assert_int_equal(store_cmd_argv(st, &r, argc, argv, NULL), SCB_OK);
    return r;
}

static redisReply *raw(struct store *st, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = vraw(st, fmt, ap);
    va_end(ap);
    return r;
}

static long long raw_int(struct store *st, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    long long v;

    va_start(ap, fmt);
    r = vraw(st, fmt, ap);
    va_end(ap);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    v = r->integer;
    freeReplyObject(r);
    return v;
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

    store_free(fx->st);
    mem_free(fx);
    metrics_reset();
    return 0;
}

static int64_t unix_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum queue_added enq(struct store *st, const char *type, const char *key,
                            const char *payload, int64_t run_at_ms)
{
    struct queue_new_job j = { type, key, payload, 0, run_at_ms };
    enum queue_added added = QUEUE_COALESCED;

    assert_int_equal(queue_enqueue(st, &j, &added), SCB_OK);
    return added;
}

static struct queue_job *take(struct fixture *fx, const char *consumer)
{
    struct queue_job *job = NULL;

    assert_int_equal(queue_take(fx->st, &fx->cfg, consumer, 0, &job), SCB_OK);
    assert_non_null(job);
    return job;
}

static void take_none(struct fixture *fx, const char *consumer)
{
    struct queue_job *job = NULL;

    assert_int_equal(queue_take(fx->st, &fx->cfg, consumer, 0, &job),
                     SCB_ENOTFOUND);
    assert_null(job);
}

static enum queue_outcome finish(struct queue_job *job,
                                 enum queue_outcome outcome, int64_t *out_delay)
{
    struct queue_finished fin = { 0 };

    assert_int_equal(queue_finish(job, outcome, &fin), SCB_OK);
    if (out_delay)
        *out_delay = fin.delay_ms;
    return fin.outcome;
}

/* Makes every delayed job due now, as if its time had come. */
static void make_due(struct fixture *fx)
{
    redisReply *r = raw(fx->st, "ZRANGE " P "jobs:delayed 0 -1");

    for (size_t i = 0; i < r->elements; i++)
        raw_int(fx->st, "ZADD " P "jobs:delayed 0 %s", r->element[i]->str);
    freeReplyObject(r);
}

static struct queue_sweep_result sweep(struct fixture *fx)
{
    struct queue_sweep_result res = { 0 };

    assert_int_equal(queue_sweep(fx->st, &fx->cfg, "sweeper", false, &res),
                     SCB_OK);
    return res;
}

/* Makes a taken entry look silent past any lease. */
static void make_idle(struct fixture *fx, const struct queue_job *job,
                      const char *consumer)
{
    redisReply *r = raw(fx->st,
                        "XCLAIM " STREAM " " QUEUE_GROUP
                        " %s 0 %s IDLE 99999999 JUSTID",
                        consumer, queue_job_entry_id(job));

    freeReplyObject(r);
}

static int64_t dead_count(struct fixture *fx)
{
    int64_t n = -1;

    assert_int_equal(queue_dead_count(fx->st, &n), SCB_OK);
    return n;
}

static struct queue_stats stats(struct fixture *fx)
{
    struct queue_stats s;

    assert_int_equal(queue_stats_read(fx->st, &fx->cfg, &s), SCB_OK);
    return s;
}

static void test_queue__enqueued_job_is_taken_with_its_fields(void **state)
{
    struct fixture *fx = *state;
    struct queue_new_job j = { "t.a", "k1", "{\"n\":7}", 1234, 0 };
    enum queue_added added;
    struct queue_job *job;

    assert_int_equal(queue_enqueue(fx->st, &j, &added), SCB_OK);
    assert_int_equal(added, QUEUE_ADDED);
    job = take(fx, "c1");
    assert_false(queue_job_foreign(job));
    assert_string_equal(queue_job_type(job), "t.a");
    assert_string_equal(queue_job_key(job), "k1");
    assert_string_equal(queue_job_payload(job), "{\"n\":7}");
    assert_int_equal(cJSON_GetObjectItem(queue_job_json(job), "n")->valueint,
                     7);
    assert_int_equal(queue_job_attempt(job), 1);
    assert_int_equal(queue_job_accepted_ms(job), 1234);
    assert_int_equal(queue_job_waited_ms(job), 0);
    assert_string_equal(queue_job_last_error(job), "");
    assert_true(strlen(queue_job_id(job)) > 0);
    assert_ptr_equal(queue_job_store(job), fx->st);
    assert_int_equal(finish(job, QUEUE_DONE, NULL), QUEUE_DONE);
    queue_job_free(job);
    assert_int_equal(raw_int(fx->st, "XLEN " STREAM), 0);
    assert_int_equal(raw_int(fx->st, "EXISTS " P "jobs:co:t.a:k1"), 0);
    assert_int_equal(stats(fx).pending, 0);
    take_none(fx, "c1");
}

static void test_queue__second_enqueue_of_waiting_key_coalesces(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(enq(fx->st, "t.a", "k1", "{}", 0), QUEUE_ADDED);
    assert_int_equal(enq(fx->st, "t.a", "k1", "{}", 0), QUEUE_COALESCED);
    assert_int_equal(enq(fx->st, "t.b", "k1", "{}", 0), QUEUE_ADDED);
    assert_int_equal(enq(fx->st, "t.a", NULL, "{}", 0), QUEUE_ADDED);
    assert_int_equal(enq(fx->st, "t.a", "", "{}", 0), QUEUE_ADDED);
    assert_int_equal(raw_int(fx->st, "XLEN " STREAM), 4);
}

static void test_queue__enqueue_after_take_adds_a_new_job(void **state)
{
    struct fixture *fx = *state;
    struct queue_job *first, *second;

    enq(fx->st, "t.a", "k1", "{\"n\":1}", 0);
    first = take(fx, "c1");
    /* News arriving while the job runs must not be lost. */
    assert_int_equal(enq(fx->st, "t.a", "k1", "{\"n\":2}", 0), QUEUE_ADDED);
    assert_int_equal(finish(first, QUEUE_DONE, NULL), QUEUE_DONE);
    assert_int_equal(enq(fx->st, "t.a", "k1", "{\"n\":3}", 0), QUEUE_COALESCED);
    second = take(fx, "c1");
    assert_string_equal(queue_job_payload(second), "{\"n\":2}");
    assert_string_not_equal(queue_job_id(second), queue_job_id(first));
    queue_job_free(first);
    queue_job_free(second);
}

static void test_queue__coalescing_pulls_a_delayed_job_forward(void **state)
{
    struct fixture *fx = *state;
    struct queue_sweep_result res;
    struct queue_job *job;

    assert_int_equal(enq(fx->st, "t.a", "k1", "{}", unix_ms() + 60000),
                     QUEUE_ADDED);
    take_none(fx, "c1");
    assert_int_equal(stats(fx).delayed, 1);
    assert_int_equal(enq(fx->st, "t.a", "k1", "{}", 0), QUEUE_COALESCED);
    res = sweep(fx);
    assert_int_equal(res.promoted, 1);
    assert_int_equal(stats(fx).delayed, 0);
    job = take(fx, "c1");
    assert_string_equal(queue_job_id(job), "1");
    /* The marker followed the job into the stream. */
    assert_int_equal(enq(fx->st, "t.a", "k1", "{}", 0), QUEUE_ADDED);
    queue_job_free(job);
}

static void test_queue__batch_with_dedupe_key_enqueues_once(void **state)
{
    struct fixture *fx = *state;
    struct queue_new_job jobs[3] = {
        { "t.a", "k1", "{}", 0, 0 },
        { "t.a", "k2", "{}", 0, 0 },
        { "t.a", "k1", "{}", 0, 0 },
    };
    enum queue_added each[3];
    bool dup = true;

    assert_int_equal(
        queue_enqueue_batch(fx->st, jobs, 3, P "wh:m1", 60, &dup, each),
        SCB_OK);
    assert_false(dup);
    assert_int_equal(each[0], QUEUE_ADDED);
    assert_int_equal(each[1], QUEUE_ADDED);
    assert_int_equal(each[2], QUEUE_COALESCED);
    assert_in_range(raw_int(fx->st, "TTL " P "wh:m1"), 55, 60);
    assert_int_equal(
        queue_enqueue_batch(fx->st, jobs, 3, P "wh:m1", 60, &dup, NULL),
        SCB_OK);
    assert_true(dup);
    assert_int_equal(raw_int(fx->st, "XLEN " STREAM), 2);
    /* A message with no job is still remembered. */
    assert_int_equal(
        queue_enqueue_batch(fx->st, NULL, 0, P "wh:m2", 60, &dup, NULL),
        SCB_OK);
    assert_false(dup);
    assert_int_equal(raw_int(fx->st, "EXISTS " P "wh:m2"), 1);
}

static void test_queue__bad_jobs_are_refused_and_nothing_written(void **state)
{
    struct fixture *fx = *state;
    struct queue_new_job bad[] = {
        { "t:a", NULL, "{}", 0, 0 }, /* ':' would blur the marker key */
        { "", NULL, "{}", 0, 0 },     { "t a", NULL, "{}", 0, 0 },
        { "t.a", "k\n", "{}", 0, 0 }, { "t.a", NULL, NULL, 0, 0 },
        { "t.a", NULL, "{}", -1, 0 },
    };
    struct queue_new_job ok = { "t.a", NULL, "{}", 0, 0 };
    enum queue_added added;
    bool dup;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(queue_enqueue(fx->st, &bad[i], &added), SCB_EINVAL);
    assert_int_equal(
        queue_enqueue_batch(fx->st, &ok, 1, P "wh:x", 0, &dup, NULL),
        SCB_EINVAL);
    assert_int_equal(queue_enqueue_batch(fx->st, &ok, QUEUE_BATCH_MAX + 1, NULL,
                                         0, &dup, NULL),
                     SCB_EINVAL);
    assert_int_equal(raw_int(fx->st, "EXISTS " STREAM " " P "wh:x"), 0);
}

static void test_queue__retry_backs_off_and_spends_an_attempt(void **state)
{
    struct fixture *fx = *state;
    struct queue_job *job;
    int64_t delay = 0;

    enq(fx->st, "t.a", "k1", "{}", 0);
    job = take(fx, "c1");
    queue_job_set_error(job, "boom %d", 1);
    assert_int_equal(finish(job, QUEUE_RETRY, &delay), QUEUE_RETRY);
    assert_in_range(delay, 1500, 2000);
    queue_job_free(job);
    assert_int_equal(raw_int(fx->st, "XLEN " STREAM), 0);
    assert_int_equal(stats(fx).delayed, 1);
    /* A new notification coalesces with the waiting retry. */
    assert_int_equal(enq(fx->st, "t.a", "k1", "{}", unix_ms() + 60000),
                     QUEUE_COALESCED);
    assert_int_equal(sweep(fx).promoted, 0);
    make_due(fx);
    assert_int_equal(sweep(fx).promoted, 1);
    job = take(fx, "c1");
    assert_int_equal(queue_job_attempt(job), 2);
    assert_string_equal(queue_job_last_error(job), "boom 1");
    queue_job_free(job);
}

static void test_queue__backoff_grows_and_is_capped(void **state)
{
    struct fixture *fx = *state;
    int64_t prev_max = 0;

    fx->cfg.backoff_base_s = 2;
    fx->cfg.backoff_cap_s = 10;
    assert_int_equal(queue_backoff_ms(&fx->cfg, 1, 0), 2000);
    assert_int_equal(queue_backoff_ms(&fx->cfg, 2, 0), 4000);
    assert_int_equal(queue_backoff_ms(&fx->cfg, 3, 0), 8000);
    assert_int_equal(queue_backoff_ms(&fx->cfg, 4, 0), 10000);
    assert_int_equal(queue_backoff_ms(&fx->cfg, 100, 0), 10000);
    for (int a = 1; a <= 40; a++) {
        int64_t lo = INT64_MAX, hi = 0;

        for (uint32_t rnd = 0; rnd < 5000; rnd += 7) {
            int64_t d = queue_backoff_ms(&fx->cfg, a, rnd * 977u);

            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        assert_true(hi <= 10000);
        assert_true(lo < hi); /* jitter */
        if (a <= 3)
            assert_true(lo >= prev_max); /* grows until the cap */
        prev_max = hi;
    }
}

static void test_queue__wait_spends_no_attempt(void **state)
{
    struct fixture *fx = *state;
    struct queue_job *job;
    int64_t delay = 0;

    enq(fx->st, "t.a", NULL, "{}", 0);
    job = take(fx, "c1");
    queue_job_set_wait(job, 5000);
    assert_int_equal(finish(job, QUEUE_WAIT, &delay), QUEUE_WAIT);
    assert_int_equal(delay, 5000);
    queue_job_free(job);
    assert_int_equal(sweep(fx).promoted, 0);
    make_due(fx);
    assert_int_equal(sweep(fx).promoted, 1);
    job = take(fx, "c1");
    assert_int_equal(queue_job_attempt(job), 1);
    assert_int_equal(queue_job_waited_ms(job), 5000);
    queue_job_free(job);
}

static void test_queue__wait_past_max_wait_counts_as_retry(void **state)
{
    struct fixture *fx = *state;
    struct queue_job *job;

    enq(fx->st, "t.a", NULL, "{}", 0);
    job = take(fx, "c1");
    queue_job_set_wait(job, 6000);
    assert_int_equal(finish(job, QUEUE_WAIT, NULL), QUEUE_WAIT);
    queue_job_free(job);
    make_due(fx);
    sweep(fx);
    job = take(fx, "c1");
    queue_job_set_wait(job, 6000); /* 12 s in all: past max_wait 10 s */
    assert_int_equal(finish(job, QUEUE_WAIT, NULL), QUEUE_RETRY);
    queue_job_free(job);
    make_due(fx);
    sweep(fx);
    job = take(fx, "c1");
    assert_int_equal(queue_job_attempt(job), 2);
    queue_job_free(job);
}

/* Runs a job through every attempt; answers the dead letter. */
static void fail_all_attempts(struct fixture *fx)
{
    for (int a = 1; a <= 3; a++) {
        struct queue_job *job = take(fx, "c1");

        assert_int_equal(queue_job_attempt(job), a);
        queue_job_set_error(job, "fail %d", a);
        assert_int_equal(finish(job, QUEUE_RETRY, NULL),
                         a < 3 ? QUEUE_RETRY : QUEUE_DEAD);
        queue_job_free(job);
        make_due(fx);
        sweep(fx);
    }
}

static struct queue_dead_page dead_page(struct fixture *fx, const char *cursor,
                                        size_t limit)
{
    struct queue_dead_page page;

    assert_int_equal(queue_dead_list(fx->st, cursor, limit, &page), SCB_OK);
    return page;
}

static void test_queue__always_failing_job_ends_dead_with_last_error(
    void **state)
{
    struct fixture *fx = *state;
    struct queue_dead_page page;
    struct queue_stats s;

    enq(fx->st, "order.import", "order:5", "{\"id\":5}", 0);
    fail_all_attempts(fx);
    take_none(fx, "c1");
    page = dead_page(fx, NULL, 10);
    assert_int_equal(page.n, 1);
    assert_string_equal(page.items[0].type, "order.import");
    assert_string_equal(page.items[0].key, "order:5");
    assert_string_equal(page.items[0].payload, "{\"id\":5}");
    assert_string_equal(page.items[0].reason,
                        "ATTEMPTS_EXHAUSTED: failed 3 attempts");
    assert_string_equal(page.items[0].error, "fail 3");
    assert_int_equal(page.items[0].attempts, 3);
    assert_true(page.items[0].failed_at_ms >= page.items[0].accepted_ms);
    assert_string_equal(page.next_cursor, "");
    queue_dead_page_release(&page);
    s = stats(fx);
    assert_int_equal(s.ready + s.pending + s.delayed, 0);
    assert_int_equal(s.dead, 1);
    assert_int_equal(raw_int(fx->st, "EXISTS " P "jobs:co:order.import:"
                                     "order:5"),
                     0);
}

static void test_queue__dead_outcome_keeps_the_reason(void **state)
{
    struct fixture *fx = *state;
    struct queue_dead_page page;
    struct queue_job *job;

    enq(fx->st, "order.import", NULL, "{}", 0);
    job = take(fx, "c1");
    queue_job_set_reason(job, "UNKNOWN_PRODUCT: %s is not a DDI item", "ABC-9");
    queue_job_set_error(job, "422 from DDI");
    assert_int_equal(finish(job, QUEUE_DEAD, NULL), QUEUE_DEAD);
    queue_job_free(job);
    page = dead_page(fx, "", 10);
    assert_int_equal(page.n, 1);
    assert_string_equal(page.items[0].reason,
                        "UNKNOWN_PRODUCT: ABC-9 is not a DDI item");
    assert_string_equal(page.items[0].error, "422 from DDI");
    assert_int_equal(page.items[0].attempts, 1);
    assert_true(page.items[0].failed_at_ms > 0);
    queue_dead_page_release(&page);
}

static void test_queue__dead_letter_retry_runs_the_job_again(void **state)
{
    struct fixture *fx = *state;
    struct queue_dead_page page;
    struct queue_dead d;
    struct queue_job *job;
    char id[QUEUE_ID_MAX];

    enq(fx->st, "order.import", "order:5", "{\"id\":5}", 0);
    fail_all_attempts(fx);
    page = dead_page(fx, NULL, 10);
    snprintf(id, sizeof(id), "%s", page.items[0].id);
    queue_dead_page_release(&page);
    assert_int_equal(queue_dead_retry(fx->st, id, &d), SCB_OK);
    assert_string_equal(d.id, id);
    assert_string_equal(d.type, "order.import");
    queue_dead_release(&d);
    assert_int_equal(dead_count(fx), 0);
    job = take(fx, "c1");
    assert_int_equal(queue_job_attempt(job), 1);
    assert_string_equal(queue_job_payload(job), "{\"id\":5}");
    assert_int_equal(finish(job, QUEUE_DONE, NULL), QUEUE_DONE);
    queue_job_free(job);
    assert_int_equal(queue_dead_retry(fx->st, id, NULL), SCB_ENOTFOUND);
    assert_int_equal(queue_dead_retry(fx->st, "x-1", NULL), SCB_ENOTFOUND);
    assert_int_equal(queue_dead_retry(fx->st, "1", NULL), SCB_ENOTFOUND);
    assert_int_equal(queue_dead_retry(fx->st, "99999999999999999999-0", NULL),
                     SCB_ENOTFOUND);
    assert_int_equal(queue_dead_discard(fx->st, "1-1", NULL), SCB_ENOTFOUND);
}

static void test_queue__dead_letter_discard_drops_it(void **state)
{
    struct fixture *fx = *state;
    struct queue_dead_page page;
    char id[QUEUE_ID_MAX];

    enq(fx->st, "t.a", "k", "{}", 0);
    fail_all_attempts(fx);
    page = dead_page(fx, NULL, 10);
    snprintf(id, sizeof(id), "%s", page.items[0].id);
    queue_dead_page_release(&page);
    assert_int_equal(queue_dead_discard(fx->st, id, NULL), SCB_OK);
    assert_int_equal(dead_count(fx), 0);
    assert_int_equal(queue_dead_discard(fx->st, id, NULL), SCB_ENOTFOUND);
    assert_int_equal(queue_dead_discard_key(fx->st, "k", NULL), SCB_ENOTFOUND);
    take_none(fx, "c1");
}

static void kill_job(struct fixture *fx, const char *type, const char *key)
{
    struct queue_job *job;

    enq(fx->st, type, key, "{}", 0);
    job = take(fx, "c1");
    queue_job_set_reason(job, "TEST: %s", type);
    finish(job, QUEUE_DEAD, NULL);
    queue_job_free(job);
}

static void test_queue__dead_letters_page_oldest_first(void **state)
{
    struct fixture *fx = *state;
    struct queue_dead_page page;
    char cursor[QUEUE_ID_MAX] = "";
    const char *types[] = { "t.1", "t.2", "t.3", "t.4", "t.5" };
    size_t seen = 0;

    for (size_t i = 0; i < 5; i++)
        kill_job(fx, types[i], NULL);
    do {
        page = dead_page(fx, cursor, 2);
        for (size_t i = 0; i < page.n; i++)
            assert_string_equal(page.items[i].type, types[seen++]);
        snprintf(cursor, sizeof(cursor), "%s", page.next_cursor);
        queue_dead_page_release(&page);
    } while (cursor[0]);
    assert_int_equal(seen, 5);
    assert_int_equal(queue_dead_list(fx->st, "nope", 2, &page), SCB_EINVAL);
    assert_int_equal(queue_dead_list(fx->st, NULL, 0, &page), SCB_EINVAL);
    assert_int_equal(queue_dead_list(fx->st, NULL, 501, &page), SCB_EINVAL);
}

static void test_queue__a_key_keeps_only_its_newest_dead_letter(void **state)
{
    struct fixture *fx = *state;
    struct queue_dead d;

    kill_job(fx, "order.import", "order:9");
    kill_job(fx, "tracking.push", "order:9");
    kill_job(fx, "order.import", "order:10");
    assert_int_equal(dead_count(fx), 2);
    assert_int_equal(queue_dead_discard_key(fx->st, "order:9", &d), SCB_OK);
    assert_string_equal(d.type, "tracking.push");
    assert_string_equal(d.reason, "TEST: tracking.push");
    queue_dead_release(&d);
    assert_int_equal(queue_dead_discard_key(fx->st, "order:9", NULL),
                     SCB_ENOTFOUND);
    assert_int_equal(dead_count(fx), 1);
}

static void test_queue__lost_lease_cannot_finish(void **state)
{
    struct fixture *fx = *state;
    struct queue_finished fin;
    struct queue_job *job;
    redisReply *r;

    enq(fx->st, "t.a", "k1", "{}", 0);
    job = take(fx, "c1");
    /* Another replica took it back after the lease. */
    r = raw(fx->st, "XCLAIM " STREAM " " QUEUE_GROUP " c2 0 %s JUSTID",
            queue_job_entry_id(job));
    freeReplyObject(r);
    assert_int_equal(queue_finish(job, QUEUE_DONE, &fin), SCB_ECONFLICT);
    assert_int_equal(queue_finish(job, QUEUE_DEAD, &fin), SCB_ECONFLICT);
    assert_int_equal(queue_finish(job, QUEUE_RETRY, &fin), SCB_ECONFLICT);
    assert_int_equal(queue_job_renew(job), SCB_ECONFLICT);
    assert_int_equal(queue_release(job), SCB_ECONFLICT);
    r = raw(fx->st, "XPENDING " STREAM " " QUEUE_GROUP " - + 10");
    assert_int_equal(r->elements, 1);
    assert_string_equal(r->element[0]->element[1]->str, "c2");
    freeReplyObject(r);
    assert_int_equal(dead_count(fx), 0);
    assert_int_equal(stats(fx).delayed, 0);
    queue_job_free(job);
}

static void test_queue__sweep_takes_back_a_silent_workers_job(void **state)
{
    struct fixture *fx = *state;
    struct queue_job *lost, *job;
    struct queue_sweep_result res;

    enq(fx->st, "t.a", "k1", "{}", 0);
    lost = take(fx, "c1");
    assert_int_equal(sweep(fx).reclaimed, 0);
    make_idle(fx, lost, "c1");
    res = sweep(fx);
    assert_int_equal(res.reclaimed, 1);
    assert_int_equal(res.dead, 0);
    /* Put back as a waiting job: a new notification coalesces. */
    assert_int_equal(enq(fx->st, "t.a", "k1", "{}", 0), QUEUE_COALESCED);
    job = take(fx, "c2");
    assert_string_equal(queue_job_id(job), queue_job_id(lost));
    assert_int_equal(queue_job_attempt(job), 2);
    assert_int_equal(
        queue_finish(lost, QUEUE_DONE, &(struct queue_finished){ 0 }),
        SCB_ECONFLICT);
    assert_int_equal(finish(job, QUEUE_DONE, NULL), QUEUE_DONE);
    queue_job_free(lost);
    queue_job_free(job);
    assert_int_equal(raw_int(fx->st, "XLEN " STREAM), 0);
}

static void test_queue__renewed_lease_is_not_taken_back(void **state)
{
    struct fixture *fx = *state;
    struct queue_job *job;
    const char *consumers[1] = { "c1" };
    const char *ids[1];
    size_t renewed = 0;

    enq(fx->st, "t.a", NULL, "{}", 0);
    job = take(fx, "c1");
    make_idle(fx, job, "c1");
    assert_int_equal(queue_job_renew(job), SCB_OK);
    assert_int_equal(sweep(fx).reclaimed, 0);
    make_idle(fx, job, "c1");
    ids[0] = queue_job_entry_id(job);
    assert_int_equal(queue_renew(fx->st, consumers, ids, 1, &renewed), SCB_OK);
    assert_int_equal(renewed, 1);
    assert_int_equal(sweep(fx).reclaimed, 0);
    assert_int_equal(stats(fx).in_flight, 1);
    assert_int_equal(finish(job, QUEUE_DONE, NULL), QUEUE_DONE);
    queue_job_free(job);
}

static void test_queue__job_lost_every_attempt_ends_dead(void **state)
{
    struct fixture *fx = *state;
    struct queue_dead_page page;

    enq(fx->st, "t.a", NULL, "{}", 0);
    for (int a = 1; a <= 3; a++) {
        struct queue_job *job = take(fx, "c1");

        assert_int_equal(queue_job_attempt(job), a);
        make_idle(fx, job, "c1");
        assert_int_equal(sweep(fx).dead, a == 3 ? 1 : 0);
        queue_job_free(job);
    }
    take_none(fx, "c1");
    page = dead_page(fx, NULL, 10);
    assert_int_equal(page.n, 1);
    assert_non_null(strstr(page.items[0].reason, "LEASE_EXPIRED: "));
    queue_dead_page_release(&page);
}

static void test_queue__foreign_version_is_left_alone(void **state)
{
    struct fixture *fx = *state;
    struct queue_job *job;
    redisReply *r;

    r = raw(fx->st, "XADD " STREAM " * v 2 id x9 type t.a payload {} "
                    "newfield y");
    freeReplyObject(r);
    for (int round = 0; round < 5; round++) {
        job = take(fx, "c1");
        assert_true(queue_job_foreign(job));
        make_idle(fx, job, "c1");
        queue_job_free(job); /* neither acknowledged nor dead-lettered */
        assert_int_equal(stats(fx).pending, 1);
        assert_int_equal(sweep(fx).reclaimed, 1);
    }
    assert_int_equal(dead_count(fx), 0);
    r = raw(fx->st, "XRANGE " STREAM " - +");
    assert_int_equal(r->elements, 1);
    assert_int_equal(r->element[0]->element[1]->elements, 10);
    assert_string_equal(r->element[0]->element[1]->element[9]->str, "y");
    freeReplyObject(r);
}

static void test_queue__delayed_job_runs_when_due(void **state)
{
    struct fixture *fx = *state;
    struct queue_sweep_result res;
    struct queue_job *job;

    enq(fx->st, "t.a", NULL, "{}", unix_ms() + 60000);
    take_none(fx, "c1");
    res = sweep(fx);
    assert_int_equal(res.promoted, 0);
    assert_in_range(res.next_due_ms, 50000, 60000);
    make_due(fx); /* its time has come */
    res = sweep(fx);
    assert_int_equal(res.promoted, 1);
    assert_int_equal(res.next_due_ms, -1);
    job = take(fx, "c1");
    assert_string_equal(queue_job_type(job), "t.a");
    queue_job_free(job);
}

static void test_queue__stats_count_each_queue(void **state)
{
    struct fixture *fx = *state;
    struct queue_job *a, *b;
    struct queue_stats s;

    s = stats(fx);
    assert_int_equal(s.ready + s.pending + s.delayed + s.dead, 0);
    assert_true(s.oldest_age_s == 0.0);
    enq(fx->st, "t.a", NULL, "{}", 0);
    enq(fx->st, "t.b", NULL, "{}", 0);
    enq(fx->st, "t.c", NULL, "{}", 0);
    enq(fx->st, "t.d", NULL, "{}", unix_ms() + 60000);
    a = take(fx, "c1");
    finish(a, QUEUE_DEAD, NULL);
    b = take(fx, "c1");
    usleep(20 * 1000);
    s = stats(fx);
    assert_int_equal(s.ready, 1);
    assert_int_equal(s.pending, 1);
    assert_int_equal(s.delayed, 1);
    assert_int_equal(s.dead, 1);
    assert_int_equal(s.in_flight, 1);
    assert_true(s.oldest_age_s >= 0.015);
    make_idle(fx, b, "c1");
    assert_int_equal(stats(fx).in_flight, 0);
    queue_job_free(a);
    queue_job_free(b);
}

static void test_queue__lost_group_is_made_again(void **state)
{
    struct fixture *fx = *state;
    struct queue_job *job;
    redisReply *r;

    enq(fx->st, "t.a", NULL, "{\"n\":1}", 0);
    job = take(fx, "c1");
    queue_job_free(job);
    r = raw(fx->st, "XGROUP DESTROY " STREAM " " QUEUE_GROUP);
    freeReplyObject(r);
    /* The entry was never finished: the new group delivers it again. */
    job = take(fx, "c1");
    assert_string_equal(queue_job_payload(job), "{\"n\":1}");
    queue_job_free(job);
    raw_int(fx->st, "DEL " STREAM);
    take_none(fx, "c1");
    enq(fx->st, "t.a", NULL, "{\"n\":2}", 0);
    job = take(fx, "c1");
    assert_string_equal(queue_job_payload(job), "{\"n\":2}");
    queue_job_free(job);
}

static void test_queue__release_hands_back_without_an_attempt(void **state)
{
    struct fixture *fx = *state;
    struct queue_job *job, *again;

    enq(fx->st, "t.a", "k1", "{}", 0);
    job = take(fx, "c1");
    assert_int_equal(queue_release(job), SCB_OK);
    assert_int_equal(enq(fx->st, "t.a", "k1", "{}", 0), QUEUE_COALESCED);
    again = take(fx, "c2");
    assert_string_equal(queue_job_id(again), queue_job_id(job));
    assert_int_equal(queue_job_attempt(again), 1);
    queue_job_free(job);
    queue_job_free(again);
}

static void test_queue__malformed_entry_is_dead_lettered(void **state)
{
    struct fixture *fx = *state;
    struct queue_dead_page page;
    redisReply *r;

    r = raw(fx->st, "XADD " STREAM " * v " QUEUE_SCHEMA " attempts 0");
    freeReplyObject(r);
    take_none(fx, "c1");
    page = dead_page(fx, NULL, 10);
    assert_int_equal(page.n, 1);
    assert_non_null(strstr(page.items[0].reason, "MALFORMED_JOB: "));
    queue_dead_page_release(&page);
    assert_int_equal(stats(fx).pending, 0);
}

static void test_queue__consumer_is_dropped_only_when_idle(void **state)
{
    struct fixture *fx = *state;
    struct queue_job *job;
    redisReply *r;

    enq(fx->st, "t.a", NULL, "{}", 0);
    job = take(fx, "c1");
    assert_int_equal(queue_consumer_drop(fx->st, "c1"), SCB_OK);
    r = raw(fx->st, "XINFO CONSUMERS " STREAM " " QUEUE_GROUP);
    assert_int_equal(r->elements, 1);
    freeReplyObject(r);
    finish(job, QUEUE_DONE, NULL);
    queue_job_free(job);
    assert_int_equal(queue_consumer_drop(fx->st, "c1"), SCB_OK);
    r = raw(fx->st, "XINFO CONSUMERS " STREAM " " QUEUE_GROUP);
    assert_int_equal(r->elements, 0);
    freeReplyObject(r);
}

static void test_queue__allocation_failures_leak_nothing(void **state)
{
    struct fixture *fx = *state;
    struct queue_new_job j = { "t.a", "k1", "{\"n\":1}", 0, 0 };
    enum queue_added added;
    enum scb_err err = SCB_ENOMEM;
    struct queue_job *job = NULL;

    assert_int_equal(store_ping(fx->st), SCB_OK);
    for (long n = 0; err == SCB_ENOMEM && n < 200; n++) {
        mem_fail_after(n);
        err = queue_enqueue(fx->st, &j, &added);
        mem_fail_after(-1);
    }
    assert_int_equal(err, SCB_OK);
    /* A take that fails after reading leaves that entry pending (taken
     * back after the lease), so give each try an entry of its own. */
    for (int i = 0; i < 40; i++)
        enq(fx->st, "t.a", NULL, "{\"n\":2}", 0);
    err = SCB_ENOMEM;
    for (long n = 0; err == SCB_ENOMEM && n < 40; n++) {
        mem_fail_after(n);
        err = queue_take(fx->st, &fx->cfg, "c1", 0, &job);
        mem_fail_after(-1);
    }
    assert_int_equal(err, SCB_OK);
    err = SCB_ENOMEM;
    for (long n = 0; err == SCB_ENOMEM && n < 200; n++) {
        struct queue_finished fin;

        mem_fail_after(n);
        queue_job_set_error(job, "e");
        err = queue_finish(job, QUEUE_RETRY, &fin);
        mem_fail_after(-1);
    }
    assert_int_equal(err, SCB_OK);
    queue_job_free(job);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_queue__enqueued_job_is_taken_with_its_fields),
        T(test_queue__second_enqueue_of_waiting_key_coalesces),
        T(test_queue__enqueue_after_take_adds_a_new_job),
        T(test_queue__coalescing_pulls_a_delayed_job_forward),
        T(test_queue__batch_with_dedupe_key_enqueues_once),
        T(test_queue__bad_jobs_are_refused_and_nothing_written),
        T(test_queue__retry_backs_off_and_spends_an_attempt),
        T(test_queue__backoff_grows_and_is_capped),
        T(test_queue__wait_spends_no_attempt),
        T(test_queue__wait_past_max_wait_counts_as_retry),
        T(test_queue__always_failing_job_ends_dead_with_last_error),
        T(test_queue__dead_outcome_keeps_the_reason),
        T(test_queue__dead_letter_retry_runs_the_job_again),
        T(test_queue__dead_letter_discard_drops_it),
        T(test_queue__dead_letters_page_oldest_first),
        T(test_queue__a_key_keeps_only_its_newest_dead_letter),
        T(test_queue__lost_lease_cannot_finish),
        T(test_queue__sweep_takes_back_a_silent_workers_job),
        T(test_queue__renewed_lease_is_not_taken_back),
        T(test_queue__job_lost_every_attempt_ends_dead),
        T(test_queue__foreign_version_is_left_alone),
        T(test_queue__delayed_job_runs_when_due),
        T(test_queue__stats_count_each_queue),
        T(test_queue__lost_group_is_made_again),
        T(test_queue__release_hands_back_without_an_attempt),
        T(test_queue__malformed_entry_is_dead_lettered),
        T(test_queue__consumer_is_dropped_only_when_idle),
        T(test_queue__allocation_failures_leak_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
