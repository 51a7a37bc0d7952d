/* SPDX-License-Identifier: MIT */
/* The Sellercloud simulator's control API under /_sim/, for tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonio.h"
#include "mem.h"
#include "scsim.h"

#define SCSIM_WHY 256

static void scsim_err(struct simhttp_resp *resp, int status, const char *msg)
{
    cJSON *doc = cJSON_CreateObject();

    if (doc)
        cJSON_AddStringToObject(doc, "error", msg);
    scsim_send_json(resp, status, doc);
}

static void scsim_ok(struct simhttp_resp *resp)
{
    simhttp_reply(resp, 200, "{\"ok\":true}");
}

static bool scsim_notify_wanted(const cJSON *body)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(body, "notify");

    return !cJSON_IsFalse(n);
}

static void scsim_notify_orders(struct scsim *s, const char *type,
                                const cJSON *ids)
{
    size_t n = (size_t)cJSON_GetArraySize(ids), i = 0;
    int64_t *idv = mem_calloc(n + 1, sizeof(*idv));
    int64_t *cv = mem_calloc(n + 1, sizeof(*cv));
    const cJSON *id;

    if (idv && cv) {
        cJSON_ArrayForEach(id, ids) {
            struct scsim_order *o = scsim_order_find(s,
                                                     (int64_t)id->valuedouble);

            if (!o)
                continue;
            idv[i] = o->id;
            cv[i++] = o->company;
        }
        scsim_relay_notify(s, type, idv, cv, i);
    }
    mem_free(idv);
    mem_free(cv);
}

static void scsim_answer_ids(struct simhttp_resp *resp, cJSON *ids)
{
    cJSON *doc = cJSON_CreateObject();

    if (!doc) {
        cJSON_Delete(ids);
        scsim_err(resp, 500, "out of memory");
        return;
    }
    cJSON_AddItemToObject(doc, "ids", ids);
    scsim_send_json(resp, 200, doc);
}

static void scsim_seed_explicit(struct scsim *s, const cJSON *body,
                                struct simhttp_resp *resp)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(body, "orders");
    cJSON *ids = cJSON_CreateArray();
    const cJSON *spec;
    char why[SCSIM_WHY];
    enum scb_err err = SCB_OK;

    if (!cJSON_IsArray(list) || !ids) {
        cJSON_Delete(ids);
        scsim_err(resp, 400, "body must be {\"orders\": [...]}");
        return;
    }
    cJSON_ArrayForEach(spec, list) {
        struct scsim_order *o = NULL;

        err = scsim_seed_order(s, spec, &o, why, sizeof(why));
        if (!err && scsim_order_insert(s, o)) {
            (void)snprintf(why, sizeof(why), "order id already exists");
            err = SCB_ECONFLICT;
            scsim_order_free(o);
        }
        if (err)
            break;
        cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)o->id));
    }
    if (scsim_notify_wanted(body))
        scsim_notify_orders(s, "order.created", ids);
    if (err) {
        cJSON_Delete(ids);
        scsim_err(resp, 400, why);
        return;
    }
    scsim_answer_ids(resp, ids);
}

static void scsim_generate(struct scsim *s, const cJSON *body,
                           struct simhttp_resp *resp)
{
    cJSON *ids = cJSON_CreateArray();
    char why[SCSIM_WHY] = "out of memory";
    enum scb_err err = ids ? scsim_seed_generate(s, body, ids, why,
                                                 sizeof(why))
                           : SCB_ENOMEM;

    if (ids && scsim_notify_wanted(body))
        scsim_notify_orders(s, "order.created", ids);
    if (err) {
        cJSON_Delete(ids);
        scsim_err(resp, 400, why);
        return;
    }
    scsim_answer_ids(resp, ids);
}

static void scsim_list_orders(struct scsim *s, struct simhttp_resp *resp)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(doc, "orders");

    for (size_t i = 0; arr && i < s->n_orders; i++)
        cJSON_AddItemToArray(arr, scsim_render_state(s, s->orders[i]));
    scsim_send_json(resp, 200, doc);
}

static void scsim_set_int(cJSON *doc, const char *key, int64_t v)
{
    cJSON *n = cJSON_CreateNumber((double)v);

    if (!n)
        return;
    if (cJSON_GetObjectItemCaseSensitive(doc, key))
        cJSON_ReplaceItemInObjectCaseSensitive(doc, key, n);
    else
        cJSON_AddItemToObject(doc, key, n);
}

/* Merges list-shape fields into the order; false with 'why' if bad. */
static bool scsim_order_patch(struct scsim *s, struct scsim_order *o,
                              const cJSON *body, char *why, size_t n)
{
    cJSON *patch = cJSON_Duplicate(body, 1);
    cJSON *f, *next, *ex;
    bool recompute;

    if (!patch || !cJSON_IsObject(patch)) {
        cJSON_Delete(patch);
        (void)snprintf(why, n, "body must be an object of fields");
        return false;
    }
    cJSON_Delete(cJSON_DetachItemFromObjectCaseSensitive(patch, "notify"));
    ex = cJSON_DetachItemFromObjectCaseSensitive(patch, "recompute_total");
    recompute = cJSON_IsTrue(ex);
    cJSON_Delete(ex);
    ex = cJSON_DetachItemFromObjectCaseSensitive(patch, "Exported");
    if (cJSON_IsBool(ex))
        o->exported = cJSON_IsTrue(ex);
    cJSON_Delete(ex);
    if (scsim_seed_apply_times(s, patch, o, why, n) ||
        !scsim_swagger_check_def(s->sw, "MultipleOrderDataDto", patch, why,
                                 n)) {
        cJSON_Delete(patch);
        return false;
    }
    for (f = patch->child; f; f = next) {
        /* cJSON re-keys an added item from the key argument, so the key
         * must not be the item's own string. */
        char *key = mem_strdup(f->string);

        next = f->next;
        cJSON_DetachItemViaPointer(patch, f);
        if (!key) {
            cJSON_Delete(f);
            continue;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(o->doc, key);
        cJSON_AddItemToObject(o->doc, key, f);
        mem_free(key);
    }
    cJSON_Delete(patch);
    if (recompute)
        scsim_recompute_total(o->doc);
    return true;
}

static bool scsim_order_ship(struct scsim *s, struct scsim_order *o,
                             const cJSON *body, char *why, size_t n)
{
    const char *t = jsonio_str_or(body, "TrackingNumber", NULL);
    const char *c = jsonio_str_or(body, "ShippingCarrier", "UPS");
    const char *m = jsonio_str_or(body, "ShippingService", "Ground");
    const char *d = jsonio_str_or(body, "ShipDate", NULL);
    int64_t ms = scsim_now_ms(s);
    struct scsim_pkg *p = o->n_pkgs ? &o->pkgs[0] : NULL;

    if (!p || (d && !scsim_parse_time(d, s->opts.tz_min, &ms))) {
        (void)snprintf(why, n, "no package, or a bad ShipDate");
        return false;
    }
    if (t) {
        mem_free(p->tracking);
        p->tracking = mem_strdup(t);
    }
    mem_free(p->carrier);
    p->carrier = mem_strdup(c);
    mem_free(p->method);
    p->method = mem_strdup(m);
    p->ship_ms = p->ship_ms ? p->ship_ms : ms;
    o->ship_ms = o->ship_ms ? o->ship_ms : ms;
    scsim_set_int(o->doc, "ShippingStatus", 3);
    cJSON_Delete(cJSON_DetachItemFromObjectCaseSensitive(o->doc,
                                                         "ShippingCarrier"));
    cJSON_AddStringToObject(o->doc, "ShippingCarrier", c);
    cJSON_Delete(cJSON_DetachItemFromObjectCaseSensitive(o->doc,
                                                         "ShippingService"));
    cJSON_AddStringToObject(o->doc, "ShippingService", m);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "complete")))
        scsim_set_int(o->doc, "StatusCode", 3);
    return true;
}

/* POST /_sim/orders/{id}/{action}: a change made in Sellercloud. */
static void scsim_order_action(struct scsim *s, struct scsim_order *o,
                               const char *action, const cJSON *body,
                               struct simhttp_resp *resp)
{
    const char *type = "order.updated";
    char why[SCSIM_WHY] = "unknown action";
    bool ok = true;
    cJSON *ids;

    if (strcmp(action, "charge") == 0) {
        scsim_set_int(o->doc, "PaymentStatus", 30);
    } else if (strcmp(action, "cancel") == 0) {
        scsim_set_int(o->doc, "StatusCode", -1);
    } else if (strcmp(action, "void") == 0) {
        scsim_set_int(o->doc, "StatusCode", 999);
    } else if (strcmp(action, "ship") == 0) {
        ok = scsim_order_ship(s, o, body, why, sizeof(why));
        type = "order.shipped";
    } else if (strcmp(action, "set") == 0) {
        ok = scsim_order_patch(s, o, body, why, sizeof(why));
    } else {
        ok = false;
    }
    if (!ok) {
        scsim_err(resp, 400, why);
        return;
    }
    o->updated_ms = scsim_now_ms(s);
    ids = cJSON_CreateArray();
    cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)o->id));
    if (scsim_notify_wanted(body))
        scsim_notify_orders(s, type, ids);
    cJSON_Delete(ids);
    scsim_send_json(resp, 200, scsim_render_state(s, o));
}

static void scsim_orders_sub(struct scsim *s, const struct simhttp_req *req,
                             const cJSON *body, struct simhttp_resp *resp)
{
    const char *rest = req->path + strlen("/_sim/orders/");
    char *end;
    long long id = strtoll(rest, &end, 10);
    struct scsim_order *o = end != rest ? scsim_order_find(s, id) : NULL;

    if (!o) {
        scsim_err(resp, 404, "no such order");
        return;
    }
    if (!*end && strcmp(req->method, "GET") == 0)
        scsim_send_json(resp, 200, scsim_render_state(s, o));
    else if (*end == '/' && strcmp(req->method, "POST") == 0)
        scsim_order_action(s, o, end + 1, body, resp);
    else
        scsim_err(resp, 404, "no such route");
}

static void scsim_products_get(struct scsim *s, const struct simhttp_req *req,
                               struct simhttp_resp *resp)
{
    const char *sku = MHD_lookup_connection_value(req->conn,
                                                  MHD_GET_ARGUMENT_KIND,
                                                  "sku");
    cJSON *doc = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(doc, "products");

    for (size_t i = 0; arr && i < s->n_products; i++) {
        if (!sku || strcmp(sku, s->products[i]->sku) == 0)
            cJSON_AddItemToArray(arr, scsim_render_product(
                                          s, s->products[i], true));
    }
    scsim_send_json(resp, 200, doc);
}


static void scsim_products_post(struct scsim *s, const cJSON *body,
                                struct simhttp_resp *resp)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(body, "products");
    const cJSON *p;
    const char *why = "body must be {\"products\": [...]}";

    if (!cJSON_IsArray(list)) {
        scsim_err(resp, 400, why);
        return;
    }
    cJSON_ArrayForEach(p, list) {
        if (scsim_product_seed(s, p, &why)) {
            scsim_err(resp, 400, why);
            return;
        }
    }
    scsim_ok(resp);
}

static void scsim_put_counts(cJSON *doc, const char *key,
                             const struct scsim_count *c, size_t n)
{
    cJSON *o = cJSON_AddObjectToObject(doc, key);

    for (size_t i = 0; o && i < n; i++)
        cJSON_AddNumberToObject(o, c[i].key, (double)c[i].n);
}

static void scsim_requests(struct scsim *s, const struct simhttp_req *req,
                           struct simhttp_resp *resp)
{
    const char *lim = MHD_lookup_connection_value(req->conn,
                                                  MHD_GET_ARGUMENT_KIND,
                                                  "limit");
    size_t limit = lim ? (size_t)strtoul(lim, NULL, 10) : 1000;
    cJSON *doc = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(doc, "entries");
    size_t n = s->log_len < limit ? s->log_len : limit;
    char ts[32];

    cJSON_AddNumberToObject(doc, "total", (double)s->calls_total);
    scsim_put_counts(doc, "by_endpoint", s->by_endpoint, s->n_by_endpoint);
    for (size_t i = 0; arr && i < n; i++) {
        size_t k = (s->log_head + SCSIM_LOG_MAX - n + i) % SCSIM_LOG_MAX;
        const struct scsim_logent *e = &s->log[k];
        cJSON *x = cJSON_CreateObject();

        if (!x)
            break;
        scsim_fmt_utc(e->ts_ms, ts);
        cJSON_AddStringToObject(x, "ts", ts);
        cJSON_AddStringToObject(x, "method", e->method);
        cJSON_AddStringToObject(x, "path", e->path ? e->path : "");
        cJSON_AddStringToObject(x, "query", e->query ? e->query : "");
        cJSON_AddStringToObject(x, "body", e->body ? e->body : "");
        cJSON_AddNumberToObject(x, "status", e->status);
        cJSON_AddItemToArray(arr, x);
    }
    scsim_send_json(resp, 200, doc);
}

static void scsim_breaches(struct scsim *s, struct simhttp_resp *resp)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(doc, "breaches");
    char ts[32];

    cJSON_AddNumberToObject(doc, "count", (double)s->breach_total);
    for (size_t i = 0; arr && i < s->n_breaches; i++) {
        cJSON *x = cJSON_CreateObject();

        if (!x)
            break;
        scsim_fmt_utc(s->breaches[i].ts_ms, ts);
        cJSON_AddStringToObject(x, "ts", ts);
        cJSON_AddStringToObject(x, "method", s->breaches[i].method);
        cJSON_AddStringToObject(x, "path", s->breaches[i].path);
        cJSON_AddStringToObject(x, "reason", s->breaches[i].reason);
        cJSON_AddItemToArray(arr, x);
    }
    scsim_send_json(resp, 200, doc);
}

static void scsim_counters(struct scsim *s, struct simhttp_resp *resp)
{
    cJSON *doc = cJSON_CreateObject();
    char ts[32] = "";

    if (!doc) {
        scsim_err(resp, 500, "out of memory");
        return;
    }
    cJSON_AddNumberToObject(doc, "calls_total", (double)s->calls_total);
    cJSON_AddNumberToObject(doc, "rate_limited", (double)s->rate_limited);
    cJSON_AddNumberToObject(doc, "unauthorized", (double)s->unauthorized);
    cJSON_AddNumberToObject(doc, "breaches", (double)s->breach_total);
    cJSON_AddNumberToObject(doc, "orders", (double)s->n_orders);
    cJSON_AddNumberToObject(doc, "products", (double)s->n_products);
    cJSON_AddNumberToObject(doc, "tokens", (double)s->n_tokens);
    cJSON_AddNumberToObject(doc, "window_calls", (double)s->window_calls);
    if (s->window_start_ms)
        scsim_fmt_utc(s->window_start_ms + s->rate_window_s * 1000, ts);
    cJSON_AddStringToObject(doc, "window_end", ts);
    scsim_put_counts(doc, "by_status", s->by_status, s->n_by_status);
    scsim_put_counts(doc, "by_endpoint", s->by_endpoint, s->n_by_endpoint);
    scsim_send_json(resp, 200, doc);
}

static void scsim_config(struct scsim *s, const cJSON *body, bool post,
                         struct simhttp_resp *resp)
{
    cJSON *doc;
    const char *tz = "UTC";
    char tzb[16];

    if (post) {
        s->rate_budget = (long)jsonio_i64_or(body, "rate_budget",
                                             s->rate_budget);
        s->rate_window_s = (long)jsonio_i64_or(body, "rate_window_s",
                                               s->rate_window_s);
        if (s->rate_window_s < 1)
            s->rate_window_s = 1;
        if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(
                body, "token_life_s")))
            s->token_life_s = cJSON_GetObjectItemCaseSensitive(
                                  body, "token_life_s")->valuedouble;
        s->window_start_ms = 0;
        s->window_calls = 0;
    }
    if (s->opts.tz_min) {
        int m = s->opts.tz_min < 0 ? -s->opts.tz_min : s->opts.tz_min;

        (void)snprintf(tzb, sizeof(tzb), "%c%02d:%02d",
                       s->opts.tz_min < 0 ? '-' : '+', m / 60, m % 60);
        tz = tzb;
    }
    doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "rate_budget", (double)s->rate_budget);
    cJSON_AddNumberToObject(doc, "rate_window_s", (double)s->rate_window_s);
    cJSON_AddNumberToObject(doc, "token_life_s", s->token_life_s);
    cJSON_AddStringToObject(doc, "tz", tz);
    cJSON_AddNumberToObject(doc, "seed", (double)s->opts.seed);
    cJSON_AddBoolToObject(doc, "relay", s->relay != NULL);
    scsim_send_json(resp, 200, doc);
}

static void scsim_clock(struct scsim *s, const cJSON *body, bool post,
                        struct simhttp_resp *resp)
{
    cJSON *doc;
    char now[32], local[32];

    if (post)
        s->clock_offset_ms = (int64_t)(jsonio_i64_or(body, "offset_s", 0) *
                                       1000);
    scsim_fmt_utc(scsim_now_ms(s), now);
    scsim_fmt_local(scsim_now_ms(s), s->opts.tz_min, local);
    doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "offset_s",
                            (double)(s->clock_offset_ms / 1000));
    cJSON_AddStringToObject(doc, "now_utc", now);
    cJSON_AddStringToObject(doc, "now_local", local);
    scsim_send_json(resp, 200, doc);
}

static void scsim_relay_route(struct scsim *s, const cJSON *body, bool post,
                              struct simhttp_resp *resp)
{
    cJSON *doc;

    if (post) {
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body,
                                                            "order_ids");

        if (!cJSON_IsArray(ids)) {
            scsim_err(resp, 400, "order_ids must be an array");
            return;
        }
        scsim_notify_orders(s, jsonio_str_or(body, "type", "order.updated"),
                            ids);
    }
    doc = cJSON_CreateObject();
    cJSON_AddBoolToObject(doc, "enabled", s->relay != NULL);
    cJSON_AddNumberToObject(doc, "posted", (double)atomic_load(
                                               &s->relay_posted));
    cJSON_AddNumberToObject(doc, "sent", (double)atomic_load(
                                             &s->relay_sent));
    cJSON_AddNumberToObject(doc, "dropped", (double)atomic_load(
                                                &s->relay_dropped));
    cJSON_AddNumberToObject(doc, "delivered", (double)atomic_load(
                                                  &s->relay_delivered));
    cJSON_AddNumberToObject(doc, "failed", (double)atomic_load(
                                               &s->relay_failed));
    scsim_send_json(resp, 200, doc);
}

/* Flat dispatch over the control routes; 'body' may be NULL. */
static void scsim_ctl_route(struct scsim *s, const struct simhttp_req *req,
                            const cJSON *body, struct simhttp_resp *resp)
{
    const char *p = req->path;
    bool post = strcmp(req->method, "POST") == 0;
    bool get = strcmp(req->method, "GET") == 0;

    if (get && strcmp(p, "/_sim/health") == 0)
        scsim_ok(resp);
    else if (strcmp(p, "/_sim/config") == 0 && (get || post))
        scsim_config(s, body, post, resp);
    else if (post && strcmp(p, "/_sim/reset") == 0) {
        scsim_reset(s);
        scsim_ok(resp);
    } else if (post && strcmp(p, "/_sim/orders") == 0)
        scsim_seed_explicit(s, body, resp);
    else if (get && strcmp(p, "/_sim/orders") == 0)
        scsim_list_orders(s, resp);
    else if (post && strcmp(p, "/_sim/orders/generate") == 0)
        scsim_generate(s, body, resp);
    else if (strncmp(p, "/_sim/orders/", 13) == 0)
        scsim_orders_sub(s, req, body, resp);
    else if (get && strcmp(p, "/_sim/products") == 0)
        scsim_products_get(s, req, resp);
    else if (post && strcmp(p, "/_sim/products") == 0)
        scsim_products_post(s, body, resp);
    else if (get && strcmp(p, "/_sim/requests") == 0)
        scsim_requests(s, req, resp);
    else if (get && strcmp(p, "/_sim/breaches") == 0)
        scsim_breaches(s, resp);
    else if (get && strcmp(p, "/_sim/counters") == 0)
        scsim_counters(s, resp);
    else if (strcmp(p, "/_sim/clock") == 0 && (get || post))
        scsim_clock(s, body, post, resp);
    else if (strcmp(p, "/_sim/relay") == 0 && (get || post))
        scsim_relay_route(s, body, post, resp);
    else
        scsim_err(resp, 404, "no such control route");
}

void scsim_ctl_handle(struct scsim *s, const struct simhttp_req *req,
                      struct simhttp_resp *resp)
{
    cJSON *body = NULL;

    if (req->body_len &&
        jsonio_parse(req->body, req->body_len, SCSIM_CTL_BODY_MAX, &body)) {
        scsim_err(resp, 400, "body is not JSON");
        return;
    }
    pthread_mutex_lock(&s->lock);
    scsim_ctl_route(s, req, body, resp);
    pthread_mutex_unlock(&s->lock);
    cJSON_Delete(body);
}
