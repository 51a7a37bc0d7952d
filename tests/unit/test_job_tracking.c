/* SPDX-License-Identifier: MIT */
/* Tests of the tracking list helpers of tracking.push (pure parts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "job_tracking.h"
#include "mem.h"
#include "order_map.h"

#define T0 1796126400000LL /* 2026-12-01T12:00:00Z */
#define AT "2026-12-01T12:05:00.000Z"

struct fixture {
    struct config cfg;
    struct config_map_row rows[1];
    struct job_tracking_list l;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    snprintf(f->rows[0].from_a, CONFIG_NAME_MAX, "UPS");
    snprintf(f->rows[0].from_b, CONFIG_NAME_MAX, "Ground");
    snprintf(f->rows[0].to_a, CONFIG_NAME_MAX, "UPS Inc");
    snprintf(f->rows[0].to_b, CONFIG_NAME_MAX, "UPS Ground");
    f->cfg.carrier_map.rows = f->rows;
    f->cfg.carrier_map.n = 1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    job_tracking_list_release(&f->l);
    free(f);
    return 0;
}

/* A valid shipment of the given numbers; strings are static. */
static struct ddi_shipment ship(const char *id, const char **nos, size_t n,
                                bool complete)
{
    struct ddi_shipment s;

    memset(&s, 0, sizeof(s));
    s.valid = true;
    s.shipment_id = id;
    s.order_no = "SO1";
    s.reference = "SC-163-7";
    s.confirmed_at = "2026-12-01T12:00:00Z";
    s.confirmed_at_ms = T0;
    s.carrier = "UPS";
    s.service = "Ground";
    s.tracking_nos = nos;
    s.n_packages = n;
    s.complete = complete;
    return s;
}

static void add(struct fixture *f, const struct ddi_shipment *s,
                bool want_added)
{
    bool added = !want_added;

    assert_int_equal(job_tracking_list_add(&f->l, &f->cfg, s, &added),
                     SCB_OK);
    assert_true(added == want_added);
}

static void to_json(const struct job_tracking_list *l, struct buf *tr,
                    struct buf *sh)
{
    buf_init(tr, 1 << 20);
    buf_init(sh, 1 << 20);
    assert_int_equal(job_tracking_list_json(l, tr, sh), SCB_OK);
}

static void test_job_tracking__empty_fields_make_an_empty_list(void **state)
{
    struct fixture *f = *state;
    struct buf tr, sh;

    assert_int_equal(job_tracking_list_parse(NULL, "", &f->l), SCB_OK);
    assert_int_equal(f->l.n, 0);
    assert_int_equal(f->l.n_ships, 0);
    to_json(&f->l, &tr, &sh);
    assert_string_equal(tr.data, "[]");
    assert_string_equal(sh.data, "[]");
    buf_release(&tr);
    buf_release(&sh);
}

static void test_job_tracking__add_records_a_shipment_once(void **state)
{
    struct fixture *f = *state;
    const char *a[] = { "1ZA", "1ZB" };
    struct ddi_shipment s = ship("SH1", a, 2, false);

    add(f, &s, true);
    add(f, &s, false);
    assert_int_equal(f->l.n, 2);
    assert_int_equal(f->l.n_ships, 1);
    assert_string_equal(f->l.e[1].number, "1ZB");
    assert_string_equal(f->l.e[1].shipment_id, "SH1");
    assert_string_equal(f->l.e[1].pushed_at, "");
    assert_non_null(job_tracking_list_find(&f->l, "SH1"));
    assert_null(job_tracking_list_find(&f->l, "SH2"));
    assert_false(job_tracking_list_complete(&f->l));
}

static void test_job_tracking__add_maps_the_carrier(void **state)
{
    struct fixture *f = *state;
    const char *a[] = { "1ZA" };
    struct ddi_shipment s = ship("SH1", a, 1, true);
    struct ddi_shipment t = ship("SH2", a, 1, false);

    t.carrier = "FedEx";
    t.service = NULL;
    add(f, &s, true);
    add(f, &t, true);
    assert_string_equal(f->l.e[0].carrier, "UPS Inc");
    assert_string_equal(f->l.e[0].service, "UPS Ground");
    assert_string_equal(f->l.e[1].carrier, "FedEx");
    assert_string_equal(f->l.e[1].service, "");
    assert_true(job_tracking_list_complete(&f->l));
}

static void test_job_tracking__json_is_the_admin_shape(void **state)
{
    struct fixture *f = *state;
    const char *a[] = { "1Z\"A" };
    const char *nos[] = { "1Z\"A" };
    struct ddi_shipment s = ship("SH1", a, 1, true);
    struct buf tr, sh;

    add(f, &s, true);
    job_tracking_list_mark(&f->l, nos, 1, AT);
    job_tracking_list_done(&f->l);
    to_json(&f->l, &tr, &sh);
    assert_string_equal(tr.data,
                        "[{\"number\":\"1Z\\\"A\",\"carrier\":\"UPS Inc\","
                        "\"service\":\"UPS Ground\",\"shipment_id\":\"SH1\","
                        "\"pushed_at\":\"" AT "\"}]");
    assert_string_equal(sh.data,
                        "[{\"id\":\"SH1\",\"complete\":true,\"done\":true}]");
    buf_release(&tr);
    buf_release(&sh);
}

static void test_job_tracking__parse_reads_what_json_writes(void **state)
{
    struct fixture *f = *state;
    const char *a[] = { "1ZA", "1ZB" };
    const char *b[] = { "1ZC" };
    const char *nos[] = { "1ZA" };
    struct ddi_shipment s = ship("SH1", a, 2, false);
    struct ddi_shipment t = ship("SH2", b, 1, true);
    struct job_tracking_list back;
    struct buf tr, sh, tr2, sh2;

    add(f, &s, true);
    add(f, &t, true);
    job_tracking_list_mark(&f->l, nos, 1, AT);
    to_json(&f->l, &tr, &sh);
    memset(&back, 0, sizeof(back));
    assert_int_equal(job_tracking_list_parse(tr.data, sh.data, &back),
                     SCB_OK);
    to_json(&back, &tr2, &sh2);
    assert_string_equal(tr.data, tr2.data);
    assert_string_equal(sh.data, sh2.data);
    assert_int_equal(job_tracking_list_pushed(&back), 1);
    assert_true(job_tracking_list_complete(&back));
    job_tracking_list_release(&back);
    buf_release(&tr);
    buf_release(&sh);
    buf_release(&tr2);
    buf_release(&sh2);
}

static void test_job_tracking__parse_rejects_other_shapes(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[] = {
        "{}",
        "[1]",
        "[{\"shipment_id\":\"SH1\",\"pushed_at\":null}]",
        "[{\"number\":\"1ZA\",\"shipment_id\":\"SH1\",\"pushed_at\":5}]",
        "[{\"number\":\"1ZA\"",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(job_tracking_list_parse(bad[i], NULL, &f->l),
                         SCB_EPARSE);
    assert_int_equal(job_tracking_list_parse(NULL, "[{\"id\":\"SH1\"}]",
                                             &f->l),
                     SCB_EPARSE);
    assert_int_equal(f->l.n, 0);
}

static void test_job_tracking__add_refuses_past_the_limits(void **state)
{
    struct fixture *f = *state;
    const char *one[] = { "1Z" };
    const char **many = calloc(JOB_TRACKING_MAX_NUMBERS + 1, sizeof(*many));
    struct ddi_shipment s;
    bool added = false;

    assert_non_null(many);
    for (size_t i = 0; i <= JOB_TRACKING_MAX_NUMBERS; i++)
        many[i] = "1Z";
    s = ship("SH1", many, JOB_TRACKING_MAX_NUMBERS + 1, false);
    assert_int_equal(job_tracking_list_add(&f->l, &f->cfg, &s, &added),
                     SCB_ETOOBIG);
    assert_int_equal(f->l.n, 0);
    assert_int_equal(f->l.n_ships, 0);
    s = ship("SH1", one, 1, false);
    add(f, &s, true);
    free(many);
}

static void test_job_tracking__order_follows_ddi(void **state)
{
    struct fixture *f = *state;
    const char *a[] = { "1ZA1", "1ZA2" };
    const char *b[] = { "1ZB1" };
    const char *c[] = { "1ZC1" };
    struct ddi_shipment s[3] = {
        ship("SH1", a, 2, false),
        ship("SH2", b, 1, false),
        ship("SH3", c, 1, true),
    };

    /* Callbacks came in 3, 2; DDI lists 1, 2, 3; SH9 only we know. */
    add(f, &s[2], true);
    add(f, &s[1], true);
    add(f, &s[0], true);
    add(f, &(struct ddi_shipment){ .valid = true, .shipment_id = "SH9",
                                   .tracking_nos = c, .n_packages = 1 },
        true);
    assert_int_equal(job_tracking_list_order(&f->l, s, 3), SCB_OK);
    assert_string_equal(f->l.e[0].number, "1ZA1");
    assert_string_equal(f->l.e[1].number, "1ZA2");
    assert_string_equal(f->l.e[2].number, "1ZB1");
    assert_string_equal(f->l.e[3].number, "1ZC1");
    assert_string_equal(f->l.e[3].shipment_id, "SH3");
    assert_string_equal(f->l.e[4].shipment_id, "SH9");
    assert_string_equal(f->l.ships[0].id, "SH1");
    assert_string_equal(f->l.ships[2].id, "SH3");
    assert_string_equal(f->l.ships[3].id, "SH9");
}

static void test_job_tracking__pending_skips_pushed_numbers(void **state)
{
    struct fixture *f = *state;
    const char *a[] = { "1ZA1", "1ZA2" };
    const char *b[] = { "1ZB1", "1ZB2" };
    const char *pushed[] = { "1ZA1", "1ZA2", "1ZB1" };
    struct ddi_shipment s[2] = {
        ship("SH1", a, 2, false),
        ship("SH2", b, 2, true),
    };
    struct job_tracking_pending p;

    add(f, &s[0], true);
    add(f, &s[1], true);
    job_tracking_list_mark(&f->l, pushed, 3, AT);
    assert_int_equal(job_tracking_pending_make(&f->l, s, 2, &p), SCB_OK);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.n_ships, 1);
    assert_string_equal(p.ships[0].shipment_id, "SH2");
    assert_int_equal(p.ships[0].n_packages, 1);
    assert_string_equal(p.ships[0].tracking_nos[0], "1ZB2");
    assert_int_equal(p.ships[0].confirmed_at_ms, T0);
    job_tracking_pending_release(&p);
}

static void test_job_tracking__mark_takes_one_held_entry(void **state)
{
    struct fixture *f = *state;
    const char *a[] = { "1ZA" };
    const char *nos[] = { "1ZA", "1ZX" };
    struct ddi_shipment s = ship("SH1", a, 1, false);
    struct ddi_shipment t = ship("SH2", a, 1, true);

    add(f, &s, true);
    add(f, &t, true);
    job_tracking_list_mark(&f->l, nos, 2, AT);
    assert_string_equal(f->l.e[0].pushed_at, AT);
    assert_string_equal(f->l.e[1].pushed_at, "");
    assert_int_equal(job_tracking_list_pushed(&f->l), 1);
    job_tracking_list_done(&f->l);
    assert_true(f->l.ships[0].done);
    assert_false(f->l.ships[1].done);
}

static void test_job_tracking__later_push_continues_packages(void **state)
{
    struct fixture *f = *state;
    const char *a[] = { "1ZA" };
    const char *b[] = { "1ZB", "1ZC" };
    struct ddi_shipment s[2] = {
        ship("SH1", a, 1, false),
        ship("SH2", b, 2, true),
    };
    struct sc_package pk[2] = { { 11, "" }, { 12, "" } };
    struct job_tracking_pending p;
    struct order_map_push push;
    size_t written;

    /* The first policy pushed SH1 to package 1; SH2 comes later. */
    add(f, &s[0], true);
    job_tracking_list_mark(&f->l, a, 1, AT);
    add(f, &s[1], true);
    assert_int_equal(job_tracking_pending_make(&f->l, s, 2, &p), SCB_OK);
    written = job_tracking_list_pushed(&f->l);
    assert_int_equal(order_map_tracking(&f->cfg, 7, NULL, T0, p.ships,
                                        p.n_ships, pk, 2, written, &push),
                     SCB_OK);
    assert_int_equal(push.n_calls, 1);
    assert_int_equal(push.calls[0].package, 2);
    assert_int_equal(push.calls[0].t.package_id, 12);
    assert_string_equal(push.calls[0].t.tracking_number, "1ZB");
    assert_string_equal(push.note, "Tracking: 1ZC");
    assert_string_equal(p.nos[push.n_calls], "1ZC");
    order_map_push_release(&push);
    job_tracking_pending_release(&p);
}

static void test_job_tracking__key_hashes_long_ids(void **state)
{
    char id[JOB_TRACKING_KEY_ID_MAX + 2];
    struct buf k;

    (void)state;
    buf_init(&k, 512);
    assert_int_equal(job_tracking_key("SH778899", &k), SCB_OK);
    assert_string_equal(k.data, "shipment:SH778899");
    buf_release(&k);
    memset(id, 'x', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    assert_int_equal(job_tracking_key(id, &k), SCB_OK);
    assert_int_equal(k.len, strlen("shipment:sha256:") + 64);
    assert_memory_equal(k.data, "shipment:sha256:", 16);
    buf_release(&k);
}

static enum scb_err sweep_once(struct fixture *f)
{
    const char *a[] = { "1ZA", "1ZB" };
    const char *b[] = { "1ZC" };
    struct ddi_shipment s[2] = {
        ship("SH1", a, 2, false),
        ship("SH2", b, 1, true),
    };
    struct job_tracking_list back;
    struct job_tracking_pending p;
    struct buf tr, sh;
    bool added;
    enum scb_err err;

    memset(&back, 0, sizeof(back));
    memset(&p, 0, sizeof(p));
    buf_init(&tr, 1 << 20);
    buf_init(&sh, 1 << 20);
    job_tracking_list_release(&f->l);
    err = job_tracking_list_add(&f->l, &f->cfg, &s[1], &added);
    if (!err)
        err = job_tracking_list_add(&f->l, &f->cfg, &s[0], &added);
    if (!err)
        err = job_tracking_list_order(&f->l, s, 2);
    if (!err)
        err = job_tracking_list_json(&f->l, &tr, &sh);
    if (!err)
        err = job_tracking_list_parse(tr.data, sh.data, &back);
    if (!err)
        err = job_tracking_pending_make(&back, s, 2, &p);
    job_tracking_pending_release(&p);
    job_tracking_list_release(&back);
    buf_release(&tr);
    buf_release(&sh);
    return err;
}

static void test_job_tracking__allocation_failures_leak_nothing(void **state)
{
    struct fixture *f = *state;
    enum scb_err err = SCB_ENOMEM;
    long n;

    /* cJSON reports a failed allocation as a parse error: go on. */
    mem_install_hooks();
    for (n = 0; n < 500 && err != SCB_OK; n++) {
        mem_fail_after(n);
        err = sweep_once(f);
        mem_fail_after(-1);
    }
    assert_int_equal(err, SCB_OK);
    assert_true(n > 10);
    assert_int_equal(f->l.n, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_job_tracking__empty_fields_make_an_empty_list),
        T(test_job_tracking__add_records_a_shipment_once),
        T(test_job_tracking__add_maps_the_carrier),
        T(test_job_tracking__json_is_the_admin_shape),
        T(test_job_tracking__parse_reads_what_json_writes),
        T(test_job_tracking__parse_rejects_other_shapes),
        T(test_job_tracking__add_refuses_past_the_limits),
        T(test_job_tracking__order_follows_ddi),
        T(test_job_tracking__pending_skips_pushed_numbers),
        T(test_job_tracking__mark_takes_one_held_entry),
        T(test_job_tracking__later_push_continues_packages),
        T(test_job_tracking__key_hashes_long_ids),
        T(test_job_tracking__allocation_failures_leak_nothing),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
