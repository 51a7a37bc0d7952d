/* SPDX-License-Identifier: MIT */
/*
 * The SKU sync (DESIGN.md "What it does" 3, "Polls and cursors" Items):
 * DDI item records of SCBRIDGE_DDI_WAREHOUSE become Sellercloud
 * products and physical stock in SCBRIDGE_SC_WAREHOUSE_ID.
 *
 * DDI has no single-item call, so the only way to read an item is the
 * changed-items list from the poll's cursor. Hence two jobs:
 *   poll.items  reads the changed items from the cursor and writes each
 *               record of the warehouse at once (item_poll.h).
 *   item.sync   one product number, payload {"v":1,"product_no":"..",
 *               "source":".."}, key "item:<product_no>" (the format of
 *               POST /webhooks/ddi/items). Source "webhook": DDI says the
 *               item changed, so the stored copy is stale: the hint is
 *               noted and a poll is asked for (the poll writes it).
 *               Other sources ("reserve": its reservation changed,
 *               "recheck"): the item is written again from the stored
 *               record; without one, a poll is asked for.
 * Both write one item the same way (item_sync.h): catalog read (only
 * when the product is not known to exist), create, physical stock, basic
 * info, custom columns. The "last written" record is stored once every
 * write succeeded, so an item whose synced fields and stock did not
 * change costs no call.
 *
 * Item errors (a field Sellercloud would refuse: bad UPC, over-long
 * description, bad price; no product type for a create; or a write that
 * Sellercloud refused) are recorded for that item alone and never held
 * against the others: the job ends DONE, the item's hash and
 * "items:errors" hold the reason ("ITEM_INVALID: ...", "SC_REJECTED:
 * ...", "SC_FAILED: ..."), a warn line is logged and
 * scbridge_item_errors_total{reason} counts it. A bad field is left out
 * alone: an existing product still gets its stock and its other fields
 * written, so its quantity never waits for the fix (item_map.h); a
 * missing product whose create cannot be made gets no write. Retrying
 * cannot fix such an item: the fix is made in DDI, the changed record
 * comes back through the poll and its sync clears the error.
 *
 * Keys (under store_prefix()):
 *   item:<product_no>    hash: ddi (the record, JSON), read_at (Redis ms
 *                        before the list call that brought it), written
 *                        (the item_map record), exists ("1": the product
 *                        exists), pend + done (an interrupted write: its
 *                        target record and the steps sent), status
 *                        (written, unchanged, not_web, no_product,
 *                        error), error, tries, synced_at (Unix ms), fp
 *                        (the settings the record was handled under)
 *   items:errors         hash: product_no -> reason of its item error
 *   items:hints          zset: product_no -> Unix ms of a webhook hint
 *                        that no poll has matched yet
 *   items:recheck        set: product numbers to write again after the
 *                        next poll (a reservation newer than the record)
 *   poll:items:default   hash: cursor (DDI's next_cursor), last_run_at,
 *                        last_ok_at, last_error, interval_s (times in
 *                        Unix ms), caught_up_at (Redis ms of the last
 *                        read that reached the end), full_sync_at (when
 *                        the first full read ended), again (a poll was
 *                        asked for while one ran)
 *   lock:items:poll, lock:item:<product_no>   the locks
 *
 * scbridge_reconcile_found_total{kind="item"} counts the records of the
 * warehouse that a poll found new or changed with no webhook hint for
 * them since the last poll that reached the end; records first seen
 * during the first full sync are not counted.
 */
#ifndef SCB_JOB_ITEMS_H
#define SCB_JOB_ITEMS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "jobs.h"
#include "queue.h"
#include "store.h"
#include "worker.h"

#define JOB_ITEMS_POLL_ID "items:default"

/* Registers item.sync and poll.items; from jobs_register(). */
enum scb_err job_items_register(struct jobs *j, struct worker_pool *wp);

/*
 * Enqueues one poll.items job, coalesced with one that waits. The
 * leader's scheduler calls it every SCBRIDGE_POLL_ITEMS.
 */
enum scb_err job_items_enqueue_poll(struct store *st);

/* The same, for a job that may run from 'run_at_ms' (Unix ms; 0: now). */
enum scb_err job_items_enqueue_poll_at(struct store *st, int64_t run_at_ms);

/* The same as a sched_enqueue_fn (scheduler.h); 'ctx' is unused. */
enum scb_err job_items_sched_enqueue(struct store *st, void *ctx);

/*
 * Enqueues item.sync for 'n' product numbers (borrowed) with 'source'
 * ("reserve", "recheck", "webhook"), in batches of QUEUE_BATCH_MAX, each
 * coalesced with a waiting job of its product. Numbers that are empty or
 * longer than DDI_PRODUCT_NO_MAX (no DDI item has one) are skipped. A
 * "reserve" job waits ITEMS_RESERVE_DEBOUNCE_MS (5 s) before it runs, so
 * that a burst of reservation changes folds into one stock write.
 */
enum scb_err job_items_enqueue_sync(struct store *st,
                                    const char *const *pnos, size_t n,
                                    const char *source);

/* The item.sync handler; 'ctx' is the struct jobs. */
enum queue_outcome job_items_sync_run(struct queue_job *job, void *ctx);

#endif
