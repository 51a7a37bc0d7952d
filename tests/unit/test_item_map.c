/* SPDX-License-Identifier: MIT */
/* Tests of the DDI item -> Sellercloud product mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "item_map.h"
#include "mem.h"

#define ALL_FIELDS                                                       \
    (SYNC_NAME | SYNC_LONG_DESCRIPTION | SYNC_MANUFACTURER_SKU |         \
     SYNC_UPC | SYNC_PRICE | SYNC_UOM | SYNC_IMAGE_URL |                 \
     SYNC_PRODUCT_TYPE | SYNC_QTY)

struct fixture {
    struct config cfg;
    struct ddi_item item;
    struct item_map_input in;
    struct item_map_plan plan;
    char why[256];
};

static char default_wh[] = "MAIN";
static char uom_col[] = "UnitOfMeasure";
static char image_col[] = "ImageURL";

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    f->cfg.ddi_warehouse = default_wh;
    f->cfg.sync_fields = ALL_FIELDS;
    f->cfg.sc_create_products = true;
    f->cfg.sc_product_company_id = 163;
    f->cfg.sc_warehouse_id = 1;
    f->cfg.sc_uom_column = uom_col;
    f->cfg.sc_image_column = image_col;
    f->item = (struct ddi_item){
        .valid = true, .product_no = "ABC-1", .warehouse = "MAIN",
        .description = "Widget, blue", .product_type = "Widget",
        .image_url = "https://img.example/abc-1.jpg",
        .web_description = "A fine blue widget.",
        .mfg_product_no = "MFG-77", .upc = "012345678905", .uom = "EA",
        .price = "19.95", .has_available_qty = true, .available_qty = 140,
        .active = true, .web = true, .updated_at = "2026-12-01T17:04:00Z",
    };
    f->in.item = &f->item;
    f->in.exists = true;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    item_map_plan_release(&f->plan);
    free(f);
    return 0;
}

static enum scb_err plan(struct fixture *f)
{
    item_map_plan_release(&f->plan);
    f->why[0] = '\0';
    return item_map_plan(&f->cfg, &f->in, &f->plan, f->why,
                         sizeof(f->why));
}

/* Plans once, keeps the record as "last written", plans again. */
static void plan_twice(struct fixture *f, char **out_record)
{
    assert_int_equal(plan(f), SCB_OK);
    assert_non_null(f->plan.record);
    *out_record = strdup(f->plan.record);
    assert_non_null(*out_record);
    f->in.last_written = *out_record;
    f->in.exists = true;
}

static void test_item_map__skips_item_not_on_web(void **state)
{
    struct fixture *f = *state;

    f->item.web = false;
    assert_int_equal(item_map_filter(&f->cfg, &f->item),
                     ITEM_MAP_SKIP_NOT_WEB);
    assert_int_equal(plan(f), SCB_EINVAL);
}

static void test_item_map__skips_other_warehouse(void **state)
{
    struct fixture *f = *state;

    f->item.warehouse = "EAST";
    assert_int_equal(item_map_filter(&f->cfg, &f->item),
                     ITEM_MAP_SKIP_WAREHOUSE);
    f->item.warehouse = "MAIN";
    assert_int_equal(item_map_filter(&f->cfg, &f->item), ITEM_MAP_KEEP);
}

static void test_item_map__creates_missing_active_web_item(void **state)
{
    struct fixture *f = *state;
    const struct sc_product_new *p = &f->plan.product;

    f->in.exists = false;
    f->in.reserved_qty = 10;
    f->cfg.stock_buffer = 5;
    assert_int_equal(plan(f), SCB_OK);
    assert_int_equal(f->plan.outcome, ITEM_MAP_WRITE);
    assert_true(f->plan.create);
    assert_int_equal(p->company_id, 163);
    assert_string_equal(p->sku, "ABC-1");
    assert_string_equal(p->name, "Widget, blue");
    assert_string_equal(p->type_name, "Widget");
    assert_true(p->has_price);
    assert_int_equal(p->price_cents, 1995);
    assert_string_equal(p->upc, "012345678905");
    assert_true(f->plan.set_qty);
    assert_int_equal(f->plan.qty, 145);
    assert_int_equal(f->plan.warehouse_id, 1);
    /* What the create call cannot carry goes through BasicInfo. */
    assert_true(f->plan.basic);
    assert_string_equal(f->plan.basic_info.sku, "ABC-1");
    assert_null(f->plan.basic_info.name);
    assert_null(f->plan.basic_info.upc);
    assert_false(f->plan.basic_info.has_price);
    assert_string_equal(f->plan.basic_info.long_description,
                        "A fine blue widget.");
    assert_string_equal(f->plan.basic_info.manufacturer_sku, "MFG-77");
    assert_int_equal(f->plan.n_columns, 2);
    assert_string_equal(f->plan.columns[0].name, "UnitOfMeasure");
    assert_string_equal(f->plan.columns[0].value, "EA");
    assert_string_equal(f->plan.columns[1].name, "ImageURL");
    assert_string_equal(f->plan.columns[1].value,
                        "https://img.example/abc-1.jpg");
}

static void test_item_map__no_create_when_inactive(void **state)
{
    struct fixture *f = *state;

    f->in.exists = false;
    f->item.active = false;
    assert_int_equal(plan(f), SCB_OK);
    assert_int_equal(f->plan.outcome, ITEM_MAP_NO_PRODUCT);
    assert_false(f->plan.create);
    assert_false(f->plan.set_qty);
    assert_null(f->plan.record);
}

static void test_item_map__no_create_when_creation_off(void **state)
{
    struct fixture *f = *state;

    f->in.exists = false;
    f->cfg.sc_create_products = false;
    assert_int_equal(plan(f), SCB_OK);
    assert_int_equal(f->plan.outcome, ITEM_MAP_NO_PRODUCT);
    assert_false(f->plan.create);
}

static void test_item_map__inactive_existing_product_is_updated(void **state)
{
    struct fixture *f = *state;

    f->item.active = false;
    assert_int_equal(plan(f), SCB_OK);
    assert_int_equal(f->plan.outcome, ITEM_MAP_WRITE);
    assert_false(f->plan.create);
    assert_true(f->plan.set_qty);
}

static void test_item_map__create_uses_default_type(void **state)
{
    struct fixture *f = *state;
    char dflt[] = "General";

    f->in.exists = false;
    f->item.product_type = "";
    f->cfg.sc_default_product_type = dflt;
    assert_int_equal(plan(f), SCB_OK);
    assert_string_equal(f->plan.product.type_name, "General");

    /* Not synced: the item's own type is not used. */
    f->item.product_type = "Widget";
    f->cfg.sync_fields &= ~(unsigned)SYNC_PRODUCT_TYPE;
    assert_int_equal(plan(f), SCB_OK);
    assert_string_equal(f->plan.product.type_name, "General");
}

static void test_item_map__create_without_type_is_item_error(void **state)
{
    struct fixture *f = *state;

    f->in.exists = false;
    f->item.product_type = NULL;
    assert_int_equal(plan(f), SCB_EINVAL);
    assert_non_null(strstr(f->why, "no product type"));
    assert_null(f->plan.record);
}

static void test_item_map__create_name_falls_back_to_sku(void **state)
{
    struct fixture *f = *state;

    f->in.exists = false;
    f->item.description = "";
    assert_int_equal(plan(f), SCB_OK);
    assert_string_equal(f->plan.product.name, "ABC-1");
}

static void test_item_map__first_write_of_existing_product(void **state)
{
    struct fixture *f = *state;
    const struct sc_basic_info *bi = &f->plan.basic_info;

    assert_int_equal(plan(f), SCB_OK);
    assert_int_equal(f->plan.outcome, ITEM_MAP_WRITE);
    assert_false(f->plan.create);
    assert_true(f->plan.basic);
    assert_string_equal(bi->sku, "ABC-1");
    assert_string_equal(bi->name, "Widget, blue");
    assert_string_equal(bi->long_description, "A fine blue widget.");
    assert_string_equal(bi->manufacturer_sku, "MFG-77");
    assert_string_equal(bi->upc, "012345678905");
    assert_true(bi->has_price);
    assert_int_equal(bi->price_cents, 1995);
    assert_true(f->plan.set_qty);
    assert_int_equal(f->plan.qty, 140);
    assert_int_equal(f->plan.n_columns, 2);
    assert_false(f->plan.invalid);
    assert_string_equal(f->why, "");
}

static void test_item_map__unchanged_item_costs_no_writes(void **state)
{
    struct fixture *f = *state;
    char *rec = NULL;

    plan_twice(f, &rec);
    assert_int_equal(plan(f), SCB_OK);
    assert_int_equal(f->plan.outcome, ITEM_MAP_UNCHANGED);
    assert_false(f->plan.create);
    assert_false(f->plan.set_qty);
    assert_false(f->plan.basic);
    assert_int_equal(f->plan.n_columns, 0);
    assert_string_equal(f->plan.record, rec);
    free(rec);
}

static void test_item_map__record_after_create_matches_update(void **state)
{
    struct fixture *f = *state;
    char *rec = NULL;

    f->in.exists = false;
    plan_twice(f, &rec);
    assert_int_equal(plan(f), SCB_OK);
    assert_int_equal(f->plan.outcome, ITEM_MAP_UNCHANGED);
    free(rec);
}

static void test_item_map__changed_price_writes_site_price_only(void **state)
{
    struct fixture *f = *state;
    char *rec = NULL;

    plan_twice(f, &rec);
    f->item.price = "21.5";
    assert_int_equal(plan(f), SCB_OK);
    assert_int_equal(f->plan.outcome, ITEM_MAP_WRITE);
    assert_true(f->plan.basic);
    assert_true(f->plan.basic_info.has_price);
    assert_int_equal(f->plan.basic_info.price_cents, 2150);
    assert_null(f->plan.basic_info.name);
    assert_null(f->plan.basic_info.upc);
    assert_null(f->plan.basic_info.long_description);
    assert_false(f->plan.set_qty);
    assert_int_equal(f->plan.n_columns, 0);
    free(rec);
}

static void test_item_map__changed_qty_writes_inventory_only(void **state)
{
    struct fixture *f = *state;
    char *rec = NULL;

    plan_twice(f, &rec);
    f->in.reserved_qty = 3;
    assert_int_equal(plan(f), SCB_OK);
    assert_int_equal(f->plan.outcome, ITEM_MAP_WRITE);
    assert_true(f->plan.set_qty);
    assert_int_equal(f->plan.qty, 143);
    assert_false(f->plan.basic);
    assert_int_equal(f->plan.n_columns, 0);
    free(rec);
}

static void test_item_map__changed_uom_writes_that_column(void **state)
{
    struct fixture *f = *state;
    char *rec = NULL;

    plan_twice(f, &rec);
    f->item.uom = "CS";
    assert_int_equal(plan(f), SCB_OK);
    assert_int_equal(f->plan.n_columns, 1);
    assert_string_equal(f->plan.columns[0].name, "UnitOfMeasure");
    assert_string_equal(f->plan.columns[0].value, "CS");
    assert_false(f->plan.basic);
    assert_false(f->plan.set_qty);
    free(rec);
}

static void test_item_map__stock_formula_example(void **state)
{
    (void)state;
    assert_int_equal(item_map_physical_qty(140, 10, 5), 145);
    assert_int_equal(item_map_physical_qty(-20, 10, 5), 0);
    assert_int_equal(item_map_physical_qty(-5, 10, 5), 0);
    assert_int_equal(item_map_physical_qty(0, 0, 0), 0);
    assert_int_equal(item_map_physical_qty(INT64_MAX, 10, 0), INT64_MAX);
}

static void test_item_map__negative_available_writes_zero(void **state)
{
    struct fixture *f = *state;

    f->item.available_qty = -12;
    f->in.reserved_qty = 2;
    f->cfg.stock_buffer = 1;
    assert_int_equal(plan(f), SCB_OK);
    assert_true(f->plan.set_qty);
    assert_int_equal(f->plan.qty, 0);
}

static void test_item_map__sync_fields_select_writes(void **state)
{
    struct fixture *f = *state;

    f->cfg.sync_fields = SYNC_QTY | SYNC_UOM;
    f->item.price = NULL; /* not synced: not needed */
    assert_int_equal(plan(f), SCB_OK);
    assert_true(f->plan.set_qty);
    assert_false(f->plan.basic);
    assert_int_equal(f->plan.n_columns, 1);
    assert_string_equal(f->plan.columns[0].value, "EA");
    assert_null(strstr(f->plan.record, "price"));
    assert_null(strstr(f->plan.record, "name"));

    f->cfg.sync_fields = SYNC_NAME | SYNC_PRICE;
    f->item.price = "19.95";
    assert_int_equal(plan(f), SCB_OK);
    assert_false(f->plan.set_qty);
    assert_int_equal(f->plan.n_columns, 0);
    assert_true(f->plan.basic);
    assert_string_equal(f->plan.basic_info.name, "Widget, blue");
    assert_null(f->plan.basic_info.upc);
    assert_null(f->plan.basic_info.long_description);
    assert_true(f->plan.basic_info.has_price);
}

static void test_item_map__new_sync_field_is_written(void **state)
{
    struct fixture *f = *state;
    char *rec = NULL;

    f->cfg.sync_fields = SYNC_QTY;
    plan_twice(f, &rec);
    f->cfg.sync_fields = SYNC_QTY | SYNC_UPC;
    assert_int_equal(plan(f), SCB_OK);
    assert_int_equal(f->plan.outcome, ITEM_MAP_WRITE);
    assert_false(f->plan.set_qty);
    assert_string_equal(f->plan.basic_info.upc, "012345678905");
    free(rec);
}

static void test_item_map__upc_check_digit(void **state)
{
    (void)state;
    assert_true(item_map_upc_valid("012345678905"));
    assert_true(item_map_upc_valid("4006381333931"));   /* EAN-13 */
    assert_true(item_map_upc_valid("10012345678902"));  /* GTIN-14 */
    assert_false(item_map_upc_valid("012345678904"));
    assert_false(item_map_upc_valid("4006381333932"));
    assert_false(item_map_upc_valid("01234567890"));    /* 11 digits */
    assert_false(item_map_upc_valid("012345678905012")); /* 15 digits */
    assert_false(item_map_upc_valid("01234567890A"));
    assert_false(item_map_upc_valid(""));
}

static void test_item_map__bad_upc_is_left_out_and_stock_written(
    void **state)
{
    struct fixture *f = *state;

    f->item.upc = "012345678904";
    assert_int_equal(plan(f), SCB_OK);
    assert_int_equal(f->plan.outcome, ITEM_MAP_WRITE);
    assert_true(f->plan.invalid);
    assert_non_null(strstr(f->why, "upc 012345678904"));
    assert_true(f->plan.set_qty);
    assert_int_equal(f->plan.qty, 140);
    assert_true(f->plan.basic);
    assert_null(f->plan.basic_info.upc);
    assert_string_equal(f->plan.basic_info.name, "Widget, blue");
    assert_true(f->plan.basic_info.has_price);
    assert_int_equal(f->plan.n_columns, 2);
    assert_null(strstr(f->plan.record, "upc"));

    /* An empty UPC clears it; not synced, it is not checked. */
    f->item.upc = "";
    assert_int_equal(plan(f), SCB_OK);
    assert_false(f->plan.invalid);
    assert_string_equal(f->plan.basic_info.upc, "");
    f->item.upc = "12";
    f->cfg.sync_fields &= ~(unsigned)SYNC_UPC;
    assert_int_equal(plan(f), SCB_OK);
    assert_false(f->plan.invalid);
}

static void test_item_map__bad_upc_keeps_the_upc_last_written(void **state)
{
    struct fixture *f = *state;
    char *rec = NULL;

    plan_twice(f, &rec);
    f->item.upc = "012345678904";
    f->item.available_qty = 90;
    assert_int_equal(plan(f), SCB_OK);
    assert_true(f->plan.invalid);
    assert_true(f->plan.set_qty);
    assert_int_equal(f->plan.qty, 90);
    assert_false(f->plan.basic);
    free(rec);

    /* Sellercloud still holds the old UPC: fixed back, nothing to send. */
    rec = strdup(f->plan.record);
    assert_non_null(rec);
    f->in.last_written = rec;
    f->item.upc = "012345678905";
    assert_int_equal(plan(f), SCB_OK);
    assert_int_equal(f->plan.outcome, ITEM_MAP_UNCHANGED);
    assert_false(f->plan.invalid);
    free(rec);
}

static void test_item_map__bad_field_of_unchanged_item_is_still_reported(
    void **state)
{
    struct fixture *f = *state;
    char *rec = NULL;

    f->item.upc = "012345678904";
    plan_twice(f, &rec);
    assert_int_equal(plan(f), SCB_OK);
    assert_int_equal(f->plan.outcome, ITEM_MAP_UNCHANGED);
    assert_true(f->plan.invalid);
    assert_non_null(strstr(f->why, "upc 012345678904"));
    free(rec);
}

static void test_item_map__bad_upc_keeps_missing_product_uncreated(
    void **state)
{
    struct fixture *f = *state;

    f->in.exists = false;
    f->item.upc = "012345678904";
    assert_int_equal(plan(f), SCB_EINVAL);
    assert_non_null(strstr(f->why, "upc 012345678904"));
    assert_false(f->plan.create);
    assert_false(f->plan.set_qty);
    assert_null(f->plan.record);
}

static void test_item_map__name_over_250_chars_is_left_out(void **state)
{
    struct fixture *f = *state;
    char name[600];

    memset(name, 'x', 250);
    name[250] = '\0';
    f->item.description = name;
    assert_int_equal(plan(f), SCB_OK);
    assert_false(f->plan.invalid);

    name[250] = 'x';
    name[251] = '\0';
    assert_int_equal(plan(f), SCB_OK);
    assert_true(f->plan.invalid);
    assert_non_null(strstr(f->why, "description: longer than 250 "
                                   "characters"));
    assert_null(f->plan.basic_info.name);
    assert_true(f->plan.set_qty);
    assert_string_equal(f->plan.basic_info.upc, "012345678905");

    /* Characters, not bytes: 250 two-byte characters pass. */
    for (int i = 0; i < 250; i++) {
        name[2 * i] = (char)0xC3;
        name[2 * i + 1] = (char)0xA9;
    }
    name[500] = '\0';
    assert_int_equal(plan(f), SCB_OK);
    assert_false(f->plan.invalid);
}

static void test_item_map__bad_name_keeps_missing_product_uncreated(
    void **state)
{
    struct fixture *f = *state;
    char name[300];

    memset(name, 'x', 251);
    name[251] = '\0';
    f->item.description = name;
    f->in.exists = false;
    assert_int_equal(plan(f), SCB_EINVAL);
    assert_non_null(strstr(f->why, "description"));
    assert_false(f->plan.create);
    assert_null(f->plan.record);
}

static void test_item_map__long_description_over_64k_is_left_out(
    void **state)
{
    struct fixture *f = *state;
    char *ld = malloc(65538);

    assert_non_null(ld);
    memset(ld, 'y', 65536);
    ld[65536] = '\0';
    f->item.web_description = ld;
    assert_int_equal(plan(f), SCB_OK);
    assert_false(f->plan.invalid);
    ld[65536] = 'y';
    ld[65537] = '\0';
    assert_int_equal(plan(f), SCB_OK);
    assert_true(f->plan.invalid);
    assert_non_null(strstr(f->why, "web_description"));
    assert_null(f->plan.basic_info.long_description);
    assert_true(f->plan.set_qty);

    /* The create does not carry it: the product is still created. */
    f->in.exists = false;
    assert_int_equal(plan(f), SCB_OK);
    assert_true(f->plan.create);
    assert_true(f->plan.set_qty);
    assert_true(f->plan.invalid);
    assert_null(f->plan.basic_info.long_description);
    free(ld);
}

static void test_item_map__missing_or_bad_price_is_left_out(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[] = { "19", "19.999", "-1.00", "abc", "" };

    f->item.price = NULL;
    assert_int_equal(plan(f), SCB_OK);
    assert_true(f->plan.invalid);
    assert_non_null(strstr(f->why, "price: missing"));
    assert_false(f->plan.basic_info.has_price);
    assert_true(f->plan.set_qty);
    assert_null(strstr(f->plan.record, "price"));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f->item.price = bad[i];
        assert_int_equal(plan(f), SCB_OK);
        assert_true(f->plan.invalid);
        assert_non_null(strstr(f->why, "price"));
        assert_false(f->plan.basic_info.has_price);
        assert_true(f->plan.set_qty);
    }
    f->item.price = "0.00";
    assert_int_equal(plan(f), SCB_OK);
    assert_false(f->plan.invalid);
    assert_true(f->plan.basic_info.has_price);
}

static void test_item_map__bad_price_keeps_missing_product_uncreated(
    void **state)
{
    struct fixture *f = *state;

    f->in.exists = false;
    f->item.price = "-1.00";
    assert_int_equal(plan(f), SCB_EINVAL);
    assert_non_null(strstr(f->why, "price -1.00"));
    assert_null(f->plan.record);
}

static void test_item_map__missing_qty_is_left_out(void **state)
{
    struct fixture *f = *state;

    f->item.has_available_qty = false;
    assert_int_equal(plan(f), SCB_OK);
    assert_true(f->plan.invalid);
    assert_non_null(strstr(f->why, "available_qty"));
    assert_false(f->plan.set_qty);
    assert_true(f->plan.basic);
    assert_null(strstr(f->plan.record, "qty"));
    f->cfg.sync_fields &= ~(unsigned)SYNC_QTY;
    assert_int_equal(plan(f), SCB_OK);
    assert_false(f->plan.invalid);
    assert_false(f->plan.set_qty);
}

static void test_item_map__every_bad_field_is_named(void **state)
{
    struct fixture *f = *state;

    f->item.upc = "012345678904";
    f->item.price = "abc";
    assert_int_equal(plan(f), SCB_OK);
    assert_true(f->plan.invalid);
    assert_string_equal(f->why, "upc 012345678904: not 12 to 14 digits "
                                "with a GS1 check digit; price abc: not "
                                "an amount of 0 or more");
    assert_true(f->plan.set_qty);

    /* A short buffer keeps the first reasons, cut, still a string. */
    item_map_plan_release(&f->plan);
    assert_int_equal(item_map_plan(&f->cfg, &f->in, &f->plan, f->why, 10),
                     SCB_OK);
    assert_string_equal(f->why, "upc 01234");
}

static void test_item_map__unreadable_record_rewrites_all(void **state)
{
    struct fixture *f = *state;

    f->in.last_written = "{not json";
    assert_int_equal(plan(f), SCB_OK);
    assert_true(f->plan.basic);
    assert_true(f->plan.set_qty);
    f->in.last_written = "{\"v\":99,\"qty\":140}";
    assert_int_equal(plan(f), SCB_OK);
    assert_true(f->plan.set_qty);
}

static void test_item_map__record_ignored_when_product_missing(void **state)
{
    struct fixture *f = *state;
    char *rec = NULL;

    plan_twice(f, &rec);
    f->in.exists = false; /* deleted in Sellercloud since */
    assert_int_equal(plan(f), SCB_OK);
    assert_true(f->plan.create);
    assert_true(f->plan.set_qty);
    free(rec);
}

static void test_item_map__empty_name_never_clears_it(void **state)
{
    struct fixture *f = *state;

    f->item.description = "";
    f->item.web_description = "";
    assert_int_equal(plan(f), SCB_OK);
    assert_null(f->plan.basic_info.name);
    assert_string_equal(f->plan.basic_info.long_description, "");
}

static void test_item_map__allocation_failures_leak_nothing(void **state)
{
    struct fixture *f = *state;
    char *rec = NULL;
    enum scb_err err = SCB_ENOMEM;

    mem_install_hooks();
    plan_twice(f, &rec);
    f->item.price = "1.00";
    for (long n = 0; n < 1000 && err == SCB_ENOMEM; n++) {
        mem_fail_after(n);
        err = plan(f);
        mem_fail_after(-1);
        if (err)
            assert_int_equal(err, SCB_ENOMEM);
    }
    assert_int_equal(err, SCB_OK);
    assert_true(f->plan.basic_info.has_price);
    free(rec);
}

static void test_item_map__left_out_field_allocations_leak_nothing(
    void **state)
{
    struct fixture *f = *state;
    char *rec = NULL;
    enum scb_err err = SCB_ENOMEM;

    mem_install_hooks();
    plan_twice(f, &rec);
    f->item.upc = "012345678904";
    f->item.price = "";
    for (long n = 0; n < 1000 && err == SCB_ENOMEM; n++) {
        mem_fail_after(n);
        err = plan(f);
        mem_fail_after(-1);
        if (err)
            assert_int_equal(err, SCB_ENOMEM);
    }
    assert_int_equal(err, SCB_OK);
    assert_true(f->plan.invalid);
    assert_non_null(strstr(f->plan.record, "\"upc\""));
    assert_non_null(strstr(f->plan.record, "\"price\""));
    free(rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_item_map__skips_item_not_on_web),
        T(test_item_map__skips_other_warehouse),
        T(test_item_map__creates_missing_active_web_item),
        T(test_item_map__no_create_when_inactive),
        T(test_item_map__no_create_when_creation_off),
        T(test_item_map__inactive_existing_product_is_updated),
        T(test_item_map__create_uses_default_type),
        T(test_item_map__create_without_type_is_item_error),
        T(test_item_map__create_name_falls_back_to_sku),
        T(test_item_map__first_write_of_existing_product),
        T(test_item_map__unchanged_item_costs_no_writes),
        T(test_item_map__record_after_create_matches_update),
        T(test_item_map__changed_price_writes_site_price_only),
        T(test_item_map__changed_qty_writes_inventory_only),
        T(test_item_map__changed_uom_writes_that_column),
        T(test_item_map__stock_formula_example),
        T(test_item_map__negative_available_writes_zero),
        T(test_item_map__sync_fields_select_writes),
        T(test_item_map__new_sync_field_is_written),
        T(test_item_map__upc_check_digit),
        T(test_item_map__bad_upc_is_left_out_and_stock_written),
        T(test_item_map__bad_upc_keeps_the_upc_last_written),
        T(test_item_map__bad_field_of_unchanged_item_is_still_reported),
        T(test_item_map__bad_upc_keeps_missing_product_uncreated),
        T(test_item_map__name_over_250_chars_is_left_out),
        T(test_item_map__bad_name_keeps_missing_product_uncreated),
        T(test_item_map__long_description_over_64k_is_left_out),
        T(test_item_map__missing_or_bad_price_is_left_out),
        T(test_item_map__bad_price_keeps_missing_product_uncreated),
        T(test_item_map__missing_qty_is_left_out),
        T(test_item_map__every_bad_field_is_named),
        T(test_item_map__unreadable_record_rewrites_all),
        T(test_item_map__record_ignored_when_product_missing),
        T(test_item_map__empty_name_never_clears_it),
        T(test_item_map__allocation_failures_leak_nothing),
        T(test_item_map__left_out_field_allocations_leak_nothing),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
