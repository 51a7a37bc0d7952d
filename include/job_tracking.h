/* SPDX-License-Identifier: MIT */
/*
 * tracking.push and poll.shipments: a DDI ship confirm becomes tracking
 * numbers on the Sellercloud order (DESIGN.md "Tracking push"), and the
 * shipment poll finds the ship confirms no callback brought.
 *
 * What the order's hash (orderstate.h, "order:<id>") gains:
 *   tracking       JSON array, in DDI shipment order and then package
 *                  order, of {"number","carrier","service","shipment_id",
 *                  "pushed_at"}: the admin API's "tracking" as it is.
 *                  carrier and service are those Sellercloud gets
 *                  (SCBRIDGE_CARRIER_MAP applied); pushed_at is RFC 3339
 *                  UTC with ms, or null while the number is held.
 *   shipments      JSON array of {"id","complete","done"}, one per DDI
 *                  shipment recorded: "complete" as DDI sent it, "done"
 *                  once a push that covered it has finished.
 *   note_inflight  JSON array of the numbers of an order note that was
 *                  sent and whose outcome is not known yet, else "". A
 *                  note is never sent twice: after a crash or a lost
 *                  answer those numbers count as pushed (history "note").
 * The poll keeps DDI's next_cursor in field "cursor" of the hash
 * "poll:shipments:default" (scheduler.h), beside the report fields.
 *
 * The list helpers (job_tracking_list_*) are pure and thread-safe on
 * distinct lists; the handlers run on worker threads (worker.h).
 */
#ifndef SCB_JOB_TRACKING_H
#define SCB_JOB_TRACKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "ddi_client.h"
#include "err.h"
#include "jobs.h"
#include "queue.h"
#include "store.h"
#include "worker.h"

#define JOB_TRACKING_POLL_ID "shipments:default"
#define JOB_TRACKING_MAX_NUMBERS 1000  /* tracking numbers kept per order */
#define JOB_TRACKING_MAX_SHIPMENTS 200 /* shipments recorded per order */
#define JOB_TRACKING_FIELD_MAX (1u << 20) /* bytes of one stored field */
#define JOB_TRACKING_KEY_ID_MAX 128 /* longer shipment ids are hashed */

/* One tracking number of the order, as its hash keeps it. */
struct job_tracking_entry {
    char *number;      /* owned */
    char *carrier;     /* owned: as Sellercloud gets it */
    char *service;     /* owned */
    char *shipment_id; /* owned */
    char pushed_at[32]; /* RFC 3339 UTC with ms; "" while held */
};

/* One DDI shipment recorded for the order. */
struct job_tracking_ship {
    char *id;      /* owned */
    bool complete; /* DDI's "complete" */
    bool done;     /* a push covering it finished */
};

/* The tracking state of one order; zero it before use. */
struct job_tracking_list {
    struct job_tracking_entry *e; /* owned; n of them */
    size_t n;
    struct job_tracking_ship *ships; /* owned; n_ships of them */
    size_t n_ships;
};

/*
 * The numbers of a list not yet pushed, shaped as DDI shipments for
 * order_map_tracking(): each shipment is a copy of the DDI one whose
 * tracking_nos hold only its pending numbers.
 */
struct job_tracking_pending {
    struct ddi_shipment *ships; /* owned array; strings borrowed */
    size_t n_ships;
    const char **nos; /* owned array of every pending number, in order;
                         the strings are borrowed from the list */
    size_t n;
};

/*
 * Reads the two hash fields ('tracking', 'shipments'; NULL or "" for
 * none) into 'out' (zeroed by the caller). SCB_EPARSE when either is not
 * the shape above, SCB_ETOOBIG past the limits, SCB_ENOMEM; on failure
 * 'out' holds nothing to release.
 */
enum scb_err job_tracking_list_parse(const char *tracking, const char *ships,
                                     struct job_tracking_list *out);
void job_tracking_list_release(struct job_tracking_list *l);

/* The shipment recorded under 'id', or NULL. */
const struct job_tracking_ship *
job_tracking_list_find(const struct job_tracking_list *l, const char *id);

/* True when a recorded shipment has "complete": true. */
bool job_tracking_list_complete(const struct job_tracking_list *l);

/* How many numbers have been pushed. */
size_t job_tracking_list_pushed(const struct job_tracking_list *l);

/*
 * Records shipment 's' (valid) unless its id is recorded already: one
 * held entry per package, carrier and service mapped through 'cfg'.
 * *out_added tells whether it was new. SCB_ETOOBIG past the limits (the
 * list is then unchanged), SCB_ENOMEM.
 */
enum scb_err job_tracking_list_add(struct job_tracking_list *l,
                                   const struct config *cfg,
                                   const struct ddi_shipment *s,
                                   bool *out_added);

/*
 * Puts the entries and shipments in the order of 'ships' (the DDI
 * order's, oldest first); those DDI does not list keep their order
 * after them. Entries of one shipment keep their package order.
 */
enum scb_err job_tracking_list_order(struct job_tracking_list *l,
                                     const struct ddi_shipment *ships,
                                     size_t n);

/*
 * Marks pushed at 'at' (RFC 3339), for each of 'nos', the first entry
 * still held that carries that number; numbers not held are skipped.
 */
void job_tracking_list_mark(struct job_tracking_list *l,
                            const char *const *nos, size_t n,
                            const char *at);

/* Marks done every recorded shipment with no number still held. */
void job_tracking_list_done(struct job_tracking_list *l);

/* Appends the two hash fields' JSON texts to 'tracking' and 'ships'. */
enum scb_err job_tracking_list_json(const struct job_tracking_list *l,
                                    struct buf *tracking, struct buf *ships);

/*
 * The held numbers of the shipments in 'ships' (DDI order), taken from
 * the list's entries of each. On SCB_OK *out is filled; release it with
 * job_tracking_pending_release() before the list. SCB_ENOMEM.
 */
enum scb_err job_tracking_pending_make(const struct job_tracking_list *l,
                                       const struct ddi_shipment *ships,
                                       size_t n,
                                       struct job_tracking_pending *out);
void job_tracking_pending_release(struct job_tracking_pending *p);

/*
 * Appends the coalescing key of shipment 'id''s tracking.push job to
 * 'out': "shipment:<id>", or "shipment:sha256:<hex>" for an id longer
 * than JOB_TRACKING_KEY_ID_MAX (the key the ship-confirm route uses).
 */
enum scb_err job_tracking_key(const char *id, struct buf *out);

/*
 * The tracking.push handler. Payload {"v":1,"source":"webhook"|"poll",
 * "shipment":<DDI shipment record>}; 'ctx' is the struct jobs.
 */
enum queue_outcome job_tracking_push_run(struct queue_job *job, void *ctx);

/* The poll.shipments handler; payload {"v":1,"poll":"shipments:default"}. */
enum queue_outcome job_tracking_poll_run(struct queue_job *job, void *ctx);

/*
 * Registers tracking.push and poll.shipments with 'wp' (before
 * worker_pool_start()), both with 'j' as their context, and declares
 * the metric families they count in.
 */
enum scb_err job_tracking_register(struct jobs *j, struct worker_pool *wp);

/*
 * A sched_enqueue_fn (scheduler.h) for sched_add(s, "shipments", ...):
 * enqueues one poll.shipments job, coalesced by the poll's id. 'ctx' is
 * unused. SCB_ESTORE, SCB_ESTORECMD.
 */
enum scb_err job_tracking_enqueue_poll(struct store *st, void *ctx);

#endif
