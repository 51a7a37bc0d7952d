/* SPDX-License-Identifier: MIT */
/* The Sellercloud simulator's answers: one record, several shapes. */
#include <stdio.h>
#include <string.h>

#include "jsonio.h"
#include "scsim.h"

static void scsim_put_time(const struct scsim *s, cJSON *obj,
                           const char *key, int64_t ms)
{
    char text[32];

    if (!ms) {
        cJSON_AddNullToObject(obj, key);
        return;
    }
    scsim_fmt_local(ms, s->opts.tz_min, text);
    cJSON_AddStringToObject(obj, key, text);
}

static void scsim_copy(cJSON *dst, const char *dkey, const cJSON *src,
                       const char *skey)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, skey);
    cJSON *dup;

    if (!v)
        return;
    dup = cJSON_Duplicate(v, 1);
    if (dup)
        cJSON_AddItemToObject(dst, dkey, dup);
}

/* Tracking numbers of the packages, in package order. */
void scsim_order_tracking(const struct scsim_order *o, cJSON *arr)
{
    for (size_t i = 0; i < o->n_pkgs; i++) {
        if (o->pkgs[i].tracking && o->pkgs[i].tracking[0])
            cJSON_AddItemToArray(arr,
                                 cJSON_CreateString(o->pkgs[i].tracking));
    }
}

cJSON *scsim_render_list_item(const struct scsim *s,
                              const struct scsim_order *o)
{
    cJSON *it = cJSON_Duplicate(o->doc, 1);
    cJSON *all;
    const char *first = "";

    if (!it)
        return NULL;
    cJSON_AddNumberToObject(it, "ID", (double)o->id);
    cJSON_AddNumberToObject(it, "CompanyID", (double)o->company);
    scsim_put_time(s, it, "TimeOfOrder", o->time_of_order_ms);
    scsim_put_time(s, it, "CreatedOn", o->created_ms);
    scsim_put_time(s, it, "LastUpdated", o->updated_ms);
    scsim_put_time(s, it, "ShipDate", o->ship_ms);
    if (o->n_pkgs && o->pkgs[0].tracking)
        first = o->pkgs[0].tracking;
    cJSON_AddStringToObject(it, "TrackingNumber", first);
    all = cJSON_AddArrayToObject(it, "AllTrackingNumbers");
    if (all)
        scsim_order_tracking(o, all);
    return it;
}

cJSON *scsim_render_package(const struct scsim_pkg *p)
{
    cJSON *pk = cJSON_CreateObject();

    if (!pk)
        return NULL;
    cJSON_AddNumberToObject(pk, "ID", (double)p->id);
    cJSON_AddStringToObject(pk, "TrackingNumber",
                            p->tracking ? p->tracking : "");
    cJSON_AddStringToObject(pk, "TrackingNumberText",
                            p->tracking ? p->tracking : "");
    return pk;
}

static cJSON *scsim_single_items(const struct scsim_order *o)
{
    static const char *const keys[] = { "ID", "ProductID", "Qty",
                                        "LineTotal", "DisplayName",
                                        "SitePrice" };
    cJSON *arr = cJSON_CreateArray();
    const cJSON *line;

    if (!arr)
        return NULL;
    cJSON_ArrayForEach(line, cJSON_GetObjectItemCaseSensitive(o->doc,
                                                            "Items")) {
        cJSON *it = cJSON_CreateObject();

        if (!it)
            continue;
        cJSON_AddNumberToObject(it, "OrderID", (double)o->id);
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
            scsim_copy(it, keys[k], line, keys[k]);
        cJSON_AddItemToArray(arr, it);
    }
    return arr;
}

static void scsim_single_totals(const struct scsim_order *o, cJSON *one)
{
    cJSON *t = cJSON_AddObjectToObject(one, "TotalInfo");
    const cJSON *line;
    int64_t sub = 0;

    if (!t)
        return;
    cJSON_ArrayForEach(line, cJSON_GetObjectItemCaseSensitive(o->doc,
                                                            "Items"))
        sub += scsim_cents(line, "LineTotal");
    cJSON_AddItemToObject(t, "SubTotal", scsim_money(sub));
    scsim_copy(t, "GrandTotal", o->doc, "GrandTotal");
    scsim_copy(t, "Shipping", o->doc, "ShippingTotal");
    scsim_copy(t, "Tax", o->doc, "TaxTotal");
    scsim_copy(t, "Handling", o->doc, "HandlingFee");
    scsim_copy(t, "Insurance", o->doc, "InsuranceTotal");
    scsim_copy(t, "Discount", o->doc, "OrderDiscountsTotal");
    scsim_copy(t, "ShippingDiscount", o->doc, "ShippingDiscountsTotal");
}

static void scsim_single_details(const struct scsim *s,
                                 const struct scsim_order *o, cJSON *one)
{
    cJSON *d = cJSON_AddObjectToObject(one, "OrderDetails");
    cJSON *st = cJSON_AddObjectToObject(one, "Statuses");
    cJSON *sh = cJSON_AddObjectToObject(one, "ShippingDetails");

    if (!d || !st || !sh)
        return;
    cJSON_AddNumberToObject(d, "CompanyId", (double)o->company);
    scsim_copy(d, "OrderSource", o->doc, "OrderSource");
    scsim_copy(d, "OrderSourceOrderId", o->doc, "OrderSourceOrderID");
    scsim_copy(d, "CustomerEmail", o->doc, "CustomerEmail");
    scsim_put_time(s, d, "CreatedOn", o->created_ms);
    scsim_put_time(s, d, "OrderDate", o->time_of_order_ms);
    scsim_copy(st, "OrderStatus", o->doc, "StatusCode");
    scsim_copy(st, "PaymentStatus", o->doc, "PaymentStatus");
    scsim_copy(st, "ShippingStatus", o->doc, "ShippingStatus");
    scsim_copy(st, "DropshipStatus", o->doc, "Dropship");
    cJSON_AddBoolToObject(st, "IsExported", o->exported);
    scsim_copy(sh, "ShippingStatus", o->doc, "ShippingStatus");
    scsim_copy(sh, "Carrier", o->doc, "ShippingCarrier");
    scsim_copy(sh, "Service", o->doc, "ShippingService");
    scsim_copy(sh, "ShippingTotal", o->doc, "ShippingTotal");
    scsim_copy(sh, "ShippingDiscountsTotal", o->doc,
               "ShippingDiscountsTotal");
    scsim_put_time(s, sh, "ShipDate", o->ship_ms);
}

cJSON *scsim_render_single(const struct scsim *s, const struct scsim_order *o)
{
    cJSON *one = cJSON_CreateObject();
    cJSON *pk;

    if (!one)
        return NULL;
    cJSON_AddNumberToObject(one, "OrderID", (double)o->id);
    scsim_single_details(s, o, one);
    cJSON_AddItemToObject(one, "OrderItems", scsim_single_items(o));
    scsim_single_totals(o, one);
    pk = cJSON_AddArrayToObject(one, "OrderPackages");
    for (size_t i = 0; pk && i < o->n_pkgs; i++)
        cJSON_AddItemToArray(pk, scsim_render_package(&o->pkgs[i]));
    scsim_copy(one, "Payments", o->doc, "Payments");
    scsim_copy(one, "ShippingAddress", o->doc, "ShippingAddress");
    scsim_copy(one, "BillingAddress", o->doc, "BillingAddress");
    scsim_put_time(s, one, "LastUpdated", o->updated_ms);
    return one;
}

/* The control API's view: the list shape plus what only the sim knows. */
cJSON *scsim_render_state(const struct scsim *s, const struct scsim_order *o)
{
    cJSON *it = scsim_render_list_item(s, o);
    cJSON *arr, *x;

    if (!it)
        return NULL;
    cJSON_AddBoolToObject(it, "Exported", o->exported);
    arr = cJSON_AddArrayToObject(it, "Packages");
    for (size_t i = 0; arr && i < o->n_pkgs; i++) {
        x = scsim_render_package(&o->pkgs[i]);
        if (!x)
            continue;
        cJSON_AddStringToObject(x, "CarrierName",
                                o->pkgs[i].carrier ? o->pkgs[i].carrier : "");
        cJSON_AddStringToObject(x, "ShippingMethod",
                                o->pkgs[i].method ? o->pkgs[i].method : "");
        scsim_put_time(s, x, "ShipDate", o->pkgs[i].ship_ms);
        cJSON_AddItemToArray(arr, x);
    }
    arr = cJSON_AddArrayToObject(it, "Notes");
    for (size_t i = 0; arr && i < o->n_notes; i++) {
        x = cJSON_CreateObject();
        if (!x)
            continue;
        cJSON_AddStringToObject(x, "Message", o->notes[i].message);
        cJSON_AddNumberToObject(x, "Category", o->notes[i].category);
        scsim_put_time(s, x, "CreatedOn", o->notes[i].created_ms);
        cJSON_AddItemToArray(arr, x);
    }
    return it;
}

/* Units of 'sku' on open, unshipped orders: Sellercloud's reserve. */
static long long scsim_reserved(const struct scsim *s, const char *sku)
{
    long long n = 0;

    for (size_t i = 0; i < s->n_orders; i++) {
        const cJSON *doc = s->orders[i]->doc;
        const cJSON *line;
        int64_t st = jsonio_i64_or(doc, "StatusCode", 0);

        if ((st != 2 && st != 100 && st != 200) ||
            jsonio_i64_or(doc, "ShippingStatus", 0) == 3)
            continue;
        cJSON_ArrayForEach(line, cJSON_GetObjectItemCaseSensitive(doc,
                                                                "Items")) {
            if (strcmp(jsonio_str_or(line, "ProductID", ""), sku) == 0)
                n += jsonio_i64_or(line, "Qty", 0);
        }
    }
    return n;
}

cJSON *scsim_render_product(const struct scsim *s,
                            const struct scsim_product *p, bool state)
{
    cJSON *it = cJSON_Duplicate(p->doc, 1);
    const cJSON *w;
    long long phys = 0, res;

    if (!it)
        return NULL;
    cJSON_AddStringToObject(it, "ID", p->sku);
    cJSON_ArrayForEach(w, p->inv) phys += (long long)w->valuedouble;
    res = scsim_reserved(s, p->sku);
    cJSON_AddNumberToObject(it, "PhysicalQty", (double)phys);
    cJSON_AddNumberToObject(it, "ReservedQty", (double)res);
    cJSON_AddNumberToObject(it, "AggregateQty", (double)(phys - res));
    cJSON_AddNumberToObject(it, "InventoryAvailableQty", (double)(phys - res));
    if (state)
        cJSON_AddItemToObject(it, "Warehouses", cJSON_Duplicate(p->inv, 1));
    return it;
}
