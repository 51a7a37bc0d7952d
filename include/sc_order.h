/* SPDX-License-Identifier: MIT */
/*
 * Sellercloud orders as C data: the list item shape of GET /api/Orders
 * (contracts/sellercloud.md, "The list shape") parsed into bounded
 * structs, money as int64 cents (ddi.md "Money and totals"), and the
 * date-time forms Sellercloud reads and writes. Pure: no I/O, no global
 * state; every function is thread-safe.
 *
 * Parsing rules: a number where a string is expected, a fraction where an
 * integer is, a string longer than its field, more lines or tracking
 * numbers than the limits below, or a missing required field is
 * SCB_EINVAL, naming the field. A missing or null optional string is "",
 * a missing or null optional amount 0 (the totals check then catches it).
 * Required: ID, CompanyID, OrderSource, StatusCode, PaymentStatus,
 * ShippingStatus, TimeOfOrder, LastUpdated, GrandTotal, Items (an array);
 * on each line ID, ProductID (not empty), Qty (0..1000000), LineTotal.
 */
#ifndef SCB_SC_ORDER_H
#define SCB_SC_ORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"

#define SC_ORDER_MAX_LINES 500     /* Items[] per order */
#define SC_ORDER_MAX_TRACKING 100  /* AllTrackingNumbers[] per order */
#define SC_ORDER_PAGE_MAX 50       /* orders per list page */
#define SC_ORDER_STR_MAX 256       /* short strings, NUL included */
#define SC_ORDER_TEXT_MAX 1024     /* DisplayName, NUL included */
#define SC_ORDER_TRACK_MAX 128     /* one tracking number, NUL included */
#define SC_ORDER_FIELD_MAX 64      /* a field path in an error */
#define SC_TIME_RAW_MAX 40         /* a date-time as Sellercloud wrote it */
#define SC_TIME_QUERY_LEN 17       /* "mm/dd/yyyy hh:mm" + NUL */
#define SC_TIME_BODY_LEN 21        /* "YYYY-MM-DDTHH:MM:SSZ" + NUL */

/* A date-time of an answer. */
struct sc_time {
    bool present;               /* false: absent or null */
    bool has_zone;              /* a Z or an offset was given */
    int64_t ms;                 /* Unix ms; zone-less text read as UTC */
    char raw[SC_TIME_RAW_MAX];  /* the text exactly as written */
};

struct sc_address {
    char first_name[SC_ORDER_STR_MAX];
    char last_name[SC_ORDER_STR_MAX];
    char company_name[SC_ORDER_STR_MAX];
    char street_line1[SC_ORDER_STR_MAX];
    char street_line2[SC_ORDER_STR_MAX];
    char city[SC_ORDER_STR_MAX];
    char state_code[SC_ORDER_STR_MAX];
    char postal_code[SC_ORDER_STR_MAX];
    char country_code[SC_ORDER_STR_MAX];
    char phone_number[SC_ORDER_STR_MAX];
    char email_address[SC_ORDER_STR_MAX];
};

struct sc_order_line {
    int64_t id;
    char product_id[SC_ORDER_STR_MAX]; /* the SKU */
    int64_t qty;
    int64_t line_total;                /* cents, after line discounts */
    char display_name[SC_ORDER_TEXT_MAX];
};

struct sc_tracking_no {
    char no[SC_ORDER_TRACK_MAX];
};

struct sc_order {
    int64_t id;
    int64_t company_id;
    int order_source;                  /* the channel integer */
    char order_source_order_id[SC_ORDER_STR_MAX];
    int status_code;
    int payment_status;
    int shipping_status;
    int dropship;                      /* 0: not a dropship order */
    struct sc_time time_of_order;
    struct sc_time last_updated;       /* raw: the poll cursor's text */
    struct sc_time created_on;
    struct sc_time ship_date;
    struct sc_order_line *lines;       /* owned; n_lines of them */
    size_t n_lines;
    int64_t grand_total;               /* cents, all seven */
    int64_t shipping_total;
    int64_t handling_fee;
    int64_t insurance_total;
    int64_t tax_total;
    int64_t order_discounts_total;
    int64_t shipping_discounts_total;
    char payment_ref[SC_ORDER_STR_MAX]; /* Payments[0]
                                          .TransactionReferenceNumber */
    struct sc_address billing;
    struct sc_address shipping;
    char shipping_carrier[SC_ORDER_STR_MAX];
    char shipping_service[SC_ORDER_STR_MAX];
    char tracking_number[SC_ORDER_TRACK_MAX];
    struct sc_tracking_no *all_tracking; /* owned; n_all_tracking */
    size_t n_all_tracking;
};

/* A list item that could not be parsed. */
struct sc_order_bad {
    int64_t id;                        /* 0 when ID itself was bad */
    enum scb_err err;
    char field[SC_ORDER_FIELD_MAX];    /* "Items[2].Qty" */
};

/* One page of GET /api/Orders. */
struct sc_order_page {
    struct sc_order *orders;           /* owned; the items that parsed */
    size_t n_orders;
    struct sc_order_bad *bad;          /* owned; the items that did not */
    size_t n_bad;
    size_t n_items;                    /* Items[] on the page: both kinds */
    int64_t total_results;
};

/*
 * Parses one list item. On SCB_OK *out is filled (release it with
 * sc_order_release()); on SCB_EINVAL 'field' (SC_ORDER_FIELD_MAX bytes,
 * may be NULL) names the offending field and *out is untouched.
 * SCB_ENOMEM.
 */
enum scb_err sc_order_parse(const cJSON *item, struct sc_order *out,
                            char *field);

/* Frees the lines and tracking numbers; 'o' is then empty. */
void sc_order_release(struct sc_order *o);

/*
 * Parses a page {"Items": [...], "TotalResults": n}. Items that fail
 * go to 'bad' and do not fail the page. SCB_EPARSE when the page itself
 * has the wrong shape or more than SC_ORDER_PAGE_MAX items; SCB_ENOMEM.
 * On SCB_OK *out is filled; release it with sc_order_page_release().
 */
enum scb_err sc_order_page_parse(const cJSON *root,
                                 struct sc_order_page *out);
void sc_order_page_release(struct sc_order_page *page);

/*
 * True when page 'page_number' (from 1, asked with page size 'size') is
 * the last one: a short page, or page_number * size >= TotalResults.
 */
bool sc_order_page_is_last(const struct sc_order_page *page,
                           int64_t page_number, int64_t size);

/*
 * Parses an ISO 8601 date-time: "YYYY-MM-DDTHH:MM[:SS[.fraction]]"
 * then optionally "Z" or "+HH:MM" / "-HH:MM" (or "+HHMM"). Zone-less text
 * is read as UTC. On SCB_OK *out_ms is Unix ms (fraction cut to ms) and
 * *out_has_zone (may be NULL) says whether a zone was given. SCB_EINVAL
 * otherwise.
 */
enum scb_err sc_time_parse(const char *s, int64_t *out_ms,
                           bool *out_has_zone);

/* Writes 'ms' (UTC fields) as "mm/dd/yyyy hh:mm", seconds cut. */
void sc_time_format_query(int64_t ms, char out[SC_TIME_QUERY_LEN]);

/* Writes 'ms' as "YYYY-MM-DDTHH:MM:SSZ", milliseconds cut. */
void sc_time_format_body(int64_t ms, char out[SC_TIME_BODY_LEN]);

#endif
