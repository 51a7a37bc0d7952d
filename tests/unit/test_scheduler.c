/* SPDX-License-Identifier: MIT */
/* Tests of the poll scheduler's leader lease, against the suite's Redis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "check.h"
#include "metrics.h"
#include "scheduler.h"

#define fixture check_redis

static int setup(void **state)
{
    struct check_redis *f = check_redis_new("t-sch:");

    if (!f)
        return -1;
    f->cfg.n_sc_company_ids = 1;
    f->cfg.sc_company_ids[0] = 163;
    f->cfg.poll_orders.n = 2;
    snprintf(f->cfg.poll_orders.e[0].key, CONFIG_NAME_MAX, "default");
    f->cfg.poll_orders.e[0].secs = 3600;
    snprintf(f->cfg.poll_orders.e[1].key, CONFIG_NAME_MAX, "eBay");
    f->cfg.poll_orders.e[1].channels[0] = 1;
    f->cfg.poll_orders.e[1].channels[1] = 2;
    f->cfg.poll_orders.e[1].nchannels = 2;
    f->cfg.poll_orders.e[1].secs = 1800;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    check_redis_free(*state);
    metrics_reset();
    return 0;
}

static long long hlen(struct fixture *f, const char *key)
{
    redisReply *r = NULL;
    long long n;

    assert_int_equal(store_cmd(f->st, &r, "HLEN %s", key), SCB_OK);
    n = r->integer;
    freeReplyObject(r);
    return n;
}

static bool wait_leader(struct scheduler *a, struct scheduler *b)
{
    for (int i = 0; i < 40; i++) {
        if (sched_is_leader(a) || sched_is_leader(b))
            return true;
        usleep(100 * 1000);
    }
    return false;
}

static void test_scheduler__one_leader_enqueues_each_poll_once(void **state)
{
    struct fixture *f = *state;
    struct scheduler *a = sched_new(&f->cfg);
    struct scheduler *b = sched_new(&f->cfg);
    redisReply *r = NULL;

    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(sched_start(a), SCB_OK);
    assert_int_equal(sched_start(b), SCB_OK);
    assert_true(wait_leader(a, b));
    usleep(1500 * 1000);
    assert_true(sched_is_leader(a) != sched_is_leader(b));
    /* Both polls got their hash and exactly one job each. */
    assert_true(hlen(f, "t-sch:v1:poll:orders:163:default") >= 5);
    assert_true(hlen(f, "t-sch:v1:poll:orders:163:eBay") >= 5);
    assert_int_equal(store_cmd(f->st, &r, "XLEN t-sch:v1:jobs"), SCB_OK);
    assert_int_equal(r->integer, 2);
    freeReplyObject(r);
    sched_free(a);
    sched_free(b);
}

static void test_scheduler__lease_passes_on_when_the_leader_stops(
    void **state)
{
    struct fixture *f = *state;
    struct scheduler *a = sched_new(&f->cfg);
    struct scheduler *b = sched_new(&f->cfg);
    struct scheduler *leader, *other;

    assert_int_equal(sched_start(a), SCB_OK);
    assert_int_equal(sched_start(b), SCB_OK);
    assert_true(wait_leader(a, b));
    leader = sched_is_leader(a) ? a : b;
    other = leader == a ? b : a;
    sched_free(leader);
    for (int i = 0; i < 30 && !sched_is_leader(other); i++)
        usleep(100 * 1000);
    assert_true(sched_is_leader(other));
    sched_free(other);
}

static void test_scheduler__report_records_ok_and_errors(void **state)
{
    struct fixture *f = *state;
    redisReply *r = NULL;

    assert_int_equal(sched_poll_report(f->st, "items:default", 1000, NULL),
                     SCB_OK);
    assert_int_equal(sched_poll_report(f->st, "items:default", 2000,
                                       "ddi: timed out"),
                     SCB_OK);
    assert_int_equal(store_cmd(f->st, &r,
                               "HMGET t-sch:v1:poll:items:default "
                               "last_run_at last_error last_ok_at"),
                     SCB_OK);
    assert_string_equal(r->element[0]->str, "2000");
    assert_string_equal(r->element[1]->str, "ddi: timed out");
    assert_int_equal(r->element[2]->type, REDIS_REPLY_STRING);
    freeReplyObject(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scheduler__one_leader_enqueues_each_poll_once),
        cmocka_unit_test(
            test_scheduler__lease_passes_on_when_the_leader_stops),
        cmocka_unit_test(test_scheduler__report_records_ok_and_errors),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
