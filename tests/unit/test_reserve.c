/* SPDX-License-Identifier: MIT */
/* Unit tests of the reservations (I of the stock formula) on real Redis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "config.h"
#include "jsonio.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "queue.h"
#include "reserve.h"
#include "store.h"

#define P "rt:v1:"

struct fixture {
    struct config cfg;
    struct store *st;
};

/* The environment the configuration is read from: a complete one. */
static const char *test_getenv(const char *name, void *ctx)
{
    static const char *const env[][2] = {
        { "SCBRIDGE_REDIS_PREFIX", "rt:" },
        { "SCBRIDGE_ADMIN_TOKEN", "test-admin-token-0123456789abcdef0123" },
        { "SCBRIDGE_SC_BASE_URL", "http://127.0.0.1:9/rest" },
        { "SCBRIDGE_SC_USERNAME", "u" },
        { "SCBRIDGE_SC_PASSWORD", "p" },
        { "SCBRIDGE_SC_COMPANY_IDS", "163" },
        { "SCBRIDGE_DDI_BASE_URL", "http://127.0.0.1:9" },
        { "SCBRIDGE_DDI_API_KEY", "k" },
        { "SCBRIDGE_DDI_COMPANY", "01" },
        { "SCBRIDGE_WEBHOOK_SECRET_SC", "c2VjcmV0" },
        { "SCBRIDGE_WEBHOOK_SECRET_DDI", "c2VjcmV0" },
    };

    if (strcmp(name, "SCBRIDGE_REDIS_URL") == 0)
        return ctx;
    for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++) {
        if (strcmp(name, env[i][0]) == 0)
            return env[i][1];
    }
    return NULL;
}

/* Runs one command; its arguments as hiredis formats them. */
#define CMD(st, r, ...)                                                 \
    do {                                                                \
        (r) = NULL;                                                     \
        assert_int_equal(store_cmd((st), &(r), __VA_ARGS__), SCB_OK);   \
    } while (0)

/* Deletes every key of this test's prefix. */
static void wipe(struct store *st)
{
    redisReply *r, *d;

    CMD(st, r, "KEYS rt:*");
    for (size_t i = 0; i < r->elements; i++) {
        CMD(st, d, "DEL %s", r->element[i]->str);
        freeReplyObject(d);
    }
    freeReplyObject(r);
}

static int setup(void **state)
{
    struct fixture *fx = mem_calloc(1, sizeof(*fx));
    char *url = getenv("SCB_TEST_REDIS_URL");
    struct buf problems;

    log_init(LOG_ERROR, 1);
    if (!url)
        fail_msg("SCB_TEST_REDIS_URL is not set (scripts/run-tests.sh "
                 "sets it)");
    buf_init(&problems, 4096);
    if (config_load(&fx->cfg, test_getenv, url, &problems) != SCB_OK)
        fail_msg("config: %s", problems.data ? problems.data : "?");
    buf_release(&problems);
    fx->st = store_new(&fx->cfg);
    wipe(fx->st);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    wipe(fx->st);
    store_free(fx->st);
    config_release(&fx->cfg);
    mem_free(fx);
    metrics_reset();
    return 0;
}

/* An order with lines "SKU:QTY" given as strings, up to 8. */
static void order(struct sc_order *o, int64_t id, int n, ...)
{
    va_list ap;

    memset(o, 0, sizeof(*o));
    o->id = id;
    o->lines = calloc((size_t)n + 1, sizeof(*o->lines));
    assert_non_null(o->lines);
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const char *sku = va_arg(ap, const char *);
        int qty = va_arg(ap, int);

        snprintf(o->lines[i].product_id, sizeof(o->lines[i].product_id),
                 "%s", sku);
        o->lines[i].qty = qty;
    }
    va_end(ap);
    o->n_lines = (size_t)n;
}

static void order_free(struct sc_order *o)
{
    free(o->lines);
    o->lines = NULL;
}

static int64_t qty(struct fixture *fx, const char *sku)
{
    int64_t q = -1;

    assert_int_equal(reserve_qty(fx->st, sku, &q), SCB_OK);
    return q;
}

/*
 * Reservation syncs wait 5 s (job_items.c) so that a burst folds into
 * one stock write: each must be delayed, and is made due now.
 */
static void make_syncs_due(struct fixture *fx)
{
    struct queue_sweep_result res;
    redisReply *r = NULL;

    assert_int_equal(store_cmd(fx->st, &r, "ZRANGEBYSCORE rt:v1:jobs:delayed"
                               " -inf %lld", (long long)time(NULL) * 1000),
                     SCB_OK);
    assert_int_equal(r->elements, 0); /* none may run at once */
    freeReplyObject(r);
    assert_int_equal(store_cmd(fx->st, &r, "ZUNIONSTORE rt:v1:jobs:delayed "
                               "1 rt:v1:jobs:delayed WEIGHTS 0"),
                     SCB_OK);
    freeReplyObject(r);
    assert_int_equal(queue_sweep(fx->st, &fx->cfg, "t", false, &res),
                     SCB_OK);
}

/* Takes every ready job: the product numbers of item.sync jobs. */
static size_t take_syncs(struct fixture *fx, char pnos[][80], size_t cap)
{
    struct queue_job *job = NULL;
    struct queue_finished fin;
    size_t n = 0;

    make_syncs_due(fx);
    while (queue_take(fx->st, &fx->cfg, "t", 0, &job) == SCB_OK) {
        const cJSON *p = queue_job_json(job);
        char key[96];

        assert_string_equal(queue_job_type(job), "item.sync");
        assert_non_null(p);
        assert_string_equal(jsonio_str_or(p, "source", ""), "reserve");
        assert_int_equal(jsonio_i64_or(p, "v", 0), 1);
        snprintf(key, sizeof(key), "item:%s",
                 jsonio_str_or(p, "product_no", ""));
        assert_string_equal(queue_job_key(job), key);
        assert_true(n < cap);
        snprintf(pnos[n++], 80, "%s", jsonio_str_or(p, "product_no", ""));
        assert_int_equal(queue_finish(job, QUEUE_DONE, &fin), SCB_OK);
        queue_job_free(job);
        job = NULL;
    }
    return n;
}

static bool has(char pnos[][80], size_t n, const char *pno)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(pnos[i], pno) == 0)
            return true;
    }
    return false;
}

static void test_reserve__add_sums_the_lines_of_each_sku(void **state)
{
    struct fixture *fx = *state;
    struct sc_order o;

    order(&o, 101, 4, "A-1", 2, "B/2", 3, "A-1", 1, "C", 0);
    assert_int_equal(reserve_add(fx->st, 101, &o), SCB_OK);
    assert_int_equal(qty(fx, "A-1"), 3);
    assert_int_equal(qty(fx, "B/2"), 3);
    assert_int_equal(qty(fx, "C"), 0);
    assert_int_equal(qty(fx, "D"), 0);
    order_free(&o);
}

static void test_reserve__quantities_of_orders_add_up(void **state)
{
    struct fixture *fx = *state;
    struct sc_order a, b;

    order(&a, 101, 1, "A", 3);
    order(&b, 102, 2, "A", 4, "B", 1);
    assert_int_equal(reserve_add(fx->st, 101, &a), SCB_OK);
    assert_int_equal(reserve_add(fx->st, 102, &b), SCB_OK);
    assert_int_equal(qty(fx, "A"), 7);
    assert_int_equal(qty(fx, "B"), 1);
    order_free(&a);
    order_free(&b);
}

static void test_reserve__adding_twice_changes_nothing(void **state)
{
    struct fixture *fx = *state;
    struct sc_order o, more;
    redisReply *first, *again;

    order(&o, 101, 1, "A", 3);
    order(&more, 101, 1, "A", 9);
    assert_int_equal(reserve_add(fx->st, 101, &o), SCB_OK);
    CMD(fx->st, first, "HGET " P "reserve:sku:A 101");
    assert_int_equal(reserve_add(fx->st, 101, &more), SCB_OK);
    CMD(fx->st, again, "HGET " P "reserve:sku:A 101");
    assert_int_equal(first->type, REDIS_REPLY_STRING);
    assert_string_equal(first->str, again->str);
    assert_int_equal(qty(fx, "A"), 3);
    freeReplyObject(first);
    freeReplyObject(again);
    order_free(&o);
    order_free(&more);
}

static void test_reserve__add_enqueues_one_sync_per_sku(void **state)
{
    struct fixture *fx = *state;
    char pnos[8][80];
    struct sc_order o;
    size_t n;

    order(&o, 101, 3, "A", 1, "B #2", 2, "A", 5);
    assert_int_equal(reserve_add(fx->st, 101, &o), SCB_OK);
    n = take_syncs(fx, pnos, 8);
    assert_int_equal(n, 2);
    assert_true(has(pnos, n, "A"));
    assert_true(has(pnos, n, "B #2"));
    order_free(&o);
}

static void test_reserve__remove_drops_the_order_and_enqueues(void **state)
{
    struct fixture *fx = *state;
    char pnos[8][80];
    struct sc_order a, b, now;
    size_t n;

    order(&a, 101, 2, "A", 3, "B", 2);
    order(&b, 102, 1, "A", 4);
    /* What Sellercloud shows now does not matter: what was reserved does. */
    order(&now, 101, 1, "Z", 1);
    assert_int_equal(reserve_add(fx->st, 101, &a), SCB_OK);
    assert_int_equal(reserve_add(fx->st, 102, &b), SCB_OK);
    (void)take_syncs(fx, pnos, 8);
    assert_int_equal(reserve_remove(fx->st, 101, &now), SCB_OK);
    assert_int_equal(qty(fx, "A"), 4);
    assert_int_equal(qty(fx, "B"), 0);
    n = take_syncs(fx, pnos, 8);
    assert_int_equal(n, 2);
    assert_true(has(pnos, n, "A"));
    assert_true(has(pnos, n, "B"));
    /* A retried removal changes nothing but asks for the syncs again. */
    assert_int_equal(reserve_remove(fx->st, 101, NULL), SCB_OK);
    assert_int_equal(qty(fx, "A"), 4);
    assert_int_equal(take_syncs(fx, pnos, 8), 2);
    order_free(&a);
    order_free(&b);
    order_free(&now);
}

static void test_reserve__removed_order_is_never_reserved_again(void **state)
{
    struct fixture *fx = *state;
    char pnos[8][80];
    struct sc_order a, c;
    redisReply *ttl;

    order(&a, 101, 1, "A", 3);
    order(&c, 103, 1, "A", 2);
    assert_int_equal(reserve_add(fx->st, 101, &a), SCB_OK);
    assert_int_equal(reserve_remove(fx->st, 101, &a), SCB_OK);
    assert_int_equal(reserve_add(fx->st, 101, &a), SCB_OK);
    assert_int_equal(qty(fx, "A"), 0);
    /* Removed before it was ever added: shipped or cancelled first. */
    assert_int_equal(reserve_remove(fx->st, 103, NULL), SCB_OK);
    (void)take_syncs(fx, pnos, 8);
    assert_int_equal(reserve_add(fx->st, 103, &c), SCB_OK);
    assert_int_equal(qty(fx, "A"), 0);
    assert_int_equal(take_syncs(fx, pnos, 8), 0);
    CMD(fx->st, ttl, "TTL " P "reserve:order:101");
    assert_true(ttl->integer > 0 && ttl->integer <= RESERVE_CLOSED_TTL_S);
    freeReplyObject(ttl);
    order_free(&a);
    order_free(&c);
}

static void test_reserve__as_of_leaves_out_later_reservations(void **state)
{
    struct fixture *fx = *state;
    struct sc_order a;
    redisReply *v;
    int64_t at, q = -1;
    bool later = false;

    order(&a, 101, 1, "A", 3);
    assert_int_equal(reserve_add(fx->st, 101, &a), SCB_OK);
    CMD(fx->st, v, "HGET " P "reserve:order:101 at");
    assert_int_equal(v->type, REDIS_REPLY_STRING);
    at = strtoll(v->str, NULL, 10);
    freeReplyObject(v);
    assert_int_equal(reserve_qty_as_of(fx->st, "A", at - 1, &q, &later),
                     SCB_OK);
    assert_int_equal(q, 0);
    assert_true(later);
    assert_int_equal(reserve_qty_as_of(fx->st, "A", at, &q, &later),
                     SCB_OK);
    assert_int_equal(q, 3);
    assert_false(later);
    order_free(&a);
}

static void test_reserve__sku_too_long_for_ddi_gets_no_job(void **state)
{
    struct fixture *fx = *state;
    char sku[120], pnos[4][80];
    struct sc_order a;

    memset(sku, 'L', 100);
    sku[100] = '\0';
    order(&a, 101, 1, sku, 2);
    assert_int_equal(reserve_add(fx->st, 101, &a), SCB_OK);
    assert_int_equal(qty(fx, sku), 2);
    assert_int_equal(take_syncs(fx, pnos, 4), 0);
    order_free(&a);
}

static void test_reserve__bad_arguments_are_refused(void **state)
{
    struct fixture *fx = *state;
    struct sc_order a;
    redisReply *r;

    order(&a, 101, 1, "A", 2);
    assert_int_equal(reserve_add(fx->st, 102, &a), SCB_EINVAL);
    assert_int_equal(reserve_add(fx->st, 101, NULL), SCB_EINVAL);
    assert_int_equal(reserve_add(fx->st, 0, &a), SCB_EINVAL);
    assert_int_equal(reserve_remove(fx->st, 102, &a), SCB_EINVAL);
    assert_int_equal(reserve_remove(fx->st, -1, NULL), SCB_EINVAL);
    CMD(fx->st, r, "KEYS rt:*");
    assert_int_equal(r->elements, 0);
    freeReplyObject(r);
    order_free(&a);
}

static void test_reserve__allocation_failures_leak_nothing(void **state)
{
    struct fixture *fx = *state;
    struct sc_order a;
    enum scb_err err = SCB_ENOMEM;
    long n;

    order(&a, 101, 3, "A", 2, "B", 1, "C", 4);
    assert_int_equal(store_ping(fx->st), SCB_OK);
    for (n = 0; err == SCB_ENOMEM && n < 400; n++) {
        mem_fail_after(n);
        err = reserve_add(fx->st, 101, &a);
        mem_fail_after(-1);
    }
    assert_int_equal(err, SCB_OK);
    assert_true(n > 1);
    err = SCB_ENOMEM;
    for (n = 0; err == SCB_ENOMEM && n < 400; n++) {
        mem_fail_after(n);
        err = reserve_remove(fx->st, 101, &a);
        mem_fail_after(-1);
    }
    assert_int_equal(err, SCB_OK);
    assert_int_equal(qty(fx, "A"), 0);
    order_free(&a);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_reserve__add_sums_the_lines_of_each_sku),
        T(test_reserve__quantities_of_orders_add_up),
        T(test_reserve__adding_twice_changes_nothing),
        T(test_reserve__add_enqueues_one_sync_per_sku),
        T(test_reserve__remove_drops_the_order_and_enqueues),
        T(test_reserve__removed_order_is_never_reserved_again),
        T(test_reserve__as_of_leaves_out_later_reservations),
        T(test_reserve__sku_too_long_for_ddi_gets_no_job),
        T(test_reserve__bad_arguments_are_refused),
        T(test_reserve__allocation_failures_leak_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
