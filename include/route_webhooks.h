/* SPDX-License-Identifier: MIT */
/*
 * The three inbound webhook routes of contracts/webhooks.md:
 *   POST /webhooks/sellercloud       -> one order.import job per order
 *   POST /webhooks/ddi/ship-confirm  -> one tracking.push job
 *   POST /webhooks/ddi/items         -> one item.sync job per item
 * Each request goes through the checks in order (webhook.h), then the
 * webhook-id and the jobs are written in one atomic script
 * (queue_enqueue_batch()); 202 only once Redis acknowledged it. Every
 * answer is counted in scbridge_webhooks_total{source,outcome}.
 *
 * Jobs (coalescing key, payload):
 *   order.import   "order:<order_id>"
 *                  {"v":1,"company_id":C,"order_id":N,"source":"webhook"}
 *   tracking.push  "shipment:<shipment_id>" (job_tracking_key(); ids over
 *                  128 bytes are refused, as the tracking job cannot read them)
 *                  {"v":1,"source":"webhook","shipment":<the record>}
 *   item.sync      "item:<product_no>"
 *                  {"v":1,"product_no":"...","source":"webhook"}
 * Accepted ids: "<prefix>v1:webhook:<source>:<webhook-id>", kept for
 * SCBRIDGE_WEBHOOK_DEDUPE_TTL.
 */
#ifndef SCB_ROUTE_WEBHOOKS_H
#define SCB_ROUTE_WEBHOOKS_H

#include "app.h"
#include "err.h"
#include "httpd.h"


/*
 * Adds the three routes to app->httpd (an app_routes_fn; 'app' is the
 * handlers' ctx and must outlive the server) and declares the metric
 * families scbridge_webhooks_total and scbridge_shipments_ignored_total.
 * SCB_ENOMEM.
 */
enum scb_err route_webhooks_register(struct app *app);

/*
 * Counts a request to a webhook route that the server refused before
 * its handler ran (413 too_large) in scbridge_webhooks_total; requests
 * to other routes and other statuses are not counted. Shaped as an
 * httpd callback: 'ctx' is unused. Thread-safe.
 */
void route_webhooks_rejected(const struct httpd_req *req, int status,
                             void *ctx);

#endif
