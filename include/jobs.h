/* SPDX-License-Identifier: MIT */
/*
 * The job handlers of scbridge and what they share: the Sellercloud
 * token session, the DDI concurrency gate, the cut-over time, and one
 * pair of API clients per worker thread (made on a thread's first job,
 * freed when the thread ends).
 *
 * Job types (operations.md, metric label "type"):
 *   order.import    read an order (batched: one list call serves up to
 *                   50 pending orders) and move it on from its state
 *   orders.export   mark imported orders exported, many ids a call
 *   tracking.push   carry a DDI shipment's tracking to Sellercloud
 *   item.sync       write one DDI item to its Sellercloud product
 *   poll.orders, poll.shipments, poll.items   the reconciliation polls
 */
#ifndef SCB_JOBS_H
#define SCB_JOBS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "ddi_client.h"
#include "err.h"
#include "queue.h"
#include "sc_client.h"
#include "store.h"
#include "worker.h"

/* Coalescing key of an order's jobs: "order:<sc order id>". */
#define JOBS_ORDER_KEY_FMT "order:%lld"

struct jobs {
    const struct config *cfg;  /* borrowed */
    struct sc_session *sc;     /* the process's Sellercloud token */
    struct ddi_gate *gate;     /* SCBRIDGE_DDI_CONCURRENCY */
    _Atomic int64_t cutover_ms; /* IMPORT_SINCE or first start; 0: not
                                   read yet (jobs_start_time()) */
    _Atomic int64_t shipments_since_ms; /* SHIPMENTS_SINCE or first start */
    pthread_key_t tls;         /* struct jobs_thread of each worker */
    struct worker_pool *pool;  /* to kick the sweeper; may be NULL */
};

/* The clients of one worker thread. */
struct jobs_thread {
    struct sc_client *sc;
    struct ddi_client *ddi;
};

/*
 * New shared context for 'cfg' (borrowed). NULL on OOM or when libcurl
 * or OpenSSL cannot be set up. curl_global_init() must have run.
 */
struct jobs *jobs_new(const struct config *cfg);
void jobs_free(struct jobs *j);

/*
 * Makes sure the cut-over and the first shipment time are known: when
 * not configured they are the time this service first started against
 * this Redis, recorded there on first use. Thread-safe; SCB_ESTORE while
 * Redis is unreachable (the caller retries: nothing is imported before
 * the cut-over is known).
 */
enum scb_err jobs_start_time(struct jobs *j, struct store *st);

/* Registers every handler with the pool. */
enum scb_err jobs_register(struct jobs *j, struct worker_pool *wp);

/*
 * The calling worker thread's clients, made on first use with the
 * job's store. NULL on OOM.
 */
struct jobs_thread *jobs_thread_get(struct jobs *j, struct queue_job *job);

/*
 * Maps a client result to a queue outcome: waits and transient errors
 * are set on the job; a permanent error answers QUEUE_DEAD without a
 * reason (the caller adds it). 'wait_ms' is used for SCB_EWAIT.
 */
enum queue_outcome jobs_outcome(struct queue_job *job, enum scb_err err,
                                int64_t wait_ms, const char *what);

/* Enqueues an order.import job for 'order_id' now or at 'run_at_ms'. */
enum scb_err jobs_enqueue_import(struct store *st, int64_t company_id,
                                 int64_t order_id, const char *source,
                                 int64_t accepted_ms, int64_t run_at_ms);

/* The order.import handler (job_import.c). */
enum queue_outcome job_import_run(struct queue_job *job, void *ctx);

/* The poll.orders handler (job_poll_orders.c). */
enum queue_outcome job_poll_orders_run(struct queue_job *job, void *ctx);

/* The orders.export handler and its enqueue (job_export.c). */
enum queue_outcome job_export_run(struct queue_job *job, void *ctx);
enum scb_err job_export_add(struct store *st, int64_t order_id);

#endif
