/* SPDX-License-Identifier: MIT */
/* DDI simulator gateway routes: /v1/pos-orders, /v1/shipments, /v1/items. */
#include "ddisim.h"

#include <string.h>

#include "jsonio.h"
#include "mem.h"

#define DDISIM_STEP_MS 20
#define DDISIM_ORDER_NO_MAX 23

/* Waits 'ms' in short steps, or until the client leaves when 'hold'. */
static void ddisim_wait(struct ddisim *d, struct MHD_Connection *conn, long ms,
                        bool hold)
{
    while (ms > 0 && !atomic_load(&d->stopping)) {
        if (hold && simhttp_peer_gone(conn))
            return;
        simhttp_sleep_ms(ms < DDISIM_STEP_MS ? ms : DDISIM_STEP_MS);
        ms -= DDISIM_STEP_MS;
    }
}

static bool ddisim_authorized(struct ddisim *d, const struct simhttp_req *req)
{
    const char *auth = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                   "Authorization");
    const char *co = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                 "X-DDI-Company");
    const char *key = d->opts->api_key;
    size_t klen = strlen(key);
    unsigned char diff = 0;

    if (!auth || !co || strcmp(co, d->opts->company) != 0)
        return false;
    if (strncmp(auth, "Bearer ", 7) != 0 || strlen(auth + 7) != klen)
        return false;
    for (size_t i = 0; i < klen; i++)
        diff |= (unsigned char)(auth[7 + i] ^ key[i]);
    return diff == 0;
}

static void ddisim_lookup(struct ddisim *d, const struct simhttp_req *req,
                          struct simhttp_resp *resp)
{
    const char *ref = ddisim_query(req, "reference");
    cJSON *doc, *items;

    if (!ref || !*ref) {
        ddisim_reply_error(resp, 400, "INVALID_FIELD", "reference",
                           "reference is required");
        return;
    }
    doc = cJSON_CreateObject();
    items = cJSON_AddArrayToObject(doc, "items");
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; items && i < d->n_orders; i++) {
        if (strcmp(d->orders[i]->reference, ref) == 0)
            cJSON_AddItemToArray(items, ddisim_order_json(d, d->orders[i]));
    }
    pthread_mutex_unlock(&d->lock);
    ddisim_reply_json(resp, 200, doc);
}

/* Takes one create from the injected fault, if any is armed. */
static enum ddisim_fault ddisim_take_fault(struct ddisim *d)
{
    enum ddisim_fault f = d->fault;

    if (f == DDISIM_FAULT_NONE || d->fault_count == 0)
        return DDISIM_FAULT_NONE;
    if (d->fault_count > 0 && --d->fault_count == 0)
        d->fault = DDISIM_FAULT_NONE;
    return f;
}

/*
 * Commits the order (after the commit delay, so that a lookup sees it
 * only then) and renders the answer. The lock is taken here.
 */
static int ddisim_commit(struct ddisim *d, const cJSON *body, cJSON **out_doc,
                         enum ddisim_fault *out_fault)
{
    struct ddisim_create res = { NULL, 0 };
    struct ddisim_order *o = NULL;
    enum scb_err err;

    pthread_mutex_lock(&d->lock);
    d->committing--;
    err = ddisim_order_create(d, body, &res, &o);
    *out_fault = DDISIM_FAULT_NONE;
    if (!err && o) {
        *out_fault = ddisim_take_fault(d);
        *out_doc = ddisim_order_json(d, o);
    } else if (!err) {
        *out_doc = cJSON_CreateObject();
        if (!*out_doc || !cJSON_AddItemToObject(*out_doc, "errors", res.errors))
            cJSON_Delete(res.errors);
    }
    pthread_mutex_unlock(&d->lock);
    return err ? 500 : res.status;
}

static void ddisim_create(struct ddisim *d, const struct simhttp_req *req,
                          struct simhttp_resp *resp)
{
    cJSON *body = NULL;
    cJSON *doc = NULL;
    enum ddisim_fault fault;
    int delay, status;

    if (jsonio_parse(req->body, req->body_len, DDISIM_BODY_MAX, &body) ||
        !cJSON_IsObject(body)) {
        cJSON_Delete(body);
        ddisim_reply_error(resp, 400, "MALFORMED", NULL,
                           "the body must be one JSON object");
        return;
    }
    pthread_mutex_lock(&d->lock);
    delay = d->commit_delay_ms;
    d->committing++;
    pthread_mutex_unlock(&d->lock);
    ddisim_wait(d, req->conn, delay, false);
    status = ddisim_commit(d, body, &doc, &fault);
    cJSON_Delete(body);
    if (fault == DDISIM_FAULT_TIMEOUT) {
        ddisim_wait(d, req->conn, DDISIM_HOLD_MAX_MS, true);
        cJSON_Delete(doc);
        ddisim_reply_error(resp, 504, "TIMEOUT", NULL, "no answer");
    } else if (fault == DDISIM_FAULT_ERROR) {
        cJSON_Delete(doc);
        ddisim_reply_error(resp, 500, "INTERNAL", NULL,
                           "injected fault after commit");
    } else if (status == 500) {
        cJSON_Delete(doc);
        ddisim_reply_error(resp, 500, "INTERNAL", NULL, "out of memory");
    } else {
        ddisim_reply_json(resp, status, doc);
    }
}

static void ddisim_one(struct ddisim *d, const char *no, bool cancel,
                       struct simhttp_resp *resp)
{
    struct ddisim_order *o;
    cJSON *doc = NULL;
    int status = 404;

    pthread_mutex_lock(&d->lock);
    o = ddisim_order_find(d, no);
    if (o && cancel && o->n_ships > 0) {
        status = 409;
    } else if (o) {
        if (cancel)
            ddisim_order_cancel(d, o);
        doc = ddisim_order_json(d, o);
        status = 200;
    }
    pthread_mutex_unlock(&d->lock);
    if (status == 404)
        ddisim_reply_error(resp, 404, "NOT_FOUND", "order_no", "no such order");
    else if (status == 409)
        ddisim_reply_error(resp, 409, "ORDER_SHIPPED", "order_no",
                           "the order has a shipment");
    else
        ddisim_reply_json(resp, 200, doc);
}

/* A "limit" parameter: absent is 'dflt'; false if out of [1, max]. */
static bool ddisim_limit(const struct simhttp_req *req, size_t max, size_t *out)
{
    const char *s = ddisim_query(req, "limit");
    size_t v = 0;

    if (!s) {
        *out = max;
        return true;
    }
    if (!*s || strlen(s) > 6)
        return false;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (size_t)(*p - '0');
    }
    if (v < 1 || v > max)
        return false;
    *out = v;
    return true;
}

/* The page a list call asks for, checked. */
struct ddisim_page {
    const char *kind; /* "shp" or "itm", inside the cursor */
    const char *cursor_key;
    size_t max;
    size_t limit;
    size_t start; /* first table position to look at */
    bool by_since;
    int64_t since_ms;
};

static bool ddisim_page_args(const struct simhttp_req *req,
                             struct ddisim_page *pg, struct ddisim_handed *h,
                             size_t n, struct simhttp_resp *resp)
{
    const char *cur = ddisim_query(req, pg->cursor_key);
    const char *since = ddisim_query(req, "since");

    pg->start = 0;
    pg->by_since = false;
    if (!ddisim_limit(req, pg->max, &pg->limit)) {
        ddisim_reply_error(resp, 400, "INVALID_LIMIT", "limit",
                           "limit is out of range");
        return false;
    }
    if (cur) {
        if (ddisim_cursor_parse(pg->kind, cur, &pg->start) && pg->start <= n &&
            ddisim_handed_ok(h, pg->start))
            return true;
        ddisim_reply_error(resp, 400, "INVALID_CURSOR", pg->cursor_key,
                           "not a cursor this gateway handed out");
        return false;
    }
    if (since && !ddisim_parse_time(since, &pg->since_ms)) {
        ddisim_reply_error(resp, 400, "INVALID_SINCE", "since",
                           "since must be an RFC 3339 time with a zone");
        return false;
    }
    pg->by_since = since != NULL;
    return true;
}

/* Builds {"items", "next_cursor", "more"} from a filled page (lock held). */
static cJSON *ddisim_page_doc(struct ddisim_handed *h, const char *kind,
                              cJSON *items, size_t next, bool more)
{
    cJSON *doc = cJSON_CreateObject();
    char *cur = ddisim_cursor_make(kind, next);

    if (!doc || !cur || ddisim_handed_mark(h, next)) {
        cJSON_Delete(doc);
        cJSON_Delete(items);
        mem_free(cur);
        return NULL;
    }
    cJSON_AddItemToObject(doc, "items", items);
    cJSON_AddStringToObject(doc, "next_cursor", cur);
    cJSON_AddBoolToObject(doc, "more", more);
    mem_free(cur);
    return doc;
}

static void ddisim_shipments(struct ddisim *d, const struct simhttp_req *req,
                             struct simhttp_resp *resp)
{
    struct ddisim_page pg = { "shp", "confirmed_after", 100, 0, 0, false, 0 };
    cJSON *items = cJSON_CreateArray();
    cJSON *doc = NULL;
    size_t i;

    pthread_mutex_lock(&d->lock);
    if (!ddisim_page_args(req, &pg, &d->handed_ships, d->n_ships, resp)) {
        pthread_mutex_unlock(&d->lock);
        cJSON_Delete(items);
        return;
    }
    i = pg.start;
    while (pg.by_since && i < d->n_ships &&
           d->ships[i].confirmed_ms < pg.since_ms)
        i++;
    for (; items && i < d->n_ships &&
           (size_t)cJSON_GetArraySize(items) < pg.limit;
         i++)
        cJSON_AddItemToArray(items, cJSON_Duplicate(d->ships[i].record, 1));
    doc = ddisim_page_doc(&d->handed_ships, "shp", items, i, i < d->n_ships);
    pthread_mutex_unlock(&d->lock);
    ddisim_reply_json(resp, 200, doc);
}

static void ddisim_items(struct ddisim *d, const struct simhttp_req *req,
                         struct simhttp_resp *resp)
{
    struct ddisim_page pg = { "itm", "changed_after", 200, 0, 0, false, 0 };
    cJSON *items = cJSON_CreateArray();
    cJSON *doc = NULL;
    size_t i, more_at;

    pthread_mutex_lock(&d->lock);
    if (!ddisim_page_args(req, &pg, &d->handed_items, d->n_items, resp)) {
        pthread_mutex_unlock(&d->lock);
        cJSON_Delete(items);
        return;
    }
    i = pg.start;
    while (pg.by_since && i < d->n_items &&
           d->items[i].updated_ms < pg.since_ms)
        i++;
    for (; items && i < d->n_items &&
           (size_t)cJSON_GetArraySize(items) < pg.limit;
         i++) {
        if (d->items[i].live)
            cJSON_AddItemToArray(items, cJSON_Duplicate(d->items[i].record, 1));
    }
    more_at = i;
    while (more_at < d->n_items && !d->items[more_at].live)
        more_at++;
    doc = ddisim_page_doc(&d->handed_items, "itm", items, i,
                          more_at < d->n_items);
    pthread_mutex_unlock(&d->lock);
    ddisim_reply_json(resp, 200, doc);
}

/* /v1/pos-orders/{order_no}[/cancel] */
static void ddisim_order_route(struct ddisim *d, const struct simhttp_req *req,
                               struct simhttp_resp *resp)
{
    const char *rest = req->path + strlen("/v1/pos-orders/");
    const char *slash = strchr(rest, '/');
    size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
    bool cancel = slash && strcmp(slash, "/cancel") == 0;
    char no[DDISIM_ORDER_NO_MAX + 1];

    if (len == 0 || len > DDISIM_ORDER_NO_MAX || (slash && !cancel)) {
        ddisim_reply_error(resp, 404, "NOT_FOUND", NULL, "no such route");
        return;
    }
    if (strcmp(req->method, cancel ? "POST" : "GET") != 0) {
        ddisim_reply_error(resp, 405, "METHOD_NOT_ALLOWED", NULL,
                           "method not allowed");
        return;
    }
    memcpy(no, rest, len);
    no[len] = '\0';
    ddisim_one(d, no, cancel, resp);
}

void ddisim_api(struct ddisim *d, const struct simhttp_req *req,
                struct simhttp_resp *resp)
{
    bool get = strcmp(req->method, "GET") == 0;
    bool post = strcmp(req->method, "POST") == 0;

    if (!ddisim_authorized(d, req))
        ddisim_reply_error(resp, 401, "UNAUTHORIZED", NULL,
                           "bad API key or company");
    else if (strcmp(req->path, "/v1/pos-orders") == 0 && get)
        ddisim_lookup(d, req, resp);
    else if (strcmp(req->path, "/v1/pos-orders") == 0 && post)
        ddisim_create(d, req, resp);
    else if (strncmp(req->path, "/v1/pos-orders/", 15) == 0)
        ddisim_order_route(d, req, resp);
    else if (strcmp(req->path, "/v1/shipments") == 0 && get)
        ddisim_shipments(d, req, resp);
    else if (strcmp(req->path, "/v1/items") == 0 && get)
        ddisim_items(d, req, resp);
    else if (!strcmp(req->path, "/v1/pos-orders") ||
             !strcmp(req->path, "/v1/shipments") ||
             !strcmp(req->path, "/v1/items"))
        ddisim_reply_error(resp, 405, "METHOD_NOT_ALLOWED", NULL,
                           "method not allowed");
    else
        ddisim_reply_error(resp, 404, "NOT_FOUND", NULL, "no such route");
}
