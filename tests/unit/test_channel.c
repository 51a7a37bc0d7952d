/* SPDX-License-Identifier: MIT */
/* Unit tests of channel: the OrderSource table, setting names, DDI names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "channel.h"
#include "jsonio.h"
#include "mem.h"

/*
 * The Swagger is read from the shared contracts, which sit beside the
 * repository (../shared), or where SCB_SHARED_DIR says.
 */
#define SWAGGER "contracts/sellercloud-swagger-2022.json"
#define SWAGGER_MAX (16u << 20)

static void test_channel__names_the_common_channels(void **state)
{
    (void)state;
    assert_string_equal(channel_enum_name(0), "Local_Store");
    assert_string_equal(channel_enum_name(1), "eBayOrder");
    assert_string_equal(channel_enum_name(2), "eBaySingleItem");
    assert_string_equal(channel_enum_name(4), "Amazon");
    assert_string_equal(channel_enum_name(6), "Website");
    assert_string_equal(channel_enum_name(15), "Magento");
    assert_string_equal(channel_enum_name(20), "FBA");
    assert_string_equal(channel_enum_name(21), "Wholesale");
    assert_string_equal(channel_enum_name(24), "Etsy");
    assert_string_equal(channel_enum_name(42), "Walmart");
    assert_string_equal(channel_enum_name(50), "Walmart_Marketplace");
    assert_string_equal(channel_enum_name(62), "Target");
    assert_string_equal(channel_enum_name(79), "WFS");
}

static void test_channel__unknown_values_have_no_name(void **state)
{
    static const int unknown[] = { -1, 8, 9, 10, 11, 13, 14, 80, 1000 };

    (void)state;
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_null(channel_enum_name(unknown[i]));
        assert_false(channel_is_known(unknown[i]));
        assert_null(channel_ddi_name(unknown[i]));
    }
}

static void test_channel__has_74_distinct_values_and_names(void **state)
{
    (void)state;
    assert_int_equal(channel_value_at(CHANNEL_COUNT), -1);
    for (size_t i = 0; i < CHANNEL_COUNT; i++) {
        int v = channel_value_at(i);
        const char *name = channel_enum_name(v);

        assert_true(v >= 0);
        assert_non_null(name);
        assert_true(strlen(name) <= CHANNEL_NAME_MAX);
        for (size_t k = 0; k < i; k++) {
            assert_int_not_equal(channel_value_at(k), v);
            assert_int_not_equal(
                strcasecmp(channel_enum_name(channel_value_at(k)), name), 0);
        }
    }
}

static FILE *open_swagger(void)
{
    const char *dir = getenv("SCB_SHARED_DIR");
    char path[512];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "../shared", SWAGGER);
    fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s: run from the repository root with the "
                 "shared files beside it, or set SCB_SHARED_DIR",
                 path);
    return fp;
}

static cJSON *load_swagger(void)
{
    FILE *fp = open_swagger();
    char *text = malloc(SWAGGER_MAX);
    size_t len;
    cJSON *root = NULL;

    assert_non_null(text);
    len = fread(text, 1, SWAGGER_MAX, fp);
    fclose(fp);
    assert_true(len > 0 && len < SWAGGER_MAX);
    assert_int_equal(jsonio_parse(text, len, SWAGGER_MAX, &root), SCB_OK);
    free(text);
    return root;
}

/* The model.channel parameter of GET /api/Orders. */
static const cJSON *orders_channel_param(const cJSON *root)
{
    const cJSON *params, *p;

    params = cJSON_GetObjectItemCaseSensitive(root, "paths");
    params = cJSON_GetObjectItemCaseSensitive(params, "/api/Orders");
    params = cJSON_GetObjectItemCaseSensitive(params, "get");
    params = cJSON_GetObjectItemCaseSensitive(params, "parameters");
    cJSON_ArrayForEach (p, params) {
        const char *name = jsonio_str_or(p, "name", "");

        if (strcmp(name, "model.channel") == 0)
            return p;
    }
    fail_msg("no model.channel parameter in the Swagger");
    return NULL;
}

static void test_channel__table_matches_the_swagger(void **state)
{
    cJSON *root = load_swagger();
    const cJSON *p = orders_channel_param(root);
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(p, "enum");
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(p, "x-enumNames");

    (void)state;
    assert_int_equal(cJSON_GetArraySize(values), CHANNEL_COUNT);
    assert_int_equal(cJSON_GetArraySize(names), CHANNEL_COUNT);
    for (int i = 0; i < CHANNEL_COUNT; i++) {
        const cJSON *v = cJSON_GetArrayItem(values, i);
        const cJSON *n = cJSON_GetArrayItem(names, i);

        assert_true(cJSON_IsNumber(v) && cJSON_IsString(n));
        assert_int_equal(channel_value_at((size_t)i), v->valueint);
        assert_string_equal(channel_enum_name(v->valueint), n->valuestring);
    }
    cJSON_Delete(root);
}

static void expect_one(const char *name, int value)
{
    int ch[2] = { -7, -7 }, n = -7;

    if (!channel_resolve(name, ch, &n))
        fail_msg("'%s' did not resolve", name);
    assert_int_equal(n, 1);
    assert_int_equal(ch[0], value);
}

static void expect_two(const char *name, int a, int b)
{
    int ch[2] = { -7, -7 }, n = -7;

    if (!channel_resolve(name, ch, &n))
        fail_msg("'%s' did not resolve", name);
    assert_int_equal(n, 2);
    assert_int_equal(ch[0], a);
    assert_int_equal(ch[1], b);
}

static void test_channel__resolves_every_name_and_integer(void **state)
{
    char upper[CHANNEL_NAME_MAX + 1], num[16];

    (void)state;
    for (size_t i = 0; i < CHANNEL_COUNT; i++) {
        int v = channel_value_at(i);
        const char *name = channel_enum_name(v);

        snprintf(num, sizeof(num), "%d", v);
        expect_one(num, v);
        if (v == 42)
            continue; /* "Walmart" is the alias */
        expect_one(name, v);
        for (size_t k = 0; k <= strlen(name); k++)
            upper[k] = (char)(name[k] >= 'a' && name[k] <= 'z'
                                  ? name[k] - 'a' + 'A'
                                  : name[k]);
        expect_one(upper, v);
    }
}

static void test_channel__resolves_the_aliases(void **state)
{
    (void)state;
    expect_two("eBay", 1, 2);
    expect_two("EBAY", 1, 2);
    expect_two("Walmart", 42, 50);
    expect_two("walmart", 42, 50);
    expect_one("42", 42);
    expect_one("50", 50);
    expect_one("Walmart_Marketplace", 50);
    expect_one("ebayorder", 1);
    expect_one("amazon", 4);
}

static void test_channel__refuses_unknown_names(void **state)
{
    static const char *const bad[] = {
        "",
        "Atlantis",
        "8",
        "-1",
        "+4",
        "4 ",
        " 4",
        "0x4",
        "4.0",
        "Amazon ",
        "eBay,Amazon",
        "1234567890",
        "Walmart Marketplace",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    int ch[2] = { -7, -7 }, n = -7;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (channel_resolve(bad[i], ch, &n))
            fail_msg("'%s' resolved", bad[i]);
    }
    assert_false(channel_resolve(NULL, ch, &n));
    /* Outputs are left alone on failure. */
    assert_int_equal(ch[0], -7);
    assert_int_equal(ch[1], -7);
    assert_int_equal(n, -7);
}

static void test_channel__ddi_name_uses_the_alias(void **state)
{
    (void)state;
    assert_string_equal(channel_ddi_name(1), "eBay");
    assert_string_equal(channel_ddi_name(2), "eBay");
    assert_string_equal(channel_ddi_name(42), "Walmart");
    assert_string_equal(channel_ddi_name(50), "Walmart");
    assert_string_equal(channel_ddi_name(4), "Amazon");
    assert_string_equal(channel_ddi_name(79), "WFS");
    assert_string_equal(channel_ddi_name(0), "Local_Store");
    for (size_t i = 0; i < CHANNEL_COUNT; i++)
        assert_non_null(channel_ddi_name(channel_value_at(i)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_channel__names_the_common_channels),
        cmocka_unit_test(test_channel__unknown_values_have_no_name),
        cmocka_unit_test(test_channel__has_74_distinct_values_and_names),
        cmocka_unit_test(test_channel__table_matches_the_swagger),
        cmocka_unit_test(test_channel__resolves_every_name_and_integer),
        cmocka_unit_test(test_channel__resolves_the_aliases),
        cmocka_unit_test(test_channel__refuses_unknown_names),
        cmocka_unit_test(test_channel__ddi_name_uses_the_alias),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
