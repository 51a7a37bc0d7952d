/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the HTTP server's set-up API: route patterns, the error
 * to status mapping and allocation failures. Serving is covered by the
 * end-to-end tests (tests/e2e/test_foundation.py), which need sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "httpd.h"
#include "mem.h"
#include "metrics.h"

static void handler(struct httpd_req *req, struct httpd_resp *resp, void *ctx)
{
    (void)req;
    (void)ctx;
    httpd_resp_json(resp, 200, "{}");
}

static struct httpd *server(void)
{
    struct httpd_config cfg = { .host = "127.0.0.1",
                                .port = 0,
                                .max_body = 1024 };
    struct httpd *h = httpd_new(&cfg);

    assert_non_null(h);
    return h;
}

static int reset(void **state)
{
    (void)state;
    mem_fail_after(-1);
    metrics_reset();
    return 0;
}

static void test_httpd__accepts_valid_patterns(void **state)
{
    static const char *const ok[] = {
        "/livez",
        "/admin/",
        "/admin/api/orders/{sc_order_id}",
        "/admin/api/dead-letters/{id}/retry",
        "/a/{b}/{c}/{d}/{e}",
        "/admin/static/\xe2\x80\xa6",
    };
    struct httpd *h = server();

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_int_equal(
            httpd_route(h, HTTPD_ZONE_ADMIN, "GET", ok[i], handler, NULL),
            SCB_OK);
    httpd_free(h);
}

static void test_httpd__rejects_malformed_patterns(void **state)
{
    static const char *const bad[] = {
        "",
        "livez",
        "/a/{",
        "/a/{}",
        "/a/{x}y",
        "/a/x{y}",
        "/a/{x{y}}",
        "/a}b",
        "/a/{b}/{c}/{d}/{e}/{f}",
        "/a/\xe2\x80\xa6/b",
        "/a/{x}/\xe2\x80\xa6",
        "\xe2\x80\xa6",
    };
    struct httpd *h = server();

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum scb_err err = httpd_route(h, HTTPD_ZONE_ADMIN, "GET", bad[i],
                                       handler, NULL);

        if (err != SCB_EINVAL)
            print_error("pattern accepted: \"%s\"\n", bad[i]);
        assert_int_equal(err, SCB_EINVAL);
    }
    httpd_free(h);
}

static void test_httpd__rejects_missing_route_parts(void **state)
{
    struct httpd *h = server();

    (void)state;
    assert_int_equal(
        httpd_route(h, HTTPD_ZONE_ADMIN, NULL, "/x", handler, NULL),
        SCB_EINVAL);
    assert_int_equal(httpd_route(h, HTTPD_ZONE_ADMIN, "", "/x", handler, NULL),
                     SCB_EINVAL);
    assert_int_equal(httpd_route(h, HTTPD_ZONE_ADMIN, "GET", "/x", NULL, NULL),
                     SCB_EINVAL);
    assert_int_equal(
        httpd_route(h, (enum httpd_zone)7, "GET", "/x", handler, NULL),
        SCB_EINVAL);
    httpd_free(h);
}

static void test_httpd__maps_errors_to_statuses(void **state)
{
    (void)state;
    assert_int_equal(httpd_status_for(SCB_EINVAL), 400);
    assert_int_equal(httpd_status_for(SCB_EPARSE), 400);
    assert_int_equal(httpd_status_for(SCB_EAUTH), 401);
    assert_int_equal(httpd_status_for(SCB_ENOTFOUND), 404);
    assert_int_equal(httpd_status_for(SCB_ETOOBIG), 413);
    assert_int_equal(httpd_status_for(SCB_ESTORE), 503);
    assert_int_equal(httpd_status_for(SCB_ESTORECMD), 503);
    assert_int_equal(httpd_status_for(SCB_ETIMEOUT), 503);
    assert_int_equal(httpd_status_for(SCB_ENOMEM), 500);
    assert_int_equal(httpd_status_for(SCB_EUPSTREAM), 500);
}

static void test_httpd__new_declares_http_metric_families(void **state)
{
    struct httpd *h = server();
    struct buf b;

    (void)state;
    buf_init(&b, 1 << 16);
    assert_int_equal(metrics_render(&b), SCB_OK);
    assert_non_null(b.data);
    assert_non_null(
        strstr(b.data, "# TYPE scbridge_http_requests_total counter\n"));
    assert_non_null(strstr(
        b.data, "# TYPE scbridge_http_request_duration_seconds histogram\n"));
    buf_release(&b);
    httpd_free(h);
}

static void test_httpd__free_null_is_noop(void **state)
{
    (void)state;
    httpd_free(NULL);
}

/* Fails the Nth allocation for each N: no crash, no leak. */
static void test_httpd__survives_allocation_failures(void **state)
{
    struct httpd_config cfg = { .host = "127.0.0.1", .max_body = 64 };

    (void)state;
    for (long n = 0; n < 60; n++) {
        struct httpd *h;

        mem_fail_after(n);
        h = httpd_new(&cfg);
        for (int i = 0; h && i < 20; i++)
            (void)httpd_route(h, HTTPD_ZONE_PUBLIC, "POST", "/webhooks/{x}",
                              handler, NULL);
        mem_fail_after(-1);
        httpd_free(h);
        metrics_reset();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_httpd__accepts_valid_patterns,
                                        reset, reset),
        cmocka_unit_test_setup_teardown(test_httpd__rejects_malformed_patterns,
                                        reset, reset),
        cmocka_unit_test_setup_teardown(test_httpd__rejects_missing_route_parts,
                                        reset, reset),
        cmocka_unit_test_setup_teardown(test_httpd__maps_errors_to_statuses,
                                        reset, reset),
        cmocka_unit_test_setup_teardown(
            test_httpd__new_declares_http_metric_families, reset, reset),
        cmocka_unit_test_setup_teardown(test_httpd__free_null_is_noop, reset,
                                        reset),
        cmocka_unit_test_setup_teardown(
            test_httpd__survives_allocation_failures, reset, reset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
