/* SPDX-License-Identifier: MIT */
/* The Sellercloud simulator's order routes under /rest/api/Orders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonio.h"
#include "mem.h"
#include "scsim.h"

#define SCSIM_FILTER_MAX 64

struct scsim_filter {
    int64_t companies[SCSIM_FILTER_MAX];
    size_t n_companies;
    int64_t ids[SCSIM_FILTER_MAX];
    size_t n_ids;
    int64_t statuses[SCSIM_FILTER_MAX];
    size_t n_statuses;
    int64_t from_ms, to_ms;       /* 0: no bound */
    int64_t channel, payment, shipping; /* -1000: any */
    int order_by;
    bool asc;
    long page, size;
};

static bool scsim_i64(const char *v, int64_t *out)
{
    char *end;
    long long n;

    if (!v || !*v)
        return false;
    n = strtoll(v, &end, 10);
    if (*end)
        return false;
    *out = n;
    return true;
}

static size_t scsim_multi(struct MHD_Connection *conn, const char *key,
                          int64_t *out, bool *ok)
{
    const char *vals[SCSIM_FILTER_MAX];
    size_t n = scsim_query_all(conn, key, vals, SCSIM_FILTER_MAX);

    for (size_t i = 0; i < n; i++) {
        if (!scsim_i64(vals[i], &out[i]))
            *ok = false;
    }
    return n;
}

static const char *scsim_q(struct MHD_Connection *conn, const char *key)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
}

static int64_t scsim_qint(struct MHD_Connection *conn, const char *key,
                          int64_t dflt)
{
    int64_t v;

    return scsim_i64(scsim_q(conn, key), &v) ? v : dflt;
}

static bool scsim_qtime(const struct scsim *s, struct MHD_Connection *conn,
                        const char *key, int64_t *out)
{
    const char *v = scsim_q(conn, key);

    *out = 0;
    return !v || scsim_parse_time(v, s->opts.tz_min, out);
}

/* Reads the list filters; false with 'why' set for a plain 400. */
static bool scsim_filter_read(const struct scsim *s,
                              struct MHD_Connection *conn,
                              struct scsim_filter *f, const char **why)
{
    const char *asc = scsim_q(conn, "model.isAscending");
    bool ok = true;

    memset(f, 0, sizeof(*f));
    f->n_companies = scsim_multi(conn, "model.companyID", f->companies, &ok);
    f->n_ids = scsim_multi(conn, "model.orderIDs", f->ids, &ok);
    f->n_statuses = scsim_multi(conn, "model.orderStatus", f->statuses, &ok);
    f->channel = scsim_qint(conn, "model.channel", -1000);
    f->payment = scsim_qint(conn, "model.paymentStatus", -1000);
    f->shipping = scsim_qint(conn, "model.shippingStatus", -1000);
    f->order_by = (int)scsim_qint(conn, "model.orderBy", 0);
    f->asc = !asc || strcasecmp(asc, "false") != 0;
    f->page = (long)scsim_qint(conn, "model.pageNumber", 1);
    f->size = (long)scsim_qint(conn, "model.pageSize", SCSIM_PAGE_MAX);
    *why = "bad filter value";
    if (!ok)
        return false;
    *why = "at most 50 orderIDs";
    if (f->n_ids > SCSIM_PAGE_MAX)
        return false;
    *why = "pageSize must be 1 to 50 and pageNumber at least 1";
    if (f->size < 1 || f->size > SCSIM_PAGE_MAX || f->page < 1)
        return false;
    *why = "bad lastUpdatedFrom or lastUpdatedTo";
    return scsim_qtime(s, conn, "model.lastUpdatedFrom", &f->from_ms) &&
           scsim_qtime(s, conn, "model.lastUpdatedTo", &f->to_ms);
}

static bool scsim_in(const int64_t *arr, size_t n, int64_t v)
{
    for (size_t i = 0; i < n; i++) {
        if (arr[i] == v)
            return true;
    }
    return n == 0;
}

static bool scsim_eq_or_any(int64_t want, const cJSON *doc, const char *key)
{
    return want == -1000 || jsonio_i64_or(doc, key, -2000) == want;
}

static bool scsim_filter_match(const struct scsim_filter *f,
                               const struct scsim_order *o)
{
    if (!scsim_in(f->companies, f->n_companies, o->company) ||
        !scsim_in(f->ids, f->n_ids, o->id) ||
        !scsim_in(f->statuses, f->n_statuses,
                  jsonio_i64_or(o->doc, "StatusCode", 0)))
        return false;
    if ((f->from_ms && o->updated_ms < f->from_ms) ||
        (f->to_ms && o->updated_ms > f->to_ms))
        return false;
    return scsim_eq_or_any(f->channel, o->doc, "OrderSource") &&
           scsim_eq_or_any(f->payment, o->doc, "PaymentStatus") &&
           scsim_eq_or_any(f->shipping, o->doc, "ShippingStatus");
}

static int64_t scsim_sort_key(const struct scsim_order *o, int by)
{
    switch (by) {
    case 1:
        return o->time_of_order_ms;
    case 2:
        return jsonio_i64_or(o->doc, "StatusCode", 0);
    case 3:
        return o->ship_ms;
    case 4:
        return jsonio_i64_or(o->doc, "ShippingStatus", 0);
    default:
        return o->id;
    }
}

static int scsim_cmp(const void *a, const void *b, void *ctx)
{
    const struct scsim_order *x = *(const struct scsim_order *const *)a;
    const struct scsim_order *y = *(const struct scsim_order *const *)b;
    int by = *(const int *)ctx;
    int64_t kx = scsim_sort_key(x, by), ky = scsim_sort_key(y, by);

    if (kx != ky)
        return kx < ky ? -1 : 1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

static void scsim_list(struct scsim *s, const struct simhttp_req *req,
                       struct simhttp_resp *resp)
{
    struct scsim_filter f;
    struct scsim_order **hits;
    const char *why;
    size_t n = 0, start;
    cJSON *doc, *items;

    if (!scsim_filter_read(s, req->conn, &f, &why)) {
        scsim_msg(resp, 400, why);
        return;
    }
    hits = mem_malloc((s->n_orders + 1) * sizeof(*hits));
    doc = cJSON_CreateObject();
    items = cJSON_AddArrayToObject(doc, "Items");
    if (!hits || !items) {
        mem_free(hits);
        cJSON_Delete(doc);
        scsim_msg(resp, 500, "out of memory");
        return;
    }
    for (size_t i = 0; i < s->n_orders; i++) {
        if (scsim_filter_match(&f, s->orders[i]))
            hits[n++] = s->orders[i];
    }
    qsort_r(hits, n, sizeof(*hits), scsim_cmp, &f.order_by);
    start = (size_t)(f.page - 1) * (size_t)f.size;
    for (size_t i = start; i < n && i < start + (size_t)f.size; i++) {
        size_t k = f.asc ? i : n - 1 - i;

        cJSON_AddItemToArray(items, scsim_render_list_item(s, hits[k]));
    }
    cJSON_AddNumberToObject(doc, "TotalResults", (double)n);
    mem_free(hits);
    scsim_send_json(resp, 200, doc);
}

/* The integer that follows 'prefix' in the path, up to '/' or the end. */
static struct scsim_order *scsim_path_order(struct scsim *s,
                                            const char *path,
                                            const char *prefix)
{
    size_t pl = strlen(prefix);
    char *end;
    long long id;

    if (strncmp(path, prefix, pl) != 0)
        return NULL;
    id = strtoll(path + pl, &end, 10);
    if (end == path + pl || (*end && *end != '/'))
        return NULL;
    return scsim_order_find(s, id);
}

static void scsim_single(struct scsim *s, const struct simhttp_req *req,
                         struct simhttp_resp *resp)
{
    struct scsim_order *o = scsim_path_order(s, req->path,
                                             "/rest/api/Orders/");

    if (!o) {
        scsim_msg(resp, 400, "Order not found.");
        return;
    }
    scsim_send_json(resp, 200, scsim_render_single(s, o));
}

static void scsim_set_exported(struct scsim *s, const cJSON *body,
                               struct simhttp_resp *resp)
{
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "Orders");
    bool flag = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body,
                                                              "Exported"));
    cJSON *out = cJSON_CreateArray();
    const cJSON *id;
    int64_t now = scsim_now_ms(s);

    cJSON_ArrayForEach(id, ids) {
        struct scsim_order *o = scsim_order_find(s,
                                                 (int64_t)id->valuedouble);
        const cJSON *prev;
        bool dup = false;

        if (!o)
            continue;
        cJSON_ArrayForEach(prev, out) dup |= prev->valuedouble ==
                                             id->valuedouble;
        if (dup)
            continue;
        if (o->exported != flag) {
            o->exported = flag;
            o->updated_ms = now;
        }
        cJSON_AddItemToArray(out, cJSON_CreateNumber((double)o->id));
    }
    scsim_send_json(resp, 200, out);
}

static void scsim_packages(struct scsim *s, const struct simhttp_req *req,
                           struct simhttp_resp *resp)
{
    struct scsim_order *o;
    int64_t page = scsim_qint(req->conn, "pageNumber", 0);
    int64_t size = scsim_qint(req->conn, "pageSize", 0);
    cJSON *doc, *res;

    o = scsim_order_find(s, scsim_qint(req->conn, "id", 0));
    if (!o) {
        scsim_msg(resp, 400, "Order not found.");
        return;
    }
    if (page < 1 || size < 1 || size > SCSIM_PAGE_MAX) {
        scsim_msg(resp, 400, "pageSize must be 1 to 50, pageNumber >= 1");
        return;
    }
    doc = cJSON_CreateObject();
    res = cJSON_AddArrayToObject(doc, "Results");
    for (size_t i = (size_t)((page - 1) * size);
         res && i < o->n_pkgs && i < (size_t)(page * size); i++)
        cJSON_AddItemToArray(res, scsim_render_package(&o->pkgs[i]));
    cJSON_AddNumberToObject(doc, "TotalResults", (double)o->n_pkgs);
    scsim_send_json(resp, 200, doc);
}

bool scsim_ship_date_ok(const struct scsim *s, const struct scsim_order *o,
                        const cJSON *body, int64_t *out_ms, char *why,
                        size_t why_len)
{
    const char *v = jsonio_str_or(body, "ShipDate", NULL);
    int64_t now = scsim_now_ms(s), ms = now;

    if (v && !scsim_parse_time(v, s->opts.tz_min, &ms)) {
        (void)snprintf(why, why_len, "ShipDate is not a date-time");
        return false;
    }
    if (ms < o->created_ms) {
        (void)snprintf(why, why_len, "ShipDate is before the order's "
                       "CreatedOn");
        return false;
    }
    if (ms > now) {
        (void)snprintf(why, why_len, "ShipDate is in the future");
        return false;
    }
    *out_ms = ms;
    return true;
}

static bool scsim_set_str(char **dst, const char *v)
{
    char *c;

    if (!v || (*dst && strcmp(*dst, v) == 0))
        return false;
    c = mem_strdup(v);
    if (!c)
        return false;
    mem_free(*dst);
    *dst = c;
    return true;
}

static bool scsim_doc_str(cJSON *doc, const char *key, const char *v)
{
    const char *cur = jsonio_str_or(doc, key, NULL);
    cJSON *n;

    if (!v || (cur && strcmp(cur, v) == 0))
        return false;
    n = cJSON_CreateString(v);
    if (!n)
        return false;
    if (cJSON_GetObjectItemCaseSensitive(doc, key))
        cJSON_ReplaceItemInObjectCaseSensitive(doc, key, n);
    else
        cJSON_AddItemToObject(doc, key, n);
    return true;
}

static bool scsim_doc_int(cJSON *doc, const char *key, int64_t v)
{
    cJSON *n;

    if (jsonio_i64_or(doc, key, v + 1) == v)
        return false;
    n = cJSON_CreateNumber((double)v);
    if (!n)
        return false;
    if (cJSON_GetObjectItemCaseSensitive(doc, key))
        cJSON_ReplaceItemInObjectCaseSensitive(doc, key, n);
    else
        cJSON_AddItemToObject(doc, key, n);
    return true;
}

/* Writes one package; the whole order becomes FullyShipped. */
static void scsim_ship_pkg(struct scsim *s, struct scsim_order *o,
                           struct scsim_pkg *p, const char *tracking,
                           const char *carrier, const char *method,
                           int64_t ship_ms)
{
    bool changed = false;

    changed |= scsim_set_str(&p->tracking, tracking);
    changed |= scsim_set_str(&p->carrier, carrier);
    changed |= scsim_set_str(&p->method, method);
    if (!p->ship_ms) {
        p->ship_ms = ship_ms;
        changed = true;
    }
    if (!o->ship_ms) {
        o->ship_ms = ship_ms;
        changed = true;
    }
    changed |= scsim_doc_int(o->doc, "ShippingStatus", 3);
    if (changed)
        o->updated_ms = scsim_now_ms(s);
}

static struct scsim_order *scsim_body_order(struct scsim *s,
                                            const cJSON *body,
                                            struct simhttp_resp *resp)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(body, "OrderID");
    struct scsim_order *o = NULL;

    if (cJSON_IsNumber(id))
        o = scsim_order_find(s, (int64_t)id->valuedouble);
    if (!o)
        scsim_msg(resp, 400, cJSON_IsNumber(id) ? "Order not found."
                                                : "OrderID is required.");
    return o;
}

static void scsim_shipping_status(struct scsim *s, const cJSON *body,
                                  struct simhttp_resp *resp)
{
    struct scsim_order *o = scsim_body_order(s, body, resp);
    const char *carrier = jsonio_str_or(body, "ShippingCarrier", NULL);
    const char *service = jsonio_str_or(body, "ShippingService", NULL);
    char why[128];
    int64_t ms;

    if (!o)
        return;
    if (!scsim_ship_date_ok(s, o, body, &ms, why, sizeof(why))) {
        scsim_msg(resp, 400, why);
        return;
    }
    if (!o->n_pkgs) {
        scsim_msg(resp, 400, "Order has no package.");
        return;
    }
    if (scsim_doc_str(o->doc, "ShippingCarrier", carrier) |
        scsim_doc_str(o->doc, "ShippingService", service))
        o->updated_ms = scsim_now_ms(s);
    scsim_ship_pkg(s, o, &o->pkgs[0],
                   jsonio_str_or(body, "TrackingNumber", NULL), carrier,
                   service, ms);
    simhttp_reply(resp, 200, NULL);
}

static void scsim_single_package(struct scsim *s,
                                 const struct simhttp_req *req,
                                 const cJSON *body,
                                 struct simhttp_resp *resp)
{
    struct scsim_order *o = scsim_body_order(s, body, resp);
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(body, "PackageID");
    struct scsim_pkg *p = NULL;
    char why[128];
    int64_t ms;

    if (!o)
        return;
    if (!cJSON_IsNumber(pid)) {
        scsim_breach(s, req->method, req->path,
                     "SinglePackage without PackageID overwrites package 1");
        p = o->n_pkgs ? &o->pkgs[0] : NULL;
    }
    for (size_t i = 0; !p && cJSON_IsNumber(pid) && i < o->n_pkgs; i++) {
        if (o->pkgs[i].id == (int64_t)pid->valuedouble)
            p = &o->pkgs[i];
    }
    if (!p) {
        scsim_msg(resp, 400, "PackageID is not a package of this order.");
        return;
    }
    if (!scsim_ship_date_ok(s, o, body, &ms, why, sizeof(why))) {
        scsim_msg(resp, 400, why);
        return;
    }
    scsim_ship_pkg(s, o, p, jsonio_str_or(body, "TrackingNumber", NULL),
                   jsonio_str_or(body, "CarrierName", NULL),
                   jsonio_str_or(body, "ShippingMethod", NULL), ms);
    simhttp_reply(resp, 200, NULL);
}

static void scsim_add_note(struct scsim *s, const struct simhttp_req *req,
                           const cJSON *body, struct simhttp_resp *resp)
{
    struct scsim_order *o = scsim_path_order(s, req->path,
                                             "/rest/api/Orders/");
    const char *msg = jsonio_str_or(body, "Message", "");
    struct scsim_note *notes, *n;

    if (!o) {
        scsim_msg(resp, 400, "Order not found.");
        return;
    }
    if (!msg[0]) {
        scsim_msg(resp, 400, "Message is required.");
        return;
    }
    notes = mem_realloc(o->notes, (o->n_notes + 1) * sizeof(*notes));
    if (!notes) {
        scsim_msg(resp, 500, "out of memory");
        return;
    }
    o->notes = notes;
    n = &notes[o->n_notes];
    n->message = mem_strdup(msg);
    if (!n->message) {
        scsim_msg(resp, 500, "out of memory");
        return;
    }
    n->category = (int)jsonio_i64_or(body, "Category", 0);
    n->created_ms = scsim_now_ms(s);
    o->n_notes++;
    o->updated_ms = n->created_ms;
    simhttp_reply(resp, 200, NULL);
}

bool scsim_orders_route(struct scsim *s, const struct scsim_op *op,
                        const struct simhttp_req *req, const cJSON *body,
                        struct simhttp_resp *resp)
{
    const char *k = op->key;

    if (strcmp(k, "GET /api/Orders") == 0)
        scsim_list(s, req, resp);
    else if (strcmp(k, "GET /api/Orders/{id}") == 0)
        scsim_single(s, req, resp);
    else if (strcmp(k, "PUT /api/Orders/SetExported") == 0)
        scsim_set_exported(s, body, resp);
    else if (strcmp(k, "GET /api/Orders/Packages") == 0)
        scsim_packages(s, req, resp);
    else if (strcmp(k, "PUT /api/Orders/ShippingStatus") == 0)
        scsim_shipping_status(s, body, resp);
    else if (strcmp(k, "PUT /api/Orders/ShippingStatus/SinglePackage") == 0)
        scsim_single_package(s, req, body, resp);
    else if (strcmp(k, "POST /api/Orders/{orderID}/Notes") == 0)
        scsim_add_note(s, req, body, resp);
    else
        return false;
    return true;
}
