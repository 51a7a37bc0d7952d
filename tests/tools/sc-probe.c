/* SPDX-License-Identifier: MIT */
/*
 * sc-probe: drives the Sellercloud client against SCBRIDGE_SC_BASE_URL
 * for end-to-end tests, configured from the SCBRIDGE_* environment like
 * the service. Each command prints one JSON object on stdout:
 * {"err": "SCB_...", "class": "...", "status": n, "wait_ms": n, ...}.
 *
 * usage: sc-probe COMMAND [ARG...]
 *   token
 *   orders-by-ids COMPANY ID...
 *   orders-updated COMPANY FROM_ISO CHANNEL        (CHANNEL -1: none)
 *   order-get ID | is-exported ID | packages ID
 *   set-exported ID...
 *   ship ORDER CARRIER SERVICE SHIPDATE_ISO TRACKING
 *   ship-package ORDER PACKAGE CARRIER SERVICE SHIPDATE_ISO TRACKING
 *   note ORDER MESSAGE CATEGORY
 *   catalog SKU
 *   product-create COMPANY SKU NAME TYPE PRICE|- UPC|-
 *   basic-info SKU NAME|- LONGDESC|- MFGSKU|- UPC|- PRICE|-
 *   custom-columns SKU NAME=VALUE...
 *   set-physical SKU WAREHOUSE QTY
 *   paused                                 (the shared pause's end)
 *   load SECONDS THREADS COMPANY ORDER_ID   (calls until SECONDS pass;
 *        "results" counts outcomes, "cut" the waits that outlast the run)
 * Logs go to stderr. With SC_PROBE_METRICS set, the output also holds
 * "metrics", the process's Prometheus text; SC_PROBE_BLOCK_MS bounds the
 * sleep for a rate-limit token. Exit 0 unless the command line or setup
 * is wrong.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "config.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "money.h"
#include "ratelimit.h"
#include "sc_client.h"
#include "store.h"

#define PROBE_MAX_ARGS 600

struct probe {
    struct config cfg;
    bool loaded;        /* cfg holds something to release */
    struct store *st;
    struct sc_session *sess;
    struct sc_client *c;
};

static const char *const probe_codes[SCB_ERR_COUNT] = {
    [SCB_OK] = "SCB_OK",
    [SCB_ENOMEM] = "SCB_ENOMEM",
    [SCB_EINVAL] = "SCB_EINVAL",
    [SCB_ENOTFOUND] = "SCB_ENOTFOUND",
    [SCB_ETIMEOUT] = "SCB_ETIMEOUT",
    [SCB_ESTORE] = "SCB_ESTORE",
    [SCB_ESTORECMD] = "SCB_ESTORECMD",
    [SCB_EUPSTREAM] = "SCB_EUPSTREAM",
    [SCB_EPERMANENT] = "SCB_EPERMANENT",
    [SCB_EWAIT] = "SCB_EWAIT",
    [SCB_EUNKNOWN] = "SCB_EUNKNOWN",
    [SCB_ETOOBIG] = "SCB_ETOOBIG",
    [SCB_EPARSE] = "SCB_EPARSE",
    [SCB_ECONFLICT] = "SCB_ECONFLICT",
    [SCB_EAUTH] = "SCB_EAUTH",
    [SCB_EIO] = "SCB_EIO",
    [SCB_EVERSION] = "SCB_EVERSION",
};

static const char *probe_code(enum scb_err err)
{
    return (unsigned)err < SCB_ERR_COUNT ? probe_codes[err] : "?";
}

static const char *probe_getenv(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

static int64_t probe_num(const char *s)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);

    if (end == s || *end) {
        fprintf(stderr, "sc-probe: not a number: %s\n", s);
        exit(2);
    }
    return (int64_t)v;
}

static int64_t probe_time(const char *s)
{
    int64_t ms = 0;

    if (sc_time_parse(s, &ms, NULL)) {
        fprintf(stderr, "sc-probe: not a date-time: %s\n", s);
        exit(2);
    }
    return ms;
}

static int64_t probe_cents(const char *s)
{
    int64_t cents = 0;

    if (money_parse(s, &cents)) {
        fprintf(stderr, "sc-probe: not an amount: %s\n", s);
        exit(2);
    }
    return cents;
}

/* "-" stands for "not sent". */
static const char *probe_opt(const char *s)
{
    return strcmp(s, "-") == 0 ? NULL : s;
}

/* Adds this process's metrics text as "metrics". */
static void probe_add_metrics(cJSON *out)
{
    struct buf text;

    buf_init(&text, 1 << 20);
    if (metrics_render(&text) == SCB_OK && text.data)
        cJSON_AddStringToObject(out, "metrics", text.data);
    buf_release(&text);
}

/* Prints 'out' after the result fields and frees it. */
static void probe_print(struct probe *p, enum scb_err err, cJSON *out)
{
    const struct upstream_response *r = sc_client_last(p->c);
    char *text;

    if (!out)
        out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "err", probe_code(err));
    cJSON_AddStringToObject(out, "class",
                            upstream_class_name(upstream_class_of(err)));
    cJSON_AddNumberToObject(out, "status", (double)r->status);
    cJSON_AddNumberToObject(out, "wait_ms",
                            err == SCB_EWAIT ? (double)sc_client_wait_ms(p->c)
                                             : 0);
    cJSON_AddStringToObject(out, "excerpt", r->excerpt);
    cJSON_AddNumberToObject(out, "fetches",
                            (double)sc_session_token_fetches(p->sess));
    if (getenv("SC_PROBE_METRICS"))
        probe_add_metrics(out);
    text = cJSON_PrintUnformatted(out);
    printf("%s\n", text ? text : "{}");
    fflush(stdout);
    cJSON_free(text);
    cJSON_Delete(out);
    if (err && err != SCB_ENOTFOUND)
        sc_client_log_failure(p->c, "sc-probe", NULL);
}

static cJSON *probe_order_json(const struct sc_order *o)
{
    cJSON *j = cJSON_CreateObject(), *lines = cJSON_CreateArray();
    cJSON *tr = cJSON_CreateArray();

    cJSON_AddNumberToObject(j, "id", (double)o->id);
    cJSON_AddNumberToObject(j, "company_id", (double)o->company_id);
    cJSON_AddNumberToObject(j, "order_source", o->order_source);
    cJSON_AddStringToObject(j, "order_source_order_id",
                            o->order_source_order_id);
    cJSON_AddNumberToObject(j, "status_code", o->status_code);
    cJSON_AddNumberToObject(j, "payment_status", o->payment_status);
    cJSON_AddNumberToObject(j, "shipping_status", o->shipping_status);
    cJSON_AddStringToObject(j, "last_updated", o->last_updated.raw);
    cJSON_AddNumberToObject(j, "last_updated_ms", (double)o->last_updated.ms);
    cJSON_AddNumberToObject(j, "grand_total", (double)o->grand_total);
    cJSON_AddNumberToObject(j, "shipping_total", (double)o->shipping_total);
    cJSON_AddNumberToObject(j, "tax_total", (double)o->tax_total);
    cJSON_AddStringToObject(j, "payment_ref", o->payment_ref);
    for (size_t i = 0; i < o->n_lines; i++) {
        cJSON *l = cJSON_CreateObject();

        cJSON_AddStringToObject(l, "sku", o->lines[i].product_id);
        cJSON_AddNumberToObject(l, "qty", (double)o->lines[i].qty);
        cJSON_AddNumberToObject(l, "line_total",
                                (double)o->lines[i].line_total);
        cJSON_AddItemToArray(lines, l);
    }
    cJSON_AddItemToObject(j, "lines", lines);
    for (size_t i = 0; i < o->n_all_tracking; i++)
        cJSON_AddItemToArray(tr, cJSON_CreateString(o->all_tracking[i].no));
    cJSON_AddItemToObject(j, "all_tracking", tr);
    return j;
}

static cJSON *probe_page_json(const struct sc_order_page *page, cJSON *into)
{
    cJSON *orders = cJSON_AddArrayToObject(into, "orders");
    cJSON *bad = cJSON_AddArrayToObject(into, "bad");

    for (size_t i = 0; i < page->n_orders; i++)
        cJSON_AddItemToArray(orders, probe_order_json(&page->orders[i]));
    for (size_t i = 0; i < page->n_bad; i++) {
        cJSON *b = cJSON_CreateObject();

        cJSON_AddNumberToObject(b, "id", (double)page->bad[i].id);
        cJSON_AddStringToObject(b, "field", page->bad[i].field);
        cJSON_AddItemToArray(bad, b);
    }
    cJSON_AddNumberToObject(into, "total", (double)page->total_results);
    return into;
}

static int cmd_orders_by_ids(struct probe *p, int argc, char **argv)
{
    int64_t company = probe_num(argv[0]), ids[SC_MAX_IDS + 10];
    struct sc_order_page page;
    cJSON *out = cJSON_CreateObject();
    size_t n = 0;
    enum scb_err err;

    for (int i = 1; i < argc && n < sizeof(ids) / sizeof(ids[0]); i++)
        ids[n++] = probe_num(argv[i]);
    err = sc_orders_by_ids(p->c, &company, 1, ids, n, &page);
    if (!err) {
        probe_page_json(&page, out);
        sc_order_page_release(&page);
    }
    probe_print(p, err, out);
    return 0;
}

static int cmd_orders_updated(struct probe *p, char **argv)
{
    int64_t company = probe_num(argv[0]), from = probe_time(argv[1]);
    int channel = (int)probe_num(argv[2]);
    cJSON *out = cJSON_CreateObject();
    cJSON *ids = cJSON_AddArrayToObject(out, "ids");
    struct sc_order_page page;
    enum scb_err err;
    int64_t n = 1;
    bool last = false;

    for (; !last; n++) {
        err = sc_orders_updated(p->c, company, from, channel, n, &page);
        if (err)
            break;
        for (size_t i = 0; i < page.n_orders; i++)
            cJSON_AddItemToArray(
                ids, cJSON_CreateNumber((double)page.orders[i].id));
        last = sc_order_page_is_last(&page, n, SC_PAGE_SIZE);
        sc_order_page_release(&page);
    }
    cJSON_AddNumberToObject(out, "pages", (double)(n - 1));
    probe_print(p, err, out);
    return 0;
}

static int cmd_order_get(struct probe *p, char **argv)
{
    cJSON *root = NULL, *out = cJSON_CreateObject();
    enum scb_err err = sc_order_get(p->c, probe_num(argv[0]), &root);

    if (!err)
        cJSON_AddItemToObject(out, "order", root);
    probe_print(p, err, out);
    return 0;
}

static int cmd_is_exported(struct probe *p, char **argv)
{
    cJSON *out = cJSON_CreateObject();
    bool exported = false;
    enum scb_err err = sc_order_is_exported(p->c, probe_num(argv[0]),
                                            &exported);

    if (!err)
        cJSON_AddBoolToObject(out, "exported", exported);
    probe_print(p, err, out);
    return 0;
}

static int cmd_set_exported(struct probe *p, int argc, char **argv)
{
    int64_t ids[SC_MAX_EXPORT], marked[SC_MAX_EXPORT];
    cJSON *out = cJSON_CreateObject();
    size_t n = 0, n_marked = 0;
    enum scb_err err;

    for (int i = 0; i < argc && n < SC_MAX_EXPORT; i++)
        ids[n++] = probe_num(argv[i]);
    err = sc_orders_set_exported(p->c, ids, n, marked, &n_marked);
    if (!err) {
        cJSON *arr = cJSON_AddArrayToObject(out, "marked");

        for (size_t i = 0; i < n_marked; i++)
            cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)marked[i]));
    }
    probe_print(p, err, out);
    return 0;
}

static int cmd_packages(struct probe *p, char **argv)
{
    struct sc_package pk[SC_MAX_PACKAGES];
    cJSON *out = cJSON_CreateObject();
    size_t n = 0;
    enum scb_err err;

    err = sc_order_packages(p->c, probe_num(argv[0]), pk, SC_MAX_PACKAGES,
                            &n);
    if (!err) {
        cJSON *arr = cJSON_AddArrayToObject(out, "packages");

        for (size_t i = 0; i < n; i++) {
            cJSON *o = cJSON_CreateObject();

            cJSON_AddNumberToObject(o, "id", (double)pk[i].id);
            cJSON_AddStringToObject(o, "tracking", pk[i].tracking_number);
            cJSON_AddItemToArray(arr, o);
        }
    }
    probe_print(p, err, out);
    return 0;
}

static int cmd_ship(struct probe *p, bool single, char **argv)
{
    int k = single ? 1 : 0;
    struct sc_tracking t = {
        .order_id = probe_num(argv[0]),
        .package_id = single ? probe_num(argv[1]) : 0,
        .carrier = argv[1 + k],
        .service = argv[2 + k],
        .ship_date_ms = probe_time(argv[3 + k]),
        .tracking_number = argv[4 + k],
    };
    enum scb_err err = single ? sc_order_ship_package(p->c, &t)
                              : sc_order_ship(p->c, &t);

    probe_print(p, err, NULL);
    return 0;
}

static int cmd_catalog(struct probe *p, char **argv)
{
    cJSON *item = NULL, *out = cJSON_CreateObject();
    enum scb_err err = sc_catalog_get(p->c, argv[0], &item);

    if (!err)
        cJSON_AddItemToObject(out, "item", item);
    probe_print(p, err, out);
    return 0;
}

static int cmd_product_create(struct probe *p, char **argv)
{
    struct sc_product_new n = {
        .company_id = probe_num(argv[0]),
        .sku = argv[1],
        .name = argv[2],
        .type_name = argv[3],
        .has_price = probe_opt(argv[4]) != NULL,
        .price_cents = probe_opt(argv[4]) ? probe_cents(argv[4]) : 0,
        .upc = probe_opt(argv[5]),
    };

    probe_print(p, sc_product_create(p->c, &n), NULL);
    return 0;
}

static int cmd_basic_info(struct probe *p, char **argv)
{
    struct sc_basic_info b = {
        .sku = argv[0],
        .name = probe_opt(argv[1]),
        .long_description = probe_opt(argv[2]),
        .manufacturer_sku = probe_opt(argv[3]),
        .upc = probe_opt(argv[4]),
        .has_price = probe_opt(argv[5]) != NULL,
        .price_cents = probe_opt(argv[5]) ? probe_cents(argv[5]) : 0,
    };

    probe_print(p, sc_product_basic_info(p->c, &b), NULL);
    return 0;
}

static int cmd_custom_columns(struct probe *p, int argc, char **argv)
{
    struct sc_custom_column cols[SC_MAX_COLUMNS];
    size_t n = 0;

    for (int i = 1; i < argc && n < SC_MAX_COLUMNS; i++) {
        char *eq = strchr(argv[i], '=');

        if (!eq) {
            fprintf(stderr, "sc-probe: want NAME=VALUE: %s\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        cols[n].name = argv[i];
        cols[n].value = eq + 1;
        n++;
    }
    probe_print(p, sc_product_custom_columns(p->c, argv[0], cols, n), NULL);
    return 0;
}

static int cmd_paused(struct probe *p)
{
    cJSON *out = cJSON_CreateObject();
    int64_t until = 0;
    enum scb_err err = ratelimit_paused_until(p->st, SC_UPSTREAM, &until);

    cJSON_AddNumberToObject(out, "paused_until_ms", (double)until);
    probe_print(p, err, out);
    return 0;
}

/* ---- load: several threads calling as fast as the limit allows ---- */

struct probe_worker {
    struct probe *p;
    int64_t company;
    int64_t order_id;
    int64_t deadline_ms;
    long counts[SCB_ERR_COUNT];
    long calls;
    long cut;           /* waits that reached past the deadline */
    long slept_ms;
};

static int64_t probe_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Calls once; on a wait, sleeps as a rescheduled job would. */
static void probe_load_once(struct probe_worker *w, struct sc_client *c)
{
    struct sc_order_page page;
    enum scb_err err;
    int64_t wait;

    err = sc_orders_by_ids(c, &w->company, 1, &w->order_id, 1, &page);
    if (!err)
        sc_order_page_release(&page);
    wait = err == SCB_EWAIT ? sc_client_wait_ms(c) : 0;
    if (err == SCB_EWAIT && wait >= w->deadline_ms - probe_mono_ms())
        w->cut++; /* the job would run again after this run's end */
    else
        w->counts[err]++;
    w->calls++;
    if (err == SCB_EWAIT) {
        if (wait > w->deadline_ms - probe_mono_ms())
            wait = w->deadline_ms - probe_mono_ms();
        if (wait > 0) {
            struct timespec ts = { wait / 1000, (wait % 1000) * 1000000L };

            nanosleep(&ts, NULL);
            w->slept_ms += wait;
        }
    } else if (err) {
        sc_client_log_failure(c, "sc-probe", NULL);
    }
}

static void *probe_load_thread(void *arg)
{
    struct probe_worker *w = arg;
    struct store *st = store_new(&w->p->cfg);
    struct sc_client *c = st ? sc_client_new(&w->p->cfg, w->p->sess, st)
                             : NULL;

    if (c) {
        /* Block for tokens up to the deadline, as work that waits. */
        while (probe_mono_ms() < w->deadline_ms) {
            sc_client_set_max_block_ms(c, w->deadline_ms - probe_mono_ms());
            probe_load_once(w, c);
        }
    }
    sc_client_free(c);
    store_free(st);
    return NULL;
}

static int cmd_load(struct probe *p, char **argv)
{
    int64_t secs = probe_num(argv[0]), n = probe_num(argv[1]);
    struct probe_worker w[32];
    pthread_t t[32];
    cJSON *out = cJSON_CreateObject(), *by;
    long total = 0, cut = 0;

    if (n < 1 || n > 32)
        return 2;
    memset(w, 0, sizeof(w));
    for (int64_t i = 0; i < n; i++) {
        w[i].p = p;
        w[i].company = probe_num(argv[2]);
        w[i].order_id = probe_num(argv[3]);
        w[i].deadline_ms = probe_mono_ms() + secs * 1000;
        pthread_create(&t[i], NULL, probe_load_thread, &w[i]);
    }
    by = cJSON_AddObjectToObject(out, "results");
    for (int64_t i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    for (int e = 0; e < SCB_ERR_COUNT; e++) {
        long sum = 0;

        for (int64_t i = 0; i < n; i++)
            sum += w[i].counts[e];
        if (sum)
            cJSON_AddNumberToObject(by, probe_code((enum scb_err)e),
                                    (double)sum);
        total += sum;
    }
    for (int64_t i = 0; i < n; i++)
        cut += w[i].cut;
    cJSON_AddNumberToObject(out, "calls", (double)(total + cut));
    cJSON_AddNumberToObject(out, "cut", (double)cut);
    probe_print(p, SCB_OK, out);
    return 0;
}

struct probe_cmd {
    const char *name;
    int min_args;
};

static const struct probe_cmd probe_cmds[] = {
    { "token", 0 },          { "orders-by-ids", 2 },  { "orders-updated", 3 },
    { "order-get", 1 },      { "is-exported", 1 },    { "set-exported", 1 },
    { "packages", 1 },       { "ship", 5 },           { "ship-package", 6 },
    { "note", 3 },           { "catalog", 1 },        { "product-create", 6 },
    { "basic-info", 6 },     { "custom-columns", 2 }, { "set-physical", 3 },
    { "paused", 0 },         { "load", 4 },
};

static int probe_dispatch(struct probe *p, const char *cmd, int argc,
                          char **argv)
{
    if (strcmp(cmd, "token") == 0) {
        probe_print(p, sc_client_token(p->c), NULL);
        return 0;
    }
    if (strcmp(cmd, "orders-by-ids") == 0)
        return cmd_orders_by_ids(p, argc, argv);
    if (strcmp(cmd, "orders-updated") == 0)
        return cmd_orders_updated(p, argv);
    if (strcmp(cmd, "order-get") == 0)
        return cmd_order_get(p, argv);
    if (strcmp(cmd, "is-exported") == 0)
        return cmd_is_exported(p, argv);
    if (strcmp(cmd, "set-exported") == 0)
        return cmd_set_exported(p, argc, argv);
    if (strcmp(cmd, "packages") == 0)
        return cmd_packages(p, argv);
    if (strcmp(cmd, "ship") == 0 || strcmp(cmd, "ship-package") == 0)
        return cmd_ship(p, strcmp(cmd, "ship-package") == 0, argv);
    if (strcmp(cmd, "note") == 0) {
        probe_print(p,
                    sc_order_add_note(p->c, probe_num(argv[0]), argv[1],
                                      (int)probe_num(argv[2])),
                    NULL);
        return 0;
    }
    if (strcmp(cmd, "catalog") == 0)
        return cmd_catalog(p, argv);
    if (strcmp(cmd, "product-create") == 0)
        return cmd_product_create(p, argv);
    if (strcmp(cmd, "basic-info") == 0)
        return cmd_basic_info(p, argv);
    if (strcmp(cmd, "custom-columns") == 0)
        return cmd_custom_columns(p, argc, argv);
    if (strcmp(cmd, "set-physical") == 0) {
        probe_print(p,
                    sc_inventory_set_physical(p->c, argv[0],
                                              probe_num(argv[1]),
                                              probe_num(argv[2])),
                    NULL);
        return 0;
    }
    if (strcmp(cmd, "paused") == 0)
        return cmd_paused(p);
    return cmd_load(p, argv);
}

static bool probe_known(const char *cmd, int argc)
{
    for (size_t i = 0; i < sizeof(probe_cmds) / sizeof(probe_cmds[0]); i++) {
        if (strcmp(cmd, probe_cmds[i].name) == 0)
            return argc >= probe_cmds[i].min_args;
    }
    return false;
}

static int probe_setup(struct probe *p)
{
    struct buf problems;
    enum scb_err err;

    buf_init(&problems, 1 << 16);
    err = config_load(&p->cfg, probe_getenv, NULL, &problems);
    if (err) {
        fprintf(stderr, "%s", problems.data ? problems.data : "config\n");
        buf_release(&problems);
        return 2;
    }
    buf_release(&problems);
    p->loaded = true;
    p->st = store_new(&p->cfg);
    p->sess = p->st ? sc_session_new(&p->cfg) : NULL;
    p->c = p->sess ? sc_client_new(&p->cfg, p->sess, p->st) : NULL;
    if (!p->c)
        return 1;
    if (getenv("SC_PROBE_BLOCK_MS"))
        sc_client_set_max_block_ms(p->c,
                                   probe_num(getenv("SC_PROBE_BLOCK_MS")));
    return 0;
}

int main(int argc, char **argv)
{
    struct probe p;
    int rc;

    memset(&p, 0, sizeof(p));
    if (argc < 2 || argc > PROBE_MAX_ARGS ||
        !probe_known(argv[1], argc - 2)) {
        fprintf(stderr, "usage: sc-probe COMMAND [ARG...] (see source)\n");
        return 2;
    }
    mem_install_hooks();
    if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, mem_malloc, mem_free,
                             mem_realloc, mem_strdup, mem_calloc) != 0)
        return 1;
    log_init(LOG_INFO, 2);
    rc = probe_setup(&p);
    if (rc == 0)
        rc = probe_dispatch(&p, argv[1], argc - 2, argv + 2);
    sc_client_free(p.c);
    sc_session_free(p.sess);
    store_free(p.st);
    if (p.loaded)
        config_release(&p.cfg);
    curl_global_cleanup();
    return rc;
}
