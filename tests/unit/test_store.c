/* SPDX-License-Identifier: MIT */
/* Unit tests of the Redis wrapper against the Redis of the tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "store.h"

#define TEST_USER "scbtest-user"
#define TEST_PASS "scbtest-secret-pw-42"

static const struct store_script test_script_echo = {
    "test_echo",
    "return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}",
};

static const struct store_script test_script_fail = {
    "test_fail",
    "return redis.error_reply('TESTFAIL it failed')",
};

/* Fills the Redis part of 'cfg' from SCB_TEST_REDIS_URL. */
static void test_config(struct config *cfg)
{
    const char *url = getenv("SCB_TEST_REDIS_URL");
    char host[128] = "";
    int port = 0, db = 0;

    if (!url) {
        fail_msg("SCB_TEST_REDIS_URL is not set (scripts/run-tests.sh "
                 "sets it)");
        return;
    }
    if (sscanf(url, "redis://%127[^:]:%d/%d", host, &port, &db) < 2)
        fail_msg("cannot read SCB_TEST_REDIS_URL %s", url);
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->redis_host, sizeof(cfg->redis_host), "%s", host);
    cfg->redis_port = port;
    cfg->redis_db = db;
    snprintf(cfg->redis_prefix, sizeof(cfg->redis_prefix), "st:");
}

static int setup(void **state)
{
    struct config *cfg = mem_calloc(1, sizeof(*cfg));

    log_init(LOG_ERROR, 1);
    test_config(cfg);
    *state = cfg;
    return 0;
}

static int teardown(void **state)
{
    mem_free(*state);
    metrics_reset();
    return 0;
}

static void test_store__connects_and_pings(void **state)
{
    struct store *st = store_new(*state);

    assert_non_null(st);
    assert_false(store_connected(st));
    assert_int_equal(store_ping(st), SCB_OK);
    assert_true(store_connected(st));
    assert_string_equal(store_errstr(st), "");
    store_free(st);
}

static void test_store__key_has_prefix_and_schema(void **state)
{
    struct store *st = store_new(*state);
    struct buf b;

    buf_init(&b, 256);
    assert_int_equal(store_key(st, &b, "order:%d", 42), SCB_OK);
    assert_string_equal(b.data, "st:v1:order:42");
    assert_string_equal(store_prefix(st), "st:v1:");
    buf_release(&b);
    store_free(st);
}

static void test_store__error_reply_keeps_connection(void **state)
{
    struct store *st = store_new(*state);
    redisReply *r = NULL;

    assert_int_equal(store_cmd(st, &r, "NOSUCHCOMMAND x"), SCB_ESTORECMD);
    assert_null(r);
    assert_non_null(strstr(store_errstr(st), "unknown command"));
    assert_true(store_connected(st));
    assert_int_equal(store_ping(st), SCB_OK);
    store_free(st);
}

static long long test_client_id(struct store *st)
{
    redisReply *r = NULL;
    long long id;

    assert_int_equal(store_cmd(st, &r, "CLIENT ID"), SCB_OK);
    id = r->integer;
    freeReplyObject(r);
    return id;
}

static void test_store__broken_link_reconnects_on_next_call(void **state)
{
    struct store *st = store_new(*state);
    struct store *killer = store_new(*state);
    redisReply *r = NULL;
    long long id = test_client_id(st);

    assert_int_equal(store_cmd(killer, &r, "CLIENT KILL ID %lld", id), SCB_OK);
    freeReplyObject(r);
    assert_int_equal(store_ping(st), SCB_ESTORE);
    assert_false(store_connected(st));
    assert_int_equal(store_ping(st), SCB_OK);
    assert_true(test_client_id(st) != id);
    store_free(killer);
    store_free(st);
}

static void test_store__unreachable_is_estore(void **state)
{
    struct config cfg = *(struct config *)*state;
    struct store *st;

    cfg.redis_port = 1; /* nothing listens on port 1 of the loopback */
    st = store_new(&cfg);
    assert_int_equal(store_ping(st), SCB_ESTORE);
    assert_non_null(strstr(store_errstr(st), "connect"));
    assert_false(store_connected(st));
    store_free(st);
}

static void test_store__eval_runs_after_script_flush(void **state)
{
    struct store *st = store_new(*state);
    const char *argv[] = { "k1", "a1", "41" };
    redisReply *r = NULL;

    for (int round = 0; round < 3; round++) {
        assert_int_equal(
            store_eval(st, &test_script_echo, &r, 1, 3, argv, NULL), SCB_OK);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_string_equal(r->element[0]->str, "k1");
        assert_string_equal(r->element[1]->str, "a1");
        assert_int_equal(r->element[2]->integer, 42);
        freeReplyObject(r);
        /* Redis forgets every script, as after a restart. */
        assert_int_equal(store_cmd(st, &r, "SCRIPT FLUSH"), SCB_OK);
        freeReplyObject(r);
    }
    store_free(st);
}

static void test_store__eval_error_is_estorecmd(void **state)
{
    struct store *st = store_new(*state);
    redisReply *r = NULL;

    assert_int_equal(store_eval(st, &test_script_fail, &r, 0, 0, NULL, NULL),
                     SCB_ESTORECMD);
    assert_null(r);
    assert_non_null(strstr(store_errstr(st), "TESTFAIL"));
    assert_true(store_connected(st));
    store_free(st);
}

static void test_store__eval_takes_many_binary_arguments(void **state)
{
    static const struct store_script count = {
        "test_count", "return {#ARGV, string.len(ARGV[#ARGV])}"
    };
    struct store *st = store_new(*state);
    const char *argv[100];
    size_t len[100];
    redisReply *r = NULL;

    for (int i = 0; i < 100; i++) {
        argv[i] = "a\0b";
        len[i] = 3;
    }
    assert_int_equal(store_eval(st, &count, &r, 0, 100, argv, len), SCB_OK);
    assert_int_equal(r->element[0]->integer, 100);
    assert_int_equal(r->element[1]->integer, 3);
    freeReplyObject(r);
    store_free(st);
}

static void acl_user(struct store *admin, bool add)
{
    redisReply *r = NULL;

    if (add)
        assert_int_equal(store_cmd(admin, &r,
                                   "ACL SETUSER %s on >%s ~* &* "
                                   "+@all",
                                   TEST_USER, TEST_PASS),
                         SCB_OK);
    else
        assert_int_equal(store_cmd(admin, &r, "ACL DELUSER %s", TEST_USER),
                         SCB_OK);
    freeReplyObject(r);
}

static void test_store__acl_user_authenticates(void **state)
{
    struct config cfg = *(struct config *)*state;
    struct store *admin = store_new(*state);
    struct store *st;
    char user[] = TEST_USER, good[] = TEST_PASS, bad[] = "not-the-password";

    acl_user(admin, true);
    cfg.redis_user = user;
    cfg.redis_password = good;
    st = store_new(&cfg);
    assert_int_equal(store_ping(st), SCB_OK);
    store_free(st);
    cfg.redis_password = bad;
    st = store_new(&cfg);
    assert_int_equal(store_ping(st), SCB_EAUTH);
    assert_false(store_connected(st));
    assert_null(strstr(store_errstr(st), bad));
    assert_null(strstr(store_errstr(st), TEST_PASS));
    store_free(st);
    acl_user(admin, false);
    store_free(admin);
}

static void test_store__selects_the_database(void **state)
{
    struct config cfg = *(struct config *)*state;
    struct store *db0 = store_new(*state);
    struct store *db3;
    redisReply *r = NULL;

    cfg.redis_db = 3;
    db3 = store_new(&cfg);
    assert_int_equal(store_cmd(db3, &r, "SET st:v1:dbtest x"), SCB_OK);
    freeReplyObject(r);
    assert_int_equal(store_cmd(db0, &r, "EXISTS st:v1:dbtest"), SCB_OK);
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    assert_int_equal(store_cmd(db3, &r, "DEL st:v1:dbtest"), SCB_OK);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    store_free(db3);
    store_free(db0);
}

static bool metric_has(const char *needle)
{
    struct buf b;
    bool found;

    buf_init(&b, 1 << 20);
    assert_int_equal(metrics_render(&b), SCB_OK);
    found = b.data && strstr(b.data, needle);
    buf_release(&b);
    return found;
}

static void set_policy(struct store *st, const char *policy)
{
    redisReply *r = NULL;

    assert_int_equal(
        store_cmd(st, &r, "CONFIG SET maxmemory-policy %s", policy), SCB_OK);
    freeReplyObject(r);
}

static void test_store__config_checks_set_warning_metric(void **state)
{
    struct store *admin = store_new(*state);
    struct store *st;
    redisReply *r = NULL;

    assert_int_equal(store_cmd(admin, &r, "CONFIG SET appendonly no"), SCB_OK);
    freeReplyObject(r);
    set_policy(admin, "allkeys-lru");
    st = store_new(*state);
    assert_int_equal(store_ping(st), SCB_OK);
    assert_true(metric_has("scbridge_redis_config_warning{check=\"aof\"} 1"));
    assert_true(metric_has("{check=\"maxmemory_policy\"} 1"));
    store_free(st);
    set_policy(admin, "noeviction");
    st = store_new(*state);
    assert_int_equal(store_ping(st), SCB_OK);
    assert_true(metric_has("{check=\"maxmemory_policy\"} 0"));
    store_free(st);
    store_free(admin);
}

static void test_store__reply_timeout_breaks_the_link(void **state)
{
    struct store *st = store_new(*state);
    redisReply *r = NULL;

    store_set_timeout_ms(st, 200);
    assert_int_equal(store_cmd(st, &r, "BLPOP st:v1:nothing 2"), SCB_ESTORE);
    assert_false(store_connected(st));
    store_set_timeout_ms(st, 3000);
    assert_int_equal(store_cmd(st, &r, "BLPOP st:v1:nothing 1"), SCB_OK);
    assert_int_equal(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    store_set_timeout_ms(st, 0);
    store_free(st);
}

static void test_store__pool_reuses_idle_handles(void **state)
{
    struct store_pool *pool = store_pool_new(*state);
    struct store *a, *b, *c;

    assert_non_null(pool);
    a = store_pool_get(pool);
    b = store_pool_get(pool);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_int_equal(store_ping(a), SCB_OK);
    store_pool_put(pool, a);
    c = store_pool_get(pool);
    assert_ptr_equal(c, a);
    assert_true(store_connected(c));
    store_pool_put(pool, b);
    store_pool_put(pool, c);
    store_pool_put(pool, NULL);
    store_pool_free(pool);
    store_pool_free(NULL);
    store_free(NULL);
}

static void test_store__allocation_failures_are_reported(void **state)
{
    struct store *st = store_new(*state);
    struct buf b;

    mem_fail_after(0);
    assert_null(store_new(*state));
    assert_null(store_pool_new(*state));
    buf_init(&b, 64);
    assert_int_equal(store_key(st, &b, "x"), SCB_ENOMEM);
    mem_fail_after(-1);
    assert_int_equal(store_key(st, &b, "x"), SCB_OK);
    buf_release(&b);
    store_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store__connects_and_pings, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store__key_has_prefix_and_schema,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_store__error_reply_keeps_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_store__broken_link_reconnects_on_next_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__unreachable_is_estore,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_store__eval_runs_after_script_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__eval_error_is_estorecmd,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_store__eval_takes_many_binary_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__acl_user_authenticates,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__selects_the_database, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_store__config_checks_set_warning_metric, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_store__reply_timeout_breaks_the_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__pool_reuses_idle_handles,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_store__allocation_failures_are_reported, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
