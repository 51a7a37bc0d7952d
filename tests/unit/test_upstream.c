/* SPDX-License-Identifier: MIT */
/* Unit tests of the upstream layer's pure parts: classes, logs, headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "upstream.h"

/* Shorthand for upstream_classify(). */
static enum scb_err classify(enum upstream_method m, enum upstream_fail f,
                             bool sent, long status, int64_t ra,
                             int64_t *wait)
{
    return upstream_classify(m, f, sent, status, ra, wait);
}

static void test_upstream__success_is_ok(void **state)
{
    int64_t wait = -7;

    (void)state;
    assert_int_equal(classify(UPSTREAM_GET, UPSTREAM_FAIL_NONE, true, 200,
                              -1, &wait),
                     SCB_OK);
    assert_int_equal(classify(UPSTREAM_POST, UPSTREAM_FAIL_NONE, true, 201,
                              -1, &wait),
                     SCB_OK);
    assert_int_equal(classify(UPSTREAM_PUT, UPSTREAM_FAIL_NONE, true, 204,
                              -1, &wait),
                     SCB_OK);
    assert_int_equal(wait, -7);
    assert_int_equal(upstream_class_of(SCB_OK), UPSTREAM_CLASS_OK);
}

static void test_upstream__429_waits_for_retry_after_or_default(void **state)
{
    int64_t wait = 0;

    (void)state;
    assert_int_equal(classify(UPSTREAM_GET, UPSTREAM_FAIL_NONE, true, 429,
                              7, &wait),
                     SCB_EWAIT);
    assert_int_equal(wait, 7000);
    assert_int_equal(classify(UPSTREAM_POST, UPSTREAM_FAIL_NONE, true, 429,
                              -1, &wait),
                     SCB_EWAIT);
    assert_int_equal(wait, UPSTREAM_DEFAULT_WAIT_S * 1000);
    assert_int_equal(upstream_class_of(SCB_EWAIT), UPSTREAM_CLASS_WAIT);
}

static void test_upstream__503_waits_only_with_retry_after(void **state)
{
    int64_t wait = 0;

    (void)state;
    assert_int_equal(classify(UPSTREAM_GET, UPSTREAM_FAIL_NONE, true, 503,
                              2, &wait),
                     SCB_EWAIT);
    assert_int_equal(wait, 2000);
    assert_int_equal(classify(UPSTREAM_POST, UPSTREAM_FAIL_NONE, true, 503,
                              0, &wait),
                     SCB_EWAIT);
    assert_int_equal(wait, 1000);
    assert_int_equal(classify(UPSTREAM_GET, UPSTREAM_FAIL_NONE, true, 503,
                              -1, &wait),
                     SCB_EUPSTREAM);
}

static void test_upstream__5xx_of_a_read_is_transient(void **state)
{
    int64_t wait = 0;

    (void)state;
    assert_int_equal(classify(UPSTREAM_GET, UPSTREAM_FAIL_NONE, true, 500,
                              -1, &wait),
                     SCB_EUPSTREAM);
    assert_int_equal(classify(UPSTREAM_GET, UPSTREAM_FAIL_NONE, true, 502,
                              -1, &wait),
                     SCB_EUPSTREAM);
    assert_int_equal(upstream_class_of(SCB_EUPSTREAM),
                     UPSTREAM_CLASS_TRANSIENT);
}

static void test_upstream__5xx_of_a_write_is_outcome_unknown(void **state)
{
    int64_t wait = 0;

    (void)state;
    assert_int_equal(classify(UPSTREAM_POST, UPSTREAM_FAIL_NONE, true, 500,
                              -1, &wait),
                     SCB_EUNKNOWN);
    assert_int_equal(classify(UPSTREAM_PUT, UPSTREAM_FAIL_NONE, true, 504,
                              -1, &wait),
                     SCB_EUNKNOWN);
    assert_int_equal(classify(UPSTREAM_POST, UPSTREAM_FAIL_NONE, true, 503,
                              -1, &wait),
                     SCB_EUNKNOWN);
    assert_int_equal(upstream_class_of(SCB_EUNKNOWN),
                     UPSTREAM_CLASS_UNKNOWN);
}

static void test_upstream__timeout_of_a_sent_write_is_unknown(void **state)
{
    int64_t wait = 0;

    (void)state;
    assert_int_equal(classify(UPSTREAM_POST, UPSTREAM_FAIL_TIMEOUT, true, 0,
                              -1, &wait),
                     SCB_EUNKNOWN);
    assert_int_equal(classify(UPSTREAM_PUT, UPSTREAM_FAIL_CONN, true, 0, -1,
                              &wait),
                     SCB_EUNKNOWN);
}

static void test_upstream__unsent_write_and_reads_are_transient(
    void **state)
{
    int64_t wait = 0;

    (void)state;
    assert_int_equal(classify(UPSTREAM_POST, UPSTREAM_FAIL_CONN, false, 0,
                              -1, &wait),
                     SCB_EUPSTREAM);
    assert_int_equal(classify(UPSTREAM_POST, UPSTREAM_FAIL_TIMEOUT, false,
                              0, -1, &wait),
                     SCB_ETIMEOUT);
    assert_int_equal(classify(UPSTREAM_GET, UPSTREAM_FAIL_TIMEOUT, true, 0,
                              -1, &wait),
                     SCB_ETIMEOUT);
    assert_int_equal(classify(UPSTREAM_GET, UPSTREAM_FAIL_CONN, true, 0, -1,
                              &wait),
                     SCB_EUPSTREAM);
    assert_int_equal(upstream_class_of(SCB_ETIMEOUT),
                     UPSTREAM_CLASS_TRANSIENT);
}

static void test_upstream__401_and_408_are_transient(void **state)
{
    int64_t wait = 0;

    (void)state;
    assert_int_equal(classify(UPSTREAM_GET, UPSTREAM_FAIL_NONE, true, 401,
                              -1, &wait),
                     SCB_EUPSTREAM);
    assert_int_equal(classify(UPSTREAM_POST, UPSTREAM_FAIL_NONE, true, 408,
                              -1, &wait),
                     SCB_EUPSTREAM);
}

static void test_upstream__other_4xx_are_permanent(void **state)
{
    static const long codes[] = { 400, 403, 404, 409, 410, 422 };
    int64_t wait = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        assert_int_equal(classify(UPSTREAM_POST, UPSTREAM_FAIL_NONE, true,
                                  codes[i], -1, &wait),
                         SCB_EPERMANENT);
    assert_int_equal(upstream_class_of(SCB_EPERMANENT),
                     UPSTREAM_CLASS_PERMANENT);
}

static void test_upstream__oversized_answer_is_permanent(void **state)
{
    int64_t wait = 0;

    (void)state;
    assert_int_equal(classify(UPSTREAM_GET, UPSTREAM_FAIL_TOOBIG, true, 200,
                              -1, &wait),
                     SCB_ETOOBIG);
    assert_int_equal(upstream_class_of(SCB_ETOOBIG),
                     UPSTREAM_CLASS_PERMANENT);
}

static void test_upstream__client_codes_have_classes(void **state)
{
    (void)state;
    assert_int_equal(upstream_class_of(SCB_EPARSE),
                     UPSTREAM_CLASS_TRANSIENT);
    assert_int_equal(upstream_class_of(SCB_ESTORE),
                     UPSTREAM_CLASS_TRANSIENT);
    assert_int_equal(upstream_class_of(SCB_EAUTH), UPSTREAM_CLASS_TRANSIENT);
    assert_int_equal(upstream_class_of(SCB_EINVAL),
                     UPSTREAM_CLASS_PERMANENT);
    assert_string_equal(upstream_class_name(UPSTREAM_CLASS_WAIT), "wait");
    assert_string_equal(upstream_class_name(UPSTREAM_CLASS_UNKNOWN),
                        "unknown");
}

static void test_upstream__retry_after_reads_seconds_and_dates(void **state)
{
    time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
    int64_t s = -1;

    (void)state;
    assert_int_equal(upstream_parse_retry_after("120", now, &s), SCB_OK);
    assert_int_equal(s, 120);
    assert_int_equal(
        upstream_parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now, &s),
        SCB_OK);
    assert_int_equal(s, 30);
    assert_int_equal(
        upstream_parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now, &s),
        SCB_OK);
    assert_int_equal(s, 0);
    assert_int_equal(upstream_parse_retry_after("99999999999999999999", now,
                                                &s),
                     SCB_OK);
    assert_int_equal(s, UPSTREAM_MAX_RETRY_AFTER_S);
}

static void test_upstream__retry_after_rejects_garbage(void **state)
{
    int64_t s = 42;

    (void)state;
    assert_int_equal(upstream_parse_retry_after("", 0, &s), SCB_EINVAL);
    assert_int_equal(upstream_parse_retry_after("-5", 0, &s), SCB_EINVAL);
    assert_int_equal(upstream_parse_retry_after("1.5", 0, &s), SCB_EINVAL);
    assert_int_equal(upstream_parse_retry_after("soon", 0, &s), SCB_EINVAL);
    assert_int_equal(s, 42);
}

static void test_upstream__log_url_drops_query_and_credentials(void **state)
{
    char out[UPSTREAM_URL_LOG_MAX];

    (void)state;
    upstream_url_for_log("https://tt.api.sellercloud.com/rest/api/Catalog"
                         "?model.sKU=SECRET%2F1&x=y#frag",
                         out, sizeof(out));
    assert_string_equal(out,
                        "https://tt.api.sellercloud.com/rest/api/Catalog");
    upstream_url_for_log("http://user:p%40ss?w#rd@host:8080/v1/items?k=v",
                         out, sizeof(out));
    assert_string_equal(out, "http://host:8080/v1/items");
    upstream_url_for_log("http://host", out, sizeof(out));
    assert_string_equal(out, "http://host");
    upstream_url_for_log("no scheme", out, sizeof(out));
    assert_string_equal(out, "(invalid url)");
    upstream_url_for_log("https://h/a/very/long/path", out, 12);
    assert_string_equal(out, "https://h/a");
}

static void test_upstream__excerpt_is_bounded_and_printable(void **state)
{
    char big[1000], out[UPSTREAM_EXCERPT_MAX + 1];
    const char odd[] = "{\"Message\":\n\t\"bad\x01 \xc3\xa9\"}";

    (void)state;
    memset(big, 'x', sizeof(big));
    upstream_excerpt(big, sizeof(big), out);
    assert_int_equal(strlen(out), UPSTREAM_EXCERPT_MAX);
    assert_string_equal(out + UPSTREAM_EXCERPT_MAX - 3, "...");
    upstream_excerpt(odd, sizeof(odd) - 1, out);
    assert_string_equal(out, "{\"Message\": \"bad? ??\"}");
    upstream_excerpt("", 0, out);
    assert_string_equal(out, "");
}

static void test_upstream__json_content_type_is_recognised(void **state)
{
    struct upstream_response r;

    (void)state;
    upstream_response_init(&r, 0);
    snprintf(r.content_type, sizeof(r.content_type), "application/json");
    assert_true(upstream_is_json(&r));
    snprintf(r.content_type, sizeof(r.content_type),
             "Application/JSON; charset=utf-8");
    assert_true(upstream_is_json(&r));
    snprintf(r.content_type, sizeof(r.content_type), "text/html");
    assert_false(upstream_is_json(&r));
    snprintf(r.content_type, sizeof(r.content_type), "application/jsonx");
    assert_false(upstream_is_json(&r));
    r.content_type[0] = '\0';
    assert_false(upstream_is_json(&r));
    upstream_response_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upstream__success_is_ok),
        cmocka_unit_test(test_upstream__429_waits_for_retry_after_or_default),
        cmocka_unit_test(test_upstream__503_waits_only_with_retry_after),
        cmocka_unit_test(test_upstream__5xx_of_a_read_is_transient),
        cmocka_unit_test(test_upstream__5xx_of_a_write_is_outcome_unknown),
        cmocka_unit_test(test_upstream__timeout_of_a_sent_write_is_unknown),
        cmocka_unit_test(
            test_upstream__unsent_write_and_reads_are_transient),
        cmocka_unit_test(test_upstream__401_and_408_are_transient),
        cmocka_unit_test(test_upstream__other_4xx_are_permanent),
        cmocka_unit_test(test_upstream__oversized_answer_is_permanent),
        cmocka_unit_test(test_upstream__client_codes_have_classes),
        cmocka_unit_test(test_upstream__retry_after_reads_seconds_and_dates),
        cmocka_unit_test(test_upstream__retry_after_rejects_garbage),
        cmocka_unit_test(
            test_upstream__log_url_drops_query_and_credentials),
        cmocka_unit_test(test_upstream__excerpt_is_bounded_and_printable),
        cmocka_unit_test(test_upstream__json_content_type_is_recognised),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
