/* SPDX-License-Identifier: MIT */
/*
 * DDI item -> Sellercloud product writes (sellercloud.md "Products and
 * inventory", SCBRIDGE_SYNC_FIELDS, DESIGN.md "Available quantity").
 * Pure: data in, data out, no I/O; thread-safe.
 *
 * The caller (the SKU sync) keeps per SKU the "last written" record that
 * item_map_plan() hands back, and stores the new one only once every
 * write of the plan succeeded. The record holds, per synced field, a
 * digest of the value written (text, at most ITEM_MAP_RECORD_MAX bytes),
 * so an item whose synced fields did not change costs no write at all.
 *
 * Flow per item:
 *   1. item_map_filter(): pass over items not on the web or of another
 *      warehouse.
 *   2. With a stored record the product is known to exist; without one,
 *      read the catalog to learn whether it does.
 *   3. item_map_plan(): the writes, sent in this order: create,
 *      inventory, basic info, custom columns (quantities before the other
 *      fields, operations.md "Budget headroom"); then store the record.
 *
 * A synced field that Sellercloud would refuse (a bad UPC, a name over
 * 250 characters, a bad price...) is left out alone: the stock and the
 * other fields of an existing product are still written, so a SKU never
 * stops updating its quantity over one bad field, and the plan says
 * why (item_map_plan.invalid) for the caller to record as the item's
 * error. A missing product is created only when every field the create
 * carries (name, UPC, price) is good.
 */
#ifndef SCB_ITEM_MAP_H
#define SCB_ITEM_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ddi_client.h"
#include "err.h"
#include "sc_client.h"

/* Longest record item_map_plan() writes, bytes, NUL not included. */
#define ITEM_MAP_RECORD_MAX 1024
/* Sellercloud simulator limits (sellercloud.md). */
#define ITEM_MAP_NAME_MAX_CHARS 250
#define ITEM_MAP_LONG_DESC_MAX_BYTES 65536

enum item_map_skip {
    ITEM_MAP_KEEP,            /* to be written */
    ITEM_MAP_SKIP_NOT_WEB,    /* DDI web is false */
    ITEM_MAP_SKIP_WAREHOUSE,  /* another DDI warehouse */
};

enum item_map_outcome {
    ITEM_MAP_WRITE,      /* at least one write to send */
    ITEM_MAP_UNCHANGED,  /* nothing to send; still store the record */
    ITEM_MAP_NO_PRODUCT, /* missing in Sellercloud and not to be created
                            (not active, or creation turned off) */
};

struct item_map_input {
    const struct ddi_item *item; /* a valid record */
    bool exists;                 /* the Sellercloud product exists */
    int64_t reserved_qty;        /* I: imported, still reserved, >= 0 */
    const char *last_written;    /* the stored record, or NULL */
};

/*
 * What to send, as the Sellercloud client takes it (sc_client.h). Its
 * strings are borrowed from the input item and from the config, so the
 * plan is valid while both are.
 */
struct item_map_plan {
    enum item_map_outcome outcome;
    bool create;                    /* sc_product_create(&product) */
    struct sc_product_new product;
    bool set_qty;                   /* sc_inventory_set_physical() */
    int64_t qty;                    /* P, 0 to 2147483647 */
    int64_t warehouse_id;           /* SCBRIDGE_SC_WAREHOUSE_ID */
    bool basic;                     /* sc_product_basic_info(&basic_info) */
    struct sc_basic_info basic_info;
    struct sc_custom_column columns[2]; /* sc_product_custom_columns() */
    size_t n_columns;               /* 0: no custom column call */
    bool invalid;                   /* a bad field was left out: 'why' */
    char *record; /* owned: the new record; NULL for ITEM_MAP_NO_PRODUCT */
};

/* Whether the item is written at all (web, and cfg->ddi_warehouse). */
enum item_map_skip item_map_filter(const struct config *cfg,
                                   const struct ddi_item *item);

/*
 * Builds the writes for one item. On SCB_OK *out is filled; release it
 * with item_map_plan_release(). A synced field that cannot be written (a
 * value Sellercloud would refuse, a missing or bad price or quantity) is
 * left out of the writes and of the record, which keeps the value last
 * written for it: out->invalid is then set and 'why' holds a one-line
 * reason naming each such field ("upc 123: ...; price: missing").
 * SCB_EINVAL when nothing can be written: the product is missing and
 * cannot be created (a bad name, UPC or price, which the create carries,
 * or no product type), or the record is not one to write; 'why' says
 * why. 'why' (whylen > 0) is always a string. SCB_ENOMEM.
 */
enum scb_err item_map_plan(const struct config *cfg,
                           const struct item_map_input *in,
                           struct item_map_plan *out, char *why,
                           size_t whylen);

/* Frees the record; the plan is then empty. */
void item_map_plan_release(struct item_map_plan *plan);

/* P = max(0, A + I - B), computed without overflow. */
int64_t item_map_physical_qty(int64_t available, int64_t reserved,
                              int64_t buffer);

/* True for 12 to 14 digits whose last is the GS1 check digit. */
bool item_map_upc_valid(const char *upc);

#endif
