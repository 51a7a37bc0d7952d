/* SPDX-License-Identifier: MIT */
/* Unit tests of the metrics registry and its Prometheus text output. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "mem.h"
#include "metrics.h"

static char *render(void)
{
    struct buf b;
    enum scb_err err;

    buf_init(&b, 1 << 20);
    err = metrics_render(&b);
    assert_int_equal(err, SCB_OK);
    return buf_steal(&b);
}

/* Fails unless 'text' holds 'line' as one whole line. */
static void expect_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; p && *p; p = strchr(p, '\n')) {
        if (*p == '\n')
            p++;
        if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
            return;
    }
    print_error("line not found: %s\nin:\n%s\n", line, text);
    fail();
}

static void expect_no_text(const char *text, const char *part)
{
    if (strstr(text, part)) {
        print_error("unexpected: %s\nin:\n%s\n", part, text);
        fail();
    }
}

static int reset(void **state)
{
    (void)state;
    metrics_reset();
    mem_fail_after(-1);
    return 0;
}

static void test_metrics__renders_help_type_and_samples(void **state)
{
    char *t;

    (void)state;
    metrics_describe("scbridge_things_total", METRICS_COUNTER, "Things done.");
    metrics_inc("scbridge_things_total", "kind=\"a\"", 1);
    metrics_inc("scbridge_things_total", "kind=\"a\"", 2);
    metrics_inc("scbridge_things_total", "", 5);
    t = render();
    expect_line(t, "# HELP scbridge_things_total Things done.");
    expect_line(t, "# TYPE scbridge_things_total counter");
    expect_line(t, "scbridge_things_total{kind=\"a\"} 3");
    expect_line(t, "scbridge_things_total 5");
    mem_free(t);
}

static void test_metrics__families_and_samples_sorted(void **state)
{
    char *t, *a, *b, *c, *d;

    (void)state;
    metrics_describe("scbridge_zeta", METRICS_GAUGE, "z");
    metrics_describe("scbridge_alpha", METRICS_GAUGE, "a");
    metrics_set("scbridge_zeta", "", 1);
    metrics_set("scbridge_alpha", "k=\"y\"", 1);
    metrics_set("scbridge_alpha", "k=\"x\"", 1);
    t = render();
    a = strstr(t, "# HELP scbridge_alpha");
    b = strstr(t, "# HELP scbridge_zeta");
    c = strstr(t, "scbridge_alpha{k=\"x\"}");
    d = strstr(t, "scbridge_alpha{k=\"y\"}");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_non_null(d);
    assert_true(a < b);
    assert_true(c < d);
    mem_free(t);
}

static void test_metrics__gauge_set_and_decrement(void **state)
{
    char *t;

    (void)state;
    metrics_describe("scbridge_depth", METRICS_GAUGE, "Depth.");
    metrics_set("scbridge_depth", "q=\"ready\"", 7);
    metrics_inc("scbridge_depth", "q=\"ready\"", -2);
    metrics_set("scbridge_depth", "q=\"dead\"", 0.25);
    t = render();
    expect_line(t, "# TYPE scbridge_depth gauge");
    expect_line(t, "scbridge_depth{q=\"ready\"} 5");
    expect_line(t, "scbridge_depth{q=\"dead\"} 0.25");
    mem_free(t);
}

static void test_metrics__counter_never_decreases(void **state)
{
    char *t;

    (void)state;
    metrics_describe("scbridge_c_total", METRICS_COUNTER, "c");
    metrics_inc("scbridge_c_total", "", 4);
    metrics_inc("scbridge_c_total", "", -3);
    t = render();
    expect_line(t, "scbridge_c_total 4");
    mem_free(t);
}

static void test_metrics__undeclared_family_is_dropped(void **state)
{
    char *t;

    (void)state;
    metrics_inc("scbridge_nobody_total", "", 1);
    metrics_set("scbridge_nobody", "", 1);
    metrics_observe("scbridge_nobody_seconds", "", 1);
    t = render();
    assert_string_equal(t, "");
    mem_free(t);
}

static void test_metrics__wrong_type_call_is_dropped(void **state)
{
    char *t;

    (void)state;
    metrics_describe("scbridge_h_seconds", METRICS_HISTOGRAM, "h");
    metrics_describe("scbridge_g", METRICS_GAUGE, "g");
    metrics_inc("scbridge_h_seconds", "", 1);
    metrics_observe("scbridge_g", "", 1);
    t = render();
    expect_no_text(t, "scbridge_h_seconds_count");
    expect_no_text(t, "\nscbridge_g ");
    mem_free(t);
}

static void test_metrics__describe_twice_keeps_first(void **state)
{
    char *t;

    (void)state;
    metrics_describe("scbridge_x", METRICS_GAUGE, "first");
    metrics_set("scbridge_x", "", 3);
    metrics_describe("scbridge_x", METRICS_COUNTER, "second");
    t = render();
    expect_line(t, "# HELP scbridge_x first");
    expect_line(t, "# TYPE scbridge_x gauge");
    expect_line(t, "scbridge_x 3");
    expect_no_text(t, "second");
    mem_free(t);
}

static void test_metrics__rejects_invalid_names(void **state)
{
    char *t;

    (void)state;
    metrics_describe("9starts_with_digit", METRICS_GAUGE, "x");
    metrics_describe("has space", METRICS_GAUGE, "x");
    metrics_describe("", METRICS_GAUGE, "x");
    metrics_describe(NULL, METRICS_GAUGE, "x");
    t = render();
    assert_string_equal(t, "");
    mem_free(t);
}

static void test_metrics__help_text_escaped(void **state)
{
    char *t;

    (void)state;
    metrics_describe("scbridge_e", METRICS_GAUGE, "a\\b\nc");
    t = render();
    expect_line(t, "# HELP scbridge_e a\\\\b\\nc");
    mem_free(t);
}

static void test_metrics__label_value_escapes_quote_backslash_newline(
    void **state)
{
    char out[64];

    (void)state;
    metrics_label_value("a\"b\\c\nd", out, sizeof(out));
    assert_string_equal(out, "a\\\"b\\\\c\\nd");
}

static void test_metrics__label_value_replaces_controls_and_bad_utf8(
    void **state)
{
    char out[64];

    (void)state;
    metrics_label_value("a\tb\x01"
                        "c\xff"
                        "d\xc3",
                        out, sizeof(out));
    assert_string_equal(out, "a?b?c?d?");
    metrics_label_value("caf\xc3\xa9/\xe2\x80\xa6", out, sizeof(out));
    assert_string_equal(out, "caf\xc3\xa9/\xe2\x80\xa6");
}

static void test_metrics__label_value_truncates_whole_characters(void **state)
{
    char out[5];

    (void)state;
    metrics_label_value("abc\"d", out, sizeof(out));
    assert_string_equal(out, "abc");
    metrics_label_value("ab\xe2\x80\xa6z", out, sizeof(out));
    assert_string_equal(out, "ab");
    metrics_label_value("abcd", out, 1);
    assert_string_equal(out, "");
    metrics_label_value(NULL, out, sizeof(out));
    assert_string_equal(out, "");
}

static void test_metrics__histogram_buckets_are_cumulative(void **state)
{
    static const double obs[] = { 0.003, 0.005, 0.2, 0.7, 3, 20 };
    char *t;

    (void)state;
    metrics_describe("scbridge_d_seconds", METRICS_HISTOGRAM, "d");
    for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
        metrics_observe("scbridge_d_seconds", "r=\"/x\"", obs[i]);
    t = render();
    expect_line(t, "# TYPE scbridge_d_seconds histogram");
    expect_line(t, "scbridge_d_seconds_bucket{r=\"/x\",le=\"0.005\"} 2");
    expect_line(t, "scbridge_d_seconds_bucket{r=\"/x\",le=\"0.01\"} 2");
    expect_line(t, "scbridge_d_seconds_bucket{r=\"/x\",le=\"0.1\"} 2");
    expect_line(t, "scbridge_d_seconds_bucket{r=\"/x\",le=\"0.25\"} 3");
    expect_line(t, "scbridge_d_seconds_bucket{r=\"/x\",le=\"1\"} 4");
    expect_line(t, "scbridge_d_seconds_bucket{r=\"/x\",le=\"2.5\"} 4");
    expect_line(t, "scbridge_d_seconds_bucket{r=\"/x\",le=\"5\"} 5");
    expect_line(t, "scbridge_d_seconds_bucket{r=\"/x\",le=\"10\"} 5");
    expect_line(t, "scbridge_d_seconds_bucket{r=\"/x\",le=\"+Inf\"} 6");
    expect_line(t, "scbridge_d_seconds_sum{r=\"/x\"} 23.908");
    expect_line(t, "scbridge_d_seconds_count{r=\"/x\"} 6");
    mem_free(t);
}

static void test_metrics__histogram_without_labels(void **state)
{
    char *t;

    (void)state;
    metrics_describe("scbridge_age_seconds", METRICS_HISTOGRAM, "a");
    metrics_observe("scbridge_age_seconds", "", 0.05);
    t = render();
    expect_line(t, "scbridge_age_seconds_bucket{le=\"0.05\"} 1");
    expect_line(t, "scbridge_age_seconds_sum 0.05");
    expect_line(t, "scbridge_age_seconds_count 1");
    mem_free(t);
}

static void test_metrics__special_values_formatted(void **state)
{
    char *t;

    (void)state;
    metrics_describe("scbridge_v", METRICS_GAUGE, "v");
    metrics_set("scbridge_v", "k=\"big\"", 1e20);
    metrics_set("scbridge_v", "k=\"inf\"", 1.0 / 0.0);
    metrics_set("scbridge_v", "k=\"neg\"", -1.5);
    metrics_set("scbridge_v", "k=\"tenth\"", 0.1);
    t = render();
    expect_line(t, "scbridge_v{k=\"big\"} 1e+20");
    expect_line(t, "scbridge_v{k=\"inf\"} +Inf");
    expect_line(t, "scbridge_v{k=\"neg\"} -1.5");
    expect_line(t, "scbridge_v{k=\"tenth\"} 0.1");
    mem_free(t);
}

static void collect_depth(void *ctx)
{
    int *calls = ctx;

    (*calls)++;
    metrics_set("scbridge_queue_depth", "queue=\"ready\"", *calls * 10);
}

static void test_metrics__collectors_run_at_each_render(void **state)
{
    int calls = 0;
    char *t;

    (void)state;
    metrics_describe("scbridge_queue_depth", METRICS_GAUGE, "q");
    metrics_add_collector(collect_depth, &calls);
    t = render();
    expect_line(t, "scbridge_queue_depth{queue=\"ready\"} 10");
    mem_free(t);
    t = render();
    expect_line(t, "scbridge_queue_depth{queue=\"ready\"} 20");
    mem_free(t);
    assert_int_equal(calls, 2);
}

static void test_metrics__reset_drops_collectors(void **state)
{
    int calls = 0;
    char *t;

    (void)state;
    metrics_add_collector(collect_depth, &calls);
    metrics_reset();
    t = render();
    mem_free(t);
    assert_int_equal(calls, 0);
}

static void test_metrics__render_fails_when_output_full(void **state)
{
    struct buf b;

    (void)state;
    metrics_describe("scbridge_long_name_for_a_gauge", METRICS_GAUGE,
                     "some help text");
    buf_init(&b, 16);
    assert_int_equal(metrics_render(&b), SCB_ETOOBIG);
    buf_release(&b);
}

struct inc_arg {
    int n;
};

static void *inc_thread(void *p)
{
    const struct inc_arg *a = p;

    for (int i = 0; i < a->n; i++)
        metrics_inc("scbridge_par_total", "t=\"x\"", 1);
    return NULL;
}

static void test_metrics__concurrent_increments_all_counted(void **state)
{
    struct inc_arg a = { 20000 };
    pthread_t th[4];
    char *t;

    (void)state;
    metrics_describe("scbridge_par_total", METRICS_COUNTER, "p");
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, inc_thread, &a), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    t = render();
    expect_line(t, "scbridge_par_total{t=\"x\"} 80000");
    mem_free(t);
}

/* Fails the Nth allocation for each N: nothing may crash or leak. */
static void test_metrics__survives_allocation_failures(void **state)
{
    (void)state;
    for (long n = 0; n < 40; n++) {
        struct buf b;

        metrics_reset();
        mem_fail_after(n);
        metrics_describe("scbridge_a_total", METRICS_COUNTER, "a");
        metrics_describe("scbridge_b_seconds", METRICS_HISTOGRAM, "b");
        metrics_inc("scbridge_a_total", "k=\"1\"", 1);
        metrics_inc("scbridge_a_total", "k=\"2\"", 1);
        metrics_observe("scbridge_b_seconds", "", 0.5);
        buf_init(&b, 1 << 16);
        (void)metrics_render(&b); /* may fail with ENOMEM: no crash */
        mem_fail_after(-1);
        buf_release(&b);
    }
    metrics_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_metrics__renders_help_type_and_samples, reset, reset),
        cmocka_unit_test_setup_teardown(
            test_metrics__families_and_samples_sorted, reset, reset),
        cmocka_unit_test_setup_teardown(test_metrics__gauge_set_and_decrement,
                                        reset, reset),
        cmocka_unit_test_setup_teardown(test_metrics__counter_never_decreases,
                                        reset, reset),
        cmocka_unit_test_setup_teardown(
            test_metrics__undeclared_family_is_dropped, reset, reset),
        cmocka_unit_test_setup_teardown(
            test_metrics__wrong_type_call_is_dropped, reset, reset),
        cmocka_unit_test_setup_teardown(
            test_metrics__describe_twice_keeps_first, reset, reset),
        cmocka_unit_test_setup_teardown(test_metrics__rejects_invalid_names,
                                        reset, reset),
        cmocka_unit_test_setup_teardown(test_metrics__help_text_escaped, reset,
                                        reset),
        cmocka_unit_test_setup_teardown(
            test_metrics__label_value_escapes_quote_backslash_newline, reset,
            reset),
        cmocka_unit_test_setup_teardown(
            test_metrics__label_value_replaces_controls_and_bad_utf8, reset,
            reset),
        cmocka_unit_test_setup_teardown(
            test_metrics__label_value_truncates_whole_characters, reset, reset),
        cmocka_unit_test_setup_teardown(
            test_metrics__histogram_buckets_are_cumulative, reset, reset),
        cmocka_unit_test_setup_teardown(test_metrics__histogram_without_labels,
                                        reset, reset),
        cmocka_unit_test_setup_teardown(test_metrics__special_values_formatted,
                                        reset, reset),
        cmocka_unit_test_setup_teardown(
            test_metrics__collectors_run_at_each_render, reset, reset),
        cmocka_unit_test_setup_teardown(test_metrics__reset_drops_collectors,
                                        reset, reset),
        cmocka_unit_test_setup_teardown(
            test_metrics__render_fails_when_output_full, reset, reset),
        cmocka_unit_test_setup_teardown(
            test_metrics__concurrent_increments_all_counted, reset, reset),
        cmocka_unit_test_setup_teardown(
            test_metrics__survives_allocation_failures, reset, reset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
