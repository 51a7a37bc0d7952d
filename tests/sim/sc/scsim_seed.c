/* SPDX-License-Identifier: MIT */
/* The Sellercloud simulator's order seeding: explicit and generated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonio.h"
#include "mem.h"
#include "scsim.h"

#define SCSIM_GEN_MAX 100000
#define SCSIM_PKG_MAX 20

static const char *const scsim_first[] = { "Ada", "Ben", "Carla", "Dev",
                                           "Elena", "Farid", "Grace",
                                           "Hiro" };
static const char *const scsim_last[] = { "Lovelace", "Okafor", "Ruiz",
                                          "Patel", "Novak", "Haddad",
                                          "Hopper", "Tanaka" };
static const char *const scsim_city[][3] = {
    { "Austin", "TX", "78701" },  { "Denver", "CO", "80202" },
    { "Boston", "MA", "02108" },  { "Seattle", "WA", "98101" },
    { "Chicago", "IL", "60601" }, { "Miami", "FL", "33130" },
};

static const char *scsim_pick(const char *const *arr, size_t n, uint64_t *r)
{
    return arr[scsim_rand(r) % n];
}

static int64_t scsim_between(uint64_t *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(scsim_rand(r) % (uint64_t)(hi - lo + 1));
}

static cJSON *scsim_address(uint64_t *r, const char *first,
                            const char *last)
{
    cJSON *a = cJSON_CreateObject();
    size_t c = scsim_rand(r) % (sizeof(scsim_city) / sizeof(scsim_city[0]));
    char street[64], phone[32], email[96];

    if (!a)
        return NULL;
    (void)snprintf(street, sizeof(street), "%d Market St",
                   (int)scsim_between(r, 1, 9999));
    (void)snprintf(phone, sizeof(phone), "555-%04d",
                   (int)scsim_between(r, 0, 9999));
    (void)snprintf(email, sizeof(email), "%s.%s@example.com", first, last);
    cJSON_AddStringToObject(a, "FirstName", first);
    cJSON_AddStringToObject(a, "LastName", last);
    cJSON_AddStringToObject(a, "CompanyName", "");
    cJSON_AddStringToObject(a, "StreetLine1", street);
    cJSON_AddStringToObject(a, "StreetLine2", "");
    cJSON_AddStringToObject(a, "City", scsim_city[c][0]);
    cJSON_AddStringToObject(a, "StateCode", scsim_city[c][1]);
    cJSON_AddStringToObject(a, "PostalCode", scsim_city[c][2]);
    cJSON_AddStringToObject(a, "CountryCode", "US");
    cJSON_AddStringToObject(a, "PhoneNumber", phone);
    cJSON_AddStringToObject(a, "EmailAddress", email);
    return a;
}

static int64_t scsim_abs(int64_t v)
{
    return v < 0 ? -v : v;
}

/* GrandTotal by the rule of ddi.md ("Money and totals"). */
static int64_t scsim_formula(const cJSON *doc)
{
    const cJSON *line;
    int64_t t = 0;

    cJSON_ArrayForEach(line, cJSON_GetObjectItemCaseSensitive(doc, "Items"))
        t += scsim_cents(line, "LineTotal");
    t += scsim_cents(doc, "ShippingTotal") + scsim_cents(doc, "HandlingFee") +
         scsim_cents(doc, "InsuranceTotal") + scsim_cents(doc, "TaxTotal");
    t -= scsim_abs(scsim_cents(doc, "OrderDiscountsTotal"));
    t -= scsim_abs(scsim_cents(doc, "ShippingDiscountsTotal"));
    return t;
}

static void scsim_set(cJSON *doc, const char *key, cJSON *v)
{
    if (!v)
        return;
    if (cJSON_GetObjectItemCaseSensitive(doc, key))
        cJSON_ReplaceItemInObjectCaseSensitive(doc, key, v);
    else
        cJSON_AddItemToObject(doc, key, v);
}

void scsim_recompute_total(cJSON *doc)
{
    scsim_set(doc, "GrandTotal", scsim_money(scsim_formula(doc)));
}

static void scsim_default(cJSON *doc, const char *key, cJSON *v)
{
    if (cJSON_GetObjectItemCaseSensitive(doc, key))
        cJSON_Delete(v);
    else if (v)
        cJSON_AddItemToObject(doc, key, v);
}

/* Takes a time field out of 'doc' into *ms; false if it is malformed. */
static bool scsim_take_time(struct scsim *s, cJSON *doc, const char *key,
                            int64_t *ms)
{
    cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(doc, key);
    bool ok = true;

    if (cJSON_IsString(v))
        ok = scsim_parse_time(v->valuestring, s->opts.tz_min, ms);
    else if (v && !cJSON_IsNull(v))
        ok = false;
    cJSON_Delete(v);
    return ok;
}

enum scb_err scsim_seed_apply_times(struct scsim *s, cJSON *doc,
                                    struct scsim_order *o, char *why,
                                    size_t why_len)
{
    if (!scsim_take_time(s, doc, "CreatedOn", &o->created_ms) ||
        !scsim_take_time(s, doc, "TimeOfOrder", &o->time_of_order_ms) ||
        !scsim_take_time(s, doc, "LastUpdated", &o->updated_ms) ||
        !scsim_take_time(s, doc, "ShipDate", &o->ship_ms)) {
        (void)snprintf(why, why_len, "a date-time field is malformed");
        return SCB_EINVAL;
    }
    return SCB_OK;
}

static void scsim_default_lines(struct scsim *s, struct scsim_order *o)
{
    cJSON *items = cJSON_GetObjectItemCaseSensitive(o->doc, "Items");
    cJSON *line;

    if (!items) {
        items = cJSON_AddArrayToObject(o->doc, "Items");
        line = cJSON_CreateObject();
        if (!items || !line) {
            cJSON_Delete(line);
            return;
        }
        cJSON_AddStringToObject(line, "ProductID", "SKU-1");
        cJSON_AddNumberToObject(line, "Qty", 1);
        cJSON_AddItemToObject(line, "LineTotal", scsim_money(1000));
        cJSON_AddStringToObject(line, "DisplayName", "Sample product");
        cJSON_AddItemToArray(items, line);
    }
    cJSON_ArrayForEach(line, items) {
        if (!cJSON_IsObject(line))
            continue;
        scsim_default(line, "ID", cJSON_CreateNumber(
                                      (double)s->next_line_id++));
        scsim_set(line, "OrderID", cJSON_CreateNumber((double)o->id));
        scsim_default(line, "DisplayName", cJSON_CreateString(
            jsonio_str_or(line, "ProductID", "")));
    }
}

static void scsim_default_payment(struct scsim *s, struct scsim_order *o)
{
    cJSON *pays, *p;
    char ref[48];

    if (cJSON_GetObjectItemCaseSensitive(o->doc, "Payments"))
        return;
    pays = cJSON_AddArrayToObject(o->doc, "Payments");
    p = cJSON_CreateObject();
    if (!pays || !p) {
        cJSON_Delete(p);
        return;
    }
    (void)snprintf(ref, sizeof(ref), "TXN-%lld", (long long)o->id);
    cJSON_AddNumberToObject(p, "ID", (double)s->next_payment_id++);
    cJSON_AddStringToObject(p, "TransactionReferenceNumber", ref);
    cJSON_AddItemToObject(p, "PaidAmount", scsim_money(
        scsim_cents(o->doc, "GrandTotal")));
    cJSON_AddNumberToObject(p, "PaymentType", 2); /* Payment */
    cJSON_AddNumberToObject(p, "PaymentStatus", 0); /* Cleared */
    cJSON_AddItemToArray(pays, p);
}

static void scsim_defaults(struct scsim *s, struct scsim_order *o)
{
    static const char *const money[] = { "ShippingTotal", "HandlingFee",
                                         "InsuranceTotal", "TaxTotal",
                                         "OrderDiscountsTotal",
                                         "ShippingDiscountsTotal" };
    char src[32];
    uint64_t r = (uint64_t)o->id;

    (void)snprintf(src, sizeof(src), "SO-%lld", (long long)o->id);
    scsim_default(o->doc, "OrderSourceOrderID", cJSON_CreateString(src));
    scsim_default(o->doc, "OrderSource", cJSON_CreateNumber(4));
    scsim_default(o->doc, "StatusCode", cJSON_CreateNumber(2));
    scsim_default(o->doc, "PaymentStatus", cJSON_CreateNumber(30));
    scsim_default(o->doc, "ShippingStatus", cJSON_CreateNumber(1));
    scsim_default(o->doc, "Dropship", cJSON_CreateNumber(0));
    scsim_default(o->doc, "ShippingCarrier", cJSON_CreateString("UPS"));
    scsim_default(o->doc, "ShippingService", cJSON_CreateString("Ground"));
    scsim_default_lines(s, o);
    for (size_t i = 0; i < sizeof(money) / sizeof(money[0]); i++)
        scsim_default(o->doc, money[i], scsim_money(0));
    if (!cJSON_GetObjectItemCaseSensitive(o->doc, "GrandTotal"))
        scsim_recompute_total(o->doc);
    scsim_default_payment(s, o);
    scsim_default(o->doc, "BillingAddress",
                  scsim_address(&r, scsim_first[r % 8], scsim_last[r % 7]));
    scsim_default(o->doc, "ShippingAddress",
                  cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(
                                      o->doc, "BillingAddress"), 1));
}

static enum scb_err scsim_take_packages(struct scsim *s,
                                        struct scsim_order *o,
                                        const cJSON *pk)
{
    size_t n = 1;

    if (cJSON_IsNumber(pk))
        n = (size_t)(pk->valuedouble < 1 ? 1 : pk->valuedouble);
    else if (cJSON_IsArray(pk) && cJSON_GetArraySize(pk) > 0)
        n = (size_t)cJSON_GetArraySize(pk);
    if (n > SCSIM_PKG_MAX)
        return SCB_EINVAL;
    o->pkgs = mem_calloc(n, sizeof(*o->pkgs));
    if (!o->pkgs)
        return SCB_ENOMEM;
    o->n_pkgs = n;
    for (size_t i = 0; i < n; i++) {
        const cJSON *e = cJSON_IsArray(pk) ? cJSON_GetArrayItem(pk, (int)i)
                                           : NULL;
        const char *t = jsonio_str_or(e, "TrackingNumber", NULL);

        o->pkgs[i].id = jsonio_i64_or(e, "ID", s->next_pkg_id);
        if (o->pkgs[i].id >= s->next_pkg_id)
            s->next_pkg_id = o->pkgs[i].id + 1;
        o->pkgs[i].tracking = t ? mem_strdup(t) : NULL;
        t = jsonio_str_or(e, "CarrierName", NULL);
        o->pkgs[i].carrier = t ? mem_strdup(t) : NULL;
        t = jsonio_str_or(e, "ShippingMethod", NULL);
        o->pkgs[i].method = t ? mem_strdup(t) : NULL;
    }
    return SCB_OK;
}

/* A shipped order's first package carries its TrackingNumber. */
static void scsim_seed_shipping(struct scsim_order *o, const char *tracking,
                                int64_t now)
{
    if (jsonio_i64_or(o->doc, "ShippingStatus", 0) != 3)
        return;
    if (!o->ship_ms)
        o->ship_ms = now;
    for (size_t i = 0; i < o->n_pkgs; i++) {
        if (!o->pkgs[i].ship_ms)
            o->pkgs[i].ship_ms = o->ship_ms;
    }
    if (tracking && tracking[0] && o->n_pkgs && !o->pkgs[0].tracking)
        o->pkgs[0].tracking = mem_strdup(tracking);
}

/* Takes the simulator's own keys and the ids out of 'doc'. */
static enum scb_err scsim_seed_keys(struct scsim *s, struct scsim_order *o,
                                    cJSON **pk, char **tracking)
{
    cJSON *v;

    *pk = cJSON_DetachItemFromObjectCaseSensitive(o->doc, "Packages");
    v = cJSON_DetachItemFromObjectCaseSensitive(o->doc, "Exported");
    o->exported = cJSON_IsTrue(v);
    cJSON_Delete(v);
    v = cJSON_DetachItemFromObjectCaseSensitive(o->doc, "ID");
    o->id = cJSON_IsNumber(v) ? (int64_t)v->valuedouble : s->next_order_id;
    cJSON_Delete(v);
    v = cJSON_DetachItemFromObjectCaseSensitive(o->doc, "CompanyID");
    o->company = cJSON_IsNumber(v) ? (int64_t)v->valuedouble
                                   : s->opts.companies[0];
    cJSON_Delete(v);
    v = cJSON_DetachItemFromObjectCaseSensitive(o->doc, "TrackingNumber");
    *tracking = cJSON_IsString(v) ? mem_strdup(v->valuestring) : NULL;
    cJSON_Delete(v);
    cJSON_Delete(cJSON_DetachItemFromObjectCaseSensitive(
        o->doc, "AllTrackingNumbers"));
    return o->id > 0 && o->company > 0 ? SCB_OK : SCB_EINVAL;
}

enum scb_err scsim_seed_order(struct scsim *s, const cJSON *spec,
                              struct scsim_order **out_o, char *why,
                              size_t why_len)
{
    struct scsim_order *o = mem_calloc(1, sizeof(*o));
    cJSON *pk = NULL;
    char *tracking = NULL;
    int64_t now = scsim_now_ms(s);
    enum scb_err err = SCB_ENOMEM;

    (void)snprintf(why, why_len, "out of memory");
    if (!o || !cJSON_IsObject(spec) || !(o->doc = cJSON_Duplicate(spec, 1)))
        goto out;
    (void)snprintf(why, why_len, "ID and CompanyID must be positive");
    err = scsim_seed_keys(s, o, &pk, &tracking);
    if (!err)
        err = scsim_seed_apply_times(s, o->doc, o, why, why_len);
    if (!err && !scsim_swagger_check_def(s->sw, "MultipleOrderDataDto",
                                         o->doc, why, why_len))
        err = SCB_EINVAL;
    if (err)
        goto out;
    o->created_ms = o->created_ms ? o->created_ms : now;
    o->time_of_order_ms = o->time_of_order_ms ? o->time_of_order_ms
                                              : o->created_ms;
    o->updated_ms = o->updated_ms ? o->updated_ms : now;
    scsim_defaults(s, o);
    (void)snprintf(why, why_len, "bad Packages");
    err = scsim_take_packages(s, o, pk);
    if (!err)
        scsim_seed_shipping(o, tracking, now);
out:
    cJSON_Delete(pk);
    mem_free(tracking);
    if (err)
        scsim_order_free(o);
    else
        *out_o = o;
    return err;
}

/* Generation parameters, read once from the request. */
struct scsim_gen {
    uint64_t rng;
    const cJSON *params;
    const cJSON *companies;
    const cJSON *channels;
    const cJSON *skus;
    double broken, charged, inprocess, shipped, dropship, extra_pkg,
        empty_ref;
};

static double scsim_share(const cJSON *p, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, key);

    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1)
        return dflt;
    return v->valuedouble;
}

static const cJSON *scsim_pick_item(const cJSON *arr, uint64_t *r)
{
    int n = cJSON_GetArraySize(arr);

    return n > 0 ? cJSON_GetArrayItem(arr, (int)(scsim_rand(r) % (uint64_t)n))
                 : NULL;
}

/* A SKU from the request's list, else a stored product, else SKU-n. */
static const char *scsim_gen_sku(const struct scsim *s, struct scsim_gen *g,
                                 char buf[16])
{
    const cJSON *sku = scsim_pick_item(g->skus, &g->rng);

    if (cJSON_IsString(sku))
        return sku->valuestring;
    if (s->n_products)
        return s->products[scsim_rand(&g->rng) % s->n_products]->sku;
    (void)snprintf(buf, 16, "SKU-%d", (int)scsim_between(&g->rng, 1, 5));
    return buf;
}

static void scsim_gen_lines(const struct scsim *s, struct scsim_gen *g,
                            cJSON *spec)
{
    cJSON *items = cJSON_AddArrayToObject(spec, "Items");
    int64_t n = scsim_between(&g->rng, 1, 3);
    char buf[16];

    for (int64_t i = 0; items && i < n; i++) {
        const char *name = scsim_gen_sku(s, g, buf);
        int64_t qty = scsim_between(&g->rng, 1, 3);
        int64_t amount = qty * scsim_between(&g->rng, 500, 9999);
        cJSON *line = cJSON_CreateObject();
        char display[96];

        if (!line)
            return;
        /* Some line totals do not split evenly, to exercise the rule. */
        if (qty > 1 && scsim_uniform(&g->rng) < 0.2)
            amount += scsim_between(&g->rng, 1, qty - 1);
        (void)snprintf(display, sizeof(display), "Product %.64s", name);
        cJSON_AddStringToObject(line, "ProductID", name);
        cJSON_AddNumberToObject(line, "Qty", (double)qty);
        cJSON_AddItemToObject(line, "LineTotal", scsim_money(amount));
        cJSON_AddStringToObject(line, "DisplayName", display);
        cJSON_AddItemToObject(line, "SitePrice", scsim_money(amount / qty));
        cJSON_AddItemToArray(items, line);
    }
}

static void scsim_gen_money(struct scsim_gen *g, cJSON *spec)
{
    uint64_t *r = &g->rng;
    int64_t sub = 0, ship, total;
    const cJSON *line;

    cJSON_ArrayForEach(line, cJSON_GetObjectItemCaseSensitive(spec, "Items"))
        sub += scsim_cents(line, "LineTotal");
    ship = scsim_uniform(r) < 0.3 ? 0 : scsim_between(r, 499, 1599);
    cJSON_AddItemToObject(spec, "ShippingTotal", scsim_money(ship));
    cJSON_AddItemToObject(spec, "HandlingFee",
                          scsim_money(scsim_uniform(r) < 0.7 ? 0 : 150));
    cJSON_AddItemToObject(spec, "InsuranceTotal",
                          scsim_money(scsim_uniform(r) < 0.9 ? 0 : 200));
    cJSON_AddItemToObject(spec, "TaxTotal",
                          scsim_money((sub * 825 + 5000) / 10000));
    cJSON_AddItemToObject(spec, "OrderDiscountsTotal", scsim_money(
        scsim_uniform(r) < 0.8 ? 0 : -scsim_between(r, 100, 1000)));
    cJSON_AddItemToObject(spec, "ShippingDiscountsTotal", scsim_money(
        ship && scsim_uniform(r) < 0.1 ? ship : 0));
    total = scsim_formula(spec);
    if (scsim_uniform(r) < g->broken)
        total += scsim_between(r, 100, 500); /* gift wrap, say */
    cJSON_AddItemToObject(spec, "GrandTotal", scsim_money(total));
}

static void scsim_gen_status(struct scsim_gen *g, cJSON *spec)
{
    static const int other_status[] = { 1, 3, 100, 200, -1, 999 };
    static const int other_pay[] = { 10, 20, 40 };
    uint64_t *r = &g->rng;
    int st = 2, pay = 30, ship = 1;

    if (scsim_uniform(r) >= g->inprocess)
        st = other_status[scsim_rand(r) % 6];
    if (scsim_uniform(r) >= g->charged)
        pay = other_pay[scsim_rand(r) % 3];
    if (scsim_uniform(r) < g->shipped)
        ship = 3;
    cJSON_AddNumberToObject(spec, "StatusCode",
                            (double)jsonio_i64_or(g->params, "StatusCode",
                                                  st));
    cJSON_AddNumberToObject(spec, "PaymentStatus", (double)jsonio_i64_or(
        g->params, "PaymentStatus", pay));
    cJSON_AddNumberToObject(spec, "ShippingStatus", (double)jsonio_i64_or(
        g->params, "ShippingStatus", ship));
    cJSON_AddNumberToObject(spec, "Dropship",
                            scsim_uniform(r) < g->dropship ? 1 : 0);
}

static void scsim_gen_parties(struct scsim_gen *g, cJSON *spec,
                              int64_t id, int64_t channel)
{
    uint64_t *r = &g->rng;
    const char *first = scsim_pick(scsim_first, 8, r);
    const char *last = scsim_pick(scsim_last, 8, r);
    cJSON *pays = cJSON_AddArrayToObject(spec, "Payments");
    cJSON *p = cJSON_CreateObject();
    char ref[48], src[48];

    (void)snprintf(src, sizeof(src), "%lld-%07lld", (long long)channel,
                   (long long)scsim_between(r, 0, 9999999));
    cJSON_AddStringToObject(spec, "OrderSourceOrderID", src);
    cJSON_AddStringToObject(spec, "FirstName", first);
    cJSON_AddStringToObject(spec, "LastName", last);
    cJSON_AddItemToObject(spec, "BillingAddress", scsim_address(r, first,
                                                                last));
    cJSON_AddItemToObject(spec, "ShippingAddress", scsim_address(r, first,
                                                                 last));
    if (!pays || !p) {
        cJSON_Delete(p);
        return;
    }
    (void)snprintf(ref, sizeof(ref), "TXN-%lld-%04lld", (long long)id,
                   (long long)scsim_between(r, 0, 9999));
    cJSON_AddNumberToObject(p, "ID", (double)id);
    cJSON_AddStringToObject(p, "TransactionReferenceNumber",
                            scsim_uniform(r) < g->empty_ref ? "" : ref);
    cJSON_AddItemToObject(p, "PaidAmount", scsim_money(
        scsim_cents(spec, "GrandTotal")));
    cJSON_AddNumberToObject(p, "PaymentType", 2); /* Payment */
    cJSON_AddNumberToObject(p, "PaymentStatus", 0); /* Cleared */
    cJSON_AddItemToArray(pays, p);
}

static cJSON *scsim_gen_spec(struct scsim *s, struct scsim_gen *g,
                             int64_t now)
{
    cJSON *spec = cJSON_CreateObject();
    const cJSON *c = scsim_pick_item(g->companies, &g->rng);
    static const int64_t channels[] = { 4, 4, 15, 1, 6, 42 };
    const cJSON *ch = scsim_pick_item(g->channels, &g->rng);
    int64_t channel = cJSON_IsNumber(ch) ? (int64_t)ch->valuedouble
                                         : channels[scsim_rand(&g->rng) % 6];
    char created[32];

    if (!spec)
        return NULL;
    cJSON_AddNumberToObject(spec, "CompanyID", cJSON_IsNumber(c)
                            ? c->valuedouble : (double)s->opts.companies[0]);
    cJSON_AddNumberToObject(spec, "OrderSource", (double)channel);
    scsim_gen_lines(s, g, spec);
    scsim_gen_money(g, spec);
    scsim_gen_status(g, spec);
    scsim_gen_parties(g, spec, s->next_order_id, channel);
    /* Created up to two hours ago, read back in SIM_TZ. */
    scsim_fmt_local(now - scsim_between(&g->rng, 60, 7200) * 1000,
                    s->opts.tz_min, created);
    cJSON_AddStringToObject(spec, "CreatedOn", created);
    if (jsonio_i64_or(spec, "ShippingStatus", 0) == 3) {
        char t[32];

        (void)snprintf(t, sizeof(t), "1ZSIM%012llu",
                       (unsigned long long)(scsim_rand(&g->rng) %
                                            1000000000000ULL));
        cJSON_AddStringToObject(spec, "TrackingNumber", t);
    }
    if (scsim_uniform(&g->rng) < g->extra_pkg)
        cJSON_AddNumberToObject(spec, "Packages",
                                (double)scsim_between(&g->rng, 2, 3));
    return spec;
}

static void scsim_gen_init(struct scsim *s, const cJSON *p,
                           struct scsim_gen *g)
{
    memset(g, 0, sizeof(*g));
    g->params = p;
    g->rng = (uint64_t)jsonio_i64_or(p, "seed", (int64_t)(s->opts.seed ^
                                     (uint64_t)s->next_order_id));
    g->companies = cJSON_GetObjectItemCaseSensitive(p, "companies");
    g->channels = cJSON_GetObjectItemCaseSensitive(p, "channels");
    g->skus = cJSON_GetObjectItemCaseSensitive(p, "skus");
    g->broken = scsim_share(p, "broken_share", s->opts.broken_share);
    g->charged = scsim_share(p, "charged_share", 0.85);
    g->inprocess = scsim_share(p, "inprocess_share", 0.9);
    g->shipped = scsim_share(p, "shipped_share", 0.05);
    g->dropship = scsim_share(p, "dropship_share", 0.0);
    g->extra_pkg = scsim_share(p, "extra_package_share", 0.1);
    g->empty_ref = scsim_share(p, "empty_txref_share", 0.1);
}

enum scb_err scsim_seed_generate(struct scsim *s, const cJSON *params,
                                 cJSON *ids, char *why, size_t why_len)
{
    struct scsim_gen g;
    int64_t count = jsonio_i64_or(params, "count", 10);
    int64_t now = scsim_now_ms(s);
    enum scb_err err = SCB_OK;

    if (count < 1 || count > SCSIM_GEN_MAX) {
        (void)snprintf(why, why_len, "count must be 1 to 100000");
        return SCB_EINVAL;
    }
    scsim_gen_init(s, params, &g);
    for (int64_t i = 0; i < count && !err; i++) {
        cJSON *spec = scsim_gen_spec(s, &g, now);
        struct scsim_order *o = NULL;

        err = spec ? scsim_seed_order(s, spec, &o, why, why_len)
                   : SCB_ENOMEM;
        cJSON_Delete(spec);
        if (!err)
            err = scsim_order_insert(s, o);
        if (err) {
            scsim_order_free(o);
            break;
        }
        cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)o->id));
    }
    return err;
}
