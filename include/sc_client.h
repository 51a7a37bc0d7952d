/* SPDX-License-Identifier: MIT */
/*
 * The Sellercloud REST client (contracts/sellercloud.md): every request
 * the service sends to Sellercloud, spelled as the 2022 Swagger spells it.
 *
 * Two objects:
 * - struct sc_session: the process's bearer token, shared by all its
 *   threads (thread-safe, guarded by its own lock). The token is fetched
 *   on first use and refreshed a little before expires_in runs out (a
 *   quarter of its life, at most 3 minutes, early); one refresh is in
 *   flight at a time while the other threads keep using a still-valid
 *   token or wait for the new one.
 * - struct sc_client: one per thread; owns its libcurl handle (struct
 *   upstream) and borrows the thread's store handle for the rate limit.
 *   Not thread-safe.
 *
 * Every request, the token call included, first takes a token from the
 * shared bucket (ratelimit.h, budget SCBRIDGE_SC_RATE_PER_HOUR), sleeping
 * up to the client's block bound (sc_client_set_max_block_ms()). A 401
 * refreshes the token once and retries the call once. An answer whose
 * body is {"Error": "Too many requests.", "RateLimitResetTime": t},
 * whatever its status, pauses Sellercloud for every replica until t and
 * answers SCB_EWAIT; so does a plain 429 (for its Retry-After, else 30 s).
 *
 * Results: the codes of upstream.h (SCB_OK, SCB_EWAIT, SCB_EUPSTREAM,
 * SCB_ETIMEOUT, SCB_EUNKNOWN, SCB_EPERMANENT, SCB_ETOOBIG), plus
 *   SCB_EPARSE   a 2xx whose body the call needs is empty, not JSON
 *                (Content-Type or syntax) or of the wrong shape
 *                (class transient);
 *   SCB_EINVAL   bad arguments (class permanent);
 *   SCB_ESTORE, SCB_ESTORECMD  the rate limit's Redis failed (transient);
 *   SCB_EAUTH    the token call itself was refused (400/401; transient:
 *                work resumes once the credentials are fixed).
 * After SCB_EWAIT, sc_client_wait_ms() tells how long to wait. Details of
 * the last answer (status, loggable URL, body excerpt) stay readable
 * through sc_client_last() until the next call; a request the rate limit
 * held back shows status 0 and code "unsent".
 */
#ifndef SCB_SC_CLIENT_H
#define SCB_SC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "err.h"
#include "sc_order.h"
#include "store.h"
#include "upstream.h"

#define SC_UPSTREAM "sellercloud"   /* metric and rate-limit label */
#define SC_PAGE_SIZE 50             /* page size of every list call */
#define SC_MAX_IDS 50               /* order ids per list-by-ids call */
#define SC_MAX_EXPORT 500           /* order ids per SetExported call */
#define SC_MAX_PACKAGES 500         /* packages read per order */
#define SC_MAX_COLUMNS 16           /* custom columns per call */
#define SC_DEFAULT_BLOCK_MS 5000    /* default sleep bound for a token */
#define SC_TOKEN_MAX 4096           /* longest access_token accepted */

/* A package of an order, as GET /api/Orders/Packages lists it. */
struct sc_package {
    int64_t id;
    char tracking_number[SC_ORDER_TRACK_MAX]; /* "" when none */
};

/*
 * Tracking for one package. 'package_id' is used (and required, > 0) by
 * sc_order_ship_package() only. Strings are borrowed.
 */
struct sc_tracking {
    int64_t order_id;
    int64_t package_id;
    const char *carrier;         /* ShippingCarrier / CarrierName */
    const char *service;         /* ShippingService / ShippingMethod */
    int64_t ship_date_ms;        /* written YYYY-MM-DDTHH:MM:SSZ */
    const char *tracking_number;
};

/* POST /api/Products. Strings borrowed; NULL upc: not sent. */
struct sc_product_new {
    int64_t company_id;          /* CompanyId, >= 1 */
    const char *sku;             /* ProductSKU */
    const char *name;            /* ProductName */
    const char *type_name;       /* ProductTypeName */
    bool has_price;              /* send DefaultPrice */
    int64_t price_cents;
    const char *upc;
};

/* PUT /api/Catalog/BasicInfo. NULL fields (and no price) are not sent. */
struct sc_basic_info {
    const char *sku;             /* ProductID, required */
    const char *name;            /* ProductName */
    const char *long_description;
    const char *manufacturer_sku;
    const char *upc;
    bool has_price;              /* send SitePrice */
    int64_t price_cents;
};

/* One entry of PUT /api/Products/CustomColumns. */
struct sc_custom_column {
    const char *name;            /* ColumnName */
    const char *value;           /* Value, a string */
};

struct sc_session;
struct sc_client;

/*
 * New token holder for the credentials of 'cfg' (borrowed; must outlive
 * it). NULL on OOM. Free it after every client using it.
 */
struct sc_session *sc_session_new(const struct config *cfg);
void sc_session_free(struct sc_session *sess);

/* Tokens this session has fetched so far (tests, metrics). */
int64_t sc_session_token_fetches(struct sc_session *sess);

/*
 * New client for this thread. 'cfg', 'sess' and 'st' are borrowed and
 * must outlive it. NULL on OOM or when libcurl cannot make a handle.
 */
struct sc_client *sc_client_new(const struct config *cfg,
                                struct sc_session *sess, struct store *st);
void sc_client_free(struct sc_client *c);

/* Longest sleep for a rate-limit token per request (0: never sleep). */
void sc_client_set_max_block_ms(struct sc_client *c, int64_t ms);

/* After SCB_EWAIT: milliseconds to wait before calling again. */
int64_t sc_client_wait_ms(const struct sc_client *c);

/* The last answer (for upstream_log_failure()); valid until next call. */
const struct upstream_response *sc_client_last(const struct sc_client *c);

/* Logs the last call's failure once, at warn (see upstream.h). */
void sc_client_log_failure(const struct sc_client *c, const char *mod,
                           const char *job);

/* Makes sure the session holds a usable token, fetching one if needed. */
enum scb_err sc_client_token(struct sc_client *c);

/*
 * GET /api/Orders?model.companyID=...&model.orderIDs=...: the orders
 * with the given ids, 1..SC_MAX_IDS of them, in the given companies
 * (n_companies may be 0: no company filter). One page of SC_PAGE_SIZE.
 * On SCB_OK *out is filled; release with sc_order_page_release().
 */
enum scb_err sc_orders_by_ids(struct sc_client *c,
                              const int64_t *company_ids, size_t n_companies,
                              const int64_t *ids, size_t n_ids,
                              struct sc_order_page *out);

/*
 * One page of the order poll: orders of 'company_id' updated at or after
 * 'from_ms' (Sellercloud's wall clock, held as if UTC; sent as
 * "mm/dd/yyyy hh:mm", cut to the minute), ascending by id, page
 * 'page_number' (from 1) of SC_PAGE_SIZE; 'channel' >= 0 adds
 * model.channel. Loop while !sc_order_page_is_last(out, n, SC_PAGE_SIZE).
 */
enum scb_err sc_orders_updated(struct sc_client *c, int64_t company_id,
                               int64_t from_ms, int channel,
                               int64_t page_number,
                               struct sc_order_page *out);

/*
 * GET /api/Orders/{id}: the SingleOrderDataDto. On SCB_OK *out_root is
 * new; free it with cJSON_Delete().
 */
enum scb_err sc_order_get(struct sc_client *c, int64_t order_id,
                          cJSON **out_root);

/* GET /api/Orders/{id}, reading Statuses.IsExported. */
enum scb_err sc_order_is_exported(struct sc_client *c, int64_t order_id,
                                  bool *out_exported);

/*
 * PUT /api/Orders/SetExported {"Orders": ids, "Exported": true} for
 * 1..SC_MAX_EXPORT ids. On SCB_OK out_marked (room for n_ids) holds the
 * ids Sellercloud answered it marked, *out_n_marked how many; an id
 * missing from them was not marked.
 */
enum scb_err sc_orders_set_exported(struct sc_client *c, const int64_t *ids,
                                    size_t n_ids, int64_t *out_marked,
                                    size_t *out_n_marked);

/*
 * GET /api/Orders/Packages?id=..&pageNumber=..&pageSize=50, every page:
 * the order's packages sorted by ascending ID (package k is the k-th).
 * On SCB_OK out (room for 'cap') holds *out_n of them; more than 'cap'
 * (or SC_MAX_PACKAGES) is SCB_ETOOBIG.
 */
enum scb_err sc_order_packages(struct sc_client *c, int64_t order_id,
                               struct sc_package *out, size_t cap,
                               size_t *out_n);

/* PUT /api/Orders/ShippingStatus: tracking of package 1. */
enum scb_err sc_order_ship(struct sc_client *c, const struct sc_tracking *t);

/*
 * PUT /api/Orders/ShippingStatus/SinglePackage: tracking of package
 * t->package_id, which must be > 0 (SCB_EINVAL otherwise: Sellercloud
 * would overwrite package 1).
 */
enum scb_err sc_order_ship_package(struct sc_client *c,
                                   const struct sc_tracking *t);

/*
 * POST /api/Orders/{id}/Notes {"Message", "Category"}; 'message' not
 * empty, 'category' 0..2. Repeating it adds a second note.
 */
enum scb_err sc_order_add_note(struct sc_client *c, int64_t order_id,
                               const char *message, int category);

/*
 * GET /api/Catalog?model.sKU=..: the item whose ID equals 'sku' exactly.
 * On SCB_OK *out_item is new (free with cJSON_Delete()); SCB_ENOTFOUND
 * when no item matches.
 */
enum scb_err sc_catalog_get(struct sc_client *c, const char *sku,
                            cJSON **out_item);

/* POST /api/Products; the answer (the new SKU) is ignored. */
enum scb_err sc_product_create(struct sc_client *c,
                               const struct sc_product_new *p);

/* PUT /api/Catalog/BasicInfo with the fields that are set. */
enum scb_err sc_product_basic_info(struct sc_client *c,
                                   const struct sc_basic_info *b);

/* PUT /api/Products/CustomColumns, 1..SC_MAX_COLUMNS entries. */
enum scb_err sc_product_custom_columns(struct sc_client *c, const char *sku,
                                       const struct sc_custom_column *cols,
                                       size_t n_cols);

/*
 * PUT /api/Inventory/SetPhysicalInventory {"ProductID", "WarehouseID",
 * "PhysicalQty"}; qty 0..2147483647, warehouse_id >= 1.
 */
enum scb_err sc_inventory_set_physical(struct sc_client *c, const char *sku,
                                       int64_t warehouse_id, int64_t qty);

/*
 * Appends '"key":<amount>' to 'out', the amount a JSON number printed
 * from cents with exactly two decimals ("19.99", "-0.05"), never through
 * floating point. Exposed for tests.
 */
enum scb_err sc_json_put_money(struct buf *out, const char *key,
                               int64_t cents);

#endif
