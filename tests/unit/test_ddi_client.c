/* SPDX-License-Identifier: MIT */
/* Tests of the DDI client's parsing of answers and error classes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "ddi_client.h"
#include "mem.h"

#define MAX (1u << 20)

static const char SHIPMENT[] =
    "{\"shipment_id\":\"SH1\",\"order_no\":\"SO1\","
    "\"reference\":\"SC-163-5012001\","
    "\"confirmed_at\":\"2026-12-01T17:04:00Z\",\"ship_date\":\"2026-12-01\","
    "\"carrier\":\"UPS\",\"service\":\"Ground\","
    "\"packages\":[{\"tracking_no\":\"1ZA\",\"weight_lb\":\"3.2\"},"
    "{\"tracking_no\":\"1ZB\"}],"
    "\"lines\":[{\"line_no\":1,\"product_no\":\"ABC-1\",\"qty_shipped\":2}],"
    "\"complete\":true,\"deposit_applied\":\"48.18\",\"extra\":{\"x\":1}}";

static cJSON *parse(const char *text)
{
    cJSON *j = cJSON_Parse(text);

    assert_non_null(j);
    return j;
}

/* Reads SHIPMENT with 'key' removed (NULL: none) or replaced by 'raw'. */
static void read_shipment(const char *key, const char *raw,
                          struct ddi_shipment *s)
{
    cJSON *j = parse(SHIPMENT);

    if (key && raw)
        cJSON_ReplaceItemInObject(j, key, cJSON_Parse(raw));
    else if (key)
        cJSON_DeleteItemFromObject(j, key);
    assert_int_equal(ddi_shipment_read(j, s), SCB_OK);
    /* Its strings die with 'j': callers read only flags and numbers. */
    cJSON_Delete(j);
}

static void test_ddi_client__shipment_record_read(void **state)
{
    cJSON *j = parse(SHIPMENT);
    struct ddi_shipment s;

    (void)state;
    assert_int_equal(ddi_shipment_read(j, &s), SCB_OK);
    assert_true(s.valid);
    assert_null(s.problem);
    assert_string_equal(s.shipment_id, "SH1");
    assert_string_equal(s.order_no, "SO1");
    assert_string_equal(s.reference, "SC-163-5012001");
    assert_string_equal(s.confirmed_at, "2026-12-01T17:04:00Z");
    assert_int_equal(s.confirmed_at_ms, 1796144640000LL);
    assert_string_equal(s.ship_date, "2026-12-01");
    assert_string_equal(s.carrier, "UPS");
    assert_string_equal(s.service, "Ground");
    assert_int_equal(s.n_packages, 2);
    assert_string_equal(s.tracking_nos[0], "1ZA");
    assert_string_equal(s.tracking_nos[1], "1ZB");
    assert_true(s.complete);
    assert_true(s.has_deposit_applied);
    assert_int_equal(s.deposit_applied, 4818);
    ddi_shipment_release(&s);
    cJSON_Delete(j);
}

static void test_ddi_client__shipment_required_fields(void **state)
{
    static const char *const required[] = {
        "shipment_id", "order_no", "reference", "confirmed_at", "packages",
        "complete",
    };
    struct ddi_shipment s;

    (void)state;
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        read_shipment(required[i], NULL, &s);
        assert_false(s.valid);
        assert_non_null(s.problem);
        assert_non_null(strstr(s.problem, required[i]));
        ddi_shipment_release(&s);
    }
    /* The optional ones may be absent. */
    read_shipment("carrier", NULL, &s);
    assert_true(s.valid);
    assert_null(s.carrier);
    ddi_shipment_release(&s);
    read_shipment("deposit_applied", NULL, &s);
    assert_true(s.valid);
    assert_false(s.has_deposit_applied);
    ddi_shipment_release(&s);
}

static void test_ddi_client__shipment_malformed_fields(void **state)
{
    static const struct {
        const char *key, *raw, *problem;
    } cases[] = {
        { "shipment_id", "\"\"", "shipment_id" },
        { "confirmed_at", "\"2026-12-01T17:04:00\"", "confirmed_at" },
        { "confirmed_at", "\"yesterday\"", "confirmed_at" },
        { "complete", "\"true\"", "complete" },
        { "packages", "[{\"weight_lb\":\"1.0\"}]", "tracking_no" },
        { "packages", "[{\"tracking_no\":\"\"}]", "tracking_no" },
        { "packages", "{}", "packages" },
        { "deposit_applied", "\"19\"", "deposit_applied" },
        { "deposit_applied", "19.5", "deposit_applied" },
        { "carrier", "7", "carrier" },
    };
    struct ddi_shipment s;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        read_shipment(cases[i].key, cases[i].raw, &s);
        assert_false(s.valid);
        assert_non_null(strstr(s.problem, cases[i].problem));
        ddi_shipment_release(&s);
    }
    read_shipment("packages", "[]", &s);
    assert_true(s.valid);
    assert_int_equal(s.n_packages, 0);
    ddi_shipment_release(&s);
    read_shipment("confirmed_at", "\"2026-12-01T17:04:00.123+01:00\"", &s);
    assert_true(s.valid);
    assert_int_equal(s.confirmed_at_ms, 1796144640000LL - 3600000 + 123);
    ddi_shipment_release(&s);
}

static enum scb_err order_with(const char *total, const char *deposit,
                               struct ddi_order_doc **out)
{
    char text[2048];

    snprintf(text, sizeof(text),
             "{\"order_no\":\"SO123456\",\"reference\":\"SC-163-5012001\","
             "\"status\":\"partially_shipped\",\"total\":%s,"
             "\"deposit\":{\"amount\":%s,\"applied\":\"24.09\","
             "\"status\":\"partially_applied\"},\"shipments\":[%s],"
             "\"lines\":[{\"line_no\":1}],\"unknown_field\":[1,2,3]}",
             total, deposit, SHIPMENT);
    return ddi_parse_order(text, strlen(text), MAX, out, NULL);
}

static void test_ddi_client__order_answer_parsed(void **state)
{
    struct ddi_order_doc *doc = NULL;
    const struct ddi_order *o;

    (void)state;
    assert_int_equal(order_with("\"48.18\"", "\"48.18\"", &doc), SCB_OK);
    o = &doc->order;
    assert_string_equal(o->order_no, "SO123456");
    assert_string_equal(o->reference, "SC-163-5012001");
    assert_string_equal(o->status, "partially_shipped");
    assert_true(o->has_total);
    assert_int_equal(o->total, 4818);
    assert_true(o->has_deposit);
    assert_int_equal(o->deposit_amount, 4818);
    assert_int_equal(o->deposit_applied, 2409);
    assert_string_equal(o->deposit_status, "partially_applied");
    assert_int_equal(o->n_shipments, 1);
    assert_string_equal(o->shipments[0].tracking_nos[1], "1ZB");
    ddi_order_doc_free(doc);
}

static void test_ddi_client__amounts_one_or_two_decimals(void **state)
{
    static const char *const bad[] = {
        "\"19\"", "\"19.999\"", "\"19.\"", "\".5\"", "19.95", "\"1,00\"",
        "\"+1.00\"",
    };
    struct ddi_order_doc *doc = NULL;
    const char *why = NULL;
    char text[256];

    (void)state;
    assert_int_equal(order_with("\"19.9\"", "\"19.95\"", &doc), SCB_OK);
    assert_int_equal(doc->order.total, 1990);
    assert_int_equal(doc->order.deposit_amount, 1995);
    ddi_order_doc_free(doc);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        doc = NULL;
        assert_int_equal(order_with(bad[i], "\"1.00\"", &doc), SCB_EPARSE);
        assert_null(doc);
        assert_int_equal(order_with("\"1.00\"", bad[i], &doc), SCB_EPARSE);
    }
    snprintf(text, sizeof(text),
             "{\"order_no\":\"S\",\"reference\":\"R\",\"status\":\"open\","
             "\"total\":\"19\"}");
    assert_int_equal(ddi_parse_order(text, strlen(text), MAX, &doc, &why),
                     SCB_EPARSE);
    assert_string_equal(why, "total: not an amount");
}

static void test_ddi_client__order_needs_its_identity(void **state)
{
    static const char *const texts[] = {
        "{\"reference\":\"R\",\"status\":\"open\"}",
        "{\"order_no\":\"S\",\"status\":\"open\"}",
        "{\"order_no\":\"S\",\"reference\":\"R\"}",
        "[]", "not json", "",
    };
    struct ddi_order_doc *doc = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        assert_int_equal(
            ddi_parse_order(texts[i], strlen(texts[i]), MAX, &doc, NULL),
            SCB_EPARSE);
    assert_int_equal(ddi_parse_order("{\"order_no\":\"S\"}", 16, 10, &doc,
                                     NULL),
                     SCB_ETOOBIG);
    /* An invalid shipment inside an order makes the answer invalid. */
    {
        const char *t = "{\"order_no\":\"S\",\"reference\":\"R\","
                        "\"status\":\"open\",\"shipments\":[{}]}";
        const char *why = NULL;

        assert_int_equal(ddi_parse_order(t, strlen(t), MAX, &doc, &why),
                         SCB_EPARSE);
        assert_non_null(strstr(why, "shipment_id"));
    }
    /* A new order: no shipments, minimal fields. */
    {
        const char *t = "{\"order_no\":\"S\",\"reference\":\"R\","
                        "\"status\":\"open\",\"shipments\":[]}";

        assert_int_equal(ddi_parse_order(t, strlen(t), MAX, &doc, NULL),
                         SCB_OK);
        assert_int_equal(doc->order.n_shipments, 0);
        assert_false(doc->order.has_total);
        assert_false(doc->order.has_deposit);
        ddi_order_doc_free(doc);
    }
}

static void test_ddi_client__order_list(void **state)
{
    const char *none = "{\"items\":[]}";
    const char *two = "{\"items\":[{\"order_no\":\"S1\",\"reference\":\"R\","
                      "\"status\":\"open\"},{\"order_no\":\"S2\","
                      "\"reference\":\"R\",\"status\":\"cancelled\"}]}";
    struct ddi_order_list *l = NULL;

    (void)state;
    assert_int_equal(ddi_parse_order_list(none, strlen(none), MAX, &l, NULL),
                     SCB_OK);
    assert_int_equal(l->n, 0);
    ddi_order_list_free(l);
    assert_int_equal(ddi_parse_order_list(two, strlen(two), MAX, &l, NULL),
                     SCB_OK);
    assert_int_equal(l->n, 2);
    assert_string_equal(l->orders[1].order_no, "S2");
    assert_string_equal(l->orders[1].status, "cancelled");
    ddi_order_list_free(l);
    assert_int_equal(ddi_parse_order_list("{}", 2, MAX, &l, NULL),
                     SCB_EPARSE);
}

static void test_ddi_client__shipment_page(void **state)
{
    char text[4096];
    struct ddi_shipment_page *pg = NULL;
    const char *why = NULL;

    (void)state;
    snprintf(text, sizeof(text),
             "{\"items\":[%s,{\"shipment_id\":\"SH2\",\"reference\":\"X-1\"}],"
             "\"next_cursor\":\"c-2\",\"more\":true}",
             SHIPMENT);
    assert_int_equal(
        ddi_parse_shipment_page(text, strlen(text), MAX, &pg, NULL), SCB_OK);
    assert_int_equal(pg->n, 2);
    assert_true(pg->items[0].valid);
    /* One bad record does not fail the page; it is flagged. */
    assert_false(pg->items[1].valid);
    assert_string_equal(pg->items[1].shipment_id, "SH2");
    assert_string_equal(pg->items[1].reference, "X-1");
    assert_non_null(strstr(pg->items[1].problem, "order_no"));
    assert_string_equal(pg->next_cursor, "c-2");
    assert_true(pg->more);
    ddi_shipment_page_free(pg);

    snprintf(text, sizeof(text), "{\"items\":[],\"more\":false}");
    assert_int_equal(
        ddi_parse_shipment_page(text, strlen(text), MAX, &pg, &why),
        SCB_EPARSE);
    assert_string_equal(why, "next_cursor: missing or invalid");
    snprintf(text, sizeof(text), "{\"items\":[],\"next_cursor\":null,"
                                 "\"more\":false}");
    assert_int_equal(
        ddi_parse_shipment_page(text, strlen(text), MAX, &pg, NULL),
        SCB_EPARSE);
    snprintf(text, sizeof(text), "{\"items\":[],\"next_cursor\":\"c\"}");
    assert_int_equal(
        ddi_parse_shipment_page(text, strlen(text), MAX, &pg, &why),
        SCB_EPARSE);
    assert_string_equal(why, "more: missing or not a boolean");
}

static void test_ddi_client__page_larger_than_limit_is_invalid(void **state)
{
    size_t cap = 16 + 101 * 3 + 64;
    char *text = malloc(cap);
    struct ddi_shipment_page *pg = NULL;
    size_t n;

    (void)state;
    assert_non_null(text);
    n = (size_t)snprintf(text, cap, "{\"items\":[");
    for (int i = 0; i < 101; i++)
        n += (size_t)snprintf(text + n, cap - n, "%s{}", i ? "," : "");
    snprintf(text + n, cap - n, "],\"next_cursor\":\"c\",\"more\":false}");
    assert_int_equal(
        ddi_parse_shipment_page(text, strlen(text), MAX, &pg, NULL),
        SCB_EPARSE);
    free(text);
}

static void test_ddi_client__item_page(void **state)
{
    const char *text =
        "{\"items\":[{\"product_no\":\"ABC-1\",\"warehouse\":\"MAIN\","
        "\"description\":\"Widget\",\"product_type\":\"Widget\","
        "\"image_url\":\"https://i/1.jpg\",\"web_description\":\"Nice\","
        "\"mfg_product_no\":\"MFG-77\",\"upc\":\"012345678905\","
        "\"uom\":\"EA\",\"price\":\"19.95\",\"available_qty\":-3,"
        "\"active\":true,\"web\":true,\"new_field\":1,"
        "\"updated_at\":\"2026-12-01T17:04:00.123Z\"},"
        "{\"product_no\":\"ABC-2\",\"warehouse\":\"EAST\",\"active\":false,"
        "\"web\":false,\"description\":null,\"price\":\"19\"},"
        "{\"warehouse\":\"MAIN\",\"active\":true,\"web\":true},"
        "{\"product_no\":\"ABC-4\",\"warehouse\":\"MAIN\",\"active\":true,"
        "\"web\":\"yes\"},"
        "{\"product_no\":\"ABC-5\",\"warehouse\":\"MAIN\",\"active\":true,"
        "\"web\":true,\"available_qty\":1.5}],"
        "\"next_cursor\":\"i-9\",\"more\":false}";
    struct ddi_item_page *pg = NULL;
    const struct ddi_item *it;

    (void)state;
    assert_int_equal(ddi_parse_item_page(text, strlen(text), MAX, &pg, NULL),
                     SCB_OK);
    assert_int_equal(pg->n, 5);
    it = &pg->items[0];
    assert_true(it->valid);
    assert_string_equal(it->product_no, "ABC-1");
    assert_string_equal(it->warehouse, "MAIN");
    assert_string_equal(it->description, "Widget");
    assert_string_equal(it->product_type, "Widget");
    assert_string_equal(it->image_url, "https://i/1.jpg");
    assert_string_equal(it->web_description, "Nice");
    assert_string_equal(it->mfg_product_no, "MFG-77");
    assert_string_equal(it->upc, "012345678905");
    assert_string_equal(it->uom, "EA");
    assert_string_equal(it->price, "19.95");
    assert_true(it->has_available_qty);
    assert_int_equal(it->available_qty, -3);
    assert_true(it->active);
    assert_true(it->web);
    /* A bad price is the item's problem, judged by item_map. */
    it = &pg->items[1];
    assert_true(it->valid);
    assert_null(it->description);
    assert_string_equal(it->price, "19");
    assert_false(it->has_available_qty);
    assert_false(pg->items[2].valid);
    assert_non_null(strstr(pg->items[2].problem, "product_no"));
    assert_false(pg->items[3].valid);
    assert_non_null(strstr(pg->items[3].problem, "web"));
    assert_false(pg->items[4].valid);
    assert_non_null(strstr(pg->items[4].problem, "available_qty"));
    assert_string_equal(pg->next_cursor, "i-9");
    assert_false(pg->more);
    ddi_item_page_free(pg);
}

static void test_ddi_client__error_422_codes(void **state)
{
    const char *unknown =
        "{\"errors\":[{\"code\":\"UOM_NOT_ALLOWED\",\"field\":\"uom\","
        "\"line_no\":1,\"message\":\"CS not allowed\"},"
        "{\"code\":\"UNKNOWN_PRODUCT\",\"field\":\"product_no\","
        "\"line_no\":2,\"message\":\"no item ABC-9\"}]}";
    const char *other = "{\"errors\":[{\"code\":\"DEPOSIT_MISMATCH\","
                        "\"message\":\"deposit 10.00 != total 10.01\"}]}";
    struct ddi_error e = { 0 };

    (void)state;
    ddi_error_from_body(422, unknown, strlen(unknown), &e);
    assert_string_equal(e.reason, "UNKNOWN_PRODUCT");
    assert_string_equal(e.detail,
                        "UOM_NOT_ALLOWED line 1 field uom: CS not allowed; "
                        "UNKNOWN_PRODUCT line 2 field product_no: "
                        "no item ABC-9");
    ddi_error_from_body(422, other, strlen(other), &e);
    assert_string_equal(e.reason, "DDI_VALIDATION");
    assert_string_equal(e.detail,
                        "DEPOSIT_MISMATCH: deposit 10.00 != total 10.01");
    ddi_error_from_body(409, "{}", 2, &e);
    assert_string_equal(e.reason, "CANCELLED_AFTER_SHIPMENT");
    assert_string_equal(e.detail, "");
    ddi_error_from_body(400, "<html>", 6, &e);
    assert_string_equal(e.reason, "");
    assert_string_equal(e.detail, "");
    ddi_error_from_body(404, NULL, 0, &e);
    assert_string_equal(e.reason, "");
}

static void test_ddi_client__error_detail_is_bounded(void **state)
{
    size_t cap = 64 * 1024;
    char *body = malloc(cap);
    size_t n;
    struct ddi_error e = { 0 };

    (void)state;
    assert_non_null(body);
    n = (size_t)snprintf(body, cap, "{\"errors\":[");
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(body + n, cap - n,
                              "%s{\"code\":\"C%d\",\"message\":\"a\\nb\"}",
                              i ? "," : "", i);
    snprintf(body + n, cap - n, "]}");
    ddi_error_from_body(422, body, strlen(body), &e);
    assert_int_equal(strlen(e.detail), sizeof(e.detail) - 1);
    assert_null(strchr(e.detail, '\n'));
    assert_memory_equal(e.detail, "C0: a b; C1: a b", 16);
    free(body);
}

static void test_ddi_client__classes(void **state)
{
    (void)state;
    assert_int_equal(ddi_class_of(SCB_OK), UPSTREAM_CLASS_OK);
    assert_int_equal(ddi_class_of(SCB_EWAIT), UPSTREAM_CLASS_WAIT);
    assert_int_equal(ddi_class_of(SCB_EUPSTREAM), UPSTREAM_CLASS_TRANSIENT);
    assert_int_equal(ddi_class_of(SCB_ETIMEOUT), UPSTREAM_CLASS_TRANSIENT);
    assert_int_equal(ddi_class_of(SCB_EPARSE), UPSTREAM_CLASS_TRANSIENT);
    assert_int_equal(ddi_class_of(SCB_EUNKNOWN), UPSTREAM_CLASS_UNKNOWN);
    assert_int_equal(ddi_class_of(SCB_EPERMANENT), UPSTREAM_CLASS_PERMANENT);
    assert_int_equal(ddi_class_of(SCB_ECONFLICT), UPSTREAM_CLASS_PERMANENT);
}

static void test_ddi_client__gate_bounds(void **state)
{
    struct ddi_gate *g;

    (void)state;
    assert_null(ddi_gate_new(0));
    assert_null(ddi_gate_new(65));
    g = ddi_gate_new(4);
    assert_non_null(g);
    ddi_gate_free(g);
    ddi_gate_free(NULL);
}

static void test_ddi_client__bad_arguments_send_nothing(void **state)
{
    struct config cfg = { 0 };
    char base[] = "http://127.0.0.1:9";
    char key[] = "k";
    char company[] = "01";
    struct ddi_gate *g = ddi_gate_new(1);
    struct ddi_client *c;
    struct ddi_order_list *l = NULL;
    struct ddi_shipment_page *sp = NULL;
    struct ddi_item_page *ip = NULL;
    struct ddi_order_doc *doc = NULL;
    struct ddi_error e;

    (void)state;
    cfg.ddi_base_url = base;
    cfg.ddi_api_key = key;
    cfg.ddi_company = company;
    cfg.ddi_timeout_s = 1;
    cfg.upstream_max_bytes = MAX;
    c = ddi_client_new(&cfg, g);
    assert_non_null(c);
    assert_int_equal(ddi_find_orders(c, "SC-1-2\r\nX: y", &l, &e),
                     SCB_EINVAL);
    assert_int_equal(ddi_find_orders(c, "", &l, &e), SCB_EINVAL);
    assert_int_equal(ddi_create_order(c, "SC 1", "{}", &doc, &e),
                     SCB_EINVAL);
    assert_int_equal(ddi_get_order(c, NULL, &doc, &e), SCB_EINVAL);
    assert_int_equal(ddi_list_shipments(c, NULL, NULL, 0, &sp, &e),
                     SCB_EINVAL);
    assert_int_equal(ddi_list_shipments(c, NULL, NULL, 101, &sp, &e),
                     SCB_EINVAL);
    assert_int_equal(ddi_list_items(c, NULL, NULL, 201, &ip, &e),
                     SCB_EINVAL);
    assert_int_equal(e.status, 0);
    ddi_client_free(c);
    ddi_gate_free(g);
}

static void test_ddi_client__allocation_failures_leak_nothing(void **state)
{
    char text[4096];
    struct ddi_order_doc *doc = NULL;
    struct ddi_shipment_page *pg = NULL;
    enum scb_err err = SCB_ENOMEM;

    (void)state;
    /* cJSON reports its own allocation failures as parse errors. */
    mem_install_hooks();
    for (long n = 0; n < 500 && err != SCB_OK; n++) {
        mem_fail_after(n);
        err = order_with("\"1.00\"", "\"1.00\"", &doc);
        mem_fail_after(-1);
        assert_true(err == SCB_OK || err == SCB_ENOMEM || err == SCB_EPARSE);
    }
    assert_int_equal(err, SCB_OK);
    ddi_order_doc_free(doc);
    snprintf(text, sizeof(text),
             "{\"items\":[%s,%s],\"next_cursor\":\"c\",\"more\":false}",
             SHIPMENT, SHIPMENT);
    err = SCB_ENOMEM;
    for (long n = 0; n < 500 && err != SCB_OK; n++) {
        mem_fail_after(n);
        err = ddi_parse_shipment_page(text, strlen(text), MAX, &pg, NULL);
        mem_fail_after(-1);
        assert_true(err == SCB_OK || err == SCB_ENOMEM || err == SCB_EPARSE);
    }
    assert_int_equal(err, SCB_OK);
    assert_int_equal(pg->n, 2);
    ddi_shipment_page_free(pg);
}

static int group_setup(void **state)
{
    (void)state;
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ddi_client__shipment_record_read),
        cmocka_unit_test(test_ddi_client__shipment_required_fields),
        cmocka_unit_test(test_ddi_client__shipment_malformed_fields),
        cmocka_unit_test(test_ddi_client__order_answer_parsed),
        cmocka_unit_test(test_ddi_client__amounts_one_or_two_decimals),
        cmocka_unit_test(test_ddi_client__order_needs_its_identity),
        cmocka_unit_test(test_ddi_client__order_list),
        cmocka_unit_test(test_ddi_client__shipment_page),
        cmocka_unit_test(test_ddi_client__page_larger_than_limit_is_invalid),
        cmocka_unit_test(test_ddi_client__item_page),
        cmocka_unit_test(test_ddi_client__error_422_codes),
        cmocka_unit_test(test_ddi_client__error_detail_is_bounded),
        cmocka_unit_test(test_ddi_client__classes),
        cmocka_unit_test(test_ddi_client__gate_bounds),
        cmocka_unit_test(test_ddi_client__bad_arguments_send_nothing),
        cmocka_unit_test(test_ddi_client__allocation_failures_leak_nothing),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
