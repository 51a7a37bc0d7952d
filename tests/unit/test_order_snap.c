/* SPDX-License-Identifier: MIT */
/* Tests of order snapshots: the list-shape round trip and the pending set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "jsonio.h"
#include "mem.h"
#include "order_snap.h"

static const char order_json[] =
    "{\"ID\":5012001,\"CompanyID\":163,\"OrderSource\":4,"
    "\"OrderSourceOrderID\":\"113-1\",\"StatusCode\":2,"
    "\"PaymentStatus\":30,\"ShippingStatus\":1,\"Dropship\":0,"
    "\"TimeOfOrder\":\"2026-12-01T12:04:00.123\","
    "\"LastUpdated\":\"2026-12-01T12:05:00.456\","
    "\"CreatedOn\":\"2026-12-01T12:04:00\",\"ShipDate\":null,"
    "\"Items\":[{\"ID\":1,\"ProductID\":\"A/B#1\",\"Qty\":3,"
    "\"LineTotal\":10.0,\"DisplayName\":\"Widget \\\"big\\\"\"}],"
    "\"GrandTotal\":19.99,\"ShippingTotal\":5.0,\"HandlingFee\":0.1,"
    "\"InsuranceTotal\":0.2,\"TaxTotal\":4.69,\"OrderDiscountsTotal\":0,"
    "\"ShippingDiscountsTotal\":0,"
    "\"Payments\":[{\"TransactionReferenceNumber\":\"TX1\"}],"
    "\"BillingAddress\":{\"FirstName\":\"Ada\",\"LastName\":\"Okafor\"},"
    "\"ShippingAddress\":{\"City\":\"Boston\"},"
    "\"ShippingCarrier\":\"UPS\",\"ShippingService\":\"Ground\","
    "\"TrackingNumber\":\"\",\"AllTrackingNumbers\":[\"1Z1\",\"1Z2\"]}";

static void parse(const char *text, struct sc_order *out)
{
    cJSON *root = NULL;
    char field[SC_ORDER_FIELD_MAX] = "";

    assert_int_equal(jsonio_parse(text, strlen(text), 1 << 20, &root),
                     SCB_OK);
    assert_int_equal(sc_order_parse(root, out, field), SCB_OK);
    cJSON_Delete(root);
}

static void test_order_snap__list_shape_round_trips(void **state)
{
    struct sc_order a, b;
    cJSON *j;
    char *text;

    (void)state;
    parse(order_json, &a);
    j = order_snap_to_json(&a);
    assert_non_null(j);
    text = jsonio_print(j);
    parse(text, &b);
    assert_int_equal(b.id, a.id);
    assert_int_equal(b.grand_total, 1999);
    assert_int_equal(b.handling_fee, 10);
    assert_int_equal(b.tax_total, a.tax_total);
    assert_string_equal(b.lines[0].product_id, "A/B#1");
    assert_string_equal(b.lines[0].display_name, "Widget \"big\"");
    assert_int_equal(b.lines[0].line_total, 1000);
    assert_string_equal(b.last_updated.raw, "2026-12-01T12:05:00.456");
    assert_int_equal(b.last_updated.ms, a.last_updated.ms);
    assert_false(b.ship_date.present);
    assert_int_equal(b.n_all_tracking, 2);
    assert_string_equal(b.payment_ref, "TX1");
    assert_string_equal(b.billing.last_name, "Okafor");
    assert_string_equal(b.shipping.city, "Boston");
    cJSON_free(text);
    cJSON_Delete(j);
    sc_order_release(&a);
    sc_order_release(&b);
}

static void test_order_snap__allocation_failures_leak_nothing(void **state)
{
    struct sc_order a;
    int ok = 0;

    (void)state;
    parse(order_json, &a);
    for (long n = 0; n < 200; n++) {
        cJSON *j;

        mem_fail_after(n);
        j = order_snap_to_json(&a);
        mem_fail_after(-1);
        if (j)
            ok++;
        cJSON_Delete(j);
    }
    assert_true(ok > 0);
    sc_order_release(&a);
}

#define fixture check_redis

static int redis_setup(void **state)
{
    *state = check_redis_new("t-snap:");
    return *state ? 0 : -1;
}

static int redis_teardown(void **state)
{
    check_redis_free(*state);
    return 0;
}

static void test_order_snap__put_then_get_keeps_time(void **state)
{
    struct fixture *f = *state;
    struct sc_order a, b;
    int64_t at = 0;

    parse(order_json, &a);
    assert_int_equal(order_snap_get(f->st, a.id, &b, &at), SCB_ENOTFOUND);
    assert_int_equal(order_snap_put(f->st, &a, 1234567), SCB_OK);
    assert_int_equal(order_snap_get(f->st, a.id, &b, &at), SCB_OK);
    assert_int_equal(at, 1234567);
    assert_int_equal(b.grand_total, a.grand_total);
    sc_order_release(&a);
    sc_order_release(&b);
}

static void test_order_snap__settle_keeps_news_newer_than_the_read(
    void **state)
{
    struct fixture *f = *state;
    int64_t ids[3] = { 1, 2, 3 }, got[50], at = 0;
    size_t n = 0;

    assert_int_equal(order_snap_announce(f->st, 9, 1, 100), SCB_OK);
    assert_int_equal(order_snap_announce(f->st, 9, 2, 200), SCB_OK);
    assert_int_equal(order_snap_announce(f->st, 9, 3, 300), SCB_OK);
    /* A later announcement of 1 wins; an earlier one is ignored. */
    assert_int_equal(order_snap_announce(f->st, 9, 1, 400), SCB_OK);
    assert_int_equal(order_snap_announce(f->st, 9, 1, 50), SCB_OK);
    assert_int_equal(order_snap_pending(f->st, 9, got, 50, &n), SCB_OK);
    assert_int_equal(n, 3);
    assert_int_equal(got[0], 2); /* oldest announcement first */
    assert_int_equal(order_snap_settle(f->st, 9, ids, 3, 350), SCB_OK);
    assert_int_equal(order_snap_pending_at(f->st, 9, 2, &at), SCB_OK);
    assert_int_equal(at, 0);
    assert_int_equal(order_snap_pending_at(f->st, 9, 1, &at), SCB_OK);
    assert_int_equal(at, 400);
}

static void test_order_snap__announce_many_in_one_command(void **state)
{
    struct fixture *f = *state;
    int64_t ids[3] = { 21, 22, 23 }, at = 0;

    assert_int_equal(order_snap_announce(f->st, 8, 22, 900), SCB_OK);
    assert_int_equal(order_snap_announce_many(f->st, 8, ids, 3, 500),
                     SCB_OK);
    assert_int_equal(order_snap_pending_at(f->st, 8, 21, &at), SCB_OK);
    assert_int_equal(at, 500);
    assert_int_equal(order_snap_pending_at(f->st, 8, 22, &at), SCB_OK);
    assert_int_equal(at, 900); /* a later announcement stays */
    assert_int_equal(order_snap_announce_many(f->st, 8, ids, 501, 1),
                     SCB_EINVAL);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_order_snap__list_shape_round_trips),
        cmocka_unit_test(test_order_snap__allocation_failures_leak_nothing),
    };
    const struct CMUnitTest redis[] = {
        cmocka_unit_test(test_order_snap__put_then_get_keeps_time),
        cmocka_unit_test(
            test_order_snap__settle_keeps_news_newer_than_the_read),
        cmocka_unit_test(test_order_snap__announce_many_in_one_command),
    };
    int failed = cmocka_run_group_tests(pure, NULL, NULL);

    return failed + cmocka_run_group_tests(redis, redis_setup,
                                           redis_teardown);
}
