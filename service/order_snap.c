/* SPDX-License-Identifier: MIT */
/* Snapshots of Sellercloud orders between a list call and their jobs. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jsonio.h"
#include "mem.h"
#include "order_snap.h"

#define SNAP_TTL_S 3600
#define SNAP_MAX_BYTES (4u << 20)

static bool add_str(cJSON *o, const char *k, const char *v)
{
    return cJSON_AddStringToObject(o, k, v) != NULL;
}

static bool add_num(cJSON *o, const char *k, double v)
{
    return cJSON_AddNumberToObject(o, k, v) != NULL;
}

/* Cents back to the JSON number Sellercloud sent; llround() undoes it. */
static bool add_money(cJSON *o, const char *k, int64_t cents)
{
    return add_num(o, k, (double)cents / 100.0);
}

static bool add_time(cJSON *o, const char *k, const struct sc_time *t)
{
    if (!t->present)
        return cJSON_AddNullToObject(o, k) != NULL;
    return add_str(o, k, t->raw);
}

static cJSON *address_json(const struct sc_address *a)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o && add_str(o, "FirstName", a->first_name) &&
              add_str(o, "LastName", a->last_name) &&
              add_str(o, "CompanyName", a->company_name) &&
              add_str(o, "StreetLine1", a->street_line1) &&
              add_str(o, "StreetLine2", a->street_line2) &&
              add_str(o, "City", a->city) &&
              add_str(o, "StateCode", a->state_code) &&
              add_str(o, "PostalCode", a->postal_code) &&
              add_str(o, "CountryCode", a->country_code) &&
              add_str(o, "PhoneNumber", a->phone_number) &&
              add_str(o, "EmailAddress", a->email_address);

    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static bool add_lines(cJSON *root, const struct sc_order *o)
{
    cJSON *items = cJSON_AddArrayToObject(root, "Items");

    for (size_t i = 0; items && i < o->n_lines; i++) {
        const struct sc_order_line *l = &o->lines[i];
        cJSON *it = cJSON_CreateObject();

        if (!it)
            return false;
        cJSON_AddItemToArray(items, it);
        if (!add_num(it, "ID", (double)l->id) ||
            !add_str(it, "ProductID", l->product_id) ||
            !add_num(it, "Qty", (double)l->qty) ||
            !add_money(it, "LineTotal", l->line_total) ||
            !add_str(it, "DisplayName", l->display_name))
            return false;
    }
    return items != NULL;
}

static bool add_tracking(cJSON *root, const struct sc_order *o)
{
    cJSON *all = cJSON_AddArrayToObject(root, "AllTrackingNumbers");
    cJSON *pays = cJSON_AddArrayToObject(root, "Payments");
    cJSON *pay = cJSON_CreateObject();

    if (!all || !pays || !pay) {
        cJSON_Delete(pay);
        return false;
    }
    cJSON_AddItemToArray(pays, pay);
    if (!add_str(pay, "TransactionReferenceNumber", o->payment_ref))
        return false;
    for (size_t i = 0; i < o->n_all_tracking; i++) {
        cJSON *s = cJSON_CreateString(o->all_tracking[i].no);

        if (!s)
            return false;
        cJSON_AddItemToArray(all, s);
    }
    return add_str(root, "TrackingNumber", o->tracking_number);
}

static bool add_scalars(cJSON *r, const struct sc_order *o)
{
    return add_num(r, "ID", (double)o->id) &&
           add_num(r, "CompanyID", (double)o->company_id) &&
           add_num(r, "OrderSource", o->order_source) &&
           add_str(r, "OrderSourceOrderID", o->order_source_order_id) &&
           add_num(r, "StatusCode", o->status_code) &&
           add_num(r, "PaymentStatus", o->payment_status) &&
           add_num(r, "ShippingStatus", o->shipping_status) &&
           add_num(r, "Dropship", o->dropship) &&
           add_time(r, "TimeOfOrder", &o->time_of_order) &&
           add_time(r, "LastUpdated", &o->last_updated) &&
           add_time(r, "CreatedOn", &o->created_on) &&
           add_time(r, "ShipDate", &o->ship_date) &&
           add_money(r, "GrandTotal", o->grand_total) &&
           add_money(r, "ShippingTotal", o->shipping_total) &&
           add_money(r, "HandlingFee", o->handling_fee) &&
           add_money(r, "InsuranceTotal", o->insurance_total) &&
           add_money(r, "TaxTotal", o->tax_total) &&
           add_money(r, "OrderDiscountsTotal", o->order_discounts_total) &&
           add_money(r, "ShippingDiscountsTotal",
                     o->shipping_discounts_total) &&
           add_str(r, "ShippingCarrier", o->shipping_carrier) &&
           add_str(r, "ShippingService", o->shipping_service);
}

cJSON *order_snap_to_json(const struct sc_order *o)
{
    cJSON *r = cJSON_CreateObject();
    cJSON *bill = address_json(&o->billing);
    cJSON *ship = address_json(&o->shipping);

    if (!r || !bill || !ship) {
        cJSON_Delete(bill);
        cJSON_Delete(ship);
        cJSON_Delete(r);
        return NULL;
    }
    cJSON_AddItemToObject(r, "BillingAddress", bill);
    cJSON_AddItemToObject(r, "ShippingAddress", ship);
    if (!add_scalars(r, o) || !add_lines(r, o) || !add_tracking(r, o)) {
        cJSON_Delete(r);
        return NULL;
    }
    return r;
}

enum scb_err order_snap_put(struct store *st, const struct sc_order *o,
                            int64_t at_ms)
{
    cJSON *j = order_snap_to_json(o);
    char *text = j ? jsonio_print(j) : NULL;
    struct buf key;
    char at[24];
    redisReply *r = NULL;
    enum scb_err err = text ? SCB_OK : SCB_ENOMEM;

    buf_init(&key, 256);
    if (!err)
        err = store_key(st, &key, "snap:%" PRId64, o->id);
    snprintf(at, sizeof(at), "%" PRId64, at_ms);
    if (!err)
        err = store_cmd(st, &r, "HSET %s at %s json %s", key.data, at, text);
    if (r)
        freeReplyObject(r);
    r = NULL;
    if (!err)
        err = store_cmd(st, &r, "EXPIRE %s %d", key.data, SNAP_TTL_S);
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    cJSON_free(text);
    cJSON_Delete(j);
    return err;
}

static enum scb_err snap_parse(const char *text, size_t len,
                               struct sc_order *out)
{
    cJSON *root = NULL;
    enum scb_err err = jsonio_parse(text, len, SNAP_MAX_BYTES, &root);

    if (!err)
        err = sc_order_parse(root, out, NULL);
    cJSON_Delete(root);
    return err;
}

enum scb_err order_snap_get(struct store *st, int64_t id,
                            struct sc_order *out, int64_t *out_at_ms)
{
    struct buf key;
    redisReply *r = NULL;
    enum scb_err err;

    buf_init(&key, 256);
    err = store_key(st, &key, "snap:%" PRId64, id);
    if (!err)
        err = store_cmd(st, &r, "HMGET %s at json", key.data);
    if (!err && (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                 r->element[0]->type != REDIS_REPLY_STRING ||
                 r->element[1]->type != REDIS_REPLY_STRING))
        err = SCB_ENOTFOUND;
    if (!err)
        err = snap_parse(r->element[1]->str, r->element[1]->len, out);
    if (!err)
        *out_at_ms = strtoll(r->element[0]->str, NULL, 10);
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}

static enum scb_err pending_key(struct store *st, int64_t company,
                                struct buf *key)
{
    return store_key(st, key, "import:pending:%" PRId64, company);
}

enum scb_err order_snap_announce(struct store *st, int64_t company,
                                 int64_t id, int64_t at_ms)
{
    return order_snap_announce_many(st, company, &id, 1, at_ms);
}

enum scb_err order_snap_announce_many(struct store *st, int64_t company,
                                      const int64_t *ids, size_t n,
                                      int64_t at_ms)
{
    struct buf key;
    char at[24], (*nums)[24] = NULL;
    const char **argv = NULL;
    redisReply *r = NULL;
    enum scb_err err = SCB_OK;

    if (n == 0)
        return SCB_OK;
    if (n > 500)
        return SCB_EINVAL;
    buf_init(&key, 256);
    nums = mem_calloc(n, sizeof(*nums));
    argv = mem_calloc(3 + 2 * n, sizeof(*argv));
    if (!nums || !argv)
        err = SCB_ENOMEM;
    if (!err)
        err = pending_key(st, company, &key);
    if (err)
        goto out;
    snprintf(at, sizeof(at), "%" PRId64, at_ms);
    argv[0] = "ZADD";
    argv[1] = key.data;
    argv[2] = "GT";
    for (size_t i = 0; i < n; i++) {
        snprintf(nums[i], sizeof(nums[i]), "%" PRId64, ids[i]);
        argv[3 + 2 * i] = at;
        argv[4 + 2 * i] = nums[i];
    }
    err = store_cmd_argv(st, &r, (int)(3 + 2 * n), argv, NULL);

out:
    if (r)
        freeReplyObject(r);
    mem_free(argv);
    mem_free(nums);
    buf_release(&key);
    return err;
}

enum scb_err order_snap_pending_at(struct store *st, int64_t company,
                                   int64_t id, int64_t *out_at_ms)
{
    struct buf key;
    redisReply *r = NULL;
    enum scb_err err;

    buf_init(&key, 256);
    err = pending_key(st, company, &key);
    if (!err)
        err = store_cmd(st, &r, "ZSCORE %s %" PRId64, key.data, id);
    if (!err)
        *out_at_ms = r->type == REDIS_REPLY_STRING
                         ? strtoll(r->str, NULL, 10)
                         : 0;
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}

enum scb_err order_snap_pending(struct store *st, int64_t company,
                                int64_t *out_ids, size_t max, size_t *out_n)
{
    struct buf key;
    redisReply *r = NULL;
    size_t n = 0;
    enum scb_err err;

    buf_init(&key, 256);
    err = pending_key(st, company, &key);
    if (!err && max > 0)
        err = store_cmd(st, &r, "ZRANGE %s 0 %lld", key.data,
                        (long long)max - 1);
    for (size_t i = 0; !err && r && i < r->elements && n < max; i++) {
        if (r->element[i]->type == REDIS_REPLY_STRING)
            out_ids[n++] = strtoll(r->element[i]->str, NULL, 10);
    }
    if (!err)
        *out_n = n;
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}

/* KEYS: pending zset. ARGV: read ms, then ids. */
static const struct store_script settle_script = {
    "order_snap_settle",
    "local n = 0\n"
    "for i = 2, #ARGV do\n"
    "  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])\n"
    "  if s and tonumber(s) <= tonumber(ARGV[1]) then\n"
    "    n = n + redis.call('ZREM', KEYS[1], ARGV[i])\n"
    "  end\n"
    "end\n"
    "return n\n",
};

enum scb_err order_snap_settle(struct store *st, int64_t company,
                               const int64_t *ids, size_t n,
                               int64_t read_ms)
{
    struct buf key;
    char nums[51][24];
    const char *argv[53];
    redisReply *r = NULL;
    enum scb_err err;

    if (n > 50)
        return SCB_EINVAL;
    buf_init(&key, 256);
    err = pending_key(st, company, &key);
    if (err)
        goto out;
    argv[0] = key.data;
    snprintf(nums[0], sizeof(nums[0]), "%" PRId64, read_ms);
    argv[1] = nums[0];
    for (size_t i = 0; i < n; i++) {
        snprintf(nums[i + 1], sizeof(nums[i + 1]), "%" PRId64, ids[i]);
        argv[i + 2] = nums[i + 1];
    }
    err = store_eval(st, &settle_script, &r, 1, (int)n + 2, argv, NULL);

out:
    if (r)
        freeReplyObject(r);
    buf_release(&key);
    return err;
}
