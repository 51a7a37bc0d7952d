/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of readiness: the reason /readyz gives for each state, and
 * the Redis watcher against the real Redis at SCB_TEST_REDIS_URL and
 * against a port where nothing listens.
 */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "app.h"
#include "config.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "route_health.h"

struct env {
    const char *redis_url;
};

static const char *test_getenv(const char *name, void *ctx)
{
    static const char *const fixed[][2] = {
        { "SCBRIDGE_ADMIN_TOKEN", "test-admin-token-0123456789abcdef0123" },
        { "SCBRIDGE_SC_BASE_URL", "http://127.0.0.1:9/rest" },
        { "SCBRIDGE_SC_USERNAME", "scbridge" },
        { "SCBRIDGE_SC_PASSWORD", "sc-password" },
        { "SCBRIDGE_SC_COMPANY_IDS", "163" },
        { "SCBRIDGE_DDI_BASE_URL", "http://127.0.0.1:9" },
        { "SCBRIDGE_DDI_API_KEY", "ddi-key" },
        { "SCBRIDGE_DDI_COMPANY", "01" },
        { "SCBRIDGE_WEBHOOK_SECRET_SC", "whsec_c2NicmlkZ2UtdGVzdA==" },
        { "SCBRIDGE_WEBHOOK_SECRET_DDI", "whsec_c2NicmlkZ2UtdGVzdA==" },
    };
    const struct env *e = ctx;

    if (strcmp(name, "SCBRIDGE_REDIS_URL") == 0)
        return e->redis_url;
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if (strcmp(name, fixed[i][0]) == 0)
            return fixed[i][1];
    }
    return NULL;
}

static void load(struct config *cfg, const char *redis_url)
{
    struct env e = { redis_url };
    struct buf problems;
    enum scb_err err;

    buf_init(&problems, 4096);
    err = config_load(cfg, test_getenv, &e, &problems);
    if (err)
        print_error("config: %s\n", problems.data ? problems.data : "");
    buf_release(&problems);
    assert_int_equal(err, SCB_OK);
}

static void app_setup(struct app *app, const struct config *cfg)
{
    memset(app, 0, sizeof(*app));
    app->cfg = cfg;
    atomic_init(&app->draining, false);
    atomic_init(&app->redis_state, APP_REDIS_STARTING);
    atomic_init(&app->redis_checked, false);
}

/* Polls until app->redis_state is 'want' or 5 s pass. */
static bool wait_state(struct app *app, int want)
{
    const struct timespec step = { 0, 20 * 1000000 };

    for (int i = 0; i < 250; i++) {
        if (atomic_load(&app->redis_state) == want)
            return true;
        nanosleep(&step, NULL);
    }
    return false;
}

static int setup(void **state)
{
    (void)state;
    log_init(LOG_ERROR, 2);
    metrics_reset();
    return 0;
}

static void test_route_health__reason_follows_the_state(void **state)
{
    struct app app;

    (void)state;
    app_setup(&app, NULL);
    assert_string_equal(route_health_reason(&app), "starting");
    atomic_store(&app.redis_state, APP_REDIS_DOWN);
    assert_string_equal(route_health_reason(&app), "redis");
    atomic_store(&app.redis_state, APP_REDIS_UP);
    assert_null(route_health_reason(&app));
}

static void test_route_health__draining_wins_over_every_state(void **state)
{
    struct app app;

    (void)state;
    app_setup(&app, NULL);
    atomic_store(&app.draining, true);
    assert_string_equal(route_health_reason(&app), "draining");
    atomic_store(&app.redis_state, APP_REDIS_UP);
    assert_string_equal(route_health_reason(&app), "draining");
    atomic_store(&app.redis_state, APP_REDIS_DOWN);
    assert_string_equal(route_health_reason(&app), "draining");
}

static void test_route_health__watcher_reports_reachable_redis(void **state)
{
    const char *url = getenv("SCB_TEST_REDIS_URL");
    struct config cfg;
    struct app app;

    (void)state;
    if (!url)
        fail_msg("SCB_TEST_REDIS_URL is not set");
    load(&cfg, url);
    app_setup(&app, &cfg);
    assert_int_equal(route_health_watch_start(&app), SCB_OK);
    assert_true(wait_state(&app, APP_REDIS_UP));
    assert_true(atomic_load(&app.redis_checked));
    assert_null(route_health_reason(&app));
    route_health_watch_stop(&app, 0);
    assert_null(app.watch);
    config_release(&cfg);
}

/* A loopback port that was free a moment ago: nothing listens there. */
static int dead_port(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port;

    assert_true(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static void test_route_health__watcher_reports_unreachable_redis(void **state)
{
    char url[64];
    struct config cfg;
    struct app app;

    (void)state;
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", dead_port());
    load(&cfg, url);
    app_setup(&app, &cfg);
    assert_int_equal(route_health_watch_start(&app), SCB_OK);
    assert_true(wait_state(&app, APP_REDIS_DOWN));
    assert_false(atomic_load(&app.redis_checked));
    assert_string_equal(route_health_reason(&app), "redis");
    route_health_watch_stop(&app, 0);
    config_release(&cfg);
}

static void test_route_health__stop_without_start_is_noop(void **state)
{
    struct app app;

    (void)state;
    app_setup(&app, NULL);
    route_health_watch_stop(&app, 0);
    assert_null(app.watch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_route_health__reason_follows_the_state,
                               setup),
        cmocka_unit_test_setup(
            test_route_health__draining_wins_over_every_state, setup),
        cmocka_unit_test_setup(
            test_route_health__watcher_reports_reachable_redis, setup),
        cmocka_unit_test_setup(
            test_route_health__watcher_reports_unreachable_redis, setup),
        cmocka_unit_test_setup(test_route_health__stop_without_start_is_noop,
                               setup),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    metrics_reset();
    return rc;
}
