/* SPDX-License-Identifier: MIT */
/* Unit tests of the shared rate limit against the Redis of the tests. */
#include <pthread.h>
#include <setjmp.h>
#include <fcntl.h>
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
#include "ratelimit.h"
#include "store.h"

/* "rl<pid>:", so that a second run on the same Redis starts afresh. */
static char test_prefix[32];

struct fixture {
    struct config cfg;
    struct store *st;
};

static const char *test_env(const char *name, void *ctx)
{
    static const char *const vars[][2] = {
        { "SCBRIDGE_ADMIN_TOKEN", "test-admin-token-0123456789abcdef0123" },
        { "SCBRIDGE_SC_BASE_URL", "http://127.0.0.1:9/rest" },
        { "SCBRIDGE_SC_USERNAME", "scbridge" },
        { "SCBRIDGE_SC_PASSWORD", "sc-password" },
        { "SCBRIDGE_SC_COMPANY_IDS", "163" },
        { "SCBRIDGE_DDI_BASE_URL", "http://127.0.0.1:9" },
        { "SCBRIDGE_DDI_API_KEY", "ddi-key" },
        { "SCBRIDGE_DDI_COMPANY", "01" },
        { "SCBRIDGE_WEBHOOK_SECRET_SC", "c2NicmlkZ2UtdGVzdC1rZXktc2M=" },
        { "SCBRIDGE_WEBHOOK_SECRET_DDI", "c2NicmlkZ2UtdGVzdC1rZXktZGRp" },
    };

    (void)ctx;
    if (strcmp(name, "SCBRIDGE_REDIS_URL") == 0)
        return getenv("SCB_TEST_REDIS_URL");
    if (strcmp(name, "SCBRIDGE_REDIS_PREFIX") == 0)
        return test_prefix;
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        if (strcmp(name, vars[i][0]) == 0)
            return vars[i][1];
    }
    return NULL;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct buf problems;
    enum scb_err err;

    if (!getenv("SCB_TEST_REDIS_URL")) {
        fprintf(stderr, "SCB_TEST_REDIS_URL is not set: these tests need "
                        "the Redis that scripts/run-tests.sh starts\n");
        free(f);
        return -1;
    }
    metrics_reset();
    buf_init(&problems, 4096);
    err = config_load(&f->cfg, test_env, NULL, &problems);
    if (err)
        fprintf(stderr, "config: %s\n", problems.data ? problems.data : "");
    buf_release(&problems);
    assert_int_equal(err, SCB_OK);
    f->st = store_new(&f->cfg);
    assert_non_null(f->st);
    assert_int_equal(store_connect(f->st), SCB_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    store_free(f->st);
    config_release(&f->cfg);
    free(f);
    metrics_reset();
    return 0;
}

/* Takes tokens until the bucket answers wait; returns how many. */
static int drain(struct store *st, const char *up, int64_t per_hour,
                 int64_t *out_wait)
{
    int n = 0;

    for (;;) {
        enum scb_err err = ratelimit_take(st, up, per_hour, out_wait);

        if (err == SCB_EWAIT)
            return n;
        assert_int_equal(err, SCB_OK);
        n++;
        assert_true(n < 100000);
    }
}

static void test_ratelimit__burst_is_two_percent_of_budget(void **state)
{
    (void)state;
    assert_int_equal(ratelimit_burst(10800), 216);
    assert_int_equal(ratelimit_refill_per_hour(10800), 10584);
    assert_int_equal(ratelimit_burst(2700), 54);
    assert_int_equal(ratelimit_refill_per_hour(2700), 2646);
    assert_int_equal(ratelimit_burst(49), 1);
    assert_int_equal(ratelimit_refill_per_hour(49), 48);
    assert_int_equal(ratelimit_burst(1), 1);
    assert_int_equal(ratelimit_refill_per_hour(1), 1);
}

static void test_ratelimit__grants_the_burst_then_says_how_long(void **state)
{
    struct fixture *f = *state;
    int64_t wait = 0;

    /* 3600 an hour: burst 72, refill 3528 an hour, ~1.02 s a token. */
    assert_int_equal(drain(f->st, "t_burst", 3600, &wait), 72);
    assert_in_range(wait, 1, 1021);
}

static void test_ratelimit__refills_at_the_rest_of_the_budget(void **state)
{
    struct fixture *f = *state;
    int64_t wait = 0;

    (void)drain(f->st, "t_refill", 3600, &wait);
    assert_int_equal(ratelimit_take(f->st, "t_refill", 3600, &wait),
                     SCB_EWAIT);
    sleep_ms(1100);
    assert_int_equal(ratelimit_take(f->st, "t_refill", 3600, &wait),
                     SCB_OK);
    assert_int_equal(ratelimit_take(f->st, "t_refill", 3600, &wait),
                     SCB_EWAIT);
}

static void test_ratelimit__bucket_is_shared_between_handles(void **state)
{
    struct fixture *f = *state;
    struct store *other = store_new(&f->cfg);
    int64_t wait = 0;

    assert_non_null(other);
    (void)drain(f->st, "t_shared", 3600, &wait);
    assert_int_equal(ratelimit_take(other, "t_shared", 3600, &wait),
                     SCB_EWAIT);
    assert_true(wait > 0);
    store_free(other);
}

struct racer {
    struct config *cfg;
    int granted;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct store *st = store_new(r->cfg);
    int64_t wait;

    for (int i = 0; i < 60 && st; i++) {
        if (ratelimit_take(st, "t_race", 3600, &wait) == SCB_OK)
            r->granted++;
    }
    store_free(st);
    return NULL;
}

static void test_ratelimit__threads_never_share_out_more_than_the_burst(
    void **state)
{
    struct fixture *f = *state;
    struct racer r[4];
    pthread_t t[4];
    int total = 0;

    for (int i = 0; i < 4; i++) {
        r[i].cfg = &f->cfg;
        r[i].granted = 0;
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += r[i].granted;
    }
    /* 240 tries: the burst of 72, plus what refilled meanwhile. */
    assert_in_range(total, 72, 74);
}

static void test_ratelimit__pause_holds_every_caller_until_its_end(
    void **state)
{
    struct fixture *f = *state;
    struct store *other = store_new(&f->cfg);
    int64_t until = now_ms() + 1500, got = 0, wait = 0;

    assert_non_null(other);
    assert_int_equal(ratelimit_pause(f->st, "t_pause", until), SCB_OK);
    assert_int_equal(ratelimit_paused_until(other, "t_pause", &got),
                     SCB_OK);
    assert_int_equal(got, until);
    assert_int_equal(ratelimit_take(other, "t_pause", 3600, &wait),
                     SCB_EWAIT);
    assert_in_range(wait, 1000, 1500);
    sleep_ms(1600);
    assert_int_equal(ratelimit_take(other, "t_pause", 3600, &wait),
                     SCB_OK);
    assert_int_equal(ratelimit_paused_until(other, "t_pause", &got),
                     SCB_OK);
    assert_int_equal(got, 0);
    store_free(other);
}

static void test_ratelimit__pause_keeps_the_later_end(void **state)
{
    struct fixture *f = *state;
    int64_t later = now_ms() + 5000, got = 0;

    assert_int_equal(ratelimit_pause(f->st, "t_later", later), SCB_OK);
    assert_int_equal(ratelimit_pause(f->st, "t_later", later - 3000),
                     SCB_OK);
    assert_int_equal(ratelimit_pause(f->st, "t_later", now_ms() - 10),
                     SCB_OK);
    assert_int_equal(ratelimit_paused_until(f->st, "t_later", &got),
                     SCB_OK);
    assert_int_equal(got, later);
}

static void test_ratelimit__pause_does_not_spend_tokens(void **state)
{
    struct fixture *f = *state;
    int64_t wait = 0;

    assert_int_equal(ratelimit_pause(f->st, "t_nospend", now_ms() + 300),
                     SCB_OK);
    for (int i = 0; i < 10; i++)
        assert_int_equal(ratelimit_take(f->st, "t_nospend", 3600, &wait),
                         SCB_EWAIT);
    sleep_ms(400);
    assert_int_equal(drain(f->st, "t_nospend", 3600, &wait), 72);
}

static void test_ratelimit__acquire_sleeps_within_its_bound(void **state)
{
    struct fixture *f = *state;
    int64_t wait = 0, start;

    (void)drain(f->st, "t_sleep", 3600, &wait);
    start = mono_ms();
    assert_int_equal(ratelimit_acquire(f->st, "t_sleep", 3600, 3000, &wait),
                     SCB_OK);
    assert_true(mono_ms() - start >= 500);
}

static void test_ratelimit__acquire_hands_back_a_longer_wait(void **state)
{
    struct fixture *f = *state;
    int64_t wait = 0, start;

    (void)drain(f->st, "t_nosleep", 3600, &wait);
    start = mono_ms();
    wait = 0;
    assert_int_equal(
        ratelimit_acquire(f->st, "t_nosleep", 3600, 100, &wait), SCB_EWAIT);
    assert_in_range(wait, 101, 1021);
    assert_true(mono_ms() - start < 100);
    assert_int_equal(ratelimit_pause(f->st, "t_nosleep", now_ms() + 60000),
                     SCB_OK);
    assert_int_equal(
        ratelimit_acquire(f->st, "t_nosleep", 3600, 5000, &wait), SCB_EWAIT);
    assert_in_range(wait, 55000, 60000);
}

static void test_ratelimit__paused_gauge_and_wait_counter(void **state)
{
    struct fixture *f = *state;
    struct buf out;
    int64_t wait = 0;

    assert_int_equal(ratelimit_pause(f->st, "t_gauge", now_ms() + 2000),
                     SCB_OK);
    assert_int_equal(ratelimit_acquire(f->st, "t_gauge", 3600, 0, &wait),
                     SCB_EWAIT);
    buf_init(&out, 1 << 20);
    assert_int_equal(metrics_render(&out), SCB_OK);
    assert_non_null(
        strstr(out.data, "scbridge_rate_limit_paused{upstream=\"t_gauge\"} 1"));
    assert_non_null(strstr(out.data, "scbridge_rate_limit_wait_seconds_total"
                                     "{upstream=\"t_gauge\"}"));
    buf_release(&out);
}

static void test_ratelimit__keys_carry_prefix_and_version(void **state)
{
    struct fixture *f = *state;
    redisReply *r = NULL;
    int64_t wait;

    assert_int_equal(ratelimit_take(f->st, "t_keys", 3600, &wait), SCB_OK);
    assert_int_equal(
        store_cmd(f->st, &r, "EXISTS %sv1:ratelimit:t_keys", test_prefix),
        SCB_OK);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    r = NULL;
    assert_int_equal(
        store_cmd(f->st, &r, "PTTL %sv1:ratelimit:t_keys", test_prefix),
        SCB_OK);
    assert_true(r->integer > 0); /* an idle bucket does not linger */
    freeReplyObject(r);
}

static void test_ratelimit__rejects_a_zero_budget(void **state)
{
    struct fixture *f = *state;
    int64_t wait = 0;

    assert_int_equal(ratelimit_take(f->st, "t_zero", 0, &wait), SCB_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_ratelimit__burst_is_two_percent_of_budget),
        T(test_ratelimit__grants_the_burst_then_says_how_long),
        T(test_ratelimit__refills_at_the_rest_of_the_budget),
        T(test_ratelimit__bucket_is_shared_between_handles),
        T(test_ratelimit__threads_never_share_out_more_than_the_burst),
        T(test_ratelimit__pause_holds_every_caller_until_its_end),
        T(test_ratelimit__pause_keeps_the_later_end),
        T(test_ratelimit__pause_does_not_spend_tokens),
        T(test_ratelimit__acquire_sleeps_within_its_bound),
        T(test_ratelimit__acquire_hands_back_a_longer_wait),
        T(test_ratelimit__paused_gauge_and_wait_counter),
        T(test_ratelimit__keys_carry_prefix_and_version),
        T(test_ratelimit__rejects_a_zero_budget),
#undef T
    };
    /* The store warns about the test Redis's settings: not ours to test. */
    int devnull = open("/dev/null", O_WRONLY);
    int rc;

    snprintf(test_prefix, sizeof(test_prefix), "rl%ld:", (long)getpid());
    log_init(LOG_ERROR, devnull >= 0 ? devnull : 2);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (devnull >= 0)
        close(devnull);
    return rc;
}
