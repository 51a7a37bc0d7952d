/* SPDX-License-Identifier: MIT */
/* Tests of the admin API's checks, JSON and overdue count (real Redis). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"

#include "mem.h"
#include "orderstate.h"
#include "route_admin.h"

#define TOKEN_A "token-a-0123456789abcdef0123456789ab"
#define TOKEN_B "token-b-0123456789abcdef0123456789ab"

/* ---- the token ---- */

static void cfg_tokens(struct config *cfg, const char *const *tokens,
                       size_t n)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < n; i++) {
        cfg->admin_tokens[i].bytes = (unsigned char *)mem_strdup(tokens[i]);
        cfg->admin_tokens[i].len = strlen(tokens[i]);
    }
    cfg->n_admin_tokens = n;
}

static void cfg_tokens_free(struct config *cfg)
{
    for (size_t i = 0; i < cfg->n_admin_tokens; i++)
        mem_free(cfg->admin_tokens[i].bytes);
}

static void test_route_admin__accepts_each_configured_token(void **state)
{
    static const char *const toks[] = { TOKEN_A, TOKEN_B };
    struct config cfg;

    (void)state;
    cfg_tokens(&cfg, toks, 2);
    assert_true(route_admin_token_ok(&cfg, "Bearer " TOKEN_A));
    assert_true(route_admin_token_ok(&cfg, "Bearer " TOKEN_B));
    assert_true(route_admin_token_ok(&cfg, "bearer " TOKEN_B));
    cfg_tokens_free(&cfg);
}

static void test_route_admin__refuses_other_tokens_and_schemes(void **state)
{
    static const char *const toks[] = { TOKEN_A };
    struct config cfg;

    (void)state;
    cfg_tokens(&cfg, toks, 1);
    assert_false(route_admin_token_ok(&cfg, NULL));
    assert_false(route_admin_token_ok(&cfg, ""));
    assert_false(route_admin_token_ok(&cfg, "Bearer "));
    assert_false(route_admin_token_ok(&cfg, TOKEN_A));
    assert_false(route_admin_token_ok(&cfg, "Basic " TOKEN_A));
    assert_false(route_admin_token_ok(&cfg, "Bearer " TOKEN_B));
    /* A prefix, or the token with more after it, is another token. */
    assert_false(route_admin_token_ok(&cfg, "Bearer token-a-0123"));
    assert_false(route_admin_token_ok(&cfg, "Bearer " TOKEN_A "x"));
    cfg_tokens_free(&cfg);
}

static void test_route_admin__no_configured_token_accepts_nothing(void **state)
{
    struct config cfg;

    (void)state;
    cfg_tokens(&cfg, NULL, 0);
    assert_false(route_admin_token_ok(&cfg, "Bearer " TOKEN_A));
    assert_false(route_admin_token_ok(&cfg, "Bearer "));
}

/* ---- ids ---- */

static void test_route_admin__parses_positive_ids_only(void **state)
{
    static const char *const bad[] = { NULL, "", "0", "-1", "+1", "1.5",
                                       "1e3", " 1", "1 ", "abc",
                                       "9223372036854775808",
                                       "99999999999999999999" };
    int64_t v = 42;

    (void)state;
    assert_true(route_admin_parse_id("5012001", &v));
    assert_int_equal(v, 5012001);
    assert_true(route_admin_parse_id("9223372036854775807", &v));
    assert_int_equal(v, INT64_MAX);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 42;
        assert_false(route_admin_parse_id(bad[i], &v));
        assert_int_equal(v, 42);
    }
}

/* ---- the order object ---- */

static const char *const full_order[RA_F_COUNT] = {
    [RA_F_STATE] = "imported",
    [RA_F_REASON] = "",
    [RA_F_COMPANY] = "163",
    [RA_F_CHANNEL] = "Amazon",
    [RA_F_CHANNEL_ORDER] = "113-1",
    [RA_F_REFERENCE] = "SC-163-5012001",
    [RA_F_DDI_NO] = "SO123456",
    [RA_F_UPDATED] = "1733072640123",
    [RA_F_TRACKING] =
        "[{\"number\":\"1Z1\",\"carrier\":\"UPS\",\"service\":\"Ground\","
        "\"shipment_id\":\"SH1\",\"pushed_at\":\"2024-12-01T17:04:00.123Z\"},"
        "{\"number\":\"1Z2\",\"carrier\":\"UPS\",\"service\":\"Ground\","
        "\"shipment_id\":\"SH2\",\"pushed_at\":1733072640123},"
        "{\"number\":\"1Z3\",\"carrier\":\"UPS\",\"service\":\"Ground\","
        "\"shipment_id\":\"SH3\",\"pushed_at\":null}]",
};

static const char full_json[] =
    "{\"sc_order_id\":5012001,\"company_id\":163,\"channel\":\"Amazon\","
    "\"channel_order_id\":\"113-1\",\"reference\":\"SC-163-5012001\","
    "\"state\":\"imported\",\"reason\":null,\"ddi_order_no\":\"SO123456\","
    "\"tracking\":[{\"number\":\"1Z1\",\"carrier\":\"UPS\","
    "\"service\":\"Ground\",\"shipment_id\":\"SH1\","
    "\"pushed_at\":\"2024-12-01T17:04:00.123Z\"},{\"number\":\"1Z2\","
    "\"carrier\":\"UPS\",\"service\":\"Ground\",\"shipment_id\":\"SH2\","
    "\"pushed_at\":\"2024-12-01T17:04:00.123Z\"},{\"number\":\"1Z3\","
    "\"carrier\":\"UPS\",\"service\":\"Ground\",\"shipment_id\":\"SH3\","
    "\"pushed_at\":null}],\"updated_at\":\"2024-12-01T17:04:00.123Z\"";

static void test_route_admin__order_json_has_the_contract_shape(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 1 << 20);
    assert_int_equal(route_admin_order_json(&b, 5012001, full_order), SCB_OK);
    assert_string_equal(b.data, full_json);
    buf_release(&b);
}

static void test_route_admin__order_json_shows_absent_fields_as_null(
    void **state)
{
    const char *v[RA_F_COUNT] = { [RA_F_STATE] = "needs_attention",
                                  [RA_F_REASON] = "UNKNOWN_PRODUCT: \"X\"",
                                  [RA_F_TRACKING] = "{not json" };
    struct buf b;

    (void)state;
    buf_init(&b, 1 << 20);
    assert_int_equal(route_admin_order_json(&b, 7, v), SCB_OK);
    assert_string_equal(b.data,
                        "{\"sc_order_id\":7,\"company_id\":null,"
                        "\"channel\":null,\"channel_order_id\":null,"
                        "\"reference\":null,\"state\":\"needs_attention\","
                        "\"reason\":\"UNKNOWN_PRODUCT: \\\"X\\\"\","
                        "\"ddi_order_no\":null,\"tracking\":[],"
                        "\"updated_at\":null");
    buf_release(&b);
}

static void test_route_admin__order_json_survives_allocation_failures(
    void **state)
{
    struct buf b;
    enum scb_err err = SCB_ENOMEM;
    long n;

    (void)state;
    for (n = 0; n < 1000; n++) {
        buf_init(&b, 1 << 20);
        mem_fail_after(n);
        err = route_admin_order_json(&b, 5012001, full_order);
        mem_fail_after(-1);
        assert_true(err == SCB_OK || err == SCB_ENOMEM);
        /* cJSON's own failures read as unparsable: keep sweeping. */
        if (err == SCB_OK && strcmp(b.data, full_json) == 0) {
            buf_release(&b);
            break;
        }
        buf_release(&b);
    }
    assert_int_equal(err, SCB_OK);
    assert_true(n > 2);
}

/* ---- dead letters ---- */

static void test_route_admin__dead_letter_names_its_order(void **state)
{
    int64_t company = -1, order = -1;

    (void)state;
    assert_true(route_admin_dead_order(
        "order:5012001",
        "{\"v\":1,\"company_id\":163,\"order_id\":5012001}", &company,
        &order));
    assert_int_equal(company, 163);
    assert_int_equal(order, 5012001);
    assert_true(route_admin_dead_order(
        "shipment:SH1", "{\"v\":1,\"shipment\":{\"reference\":\"SC-164-77\"}}",
        &company, &order));
    assert_int_equal(company, 164);
    assert_int_equal(order, 77);
    assert_true(route_admin_dead_order("order:12", "not json", &company,
                                       &order));
    assert_int_equal(company, 0);
    assert_int_equal(order, 12);
}

static void test_route_admin__dead_letter_without_order_names_none(
    void **state)
{
    int64_t company = -1, order = -1;

    (void)state;
    assert_false(route_admin_dead_order("item:ABC", "{\"v\":1}", &company,
                                        &order));
    assert_false(route_admin_dead_order(
        "shipment:SH9", "{\"shipment\":{\"reference\":\"PO-1234\"}}",
        &company, &order));
    assert_false(route_admin_dead_order(
        "shipment:SH9", "{\"shipment\":{\"reference\":\"SC-1-2-3\"}}",
        &company, &order));
    assert_false(route_admin_dead_order("order:x", "", &company, &order));
    assert_int_equal(company, -1);
    assert_int_equal(order, -1);
}

/* ---- the overdue count, against the suite's Redis ---- */

#define fixture check_redis

static int redis_setup(void **state)
{
    struct check_redis *f = check_redis_new("t-ra:");

    if (!f)
        return -1;
    f->cfg.awaiting_payment_max_age_s = 48 * 3600;
    *state = f;
    return 0;
}

static int redis_teardown(void **state)
{
    check_redis_free(*state);
    return 0;
}

static void seed(struct fixture *f, int64_t id, const char *state,
                 const char *reason, int64_t score)
{
    redisReply *r = NULL;

    assert_int_equal(store_cmd(f->st, &r, "HSET t-ra:v1:order:%lld state %s "
                               "reason %s", (long long)id, state, reason),
                     SCB_OK);
    freeReplyObject(r);
    assert_int_equal(store_cmd(f->st, &r,
                               "ZADD t-ra:v1:orders:state:%s %lld %lld",
                               state, (long long)score, (long long)id),
                     SCB_OK);
    freeReplyObject(r);
}

static void touch(struct fixture *f, int64_t id, const char *field,
                  int64_t value)
{
    redisReply *r = NULL;

    assert_int_equal(store_cmd(f->st, &r, "HSET t-ra:v1:order:%lld %s %lld",
                               (long long)id, field, (long long)value),
                     SCB_OK);
    freeReplyObject(r);
}

static void test_route_admin__overdue_counts_old_waits_and_timeouts(
    void **state)
{
    struct fixture *f = *state;
    int64_t now = orderstate_now_ms(), n = -1;
    int64_t hour = 3600 * 1000;

    assert_int_equal(route_admin_overdue_count(f->st, &f->cfg, now, &n),
                     SCB_OK);
    assert_int_equal(n, 0);
    seed(f, 1, "awaiting_payment", "", now - 49 * hour);
    seed(f, 2, "awaiting_payment", "", now - 48 * hour);
    seed(f, 3, "awaiting_payment", "", now - 47 * hour);
    /* Seen an hour ago, placed three days ago: overdue. */
    seed(f, 7, "awaiting_payment", "", now - hour);
    touch(f, 7, "time_of_order", now - 72 * hour);
    seed(f, 8, "awaiting_payment", "", now - hour);
    touch(f, 8, "time_of_order", now - 24 * hour);
    seed(f, 4, "needs_attention", "PAYMENT_TIMEOUT: not Charged", now);
    seed(f, 5, "needs_attention", "UNKNOWN_PRODUCT: X", now);
    seed(f, 6, "needs_attention", "TOTAL_MISMATCH: PAYMENT_TIMEOUT:", now);
    assert_int_equal(route_admin_overdue_count(f->st, &f->cfg, now, &n),
                     SCB_OK);
    assert_int_equal(n, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_admin__accepts_each_configured_token),
        cmocka_unit_test(test_route_admin__refuses_other_tokens_and_schemes),
        cmocka_unit_test(
            test_route_admin__no_configured_token_accepts_nothing),
        cmocka_unit_test(test_route_admin__parses_positive_ids_only),
        cmocka_unit_test(test_route_admin__order_json_has_the_contract_shape),
        cmocka_unit_test(
            test_route_admin__order_json_shows_absent_fields_as_null),
        cmocka_unit_test(
            test_route_admin__order_json_survives_allocation_failures),
        cmocka_unit_test(test_route_admin__dead_letter_names_its_order),
        cmocka_unit_test(
            test_route_admin__dead_letter_without_order_names_none),
        cmocka_unit_test_setup_teardown(
            test_route_admin__overdue_counts_old_waits_and_timeouts,
            redis_setup, redis_teardown),
    };

    mem_install_hooks();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
