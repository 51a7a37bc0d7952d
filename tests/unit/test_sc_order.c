/* SPDX-License-Identifier: MIT */
/* Unit tests of Sellercloud list items parsed into C structs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "jsonio.h"
#include "mem.h"
#include "money.h"
#include "sc_client.h"
#include "sc_order.h"

/* A list item as the simulator and Sellercloud write it. */
static const char full_item[] =
    "{\"ID\":5012001,\"CompanyID\":163,\"OrderSource\":4,"
    "\"OrderSourceOrderID\":\"112-3456789-0123456\",\"StatusCode\":2,"
    "\"PaymentStatus\":30,\"ShippingStatus\":1,\"Dropship\":0,"
    "\"TimeOfOrder\":\"2026-12-01T12:04:00.123\","
    "\"LastUpdated\":\"2026-12-01T12:05:07.5\","
    "\"CreatedOn\":\"2026-12-01T12:04:01Z\",\"ShipDate\":null,"
    "\"Items\":[{\"ID\":1,\"ProductID\":\"SKU-1\",\"Qty\":3,"
    "\"LineTotal\":59.97,\"DisplayName\":\"Widget \\\"blue\\\"\"},"
    "{\"ID\":2,\"ProductID\":\"A/B#C?\",\"Qty\":1,"
    "\"LineTotal\":0.30000000000000004,\"DisplayName\":null}],"
    "\"GrandTotal\":75.33,\"ShippingTotal\":9.99,\"HandlingFee\":1.5,"
    "\"InsuranceTotal\":0,\"TaxTotal\":4.8699998856,"
    "\"OrderDiscountsTotal\":-1.2,\"ShippingDiscountsTotal\":0.1,"
    "\"Payments\":[{\"ID\":9,\"TransactionReferenceNumber\":\"ch_123\"},"
    "{\"ID\":10,\"TransactionReferenceNumber\":\"ch_456\"}],"
    "\"BillingAddress\":{\"FirstName\":\"Ada\",\"LastName\":\"Lovelace\","
    "\"CompanyName\":null,\"StreetLine1\":\"1 Main St\","
    "\"StreetLine2\":\"\",\"City\":\"Springfield\",\"StateCode\":\"IL\","
    "\"PostalCode\":\"62701\",\"CountryCode\":\"US\","
    "\"PhoneNumber\":\"555-0100\",\"EmailAddress\":\"ada@example.com\"},"
    "\"ShippingAddress\":{\"FirstName\":\"Bob\",\"City\":\"Dover\"},"
    "\"ShippingCarrier\":\"UPS\",\"ShippingService\":\"Ground\","
    "\"TrackingNumber\":\"1Z999\",\"AllTrackingNumbers\":[\"1Z999\","
    "\"1Z998\"],\"SomethingNew\":{\"x\":1}}";

static cJSON *parse(const char *text)
{
    cJSON *root = NULL;

    assert_int_equal(jsonio_parse(text, strlen(text), 1 << 24, &root),
                     SCB_OK);
    return root;
}

/* full_item with the text 'from' replaced by 'to' (once). */
static cJSON *variant(const char *from, const char *to)
{
    char text[8192];
    const char *at = strstr(full_item, from);

    assert_non_null(at);
    snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - full_item),
             full_item, to, at + strlen(from));
    return parse(text);
}

static enum scb_err parse_variant(const char *from, const char *to,
                                  char *field)
{
    cJSON *root = variant(from, to);
    struct sc_order o;
    enum scb_err err;

    memset(&o, 0, sizeof(o));
    err = sc_order_parse(root, &o, field);
    sc_order_release(&o);
    cJSON_Delete(root);
    return err;
}

static void test_sc_order__parses_every_field_of_a_list_item(void **state)
{
    cJSON *root = parse(full_item);
    struct sc_order o;
    char field[SC_ORDER_FIELD_MAX] = "";

    (void)state;
    assert_int_equal(sc_order_parse(root, &o, field), SCB_OK);
    assert_int_equal(o.id, 5012001);
    assert_int_equal(o.company_id, 163);
    assert_int_equal(o.order_source, 4);
    assert_string_equal(o.order_source_order_id, "112-3456789-0123456");
    assert_int_equal(o.status_code, 2);
    assert_int_equal(o.payment_status, 30);
    assert_int_equal(o.shipping_status, 1);
    assert_int_equal(o.dropship, 0);
    assert_string_equal(o.last_updated.raw, "2026-12-01T12:05:07.5");
    assert_false(o.last_updated.has_zone);
    assert_true(o.created_on.present);
    assert_true(o.created_on.has_zone);
    assert_false(o.ship_date.present);
    assert_int_equal(o.n_lines, 2);
    assert_int_equal(o.lines[0].id, 1);
    assert_string_equal(o.lines[0].product_id, "SKU-1");
    assert_int_equal(o.lines[0].qty, 3);
    assert_int_equal(o.lines[0].line_total, 5997);
    assert_string_equal(o.lines[0].display_name, "Widget \"blue\"");
    assert_string_equal(o.lines[1].product_id, "A/B#C?");
    assert_int_equal(o.lines[1].line_total, 30);
    assert_string_equal(o.lines[1].display_name, "");
    assert_int_equal(o.grand_total, 7533);
    assert_int_equal(o.shipping_total, 999);
    assert_int_equal(o.handling_fee, 150);
    assert_int_equal(o.insurance_total, 0);
    assert_int_equal(o.tax_total, 487); /* single precision absorbed */
    assert_int_equal(o.order_discounts_total, -120);
    assert_int_equal(o.shipping_discounts_total, 10);
    assert_string_equal(o.payment_ref, "ch_123");
    assert_string_equal(o.billing.first_name, "Ada");
    assert_string_equal(o.billing.company_name, "");
    assert_string_equal(o.billing.email_address, "ada@example.com");
    assert_string_equal(o.shipping.first_name, "Bob");
    assert_string_equal(o.shipping.street_line1, "");
    assert_string_equal(o.shipping_carrier, "UPS");
    assert_string_equal(o.shipping_service, "Ground");
    assert_string_equal(o.tracking_number, "1Z999");
    assert_int_equal(o.n_all_tracking, 2);
    assert_string_equal(o.all_tracking[1].no, "1Z998");
    sc_order_release(&o);
    cJSON_Delete(root);
}

static void test_sc_order__zone_less_times_read_as_utc(void **state)
{
    cJSON *root = parse(full_item);
    struct sc_order o;

    (void)state;
    assert_int_equal(sc_order_parse(root, &o, NULL), SCB_OK);
    /* 2026-12-01T12:04:00.123 UTC */
    assert_int_equal(o.time_of_order.ms, 1796126640123LL);
    assert_int_equal(o.last_updated.ms, 1796126707500LL);
    assert_int_equal(o.created_on.ms, 1796126641000LL);
    sc_order_release(&o);
    cJSON_Delete(root);
}

static void test_sc_order__times_honour_z_and_offsets(void **state)
{
    int64_t ms = 0;
    bool zone = false;

    (void)state;
    assert_int_equal(sc_time_parse("2026-12-01T07:04:00-05:00", &ms, &zone),
                     SCB_OK);
    assert_true(zone);
    assert_int_equal(ms, 1796126640000LL);
    assert_int_equal(sc_time_parse("2026-12-01T13:34:00+0130", &ms, NULL),
                     SCB_OK);
    assert_int_equal(ms, 1796126640000LL);
    assert_int_equal(sc_time_parse("2026-12-01T12:04:00Z", &ms, &zone),
                     SCB_OK);
    assert_int_equal(ms, 1796126640000LL);
    assert_int_equal(sc_time_parse("2026-12-01T12:04", &ms, &zone), SCB_OK);
    assert_false(zone);
    assert_int_equal(ms, 1796126640000LL);
    assert_int_equal(
        sc_time_parse("2026-12-01T12:04:00.123456789", &ms, NULL), SCB_OK);
    assert_int_equal(ms, 1796126640123LL);
    assert_int_equal(sc_time_parse("2024-02-29T00:00:00", &ms, NULL),
                     SCB_OK);
}

static void test_sc_order__bad_times_are_rejected(void **state)
{
    static const char *const bad[] = {
        "",
        "2026-12-01",
        "2026-13-01T00:00:00",
        "2025-02-29T00:00:00",
        "2026-12-01T24:00:00",
        "2026-12-01T12:04:00.",
        "2026-12-01T12:04:00+5",
        "2026-12-01T12:04:00 junk",
        "12/01/2026 07:04",
    };
    int64_t ms = 77;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sc_time_parse(bad[i], &ms, NULL), SCB_EINVAL);
    assert_int_equal(ms, 77);
}

static void test_sc_order__formats_query_and_body_times(void **state)
{
    char q[SC_TIME_QUERY_LEN], b[SC_TIME_BODY_LEN];

    (void)state;
    sc_time_format_query(1796126640123LL, q);
    assert_string_equal(q, "12/01/2026 12:04");
    sc_time_format_query(1796126640123LL - 5 * 3600 * 1000, q);
    assert_string_equal(q, "12/01/2026 07:04");
    sc_time_format_body(1796126647999LL, b);
    assert_string_equal(b, "2026-12-01T12:04:07Z");
    sc_time_format_body(0, b);
    assert_string_equal(b, "1970-01-01T00:00:00Z");
}

static void test_sc_order__money_round_trips_awkward_amounts(void **state)
{
    /* What 0.1 + 0.2, 19.99 * 3 and large totals print as in JSON. */
    static const struct {
        const char *json;
        int64_t cents;
        const char *text;
    } cases[] = {
        { "0.30000000000000004", 30, "0.30" },
        { "59.97", 5997, "59.97" },
        { "59.970000000000006", 5997, "59.97" },
        { "9999999999999.99", 999999999999999LL, "9999999999999.99" },
        { "1234567890.12", 123456789012LL, "1234567890.12" },
        { "-0.05", -5, "-0.05" },
        { "0.015", 2, "0.02" },
        { "4.8699998856", 487, "4.87" },
    };
    struct buf out;
    cJSON *root;
    int64_t cents;
    char text[64];

    (void)state;
    buf_init(&out, 4096);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text), "{\"v\":%s}", cases[i].json);
        root = parse(text);
        assert_int_equal(jsonio_get_cents(root, "v", &cents), SCB_OK);
        cJSON_Delete(root);
        assert_int_equal(cents, cases[i].cents);
        buf_reset(&out);
        assert_int_equal(buf_putc(&out, '{'), SCB_OK);
        assert_int_equal(sc_json_put_money(&out, "SitePrice", cents),
                         SCB_OK);
        assert_int_equal(buf_putc(&out, '}'), SCB_OK);
        snprintf(text, sizeof(text), "{\"SitePrice\":%s}", cases[i].text);
        assert_string_equal(out.data, text);
        root = parse(out.data);
        assert_int_equal(jsonio_get_cents(root, "SitePrice", &cents),
                         SCB_OK);
        assert_int_equal(cents, cases[i].cents);
        cJSON_Delete(root);
    }
    buf_release(&out);
}

static void test_sc_order__line_totals_sum_exactly(void **state)
{
    cJSON *root = parse("{\"ID\":1,\"CompanyID\":1,\"OrderSource\":6,"
                        "\"StatusCode\":2,\"PaymentStatus\":30,"
                        "\"ShippingStatus\":0,"
                        "\"TimeOfOrder\":\"2026-12-01T00:00:00\","
                        "\"LastUpdated\":\"2026-12-01T00:00:00\","
                        "\"GrandTotal\":60.27,\"Items\":["
                        "{\"ID\":1,\"ProductID\":\"A\",\"Qty\":1,"
                        "\"LineTotal\":0.1},"
                        "{\"ID\":2,\"ProductID\":\"B\",\"Qty\":1,"
                        "\"LineTotal\":0.2},"
                        "{\"ID\":3,\"ProductID\":\"C\",\"Qty\":3,"
                        "\"LineTotal\":59.97}]}");
    struct sc_order o;
    int64_t sum = 0;

    (void)state;
    assert_int_equal(sc_order_parse(root, &o, NULL), SCB_OK);
    for (size_t i = 0; i < o.n_lines; i++)
        sum += o.lines[i].line_total;
    assert_int_equal(sum, o.grand_total);
    sc_order_release(&o);
    cJSON_Delete(root);
}

static void test_sc_order__wrong_types_name_the_field(void **state)
{
    char field[SC_ORDER_FIELD_MAX];

    (void)state;
    assert_int_equal(parse_variant("\"ID\":5012001", "\"ID\":\"5012001\"",
                                   field),
                     SCB_EINVAL);
    assert_string_equal(field, "ID");
    assert_int_equal(parse_variant("\"Qty\":3", "\"Qty\":2.5", field),
                     SCB_EINVAL);
    assert_string_equal(field, "Items[0].Qty");
    assert_int_equal(parse_variant("\"City\":\"Springfield\"", "\"City\":7",
                                   field),
                     SCB_EINVAL);
    assert_string_equal(field, "BillingAddress.City");
    assert_int_equal(parse_variant("\"GrandTotal\":75.33",
                                   "\"GrandTotal\":\"75.33\"", field),
                     SCB_EINVAL);
    assert_string_equal(field, "GrandTotal");
    assert_int_equal(parse_variant("\"1Z998\"", "null", field), SCB_EINVAL);
    assert_string_equal(field, "AllTrackingNumbers");
}

static void test_sc_order__missing_required_fields_are_rejected(
    void **state)
{
    char field[SC_ORDER_FIELD_MAX];

    (void)state;
    assert_int_equal(parse_variant("\"StatusCode\":2,", "", field),
                     SCB_EINVAL);
    assert_string_equal(field, "StatusCode");
    assert_int_equal(parse_variant("\"LastUpdated\"", "\"LastUpdatedX\"",
                                   field),
                     SCB_EINVAL);
    assert_string_equal(field, "LastUpdated");
    assert_int_equal(parse_variant("\"ProductID\":\"SKU-1\"",
                                   "\"ProductID\":\"\"", field),
                     SCB_EINVAL);
    assert_string_equal(field, "Items[0].ProductID");
    assert_int_equal(parse_variant("\"Items\":[", "\"Itemz\":[", field),
                     SCB_EINVAL);
    assert_string_equal(field, "Items");
}

static void test_sc_order__optional_nulls_become_empty(void **state)
{
    cJSON *root = variant("\"ShippingTotal\":9.99,\"HandlingFee\":1.5",
                          "\"ShippingTotal\":null");
    struct sc_order o;

    (void)state;
    cJSON_DeleteItemFromObject(root, "Payments");
    cJSON_DeleteItemFromObject(root, "AllTrackingNumbers");
    cJSON_ReplaceItemInObject(root, "BillingAddress", cJSON_CreateNull());
    cJSON_ReplaceItemInObject(root, "Dropship", cJSON_CreateNull());
    assert_int_equal(sc_order_parse(root, &o, NULL), SCB_OK);
    assert_int_equal(o.shipping_total, 0);
    assert_int_equal(o.handling_fee, 0);
    assert_string_equal(o.payment_ref, "");
    assert_int_equal(o.n_all_tracking, 0);
    assert_null(o.all_tracking);
    assert_string_equal(o.billing.first_name, "");
    assert_int_equal(o.dropship, 0);
    sc_order_release(&o);
    cJSON_Delete(root);
}

static void test_sc_order__limits_bound_strings_and_lines(void **state)
{
    char field[SC_ORDER_FIELD_MAX], big[SC_ORDER_STR_MAX + 8];
    cJSON *root = parse(full_item);
    cJSON *items = cJSON_GetObjectItem(root, "Items");
    struct sc_order o;

    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cJSON_ReplaceItemInObject(root, "ShippingCarrier",
                              cJSON_CreateString(big));
    assert_int_equal(sc_order_parse(root, &o, field), SCB_EINVAL);
    assert_string_equal(field, "ShippingCarrier");
    cJSON_ReplaceItemInObject(root, "ShippingCarrier",
                              cJSON_CreateString("UPS"));
    while (cJSON_GetArraySize(items) <= SC_ORDER_MAX_LINES)
        cJSON_AddItemToArray(items,
                             cJSON_Duplicate(cJSON_GetArrayItem(items, 0),
                                             true));
    assert_int_equal(sc_order_parse(root, &o, field), SCB_EINVAL);
    assert_string_equal(field, "Items");
    cJSON_Delete(root);
}

static void test_sc_order__page_keeps_good_items_and_names_bad_ones(
    void **state)
{
    char text[20000];
    struct sc_order_page page;
    cJSON *root;
    const char *bad_item = "{\"ID\":77,\"CompanyID\":\"x\"}";

    (void)state;
    snprintf(text, sizeof(text),
             "{\"Items\":[%s,%s,%s],\"TotalResults\":123}", full_item,
             bad_item, "42");
    root = parse(text);
    assert_int_equal(sc_order_page_parse(root, &page), SCB_OK);
    assert_int_equal(page.n_items, 3);
    assert_int_equal(page.n_orders, 1);
    assert_int_equal(page.orders[0].id, 5012001);
    assert_int_equal(page.n_bad, 2);
    assert_int_equal(page.bad[0].id, 77);
    assert_int_equal(page.bad[0].err, SCB_EINVAL);
    assert_string_equal(page.bad[0].field, "CompanyID");
    assert_int_equal(page.bad[1].id, 0);
    assert_int_equal(page.total_results, 123);
    assert_true(sc_order_page_is_last(&page, 1, 50)); /* short page */
    sc_order_page_release(&page);
    cJSON_Delete(root);
}

static void test_sc_order__page_of_the_wrong_shape_is_a_parse_error(
    void **state)
{
    static const char *const bad[] = {
        "[]",
        "{\"Items\":null,\"TotalResults\":0}",
        "{\"Items\":{},\"TotalResults\":0}",
        "{\"Items\":[],\"TotalResults\":\"3\"}",
        "{\"Items\":[],\"TotalResults\":-1}",
    };
    struct sc_order_page page;
    cJSON *root;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        root = parse(bad[i]);
        assert_int_equal(sc_order_page_parse(root, &page), SCB_EPARSE);
        cJSON_Delete(root);
    }
}

static void test_sc_order__page_over_fifty_items_is_refused(void **state)
{
    cJSON *root = parse("{\"Items\":[],\"TotalResults\":51}");
    cJSON *items = cJSON_GetObjectItem(root, "Items");
    struct sc_order_page page;

    (void)state;
    for (int i = 0; i <= SC_ORDER_PAGE_MAX; i++)
        cJSON_AddItemToArray(items, cJSON_CreateNumber(i));
    assert_int_equal(sc_order_page_parse(root, &page), SCB_EPARSE);
    cJSON_Delete(root);
}

static void test_sc_order__last_page_by_size_or_total(void **state)
{
    struct sc_order_page page;

    (void)state;
    memset(&page, 0, sizeof(page));
    page.n_items = 50;
    page.total_results = 100;
    assert_false(sc_order_page_is_last(&page, 1, 50));
    assert_true(sc_order_page_is_last(&page, 2, 50));
    page.total_results = 0; /* a full page but no total: trust the total */
    assert_true(sc_order_page_is_last(&page, 1, 50));
    page.n_items = 49;
    page.total_results = 1000;
    assert_true(sc_order_page_is_last(&page, 1, 50));
}

static void test_sc_order__allocation_failures_leak_nothing(void **state)
{
    char text[20000];
    struct sc_order_page page;
    cJSON *root;
    enum scb_err err = SCB_ENOMEM;

    (void)state;
    snprintf(text, sizeof(text), "{\"Items\":[%s,%s],\"TotalResults\":2}",
             full_item, full_item);
    root = parse(text);
    for (long n = 0; err == SCB_ENOMEM; n++) {
        assert_true(n < 100);
        mem_fail_after(n);
        err = sc_order_page_parse(root, &page);
        mem_fail_after(-1);
        if (err == SCB_OK)
            sc_order_page_release(&page);
        else
            assert_int_equal(err, SCB_ENOMEM);
    }
    cJSON_Delete(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sc_order__parses_every_field_of_a_list_item),
        cmocka_unit_test(test_sc_order__zone_less_times_read_as_utc),
        cmocka_unit_test(test_sc_order__times_honour_z_and_offsets),
        cmocka_unit_test(test_sc_order__bad_times_are_rejected),
        cmocka_unit_test(test_sc_order__formats_query_and_body_times),
        cmocka_unit_test(test_sc_order__money_round_trips_awkward_amounts),
        cmocka_unit_test(test_sc_order__line_totals_sum_exactly),
        cmocka_unit_test(test_sc_order__wrong_types_name_the_field),
        cmocka_unit_test(
            test_sc_order__missing_required_fields_are_rejected),
        cmocka_unit_test(test_sc_order__optional_nulls_become_empty),
        cmocka_unit_test(test_sc_order__limits_bound_strings_and_lines),
        cmocka_unit_test(
            test_sc_order__page_keeps_good_items_and_names_bad_ones),
        cmocka_unit_test(
            test_sc_order__page_of_the_wrong_shape_is_a_parse_error),
        cmocka_unit_test(test_sc_order__page_over_fifty_items_is_refused),
        cmocka_unit_test(test_sc_order__last_page_by_size_or_total),
        cmocka_unit_test(test_sc_order__allocation_failures_leak_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
