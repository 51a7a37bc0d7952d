/* SPDX-License-Identifier: MIT */
/* The Sellercloud simulator's product, catalog and inventory routes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonio.h"
#include "mem.h"
#include "scsim.h"

#define SCSIM_NAME_MAX 250            /* characters */
#define SCSIM_LONG_DESC_MAX 65536     /* bytes of UTF-8 */

static size_t scsim_utf8_chars(const char *s)
{
    size_t n = 0;

    for (; *s; s++) {
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    }
    return n;
}

/* 12 to 14 digits whose last is the GS1 check digit of the others. */
static bool scsim_upc_ok(const char *upc)
{
    size_t len = strlen(upc);
    int sum = 0;

    if (len < 12 || len > 14)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (upc[i] < '0' || upc[i] > '9')
            return false;
    }
    for (size_t i = 0; i + 1 < len; i++) {
        int d = upc[len - 2 - i] - '0';

        sum += (i % 2 == 0) ? 3 * d : d;
    }
    return (10 - sum % 10) % 10 == upc[len - 1] - '0';
}

/* The simulator's own limits on a create or BasicInfo body. */
static const char *scsim_product_limits(const cJSON *body)
{
    const char *name = jsonio_str_or(body, "ProductName", NULL);
    const char *upc = jsonio_str_or(body, "UPC", NULL);
    const char *ld = jsonio_str_or(body, "LongDescription", NULL);

    if (name && scsim_utf8_chars(name) > SCSIM_NAME_MAX)
        return "ProductName is longer than 250 characters.";
    if (upc && upc[0] && !scsim_upc_ok(upc))
        return "UPC is not 12 to 14 digits with a valid check digit.";
    if (ld && strlen(ld) > SCSIM_LONG_DESC_MAX)
        return "LongDescription is longer than 64 KiB.";
    return NULL;
}

static void scsim_doc_set(cJSON *doc, const char *key, cJSON *v)
{
    if (!v)
        return;
    if (cJSON_GetObjectItemCaseSensitive(doc, key))
        cJSON_ReplaceItemInObjectCaseSensitive(doc, key, v);
    else
        cJSON_AddItemToObject(doc, key, v);
}

static void scsim_doc_copy(cJSON *doc, const char *dkey, const cJSON *body,
                           const char *skey)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, skey);

    if (v && !cJSON_IsNull(v))
        scsim_doc_set(doc, dkey, cJSON_Duplicate(v, 1));
}

static void scsim_catalog(struct scsim *s, const struct simhttp_req *req,
                          struct simhttp_resp *resp)
{
    const char *sku = MHD_lookup_connection_value(req->conn,
                                                  MHD_GET_ARGUMENT_KIND,
                                                  "model.sKU");
    const char *v;
    long page = 1, size = SCSIM_PAGE_MAX, n = 0;
    cJSON *doc, *items;

    v = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
                                    "model.pageNumber");
    if (v)
        page = strtol(v, NULL, 10);
    v = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
                                    "model.pageSize");
    if (v)
        size = strtol(v, NULL, 10);
    if (page < 1 || size < 1 || size > SCSIM_PAGE_MAX) {
        scsim_msg(resp, 400, "pageSize must be 1 to 50, pageNumber >= 1");
        return;
    }
    doc = cJSON_CreateObject();
    items = cJSON_AddArrayToObject(doc, "Items");
    for (size_t i = 0; items && i < s->n_products; i++) {
        if (sku && strcmp(s->products[i]->sku, sku) != 0)
            continue;
        if (n >= (page - 1) * size && n < page * size)
            cJSON_AddItemToArray(items,
                                 scsim_render_product(s, s->products[i],
                                                      false));
        n++;
    }
    cJSON_AddNumberToObject(doc, "TotalResults", (double)n);
    scsim_send_json(resp, 200, doc);
}

/* Makes a product record from a create body (or a control seed). */
static struct scsim_product *scsim_product_new(const char *sku)
{
    struct scsim_product *p = mem_calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    p->sku = mem_strdup(sku);
    p->doc = cJSON_CreateObject();
    p->inv = cJSON_CreateObject();
    if (!p->sku || !p->doc || !p->inv ||
        !cJSON_AddArrayToObject(p->doc, "CustomColumns")) {
        scsim_product_free(p);
        return NULL;
    }
    return p;
}

static void scsim_create(struct scsim *s, const cJSON *body,
                         struct simhttp_resp *resp)
{
    const char *sku = jsonio_str_or(body, "ProductSKU", "");
    const char *bad = scsim_product_limits(body);
    struct scsim_product *p;
    cJSON *answer;

    if (!sku[0])
        bad = "ProductSKU is required.";
    else if (scsim_product_find(s, sku))
        bad = "A product with this SKU already exists.";
    if (bad) {
        scsim_msg(resp, 400, bad);
        return;
    }
    p = scsim_product_new(sku);
    if (!p || scsim_product_insert(s, p)) {
        scsim_product_free(p);
        scsim_msg(resp, 500, "cannot store the product");
        return;
    }
    scsim_doc_copy(p->doc, "ProductName", body, "ProductName");
    scsim_doc_copy(p->doc, "ProductType", body, "ProductTypeName");
    scsim_doc_copy(p->doc, "CompanyID", body, "CompanyId");
    scsim_doc_copy(p->doc, "SitePrice", body, "DefaultPrice");
    scsim_doc_copy(p->doc, "SiteCost", body, "SiteCost");
    scsim_doc_copy(p->doc, "UPC", body, "UPC");
    answer = cJSON_CreateString(sku);
    scsim_send_json(resp, 200, answer);
}

static struct scsim_product *scsim_body_product(struct scsim *s,
                                                const cJSON *body,
                                                struct simhttp_resp *resp)
{
    const char *sku = jsonio_str_or(body, "ProductID", "");
    struct scsim_product *p = scsim_product_find(s, sku);

    if (!p)
        scsim_msg(resp, 400, "Product not found.");
    return p;
}

static void scsim_basic_info(struct scsim *s, const cJSON *body,
                             struct simhttp_resp *resp)
{
    struct scsim_product *p = scsim_body_product(s, body, resp);
    const char *bad;
    const cJSON *f;

    if (!p)
        return;
    bad = scsim_product_limits(body);
    if (bad) {
        scsim_msg(resp, 400, bad);
        return;
    }
    cJSON_ArrayForEach(f, body) {
        if (strcmp(f->string, "ProductID") != 0)
            scsim_doc_copy(p->doc, f->string, body, f->string);
    }
    simhttp_reply(resp, 200, NULL);
}

static void scsim_set_column(struct scsim_product *p, const char *name,
                             const cJSON *value)
{
    cJSON *cols = cJSON_GetObjectItemCaseSensitive(p->doc, "CustomColumns");
    cJSON *c, *v = cJSON_Duplicate(value, 1);

    if (!v)
        v = cJSON_CreateNull();
    cJSON_ArrayForEach(c, cols) {
        if (strcmp(jsonio_str_or(c, "ColumnName", ""), name) == 0) {
            scsim_doc_set(c, "Value", v);
            return;
        }
    }
    c = cJSON_CreateObject();
    if (!c) {
        cJSON_Delete(v);
        return;
    }
    cJSON_AddStringToObject(c, "ColumnName", name);
    cJSON_AddItemToObject(c, "Value", v);
    cJSON_AddItemToArray(cols, c);
}

static void scsim_custom_columns(struct scsim *s, const cJSON *body,
                                 struct simhttp_resp *resp)
{
    struct scsim_product *p = scsim_body_product(s, body, resp);
    const cJSON *c;

    if (!p)
        return;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(body,
                                                         "CustomColumns"))
        scsim_set_column(p, jsonio_str_or(c, "ColumnName", ""),
                         cJSON_GetObjectItemCaseSensitive(c, "Value"));
    simhttp_reply(resp, 200, NULL);
}

static void scsim_physical(struct scsim *s, const cJSON *body,
                           struct simhttp_resp *resp)
{
    struct scsim_product *p = scsim_body_product(s, body, resp);
    char wh[24];

    if (!p)
        return;
    (void)snprintf(wh, sizeof(wh), "%lld",
                   (long long)jsonio_i64_or(body, "WarehouseID", 1));
    scsim_doc_set(p->inv, wh,
                  cJSON_CreateNumber((double)jsonio_i64_or(body,
                                                           "PhysicalQty",
                                                           0)));
    simhttp_reply(resp, 200, NULL);
}

/* The obsolete per-SKU custom column routes: served, breach counted. */
static void scsim_obsolete_columns(struct scsim *s,
                                   const struct simhttp_req *req,
                                   const cJSON *body, bool put,
                                   struct simhttp_resp *resp)
{
    const char *prefix = "/rest/api/Products/";
    const char *sku = req->path + strlen(prefix);
    const char *end = strrchr(sku, '/');
    char buf[512];
    struct scsim_product *p;

    if (!end || (size_t)(end - sku) >= sizeof(buf)) {
        scsim_msg(resp, 400, "Product not found.");
        return;
    }
    memcpy(buf, sku, (size_t)(end - sku));
    buf[end - sku] = '\0';
    p = scsim_product_find(s, buf);
    if (!p) {
        scsim_msg(resp, 400, "Product not found.");
        return;
    }
    if (!put) {
        scsim_send_json(resp, 200, cJSON_Duplicate(
            cJSON_GetObjectItemCaseSensitive(p->doc, "CustomColumns"), 1));
        return;
    }
    scsim_set_column(p, jsonio_str_or(body, "ColumnName", ""),
                     cJSON_GetObjectItemCaseSensitive(body, "Value"));
    simhttp_reply(resp, 200, NULL);
}

static void scsim_get_columns(struct scsim *s, const struct simhttp_req *req,
                              struct simhttp_resp *resp)
{
    const char *sku = MHD_lookup_connection_value(req->conn,
                                                  MHD_GET_ARGUMENT_KIND,
                                                  "productID");
    struct scsim_product *p = scsim_product_find(s, sku ? sku : "");

    if (!p) {
        scsim_msg(resp, 400, "Product not found.");
        return;
    }
    scsim_send_json(resp, 200, cJSON_Duplicate(
        cJSON_GetObjectItemCaseSensitive(p->doc, "CustomColumns"), 1));
}

bool scsim_products_route(struct scsim *s, const struct scsim_op *op,
                          const struct simhttp_req *req, const cJSON *body,
                          struct simhttp_resp *resp)
{
    const char *k = op->key;

    if (strcmp(k, "GET /api/Catalog") == 0)
        scsim_catalog(s, req, resp);
    else if (strcmp(k, "POST /api/Products") == 0)
        scsim_create(s, body, resp);
    else if (strcmp(k, "PUT /api/Catalog/BasicInfo") == 0)
        scsim_basic_info(s, body, resp);
    else if (strcmp(k, "PUT /api/Products/CustomColumns") == 0)
        scsim_custom_columns(s, body, resp);
    else if (strcmp(k, "GET /api/Products/CustomColumns") == 0)
        scsim_get_columns(s, req, resp);
    else if (strcmp(k, "PUT /api/Inventory/SetPhysicalInventory") == 0)
        scsim_physical(s, body, resp);
    else if (strcmp(k, "PUT /api/Products/{id}/CustomColumns") == 0)
        scsim_obsolete_columns(s, req, body, true, resp);
    else if (strcmp(k, "GET /api/Products/{id}/CustomColumns") == 0)
        scsim_obsolete_columns(s, req, body, false, resp);
    else
        return false;
    return true;
}

/*
 * Seeds one product from the control API: catalog-read field names,
 * plus "PhysicalQty" and "WarehouseID". SCB_ECONFLICT if it exists.
 */
enum scb_err scsim_product_seed(struct scsim *s, const cJSON *spec,
                                const char **out_why)
{
    const char *sku = jsonio_str_or(spec, "ID", "");
    struct scsim_product *p;
    const cJSON *f;
    char wh[24];

    *out_why = "ID (the SKU) is required";
    if (!sku[0])
        return SCB_EINVAL;
    *out_why = "a product with this SKU exists";
    if (scsim_product_find(s, sku))
        return SCB_ECONFLICT;
    *out_why = "out of memory";
    p = scsim_product_new(sku);
    if (!p || scsim_product_insert(s, p)) {
        scsim_product_free(p);
        return SCB_ENOMEM;
    }
    cJSON_ArrayForEach(f, spec) {
        if (strcmp(f->string, "ID") && strcmp(f->string, "PhysicalQty") &&
            strcmp(f->string, "WarehouseID"))
            scsim_doc_copy(p->doc, f->string, spec, f->string);
    }
    (void)snprintf(wh, sizeof(wh), "%lld",
                   (long long)jsonio_i64_or(spec, "WarehouseID", 1));
    scsim_doc_set(p->inv, wh,
                  cJSON_CreateNumber((double)jsonio_i64_or(spec,
                                                           "PhysicalQty",
                                                           0)));
    return SCB_OK;
}
