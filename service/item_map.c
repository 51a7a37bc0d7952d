/* SPDX-License-Identifier: MIT */
/* DDI item -> the Sellercloud product writes it calls for; pure. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "item_map.h"
#include "jsonio.h"
#include "mem.h"
#include "money.h"

#define ITEM_RECORD_VERSION 1
#define ITEM_DIGEST_BYTES 8 /* 64 bits of SHA-256 per field value */
#define ITEM_DIGEST_HEX (2 * ITEM_DIGEST_BYTES + 1)
#define ITEM_QTY_MAX 2147483647 /* PhysicalQty is an int32 */

enum item_target { ITEM_T_BASIC, ITEM_T_COLUMN_UOM, ITEM_T_COLUMN_IMAGE };

/* A text field of the item and where it goes in Sellercloud. */
struct item_field {
    unsigned bit;          /* enum config_sync_field */
    const char *key;       /* key in the record */
    size_t off;            /* of the const char * in struct ddi_item */
    size_t basic_off;      /* of the field in struct sc_basic_info */
    enum item_target target;
    bool at_create;        /* the create call carries it */
};

#define ITEM_OFF(f) offsetof(struct ddi_item, f)
#define ITEM_BASIC(f) offsetof(struct sc_basic_info, f)

static const struct item_field item_fields[] = {
    { SYNC_NAME, "name", ITEM_OFF(description), ITEM_BASIC(name),
      ITEM_T_BASIC, true },
    { SYNC_LONG_DESCRIPTION, "long_description", ITEM_OFF(web_description),
      ITEM_BASIC(long_description), ITEM_T_BASIC, false },
    { SYNC_MANUFACTURER_SKU, "manufacturer_sku", ITEM_OFF(mfg_product_no),
      ITEM_BASIC(manufacturer_sku), ITEM_T_BASIC, false },
    { SYNC_UPC, "upc", ITEM_OFF(upc), ITEM_BASIC(upc), ITEM_T_BASIC, true },
    { SYNC_UOM, "uom", ITEM_OFF(uom), 0, ITEM_T_COLUMN_UOM, false },
    { SYNC_IMAGE_URL, "image_url", ITEM_OFF(image_url), 0,
      ITEM_T_COLUMN_IMAGE, false },
};

#define ITEM_NFIELDS (sizeof(item_fields) / sizeof(item_fields[0]))

/* Fields the create call carries: bad, they keep a product uncreated. */
#define ITEM_CREATE_FIELDS (SYNC_NAME | SYNC_UPC | SYNC_PRICE)

/* State while one plan is built. */
struct item_build {
    const struct config *cfg;
    const struct ddi_item *item;
    const cJSON *last;  /* the stored record, or NULL */
    bool creating;
    unsigned bad;       /* synced fields left out (enum config_sync_field) */
    int64_t price;      /* cents, when SYNC_PRICE and not bad */
    int64_t qty;        /* P, when SYNC_QTY and not bad */
    char *why;          /* the reasons of the fields left out */
    size_t whylen;
    cJSON *record;
    struct item_map_plan plan;
};

enum item_map_skip item_map_filter(const struct config *cfg,
                                   const struct ddi_item *item)
{
    if (!item->web)
        return ITEM_MAP_SKIP_NOT_WEB;
    if (!item->warehouse || strcmp(item->warehouse, cfg->ddi_warehouse))
        return ITEM_MAP_SKIP_WAREHOUSE;
    return ITEM_MAP_KEEP;
}

int64_t item_map_physical_qty(int64_t available, int64_t reserved,
                              int64_t buffer)
{
    int64_t sum;

    if (__builtin_add_overflow(available, reserved, &sum))
        return available > 0 ? INT64_MAX : 0;
    if (__builtin_sub_overflow(sum, buffer, &sum))
        return buffer > 0 ? 0 : INT64_MAX;
    return sum < 0 ? 0 : sum;
}

bool item_map_upc_valid(const char *upc)
{
    size_t n = strlen(upc);
    int sum = 0;

    if (n < 12 || n > 14)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (upc[i] < '0' || upc[i] > '9')
            return false;
    }
    /* GS1: weights 3, 1, 3, ... from the digit left of the check digit. */
    for (size_t i = 0; i + 1 < n; i++) {
        int d = upc[n - 2 - i] - '0';

        sum += (i % 2 == 0) ? 3 * d : d;
    }
    return (10 - sum % 10) % 10 == upc[n - 1] - '0';
}

/* The item's value for 'f'; an empty name counts as none. */
static const char *item_value(const struct ddi_item *item,
                              const struct item_field *f)
{
    const char *v = *(const char *const *)((const char *)item + f->off);

    if (v && f->bit == SYNC_NAME && !*v)
        return NULL;
    return v;
}

static size_t item_utf8_chars(const char *s)
{
    size_t n = 0;

    for (; *s; s++) {
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    }
    return n;
}

/*
 * Records that synced field 'bit' cannot be written: its write is left
 * out and its reason joins the others in b->why ("a; b").
 */
static void item_bad(struct item_build *b, unsigned bit, const char *fmt,
                     ...) __attribute__((format(printf, 3, 4)));

static void item_bad(struct item_build *b, unsigned bit, const char *fmt,
                     ...)
{
    size_t len = strnlen(b->why, b->whylen);
    va_list ap;

    b->bad |= bit;
    if (len > 0 && len + 3 >= b->whylen)
        return; /* full: the first reasons are the ones kept */
    if (len > 0) {
        memcpy(b->why + len, "; ", 3);
        len += 2;
    }
    va_start(ap, fmt);
    vsnprintf(b->why + len, b->whylen - len, fmt, ap);
    va_end(ap);
}

static void item_check_texts(struct item_build *b)
{
    unsigned fields = b->cfg->sync_fields;
    const char *name = b->item->description;
    const char *ld = b->item->web_description;
    const char *upc = b->item->upc;

    if ((fields & SYNC_NAME) && name &&
        item_utf8_chars(name) > ITEM_MAP_NAME_MAX_CHARS)
        item_bad(b, SYNC_NAME, "description: longer than %d characters",
                 ITEM_MAP_NAME_MAX_CHARS);
    if ((fields & SYNC_LONG_DESCRIPTION) && ld &&
        strlen(ld) > ITEM_MAP_LONG_DESC_MAX_BYTES)
        item_bad(b, SYNC_LONG_DESCRIPTION,
                 "web_description: longer than %d bytes",
                 ITEM_MAP_LONG_DESC_MAX_BYTES);
    if ((fields & SYNC_UPC) && upc && *upc && !item_map_upc_valid(upc))
        item_bad(b, SYNC_UPC,
                 "upc %.20s: not 12 to 14 digits with a GS1 check digit",
                 upc);
}

static void item_check_price(struct item_build *b)
{
    const char *price = b->item->price;

    if (!price)
        item_bad(b, SYNC_PRICE, "price: missing");
    else if (money_parse(price, &b->price) || b->price < 0)
        item_bad(b, SYNC_PRICE, "price %.24s: not an amount of 0 or more",
                 price);
}

static void item_check_qty(struct item_build *b, int64_t reserved)
{
    const struct ddi_item *item = b->item;

    if (!item->has_available_qty) {
        item_bad(b, SYNC_QTY, "available_qty: missing");
        return;
    }
    if (reserved < 0) {
        item_bad(b, SYNC_QTY, "reserved quantity is negative");
        return;
    }
    b->qty = item_map_physical_qty(item->available_qty, reserved,
                                   b->cfg->stock_buffer);
    if (b->qty > ITEM_QTY_MAX)
        item_bad(b, SYNC_QTY, "physical quantity %lld: too large",
                 (long long)b->qty);
}

/* Finds every synced field that Sellercloud would refuse (b->bad). */
static void item_validate(struct item_build *b, int64_t reserved)
{
    item_check_texts(b);
    if (b->cfg->sync_fields & SYNC_PRICE)
        item_check_price(b);
    if (b->cfg->sync_fields & SYNC_QTY)
        item_check_qty(b, reserved);
}

static void item_digest(const char *s, char out[ITEM_DIGEST_HEX])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *)s, strlen(s), md);
    for (size_t i = 0; i < ITEM_DIGEST_BYTES; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0F];
    }
    out[ITEM_DIGEST_HEX - 1] = '\0';
}

/* True when the stored record lacks 'key' or holds another value. */
static bool item_changed_str(const struct item_build *b, const char *key,
                             const char *value)
{
    const char *old;

    if (!b->last || jsonio_get_str(b->last, key, &old))
        return true;
    return strcmp(old, value) != 0;
}

static bool item_changed_int(const struct item_build *b, const char *key,
                             int64_t value)
{
    int64_t old;

    if (!b->last || jsonio_get_i64(b->last, key, INT64_MIN, INT64_MAX, &old))
        return true;
    return old != value;
}

static void item_add_column(struct item_build *b, const char *column,
                            const char *value)
{
    struct sc_custom_column *c = &b->plan.columns[b->plan.n_columns++];

    c->name = column;
    c->value = value;
}

/* Sends one changed text field where it belongs. */
static void item_send_text(struct item_build *b, const struct item_field *f,
                           const char *value)
{
    struct sc_basic_info *bi = &b->plan.basic_info;

    if (b->creating && (f->at_create || !*value))
        return; /* in the create call, or nothing to clear */
    if (f->target == ITEM_T_COLUMN_UOM) {
        item_add_column(b, b->cfg->sc_uom_column, value);
    } else if (f->target == ITEM_T_COLUMN_IMAGE) {
        item_add_column(b, b->cfg->sc_image_column, value);
    } else {
        *(const char **)((char *)bi + f->basic_off) = value;
        b->plan.basic = true;
    }
}

/*
 * A field left out keeps in the new record the value last written, as
 * Sellercloud still holds it; a fixed value that equals it costs no
 * write.
 */
static enum scb_err item_keep_last(struct item_build *b, const char *key)
{
    const cJSON *old;
    cJSON *copy;

    old = b->last ? cJSON_GetObjectItemCaseSensitive(b->last, key) : NULL;
    if (!old)
        return SCB_OK;
    copy = cJSON_Duplicate(old, 0);
    if (!copy)
        return SCB_ENOMEM;
    if (!cJSON_AddItemToObject(b->record, key, copy)) {
        cJSON_Delete(copy);
        return SCB_ENOMEM;
    }
    return SCB_OK;
}

static enum scb_err item_texts(struct item_build *b)
{
    char digest[ITEM_DIGEST_HEX];

    for (size_t i = 0; i < ITEM_NFIELDS; i++) {
        const struct item_field *f = &item_fields[i];
        const char *value = item_value(b->item, f);

        if (!(b->cfg->sync_fields & f->bit) || !value)
            continue;
        if (b->bad & f->bit) {
            if (item_keep_last(b, f->key))
                return SCB_ENOMEM;
            continue;
        }
        item_digest(value, digest);
        if (!cJSON_AddStringToObject(b->record, f->key, digest))
            return SCB_ENOMEM;
        if (item_changed_str(b, f->key, digest))
            item_send_text(b, f, value);
    }
    return SCB_OK;
}

static enum scb_err item_add_price(struct item_build *b)
{
    char text[MONEY_STR_MAX];

    if (b->bad & SYNC_PRICE)
        return item_keep_last(b, "price");
    money_format(b->price, text);
    if (!cJSON_AddStringToObject(b->record, "price", text))
        return SCB_ENOMEM;
    if (b->creating) {
        b->plan.product.has_price = true; /* DefaultPrice */
        b->plan.product.price_cents = b->price;
    } else if (item_changed_str(b, "price", text)) {
        b->plan.basic_info.has_price = true; /* SitePrice */
        b->plan.basic_info.price_cents = b->price;
        b->plan.basic = true;
    }
    return SCB_OK;
}

static enum scb_err item_add_qty(struct item_build *b)
{
    if (b->bad & SYNC_QTY)
        return item_keep_last(b, "qty");
    if (!cJSON_AddNumberToObject(b->record, "qty", (double)b->qty))
        return SCB_ENOMEM;
    if (b->creating || item_changed_int(b, "qty", b->qty)) {
        b->plan.set_qty = true;
        b->plan.qty = b->qty;
        b->plan.warehouse_id = b->cfg->sc_warehouse_id;
    }
    return SCB_OK;
}

static const char *item_product_type(const struct config *cfg,
                                     const struct ddi_item *item)
{
    if ((cfg->sync_fields & SYNC_PRODUCT_TYPE) && item->product_type &&
        *item->product_type)
        return item->product_type;
    return cfg->sc_default_product_type;
}

static void item_create(struct item_build *b, const char *type)
{
    const struct ddi_item *item = b->item;
    struct sc_product_new *p = &b->plan.product;

    b->creating = true;
    b->plan.create = true;
    p->company_id = b->cfg->sc_product_company_id;
    p->sku = item->product_no;
    p->name = item->product_no; /* a product needs a name */
    if ((b->cfg->sync_fields & SYNC_NAME) && item->description &&
        *item->description)
        p->name = item->description;
    p->type_name = type;
    if ((b->cfg->sync_fields & SYNC_UPC) && item->upc && *item->upc)
        p->upc = item->upc;
}

static enum scb_err item_last_parse(const struct item_map_input *in,
                                    cJSON **out_last)
{
    cJSON *last = NULL;
    enum scb_err err;

    *out_last = NULL;
    if (!in->exists || !in->last_written)
        return SCB_OK;
    err = jsonio_parse(in->last_written, strlen(in->last_written),
                       ITEM_MAP_RECORD_MAX, &last);
    if (err == SCB_ENOMEM)
        return err;
    if (err)
        return SCB_OK; /* unreadable: write every field again */
    if (jsonio_i64_or(last, "v", 0) != ITEM_RECORD_VERSION) {
        cJSON_Delete(last);
        return SCB_OK;
    }
    *out_last = last;
    return SCB_OK;
}

static enum scb_err item_build_all(struct item_build *b)
{
    unsigned fields = b->cfg->sync_fields;
    enum scb_err err;

    b->record = cJSON_CreateObject();
    if (!b->record ||
        !cJSON_AddNumberToObject(b->record, "v", ITEM_RECORD_VERSION))
        return SCB_ENOMEM;
    err = item_texts(b);
    if (!err && (fields & SYNC_PRICE))
        err = item_add_price(b);
    if (!err && (fields & SYNC_QTY))
        err = item_add_qty(b);
    if (err)
        return err;
    b->plan.record = cJSON_PrintUnformatted(b->record);
    if (!b->plan.record)
        return SCB_ENOMEM;
    b->plan.outcome = (b->plan.create || b->plan.set_qty ||
                       b->plan.basic || b->plan.n_columns)
                          ? ITEM_MAP_WRITE
                          : ITEM_MAP_UNCHANGED;
    b->plan.invalid = b->bad != 0;
    return SCB_OK;
}

/*
 * For a missing product: the create call, once its type is known and
 * every field it carries is good. SCB_EINVAL: nothing can be written.
 */
static enum scb_err item_start(struct item_build *b,
                               const struct item_map_input *in)
{
    const char *type;

    if (in->exists)
        return SCB_OK;
    if (b->bad & ITEM_CREATE_FIELDS)
        return SCB_EINVAL;
    type = item_product_type(b->cfg, in->item);
    if (!type || !*type) {
        item_bad(b, 0, "no product type: product_type is empty and "
                       "SCBRIDGE_SC_DEFAULT_PRODUCT_TYPE unset");
        return SCB_EINVAL;
    }
    item_create(b, type);
    return SCB_OK;
}

enum scb_err item_map_plan(const struct config *cfg,
                           const struct item_map_input *in,
                           struct item_map_plan *out, char *why,
                           size_t whylen)
{
    struct item_build b = { .cfg = cfg, .item = in->item, .why = why,
                            .whylen = whylen };
    cJSON *last = NULL;
    enum scb_err err;

    why[0] = '\0';
    if (!in->item->valid || item_map_filter(cfg, in->item)) {
        snprintf(why, whylen, "item record: not one to write");
        return SCB_EINVAL;
    }
    if (!in->exists && (!in->item->active || !cfg->sc_create_products)) {
        memset(out, 0, sizeof(*out));
        out->outcome = ITEM_MAP_NO_PRODUCT;
        return SCB_OK;
    }
    item_validate(&b, in->reserved_qty);
    b.plan.basic_info.sku = in->item->product_no;
    err = item_start(&b, in);
    if (!err)
        err = item_last_parse(in, &last);
    b.last = last;
    if (!err)
        err = item_build_all(&b);

    cJSON_Delete(last);
    cJSON_Delete(b.record);
    if (err)
        item_map_plan_release(&b.plan);
    else
        *out = b.plan;
    return err;
}

void item_map_plan_release(struct item_map_plan *plan)
{
    if (plan->record)
        cJSON_free(plan->record);
    memset(plan, 0, sizeof(*plan));
}
