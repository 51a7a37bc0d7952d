/* SPDX-License-Identifier: MIT */
/* Unit tests of the core modules: buf, log, money, jsonio, mem, err. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "jsonio.h"
#include "log.h"
#include "mem.h"
#include "money.h"

/* ---- buf ---- */

static void test_buf__appends_up_to_its_maximum(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 8);
    assert_null(b.data);
    assert_int_equal(buf_puts(&b, "abcd"), SCB_OK);
    assert_int_equal(buf_printf(&b, "%d%c", 12, 'x'), SCB_OK);
    assert_int_equal(buf_putc(&b, 'y'), SCB_OK);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "abcd12xy");
    buf_release(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.max, 8);
}

static void test_buf__too_big_leaves_buffer_unchanged(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 10);
    assert_int_equal(buf_puts(&b, "hello"), SCB_OK);
    assert_int_equal(buf_puts(&b, "worlds"), SCB_ETOOBIG);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "hello");
    assert_int_equal(buf_printf(&b, "%s", "123456"), SCB_ETOOBIG);
    assert_string_equal(b.data, "hello");
    assert_int_equal(buf_put_json_str(&b, "abcd"), SCB_ETOOBIG);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "hello");
    assert_int_equal(buf_append(&b, "x", SIZE_MAX), SCB_ETOOBIG);
    assert_string_equal(b.data, "hello");
    buf_release(&b);
}

static void test_buf__out_of_memory_leaves_buffer_unchanged(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 1 << 20);
    assert_int_equal(buf_puts(&b, "keep"), SCB_OK);
    mem_fail_after(0);
    assert_int_equal(buf_append(&b, "x", 1000), SCB_ENOMEM);
    mem_fail_after(-1);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "keep");
    buf_release(&b);
}

static void test_buf__escapes_json_control_characters(void **state)
{
    static const char in[] = "q\"b\\n\nr\rt\t\x01\x1f\x7f\xc3\xa9";
    struct buf b;

    (void)state;
    buf_init(&b, 256);
    assert_int_equal(buf_put_json_strn(&b, in, sizeof(in) - 1), SCB_OK);
    assert_string_equal(b.data, "\"q\\\"b\\\\n\\nr\\rt\\t\\u0001\\u001f"
                                "\\u007f\xc3\xa9\"");
    buf_reset(&b);
    assert_int_equal(buf_put_json_strn(&b, "a\0b", 3), SCB_OK);
    assert_string_equal(b.data, "\"a\\u0000b\"");
    buf_reset(&b);
    assert_int_equal(buf_put_json_str(&b, NULL), SCB_OK);
    assert_string_equal(b.data, "\"\"");
    buf_release(&b);
}

static void test_buf__steal_hands_over_and_empties(void **state)
{
    struct buf b;
    char *s;

    (void)state;
    buf_init(&b, 64);
    s = buf_steal(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    mem_free(s);
    assert_int_equal(buf_puts(&b, "abc"), SCB_OK);
    s = buf_steal(&b);
    assert_string_equal(s, "abc");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    mem_free(s);
    assert_int_equal(buf_puts(&b, "abc"), SCB_OK);
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    buf_release(&b);
}

/* ---- log ---- */

/* A temporary file the logger writes to, read back line by line. */
struct logcap {
    char path[64];
    int fd;
    char text[16384];
    size_t len;
};

static void logcap_start(struct logcap *c, enum log_level level)
{
    snprintf(c->path, sizeof(c->path), "/tmp/scb-test-log.XXXXXX");
    c->fd = mkstemp(c->path);
    assert_true(c->fd >= 0);
    log_init(level, c->fd);
}

static const char *logcap_stop(struct logcap *c)
{
    ssize_t n;

    log_init(LOG_INFO, 1);
    assert_int_equal(lseek(c->fd, 0, SEEK_SET), 0);
    n = read(c->fd, c->text, sizeof(c->text) - 1);
    assert_true(n >= 0);
    c->len = (size_t)n;
    c->text[c->len] = '\0';
    close(c->fd);
    unlink(c->path);
    return c->text;
}

/* Line 'i' of the capture, parsed; free with cJSON_Delete(). */
static cJSON *logcap_line(const struct logcap *c, int i, size_t *out_len)
{
    const char *p = c->text, *nl;
    cJSON *root = NULL;

    for (; i > 0; i--) {
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    nl = strchr(p, '\n');
    assert_non_null(nl);
    if (jsonio_parse(p, (size_t)(nl - p), 1 << 20, &root) != SCB_OK)
        fail_msg("not JSON: %.*s", (int)(nl - p), p);
    if (out_len)
        *out_len = (size_t)(nl - p) + 1;
    return root;
}

static size_t logcap_lines(const struct logcap *c)
{
    size_t n = 0;

    for (size_t i = 0; i < c->len; i++)
        n += c->text[i] == '\n';
    return n;
}

static void test_log__writes_one_json_object_per_line(void **state)
{
    struct logcap c;
    cJSON *line;
    const char *ts;
    bool b;
    int64_t v;

    (void)state;
    logcap_start(&c, LOG_DEBUG);
    log_info("store", "command failed", LOG_STR("cmd", "GET"),
             LOG_INT("ms", 12), LOG_BOOL("retry", true), LOG_DBL("ratio", 0.5),
             LOG_STR("none", NULL));
    log_debug("core", "second");
    logcap_stop(&c);
    assert_int_equal(logcap_lines(&c), 2);
    line = logcap_line(&c, 0, NULL);
    assert_int_equal(jsonio_get_str(line, "ts", &ts), SCB_OK);
    assert_int_equal(strlen(ts), 24);
    assert_int_equal(ts[10], 'T');
    assert_int_equal(ts[23], 'Z');
    assert_string_equal(jsonio_str_or(line, "level", ""), "info");
    assert_string_equal(jsonio_str_or(line, "mod", ""), "store");
    assert_string_equal(jsonio_str_or(line, "msg", ""), "command failed");
    assert_string_equal(jsonio_str_or(line, "cmd", ""), "GET");
    assert_int_equal(jsonio_get_i64(line, "ms", 0, 100, &v), SCB_OK);
    assert_int_equal(v, 12);
    assert_int_equal(jsonio_get_bool(line, "retry", &b), SCB_OK);
    assert_true(b);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(line, "none")));
    /* Keys in order: ts, level, mod, msg, then the fields. */
    assert_string_equal(line->child->string, "ts");
    assert_string_equal(line->child->next->string, "level");
    assert_string_equal(line->child->next->next->string, "mod");
    assert_string_equal(line->child->next->next->next->string, "msg");
    assert_string_equal(line->child->next->next->next->next->string, "cmd");
    cJSON_Delete(line);
    line = logcap_line(&c, 1, NULL);
    assert_string_equal(jsonio_str_or(line, "level", ""), "debug");
    cJSON_Delete(line);
}

static void test_log__escapes_strings(void **state)
{
    static const char nasty[] = "a\"b\\c\nd\re\tf\x01g\x7f";
    struct logcap c;
    cJSON *line;

    (void)state;
    logcap_start(&c, LOG_INFO);
    log_warn("m\"od", nasty, LOG_STR("k\ney", nasty));
    logcap_stop(&c);
    assert_int_equal(logcap_lines(&c), 1);
    line = logcap_line(&c, 0, NULL);
    assert_string_equal(jsonio_str_or(line, "mod", ""), "m\"od");
    assert_string_equal(jsonio_str_or(line, "msg", ""), nasty);
    assert_string_equal(jsonio_str_or(line, "k\ney", ""), nasty);
    cJSON_Delete(line);
}

static void test_log__truncates_at_4k_as_valid_json(void **state)
{
    struct logcap c;
    char *big = malloc(6000);
    cJSON *line;
    size_t len;
    bool truncated = false;

    (void)state;
    assert_non_null(big);
    memset(big, 'x', 5999);
    big[5999] = '\0';
    logcap_start(&c, LOG_INFO);
    log_error("mod", "big", LOG_STR("req", "r1"), LOG_STR("body", big),
              LOG_INT("after", 1));
    /* Escapes that grow six-fold must not break the line either. */
    memset(big, '\x01', 1000);
    big[1000] = '\0';
    log_error("mod", "big", LOG_STR("ctl", big));
    logcap_stop(&c);
    free(big);
    assert_int_equal(logcap_lines(&c), 2);
    for (int i = 0; i < 2; i++) {
        line = logcap_line(&c, i, &len);
        assert_true(len <= 4096);
        assert_int_equal(jsonio_get_bool(line, "truncated", &truncated),
                         SCB_OK);
        assert_true(truncated);
        assert_string_equal(jsonio_str_or(line, "msg", ""), "big");
        cJSON_Delete(line);
    }
    line = logcap_line(&c, 0, NULL);
    assert_string_equal(jsonio_str_or(line, "req", ""), "r1");
    assert_null(cJSON_GetObjectItemCaseSensitive(line, "body"));
    cJSON_Delete(line);
}

static void test_log__filters_by_level(void **state)
{
    struct logcap c;
    enum log_level l = LOG_DEBUG;
    cJSON *line;

    (void)state;
    logcap_start(&c, LOG_WARN);
    assert_false(log_enabled(LOG_INFO));
    assert_true(log_enabled(LOG_WARN));
    assert_true(log_enabled(LOG_ERROR));
    log_debug("m", "no");
    log_info("m", "no");
    log_warn("m", "yes");
    log_error("m", "yes");
    logcap_stop(&c);
    assert_int_equal(logcap_lines(&c), 2);
    line = logcap_line(&c, 0, NULL);
    assert_string_equal(jsonio_str_or(line, "level", ""), "warn");
    cJSON_Delete(line);
    assert_true(log_level_parse("error", &l));
    assert_int_equal(l, LOG_ERROR);
    assert_false(log_level_parse("ERROR", &l));
    assert_false(log_level_parse("", &l));
    assert_int_equal(l, LOG_ERROR);
}

/* ---- money ---- */

static int64_t cents_of(double v)
{
    int64_t c = -1;

    assert_int_equal(money_from_double(v, &c), SCB_OK);
    return c;
}

static void test_money__converts_doubles_to_cents(void **state)
{
    int64_t c = 42;

    (void)state;
    assert_int_equal(cents_of(0.1 + 0.2), 30);
    assert_int_equal(cents_of(19.99 * 3), 5997);
    assert_int_equal(cents_of(19.99), 1999);
    assert_int_equal(cents_of(0.0), 0);
    assert_int_equal(cents_of(-19.99), -1999);
    assert_int_equal(cents_of(-0.1 - 0.2), -30);
    assert_int_equal(cents_of(1234567890.12), 123456789012);
    assert_int_equal(cents_of(999999999999.99), 99999999999999);
    assert_int_equal(cents_of(-999999999999.99), -99999999999999);
    assert_int_equal(money_from_double(1e13, &c), SCB_EINVAL);
    assert_int_equal(money_from_double(-1e13, &c), SCB_EINVAL);
    assert_int_equal(money_from_double(NAN, &c), SCB_EINVAL);
    assert_int_equal(money_from_double(INFINITY, &c), SCB_EINVAL);
    assert_int_equal(c, 42);
}

static void test_money__formats_two_decimals(void **state)
{
    char out[MONEY_STR_MAX];

    (void)state;
    money_format(0, out);
    assert_string_equal(out, "0.00");
    money_format(5, out);
    assert_string_equal(out, "0.05");
    money_format(-5, out);
    assert_string_equal(out, "-0.05");
    money_format(5997, out);
    assert_string_equal(out, "59.97");
    money_format(-123456789012, out);
    assert_string_equal(out, "-1234567890.12");
    money_format(99999999999999, out);
    assert_string_equal(out, "999999999999.99");
    money_format(INT64_MIN, out);
    assert_string_equal(out, "-92233720368547758.08");
}

static void test_money__parses_one_or_two_decimals(void **state)
{
    int64_t c = 0;

    (void)state;
    assert_int_equal(money_parse("19.9", &c), SCB_OK);
    assert_int_equal(c, 1990);
    assert_int_equal(money_parse("19.95", &c), SCB_OK);
    assert_int_equal(c, 1995);
    assert_int_equal(money_parse("0.05", &c), SCB_OK);
    assert_int_equal(c, 5);
    assert_int_equal(money_parse("-12.30", &c), SCB_OK);
    assert_int_equal(c, -1230);
    assert_int_equal(money_parse("9999999999999.99", &c), SCB_OK);
    assert_int_equal(c, 999999999999999);
}

static void test_money__rejects_other_forms(void **state)
{
    static const char *const bad[] = {
        "19",   "19.999", "1e3",   " 1.00",  "",
        "19.",  ".5",     "1.00 ", "--1.00", "+1.00",
        "1,00", "abc",    "-",     "-.5",    "12345678901234.00",
    };
    int64_t c = 77;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (money_parse(bad[i], &c) != SCB_EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
    }
    assert_int_equal(c, 77);
}

/* ---- jsonio ---- */

static void test_jsonio__parses_within_the_limit(void **state)
{
    static const char text[] = "{\"a\":1}";
    cJSON *root = NULL;

    (void)state;
    assert_int_equal(jsonio_parse(text, 7, 7, &root), SCB_OK);
    assert_non_null(root);
    cJSON_Delete(root);
    root = NULL;
    assert_int_equal(jsonio_parse(text, 7, 6, &root), SCB_ETOOBIG);
    assert_null(root);
    /* Only 'len' bytes are read: no NUL is needed after them. */
    assert_int_equal(jsonio_parse("[1]garbage", 3, 100, &root), SCB_OK);
    cJSON_Delete(root);
}

static void test_jsonio__rejects_malformed_input(void **state)
{
    static const char *const bad[] = {
        "", "{", "{\"a\":1}x", "1 2", "{'a':1}", "nul", "[1,]",
    };
    cJSON *root = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (jsonio_parse(bad[i], strlen(bad[i]), 100, &root) != SCB_EPARSE)
            fail_msg("'%s' was parsed", bad[i]);
    }
    assert_int_equal(jsonio_parse("{\"a\":\"x\0y\"}", 11, 100, &root),
                     SCB_EPARSE);
    assert_int_equal(jsonio_parse("{}\0", 3, 100, &root), SCB_EPARSE);
    assert_null(root);
}

static cJSON *parse(const char *text)
{
    cJSON *root = NULL;

    assert_int_equal(jsonio_parse(text, strlen(text), 4096, &root), SCB_OK);
    return root;
}

static void test_jsonio__typed_getters_check_types(void **state)
{
    cJSON *o = parse("{\"s\":\"x\",\"n\":42,\"f\":1.5,\"b\":false,"
                     "\"z\":null,\"big\":9007199254740993,"
                     "\"neg\":-3,\"price\":19.99}");
    const char *s = "unset";
    int64_t v = -1;
    bool b = true;

    (void)state;
    assert_int_equal(jsonio_get_str(o, "s", &s), SCB_OK);
    assert_string_equal(s, "x");
    s = "unset";
    assert_int_equal(jsonio_get_str(o, "n", &s), SCB_EINVAL);
    assert_int_equal(jsonio_get_str(o, "z", &s), SCB_EINVAL);
    assert_int_equal(jsonio_get_str(o, "missing", &s), SCB_EINVAL);
    assert_string_equal(s, "unset");
    assert_int_equal(jsonio_get_i64(o, "n", 0, 100, &v), SCB_OK);
    assert_int_equal(v, 42);
    v = -1;
    assert_int_equal(jsonio_get_i64(o, "n", 0, 41, &v), SCB_EINVAL);
    assert_int_equal(jsonio_get_i64(o, "f", 0, 100, &v), SCB_EINVAL);
    assert_int_equal(jsonio_get_i64(o, "s", 0, 100, &v), SCB_EINVAL);
    assert_int_equal(jsonio_get_i64(o, "big", 0, INT64_MAX, &v), SCB_EINVAL);
    assert_int_equal(jsonio_get_i64(o, "neg", 0, 100, &v), SCB_EINVAL);
    assert_int_equal(v, -1);
    assert_int_equal(jsonio_get_bool(o, "b", &b), SCB_OK);
    assert_false(b);
    assert_int_equal(jsonio_get_bool(o, "n", &b), SCB_EINVAL);
    assert_int_equal(jsonio_get_cents(o, "price", &v), SCB_OK);
    assert_int_equal(v, 1999);
    assert_int_equal(jsonio_get_cents(o, "s", &v), SCB_EINVAL);
    assert_string_equal(jsonio_str_or(o, "n", "dflt"), "dflt");
    assert_string_equal(jsonio_str_or(o, "s", "dflt"), "x");
    assert_int_equal(jsonio_i64_or(o, "f", 7), 7);
    assert_int_equal(jsonio_i64_or(o, "neg", 7), -3);
    cJSON_Delete(o);
}

static void test_jsonio__prints_compactly(void **state)
{
    cJSON *o = parse("{ \"a\" : [ 1, \"b\" ] }");
    char *text = jsonio_print(o);

    (void)state;
    assert_string_equal(text, "{\"a\":[1,\"b\"]}");
    cJSON_free(text);
    cJSON_Delete(o);
}

static void test_jsonio__survives_allocation_failures(void **state)
{
    static const char text[] = "{\"a\":[1,2,{\"b\":\"c\"}],\"d\":\"e\"}";
    enum scb_err err = SCB_ENOMEM;
    cJSON *root = NULL;
    long n;

    (void)state;
    for (n = 0; err == SCB_ENOMEM && n < 1000; n++) {
        mem_fail_after(n);
        err = jsonio_parse(text, sizeof(text) - 1, 100, &root);
        mem_fail_after(-1);
        assert_true(err == SCB_OK || err == SCB_ENOMEM || err == SCB_EPARSE);
        if (err == SCB_EPARSE)
            err = SCB_ENOMEM; /* cJSON reports its own OOM as a failure */
    }
    assert_int_equal(err, SCB_OK);
    assert_true(n > 3);
    cJSON_Delete(root);
}

/* ---- mem and err ---- */

static void test_mem__fails_after_the_given_count(void **state)
{
    void *a, *b, *c;
    char *s;

    (void)state;
    mem_fail_after(2);
    a = mem_malloc(8);
    b = mem_calloc(2, 8);
    c = mem_malloc(8);
    s = mem_strdup("x");
    mem_fail_after(-1);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(c);
    assert_null(s);
    assert_int_equal(((unsigned char *)b)[15], 0);
    mem_free(a);
    mem_free(b);
    s = mem_strndup("abcdef", 3);
    assert_string_equal(s, "abc");
    mem_free_secret(s, 4);
    mem_free_secret(NULL, 10);
    mem_free(NULL);
}

static void test_err__every_code_has_its_own_text(void **state)
{
    (void)state;
    assert_string_equal(scb_strerror(SCB_OK), "ok");
    for (int i = 0; i < SCB_ERR_COUNT; i++) {
        assert_non_null(scb_strerror((enum scb_err)i));
        assert_string_not_equal(scb_strerror((enum scb_err)i), "unknown error");
        for (int k = 0; k < i; k++)
            assert_string_not_equal(scb_strerror((enum scb_err)i),
                                    scb_strerror((enum scb_err)k));
    }
    assert_string_equal(scb_strerror(SCB_ERR_COUNT), "unknown error");
    assert_string_equal(scb_strerror((enum scb_err) - 1), "unknown error");
}

static int group_setup(void **state)
{
    (void)state;
    mem_install_hooks();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf__appends_up_to_its_maximum),
        cmocka_unit_test(test_buf__too_big_leaves_buffer_unchanged),
        cmocka_unit_test(test_buf__out_of_memory_leaves_buffer_unchanged),
        cmocka_unit_test(test_buf__escapes_json_control_characters),
        cmocka_unit_test(test_buf__steal_hands_over_and_empties),
        cmocka_unit_test(test_log__writes_one_json_object_per_line),
        cmocka_unit_test(test_log__escapes_strings),
        cmocka_unit_test(test_log__truncates_at_4k_as_valid_json),
        cmocka_unit_test(test_log__filters_by_level),
        cmocka_unit_test(test_money__converts_doubles_to_cents),
        cmocka_unit_test(test_money__formats_two_decimals),
        cmocka_unit_test(test_money__parses_one_or_two_decimals),
        cmocka_unit_test(test_money__rejects_other_forms),
        cmocka_unit_test(test_jsonio__parses_within_the_limit),
        cmocka_unit_test(test_jsonio__rejects_malformed_input),
        cmocka_unit_test(test_jsonio__typed_getters_check_types),
        cmocka_unit_test(test_jsonio__prints_compactly),
        cmocka_unit_test(test_jsonio__survives_allocation_failures),
        cmocka_unit_test(test_mem__fails_after_the_given_count),
        cmocka_unit_test(test_err__every_code_has_its_own_text),
    };

    return cmocka_run_group_tests(tests, group_setup, NULL);
}
