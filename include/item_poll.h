/* SPDX-License-Identifier: MIT */
/*
 * The poll.items job of the SKU sync (job_items.h): reads GET /v1/items
 * from the stored cursor (first run: no cursor, no since: a full sync),
 * 200 a page, while more; passes over other warehouses; stores each
 * record of the warehouse it has not seen in this version and writes it
 * to Sellercloud at once, in the job (item_sync.h). The cursor moves
 * past a page once every record on it is written, found unchanged,
 * passed over (not web, another warehouse) or recorded as an item
 * error. One run takes at most about a minute, then hands on to a new
 * job. One run at a time holds lock:items:poll; a job that finds it
 * held asks the running one to read once more and ends.
 */
#ifndef SCB_ITEM_POLL_H
#define SCB_ITEM_POLL_H

#include "queue.h"

#define ITEM_POLL_FOUND_METRIC "scbridge_reconcile_found_total"

/* The poll.items handler; 'ctx' is the struct jobs. */
enum queue_outcome item_poll_run(struct queue_job *job, void *ctx);

#endif
