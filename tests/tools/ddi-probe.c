/* SPDX-License-Identifier: MIT */
/*
 * ddi-probe: drives the DDI client (ddi_client.h) and the order mapping
 * (order_map.h) against a DDI gateway, for the end-to-end tests. It reads
 * the SCBRIDGE_* environment through config_load(), runs one command and
 * prints one JSON object per call on stdout (what the client parsed, or
 * the error, its class and detail). Exit 0 when every call succeeded, 1
 * when one failed, 2 on a usage or configuration error.
 *
 *   ddi-probe [--threads N] find REF
 *   ddi-probe create REF              (the body, JSON, on stdin)
 *   ddi-probe create-sc COMPANY [--shipped]  (a Sellercloud list item on
 *                                     stdin, mapped by order_map)
 *   ddi-probe map-sc COMPANY [--shipped]     (prints the body only)
 *   ddi-probe get ORDER_NO
 *   ddi-probe cancel ORDER_NO REASON
 *   ddi-probe shipments CURSOR|- SINCE|- LIMIT
 *   ddi-probe items CURSOR|- SINCE|- LIMIT
 *
 * --threads N runs the command in N threads at once, each with its own
 * client on one gate (SCBRIDGE_DDI_CONCURRENCY), then prints
 * {"elapsed_ms": n}.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "buf.h"
#include "config.h"
#include "ddi_client.h"
#include "jsonio.h"
#include "log.h"
#include "mem.h"
#include "order_map.h"
#include "sc_order.h"

#define PROBE_STDIN_MAX (4u << 20)
#define PROBE_THREADS_MAX 64

struct probe {
    const struct config *cfg;
    struct ddi_gate *gate;
    int argc;            /* the command and its arguments */
    char **argv;
    const char *input;   /* stdin, read once; NULL when not needed */
    size_t input_len;
    pthread_mutex_t out_lock; /* one line at a time on stdout */
    int failed;          /* guarded by out_lock */
};

static const char *probe_err_name(enum scb_err err)
{
    static const char *const names[SCB_ERR_COUNT] = {
        [SCB_OK] = "OK", [SCB_ENOMEM] = "ENOMEM", [SCB_EINVAL] = "EINVAL",
        [SCB_ENOTFOUND] = "ENOTFOUND", [SCB_ETIMEOUT] = "ETIMEOUT",
        [SCB_ESTORE] = "ESTORE", [SCB_ESTORECMD] = "ESTORECMD",
        [SCB_EUPSTREAM] = "EUPSTREAM", [SCB_EPERMANENT] = "EPERMANENT",
        [SCB_EWAIT] = "EWAIT", [SCB_EUNKNOWN] = "EUNKNOWN",
        [SCB_ETOOBIG] = "ETOOBIG", [SCB_EPARSE] = "EPARSE",
        [SCB_ECONFLICT] = "ECONFLICT", [SCB_EAUTH] = "EAUTH",
        [SCB_EIO] = "EIO", [SCB_EVERSION] = "EVERSION",
    };

    if ((int)err < 0 || err >= SCB_ERR_COUNT || !names[err])
        return "E?";
    return names[err];
}

static const char *probe_getenv(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

static cJSON *probe_money(int64_t cents)
{
    return cJSON_CreateNumber((double)cents);
}

static cJSON *probe_strs(const char *const *s, size_t n)
{
    cJSON *a = cJSON_CreateArray();

    for (size_t i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(s[i]));
    return a;
}

static cJSON *probe_shipment(const struct ddi_shipment *s)
{
    cJSON *o = cJSON_CreateObject();

    if (!o)
        return NULL;
    cJSON_AddBoolToObject(o, "valid", s->valid);
    if (s->problem)
        cJSON_AddStringToObject(o, "problem", s->problem);
    cJSON_AddStringToObject(o, "shipment_id", s->shipment_id);
    cJSON_AddStringToObject(o, "order_no", s->order_no);
    cJSON_AddStringToObject(o, "reference", s->reference);
    cJSON_AddNumberToObject(o, "confirmed_at_ms", (double)s->confirmed_at_ms);
    cJSON_AddStringToObject(o, "carrier", s->carrier);
    cJSON_AddStringToObject(o, "service", s->service);
    cJSON_AddItemToObject(o, "tracking_nos",
                          probe_strs(s->tracking_nos, s->n_packages));
    cJSON_AddBoolToObject(o, "complete", s->complete);
    if (s->has_deposit_applied)
        cJSON_AddItemToObject(o, "deposit_applied_cents",
                              probe_money(s->deposit_applied));
    return o;
}

static cJSON *probe_order(const struct ddi_order *d)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *list = cJSON_CreateArray();

    if (!o || !list) {
        cJSON_Delete(o);
        cJSON_Delete(list);
        return NULL;
    }
    cJSON_AddStringToObject(o, "order_no", d->order_no);
    cJSON_AddStringToObject(o, "reference", d->reference);
    cJSON_AddStringToObject(o, "status", d->status);
    if (d->has_total)
        cJSON_AddItemToObject(o, "total_cents", probe_money(d->total));
    if (d->has_deposit) {
        cJSON_AddItemToObject(o, "deposit_cents",
                              probe_money(d->deposit_amount));
        cJSON_AddItemToObject(o, "applied_cents",
                              probe_money(d->deposit_applied));
    }
    if (d->deposit_status)
        cJSON_AddStringToObject(o, "deposit_status", d->deposit_status);
    for (size_t i = 0; i < d->n_shipments; i++)
        cJSON_AddItemToArray(list, probe_shipment(&d->shipments[i]));
    cJSON_AddItemToObject(o, "shipments", list);
    return o;
}

static cJSON *probe_item(const struct ddi_item *it)
{
    cJSON *o = cJSON_CreateObject();

    if (!o)
        return NULL;
    cJSON_AddBoolToObject(o, "valid", it->valid);
    if (it->problem)
        cJSON_AddStringToObject(o, "problem", it->problem);
    cJSON_AddStringToObject(o, "product_no", it->product_no);
    cJSON_AddStringToObject(o, "warehouse", it->warehouse);
    cJSON_AddStringToObject(o, "price", it->price);
    cJSON_AddStringToObject(o, "uom", it->uom);
    if (it->has_available_qty)
        cJSON_AddNumberToObject(o, "available_qty",
                                (double)it->available_qty);
    cJSON_AddBoolToObject(o, "active", it->active);
    cJSON_AddBoolToObject(o, "web", it->web);
    return o;
}

/* Adds the error fields of a failed call to 'out'. */
static void probe_error(cJSON *out, enum scb_err err,
                        const struct ddi_error *e)
{
    cJSON_AddStringToObject(out, "class",
                            upstream_class_name(ddi_class_of(err)));
    cJSON_AddNumberToObject(out, "status", (double)e->status);
    if (err == SCB_EWAIT)
        cJSON_AddNumberToObject(out, "wait_ms", (double)e->wait_ms);
    /* A mapping refusal has already put its own reason. */
    if (!cJSON_GetObjectItemCaseSensitive(out, "reason"))
        cJSON_AddStringToObject(out, "reason", e->reason);
    cJSON_AddStringToObject(out, "detail", e->detail);
}

/* Prints 'out' as one line and frees it; counts a failure. */
static void probe_emit(struct probe *p, cJSON *out, enum scb_err err)
{
    char *text = out ? cJSON_PrintUnformatted(out) : NULL;

    pthread_mutex_lock(&p->out_lock);
    if (text)
        printf("%s\n", text);
    else
        printf("{\"result\":\"ENOMEM\"}\n");
    fflush(stdout);
    if (err || !text)
        p->failed = 1;
    pthread_mutex_unlock(&p->out_lock);
    if (text)
        cJSON_free(text);
    cJSON_Delete(out);
}

static const char *probe_arg(const struct probe *p, int i)
{
    if (i >= p->argc || !strcmp(p->argv[i], "-"))
        return NULL;
    return p->argv[i];
}

static enum scb_err probe_find(struct probe *p, struct ddi_client *c,
                               cJSON *out, struct ddi_error *e)
{
    struct ddi_order_list *l = NULL;
    cJSON *list;
    enum scb_err err = ddi_find_orders(c, probe_arg(p, 1), &l, e);

    if (err)
        return err;
    list = cJSON_AddArrayToObject(out, "orders");
    for (size_t i = 0; list && i < l->n; i++)
        cJSON_AddItemToArray(list, probe_order(&l->orders[i]));
    ddi_order_list_free(l);
    return SCB_OK;
}

static enum scb_err probe_order_result(enum scb_err err,
                                       struct ddi_order_doc *doc, cJSON *out)
{
    if (!err) {
        cJSON_AddItemToObject(out, "order", probe_order(&doc->order));
        ddi_order_doc_free(doc);
    }
    return err;
}

static enum scb_err probe_create(struct probe *p, struct ddi_client *c,
                                 cJSON *out, struct ddi_error *e)
{
    struct ddi_order_doc *doc = NULL;
    enum scb_err err = ddi_create_order(c, probe_arg(p, 1), p->input, &doc,
                                        e);

    return probe_order_result(err, doc, out);
}

/* Maps the Sellercloud list item on stdin into a DDI create body. */
static enum scb_err probe_map(struct probe *p, cJSON *out, cJSON **body,
                              char *ref)
{
    struct order_map_opts opts = { 0 };
    struct sc_order o;
    char why[ORDER_MAP_REASON_MAX] = "";
    cJSON *item = NULL;
    enum scb_err err;

    opts.company_id = p->argc > 1 ? strtoll(p->argv[1], NULL, 10) : 0;
    opts.already_shipped = p->argc > 2 && !strcmp(p->argv[2], "--shipped");
    err = jsonio_parse(p->input, p->input_len, PROBE_STDIN_MAX, &item);
    if (!err)
        err = sc_order_parse(item, &o, why);
    cJSON_Delete(item);
    if (err) {
        cJSON_AddStringToObject(out, "reason", why);
        return err;
    }
    err = order_map_create_body(p->cfg, &o, &opts, body, why, sizeof(why));
    if (err)
        cJSON_AddStringToObject(out, "reason", why);
    order_map_reference(opts.company_id, o.id, ref);
    sc_order_release(&o);
    return err;
}

static enum scb_err probe_create_sc(struct probe *p, struct ddi_client *c,
                                    cJSON *out, struct ddi_error *e)
{
    struct ddi_order_doc *doc = NULL;
    char ref[ORDER_MAP_REF_MAX];
    cJSON *body = NULL;
    char *text = NULL;
    enum scb_err err = probe_map(p, out, &body, ref);

    if (err)
        return err;
    text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (!text)
        return SCB_ENOMEM;
    cJSON_AddStringToObject(out, "reference", ref);
    err = ddi_create_order(c, ref, text, &doc, e);
    cJSON_free(text);
    return probe_order_result(err, doc, out);
}

static enum scb_err probe_map_sc(struct probe *p, cJSON *out)
{
    char ref[ORDER_MAP_REF_MAX];
    cJSON *body = NULL;
    enum scb_err err = probe_map(p, out, &body, ref);

    if (!err)
        cJSON_AddItemToObject(out, "body", body);
    return err;
}

static enum scb_err probe_get(struct probe *p, struct ddi_client *c,
                              cJSON *out, struct ddi_error *e)
{
    struct ddi_order_doc *doc = NULL;
    enum scb_err err = ddi_get_order(c, probe_arg(p, 1), &doc, e);

    return probe_order_result(err, doc, out);
}

static enum scb_err probe_cancel(struct probe *p, struct ddi_client *c,
                                 cJSON *out, struct ddi_error *e)
{
    struct ddi_order_doc *doc = NULL;
    enum scb_err err = ddi_cancel_order(c, probe_arg(p, 1), probe_arg(p, 2),
                                        &doc, e);

    return probe_order_result(err, doc, out);
}

static int probe_limit(const struct probe *p)
{
    const char *s = probe_arg(p, 3);

    return s ? (int)strtol(s, NULL, 10) : 100;
}

static enum scb_err probe_shipments(struct probe *p, struct ddi_client *c,
                                    cJSON *out, struct ddi_error *e)
{
    struct ddi_shipment_page *pg = NULL;
    cJSON *list;
    enum scb_err err = ddi_list_shipments(c, probe_arg(p, 1), probe_arg(p, 2),
                                          probe_limit(p), &pg, e);

    if (err)
        return err;
    list = cJSON_AddArrayToObject(out, "items");
    for (size_t i = 0; list && i < pg->n; i++)
        cJSON_AddItemToArray(list, probe_shipment(&pg->items[i]));
    cJSON_AddStringToObject(out, "next_cursor", pg->next_cursor);
    cJSON_AddBoolToObject(out, "more", pg->more);
    ddi_shipment_page_free(pg);
    return SCB_OK;
}

static enum scb_err probe_items(struct probe *p, struct ddi_client *c,
                                cJSON *out, struct ddi_error *e)
{
    struct ddi_item_page *pg = NULL;
    cJSON *list;
    enum scb_err err = ddi_list_items(c, probe_arg(p, 1), probe_arg(p, 2),
                                      probe_limit(p), &pg, e);

    if (err)
        return err;
    list = cJSON_AddArrayToObject(out, "items");
    for (size_t i = 0; list && i < pg->n; i++)
        cJSON_AddItemToArray(list, probe_item(&pg->items[i]));
    cJSON_AddStringToObject(out, "next_cursor", pg->next_cursor);
    cJSON_AddBoolToObject(out, "more", pg->more);
    ddi_item_page_free(pg);
    return SCB_OK;
}

typedef enum scb_err (*probe_cmd_fn)(struct probe *p, struct ddi_client *c,
                                     cJSON *out, struct ddi_error *e);

static const struct {
    const char *name;
    probe_cmd_fn fn;
    bool needs_input;
} probe_cmds[] = {
    { "find", probe_find, false },
    { "create", probe_create, true },
    { "create-sc", probe_create_sc, true },
    { "get", probe_get, false },
    { "cancel", probe_cancel, false },
    { "shipments", probe_shipments, false },
    { "items", probe_items, false },
};

static int probe_cmd_index(const char *name)
{
    for (size_t i = 0; i < sizeof(probe_cmds) / sizeof(probe_cmds[0]); i++) {
        if (!strcmp(probe_cmds[i].name, name))
            return (int)i;
    }
    return -1;
}

static void *probe_run(void *arg)
{
    struct probe *p = arg;
    struct ddi_client *c = ddi_client_new(p->cfg, p->gate);
    struct ddi_error e = { 0 };
    cJSON *out = cJSON_CreateObject();
    enum scb_err err = SCB_ENOMEM;

    if (c && out) {
        err = probe_cmds[probe_cmd_index(p->argv[0])].fn(p, c, out, &e);
        cJSON_AddStringToObject(out, "result", probe_err_name(err));
        if (err)
            probe_error(out, err, &e);
    }
    if (err && c)
        ddi_client_log_failure(c, "ddi-probe", NULL);
    probe_emit(p, out, err);
    ddi_client_free(c);
    return NULL;
}

static int64_t probe_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int probe_threads(struct probe *p, int n)
{
    pthread_t tids[PROBE_THREADS_MAX];
    int64_t start = probe_now_ms();
    int started = 0;

    for (; started < n; started++) {
        if (pthread_create(&tids[started], NULL, probe_run, p))
            break;
    }
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    printf("{\"elapsed_ms\":%lld}\n", (long long)(probe_now_ms() - start));
    return started == n ? 0 : -1;
}

static enum scb_err probe_read_stdin(struct probe *p, struct buf *in)
{
    char chunk[65536];
    ssize_t n;
    enum scb_err err = SCB_OK;

    while (!err && (n = read(0, chunk, sizeof(chunk))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        err = n < 0 ? SCB_EIO : buf_append(in, chunk, (size_t)n);
    }
    if (!err && !in->data)
        err = buf_puts(in, "");
    p->input = in->data;
    p->input_len = in->len;
    return err;
}

static int probe_usage(void)
{
    fprintf(stderr,
            "usage: ddi-probe [--threads N] find REF | create REF | "
            "create-sc COMPANY [--shipped] | map-sc COMPANY [--shipped] | "
            "get ORDER_NO | cancel ORDER_NO REASON | "
            "shipments CURSOR|- SINCE|- LIMIT | items CURSOR|- SINCE|- "
            "LIMIT\n");
    return 2;
}

/* Runs the command in p->argv once or in 'threads' threads. */
static int probe_main(struct probe *p, int threads)
{
    struct buf in;
    int idx = probe_cmd_index(p->argv[0]);
    bool map_only = !strcmp(p->argv[0], "map-sc");
    int rc = 0;

    buf_init(&in, PROBE_STDIN_MAX);
    if (idx < 0 && !map_only)
        return probe_usage();
    if ((map_only || probe_cmds[idx].needs_input) &&
        probe_read_stdin(p, &in)) {
        fprintf(stderr, "ddi-probe: cannot read stdin\n");
        buf_release(&in);
        return 2;
    }
    if (map_only) {
        cJSON *out = cJSON_CreateObject();
        enum scb_err err = out ? probe_map_sc(p, out) : SCB_ENOMEM;

        if (out)
            cJSON_AddStringToObject(out, "result", probe_err_name(err));
        probe_emit(p, out, err);
    } else if (threads > 1) {
        rc = probe_threads(p, threads);
    } else {
        probe_run(p);
    }
    buf_release(&in);
    return rc ? 1 : p->failed;
}

static int probe_setup(struct config *cfg, struct ddi_gate **gate)
{
    struct buf problems;

    buf_init(&problems, 65536);
    if (config_load(cfg, probe_getenv, NULL, &problems)) {
        fprintf(stderr, "%s", problems.data ? problems.data : "");
        buf_release(&problems);
        return 2;
    }
    buf_release(&problems);
    *gate = ddi_gate_new(cfg->ddi_concurrency);
    if (!*gate) {
        config_release(cfg);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct config cfg;
    struct probe p = { .cfg = &cfg };
    int threads = 1, first = 1, rc;

    mem_install_hooks();
    log_init(LOG_WARN, 2);
    if (argc > 3 && !strcmp(argv[1], "--threads")) {
        threads = (int)strtol(argv[2], NULL, 10);
        first = 3;
    }
    if (first >= argc || threads < 1 || threads > PROBE_THREADS_MAX)
        return probe_usage();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 2;
    rc = probe_setup(&cfg, &p.gate);
    if (rc) {
        curl_global_cleanup();
        return rc;
    }
    pthread_mutex_init(&p.out_lock, NULL);
    p.argc = argc - first;
    p.argv = argv + first;
    rc = probe_main(&p, threads);
    pthread_mutex_destroy(&p.out_lock);
    ddi_gate_free(p.gate);
    config_release(&cfg);
    curl_global_cleanup();
    return rc;
}
