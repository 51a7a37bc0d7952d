/* SPDX-License-Identifier: MIT */
/* The DDI gateway client: its requests, answers and error classes. */
#include <errno.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "buf.h"
#include "ddi_client.h"
#include "jsonio.h"
#include "log.h"
#include "mem.h"
#include "money.h"
#include "sc_order.h"
#include "upstream.h"

#define DDI_UPSTREAM "ddi"
#define DDI_PACKAGES_MAX 500
#define DDI_TRACKING_MAX 127 /* fits Sellercloud's tracking fields */
#define DDI_TIME_MAX 64
#define DDI_URL_MAX 8192

struct ddi_gate {
    sem_t slots; /* requests that may start now */
};

struct ddi_client {
    const struct config *cfg;
    struct ddi_gate *gate;
    struct upstream *up;
    struct upstream_response resp; /* the last call's answer */
    enum scb_err last_err;
    const char *last_why;          /* static text of an invalid answer */
    char *auth;                    /* "Authorization: Bearer ..."; secret */
    size_t auth_len;
    char *company;                 /* "X-DDI-Company: ..." */
};

/* Keeps the first problem met; answers 'ok'. */
static bool ddi_check(const char **problem, bool ok, const char *text)
{
    if (!ok && !*problem)
        *problem = text;
    return ok;
}

/* A required string of 1..max bytes. */
static bool ddi_req_str(const cJSON *obj, const char *key, size_t max,
                        const char **out)
{
    const char *s;

    if (jsonio_get_str(obj, key, &s) || !*s || strlen(s) > max)
        return false;
    *out = s;
    return true;
}

/* An optional string: absent or null gives NULL; another type fails. */
static bool ddi_opt_str(const cJSON *obj, const char *key, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!v || cJSON_IsNull(v)) {
        *out = NULL;
        return true;
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return false;
    *out = v->valuestring;
    return true;
}

/* An optional amount: one or two decimals; absent or null: none. */
static bool ddi_opt_money(const cJSON *obj, const char *key, bool *out_has,
                          int64_t *out_cents)
{
    const char *s = NULL;

    if (!ddi_opt_str(obj, key, &s))
        return false;
    *out_has = s != NULL;
    return !s || money_parse(s, out_cents) == SCB_OK;
}

static bool ddi_time(const cJSON *obj, const char *key, const char **out,
                     int64_t *out_ms)
{
    bool zone = false;

    return ddi_req_str(obj, key, DDI_TIME_MAX, out) &&
           sc_time_parse(*out, out_ms, &zone) == SCB_OK && zone;
}

static void ddi_shipment_head(const cJSON *obj, struct ddi_shipment *s,
                              const char **p)
{
    ddi_check(p, ddi_req_str(obj, "shipment_id", DDI_ID_MAX, &s->shipment_id),
              "shipment_id: missing or invalid");
    ddi_check(p, ddi_req_str(obj, "order_no", DDI_ID_MAX, &s->order_no),
              "order_no: missing or invalid");
    ddi_check(p, ddi_req_str(obj, "reference", DDI_ID_MAX, &s->reference),
              "reference: missing or invalid");
    ddi_check(p,
              ddi_time(obj, "confirmed_at", &s->confirmed_at,
                       &s->confirmed_at_ms),
              "confirmed_at: missing or not an RFC 3339 time");
    ddi_check(p, jsonio_get_bool(obj, "complete", &s->complete) == SCB_OK,
              "complete: missing or not a boolean");
    ddi_check(p,
              ddi_opt_str(obj, "ship_date", &s->ship_date) &&
                  ddi_opt_str(obj, "carrier", &s->carrier) &&
                  ddi_opt_str(obj, "service", &s->service),
              "ship_date, carrier or service: not a string");
    ddi_check(p,
              ddi_opt_money(obj, "deposit_applied", &s->has_deposit_applied,
                            &s->deposit_applied),
              "deposit_applied: not an amount");
}

/* Reads packages[].tracking_no; a bad list is a problem, not an error. */
static enum scb_err ddi_shipment_packages(const cJSON *obj,
                                          struct ddi_shipment *s,
                                          const char **p)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(obj, "packages");
    const cJSON *pk;
    const char **nos;
    size_t n, i = 0;

    if (!ddi_check(p, cJSON_IsArray(list), "packages: missing or invalid"))
        return SCB_OK;
    n = (size_t)cJSON_GetArraySize(list);
    if (!ddi_check(p, n <= DDI_PACKAGES_MAX, "packages: too many"))
        return SCB_OK;
    nos = mem_calloc(n ? n : 1, sizeof(*nos));
    if (!nos)
        return SCB_ENOMEM;
    cJSON_ArrayForEach(pk, list)
    {
        if (!ddi_check(p,
                       cJSON_IsObject(pk) &&
                           ddi_req_str(pk, "tracking_no", DDI_TRACKING_MAX,
                                       &nos[i]),
                       "packages: a package without a valid tracking_no")) {
            mem_free(nos);
            return SCB_OK;
        }
        i++;
    }
    s->tracking_nos = nos;
    s->n_packages = n;
    return SCB_OK;
}

enum scb_err ddi_shipment_read(const cJSON *obj, struct ddi_shipment *out)
{
    struct ddi_shipment s = { 0 };
    const char *problem = NULL;
    enum scb_err err = SCB_OK;

    if (ddi_check(&problem, cJSON_IsObject(obj), "shipment: not an object")) {
        ddi_shipment_head(obj, &s, &problem);
        err = ddi_shipment_packages(obj, &s, &problem);
    }
    if (err)
        return err;
    s.valid = problem == NULL;
    s.problem = problem;
    *out = s;
    return SCB_OK;
}

void ddi_shipment_release(struct ddi_shipment *s)
{
    mem_free(s->tracking_nos);
    memset(s, 0, sizeof(*s));
}

static void ddi_item_texts(const cJSON *obj, struct ddi_item *it,
                           const char **p)
{
    ddi_check(p,
              ddi_opt_str(obj, "description", &it->description) &&
                  ddi_opt_str(obj, "product_type", &it->product_type) &&
                  ddi_opt_str(obj, "image_url", &it->image_url) &&
                  ddi_opt_str(obj, "web_description", &it->web_description) &&
                  ddi_opt_str(obj, "mfg_product_no", &it->mfg_product_no) &&
                  ddi_opt_str(obj, "upc", &it->upc) &&
                  ddi_opt_str(obj, "uom", &it->uom) &&
                  ddi_opt_str(obj, "price", &it->price) &&
                  ddi_opt_str(obj, "updated_at", &it->updated_at),
              "a text field is not a string");
}

static bool ddi_item_qty(const cJSON *obj, struct ddi_item *it)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "available_qty");

    if (!v || cJSON_IsNull(v))
        return true;
    /* JSON integers beyond 2^53 are not exact in a double. */
    if (jsonio_get_i64(obj, "available_qty", -9007199254740991LL,
                       9007199254740991LL, &it->available_qty))
        return false;
    it->has_available_qty = true;
    return true;
}

static void ddi_item_head(const cJSON *obj, struct ddi_item *it,
                          const char **p)
{
    ddi_check(p,
              ddi_req_str(obj, "product_no", DDI_PRODUCT_NO_MAX,
                          &it->product_no),
              "product_no: missing or invalid");
    ddi_check(p, jsonio_get_str(obj, "warehouse", &it->warehouse) == SCB_OK,
              "warehouse: missing or not a string");
    ddi_check(p, jsonio_get_bool(obj, "active", &it->active) == SCB_OK,
              "active: missing or not a boolean");
    ddi_check(p, jsonio_get_bool(obj, "web", &it->web) == SCB_OK,
              "web: missing or not a boolean");
}

void ddi_item_read(const cJSON *obj, struct ddi_item *out)
{
    struct ddi_item it = { 0 };
    const char *p = NULL;

    if (ddi_check(&p, cJSON_IsObject(obj), "item: not an object")) {
        ddi_item_head(obj, &it, &p);
        ddi_item_texts(obj, &it, &p);
        ddi_check(&p, ddi_item_qty(obj, &it),
                  "available_qty: not an integer");
    }
    it.valid = p == NULL;
    it.problem = p;
    *out = it;
}

static void ddi_order_release(struct ddi_order *o)
{
    for (size_t i = 0; i < o->n_shipments; i++)
        ddi_shipment_release(&o->shipments[i]);
    mem_free(o->shipments);
    memset(o, 0, sizeof(*o));
}

static void ddi_order_head(const cJSON *obj, struct ddi_order *o,
                           const char **p)
{
    const cJSON *dep = cJSON_GetObjectItemCaseSensitive(obj, "deposit");
    bool has_applied = false;

    ddi_check(p, ddi_req_str(obj, "order_no", DDI_ID_MAX, &o->order_no),
              "order_no: missing or invalid");
    ddi_check(p, ddi_req_str(obj, "reference", DDI_ID_MAX, &o->reference),
              "reference: missing or invalid");
    ddi_check(p, ddi_req_str(obj, "status", DDI_ID_MAX, &o->status),
              "status: missing or invalid");
    ddi_check(p, ddi_opt_money(obj, "total", &o->has_total, &o->total),
              "total: not an amount");
    if (!dep || cJSON_IsNull(dep))
        return;
    if (!ddi_check(p, cJSON_IsObject(dep), "deposit: not an object"))
        return;
    ddi_check(p,
              ddi_opt_money(dep, "amount", &o->has_deposit,
                            &o->deposit_amount) &&
                  ddi_opt_money(dep, "applied", &has_applied,
                                &o->deposit_applied) &&
                  ddi_opt_str(dep, "status", &o->deposit_status),
              "deposit: an amount or the status is invalid");
}

static enum scb_err ddi_order_shipments(const cJSON *obj,
                                        struct ddi_order *o,
                                        const char **p)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(obj, "shipments");
    const cJSON *sh;
    enum scb_err err;

    if (!list || cJSON_IsNull(list))
        return SCB_OK;
    if (!ddi_check(p, cJSON_IsArray(list), "shipments: not an array"))
        return SCB_OK;
    o->shipments = mem_calloc((size_t)cJSON_GetArraySize(list) + 1,
                              sizeof(*o->shipments));
    if (!o->shipments)
        return SCB_ENOMEM;
    cJSON_ArrayForEach(sh, list)
    {
        struct ddi_shipment *s = &o->shipments[o->n_shipments];

        err = ddi_shipment_read(sh, s);
        if (err)
            return err;
        o->n_shipments++;
        if (!ddi_check(p, s->valid, s->problem))
            return SCB_OK;
    }
    return SCB_OK;
}

/* One order; SCB_EPARSE with *why when it is not valid. */
static enum scb_err ddi_order_read(const cJSON *obj, struct ddi_order *out,
                                   const char **why)
{
    struct ddi_order o = { 0 };
    const char *p = NULL;
    enum scb_err err = SCB_OK;

    if (ddi_check(&p, cJSON_IsObject(obj), "order: not an object")) {
        ddi_order_head(obj, &o, &p);
        err = ddi_order_shipments(obj, &o, &p);
    }
    if (!err && p)
        err = SCB_EPARSE;
    if (err) {
        ddi_order_release(&o);
        if (err == SCB_EPARSE && why)
            *why = p;
        return err;
    }
    *out = o;
    return SCB_OK;
}

static enum scb_err ddi_parse_root(const char *text, size_t len, size_t max,
                                   cJSON **out, const char **why)
{
    cJSON *root = NULL;
    enum scb_err err = jsonio_parse(text ? text : "", len, max, &root);

    if (err == SCB_EPARSE && why)
        *why = "answer: not JSON";
    if (!err && !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        if (why)
            *why = "answer: not a JSON object";
        return SCB_EPARSE;
    }
    if (!err)
        *out = root;
    return err;
}

enum scb_err ddi_parse_order(const char *text, size_t len, size_t max,
                             struct ddi_order_doc **out, const char **why)
{
    struct ddi_order_doc *doc = mem_calloc(1, sizeof(*doc));
    enum scb_err err;

    if (!doc)
        return SCB_ENOMEM;
    err = ddi_parse_root(text, len, max, &doc->root, why);
    if (!err)
        err = ddi_order_read(doc->root, &doc->order, why);
    if (err) {
        cJSON_Delete(doc->root);
        mem_free(doc);
        return err;
    }
    *out = doc;
    return SCB_OK;
}

void ddi_order_doc_free(struct ddi_order_doc *doc)
{
    if (!doc)
        return;
    ddi_order_release(&doc->order);
    cJSON_Delete(doc->root);
    mem_free(doc);
}

/* The "items" array of an answer, of at most 'max' records. */
static const cJSON *ddi_items_of(const cJSON *root, size_t max,
                                 const char **why)
{
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "items");

    if (!cJSON_IsArray(items)) {
        if (why)
            *why = "items: missing or not an array";
        return NULL;
    }
    if ((size_t)cJSON_GetArraySize(items) > max) {
        if (why)
            *why = "items: more records than asked for";
        return NULL;
    }
    return items;
}

static enum scb_err ddi_list_read(struct ddi_order_list *l, const char **why)
{
    const cJSON *items = ddi_items_of(l->root, SIZE_MAX, why);
    const cJSON *it;
    enum scb_err err;

    if (!items)
        return SCB_EPARSE;
    l->orders = mem_calloc((size_t)cJSON_GetArraySize(items) + 1,
                           sizeof(*l->orders));
    if (!l->orders)
        return SCB_ENOMEM;
    cJSON_ArrayForEach(it, items)
    {
        err = ddi_order_read(it, &l->orders[l->n], why);
        if (err)
            return err;
        l->n++;
    }
    return SCB_OK;
}

enum scb_err ddi_parse_order_list(const char *text, size_t len, size_t max,
                                  struct ddi_order_list **out,
                                  const char **why)
{
    struct ddi_order_list *l = mem_calloc(1, sizeof(*l));
    enum scb_err err;

    if (!l)
        return SCB_ENOMEM;
    err = ddi_parse_root(text, len, max, &l->root, why);
    if (!err)
        err = ddi_list_read(l, why);
    if (err) {
        ddi_order_list_free(l);
        return err;
    }
    *out = l;
    return SCB_OK;
}

void ddi_order_list_free(struct ddi_order_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++)
        ddi_order_release(&list->orders[i]);
    mem_free(list->orders);
    cJSON_Delete(list->root);
    mem_free(list);
}

/* next_cursor and more of a list page. */
static enum scb_err ddi_page_tail(const cJSON *root, const char **cursor,
                                  bool *more, const char **why)
{
    if (jsonio_get_str(root, "next_cursor", cursor) ||
        strlen(*cursor) > DDI_CURSOR_MAX) {
        if (why)
            *why = "next_cursor: missing or invalid";
        return SCB_EPARSE;
    }
    if (jsonio_get_bool(root, "more", more)) {
        if (why)
            *why = "more: missing or not a boolean";
        return SCB_EPARSE;
    }
    return SCB_OK;
}

static enum scb_err ddi_shipments_read(struct ddi_shipment_page *pg,
                                       const char **why)
{
    const cJSON *items = ddi_items_of(pg->root, DDI_SHIPMENTS_LIMIT_MAX, why);
    const cJSON *it;
    enum scb_err err;

    if (!items)
        return SCB_EPARSE;
    err = ddi_page_tail(pg->root, &pg->next_cursor, &pg->more, why);
    if (err)
        return err;
    pg->items = mem_calloc((size_t)cJSON_GetArraySize(items) + 1,
                           sizeof(*pg->items));
    if (!pg->items)
        return SCB_ENOMEM;
    cJSON_ArrayForEach(it, items)
    {
        err = ddi_shipment_read(it, &pg->items[pg->n]);
        if (err)
            return err;
        pg->n++;
    }
    return SCB_OK;
}

enum scb_err ddi_parse_shipment_page(const char *text, size_t len,
                                     size_t max,
                                     struct ddi_shipment_page **out,
                                     const char **why)
{
    struct ddi_shipment_page *pg = mem_calloc(1, sizeof(*pg));
    enum scb_err err;

    if (!pg)
        return SCB_ENOMEM;
    err = ddi_parse_root(text, len, max, &pg->root, why);
    if (!err)
        err = ddi_shipments_read(pg, why);
    if (err) {
        ddi_shipment_page_free(pg);
        return err;
    }
    *out = pg;
    return SCB_OK;
}

void ddi_shipment_page_free(struct ddi_shipment_page *page)
{
    if (!page)
        return;
    for (size_t i = 0; i < page->n; i++)
        ddi_shipment_release(&page->items[i]);
    mem_free(page->items);
    cJSON_Delete(page->root);
    mem_free(page);
}

static enum scb_err ddi_items_read(struct ddi_item_page *pg,
                                   const char **why)
{
    const cJSON *items = ddi_items_of(pg->root, DDI_ITEMS_LIMIT_MAX, why);
    const cJSON *it;
    enum scb_err err;

    if (!items)
        return SCB_EPARSE;
    err = ddi_page_tail(pg->root, &pg->next_cursor, &pg->more, why);
    if (err)
        return err;
    pg->items = mem_calloc((size_t)cJSON_GetArraySize(items) + 1,
                           sizeof(*pg->items));
    if (!pg->items)
        return SCB_ENOMEM;
    cJSON_ArrayForEach(it, items)
        ddi_item_read(it, &pg->items[pg->n++]);
    return SCB_OK;
}

enum scb_err ddi_parse_item_page(const char *text, size_t len, size_t max,
                                 struct ddi_item_page **out,
                                 const char **why)
{
    struct ddi_item_page *pg = mem_calloc(1, sizeof(*pg));
    enum scb_err err;

    if (!pg)
        return SCB_ENOMEM;
    err = ddi_parse_root(text, len, max, &pg->root, why);
    if (!err)
        err = ddi_items_read(pg, why);
    if (err) {
        ddi_item_page_free(pg);
        return err;
    }
    *out = pg;
    return SCB_OK;
}

void ddi_item_page_free(struct ddi_item_page *page)
{
    if (!page)
        return;
    mem_free(page->items);
    cJSON_Delete(page->root);
    mem_free(page);
}

/* Appends to 'dst' (cap bytes) at *pos; output past the end is cut. */
static void ddi_appendf(char *dst, size_t cap, size_t *pos, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));

static void ddi_appendf(char *dst, size_t cap, size_t *pos, const char *fmt,
                        ...)
{
    va_list ap;
    int n;

    if (*pos + 1 >= cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(dst + *pos, cap - *pos, fmt, ap);
    va_end(ap);
    if (n > 0)
        *pos = (*pos + (size_t)n < cap) ? *pos + (size_t)n : cap - 1;
}

/* "CODE line N field F: message", control characters as spaces. */
static void ddi_error_entry(const cJSON *entry, char *dst, size_t cap,
                            size_t *pos)
{
    const char *code = jsonio_str_or(entry, "code", "?");
    const char *field = jsonio_str_or(entry, "field", NULL);
    const char *msg = jsonio_str_or(entry, "message", NULL);
    int64_t line = jsonio_i64_or(entry, "line_no", 0);
    size_t start = *pos;

    ddi_appendf(dst, cap, pos, "%s%s", start ? "; " : "", code);
    if (line > 0)
        ddi_appendf(dst, cap, pos, " line %lld", (long long)line);
    if (field && *field)
        ddi_appendf(dst, cap, pos, " field %s", field);
    if (msg && *msg)
        ddi_appendf(dst, cap, pos, ": %s", msg);
    for (size_t i = start; i < *pos; i++) {
        if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
            dst[i] = ' ';
    }
}

void ddi_error_from_body(long status, const char *body, size_t len,
                         struct ddi_error *e)
{
    cJSON *root = NULL;
    const cJSON *errors, *entry;
    size_t pos = 0;

    e->detail[0] = '\0';
    snprintf(e->reason, sizeof(e->reason), "%s",
             status == 409   ? "CANCELLED_AFTER_SHIPMENT"
             : status == 422 ? "DDI_VALIDATION"
                             : "");
    if (!body || !len || jsonio_parse(body, len, len, &root))
        return;
    errors = cJSON_GetObjectItemCaseSensitive(root, "errors");
    if (!cJSON_IsArray(errors))
        errors = NULL;
    cJSON_ArrayForEach(entry, errors)
    {
        if (status == 422 &&
            !strcmp(jsonio_str_or(entry, "code", ""), "UNKNOWN_PRODUCT"))
            snprintf(e->reason, sizeof(e->reason), "UNKNOWN_PRODUCT");
        ddi_error_entry(entry, e->detail, sizeof(e->detail), &pos);
    }
    cJSON_Delete(root);
}

enum upstream_class ddi_class_of(enum scb_err err)
{
    if (err == SCB_ECONFLICT)
        return UPSTREAM_CLASS_PERMANENT;
    return upstream_class_of(err);
}

struct ddi_gate *ddi_gate_new(int64_t slots)
{
    struct ddi_gate *g;

    if (slots < 1 || slots > 64)
        return NULL;
    g = mem_calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    if (sem_init(&g->slots, 0, (unsigned)slots)) {
        mem_free(g);
        return NULL;
    }
    return g;
}

void ddi_gate_free(struct ddi_gate *gate)
{
    if (!gate)
        return;
    sem_destroy(&gate->slots);
    mem_free(gate);
}

static void ddi_gate_take(struct ddi_gate *g)
{
    while (sem_wait(&g->slots) && errno == EINTR)
        continue;
}

static void ddi_gate_give(struct ddi_gate *g)
{
    (void)sem_post(&g->slots); /* cannot overflow: one post per wait */
}

/* "Name: <prefix><value>" in a new string; NULL on OOM. */
static char *ddi_header(const char *name, const char *prefix,
                        const char *value, size_t *out_len)
{
    struct buf b;
    char *s = NULL;

    buf_init(&b, strlen(name) + strlen(prefix) + strlen(value) + 3);
    if (!buf_printf(&b, "%s: %s%s", name, prefix, value)) {
        *out_len = b.len;
        s = buf_steal(&b);
    }
    buf_release(&b);
    return s;
}

struct ddi_client *ddi_client_new(const struct config *cfg,
                                  struct ddi_gate *gate)
{
    struct ddi_client *c = mem_calloc(1, sizeof(*c));
    size_t len = 0;

    if (!c)
        return NULL;
    c->cfg = cfg;
    c->gate = gate;
    upstream_response_init(&c->resp, (size_t)cfg->upstream_max_bytes);
    c->up = upstream_new(DDI_UPSTREAM, cfg, cfg->ddi_timeout_s);
    c->auth = ddi_header("Authorization", "Bearer ", cfg->ddi_api_key,
                         &c->auth_len);
    c->company = ddi_header("X-DDI-Company", "", cfg->ddi_company, &len);
    if (!c->up || !c->auth || !c->company) {
        ddi_client_free(c);
        return NULL;
    }
    return c;
}

void ddi_client_free(struct ddi_client *c)
{
    if (!c)
        return;
    upstream_free(c->up);
    upstream_response_release(&c->resp);
    if (c->auth)
        mem_free_secret(c->auth, c->auth_len);
    mem_free(c->company);
    mem_free(c);
}

void ddi_client_log_failure(const struct ddi_client *c, const char *mod,
                            const char *job)
{
    if (c->last_err == SCB_OK)
        return;
    if (c->last_why) {
        log_warn(mod, "ddi answer invalid", LOG_STR("job", job ? job : ""),
                 LOG_STR("endpoint", c->resp.endpoint),
                 LOG_STR("url", c->resp.url_log),
                 LOG_INT("status", c->resp.status),
                 LOG_STR("detail", c->last_why));
        return;
    }
    upstream_log_failure(mod, job, c->up, &c->resp);
}

/* True for 1..max printable ASCII bytes without spaces (header-safe). */
static bool ddi_token_ok(const char *s, size_t max)
{
    size_t n = 0;

    if (!s)
        return false;
    for (; s[n]; n++) {
        if (n >= max || s[n] <= ' ' || s[n] > '~')
            return false;
    }
    return n > 0;
}

/* Appends 's' percent-encoded (RFC 3986 unreserved kept). */
static enum scb_err ddi_put_escaped(struct buf *b, const char *s)
{
    char *esc = curl_easy_escape(NULL, s, (int)strlen(s));
    enum scb_err err;

    if (!esc)
        return SCB_ENOMEM;
    err = buf_puts(b, esc);
    curl_free(esc);
    return err;
}

/* base + path + the escaped 'arg' (NULL: none) + 'tail' (may be NULL). */
static enum scb_err ddi_url(const struct ddi_client *c, struct buf *url,
                            const char *path, const char *arg,
                            const char *tail)
{
    const char *base = c->cfg->ddi_base_url;
    size_t blen = strlen(base);
    enum scb_err err;

    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    err = buf_append(url, base, blen);
    if (!err)
        err = buf_puts(url, path);
    if (!err && arg)
        err = ddi_put_escaped(url, arg);
    if (!err && tail)
        err = buf_puts(url, tail);
    return err;
}

/*
 * Sends one request within the gate and classifies the answer: fills
 * e->status, e->wait_ms, and for a refusal e->reason and e->detail.
 */
static enum scb_err ddi_send(struct ddi_client *c, enum upstream_method m,
                             const char *url, const char *endpoint,
                             const char *idem_key, const char *body,
                             struct ddi_error *e)
{
    char idem[DDI_ID_MAX + 32];
    const char *headers[4] = { c->auth, c->company, NULL, NULL };
    struct upstream_request req = {
        .method = m, .url = url, .endpoint = endpoint, .headers = headers,
        .body = body, .body_len = body ? strlen(body) : 0,
    };
    enum scb_err err;

    if (idem_key) {
        snprintf(idem, sizeof(idem), "Idempotency-Key: %s", idem_key);
        headers[2] = idem;
    }
    ddi_gate_take(c->gate);
    err = upstream_send(c->up, &req, &c->resp);
    ddi_gate_give(c->gate);
    e->status = c->resp.status;
    if (err == SCB_EWAIT)
        e->wait_ms = c->resp.wait_ms;
    if (err == SCB_EPERMANENT) {
        ddi_error_from_body(c->resp.status, c->resp.body.data,
                            c->resp.body.len, e);
        if (c->resp.status == 409)
            err = SCB_ECONFLICT;
    }
    return err;
}

/* Starts a call: clears the error and the last call's state. */
static void ddi_begin(struct ddi_client *c, struct ddi_error *e)
{
    memset(e, 0, sizeof(*e));
    c->last_err = SCB_OK;
    c->last_why = NULL;
}

/* Ends a call: remembers its result and an invalid answer's reason. */
static enum scb_err ddi_end(struct ddi_client *c, enum scb_err err,
                            const char *why, struct ddi_error *e)
{
    c->last_err = err;
    if (why) {
        c->last_why = why;
        snprintf(e->detail, sizeof(e->detail), "invalid answer: %s", why);
    }
    return err;
}

/* GET 'url' and parse the order answer. */
static enum scb_err ddi_order_call(struct ddi_client *c,
                                   enum upstream_method m, const char *url,
                                   const char *endpoint, const char *idem,
                                   const char *body,
                                   struct ddi_order_doc **out,
                                   struct ddi_error *e)
{
    const char *why = NULL;
    enum scb_err err = ddi_send(c, m, url, endpoint, idem, body, e);

    if (!err)
        err = ddi_parse_order(c->resp.body.data, c->resp.body.len,
                              c->resp.body.max, out, &why);
    return ddi_end(c, err, err == SCB_EPARSE ? why : NULL, e);
}

enum scb_err ddi_find_orders(struct ddi_client *c, const char *reference,
                             struct ddi_order_list **out,
                             struct ddi_error *e)
{
    struct buf url;
    const char *why = NULL;
    enum scb_err err;

    ddi_begin(c, e);
    if (!ddi_token_ok(reference, DDI_ID_MAX))
        return ddi_end(c, SCB_EINVAL, NULL, e);
    buf_init(&url, DDI_URL_MAX);
    err = ddi_url(c, &url, "/v1/pos-orders?reference=", reference, NULL);
    if (!err)
        err = ddi_send(c, UPSTREAM_GET, url.data,
                       "GET /v1/pos-orders?reference={ref}", NULL, NULL, e);
    if (!err)
        err = ddi_parse_order_list(c->resp.body.data, c->resp.body.len,
                                   c->resp.body.max, out, &why);
    buf_release(&url);
    return ddi_end(c, err, err == SCB_EPARSE ? why : NULL, e);
}

enum scb_err ddi_create_order(struct ddi_client *c, const char *reference,
                              const char *body, struct ddi_order_doc **out,
                              struct ddi_error *e)
{
    struct buf url;
    enum scb_err err;

    ddi_begin(c, e);
    if (!ddi_token_ok(reference, DDI_ID_MAX) || !body)
        return ddi_end(c, SCB_EINVAL, NULL, e);
    buf_init(&url, DDI_URL_MAX);
    err = ddi_url(c, &url, "/v1/pos-orders", NULL, NULL);
    if (!err)
        err = ddi_order_call(c, UPSTREAM_POST, url.data,
                             "POST /v1/pos-orders", reference, body, out, e);
    buf_release(&url);
    /* A 2xx that cannot be read may still have created the order. */
    if (err == SCB_EPARSE)
        err = c->last_err = SCB_EUNKNOWN;
    return err;
}

enum scb_err ddi_get_order(struct ddi_client *c, const char *order_no,
                           struct ddi_order_doc **out, struct ddi_error *e)
{
    struct buf url;
    enum scb_err err;

    ddi_begin(c, e);
    if (!ddi_token_ok(order_no, DDI_ID_MAX))
        return ddi_end(c, SCB_EINVAL, NULL, e);
    buf_init(&url, DDI_URL_MAX);
    err = ddi_url(c, &url, "/v1/pos-orders/", order_no, NULL);
    if (!err)
        err = ddi_order_call(c, UPSTREAM_GET, url.data,
                             "GET /v1/pos-orders/{order_no}", NULL, NULL,
                             out, e);
    buf_release(&url);
    return err;
}

static char *ddi_cancel_body(const char *reason)
{
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;

    if (o && cJSON_AddStringToObject(o, "reason", reason))
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

enum scb_err ddi_cancel_order(struct ddi_client *c, const char *order_no,
                              const char *reason,
                              struct ddi_order_doc **out,
                              struct ddi_error *e)
{
    struct buf url;
    char *body = NULL;
    enum scb_err err;

    ddi_begin(c, e);
    if (!ddi_token_ok(order_no, DDI_ID_MAX) || !reason ||
        strlen(reason) > DDI_CANCEL_REASON_MAX)
        return ddi_end(c, SCB_EINVAL, NULL, e);
    buf_init(&url, DDI_URL_MAX);
    err = ddi_url(c, &url, "/v1/pos-orders/", order_no, "/cancel");
    if (!err) {
        body = ddi_cancel_body(reason);
        err = body ? SCB_OK : SCB_ENOMEM;
    }
    if (!err)
        err = ddi_order_call(c, UPSTREAM_POST, url.data,
                             "POST /v1/pos-orders/{order_no}/cancel", NULL,
                             body, out, e);
    buf_release(&url);
    if (body)
        cJSON_free(body);
    /* Cancelling twice is harmless: an unknown outcome is retried. */
    if (err == SCB_EUNKNOWN)
        err = c->last_err = SCB_EUPSTREAM;
    return err;
}

/* The query of a list call: limit, then the cursor or since. */
static enum scb_err ddi_list_url(const struct ddi_client *c, struct buf *url,
                                 const char *path, const char *cursor_key,
                                 const char *cursor, const char *since,
                                 int limit)
{
    enum scb_err err = ddi_url(c, url, path, NULL, NULL);

    if (!err)
        err = buf_printf(url, "?limit=%d", limit);
    if (!err && cursor && *cursor) {
        err = buf_printf(url, "&%s=", cursor_key);
        if (!err)
            err = ddi_put_escaped(url, cursor);
    } else if (!err && since && *since) {
        err = buf_puts(url, "&since=");
        if (!err)
            err = ddi_put_escaped(url, since);
    }
    return err;
}

static bool ddi_list_args_ok(const char *cursor, const char *since,
                             int limit, int max)
{
    return limit >= 1 && limit <= max &&
           (!cursor || strlen(cursor) <= DDI_CURSOR_MAX) &&
           (!since || strlen(since) <= DDI_TIME_MAX);
}

enum scb_err ddi_list_shipments(struct ddi_client *c, const char *cursor,
                                const char *since, int limit,
                                struct ddi_shipment_page **out,
                                struct ddi_error *e)
{
    struct buf url;
    const char *why = NULL;
    enum scb_err err;

    ddi_begin(c, e);
    if (!ddi_list_args_ok(cursor, since, limit, DDI_SHIPMENTS_LIMIT_MAX))
        return ddi_end(c, SCB_EINVAL, NULL, e);
    buf_init(&url, DDI_URL_MAX);
    err = ddi_list_url(c, &url, "/v1/shipments", "confirmed_after", cursor,
                       since, limit);
    if (!err)
        err = ddi_send(c, UPSTREAM_GET, url.data, "GET /v1/shipments", NULL,
                       NULL, e);
    if (!err)
        err = ddi_parse_shipment_page(c->resp.body.data, c->resp.body.len,
                                      c->resp.body.max, out, &why);
    buf_release(&url);
    return ddi_end(c, err, err == SCB_EPARSE ? why : NULL, e);
}

enum scb_err ddi_list_items(struct ddi_client *c, const char *cursor,
                            const char *since, int limit,
                            struct ddi_item_page **out, struct ddi_error *e)
{
    struct buf url;
    const char *why = NULL;
    enum scb_err err;

    ddi_begin(c, e);
    if (!ddi_list_args_ok(cursor, since, limit, DDI_ITEMS_LIMIT_MAX))
        return ddi_end(c, SCB_EINVAL, NULL, e);
    buf_init(&url, DDI_URL_MAX);
    err = ddi_list_url(c, &url, "/v1/items", "changed_after", cursor, since,
                       limit);
    if (!err)
        err = ddi_send(c, UPSTREAM_GET, url.data, "GET /v1/items", NULL,
                       NULL, e);
    if (!err)
        err = ddi_parse_item_page(c->resp.body.data, c->resp.body.len,
                                  c->resp.body.max, out, &why);
    buf_release(&url);
    return ddi_end(c, err, err == SCB_EPARSE ? why : NULL, e);
}
