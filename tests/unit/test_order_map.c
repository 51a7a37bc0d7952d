/* SPDX-License-Identifier: MIT */
/* Tests of the Sellercloud order -> DDI order and tracking mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jsonio.h"
#include "mem.h"
#include "order_map.h"

#define T0 1796126400000LL /* 2026-12-01T12:00:00Z */
#define MIN 60000LL

struct fixture {
    struct config cfg;
    struct config_map_row via_rows[1];
    struct config_map_row carrier_rows[1];
    struct sc_order o;
    struct sc_order_line lines[3];
    struct sc_tracking_no tracking[3];
    struct order_map_opts opts;
    cJSON *body;
    char reason[ORDER_MAP_REASON_MAX];
};

static char branch[] = "01";
static char warehouse[] = "MAIN";

static void set_chan(struct config_chan_entry *e, const char *key,
                     int c0, int c1, int n, const char *str)
{
    snprintf(e->key, sizeof(e->key), "%s", key);
    e->channels[0] = c0;
    e->channels[1] = c1;
    e->nchannels = n;
    snprintf(e->str, sizeof(e->str), "%s", str);
}

static void set_row(struct config_map_row *r, const char *fa,
                    const char *fb, const char *ta, const char *tb)
{
    snprintf(r->from_a, sizeof(r->from_a), "%s", fa);
    snprintf(r->from_b, sizeof(r->from_b), "%s", fb);
    snprintf(r->to_a, sizeof(r->to_a), "%s", ta);
    snprintf(r->to_b, sizeof(r->to_b), "%s", tb);
}

static void set_config(struct fixture *f)
{
    struct config *c = &f->cfg;

    c->ddi_branch = branch;
    c->ddi_warehouse = warehouse;
    set_chan(&c->ddi_customers.e[0], "default", 0, 0, 0, "WEB");
    set_chan(&c->ddi_customers.e[1], "Amazon", 4, 0, 1, "WEB-AMAZON");
    set_chan(&c->ddi_customers.e[2], "eBay", 1, 2, 2, "WEB-EBAY");
    c->ddi_customers.n = 3;
    set_row(&f->via_rows[0], "UPS", "Ground", "UPS GROUND", "");
    c->ship_via_map.rows = f->via_rows;
    c->ship_via_map.n = 1;
    set_row(&f->carrier_rows[0], "UPS", "GND", "UPS", "Ground");
    c->carrier_map.rows = f->carrier_rows;
    c->carrier_map.n = 1;
}

static void set_line(struct sc_order_line *l, int64_t id, const char *sku,
                     int64_t qty, int64_t total, const char *name)
{
    l->id = id;
    snprintf(l->product_id, sizeof(l->product_id), "%s", sku);
    l->qty = qty;
    l->line_total = total;
    snprintf(l->display_name, sizeof(l->display_name), "%s", name);
}

#define SET(field, value) snprintf(field, sizeof(field), "%s", value)

static void set_order(struct fixture *f)
{
    struct sc_order *o = &f->o;

    o->id = 5012001;
    o->company_id = 163;
    o->order_source = 4;
    SET(o->order_source_order_id, "113-4567890-1234567");
    o->status_code = 2;
    o->payment_status = 30;
    o->shipping_status = 1;
    set_line(&f->lines[0], 1, "ABC-1", 2, 3990, "Widget");
    set_line(&f->lines[1], 2, "ABC-2", 1, 500, "Gadget");
    o->lines = f->lines;
    o->n_lines = 2;
    o->shipping_total = 400;
    o->handling_fee = 50;
    o->insurance_total = 50;
    o->tax_total = 328;
    o->order_discounts_total = 0;
    o->shipping_discounts_total = 0;
    o->grand_total = 3990 + 500 + 500 + 328; /* 53.18 */
    SET(o->payment_ref, "PAY-777");
    SET(o->billing.first_name, "Ada");
    SET(o->billing.last_name, "Lovelace");
    SET(o->billing.company_name, "Engines Ltd");
    SET(o->billing.street_line1, "1 Main St");
    SET(o->billing.street_line2, "Suite 2");
    SET(o->billing.city, "Springfield");
    SET(o->billing.state_code, "IL");
    SET(o->billing.postal_code, "62701");
    SET(o->billing.country_code, "US");
    SET(o->billing.phone_number, "555-0100");
    SET(o->billing.email_address, "ada@example.com");
    o->shipping = o->billing;
    SET(o->shipping.first_name, "");
    SET(o->shipping.last_name, "Babbage");
    SET(o->shipping_carrier, "UPS");
    SET(o->shipping_service, "Ground");
    o->last_updated.present = true;
    SET(o->last_updated.raw, "2026-12-03T08:00:00");
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    set_config(f);
    set_order(f);
    f->opts.company_id = 163;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    cJSON_Delete(f->body);
    free(f);
    return 0;
}

static enum scb_err map(struct fixture *f)
{
    cJSON_Delete(f->body);
    f->body = NULL;
    f->reason[0] = '\0';
    return order_map_create_body(&f->cfg, &f->o, &f->opts, &f->body,
                                 f->reason, sizeof(f->reason));
}

static const char *str_at(const cJSON *obj, const char *path)
{
    char key[64];
    const char *dot = strchr(path, '.');
    const char *s = NULL;

    if (!dot) {
        assert_int_equal(jsonio_get_str(obj, path, &s), SCB_OK);
        return s;
    }
    snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
    return str_at(cJSON_GetObjectItemCaseSensitive(obj, key), dot + 1);
}

static int64_t int_at(const cJSON *obj, const char *key)
{
    int64_t v = -1;

    assert_int_equal(jsonio_get_i64(obj, key, INT64_MIN, INT64_MAX, &v),
                     SCB_OK);
    return v;
}

static const cJSON *line_at(const struct fixture *f, int i)
{
    const cJSON *lines = cJSON_GetObjectItemCaseSensitive(f->body, "lines");

    assert_non_null(lines);
    return cJSON_GetArrayItem(lines, i);
}

static void test_order_map__reference_form(void **state)
{
    char ref[ORDER_MAP_REF_MAX];
    int64_t company = 0, order = 0;

    (void)state;
    order_map_reference(163, 5012001, ref);
    assert_string_equal(ref, "SC-163-5012001");
    assert_true(order_map_reference_parse(ref, &company, &order));
    assert_int_equal(company, 163);
    assert_int_equal(order, 5012001);
    assert_false(order_map_reference_parse("SC-163", NULL, NULL));
    assert_false(order_map_reference_parse("SC-163-50x", NULL, NULL));
    assert_false(order_map_reference_parse("SC--1", NULL, NULL));
    assert_false(order_map_reference_parse("SC-1-2-3", NULL, NULL));
    assert_false(order_map_reference_parse("sc-1-2", NULL, NULL));
    assert_false(order_map_reference_parse("PO-1-2", NULL, NULL));
    assert_false(order_map_reference_parse("SC-1-2 ", NULL, NULL));
    assert_false(order_map_reference_parse("SC-1-1234567890123456789",
                                           NULL, NULL));
}

static void test_order_map__head_fields(void **state)
{
    struct fixture *f = *state;

    f->opts.company_id = 170; /* the stored company wins */
    assert_int_equal(map(f), SCB_OK);
    assert_string_equal(str_at(f->body, "reference"), "SC-170-5012001");
    assert_string_equal(str_at(f->body, "channel"), "Amazon");
    assert_string_equal(str_at(f->body, "channel_order_id"),
                        "113-4567890-1234567");
    assert_string_equal(str_at(f->body, "branch"), "01");
    assert_string_equal(str_at(f->body, "warehouse"), "MAIN");
    assert_string_equal(str_at(f->body, "ship_via"), "UPS GROUND");
    assert_string_equal(str_at(f->body, "customer.account_no"),
                        "WEB-AMAZON");
    assert_null(cJSON_GetObjectItemCaseSensitive(f->body,
                                                 "already_shipped"));
}

static void test_order_map__channel_aliases(void **state)
{
    struct fixture *f = *state;
    static const struct {
        int source;
        const char *channel;
        const char *account;
    } cases[] = {
        { 1, "eBay", "WEB-EBAY" },   { 2, "eBay", "WEB-EBAY" },
        { 42, "Walmart", "WEB" },    { 50, "Walmart", "WEB" },
        { 15, "Magento", "WEB" },    { 6, "Website", "WEB" },
        { 4, "Amazon", "WEB-AMAZON" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        f->o.order_source = cases[i].source;
        assert_int_equal(map(f), SCB_OK);
        assert_string_equal(str_at(f->body, "channel"), cases[i].channel);
        assert_string_equal(str_at(f->body, "customer.account_no"),
                            cases[i].account);
    }
}

static void test_order_map__ship_via_map(void **state)
{
    struct fixture *f = *state;
    char via[128];

    order_map_ship_via(&f->cfg, "ups", "GROUND", via, sizeof(via));
    assert_string_equal(via, "UPS GROUND");
    order_map_ship_via(&f->cfg, "FedEx", "Home Delivery", via, sizeof(via));
    assert_string_equal(via, "FedEx Home Delivery");
    order_map_ship_via(&f->cfg, "USPS", "", via, sizeof(via));
    assert_string_equal(via, "USPS");
    order_map_ship_via(&f->cfg, "", "", via, sizeof(via));
    assert_string_equal(via, "");
}

static void test_order_map__address_mapping(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(map(f), SCB_OK);
    assert_string_equal(str_at(f->body, "bill_to.name"), "Ada Lovelace");
    assert_string_equal(str_at(f->body, "bill_to.company"), "Engines Ltd");
    assert_string_equal(str_at(f->body, "bill_to.address1"), "1 Main St");
    assert_string_equal(str_at(f->body, "bill_to.address2"), "Suite 2");
    assert_string_equal(str_at(f->body, "bill_to.city"), "Springfield");
    assert_string_equal(str_at(f->body, "bill_to.state"), "IL");
    assert_string_equal(str_at(f->body, "bill_to.postal_code"), "62701");
    assert_string_equal(str_at(f->body, "bill_to.country"), "US");
    assert_string_equal(str_at(f->body, "bill_to.phone"), "555-0100");
    assert_string_equal(str_at(f->body, "bill_to.email"),
                        "ada@example.com");
    assert_string_equal(str_at(f->body, "ship_to.name"), "Babbage");
    assert_string_equal(str_at(f->body, "ship_to.city"), "Springfield");
}

static void test_order_map__whole_cent_lines(void **state)
{
    struct fixture *f = *state;
    const cJSON *l;

    assert_int_equal(map(f), SCB_OK);
    assert_int_equal(
        cJSON_GetArraySize(cJSON_GetObjectItem(f->body, "lines")), 2);
    l = line_at(f, 0);
    assert_int_equal(int_at(l, "line_no"), 1);
    assert_string_equal(str_at(l, "product_no"), "ABC-1");
    assert_int_equal(int_at(l, "qty"), 2);
    assert_string_equal(str_at(l, "unit_price"), "19.95");
    assert_string_equal(str_at(l, "description"), "Widget");
    assert_null(cJSON_GetObjectItemCaseSensitive(l, "uom"));
    l = line_at(f, 1);
    assert_int_equal(int_at(l, "line_no"), 2);
    assert_string_equal(str_at(l, "unit_price"), "5.00");
}

static void test_order_map__split_line_example(void **state)
{
    struct fixture *f = *state;
    const cJSON *l;

    /* LineTotal 10.00, Qty 3: qty 2 at 3.33 and qty 1 at 3.34. */
    set_line(&f->lines[0], 1, "ABC-1", 3, 1000, "Widget");
    f->o.grand_total = 1000 + 500 + 500 + 328;
    assert_int_equal(map(f), SCB_OK);
    assert_int_equal(
        cJSON_GetArraySize(cJSON_GetObjectItem(f->body, "lines")), 3);
    l = line_at(f, 0);
    assert_int_equal(int_at(l, "line_no"), 1);
    assert_string_equal(str_at(l, "product_no"), "ABC-1");
    assert_int_equal(int_at(l, "qty"), 2);
    assert_string_equal(str_at(l, "unit_price"), "3.33");
    l = line_at(f, 1);
    assert_int_equal(int_at(l, "line_no"), 2);
    assert_string_equal(str_at(l, "product_no"), "ABC-1");
    assert_int_equal(int_at(l, "qty"), 1);
    assert_string_equal(str_at(l, "unit_price"), "3.34");
    l = line_at(f, 2); /* the next line takes the next number */
    assert_int_equal(int_at(l, "line_no"), 3);
    assert_string_equal(str_at(l, "product_no"), "ABC-2");
}

static void test_order_map__split_negative_line(void **state)
{
    struct fixture *f = *state;

    set_line(&f->lines[1], 2, "RET-1", 3, -1000, "Return");
    f->o.grand_total = 3990 - 1000 + 500 + 328;
    assert_int_equal(map(f), SCB_OK);
    assert_string_equal(str_at(line_at(f, 1), "unit_price"), "-3.34");
    assert_int_equal(int_at(line_at(f, 1), "qty"), 2);
    assert_string_equal(str_at(line_at(f, 2), "unit_price"), "-3.32");
}

static void test_order_map__charges_and_deposit(void **state)
{
    struct fixture *f = *state;

    f->o.order_discounts_total = -200;
    f->o.shipping_discounts_total = 100; /* either sign counts */
    f->o.grand_total -= 300;
    assert_int_equal(map(f), SCB_OK);
    assert_string_equal(str_at(f->body, "charges.freight"), "5.00");
    assert_string_equal(str_at(f->body, "charges.tax"), "3.28");
    assert_string_equal(str_at(f->body, "charges.discount"), "3.00");
    assert_string_equal(str_at(f->body, "deposit.amount"), "50.18");
    assert_string_equal(str_at(f->body, "deposit.method"), "CHANNEL");
    assert_string_equal(str_at(f->body, "deposit.reference"), "PAY-777");
}

static void test_order_map__deposit_reference_fallback(void **state)
{
    struct fixture *f = *state;

    SET(f->o.payment_ref, "");
    assert_int_equal(map(f), SCB_OK);
    assert_string_equal(str_at(f->body, "deposit.reference"),
                        "113-4567890-1234567");
}

static void test_order_map__totals_mismatch_lists_figures(void **state)
{
    struct fixture *f = *state;

    set_line(&f->lines[0], 1, "ABC-1", 1, 1000, "Widget");
    f->o.n_lines = 1;
    f->o.shipping_total = 500;
    f->o.handling_fee = 0;
    f->o.insurance_total = 0;
    f->o.tax_total = 83;
    f->o.grand_total = 1584;
    assert_int_equal(map(f), SCB_EINVAL);
    assert_null(f->body);
    assert_string_equal(f->reason,
                        "TOTAL_MISMATCH: lines 10.00 + freight 5.00 + "
                        "tax 0.83 - discount 0.00 = 15.83, GrandTotal 15.84");
    f->o.grand_total = 1583;
    assert_int_equal(map(f), SCB_OK);
}

static void test_order_map__totals_check_alone(void **state)
{
    struct order_map_totals t = { 1000, 500, 83, 200, 1383 };
    char reason[ORDER_MAP_REASON_MAX];

    (void)state;
    assert_true(order_map_totals_check(&t, reason, sizeof(reason)));
    t.grand_total = 1000;
    assert_false(order_map_totals_check(&t, reason, sizeof(reason)));
    assert_string_equal(reason,
                        "TOTAL_MISMATCH: lines 10.00 + freight 5.00 + "
                        "tax 0.83 - discount 2.00 = 13.83, GrandTotal 10.00");
}

static const char *uom_of(void *ctx, const char *product_no)
{
    (void)ctx;
    return strcmp(product_no, "ABC-1") == 0 ? "EA" : NULL;
}

static void test_order_map__uom_from_lookup(void **state)
{
    struct fixture *f = *state;

    f->opts.uom = uom_of;
    assert_int_equal(map(f), SCB_OK);
    assert_string_equal(str_at(line_at(f, 0), "uom"), "EA");
    assert_null(cJSON_GetObjectItemCaseSensitive(line_at(f, 1), "uom"));
}

static void test_order_map__qty_zero_lines(void **state)
{
    struct fixture *f = *state;

    set_line(&f->lines[2], 3, "GONE-1", 0, 0, "Removed");
    f->o.n_lines = 3;
    assert_int_equal(map(f), SCB_OK);
    assert_int_equal(
        cJSON_GetArraySize(cJSON_GetObjectItem(f->body, "lines")), 2);

    f->lines[2].line_total = 250;
    f->o.grand_total += 250;
    assert_int_equal(map(f), SCB_EINVAL);
    assert_string_equal(f->reason, "TOTAL_MISMATCH: line 3 (GONE-1) has "
                                   "Qty 0 and LineTotal 2.50");
}

static void test_order_map__already_shipped_block(void **state)
{
    struct fixture *f = *state;
    const cJSON *a, *nos;

    f->opts.already_shipped = true;
    f->o.ship_date.present = true;
    SET(f->o.ship_date.raw, "2026-12-01T23:30:00.123");
    SET(f->tracking[0].no, "1Z001");
    SET(f->tracking[1].no, "1Z002");
    f->o.all_tracking = f->tracking;
    f->o.n_all_tracking = 2;
    SET(f->o.tracking_number, "1Z001");
    assert_int_equal(map(f), SCB_OK);
    a = cJSON_GetObjectItemCaseSensitive(f->body, "already_shipped");
    assert_non_null(a);
    assert_string_equal(str_at(a, "ship_date"), "2026-12-01");
    assert_string_equal(str_at(a, "carrier"), "UPS");
    assert_string_equal(str_at(a, "service"), "Ground"); /* unmapped */
    nos = cJSON_GetObjectItemCaseSensitive(a, "tracking_nos");
    assert_int_equal(cJSON_GetArraySize(nos), 2);
    assert_string_equal(cJSON_GetArrayItem(nos, 1)->valuestring, "1Z002");
}

static void test_order_map__already_shipped_single_number(void **state)
{
    struct fixture *f = *state;
    const cJSON *nos;

    f->opts.already_shipped = true;
    f->o.ship_date.present = true;
    SET(f->o.ship_date.raw, "2026-11-30T10:00:00");
    SET(f->o.tracking_number, "1ZONLY");
    assert_int_equal(map(f), SCB_OK);
    nos = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(f->body, "already_shipped"),
        "tracking_nos");
    assert_int_equal(cJSON_GetArraySize(nos), 1);
    assert_string_equal(cJSON_GetArrayItem(nos, 0)->valuestring, "1ZONLY");

    /* Neither: an empty list, all four keys still present. */
    SET(f->o.tracking_number, "");
    f->o.ship_date.present = false; /* the date of LastUpdated */
    assert_int_equal(map(f), SCB_OK);
    assert_string_equal(str_at(f->body, "already_shipped.ship_date"),
                        "2026-12-03");
    nos = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(f->body, "already_shipped"),
        "tracking_nos");
    assert_true(cJSON_IsArray(nos));
    assert_int_equal(cJSON_GetArraySize(nos), 0);
}

static void test_order_map__ship_date_rule(void **state)
{
    struct sc_time created = { .present = true, .ms = T0 };
    int64_t now = T0 + 600 * MIN;

    (void)state;
    /* Earlier than CreatedOn + 1 min: raised. */
    assert_int_equal(order_map_ship_date_ms(T0 - 5 * MIN, &created, now),
                     T0 + MIN);
    /* In range: unchanged. */
    assert_int_equal(order_map_ship_date_ms(T0 + 30 * MIN, &created, now),
                     T0 + 30 * MIN);
    /* Later than the clock: lowered. */
    assert_int_equal(order_map_ship_date_ms(now + MIN, &created, now), now);
    /* No CreatedOn: only lowered. */
    created.present = false;
    assert_int_equal(order_map_ship_date_ms(T0 - 5 * MIN, &created, now),
                     T0 - 5 * MIN);
    assert_int_equal(order_map_ship_date_ms(T0 - 5 * MIN, NULL, now),
                     T0 - 5 * MIN);
}

static void test_order_map__carrier_map(void **state)
{
    struct fixture *f = *state;
    const char *c = NULL, *s = NULL;

    order_map_carrier(&f->cfg, "ups", "gnd", &c, &s);
    assert_string_equal(c, "UPS");
    assert_string_equal(s, "Ground");
    order_map_carrier(&f->cfg, "FedEx", "2Day", &c, &s);
    assert_string_equal(c, "FedEx");
    assert_string_equal(s, "2Day");
    order_map_carrier(&f->cfg, NULL, NULL, &c, &s);
    assert_string_equal(c, "");
    assert_string_equal(s, "");
}

static struct ddi_shipment shipment(const char **nos, size_t n,
                                    int64_t confirmed_ms)
{
    struct ddi_shipment s = {
        .valid = true, .shipment_id = "SH1", .order_no = "SO1",
        .reference = "SC-163-5012001", .confirmed_at_ms = confirmed_ms,
        .carrier = "UPS", .service = "GND", .tracking_nos = nos,
        .n_packages = n, .complete = true,
    };

    return s;
}

static void test_order_map__one_package_one_number(void **state)
{
    struct fixture *f = *state;
    const char *nos[] = { "1Z1" };
    struct ddi_shipment s = shipment(nos, 1, T0 + 10 * MIN);
    struct sc_package pk[] = { { .id = 900 } };
    struct sc_time created = { .present = true, .ms = T0 };
    struct order_map_push p;

    assert_int_equal(order_map_tracking(&f->cfg, 5012001, &created,
                                        T0 + 60 * MIN, &s, 1, pk, 1, 0, &p),
                     SCB_OK);
    assert_int_equal(p.n_calls, 1);
    assert_int_equal(p.calls[0].package, 1);
    assert_int_equal(p.calls[0].t.order_id, 5012001);
    assert_string_equal(p.calls[0].t.tracking_number, "1Z1");
    assert_string_equal(p.calls[0].t.carrier, "UPS");
    assert_string_equal(p.calls[0].t.service, "Ground");
    assert_int_equal(p.calls[0].t.ship_date_ms, T0 + 10 * MIN);
    assert_null(p.note);
    assert_int_equal(p.written, 1);
    order_map_push_release(&p);
}

static void test_order_map__numbers_fill_packages_then_note(void **state)
{
    struct fixture *f = *state;
    const char *a[] = { "1ZA", "1ZB" };
    const char *b[] = { "1ZC", "1ZD", "1ZE" };
    struct ddi_shipment s[2] = { shipment(a, 2, T0 + 5 * MIN),
                                 shipment(b, 3, T0 + 90 * MIN) };
    struct sc_package pk[] = { { .id = 11 }, { .id = 12 }, { .id = 13 } };
    struct order_map_push p;

    s[1].carrier = "FedEx";
    s[1].service = "Ground";
    assert_int_equal(order_map_tracking(&f->cfg, 7, NULL, T0 + 600 * MIN, s,
                                        2, pk, 3, 0, &p),
                     SCB_OK);
    assert_int_equal(p.n_calls, 3);
    assert_int_equal(p.calls[0].package, 1);
    assert_string_equal(p.calls[0].t.tracking_number, "1ZA");
    assert_int_equal(p.calls[1].package, 2);
    assert_int_equal(p.calls[1].t.package_id, 12);
    assert_string_equal(p.calls[1].t.tracking_number, "1ZB");
    assert_int_equal(p.calls[2].package, 3);
    assert_int_equal(p.calls[2].t.package_id, 13);
    assert_string_equal(p.calls[2].t.tracking_number, "1ZC");
    assert_string_equal(p.calls[2].t.carrier, "FedEx");
    assert_int_equal(p.calls[2].t.ship_date_ms, T0 + 90 * MIN);
    assert_string_equal(p.note, "Tracking: 1ZD, 1ZE");
    assert_int_equal(p.n_noted, 2);
    assert_int_equal(p.written, 3);
    order_map_push_release(&p);
}

static void test_order_map__later_push_continues(void **state)
{
    struct fixture *f = *state;
    const char *b[] = { "1ZC", "1ZD" };
    struct ddi_shipment s = shipment(b, 2, T0);
    struct sc_package pk[] = { { .id = 11 }, { .id = 12 } };
    struct order_map_push p;

    /* Package 1 was written by the first shipment's push. */
    assert_int_equal(order_map_tracking(&f->cfg, 7, NULL, T0, &s, 1, pk, 2,
                                        1, &p),
                     SCB_OK);
    assert_int_equal(p.n_calls, 1);
    assert_int_equal(p.calls[0].package, 2);
    assert_int_equal(p.calls[0].t.package_id, 12);
    assert_string_equal(p.note, "Tracking: 1ZD");
    assert_int_equal(p.written, 2);
    order_map_push_release(&p);

    /* Every package written: all to the note. */
    assert_int_equal(order_map_tracking(&f->cfg, 7, NULL, T0, &s, 1, pk, 2,
                                        2, &p),
                     SCB_OK);
    assert_int_equal(p.n_calls, 0);
    assert_string_equal(p.note, "Tracking: 1ZC, 1ZD");
    order_map_push_release(&p);
}

static void test_order_map__no_packages_counts_as_one(void **state)
{
    struct fixture *f = *state;
    const char *a[] = { "1ZA", "1ZB" };
    struct ddi_shipment s = shipment(a, 2, T0);
    struct order_map_push p;

    assert_int_equal(order_map_tracking(&f->cfg, 7, NULL, T0, &s, 1, NULL,
                                        0, 0, &p),
                     SCB_OK);
    assert_int_equal(p.n_calls, 1);
    assert_int_equal(p.calls[0].package, 1);
    assert_int_equal(p.calls[0].t.package_id, 0);
    assert_string_equal(p.note, "Tracking: 1ZB");
    order_map_push_release(&p);
}

static void test_order_map__allocation_failures_leak_nothing(void **state)
{
    struct fixture *f = *state;
    const char *a[] = { "1ZA", "1ZB", "1ZC" };
    struct ddi_shipment s = shipment(a, 3, T0);
    struct order_map_push p;
    enum scb_err err = SCB_ENOMEM;

    mem_install_hooks();
    f->opts.already_shipped = true;
    for (long n = 0; n < 2000 && err == SCB_ENOMEM; n++) {
        mem_fail_after(n);
        err = map(f);
        mem_fail_after(-1);
    }
    assert_int_equal(err, SCB_OK);
    err = SCB_ENOMEM;
    for (long n = 0; n < 100 && err == SCB_ENOMEM; n++) {
        mem_fail_after(n);
        err = order_map_tracking(&f->cfg, 7, NULL, T0, &s, 1, NULL, 0, 0,
                                 &p);
        mem_fail_after(-1);
    }
    assert_int_equal(err, SCB_OK);
    assert_string_equal(p.note, "Tracking: 1ZB, 1ZC");
    order_map_push_release(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_order_map__reference_form),
        T(test_order_map__head_fields),
        T(test_order_map__channel_aliases),
        T(test_order_map__ship_via_map),
        T(test_order_map__address_mapping),
        T(test_order_map__whole_cent_lines),
        T(test_order_map__split_line_example),
        T(test_order_map__split_negative_line),
        T(test_order_map__charges_and_deposit),
        T(test_order_map__deposit_reference_fallback),
        T(test_order_map__totals_mismatch_lists_figures),
        T(test_order_map__totals_check_alone),
        T(test_order_map__uom_from_lookup),
        T(test_order_map__qty_zero_lines),
        T(test_order_map__already_shipped_block),
        T(test_order_map__already_shipped_single_number),
        T(test_order_map__ship_date_rule),
        T(test_order_map__carrier_map),
        T(test_order_map__one_package_one_number),
        T(test_order_map__numbers_fill_packages_then_note),
        T(test_order_map__later_push_continues),
        T(test_order_map__no_packages_counts_as_one),
        T(test_order_map__allocation_failures_leak_nothing),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
