/* SPDX-License-Identifier: MIT */
/* Tests of the order state store against the real Redis of the suite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "orderstate.h"

#define fixture check_redis

static int setup(void **state)
{
    struct check_redis *f = check_redis_new("t-os:");

    if (!f)
        return -1;
    f->cfg.order_retention_s = 3600;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    check_redis_free(*state);
    return 0;
}

static void test_orderstate__unknown_order_is_not_found(void **state)
{
    struct fixture *f = *state;
    struct order_rec rec;

    assert_int_equal(orderstate_get(f->st, 999, &rec), SCB_ENOTFOUND);
}

static void test_orderstate__set_then_get_round_trips(void **state)
{
    struct fixture *f = *state;
    struct orderstate_field fields[] = {
        { "company_id", "163" },
        { "reference", "SC-163-5012001" },
        { "ddi_order_no", "SO1" },
    };
    struct order_rec rec;
    int64_t id = 0;

    assert_int_equal(orderstate_set(f->st, &f->cfg, 5012001, "imported",
                                    NULL, "imported", "DDI order SO1",
                                    fields, 3),
                     SCB_OK);
    assert_int_equal(orderstate_get(f->st, 5012001, &rec), SCB_OK);
    assert_string_equal(rec.state, "imported");
    assert_string_equal(rec.reason, "");
    assert_string_equal(rec.reference, "SC-163-5012001");
    assert_int_equal(rec.company_id, 163);
    assert_int_equal(orderstate_find_ddi(f->st, "SO1", &id), SCB_OK);
    assert_int_equal(id, 5012001);
}

static void test_orderstate__state_indexes_follow_transitions(void **state)
{
    struct fixture *f = *state;
    int64_t counts[ORDERSTATE_COUNT];
    redisReply *r = NULL;

    assert_int_equal(store_cmd(f->st, &r, "FLUSHDB"), SCB_OK);
    freeReplyObject(r);
    assert_int_equal(orderstate_set(f->st, &f->cfg, 1, "awaiting_payment",
                                    NULL, "awaiting_payment", NULL, NULL, 0),
                     SCB_OK);
    assert_int_equal(orderstate_set(f->st, &f->cfg, 2, "awaiting_payment",
                                    NULL, NULL, NULL, NULL, 0),
                     SCB_OK);
    assert_int_equal(orderstate_set(f->st, &f->cfg, 1, "needs_attention",
                                    "PAYMENT_TIMEOUT: 168h", "needs_attention",
                                    NULL, NULL, 0),
                     SCB_OK);
    assert_int_equal(orderstate_counts(f->st, &f->cfg, counts), SCB_OK);
    assert_int_equal(counts[1], 1); /* awaiting_payment */
    assert_int_equal(counts[6], 1); /* needs_attention */
    assert_int_equal(counts[3], 0);
}

static void test_orderstate__history_is_oldest_first_json(void **state)
{
    struct fixture *f = *state;
    struct buf out;

    buf_init(&out, 1 << 20);
    assert_int_equal(orderstate_set(f->st, &f->cfg, 7, "importing", NULL,
                                    "importing", "lock \"held\"", NULL, 0),
                     SCB_OK);
    assert_int_equal(orderstate_event(f->st, &f->cfg, 7, "exported", NULL),
                     SCB_OK);
    assert_int_equal(orderstate_history_json(f->st, 7, &out), SCB_OK);
    assert_non_null(strstr(out.data, "\"event\":\"importing\""));
    assert_non_null(strstr(out.data, "lock \\\"held\\\""));
    assert_true(strstr(out.data, "importing") < strstr(out.data, "exported"));
    assert_int_equal(out.data[0], '[');
    buf_release(&out);
}

static void test_orderstate__lock_excludes_second_holder(void **state)
{
    struct fixture *f = *state;
    char a[33], b[33];

    assert_int_equal(orderstate_lock(f->st, 42, 10000, a), SCB_OK);
    assert_int_equal(orderstate_lock(f->st, 42, 10000, b), SCB_ECONFLICT);
    assert_int_equal(orderstate_unlock(f->st, 42, "not-the-token"), SCB_OK);
    assert_int_equal(orderstate_lock(f->st, 42, 10000, b), SCB_ECONFLICT);
    assert_int_equal(orderstate_unlock(f->st, 42, a), SCB_OK);
    assert_int_equal(orderstate_lock(f->st, 42, 10000, b), SCB_OK);
}

static void test_orderstate__rejects_unknown_state(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(orderstate_set(f->st, &f->cfg, 3, "lost", NULL, NULL,
                                    NULL, NULL, 0),
                     SCB_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orderstate__unknown_order_is_not_found),
        cmocka_unit_test(test_orderstate__set_then_get_round_trips),
        cmocka_unit_test(test_orderstate__state_indexes_follow_transitions),
        cmocka_unit_test(test_orderstate__history_is_oldest_first_json),
        cmocka_unit_test(test_orderstate__lock_excludes_second_holder),
        cmocka_unit_test(test_orderstate__rejects_unknown_state),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
