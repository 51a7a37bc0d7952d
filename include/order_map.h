/* SPDX-License-Identifier: MIT */
/*
 * Sellercloud order -> DDI POS order (contracts/ddi.md "Money and
 * totals", "Orders"), and DDI shipments -> Sellercloud tracking calls
 * (sellercloud.md "Packages and tracking numbers"). Pure: data in, data
 * out, no I/O, no clock (the caller passes "now"); thread-safe.
 */
#ifndef SCB_ORDER_MAP_H
#define SCB_ORDER_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "ddi_client.h"
#include "err.h"
#include "sc_client.h"
#include "sc_order.h"

/* "SC-" + two int64 in decimal + "-" + NUL fits. */
#define ORDER_MAP_REF_MAX 48
/* Room a caller gives for a reason ("TOTAL_MISMATCH: ..."). */
#define ORDER_MAP_REASON_MAX 512

/*
 * The DDI unit of measure of 'product_no' as the SKU sync last saw it,
 * or NULL when unknown (the line is then sent without uom). The answer
 * is borrowed and must live until order_map_create_body() returns.
 */
typedef const char *(*order_map_uom_fn)(void *ctx, const char *product_no);

struct order_map_opts {
    int64_t company_id;    /* the company stored at first import */
    bool already_shipped;  /* add "already_shipped" (ShippingStatus 3) */
    order_map_uom_fn uom;  /* NULL: no uom on any line */
    void *uom_ctx;
};

/* The figures of "the check", all in cents. */
struct order_map_totals {
    int64_t lines;       /* sum of LineTotal */
    int64_t freight;     /* ShippingTotal + HandlingFee + InsuranceTotal */
    int64_t tax;         /* TaxTotal */
    int64_t discount;    /* |OrderDiscountsTotal| + |ShippingDiscountsTotal| */
    int64_t grand_total; /* GrandTotal */
};

/* Writes the reference "SC-{company_id}-{order_id}". */
void order_map_reference(int64_t company_id, int64_t order_id,
                         char out[ORDER_MAP_REF_MAX]);

/*
 * True when 'ref' is scbridge's (^SC-[0-9]+-[0-9]+$, each number at
 * most 18 digits); then *out_company and *out_order (may be NULL) are set.
 */
bool order_map_reference_parse(const char *ref, int64_t *out_company,
                               int64_t *out_order);

/* The figures of 'o' for the check. */
void order_map_totals(const struct sc_order *o, struct order_map_totals *out);

/*
 * True when lines + freight + tax - discount == GrandTotal. Otherwise
 * writes into 'reason' (may be NULL) "TOTAL_MISMATCH: lines 10.00 +
 * freight 5.00 + tax 0.83 - discount 0.00 = 15.83, GrandTotal 15.84".
 */
bool order_map_totals_check(const struct order_map_totals *t, char *reason,
                            size_t reasonlen);

/*
 * The DDI ship_via of a Sellercloud carrier and service: the
 * SCBRIDGE_SHIP_VIA_MAP row, else "<carrier> <service>" (a lone one when
 * the other is empty), cut to fit 'out'.
 */
void order_map_ship_via(const struct config *cfg, const char *carrier,
                        const char *service, char *out, size_t outlen);

/*
 * The body of POST /v1/pos-orders for order 'o'. On SCB_OK *out is new
 * (free with cJSON_Delete()). SCB_EINVAL when the order must not be sent:
 * 'reason' holds "TOTAL_MISMATCH: ..." with every figure (a line of Qty 0
 * with a non-zero LineTotal is reported the same way). SCB_ENOMEM.
 */
enum scb_err order_map_create_body(const struct config *cfg,
                                   const struct sc_order *o,
                                   const struct order_map_opts *opts,
                                   cJSON **out, char *reason,
                                   size_t reasonlen);

/*
 * ShipDate in Unix ms: DDI's confirmed_at, raised to CreatedOn + 1 min
 * when earlier (when 'created_on' is present), then lowered to 'now_ms'
 * when later. The Sellercloud client writes it YYYY-MM-DDTHH:MM:SSZ.
 */
int64_t order_map_ship_date_ms(int64_t confirmed_ms,
                               const struct sc_time *created_on,
                               int64_t now_ms);

/*
 * Sellercloud carrier and service for DDI's: the SCBRIDGE_CARRIER_MAP
 * row, else unchanged (NULL becomes ""). Outputs borrow from the inputs
 * or from 'cfg'.
 */
void order_map_carrier(const struct config *cfg, const char *carrier,
                       const char *service, const char **out_carrier,
                       const char **out_service);

/*
 * One tracking call. Package 1 goes through sc_order_ship(), package
 * k >= 2 through sc_order_ship_package() with t.package_id.
 */
struct order_map_call {
    size_t package;       /* k, from 1 */
    struct sc_tracking t; /* strings borrowed from shipments and cfg */
};

/* What one tracking push sends. */
struct order_map_push {
    struct order_map_call *calls; /* owned; in package order */
    size_t n_calls;
    char *note;      /* owned: "Tracking: a, b" for the numbers beyond
                        the packages, or NULL */
    size_t n_noted;  /* how many numbers the note holds */
    size_t written;  /* packages holding tracking after this push */
};

/*
 * Assigns the tracking numbers of 'shipments' (DDI order: shipment
 * order, then package order) to the order's packages: number k to the
 * first package not yet written ('written' of them already are), the
 * rest into one note. 'packages' are the order's packages by ascending
 * ID (as sc_order_packages() answers); none counts as one package, the
 * one ShippingStatus writes. Each call's ShipDate and carrier come from
 * its own shipment (order_map_ship_date_ms(), order_map_carrier()).
 * On SCB_OK *out is filled; release it with order_map_push_release().
 * SCB_ENOMEM.
 */
enum scb_err order_map_tracking(const struct config *cfg, int64_t order_id,
                                const struct sc_time *created_on,
                                int64_t now_ms,
                                const struct ddi_shipment *shipments,
                                size_t n_shipments,
                                const struct sc_package *packages,
                                size_t n_packages, size_t written,
                                struct order_map_push *out);
void order_map_push_release(struct order_map_push *push);

#endif
