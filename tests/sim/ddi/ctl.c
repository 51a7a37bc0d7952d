/* SPDX-License-Identifier: MIT */
/* DDI simulator control routes under /_sim/, for tests and the demo. */
#include "ddisim.h"

#include <string.h>

#include "jsonio.h"
#include "mem.h"

#define DDISIM_CTL_ITEMS_MAX 10000

/* The control body as an object; an empty body is {}. NULL if bad. */
static cJSON *ddisim_ctl_body(const struct simhttp_req *req,
                              struct simhttp_resp *resp)
{
    cJSON *body = NULL;

    if (req->body_len == 0)
        return cJSON_CreateObject();
    if (jsonio_parse(req->body, req->body_len, DDISIM_BODY_MAX, &body) ||
        !cJSON_IsObject(body)) {
        cJSON_Delete(body);
        ddisim_reply_error(resp, 400, "MALFORMED", NULL,
                           "the body must be one JSON object");
        return NULL;
    }
    return body;
}

static const char *ddisim_fault_name(enum ddisim_fault f)
{
    if (f == DDISIM_FAULT_TIMEOUT)
        return "timeout";
    return f == DDISIM_FAULT_ERROR ? "error" : "none";
}

static void ddisim_ctl_state(struct ddisim *d, struct simhttp_resp *resp)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *hooks = cJSON_CreateObject();
    cJSON *fault;
    size_t live = 0;

    ddisim_send_settings(d, hooks);
    cJSON_AddBoolToObject(hooks, "idle", ddisim_send_idle(d));
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n_items; i++)
        live += d->items[i].live;
    cJSON_AddNumberToObject(doc, "orders", (double)d->n_orders);
    cJSON_AddNumberToObject(doc, "shipments", (double)d->n_ships);
    cJSON_AddNumberToObject(doc, "items", (double)live);
    cJSON_AddNumberToObject(doc, "committing", d->committing);
    cJSON_AddNumberToObject(doc, "commit_delay_ms", d->commit_delay_ms);
    fault = cJSON_AddObjectToObject(doc, "create_fault");
    cJSON_AddStringToObject(fault, "mode", ddisim_fault_name(d->fault));
    cJSON_AddNumberToObject(fault, "count", d->fault_count);
    cJSON_AddItemToObject(doc, "customers", cJSON_Duplicate(d->customers, 1));
    cJSON_AddItemToObject(doc, "warehouses", cJSON_Duplicate(d->warehouses, 1));
    pthread_mutex_unlock(&d->lock);
    cJSON_AddItemToObject(doc, "webhooks", hooks);
    ddisim_reply_json(resp, 200, doc);
}

static void ddisim_ctl_reset(struct ddisim *d, const cJSON *body,
                             struct simhttp_resp *resp)
{
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(body, "items");
    enum scb_err err;

    ddisim_send_stop(d);
    pthread_mutex_lock(&d->lock);
    err = ddisim_reset(d, !cJSON_IsFalse(items));
    pthread_mutex_unlock(&d->lock);
    if (!err)
        err = ddisim_send_start(d);
    if (err)
        ddisim_reply_error(resp, 500, "INTERNAL", NULL, scb_strerror(err));
    else
        ddisim_ctl_state(d, resp);
}

/* commit_delay_ms and create_fault {"mode", "count"}; false if bad. */
static bool ddisim_ctl_commit(struct ddisim *d, const cJSON *body)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(body, "create_fault");
    const char *mode = jsonio_str_or(f, "mode", "none");
    int64_t delay = -1, count = 1;
    enum ddisim_fault fault = DDISIM_FAULT_NONE;

    if (cJSON_GetObjectItemCaseSensitive(body, "commit_delay_ms") &&
        jsonio_get_i64(body, "commit_delay_ms", 0, 600000, &delay))
        return false;
    if (f && cJSON_GetObjectItemCaseSensitive(f, "count") &&
        jsonio_get_i64(f, "count", -1, 1000000, &count))
        return false;
    if (strcmp(mode, "timeout") == 0)
        fault = DDISIM_FAULT_TIMEOUT;
    else if (strcmp(mode, "error") == 0)
        fault = DDISIM_FAULT_ERROR;
    else if (strcmp(mode, "none") != 0)
        return false;
    pthread_mutex_lock(&d->lock);
    if (delay >= 0)
        d->commit_delay_ms = (int)delay;
    if (f) {
        d->fault = fault;
        d->fault_count = fault == DDISIM_FAULT_NONE ? 0 : (int)count;
    }
    pthread_mutex_unlock(&d->lock);
    return true;
}

static bool ddisim_has_send_keys(const cJSON *body)
{
    static const char *const keys[] = {
        "callback_url", "items_url",      "drop_rate",    "dup_rate",
        "retry_max",    "retry_first_ms", "retry_cap_ms",
    };

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (cJSON_GetObjectItemCaseSensitive(body, keys[i]))
            return true;
    }
    return false;
}

static void ddisim_ctl_config(struct ddisim *d, const cJSON *body,
                              struct simhttp_resp *resp)
{
    if (!ddisim_ctl_commit(d, body) ||
        (ddisim_has_send_keys(body) && ddisim_send_config(d, body))) {
        ddisim_reply_error(resp, 400, "INVALID_FIELD", NULL,
                           "a setting is malformed or out of range");
        return;
    }
    ddisim_ctl_state(d, resp);
}

/* Upserts item records; sends items.changed when asked and configured. */
static void ddisim_ctl_items_put(struct ddisim *d, const cJSON *body,
                                 struct simhttp_resp *resp)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(body, "items");
    const cJSON *it;
    cJSON *pnos = cJSON_CreateArray();
    enum scb_err err = SCB_OK;

    if (!cJSON_IsArray(list) ||
        cJSON_GetArraySize(list) > DDISIM_CTL_ITEMS_MAX || !pnos) {
        cJSON_Delete(pnos);
        ddisim_reply_error(resp, 400, "INVALID_FIELD", "items",
                           "items must be an array");
        return;
    }
    pthread_mutex_lock(&d->lock);
    cJSON_ArrayForEach (it, list) {
        err = ddisim_item_put(d, it);
        if (err)
            break;
        cJSON_AddItemToArray(
            pnos, cJSON_CreateString(jsonio_str_or(it, "product_no", "")));
    }
    pthread_mutex_unlock(&d->lock);
    if (!err && cJSON_GetArraySize(pnos) > 0 &&
        !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(body, "notify")))
        ddisim_send_items(d, pnos);
    cJSON_Delete(pnos);
    if (err)
        ddisim_reply_error(resp, 400, "INVALID_FIELD", "items",
                           "an item is malformed (those before it stand)");
    else
        ddisim_ctl_state(d, resp);
}

static void ddisim_ctl_items_get(struct ddisim *d, struct simhttp_resp *resp)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(doc, "items");
    cJSON *rec;

    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; items && i < d->n_items; i++) {
        if (!d->items[i].live)
            continue;
        rec = cJSON_Duplicate(d->items[i].record, 1);
        cJSON_AddItemToObject(rec, "uoms",
                              cJSON_Duplicate(d->items[i].uoms, 1));
        cJSON_AddItemToArray(items, rec);
    }
    pthread_mutex_unlock(&d->lock);
    ddisim_reply_json(resp, 200, doc);
}

static void ddisim_ctl_customers(struct ddisim *d, const cJSON *body,
                                 struct simhttp_resp *resp)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(body, "account_nos");
    const cJSON *it;
    bool replace = cJSON_IsTrue(
        cJSON_GetObjectItemCaseSensitive(body, "replace"));

    cJSON_ArrayForEach (it, list) {
        if (!cJSON_IsString(it) || !*it->valuestring ||
            strlen(it->valuestring) > DDISIM_STR_MAX)
            list = NULL;
    }
    if (!cJSON_IsArray(list)) {
        ddisim_reply_error(resp, 400, "INVALID_FIELD", "account_nos",
                           "account_nos must be an array of strings");
        return;
    }
    pthread_mutex_lock(&d->lock);
    while (replace && cJSON_GetArraySize(d->customers) > 0)
        cJSON_DeleteItemFromArray(d->customers, 0);
    cJSON_ArrayForEach (it, list) {
        if (!ddisim_customer_known(d, it->valuestring))
            cJSON_AddItemToArray(d->customers,
                                 cJSON_CreateString(it->valuestring));
    }
    pthread_mutex_unlock(&d->lock);
    ddisim_ctl_state(d, resp);
}

/* Every order, committed ones only (a reference filter is optional). */
static void ddisim_ctl_orders(struct ddisim *d, const struct simhttp_req *req,
                              struct simhttp_resp *resp)
{
    const char *ref = ddisim_query(req, "reference");
    cJSON *doc = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(doc, "items");
    int committing;

    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; items && i < d->n_orders; i++) {
        if (!ref || strcmp(ref, d->orders[i]->reference) == 0)
            cJSON_AddItemToArray(items, ddisim_order_json(d, d->orders[i]));
    }
    committing = d->committing;
    pthread_mutex_unlock(&d->lock);
    cJSON_AddNumberToObject(doc, "committing", committing);
    ddisim_reply_json(resp, 200, doc);
}

/* A counter (non-scbridge) order: the create body, no auth, no delay. */
static void ddisim_ctl_counter(struct ddisim *d, const cJSON *body,
                               struct simhttp_resp *resp)
{
    struct ddisim_create res = { NULL, 0 };
    struct ddisim_order *o = NULL;
    cJSON *doc = NULL;
    enum scb_err err;

    pthread_mutex_lock(&d->lock);
    err = ddisim_order_create(d, body, &res, &o);
    if (!err && o)
        doc = ddisim_order_json(d, o);
    pthread_mutex_unlock(&d->lock);
    if (err) {
        ddisim_reply_error(resp, 500, "INTERNAL", NULL, scb_strerror(err));
    } else if (!o) {
        doc = cJSON_CreateObject();
        if (!doc || !cJSON_AddItemToObject(doc, "errors", res.errors))
            cJSON_Delete(res.errors);
        ddisim_reply_json(resp, res.status, doc);
    } else {
        ddisim_reply_json(resp, 201, doc);
    }
}

static struct ddisim_order *ddisim_ctl_pick(struct ddisim *d, const cJSON *body)
{
    const char *no = jsonio_str_or(body, "order_no", NULL);
    const char *ref = jsonio_str_or(body, "reference", NULL);

    if (no)
        return ddisim_order_find(d, no);
    for (size_t i = 0; ref && i < d->n_orders; i++) {
        if (strcmp(d->orders[i]->reference, ref) == 0)
            return d->orders[i];
    }
    return NULL;
}

static void ddisim_ctl_ship(struct ddisim *d, const cJSON *body,
                            struct simhttp_resp *resp)
{
    struct ddisim_order *o;
    const char *why = "out of memory";
    char *record = NULL;
    enum scb_err err = SCB_ENOTFOUND;
    cJSON *ship, *doc;

    pthread_mutex_lock(&d->lock);
    o = ddisim_ctl_pick(d, body);
    if (o)
        err = ddisim_ship(d, o, body, &record, &why);
    pthread_mutex_unlock(&d->lock);
    if (err == SCB_ENOTFOUND) {
        ddisim_reply_error(resp, 404, "NOT_FOUND", "order_no", "no such order");
        return;
    }
    if (err) {
        ddisim_reply_error(resp,
                           err == SCB_ECONFLICT ? 409
                           : err == SCB_EINVAL  ? 400
                                                : 500,
                           "CANNOT_SHIP", NULL, why);
        return;
    }
    ship = cJSON_Parse(record);
    if (!cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(body, "callback")))
        ddisim_send_ship(d, jsonio_str_or(ship, "shipment_id", ""), record);
    mem_free(record);
    doc = cJSON_CreateObject();
    if (!cJSON_AddItemToObject(doc, "shipment", ship))
        cJSON_Delete(ship);
    ddisim_reply_json(resp, 201, doc);
}

static void ddisim_ctl_shipments(struct ddisim *d, struct simhttp_resp *resp)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(doc, "items");

    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; items && i < d->n_ships; i++)
        cJSON_AddItemToArray(items, cJSON_Duplicate(d->ships[i].record, 1));
    pthread_mutex_unlock(&d->lock);
    ddisim_reply_json(resp, 200, doc);
}

static cJSON *ddisim_ledger_order(const struct ddisim_order *o, int64_t tot[3])
{
    cJSON *e = cJSON_CreateObject();
    int64_t held = o->deposit - o->applied - o->reversed;

    cJSON_AddStringToObject(e, "order_no", o->order_no);
    cJSON_AddStringToObject(e, "reference", o->reference);
    cJSON_AddNumberToObject(e, "deposit", (double)o->deposit);
    cJSON_AddNumberToObject(e, "held", (double)held);
    cJSON_AddNumberToObject(e, "applied", (double)o->applied);
    cJSON_AddNumberToObject(e, "reversed", (double)o->reversed);
    tot[0] += held;
    tot[1] += o->applied;
    tot[2] += o->reversed;
    return e;
}

/* The deposit ledger: DDI enters no cash receipt, receivables untouched. */
static void ddisim_ctl_ledger(struct ddisim *d, struct simhttp_resp *resp)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *orders = cJSON_AddArrayToObject(doc, "orders");
    cJSON *tot = cJSON_AddObjectToObject(doc, "totals");
    int64_t sums[3] = { 0, 0, 0 };

    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; orders && i < d->n_orders; i++)
        cJSON_AddItemToArray(orders, ddisim_ledger_order(d->orders[i], sums));
    cJSON_AddItemToObject(doc, "entries", cJSON_Duplicate(d->journal, 1));
    pthread_mutex_unlock(&d->lock);
    cJSON_AddNumberToObject(tot, "deposits_held", (double)sums[0]);
    cJSON_AddNumberToObject(tot, "deposits_applied", (double)sums[1]);
    cJSON_AddNumberToObject(tot, "deposits_reversed", (double)sums[2]);
    cJSON_AddNumberToObject(tot, "cash_receipts", 0);
    cJSON_AddNumberToObject(tot, "receivables", 0);
    ddisim_reply_json(resp, 200, doc);
}

static void ddisim_ctl_callbacks(struct ddisim *d, struct simhttp_resp *resp)
{
    cJSON *doc = cJSON_CreateObject();
    bool idle = ddisim_send_idle(d);

    pthread_mutex_lock(&d->lock);
    cJSON_AddItemToObject(doc, "messages", cJSON_Duplicate(d->messages, 1));
    cJSON_AddItemToObject(doc, "attempts", cJSON_Duplicate(d->callbacks, 1));
    pthread_mutex_unlock(&d->lock);
    cJSON_AddBoolToObject(doc, "idle", idle);
    ddisim_reply_json(resp, 200, doc);
}

/* Routes with a body (POST). */
static void ddisim_ctl_post(struct ddisim *d, const struct simhttp_req *req,
                            struct simhttp_resp *resp)
{
    const char *p = req->path + strlen("/_sim/");
    cJSON *body = ddisim_ctl_body(req, resp);

    if (!body)
        return;
    if (strcmp(p, "reset") == 0)
        ddisim_ctl_reset(d, body, resp);
    else if (strcmp(p, "config") == 0)
        ddisim_ctl_config(d, body, resp);
    else if (strcmp(p, "items") == 0)
        ddisim_ctl_items_put(d, body, resp);
    else if (strcmp(p, "customers") == 0)
        ddisim_ctl_customers(d, body, resp);
    else if (strcmp(p, "orders") == 0)
        ddisim_ctl_counter(d, body, resp);
    else if (strcmp(p, "ship-confirm") == 0)
        ddisim_ctl_ship(d, body, resp);
    else
        ddisim_reply_error(resp, 404, "NOT_FOUND", NULL, "no such route");
    cJSON_Delete(body);
}

void ddisim_ctl(struct ddisim *d, const struct simhttp_req *req,
                struct simhttp_resp *resp)
{
    const char *p = req->path + strlen("/_sim/");

    if (strcmp(req->method, "POST") == 0)
        ddisim_ctl_post(d, req, resp);
    else if (strcmp(req->method, "GET") != 0)
        ddisim_reply_error(resp, 405, "METHOD_NOT_ALLOWED", NULL,
                           "method not allowed");
    else if (strcmp(p, "state") == 0 || strcmp(p, "customers") == 0)
        ddisim_ctl_state(d, resp);
    else if (strcmp(p, "items") == 0)
        ddisim_ctl_items_get(d, resp);
    else if (strcmp(p, "orders") == 0)
        ddisim_ctl_orders(d, req, resp);
    else if (strcmp(p, "shipments") == 0)
        ddisim_ctl_shipments(d, resp);
    else if (strcmp(p, "ledger") == 0)
        ddisim_ctl_ledger(d, resp);
    else if (strcmp(p, "callbacks") == 0)
        ddisim_ctl_callbacks(d, resp);
    else
        ddisim_reply_error(resp, 404, "NOT_FOUND", NULL, "no such route");
}
