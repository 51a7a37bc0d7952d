/* SPDX-License-Identifier: MIT */
/* Unit tests of config: every setting format, through a fake getenv. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "mem.h"

#define ENV_MAX 96
#define LONG_VALUE 4098 /* one byte over the 4096-byte value limit */

/* The environment a test hands to config_load(). */
struct fake_env {
    const char *name[ENV_MAX];
    const char *value[ENV_MAX];
    size_t n;
};

/* What every test case gets: an environment, a config, problems. */
struct fix {
    struct fake_env env;
    struct config cfg;
    struct buf problems;
    struct buf out;
    char dir[64]; /* a temporary directory for _FILE tests */
    char path[8][128];
    size_t npath;
};

static const char *fake_get(const char *name, void *ctx)
{
    const struct fake_env *e = ctx;

    for (size_t i = 0; i < e->n; i++) {
        if (strcmp(e->name[i], name) == 0)
            return e->value[i];
    }
    return NULL;
}

static void env_set(struct fix *f, const char *name, const char *value)
{
    struct fake_env *e = &f->env;

    for (size_t i = 0; i < e->n; i++) {
        if (strcmp(e->name[i], name) == 0) {
            e->value[i] = value;
            return;
        }
    }
    assert_true(e->n < ENV_MAX);
    e->name[e->n] = name;
    e->value[e->n] = value;
    e->n++;
}

#define TOKEN "admin-token-0123456789abcdef-0123456789"
#define SC_PW "sc-pass-Zq8"
#define DDI_KEY "ddi-key-Xk3"
/* base64 of "sc-webhook-key" and of "ddi-webhook-key" */
#define WH_SC "whsec_c2Mtd2ViaG9vay1rZXk="
#define WH_DDI "ZGRpLXdlYmhvb2sta2V5"

/* The required settings, all valid. */
static void env_base(struct fix *f)
{
    env_set(f, "SCBRIDGE_ADMIN_TOKEN", TOKEN);
    env_set(f, "SCBRIDGE_SC_BASE_URL", "https://x.api.sellercloud.us/rest");
    env_set(f, "SCBRIDGE_SC_USERNAME", "scbridge@example.com");
    env_set(f, "SCBRIDGE_SC_PASSWORD", SC_PW);
    env_set(f, "SCBRIDGE_SC_COMPANY_IDS", "163,164");
    env_set(f, "SCBRIDGE_DDI_BASE_URL", "https://gw.ddi.example");
    env_set(f, "SCBRIDGE_DDI_API_KEY", DDI_KEY);
    env_set(f, "SCBRIDGE_DDI_COMPANY", "01");
    env_set(f, "SCBRIDGE_WEBHOOK_SECRET_SC", WH_SC);
    env_set(f, "SCBRIDGE_WEBHOOK_SECRET_DDI", WH_DDI);
}

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    buf_init(&f->problems, 1 << 16);
    buf_init(&f->out, 1 << 16);
    env_base(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;

    for (size_t i = 0; i < f->npath; i++)
        unlink(f->path[i]);
    if (f->dir[0])
        rmdir(f->dir);
    config_release(&f->cfg);
    buf_release(&f->problems);
    buf_release(&f->out);
    free(f);
    return 0;
}

static enum scb_err load(struct fix *f)
{
    config_release(&f->cfg);
    buf_reset(&f->problems);
    return config_load(&f->cfg, fake_get, &f->env, &f->problems);
}

static const char *problems(struct fix *f)
{
    return f->problems.data ? f->problems.data : "";
}

static size_t count_lines(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Loads, expects SCB_EINVAL and a line about 'name' holding 'text'. */
static void expect_problem(struct fix *f, const char *name, const char *text)
{
    char head[128];
    const char *line;

    assert_int_equal(load(f), SCB_EINVAL);
    snprintf(head, sizeof(head), "scbridge: %s: ", name);
    line = strstr(problems(f), head);
    if (!line)
        fail_msg("no problem for %s in:\n%s", name, problems(f));
    if (text) {
        const char *end = strchr(line, '\n');
        char one[512];

        assert_non_null(end);
        assert_true((size_t)(end - line) < sizeof(one));
        memcpy(one, line, (size_t)(end - line));
        one[end - line] = '\0';
        if (!strstr(one, text))
            fail_msg("'%s' lacks '%s'", one, text);
    }
}

/* Sets one value, expects exactly one problem about it. */
static void expect_bad(struct fix *f, const char *name, const char *value)
{
    env_set(f, name, value);
    expect_problem(f, name, NULL);
    if (count_lines(problems(f)) != 1)
        fail_msg("%s=%s gave:\n%s", name, value, problems(f));
    if (strlen(value) >= 7 && strstr(problems(f), value))
        fail_msg("the problem shows the value of %s", name);
}

static void expect_ok(struct fix *f, const char *name, const char *value)
{
    env_set(f, name, value);
    if (load(f) != SCB_OK)
        fail_msg("%s=%s refused:\n%s", name, value, problems(f));
}

/* A file in the fixture's temporary directory holding 'len' bytes. */
static const char *write_file(struct fix *f, const char *data, size_t len)
{
    char *p;
    FILE *fp;

    if (!f->dir[0]) {
        snprintf(f->dir, sizeof(f->dir), "/tmp/scb-test-config.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
    }
    assert_true(f->npath < 8);
    p = f->path[f->npath];
    snprintf(p, sizeof(f->path[0]), "%s/f%zu", f->dir, f->npath);
    f->npath++;
    fp = fopen(p, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    return p;
}

static const char *print_cfg(struct fix *f)
{
    buf_reset(&f->out);
    assert_int_equal(config_print(&f->cfg, &f->out), SCB_OK);
    return f->out.data;
}

/* The value config_print() gives 'name', copied into out. */
static const char *printed(struct fix *f, const char *name, char *out,
                           size_t size)
{
    char head[128];
    const char *all = print_cfg(f), *p, *end;

    snprintf(head, sizeof(head), "\n%s=", name);
    if (strncmp(all, head + 1, strlen(head + 1)) == 0)
        p = all + strlen(head + 1);
    else if ((p = strstr(all, head)) != NULL)
        p += strlen(head);
    else
        fail_msg("%s not printed", name);
    end = strchr(p, '\n');
    assert_non_null(end);
    assert_true((size_t)(end - p) < size);
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    return out;
}

static void test_config__loads_required_settings_and_defaults(void **state)
{
    struct fix *f = *state;
    struct config *c = &f->cfg;

    assert_int_equal(load(f), SCB_OK);
    assert_string_equal(problems(f), "");
    assert_string_equal(c->listen_host, "0.0.0.0");
    assert_int_equal(c->listen_port, 8080);
    assert_false(c->has_admin_listen);
    assert_int_equal(c->n_admin_tokens, 1);
    assert_int_equal(c->admin_tokens[0].len, strlen(TOKEN));
    assert_memory_equal(c->admin_tokens[0].bytes, TOKEN, strlen(TOKEN));
    assert_string_equal(c->redis_host, "127.0.0.1");
    assert_int_equal(c->redis_port, 6379);
    assert_int_equal(c->redis_db, 0);
    assert_null(c->redis_user);
    assert_null(c->redis_password);
    assert_string_equal(c->redis_prefix, "scb:");
    assert_string_equal(c->sc_base_url, "https://x.api.sellercloud.us/rest");
    assert_string_equal(c->sc_password, SC_PW);
    assert_int_equal(c->n_sc_company_ids, 2);
    assert_int_equal(c->sc_company_ids[0], 163);
    assert_int_equal(c->sc_company_ids[1], 164);
    assert_int_equal(c->sc_rate_per_hour, 10800);
    assert_int_equal(c->sc_timeout_s, 30);
    assert_int_equal(c->upstream_max_bytes, 8388608);
    assert_null(c->ca_file);
    assert_string_equal(c->ddi_api_key, DDI_KEY);
    assert_int_equal(c->ddi_timeout_s, 30);
    assert_int_equal(c->ddi_lookup_delay_s, 120);
    assert_int_equal(c->ddi_concurrency, 4);
    assert_string_equal(c->ddi_branch, "01");
    assert_string_equal(c->ddi_warehouse, "MAIN");
    assert_string_equal(config_chanmap_find(&c->ddi_customers, 4)->str, "WEB");
    assert_int_equal(c->n_webhook_secret_sc, 1);
    assert_int_equal(c->webhook_secret_sc[0].len, 14);
    assert_memory_equal(c->webhook_secret_sc[0].bytes, "sc-webhook-key", 14);
    assert_int_equal(c->webhook_secret_ddi[0].len, 15);
    assert_memory_equal(c->webhook_secret_ddi[0].bytes, "ddi-webhook-key", 15);
    assert_int_equal(c->webhook_tolerance_s, 300);
    assert_int_equal(c->webhook_max_bytes, 1048576);
    assert_int_equal(c->webhook_dedupe_ttl_s, 168 * 3600);
    assert_int_equal(c->workers, 8);
    assert_int_equal(c->job_lease_s, 30);
    assert_int_equal(c->job_max_attempts, 10);
    assert_int_equal(c->backoff_base_s, 2);
    assert_int_equal(c->backoff_cap_s, 600);
    assert_int_equal(c->max_wait_s, 3600);
    assert_int_equal(c->drain_timeout_s, 10);
    assert_int_equal(c->poll_shipments_s, 1200);
    assert_int_equal(c->poll_items_s, 900);
    assert_int_equal(c->poll_overlap_s, 900);
    assert_false(c->has_import_since);
    assert_int_equal(c->orders_lookback_s, 86400);
    assert_false(c->has_shipments_since);
    assert_false(c->import_dropship);
    assert_int_equal(c->awaiting_payment_max_age_s, 168 * 3600);
    assert_string_equal(config_chanmap_find(&c->partial_shipments, 4)->str,
                        "complete");
    assert_int_equal(c->ship_via_map.n, 0);
    assert_int_equal(c->carrier_map.n, 0);
    assert_int_equal(c->order_retention_s, 2160 * 3600);
    assert_int_equal(c->sync_fields, 0x1ff);
    assert_int_equal(c->stock_buffer, 0);
    assert_true(c->sc_create_products);
    assert_int_equal(c->sc_product_company_id, 163);
    assert_null(c->sc_default_product_type);
    assert_int_equal(c->sc_warehouse_id, 1);
    assert_string_equal(c->sc_uom_column, "UnitOfMeasure");
    assert_string_equal(c->sc_image_column, "ImageURL");
    assert_int_equal(c->log_level, LOG_INFO);
}

static void test_config__reports_each_missing_required_setting(void **state)
{
    static const char *const required[] = {
        "SCBRIDGE_ADMIN_TOKEN",       "SCBRIDGE_SC_BASE_URL",
        "SCBRIDGE_SC_USERNAME",       "SCBRIDGE_SC_PASSWORD",
        "SCBRIDGE_SC_COMPANY_IDS",    "SCBRIDGE_DDI_BASE_URL",
        "SCBRIDGE_DDI_API_KEY",       "SCBRIDGE_DDI_COMPANY",
        "SCBRIDGE_WEBHOOK_SECRET_SC", "SCBRIDGE_WEBHOOK_SECRET_DDI",
    };
    struct fix *f = *state;

    f->env.n = 0;
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        expect_problem(f, required[i], "required");
    assert_int_equal(count_lines(problems(f)), 10);
    /* Each alone is reported too. */
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        f->env.n = 0;
        env_base(f);
        env_set(f, required[i], "");
        expect_problem(f, required[i], "required");
        assert_int_equal(count_lines(problems(f)), 1);
    }
}

static void test_config__reports_all_problems_at_once(void **state)
{
    struct fix *f = *state;

    env_set(f, "SCBRIDGE_WORKERS", "0");
    env_set(f, "SCBRIDGE_SC_TIMEOUT", "30");
    env_set(f, "SCBRIDGE_LISTEN", "0.0.0.0:0");
    env_set(f, "SCBRIDGE_LOG_LEVEL", "loud");
    env_set(f, "SCBRIDGE_DDI_COMPANY", "");
    expect_problem(f, "SCBRIDGE_WORKERS", "from 1 to 256");
    expect_problem(f, "SCBRIDGE_SC_TIMEOUT", "from 1s to 10m");
    expect_problem(f, "SCBRIDGE_LISTEN", "port");
    expect_problem(f, "SCBRIDGE_LOG_LEVEL", "debug, info, warn or error");
    expect_problem(f, "SCBRIDGE_DDI_COMPANY", "required");
    assert_int_equal(count_lines(problems(f)), 5);
}

static void test_config__empty_value_counts_as_unset(void **state)
{
    struct fix *f = *state;

    env_set(f, "SCBRIDGE_WORKERS", "");
    env_set(f, "SCBRIDGE_ADMIN_LISTEN", "");
    env_set(f, "SCBRIDGE_SC_PASSWORD_FILE", "");
    assert_int_equal(load(f), SCB_OK);
    assert_int_equal(f->cfg.workers, 8);
    assert_false(f->cfg.has_admin_listen);
}

static void test_config__accepts_durations_in_each_unit(void **state)
{
    struct fix *f = *state;

    expect_ok(f, "SCBRIDGE_SC_TIMEOUT", "90s");
    assert_int_equal(f->cfg.sc_timeout_s, 90);
    expect_ok(f, "SCBRIDGE_SC_TIMEOUT", "10m");
    assert_int_equal(f->cfg.sc_timeout_s, 600);
    expect_ok(f, "SCBRIDGE_MAX_WAIT", "24h");
    assert_int_equal(f->cfg.max_wait_s, 86400);
    expect_ok(f, "SCBRIDGE_POLL_OVERLAP", "0s");
    assert_int_equal(f->cfg.poll_overlap_s, 0);
    expect_ok(f, "SCBRIDGE_ORDER_RETENTION", "8760h");
    assert_int_equal(f->cfg.order_retention_s, 8760 * 3600);
}

static void test_config__rejects_malformed_durations(void **state)
{
    static const char *const bad[] = {
        "90",   "1h30m", "1.5h", "-5s", "+5s",   "5 s",
        " 5s",  "5S",    "1d",   "s",   "0x10s", "99999999999999999999h",
        "5sec",
    };
    struct fix *f = *state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_bad(f, "SCBRIDGE_DDI_LOOKUP_DELAY", bad[i]);
}

static void test_config__rejects_durations_out_of_range(void **state)
{
    struct fix *f = *state;

    expect_bad(f, "SCBRIDGE_SC_TIMEOUT", "601s");
    expect_problem(f, "SCBRIDGE_SC_TIMEOUT", "from 1s to 10m");
    env_set(f, "SCBRIDGE_SC_TIMEOUT", "30s");
    expect_bad(f, "SCBRIDGE_SC_TIMEOUT", "0s");
    env_set(f, "SCBRIDGE_SC_TIMEOUT", "30s");
    expect_bad(f, "SCBRIDGE_JOB_LEASE", "4s");
    env_set(f, "SCBRIDGE_JOB_LEASE", "30s");
    expect_bad(f, "SCBRIDGE_WEBHOOK_DEDUPE_TTL", "59s");
    env_set(f, "SCBRIDGE_WEBHOOK_DEDUPE_TTL", "721h");
    expect_problem(f, "SCBRIDGE_WEBHOOK_DEDUPE_TTL", "from 1m to 720h");
    env_set(f, "SCBRIDGE_WEBHOOK_DEDUPE_TTL", "168h");
    expect_bad(f, "SCBRIDGE_AWAITING_PAYMENT_MAX_AGE", "59m");
    env_set(f, "SCBRIDGE_AWAITING_PAYMENT_MAX_AGE", "1h");
    expect_bad(f, "SCBRIDGE_ORDER_RETENTION", "23h");
}

static void test_config__seconds_setting_takes_bare_integer(void **state)
{
    struct fix *f = *state;

    expect_ok(f, "SCBRIDGE_WEBHOOK_TOLERANCE_S", "3600");
    assert_int_equal(f->cfg.webhook_tolerance_s, 3600);
    expect_bad(f, "SCBRIDGE_WEBHOOK_TOLERANCE_S", "300s");
    expect_bad(f, "SCBRIDGE_WEBHOOK_TOLERANCE_S", "0");
    expect_bad(f, "SCBRIDGE_WEBHOOK_TOLERANCE_S", "3601");
}

static void test_config__rejects_integers_out_of_range(void **state)
{
    struct fix *f = *state;

    expect_bad(f, "SCBRIDGE_WORKERS", "257");
    env_set(f, "SCBRIDGE_WORKERS", "8");
    expect_bad(f, "SCBRIDGE_WORKERS", "-1");
    env_set(f, "SCBRIDGE_WORKERS", "8");
    expect_bad(f, "SCBRIDGE_WORKERS", "+4");
    env_set(f, "SCBRIDGE_WORKERS", "8");
    expect_bad(f, "SCBRIDGE_WORKERS", "4x");
    env_set(f, "SCBRIDGE_WORKERS", "8");
    expect_bad(f, "SCBRIDGE_UPSTREAM_MAX_BYTES", "65535");
    env_set(f, "SCBRIDGE_UPSTREAM_MAX_BYTES", "65536");
    expect_bad(f, "SCBRIDGE_WEBHOOK_MAX_BYTES", "67108865");
    env_set(f, "SCBRIDGE_WEBHOOK_MAX_BYTES", "1024");
    expect_bad(f, "SCBRIDGE_SC_RATE_PER_HOUR", "1000001");
    env_set(f, "SCBRIDGE_SC_RATE_PER_HOUR", "1");
    expect_bad(f, "SCBRIDGE_SC_WAREHOUSE_ID", "2147483648");
    expect_ok(f, "SCBRIDGE_SC_WAREHOUSE_ID", "2147483647");
    expect_ok(f, "SCBRIDGE_STOCK_BUFFER", "1000000");
    assert_int_equal(f->cfg.stock_buffer, 1000000);
}

static void test_config__rejects_port_zero(void **state)
{
    struct fix *f = *state;

    expect_bad(f, "SCBRIDGE_LISTEN", "0.0.0.0:0");
}

static void test_config__parses_host_and_port(void **state)
{
    struct fix *f = *state;

    expect_ok(f, "SCBRIDGE_LISTEN", "[::]:9000");
    assert_string_equal(f->cfg.listen_host, "::");
    assert_int_equal(f->cfg.listen_port, 9000);
    expect_ok(f, "SCBRIDGE_ADMIN_LISTEN", "127.0.0.1:9090");
    assert_true(f->cfg.has_admin_listen);
    assert_string_equal(f->cfg.admin_host, "127.0.0.1");
    assert_int_equal(f->cfg.admin_port, 9090);
    expect_ok(f, "SCBRIDGE_ADMIN_LISTEN", "admin.internal:1");
    env_set(f, "SCBRIDGE_ADMIN_LISTEN", "");
    expect_bad(f, "SCBRIDGE_LISTEN", "0.0.0.0:65536");
    expect_bad(f, "SCBRIDGE_LISTEN", "0.0.0.0");
    expect_bad(f, "SCBRIDGE_LISTEN", ":8080");
    expect_bad(f, "SCBRIDGE_LISTEN", "::1:8080");
    expect_bad(f, "SCBRIDGE_LISTEN", "[zz]:8080");
    expect_bad(f, "SCBRIDGE_LISTEN", "300.1.1.1:8080");
    expect_bad(f, "SCBRIDGE_LISTEN", "host name:8080");
}

static void test_config__admin_listen_must_differ_from_listen(void **state)
{
    struct fix *f = *state;

    env_set(f, "SCBRIDGE_LISTEN", "127.0.0.1:8080");
    env_set(f, "SCBRIDGE_ADMIN_LISTEN", "127.0.0.1:8080");
    expect_problem(f, "SCBRIDGE_ADMIN_LISTEN", "SCBRIDGE_LISTEN");
}

static void test_config__parses_company_id_list(void **state)
{
    struct fix *f = *state;

    expect_ok(f, "SCBRIDGE_SC_COMPANY_IDS", "7");
    assert_int_equal(f->cfg.n_sc_company_ids, 1);
    assert_int_equal(f->cfg.sc_company_ids[0], 7);
    assert_int_equal(f->cfg.sc_product_company_id, 7);
    expect_ok(f, "SCBRIDGE_SC_PRODUCT_COMPANY_ID", "99");
    assert_int_equal(f->cfg.sc_product_company_id, 99);
}

static void test_config__rejects_bad_lists(void **state)
{
    static const char *const bad[] = {
        "163,,164", "163,163", "163,",       ",163", "163 ,164",
        "163, 164", "0",       "2147483648", "-163",
    };
    struct fix *f = *state;
    char many[1024];
    size_t n = 0;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_bad(f, "SCBRIDGE_SC_COMPANY_IDS", bad[i]);
    for (int i = 1; i <= CONFIG_MAX_COMPANIES + 1; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "%s%d",
                              i > 1 ? "," : "", i);
    expect_bad(f, "SCBRIDGE_SC_COMPANY_IDS", many);
    expect_problem(f, "SCBRIDGE_SC_COMPANY_IDS", "more than 64");
}

static void test_config__poll_map_keeps_builtin_default(void **state)
{
    struct fix *f = *state;
    const struct config_chanmap *m = &f->cfg.poll_orders;

    assert_int_equal(load(f), SCB_OK);
    assert_int_equal(m->n, 4);
    assert_int_equal(config_chanmap_find(m, 4)->secs, 1200);
    assert_int_equal(config_chanmap_find(m, 1)->secs, 1800);
    assert_int_equal(config_chanmap_find(m, 2)->secs, 1800);
    assert_int_equal(config_chanmap_find(m, 42)->secs, 1800);
    assert_int_equal(config_chanmap_find(m, 50)->secs, 1800);
    assert_int_equal(config_chanmap_find(m, 6)->secs, 3600);
    assert_string_equal(config_chanmap_find(m, 2)->key, "eBay");

    expect_ok(f, "SCBRIDGE_POLL_ORDERS", "amazon=5m");
    assert_int_equal(m->n, 2);
    assert_string_equal(m->e[0].key, "default");
    assert_int_equal(m->e[0].secs, 3600);
    assert_string_equal(m->e[1].key, "amazon");
    assert_int_equal(config_chanmap_find(m, 4)->secs, 300);
    assert_int_equal(config_chanmap_find(m, 1)->secs, 3600);
}

static void test_config__map_value_without_key_is_default(void **state)
{
    struct fix *f = *state;
    const struct config_chanmap *m = &f->cfg.poll_orders;

    expect_ok(f, "SCBRIDGE_POLL_ORDERS", "30m");
    assert_int_equal(m->n, 1);
    assert_int_equal(config_chanmap_find(m, 4)->secs, 1800);
    expect_ok(f, "SCBRIDGE_POLL_ORDERS", "default=2m,42=1m,eBayOrder=3m");
    assert_int_equal(m->n, 3);
    assert_int_equal(config_chanmap_find(m, 42)->secs, 60);
    assert_int_equal(config_chanmap_find(m, 50)->secs, 120);
    assert_int_equal(config_chanmap_find(m, 1)->secs, 180);
    assert_int_equal(config_chanmap_find(m, 2)->secs, 120);
    assert_int_equal(config_chanmap_find(m, 42)->nchannels, 1);
}

static void test_config__rejects_bad_channel_maps(void **state)
{
    static const char *const bad[] = {
        "eBay=10m,eBayOrder=5m",
        "Amazon=5m,amazon=6m",
        "default=5m,default=6m",
        "Walmart=5m,42=1m",
        "Nowhere=5m",
        "Amazon=5m,10m",
        "Amazon=",
        "=5m",
        "Amazon=5m,",
        "Amazon=25h",
        "Amazon=5m=6m",
        "Amazon",
        "Default=5m",
        "Amazon = 5m",
    };
    struct fix *f = *state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_bad(f, "SCBRIDGE_POLL_ORDERS", bad[i]);
    env_set(f, "SCBRIDGE_POLL_ORDERS", "eBay=10m,eBayOrder=5m");
    expect_problem(f, "SCBRIDGE_POLL_ORDERS", "entry 2 covers a channel");
    env_set(f, "SCBRIDGE_POLL_ORDERS", "Amazon=5m,AMAZON=6m");
    expect_problem(f, "SCBRIDGE_POLL_ORDERS", "entry 2 repeats a key");
    env_set(f, "SCBRIDGE_POLL_ORDERS", "Amazon=5m,Nowhere=1m");
    expect_problem(f, "SCBRIDGE_POLL_ORDERS", "channel name");
}

static void test_config__parses_string_and_policy_maps(void **state)
{
    struct fix *f = *state;
    const struct config *c = &f->cfg;

    expect_ok(f, "SCBRIDGE_DDI_CUSTOMERS", "Amazon=AMZ 01,eBay=EBAY");
    assert_string_equal(config_chanmap_find(&c->ddi_customers, 4)->str,
                        "AMZ 01");
    assert_string_equal(config_chanmap_find(&c->ddi_customers, 2)->str, "EBAY");
    assert_string_equal(config_chanmap_find(&c->ddi_customers, 6)->str, "WEB");
    expect_ok(f, "SCBRIDGE_PARTIAL_SHIPMENTS", "first");
    assert_string_equal(config_chanmap_find(&c->partial_shipments, 4)->str,
                        "first");
    expect_ok(f, "SCBRIDGE_PARTIAL_SHIPMENTS", "Amazon=first");
    assert_string_equal(config_chanmap_find(&c->partial_shipments, 4)->str,
                        "first");
    assert_string_equal(config_chanmap_find(&c->partial_shipments, 6)->str,
                        "complete");
    expect_bad(f, "SCBRIDGE_PARTIAL_SHIPMENTS", "Amazon=later");
    expect_bad(f, "SCBRIDGE_PARTIAL_SHIPMENTS", "first,complete");
    env_set(f, "SCBRIDGE_PARTIAL_SHIPMENTS", "");
    expect_bad(f, "SCBRIDGE_DDI_CUSTOMERS", "WEB,AMZ");
    expect_problem(f, "SCBRIDGE_DDI_CUSTOMERS", "entry 1 is not key=value");
    env_set(f, "SCBRIDGE_PARTIAL_SHIPMENTS", "");
    expect_bad(f, "SCBRIDGE_DDI_CUSTOMERS",
               "Amazon=0123456789012345678901234567890123456789"
               "012345678901234567890123");
}

static void test_config__parses_excluded_channels(void **state)
{
    struct fix *f = *state;

    assert_int_equal(load(f), SCB_OK);
    assert_true(config_channel_excluded(&f->cfg, 20));
    assert_true(config_channel_excluded(&f->cfg, 79));
    assert_false(config_channel_excluded(&f->cfg, 4));
    expect_ok(f, "SCBRIDGE_IMPORT_CHANNELS_EXCLUDE", "walmart,20");
    assert_true(config_channel_excluded(&f->cfg, 42));
    assert_true(config_channel_excluded(&f->cfg, 50));
    assert_true(config_channel_excluded(&f->cfg, 20));
    assert_false(config_channel_excluded(&f->cfg, 79));
    expect_bad(f, "SCBRIDGE_IMPORT_CHANNELS_EXCLUDE", "eBay,eBayOrder");
    expect_bad(f, "SCBRIDGE_IMPORT_CHANNELS_EXCLUDE", "FBA,,WFS");
    expect_bad(f, "SCBRIDGE_IMPORT_CHANNELS_EXCLUDE", "FBA,Atlantis");
    expect_bad(f, "SCBRIDGE_IMPORT_CHANNELS_EXCLUDE", "FBA,FBA");
    expect_bad(f, "SCBRIDGE_IMPORT_CHANNELS_EXCLUDE", "8");
}

static void test_config__parses_mapping_tables(void **state)
{
    struct fix *f = *state;
    const struct config_map_row *row;

    expect_ok(f, "SCBRIDGE_SHIP_VIA_MAP",
              "UPS|Ground=UPS GROUND;FedEx|Home Delivery=FEDEX HOME");
    assert_int_equal(f->cfg.ship_via_map.n, 2);
    row = config_maptable_find(&f->cfg.ship_via_map, "fedex", "HOME DELIVERY");
    assert_non_null(row);
    assert_string_equal(row->to_a, "FEDEX HOME");
    assert_string_equal(row->to_b, "");
    assert_null(config_maptable_find(&f->cfg.ship_via_map, "UPS", "Air"));
    expect_ok(f, "SCBRIDGE_CARRIER_MAP", " UPS | Ground = UPS | GND ");
    row = config_maptable_find(&f->cfg.carrier_map, "UPS", "Ground");
    assert_non_null(row);
    assert_string_equal(row->from_a, "UPS");
    assert_string_equal(row->from_b, "Ground");
    assert_string_equal(row->to_a, "UPS");
    assert_string_equal(row->to_b, "GND");
}

static void test_config__rejects_bad_mapping_tables(void **state)
{
    static const char *const bad_via[] = {
        "UPS|Ground=A;ups|ground=B",
        "UPS|Ground=A|B",
        "UPS=A",
        "UPS|Ground=A;",
        "UPS|Ground=A=B",
        "UPS|Ground|X=A",
        "|Ground=A",
        "UPS|Ground= ",
        "UPS|Ground",
    };
    struct fix *f = *state;

    for (size_t i = 0; i < sizeof(bad_via) / sizeof(bad_via[0]); i++)
        expect_bad(f, "SCBRIDGE_SHIP_VIA_MAP", bad_via[i]);
    env_set(f, "SCBRIDGE_SHIP_VIA_MAP", "UPS|Ground=A;ups|GROUND=B");
    expect_problem(f, "SCBRIDGE_SHIP_VIA_MAP", "entry 2 repeats");
    env_set(f, "SCBRIDGE_SHIP_VIA_MAP", "");
    expect_bad(f, "SCBRIDGE_CARRIER_MAP", "UPS|Ground=UPS");
}

static void test_config__decodes_webhook_secrets(void **state)
{
    struct fix *f = *state;
    const struct config *c = &f->cfg;

    /* Unpadded, bare, and two secrets on two lines. */
    expect_ok(f, "SCBRIDGE_WEBHOOK_SECRET_SC",
              "whsec_c2Mtd2ViaG9vay1rZXk\n  YQ==\t");
    assert_int_equal(c->n_webhook_secret_sc, 2);
    assert_int_equal(c->webhook_secret_sc[0].len, 14);
    assert_memory_equal(c->webhook_secret_sc[0].bytes, "sc-webhook-key", 14);
    assert_int_equal(c->webhook_secret_sc[1].len, 1);
    assert_int_equal(c->webhook_secret_sc[1].bytes[0], 'a');
    expect_ok(f, "SCBRIDGE_WEBHOOK_SECRET_SC", "YWI");
    assert_int_equal(c->webhook_secret_sc[0].len, 2);
    assert_memory_equal(c->webhook_secret_sc[0].bytes, "ab", 2);
}

static void test_config__rejects_bad_webhook_secrets(void **state)
{
    static const char *const bad[] = {
        "whsec_", "whsec_!!!!", "====",   "Y", "YQ===", "whsec_YQ== whsec_YQ==",
        "Y-_Q",   "YQ==YQ==",   " \n\t ",
    };
    struct fix *f = *state;
    char many[512];
    size_t n = 0;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_bad(f, "SCBRIDGE_WEBHOOK_SECRET_DDI", bad[i]);
    for (int i = 0; i <= CONFIG_MAX_SECRETS; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "MT%c= ", 'A' + i);
    expect_bad(f, "SCBRIDGE_WEBHOOK_SECRET_DDI", many);
}

static void test_config__rejects_short_admin_token(void **state)
{
    struct fix *f = *state;

    expect_ok(f, "SCBRIDGE_ADMIN_TOKEN",
              "0123456789abcdef0123456789abcdef "
              "fedcba9876543210fedcba9876543210");
    assert_int_equal(f->cfg.n_admin_tokens, 2);
    assert_int_equal(f->cfg.admin_tokens[1].len, 32);
    expect_bad(f, "SCBRIDGE_ADMIN_TOKEN", "0123456789abcdef0123456789abcde");
    expect_problem(f, "SCBRIDGE_ADMIN_TOKEN", "32");
    expect_bad(f, "SCBRIDGE_ADMIN_TOKEN",
               "0123456789abcdef0123456789abcdef \x01");
    expect_bad(f, "SCBRIDGE_ADMIN_TOKEN",
               "0123456789abcdef0123456789abcd\xc3\xa9");
}

static void test_config__parses_redis_url(void **state)
{
    struct fix *f = *state;
    const struct config *c = &f->cfg;

    expect_ok(f, "SCBRIDGE_REDIS_URL", "redis://app:p%40ss%2Fw@redis:6380/3");
    assert_string_equal(c->redis_host, "redis");
    assert_int_equal(c->redis_port, 6380);
    assert_int_equal(c->redis_db, 3);
    assert_string_equal(c->redis_user, "app");
    assert_string_equal(c->redis_password, "p@ss/w");
    assert_string_equal(c->redis_url, "redis://app:p%40ss%2Fw@redis:6380/3");
    expect_ok(f, "SCBRIDGE_REDIS_URL", "redis://:secret@[::1]:6379");
    assert_null(c->redis_user);
    assert_string_equal(c->redis_password, "secret");
    assert_string_equal(c->redis_host, "::1");
    assert_int_equal(c->redis_db, 0);
    expect_ok(f, "SCBRIDGE_REDIS_URL", "redis://10.0.0.5:6379/");
    assert_null(c->redis_password);
}

static void test_config__rejects_bad_redis_urls(void **state)
{
    static const char *const bad[] = {
        "http://127.0.0.1:6379",
        "redis://127.0.0.1",
        "redis://127.0.0.1:6379/x",
        "redis://user@127.0.0.1:6379",
        "redis://:@127.0.0.1:6379",
        "redis://:p%zzw@127.0.0.1:6379",
        "redis://:p%00w@127.0.0.1:6379",
        "redis://127.0.0.1:6379/0?x=1",
        "redis://:pw@:6379",
        "redis:/127.0.0.1:6379",
    };
    struct fix *f = *state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_bad(f, "SCBRIDGE_REDIS_URL", bad[i]);
}

static void test_config__rejects_rediss_saying_tls_unsupported(void **state)
{
    struct fix *f = *state;

    expect_bad(f, "SCBRIDGE_REDIS_URL", "rediss://:pw@redis.example:6380/0");
    expect_problem(f, "SCBRIDGE_REDIS_URL", "TLS");
    expect_problem(f, "SCBRIDGE_REDIS_URL", "proxy");
}

static void test_config__checks_redis_prefix(void **state)
{
    struct fix *f = *state;

    expect_ok(f, "SCBRIDGE_REDIS_PREFIX", "tenant-a/prod:");
    assert_string_equal(f->cfg.redis_prefix, "tenant-a/prod:");
    expect_ok(f, "SCBRIDGE_REDIS_PREFIX", "0123456789012345678901234567890:");
    expect_bad(f, "SCBRIDGE_REDIS_PREFIX", "0123456789012345678901234567890:x");
    expect_bad(f, "SCBRIDGE_REDIS_PREFIX", "a b");
    expect_bad(f, "SCBRIDGE_REDIS_PREFIX", "caf\xc3\xa9");
}

static void test_config__checks_base_urls(void **state)
{
    struct fix *f = *state;

    expect_ok(f, "SCBRIDGE_SC_BASE_URL", "http://127.0.0.1:9/rest/");
    assert_string_equal(f->cfg.sc_base_url, "http://127.0.0.1:9/rest");
    expect_ok(f, "SCBRIDGE_DDI_BASE_URL", "https://gw.example:8443/");
    assert_string_equal(f->cfg.ddi_base_url, "https://gw.example:8443");
    expect_bad(f, "SCBRIDGE_SC_BASE_URL", "https://x.example/api");
    expect_bad(f, "SCBRIDGE_SC_BASE_URL", "https://rest");
    expect_bad(f, "SCBRIDGE_SC_BASE_URL", "ftp://x.example/rest");
    expect_bad(f, "SCBRIDGE_SC_BASE_URL", "https:///rest");
    expect_bad(f, "SCBRIDGE_SC_BASE_URL", "https://u:p@x.example/rest");
    expect_bad(f, "SCBRIDGE_SC_BASE_URL", "https://x.example/rest?a=1");
    expect_bad(f, "SCBRIDGE_SC_BASE_URL", "https://x.example:0/rest");
    env_set(f, "SCBRIDGE_SC_BASE_URL", "https://x.example/rest");
    expect_bad(f, "SCBRIDGE_DDI_BASE_URL", "gw.example");
    expect_bad(f, "SCBRIDGE_DDI_BASE_URL", "https://gw example");
}

static void test_config__parses_times(void **state)
{
    struct fix *f = *state;

    expect_ok(f, "SCBRIDGE_IMPORT_SINCE", "2026-12-01T00:00:00Z");
    assert_true(f->cfg.has_import_since);
    assert_int_equal(f->cfg.import_since_ms, 1796083200000LL);
    expect_ok(f, "SCBRIDGE_IMPORT_SINCE", "2026-12-01T02:00:00.5+02:00");
    assert_int_equal(f->cfg.import_since_ms, 1796083200500LL);
    expect_ok(f, "SCBRIDGE_SHIPMENTS_SINCE", "2024-02-29t23:59:59.123456z");
    assert_true(f->cfg.has_shipments_since);
    assert_int_equal(f->cfg.shipments_since_ms, 1709251199123LL);
    expect_bad(f, "SCBRIDGE_IMPORT_SINCE", "2026-12-01T00:00:00");
    expect_bad(f, "SCBRIDGE_IMPORT_SINCE", "2026-12-01 00:00:00Z");
    expect_bad(f, "SCBRIDGE_IMPORT_SINCE", "2026-02-29T00:00:00Z");
    expect_bad(f, "SCBRIDGE_IMPORT_SINCE", "2026-13-01T00:00:00Z");
    expect_bad(f, "SCBRIDGE_IMPORT_SINCE", "2026-12-01T24:00:00Z");
    expect_bad(f, "SCBRIDGE_IMPORT_SINCE", "2026-12-01T00:00:00+2:00");
    expect_bad(f, "SCBRIDGE_IMPORT_SINCE", "2026-12-01");
    expect_bad(f, "SCBRIDGE_IMPORT_SINCE", "1969-12-31T23:59:59Z");
}

static void test_config__parses_booleans_and_levels(void **state)
{
    struct fix *f = *state;

    expect_ok(f, "SCBRIDGE_IMPORT_DROPSHIP", "true");
    assert_true(f->cfg.import_dropship);
    expect_ok(f, "SCBRIDGE_SC_CREATE_PRODUCTS", "false");
    assert_false(f->cfg.sc_create_products);
    expect_ok(f, "SCBRIDGE_LOG_LEVEL", "debug");
    assert_int_equal(f->cfg.log_level, LOG_DEBUG);
    expect_bad(f, "SCBRIDGE_IMPORT_DROPSHIP", "yes");
    expect_bad(f, "SCBRIDGE_IMPORT_DROPSHIP", "TRUE");
    env_set(f, "SCBRIDGE_IMPORT_DROPSHIP", "false");
    expect_bad(f, "SCBRIDGE_LOG_LEVEL", "WARN");
}

static void test_config__parses_sync_fields(void **state)
{
    struct fix *f = *state;

    expect_ok(f, "SCBRIDGE_SYNC_FIELDS", "qty,price");
    assert_int_equal(f->cfg.sync_fields, SYNC_QTY | SYNC_PRICE);
    expect_bad(f, "SCBRIDGE_SYNC_FIELDS", "qty,qty");
    expect_bad(f, "SCBRIDGE_SYNC_FIELDS", "qty,");
    expect_bad(f, "SCBRIDGE_SYNC_FIELDS", "quantity");
}

static void test_config__backoff_cap_not_below_base(void **state)
{
    struct fix *f = *state;

    env_set(f, "SCBRIDGE_BACKOFF_BASE", "5m");
    env_set(f, "SCBRIDGE_BACKOFF_CAP", "299s");
    expect_problem(f, "SCBRIDGE_BACKOFF_CAP", "SCBRIDGE_BACKOFF_BASE");
    assert_int_equal(count_lines(problems(f)), 1);
    expect_ok(f, "SCBRIDGE_BACKOFF_CAP", "300s");
    assert_int_equal(f->cfg.backoff_cap_s, 300);
}

static void test_config__checks_strings(void **state)
{
    struct fix *f = *state;
    char longer[LONG_VALUE];

    expect_ok(f, "SCBRIDGE_SC_DEFAULT_PRODUCT_TYPE", "Default Type");
    assert_string_equal(f->cfg.sc_default_product_type, "Default Type");
    expect_bad(f, "SCBRIDGE_DDI_COMPANY", "01\n02");
    env_set(f, "SCBRIDGE_DDI_COMPANY", "01");
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    expect_bad(f, "SCBRIDGE_SC_USERNAME", longer);
    expect_problem(f, "SCBRIDGE_SC_USERNAME", "longer than 4096 bytes");
}

static void test_config__checks_ca_file_is_readable(void **state)
{
    struct fix *f = *state;
    const char *path = write_file(f, "pem", 3);

    expect_ok(f, "SCBRIDGE_CA_FILE", path);
    assert_string_equal(f->cfg.ca_file, path);
    expect_bad(f, "SCBRIDGE_CA_FILE", "/nonexistent/ca.pem");
}

static void test_config__reads_secret_from_file(void **state)
{
    struct fix *f = *state;

    env_set(f, "SCBRIDGE_SC_PASSWORD", "");
    env_set(f, "SCBRIDGE_SC_PASSWORD_FILE", write_file(f, "pw one\n", 7));
    env_set(f, "SCBRIDGE_DDI_API_KEY", NULL);
    env_set(f, "SCBRIDGE_DDI_API_KEY_FILE", write_file(f, "k\r\n", 3));
    env_set(f, "SCBRIDGE_REDIS_URL_FILE",
            write_file(f, "redis://u:pw@h:1/2\n", 19));
    env_set(f, "SCBRIDGE_ADMIN_TOKEN", NULL);
    env_set(f, "SCBRIDGE_ADMIN_TOKEN_FILE",
            write_file(f, TOKEN "\n" TOKEN "x\n", 2 * strlen(TOKEN) + 3));
    assert_int_equal(load(f), SCB_OK);
    assert_string_equal(f->cfg.sc_password, "pw one");
    assert_string_equal(f->cfg.ddi_api_key, "k");
    assert_string_equal(f->cfg.redis_password, "pw");
    assert_int_equal(f->cfg.redis_db, 2);
    assert_int_equal(f->cfg.n_admin_tokens, 2);
}

static void test_config__file_loses_only_one_newline(void **state)
{
    struct fix *f = *state;

    env_set(f, "SCBRIDGE_SC_PASSWORD", NULL);
    env_set(f, "SCBRIDGE_SC_PASSWORD_FILE", write_file(f, "pw\n\n", 4));
    expect_problem(f, "SCBRIDGE_SC_PASSWORD", "control character");
}

static void test_config__rejects_name_and_file_both_set(void **state)
{
    struct fix *f = *state;

    env_set(f, "SCBRIDGE_DDI_API_KEY_FILE", write_file(f, "k\n", 2));
    expect_problem(f, "SCBRIDGE_DDI_API_KEY", "SCBRIDGE_DDI_API_KEY_FILE");
    assert_int_equal(count_lines(problems(f)), 1);
}

static void test_config__rejects_empty_or_unreadable_file(void **state)
{
    struct fix *f = *state;

    env_set(f, "SCBRIDGE_SC_PASSWORD", NULL);
    env_set(f, "SCBRIDGE_SC_PASSWORD_FILE", write_file(f, "", 0));
    expect_problem(f, "SCBRIDGE_SC_PASSWORD_FILE", "empty");
    env_set(f, "SCBRIDGE_SC_PASSWORD_FILE", write_file(f, "\r\n", 2));
    expect_problem(f, "SCBRIDGE_SC_PASSWORD_FILE", "empty");
    env_set(f, "SCBRIDGE_SC_PASSWORD_FILE", "/nonexistent/secret");
    expect_problem(f, "SCBRIDGE_SC_PASSWORD_FILE", "cannot read");
    env_set(f, "SCBRIDGE_SC_PASSWORD_FILE", "/tmp");
    expect_problem(f, "SCBRIDGE_SC_PASSWORD_FILE", "cannot read");
    env_set(f, "SCBRIDGE_SC_PASSWORD_FILE", write_file(f, "a\0b", 3));
    expect_problem(f, "SCBRIDGE_SC_PASSWORD_FILE", "NUL");
    assert_int_equal(count_lines(problems(f)), 1);
}

static void test_config__rejects_oversized_file(void **state)
{
    struct fix *f = *state;
    char big[5000];

    memset(big, 'a', sizeof(big));
    env_set(f, "SCBRIDGE_SC_PASSWORD", NULL);
    env_set(f, "SCBRIDGE_SC_PASSWORD_FILE", write_file(f, big, sizeof(big)));
    expect_problem(f, "SCBRIDGE_SC_PASSWORD_FILE", "larger than 4096");
}

static void test_config__file_variant_only_for_secrets(void **state)
{
    struct fix *f = *state;

    env_set(f, "SCBRIDGE_SC_USERNAME", NULL);
    env_set(f, "SCBRIDGE_SC_USERNAME_FILE", write_file(f, "u\n", 2));
    expect_problem(f, "SCBRIDGE_SC_USERNAME", "required");
}

/* Every secret of the fixture, as text that must never come out. */
static const char *const secret_texts[] = {
    TOKEN,
    SC_PW,
    DDI_KEY,
    "c2Mtd2ViaG9vay1rZXk",
    WH_DDI,
    "sc-webhook-key",
    "ddi-webhook-key",
    "R3d1sPw",
};

static void assert_no_secret(const char *text)
{
    for (size_t i = 0; i < sizeof(secret_texts) / sizeof(secret_texts[0]);
         i++) {
        if (strstr(text, secret_texts[i]))
            fail_msg("secret %zu appears in:\n%s", i, text);
    }
}

static void test_config__never_shows_a_secret(void **state)
{
    struct fix *f = *state;

    env_set(f, "SCBRIDGE_REDIS_URL", "redis://app:R3d1sPw@redis:6379/0");
    assert_int_equal(load(f), SCB_OK);
    assert_no_secret(print_cfg(f));
    /* Bad secrets, and problems all around them. */
    env_set(f, "SCBRIDGE_ADMIN_TOKEN", TOKEN " short");
    env_set(f, "SCBRIDGE_WEBHOOK_SECRET_SC", WH_SC " !" SC_PW);
    env_set(f, "SCBRIDGE_WEBHOOK_SECRET_DDI", WH_DDI " " WH_DDI);
    env_set(f, "SCBRIDGE_SC_PASSWORD", SC_PW "\x01");
    env_set(f, "SCBRIDGE_DDI_API_KEY_FILE", DDI_KEY);
    env_set(f, "SCBRIDGE_REDIS_URL", "redis://app:R3d1sPw@redis:0/0");
    assert_int_equal(load(f), SCB_EINVAL);
    assert_int_equal(count_lines(problems(f)), 6);
    assert_no_secret(problems(f));
    env_set(f, "SCBRIDGE_REDIS_URL", "rediss://app:R3d1sPw@redis:1/0");
    assert_int_equal(load(f), SCB_EINVAL);
    assert_no_secret(problems(f));
}

static void test_config__prints_every_setting_sorted(void **state)
{
    struct fix *f = *state;
    const char *all, *p;
    char prev[96] = "", name[96];
    size_t lines = 0;

    assert_int_equal(load(f), SCB_OK);
    all = print_cfg(f);
    for (p = all; *p; lines++) {
        const char *eq = strchr(p, '='), *nl = strchr(p, '\n');

        assert_non_null(eq);
        assert_non_null(nl);
        assert_true(eq < nl);
        assert_true((size_t)(eq - p) < sizeof(name));
        memcpy(name, p, (size_t)(eq - p));
        name[eq - p] = '\0';
        assert_int_equal(strncmp(name, "SCBRIDGE_", 9), 0);
        if (strcmp(prev, name) >= 0)
            fail_msg("%s printed after %s", name, prev);
        memcpy(prev, name, sizeof(name));
        p = nl + 1;
    }
    assert_int_equal(lines, 57);
}

static void test_config__prints_defaults_and_empty_values(void **state)
{
    struct fix *f = *state;
    char v[256];

    assert_int_equal(load(f), SCB_OK);
    assert_string_equal(printed(f, "SCBRIDGE_LISTEN", v, sizeof(v)),
                        "0.0.0.0:8080");
    assert_string_equal(printed(f, "SCBRIDGE_ADMIN_LISTEN", v, sizeof(v)), "");
    assert_string_equal(printed(f, "SCBRIDGE_ADMIN_TOKEN", v, sizeof(v)),
                        "***");
    assert_string_equal(printed(f, "SCBRIDGE_SC_PASSWORD", v, sizeof(v)),
                        "***");
    assert_string_equal(printed(f, "SCBRIDGE_DDI_API_KEY", v, sizeof(v)),
                        "***");
    assert_string_equal(printed(f, "SCBRIDGE_WEBHOOK_SECRET_DDI", v, sizeof(v)),
                        "***");
    assert_string_equal(printed(f, "SCBRIDGE_REDIS_URL", v, sizeof(v)),
                        "redis://127.0.0.1:6379/0");
    assert_string_equal(printed(f, "SCBRIDGE_IMPORT_SINCE", v, sizeof(v)), "");
    assert_string_equal(printed(f, "SCBRIDGE_SHIPMENTS_SINCE", v, sizeof(v)),
                        "");
    assert_string_equal(printed(f, "SCBRIDGE_CA_FILE", v, sizeof(v)), "");
    assert_string_equal(
        printed(f, "SCBRIDGE_SC_DEFAULT_PRODUCT_TYPE", v, sizeof(v)), "");
    assert_string_equal(printed(f, "SCBRIDGE_SHIP_VIA_MAP", v, sizeof(v)), "");
    assert_string_equal(printed(f, "SCBRIDGE_SC_TIMEOUT", v, sizeof(v)), "30s");
    assert_string_equal(
        printed(f, "SCBRIDGE_WEBHOOK_TOLERANCE_S", v, sizeof(v)), "300");
    assert_string_equal(printed(f, "SCBRIDGE_POLL_ORDERS", v, sizeof(v)),
                        "default=1h,Amazon=20m,eBay=30m,Walmart=30m");
    assert_string_equal(printed(f, "SCBRIDGE_DDI_CUSTOMERS", v, sizeof(v)),
                        "default=WEB");
    assert_string_equal(
        printed(f, "SCBRIDGE_IMPORT_CHANNELS_EXCLUDE", v, sizeof(v)),
        "FBA,WFS");
    assert_string_equal(printed(f, "SCBRIDGE_SYNC_FIELDS", v, sizeof(v)),
                        "name,long_description,manufacturer_sku,upc,price,"
                        "uom,image_url,product_type,qty");
    assert_string_equal(
        printed(f, "SCBRIDGE_SC_PRODUCT_COMPANY_ID", v, sizeof(v)), "163");
    assert_string_equal(printed(f, "SCBRIDGE_LOG_LEVEL", v, sizeof(v)), "info");
    assert_string_equal(printed(f, "SCBRIDGE_IMPORT_DROPSHIP", v, sizeof(v)),
                        "false");
}

static void test_config__prints_given_values(void **state)
{
    struct fix *f = *state;
    char v[256];

    env_set(f, "SCBRIDGE_REDIS_URL", "redis://app:R3d1sPw@redis:6379/0");
    env_set(f, "SCBRIDGE_ADMIN_LISTEN", "[::1]:9090");
    env_set(f, "SCBRIDGE_IMPORT_SINCE", "2026-12-01T01:00:00+01:00");
    env_set(f, "SCBRIDGE_CARRIER_MAP", "UPS|Ground=UPS|GND;a|b=c|d");
    env_set(f, "SCBRIDGE_SHIP_VIA_MAP", "UPS | Ground = UPS GROUND");
    env_set(f, "SCBRIDGE_PARTIAL_SHIPMENTS", "Amazon=first");
    env_set(f, "SCBRIDGE_IMPORT_CHANNELS_EXCLUDE", "Walmart");
    assert_int_equal(load(f), SCB_OK);
    assert_string_equal(printed(f, "SCBRIDGE_REDIS_URL", v, sizeof(v)),
                        "redis://app:***@redis:6379/0");
    assert_string_equal(printed(f, "SCBRIDGE_ADMIN_LISTEN", v, sizeof(v)),
                        "[::1]:9090");
    assert_string_equal(printed(f, "SCBRIDGE_IMPORT_SINCE", v, sizeof(v)),
                        "2026-12-01T00:00:00.000Z");
    assert_string_equal(printed(f, "SCBRIDGE_CARRIER_MAP", v, sizeof(v)),
                        "UPS|Ground=UPS|GND;a|b=c|d");
    assert_string_equal(printed(f, "SCBRIDGE_SHIP_VIA_MAP", v, sizeof(v)),
                        "UPS|Ground=UPS GROUND");
    assert_string_equal(printed(f, "SCBRIDGE_PARTIAL_SHIPMENTS", v, sizeof(v)),
                        "default=complete,Amazon=first");
    assert_string_equal(
        printed(f, "SCBRIDGE_IMPORT_CHANNELS_EXCLUDE", v, sizeof(v)),
        "Walmart,Walmart_Marketplace");
}

static void test_config__release_empties_the_config(void **state)
{
    struct fix *f = *state;

    env_set(f, "SCBRIDGE_SHIP_VIA_MAP", "UPS|Ground=UPS GROUND");
    assert_int_equal(load(f), SCB_OK);
    config_release(&f->cfg);
    assert_null(f->cfg.sc_password);
    assert_null(f->cfg.redis_url);
    assert_null(f->cfg.ship_via_map.rows);
    assert_int_equal(f->cfg.n_admin_tokens, 0);
    assert_null(f->cfg.admin_tokens[0].bytes);
    assert_null(config_chanmap_find(&f->cfg.poll_orders, 4));
    /* Releasing twice is harmless. */
    config_release(&f->cfg);
}

/* A config using every owning type, for the allocation sweeps. */
static void env_rich(struct fix *f)
{
    env_set(f, "SCBRIDGE_ADMIN_TOKEN", TOKEN " " TOKEN "2");
    env_set(f, "SCBRIDGE_REDIS_URL", "redis://app:R3d1sPw@redis:6379/0");
    env_set(f, "SCBRIDGE_SC_PASSWORD", NULL);
    env_set(f, "SCBRIDGE_SC_PASSWORD_FILE", write_file(f, "pw\n", 3));
    env_set(f, "SCBRIDGE_CA_FILE", write_file(f, "pem", 3));
    env_set(f, "SCBRIDGE_WEBHOOK_SECRET_SC", WH_SC " YQ==");
    env_set(f, "SCBRIDGE_SHIP_VIA_MAP", "UPS|Ground=G;FedEx|Air=A");
    env_set(f, "SCBRIDGE_CARRIER_MAP", "UPS|Ground=UPS|GND");
    env_set(f, "SCBRIDGE_SC_DEFAULT_PRODUCT_TYPE", "T");
    env_set(f, "SCBRIDGE_POLL_ORDERS", "eBay=5m");
}

static void test_config__survives_allocation_failures(void **state)
{
    struct fix *f = *state;
    enum scb_err err = SCB_ENOMEM;
    long n;

    env_rich(f);
    for (n = 0; err == SCB_ENOMEM && n < 10000; n++) {
        config_release(&f->cfg);
        buf_release(&f->problems);
        mem_fail_after(n);
        err = config_load(&f->cfg, fake_get, &f->env, &f->problems);
        mem_fail_after(-1);
        assert_true(err == SCB_OK || err == SCB_ENOMEM);
    }
    assert_int_equal(err, SCB_OK);
    assert_true(n > 10);
    assert_string_equal(f->cfg.redis_password, "R3d1sPw");
}

static void test_config__survives_allocation_failures_with_problems(
    void **state)
{
    struct fix *f = *state;
    enum scb_err err = SCB_ENOMEM;
    long n;

    env_rich(f);
    env_set(f, "SCBRIDGE_WORKERS", "0");
    env_set(f, "SCBRIDGE_CARRIER_MAP", "UPS|Ground=UPS|GND;UPS|Ground=A|B");
    for (n = 0; err == SCB_ENOMEM && n < 10000; n++) {
        buf_release(&f->problems);
        mem_fail_after(n);
        err = config_load(&f->cfg, fake_get, &f->env, &f->problems);
        mem_fail_after(-1);
        assert_true(err == SCB_EINVAL || err == SCB_ENOMEM);
    }
    assert_int_equal(err, SCB_EINVAL);
    assert_int_equal(count_lines(problems(f)), 2);
}

static void test_config__lookups_handle_empty_tables(void **state)
{
    struct config_maptable t = { NULL, 0 };
    struct config_chanmap *m = calloc(1, sizeof(*m));

    (void)state;
    assert_non_null(m);
    assert_null(config_maptable_find(&t, "UPS", "Ground"));
    assert_null(config_chanmap_find(m, 4));
    free(m);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_config__loads_required_settings_and_defaults),
        T(test_config__reports_each_missing_required_setting),
        T(test_config__reports_all_problems_at_once),
        T(test_config__empty_value_counts_as_unset),
        T(test_config__accepts_durations_in_each_unit),
        T(test_config__rejects_malformed_durations),
        T(test_config__rejects_durations_out_of_range),
        T(test_config__seconds_setting_takes_bare_integer),
        T(test_config__rejects_integers_out_of_range),
        T(test_config__rejects_port_zero),
        T(test_config__parses_host_and_port),
        T(test_config__admin_listen_must_differ_from_listen),
        T(test_config__parses_company_id_list),
        T(test_config__rejects_bad_lists),
        T(test_config__poll_map_keeps_builtin_default),
        T(test_config__map_value_without_key_is_default),
        T(test_config__rejects_bad_channel_maps),
        T(test_config__parses_string_and_policy_maps),
        T(test_config__parses_excluded_channels),
        T(test_config__parses_mapping_tables),
        T(test_config__rejects_bad_mapping_tables),
        T(test_config__decodes_webhook_secrets),
        T(test_config__rejects_bad_webhook_secrets),
        T(test_config__rejects_short_admin_token),
        T(test_config__parses_redis_url),
        T(test_config__rejects_bad_redis_urls),
        T(test_config__rejects_rediss_saying_tls_unsupported),
        T(test_config__checks_redis_prefix),
        T(test_config__checks_base_urls),
        T(test_config__parses_times),
        T(test_config__parses_booleans_and_levels),
        T(test_config__parses_sync_fields),
        T(test_config__backoff_cap_not_below_base),
        T(test_config__checks_strings),
        T(test_config__checks_ca_file_is_readable),
        T(test_config__reads_secret_from_file),
        T(test_config__file_loses_only_one_newline),
        T(test_config__rejects_name_and_file_both_set),
        T(test_config__rejects_empty_or_unreadable_file),
        T(test_config__rejects_oversized_file),
        T(test_config__file_variant_only_for_secrets),
        T(test_config__never_shows_a_secret),
        T(test_config__prints_every_setting_sorted),
        T(test_config__prints_defaults_and_empty_values),
        T(test_config__prints_given_values),
        T(test_config__release_empties_the_config),
        T(test_config__survives_allocation_failures),
        T(test_config__survives_allocation_failures_with_problems),
        T(test_config__lookups_handle_empty_tables),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
