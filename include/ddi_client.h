/* SPDX-License-Identifier: MIT */
/*
 * The DDI gateway client: every call scbridge makes to DDI
 * (contracts/ddi.md) and the parsing of DDI's answers into structs.
 *
 * Threads: a struct ddi_gate is shared by the whole process and bounds
 * the DDI requests in flight to SCBRIDGE_DDI_CONCURRENCY; it is
 * thread-safe. A struct ddi_client owns one upstream handle and is NOT
 * thread-safe: each thread makes its own, all on the one gate.
 *
 * Result codes of the calls and their class (ddi.md "Errors and their
 * classes"; ddi_class_of() maps each code to its class):
 *   SCB_OK          2xx with a valid answer
 *   SCB_EWAIT       429, or 503 with Retry-After: e->wait_ms     wait
 *   SCB_EUPSTREAM   401, 408, other 5xx, connection error         transient
 *   SCB_ETIMEOUT    a read (GET) that timed out                  transient
 *   SCB_EPARSE      a 2xx whose answer is invalid (not JSON, a    transient
 *                   required field missing, a bad amount)
 *   SCB_EUNKNOWN    ddi_create_order() only: sent, then timeout,  unknown
 *                   drop, a 5xx other than 503 + Retry-After, or
 *                   a 2xx whose answer is invalid
 *   SCB_EPERMANENT  400, 404, 422 and other 4xx: e->status; for   permanent
 *                   422 e->reason is UNKNOWN_PRODUCT or
 *                   DDI_VALIDATION and e->detail DDI's messages
 *   SCB_ECONFLICT   409 (a cancel after a shipment): e->reason    permanent
 *                   is CANCELLED_AFTER_SHIPMENT
 *   SCB_ETOOBIG     the answer exceeded SCBRIDGE_UPSTREAM_MAX_BYTES  permanent
 *   SCB_ENOMEM (transient), SCB_EINVAL (an argument out of its limits,
 *                   nothing sent; permanent)
 *
 * Answer structs hold the parsed JSON tree; their strings are borrowed
 * from it and live until the struct is freed. Unknown fields are
 * ignored. Amounts are int64 cents (money_parse(): one or two decimals).
 */
#ifndef SCB_DDI_CLIENT_H
#define SCB_DDI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "err.h"
#include "upstream.h"

/* Longest reference, order number, cursor or reason accepted, bytes. */
#define DDI_ID_MAX 128
#define DDI_CURSOR_MAX 512
#define DDI_CANCEL_REASON_MAX 512
/* Longest product number accepted in an item record, bytes. */
#define DDI_PRODUCT_NO_MAX 64
/* Most records on one list page the client asks for. */
#define DDI_SHIPMENTS_LIMIT_MAX 100
#define DDI_ITEMS_LIMIT_MAX 200

/* One shipment record (ddi.md "Shipments"). */
struct ddi_shipment {
    bool valid;           /* every required field present and well formed */
    const char *problem;  /* static text when !valid, else NULL */
    const char *shipment_id;  /* required fields: non-NULL when valid */
    const char *order_no;
    const char *reference;
    const char *confirmed_at; /* as DDI wrote it */
    int64_t confirmed_at_ms;  /* the same, Unix ms */
    const char *ship_date;    /* optional fields: NULL when absent */
    const char *carrier;
    const char *service;
    const char **tracking_nos; /* one per package, in package order */
    size_t n_packages;
    bool complete;
    bool has_deposit_applied;
    int64_t deposit_applied; /* cents */
};

/* One POS order (ddi.md "One order"). */
struct ddi_order {
    const char *order_no;
    const char *reference;
    const char *status;  /* open, partially_shipped, complete, cancelled */
    bool has_total;
    int64_t total;       /* cents */
    bool has_deposit;
    int64_t deposit_amount;  /* cents */
    int64_t deposit_applied; /* cents */
    const char *deposit_status; /* held, ..., reversed; NULL if absent */
    struct ddi_shipment *shipments; /* every one valid, in order */
    size_t n_shipments;
};

/* One item record (ddi.md "Items"). */
struct ddi_item {
    bool valid;           /* product_no, warehouse, active, web present */
    const char *problem;  /* static text when !valid, else NULL */
    const char *product_no;
    const char *warehouse;
    const char *description;     /* optional fields: NULL when absent */
    const char *product_type;
    const char *image_url;
    const char *web_description;
    const char *mfg_product_no;
    const char *upc;
    const char *uom;
    const char *price;           /* as DDI wrote it; item_map checks it */
    bool has_available_qty;
    int64_t available_qty;       /* may be negative */
    bool active;
    bool web;
    const char *updated_at;
};

/* GET /v1/pos-orders?reference=: every order with the reference. */
struct ddi_order_list {
    cJSON *root;
    struct ddi_order *orders;
    size_t n;
};

/* A page of GET /v1/shipments. Invalid records are kept, flagged. */
struct ddi_shipment_page {
    cJSON *root;
    struct ddi_shipment *items;
    size_t n;
    const char *next_cursor; /* never NULL */
    bool more;
};

/* A page of GET /v1/items. Invalid records are kept, flagged. */
struct ddi_item_page {
    cJSON *root;
    struct ddi_item *items;
    size_t n;
    const char *next_cursor; /* never NULL */
    bool more;
};

/* A single order answer (create, get, cancel). */
struct ddi_order_doc {
    cJSON *root;
    struct ddi_order order;
};

/* What a failed call leaves for the caller; never holds a secret. */
struct ddi_error {
    long status;       /* HTTP status; 0 when no answer came */
    int64_t wait_ms;   /* SCB_EWAIT: how long to wait */
    char reason[32];   /* UNKNOWN_PRODUCT, DDI_VALIDATION,
                          CANCELLED_AFTER_SHIPMENT, or "" */
    char detail[512];  /* DDI's error codes and messages, or what was
                          wrong with the answer; "" when none */
};

/*
 * Parsers, pure and thread-safe. Each parses 'len' bytes (at most 'max')
 * and on SCB_OK sets *out to a new struct; free it with the matching
 * _free() (NULL is a no-op). SCB_EPARSE when the answer is invalid,
 * with 'why' (may be NULL) set to a static text; SCB_ETOOBIG; SCB_ENOMEM.
 */
enum scb_err ddi_parse_order(const char *text, size_t len, size_t max,
                             struct ddi_order_doc **out,
                             const char **why);
enum scb_err ddi_parse_order_list(const char *text, size_t len,
                                  size_t max, struct ddi_order_list **out,
                                  const char **why);
enum scb_err ddi_parse_shipment_page(const char *text, size_t len,
                                     size_t max,
                                     struct ddi_shipment_page **out,
                                     const char **why);
enum scb_err ddi_parse_item_page(const char *text, size_t len, size_t max,
                                 struct ddi_item_page **out,
                                 const char **why);

void ddi_order_doc_free(struct ddi_order_doc *doc);
void ddi_order_list_free(struct ddi_order_list *list);
void ddi_shipment_page_free(struct ddi_shipment_page *page);
void ddi_item_page_free(struct ddi_item_page *page);

/*
 * Reads one shipment record (a ship-confirm callback body, say) into
 * *out, its strings borrowed from 'obj'. Never fails for the record's
 * content: out->valid and out->problem say whether it is usable. On
 * SCB_OK the caller frees it with ddi_shipment_release(). SCB_ENOMEM.
 */
enum scb_err ddi_shipment_read(const cJSON *obj, struct ddi_shipment *out);
void ddi_shipment_release(struct ddi_shipment *s);

/* Reads one item record the same way; it allocates nothing. */
void ddi_item_read(const cJSON *obj, struct ddi_item *out);

/*
 * Fills e->reason and e->detail from an error answer body
 * ({"errors": [{"code", "field", "line_no", "message"}]}) of 'status':
 * reason UNKNOWN_PRODUCT when any code is that, else DDI_VALIDATION for
 * a 422, CANCELLED_AFTER_SHIPMENT for a 409, "" otherwise; detail lists
 * "CODE line N field F: message" entries joined by "; ", cut to fit.
 * A body that is not such a document leaves detail "".
 */
void ddi_error_from_body(long status, const char *body, size_t len,
                         struct ddi_error *e);

/*
 * The class of a result code of this module: upstream_class_of(), except
 * that SCB_ECONFLICT (409) is permanent.
 */
enum upstream_class ddi_class_of(enum scb_err err);

struct ddi_gate;
struct ddi_client;

/* New gate of 'slots' (1-64) requests in flight. NULL on OOM or bad n. */
struct ddi_gate *ddi_gate_new(int64_t slots);
void ddi_gate_free(struct ddi_gate *gate);

/*
 * New client for this thread. 'cfg' and 'gate' are borrowed and must
 * outlive it. curl_global_init() must have run. NULL on OOM.
 */
struct ddi_client *ddi_client_new(const struct config *cfg,
                                  struct ddi_gate *gate);
void ddi_client_free(struct ddi_client *c);

/*
 * The failed call's loggable detail: upstream_log_failure() of the last
 * call under module 'mod' and job 'job' (NULL if none). Logs nothing
 * when the last call succeeded.
 */
void ddi_client_log_failure(const struct ddi_client *c, const char *mod,
                            const char *job);

/*
 * GET /v1/pos-orders?reference={ref}. On SCB_OK *out is new (free with
 * ddi_order_list_free()); 0, 1 or more orders.
 */
enum scb_err ddi_find_orders(struct ddi_client *c, const char *reference,
                             struct ddi_order_list **out,
                             struct ddi_error *e);

/*
 * POST /v1/pos-orders with 'body' (JSON text, borrowed) and
 * Idempotency-Key = 'reference'. On SCB_OK *out is the new order (free
 * with ddi_order_doc_free()). SCB_EUNKNOWN: the order may exist; look
 * the reference up no sooner than SCBRIDGE_DDI_LOOKUP_DELAY later.
 */
enum scb_err ddi_create_order(struct ddi_client *c, const char *reference,
                              const char *body, struct ddi_order_doc **out,
                              struct ddi_error *e);

/* GET /v1/pos-orders/{order_no}; 404 is SCB_EPERMANENT, status 404. */
enum scb_err ddi_get_order(struct ddi_client *c, const char *order_no,
                           struct ddi_order_doc **out, struct ddi_error *e);

/*
 * POST /v1/pos-orders/{order_no}/cancel with {"reason"}. On SCB_OK *out
 * is the cancelled order. SCB_ECONFLICT (409) once it has a shipment.
 */
enum scb_err ddi_cancel_order(struct ddi_client *c, const char *order_no,
                              const char *reason,
                              struct ddi_order_doc **out,
                              struct ddi_error *e);

/*
 * GET /v1/shipments after 'cursor' (a next_cursor DDI returned), or, when
 * 'cursor' is NULL, from 'since' (RFC 3339; NULL: from the beginning).
 * 'limit' 1-100. On SCB_OK *out is new (ddi_shipment_page_free()).
 */
enum scb_err ddi_list_shipments(struct ddi_client *c, const char *cursor,
                                const char *since, int limit,
                                struct ddi_shipment_page **out,
                                struct ddi_error *e);

/* GET /v1/items the same way; 'limit' 1-200. */
enum scb_err ddi_list_items(struct ddi_client *c, const char *cursor,
                            const char *since, int limit,
                            struct ddi_item_page **out,
                            struct ddi_error *e);

#endif
